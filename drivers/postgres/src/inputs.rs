//! What the definition gives the driver, what it keeps, and the JSON Schema
//! of the former.

use serde::{Deserialize, Serialize};

/// `driver_inputs.values`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Values {
    /// The server's host name or address (also an output).
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// A role that may create roles and databases (`CREATEROLE CREATEDB`, or
    /// a superuser).
    pub admin_user: String,
    /// The database the admin connects to.
    #[serde(default = "default_admin_database")]
    pub admin_database: String,
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// While true, every apply sets a new password.
    #[serde(default)]
    pub rotate_password: bool,
}

fn default_port() -> u16 {
    5432
}

fn default_admin_database() -> String {
    "postgres".to_owned()
}

/// What `delete` does with the database and the role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeletionPolicy {
    /// Drop both (terminating open sessions).
    #[default]
    Delete,
    /// Leave both in place; Podium forgets them.
    Retain,
}

/// `driver_inputs.secrets`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    pub admin_password: String,
}

/// What the driver keeps between calls. Holds the password, which is not
/// rotated unless asked; the host keeps driver state as a secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub username: String,
    pub password: String,
}

// By hand: the password must not end up in a `{:?}`.
impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// JSON Schema of `driver_inputs` (for `podium driver info` and definition
/// validation).
pub const INPUTS_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["values", "secrets"],
  "properties": {
    "values": {
      "type": "object",
      "additionalProperties": false,
      "required": ["host", "admin_user"],
      "properties": {
        "host": {"type": "string", "minLength": 1, "description": "PostgreSQL server host name or address; the definition needs the grant postgres://HOST:PORT"},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 5432},
        "admin_user": {"type": "string", "minLength": 1, "description": "role with CREATEROLE and CREATEDB (or a superuser)"},
        "admin_database": {"type": "string", "minLength": 1, "default": "postgres"},
        "deletion_policy": {"enum": ["delete", "retain"], "default": "delete", "description": "retain keeps the database and role when the resource is deleted"},
        "rotate_password": {"type": "boolean", "default": false, "description": "while true, every apply sets a new password"}
      }
    },
    "secrets": {
      "type": "object",
      "additionalProperties": false,
      "required": ["admin_password"],
      "properties": {
        "admin_password": {"type": "string", "minLength": 1}
      }
    }
  }
}"#;

#[cfg(test)]
mod tests {
    use super::*;
    use podium_driver_sdk::json;
    use serde_json::json;

    #[test]
    fn defaults_apply() {
        let v: Values = json::decode(
            "driver_values",
            &json!({"host": "127.0.0.1", "admin_user": "a"}),
        )
        .unwrap();
        assert_eq!(v.port, 5432);
        assert_eq!(v.admin_database, "postgres");
        assert_eq!(v.deletion_policy, DeletionPolicy::Delete);
        assert!(!v.rotate_password);
    }

    #[test]
    fn typos_and_bad_policies_are_named() {
        let err = json::decode::<Values>(
            "driver_values",
            &json!({"host": "h", "admin_user": "a", "deletion_policy": "keep"}),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("driver_values.deletion_policy"), "{err}");
        let err = json::decode::<Values>(
            "driver_values",
            &json!({"host": "h", "admin_user": "a", "prot": 1}),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("unknown field `prot`"), "{err}");
    }

    #[test]
    fn schema_is_json() {
        let schema: serde_json::Value = serde_json::from_str(INPUTS_SCHEMA).unwrap();
        assert_eq!(schema["properties"]["values"]["required"][0], "host");
    }

    #[test]
    fn state_debug_hides_the_password() {
        let s = State {
            host: "h".into(),
            port: 1,
            database: "d".into(),
            username: "u".into(),
            password: "hunter2hunter2".into(),
        };
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
