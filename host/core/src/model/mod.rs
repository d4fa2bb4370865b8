//! The orchestrator's vocabulary: environment types, apps, environments,
//! resource types, resource definitions, shared values, workloads and
//! deployment sets.

pub mod definition;
pub mod set;
pub mod types;
pub mod workload;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use definition::ResourceDefinition;

/// Groups environments (`development`, `staging`, `production`); the main
/// matching key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentType {
    pub id: String,
}

/// A set of workloads deployed together (one namespace per environment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub id: String,
}

/// An independent deployment target of an app, with exactly one type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    pub id: String,
    pub app: String,
    /// The environment type id (`spec.type` in the declarative document).
    #[serde(rename = "type")]
    pub env_type: String,
}

impl Environment {
    /// The matching context of this environment.
    pub fn context(&self) -> EnvContext {
        EnvContext {
            app_id: self.app.clone(),
            env_id: self.id.clone(),
            env_type: self.env_type.clone(),
        }
    }
}

/// Where a deployment happens: the part of the matching context that is the
/// same for every resource of one deployment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EnvContext {
    pub app_id: String,
    pub env_id: String,
    pub env_type: String,
}

impl EnvContext {
    pub fn new(
        app_id: impl Into<String>,
        env_id: impl Into<String>,
        env_type: impl Into<String>,
    ) -> Self {
        Self {
            app_id: app_id.into(),
            env_id: env_id.into(),
            env_type: env_type.into(),
        }
    }
}

/// One shared value. For a secret, `value` is whatever the caller hands in:
/// a reference (e.g. `secret://…` with a version) when planning, the
/// plaintext only when resolving inputs right before a driver call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedValue {
    pub value: String,
    #[serde(default)]
    pub secret: bool,
}

impl SharedValue {
    pub fn plain(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            secret: false,
        }
    }
    pub fn secret(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            secret: true,
        }
    }
}

/// The values one environment sees: key → value.
pub type ValueMap = BTreeMap<String, SharedValue>;

/// An app's shared values with per-environment overrides. Versioned: a
/// deployment pins the version it used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Values {
    #[serde(default)]
    pub version: u64,
    /// App-level values.
    #[serde(default)]
    pub app: ValueMap,
    /// env id → values that replace the app-level ones for that env.
    #[serde(default)]
    pub envs: BTreeMap<String, ValueMap>,
}

impl Values {
    /// The values environment `env_id` sees: app values, with that env's
    /// overrides replacing them key by key (secrecy comes with the override).
    pub fn for_env(&self, env_id: &str) -> ValueMap {
        let mut out = self.app.clone();
        if let Some(overrides) = self.envs.get(env_id) {
            for (k, v) in overrides {
                out.insert(k.clone(), v.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_replace_app_values_key_by_key() {
        let values: Values = serde_json::from_value(serde_json::json!({
            "version": 3,
            "app": {"A": {"value": "1"}, "PW": {"value": "app-pw", "secret": true}},
            "envs": {"prod": {"PW": {"value": "prod-pw", "secret": true}, "A": {"value": "p"}}}
        }))
        .unwrap_or_default();
        let dev = values.for_env("dev");
        assert_eq!(dev["A"], SharedValue::plain("1"));
        assert_eq!(dev["PW"], SharedValue::secret("app-pw"));
        let prod = values.for_env("prod");
        assert_eq!(prod["A"], SharedValue::plain("p"));
        assert_eq!(prod["PW"], SharedValue::secret("prod-pw"));
    }
}
