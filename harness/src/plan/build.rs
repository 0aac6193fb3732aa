//! Validation and lowering: `ParsedCase` → `Plan`, or every problem at once.

use std::collections::{BTreeMap, BTreeSet};

use crate::scenario::diag::Diagnostic;
use crate::scenario::load::ParsedCase;
use crate::scenario::model::{self as m, AttachAt, ObjectDecl, ScenarioDoc, Step};
use crate::scenario::span::{Loc, Sp};
use crate::sys;

use super::types::*;

const DEFAULT_TIMEOUT_MS: u64 = 10_000;
const MAX_TIMEOUT_MS: u64 = 300_000;

/// Validate one case and lower it into a plan.
pub fn build(case: &ParsedCase, path: &str) -> Result<Plan, Vec<Diagnostic>> {
    let mut b = Builder { doc: &case.doc, diags: Vec::new() };
    let plan = b.plan(case, path);
    if b.diags.is_empty() { Ok(plan) } else { Err(b.diags) }
}

struct Builder<'a> {
    doc: &'a ScenarioDoc,
    diags: Vec<Diagnostic>,
}

fn names<T>(map: &indexmap::IndexMap<String, T>) -> String {
    if map.is_empty() { "none are declared".to_owned() } else { map.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ") }
}

impl Builder<'_> {
    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn plan(&mut self, case: &ParsedCase, path: &str) -> Plan {
        let doc = self.doc;
        if doc.description.trim().is_empty() {
            self.err(
                Diagnostic::new(doc.description.loc(), "the description is empty")
                    .label("here")
                    .hint("say in a sentence which behaviour this scenario demonstrates"),
            );
        }
        let timeout_ms = self.timeout();
        let requires = self.requires();
        let files = doc.files.iter().map(|(n, f)| FilePlan { name: n.clone(), content: f.content.clone() }).collect();
        let objects = self.objects();
        let (events, barriers) = self.sync_names();
        let spawned_by = self.spawn_graph();
        let mut roles = Vec::new();
        for (i, (name, decl)) in doc.roles.iter().enumerate() {
            roles.push(self.role(RoleId(i), name, decl, &objects, &events, &barriers, &spawned_by));
        }
        if doc.roles.is_empty() {
            self.err(
                Diagnostic::new(Loc::default(), "the scenario has no roles").hint("add `roles:` with at least one role and its `steps`"),
            );
        }
        let barriers = barriers
            .iter()
            .map(|name| BarrierPlan {
                name: name.clone(),
                parties: roles
                    .iter()
                    .filter(|r| r.steps.iter().any(|s| matches!(s.op, Op::Barrier { barrier } if barriers[barrier.0] == *name)))
                    .map(|r| r.count)
                    .sum(),
            })
            .collect();
        let after = self.after(&objects);
        let must_fail = self.must_fail();
        let mut requires = requires;
        requires.credentials = roles.iter().any(|r| r.credentials.is_some());
        let plan = Plan {
            name: case.name.clone(),
            path: path.to_owned(),
            case: case.case.clone(),
            description: doc.description.value().trim().to_owned(),
            tags: doc.tags.clone(),
            references: doc.references.clone(),
            timeout_ms,
            requires,
            files,
            objects,
            roles,
            events,
            barriers,
            after,
            must_fail,
        };
        self.falsifiable(&plan);
        plan
    }

    fn timeout(&mut self) -> u64 {
        let Some(t) = &self.doc.timeout else { return DEFAULT_TIMEOUT_MS };
        match parse_duration_ms(t) {
            Some(ms) if ms > 0 && ms <= MAX_TIMEOUT_MS => ms,
            Some(_) => {
                self.err(
                    Diagnostic::new(t.loc(), format!("timeout `{}` is out of range", t.value()))
                        .label("here")
                        .hint("a timeout must be more than 0 and at most 300s"),
                );
                DEFAULT_TIMEOUT_MS
            }
            None => {
                self.err(
                    Diagnostic::new(t.loc(), format!("`{}` is not a duration", t.value()))
                        .label("here")
                        .hint("write a number with a unit: `500ms`, `10s`, `2m`"),
                );
                DEFAULT_TIMEOUT_MS
            }
        }
    }

    fn requires(&mut self) -> Requirements {
        let r = &self.doc.requires;
        let mut out = Requirements { root: r.root, private_ipc_namespace: r.private_ipc_namespace, ..Requirements::default() };
        for c in &r.capabilities {
            if crate::plan::probe::capability_bit(c).is_none() {
                self.err(
                    Diagnostic::new(c.loc(), format!("unknown capability `{}`", c.value()))
                        .label("here")
                        .hint("use a name from capabilities(7), such as CAP_IPC_OWNER or CAP_SYS_RESOURCE"),
                );
            }
            out.capabilities.push(c.value().clone());
        }
        if let Some(k) = &r.kernel {
            match parse_kernel_version(k) {
                Some(v) => out.kernel = Some(v),
                None => self.err(
                    Diagnostic::new(k.loc(), format!("`{}` is not a kernel version", k.value()))
                        .label("here")
                        .hint("write `major.minor`, for example `5.10`"),
                ),
            }
        }
        out.filesystems = r.filesystems.iter().map(|f| f.value().clone()).collect();
        for f in &r.features {
            if !crate::plan::probe::FEATURES.contains(&f.as_str()) {
                self.err(
                    Diagnostic::new(f.loc(), format!("unknown feature `{}`", f.value()))
                        .label("here")
                        .hint(format!("known features: {}", crate::plan::probe::FEATURES.join(", "))),
                );
            }
            out.features.push(f.value().clone());
        }
        for (name, v) in &r.limits {
            if crate::plan::probe::limit_path(name).is_none() {
                self.err(
                    Diagnostic::new(v.loc(), format!("unknown limit `{name}`"))
                        .label("its value")
                        .hint("name an IPC sysctl such as kernel.shmmni, kernel.shmmax or fs.mqueue.msg_max"),
                );
            }
            out.limits.push((name.clone(), *v.value()));
        }
        out
    }

    fn objects(&mut self) -> Vec<ObjectPlan> {
        let doc = self.doc;
        let mut out = Vec::new();
        for (name, decl) in &doc.objects {
            let spec = match decl.value() {
                ObjectDecl::SysvShm { size, key, mode } => {
                    let key = match key {
                        m::KeySpec::Generated => KeyPlan::Generated,
                        m::KeySpec::Private => KeyPlan::Private,
                        m::KeySpec::Ftok { file, proj } => {
                            let fid = doc.files.get_index_of(file.as_str());
                            if fid.is_none() {
                                self.err(
                                    Diagnostic::new(file.loc(), format!("no file named `{}`", file.value())).label("not in `files`").hint(
                                        format!(
                                            "declare it under `files:` so the harness creates it; declared files: {}",
                                            names(&doc.files)
                                        ),
                                    ),
                                );
                            }
                            let p = self.proj(proj);
                            KeyPlan::Ftok { file: FileId(fid.unwrap_or(0)), proj: p }
                        }
                    };
                    let mode = mode.unwrap_or(0o600);
                    if mode > 0o777 {
                        self.err(
                            Diagnostic::new(decl.loc(), format!("mode {mode:#o} has bits beyond 0o777"))
                                .label("in this object")
                                .hint("give permission bits only, for example 0o600"),
                        );
                    }
                    ObjectSpec::SysvShm { size: *size, key, mode }
                }
                ObjectDecl::Mmap { size, sharing } => {
                    if *size == 0 {
                        self.err(
                            Diagnostic::new(decl.loc(), "an mmap object needs a size above 0")
                                .label("in this object")
                                .hint("mmap(2) fails with EINVAL for length 0; give the size in bytes"),
                        );
                    }
                    ObjectSpec::Mmap { size: *size, shared: *sharing == m::Sharing::Shared }
                }
                ObjectDecl::Pipe {} => ObjectSpec::Pipe,
            };
            out.push(ObjectPlan { name: name.clone(), spec, loc: decl.loc() });
        }
        out
    }

    fn proj(&mut self, proj: &Sp<String>) -> u8 {
        match proj.as_bytes() {
            [b] if *b != 0 => *b,
            _ => {
                self.err(
                    Diagnostic::new(proj.loc(), format!("`{}` is not one character", proj.value()))
                        .label("here")
                        .hint("ftok(3) uses the low 8 bits of the project id; give one character such as `R`"),
                );
                b'R'
            }
        }
    }

    /// Event and barrier names, in order of first use.
    fn sync_names(&mut self) -> (Vec<String>, Vec<String>) {
        let mut events = Vec::new();
        let mut barriers = Vec::new();
        let mut signalled = BTreeSet::new();
        for role in self.doc.roles.values() {
            for step in &role.steps {
                match step.value() {
                    Step::Signal(e) => {
                        signalled.insert(e.value().clone());
                        if !events.contains(e.value()) {
                            events.push(e.value().clone());
                        }
                    }
                    Step::Barrier(b) if !barriers.contains(b.value()) => barriers.push(b.value().clone()),
                    _ => {}
                }
            }
        }
        for role in self.doc.roles.values() {
            for step in &role.steps {
                if let Step::Wait(w) = step.value() {
                    if !signalled.contains(w.event.value()) {
                        self.err(
                            Diagnostic::new(w.event.loc(), format!("event `{}` is waited for but never signalled", w.event.value()))
                                .label("no role signals this")
                                .hint(format!(
                                    "add `- signal: {}` to the role that should wake this one (events signalled: {})",
                                    w.event.value(),
                                    if events.is_empty() { "none".to_owned() } else { events.join(", ") }
                                )),
                        );
                    }
                }
            }
        }
        (events, barriers)
    }

    /// Who spawns whom: each role may be spawned by at most one role.
    fn spawn_graph(&mut self) -> BTreeMap<String, RoleId> {
        let mut by = BTreeMap::new();
        for (i, (name, role)) in self.doc.roles.iter().enumerate() {
            for step in &role.steps {
                if let Step::Spawn(target) = step.value() {
                    if !self.doc.roles.contains_key(target.as_str()) {
                        continue; // reported with the step
                    }
                    if target.value() == name {
                        self.err(
                            Diagnostic::new(target.loc(), format!("role `{name}` spawns itself"))
                                .label("here")
                                .hint("declare a separate role for the child"),
                        );
                    } else if by.insert(target.value().clone(), RoleId(i)).is_some() {
                        self.err(
                            Diagnostic::new(target.loc(), format!("role `{}` is spawned more than once", target.value()))
                                .label("second spawn")
                                .hint("a role is started once (with all its replicas); declare another role for a second process"),
                        );
                    }
                }
            }
        }
        for (name, role) in &self.doc.roles {
            if role.from == m::Start::Fork && !by.contains_key(name) {
                self.err(
                    Diagnostic::new(role.loc(), format!("role `{name}` is `from: fork` but no role spawns it"))
                        .label("this role")
                        .hint(format!("add `- spawn: {name}` to the role it should be forked from, or make it `from: exec`")),
                );
            }
        }
        // Cycles would deadlock: follow parents and refuse loops.
        for (name, role) in &self.doc.roles {
            let mut seen = BTreeSet::new();
            let mut cur = name.clone();
            while let Some(p) = by.get(&cur) {
                let pname = self.doc.roles.get_index(p.0).map(|(n, _)| n.clone()).unwrap_or_default();
                if !seen.insert(pname.clone()) || pname == *name {
                    self.err(
                        Diagnostic::new(role.loc(), format!("role `{name}` is part of a spawn cycle"))
                            .label("this role")
                            .hint("every role must descend from one started by the supervisor"),
                    );
                    break;
                }
                cur = pname;
            }
        }
        by
    }

    #[allow(clippy::too_many_arguments)]
    fn role(
        &mut self,
        id: RoleId,
        name: &str,
        decl: &Sp<m::RoleDecl>,
        objects: &[ObjectPlan],
        events: &[String],
        barriers: &[String],
        spawned_by: &BTreeMap<String, RoleId>,
    ) -> RolePlan {
        let count = decl.count.as_ref().map_or(1, |c| *c.value());
        if count == 0 || count > 64 {
            let loc = decl.count.as_ref().map_or(decl.loc(), Sp::loc);
            self.err(Diagnostic::new(loc, format!("count {count} is out of range")).label("here").hint("a role has 1 to 64 replicas"));
        }
        if decl.steps.is_empty() {
            self.err(
                Diagnostic::new(decl.loc(), format!("role `{name}` has no steps"))
                    .label("this role")
                    .hint("give it at least one step, or remove it"),
            );
        }
        let mut steps = Vec::new();
        let mut ended: Option<Loc> = None;
        let mut barriers_seen = BTreeSet::new();
        for step in &decl.steps {
            if let Some(end) = ended {
                self.err(
                    Diagnostic::new(step.loc(), "this step can never run")
                        .label("unreachable")
                        .hint(format!("the role already ends at line {}; move or remove this step", end.line)),
                );
                ended = Some(step.loc()); // report once per extra step, pointing at the newest end
            }
            if let Step::Barrier(b) = step.value() {
                if !barriers_seen.insert(b.value().clone()) {
                    self.err(
                        Diagnostic::new(b.loc(), format!("barrier `{}` appears twice in role `{name}`", b.value()))
                            .label("second use")
                            .hint("a barrier is met once per role; use another name for a second meeting"),
                    );
                }
            }
            if let Some(s) = self.step(id, name, step, objects, events, barriers, spawned_by) {
                if matches!(s.op, Op::Exit { .. } | Op::Crash { .. }) || s.expect.killed_by.is_some() {
                    ended = ended.or(Some(step.loc()));
                }
                steps.push(s);
            }
        }
        let derived = steps.iter().rev().find_map(|s| match &s.op {
            Op::Exit { code } => Some(ExitPlan::Code(*code)),
            Op::Crash { signal } => Some(ExitPlan::KilledBy(signal.clone())),
            _ => s.expect.killed_by.clone().map(ExitPlan::KilledBy),
        });
        let (exit, exit_loc, exit_explicit) = match &decl.exit {
            Some(e) => {
                let plan = match e.value() {
                    m::ExitExpect::Code(c) => ExitPlan::Code(*c),
                    m::ExitExpect::KilledBy(s) => ExitPlan::KilledBy(self.signal(s)),
                };
                (plan, e.loc(), true)
            }
            None => (derived.unwrap_or(ExitPlan::Code(0)), decl.loc(), false),
        };
        let credentials =
            decl.credentials.as_ref().map(|c| CredentialsPlan { uid: c.uid, gid: c.gid, drop_capabilities: c.drop_capabilities });
        let start = match decl.from {
            m::Start::Exec => Start::Exec,
            m::Start::Fork => Start::Fork,
        };
        if start == Start::Fork && credentials.is_some() {
            let loc = decl.credentials.as_ref().map_or(decl.loc(), Sp::loc);
            self.err(
                Diagnostic::new(loc, "a forked role cannot change credentials here")
                    .label("credentials")
                    .hint("use `from: exec` for a role with other credentials"),
            );
        }
        RolePlan {
            name: name.to_owned(),
            start,
            count,
            credentials,
            steps,
            exit,
            exit_loc,
            exit_explicit,
            spawned_by: spawned_by.get(name).copied(),
            loc: decl.loc(),
        }
    }

    fn signal(&mut self, s: &Sp<String>) -> String {
        if sys::signal_from_name(s).is_none() {
            self.err(
                Diagnostic::new(s.loc(), format!("unknown signal `{}`", s.value()))
                    .label("here")
                    .hint("use a name such as SIGSEGV, SIGBUS, SIGPIPE or SIGRTMIN+1"),
            );
        }
        s.value().clone()
    }

    fn object_ref(&mut self, objects: &[ObjectPlan], name: &Sp<String>, want: &[Kind], op: &str) -> Option<ObjectId> {
        self.object_at(objects, name.as_str(), name.loc(), want, op)
    }

    fn object_at(&mut self, objects: &[ObjectPlan], name: &str, loc: Loc, want: &[Kind], op: &str) -> Option<ObjectId> {
        let Some(i) = objects.iter().position(|o| o.name == name) else {
            self.err(
                Diagnostic::new(loc, format!("unknown object `{name}`"))
                    .label("not declared")
                    .hint(format!("declare it under `objects:`; declared objects: {}", names(&self.doc.objects))),
            );
            return None;
        };
        let kind = objects[i].kind();
        if !want.contains(&kind) {
            let wanted = want.iter().map(|k| k.name()).collect::<Vec<_>>().join(" or ");
            self.err(
                Diagnostic::new(loc, format!("`{op}` needs a {wanted} object, but `{name}` is {}", kind.name()))
                    .label("wrong kind")
                    .hint(format!("use an object of kind {wanted} here")),
            );
            return None;
        }
        Some(ObjectId(i))
    }

    fn role_ref(&mut self, name: &Sp<String>) -> Option<RoleId> {
        let r = self.doc.roles.get_index_of(name.as_str()).map(RoleId);
        if r.is_none() {
            self.err(
                Diagnostic::new(name.loc(), format!("unknown role `{}`", name.value()))
                    .label("not declared")
                    .hint(format!("declared roles: {}", names(&self.doc.roles))),
            );
        }
        r
    }

    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        me: RoleId,
        me_name: &str,
        step: &Sp<Step>,
        objects: &[ObjectPlan],
        events: &[String],
        barriers: &[String],
        spawned_by: &BTreeMap<String, RoleId>,
    ) -> Option<StepPlan> {
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
                let create = a.flags.iter().any(|f| **f == m::ShmgetFlag::Create);
                let excl = a.flags.iter().any(|f| **f == m::ShmgetFlag::Excl);
                (
                    self.object_ref(objects, &a.object, &[Kind::SysvShm], "shmget").map(|object| Op::Shmget {
                        object,
                        create,
                        excl,
                        size: a.size,
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
                if misaligned && !rnd && !expects_einval {
                    let loc = a.at.as_ref().map_or(step.loc(), Sp::loc);
                    self.err(
                        Diagnostic::new(loc, format!("attach address is not a multiple of SHMLBA ({lba})"))
                            .label("misaligned")
                            .hint("add `rnd` to `flags` to round it down (SHM_RND), or expect `errno: EINVAL`, or use an aligned address"),
                    );
                }
                let op = self.object_ref(objects, &a.object, &[Kind::SysvShm], "shmat").map(|object| Op::Shmat {
                    object,
                    at,
                    rdonly: a.flags.iter().any(|f| **f == m::ShmatFlag::Rdonly),
                    rnd,
                    remap: a.flags.iter().any(|f| **f == m::ShmatFlag::Remap),
                });
                (op, &a.expect)
            }
            Step::Shmdt(a) => (
                self.object_ref(objects, &a.object, &[Kind::SysvShm], "shmdt").map(|object| Op::Shmdt { object, offset: a.offset }),
                &a.expect,
            ),
            Step::Shmctl(a) => {
                (self.object_ref(objects, &a.object, &[Kind::SysvShm], "shmctl").map(|object| Op::Shmctl { object, cmd: a.cmd }), &a.expect)
            }
            Step::Mmap(a) => (self.object_ref(objects, &a.object, &[Kind::Mmap], "mmap").map(|object| Op::Mmap { object }), &a.expect),
            Step::Munmap(a) => {
                (self.object_ref(objects, &a.object, &[Kind::Mmap], "munmap").map(|object| Op::Munmap { object }), &a.expect)
            }
            Step::Pipe(a) => (self.object_ref(objects, &a.object, &[Kind::Pipe], "pipe").map(|object| Op::Pipe { object }), &a.expect),
            Step::Close(a) => {
                (self.object_ref(objects, &a.object, &[Kind::Pipe], "close").map(|object| Op::Close { object, end: a.end }), &a.expect)
            }
            Step::Write(a) => {
                let object = self.object_ref(objects, &a.to, &[Kind::SysvShm, Kind::Mmap, Kind::Pipe], "write");
                if let Some(o) = object {
                    self.check_offset(objects, o, a.offset, a.data.len() as u64, a.to.loc());
                }
                (object.map(|object| Op::Write { object, data: a.data.as_bytes().to_vec(), offset: a.offset }), &a.expect)
            }
            Step::Read(a) => {
                let object = self.object_ref(objects, &a.from, &[Kind::SysvShm, Kind::Mmap, Kind::Pipe], "read");
                let len = a.len.or_else(|| a.expect.as_ref().and_then(|e| e.data.as_ref()).map(|d| d.len() as u64));
                let Some(len) = len else {
                    self.err(
                        Diagnostic::new(step.loc(), "a read needs `len` or an expected `data`")
                            .label("this read")
                            .hint("say how many bytes to read with `len: N`"),
                    );
                    return None;
                };
                if let Some(o) = object {
                    self.check_offset(objects, o, a.offset, len, a.from.loc());
                }
                (object.map(|object| Op::Read { object, len, offset: a.offset, all: a.all }), &a.expect)
            }
            Step::Signal(e) => (events.iter().position(|n| n == e.value()).map(|i| Op::Signal { event: EventId(i) }), &no_expect),
            Step::Wait(w) => {
                let count = w.count.unwrap_or(1);
                (events.iter().position(|n| n == w.event.value()).map(|i| Op::Wait { event: EventId(i), count }), &no_expect)
            }
            Step::Barrier(b) => (barriers.iter().position(|n| n == b.value()).map(|i| Op::Barrier { barrier: BarrierId(i) }), &no_expect),
            Step::WaitBlocked(w) => {
                let role = self.role_ref(&w.role);
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
                (role.map(|role| Op::WaitBlocked { role, instance: w.instance }), &no_expect)
            }
            Step::Spawn(r) => (self.role_ref(r).map(|role| Op::Spawn { role }), &no_expect),
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
            Step::Exit(c) => (Some(Op::Exit { code: *c.value() }), &no_expect),
            Step::Crash(s) => (Some(Op::Crash { signal: self.signal(s) }), &no_expect),
        };
        let op = op?;
        let expect = self.expect(&op, expect.as_ref(), step.loc());
        Some(StepPlan { op, expect, loc: step.loc() })
    }

    fn check_offset(&mut self, objects: &[ObjectPlan], o: ObjectId, offset: u64, len: u64, loc: Loc) {
        let size = match objects[o.0].spec {
            ObjectSpec::SysvShm { size, .. } | ObjectSpec::Mmap { size, .. } => size,
            ObjectSpec::Pipe => {
                if offset != 0 {
                    self.err(Diagnostic::new(loc, "a pipe has no offsets").label("pipe").hint("remove `offset`; pipes are byte streams"));
                }
                return;
            }
        };
        if offset.saturating_add(len) > size.next_multiple_of(sys::page_size() as u64) {
            self.err(
                Diagnostic::new(
                    loc,
                    format!("bytes {offset}..{} lie outside `{}` ({size} bytes, mapped in whole pages)", offset + len, objects[o.0].name),
                )
                .label("out of range")
                .hint("shorten the data or the offset; to provoke a fault on purpose use `crash:`"),
            );
        }
    }

    fn expect(&mut self, op: &Op, e: Option<&Sp<m::Expect>>, step_loc: Loc) -> ExpectPlan {
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
                    Diagnostic::new(errno.loc(), format!("unknown errno `{}`", errno.value()))
                        .label("here")
                        .hint("use a symbolic name from errno(3), such as EINVAL or ENOENT"),
                );
            }
            out.errno = Some(errno.value().clone());
        }
        if let Some(v) = &e.value {
            out.value = Some(*v.value());
        }
        if let Some(d) = &e.data {
            if !matches!(op, Op::Read { .. }) {
                misplaced(self, "data", d.loc(), "`read`");
            }
            if let Op::Read { len, .. } = op {
                if d.len() as u64 > *len {
                    self.err(
                        Diagnostic::new(d.loc(), format!("expected data is {} bytes but the read asks for {len}", d.len()))
                            .label("too long")
                            .hint("raise `len` or shorten the data"),
                    );
                }
            }
            out.data = Some(d.as_bytes().to_vec());
        }
        if let Some(eof) = &e.eof {
            if !matches!(op, Op::Read { .. }) {
                misplaced(self, "eof", eof.loc(), "`read` from a pipe");
            }
            out.eof = Some(*eof.value());
        }
        if let Some(s) = &e.stat {
            if !matches!(op, Op::Shmctl { cmd: ShmctlCmd::IpcStat, .. }) {
                misplaced(self, "stat", s.loc(), "`shmctl` with `cmd: ipc_stat`");
            }
            self.stat_roles(s.value(), s.loc());
            out.stat = Some(s.value().clone());
        }
        if let Some(a) = &e.address {
            if !matches!(op, Op::Shmat { .. }) {
                misplaced(self, "address", a.loc(), "`shmat`");
            }
            if let (Op::Shmat { at: AttachAt::Kernel, .. }, AddressExpect::Requested | AddressExpect::RequestedRoundedDown) =
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
        if let Some(k) = &e.killed_by {
            out.killed_by = Some(self.signal(k));
        }
        if let Some(b) = &e.blocks {
            out.blocks = *b.value();
        }
        let conflicts = [
            (
                out.errno.is_some()
                    && (out.data.is_some() || out.eof.is_some() || out.stat.is_some() || out.address.is_some() || out.value.is_some()),
                "a failing call (`errno`) returns no data, value, stat or address",
            ),
            (
                out.killed_by.is_some() && (out.errno.is_some() || out.data.is_some() || out.value.is_some()),
                "a step that kills its role (`killed_by`) returns nothing",
            ),
            (out.eof == Some(true) && out.data.as_ref().is_some_and(|d| !d.is_empty()), "end of file means no data"),
        ];
        for (bad, why) in conflicts {
            if bad {
                self.err(Diagnostic::new(e.loc(), "these expectations contradict each other").label("here").hint(why));
            }
        }
        if out.blocks && !matches!(op, Op::Read { .. } | Op::Write { .. }) {
            misplaced(self, "blocks", e.loc(), "`read` and `write` (other blocking calls come with their kinds)");
        }
        let _ = step_loc;
        out
    }

    fn stat_roles(&mut self, s: &StatExpect, loc: Loc) {
        for r in [&s.cpid, &s.lpid].into_iter().flatten() {
            if !self.doc.roles.contains_key(r.as_str()) {
                self.err(
                    Diagnostic::new(loc, format!("unknown role `{r}` in a pid expectation"))
                        .label("in this stat")
                        .hint(format!("cpid and lpid name a role; declared roles: {}", names(&self.doc.roles))),
                );
            }
        }
    }

    fn after(&mut self, objects: &[ObjectPlan]) -> AfterPlan {
        let Some(a) = &self.doc.after else { return AfterPlan::default() };
        let mut out = AfterPlan::default();
        let persistent = [Kind::SysvShm];
        for n in &a.exists {
            if let Some(o) = self.object_ref(objects, n, &persistent, "after.exists") {
                out.exists.push((o, n.loc()));
            }
        }
        for n in &a.gone {
            if let Some(o) = self.object_ref(objects, n, &persistent, "after.gone") {
                if out.exists.iter().any(|(e, _)| *e == o) {
                    self.err(
                        Diagnostic::new(n.loc(), format!("`{}` cannot both exist and be gone", n.value()))
                            .label("here")
                            .hint("keep one of the two"),
                    );
                }
                out.gone.push((o, n.loc()));
            }
        }
        for (name, s) in &a.stat {
            if let Some(o) = self.object_at(objects, name, s.loc(), &persistent, "after.stat") {
                self.stat_roles(s.value(), s.loc());
                out.stat.push((o, s.value().clone(), s.loc()));
            }
        }
        out
    }

    fn must_fail(&mut self) -> Option<MustFailPlan> {
        let mf = self.doc.must_fail.as_ref()?;
        let at = match (&mf.role, &mf.step, &mf.check) {
            (Some(role), Some(step), None) => {
                let r = self.role_ref(role)?;
                let n = self.doc.roles.get_index(r.0).map_or(0, |(_, d)| d.steps.len());
                if *step.value() == 0 || *step.value() as usize > n {
                    self.err(
                        Diagnostic::new(step.loc(), format!("role `{}` has {n} steps; step {} does not exist", role.value(), step.value()))
                            .label("here")
                            .hint("steps are numbered from 1"),
                    );
                    return None;
                }
                Locator::Step { role: role.value().clone(), step: *step.value() as usize - 1 }
            }
            (Some(role), None, Some(c)) if *c.value() == m::MustFailCheck::Exit => {
                self.role_ref(role)?;
                Locator::Exit { role: role.value().clone() }
            }
            (None, None, Some(c)) if *c.value() != m::MustFailCheck::Exit => Locator::Check(*c.value()),
            _ => {
                self.err(
                    Diagnostic::new(mf.loc(), "`must_fail` does not name one place")
                        .label("here")
                        .hint("give `role` and `step`, or `role` and `check: exit`, or only `check` (exists, gone, stat, leak, timeout)"),
                );
                return None;
            }
        };
        Some(MustFailPlan { because: mf.because.clone(), at })
    }

    /// A scenario must state at least one expectation that can fail.
    fn falsifiable(&mut self, plan: &Plan) {
        let any =
            plan.roles.iter().any(|r| r.exit_explicit || r.steps.iter().any(|s| s.expect.explicit || matches!(s.op, Op::Crash { .. })))
                || !plan.after.is_empty();
        if !any && !plan.roles.is_empty() {
            self.err(
                Diagnostic::new(self.doc.description.loc(), "this scenario states no expectation that could fail")
                    .label("scenario")
                    .hint("add an `expect:` to a step (data read, errno, stat fields, killed_by), an `exit:` to a role, or `after:` post-conditions"),
            );
        }
    }
}

/// `500ms`, `10s`, `2m`.
pub fn parse_duration_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000)
    } else {
        return None;
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mult)
}

/// `5.10` → (5, 10).
pub fn parse_kernel_version(s: &str) -> Option<(u32, u32)> {
    let mut it = s.trim().split(['.', '-']);
    let major = it.next()?.parse().ok()?;
    let minor = it.next().map_or(Some(0), |m| m.parse().ok())?;
    Some((major, minor))
}
