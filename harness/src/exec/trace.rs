//! The execution trace: what happened, recorded by the supervisor without
//! judging it. `check` turns a trace into a verdict.

use serde::{Deserialize, Serialize};

use crate::plan::{Locator, RoleId};
use crate::sys::ShmStat;

/// The result of one system call made by a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Outcome {
    /// `Ok` with the call's return value, or the errno name.
    pub result: Result<i64, String>,
    /// Bytes read, for reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat: Option<Box<ShmStat>>,
    /// Attach address and the address that was requested (0 for none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<(u64, u64)>,
    /// IPC_INFO / SHM_INFO, with the sysctls read at the same moment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Box<crate::sys::ShmInfo>>,
    /// For a new mapping: its line in `/proc/self/maps`, and the physical
    /// frame of its first page from `/proc/self/pagemap` (0 when the kernel
    /// hides frames, i.e. without CAP_SYS_ADMIN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<Box<(String, u64)>>,
    /// For a new descriptor: its number, the lowest free number before the
    /// call, and whether FD_CLOEXEC is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descriptor: Option<Descriptor>,
    /// The priority of the message mq_receive took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prio: Option<u32>,
    /// mq_getattr (or mq_setattr's old attributes): maxmsg, msgsize,
    /// curmsgs, and whether O_NONBLOCK is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attr: Option<crate::sys::MqAttr>,
    /// *_INFO next to /proc/sysvipc (`agrees_with_proc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<Box<crate::ipc::Agreement>>,
    /// With a SysV status: the key the run made the object with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_key: Option<i64>,
    /// The siginfo of the signal `sigwait` took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub siginfo: Option<crate::sys::SigInfo>,
    /// The signals `handled` or `take_pending` found, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<Vec<crate::sys::SigInfo>>,
    /// A queue's line in the mqueue file system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mq_status: Option<crate::ipc::posix_mq::MqStatus>,
    /// The type of the message msgrcv took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtype: Option<i64>,
    /// Values a call reported (semctl GETALL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<i64>>,
    /// IPC_INFO limits next to the sysctl files read at the same moment:
    /// (name, reported, file), for every kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Vec<(String, u64, u64)>>,
    /// SHM_INFO, SEM_INFO or MSG_INFO: objects in use in the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_ids: Option<i64>,
    /// How many facts an invariant check examined (records, blocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub examined: Option<u64>,
    /// How long the call took, for calls that may wait (microseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_us: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Descriptor {
    pub fd: i32,
    /// The lowest free number before the call (-1 when no call made it).
    pub lowest_free: i32,
    pub cloexec: bool,
    /// F_GETFL, where a step read it (`fcntl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i32>,
    /// The descriptor the call was given, where it takes one (`signalfd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<i32>,
}

impl Outcome {
    pub fn ok(v: i64) -> Self {
        Outcome {
            result: Ok(v),
            data: None,
            stat: None,
            address: None,
            info: None,
            mapping: None,
            descriptor: None,
            values: None,
            mtype: None,
            prio: None,
            attr: None,
            own_key: None,
            agreement: None,
            siginfo: None,
            received: None,
            mq_status: None,
            limits: None,
            used_ids: None,
            examined: None,
            elapsed_us: None,
        }
    }
    pub fn err(e: crate::sys::Errno) -> Self {
        Outcome { result: Err(crate::sys::errno_name(e)), ..Outcome::ok(0) }
    }
}

/// How a process ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Termination {
    Exited(i32),
    Signaled(String),
    /// Killed by a signal whose default action dumped a core (WCOREDUMP).
    Dumped(String),
}

impl Termination {
    /// The signal that killed the process, core dumped or not.
    pub fn signal(&self) -> Option<&str> {
        match self {
            Termination::Exited(_) => None,
            Termination::Signaled(s) | Termination::Dumped(s) => Some(s),
        }
    }
}

impl From<crate::sys::Ended> for Termination {
    fn from(end: crate::sys::Ended) -> Termination {
        match end {
            crate::sys::Ended::Exited(code) => Termination::Exited(code),
            crate::sys::Ended::Signaled(sig, true) => Termination::Dumped(crate::sys::signal_name(sig)),
            crate::sys::Ended::Signaled(sig, false) => Termination::Signaled(crate::sys::signal_name(sig)),
        }
    }
}

impl std::fmt::Display for Termination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Termination::Exited(c) => write!(f, "exit status {c}"),
            Termination::Signaled(s) => write!(f, "killed by {s}"),
            Termination::Dumped(s) => write!(f, "killed by {s} (core dumped)"),
        }
    }
}

/// Evidence that a role was blocked in the kernel during a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Blocked {
    /// `/proc/PID/stat` state letter (S or D).
    pub state: char,
    /// `/proc/PID/wchan`, the kernel function it sleeps in, where readable.
    pub wchan: String,
    /// The system call number from `/proc/PID/syscall`, where readable.
    pub syscall: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepRecord {
    pub step: usize,
    /// Microseconds since the scenario started.
    pub started_us: u64,
    pub finished_us: Option<u64>,
    pub outcome: Option<Outcome>,
    /// Set when the supervisor saw the role blocked inside this step.
    pub blocked: Option<Blocked>,
}

/// One process: a replica of a role.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InstanceTrace {
    pub role: RoleId,
    pub instance: u32,
    pub pid: i32,
    pub steps: Vec<StepRecord>,
    pub termination: Option<Termination>,
    /// The role stopped itself after an unmet expectation at this step.
    pub aborted_at: Option<usize>,
    /// A harness error inside the role (not an observation).
    pub error: Option<String>,
    /// The harness killed this process (watchdog or early stop) while it
    /// was running: how it ended says nothing about the kernel.
    #[serde(default)]
    pub killed_by_harness: bool,
}

impl InstanceTrace {
    /// The step this instance started last and did not finish.
    pub fn current_step(&self) -> Option<&StepRecord> {
        self.steps.last().filter(|s| s.outcome.is_none())
    }
}

/// Which isolation the supervisor achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// New IPC and mount namespaces, private /dev/shm and mqueue.
    Namespaces,
    /// The same, inside a new unprivileged user namespace.
    UserNamespace,
    /// No namespaces: run-unique keys and names, filtered leak scans.
    RunUnique,
}

impl Isolation {
    pub fn describe(self) -> &'static str {
        match self {
            Isolation::Namespaces => "private IPC and mount namespaces",
            Isolation::UserNamespace => "private IPC and mount namespaces inside a user namespace",
            Isolation::RunUnique => "no namespaces: run-unique keys and names",
        }
    }
}

/// An IPC object found in the kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Residue {
    pub kind: String,
    /// The object's name in the scenario, when the ledger knows it.
    pub object: Option<String>,
    /// SysV id, or -1.
    pub id: i64,
    /// SysV key, or 0.
    pub key: i64,
    /// POSIX name or path, if any.
    pub name: Option<String>,
    /// Creator pid where the kernel reports it.
    pub cpid: Option<i32>,
    /// The role whose `unshare: [ipc]` made the IPC namespace the object was
    /// created in; `None` for the run's. Such an object is never looked for,
    /// removed or judged in the run's namespace, where its id may be another
    /// object's: it dies with its own namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl std::fmt::Display for Residue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(o) = &self.object {
            write!(f, " `{o}`")?;
        }
        if self.id >= 0 {
            write!(f, " id {} key {:#x}", self.id, self.key)?;
        }
        if let Some(n) = &self.name {
            write!(f, " {n}")?;
        }
        if let Some(r) = &self.namespace {
            write!(f, " in the IPC namespace of role `{r}`")?;
        }
        Ok(())
    }
}

/// A post-condition observation.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AfterObservation {
    pub object: String,
    pub exists: bool,
    pub stat: Option<ShmStat>,
}

/// Where the roles were when the watchdog fired.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimeoutReport {
    pub after_ms: u64,
    pub stuck: Vec<Stuck>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Stuck {
    pub role: RoleId,
    pub instance: u32,
    pub step: Option<usize>,
    pub wchan: String,
}

/// Everything the supervisor recorded about one scenario run.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Trace {
    pub isolation: Isolation,
    /// Why the isolation is not the strongest, when it is not.
    #[serde(default)]
    pub isolation_note: Option<String>,
    /// What role processes wrote to standard error (the first 4 KiB), which
    /// only a harness bug or a crash makes non-empty.
    #[serde(default)]
    pub role_stderr: Option<String>,
    pub duration_us: u64,
    pub instances: Vec<InstanceTrace>,
    pub timeout: Option<TimeoutReport>,
    pub after: Vec<AfterObservation>,
    /// Objects still present after every role exited that the scenario did
    /// not declare as persisting.
    pub leaks: Vec<Residue>,
    /// Objects that were still present after the harness's own cleanup.
    pub left_after_cleanup: Vec<Residue>,
    /// Every object the ledger recorded.
    pub ledger: Vec<Residue>,
    /// The harness or environment failed (not the kernel under test).
    pub broken: Option<String>,
    /// The run could not start because a requirement failed at run time.
    pub skipped: Option<String>,
    /// The supervisor stopped the run early because this check failed.
    pub stopped_early: Option<Locator>,
}
