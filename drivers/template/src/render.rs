//! Rendering the templates with minijinja and reading the results as YAML.

use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior, Value as Jinja};
use podium_driver_sdk::serde_json::{Map, Value};
use podium_driver_sdk::{Context, Error, json};

/// What every template sees (besides `init`, added after it is rendered).
pub(crate) struct Scope<'a> {
    pub context: &'a Context,
    pub params: &'a Value,
    pub values: &'a Value,
    pub secrets: &'a Value,
    pub state: Option<&'a Value>,
}

/// A minijinja environment set up the way the driver documents it.
pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // A typo must fail the call, not quietly render an empty string.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Debug info would let errors show variable values (secrets included).
    env.set_debug(false);
    // Templates produce YAML, not HTML.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env
}

/// Renders template `name` (e.g. `outputs`) and parses the result as a YAML
/// mapping. Empty output is an empty mapping. `secret` keeps parse errors
/// from quoting the rendered text.
pub(crate) fn render_object(
    env: &Environment<'_>,
    name: &str,
    source: &str,
    scope: &Scope<'_>,
    init: &Value,
    secret: bool,
) -> Result<Map<String, Value>, Error> {
    match render_yaml(env, name, source, scope, init, secret)? {
        Value::Null => Ok(Map::new()),
        Value::Object(map) => Ok(map),
        other => Err(Error::invalid_input(format!(
            "template {name} must render to a YAML mapping, not {}",
            json::type_name(&other)
        ))),
    }
}

/// Renders template `name` and parses the result as any YAML value.
pub(crate) fn render_yaml(
    env: &Environment<'_>,
    name: &str,
    source: &str,
    scope: &Scope<'_>,
    init: &Value,
    secret: bool,
) -> Result<Value, Error> {
    let ctx = minijinja::context! {
        context => Jinja::from(Serde(scope.context)),
        params => Jinja::from(Serde(scope.params)),
        values => Jinja::from(Serde(scope.values)),
        secrets => Jinja::from(Serde(scope.secrets)),
        state => scope.state.map(|s| Jinja::from(Serde(s))),
        init => Jinja::from(Serde(init)),
    };
    let text = env
        .render_named_str(name, source, ctx)
        .map_err(|e| template_error(name, source, &e, secret))?;
    parse_yaml(name, &text, secret)
}

/// Longest piece of template source quoted in an error.
const MAX_QUOTE: usize = 80;

/// `template outputs, line 3: undefined value in `params.nmae``. The quote
/// comes from the template source, never from rendered data, and is left
/// out for templates that may hold secrets.
fn template_error(name: &str, source: &str, error: &minijinja::Error, secret: bool) -> Error {
    let line = error
        .line()
        .map(|l| format!(", line {l}"))
        .unwrap_or_default();
    let detail = error.detail().map(|d| format!(": {d}")).unwrap_or_default();
    let quote = error
        .range()
        .filter(|_| !secret)
        .and_then(|range| source.get(range))
        .map(str::trim)
        .filter(|q| !q.is_empty() && q.len() <= MAX_QUOTE && !q.contains('\n'))
        .map(|q| format!(" in `{q}`"))
        .unwrap_or_default();
    Error::invalid_input(format!(
        "template {name}{line}: {}{detail}{quote}",
        error.kind()
    ))
}

fn parse_yaml(name: &str, text: &str, secret: bool) -> Result<Value, Error> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_saphyr::from_str::<Value>(text).map_err(|e| {
        if secret {
            let at = e
                .location()
                .map(|l| format!(" at line {}, column {}", l.line(), l.column()))
                .unwrap_or_default();
            Error::invalid_input(format!(
                "template {name} rendered invalid YAML{at} (details hidden: it may hold secrets)"
            ))
        } else {
            Error::invalid_input(format!(
                "template {name} rendered invalid YAML: {}",
                first_line(&e.to_string())
            ))
        }
    })
}

/// serde-saphyr messages read `error: line 2 column 1: ...` and may append a
/// source snippet; the first line without the prefix is enough.
fn first_line(message: &str) -> &str {
    let line = message.lines().next().unwrap_or_default().trim();
    line.strip_prefix("error: ").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use podium_driver_sdk::serde_json::json;

    fn render(source: &str) -> Result<Map<String, Value>, Error> {
        let context = Context {
            app_id: "shop".into(),
            ..Context::default()
        };
        let (params, values, secrets) = (
            json!({"port": 5432, "name": "a: b"}),
            json!({"host": "h"}),
            json!({"pw": "s"}),
        );
        let scope = Scope {
            context: &context,
            params: &params,
            values: &values,
            secrets: &secrets,
            state: None,
        };
        render_object(
            &environment(),
            "outputs",
            source,
            &scope,
            &json!({"x": 1}),
            false,
        )
    }

    #[test]
    fn renders_typed_yaml() {
        let out = render(
            "app: {{ context.app_id }}\nport: {{ params.port }}\nname: {{ params.name | tojson }}\nx: {{ init.x }}\n{% if state %}s: 1{% endif %}",
        );
        assert_eq!(
            out.map(Value::Object),
            Ok(json!({"app": "shop", "port": 5432, "name": "a: b", "x": 1}))
        );
    }

    #[test]
    fn undefined_names_the_template_and_line() {
        let err = render("a: 1\nb: {{ params.nope }}").err();
        assert_eq!(
            err,
            Some(Error::invalid_input(
                "template outputs, line 2: undefined value in `params.nope`"
            ))
        );
        let err = render("a: 1\nb: {{ params.nope }}")
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(
                |e| e.starts_with("invalid input: template outputs, line 2: undefined value")
            ),
            "{err:?}"
        );
        let err = render("b: {{ nope.x }}").err().map(|e| e.kind());
        assert_eq!(err, Some("invalid-input"));
    }

    #[test]
    fn non_mappings_and_bad_yaml_are_invalid_input() {
        assert_eq!(
            render("- 1\n- 2").err(),
            Some(Error::invalid_input(
                "template outputs must render to a YAML mapping, not an array"
            ))
        );
        let err = render("a: [1\nb: {{ secrets.pw }}")
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("rendered invalid YAML")));
        assert_eq!(render("  \n").map(Value::Object), Ok(json!({})));
    }

    #[test]
    fn secret_yaml_errors_hide_the_text() {
        let err = parse_yaml("secrets", "a: \"hunter2\n  - x: [", true)
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| !e.contains("hunter2") && e.contains("details hidden")));
    }
}
