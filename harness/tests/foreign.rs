//! The harness never touches an IPC object it did not create.
//!
//! SysV segments and `/dev/shm` files made by "another program" (this test)
//! before and during runs must survive unchanged: a normal run, a run with a
//! timed-out scenario and a leaking one, a run without namespaces (where the
//! harness shares the host's tables), and a run killed by SIGKILL. The runs
//! must also leave nothing of their own behind.
//!
//! One test function: the steps share the kernel's tables and must not
//! interleave with each other.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ipc_harness::sys;

const EXE: &str = env!("CARGO_BIN_EXE_ipc-harness");

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// A foreign segment with a recognisable content.
struct ForeignSegment {
    id: i32,
    key: i32,
    pattern: Vec<u8>,
}

impl ForeignSegment {
    fn create(key: i32, tag: &str) -> ForeignSegment {
        let id = sys::shmget(key, 8192, libc::IPC_CREAT | libc::IPC_EXCL | 0o644).expect("creating a foreign segment");
        let addr = sys::shmat(id, 0, 0).expect("attaching the foreign segment");
        let pattern = format!("foreign segment {tag} {key:#x}").into_bytes();
        sys::write_mapped(addr, &pattern);
        sys::shmdt(addr).expect("detaching");
        ForeignSegment { id, key, pattern }
    }

    fn assert_intact(&self) {
        let st = sys::shmctl_stat(self.id).unwrap_or_else(|e| panic!("foreign segment {} ({:#x}) was removed: {e}", self.id, self.key));
        assert_eq!(st.key, self.key, "foreign segment {} changed key", self.id);
        assert_eq!(st.segsz, 8192);
        assert_eq!(st.mode & 0o777, 0o644, "foreign segment mode changed");
        assert_eq!(st.mode & 0o1000, 0, "foreign segment was marked for destruction");
        let addr = sys::shmat(self.id, 0, libc::SHM_RDONLY).expect("attaching the foreign segment");
        let got = sys::read_mapped(addr, self.pattern.len());
        sys::shmdt(addr).expect("detaching");
        assert_eq!(got, self.pattern, "foreign segment content changed");
    }
}

/// Foreign segments are removed even when an assertion fails.
impl Drop for ForeignSegment {
    fn drop(&mut self) {
        let _ = sys::shmctl_rmid(self.id);
    }
}

struct ForeignFile(PathBuf, Vec<u8>);

impl ForeignFile {
    fn create(tag: &str) -> ForeignFile {
        let p = PathBuf::from(format!("/dev/shm/ipc-harness-foreign-test-{}-{tag}", std::process::id()));
        let content = format!("foreign {tag}").into_bytes();
        std::fs::write(&p, &content).expect("creating a foreign /dev/shm file");
        ForeignFile(p, content)
    }
    fn assert_intact(&self) {
        assert_eq!(std::fs::read(&self.0).ok().as_deref(), Some(self.1.as_slice()), "{} was changed or removed", self.0.display());
    }
}

impl Drop for ForeignFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn key_for(n: i32) -> i32 {
    0x1c0f_0000 | ((std::process::id() as i32 & 0xff) << 4) | n
}

/// Everything in the kernel's IPC tables and /dev/shm.
fn snapshot() -> Vec<String> {
    let mut out = Vec::new();
    for kind in ["shm", "sem", "msg"] {
        for line in std::fs::read_to_string(format!("/proc/sysvipc/{kind}")).unwrap_or_default().lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            out.push(format!("{kind} {} {}", f[0], f[1]));
        }
    }
    for e in std::fs::read_dir("/dev/shm").into_iter().flatten().flatten() {
        out.push(e.path().display().to_string());
    }
    out.sort();
    out
}

/// Wait until no supervisor or role of this binary is running (a killed
/// CLI leaves its supervisors to finish and clean up on their own).
fn wait_for_harness_processes() {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let busy = std::fs::read_dir("/proc").into_iter().flatten().flatten().any(|e| {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd);
            cmd.starts_with(EXE) && (cmd.contains("__supervise") || cmd.contains("__role"))
        });
        if !busy {
            return;
        }
        assert!(Instant::now() < deadline, "harness processes still running after 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run_library(isolation: &str) -> std::process::Output {
    let s = scenarios();
    Command::new(EXE)
        .args(["run", "--isolation", isolation, "-j", "2", "--out"])
        .arg(std::env::temp_dir().join("ipc-harness-foreign-reports"))
        .arg(s.join("seed"))
        .arg(s.join("must_fail/seed"))
        .arg(s.join("must_fail/harness"))
        .output()
        .expect("running the harness")
}

#[test]
fn foreign_objects_survive_every_kind_of_run() {
    if !Path::new("/proc/sysvipc/shm").exists() {
        eprintln!("skipped: this kernel has no SysV IPC");
        return;
    }
    ftok_keys_in_use_are_never_handed_to_a_run();
    let before_segment = ForeignSegment::create(key_for(1), "before");
    let private = ForeignSegment::create(libc::IPC_PRIVATE, "private");
    let before_file = ForeignFile::create("before");
    let baseline = snapshot();
    let mut extra = Vec::new();

    for isolation in ["auto", "none"] {
        // Objects made while the run is going on.
        let child = Command::new(EXE)
            .args(["run", "--isolation", isolation, "-j", "2", "--out"])
            .arg(std::env::temp_dir().join("ipc-harness-foreign-reports"))
            .arg(scenarios().join("seed"))
            .arg(scenarios().join("must_fail/seed"))
            .arg(scenarios().join("must_fail/harness"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting the harness");
        let n = if isolation == "auto" { 2 } else { 3 };
        let during = ForeignSegment::create(key_for(n), "during");
        let during_file = ForeignFile::create(&format!("during-{isolation}"));
        let out = child.wait_with_output().expect("waiting for the harness");
        assert!(out.status.success(), "the run failed:\n{}", String::from_utf8_lossy(&out.stdout));
        during.assert_intact();
        during_file.assert_intact();
        extra.push((during, during_file));
        before_segment.assert_intact();
        private.assert_intact();
        before_file.assert_intact();
    }
    let out = run_library("none");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));

    // A run killed by SIGKILL once it has started reporting; the timed-out
    // twin is still running then.
    let mut child = Command::new(EXE)
        .args(["run", "--isolation", "none", "-j", "2", "--out"])
        .arg(std::env::temp_dir().join("ipc-harness-foreign-reports"))
        .arg(scenarios().join("must_fail/seed"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the harness");
    let mut first = String::new();
    if let Some(stdout) = child.stdout.take() {
        let _ = BufReader::new(stdout).read_line(&mut first);
    }
    child.kill().expect("SIGKILL to the harness");
    let _ = child.wait();
    wait_for_harness_processes();

    before_segment.assert_intact();
    private.assert_intact();
    before_file.assert_intact();
    let mut after = snapshot();
    for (seg, file) in &extra {
        seg.assert_intact();
        after.retain(|e| !e.starts_with(&format!("shm {} {}", seg.key, seg.id)) && *e != file.0.display().to_string());
    }
    assert_eq!(after, baseline, "the runs left objects in the kernel or removed foreign ones");
    // The reports were only a place for the runs to write to.
    let _ = std::fs::remove_dir_all(std::env::temp_dir().join("ipc-harness-foreign-reports"));
}

/// A scenario's ftok-derived key that another program already uses is not
/// handed to the run: the file is made again until its key is free.
fn ftok_keys_in_use_are_never_handed_to_a_run() {
    use ipc_harness::exec::ledger::Ledger;
    use ipc_harness::exec::trace::Isolation;
    let dir = std::env::temp_dir().join(format!("ipc-harness-ftok-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let file = dir.join("hello.txt");
    std::fs::write(&file, "").expect("a file to derive keys from");
    let taken = sys::ftok(&file, b'R').expect("ftok of an existing file");
    let foreign = ForeignSegment::create(taken, "ftok");
    let mut ledger = Ledger::new(Isolation::RunUnique, "ipc-harness-test-".to_owned());
    let key = ledger.reserve_ftok_key(&file, b'R').expect("a free ftok key");
    assert_ne!(key, taken, "the run was handed a key a foreign segment uses");
    assert_eq!(sys::ftok(&file, b'R').ok(), Some(key), "the file now derives the reserved key");
    foreign.assert_intact();
    drop(foreign);
    let _ = std::fs::remove_dir_all(&dir);
}
