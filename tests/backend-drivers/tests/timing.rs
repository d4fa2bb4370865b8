//! How long the three drivers take in the sandbox for what
//! `scripts/bench/baseline-direct.sh` does directly: create a database with
//! its role, a DNS record and a bucket, one after another. Ignored by
//! default (it measures, it does not check); run it with
//! `cargo test -p podium-backend-driver-tests --release --test timing -- --ignored --nocapture`.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use podium_backend_driver_tests::{Resource, backend, context};
use serde_json::json;

const RUNS: usize = 11;

fn resources(run: usize) -> [Resource; 3] {
    let (pg, pdns, s3) = (backend("postgres"), backend("powerdns"), backend("s3"));
    let env = format!("t{run}");
    [
        Resource::new(
            "podium/postgres",
            context(&env, "postgres", "modules.api.externals.db"),
            json!({"host": pg.var("PODIUM_PG_HOST"), "port": 55432, "admin_user": pg.var("PODIUM_PG_ADMIN_USER")}),
            json!({"admin_password": pg.var("PODIUM_PG_ADMIN_PASSWORD")}),
        )
        .grant(pg.var("PODIUM_PG_GRANT")),
        Resource::new(
            "podium/powerdns",
            context(&env, "dns", "modules.api.externals.dns"),
            json!({"api_url": pdns.var("PODIUM_PDNS_API_URL"), "zone": pdns.var("PODIUM_PDNS_ZONE"), "target": "10.0.0.7"}),
            json!({"api_key": pdns.var("PODIUM_PDNS_API_KEY")}),
        )
        .grant(pdns.var("PODIUM_PDNS_GRANT")),
        Resource::new(
            "podium/s3",
            context(&env, "s3", "modules.api.externals.files"),
            json!({"endpoint": s3.var("PODIUM_S3_ENDPOINT"), "region": s3.var("PODIUM_S3_REGION")}),
            json!({"access_key_id": s3.var("PODIUM_S3_ACCESS_KEY_ID"), "secret_key": s3.var("PODIUM_S3_SECRET_KEY")}),
        )
        .grant(s3.var("PODIUM_S3_GRANT")),
    ]
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run with --ignored --nocapture"]
async fn three_resources_one_after_another() {
    let mut apply_only = Vec::new();
    let mut plan_and_apply = Vec::new();
    let mut per_driver = [Vec::new(), Vec::new(), Vec::new()];
    // Run 0 warms up (components compiled, servers' caches).
    for run in 0..=RUNS {
        let mut rs = resources(run);
        let mut plans = Duration::ZERO;
        for r in &mut rs {
            let t = Instant::now();
            r.plan().await.unwrap();
            plans += t.elapsed();
        }
        let started = Instant::now();
        for (i, r) in rs.iter_mut().enumerate() {
            let t = Instant::now();
            r.apply().await.unwrap();
            if run > 0 {
                per_driver[i].push(t.elapsed());
            }
        }
        let applied = started.elapsed();
        if run > 0 {
            apply_only.push(applied);
            plan_and_apply.push(applied + plans);
        }
        for r in &mut rs {
            r.delete().await.unwrap();
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "median over {RUNS} runs: apply x3 {:.1} ms, plan x3 + apply x3 {:.1} ms; apply per driver: postgres {:.1} ms, powerdns {:.1} ms, s3 {:.1} ms",
        ms(median(apply_only)),
        ms(median(plan_and_apply)),
        ms(median(per_driver[0].clone())),
        ms(median(per_driver[1].clone())),
        ms(median(per_driver[2].clone())),
    );
}
