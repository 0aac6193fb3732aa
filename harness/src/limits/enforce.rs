//! Enforcement probes: each limit pushed to its edge, where the operation
//! must succeed, and one past it, where it must fail with the errno the
//! kernel documents.
//!
//! Two kinds:
//! - **Per-call limits** (msgmax, msgmnb, SEMMSL, SEMOPM, SEMVMX, msg_max,
//!   msgsize_max, and shmmax when it is small) are probed in this process's
//!   own IPC namespace at the values in effect, since each needs one
//!   private object at a time (IPC_PRIVATE keys, run-unique names, removed
//!   at once): they prove what a container was really given.
//! - **Exhausting limits** (shmmni, shmall, msgmni, SEMMNI, SEMMNS,
//!   queues_max, RLIMIT_MSGQUEUE, the /dev/shm tmpfs) would starve every
//!   other user of the namespace at its edge. They run in a private IPC and
//!   mount namespace, with the limit lowered there to keep them cheap, and
//!   a private tmpfs on /dev/shm. Where no private namespace can be made
//!   they are refused, unless the user allows them in the shared one, and
//!   then they start from the measured headroom.
//!
//! The probe runs in a throw-away child of the harness binary
//! (`__limits-probe`): namespaces cannot be undone, and a probe that must
//! die of SIGBUS does so in a grandchild. Nothing it makes outlives it: a
//! private namespace's objects die with it, and every object made in a
//! shared one is removed by the guard that made it.

use std::os::fd::OwnedFd;

use nix::errno::Errno;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::snapshot::Snapshot;
use crate::sys;

/// The verdict of one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Enforced {
    /// At the edge it succeeded; one past, it failed as documented.
    Confirmed,
    /// The kernel did something else (the details say what).
    Contradicted,
    /// Not probed here (the reason says why).
    Skipped,
}

/// One limit probed at its edge.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Probe {
    pub limit: String,
    /// `this` (the process's own IPC namespace) or `private`.
    pub namespace: String,
    /// The value the edge was probed at.
    pub edge: Option<u64>,
    /// The value in effect here, when the probe lowered it in its private
    /// namespace to keep the probe cheap.
    pub lowered_from: Option<u64>,
    /// What happened at the edge: `ok`, an errno, or a signal.
    pub at_edge: String,
    /// What happened one past the edge.
    pub past_edge: String,
    /// What the kernel documents one past the edge (for this process:
    /// CAP_SYS_RESOURCE lifts some limits).
    pub expected: String,
    pub verdict: Enforced,
    pub detail: String,
}

/// Options of `limits --probe`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Options {
    /// Run the exhausting probes in this process's own namespaces when no
    /// private one can be made.
    pub allow_shared: bool,
}

/// Budgets that keep a probe cheap: the most objects and bytes an
/// exhausting probe creates in a shared namespace.
const MAX_OBJECTS: u64 = 4096;
const MAX_BYTES: u64 = 1 << 30;
/// The /dev/shm capacity probe fills a private tmpfs of the measured size
/// up to this; beyond it the tmpfs is made this big instead.
const MAX_TMPFS: u64 = 512 << 20;

fn outcome<T>(r: &Result<T, Errno>) -> String {
    match r {
        Ok(_) => "ok".to_owned(),
        Err(e) => sys::errno_name(*e),
    }
}

/// A probe's record, judged from its two outcomes.
fn judged(limit: &str, namespace: &str, edge: u64, at: String, past: String, expected: &str, detail: String) -> Probe {
    let verdict = if at == "ok" && past == expected { Enforced::Confirmed } else { Enforced::Contradicted };
    Probe {
        limit: limit.to_owned(),
        namespace: namespace.to_owned(),
        edge: Some(edge),
        lowered_from: None,
        at_edge: at,
        past_edge: past,
        expected: expected.to_owned(),
        verdict,
        detail,
    }
}

fn skipped(limit: &str, namespace: &str, reason: impl Into<String>) -> Probe {
    Probe {
        limit: limit.to_owned(),
        namespace: namespace.to_owned(),
        edge: None,
        lowered_from: None,
        at_edge: String::new(),
        past_edge: String::new(),
        expected: String::new(),
        verdict: Enforced::Skipped,
        detail: reason.into(),
    }
}

fn sysctl(name: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/sys/{}", name.replace('.', "/"))).ok()?.trim().parse().ok()
}

fn sem_fields() -> Option<[u64; 4]> {
    let text = std::fs::read_to_string("/proc/sys/kernel/sem").ok()?;
    let v: Vec<u64> = text.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    v.try_into().ok()
}

fn write_sysctl(name: &str, value: &str) -> Result<(), String> {
    let path = format!("/proc/sys/{}", name.replace('.', "/"));
    std::fs::write(&path, value).map_err(|e| format!("cannot lower {name} in the private namespace: {e}"))
}

// ------------------------------------------------------------ owned objects

/// A SysV object made by a probe, removed when dropped.
struct SysV {
    id: i32,
    kind: SysVKind,
}

#[derive(Clone, Copy)]
enum SysVKind {
    Shm,
    Sem,
    Msg,
}

impl SysV {
    fn shm(size: u64) -> Result<SysV, Errno> {
        let size = usize::try_from(size).map_err(|_| Errno::EINVAL)?;
        sys::shmget(libc::IPC_PRIVATE, size, libc::IPC_CREAT | 0o600).map(|id| SysV { id, kind: SysVKind::Shm })
    }
    fn sem(nsems: u64) -> Result<SysV, Errno> {
        let n = i32::try_from(nsems).map_err(|_| Errno::EINVAL)?;
        sys::semget(libc::IPC_PRIVATE, n, libc::IPC_CREAT | 0o600).map(|id| SysV { id, kind: SysVKind::Sem })
    }
    fn msg() -> Result<SysV, Errno> {
        sys::msgget(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o600).map(|id| SysV { id, kind: SysVKind::Msg })
    }
}

impl Drop for SysV {
    fn drop(&mut self) {
        let _ = match self.kind {
            SysVKind::Shm => sys::shmctl_rmid(self.id),
            SysVKind::Sem => sys::semctl_rmid(self.id),
            SysVKind::Msg => sys::msgctl_rmid(self.id),
        };
    }
}

/// A POSIX queue made by a probe, closed and unlinked when dropped.
struct Queue {
    name: String,
    mqd: i32,
}

impl Queue {
    fn open(tag: &str, maxmsg: u64, msgsize: u64) -> Result<Queue, Errno> {
        let name = format!("/ipc-harness-probe-{}-{tag}", std::process::id());
        let attr = (i64::try_from(maxmsg).map_err(|_| Errno::EINVAL)?, i64::try_from(msgsize).map_err(|_| Errno::EINVAL)?);
        let mqd = sys::mq_open(&name, libc::O_CREAT | libc::O_EXCL | libc::O_RDWR, 0o600, Some(attr))?;
        Ok(Queue { name, mqd })
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        let _ = sys::mq_close(self.mqd);
        let _ = sys::mq_unlink(&self.name);
    }
}

/// A POSIX shared memory object in /dev/shm, unlinked when dropped.
struct ShmFile {
    name: String,
    fd: OwnedFd,
}

impl ShmFile {
    fn create(tag: &str) -> Result<ShmFile, Errno> {
        use nix::fcntl::OFlag;
        use nix::sys::stat::Mode;
        let name = format!("/ipc-harness-probe-{}-{tag}", std::process::id());
        let fd = nix::sys::mman::shm_open(name.as_str(), OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR, Mode::from_bits_truncate(0o600))?;
        Ok(ShmFile { name, fd })
    }
}

impl Drop for ShmFile {
    fn drop(&mut self) {
        let _ = nix::sys::mman::shm_unlink(self.name.as_str());
    }
}

// --------------------------------------------------------- per-call limits

/// msgmax: a message of msgmax bytes is accepted, one byte more is EINVAL.
fn msgmax(ns: &str) -> Probe {
    let (Some(max), Some(mnb)) = (sysctl("kernel.msgmax"), sysctl("kernel.msgmnb")) else {
        return skipped("kernel.msgmax", ns, "kernel.msgmax or kernel.msgmnb cannot be read");
    };
    if max > mnb {
        return skipped("kernel.msgmax", ns, format!("msgmax ({max}) exceeds msgmnb ({mnb}): a message that large cannot fit a new queue"));
    }
    let q = match SysV::msg() {
        Ok(q) => q,
        Err(e) => return skipped("kernel.msgmax", ns, format!("msgget: {}", sys::errno_name(e))),
    };
    let text = vec![b'x'; usize::try_from(max + 1).unwrap_or(0)];
    let at = outcome(&sys::msgsnd(q.id, 1, &text[..text.len() - 1], libc::IPC_NOWAIT));
    let past = outcome(&sys::msgsnd(q.id, 1, &text, libc::IPC_NOWAIT));
    judged("kernel.msgmax", ns, max, at, past, "EINVAL", format!("msgsnd of {max} bytes, then {} bytes", max + 1))
}

/// msgmnb: a new queue holds msgmnb bytes; one byte more is EAGAIN with
/// IPC_NOWAIT.
fn msgmnb(ns: &str) -> Probe {
    let (Some(max), Some(mnb)) = (sysctl("kernel.msgmax"), sysctl("kernel.msgmnb")) else {
        return skipped("kernel.msgmnb", ns, "kernel.msgmax or kernel.msgmnb cannot be read");
    };
    if max == 0 || mnb / max > MAX_OBJECTS {
        return skipped("kernel.msgmnb", ns, format!("filling {mnb} bytes takes more than {MAX_OBJECTS} messages of msgmax ({max})"));
    }
    let q = match SysV::msg() {
        Ok(q) => q,
        Err(e) => return skipped("kernel.msgmnb", ns, format!("msgget: {}", sys::errno_name(e))),
    };
    let full = vec![b'x'; usize::try_from(max).unwrap_or(0)];
    let mut left = mnb;
    let mut at: Result<i32, Errno> = Ok(0);
    while left > 0 && at.is_ok() {
        let n = left.min(max);
        at = sys::msgsnd(q.id, 1, &full[..usize::try_from(n).unwrap_or(0)], libc::IPC_NOWAIT);
        left -= n;
    }
    let past = outcome(&sys::msgsnd(q.id, 1, b"x", libc::IPC_NOWAIT));
    judged("kernel.msgmnb", ns, mnb, outcome(&at), past, "EAGAIN", format!("{mnb} bytes queued, then one more byte with IPC_NOWAIT"))
}

/// SEMMSL: an array of SEMMSL semaphores is made; SEMMSL+1 is EINVAL.
fn semmsl(ns: &str) -> Probe {
    let Some([msl, mns, _, _]) = sem_fields() else { return skipped("kernel.sem.semmsl", ns, "kernel.sem cannot be read") };
    if msl > 65536 {
        return skipped("kernel.sem.semmsl", ns, format!("SEMMSL {msl} is too large to allocate cheaply"));
    }
    if msl > mns {
        return skipped("kernel.sem.semmsl", ns, format!("SEMMSL ({msl}) exceeds SEMMNS ({mns})"));
    }
    let at = outcome(&SysV::sem(msl));
    let past = outcome(&SysV::sem(msl + 1));
    judged("kernel.sem.semmsl", ns, msl, at, past, "EINVAL", format!("semget of {msl} semaphores, then {}", msl + 1))
}

/// SEMOPM: semop of SEMOPM operations works; SEMOPM+1 is E2BIG.
fn semopm(ns: &str) -> Probe {
    let Some([_, _, opm, _]) = sem_fields() else { return skipped("kernel.sem.semopm", ns, "kernel.sem cannot be read") };
    if opm > 65536 {
        return skipped("kernel.sem.semopm", ns, format!("SEMOPM {opm} is too large to pass cheaply"));
    }
    let set = match SysV::sem(1) {
        Ok(s) => s,
        Err(e) => return skipped("kernel.sem.semopm", ns, format!("semget: {}", sys::errno_name(e))),
    };
    // Waits for zero on a semaphore that is zero: each succeeds at once.
    let ops = vec![sys::SemBuf { num: 0, op: 0, flags: libc::IPC_NOWAIT as i16 }; usize::try_from(opm + 1).unwrap_or(1)];
    let at = outcome(&sys::semop(set.id, &ops[..ops.len() - 1], None));
    let past = outcome(&sys::semop(set.id, &ops, None));
    judged("kernel.sem.semopm", ns, opm, at, past, "E2BIG", format!("semop of {opm} operations, then {}", opm + 1))
}

/// SEMVMX (32767, a constant): SETVAL to it works, one more is ERANGE.
fn semvmx(ns: &str) -> Probe {
    const SEMVMX: i32 = 32767;
    let set = match SysV::sem(1) {
        Ok(s) => s,
        Err(e) => return skipped("SEMVMX", ns, format!("semget: {}", sys::errno_name(e))),
    };
    let at = outcome(&sys::semctl_setval(set.id, 0, SEMVMX));
    let past = outcome(&sys::semctl_setval(set.id, 0, SEMVMX + 1));
    judged("SEMVMX", ns, SEMVMX as u64, at, past, "ERANGE", "SETVAL 32767, then 32768 (SEMVMX is a constant, not a sysctl)".to_owned())
}

/// What one past a POSIX queue limit gives this process.
fn mq_expected(snap: &Snapshot) -> (&'static str, &'static str) {
    if snap.holds("CAP_SYS_RESOURCE") { ("ok", " (CAP_SYS_RESOURCE lifts this limit)") } else { ("EINVAL", "") }
}

/// fs.mqueue.msg_max: a queue of msg_max messages opens; one more is EINVAL
/// without CAP_SYS_RESOURCE.
fn msg_max(ns: &str, snap: &Snapshot) -> Probe {
    let Some(max) = sysctl("fs.mqueue.msg_max") else { return skipped("fs.mqueue.msg_max", ns, "fs.mqueue.msg_max cannot be read") };
    let (expected, why) = mq_expected(snap);
    let at = Queue::open("msgmax-a", max, 1);
    let at_s = outcome(&at);
    drop(at);
    let past = outcome(&Queue::open("msgmax-b", max + 1, 1));
    judged("fs.mqueue.msg_max", ns, max, at_s, past, expected, format!("mq_open with mq_maxmsg {max}, then {}{why}", max + 1))
}

/// fs.mqueue.msgsize_max: as msg_max, for the message size.
fn msgsize_max(ns: &str, snap: &Snapshot) -> Probe {
    let Some(max) = sysctl("fs.mqueue.msgsize_max") else {
        return skipped("fs.mqueue.msgsize_max", ns, "fs.mqueue.msgsize_max cannot be read");
    };
    let (expected, why) = mq_expected(snap);
    let at = Queue::open("msgsize-a", 1, max);
    let at_s = outcome(&at);
    drop(at);
    let past = outcome(&Queue::open("msgsize-b", 1, max + 1));
    judged("fs.mqueue.msgsize_max", ns, max, at_s, past, expected, format!("mq_open with mq_msgsize {max}, then {}{why}", max + 1))
}

/// shmmax, in this namespace when the segment is cheap to make.
fn shmmax_here(ns: &str) -> Option<Probe> {
    let max = sysctl("kernel.shmmax")?;
    if max > MAX_BYTES {
        return None;
    }
    let at = outcome(&SysV::shm(max));
    let past = outcome(&SysV::shm(max + 1));
    Some(judged("kernel.shmmax", ns, max, at, past, "EINVAL", format!("shmget of {max} bytes, then {}", max + 1)))
}

// ------------------------------------------------------ exhausting limits

/// `count` objects made one by one, then one more.
fn count_edge<T>(limit: &str, ns: &str, count: u64, expected: &str, what: &str, mut make: impl FnMut(u64) -> Result<T, Errno>) -> Probe {
    let mut held = Vec::new();
    let mut at: Result<(), Errno> = Ok(());
    for i in 0..count {
        match make(i) {
            Ok(o) => held.push(o),
            Err(e) => {
                at = Err(e);
                break;
            }
        }
    }
    let detail = match &at {
        Ok(()) => format!("{count} {what} made, then one more"),
        Err(_) => format!("only {} of {count} {what} could be made", held.len()),
    };
    let past = if at.is_ok() { outcome(&make(count)) } else { "not reached".to_owned() };
    judged(limit, ns, count, outcome(&at), past, expected, detail)
}

/// Lower a plain sysctl to `value` in the private namespace, then probe it.
fn lower_and_probe(out: &mut Vec<Probe>, limit: &str, value: u64, probe: impl FnOnce() -> Probe) {
    after_lowering(out, limit, limit, &value.to_string(), sysctl(limit), probe);
}

/// Write `value` to `sysctl_name` in the private namespace, then probe
/// `limit`, recording the value in effect before (`was`); or say why the
/// limit could not be lowered.
fn after_lowering(out: &mut Vec<Probe>, limit: &str, sysctl_name: &str, value: &str, was: Option<u64>, probe: impl FnOnce() -> Probe) {
    match write_sysctl(sysctl_name, value) {
        Ok(()) => {
            let mut p = probe();
            p.lowered_from = was;
            out.push(p);
        }
        Err(e) => out.push(skipped(limit, "private", e)),
    }
}

/// The exhausting probes, in a private IPC namespace where each limit is
/// lowered first.
fn exhausting_private(snap: &Snapshot, out: &mut Vec<Probe>) {
    let ns = "private";
    lower_and_probe(out, "kernel.shmmni", 8, || count_edge("kernel.shmmni", ns, 8, "ENOSPC", "segments", |_| SysV::shm(1)));
    let page = sys::page_size() as u64;
    lower_and_probe(out, "kernel.shmall", 256, || {
        let at = SysV::shm(256 * page);
        let past = outcome(&SysV::shm(1));
        judged("kernel.shmall", ns, 256, outcome(&at), past, "ENOSPC", "one segment of 256 pages, then one of 1 byte".to_owned())
    });
    if !out.iter().any(|p| p.limit == "kernel.shmmax") {
        lower_and_probe(out, "kernel.shmmax", 1 << 20, || {
            let at = outcome(&SysV::shm(1 << 20));
            let past = outcome(&SysV::shm((1 << 20) + 1));
            judged("kernel.shmmax", ns, 1 << 20, at, past, "EINVAL", "shmget of 1 MiB, then 1 MiB + 1".to_owned())
        });
    }
    lower_and_probe(out, "kernel.msgmni", 8, || count_edge("kernel.msgmni", ns, 8, "ENOSPC", "queues", |_| SysV::msg()));
    // kernel.sem is four fields: SEMMSL SEMMNS SEMOPM SEMMNI.
    let sem_was = sem_fields();
    after_lowering(out, "kernel.sem.semmni", "kernel.sem", "32 1024 32 4", sem_was.map(|f| f[3]), || {
        count_edge("kernel.sem.semmni", ns, 4, "ENOSPC", "semaphore sets", |_| SysV::sem(1))
    });
    after_lowering(out, "kernel.sem.semmns", "kernel.sem", "32 64 32 128", sem_was.map(|f| f[1]), || {
        let a = SysV::sem(32);
        let b = SysV::sem(32);
        let at = match (&a, &b) {
            (Ok(_), Ok(_)) => "ok".to_owned(),
            (Err(e), _) | (_, Err(e)) => sys::errno_name(*e),
        };
        let past = outcome(&SysV::sem(1));
        judged("kernel.sem.semmns", ns, 64, at, past, "ENOSPC", "two sets of 32 semaphores, then a set of 1".to_owned())
    });
    let holds_resource = snap.holds("CAP_SYS_RESOURCE");
    let queues_was = sysctl("fs.mqueue.queues_max");
    lower_and_probe(out, "fs.mqueue.queues_max", 4, || {
        let expected = if holds_resource { "ok" } else { "ENOSPC" };
        let mut p = count_edge("fs.mqueue.queues_max", ns, 4, expected, "queues", |i| Queue::open(&format!("qmax-{i}"), 1, 1));
        if holds_resource {
            p.detail.push_str(" (CAP_SYS_RESOURCE lifts this limit)");
        }
        p
    });
    // The RLIMIT_MSGQUEUE probe opens many queues: give the namespace its
    // count back first.
    if let Some(was) = queues_was {
        let _ = write_sysctl("fs.mqueue.queues_max", &was.to_string());
    }
    out.push(rlimit_msgqueue(ns, snap));
}

/// The exhausting probes in this process's own namespace, starting from
/// the measured headroom, where it is small enough.
fn exhausting_shared(snap: &Snapshot, out: &mut Vec<Probe>) {
    let ns = "this";
    let room = |metric: &str| snap.limit(metric).and_then(|l| l.headroom);
    let cheap = |metric: &str, out: &mut Vec<Probe>| -> Option<u64> {
        match room(metric) {
            Some(r) if r <= MAX_OBJECTS => Some(r),
            Some(r) => {
                out.push(skipped(
                    metric,
                    ns,
                    format!("the headroom ({r}) is more than {MAX_OBJECTS} objects: too many to exhaust cheaply"),
                ));
                None
            }
            None => {
                out.push(skipped(metric, ns, "the current use cannot be read here, so the edge is unknown"));
                None
            }
        }
    };
    if let Some(r) = cheap("kernel.shmmni", out) {
        out.push(count_edge("kernel.shmmni", ns, r, "ENOSPC", "segments", |_| SysV::shm(1)));
    }
    if let Some(r) = cheap("kernel.msgmni", out) {
        out.push(count_edge("kernel.msgmni", ns, r, "ENOSPC", "queues", |_| SysV::msg()));
    }
    if let Some(r) = cheap("kernel.sem.semmni", out) {
        out.push(count_edge("kernel.sem.semmni", ns, r, "ENOSPC", "semaphore sets", |_| SysV::sem(1)));
    }
    out.push(skipped("kernel.shmall", ns, "its headroom is counted in pages of memory; exhausting it in a shared namespace is not cheap"));
    out.push(skipped("kernel.sem.semmns", ns, "exhausting it in a shared namespace would block other users' semget"));
    if let Some(r) = cheap("fs.mqueue.queues_max", out) {
        let expected = if snap.holds("CAP_SYS_RESOURCE") { "ok" } else { "ENOSPC" };
        out.push(count_edge("fs.mqueue.queues_max", ns, r, expected, "queues", |i| Queue::open(&format!("qmax-{i}"), 1, 1)));
    }
    out.push(rlimit_msgqueue(ns, snap));
}

/// RLIMIT_MSGQUEUE: the bytes a user's queues may charge. Queues of the
/// largest message size are opened until EMFILE; then the last queue's size
/// is searched for the exact edge: that size opens, one byte more is EMFILE.
/// Runs in a forked child, since it lowers its own limit.
fn rlimit_msgqueue(ns: &str, snap: &Snapshot) -> Probe {
    let name = "rlimit.msgqueue";
    let Some(limit) = snap.value(name) else { return skipped(name, ns, "RLIMIT_MSGQUEUE cannot be read") };
    let msgsize = sysctl("fs.mqueue.msgsize_max").unwrap_or(8192).min(1 << 20);
    // Lowered when reaching it would take too many queues (a soft limit
    // may always be lowered); otherwise the limit in effect, from whatever
    // this user's queues already charge.
    let probe_limit = limit.min(MAX_OBJECTS / 4 * (msgsize + 64));
    let (tx, rx) = match nix::unistd::pipe() {
        Ok(p) => p,
        Err(e) => return skipped(name, ns, format!("pipe: {}", sys::errno_name(e))),
    };
    match sys::fork() {
        Err(e) => skipped(name, ns, format!("fork: {}", sys::errno_name(e))),
        Ok(sys::Forked::Child) => {
            drop(tx);
            let p = rlimit_msgqueue_child(ns, probe_limit, msgsize);
            let text = serde_json::to_vec(&p).unwrap_or_default();
            let _ = sys::write_all(std::os::fd::AsRawFd::as_raw_fd(&rx), &text);
            sys::exit_now(0)
        }
        Ok(sys::Forked::Parent(pid)) => {
            drop(rx);
            let text = sys::read_to_end(std::os::fd::AsRawFd::as_raw_fd(&tx)).unwrap_or_default();
            let _ = sys::wait_end(pid.as_raw(), false);
            let mut p: Probe = serde_json::from_slice(&text).unwrap_or_else(|_| skipped(name, ns, "the probe's child died"));
            if probe_limit < limit {
                p.lowered_from = Some(limit);
            }
            p
        }
    }
}

fn rlimit_msgqueue_child(ns: &str, limit: u64, msgsize: u64) -> Probe {
    let name = "rlimit.msgqueue";
    if let Err(e) = sys::set_soft_rlimit(libc::RLIMIT_MSGQUEUE as i32, limit) {
        return skipped(name, ns, format!("cannot lower RLIMIT_MSGQUEUE: {}", sys::errno_name(e)));
    }
    let mut held = Vec::new();
    let mut i = 0u64;
    let stop = loop {
        match Queue::open(&format!("rl-{i}"), 1, msgsize) {
            Ok(q) => held.push(q),
            Err(e) => break e,
        }
        i += 1;
        if i > MAX_OBJECTS {
            return skipped(name, ns, format!("{MAX_OBJECTS} queues opened without reaching the limit"));
        }
    };
    if stop != Errno::EMFILE {
        return judged(
            name,
            ns,
            limit,
            "ok".to_owned(),
            sys::errno_name(stop),
            "EMFILE",
            format!("{} queues of {msgsize} bytes opened", held.len()),
        );
    }
    // The largest message size that still fits (binary search), then +1.
    let fits = |size: u64| Queue::open("rl-edge", 1, size).is_ok();
    let (mut lo, mut hi) = (0u64, msgsize);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if fits(mid) { lo = mid } else { hi = mid - 1 }
    }
    if lo == 0 {
        // Not even a 1-byte queue fits: the edge is the last full queue.
        return judged(
            name,
            ns,
            limit,
            "ok".to_owned(),
            "EMFILE".to_owned(),
            "EMFILE",
            format!("{} queues of {msgsize} bytes fit in {limit} bytes; the next, even of 1 byte, gets EMFILE", held.len()),
        );
    }
    let at = Queue::open("rl-edge", 1, lo);
    let at_s = outcome(&at);
    drop(at);
    let past = outcome(&Queue::open("rl-past", 1, lo + 1));
    judged(
        name,
        ns,
        limit,
        at_s,
        past,
        "EMFILE",
        format!("{} queues of {msgsize} bytes, then one of {lo} bytes fits and one of {} bytes gets EMFILE", held.len(), lo + 1),
    )
}

// --------------------------------------------------------- /dev/shm

/// How a touching process ended: a signal's name, or its exit.
fn ended(end: Option<sys::Ended>) -> String {
    match end {
        Some(sys::Ended::Signaled(sig, _)) => sys::signal_name(sig),
        Some(sys::Ended::Exited(c)) => format!("exit {c}"),
        None => "still running".to_owned(),
    }
}

/// Exit code of a touching process that could not join its cgroup.
const NO_CGROUP: i32 = 97;

/// A /dev/shm file of `len` bytes (sparse), mapped shared; a forked child
/// (in the cgroup whose `cgroup.procs` is given) touches its pages in
/// order until it has touched them all or is stopped. Returns how the
/// child ended and how many bytes it touched.
fn touch_until_stopped(tag: &str, len: u64, cgroup_procs: Option<&std::path::Path>) -> Result<(Option<sys::Ended>, u64), String> {
    let page = sys::page_size() as u64;
    let f = ShmFile::create(tag).map_err(|e| format!("shm_open: {}", sys::errno_name(e)))?;
    nix::unistd::ftruncate(&f.fd, i64::try_from(len).unwrap_or(i64::MAX)).map_err(|e| format!("ftruncate: {e}"))?;
    let map_len = usize::try_from(len).map_err(|e| e.to_string())?;
    let addr = sys::mmap_fd(&f.fd, map_len, true, sys::Placement::Anywhere).map_err(|e| format!("mmap: {e}"))?;
    let counter = sys::mmap_anonymous(8, true, sys::Placement::Anywhere).map_err(|e| format!("mmap: {e}"))?;
    let result = match sys::fork().map_err(|e| format!("fork: {e}"))? {
        sys::Forked::Child => {
            // SIGBUS must end this process, not a handler of the runtime's.
            let _ = sys::reset_signal_dispositions();
            if let Some(procs) = cgroup_procs {
                if std::fs::write(procs, std::process::id().to_string()).is_err() {
                    sys::exit_now(NO_CGROUP)
                }
            }
            for i in 0..len / page {
                sys::write_mapped(addr + usize::try_from(i * page).unwrap_or(0), b"x");
                sys::store_release_u64(counter, i + 1);
            }
            sys::exit_now(0)
        }
        sys::Forked::Parent(pid) => {
            let end = sys::wait_end(pid.as_raw(), false).map_err(|e| format!("waitpid: {e}"));
            let touched = sys::load_acquire_u64(counter) * page;
            end.map(|e| (e.map(|(_, e)| e), touched))
        }
    };
    let _ = sys::munmap(addr, map_len);
    let _ = sys::munmap(counter, 8);
    result
}

/// The OOM kills a memory cgroup has counted (`oom_kill` in
/// memory.oom_control on v1, memory.events on v2).
fn oom_kills(dir: &std::path::Path, version: &str) -> u64 {
    let file = if version == "v1" { "memory.oom_control" } else { "memory.events" };
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok())
        .unwrap_or(0)
}

/// The /dev/shm capacity: posix_fallocate of the whole tmpfs works and one
/// page more is ENOSPC; a sparse file mapped past the capacity kills the
/// process that touches the first page beyond it with SIGBUS. Runs on the
/// private tmpfs the probe mounted (`size` bytes).
fn dev_shm(ns: &str, size: u64) -> Vec<Probe> {
    let mut out = Vec::new();
    // posix_fallocate.
    let falloc = (|| -> Result<Probe, Errno> {
        let a = ShmFile::create("falloc-a")?;
        let at = outcome(&nix::fcntl::posix_fallocate(&a.fd, 0, i64::try_from(size).map_err(|_| Errno::EINVAL)?));
        let b = ShmFile::create("falloc-b")?;
        let past = outcome(&nix::fcntl::posix_fallocate(&b.fd, 0, 1));
        Ok(judged(
            "dev_shm.size",
            ns,
            size,
            at,
            past,
            "ENOSPC",
            format!("posix_fallocate of {size} bytes, then of 1 byte more (in another file)"),
        ))
    })();
    out.push(falloc.unwrap_or_else(|e| skipped("dev_shm.size", ns, format!("shm_open: {}", sys::errno_name(e)))));
    // SIGBUS on touching the first page past the capacity.
    let page = sys::page_size() as u64;
    let bus = touch_until_stopped("touch", size + page, None).map(|(end, bytes)| {
        let at = if bytes >= size { "ok".to_owned() } else { format!("stopped after {bytes} bytes") };
        let mut p = judged(
            "dev_shm.size",
            ns,
            size,
            at,
            ended(end),
            "SIGBUS",
            format!(
                "ftruncate to {} bytes succeeds; touching its pages: {} of {} fit, the next raises SIGBUS",
                size + page,
                bytes / page,
                size / page
            ),
        );
        p.limit = "dev_shm.size (touch)".to_owned();
        p
    });
    out.push(bus.unwrap_or_else(|e| skipped("dev_shm.size (touch)", ns, e)));
    out
}

/// A child memory cgroup made by a probe, removed when dropped (after its
/// process has been reaped and its tmpfs pages freed).
struct ChildCgroup(std::path::PathBuf);

impl Drop for ChildCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// The out-of-memory kill: a process in a child memory cgroup limited below
/// the tmpfs touches a tmpfs file's pages (each is charged to the cgroup of
/// the process that first touches it, mm/shmem.c); the cgroup's OOM killer
/// ends it with SIGKILL before the tmpfs is full, and the cgroup counts the
/// kill.
fn dev_shm_oom(ns: &str, tmpfs: u64) -> Probe {
    let name = "memory cgroup (touch)";
    let Some(cg) = super::snapshot::memcg() else { return skipped(name, ns, "no memory cgroup is visible") };
    let limit = (tmpfs / 2).min(32 << 20);
    if limit < 4 << 20 {
        return skipped(name, ns, format!("the tmpfs ({tmpfs} bytes) is too small to probe the memory cgroup below it"));
    }
    let dir = cg.dir.join(format!("ipc-harness-probe-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir(&dir) {
        return skipped(name, ns, format!("cannot make a child memory cgroup in {}: {e}", cg.dir.display()));
    }
    let child = ChildCgroup(dir);
    let write = |file: &str, v: &str| std::fs::write(child.0.join(file), v).map_err(|e| format!("{file}: {e}"));
    let setup = if cg.version == "v1" {
        // With swap accounting, swap must be limited too, or pages go there.
        write("memory.limit_in_bytes", &limit.to_string()).and_then(|()| {
            if child.0.join("memory.memsw.limit_in_bytes").exists() {
                write("memory.memsw.limit_in_bytes", &limit.to_string())
            } else {
                Ok(())
            }
        })
    } else {
        write("memory.max", &limit.to_string()).and_then(|()| write("memory.swap.max", "0").or(Ok(())))
    };
    if let Err(e) = setup {
        return skipped(name, ns, format!("cannot limit the child memory cgroup: {e}"));
    }
    let (end, bytes) = match touch_until_stopped("oom", tmpfs, Some(&child.0.join("cgroup.procs"))) {
        Ok(t) => t,
        Err(e) => return skipped(name, ns, e),
    };
    if matches!(end, Some(sys::Ended::Exited(NO_CGROUP))) {
        return skipped(name, ns, "cannot move a process into the child memory cgroup");
    }
    oom_judged(ns, limit, tmpfs, end, bytes, oom_kills(&child.0, cg.version), 1, "a child memory cgroup limited to")
}

/// The OOM kill where the memory cgroup this process is in is the tighter
/// bound (a container run with `--memory` below its `--shm-size`): its pages
/// of /dev/shm are touched in place until the OOM killer ends the toucher.
/// Only with `--allow-shared-namespace`: the whole cgroup is under pressure
/// while it runs.
fn dev_shm_oom_here(ns: &str, snap: &Snapshot) -> Probe {
    let name = "memory cgroup (touch)";
    let (Some(cg), Some(room), Some(free)) = (super::snapshot::memcg(), snap.memory.headroom, snap.dev_shm.free) else {
        return skipped(name, ns, "the memory cgroup's headroom or /dev/shm's free space cannot be read");
    };
    let before = oom_kills(&cg.dir, cg.version);
    let (end, bytes) = match touch_until_stopped("oom-here", free, None) {
        Ok(t) => t,
        Err(e) => return skipped(name, ns, e),
    };
    let after = oom_kills(&cg.dir, cg.version);
    oom_judged(ns, room, free, end, bytes, after.saturating_sub(before), 1, "this memory cgroup, with headroom")
}

/// Judge an OOM probe: the toucher got well into the memory budget, did
/// not reach the tmpfs's end, and was killed with the cgroup counting it.
#[allow(clippy::too_many_arguments)]
fn oom_judged(ns: &str, limit: u64, tmpfs: u64, end: Option<sys::Ended>, bytes: u64, kills: u64, want: u64, what: &str) -> Probe {
    let at = if bytes >= limit / 2 && bytes < tmpfs { "ok".to_owned() } else { format!("stopped after {bytes} bytes") };
    let past = match end {
        Some(sys::Ended::Signaled(..)) => format!("{} (oom_kill {kills})", ended(end)),
        _ => ended(end),
    };
    let show = |b: u64| super::profile::show(b, super::snapshot::Unit::Bytes);
    judged(
        "memory cgroup (touch)",
        ns,
        limit,
        at,
        past,
        &format!("SIGKILL (oom_kill {want})"),
        format!(
            "a process in {what} {} touched {} of a {} tmpfs file before the OOM killer ended it",
            show(limit),
            show(bytes),
            show(tmpfs)
        ),
    )
}

// ------------------------------------------------------------- the probe

/// The body of `__limits-probe`: per-call probes here, then the exhausting
/// ones in a private namespace (or here, if allowed and none can be made).
/// Runs in a throw-away, single-threaded process.
pub fn run(opts: Options) -> Vec<Probe> {
    let snap = super::snapshot::take(None);
    let here = "this";
    let mut out =
        vec![msgmax(here), msgmnb(here), semmsl(here), semopm(here), semvmx(here), msg_max(here, &snap), msgsize_max(here, &snap)];
    out.extend(shmmax_here(here));
    // The private tmpfs has the measured size, unless that is too large to
    // fill cheaply, or more than the memory cgroup leaves.
    let measured = snap.dev_shm.size.unwrap_or(64 << 20);
    let room = snap.memory.headroom.map_or(u64::MAX, |r| r / 2);
    let tmpfs = measured.min(MAX_TMPFS).min(room);
    match crate::exec::isolation::isolate(crate::exec::Wanted::Namespaces, Some(tmpfs)) {
        Ok(_) => {
            exhausting_private(&snap, &mut out);
            for mut p in dev_shm("private", tmpfs) {
                if tmpfs < measured {
                    p.lowered_from = Some(measured);
                }
                out.push(p);
            }
            let mut oom = dev_shm_oom("private", tmpfs);
            oom.lowered_from = snap.memory.limit;
            out.push(oom);
        }
        Err(e) if opts.allow_shared => {
            exhausting_shared(&snap, &mut out);
            let free = snap.dev_shm.free.unwrap_or(0);
            if snap.shm_capacity_bound.as_deref() == Some("memory cgroup") && free <= MAX_BYTES {
                // The cgroup runs out first: that is what a workload meets.
                out.push(dev_shm_oom_here(here, &snap));
            } else if free <= MAX_BYTES.min(room) {
                out.extend(dev_shm(here, free));
            } else {
                out.push(skipped("dev_shm.size", here, format!("{free} bytes free: too much to fill cheaply (no private namespace: {e})")));
            }
        }
        Err(e) => {
            let reason = format!(
                "exhausting probes need a private IPC and mount namespace, which cannot be made here ({e}); `--allow-shared-namespace` runs them in this one"
            );
            for limit in [
                "kernel.shmmni",
                "kernel.shmall",
                "kernel.msgmni",
                "kernel.sem.semmni",
                "kernel.sem.semmns",
                "fs.mqueue.queues_max",
                "rlimit.msgqueue",
                "dev_shm.size",
            ] {
                out.push(skipped(limit, here, reason.clone()));
            }
        }
    }
    out
}

/// What a workload meets when /dev/shm runs out, from the snapshot and the
/// probes: ENOSPC (posix_fallocate), SIGBUS (touching pages), or the
/// out-of-memory killer when the memory cgroup is the tighter bound.
pub fn shm_outcome(snap: &Snapshot, probes: &[Probe]) -> String {
    let confirmed = |l: &str| probes.iter().any(|p| p.limit == l && p.verdict == Enforced::Confirmed);
    let cap = snap.shm_capacity.map_or("unknown".to_owned(), |c| super::profile::show(c, super::snapshot::Unit::Bytes));
    match snap.shm_capacity_bound.as_deref() {
        Some("memory cgroup") => {
            let how =
                if probes.iter().any(|p| p.limit == "memory cgroup (touch)" && p.namespace == "this" && p.verdict == Enforced::Confirmed) {
                    "confirmed by the probe in this cgroup"
                } else {
                    "predicted from the memory cgroup's limit and usage; `--probe --allow-shared-namespace` provokes it"
                };
            format!(
                "after {cap} the memory cgroup's limit is reached before /dev/shm is full: the out-of-memory killer ends the workload (SIGKILL), whether it uses posix_fallocate or touches pages ({how})"
            )
        }
        _ => {
            let how = match (confirmed("dev_shm.size"), confirmed("dev_shm.size (touch)")) {
                (true, true) => "both confirmed by the probe",
                (true, false) | (false, true) => "one of them confirmed by the probe",
                (false, false) => "not confirmed by a probe",
            };
            let oom = if confirmed("memory cgroup (touch)") {
                "; were the memory cgroup's limit the lower bound, the out-of-memory killer would end it first (SIGKILL; confirmed in a child cgroup)"
            } else {
                ""
            };
            format!(
                "after {cap} /dev/shm is full: posix_fallocate fails with ENOSPC (PostgreSQL, NCCL), and a process that ftruncates and touches pages dies of SIGBUS (PyTorch's \"Bus error\"); {how}{oom}"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_is_confirmed_only_by_success_at_the_edge_and_the_documented_errno_past_it() {
        let j =
            |at: &str, past: &str| judged("kernel.msgmni", "private", 8, at.to_owned(), past.to_owned(), "ENOSPC", String::new()).verdict;
        assert_eq!(j("ok", "ENOSPC"), Enforced::Confirmed);
        assert_eq!(j("ok", "ok"), Enforced::Contradicted, "a limit that lets one more through is not enforced");
        assert_eq!(j("ok", "EINVAL"), Enforced::Contradicted, "another errno is not the documented one");
        assert_eq!(j("ENOSPC", "not reached"), Enforced::Contradicted, "a limit hit before its edge is not the limit claimed");
    }

    #[test]
    fn count_edge_stops_at_the_first_failure() {
        let p = count_edge("x", "private", 3, "ENOSPC", "things", |i| if i < 2 { Ok(()) } else { Err(Errno::ENOSPC) });
        assert_eq!((p.verdict, p.at_edge.as_str(), p.past_edge.as_str()), (Enforced::Contradicted, "ENOSPC", "not reached"));
        assert!(p.detail.contains("only 2 of 3"), "{}", p.detail);
    }
}
