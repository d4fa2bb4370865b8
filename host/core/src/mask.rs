//! Masking of known secret values: the one implementation for the whole
//! service (driver logs and errors in the runtime, events and failures in
//! the pipeline, diffs and other answers in the API).
//!
//! - **Longest first**, so a secret containing another (`hunter2233`,
//!   `hunter2`) is masked whole, never leaving a fragment (`<redacted>233`).
//! - **Every JSON scalar** of a secrets document counts: strings, and
//!   numbers by their text (a numeric PIN is as secret as a string).
//! - A JSON value that *equals* a secret is masked whatever its length or
//!   type; *inside* longer text, secrets shorter than [`MIN_FRAGMENT_LEN`]
//!   are not searched for: masking every `no` or `42` in a message would
//!   destroy the message while hiding nothing an attacker could not guess.

use serde_json::Value;

/// Shown in place of a secret.
pub const REDACTED: &str = "<redacted>";

/// Secrets at least this long are masked wherever they appear in text.
pub const MIN_FRAGMENT_LEN: usize = 4;

/// Known secret values, longest first.
#[derive(Debug, Clone, Default)]
pub struct SecretMask {
    secrets: Vec<String>,
}

impl SecretMask {
    /// Every scalar leaf of the given secrets documents.
    pub fn from_json(values: &[&Value]) -> SecretMask {
        let mut m = SecretMask::default();
        for v in values {
            collect(v, &mut m.secrets);
        }
        m.normalize();
        m
    }

    /// Adds every scalar leaf of `v`.
    pub fn add(&mut self, v: &Value) {
        collect(v, &mut self.secrets);
        self.normalize();
    }

    /// Adds one secret string.
    pub fn add_str(&mut self, s: &str) {
        if !s.is_empty() {
            self.secrets.push(s.to_owned());
            self.normalize();
        }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    fn normalize(&mut self) {
        self.secrets
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        self.secrets.dedup();
    }

    /// `text` with every secret (of at least [`MIN_FRAGMENT_LEN`] bytes)
    /// replaced by [`REDACTED`]; a text that is exactly a secret is masked
    /// whatever its length.
    pub fn apply(&self, text: &str) -> String {
        if self.secrets.iter().any(|s| s == text) {
            return REDACTED.to_owned();
        }
        let mut out = text.to_owned();
        for s in &self.secrets {
            if s.len() >= MIN_FRAGMENT_LEN && out.contains(s.as_str()) {
                out = out.replace(s.as_str(), REDACTED);
            }
        }
        out
    }

    /// Masks every scalar of a JSON document in place: strings as text,
    /// numbers equal to a secret replaced by [`REDACTED`]. Object keys are
    /// left alone (they are names, chosen by the platform, not secrets).
    pub fn apply_json(&self, v: &mut Value) {
        if self.secrets.is_empty() {
            return;
        }
        match v {
            Value::String(s) => {
                let masked = self.apply(s);
                if masked != *s {
                    *s = masked;
                }
            }
            Value::Number(n) => {
                let text = n.to_string();
                if self.secrets.contains(&text) {
                    *v = Value::String(REDACTED.to_owned());
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|v| self.apply_json(v)),
            Value::Object(m) => m.values_mut().for_each(|v| self.apply_json(v)),
            Value::Bool(_) | Value::Null => {}
        }
    }
}

fn collect(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if !s.is_empty() => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(a) => a.iter().for_each(|v| collect(v, out)),
        Value::Object(o) => o.values().for_each(|v| collect(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[track_caller]
    fn check(secrets: Value, input: Value, expected: Value) {
        let m = SecretMask::from_json(&[&secrets]);
        let mut v = input;
        m.apply_json(&mut v);
        assert_eq!(v, expected);
    }

    #[test]
    fn overlapping_secrets_leave_no_fragment_in_either_insertion_order() {
        for secrets in [
            json!(["hunter2", "hunter2233"]),
            json!(["hunter2233", "hunter2"]),
        ] {
            check(
                secrets,
                json!({"a": "pw=hunter2233 or hunter2", "b": ["x-hunter2233-y"]}),
                json!({"a": "pw=<redacted> or <redacted>", "b": ["x-<redacted>-y"]}),
            );
        }
    }

    #[test]
    fn numbers_and_short_secrets_equal_to_a_value_are_masked() {
        check(
            json!({"pin": 4711, "code": "ab"}),
            json!({"pin": 4711, "other": 47, "code": "ab", "text": "ab cd", "n": "4711"}),
            json!({"pin": REDACTED, "other": 47, "code": REDACTED, "text": "ab cd", "n": REDACTED}),
        );
    }

    #[test]
    fn nested_documents_and_text() {
        let m = SecretMask::from_json(&[&json!({"a": "hunter22", "b": {"c": ["hunter2233"]}})]);
        assert_eq!(
            m.apply("pw=hunter2233 or hunter22, ab"),
            "pw=<redacted> or <redacted>, ab"
        );
    }
}
