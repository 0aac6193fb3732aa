//! Running many plans: requirement checks, one supervisor process per plan
//! (never a fork of this possibly multithreaded process), `-j` workers, and
//! verdicts streamed in the order they finish.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use super::error::{Context, Error};
use super::isolation::Wanted;
use super::trace::Trace;
use crate::check::{self, Verdict};
use crate::plan::{Environment, Plan};

/// Extra time the outer runner gives a supervisor beyond the scenario's own
/// timeout (which the supervisor enforces) before declaring it broken.
const SUPERVISOR_GRACE: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The harness binary, re-executed as supervisor and roles.
    pub exe: PathBuf,
    pub jobs: usize,
    pub isolation: Wanted,
}

/// Run one plan and judge it.
pub fn run_one(plan: &Plan, env: &Environment, opts: &RunOptions) -> Verdict {
    if let Some(reason) = env.unmet(plan) {
        return Verdict::skipped(plan, reason);
    }
    let started = std::time::Instant::now();
    let mut v = match supervise(plan, opts) {
        Ok(trace) => check::judge(plan, trace, crate::sys::shmlba() as u64),
        Err(e) => Verdict::broken(plan, e.to_string()),
    };
    // The whole cost of a run: supervisor start, isolation, roles, checks,
    // leak scan and cleanup.
    v.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    v
}

fn supervise(plan: &Plan, opts: &RunOptions) -> Result<Trace, Error> {
    let isolation = match opts.isolation {
        Wanted::Auto => "auto",
        Wanted::Namespaces => "namespaces",
        Wanted::None => "none",
    };
    let mut child = Command::new(&opts.exe)
        .args(["__supervise", "--isolation", isolation])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context(format!("cannot start the supervisor {}", opts.exe.display()))?;
    let input = serde_json::to_vec(plan).map_err(|e| Error::Protocol(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(&input).context("sending the plan to the supervisor")?;
    }
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    // The supervisor closes its output as soon as the trace is written, so
    // the verdict does not wait for its exit (namespace teardown); this
    // thread reaps it afterwards.
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let read = stdout
            .as_mut()
            .map_or(Ok(0), |s| s.read_to_end(&mut out))
            .and_then(|_| stderr.as_mut().map_or(Ok(0), |s| s.read_to_end(&mut err)));
        // Without a trace the supervisor died: say how (it has exited, so
        // the wait is immediate); with one, reap it after handing over.
        if out.is_empty() {
            let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
            let _ = tx.send(read.map(|_| (out, err, Some(status))));
        } else {
            let _ = tx.send(read.map(|_| (out, err, None)));
            let _ = child.wait();
        }
    });
    let limit = Duration::from_millis(plan.timeout_ms) + SUPERVISOR_GRACE;
    let (stdout, stderr, status) = match rx.recv_timeout(limit) {
        Ok(r) => r.context("reading from the supervisor")?,
        Err(_) => {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
            remove_run_dirs(pid);
            return Err(Error::Supervisor(format!("the supervisor did not finish within {} s", limit.as_secs())));
        }
    };
    if stdout.is_empty() {
        remove_run_dirs(pid);
        let status = status.unwrap_or_default();
        let said = String::from_utf8_lossy(&stderr);
        return Err(Error::Supervisor(
            format!("the supervisor (pid {pid}) wrote no trace ({status}) {}", said.trim()).trim_end().to_owned(),
        ));
    }
    serde_json::from_slice(&stdout).map_err(|e| Error::Protocol(format!("unreadable trace from the supervisor: {e}")))
}

/// A supervisor that died cannot remove its run folder; its roles died with
/// it. (Objects it created in shared tables are left: see the README.)
fn remove_run_dirs(supervisor: u32) {
    let prefix = format!("ipc-harness-{supervisor}-");
    for e in std::fs::read_dir(std::env::temp_dir()).into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Run every plan with `opts.jobs` workers. `on_verdict` sees each verdict
/// as it finishes; the result is in plan order.
pub fn run_all(plans: &[Plan], env: &Environment, opts: &RunOptions, mut on_verdict: impl FnMut(&Verdict)) -> Vec<Verdict> {
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Verdict)>();
    let mut out: Vec<Option<Verdict>> = plans.iter().map(|_| None).collect();
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1).min(plans.len().max(1)) {
            let tx = tx.clone();
            let next = &next;
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(plan) = plans.get(i) else { break };
                    if tx.send((i, run_one(plan, env, opts))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, v) in rx {
            on_verdict(&v);
            out[i] = Some(v);
        }
    });
    out.into_iter().flatten().collect()
}
