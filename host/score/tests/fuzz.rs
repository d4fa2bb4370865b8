//! Property ("fuzz") tests of the Score loader, the YAML layer and the
//! placeholder syntax, with bounded case counts so `cargo test` stays fast.
//!
//! Inputs: arbitrary bytes and strings, YAML built from a grammar (block and
//! flow collections, anchors and aliases, tags, deep nesting, odd scalars,
//! placeholders), and mutations (textual and structural) of the vendored
//! Score samples in `tests/score-spec/samples`.
//!
//! Properties:
//! - nothing panics;
//! - a failed load is a report whose diagnostics all name the file, carry a
//!   non-empty message and, when they have a line, a line of the input;
//! - a loaded workload round-trips: load → JSON → load gives the same
//!   workload (and the same JSON);
//! - the YAML fast path (no line tracking) agrees with the tracking parser,
//!   and JSON documents read as YAML give back the same value;
//! - placeholders: offsets are in bounds and on `${`, the text around the
//!   spans unescapes to the literal tokens, re-rendering tokens gives them
//!   back, `$$` escapes, and expansion agrees with the tokens.
//!
//! A failure prints the minimal input. Each run draws new cases (set
//! `PROPTEST_RNG_SEED` to replay one); `failure_persistence` is off, so a run
//! writes nothing to the source tree.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use podium_score::placeholder::{
    ExpandError, PlaceholderError, Resolved, Token, expand_string, expand_value, tokenize,
};
use podium_score::{Report, Workload, load_str, yaml};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};

/// `cases` per property, times `PODIUM_FUZZ_SCALE` (default 1) for longer
/// local runs.
fn config(cases: u32) -> ProptestConfig {
    let scale = std::env::var("PODIUM_FUZZ_SCALE")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    ProptestConfig {
        cases: cases.saturating_mul(scale),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// Checking one load

/// Loads `text` and checks the result's properties; returns the workload.
fn check_load(name: &str, text: &str) -> Result<Option<Workload>, TestCaseError> {
    match load_str(name, text, None) {
        Ok(w) => {
            round_trip(&w)?;
            Ok(Some(w))
        }
        Err(report) => {
            check_report(name, text, &report)?;
            Ok(None)
        }
    }
}

/// Lines YAML may count in `text`: LF, CR and CRLF all break lines.
fn line_count(text: &str) -> usize {
    let crlf = text.matches("\r\n").count();
    text.matches('\n').count() + text.matches('\r').count() - crlf + 1
}

fn check_report(name: &str, text: &str, report: &Report) -> Result<(), TestCaseError> {
    prop_assert_eq!(&report.file, name);
    prop_assert!(
        !report.diagnostics.is_empty(),
        "a report without diagnostics"
    );
    // One past the last line: the parser reports end-of-input there.
    let max_line = line_count(text) + 1;
    for d in &report.diagnostics {
        prop_assert_eq!(&d.file, name);
        prop_assert!(!d.message.trim().is_empty(), "empty message in {:?}", d);
        prop_assert!(
            d.pointer.is_empty() || d.pointer.starts_with('/'),
            "not a JSON pointer: {:?}",
            d.pointer
        );
        if let Some(line) = d.line {
            prop_assert!(
                (1..=max_line).contains(&line),
                "line {} outside 1..={} in {:?}",
                line,
                max_line,
                d
            );
        }
        prop_assert!(d.to_string().starts_with(name));
    }
    Ok(())
}

/// load → JSON text → load gives the same workload.
fn round_trip(w: &Workload) -> Result<(), TestCaseError> {
    let json = w.to_json();
    prop_assert!(json.is_object());
    for text in [
        serde_json::to_string(&json).unwrap(),
        serde_json::to_string_pretty(&json).unwrap(),
    ] {
        let again = match load_str("round-trip.json", &text, None) {
            Ok(again) => again,
            Err(report) => {
                return Err(TestCaseError::fail(format!(
                    "the serialized workload does not load again:\n{report}\n--- text:\n{text}"
                )));
            }
        };
        prop_assert_eq!(&again, w);
        prop_assert_eq!(again.to_json(), json.clone());
    }
    Ok(())
}

/// The fast path (no lines) and the tracking parser agree.
fn check_yaml_paths_agree(text: &str) -> Result<(), TestCaseError> {
    let limits = yaml::Limits::default();
    let fast = yaml::parse_value(text, limits);
    let full = yaml::parse_with_limits(text, limits).map(|d| d.value);
    prop_assert_eq!(fast, full);
    Ok(())
}

// ---------------------------------------------------------------------------
// Unstructured input

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn loader_survives_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        check_yaml_paths_agree(&text)?;
        check_load("bytes.yaml", &text)?;
    }

    #[test]
    fn loader_survives_arbitrary_strings(text in any::<String>()) {
        check_yaml_paths_agree(&text)?;
        check_load("string.yaml", &text)?;
    }

    #[test]
    fn loader_survives_yaml_punctuation(
        text in "[\\[\\]{}:,\\-&*!|>'\"#?%@`$ \\n\\r\\ta-c0-9.~\\\\]{0,300}"
    ) {
        check_yaml_paths_agree(&text)?;
        check_load("punct.yaml", &text)?;
    }
}

// ---------------------------------------------------------------------------
// YAML from a grammar

/// A YAML node before rendering.
#[derive(Debug, Clone)]
enum Node {
    Scalar(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
    /// `*name`
    Alias(String),
    /// `&name node`
    Anchored(String, Box<Node>),
    /// `!tag node`
    Tagged(String, Box<Node>),
    /// Render this subtree in flow style (`[..]`, `{..}`).
    Flow(Box<Node>),
}

/// Scalars that exercise the core schema, quoting and placeholders.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(vec![
            "", "~", "null", "Null", "NULL", "true", "False", "yes", "no", "on",
            "0", "-0", "+1", "007", "0x1F", "0X1F", "0o17", "0b101", "1_000", "1e3", "-1.5e-3",
            ".5", "5.", ".inf", "-.Inf", ".nan", "18446744073709551615", "18446744073709551616",
            "-9223372036854775808", "-9223372036854775809", "1e400", "0x", "0o", "-",
            "'single quoted'", "''", "'it''s'", "\"double \\\" quoted\"", "\"\\u00e9\\t\\n\"",
            "\"\\x41\"", "\"\\U0001F600\"", "\"bad \\q escape\"", "\"unterminated",
            "${metadata.name}", "${resources.db.host}", "${resources.db.outputs.a\\.b}",
            "$${literal}", "${", "${}", "${a..b}", "${a.}", "$", "$$", "x${metadata.annotations.k}y",
            "\"${resources.missing.x}\"", "a: b", "- x", "? k", "#comment", "a #comment",
            "|", "|-", ">", ">+", "@reserved", "`tick", "%TAG", "&", "*", "!", "!!",
            "\u{e9}t\u{e9}", "\u{1F600}", "\u{feff}bom", "tab\there", "nul\u{0}byte", "del\u{7f}",
            "nel\u{85}x", "line\u{2028}sep", "\u{fffe}", ".", "/etc/app.conf", "../../etc/passwd",
            "postgres", "score.dev/v1b1", "score.dev/v1b2", "TCP", "UDP", "65535", "65536",
            "started", "ready",
        ]).prop_map(str::to_owned),
        1 => "[a-z][a-z0-9_-]{0,8}",
        1 => "\\PC{0,6}",
    ]
}

/// Keys: Score field names (so some documents get past the schema), odd
/// ones, and quoted forms.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(vec![
            "apiVersion", "metadata", "name", "annotations", "containers", "main", "web",
            "image", "command", "args", "variables", "files", "volumes", "resources",
            "limits", "requests", "livenessProbe", "readinessProbe", "before", "ready",
            "service", "ports", "port", "targetPort", "protocol", "type", "class", "id",
            "params", "db", "dns", "content", "source", "target", "mode", "noExpand",
            "binaryContent", "path", "readOnly", "memory", "cpu", "httpGet", "exec",
        ]).prop_map(str::to_owned),
        1 => proptest::sample::select(vec![
            "\"quoted key\"", "'/etc/x'", "\"a/b~c\"", "\"\"", "''", "1", "true", "null",
            "~", "\"${x}\"", "<<", "\"\u{e9}\"", "? explicit", "[a]", "{a: 1}",
        ]).prop_map(str::to_owned),
        1 => "[a-z]{1,6}",
    ]
}

fn anchor_name() -> impl Strategy<Value = String> {
    proptest::sample::select(vec!["a", "b", "c", "long-anchor_1"]).prop_map(str::to_owned)
}

fn tag() -> impl Strategy<Value = String> {
    proptest::sample::select(vec![
        "!!str",
        "!!int",
        "!!float",
        "!!bool",
        "!!null",
        "!!binary",
        "!!timestamp",
        "!!map",
        "!!seq",
        "!!set",
        "!!omap",
        "!local",
        "!<tag:yaml.org,2002:str>",
        "!<tag:example.com,2000:x>",
        "!",
        "!e!x",
    ])
    .prop_map(str::to_owned)
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        8 => scalar().prop_map(Node::Scalar),
        1 => anchor_name().prop_map(Node::Alias),
    ];
    leaf.prop_recursive(6, 48, 5, |inner| {
        prop_oneof![
            3 => proptest::collection::vec(inner.clone(), 0..5).prop_map(Node::Seq),
            4 => proptest::collection::vec((key(), inner.clone()), 0..5).prop_map(Node::Map),
            1 => (anchor_name(), inner.clone()).prop_map(|(a, n)| Node::Anchored(a, Box::new(n))),
            1 => (tag(), inner.clone()).prop_map(|(t, n)| Node::Tagged(t, Box::new(n))),
            1 => inner.prop_map(|n| Node::Flow(Box::new(n))),
        ]
    })
}

/// Renders `node` in flow style.
fn flow(node: &Node, out: &mut String) {
    match node {
        Node::Scalar(s) => out.push_str(s),
        Node::Alias(a) => {
            let _ = write!(out, "*{a}");
        }
        Node::Anchored(a, n) => {
            let _ = write!(out, "&{a} ");
            flow(n, out);
        }
        Node::Tagged(t, n) => {
            let _ = write!(out, "{t} ");
            flow(n, out);
        }
        Node::Flow(n) => flow(n, out),
        Node::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                flow(item, out);
            }
            out.push(']');
        }
        Node::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{k}: ");
                flow(v, out);
            }
            out.push('}');
        }
    }
}

/// Whether `node` renders on the line of its key or dash.
fn inline(node: &Node) -> bool {
    match node {
        Node::Scalar(_) | Node::Alias(_) | Node::Flow(_) => true,
        Node::Seq(items) => items.is_empty(),
        Node::Map(entries) => entries.is_empty(),
        Node::Anchored(_, n) | Node::Tagged(_, n) => inline(n),
    }
}

/// Renders `node` in block style at `indent` spaces; the caller has written
/// what precedes it on the current line (a key and `:`, a `-`, or nothing).
fn block(node: &Node, indent: usize, out: &mut String) {
    match node {
        Node::Anchored(a, n) => {
            let _ = write!(out, " &{a}");
            block(n, indent, out);
        }
        Node::Tagged(t, n) => {
            let _ = write!(out, " {t}");
            block(n, indent, out);
        }
        n if inline(n) => {
            out.push(' ');
            flow(n, out);
            out.push('\n');
        }
        Node::Seq(items) => {
            out.push('\n');
            for item in items {
                let _ = write!(out, "{:indent$}-", "");
                block(item, indent + 2, out);
            }
        }
        Node::Map(entries) => {
            out.push('\n');
            for (k, v) in entries {
                let _ = write!(out, "{:indent$}{k}:", "");
                block(v, indent + 2, out);
            }
        }
        // Covered by `inline`.
        Node::Scalar(_) | Node::Alias(_) | Node::Flow(_) => {}
    }
}

fn render(node: &Node, as_flow: bool) -> String {
    let mut out = String::new();
    if as_flow {
        flow(node, &mut out);
    } else {
        block(node, 0, &mut out);
    }
    out
}

/// A Score-shaped document whose parts come from the grammar, so that some
/// cases reach the schema and semantic stages.
fn score_shaped() -> impl Strategy<Value = String> {
    let variables = proptest::collection::vec(("[A-Z]{1,4}", scalar()), 0..4);
    let resources = proptest::collection::vec(
        (
            proptest::sample::select(vec!["db", "dns", "cache", "env"]),
            proptest::sample::select(vec!["postgres", "dns", "redis", "environment", "${x}"]),
            proptest::option::of(node()),
        ),
        0..3,
    );
    (
        proptest::sample::select(vec!["score.dev/v1b1", "score.dev/v1b1", "v2"]),
        proptest::sample::select(vec!["web", "my-app", "Bad_Name", ""]),
        proptest::sample::select(vec![".", "nginx", "\"\"", "${resources.db.host}"]),
        variables,
        resources,
        proptest::option::of(node()),
        any::<bool>(),
    )
        .prop_map(
            |(api, name, image, vars, res, extra, flow_params)| {
                let mut s = format!("apiVersion: {api}\nmetadata:\n  name: {name}\ncontainers:\n  main:\n    image: {image}\n");
                if !vars.is_empty() {
                    s.push_str("    variables:\n");
                    for (k, v) in vars {
                        let _ = writeln!(s, "      {k}: {v}");
                    }
                }
                if !res.is_empty() {
                    s.push_str("resources:\n");
                    for (n, t, params) in res {
                        let _ = writeln!(s, "  {n}:\n    type: {t}");
                        if let Some(p) = params {
                            s.push_str("    params:");
                            if flow_params {
                                s.push(' ');
                                s.push_str(&render(&p, true));
                                s.push('\n');
                            } else {
                                block(&p, 6, &mut s);
                            }
                        }
                    }
                }
                if let Some(extra) = extra {
                    s.push_str("service:");
                    block(&extra, 2, &mut s);
                }
                s
            },
        )
}

proptest! {
    #![proptest_config(config(1500))]

    #[test]
    fn loader_survives_grammar_yaml(doc in node(), as_flow in any::<bool>()) {
        let text = render(&doc, as_flow);
        check_yaml_paths_agree(&text)?;
        check_load("grammar.yaml", &text)?;
    }

    #[test]
    fn loader_survives_score_shaped_yaml(text in score_shaped()) {
        check_yaml_paths_agree(&text)?;
        check_load("score.yaml", &text)?;
    }

    #[test]
    fn deep_nesting_is_refused_or_read(
        depth in 1usize..140,
        opener in proptest::sample::select(vec!["[", "{a: ", "- ", "a:\n", "[{k: "]),
    ) {
        let text = match opener {
            "- " => (0..depth).map(|i| format!("{:i$}- ", "")).collect::<Vec<_>>().join("\n") + "x",
            "a:\n" => (0..depth).map(|i| format!("{:i$}a:", "")).collect::<Vec<_>>().join("\n") + " x",
            other => other.repeat(depth),
        };
        check_yaml_paths_agree(&text)?;
        check_load("deep.yaml", &text)?;
    }
}

// ---------------------------------------------------------------------------
// JSON is YAML

/// Arbitrary JSON values; strings rich in YAML punctuation, or any text at
/// all (controls included: serde_json escapes C0, the YAML reader takes the
/// rest).
fn json_value() -> impl Strategy<Value = Value> {
    let text = || {
        prop_oneof![
            3 => "[\\t\\n a-zA-Z0-9:#&*!|>'\"%@`{}\\[\\],.$\\\\/~\u{e9}\u{1F600}\u{2028}-]{0,12}",
            1 => ".{0,8}",
        ]
    };
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 40, 5, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((text(), inner), 0..5)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn json_documents_read_as_yaml(value in json_value(), pretty in any::<bool>()) {
        let text = if pretty {
            serde_json::to_string_pretty(&value).unwrap()
        } else {
            serde_json::to_string(&value).unwrap()
        };
        let parsed = yaml::parse(&text);
        prop_assert_eq!(parsed.map(|d| d.value), Ok(value), "text: {}", text);
    }
}

/// A scalar with a core-schema tag and the value it must read as (`None`
/// when the tag does not fit the text).
fn tagged_scalar() -> impl Strategy<Value = (String, Option<Value>)> {
    prop_oneof![
        any::<i64>().prop_map(|n| (format!("!!int {n}"), Some(json!(n)))),
        any::<i64>().prop_map(|n| (format!("!!float {n}"), Some(json!(n)))),
        any::<i64>().prop_map(|n| (format!("!!str {n}"), Some(json!(n.to_string())))),
        (-1.0e6..1.0e6f64).prop_map(|f| (format!("!!float {f:?}"), Some(json!(f)))),
        ".{0,12}".prop_map(|t| {
            let quoted = serde_json::to_string(&t).unwrap();
            (format!("!!str {quoted}"), Some(Value::String(t)))
        }),
        ".{0,12}".prop_map(|t| {
            let quoted = serde_json::to_string(&t).unwrap();
            (format!("!!binary {quoted}"), Some(Value::String(t)))
        }),
        any::<bool>().prop_map(|b| (format!("!!bool {b}"), Some(json!(b)))),
        proptest::sample::select(vec!["~", "null", "Null", "NULL", "''"])
            .prop_map(|t| (format!("!!null {t}"), Some(Value::Null))),
        proptest::sample::select(vec!["x", "1.5", "yes", "0x", "--1", "1e", "nan"])
            .prop_map(|t| (format!("!!int {t}"), None)),
        proptest::sample::select(vec!["yes", "1", "on", "t"])
            .prop_map(|t| (format!("!!bool {t}"), None)),
        proptest::sample::select(vec!["x", "0", "false"])
            .prop_map(|t| (format!("!!null {t}"), None)),
    ]
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn tagged_scalars_read_as_their_tag_says((scalar, want) in tagged_scalar(), in_flow in any::<bool>()) {
        let text = if in_flow { format!("{{k: {scalar}}}") } else { format!("k: {scalar}\n") };
        match (yaml::parse(&text), want) {
            (Ok(doc), Some(want)) => prop_assert_eq!(&doc.value, &json!({"k": want}), "{}", text),
            (Err(yaml::YamlError::BadTaggedScalar { line, .. }), None) => prop_assert_eq!(line, 1),
            (got, want) => prop_assert!(false, "{}: got {:?}, expected {:?}", text, got, want),
        }
    }
}

// ---------------------------------------------------------------------------
// Mutations of the vendored samples

fn spec_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/score-spec/samples")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            out.push(path);
        }
    }
}

/// Every sample text (valid and invalid Score files, companion files too:
/// they are all interesting YAML).
static SAMPLES: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    let mut paths = Vec::new();
    walk(&spec_dir(), &mut paths);
    paths.sort();
    let samples: Vec<(String, String)> = paths
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "EXPECTED.json"))
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            Some((p.display().to_string(), text))
        })
        .collect();
    assert!(samples.len() > 100, "samples not found in {:?}", spec_dir());
    samples
});

/// The samples that load: the seeds of the structural mutations.
static VALID: LazyLock<Vec<(String, Value)>> = LazyLock::new(|| {
    let valid: Vec<(String, Value)> = SAMPLES
        .iter()
        .filter_map(|(name, text)| {
            load_str(name, text, None)
                .ok()
                .map(|w| (name.clone(), w.to_json()))
        })
        .collect();
    assert!(valid.len() > 50, "only {} samples load", valid.len());
    valid
});

#[test]
fn every_loadable_sample_round_trips() {
    for (name, text) in SAMPLES.iter() {
        if let Ok(w) = load_str(name, text, None) {
            round_trip(&w).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        check_yaml_paths_agree(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// One textual edit; positions are fractions of the text so they shrink
/// towards the start.
#[derive(Debug, Clone)]
enum Edit {
    Delete { at: f64, len: usize },
    Insert { at: f64, text: String },
    DuplicateLine { at: f64 },
    RemoveLine { at: f64 },
    SwapLines { a: f64, b: f64 },
    Indent { at: f64, by: isize },
    ReplaceValue { at: f64, value: String },
    Truncate { at: f64 },
}

fn edit() -> impl Strategy<Value = Edit> {
    let frac = 0.0..1.0f64;
    let insert = prop_oneof![
        scalar(),
        proptest::sample::select(vec![
            "\n", " ", "  ", "\t", ":", "- ", "&a ", "*a", "<<: *a\n", "---\n", "...\n", "{", "}",
            "[", "]", "'", "\"", "#", "${", "}", "$$", "\\", "\r\n", "\u{0}", "\u{feff}",
        ])
        .prop_map(str::to_owned),
    ];
    prop_oneof![
        (frac.clone(), 1usize..40).prop_map(|(at, len)| Edit::Delete { at, len }),
        (frac.clone(), insert).prop_map(|(at, text)| Edit::Insert { at, text }),
        frac.clone().prop_map(|at| Edit::DuplicateLine { at }),
        frac.clone().prop_map(|at| Edit::RemoveLine { at }),
        (frac.clone(), frac.clone()).prop_map(|(a, b)| Edit::SwapLines { a, b }),
        (frac.clone(), -4isize..5).prop_map(|(at, by)| Edit::Indent { at, by }),
        (frac.clone(), scalar()).prop_map(|(at, value)| Edit::ReplaceValue { at, value }),
        frac.prop_map(|at| Edit::Truncate { at }),
    ]
}

/// The char boundary nearest below `at * len`.
fn boundary(text: &str, at: f64) -> usize {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let mut i = ((text.len() as f64) * at) as usize;
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn line_index(lines: &[String], at: f64) -> usize {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((lines.len() as f64) * at) as usize;
    i.min(lines.len().saturating_sub(1))
}

fn apply_edit(text: &str, edit: &Edit) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    match edit {
        Edit::Delete { at, len } => {
            let start = boundary(text, *at);
            let mut end = (start + len).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}{}", &text[..start], &text[end..])
        }
        Edit::Insert { at, text: ins } => {
            let i = boundary(text, *at);
            format!("{}{ins}{}", &text[..i], &text[i..])
        }
        Edit::Truncate { at } => text[..boundary(text, *at)].to_owned(),
        Edit::DuplicateLine { at } => {
            let i = line_index(&lines, *at);
            let line = lines[i].clone();
            lines.insert(i, line);
            lines.join("\n")
        }
        Edit::RemoveLine { at } => {
            let i = line_index(&lines, *at);
            lines.remove(i);
            lines.join("\n")
        }
        Edit::SwapLines { a, b } => {
            let (a, b) = (line_index(&lines, *a), line_index(&lines, *b));
            lines.swap(a, b);
            lines.join("\n")
        }
        Edit::Indent { at, by } => {
            let i = line_index(&lines, *at);
            let line = &mut lines[i];
            if *by >= 0 {
                line.insert_str(0, &" ".repeat(by.unsigned_abs()));
            } else {
                let strip = line
                    .bytes()
                    .take(by.unsigned_abs())
                    .take_while(|&b| b == b' ')
                    .count();
                line.drain(..strip);
            }
            lines.join("\n")
        }
        Edit::ReplaceValue { at, value } => {
            let i = line_index(&lines, *at);
            if let Some(colon) = lines[i].find(": ") {
                lines[i].truncate(colon + 2);
                lines[i].push_str(value);
            }
            lines.join("\n")
        }
    }
}

/// One structural edit of a loaded sample's JSON; `pick` chooses the node.
#[derive(Debug, Clone)]
enum Change {
    Remove,
    Set(Value),
    RenameKey(String),
    WrapInArray,
    SetPlaceholder(String),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        Just(Change::Remove),
        json_value().prop_map(Change::Set),
        key().prop_map(Change::RenameKey),
        Just(Change::WrapInArray),
        proptest::sample::select(vec![
            "${metadata.name}",
            "${metadata.annotations.x}",
            "${resources.db.host}",
            "${resources.db}",
            "pre-${resources.db.outputs.a\\.b}-post",
            "$${escaped}",
            "${",
            "${a..b}",
            "${resources.missing.x}",
            "${metadata}",
            "${metadata.name.x}",
        ])
        .prop_map(str::to_owned)
        .prop_map(Change::SetPlaceholder),
    ]
}

/// All JSON pointers of `value` (every node but the root).
fn pointers(value: &Value, at: &mut String, out: &mut Vec<String>) {
    let mut child = |at: &mut String, seg: &str, v: &Value| {
        let len = at.len();
        at.push('/');
        at.push_str(&seg.replace('~', "~0").replace('/', "~1"));
        out.push(at.clone());
        pointers(v, at, out);
        at.truncate(len);
    };
    match value {
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                child(at, &i.to_string(), v);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                child(at, k, v);
            }
        }
        _ => {}
    }
}

fn apply_change(doc: &mut Value, pointer: &str, change: &Change) {
    let (parent_ptr, last) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    let last = last.replace("~1", "/").replace("~0", "~");
    let Some(parent) = doc.pointer_mut(parent_ptr) else {
        return;
    };
    match (parent, change) {
        (Value::Object(map), Change::Remove) => {
            map.shift_remove(&last);
        }
        (Value::Array(items), Change::Remove) => {
            if let Ok(i) = last.parse::<usize>()
                && i < items.len()
            {
                items.remove(i);
            }
        }
        (Value::Object(map), Change::RenameKey(k)) => {
            if let Some(v) = map.shift_remove(&last) {
                map.insert(k.clone(), v);
            }
        }
        (parent, change) => {
            let slot = match parent {
                Value::Object(map) => map.get_mut(&last),
                Value::Array(items) => last.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
                _ => None,
            };
            if let Some(slot) = slot {
                match change {
                    Change::Set(v) => *slot = v.clone(),
                    Change::SetPlaceholder(p) => *slot = Value::String(p.clone()),
                    Change::WrapInArray => *slot = Value::Array(vec![slot.take()]),
                    Change::Remove | Change::RenameKey(_) => {}
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(config(1500))]

    #[test]
    fn textual_mutations_of_samples(
        pick in any::<proptest::sample::Index>(),
        edits in proptest::collection::vec(edit(), 1..5),
    ) {
        let (name, text) = pick.get(&SAMPLES[..]);
        let mut text = text.clone();
        for e in &edits {
            text = apply_edit(&text, e);
        }
        check_yaml_paths_agree(&text)?;
        check_load(name, &text)?;
    }

    #[test]
    fn structural_mutations_of_valid_samples(
        pick in any::<proptest::sample::Index>(),
        changes in proptest::collection::vec((any::<proptest::sample::Index>(), change()), 1..4),
        pretty in any::<bool>(),
    ) {
        let (name, doc) = pick.get(&VALID[..]);
        let mut doc = doc.clone();
        for (at, change) in &changes {
            let mut all = Vec::new();
            pointers(&doc, &mut String::new(), &mut all);
            if all.is_empty() {
                break;
            }
            let pointer: &String = at.get(&all);
            apply_change(&mut doc, pointer, change);
        }
        let text = if pretty {
            serde_json::to_string_pretty(&doc).unwrap()
        } else {
            serde_json::to_string(&doc).unwrap()
        };
        check_load(name, &text)?;
    }
}

// ---------------------------------------------------------------------------
// Placeholders

/// Strings dense in the characters the tokenizer cares about.
fn placeholder_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            proptest::sample::select(vec![
                "$",
                "$$",
                "${",
                "}",
                ".",
                "\\",
                "\\.",
                "${a}",
                "${a.b}",
                "${a\\.b}",
                "#",
                "${resources.db.host}",
                "${metadata.name}",
                "\u{e9}",
                "\u{1F600}",
                "{",
                " ",
            ])
            .prop_map(str::to_owned),
            "[a-z]{1,3}",
            "\\PC{1,2}",
        ],
        0..20,
    )
    .prop_map(|parts| parts.concat())
}

/// Undoes `$$` escaping the way the tokenizer reads literal text.
fn unescape(text: &str) -> String {
    text.replace("$$", "$")
}

/// Writes tokens back as text that tokenizes to the same tokens.
fn render_tokens(tokens: &[Token]) -> String {
    let mut out = String::new();
    for t in tokens {
        match t {
            Token::Literal(text) => out.push_str(&text.replace('$', "$$")),
            Token::Placeholder { raw, .. } => {
                let _ = write!(out, "${{{raw}}}");
            }
        }
    }
    out
}

fn check_tokens(input: &str) -> Result<(), TestCaseError> {
    match tokenize(input) {
        Ok(tokens) => {
            // The text between placeholders unescapes to the literal tokens,
            // and each span holds `${raw}`: together they give the input back.
            let mut expected = Vec::new();
            let mut last = 0;
            for t in &tokens {
                if let Token::Placeholder { path, raw, span } = t {
                    prop_assert!(span.start >= last && span.end <= input.len());
                    let written = format!("${{{raw}}}");
                    prop_assert_eq!(input.get(span.clone()), Some(written.as_str()));
                    prop_assert!(!path.is_empty() && path.iter().all(|s| !s.is_empty()));
                    // The path is the raw text split on unescaped dots.
                    prop_assert_eq!(
                        &path
                            .iter()
                            .map(|s| s.replace('.', "\\."))
                            .collect::<Vec<_>>()
                            .join("."),
                        raw
                    );
                    let gap = &input[last..span.start];
                    if !gap.is_empty() {
                        expected.push(Token::Literal(unescape(gap)));
                    }
                    expected.push(t.clone());
                    last = span.end;
                }
            }
            if last < input.len() {
                expected.push(Token::Literal(unescape(&input[last..])));
            }
            prop_assert_eq!(&tokens, &expected);
            // Rendering the tokens back gives the same tokens (spans aside).
            let again = tokenize(&render_tokens(&tokens)).unwrap();
            let strip = |ts: &[Token]| -> Vec<(Option<String>, Option<Vec<String>>)> {
                ts.iter()
                    .map(|t| match t {
                        Token::Literal(l) => (Some(l.clone()), None),
                        Token::Placeholder { path, .. } => (None, Some(path.clone())),
                    })
                    .collect()
            };
            prop_assert_eq!(strip(&again), strip(&tokens));
        }
        Err(e) => {
            let offset = e.offset();
            prop_assert!(offset <= input.len() && input.is_char_boundary(offset));
            match e {
                PlaceholderError::Unterminated { .. } => {
                    prop_assert!(
                        input[offset..].starts_with("${"),
                        "unterminated at {}",
                        offset
                    );
                    prop_assert!(
                        !input[offset..].contains('}'),
                        "a closing brace after {}",
                        offset
                    );
                }
                PlaceholderError::EmptySegment { .. } => {
                    // The empty segment starts right after `${` or a dot and
                    // ends at once, at a dot or the closing brace.
                    prop_assert!(
                        (input[..offset].ends_with("${") || input[..offset].ends_with('.'))
                            && (input[offset..].starts_with('.')
                                || input[offset..].starts_with('}')),
                        "offset {} in {:?}",
                        offset,
                        input
                    );
                }
            }
        }
    }
    Ok(())
}

/// A resolver over a fixed table: `s.*` are strings, `n` a number, `o` an
/// object, `pw` a secret; anything else fails.
fn resolve(path: &[String]) -> Result<Resolved, String> {
    match path {
        [one] if one == "n" => Ok(Resolved::public(42)),
        [one] if one == "o" => Ok(Resolved::public(json!({"k": [1, "two"]}))),
        [one] if one == "pw" => Ok(Resolved::secret("hunter2")),
        [head, rest @ ..] if head == "s" => Ok(Resolved::public(format!("<{}>", rest.join("|")))),
        _ => Err(format!("unknown {}", path.join("."))),
    }
}

fn expansion_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            proptest::sample::select(vec![
                "${n}",
                "${o}",
                "${pw}",
                "${s}",
                "${s.a}",
                "${s.a\\.b}",
                "${bad}",
                "$$",
                "$",
                "${",
                "x",
                " ",
                "\u{e9}",
                "}",
            ])
            .prop_map(str::to_owned),
            "[a-z]{1,3}",
        ],
        0..8,
    )
    .prop_map(|parts| parts.concat())
}

/// What expanding `input` must give, computed from its tokens.
fn expected_expansion(input: &str) -> Result<(Value, bool), String> {
    let tokens = tokenize(input).map_err(|e| e.to_string())?;
    if let [Token::Placeholder { path, .. }] = tokens.as_slice() {
        let r = resolve(path)?;
        return Ok((r.value, r.secret));
    }
    let mut out = String::new();
    let mut secret = false;
    for t in tokens {
        match t {
            Token::Literal(l) => out.push_str(&l),
            Token::Placeholder { path, .. } => {
                let r = resolve(&path)?;
                secret |= r.secret;
                match r.value {
                    Value::String(s) => out.push_str(&s),
                    other => out.push_str(&other.to_string()),
                }
            }
        }
    }
    Ok((Value::String(out), secret))
}

/// JSON values whose strings come from [`expansion_text`].
fn expansion_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        3 => expansion_text().prop_map(Value::String),
        1 => Just(Value::Null),
        1 => any::<i32>().prop_map(|n| json!(n)),
    ];
    leaf.prop_recursive(3, 20, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(("[a-c/~]{0,3}", inner), 0..4)
                .prop_map(|e| Value::Object(e.into_iter().collect())),
        ]
    })
}

/// Every string of `value` with its JSON pointer.
fn strings_of(value: &Value, at: &mut String, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) => out.push((at.clone(), s.clone())),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let len = at.len();
                let _ = write!(at, "/{i}");
                strings_of(v, at, out);
                at.truncate(len);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let len = at.len();
                let _ = write!(at, "/{}", k.replace('~', "~0").replace('/', "~1"));
                strings_of(v, at, out);
                at.truncate(len);
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn tokenize_is_consistent_with_its_input(input in placeholder_text()) {
        check_tokens(&input)?;
    }

    #[test]
    fn tokenize_survives_any_string(input in any::<String>()) {
        check_tokens(&input)?;
    }

    #[test]
    fn text_without_dollar_is_one_literal(text in "[^$]{0,60}") {
        let tokens = tokenize(&text).unwrap();
        let expected = if text.is_empty() { vec![] } else { vec![Token::Literal(text.clone())] };
        prop_assert_eq!(tokens, expected);
    }

    #[test]
    fn doubled_dollars_are_literal(text in "\\PC{0,40}") {
        let tokens = tokenize(&text.replace('$', "$$")).unwrap();
        let expected = if text.is_empty() { vec![] } else { vec![Token::Literal(text.clone())] };
        prop_assert_eq!(tokens, expected);
    }

    #[test]
    fn expand_string_agrees_with_tokens(input in expansion_text()) {
        let got = expand_string(&input, &resolve);
        match (expected_expansion(&input), got) {
            (Ok((value, secret)), Ok(e)) => {
                prop_assert_eq!(e.value, value);
                prop_assert_eq!(e.secret, secret);
            }
            (Err(_), Err(ExpandError::Syntax(e))) => {
                prop_assert_eq!(Err::<Vec<Token>, _>(e), tokenize(&input));
            }
            (Err(_), Err(ExpandError::Resolve { raw, span, error })) => {
                // The first placeholder that fails, with its span.
                let written = format!("${{{raw}}}");
                prop_assert_eq!(input.get(span.clone()), Some(written.as_str()));
                prop_assert!(!error.is_empty());
                let first_bad = tokenize(&input).unwrap().into_iter().find_map(|t| match t {
                    Token::Placeholder { path, span, .. } if resolve(&path).is_err() => Some(span),
                    _ => None,
                });
                prop_assert_eq!(first_bad, Some(span));
            }
            (want, got) => prop_assert!(false, "expected {:?}, got {:?}", want, got),
        }
    }

    #[test]
    fn expand_value_expands_every_string(value in expansion_value()) {
        let mut strings = Vec::new();
        strings_of(&value, &mut String::new(), &mut strings);
        let failing: Vec<&String> = strings
            .iter()
            .filter(|(_, s)| expected_expansion(s).is_err())
            .map(|(p, _)| p)
            .collect();
        match expand_value(&value, &resolve) {
            Ok(e) => {
                prop_assert!(failing.is_empty());
                let mut secret = false;
                for (pointer, s) in &strings {
                    let (want, is_secret) = expected_expansion(s).unwrap();
                    secret |= is_secret;
                    prop_assert_eq!(e.value.pointer(pointer), Some(&want), "at {}", pointer);
                }
                prop_assert_eq!(e.secret, secret);
            }
            Err(errors) => {
                let reported: Vec<&String> = errors.iter().map(|e| &e.pointer).collect();
                prop_assert_eq!(reported, failing);
                for e in &errors {
                    prop_assert!(value.pointer(&e.pointer).is_some_and(Value::is_string));
                    prop_assert!(!e.to_string().is_empty());
                }
            }
        }
    }
}
