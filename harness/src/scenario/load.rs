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
    /// The path as the user gave it (or the library's relative path), shown
    /// in diagnostics and reports so that it can be opened from here.
    pub path: String,
    /// The path relative to the `scenarios` folder, which names the
    /// scenario (`seed/shared_anon_fork.yaml`).
    pub rel: String,
    pub text: String,
}

impl Source {
    /// The scenario's id: its path without extension, `/` becoming `::`
    /// (`seed::shared_anon_fork`).
    pub fn id(&self) -> String {
        let p = self.rel.strip_suffix(".yaml").or_else(|| self.rel.strip_suffix(".yml")).unwrap_or(&self.rel);
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
    /// How columns of `text` map back to the file the user wrote.
    pub columns: ColumnMap,
    pub doc: ScenarioDoc,
}

/// Where substitution moved columns: for each line, the replaced regions
/// as (start, end) in the substituted text and (start, end) in the
/// original, 1-based character columns.
#[derive(Debug, Clone, Default)]
pub struct ColumnMap(Vec<Vec<Region>>);

/// A replaced region: (start, end) in the substituted line, then in the
/// original line.
type Region = ((u32, u32), (u32, u32));

impl ColumnMap {
    /// The location in the original file of a location in the substituted
    /// text. Inside a substituted value it is the `$` that produced it.
    pub fn to_original(&self, loc: Loc) -> Loc {
        let Some(regions) = self.0.get(loc.line.saturating_sub(1) as usize) else { return loc };
        let mut delta: i64 = 0;
        for &((new_start, new_end), (orig_start, orig_end)) in regions {
            if loc.column < new_start {
                break;
            }
            if loc.column < new_end {
                return Loc { line: loc.line, column: orig_start };
            }
            delta = i64::from(orig_end) - i64::from(new_end);
        }
        Loc { line: loc.line, column: u32::try_from(i64::from(loc.column) + delta).unwrap_or(loc.column) }
    }
}

#[derive(Deserialize)]
struct CasesOnly {
    #[serde(default)]
    cases: Vec<Sp<IndexMap<String, ParamValue>>>,
}

/// Parse a scenario file into its cases (one when there is no table).
pub fn parse(source: &Source) -> Result<Vec<ParsedCase>, FileDiagnostics> {
    let fail = |text: &str, diagnostics| FileDiagnostics { path: source.path.clone(), source: text.to_owned(), diagnostics };
    let table = serde_saphyr::from_str::<CasesOnly>(&source.text).map_err(|e| fail(&source.text, vec![yaml_error(&e, &source.text)]))?;
    if table.cases.is_empty() {
        let doc = parse_doc(&source.text).map_err(|d| fail(&source.text, vec![d]))?;
        return Ok(vec![ParsedCase { name: source.id(), case: None, text: source.text.clone(), columns: ColumnMap::default(), doc }]);
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
        let (text, columns) = match substitute(&source.text, row.value()) {
            Ok(t) => t,
            Err(d) => {
                for x in d {
                    if !diags.contains(&x) {
                        diags.push(x);
                    }
                }
                continue;
            }
        };
        match parse_doc(&text) {
            Ok(doc) => out.push(ParsedCase { name: format!("{}::{case}", source.id()), case: Some(case.clone()), text, columns, doc }),
            Err(mut d) => {
                d.loc = columns.to_original(d.loc);
                d.message = format!("{} (in case `{case}`)", d.message);
                if !diags.iter().any(|x: &Diagnostic| x.loc == d.loc) {
                    diags.push(d);
                }
            }
        }
    }
    if diags.is_empty() { Ok(out) } else { Err(fail(&source.text, diags)) }
}

fn parse_doc(text: &str) -> Result<ScenarioDoc, Diagnostic> {
    serde_saphyr::from_str::<ScenarioDoc>(text).map_err(|e| yaml_error(&e, text))
}

/// Replace `$column` by the case's value for every column of the row.
/// A `$identifier` that names no column is reported, so typos do not pass
/// silently into the document.
fn substitute(text: &str, row: &IndexMap<String, ParamValue>) -> Result<(String, ColumnMap), Vec<Diagnostic>> {
    let mut out = String::with_capacity(text.len());
    let mut diags = Vec::new();
    let mut in_cases = false;
    let mut map = ColumnMap::default();
    let col = |s: &str| s.chars().count() as u32 + 1;
    for (lineno, line) in text.split_inclusive('\n').enumerate() {
        map.0.push(Vec::new());
        let out_start = out.len();
        // The table itself is left alone: it is where the values come from.
        if !line.starts_with([' ', '-', '#', '\n']) {
            in_cases = line.starts_with("cases:");
        }
        if in_cases {
            out.push_str(line);
            continue;
        }
        let mut rest = line;
        let mut quote = Quote::None;
        while let Some(i) = rest.find('$') {
            quote.scan(&rest[..i]);
            out.push_str(&rest[..i]);
            let orig_start = col(&line[..line.len() - rest.len() + i]);
            let new_start = col(&out[out_start..]);
            let after = &rest[i + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                // `$$` is a literal `$`.
                out.push('$');
                rest = tail;
                map.0[lineno].push(((new_start, new_start + 1), (orig_start, orig_start + 2)));
                continue;
            }
            let ident_len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            let ident = &after[..ident_len];
            if ident.is_empty() || ident.starts_with(|c: char| c.is_ascii_digit()) {
                out.push('$');
                rest = after;
                continue;
            } else if ident == RUN_TIME_INSTANCE {
                // Replaced per replica when the step runs.
                out.push('$');
                out.push_str(ident);
            } else if let Some(v) = row.get(ident) {
                let value = match v {
                    ParamValue::Int(n) => n.to_string(),
                    ParamValue::Bool(b) => b.to_string(),
                    ParamValue::Text(s) => s.clone(),
                };
                match quote.escape(&value) {
                    Some(v) => out.push_str(&v),
                    None => {
                        diags.push(
                            Diagnostic::new(Loc { line: lineno as u32 + 1, column: orig_start }, format!("the value of `${ident}` has a line break"))
                                .label("substituted outside a double-quoted string")
                                .hint(format!("write it as \"${ident}\" (in double quotes line breaks are escaped), or remove the line break from the value")),
                        );
                        out.push_str(&value.replace(['\n', '\r'], " "));
                    }
                }
                let new_end = col(&out[out_start..]);
                map.0[lineno].push(((new_start, new_end), (orig_start, orig_start + 1 + ident.chars().count() as u32)));
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
    if diags.is_empty() { Ok((out, map)) } else { Err(diags) }
}

/// `$instance` is not a column: each replica of a role replaces it with its
/// own number (from 0) when it runs a `read` or `write`.
pub const RUN_TIME_INSTANCE: &str = "instance";

/// Which YAML quoted scalar a position is in, so that a substituted value
/// keeps its bytes: YAML reads escapes in double quotes again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
}

impl Quote {
    /// Follow the quotes in `text`, which comes after the current position.
    fn scan(&mut self, text: &str) {
        let mut escaped = false;
        // A quote opens a scalar only where a scalar can start (an
        // apostrophe inside plain text does not).
        let mut prev = ' ';
        for c in text.chars() {
            let at_start = matches!(prev, ' ' | '\t' | ':' | ',' | '[' | '{' | '-');
            prev = c;
            *self = match (*self, c) {
                (Quote::None, '"') if at_start => Quote::Double,
                (Quote::None, '\'') if at_start => Quote::Single,
                (Quote::Double, '"') if !escaped => Quote::None,
                (Quote::Single, '\'') => Quote::None,
                (q, _) => q,
            };
            escaped = *self == Quote::Double && c == '\\' && !escaped;
        }
    }

    /// The value as it must be written here, or `None` where a line break
    /// cannot be written.
    fn escape(self, v: &str) -> Option<String> {
        match self {
            Quote::Double => Some(
                v.chars()
                    .map(|c| match c {
                        '\\' => "\\\\".to_owned(),
                        '"' => "\\\"".to_owned(),
                        '\n' => "\\n".to_owned(),
                        '\r' => "\\r".to_owned(),
                        '\t' => "\\t".to_owned(),
                        '\0' => "\\0".to_owned(),
                        c if c.is_control() => format!("\\x{:02x}", c as u32),
                        c => c.to_string(),
                    })
                    .collect(),
            ),
            _ if v.contains(['\n', '\r']) => None,
            Quote::Single => Some(v.replace('\'', "''")),
            Quote::None => Some(v.to_owned()),
        }
    }
}

/// Turn a YAML or shape error into a diagnostic with a fix. serde's
/// messages are reworded for people who write scenarios, not Rust types.
fn yaml_error(e: &serde_saphyr::Error, text: &str) -> Diagnostic {
    let loc = e.location().map(Loc::from).unwrap_or_default();
    let rendered = e.without_snippet().to_string();
    let mut message = rendered.lines().next().unwrap_or("invalid scenario").trim_start_matches("error: ").to_owned();
    if let Some((_, msg)) = message.split_once(": ").filter(|(pre, _)| pre.starts_with("line ")) {
        message = msg.to_owned();
    }
    if let Some(i) = message.rfind(" at line ") {
        message.truncate(i);
    }
    let token = token_at(text, loc);
    let (message, hint) = if let Some((what, allowed)) = split_expected(&message, "unknown field `") {
        (format!("unknown field `{what}`"), suggest(&what, &allowed, "fields allowed here"))
    } else if let Some((what, allowed)) = split_expected(&message, "unknown variant `") {
        (format!("unknown name `{what}`"), suggest(&what, &allowed, "names allowed here"))
    } else if let Some(field) = message.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`')) {
        (
            format!("`{field}` is missing"),
            format!("add `{field}:`; every scenario needs `description` and `roles`, and every role needs `steps`"),
        )
    } else if let Some(key) = message.strip_prefix("duplicate mapping key: ").and_then(|m| m.split(',').next()) {
        (format!("`{key}` is declared twice in the same mapping"), "names must be unique; rename or remove one of them".to_owned())
    } else if message.starts_with("invalid type: ") && message.contains("expected u")
        || message.contains("expected i") && message.starts_with("invalid type: ")
    {
        let found = message.trim_start_matches("invalid type: ").split(", expected").next().unwrap_or("").to_owned();
        (
            format!("expected a whole number, found {found}"),
            "write a plain number such as `4096` (no unit), `0x6400`, or `0o600` for a mode".to_owned(),
        )
    } else if message.starts_with("invalid u") || message.starts_with("invalid i") {
        let hint = if token.len() > 1 && token.starts_with('0') && token.chars().all(|c| c.is_ascii_digit() || c == '.') {
            format!("a leading 0 is not octal in YAML 1.2: write `0o{}`", token.trim_start_matches('0'))
        } else {
            "write a plain number such as `4096` (no unit), `0x6400`, or `0o600` for a mode".to_owned()
        };
        (format!("`{token}` is not a whole number"), hint)
    } else if message.contains("floating point") && token.starts_with('0') {
        (
            format!("`{token}` is not a whole number"),
            format!("a leading 0 is not octal in YAML 1.2: write `0o{}`", token.trim_start_matches('0')),
        )
    } else if message.starts_with("invalid type: ") {
        (
            message.replacen("invalid type: ", "wrong type: found ", 1),
            "this field takes another kind of value; see the schema (`ipc-harness schema`)".to_owned(),
        )
    } else if message.starts_with("expected end of mapping after enum variant value") {
        ("a step has more than one operation".to_owned(), "a step is one operation: put each in its own `- ` item".to_owned())
    } else {
        (message, "this is not valid YAML for a scenario".to_owned())
    };
    Diagnostic::new(loc, message).label("here").hint(hint)
}

/// `unknown field `x`, expected one of a, b` → ("x", ["a", "b"]).
fn split_expected(message: &str, prefix: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix(prefix)?;
    let (what, tail) = rest.split_once('`')?;
    let list = tail.split_once("expected ").map_or("", |(_, l)| l);
    let list = list.strip_prefix("one of ").unwrap_or(list);
    let allowed =
        list.split([',']).flat_map(|p| p.split(" or ")).map(|p| p.trim().trim_matches('`').to_owned()).filter(|p| !p.is_empty()).collect();
    Some((what.to_owned(), allowed))
}

/// A did-you-mean for a misspelt name, plus what is allowed.
pub fn suggest(what: &str, allowed: &[String], kind: &str) -> String {
    let best = allowed.iter().map(|a| (edit_distance(what, a), a)).filter(|(d, a)| *d <= 2.max(a.len() / 3)).min_by_key(|(d, _)| *d);
    let list = allowed.join(", ");
    match best {
        Some((_, a)) => format!("did you mean `{a}`? ({kind}: {list})"),
        None => format!("{kind}: {list}"),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The scalar that starts at `loc`.
pub fn token_at(text: &str, loc: Loc) -> &str {
    let line = text.lines().nth(loc.line.saturating_sub(1) as usize).unwrap_or("");
    let start = line.char_indices().nth(loc.column.saturating_sub(1) as usize).map_or(line.len(), |(i, _)| i);
    line[start..].split([',', '}', ']', ' ', '#']).next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_replaces_known_columns_and_reports_unknown_ones() {
        let mut row = IndexMap::new();
        row.insert("size".to_owned(), ParamValue::Int(4096));
        assert_eq!(substitute("a: { size: $size }\n", &row).ok().map(|t| t.0).as_deref(), Some("a: { size: 4096 }\n"));
        let (text, map) = substitute("a: $size, b: x\n", &row).unwrap_or_default();
        assert_eq!(text, "a: 4096, b: x\n");
        // `x` is at column 14 in the result and at column 15 in the original.
        assert_eq!(map.to_original(Loc { line: 1, column: 14 }), Loc { line: 1, column: 15 });
        assert_eq!(map.to_original(Loc { line: 1, column: 5 }), Loc { line: 1, column: 4 });
        let err = substitute("a: $sise\n", &row).err().unwrap_or_default();
        assert_eq!(err.len(), 1);
        assert_eq!(err[0].loc, Loc { line: 1, column: 4 });
        assert_eq!(substitute("p: \"$5 and $\"\n", &row).ok().map(|t| t.0).as_deref(), Some("p: \"$5 and $\"\n"));
        assert_eq!(substitute("p: $$HOME $$size\n", &row).ok().map(|t| t.0).as_deref(), Some("p: $HOME $size\n"));
    }

    #[test]
    fn values_keep_their_bytes_inside_quotes() {
        let mut row = IndexMap::new();
        row.insert("msg".to_owned(), ParamValue::Text("a\\b\n\"c\"".to_owned()));
        let (text, _) = substitute("d: \"$msg\"\ns: '$msg'\n", &row).unwrap_or_default();
        assert!(text.is_empty(), "a line break cannot go in single quotes: {text}");
        let (text, _) = substitute("d: \"x $msg\"\n", &row).unwrap_or_default();
        assert_eq!(text, "d: \"x a\\\\b\\n\\\"c\\\"\"\n");
        row.insert("q".to_owned(), ParamValue::Text("it's".to_owned()));
        let (text, _) = substitute("a: 'say $q'\nb: child's $q\n", &row).unwrap_or_default();
        assert_eq!(text, "a: 'say it''s'\nb: child's it's\n");
    }

    #[test]
    fn misspelt_names_get_a_suggestion() {
        let allowed: Vec<String> = ["shmat", "shmdt", "shmget"].iter().map(|s| (*s).to_owned()).collect();
        assert!(suggest("shmatt", &allowed, "steps").starts_with("did you mean `shmat`?"));
        assert!(suggest("frobnicate", &allowed, "steps").starts_with("steps: "));
        assert_eq!(edit_distance("ENOENTRY", "ENOENT"), 2);
    }
}
