//! Definition-side placeholders and their resolution.
//!
//! In `driver_inputs` (values and secrets) and `grants` a definition may use
//! (tokenized by [`podium_score::placeholder::tokenize`], so `$$` and `\.`
//! work as in Score files):
//! - `${context.app.id|env.id|env.type|res.id|res.type|res.class|res.guresid|deploy.id}`
//! - `${values.KEY}` — a shared value as the environment sees it;
//! - `${resources.<type>[.<class>][#<res_id>].outputs.<key>[.<path>…]}` — an
//!   output of another resource, which becomes a **dependency**.
//!
//! # Which resource a reference names
//!
//! - `class` defaults to `default`.
//! - With `#res_id` the resource is exactly that one (the res_id runs up to
//!   the `outputs` segment, so `#shared.db` needs no escaping).
//! - Without `#res_id`, the resource has the **same res_id as the
//!   referencing resource**: a `postgres` for `shared.db` asking for
//!   `${resources.dns.outputs.host}` gets its own `dns.default#shared.db`.
//!   This is the convention platform engineers know, and it keeps one
//!   definition reusable for every resource it matches.
//! - Except for the implicit per-environment types (`k8s-cluster`,
//!   `k8s-namespace`): there is one of each per environment, so a reference
//!   without `#res_id` names that one (res_id = the type name).
//!
//! # Secrecy
//!
//! A resolved piece is secret when it is (or contains) a secret output or a
//! secret shared value; a string built from it is secret too. Secret pieces
//! may appear in `driver_inputs.secrets` only: in `driver_inputs.values` or
//! `grants` they are an error, because those are recorded and shown.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use podium_score::placeholder::{PlaceholderError, Token, tokenize};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ids::{DEFAULT_CLASS, ResourceKey};
use crate::model::types;
use crate::model::{EnvContext, ResourceDefinition, ValueMap};

/// A `${context.…}` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContextKey {
    AppId,
    EnvId,
    EnvType,
    ResId,
    ResType,
    ResClass,
    Guresid,
    DeployId,
}

impl ContextKey {
    fn parse(path: &[String]) -> Option<Self> {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        Some(match p.as_slice() {
            ["app", "id"] => Self::AppId,
            ["env", "id"] => Self::EnvId,
            ["env", "type"] => Self::EnvType,
            ["res", "id"] => Self::ResId,
            ["res", "type"] => Self::ResType,
            ["res", "class"] => Self::ResClass,
            ["res", "guresid"] => Self::Guresid,
            ["deploy", "id"] => Self::DeployId,
            _ => return None,
        })
    }
}

/// A `${resources.…}` reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceRef {
    pub res_type: String,
    pub class: Option<String>,
    pub res_id: Option<String>,
    /// The output key, then an optional path into its JSON value.
    pub output: Vec<String>,
}

impl ResourceRef {
    /// The resource this reference names when written in a definition
    /// matched to `referrer` (see the module docs).
    pub fn target(&self, referrer: &ResourceKey) -> ResourceKey {
        let class = self.class.as_deref().unwrap_or(DEFAULT_CLASS);
        let res_id = match &self.res_id {
            Some(id) => id.clone(),
            None if types::is_implicit(&self.res_type) => self.res_type.clone(),
            None => referrer.res_id.clone(),
        };
        ResourceKey::new(self.res_type.clone(), class, res_id)
    }
}

/// A parsed definition placeholder.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reference {
    Context(ContextKey),
    Value(String),
    Resource(ResourceRef),
}

const REFERENCE_HELP: &str = "expected context.(app.id|env.id|env.type|res.id|res.type|res.class|res.guresid|deploy.id), values.KEY or resources.TYPE[.CLASS][#RES_ID].outputs.KEY";

/// Parses a placeholder's path; the error says what is expected.
pub fn parse_reference(path: &[String]) -> Result<Reference, String> {
    match path.split_first() {
        Some((head, rest)) if head == "context" => ContextKey::parse(rest)
            .map(Reference::Context)
            .ok_or_else(|| format!("unknown context key; {REFERENCE_HELP}")),
        Some((head, [key])) if head == "values" => Ok(Reference::Value(key.clone())),
        Some((head, rest)) if head == "resources" => parse_resource(rest).map(Reference::Resource),
        _ => Err(REFERENCE_HELP.to_owned()),
    }
}

fn parse_resource(rest: &[String]) -> Result<ResourceRef, String> {
    let Some(outputs_at) = rest.iter().position(|s| s == "outputs") else {
        return Err(format!("missing `.outputs.KEY`; {REFERENCE_HELP}"));
    };
    let (selector, output) = (&rest[..outputs_at], &rest[outputs_at + 1..]);
    if output.is_empty() {
        return Err(format!(
            "missing output key after `outputs`; {REFERENCE_HELP}"
        ));
    }
    // The selector is `type[.class][#res_id]`; the res_id may contain dots,
    // so rejoin the segments from the one holding `#`.
    let joined = selector.join(".");
    let (head, res_id) = match joined.split_once('#') {
        Some((head, id)) => (head.to_owned(), Some(id.to_owned())),
        None => (joined, None),
    };
    let mut parts = head.split('.');
    let res_type = parts.next().filter(|s| !s.is_empty());
    let class = parts.next().map(str::to_owned);
    // `dns.#id` or an escaped trailing dot would name class "".
    let class_ok = class.as_deref().is_none_or(|c| !c.is_empty());
    match (res_type, parts.next(), &res_id) {
        _ if !class_ok => Err(format!(
            "bad resource selector {selector:?} (empty class); {REFERENCE_HELP}",
            selector = selector.join(".")
        )),
        (Some(t), None, Some(id)) if !id.is_empty() => Ok(ResourceRef {
            res_type: t.to_owned(),
            class,
            res_id: res_id.clone(),
            output: output.to_vec(),
        }),
        (Some(t), None, None) => Ok(ResourceRef {
            res_type: t.to_owned(),
            class,
            res_id: None,
            output: output.to_vec(),
        }),
        _ => Err(format!(
            "bad resource selector {selector:?}; {REFERENCE_HELP}",
            selector = selector.join(".")
        )),
    }
}

/// A placeholder found in a definition, with where it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    /// E.g. `driver_inputs.secrets.password` or `grants[0]`.
    pub at: String,
    /// The text between `${` and `}`.
    pub raw: String,
    pub reference: Reference,
}

/// A malformed placeholder in a definition.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReferenceError {
    #[error("{at}: {source}")]
    Syntax {
        at: String,
        #[source]
        source: PlaceholderError,
    },
    #[error("{at}: ${{{raw}}}: {reason}")]
    Unknown {
        at: String,
        raw: String,
        reason: String,
    },
}

/// Every placeholder of `def`'s driver inputs and grants, in document order.
pub fn definition_references(def: &ResourceDefinition) -> Result<Vec<Located>, ReferenceError> {
    let mut found = Vec::new();
    let mut visit = |at: &str, s: &str| -> Result<(), ReferenceError> {
        for token in tokenize(s).map_err(|source| ReferenceError::Syntax {
            at: at.to_owned(),
            source,
        })? {
            if let Token::Placeholder { path, raw, .. } = token {
                let reference =
                    parse_reference(&path).map_err(|reason| ReferenceError::Unknown {
                        at: at.to_owned(),
                        raw: raw.clone(),
                        reason,
                    })?;
                found.push(Located {
                    at: at.to_owned(),
                    raw,
                    reference,
                });
            }
        }
        Ok(())
    };
    let inputs = &def.spec.driver_inputs;
    for (section, map) in [("values", &inputs.values), ("secrets", &inputs.secrets)] {
        for (k, v) in map {
            walk_strings(v, &format!("driver_inputs.{section}.{k}"), &mut visit)?;
        }
    }
    for (i, g) in def.spec.grants.iter().enumerate() {
        visit(&format!("grants[{i}]"), g)?;
    }
    Ok(found)
}

fn walk_strings<E>(
    v: &Value,
    at: &str,
    f: &mut impl FnMut(&str, &str) -> Result<(), E>,
) -> Result<(), E> {
    match v {
        Value::String(s) => f(at, s),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, x)| walk_strings(x, &format!("{at}[{i}]"), f)),
        Value::Object(map) => map
            .iter()
            .try_for_each(|(k, x)| walk_strings(x, &format!("{at}.{k}"), f)),
        _ => Ok(()),
    }
}

/// Outputs of a provisioned resource (secrets in plaintext: the pipeline
/// decrypts them right before resolving a driver call's inputs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outputs {
    #[serde(default)]
    pub values: Map<String, Value>,
    #[serde(default)]
    pub secrets: Map<String, Value>,
}

/// Where the resolver finds the outputs of already-provisioned dependencies.
pub trait OutputSource {
    fn outputs(&self, key: &ResourceKey) -> Option<&Outputs>;
}

impl<S: BuildHasher> OutputSource for HashMap<ResourceKey, Outputs, S> {
    fn outputs(&self, key: &ResourceKey) -> Option<&Outputs> {
        self.get(key)
    }
}

impl OutputSource for BTreeMap<ResourceKey, Outputs> {
    fn outputs(&self, key: &ResourceKey) -> Option<&Outputs> {
        self.get(key)
    }
}

/// A resolved value and whether it is (or contains) a secret.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub value: Value,
    pub secret: bool,
}

/// A definition's inputs with placeholders resolved, ready for a driver call.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedInputs {
    /// `driver_inputs.values`, guaranteed free of secrets.
    pub values: Value,
    /// `driver_inputs.secrets` (treat as secret as a whole).
    pub secrets: Value,
    /// Capability grants, guaranteed free of secrets.
    pub grants: Vec<String>,
}

/// Why a placeholder cannot be resolved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error("{at}: ${{values.{key}}}: no shared value {key:?} in this environment")]
    MissingValue { at: String, key: String },
    #[error("{at}: resource {resource} has no outputs yet (is it a dependency of this resource?)")]
    MissingResource { at: String, resource: ResourceKey },
    #[error("{at}: resource {resource} has no output {output:?}")]
    MissingOutput {
        at: String,
        resource: ResourceKey,
        output: String,
    },
    #[error(
        "{at}: ${{{raw}}} is secret and may only be used in driver_inputs.secrets, not in driver_inputs.values or grants"
    )]
    SecretNotAllowed { at: String, raw: String },
}

/// Resolves definition placeholders for one resource.
pub struct Resolver<'a> {
    pub env: &'a EnvContext,
    /// The resource whose definition is being resolved.
    pub resource: &'a ResourceKey,
    pub guresid: &'a str,
    pub deploy_id: &'a str,
    /// The shared values this environment sees.
    pub values: &'a ValueMap,
    /// Outputs of dependencies, by key.
    pub outputs: &'a dyn OutputSource,
}

impl Resolver<'_> {
    /// Resolves `def`'s driver inputs and grants, refusing secrets outside
    /// `driver_inputs.secrets`.
    pub fn resolve_inputs(&self, def: &ResourceDefinition) -> Result<ResolvedInputs, ResolveError> {
        let inputs = &def.spec.driver_inputs;
        let mut values = Map::new();
        for (k, v) in &inputs.values {
            let r = self.resolve_at(v, &format!("driver_inputs.values.{k}"), false)?;
            values.insert(k.clone(), r.value);
        }
        let mut secrets = Map::new();
        for (k, v) in &inputs.secrets {
            let r = self.resolve_at(v, &format!("driver_inputs.secrets.{k}"), true)?;
            secrets.insert(k.clone(), r.value);
        }
        let mut grants = Vec::new();
        for (i, g) in def.spec.grants.iter().enumerate() {
            let r = self.resolve_str(g, &format!("grants[{i}]"), false)?;
            grants.push(match r.value {
                Value::String(s) => s,
                other => other.to_string(),
            });
        }
        Ok(ResolvedInputs {
            values: Value::Object(values),
            secrets: Value::Object(secrets),
            grants,
        })
    }

    /// Resolves every string inside `value`, tracking secrecy. `at` names
    /// the location in errors.
    pub fn resolve(&self, value: &Value, at: &str) -> Result<Resolved, ResolveError> {
        self.resolve_at(value, at, true)
    }

    fn resolve_at(
        &self,
        value: &Value,
        at: &str,
        allow_secret: bool,
    ) -> Result<Resolved, ResolveError> {
        match value {
            Value::String(s) => self.resolve_str(s, at, allow_secret),
            Value::Array(items) => {
                let mut secret = false;
                let mut out = Vec::with_capacity(items.len());
                for (i, x) in items.iter().enumerate() {
                    let r = self.resolve_at(x, &format!("{at}[{i}]"), allow_secret)?;
                    secret |= r.secret;
                    out.push(r.value);
                }
                Ok(Resolved {
                    value: Value::Array(out),
                    secret,
                })
            }
            Value::Object(map) => {
                let mut secret = false;
                let mut out = Map::with_capacity(map.len());
                for (k, x) in map {
                    let r = self.resolve_at(x, &format!("{at}.{k}"), allow_secret)?;
                    secret |= r.secret;
                    out.insert(k.clone(), r.value);
                }
                Ok(Resolved {
                    value: Value::Object(out),
                    secret,
                })
            }
            other => Ok(Resolved {
                value: other.clone(),
                secret: false,
            }),
        }
    }

    /// A string that is exactly one placeholder keeps the resolved JSON
    /// type; otherwise the pieces are concatenated, non-strings JSON-encoded.
    fn resolve_str(&self, s: &str, at: &str, allow_secret: bool) -> Result<Resolved, ResolveError> {
        let tokens = tokenize(s).map_err(|source| ReferenceError::Syntax {
            at: at.to_owned(),
            source,
        })?;
        let mut pieces = Vec::with_capacity(tokens.len());
        for token in tokens {
            match token {
                Token::Literal(text) => pieces.push(Resolved {
                    value: Value::String(text),
                    secret: false,
                }),
                Token::Placeholder { path, raw, .. } => {
                    let reference =
                        parse_reference(&path).map_err(|reason| ReferenceError::Unknown {
                            at: at.to_owned(),
                            raw: raw.clone(),
                            reason,
                        })?;
                    let r = self.lookup(&reference, at)?;
                    if r.secret && !allow_secret {
                        return Err(ResolveError::SecretNotAllowed {
                            at: at.to_owned(),
                            raw,
                        });
                    }
                    pieces.push(r);
                }
            }
        }
        if pieces.len() == 1
            && let Some(only) = pieces.pop()
        {
            return Ok(only);
        }
        let mut text = String::new();
        let mut secret = false;
        for p in pieces {
            secret |= p.secret;
            match p.value {
                Value::String(x) => text.push_str(&x),
                other => text.push_str(&other.to_string()),
            }
        }
        Ok(Resolved {
            value: Value::String(text),
            secret,
        })
    }

    fn lookup(&self, reference: &Reference, at: &str) -> Result<Resolved, ResolveError> {
        let plain = |s: &str| Resolved {
            value: Value::String(s.to_owned()),
            secret: false,
        };
        match reference {
            Reference::Context(key) => Ok(plain(match key {
                ContextKey::AppId => &self.env.app_id,
                ContextKey::EnvId => &self.env.env_id,
                ContextKey::EnvType => &self.env.env_type,
                ContextKey::ResId => &self.resource.res_id,
                ContextKey::ResType => &self.resource.res_type,
                ContextKey::ResClass => &self.resource.class,
                ContextKey::Guresid => self.guresid,
                ContextKey::DeployId => self.deploy_id,
            })),
            Reference::Value(key) => {
                let v = self
                    .values
                    .get(key)
                    .ok_or_else(|| ResolveError::MissingValue {
                        at: at.to_owned(),
                        key: key.clone(),
                    })?;
                Ok(Resolved {
                    value: Value::String(v.value.clone()),
                    secret: v.secret,
                })
            }
            Reference::Resource(r) => {
                let target = r.target(self.resource);
                let outputs =
                    self.outputs
                        .outputs(&target)
                        .ok_or_else(|| ResolveError::MissingResource {
                            at: at.to_owned(),
                            resource: target.clone(),
                        })?;
                let missing = || ResolveError::MissingOutput {
                    at: at.to_owned(),
                    resource: target.clone(),
                    output: r.output.join("."),
                };
                let (first, rest) = r.output.split_first().ok_or_else(missing)?;
                let (mut value, secret) =
                    match (outputs.values.get(first), outputs.secrets.get(first)) {
                        (_, Some(v)) => (v, true),
                        (Some(v), None) => (v, false),
                        (None, None) => return Err(missing()),
                    };
                for seg in rest {
                    value = match value {
                        Value::Object(m) => m.get(seg),
                        Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
                        _ => None,
                    }
                    .ok_or_else(missing)?;
                }
                Ok(Resolved {
                    value: value.clone(),
                    secret,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Reference, String> {
        match tokenize(&format!("${{{raw}}}"))
            .map_err(|e| e.to_string())?
            .as_slice()
        {
            [Token::Placeholder { path, .. }] => parse_reference(path),
            other => Err(format!("not one placeholder: {other:?}")),
        }
    }

    fn res(t: &str, class: Option<&str>, id: Option<&str>, output: &[&str]) -> Reference {
        Reference::Resource(ResourceRef {
            res_type: t.into(),
            class: class.map(Into::into),
            res_id: id.map(Into::into),
            output: output.iter().map(|s| (*s).to_owned()).collect(),
        })
    }

    #[test]
    fn resource_selectors() {
        let ok = [
            (
                "resources.dns.outputs.host",
                res("dns", None, None, &["host"]),
            ),
            (
                "resources.dns.edge.outputs.host",
                res("dns", Some("edge"), None, &["host"]),
            ),
            (
                "resources.dns#shared.db.outputs.host",
                res("dns", None, Some("shared.db"), &["host"]),
            ),
            (
                "resources.dns.edge#modules.w.externals.x.outputs.a.b",
                res(
                    "dns",
                    Some("edge"),
                    Some("modules.w.externals.x"),
                    &["a", "b"],
                ),
            ),
            (
                r"resources.dns#shared\.db.outputs.host",
                res("dns", None, Some("shared.db"), &["host"]),
            ),
            ("values.X", Reference::Value("X".into())),
            (
                "context.res.guresid",
                Reference::Context(ContextKey::Guresid),
            ),
        ];
        for (raw, want) in ok {
            assert_eq!(parse(raw), Ok(want), "{raw}");
        }
        for bad in [
            "resources.outputs.host",
            "resources.dns.outputs",
            "resources.dns",
            "resources.a.b.c.outputs.x",
            "resources.dns#.outputs.x",
            // Found by the property tests: these named class "".
            "resources.dns.#x.outputs.host",
            r"resources.dns\..outputs.host",
            "values.A.B",
            "context.app",
            "metadata.name",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn targets_default_to_the_referrer_res_id_except_for_singletons() {
        let referrer = ResourceKey::new("postgres", "default", "shared.db");
        let target = |raw: &str| match parse(raw) {
            Ok(Reference::Resource(r)) => r.target(&referrer).to_string(),
            other => format!("{other:?}"),
        };
        assert_eq!(
            target("resources.dns.outputs.host"),
            "dns.default#shared.db"
        );
        assert_eq!(target("resources.dns.edge#x.outputs.host"), "dns.edge#x");
        assert_eq!(
            target("resources.k8s-cluster.outputs.url"),
            "k8s-cluster.default#k8s-cluster"
        );
    }
}
