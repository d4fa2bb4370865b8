//! Validation against the official Score v1b1 JSON Schema (vendored in
//! `schema/`, see `schema/SOURCES.md`), with the errors of the `jsonschema`
//! crate turned into short plain messages at precise JSON pointers.

use std::sync::LazyLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use crate::placeholder::push_pointer_segment;

/// The schema text, exactly as published upstream.
pub const SCORE_V1B1_SCHEMA: &str = include_str!("../schema/score-v1b1.json");

/// Compiled once per process: compiling costs far more than validating.
static VALIDATOR: LazyLock<Result<Validator, String>> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(SCORE_V1B1_SCHEMA).map_err(|e| e.to_string())?;
    jsonschema::draft202012::new(&schema).map_err(|e| e.to_string())
});

/// One schema violation: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer of the offending node (for a missing property: where it
    /// should be).
    pub pointer: String,
    pub message: String,
}

/// Validates a document against the Score schema; returns every violation
/// (empty when valid), sorted by pointer and deduplicated.
pub fn validate(document: &Value) -> Vec<Violation> {
    let validator = match &*VALIDATOR {
        Ok(validator) => validator,
        Err(message) => {
            return vec![Violation {
                pointer: String::new(),
                message: format!(
                    "internal error: the embedded Score schema does not compile: {message}"
                ),
            }];
        }
    };
    if validator.is_valid(document) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for error in validator.iter_errors(document) {
        describe(&error, &mut out);
    }
    out.sort_by(|a, b| a.pointer.cmp(&b.pointer).then(a.message.cmp(&b.message)));
    out.dedup();
    out
}

fn child(pointer: &str, key: &str) -> String {
    let mut p = pointer.to_owned();
    p.push('/');
    push_pointer_segment(&mut p, key);
    p
}

fn describe(error: &ValidationError<'_>, out: &mut Vec<Violation>) {
    let pointer = error.instance_path().as_str().to_owned();
    let mut push = |pointer: String, message: String| out.push(Violation { pointer, message });
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            push(child(&pointer, name), "required".to_owned());
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            for key in unexpected {
                push(child(&pointer, key), "unknown field".to_owned());
            }
        }
        ValidationErrorKind::PropertyNames { error: inner } => {
            let name = inner.instance().as_str().unwrap_or_default().to_owned();
            let why = plain(inner);
            push(
                child(&pointer, &name),
                format!("invalid name '{name}': {why}"),
            );
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            // The deprecated array form and the map form of files/volumes are
            // a oneOf: report the errors of the branch whose type matches
            // instead of "not valid under any of the schemas".
            let relevant: Vec<&Vec<ValidationError<'static>>> = context
                .iter()
                .filter(|branch| !branch.iter().all(|e| is_type_error_at(e, &pointer)))
                .collect();
            if let [branch] = relevant.as_slice()
                && !branch.is_empty()
                && context.len() > 1
            {
                for inner in branch.iter() {
                    describe(inner, out);
                }
                return;
            }
            // Alternatives that each require one property (files: content /
            // binaryContent / source; probes: httpGet / exec).
            let required: Option<Vec<String>> = context
                .iter()
                .map(|branch| match branch.as_slice() {
                    [e] => match e.kind() {
                        ValidationErrorKind::Required { property } => {
                            property.as_str().map(|s| format!("'{s}'"))
                        }
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            match required {
                Some(names) if !names.is_empty() => {
                    push(pointer, format!("requires one of {}", names.join(", ")));
                }
                _ => push(pointer, plain(error)),
            }
        }
        ValidationErrorKind::OneOfMultipleValid { .. } => {
            let message = if pointer.contains("/files/") {
                "set exactly one of 'content', 'binaryContent' or 'source'".to_owned()
            } else {
                "matches more than one alternative".to_owned()
            };
            push(pointer, message);
        }
        ValidationErrorKind::Not { .. }
            if pointer.contains("/files/") || pointer.contains("/volumes/") =>
        {
            push(
                child(&pointer, "target"),
                "only allowed in the deprecated array form; in the map form the key is the target"
                    .to_owned(),
            );
        }
        _ => push(pointer, plain(error)),
    }
}

fn is_type_error_at(error: &ValidationError<'_>, pointer: &str) -> bool {
    matches!(error.kind(), ValidationErrorKind::Type { .. })
        && error.instance_path().as_str() == pointer
}

/// A short message without the (possibly huge) offending value.
fn plain(error: &ValidationError<'_>) -> String {
    match error.kind() {
        ValidationErrorKind::Type { .. } => {
            let found = json_type(error.instance());
            // The crate's message is `<value> is not of type "string"`; keep the type part.
            let text = error.to_string();
            match text.rsplit_once(" is not of type ") {
                Some((_, expected)) => format!("must be of type {expected}, found {found}"),
                None => format!("wrong type ({found})"),
            }
        }
        ValidationErrorKind::Pattern { pattern } => format!("must match the pattern {pattern}"),
        ValidationErrorKind::MinLength { limit } => {
            format!(
                "must be at least {limit} character{} long",
                if *limit == 1 { "" } else { "s" }
            )
        }
        ValidationErrorKind::MaxLength { limit } => {
            format!("must be at most {limit} characters long")
        }
        ValidationErrorKind::Minimum { limit } => format!("must be at least {limit}"),
        ValidationErrorKind::Maximum { limit } => format!("must be at most {limit}"),
        ValidationErrorKind::MinProperties { limit } => {
            format!(
                "must have at least {limit} entr{}",
                if *limit == 1 { "y" } else { "ies" }
            )
        }
        ValidationErrorKind::Enum { options } => format!("must be one of {options}"),
        _ => {
            let mut text = error.to_string();
            if text.len() > 300 {
                let mut cut = 300;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
                text.push('…');
            }
            text
        }
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(doc: Value) -> Vec<String> {
        validate(&doc)
            .into_iter()
            .map(|v| format!("{}: {}", v.pointer, v.message))
            .collect()
    }

    #[test]
    fn valid_minimal() {
        let doc = json!({"apiVersion": "score.dev/v1b1", "metadata": {"name": "web"},
                         "containers": {"main": {"image": "."}}});
        assert!(validate(&doc).is_empty());
    }

    #[test]
    fn plain_messages_at_precise_pointers() {
        let doc = json!({
            "apiVersion": "score.dev/v1b1",
            "metadata": {"name": "web"},
            "containers": {
                "main": {
                    "imag": "x",
                    "files": {"/etc/a": {"mode": "644"}, "/etc/b": {"content": 5}},
                    "livenessProbe": {}
                }
            },
            "service": {"ports": {"www": {"port": 0}}}
        });
        assert_eq!(
            messages(doc),
            vec![
                "/containers/main/files/~1etc~1a: requires one of 'content', 'binaryContent', 'source'",
                "/containers/main/files/~1etc~1b/content: must be of type \"string\", found integer",
                "/containers/main/imag: unknown field",
                "/containers/main/image: required",
                "/containers/main/livenessProbe: requires one of 'httpGet', 'exec'",
                "/service/ports/www/port: must be at least 1",
            ]
        );
    }

    #[test]
    fn names_and_target_in_map_form() {
        let doc = json!({
            "apiVersion": "score.dev/v1b1",
            "metadata": {"name": "-bad"},
            "containers": {"Main": {"image": "x", "volumes": {"/data": {"source": "v", "target": "/x"}}}}
        });
        let m = messages(doc);
        assert!(
            m.iter()
                .any(|s| s.starts_with("/containers/Main: invalid name 'Main'")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|s| s.starts_with("/metadata/name: must match")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|s| s.starts_with("/containers/Main/volumes/~1data/target: only allowed")),
            "{m:?}"
        );
    }
}
