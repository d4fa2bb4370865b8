//! Environment lifecycle through the service: teardown through the
//! deployment path, clone, promote, expiry (also across a stop), and the
//! refusals that leave state unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const SCORE: &str = r#"{
  "apiVersion": "score.dev/v1b1",
  "metadata": {"name": "web"},
  "containers": {"main": {"image": "web:1", "variables": {"DB": "${resources.db.host}"}}},
  "resources": {"db": {"type": "postgres"}, "dns": {"type": "dns"}}
}"#;

fn deploy(s: &Server, env: &str, body: &Value) -> Value {
    let (st, d) = s.post_json(&format!("/api/v1/apps/shop/envs/{env}/deploys"), body);
    assert_eq!(st, 202, "{d}");
    s.wait(d["id"].as_str().unwrap())
}

fn active(s: &Server, env: &str) -> Vec<String> {
    let (st, r) = s.get(&format!("/api/v1/apps/shop/envs/{env}/resources"));
    assert_eq!(st, 200, "{r}");
    let mut ids: Vec<String> = r
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["guresid"].as_str().unwrap_or_default().to_owned())
        .collect();
    ids.sort();
    ids
}

fn env_of(s: &Server, env: &str) -> (u16, Value) {
    s.get(&format!("/api/v1/apps/shop/envs/{env}"))
}

#[test]
fn clone_promote_and_teardown_through_the_deployment_path() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    app_env(&s, "shop", "dev");
    let body = json!({"workloads": [serde_json::from_str::<Value>(SCORE).unwrap()]});
    let d = deploy(&s, "dev", &body);
    assert_eq!(d["status"], "succeeded", "{d}");
    let dev_before = active(&s, "dev");
    assert_eq!(dev_before.len(), 5, "{dev_before:?}");

    // Clone pr-1 from dev: created and deployed with dev's set.
    let (st, e) = s.put_json(
        "/api/v1/apps/shop/envs/pr-1",
        &json!({"type": "development", "from_env": "dev", "ttl": "72h"}),
    );
    assert_eq!(st, 200, "{e}");
    assert!(e["expires_at"].is_string(), "{e}");
    let cloned = s.wait(e["deploy"]["id"].as_str().unwrap());
    assert_eq!(cloned["status"], "succeeded", "{cloned}");
    assert_eq!(cloned["set_id"], d["set_id"], "same set");
    assert_eq!(cloned["trigger"], "promote");
    let pr = active(&s, "pr-1");
    assert_eq!(pr.len(), 5);
    assert!(pr.iter().all(|g| !dev_before.contains(g)), "own GUResIDs");

    // Promote dev → staging: same set id.
    app_env(&s, "shop", "staging");
    let p = deploy(&s, "staging", &json!({"from_env": "dev"}));
    assert_eq!(p["status"], "succeeded", "{p}");
    assert_eq!(p["set_id"], d["set_id"]);
    // A source without a successful deployment is refused.
    app_env(&s, "shop", "empty");
    let (st, b) = s.post_json(
        "/api/v1/apps/shop/envs/staging/deploys",
        &json!({"from_env": "empty"}),
    );
    assert_eq!(st, 422, "{b}");
    assert!(b.to_string().contains("no successful deployment"), "{b}");

    // Delete pr-1: a teardown deployment deletes every resource, then the
    // env goes; dev is intact.
    let (st, _, t) = s.send("DELETE", "/api/v1/apps/shop/envs/pr-1?wait=true", "", b"");
    assert_eq!(st, 200, "{t}");
    assert_eq!(t["status"], "succeeded", "{t}");
    assert_eq!(t["trigger"], "teardown");
    let deleted: Vec<&Value> = t["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "delete" && r["status"] == "succeeded")
        .collect();
    assert_eq!(deleted.len(), 5, "{t}");
    assert_eq!(env_of(&s, "pr-1").0, 404);
    assert_eq!(active(&s, "dev"), dev_before, "dev untouched");
    // Its history stays readable.
    let (st, old) = s.get(&format!(
        "/api/v1/deploys/{}",
        cloned["id"].as_str().unwrap()
    ));
    assert_eq!(st, 200, "{old}");
    let (st, events) = s.get(&format!("/api/v1/deploys/{}", t["id"].as_str().unwrap()));
    assert_eq!(st, 200, "{events}");

    // Unknown env: 404; a deploy to it: 404.
    let (st, _, _) = s.send("DELETE", "/api/v1/apps/shop/envs/nope", "", b"");
    assert_eq!(st, 404);
}

#[test]
fn a_deleting_env_refuses_deployments_and_bad_ttls_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    app_env(&s, "shop", "dev");
    for bad in ["-1h", "abc", "0s", "5x", ""] {
        let (st, b) = s.put_json(
            "/api/v1/apps/shop/envs/dev",
            &json!({"type": "development", "ttl": bad}),
        );
        assert_eq!(st, 422, "{bad}: {b}");
        assert_eq!(b["errors"][0]["path"], "ttl", "{b}");
    }
    let (_, e) = env_of(&s, "dev");
    assert!(e.get("expires_at").is_none(), "unchanged: {e}");
    assert_eq!(e["status"], "active");

    // A slow deployment holds the env; a teardown queues behind it; a
    // deploy after the teardown is refused, naming it.
    hostile(&s, tmp.path());
    let slow = json!({"workloads": [{
        "apiVersion": "score.dev/v1b1",
        "metadata": {"name": "web"},
        "containers": {"main": {"image": "web:1"}},
        "resources": {"slow": {"type": "flaky", "params": {"mode": "sleep", "ms": 1500}}}
    }]});
    let (st, first) = s.post_json("/api/v1/apps/shop/envs/dev/deploys", &slow);
    assert_eq!(st, 202, "{first}");
    let (st, _, t) = s.send("DELETE", "/api/v1/apps/shop/envs/dev", "", b"");
    assert_eq!(st, 202, "{t}");
    let teardown = t["id"].as_str().unwrap().to_owned();
    let (_, e) = env_of(&s, "dev");
    assert_eq!(e["status"], "deleting", "{e}");
    let (st, b) = s.post_json("/api/v1/apps/shop/envs/dev/deploys", &json!({}));
    assert_eq!(st, 409, "{b}");
    assert!(b.to_string().contains(&teardown), "{b}");
    // The one queued before runs first and succeeds; then the teardown.
    assert_eq!(s.wait(first["id"].as_str().unwrap())["status"], "succeeded");
    let done = s.wait(&teardown);
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(env_of(&s, "dev").0, 404);
}

#[test]
fn ephemeral_envs_expire_also_across_a_stop() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut s = Server::start(&data);
    app_env(&s, "shop", "dev");
    let body = json!({"workloads": [serde_json::from_str::<Value>(SCORE).unwrap()]});
    for (env, ttl) in [("short", "2s"), ("later", "4s"), ("kept", "1d")] {
        let (st, e) = s.put_json(
            &format!("/api/v1/apps/shop/envs/{env}"),
            &json!({"type": "development", "ttl": ttl}),
        );
        assert_eq!(st, 200, "{e}");
        assert_eq!(deploy(&s, env, &body)["status"], "succeeded");
    }
    // `short` goes by itself while the service runs.
    let deadline = Instant::now() + Duration::from_secs(30);
    while env_of(&s, "short").0 != 404 {
        assert!(Instant::now() < deadline, "short did not expire");
        std::thread::sleep(Duration::from_millis(200));
    }
    // `later` expires while the service is stopped: torn down at start.
    s.stop();
    std::thread::sleep(Duration::from_secs(5));
    let s = Server::start(&data);
    let deadline = Instant::now() + Duration::from_secs(30);
    while env_of(&s, "later").0 != 404 {
        assert!(
            Instant::now() < deadline,
            "later was not torn down at start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(env_of(&s, "kept").0, 200);
    assert_eq!(active(&s, "kept").len(), 5);
    assert_eq!(env_of(&s, "dev").0, 200);
    // The teardowns are recorded, by the expiry.
    let (_, list) = s.get("/api/v1/apps/shop/envs");
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["dev", "kept"]);
}

#[test]
fn the_cli_clones_promotes_and_deletes() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    app_env(&s, "shop", "dev");
    app_env(&s, "shop", "prod");
    let body = json!({"workloads": [serde_json::from_str::<Value>(SCORE).unwrap()]});
    let d = deploy(&s, "dev", &body);
    let o = s.cli(&[
        "env",
        "create",
        "pr-7",
        "--app",
        "shop",
        "--type",
        "development",
        "--from",
        "dev",
        "--ttl",
        "3d",
        "--wait",
    ]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("expires"), "{}", stdout(&o));
    assert_eq!(active(&s, "pr-7").len(), 5);
    let o = s.cli(&[
        "promote", "--app", "shop", "--from", "dev", "--to", "prod", "--wait",
    ]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let (_, prod) = s.get("/api/v1/apps/shop/envs/prod/deploys");
    let last = prod.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["set_id"], d["set_id"], "{last}");
    // Drop a workload without a Score file: it and its private resources go.
    let worker = json!({"workloads": [{
        "apiVersion": "score.dev/v1b1",
        "metadata": {"name": "worker"},
        "containers": {"main": {"image": "worker:1"}},
        "resources": {"queue": {"type": "dns"}}
    }]});
    assert_eq!(deploy(&s, "dev", &worker)["status"], "succeeded");
    assert_eq!(active(&s, "dev").len(), 7);
    let o = s.cli(&[
        "deploy",
        "--app",
        "shop",
        "--env",
        "dev",
        "--drop-workload",
        "worker",
        "--wait",
    ]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(active(&s, "dev").len(), 5, "worker and its queue deleted");

    let o = s.cli(&["delete", "env", "pr-7", "--app", "shop", "--wait"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("environment shop/pr-7 deleted"),
        "{}",
        stdout(&o)
    );
    assert_eq!(env_of(&s, "pr-7").0, 404);
    // Deleting again: the env is gone.
    let o = s.cli(&["delete", "env", "pr-7", "--app", "shop"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("pr-7"), "{}", stderr(&o));
}

/// SIGKILL while a teardown's delete call runs: at restart the teardown is
/// recorded as interrupted, the env is `delete_failed`, and `DELETE` again
/// finishes it.
#[test]
fn a_teardown_killed_midway_is_interrupted_and_a_retry_finishes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut s = Server::start(&data);
    app_env(&s, "shop", "dev");
    hostile(&s, tmp.path());
    let slow = json!({"workloads": [{
        "apiVersion": "score.dev/v1b1",
        "metadata": {"name": "web"},
        "containers": {"main": {"image": "web:1"}},
        "resources": {"slow": {"type": "flaky", "params": {"mode": "sleep", "ms": 3000}}}
    }]});
    assert_eq!(deploy(&s, "dev", &slow)["status"], "succeeded");
    let (st, _, t) = s.send("DELETE", "/api/v1/apps/shop/envs/dev", "", b"");
    assert_eq!(st, 202, "{t}");
    let teardown = t["id"].as_str().unwrap().to_owned();
    // Kill once the slow delete is running.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, d) = s.get(&format!("/api/v1/deploys/{teardown}"));
        let running = d["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["status"] == "running");
        if running {
            break;
        }
        assert!(Instant::now() < deadline, "the teardown never ran: {d}");
        std::thread::sleep(Duration::from_millis(50));
    }
    s.kill();
    let s = Server::start(&data);
    let (_, d) = s.get(&format!("/api/v1/deploys/{teardown}"));
    assert_eq!(d["status"], "failed", "{d}");
    assert!(
        d["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("interrupted"),
        "{d}"
    );
    let (st, e) = env_of(&s, "dev");
    assert_eq!(st, 200, "{e}");
    assert_eq!(e["status"], "delete_failed", "{e}");
    // Deploys stay refused; DELETE again continues and finishes.
    let (st, b) = s.post_json("/api/v1/apps/shop/envs/dev/deploys", &json!({}));
    assert_eq!(st, 409, "{b}");
    let (st, _, again) = s.send("DELETE", "/api/v1/apps/shop/envs/dev?wait=true", "", b"");
    assert_eq!(st, 200, "{again}");
    assert_eq!(again["status"], "succeeded", "{again}");
    assert_eq!(env_of(&s, "dev").0, 404);
}
