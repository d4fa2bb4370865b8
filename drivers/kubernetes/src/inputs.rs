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
    /// Decoded on use, so errors name `params.workload.…`.
    pub workload: Value,
    /// The WorkloadProfile spec selected for this workload, if any.
    #[serde(default)]
    pub profile: Option<Value>,
}

impl Params {
    pub fn workload(&self) -> Result<Workload, Error> {
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
    /// The namespace of every object.
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
    /// Testing aid: apply each rendered `apiVersion` as another one (e.g.
    /// `{"apps/v1": "apps.test.podium.dev/v1"}`), for API servers that serve
    /// stand-in custom resources instead of the real kinds.
    #[serde(default)]
    pub api_versions: BTreeMap<String, String>,
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
                "required": ["namespace"],
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
                    "namespace": {"type": "string"},
                    "gitops_dir": {"type": "string", "description": "absolute directory; grant file://<dir>"},
                    "profile": crate::profile::schema(),
                    "force_conflicts": {"type": "boolean", "default": false},
                    "api_versions": {"type": "object", "additionalProperties": {"type": "string"},
                        "description": "testing aid: apply apiVersion X as Y (stand-in custom resources)"}
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
                    "workload_secrets": {"type": "object", "description": "plaintext of the workload's secret strings by JSON pointer (set by the pipeline)"}
                }
            }
        }
    })
}
