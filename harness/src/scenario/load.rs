//! Reading scenario text: YAML parsing with locations, and the expansion of
//! a parameter table into one document per case.

use indexmap::IndexMap;
use serde::Deserialize;

use super::diag::{Diagnostic, FileDiagnostics};
use super::model::{ParamValue, ScenarioDoc};
use super::span::{Loc, Sp};

/// Scenario text and where it came from.
#[derive(Debug, Clone)]
pub struct Source {
    /// Path as shown to users, relative to the scenario root when known
    /// (`seed/shared_anon_fork.yaml`).
    pub path: String,
    pub text: String,
}

impl Source {
    /// The scenario's id: its path without extension, `/` becoming `::`
    /// (`seed::shared_anon_fork`).
    pub fn id(&self) -> String {
        let p = self.path.strip_suffix(".yaml").or_else(|| self.path.strip_suffix(".yml")).unwrap_or(&self.path);
        p.trim_start_matches("./").trim_start_matches('/').replace('/', "::")
    }
}

/// One parsed case of a scenario file.
#[derive(Debug)]
pub struct ParsedCase {
    /// `seed::shared_anon_fork` or `sysv_shm::sizes::small` for a case.
    pub name: String,
    pub case: Option<String>,
    /// The text the document was parsed from (after substitution).
    pub text: String,
    pub doc: ScenarioDoc,
}

#[derive(Deserialize)]
struct CasesOnly {
    #[serde(default)]
    cases: Vec<Sp<IndexMap<String, ParamValue>>>,
}

/// Parse a scenario file into its cases (one when there is no table).
pub fn parse(source: &Source) -> Result<Vec<ParsedCase>, FileDiagnostics> {
    let fail = |text: &str, diagnostics| FileDiagnostics { path: source.path.clone(), source: text.to_owned(), diagnostics };
    let table = serde_saphyr::from_str::<CasesOnly>(&source.text).map_err(|e| fail(&source.text, vec![yaml_error(&e)]))?;
    if table.cases.is_empty() {
        let doc = parse_doc(&source.text).map_err(|d| fail(&source.text, vec![d]))?;
        return Ok(vec![ParsedCase { name: source.id(), case: None, text: source.text.clone(), doc }]);
    }
    let mut diags = Vec::new();
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for row in &table.cases {
        let Some(ParamValue::Text(case)) = row.get("name") else {
            diags.push(
                Diagnostic::new(row.loc(), "a case has no `name`")
                    .label("this case")
                    .hint("give every row of `cases` a `name: some_identifier`; it becomes part of the test name"),
            );
            continue;
        };
        if seen.contains(case) {
            diags.push(
                Diagnostic::new(row.loc(), format!("the case name `{case}` is used twice"))
                    .label("second use")
                    .hint("case names must be unique within a file"),
            );
            continue;
        }
        seen.push(case.clone());
        let text = match substitute(&source.text, row.value()) {
            Ok(t) => t,
            Err(d) => {
                diags.extend(d);
                continue;
            }
        };
        match parse_doc(&text) {
            Ok(doc) => out.push(ParsedCase { name: format!("{}::{case}", source.id()), case: Some(case.clone()), text, doc }),
            Err(d) => {
                diags.push(d);
            }
        }
    }
    if diags.is_empty() { Ok(out) } else { Err(fail(&source.text, diags)) }
}

fn parse_doc(text: &str) -> Result<ScenarioDoc, Diagnostic> {
    serde_saphyr::from_str::<ScenarioDoc>(text).map_err(|e| yaml_error(&e))
}

/// Replace `$column` by the case's value for every column of the row.
/// A `$identifier` that names no column is reported, so typos do not pass
/// silently into the document.
fn substitute(text: &str, row: &IndexMap<String, ParamValue>) -> Result<String, Vec<Diagnostic>> {
    let mut out = String::with_capacity(text.len());
    let mut diags = Vec::new();
    let mut in_cases = false;
    for (lineno, line) in text.split_inclusive('\n').enumerate() {
        // The table itself is left alone: it is where the values come from.
        if !line.starts_with([' ', '-', '#', '\n']) {
            in_cases = line.starts_with("cases:");
        }
        if in_cases {
            out.push_str(line);
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                // `$$` is a literal `$`.
                out.push('$');
                rest = tail;
                continue;
            }
            let ident_len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            let ident = &after[..ident_len];
            if ident.is_empty() || ident.starts_with(|c: char| c.is_ascii_digit()) {
                out.push('$');
                rest = after;
                continue;
            } else if let Some(v) = row.get(ident) {
                match v {
                    ParamValue::Int(n) => out.push_str(&n.to_string()),
                    ParamValue::Bool(b) => out.push_str(&b.to_string()),
                    ParamValue::Text(s) => out.push_str(s),
                }
            } else {
                let col = line[..line.len() - rest.len() + i].chars().count() + 1;
                diags.push(
                    Diagnostic::new(Loc { line: lineno as u32 + 1, column: col as u32 }, format!("unknown parameter `${ident}`"))
                        .label("not a column of `cases`")
                        .hint(format!("the columns are: {}", row.keys().map(|k| format!("${k}")).collect::<Vec<_>>().join(", "))),
                );
                out.push('$');
                out.push_str(ident);
            }
            rest = &after[ident_len..];
        }
        out.push_str(rest);
    }
    if diags.is_empty() { Ok(out) } else { Err(diags) }
}

/// Turn a YAML or shape error into a diagnostic with a fix.
fn yaml_error(e: &serde_saphyr::Error) -> Diagnostic {
    let loc = e.location().map(Loc::from).unwrap_or_default();
    let rendered = e.without_snippet().to_string();
    let first = rendered.lines().next().unwrap_or("invalid scenario").trim_start_matches("error: ").to_owned();
    let message = match first.split_once(": ") {
        Some((pre, msg)) if pre.starts_with("line ") => msg.to_owned(),
        _ => first,
    };
    let hint = if message.starts_with("unknown field") {
        "check the spelling; the fields allowed here are listed above (scenarios/scenario.schema.json lets an editor complete them)"
    } else if message.starts_with("unknown variant") {
        "use one of the names listed above"
    } else if message.starts_with("missing field") {
        "add the field; every scenario needs `description` and `roles`, every role needs `steps`"
    } else if message.contains("invalid type") {
        "this value has the wrong type for this field"
    } else {
        "this is not valid YAML for a scenario"
    };
    Diagnostic::new(loc, message).label("here").hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_replaces_known_columns_and_reports_unknown_ones() {
        let mut row = IndexMap::new();
        row.insert("size".to_owned(), ParamValue::Int(4096));
        assert_eq!(substitute("a: { size: $size }\n", &row).ok().as_deref(), Some("a: { size: 4096 }\n"));
        let err = substitute("a: $sise\n", &row).err().unwrap_or_default();
        assert_eq!(err.len(), 1);
        assert_eq!(err[0].loc, Loc { line: 1, column: 4 });
        assert_eq!(substitute("p: \"$5 and $\"\n", &row).ok().as_deref(), Some("p: \"$5 and $\"\n"));
        assert_eq!(substitute("p: $$HOME $$size\n", &row).ok().as_deref(), Some("p: $HOME $size\n"));
    }
}
