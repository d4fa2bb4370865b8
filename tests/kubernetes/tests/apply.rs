//! Apply mode against a real Kubernetes API server
//! (`apiextensions-apiserver` + etcd from `scripts/backends/kube.sh`),
//! through the built-in driver in the sandbox, with client-certificate
//! authentication and the cluster's own CA (the `tls` capability).
//!
//! That server serves only custom resources, so the rendered kinds are
//! applied as stand-in CRDs with the same kind names
//! (`fixtures/standin-crds.json`, selected with `driver_values.api_versions`):
//! the same requests, the same code path, the same server machinery
//! (server-side apply, field managers, schema validation, label selectors).
#![allow(clippy::unwrap_used)]

use std::time::{SystemTime, UNIX_EPOCH};

use podium_runtime::{DriverRequest, Operation};
use podium_tests_kubernetes::backend::{Kube, kube, standin_api_versions};
use podium_tests_kubernetes::{Called, apply, call, guresid, request};
use serde_json::{Value, json};

const PASSWORD: &str = "apply-Pa55word-0815";

fn hello() -> Value {
    json!({
        "apiVersion": "score.dev/v1b1",
        "metadata": {"name": "hello"},
        "containers": {"web": {
            "image": "ghcr.io/acme/hello:1.0",
            "variables": {
                "DATABASE_HOST": "db.internal",
                "DATABASE_PASSWORD": {"$secret": "/containers/web/variables/DATABASE_PASSWORD"}
            },
            "files": {"/etc/hello/app.conf": {"content": "greeting = hi\n"}}
        }},
        "service": {"ports": {"www": {"port": 80, "targetPort": 8080}}}
    })
}

/// A namespace of its own per run: the server may outlive a test run.
fn namespace(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{}", std::process::id(), nanos % 1_000_000_000)
}

fn req(kube: &Kube, namespace: &str, workload: &Value) -> DriverRequest {
    request(
        workload,
        json!({
            "mode": "apply",
            "cluster": {"url": kube.url},
            "namespace": namespace,
            "api_versions": standin_api_versions(),
        }),
        json!({
            "ca_data": kube.ca_pem,
            "client_cert": kube.cert_pem,
            "client_key": kube.key_pem,
            "workload_secrets": {"/containers/web/variables/DATABASE_PASSWORD": PASSWORD},
        }),
    )
}

fn path(namespace: &str, kind: &str, name: &str) -> String {
    let (group, plural) = match kind {
        "Deployment" => ("apps.test.podium.dev", "deployments"),
        "Service" => ("core.test.podium.dev", "services"),
        "ConfigMap" => ("core.test.podium.dev", "configmaps"),
        _ => ("core.test.podium.dev", "secrets"),
    };
    format!("/apis/{group}/v1/namespaces/{namespace}/{plural}/{name}")
}

/// Names of the objects of a kind owned by `hello` in `namespace`.
fn owned(kube: &Kube, namespace: &str, kind: &str) -> Vec<String> {
    let list = path(namespace, kind, "");
    let (code, body) = kube.get(&format!(
        "{}?labelSelector=podium.dev%2Fowner%3D{}",
        list.trim_end_matches('/'),
        guresid("hello")
    ));
    assert_eq!(code, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_owned())
        .collect()
}

fn with_profile(req: &mut DriverRequest, workload: &Value, profile: Value) {
    req.params = json!({"workload": workload, "profile": profile});
}

/// The driver error of a failed call: (kind, message).
fn driver_error(called: &Called) -> (String, String) {
    let err = called.error();
    match &err.fault {
        podium_runtime::Fault::Driver { kind, message } => {
            (kind.as_str().to_owned(), message.clone())
        }
        other => panic!("expected a driver error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_lifecycle() {
    let kube = kube();
    kube.install_standin_crds();
    let ns = namespace("apply");
    let grants = vec![kube.url.clone()];
    let mut r = req(kube, &ns, &hello());
    let mut seen = Vec::new();

    // plan before anything exists: only reads, everything is to be created.
    let planned = call(Operation::Plan, &r, &grants).await;
    let (action, summary) = planned.plan();
    assert_eq!(action, "create", "{summary}");
    assert!(
        summary.contains("Deployment/hello") && summary.contains("Service/hello"),
        "{summary}"
    );
    assert!(owned(kube, &ns, "Deployment").is_empty());
    seen.push(planned.visible_text());

    // create
    let created = apply(&mut r, &grants).await;
    assert_eq!(
        Value::Object(created.outputs().values.clone()),
        json!({"name": "hello", "namespace": ns})
    );
    seen.push(created.visible_text());
    let (code, deployment) = kube.get(&path(&ns, "Deployment", "hello"));
    assert_eq!(code, 200, "{deployment}");
    assert_eq!(
        deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "podium"
    );
    assert_eq!(deployment["spec"]["replicas"], 1);
    let managers: Vec<&str> = deployment["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert_eq!(managers, ["podium"]);
    let env = &deployment["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(env.to_string().contains("secretKeyRef"), "{env}");
    assert!(!deployment.to_string().contains(PASSWORD));
    assert_eq!(owned(kube, &ns, "Service"), ["hello"]);
    assert_eq!(owned(kube, &ns, "ConfigMap").len(), 1);
    let secrets = owned(kube, &ns, "Secret");
    assert_eq!(secrets.len(), 1);
    let (_, secret) = kube.get(&path(&ns, "Secret", &secrets[0]));
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, PASSWORD);
    assert_eq!(secret["data"]["DATABASE_PASSWORD"], json!(b64));

    // re-apply without change: plan says unchanged, nothing is written.
    let (action, summary) = call(Operation::Plan, &r, &grants).await.plan();
    assert_eq!(action, "unchanged", "{summary}");
    let version = |kube: &Kube| {
        kube.get(&path(&ns, "Deployment", "hello")).1["metadata"]["resourceVersion"].clone()
    };
    let before = version(kube);
    seen.push(apply(&mut r, &grants).await.visible_text());
    assert_eq!(version(kube), before, "an unchanged apply wrote the object");

    // change: three replicas.
    with_profile(&mut r, &hello(), json!({"replicas": 3}));
    let (action, summary) = call(Operation::Plan, &r, &grants).await.plan();
    assert_eq!(action, "update");
    assert!(summary.contains("change Deployment/hello"), "{summary}");
    assert!(
        summary.contains("3 unchanged") || summary.contains("unchanged"),
        "{summary}"
    );
    seen.push(apply(&mut r, &grants).await.visible_text());
    assert_eq!(
        kube.get(&path(&ns, "Deployment", "hello")).1["spec"]["replicas"],
        3
    );

    // schema rejection: the stand-in Deployment allows at most 50 replicas.
    with_profile(&mut r, &hello(), json!({"replicas": 100}));
    let rejected = apply(&mut r, &grants).await;
    let (kind, message) = driver_error(&rejected);
    assert_eq!(kind, "invalid-input", "{message}");
    assert!(message.contains("422"), "{message}");
    assert!(message.contains("Deployment/hello"), "{message}");
    assert!(message.contains("spec.replicas"), "{message}");
    seen.push(rejected.visible_text());
    // Nothing was written.
    assert_eq!(
        kube.get(&path(&ns, "Deployment", "hello")).1["spec"]["replicas"],
        3
    );

    // conflict: someone scales the Deployment with their own field manager;
    // our next apply wants another value and is refused with the server's
    // message, naming the object.
    let scale = json!({
        "apiVersion": "apps.test.podium.dev/v1", "kind": "Deployment",
        "metadata": {"name": "hello", "namespace": ns},
        "spec": {"replicas": 7}
    });
    let (code, body) = kube.request(
        "PATCH",
        &format!(
            "{}?fieldManager=other-team&force=true",
            path(&ns, "Deployment", "hello")
        ),
        "application/apply-patch+yaml",
        &scale.to_string(),
    );
    assert_eq!(code, 200, "{body}");
    let conflicted = apply(&mut r, &grants).await;
    let (kind, message) = driver_error(&conflicted);
    assert_eq!(kind, "conflict", "{message}");
    assert!(message.contains("Deployment/hello"), "{message}");
    assert!(message.contains("409"), "{message}");
    assert!(message.contains("other-team"), "{message}");
    assert!(message.contains(".spec.replicas"), "{message}");
    seen.push(conflicted.visible_text());
    // Agreeing on the value resolves it (shared ownership).
    with_profile(&mut r, &hello(), json!({"replicas": 7}));
    seen.push(apply(&mut r, &grants).await.visible_text());

    // prune: the file goes away, so does the ConfigMap; the rest stays.
    let mut without_files = hello();
    without_files["containers"]["web"]
        .as_object_mut()
        .unwrap()
        .remove("files");
    with_profile(&mut r, &without_files, json!({"replicas": 7}));
    let (action, summary) = call(Operation::Plan, &r, &grants).await.plan();
    assert_eq!(action, "update");
    assert!(
        summary.contains("prune ConfigMap/hello-web-files-"),
        "{summary}"
    );
    let pruned = apply(&mut r, &grants).await;
    pruned.outputs();
    assert!(owned(kube, &ns, "ConfigMap").is_empty());
    assert_eq!(owned(kube, &ns, "Deployment"), ["hello"]);
    assert_eq!(owned(kube, &ns, "Secret").len(), 1);
    assert!(
        pruned
            .visible_text()
            .contains("pruned ConfigMap/hello-web-files-")
    );
    seen.push(pruned.visible_text());

    // delete removes everything the workload owned; again is fine.
    let deleted = call(Operation::Delete, &r, &grants).await;
    assert!(deleted.result.is_ok(), "{:?}", deleted.result);
    seen.push(deleted.visible_text());
    for kind in ["Deployment", "Service", "ConfigMap", "Secret"] {
        assert!(owned(kube, &ns, kind).is_empty(), "{kind} left behind");
    }
    assert!(call(Operation::Delete, &r, &grants).await.result.is_ok());

    // The password was never visible: not in outputs, state, logs or errors.
    for text in &seen {
        assert!(!text.contains(PASSWORD), "{text}");
        assert!(!text.contains(&b64), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_must_be_granted_and_trusted() {
    let kube = kube();
    kube.install_standin_crds();
    let ns = namespace("denied");
    let mut r = req(kube, &ns, &hello());

    // No grant for the API server.
    let (kind, message) = driver_error(&apply(&mut r, &[]).await);
    assert_eq!(kind, "denied", "{message}");
    assert!(
        message.contains(&format!("`{}` would allow it", kube.url)),
        "{message}"
    );

    // Without the cluster CA, the server's certificate is not trusted.
    r.driver_secrets.as_object_mut().unwrap().remove("ca_data");
    let called = apply(&mut r, std::slice::from_ref(&kube.url)).await;
    let (_, message) = driver_error(&called);
    assert!(
        message.to_lowercase().contains("tls") || message.contains("certificate"),
        "{message}"
    );

    // Without a client identity, the server refuses: 401 with its message.
    let mut r = req(kube, &ns, &hello());
    let secrets = r.driver_secrets.as_object_mut().unwrap();
    secrets.remove("client_cert");
    secrets.remove("client_key");
    secrets.insert("token".into(), json!("not-a-valid-token"));
    let called = apply(&mut r, std::slice::from_ref(&kube.url)).await;
    let (kind, message) = driver_error(&called);
    assert_eq!(kind, "denied", "{message}");
    assert!(message.contains("401"), "{message}");
    assert!(!called.visible_text().contains("not-a-valid-token"));
    assert!(owned(kube, &ns, "Deployment").is_empty());

    // A kind the server does not serve: 404 with its message, naming the object.
    let mut r = req(kube, &ns, &hello());
    r.driver_values["api_versions"]["apps/v1"] = json!("apps.unknown.podium.dev/v1");
    let called = apply(&mut r, std::slice::from_ref(&kube.url)).await;
    let (kind, message) = driver_error(&called);
    assert_eq!(kind, "failed", "{message}");
    assert!(message.contains("Deployment/hello"), "{message}");
    assert!(message.contains("404"), "{message}");
    assert!(message.contains("page not found"), "{message}");
    // Applied up to the failing object: the ConfigMap and Secret exist, and
    // the delete of the workload cleans them up.
    assert_eq!(owned(kube, &ns, "ConfigMap").len(), 1);
    assert!(
        call(
            Operation::Delete,
            &req(kube, &ns, &hello()),
            std::slice::from_ref(&kube.url)
        )
        .await
        .result
        .is_ok()
    );
    assert!(owned(kube, &ns, "ConfigMap").is_empty());
    assert!(owned(kube, &ns, "Secret").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_of_another_owner_are_never_taken_over() {
    let kube = kube();
    kube.install_standin_crds();
    let ns = namespace("owner");
    let grants = vec![kube.url.clone()];
    let mut ours = req(kube, &ns, &hello());
    apply(&mut ours, &grants).await.outputs();

    // Another app's workload of the same name, in the same namespace.
    let mut theirs = req(kube, &ns, &hello());
    theirs.context.app_id = "other-app".into();
    theirs.context.guresid = podium_driver_kubernetes::names::short_hash("other", 40);
    for called in [
        call(Operation::Plan, &theirs, &grants).await,
        apply(&mut theirs, &grants).await,
    ] {
        let (kind, message) = driver_error(&called);
        assert_eq!(kind, "conflict", "{message}");
        // The first object in apply order that exists: the ConfigMap.
        assert!(message.contains("ConfigMap/hello-web-files-"), "{message}");
        assert!(message.contains("another Podium workload"), "{message}");
    }
    // Ours is untouched.
    let (_, live) = kube.get(&path(&ns, "Deployment", "hello"));
    assert_eq!(
        live["metadata"]["labels"]["podium.dev/owner"],
        json!(guresid("hello"))
    );

    // A Service someone created by hand is not adopted either.
    let mut worker = json!({
        "metadata": {"name": "worker"},
        "containers": {"main": {"image": "ghcr.io/acme/worker:1"}},
        "service": {"ports": {"http": {"port": 8080}}}
    });
    let manual = json!({"apiVersion": "core.test.podium.dev/v1", "kind": "Service",
        "metadata": {"name": "worker", "namespace": ns}, "spec": {"type": "ClusterIP"}});
    let (code, body) = kube.request(
        "POST",
        path(&ns, "Service", "").trim_end_matches('/'),
        "application/json",
        &manual.to_string(),
    );
    assert_eq!(code, 201, "{body}");
    let mut r = req(kube, &ns, &worker);
    let (kind, message) = driver_error(&apply(&mut r, &grants).await);
    assert_eq!(kind, "conflict", "{message}");
    assert!(
        message.contains("Service/worker") && message.contains("no podium.dev/owner"),
        "{message}"
    );
    // Checked before anything is written: no Deployment for the worker.
    let (code, _) = kube.get(&path(&ns, "Deployment", "worker"));
    assert_eq!(code, 404);
    // Without the service, the worker applies fine.
    worker.as_object_mut().unwrap().remove("service");
    r.params = json!({ "workload": worker });
    apply(&mut r, &grants).await.outputs();
}
