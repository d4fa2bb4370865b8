//! One deployment path: what `plan` shows is what the deployment that
//! follows records, resource by resource, and a rollback replays the
//! definition versions it returns to. Data-driven: each scenario is a
//! request and the expected actions, checked by one `check` helper.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use podium_core::{
    Delta, DeploymentSet, Environment, EnvironmentType, Images, ResourceDefinition, SharedValue,
    Values,
};
use podium_pipeline::{Config, Pipeline, PlanReport, Registry, Submit};
use podium_runtime::{Runtime, RuntimeConfig};
use podium_store::{
    DeployRequest, DeployStatus, Deployment, EnvRecord, Keyring, ProfileRecord, Repo, SecretKey,
    SledStore, Timestamp, Trigger, WriteSet,
};
use serde_json::{Value, json};

struct World {
    _dir: tempfile::TempDir,
    store: Arc<SledStore>,
    pipeline: Pipeline,
    runtime: Arc<Runtime>,
    registry: Arc<Registry>,
}

const APP: &str = "shop";
const ENV: &str = "dev";

impl World {
    async fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SledStore::open(&dir.path().join("state")).unwrap());
        let repo = Repo::new(
            store.clone(),
            Keyring::new(SecretKey::from_bytes(&SecretKey::generate())),
        );
        let runtime = Arc::new(
            Runtime::new(RuntimeConfig {
                // Shared by the tests: compiled once, not once per test.
                cache_dir: Some(
                    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("driver-cache"),
                ),
                ..RuntimeConfig::default()
            })
            .unwrap(),
        );
        let registry = Arc::new(Registry::default());
        for b in podium_builtins::BUILTINS {
            registry.insert(runtime.load(b.id, b.component).unwrap());
        }
        registry.insert(
            runtime
                .load("test/hostile", podium_test_harness::HOSTILE)
                .unwrap(),
        );
        let mut ws = WriteSet::new();
        ws.env_type(&EnvironmentType {
            id: "development".into(),
        })
        .app(&podium_core::Application { id: APP.into() })
        .env(&EnvRecord {
            env: Environment {
                id: ENV.into(),
                app: APP.into(),
                env_type: "development".into(),
            },
            created_at: Timestamp::now(),
            current_set: None,
            last_deploy: None,
        });
        repo.commit(ws).unwrap();
        let pipeline = Pipeline::new(repo, runtime.clone(), registry.clone(), Config::default());
        let w = World {
            _dir: dir,
            store,
            pipeline,
            runtime,
            registry,
        };
        for (id, ty) in [
            ("cluster", "k8s-cluster"),
            ("ns", "k8s-namespace"),
            ("wl", "workload"),
        ] {
            w.define(id, ty, "podium/echo", json!({}));
        }
        w.define(
            "dns",
            "dns",
            "podium/echo",
            json!({"host": "${context.res.id}.example"}),
        );
        w.define(
            "pg",
            "postgres",
            "podium/echo",
            json!({"host": "${values.PG_HOST}", "size": "small"}),
        );
        w.define("flaky", "flaky", "test/hostile", json!({}));
        w.values(&[("PG_HOST", "db-1")]);
        w
    }

    fn repo(&self) -> &Repo {
        self.pipeline.repo()
    }

    /// Puts a new version of definition `id`.
    fn define(&self, id: &str, ty: &str, driver: &str, values: Value) -> u64 {
        let version = self.repo().definition_latest_version(id).unwrap() + 1;
        let def: ResourceDefinition = serde_json::from_value(json!({
            "id": id, "version": version, "type": ty, "driver_type": driver,
            "driver_inputs": {"values": values}, "criteria": [{}],
        }))
        .unwrap();
        let mut ws = WriteSet::new();
        ws.definition(&def);
        self.repo().commit(ws).unwrap();
        version
    }

    fn values(&self, vals: &[(&str, &str)]) {
        let old = self.repo().values(APP).unwrap().unwrap_or_default();
        let mut v = Values {
            version: old.version + 1,
            ..old
        };
        for (k, val) in vals {
            v.app.insert((*k).into(), SharedValue::plain(*val));
        }
        let mut ws = WriteSet::new();
        ws.values(APP, &v);
        self.repo().commit(ws).unwrap();
    }

    fn profile(&self, id: &str, spec: Value) {
        let mut ws = WriteSet::new();
        ws.profile(&ProfileRecord {
            id: id.into(),
            spec,
        });
        self.repo().commit(ws).unwrap();
    }

    async fn plan(&self, request: &DeployRequest) -> PlanReport {
        self.pipeline.plan(APP, ENV, request).await.unwrap()
    }

    async fn deploy(&self, request: DeployRequest) -> Deployment {
        let trigger = if request.from_deploy.is_some() {
            Trigger::Rollback
        } else {
            Trigger::Deploy
        };
        let dep = self
            .pipeline
            .submit(Submit {
                app: APP.into(),
                env: ENV.into(),
                request,
                trigger,
                comment: String::new(),
                who: "test".into(),
                audit: None,
            })
            .await
            .unwrap();
        self.pipeline.wait(&dep.id).await.unwrap()
    }

    /// Plans `request`, deploys it, and checks that the plan's action for
    /// every resource is the one the deployment recorded, and that both
    /// are `expected` (`key action` lines; resources not listed are
    /// `unchanged`).
    async fn check(&self, request: DeployRequest, expected: &str) -> Deployment {
        let plan = self.plan(&request).await;
        let dep = self.deploy(request).await;
        let planned: BTreeMap<String, String> = plan
            .steps
            .iter()
            .map(|s| (s.key.to_string(), action(&json!(s.action))))
            .collect();
        let recorded: BTreeMap<String, String> = dep
            .resources
            .iter()
            .map(|r| (r.key.to_string(), action(&json!(r.action))))
            .collect();
        assert_eq!(
            planned, recorded,
            "plan and deployment {} disagree (deployment: {:?})",
            dep.id, dep.error
        );
        let changed: Vec<String> = recorded
            .iter()
            .filter(|(_, a)| *a != "unchanged")
            .map(|(k, a)| format!("{k} {a}"))
            .collect();
        let want: Vec<String> = expected
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        assert_eq!(changed, want, "deployment {}", dep.id);
        dep
    }
}

fn action(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn score(yaml: &str) -> Value {
    let w = podium_score::load_str("score.yaml", yaml, None).expect("valid Score");
    serde_json::to_value(&w).unwrap()
}

fn deploy_request(workloads: &[&str], image: &str) -> DeployRequest {
    let delta = Delta::deploy(
        workloads.iter().map(|w| score(w)),
        &Images {
            all: Some(image.into()),
            ..Images::default()
        },
    )
    .unwrap();
    DeployRequest {
        delta: Some(delta),
        ..DeployRequest::default()
    }
}

fn remove_request(workload: &str) -> DeployRequest {
    let delta: Delta = serde_json::from_value(json!({"modules": {"remove": [workload]}})).unwrap();
    DeployRequest {
        delta: Some(delta),
        ..DeployRequest::default()
    }
}

fn rollback_request(to: &str) -> DeployRequest {
    DeployRequest {
        from_deploy: Some(to.into()),
        ..DeployRequest::default()
    }
}

const WEB: &str = r#"
apiVersion: score.dev/v1b1
metadata:
  name: web
  annotations: {podium.dev/profile: small}
containers:
  main:
    image: "."
    variables: {DB: "${resources.db.host}", NAME: "${resources.dns.host}"}
resources:
  db: {type: postgres, params: {tier: a}}
  dns: {type: dns}
"#;

const WORKER: &str = r#"
apiVersion: score.dev/v1b1
metadata: {name: worker}
containers:
  main: {image: "."}
resources:
  cache: {type: dns}
"#;

#[tokio::test]
async fn plan_equals_the_deployment_that_follows() {
    let w = World::new().await;
    w.profile("small", json!({"replicas": 1}));

    let first = w
        .check(
            deploy_request(&[WEB], "web:1"),
            "
            dns.default#modules.web.externals.dns create
            k8s-cluster.default#k8s-cluster create
            k8s-namespace.default#k8s-namespace create
            postgres.default#modules.web.externals.db create
            workload.default#modules.web create
            ",
        )
        .await;
    assert_eq!(first.status, DeployStatus::Succeeded, "{:?}", first.error);

    // Image change: the workload only.
    w.check(
        deploy_request(&[WEB], "web:2"),
        "workload.default#modules.web update",
    )
    .await;
    // Params change: the resource, and the workload that reads its outputs.
    w.check(
        deploy_request(&[&WEB.replace("tier: a", "tier: b")], "web:2"),
        "
        postgres.default#modules.web.externals.db update
        workload.default#modules.web update
        ",
    )
    .await;
    // Shared values change: what reads them, and its dependents.
    w.values(&[("PG_HOST", "db-2")]);
    w.check(
        DeployRequest::default(),
        "
        postgres.default#modules.web.externals.db update
        workload.default#modules.web update
        ",
    )
    .await;
    // Profile change: the workload that uses it.
    w.profile("small", json!({"replicas": 2}));
    w.check(
        DeployRequest::default(),
        "workload.default#modules.web update",
    )
    .await;
    // Nothing changed: nothing is called.
    w.check(DeployRequest::default(), "").await;
    // A second workload, then its removal: it and its private resource go.
    w.check(
        deploy_request(&[WORKER], "worker:1"),
        "
        dns.default#modules.worker.externals.cache create
        workload.default#modules.worker create
        ",
    )
    .await;
    w.check(
        remove_request("worker"),
        "
        dns.default#modules.worker.externals.cache delete
        workload.default#modules.worker delete
        ",
    )
    .await;
    // Removal of a resource from a workload.
    let no_dns = WEB
        .replace("tier: a", "tier: b")
        .replace(", NAME: \"${resources.dns.host}\"", "")
        .replace("  dns: {type: dns}\n", "");
    w.check(
        deploy_request(&[&no_dns], "web:2"),
        "
        dns.default#modules.web.externals.dns delete
        workload.default#modules.web update
        ",
    )
    .await;
    // Rollback to the first deployment: its set, values and definitions.
    let back = w
        .check(
            rollback_request(&first.id),
            "
            dns.default#modules.web.externals.dns create
            postgres.default#modules.web.externals.db update
            workload.default#modules.web update
            ",
        )
        .await;
    assert_eq!(back.status, DeployStatus::Succeeded, "{:?}", back.error);
    // A failing driver: planned as a create, recorded as a failed create;
    // the workload that depends on it is planned and recorded as an update
    // (skipped when the dependency failed). The database goes back to the
    // latest shared values (the rollback had pinned the first version).
    let flaky = WEB.replace(
        "  dns: {type: dns}\n",
        "  dns: {type: dns}\n  flaky: {type: flaky, params: {mode: fail}}\n",
    );
    let failed = w
        .check(
            deploy_request(&[&flaky], "web:1"),
            "
            flaky.default#modules.web.externals.flaky create
            postgres.default#modules.web.externals.db update
            workload.default#modules.web update
            ",
        )
        .await;
    assert_eq!(failed.status, DeployStatus::Failed);
    let e = failed.error.expect("error");
    assert_eq!(
        e.resource.as_deref(),
        Some("flaky.default#modules.web.externals.flaky")
    );
    assert_eq!(e.driver.as_deref(), Some("test/hostile"));
    assert!(
        e.digest
            .as_deref()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
    assert_eq!(e.phase, podium_store::Phase::Create);
}

fn active_values(w: &World, key: &str) -> (u64, Value) {
    let a = w
        .repo()
        .active(APP, ENV)
        .unwrap()
        .into_iter()
        .find(|a| a.resource.key.to_string() == key)
        .expect("active resource");
    (a.resource.definition_version, json!(a.values))
}

#[tokio::test]
async fn rollback_replays_the_recorded_definition_versions() {
    let w = World::new().await;
    w.profile("small", json!({}));
    let d1 = w.deploy(deploy_request(&[WEB], "web:1")).await;
    assert_eq!(d1.status, DeployStatus::Succeeded, "{:?}", d1.error);
    const DB: &str = "postgres.default#modules.web.externals.db";
    assert_eq!(active_values(&w, DB).1["size"], "small");

    let v2 = w.define(
        "pg",
        "postgres",
        "podium/echo",
        json!({"host": "${values.PG_HOST}", "size": "large"}),
    );
    let d2 = w.deploy(DeployRequest::default()).await;
    assert_eq!(d2.status, DeployStatus::Succeeded, "{:?}", d2.error);
    assert_eq!(active_values(&w, DB), (v2, active_values(&w, DB).1));
    assert_eq!(active_values(&w, DB).1["size"], "large");

    // The plan of the rollback says what it will do: back to version 1.
    let plan = w.plan(&rollback_request(&d1.id)).await;
    let step = plan.steps.iter().find(|s| s.key.to_string() == DB).unwrap();
    assert_eq!(json!(step.action), "update");
    assert_eq!(step.definition_version, 1);
    assert_eq!(
        json!(step.reason),
        json!({"reason": "definition_changed", "previous_id": "pg", "previous_version": v2})
    );
    let back = w.deploy(rollback_request(&d1.id)).await;
    assert_eq!(back.status, DeployStatus::Succeeded, "{:?}", back.error);
    assert_eq!(active_values(&w, DB).0, 1);
    assert_eq!(active_values(&w, DB).1["size"], "small");

    // Asked for, today's definitions instead.
    let latest = w
        .deploy(DeployRequest {
            latest_definitions: true,
            ..rollback_request(&d1.id)
        })
        .await;
    assert_eq!(latest.status, DeployStatus::Succeeded, "{:?}", latest.error);
    assert_eq!(active_values(&w, DB), (v2, active_values(&w, DB).1));
    assert_eq!(active_values(&w, DB).1["size"], "large");
}

#[tokio::test]
async fn rollback_refuses_when_a_recorded_driver_is_gone() {
    let w = World::new().await;
    w.profile("small", json!({}));
    let d1 = w.deploy(deploy_request(&[WEB], "web:1")).await;
    assert_eq!(d1.status, DeployStatus::Succeeded, "{:?}", d1.error);
    let echo_digest = w.registry.get("podium/echo").unwrap().digest.clone();
    // `podium/echo` is replaced by another component (a new upload).
    w.registry.insert(
        w.runtime
            .load("podium/echo", podium_test_harness::HOSTILE)
            .unwrap(),
    );
    let before = w.repo().active(APP, ENV).unwrap();
    let back = w.deploy(rollback_request(&d1.id)).await;
    assert_eq!(back.status, DeployStatus::Failed);
    let e = back.error.expect("error");
    assert_eq!(e.phase, podium_store::Phase::Match);
    assert!(e.message.contains("podium/echo"), "{}", e.message);
    assert!(e.message.contains(&echo_digest), "{}", e.message);
    assert!(
        e.message
            .contains("postgres.default#modules.web.externals.db"),
        "{}",
        e.message
    );
    assert!(
        back.resources.is_empty(),
        "no step ran: {:?}",
        back.resources
    );
    assert_eq!(
        w.repo().active(APP, ENV).unwrap(),
        before,
        "nothing changed"
    );
}

/// The store holds the request once and each step's progress as it
/// changes: a deployment's writes do not grow with set size × steps.
#[tokio::test]
async fn a_deployment_writes_its_request_once() {
    use podium_store::Store as _;
    let w = World::new().await;
    w.profile("small", json!({}));
    let d = w.deploy(deploy_request(&[WEB, WORKER], "img:1")).await;
    assert_eq!(d.status, DeployStatus::Succeeded, "{:?}", d.error);
    let record = w
        .store
        .get(format!("deploy/{}", d.id).as_bytes())
        .unwrap()
        .unwrap();
    let record: Value = serde_json::from_slice(&record).unwrap();
    assert!(record.get("request").is_none(), "{record}");
    assert!(record.get("resources").is_none(), "{record}");
    let request = w
        .store
        .get(format!("deployreq/{}", d.id).as_bytes())
        .unwrap();
    assert!(request.is_some());
    let steps = w
        .store
        .scan(format!("deployres/{}/", d.id).as_bytes())
        .unwrap();
    assert_eq!(steps.len(), d.resources.len());
    assert!(d.request.delta.is_some(), "read back whole");
    assert_eq!(d.resources.len(), 7);
    let set: DeploymentSet = w.repo().set(d.set_id.as_deref().unwrap()).unwrap().unwrap();
    assert_eq!(set.modules().len(), 2);
}

/// A driver's outputs meet its resource type's declaration: a declared
/// secret returned among the values fails the step (and is not recorded);
/// undeclared outputs are allowed and listed.
#[tokio::test]
async fn outputs_are_checked_against_the_resource_type() {
    let w = World::new().await;
    w.profile("small", json!({}));
    let ok = w.deploy(deploy_request(&[WEB], "web:1")).await;
    assert_eq!(ok.status, DeployStatus::Succeeded, "{:?}", ok.error);
    let events = w.repo().events(&ok.id, 0).unwrap();
    let applied = events
        .iter()
        .find(|e| {
            e.kind == podium_store::EventKind::ResourceApplied
                && e.resource.as_deref() == Some("postgres.default#modules.web.externals.db")
        })
        .expect("applied event");
    assert!(
        applied
            .message
            .contains("outputs not declared by type postgres: size, tier"),
        "{}",
        applied.message
    );

    w.define(
        "pg",
        "postgres",
        "podium/echo",
        json!({"host": "h", "password": "leaked-in-clear"}),
    );
    let bad = w.deploy(DeployRequest::default()).await;
    assert_eq!(bad.status, DeployStatus::Failed);
    let e = bad.error.expect("error");
    assert_eq!(
        e.resource.as_deref(),
        Some("postgres.default#modules.web.externals.db")
    );
    assert!(e.message.contains("\"password\""), "{}", e.message);
    assert!(e.message.contains("postgres"), "{}", e.message);
    assert!(!e.message.contains("leaked-in-clear"), "{}", e.message);
    let active = w.repo().active(APP, ENV).unwrap();
    assert!(
        !json!(active).to_string().contains("leaked-in-clear"),
        "the refused outputs are not recorded"
    );
}
