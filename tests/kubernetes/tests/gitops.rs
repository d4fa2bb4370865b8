//! GitOps mode through the real sandbox: the driver writes one file per
//! object into the granted directory, removes stale files of its own
//! workload only, and `delete` removes what the workload owned.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;

use podium_runtime::{DriverRequest, Operation};
use podium_tests_kubernetes::{apply, call, request};
use serde_json::{Value, json};

const PASSWORD: &str = "gitops-Pa55word-4711";

fn hello() -> Value {
    json!({
        "apiVersion": "score.dev/v1b1",
        "metadata": {"name": "hello"},
        "containers": {"web": {
            "image": "ghcr.io/acme/hello:1.0",
            "variables": {
                "DATABASE_HOST": "db.shop-dev.svc",
                "DATABASE_PASSWORD": {"$secret": "/containers/web/variables/DATABASE_PASSWORD"}
            },
            "files": {"/etc/hello/app.conf": {"content": "greeting = hi\n"}}
        }},
        "service": {"ports": {"www": {"port": 80, "targetPort": 8080}}}
    })
}

fn worker() -> Value {
    json!({
        "apiVersion": "score.dev/v1b1",
        "metadata": {"name": "worker"},
        "containers": {"main": {"image": "ghcr.io/acme/worker:2.1", "args": ["--queue", "jobs"]}}
    })
}

fn req(workload: &Value, root: &Path) -> DriverRequest {
    request(
        workload,
        json!({"mode": "gitops", "gitops_dir": root.display().to_string(), "namespace": "shop-dev"}),
        json!({"workload_secrets": {"/containers/web/variables/DATABASE_PASSWORD": PASSWORD}}),
    )
}

fn grant(root: &Path) -> Vec<String> {
    vec![format!("file://{}", root.display())]
}

fn files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn parse(path: &Path) -> Value {
    serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_the_tree_and_removes_what_is_gone() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("shop/dev");
    let grants = grant(root.path());

    let mut hello_req = req(&hello(), root.path());
    let mut worker_req = req(&worker(), root.path());
    let out = apply(&mut hello_req, &grants).await;
    assert_eq!(
        Value::Object(out.outputs().values.clone()),
        json!({"name": "hello", "namespace": "shop-dev"})
    );
    apply(&mut worker_req, &grants).await.outputs();
    // A hand-written file in the same directory is never touched.
    std::fs::write(dir.join("notes.yaml"), "# mine\n").unwrap();

    let tree = files(&dir);
    let names: Vec<&str> = tree.iter().map(String::as_str).collect();
    assert_eq!(names.len(), 6, "{names:?}");
    for expected in [
        "deployment-hello.yaml",
        "service-hello.yaml",
        "deployment-worker.yaml",
        "notes.yaml",
    ] {
        assert!(tree.contains(expected), "{expected} missing from {names:?}");
    }
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("configmap-hello-web-files-"))
    );
    assert!(names.iter().any(|n| n.starts_with("secret-hello-web-env-")));

    // Each file is the object as YAML, behind the ownership header.
    let deployment = parse(&dir.join("deployment-hello.yaml"));
    assert_eq!(deployment["kind"], "Deployment");
    assert_eq!(deployment["metadata"]["namespace"], "shop-dev");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/acme/hello:1.0"
    );
    let text = std::fs::read_to_string(dir.join("deployment-hello.yaml")).unwrap();
    assert!(text.contains(&format!(
        "# podium-owner: {}",
        podium_tests_kubernetes::guresid("hello")
    )));

    // The password is only in the Secret's file, base64-encoded.
    for name in &tree {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(
            !text.contains(PASSWORD),
            "{name} holds the password in clear"
        );
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, PASSWORD);
        assert_eq!(
            text.contains(&b64),
            name.starts_with("secret-hello-web-env-"),
            "{name}"
        );
    }

    // Applying the same request again changes nothing; plan says so.
    let before: Vec<(String, String)> = tree
        .iter()
        .map(|n| (n.clone(), std::fs::read_to_string(dir.join(n)).unwrap()))
        .collect();
    let (action, summary) = call(Operation::Plan, &hello_req, &grants).await.plan();
    assert_eq!(action, "unchanged", "{summary}");
    apply(&mut hello_req, &grants).await.outputs();
    let after: Vec<(String, String)> = files(&dir)
        .iter()
        .map(|n| (n.clone(), std::fs::read_to_string(dir.join(n)).unwrap()))
        .collect();
    assert_eq!(before, after);

    // The file goes away from the workload: plan shows the prune and the
    // change, apply removes the ConfigMap's file.
    let mut changed = hello();
    changed["containers"]["web"]
        .as_object_mut()
        .unwrap()
        .remove("files");
    hello_req.params = json!({ "workload": changed });
    let (action, summary) = call(Operation::Plan, &hello_req, &grants).await.plan();
    assert_eq!(action, "update");
    assert!(
        summary.contains("change ") && summary.contains("deployment-hello.yaml"),
        "{summary}"
    );
    assert!(
        summary.contains("prune ") && summary.contains("configmap-hello-web-files-"),
        "{summary}"
    );
    apply(&mut hello_req, &grants).await.outputs();
    let tree = files(&dir);
    assert!(
        !tree.iter().any(|n| n.starts_with("configmap-")),
        "{tree:?}"
    );
    assert!(tree.contains("deployment-worker.yaml"));

    // A stale file of this workload (left from an older version) goes too.
    let stale = dir.join("deployment-hello-old.yaml");
    let header = text.lines().take(2).collect::<Vec<_>>().join("\n");
    std::fs::write(&stale, format!("{header}\nkind: Deployment\n")).unwrap();
    apply(&mut hello_req, &grants).await.outputs();
    assert!(!stale.exists());

    // The worker leaves the deployment: delete removes exactly its files.
    let deleted = call(Operation::Delete, &worker_req, &grants).await;
    assert!(deleted.result.is_ok(), "{:?}", deleted.result);
    let tree = files(&dir);
    assert!(!tree.contains("deployment-worker.yaml"), "{tree:?}");
    assert!(tree.contains("deployment-hello.yaml"));
    assert!(tree.contains("notes.yaml"));

    // Deleting the last workload keeps the directory only for the hand-written file.
    assert!(
        call(Operation::Delete, &hello_req, &grants)
            .await
            .result
            .is_ok()
    );
    assert_eq!(files(&dir), BTreeSet::from(["notes.yaml".to_owned()]));
    std::fs::remove_file(dir.join("notes.yaml")).unwrap();
    // Deleting again succeeds (already gone).
    assert!(
        call(Operation::Delete, &hello_req, &grants)
            .await
            .result
            .is_ok()
    );
    assert!(!dir.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_writes_nothing_and_lists_creations() {
    let root = tempfile::tempdir().unwrap();
    let req = req(&hello(), root.path());
    let plan = call(Operation::Plan, &req, &grant(root.path())).await;
    let (action, summary) = plan.plan();
    assert_eq!(action, "create");
    assert!(summary.contains("deployment-hello.yaml"), "{summary}");
    assert!(files(root.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ungranted_directory_is_denied() {
    let root = tempfile::tempdir().unwrap();
    let mut req = req(&hello(), root.path());
    let called = apply(&mut req, &[]).await;
    let err = called.error();
    assert_eq!(err.kind_code(), "denied", "{err}");
    let text = err.to_string();
    assert!(text.contains("file://"), "{text}");
    assert!(files(root.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_stays_out_of_logs_outputs_and_state() {
    let root = tempfile::tempdir().unwrap();
    let mut req = req(&hello(), root.path());
    let out = apply(&mut req, &grant(root.path())).await;
    out.outputs();
    let visible = out.visible_text();
    assert!(!visible.contains(PASSWORD), "{visible}");
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, PASSWORD);
    assert!(!visible.contains(&b64), "{visible}");
    assert!(out.outputs().secrets.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_others_are_never_overwritten() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("shop/dev");
    std::fs::create_dir_all(&dir).unwrap();
    // A hand-written file where the Service would go.
    std::fs::write(dir.join("service-hello.yaml"), "kind: Service\n").unwrap();
    let mut r = req(&hello(), root.path());
    for called in [
        call(Operation::Plan, &r, &grant(root.path())).await,
        apply(&mut r, &grant(root.path())).await,
    ] {
        let err = called.error();
        assert_eq!(err.kind_code(), "conflict", "{err}");
        assert!(err.to_string().contains("service-hello.yaml"), "{err}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("service-hello.yaml")).unwrap(),
        "kind: Service\n"
    );
    // Nothing else was written either.
    assert_eq!(
        files(&dir),
        BTreeSet::from(["service-hello.yaml".to_owned()])
    );
}
