//! Judging: expectations against observations. `step` compares one outcome
//! with one expectation (roles use it too, to stop at the first unmet
//! expectation); `judge` turns a plan and its trace into a verdict. Nothing
//! here performs a system call.

use serde::{Deserialize, Serialize};

use crate::exec::trace::{Isolation, Outcome, Termination, Trace};
use crate::plan::{AddressExpect, ExitPlan, ExpectPlan, KeyExpect, Loc, Locator, MustFailCheck, Plan, RoleId, StatExpect, TimeExpect};
use crate::sys::{self, ShmStat};

/// One unmet expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Mismatch {
    pub what: String,
    pub expected: String,
    pub observed: String,
}

fn mismatch(what: &str, expected: impl Into<String>, observed: impl Into<String>) -> Mismatch {
    Mismatch { what: what.to_owned(), expected: expected.into(), observed: observed.into() }
}

/// Show bytes as text where they are printable, escaped otherwise.
pub fn show_bytes(b: &[u8]) -> String {
    format!("\"{}\"", b.escape_ascii())
}

fn show_result(r: &Result<i64, String>) -> String {
    match r {
        Ok(v) => format!("success (returned {v})"),
        Err(e) => format!("failure with {e}"),
    }
}

/// Compare one step outcome with its expectation. `pid_of` resolves a role
/// name to the pid of its replica 0 when known; unknown pids are not judged
/// here (the supervisor's verdict judges them with the full trace).
pub fn step(
    expect: &ExpectPlan,
    outcome: &Outcome,
    instance: u32,
    shmlba: u64,
    pid_of: &dyn Fn(&str) -> Option<i32>,
) -> Result<(), Mismatch> {
    if let Some(sig) = &expect.killed_by {
        return Err(mismatch(
            "fate",
            format!("the role is killed by {sig}"),
            format!("the call returned: {}", show_result(&outcome.result)),
        ));
    }
    // A racer may win or lose; how many won is judged across replicas.
    if let Some(r) = &expect.race {
        return match &outcome.result {
            Ok(_) => Ok(()),
            Err(e) if *e == r.losers => Ok(()),
            Err(e) => Err(mismatch("result", format!("success or failure with {}", r.losers), format!("failure with {e}"))),
        };
    }
    // A timeout cut short is a failure whatever the call returned.
    if let (Some(ms), Some(us)) = (expect.waited_at_least_ms, outcome.elapsed_us) {
        if us < ms * 1000 {
            return Err(mismatch("time waited", format!("at least {ms} ms"), format!("{:.3} ms", us as f64 / 1000.0)));
        }
    }
    if let (Some(ms), Some(us)) = (expect.waited_at_most_ms, outcome.elapsed_us) {
        if us > ms * 1000 {
            return Err(mismatch("time waited", format!("at most {ms} ms"), format!("{:.3} ms", us as f64 / 1000.0)));
        }
    }
    match (&expect.errno, &outcome.result) {
        (Some(want), Err(got)) if want == got => return Ok(()),
        (Some(want), r) => return Err(mismatch("result", format!("failure with {want}"), show_result(r))),
        (None, Err(got)) => return Err(mismatch("result", "success", format!("failure with {got}"))),
        (None, Ok(_)) => {}
    }
    let Ok(value) = outcome.result else { return Ok(()) };
    if let Some(v) = expect.value {
        if v != value {
            return Err(mismatch("return value", v.to_string(), value.to_string()));
        }
    }
    if let Some(v) = expect.value_at_least.filter(|v| value < *v) {
        return Err(mismatch("return value", format!("at least {v}"), value.to_string()));
    }
    let data = outcome.data.as_deref().unwrap_or_default();
    if let Some(want) = expect.data.as_deref().map(|d| crate::plan::for_instance(d, instance)) {
        if want.as_slice() != data {
            return Err(mismatch("data", show_bytes(&want), show_bytes(data)));
        }
    }
    if let Some(eof) = expect.eof {
        if eof != data.is_empty() {
            let exp = if eof { "end of file (0 bytes)" } else { "some data" };
            return Err(mismatch("end of file", exp, format!("{} bytes: {}", data.len(), show_bytes(data))));
        }
    }
    if let (Some(want), Some(got)) = (&expect.stat, &outcome.stat) {
        stat(want, got, pid_of)?;
        let (want_key, said) = match want.key {
            Some(KeyExpect::Own) => (outcome.own_key, "the key the run made it with"),
            Some(KeyExpect::Private) => (Some(0), "IPC_PRIVATE"),
            None => (None, ""),
        };
        if let Some(k) = want_key.filter(|k| *k != i64::from(got.key)) {
            return Err(mismatch("stat.key", format!("{k:#x} ({said})"), format!("{:#x}", got.key)));
        }
        if want.key == Some(KeyExpect::Own) && outcome.own_key.is_none() {
            return Err(mismatch("stat.key", "the key the run made it with", "no key known for the object"));
        }
    }
    if let Some(want) = &expect.info {
        if let (Some(true), Some(limits)) = (want.agrees_with_sysctl, &outcome.limits) {
            if let Some((name, reported, file)) = limits.iter().find(|(_, r, f)| r != f) {
                return Err(mismatch(name, format!("{file} (its sysctl)"), format!("{reported} (IPC_INFO)")));
            }
        }
        if let (Some(u), Some(got)) = (want.used_ids, outcome.used_ids) {
            if u != got {
                return Err(mismatch("used_ids", u.to_string(), got.to_string()));
            }
        }
    }
    if let (Some(want), Some(got)) = (&expect.info, outcome.info.as_deref()) {
        if let Some(m) = want.shmmin.filter(|m| *m != got.shmmin) {
            return Err(mismatch("shmmin", m.to_string(), got.shmmin.to_string()));
        }
    }
    if let (Some(agree), Some(a)) = (expect.info.as_ref().and_then(|i| i.agrees_with_proc), outcome.agreement.as_deref()) {
        let differ = a.pairs.iter().find(|(_, reported, listed)| reported != listed);
        match (agree, differ) {
            (true, Some((name, reported, listed))) => {
                return Err(mismatch(name, format!("{listed} ({})", a.against), reported.to_string()));
            }
            (false, None) => {
                let all = a.pairs.iter().map(|(n, r, _)| format!("{n} {r}")).collect::<Vec<_>>().join(", ");
                return Err(mismatch(&format!("{} against {}", a.what, a.against), "a disagreement", format!("agreement ({all})")));
            }
            _ => {}
        }
    }
    if let Some(p) = expect.prio.filter(|p| Some(*p) != outcome.prio) {
        return Err(mismatch("priority", p.to_string(), outcome.prio.map_or_else(|| "none".to_owned(), |m| m.to_string())));
    }
    if let (Some(want), Some((maxmsg, msgsize, curmsgs, nonblock))) = (&expect.attr, outcome.attr) {
        for (name, w, g) in
            [("mq_maxmsg", want.maxmsg, maxmsg), ("mq_msgsize", want.msgsize, msgsize), ("mq_curmsgs", want.curmsgs, curmsgs)]
        {
            if let Some(w) = w.filter(|w| *w != g) {
                return Err(mismatch(name, w.to_string(), g.to_string()));
            }
        }
        if let Some(n) = want.nonblock.filter(|n| *n != nonblock) {
            let show = |b: bool| if b { "O_NONBLOCK set" } else { "O_NONBLOCK clear" };
            return Err(mismatch("mq_flags", show(n), show(nonblock)));
        }
    }
    if let (Some(want), Some(got)) = (&expect.received, &outcome.received) {
        let show = |list: &mut dyn Iterator<Item = String>| {
            let v: Vec<String> = list.collect();
            if v.is_empty() { "none".to_owned() } else { v.join(", ") }
        };
        let wanted = || show(&mut want.iter().map(|w| received_text(&w.signal, w.value, w.code.as_deref())));
        let seen =
            || show(&mut got.iter().map(|g| received_text(&sys::signal_name(g.signo), Some(g.value), Some(&sys::si_code_name(g.code)))));
        if want.len() != got.len() {
            return Err(mismatch("signals received", wanted(), seen()));
        }
        for (w, g) in want.iter().zip(got) {
            let pid_differs = w.pid_of.as_deref().and_then(pid_of).is_some_and(|p| p != g.pid);
            if sys::signal_from_name(&w.signal) != Some(g.signo)
                || w.value.is_some_and(|v| v != g.value)
                || w.code.as_deref().is_some_and(|c| c != sys::si_code_name(g.code))
                || w.uid.is_some_and(|u| u != g.uid)
                || pid_differs
            {
                return Err(mismatch("signals received", wanted(), seen()));
            }
        }
    }
    if let (Some(want), Some(got)) = (&expect.siginfo, &outcome.siginfo) {
        if let Some(s) = want.signal.as_deref().filter(|s| sys::signal_from_name(s) != Some(got.signo)) {
            return Err(mismatch("si_signo", s, sys::signal_name(got.signo)));
        }
        if let Some(code) = want.code.as_deref().filter(|c| *c != sys::si_code_name(got.code)) {
            return Err(mismatch("si_code", code, sys::si_code_name(got.code)));
        }
        if let Some(role) = &want.pid_of {
            if let Some(pid) = pid_of(role).filter(|p| *p != got.pid) {
                return Err(mismatch("si_pid", format!("{pid} (role `{role}`)"), got.pid.to_string()));
            }
        }
        if let Some(uid) = want.uid.filter(|u| *u != got.uid) {
            return Err(mismatch("si_uid", uid.to_string(), got.uid.to_string()));
        }
    }
    if let (Some(want), Some(got)) = (&expect.mq_status, &outcome.mq_status) {
        if let Some(q) = want.qsize.filter(|q| *q != got.qsize) {
            return Err(mismatch("QSIZE", q.to_string(), got.qsize.to_string()));
        }
        if let Some(n) = want.notify.filter(|n| *n != got.notify) {
            return Err(mismatch("NOTIFY", n.to_string(), got.notify.to_string()));
        }
        let signo = |n: i32| if n == 0 { "none".to_owned() } else { sys::signal_name(n) };
        if let Some(s) = want.signo.as_deref() {
            let w = if s == "none" { 0 } else { sys::signal_from_name(s).unwrap_or(-1) };
            if w != got.signo {
                return Err(mismatch("SIGNO", s, signo(got.signo)));
            }
        }
        if let Some(role) = &want.notify_pid_of {
            if let Some(pid) = pid_of(role).filter(|p| *p != got.notify_pid) {
                return Err(mismatch("NOTIFY_PID", format!("{pid} (role `{role}`)"), got.notify_pid.to_string()));
            }
        }
        if let Some(r) = want.registered.filter(|r| *r != (got.notify_pid != 0)) {
            let show = |r: bool| if r { "a registration (NOTIFY_PID not 0)" } else { "none (NOTIFY_PID 0)" };
            return Err(mismatch("NOTIFY_PID", show(r), got.notify_pid.to_string()));
        }
    }
    if let Some(t) = expect.mtype.filter(|t| Some(*t) != outcome.mtype) {
        return Err(mismatch("mtype", t.to_string(), outcome.mtype.map_or_else(|| "none".to_owned(), |m| m.to_string())));
    }
    if let (Some(want), Some(got)) = (&expect.values, &outcome.values) {
        if want != got {
            return Err(mismatch("values", format!("{want:?}"), format!("{got:?}")));
        }
    }
    if let Some(role) = &expect.pid_of {
        if let Some(pid) = pid_of(role) {
            if i64::from(pid) != value {
                return Err(mismatch("pid", format!("{pid} (role `{role}`)"), value.to_string()));
            }
        }
    }
    if let (Some(want), Some(got)) = (&expect.descriptor, &outcome.descriptor) {
        if want.lowest == Some(true) && got.fd != got.lowest_free {
            return Err(mismatch("descriptor", format!("{} (the lowest free)", got.lowest_free), got.fd.to_string()));
        }
        if want.lowest == Some(false) && got.fd == got.lowest_free {
            return Err(mismatch("descriptor", format!("not {} (the lowest free)", got.lowest_free), got.fd.to_string()));
        }
        if let Some(c) = want.cloexec.filter(|c| *c != got.cloexec) {
            let show = |b: bool| if b { "FD_CLOEXEC set" } else { "FD_CLOEXEC clear" };
            return Err(mismatch("descriptor flags", show(c), show(got.cloexec)));
        }
        if let Some(same) = want.same.filter(|s| *s != (got.previous == Some(got.fd))) {
            let given = got.previous.map_or_else(|| "none".to_owned(), |p| p.to_string());
            let exp = if same { format!("the descriptor given ({given})") } else { format!("another than the one given ({given})") };
            return Err(mismatch("descriptor", exp, got.fd.to_string()));
        }
        for (want, bit, name) in [(want.nonblock, libc::O_NONBLOCK, "O_NONBLOCK"), (want.direct, libc::O_DIRECT, "O_DIRECT")] {
            let (Some(want), Some(status)) = (want, got.status) else { continue };
            let set = status & bit != 0;
            if want != set {
                let show = |b: bool| format!("{name} {}", if b { "set" } else { "clear" });
                return Err(mismatch("file status flags", show(want), show(set)));
            }
        }
    }
    if let (Some(want), Some((line, _))) = (&expect.mapped_as, outcome.mapping.as_deref()) {
        if !line.contains(want.as_str()) {
            return Err(mismatch(
                "/proc/self/maps",
                format!("a line containing {want:?}"),
                if line.is_empty() { "no line at that address".to_owned() } else { line.clone() },
            ));
        }
    }
    if let (Some(want), Some((addr, requested))) = (expect.address, outcome.address) {
        let ok = match want {
            AddressExpect::Requested => addr == requested,
            AddressExpect::RequestedRoundedDown => addr == requested - requested % shmlba,
            AddressExpect::Aligned => addr % shmlba == 0,
        };
        if !ok {
            let exp = match want {
                AddressExpect::Requested => format!("{requested:#x} (the requested address)"),
                AddressExpect::RequestedRoundedDown => {
                    format!("{:#x} ({requested:#x} rounded down to SHMLBA {shmlba:#x})", requested - requested % shmlba)
                }
                AddressExpect::Aligned => format!("a multiple of SHMLBA ({shmlba:#x})"),
            };
            return Err(mismatch("attach address", exp, format!("{addr:#x}")));
        }
    }
    Ok(())
}

/// Compare IPC_STAT fields.
pub fn stat(want: &StatExpect, got: &ShmStat, pid_of: &dyn Fn(&str) -> Option<i32>) -> Result<(), Mismatch> {
    let num = |name: &str, w: Option<u64>, g: u64| match w {
        Some(w) if w != g => Err(mismatch(name, w.to_string(), g.to_string())),
        _ => Ok(()),
    };
    // Labelled with the scenario's field names: `stat` serves IPC_STAT and
    // fstat alike.
    num("stat.segsz", want.segsz, got.segsz)?;
    num("stat.nattch", want.nattch, got.nattch)?;
    num("stat.uid", want.uid.map(u64::from), u64::from(got.uid))?;
    num("stat.gid", want.gid.map(u64::from), u64::from(got.gid))?;
    num("stat.cuid", want.cuid.map(u64::from), u64::from(got.cuid))?;
    num("stat.cgid", want.cgid.map(u64::from), u64::from(got.cgid))?;
    num("stat.nsems", want.nsems, got.nsems)?;
    num("stat.qnum", want.qnum, got.qnum)?;
    num("stat.qbytes", want.qbytes, got.qbytes)?;
    num("stat.cbytes", want.cbytes, got.cbytes)?;
    if let Some(m) = want.mode {
        if m != got.mode & 0o777 {
            return Err(mismatch("stat.mode", format!("{m:#o}"), format!("{:#o}", got.mode & 0o777)));
        }
    }
    if let Some(d) = want.dest {
        let has = got.mode & 0o1000 != 0;
        if d != has {
            let show = |b: bool| if b { "SHM_DEST set" } else { "SHM_DEST clear" };
            return Err(mismatch("SHM_DEST", show(d), show(has)));
        }
    }
    if let Some(l) = want.locked {
        let has = got.mode & 0o2000 != 0;
        if l != has {
            let show = |b: bool| if b { "SHM_LOCKED set" } else { "SHM_LOCKED clear" };
            return Err(mismatch("SHM_LOCKED", show(l), show(has)));
        }
    }
    for (field, want, t) in [
        ("stat.atime", want.atime, got.atime),
        ("stat.dtime", want.dtime, got.dtime),
        ("stat.ctime", want.ctime, got.ctime),
        ("stat.otime", want.otime, got.otime),
        ("stat.stime", want.stime, got.stime),
        ("stat.rtime", want.rtime, got.rtime),
    ] {
        let ok = match want {
            None => true,
            Some(TimeExpect::Unset) => t == 0,
            Some(TimeExpect::Set) => t != 0,
            Some(TimeExpect::Now) => (t - got.read_at).abs() <= 1,
        };
        if !ok {
            let said = match want {
                Some(TimeExpect::Unset) => "0 (never)".to_owned(),
                Some(TimeExpect::Set) => "a time (not 0)".to_owned(),
                _ => format!("{} (within a second of reading it)", got.read_at),
            };
            return Err(mismatch(field, said, t.to_string()));
        }
    }
    for (field, role, pid) in [
        ("stat.cpid", &want.cpid, got.cpid),
        ("stat.lpid", &want.lpid, got.lpid),
        ("stat.lspid", &want.lspid, got.lspid),
        ("stat.lrpid", &want.lrpid, got.lrpid),
    ] {
        if let Some(role) = role {
            if role == "none" {
                if pid != 0 {
                    return Err(mismatch(field, "0 (none yet)", pid.to_string()));
                }
            } else if let Some(want_pid) = pid_of(role) {
                if want_pid != pid {
                    return Err(mismatch(field, format!("{want_pid} (role `{role}`)"), pid.to_string()));
                }
            }
        }
    }
    Ok(())
}

/// The one outcome set every report maps from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Skip,
    Fail,
    Broken,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Skip => "SKIP",
            Status::Fail => "FAIL",
            Status::Broken => "BROKEN",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Failure {
    pub at: Locator,
    /// Where in the YAML file.
    pub loc: Loc,
    /// The operation or check, e.g. `read` or `after.exists`.
    pub check: String,
    pub mismatch: Mismatch,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Verdict {
    pub name: String,
    pub path: String,
    pub status: Status,
    /// Why it was skipped or broken, or how a negative test behaved.
    pub reason: Option<String>,
    pub failures: Vec<Failure>,
    pub timed_out: bool,
    pub leaked: bool,
    /// Wall time of the run as the runner saw it (0 when nothing ran).
    pub duration_ms: f64,
    pub isolation: Option<Isolation>,
    /// A negative test: it passes by failing where it says.
    pub must_fail: Option<Locator>,
    pub trace: Option<Trace>,
}

impl Verdict {
    pub fn skipped(plan: &Plan, reason: String) -> Verdict {
        Verdict {
            name: plan.name.clone(),
            path: plan.path.clone(),
            status: Status::Skip,
            reason: Some(reason),
            failures: Vec::new(),
            timed_out: false,
            leaked: false,
            duration_ms: 0.0,
            isolation: None,
            must_fail: plan.must_fail.as_ref().map(|m| m.at.clone()),
            trace: None,
        }
    }
    pub fn broken(plan: &Plan, reason: String) -> Verdict {
        Verdict { status: Status::Broken, ..Verdict::skipped(plan, reason) }
    }
}

/// `same_frame_as`: compare this mapping's frame with the last frame role
/// `other` (replica 0) recorded for the same object.
fn other_frame_differs(plan: &Plan, trace: &Trace, op: &crate::plan::Op, outcome: &Outcome, other: &str) -> Option<Mismatch> {
    use crate::plan::Op;
    let object = match op {
        Op::Shmat { object, .. } | Op::Mmap { object, .. } => *object,
        _ => return None,
    };
    let mine = outcome.mapping.as_deref().map_or(0, |m| m.1);
    let r = plan.roles.iter().position(|x| x.name == other)?;
    let theirs = trace
        .instances
        .iter()
        .find(|i| i.role == RoleId(r) && i.instance == 0)?
        .steps
        .iter()
        .filter(|s| matches!(plan.roles[r].steps.get(s.step).map(|p| &p.op), Some(Op::Shmat { object: o, .. } | Op::Mmap { object: o, .. }) if *o == object))
        .filter_map(|s| s.outcome.as_ref()?.mapping.as_deref().map(|m| m.1))
        .next_back();
    match theirs {
        None => {
            Some(mismatch("physical frame", format!("the frame `{other}` mapped"), format!("`{other}` recorded no mapping of this object")))
        }
        Some(t) if t == 0 || mine == 0 => {
            Some(mismatch("physical frame", "frames from /proc/PID/pagemap", "pagemap hid the frames (no CAP_SYS_ADMIN?)"))
        }
        Some(t) if t != mine => Some(mismatch("physical frame", format!("{t:#x} (as mapped by `{other}`)"), format!("{mine:#x}"))),
        Some(_) => None,
    }
}

/// One received signal as the report shows it: `SIGRTMIN+1 (value 3, SI_QUEUE)`.
fn received_text(signal: &str, value: Option<i32>, code: Option<&str>) -> String {
    let detail: Vec<String> = value.map(|v| format!("value {v}")).into_iter().chain(code.map(str::to_owned)).collect();
    if detail.is_empty() { signal.to_owned() } else { format!("{signal} ({})", detail.join(", ")) }
}

/// Whether a process ended as its role says it must.
pub fn exit_matches(want: &ExitPlan, got: &Termination) -> bool {
    match (want, got) {
        (ExitPlan::Code(c), Termination::Exited(e)) => c == e,
        (ExitPlan::KilledBy(s), Termination::Signaled(g)) | (ExitPlan::CoreDumped(s), Termination::Dumped(g)) => s == g,
        _ => false,
    }
}

/// Judge a run.
pub fn judge(plan: &Plan, trace: Trace, shmlba: u64) -> Verdict {
    let mut v = Verdict {
        name: plan.name.clone(),
        path: plan.path.clone(),
        status: Status::Pass,
        reason: None,
        failures: Vec::new(),
        timed_out: trace.timeout.is_some(),
        leaked: !trace.leaks.is_empty() || !trace.left_after_cleanup.is_empty(),
        duration_ms: 0.0,
        isolation: Some(trace.isolation),
        must_fail: plan.must_fail.as_ref().map(|m| m.at.clone()),
        trace: None,
    };
    if let Some(reason) = &trace.skipped {
        v.status = Status::Skip;
        v.reason = Some(reason.clone());
        v.trace = Some(trace);
        return v;
    }
    v.failures = failures(plan, &trace, shmlba);
    let role_errors: Vec<String> = trace
        .instances
        .iter()
        .filter_map(|i| i.error.as_ref().map(|e| format!("role `{}`#{}: {e}", plan.role(i.role).name, i.instance)))
        .collect();
    if let Some(b) = &trace.broken {
        v.status = Status::Broken;
        v.reason = Some(b.clone());
    } else if !role_errors.is_empty() {
        v.status = Status::Broken;
        v.reason = Some(role_errors.join("; "));
    } else if !trace.left_after_cleanup.is_empty() {
        v.status = Status::Broken;
        v.reason = Some(format!(
            "cleanup failed; still present: {}",
            trace.left_after_cleanup.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        ));
    } else if !v.failures.is_empty() {
        v.status = Status::Fail;
    }
    if let Some(mf) = &plan.must_fail {
        match v.status {
            Status::Fail if v.failures.iter().any(|f| f.at == mf.at) => {
                v.status = Status::Pass;
                v.reason = Some(format!("failed as required at {}: {}", mf.at, mf.because));
            }
            Status::Fail => {
                v.reason = Some(format!("must fail at {}, but failed elsewhere", mf.at));
            }
            Status::Pass => {
                v.status = Status::Fail;
                v.reason = Some(format!("must fail at {} ({}), but every expectation held", mf.at, mf.because));
            }
            Status::Skip | Status::Broken => {}
        }
    }
    v.trace = Some(trace);
    v
}

/// Steps raced by a role's replicas: once every replica made the call,
/// exactly the stated number must have won.
fn races(plan: &Plan, trace: &Trace) -> Vec<Failure> {
    let mut out = Vec::new();
    for (r, role) in plan.roles.iter().enumerate() {
        for (k, sp) in role.steps.iter().enumerate() {
            let Some(race) = &sp.expect.race else { continue };
            let outcomes: Vec<&Outcome> = trace
                .instances
                .iter()
                .filter(|i| i.role == RoleId(r))
                .filter_map(|i| i.steps.iter().find(|s| s.step == k)?.outcome.as_ref())
                .collect();
            if outcomes.len() < role.count as usize {
                continue;
            }
            let won = outcomes.iter().filter(|o| o.result.is_ok()).count();
            if won != race.winners as usize {
                out.push(Failure {
                    at: Locator::Step { role: role.name.clone(), step: k },
                    loc: sp.loc,
                    check: sp.op.name().to_owned(),
                    mismatch: mismatch(
                        "winners",
                        format!("{} of {} replicas succeed", race.winners, role.count),
                        format!("{won} succeeded, {} failed with {}", outcomes.len() - won, race.losers),
                    ),
                });
            }
        }
    }
    out
}

fn failures(plan: &Plan, trace: &Trace, shmlba: u64) -> Vec<Failure> {
    let mut out = Vec::new();
    let pid_of = |name: &str| -> Option<i32> {
        let r = plan.roles.iter().position(|r| r.name == name)?;
        trace.instances.iter().find(|i| i.role == RoleId(r) && i.instance == 0).map(|i| i.pid)
    };
    let harness_killed = trace.timeout.is_some() || trace.stopped_early.is_some();
    for inst in &trace.instances {
        let role = plan.role(inst.role);
        // This process was killed by the harness (watchdog or early stop),
        // so how it ended says nothing about the kernel.
        let killed_by_harness =
            harness_killed && inst.killed_by_harness && inst.termination == Some(Termination::Signaled("SIGKILL".to_owned()));
        for rec in &inst.steps {
            let Some(sp) = role.steps.get(rec.step) else { continue };
            let at = Locator::Step { role: role.name.clone(), step: rec.step };
            let mut fail = |m: Mismatch| out.push(Failure { at: at.clone(), loc: sp.loc, check: sp.op.name().to_owned(), mismatch: m });
            match &rec.outcome {
                Some(o) => {
                    if let Err(m) = step(&sp.expect, o, inst.instance, shmlba, &pid_of) {
                        fail(m);
                    } else if let Some(m) = sp.expect.same_frame_as.as_deref().and_then(|r| other_frame_differs(plan, trace, &sp.op, o, r))
                    {
                        fail(m);
                    } else if sp.expect.blocks && rec.blocked.is_none() {
                        fail(mismatch("blocking", "the call blocks until another role acts", "it completed without being seen blocked"));
                    }
                }
                None => match (&sp.expect.killed_by, &inst.termination) {
                    (Some(sig), Some(t)) if t.signal() == Some(sig.as_str()) => {}
                    (Some(sig), Some(t)) if !killed_by_harness => fail(mismatch("fate", format!("killed by {sig}"), t.to_string())),
                    // The call itself killed the role (a fault, say) where it
                    // was expected to return: that is this step's failure.
                    (None, Some(t)) if t.signal().is_some() && !killed_by_harness && sp.op.is_ipc_call() => {
                        fail(mismatch("fate", "the call returns", t.to_string()));
                    }
                    _ => {}
                },
            }
        }
        // How the role ended; not judged when the harness killed it or the
        // role stopped itself at an unmet expectation (reported above).
        // A step's own fate explains a death by signal (reported above):
        // either the step expected it, or its call killed the role.
        let killed_here = inst.steps.last().is_some_and(|r| {
            r.outcome.is_none()
                && inst.termination.as_ref().is_some_and(|t| t.signal().is_some())
                && role.steps.get(r.step).is_some_and(|s| s.expect.killed_by.is_some() || s.op.is_ipc_call())
        });
        // Whether a core was dumped is only in the exit, so a role that
        // must dump one is judged there even when a step expected the kill.
        // So is a role whose `exit` is written out: `killed_by` there
        // also says no core was dumped.
        let core_asked = matches!(role.exit, ExitPlan::CoreDumped(_)) || role.exit_explicit;
        if inst.aborted_at.is_none() && inst.error.is_none() && (!killed_here || core_asked) {
            let ok = inst.termination.as_ref().is_none_or(|t| exit_matches(&role.exit, t));
            if !ok && !killed_by_harness {
                let observed = inst.termination.as_ref().map_or_else(|| "unknown".to_owned(), ToString::to_string);
                out.push(Failure {
                    at: Locator::Exit { role: role.name.clone() },
                    loc: role.exit_loc,
                    check: "exit".to_owned(),
                    mismatch: mismatch("termination", role.exit.to_string(), observed),
                });
            }
        }
    }
    if !harness_killed && trace.broken.is_none() {
        out.extend(races(plan, trace));
        for (i, role) in plan.roles.iter().enumerate() {
            let ran = trace.instances.iter().filter(|t| t.role == RoleId(i)).count();
            if ran < role.count as usize && !out.iter().any(|f| matches!(&f.at, Locator::Step { .. })) {
                out.push(Failure {
                    at: Locator::Exit { role: role.name.clone() },
                    loc: role.loc,
                    check: "start".to_owned(),
                    mismatch: mismatch("replicas", format!("{} process(es) run", role.count), format!("{ran} ran")),
                });
            }
        }
    }
    if let Some(t) = &trace.timeout {
        let stuck = t
            .stuck
            .iter()
            .map(|s| {
                let role = plan.role(s.role);
                match s.step.and_then(|i| role.steps.get(i).map(|st| (i, st))) {
                    Some((i, st)) => format!(
                        "`{}`#{} at step {} ({}, {}:{}) blocked in {}",
                        role.name,
                        s.instance,
                        i + 1,
                        st.op.name(),
                        plan.path,
                        st.loc,
                        if s.wchan.is_empty() { "an unknown kernel function" } else { &s.wchan }
                    ),
                    None => format!("`{}`#{} between steps", role.name, s.instance),
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        out.push(Failure {
            at: Locator::Check(MustFailCheck::Timeout),
            loc: Loc::default(),
            check: "timeout".to_owned(),
            mismatch: mismatch(
                "time",
                format!("done within {} ms", plan.timeout_ms),
                format!("still running after {} ms: {stuck}", t.after_ms),
            ),
        });
    }
    if trace.timeout.is_none() && trace.stopped_early.is_none() {
        after(plan, trace, &pid_of, &mut out);
    }
    if !trace.leaks.is_empty() {
        out.push(Failure {
            at: Locator::Check(MustFailCheck::Leak),
            loc: Loc::default(),
            check: "leak".to_owned(),
            mismatch: mismatch(
                "objects left behind",
                "none (remove them in a step, or declare them in `after.exists`)",
                trace.leaks.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            ),
        });
    }
    out
}

fn after(plan: &Plan, trace: &Trace, pid_of: &dyn Fn(&str) -> Option<i32>, out: &mut Vec<Failure>) {
    let obs = |name: &str| trace.after.iter().find(|o| o.object == name);
    for (o, loc) in &plan.after.exists {
        let name = &plan.object(*o).name;
        if !obs(name).is_some_and(|a| a.exists) {
            out.push(Failure {
                at: Locator::Check(MustFailCheck::Exists),
                loc: *loc,
                check: "after.exists".to_owned(),
                mismatch: mismatch(name, "still exists after every role exited", "gone"),
            });
        }
    }
    for (o, loc) in &plan.after.gone {
        let name = &plan.object(*o).name;
        if obs(name).is_some_and(|a| a.exists) {
            out.push(Failure {
                at: Locator::Check(MustFailCheck::Gone),
                loc: *loc,
                check: "after.gone".to_owned(),
                mismatch: mismatch(name, "gone", "still exists"),
            });
        }
    }
    for (o, want, loc) in &plan.after.stat {
        let name = &plan.object(*o).name;
        let res = match obs(name).and_then(|a| a.stat.as_ref()) {
            Some(got) => stat(want, got, pid_of),
            None => Err(mismatch(name, "an object to stat", "gone")),
        };
        if let Err(m) = res {
            out.push(Failure { at: Locator::Check(MustFailCheck::Stat), loc: *loc, check: "after.stat".to_owned(), mismatch: m });
        }
    }
}
