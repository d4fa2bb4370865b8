//! Deployment sets: the environment-independent desired state of an app.
//!
//! A set is immutable and content-addressed: its id is the sha256 hex of the
//! canonical JSON of `{"modules": …, "shared": …}` (sorted keys, no
//! whitespace), so equal content gives equal ids whatever the key order it
//! was built from, and any change gives a new id.
//!
//! - `modules`: workload name → Score workload (JSON), `metadata.name` equal
//!   to the key.
//! - `shared`: shared resource name → `{type, class?, params?}`; the node is
//!   `shared.<name>`, the same one a Score resource with `id: <name>` uses.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::workload::{ResourceRequest, resources_of};
use crate::canonical;

/// Why content is not a valid set.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SetError {
    #[error("module {key:?}: metadata.name is {name:?}, it must equal the module key")]
    NameMismatch { key: String, name: String },
    #[error("module {key:?}: {reason}")]
    InvalidModule { key: String, reason: String },
    #[error("shared resource {name:?}: {reason}")]
    InvalidShared { name: String, reason: String },
    #[error("set id {given} does not match its content (computed {computed})")]
    IdMismatch { given: String, computed: String },
}

/// An immutable, content-addressed deployment set.
///
/// Workloads are shared (`Arc`) between a set, the sets derived from it and
/// the graph's workload nodes, so neither a delta nor a plan copies them.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentSet {
    id: String,
    modules: BTreeMap<String, Arc<Value>>,
    shared: BTreeMap<String, Value>,
}

/// `{id, modules, shared}`.
impl Serialize for DeploymentSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Modules<'a>(&'a BTreeMap<String, Arc<Value>>);
        impl Serialize for Modules<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(self.0.iter().map(|(k, v)| (k, &**v)))
            }
        }
        let mut st = s.serialize_struct("DeploymentSet", 3)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("modules", &Modules(&self.modules))?;
        st.serialize_field("shared", &self.shared)?;
        st.end()
    }
}

/// The wire form; `id` is optional on input and checked when present.
#[derive(Deserialize)]
struct RawSet {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    modules: BTreeMap<String, Value>,
    #[serde(default)]
    shared: BTreeMap<String, Value>,
}

impl<'de> Deserialize<'de> for DeploymentSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawSet::deserialize(d)?;
        let set = DeploymentSet::new(raw.modules, raw.shared).map_err(serde::de::Error::custom)?;
        match raw.id {
            Some(given) if given != set.id => Err(serde::de::Error::custom(SetError::IdMismatch {
                given,
                computed: set.id,
            })),
            _ => Ok(set),
        }
    }
}

impl Default for DeploymentSet {
    fn default() -> Self {
        Self::empty()
    }
}

impl DeploymentSet {
    /// The empty set (an app's state before its first deployment).
    pub fn empty() -> Self {
        let modules = BTreeMap::new();
        let shared = BTreeMap::new();
        let id = compute_id(&modules, &shared);
        Self {
            id,
            modules,
            shared,
        }
    }

    /// Validates the content and computes the id. Values are stored with
    /// sorted keys, so serialising a set is deterministic too.
    pub fn new(
        modules: BTreeMap<String, Value>,
        shared: BTreeMap<String, Value>,
    ) -> Result<Self, SetError> {
        Self::from_shared(
            modules.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(),
            shared,
        )
    }

    /// [`DeploymentSet::new`] for workloads already behind `Arc`s; those
    /// already in canonical order are kept as they are (not copied).
    pub fn from_shared(
        modules: BTreeMap<String, Arc<Value>>,
        shared: BTreeMap<String, Value>,
    ) -> Result<Self, SetError> {
        let mut sorted_modules = BTreeMap::new();
        for (key, workload) in modules {
            validate_workload(&key, &workload)?;
            let workload = if canonical::is_sorted(&workload) {
                workload
            } else {
                Arc::new(canonical::sorted(&workload))
            };
            sorted_modules.insert(key, workload);
        }
        let mut sorted_shared = BTreeMap::new();
        for (name, resource) in shared {
            ResourceRequest::deserialize(&resource).map_err(|e| SetError::InvalidShared {
                name: name.clone(),
                reason: e.to_string(),
            })?;
            sorted_shared.insert(name, canonical::sorted(&resource));
        }
        let id = compute_id(&sorted_modules, &sorted_shared);
        Ok(Self {
            id,
            modules: sorted_modules,
            shared: sorted_shared,
        })
    }

    /// sha256 hex of the canonical content.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// Workload name → Score workload JSON.
    pub fn modules(&self) -> &BTreeMap<String, Arc<Value>> {
        &self.modules
    }
    pub fn module(&self, name: &str) -> Option<&Value> {
        self.modules.get(name).map(|w| &**w)
    }
    /// Shared resource name → `{type, class?, params?}`.
    pub fn shared(&self) -> &BTreeMap<String, Value> {
        &self.shared
    }
    /// `shared` as one JSON object (what `shared` delta ops patch).
    pub fn shared_json(&self) -> Value {
        Value::Object(self.shared.clone().into_iter().collect::<Map<_, _>>())
    }
    pub fn into_parts(self) -> (BTreeMap<String, Arc<Value>>, BTreeMap<String, Value>) {
        (self.modules, self.shared)
    }
}

/// What a set needs of a workload (full Score validation is the `score`
/// crate's job): an object whose `metadata.name` is the module key and
/// whose `resources`, if any, each have a string `type`. Borrowing only:
/// this runs for every module on every delta.
fn validate_workload(key: &str, workload: &Value) -> Result<(), SetError> {
    let invalid = |reason: String| SetError::InvalidModule {
        key: key.to_owned(),
        reason,
    };
    if !workload.is_object() {
        return Err(invalid("a workload must be an object".into()));
    }
    match workload.pointer("/metadata/name") {
        Some(Value::String(name)) if name == key => {}
        Some(Value::String(name)) => {
            return Err(SetError::NameMismatch {
                key: key.to_owned(),
                name: name.clone(),
            });
        }
        _ => return Err(invalid("metadata.name: missing or not a string".into())),
    }
    if workload.get("containers").is_some_and(|c| !c.is_object()) {
        return Err(invalid("containers: expected a map".into()));
    }
    resources_of(workload).map_err(|e| invalid(e.to_string()))?;
    Ok(())
}

fn compute_id(modules: &BTreeMap<String, Arc<Value>>, shared: &BTreeMap<String, Value>) -> String {
    // Built by hand rather than through a `Value` to avoid copying every
    // workload; `canonical::write` sorts nested keys.
    let mut text = String::from("{\"modules\":{");
    for (i, (k, v)) in modules.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        canonical::write(&mut text, &Value::String(k.clone()));
        text.push(':');
        canonical::write(&mut text, v);
    }
    text.push_str("},\"shared\":{");
    for (i, (k, v)) in shared.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        canonical::write(&mut text, &Value::String(k.clone()));
        text.push(':');
        canonical::write(&mut text, v);
    }
    text.push_str("}}");
    canonical::sha256_hex(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn id_is_digest_of_canonical_form() {
        let w = json!({"metadata": {"name": "web"}, "containers": {"main": {"image": "nginx"}}});
        let set = DeploymentSet::new([("web".to_string(), w.clone())].into(), BTreeMap::new())
            .unwrap_or_else(|e| panic!("{e}"));
        let expected = canonical::digest(&json!({"modules": {"web": w}, "shared": {}}));
        assert_eq!(set.id(), expected);
        assert_eq!(
            DeploymentSet::empty().id(),
            canonical::digest(&json!({"modules": {}, "shared": {}}))
        );
    }
}
