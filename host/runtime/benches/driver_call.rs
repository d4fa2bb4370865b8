//! One `apply` on `podium/echo` through the runtime (a fresh instance per
//! call, as the service does it) against the same JSON work done natively:
//! the echo driver's own code linked into this binary, called through the
//! SDK adapter, plus the host's parsing of the outputs.

use criterion::{Criterion, criterion_group, criterion_main};
use podium_driver_sdk::adapter::{self, RawRequest};
use podium_runtime::{Context, DriverRequest, Grants, Operation, Runtime, RuntimeConfig};
use serde_json::{Value, json};

fn request() -> DriverRequest {
    DriverRequest {
        context: Context {
            app_id: "shop".into(),
            env_id: "dev".into(),
            env_type: "development".into(),
            res_id: "modules.api.externals.db".into(),
            res_type: "postgres".into(),
            res_class: "default".into(),
            guresid: "4f1c0a9e2b7d4c3a8e6f5d4c3b2a1908f7e6d5c4".into(),
            deploy_id: "d-0001".into(),
        },
        params: json!({"extensions": ["uuid-ossp", "pgcrypto"], "size": "small"}),
        driver_values: json!({"host": "127.0.0.1", "port": 55432, "admin_user": "podium_admin"}),
        driver_secrets: json!({"admin_password": "correct-horse-battery-staple"}),
        state: None,
    }
}

fn native(req: &DriverRequest) -> (Value, Value) {
    let c = &req.context;
    let raw = RawRequest {
        context: podium_driver_sdk::Context {
            app_id: c.app_id.clone(),
            env_id: c.env_id.clone(),
            env_type: c.env_type.clone(),
            res_id: c.res_id.clone(),
            res_type: c.res_type.clone(),
            res_class: c.res_class.clone(),
            guresid: c.guresid.clone(),
            deploy_id: c.deploy_id.clone(),
        },
        params: req.params.to_string(),
        driver_values: req.driver_values.to_string(),
        driver_secrets: req.driver_secrets.to_string(),
        state: None,
    };
    let out = adapter::apply::<podium_driver_echo::Echo>(raw).expect("native echo");
    (
        serde_json::from_str(&out.values).expect("values"),
        serde_json::from_str(&out.secrets).expect("secrets"),
    )
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio");
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let echo = runtime
        .load(
            "podium/echo",
            podium_builtins::get("podium/echo").expect("echo").component,
        )
        .expect("load echo");
    let req = request();
    let grants = Grants::none();
    eprintln!("instance allocator: {:?}", runtime.allocator());

    // Both paths must compute the same thing, or the comparison means nothing.
    let through_runtime = rt
        .block_on(runtime.call(&echo, Operation::Apply, &req, &grants))
        .expect("apply");
    let (values, _) = native(&req);
    match through_runtime.result {
        podium_runtime::Outcome::Applied(o) => assert_eq!(Value::Object(o.values), values),
        other => panic!("unexpected {other:?}"),
    }

    let mut g = c.benchmark_group("echo_apply");
    g.bench_function("runtime_fresh_instance", |b| {
        b.to_async(&rt).iter(|| async {
            runtime
                .call(&echo, Operation::Apply, &req, &grants)
                .await
                .expect("apply")
        })
    });
    g.bench_function("runtime_info_only", |b| {
        b.to_async(&rt)
            .iter(|| async { runtime.info(&echo).await.expect("info") })
    });
    g.bench_function("native", |b| b.iter(|| native(&req)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
