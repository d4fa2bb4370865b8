//! The request documents of `podium/kubernetes`, their JSON Schema, and the
//! state it keeps.

use std::collections::BTreeMap;

use podium_driver_sdk::{Context, Error, json};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json as j};

use crate::manifest::ObjectRef;
use crate::names;
use crate::workload::Workload;

/// `params`: what the pipeline sends for a `workload` node.
#[derive(Debug, Clone, Deserialize)]
pub struct Params {
    /// The Score workload, placeholders resolved, secrets as references.
    /// Decoded on use, so errors name `params.workload.…`. Absent for a
    /// `k8s-namespace` resource.
    #[serde(default)]
    pub workload: Value,
    /// The WorkloadProfile spec selected for this workload, if any.
    #[serde(default)]
    pub profile: Option<Value>,
}

impl Params {
    pub fn workload(&self) -> Result<Workload, Error> {
        if self.workload.is_null() {
            return Err(Error::invalid_input(
                "params.workload is required for a workload resource",
            ));
        }
        json::decode("params.workload", &self.workload)
    }
}

/// Where the manifests go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Server-side apply to the API server at `cluster.url`.
    #[default]
    Apply,
    /// Files under `gitops_dir/<app>/<env>/`.
    Gitops,
}

/// `driver_inputs.values`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Values {
    #[serde(default)]
    pub mode: Mode,
    /// The API server (apply mode).
    #[serde(default)]
    pub cluster: Option<Cluster>,
    /// The namespace of every object (a workload), or the Namespace itself
    /// (a `k8s-namespace` resource; default `<app>-<env>`).
    #[serde(default)]
    pub namespace: String,
    /// The GitOps root directory (gitops mode); must be granted as
    /// `file://<dir>` (or a parent of it).
    #[serde(default)]
    pub gitops_dir: Option<String>,
    /// A WorkloadProfile spec for every workload of this definition.
    #[serde(default)]
    pub profile: Option<Value>,
    /// Take over fields another field manager changed (server-side apply
    /// `force`). Off: a conflict is reported, never silently overwritten.
    #[serde(default)]
    pub force_conflicts: bool,
    /// How long `apply` waits for each Deployment's rollout: seconds, or a
    /// string such as `"90s"`, `"5m"`; `0` does not wait. Default 5 minutes
    /// (the call's deadline bounds it too).
    #[serde(default)]
    pub rollout_timeout: Option<Value>,
    /// Labels of the Namespace (`k8s-namespace` resources), besides Podium's.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations of the Namespace (`k8s-namespace` resources).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The kubeconfig context of a `k8s-cluster` resource (default: its
    /// current context).
    #[serde(default)]
    pub context: Option<String>,
    /// What deleting a `k8s-namespace` resource does to the Namespace.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

/// What deleting a `k8s-namespace` resource does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeletionPolicy {
    /// Delete the Namespace (and so everything in it).
    #[default]
    Delete,
    /// Keep it (Podium's labels stay, so a later env adopts it).
    Retain,
}

/// The default rollout wait.
pub const DEFAULT_ROLLOUT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

impl Values {
    /// `rollout_timeout`, decoded.
    pub fn rollout_timeout(&self) -> Result<std::time::Duration, Error> {
        let Some(value) = &self.rollout_timeout else {
            return Ok(DEFAULT_ROLLOUT_TIMEOUT);
        };
        parse_duration(value).ok_or_else(|| {
            Error::invalid_input(format!(
                "driver_values.rollout_timeout: {value} is not a duration (seconds, or \"90s\", \"5m\", \"1h\")"
            ))
        })
    }
}

/// Seconds (a number), or a number with `s`, `m` or `h` (e.g. `"1m30s"`).
pub fn parse_duration(value: &Value) -> Option<std::time::Duration> {
    use std::time::Duration;
    if let Some(secs) = value.as_u64() {
        return Some(Duration::from_secs(secs));
    }
    let text = value.as_str()?.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let mut total = 0u64;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return None,
        };
        let n: u64 = digits.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        digits.clear();
    }
    if !digits.is_empty() {
        return None;
    }
    Some(Duration::from_secs(total))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// `https://HOST[:PORT]` of the API server.
    pub url: String,
    /// The cluster CA (PEM, or base64 of PEM as in a kubeconfig). Also
    /// accepted as the secret `ca_data`.
    #[serde(default)]
    pub ca_data: Option<String>,
}

/// `driver_inputs.secrets`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// Bearer token.
    #[serde(default)]
    pub token: Option<String>,
    /// Cluster CA (PEM or base64 of PEM).
    #[serde(default)]
    pub ca_data: Option<String>,
    /// Client certificate (PEM or base64 of PEM).
    #[serde(default)]
    pub client_cert: Option<String>,
    /// Client key (PEM or base64 of PEM).
    #[serde(default)]
    pub client_key: Option<String>,
    /// The content of a kubeconfig (`k8s-cluster` resources).
    #[serde(default)]
    pub kubeconfig: Option<String>,
    /// Plaintext of the workload's secret strings, by JSON pointer.
    #[serde(default)]
    pub workload_secrets: BTreeMap<String, Value>,
}

impl Secrets {
    /// The workload secrets as strings (a number stays its JSON text).
    pub fn workload_secret_strings(&self) -> BTreeMap<String, String> {
        self.workload_secrets
            .iter()
            .map(|(k, v)| {
                let s = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), s)
            })
            .collect()
    }
}

/// What `apply` keeps: what it applied or wrote, for prune and delete. No
/// content, so no secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub mode: Mode,
    pub namespace: String,
    pub objects: Vec<ObjectRef>,
    /// The directory written (gitops mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
}

/// The owner id of the workload's objects: its GUResID, or (for local test
/// calls without one) a hash of what identifies the resource.
pub fn owner(context: &Context) -> String {
    let g = &context.guresid;
    if !g.is_empty() && g.len() <= 63 && g.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return g.clone();
    }
    names::short_hash(
        &format!(
            "{}\n{}\n{}\n{}\n{}",
            context.app_id, context.env_id, context.res_type, context.res_class, context.res_id
        ),
        40,
    )
}

/// JSON Schema of `driver_inputs`.
pub fn schema() -> Value {
    j!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "values": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "mode": {"enum": ["apply", "gitops"], "default": "apply"},
                    "cluster": {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["url"],
                        "properties": {
                            "url": {"type": "string", "description": "https://HOST[:PORT] of the API server; grant it"},
                            "ca_data": {"type": "string", "description": "cluster CA, PEM or base64 of PEM"}
                        }
                    },
                    "namespace": {"type": "string", "description": "namespace of the workload's objects; for a k8s-namespace resource the Namespace (default <app>-<env>)"},
                    "gitops_dir": {"type": "string", "description": "absolute directory; grant file://<dir>"},
                    "profile": crate::profile::schema(),
                    "force_conflicts": {"type": "boolean", "default": false},
                    "rollout_timeout": {"type": ["integer", "string"], "default": "5m",
                        "description": "how long apply waits for each Deployment's rollout (seconds, or \"90s\", \"5m\"); 0 does not wait"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"},
                        "description": "k8s-namespace: labels of the Namespace besides Podium's"},
                    "annotations": {"type": "object", "additionalProperties": {"type": "string"},
                        "description": "k8s-namespace: annotations of the Namespace"},
                    "context": {"type": "string", "description": "k8s-cluster: the kubeconfig context (default: current-context)"},
                    "deletion_policy": {"enum": ["delete", "retain"], "default": "delete",
                        "description": "k8s-namespace: delete the Namespace with the resource, or keep it"}
                }
            },
            "secrets": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "token": {"type": "string"},
                    "ca_data": {"type": "string"},
                    "client_cert": {"type": "string"},
                    "client_key": {"type": "string"},
                    "kubeconfig": {"type": "string", "description": "k8s-cluster: the content of a kubeconfig (YAML or JSON)"},
                    "workload_secrets": {"type": "object", "description": "plaintext of the workload's secret strings by JSON pointer (set by the pipeline)"}
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        use std::time::Duration;
        for (value, secs) in [
            (j!(0), Some(0)),
            (j!(90), Some(90)),
            (j!("90"), Some(90)),
            (j!("90s"), Some(90)),
            (j!("5m"), Some(300)),
            (j!("1m30s"), Some(90)),
            (j!("1h"), Some(3600)),
            (j!("5 minutes"), None),
            (j!("m"), None),
            (j!("5x"), None),
            (j!(""), None),
            (j!(-1), None),
            (j!(1.5), None),
        ] {
            assert_eq!(
                parse_duration(&value),
                secs.map(Duration::from_secs),
                "{value}"
            );
        }
    }
}
