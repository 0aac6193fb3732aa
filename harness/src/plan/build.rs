//! Validation and lowering: `ParsedCase` → `Plan`, or every problem at once.

use std::collections::{BTreeMap, BTreeSet};

use crate::scenario::diag::Diagnostic;
use crate::scenario::load::ParsedCase;
use crate::scenario::load::{suggest, token_at};
use crate::scenario::model::{self as m, ScenarioDoc, Step};
use crate::scenario::span::{Loc, Sp};
use crate::sys;

use super::types::*;

const DEFAULT_TIMEOUT_MS: u64 = 10_000;
const MAX_TIMEOUT_MS: u64 = 300_000;
/// Padded POSIX names: the run-unique part (`ipc-harness-<pid>-<ns>-<object>`)
/// must fit, and the longest is well past PATH_MAX.
const MIN_PADDED_NAME: u32 = 64;
const MAX_PADDED_NAME: u32 = 8192;

/// Validate one case and lower it into a plan.
pub fn build(case: &ParsedCase, path: &str) -> Result<Plan, Vec<Diagnostic>> {
    let mut b = Builder { doc: &case.doc, text: &case.text, diags: Vec::new() };
    let plan = b.plan(case, path);
    if b.diags.is_empty() { Ok(plan) } else { Err(b.diags) }
}

pub(super) struct Builder<'a> {
    pub(super) doc: &'a ScenarioDoc,
    /// The text the document was parsed from, for checks on how a value
    /// was spelled (modes must be written in octal).
    pub(super) text: &'a str,
    pub(super) diags: Vec<Diagnostic>,
}

pub(super) fn names<T>(map: &indexmap::IndexMap<Sp<String>, T>) -> String {
    if map.is_empty() { "none".to_owned() } else { map.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ") }
}

/// "did you mean `X`?" when a known name is close.
pub(super) fn did_you_mean(what: &str, known: &[String]) -> Option<String> {
    let s = suggest(what, known, "");
    s.starts_with("did you mean").then(|| s.split(" (").next().unwrap_or("").to_owned())
}

pub(super) fn signal_names() -> Vec<String> {
    (1..=31).map(sys::signal_name).collect()
}

pub(super) fn map_names<T>(map: &indexmap::IndexMap<Sp<String>, T>) -> Vec<String> {
    map.keys().map(|k| k.value().clone()).collect()
}

impl Builder<'_> {
    /// Whether `must_fail` names this step (0-based): a negative test may
    /// state what validation would otherwise refuse as impossible.
    pub(super) fn is_negative_step(&self, role: &str, index: usize) -> bool {
        self.doc.must_fail.as_ref().is_some_and(|mf| {
            mf.role.as_ref().is_some_and(|r| r.as_str() == role) && mf.step.as_ref().is_some_and(|s| *s.value() as usize == index + 1)
        })
    }

    pub(super) fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    pub(super) fn plan(&mut self, case: &ParsedCase, path: &str) -> Plan {
        let doc = self.doc;
        if doc.description.trim().is_empty() {
            self.err(
                Diagnostic::new(doc.description.loc(), "the description is empty")
                    .label("here")
                    .hint("say in a sentence which behaviour this scenario demonstrates"),
            );
        }
        let timeout_ms = self.timeout();
        let mut requires = self.requires();
        let files = doc.files.iter().map(|(n, f)| FilePlan { name: n.value().clone(), content: f.content.clone() }).collect();
        let objects = self.objects();
        requires.private_dev_shm = objects.iter().any(|o| {
            matches!(
                o.spec,
                ObjectSpec::PosixShm { name: NamePlan::Literal(_), .. }
                    | ObjectSpec::PosixMq { name: NamePlan::Literal(_), .. }
                    | ObjectSpec::PosixSem { name: NamePlan::Literal(_), .. }
            )
        });
        requires.posix_mq = objects.iter().any(|o| o.kind() == Kind::PosixMq);
        let (events, barriers) = self.sync_names();
        let spawned_by = self.spawn_graph();
        let mut roles = Vec::new();
        for (i, (name, decl)) in doc.roles.iter().enumerate() {
            roles.push(self.role(RoleId(i), name, decl, &objects, &events, &barriers, &spawned_by));
        }
        self.use_order(&roles, &objects);
        self.sync_order(&roles, &events);
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
        let after = self.after(&objects, &roles);
        let must_fail = self.must_fail();
        if let (Some(MustFailPlan { at: Locator::Step { role, step }, .. }), Some(mf)) = (&must_fail, &doc.must_fail) {
            // An IPC call without `expect` must succeed, which can fail, and
            // a `wait_blocked` fails when its target ends unblocked; other
            // synchronisation and process steps cannot fail.
            let silent =
                roles.iter().find(|r| r.name == *role).and_then(|r| r.steps.get(*step)).is_some_and(|s| {
                    !s.expect.explicit && !s.op.is_ipc_call() && !matches!(s.op, Op::Crash { .. } | Op::WaitBlocked { .. })
                });
            if silent {
                let loc = mf.step.as_ref().map_or(mf.loc(), Sp::loc);
                self.err(
                    Diagnostic::new(loc, format!("step {} of role `{role}` states no expectation, so it cannot fail there", step + 1))
                        .label("nothing to fail")
                        .hint("give that step the `expect:` it must violate"),
                );
            }
        }
        requires.credentials = roles.iter().any(|r| r.credentials.is_some());
        requires.unshare = roles.iter().any(|r| r.unshare.any());
        requires.containers = roles.iter().any(|r| r.container.is_some());
        requires.host_ipc = roles.iter().any(|r| r.container == Some(ContainerIpc::Host));
        // The mappings `same_frame_as` compares with record their frame.
        let wanted: Vec<(usize, ObjectId)> = roles
            .iter()
            .flat_map(|r| r.steps.iter())
            .filter_map(|s| {
                let other = s.expect.same_frame_as.as_ref()?;
                let object = match s.op {
                    Op::Shmat { object, .. } | Op::Mmap { object, .. } => object,
                    _ => return None,
                };
                Some((roles.iter().position(|r| r.name == *other)?, object))
            })
            .collect();
        for (r, object) in wanted {
            for s in &mut roles[r].steps {
                if matches!(s.op, Op::Shmat { object: o, .. } | Op::Mmap { object: o, .. } if o == object) {
                    s.expect.record_frame = true;
                }
            }
        }
        // pagemap shows frames only to CAP_SYS_ADMIN (pagemap(5)).
        if roles.iter().any(|r| r.steps.iter().any(|s| s.expect.same_frame_as.is_some()))
            && !requires.capabilities.iter().any(|c| c == "CAP_SYS_ADMIN")
        {
            requires.capabilities.push("CAP_SYS_ADMIN".to_owned());
        }
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
        // Only when nothing else is wrong: a broken step loses its
        // expectation, which would make this a misleading follow-up.
        if self.diags.is_empty() {
            self.falsifiable(&plan);
        }
        plan
    }

    pub(super) fn timeout(&mut self) -> u64 {
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

    pub(super) fn requires(&mut self) -> Requirements {
        let r = &self.doc.requires;
        let mut out = Requirements {
            root: r.root,
            private_ipc_namespace: r.private_ipc_namespace,
            dev_shm_size: r.dev_shm_size.as_ref().map(|s| *s.value()),
            ..Requirements::default()
        };
        if let Some(s) = r.dev_shm_size.as_ref().filter(|s| *s.value() < sys::page_size() as u64) {
            self.err(
                Diagnostic::new(s.loc(), "a /dev/shm smaller than a page holds nothing")
                    .label("too small")
                    .hint("give at least one page (4096 bytes)"),
            );
        }
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
        out.filesystems = self.known_names(&r.filesystems, crate::plan::probe::FILESYSTEMS, "file system");
        out.features = self.known_names(&r.features, crate::plan::probe::FEATURES, "feature");
        for (name, v) in &r.limits {
            if crate::plan::probe::limit_path(name).is_none() {
                let guess = crate::plan::probe::limits().find(|l| l.ends_with(&format!(".{name}")));
                self.err(
                    Diagnostic::new(name.loc(), format!("unknown limit `{name}`"))
                        .label(guess.map_or_else(|| "not an IPC sysctl".to_owned(), |g| format!("did you mean `{g}`?")))
                        .hint("name an IPC sysctl such as kernel.shmmni, kernel.shmmax or fs.mqueue.msg_max"),
                );
            }
            out.limits.push((name.value().clone(), *v.value()));
        }
        out
    }

    pub(super) fn objects(&mut self) -> Vec<ObjectPlan> {
        let doc = self.doc;
        let mut out = Vec::new();
        for (name, decl) in &doc.objects {
            let kind = *decl.kind.value();
            let kind_name = kind.name();
            // Fields the kind does not take.
            let allowed: &[&str] = match kind {
                m::ObjectKind::SysvShm => &["size", "key", "mode"],
                m::ObjectKind::Mmap => &["size", "sharing"],
                m::ObjectKind::Pipe => &[],
                m::ObjectKind::PosixShm => &["size", "mode", "name"],
                m::ObjectKind::File => &["size", "mode"],
                m::ObjectKind::Memfd => &["size"],
                m::ObjectKind::SysvSem => &["nsems", "key", "mode"],
                m::ObjectKind::SysvMsg => &["key", "mode"],
                m::ObjectKind::PosixSem => &["in", "name"],
                m::ObjectKind::PosixMq => &["mode", "name", "maxmsg", "msgsize"],
                m::ObjectKind::Fifo => &["mode"],
                m::ObjectKind::Signalfd => &[],
            };
            let given = [
                ("size", decl.size.as_ref().map(Sp::loc)),
                ("key", decl.key.as_ref().map(Sp::loc)),
                ("mode", decl.mode.as_ref().map(Sp::loc)),
                ("sharing", decl.sharing.as_ref().map(Sp::loc)),
                ("name", decl.name.as_ref().map(Sp::loc)),
                ("nsems", decl.nsems.as_ref().map(Sp::loc)),
                ("in", decl.r#in.as_ref().map(Sp::loc)),
                ("maxmsg", decl.maxmsg.as_ref().map(Sp::loc)),
                ("msgsize", decl.msgsize.as_ref().map(Sp::loc)),
            ];
            for (field, loc) in given {
                if let Some(loc) = loc.filter(|_| !allowed.contains(&field)) {
                    let takes = if allowed.is_empty() {
                        "no parameters".to_owned()
                    } else {
                        allowed.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
                    };
                    self.err(
                        Diagnostic::new(loc, format!("a {kind_name} object has no `{field}`"))
                            .label("not a parameter of this kind")
                            .hint(format!("{kind_name} takes {takes}")),
                    );
                }
            }
            let size = match (&decl.size, allowed.contains(&"size")) {
                (Some(s), true) if *s.value() == 0 => {
                    self.err(
                        Diagnostic::new(s.loc(), format!("a {kind_name} object needs a size above 0"))
                            .label("zero")
                            .hint("give the size in bytes"),
                    );
                    1
                }
                (Some(s), _) => *s.value(),
                (None, true) => {
                    self.err(
                        Diagnostic::new(name.loc(), format!("object `{name}` has no `size`"))
                            .label("this object")
                            .hint(format!("a {kind_name} object needs `size:` in bytes")),
                    );
                    1
                }
                (None, false) => 0,
            };
            let spec = match kind {
                m::ObjectKind::SysvShm => {
                    let key = self.key(decl);
                    let mode = decl.mode.as_ref().map_or(0o600, |m| self.mode(m));
                    ObjectSpec::SysvShm { size, key, mode }
                }
                m::ObjectKind::SysvSem => {
                    let key = self.key(decl);
                    let mode = decl.mode.as_ref().map_or(0o600, |m| self.mode(m));
                    let nsems = decl.nsems.as_ref().map_or(1, |n| *n.value());
                    if let Some(n) = decl.nsems.as_ref().filter(|n| *n.value() == 0) {
                        self.err(
                            Diagnostic::new(n.loc(), "a semaphore set needs at least one semaphore")
                                .label("zero")
                                .hint("give `nsems: 1` or more (to see EINVAL for 0, ask for it in the `semget` step)"),
                        );
                    }
                    ObjectSpec::SysvSem { nsems, key, mode }
                }
                m::ObjectKind::SysvMsg => {
                    let key = self.key(decl);
                    ObjectSpec::SysvMsg { key, mode: decl.mode.as_ref().map_or(0o600, |m| self.mode(m)) }
                }
                // The place is resolved below, once every object is known.
                m::ObjectKind::PosixSem => ObjectSpec::PosixSem { place: None, name: self.posix_name(decl.name.as_ref()) },
                // Out-of-range attributes are for the kernel to refuse.
                m::ObjectKind::PosixMq => ObjectSpec::PosixMq {
                    name: self.posix_name(decl.name.as_ref()),
                    mode: decl.mode.as_ref().map_or(0o600, |m| self.mode(m)),
                    maxmsg: decl.maxmsg.as_ref().map_or(10, |v| *v.value()),
                    msgsize: decl.msgsize.as_ref().map_or(64, |v| *v.value()),
                },
                m::ObjectKind::Mmap => {
                    ObjectSpec::Mmap { size, shared: decl.sharing.as_ref().is_none_or(|s| *s.value() == m::Sharing::Shared) }
                }
                m::ObjectKind::Pipe => ObjectSpec::Pipe,
                m::ObjectKind::PosixShm => ObjectSpec::PosixShm {
                    size,
                    mode: decl.mode.as_ref().map_or(0o600, |m| self.mode(m)),
                    name: self.posix_name(decl.name.as_ref()),
                },
                m::ObjectKind::File => ObjectSpec::File { size, mode: decl.mode.as_ref().map_or(0o600, |m| self.mode(m)) },
                m::ObjectKind::Memfd => ObjectSpec::Memfd { size },
                m::ObjectKind::Fifo => ObjectSpec::Fifo { mode: decl.mode.as_ref().map_or(0o600, |m| self.mode(m)) },
                m::ObjectKind::Signalfd => ObjectSpec::Signalfd,
            };
            out.push(ObjectPlan { name: name.value().clone(), spec, loc: name.loc() });
        }
        for (i, decl) in doc.objects.values().enumerate() {
            let Some(place) = decl.r#in.as_ref().filter(|_| *decl.kind.value() == m::ObjectKind::PosixSem) else { continue };
            let mappable = [Kind::SysvShm, Kind::Mmap, Kind::PosixShm, Kind::File, Kind::Memfd];
            let Some(o) = self.object_ref(&out, &place.object, &mappable, "posix_sem in") else { continue };
            let size = out[o.0].spec.size();
            // sem_t is 32 bytes on 64-bit Linux and must be aligned.
            if place.offset % 32 != 0 || place.offset + 32 > size {
                self.err(
                    Diagnostic::new(
                        place.loc(),
                        format!("no room for a semaphore at offset {} of `{}` ({size} bytes)", place.offset, place.object.value()),
                    )
                    .label("offset")
                    .hint("give a multiple of 32 with 32 bytes after it inside the object"),
                );
            }
            if let Some(n) = decl_name_loc(self.doc, i) {
                self.err(
                    Diagnostic::new(n, "an unnamed semaphore has no name")
                        .label("with `in:`")
                        .hint("remove `name:`, or `in:` for a named semaphore"),
                );
            }
            out[i].spec = ObjectSpec::PosixSem { place: Some((o, place.offset)), name: NamePlan::RunUnique };
        }
        out
    }

    /// How a SysV object's key is chosen.
    fn key(&mut self, decl: &m::ObjectDecl) -> KeyPlan {
        let doc = self.doc;
        match decl.key.as_ref().map(Sp::value) {
            None | Some(m::KeySpec::Generated) => KeyPlan::Generated,
            Some(m::KeySpec::Private) => KeyPlan::Private,
            Some(m::KeySpec::Ftok { file, proj }) => {
                let fid = doc.files.get_index_of(file.as_str());
                if fid.is_none() {
                    self.err(
                        Diagnostic::new(file.loc(), format!("no file named `{}`", file.value()))
                            .label("not in `files`")
                            .hint(format!("declare it under `files:` so the harness creates it (declared files: {})", names(&doc.files))),
                    );
                }
                let p = self.proj(proj);
                KeyPlan::Ftok { file: FileId(fid.unwrap_or(0)), proj: p }
            }
        }
    }

    /// A `posix_shm` object's name. A padded name must have room for the
    /// run-unique part; a literal one must be a valid C string.
    fn posix_name(&mut self, name: Option<&Sp<m::NameSpec>>) -> NamePlan {
        let Some(n) = name else { return NamePlan::RunUnique };
        match n.value() {
            m::NameSpec::Length(len) if !(MIN_PADDED_NAME..=MAX_PADDED_NAME).contains(len) => {
                self.err(Diagnostic::new(n.loc(), format!("a name of {len} bytes cannot be made")).label("length out of range").hint(
                    format!(
                        "give a length from {MIN_PADDED_NAME} (room for the run-unique part) to {MAX_PADDED_NAME}; \
                             NAME_MAX is 255 and PATH_MAX 4096"
                    ),
                ));
                NamePlan::RunUnique
            }
            m::NameSpec::Length(len) => NamePlan::Padded(*len as usize),
            m::NameSpec::Text(t) if t.contains('\0') => {
                self.err(
                    Diagnostic::new(n.loc(), "a name cannot contain a NUL byte")
                        .label("here")
                        .hint("shm_open takes a C string; remove the \\0"),
                );
                NamePlan::RunUnique
            }
            m::NameSpec::Text(t) => NamePlan::Literal(t.clone()),
        }
    }

    /// Permission bits, which must be spelled in octal: `644` is the decimal
    /// number 0o1204, and `0644` is decimal 644 in YAML 1.2.
    /// Names from a closed list (file systems, features), each checked.
    fn known_names(&mut self, names: &[Sp<String>], known: &[&str], what: &str) -> Vec<String> {
        for n in names.iter().filter(|n| !known.contains(&n.as_str())) {
            self.err(
                Diagnostic::new(n.loc(), format!("unknown {what} `{}`", n.value()))
                    .label("here")
                    .hint(format!("known {what}s: {}", known.join(", "))),
            );
        }
        names.iter().map(|n| n.value().clone()).collect()
    }

    pub(super) fn mode(&mut self, m: &Sp<u32>) -> u32 {
        let token = token_at(self.text, m.loc());
        if !token.starts_with("0o") {
            self.err(
                Diagnostic::new(m.loc(), format!("mode `{token}` is not written in octal"))
                    .label("read as the decimal number")
                    .hint(format!("write permission bits with the 0o prefix, for example `0o{}`", token.trim_start_matches('0'))),
            );
        } else if *m.value() > 0o777 {
            self.err(
                Diagnostic::new(m.loc(), format!("mode {:#o} has bits beyond 0o777", m.value()))
                    .label("here")
                    .hint("give permission bits only, for example 0o600"),
            );
        }
        *m.value() & 0o777
    }

    pub(super) fn proj(&mut self, proj: &Sp<String>) -> u8 {
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
    pub(super) fn sync_names(&mut self) -> (Vec<String>, Vec<String>) {
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
                    let total: u32 = self
                        .doc
                        .roles
                        .values()
                        .map(|r| {
                            r.count.as_ref().map_or(1, |c| *c.value())
                                * r.steps.iter().filter(|s| matches!(s.value(), Step::Signal(e) if e == &w.event)).count() as u32
                        })
                        .sum();
                    let want = w.count.unwrap_or(1);
                    if total > 0 && want > total {
                        self.err(
                            Diagnostic::new(
                                w.event.loc(),
                                format!("waits for `{}` {want} times, but it is signalled {total} time(s) in all", w.event.value()),
                            )
                            .label("can never be reached")
                            .hint("lower `count`, or signal the event more often (replicas each signal once per `signal` step)"),
                        );
                    }
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
    pub(super) fn spawn_graph(&mut self) -> BTreeMap<String, RoleId> {
        let mut by = BTreeMap::new();
        for (i, (name, role)) in self.doc.roles.iter().enumerate() {
            for step in &role.steps {
                if let Step::Spawn(target) = step.value() {
                    if !self.doc.roles.contains_key(target.as_str()) {
                        continue; // reported with the step
                    }
                    if target == name {
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
            if role.from == m::Start::Fork && !by.contains_key(name.as_str()) {
                self.err(
                    Diagnostic::new(name.loc(), format!("role `{name}` is `from: fork` but no role spawns it"))
                        .label("this role")
                        .hint(format!("add `- spawn: {name}` to the role it should be forked from, or make it `from: exec`")),
                );
            }
        }
        // Cycles would deadlock: follow parents and refuse loops.
        for name in self.doc.roles.keys() {
            let mut seen = BTreeSet::new();
            let mut cur = name.value().clone();
            while let Some(p) = by.get(&cur) {
                let pname = self.doc.roles.get_index(p.0).map(|(n, _)| n.value().clone()).unwrap_or_default();
                if !seen.insert(pname.clone()) || pname == *name.value() {
                    self.err(
                        Diagnostic::new(name.loc(), format!("role `{name}` is part of a spawn cycle"))
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
    pub(super) fn role(
        &mut self,
        id: RoleId,
        role_name: &Sp<String>,
        decl: &Sp<m::RoleDecl>,
        objects: &[ObjectPlan],
        events: &[String],
        barriers: &[String],
        spawned_by: &BTreeMap<String, RoleId>,
    ) -> RolePlan {
        let name = role_name.as_str();
        let count = decl.count.as_ref().map_or(1, |c| *c.value());
        if count == 0 || count > 64 {
            let loc = decl.count.as_ref().map_or(decl.loc(), Sp::loc);
            self.err(Diagnostic::new(loc, format!("count {count} is out of range")).label("here").hint("a role has 1 to 64 replicas"));
        }
        if decl.steps.is_empty() {
            self.err(
                Diagnostic::new(role_name.loc(), format!("role `{name}` has no steps"))
                    .label("this role")
                    .hint("give it at least one step, or remove it"),
            );
        }
        let mut steps = Vec::new();
        let mut ended: Option<Loc> = None;
        let mut barriers_seen = BTreeSet::new();
        for (index, step) in decl.steps.iter().enumerate() {
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
            if let Some(s) = self.step(id, name, index, step, objects, events, barriers, spawned_by) {
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
                    m::ExitExpect::Code(c) => ExitPlan::Code(self.exit_code(*c, e.loc())),
                    m::ExitExpect::KilledBy(s) => ExitPlan::KilledBy(self.signal(s)),
                    m::ExitExpect::CoreDumped(s) => ExitPlan::CoreDumped(self.signal(s)),
                };
                // A negative test may claim an exit the steps contradict.
                let negative_exit = self.doc.must_fail.as_ref().is_some_and(|mf| {
                    mf.role.as_ref().is_some_and(|r| r.as_str() == name)
                        && mf.check.as_ref().is_some_and(|c| *c.value() == m::MustFailCheck::Exit)
                });
                // A step's `killed_by` does not say whether a core was dumped.
                let same = |d: &ExitPlan| match (d, &plan) {
                    (ExitPlan::KilledBy(a), ExitPlan::CoreDumped(b)) => a == b,
                    _ => *d == plan,
                };
                if let Some(d) = derived.as_ref().filter(|d| !same(d) && !negative_exit) {
                    self.err(
                        Diagnostic::new(e.loc(), format!("the role's steps end it with {d}, but `exit` expects {plan}"))
                            .label("contradicts the steps")
                            .hint("remove `exit:` (it is derived from the last `exit`, `crash` or `killed_by`), or make them agree"),
                    );
                }
                (plan, e.loc(), true)
            }
            None => (derived.unwrap_or(ExitPlan::Code(0)), role_name.loc(), false),
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
        let umask = decl.umask.as_ref().map_or(0, |u| self.mode(u));
        let block = decl.block.iter().map(|s| self.signal(s)).collect();
        let mut catchers = |list: &[Sp<String>]| -> Vec<String> {
            list.iter()
                .map(|s| {
                    if matches!(s.as_str(), "SIGKILL" | "SIGSTOP") {
                        self.err(
                            Diagnostic::new(s.loc(), format!("{} cannot be caught", s.value()))
                                .label("here")
                                .hint("catch a signal such as SIGUSR1 or SIGALRM"),
                        );
                    }
                    self.signal(s)
                })
                .collect()
        };
        let catch = catchers(&decl.catch);
        let catch_restart = catchers(&decl.catch_restart);
        let ignore = catchers(&decl.ignore);
        let unshare = self.unshare(name, decl);
        let container = self.container(name, decl, &steps, spawned_by);
        if let Some(s) = decl.catch_restart.iter().find(|s| decl.catch.iter().any(|c| c.value() == s.value())) {
            self.err(
                Diagnostic::new(s.loc(), format!("{} is in both `catch` and `catch_restart`", s.value()))
                    .label("caught twice")
                    .hint("keep it in one: `catch_restart` installs the handler with SA_RESTART"),
            );
        }
        RolePlan {
            name: name.to_owned(),
            start,
            count,
            credentials,
            umask,
            catch,
            catch_restart,
            ignore,
            block,
            spare_descriptors: decl.spare_descriptors.as_ref().map(|s| *s.value()),
            rlimits: decl.rlimits.as_ref().map(|r| *r.value()).unwrap_or_default(),
            unshare,
            container,
            ipc_namespace: self.unshared_by(id, m::Namespace::Ipc, spawned_by),
            mount_namespace: self.unshared_by(id, m::Namespace::Mount, spawned_by),
            steps,
            exit,
            exit_loc,
            exit_explicit,
            spawned_by: spawned_by.get(name).copied(),
            loc: decl.loc(),
        }
    }

    /// The namespaces a role unshares: each once, `mount` only with `ipc`
    /// (a role's mqueue mount shows its own IPC namespace), and not with
    /// other credentials (which drop CAP_SYS_ADMIN before the first step).
    fn unshare(&mut self, name: &str, decl: &m::RoleDecl) -> Unshare {
        let mut out = Unshare::default();
        for n in &decl.unshare {
            let seen = match n.value() {
                m::Namespace::Ipc => std::mem::replace(&mut out.ipc, true),
                m::Namespace::Mount => std::mem::replace(&mut out.mount, true),
            };
            if seen {
                self.err(
                    Diagnostic::new(n.loc(), format!("role `{name}` unshares this namespace twice"))
                        .label("listed again")
                        .hint("list each namespace once"),
                );
            }
        }
        if let Some(n) = decl.unshare.iter().find(|n| *n.value() == m::Namespace::Mount).filter(|_| !out.ipc) {
            self.err(
                Diagnostic::new(n.loc(), "`mount` is unshared only together with `ipc`")
                    .label("without ipc")
                    .hint("write `unshare: [ipc, mount]`: the role's private /dev/shm and mqueue mount go with its own IPC namespace"),
            );
        }
        if let (Some(c), true) = (&decl.credentials, out.any()) {
            self.err(
                Diagnostic::new(c.loc(), format!("role `{name}` unshares namespaces, which other credentials cannot"))
                    .label("no CAP_SYS_ADMIN with these")
                    .hint("put `unshare` on a role that spawns this one: a spawned role inherits its parent's namespaces"),
            );
        }
        out
    }

    /// The role whose `unshare` made the namespace of this kind that `role`
    /// runs in: itself, or the nearest role up its spawn chain, since a
    /// spawned process inherits its parent's namespaces. `None`: the run's.
    pub(super) fn unshared_by(&self, role: RoleId, ns: m::Namespace, spawned_by: &BTreeMap<String, RoleId>) -> Option<RoleId> {
        let mut cur = role;
        // A spawn cycle (reported on its own) ends the walk.
        for _ in 0..self.doc.roles.len() {
            let (name, decl) = self.doc.roles.get_index(cur.0)?;
            if decl.unshare.iter().any(|n| *n.value() == ns) {
                return Some(cur);
            }
            // A container has its IPC namespace and /dev/shm mount, or
            // those of the container it joins.
            if let Some(c) = &decl.container {
                return match &c.ipc {
                    m::ContainerIpc::ContainerOf(other) => self.doc.roles.get_index_of(other.as_str()).map(RoleId).or(Some(cur)),
                    // The host's namespace is the run's (it shares the host's).
                    m::ContainerIpc::Host => None,
                    _ => Some(cur),
                };
            }
            cur = *spawned_by.get(name.as_str())?;
        }
        None
    }

    /// A role's container: started by the harness (not spawned), with no
    /// spawn or exec of its own (the binary inside the image is not at the
    /// harness's path), no other credentials or unshare, and joining only a
    /// shareable container.
    fn container(
        &mut self,
        name: &str,
        decl: &m::RoleDecl,
        steps: &[StepPlan],
        spawned_by: &BTreeMap<String, RoleId>,
    ) -> Option<ContainerIpc> {
        let c = decl.container.as_ref()?;
        let loc = c.loc();
        let refuse = |what: &str, hint: &str| {
            Diagnostic::new(loc, format!("role `{name}` runs in a container, {what}")).label("container").hint(hint.to_owned())
        };
        if spawned_by.contains_key(name) {
            self.err(refuse("but another role spawns it", "a role in a container is started by the harness: remove the `spawn` of it"));
        }
        if !decl.unshare.is_empty() || decl.credentials.is_some() {
            self.err(refuse("which gives its namespaces and credentials", "remove `unshare` and `credentials` from this role"));
        }
        if let Some(s) = steps.iter().find(|s| matches!(s.op, Op::Spawn { .. } | Op::Exec { .. })) {
            self.err(
                Diagnostic::new(s.loc, format!("role `{name}` runs in a container, where it cannot {}", s.op.name()))
                    .label("here")
                    .hint("the harness binary inside the image is not at this path: put the other role in a container of its own"),
            );
        }
        Some(match &c.ipc {
            m::ContainerIpc::Private => ContainerIpc::Private,
            m::ContainerIpc::Shareable => ContainerIpc::Shareable,
            m::ContainerIpc::Host => ContainerIpc::Host,
            m::ContainerIpc::ContainerOf(other) => {
                let target = self.doc.roles.get_index_of(other.as_str());
                let shareable = target
                    .and_then(|i| self.doc.roles.get_index(i))
                    .and_then(|(_, d)| d.container.as_ref())
                    .is_some_and(|c| c.ipc == m::ContainerIpc::Shareable);
                if !shareable || other.as_str() == name {
                    self.err(
                        Diagnostic::new(other.loc(), format!("`{}` is not another role in a shareable container", other.value()))
                            .label("joined here")
                            .hint(
                                "give that role `container: { ipc: shareable }`: Docker joins only a shareable container's IPC namespace",
                            ),
                    );
                }
                ContainerIpc::ContainerOf(RoleId(target.unwrap_or(0)))
            }
        })
    }

    /// Exit statuses are 8 bits: `exit(300)` is seen as 44.
    pub(super) fn exit_code(&mut self, code: i32, loc: Loc) -> i32 {
        if !(0..=255).contains(&code) {
            self.err(
                Diagnostic::new(loc, format!("exit status {code} is out of range"))
                    .label("here")
                    .hint(format!("a parent sees only the low 8 bits ({}); use 0 to 255", code & 0xff)),
            );
        }
        code
    }

    /// A signal name, made canonical (`SIGRTMAX` becomes `SIGRTMIN+N`,
    /// `SIGPOLL` becomes `SIGIO`), so names compare as the numbers do.
    pub(super) fn signal(&mut self, s: &Sp<String>) -> String {
        match sys::signal_from_name(s) {
            Some(n) => sys::signal_name(n),
            None => {
                self.err(
                    Diagnostic::new(s.loc(), format!("unknown signal `{}`", s.value())).label("here").hint(
                        did_you_mean(s, &signal_names())
                            .unwrap_or_else(|| "use a name such as SIGSEGV, SIGBUS, SIGPIPE or SIGRTMIN+1".to_owned()),
                    ),
                );
                s.value().clone()
            }
        }
    }

    pub(super) fn object_ref(&mut self, objects: &[ObjectPlan], name: &Sp<String>, want: &[Kind], op: &str) -> Option<ObjectId> {
        self.object_at(objects, name.as_str(), name.loc(), want, op)
    }

    pub(super) fn object_at(&mut self, objects: &[ObjectPlan], name: &str, loc: Loc, want: &[Kind], op: &str) -> Option<ObjectId> {
        let Some(i) = objects.iter().position(|o| o.name == name) else {
            self.err(
                Diagnostic::new(loc, format!("unknown object `{name}`"))
                    .label(did_you_mean(name, &map_names(&self.doc.objects)).unwrap_or_else(|| "not declared".to_owned()))
                    .hint(format!("declare it under `objects:`; declared objects: {}", names(&self.doc.objects))),
            );
            return None;
        };
        let kind = objects[i].kind();
        if !want.contains(&kind) {
            let wanted = want.iter().map(|k| k.name()).collect::<Vec<_>>().join(" or ");
            self.err(
                Diagnostic::new(loc, format!("`{op}` needs a {wanted} object, but `{name}` is a {} object", kind.name()))
                    .label("wrong kind")
                    .hint(format!("use an object of kind {wanted} here")),
            );
            return None;
        }
        Some(ObjectId(i))
    }

    pub(super) fn role_ref(&mut self, name: &Sp<String>) -> Option<RoleId> {
        let r = self.doc.roles.get_index_of(name.as_str()).map(RoleId);
        if r.is_none() {
            self.err(
                Diagnostic::new(name.loc(), format!("unknown role `{}`", name.value()))
                    .label(did_you_mean(name, &map_names(&self.doc.roles)).unwrap_or_else(|| "not declared".to_owned()))
                    .hint(format!("declared roles: {}", names(&self.doc.roles))),
            );
        }
        r
    }

    pub(super) fn after(&mut self, objects: &[ObjectPlan], roles: &[RolePlan]) -> AfterPlan {
        let Some(a) = &self.doc.after else { return AfterPlan::default() };
        let mut out = AfterPlan::default();
        // An object a role may create inside a namespace of its own lives in
        // tables the supervisor does not see (its id may be another
        // object's in the run's): it dies with that namespace, unjudged.
        for n in a.exists.iter().chain(&a.gone).chain(a.stat.keys()) {
            let Some(o) = objects.iter().position(|o| o.name == *n.value()) else { continue };
            let creator = roles.iter().find(|r| {
                let elsewhere = match objects[o].kind() {
                    Kind::SysvShm | Kind::SysvSem | Kind::SysvMsg | Kind::PosixMq => r.ipc_namespace.is_some(),
                    Kind::PosixShm | Kind::PosixSem => r.mount_namespace.is_some(),
                    _ => false,
                };
                elsewhere && r.steps.iter().any(|s| s.op.may_create(objects) == Some(ObjectId(o)))
            });
            if let Some(r) = creator {
                let (what, ns) = match objects[o].kind() {
                    Kind::PosixShm | Kind::PosixSem => ("a private /dev/shm", r.mount_namespace),
                    _ => ("an IPC namespace", r.ipc_namespace),
                };
                let owner = ns.map_or("", |x| roles[x.0].name.as_str());
                self.err(
                    Diagnostic::new(n.loc(), format!("role `{}` may create `{}` in {what} of its own, which `after` cannot see", r.name, n.value()))
                        .label("not in the run's namespace")
                        .hint(format!(
                            "remove it from `after`: it dies with the namespace `{owner}` unshared; check it with a step of a role in that namespace"
                        )),
                );
            }
        }
        // Kinds with a name in the kernel, which can outlive every process.
        let persistent = [Kind::SysvShm, Kind::PosixShm, Kind::SysvSem, Kind::SysvMsg, Kind::PosixSem, Kind::PosixMq, Kind::Fifo];
        // Objects without a name in the kernel die with their last process:
        // there is nothing to check after every role exited.
        let names_: Vec<&Sp<String>> = a.exists.iter().chain(&a.gone).chain(a.stat.keys()).collect();
        for n in names_ {
            if let Some(o) = objects.iter().find(|o| o.name == *n.value()) {
                if !persistent.contains(&o.kind()) {
                    self.err(
                        Diagnostic::new(
                            n.loc(),
                            format!("`{}` is a {} object, which vanishes with its last process", n.value(), o.kind().name()),
                        )
                        .label("no post-condition possible")
                        .hint("remove it from `after`; check it with a step while a role still holds it"),
                    );
                }
            }
        }
        // (Reported above; resolve any kind now to avoid follow-up errors.)
        let any_kind = [
            Kind::SysvShm,
            Kind::Mmap,
            Kind::Pipe,
            Kind::PosixShm,
            Kind::File,
            Kind::Memfd,
            Kind::SysvSem,
            Kind::SysvMsg,
            Kind::PosixSem,
            Kind::PosixMq,
            Kind::Fifo,
            Kind::Signalfd,
        ];
        for n in &a.exists {
            if let Some(o) = self.object_ref(objects, n, &any_kind, "after.exists") {
                out.exists.push((o, n.loc()));
            }
        }
        for n in &a.gone {
            if let Some(o) = self.object_ref(objects, n, &any_kind, "after.gone") {
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
            if a.gone.iter().any(|g| g == name) {
                self.err(
                    Diagnostic::new(name.loc(), format!("`{name}` must be gone, so it has no stat"))
                        .label("listed in `gone`")
                        .hint("keep either the stat or `gone`"),
                );
            }
            if let Some(o) = self.object_at(objects, name, name.loc(), &[Kind::SysvShm, Kind::SysvSem, Kind::SysvMsg], "after.stat") {
                let v = s.value();
                if v.key.is_some() {
                    self.err(
                        Diagnostic::new(s.loc(), "`key` is compared in a step's stat, not after the run")
                            .label("in after.stat")
                            .hint("move the key check to an `ipc_stat` step of a role"),
                    );
                }
                // Each kind's status has only its own fields.
                let foreign = match objects[o.0].kind() {
                    Kind::SysvShm => v.nsems.is_some() || v.otime.is_some() || v.qnum.is_some() || v.qbytes.is_some() || v.cbytes.is_some(),
                    Kind::SysvSem => v.segsz.is_some() || v.nattch.is_some() || v.cpid.is_some() || v.lpid.is_some() || v.qnum.is_some(),
                    _ => v.segsz.is_some() || v.nattch.is_some() || v.nsems.is_some() || v.cpid.is_some() || v.lpid.is_some(),
                };
                if foreign {
                    self.err(
                        Diagnostic::new(s.loc(), format!("this stat names fields a {} object does not have", objects[o.0].kind().name()))
                            .label("fields of another kind")
                            .hint("shared memory has segsz, nattch, cpid, lpid; semaphore sets nsems, otime; queues qnum, qbytes, cbytes"),
                    );
                }
                self.stat_roles(s.value(), s.loc());
                out.stat.push((o, s.value().clone(), s.loc()));
            }
        }
        out
    }

    pub(super) fn must_fail(&mut self) -> Option<MustFailPlan> {
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
    pub(super) fn falsifiable(&mut self, plan: &Plan) {
        let any = plan.roles.iter().any(|r| r.exit_explicit || r.steps.iter().any(|s| s.expect.explicit || matches!(s.op, Op::Crash { .. })))
                || !plan.after.is_empty()
                // A negative test names the check that must fail, even when
                // it is a call's implicit "succeeds".
                || plan.must_fail.is_some();
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

/// Where object `i` of the document gives a `name:`, if it does.
fn decl_name_loc(doc: &ScenarioDoc, i: usize) -> Option<Loc> {
    doc.objects.get_index(i).and_then(|(_, d)| d.name.as_ref().map(Sp::loc))
}
