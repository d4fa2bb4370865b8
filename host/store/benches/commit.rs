//! Durable commits per second with concurrent committers, group commit on
//! and off, side by side in one run. Each commit is one small batch (the
//! size of a deployment record update with two events) followed by fsync.
//!
//! `cargo bench -p podium-store --bench commit` (THREADS=1,8,32,100 and
//! COMMITS per thread configurable through the environment). Without
//! `--bench` (`cargo test --bench commit`), or with `--test` as criterion has
//! it, a smoke test: 2 commits per thread, 1 and 8 threads.

use std::sync::Arc;
use std::time::Instant;

use podium_store::{Batch, SledStore, Store};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run(group: bool, threads: usize, per_thread: usize) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = SledStore::open(dir.path()).expect("open");
    store.set_group_commit(group);
    let store = Arc::new(store);
    let record = vec![b'x'; 1500];
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (store, record) = (store.clone(), record.clone());
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    let mut b = Batch::default();
                    b.put(format!("deploy/t{t}/{i}"), record.clone());
                    b.put(format!("event/t{t}/{i}/0"), &record[..200]);
                    b.put(format!("event/t{t}/{i}/1"), &record[..200]);
                    store.commit(b).expect("commit");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("committer");
    }
    (threads * per_thread) as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    // Test mode, as criterion decides it: `cargo test` passes no `--bench`,
    // `cargo bench -- --test` passes both.
    let has = |flag: &str| std::env::args().any(|a| a == flag);
    let smoke = !has("--bench") || has("--test");
    let per_thread = if smoke { 2 } else { env_or("COMMITS", 50) };
    let threads: &[usize] = if smoke { &[1, 8] } else { &[1, 8, 32, 100] };
    println!("durable commits/s (sled 0.34, fsync on), {per_thread} commits per thread");
    println!(
        "{:>8}  {:>14}  {:>14}",
        "threads", "flush each", "group commit"
    );
    for &threads in threads {
        let plain = run(false, threads, per_thread);
        let group = run(true, threads, per_thread);
        println!("{threads:>8}  {plain:>14.0}  {group:>14.0}");
    }
}
