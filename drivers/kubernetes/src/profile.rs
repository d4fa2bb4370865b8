//! Workload profiles: the platform's baseline for every rendered workload.
//!
//! A profile is a JSON object; the effective profile is the built-in
//! [`default_profile`] with `driver_values.profile` and then `params.profile`
//! merged over it (JSON merge patch, RFC 7386: objects merge key by key,
//! `null` removes a key, anything else replaces). So a definition can set
//! `replicas: 3` and keep the default security context, and
//! `replicas: null` leaves the field to an autoscaler.

use std::collections::BTreeMap;

use podium_driver_sdk::{Error, json};
use serde::Deserialize;
use serde_json::{Map, Value, json as j};

use crate::workload::Amounts;

/// The effective profile, decoded.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// `spec.replicas`; `None` leaves the field out (an autoscaler owns it).
    #[serde(default)]
    pub replicas: Option<u32>,
    /// Extra labels on every object and the pods (never in the selector).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Extra annotations on every object.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Extra annotations on the pods.
    #[serde(default)]
    pub pod_annotations: BTreeMap<String, String>,
    /// The pod `securityContext` (a Kubernetes `PodSecurityContext`).
    #[serde(default)]
    pub pod_security_context: Option<Map<String, Value>>,
    /// Every container's `securityContext` (a Kubernetes `SecurityContext`).
    #[serde(default)]
    pub container_security_context: Option<Map<String, Value>>,
    /// Requests and limits for what the workload leaves unset.
    #[serde(default)]
    pub resources: ResourceDefaults,
    /// `ClusterIP` (default), `NodePort` or `LoadBalancer`.
    #[serde(default = "cluster_ip")]
    pub service_type: String,
    #[serde(default)]
    pub service_account_name: Option<String>,
    #[serde(default)]
    pub automount_service_account_token: Option<bool>,
    /// `Always`, `IfNotPresent` or `Never`.
    #[serde(default)]
    pub image_pull_policy: Option<String>,
    /// Names of Secrets holding registry credentials.
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    /// Kubernetes `Toleration` objects, as given.
    #[serde(default)]
    pub tolerations: Vec<Value>,
    #[serde(default)]
    pub revision_history_limit: Option<u32>,
    #[serde(default)]
    pub termination_grace_period_seconds: Option<u32>,
    /// The per-replica claims of a StatefulSet (one per Score volume backed
    /// by a PersistentVolumeClaim).
    #[serde(default)]
    pub volume_claims: VolumeClaims,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeClaims {
    #[serde(default = "default_storage")]
    pub storage: String,
    #[serde(default)]
    pub storage_class_name: Option<String>,
    #[serde(default = "default_access_modes")]
    pub access_modes: Vec<String>,
}

impl Default for VolumeClaims {
    fn default() -> Self {
        VolumeClaims {
            storage: default_storage(),
            storage_class_name: None,
            access_modes: default_access_modes(),
        }
    }
}

fn default_storage() -> String {
    "1Gi".to_owned()
}

fn default_access_modes() -> Vec<String> {
    vec!["ReadWriteOnce".to_owned()]
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceDefaults {
    #[serde(default)]
    pub requests: Amounts,
    #[serde(default)]
    pub limits: Amounts,
}

fn cluster_ip() -> String {
    "ClusterIP".to_owned()
}

/// The built-in profile: one replica, a non-root restricted security
/// context (the Pod Security Standard "restricted" minus a read-only root
/// filesystem, which too many images cannot live with) and modest resources.
pub fn default_profile() -> Value {
    j!({
        "replicas": 1,
        "pod_security_context": {
            "runAsNonRoot": true,
            "seccompProfile": {"type": "RuntimeDefault"}
        },
        "container_security_context": {
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]}
        },
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "256Mi"}
        },
        "service_type": "ClusterIP",
        "revision_history_limit": 5
    })
}

/// RFC 7386 merge patch of `patch` onto `target`.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// The effective profile: default, then each layer (skipping absent ones).
pub fn effective(layers: &[(&str, Option<&Value>)]) -> Result<Profile, Error> {
    let mut profile = default_profile();
    let mut from = "the default profile".to_owned();
    for (what, layer) in layers {
        if let Some(layer) = layer {
            if !layer.is_object() {
                return Err(Error::invalid_input(format!(
                    "{what} must be an object (a WorkloadProfile spec)"
                )));
            }
            merge(&mut profile, layer);
            from = format!("{what} merged over {from}");
        }
    }
    let profile: Profile = json::decode("profile", &profile)
        .map_err(|e| Error::invalid_input(format!("{} (from {from})", e.message())))?;
    if !matches!(
        profile.service_type.as_str(),
        "ClusterIP" | "NodePort" | "LoadBalancer"
    ) {
        return Err(Error::invalid_input(format!(
            "profile.service_type: {:?} is not one of ClusterIP, NodePort, LoadBalancer",
            profile.service_type
        )));
    }
    if let Some(policy) = &profile.image_pull_policy
        && !matches!(policy.as_str(), "Always" | "IfNotPresent" | "Never")
    {
        return Err(Error::invalid_input(format!(
            "profile.image_pull_policy: {policy:?} is not one of Always, IfNotPresent, Never"
        )));
    }
    Ok(profile)
}

/// JSON Schema of a profile, for `info().inputs_schema` and the lead's
/// `WorkloadProfile` documents.
pub fn schema() -> Value {
    let amounts = j!({"type": "object", "additionalProperties": false,
        "properties": {"cpu": {"type": "string"}, "memory": {"type": "string"}}});
    let strings = j!({"type": "object", "additionalProperties": {"type": "string"}});
    j!({
        "type": "object",
        "additionalProperties": false,
        "description": "A workload profile, merged over the built-in default (JSON merge patch: null removes a key)",
        "properties": {
            "replicas": {"type": ["integer", "null"], "minimum": 0},
            "labels": strings,
            "annotations": strings,
            "pod_annotations": strings,
            "pod_security_context": {"type": ["object", "null"]},
            "container_security_context": {"type": ["object", "null"]},
            "resources": {"type": "object", "additionalProperties": false,
                "properties": {"requests": amounts, "limits": amounts}},
            "service_type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
            "service_account_name": {"type": ["string", "null"]},
            "automount_service_account_token": {"type": ["boolean", "null"]},
            "image_pull_policy": {"enum": ["Always", "IfNotPresent", "Never", null]},
            "image_pull_secrets": {"type": "array", "items": {"type": "string"}},
            "node_selector": strings,
            "tolerations": {"type": "array", "items": {"type": "object"}},
            "revision_history_limit": {"type": ["integer", "null"], "minimum": 0},
            "termination_grace_period_seconds": {"type": ["integer", "null"], "minimum": 0},
            "volume_claims": {"type": "object", "additionalProperties": false,
                "description": "StatefulSets (workload annotation k8s.score.dev/kind: StatefulSet): the claim template of each Score volume backed by a PersistentVolumeClaim",
                "properties": {
                    "storage": {"type": "string", "default": "1Gi"},
                    "storage_class_name": {"type": ["string", "null"]},
                    "access_modes": {"type": "array", "items": {"type": "string"}, "default": ["ReadWriteOnce"]}
                }}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_profile_decodes() {
        let p = effective(&[]).unwrap();
        assert_eq!(p.replicas, Some(1));
        assert_eq!(p.service_type, "ClusterIP");
        assert_eq!(p.resources.requests.cpu.as_deref(), Some("100m"));
        assert_eq!(
            p.pod_security_context.unwrap()["runAsNonRoot"],
            Value::Bool(true)
        );
    }

    #[test]
    fn layers_merge_in_order() {
        let definition = j!({"replicas": 3, "labels": {"team": "a"}});
        let workload = j!({"replicas": null, "resources": {"limits": {"cpu": "2"}}});
        let p = effective(&[
            ("driver_values.profile", Some(&definition)),
            ("params.profile", Some(&workload)),
        ])
        .unwrap();
        assert_eq!(p.replicas, None);
        assert_eq!(p.labels["team"], "a");
        assert_eq!(p.resources.limits.cpu.as_deref(), Some("2"));
        // Merged, not replaced: the default memory limit is still there.
        assert_eq!(p.resources.limits.memory.as_deref(), Some("256Mi"));
    }

    #[test]
    fn bad_profiles_are_explained() {
        let typo = j!({"replica": 2});
        let e = effective(&[("params.profile", Some(&typo))]).unwrap_err();
        assert!(e.message().contains("replica"), "{e}");
        assert!(e.message().contains("params.profile"), "{e}");
        let ty = j!({"service_type": "Headless"});
        assert!(effective(&[("x", Some(&ty))]).is_err());
        assert!(effective(&[("x", Some(&j!([1])))]).is_err());
    }
}
