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
            piped: BTreeSet<usize>,
        }
        let mut at_start: Vec<Option<Held>> =
            roles.iter().map(|r| if r.start == Start::Exec { Some(Held::default()) } else { None }).collect();
        let mut done = vec![false; roles.len()];
        while let Some(r) = (0..roles.len()).find(|&r| !done[r] && at_start[r].is_some()) {
            done[r] = true;
            let mut held = at_start[r].clone().unwrap_or_default();
            let mut spawned = BTreeSet::new();
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
                        let how = if roles[r].start == Start::Exec {
                            "a role started by exec inherits nothing"
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
                match &step.op {
                    Op::Shmget { object, .. } if ok => {
                        held.id.insert(object.0);
                    }
                    Op::Shmat { object, .. } => {
                        need(&held.id, *object, "shmget", self);
                        if ok {
                            held.attached.insert(object.0);
                        }
                    }
                    Op::Shmctl { object, .. } => need(&held.id, *object, "shmget", self),
                    Op::Shmdt { object, offset } => {
                        need(&held.attached, *object, "shmat", self);
                        if ok && *offset == 0 {
                            held.attached.remove(&object.0);
                        }
                    }
                    Op::Mmap { object } if ok => {
                        held.mapped.insert(object.0);
                    }
                    Op::Munmap { object } => {
                        need(&held.mapped, *object, "mmap", self);
                        held.mapped.remove(&object.0);
                    }
                    Op::Pipe { object } if ok => {
                        held.piped.insert(object.0);
                    }
                    Op::Close { object, .. } => need(&held.piped, *object, "pipe", self),
                    Op::Read { object, .. } | Op::Write { object, .. } => match objects[object.0].kind() {
                        Kind::SysvShm => need(&held.attached, *object, "shmat", self),
                        Kind::Mmap => need(&held.mapped, *object, "mmap", self),
                        Kind::Pipe => need(&held.piped, *object, "pipe", self),
                    },
                    Op::Spawn { role } => {
                        spawned.insert(role.0);
                        if roles[role.0].start == Start::Fork {
                            at_start[role.0] = Some(held.clone());
                        } else {
                            at_start[role.0] = Some(Held::default());
                        }
                    }
                    Op::WaitExit { role } if !spawned.contains(&role.0) => {
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
}
