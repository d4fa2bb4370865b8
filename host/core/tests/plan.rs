//! Plans (create / update / unchanged / delete and their order) and the
//! resolver (placeholder expansion with secrecy).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::*;
use podium_core::placeholders::{OutputSource, Outputs, ResolveError, Resolver};
use podium_core::{ActiveResource, Plan, ResourceKey, SharedValue, ValueMap, plan};
use serde_json::json;

const DEFS: &str = r#"
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: cluster}
spec: {type: k8s-cluster, driver_type: podium/echo, criteria: [{}]}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: ns}
spec: {type: k8s-namespace, driver_type: podium/echo, criteria: [{}]}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: k8s}
spec: {type: workload, driver_type: podium/kubernetes, criteria: [{}]}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: pg}
spec:
  type: postgres
  driver_type: podium/postgres
  driver_inputs:
    values: {host: "${resources.dns.outputs.host}", deploy: "${context.deploy.id}"}
    secrets: {admin_password: "${values.PG_ADMIN}"}
  criteria: [{}]
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: dns}
spec: {type: dns, driver_type: podium/powerdns, criteria: [{}]}
"#;

const SET: &str = r#"
modules:
  web:
    metadata: {name: web}
    containers: {main: {image: "web:1"}}
    resources: {db: {type: postgres, id: db}}
"#;

fn values(pw_ref: &str) -> ValueMap {
    [("PG_ADMIN".to_owned(), SharedValue::secret(pw_ref))].into()
}

fn render(p: &Plan) -> String {
    let mut out = String::new();
    for (i, s) in p.steps.iter().enumerate() {
        out.push_str(&format!("{i} {:?} {}", s.action, s.key));
        if !s.depends_on.is_empty() {
            out.push_str(&format!(" after {:?}", s.depends_on));
        }
        out.push('\n');
    }
    out
}

#[track_caller]
fn check(
    set_yaml: &str,
    defs_yaml: &str,
    vals: &ValueMap,
    active: &[ActiveResource],
    expected: &str,
) -> Plan {
    let p = plan(
        &set(set_yaml),
        &env("shop", "dev", "development"),
        &definitions(defs_yaml),
        vals,
        active,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for (i, s) in p.steps.iter().enumerate() {
        assert!(
            s.depends_on.iter().all(|&d| d < i),
            "step {i} runs before a dependency"
        );
    }
    assert_text(&render(&p), expected);
    p
}

#[test]
fn first_deploy_creates_in_dependency_order() {
    let p = check(
        SET,
        DEFS,
        &values("secret://PG_ADMIN/1"),
        &[],
        "
        0 Create dns.default#shared.db
        1 Create k8s-cluster.default#k8s-cluster
        2 Create k8s-namespace.default#k8s-namespace
        3 Create postgres.default#shared.db after [0]
        4 Create workload.default#modules.web after [1, 2, 3]
        ",
    );
    assert_eq!(p.set_id, set(SET).id());
    assert_eq!(
        p.to_string().lines().last(),
        Some("5 to create, 0 to update, 0 unchanged, 0 to delete")
    );
    let step = &p.steps[3];
    assert_eq!(
        (
            step.definition_id.as_str(),
            step.definition_version,
            step.driver_type.as_str()
        ),
        ("pg", 1, "podium/postgres")
    );
}

#[test]
fn redeploy_is_unchanged_and_changes_are_updates() {
    let vals = values("secret://PG_ADMIN/1");
    let first = plan(
        &set(SET),
        &env("shop", "dev", "development"),
        &definitions(DEFS),
        &vals,
        &[],
    )
    .unwrap();
    let active = first.applied();
    check(
        SET,
        DEFS,
        &vals,
        &active,
        "
        0 Unchanged dns.default#shared.db
        1 Unchanged k8s-cluster.default#k8s-cluster
        2 Unchanged k8s-namespace.default#k8s-namespace
        3 Unchanged postgres.default#shared.db after [0]
        4 Unchanged workload.default#modules.web after [1, 2, 3]
        ",
    );
    // A rotated secret (new reference) updates the resource that reads it.
    let p = check(
        SET,
        DEFS,
        &values("secret://PG_ADMIN/2"),
        &active,
        "
        0 Unchanged dns.default#shared.db
        1 Unchanged k8s-cluster.default#k8s-cluster
        2 Unchanged k8s-namespace.default#k8s-namespace
        3 Update postgres.default#shared.db after [0]
        4 Update workload.default#modules.web after [1, 2, 3]
        ",
    );
    assert!(p.to_string().contains(
        "~ update    postgres.default#shared.db (pg v1, podium/postgres): inputs changed"
    ));
    // The workload reads the database's outputs: it re-applies, and the
    // plan says why in advance.
    assert!(p.to_string().contains(
        "~ update    workload.default#modules.web (k8s v1, podium/kubernetes): postgres.default#shared.db changes"
    ), "{p}");
    // A new image updates the workload only.
    check(
        &SET.replace("web:1", "web:2"),
        DEFS,
        &vals,
        &active,
        "
        0 Unchanged dns.default#shared.db
        1 Unchanged k8s-cluster.default#k8s-cluster
        2 Unchanged k8s-namespace.default#k8s-namespace
        3 Unchanged postgres.default#shared.db after [0]
        4 Update workload.default#modules.web after [1, 2, 3]
        ",
    );
    // A new definition version is an update with the reason.
    let bumped = DEFS.replace("metadata: {id: dns}", "metadata: {id: dns, version: 2}");
    let p = check(
        SET,
        &bumped,
        &vals,
        &active,
        "
        0 Update dns.default#shared.db
        1 Unchanged k8s-cluster.default#k8s-cluster
        2 Unchanged k8s-namespace.default#k8s-namespace
        3 Update postgres.default#shared.db after [0]
        4 Update workload.default#modules.web after [1, 2, 3]
        ",
    );
    assert!(
        p.to_string()
            .contains("(dns v2, podium/powerdns): definition was dns v1")
    );
}

#[test]
fn removed_resources_are_deleted_last_dependents_first() {
    let vals = values("secret://PG_ADMIN/1");
    let two = r#"
modules:
  web:
    metadata: {name: web}
    containers: {main: {image: "web:1"}}
    resources: {db: {type: postgres, id: db}}
  api:
    metadata: {name: api}
    containers: {main: {image: "api:1"}}
    resources: {db: {type: postgres}}
"#;
    let first = plan(
        &set(two),
        &env("shop", "dev", "development"),
        &definitions(DEFS),
        &vals,
        &[],
    )
    .unwrap();
    let active = first.applied();
    // api leaves: its workload, its private db and that db's dns go, in
    // that order; the shared db stays (web still uses it).
    check(
        SET,
        DEFS,
        &vals,
        &active,
        "
        0 Unchanged dns.default#shared.db
        1 Unchanged k8s-cluster.default#k8s-cluster
        2 Unchanged k8s-namespace.default#k8s-namespace
        3 Unchanged postgres.default#shared.db after [0]
        4 Unchanged workload.default#modules.web after [1, 2, 3]
        5 Delete workload.default#modules.api
        6 Delete postgres.default#modules.api.externals.db after [5]
        7 Delete dns.default#modules.api.externals.db after [6]
        ",
    );
}

#[test]
fn missing_value_is_a_plan_error() {
    let err = plan(
        &set(SET),
        &env("shop", "dev", "development"),
        &definitions(DEFS),
        &ValueMap::new(),
        &[],
    )
    .err()
    .unwrap();
    assert_eq!(
        err.to_string(),
        "definition \"pg\" (matched for postgres.default#shared.db) reads ${values.PG_ADMIN}, which is not set in this environment"
    );
}

// ---------------------------------------------------------------- resolver

fn outputs() -> BTreeMap<ResourceKey, Outputs> {
    [
        (
            ResourceKey::new("dns", "default", "shared.db"),
            Outputs {
                values: json!({"host": "db.example.org"})
                    .as_object()
                    .unwrap()
                    .clone(),
                secrets: Default::default(),
            },
        ),
        (
            ResourceKey::new("postgres", "default", "shared.main"),
            Outputs {
                values: json!({"port": 5432, "hosts": ["a", "b"]})
                    .as_object()
                    .unwrap()
                    .clone(),
                secrets: json!({"password": "hunter2"}).as_object().unwrap().clone(),
            },
        ),
        (
            ResourceKey::new("k8s-namespace", "default", "k8s-namespace"),
            Outputs {
                values: json!({"namespace": "shop-dev"})
                    .as_object()
                    .unwrap()
                    .clone(),
                secrets: Default::default(),
            },
        ),
    ]
    .into()
}

/// Resolves `input` (a JSON string value) for `postgres.default#shared.db`;
/// renders `value (secret)` or the error.
#[track_caller]
fn check_resolve(input: serde_json::Value, expected: &str) {
    let env = env("shop", "dev", "development");
    let key = ResourceKey::new("postgres", "default", "shared.db");
    let vals: ValueMap = [
        ("PLAIN".to_owned(), SharedValue::plain("p")),
        ("PW".to_owned(), SharedValue::secret("s3cret")),
    ]
    .into();
    let outs = outputs();
    let r = Resolver {
        env: &env,
        resource: &key,
        guresid: "g123",
        deploy_id: "d42",
        values: &vals,
        outputs: &outs as &dyn OutputSource,
    };
    let got = match r.resolve(&input, "x") {
        Ok(res) => format!("{}{}", res.value, if res.secret { " (secret)" } else { "" }),
        Err(e) => format!("error: {e}"),
    };
    assert_eq!(got, expected, "{input}");
}

#[test]
fn resolver_expands_and_tracks_secrecy() {
    let cases = [
        (
            json!("${context.app.id}/${context.env.id}/${context.env.type}"),
            r#""shop/dev/development""#,
        ),
        (
            json!(
                "${context.res.type}.${context.res.class}#${context.res.id} ${context.res.guresid} ${context.deploy.id}"
            ),
            r#""postgres.default#shared.db g123 d42""#,
        ),
        (json!("$${literal} ${values.PLAIN}"), r#""${literal} p""#),
        (json!("${values.PW}"), r#""s3cret" (secret)"#),
        (
            json!("user:${values.PW}@host"),
            r#""user:s3cret@host" (secret)"#,
        ),
        (
            json!({"a": ["${values.PLAIN}", {"b": "${values.PW}"}], "n": 1}),
            r#"{"a":["p",{"b":"s3cret"}],"n":1} (secret)"#,
        ),
        // Same res_id by default; exactly one placeholder keeps the type.
        (
            json!("${resources.dns.outputs.host}"),
            r#""db.example.org""#,
        ),
        (
            json!("${resources.postgres#shared.main.outputs.port}"),
            "5432",
        ),
        (
            json!("port=${resources.postgres#shared.main.outputs.port}"),
            r#""port=5432""#,
        ),
        (
            json!("${resources.postgres.default#shared.main.outputs.hosts.1}"),
            r#""b""#,
        ),
        (
            json!("${resources.postgres#shared.main.outputs.hosts}"),
            r#"["a","b"]"#,
        ),
        (
            json!("${resources.postgres#shared.main.outputs.password}"),
            r#""hunter2" (secret)"#,
        ),
        // Implicit singletons need no #res_id.
        (
            json!("${resources.k8s-namespace.outputs.namespace}"),
            r#""shop-dev""#,
        ),
        (
            json!("${values.NOPE}"),
            r#"error: x: ${values.NOPE}: no shared value "NOPE" in this environment"#,
        ),
        (
            json!("${resources.s3.outputs.bucket}"),
            "error: x: resource s3.default#shared.db has no outputs yet (is it a dependency of this resource?)",
        ),
        (
            json!("${resources.dns.outputs.ip}"),
            r#"error: x: resource dns.default#shared.db has no output "ip""#,
        ),
        (
            json!({"k": ["${context.nope}"]}),
            "error: x.k[0]: ${context.nope}: unknown context key; expected context.(app.id|env.id|env.type|res.id|res.type|res.class|res.guresid|deploy.id), values.KEY or resources.TYPE[.CLASS][#RES_ID].outputs.KEY",
        ),
        (
            json!("${resources.dns.host}"),
            "error: x: ${resources.dns.host}: missing `.outputs.KEY`; expected context.(app.id|env.id|env.type|res.id|res.type|res.class|res.guresid|deploy.id), values.KEY or resources.TYPE[.CLASS][#RES_ID].outputs.KEY",
        ),
    ];
    for (input, expected) in cases {
        check_resolve(input, expected);
    }
}

#[test]
fn resolve_inputs_keeps_secrets_out_of_values_and_grants() {
    let env = env("shop", "dev", "development");
    let key = ResourceKey::new("postgres", "default", "shared.db");
    let vals: ValueMap = [("PW".to_owned(), SharedValue::secret("s3cret"))].into();
    let outs = outputs();
    let r = Resolver {
        env: &env,
        resource: &key,
        guresid: "g",
        deploy_id: "d",
        values: &vals,
        outputs: &outs,
    };
    let def = |values: &str, secrets: &str, grants: &str| {
        definition_list(&format!(
            "
kind: ResourceDefinition
apiVersion: podium.dev/v1
metadata: {{id: pg}}
spec: {{type: postgres, driver_type: p, driver_inputs: {{values: {values}, secrets: {secrets}}}, grants: {grants}}}
"
        ))
        .remove(0)
    };
    let ok = r
        .resolve_inputs(&def(
            "{host: '${resources.dns.outputs.host}', port: 5432}",
            "{dsn: 'postgres://admin:${values.PW}@${resources.dns.outputs.host}'}",
            "['postgres://${resources.dns.outputs.host}:5432']",
        ))
        .unwrap();
    assert_eq!(ok.values, json!({"host": "db.example.org", "port": 5432}));
    assert_eq!(
        ok.secrets,
        json!({"dsn": "postgres://admin:s3cret@db.example.org"})
    );
    assert_eq!(ok.grants, ["postgres://db.example.org:5432"]);

    let err = r
        .resolve_inputs(&def("{pw: 'x${values.PW}'}", "{}", "[]"))
        .err()
        .unwrap();
    assert!(
        matches!(&err, ResolveError::SecretNotAllowed { at, .. } if at == "driver_inputs.values.pw"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "driver_inputs.values.pw: ${values.PW} is secret and may only be used in driver_inputs.secrets, not in driver_inputs.values or grants"
    );
    let err = r
        .resolve_inputs(&def(
            "{}",
            "{}",
            "['https://${resources.postgres#shared.main.outputs.password}']",
        ))
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .starts_with("grants[0]: ${resources.postgres#shared.main.outputs.password} is secret"),
        "{err}"
    );
}

/// A workload with an `environment` resource reads shared values: a changed
/// value updates it; a workload without one is unchanged.
#[test]
fn shared_values_read_through_environment_resources_update_the_workload() {
    const WITH_ENV: &str = r#"
modules:
  web:
    metadata: {name: web}
    containers: {main: {image: "web:1", variables: {G: "${resources.env.GREETING}"}}}
    resources: {db: {type: postgres, id: db}, env: {type: environment}}
  api:
    metadata: {name: api}
    containers: {main: {image: "api:1"}}
"#;
    let before: ValueMap = [
        (
            "PG_ADMIN".to_owned(),
            SharedValue::secret("secret://PG_ADMIN/1"),
        ),
        ("GREETING".to_owned(), SharedValue::plain("hello")),
    ]
    .into();
    let first = plan(
        &set(WITH_ENV),
        &env("shop", "dev", "development"),
        &definitions(DEFS),
        &before,
        &[],
    )
    .unwrap();
    let mut after = before.clone();
    after.insert("GREETING".into(), SharedValue::plain("bonjour"));
    check(
        WITH_ENV,
        DEFS,
        &after,
        &first.applied(),
        "
        0 Unchanged dns.default#shared.db
        1 Unchanged k8s-cluster.default#k8s-cluster
        2 Unchanged k8s-namespace.default#k8s-namespace
        3 Unchanged postgres.default#shared.db after [0]
        4 Unchanged workload.default#modules.api after [1, 2]
        5 Update workload.default#modules.web after [1, 2, 3]
        ",
    );
}
