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
