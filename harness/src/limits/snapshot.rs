//! What this process really gets: every IPC limit in effect, what is in
//! use, the headroom left, `/dev/shm` and the memory cgroup, namespaces,
//! capabilities, and which sysctls can be written (probed, not guessed).
//! Everything here is read from `/proc`, `/sys` and the kernel; nothing
//! is written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plan::probe::{IPC_NAMESPACED, capability_bit};
use crate::sys;

/// The unit of a limit's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Bytes,
    /// Pages of the kernel's page size (`kernel.shmall`).
    Pages,
    /// Objects (segments, queues, semaphores, descriptors, signals).
    Count,
    /// 0 or 1.
    Flag,
}

/// One limit, by its metric name (`kernel.msgmnb`, `kernel.sem.semmsl`,
/// `rlimit.msgqueue`, `dev_shm.size`, `shm.capacity`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Limit {
    pub name: String,
    /// The value in effect; `None` when it cannot be read here.
    /// `u64::MAX` means unlimited (resource limits, cgroups).
    pub value: Option<u64>,
    pub unit: Unit,
    /// Where it was read.
    pub source: String,
    /// What is in use now, where the kernel shows it (this IPC namespace's
    /// objects; this process's descriptors; this user's pending signals).
    pub in_use: Option<u64>,
    /// What is left: value minus use.
    pub headroom: Option<u64>,
    /// The hard limit, for resource limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard: Option<u64>,
}

/// `/dev/shm`, where POSIX shared memory lives.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct DevShm {
    pub present: bool,
    /// The file system type of the mount that holds `/dev/shm`.
    pub fstype: Option<String>,
    /// Its mount options (`size=65536k`).
    pub options: Option<String>,
    /// True when `/dev/shm` is a mount point of its own.
    pub own_mount: bool,
    pub size: Option<u64>,
    pub free: Option<u64>,
}

/// The memory cgroup this process is charged to (tmpfs pages count there).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Memory {
    /// `v2 /system.slice/x` or `v1 /docker/abc`; `None` when no memory
    /// controller is visible.
    pub cgroup: Option<String>,
    /// The smallest limit on the way up to the root; `None`: no limit.
    pub limit: Option<u64>,
    pub usage: Option<u64>,
    /// Limit minus usage.
    pub headroom: Option<u64>,
}

/// One namespace of this process, compared with PID 1's.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Namespace {
    /// `ipc`, `user` or `mnt`.
    pub kind: String,
    /// `ipc:[4026531839]`.
    pub this: Option<String>,
    pub pid1: Option<String>,
    /// Whether it is PID 1's (`None` when PID 1's cannot be read).
    pub same_as_pid1: Option<bool>,
}

/// A capability that changes IPC behaviour, and whether the kernel grants
/// it to this process where IPC checks it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Capability {
    pub name: String,
    /// In the effective set, and counted by the kernel's IPC checks. The
    /// mqueue limits and msgmnb check CAP_SYS_RESOURCE with capable(),
    /// against the initial user namespace: inside any other user namespace
    /// it is in the effective set but does not count (ipc/mqueue.c
    /// mq_attr_ok, ipc/msg.c msgctl_down).
    pub held: bool,
    /// What it changes.
    pub effect: String,
    /// Why `held` differs from the effective set, when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A hint about the runtime, with the evidence it was read from.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Hint {
    /// `docker`, `podman`, `kubernetes`, `container`, `gvisor`, `wsl`.
    pub runtime: String,
    pub evidence: String,
}

/// Whether an IPC sysctl can be written, probed three ways.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SysctlAccess {
    pub name: String,
    /// Here, in this process's own IPC namespace: whether the file opens
    /// for writing (`yes`, or the errno). Nothing is written.
    pub here: String,
    /// In a new IPC namespace of this process (what a container runtime
    /// does as root): the current value written back (`yes`, or the errno).
    pub new_ipc_namespace: String,
    /// In a new user and IPC namespace (what a rootless runtime does).
    pub new_user_namespace: String,
}

/// The IPC objects and bytes in use in this IPC namespace and /dev/shm.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct InUse {
    pub shm_segments: u64,
    /// The segments' sizes added up.
    pub shm_bytes: u64,
    pub sem_sets: u64,
    pub semaphores: u64,
    pub msg_queues: u64,
    /// Bytes waiting in SysV queues.
    pub msg_bytes: u64,
    pub msg_messages: u64,
    /// Files and bytes in /dev/shm (POSIX shared memory, named semaphores).
    pub dev_shm_files: u64,
    pub dev_shm_bytes: u64,
}

/// The snapshot `ipc-harness limits` prints, and every run report embeds.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Snapshot {
    /// Every limit, in a fixed order.
    pub limits: Vec<Limit>,
    pub dev_shm: DevShm,
    /// Whether an mqueue file system is mounted at `/dev/mqueue`.
    pub mqueue_mounted: bool,
    pub memory: Memory,
    /// What a workload can really put in `/dev/shm`: the smaller of its
    /// free space and the memory cgroup's headroom.
    pub shm_capacity: Option<u64>,
    /// Which of the two bounds `shm_capacity`, and what a workload meets
    /// there: `tmpfs` (ENOSPC from posix_fallocate, SIGBUS on touching a
    /// page) or `memory cgroup` (the out-of-memory killer, SIGKILL).
    pub shm_capacity_bound: Option<String>,
    /// What is in use now.
    pub in_use: InUse,
    pub namespaces: Vec<Namespace>,
    pub capabilities: Vec<Capability>,
    pub euid: u32,
    /// Whether this process is in the initial user namespace (uid_map
    /// `0 0 4294967295`), where capabilities count for capable().
    pub initial_user_namespace: bool,
    pub runtime: Vec<Hint>,
    pub sysctls: Vec<SysctlAccess>,
}

impl Snapshot {
    /// The value of a metric by name.
    pub fn value(&self, metric: &str) -> Option<u64> {
        self.limit(metric).and_then(|l| l.value)
    }

    pub fn limit(&self, metric: &str) -> Option<&Limit> {
        self.limits.iter().find(|l| l.name == metric)
    }

    /// Whether this process holds a capability.
    pub fn holds(&self, cap: &str) -> bool {
        self.capabilities.iter().any(|c| c.name == cap && c.held)
    }
}

/// The metrics a profile may name, with their units (in snapshot order).
pub const METRICS: &[(&str, Unit)] = &[
    ("kernel.shmmax", Unit::Bytes),
    ("kernel.shmall", Unit::Pages),
    ("kernel.shmmni", Unit::Count),
    ("kernel.shm_rmid_forced", Unit::Flag),
    ("kernel.msgmax", Unit::Bytes),
    ("kernel.msgmnb", Unit::Bytes),
    ("kernel.msgmni", Unit::Count),
    ("kernel.sem.semmsl", Unit::Count),
    ("kernel.sem.semmns", Unit::Count),
    ("kernel.sem.semopm", Unit::Count),
    ("kernel.sem.semmni", Unit::Count),
    ("fs.mqueue.msg_max", Unit::Count),
    ("fs.mqueue.msgsize_max", Unit::Bytes),
    ("fs.mqueue.msg_default", Unit::Count),
    ("fs.mqueue.msgsize_default", Unit::Bytes),
    ("fs.mqueue.queues_max", Unit::Count),
    ("rlimit.msgqueue", Unit::Bytes),
    ("rlimit.memlock", Unit::Bytes),
    ("rlimit.nofile", Unit::Count),
    ("rlimit.sigpending", Unit::Count),
    ("dev_shm.size", Unit::Bytes),
    ("dev_shm.free", Unit::Bytes),
    ("memory.limit", Unit::Bytes),
    ("memory.headroom", Unit::Bytes),
    ("shm.capacity", Unit::Bytes),
];

/// The unit of a metric, if it is one.
pub fn unit_of(metric: &str) -> Option<Unit> {
    METRICS.iter().find(|(m, _)| *m == metric).map(|(_, u)| *u)
}

const SEM_FIELDS: [&str; 4] = ["semmsl", "semmns", "semopm", "semmni"];

/// Read everything. `exe` is the harness binary, which probes sysctl
/// writes in throw-away children (namespaces cannot be undone).
pub fn take(exe: Option<&Path>) -> Snapshot {
    let usage = Usage::read();
    let dev_shm = dev_shm();
    let memory = memory();
    let (shm_capacity, bound) = match (dev_shm.free, memory.headroom) {
        (Some(free), Some(room)) if room < free => (Some(room), Some("memory cgroup".to_owned())),
        (Some(free), _) => (Some(free), Some("tmpfs".to_owned())),
        (None, _) => (None, None),
    };
    let derived = Derived { dev_shm: &dev_shm, memory: &memory, shm_capacity };
    let limits = METRICS
        .iter()
        .map(|&(metric, unit)| {
            let (value, source, hard) = read_metric(metric, &derived);
            let in_use = match metric {
                "dev_shm.size" => dev_shm.size.zip(dev_shm.free).map(|(s, f)| s.saturating_sub(f)),
                _ => usage.of(metric),
            };
            let headroom = value.zip(in_use).map(|(v, u)| v.saturating_sub(u));
            Limit { name: metric.to_owned(), value, unit, source, in_use, headroom, hard }
        })
        .collect();
    Snapshot {
        limits,
        dev_shm,
        mqueue_mounted: mqueue_mounted(),
        memory,
        shm_capacity,
        shm_capacity_bound: bound,
        in_use: usage.totals.clone(),
        namespaces: ["ipc", "user", "mnt"].iter().map(|k| namespace(k)).collect(),
        capabilities: capabilities(initial_user_namespace()),
        euid: nix::unistd::geteuid().as_raw(),
        initial_user_namespace: initial_user_namespace(),
        runtime: runtime_hints(),
        sysctls: sysctl_access(exe),
    }
}

fn read_u64(path: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let t = text.trim();
    if t == "max" { Some(u64::MAX) } else { t.parse().ok() }
}

/// A metric's value, where it came from, and the hard limit for rlimits.
/// What the metrics that are not a sysctl or rlimit are read from.
struct Derived<'a> {
    dev_shm: &'a DevShm,
    memory: &'a Memory,
    shm_capacity: Option<u64>,
}

fn read_metric(metric: &str, d: &Derived<'_>) -> (Option<u64>, String, Option<u64>) {
    let cgroup = || d.memory.cgroup.as_ref().map_or_else(|| "no memory cgroup visible".to_owned(), |c| format!("memory cgroup {c}"));
    // No visible limit in a visible cgroup is no limit at all.
    let memory_limit = d.memory.cgroup.as_ref().map(|_| d.memory.limit.unwrap_or(u64::MAX));
    match metric {
        "dev_shm.size" => return (d.dev_shm.size, "statvfs(/dev/shm)".to_owned(), None),
        "dev_shm.free" => return (d.dev_shm.free, "statvfs(/dev/shm)".to_owned(), None),
        "memory.limit" => return (memory_limit, cgroup(), None),
        "memory.headroom" => return (d.memory.headroom.or(memory_limit), cgroup(), None),
        "shm.capacity" => return (d.shm_capacity, "min(dev_shm.free, memory.headroom)".to_owned(), None),
        _ => {}
    }
    if let Some(field) = metric.strip_prefix("kernel.sem.") {
        let i = SEM_FIELDS.iter().position(|f| *f == field);
        let text = std::fs::read_to_string("/proc/sys/kernel/sem").unwrap_or_default();
        let v = i.and_then(|i| text.split_whitespace().nth(i)?.parse().ok());
        return (v, "/proc/sys/kernel/sem".to_owned(), None);
    }
    if let Some(name) = metric.strip_prefix("rlimit.") {
        let resource = match name {
            "msgqueue" => libc::RLIMIT_MSGQUEUE,
            "memlock" => libc::RLIMIT_MEMLOCK,
            "nofile" => libc::RLIMIT_NOFILE,
            "sigpending" => libc::RLIMIT_SIGPENDING,
            _ => return (None, String::new(), None),
        };
        let (soft, hard) = sys::get_rlimit(resource as i32).map_or((None, None), |(s, h)| (Some(s), Some(h)));
        return (soft, format!("getrlimit(RLIMIT_{})", name.to_uppercase()), hard);
    }
    if metric.starts_with("kernel.") || metric.starts_with("fs.") {
        let path = format!("/proc/sys/{}", metric.replace('.', "/"));
        return (read_u64(&path), path, None);
    }
    (None, String::new(), None)
}

/// Objects in use in this IPC namespace (`/proc/sysvipc`), this process's
/// descriptors, and this user's pending signals.
struct Usage {
    counts: BTreeMap<&'static str, u64>,
    totals: InUse,
}

impl Usage {
    fn read() -> Usage {
        let rows = |kind: &str| -> Vec<Vec<u64>> {
            std::fs::read_to_string(format!("/proc/sysvipc/{kind}"))
                .unwrap_or_default()
                .lines()
                .skip(1)
                .map(|l| l.split_whitespace().map(|w| w.parse().unwrap_or(0)).collect())
                .collect()
        };
        let page = sys::page_size() as u64;
        let mut counts = BTreeMap::new();
        let mut totals = InUse::default();
        let col = |r: &Vec<u64>, i: usize| r.get(i).copied().unwrap_or(0);
        if Path::new("/proc/sysvipc/shm").exists() {
            // Columns (proc(5)): shm `key shmid perms size ...`, sem
            // `key semid perms nsems ...`, msg `key msqid perms cbytes qnum ...`.
            let shm = rows("shm");
            totals.shm_segments = shm.len() as u64;
            totals.shm_bytes = shm.iter().map(|r| col(r, 3)).sum();
            counts.insert("kernel.shmmni", totals.shm_segments);
            // shmall counts pages.
            counts.insert("kernel.shmall", shm.iter().map(|r| col(r, 3).div_ceil(page)).sum());
            let sem = rows("sem");
            totals.sem_sets = sem.len() as u64;
            totals.semaphores = sem.iter().map(|r| col(r, 3)).sum();
            counts.insert("kernel.sem.semmni", totals.sem_sets);
            counts.insert("kernel.sem.semmns", totals.semaphores);
            let msg = rows("msg");
            totals.msg_queues = msg.len() as u64;
            totals.msg_bytes = msg.iter().map(|r| col(r, 3)).sum();
            totals.msg_messages = msg.iter().map(|r| col(r, 4)).sum();
            counts.insert("kernel.msgmni", totals.msg_queues);
        }
        for e in std::fs::read_dir("/dev/shm").into_iter().flatten().flatten() {
            totals.dev_shm_files += 1;
            totals.dev_shm_bytes += e.metadata().map_or(0, |m| std::os::unix::fs::MetadataExt::blocks(&m) * 512);
        }
        if mqueue_mounted() {
            if let Ok(dir) = std::fs::read_dir("/dev/mqueue") {
                counts.insert("fs.mqueue.queues_max", dir.count() as u64);
            }
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            counts.insert("rlimit.nofile", dir.count() as u64);
        }
        // SigQ: signals queued for this real uid / the limit.
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        if let Some(n) = status.lines().find_map(|l| l.strip_prefix("SigQ:")).and_then(|v| v.trim().split('/').next()?.parse().ok()) {
            counts.insert("rlimit.sigpending", n);
        }
        Usage { counts, totals }
    }

    fn of(&self, metric: &str) -> Option<u64> {
        self.counts.get(metric).copied()
    }
}

/// Whether an mqueue file system is mounted at `/dev/mqueue`.
fn mqueue_mounted() -> bool {
    mount_of("/dev/mqueue").is_some_and(|m| m.fstype == "mqueue" && m.mount_point == "/dev/mqueue")
}

/// One line of `/proc/self/mountinfo`.
struct Mount {
    mount_point: String,
    fstype: String,
    options: String,
}

/// The mount that holds `path` (the longest mount point that is a prefix).
fn mount_of(path: &str) -> Option<Mount> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut best: Option<Mount> = None;
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(dash) = fields.iter().position(|f| *f == "-") else { continue };
        let (Some(point), Some(fstype)) = (fields.get(4), fields.get(dash + 1)) else { continue };
        let point = point.replace("\\040", " ");
        let covers = path == point || point == "/" || path.starts_with(&format!("{point}/"));
        // Later lines are mounted on top of earlier ones at the same point.
        if covers && best.as_ref().is_none_or(|b| point.len() >= b.mount_point.len()) {
            let options = fields.get(dash + 3).map_or(String::new(), |s| (*s).to_owned());
            best = Some(Mount { mount_point: point, fstype: (*fstype).to_owned(), options });
        }
    }
    best
}

fn dev_shm() -> DevShm {
    let path = Path::new("/dev/shm");
    if !path.is_dir() {
        return DevShm::default();
    }
    let mount = mount_of("/dev/shm");
    let stat = nix::sys::statvfs::statvfs(path).ok();
    DevShm {
        present: true,
        fstype: mount.as_ref().map(|m| m.fstype.clone()),
        options: mount.as_ref().map(|m| m.options.clone()),
        own_mount: mount.as_ref().is_some_and(|m| m.mount_point == "/dev/shm"),
        size: stat.as_ref().map(|s| s.blocks() * s.fragment_size()),
        free: stat.as_ref().map(|s| s.blocks_available() * s.fragment_size()),
    }
}

/// The memory cgroup: v2 (`0::/path`) or v1 (`N:memory:/path`), with the
/// smallest limit between it and the root of what is mounted.
/// Where this process's memory cgroup is.
#[derive(Debug)]
pub struct Memcg {
    /// `v1` or `v2`.
    pub version: &'static str,
    /// The controller's mount (`/sys/fs/cgroup/memory`, `/sys/fs/cgroup`).
    pub root: &'static str,
    /// The cgroup's path as /proc/self/cgroup names it.
    pub path: String,
    /// Its folder.
    pub dir: PathBuf,
    /// The files of its limit and usage.
    pub limit_file: &'static str,
    pub usage_file: &'static str,
}

/// This process's memory cgroup: v2 (`0::/path`) or v1 (`N:memory:/path`).
pub fn memcg() -> Option<Memcg> {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let v1 = text.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers.split(',').any(|c| c == "memory").then(|| path.to_owned())
    });
    let v2 = text.lines().find_map(|l| l.strip_prefix("0::").map(str::to_owned));
    let (version, root, path, limit_file, usage_file) = match (v2, v1) {
        (Some(p), _) if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() => {
            ("v2", "/sys/fs/cgroup", p, "memory.max", "memory.current")
        }
        (_, Some(p)) => ("v1", "/sys/fs/cgroup/memory", p, "memory.limit_in_bytes", "memory.usage_in_bytes"),
        _ => return None,
    };
    // Inside a cgroup namespace the path may not exist below the mount:
    // fall back to the mount's root, which is then this cgroup.
    let mut dir = PathBuf::from(root).join(path.trim_start_matches('/'));
    if !dir.exists() {
        dir = PathBuf::from(root);
    }
    Some(Memcg { version, root, path, dir, limit_file, usage_file })
}

fn memory() -> Memory {
    let Some(Memcg { version, root, path, dir, limit_file, usage_file }) = memcg() else { return Memory::default() };
    let usage = read_u64(&dir.join(usage_file).to_string_lossy());
    let mut limit: Option<u64> = None;
    let mut at = dir.clone();
    loop {
        if let Some(v) = read_u64(&at.join(limit_file).to_string_lossy()) {
            // v1 writes "no limit" as a huge page-aligned number.
            let v = if v >= 1 << 62 { u64::MAX } else { v };
            limit = Some(limit.map_or(v, |l| l.min(v)));
        }
        if at == Path::new(root) || !at.pop() {
            break;
        }
    }
    let limit = limit.filter(|l| *l != u64::MAX);
    Memory { cgroup: Some(format!("{version} {path}")), limit, usage, headroom: limit.zip(usage).map(|(l, u)| l.saturating_sub(u)) }
}

fn namespace(kind: &str) -> Namespace {
    let this = std::fs::read_link(format!("/proc/self/ns/{kind}")).ok().map(|p| p.to_string_lossy().into_owned());
    let pid1 = std::fs::read_link(format!("/proc/1/ns/{kind}")).ok().map(|p| p.to_string_lossy().into_owned());
    let same_as_pid1 = this.as_ref().zip(pid1.as_ref()).map(|(a, b)| a == b);
    Namespace { kind: kind.to_owned(), this, pid1, same_as_pid1 }
}

/// The initial user namespace maps every uid to itself.
fn initial_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
}

fn capabilities(initial_user_namespace: bool) -> Vec<Capability> {
    let mask = sys::effective_capabilities();
    [
        ("CAP_IPC_OWNER", "bypasses the permission checks of SysV objects"),
        ("CAP_IPC_LOCK", "SHM_LOCK and mlock beyond RLIMIT_MEMLOCK; SHM_HUGETLB"),
        ("CAP_SYS_RESOURCE", "POSIX queues past fs.mqueue.msg_max, msgsize_max and queues_max; msg_qbytes past msgmnb; rlimits raised"),
        ("CAP_SYS_ADMIN", "IPC_SET of others' objects; new IPC namespaces; writing IPC sysctls"),
    ]
    .iter()
    .map(|(name, effect)| {
        let effective = capability_bit(name).is_some_and(|b| mask & (1 << b) != 0);
        // Only CAP_SYS_RESOURCE is checked against the initial user
        // namespace; the others against the IPC namespace's owner.
        let counted = effective && (initial_user_namespace || *name != "CAP_SYS_RESOURCE");
        Capability {
            name: (*name).to_owned(),
            held: counted,
            effect: (*effect).to_owned(),
            note: (effective && !counted)
                .then(|| "in the effective set, but only in a user namespace: the kernel checks it against the initial one".to_owned()),
        }
    })
    .collect()
}

/// Runtime hints that can be read reliably, each with its evidence.
fn runtime_hints() -> Vec<Hint> {
    let mut hints = Vec::new();
    let mut hint = |runtime: &str, evidence: String| hints.push(Hint { runtime: runtime.to_owned(), evidence });
    if Path::new("/.dockerenv").exists() {
        hint("docker", "/.dockerenv exists".to_owned());
    }
    if Path::new("/run/.containerenv").exists() {
        hint("podman", "/run/.containerenv exists".to_owned());
    }
    if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
        hint("kubernetes", "KUBERNETES_SERVICE_HOST is set".to_owned());
    }
    if let Ok(env) = std::fs::read("/proc/1/environ") {
        if let Some(v) = env.split(|b| *b == 0).find_map(|kv| kv.strip_prefix(b"container=")) {
            hint("container", format!("PID 1 has container={}", String::from_utf8_lossy(v)));
        }
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    if release.to_lowercase().contains("microsoft") {
        hint("wsl", format!("the kernel release is {}", release.trim()));
    }
    // gVisor's Sentry shows its own dmesg banner and no /proc/sys/kernel/tainted.
    let version = std::fs::read_to_string("/proc/version").unwrap_or_default();
    if !Path::new("/proc/sys/kernel/tainted").exists() && version.contains("#1 SMP Sun Jan 10 15:06:54 PST 2016") {
        hint("gvisor", "/proc/version is gVisor's fixed string".to_owned());
    }
    hints
}

/// Sysctl writability: here (open for writing only), and in new namespaces
/// (each in a throw-away child of the harness binary).
fn sysctl_access(exe: Option<&Path>) -> Vec<SysctlAccess> {
    let probe = |user: bool| -> BTreeMap<String, String> {
        let Some(exe) = exe else { return BTreeMap::new() };
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("__probe-sysctl-writes");
        if user {
            cmd.arg("--user-namespace");
        }
        cmd.stderr(std::process::Stdio::null()).output().ok().and_then(|o| serde_json::from_slice(&o.stdout).ok()).unwrap_or_default()
    };
    let (own, user) = (probe(false), probe(true));
    let not_probed = || if exe.is_some() { "not probed: the probe failed".to_owned() } else { "not probed".to_owned() };
    IPC_NAMESPACED
        .iter()
        .map(|name| {
            let path = format!("/proc/sys/{}", name.replace('.', "/"));
            let here = match std::fs::OpenOptions::new().write(true).open(&path) {
                Ok(_) => "yes".to_owned(),
                Err(e) => e.raw_os_error().map_or_else(|| e.to_string(), |n| sys::errno_name(nix::errno::Errno::from_raw(n))),
            };
            SysctlAccess {
                name: (*name).to_owned(),
                here,
                new_ipc_namespace: own.get(*name).cloned().unwrap_or_else(not_probed),
                new_user_namespace: user.get(*name).cloned().unwrap_or_else(not_probed),
            }
        })
        .collect()
}

/// The body of `__probe-sysctl-writes`: enter a new IPC namespace (in a new
/// user namespace if asked) and write each IPC sysctl's own value back.
/// Returns, by name, `yes` or the errno; every name gets the unshare error
/// when the namespace cannot be made. Runs in a throw-away process.
pub fn probe_sysctl_writes(user_namespace: bool) -> BTreeMap<String, String> {
    let entered = if user_namespace { sys::enter_user_and_ipc_namespace() } else { sys::unshare_namespaces(false) };
    IPC_NAMESPACED
        .iter()
        .map(|name| {
            let result = match &entered {
                Err(e) => format!("unshare refused: {}", sys::errno_name(*e)),
                Ok(()) => {
                    let path = format!("/proc/sys/{}", name.replace('.', "/"));
                    match std::fs::read_to_string(&path).and_then(|v| std::fs::write(&path, v)) {
                        Ok(()) => "yes".to_owned(),
                        Err(e) => e.raw_os_error().map_or_else(|| e.to_string(), |n| sys::errno_name(nix::errno::Errno::from_raw(n))),
                    }
                }
            };
            ((*name).to_owned(), result)
        })
        .collect()
}
