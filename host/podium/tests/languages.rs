//! The example drivers in Rust, Python and JavaScript through the real
//! `podium` binary: `driver info` shows their contract version, and
//! `driver test` plans, applies and deletes against a kv server whose state
//! is checked from outside. (The runtime-level tests, with every case, are in
//! `tests/languages`.)
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use podium_tests_languages::{KvServer, Lang, artifact_cache_dir, build, key, request};
use serde_json::{Value, json};

mod common;

fn podium() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_podium"));
    // The cache the runtime-level tests use: the heavy components compile
    // once per target directory.
    c.env("PODIUM_CACHE_DIR", artifact_cache_dir())
        .env_remove("PODIUM_LOG");
    c
}

fn run(cmd: &mut Command) -> (i32, Value, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    let stdout = String::from_utf8(stdout).unwrap();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::String(stdout));
    (
        status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn driver_test(wasm: &Path, action: &str, grant: &str, input: &Value) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("request.json");
    std::fs::write(&file, input.to_string()).unwrap();
    run(podium()
        .args(["driver", "test"])
        .arg(wasm)
        .args(["--action", action, "--grant", grant, "--input"])
        .arg(&file))
}

fn authoring_loop(lang: Lang) {
    let wasm = build(lang).path;

    let (code, info, err) = run(podium().args(["driver", "info"]).arg(&wasm));
    assert_eq!(code, 0, "{info} {err}");
    assert_eq!(info["name"], lang.driver_name());
    assert_eq!(info["wit_version"], "podium:driver@0.1.0");
    assert_eq!(info["resource_types"], json!(["config"]));
    assert!(
        info["imports"].as_array().unwrap().iter().any(|i| i
            .as_str()
            .unwrap()
            .starts_with("wasi:http/outgoing-handler@")),
        "{info}"
    );

    let kv = KvServer::start();
    let guresid = format!("cli-{}", lang.dir());
    let key = key(&guresid);
    let params = json!({"region": "eu-west", "retries": 3});
    let first = request(&kv, &guresid, params.clone(), None);

    let (code, out, err) = driver_test(&wasm, "plan", &kv.grant(), &first);
    assert_eq!(code, 0, "{out} {err}");
    assert_eq!(out["action"], "create");
    assert!(kv.entries().is_empty());

    let (code, out, err) = driver_test(&wasm, "apply", &kv.grant(), &first);
    assert_eq!(code, 0, "{out} {err}");
    assert_eq!(out["outcome"], "applied");
    assert_eq!(out["values"]["data"], params);
    assert_eq!(out["secrets"]["read_token"], "<redacted>");
    assert_eq!(kv.entry(&key).unwrap()["value"], params);
    assert!(!out.to_string().contains(&kv.token));

    let state = out["state"].clone();
    let (code, out, err) = driver_test(
        &wasm,
        "delete",
        &kv.grant(),
        &request(&kv, &guresid, params, Some(state)),
    );
    assert_eq!(code, 0, "{out} {err}");
    assert_eq!(out["outcome"], "deleted");
    assert!(kv.entry(&key).is_none());

    // Without the grant: exit 1, a `denied` error naming the grant.
    let (code, out, _) = driver_test(&wasm, "plan", "http://127.0.0.1:1", &first);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["error"]["error"], "denied", "{out}");
    assert!(
        out["message"]
            .as_str()
            .unwrap()
            .contains(&format!("`{}` would allow it", kv.url)),
        "{out}"
    );
}

#[test]
fn rust_driver_in_the_authoring_loop() {
    authoring_loop(Lang::Rust);
}

#[test]
fn python_driver_in_the_authoring_loop() {
    authoring_loop(Lang::Python);
}

#[test]
fn javascript_driver_in_the_authoring_loop() {
    authoring_loop(Lang::JavaScript);
}

#[test]
fn driver_info_refuses_what_is_not_a_driver_for_this_host() {
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let (code, _, err) = run(podium().args(["driver", "info"]).arg(&core));
    assert_ne!(code, 0);
    assert!(
        err.contains("this is a core WebAssembly module, not a component"),
        "{err}"
    );

    // A driver built for another contract version names both versions.
    let echo = podium_builtins::get("podium/echo").unwrap().component;
    let mut next = echo.to_vec();
    let (from, to) = (b"podium:driver/driver@0.1.0", b"podium:driver/driver@0.2.0");
    // Every occurrence: core exports are named after the interface too.
    while let Some(at) = next.windows(from.len()).position(|w| w == from) {
        next[at..at + to.len()].copy_from_slice(to);
    }
    let file = dir.path().join("next.wasm");
    std::fs::write(&file, next).unwrap();
    let (code, _, err) = run(podium().args(["driver", "info"]).arg(&file));
    assert_ne!(code, 0);
    assert!(
        err.contains(
            "component exports podium:driver/driver@0.2.0; this host supports podium:driver/driver@0.1.0"
        ),
        "{err}"
    );
}

/// What `podium apply -f` gets for the deployment tests: app, env (type
/// `development`, so the workload itself goes to the built-in GitOps
/// output), the kv server's token as a secret shared value, and a `config`
/// definition that uses the pushed driver.
fn setup_yaml(driver_id: &str, kv: &KvServer, prefix: &str) -> String {
    let q = |v: &str| serde_json::to_string(v).unwrap();
    format!(
        r#"apiVersion: podium.dev/v1
kind: Application
metadata: {{id: shop}}
---
apiVersion: podium.dev/v1
kind: Environment
metadata: {{id: dev, app: shop}}
spec: {{type: development}}
---
apiVersion: podium.dev/v1
kind: Values
metadata: {{app: shop}}
spec:
  KV_TOKEN: {{value: {token}, secret: true}}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {{id: config-dev}}
spec:
  type: config
  driver_type: {driver_id}
  criteria: [{{env_type: development}}]
  grants: [{grant}]
  driver_inputs:
    values: {{url: {url}, prefix: {prefix}}}
    secrets: {{token: "${{values.KV_TOKEN}}"}}
"#,
        token = q(&kv.token),
        grant = q(&kv.grant()),
        url = q(&kv.url),
    )
}

fn score(params: Option<&str>) -> String {
    match params {
        Some(params) => format!(
            r#"apiVersion: score.dev/v1b1
metadata: {{name: api}}
containers:
  main:
    image: registry.invalid/api:1
    variables:
      CONFIG_KEY: ${{resources.settings.key}}
      CONFIG_READ_TOKEN: ${{resources.settings.read_token}}
resources:
  settings:
    type: config
    params: {params}
"#
        ),
        None => "apiVersion: score.dev/v1b1\nmetadata: {name: api}\ncontainers:\n  main:\n    image: registry.invalid/api:1\n".to_owned(),
    }
}

/// `podium deploy --wait`, then the deployment record.
fn deploy(s: &common::Server, dir: &Path, score: &str) -> Value {
    let path = common::file(dir, "score.yaml", score);
    let o = s.cli(&[
        "deploy", "-f", &path, "--app", "shop", "--env", "dev", "--wait",
    ]);
    let text = common::stdout(&o);
    assert!(o.status.success(), "{text}\n{}", common::stderr(&o));
    let id = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("deployment ")
                .and_then(|r| r.split_whitespace().next())
        })
        .unwrap_or_else(|| panic!("no deployment id in {text}"));
    let (st, d) = s.get(&format!("/api/v1/deploys/{id}"));
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["status"], "succeeded", "{d}");
    d
}

/// The `config` step of a deployment.
fn config_step(d: &Value) -> &Value {
    d["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "config")
        .unwrap_or_else(|| panic!("no config step in {d}"))
}

/// Push the example driver of `lang`, define `config` with it, and deploy a
/// workload that needs a `config` through the real service: create, no-change
/// redeploy (no call), params change (update), removal (delete), each
/// checked in the kv server from outside.
fn deployed_through_the_service(lang: Lang) {
    let wasm = build(lang).path;
    let bytes = std::fs::read(&wasm).unwrap();
    let digest = format!("sha256:{}", podium_core::canonical::sha256_hex(&bytes));
    let kv = KvServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let cache = artifact_cache_dir();
    let mut s = common::Server::start_with_env(
        &tmp.path().join("data"),
        &[("PODIUM_CACHE_DIR", cache.as_os_str())],
    );

    let driver_id = format!("example/config-{}", lang.dir());
    let o = s.cli(&["driver", "push", wasm.to_str().unwrap(), "--id", &driver_id]);
    let pushed = common::stdout(&o);
    assert!(o.status.success(), "{pushed}\n{}", common::stderr(&o));
    assert!(
        pushed.contains(&digest),
        "push printed {pushed}, want {digest}"
    );
    let (st, list) = s.get("/api/v1/drivers");
    assert_eq!(st, 200, "{list}");
    assert!(
        list["drivers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == driver_id.as_str() && d["digest"] == digest.as_str()),
        "{list}"
    );

    let setup = common::file(
        tmp.path(),
        "setup.yaml",
        &setup_yaml(&driver_id, &kv, lang.dir()),
    );
    let o = s.cli(&["apply", "-f", &setup]);
    assert!(
        o.status.success(),
        "{}\n{}",
        common::stdout(&o),
        common::stderr(&o)
    );

    // Create.
    let d = deploy(
        &s,
        tmp.path(),
        &score(Some("{region: eu-west, retries: 3}")),
    );
    let step = config_step(&d);
    assert_eq!(step["action"], "create", "{d}");
    assert_eq!(step["driver_type"], driver_id.as_str(), "{d}");
    assert_eq!(step["driver_digest"], digest.as_str(), "{d}");
    let entries = kv.entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let (key, entry) = entries.iter().next().unwrap();
    assert!(key.starts_with(&format!("{}-", lang.dir())), "{key}");
    assert_eq!(entry["value"], json!({"region": "eu-west", "retries": 3}));
    assert_eq!(entry["revision"], 1);

    // The resource as the API shows it: outputs, the secret one redacted.
    let (st, res) = s.get("/api/v1/apps/shop/envs/dev/resources");
    assert_eq!(st, 200, "{res}");
    let config = res
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "config")
        .unwrap_or_else(|| panic!("{res}"));
    assert_eq!(config["values"]["key"], key.as_str(), "{config}");
    assert_eq!(config["secrets"]["read_token"], "<redacted>", "{config}");
    assert_eq!(config["driver_digest"], digest.as_str(), "{config}");

    // The same Score again: the driver is not called, the entry untouched.
    let d = deploy(
        &s,
        tmp.path(),
        &score(Some("{region: eu-west, retries: 3}")),
    );
    assert_eq!(config_step(&d)["action"], "unchanged", "{d}");
    assert_eq!(kv.entry(key).unwrap()["revision"], 1);

    // New params: an update in place, same key.
    let d = deploy(
        &s,
        tmp.path(),
        &score(Some("{region: us-east, retries: 5}")),
    );
    assert_eq!(config_step(&d)["action"], "update", "{d}");
    let entry = kv.entry(key).unwrap();
    assert_eq!(entry["value"], json!({"region": "us-east", "retries": 5}));
    assert_eq!(entry["revision"], 2);

    // Neither the kv token nor the entry's read token in any record.
    let read_token = entry["read_token"].as_str().unwrap().to_owned();
    let (_, events) = s.get(&format!(
        "/api/v1/apps/shop/envs/dev/deploys/{}/events",
        d["id"].as_str().unwrap()
    ));
    for text in [d.to_string(), res.to_string(), events.to_string()] {
        assert!(
            !text.contains(&kv.token) && !text.contains(&read_token),
            "{text}"
        );
    }

    // The workload without the resource: the driver deletes the entry.
    let d = deploy(&s, tmp.path(), &score(None));
    assert_eq!(config_step(&d)["action"], "delete", "{d}");
    assert!(kv.entries().is_empty(), "{:?}", kv.entries());
    s.stop();
}

#[test]
fn rust_driver_deployed_through_the_service() {
    deployed_through_the_service(Lang::Rust);
}

#[test]
fn python_driver_deployed_through_the_service() {
    deployed_through_the_service(Lang::Python);
}

#[test]
fn javascript_driver_deployed_through_the_service() {
    deployed_through_the_service(Lang::JavaScript);
}
