//! What the definition and the workload give the driver, what it keeps, and
//! the JSON Schema of the definition's part.

use serde::{Deserialize, Serialize};

/// `driver_inputs.values`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Values {
    /// The PowerDNS API base URL, e.g. `http://127.0.0.1:8081`.
    pub api_url: String,
    /// The zone records go into, e.g. `example.com.` (trailing dot optional).
    pub zone: String,
    #[serde(default = "default_server_id")]
    pub server_id: String,
    /// Default record type; the workload's `type` param wins.
    #[serde(default)]
    pub record_type: Option<RecordType>,
    /// Default target (an address for `A`/`AAAA`, a host name for `CNAME`);
    /// the workload's `target` param wins.
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default = "default_ttl")]
    pub ttl: u32,
}

fn default_server_id() -> String {
    "localhost".to_owned()
}

fn default_ttl() -> u32 {
    300
}

/// `driver_inputs.secrets`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    pub api_key: String,
}

/// The resource `params` from the workload. Unknown keys are ignored: the
/// same workload may meet another DNS driver in another environment.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Params {
    /// Host name: relative to the zone (`www`) or absolute inside it
    /// (`www.example.com`).
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default, rename = "type")]
    pub record_type: Option<RecordType>,
}

/// The record types the driver manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordType {
    A,
    #[serde(rename = "AAAA")]
    Aaaa,
    #[serde(rename = "CNAME")]
    Cname,
}

impl RecordType {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Cname => "CNAME",
        }
    }
}

/// What the driver made: enough to find it again after the inputs changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub api_url: String,
    pub server_id: String,
    /// Absolute, with the trailing dot.
    pub zone: String,
    /// Absolute, with the trailing dot.
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: RecordType,
    pub content: String,
    pub ttl: u32,
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
      "required": ["api_url", "zone"],
      "properties": {
        "api_url": {"type": "string", "pattern": "^https?://", "description": "PowerDNS API base URL; the definition needs a grant for it, e.g. http://127.0.0.1:8081"},
        "zone": {"type": "string", "minLength": 1, "description": "zone the records go into, e.g. example.com."},
        "server_id": {"type": "string", "default": "localhost"},
        "record_type": {"enum": ["A", "AAAA", "CNAME"], "description": "default type; the workload's type param wins; inferred from the target when absent"},
        "target": {"type": "string", "description": "default target: an address for A/AAAA, a host name for CNAME; the workload's target param wins"},
        "ttl": {"type": "integer", "minimum": 1, "maximum": 2147483647, "default": 300}
      }
    },
    "secrets": {
      "type": "object",
      "additionalProperties": false,
      "required": ["api_key"],
      "properties": {
        "api_key": {"type": "string", "minLength": 1}
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
    fn defaults_and_types() {
        let v: Values = json::decode(
            "driver_values",
            &json!({"api_url": "http://h:1", "zone": "z", "record_type": "CNAME"}),
        )
        .unwrap();
        assert_eq!(v.server_id, "localhost");
        assert_eq!(v.ttl, 300);
        assert_eq!(v.record_type, Some(RecordType::Cname));
        let err = json::decode::<Values>(
            "driver_values",
            &json!({"api_url": "http://h:1", "zone": "z", "record_type": "MX"}),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("driver_values.record_type"), "{err}");
    }

    #[test]
    fn params_ignore_unknown_keys() {
        let p: Params =
            json::decode("params", &json!({"host": "www", "type": "A", "other": 1})).unwrap();
        assert_eq!(p.host.as_deref(), Some("www"));
        assert_eq!(p.record_type, Some(RecordType::A));
    }

    #[test]
    fn schema_is_json() {
        let schema: serde_json::Value = serde_json::from_str(INPUTS_SCHEMA).unwrap();
        assert_eq!(schema["properties"]["secrets"]["required"][0], "api_key");
    }
}
