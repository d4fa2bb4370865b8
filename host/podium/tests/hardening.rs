//! Hostile input through the real service (issue 8, hardened inputs): YAML
//! alias bombs and deep nesting, oversized Score files, path traversal
//! through Score file sources, driver ids and path ids, and components that
//! are not drivers. Each gets a 4xx problem (or a CLI error) quickly, and
//! nothing is recorded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

fn deploys(s: &Server) -> usize {
    let (st, v) = s.get("/api/v1/apps/shop/envs/dev/deploys");
    assert_eq!(st, 200, "{v}");
    v.as_array().unwrap().len()
}

fn post_yaml(s: &Server, body: &str) -> (u16, serde_json::Value, Duration) {
    let t = Instant::now();
    let (st, ct, v) = s.send(
        "POST",
        "/api/v1/apps/shop/envs/dev/deploys",
        "application/yaml",
        body.as_bytes(),
    );
    let took = t.elapsed();
    if st >= 400 {
        assert_eq!(ct, "application/problem+json", "{v}");
    }
    (st, v, took)
}

#[test]
fn hostile_yaml_and_oversized_scores_are_refused_quickly_and_record_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    app_env(&s, "shop", "dev");

    // Billion laughs: nine levels of nine aliases.
    let mut bomb = String::from(
        "apiVersion: score.dev/v1b1\nmetadata: {name: api}\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..10 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    bomb.push_str("containers: {main: {image: nginx}}\n");
    let (st, v, took) = post_yaml(&s, &bomb);
    assert!((400..500).contains(&st), "{st} {v}");
    assert!(
        v.to_string().contains("nodes (after expanding aliases)"),
        "{v}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");

    // Nesting far deeper than any real file.
    let deep = format!(
        "apiVersion: score.dev/v1b1\nmetadata: {{name: api}}\nx: {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let (st, v, _) = post_yaml(&s, &deep);
    assert!((400..500).contains(&st), "{st} {v}");
    assert!(v.to_string().contains("deep"), "{v}");

    // A Score file over the YAML limit (inside the body limit).
    let big = format!(
        "apiVersion: score.dev/v1b1\nmetadata: {{name: api}}\ncontainers: {{main: {{image: nginx}}}}\n# {}\n",
        "x".repeat(2 << 20)
    );
    let (st, v, _) = post_yaml(&s, &big);
    assert!((400..500).contains(&st), "{st} {v}");
    assert_eq!(deploys(&s), 0, "nothing was recorded");
}

#[test]
fn traversal_through_file_sources_ids_and_driver_ids_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"));
    app_env(&s, "shop", "dev");

    // A Score file whose `files[].source` leaves its directory.
    let dir = tmp.path().join("app");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(tmp.path().join("secret.txt"), "do-not-ship").unwrap();
    let score = file(
        &dir,
        "score.yaml",
        "apiVersion: score.dev/v1b1\nmetadata: {name: api}\ncontainers:\n  main:\n    image: nginx\n    files:\n      /etc/app/secret.txt:\n        source: ../secret.txt\n",
    );
    let o = s.cli(&["deploy", "-f", &score, "--app", "shop", "--env", "dev"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("escapes the Score file's directory"),
        "{}",
        stderr(&o)
    );
    assert_eq!(deploys(&s), 0);

    // Ids with separators or dots, percent-encoded or not.
    for path in [
        "/api/v1/apps/..%2F..%2Fetc",
        "/api/v1/apps/a%2Fb",
        "/api/v1/apps/..",
        "/api/v1/resource-definitions/..%2Fx",
        "/api/v1/env-types/UPPER",
    ] {
        let (st, _, v) = s.send("PUT", path, "application/json", b"{}");
        assert!((400..500).contains(&st), "{path}: {st} {v}");
    }

    // Driver ids: `org/name` only; bytes that are not a component are
    // refused before anything is stored.
    let wasm = tmp.path().join("x.wasm");
    std::fs::write(
        &wasm,
        podium_builtins::get("podium/echo").unwrap().component,
    )
    .unwrap();
    for id in ["../evil", "a/b/c", "Org/Name", "podium/echo"] {
        let o = s.cli(&["driver", "push", wasm.to_str().unwrap(), "--id", id]);
        assert!(!o.status.success(), "{id} was accepted");
    }
    let junk = tmp.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm\x0d\0\x01\0garbage").unwrap();
    let o = s.cli(&[
        "driver",
        "push",
        junk.to_str().unwrap(),
        "--id",
        "acme/junk",
    ]);
    assert!(!o.status.success());
    let (_, list) = s.get("/api/v1/drivers");
    assert!(
        !list.to_string().contains("acme/junk") && !list.to_string().contains("evil"),
        "{list}"
    );

    // Unknown fields and wrong types in JSON bodies name the path.
    let (st, v) = s.put_json("/api/v1/apps/shop/envs/qa", &json!({"type": 7}));
    assert_eq!(st, 422, "{v}");
}
