//! The validated plan: every name resolved to an id, every expectation
//! attached to the operation it judges, every value parsed. A `Plan` can only
//! be made by `plan::build`, so code that holds one knows it is valid.
//! Plans are serialisable because the supervisor hands them to role
//! processes.

use serde::{Deserialize, Serialize};

pub use crate::scenario::model::ObjectKind as Kind;
pub use crate::scenario::model::{
    AddressExpect, AttachAt, BadDeadline, BadDescriptor, DescriptorExpect, InfoExpect, KeyExpect, MqAttrExpect, MqStatusExpect, MsgSet,
    MsgctlCmd, MustFailCheck, NotSignalfd, PipeEnd, RaceExpect, ReceivedExpect, Rlimits, SemOp, SemctlCmd, ShmSet, ShmctlCmd, Sigev,
    SiginfoExpect, SignalTarget, SigwaitArg, SigwaitVia, StatExpect, TimeExpect, Whence,
};
pub use crate::scenario::span::Loc;

macro_rules! id {
    ($($name:ident),*) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
        pub struct $name(pub usize);
    )*};
}
id!(ObjectId, RoleId, EventId, BarrierId, FileId);

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Plan {
    /// `seed::shared_anon_fork` (with `::case` for a parameter table row).
    pub name: String,
    /// The file as shown to users.
    pub path: String,
    pub case: Option<String>,
    pub description: String,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    pub timeout_ms: u64,
    pub requires: Requirements,
    pub files: Vec<FilePlan>,
    pub objects: Vec<ObjectPlan>,
    pub roles: Vec<RolePlan>,
    pub events: Vec<String>,
    pub barriers: Vec<BarrierPlan>,
    pub after: AfterPlan,
    pub must_fail: Option<MustFailPlan>,
}

impl Plan {
    pub fn object(&self, id: ObjectId) -> &ObjectPlan {
        &self.objects[id.0]
    }
    pub fn role(&self, id: RoleId) -> &RolePlan {
        &self.roles[id.0]
    }
    /// How many behaviours the scenario asserts: steps with an explicit
    /// expectation, post-conditions, and exits the scenario states. (Calls
    /// without `expect` must succeed too, but are not counted.)
    pub fn assertions(&self) -> usize {
        let steps: usize = self.roles.iter().map(|r| r.steps.iter().filter(|s| s.expect.explicit).count()).sum();
        let exits = self.roles.iter().filter(|r| r.exit_explicit).count();
        steps + exits + self.after.exists.len() + self.after.gone.len() + self.after.stat.len()
    }

    /// Roles the supervisor starts itself: those no role spawns.
    pub fn root_roles(&self) -> impl Iterator<Item = RoleId> + '_ {
        self.roles.iter().enumerate().filter(|(_, r)| r.spawned_by.is_none()).map(|(i, _)| RoleId(i))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Requirements {
    pub root: bool,
    pub capabilities: Vec<String>,
    pub kernel: Option<(u32, u32)>,
    pub filesystems: Vec<String>,
    pub features: Vec<String>,
    pub limits: Vec<(String, u64)>,
    pub private_ipc_namespace: bool,
    /// The private `/dev/shm` must have exactly this size.
    pub dev_shm_size: Option<u64>,
    /// An object has a literal POSIX name, which is only safe in a private
    /// /dev/shm.
    pub private_dev_shm: bool,
    /// The scenario uses POSIX message queues, which the harness can scan
    /// and clean only in its own IPC namespace or through /dev/mqueue.
    pub posix_mq: bool,
    /// Some role changes credentials, which needs CAP_SETUID and CAP_SETGID
    /// and a uid map that holds the target ids.
    pub credentials: bool,
    /// Some role unshares namespaces of its own (`unshare:`), which needs
    /// CAP_SYS_ADMIN in the run's user namespace: a run that got namespaces.
    #[serde(default)]
    pub unshare: bool,
    /// Some role runs in a Docker container, which needs an image and a
    /// reachable daemon.
    #[serde(default)]
    pub containers: bool,
    /// Some role's container uses the host's IPC namespace: the run must
    /// share it (no private namespaces), so the harness sees its objects.
    #[serde(default)]
    pub host_ipc: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FilePlan {
    pub name: String,
    pub content: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ObjectPlan {
    pub name: String,
    pub spec: ObjectSpec,
    pub loc: Loc,
}

impl ObjectPlan {
    pub fn kind(&self) -> Kind {
        match self.spec {
            ObjectSpec::SysvShm { .. } => Kind::SysvShm,
            ObjectSpec::Mmap { .. } => Kind::Mmap,
            ObjectSpec::Pipe => Kind::Pipe,
            ObjectSpec::PosixShm { .. } => Kind::PosixShm,
            ObjectSpec::File { .. } => Kind::File,
            ObjectSpec::Memfd { .. } => Kind::Memfd,
            ObjectSpec::SysvSem { .. } => Kind::SysvSem,
            ObjectSpec::SysvMsg { .. } => Kind::SysvMsg,
            ObjectSpec::PosixSem { .. } => Kind::PosixSem,
            ObjectSpec::PosixMq { .. } => Kind::PosixMq,
            ObjectSpec::Fifo { .. } => Kind::Fifo,
            ObjectSpec::Signalfd => Kind::Signalfd,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub enum ObjectSpec {
    SysvShm {
        size: u64,
        key: KeyPlan,
        mode: u32,
    },
    Mmap {
        size: u64,
        shared: bool,
    },
    Pipe,
    /// A named pipe at `RunContext::object_file`.
    Fifo {
        mode: u32,
    },
    Signalfd,
    /// The POSIX name is made per run (`RunContext::names`).
    PosixShm {
        size: u64,
        mode: u32,
        name: NamePlan,
    },
    /// A file in the run folder (`RunContext::object_file`).
    File {
        size: u64,
        mode: u32,
    },
    Memfd {
        size: u64,
    },
    SysvSem {
        nsems: u32,
        key: KeyPlan,
        mode: u32,
    },
    SysvMsg {
        key: KeyPlan,
        mode: u32,
    },
    /// Named (a run-unique name, `RunContext::names`) unless `place` puts it
    /// in another object's mapping at an offset.
    PosixSem {
        place: Option<(ObjectId, u64)>,
        /// How a named one is named (unnamed ones ignore it).
        name: NamePlan,
    },
    /// The name is made per run, like a `posix_shm` object's.
    PosixMq {
        name: NamePlan,
        mode: u32,
        maxmsg: i64,
        msgsize: i64,
    },
}

/// How the supervisor names a `posix_shm` object.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub enum NamePlan {
    /// `/ipc-harness-<run>-<object>`.
    RunUnique,
    /// The run-unique name padded to this many bytes after the slash.
    Padded(usize),
    /// Exactly this text (only in a private /dev/shm).
    Literal(String),
}

impl ObjectSpec {
    /// The declared size in bytes (0 for pipes).
    pub fn size(&self) -> u64 {
        match *self {
            ObjectSpec::SysvShm { size, .. }
            | ObjectSpec::Mmap { size, .. }
            | ObjectSpec::PosixShm { size, .. }
            | ObjectSpec::File { size, .. }
            | ObjectSpec::Memfd { size } => size,
            ObjectSpec::Pipe
            | ObjectSpec::Fifo { .. }
            | ObjectSpec::Signalfd
            | ObjectSpec::SysvSem { .. }
            | ObjectSpec::SysvMsg { .. }
            | ObjectSpec::PosixSem { .. }
            | ObjectSpec::PosixMq { .. } => 0,
        }
    }

    /// How a SysV object's key is chosen (None for other kinds).
    pub fn sysv_key(&self) -> Option<&KeyPlan> {
        match self {
            ObjectSpec::SysvShm { key, .. } | ObjectSpec::SysvSem { key, .. } | ObjectSpec::SysvMsg { key, .. } => Some(key),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub enum KeyPlan {
    /// A key chosen per run by the supervisor (never one in use).
    Generated,
    Private,
    Ftok {
        file: FileId,
        proj: u8,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Start {
    Exec,
    Fork,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RolePlan {
    pub name: String,
    pub start: Start,
    pub count: u32,
    pub credentials: Option<CredentialsPlan>,
    /// Signals caught with a recording handler, without SA_RESTART.
    pub catch: Vec<String>,
    /// Signals caught with the recording handler and SA_RESTART.
    pub catch_restart: Vec<String>,
    /// Signals set to SIG_IGN.
    pub ignore: Vec<String>,
    /// Signals blocked from the start (taken with `sigwait`).
    pub block: Vec<String>,
    /// The umask the role runs with (0 unless the scenario says).
    pub umask: u32,
    /// RLIMIT_NOFILE is lowered to leave this many descriptors free.
    pub spare_descriptors: Option<u32>,
    /// Other resource limits lowered at the start.
    pub rlimits: Rlimits,
    /// Namespaces this role unshares at its start.
    #[serde(default)]
    pub unshare: Unshare,
    /// The Docker container this role runs in, if any.
    #[serde(default)]
    pub container: Option<ContainerIpc>,
    /// Where this role's IPC objects live: `None` in the run's IPC
    /// namespace, else in the one made by this role's own `unshare: [ipc]`
    /// or by the nearest role up its spawn chain (children inherit it).
    #[serde(default)]
    pub ipc_namespace: Option<RoleId>,
    /// The same for the mount namespace, which holds `/dev/shm`.
    #[serde(default)]
    pub mount_namespace: Option<RoleId>,
    pub steps: Vec<StepPlan>,
    pub exit: ExitPlan,
    pub exit_loc: Loc,
    /// Whether `exit` was written by the user or derived from the steps.
    pub exit_explicit: bool,
    pub spawned_by: Option<RoleId>,
    pub loc: Loc,
}

/// A role's container and its `--ipc` mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContainerIpc {
    Private,
    Shareable,
    /// The host's IPC namespace and /dev/shm, which the run then shares.
    Host,
    /// Joins this role's container (instance 0).
    ContainerOf(RoleId),
}

/// Namespaces a role unshares at its start (`mount` only with `ipc`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Unshare {
    pub ipc: bool,
    pub mount: bool,
}

impl Unshare {
    pub fn any(self) -> bool {
        self.ipc || self.mount
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CredentialsPlan {
    pub uid: u32,
    pub gid: u32,
    pub drop_capabilities: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExitPlan {
    Code(i32),
    KilledBy(String),
    CoreDumped(String),
}

impl std::fmt::Display for ExitPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitPlan::Code(c) => write!(f, "exit status {c}"),
            ExitPlan::KilledBy(s) => write!(f, "killed by {s}"),
            ExitPlan::CoreDumped(s) => write!(f, "killed by {s} (core dumped)"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepPlan {
    pub op: Op,
    pub expect: ExpectPlan,
    pub loc: Loc,
}

/// The operations, with names resolved.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Ftok {
        file: FileRef,
        proj: u8,
    },
    /// `flags`: IPC_CREAT, IPC_EXCL, SHM_HUGETLB and SHM_NORESERVE bits
    /// (the permission bits come from `mode` or the object).
    Shmget {
        object: ObjectId,
        flags: i32,
        size: Option<u64>,
        mode: Option<u32>,
    },
    Shmat {
        object: ObjectId,
        at: AttachAt,
        rdonly: bool,
        rnd: bool,
        remap: bool,
        /// A negative id passed instead of the object's.
        id: Option<i32>,
        /// Attach at the address of this object's mapping in this role.
        over: Option<ObjectId>,
    },
    Shmdt {
        object: ObjectId,
        offset: u64,
        unattached: bool,
    },
    Shmctl {
        object: ObjectId,
        cmd: ShmctlCmd,
        set: Option<ShmSet>,
        /// A negative id passed instead of the object's.
        id: Option<i32>,
        bad_buffer: bool,
    },
    /// `flags`: IPC_CREAT and IPC_EXCL bits.
    Semget {
        object: ObjectId,
        flags: i32,
        nsems: Option<u32>,
        mode: Option<u32>,
    },
    Semop {
        object: ObjectId,
        ops: Vec<SemOp>,
        timeout_ms: Option<u64>,
        repeat: u32,
        id: Option<i32>,
        /// Unusable addresses for the operations and the timeout.
        faults: (bool, bool),
    },
    Semctl {
        object: ObjectId,
        cmd: SemctlCmd,
        sem: u16,
        value: Option<i32>,
        values: Option<Vec<u16>>,
        set: Option<ShmSet>,
        id: Option<i32>,
        bad_buffer: bool,
    },
    /// `flags`: O_CREAT and O_EXCL bits.
    SemOpen {
        object: ObjectId,
        flags: i32,
        value: u64,
        mode: u32,
    },
    SemInit {
        object: ObjectId,
        value: u64,
    },
    SemPost {
        object: ObjectId,
        repeat: u32,
    },
    SemWait {
        object: ObjectId,
        timeout_ms: Option<u64>,
        deadline: Option<BadDeadline>,
        repeat: u32,
    },
    SemTrywait {
        object: ObjectId,
    },
    SemGetvalue {
        object: ObjectId,
    },
    SemClose {
        object: ObjectId,
    },
    SemUnlink {
        object: ObjectId,
    },
    SemDestroy {
        object: ObjectId,
    },
    /// `flags`: O_CREAT, O_EXCL, O_RDONLY/O_WRONLY/O_RDWR, O_NONBLOCK.
    MqOpen {
        object: ObjectId,
        flags: i32,
        mode: Option<u32>,
        default_attr: bool,
    },
    MqSend {
        object: ObjectId,
        data: Vec<u8>,
        prio: u32,
        timeout_ms: Option<u64>,
        deadline: Option<BadDeadline>,
        descriptor: Option<BadDescriptor>,
        bad_buffer: bool,
    },
    MqReceive {
        object: ObjectId,
        len: Option<u64>,
        timeout_ms: Option<u64>,
        deadline: Option<BadDeadline>,
        descriptor: Option<BadDescriptor>,
        bad_buffer: bool,
    },
    MqGetattr {
        object: ObjectId,
        descriptor: Option<BadDescriptor>,
    },
    /// `ignored`: mq_maxmsg, mq_msgsize and mq_curmsgs passed along.
    MqSetattr {
        object: ObjectId,
        nonblock: bool,
        ignored: (i64, i64, i64),
        descriptor: Option<BadDescriptor>,
    },
    /// `signal` for SIGEV_SIGNAL, or `sigev`; neither unregisters.
    MqNotify {
        object: ObjectId,
        signal: Option<String>,
        sigev: Option<Sigev>,
        value: i32,
        descriptor: Option<BadDescriptor>,
    },
    MqClose {
        object: ObjectId,
        descriptor: Option<BadDescriptor>,
    },
    MqStatus {
        object: ObjectId,
    },
    WaitNotification {
        timeout_ms: u64,
    },
    MqUnlink {
        object: ObjectId,
    },
    Sigwait {
        signals: Vec<String>,
        timeout_ms: u64,
        via: SigwaitVia,
        no_info: bool,
        bad_address: Option<SigwaitArg>,
        signalfd: Option<ObjectId>,
    },
    Handled {
        signal: Option<String>,
    },
    TakePending {
        signals: Vec<String>,
    },
    Msgget {
        object: ObjectId,
        flags: i32,
        mode: Option<u32>,
    },
    Msgsnd {
        object: ObjectId,
        mtype: i64,
        data: Vec<u8>,
        nowait: bool,
        id: Option<i32>,
        bad_buffer: bool,
        /// A negative msgsz, passed with an unusable buffer.
        msgsz: Option<i64>,
    },
    /// `flags`: IPC_NOWAIT, MSG_EXCEPT, MSG_NOERROR, MSG_COPY bits.
    Msgrcv {
        object: ObjectId,
        msgtyp: i64,
        len: u64,
        flags: i32,
        id: Option<i32>,
        bad_buffer: bool,
        /// A negative msgsz, passed with an unusable buffer.
        msgsz: Option<i64>,
    },
    Msgctl {
        object: ObjectId,
        cmd: MsgctlCmd,
        set: Option<MsgSet>,
        id: Option<i32>,
        bad_buffer: bool,
    },
    /// `back`: the POSIX semaphore or queue replies travel on.
    PingPong {
        object: ObjectId,
        back: Option<ObjectId>,
        rounds: u32,
        first: bool,
    },
    SendNumbered {
        object: ObjectId,
        messages: u32,
        mtype: Option<i64>,
        prio: u32,
    },
    /// `alone`: the only consumer (the role has one replica), so it must
    /// see every producer's messages without gaps.
    ReceiveNumbered {
        object: ObjectId,
        messages: u32,
        per_producer: u32,
        alone: bool,
    },
    Mprotect {
        object: ObjectId,
        offset: u64,
        len: u64,
        prot: i32,
    },
    /// Write `value`, or read the sysctl when there is none.
    Sysctl {
        name: String,
        value: Option<String>,
    },
    Mmap {
        object: ObjectId,
        over: Option<ObjectId>,
        noreplace: bool,
    },
    Munmap {
        object: ObjectId,
    },
    Pipe {
        object: ObjectId,
        /// O_CLOEXEC, O_NONBLOCK and O_DIRECT as pipe2(2) takes them.
        flags: i32,
        bad_buffer: bool,
    },
    Mkfifo {
        object: ObjectId,
        mode: Option<u32>,
    },
    Signalfd {
        object: ObjectId,
        signals: Vec<String>,
        /// SFD_CLOEXEC and SFD_NONBLOCK, or -1.
        flags: i32,
        descriptor: Option<NotSignalfd>,
    },
    Fcntl {
        object: ObjectId,
        end: Option<PipeEnd>,
    },
    PipeSize {
        object: ObjectId,
        end: Option<PipeEnd>,
        set: Option<u64>,
    },
    Fionread {
        object: ObjectId,
        end: Option<PipeEnd>,
    },
    Lseek {
        object: ObjectId,
        end: Option<PipeEnd>,
        whence: Whence,
        offset: i64,
    },
    /// `splice(2)`, or `tee(2)` when `tee`.
    Splice {
        from: ObjectId,
        to: ObjectId,
        len: u64,
        nonblock: bool,
        tee: bool,
    },
    Close {
        object: ObjectId,
        end: Option<PipeEnd>,
    },
    ShmOpen {
        object: ObjectId,
        flags: OpenFlags,
        mode: Option<u32>,
    },
    Ftruncate {
        object: ObjectId,
        size: Option<u64>,
    },
    Fallocate {
        object: ObjectId,
        size: Option<u64>,
    },
    Fstat {
        object: ObjectId,
    },
    ShmUnlink {
        object: ObjectId,
    },
    Open {
        object: ObjectId,
        flags: OpenFlags,
        mode: Option<u32>,
    },
    Unlink {
        object: ObjectId,
    },
    MemfdCreate {
        object: ObjectId,
        cloexec: bool,
    },
    Msync {
        object: ObjectId,
        flags: i32,
    },
    /// `via_descriptor`: pwrite(2)/pread(2) instead of the mapping.
    Write {
        object: ObjectId,
        data: Vec<u8>,
        offset: u64,
        stride: u64,
        via_descriptor: bool,
        /// Pipes and FIFOs: the descriptor used, when not the write end.
        end: Option<PipeEnd>,
    },
    Fill {
        object: ObjectId,
        len: u64,
        offset: u64,
        byte: u8,
    },
    Read {
        object: ObjectId,
        len: u64,
        offset: u64,
        stride: u64,
        all: bool,
        via_descriptor: bool,
        /// Pipes and FIFOs: the descriptor used, when not the read end.
        end: Option<PipeEnd>,
    },
    Publish {
        object: ObjectId,
        records: u64,
        offset: u64,
        fill_after_publish: bool,
    },
    Consume {
        object: ObjectId,
        records: u64,
        offset: u64,
    },
    /// `writers`: how many replicas share the blocks (this role's count).
    Stress {
        object: ObjectId,
        rounds: u32,
        writers: u32,
    },
    CheckPattern {
        object: ObjectId,
        round: u32,
    },
    Append {
        object: ObjectId,
        records: u32,
        size: u32,
        chunks: u32,
        guard: Option<ObjectId>,
    },
    CheckRecords {
        object: ObjectId,
        records: u32,
        size: u32,
    },
    Signal {
        event: EventId,
    },
    Wait {
        event: EventId,
        count: u32,
    },
    Barrier {
        barrier: BarrierId,
    },
    WaitBlocked {
        role: RoleId,
        /// Replicas `instance..until` (one, unless `all`).
        instance: u32,
        until: u32,
        stopped: bool,
    },
    Spawn {
        role: RoleId,
    },
    /// `kill`, `sigqueue` or `pidfd_send_signal` from the role itself.
    SendSignal {
        how: SendHow,
        to: SendTo,
        /// A name, or a number passed as it is.
        signal: String,
        value: Option<i32>,
        repeat: u32,
    },
    /// Replace this process's image; the new one resumes after `step`.
    Exec {
        step: usize,
    },
    WaitExit {
        role: RoleId,
    },
    Exit {
        code: i32,
    },
    Crash {
        signal: String,
    },
}

impl Op {
    /// Whether the step makes an IPC system call under test, as opposed to
    /// synchronising with other roles or starting, waiting for or ending
    /// processes (which block in the harness, not in the call under test).
    pub fn is_ipc_call(&self) -> bool {
        !matches!(
            self,
            Op::Signal { .. }
                | Op::Wait { .. }
                | Op::Barrier { .. }
                | Op::WaitBlocked { .. }
                | Op::Spawn { .. }
                | Op::Exec { .. }
                | Op::WaitExit { .. }
                | Op::Exit { .. }
                | Op::Crash { .. }
        )
    }

    /// The object this step may create in a namespace's tables: a SysV
    /// `get` with IPC_CREAT or of an IPC_PRIVATE key, or a POSIX `open`
    /// with O_CREAT.
    pub fn may_create(&self, objects: &[ObjectPlan]) -> Option<ObjectId> {
        let private = |o: &ObjectId| matches!(objects.get(o.0).and_then(|p| p.spec.sysv_key()), Some(KeyPlan::Private));
        match self {
            Op::Shmget { object, flags, .. } | Op::Semget { object, flags, .. } | Op::Msgget { object, flags, .. } => {
                (flags & libc::IPC_CREAT != 0 || private(object)).then_some(*object)
            }
            Op::SemOpen { object, flags, .. } | Op::MqOpen { object, flags, .. } => (flags & libc::O_CREAT != 0).then_some(*object),
            Op::ShmOpen { object, flags, .. } => flags.create.then_some(*object),
            _ => None,
        }
    }

    /// The name of the operation as written in YAML.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Ftok { .. } => "ftok",
            Op::Shmget { .. } => "shmget",
            Op::Shmat { .. } => "shmat",
            Op::Shmdt { .. } => "shmdt",
            Op::Mprotect { .. } => "mprotect",
            Op::Semget { .. } => "semget",
            Op::Semop { .. } => "semop",
            Op::Semctl { .. } => "semctl",
            Op::SemOpen { .. } => "sem_open",
            Op::SemInit { .. } => "sem_init",
            Op::SemPost { .. } => "sem_post",
            Op::SemWait { .. } => "sem_wait",
            Op::SemTrywait { .. } => "sem_trywait",
            Op::SemGetvalue { .. } => "sem_getvalue",
            Op::SemClose { .. } => "sem_close",
            Op::SemUnlink { .. } => "sem_unlink",
            Op::SemDestroy { .. } => "sem_destroy",
            Op::MqOpen { .. } => "mq_open",
            Op::MqSend { .. } => "mq_send",
            Op::MqReceive { .. } => "mq_receive",
            Op::MqGetattr { .. } => "mq_getattr",
            Op::MqSetattr { .. } => "mq_setattr",
            Op::MqNotify { .. } => "mq_notify",
            Op::MqClose { .. } => "mq_close",
            Op::MqUnlink { .. } => "mq_unlink",
            Op::MqStatus { .. } => "mq_status",
            Op::WaitNotification { .. } => "wait_notification",
            Op::Sigwait { .. } => "sigwait",
            Op::Msgget { .. } => "msgget",
            Op::Msgsnd { .. } => "msgsnd",
            Op::Msgrcv { .. } => "msgrcv",
            Op::Msgctl { .. } => "msgctl",
            Op::PingPong { .. } => "ping_pong",
            Op::SendNumbered { .. } => "send_numbered",
            Op::ReceiveNumbered { .. } => "receive_numbered",
            Op::Shmctl { .. } => "shmctl",
            Op::Sysctl { .. } => "sysctl",
            Op::Mmap { .. } => "mmap",
            Op::Munmap { .. } => "munmap",
            Op::Pipe { .. } => "pipe",
            Op::Mkfifo { .. } => "mkfifo",
            Op::Signalfd { .. } => "signalfd",
            Op::Fcntl { .. } => "fcntl",
            Op::PipeSize { .. } => "pipe_size",
            Op::Fionread { .. } => "fionread",
            Op::Lseek { .. } => "lseek",
            Op::Splice { tee: false, .. } => "splice",
            Op::Splice { tee: true, .. } => "tee",
            Op::Close { .. } => "close",
            Op::ShmOpen { .. } => "shm_open",
            Op::Ftruncate { .. } => "ftruncate",
            Op::Fallocate { .. } => "fallocate",
            Op::Fstat { .. } => "fstat",
            Op::ShmUnlink { .. } => "shm_unlink",
            Op::Open { .. } => "open",
            Op::Unlink { .. } => "unlink",
            Op::MemfdCreate { .. } => "memfd_create",
            Op::Msync { .. } => "msync",
            Op::Write { .. } => "write",
            Op::Fill { .. } => "fill",
            Op::Read { .. } => "read",
            Op::Publish { .. } => "publish",
            Op::Consume { .. } => "consume",
            Op::Stress { .. } => "stress",
            Op::CheckPattern { .. } => "check_pattern",
            Op::Append { .. } => "append",
            Op::CheckRecords { .. } => "check_records",
            Op::Signal { .. } => "signal",
            Op::Wait { .. } => "wait",
            Op::Barrier { .. } => "barrier",
            Op::WaitBlocked { .. } => "wait_blocked",
            Op::Spawn { .. } => "spawn",
            Op::Exec { .. } => "exec",
            Op::SendSignal { how: SendHow::Kill, .. } => "kill",
            Op::SendSignal { how: SendHow::Sigqueue, .. } => "sigqueue",
            Op::SendSignal { how: SendHow::Pidfd, .. } => "pidfd_send_signal",
            Op::SendSignal { how: SendHow::Tkill, .. } => "tkill",
            Op::SendSignal { how: SendHow::Tgkill, .. } => "tgkill",
            Op::Handled { .. } => "handled",
            Op::TakePending { .. } => "take_pending",
            Op::WaitExit { .. } => "wait_exit",
            Op::Exit { .. } => "exit",
            Op::Crash { .. } => "crash",
        }
    }
}

/// Bytes of a `data` template for one replica: `$instance` becomes its
/// number.
pub fn for_instance(data: &[u8], instance: u32) -> Vec<u8> {
    const TOKEN: &[u8] = b"$instance";
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    while let Some(i) = rest.windows(TOKEN.len()).position(|w| w == TOKEN) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(instance.to_string().as_bytes());
        rest = &rest[i + TOKEN.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// The byte offset a replica uses.
pub fn offset_for(offset: u64, stride: u64, instance: u32) -> u64 {
    offset + stride * u64::from(instance)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum SendHow {
    Kill,
    Sigqueue,
    Pidfd,
    Tkill,
    Tgkill,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum SendTo {
    Role { role: RoleId, instance: u32 },
    Target(SignalTarget),
}

/// The flags of `shm_open` and `open`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OpenFlags {
    pub create: bool,
    pub excl: bool,
    pub rdonly: bool,
    pub trunc: bool,
    /// FIFOs only.
    pub wronly: bool,
    pub rdwr: bool,
    pub nonblock: bool,
}

impl OpenFlags {
    pub fn of(flags: &[crate::scenario::span::Sp<crate::scenario::model::ShmOpenFlag>]) -> OpenFlags {
        use crate::scenario::model::ShmOpenFlag as F;
        let has = |f: F| flags.iter().any(|x| **x == f);
        OpenFlags {
            create: has(F::Create),
            excl: has(F::Excl),
            rdonly: has(F::Rdonly),
            trunc: has(F::Trunc),
            wronly: has(F::Wronly),
            rdwr: has(F::Rdwr),
            nonblock: has(F::Nonblock),
        }
    }

    /// The open(2) flags of a FIFO: the access mode as given (`[wronly,
    /// rdwr]` passes 3), no close-on-exec (an exec'd image inherits the
    /// descriptor, as with `open(2)`).
    pub fn fifo_oflag(self) -> i32 {
        let access = match (self.wronly, self.rdwr) {
            (true, true) => 3,
            (true, false) => libc::O_WRONLY,
            (false, true) => libc::O_RDWR,
            (false, false) => libc::O_RDONLY,
        };
        access | if self.nonblock { libc::O_NONBLOCK } else { 0 }
    }

    /// The open(2) flags, always close-on-exec (POSIX shm_open sets it too).
    pub fn oflag(self) -> nix::fcntl::OFlag {
        use nix::fcntl::OFlag;
        let mut f = if self.rdonly { OFlag::O_RDONLY } else { OFlag::O_RDWR };
        f.set(OFlag::O_CREAT, self.create);
        f.set(OFlag::O_EXCL, self.excl);
        f.set(OFlag::O_TRUNC, self.trunc);
        f | OFlag::O_CLOEXEC
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub enum FileRef {
    Declared(FileId),
    /// A name that is not in `files`: the path does not exist.
    Missing(String),
}

/// What a step must observe. The default is "the call succeeds".
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExpectPlan {
    pub errno: Option<String>,
    pub value: Option<i64>,
    pub value_at_least: Option<i64>,
    pub data: Option<Vec<u8>>,
    pub eof: Option<bool>,
    pub stat: Option<StatExpect>,
    pub address: Option<AddressExpect>,
    pub info: Option<InfoExpect>,
    pub mapped_as: Option<String>,
    pub same_frame_as: Option<String>,
    /// Another role's `same_frame_as` compares with this mapping's frame:
    /// record it (touching the first page).
    pub record_frame: bool,
    pub killed_by: Option<String>,
    pub blocks: bool,
    pub descriptor: Option<DescriptorExpect>,
    pub values: Option<Vec<i64>>,
    pub mtype: Option<i64>,
    pub prio: Option<u32>,
    pub attr: Option<MqAttrExpect>,
    pub siginfo: Option<SiginfoExpect>,
    pub received: Option<Vec<ReceivedExpect>>,
    pub mq_status: Option<MqStatusExpect>,
    pub pid_of: Option<String>,
    pub waited_at_least_ms: Option<u64>,
    pub waited_at_most_ms: Option<u64>,
    /// Judged across the role's replicas: this many succeed, the rest fail
    /// with this errno.
    pub race: Option<RaceExpect>,
    /// Whether the user wrote any expectation (for the falsifiability rule).
    pub explicit: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BarrierPlan {
    pub name: String,
    pub parties: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AfterPlan {
    pub exists: Vec<(ObjectId, Loc)>,
    pub gone: Vec<(ObjectId, Loc)>,
    pub stat: Vec<(ObjectId, StatExpect, Loc)>,
}

impl AfterPlan {
    pub fn is_empty(&self) -> bool {
        self.exists.is_empty() && self.gone.is_empty() && self.stat.is_empty()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MustFailPlan {
    pub because: String,
    pub at: Locator,
}

/// A place in a scenario where a check is made; verdict failures carry one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Locator {
    /// Step `step` (0-based) of a role.
    Step { role: String, step: usize },
    /// How the role ended.
    Exit { role: String },
    /// A post-condition, a leak, or the watchdog.
    Check(MustFailCheck),
}

impl std::fmt::Display for Locator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Locator::Step { role, step } => write!(f, "role `{role}` step {}", step + 1),
            Locator::Exit { role } => write!(f, "role `{role}` exit"),
            Locator::Check(c) => {
                write!(f, "{}", serde_json::to_value(c).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_templates_expand_per_replica() {
        assert_eq!(for_instance(b"slot-$instance/$instance", 12), b"slot-12/12");
        assert_eq!(for_instance(b"no token $inst", 3), b"no token $inst");
        assert_eq!(offset_for(4, 8, 3), 28);
    }
}
