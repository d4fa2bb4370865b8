//! Writes that race or crash (issue 13, items 7 and 8): a change and its
//! audit entry are one atomic write, so a SIGKILL never leaves a change
//! without its entry; concurrent read-modify-write requests (definition
//! versions, shared values, an env's record shared with the pipeline) never
//! lose one another's data.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// A PUT that reports transport errors instead of panicking (the server
/// gets killed under it).
fn try_put(url: &str, token: &str, path: &str, body: &Value) -> Result<u16, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    agent
        .put(&format!("{url}{path}"))
        .header("authorization", &format!("Bearer {token}"))
        .header("content-type", "application/json")
        .send(body.to_string().as_bytes())
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

/// Every audit entry, oldest first.
fn audit(s: &Server) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let (st, page) = s.get(&format!("/api/v1/audit?after={after}&limit=1000"));
        assert_eq!(st, 200, "{page}");
        let entries = page["entries"].as_array().unwrap().clone();
        if entries.is_empty() {
            return out;
        }
        after = entries.last().unwrap()["seq"].as_u64().unwrap();
        out.extend(entries);
    }
}

/// A small pseudo-random number (no rand dependency): the clock's nanos
/// through the std hasher.
fn random(below: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish() % below
}

/// After a restart: every definition, env and shared value the clients
/// created is in the store with the audit entry of its PUT, and every
/// successful PUT entry's change is in the store.
fn check_changes_have_entries(s: &Server, round: usize) {
    let entries = audit(s);
    let ok_puts: BTreeMap<String, u64> = entries
        .iter()
        .filter(|e| e["method"] == "PUT" && e["outcome"] == "ok")
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_owned(),
                e["status"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut missing = Vec::new();

    let (_, defs) = s.get("/api/v1/resource-definitions");
    let defs: BTreeSet<String> = defs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .filter(|id| id.starts_with("crash-"))
        .collect();
    for id in &defs {
        let path = format!("/api/v1/resource-definitions/{id}");
        match ok_puts.get(&path) {
            Some(201) => {}
            other => missing.push(format!("definition {id}: audit entry {other:?}")),
        }
    }
    let (_, envs) = s.get("/api/v1/apps/a/envs");
    let envs: BTreeSet<String> = envs
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .filter(|id| id.starts_with("crash-"))
        .collect();
    for id in &envs {
        let path = format!("/api/v1/apps/a/envs/{id}");
        if !ok_puts.contains_key(&path) {
            missing.push(format!("env {id}: no audit entry"));
        }
    }
    let (_, values) = s.get("/api/v1/apps/a/values");
    let keys: BTreeSet<String> = values["app"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("CRASH_"))
        .cloned()
        .collect();
    for k in &keys {
        let path = format!("/api/v1/apps/a/values/{k}");
        if !ok_puts.contains_key(&path) {
            missing.push(format!("value {k}: no audit entry"));
        }
    }
    // The other way round: an ok entry means the change is there.
    for path in ok_puts.keys() {
        let present = if let Some(id) = path.strip_prefix("/api/v1/resource-definitions/") {
            !id.starts_with("crash-") || defs.contains(id)
        } else if let Some(id) = path.strip_prefix("/api/v1/apps/a/envs/") {
            !id.starts_with("crash-") || envs.contains(id)
        } else if let Some(k) = path.strip_prefix("/api/v1/apps/a/values/") {
            !k.starts_with("CRASH_") || keys.contains(k)
        } else {
            true
        };
        if !present {
            missing.push(format!("{path}: audited but not in the store"));
        }
    }
    assert!(
        missing.is_empty(),
        "round {round}: {} definitions, {} envs, {} values:\n{}",
        defs.len(),
        envs.len(),
        keys.len(),
        missing.join("\n")
    );
}

#[test]
fn a_sigkill_during_config_writes_never_leaves_a_change_without_its_audit_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut s = Server::start(&data);
    app_env(&s, "a", "dev");
    for round in 0..15 {
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..3)
            .map(|t| {
                let (url, token, stop) = (s.url.clone(), s.token.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let name = format!("crash-{round}-{t}-{i}");
                        let (path, body) = match i % 3 {
                            0 => (
                                format!("/api/v1/resource-definitions/{name}"),
                                json!({"type": "redis", "driver_type": "podium/echo",
                                       "driver_inputs": {"values": {"n": i}},
                                       "criteria": [{"app_id": "a", "env_id": name}]}),
                            ),
                            1 => (
                                format!("/api/v1/apps/a/envs/{name}"),
                                json!({"type": "development"}),
                            ),
                            _ => (
                                format!("/api/v1/apps/a/values/CRASH_{round}_{t}_{i}"),
                                json!({"value": format!("v{i}")}),
                            ),
                        };
                        if try_put(&url, &token, &path, &body).is_err() {
                            return;
                        }
                        i += 1;
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(30 + random(300)));
        s.kill();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().unwrap();
        }
        s = Server::start(&data);
        check_changes_have_entries(&s, round);
    }
}

/// 50 concurrent PUTs of one definition, each with its own input.
#[test]
fn concurrent_puts_of_one_definition_lose_no_version() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    let barrier = std::sync::Barrier::new(50);
    let results: Vec<(usize, u16, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let (s, barrier) = (&s, &barrier);
                scope.spawn(move || {
                    let body = json!({"type": "redis", "driver_type": "podium/echo",
                                      "driver_inputs": {"values": {"n": i}},
                                      "criteria": [{"app_id": "race"}]});
                    barrier.wait();
                    let (st, v) = s.put_json("/api/v1/resource-definitions/raced", &body);
                    (i, st, v)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut answered = BTreeMap::new();
    for (i, st, v) in &results {
        match st {
            201 => {
                let version = v["version"].as_u64().unwrap();
                if let Some(j) = answered.insert(version, *i) {
                    panic!("version {version} given to PUT {i} and PUT {j}");
                }
            }
            409 => {}
            _ => panic!("PUT {i}: {st} {v}"),
        }
    }
    let (st, versions) = s.get("/api/v1/resource-definitions/raced/versions");
    assert_eq!(st, 200, "{versions}");
    let stored: BTreeMap<u64, usize> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["version"].as_u64().unwrap(),
                d["driver_inputs"]["values"]["n"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    // Every accepted input is stored as the version it was answered with,
    // and nothing else is stored.
    assert_eq!(stored, answered, "answered vs stored versions");
    let inputs: BTreeSet<usize> = stored.values().copied().collect();
    assert_eq!(inputs.len(), stored.len(), "an input in two versions");
}

/// 50 concurrent PUTs of distinct shared values of one app.
#[test]
fn concurrent_value_puts_lose_no_value_and_version_each_change() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    app_env(&s, "a", "dev");
    let barrier = std::sync::Barrier::new(50);
    let versions: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let (s, barrier) = (&s, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let (st, v) = s.put_json(
                        &format!("/api/v1/apps/a/values/K{i}"),
                        &json!({"value": format!("v{i}")}),
                    );
                    assert_eq!(st, 200, "{v}");
                    v["version"].as_u64().unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let distinct: BTreeSet<u64> = versions.iter().copied().collect();
    assert_eq!(distinct.len(), 50, "versions answered: {versions:?}");
    let (_, values) = s.get("/api/v1/apps/a/values");
    let app = values["app"].as_object().unwrap();
    let lost: Vec<usize> = (0..50)
        .filter(|i| app.get(&format!("K{i}")).is_none())
        .collect();
    assert!(lost.is_empty(), "lost values {lost:?}: {values}");
    assert_eq!(values["version"], 50, "{values}");
}

/// An env's record is written by `PUT env` (its type) and by the pipeline
/// (its current set and last deployment): neither may undo the other.
#[test]
fn env_puts_during_deployments_lose_neither_the_type_nor_the_current_set() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    app_env(&s, "a", "dev");
    let (st, v) = s.put_json("/api/v1/env-types/staging", &json!({}));
    assert_eq!(st, 200, "{v}");
    // Staging matches the development definitions' echo stand-ins.
    for (res_type, values) in [
        ("k8s-cluster", json!({"name": "staging"})),
        ("k8s-namespace", json!({"namespace": "staging"})),
        ("workload", json!({})),
    ] {
        let (st, v) = s.put_json(
            &format!("/api/v1/resource-definitions/staging-{res_type}"),
            &json!({"type": res_type, "driver_type": "podium/echo",
                    "driver_inputs": {"values": values},
                    "criteria": [{"env_type": "staging"}]}),
        );
        assert!(st == 200 || st == 201, "{v}");
    }
    let body = |i: usize| {
        json!({"workloads": [{"apiVersion": "score.dev/v1b1", "metadata": {"name": "web"},
               "containers": {"main": {"image": format!("busybox:{i}")}}}]})
    };
    let mut problems = Vec::new();
    for round in 0..40 {
        // The deployment reads the env's record at its start and writes it
        // back a few milliseconds later; the PUT lands around then.
        let (st, v) = s.post_json("/api/v1/apps/a/envs/dev/deploys", &body(round));
        assert_eq!(st, 202, "{v}");
        let id = v["id"].as_str().unwrap().to_owned();
        std::thread::sleep(Duration::from_millis(random(8)));
        let t = if round % 2 == 0 {
            "staging"
        } else {
            "development"
        };
        let (st, v) = s.put_json("/api/v1/apps/a/envs/dev", &json!({"type": t}));
        assert_eq!(st, 200, "{v}");
        // Final either way (switching env types switches drivers, which
        // may refuse one another's state): Read wrote the env's pointer.
        let d = s.wait(&id);
        assert!(d["set_id"].is_string(), "{d}");
        let (_, env) = s.get("/api/v1/apps/a/envs/dev");
        if env["last_deploy"] != json!(id) {
            problems.push(format!(
                "round {round}: last_deploy {} after deployment {id}",
                env["last_deploy"]
            ));
        }
        if env["type"] != json!(t) {
            problems.push(format!(
                "round {round}: type {} after a PUT of {t}",
                env["type"]
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
