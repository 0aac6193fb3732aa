//! The scenario file format, exactly as users write it in YAML.
//!
//! These types only describe shape: names are still strings and nothing is
//! resolved or checked beyond what serde enforces (`deny_unknown_fields`
//! everywhere, tagged enums, no free-form maps of operations). Validation
//! and name resolution belong to `plan`. The JSON Schema published for
//! editors is generated from these types.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::span::Sp;

/// One scenario file: a multi-process choreography over Linux IPC.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioDoc {
    /// What behaviour this scenario demonstrates, in one or two sentences.
    pub description: Sp<String>,
    /// Free tags used for selection (`run --tag seed`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Man pages, standards and kernel commits that define the behaviour.
    #[serde(default)]
    pub references: Vec<String>,
    /// What the environment must provide; an unmet requirement is a SKIP.
    #[serde(default)]
    pub requires: Requires,
    /// Wall-clock bound for the whole scenario, e.g. `10s` or `500ms`
    /// (default 10s, at most 300s). The watchdog kills every role after it.
    #[serde(default)]
    pub timeout: Option<Sp<String>>,
    /// Regular files the harness creates in the run's private directory
    /// before any role starts (for example to derive a key with `ftok`).
    #[serde(default)]
    pub files: IndexMap<Sp<String>, Sp<FileDecl>>,
    /// The IPC objects, declared once by name.
    #[serde(default)]
    pub objects: IndexMap<Sp<String>, Sp<ObjectDecl>>,
    /// A parameter table: each entry is one case, with a `name` and values;
    /// `$column` in the rest of the file is replaced by the case's value.
    #[serde(default)]
    pub cases: Vec<Sp<IndexMap<String, ParamValue>>>,
    /// The processes. Roles that no other role spawns are started by the
    /// supervisor, in declaration order.
    pub roles: IndexMap<Sp<String>, Sp<RoleDecl>>,
    /// Post-conditions checked by the supervisor after every role exited.
    #[serde(default)]
    pub after: Option<Sp<After>>,
    /// Marks a negative test: the scenario must FAIL at this place.
    #[serde(default)]
    pub must_fail: Option<Sp<MustFail>>,
}

/// A value in a parameter table.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ParamValue {
    Int(i64),
    Bool(bool),
    Text(String),
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Requires {
    /// The harness must run with effective uid 0.
    #[serde(default)]
    pub root: bool,
    /// Capabilities that must be in the effective set, e.g. `CAP_IPC_OWNER`.
    #[serde(default)]
    pub capabilities: Vec<Sp<String>>,
    /// Minimum kernel release, `major.minor`.
    #[serde(default)]
    pub kernel: Option<Sp<String>>,
    /// File systems the kernel must support (`/proc/filesystems`), e.g. `mqueue`.
    #[serde(default)]
    pub filesystems: Vec<Sp<String>>,
    /// Kernel features probed at run time: `sysv_ipc`, `posix_mqueue`.
    #[serde(default)]
    pub features: Vec<Sp<String>>,
    /// Minimum values of IPC limits, by sysctl name (`kernel.shmmni: 128`).
    #[serde(default)]
    pub limits: IndexMap<Sp<String>, Sp<u64>>,
    /// The scenario needs its own IPC namespace (for example because it
    /// lowers a limit); without one it is skipped.
    #[serde(default)]
    pub private_ipc_namespace: bool,
    /// Run with a private `/dev/shm` of exactly this many bytes (a tmpfs
    /// `size=`), to reach its capacity without touching the host's; without
    /// a private mount namespace the scenario is skipped.
    #[serde(default)]
    pub dev_shm_size: Option<Sp<u64>>,
}

/// A file created before the run, empty unless `content` is given.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileDecl {
    #[serde(default)]
    pub content: String,
}

/// An IPC object: `kind` selects the mechanism, the other fields are its
/// parameters (each kind takes only some of them; validation says which).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectDecl {
    pub kind: Sp<ObjectKind>,
    /// Size in bytes (`sysv_shm`, `mmap`, `posix_shm`).
    #[serde(default)]
    pub size: Option<Sp<u64>>,
    /// `sysv_shm`: how the key is chosen: `generated` (a run-unique key, the
    /// default), `private` (IPC_PRIVATE), or `{ ftok: { file, proj } }`.
    #[serde(default)]
    pub key: Option<Sp<KeySpec>>,
    /// `sysv_shm`, `posix_shm`: permission bits used when a role creates
    /// it, in octal (`0o600`, the default).
    #[serde(default)]
    pub mode: Option<Sp<u32>>,
    /// `mmap`: `shared` (MAP_SHARED, the default) or `private` (MAP_PRIVATE).
    #[serde(default)]
    pub sharing: Option<Sp<Sharing>>,
    /// `posix_sem`: an unnamed semaphore at this place of a shared mapping
    /// (made with `sem_init`); without it the semaphore is named.
    #[serde(default)]
    pub r#in: Option<Sp<PlaceDecl>>,
    /// `posix_mq`: the queue's capacity in messages (mq_maxmsg, default 10).
    #[serde(default)]
    pub maxmsg: Option<Sp<i64>>,
    /// `posix_mq`: the largest message in bytes (mq_msgsize, default 64).
    #[serde(default)]
    pub msgsize: Option<Sp<i64>>,
    /// `sysv_sem`: the number of semaphores in the set (default 1).
    #[serde(default)]
    pub nsems: Option<Sp<u32>>,
    /// `posix_shm`: the name passed to `shm_open` (default: a run-unique
    /// name). `{ length: N }` pads the run-unique name to N bytes after the
    /// slash; `{ text: "/a/b" }` is used as written, which needs a private
    /// `/dev/shm` (a literal name could be another program's object).
    #[serde(default)]
    pub name: Option<Sp<NameSpec>>,
}

/// Where in another object's mapping something lives.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceDecl {
    pub object: Sp<String>,
    /// Bytes from the start of the mapping (a multiple of 32).
    #[serde(default)]
    pub offset: u64,
}

/// How a `posix_shm` object's name is made.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum NameSpec {
    /// The run-unique name, padded with `x` to this many bytes after the
    /// leading slash (NAME_MAX is 255).
    Length(u32),
    /// Exactly this text, for names that are invalid or unusual.
    Text(String),
}

/// Which IPC mechanism an object is: the one vocabulary of YAML, modules
/// and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// A System V shared memory segment (`shmget(2)`).
    SysvShm,
    /// An anonymous memory mapping (`mmap(2)` with MAP_ANONYMOUS).
    Mmap,
    /// An anonymous pipe (`pipe(2)`): a read end and a write end.
    Pipe,
    /// A POSIX shared memory object (`shm_open(3)`), named per run.
    PosixShm,
    /// A regular file in the run's private folder, mapped MAP_SHARED: its
    /// data stays in the file after every process exited.
    File,
    /// An anonymous file (`memfd_create(2)`): shared by inheriting its
    /// descriptor, through fork and (without `cloexec`) through exec.
    Memfd,
    /// A System V semaphore set (`semget(2)`).
    SysvSem,
    /// A System V message queue (`msgget(2)`).
    SysvMsg,
    /// A POSIX semaphore: named (`sem_open(3)`, a run-unique name), or
    /// unnamed inside shared memory (`in:`, made with `sem_init(3)`).
    PosixSem,
    /// A POSIX message queue (`mq_open(3)`), named per run.
    PosixMq,
    /// A named pipe (`mkfifo(3)`) in the run's private folder: opened by
    /// path, so unrelated processes can use it; its node outlives them.
    Fifo,
    /// A signalfd(2) descriptor, made (or given a new mask) by the
    /// `signalfd` step and read by `sigwait: { signalfd: object }`.
    Signalfd,
}

impl ObjectKind {
    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::SysvShm => "sysv_shm",
            ObjectKind::Mmap => "mmap",
            ObjectKind::Pipe => "pipe",
            ObjectKind::PosixShm => "posix_shm",
            ObjectKind::File => "file",
            ObjectKind::Memfd => "memfd",
            ObjectKind::SysvSem => "sysv_sem",
            ObjectKind::SysvMsg => "sysv_msg",
            ObjectKind::PosixSem => "posix_sem",
            ObjectKind::PosixMq => "posix_mq",
            ObjectKind::Fifo => "fifo",
            ObjectKind::Signalfd => "signalfd",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum KeySpec {
    #[default]
    Generated,
    Private,
    Ftok {
        /// A name from `files`.
        file: Sp<String>,
        /// The project id, one character (the seed uses `R`).
        proj: Sp<String>,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sharing {
    #[default]
    Shared,
    Private,
}

/// A process of the choreography.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleDecl {
    /// `exec` (a fresh image of the harness, the default) or `fork` (a copy
    /// of the role that spawns it, inheriting its mappings and descriptors).
    #[serde(default)]
    pub from: Start,
    /// Number of replicas (default 1).
    #[serde(default)]
    pub count: Option<Sp<u32>>,
    /// Run with other credentials, so that permission checks are possible
    /// when the harness runs as root.
    #[serde(default)]
    pub credentials: Option<Sp<Credentials>>,
    /// The file mode creation mask, in octal (default 0: modes in scenarios
    /// are exact). `shm_open`, `open` and `mkfifo` clear its bits.
    #[serde(default)]
    pub umask: Option<Sp<u32>>,
    /// Signals this role blocks from the start, to take them with `sigwait`
    /// (so they never run their default action).
    #[serde(default)]
    pub block: Vec<Sp<String>>,
    /// Signals this role catches with an SA_SIGINFO handler that only
    /// records what arrived (see `handled`), installed without SA_RESTART:
    /// a blocked call they interrupt fails with EINTR (other signals keep
    /// their default action).
    #[serde(default)]
    pub catch: Vec<Sp<String>>,
    /// The same handler installed with SA_RESTART: calls that restart
    /// (read(2) on a pipe) go on; others still fail with EINTR (signal(7)).
    #[serde(default)]
    pub catch_restart: Vec<Sp<String>>,
    /// Signals set to SIG_IGN at the start.
    #[serde(default)]
    pub ignore: Vec<Sp<String>>,
    /// Lower RLIMIT_NOFILE at the start so that only this many more
    /// descriptors can be opened (the next one fails with EMFILE).
    #[serde(default)]
    pub spare_descriptors: Option<Sp<u32>>,
    /// Lower resource limits at the start (soft and hard), e.g.
    /// `{ msgqueue: 1024 }` for RLIMIT_MSGQUEUE. Lowering needs no privilege.
    #[serde(default)]
    pub rlimits: Option<Sp<Rlimits>>,
    /// Namespaces the role leaves for new ones at its start, before its
    /// first step (unshare(2)): `[ipc]` gives it System V tables, POSIX
    /// message queues and IPC sysctls of its own, at the kernel's defaults;
    /// `[ipc, mount]` also a private `/dev/shm` (and mqueue mount). Roles it
    /// spawns inherit them. Needs namespaces (CAP_SYS_ADMIN in the run's
    /// user namespace): without them the scenario is skipped.
    #[serde(default)]
    pub unshare: Vec<Sp<Namespace>>,
    /// Run this role in a Docker container of its own, from the image
    /// `IPC_HARNESS_IMAGE` names (`scripts/build-static --image TAG`), with
    /// the IPC mode Docker calls `--ipc`: `private`, `shareable`, or
    /// `{ container_of: ROLE }` to join that role's (shareable) container's
    /// IPC namespace and /dev/shm. Without an image and a Docker daemon the
    /// scenario is skipped.
    #[serde(default)]
    pub container: Option<Sp<ContainerDecl>>,
    pub steps: Vec<Sp<Step>>,
    /// How the role must end (default: exit status 0, or what its last
    /// `exit`/`crash` step or `killed_by` expectation implies).
    #[serde(default)]
    pub exit: Option<Sp<ExitExpect>>,
}

/// Resource limits a role lowers at its start; see getrlimit(2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rlimits {
    /// RLIMIT_MSGQUEUE: bytes of POSIX message queues the real uid may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msgqueue: Option<u64>,
    /// RLIMIT_SIGPENDING: signals that may be queued to the real uid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigpending: Option<u64>,
    /// RLIMIT_CORE: the largest core file (raised up to the hard limit).
    /// Without it a role runs with 0: no core files, unless a scenario asks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core: Option<u64>,
}

/// Where a role's container gets its IPC namespace (docker-run(1) `--ipc`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContainerDecl {
    pub ipc: ContainerIpc,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContainerIpc {
    /// `--ipc=private`: its own IPC namespace and /dev/shm, shared with no one.
    Private,
    /// `--ipc=shareable`: its own, which other containers may join.
    Shareable,
    /// `--ipc=host`: the host's IPC namespace and /dev/shm. The run then
    /// shares the host's too (run-unique names, as `--isolation none`), so
    /// that the harness can scan and clean what the role makes there.
    Host,
    /// `--ipc=container:NAME`: the IPC namespace and /dev/shm of this
    /// role's container, which must be `shareable`.
    ContainerOf(Sp<String>),
}

/// A namespace a role can unshare (namespaces(7)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Namespace {
    /// CLONE_NEWIPC: System V objects, POSIX message queues and the IPC
    /// sysctls (ipc_namespaces(7)).
    Ipc,
    /// CLONE_NEWNS, with a private tmpfs on `/dev/shm` (where POSIX shared
    /// memory and named semaphores live) and the new IPC namespace's
    /// mqueue file system where the run shows queues.
    Mount,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Start {
    #[default]
    Exec,
    Fork,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    /// Drop every capability as well (only meaningful for uid 0).
    #[serde(default)]
    pub drop_capabilities: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ExitExpect {
    /// Exit status from `exit(2)`.
    Code(i32),
    /// Terminated by this signal, e.g. `SIGSEGV`, without a core dump.
    KilledBy(Sp<String>),
    /// Terminated by this signal with a core dump (WCOREDUMP), e.g.
    /// `SIGQUIT` with `rlimits: { core: ... }`.
    CoreDumped(Sp<String>),
}

/// One operation of a role. Exactly one key per step.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// `ftok(3)` on a file from `files` (or a name that is not one, to see ENOENT).
    Ftok(FtokArgs),
    /// `shmget(2)`: create or look up the segment of an object.
    Shmget(ShmgetArgs),
    /// `shmat(2)`: attach the object's segment.
    Shmat(ShmatArgs),
    /// `shmdt(2)`: detach this role's attachment of the object.
    Shmdt(ShmdtArgs),
    /// `shmctl(2)`.
    Shmctl(ShmctlArgs),
    /// `semget(2)`: create or look up the semaphore set of an object.
    Semget(SemgetArgs),
    /// `semop(2)`, or `semtimedop(2)` with `timeout`: the operations are
    /// applied together, all or none.
    Semop(SemopArgs),
    /// `semctl(2)`.
    Semctl(SemctlArgs),
    /// `sem_open(3)` of a named `posix_sem`.
    SemOpen(SemOpenArgs),
    /// `sem_init(3)` of an unnamed `posix_sem` in shared memory (pshared 1).
    SemInit(SemInitArgs),
    /// `sem_post(3)` (`repeat: N` posts N times).
    SemPost(SemPostArgs),
    /// `sem_wait(3)`, or `sem_timedwait(3)` with `timeout`.
    SemWait(SemWaitArgs),
    /// `sem_trywait(3)`: EAGAIN instead of blocking.
    SemTrywait(ObjectArgs),
    /// `sem_getvalue(3)`: the value is the semaphore's.
    SemGetvalue(ObjectArgs),
    /// `sem_close(3)` of a named semaphore.
    SemClose(ObjectArgs),
    /// `sem_unlink(3)`: remove the name; open handles stay valid.
    SemUnlink(ObjectArgs),
    /// `sem_destroy(3)` of an unnamed semaphore.
    SemDestroy(ObjectArgs),
    /// `mq_open(3)` of a `posix_mq` object.
    MqOpen(MqOpenArgs),
    /// `mq_send(3)`, or `mq_timedsend(3)` with `timeout`.
    MqSend(MqSendArgs),
    /// `mq_receive(3)`, or `mq_timedreceive(3)` with `timeout`: the value is
    /// the length, `data` the text, `prio` the priority.
    MqReceive(MqReceiveArgs),
    /// `mq_getattr(3)` (`expect: { attr }`).
    MqGetattr(MqArgs),
    /// `mq_setattr(3)`: set or clear O_NONBLOCK (`expect: { attr }` compares
    /// the old attributes it reports).
    MqSetattr(MqSetattrArgs),
    /// `mq_notify(3)`: ask for `signal` (with `value` in si_value) when a
    /// message arrives on the empty queue, or another `sigev`; with neither,
    /// unregister.
    MqNotify(MqNotifyArgs),
    /// `mq_close(3)`.
    MqClose(MqArgs),
    /// Read the queue's file in the mqueue file system (`QSIZE:`, `NOTIFY:`,
    /// `SIGNO:`, `NOTIFY_PID:`; `expect: { mq_status }`).
    MqStatus(ObjectArgs),
    /// Wait for the SIGEV_THREAD notification of an `mq_notify` with
    /// `sigev: thread`: the value is the sigev_value it was given (EAGAIN
    /// after `timeout`, default 1s).
    WaitNotification(WaitNotificationArgs),
    /// `mq_unlink(3)`: remove the name; open descriptors stay valid.
    MqUnlink(ObjectArgs),
    /// Wait for a signal the role blocks (`block:`), with `sigtimedwait(2)`
    /// or another `via`: the value is the si_value it carries (EAGAIN at
    /// the timeout), and `expect: { siginfo }` compares the rest.
    Sigwait(SigwaitArgs),
    /// `sigqueue(3)`: a signal with a value (si_code SI_QUEUE).
    Sigqueue(SendSignalArgs),
    /// `pidfd_send_signal(2)` through a pidfd of the target (with `value`,
    /// a siginfo with SI_QUEUE; without, none: SI_USER).
    PidfdSendSignal(SendSignalArgs),
    /// `tkill(2)` of the target role's only thread (si_code SI_TKILL).
    Tkill(SendSignalArgs),
    /// `tgkill(2)` of the target role's only thread, in its own thread group.
    Tgkill(SendSignalArgs),
    /// The signals this role's `catch` handlers recorded so far, in order
    /// (of `signal` only, if given): the value is how many, `expect: {
    /// received }` compares them.
    Handled(HandledArgs),
    /// Take every pending signal of `signals` (which the role blocks), with
    /// `sigtimedwait(2)` and no wait, in the order the kernel delivers them:
    /// the value is how many, `expect: { received }` compares them.
    TakePending(TakePendingArgs),
    /// `msgget(2)`: create or look up the message queue of an object.
    Msgget(MsggetArgs),
    /// `msgsnd(2)`: queue one message.
    Msgsnd(MsgsndArgs),
    /// `msgrcv(2)`: take one message (the value is its length).
    Msgrcv(MsgrcvArgs),
    /// `msgctl(2)`.
    Msgctl(MsgctlArgs),
    /// Ping-pong between two roles for `rounds` rounds: on a `sysv_sem` set
    /// of at least 2, `first` posts semaphore 0 and waits on 1, `second`
    /// the other way round, and each checks after its wait that the other's
    /// semaphore is back at 0 (strict alternation); on a `sysv_msg` queue,
    /// `first` sends type 1 and receives type 2, each checking the round
    /// number carried. The value counts the violations.
    PingPong(PingPongArgs),
    /// Send `messages` numbered messages (`p<instance>-<n>`) with msgsnd,
    /// each of type `mtype` (default: the replica's number plus 1).
    SendNumbered(SendNumberedArgs),
    /// Receive `messages` messages with msgrcv (blocking, any type) and
    /// check that each producer's arrive once each and in the order sent,
    /// then that nothing more is queued. The value counts the violations;
    /// the report says how many messages it examined.
    ReceiveNumbered(ReceiveNumberedArgs),
    /// `mmap(2)` of an `mmap` object.
    Mmap(MmapArgs),
    /// `munmap(2)` of an `mmap` object.
    Munmap(ObjectArgs),
    /// `mprotect(2)` of part of this role's mapping or attachment.
    Mprotect(MprotectArgs),
    /// `pipe2(2)` for a `pipe` object: `flags: [cloexec, nonblock, direct]`
    /// (none: plain `pipe(2)`, whose ends an exec'd image inherits).
    Pipe(PipeArgs),
    /// `mkfifo(3)` of a `fifo` object (EEXIST if its node exists).
    Mkfifo(MkfifoArgs),
    /// `signalfd(2)` of a `signalfd` object: made with `signals` as its
    /// mask, or, once made, given a new mask (the call returns the same
    /// descriptor).
    Signalfd(SignalfdArgs),
    /// F_GETFD and F_GETFL of one end of a pipe or FIFO: `expect: {
    /// descriptor: { cloexec, nonblock, direct } }`.
    Fcntl(EndArgs),
    /// F_GETPIPE_SZ, or F_SETPIPE_SZ with `set`: the value is the capacity
    /// in bytes.
    PipeSize(PipeSizeArgs),
    /// FIONREAD: the value is the number of unread bytes.
    Fionread(EndArgs),
    /// `lseek(2)` (pipes and FIFOs give ESPIPE, whatever the whence).
    Lseek(LseekArgs),
    /// `splice(2)` up to `len` bytes from one pipe's read end to another's
    /// write end: the value is the count moved.
    Splice(SpliceArgs),
    /// `tee(2)`: copy up to `len` bytes from one pipe to another without
    /// consuming them.
    Tee(SpliceArgs),
    /// Write an IPC sysctl of this scenario's private IPC namespace, e.g.
    /// `{ name: kernel.shmmni, value: "1" }` (needs
    /// `requires: { private_ipc_namespace: true }`, or a role that unshared
    /// its own IPC namespace: the host's is never touched); without `value`
    /// read one.
    Sysctl(SysctlArgs),
    /// `shm_open(3)` of a `posix_shm` object (its name is made per run).
    ShmOpen(ShmOpenArgs),
    /// `ftruncate(2)` of an open `posix_shm` object.
    Ftruncate(FtruncateArgs),
    /// `fstat(2)` of an open `posix_shm` object: the value is `st_size`.
    Fstat(ObjectArgs),
    /// `shm_unlink(3)`: remove the name; existing mappings stay valid.
    ShmUnlink(ObjectArgs),
    /// `open(2)` of a `file` object (flags as for `shm_open`).
    Open(ShmOpenArgs),
    /// `memfd_create(2)` of a `memfd` object.
    MemfdCreate(MemfdArgs),
    /// `unlink(2)` of a `file` or `fifo` object.
    Unlink(ObjectArgs),
    /// `msync(2)` of this role's mapping of the object.
    Msync(MsyncArgs),
    /// `posix_fallocate(3)` of an open `posix_shm` object: allocate its
    /// pages now (ENOSPC when the file system is full) instead of at first
    /// touch (SIGBUS).
    Fallocate(FtruncateArgs),
    /// `close(2)` one end of a pipe or FIFO, or an open object's descriptor.
    Close(CloseArgs),
    /// Write bytes: into mapped memory at an offset, or `write(2)` to a pipe.
    Write(WriteArgs),
    /// Read bytes: from mapped memory, or `read(2)` from a pipe.
    Read(ReadArgs),
    /// Write `len` copies of one byte (touching every page of a range).
    Fill(FillArgs),
    /// Publish `records` numbered records through mapped memory: fill a slot
    /// of a ring with plain stores, then store the record count with release
    /// ordering (the writer half of the publication check).
    Publish(PublishArgs),
    /// Take `records` records published by `publish`, waiting with acquire
    /// loads and checking every byte. The value is the number of torn or
    /// stale records seen: expect `value: 0`.
    Consume(ConsumeArgs),
    /// Stress shared memory without handshakes: the object is cut into
    /// 64-byte blocks dealt round-robin to this role's replicas; for each
    /// round every replica writes its blocks with a pattern of the round,
    /// then checks them. The value is the number of blocks found wrong.
    Stress(StressArgs),
    /// Append `records` numbered records of `size` bytes to an open file,
    /// each written with O_APPEND in `chunks` write(2) calls; with `guard`,
    /// each record is written between a decrement and an increment (with
    /// SEM_UNDO) of semaphore 0 of that `sysv_sem` object: the seed's
    /// critical region.
    Append(AppendArgs),
    /// Read the whole file and count the records that are not whole (torn,
    /// interleaved, or missing against `records`); that count is the value.
    CheckRecords(CheckRecordsArgs),
    /// Check that every block holds the pattern of round `round`, as the
    /// replicas of a `stress` role leave it after that many rounds; the
    /// value is the number of wrong blocks.
    CheckPattern(CheckPatternArgs),
    /// Raise a named event (a counter that only grows).
    Signal(Sp<String>),
    /// Continue once a named event was raised (at least `count` times).
    Wait(WaitArgs),
    /// Meet every other role instance that names the same barrier.
    Barrier(Sp<String>),
    /// Continue once the named role is observed blocked in the kernel inside
    /// one of its steps (`/proc/PID/stat` state S or D).
    WaitBlocked(WaitBlockedArgs),
    /// Start the named role (every replica of it) as a child of this one.
    Spawn(Sp<String>),
    /// `kill(2)` from this role: to another running role (the supervisor
    /// tells its pid), to the run's process group, or to a pid that cannot
    /// exist.
    Kill(SendSignalArgs),
    /// `execve(2)` a fresh image of the harness that goes on with this
    /// role's next steps: the same process, without the old image's
    /// attachments, mappings and close-on-exec descriptors.
    Exec(ExecArgs),
    /// Wait for every replica of a role this role spawned to exit.
    WaitExit(Sp<String>),
    /// End this role with an exit status.
    Exit(Sp<i32>),
    /// End this role with a signal's default action, e.g. `SIGABRT`.
    Crash(Sp<String>),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectArgs {
    pub object: Sp<String>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FtokArgs {
    /// A name from `files`, or any other name for a file that does not exist.
    pub file: Sp<String>,
    pub proj: Sp<String>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShmgetArgs {
    pub object: Sp<String>,
    /// `create` (IPC_CREAT), `excl` (IPC_EXCL), `hugetlb` (SHM_HUGETLB),
    /// `noreserve` (SHM_NORESERVE).
    #[serde(default)]
    pub flags: Vec<Sp<ShmgetFlag>>,
    /// Ask for another size than the object's (for the EINVAL cases).
    #[serde(default)]
    pub size: Option<u64>,
    /// The permission bits passed in shmflg, in octal (default: the
    /// object's `mode`). A lookup is checked against them: asking for
    /// `0o600` on another user's 0o600 segment is EACCES, asking for 0 is not.
    #[serde(default)]
    pub mode: Option<Sp<u32>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShmgetFlag {
    Create,
    Excl,
    /// SHM_HUGETLB: back the segment with huge pages.
    Hugetlb,
    /// SHM_NORESERVE: reserve no swap or memory for the segment up front.
    Noreserve,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShmatArgs {
    pub object: Sp<String>,
    /// Where to attach: `kernel` (the default: the kernel chooses),
    /// `free` (a page-aligned address probed free in this role),
    /// `{ free_plus: N }` (that address plus N bytes, usually misaligned),
    /// `{ address: 0x5000000 }` (a literal, must be SHMLBA-aligned unless `rnd`).
    #[serde(default)]
    pub at: Option<Sp<AttachAt>>,
    /// `rdonly` (SHM_RDONLY), `rnd` (SHM_RND), `remap` (SHM_REMAP).
    #[serde(default)]
    pub flags: Vec<Sp<ShmatFlag>>,
    /// Pass this id instead of the object's. Only negative ids, which no
    /// segment can have, so no other program's segment is ever touched.
    #[serde(default)]
    pub id: Option<Sp<i64>>,
    /// Attach exactly where this other object is attached or mapped in this
    /// role: with `remap` (SHM_REMAP) replacing it, without it EINVAL.
    #[serde(default)]
    pub over: Option<Sp<String>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AttachAt {
    Kernel,
    Free,
    FreePlus(u64),
    Address(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShmatFlag {
    Rdonly,
    Rnd,
    Remap,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShmdtArgs {
    pub object: Sp<String>,
    /// Detach at this offset from the attachment instead (to see EINVAL).
    #[serde(default)]
    pub offset: u64,
    /// Detach at a page-aligned address where nothing is attached (EINVAL).
    #[serde(default)]
    pub unattached: bool,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShmctlArgs {
    pub object: Sp<String>,
    pub cmd: ShmctlCmd,
    /// For `ipc_set`: the new owner and permission bits.
    #[serde(default)]
    pub set: Option<Sp<ShmSet>>,
    /// Pass this id instead of the object's (only negative ids; see `shmat`).
    #[serde(default)]
    pub id: Option<Sp<i64>>,
    /// `ipc_stat`, `ipc_set`: pass a buffer address in kernel space (EFAULT).
    #[serde(default)]
    pub bad_buffer: bool,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShmctlCmd {
    IpcStat,
    IpcRmid,
    /// Change owner and mode (`set:`).
    IpcSet,
    /// SHM_LOCK / SHM_UNLOCK: keep the pages in memory, or stop keeping them.
    ShmLock,
    ShmUnlock,
    /// IPC_INFO and SHM_INFO: system-wide limits and usage (`expect: { info }`).
    IpcInfo,
    /// SHM_STAT: IPC_STAT by the segment's index in the kernel's table; the
    /// value is the segment's id.
    ShmStat,
    /// SHM_STAT_ANY (Linux 4.17): SHM_STAT without the read-permission check.
    ShmStatAny,
    /// A command number Linux does not define (EINVAL).
    Undefined,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShmSet {
    pub uid: u32,
    pub gid: u32,
    /// Permission bits, in octal.
    pub mode: u32,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SemgetArgs {
    pub object: Sp<String>,
    /// `create` (IPC_CREAT), `excl` (IPC_EXCL).
    #[serde(default)]
    pub flags: Vec<Sp<CreateFlag>>,
    /// Ask for another number of semaphores than the object's.
    #[serde(default)]
    pub nsems: Option<u32>,
    /// The permission bits passed, in octal (default: the object's `mode`).
    #[serde(default)]
    pub mode: Option<Sp<u32>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CreateFlag {
    Create,
    Excl,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SemopArgs {
    pub object: Sp<String>,
    /// The operations, applied atomically.
    pub ops: Vec<Sp<SemOp>>,
    /// Use semtimedop(2) and give up after this long (`100ms`), with EAGAIN.
    #[serde(default)]
    pub timeout: Option<Sp<String>>,
    /// Make the same call this many times in a row (default 1), stopping at
    /// the first error.
    #[serde(default)]
    pub repeat: Option<u32>,
    /// Pass this id instead of the object's (only negative ids; see `shmat`).
    #[serde(default)]
    pub id: Option<Sp<i64>>,
    /// Pass an unusable address as the operations array (EFAULT).
    #[serde(default)]
    pub bad_buffer: bool,
    /// Make it semtimedop with an unusable timeout address (EFAULT).
    #[serde(default)]
    pub bad_timeout_address: bool,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

/// One `struct sembuf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SemOp {
    /// The semaphore's number in the set (default 0).
    #[serde(default)]
    pub sem: u16,
    /// Added to the value; 0 waits until the value is 0.
    pub op: i16,
    /// IPC_NOWAIT: fail with EAGAIN instead of blocking.
    #[serde(default)]
    pub nowait: bool,
    /// SEM_UNDO: the kernel reverts the change when the process exits.
    #[serde(default)]
    pub undo: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SemctlArgs {
    pub object: Sp<String>,
    pub cmd: SemctlCmd,
    /// The semaphore's number for GETVAL, SETVAL, GETPID, GETNCNT, GETZCNT.
    #[serde(default)]
    pub sem: u16,
    /// For `setval`.
    #[serde(default)]
    pub value: Option<i32>,
    /// For `setall`: one value per semaphore.
    #[serde(default)]
    pub values: Option<Vec<u16>>,
    /// For `ipc_set`: the new owner and permission bits.
    #[serde(default)]
    pub set: Option<Sp<ShmSet>>,
    /// Pass this id instead of the object's (only negative ids).
    #[serde(default)]
    pub id: Option<Sp<i64>>,
    /// `ipc_stat`, `ipc_set`, `getall`, `setall`: pass a buffer address in
    /// kernel space (EFAULT).
    #[serde(default)]
    pub bad_buffer: bool,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SemctlCmd {
    /// The value of semaphore `sem`.
    Getval,
    Setval,
    /// Every value (`expect: { values: [...] }`).
    Getall,
    Setall,
    /// The pid of the last process that operated on semaphore `sem`
    /// (`expect: { pid_of: role }`).
    Getpid,
    /// How many processes wait for the value to grow.
    Getncnt,
    /// How many processes wait for the value to be 0.
    Getzcnt,
    IpcStat,
    IpcSet,
    IpcRmid,
    /// IPC_INFO and SEM_INFO: the limits (`agrees_with_sysctl` compares them
    /// with kernel.sem) and the sets in use (`used_ids`).
    IpcInfo,
    /// SEM_STAT: IPC_STAT by the set's index; the value is its id.
    SemStat,
    /// SEM_STAT_ANY (Linux 4.17): SEM_STAT without the read-permission check.
    SemStatAny,
    /// A command number Linux does not define (EINVAL).
    Undefined,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SemOpenArgs {
    pub object: Sp<String>,
    /// `create` (O_CREAT), `excl` (O_EXCL).
    #[serde(default)]
    pub flags: Vec<Sp<CreateFlag>>,
    /// The initial value with `create` (default 0).
    #[serde(default)]
    pub value: Option<u64>,
    /// Permission bits with `create`, in octal (default 0o600).
    #[serde(default)]
    pub mode: Option<Sp<u32>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SemInitArgs {
    pub object: Sp<String>,
    /// The initial value (default 0).
    #[serde(default)]
    pub value: Option<u64>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SemPostArgs {
    pub object: Sp<String>,
    /// Make the call this many times, stopping at the first failure.
    #[serde(default)]
    pub repeat: Option<u32>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SemWaitArgs {
    pub object: Sp<String>,
    /// Make the call this many times, stopping at the first failure.
    #[serde(default)]
    pub repeat: Option<u32>,
    /// Use sem_timedwait and give up after this long (ETIMEDOUT).
    #[serde(default)]
    pub timeout: Option<Sp<String>>,
    /// sem_timedwait with this deadline instead of a `timeout`.
    #[serde(default)]
    pub deadline: Option<Sp<BadDeadline>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MqOpenArgs {
    pub object: Sp<String>,
    /// `create` (O_CREAT), `excl` (O_EXCL), `rdonly` / `wronly` (instead of
    /// O_RDWR), `nonblock` (O_NONBLOCK). `[wronly, rdwr]` together pass
    /// access mode 3 (O_WRONLY|O_RDWR), which POSIX leaves undefined.
    #[serde(default)]
    pub flags: Vec<Sp<MqOpenFlag>>,
    /// Permission bits with `create`, in octal (default: the object's).
    #[serde(default)]
    pub mode: Option<Sp<u32>>,
    /// With `create`: pass no attributes (NULL), taking the defaults from
    /// fs.mqueue.msg_default and msgsize_default.
    #[serde(default)]
    pub default_attr: bool,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MqOpenFlag {
    Create,
    Excl,
    Rdonly,
    Wronly,
    Rdwr,
    Nonblock,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MqSendArgs {
    pub object: Sp<String>,
    #[serde(default)]
    pub data: Option<String>,
    /// Or: a message of this many bytes.
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub prio: u32,
    /// mq_timedsend: give up after this long (ETIMEDOUT).
    #[serde(default)]
    pub timeout: Option<Sp<String>>,
    /// mq_timedsend with this deadline instead of a `timeout`.
    #[serde(default)]
    pub deadline: Option<Sp<BadDeadline>>,
    /// Pass an unusable address instead of the message (EFAULT).
    #[serde(default)]
    pub bad_buffer: bool,
    /// Pass this descriptor instead of the open one.
    #[serde(default)]
    pub descriptor: Option<Sp<BadDescriptor>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

pub use crate::sys::BadDeadline;

/// A descriptor that is not an open message queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BadDescriptor {
    /// The number this process's descriptor had before its `mq_close`.
    Closed,
    /// -1.
    MinusOne,
    /// INT_MAX - 1.
    Huge,
    /// An open descriptor of /dev/null.
    NotAQueue,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MqArgs {
    pub object: Sp<String>,
    /// Pass this descriptor instead of the open one.
    #[serde(default)]
    pub descriptor: Option<Sp<BadDescriptor>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitNotificationArgs {
    /// How long to wait (default 1s).
    #[serde(default)]
    pub timeout: Option<Sp<String>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MqReceiveArgs {
    pub object: Sp<String>,
    /// The buffer size (default: the object's msgsize); smaller than
    /// mq_msgsize is EMSGSIZE.
    #[serde(default)]
    pub len: Option<u64>,
    /// mq_timedreceive: give up after this long (ETIMEDOUT).
    #[serde(default)]
    pub timeout: Option<Sp<String>>,
    /// mq_timedreceive with this deadline instead of a `timeout`.
    #[serde(default)]
    pub deadline: Option<Sp<BadDeadline>>,
    /// Pass an unusable address instead of the buffer (EFAULT).
    #[serde(default)]
    pub bad_buffer: bool,
    /// Pass this descriptor instead of the open one.
    #[serde(default)]
    pub descriptor: Option<Sp<BadDescriptor>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MqSetattrArgs {
    pub object: Sp<String>,
    pub nonblock: bool,
    /// mq_maxmsg, mq_msgsize and mq_curmsgs to pass along (default 0):
    /// mq_setattr ignores them.
    #[serde(default)]
    pub maxmsg: i64,
    #[serde(default)]
    pub msgsize: i64,
    #[serde(default)]
    pub curmsgs: i64,
    /// Pass this descriptor instead of the open one.
    #[serde(default)]
    pub descriptor: Option<Sp<BadDescriptor>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MqNotifyArgs {
    pub object: Sp<String>,
    /// SIGEV_SIGNAL with this signal.
    #[serde(default)]
    pub signal: Option<Sp<String>>,
    /// Another kind of notification, instead of `signal`.
    #[serde(default)]
    pub sigev: Option<Sp<Sigev>>,
    /// sigev_value (for `signal` and `sigev: thread`).
    #[serde(default)]
    pub value: i32,
    /// Pass this descriptor instead of the open one.
    #[serde(default)]
    pub descriptor: Option<Sp<BadDescriptor>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

/// An `mq_notify` sigevent other than SIGEV_SIGNAL with a valid signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sigev {
    /// SIGEV_NONE: registered, but nothing is delivered.
    None,
    /// SIGEV_THREAD: a new thread runs with the value (`wait_notification`).
    Thread,
    /// sigev_notify -1.
    Invalid,
    /// SIGEV_SIGNAL with signal number 65, past the highest (64).
    SignalOutOfRange,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SigwaitArgs {
    /// The signal waited for; `signals` waits for any of several (`[]`:
    /// the empty set, which only a timeout or a handler ends).
    #[serde(default)]
    pub signal: Option<Sp<String>>,
    #[serde(default)]
    pub signals: Option<Vec<Sp<String>>>,
    /// Pass no siginfo buffer (info NULL): only the number is returned.
    #[serde(default)]
    pub no_info: bool,
    /// `via: signalfd` reads this `signalfd` object instead of a new one
    /// (polling it for `timeout`).
    #[serde(default)]
    pub signalfd: Option<Sp<String>>,
    /// Pass an address the process cannot use for one argument of the raw
    /// rt_sigtimedwait(2) (EFAULT): `info`, `set` or `timeout`.
    #[serde(default)]
    pub bad_address: Option<Sp<SigwaitArg>>,
    /// `sigtimedwait` (the default), `sigwaitinfo` or `sigwait` (no
    /// timeout: bounded by the scenario's), or `signalfd` (a signalfd(2) of
    /// the set, read once, waiting at most `timeout`).
    #[serde(default)]
    pub via: Option<Sp<SigwaitVia>>,
    /// How long to wait (default 1s).
    #[serde(default)]
    pub timeout: Option<Sp<String>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MsggetArgs {
    pub object: Sp<String>,
    /// `create` (IPC_CREAT), `excl` (IPC_EXCL).
    #[serde(default)]
    pub flags: Vec<Sp<CreateFlag>>,
    /// The permission bits passed, in octal (default: the object's `mode`).
    #[serde(default)]
    pub mode: Option<Sp<u32>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MsgsndArgs {
    pub object: Sp<String>,
    /// The message type (mtype), which must be above 0.
    pub mtype: i64,
    /// The text; `$instance` is replaced by the replica's number.
    #[serde(default)]
    pub data: Option<String>,
    /// Or: a message of this many bytes (`x`).
    #[serde(default)]
    pub size: Option<u64>,
    /// IPC_NOWAIT: EAGAIN instead of blocking on a full queue.
    #[serde(default)]
    pub nowait: bool,
    /// Pass this id instead of the object's (only negative ids; see `shmat`).
    #[serde(default)]
    pub id: Option<Sp<i64>>,
    /// Pass an unusable address as the message buffer (EFAULT).
    #[serde(default)]
    pub bad_buffer: bool,
    /// Pass this negative msgsz instead of the real size (as the size_t it
    /// becomes); msgrcv passes it with an unusable buffer, so that a kernel
    /// that took the size would fail with EFAULT rather than write memory.
    #[serde(default)]
    pub msgsz: Option<Sp<i64>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MsgrcvArgs {
    pub object: Sp<String>,
    /// msgtyp: 0 the first message, N > 0 the first of type N (with
    /// `except`, of another type), N < 0 the first of the lowest type up to |N|.
    #[serde(default)]
    pub msgtyp: i64,
    /// The buffer size (msgsz): longer messages are E2BIG, or cut with `noerror`.
    pub len: u64,
    /// `nowait` (IPC_NOWAIT: ENOMSG when none), `except` (MSG_EXCEPT),
    /// `noerror` (MSG_NOERROR), `copy` (MSG_COPY: copy the message at
    /// index `msgtyp` without removing it; needs `nowait`).
    #[serde(default)]
    pub flags: Vec<Sp<MsgrcvFlag>>,
    /// Pass this id instead of the object's (only negative ids; see `shmat`).
    #[serde(default)]
    pub id: Option<Sp<i64>>,
    /// Pass an unusable address as the message buffer (EFAULT).
    #[serde(default)]
    pub bad_buffer: bool,
    /// Pass this negative msgsz instead of the real size (as the size_t it
    /// becomes); msgrcv passes it with an unusable buffer, so that a kernel
    /// that took the size would fail with EFAULT rather than write memory.
    #[serde(default)]
    pub msgsz: Option<Sp<i64>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MsgrcvFlag {
    Nowait,
    Except,
    Noerror,
    Copy,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PingPongArgs {
    pub object: Sp<String>,
    /// For POSIX objects: the semaphore or queue the reply comes back on
    /// (`object` carries the first side's half). SysV objects carry both
    /// directions themselves (two semaphores, two message types).
    #[serde(default)]
    pub back: Option<Sp<String>>,
    pub rounds: u32,
    pub side: Side,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    First,
    Second,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendNumberedArgs {
    pub object: Sp<String>,
    pub messages: u32,
    /// The SysV message type (default: replica number + 1).
    #[serde(default)]
    pub mtype: Option<i64>,
    /// The POSIX message priority (default 0).
    #[serde(default)]
    pub prio: Option<u32>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiveNumberedArgs {
    pub object: Sp<String>,
    /// How many messages to take.
    pub messages: u32,
    /// How many messages each producer replica sent (its `send_numbered`).
    pub per_producer: u32,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MsgctlArgs {
    pub object: Sp<String>,
    pub cmd: MsgctlCmd,
    /// For `ipc_set`: owner, permission bits and msg_qbytes.
    #[serde(default)]
    pub set: Option<Sp<MsgSet>>,
    /// Pass this id instead of the object's (only negative ids).
    #[serde(default)]
    pub id: Option<Sp<i64>>,
    /// `ipc_stat`, `ipc_set`: pass a buffer address in kernel space (EFAULT).
    #[serde(default)]
    pub bad_buffer: bool,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MsgctlCmd {
    IpcStat,
    /// Owner, mode and msg_qbytes (`set:`).
    IpcSet,
    IpcRmid,
    /// MSG_STAT: IPC_STAT by the queue's index; the value is its id.
    MsgStat,
    /// MSG_STAT_ANY (Linux 4.17): MSG_STAT without the read-permission check.
    MsgStatAny,
    /// IPC_INFO and MSG_INFO: the limits (`agrees_with_sysctl` compares them
    /// with kernel.msgmax, msgmnb, msgmni) and the queues in use (`used_ids`).
    IpcInfo,
    /// A command number Linux does not define (EINVAL).
    Undefined,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct MsgSet {
    pub uid: u32,
    pub gid: u32,
    /// Permission bits, in octal.
    pub mode: u32,
    /// The queue's byte limit.
    pub qbytes: u64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MprotectArgs {
    pub object: Sp<String>,
    /// Page-aligned offset into the mapping.
    #[serde(default)]
    pub offset: u64,
    /// Bytes (default: from `offset` to the end of the object).
    #[serde(default)]
    pub len: Option<u64>,
    /// `read`, `write` (an empty list is PROT_NONE).
    pub prot: Vec<Sp<Prot>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Prot {
    Read,
    Write,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SysctlArgs {
    pub name: Sp<String>,
    /// The value to write; without one the sysctl is read: the step's
    /// value is its first number, and `values` every number (`kernel.sem`
    /// has four).
    #[serde(default)]
    pub value: Option<Sp<String>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShmOpenArgs {
    pub object: Sp<String>,
    /// `create` (O_CREAT), `excl` (O_EXCL), `rdonly` (O_RDONLY instead of
    /// O_RDWR), `trunc` (O_TRUNC).
    #[serde(default)]
    pub flags: Vec<Sp<ShmOpenFlag>>,
    /// Permission bits for O_CREAT, in octal (default: the object's `mode`).
    #[serde(default)]
    pub mode: Option<Sp<u32>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShmOpenFlag {
    Create,
    Excl,
    Rdonly,
    Trunc,
    /// FIFOs: O_WRONLY.
    Wronly,
    /// FIFOs: O_RDWR (Linux opens it without waiting for a peer).
    Rdwr,
    /// FIFOs: O_NONBLOCK.
    Nonblock,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FtruncateArgs {
    pub object: Sp<String>,
    /// The new size (default: the object's `size`).
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseArgs {
    pub object: Sp<String>,
    /// For a pipe: which end. A `posix_shm` object has one descriptor.
    #[serde(default)]
    pub end: Option<PipeEnd>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PipeEnd {
    Read,
    Write,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipeArgs {
    pub object: Sp<String>,
    /// `cloexec` (O_CLOEXEC: gone after exec), `nonblock` (O_NONBLOCK on
    /// both ends), `direct` (O_DIRECT: packet mode).
    #[serde(default)]
    pub flags: Vec<Sp<PipeFlag>>,
    /// Pass an address the process cannot write for the two descriptors
    /// (EFAULT).
    #[serde(default)]
    pub bad_buffer: bool,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PipeFlag {
    Cloexec,
    Nonblock,
    Direct,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MkfifoArgs {
    pub object: Sp<String>,
    /// Permission bits, in octal (default: the object's `mode`).
    #[serde(default)]
    pub mode: Option<Sp<u32>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

/// A call on one descriptor of a pipe or FIFO.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndArgs {
    pub object: Sp<String>,
    /// Which end (default: the read end, or the only one open).
    #[serde(default)]
    pub end: Option<PipeEnd>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalfdArgs {
    pub object: Sp<String>,
    pub signals: Vec<Sp<String>>,
    /// `cloexec` (SFD_CLOEXEC), `nonblock` (SFD_NONBLOCK).
    #[serde(default)]
    pub flags: Vec<Sp<PipeFlag>>,
    /// Flags -1 (EINVAL).
    #[serde(default)]
    pub bad_flags: bool,
    /// Pass a descriptor that is not the object's: `minus_two` (EBADF) or
    /// `not_signalfd`, a regular file's (EINVAL).
    #[serde(default)]
    pub descriptor: Option<Sp<NotSignalfd>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotSignalfd {
    MinusTwo,
    NotSignalfd,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LseekArgs {
    pub object: Sp<String>,
    #[serde(default)]
    pub end: Option<PipeEnd>,
    /// `set`, `cur` (the default) or `end`.
    #[serde(default)]
    pub whence: Option<Whence>,
    #[serde(default)]
    pub offset: i64,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Whence {
    Set,
    Cur,
    End,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipeSizeArgs {
    pub object: Sp<String>,
    /// Which end (default: the read end, or the only one open).
    #[serde(default)]
    pub end: Option<PipeEnd>,
    /// F_SETPIPE_SZ with this many bytes (rounded up by the kernel).
    #[serde(default)]
    pub set: Option<Sp<u64>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpliceArgs {
    /// The pipe or FIFO read from (its read end).
    pub from: Sp<String>,
    /// The pipe or FIFO written to (its write end).
    pub to: Sp<String>,
    pub len: u64,
    /// SPLICE_F_NONBLOCK: EAGAIN instead of waiting.
    #[serde(default)]
    pub nonblock: bool,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteArgs {
    pub to: Sp<String>,
    /// The bytes, as text; `$instance` is replaced by the replica's number.
    pub data: String,
    /// Byte offset into mapped memory (not allowed for pipes).
    #[serde(default)]
    pub offset: u64,
    /// Pipes and FIFOs: the descriptor written to (default: the write
    /// end; `read` gives EBADF).
    #[serde(default)]
    pub end: Option<PipeEnd>,
    /// Added to `offset` once per replica number, so replicas of a role
    /// use their own slots (`offset + stride * instance`).
    #[serde(default)]
    pub stride: u64,
    /// `posix_shm`, `file`, `memfd`: `pwrite(2)` to the descriptor instead
    /// of storing into the mapping.
    #[serde(default)]
    pub via_descriptor: bool,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MmapArgs {
    pub object: Sp<String>,
    /// Map exactly where this other object is mapped in this role:
    /// MAP_FIXED (replacing that mapping) or, with `noreplace`,
    /// MAP_FIXED_NOREPLACE (which fails with EEXIST).
    #[serde(default)]
    pub over: Option<Sp<String>>,
    #[serde(default)]
    pub noreplace: bool,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemfdArgs {
    pub object: Sp<String>,
    /// MFD_CLOEXEC: the descriptor is not inherited across exec.
    #[serde(default)]
    pub cloexec: bool,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MsyncArgs {
    pub object: Sp<String>,
    /// `sync` (MS_SYNC, the default), `async` (MS_ASYNC), `invalidate`
    /// (MS_INVALIDATE).
    #[serde(default)]
    pub flags: Vec<Sp<MsyncFlag>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MsyncFlag {
    Sync,
    Async,
    Invalidate,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FillArgs {
    pub to: Sp<String>,
    pub len: u64,
    #[serde(default)]
    pub offset: u64,
    /// The byte value (default 0x5a, `Z`).
    #[serde(default)]
    pub byte: Option<u8>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishArgs {
    pub to: Sp<String>,
    /// How many records (at most 10 000 000).
    pub records: u64,
    /// Where the ring starts in the mapping (a multiple of 64).
    #[serde(default)]
    pub offset: u64,
    /// The broken protocol, as a negative control: publish each record
    /// before filling it, and fill it only once the reader has taken it, so
    /// the reader sees every record stale.
    #[serde(default)]
    pub fill_after_publish: bool,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StressArgs {
    pub to: Sp<String>,
    /// Write-and-check rounds (at most 100 000).
    pub rounds: u32,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppendArgs {
    pub to: Sp<String>,
    pub records: u32,
    /// Bytes per record (default 64, at least 16).
    #[serde(default)]
    pub size: Option<u32>,
    /// write(2) calls per record (default 8).
    #[serde(default)]
    pub chunks: Option<u32>,
    /// A `sysv_sem` object whose semaphore 0 (initially 1) guards each record.
    #[serde(default)]
    pub guard: Option<Sp<String>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRecordsArgs {
    pub from: Sp<String>,
    /// How many records every `append` together wrote.
    pub records: u32,
    /// Bytes per record, as appended (default 64).
    #[serde(default)]
    pub size: Option<u32>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckPatternArgs {
    pub from: Sp<String>,
    /// The round whose pattern must be there (the last one: `rounds`).
    pub round: u32,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumeArgs {
    pub from: Sp<String>,
    /// How many records (the same number as the `publish`).
    pub records: u64,
    /// Where the ring starts (the same as the `publish`).
    #[serde(default)]
    pub offset: u64,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadArgs {
    pub from: Sp<String>,
    /// How many bytes: exactly this many from memory; at most this many
    /// per `read(2)` call from a pipe (default: the expected data's length).
    #[serde(default)]
    pub len: Option<u64>,
    #[serde(default)]
    pub offset: u64,
    /// Added to `offset` once per replica number (see `write`).
    #[serde(default)]
    pub stride: u64,
    /// Pipes: keep reading until `len` bytes or end of file.
    #[serde(default)]
    pub all: bool,
    /// Pipes and FIFOs: the descriptor read from (default: the read end;
    /// `write` gives EBADF).
    #[serde(default)]
    pub end: Option<PipeEnd>,
    /// `posix_shm`, `file`, `memfd`: `pread(2)` from the descriptor instead
    /// of loading from the mapping.
    #[serde(default)]
    pub via_descriptor: bool,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendSignalArgs {
    /// The role signalled (a running one).
    #[serde(default)]
    pub role: Option<Sp<String>>,
    /// Which replica (default 0).
    #[serde(default)]
    pub instance: u32,
    /// Instead of a role: `group` (kill(0, sig): every role of the run,
    /// the sender too), `nonexistent` (a pid above any pid_max: ESRCH), or
    /// `int_min` (INT_MIN, which has no negation: ESRCH).
    #[serde(default)]
    pub to: Option<Sp<SignalTarget>>,
    /// A name (`SIGUSR1`, `SIGRTMIN+2`), or a number to pass as it is (`0`
    /// for the existence check, `2000` for EINVAL).
    pub signal: Sp<String>,
    /// si_value's int (`sigqueue`, `pidfd_send_signal`).
    #[serde(default)]
    pub value: Option<i32>,
    /// Send this many times (stopping at the first failure).
    #[serde(default)]
    pub repeat: Option<u32>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalTarget {
    Group,
    Nonexistent,
    IntMin,
    /// -1 as the tid (and tgid): `tkill` and `tgkill` only (for kill, -1
    /// means every process).
    MinusOne,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HandledArgs {
    /// Only this signal's deliveries.
    #[serde(default)]
    pub signal: Option<Sp<String>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TakePendingArgs {
    pub signals: Vec<Sp<String>>,
    #[serde(default)]
    pub expect: Option<Sp<Expect>>,
}

/// `exec` takes no parameters: write `- exec: {}`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecArgs {}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitArgs {
    pub event: Sp<String>,
    #[serde(default)]
    pub count: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitBlockedArgs {
    pub role: Sp<String>,
    /// Which replica (default 0).
    #[serde(default)]
    pub instance: u32,
    /// Wait until the role is stopped by a signal (state T) instead.
    #[serde(default)]
    pub stopped: bool,
    /// Wait for every replica of the role, one after the other.
    #[serde(default)]
    pub all: bool,
}

/// What a step must observe. With no `errno` the call must succeed.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The call fails with exactly this errno, e.g. `EINVAL`.
    #[serde(default)]
    pub errno: Option<Sp<String>>,
    /// The call's return value (for example the byte count of a write).
    #[serde(default)]
    pub value: Option<Sp<i64>>,
    /// The return value is at least this: for counts of an effect that is
    /// allowed but not promised every time (records above PIPE_BUF that
    /// interleave).
    #[serde(default)]
    pub value_at_least: Option<Sp<i64>>,
    /// The bytes read, as text; `$instance` is replaced by the replica's number.
    #[serde(default)]
    pub data: Option<Sp<String>>,
    /// A read returns end of file (0 bytes).
    #[serde(default)]
    pub eof: Option<Sp<bool>>,
    /// Fields of IPC_STAT.
    #[serde(default)]
    pub stat: Option<Sp<StatExpect>>,
    /// Where an attach landed.
    #[serde(default)]
    pub address: Option<Sp<AddressExpect>>,
    /// What `shmctl ipc_info` reports.
    #[serde(default)]
    pub info: Option<Sp<InfoExpect>>,
    /// The new mapping's line in /proc/self/maps contains this text (for
    /// example `SYSV`, `/dev/shm/`, `memfd:`).
    #[serde(default)]
    pub mapped_as: Option<Sp<String>>,
    /// The new mapping's first page is the same physical frame as the one
    /// this role (replica 0) mapped last for the same object, from
    /// /proc/PID/pagemap. Needs CAP_SYS_ADMIN (otherwise skipped).
    #[serde(default)]
    pub same_frame_as: Option<Sp<String>>,
    /// The step kills its role with this signal, e.g. `SIGSEGV`.
    #[serde(default)]
    pub killed_by: Option<Sp<String>>,
    /// The descriptor a `shm_open`, `open` or `memfd_create` returned.
    #[serde(default)]
    pub descriptor: Option<Sp<DescriptorExpect>>,
    /// The priority of the message `mq_receive` took.
    #[serde(default)]
    pub prio: Option<Sp<u32>>,
    /// What `mq_getattr` reports (or `mq_setattr` as the old attributes);
    /// only the fields given are compared.
    #[serde(default)]
    pub attr: Option<Sp<MqAttrExpect>>,
    /// What the signal `sigwait` took carries besides its value.
    #[serde(default)]
    pub siginfo: Option<Sp<SiginfoExpect>>,
    /// The signals `handled` or `take_pending` found, in order.
    #[serde(default)]
    pub received: Option<Sp<Vec<ReceivedExpect>>>,
    /// What `mq_status` read; only the fields given are compared.
    #[serde(default)]
    pub mq_status: Option<Sp<MqStatusExpect>>,
    /// The type of the message `msgrcv` took.
    #[serde(default)]
    pub mtype: Option<Sp<i64>>,
    /// Every value `semctl getall` reported, or every number a `sysctl`
    /// read, in order.
    #[serde(default)]
    pub values: Option<Sp<Vec<i64>>>,
    /// The value is the pid of this role (replica 0), as `semctl getpid`
    /// reports.
    #[serde(default)]
    pub pid_of: Option<Sp<String>>,
    /// The call returned no sooner than this (`100ms`): a timeout was not cut short.
    #[serde(default)]
    pub waited_at_least: Option<Sp<String>>,
    /// The call returned within this long (`50ms`): it did not sleep, or a
    /// timeout was not overlong. Generous bounds only: the machine may be
    /// loaded.
    #[serde(default)]
    pub waited_at_most: Option<Sp<String>>,
    /// The replicas of this role race for this step: exactly `winners` of
    /// them succeed and every other one fails with `losers` (an errno).
    #[serde(default)]
    pub race: Option<Sp<RaceExpect>>,
    /// The step blocks in the kernel until another role acts.
    #[serde(default)]
    pub blocks: Option<Sp<bool>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RaceExpect {
    pub winners: u32,
    pub losers: String,
}

/// Expected message queue attributes.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct MqAttrExpect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxmsg: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msgsize: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curmsgs: Option<i64>,
    /// O_NONBLOCK is set on this descriptor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonblock: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SigwaitArg {
    Info,
    Set,
    Timeout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SigwaitVia {
    Sigtimedwait,
    Sigwaitinfo,
    Sigwait,
    Signalfd,
}

/// One signal found by `handled` or `take_pending`; only the fields given
/// besides `signal` are compared.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReceivedExpect {
    pub signal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<i32>,
    /// si_code by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// si_pid is this role's (replica 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_of: Option<String>,
    /// si_uid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
}

/// Expected siginfo fields; only the ones given are compared.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiginfoExpect {
    /// si_signo (for `signals:` waits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// si_code by name: `SI_USER`, `SI_QUEUE`, `SI_MESGQ`, `SI_TKILL`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// si_pid is the pid of this role (replica 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_of: Option<String>,
    /// si_uid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
}

/// Expected fields of a queue's file in the mqueue file system.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct MqStatusExpect {
    /// QSIZE: bytes of message text queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qsize: Option<u64>,
    /// NOTIFY: the registration's sigev_notify (0 SIGEV_SIGNAL, 1
    /// SIGEV_NONE, 2 SIGEV_THREAD; 0 without a registration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<i32>,
    /// SIGNO: the registered signal, or `none` (0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signo: Option<String>,
    /// NOTIFY_PID is the pid of this role (replica 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_pid_of: Option<String>,
    /// Someone is registered (NOTIFY_PID is not 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered: Option<bool>,
}

/// Expected properties of a new descriptor; only the ones given are compared.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct DescriptorExpect {
    /// It is the lowest descriptor number that was free before the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lowest: Option<bool>,
    /// FD_CLOEXEC is set (F_GETFD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloexec: Option<bool>,
    /// O_NONBLOCK is set (F_GETFL; `fcntl` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonblock: Option<bool>,
    /// O_DIRECT is set (F_GETFL; `fcntl` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct: Option<bool>,
    /// The call returned the descriptor it was given (`signalfd` on a
    /// made one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same: Option<bool>,
}

/// Expected IPC_STAT fields; only the ones given are compared.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct StatExpect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segsz: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nattch: Option<u64>,
    /// `sysv_sem`: the number of semaphores in the set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nsems: Option<u64>,
    /// `sysv_sem`: sem_otime, the last semop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otime: Option<TimeExpect>,
    /// `sysv_msg`: messages queued (msg_qnum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qnum: Option<u64>,
    /// `sysv_msg`: the byte limit (msg_qbytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qbytes: Option<u64>,
    /// `sysv_msg`: bytes queued (msg_cbytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cbytes: Option<u64>,
    /// `sysv_msg`: the last msgsnd was made by this role (replica 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lspid: Option<String>,
    /// `sysv_msg`: the last msgrcv was made by this role (replica 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lrpid: Option<String>,
    /// `sysv_msg`: msg_stime, the last msgsnd.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stime: Option<TimeExpect>,
    /// `sysv_msg`: msg_rtime, the last msgrcv.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtime: Option<TimeExpect>,
    /// Permission bits, e.g. `0o600` (SHM_DEST and SHM_LOCKED excluded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// SHM_DEST is set: removal requested, waiting for the last detach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dest: Option<bool>,
    /// SHM_LOCKED is set (by SHM_LOCK).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked: Option<bool>,
    /// The creator's pid equals the pid of this role (replica 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpid: Option<String>,
    /// The last shmat/shmdt was made by this role (replica 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lpid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// The key (SysV objects): `own`, the one the run made the object with,
    /// or `private` (0: IPC_PRIVATE, or removed while still attached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyExpect>,
    /// The creator's uid (SysV objects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuid: Option<u32>,
    /// The creator's gid (SysV objects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgid: Option<u32>,
    /// shm_atime: the last shmat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atime: Option<TimeExpect>,
    /// shm_dtime: the last shmdt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtime: Option<TimeExpect>,
    /// shm_ctime: creation or the last IPC_SET.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctime: Option<TimeExpect>,
}

/// What the key field of IPC_STAT holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyExpect {
    /// The key this run created the object with.
    Own,
    /// 0 (IPC_PRIVATE).
    Private,
}

/// What a time field of IPC_STAT holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeExpect {
    /// 0: the event never happened.
    Unset,
    /// Not 0.
    Set,
    /// Within a second of the moment the status was read.
    Now,
}

/// Expected IPC_INFO / SHM_INFO values; only the ones given are compared.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct InfoExpect {
    /// shmmax, shmall and shmmni equal /proc/sys/kernel/{shmmax,shmall,shmmni}
    /// read at the same moment (in this IPC namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agrees_with_sysctl: Option<bool>,
    /// SHMMIN, which Linux fixes at 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shmmin: Option<u64>,
    /// Segments in use in this IPC namespace (SHM_INFO used_ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_ids: Option<i64>,
    /// The *_INFO usage agrees with /proc/sysvipc read at the same moment,
    /// and a *_STAT_ANY scan of every index finds the same objects
    /// (*_STAT_ANY needs Linux 4.17: say `requires: { kernel: "4.17" }`).
    /// SHM_INFO: used_ids is the number of segments listed, shm_tot their
    /// pages and shm_rss their resident pages. SEM_INFO: semusz the sets
    /// listed and semaem their semaphores. MSG_INFO: msgpool the queues
    /// listed, msgmap their messages and msgtql their bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agrees_with_proc: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AddressExpect {
    /// Exactly the requested address.
    Requested,
    /// The requested address rounded down to a multiple of SHMLBA.
    RequestedRoundedDown,
    /// A multiple of SHMLBA, wherever it is.
    Aligned,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct After {
    /// Objects that must still exist after every role exited (persistence).
    #[serde(default)]
    pub exists: Vec<Sp<String>>,
    /// Objects that must be gone.
    #[serde(default)]
    pub gone: Vec<Sp<String>>,
    /// IPC_STAT fields of objects that still exist.
    #[serde(default)]
    pub stat: IndexMap<Sp<String>, Sp<StatExpect>>,
}

/// Where a negative test must fail.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MustFail {
    /// Why it must fail, for the person reading the test.
    pub because: String,
    /// The role whose step or exit must fail.
    #[serde(default)]
    pub role: Option<Sp<String>>,
    /// The 1-based step number in that role.
    #[serde(default)]
    pub step: Option<Sp<u32>>,
    /// Or: the failure is in a post-condition (`exists`, `gone`, `stat`),
    /// the role's exit, a leak or the timeout.
    #[serde(default)]
    pub check: Option<Sp<MustFailCheck>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MustFailCheck {
    Exists,
    Gone,
    Stat,
    Exit,
    Leak,
    Timeout,
}
