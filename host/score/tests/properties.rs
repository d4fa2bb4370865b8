//! Property tests: the tokenizer and the loader never panic, and the
//! tokenizer's output is consistent with its input. Case counts are bounded
//! so the suite stays within a few seconds.

#![allow(clippy::unwrap_used)]

use podium_score::placeholder::{PlaceholderError, Token, tokenize};
use podium_score::{load_str, yaml};
use proptest::prelude::*;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Strings rich in the characters that matter to the tokenizer.
fn placeholder_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("$".to_owned()),
            Just("${".to_owned()),
            Just("}".to_owned()),
            Just(".".to_owned()),
            Just("\\".to_owned()),
            Just("\\.".to_owned()),
            Just("$$".to_owned()),
            "[a-z]{1,4}",
            "\\PC{1,3}",
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn tokenize_never_panics_and_spans_are_sound(input in placeholder_soup()) {
        match tokenize(&input) {
            Ok(tokens) => {
                let mut last_end = 0;
                for token in &tokens {
                    if let Token::Placeholder { path, raw, span } = token {
                        prop_assert!(span.start >= last_end);
                        prop_assert!(input.get(span.clone()).is_some());
                        prop_assert_eq!(&input[span.clone()], format!("${{{raw}}}"));
                        prop_assert!(!path.is_empty());
                        prop_assert!(path.iter().all(|s| !s.is_empty()));
                        last_end = span.end;
                    }
                }
                // Literals never sit next to each other.
                for pair in tokens.windows(2) {
                    prop_assert!(!matches!(pair, [Token::Literal(_), Token::Literal(_)]));
                }
            }
            Err(e) => {
                let offset = match e {
                    PlaceholderError::Unterminated { offset } | PlaceholderError::EmptySegment { offset } => offset,
                };
                prop_assert!(offset <= input.len());
            }
        }
    }

    #[test]
    fn escaped_text_round_trips(text in "\\PC{0,40}") {
        // Doubling every `$` makes any text literal.
        let escaped = text.replace('$', "$$");
        let tokens = tokenize(&escaped).unwrap();
        let expected = if text.is_empty() { vec![] } else { vec![Token::Literal(text.clone())] };
        prop_assert_eq!(tokens, expected);
    }

    #[test]
    fn yaml_parser_never_panics(input in "[\\[\\]{}:,\\-&*!|>'\"#?%@ \\n\\ta-z0-9]{0,200}") {
        let _ = yaml::parse(&input);
    }
}

/// Syntactically plausible YAML built from Score-ish fragments.
fn score_like() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("apiVersion: score.dev/v1b1".to_owned()),
        Just("metadata:".to_owned()),
        Just("  name: web".to_owned()),
        Just("containers:".to_owned()),
        Just("  main:".to_owned()),
        Just("    image: .".to_owned()),
        Just("    variables:".to_owned()),
        Just("      A: ${resources.db.host}".to_owned()),
        Just("      B: ${metadata.name".to_owned()),
        Just("    files:".to_owned()),
        Just("      - target: /a".to_owned()),
        Just("        content: x".to_owned()),
        Just("    before: {main: {ready: started}}".to_owned()),
        Just("resources:".to_owned()),
        Just("  db: {type: postgres, params: {x: &a [1, *a]}}".to_owned()),
        Just("  db: &r {type: postgres}".to_owned()),
        Just("  dns: *r".to_owned()),
        Just("service: {ports: {www: {port: 80}}}".to_owned()),
        "[ a-z:{}\\[\\],&*-]{0,30}",
    ];
    proptest::collection::vec(line, 0..16).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn loader_never_panics(input in score_like()) {
        if let Err(report) = load_str("p.yaml", &input, None) {
            // Every failure explains itself.
            prop_assert!(!report.diagnostics.is_empty());
            prop_assert!(report.diagnostics.iter().all(|d| !d.message.is_empty()));
        }
    }
}

#[test]
fn hostile_inputs_get_clear_errors() {
    let deep = "[".repeat(100_000);
    let report = load_str("deep.yaml", &deep, None).unwrap_err();
    assert!(
        report.to_string().contains("nesting deeper than"),
        "{report}"
    );

    let deep_block = (0..300)
        .map(|i| format!("{}k:", " ".repeat(i)))
        .collect::<Vec<_>>()
        .join("\n");
    let report = load_str("deep2.yaml", &deep_block, None).unwrap_err();
    assert!(
        report.to_string().contains("nesting deeper than"),
        "{report}"
    );

    let mut laughs = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (prev, next) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        let items = vec![format!("*{prev}"); 9].join(", ");
        laughs.push_str(&format!("{next}: &{next} [{items}]\n"));
    }
    let report = load_str("laughs.yaml", &laughs, None).unwrap_err();
    assert!(
        report.to_string().contains("after expanding aliases"),
        "{report}"
    );

    let big = format!("a: \"{}\"\n", "x".repeat(2 * 1024 * 1024));
    let report = load_str("big.yaml", &big, None).unwrap_err();
    assert!(report.to_string().contains("over the limit"), "{report}");
}
