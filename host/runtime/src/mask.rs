//! Masking of known secret values in text that leaves a driver call (log
//! lines, error messages). A driver that echoes its password into a log line
//! or an error must not leak it.

use serde_json::Value;

/// Shown in place of a secret.
pub const REDACTED: &str = "<redacted>";

/// Secret strings shorter than this are not masked: masking `a` or `no` would
/// mangle every message while protecting nothing.
const MIN_LEN: usize = 4;

#[derive(Debug, Clone, Default)]
pub struct SecretMask {
    secrets: Vec<String>,
}

impl SecretMask {
    /// Collect every string (and number) leaf of a secrets document.
    pub fn from_json(values: &[&Value]) -> SecretMask {
        let mut secrets = Vec::new();
        for v in values {
            collect(v, &mut secrets);
        }
        // Longest first, so a secret containing another is masked whole.
        secrets.sort_by_key(|s: &String| std::cmp::Reverse(s.len()));
        secrets.dedup();
        SecretMask { secrets }
    }

    pub fn add(&mut self, v: &Value) {
        collect(v, &mut self.secrets);
        self.secrets
            .sort_by_key(|s: &String| std::cmp::Reverse(s.len()));
        self.secrets.dedup();
    }

    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), REDACTED);
            }
        }
        out
    }
}

fn collect(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.len() >= MIN_LEN => out.push(s.clone()),
        Value::Number(n) if n.to_string().len() >= MIN_LEN => out.push(n.to_string()),
        Value::Array(a) => a.iter().for_each(|v| collect(v, out)),
        Value::Object(o) => o.values().for_each(|v| collect(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_nested_and_overlapping_secrets() {
        let m = SecretMask::from_json(&[
            &json!({"a": "hunter22", "b": {"c": ["hunter2233"]}, "short": "ab"}),
        ]);
        assert_eq!(
            m.apply("pw=hunter2233 or hunter22, ab"),
            "pw=<redacted> or <redacted>, ab"
        );
    }
}
