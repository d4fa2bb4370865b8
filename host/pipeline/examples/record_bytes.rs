//! Bytes a deployment writes to the store: a first deploy of N workloads
//! (each with 5 resources), then a deploy that changes one resource's
//! params (re-applying 1 of 6 resources of one workload and nothing else).
//!
//! `cargo run --example record_bytes -- [N]` (default 50). Uses only APIs
//! that exist since the pipeline was written, so `scripts/bench/record-bytes.sh`
//! can run the same file against an older commit, side by side.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use podium_core::{Delta, Environment, EnvironmentType, Images, ResourceDefinition};
use podium_pipeline::{Config, Pipeline, Registry, Submit};
use podium_runtime::{Runtime, RuntimeConfig};
use podium_store::{
    Batch, DeployRequest, DeployStatus, EnvRecord, Keyring, Op, Repo, SecretKey, SledStore, Store,
    StoreError, Timestamp, Trigger, WriteSet,
};
use serde_json::{Value, json};

/// A store that counts what is committed to it.
struct Counting {
    inner: SledStore,
    bytes: AtomicU64,
    commits: AtomicU64,
}

impl Store for Counting {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(key)
    }
    fn scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        self.inner.scan(prefix)
    }
    fn last(&self, prefix: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>, StoreError> {
        self.inner.last(prefix)
    }
    fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        let n: usize = batch
            .ops
            .iter()
            .map(|op| match op {
                Op::Put(k, v) => k.len() + v.len(),
                Op::Delete(k) => k.len(),
            })
            .sum();
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.inner.commit(batch)
    }
    fn next_id(&self) -> Result<u64, StoreError> {
        self.inner.next_id()
    }
}

fn workload(i: usize, tier: &str) -> Value {
    let resources: serde_json::Map<String, Value> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|r| {
            let params = if *r == "a" {
                json!({"tier": tier})
            } else {
                json!({})
            };
            ((*r).to_owned(), json!({"type": "thing", "params": params}))
        })
        .collect();
    json!({
        "apiVersion": "score.dev/v1b1",
        "metadata": {"name": format!("w{i:03}")},
        "containers": {"main": {
            "image": "registry.example/app:1",
            "variables": {"A": "${resources.a.x}", "LONG": "x".repeat(400)},
        }},
        "resources": resources,
    })
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Counting {
        inner: SledStore::open(&dir.path().join("state")).unwrap(),
        bytes: AtomicU64::new(0),
        commits: AtomicU64::new(0),
    });
    let repo = Repo::new(
        store.clone(),
        Keyring::new(SecretKey::from_bytes(&SecretKey::generate())),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let runtime = Arc::new(
            Runtime::new(RuntimeConfig {
                cache_dir: Some(dir.path().join("cache")),
                ..RuntimeConfig::default()
            })
            .unwrap(),
        );
        let registry = Arc::new(Registry::default());
        for b in podium_builtins::BUILTINS {
            registry.insert(runtime.load(b.id, b.component).unwrap());
        }
        let mut ws = WriteSet::new();
        ws.env_type(&EnvironmentType {
            id: "development".into(),
        })
        .app(&podium_core::Application { id: "app".into() })
        .env(&EnvRecord {
            env: Environment {
                id: "dev".into(),
                app: "app".into(),
                env_type: "development".into(),
            },
            created_at: Timestamp::now(),
            current_set: None,
            last_deploy: None,
        });
        for (id, ty, values) in [
            ("c", "k8s-cluster", json!({})),
            ("n", "k8s-namespace", json!({})),
            ("w", "workload", json!({})),
            ("t", "thing", json!({"x": "1"})),
        ] {
            let def: ResourceDefinition = serde_json::from_value(json!({
                "id": id, "version": 1, "type": ty, "driver_type": "podium/echo",
                "driver_inputs": {"values": values}, "criteria": [{}],
            }))
            .unwrap();
            ws.definition(&def);
        }
        repo.commit(ws).unwrap();
        let pipeline = Pipeline::new(repo, runtime, registry, Config::default());
        let deploy = |workloads: Vec<Value>| {
            let pipeline = pipeline.clone();
            async move {
                let delta = Delta::deploy(workloads, &Images::default()).unwrap();
                let dep = pipeline
                    .submit(Submit {
                        app: "app".into(),
                        env: "dev".into(),
                        request: DeployRequest {
                            delta: Some(delta),
                            ..DeployRequest::default()
                        },
                        trigger: Trigger::Deploy,
                        comment: String::new(),
                        who: "bench".into(),
                    })
                    .await
                    .unwrap();
                let done = pipeline.wait(&dep.id).await.unwrap();
                assert_eq!(done.status, DeployStatus::Succeeded, "{:?}", done.error);
            }
        };
        let measure = |label: &str, before: (u64, u64)| {
            let bytes = store.bytes.load(Ordering::Relaxed) - before.0;
            let commits = store.commits.load(Ordering::Relaxed) - before.1;
            println!("{label:<40} {bytes:>12} bytes {commits:>6} commits");
            (
                store.bytes.load(Ordering::Relaxed),
                store.commits.load(Ordering::Relaxed),
            )
        };
        let start = (
            store.bytes.load(Ordering::Relaxed),
            store.commits.load(Ordering::Relaxed),
        );
        deploy((0..n).map(|i| workload(i, "a")).collect()).await;
        let after_first = measure(&format!("first deploy, {n} workloads"), start);
        // One resource of one workload changes.
        deploy(vec![workload(0, "b")]).await;
        measure("redeploy, 1 resource + its workload", after_first);
    });
}
