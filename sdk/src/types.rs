//! Plain Rust mirrors of the WIT records a driver sees and returns.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::Error;

/// Where a call comes from: the resource being provisioned and the deployment
/// that asked for it (WIT `context`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Context {
    /// The application id, e.g. `shop`.
    pub app_id: String,
    /// The environment id, e.g. `dev`.
    pub env_id: String,
    /// The environment type, e.g. `development`.
    pub env_type: String,
    /// The resource id, e.g. `modules.api.externals.db` or `shared.cache`.
    pub res_id: String,
    /// The resource type, e.g. `postgres`.
    pub res_type: String,
    /// The resource class, `default` unless asked otherwise.
    pub res_class: String,
    /// Globally unique, stable resource id: good for deriving names.
    pub guresid: String,
    /// The deployment making this call; empty for local test calls.
    pub deploy_id: String,
}

/// Describes a driver (WIT `info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// Human-readable name, e.g. `podium/postgres`.
    pub name: String,
    /// The driver's own version (semver).
    pub version: String,
    /// Resource types the driver provisions; `["*"]` means any.
    pub resource_types: Vec<String>,
    /// JSON Schema of the accepted `driver_inputs` (`{}` if unspecified).
    pub inputs_schema: String,
}

impl Info {
    /// Info with no resource types and an empty (`{}`) inputs schema.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            resource_types: Vec::new(),
            inputs_schema: "{}".to_owned(),
        }
    }

    /// Sets the resource types.
    pub fn resource_types<I, S>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.resource_types = types.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the JSON Schema of the accepted `driver_inputs`.
    pub fn inputs_schema(mut self, schema: impl Into<String>) -> Self {
        self.inputs_schema = schema.into();
        self
    }
}

/// What `apply` (or `delete`) would do (WIT `action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The resource does not exist yet and would be created.
    Create,
    /// The resource exists and would be changed.
    Update,
    /// The resource exists and matches the request.
    Unchanged,
    /// The resource would be removed.
    Delete,
}

/// The answer of `plan` (WIT `plan`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// What `apply` would do.
    pub action: Action,
    /// One line for humans, e.g. `create database shop_dev_db`.
    pub summary: String,
}

impl Plan {
    /// A plan with the given action and summary.
    pub fn new(action: Action, summary: impl Into<String>) -> Self {
        Self {
            action,
            summary: summary.into(),
        }
    }

    /// [`Action::Create`].
    pub fn create(summary: impl Into<String>) -> Self {
        Self::new(Action::Create, summary)
    }

    /// [`Action::Update`].
    pub fn update(summary: impl Into<String>) -> Self {
        Self::new(Action::Update, summary)
    }

    /// [`Action::Unchanged`].
    pub fn unchanged(summary: impl Into<String>) -> Self {
        Self::new(Action::Unchanged, summary)
    }

    /// [`Action::Delete`].
    pub fn delete(summary: impl Into<String>) -> Self {
        Self::new(Action::Delete, summary)
    }
}

/// What a successful `apply` produces: output values, secret outputs and the
/// state to get back next time.
///
/// ```
/// use podium_driver_sdk::Outputs;
/// let out: Outputs<serde_json::Value> = Outputs::new()
///     .value("host", "db.internal")
///     .value("port", 5432)
///     .secret("password", "s3cret")
///     .state(serde_json::json!({"created": true}));
/// assert_eq!(out.values["port"], 5432);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Outputs<S> {
    /// Output values, visible to users and other resources.
    pub values: Map<String, Value>,
    /// Secret outputs; the host encrypts them and hands them on by reference.
    pub secrets: Map<String, Value>,
    /// State to keep for the next call on this resource; `None` keeps none.
    pub state: Option<S>,
}

impl<S> Default for Outputs<S> {
    fn default() -> Self {
        Self {
            values: Map::new(),
            secrets: Map::new(),
            state: None,
        }
    }
}

impl<S> Outputs<S> {
    /// No values, no secrets, no state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) one output value.
    pub fn value(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.values.insert(key.into(), value.into());
        self
    }

    /// Adds (or replaces) one secret output.
    pub fn secret(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.secrets.insert(key.into(), value.into());
        self
    }

    /// Merges the fields of `values` (which must serialise to a JSON object)
    /// into the output values, replacing existing keys.
    pub fn values_from<T: Serialize + ?Sized>(mut self, values: &T) -> Result<Self, Error> {
        self.values.extend(to_object(values, "output values")?);
        Ok(self)
    }

    /// Merges the fields of `secrets` (which must serialise to a JSON object)
    /// into the secret outputs, replacing existing keys.
    pub fn secrets_from<T: Serialize + ?Sized>(mut self, secrets: &T) -> Result<Self, Error> {
        self.secrets.extend(to_object(secrets, "output secrets")?);
        Ok(self)
    }

    /// Sets the state to keep.
    pub fn state(mut self, state: S) -> Self {
        self.state = Some(state);
        self
    }
}

/// Serialises `value` and insists on a JSON object.
fn to_object<T: Serialize + ?Sized>(value: &T, what: &str) -> Result<Map<String, Value>, Error> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Error::failed(format!(
            "{what} must be a JSON object, not {}",
            crate::json::type_name(&other)
        ))),
        Err(e) => Err(Error::failed(format!("cannot serialise {what}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outputs_builder_merges() {
        let out: Outputs<()> = Outputs::new()
            .value("a", 1)
            .values_from(&json!({"a": 2, "b": "x"}))
            .and_then(|o| o.secrets_from(&json!({"p": "s"})))
            .unwrap_or_default();
        assert_eq!(Value::Object(out.values), json!({"a": 2, "b": "x"}));
        assert_eq!(Value::Object(out.secrets), json!({"p": "s"}));
    }

    #[test]
    fn outputs_from_non_object_fails() {
        let err = Outputs::<()>::new().values_from(&json!([1])).err();
        assert_eq!(
            err,
            Some(Error::failed(
                "output values must be a JSON object, not an array"
            ))
        );
    }

    #[test]
    fn info_builder() {
        let info = Info::new("x/y", "1.0.0").resource_types(["*"]);
        assert_eq!(info.resource_types, vec!["*".to_owned()]);
        assert_eq!(info.inputs_schema, "{}");
    }
}
