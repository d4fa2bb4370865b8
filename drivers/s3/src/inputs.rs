//! What the definition gives the driver, what it keeps, and the JSON Schema
//! of the former.

use serde::{Deserialize, Serialize};

/// `driver_inputs.values`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Values {
    /// The S3 endpoint, e.g. `http://127.0.0.1:15001`; requests are
    /// path-style (`<endpoint>/<bucket>/<key>`).
    pub endpoint: String,
    #[serde(default = "default_region")]
    pub region: String,
    /// Delete a bucket that still holds objects (emptying it first).
    #[serde(default)]
    pub force_delete: bool,
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

/// `driver_inputs.secrets`: the key the driver works with, also handed to
/// the workload as the bucket's credentials.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    pub access_key_id: String,
    pub secret_key: String,
}

/// What the driver made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
}

/// JSON Schema of `driver_inputs`.
pub const INPUTS_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["values", "secrets"],
  "properties": {
    "values": {
      "type": "object",
      "additionalProperties": false,
      "required": ["endpoint"],
      "properties": {
        "endpoint": {"type": "string", "pattern": "^https?://", "description": "S3 endpoint for path-style requests; the definition needs a grant for it, e.g. http://127.0.0.1:15001"},
        "region": {"type": "string", "minLength": 1, "default": "us-east-1", "description": "signing region (and LocationConstraint outside us-east-1)"},
        "force_delete": {"type": "boolean", "default": false, "description": "delete a bucket that still holds objects, emptying it first"}
      }
    },
    "secrets": {
      "type": "object",
      "additionalProperties": false,
      "required": ["access_key_id", "secret_key"],
      "properties": {
        "access_key_id": {"type": "string", "minLength": 1},
        "secret_key": {"type": "string", "minLength": 1}
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
    fn defaults_apply_and_typos_are_named() {
        let v: Values = json::decode("driver_values", &json!({"endpoint": "http://h:1"})).unwrap();
        assert_eq!(v.region, "us-east-1");
        assert!(!v.force_delete);
        let err = json::decode::<Values>(
            "driver_values",
            &json!({"endpoint": "http://h:1", "force_delte": true}),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("unknown field `force_delte`"), "{err}");
    }

    #[test]
    fn schema_is_json() {
        let schema: serde_json::Value = serde_json::from_str(INPUTS_SCHEMA).unwrap();
        assert_eq!(schema["properties"]["values"]["required"][0], "endpoint");
    }
}
