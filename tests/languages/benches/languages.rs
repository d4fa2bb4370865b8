//! The same `config` driver in Rust, Python and JavaScript, side by side:
//!
//! - `inspect`: checking the component before it is stored (upload path);
//! - `compile`: loading with no artifact cache (inspect, compile, link);
//! - `cached_load`: loading from a warm artifact cache (read, checksum,
//!   deserialize, link);
//! - `info`: a fresh instance and one `info` call (no I/O: the cost of
//!   instantiating);
//! - `apply`: a fresh instance and one `apply` against the kv server on
//!   loopback (one HTTP PUT round trip; the same request each time, so the
//!   server keeps the entry as it is).
//!
//! The components are built by `examples/drivers/*/build.sh` first (see
//! `podium_tests_languages::build`). Compiling Python and JavaScript takes
//! seconds, so that group runs ten samples of one load each.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use podium_runtime::{
    CodeSource, DriverRequest, Grants, Operation, Outcome, Runtime, RuntimeConfig, inspect,
};
use podium_tests_languages::{KvServer, Lang, build, request};
use serde_json::json;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio");
    let kv = KvServer::start();
    let grants = Grants::parse(&[kv.grant()]).expect("grant");
    let cache = tempfile_dir();
    let uncached = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let cached = Runtime::new(RuntimeConfig {
        cache_dir: Some(cache.clone()),
        ..RuntimeConfig::default()
    })
    .expect("runtime");

    let components: Vec<(Lang, Vec<u8>)> = Lang::ALL
        .iter()
        .map(|&lang| {
            let built = build(lang);
            eprintln!(
                "{lang:?}: {} bytes, build {:.1} s{}",
                built.bytes().len(),
                built.build_time.as_secs_f64(),
                if built.rebuilt { "" } else { " (up to date)" }
            );
            (lang, built.bytes())
        })
        .collect();

    let mut group = c.benchmark_group("inspect");
    for (lang, bytes) in &components {
        group.bench_with_input(
            BenchmarkId::from_parameter(lang.dir()),
            bytes,
            |b, bytes| b.iter(|| inspect(bytes).expect("a driver")),
        );
    }
    group.finish();

    let mut group = c.benchmark_group("compile");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));
    for (lang, bytes) in &components {
        group.bench_with_input(
            BenchmarkId::from_parameter(lang.dir()),
            bytes,
            |b, bytes| {
                b.iter(|| {
                    let d = uncached.load(lang.driver_name(), bytes).expect("loads");
                    assert_eq!(d.code_source, CodeSource::Compiled);
                    d
                })
            },
        );
    }
    group.finish();

    let mut group = c.benchmark_group("cached_load");
    for (lang, bytes) in &components {
        cached
            .load(lang.driver_name(), bytes)
            .expect("warms the cache");
        group.bench_with_input(
            BenchmarkId::from_parameter(lang.dir()),
            bytes,
            |b, bytes| {
                b.iter(|| {
                    let d = cached.load(lang.driver_name(), bytes).expect("loads");
                    assert_eq!(d.code_source, CodeSource::Cache);
                    d
                })
            },
        );
    }
    group.finish();

    let mut info = c.benchmark_group("info");
    for (lang, bytes) in &components {
        let driver = cached.load(lang.driver_name(), bytes).expect("loads");
        info.bench_function(BenchmarkId::from_parameter(lang.dir()), |b| {
            b.to_async(&rt)
                .iter(|| async { cached.info(&driver).await.expect("info") })
        });
    }
    info.finish();

    let mut apply = c.benchmark_group("apply");
    for (lang, bytes) in &components {
        let driver = cached.load(lang.driver_name(), bytes).expect("loads");
        let guresid = format!("bench-{}", lang.dir());
        let req: DriverRequest = serde_json::from_value(request(
            &kv,
            &guresid,
            json!({"log_level": "info", "replicas": 3}),
            None,
        ))
        .expect("request");
        apply.bench_function(BenchmarkId::from_parameter(lang.dir()), |b| {
            b.to_async(&rt).iter(|| async {
                let r = cached
                    .call(&driver, Operation::Apply, &req, &grants)
                    .await
                    .map_err(|e| e.result.to_string())
                    .expect("apply");
                assert!(matches!(r.result, Outcome::Applied(_)));
                r
            })
        });
    }
    apply.finish();
    let _ = std::fs::remove_dir_all(&cache);
}

/// A fresh directory for the artifact cache of this run.
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("podium-bench-languages-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

criterion_group!(benches, bench);
criterion_main!(benches);
