//! The published JSON Schema of the scenario format must be the one the
//! model generates (set `IPC_HARNESS_BLESS=1` to rewrite it).

use std::path::Path;

#[test]
fn published_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/scenario.schema.json");
    let schema = schemars::schema_for!(ipc_harness::scenario::model::ScenarioDoc);
    let generated = serde_json::to_string_pretty(&schema).expect("a schema serialises") + "\n";
    if std::env::var_os("IPC_HARNESS_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("the schema file is writable");
    }
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(published == generated, "{} is stale: run `IPC_HARNESS_BLESS=1 cargo test --test schema` and commit it", path.display());
}

/// The JSON report's schema is published in `reports/schema/`, current, and
/// a real report (of a passing, a failing and a skipped scenario, with
/// their traces) validates against it.
#[test]
fn report_schema_is_current_and_reports_validate() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/schema/report.schema.json");
    let generated = ipc_harness::report::json::schema();
    if std::env::var_os("IPC_HARNESS_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("the schema folder is writable");
        std::fs::write(&path, &generated).expect("the schema file is writable");
    }
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(published == generated, "{} is stale: run `IPC_HARNESS_BLESS=1 cargo test --test schema` and commit it", path.display());
    let schema: serde_json::Value = serde_json::from_str(&published).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let out = tempdir();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_ipc-harness"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--format", "json", "--out"])
        .arg(&out)
        .args(["tests/fixtures/pass_shared_anon.yaml", "tests/fixtures/fail_reads_goodbye.yaml", "tests/fixtures/skip_future_kernel.yaml"])
        .output()
        .expect("the harness runs");
    let report: serde_json::Value = serde_json::from_slice(&status.stdout).expect("the report is JSON");
    let _ = std::fs::remove_dir_all(&out);
    let errors: Vec<String> = validator.iter_errors(&report).map(|e| format!("{} at {}", e, e.instance_path())).take(5).collect();
    assert!(errors.is_empty(), "the report does not follow its schema: {errors:#?}");
    let statuses: Vec<&str> = report["verdicts"].as_array().expect("verdicts").iter().filter_map(|v| v["status"].as_str()).collect();
    assert_eq!(statuses.len(), 3, "three verdicts: {statuses:?}");
}

fn tempdir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ipc-harness-schema-test-{}", std::process::id()))
}

/// The schema of `limits --json` is published in `reports/schema/`,
/// current, and a real snapshot with profile checks and probes validates.
#[test]
fn limits_schema_is_current_and_a_real_snapshot_validates() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/schema/limits.schema.json");
    let generated = serde_json::to_string_pretty(&schemars::schema_for!(ipc_harness::limits::Report)).expect("a schema serialises") + "\n";
    if std::env::var_os("IPC_HARNESS_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("the schema file is writable");
    }
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(published == generated, "{} is stale: run `IPC_HARNESS_BLESS=1 cargo test --test schema` and commit it", path.display());
    let schema: serde_json::Value = serde_json::from_str(&published).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ipc-harness"))
        .args(["limits", "--json", "--probe", "--require", "postgresql"])
        .output()
        .expect("the harness runs");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the snapshot is JSON");
    let errors: Vec<String> = validator.iter_errors(&report).map(|e| format!("{} at {}", e, e.instance_path())).take(5).collect();
    assert!(errors.is_empty(), "the snapshot does not follow its schema: {errors:#?}");
    assert!(report["probes"].as_array().is_some_and(|p| !p.is_empty()), "the probes ran");
}
