//! The CI formats: JUnit XML, KTAP version 1, kirk-compatible JSON and a
//! Markdown summary. Each renders the same `Run` and keeps pass, fail,
//! skip and broken apart (`../shared/reference/user-needs.md` §4 maps
//! them); none of them judges.

use std::fmt::Write as _;

use super::Run;
use crate::check::{Status, Verdict};

/// What a verdict says in one line: its failures, or its reason.
fn detail(v: &Verdict) -> String {
    if let Some(f) = v.failures.first() {
        let more = if v.failures.len() > 1 { format!(" (and {} more)", v.failures.len() - 1) } else { String::new() };
        let place = if f.loc.is_known() { format!("{}:{}:{}", v.path, f.loc.line, f.loc.column) } else { v.path.clone() };
        return format!(
            "at {} ({}), {place}: {}: expected {}, observed {}{more}",
            f.at, f.check, f.mismatch.what, f.mismatch.expected, f.mismatch.observed
        );
    }
    v.reason.clone().unwrap_or_default()
}

/// The suite a verdict belongs to (its scenario folder, `must_fail::pipe`
/// for twins) and its name within it.
fn suite_and_case(v: &Verdict) -> (String, &str) {
    let id = file_id(&v.path);
    let suite = id.rsplit_once("::").map_or("scenarios".to_owned(), |(s, _)| s.to_owned());
    let case = v.name.strip_prefix(suite.as_str()).map_or(v.name.as_str(), |c| c.trim_start_matches(':'));
    (suite, case)
}

/// Environment facts as (name, value) pairs, for formats that carry them.
fn environment(run: &Run) -> Vec<(String, String)> {
    let e = &run.environment;
    let mut out = vec![
        ("kernel.release".to_owned(), e.kernel_release.clone()),
        ("kernel.version".to_owned(), e.kernel_version.clone()),
        ("arch".to_owned(), e.arch.clone()),
        ("libc".to_owned(), e.libc.clone()),
        ("euid".to_owned(), e.euid.to_string()),
        ("capabilities.missing".to_owned(), e.capabilities_missing.join(" ")),
        ("isolation".to_owned(), e.isolation.map(|i| format!("{i:?}")).unwrap_or_default()),
    ];
    out.extend(e.limits.iter().map(|(k, v)| (format!("limit.{k}"), v.clone())));
    out
}

/// JUnit XML: one suite per scenario folder, the environment as properties.
pub fn junit(run: &Run) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("ipc-harness");
    report.set_time(std::time::Duration::from_secs_f64(run.wall_ms / 1000.0));
    let mut suites: Vec<TestSuite> = Vec::new();
    for v in &run.verdicts {
        let (suite, case) = suite_and_case(v);
        if !suites.iter().any(|s| s.name.as_str() == suite) {
            let mut s = TestSuite::new(suite.as_str());
            s.add_properties(environment(run));
            suites.push(s);
        }
        let status = match v.status {
            Status::Pass => TestCaseStatus::success(),
            Status::Skip => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(v.reason.clone().unwrap_or_default());
                s
            }
            Status::Fail => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(detail(v));
                s.set_type(if v.timed_out { "timeout" } else { "fail" });
                s
            }
            Status::Broken => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(detail(v));
                s.set_type("broken");
                s
            }
        };
        let mut tc = TestCase::new(case, status);
        tc.set_classname(suite.as_str());
        tc.set_time(std::time::Duration::from_secs_f64(v.duration_ms / 1000.0));
        if let Some(s) = suites.iter_mut().find(|s| s.name.as_str() == suite) {
            s.add_test_case(tc);
        }
    }
    report.add_test_suites(suites);
    report.to_string().unwrap_or_else(|e| format!("<!-- cannot render the JUnit report: {e} -->\n"))
}

/// KTAP version 1, as kselftest and KernelCI read it: one test per scenario
/// file, its cases as nested subtests, failures as `#` diagnostics.
pub fn ktap(run: &Run) -> String {
    let mut out = String::from("KTAP version 1\n");
    for (k, v) in environment(run) {
        let _ = writeln!(out, "# {k}: {v}");
    }
    // Scenario files in order of first appearance, with their verdicts.
    let mut files: Vec<(&str, Vec<&Verdict>)> = Vec::new();
    for v in &run.verdicts {
        match files.iter_mut().find(|(p, _)| *p == v.path) {
            Some((_, list)) => list.push(v),
            None => files.push((&v.path, vec![v])),
        }
    }
    let _ = writeln!(out, "1..{}", files.len());
    for (n, (path, verdicts)) in files.iter().enumerate() {
        let name = file_id(path);
        if let [v] = verdicts.as_slice() {
            if v.name == name {
                result(&mut out, "", n + 1, &v.name, v);
                continue;
            }
        }
        let _ = writeln!(out, "  KTAP version 1\n  1..{}", verdicts.len());
        for (i, v) in verdicts.iter().enumerate() {
            let case = v.name.strip_prefix(name.as_str()).map_or(v.name.as_str(), |c| c.trim_start_matches(':'));
            result(&mut out, "  ", i + 1, case, v);
        }
        // The parent fails if a child does; it is skipped only if all are.
        let line = if verdicts.iter().any(|v| matches!(v.status, Status::Fail | Status::Broken)) {
            format!("not ok {} {name}", n + 1)
        } else if verdicts.iter().all(|v| v.status == Status::Skip) {
            format!("ok {} {name} # SKIP every case skipped", n + 1)
        } else {
            format!("ok {} {name}", n + 1)
        };
        let _ = writeln!(out, "{line}");
    }
    out
}

/// A scenario file's name as verdicts start with it: `pipe/x.yaml` is
/// `pipe::x` (its cases are `pipe::x::case`, repetitions `pipe::x#2`).
fn file_id(path: &str) -> String {
    path.trim_start_matches("scenarios/").trim_end_matches(".yaml").replace('/', "::")
}

fn result(out: &mut String, indent: &str, n: usize, name: &str, v: &Verdict) {
    let one_line = |s: &str| s.replace('\n', " ");
    for f in &v.failures {
        let line = if f.loc.is_known() { format!(", line {}", f.loc.line) } else { String::new() };
        let (what, at, check) = (&f.mismatch.what, &f.at, &f.check);
        let (expected, observed) = (one_line(&f.mismatch.expected), one_line(&f.mismatch.observed));
        let _ = writeln!(out, "{indent}# {what} at {at} ({check}){line}: expected {expected}, observed {observed}");
    }
    let reason = one_line(v.reason.as_deref().unwrap_or(""));
    let line = match v.status {
        Status::Pass => format!("ok {n} {name}"),
        Status::Skip => format!("ok {n} {name} # SKIP {reason}"),
        Status::Fail if v.timed_out => format!("not ok {n} {name} # TIMEOUT"),
        Status::Fail => format!("not ok {n} {name}"),
        Status::Broken => format!("not ok {n} {name} # ERROR {reason}"),
    };
    let _ = writeln!(out, "{indent}{line}");
}

/// kirk's JSON (libkirk's export), so tools made for LTP can read it.
pub fn kirk(run: &Run) -> String {
    let status = |s: Status| match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Broken => "brok",
        Status::Skip => "conf",
    };
    let results: Vec<serde_json::Value> = run
        .verdicts
        .iter()
        .map(|v| {
            let count = |s: Status| usize::from(v.status == s);
            serde_json::json!({
                "test_fqn": v.name,
                "status": status(v.status),
                "test": {
                    "command": "ipc-harness run",
                    "arguments": [v.path],
                    "log": detail(v),
                    "retval": [match v.status { Status::Pass | Status::Skip => "0", _ => "1" }],
                    "duration": v.duration_ms / 1000.0,
                    "passed": count(Status::Pass),
                    "failed": count(Status::Fail),
                    "broken": count(Status::Broken),
                    "skipped": count(Status::Skip),
                    "warnings": 0,
                    "result": status(v.status),
                }
            })
        })
        .collect();
    let t = run.totals();
    let e = &run.environment;
    let doc = serde_json::json!({
        "results": results,
        "stats": {
            "runtime": run.wall_ms / 1000.0,
            "passed": t.pass,
            "failed": t.fail,
            "broken": t.broken,
            "skipped": t.skip,
            "warnings": 0,
        },
        "environment": {
            "distribution": "",
            "distribution_version": "",
            "kernel": format!("{} {}", e.kernel_release, e.kernel_version),
            "arch": e.arch,
            "cpu": "",
            "swap": "",
            "RAM": "",
        },
    });
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"cannot render the kirk report: {e}\"}}"))
}

/// A Markdown summary short enough for a CI step summary or a merge-request
/// comment: totals, one line per failure, skips grouped by reason.
pub fn markdown(run: &Run) -> String {
    let t = run.totals();
    let e = &run.environment;
    let mut out = format!(
        "### ipc-harness: {} passed, {} failed, {} broken, {} skipped\n\nLinux {} ({}), euid {}, {} scenarios in {:.1} s\n",
        t.pass,
        t.fail,
        t.broken,
        t.skip,
        e.kernel_release,
        e.arch,
        e.euid,
        run.verdicts.len(),
        run.wall_ms / 1000.0
    );
    for (title, status) in [("Failures", Status::Fail), ("Broken", Status::Broken)] {
        let list: Vec<&Verdict> = run.verdicts.iter().filter(|v| v.status == status).collect();
        if !list.is_empty() {
            let _ = writeln!(out, "\n#### {title}\n");
            for v in list {
                let _ = writeln!(out, "- `{}`: {}", v.name, detail(v).replace('\n', " "));
            }
        }
    }
    let mut reasons: Vec<(String, Vec<&str>)> = Vec::new();
    for v in run.verdicts.iter().filter(|v| v.status == Status::Skip) {
        let r = v.reason.clone().unwrap_or_default();
        match reasons.iter_mut().find(|(x, _)| *x == r) {
            Some((_, names)) => names.push(&v.name),
            None => reasons.push((r, vec![&v.name])),
        }
    }
    if !reasons.is_empty() {
        let _ = writeln!(out, "\n#### Skipped, by reason\n");
        for (r, names) in reasons {
            let shown: Vec<String> = names.iter().take(3).map(|n| format!("`{n}`")).collect();
            let more = if names.len() > 3 { format!(" and {} more", names.len() - 3) } else { String::new() };
            let _ = writeln!(out, "- {r} ({}): {}{more}", names.len(), shown.join(", "));
        }
    }
    out
}
