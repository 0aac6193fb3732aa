//! Every CI format rendered from one fixed run and from a real run of the
//! binary (volatile fields redacted), compared with golden files
//! (`IPC_HARNESS_BLESS=1` rewrites them); the KTAP output parsed back
//! against the KTAP version 1 grammar; the JUnit output validated against
//! `reports/schema/junit.xsd`; and the time to render a run of 10 000 cases.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use ipc_harness::report::{Run, formats, json};

fn fixture() -> Run {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reports");
    let text = std::fs::read_to_string(dir.join("run.json")).expect("reading the fixture");
    serde_json::from_str(&text).expect("the fixture is a run")
}

fn golden(name: &str, got: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reports").join(name);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
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
    check_ktap_grammar(&text);
    assert!(text.contains("not ok 2 pipe::lseek_espipe"), "a parent with a failing case fails");
    assert!(text.contains("ok 3 signal::default_action_core_dump # SKIP needs feature"), "a skip keeps its reason");
    assert!(text.contains("# TIMEOUT"), "a timed-out run says so");
    assert!(text.contains("# ERROR role `writer`"), "a broken run is an error");
    check_ktap_grammar(&real_run().ktap);
}

fn check_ktap_grammar(text: &str) {
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
}

// ------------------------------------------------------------- a real run

/// Every format of one real run of `tests/fixtures/real-run` (a case table
/// that passes, a scenario that fails, one that skips), read back from
/// the files `--out` wrote.
struct RealRun {
    human: String,
    json: String,
    junit: String,
    ktap: String,
    kirk: String,
    markdown: String,
}

fn real_run() -> &'static RealRun {
    static RUN: OnceLock<RealRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("real-run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let o = Command::new(env!("CARGO_BIN_EXE_ipc-harness"))
            .args(["run", "-j", "1", "--format", "human,json,junit,ktap,kirk,markdown", "--out"])
            .arg(&out)
            .arg("tests/fixtures/real-run")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("the harness binary starts");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "the fixture run fails (one scenario fails on purpose)\n{stderr}");
        let read = |ext: &str| {
            std::fs::read_to_string(out.join(format!("latest.{ext}"))).unwrap_or_else(|e| panic!("reading latest.{ext}: {e}\n{stderr}"))
        };
        let run = RealRun {
            human: String::from_utf8_lossy(&o.stdout).into_owned(),
            json: read("json"),
            junit: read("junit.xml"),
            ktap: read("ktap"),
            kirk: read("kirk.json"),
            markdown: read("md"),
        };
        let _ = std::fs::remove_dir_all(&out);
        run
    })
}

/// Strings that change from machine to machine or run to run, replaced by
/// a placeholder: this kernel's release and version, times, pids, keys.
struct Redactor {
    kernel_release: String,
    kernel_version: String,
    pids: Vec<String>,
}

impl Redactor {
    /// Learns the pids from the JSON report's traces.
    fn new(report: &Value) -> Redactor {
        let env = &report["environment"];
        let text = |k: &str| env[k].as_str().unwrap_or_else(|| panic!("environment.{k} is a string")).to_owned();
        let mut pids: Vec<String> = Vec::new();
        for v in report["verdicts"].as_array().expect("verdicts") {
            for i in v["trace"]["instances"].as_array().into_iter().flatten() {
                pids.push(i["pid"].as_u64().expect("an instance pid").to_string());
            }
        }
        Redactor { kernel_release: text("kernel_release"), kernel_version: text("kernel_version"), pids }
    }

    fn text(&self, s: &str) -> String {
        let mut s = s.replace(&self.kernel_release, "[kernel]").replace(&self.kernel_version, "[kernel version]");
        let rules: [(&str, &str); 10] = [
            // The human timeline's `alone#0 pid 3972`.
            (r"\bpid \d+", "pid [pid]"),
            // A role that stopped at its failure exits 125, unless the
            // supervisor's kill of the failed run reaches it first.
            (r"pid \[pid\]: (exit status 125|killed by SIGKILL)", "pid [pid]: [stopped at its failure]"),
            // Durations: human `(18.4 ms)`, right-aligned `   5.154 ms`,
            // `0.03 s`, Markdown `in 0.0 s`.
            (r"\(\d+\.\d+ ms\)", "([t] ms)"),
            (r" +\d+\.\d+ (ms|s)\b", " [t] $1"),
            // JUnit `time="0.018"`.
            (r#"time="[0-9.]+""#, r#"time="[t]""#),
            // Report file names: `run-<seconds>-<pid>.<ext>` in a temporary folder.
            (r"report: \S*/run-\d+-\d+\.", "report: [out]/run-[t]-[pid]."),
            // The environment: JUnit properties, KTAP `#` lines, the human header.
            (r"(?s)<properties>.*?</properties>", "<properties>[environment]</properties>"),
            (r"(?m)^# (kernel|arch|libc|euid|capabilities|isolation|limit)\b.*\n", ""),
            (r"(?m)^(\[kernel\]|root without|isolation:|ipc-harness on).*\n", "[environment line]\n"),
            (r"\(x86_64|\(aarch64", "([arch]"),
        ];
        for (pattern, with) in rules {
            s = Regex::new(pattern).expect("a regex").replace_all(&s, with).into_owned();
        }
        s
    }

    /// JSON: the environment whole, and every time, pid, key and timestamp.
    fn json(&self, text: &str) -> String {
        let mut v: Value = serde_json::from_str(text).expect("the report is JSON");
        if v.get("environment").is_some() {
            v["environment"] = Value::String("[environment]".into());
        }
        self.walk(&mut v);
        self.text(&serde_json::to_string_pretty(&v).expect("JSON renders"))
    }

    fn walk(&self, v: &mut Value) {
        const VOLATILE: [&str; 6] = ["pid", "key", "time", "_us", "_ms", "duration"];
        match v {
            Value::Object(map) => {
                // As in the text: how a role stopped at its failure ended
                // is a race between its exit and the supervisor's kill.
                let stopped = map.get("termination").is_some_and(|t| t["exited"] == 125 || t["signaled"] == "SIGKILL");
                if stopped && map.contains_key("killed_by_harness") {
                    map.insert("termination".into(), Value::String("[stopped at its failure]".into()));
                    map.insert("killed_by_harness".into(), Value::String("[race]".into()));
                }
                for (k, x) in map.iter_mut() {
                    // A spawn step's value is the child's pid.
                    if k == "Ok" && x.as_u64().is_some_and(|n| self.pids.contains(&n.to_string())) {
                        *x = Value::String("[pid]".into());
                        continue;
                    }
                    let volatile = VOLATILE.iter().any(|w| k.ends_with(w) || k == "read_at" || k == "own_key");
                    if volatile && x.is_number() {
                        *x = Value::String(format!("[{k}]"));
                    } else {
                        self.walk(x);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|x| self.walk(x)),
            _ => {}
        }
    }
}

/// Snapshot tests of a real run: every format, volatile fields redacted.
#[test]
fn a_real_run_matches_its_golden_files_once_redacted() {
    let run = real_run();
    let report: Value = serde_json::from_str(&run.json).expect("the JSON report parses");
    let r = Redactor::new(&report);
    assert!(!r.pids.is_empty(), "the traces name the roles' pids");
    golden("real/run.human.txt", &r.text(&run.human));
    golden("real/run.json", &r.json(&run.json));
    golden("real/run.junit.xml", &r.text(&run.junit));
    golden("real/run.ktap", &r.text(&run.ktap));
    golden("real/run.kirk.json", &r.json(&run.kirk));
    golden("real/run.md", &r.text(&run.markdown));
}

// ------------------------------------------------------------------ JUnit

/// `xmllint --schema reports/schema/junit.xsd`, or None when xmllint is
/// not installed (`.ci/run` installs it: Debian's libxml2-utils).
fn xmllint(xml: &str) -> Option<Result<(), String>> {
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/schema/junit.xsd");
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("junit-{}-{:?}.xml", std::process::id(), std::thread::current().id()));
    std::fs::write(&file, xml).expect("writing the XML");
    let out = Command::new("xmllint").arg("--noout").arg("--schema").arg(&xsd).arg(&file).output();
    let _ = std::fs::remove_file(&file);
    let out = out.ok()?;
    Some(if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) })
}

/// The counts in `<testsuites>` and each `<testsuite>` agree with the
/// cases inside (which a schema cannot say).
fn check_junit_counts(xml: &str) {
    let attr = |tag: &str, name: &str| -> usize {
        Regex::new(&format!(r#"\b{name}="(\d+)""#)).expect("a regex").captures(tag).map_or(0, |c| c[1].parse().expect("a count"))
    };
    let top = xml.lines().find(|l| l.trim_start().starts_with("<testsuites")).expect("a <testsuites> element");
    let cases = xml.matches("<testcase ").count();
    assert_eq!(attr(top, "tests"), cases, "tests= counts every case");
    assert_eq!(attr(top, "failures"), xml.matches("<failure ").count(), "failures= counts the failures");
    assert_eq!(attr(top, "errors"), xml.matches("<error ").count(), "errors= counts the errors");
    assert_eq!(attr(top, "skipped"), xml.matches("<skipped ").count(), "skipped= counts the skips");
    let suites: usize = xml.lines().filter(|l| l.trim_start().starts_with("<testsuite ")).map(|l| attr(l, "tests")).sum();
    assert_eq!(suites, cases, "the suites' tests= add up to every case");
}

#[test]
fn junit_output_matches_its_xsd_and_counts() {
    let fixed = formats::junit(&fixture());
    let real = &real_run().junit;
    check_junit_counts(&fixed);
    check_junit_counts(real);
    // The check can fail: a case without its name is refused.
    let broken = fixed.replacen("<testcase name=", "<testcase label=", 1);
    match (xmllint(&fixed), xmllint(real), xmllint(&broken)) {
        (Some(a), Some(b), Some(c)) => {
            a.unwrap_or_else(|e| panic!("the fixed run's JUnit is not valid:\n{e}"));
            b.unwrap_or_else(|e| panic!("the real run's JUnit is not valid:\n{e}"));
            assert!(c.is_err(), "xmllint accepted a testcase without a name");
        }
        _ => eprintln!(
            "SKIP junit_output_matches_its_xsd: xmllint is not installed (Debian: apt-get install libxml2-utils); only the counts were checked"
        ),
    }
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
