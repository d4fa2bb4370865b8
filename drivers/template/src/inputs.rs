//! Splitting the driver inputs into templates and data, and the digest that
//! `plan` compares.

use podium_driver_sdk::serde_json::{Map, Value};
use podium_driver_sdk::{Context, Error, json};
use sha2::{Digest, Sha256};

/// The key under which templates are given, in driver values and secrets.
pub(crate) const TEMPLATES: &str = "templates";

/// The templates of one request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Templates {
    pub init: Option<String>,
    pub outputs: Option<String>,
    pub secrets: Option<String>,
    pub state: Option<String>,
}

/// Takes `templates` out of the driver values and secrets.
pub(crate) fn take_templates(
    values: &mut Map<String, Value>,
    secrets: &mut Map<String, Value>,
) -> Result<Templates, Error> {
    let mut from_values = take_object(values, "driver_values")?;
    let mut from_secrets = take_object(secrets, "driver_secrets")?;
    let mut templates = Templates {
        init: take_string(&mut from_values, "driver_values", "init")?,
        outputs: take_string(&mut from_values, "driver_values", "outputs")?,
        secrets: take_string(&mut from_values, "driver_values", "secrets")?,
        state: take_string(&mut from_values, "driver_values", "state")?,
    };
    let secret_secrets = take_string(&mut from_secrets, "driver_secrets", "secrets")?;
    for (map, what) in [
        (&from_values, "driver_values"),
        (&from_secrets, "driver_secrets"),
    ] {
        if let Some(key) = map.keys().next() {
            return Err(Error::invalid_input(format!(
                "{what}.{TEMPLATES}.{key}: unknown template; known: init, outputs, secrets, state{}",
                if what == "driver_secrets" {
                    " (only secrets here)"
                } else {
                    ""
                }
            )));
        }
    }
    if let Some(template) = secret_secrets {
        if templates.secrets.is_some() {
            return Err(Error::invalid_input(
                "templates.secrets is given in both driver_values and driver_secrets; keep one",
            ));
        }
        templates.secrets = Some(template);
    }
    Ok(templates)
}

fn take_object(map: &mut Map<String, Value>, what: &str) -> Result<Map<String, Value>, Error> {
    match map.remove(TEMPLATES) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(templates)) => Ok(templates),
        Some(other) => Err(Error::invalid_input(format!(
            "{what}.{TEMPLATES} must be an object, not {}",
            json::type_name(&other)
        ))),
    }
}

fn take_string(
    map: &mut Map<String, Value>,
    what: &str,
    key: &str,
) -> Result<Option<String>, Error> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(Error::invalid_input(format!(
            "{what}.{TEMPLATES}.{key} must be a string (a template), not {}",
            json::type_name(&other)
        ))),
    }
}

/// sha256 hex of the canonical JSON of everything the rendering depends on
/// except the previous state: the context (without `deploy_id`, which
/// changes on every deployment), params, driver values and secrets
/// (templates included).
pub(crate) fn digest(context: &Context, params: &Value, values: &Value, secrets: &Value) -> String {
    let mut context = podium_driver_sdk::serde_json::to_value(context).unwrap_or_default();
    if let Value::Object(map) = &mut context {
        map.remove("deploy_id");
    }
    let all = Value::Array(vec![
        context,
        params.clone(),
        values.clone(),
        secrets.clone(),
    ]);
    hex::encode(Sha256::digest(json::canonical(&all).as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use podium_driver_sdk::serde_json::json;

    fn split(values: Value, secrets: Value) -> Result<(Templates, Value, Value), Error> {
        let (Value::Object(mut v), Value::Object(mut s)) = (values, secrets) else {
            return Err(Error::failed("test inputs must be objects"));
        };
        let t = take_templates(&mut v, &mut s)?;
        Ok((t, Value::Object(v), Value::Object(s)))
    }

    #[test]
    fn templates_come_out_of_the_inputs() {
        let got = split(
            json!({"a": 1, "templates": {"outputs": "o", "init": "i"}}),
            json!({"p": "s", "templates": {"secrets": "s"}}),
        );
        let want = Templates {
            init: Some("i".into()),
            outputs: Some("o".into()),
            secrets: Some("s".into()),
            state: None,
        };
        assert_eq!(got, Ok((want, json!({"a": 1}), json!({"p": "s"}))));
    }

    #[test]
    fn bad_templates_are_invalid_input() {
        let cases = [
            (json!({"templates": "x"}), json!({})),
            (json!({"templates": {"outputs": 1}}), json!({})),
            (json!({"templates": {"output": "x"}}), json!({})),
            (json!({}), json!({"templates": {"outputs": "x"}})),
            (
                json!({"templates": {"secrets": "a"}}),
                json!({"templates": {"secrets": "b"}}),
            ),
        ];
        for (values, secrets) in cases {
            let err = split(values.clone(), secrets).err().map(|e| e.kind());
            assert_eq!(err, Some("invalid-input"), "{values}");
        }
    }

    #[test]
    fn digest_ignores_deploy_id_and_key_order() {
        let mut c = Context {
            deploy_id: "d1".into(),
            ..Context::default()
        };
        let a = digest(&c, &json!({"x": 1, "y": 2}), &json!({}), &json!({}));
        c.deploy_id = "d2".into();
        assert_eq!(
            a,
            digest(&c, &json!({"y": 2, "x": 1}), &json!({}), &json!({}))
        );
        c.app_id = "other".into();
        assert_ne!(
            a,
            digest(&c, &json!({"x": 1, "y": 2}), &json!({}), &json!({}))
        );
    }
}
