//! Which parts of which records are secret, and sealing them in place.
//!
//! - definition versions (`defv/…`): `driver_inputs.secrets`;
//! - active resources (`active/…`): the driver's secret outputs and its
//!   state (drivers keep generated credentials there);
//! - shared values (`values/…`, `valuesv/…`): the value of every entry
//!   marked `secret`.
//!
//! Everything else is stored as it is: ids, public outputs, definitions'
//! public inputs, deployments and their events hold no secret by design
//! (drivers' messages are masked before they are recorded).

use serde_json::Value;

use crate::seal::{Keyring, SealError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    Definition,
    Active,
    Values,
}

const PREFIXES: [(&[u8], SecretKind); 4] = [
    (b"defv/", SecretKind::Definition),
    (b"active/", SecretKind::Active),
    (b"values/", SecretKind::Values),
    (b"valuesv/", SecretKind::Values),
];

impl SecretKind {
    /// Every (key prefix, kind) whose records hold secrets.
    pub const ALL: [(&'static [u8], SecretKind); 4] = PREFIXES;

    /// The kind of the record stored under `key`, if it holds secrets.
    pub fn of(key: &[u8]) -> Option<SecretKind> {
        PREFIXES
            .iter()
            .find(|(p, _)| key.starts_with(p))
            .map(|&(_, k)| k)
    }
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// The JSON pointers of the secret parts of `record`.
fn paths(kind: SecretKind, record: &Value) -> Vec<String> {
    match kind {
        SecretKind::Definition => vec!["/driver_inputs/secrets".to_owned()],
        SecretKind::Active => vec!["/secrets".to_owned(), "/state".to_owned()],
        SecretKind::Values => {
            let mut out = Vec::new();
            let mut add = |base: String, map: Option<&serde_json::Map<String, Value>>| {
                for (k, v) in map.into_iter().flatten() {
                    if v.get("secret").and_then(Value::as_bool) == Some(true) {
                        out.push(format!("{base}/{}/value", escape(k)));
                    }
                }
            };
            add(
                "/app".to_owned(),
                record.get("app").and_then(Value::as_object),
            );
            for (env, map) in record
                .get("envs")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                add(format!("/envs/{}", escape(env)), map.as_object());
            }
            out
        }
    }
}

/// Whether a part is worth sealing: empty maps and nulls carry nothing.
fn has_content(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Object(m) => !m.is_empty(),
        _ => true,
    }
}

fn sealed_str(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| Keyring::is_sealed(s))
}

/// Seals the secret parts of `record` (stored under `key`) in place.
pub fn seal(kind: SecretKind, record: &mut Value, key: &[u8], ring: &Keyring) {
    for p in paths(kind, record) {
        if let Some(part) = record.pointer_mut(&p)
            && has_content(part)
            && sealed_str(part).is_none()
        {
            *part = Value::String(ring.seal(part, key));
        }
    }
}

/// Opens the sealed parts of `record` (stored under `key`).
pub fn open(
    kind: SecretKind,
    mut record: Value,
    key: &[u8],
    ring: &Keyring,
) -> Result<Value, SealError> {
    for p in paths(kind, &record) {
        if let Some(part) = record.pointer_mut(&p)
            && let Some(sealed) = sealed_str(part)
        {
            *part = ring.open(sealed, key)?;
        }
    }
    Ok(record)
}

/// Whether every secret part of `record` is sealed with key `key_id`.
pub fn sealed_with(kind: SecretKind, record: &Value, key_id: &str) -> bool {
    paths(kind, record).iter().all(|p| match record.pointer(p) {
        None => true,
        Some(part) if !has_content(part) => true,
        Some(part) => sealed_str(part).and_then(Keyring::key_id_of) == Some(key_id),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn values_seal_only_secret_entries_and_open_back() {
        let ring = Keyring::ephemeral();
        let plain = json!({
            "version": 3,
            "app": {"A": {"value": "public", "secret": false}, "B/x": {"value": "s3cr3t-b", "secret": true}},
            "envs": {"prod": {"C": {"value": "s3cr3t-c", "secret": true}}}
        });
        let mut v = plain.clone();
        seal(SecretKind::Values, &mut v, b"values/shop", &ring);
        let text = v.to_string();
        assert!(
            text.contains("public") && !text.contains("s3cr3t"),
            "{text}"
        );
        assert!(sealed_with(SecretKind::Values, &v, ring.current_id()));
        assert!(!sealed_with(SecretKind::Values, &plain, ring.current_id()));
        assert_eq!(
            open(SecretKind::Values, v, b"values/shop", &ring).unwrap(),
            plain
        );
    }

    #[test]
    fn active_records_seal_secrets_and_state_but_not_outputs() {
        let ring = Keyring::ephemeral();
        let plain = json!({"values": {"host": "db"}, "secrets": {"password": "pw-123"}, "state": {"generated": "pw-123"}});
        let mut v = plain.clone();
        seal(SecretKind::Active, &mut v, b"active/a/e/g", &ring);
        assert_eq!(v["values"]["host"], "db");
        assert!(!v.to_string().contains("pw-123"));
        assert_eq!(
            open(SecretKind::Active, v, b"active/a/e/g", &ring).unwrap(),
            plain
        );
    }

    #[test]
    fn empty_parts_stay_as_they_are() {
        let ring = Keyring::ephemeral();
        let plain = json!({"driver_inputs": {"values": {"a": 1}, "secrets": {}}});
        let mut v = plain.clone();
        seal(SecretKind::Definition, &mut v, b"defv/x/1", &ring);
        assert_eq!(v, plain);
        assert!(sealed_with(SecretKind::Definition, &v, ring.current_id()));
    }

    #[test]
    fn kinds_follow_the_key_layout() {
        assert_eq!(
            SecretKind::of(b"defv/pg/00000000000000000001"),
            Some(SecretKind::Definition)
        );
        assert_eq!(SecretKind::of(b"valuesv/shop/1"), Some(SecretKind::Values));
        assert_eq!(SecretKind::of(b"values/shop"), Some(SecretKind::Values));
        assert_eq!(SecretKind::of(b"def/pg"), None);
        assert_eq!(SecretKind::of(b"deploy/d1"), None);
    }
}
