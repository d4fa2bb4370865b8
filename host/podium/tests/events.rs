//! Live events and what answers show of secrets: every followed stream ends
//! with its final event; a diff masks overlapping secrets whole.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

fn workload(name: &str, image: &str, extra: Value) -> Value {
    json!({
        "apiVersion": "score.dev/v1b1",
        "metadata": {"name": name},
        "containers": {"main": {"image": image, "variables": extra}},
    })
}

/// Reads a deployment's SSE stream to its end; returns the event kinds.
fn follow(s: &Server, url: &str) -> Vec<String> {
    let r = Server::agent()
        .get(&format!("{}{url}/events", s.url))
        .header("authorization", &format!("Bearer {}", s.token))
        .header("accept", "text/event-stream")
        .call()
        .unwrap();
    let mut kinds = Vec::new();
    for line in BufReader::new(r.into_body().into_reader()).lines() {
        let Ok(line) = line else { break };
        if let Some(data) = line.strip_prefix("data:") {
            let e: Value = serde_json::from_str(data.trim()).unwrap();
            kinds.push(e["kind"].as_str().unwrap_or_default().to_owned());
        }
    }
    kinds
}

/// Followers that connect while deployments finish (the window in which
/// the last commit lands between reading the stored events and the
/// status) still get the final event, every time.
#[test]
fn every_followed_stream_ends_with_its_final_event() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    const ENVS: usize = 8;
    const ROUNDS: usize = 12;
    for e in 0..ENVS {
        app_env(&s, "race", &format!("e{e}"));
    }
    std::thread::scope(|scope| {
        for e in 0..ENVS {
            let s = &s;
            scope.spawn(move || {
                for round in 0..ROUNDS {
                    let (st, d) = s.post_json(
                        &format!("/api/v1/apps/race/envs/e{e}/deploys"),
                        &json!({"workloads": [workload("web", &format!("img:{round}"), json!({}))]}),
                    );
                    assert_eq!(st, 202, "{d}");
                    let url = d["url"].as_str().unwrap().to_owned();
                    // Connect at staggered moments around the finish.
                    std::thread::sleep(Duration::from_millis(((round * 7 + e * 3) % 40) as u64));
                    let kinds = follow(s, &url);
                    let last = kinds.last().map(String::as_str).unwrap_or("");
                    assert!(
                        matches!(
                            last,
                            "DeploymentSucceeded" | "DeploymentFailed" | "DeploymentInterrupted"
                        ),
                        "stream of {url} ended without its final event: {kinds:?}"
                    );
                    assert_eq!(
                        kinds.iter().filter(|k| k.starts_with("Deployment") && *k != "DeploymentQueued" && *k != "DeploymentStarted").count(),
                        1,
                        "{kinds:?}"
                    );
                }
            });
        }
    });
}

/// Two secrets where one contains the other: the diff shows neither, nor
/// any fragment (masking in set order left `<redacted>233`); a numeric
/// secret shown as a number is masked too.
#[test]
fn diffs_mask_overlapping_secrets_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    app_env(&s, "shop", "dev");
    for (key, value) in [("SHORT", "hunter2"), ("LONG", "hunter2233")] {
        let (st, b) = s.put_json(
            &format!("/api/v1/apps/shop/values/{key}"),
            &json!({"value": value, "secret": true}),
        );
        assert_eq!(st, 200, "{b}");
    }
    let deploy = |extra: Value| {
        let (st, d) = s.post_json(
            "/api/v1/apps/shop/envs/dev/deploys",
            &json!({"workloads": [workload("web", "img:1", extra)]}),
        );
        assert_eq!(st, 202, "{d}");
        let id = d["id"].as_str().unwrap().to_owned();
        assert_eq!(s.wait(&id)["status"], "succeeded");
        id
    };
    let a = deploy(json!({}));
    // Someone pasted secrets into plain variables.
    let b = deploy(json!({"A": "pw=hunter2233", "B": "hunter2", "C": "x hunter2 y"}));
    let (st, diff) = s.get(&format!("/api/v1/apps/shop/envs/dev/diff?from={a}&to={b}"));
    assert_eq!(st, 200, "{diff}");
    let text = diff.to_string();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains("233"), "a fragment is left: {text}");
    assert!(text.contains("pw=<redacted>"), "{text}");
}
