//! Resource types platform engineers declare (`kind: ResourceType`, issue
//! 13 item 12) and `podium explain` (item 13), through the service and the
//! CLI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{Value, json};

const REDIS: &str = r#"
apiVersion: podium.dev/v1
kind: ResourceType
metadata: {id: redis}
spec:
  description: A Redis database
  outputs:
    values: [host, port]
    secrets: [password]
"#;

fn ok(o: &std::process::Output) -> String {
    assert!(o.status.success(), "{}{}", stdout(o), stderr(o));
    stdout(o)
}

#[test]
fn declared_resource_types_are_applied_listed_kept_and_only_grow() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut s = Server::start(&data);
    let redis = file(tmp.path(), "redis.yaml", REDIS);

    assert!(ok(&s.cli(&["apply", "-f", &redis])).contains("type/redis created"));
    assert!(ok(&s.cli(&["apply", "-f", &redis])).contains("type/redis unchanged"));

    // Listed with the built-in types: a table, JSON and YAML.
    let table = ok(&s.cli(&["get", "types"]));
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in\n{table}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(row("redis"), ["redis", "false", "host,port", "password"]);
    assert_eq!(row("postgres")[1], "true");
    assert_eq!(row("postgres")[3], "password");
    let listed: Value = serde_json::from_str(&ok(&s.cli(&["get", "types", "-o", "json"]))).unwrap();
    let r = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "redis")
        .unwrap()
        .clone();
    assert_eq!(
        r["outputs"],
        json!({"values": ["host", "port"], "secrets": ["password"]})
    );
    assert_eq!(r["description"], "A Redis database");
    assert_eq!(r["builtin"], false);
    let yaml = ok(&s.cli(&["get", "types", "redis", "-o", "yaml"]));
    assert!(yaml.contains("name: redis"), "{yaml}");

    // A declared type may gain outputs; losing or moving one is refused.
    let put = |s: &Server, name: &str, values: Value, secrets: Value| {
        s.put_json(
            &format!("/api/v1/resource-types/{name}"),
            &json!({"outputs": {"values": values, "secrets": secrets}}),
        )
    };
    let (st, v) = put(
        &s,
        "redis",
        json!(["host", "port", "db"]),
        json!(["password"]),
    );
    assert_eq!(st, 201, "{v}");
    let (st, v) = put(
        &s,
        "redis",
        json!(["host", "port", "db", "password"]),
        json!([]),
    );
    assert_eq!(st, 409, "{v}");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("moves secret output \"password\""),
        "{v}"
    );
    let (st, v) = put(&s, "redis", json!(["host"]), json!(["password"]));
    assert_eq!(st, 409, "{v}");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("removes value output \"port\""),
        "{v}"
    );
    let (st, v) = put(&s, "redis", json!(["a.b"]), json!([]));
    assert_eq!(st, 422, "{v}");
    let (st, v) = put(&s, "memcached", json!(["host"]), json!(["host"]));
    assert_eq!(st, 422, "{v}");

    // Built-in types are fixed: the same declaration is accepted, any other
    // is refused, through the API and through apply.
    let (st, v) = put(
        &s,
        "postgres",
        json!(["port", "host", "name", "database", "username"]),
        json!(["password"]),
    );
    assert_eq!(st, 200, "{v}");
    let (st, v) = put(&s, "postgres", json!(["host"]), json!([]));
    assert_eq!(st, 409, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("built in"), "{v}");
    let pg = file(
        tmp.path(),
        "pg.yaml",
        "apiVersion: podium.dev/v1\nkind: ResourceType\nmetadata: {id: postgres}\nspec:\n  outputs: {values: [host], secrets: [password, port]}\n",
    );
    let o = s.cli(&["apply", "-f", &pg]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("built in"), "{}", stderr(&o));
    let (_, pg) = s.get("/api/v1/resource-types/postgres");
    assert_eq!(pg["secrets"], json!(["password"]), "{pg}");

    // Audited, and kept across a restart.
    let (_, audit) = s.get("/api/v1/audit?limit=1000");
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["path"] == "/api/v1/resource-types/redis"
                && e["status"] == 201
                && e["action"] == "put resource type"),
        "{audit}"
    );
    s.stop();
    let s = Server::start(&data);
    let (st, r) = s.get("/api/v1/resource-types/redis");
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["values"], json!(["host", "port", "db"]), "{r}");
    assert_eq!(s.get("/api/v1/resource-types/nope").0, 404);
}

const CACHE_DEFS: &str = r#"
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: c-any}
spec: {type: cache, driver_type: podium/echo, criteria: [{}]}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: c-dev}
spec: {type: cache, driver_type: podium/echo, criteria: [{env_type: development}]}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: c-prod}
spec: {type: cache, driver_type: podium/echo, criteria: [{env_type: production}]}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: c-shop}
spec: {type: cache, driver_type: podium/echo, criteria: [{app_id: shop}]}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: c-blog}
spec: {type: cache, driver_type: podium/echo, criteria: [{app_id: blog}]}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: c-qa}
spec: {type: cache, driver_type: podium/echo, criteria: [{env_id: qa}]}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: c-orders}
spec: {type: cache, driver_type: podium/echo, criteria: [{app_id: shop, res_id: shared.orders}]}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: c-other}
spec: {type: cache, driver_type: podium/echo, criteria: [{res_id: shared.other}]}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: c-large}
spec: {type: cache, driver_type: podium/echo, criteria: [{class: large}]}
"#;

/// `podium explain` output: the winner line and `definition -> reason` of
/// every loser.
fn explain(s: &Server, args: &[&str]) -> (String, std::collections::BTreeMap<String, String>) {
    let mut all = vec!["explain", "--app", "shop", "--env", "dev"];
    all.extend_from_slice(args);
    let out = ok(&s.cli(&all));
    let winner = out
        .lines()
        .find_map(|l| l.strip_prefix("winner: "))
        .unwrap_or_else(|| panic!("no winner line:\n{out}"))
        .to_owned();
    let losers = out
        .lines()
        .skip_while(|l| *l != "lost:")
        .skip(1)
        .map(|l| {
            let (def, reason) = l.trim().split_once(": ").unwrap();
            (
                def.split_whitespace().next().unwrap().to_owned(),
                reason.to_owned(),
            )
        })
        .collect();
    (winner, losers)
}

#[track_caller]
fn has(reasons: &std::collections::BTreeMap<String, String>, def: &str, text: &str) {
    let r = reasons
        .get(def)
        .unwrap_or_else(|| panic!("{def} is not among the losers: {reasons:#?}"));
    assert!(r.contains(text), "{def}: {r:?} does not say {text:?}");
}

#[test]
fn explain_names_the_winner_and_why_each_definition_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    app_env(&s, "shop", "dev");
    let defs = file(tmp.path(), "defs.yaml", CACHE_DEFS);
    ok(&s.cli(&["apply", "-f", &defs]));

    // res_id beats app_id beats env_type beats nothing.
    let (winner, lost) = explain(&s, &["cache", "--id", "shared.orders"]);
    assert!(
        winner.starts_with("c-orders (version 1): won: criterion #0"),
        "{winner}"
    );
    assert_eq!(lost.len(), 8, "{lost:#?}");
    for def in ["c-any", "c-dev", "c-shop"] {
        has(&lost, def, "less specific than the winner c-orders");
    }
    has(&lost, "c-prod", "env_type is development, not production");
    has(&lost, "c-blog", "app_id is shop, not blog");
    has(&lost, "c-qa", "env_id is dev, not qa");
    has(
        &lost,
        "c-other",
        "res_id is shared.orders, not shared.other",
    );
    has(&lost, "c-large", "class is default, not large");

    // Another res_id: the app's definition wins.
    let (winner, lost) = explain(&s, &["cache.default", "--id", "shared.users"]);
    assert!(winner.starts_with("c-shop "), "{winner}");
    has(
        &lost,
        "c-orders",
        "res_id is shared.users, not shared.orders",
    );
    has(&lost, "c-dev", "less specific than the winner c-shop");

    // A class: only its definitions can match.
    let (winner, lost) = explain(&s, &["cache.large", "--id", "shared.orders"]);
    assert!(winner.starts_with("c-large "), "{winner}");
    has(&lost, "c-orders", "class is large, not default");
    has(&lost, "c-any", "class is large, not default");

    // No id: criteria naming one do not match.
    let (winner, lost) = explain(&s, &["cache"]);
    assert!(winner.starts_with("c-shop "), "{winner}");
    has(&lost, "c-orders", "res_id is not given, not shared.orders");

    // The API gives the same: winner, and each candidate's reason.
    let (st, v) = s.get("/api/v1/apps/shop/envs/dev/explain?type=cache&res_id=shared.orders");
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["winner"], "c-orders");
    let qa = v["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["definition"] == "c-qa")
        .unwrap();
    assert_eq!(qa["outcome"]["outcome"], "no_match", "{qa}");
    assert!(
        qa["reason"]
            .as_str()
            .unwrap()
            .contains("env_id is dev, not qa"),
        "{qa}"
    );
    let json_out: Value = serde_json::from_str(&ok(&s.cli(&[
        "explain",
        "--app",
        "shop",
        "--env",
        "dev",
        "cache",
        "--id",
        "shared.orders",
        "-o",
        "json",
    ])))
    .unwrap();
    assert_eq!(json_out["winner"], "c-orders");

    // Nothing of the type: said so.
    let (winner, lost) = explain(&s, &["queue"]);
    assert!(winner.starts_with("none"), "{winner}");
    assert!(lost.is_empty());
}
