//! Output for people: a line per scenario as it finishes, then a summary
//! table, and for each failure what was expected and observed, where in the
//! YAML, and a short timeline per role.

use std::fmt::Write as _;

use super::Run;
use crate::check::{Status, Verdict, show_bytes};
use crate::exec::trace::{InstanceTrace, Outcome};
use crate::plan::Plan;

/// The progress line for one finished scenario.
pub fn line(v: &Verdict) -> String {
    let mut s = format!("{:<6} {}", v.status.label(), v.name);
    match v.status {
        Status::Pass | Status::Fail => {
            let _ = write!(s, "  ({:.1} ms)", v.duration_ms);
        }
        Status::Skip | Status::Broken => {}
    }
    if let Some(r) = &v.reason {
        let _ = write!(s, "  {}", r);
    }
    let mut facts = Vec::new();
    if v.timed_out {
        facts.push("timed out");
    }
    if v.leaked {
        facts.push("leaked");
    }
    if !facts.is_empty() {
        let _ = write!(s, "  [{}]", facts.join(", "));
    }
    s
}

/// The summary after every scenario finished.
pub fn summary(run: &Run) -> String {
    let mut out = String::new();
    for v in run.verdicts.iter().filter(|v| matches!(v.status, Status::Fail | Status::Broken)) {
        details(&mut out, v, run.plan(&v.name));
    }
    let t = run.totals();
    let env = &run.environment;
    let isolation = run.verdicts.iter().find_map(|v| v.isolation).map_or("none needed (nothing ran)", |i| i.describe());
    let _ = writeln!(out, "\nipc-harness on Linux {} ({}, {}), euid {}", env.kernel_release, env.arch, env.libc, env.euid);
    if !env.capabilities_missing.is_empty() && env.euid == 0 {
        let _ = writeln!(out, "root without: {}", env.capabilities_missing.join(", "));
    }
    let _ = writeln!(out, "isolation: {isolation}");
    if env.run_folder_fs == "fuse" {
        let _ = writeln!(
            out,
            "warning: the run folder ({}) is on a FUSE file system (fuse-overlayfs in a container?): file scenarios run many times slower there and can time out; give it a local one (docker run --tmpfs /tmp, or TMPDIR=/dev/shm)",
            std::env::temp_dir().display()
        );
    }
    if let Some(note) = run.verdicts.iter().find_map(|v| v.trace.as_ref().and_then(|t| t.isolation_note.as_deref())) {
        let _ = writeln!(out, "  ({note})");
    }
    let _ = writeln!(out, "  {:<8}{:>6}", "pass", t.pass);
    let _ = writeln!(out, "  {:<8}{:>6}", "fail", t.fail);
    let _ = writeln!(out, "  {:<8}{:>6}", "skip", t.skip);
    let _ = writeln!(out, "  {:<8}{:>6}", "broken", t.broken);
    if t.timed_out + t.leaked > 0 {
        let _ = writeln!(out, "  ({} timed out, {} leaked)", t.timed_out, t.leaked);
    }
    let _ = writeln!(out, "{} scenarios in {:.2} s with -j {}", run.verdicts.len(), run.wall_ms / 1000.0, run.jobs);
    out
}

pub fn details(out: &mut String, v: &Verdict, plan: Option<&Plan>) {
    let _ = writeln!(out, "\n{} {}", v.status.label(), v.name);
    if let Some(r) = &v.reason {
        let _ = writeln!(out, "  {r}");
    }
    for f in &v.failures {
        let loc = if f.loc.is_known() { format!("{}:{}", v.path, f.loc) } else { v.path.clone() };
        let _ = writeln!(out, "  at {} ({}), {loc}", f.at, f.check);
        let _ = writeln!(out, "    {}", f.mismatch.what);
        let _ = writeln!(out, "      expected: {}", f.mismatch.expected);
        let _ = writeln!(out, "      observed: {}", f.mismatch.observed);
    }
    let (Some(plan), Some(trace)) = (plan, &v.trace) else { return };
    if let Some(e) = &trace.role_stderr {
        let _ = writeln!(out, "  role standard error:");
        for l in e.lines() {
            let _ = writeln!(out, "    | {l}");
        }
    }
    let _ = writeln!(out, "  timeline:");
    for inst in &trace.instances {
        timeline(out, plan, inst);
    }
}

fn timeline(out: &mut String, plan: &Plan, inst: &InstanceTrace) {
    let role = plan.role(inst.role);
    let end = inst.termination.as_ref().map_or_else(|| "still running".to_owned(), ToString::to_string);
    let _ = writeln!(out, "    {}#{} pid {}: {end}", role.name, inst.instance, inst.pid);
    for rec in &inst.steps {
        let Some(step) = role.steps.get(rec.step) else { continue };
        let result = match &rec.outcome {
            Some(o) => outcome(o),
            None => "(did not return)".to_owned(),
        };
        let blocked = rec
            .blocked
            .as_ref()
            .map(|b| format!(" [blocked in {}]", if b.wchan.is_empty() { "the kernel" } else { &b.wchan }))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "      {:>9.3} ms  {:>2} {:<12} line {:<4} {result}{blocked}",
            rec.started_us as f64 / 1000.0,
            rec.step + 1,
            step.op.name(),
            step.loc.line
        );
    }
    if let Some(e) = &inst.error {
        let _ = writeln!(out, "      harness error: {e}");
    }
}

fn outcome(o: &Outcome) -> String {
    let mut s = match &o.result {
        Ok(v) => format!("ok {v}"),
        Err(e) => e.clone(),
    };
    if let Some(d) = &o.data {
        let _ = write!(s, " data {}", show_bytes(d));
    }
    if let Some((a, _)) = o.address {
        let _ = write!(s, " at {a:#x}");
    }
    if let Some(st) = &o.stat {
        // The status fields of the kind that reported it (the others are 0).
        if st.nsems > 0 {
            let _ = write!(s, " nsems {} mode {:#o}", st.nsems, st.mode);
        } else if st.qbytes > 0 {
            let _ = write!(s, " qnum {} cbytes {} qbytes {} mode {:#o}", st.qnum, st.cbytes, st.qbytes, st.mode);
        } else {
            let _ = write!(s, " segsz {} nattch {} mode {:#o}", st.segsz, st.nattch, st.mode);
        }
    }
    if let Some(p) = o.prio {
        let _ = write!(s, " prio {p}");
    }
    if let Some((maxmsg, msgsize, curmsgs, nonblock)) = o.attr {
        let _ = write!(s, " maxmsg {maxmsg} msgsize {msgsize} curmsgs {curmsgs}{}", if nonblock { " nonblock" } else { "" });
    }
    if let Some(t) = o.mtype {
        let _ = write!(s, " mtype {t}");
    }
    if let Some(v) = &o.values {
        let _ = write!(s, " values {v:?}");
    }
    if let Some(n) = o.examined {
        let _ = write!(s, " ({n} examined)");
    }
    if let Some(us) = o.elapsed_us {
        let _ = write!(s, " after {:.1} ms", us as f64 / 1000.0);
    }
    s
}
