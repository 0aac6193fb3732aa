//! Every CI format rendered from one fixed run, compared with golden files
//! (`IPC_HARNESS_BLESS=1` rewrites them), the KTAP output parsed back
//! against the KTAP version 1 grammar, and the time to render a run of
//! 10 000 cases.

use std::path::PathBuf;

use ipc_harness::report::{Run, formats, json};

fn fixture() -> Run {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reports");
    let text = std::fs::read_to_string(dir.join("run.json")).expect("reading the fixture");
    serde_json::from_str(&text).expect("the fixture is a run")
}

fn golden(name: &str, got: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reports").join(name);
    if std::env::var_os("IPC_HARNESS_BLESS").is_some() {
        std::fs::write(&path, got).expect("writing the golden file");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(got, want, "{name} differs from its golden file (IPC_HARNESS_BLESS=1 to accept)");
}

#[test]
fn every_format_matches_its_golden_file() {
    let run = fixture();
    golden("run.junit.xml", &formats::junit(&run));
    golden("run.ktap", &formats::ktap(&run));
    golden("run.kirk.json", &formats::kirk(&run));
    golden("run.md", &formats::markdown(&run));
}

/// KTAP version 1 (docs.kernel.org/dev-tools/ktap.html): a version line, a
/// plan, then results and diagnostics; a subtest is indented two spaces
/// and has its own version line and plan; the results number 1..N.
#[test]
fn ktap_follows_the_grammar() {
    let text = formats::ktap(&fixture());
    let mut stack: Vec<(usize, usize)> = Vec::new(); // (planned, seen) per level
    let mut lines = text.lines().peekable();
    assert_eq!(lines.next(), Some("KTAP version 1"));
    stack.push((0, 0));
    for line in lines {
        let depth = (line.len() - line.trim_start().len()) / 2;
        let body = line.trim_start();
        if body.starts_with('#') {
            continue;
        }
        if body == "KTAP version 1" {
            assert_eq!(depth, stack.len(), "a subtest opens one level deeper: {line:?}");
            stack.push((0, 0));
            continue;
        }
        // A result less indented closes the subtests above it, whose plans
        // must be met.
        while stack.len() > depth + 1 {
            let (planned, seen) = stack.pop().expect("a level");
            assert_eq!(planned, seen, "a subtest's plan counts its results, before {line:?}");
        }
        assert_eq!(depth + 1, stack.len(), "line at the wrong depth: {line:?}");
        if let Some(n) = body.strip_prefix("1..") {
            stack.last_mut().expect("a level").0 = n.parse().expect("a plan count");
            continue;
        }
        let rest = body.strip_prefix("not ok ").or_else(|| body.strip_prefix("ok ")).unwrap_or_else(|| panic!("not a KTAP line: {line:?}"));
        let n: usize = rest.split_whitespace().next().and_then(|w| w.parse().ok()).expect("a test number");
        let level = stack.last_mut().expect("a level");
        level.1 += 1;
        assert_eq!(n, level.1, "results number from 1: {line:?}");
        if let Some((_, directive)) = rest.split_once(" # ") {
            let word = directive.split_whitespace().next().unwrap_or_default();
            assert!(["SKIP", "TODO", "XFAIL", "TIMEOUT", "ERROR"].contains(&word), "unknown directive: {line:?}");
        }
    }
    let top = stack.first().expect("the top level");
    assert_eq!(top.0, top.1, "the plan counts every top-level result");
    assert!(text.contains("not ok 2 pipe::lseek_espipe"), "a parent with a failing case fails");
    assert!(text.contains("ok 3 signal::default_action_core_dump # SKIP needs feature"), "a skip keeps its reason");
    assert!(text.contains("# TIMEOUT"), "a timed-out run says so");
    assert!(text.contains("# ERROR role `writer`"), "a broken run is an error");
}

#[test]
fn rendering_ten_thousand_cases_is_cheap() {
    let mut run = fixture();
    let base = run.verdicts.clone();
    run.verdicts = (0..10_000)
        .map(|i| {
            let mut v = base[i % base.len()].clone();
            v.name = format!("{}{i}", v.name);
            v
        })
        .collect();
    let start = std::time::Instant::now();
    let sizes = [
        json::render(&run).len(),
        formats::junit(&run).len(),
        formats::ktap(&run).len(),
        formats::kirk(&run).len(),
        formats::markdown(&run).len(),
    ];
    let took = start.elapsed();
    eprintln!("rendered every format for 10 000 cases in {took:?} (bytes: {sizes:?})");
    // A run of 10 000 cases takes minutes; rendering must stay a small part.
    assert!(took < std::time::Duration::from_secs(10), "rendering took {took:?}");
}

#[test]
fn compare_of_two_fixed_reports_matches_its_golden_file() {
    use ipc_harness::report::compare;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reports");
    let new: Run = serde_json::from_str(&std::fs::read_to_string(dir.join("run-new.json")).expect("reading")).expect("a run");
    let base = fixture();
    let changes = compare::compare(&base, &new, 2.0, 100.0);
    assert!(changes.regressed(), "a new failure is a regression");
    golden("compare.txt", &compare::render(&changes, false));
    golden("compare.md", &compare::render(&changes, true));
    // Against itself nothing changed, and nothing regressed.
    let same = compare::compare(&base, &base, 2.0, 100.0);
    assert!(!same.regressed() && same.environment.is_empty() && same.fixed.is_empty());
}
