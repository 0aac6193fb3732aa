//! Properties of the pure parts of the harness, each of which can fail:
//!
//! - parsing and validating any text never panics, and neither does
//!   rendering the diagnostics, wherever they point (multi-byte UTF-8, line
//!   ends, past the end, CRLF);
//! - in a parameterised file, a mistake after substituted values on the same
//!   line is reported at its column in the file as written;
//! - the expectation judge (`check::step`) matches errno, return value and
//!   data exactly;
//! - durations round-trip and need a unit.
//!

use ipc_harness::check::{self, show_bytes};
use ipc_harness::cli;
use ipc_harness::exec::trace::Outcome;
use ipc_harness::plan::ExpectPlan;
use ipc_harness::plan::build::parse_duration_ms;
use ipc_harness::scenario::span::Loc;
use ipc_harness::scenario::{self, Diagnostic, FileDiagnostics, Source, source};
use proptest::prelude::*;
use proptest::sample::select;
use rstest::rstest;

/// `cases` runs per property, unless `PROPTEST_CASES` says otherwise (for
/// a longer hunt: `PROPTEST_CASES=100000 cargo test --release --test properties`).
/// Failures are not persisted to a regressions file; the ones found so far
/// are the `#[case]`s below.
fn config(cases: u32) -> ProptestConfig {
    let default = ProptestConfig { failure_persistence: None, ..ProptestConfig::default() };
    if std::env::var_os("PROPTEST_CASES").is_some() { default } else { ProptestConfig { cases, ..default } }
}

fn src(text: &str) -> Source {
    Source { path: "prop/scenario.yaml".to_owned(), rel: "prop/scenario.yaml".to_owned(), text: text.to_owned() }
}

/// Parse, validate and render whatever comes back; a panic anywhere fails.
fn parse_validate_render(text: &str) {
    let s = src(text);
    match scenario::parse(&s) {
        Ok(cases) => assert!(!cases.is_empty(), "a parsed file has at least one case"),
        Err(d) => {
            let r = d.render();
            assert!(r.ends_with("found\n"), "{r}");
        }
    }
    let (_, bad) = cli::load(std::slice::from_ref(&s));
    for d in &bad {
        let r = d.render();
        assert!(r.contains(&format!("{}: {} problem", d.path, d.diagnostics.len())), "{r}");
    }
}

/// Text likely to stress locations: multi-byte characters of every width,
/// tabs, CR, CRLF, YAML indicators.
fn tricky_text() -> impl Strategy<Value = String> {
    let atoms = select(vec![
        "a",
        "Z",
        "0",
        " ",
        "  ",
        "\t",
        "\n",
        "\r\n",
        "\r",
        ":",
        ": ",
        "- ",
        "{",
        "}",
        "[",
        "]",
        ",",
        "\"",
        "'",
        "#",
        "$",
        "$a",
        "&x",
        "*x",
        "!",
        "|",
        ">",
        "é",
        "日本",
        "🙂",
        "\u{200b}",
        "\u{301}",
        "ß",
        "roles:",
        "steps:",
        "description: d",
        "cases:",
        "\u{feff}",
        "\0",
    ]);
    proptest::collection::vec(atoms, 0..60).prop_map(|v| v.concat())
}

/// The library's scenarios (with the negative twins), to mutate.
fn library_texts() -> Vec<String> {
    source::library(true).into_iter().map(|s| s.text).collect()
}

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, String),
    Delete(usize, usize),
    Truncate(usize),
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        let n = chars.len();
        match e {
            Edit::Insert(at, s) => {
                let at = if n == 0 { 0 } else { at % (n + 1) };
                chars.splice(at..at, s.chars());
            }
            Edit::Delete(at, len) if n > 0 => {
                let at = at % n;
                let end = (at + len).min(n);
                chars.drain(at..end);
            }
            Edit::Truncate(at) => chars.truncate(if n == 0 { 0 } else { at % (n + 1) }),
            Edit::Delete(..) => {}
        }
    }
    chars.into_iter().collect()
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), tricky_text()).prop_map(|(a, s)| Edit::Insert(a, s)),
        2 => (any::<usize>(), 0usize..20).prop_map(|(a, l)| Edit::Delete(a, l)),
        1 => any::<usize>().prop_map(Edit::Truncate),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn parsing_arbitrary_strings_never_panics(text in any::<String>()) {
        parse_validate_render(&text);
    }

    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        parse_validate_render(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn parsing_tricky_text_never_panics(text in tricky_text()) {
        parse_validate_render(&text);
    }

    #[test]
    fn parsing_mutated_library_scenarios_never_panics(
        pick in any::<prop::sample::Index>(),
        edits in proptest::collection::vec(edit(), 1..4),
    ) {
        let texts = library_texts();
        let original: &String = pick.get(&texts);
        let text = apply(original, &edits);
        parse_validate_render(&text);
    }

    /// A diagnostic anywhere (line 0 = unknown, every column of every line,
    /// the line end, past it, past the last line) renders.
    #[test]
    fn rendering_a_diagnostic_anywhere_never_panics(
        text in tricky_text(),
        line in 0u32..12,
        column in 0u32..40,
        message in "[a-z `é日🙂]{0,20}",
        label in "[a-z é]{0,8}",
        hint in proptest::option::of("[a-z é🙂]{0,12}"),
    ) {
        let mut d = Diagnostic::new(Loc { line, column }, message).label(label);
        if let Some(h) = hint {
            d = d.hint(h);
        }
        let r = FileDiagnostics { path: "prop/x.yaml".to_owned(), source: text, diagnostics: vec![d] }.render();
        prop_assert!(r.ends_with("prop/x.yaml: 1 problem found\n"), "{}", r);
    }

    /// Every line end (the column just after the last character, and one
    /// more), in text with multi-byte characters and CRLF line ends.
    #[test]
    fn rendering_at_every_line_end_never_panics(text in tricky_text()) {
        let mut diagnostics = Vec::new();
        for (i, l) in text.split('\n').enumerate() {
            let n = l.chars().count() as u32;
            for column in [n, n + 1, n + 2] {
                diagnostics.push(Diagnostic::new(Loc { line: i as u32 + 1, column }, "at the end").label("end"));
            }
        }
        let count = diagnostics.len();
        let r = FileDiagnostics { path: "p.yaml".to_owned(), source: text, diagnostics }.render();
        prop_assert!(r.contains(&format!("p.yaml: {count} problem")), "{}", r);
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// The same as above, with non-ASCII spaces among the tricky text.
    #[test]
    fn parsing_text_with_unicode_spaces_never_panics(
        text in tricky_text(),
        space in select(vec!['\u{a0}', '\u{2000}', '\u{3000}', '\u{202f}']),
        at in any::<prop::sample::Index>(),
    ) {
        let mut chars: Vec<char> = text.chars().collect();
        let i = at.index(chars.len() + 1);
        chars.insert(i, space);
        parse_validate_render(&chars.into_iter().collect::<String>());
    }
}

/// `byte_span` gives a token that `token_len` measures as 0 bytes (the
/// rest of the line trims to nothing) a length of one byte; when the token
/// starts with a multi-byte space, the span ends inside that character and
/// annotate-snippets panics ("end byte index 1 is not a char boundary").
/// `ipc-harness validate` on such a file exits 101 instead of 3.
#[rstest]
#[case::only_an_en_quad("\u{2000}")]
#[case::only_an_ideographic_space("\u{3000}")]
#[case::no_break_space_as_the_timeout(
    "description: >\n  Pipe write; the timeout was pasted as a no-break space.\ntimeout: \u{a0}\nroles:\n  main:\n    steps:\n      - exit: 3\n"
)]
#[case::no_break_space_as_the_errno(
    "description: >\n  ftok fails.\nroles:\n  main:\n    steps:\n      - ftok: { file: missing.txt, proj: R, expect: { errno: \u{a0}} }\n"
)]
fn a_diagnostic_at_a_unicode_space_renders(#[case] text: &str) {
    parse_validate_render(text);
}

#[rstest]
fn rendering_a_location_at_a_unicode_space(#[values('\u{a0}', '\u{2000}', '\u{3000}')] space: char) {
    let source = format!("timeout: {space}\n");
    let d = Diagnostic::new(Loc { line: 1, column: 10 }, "not a duration").label("here");
    let r = FileDiagnostics { path: "p.yaml".to_owned(), source, diagnostics: vec![d] }.render();
    assert!(r.contains("p.yaml:1:10"), "{r}");
}

#[rstest]
#[case::empty("")]
#[case::only_newlines("\n\n\n")]
#[case::crlf("description: d\r\nroles:\r\n  a: { steps: [ { exit: 0 } ] }\r\n")]
#[case::lone_cr_line_ends("description: d\rroles: 5\r")]
#[case::multibyte_key("déscription: 日本\nroles: {}\n")]
#[case::bom("\u{feff}description: x\n")]
#[case::unterminated_quote("description: \"日本\nroles:\n")]
#[case::tab_indent("description: d\nroles:\n\tmain: {}\n")]
#[case::cases_without_rows("cases:\n")]
#[case::cases_not_a_list("cases: 5\n")]
#[case::dollar_at_end("description: $")]
#[case::unknown_parameter_multibyte("description: 日$x\ncases:\n  - { name: a }\nroles: {}\n")]
#[case::parameter_inside_cases("cases:\n  - { name: $name }\n")]
fn parsing_examples_never_panic(#[case] text: &str) {
    parse_validate_render(text);
}

// ------------------------------------------------------------ parameter tables

/// A piece of the quoted data string: text, a placeholder, or a `$` that
/// is not one (`$$`, a lone `$`, `$5`).
#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    A,
    B,
    Literal(&'static str),
}

/// Values and literal text that are safe inside a double-quoted YAML string
/// and cannot extend a `$identifier` (text after a placeholder starts with
/// a character that is not part of an identifier).
fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        2 => "[ .,:/é日🙂-][a-z0-9 .é日🙂-]{0,8}".prop_map(Piece::Text),
        1 => Just(Piece::A),
        1 => Just(Piece::B),
        1 => select(vec!["$$", "$", "$5", "$$a"]).prop_map(Piece::Literal),
    ]
}

fn value() -> impl Strategy<Value = String> {
    "[a-zA-Z .,_-]{0,14}"
}

fn value_multibyte() -> impl Strategy<Value = String> {
    "[a-z é日🙂ß]{0,10}"
}

const BAD_ERRNOS: &[&str] = &["EPIPED", "ENOTANERRNO", "EBOGUS", "EWHAT", "EAGAINX"];

/// The scenario text, and the 1-based (line, column) of the errno value.
fn parameterised(pieces: &[Piece], values: &[(String, String); 2], bad: &str, substituted: bool) -> (String, Loc) {
    let data: String = pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => t.as_str(),
            Piece::A => "$a",
            Piece::B => "$b",
            Piece::Literal(l) => l,
        })
        .collect();
    let errno = if substituted { "$e" } else { bad };
    let write = format!("      - write: {{ to: p, data: \"{data}\", expect: {{ errno: {errno} }} }}");
    let text = format!(
        "description: >\n  Writing to a pipe whose read end is closed fails with EPIPE; the errno\n  is misspelt after parameterised data.\n\
         cases:\n  - {{ name: first, a: \"{a1}\", b: \"{b1}\", e: {bad} }}\n  - {{ name: second, a: \"{a2}\", b: \"{b2}\", e: {bad} }}\n\
         objects:\n  p: {{ kind: pipe }}\nroles:\n  main:\n    steps:\n      - pipe: {{ object: p }}\n      - close: {{ object: p, end: read }}\n{write}\n",
        a1 = values[0].0,
        b1 = values[0].1,
        a2 = values[1].0,
        b2 = values[1].1,
    );
    let line = text.lines().position(|l| l == write).expect("the write step is in the text") + 1;
    let byte = write.rfind("errno: ").expect("an errno") + "errno: ".len();
    let column = write[..byte].chars().count() + 1;
    (text, Loc { line: line as u32, column: column as u32 })
}

fn check_errno_location(text: &str, bad: &str, want: Loc) -> Result<(), TestCaseError> {
    let (plans, bad_files) = cli::load(&[src(text)]);
    prop_assert!(plans.is_empty(), "the file was accepted:\n{}", text);
    prop_assert_eq!(bad_files.len(), 1);
    let diags = &bad_files[0].diagnostics;
    let rendered = bad_files[0].render();
    // The same mistake in both cases is one diagnostic, at one place.
    prop_assert_eq!(diags.len(), 1, "{}\n{}", text, rendered);
    prop_assert_eq!(&diags[0].message, &format!("unknown errno `{bad}`"), "{}", rendered);
    prop_assert_eq!(diags[0].loc, want, "{}\n{}", text, rendered);
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    /// `errno: $e` after `$a`/`$b` in the data string: the unknown errno is
    /// reported at the `$` of `$e` as written, whatever the lengths of the
    /// values substituted before it on the line.
    #[test]
    fn substituted_bad_errno_is_reported_at_its_dollar(
        pieces in proptest::collection::vec(piece(), 0..8),
        values in [(value(), value()), (value(), value())],
        bad in select(BAD_ERRNOS),
    ) {
        let (text, want) = parameterised(&pieces, &values, bad, true);
        check_errno_location(&text, bad, want)?;
    }

    /// The same with the misspelt errno written literally after the
    /// substitutions.
    #[test]
    fn literal_bad_errno_after_substitutions_is_reported_where_written(
        pieces in proptest::collection::vec(piece(), 0..8),
        values in [(value(), value()), (value(), value())],
        bad in select(BAD_ERRNOS),
    ) {
        let (text, want) = parameterised(&pieces, &values, bad, false);
        check_errno_location(&text, bad, want)?;
    }

    /// The same with multi-byte characters in the substituted values (the
    /// columns of a diagnostic are characters, not bytes).
    #[test]
    fn multibyte_values_keep_the_errno_column(
        pieces in proptest::collection::vec(piece(), 0..8),
        values in [(value_multibyte(), value_multibyte()), (value_multibyte(), value_multibyte())],
        bad in select(BAD_ERRNOS),
        substituted in any::<bool>(),
    ) {
        let (text, want) = parameterised(&pieces, &values, bad, substituted);
        check_errno_location(&text, bad, want)?;
    }
}

#[test]
fn bad_errnos_are_unknown() {
    for b in BAD_ERRNOS {
        assert!(ipc_harness::sys::errno_from_name(b).is_none(), "{b} is a real errno");
    }
}

/// Hand-picked lengths: a long value, an empty one, then the errno.
#[rstest]
#[case::longer_values(&[Piece::A, Piece::Text(" and ".to_owned()), Piece::B], ["a much longer value", "bb"])]
#[case::empty_values(&[Piece::A, Piece::B, Piece::Text("-tail".to_owned())], ["", ""])]
#[case::shorter_values(&[Piece::Text("x".to_owned()), Piece::B, Piece::A], ["", "q"])]
#[case::repeated(&[Piece::A, Piece::A, Piece::A], ["long long", "x"])]
fn bad_errno_column_examples(#[case] pieces: &[Piece], #[case] v: [&str; 2], #[values(true, false)] substituted: bool) {
    let values = [(v[0].to_owned(), v[1].to_owned()), (v[1].to_owned(), v[0].to_owned())];
    let (text, want) = parameterised(pieces, &values, "EPIPED", substituted);
    if let Err(e) = check_errno_location(&text, "EPIPED", want) {
        panic!("{e}");
    }
}

/// A pipe scenario whose data comes from the table: `msg` is written in
/// the table as `yaml_value` (the inside of a double-quoted YAML string).
fn message_table(yaml_value: &str, len: usize) -> String {
    format!(
        "description: >\n  The bytes written into a pipe are read back unchanged, for a message\n  taken from the parameter table.\n\
         cases:\n  - {{ name: one, msg: \"{yaml_value}\" }}\n\
         objects:\n  p: {{ kind: pipe }}\nroles:\n  main:\n    steps:\n      - pipe: {{ object: p }}\n\
         \x20     - write: {{ to: p, data: \"$msg\" }}\n      - read: {{ from: p, len: {len}, expect: {{ data: \"$msg\" }} }}\n"
    )
}

fn written_and_expected(text: &str) -> (Vec<u8>, Vec<u8>) {
    let (plans, bad) = cli::load(&[src(text)]);
    assert!(bad.is_empty(), "{}\n{}", text, bad.iter().map(FileDiagnostics::render).collect::<String>());
    assert_eq!(plans.len(), 1);
    let steps = &plans[0].roles[0].steps;
    let written = steps
        .iter()
        .find_map(|s| match &s.op {
            ipc_harness::plan::Op::Write { data, .. } => Some(data.clone()),
            _ => None,
        })
        .expect("a write step");
    let expected = steps.iter().find_map(|s| s.expect.data.clone()).expect("a read expectation");
    (written, expected)
}

#[rstest]
#[case::plain("hello", b"hello")]
#[case::spaces_and_punctuation("a b, c: d", b"a b, c: d")]
#[case::multibyte("日本 é", "日本 é".as_bytes())]
fn a_text_value_substituted_into_a_quoted_string_keeps_its_bytes(#[case] yaml_value: &str, #[case] bytes: &[u8]) {
    let (written, expected) = written_and_expected(&message_table(yaml_value, bytes.len()));
    assert_eq!(written, bytes);
    assert_eq!(expected, bytes);
}

/// Substitution is textual: a value is pasted into the quoted string it
/// replaces without being escaped again, so YAML reads it a second time.
/// A line break is folded into a space (the scenario then passes while
/// writing other bytes than the table says), a backslash starts an escape
/// (`C:\temp` gets a TAB), and a quote or a NUL byte makes the file invalid.
#[rstest]
#[case::line_breaks(r"a.txt\nb.txt\n", b"a.txt\nb.txt\n")]
#[case::backslash(r"C:\\temp", b"C:\\temp")]
#[case::double_quote(r#"say \"hi\""#, b"say \"hi\"")]
#[case::nul_bytes(r"hello\0\0", b"hello\0\0")]
fn a_value_with_escapes_substituted_into_a_quoted_string_keeps_its_bytes(#[case] yaml_value: &str, #[case] bytes: &[u8]) {
    let (written, expected) = written_and_expected(&message_table(yaml_value, bytes.len()));
    assert_eq!(written, bytes, "written: {:?}", String::from_utf8_lossy(&written));
    assert_eq!(expected, bytes, "expected: {:?}", String::from_utf8_lossy(&expected));
}

/// A value with a line break adds a line to the substituted text, and
/// `ColumnMap` only maps columns: a mistake on a later line keeps its line
/// number in the substituted text (one more per line break), which here is
/// past the end of the file (rendered as the file's last character), and the
/// same mistake in the other case is reported a second time, at the right
/// place, both with "(in case ...)".
#[test]
fn a_multi_line_value_does_not_move_later_diagnostics() {
    let text = "description: >\n  Writing to a pipe whose read end is closed fails with EPIPE; the errno\n  is misspelt after a message with a line break.\n\
                cases:\n  - { name: two_lines, msg: \"one\\ntwo\" }\n  - { name: one_line, msg: \"one two\" }\n\
                objects:\n  p: { kind: pipe }\nroles:\n  main:\n    steps:\n      - pipe: { object: p }\n      - write: { to: p, data: \"$msg\" }\n\
                \x20     - close: { object: p, end: read }\n      - write: { to: p, data: \"x\", expect: { errno: EPIPED } }\n";
    let line = text.lines().position(|l| l.contains("EPIPED")).expect("the errno line") + 1;
    let column = text.lines().nth(line - 1).and_then(|l| l.find("EPIPED")).expect("EPIPED") + 1;
    let want = Loc { line: line as u32, column: column as u32 };
    if let Err(e) = check_errno_location(text, "EPIPED", want) {
        panic!("{e}");
    }
}

// ------------------------------------------------------------ check::step

fn errno_names() -> Vec<String> {
    ipc_harness::sys::errno_names()
}

fn judge(expect: &ExpectPlan, outcome: &Outcome) -> Result<(), check::Mismatch> {
    check::step(expect, outcome, 0, 4096, &|_| None)
}

fn expect_errno(name: &str) -> ExpectPlan {
    ExpectPlan { errno: Some(name.to_owned()), explicit: true, ..ExpectPlan::default() }
}

fn expect_data(data: &[u8]) -> ExpectPlan {
    ExpectPlan { data: Some(data.to_vec()), explicit: true, ..ExpectPlan::default() }
}

fn outcome(result: Result<i64, String>, data: Option<Vec<u8>>) -> Outcome {
    let base = match result {
        Ok(v) => Outcome::ok(v),
        Err(e) => Outcome { result: Err(e), ..Outcome::ok(0) },
    };
    Outcome { data, ..base }
}

proptest! {
    #![proptest_config(config(512))]

    /// A failure with errno E matches `errno: E`, and no other errno, and
    /// not "success".
    #[test]
    fn an_errno_matches_only_itself(got in any::<prop::sample::Index>(), want in any::<prop::sample::Index>()) {
        let names = errno_names();
        let (got, want) = (got.get(&names), want.get(&names));
        let o = outcome(Err(got.clone()), None);
        prop_assert!(judge(&expect_errno(got), &o).is_ok());
        let other = judge(&expect_errno(want), &o);
        prop_assert_eq!(other.is_ok(), got == want);
        if let Err(m) = other {
            prop_assert!(m.expected.contains(want.as_str()), "{:?}", m);
            prop_assert!(m.observed.contains(got.as_str()), "{:?}", m);
        }
        prop_assert!(judge(&ExpectPlan::default(), &o).is_err(), "a failure passed as success");
    }

    /// A success never matches an errno expectation, whatever it returned
    /// and read.
    #[test]
    fn a_success_never_matches_an_errno(
        v in any::<i64>(),
        data in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16)),
        want in any::<prop::sample::Index>(),
    ) {
        let names = errno_names();
        let want = want.get(&names);
        let o = outcome(Ok(v), data.clone());
        let r = judge(&expect_errno(want), &o);
        prop_assert!(r.is_err(), "Ok({}) matched errno {}", v, want);
        let with_data = ExpectPlan { data: data.clone(), ..expect_errno(want) };
        prop_assert!(judge(&with_data, &o).is_err(), "Ok({}) matched errno {} with data", v, want);
        // Without an expectation, a success is what is expected.
        prop_assert!(judge(&ExpectPlan::default(), &o).is_ok());
    }

    /// Any string as the errno of a failure (not only real names).
    #[test]
    fn errno_comparison_is_exact(got in "[A-Z]{1,10}", want in "[A-Z]{1,10}") {
        let o = outcome(Err(got.clone()), None);
        prop_assert_eq!(judge(&expect_errno(&want), &o).is_ok(), got == want);
    }

    /// `data:` matches iff the bytes read are exactly the bytes expected.
    #[test]
    fn data_matches_iff_equal(
        want in proptest::collection::vec(any::<u8>(), 0..24),
        got in proptest::collection::vec(any::<u8>(), 0..24),
        v in any::<i64>(),
    ) {
        let r = judge(&expect_data(&want), &outcome(Ok(v), Some(got.clone())));
        prop_assert_eq!(r.is_ok(), want == got);
        if let Err(m) = r {
            prop_assert_eq!(m.expected, show_bytes(&want));
            prop_assert_eq!(m.observed, show_bytes(&got));
        }
        prop_assert!(judge(&expect_data(&want), &outcome(Ok(v), Some(want.clone()))).is_ok());
    }

    /// Near misses: one byte changed, one added, one dropped.
    #[test]
    fn data_near_misses_do_not_match(
        want in proptest::collection::vec(any::<u8>(), 1..24),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let i = at.index(want.len());
        let mut changed = want.clone();
        changed[i] ^= flip;
        let mut longer = want.clone();
        longer.push(0);
        let shorter = want[..want.len() - 1].to_vec();
        for got in [changed, longer, shorter] {
            prop_assert!(judge(&expect_data(&want), &outcome(Ok(want.len() as i64), Some(got.clone()))).is_err(), "{:?} vs {:?}", want, got);
        }
    }

    /// Two different byte strings are never shown alike (otherwise a report
    /// could say `expected: X` and `observed: X`).
    #[test]
    fn shown_bytes_are_distinct(a in proptest::collection::vec(any::<u8>(), 0..12), b in proptest::collection::vec(any::<u8>(), 0..12)) {
        prop_assert_eq!(show_bytes(&a) == show_bytes(&b), a == b);
    }

    /// `value:` matches iff the return value is equal.
    #[test]
    fn value_matches_iff_equal(want in any::<i64>(), got in any::<i64>()) {
        let e = ExpectPlan { value: Some(want), explicit: true, ..ExpectPlan::default() };
        prop_assert_eq!(judge(&e, &outcome(Ok(got), None)).is_ok(), want == got);
        prop_assert!(judge(&e, &outcome(Err("EINTR".to_owned()), None)).is_err());
    }
}

#[rstest]
#[case::read_hello(b"hello", Some(b"hello".to_vec()), true)]
#[case::read_padded(b"hello", Some(b"hello\0\0".to_vec()), false)]
#[case::read_goodbye(b"goodbye", Some(b"hello\0\0".to_vec()), false)]
#[case::empty_matches_nothing_read(b"", None, true)]
#[case::something_expected_nothing_read(b"x", None, false)]
#[case::empty_expected_something_read(b"", Some(b"x".to_vec()), false)]
fn data_examples(#[case] want: &[u8], #[case] got: Option<Vec<u8>>, #[case] ok: bool) {
    assert_eq!(judge(&expect_data(want), &outcome(Ok(0), got)).is_ok(), ok);
}

#[rstest]
#[case::same(Err("ENOENT"), Some("ENOENT"), true)]
#[case::other(Err("ENOENT"), Some("EACCES"), false)]
#[case::prefix(Err("ENOENT"), Some("ENOEN"), false)]
#[case::success_expected_failure(Ok(0), Some("ENOENT"), false)]
#[case::failure_expected_success(Err("EINVAL"), None, false)]
#[case::success(Ok(7), None, true)]
fn errno_examples(#[case] result: Result<i64, &str>, #[case] errno: Option<&str>, #[case] ok: bool) {
    let e = ExpectPlan { errno: errno.map(str::to_owned), ..ExpectPlan::default() };
    assert_eq!(judge(&e, &outcome(result.map_err(str::to_owned), None)).is_ok(), ok);
}

// ------------------------------------------------------------ durations

proptest! {
    #[test]
    fn durations_round_trip(n in 0u64..=u64::MAX / 60_000, pad in select(vec!["", " "])) {
        prop_assert_eq!(parse_duration_ms(&format!("{n}ms")), Some(n));
        prop_assert_eq!(parse_duration_ms(&format!("{n}s")), Some(n * 1000));
        prop_assert_eq!(parse_duration_ms(&format!("{n}m")), Some(n * 60_000));
        prop_assert_eq!(parse_duration_ms(&format!("{pad}{n}{pad}s{pad}")), Some(n * 1000));
    }

    /// Any number of milliseconds, seconds or minutes: the product, or
    /// nothing when it does not fit.
    #[test]
    fn durations_never_overflow(n in any::<u64>()) {
        prop_assert_eq!(parse_duration_ms(&format!("{n}ms")), Some(n));
        prop_assert_eq!(parse_duration_ms(&format!("{n}s")), n.checked_mul(1000));
        prop_assert_eq!(parse_duration_ms(&format!("{n}m")), n.checked_mul(60_000));
    }

    #[test]
    fn durations_need_a_unit(n in any::<u64>(), unit in select(vec!["", "h", "d", "us", "ns", "min", "sec", "M", "S", "MS", "mss", ".5s"])) {
        prop_assert_eq!(parse_duration_ms(&format!("{n}{unit}")), None, "{}{}", n, unit);
    }

    #[test]
    fn durations_without_digits_are_rejected(s in "[a-z .]{0,6}") {
        prop_assert_eq!(parse_duration_ms(&s), None, "{:?}", s);
    }
}

#[rstest]
#[case::millis("500ms", Some(500))]
#[case::seconds("10s", Some(10_000))]
#[case::minutes("2m", Some(120_000))]
#[case::zero("0s", Some(0))]
#[case::spaced(" 3 s ", Some(3_000))]
#[case::no_unit("10", None)]
#[case::unit_only("s", None)]
#[case::millis_unit_only("ms", None)]
#[case::empty("", None)]
#[case::negative("-1s", None)]
#[case::fraction("1.5s", None)]
#[case::hours("1h", None)]
#[case::overflow("18446744073709551615s", None)]
fn duration_examples(#[case] text: &str, #[case] ms: Option<u64>) {
    assert_eq!(parse_duration_ms(text), ms, "{text:?}");
}
