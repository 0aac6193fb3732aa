//! The `ipc-harness` binary as a user runs it: documented exit codes, what
//! the human output says about a failure, skips (never counted as passes),
//! `--repeat`, `list --json`, `validate`, the JSON report on stdout and in
//! `--out DIR`.
//!
//! Every command runs from the crate folder with fixture paths relative to
//! it (`tests/fixtures/…`), so scenario names are stable
//! (`tests::fixtures::pass_shared_anon`). Every `run` gets `--out` in a
//! temporary folder so that nothing is written to `harness/reports/`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use rstest::rstest;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ipc-harness");
const CRATE: &str = env!("CARGO_MANIFEST_DIR");

const PASS: &str = "tests/fixtures/pass_shared_anon.yaml";
const FAIL: &str = "tests/fixtures/fail_reads_goodbye.yaml";
const INVALID: &str = "tests/fixtures/invalid_unknown_errno.yaml";
const SKIP: &str = "tests/fixtures/skip_future_kernel.yaml";
const CRASH_DERIVED: &str = "tests/fixtures/crash_abort_derived.yaml";
const CRASH_CLAIMED_CLEAN: &str = "tests/fixtures/crash_abort_claimed_clean.yaml";
const CRASH_MUST_FAIL: &str = "tests/fixtures/crash_abort_must_fail_exit.yaml";
const CRASH_SEGV: &str = "tests/fixtures/crash_unexpected_segv.yaml";
const INVALID_NBSP: &str = "tests/fixtures/invalid_nbsp_timeout.yaml";

/// A folder under the system's temporary folder, unique to this process and
/// this use, removed when dropped.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("ipc-harness-cli-{}-{label}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        TempDir(path)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn arg(&self) -> &str {
        self.0.to_str().expect("the temporary folder's path is UTF-8")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Debug)]
struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Output {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", self.stdout))
    }
}

/// Run the binary from the crate folder.
fn harness(args: &[&str]) -> Output {
    let out = Command::new(BIN).args(args).current_dir(CRATE).output().expect("the harness binary starts");
    Output {
        code: out.status.code().unwrap_or_else(|| panic!("the harness was killed: {:?}", out.status)),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `run ARGS --out TMP`: the report goes to a folder removed afterwards.
fn run(args: &[&str]) -> Output {
    let out = TempDir::new("run");
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", out.arg()]);
    harness(&all)
}

fn show(o: &Output) -> String {
    format!("exit code {}\n--- stdout\n{}\n--- stderr\n{}", o.code, o.stdout, o.stderr)
}

/// The 1-based line and column of `token` on the first line of a fixture
/// that starts (after indentation) with `line_start`.
fn position_in(fixture: &str, line_start: &str, token: &str) -> (usize, usize) {
    let text = std::fs::read_to_string(Path::new(CRATE).join(fixture)).expect("the fixture is readable");
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with(line_start))
        .find_map(|(i, l)| l.find(token).map(|b| (i + 1, l[..b].chars().count() + 1)))
        .unwrap_or_else(|| panic!("no line starting with `{line_start}` holds `{token}` in {fixture}"))
}

fn verdicts(report: &Value) -> &Vec<Value> {
    report["verdicts"].as_array().expect("`verdicts` is an array")
}

fn totals(report: &Value) -> (u64, u64, u64, u64) {
    let t = &report["totals"];
    let n = |k: &str| t[k].as_u64().unwrap_or_else(|| panic!("totals.{k} is a number: {t}"));
    (n("pass"), n("fail"), n("skip"), n("broken"))
}

// ---------------------------------------------------------------- exit codes

/// The documented exit codes, with what each outcome prints and where.
#[rstest]
#[case::passing_scenario(&[PASS], 0, "PASS   tests::fixtures::pass_shared_anon", "")]
#[case::failing_expectation(&[FAIL], 1, "FAIL   tests::fixtures::fail_reads_goodbye", "")]
#[case::invalid_file(&[INVALID], 3, "", "unknown errno `ENOENTRY`")]
#[case::skipped_is_not_a_failure(&[SKIP], 0, "SKIP   tests::fixtures::skip_future_kernel", "")]
#[case::nothing_selected_from_the_library(&["--name", "nothing-matches"], 4, "", "no scenario matches the selection")]
#[case::nothing_selected_from_a_file(&[PASS, "--name", "nothing-matches"], 4, "", "no scenario matches the selection")]
#[case::tag_selects_nothing(&[PASS, "--tag", "no_such_tag"], 4, "", "no scenario matches the selection")]
#[case::missing_path(&["tests/fixtures/no_such_file.yaml"], 3, "", "no such file or folder")]
#[case::crash_with_derived_fate(&[CRASH_DERIVED], 0, "PASS   tests::fixtures::crash_abort_derived", "")]
#[case::crash_contradicting_exit(&[CRASH_CLAIMED_CLEAN], 3, "", "killed by SIGABRT, but `exit` expects exit status 0")]
#[case::crash_where_must_fail_says(&[CRASH_MUST_FAIL], 0, "failed as required at role `child` exit", "")]
#[case::unexpected_crash(&[CRASH_SEGV], 1, "killed by SIGSEGV", "")]
#[case::one_invalid_file_stops_everything(&[PASS, INVALID], 3, "", "invalid_unknown_errno.yaml: 1 problem found")]
#[case::failure_wins_over_pass_and_skip(&[PASS, SKIP, FAIL], 1, "FAIL   tests::fixtures::fail_reads_goodbye", "")]
fn run_exit_codes(#[case] args: &[&str], #[case] code: i32, #[case] stdout_has: &str, #[case] stderr_has: &str) {
    let o = run(args);
    assert_eq!(o.code, code, "{}", show(&o));
    assert!(o.stdout.contains(stdout_has), "stdout lacks {stdout_has:?}\n{}", show(&o));
    assert!(o.stderr.contains(stderr_has), "stderr lacks {stderr_has:?}\n{}", show(&o));
    if code == 3 || code == 4 {
        // Nothing ran: no verdict line, no summary.
        for label in ["PASS ", "FAIL ", "SKIP ", "BROKEN "] {
            assert!(!o.stdout.contains(label), "a scenario ran although the command exits {code}\n{}", show(&o));
        }
    }
}

/// `--exit-codes kselftest`: 0 when something passed and nothing failed,
/// 1 for any failure, broken run or invalid input, 4 when everything was
/// skipped; KTAP on standard output either way.
#[rstest]
#[case::pass(&[PASS], 0)]
#[case::pass_and_skip(&[PASS, SKIP], 0)]
#[case::only_skips(&[SKIP], 4)]
#[case::fail(&[PASS, SKIP, FAIL], 1)]
#[case::invalid_input(&[INVALID], 1)]
#[case::nothing_selected(&[PASS, "--name", "nothing-matches"], 4)]
fn kselftest_exit_codes(#[case] paths: &[&str], #[case] code: i32) {
    let mut args = vec!["--format", "ktap", "--exit-codes", "kselftest"];
    args.extend_from_slice(paths);
    let o = run(&args);
    assert_eq!(o.code, code, "{}", show(&o));
    let ran = !paths.contains(&INVALID) && !paths.contains(&"--name");
    assert_eq!(o.stdout.starts_with("KTAP version 1\n"), ran, "{}", show(&o));
}

#[rstest]
#[case::library_seed(&["../scenarios/seed"], 0, "0 invalid file(s)")]
#[case::passing_fixture(&[PASS], 0, "1 file(s): 1 valid case(s), 0 invalid file(s)")]
#[case::invalid_fixture(&[INVALID], 3, "1 file(s): 0 valid case(s), 1 invalid file(s)")]
#[case::mixed(&[PASS, INVALID], 3, "2 file(s): 1 valid case(s), 1 invalid file(s)")]
#[case::missing_path(&["tests/fixtures/no_such_file.yaml"], 3, "")]
fn validate_exit_codes(#[case] paths: &[&str], #[case] code: i32, #[case] stdout_has: &str) {
    let mut args = vec!["validate"];
    args.extend_from_slice(paths);
    let o = harness(&args);
    assert_eq!(o.code, code, "{}", show(&o));
    assert!(o.stdout.contains(stdout_has), "{}", show(&o));
}

#[test]
fn validate_counts_every_seed_file() {
    let files = std::fs::read_dir(Path::new(CRATE).join("../scenarios/seed"))
        .expect("scenarios/seed is readable")
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "yaml")))
        .count();
    assert!(files > 0);
    let o = harness(&["validate", "../scenarios/seed"]);
    assert_eq!(o.code, 0, "{}", show(&o));
    assert!(o.stdout.starts_with(&format!("{files} file(s): ")), "{}", show(&o));
    assert!(o.stderr.is_empty(), "{}", show(&o));
}

// ---------------------------------------------------------------- failures

#[test]
fn a_failure_names_role_step_location_expected_and_observed() {
    let o = run(&[FAIL]);
    assert_eq!(o.code, 1, "{}", show(&o));
    let (line, column) = position_in(FAIL, "- read: { from: page, len: 7", "read");
    let at = format!("at role `child` step 1 (read), {FAIL}:{line}:{column}");
    assert!(o.stdout.contains(&at), "no `{at}`\n{}", show(&o));
    assert!(o.stdout.contains("expected: \"goodbye\""), "{}", show(&o));
    assert!(o.stdout.contains("observed: \"hello\\x00\\x00\""), "{}", show(&o));
    // The summary counts it.
    assert!(o.stdout.lines().any(|l| l.split_whitespace().eq(["fail", "1"])), "{}", show(&o));
}

#[test]
fn an_invalid_file_is_diagnosed_on_stderr_with_its_location() {
    let o = run(&[INVALID]);
    assert_eq!(o.code, 3, "{}", show(&o));
    let (line, column) = position_in(INVALID, "- ftok:", "ENOENTRY");
    assert!(o.stderr.contains(&format!("{INVALID}:{line}:{column}")), "{}", show(&o));
    assert!(o.stderr.contains("did you mean `ENOENT`?"), "{}", show(&o));
    assert!(o.stdout.is_empty(), "{}", show(&o));
}

/// The timeout is a no-break space: the diagnostic's span is one byte of a
/// two-byte character and rendering it panics (exit code 101).
#[rstest]
#[case::validate("validate")]
#[case::run("run")]
fn a_no_break_space_value_is_diagnosed_not_a_crash(#[case] command: &str) {
    let o = if command == "run" { run(&[INVALID_NBSP]) } else { harness(&[command, INVALID_NBSP]) };
    assert_eq!(o.code, 3, "{}", show(&o));
    assert!(o.stderr.contains("is not a duration"), "{}", show(&o));
    assert!(!o.stderr.contains("panicked"), "{}", show(&o));
}

#[test]
fn a_crash_against_the_claimed_exit_names_the_signal() {
    // The step ends the role with SIGABRT; claiming exit status 0 is
    // reported before anything runs.
    let o = run(&[CRASH_CLAIMED_CLEAN]);
    assert_eq!(o.code, 3, "{}", show(&o));
    let (line, column) = position_in(CRASH_CLAIMED_CLEAN, "exit:", "{");
    assert!(o.stderr.contains(&format!("{CRASH_CLAIMED_CLEAN}:{line}:{column}")), "{}", show(&o));
    assert!(o.stderr.contains("SIGABRT"), "{}", show(&o));
}

#[test]
fn a_crash_is_recorded_by_its_signal() {
    // `crash: SIGABRT` with no `exit:`: the fate is derived from the step
    // (README, "the child's fate is derived from its last step"), so this
    // passes, and the trace names the signal.
    let o = run(&[CRASH_DERIVED, "--format", "json"]);
    assert_eq!(o.code, 0, "{}", show(&o));
    let report = o.json();
    let v = &verdicts(&report)[0];
    assert_eq!(v["status"], "pass", "{v}");
    let ends: Vec<&Value> = v["trace"]["instances"].as_array().expect("instances").iter().map(|i| &i["termination"]).collect();
    assert!(ends.iter().any(|t| t["signaled"] == "SIGABRT"), "no instance killed by SIGABRT: {ends:?}");
}

#[test]
fn a_crash_fails_the_exit_check_naming_sigabrt() {
    // The negative twin: the exit check fails with the observed signal, at
    // the place `must_fail` names, which makes the verdict a pass.
    let o = run(&[CRASH_MUST_FAIL, "--format", "json"]);
    assert_eq!(o.code, 0, "{}", show(&o));
    let report = o.json();
    let v = &verdicts(&report)[0];
    assert_eq!(v["status"], "pass", "{v}");
    let failures = v["failures"].as_array().expect("failures");
    assert_eq!(failures.len(), 1, "{v}");
    assert_eq!(failures[0]["at"], serde_json::json!({"exit": {"role": "child"}}));
    assert_eq!(failures[0]["mismatch"]["expected"], "exit status 0");
    assert_eq!(failures[0]["mismatch"]["observed"], "killed by SIGABRT");
}

#[test]
fn an_unexpected_crash_fails_naming_the_signal() {
    let o = run(&[CRASH_SEGV]);
    assert_eq!(o.code, 1, "{}", show(&o));
    assert!(o.stdout.contains("FAIL   tests::fixtures::crash_unexpected_segv"), "{}", show(&o));
    assert!(o.stdout.contains("observed: killed by SIGSEGV"), "{}", show(&o));
    // The timeline shows the step that did not return.
    assert!(o.stdout.contains("viewer#0 pid"), "{}", show(&o));
    assert!(o.stdout.contains("(did not return)"), "{}", show(&o));
}

/// `check::judge` says of a step whose call killed its role: "that is this
/// step's failure". The supervisor, though, stops the run early on any
/// unexpected death, and the judge then treats every instance as killed by
/// the harness, so the failure is only reported at the role's exit (the line
/// of the role's name), never at the step that crashed.
#[test]
fn an_unexpected_crash_is_reported_at_the_step_that_crashed() {
    let o = run(&[CRASH_SEGV, "--format", "json"]);
    assert_eq!(o.code, 1, "{}", show(&o));
    let report = o.json();
    let v = &verdicts(&report)[0];
    let failures = v["failures"].as_array().expect("failures");
    let (line, _) = position_in(CRASH_SEGV, "- write:", "write");
    assert!(
        failures.iter().any(|f| f["at"] == serde_json::json!({"step": {"role": "viewer", "step": 2}}) && f["loc"]["line"] == line),
        "no failure at role `viewer` step 3 (line {line}): {failures:#?}"
    );
}

// ---------------------------------------------------------------- skips

#[test]
fn a_skip_is_reported_with_its_reason_and_exits_0() {
    let o = run(&[SKIP]);
    assert_eq!(o.code, 0, "{}", show(&o));
    let line = o.stdout.lines().find(|l| l.starts_with("SKIP")).unwrap_or_else(|| panic!("no SKIP line\n{}", show(&o)));
    assert!(line.contains("tests::fixtures::skip_future_kernel"), "{line}");
    assert!(line.contains("needs kernel 99.0 or newer"), "{line}");
    assert!(o.stdout.lines().any(|l| l.split_whitespace().eq(["skip", "1"])), "{}", show(&o));
    assert!(o.stdout.lines().any(|l| l.split_whitespace().eq(["pass", "0"])), "{}", show(&o));
}

#[test]
fn a_skip_in_the_json_report_is_never_a_pass() {
    let o = run(&[SKIP, "--format", "json"]);
    assert_eq!(o.code, 0, "{}", show(&o));
    let report = o.json();
    let v = verdicts(&report);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["status"], "skip");
    let reason = v[0]["reason"].as_str().expect("a skip has a reason");
    assert!(reason.contains("needs kernel 99.0 or newer"), "{reason}");
    assert!(reason.contains(report["environment"]["kernel_release"].as_str().expect("kernel_release")), "{reason}");
    assert_eq!(totals(&report), (0, 0, 1, 0));
}

#[test]
fn totals_count_each_status_once() {
    let o = run(&[PASS, SKIP, FAIL, "--format", "json"]);
    assert_eq!(o.code, 1, "{}", show(&o));
    let report = o.json();
    let by_name: BTreeSet<(String, String)> = verdicts(&report)
        .iter()
        .map(|v| (v["name"].as_str().unwrap_or_default().to_owned(), v["status"].as_str().unwrap_or_default().to_owned()))
        .collect();
    let want: BTreeSet<(String, String)> = [
        ("tests::fixtures::fail_reads_goodbye", "fail"),
        ("tests::fixtures::pass_shared_anon", "pass"),
        ("tests::fixtures::skip_future_kernel", "skip"),
    ]
    .iter()
    .map(|(n, s)| ((*n).to_owned(), (*s).to_owned()))
    .collect();
    assert_eq!(by_name, want);
    assert_eq!(totals(&report), (1, 1, 1, 0));
}

// ---------------------------------------------------------------- --repeat

#[test]
fn repeat_names_each_repetition() {
    let o = run(&[PASS, "--repeat", "3", "--format", "json"]);
    assert_eq!(o.code, 0, "{}", show(&o));
    let report = o.json();
    let names: BTreeSet<&str> = verdicts(&report).iter().map(|v| v["name"].as_str().expect("a name")).collect();
    let want: BTreeSet<String> = (1..=3).map(|k| format!("tests::fixtures::pass_shared_anon#{k}")).collect();
    assert_eq!(names, want.iter().map(String::as_str).collect());
    assert_eq!(totals(&report), (3, 0, 0, 0));
}

#[test]
fn repeat_in_human_output() {
    let o = run(&[PASS, "--repeat", "3", "-j", "1"]);
    assert_eq!(o.code, 0, "{}", show(&o));
    let lines: BTreeSet<String> =
        o.stdout.lines().filter(|l| l.starts_with("PASS ")).filter_map(|l| l.split_whitespace().nth(1).map(str::to_owned)).collect();
    let want: BTreeSet<String> = (1..=3).map(|k| format!("tests::fixtures::pass_shared_anon#{k}")).collect();
    assert_eq!(lines, want, "{}", show(&o));
}

#[rstest]
#[case::zero("0")]
#[case::not_a_number("three")]
fn repeat_out_of_range_is_refused(#[case] n: &str) {
    let o = run(&[PASS, "--repeat", n]);
    assert_eq!(o.code, 3, "a bad command line is invalid input: {}", show(&o));
    assert!(o.stderr.contains("--repeat"), "{}", show(&o));
    assert!(o.stdout.is_empty(), "{}", show(&o));
}

// ---------------------------------------------------------------- list

fn list_json(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["list", "--json"];
    all.extend_from_slice(args);
    let o = harness(&all);
    assert_eq!(o.code, 0, "{}", show(&o));
    o.json().as_array().expect("list --json prints an array").clone()
}

#[test]
fn list_json_has_the_builtin_library() {
    let rows = list_json(&[]);
    let row = rows
        .iter()
        .find(|r| r["name"] == "seed::shared_anon_fork")
        .unwrap_or_else(|| panic!("seed::shared_anon_fork is not listed: {rows:#?}"));
    assert_eq!(row["path"], "seed/shared_anon_fork.yaml");
    assert_eq!(row["must_fail"], false);
    assert!(row["tags"].as_array().expect("tags").iter().any(|t| t == "seed"), "{row}");
    assert!(!row["description"].as_str().unwrap_or_default().is_empty(), "{row}");
    // The negative twins and the invalid corpus are not in the default library.
    for r in &rows {
        let name = r["name"].as_str().expect("a name");
        assert!(!name.starts_with("must_fail::") && !name.starts_with("invalid::"), "{name} is listed");
        assert_eq!(r["must_fail"], false, "{r}");
    }
}

#[test]
fn list_json_negative_adds_the_twins() {
    let rows = list_json(&["--negative"]);
    let twin = rows
        .iter()
        .find(|r| r["name"] == "must_fail::seed::shared_anon_fork_invisible")
        .unwrap_or_else(|| panic!("the twin is not listed: {rows:#?}"));
    assert_eq!(twin["must_fail"], true);
    assert!(rows.iter().any(|r| r["name"] == "seed::shared_anon_fork"));
    assert!(!rows.iter().any(|r| r["name"].as_str().unwrap_or_default().starts_with("invalid::")));
}

#[test]
fn list_json_filters_like_run() {
    let rows = list_json(&["--tag", "seed", "--name", "shared_anon"]);
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().expect("a name")).collect();
    assert!(names.contains(&"seed::shared_anon_fork"), "{names:?}");
    assert!(names.iter().all(|n| n.contains("shared_anon")), "{names:?}");
}

#[test]
fn list_of_fixtures_names_them_by_path() {
    let rows = list_json(&[PASS, SKIP]);
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().expect("a name")).collect();
    assert_eq!(names, ["tests::fixtures::pass_shared_anon", "tests::fixtures::skip_future_kernel"]);
}

// ---------------------------------------------------------------- JSON report

#[test]
fn json_format_prints_the_report_on_stdout() {
    let o = run(&[PASS, FAIL, "--format", "json"]);
    assert_eq!(o.code, 1, "{}", show(&o));
    let report = o.json();
    assert_eq!(report["schema"], "ipc-harness/report/v1");
    assert_eq!(report["tool"], "ipc-harness");
    let release = report["environment"]["kernel_release"].as_str().expect("environment.kernel_release is a string");
    if let Ok(osrelease) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        assert_eq!(release, osrelease.trim());
    }
    let statuses: Vec<&str> = verdicts(&report).iter().map(|v| v["status"].as_str().expect("verdicts[].status")).collect();
    assert_eq!(statuses.len(), 2);
    assert!(statuses.iter().all(|s| ["pass", "fail", "skip", "broken"].contains(s)), "{statuses:?}");
    assert!(statuses.contains(&"pass") && statuses.contains(&"fail"), "{statuses:?}");
    // No progress lines and no `report:` line on stdout: it is one document.
    assert!(o.stderr.contains("report: "), "{}", show(&o));
    let failed = verdicts(&report).iter().find(|v| v["status"] == "fail").expect("a failed verdict");
    let f = &failed["failures"][0];
    assert_eq!(f["mismatch"]["expected"], "\"goodbye\"");
    assert_eq!(f["at"], serde_json::json!({"step": {"role": "child", "step": 0}}));
}

#[test]
fn out_writes_the_json_report_there() {
    let tmp = TempDir::new("out");
    // A folder that does not exist yet is created.
    let dir = tmp.path().join("nested").join("reports");
    let dir_arg = dir.to_str().expect("a UTF-8 path");
    let o = harness(&["run", PASS, "--format", "json", "--out", dir_arg]);
    assert_eq!(o.code, 0, "{}", show(&o));
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", dir.display(), show(&o)))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    let run_files: Vec<&PathBuf> = files
        .iter()
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("run-") && n.ends_with(".json")))
        .collect();
    assert_eq!(run_files.len(), 1, "{files:?}");
    let written = std::fs::read_to_string(run_files[0]).expect("the report is readable");
    let doc: Value = serde_json::from_str(&written).expect("the written report is JSON");
    assert_eq!(doc, o.json(), "the file and stdout differ");
    assert!(o.stderr.contains(&format!("report: {}", run_files[0].display())), "{}", show(&o));
    let latest = std::fs::read_to_string(dir.join("latest.json")).expect("latest.json is written");
    assert_eq!(latest, written);
}

#[test]
fn human_format_names_the_report_file() {
    let tmp = TempDir::new("human");
    let o = harness(&["run", PASS, "--out", tmp.arg()]);
    assert_eq!(o.code, 0, "{}", show(&o));
    let line = o.stdout.lines().find(|l| l.starts_with("report: ")).unwrap_or_else(|| panic!("no report line\n{}", show(&o)));
    let path = PathBuf::from(line.trim_start_matches("report: "));
    assert!(path.starts_with(tmp.path()), "{}", path.display());
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("readable")).expect("JSON");
    assert_eq!(doc["verdicts"][0]["status"], "pass");
}

#[test]
fn schema_prints_a_json_schema() {
    let o = harness(&["schema"]);
    assert_eq!(o.code, 0, "{}", show(&o));
    let schema = o.json();
    assert!(schema["properties"]["roles"].is_object(), "{schema}");
    assert!(schema["required"].as_array().is_some_and(|r| r.iter().any(|x| x == "description")), "{schema}");
}

/// `compare` exits 1 exactly when something regressed, 0 when nothing did,
/// and 2 when a report cannot be read.
#[rstest]
#[case::regressed(&["compare", "tests/fixtures/reports/run.json", "tests/fixtures/reports/run-new.json"], 1, "New failures (1)")]
#[case::same(&["compare", "tests/fixtures/reports/run.json", "tests/fixtures/reports/run.json"], 0, "no regression")]
#[case::improved(&["compare", "tests/fixtures/reports/run-new.json", "tests/fixtures/reports/run.json"], 1, "Fixed (1)")]
#[case::unreadable(&["compare", "tests/fixtures/reports/missing.json", "tests/fixtures/reports/run.json"], 2, "")]
fn compare_exit_codes(#[case] args: &[&str], #[case] code: i32, #[case] stdout_has: &str) {
    let o = harness(args);
    assert_eq!(o.code, code, "{}", show(&o));
    assert!(o.stdout.contains(stdout_has), "{}", show(&o));
}
