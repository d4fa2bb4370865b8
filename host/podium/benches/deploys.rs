//! Whole-process benchmark of the service: deploys per second with the
//! built-in drivers (100 environments, one workload with three resources
//! each, fsync on), and API latency (p50/p99 of `GET` on a deployment)
//! while that load runs. Starts the real binary on loopback with a
//! temporary data directory; bounded: it stops by itself.
//!
//! `cargo bench -p podium --bench deploys` (set `ROUNDS`, `ENVS`,
//! `CLIENTS` to change the load). Without `--bench` (`cargo test --bench
//! deploys`), or with `--test` as criterion has it, it runs a smoke test:
//! 2 environments, 2 rounds, 2 clients; the numbers mean nothing then.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// The admin token the server wrote on its first start.
static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn call(agent: &ureq::Agent, method: &str, url: &str, body: Option<&Value>) -> (u16, Value) {
    let auth = format!("Bearer {}", TOKEN.get().map(String::as_str).unwrap_or(""));
    let mut r = match (method, body) {
        ("GET", _) => agent.get(url).header("authorization", &auth).call(),
        ("PUT", Some(b)) => agent
            .put(url)
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .send(b.to_string()),
        ("POST", Some(b)) => agent
            .post(url)
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .send(b.to_string()),
        _ => unreachable!(),
    }
    .expect("request");
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Test mode, as criterion decides it: `cargo test` passes no `--bench`,
/// `cargo bench -- --test` passes both.
fn smoke() -> bool {
    let has = |flag: &str| std::env::args().any(|a| a == flag);
    !has("--bench") || has("--test")
}

fn main() {
    let smoke = smoke();
    let envs = if smoke { 2 } else { env_or("ENVS", 100) };
    let rounds = if smoke { 2 } else { env_or("ROUNDS", 3) };
    let clients = if smoke { 2 } else { env_or("CLIENTS", 100) };
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_podium"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .env("PODIUM_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .trim_start_matches("podium listening on ")
        .to_owned();
    let _ = TOKEN.set(
        std::fs::read_to_string(data.path().join("admin-token"))
            .expect("the admin token")
            .trim()
            .to_owned(),
    );
    let a = agent();
    assert_eq!(
        call(
            &a,
            "PUT",
            &format!("{base}/api/v1/apps/bench"),
            Some(&json!({}))
        )
        .0,
        200
    );
    for e in 0..envs {
        let (st, v) = call(
            &a,
            "PUT",
            &format!("{base}/api/v1/apps/bench/envs/e{e}"),
            Some(&json!({"type": "development"})),
        );
        assert_eq!(st, 200, "{v}");
    }
    let workload = |round: usize| {
        json!({"workloads": [{
            "apiVersion": "score.dev/v1b1", "metadata": {"name": "api"},
            "containers": {"main": {"image": ".", "variables": {
                "DB": "${resources.db.host}", "HOST": "${resources.dns.host}", "BUCKET": "${resources.files.bucket}"}}},
            "resources": {"db": {"type": "postgres"}, "dns": {"type": "dns"}, "files": {"type": "s3"}}
        }], "image": format!("registry/api:{round}")})
    };

    // Readers: API latency while the deploys run.
    let stop = Arc::new(AtomicBool::new(false));
    let latencies = Arc::new(Mutex::new(Vec::<Duration>::new()));
    let ids = Arc::new(Mutex::new(Vec::<String>::new()));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (stop, latencies, ids, base) =
                (stop.clone(), latencies.clone(), ids.clone(), base.clone());
            std::thread::spawn(move || {
                let a = agent();
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let id = { ids.lock().unwrap().get(n % 97).cloned() };
                    n += 1;
                    let Some(id) = id else {
                        std::thread::sleep(Duration::from_millis(1));
                        continue;
                    };
                    let t = Instant::now();
                    let (st, _) = call(&a, "GET", &format!("{base}/api/v1/deploys/{id}"), None);
                    let took = t.elapsed();
                    assert_eq!(st, 200);
                    latencies.lock().unwrap().push(took);
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
        })
        .collect();

    println!("deploys: {envs} environments x {rounds} rounds, {clients} client threads, fsync on");
    for round in 0..rounds {
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let submitted: Vec<_> = (0..clients)
            .map(|_| {
                let (next, base, ids) = (next.clone(), base.clone(), ids.clone());
                let body = workload(round);
                std::thread::spawn(move || {
                    let a = agent();
                    loop {
                        let e = next.fetch_add(1, Ordering::Relaxed);
                        if e >= envs {
                            return;
                        }
                        let (st, v) = call(
                            &a,
                            "POST",
                            &format!("{base}/api/v1/apps/bench/envs/e{e}/deploys?wait=true"),
                            Some(&body),
                        );
                        assert_eq!(st, 200, "{v}");
                        assert_eq!(v["status"], "succeeded", "{v}");
                        ids.lock()
                            .unwrap()
                            .push(v["id"].as_str().unwrap().to_owned());
                    }
                })
            })
            .collect();
        for t in submitted {
            t.join().unwrap();
        }
        let took = started.elapsed();
        let kind = if round == 0 {
            "first deploy (6 resources created)"
        } else {
            "new image (workload updated, 5 unchanged)"
        };
        println!(
            "round {round}: {envs} deploys in {:.2} s = {:.0} deploys/s  [{kind}]",
            took.as_secs_f64(),
            envs as f64 / took.as_secs_f64()
        );
    }
    if smoke {
        // The load is too short for the readers: let them make a request.
        let deadline = Instant::now() + Duration::from_secs(10);
        while latencies.lock().unwrap().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    let mut l = latencies.lock().unwrap().clone();
    l.sort();
    println!(
        "API latency under load (GET deployment, {} requests): p50 {:.2} ms, p99 {:.2} ms",
        l.len(),
        percentile(&l, 0.50).as_secs_f64() * 1e3,
        percentile(&l, 0.99).as_secs_f64() * 1e3
    );
    let _ = child.kill();
    let _ = child.wait();
}
