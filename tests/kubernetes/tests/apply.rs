//! Apply mode against a real Kubernetes API server: kube-apiserver and
//! kube-controller-manager v1.20.2 with etcd (`scripts/backends/kube.sh`),
//! through the built-in driver in the sandbox, with client-certificate (or
//! token) authentication, RBAC and the cluster's own CA (the `tls`
//! capability). What the driver did is checked from outside Podium: with
//! curl and Debian's kubectl.
#![allow(clippy::unwrap_used)]

use std::time::{SystemTime, UNIX_EPOCH};

use podium_runtime::{DriverRequest, Operation};
use podium_tests_kubernetes::backend::{Kube, kube};
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
            // No kubelets in the test cluster: pods never become ready, so
            // only the rollout tests wait (and drive the pods themselves).
            "rollout_timeout": 0,
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
    Kube::path(namespace, kind, name)
}

/// A `k8s-namespace` request for `namespace` (the same driver).
fn namespace_req(kube: &Kube, namespace: &str, extra: Value) -> DriverRequest {
    let mut values = json!({"mode": "apply", "cluster": {"url": kube.url}, "namespace": namespace});
    if let (Some(values), Some(extra)) = (values.as_object_mut(), extra.as_object()) {
        values.extend(extra.clone());
    }
    let mut r = request(
        &json!({}),
        values,
        json!({"ca_data": kube.ca_pem, "client_cert": kube.cert_pem, "client_key": kube.key_pem}),
    );
    r.params = json!({});
    r.context.res_type = "k8s-namespace".into();
    r.context.res_id = "k8s-namespace".into();
    r.context.guresid = podium_driver_kubernetes::names::short_hash(namespace, 40);
    r
}

/// Creates the env's namespace through the driver's `k8s-namespace` mode.
async fn ensure_namespace(kube: &Kube, namespace: &str) {
    let mut r = namespace_req(kube, namespace, json!({}));
    let created = apply(&mut r, std::slice::from_ref(&kube.url)).await;
    assert_eq!(created.outputs().values["namespace"], json!(namespace));
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
    let ns = namespace("apply");
    let grants = vec![kube.url.clone()];
    let mut r = req(kube, &ns, &hello());
    let mut seen = Vec::new();

    // A fresh env: its namespace does not exist yet; the k8s-namespace
    // resource creates it, with Podium's labels.
    let (code, _) = kube.get(&format!("/api/v1/namespaces/{ns}"));
    assert_eq!(code, 404);
    ensure_namespace(kube, &ns).await;

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
        .filter(|m| *m != "kube-controller-manager")
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

    // From outside Podium, with kubectl: the Namespace and every object.
    let (ok, out) = kube.kubectl(&["get", "namespace", &ns, "-o", "jsonpath={.metadata.labels}"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("podium.dev/app") && out.contains("shop"),
        "{out}"
    );
    let (ok, out) = kube.kubectl(&[
        "get",
        "deployment,service,secret,configmap",
        "-n",
        &ns,
        "-l",
        &format!("podium.dev/owner={}", guresid("hello")),
        "-o",
        "name",
    ]);
    assert!(ok, "{out}");
    for expected in [
        "deployment.apps/hello",
        "service/hello",
        "secret/hello-",
        "configmap/hello-web-files-",
    ] {
        assert!(out.contains(expected), "{expected} missing from:\n{out}");
    }
    // The controller-manager acts on the Deployment: a ReplicaSet.
    let replica_sets = |kube: &Kube| -> Vec<Value> {
        let (_, list) = kube.get(&path(&ns, "ReplicaSet", ""));
        list["items"].as_array().cloned().unwrap_or_default()
    };
    kube.eventually(30, "the ReplicaSet of Deployment/hello", || {
        !replica_sets(kube).is_empty()
    });
    let rs = &replica_sets(kube)[0];
    assert_eq!(rs["metadata"]["ownerReferences"][0]["kind"], "Deployment");
    assert_eq!(rs["metadata"]["ownerReferences"][0]["name"], "hello");

    // re-apply without change: plan says unchanged, nothing is written.
    let (action, summary) = call(Operation::Plan, &r, &grants).await.plan();
    assert_eq!(action, "unchanged", "{summary}");
    let version = |kube: &Kube| {
        kube.get(&path(&ns, "Deployment", "hello")).1["metadata"]["generation"].clone()
    };
    let before = version(kube);
    seen.push(apply(&mut r, &grants).await.visible_text());
    assert_eq!(
        version(kube),
        before,
        "an unchanged apply changed the object"
    );

    // change: three replicas.
    with_profile(&mut r, &hello(), json!({"replicas": 3}));
    let (action, summary) = call(Operation::Plan, &r, &grants).await.plan();
    assert_eq!(action, "update");
    assert!(summary.contains("change Deployment/hello"), "{summary}");
    assert!(summary.contains("unchanged"), "{summary}");
    seen.push(apply(&mut r, &grants).await.visible_text());
    assert_eq!(
        kube.get(&path(&ns, "Deployment", "hello")).1["spec"]["replicas"],
        3
    );

    // Image change: a rollout, i.e. a second ReplicaSet with the new image.
    let mut v2 = hello();
    v2["containers"]["web"]["image"] = json!("ghcr.io/acme/hello:2.0");
    with_profile(&mut r, &v2, json!({"replicas": 3}));
    seen.push(apply(&mut r, &grants).await.visible_text());
    kube.eventually(30, "a ReplicaSet with the new image", || {
        replica_sets(kube).iter().any(|rs| {
            rs["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/acme/hello:2.0"
        })
    });
    assert!(replica_sets(kube).len() >= 2);

    // The server's own validation: a toleration with an unknown operator.
    with_profile(
        &mut r,
        &v2,
        json!({"replicas": 3, "tolerations": [{"key": "k", "operator": "Sometimes", "effect": "NoSchedule"}]}),
    );
    let rejected = apply(&mut r, &grants).await;
    let (kind, message) = driver_error(&rejected);
    assert_eq!(kind, "invalid-input", "{message}");
    assert!(message.contains("422"), "{message}");
    assert!(message.contains("Deployment/hello"), "{message}");
    assert!(message.contains("tolerations"), "{message}");
    seen.push(rejected.visible_text());
    assert_eq!(
        kube.get(&path(&ns, "Deployment", "hello")).1["spec"]["template"]["spec"]["tolerations"],
        Value::Null
    );

    // conflict: someone scales the Deployment with their own field manager;
    // our next apply wants another value and is refused with the server's
    // message, naming the object.
    let scale = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
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
    with_profile(&mut r, &v2, json!({"replicas": 3}));
    let conflicted = apply(&mut r, &grants).await;
    let (kind, message) = driver_error(&conflicted);
    assert_eq!(kind, "conflict", "{message}");
    assert!(message.contains("Deployment/hello"), "{message}");
    assert!(message.contains("409"), "{message}");
    assert!(message.contains("other-team"), "{message}");
    assert!(message.contains(".spec.replicas"), "{message}");
    assert!(message.contains("force_conflicts: true"), "{message}");
    seen.push(conflicted.visible_text());
    // Agreeing on the value resolves it (shared ownership).
    with_profile(&mut r, &v2, json!({"replicas": 7}));
    seen.push(apply(&mut r, &grants).await.visible_text());

    // prune: the file goes away, so does the ConfigMap; the rest stays.
    let mut without_files = v2.clone();
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

    // Removing the service section prunes the Service.
    let mut no_service = without_files.clone();
    no_service.as_object_mut().unwrap().remove("service");
    with_profile(&mut r, &no_service, json!({"replicas": 7}));
    seen.push(apply(&mut r, &grants).await.visible_text());
    assert!(owned(kube, &ns, "Service").is_empty());
    let (code, _) = kube.get(&path(&ns, "Service", "hello"));
    assert_eq!(code, 404);
    assert_eq!(owned(kube, &ns, "Deployment"), ["hello"]);

    // Removing the workload (delete) removes everything it owned; again is
    // fine; the controller-manager collects its ReplicaSets.
    let deleted = call(Operation::Delete, &r, &grants).await;
    assert!(deleted.result.is_ok(), "{:?}", deleted.result);
    seen.push(deleted.visible_text());
    for kind in ["Deployment", "Service", "ConfigMap", "Secret"] {
        assert!(owned(kube, &ns, kind).is_empty(), "{kind} left behind");
    }
    assert!(call(Operation::Delete, &r, &grants).await.result.is_ok());
    kube.eventually(30, "the ReplicaSets to be garbage-collected", || {
        replica_sets(kube).is_empty()
    });
    let (ok, out) = kube.kubectl(&[
        "get",
        "deployment,service,configmap",
        "-n",
        &ns,
        "-o",
        "name",
    ]);
    assert!(ok && out.trim().is_empty(), "{out}");

    // The password was never visible: not in outputs, state, logs or errors.
    for text in &seen {
        assert!(!text.contains(PASSWORD), "{text}");
        assert!(!text.contains(&b64), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_must_be_granted_and_trusted() {
    let kube = kube();
    let ns = namespace("denied");
    ensure_namespace(kube, &ns).await;
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_of_another_owner_are_never_taken_over() {
    let kube = kube();
    let ns = namespace("owner");
    ensure_namespace(kube, &ns).await;
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
    let manual = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "worker", "namespace": ns},
        "spec": {"type": "ClusterIP", "ports": [{"port": 80, "protocol": "TCP"}]}});
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_are_created_adopted_refused_and_deleted() {
    let kube = kube();
    let grants = vec![kube.url.clone()];
    let ns = namespace("ns");
    let extra =
        json!({"labels": {"team": "shop"}, "annotations": {"owner": "platform@example.com"}});
    let mut r = namespace_req(kube, &ns, extra.clone());

    let (action, _) = call(Operation::Plan, &r, &grants).await.plan();
    assert_eq!(action, "create");
    let created = apply(&mut r, &grants).await;
    assert_eq!(created.outputs().values["namespace"], json!(ns));
    assert!(
        created
            .visible_text()
            .contains(&format!("created Namespace/{ns}"))
    );
    let (_, live) = kube.get(&format!("/api/v1/namespaces/{ns}"));
    let labels = &live["metadata"]["labels"];
    assert_eq!(labels["app.kubernetes.io/managed-by"], "podium");
    assert_eq!(labels["podium.dev/app"], "shop");
    assert_eq!(labels["podium.dev/env"], "dev");
    assert_eq!(labels["team"], "shop");
    assert_eq!(
        live["metadata"]["annotations"]["owner"],
        "platform@example.com"
    );
    let (action, _) = call(Operation::Plan, &r, &grants).await.plan();
    assert_eq!(action, "unchanged");

    // Adopted when it carries Podium's labels for this env (a lost state, a
    // re-created env).
    let mut again = namespace_req(kube, &ns, extra);
    let adopted = apply(&mut again, &grants).await;
    assert!(
        adopted.visible_text().contains("adopted Namespace/"),
        "{}",
        adopted.visible_text()
    );

    // Another env's (or someone else's) namespace is refused, clearly.
    let mut other_env = namespace_req(kube, &ns, json!({}));
    other_env.context.env_id = "prod".into();
    let (kind, message) = driver_error(&apply(&mut other_env, &grants).await);
    assert_eq!(kind, "conflict", "{message}");
    assert!(
        message.contains(&format!(
            "Namespace/{ns} already exists and belongs to Podium app shop, env dev"
        )),
        "{message}"
    );
    let foreign = namespace("foreign");
    kube.create_namespace(&foreign, &json!({"team": "payments"}));
    let mut theirs = namespace_req(kube, &foreign, json!({}));
    for called in [
        call(Operation::Plan, &theirs, &grants).await,
        apply(&mut theirs, &grants).await,
    ] {
        let (kind, message) = driver_error(&called);
        assert_eq!(kind, "conflict", "{message}");
        assert!(message.contains("belongs to someone else"), "{message}");
    }
    // ... and deleting that resource leaves the foreign namespace alone.
    assert!(
        call(Operation::Delete, &theirs, &grants)
            .await
            .result
            .is_ok()
    );
    assert_eq!(kube.get(&format!("/api/v1/namespaces/{foreign}")).0, 200);

    // deletion_policy: retain keeps it.
    let mut retain = namespace_req(kube, &ns, json!({"deletion_policy": "retain"}));
    retain.state = r.state.clone();
    let kept = call(Operation::Delete, &retain, &grants).await;
    assert!(
        kept.visible_text().contains("kept Namespace/"),
        "{}",
        kept.visible_text()
    );
    assert_eq!(
        kube.get(&format!("/api/v1/namespaces/{ns}")).1["status"]["phase"],
        "Active"
    );

    // Deleted with the resource (env teardown); the controller-manager
    // finishes it.
    let deleted = call(Operation::Delete, &r, &grants).await;
    assert!(deleted.result.is_ok(), "{:?}", deleted.result);
    kube.eventually(60, "the namespace to be gone", || {
        kube.get(&format!("/api/v1/namespaces/{ns}")).0 == 404
    });
    assert!(call(Operation::Delete, &r, &grants).await.result.is_ok());
    kube.request(
        "DELETE",
        &format!("/api/v1/namespaces/{foreign}"),
        "application/json",
        "",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_left_to_the_cluster_survive_kubectl_scale() {
    let kube = kube();
    let grants = vec![kube.url.clone()];
    let ns = namespace("scale");
    ensure_namespace(kube, &ns).await;
    let mut r = req(kube, &ns, &hello());
    with_profile(&mut r, &hello(), json!({"replicas": null}));
    apply(&mut r, &grants).await.outputs();
    let (ok, out) = kube.kubectl(&["scale", "deployment/hello", "-n", &ns, "--replicas=4"]);
    assert!(ok, "{out}");
    // The next deploy changes the image; it neither fails nor resets replicas.
    let mut v2 = hello();
    v2["containers"]["web"]["image"] = json!("ghcr.io/acme/hello:2.0");
    with_profile(&mut r, &v2, json!({"replicas": null}));
    apply(&mut r, &grants).await.outputs();
    let (_, live) = kube.get(&path(&ns, "Deployment", "hello"));
    assert_eq!(live["spec"]["replicas"], 4);
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/acme/hello:2.0"
    );
    assert!(call(Operation::Delete, &r, &grants).await.result.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_immutable_field_change_recreates_the_object() {
    let kube = kube();
    let grants = vec![kube.url.clone()];
    let ns = namespace("immutable");
    ensure_namespace(kube, &ns).await;
    // A Deployment of this workload with another selector, as an older
    // renderer would have applied it (same field manager): the selector
    // cannot change in place.
    let old = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "hello", "namespace": ns, "labels": {"podium.dev/owner": guresid("hello")}},
        "spec": {"selector": {"matchLabels": {"app": "hello-old"}},
            "template": {"metadata": {"labels": {"app": "hello-old"}},
                "spec": {"containers": [{"name": "web", "image": "ghcr.io/acme/hello:0.9"}]}}}
    });
    let (code, body) = kube.request(
        "PATCH",
        &format!("{}?fieldManager=podium", path(&ns, "Deployment", "hello")),
        "application/apply-patch+yaml",
        &old.to_string(),
    );
    assert_eq!(code, 201, "{body}");
    let old_uid = body["metadata"]["uid"].clone();
    let mut r = req(kube, &ns, &hello());
    let applied = apply(&mut r, &grants).await;
    applied.outputs();
    let text = applied.visible_text();
    assert!(text.contains("re-creating Deployment/hello"), "{text}");
    assert!(text.contains("field is immutable"), "{text}");
    let (_, live) = kube.get(&path(&ns, "Deployment", "hello"));
    assert_ne!(live["metadata"]["uid"], old_uid);
    assert_eq!(
        live["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
        "hello"
    );
    assert!(call(Operation::Delete, &r, &grants).await.result.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rbac_denial_names_verb_resource_and_namespace() {
    let kube = kube();
    let grants = vec![kube.url.clone()];
    let allowed = namespace("rbac-ok");
    let other = namespace("rbac-no");
    ensure_namespace(kube, &allowed).await;
    ensure_namespace(kube, &other).await;
    // podium-restricted may do anything, but only in `allowed`.
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "deployer", "namespace": allowed},
        "rules": [{"apiGroups": ["", "apps"], "resources": ["*"], "verbs": ["*"]}]});
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "deployer", "namespace": allowed},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "podium-restricted"}]});
    for (collection, body) in [("roles", role), ("rolebindings", binding)] {
        let (code, answer) = kube.request(
            "POST",
            &format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{allowed}/{collection}"),
            "application/json",
            &body.to_string(),
        );
        assert_eq!(code, 201, "{answer}");
    }
    let restricted = |ns: &str| {
        let mut r = req(kube, ns, &hello());
        let secrets = r.driver_secrets.as_object_mut().unwrap();
        secrets.remove("client_cert");
        secrets.remove("client_key");
        secrets.insert("token".into(), json!(kube.restricted_token));
        r
    };
    // Allowed where the Role is (RBAC takes a moment to see new bindings).
    let mut ok = restricted(&allowed);
    let mut result = apply(&mut ok, &grants).await;
    for _ in 0..20 {
        if result.result.is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
        result = apply(&mut ok, &grants).await;
    }
    result.outputs();
    // Refused elsewhere, naming verb, resource and namespace.
    let mut denied = restricted(&other);
    let called = apply(&mut denied, &grants).await;
    let (kind, message) = driver_error(&called);
    assert_eq!(kind, "denied", "{message}");
    assert!(message.contains("403"), "{message}");
    assert!(
        message.contains(&format!("may not get configmaps in namespace {other}")),
        "{message}"
    );
    assert!(message.contains("podium-restricted"), "{message}");
    assert!(!called.visible_text().contains(&kube.restricted_token));
    assert!(call(Operation::Delete, &ok, &grants).await.result.is_ok());
}

/// Marks every pod of `namespace` Ready, as a kubelet would (there is none).
fn make_pods_ready(kube: &Kube, namespace: &str) {
    let (_, pods) = kube.get(&format!("/api/v1/namespaces/{namespace}/pods"));
    let now = "2024-01-01T00:00:00Z";
    for pod in pods["items"].as_array().cloned().unwrap_or_default() {
        if pod["status"]["phase"] == "Running" {
            continue;
        }
        let name = pod["metadata"]["name"].as_str().unwrap_or_default();
        let status = json!({"status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": now},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": now}
        ]}});
        kube.request(
            "PATCH",
            &format!("/api/v1/namespaces/{namespace}/pods/{name}/status"),
            "application/merge-patch+json",
            &status.to_string(),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollouts_are_awaited_and_failures_name_the_workload() {
    let kube = kube();
    let grants = vec![kube.url.clone()];
    let ns = namespace("rollout");
    ensure_namespace(kube, &ns).await;
    let mut r = req(kube, &ns, &hello());
    r.driver_values["rollout_timeout"] = json!("20s");
    with_profile(&mut r, &hello(), json!({"replicas": 2}));

    // Success: pods become ready while the driver waits.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let kubelet = {
        let (stop, ns) = (stop.clone(), ns.clone());
        std::thread::spawn(move || {
            // Late enough for the driver to see the rollout in progress.
            std::thread::sleep(std::time::Duration::from_millis(2500));
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                make_pods_ready(kube, &ns);
                std::thread::sleep(std::time::Duration::from_millis(300));
            }
        })
    };
    let done = apply(&mut r, &grants).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    kubelet.join().unwrap();
    done.outputs();
    let text = done.visible_text();
    assert!(
        text.contains(&format!("rollout of Deployment/hello in namespace {ns}: ")),
        "{text}"
    );
    assert!(
        text.contains(&format!("Deployment/hello in namespace {ns} rolled out")),
        "{text}"
    );

    // Timeout: nothing makes the new pods ready.
    let mut v2 = hello();
    v2["containers"]["web"]["image"] = json!("ghcr.io/acme/hello:2.0");
    with_profile(&mut r, &v2, json!({"replicas": 2}));
    r.driver_values["rollout_timeout"] = json!("3s");
    let started = std::time::Instant::now();
    let timed_out = apply(&mut r, &grants).await;
    let (kind, message) = driver_error(&timed_out);
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    assert_eq!(kind, "failed", "{message}");
    // Progress reached the deployment's log on the way.
    let text = timed_out.visible_text();
    assert!(
        text.contains(&format!("rollout of Deployment/hello in namespace {ns}: ")),
        "{text}"
    );
    assert!(
        message.contains(&format!(
            "rollout of Deployment/hello in namespace {ns} did not complete within 3s"
        )),
        "{message}"
    );

    // ProgressDeadlineExceeded, set by the real deployment controller: the
    // step fails with the condition's message before rollout_timeout.
    let (ok, out) = kube.kubectl(&[
        "patch",
        "deployment/hello",
        "-n",
        &ns,
        "--type=merge",
        "-p",
        r#"{"spec":{"progressDeadlineSeconds":1}}"#,
    ]);
    assert!(ok, "{out}");
    let mut v3 = hello();
    v3["containers"]["web"]["image"] = json!("ghcr.io/acme/hello:3.0");
    with_profile(&mut r, &v3, json!({"replicas": 2}));
    r.driver_values["rollout_timeout"] = json!("25s");
    let started = std::time::Instant::now();
    let (kind, message) = driver_error(&apply(&mut r, &grants).await);
    assert!(started.elapsed() < std::time::Duration::from_secs(25));
    assert_eq!(kind, "failed", "{message}");
    assert!(
        message.contains(&format!(
            "rollout of Deployment/hello in namespace {ns} failed: ProgressDeadlineExceeded:"
        )),
        "{message}"
    );
    assert!(message.contains("has timed out progressing"), "{message}");
    assert!(call(Operation::Delete, &r, &grants).await.result.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workload_can_ask_for_a_statefulset() {
    let kube = kube();
    let grants = vec![kube.url.clone()];
    let ns = namespace("sts");
    ensure_namespace(kube, &ns).await;
    let mut w = hello();
    w["metadata"]["annotations"] = json!({"k8s.score.dev/kind": "StatefulSet"});
    w["containers"]["web"]["volumes"] = json!({"/var/lib/hello": {"source": "data"}});
    let mut r = req(kube, &ns, &w);
    apply(&mut r, &grants).await.outputs();
    let (ok, out) = kube.kubectl(&["get", "statefulset/hello", "-n", &ns, "-o", "json"]);
    assert!(ok, "{out}");
    let sts: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(sts["spec"]["serviceName"], "hello");
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"],
        "data"
    );
    // The statefulset controller makes the first pod and its claim.
    kube.eventually(30, "the claim of pod hello-0", || {
        kube.get(&path(&ns, "PersistentVolumeClaim", "data-hello-0"))
            .0
            == 200
    });
    assert!(owned(kube, &ns, "Deployment").is_empty());
    // Back to a Deployment: the StatefulSet is pruned.
    let mut r2 = req(kube, &ns, &hello());
    r2.state = r.state.clone();
    apply(&mut r2, &grants).await.outputs();
    assert_eq!(owned(kube, &ns, "Deployment"), ["hello"]);
    assert_eq!(kube.get(&path(&ns, "StatefulSet", "hello")).0, 404);
    assert!(call(Operation::Delete, &r2, &grants).await.result.is_ok());
}
