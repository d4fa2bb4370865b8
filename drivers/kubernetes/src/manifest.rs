//! One rendered Kubernetes object and where it lives in the API.

use std::cmp::Ordering;

use podium_driver_sdk::json::canonical;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::names::short_hash;

/// Label carrying the owner id (the workload's GUResID) on every object:
/// what prune and delete select by.
pub const OWNER_LABEL: &str = "podium.dev/owner";
/// Annotation with a hash of the object as rendered (without this
/// annotation): what `plan` compares to tell `change` from `unchanged`.
pub const CONTENT_HASH: &str = "podium.dev/content-hash";
/// Pod template annotation: a hash of the ConfigMaps and Secrets the pods
/// use, so a changed file or secret rolls the pods.
pub const CONFIG_HASH: &str = "podium.dev/config-hash";

/// A rendered object.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub kind: Kind,
    pub name: String,
    pub namespace: String,
    /// The whole object (apiVersion, kind, metadata, …).
    pub body: Value,
}

/// The kinds the driver renders, in apply order (what others refer to
/// first). Prune and delete go in reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    ConfigMap,
    Secret,
    Deployment,
    StatefulSet,
    Service,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::ConfigMap,
        Kind::Secret,
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::Service,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ConfigMap => "ConfigMap",
            Kind::Secret => "Secret",
            Kind::Deployment => "Deployment",
            Kind::StatefulSet => "StatefulSet",
            Kind::Service => "Service",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The `apiVersion` of the real kind.
    pub fn api_version(self) -> &'static str {
        match self {
            Kind::Deployment | Kind::StatefulSet => "apps/v1",
            _ => "v1",
        }
    }

    /// The resource as RBAC names it (`deployments.apps`, `configmaps`).
    pub fn resource(self) -> String {
        match self.api_version().split_once('/') {
            Some((group, _)) => format!("{}.{group}", self.plural()),
            None => self.plural().to_owned(),
        }
    }

    /// The resource name in API paths.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::ConfigMap => "configmaps",
            Kind::Secret => "secrets",
            Kind::Deployment => "deployments",
            Kind::StatefulSet => "statefulsets",
            Kind::Service => "services",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Manifest {
    /// `Kind/name`, for messages and summaries.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    /// The file of this object in GitOps mode.
    pub fn file_name(&self) -> String {
        format!(
            "{}-{}.yaml",
            self.kind.as_str().to_ascii_lowercase(),
            self.name
        )
    }

    /// The content hash stored on the object.
    pub fn content_hash(&self) -> Option<&str> {
        self.body
            .pointer(&format!(
                "/metadata/annotations/{}",
                CONTENT_HASH.replace('/', "~1")
            ))
            .and_then(Value::as_str)
    }

    /// Sets the content-hash annotation from the object as it is now.
    pub(crate) fn seal(&mut self) {
        let hash = short_hash(&canonical(&self.body), 32);
        if let Some(annotations) = self
            .body
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
        {
            annotations.insert(CONTENT_HASH.to_owned(), Value::String(hash));
        }
    }
}

impl PartialOrd for Manifest {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Eq for Manifest {}

impl Ord for Manifest {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.kind, &self.name).cmp(&(other.kind, &other.name))
    }
}

/// What state keeps of an applied or written object (no content: secrets
/// stay out of state).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectRef {
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

impl From<&Manifest> for ObjectRef {
    fn from(m: &Manifest) -> Self {
        ObjectRef {
            kind: m.kind.as_str().to_owned(),
            name: m.name.clone(),
            namespace: m.namespace.clone(),
        }
    }
}
