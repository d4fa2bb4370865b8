//! JSON helpers: typed decoding with field paths, canonical form, type names.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Error;

/// Parses one JSON document from the host. An empty string counts as `{}`:
/// every JSON field of the contract is an object, and a lenient reading of
/// "nothing" costs nothing.
pub fn parse(what: &str, text: &str) -> Result<Value, Error> {
    if text.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_json::from_str(text)
        .map_err(|e| Error::invalid_input(format!("{what}: not valid JSON: {e}")))
}

/// Deserialises `value` into `T`; a failure becomes [`Error::InvalidInput`]
/// naming the path of the bad field under `what`, e.g.
/// `driver_values.port: invalid type: string "x", expected u16`.
pub fn decode<T: DeserializeOwned>(what: &str, value: &Value) -> Result<T, Error> {
    decode_inner(what, value, false)
}

/// Like [`decode`], for secret documents: the offending value is left out of
/// the message (serde quotes it otherwise), only its JSON kind is kept.
pub fn decode_secret<T: DeserializeOwned>(what: &str, value: &Value) -> Result<T, Error> {
    decode_inner(what, value, true)
}

fn decode_inner<T: DeserializeOwned>(what: &str, value: &Value, secret: bool) -> Result<T, Error> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let message = if secret { redact(&message) } else { message };
        Error::invalid_input(format!("{}: {message}", join_path(what, &path)))
    })
}

/// `driver_values` + `port` → `driver_values.port`; the root path `.` adds
/// nothing and an index attaches without a dot.
fn join_path(what: &str, path: &str) -> String {
    match path {
        "." | "" => what.to_owned(),
        p if p.starts_with('[') => format!("{what}{p}"),
        p => format!("{what}.{p}"),
    }
}

/// Removes the quoted value from serde's `invalid type: string "hunter2",
/// expected u16` / `invalid value: ...` messages, keeping its kind.
fn redact(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        let Some(rest) = message.strip_prefix(prefix) else {
            continue;
        };
        let Some(at) = rest.rfind(", expected ") else {
            continue;
        };
        let unexpected = &rest[..at];
        let kind = unexpected
            .find(['"', '`'])
            .map_or(unexpected, |quote| &unexpected[..quote])
            .trim_end();
        return format!("{prefix}{kind} (value hidden){}", &rest[at..]);
    }
    message.to_owned()
}

/// The canonical text of a JSON value: object keys sorted (by code point), no
/// insignificant whitespace, numbers and strings as serde_json prints them.
/// Equal values give equal text whatever order their keys came in, so it is
/// the right input for digests.
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// `an object`, `a string`, ... for messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)] // only the decoding is under test
    struct Values {
        port: u16,
        nested: Option<Vec<Inner>>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        name: String,
    }

    #[test]
    fn decode_names_the_field() {
        let err = decode::<Values>("driver_values", &json!({"port": "x"})).err();
        assert_eq!(
            err,
            Some(Error::invalid_input(
                "driver_values.port: invalid type: string \"x\", expected u16"
            ))
        );
    }

    #[test]
    fn decode_names_nested_fields() {
        let v = json!({"port": 1, "nested": [{"name": "a"}, {"name": 3}]});
        let err = decode::<Values>("params", &v).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "invalid input: params.nested[1].name: invalid type: integer `3`, expected a string"
            )
        );
    }

    #[test]
    fn decode_missing_field_at_root() {
        let err = decode::<Values>("params", &json!({})).err();
        assert_eq!(
            err,
            Some(Error::invalid_input("params: missing field `port`"))
        );
    }

    #[test]
    fn decode_secret_hides_the_value() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct S {
            pin: u16,
        }
        let err =
            decode_secret::<S>("driver_secrets", &json!({"pin": "hunter2, expected x"})).err();
        assert_eq!(
            err,
            Some(Error::invalid_input(
                "driver_secrets.pin: invalid type: string (value hidden), expected u16"
            ))
        );
        let err = decode_secret::<S>("driver_secrets", &json!({"pin": 70000})).err();
        assert_eq!(
            err,
            Some(Error::invalid_input(
                "driver_secrets.pin: invalid value: integer (value hidden), expected u16"
            ))
        );
    }

    #[test]
    fn parse_empty_is_object_and_garbage_is_invalid() {
        assert_eq!(parse("params", " ").ok(), Some(json!({})));
        let err = parse("params", "{").err().map(|e| e.kind());
        assert_eq!(err, Some("invalid-input"));
    }

    #[test]
    fn canonical_sorts_keys_everywhere() {
        let a = json!({"b": [{"z": 1, "a": null}], "a": "x\"y", "é": 1.5});
        assert_eq!(
            canonical(&a),
            r#"{"a":"x\"y","b":[{"a":null,"z":1}],"é":1.5}"#
        );
        let b: Value = serde_json::from_str(r#"{"é":1.5,"a":"x\"y","b":[{"a":null,"z":1}]}"#)
            .unwrap_or_default();
        assert_eq!(canonical(&a), canonical(&b));
    }
}
