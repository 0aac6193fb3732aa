//! Diagnostics a user sees about a scenario file: what is wrong, where
//! (file:line:column with a source snippet), and how to fix it.

use std::fmt::Write as _;

use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};

use super::span::Loc;

/// One problem found in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub loc: Loc,
    /// What is wrong, as a lowercase sentence fragment.
    pub message: String,
    /// A short label under the highlighted source.
    pub label: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(loc: Loc, message: impl Into<String>) -> Self {
        Diagnostic { loc, message: message.into(), label: String::new(), hint: None }
    }
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// All the problems of one file, with the text they point into.
#[derive(Debug, Clone)]
pub struct FileDiagnostics {
    pub path: String,
    pub source: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl FileDiagnostics {
    /// Render every diagnostic, sorted by position, without colour (stable
    /// for golden files and readable in CI logs).
    pub fn render(&self) -> String {
        let renderer = Renderer::plain();
        let mut sorted = self.diagnostics.clone();
        sorted.sort_by_key(|d| d.loc);
        let mut out = String::new();
        for d in &sorted {
            let title = Level::ERROR.primary_title(d.message.as_str());
            let mut group = if d.loc.is_known() {
                let span = byte_span(&self.source, d.loc);
                title.element(
                    Snippet::source(self.source.as_str())
                        .path(self.path.as_str())
                        .fold(true)
                        .annotation(AnnotationKind::Primary.span(span).label(d.label.as_str())),
                )
            } else {
                title.element(Level::NOTE.message(format!("in {}", self.path)))
            };
            if let Some(h) = &d.hint {
                group = group.element(Level::HELP.message(h.as_str()));
            }
            let _ = writeln!(out, "{}\n", renderer.render(&[group]));
        }
        let n = sorted.len();
        let _ = writeln!(out, "{}: {n} problem{} found", self.path, if n == 1 { "" } else { "s" });
        out
    }
}

/// The byte range of the token that starts at `loc` (at least one byte).
fn byte_span(source: &str, loc: Loc) -> std::ops::Range<usize> {
    let line_start: usize = source.split_inclusive('\n').take(loc.line.saturating_sub(1) as usize).map(str::len).sum();
    let line = source[line_start.min(source.len())..].lines().next().unwrap_or("");
    let col_chars = loc.column.saturating_sub(1) as usize;
    let start_in_line = line.char_indices().nth(col_chars).map_or(line.len(), |(i, _)| i);
    let rest = &line[start_in_line..];
    // At least one whole character, so the span never ends inside a
    // multi-byte one (a no-break space, say); empty at the end of a line.
    let len = match token_len(rest) {
        0 => rest.chars().next().map_or(0, char::len_utf8),
        n => n,
    };
    let start = (line_start + start_in_line).min(source.len());
    start..start + len
}

/// Length of a YAML token: a quoted string, a key up to its colon, or a
/// plain scalar up to a flow indicator.
fn token_len(rest: &str) -> usize {
    let mut chars = rest.char_indices();
    match chars.next() {
        Some((_, q @ ('"' | '\''))) => chars.find(|&(_, c)| c == q).map_or(rest.len(), |(i, _)| i + 1),
        Some(_) => rest
            .char_indices()
            .find(|&(i, c)| {
                matches!(c, ',' | '}' | ']' | '#') || (c == ':' && (i + 1 == rest.len() || rest[i + 1..].starts_with([' ', '\n'])))
            })
            .map_or(rest.trim_end().len(), |(i, _)| rest[..i].trim_end().len()),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_covers_the_token() {
        let src = "a: 1\nroles:\n  bad: { x: 1 }\n";
        let r = byte_span(src, Loc { line: 3, column: 3 });
        assert_eq!(&src[r], "bad");
        let r = byte_span(src, Loc { line: 3, column: 10 });
        assert_eq!(&src[r], "x");
    }

    #[test]
    fn span_never_splits_a_character() {
        let src = "timeout: \u{a0}\n\u{2000}\n";
        for line in 1..=3 {
            for column in 1..=12 {
                let r = byte_span(src, Loc { line, column });
                assert!(src.is_char_boundary(r.start) && src.is_char_boundary(r.end), "{line}:{column} gives {r:?}");
            }
        }
    }
}
