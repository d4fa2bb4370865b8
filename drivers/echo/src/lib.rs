//! Built-in driver `podium/echo`: returns its inputs as outputs.
//!
//! It provisions nothing and has no side effects, which makes it the driver
//! for tests, demos and resources that are pure configuration. It accepts
//! every resource type.
//!
//! - `apply`: output values are the driver values with the params on top
//!   (a param wins over a driver value of the same key); output secrets are
//!   the driver secrets; state is `{"inputs": "<digest>"}`, the sha256 (hex)
//!   of the canonical JSON of `[params, driver values, driver secrets]`.
//! - `plan`: `create` without state, `unchanged` when the digest matches the
//!   state's, `update` otherwise.
//! - `delete`: succeeds.
//!
//! Params, driver values and driver secrets must be JSON objects.

use podium_driver_sdk::serde_json::{Map, Value, json};
use podium_driver_sdk::{Driver, Error, Info, Outputs, Plan, Request, json};
use sha2::{Digest, Sha256};

/// The `podium/echo` driver.
pub struct Echo;

type Object = Map<String, Value>;

impl Driver for Echo {
    type Params = Object;
    type Values = Object;
    type Secrets = Object;
    // Untyped so that a foreign state (e.g. from another driver version)
    // plans as `update` instead of failing.
    type State = Value;

    fn info() -> Info {
        Info::new("podium/echo", env!("CARGO_PKG_VERSION")).resource_types(["*"])
    }

    fn plan(req: Request<Self>) -> Result<Plan, Error> {
        let what = describe(&req);
        let digest = inputs_digest(&req);
        Ok(match &req.state {
            None => Plan::create(format!("echo {what}")),
            Some(state) if state.get("inputs").and_then(Value::as_str) == Some(&digest) => {
                Plan::unchanged(format!("echo {what}"))
            }
            Some(_) => Plan::update(format!("echo {what} with changed inputs")),
        })
    }

    fn apply(req: Request<Self>) -> Result<Outputs<Value>, Error> {
        let digest = inputs_digest(&req);
        let mut values = req.driver_values;
        values.extend(req.params);
        Ok(Outputs {
            values,
            secrets: req.driver_secrets,
            state: Some(json!({ "inputs": digest })),
        })
    }

    fn delete(_req: Request<Self>) -> Result<(), Error> {
        Ok(())
    }
}

/// `postgres modules.api.externals.db`, for plan summaries.
fn describe(req: &Request<Echo>) -> String {
    format!("{} {}", req.context.res_type, req.context.res_id)
}

/// sha256 hex of the canonical JSON of `[params, values, secrets]`.
fn inputs_digest(req: &Request<Echo>) -> String {
    let inputs = Value::Array(vec![
        Value::Object(req.params.clone()),
        Value::Object(req.driver_values.clone()),
        Value::Object(req.driver_secrets.clone()),
    ]);
    hex::encode(Sha256::digest(json::canonical(&inputs).as_bytes()))
}

podium_driver_sdk::export!(Echo);

#[cfg(test)]
mod tests {
    use super::*;
    use podium_driver_sdk::Action;
    use podium_driver_sdk::adapter::{self, RawRequest};

    fn raw(params: Value, values: Value, secrets: Value, state: Option<&str>) -> RawRequest {
        RawRequest {
            params: params.to_string(),
            driver_values: values.to_string(),
            driver_secrets: secrets.to_string(),
            state: state.map(Into::into),
            ..RawRequest::default()
        }
    }

    #[test]
    fn apply_echoes_and_plans_follow_the_digest() {
        let request = raw(
            json!({"a": 1, "b": 2}),
            json!({"b": 0, "c": 3}),
            json!({"s": "x"}),
            None,
        );
        let Ok(out) = adapter::apply::<Echo>(request.clone()) else {
            panic!("apply failed");
        };
        assert_eq!(out.values, r#"{"b":2,"c":3,"a":1}"#);
        assert_eq!(out.secrets, r#"{"s":"x"}"#);
        let state = out.state.unwrap_or_default();
        let expected = hex::encode(Sha256::digest(
            br#"[{"a":1,"b":2},{"b":0,"c":3},{"s":"x"}]"#,
        ));
        assert_eq!(state, format!(r#"{{"inputs":"{expected}"}}"#));

        let action = |r: RawRequest| adapter::plan::<Echo>(r).map(|p| p.action);
        assert_eq!(action(request.clone()), Ok(Action::Create));
        // Key order does not matter.
        let same = raw(
            json!({"b": 2, "a": 1}),
            json!({"c": 3, "b": 0}),
            json!({"s": "x"}),
            Some(&state),
        );
        assert_eq!(action(same), Ok(Action::Unchanged));
        let changed = raw(
            json!({"a": 1, "b": 2}),
            json!({"b": 0, "c": 3}),
            json!({"s": "y"}),
            Some(&state),
        );
        assert_eq!(action(changed), Ok(Action::Update));
        let foreign = raw(json!({}), json!({}), json!({}), Some("[1]"));
        assert_eq!(action(foreign), Ok(Action::Update));
    }

    #[test]
    fn non_objects_are_invalid_input() {
        let err = adapter::apply::<Echo>(raw(json!([1]), json!({}), json!({}), None)).err();
        assert_eq!(err.map(|e| e.kind()), Some("invalid-input"));
        assert_eq!(
            adapter::delete::<Echo>(raw(json!({}), json!({}), json!({}), None)),
            Ok(())
        );
    }
}
