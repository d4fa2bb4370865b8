//! A small YAML emitter for manifests written to GitOps directories:
//! block style, deterministic, and safe (a string is left unquoted only when
//! it cannot be read as anything but that string).

use serde_json::Value;

/// The document for `value`, ending with a newline.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(map, 0, &mut out),
        Value::Array(items) if !items.is_empty() => write_seq(items, 0, &mut out),
        scalar => {
            out.push_str(&inline(scalar, 0));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn write_map(map: &serde_json::Map<String, Value>, level: usize, out: &mut String) {
    for (key, value) in map {
        indent(out, level);
        out.push_str(&scalar_string(key, level, true));
        out.push(':');
        write_child(value, level, out);
    }
}

fn write_seq(items: &[Value], level: usize, out: &mut String) {
    for item in items {
        indent(out, level);
        out.push('-');
        match item {
            // `- key: value` with the rest of the map indented under it.
            Value::Object(map) if !map.is_empty() => {
                let mut nested = String::new();
                write_map(map, level + 2, &mut nested);
                out.push(' ');
                out.push_str(nested.trim_start_matches(' '));
            }
            other => write_child(other, level, out),
        }
    }
}

/// The value after `key:` or `-`.
fn write_child(value: &Value, level: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(map, level + 2, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(items, level + 2, out);
        }
        scalar => {
            out.push(' ');
            out.push_str(&inline(scalar, level + 2));
            out.push('\n');
        }
    }
}

fn inline(value: &Value, level: usize) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar_string(s, level, false),
        Value::Object(_) => "{}".to_owned(),
        Value::Array(_) => "[]".to_owned(),
    }
}

/// A string as a plain scalar, a literal block, or a double-quoted scalar.
fn scalar_string(s: &str, level: usize, key: bool) -> String {
    if is_plain_safe(s) {
        return s.to_owned();
    }
    if !key && let Some(block) = literal_block(s, level) {
        return block;
    }
    // JSON string syntax is valid YAML double-quoted syntax.
    Value::String(s.to_owned()).to_string()
}

fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let reserved = [
        "true", "false", "null", "yes", "no", "on", "off", "y", "n", "~",
    ];
    (first.is_ascii_alphabetic() || first == '/' || first == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
        && !reserved.contains(&s.to_ascii_lowercase().as_str())
}

/// `|`, `|-` or `|+` block for readable multi-line text, when the text
/// round-trips exactly through one.
fn literal_block(s: &str, level: usize) -> Option<String> {
    if !s.contains('\n')
        || s.starts_with([' ', '\n'])
        || s.chars().any(|c| c != '\n' && c.is_control())
        || s.chars()
            .any(|c| matches!(c, '\u{feff}' | '\u{85}' | '\u{2028}' | '\u{2029}'))
    {
        return None;
    }
    let body = s.trim_end_matches('\n');
    if body.lines().any(|l| l.ends_with(' ')) {
        return None;
    }
    let trailing = s.len() - body.len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let mut out = format!("|{chomp}");
    for line in s
        .split('\n')
        .take(body.split('\n').count() + trailing.saturating_sub(1))
    {
        out.push('\n');
        if !line.is_empty() {
            out.extend(std::iter::repeat_n(' ', level));
            out.push_str(line);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(v: &Value) {
        let text = to_string(v);
        let back: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(&back, v, "YAML was:\n{text}");
    }

    #[test]
    fn manifests_round_trip() {
        round_trip(&json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "hello", "labels": {"app.kubernetes.io/name": "hello"}, "annotations": {}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [
                {"name": "web", "image": "nginx:1.27", "args": ["-c", "echo hi; sleep 1"],
                 "env": [{"name": "A", "value": "true"}, {"name": "B", "value": "1.0"}, {"name": "C", "value": ""}],
                 "ports": [], "x": null}
            ]}}}
        }));
    }

    #[test]
    fn awkward_strings_round_trip() {
        for s in [
            "yes",
            "No",
            "~",
            "null",
            "123",
            "-1",
            ".5",
            "0x1f",
            "1e3",
            "a: b",
            "a #b",
            "- x",
            "[x]",
            "{x}",
            "*a",
            "&a",
            "!t",
            "%x",
            "@x",
            "`x",
            "'q'",
            "\"q\"",
            " lead",
            "trail ",
            "tab\tx",
            "line1\nline2",
            "line1\nline2\n",
            "l1\n\n\nl2\n\n",
            "\n\nlead",
            "trail \nx",
            "ünïcode",
            "x\r\ny",
            "",
            "#",
            "a\u{85}b",
            "key:",
            "|",
            ">",
            "?",
            ",",
        ] {
            round_trip(&json!({ s: s, "list": [s, {"k": s}] }));
        }
    }

    #[test]
    fn blocks_are_used_for_plain_multiline_text() {
        let text = to_string(&json!({"data": {"app.conf": "a = 1\nb = 2\n"}}));
        assert_eq!(text, "data:\n  app.conf: |\n    a = 1\n    b = 2\n");
    }
}
