//! Built-in driver `podium/template`: defines simple resources without code,
//! by rendering their outputs, secrets and state from
//! [minijinja](https://docs.rs/minijinja) templates. It accepts every
//! resource type.
//!
//! # Convention
//!
//! The templates live in the resource definition's driver inputs:
//!
//! | Key | Rendered to | Becomes |
//! |---|---|---|
//! | `values.templates.init` (optional) | YAML, first | `init` in the other templates |
//! | `values.templates.outputs` | YAML mapping | output values |
//! | `values.templates.secrets` or `secrets.templates.secrets` | YAML mapping | output secrets |
//! | `values.templates.state` | YAML mapping | state, passed back as `state` next time |
//!
//! Every template is optional; a missing one (or one that renders to
//! nothing) yields an empty mapping. Put the secrets template in the driver
//! secrets when the template itself holds secrets; giving it in both places
//! is an error.
//!
//! Templates see:
//!
//! - `context`: `app_id`, `env_id`, `env_type`, `res_id`, `res_type`,
//!   `res_class`, `guresid`, `deploy_id`;
//! - `params`: the resource params from the workload;
//! - `values`: the driver values without `templates`;
//! - `secrets`: the driver secrets without `templates`;
//! - `state`: the state the last `apply` returned (without the driver's own
//!   `__inputs` key), or none on creation — test it with `{% if state %}`;
//! - `init`: the parsed result of the `init` template (`{}` without one).
//!
//! Undefined variables and attributes are errors (`invalid-input`, naming the
//! template and line), so a typo fails loudly. Rendered text is parsed as
//! YAML: write `{{ value | tojson }}` to insert a value with its JSON type
//! and safe quoting. The standard minijinja filters are available.
//!
//! ```yaml
//! driver_type: podium/template
//! driver_inputs:
//!   values:
//!     domain: example.com
//!     templates:
//!       init: |
//!         host: {{ context.res_id | replace(".", "-") }}.{{ values.domain }}
//!       outputs: |
//!         host: {{ init.host | tojson }}
//!         url: {{ ("https://" ~ init.host) | tojson }}
//!       state: |
//!         first_deploy: {{ (state.first_deploy if state else context.deploy_id) | tojson }}
//!   secrets:
//!     token: "${values.API_TOKEN}"
//!     templates:
//!       secrets: |
//!         token: {{ secrets.token | tojson }}
//! ```
//!
//! # Plan
//!
//! `apply` stores a digest of its inputs (context without `deploy_id`,
//! params, driver values and secrets, templates included) under the state
//! key `__inputs`. `plan` renders every template (so template errors show up
//! in plans) and answers `create` without state, `unchanged` when the digest
//! matches and `update` otherwise. `delete` does nothing and succeeds.

mod inputs;
mod render;

use podium_driver_sdk::serde_json::{Map, Value};
use podium_driver_sdk::{Driver, Error, Info, Outputs, Plan, Request};

use inputs::{Templates, digest, take_templates};
use render::{Scope, environment, render_object, render_yaml};

/// The state key holding the inputs digest.
const INPUTS_KEY: &str = "__inputs";

/// The `podium/template` driver.
pub struct Template;

impl Driver for Template {
    type Params = Value;
    type Values = Map<String, Value>;
    type Secrets = Map<String, Value>;
    type State = Value;

    fn info() -> Info {
        Info::new("podium/template", env!("CARGO_PKG_VERSION")).resource_types(["*"])
    }

    fn plan(req: Request<Self>) -> Result<Plan, Error> {
        let what = format!("{} {}", req.context.res_type, req.context.res_id);
        let previous = req
            .state
            .as_ref()
            .and_then(|s| s.get(INPUTS_KEY))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let first = req.state.is_none();
        let rendered = render_all(req)?;
        Ok(if first {
            Plan::create(format!("render {what}"))
        } else if previous.as_deref() == Some(rendered.digest.as_str()) {
            Plan::unchanged(format!("render {what}"))
        } else {
            Plan::update(format!("render {what} with changed inputs"))
        })
    }

    fn apply(req: Request<Self>) -> Result<Outputs<Value>, Error> {
        let Rendered {
            values,
            secrets,
            mut state,
            digest,
        } = render_all(req)?;
        state.insert(INPUTS_KEY.to_owned(), Value::String(digest));
        Ok(Outputs {
            values,
            secrets,
            state: Some(Value::Object(state)),
        })
    }

    fn delete(_req: Request<Self>) -> Result<(), Error> {
        Ok(())
    }
}

/// Everything `apply` produces.
struct Rendered {
    values: Map<String, Value>,
    secrets: Map<String, Value>,
    state: Map<String, Value>,
    digest: String,
}

fn render_all(req: Request<Template>) -> Result<Rendered, Error> {
    let mut values = req.driver_values;
    let mut secrets = req.driver_secrets;
    let digest = digest(
        &req.context,
        &req.params,
        &Value::Object(values.clone()),
        &Value::Object(secrets.clone()),
    );
    let templates: Templates = take_templates(&mut values, &mut secrets)?;
    let state = req.state.map(|state| match state {
        Value::Object(mut map) => {
            map.remove(INPUTS_KEY);
            Value::Object(map)
        }
        other => other,
    });
    let (values, secrets) = (Value::Object(values), Value::Object(secrets));
    let scope = Scope {
        context: &req.context,
        params: &req.params,
        values: &values,
        secrets: &secrets,
        state: state.as_ref(),
    };
    let env = environment();
    let empty = Value::Object(Map::new());
    let init = match &templates.init {
        Some(source) => match render_yaml(&env, "init", source, &scope, &empty, false)? {
            Value::Null => empty,
            init => init,
        },
        None => empty,
    };
    let render = |name: &str, source: &Option<String>, secret: bool| match source {
        Some(source) => render_object(&env, name, source, &scope, &init, secret),
        None => Ok(Map::new()),
    };
    Ok(Rendered {
        values: render("outputs", &templates.outputs, false)?,
        secrets: render("secrets", &templates.secrets, true)?,
        state: render("state", &templates.state, false)?,
        digest,
    })
}

podium_driver_sdk::export!(Template);

#[cfg(test)]
mod tests {
    use super::*;
    use podium_driver_sdk::Action;
    use podium_driver_sdk::adapter::{self, RawOutputs, RawRequest};
    use podium_driver_sdk::serde_json::json;

    fn raw(values: Value, secrets: Value, state: Option<&str>) -> RawRequest {
        RawRequest {
            params: json!({"size": "small"}).to_string(),
            driver_values: values.to_string(),
            driver_secrets: secrets.to_string(),
            state: state.map(Into::into),
            ..RawRequest::default()
        }
    }

    fn values() -> Value {
        json!({
            "domain": "example.com",
            "templates": {
                "init": "host: {{ params.size }}.{{ values.domain }}",
                "outputs": "host: {{ init.host }}\nsize: {{ params.size | tojson }}",
                "state": "count: {{ (state.count + 1) if state else 1 }}",
            }
        })
    }

    fn secrets() -> Value {
        json!({"token": "t0k", "templates": {"secrets": "token: {{ secrets.token | tojson }}"}})
    }

    #[test]
    fn apply_renders_everything_and_state_round_trips() {
        let Ok(RawOutputs {
            values: out,
            secrets: secret_out,
            state: Some(state),
        }) = adapter::apply::<Template>(raw(values(), secrets(), None))
        else {
            panic!("apply failed");
        };
        assert_eq!(out, r#"{"host":"small.example.com","size":"small"}"#);
        assert_eq!(secret_out, r#"{"token":"t0k"}"#);
        let parsed: Value = serde_json::from_str(&state).unwrap_or_default();
        assert_eq!(parsed["count"], 1);

        let again = adapter::apply::<Template>(raw(values(), secrets(), Some(&state)));
        let again: Value = again
            .ok()
            .and_then(|o| o.state)
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        assert_eq!(again["count"], 2);
        assert_eq!(again[INPUTS_KEY], parsed[INPUTS_KEY]);
    }

    #[test]
    fn plan_compares_the_inputs_digest() {
        let state = adapter::apply::<Template>(raw(values(), secrets(), None))
            .ok()
            .and_then(|o| o.state)
            .unwrap_or_default();
        let action = |r| adapter::plan::<Template>(r).map(|p| p.action);
        assert_eq!(action(raw(values(), secrets(), None)), Ok(Action::Create));
        assert_eq!(
            action(raw(values(), secrets(), Some(&state))),
            Ok(Action::Unchanged)
        );
        let changed = json!({"token": "new", "templates": {"secrets": "token: {{ secrets.token | tojson }}"}});
        assert_eq!(
            action(raw(values(), changed, Some(&state))),
            Ok(Action::Update)
        );
    }

    #[test]
    fn template_errors_fail_plans_too() {
        let bad = json!({"templates": {"outputs": "a: 1\nb: {{ valuez.x }}"}});
        let err = adapter::plan::<Template>(raw(bad, json!({}), None)).err();
        assert!(
            err.as_ref().is_some_and(|e| e
                .message()
                .starts_with("template outputs, line 2: undefined value")),
            "{err:?}"
        );
    }

    #[test]
    fn no_templates_render_nothing() {
        let out = adapter::apply::<Template>(raw(json!({}), json!({}), None));
        let out = out.map(|o| (o.values, o.secrets));
        assert_eq!(out, Ok(("{}".to_owned(), "{}".to_owned())));
    }
}
