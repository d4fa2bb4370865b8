//! Resource definitions and their matching criteria. Field names follow the
//! declarative `ResourceDefinition` document (`spec.type`, `driver_type`,
//! `driver_inputs.values/secrets`, `grants`, `criteria`).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ids::DEFAULT_CLASS;

/// Inputs handed to the driver; both may contain definition placeholders.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriverInputs {
    #[serde(default)]
    pub values: Map<String, Value>,
    #[serde(default)]
    pub secrets: Map<String, Value>,
}

/// The `spec` of a `ResourceDefinition` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefinitionSpec {
    #[serde(rename = "type")]
    pub res_type: String,
    pub driver_type: String,
    #[serde(default)]
    pub driver_inputs: DriverInputs,
    /// Capability grants (e.g. `postgres://127.0.0.1:55432`); may use
    /// placeholders.
    #[serde(default)]
    pub grants: Vec<String>,
    #[serde(default)]
    pub criteria: Vec<Criterion>,
}

/// How to fulfil one resource type in some contexts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceDefinition {
    pub id: String,
    /// Bumped by the store on every change; recorded per active resource so
    /// a plan can tell that the definition changed.
    #[serde(default)]
    pub version: u64,
    #[serde(flatten)]
    pub spec: DefinitionSpec,
}

impl ResourceDefinition {
    pub fn new(id: impl Into<String>, version: u64, spec: DefinitionSpec) -> Self {
        Self {
            id: id.into(),
            version,
            spec,
        }
    }
    pub fn res_type(&self) -> &str {
        &self.spec.res_type
    }
}

/// One matching criterion: every field it sets must equal the resource's
/// context. `class` unset means `default`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub res_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
}

impl Criterion {
    /// The class this criterion requires.
    pub fn class(&self) -> &str {
        self.class.as_deref().unwrap_or(DEFAULT_CLASS)
    }

    /// Which specificity fields are set.
    pub fn specificity(&self) -> Specificity {
        let bit = |set: bool, b: u8| if set { b } else { 0 };
        Specificity(
            bit(self.res_id.is_some(), Specificity::RES_ID)
                | bit(self.env_id.is_some(), Specificity::ENV_ID)
                | bit(self.app_id.is_some(), Specificity::APP_ID)
                | bit(self.env_type.is_some(), Specificity::ENV_TYPE),
        )
    }

    /// The fields in specificity order, most specific first.
    pub fn fields(&self) -> [(Field, Option<&str>); 4] {
        [
            (Field::ResId, self.res_id.as_deref()),
            (Field::EnvId, self.env_id.as_deref()),
            (Field::AppId, self.app_id.as_deref()),
            (Field::EnvType, self.env_type.as_deref()),
        ]
    }
}

/// Flow-style YAML, `{}` for the empty criterion, `class` only when set.
impl fmt::Display for Criterion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (field, value) in [
            ("env_type", &self.env_type),
            ("app_id", &self.app_id),
            ("env_id", &self.env_id),
            ("res_id", &self.res_id),
            ("class", &self.class),
        ] {
            if let Some(v) = value {
                parts.push(format!("{field}: {v}"));
            }
        }
        write!(f, "{{{}}}", parts.join(", "))
    }
}

/// A criterion field (class aside, which must always equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    ResId,
    EnvId,
    AppId,
    EnvType,
    Class,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::ResId => "res_id",
            Field::EnvId => "env_id",
            Field::AppId => "app_id",
            Field::EnvType => "env_type",
            Field::Class => "class",
        })
    }
}

/// Which of `res_id`, `env_id`, `app_id`, `env_type` a criterion sets, as
/// bits in that order of weight: comparing the numbers is exactly "set beats
/// unset at the first field that differs".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Specificity(pub u8);

impl Specificity {
    pub const RES_ID: u8 = 8;
    pub const ENV_ID: u8 = 4;
    pub const APP_ID: u8 = 2;
    pub const ENV_TYPE: u8 = 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specificity_orders_res_id_env_id_app_id_env_type() {
        let c = |v: serde_json::Value| -> Specificity {
            serde_json::from_value::<Criterion>(v)
                .unwrap_or_default()
                .specificity()
        };
        use serde_json::json;
        assert!(
            c(json!({"res_id": "x"})) > c(json!({"env_id": "a", "app_id": "b", "env_type": "c"}))
        );
        assert!(c(json!({"env_id": "a"})) > c(json!({"app_id": "b", "env_type": "c"})));
        assert!(c(json!({"app_id": "b"})) > c(json!({"env_type": "c"})));
        assert!(c(json!({"env_type": "c"})) > c(json!({"class": "large"})));
        assert_eq!(c(json!({})), Specificity(0));
    }

    #[test]
    fn unknown_criterion_fields_are_refused() {
        let r = serde_json::from_value::<Criterion>(serde_json::json!({"env": "dev"}));
        assert!(r.is_err());
    }
}
