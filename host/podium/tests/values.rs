//! Shared values through the CLI (`podium values set|get|list|unset`):
//! app values with env overrides, versioned; a workload reads them through
//! a Score `environment` resource; a deployment records the values version
//! it used, and a rollback deploys with that version's values, not the
//! latest. The workload's rendered manifests (GitOps output of the
//! development env) show what it got.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

const SCORE: &str = r#"apiVersion: score.dev/v1b1
metadata: {name: api}
containers:
  main:
    image: nginx:1
    variables:
      GREETING: ${resources.env.GREETING}
resources:
  env: {type: environment}
"#;

/// Every rendered manifest of shop/dev, concatenated.
fn manifests(s: &Server) -> String {
    let dir = s.data.join("gitops").join("shop").join("dev");
    let mut out = String::new();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        out.push_str(&std::fs::read_to_string(e.path()).unwrap());
    }
    out
}

fn deploy(s: &Server, score: &str) -> String {
    let o = s.cli(&[
        "deploy", "-f", score, "--app", "shop", "--env", "dev", "--wait",
    ]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    stdout(&o)
        .lines()
        .find_map(|l| {
            l.strip_prefix("deployment ")
                .and_then(|r| r.split_whitespace().next())
        })
        .unwrap()
        .to_owned()
}

fn ok(o: std::process::Output) -> String {
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    stdout(&o)
}

#[test]
fn values_are_versioned_overridden_per_env_and_rollback_uses_the_recorded_version() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    app_env(&s, "shop", "dev");
    let score = file(tmp.path(), "score.yaml", SCORE);

    ok(s.cli(&["values", "set", "GREETING", "hello-v1", "--app", "shop"]));
    let first = deploy(&s, &score);
    assert!(manifests(&s).contains("hello-v1"), "{}", manifests(&s));

    // An env override wins over the app value.
    ok(s.cli(&[
        "values",
        "set",
        "GREETING",
        "hello-dev",
        "--app",
        "shop",
        "--env",
        "dev",
    ]));
    assert_eq!(
        ok(s.cli(&["values", "get", "GREETING", "--app", "shop", "--env", "dev"])).trim(),
        "hello-dev"
    );
    assert_eq!(
        ok(s.cli(&["values", "get", "GREETING", "--app", "shop"])).trim(),
        "hello-v1"
    );
    let second = deploy(&s, &score);
    let m = manifests(&s);
    assert!(m.contains("hello-dev") && !m.contains("hello-v1"), "{m}");

    // Each deployment recorded the version it resolved.
    let version = |id: &str| {
        let (st, d) = s.get(&format!("/api/v1/deploys/{id}"));
        assert_eq!(st, 200);
        d["values_version"].as_u64().unwrap()
    };
    assert_eq!(version(&first), 1);
    assert_eq!(version(&second), 2);

    // Rolling back to the first deployment brings its values back, though
    // the latest values say otherwise.
    let o = ok(s.cli(&[
        "rollback", "--app", "shop", "--env", "dev", &first, "--wait",
    ]));
    let m = manifests(&s);
    assert!(
        m.contains("hello-v1") && !m.contains("hello-dev"),
        "{o}\n{m}"
    );
    let (_, list) = s.get("/api/v1/apps/shop/envs/dev/deploys");
    let last = list
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|d| d["seq"].as_u64().unwrap())
        .unwrap()
        .clone();
    assert_eq!(last["trigger"], "rollback", "{last}");
    assert_eq!(last["values_version"], 1, "{last}");

    // Unset, list.
    ok(s.cli(&[
        "values", "unset", "GREETING", "--app", "shop", "--env", "dev",
    ]));
    let listed = ok(s.cli(&["values", "list", "--app", "shop"]));
    assert!(
        listed.contains("GREETING") && listed.contains("hello-v1"),
        "{listed}"
    );
    assert!(!listed.contains("hello-dev"), "{listed}");

    // A secret value is never shown again.
    ok(s.cli(&[
        "values",
        "set",
        "TOKEN",
        "s3cr3t-tok",
        "--app",
        "shop",
        "--secret",
    ]));
    let listed = ok(s.cli(&["values", "list", "--app", "shop", "-o", "json"]));
    assert!(
        !listed.contains("s3cr3t-tok") && listed.contains("<redacted>"),
        "{listed}"
    );
    // Missing value: a clear error.
    let o = s.cli(&["values", "get", "NOPE", "--app", "shop"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no value \"NOPE\""), "{}", stderr(&o));
}
