//! The native JSON report.

use serde::Serialize;

use super::{Run, Totals};

/// Bumped whenever a field changes meaning or disappears.
pub const SCHEMA: &str = "ipc-harness/report/v1";

#[derive(Serialize)]
struct Document<'a> {
    schema: &'static str,
    tool: &'static str,
    version: &'static str,
    totals: Totals,
    #[serde(flatten)]
    run: &'a Run,
}

/// The report's shape, for its JSON Schema (`reports/schema/report.schema.json`).
#[derive(Debug, schemars::JsonSchema)]
#[allow(dead_code)]
pub struct ReportSchema {
    /// `ipc-harness/report/v1`.
    schema: String,
    tool: String,
    version: String,
    totals: Totals,
    #[serde(flatten)]
    run: Run,
}

/// The JSON Schema of the report, as published in `reports/schema/`.
pub fn schema() -> String {
    serde_json::to_string_pretty(&schemars::schema_for!(ReportSchema)).unwrap_or_default() + "\n"
}

pub fn render(run: &Run) -> String {
    let doc = Document { schema: SCHEMA, tool: "ipc-harness", version: env!("CARGO_PKG_VERSION"), totals: run.totals(), run };
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"cannot render the report: {e}\"}}"))
}
