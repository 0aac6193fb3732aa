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
