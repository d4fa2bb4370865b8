//! Id formats, checked on every path and body that names something.

use super::problem::Problem;

/// Apps, envs, env types, definitions, profiles: DNS-label-like, because
/// they end up in Kubernetes names and store keys.
pub fn check(what: &str, id: &str) -> Result<(), Problem> {
    let ok = !id.is_empty()
        && id.len() <= 63
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(Problem::invalid(
            what,
            format!(
                "{id:?} is not a valid {what} id: use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit"
            ),
        ))
    }
}

/// Driver ids: `org/name`, each part like [`check`].
pub fn check_driver(id: &str) -> Result<(), Problem> {
    let parts: Vec<&str> = id.split('/').collect();
    if parts.len() == 2 && parts.iter().all(|p| check("driver", p).is_ok()) {
        Ok(())
    } else {
        Err(Problem::invalid(
            "id",
            format!(
                "{id:?} is not a valid driver id: use `org/name` (lowercase letters, digits, '-')"
            ),
        ))
    }
}

/// Shared value keys: like environment variable names.
pub fn check_value_key(key: &str) -> Result<(), Problem> {
    let ok = !key.is_empty()
        && key.len() <= 128
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(Problem::invalid(
            "key",
            format!(
                "{key:?} is not a valid value key: use letters, digits, '_', '-', '.', not starting with a digit"
            ),
        ))
    }
}

/// Token names: printable, short, no control characters (they show up in
/// the audit log and in 403 messages).
pub fn check_token_name(name: &str) -> Result<(), Problem> {
    let ok = !name.trim().is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@: ".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Problem::invalid(
            "/name",
            format!(
                "{name:?} is not a valid token name: use 1-64 letters, digits, spaces and - _ . @ :"
            ),
        ))
    }
}
