//! The example `config` driver in Rust, Python and JavaScript: each is built
//! by its script, loaded by the runtime, and driven through plan, apply and
//! delete against a real kv server, whose state is checked from outside.
//! All three must behave the same.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use podium_runtime::{
    CallError, CallReport, CodeSource, Driver, DriverErrorKind, DriverRequest, Fault, Grants,
    Operation, Outcome, Outputs, PlanAction, Runtime, RuntimeConfig, inspect,
};
use podium_tests_languages::{KvServer, Lang, artifact_cache_dir, build, key, request};
use serde_json::{Value, json};

static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    Runtime::new(RuntimeConfig {
        cache_dir: Some(artifact_cache_dir()),
        ..RuntimeConfig::default()
    })
    .unwrap()
});

/// Each language's driver, built and loaded once.
fn driver(lang: Lang) -> Arc<Driver> {
    type Loaded = HashMap<Lang, Arc<OnceLock<Arc<Driver>>>>;
    static LOADED: LazyLock<Mutex<Loaded>> = LazyLock::new(Default::default);
    let cell = LOADED.lock().unwrap().entry(lang).or_default().clone();
    cell.get_or_init(|| {
        let built = build(lang);
        RUNTIME.load(lang.driver_name(), &built.bytes()).unwrap()
    })
    .clone()
}

type Report = Result<CallReport<Outcome>, CallReport<CallError>>;

async fn call(lang: Lang, op: Operation, req: &Value, grants: &[String]) -> Report {
    let request: DriverRequest = serde_json::from_value(req.clone()).unwrap();
    let grants = Grants::parse(grants).unwrap();
    RUNTIME.call(&driver(lang), op, &request, &grants).await
}

async fn plan(lang: Lang, req: &Value, grants: &[String]) -> (PlanAction, String) {
    match call(lang, Operation::Plan, req, grants).await {
        Ok(CallReport {
            result: Outcome::Plan { action, summary },
            ..
        }) => (action, summary),
        Ok(other) => panic!("{lang:?}: plan gave {:?}", other.result),
        Err(e) => panic!("{lang:?}: plan failed: {}", e.result),
    }
}

async fn apply(lang: Lang, req: &Value, grants: &[String]) -> (Outputs, Vec<String>) {
    match call(lang, Operation::Apply, req, grants).await {
        Ok(CallReport {
            result: Outcome::Applied(out),
            logs,
            ..
        }) => (out, logs.into_iter().map(|l| l.message).collect()),
        Ok(other) => panic!("{lang:?}: apply gave {:?}", other.result),
        Err(e) => panic!("{lang:?}: apply failed: {}", e.result),
    }
}

async fn delete(lang: Lang, req: &Value, grants: &[String]) -> Vec<String> {
    match call(lang, Operation::Delete, req, grants).await {
        Ok(CallReport {
            result: Outcome::Deleted,
            logs,
            ..
        }) => logs.into_iter().map(|l| l.message).collect(),
        Ok(other) => panic!("{lang:?}: delete gave {:?}", other.result),
        Err(e) => panic!("{lang:?}: delete failed: {}", e.result),
    }
}

/// The driver's own error: its kind and message.
async fn error(
    lang: Lang,
    op: Operation,
    req: &Value,
    grants: &[String],
) -> (DriverErrorKind, String) {
    match call(lang, op, req, grants).await {
        Err(CallReport {
            result:
                CallError {
                    fault: Fault::Driver { kind, message },
                    ..
                },
            ..
        }) => (kind, message),
        Err(e) => panic!(
            "{lang:?}: {op} failed in the sandbox, not in the driver: {}",
            e.result
        ),
        Ok(r) => panic!("{lang:?}: {op} succeeded: {:?}", r.result),
    }
}

async fn lifecycle(lang: Lang) {
    let kv = KvServer::start();
    let grants = [kv.grant()];
    let guresid = format!("life-{}", lang.dir());
    let key = key(&guresid);
    let params = json!({"log_level": "debug", "replicas": 2, "features": {"beta": true}});

    let info = RUNTIME.info(&driver(lang)).await.unwrap();
    assert_eq!(info.name, lang.driver_name());
    assert_eq!(info.resource_types, ["config"]);
    assert_eq!(
        info.inputs_schema["properties"]["values"]["required"],
        json!(["url"])
    );

    // Plan on an empty server: create, and nothing written.
    let first = request(&kv, &guresid, params.clone(), None);
    let (action, summary) = plan(lang, &first, &grants).await;
    assert_eq!(action, PlanAction::Create);
    assert_eq!(summary, format!("create config {key}"));
    assert!(kv.entries().is_empty(), "plan wrote something");

    // Apply: the entry exists on the server, the outputs describe it.
    let (out, logs) = apply(lang, &first, &grants).await;
    let entry = kv.entry(&key).expect("apply created the entry");
    assert_eq!(entry["value"], params);
    assert_eq!(entry["revision"], 1);
    assert_eq!(out.values["key"], key.as_str());
    assert_eq!(out.values["url"], format!("{}/v1/kv/{key}", kv.url));
    assert_eq!(out.values["revision"], 1);
    assert_eq!(out.values["data"], params);
    assert_eq!(out.secrets["read_token"], entry["read_token"]);
    assert_eq!(out.secrets.len(), 1);
    let state = out.state.clone().expect("state");
    assert_eq!(state, json!({"key": key, "revision": 1}));
    assert_eq!(logs, [format!("created config {key} (revision 1)")]);
    // The server token is a secret input: never in values, state or logs.
    let visible = format!("{:?} {:?} {logs:?}", out.values, out.state);
    assert!(!visible.contains(&kv.token), "{visible}");
    assert!(
        !visible.contains(entry["read_token"].as_str().unwrap()),
        "{visible}"
    );

    // Same request with the state: unchanged, and applying again changes nothing.
    let again = request(&kv, &guresid, params.clone(), Some(state.clone()));
    assert_eq!(plan(lang, &again, &grants).await.0, PlanAction::Unchanged);
    let (out2, _) = apply(lang, &again, &grants).await;
    assert_eq!(out2, out);
    assert_eq!(kv.entry(&key).unwrap()["revision"], 1);

    // New params: update, and the server has them.
    let changed = json!({"log_level": "info"});
    let update = request(&kv, &guresid, changed.clone(), Some(state));
    assert_eq!(plan(lang, &update, &grants).await.0, PlanAction::Update);
    let (out3, logs) = apply(lang, &update, &grants).await;
    assert_eq!(out3.values["revision"], 2);
    assert_eq!(kv.entry(&key).unwrap()["value"], changed);
    assert_eq!(logs, [format!("updated config {key} (revision 2)")]);
    let state = out3.state.clone().unwrap();

    // Someone else changes the entry: plan and apply report a conflict and
    // leave the server alone.
    kv.put(&key, &json!({"edited": "by hand"}));
    let stale = request(&kv, &guresid, changed.clone(), Some(state.clone()));
    for op in [Operation::Plan, Operation::Apply] {
        let (kind, message) = error(lang, op, &stale, &grants).await;
        assert_eq!(kind, DriverErrorKind::Conflict, "{op}: {message}");
        assert_eq!(
            message,
            format!(
                "config {key} changed outside Podium: the server has revision 3, \
                 the last apply wrote revision 2"
            )
        );
    }
    assert_eq!(
        kv.entry(&key).unwrap()["value"],
        json!({"edited": "by hand"})
    );

    // Delete removes it; deleting again succeeds.
    let logs = delete(lang, &stale, &grants).await;
    assert_eq!(logs, [format!("deleted config {key}")]);
    assert!(kv.entry(&key).is_none());
    let logs = delete(lang, &stale, &grants).await;
    assert_eq!(logs, [format!("config {key} was already gone")]);
}

async fn errors(lang: Lang) {
    let kv = KvServer::start();
    let guresid = format!("err-{}", lang.dir());
    let ok = request(&kv, &guresid, json!({"a": 1}), None);

    // No grant: denied, and the host says which grant would allow it.
    let (kind, message) = error(lang, Operation::Plan, &ok, &[]).await;
    assert_eq!(kind, DriverErrorKind::Denied, "{message}");
    assert!(
        message.contains(&format!("the grant `{}` would allow it", kv.url)),
        "{message}"
    );
    // A grant for another port does not help.
    let other = format!("http://127.0.0.1:{}", kv.port.wrapping_add(1));
    assert_eq!(
        error(lang, Operation::Apply, &ok, &[other]).await.0,
        DriverErrorKind::Denied
    );
    assert!(kv.entries().is_empty());

    // The server refuses the token: invalid input, without the token.
    let mut wrong = ok.clone();
    wrong["driver_secrets"]["token"] = json!("not-the-token-123");
    let (kind, message) = error(lang, Operation::Plan, &wrong, &[kv.grant()]).await;
    assert_eq!(kind, DriverErrorKind::InvalidInput, "{message}");
    assert_eq!(
        message,
        "the kv server rejected driver_secrets.token (HTTP 401)"
    );

    // Granted, but nothing listens there: unavailable (retrying may help).
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut down = ok.clone();
    down["driver_values"]["url"] = json!(format!("http://127.0.0.1:{closed}"));
    let grant = format!("http://127.0.0.1:{closed}");
    let (kind, message) = error(lang, Operation::Plan, &down, &[grant]).await;
    assert_eq!(kind, DriverErrorKind::Unavailable, "{message}");

    // Bad inputs are refused before any request.
    let cases = [
        ("driver_values", json!({"prefix": "x"})),
        ("driver_values", json!({"url": "ftp://host"})),
        ("driver_values", json!({"url": kv.url, "prefix": "a/b"})),
        ("driver_secrets", json!({})),
        ("params", json!([1, 2])),
    ];
    for (field, value) in cases {
        let mut bad = ok.clone();
        bad[field] = value.clone();
        let (kind, message) = error(lang, Operation::Apply, &bad, &[kv.grant()]).await;
        assert_eq!(
            kind,
            DriverErrorKind::InvalidInput,
            "{field}={value}: {message}"
        );
    }
    let mut no_id = ok.clone();
    no_id["context"]["guresid"] = json!("");
    assert_eq!(
        error(lang, Operation::Apply, &no_id, &[kv.grant()]).await.0,
        DriverErrorKind::InvalidInput
    );
    assert!(kv.entries().is_empty(), "a refused call wrote something");
}

/// The compiled artifact is cached on disk and served to a fresh runtime;
/// the component passes inspection.
fn cache_serves(lang: Lang) {
    let bytes = build(lang).bytes();
    let component = inspect(&bytes).unwrap();
    assert_eq!(component.wit_version, "0.1.0");
    assert!(
        component
            .imports
            .iter()
            .any(|i| i.starts_with("wasi:http/outgoing-handler@0.2.")),
        "{:?}",
        component.imports
    );
    let config = || RuntimeConfig {
        cache_dir: Some(artifact_cache_dir()),
        ..RuntimeConfig::default()
    };
    // Warms the cache if this run has not yet (the first load may compile).
    let first = Runtime::new(config()).unwrap().load("x", &bytes).unwrap();
    let fresh = Runtime::new(config()).unwrap();
    let second = fresh.load("x", &bytes).unwrap();
    assert_eq!(second.code_source, CodeSource::Cache);
    assert_eq!(second.digest, component.digest);
    eprintln!(
        "{lang:?}: {} bytes, first load {:?} ({:?}), cached load {:?}",
        component.size, first.load_time, first.code_source, second.load_time
    );
}

macro_rules! language {
    ($name:ident, $lang:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn plan_apply_update_conflict_delete() {
                lifecycle($lang).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn errors_say_what_went_wrong() {
                errors($lang).await;
            }

            #[test]
            fn the_artifact_cache_serves_it() {
                cache_serves($lang);
            }
        }
    };
}

language!(rust, Lang::Rust);
language!(python, Lang::Python);
language!(javascript, Lang::JavaScript);
