//! The typed Score v1b1 workload.
//!
//! Maps keep the order of the file (`IndexMap`). Objects the schema closes
//! (`additionalProperties: false`) reject unknown fields; the open ones
//! (workload and resource `metadata`, resource `params`) keep every extra key.
//! The deprecated array forms of `files` and `volumes` are read and upgraded
//! to the map form keyed by target path; output is always the map form.

use indexmap::IndexMap;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// The only `apiVersion` this crate reads.
pub const API_VERSION: &str = "score.dev/v1b1";

/// The image value meaning "the image is given at deploy time".
pub const DEPLOY_TIME_IMAGE: &str = ".";

/// One Score workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Workload {
    pub api_version: String,
    pub metadata: WorkloadMetadata,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
    pub containers: IndexMap<String, Container>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub resources: IndexMap<String, Resource>,
}

/// `metadata`: a name, annotations, and any other keys (kept as is).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadMetadata {
    pub name: String,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub annotations: IndexMap<String, String>,
    /// Keys other than `name` and `annotations`.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `service`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Service {
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub ports: IndexMap<String, ServicePort>,
}

/// `service.ports.<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServicePort {
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
}

impl ServicePort {
    /// `targetPort`, which defaults to `port`.
    pub fn target_port(&self) -> u16 {
        self.target_port.unwrap_or(self.port)
    }

    /// `protocol`, which defaults to TCP.
    pub fn protocol(&self) -> Protocol {
        self.protocol.unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Protocol {
    #[default]
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
}

/// `containers.<name>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Container {
    /// The image; `"."` means "given at deploy time". Never expanded.
    pub image: String,
    /// Never expanded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Never expanded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Expanded.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub variables: IndexMap<String, String>,
    /// Keyed by target path (the deprecated array form is upgraded on read).
    #[serde(
        default,
        skip_serializing_if = "IndexMap::is_empty",
        deserialize_with = "map_or_legacy_list"
    )]
    pub files: IndexMap<String, ContainerFile>,
    /// Keyed by target path (the deprecated array form is upgraded on read).
    #[serde(
        default,
        skip_serializing_if = "IndexMap::is_empty",
        deserialize_with = "map_or_legacy_list"
    )]
    pub volumes: IndexMap<String, ContainerVolume>,
    /// Containers that must reach a state before this one starts.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub before: IndexMap<String, Before>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ContainerResources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
}

impl Container {
    /// Whether the image is supplied at deploy time (`image: "."`).
    pub fn image_from_deploy(&self) -> bool {
        self.image == DEPLOY_TIME_IMAGE
    }
}

/// `containers.<name>.files.<target>`: exactly one of `content`,
/// `binaryContent` or `source` is set (the schema checks it).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerFile {
    /// Octal access mode such as `0600`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Path of a file next to the Score file; never expanded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Inline UTF-8 content; expanded unless `noExpand`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Inline standard base64; never expanded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_expand: Option<bool>,
}

impl ContainerFile {
    /// Whether placeholders in `content` are expanded.
    pub fn expands(&self) -> bool {
        !self.no_expand.unwrap_or(false)
    }
}

/// `containers.<name>.volumes.<target>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerVolume {
    /// The volume reference, usually `${resources.<name>}`; expanded.
    pub source: String,
    /// Sub path inside the volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// `containers.<name>.before.<container>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Before {
    pub ready: Readiness,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Readiness {
    Started,
    Healthy,
    Complete,
}

/// `containers.<name>.resources`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerResources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<ResourcesLimits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<ResourcesLimits>,
}

/// Memory (`128Mi`) and CPU (`500m`) amounts, as written.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
}

/// A liveness or readiness probe: at least one of `httpGet` and `exec`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Probe {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_get: Option<HttpProbe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecProbe>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpProbe {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<HttpScheme>,
    pub path: String,
    pub port: u16,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http_headers: Vec<HttpHeader>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum HttpScheme {
    #[default]
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "HTTPS")]
    Https,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpHeader {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecProbe {
    pub command: Vec<String>,
}

/// `resources.<name>`: a dependency the platform provisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    #[serde(rename = "type")]
    pub r#type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Set for a resource shared between workloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ResourceMetadata>,
    /// Provisioning parameters; expanded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Map<String, Value>>,
}

/// The class a resource without `class` has.
pub const DEFAULT_CLASS: &str = "default";

impl Resource {
    pub fn type_name(&self) -> &str {
        &self.r#type
    }

    /// `class`, or `"default"`.
    pub fn class(&self) -> &str {
        self.class.as_deref().unwrap_or(DEFAULT_CLASS)
    }

    /// The explicit `id` of a shared resource.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    pub fn params(&self) -> Option<&Map<String, Value>> {
        self.params.as_ref()
    }

    pub fn annotations(&self) -> Option<&IndexMap<String, String>> {
        self.metadata.as_ref().map(|m| &m.annotations)
    }
}

/// `resources.<name>.metadata`: annotations plus any other keys.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ResourceMetadata {
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub annotations: IndexMap<String, String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Workload {
    /// The workload as JSON (files and volumes in map form).
    pub fn to_json(&self) -> Value {
        // Serializing plain maps, strings and numbers into a Value cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Reads a workload from JSON that already passed validation (e.g. one
    /// stored by the core model). Does not run the schema or semantic checks;
    /// use [`crate::load_str`] for untrusted input.
    pub fn from_json(value: Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(value)
    }

    /// The workload name.
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// A declared resource by name.
    pub fn resource(&self, name: &str) -> Option<&Resource> {
        self.resources.get(name)
    }

    /// Declared resources in file order.
    pub fn resources(&self) -> impl Iterator<Item = (&str, &Resource)> {
        self.resources.iter().map(|(name, r)| (name.as_str(), r))
    }

    /// `metadata` as JSON, the context of `${metadata.…}` placeholders.
    pub fn metadata_json(&self) -> Value {
        serde_json::to_value(&self.metadata).unwrap_or(Value::Null)
    }
}

/// Reads `files` / `volumes`: the map form, or the deprecated array form whose
/// items carry a `target` that becomes the key.
fn map_or_legacy_list<'de, D, T>(deserializer: D) -> Result<IndexMap<String, T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let mut out = IndexMap::new();
    match Value::deserialize(deserializer)? {
        Value::Null => {}
        Value::Object(map) => {
            for (target, item) in map {
                let item = serde_json::from_value(item)
                    .map_err(|e| D::Error::custom(format!("'{target}': {e}")))?;
                out.insert(target, item);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.into_iter().enumerate() {
                let Value::Object(mut fields) = item else {
                    return Err(D::Error::custom(format!(
                        "item {index}: expected a mapping"
                    )));
                };
                let target = match fields.remove("target") {
                    Some(Value::String(target)) if !target.is_empty() => target,
                    _ => {
                        return Err(D::Error::custom(format!(
                            "item {index}: 'target' is required in the array form"
                        )));
                    }
                };
                let item = serde_json::from_value(Value::Object(fields))
                    .map_err(|e| D::Error::custom(format!("item {index}: {e}")))?;
                if out.insert(target.clone(), item).is_some() {
                    return Err(D::Error::custom(format!("duplicate target '{target}'")));
                }
            }
        }
        _ => return Err(D::Error::custom("expected a mapping of target paths")),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn array_forms_are_upgraded_to_maps() {
        let w = Workload::from_json(json!({
            "apiVersion": "score.dev/v1b1",
            "metadata": {"name": "web"},
            "containers": {"main": {
                "image": "nginx",
                "files": [{"target": "/etc/a.conf", "mode": "0600", "content": "x"}],
                "volumes": [{"target": "/data", "source": "${resources.vol}", "readOnly": true}]
            }},
            "resources": {"vol": {"type": "volume"}}
        }))
        .unwrap();
        let c = &w.containers["main"];
        assert_eq!(c.files["/etc/a.conf"].content.as_deref(), Some("x"));
        assert_eq!(c.files["/etc/a.conf"].mode.as_deref(), Some("0600"));
        assert_eq!(c.volumes["/data"].read_only, Some(true));
        let json = w.to_json();
        assert_eq!(
            json["containers"]["main"]["files"],
            json!({"/etc/a.conf": {"mode": "0600", "content": "x"}})
        );
        assert_eq!(
            json["containers"]["main"]["volumes"],
            json!({"/data": {"source": "${resources.vol}", "readOnly": true}})
        );
        // The upgraded form round-trips.
        assert_eq!(Workload::from_json(json).unwrap(), w);
    }

    #[test]
    fn legacy_errors() {
        let base = |files: Value| {
            Workload::from_json(
                json!({"apiVersion": "score.dev/v1b1", "metadata": {"name": "web"},
                "containers": {"main": {"image": "x", "files": files}}}),
            )
        };
        assert!(base(json!([{"content": "x"}])).is_err());
        assert!(
            base(json!([{"target": "/a", "content": "x"}, {"target": "/a", "content": "y"}]))
                .is_err()
        );
    }

    #[test]
    fn target_port_and_protocol_default() {
        let p: ServicePort = serde_json::from_value(json!({"port": 80})).unwrap();
        assert_eq!(p.target_port(), 80);
        assert_eq!(p.protocol(), Protocol::Tcp);
        let p: ServicePort =
            serde_json::from_value(json!({"port": 80, "targetPort": 8080, "protocol": "UDP"}))
                .unwrap();
        assert_eq!(p.target_port(), 8080);
        assert_eq!(p.protocol(), Protocol::Udp);
    }

    #[test]
    fn unknown_allowed_keys_are_kept_and_closed_objects_reject() {
        let doc = json!({
            "apiVersion": "score.dev/v1b1",
            "metadata": {"name": "web", "annotations": {"a.io/x": "1"}, "team": {"owner": "me"}},
            "containers": {"main": {"image": "."}},
            "resources": {"db": {"type": "postgres", "class": "large", "id": "main-db",
                "metadata": {"annotations": {"k": "v"}, "extra": [1]},
                "params": {"nested": {"x": 1}}}}
        });
        let w = Workload::from_json(doc.clone()).unwrap();
        assert_eq!(w.metadata.extra["team"], json!({"owner": "me"}));
        assert_eq!(w.to_json(), doc);
        assert!(w.containers["main"].image_from_deploy());
        let db = w.resource("db").unwrap();
        assert_eq!(
            (db.type_name(), db.class(), db.id()),
            ("postgres", "large", Some("main-db"))
        );
        assert_eq!(db.params().unwrap()["nested"], json!({"x": 1}));
        let names: Vec<&str> = w.resources().map(|(n, _)| n).collect();
        assert_eq!(names, ["db"]);

        let mut bad = doc;
        bad["containers"]["main"]["unknown"] = json!(1);
        assert!(Workload::from_json(bad).is_err());
    }

    #[test]
    fn class_defaults() {
        let r: Resource = serde_json::from_value(json!({"type": "dns"})).unwrap();
        assert_eq!(r.class(), "default");
        assert_eq!(r.id(), None);
    }
}
