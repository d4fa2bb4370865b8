//! The Score workload as the pipeline hands it over: placeholders resolved,
//! images filled in, and every string that held a secret output replaced by
//! `{"$secret": "<JSON pointer of that string>"}`.
//!
//! Maps are `BTreeMap`s: the rendering must not depend on the key order of
//! the JSON the driver received (the core stores canonical JSON).

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// The key of a secret reference object.
pub const SECRET_KEY: &str = "$secret";

/// A string of the workload: plain, or a reference to a secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Text {
    Plain(String),
    /// The JSON pointer of the string in the workload; its plaintext is in
    /// `driver_secrets.workload_secrets`.
    Secret(String),
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(s) => Ok(Text::Plain(s)),
            Value::Null => Ok(Text::Plain(String::new())),
            // A value that was exactly one placeholder keeps its JSON type;
            // Kubernetes wants strings.
            Value::Bool(b) => Ok(Text::Plain(b.to_string())),
            Value::Number(n) => Ok(Text::Plain(n.to_string())),
            Value::Object(map) if map.contains_key(SECRET_KEY) => {
                match (map.len(), map.get(SECRET_KEY)) {
                    (1, Some(Value::String(key))) => Ok(Text::Secret(key.clone())),
                    _ => Err(D::Error::custom(
                        "a secret reference must be exactly {\"$secret\": \"<JSON pointer>\"}",
                    )),
                }
            }
            other => Ok(Text::Plain(other.to_string())),
        }
    }
}

/// The part of a Score workload the Kubernetes driver renders. Unknown keys
/// (resources, extra metadata) are ignored: the pipeline has handled them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Workload {
    pub metadata: Metadata,
    #[serde(default)]
    pub service: Option<Service>,
    pub containers: BTreeMap<String, Container>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Metadata {
    pub name: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, Text>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct Service {
    #[serde(default)]
    pub ports: BTreeMap<String, ServicePort>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    pub port: u32,
    #[serde(default)]
    pub target_port: Option<u32>,
    #[serde(default)]
    pub protocol: Option<String>,
}

impl ServicePort {
    pub fn target_port(&self) -> u32 {
        self.target_port.unwrap_or(self.port)
    }

    pub fn protocol(&self) -> &str {
        self.protocol.as_deref().unwrap_or("TCP")
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub image: String,
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub args: Option<Vec<String>>,
    #[serde(default)]
    pub variables: BTreeMap<String, Text>,
    #[serde(default, deserialize_with = "map_or_list")]
    pub files: BTreeMap<String, File>,
    #[serde(default, deserialize_with = "map_or_list")]
    pub volumes: BTreeMap<String, Volume>,
    #[serde(default)]
    pub before: BTreeMap<String, Before>,
    #[serde(default)]
    pub resources: Option<Resources>,
    #[serde(default)]
    pub liveness_probe: Option<Probe>,
    #[serde(default)]
    pub readiness_probe: Option<Probe>,
}

/// `files.<target>`: exactly one of `content`, `binaryContent`, `source`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct File {
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub content: Option<Text>,
    #[serde(default)]
    pub binary_content: Option<String>,
    #[serde(default)]
    pub no_expand: Option<bool>,
}

/// `volumes.<target>`: `source` is the resolved volume reference.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    pub source: Value,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub read_only: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Before {
    pub ready: Readiness,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Readiness {
    Started,
    Healthy,
    Complete,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct Resources {
    #[serde(default)]
    pub limits: Option<Amounts>,
    #[serde(default)]
    pub requests: Option<Amounts>,
}

/// CPU and memory as written (`500m`, `128Mi`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
pub struct Amounts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    #[serde(default)]
    pub http_get: Option<HttpProbe>,
    #[serde(default)]
    pub exec: Option<ExecProbe>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpProbe {
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub scheme: Option<String>,
    pub path: String,
    pub port: u32,
    #[serde(default)]
    pub http_headers: Vec<HttpHeader>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HttpHeader {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExecProbe {
    pub command: Vec<String>,
}

/// `files`/`volumes`: the map form keyed by target path, or the deprecated
/// array form whose items carry `target`.
fn map_or_list<'de, D, T>(deserializer: D) -> Result<BTreeMap<String, T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let mut out = BTreeMap::new();
    match Value::deserialize(deserializer)? {
        Value::Null => {}
        Value::Object(map) => {
            for (target, item) in map {
                let item = serde_json::from_value(item)
                    .map_err(|e| D::Error::custom(format!("{target:?}: {e}")))?;
                out.insert(target, item);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.into_iter().enumerate() {
                let Value::Object(mut fields) = item else {
                    return Err(D::Error::custom(format!(
                        "item {index}: expected an object"
                    )));
                };
                let Some(Value::String(target)) = fields.remove("target") else {
                    return Err(D::Error::custom(format!(
                        "item {index}: `target` is required in the array form"
                    )));
                };
                let item = serde_json::from_value(Value::Object(fields))
                    .map_err(|e| D::Error::custom(format!("item {index}: {e}")))?;
                if out.insert(target.clone(), item).is_some() {
                    return Err(D::Error::custom(format!("duplicate target {target:?}")));
                }
            }
        }
        _ => return Err(D::Error::custom("expected a map of target paths")),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn texts_accept_secret_references_and_scalars() {
        let t: BTreeMap<String, Text> = serde_json::from_value(json!({
            "a": "x", "b": 5432, "c": true, "d": {"$secret": "/containers/m/variables/d"},
            "e": null, "f": {"k": 1}
        }))
        .unwrap();
        assert_eq!(t["a"], Text::Plain("x".into()));
        assert_eq!(t["b"], Text::Plain("5432".into()));
        assert_eq!(t["c"], Text::Plain("true".into()));
        assert_eq!(t["d"], Text::Secret("/containers/m/variables/d".into()));
        assert_eq!(t["e"], Text::Plain(String::new()));
        assert_eq!(t["f"], Text::Plain(r#"{"k":1}"#.into()));
        let bad: Result<Text, _> = serde_json::from_value(json!({"$secret": 1}));
        assert!(bad.is_err());
    }

    #[test]
    fn legacy_file_lists_are_read() {
        let c: Container = serde_json::from_value(json!({
            "image": "x",
            "files": [{"target": "/a", "content": "A"}],
            "volumes": [{"target": "/data", "source": "vol"}]
        }))
        .unwrap();
        assert_eq!(c.files["/a"].content, Some(Text::Plain("A".into())));
        assert_eq!(c.volumes["/data"].source, json!("vol"));
    }
}
