//! Resource types and their documented outputs, split into values and
//! secrets. The split is documentation and validation help; at run time a
//! driver's `outputs.secrets` is what is treated as secret.
//!
//! Built-in types are [`ResourceType`] constants; platform engineers declare
//! their own as [`TypeDecl`]s (stored by the service). [`check_outputs`]
//! checks a driver's outputs against either.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One resource type's outputs schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceType {
    pub name: &'static str,
    /// Non-secret outputs.
    pub values: &'static [&'static str],
    /// Secret outputs.
    pub secrets: &'static [&'static str],
    /// Outputs are not fixed by the type (e.g. `environment`, whose outputs
    /// are the shared values).
    pub open: bool,
    /// Exactly one per environment, with `res_id` equal to the type name;
    /// created implicitly and depended on by every workload.
    pub implicit: bool,
    /// Provisioned by a driver. `environment` is not: it resolves from the
    /// shared values, so it never becomes a graph node.
    pub provisioned: bool,
}

impl ResourceType {
    /// Whether `key` is a documented secret output.
    pub fn is_secret(&self, key: &str) -> bool {
        self.secrets.contains(&key)
    }
    /// Whether `key` is a documented output (always true for open types).
    pub fn declares(&self, key: &str) -> bool {
        self.open || self.values.contains(&key) || self.secrets.contains(&key)
    }
}

const fn closed(
    name: &'static str,
    values: &'static [&'static str],
    secrets: &'static [&'static str],
) -> ResourceType {
    ResourceType {
        name,
        values,
        secrets,
        open: false,
        implicit: false,
        provisioned: true,
    }
}

pub const POSTGRES: ResourceType = closed(
    "postgres",
    &["host", "port", "name", "database", "username"],
    &["password"],
);
pub const DNS: ResourceType = closed("dns", &["host"], &[]);
pub const S3: ResourceType = closed(
    "s3",
    &["bucket", "region", "endpoint"],
    &[
        "access_key_id",
        "secret_key",
        "aws_access_key_id",
        "aws_secret_access_key",
    ],
);
/// A workload; the Kubernetes driver may report what it rendered.
pub const WORKLOAD: ResourceType = closed("workload", &["name", "namespace"], &[]);
pub const K8S_CLUSTER: ResourceType = ResourceType {
    implicit: true,
    ..closed(
        "k8s-cluster",
        &["name", "url", "loadbalancer", "insecure_skip_tls_verify"],
        &["token", "ca_data", "client_cert", "client_key"],
    )
};
pub const K8S_NAMESPACE: ResourceType = ResourceType {
    implicit: true,
    ..closed("k8s-namespace", &["namespace"], &[])
};
/// Score's environment-variable resource: its outputs are the shared values
/// (secret ones stay secret).
pub const ENVIRONMENT: ResourceType = ResourceType {
    open: true,
    provisioned: false,
    ..closed("environment", &[], &[])
};

/// Every built-in type.
pub const BUILTIN: &[ResourceType] = &[
    POSTGRES,
    DNS,
    S3,
    WORKLOAD,
    K8S_CLUSTER,
    K8S_NAMESPACE,
    ENVIRONMENT,
];

/// The built-in type named `name`; other (custom) types are allowed and are
/// open, provisioned, not implicit.
pub fn builtin(name: &str) -> Option<&'static ResourceType> {
    BUILTIN.iter().find(|t| t.name == name)
}

/// Whether `name` is one of the implicit per-environment singletons.
pub fn is_implicit(name: &str) -> bool {
    builtin(name).is_some_and(|t| t.implicit)
}

/// Whether resources of type `name` become graph nodes.
pub fn is_provisioned(name: &str) -> bool {
    builtin(name).is_none_or(|t| t.provisioned)
}

/// The implicit per-environment types, in the order their nodes are created.
pub fn implicit_types() -> impl Iterator<Item = &'static ResourceType> {
    BUILTIN.iter().filter(|t| t.implicit)
}

/// A resource type's declared outputs, owned: a built-in type's
/// ([`TypeDecl::builtin`]) or one a platform engineer declared
/// (`kind: ResourceType`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeDecl {
    pub name: String,
    /// Non-secret outputs.
    #[serde(default)]
    pub values: Vec<String>,
    /// Secret outputs: a driver must return them in `outputs.secrets`.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Outputs are not fixed by the type (built-in `environment` only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub open: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl From<&ResourceType> for TypeDecl {
    fn from(t: &ResourceType) -> Self {
        TypeDecl {
            name: t.name.to_owned(),
            values: t.values.iter().map(|v| (*v).to_owned()).collect(),
            secrets: t.secrets.iter().map(|v| (*v).to_owned()).collect(),
            open: t.open,
            description: None,
        }
    }
}

/// What is wrong with a type declaration or a change of one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypeError {
    #[error(
        "resource type {res_type}: output {output:?} is not a valid name (letters, digits, '_' and '-', not starting with a digit, at most 63)"
    )]
    BadOutputName { res_type: String, output: String },
    #[error("resource type {res_type}: output {output:?} is declared twice")]
    Duplicate { res_type: String, output: String },
    #[error(
        "resource type {res_type} is built in and its outputs are fixed (values: {values}; secrets: {secrets}); declare a type of another name"
    )]
    Builtin {
        res_type: String,
        values: String,
        secrets: String,
    },
    #[error(
        "resource type {res_type}: the new declaration {change}; a declared type may only gain outputs (existing resources and drivers rely on the old ones)"
    )]
    Incompatible { res_type: String, change: String },
}

fn valid_output_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

impl TypeDecl {
    /// The built-in type `name`, as a declaration.
    pub fn builtin(name: &str) -> Option<TypeDecl> {
        builtin(name).map(TypeDecl::from)
    }

    /// Whether `key` is a declared secret output.
    pub fn is_secret(&self, key: &str) -> bool {
        self.secrets.iter().any(|s| s == key)
    }

    /// Whether `key` is a declared output (always true for open types).
    pub fn declares(&self, key: &str) -> bool {
        self.open || self.values.iter().any(|v| v == key) || self.is_secret(key)
    }

    /// Output names are valid and each is declared once (as a value or a
    /// secret, not both).
    pub fn validate(&self) -> Result<(), TypeError> {
        let mut seen = BTreeSet::new();
        for output in self.values.iter().chain(&self.secrets) {
            if !valid_output_name(output) {
                return Err(TypeError::BadOutputName {
                    res_type: self.name.clone(),
                    output: output.clone(),
                });
            }
            if !seen.insert(output.as_str()) {
                return Err(TypeError::Duplicate {
                    res_type: self.name.clone(),
                    output: output.clone(),
                });
            }
        }
        Ok(())
    }

    /// Same outputs, in any order, and same openness.
    pub fn same_outputs(&self, other: &TypeDecl) -> bool {
        let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
        self.open == other.open
            && set(&self.values) == set(&other.values)
            && set(&self.secrets) == set(&other.secrets)
    }

    /// Whether `next` may replace this declaration: the built-in types are
    /// fixed (only an identical declaration is accepted); a declared type
    /// may gain outputs but never lose one nor move one between values and
    /// secrets (drivers return them where the old declaration said, and a
    /// secret turned value would be shown).
    pub fn check_successor(&self, next: &TypeDecl) -> Result<(), TypeError> {
        if builtin(&self.name).is_some() {
            if self.same_outputs(next) {
                return Ok(());
            }
            return Err(TypeError::Builtin {
                res_type: self.name.clone(),
                values: self.values.join(", "),
                secrets: self.secrets.join(", "),
            });
        }
        let mut changes = Vec::new();
        for (old, new, what) in [
            (&self.values, &next.values, "value"),
            (&self.secrets, &next.secrets, "secret"),
        ] {
            for o in old {
                if new.contains(o) {
                    continue;
                }
                if next.declares(o) {
                    changes.push(format!("moves {what} output {o:?}"));
                } else {
                    changes.push(format!("removes {what} output {o:?}"));
                }
            }
        }
        if changes.is_empty() {
            Ok(())
        } else {
            Err(TypeError::Incompatible {
                res_type: self.name.clone(),
                change: changes.join(", "),
            })
        }
    }
}

/// A driver's outputs that break its resource type's declaration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    #[error(
        "the driver returned {} among its values, declared secret by resource type {res_type}; return {} in the outputs' secrets",
        quoted(.outputs), pronoun(.outputs)
    )]
    SecretAsValue {
        res_type: String,
        /// The offending outputs, sorted.
        outputs: Vec<String>,
    },
}

fn pronoun(names: &[String]) -> &'static str {
    if names.len() == 1 { "it" } else { "them" }
}

fn quoted(names: &[String]) -> String {
    let list: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    match list.len() {
        1 => format!("output {}", list[0]),
        _ => format!("outputs {}", list.join(", ")),
    }
}

/// Checks a driver's outputs (`values`, `secrets`) against the declaration
/// of its resource type.
///
/// - A declared secret output returned among the values is an error naming
///   it (and the type): it would be stored and shown in clear.
/// - A declared value output returned among the secrets is fine (kept
///   secret).
/// - Outputs the type does not declare are allowed; their names are
///   returned (sorted, once each) so the caller can warn. Open types
///   (`environment`) declare everything.
pub fn check_outputs(
    decl: &TypeDecl,
    values: &Map<String, Value>,
    secrets: &Map<String, Value>,
) -> Result<Vec<String>, OutputError> {
    let leaked: Vec<String> = values
        .keys()
        .filter(|k| decl.is_secret(k))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !leaked.is_empty() {
        return Err(OutputError::SecretAsValue {
            res_type: decl.name.clone(),
            outputs: leaked,
        });
    }
    Ok(values
        .keys()
        .chain(secrets.keys())
        .filter(|k| !decl.declares(k))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn redis() -> TypeDecl {
        TypeDecl {
            name: "redis".into(),
            values: vec!["host".into(), "port".into()],
            secrets: vec!["password".into()],
            open: false,
            description: None,
        }
    }

    #[test]
    fn outputs_matching_the_declaration_pass() {
        let pg = TypeDecl::from(&POSTGRES);
        let r = check_outputs(
            &pg,
            &map(json!({"host": "db", "port": 5432, "name": "x"})),
            &map(json!({"password": "pw"})),
        );
        assert_eq!(r, Ok(vec![]));
    }

    #[test]
    fn a_secret_output_among_the_values_is_an_error_naming_it_and_the_type() {
        let r = check_outputs(
            &redis(),
            &map(json!({"host": "r", "password": "pw"})),
            &map(json!({})),
        );
        let e = match r {
            Err(e) => e,
            Ok(u) => panic!("accepted: {u:?}"),
        };
        assert_eq!(
            e,
            OutputError::SecretAsValue {
                res_type: "redis".into(),
                outputs: vec!["password".into()]
            }
        );
        let text = e.to_string();
        assert!(
            text.contains("\"password\"") && text.contains("resource type redis"),
            "{text}"
        );
        // Built-in types too, every offender named.
        let s3 = TypeDecl::builtin("s3").map(|t| {
            check_outputs(
                &t,
                &map(json!({"secret_key": "k", "access_key_id": "a", "bucket": "b"})),
                &map(json!({})),
            )
        });
        assert_eq!(
            s3,
            Some(Err(OutputError::SecretAsValue {
                res_type: "s3".into(),
                outputs: vec!["access_key_id".into(), "secret_key".into()]
            }))
        );
    }

    #[test]
    fn undeclared_outputs_are_allowed_and_listed_and_values_may_be_secret() {
        let r = check_outputs(
            &redis(),
            &map(json!({"host": "r", "tls": true, "zone": "a"})),
            &map(json!({"port": 1, "password": "pw", "api_key": "k", "zone": "a"})),
        );
        assert_eq!(
            r,
            Ok(vec![
                "api_key".to_owned(),
                "tls".to_owned(),
                "zone".to_owned()
            ])
        );
        // Open types declare everything.
        let env = TypeDecl::from(&ENVIRONMENT);
        assert_eq!(
            check_outputs(&env, &map(json!({"A": 1})), &map(json!({"B": 2}))),
            Ok(vec![])
        );
    }

    #[test]
    fn declarations_are_validated_and_only_grow() {
        assert_eq!(redis().validate(), Ok(()));
        let mut twice = redis();
        twice.values.push("password".into());
        assert!(matches!(twice.validate(), Err(TypeError::Duplicate { .. })));
        let mut bad = redis();
        bad.values.push("a.b".into());
        assert!(matches!(
            bad.validate(),
            Err(TypeError::BadOutputName { .. })
        ));

        let mut grown = redis();
        grown.values.push("db".into());
        grown.secrets.push("token".into());
        assert_eq!(redis().check_successor(&grown), Ok(()));
        let mut moved = redis();
        moved.secrets.clear();
        moved.values.push("password".into());
        let e = redis().check_successor(&moved).err().map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|e| e.contains("moves secret output \"password\"")),
            "{e:?}"
        );
        let mut removed = redis();
        removed.values.retain(|v| v != "port");
        let e = redis()
            .check_successor(&removed)
            .err()
            .map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|e| e.contains("removes value output \"port\"")),
            "{e:?}"
        );

        // Built-ins: identical (in any order) only.
        let pg = TypeDecl::from(&POSTGRES);
        let mut same = pg.clone();
        same.values.reverse();
        assert_eq!(pg.check_successor(&same), Ok(()));
        let mut more = pg.clone();
        more.values.push("sslmode".into());
        assert!(matches!(
            pg.check_successor(&more),
            Err(TypeError::Builtin { .. })
        ));
    }

    #[test]
    fn schemas() {
        assert!(POSTGRES.is_secret("password") && !POSTGRES.is_secret("host"));
        assert!(S3.declares("endpoint") && !S3.declares("password"));
        assert!(ENVIRONMENT.declares("ANYTHING"));
        assert!(is_implicit("k8s-cluster") && is_implicit("k8s-namespace"));
        assert!(!is_implicit("postgres") && !is_implicit("redis"));
        assert!(!is_provisioned("environment") && is_provisioned("redis"));
    }
}
