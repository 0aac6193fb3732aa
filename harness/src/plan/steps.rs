//! Validation of one step: its operation's references and arguments, and
//! the expectations next to it (which apply to which operation, which
//! contradict each other).

use std::collections::BTreeMap;

use super::build::{Builder, did_you_mean, names};
use super::types::*;
use crate::scenario::diag::Diagnostic;
use crate::scenario::model::{self as m, AttachAt, PipeFlag, Step};
use crate::scenario::span::{Loc, Sp};
use crate::sys;

/// The largest read a step may ask of a pipe (the buffer is allocated).
const MAX_PIPE_READ: u64 = 16 << 20;

/// Which `to:` targets a sending call may be given: -1 means every process
/// to kill(2), so only the calls that take one thread may be given it.
fn target_allowed(how: SendHow, to: m::SignalTarget) -> bool {
    use m::SignalTarget as T;
    match (how, to) {
        (SendHow::Tkill | SendHow::Tgkill, T::MinusOne | T::Nonexistent) => true,
        (SendHow::Tkill | SendHow::Tgkill, _) | (_, T::MinusOne) => false,
        (SendHow::Pidfd, t) => t == T::Nonexistent,
        _ => true,
    }
}

/// The byte-stream kinds: descriptors with a read end and a write end.
const STREAMS: &[Kind] = &[Kind::Pipe, Kind::Fifo];

impl Builder<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn step(
        &mut self,
        me: RoleId,
        me_name: &str,
        index: usize,
        step: &Sp<Step>,
        objects: &[ObjectPlan],
        events: &[String],
        barriers: &[String],
        spawned_by: &BTreeMap<String, RoleId>,
    ) -> Option<StepPlan> {
        // Replicas of this role, for `$instance` and `stride`.
        let replicas = self.doc.roles.get_index(me.0).and_then(|(_, d)| d.count.as_ref().map(|c| *c.value())).unwrap_or(1).max(1);
        let no_expect = None;
        let (op, expect): (Option<Op>, &Option<Sp<m::Expect>>) = match step.value() {
            Step::Ftok(a) => {
                let file = match self.doc.files.get_index_of(a.file.as_str()) {
                    Some(i) => FileRef::Declared(FileId(i)),
                    None => FileRef::Missing(a.file.value().clone()),
                };
                (Some(Op::Ftok { file, proj: self.proj(&a.proj) }), &a.expect)
            }
            Step::Shmget(a) => {
                let flags = a.flags.iter().fold(0, |acc, f| {
                    acc | match f.value() {
                        m::ShmgetFlag::Create => libc::IPC_CREAT,
                        m::ShmgetFlag::Excl => libc::IPC_EXCL,
                        m::ShmgetFlag::Hugetlb => sys::shm_consts::SHM_HUGETLB,
                        m::ShmgetFlag::Noreserve => sys::shm_consts::SHM_NORESERVE,
                    }
                });
                let mode = a.mode.as_ref().map(|m| self.mode(m));
                (
                    self.object_ref(objects, &a.object, &[Kind::SysvShm], "shmget").map(|object| Op::Shmget {
                        object,
                        flags,
                        size: a.size,
                        mode,
                    }),
                    &a.expect,
                )
            }
            Step::Shmat(a) => {
                let rnd = a.flags.iter().any(|f| **f == m::ShmatFlag::Rnd);
                let at = a.at.as_ref().map_or(AttachAt::Kernel, |s| *s.value());
                let lba = sys::shmlba() as u64;
                let misaligned = match at {
                    AttachAt::Address(addr) => addr % lba != 0,
                    AttachAt::FreePlus(off) => off % lba != 0,
                    _ => false,
                };
                let expects_einval = a.expect.as_ref().and_then(|e| e.errno.as_ref()).is_some_and(|e| e.as_str() == "EINVAL");
                // A negative test may claim that a misaligned attach works.
                let negative_here = self.is_negative_step(me_name, index);
                let wants_exact = a.expect.as_ref().and_then(|e| e.address.as_ref()).filter(|x| *x.value() == AddressExpect::Requested);
                if let Some(x) = wants_exact.filter(|_| misaligned && rnd && !negative_here) {
                    self.err(
                        Diagnostic::new(x.loc(), "SHM_RND rounds this misaligned address down, so it cannot land where requested")
                            .label("cannot hold")
                            .hint("expect `address: requested_rounded_down`"),
                    );
                }
                if misaligned && !rnd && !expects_einval && !negative_here {
                    let loc = a.at.as_ref().map_or(step.loc(), Sp::loc);
                    self.err(
                        Diagnostic::new(loc, format!("attach address is not a multiple of SHMLBA ({lba})"))
                            .label("misaligned")
                            .hint("add `rnd` to `flags` to round it down (SHM_RND), or expect `errno: EINVAL`, or use an aligned address"),
                    );
                }
                let over = a.over.as_ref().and_then(|o| {
                    if a.at.is_some() {
                        self.err(
                            Diagnostic::new(o.loc(), "`over` and `at` both say where to attach")
                                .label("two addresses")
                                .hint("keep one of them"),
                        );
                    }
                    self.object_ref(objects, o, &[Kind::SysvShm, Kind::Mmap, Kind::PosixShm, Kind::File, Kind::Memfd], "shmat over")
                });
                let op = self.object_ref(objects, &a.object, &[Kind::SysvShm], "shmat").map(|object| Op::Shmat {
                    over,
                    object,
                    at,
                    rdonly: a.flags.iter().any(|f| **f == m::ShmatFlag::Rdonly),
                    rnd,
                    remap: a.flags.iter().any(|f| **f == m::ShmatFlag::Remap),
                    id: self.invalid_id(a.id.as_ref()),
                });
                (op, &a.expect)
            }
            Step::Shmdt(a) => {
                if a.unattached && a.offset != 0 {
                    self.err(
                        Diagnostic::new(a.object.loc(), "`unattached` detaches where nothing is; an `offset` means nothing then")
                            .label("both given")
                            .hint("remove `offset` or `unattached`"),
                    );
                }
                (
                    self.object_ref(objects, &a.object, &[Kind::SysvShm], "shmdt").map(|object| Op::Shmdt {
                        object,
                        offset: a.offset,
                        unattached: a.unattached,
                    }),
                    &a.expect,
                )
            }
            Step::Semget(a) => {
                let flags = create_flags(&a.flags);
                let mode = a.mode.as_ref().map(|m| self.mode(m));
                (
                    self.object_ref(objects, &a.object, &[Kind::SysvSem], "semget").map(|object| Op::Semget {
                        object,
                        flags,
                        nsems: a.nsems,
                        mode,
                    }),
                    &a.expect,
                )
            }
            Step::Semop(a) => {
                let object = self.object_ref(objects, &a.object, &[Kind::SysvSem], "semop");
                let nsems = object.map_or(u32::MAX, |o| match objects[o.0].spec {
                    ObjectSpec::SysvSem { nsems, .. } => nsems,
                    _ => u32::MAX,
                });
                let expects_error = a.expect.as_ref().is_some_and(|e| e.errno.is_some()) || self.is_negative_step(me_name, index);
                if a.ops.is_empty() && !expects_error {
                    self.err(
                        Diagnostic::new(step.loc(), "a semop with no operations")
                            .label("`ops` is empty")
                            .hint("give at least one operation, e.g. `ops: [{ op: -1 }]`, or expect `errno: EINVAL`"),
                    );
                }
                for o in a.ops.iter().filter(|o| u32::from(o.sem) >= nsems && !expects_error) {
                    self.err(
                        Diagnostic::new(o.loc(), format!("semaphore {} is outside a set of {nsems}", o.sem))
                            .label("no such semaphore")
                            .hint(format!("number semaphores from 0 to {}, or expect `errno: EFBIG`", nsems.saturating_sub(1))),
                    );
                }
                let timeout_ms = self.duration(a.timeout.as_ref());
                let ops = a.ops.iter().map(|o| *o.value()).collect();
                let repeat = self.repeat(step, a.repeat, "semop");
                let id = self.invalid_id(a.id.as_ref());
                let faults = (a.bad_buffer, a.bad_timeout_address);
                (object.map(|object| Op::Semop { object, ops, timeout_ms, repeat, id, faults }), &a.expect)
            }
            Step::Semctl(a) => {
                use m::SemctlCmd as C;
                let need = |this: &mut Self, what: &str, given: bool, wanted: bool| {
                    if given != wanted {
                        let msg = if wanted {
                            format!("`semctl {}` needs `{what}`", cmd_name(a.cmd))
                        } else {
                            format!("`{what}` means nothing to `semctl {}`", cmd_name(a.cmd))
                        };
                        this.err(Diagnostic::new(a.object.loc(), msg).label("this semctl").hint(if wanted {
                            format!("add `{what}:`")
                        } else {
                            format!("remove `{what}`")
                        }));
                    }
                };
                need(self, "value", a.value.is_some(), a.cmd == C::Setval);
                need(self, "values", a.values.is_some(), a.cmd == C::Setall);
                need(self, "set", a.set.is_some(), a.cmd == C::IpcSet);
                let nsems = self.doc.objects.get(a.object.as_str()).and_then(|d| d.nsems.as_ref().map(|n| *n.value())).unwrap_or(1);
                let expects_error = a.expect.as_ref().is_some_and(|e| e.errno.is_some()) || self.is_negative_step(me_name, index);
                if matches!(a.cmd, C::Getval | C::Setval | C::Getpid | C::Getncnt | C::Getzcnt)
                    && u32::from(a.sem) >= nsems
                    && !expects_error
                {
                    self.err(
                        Diagnostic::new(a.object.loc(), format!("semaphore {} is outside a set of {nsems}", a.sem))
                            .label("no such semaphore")
                            .hint(format!("number semaphores from 0 to {}, or expect `errno: EINVAL`", nsems.saturating_sub(1))),
                    );
                }
                let takes_buffer = matches!(a.cmd, C::IpcStat | C::IpcSet | C::Getall | C::Setall);
                self.bad_buffer(a.bad_buffer, takes_buffer, a.object.loc(), "`ipc_stat`, `ipc_set`, `getall` and `setall`");
                let id = self.invalid_id(a.id.as_ref());
                (
                    self.object_ref(objects, &a.object, &[Kind::SysvSem], "semctl").map(|object| Op::Semctl {
                        object,
                        cmd: a.cmd,
                        sem: a.sem,
                        value: a.value,
                        values: a.values.clone(),
                        set: a.set.as_ref().map(|s| *s.value()),
                        id,
                        bad_buffer: a.bad_buffer,
                    }),
                    &a.expect,
                )
            }
            Step::SemOpen(a) => {
                let object = self.object_ref(objects, &a.object, &[Kind::PosixSem], "sem_open");
                if let Some(o) = object.filter(|o| matches!(objects[o.0].spec, ObjectSpec::PosixSem { place: Some(_), .. })) {
                    self.err(
                        Diagnostic::new(
                            a.object.loc(),
                            format!("`{}` is unnamed (it has `in:`), so it cannot be opened by name", objects[o.0].name),
                        )
                        .label("unnamed semaphore")
                        .hint("use `sem_init` for a semaphore in shared memory, or drop `in:` to make it named"),
                    );
                }
                let flags = a.flags.iter().fold(0, |acc, f| {
                    acc | match f.value() {
                        m::CreateFlag::Create => libc::O_CREAT,
                        m::CreateFlag::Excl => libc::O_EXCL,
                    }
                });
                let mode = a.mode.as_ref().map_or(0o600, |m| self.mode(m));
                (object.map(|object| Op::SemOpen { object, flags, value: a.value.unwrap_or(0), mode }), &a.expect)
            }
            Step::SemInit(a) => {
                let object = self.object_ref(objects, &a.object, &[Kind::PosixSem], "sem_init");
                if let Some(o) = object.filter(|o| matches!(objects[o.0].spec, ObjectSpec::PosixSem { place: None, .. })) {
                    self.err(
                        Diagnostic::new(
                            a.object.loc(),
                            format!("`{}` is named, so it has no place in shared memory to initialise", objects[o.0].name),
                        )
                        .label("named semaphore")
                        .hint("give the object `in: { object, offset }`, or use `sem_open`"),
                    );
                }
                (object.map(|object| Op::SemInit { object, value: a.value.unwrap_or(0) }), &a.expect)
            }
            Step::SemWait(a) => {
                let timeout_ms = self.duration(a.timeout.as_ref());
                let deadline = self.deadline(a.timeout.as_ref(), a.deadline.as_ref());
                (
                    self.object_ref(objects, &a.object, &[Kind::PosixSem], "sem_wait").map(|object| Op::SemWait {
                        object,
                        timeout_ms,
                        deadline,
                        repeat: self.repeat(step, a.repeat, "sem_wait"),
                    }),
                    &a.expect,
                )
            }
            Step::SemPost(a) => {
                let repeat = self.repeat(step, a.repeat, "sem_post");
                (self.object_ref(objects, &a.object, &[Kind::PosixSem], "sem_post").map(|object| Op::SemPost { object, repeat }), &a.expect)
            }
            Step::SemTrywait(a) | Step::SemGetvalue(a) | Step::SemClose(a) | Step::SemUnlink(a) | Step::SemDestroy(a) => {
                let name = match step.value() {
                    Step::SemTrywait(_) => "sem_trywait",
                    Step::SemGetvalue(_) => "sem_getvalue",
                    Step::SemClose(_) => "sem_close",
                    Step::SemUnlink(_) => "sem_unlink",
                    _ => "sem_destroy",
                };
                let object = self.object_ref(objects, &a.object, &[Kind::PosixSem], name);
                let op = object.map(|object| match step.value() {
                    Step::SemTrywait(_) => Op::SemTrywait { object },
                    Step::SemGetvalue(_) => Op::SemGetvalue { object },
                    Step::SemClose(_) => Op::SemClose { object },
                    Step::SemUnlink(_) => Op::SemUnlink { object },
                    _ => Op::SemDestroy { object },
                });
                (op, &a.expect)
            }
            Step::MqOpen(a) => {
                let flags = a.flags.iter().fold(0, |acc, f| {
                    acc | match f.value() {
                        m::MqOpenFlag::Create => libc::O_CREAT,
                        m::MqOpenFlag::Excl => libc::O_EXCL,
                        m::MqOpenFlag::Rdonly => libc::O_RDONLY,
                        m::MqOpenFlag::Wronly => libc::O_WRONLY,
                        m::MqOpenFlag::Rdwr => libc::O_RDWR,
                        m::MqOpenFlag::Nonblock => libc::O_NONBLOCK,
                    }
                });
                let modes: Vec<m::MqOpenFlag> = a
                    .flags
                    .iter()
                    .map(|f| *f.value())
                    .filter(|f| matches!(f, m::MqOpenFlag::Rdonly | m::MqOpenFlag::Wronly | m::MqOpenFlag::Rdwr))
                    .collect();
                let access = modes.len();
                // O_RDONLY is 0, so only wronly+rdwr says something new.
                let mode_three = access == 2 && modes.contains(&m::MqOpenFlag::Wronly) && modes.contains(&m::MqOpenFlag::Rdwr);
                if access > 1 && !mode_three {
                    self.err(
                        Diagnostic::new(a.object.loc(), "two access modes that make a third")
                            .label("O_RDONLY is 0: combined, these mean the other one")
                            .hint("give one of rdonly, wronly, rdwr (none is O_RDWR); `[wronly, rdwr]` passes access mode 3"),
                    );
                }
                let flags = if access == 0 { flags | libc::O_RDWR } else { flags };
                let mode = a.mode.as_ref().map(|m| self.mode(m));
                (
                    self.object_ref(objects, &a.object, &[Kind::PosixMq], "mq_open").map(|object| Op::MqOpen {
                        object,
                        flags,
                        mode,
                        default_attr: a.default_attr,
                    }),
                    &a.expect,
                )
            }
            Step::MqSend(a) => {
                let data = match (&a.data, a.size) {
                    (Some(d), None) => d.as_bytes().to_vec(),
                    (None, Some(n)) if n <= MAX_PIPE_READ => vec![b'x'; n as usize],
                    _ => {
                        self.err(
                            Diagnostic::new(a.object.loc(), "an mq_send needs either `data` or `size` (at most 16 MiB)")
                                .label("this mq_send")
                                .hint("give the text with `data:`, or a length with `size:`"),
                        );
                        Vec::new()
                    }
                };
                let timeout_ms = self.duration(a.timeout.as_ref());
                let deadline = self.deadline(a.timeout.as_ref(), a.deadline.as_ref());
                let descriptor = a.descriptor.as_ref().map(|d| *d.value());
                (
                    self.object_ref(objects, &a.object, &[Kind::PosixMq], "mq_send").map(|object| Op::MqSend {
                        object,
                        data,
                        prio: a.prio,
                        timeout_ms,
                        deadline,
                        descriptor,
                        bad_buffer: a.bad_buffer,
                    }),
                    &a.expect,
                )
            }
            Step::MqReceive(a) => {
                let timeout_ms = self.duration(a.timeout.as_ref());
                let deadline = self.deadline(a.timeout.as_ref(), a.deadline.as_ref());
                let descriptor = a.descriptor.as_ref().map(|d| *d.value());
                (
                    self.object_ref(objects, &a.object, &[Kind::PosixMq], "mq_receive").map(|object| Op::MqReceive {
                        object,
                        len: a.len,
                        timeout_ms,
                        deadline,
                        descriptor,
                        bad_buffer: a.bad_buffer,
                    }),
                    &a.expect,
                )
            }
            Step::MqSetattr(a) => (
                self.object_ref(objects, &a.object, &[Kind::PosixMq], "mq_setattr").map(|object| Op::MqSetattr {
                    object,
                    nonblock: a.nonblock,
                    ignored: (a.maxmsg, a.msgsize, a.curmsgs),
                    descriptor: a.descriptor.as_ref().map(|d| *d.value()),
                }),
                &a.expect,
            ),
            Step::MqNotify(a) => {
                let signal = a.signal.as_ref().map(|s| self.signal(s));
                if let (Some(s), Some(_)) = (&a.signal, &a.sigev) {
                    self.err(
                        Diagnostic::new(s.loc(), "`signal` and `sigev` together")
                            .label("SIGEV_SIGNAL")
                            .hint("give `signal:` for SIGEV_SIGNAL, or `sigev:` for another kind of notification"),
                    );
                }
                (
                    self.object_ref(objects, &a.object, &[Kind::PosixMq], "mq_notify").map(|object| Op::MqNotify {
                        object,
                        signal,
                        sigev: a.sigev.as_ref().map(|s| *s.value()),
                        value: a.value,
                        descriptor: a.descriptor.as_ref().map(|d| *d.value()),
                    }),
                    &a.expect,
                )
            }
            Step::MqGetattr(a) | Step::MqClose(a) => {
                let getattr = matches!(step.value(), Step::MqGetattr(_));
                let object = self.object_ref(objects, &a.object, &[Kind::PosixMq], if getattr { "mq_getattr" } else { "mq_close" });
                let descriptor = a.descriptor.as_ref().map(|d| *d.value());
                let op =
                    object.map(|object| if getattr { Op::MqGetattr { object, descriptor } } else { Op::MqClose { object, descriptor } });
                (op, &a.expect)
            }
            Step::MqUnlink(a) | Step::MqStatus(a) => {
                let unlink = matches!(step.value(), Step::MqUnlink(_));
                // The mqueue file system this role sees must be its IPC
                // namespace's: a role's `mount` comes with its `ipc`.
                let ipc = self.unshared_by(me, m::Namespace::Ipc, spawned_by);
                if !unlink && ipc != self.unshared_by(me, m::Namespace::Mount, spawned_by) {
                    self.err(
                        Diagnostic::new(a.object.loc(), format!("role `{me_name}` would read another IPC namespace's queue files"))
                            .label("mqueue mount of another namespace")
                            .hint("give the role that unshares `ipc` its own mount too: `unshare: [ipc, mount]`"),
                    );
                }
                let object = self.object_ref(objects, &a.object, &[Kind::PosixMq], if unlink { "mq_unlink" } else { "mq_status" });
                (object.map(|object| if unlink { Op::MqUnlink { object } } else { Op::MqStatus { object } }), &a.expect)
            }
            Step::WaitNotification(a) => {
                let timeout_ms = self.duration(a.timeout.as_ref()).unwrap_or(1000);
                (Some(Op::WaitNotification { timeout_ms }), &a.expect)
            }
            Step::Sigwait(a) => {
                let listed: Vec<&Sp<String>> = a.signal.iter().chain(a.signals.iter().flatten()).collect();
                if a.signal.is_some() == a.signals.is_some() {
                    self.err(
                        Diagnostic::new(step.loc(), "a sigwait needs `signal` or `signals`, not both")
                            .label("which signals?")
                            .hint("write `signal: SIGUSR1`, or `signals: [SIGUSR1, SIGUSR2]` to take whichever comes"),
                    );
                }
                // A caught signal need not be blocked: the wait unblocks its
                // set while it sleeps (kernel/signal.c do_sigtimedwait()),
                // so a caught signal arriving then is taken, not handled.
                let signals = listed.iter().map(|s| self.waited_signal(me.0, me_name, s)).collect();
                let via = a.via.as_ref().map_or(SigwaitVia::Sigtimedwait, |v| *v.value());
                if let (Some(t), SigwaitVia::Sigwaitinfo | SigwaitVia::Sigwait) = (&a.timeout, via) {
                    self.err(
                        Diagnostic::new(t.loc(), "this wait takes no timeout")
                            .label("sigwaitinfo and sigwait wait for ever")
                            .hint("remove `timeout` (the scenario's timeout bounds the wait), or use `via: sigtimedwait`"),
                    );
                }
                let timeout_ms = self.duration(a.timeout.as_ref()).unwrap_or(1000);
                if a.no_info && !matches!(via, SigwaitVia::Sigtimedwait | SigwaitVia::Sigwaitinfo) {
                    self.err(
                        Diagnostic::new(step.loc(), "`no_info` applies to sigtimedwait and sigwaitinfo")
                            .label("no siginfo buffer to leave out")
                            .hint("remove `no_info`, or use `via: sigtimedwait` or `sigwaitinfo`"),
                    );
                }
                if let Some(b) = a.bad_address.as_ref().filter(|_| via != SigwaitVia::Sigtimedwait || a.no_info) {
                    self.err(
                        Diagnostic::new(b.loc(), "`bad_address` applies to a plain sigtimedwait")
                            .label("the raw rt_sigtimedwait(2) is called")
                            .hint("remove `via` and `no_info`, or `bad_address`"),
                    );
                }
                let bad_address = a.bad_address.as_ref().map(|b| *b.value());
                let signalfd = a.signalfd.as_ref().and_then(|o| self.object_ref(objects, o, &[Kind::Signalfd], "sigwait signalfd"));
                if let Some(o) = a.signalfd.as_ref().filter(|_| via != SigwaitVia::Signalfd) {
                    self.err(
                        Diagnostic::new(o.loc(), "`signalfd` needs `via: signalfd`")
                            .label("read how?")
                            .hint("add `via: signalfd` to read this object"),
                    );
                }
                (Some(Op::Sigwait { signals, timeout_ms, via, no_info: a.no_info, bad_address, signalfd }), &a.expect)
            }
            Step::Handled(a) => {
                let signal = a.signal.as_ref().map(|s| self.signal(s));
                if let Some(s) = a.signal.as_ref().filter(|s| !self.role_lists(me.0, s, |d| d.catch.iter().chain(&d.catch_restart))) {
                    self.err(
                        Diagnostic::new(s.loc(), format!("role `{me_name}` does not catch {}", s.value()))
                            .label("never recorded")
                            .hint(format!("add `catch: [{}]` to the role", s.value())),
                    );
                }
                (Some(Op::Handled { signal }), &a.expect)
            }
            Step::TakePending(a) => {
                let signals = a.signals.iter().map(|s| self.blocked_signal(me.0, me_name, s)).collect();
                (Some(Op::TakePending { signals }), &a.expect)
            }
            Step::Kill(a) | Step::Sigqueue(a) | Step::PidfdSendSignal(a) | Step::Tkill(a) | Step::Tgkill(a) => {
                let how = match step.value() {
                    Step::Kill(_) => SendHow::Kill,
                    Step::Sigqueue(_) => SendHow::Sigqueue,
                    Step::Tkill(_) => SendHow::Tkill,
                    Step::Tgkill(_) => SendHow::Tgkill,
                    _ => SendHow::Pidfd,
                };
                let signal = if a.signal.parse::<i32>().is_ok() { a.signal.value().clone() } else { self.signal(&a.signal) };
                if a.value.is_some() && matches!(how, SendHow::Kill | SendHow::Tkill | SendHow::Tgkill) {
                    self.err(
                        Diagnostic::new(a.signal.loc(), "this call carries no value")
                            .label("`value` given")
                            .hint("use `sigqueue` (or `pidfd_send_signal`) to send a value"),
                    );
                }
                let to = match (&a.role, &a.to) {
                    (Some(r), None) => self.role_ref(r).map(|role| {
                        self.instance_of(r, a.instance);
                        SendTo::Role { role, instance: a.instance }
                    }),
                    (None, Some(t)) if target_allowed(how, *t.value()) => Some(SendTo::Target(*t.value())),
                    _ => {
                        self
                            .err(Diagnostic::new(a.signal.loc(), "a signal needs one target: `role`, or `to`").label("send to whom?").hint(
                            "name a role (`role: worker`), or `to: group | nonexistent | int_min` (pidfd_send_signal: `nonexistent`; tkill and tgkill: `nonexistent | minus_one`)",
                        ));
                        None
                    }
                };
                let repeat = a.repeat.unwrap_or(1);
                (to.map(|to| Op::SendSignal { how, to, signal, value: a.value, repeat }), &a.expect)
            }
            Step::Msgget(a) => {
                let flags = create_flags(&a.flags);
                let mode = a.mode.as_ref().map(|m| self.mode(m));
                (
                    self.object_ref(objects, &a.object, &[Kind::SysvMsg], "msgget").map(|object| Op::Msgget { object, flags, mode }),
                    &a.expect,
                )
            }
            Step::Msgsnd(a) => {
                let data = match (&a.data, a.size) {
                    (Some(d), None) => d.as_bytes().to_vec(),
                    (None, Some(n)) if n <= MAX_PIPE_READ => vec![b'x'; n as usize],
                    (None, Some(n)) => {
                        self.err(
                            Diagnostic::new(a.object.loc(), format!("a message of {n} bytes is too large to make"))
                                .label("size")
                                .hint(format!("give at most {MAX_PIPE_READ} bytes")),
                        );
                        Vec::new()
                    }
                    _ => {
                        self.err(
                            Diagnostic::new(a.object.loc(), "a msgsnd needs either `data` or `size`")
                                .label("this msgsnd")
                                .hint("give the text with `data:`, or a length with `size:`"),
                        );
                        Vec::new()
                    }
                };
                (
                    self.object_ref(objects, &a.object, &[Kind::SysvMsg], "msgsnd").map(|object| Op::Msgsnd {
                        object,
                        mtype: a.mtype,
                        data,
                        nowait: a.nowait,
                        id: self.invalid_id(a.id.as_ref()),
                        bad_buffer: a.bad_buffer,
                        msgsz: self.negative_msgsz(a.msgsz.as_ref()),
                    }),
                    &a.expect,
                )
            }
            Step::Msgrcv(a) => {
                let flags = a.flags.iter().fold(0, |acc, f| {
                    acc | match f.value() {
                        m::MsgrcvFlag::Nowait => libc::IPC_NOWAIT,
                        m::MsgrcvFlag::Except => libc::MSG_EXCEPT,
                        m::MsgrcvFlag::Noerror => libc::MSG_NOERROR,
                        m::MsgrcvFlag::Copy => libc::MSG_COPY,
                    }
                });
                if a.len > MAX_PIPE_READ {
                    self.err(
                        Diagnostic::new(a.object.loc(), format!("a buffer of {} bytes is too large", a.len))
                            .label("len")
                            .hint(format!("give at most {MAX_PIPE_READ} bytes")),
                    );
                }
                (
                    self.object_ref(objects, &a.object, &[Kind::SysvMsg], "msgrcv").map(|object| Op::Msgrcv {
                        object,
                        msgtyp: a.msgtyp,
                        len: a.len,
                        flags,
                        id: self.invalid_id(a.id.as_ref()),
                        bad_buffer: a.bad_buffer,
                        msgsz: self.negative_msgsz(a.msgsz.as_ref()),
                    }),
                    &a.expect,
                )
            }
            Step::PingPong(a) => {
                self.require_count(step, a.expect.as_ref(), "ping_pong", "violations");
                let kinds = [Kind::SysvSem, Kind::SysvMsg, Kind::PosixSem, Kind::PosixMq];
                let object = self.object_ref(objects, &a.object, &kinds, "ping_pong");
                if let Some(o) = object.filter(|o| matches!(objects[o.0].spec, ObjectSpec::SysvSem { nsems, .. } if nsems < 2)) {
                    self.err(
                        Diagnostic::new(a.object.loc(), format!("`{}` has one semaphore; a ping-pong needs two", objects[o.0].name))
                            .label("too small")
                            .hint("give the object `nsems: 2`"),
                    );
                }
                let posix = object.map(|o| objects[o.0].kind()).filter(|k| matches!(k, Kind::PosixSem | Kind::PosixMq));
                let back = match (&a.back, posix) {
                    (Some(b), Some(kind)) => self.object_ref(objects, b, &[kind], "ping_pong `back`"),
                    (None, Some(kind)) => {
                        self.err(
                            Diagnostic::new(
                                a.object.loc(),
                                format!("a ping-pong over a {} needs a second one for the replies", kind.name()),
                            )
                            .label("one direction only")
                            .hint(format!("add `back: <another {}>` (the same on both sides)", kind.name())),
                        );
                        None
                    }
                    (Some(b), None) => {
                        self.err(
                            Diagnostic::new(b.loc(), "`back` is for POSIX semaphores and queues")
                                .label("not needed")
                                .hint("a SysV set or queue carries both directions (two semaphores, two message types): remove `back`"),
                        );
                        None
                    }
                    (None, None) => None,
                };
                (object.map(|object| Op::PingPong { object, back, rounds: a.rounds, first: a.side == m::Side::First }), &a.expect)
            }
            Step::SendNumbered(a) => {
                let object = self.object_ref(objects, &a.object, &[Kind::SysvMsg, Kind::PosixMq], "send_numbered");
                let posix = object.is_some_and(|o| objects[o.0].kind() == Kind::PosixMq);
                if let Some(t) = a.mtype.filter(|_| posix) {
                    self.err(
                        Diagnostic::new(a.object.loc(), format!("`mtype: {t}` on a POSIX queue"))
                            .label("POSIX messages have no type")
                            .hint("give `prio:` instead"),
                    );
                }
                if a.prio.is_some() && object.is_some() && !posix {
                    self.err(
                        Diagnostic::new(a.object.loc(), "`prio` on a SysV queue")
                            .label("SysV messages have no priority")
                            .hint("give `mtype:` instead"),
                    );
                }
                (
                    object.map(|object| Op::SendNumbered { object, messages: a.messages, mtype: a.mtype, prio: a.prio.unwrap_or(0) }),
                    &a.expect,
                )
            }
            Step::ReceiveNumbered(a) => {
                self.require_count(step, a.expect.as_ref(), "receive_numbered", "violations");
                (
                    self.object_ref(objects, &a.object, &[Kind::SysvMsg, Kind::PosixMq], "receive_numbered").map(|object| {
                        Op::ReceiveNumbered { object, messages: a.messages, per_producer: a.per_producer, alone: replicas == 1 }
                    }),
                    &a.expect,
                )
            }
            Step::Msgctl(a) => {
                if a.set.is_some() != (a.cmd == m::MsgctlCmd::IpcSet) {
                    self.err(
                        Diagnostic::new(a.object.loc(), "`set` goes with `cmd: ipc_set`, and only there")
                            .label("this msgctl")
                            .hint("give `set: { uid, gid, mode, qbytes }` to ipc_set, and to no other command"),
                    );
                }
                let takes_buffer = matches!(a.cmd, m::MsgctlCmd::IpcStat | m::MsgctlCmd::IpcSet);
                self.bad_buffer(a.bad_buffer, takes_buffer, a.object.loc(), "`ipc_stat` and `ipc_set`");
                let id = self.invalid_id(a.id.as_ref());
                (
                    self.object_ref(objects, &a.object, &[Kind::SysvMsg], "msgctl").map(|object| Op::Msgctl {
                        object,
                        cmd: a.cmd,
                        set: a.set.as_ref().map(|s| *s.value()),
                        id,
                        bad_buffer: a.bad_buffer,
                    }),
                    &a.expect,
                )
            }
            Step::Mprotect(a) => {
                let object =
                    self.object_ref(objects, &a.object, &[Kind::SysvShm, Kind::Mmap, Kind::PosixShm, Kind::File, Kind::Memfd], "mprotect");
                let page = sys::page_size() as u64;
                if a.offset % page != 0 {
                    self.err(
                        Diagnostic::new(a.object.loc(), format!("mprotect at offset {} is not page-aligned", a.offset))
                            .label("misaligned")
                            .hint(format!("give an offset that is a multiple of the page size ({page})")),
                    );
                }
                let size = object.map_or(0, |o| objects[o.0].spec.size());
                let len = a.len.unwrap_or_else(|| size.saturating_sub(a.offset));
                if let Some(o) = object {
                    self.check_offset(objects, o, a.offset, len, a.object.loc(), false);
                }
                let prot = a.prot.iter().fold(libc::PROT_NONE, |p, x| {
                    p | match x.value() {
                        m::Prot::Read => libc::PROT_READ,
                        m::Prot::Write => libc::PROT_WRITE,
                    }
                });
                (object.map(|object| Op::Mprotect { object, offset: a.offset, len, prot }), &a.expect)
            }
            Step::Shmctl(a) => {
                match (a.cmd, &a.set) {
                    (m::ShmctlCmd::IpcSet, None) => self.err(
                        Diagnostic::new(a.object.loc(), "`ipc_set` needs `set: { uid, gid, mode }`")
                            .label("nothing to set")
                            .hint("say the new owner and permission bits"),
                    ),
                    (cmd, Some(s)) if cmd != m::ShmctlCmd::IpcSet => self.err(
                        Diagnostic::new(s.loc(), "`set` applies to `cmd: ipc_set` only").label("ignored otherwise").hint("remove `set`"),
                    ),
                    (_, Some(s)) if s.mode > 0o777 => self.err(
                        Diagnostic::new(s.loc(), format!("mode {:#o} has bits beyond 0o777", s.mode))
                            .label("here")
                            .hint("give permission bits only"),
                    ),
                    _ => {}
                }
                let takes_buffer = matches!(a.cmd, m::ShmctlCmd::IpcStat | m::ShmctlCmd::IpcSet);
                self.bad_buffer(a.bad_buffer, takes_buffer, a.object.loc(), "`ipc_stat` and `ipc_set`");
                let set = a.set.as_ref().map(|s| *s.value());
                let id = self.invalid_id(a.id.as_ref());
                (
                    self.object_ref(objects, &a.object, &[Kind::SysvShm], "shmctl").map(|object| Op::Shmctl {
                        object,
                        cmd: a.cmd,
                        set,
                        id,
                        bad_buffer: a.bad_buffer,
                    }),
                    &a.expect,
                )
            }
            Step::Sysctl(a) => {
                use crate::plan::probe::{IPC_NAMESPACED, NEXT_ID_KNOBS, sysctl_path};
                if sysctl_path(&a.name).is_none() {
                    self.err(
                        Diagnostic::new(a.name.loc(), format!("`{}` is not a sysctl of the IPC namespace", a.name.value()))
                            .label("could change the host")
                            .hint(format!("scenarios may use only: {}, {}", IPC_NAMESPACED.join(", "), NEXT_ID_KNOBS.join(", "))),
                    );
                } else if a.value.is_some()
                    && !self.doc.requires.private_ipc_namespace
                    && self.unshared_by(me, m::Namespace::Ipc, spawned_by).is_none()
                {
                    // A role in an IPC namespace of its own writes that
                    // namespace's sysctl, never the run's or the host's.
                    self.err(
                        Diagnostic::new(a.name.loc(), "writing a sysctl needs the scenario's own IPC namespace")
                            .label("would change the host's limit")
                            .hint(
                                "add `requires: { private_ipc_namespace: true }` (without one the scenario is skipped), \
                                 or write it from a role with `unshare: [ipc]`",
                            ),
                    );
                }
                (Some(Op::Sysctl { name: a.name.value().clone(), value: a.value.as_ref().map(|v| v.value().clone()) }), &a.expect)
            }
            Step::Mmap(a) => {
                let mappable = [Kind::Mmap, Kind::PosixShm, Kind::File, Kind::Memfd];
                let over = a.over.as_ref().map(|o| self.object_ref(objects, o, &mappable, "mmap over"));
                if a.noreplace && a.over.is_none() {
                    self.err(
                        Diagnostic::new(a.object.loc(), "`noreplace` needs `over`")
                            .label("no fixed address")
                            .hint("name the object whose mapping this one is placed over"),
                    );
                }
                let object = self.object_ref(objects, &a.object, &mappable, "mmap");
                let op = match (object, over) {
                    (Some(object), None) => Some(Op::Mmap { object, over: None, noreplace: false }),
                    (Some(object), Some(Some(o))) => Some(Op::Mmap { object, over: Some(o), noreplace: a.noreplace }),
                    _ => None,
                };
                (op, &a.expect)
            }
            Step::ShmOpen(a) => {
                let mode = a.mode.as_ref().map(|m| self.mode(m));
                let op = self.object_ref(objects, &a.object, &[Kind::PosixShm], "shm_open").map(|object| Op::ShmOpen {
                    object,
                    flags: OpenFlags::of(&a.flags),
                    mode,
                });
                (op, &a.expect)
            }
            Step::Ftruncate(a) => (
                self.object_ref(objects, &a.object, &[Kind::PosixShm, Kind::File, Kind::Memfd], "ftruncate")
                    .map(|object| Op::Ftruncate { object, size: a.size }),
                &a.expect,
            ),
            Step::Open(a) => {
                let mode = a.mode.as_ref().map(|m| self.mode(m));
                let object = self.object_ref(objects, &a.object, &[Kind::File, Kind::Fifo], "open");
                let fifo = object.is_some_and(|o| objects[o.0].kind() == Kind::Fifo);
                for f in &a.flags {
                    use m::ShmOpenFlag as F;
                    let fifo_only = matches!(**f, F::Wronly | F::Rdwr | F::Nonblock);
                    if fifo_only != fifo && !matches!(**f, F::Rdonly) {
                        let (what, hint) = if fifo {
                            (
                                "a fifo is opened, not created, by `open`",
                                "make the node with `mkfifo`; open it with `rdonly`, `wronly` or `rdwr`, and `nonblock`",
                            )
                        } else {
                            ("only a fifo takes this flag", "a file is opened read-write, or `rdonly`")
                        };
                        self.err(Diagnostic::new(f.loc(), what).label("not for this kind").hint(hint));
                    }
                }
                if fifo && !a.flags.iter().any(|f| matches!(**f, m::ShmOpenFlag::Rdonly | m::ShmOpenFlag::Wronly | m::ShmOpenFlag::Rdwr)) {
                    self.err(
                        Diagnostic::new(a.object.loc(), "opening a fifo needs an access mode")
                            .label("read or write?")
                            .hint("add `flags: [rdonly]`, `[wronly]` or `[rdwr]`"),
                    );
                }
                (object.map(|object| Op::Open { object, flags: OpenFlags::of(&a.flags), mode }), &a.expect)
            }
            Step::MemfdCreate(a) => (
                self.object_ref(objects, &a.object, &[Kind::Memfd], "memfd_create")
                    .map(|object| Op::MemfdCreate { object, cloexec: a.cloexec }),
                &a.expect,
            ),
            Step::Unlink(a) => {
                (self.object_ref(objects, &a.object, &[Kind::File, Kind::Fifo], "unlink").map(|object| Op::Unlink { object }), &a.expect)
            }
            Step::Msync(a) => {
                let mut flags = 0;
                for f in &a.flags {
                    flags |= match **f {
                        m::MsyncFlag::Sync => libc::MS_SYNC,
                        m::MsyncFlag::Async => libc::MS_ASYNC,
                        m::MsyncFlag::Invalidate => libc::MS_INVALIDATE,
                    };
                }
                if a.flags.is_empty() {
                    flags = libc::MS_SYNC;
                }
                let op = self
                    .object_ref(objects, &a.object, &[Kind::Mmap, Kind::PosixShm, Kind::File, Kind::Memfd, Kind::SysvShm], "msync")
                    .map(|object| Op::Msync { object, flags });
                (op, &a.expect)
            }
            Step::Fallocate(a) => (
                self.object_ref(objects, &a.object, &[Kind::PosixShm, Kind::File, Kind::Memfd], "fallocate")
                    .map(|object| Op::Fallocate { object, size: a.size }),
                &a.expect,
            ),
            Step::Fstat(a) => (
                self.object_ref(objects, &a.object, &[Kind::PosixShm, Kind::File, Kind::Memfd], "fstat").map(|object| Op::Fstat { object }),
                &a.expect,
            ),
            Step::ShmUnlink(a) => {
                (self.object_ref(objects, &a.object, &[Kind::PosixShm], "shm_unlink").map(|object| Op::ShmUnlink { object }), &a.expect)
            }
            Step::Munmap(a) => (
                self.object_ref(objects, &a.object, &[Kind::Mmap, Kind::PosixShm, Kind::File, Kind::Memfd], "munmap")
                    .map(|object| Op::Munmap { object }),
                &a.expect,
            ),
            Step::Pipe(a) => {
                let flags = a.flags.iter().fold(0, |f, x| {
                    f | match **x {
                        PipeFlag::Cloexec => libc::O_CLOEXEC,
                        PipeFlag::Nonblock => libc::O_NONBLOCK,
                        PipeFlag::Direct => libc::O_DIRECT,
                    }
                });
                let op = self.object_ref(objects, &a.object, &[Kind::Pipe], "pipe").map(|object| Op::Pipe {
                    object,
                    flags,
                    bad_buffer: a.bad_buffer,
                });
                (op, &a.expect)
            }
            Step::Signalfd(a) => {
                let signals = a.signals.iter().map(|s| self.waited_signal(me.0, me_name, s)).collect();
                let flags = if a.bad_flags {
                    -1
                } else {
                    a.flags.iter().fold(0, |f, x| {
                        f | match **x {
                            PipeFlag::Cloexec => libc::SFD_CLOEXEC,
                            PipeFlag::Nonblock => libc::SFD_NONBLOCK,
                            PipeFlag::Direct => {
                                self.err(
                                    Diagnostic::new(x.loc(), "a signalfd has no O_DIRECT")
                                        .label("not a signalfd flag")
                                        .hint("use `cloexec` and `nonblock`"),
                                );
                                0
                            }
                        }
                    })
                };
                let descriptor = a.descriptor.as_ref().map(|d| *d.value());
                let op = self.object_ref(objects, &a.object, &[Kind::Signalfd], "signalfd").map(|object| Op::Signalfd {
                    object,
                    signals,
                    flags,
                    descriptor,
                });
                (op, &a.expect)
            }
            Step::Mkfifo(a) => {
                let mode = a.mode.as_ref().map(|m| self.mode(m));
                (self.object_ref(objects, &a.object, &[Kind::Fifo], "mkfifo").map(|object| Op::Mkfifo { object, mode }), &a.expect)
            }
            Step::Fcntl(a) | Step::Fionread(a) => {
                let fcntl = matches!(step.value(), Step::Fcntl(_));
                let kinds: &[Kind] = if fcntl { &[Kind::Pipe, Kind::Fifo, Kind::Signalfd] } else { STREAMS };
                let (object, end) = (self.object_ref(objects, &a.object, kinds, if fcntl { "fcntl" } else { "fionread" }), a.end);
                (object.map(|object| if fcntl { Op::Fcntl { object, end } } else { Op::Fionread { object, end } }), &a.expect)
            }
            Step::Lseek(a) => {
                let whence = a.whence.unwrap_or(Whence::Cur);
                let op = self.object_ref(objects, &a.object, STREAMS, "lseek").map(|object| Op::Lseek {
                    object,
                    end: a.end,
                    whence,
                    offset: a.offset,
                });
                (op, &a.expect)
            }
            Step::PipeSize(a) => {
                let set = a.set.as_ref().map(|s| *s.value());
                (
                    self.object_ref(objects, &a.object, STREAMS, "pipe_size").map(|object| Op::PipeSize { object, end: a.end, set }),
                    &a.expect,
                )
            }
            Step::Splice(a) | Step::Tee(a) => {
                let tee = matches!(step.value(), Step::Tee(_));
                let name = if tee { "tee" } else { "splice" };
                let from = self.object_ref(objects, &a.from, STREAMS, name);
                let to = self.object_ref(objects, &a.to, STREAMS, name);
                if a.len > MAX_PIPE_READ {
                    self.err(
                        Diagnostic::new(step.loc(), format!("a {name} of {} bytes is larger than any pipe holds", a.len))
                            .label("too large")
                            .hint(format!("move at most {MAX_PIPE_READ} bytes per step")),
                    );
                }
                let op = from.zip(to).map(|(from, to)| Op::Splice { from, to, len: a.len, nonblock: a.nonblock, tee });
                (op, &a.expect)
            }
            Step::Close(a) => {
                let object = self.object_ref(
                    objects,
                    &a.object,
                    &[Kind::Pipe, Kind::Fifo, Kind::PosixShm, Kind::File, Kind::Memfd, Kind::Signalfd],
                    "close",
                );
                match (object.map(|o| objects[o.0].kind()), a.end) {
                    (Some(Kind::Pipe | Kind::Fifo), None) => self.err(
                        Diagnostic::new(a.object.loc(), "closing a pipe or fifo needs `end`")
                            .label("which end?")
                            .hint("add `end: read` or `end: write`"),
                    ),
                    (Some(Kind::PosixShm | Kind::File | Kind::Memfd), Some(_)) => self.err(
                        Diagnostic::new(a.object.loc(), "a posix_shm object has one descriptor, no ends")
                            .label("not a pipe")
                            .hint("remove `end`"),
                    ),
                    _ => {}
                }
                (object.map(|object| Op::Close { object, end: a.end }), &a.expect)
            }
            Step::Write(a) => {
                let object = self.object_ref(
                    objects,
                    &a.to,
                    &[Kind::SysvShm, Kind::Mmap, Kind::Pipe, Kind::Fifo, Kind::PosixShm, Kind::File, Kind::Memfd],
                    "write",
                );
                self.stream_end(objects, object, a.end, a.to.loc());
                if let Some(o) = object {
                    let faults = a.expect.as_ref().is_some_and(|e| e.killed_by.is_some());
                    let longest = longest(a.data.as_bytes(), replicas);
                    self.check_offset(objects, o, offset_for(a.offset, a.stride, replicas - 1), longest, a.to.loc(), faults);
                }
                self.via_descriptor(objects, object, a.via_descriptor, a.to.loc());
                (
                    object.map(|object| Op::Write {
                        object,
                        data: a.data.as_bytes().to_vec(),
                        offset: a.offset,
                        stride: a.stride,
                        via_descriptor: a.via_descriptor,
                        end: a.end,
                    }),
                    &a.expect,
                )
            }
            Step::Fill(a) => {
                let object = self.object_ref(
                    objects,
                    &a.to,
                    &[Kind::SysvShm, Kind::Mmap, Kind::Pipe, Kind::Fifo, Kind::PosixShm, Kind::File, Kind::Memfd],
                    "fill",
                );
                if let Some(o) = object {
                    let faults = a.expect.as_ref().is_some_and(|e| e.killed_by.is_some());
                    self.check_offset(objects, o, a.offset, a.len, a.to.loc(), faults);
                }
                if a.len > MAX_PIPE_READ {
                    self.err(
                        Diagnostic::new(a.to.loc(), format!("a fill of {} bytes is too large", a.len))
                            .label("too large")
                            .hint(format!("fill at most {MAX_PIPE_READ} bytes per step")),
                    );
                }
                (object.map(|object| Op::Fill { object, len: a.len, offset: a.offset, byte: a.byte.unwrap_or(b'Z') }), &a.expect)
            }
            Step::Publish(a) => {
                let object = self.ring(objects, &a.to, a.records, a.offset, "publish");
                (
                    object.map(|object| Op::Publish {
                        object,
                        records: a.records,
                        offset: a.offset,
                        fill_after_publish: a.fill_after_publish,
                    }),
                    &a.expect,
                )
            }
            Step::Consume(a) => {
                let object = self.ring(objects, &a.from, a.records, a.offset, "consume");
                self.require_count(step, a.expect.as_ref(), "consume", "torn or stale records");
                (object.map(|object| Op::Consume { object, records: a.records, offset: a.offset }), &a.expect)
            }
            Step::Stress(a) => {
                let object = self.ring(objects, &a.to, 1, 0, "stress");
                self.require_count(step, a.expect.as_ref(), "stress", "blocks found wrong");
                if !(1..=crate::ipc::stress::MAX_ROUNDS).contains(&a.rounds) {
                    self.err(
                        Diagnostic::new(a.to.loc(), format!("{} rounds cannot be run", a.rounds))
                            .label("out of range")
                            .hint(format!("run from 1 to {} rounds", crate::ipc::stress::MAX_ROUNDS)),
                    );
                }
                (object.map(|object| Op::Stress { object, rounds: a.rounds, writers: replicas }), &a.expect)
            }
            Step::CheckPattern(a) => {
                let object = self.ring(objects, &a.from, 1, 0, "check_pattern");
                self.require_count(step, a.expect.as_ref(), "check_pattern", "blocks found wrong");
                (object.map(|object| Op::CheckPattern { object, round: a.round }), &a.expect)
            }
            Step::Append(a) => {
                let object = self.object_ref(objects, &a.to, &[Kind::File, Kind::PosixShm, Kind::Memfd, Kind::Pipe, Kind::Fifo], "append");
                let guard = a.guard.as_ref().and_then(|g| self.object_ref(objects, g, &[Kind::SysvSem], "append guard"));
                let (size, chunks) = (a.size.unwrap_or(64), a.chunks.unwrap_or(8));
                if size < crate::ipc::records::MIN_SIZE || chunks == 0 || chunks > size || a.records == 0 {
                    self.err(
                        Diagnostic::new(a.to.loc(), "records of this shape cannot be appended").label("size, chunks or records").hint(
                            format!("give at least 1 record of at least {} bytes, in 1 to `size` chunks", crate::ipc::records::MIN_SIZE),
                        ),
                    );
                }
                (object.map(|object| Op::Append { object, records: a.records, size, chunks, guard }), &a.expect)
            }
            Step::CheckRecords(a) => {
                let object =
                    self.object_ref(objects, &a.from, &[Kind::File, Kind::PosixShm, Kind::Memfd, Kind::Pipe, Kind::Fifo], "check_records");
                self.require_count(step, a.expect.as_ref(), "check_records", "records found broken");
                (object.map(|object| Op::CheckRecords { object, records: a.records, size: a.size.unwrap_or(64) }), &a.expect)
            }
            Step::Read(a) => {
                let object = self.object_ref(
                    objects,
                    &a.from,
                    &[Kind::SysvShm, Kind::Mmap, Kind::Pipe, Kind::Fifo, Kind::PosixShm, Kind::File, Kind::Memfd],
                    "read",
                );
                self.stream_end(objects, object, a.end, a.from.loc());
                let expected = a.expect.as_ref().and_then(|e| e.data.as_ref());
                if let Some(d) =
                    expected.filter(|d| a.len.is_none() && longest(d.as_bytes(), replicas) != for_instance(d.as_bytes(), 0).len() as u64)
                {
                    self.err(
                        Diagnostic::new(d.loc(), "the replicas expect data of different lengths")
                            .label("`$instance` has more digits in some replicas")
                            .hint("give the read a `len`"),
                    );
                }
                let len = a.len.or_else(|| expected.map(|d| for_instance(d.as_bytes(), 0).len() as u64));
                let Some(len) = len else {
                    self.err(
                        Diagnostic::new(step.loc(), "a read needs `len` or an expected `data`")
                            .label("this read")
                            .hint("say how many bytes to read with `len: N` (for an end-of-file check, `len: 1`)"),
                    );
                    return None;
                };
                if let Some(o) = object {
                    let faults = a.expect.as_ref().is_some_and(|e| e.killed_by.is_some());
                    self.check_offset(objects, o, offset_for(a.offset, a.stride, replicas - 1), len, a.from.loc(), faults);
                    if STREAMS.contains(&objects[o.0].kind()) && len > MAX_PIPE_READ {
                        self.err(
                            Diagnostic::new(step.loc(), format!("a read of {len} bytes is larger than any pipe holds"))
                                .label("too large")
                                .hint(format!("read at most {MAX_PIPE_READ} bytes per step (a pipe holds at most `fs.pipe-max-size`, 1 MiB by default)")),
                        );
                    }
                    if a.all && !STREAMS.contains(&objects[o.0].kind()) {
                        self.err(
                            Diagnostic::new(step.loc(), "`all` applies to pipes only")
                                .label("memory read")
                                .hint("a memory read always reads exactly `len` bytes; remove `all`"),
                        );
                    }
                }
                self.via_descriptor(objects, object, a.via_descriptor, a.from.loc());
                (
                    object.map(|object| Op::Read {
                        object,
                        len,
                        offset: a.offset,
                        stride: a.stride,
                        all: a.all,
                        via_descriptor: a.via_descriptor,
                        end: a.end,
                    }),
                    &a.expect,
                )
            }
            Step::Signal(e) => (events.iter().position(|n| n == e.value()).map(|i| Op::Signal { event: EventId(i) }), &no_expect),
            Step::Wait(w) => {
                let count = w.count.unwrap_or(1);
                if count == 0 {
                    self.err(
                        Diagnostic::new(w.event.loc(), "a wait for 0 signals returns at once")
                            .label("orders nothing")
                            .hint("wait for `count: 1` or more"),
                    );
                }
                (events.iter().position(|n| n == w.event.value()).map(|i| Op::Wait { event: EventId(i), count }), &no_expect)
            }
            Step::Barrier(b) => (barriers.iter().position(|n| n == b.value()).map(|i| Op::Barrier { barrier: BarrierId(i) }), &no_expect),
            Step::WaitBlocked(w) => {
                let role = self.role_ref(&w.role);
                let stopped = w.stopped;
                let count = self.doc.roles.get(w.role.as_str()).and_then(|d| d.count.as_ref().map(|c| *c.value())).unwrap_or(1);
                let until = if w.all { count } else { w.instance + 1 };
                if role == Some(me) {
                    self.err(
                        Diagnostic::new(w.role.loc(), "a role cannot wait until it is itself blocked")
                            .label("this role")
                            .hint("name another role"),
                    );
                }
                if let Some(r) = role {
                    let count = self.doc.roles.get_index(r.0).and_then(|(_, d)| d.count.as_ref().map(|c| *c.value())).unwrap_or(1);
                    if w.instance >= count {
                        self.err(
                            Diagnostic::new(
                                w.role.loc(),
                                format!("role `{}` has {count} replica(s); instance {} does not exist", w.role.value(), w.instance),
                            )
                            .label("here")
                            .hint("instances are numbered from 0"),
                        );
                    }
                }
                (role.map(|role| Op::WaitBlocked { role, instance: w.instance, until, stopped }), &no_expect)
            }
            Step::Spawn(r) => (self.role_ref(r).map(|role| Op::Spawn { role }), &no_expect),
            Step::Exec(_) => (Some(Op::Exec { step: index }), &no_expect),
            Step::WaitExit(r) => {
                let role = self.role_ref(r);
                if role.is_some() && spawned_by.get(r.as_str()) != Some(&me) {
                    self.err(
                        Diagnostic::new(r.loc(), format!("role `{me_name}` waits for `{}`, which it does not spawn", r.value()))
                            .label("not a child of this role")
                            .hint(format!(
                                "only the parent can wait: add `- spawn: {}` before this step, or wait in the role that spawns it",
                                r.value()
                            )),
                    );
                }
                (role.map(|role| Op::WaitExit { role }), &no_expect)
            }
            Step::Exit(c) => (Some(Op::Exit { code: self.exit_code(*c.value(), c.loc()) }), &no_expect),
            Step::Crash(s) => {
                let signal = self.signal(s);
                // signal(7): these are ignored or stop the process by default.
                if ["SIGCHLD", "SIGCONT", "SIGURG", "SIGWINCH", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU"].contains(&signal.as_str()) {
                    self.err(
                        Diagnostic::new(s.loc(), format!("{signal} does not end a process by default"))
                            .label("ignored or stopping by default")
                            .hint("crash with a signal whose default action terminates, such as SIGABRT, SIGSEGV, SIGKILL or SIGTERM"),
                    );
                }
                (Some(Op::Crash { signal }), &no_expect)
            }
        };
        let op = op?;
        let expect = self.expect(&op, expect.as_ref(), objects, replicas);
        Some(StepPlan { op, expect, loc: step.loc() })
    }

    /// The object and placement of a publication ring: mapped memory with
    /// room for the header and one slot, at a 64-byte boundary.
    fn ring(&mut self, objects: &[ObjectPlan], object: &Sp<String>, records: u64, offset: u64, step: &str) -> Option<ObjectId> {
        use crate::ipc::publish::{HEADER, MAX_RECORDS, SLOT};
        let o = self.object_ref(objects, object, &[Kind::SysvShm, Kind::Mmap, Kind::PosixShm, Kind::File, Kind::Memfd], step)?;
        if offset % 64 != 0 {
            self.err(
                Diagnostic::new(object.loc(), format!("the ring at offset {offset} is not on a 64-byte boundary"))
                    .label("misaligned")
                    .hint("give an offset that is a multiple of 64"),
            );
        }
        if !(1..=MAX_RECORDS).contains(&records) {
            self.err(
                Diagnostic::new(object.loc(), format!("{records} records cannot be published"))
                    .label("out of range")
                    .hint(format!("publish from 1 to {MAX_RECORDS} records")),
            );
        }
        self.check_offset(objects, o, offset, (HEADER + SLOT) as u64, object.loc(), false);
        Some(o)
    }

    /// A signal a role waits for or takes: it must block it, or the signal
    /// may arrive before the wait and run its default action.
    fn blocked_signal(&mut self, role: usize, role_name: &str, s: &Sp<String>) -> String {
        let signal = self.signal(s);
        if !self.role_lists(role, s, |d| d.block.iter()) {
            self.err(
                Diagnostic::new(s.loc(), format!("role `{role_name}` does not block {}", s.value()))
                    .label("may arrive before the wait and kill the role")
                    .hint(format!("add `block: [{}]` to the role", s.value())),
            );
        }
        signal
    }

    /// A signal a role waits for: blocked, or caught (a wait on a caught
    /// signal that is not blocked takes it only if it arrives during the
    /// wait, which the scenario orders with `wait_blocked`).
    fn waited_signal(&mut self, role: usize, role_name: &str, s: &Sp<String>) -> String {
        if self.role_lists(role, s, |d| d.catch.iter().chain(&d.catch_restart)) {
            self.signal(s)
        } else {
            self.blocked_signal(role, role_name, s)
        }
    }

    /// Whether one of a role's signal lists (`block`, `catch`, ...) holds
    /// `s`, compared by number (`SIGRTMAX` and `SIGRTMIN+30` are one).
    fn role_lists<'d, I>(&'d self, role: usize, s: &str, lists: impl Fn(&'d m::RoleDecl) -> I) -> bool
    where
        I: Iterator<Item = &'d Sp<String>>,
    {
        let Some(n) = sys::signal_from_name(s) else { return false };
        self.doc.roles.get_index(role).is_some_and(|(_, d)| lists(d).any(|x| sys::signal_from_name(x) == Some(n)))
    }

    /// A signal name in an expectation (`received`, `siginfo`) must exist.
    fn expected_signal(&mut self, name: &str, loc: Loc) {
        if sys::signal_from_name(name).is_none() {
            self.err(Diagnostic::new(loc, format!("unknown signal `{name}`")).label("not a signal").hint(
                did_you_mean(name, &super::build::signal_names()).unwrap_or_else(|| "use a name such as SIGUSR1 or SIGRTMIN+1".to_owned()),
            ));
        }
    }

    /// An si_code name in an expectation must be one of signal(7)'s.
    fn expected_si_code(&mut self, code: &str, loc: Loc) {
        if !sys::SI_CODES.iter().any(|(n, _)| *n == code) {
            let names: Vec<String> = sys::SI_CODES.iter().map(|(n, _)| (*n).to_owned()).collect();
            let hint = did_you_mean(code, &names).unwrap_or_else(|| format!("use one of {}", names.join(", ")));
            self.err(Diagnostic::new(loc, format!("unknown si_code `{code}`")).label("code").hint(hint));
        }
    }

    /// A replica number must exist in the role named.
    fn instance_of(&mut self, r: &Sp<String>, instance: u32) {
        let count = self.doc.roles.get(r.as_str()).and_then(|d| d.count.as_ref().map(|c| *c.value())).unwrap_or(1);
        if instance >= count {
            self.err(
                Diagnostic::new(r.loc(), format!("role `{}` has {count} replica(s); instance {instance} does not exist", r.value()))
                    .label("here")
                    .hint("instances are numbered from 0"),
            );
        }
    }

    /// `end` on a read or write names a descriptor of a pipe or FIFO.
    fn stream_end(&mut self, objects: &[ObjectPlan], object: Option<ObjectId>, end: Option<PipeEnd>, loc: Loc) {
        if let Some(o) = object.filter(|o| end.is_some() && !STREAMS.contains(&objects[o.0].kind())) {
            self.err(
                Diagnostic::new(loc, format!("`end` needs a pipe or fifo; `{}` is a {}", objects[o.0].name, objects[o.0].kind().name()))
                    .label("no ends")
                    .hint("remove `end`"),
            );
        }
    }

    /// `via_descriptor` needs a kind that has one descriptor to pread/pwrite.
    fn via_descriptor(&mut self, objects: &[ObjectPlan], object: Option<ObjectId>, via: bool, loc: Loc) {
        if let Some(o) = object.filter(|o| via && !matches!(objects[o.0].kind(), Kind::PosixShm | Kind::File | Kind::Memfd)) {
            self.err(
                Diagnostic::new(
                    loc,
                    format!(
                        "`via_descriptor` needs a posix_shm, file or memfd object; `{}` is a {}",
                        objects[o.0].name,
                        objects[o.0].kind().name()
                    ),
                )
                .label("no file descriptor to use")
                .hint("remove `via_descriptor`"),
            );
        }
    }

    /// `bad_buffer` is only for the *ctl commands that take a buffer.
    fn bad_buffer(&mut self, given: bool, takes_buffer: bool, loc: Loc, commands: &str) {
        if given && !takes_buffer {
            self.err(
                Diagnostic::new(loc, format!("`bad_buffer` applies to {commands}"))
                    .label("this command")
                    .hint("the other commands take no buffer, or are not checked this way"),
            );
        }
    }

    /// An optional duration such as `100ms`.
    fn duration(&mut self, t: Option<&Sp<String>>) -> Option<u64> {
        let t = t?;
        let ms = crate::plan::build::parse_duration_ms(t);
        if ms.is_none() {
            self.err(
                Diagnostic::new(t.loc(), format!("`{}` is not a duration", t.value()))
                    .label("here")
                    .hint("write a number with a unit: `100ms`, `2s`"),
            );
        }
        ms
    }

    /// A timed call's unusual deadline; it replaces `timeout`, so not both.
    fn deadline(&mut self, timeout: Option<&Sp<String>>, deadline: Option<&Sp<m::BadDeadline>>) -> Option<m::BadDeadline> {
        let d = deadline?;
        if let Some(t) = timeout {
            self.err(
                Diagnostic::new(t.loc(), "`timeout` and `deadline` together")
                    .label("a deadline from now")
                    .hint("give one of them: `timeout` is a deadline this long from now"),
            );
        }
        Some(*d.value())
    }

    /// A msgsz given apart from the buffer: only negative ones, which no
    /// kernel may take as a size to copy.
    fn negative_msgsz(&mut self, msgsz: Option<&Sp<i64>>) -> Option<i64> {
        let m = msgsz?;
        if *m.value() >= 0 {
            self.err(
                Diagnostic::new(m.loc(), format!("`msgsz: {}` is not negative", m.value()))
                    .label("only negative sizes")
                    .hint("the message or `len` sets a real size; `msgsz` is for -1 and other negative values"),
            );
        }
        Some(*m.value())
    }

    /// How many times a repeatable call is made (default 1).
    fn repeat(&mut self, step: &Sp<Step>, repeat: Option<u32>, call: &str) -> u32 {
        let n = repeat.unwrap_or(1);
        if n == 0 || n > 1_000_000 {
            self.err(
                Diagnostic::new(step.loc(), format!("a {call} repeated {n} times"))
                    .label("repeat out of range")
                    .hint("repeat from 1 to 1000000 times"),
            );
        }
        n
    }

    /// A role named by an expectation exists.
    fn known_role(&mut self, name: &str, loc: Loc) {
        if !self.doc.roles.contains_key(name) {
            self.err(
                Diagnostic::new(loc, format!("no role named `{name}`"))
                    .label("unknown role")
                    .hint(format!("name one of the roles: {}", crate::plan::build::names(&self.doc.roles))),
            );
        }
    }

    /// Steps whose value is a count of failures assert nothing without
    /// `expect: { value }`.
    fn require_count(&mut self, step: &Sp<Step>, expect: Option<&Sp<m::Expect>>, name: &str, what: &str) {
        if expect.is_none_or(|e| e.value.is_none() && e.value_at_least.is_none()) {
            self.err(
                Diagnostic::new(step.loc(), format!("a {name} that states no count of {what} asserts nothing"))
                    .label("no `value`")
                    .hint(format!("add `expect: {{ value: 0 }}`: the number of {what} it may see")),
            );
        }
    }

    /// An id given instead of an object's: only ids no segment can have.
    fn invalid_id(&mut self, id: Option<&Sp<i64>>) -> Option<i32> {
        let id = id?;
        match i32::try_from(*id.value()) {
            Ok(v) if v < 0 => Some(v),
            _ => {
                self.err(
                    Diagnostic::new(id.loc(), format!("id {} could belong to a segment of another program", id.value()))
                        .label("not negative")
                        .hint("give a negative id such as -1 (never valid), or leave `id` out to use the object's own"),
                );
                // Reported once: later checks treat it as a raw id too.
                Some(-1)
            }
        }
    }

    pub(super) fn check_offset(&mut self, objects: &[ObjectPlan], o: ObjectId, offset: u64, len: u64, loc: Loc, faults: bool) {
        let size = match objects[o.0].spec {
            ObjectSpec::SysvShm { size, .. }
            | ObjectSpec::Mmap { size, .. }
            | ObjectSpec::PosixShm { size, .. }
            | ObjectSpec::File { size, .. }
            | ObjectSpec::Memfd { size } => size,
            ObjectSpec::SysvSem { .. } | ObjectSpec::SysvMsg { .. } | ObjectSpec::PosixSem { .. } | ObjectSpec::PosixMq { .. } => return,
            ObjectSpec::Signalfd => return,
            ObjectSpec::Pipe | ObjectSpec::Fifo { .. } => {
                if offset != 0 {
                    self.err(Diagnostic::new(loc, "a pipe has no offsets").label("pipe").hint("remove `offset`; pipes are byte streams"));
                }
                return;
            }
        };
        // Past the last page is allowed only where a fault is the expectation.
        if !faults && offset.saturating_add(len) > size.next_multiple_of(sys::page_size() as u64) {
            self.err(
                Diagnostic::new(
                    loc,
                    format!("bytes {offset}..{} lie outside `{}` ({size} bytes, mapped in whole pages)", offset + len, objects[o.0].name),
                )
                .label("out of range")
                .hint(
                    "shorten the data or the offset; to touch memory past the mapping on purpose, expect `killed_by: SIGSEGV` (or SIGBUS)",
                ),
            );
        }
    }

    pub(super) fn expect(&mut self, op: &Op, e: Option<&Sp<m::Expect>>, objects: &[ObjectPlan], replicas: u32) -> ExpectPlan {
        let on_pipe = match op {
            Op::Read { object, .. } | Op::Write { object, .. } => objects.get(object.0).is_some_and(|o| STREAMS.contains(&o.kind())),
            _ => false,
        };
        let fifo_open = matches!(op, Op::Open { object, .. } if objects.get(object.0).is_some_and(|o| o.kind() == Kind::Fifo));
        // Calls that can sleep until another process acts.
        let can_block = on_pipe
            || fifo_open
            || matches!(op, Op::Splice { .. })
            || matches!(
                op,
                Op::Semop { .. }
                    | Op::Msgsnd { .. }
                    | Op::Msgrcv { .. }
                    | Op::SemWait { .. }
                    | Op::MqSend { .. }
                    | Op::MqReceive { .. }
                    | Op::Sigwait { .. }
            );
        let Some(e) = e else { return ExpectPlan::default() };
        let mut out = ExpectPlan { explicit: true, ..ExpectPlan::default() };
        let misplaced = |this: &mut Self, field: &str, loc: Loc, ok_ops: &str| {
            this.err(
                Diagnostic::new(loc, format!("`{field}` cannot be expected of `{}`", op.name()))
                    .label("not observable here")
                    .hint(format!("`{field}` applies to {ok_ops}")),
            );
        };
        if let Some(errno) = &e.errno {
            if sys::errno_from_name(errno).is_none() {
                self.err(
                    Diagnostic::new(errno.loc(), format!("unknown errno `{}`", errno.value())).label("here").hint(
                        did_you_mean(errno, &sys::errno_names())
                            .unwrap_or_else(|| "use a symbolic name from errno(3), such as EINVAL or ENOENT".to_owned()),
                    ),
                );
            }
            out.errno = Some(errno.value().clone());
        }
        if let Some(v) = &e.value_at_least {
            if let Some(exact) = &e.value {
                self.err(
                    Diagnostic::new(v.loc(), "`value_at_least` next to an exact `value`")
                        .label("one or the other")
                        .hint(format!("keep `value: {}` or this bound", exact.value())),
                );
            }
            out.value_at_least = Some(*v.value());
        }
        if let Some(v) = &e.value {
            out.value = Some(*v.value());
        }
        if let Some(d) = &e.data {
            if !matches!(op, Op::Read { .. } | Op::Msgrcv { .. } | Op::MqReceive { .. }) {
                misplaced(self, "data", d.loc(), "`read`, `msgrcv` and `mq_receive`");
            }
            if let Op::Read { len, .. } = op {
                let n = for_instance(d.as_bytes(), 0).len();
                if n as u64 > *len {
                    self.err(
                        Diagnostic::new(d.loc(), format!("expected data is {n} bytes but the read asks for {len}"))
                            .label("too long")
                            .hint("raise `len` or shorten the data"),
                    );
                }
            }
            out.data = Some(d.as_bytes().to_vec());
        }
        if let Some(eof) = &e.eof {
            if !(on_pipe && matches!(op, Op::Read { .. })) {
                misplaced(self, "eof", eof.loc(), "`read` from a pipe");
            }
            out.eof = Some(*eof.value());
        }
        if let Some(s) = &e.stat {
            // Which fields each kind of status has.
            let (fields, what): (&[&str], &str) = match op {
                Op::Shmctl { cmd: ShmctlCmd::IpcStat | ShmctlCmd::ShmStat | ShmctlCmd::ShmStatAny, .. } => (
                    &[
                        "segsz", "nattch", "mode", "dest", "locked", "cpid", "lpid", "uid", "gid", "cuid", "cgid", "key", "atime", "dtime",
                        "ctime",
                    ],
                    "shmctl's status",
                ),
                Op::Fstat { .. } => (&["segsz", "mode", "uid", "gid"], "fstat (segsz, mode, uid and gid)"),
                Op::Semctl { cmd: SemctlCmd::IpcStat | SemctlCmd::SemStat | SemctlCmd::SemStatAny, .. } => {
                    (&["nsems", "mode", "uid", "gid", "cuid", "cgid", "key", "otime", "ctime"], "semctl's status")
                }
                Op::Msgctl { cmd: MsgctlCmd::IpcStat | MsgctlCmd::MsgStat | MsgctlCmd::MsgStatAny, .. } => (
                    &["qnum", "qbytes", "cbytes", "lspid", "lrpid", "mode", "uid", "gid", "cuid", "cgid", "key", "stime", "rtime", "ctime"],
                    "msgctl's status",
                ),
                _ => {
                    misplaced(self, "stat", s.loc(), "`shmctl`, `semctl` and `msgctl` status commands, and `fstat`");
                    (&[], "")
                }
            };
            let v = s.value();
            let given = [
                ("segsz", v.segsz.is_some()),
                ("nattch", v.nattch.is_some()),
                ("mode", v.mode.is_some()),
                ("dest", v.dest.is_some()),
                ("locked", v.locked.is_some()),
                ("cpid", v.cpid.is_some()),
                ("lpid", v.lpid.is_some()),
                ("uid", v.uid.is_some()),
                ("gid", v.gid.is_some()),
                ("key", v.key.is_some()),
                ("cuid", v.cuid.is_some()),
                ("cgid", v.cgid.is_some()),
                ("atime", v.atime.is_some()),
                ("dtime", v.dtime.is_some()),
                ("ctime", v.ctime.is_some()),
                ("nsems", v.nsems.is_some()),
                ("otime", v.otime.is_some()),
                ("qnum", v.qnum.is_some()),
                ("qbytes", v.qbytes.is_some()),
                ("cbytes", v.cbytes.is_some()),
                ("lspid", v.lspid.is_some()),
                ("lrpid", v.lrpid.is_some()),
                ("stime", v.stime.is_some()),
                ("rtime", v.rtime.is_some()),
            ];
            if let Some((field, _)) = given.iter().find(|(f, g)| *g && !what.is_empty() && !fields.contains(f)) {
                misplaced(self, field, s.loc(), what);
            }
            self.stat_roles(s.value(), s.loc());
            out.stat = Some(s.value().clone());
        }
        if let Some(a) = &e.address {
            if !matches!(op, Op::Shmat { .. }) {
                misplaced(self, "address", a.loc(), "`shmat`");
            }
            if let (Op::Shmat { at: AttachAt::Kernel, over: None, .. }, AddressExpect::Requested | AddressExpect::RequestedRoundedDown) =
                (op, a.value())
            {
                self.err(
                    Diagnostic::new(a.loc(), "no address was requested")
                        .label("here")
                        .hint("give `at:` to the shmat, or expect `address: aligned`"),
                );
            }
            out.address = Some(*a.value());
        }
        if let Some(i) = &e.info {
            let shm = matches!(op, Op::Shmctl { cmd: ShmctlCmd::IpcInfo, .. });
            if !shm && !matches!(op, Op::Semctl { cmd: SemctlCmd::IpcInfo, .. } | Op::Msgctl { cmd: MsgctlCmd::IpcInfo, .. }) {
                misplaced(self, "info", i.loc(), "`shmctl`, `semctl` and `msgctl` with `cmd: ipc_info`");
            } else if !shm && i.shmmin.is_some() {
                misplaced(self, "shmmin", i.loc(), "`shmctl ipc_info`");
            }
            out.info = Some(i.value().clone());
        }
        for (field, v) in [("mapped_as", &e.mapped_as), ("same_frame_as", &e.same_frame_as)] {
            if let Some(v) = v.as_ref().filter(|_| !matches!(op, Op::Shmat { .. } | Op::Mmap { .. })) {
                misplaced(self, field, v.loc(), "`shmat` and `mmap`");
            }
        }
        out.mapped_as = e.mapped_as.as_ref().map(|m| m.value().clone());
        if let Some(r) = &e.same_frame_as {
            self.role_ref(r);
            out.same_frame_as = Some(r.value().clone());
        }
        if let Some(k) = &e.killed_by {
            out.killed_by = Some(self.signal(k));
        }
        if let Some(r) = &e.race {
            let replicas = replicas.max(1);
            if replicas < 2 {
                self.err(
                    Diagnostic::new(r.loc(), "a race needs replicas")
                        .label("one process races alone")
                        .hint("give the role `count: N` (at least 2)"),
                );
            } else if r.winners > replicas {
                self.err(
                    Diagnostic::new(r.loc(), format!("{} winners among {replicas} replicas", r.winners))
                        .label("more winners than racers")
                        .hint(format!("give at most {replicas} winners")),
                );
            }
            if sys::errno_from_name(&r.losers).is_none() {
                self.err(
                    Diagnostic::new(r.loc(), format!("unknown errno `{}`", r.losers))
                        .label("losers")
                        .hint("use a symbolic name from errno(3), such as EEXIST"),
                );
            }
            if let Some(l) = e.errno.as_ref().map(Sp::loc).or(e.value.as_ref().map(Sp::loc)) {
                self.err(
                    Diagnostic::new(l, "a race states its own outcomes")
                        .label("not with `race`")
                        .hint("remove `errno`/`value`: winners succeed, losers fail with `losers`"),
                );
            }
            out.race = Some(r.value().clone());
        }
        if let Some(v) = &e.values {
            if !matches!(op, Op::Semctl { cmd: SemctlCmd::Getall, .. } | Op::Sysctl { value: None, .. }) {
                misplaced(self, "values", v.loc(), "`semctl` with `cmd: getall` and a `sysctl` read");
            }
            out.values = Some(v.value().clone());
        }
        if let Some(p) = &e.prio {
            if !matches!(op, Op::MqReceive { .. }) {
                misplaced(self, "prio", p.loc(), "`mq_receive`");
            }
            out.prio = Some(*p.value());
        }
        if let Some(a) = &e.attr {
            if !matches!(op, Op::MqGetattr { .. } | Op::MqSetattr { .. }) {
                misplaced(self, "attr", a.loc(), "`mq_getattr` and `mq_setattr`");
            }
            out.attr = Some(a.value().clone());
        }
        if let Some(list) = &e.received {
            if !matches!(op, Op::Handled { .. } | Op::TakePending { .. }) {
                misplaced(self, "received", list.loc(), "`handled` and `take_pending`");
            }
            for r in list.value() {
                self.expected_signal(&r.signal, list.loc());
                if let Some(code) = &r.code {
                    self.expected_si_code(code, list.loc());
                }
                if let Some(p) = &r.pid_of {
                    self.known_role(p, list.loc());
                }
            }
            out.received = Some(list.value().clone());
        }
        if let Some(s) = &e.siginfo {
            if !matches!(op, Op::Sigwait { .. }) {
                misplaced(self, "siginfo", s.loc(), "`sigwait`");
            }
            if let Some(sig) = &s.signal {
                self.expected_signal(sig, s.loc());
            }
            if let Some(code) = &s.code {
                self.expected_si_code(code, s.loc());
            }
            if let Some(r) = &s.pid_of {
                self.known_role(r, s.loc());
            }
            out.siginfo = Some(s.value().clone());
        }
        if let Some(s) = &e.mq_status {
            if !matches!(op, Op::MqStatus { .. }) {
                misplaced(self, "mq_status", s.loc(), "`mq_status`");
            }
            if let Some(sig) = s.signo.as_deref().filter(|g| *g != "none" && sys::signal_from_name(g).is_none()) {
                self.err(
                    Diagnostic::new(s.loc(), format!("unknown signal `{sig}`"))
                        .label("signo")
                        .hint("name a signal such as SIGUSR1, or `none` for 0"),
                );
            }
            if let Some(r) = &s.notify_pid_of {
                self.known_role(r, s.loc());
            }
            out.mq_status = Some(s.value().clone());
        }
        if let Some(t) = &e.mtype {
            if !matches!(op, Op::Msgrcv { .. }) {
                misplaced(self, "mtype", t.loc(), "`msgrcv`");
            }
            out.mtype = Some(*t.value());
        }
        if let Some(r) = &e.pid_of {
            if !matches!(op, Op::Semctl { cmd: SemctlCmd::Getpid, .. }) {
                misplaced(self, "pid_of", r.loc(), "`semctl` with `cmd: getpid`");
            }
            self.known_role(r.value(), r.loc());
            out.pid_of = Some(r.value().clone());
        }
        if let Some(w) = &e.waited_at_least {
            if !matches!(
                op,
                Op::Semop { timeout_ms: Some(_), .. }
                    | Op::SemWait { timeout_ms: Some(_), .. }
                    | Op::SemWait { deadline: Some(_), .. }
                    | Op::MqSend { timeout_ms: Some(_), .. }
                    | Op::MqSend { deadline: Some(_), .. }
                    | Op::MqReceive { timeout_ms: Some(_), .. }
                    | Op::MqReceive { deadline: Some(_), .. }
                    | Op::Sigwait { via: SigwaitVia::Sigtimedwait | SigwaitVia::Signalfd, .. }
            ) {
                misplaced(
                    self,
                    "waited_at_least",
                    w.loc(),
                    "`semop`, `sem_wait`, `mq_send` and `mq_receive` with a `timeout` or a `deadline`, and `sigwait`",
                );
            }
            out.waited_at_least_ms = self.duration(Some(w));
        }
        if let Some(w) = &e.waited_at_most {
            if !(on_pipe
                || fifo_open
                || matches!(
                    op,
                    Op::Semop { .. }
                        | Op::SemWait { .. }
                        | Op::MqSend { .. }
                        | Op::MqReceive { .. }
                        | Op::Splice { .. }
                        | Op::Sigwait { .. }
                ))
            {
                misplaced(
                    self,
                    "waited_at_most",
                    w.loc(),
                    "`semop`, `sem_wait`, `mq_send`, `mq_receive`, `sigwait`, and `read`, `write`, `open` and `splice` on pipes and fifos",
                );
            }
            out.waited_at_most_ms = self.duration(Some(w));
        }
        if let Some(d) = &e.descriptor {
            if matches!(op, Op::Signalfd { .. }) {
                if d.lowest.is_some() || d.nonblock.is_some() || d.direct.is_some() || d.cloexec.is_some() {
                    misplaced(self, "descriptor.lowest, .cloexec, .nonblock and .direct", d.loc(), "`fcntl` (check the flags there)");
                }
            } else if d.same.is_some() {
                misplaced(self, "descriptor.same", d.loc(), "`signalfd`");
            } else if matches!(op, Op::Fcntl { .. }) {
                if d.lowest.is_some() {
                    misplaced(self, "descriptor.lowest", d.loc(), "`shm_open`, `open` and `memfd_create`");
                }
            } else if fifo_open || !matches!(op, Op::ShmOpen { .. } | Op::Open { .. } | Op::MemfdCreate { .. }) {
                misplaced(self, "descriptor", d.loc(), "`shm_open`, `open` of a file, `memfd_create` and `fcntl`");
            } else if d.nonblock.is_some() || d.direct.is_some() {
                misplaced(self, "descriptor.nonblock and .direct", d.loc(), "`fcntl`");
            }
            out.descriptor = Some(d.value().clone());
        }
        if let Some(b) = &e.blocks {
            if !*b.value() {
                self.err(Diagnostic::new(b.loc(), "`blocks: false` cannot be checked").label("not falsifiable").hint(
                    "a call that returns at once may still have slept; omit `blocks`, or state `blocks: true` where a call must wait",
                ));
            } else if !can_block {
                misplaced(
                    self,
                    "blocks",
                    b.loc(),
                    "`read`, `write`, `open` and `splice` on pipes and fifos, `semop`, `sem_wait`, `msgsnd`, `msgrcv`, `mq_send` and `mq_receive`",
                );
            }
            out.blocks = *b.value();
        }
        // Pairs of expectations that cannot hold together, reported at the
        // second one.
        let errno_loc = e.errno.as_ref().map(Sp::loc);
        let killed_loc = e.killed_by.as_ref().map(Sp::loc);
        let others: [(&str, Option<Loc>); 6] = [
            ("descriptor", e.descriptor.as_ref().map(Sp::loc)),
            ("data", e.data.as_ref().map(Sp::loc)),
            ("eof", e.eof.as_ref().map(Sp::loc)),
            ("stat", e.stat.as_ref().map(Sp::loc)),
            ("address", e.address.as_ref().map(Sp::loc)),
            ("value", e.value.as_ref().map(Sp::loc)),
        ];
        for (field, loc) in others {
            let Some(loc) = loc else { continue };
            if errno_loc.is_some() {
                self.err(
                    Diagnostic::new(loc, format!("`errno` and `{field}` contradict each other"))
                        .label("cannot hold with `errno`")
                        .hint(format!("a call that fails returns no {field}; keep one of the two")),
                );
            }
            if killed_loc.is_some() && matches!(field, "data" | "value") {
                self.err(
                    Diagnostic::new(loc, format!("`killed_by` and `{field}` contradict each other"))
                        .label("cannot hold with `killed_by`")
                        .hint("a step that kills its role returns nothing; keep one of the two"),
                );
            }
        }
        if let (Some(k), Some(_)) = (killed_loc, errno_loc) {
            self.err(
                Diagnostic::new(k, "`errno` and `killed_by` contradict each other")
                    .label("cannot hold with `errno`")
                    .hint("a step that kills its role returns no errno; keep one of the two"),
            );
        }
        if let (Some(eof), Some(d)) = (&e.eof, &e.data) {
            if *eof.value() && !d.is_empty() {
                self.err(
                    Diagnostic::new(d.loc(), "`eof: true` and non-empty `data` contradict each other")
                        .label("data at end of file")
                        .hint("end of file means the read returns no bytes"),
                );
            }
        }
        out
    }

    pub(super) fn stat_roles(&mut self, s: &StatExpect, loc: Loc) {
        // `none`: the pid field is 0 (nobody did it yet).
        for r in [&s.cpid, &s.lpid, &s.lspid, &s.lrpid].into_iter().flatten().filter(|r| r.as_str() != "none") {
            match self.doc.roles.get(r.as_str()) {
                None => self.err(
                    Diagnostic::new(loc, format!("unknown role `{r}` in a pid expectation"))
                        .label("in this stat")
                        .hint(format!("pid fields name a role, or `none` for 0; declared roles: {}", names(&self.doc.roles))),
                ),
                Some(d) if d.count.as_ref().is_some_and(|c| *c.value() > 1) => self.err(
                    Diagnostic::new(loc, format!("role `{r}` has replicas, so its pid is not one pid"))
                        .label("in this stat")
                        .hint("name a role with a single process"),
                ),
                Some(_) => {}
            }
        }
    }
}

/// The longest the bytes of a `data` template get over `replicas` replicas.
fn longest(data: &[u8], replicas: u32) -> u64 {
    (0..replicas).map(|i| for_instance(data, i).len() as u64).max().unwrap_or(0)
}

/// IPC_CREAT and IPC_EXCL from a `flags:` list.
fn create_flags(flags: &[Sp<m::CreateFlag>]) -> i32 {
    flags.iter().fold(0, |acc, f| {
        acc | match f.value() {
            m::CreateFlag::Create => libc::IPC_CREAT,
            m::CreateFlag::Excl => libc::IPC_EXCL,
        }
    })
}

/// A semctl command as written in YAML.
fn cmd_name(cmd: m::SemctlCmd) -> String {
    serde_json::to_value(cmd).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}
