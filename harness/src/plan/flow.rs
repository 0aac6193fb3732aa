//! Order within and across roles: objects exist in a role before it uses
//! them (following fork inheritance), and a role waits only for children it
//! already spawned.

use std::collections::BTreeSet;

use super::build::Builder;
use super::types::*;
use crate::scenario::diag::Diagnostic;

impl Builder<'_> {
    /// Objects must exist in a role before it uses them: a role started by
    /// exec inherits nothing, a forked role what its parent had when it
    /// spawned it. And a role waits only for children it already spawned.
    pub(super) fn use_order(&mut self, roles: &[RolePlan], objects: &[ObjectPlan]) {
        #[derive(Clone, Default)]
        struct Held {
            id: BTreeSet<usize>,
            attached: BTreeSet<usize>,
            mapped: BTreeSet<usize>,
            /// Pipes whose read end, and whose write end, this role holds.
            read_end: BTreeSet<usize>,
            write_end: BTreeSet<usize>,
            /// Pipes this role has created or inherited, and FIFOs it opened.
            piped: BTreeSet<usize>,
            /// Pipes and FIFOs whose descriptors are not close-on-exec: an
            /// exec'd image keeps the ends it held.
            inheritable_ends: BTreeSet<usize>,
            /// Pipes whose close-on-exec descriptors an exec closed: a
            /// step may still name them, to see EBADF.
            exec_closed: BTreeSet<usize>,
            /// POSIX objects, files and memfds this role has open.
            opened: BTreeSet<usize>,
            /// Memfds open without close-on-exec: an exec'd child inherits them.
            inheritable: BTreeSet<usize>,
            /// Segments this role detached: a store there may be expected to fault.
            detached: BTreeSet<usize>,
            /// Queues this role closed (`descriptor: closed` reuses the number).
            closed: BTreeSet<usize>,
        }
        impl Held {
            /// What a new image holds: memfds and pipe or FIFO ends opened
            /// without close-on-exec.
            fn after_exec(&self) -> Held {
                let keep = |set: &BTreeSet<usize>| set.intersection(&self.inheritable_ends).copied().collect::<BTreeSet<usize>>();
                Held {
                    opened: self.inheritable.clone(),
                    inheritable: self.inheritable.clone(),
                    piped: keep(&self.piped),
                    read_end: keep(&self.read_end),
                    write_end: keep(&self.write_end),
                    inheritable_ends: self.inheritable_ends.clone(),
                    exec_closed: self.piped.difference(&self.inheritable_ends).copied().collect(),
                    ..Held::default()
                }
            }
        }
        let mut at_start: Vec<Option<Held>> =
            roles.iter().map(|r| if r.start == Start::Exec { Some(Held::default()) } else { None }).collect();
        let mut done = vec![false; roles.len()];
        while let Some(r) = (0..roles.len()).find(|&r| !done[r] && at_start[r].is_some()) {
            done[r] = true;
            let mut held = at_start[r].clone().unwrap_or_default();
            let mut spawned = BTreeSet::new();
            let mut waited = BTreeSet::new();
            let mut execed = false;
            // A negative test stops where it must fail; later steps only
            // run if the kernel misbehaves, so their order is not judged.
            let stop = self.doc.must_fail.as_ref().and_then(|mf| {
                (mf.role.as_ref().is_some_and(|x| x.as_str() == roles[r].name))
                    .then(|| mf.step.as_ref().map(|s| *s.value() as usize))
                    .flatten()
            });
            for (i, step) in roles[r].steps.iter().enumerate() {
                if stop.is_some_and(|k| i >= k) {
                    break;
                }
                let need = |set: &BTreeSet<usize>, o: ObjectId, first: &str, this: &mut Self| {
                    if !set.contains(&o.0) {
                        let how = if execed {
                            "after `exec` a role holds only memfds, pipes and fifos opened without cloexec"
                        } else if roles[r].start == Start::Exec {
                            "a role started by exec inherits only memfds, pipes and fifos opened without cloexec"
                        } else {
                            "a forked role inherits only what its parent did before `spawn`"
                        };
                        this.err(
                            Diagnostic::new(
                                step.loc,
                                format!("`{}` is used before `{first}` in role `{}`", objects[o.0].name, roles[r].name),
                            )
                            .label(format!("no `{first}` before this"))
                            .hint(format!("add `- {first}: {{ object: {} }}` earlier in this role ({how})", objects[o.0].name)),
                        );
                    }
                };
                let ok = step.expect.errno.is_none();
                // A pipe or FIFO end this step uses must be open here.
                let uses_end = |o: ObjectId, end: Option<PipeEnd>, held: &Held, this: &mut Self| {
                    let first = match objects[o.0].kind() {
                        Kind::Fifo => "open",
                        Kind::Signalfd => "signalfd",
                        _ => "pipe",
                    };
                    if !held.piped.contains(&o.0) {
                        if !held.exec_closed.contains(&o.0) || ok {
                            need(&held.piped, o, first, this);
                        }
                        return;
                    }
                    let open = match end {
                        Some(PipeEnd::Read) => held.read_end.contains(&o.0),
                        Some(PipeEnd::Write) => held.write_end.contains(&o.0),
                        None => held.read_end.contains(&o.0) || held.write_end.contains(&o.0),
                    };
                    if !open {
                        this.closed_end(step.loc, &objects[o.0].name, end.unwrap_or(PipeEnd::Read), &roles[r].name);
                    }
                };
                match &step.op {
                    Op::Shmget { object, .. } if ok => {
                        held.id.insert(object.0);
                    }
                    Op::Semget { object, .. } if ok => {
                        held.id.insert(object.0);
                    }
                    Op::Semctl { cmd: SemctlCmd::IpcInfo, .. } | Op::Msgctl { cmd: MsgctlCmd::IpcInfo, .. } => {}
                    Op::SemOpen { object, .. } if ok => {
                        held.opened.insert(object.0);
                    }
                    Op::SemUnlink { .. } | Op::SemOpen { .. } | Op::MqUnlink { .. } => {}
                    Op::MqOpen { object, .. } if ok => {
                        held.opened.insert(object.0);
                    }
                    Op::MqOpen { .. } => {}
                    Op::MqSend { object, descriptor, .. }
                    | Op::MqReceive { object, descriptor, .. }
                    | Op::MqGetattr { object, descriptor }
                    | Op::MqSetattr { object, descriptor, .. }
                    | Op::MqNotify { object, descriptor, .. }
                    | Op::MqClose { object, descriptor } => match descriptor {
                        None => {
                            need(&held.opened, *object, "mq_open", self);
                            if matches!(step.op, Op::MqClose { .. }) {
                                held.opened.remove(&object.0);
                                held.closed.insert(object.0);
                            }
                        }
                        Some(BadDescriptor::Closed) => need(&held.closed, *object, "mq_close", self),
                        Some(_) => {}
                    },
                    Op::SemInit { object, .. }
                    | Op::SemPost { object, .. }
                    | Op::SemWait { object, .. }
                    | Op::SemTrywait { object }
                    | Op::SemGetvalue { object }
                    | Op::SemClose { object }
                    | Op::SemDestroy { object } => match objects[object.0].spec {
                        // An unnamed semaphore is reached through its mapping.
                        ObjectSpec::PosixSem { place: Some((o, _)), .. } => match objects[o.0].kind() {
                            Kind::SysvShm => need(&held.attached, o, "shmat", self),
                            _ => need(&held.mapped, o, "mmap", self),
                        },
                        _ => {
                            need(&held.opened, *object, "sem_open", self);
                            if matches!(step.op, Op::SemClose { .. }) {
                                held.opened.remove(&object.0);
                            }
                        }
                    },
                    Op::Semop { object, id: None, .. } | Op::Semctl { object, id: None, .. } => need(&held.id, *object, "semget", self),
                    Op::Msgget { object, .. } if ok => {
                        held.id.insert(object.0);
                    }
                    Op::PingPong { object, back, .. } => match objects[object.0].kind() {
                        Kind::SysvSem => need(&held.id, *object, "semget", self),
                        Kind::SysvMsg => need(&held.id, *object, "msgget", self),
                        kind => {
                            for o in std::iter::once(object).chain(back) {
                                match objects[o.0].spec {
                                    ObjectSpec::PosixSem { place: Some((m, _)), .. } => match objects[m.0].kind() {
                                        Kind::SysvShm => need(&held.attached, m, "shmat", self),
                                        _ => need(&held.mapped, m, "mmap", self),
                                    },
                                    _ => need(&held.opened, *o, if kind == Kind::PosixSem { "sem_open" } else { "mq_open" }, self),
                                }
                            }
                        }
                    },
                    Op::SendNumbered { object, .. } | Op::ReceiveNumbered { object, .. } if objects[object.0].kind() == Kind::PosixMq => {
                        need(&held.opened, *object, "mq_open", self)
                    }
                    Op::Msgsnd { object, id: None, .. }
                    | Op::Msgrcv { object, id: None, .. }
                    | Op::SendNumbered { object, .. }
                    | Op::ReceiveNumbered { object, .. }
                    | Op::Msgctl { object, id: None, .. } => need(&held.id, *object, "msgget", self),
                    Op::Shmat { object, id, over, .. } => {
                        if id.is_none() {
                            need(&held.id, *object, "shmget", self);
                        }
                        if let Some(o) = over {
                            match objects[o.0].kind() {
                                Kind::SysvShm => need(&held.attached, *o, "shmat", self),
                                _ => need(&held.mapped, *o, "mmap", self),
                            }
                        }
                        if ok {
                            held.attached.insert(object.0);
                        }
                    }
                    Op::Shmctl { object, cmd, id: None, .. } if *cmd != ShmctlCmd::IpcInfo => need(&held.id, *object, "shmget", self),
                    Op::Shmdt { object, offset, unattached: false } => {
                        need(&held.attached, *object, "shmat", self);
                        if ok && *offset == 0 {
                            held.attached.remove(&object.0);
                            held.detached.insert(object.0);
                        }
                    }
                    Op::Mprotect { object, .. } => match objects[object.0].kind() {
                        Kind::SysvShm => need(&held.attached, *object, "shmat", self),
                        _ => need(&held.mapped, *object, "mmap", self),
                    },
                    Op::Mmap { object, over, .. } if objects[object.0].kind() == Kind::Mmap => {
                        if let Some(o) = over {
                            need(&held.mapped, *o, "mmap", self);
                        }
                        if ok {
                            held.mapped.insert(object.0);
                        }
                    }
                    Op::Munmap { object } => {
                        need(&held.mapped, *object, "mmap", self);
                        held.mapped.remove(&object.0);
                    }
                    Op::Pipe { object, flags, .. } if ok => {
                        held.piped.insert(object.0);
                        held.read_end.insert(object.0);
                        held.write_end.insert(object.0);
                        if flags & libc::O_CLOEXEC == 0 {
                            held.inheritable_ends.insert(object.0);
                        }
                    }
                    Op::Open { object, flags, .. } if ok && objects[object.0].kind() == Kind::Fifo => {
                        held.piped.insert(object.0);
                        held.inheritable_ends.insert(object.0);
                        if !flags.wronly || flags.rdwr {
                            held.read_end.insert(object.0);
                        }
                        if flags.wronly || flags.rdwr {
                            held.write_end.insert(object.0);
                        }
                    }
                    Op::Fcntl { object, end }
                    | Op::PipeSize { object, end, .. }
                    | Op::Fionread { object, end }
                    | Op::Lseek { object, end, .. } => uses_end(*object, *end, &held, self),
                    Op::Signalfd { object, descriptor: None, .. } if ok => {
                        held.piped.insert(object.0);
                        held.read_end.insert(object.0);
                        held.opened.insert(object.0);
                    }
                    Op::Sigwait { signalfd: Some(o), .. } => uses_end(*o, Some(PipeEnd::Read), &held, self),
                    Op::Splice { from, to, .. } => {
                        uses_end(*from, Some(PipeEnd::Read), &held, self);
                        uses_end(*to, Some(PipeEnd::Write), &held, self);
                    }
                    Op::Close { object, end: None } => {
                        need(&held.opened, *object, opener(objects[object.0].kind()), self);
                        held.opened.remove(&object.0);
                        held.read_end.remove(&object.0);
                        held.inheritable.remove(&object.0);
                    }
                    Op::Close { object, end: Some(end) } => {
                        uses_end(*object, Some(*end), &held, self);
                        let ends = if *end == PipeEnd::Read { &mut held.read_end } else { &mut held.write_end };
                        if held.piped.contains(&object.0) && !ends.remove(&object.0) {
                            self.closed_end(step.loc, &objects[object.0].name, *end, &roles[r].name);
                        }
                    }
                    Op::MemfdCreate { object, cloexec } if ok => {
                        held.opened.insert(object.0);
                        if !cloexec {
                            held.inheritable.insert(object.0);
                        }
                    }
                    Op::ShmOpen { object, .. } | Op::Open { object, .. } if ok => {
                        held.opened.insert(object.0);
                    }
                    Op::Msync { object, .. } => need(&held.mapped, *object, "mmap", self),
                    Op::Ftruncate { object, .. } | Op::Fallocate { object, .. } | Op::Fstat { object } => {
                        need(&held.opened, *object, opener(objects[object.0].kind()), self);
                    }
                    Op::Mmap { object, over, .. } if matches!(objects[object.0].kind(), Kind::PosixShm | Kind::File | Kind::Memfd) => {
                        need(&held.opened, *object, opener(objects[object.0].kind()), self);
                        if let Some(o) = over {
                            need(&held.mapped, *o, "mmap", self);
                        }
                        if ok {
                            held.mapped.insert(object.0);
                        }
                    }
                    Op::Append { object, .. } if matches!(objects[object.0].kind(), Kind::Pipe | Kind::Fifo) => {
                        uses_end(*object, Some(PipeEnd::Write), &held, self)
                    }
                    Op::CheckRecords { object, .. } if matches!(objects[object.0].kind(), Kind::Pipe | Kind::Fifo) => {
                        uses_end(*object, Some(PipeEnd::Read), &held, self)
                    }
                    Op::Append { object, guard, .. } => {
                        need(&held.opened, *object, opener(objects[object.0].kind()), self);
                        if let Some(g) = guard {
                            need(&held.id, *g, "semget", self);
                        }
                    }
                    Op::CheckRecords { object, .. } => need(&held.opened, *object, opener(objects[object.0].kind()), self),
                    Op::Read { object, via_descriptor: true, .. } | Op::Write { object, via_descriptor: true, .. } => {
                        need(&held.opened, *object, opener(objects[object.0].kind()), self);
                    }
                    Op::Read { object, .. }
                    | Op::Write { object, .. }
                    | Op::Fill { object, .. }
                    | Op::Publish { object, .. }
                    | Op::Consume { object, .. }
                    | Op::Stress { object, .. }
                    | Op::CheckPattern { object, .. } => match objects[object.0].kind() {
                        // A store where a detached segment was is a fault to expect.
                        Kind::SysvShm if step.expect.killed_by.is_some() && held.detached.contains(&object.0) => {}
                        Kind::SysvShm => need(&held.attached, *object, "shmat", self),
                        Kind::Mmap | Kind::PosixShm | Kind::File | Kind::Memfd => need(&held.mapped, *object, "mmap", self),
                        // Refused when the step was built: not a memory or stream kind.
                        Kind::SysvSem | Kind::SysvMsg | Kind::PosixSem | Kind::PosixMq | Kind::Signalfd => {}
                        Kind::Pipe | Kind::Fifo => {
                            let end = match step.op {
                                Op::Read { end, .. } => end.unwrap_or(PipeEnd::Read),
                                Op::Write { end, .. } => end.unwrap_or(PipeEnd::Write),
                                _ => PipeEnd::Write,
                            };
                            uses_end(*object, Some(end), &held, self);
                        }
                    },
                    Op::Spawn { role } => {
                        spawned.insert(role.0);
                        if roles[role.0].start == Start::Fork {
                            at_start[role.0] = Some(held.clone());
                        } else {
                            at_start[role.0] = Some(held.after_exec());
                        }
                    }
                    Op::Exec { .. } => {
                        execed = true;
                        held = held.after_exec();
                        if let Some(child) = spawned.iter().find(|c| !waited.contains(*c)) {
                            self.err(
                                Diagnostic::new(
                                    step.loc,
                                    format!("role `{}` replaces its image while `{}` may still run", roles[r].name, roles[*child].name),
                                )
                                .label("the new image cannot wait for children of the old one")
                                .hint(format!("add `- wait_exit: {}` before the exec", roles[*child].name)),
                            );
                        }
                    }
                    Op::WaitExit { role } if spawned.contains(&role.0) => {
                        waited.insert(role.0);
                    }
                    Op::WaitExit { role } => {
                        self.err(
                            Diagnostic::new(
                                step.loc,
                                format!("role `{}` waits for `{}` before spawning it", roles[r].name, roles[role.0].name),
                            )
                            .label("not spawned yet")
                            .hint(format!("move `- spawn: {}` before this step", roles[role.0].name)),
                        );
                    }
                    _ => {}
                }
            }
        }
    }

    fn closed_end(&mut self, loc: Loc, object: &str, end: PipeEnd, role: &str) {
        let end = if end == PipeEnd::Read { "read" } else { "write" };
        self.err(
            Diagnostic::new(loc, format!("the {end} end of `{object}` is already closed in role `{role}`"))
                .label("closed earlier")
                .hint(format!("remove the earlier `close` of the {end} end, or this step")),
        );
    }

    /// Synchronisation that cannot order anything: a later wait for a count
    /// the role has already waited for, and `blocks: true` with no role
    /// waiting until this one is blocked (the waker could act first, and a
    /// correct kernel would then be reported as failing).
    pub(super) fn sync_order(&mut self, roles: &[RolePlan], events: &[String]) {
        for (r, role) in roles.iter().enumerate() {
            let mut waited: Vec<(EventId, u32)> = Vec::new();
            for (index, step) in role.steps.iter().enumerate() {
                match &step.op {
                    Op::Wait { event, count } => {
                        if let Some((_, before)) = waited.iter().find(|(e, c)| e == event && c >= count) {
                            self.err(
                                Diagnostic::new(
                                    step.loc,
                                    format!("this wait for `{}` is already satisfied by an earlier one (count {before})", events[event.0]),
                                )
                                .label("returns at once")
                                .hint(format!("event counts only grow: wait for `count: {}` to wait for the next signal", before + 1)),
                            );
                        }
                        waited.push((*event, *count));
                    }
                    // A negative test may claim a call blocks that cannot.
                    _ if step.expect.blocks && !self.is_negative_step(&role.name, index) => {
                        let watched = roles.iter().enumerate().any(|(o, other)| {
                            o != r && other.steps.iter().any(|s| matches!(s.op, Op::WaitBlocked { role: w, .. } if w.0 == r))
                        });
                        if !watched {
                            self.err(
                                Diagnostic::new(step.loc, format!("no role waits until `{}` is blocked", role.name))
                                    .label("`blocks: true` needs a partner")
                                    .hint(format!(
                                        "add `- wait_blocked: {{ role: {} }}` to the role that wakes it, before it acts",
                                        role.name
                                    )),
                            );
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The step that opens an object of a descriptor-based kind.
fn opener(kind: Kind) -> &'static str {
    match kind {
        Kind::PosixShm => "shm_open",
        Kind::Memfd => "memfd_create",
        Kind::Signalfd => "signalfd",
        _ => "open",
    }
}
