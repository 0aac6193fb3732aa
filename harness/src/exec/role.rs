//! The role interpreter: a fresh, single-threaded process (the harness
//! binary in its hidden `__role` mode, or a fork of another role) that
//! performs one role's steps, reports every outcome to the supervisor, and
//! stops at the first unmet expectation. It judges only to decide whether
//! to go on; the verdict is made from the trace.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::protocol::{Channel, Up};
use super::trace::{Outcome, Termination};
use crate::ipc::{Live, StepError};
use crate::plan::{
    BadDeadline, FileRef, KeyPlan, NotSignalfd, ObjectId, ObjectSpec, Op, Plan, RoleId, SendHow, SendTo, Sigev, SignalTarget, SigwaitVia,
    Start, Whence, for_instance, offset_for,
};
use crate::sys;

/// Exit status of a role that stopped at an unmet expectation.
pub const ABORT_STATUS: i32 = 125;
/// Exit status of a role in which the harness itself failed.
pub const ERROR_STATUS: i32 = 126;

/// Everything a role process needs, written by the supervisor before any
/// role starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunContext {
    pub plan: Plan,
    /// The run-unique SysV key of each object (`None` for IPC_PRIVATE,
    /// ftok-derived keys and kinds without keys).
    pub keys: Vec<Option<i32>>,
    /// The run-unique POSIX name of each `posix_shm` object.
    pub names: Vec<Option<String>>,
    pub run_dir: PathBuf,
    pub socket: String,
    pub exe: PathBuf,
    /// The supervisor's pid: roles it starts die with it.
    pub supervisor: i32,
}

impl RunContext {
    pub fn context_path(run_dir: &Path) -> PathBuf {
        run_dir.join("context.json")
    }

    /// Where every role's standard error goes (read into the trace), so no
    /// role holds the runner's pipes open.
    pub fn stderr_path(run_dir: &Path) -> PathBuf {
        run_dir.join("roles.stderr")
    }

    /// The command that starts one replica of a role as a fresh image.
    pub fn role_command(&self, role: RoleId, instance: u32) -> Command {
        let mut cmd = Command::new(&self.exe);
        cmd.arg("__role")
            .arg(Self::context_path(&self.run_dir))
            .arg(role.0.to_string())
            .arg(instance.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        cmd
    }
    /// Where a `file` object lives: the run folder, so its name is unique.
    pub fn object_file(&self, object: &str) -> PathBuf {
        self.run_dir.join("objects").join(object)
    }

    pub fn file_path(&self, name: &str) -> PathBuf {
        self.run_dir.join("files").join(name)
    }
}

/// Entry point of `ipc-harness __role CONTEXT ROLE INSTANCE`.
pub fn main(context: &Path, role: usize, instance: u32, resume: Option<usize>) -> i32 {
    if sys::reset_signal_dispositions().is_err() {
        return ERROR_STATUS;
    }
    // Modes in scenarios are exact: the caller's umask must not change
    // what shm_open (or later mkfifo, mq_open) creates.
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let ctx = match std::fs::read(context)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice::<RunContext>(&b).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(_) => return ERROR_STATUS,
    };
    let role = RoleId(role);
    if role.0 >= ctx.plan.roles.len() {
        return ERROR_STATUS;
    }
    let mut objects: Vec<Live> = ctx.plan.objects.iter().map(|o| Live::new(&o.spec)).collect();
    adopt_inherited(&mut objects);
    // A role the supervisor started dies with the supervisor, so a killed
    // supervisor leaves no role running (roles started by roles keep the
    // semantics of their parent's exit).
    // In a container the parent is Docker's shim; the supervisor has Docker
    // kill the container instead.
    let r = ctx.plan.role(role);
    if r.spawned_by.is_none() && r.container.is_none() && !sys::die_with_parent(ctx.supervisor) {
        return ERROR_STATUS;
    }
    // A resumed image already runs with the role's credentials.
    if let Some(c) = ctx.plan.role(role).credentials.filter(|_| resume.is_none()) {
        let res = sys::set_credentials(c.uid, c.gid).and_then(|()| if c.drop_capabilities { sys::drop_all_capabilities() } else { Ok(()) });
        if let Err(e) = res {
            return report_error(&ctx, role, instance, &format!("cannot take credentials uid {} gid {}: {e}", c.uid, c.gid));
        }
    }
    run(&ctx, role, instance, objects, resume)
}

fn report_error(ctx: &RunContext, role: RoleId, instance: u32, message: &str) -> i32 {
    if let Ok(mut ch) = Channel::connect(&ctx.socket) {
        let _ = ch.send(&Up::Hello { role, instance, pid: std::process::id() as i32, token: token(), resumed_after: None });
        let _ = ch.send(&Up::Error { message: message.to_owned() });
    }
    ERROR_STATUS
}

struct Interp<'a> {
    ctx: &'a RunContext,
    role: RoleId,
    instance: u32,
    chan: Channel,
    objects: Vec<Live>,
    children: Vec<(RoleId, Pid)>,
    /// The current step asks for the physical frame of a new mapping.
    want_frame: bool,
}

/// What a step leads to.
enum Flow {
    Outcome(Box<Outcome>),
    Exit(i32),
}

fn run(ctx: &RunContext, role: RoleId, instance: u32, objects: Vec<Live>, resume: Option<usize>) -> i32 {
    let chan = match Channel::connect(&ctx.socket) {
        Ok(c) => c,
        Err(_) => return ERROR_STATUS,
    };
    let mut it = Interp { ctx, role, instance, chan, objects, children: Vec::new(), want_frame: false };
    match it.run(resume) {
        Ok(code) => code,
        Err(e) => {
            let _ = it.chan.send(&Up::Error { message: e });
            ERROR_STATUS
        }
    }
}

fn io(e: std::io::Error) -> String {
    format!("lost the supervisor channel: {e}")
}

impl Interp<'_> {
    fn run(&mut self, resume: Option<usize>) -> Result<i32, String> {
        let hello =
            Up::Hello { role: self.role, instance: self.instance, pid: std::process::id() as i32, token: token(), resumed_after: resume };
        self.chan.send(&hello).map_err(io)?;
        let plan = &self.ctx.plan;
        // Process settings the role asks for (a resumed image inherited them).
        if resume.is_none() {
            let r = plan.role(self.role);
            // First the namespaces: what the steps create, and the sysctls
            // they read or write, are then the new namespace's.
            if r.unshare.ipc {
                super::isolation::enter_role_namespaces(r.unshare.mount, &self.ctx.run_dir.join("mqueue"))
                    .map_err(|e| format!("cannot unshare: {e}"))?;
            }
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(r.umask));
            // A forked role starts from defaults too, not its parent's handlers.
            sys::reset_signal_dispositions().map_err(|e| format!("cannot reset signal dispositions: {e}"))?;
            if let Some(spare) = r.spare_descriptors {
                sys::limit_open_files(sys::limit_leaving(spare)).map_err(|e| format!("cannot lower RLIMIT_NOFILE: {e}"))?;
            }
            // No core files unless the scenario asks, and then in the run's
            // folder (with a core_pattern naming a file, it lands in the cwd).
            std::env::set_current_dir(self.ctx.run_dir.join("objects")).map_err(|e| format!("cannot enter the run folder: {e}"))?;
            for (name, resource, limit) in [
                ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE as i32, r.rlimits.msgqueue),
                ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING as i32, r.rlimits.sigpending),
            ] {
                if let Some(limit) = limit {
                    sys::set_rlimit(resource, limit).map_err(|e| format!("cannot lower {name} to {limit}: {e}"))?;
                }
            }
            let core = r.rlimits.core.unwrap_or(0);
            sys::set_soft_rlimit(libc::RLIMIT_CORE as i32, core).map_err(|e| format!("cannot set RLIMIT_CORE to {core}: {e}"))?;
        }
        // Blocked signals survive exec; a fresh role blocks what it waits for.
        if resume.is_none() {
            let blocked: Vec<i32> = plan.role(self.role).block.iter().filter_map(|s| sys::signal_from_name(s)).collect();
            sys::block_signals(&blocked).map_err(|e| format!("cannot block {blocked:?}: {e}"))?;
        }
        // Handlers do not survive exec, so a resumed image installs them again.
        let r = plan.role(self.role);
        for (s, restart) in r.catch.iter().map(|s| (s, false)).chain(r.catch_restart.iter().map(|s| (s, true))) {
            let sig = sys::signal_from_name(s).ok_or_else(|| format!("unknown signal {s}"))?;
            sys::catch_signal(sig, restart).map_err(|e| format!("cannot catch {s}: {e}"))?;
        }
        for s in &r.ignore {
            let sig = sys::signal_from_name(s).ok_or_else(|| format!("unknown signal {s}"))?;
            sys::ignore_signal(sig).map_err(|e| format!("cannot ignore {s}: {e}"))?;
        }
        // Where the supervisor mounted the run's own mqueue file system.
        let mqueue = self.ctx.run_dir.join("mqueue");
        if mqueue.is_dir() {
            crate::ipc::posix_mq::set_dir(mqueue);
        }
        let shmlba = sys::shmlba() as u64;
        // The `exec` step succeeded: this image is its outcome.
        if let Some(step) = resume {
            self.chan.send(&Up::StepDone { step, outcome: Box::new(Outcome::ok(0)) }).map_err(io)?;
        }
        let first = resume.map_or(0, |s| s + 1);
        for (i, step) in plan.role(self.role).steps.iter().enumerate().skip(first) {
            self.chan.send(&Up::StepStart { step: i }).map_err(io)?;
            self.want_frame = step.expect.same_frame_as.is_some() || step.expect.record_frame;
            let flow = self.perform(&step.op).map_err(|e| format!("step {} ({}, line {}): {e}", i + 1, step.op.name(), step.loc.line))?;
            match flow {
                Flow::Exit(code) => return Ok(code),
                Flow::Outcome(o) => {
                    let unmet = crate::check::step(&step.expect, &o, self.instance, shmlba, &|_| None).is_err();
                    self.chan.send(&Up::StepDone { step: i, outcome: o }).map_err(io)?;
                    if unmet {
                        self.chan.send(&Up::Abort { step: i }).map_err(io)?;
                        return Ok(ABORT_STATUS);
                    }
                }
            }
        }
        // Children nobody waited for are reaped here, so their ends are known.
        while let Some((_, pid)) = self.children.pop() {
            self.reap(pid)?;
        }
        Ok(0)
    }

    fn perform(&mut self, op: &Op) -> Result<Flow, String> {
        let res = match op {
            Op::Signal { event } => self.sync(Up::Signal { event: *event }, false),
            Op::Wait { event, count } => self.sync(Up::Wait { event: *event, count: *count }, true),
            Op::Barrier { barrier } => self.sync(Up::Barrier { barrier: *barrier }, true),
            Op::WaitBlocked { role, instance, until, stopped } => (*instance..*until)
                .try_for_each(|instance| self.sync(Up::WaitBlocked { role: *role, instance, stopped: *stopped }, true).map(drop))
                .map(|()| Outcome::ok(0)),
            Op::Spawn { role } => return self.spawn(*role),
            Op::SendSignal { how, to, signal, value, repeat } => self.send_signal(*how, *to, signal, *value, *repeat),
            Op::Exec { step } => {
                // Only returns if execve failed.
                self.sync(Up::Exec, true).map_err(|e| e.to_string())?;
                let mut cmd = self.ctx.role_command(self.role, self.instance);
                cmd.arg("--resume").arg(step.to_string()).env(INHERITED_VAR, self.inheritable_fds());
                let e = std::os::unix::process::CommandExt::exec(&mut cmd);
                return Err(format!("execve of the harness failed: {e}"));
            }
            Op::WaitExit { role } => {
                let mine: Vec<Pid> = self.children.iter().filter(|(r, _)| r == role).map(|(_, p)| *p).collect();
                self.children.retain(|(r, _)| r != role);
                for pid in mine {
                    self.reap(pid)?;
                }
                Ok(Outcome::ok(0))
            }
            Op::Exit { code } => return Ok(Flow::Exit(*code)),
            Op::Crash { signal } => {
                let sig = sys::signal_from_name(signal).ok_or_else(|| format!("unknown signal {signal}"))?;
                sys::raise_default(sig).map_err(|e| format!("raise failed: {e}"))?;
                return Err(format!("{signal} did not end the process (its default action is not to terminate)"));
            }
            Op::Shmctl { object, .. } | Op::Semctl { object, .. } | Op::Msgctl { object, .. } => {
                // A status is compared with the key this run gave the object.
                let own_key = self.sysv_key(*object).ok().map(i64::from);
                self.ipc(op).map(|o| Outcome { own_key: o.stat.as_ref().and(own_key), ..o })
            }
            _ => self.ipc(op),
        };
        match res {
            Ok(o) => Ok(Flow::Outcome(Box::new(o))),
            Err(StepError::Errno(e)) => Ok(Flow::Outcome(Box::new(Outcome::err(e)))),
            Err(StepError::Misuse(m)) => Err(m),
        }
    }

    fn sync(&mut self, msg: Up, wait: bool) -> Result<Outcome, StepError> {
        let lost = |e: std::io::Error| StepError::Misuse(io(e));
        self.chan.send(&msg).map_err(lost)?;
        if wait {
            self.chan.await_go().map_err(lost)?;
        }
        Ok(Outcome::ok(0))
    }

    fn posix_name(&self, o: ObjectId) -> Result<String, StepError> {
        self.ctx.names.get(o.0).cloned().flatten().ok_or_else(kind_error)
    }

    /// Where a POSIX semaphore is: inside its mapping, or where sem_open
    /// put it.
    fn sem_addr(&self, object: ObjectId) -> Result<usize, StepError> {
        match self.ctx.plan.object(object).spec {
            ObjectSpec::PosixSem { place: Some((o, offset)), .. } => {
                Ok(self.objects[o.0].mapping().ok_or_else(|| not_mapped(self.name(o)))?.addr + offset as usize)
            }
            _ => match &self.objects[object.0] {
                Live::PosixSem(l) => {
                    l.addr.ok_or_else(|| StepError::Misuse(format!("`{}` is not open: run `sem_open`", self.name(object))))
                }
                _ => Err(kind_error()),
            },
        }
    }

    /// A POSIX queue's declared mq_msgsize: a receive buffer that is enough.
    fn mq_msgsize(&self, object: ObjectId) -> usize {
        match self.ctx.plan.object(object).spec {
            ObjectSpec::PosixMq { msgsize, .. } => usize::try_from(msgsize).unwrap_or(0),
            _ => 0,
        }
    }

    /// The key a SysV object is created or looked up with.
    fn sysv_key(&self, object: ObjectId) -> Result<sys::Key, StepError> {
        let plan = &self.ctx.plan;
        Ok(match plan.object(object).spec.sysv_key().ok_or_else(kind_error)? {
            KeyPlan::Private => libc::IPC_PRIVATE,
            KeyPlan::Generated => self.ctx.keys.get(object.0).copied().flatten().ok_or_else(kind_error)?,
            KeyPlan::Ftok { file, proj } => sys::ftok(&self.ctx.file_path(&plan.files[file.0].name), *proj)?,
        })
    }

    /// A SysV object got its id: the ledger learns of it before anything
    /// uses it. The step's value is the id.
    fn created(&mut self, object: ObjectId, id: i32, key: sys::Key) -> Result<Outcome, StepError> {
        self.chan.send(&Up::Created { object, id: i64::from(id), key: i64::from(key) }).map_err(|e| StepError::Misuse(io(e)))?;
        Ok(Outcome::ok(i64::from(id)))
    }

    fn name(&self, o: ObjectId) -> &str {
        &self.ctx.plan.object(o).name
    }

    /// The operations of the IPC kinds.
    fn ipc(&mut self, op: &Op) -> Result<Outcome, StepError> {
        let plan = &self.ctx.plan;
        match op {
            Op::Ftok { file, proj } => {
                let path = match file {
                    FileRef::Declared(f) => self.ctx.file_path(&plan.files[f.0].name),
                    FileRef::Missing(name) => self.ctx.file_path(name),
                };
                Ok(Outcome::ok(i64::from(sys::ftok(&path, *proj)?)))
            }
            Op::Shmget { object, flags, size, mode: shmflg_mode } => {
                let ObjectSpec::SysvShm { size: decl_size, mode, .. } = &plan.object(*object).spec else { return Err(kind_error()) };
                let key = self.sysv_key(*object)?;
                let Live::SysvShm(l) = &mut self.objects[object.0] else { return Err(kind_error()) };
                let id = l.shmget(key, size.unwrap_or(*decl_size), *flags | shmflg_mode.unwrap_or(*mode) as i32)?;
                self.created(*object, id, key)
            }
            Op::Semget { object, flags, nsems, mode: semflg_mode } => {
                let ObjectSpec::SysvSem { nsems: decl_nsems, mode, .. } = &plan.object(*object).spec else { return Err(kind_error()) };
                let key = self.sysv_key(*object)?;
                let Live::SysvSem(l) = &mut self.objects[object.0] else { return Err(kind_error()) };
                let id = l.semget(key, nsems.unwrap_or(*decl_nsems), *flags | semflg_mode.unwrap_or(*mode) as i32)?;
                self.created(*object, id, key)
            }
            Op::Semop { object, ops, timeout_ms, repeat, id, faults } => {
                let name = self.name(*object).to_owned();
                let Live::SysvSem(l) = &self.objects[object.0] else { return Err(kind_error()) };
                let faults = sys::SemopFaults { ops: faults.0, timeout: faults.1 };
                repeated(*repeat, || l.semop(&name, *id, ops, timeout_ms.map(std::time::Duration::from_millis), faults))
            }
            Op::SemOpen { object, flags, value, mode } => {
                let name = self.posix_name(*object)?;
                let value = u32::try_from(*value).map_err(|_| sys::Errno::EINVAL)?;
                let addr = sys::sem_open(&name, *flags, *mode, value)?;
                let Live::PosixSem(l) = &mut self.objects[object.0] else { return Err(kind_error()) };
                l.addr = Some(addr);
                Ok(Outcome::ok(0))
            }
            Op::SemInit { object, value } => {
                let ret = sys::sem_init(self.sem_addr(*object)?, u32::try_from(*value).map_err(|_| sys::Errno::EINVAL)?)?;
                Ok(Outcome::ok(i64::from(ret)))
            }
            Op::SemPost { object, repeat } => {
                let addr = self.sem_addr(*object)?;
                repeated(*repeat, || Ok(Outcome::ok(sys::sem_post(addr)?.into())))
            }
            Op::SemTrywait { object } => Ok(Outcome::ok(i64::from(sys::sem_trywait(self.sem_addr(*object)?)?))),
            Op::SemGetvalue { object } => Ok(Outcome::ok(i64::from(sys::sem_getvalue(self.sem_addr(*object)?)?))),
            Op::SemDestroy { object } => Ok(Outcome::ok(i64::from(sys::sem_destroy(self.sem_addr(*object)?)?))),
            Op::SemClose { object } => {
                let ret = sys::sem_close(self.sem_addr(*object)?)?;
                if let Live::PosixSem(l) = &mut self.objects[object.0] {
                    l.addr = None;
                }
                Ok(Outcome::ok(i64::from(ret)))
            }
            Op::SemUnlink { object } => Ok(Outcome::ok(i64::from(sys::sem_unlink(&self.posix_name(*object)?)?))),
            Op::SemWait { object, timeout_ms, deadline: bad, repeat } => {
                let addr = self.sem_addr(*object)?;
                let deadline = deadline(*timeout_ms, *bad);
                repeated(*repeat, || Ok(Outcome::ok(sys::sem_wait(addr, deadline)?.into())))
            }
            Op::MqOpen { object, flags, mode, default_attr } => {
                let path = self.posix_name(*object)?;
                let ObjectSpec::PosixMq { mode: decl_mode, maxmsg, msgsize, .. } = plan.object(*object).spec else {
                    return Err(kind_error());
                };
                let attr = (!default_attr).then_some((maxmsg, msgsize));
                let Live::PosixMq(l) = &mut self.objects[object.0] else { return Err(kind_error()) };
                l.open(&path, *flags, mode.unwrap_or(decl_mode), attr)
            }
            Op::MqSend { object, data, prio, timeout_ms, deadline: bad, descriptor, bad_buffer } => {
                let name = self.name(*object).to_owned();
                let Live::PosixMq(l) = &self.objects[object.0] else { return Err(kind_error()) };
                let data = for_instance(data, self.instance);
                timed(|| l.send(&name, *descriptor, &data, *prio, deadline(*timeout_ms, *bad), *bad_buffer))
            }
            Op::MqReceive { object, len, timeout_ms, deadline: bad, descriptor, bad_buffer } => {
                let name = self.name(*object).to_owned();
                let ObjectSpec::PosixMq { msgsize, .. } = plan.object(*object).spec else { return Err(kind_error()) };
                let len = usize::try_from(len.unwrap_or(msgsize.max(0) as u64)).map_err(|_| sys::Errno::EINVAL)?;
                let Live::PosixMq(l) = &self.objects[object.0] else { return Err(kind_error()) };
                timed(|| l.receive(&name, *descriptor, len, deadline(*timeout_ms, *bad), *bad_buffer))
            }
            Op::MqGetattr { object, descriptor } => {
                let name = self.name(*object).to_owned();
                let Live::PosixMq(l) = &self.objects[object.0] else { return Err(kind_error()) };
                l.getattr(&name, *descriptor)
            }
            Op::MqSetattr { object, nonblock, ignored, descriptor } => {
                let name = self.name(*object).to_owned();
                let Live::PosixMq(l) = &self.objects[object.0] else { return Err(kind_error()) };
                l.setattr(&name, *descriptor, *nonblock, *ignored)
            }
            Op::MqNotify { object, signal, sigev, value, descriptor } => {
                let name = self.name(*object).to_owned();
                let how = match (signal.as_deref(), sigev) {
                    (Some(s), _) => sys::Notify::Signal(sys::signal_from_name(s).ok_or_else(kind_error)?, *value),
                    (None, None) => sys::Notify::Unregister,
                    (None, Some(Sigev::None)) => sys::Notify::Nothing,
                    (None, Some(Sigev::Thread)) => sys::Notify::Thread(*value),
                    (None, Some(Sigev::Invalid)) => sys::Notify::Invalid,
                    // The kernel's _NSIG is 64; valid_signal() refuses more.
                    (None, Some(Sigev::SignalOutOfRange)) => sys::Notify::Signal(65, *value),
                };
                let Live::PosixMq(l) = &self.objects[object.0] else { return Err(kind_error()) };
                l.notify(&name, *descriptor, how)
            }
            Op::MqClose { object, descriptor } => {
                let name = self.name(*object).to_owned();
                let Live::PosixMq(l) = &mut self.objects[object.0] else { return Err(kind_error()) };
                l.close(&name, *descriptor)
            }
            Op::MqStatus { object } => {
                let status = crate::ipc::posix_mq::status(&self.posix_name(*object)?)?;
                Ok(Outcome { mq_status: Some(status), ..Outcome::ok(0) })
            }
            Op::WaitNotification { timeout_ms } => {
                Ok(Outcome::ok(sys::wait_thread_notification(std::time::Duration::from_millis(*timeout_ms))?.into()))
            }
            Op::MqUnlink { object } => Ok(Outcome::ok(sys::mq_unlink(&self.posix_name(*object)?)?.into())),
            Op::Sigwait { signalfd: Some(object), timeout_ms, .. } => {
                let t = std::time::Duration::from_millis(*timeout_ms);
                let fd = self.stream(*object)?.end(Some(crate::plan::PipeEnd::Read))?;
                timed(|| {
                    let info = sys::read_signalfd_from(fd, t)?;
                    Ok(Outcome { siginfo: Some(info), ..Outcome::ok(i64::from(info.value)) })
                })
            }
            Op::Signalfd { object, signals, flags, descriptor } => {
                let sigs = signal_numbers(signals)?;
                // A regular file's descriptor, held for the call.
                let file = match descriptor {
                    Some(NotSignalfd::NotSignalfd) => Some(
                        std::fs::File::open(RunContext::context_path(&self.ctx.run_dir))
                            .map_err(|e| StepError::Misuse(format!("cannot open a regular file: {e}")))?,
                    ),
                    _ => None,
                };
                let Live::Pipe(l) = &mut self.objects[object.0] else { return Err(kind_error()) };
                let given = match descriptor {
                    Some(NotSignalfd::MinusTwo) => Some(-2),
                    Some(NotSignalfd::NotSignalfd) => file.as_ref().map(std::os::fd::AsRawFd::as_raw_fd),
                    None => l.read.as_ref().map(std::os::fd::AsRawFd::as_raw_fd),
                };
                let (made, ret) = sys::signalfd(given, &sigs, *flags)?;
                if let Some(fd) = made {
                    l.read = Some(fd);
                }
                let descriptor = super::trace::Descriptor { fd: ret, lowest_free: -1, cloexec: false, status: None, previous: given };
                Ok(Outcome { descriptor: Some(descriptor), ..Outcome::ok(i64::from(ret)) })
            }
            Op::Sigwait { signals, timeout_ms, via, no_info, bad_address, .. } => {
                let sigs = signal_numbers(signals)?;
                let t = std::time::Duration::from_millis(*timeout_ms);
                let how = match (via, bad_address) {
                    (_, Some(arg)) => sys::SigWait::BadAddress(t, *arg),
                    (SigwaitVia::Sigtimedwait, None) => sys::SigWait::Timed(t),
                    (SigwaitVia::Sigwaitinfo, None) => sys::SigWait::Info,
                    (SigwaitVia::Sigwait, None) => sys::SigWait::Plain,
                    (SigwaitVia::Signalfd, None) => sys::SigWait::Fd(t),
                };
                timed(|| {
                    let info = sys::wait_signal(&sigs, how, *no_info)?;
                    Ok(Outcome { siginfo: Some(info), ..Outcome::ok(i64::from(info.value)) })
                })
            }
            Op::Handled { signal } => {
                let (count, mut list) = sys::handled();
                if let Some(s) = signal {
                    let sig = sys::signal_from_name(s).ok_or_else(kind_error)?;
                    list.retain(|i| i.signo == sig);
                }
                let count = if signal.is_some() { list.len() } else { count };
                Ok(Outcome { received: Some(list), ..Outcome::ok(count as i64) })
            }
            Op::TakePending { signals } => {
                let list = sys::take_pending(&signal_numbers(signals)?)?;
                Ok(Outcome { received: Some(list.clone()), ..Outcome::ok(list.len() as i64) })
            }
            Op::Msgget { object, flags, mode: msgflg_mode } => {
                let ObjectSpec::SysvMsg { mode, .. } = &plan.object(*object).spec else { return Err(kind_error()) };
                let key = self.sysv_key(*object)?;
                let Live::SysvMsg(l) = &mut self.objects[object.0] else { return Err(kind_error()) };
                let id = l.msgget(key, *flags | msgflg_mode.unwrap_or(*mode) as i32)?;
                self.created(*object, id, key)
            }
            Op::Msgsnd { object, mtype, data, nowait, id, bad_buffer, msgsz } => {
                let name = self.name(*object).to_owned();
                let Live::SysvMsg(l) = &self.objects[object.0] else { return Err(kind_error()) };
                let faults = crate::ipc::sysv_msg::MsgFaults { invalid_id: *id, bad_buffer: *bad_buffer, msgsz: *msgsz };
                l.msgsnd(&name, faults, *mtype, &for_instance(data, self.instance), *nowait)
            }
            Op::Msgrcv { object, msgtyp, len, flags, id, bad_buffer, msgsz } => {
                let name = self.name(*object).to_owned();
                let Live::SysvMsg(l) = &self.objects[object.0] else { return Err(kind_error()) };
                let faults = crate::ipc::sysv_msg::MsgFaults { invalid_id: *id, bad_buffer: *bad_buffer, msgsz: *msgsz };
                l.msgrcv(&name, faults, *msgtyp, *len, *flags)
            }
            Op::PingPong { object, back, rounds, first } => {
                let name = self.name(*object).to_owned();
                match (&self.objects[object.0], back) {
                    (Live::SysvSem(l), None) => l.ping_pong(&name, *rounds, *first),
                    (Live::SysvMsg(l), None) => l.ping_pong(&name, *rounds, *first),
                    (Live::PosixMq(l), Some(b)) => {
                        let Live::PosixMq(lb) = &self.objects[b.0] else { return Err(kind_error()) };
                        let len = self.mq_msgsize(*object).max(self.mq_msgsize(*b));
                        l.ping_pong(&name, (lb, self.name(*b)), len, *rounds, *first)
                    }
                    (Live::PosixSem(_), Some(b)) => {
                        let (a, b) = (self.sem_addr(*object)?, self.sem_addr(*b)?);
                        let (mine, theirs) = if *first { (a, b) } else { (b, a) };
                        crate::ipc::handoff::ping_pong_semaphores(
                            *rounds,
                            *first,
                            || sys::sem_post(mine).map(drop).map_err(StepError::from),
                            || sys::sem_wait(theirs, None).map(drop).map_err(StepError::from),
                            || sys::sem_getvalue(mine).map(i64::from).map_err(StepError::from),
                        )
                    }
                    _ => Err(kind_error()),
                }
            }
            Op::SendNumbered { object, messages, mtype, prio } => {
                let name = self.name(*object).to_owned();
                match &self.objects[object.0] {
                    Live::SysvMsg(l) => l.send_numbered(&name, self.instance, *messages, mtype.unwrap_or(i64::from(self.instance) + 1)),
                    Live::PosixMq(l) => l.send_numbered(&name, self.instance, *messages, *prio),
                    _ => Err(kind_error()),
                }
            }
            Op::ReceiveNumbered { object, messages, per_producer, alone } => {
                let name = self.name(*object).to_owned();
                match &self.objects[object.0] {
                    Live::SysvMsg(l) => l.receive_numbered(&name, *messages, *per_producer, *alone),
                    Live::PosixMq(l) => l.receive_numbered(&name, self.mq_msgsize(*object), *messages, *per_producer, *alone),
                    _ => Err(kind_error()),
                }
            }
            Op::Msgctl { object, cmd, set, id, bad_buffer } => {
                let name = self.name(*object).to_owned();
                let Live::SysvMsg(l) = &self.objects[object.0] else { return Err(kind_error()) };
                l.msgctl(&name, *cmd, *set, *id, *bad_buffer)
            }
            Op::Semctl { object, cmd, sem, value, values, set, id, bad_buffer } => {
                let name = self.name(*object).to_owned();
                let Live::SysvSem(l) = &self.objects[object.0] else { return Err(kind_error()) };
                let call = crate::ipc::sysv_sem::Semctl {
                    cmd: *cmd,
                    sem: *sem,
                    value: *value,
                    values: values.as_deref(),
                    set: *set,
                    invalid_id: *id,
                    bad_buffer: *bad_buffer,
                };
                l.semctl(&name, call)
            }
            Op::Shmat { object, at, rdonly, rnd, remap, id, over } => {
                let name = self.name(*object).to_owned();
                let at = match over {
                    Some(o) => {
                        crate::plan::AttachAt::Address(self.objects[o.0].mapping().ok_or_else(|| not_mapped(self.name(*o)))?.addr as u64)
                    }
                    None => *at,
                };
                let Live::SysvShm(l) = &mut self.objects[object.0] else { return Err(kind_error()) };
                let (addr, requested) = l.shmat(&name, at, *rdonly, *rnd, *remap, *id)?;
                Ok(Outcome {
                    address: Some((addr as u64, requested as u64)),
                    mapping: Some(Box::new(observe_mapping(addr, self.want_frame))),
                    ..Outcome::ok(0)
                })
            }
            Op::Shmdt { object, offset, unattached } => {
                let name = self.name(*object).to_owned();
                let Live::SysvShm(l) = &mut self.objects[object.0] else { return Err(kind_error()) };
                let ret = if *unattached { l.shmdt_unattached()? } else { l.shmdt(&name, *offset)? };
                Ok(Outcome::ok(ret.into()))
            }
            Op::Shmctl { object, cmd, set, id, bad_buffer } => {
                let name = self.name(*object).to_owned();
                let Live::SysvShm(l) = &mut self.objects[object.0] else { return Err(kind_error()) };
                l.shmctl(&name, *cmd, *set, *id, *bad_buffer)
            }
            Op::Sysctl { name, value } => {
                let path = crate::plan::probe::sysctl_path(name).ok_or_else(kind_error)?;
                let errno = |e: std::io::Error| StepError::Errno(sys::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)));
                match value {
                    Some(v) => {
                        std::fs::write(&path, v).map_err(errno)?;
                        Ok(Outcome::ok(0))
                    }
                    None => {
                        let text = std::fs::read_to_string(&path).map_err(errno)?;
                        let numbers: Option<Vec<i64>> = text.split_whitespace().map(|w| w.parse::<i64>().ok()).collect();
                        match numbers.filter(|n| !n.is_empty()) {
                            Some(n) => Ok(Outcome { values: Some(n.clone()), ..Outcome::ok(n[0]) }),
                            None => Err(StepError::Misuse(format!("{name} reads `{}`, not numbers that fit 64 signed bits", text.trim()))),
                        }
                    }
                }
            }
            Op::Mprotect { object, offset, len, prot } => {
                let m = self.objects[object.0].mapping().ok_or_else(|| not_mapped(&plan.object(*object).name))?;
                Ok(Outcome::ok(sys::mprotect(m.addr + *offset as usize, *len as usize, *prot)?.into()))
            }
            Op::Mmap { object, over, noreplace } => {
                let at = match over {
                    None => sys::Placement::Anywhere,
                    Some(o) => {
                        let m = self.objects[o.0]
                            .mapping()
                            .ok_or_else(|| StepError::Misuse(format!("`{}` is not mapped in this process", self.name(*o))))?;
                        sys::Placement::Over { addr: m.addr, replace: !noreplace }
                    }
                };
                match &mut self.objects[object.0] {
                    Live::Mmap(l) => l.map(at)?,
                    Live::PosixShm(l) => l.map(at)?,
                    _ => return Err(kind_error()),
                }
                let want = self.want_frame;
                let mapping = self.objects[object.0].mapping().map(|m| Box::new(observe_mapping(m.addr, want)));
                Ok(Outcome { mapping, ..Outcome::ok(0) })
            }
            Op::Munmap { object } => {
                match &mut self.objects[object.0] {
                    Live::Mmap(l) => l.unmap()?,
                    Live::PosixShm(l) => l.unmap()?,
                    _ => return Err(kind_error()),
                }
                Ok(Outcome::ok(0))
            }
            Op::Pipe { object, flags, bad_buffer } => {
                let Live::Pipe(l) = &mut self.objects[object.0] else { return Err(kind_error()) };
                l.create(*flags, *bad_buffer)?;
                Ok(Outcome::ok(0))
            }
            Op::Mkfifo { object, mode } => {
                let ObjectSpec::Fifo { mode: decl_mode } = plan.object(*object).spec else { return Err(kind_error()) };
                let path = self.ctx.object_file(&plan.object(*object).name);
                nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_retain(mode.unwrap_or(decl_mode)))?;
                Ok(Outcome::ok(0))
            }
            Op::Open { object, flags, .. } if plan.object(*object).kind() == crate::plan::Kind::Fifo => {
                let path = self.ctx.object_file(&plan.object(*object).name);
                let Live::Pipe(l) = &mut self.objects[object.0] else { return Err(kind_error()) };
                timed(|| l.open_fifo(&path, flags.fifo_oflag()).map(|()| Outcome::ok(0)))
            }
            Op::Fcntl { object, end } => {
                let l = self.stream(*object)?;
                let fd = l.end(*end)?;
                let flags = l.flags(*end)?;
                let descriptor = super::trace::Descriptor {
                    fd: std::os::fd::AsRawFd::as_raw_fd(&fd),
                    lowest_free: -1,
                    cloexec: flags.cloexec,
                    status: Some(flags.status),
                    previous: None,
                };
                Ok(Outcome { descriptor: Some(descriptor), ..Outcome::ok(i64::from(descriptor.fd)) })
            }
            Op::PipeSize { object, end, set } => Ok(Outcome::ok(sys::pipe_size(self.stream(*object)?.end(*end)?, *set)?.into())),
            Op::Fionread { object, end } => Ok(Outcome::ok(sys::fionread(self.stream(*object)?.end(*end)?)?.into())),
            Op::Lseek { object, end, whence, offset } => {
                let whence = match whence {
                    Whence::Set => nix::unistd::Whence::SeekSet,
                    Whence::Cur => nix::unistd::Whence::SeekCur,
                    Whence::End => nix::unistd::Whence::SeekEnd,
                };
                Ok(Outcome::ok(nix::unistd::lseek(self.stream(*object)?.end(*end)?, *offset, whence)?))
            }
            Op::Splice { from, to, len, nonblock, tee } => {
                let src = self.stream(*from)?.end(Some(crate::plan::PipeEnd::Read))?;
                let dst = self.stream(*to)?.end(Some(crate::plan::PipeEnd::Write))?;
                timed(|| Ok(Outcome::ok(sys::splice(src, dst, *len as usize, *nonblock, *tee)?)))
            }
            Op::Close { object, end } => {
                match (&mut self.objects[object.0], end) {
                    (Live::Pipe(l), Some(end)) => l.close(*end)?,
                    // A signalfd, kept as a read end.
                    (Live::Pipe(l), None) => l.close(crate::plan::PipeEnd::Read)?,
                    (Live::PosixShm(l), None) => l.close()?,
                    _ => return Err(kind_error()),
                }
                Ok(Outcome::ok(0))
            }
            Op::ShmOpen { object, flags, mode } => {
                let name = self.posix_name(*object)?;
                let ObjectSpec::PosixShm { mode: decl_mode, .. } = plan.object(*object).spec else { return Err(kind_error()) };
                let Live::PosixShm(l) = &mut self.objects[object.0] else { return Err(kind_error()) };
                let lowest_free = sys::lowest_free_fd();
                l.open(&name, *flags, mode.unwrap_or(decl_mode))?;
                descriptor_outcome(l, lowest_free)
            }
            Op::Ftruncate { object, size } => {
                let Live::PosixShm(l) = &mut self.objects[object.0] else { return Err(kind_error()) };
                let size = size.unwrap_or(l.size);
                l.ftruncate(size)?;
                Ok(Outcome::ok(0))
            }
            Op::Fallocate { object, size } => {
                let Live::PosixShm(l) = &mut self.objects[object.0] else { return Err(kind_error()) };
                let size = size.unwrap_or(l.size);
                l.fallocate(size)?;
                Ok(Outcome::ok(0))
            }
            Op::Fstat { object } => {
                let Live::PosixShm(l) = &mut self.objects[object.0] else { return Err(kind_error()) };
                let (size, stat) = l.fstat()?;
                Ok(Outcome { stat: Some(Box::new(stat)), ..Outcome::ok(size) })
            }
            Op::Open { object, flags, mode } => {
                let path = self.ctx.object_file(&plan.object(*object).name);
                let ObjectSpec::File { mode: decl_mode, .. } = plan.object(*object).spec else { return Err(kind_error()) };
                let Live::PosixShm(l) = &mut self.objects[object.0] else { return Err(kind_error()) };
                let lowest_free = sys::lowest_free_fd();
                l.open_file(&path, *flags, mode.unwrap_or(decl_mode))?;
                descriptor_outcome(l, lowest_free)
            }
            Op::MemfdCreate { object, cloexec } => {
                let name = plan.object(*object).name.clone();
                let Live::PosixShm(l) = &mut self.objects[object.0] else { return Err(kind_error()) };
                let lowest_free = sys::lowest_free_fd();
                l.memfd(&name, *cloexec)?;
                descriptor_outcome(l, lowest_free)
            }
            Op::Unlink { object } => {
                // A file or a FIFO node: both live in the run's folder.
                let path = self.ctx.object_file(&plan.object(*object).name);
                nix::unistd::unlink(&path)?;
                Ok(Outcome::ok(0))
            }
            Op::Msync { object, flags } => {
                let m = self.objects[object.0]
                    .mapping()
                    .ok_or_else(|| StepError::Misuse("the object is not mapped in this process".to_owned()))?;
                Ok(Outcome::ok(sys::msync(m.addr, m.len, *flags)?.into()))
            }
            Op::ShmUnlink { object } => Ok(Outcome::ok(i64::from(sys::shm_unlink(&self.posix_name(*object)?)?))),
            Op::Write { object, data, offset, stride, via_descriptor: true, .. } => {
                let Live::PosixShm(l) = &self.objects[object.0] else { return Err(kind_error()) };
                Ok(Outcome::ok(l.pwrite(offset_for(*offset, *stride, self.instance), &for_instance(data, self.instance))?))
            }
            Op::Read { object, len, offset, stride, via_descriptor: true, .. } => {
                let Live::PosixShm(l) = &self.objects[object.0] else { return Err(kind_error()) };
                let data = l.pread(offset_for(*offset, *stride, self.instance), *len)?;
                Ok(Outcome { data: Some(data.clone()), ..Outcome::ok(data.len() as i64) })
            }
            Op::Write { object, data, end, .. } if matches!(self.objects[object.0], Live::Pipe(_)) => {
                let data = for_instance(data, self.instance);
                timed(|| Ok(Outcome::ok(self.stream(*object)?.write_to(*end, &data)?)))
            }
            Op::Read { object, len, all, end, .. } if matches!(self.objects[object.0], Live::Pipe(_)) => timed(|| {
                let data = self.stream(*object)?.read_from(*end, *len, *all)?;
                Ok(Outcome { data: Some(data.clone()), ..Outcome::ok(data.len() as i64) })
            }),
            Op::Write { object, data, offset, stride, .. } => {
                let data = for_instance(data, self.instance);
                Ok(Outcome::ok(self.objects[object.0].transfer()?.write(offset_for(*offset, *stride, self.instance), &data)?))
            }
            Op::Fill { object, len, offset, byte } => {
                let data = vec![*byte; usize::try_from(*len).map_err(|_| StepError::Misuse("fill too large".to_owned()))?];
                Ok(Outcome::ok(self.objects[object.0].transfer()?.write(*offset, &data)?))
            }
            Op::Read { object, len, offset, stride, all, .. } => {
                let data = self.objects[object.0].transfer()?.read(offset_for(*offset, *stride, self.instance), *len, *all)?;
                Ok(Outcome { data: Some(data.clone()), ..Outcome::ok(data.len() as i64) })
            }
            Op::Publish { object, records, offset, fill_after_publish } => {
                let m = self.objects[object.0].mapping().ok_or_else(|| not_mapped(&plan.object(*object).name))?;
                let bound = spin_bound(plan.timeout_ms);
                Ok(Outcome::ok(crate::ipc::publish::publish(m, *offset, *records, *fill_after_publish, bound)?))
            }
            Op::Consume { object, records, offset } => {
                let m = self.objects[object.0].mapping().ok_or_else(|| not_mapped(&plan.object(*object).name))?;
                let bound = spin_bound(plan.timeout_ms);
                Ok(Outcome::ok(crate::ipc::publish::consume(m, *offset, *records, bound)?))
            }
            Op::Stress { object, rounds, writers } => {
                let m = self.objects[object.0].mapping().ok_or_else(|| not_mapped(&plan.object(*object).name))?;
                Ok(Outcome::ok(crate::ipc::stress::stress(m, *writers, self.instance, *rounds)))
            }
            Op::CheckPattern { object, round } => {
                let m = self.objects[object.0].mapping().ok_or_else(|| not_mapped(&plan.object(*object).name))?;
                Ok(Outcome::ok(crate::ipc::stress::check(m, *round)))
            }
            Op::Append { object, records, size, chunks, guard } => {
                let fd = match &self.objects[object.0] {
                    Live::PosixShm(l) => l.raw_fd()?,
                    Live::Pipe(l) => std::os::fd::AsRawFd::as_raw_fd(&l.end(Some(crate::plan::PipeEnd::Write))?),
                    _ => return Err(kind_error()),
                };
                let sem = match guard {
                    Some(g) => match &self.objects[g.0] {
                        Live::SysvSem(s) => Some(s.id.ok_or_else(|| StepError::Misuse("the guard has no id: run `semget`".to_owned()))?),
                        _ => return Err(kind_error()),
                    },
                    None => None,
                };
                let shape = crate::ipc::records::Shape { size: *size as usize, chunks: *chunks as usize };
                crate::ipc::records::append(fd, sem, shape, self.instance, *records)?;
                Ok(Outcome::ok(i64::from(*records)))
            }
            Op::CheckRecords { object, records, size } => {
                let (fd, stream) = match &self.objects[object.0] {
                    Live::PosixShm(l) => (l.raw_fd()?, false),
                    Live::Pipe(l) => (std::os::fd::AsRawFd::as_raw_fd(&l.end(Some(crate::plan::PipeEnd::Read))?), true),
                    _ => return Err(kind_error()),
                };
                let (examined, broken) = crate::ipc::records::check(fd, stream, *size as usize, u64::from(*records))?;
                Ok(Outcome { examined: Some(examined), ..Outcome::ok(broken as i64) })
            }
            // Synchronisation and process steps are handled by `perform`.
            _ => Err(kind_error()),
        }
    }

    /// Start every replica of `role`: forked children continue in this
    /// image with the child's steps; exec'd children are fresh images.
    fn spawn(&mut self, role: RoleId) -> Result<Flow, String> {
        let plan = &self.ctx.plan;
        let r = plan.role(role);
        let mut first = 0;
        for instance in 0..r.count {
            let pid = match r.start {
                Start::Fork => match sys::fork().map_err(|e| format!("fork failed: {e}"))? {
                    sys::Forked::Child => sys::exit_now(self.become_child(role, instance)),
                    sys::Forked::Parent(pid) => pid,
                },
                Start::Exec => {
                    let mut cmd = self.ctx.role_command(role, instance);
                    // Descriptors without close-on-exec (a memfd made so)
                    // cross the exec; tell the new image which is which.
                    cmd.env(INHERITED_VAR, self.inheritable_fds());
                    let child = cmd.spawn().map_err(|e| format!("cannot start role `{}`: {e}", r.name))?;
                    Pid::from_raw(child.id() as i32)
                }
            };
            if instance == 0 {
                first = pid.as_raw();
            }
            self.children.push((role, pid));
        }
        Ok(Flow::Outcome(Box::new(Outcome::ok(i64::from(first)))))
    }

    /// In a forked child: take the child role's identity, keep the objects
    /// (they are inherited), and talk to the supervisor on a connection of
    /// its own. The parent's connection is closed here, so that the
    /// supervisor sees the parent's end when the parent ends.
    fn become_child(&mut self, role: RoleId, instance: u32) -> i32 {
        let chan = match Channel::connect(&self.ctx.socket) {
            Ok(c) => c,
            Err(_) => return ERROR_STATUS,
        };
        drop(std::mem::replace(&mut self.chan, chan));
        self.role = role;
        self.instance = instance;
        self.children.clear();
        match self.run(None) {
            Ok(code) => code,
            Err(e) => {
                let _ = self.chan.send(&Up::Error { message: e });
                ERROR_STATUS
            }
        }
    }

    /// `kill`, `sigqueue` or `pidfd_send_signal`, made by this role: a
    /// role target's pid comes from the supervisor, which knows them all.
    fn send_signal(&mut self, how: SendHow, to: SendTo, signal: &str, value: Option<i32>, repeat: u32) -> Result<Outcome, StepError> {
        let sig = signal.parse::<i32>().ok().or_else(|| sys::signal_from_name(signal)).ok_or_else(kind_error)?;
        let pid = match to {
            SendTo::Role { role, instance } => {
                let lost = |e: std::io::Error| StepError::Misuse(io(e));
                self.chan.send(&Up::PidOf { role, instance }).map_err(lost)?;
                match self.chan.await_pid().map_err(lost)? {
                    0 => return Err(StepError::Misuse(format!("role `{}`#{instance} is not running", self.ctx.plan.role(role).name))),
                    pid => pid,
                }
            }
            SendTo::Target(SignalTarget::Group) => 0,
            // Above any pid_max (at most 2^22): no process has it.
            SendTo::Target(SignalTarget::Nonexistent) => i32::MAX,
            SendTo::Target(SignalTarget::IntMin) => i32::MIN,
            SendTo::Target(SignalTarget::MinusOne) => -1,
        };
        let sender = match how {
            SendHow::Kill => sys::Sender::Kill,
            SendHow::Sigqueue => sys::Sender::Sigqueue(value.unwrap_or(0)),
            SendHow::Pidfd => sys::Sender::Pidfd(value),
            SendHow::Tkill => sys::Sender::Tkill,
            SendHow::Tgkill => sys::Sender::Tgkill,
        };
        repeated(repeat, || Ok(Outcome::ok(sys::send_signal(sender, pid, sig)?.into())))
    }

    /// A pipe or FIFO of this role.
    fn stream(&self, object: ObjectId) -> Result<&crate::ipc::pipe::Live, StepError> {
        match &self.objects[object.0] {
            Live::Pipe(l) => Ok(l),
            _ => Err(kind_error()),
        }
    }

    /// `object:fd,...` for this role's open memfds whose descriptor is not
    /// close-on-exec, and `object:r:fd` / `object:w:fd` for every open pipe
    /// or FIFO end (the new image finds out which ones the exec closed).
    fn inheritable_fds(&self) -> String {
        use std::os::fd::AsRawFd;
        let mut out = Vec::new();
        for (i, l) in self.objects.iter().enumerate() {
            match l {
                Live::PosixShm(p) if self.ctx.plan.objects[i].kind() == crate::plan::Kind::Memfd => {
                    let open =
                        p.fd.as_ref()
                            .filter(|fd| nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).is_ok_and(|f| f & libc::FD_CLOEXEC == 0));
                    out.extend(open.map(|fd| format!("{i}:{}", fd.as_raw_fd())));
                }
                Live::Pipe(p) => {
                    out.extend(p.read.as_ref().map(|fd| format!("{i}:r:{}", fd.as_raw_fd())));
                    out.extend(p.write.as_ref().map(|fd| format!("{i}:w:{}", fd.as_raw_fd())));
                }
                _ => {}
            }
        }
        out.join(",")
    }

    fn reap(&mut self, pid: Pid) -> Result<(), String> {
        let termination = match sys::wait_end(pid.as_raw(), false) {
            Ok(Some((_, end))) => Termination::from(end),
            Ok(None) => return Err(format!("waitpid({pid}) returned no status")),
            Err(e) => return Err(format!("waitpid({pid}) failed: {e}")),
        };
        self.chan.send(&Up::ChildExited { pid: pid.as_raw(), termination }).map_err(io)
    }
}

/// A new mapping as `/proc` shows it. With `touch` (only when a step asks
/// for the frame) the first byte is read so the page is present: reading
/// could fault for a mapping longer than its object, so it is never done
/// otherwise.
fn observe_mapping(addr: usize, touch: bool) -> (String, u64) {
    let line = super::procfs::maps_line(addr);
    let frame = if touch {
        let _ = sys::read_mapped(addr, 1);
        super::procfs::frame_of(addr)
    } else {
        0
    };
    (line, frame)
}

/// Which inherited descriptors belong to which object (set by the parent
/// role for an exec'd child).
const INHERITED_VAR: &str = "IPC_HARNESS_INHERITED_FDS";

fn adopt_inherited(objects: &mut [Live]) {
    let Ok(list) = std::env::var(INHERITED_VAR) else { return };
    for entry in list.split(',').filter(|p| !p.is_empty()) {
        let fields: Vec<&str> = entry.split(':').collect();
        let (o, end, fd) = match fields[..] {
            [o, fd] => (o, None, fd),
            [o, "r", fd] => (o, Some(crate::plan::PipeEnd::Read), fd),
            [o, "w", fd] => (o, Some(crate::plan::PipeEnd::Write), fd),
            _ => continue,
        };
        let (Ok(o), Ok(fd)) = (o.parse::<usize>(), fd.parse::<i32>()) else { continue };
        match (objects.get_mut(o), end) {
            (Some(Live::PosixShm(l)), None) => l.fd = sys::adopt_inherited_fd(fd).ok(),
            (Some(Live::Pipe(l)), Some(end)) => match sys::adopt_inherited_fd(fd) {
                Ok(owned) if end == crate::plan::PipeEnd::Read => l.read = Some(owned),
                Ok(owned) => l.write = Some(owned),
                // Close-on-exec: the kernel closed it in this new image.
                Err(e) => l.closed_by_exec.push((end, e)),
            },
            _ => {}
        }
    }
}

/// The run's token, inherited through the environment (exec) or memory (fork).
fn token() -> String {
    std::env::var(super::protocol::TOKEN_VAR).unwrap_or_default()
}

/// The outcome of a call that made a descriptor: the call returns it.
fn descriptor_outcome(l: &crate::ipc::posix_shm::Live, lowest_free: i32) -> Result<Outcome, StepError> {
    let (fd, cloexec) = l.descriptor()?;
    Ok(Outcome {
        descriptor: Some(super::trace::Descriptor { fd, lowest_free, cloexec, status: None, previous: None }),
        ..Outcome::ok(i64::from(fd))
    })
}

/// How long a publication side spins for its peer: longer than the
/// scenario's timeout, so that a peer that never comes is reported by the
/// watchdog (a timeout, with the stuck role and step) rather than as the
/// harness giving up inside the role.
fn spin_bound(timeout_ms: u64) -> std::time::Duration {
    std::time::Duration::from_millis(timeout_ms.saturating_mul(2).saturating_add(1000))
}

/// The deadline of a timed call: `timeout` from now, or an unusual one.
fn deadline(timeout_ms: Option<u64>, bad: Option<BadDeadline>) -> Option<sys::Deadline> {
    match bad {
        Some(fixed) => Some(sys::Deadline::Fixed(fixed)),
        None => timeout_ms.map(|ms| sys::Deadline::In(std::time::Duration::from_millis(ms))),
    }
}

/// Make a call `repeat` times, stopping at the first failure: the last
/// outcome, timed over all of them, with how many calls were asked for.
fn repeated(repeat: u32, mut call: impl FnMut() -> Result<Outcome, StepError>) -> Result<Outcome, StepError> {
    let start = std::time::Instant::now();
    let mut res = Ok(Outcome::ok(0));
    for _ in 0..repeat {
        res = call();
        if res.is_err() {
            break;
        }
    }
    let elapsed = start.elapsed().as_micros() as u64;
    let mut o = match res {
        Ok(o) => o,
        Err(StepError::Errno(e)) => Outcome::err(e),
        Err(e) => return Err(e),
    };
    o.elapsed_us = Some(elapsed);
    if repeat > 1 {
        o.examined = Some(u64::from(repeat));
    }
    Ok(o)
}

/// Run a call that may wait, recording how long it took (also when it
/// fails: a timeout's length is part of what is checked).
fn timed(call: impl FnOnce() -> Result<Outcome, StepError>) -> Result<Outcome, StepError> {
    let start = std::time::Instant::now();
    let mut o = match call() {
        Ok(o) => o,
        Err(StepError::Errno(e)) => Outcome::err(e),
        Err(e) => return Err(e),
    };
    o.elapsed_us = Some(start.elapsed().as_micros() as u64);
    Ok(o)
}

/// Signal names resolved in this process (the real-time range is the C
/// library's).
fn signal_numbers(names: &[String]) -> Result<Vec<i32>, StepError> {
    names.iter().map(|s| sys::signal_from_name(s).ok_or_else(kind_error)).collect()
}

fn not_mapped(object: &str) -> StepError {
    StepError::Misuse(format!("`{object}` is not mapped in this role"))
}

fn kind_error() -> StepError {
    StepError::Misuse("the plan and the object kind disagree (a harness bug)".to_owned())
}
