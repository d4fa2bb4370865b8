//! Matching: most specific wins, ties refused at add time, no-match and
//! explain reports. One `check` per case: definitions (YAML documents), a
//! resource in a context, and the expected explanation text.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use podium_core::{MatchError, ResourceKey};

const DEFS: &str = r#"
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: pg-any}
spec:
  type: postgres
  driver_type: podium/postgres
  criteria: [{}]
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: pg-dev}
spec:
  type: postgres
  driver_type: podium/postgres
  criteria:
    - {env_type: development}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: pg-shop}
spec:
  type: postgres
  driver_type: podium/postgres
  criteria:
    - {app_id: shop, env_type: production}
    - {app_id: shop, class: large}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: pg-qa}
spec:
  type: postgres
  driver_type: podium/postgres
  criteria:
    - {env_id: qa}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: pg-orders}
spec:
  type: postgres
  driver_type: podium/postgres
  criteria:
    - {res_id: shared.orders}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: dns-any}
spec:
  type: dns
  driver_type: podium/powerdns
  criteria: [{}]
"#;

/// `resource` is `type.class#res_id`, `context` is `app/env/env_type`.
#[track_caller]
fn check(resource: &str, context: &str, expected: &str) {
    let defs = definitions(DEFS);
    let (tc, res_id) = resource.split_once('#').unwrap();
    let (t, c) = tc.split_once('.').unwrap();
    let key = ResourceKey::new(t, c, res_id);
    let parts: Vec<&str> = context.split('/').collect();
    let env = env(parts[0], parts[1], parts[2]);
    let explanation = defs.explain(&env, &key);
    // explain and match agree.
    match defs.match_resource(&env, &key) {
        Ok(m) => assert_eq!(
            explanation.winner.as_deref(),
            Some(m.definition.id.as_str())
        ),
        Err(MatchError::NoMatch { .. }) => assert_eq!(explanation.winner, None),
        Err(e) => panic!("{e}"),
    }
    assert_text(&explanation.to_string(), expected);
}

#[test]
fn empty_criterion_matches_everything_of_class_default() {
    check(
        "postgres.default#modules.web.externals.db",
        "blog/dev/development",
        "
        postgres.default#modules.web.externals.db in app blog, env dev (type development):
          pg-any: criterion #0 {} matched but is less specific than pg-dev
          pg-dev: won with criterion #0 {env_type: development}
          pg-orders: no criterion matches
            #0 {res_id: shared.orders}: res_id is modules.web.externals.db, not shared.orders
          pg-qa: no criterion matches
            #0 {env_id: qa}: env_id is dev, not qa
          pg-shop: no criterion matches
            #0 {env_type: production, app_id: shop}: app_id is blog, not shop
            #1 {app_id: shop, class: large}: class is default, not large
        ",
    );
}

#[test]
fn app_id_beats_env_type_even_with_fewer_fields() {
    check(
        "postgres.large#shared.db",
        "shop/prod/production",
        "
        postgres.large#shared.db in app shop, env prod (type production):
          pg-any: no criterion matches
            #0 {}: class is large, not default
          pg-dev: no criterion matches
            #0 {env_type: development}: class is large, not default
          pg-orders: no criterion matches
            #0 {res_id: shared.orders}: class is large, not default
          pg-qa: no criterion matches
            #0 {env_id: qa}: class is large, not default
          pg-shop: won with criterion #1 {app_id: shop, class: large}
        ",
    );
}

#[test]
fn env_id_beats_app_id_and_env_type() {
    check(
        "postgres.default#shared.db",
        "shop/qa/production",
        "
        postgres.default#shared.db in app shop, env qa (type production):
          pg-any: criterion #0 {} matched but is less specific than pg-qa
          pg-dev: no criterion matches
            #0 {env_type: development}: env_type is production, not development
          pg-orders: no criterion matches
            #0 {res_id: shared.orders}: res_id is shared.db, not shared.orders
          pg-qa: won with criterion #0 {env_id: qa}
          pg-shop: criterion #0 {env_type: production, app_id: shop} matched but is less specific than pg-qa
        ",
    );
}

#[test]
fn res_id_beats_everything() {
    check(
        "postgres.default#shared.orders",
        "shop/qa/production",
        "
        postgres.default#shared.orders in app shop, env qa (type production):
          pg-any: criterion #0 {} matched but is less specific than pg-orders
          pg-dev: no criterion matches
            #0 {env_type: development}: env_type is production, not development
          pg-orders: won with criterion #0 {res_id: shared.orders}
          pg-qa: criterion #0 {env_id: qa} matched but is less specific than pg-orders
          pg-shop: criterion #0 {env_type: production, app_id: shop} matched but is less specific than pg-orders
        ",
    );
}

#[test]
fn no_definitions_of_the_type() {
    check(
        "s3.default#shared.files",
        "shop/dev/development",
        "
        s3.default#shared.files in app shop, env dev (type development):
          no definitions of type s3
        ",
    );
}

#[test]
fn no_match_names_resource_type_class_and_context() {
    let defs = definitions(DEFS);
    let err = defs
        .match_resource(
            &env("shop", "dev", "development"),
            &ResourceKey::new("dns", "internal", "shared.api"),
        )
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "no resource definition matches dns (class internal, res_id shared.api) in app shop, env dev (type development); 1 candidate definition(s) of that type, see `explain`"
    );
}

/// Ties: (existing criteria, added criteria, expected error or "ok").
#[test]
fn ties_are_refused_when_the_second_definition_is_added() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "{env_type: dev}",
            "{env_type: dev}",
            "tie {env_type: dev} / {env_type: dev}",
        ),
        ("{}", "{class: default}", "tie {} / {class: default}"),
        ("{}", "{}", "tie {} / {}"),
        (
            "{app_id: a, env_type: dev}",
            "{env_type: dev, app_id: a}",
            "tie {env_type: dev, app_id: a} / {env_type: dev, app_id: a}",
        ),
        // Same fields, different values: no context matches both.
        ("{env_type: dev}", "{env_type: prod}", "ok"),
        // Different classes never compete.
        ("{env_type: dev}", "{env_type: dev, class: large}", "ok"),
        // Different fields: one is always more specific.
        ("{env_type: dev}", "{app_id: a}", "ok"),
        ("{env_type: dev, app_id: a}", "{env_id: e}", "ok"),
        ("{res_id: x}", "{res_id: x, env_type: dev}", "ok"),
    ];
    for (first, second, expected) in cases {
        let yaml = format!(
            "
kind: ResourceDefinition
apiVersion: podium.dev/v1
metadata: {{id: first}}
spec: {{type: dns, driver_type: d, criteria: [{first}]}}
---
kind: ResourceDefinition
apiVersion: podium.dev/v1
metadata: {{id: second}}
spec: {{type: dns, driver_type: d, criteria: [{{env_id: unrelated}}, {second}]}}
"
        );
        let mut defs = podium_core::Definitions::new();
        let mut list = definition_list(&yaml).into_iter();
        defs.add(list.next().unwrap()).unwrap();
        let got = match defs.add(list.next().unwrap()) {
            Ok(()) => "ok".to_owned(),
            Err(MatchError::Tie {
                first,
                first_criterion,
                second,
                second_criterion,
                res_type,
            }) => {
                assert_eq!(
                    (first.as_str(), second.as_str(), res_type.as_str()),
                    ("first", "second", "dns")
                );
                format!("tie {first_criterion} / {second_criterion}")
            }
            Err(e) => panic!("{e}"),
        };
        assert_eq!(&got, expected, "{first} then {second}");
        // A refused definition leaves the registry unchanged.
        if got != "ok" {
            assert_eq!(defs.len(), 1);
        }
    }
}

#[test]
fn tie_message_names_both_definitions_and_criteria() {
    let mut defs = podium_core::Definitions::new();
    let mut list = definition_list(
        "
kind: ResourceDefinition
apiVersion: podium.dev/v1
metadata: {id: pg-a}
spec: {type: postgres, driver_type: d, criteria: [{env_type: development}]}
---
kind: ResourceDefinition
apiVersion: podium.dev/v1
metadata: {id: pg-b}
spec: {type: postgres, driver_type: d, criteria: [{env_type: development, class: default}]}
",
    )
    .into_iter();
    defs.add(list.next().unwrap()).unwrap();
    let err = defs.add(list.next().unwrap()).err().unwrap();
    assert_eq!(
        err.to_string(),
        "resource definitions \"pg-a\" and \"pg-b\" (type postgres) tie: criteria {env_type: development} and {env_type: development, class: default} match exactly the same contexts with the same specificity; make one more specific or give them different classes"
    );
}

#[test]
fn replacing_a_definition_does_not_tie_with_itself_and_updates_the_index() {
    let mut defs = definitions(DEFS);
    let mut dev = definition_list(DEFS)
        .into_iter()
        .find(|d| d.id == "pg-dev")
        .unwrap();
    dev.version = 2;
    dev.spec.criteria = vec![serde_json::from_str(r#"{"env_type": "staging"}"#).unwrap()];
    defs.add(dev).unwrap();
    let key = ResourceKey::new("postgres", "default", "shared.db");
    let m = defs
        .match_resource(&env("blog", "dev", "development"), &key)
        .unwrap();
    assert_eq!(m.definition.id, "pg-any");
    let m = defs
        .match_resource(&env("blog", "st", "staging"), &key)
        .unwrap();
    assert_eq!(
        (m.definition.id.as_str(), m.definition.version),
        ("pg-dev", 2)
    );
    defs.remove("pg-any");
    assert!(
        defs.match_resource(&env("blog", "dev", "development"), &key)
            .is_err()
    );
}

#[test]
fn the_design_documents_deserialize() {
    let design = r#"
apiVersion: podium.dev/v1
kind: EnvironmentType          # also: Application, Environment, ResourceDefinition, Values, WorkloadProfile
metadata: {id: development}
---
apiVersion: podium.dev/v1
kind: Application
metadata: {id: shop}
---
apiVersion: podium.dev/v1
kind: Environment
metadata: {id: dev, app: shop}
spec: {type: development}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: pg-dev}
spec:
  type: postgres
  driver_type: podium/postgres
  driver_inputs:
    values: {host: 127.0.0.1, port: 55432, admin_user: podium_admin}
    secrets: {admin_password: "${values.PG_ADMIN_PASSWORD}"}
  grants: ["postgres://127.0.0.1:55432"]     # capability grants: what the driver may reach
  criteria:
    - {env_type: development}
    - {app_id: shop, env_id: qa, class: large}
"#;
    let docs = documents(design);
    assert_eq!(docs.len(), 4);
    assert!(docs.iter().all(|d| d.api_version == "podium.dev/v1"));
    let env: podium_core::model::Environment = serde_json::from_value(serde_json::json!({
        "id": docs[2].metadata["id"], "app": docs[2].metadata["app"], "type": docs[2].spec["type"]
    }))
    .unwrap();
    assert_eq!(env.context(), common::env("shop", "dev", "development"));
    let defs = definition_list(design);
    let pg = &defs[0];
    assert_eq!(pg.id, "pg-dev");
    assert_eq!(pg.spec.res_type, "postgres");
    assert_eq!(pg.spec.driver_type, "podium/postgres");
    assert_eq!(pg.spec.driver_inputs.values["port"], 55432);
    assert_eq!(
        pg.spec.driver_inputs.secrets["admin_password"],
        "${values.PG_ADMIN_PASSWORD}"
    );
    assert_eq!(pg.spec.grants, ["postgres://127.0.0.1:55432"]);
    assert_eq!(
        pg.spec.criteria[1].to_string(),
        "{app_id: shop, env_id: qa, class: large}"
    );
    // The flat form (id next to the spec fields) round-trips.
    let flat = serde_json::to_value(pg).unwrap();
    assert_eq!(flat["driver_type"], "podium/postgres");
    let back: podium_core::ResourceDefinition = serde_json::from_value(flat).unwrap();
    assert_eq!(&back, pg);
}
