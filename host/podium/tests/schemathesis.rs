//! The HTTP API against its own OpenAPI document: `scripts/schemathesis.sh`
//! (schemathesis, pinned, installed on first use) generates requests for
//! every operation and checks that none gets a 5xx and that answers match
//! the documented status codes, content types and schemas.
//!
//! Before the run the test creates a little data (apps, envs, a definition,
//! a profile, values, a finished deployment) whose ids the script's config
//! (`scripts/schemathesis.toml`) feeds to path parameters, so requests
//! reach real objects. The other tests here replay, as plain requests, the
//! server errors schemathesis found, each now a 4xx.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::*;
use serde_json::{Value, json};

/// The admin token the service writes on first start, when it has one.
fn token(data: &Path) -> Option<String> {
    std::fs::read_to_string(data.join("admin-token"))
        .ok()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// One request with the admin token (when there is one); the status and
/// the body (JSON when it parses).
fn call(s: &Server, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
    let url = format!("{}{path}", s.url);
    let agent = Server::agent();
    let auth = token(&s.data).map(|t| format!("Bearer {t}"));
    let with_auth = |req: ureq::RequestBuilder<ureq::typestate::WithBody>| match &auth {
        Some(a) => req.header("authorization", a),
        None => req,
    };
    let without_body = |req: ureq::RequestBuilder<ureq::typestate::WithoutBody>| match &auth {
        Some(a) => req.header("authorization", a),
        None => req,
    };
    let response = match method {
        "GET" => without_body(agent.get(&url)).call(),
        "DELETE" => without_body(agent.delete(&url)).call(),
        "POST" => with_auth(agent.post(&url))
            .header("content-type", content_type)
            .send(body),
        "PUT" => with_auth(agent.put(&url))
            .header("content-type", content_type)
            .send(body),
        other => panic!("method {other}"),
    };
    let mut r = response.unwrap();
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn put(s: &Server, path: &str, body: &Value) -> (u16, Value) {
    call(
        s,
        "PUT",
        path,
        "application/json",
        body.to_string().as_bytes(),
    )
}

#[track_caller]
fn ok(result: (u16, Value)) -> Value {
    let (status, body) = result;
    assert!((200..300).contains(&status), "{status}: {body}");
    body
}

/// Ids of seeded objects the schemathesis config reads from the
/// environment.
struct Seeded {
    deploy: String,
    /// A token for `DELETE /api/v1/tokens/{id}` to revoke (not the admin's).
    scratch_token: String,
}

/// The objects the schemathesis config names.
fn seed(s: &Server) -> Seeded {
    for t in ["fuzz-type", "scratch-type"] {
        ok(put(s, &format!("/api/v1/env-types/{t}"), &json!({})));
    }
    for (app, env) in [("shop", "dev"), ("scratch", "scratch-env")] {
        ok(put(s, &format!("/api/v1/apps/{app}"), &json!({})));
        ok(put(
            s,
            &format!("/api/v1/apps/{app}/envs/{env}"),
            &json!({"type": "development"}),
        ));
    }
    for (id, res_type) in [("fuzz-def", "fuzz-thing"), ("scratch-def", "scratch-thing")] {
        ok(put(
            s,
            &format!("/api/v1/resource-definitions/{id}"),
            &json!({"type": res_type, "driver_type": "podium/echo", "criteria": [{}],
                    "driver_inputs": {"values": {"app": "${context.app.id}"}}}),
        ));
    }
    ok(put(
        s,
        "/api/v1/resource-types/fuzz-kind",
        &json!({"outputs": {"values": ["host"], "secrets": ["password"]}}),
    ));
    ok(put(
        s,
        "/api/v1/workload-profiles/fuzz-profile",
        &json!({"replicas": 1}),
    ));
    ok(put(
        s,
        "/api/v1/apps/shop/values/FUZZ_KEY",
        &json!({"value": "plain"}),
    ));
    ok(put(
        s,
        "/api/v1/apps/shop/values/FUZZ_SECRET",
        &json!({"value": "fuzz-secret-value", "secret": true}),
    ));
    let score = "apiVersion: score.dev/v1b1\nmetadata: {name: web}\ncontainers:\n  main:\n    image: .\n    variables: {APP: '${resources.thing.app}'}\nresources:\n  thing: {type: fuzz-thing}\n";
    let done = ok(call(
        s,
        "POST",
        "/api/v1/apps/shop/envs/dev/deploys?wait=true&image=reg/web:1",
        "application/yaml",
        score.as_bytes(),
    ));
    assert_eq!(done["status"], "succeeded", "{done}");
    // Before authentication existed there was no token to revoke.
    let (status, token) = call(
        s,
        "POST",
        "/api/v1/tokens",
        "application/json",
        json!({"name": "fuzz scratch", "role": "viewer", "app": "shop"})
            .to_string()
            .as_bytes(),
    );
    let scratch_token = match status {
        201 => token["id"].as_str().unwrap().to_owned(),
        404 => "none".to_owned(),
        other => panic!("creating a token: {other}: {token}"),
    };
    Seeded {
        deploy: done["id"].as_str().unwrap().to_owned(),
        scratch_token,
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn schemathesis_finds_no_server_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("server.log");
    let s = Server::start_logging(&data, "warn", &log);
    let seeded = seed(&s);

    let started = Instant::now();
    let reports = tmp.path().join("reports");
    let out = Command::new(repo_root().join("scripts/schemathesis.sh"))
        .args(["run", &s.url])
        .env("PODIUM_DATA", &data)
        .env("PODIUM_ST_DEPLOY", &seeded.deploy)
        .env("PODIUM_ST_TOKEN_ID", &seeded.scratch_token)
        .env("ST_REPORT_DIR", &reports)
        // A fixed seed: a failure here reproduces with the same command.
        .env(
            "ST_SEED",
            std::env::var("ST_SEED").unwrap_or_else(|_| "1".into()),
        )
        .output()
        .expect("run scripts/schemathesis.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "schemathesis ran in {:.1} s\n{stdout}",
        started.elapsed().as_secs_f64()
    );
    if !out.status.success() {
        let server_log = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = server_log.lines().rev().take(40).collect();
        panic!(
            "schemathesis failed ({})\n--- stderr:\n{stderr}\n--- server log (last lines, newest first):\n{}",
            out.status,
            tail.join("\n")
        );
    }
    // The server is still up and the seeded environment is intact, unless
    // the run deleted it on purpose (stateful links may follow `PUT
    // /apps/shop` with `DELETE /apps/shop`, which tears its environments
    // down): then that deletion is in the audit log.
    let (status, _) = call(&s, "GET", "/api/v1/apps/shop/envs/dev", "", b"");
    if status != 200 {
        assert_eq!(status, 404);
        let mut entries = Vec::new();
        let mut after = 0;
        loop {
            let (st, page) = call(
                &s,
                "GET",
                &format!("/api/v1/audit?after={after}&limit=1000"),
                "",
                b"",
            );
            assert_eq!(st, 200, "{page}");
            let list = page["entries"].as_array().cloned().unwrap_or_default();
            let Some(next) = page["next_after"].as_u64() else {
                break;
            };
            entries.extend(list);
            after = next;
        }
        let deleted = entries.iter().any(|a| {
            a["method"] == "DELETE"
                && matches!(
                    a["path"].as_str(),
                    Some("/api/v1/apps/shop" | "/api/v1/apps/shop/envs/dev")
                )
                && a["status"].as_u64().is_some_and(|s| s < 300)
        });
        assert!(deleted, "shop/dev is gone without an audited DELETE");
    }
}

/// Found by the delta property tests (not reachable by schemathesis, whose
/// bodies are "any JSON"): a JSON-Patch whose undo fails made
/// `json_patch::patch` panic, and the service dropped the connection
/// without an answer. Now a 422, and the environment keeps working.
#[test]
fn a_delta_whose_patch_undo_fails_is_a_422() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    ok(put(&s, "/api/v1/apps/shop", &json!({})));
    ok(put(
        &s,
        "/api/v1/apps/shop/envs/dev",
        &json!({"type": "development"}),
    ));
    let body = json!({"delta": {"shared": [
        {"op": "add", "path": "/", "value": null},
        {"op": "move", "from": "/", "path": "/resources/a"},
    ]}});
    for endpoint in ["plan", "deploys"] {
        let (status, problem) = call(
            &s,
            "POST",
            &format!("/api/v1/apps/shop/envs/dev/{endpoint}"),
            "application/json",
            body.to_string().as_bytes(),
        );
        assert_eq!(status, 422, "{endpoint}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains("shared"),
            "{problem}"
        );
    }
    let done = ok(call(
        &s,
        "POST",
        "/api/v1/apps/shop/envs/dev/deploys?wait=true",
        "application/json",
        b"{}",
    ));
    assert_eq!(done["status"], "succeeded", "{done}");
}
