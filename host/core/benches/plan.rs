//! Full plan of N workloads × 5 resources against 1,000 definitions with
//! mixed criteria (res_id, env_id, app_id, env_type, class, `{}`), some
//! with `${resources…}` references that add dependency nodes.
//!
//! `cargo bench -p podium-core --bench plan -- --warm-up-time 1 --measurement-time 5 --sample-size 10`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion as Bench, Throughput, criterion_group, criterion_main};
use podium_core::model::definition::{DefinitionSpec, DriverInputs};
use podium_core::plan::plan_graph;
use podium_core::{
    Criterion, Definitions, DeploymentSet, EnvContext, Graph, ResourceDefinition, ResourceKey,
    SharedValue, ValueMap, plan,
};
use serde_json::{Value, json};

const TYPES: [&str; 5] = ["postgres", "dns", "s3", "redis", "queue"];
const RESOURCES: [(&str, &str); 5] = [
    ("db", "postgres"),
    ("host", "dns"),
    ("files", "s3"),
    ("cache", "redis"),
    ("jobs", "queue"),
];

fn crit(v: Value) -> Criterion {
    serde_json::from_value(v).unwrap()
}

/// 1,000 definitions: 200 per type, criteria of every kind.
fn definitions(workloads: usize) -> Definitions {
    let mut defs = Definitions::new();
    let mut add = |id: String, res_type: &str, values: Value, criteria: Vec<Criterion>| {
        defs.add(ResourceDefinition::new(
            id,
            1,
            DefinitionSpec {
                res_type: res_type.into(),
                driver_type: format!("podium/{res_type}"),
                driver_inputs: DriverInputs {
                    values: values.as_object().cloned().unwrap_or_default(),
                    secrets: json!({"admin_password": "${values.ADMIN}"})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                },
                grants: vec!["https://${context.app.id}.example.org".into()],
                criteria,
            },
        ))
        .unwrap();
    };
    for t in ["workload", "k8s-cluster", "k8s-namespace"] {
        add(t.into(), t, json!({}), vec![crit(json!({}))]);
    }
    for t in TYPES {
        // Postgres needs a DNS name: one dependency node per postgres.
        let values = if t == "postgres" {
            json!({"host": "${resources.dns.outputs.host}", "db": "${context.res.guresid}"})
        } else {
            json!({"name": "${context.res.id}"})
        };
        add(format!("{t}-any"), t, values.clone(), vec![crit(json!({}))]);
        for i in 1..200usize {
            let w = (i * 37) % workloads.max(1);
            let c = match i % 5 {
                0 => json!({"res_id": format!("modules.w{w}.externals.{}", RESOURCES[i % 5].0)}),
                1 => json!({"env_type": format!("type{i}")}),
                2 => json!({"app_id": format!("app{i}"), "env_type": "development"}),
                3 => json!({"env_id": format!("env{i}"), "class": "large"}),
                _ => json!({"app_id": "shop", "env_id": "dev", "class": format!("c{i}")}),
            };
            add(
                format!("{t}-{i}"),
                t,
                values.clone(),
                vec![crit(c), crit(json!({"res_id": format!("never.{i}")}))],
            );
        }
    }
    assert_eq!(defs.len(), 1003);
    defs
}

fn set(workloads: usize) -> DeploymentSet {
    let modules: BTreeMap<String, Value> = (0..workloads)
        .map(|w| {
            let name = format!("w{w}");
            let mut resources = serde_json::Map::new();
            for (r, t) in RESOURCES {
                let mut v = json!({"type": t});
                if r == "jobs" {
                    v["id"] = json!(format!("jobs{}", w % 50));
                }
                if r == "db" {
                    v["params"] = json!({"extensions": ["pgcrypto"], "size": w % 7});
                }
                resources.insert(r.into(), v);
            }
            let workload = json!({
                "apiVersion": "score.dev/v1b1",
                "metadata": {"name": name},
                "containers": {"main": {"image": format!("registry.example.org/{name}:1"), "variables": {"DB": "${resources.db.host}"}}},
                "service": {"ports": {"http": {"port": 80, "targetPort": 8080}}},
                "resources": resources,
            });
            (name, workload)
        })
        .collect();
    DeploymentSet::new(modules, BTreeMap::new()).unwrap()
}

fn bench(c: &mut Bench) {
    let env = EnvContext::new("shop", "dev", "development");
    let values: ValueMap = [("ADMIN".to_owned(), SharedValue::secret("secret://ADMIN/1"))].into();
    let mut group = c.benchmark_group("plan");
    for n in [1_000usize, 10_000] {
        let defs = definitions(n);
        let set = set(n);
        let first = plan(&set, &env, &defs, &values, &[]).unwrap();
        eprintln!("{n} workloads: {} steps", first.steps.len());
        let active = first.applied();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("first_deploy", n), &n, |b, _| {
            b.iter(|| plan(black_box(&set), &env, &defs, &values, &[]).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("redeploy_unchanged", n), &n, |b, _| {
            b.iter(|| plan(black_box(&set), &env, &defs, &values, &active).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("graph_only", n), &n, |b, _| {
            b.iter(|| Graph::build(black_box(&set), &env, &defs).unwrap())
        });
        let graph = Graph::build(&set, &env, &defs).unwrap();
        group.bench_with_input(BenchmarkId::new("plan_given_graph", n), &n, |b, _| {
            b.iter(|| plan_graph(black_box(&graph), set.id(), &values, &active).unwrap())
        });
        let keys: Vec<ResourceKey> = graph.nodes().iter().map(|n| n.key.clone()).collect();
        group.bench_with_input(BenchmarkId::new("match_only", n), &n, |b, _| {
            b.iter(|| {
                for k in &keys {
                    black_box(defs.match_resource(&env, k).unwrap());
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
