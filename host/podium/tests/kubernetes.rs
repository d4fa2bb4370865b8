//! The service end to end against a real Kubernetes control plane
//! (kube-apiserver + kube-controller-manager 1.20.2 from
//! `scripts/backends/kube.sh`): a fresh env deploys the quick-start workload
//! into a namespace that did not exist yet. The `k8s-namespace` and
//! `workload` resources both go through `podium/kubernetes`; so does the
//! `k8s-cluster` resource, whose definition holds a kubeconfig.
//! Removing the workload prunes its objects and, as the env's last
//! workload, tears the env down: the Namespace is deleted. Checked from
//! outside with kubectl.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Starts the test cluster (idempotent) and returns `kube.sh env`.
fn cluster() -> BTreeMap<String, String> {
    let script = root().join("scripts/backends/kube.sh");
    let started = Command::new("bash")
        .arg(&script)
        .arg("start")
        .output()
        .unwrap();
    assert!(
        started.status.success(),
        "kube.sh start: {}",
        String::from_utf8_lossy(&started.stderr)
    );
    let env = Command::new("bash")
        .arg(&script)
        .arg("env")
        .output()
        .unwrap();
    String::from_utf8_lossy(&env.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn kubectl(vars: &BTreeMap<String, String>, args: &[&str]) -> (bool, String) {
    let out = Command::new(&vars["PODIUM_KUBECTL"])
        .args(["--kubeconfig", &vars["PODIUM_KUBECONFIG"]])
        .args(args)
        .output()
        .unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn a_fresh_env_deploys_into_a_namespace_podium_creates() {
    let vars = cluster();
    let read = |k: &str| std::fs::read_to_string(&vars[k]).unwrap();
    let url = vars["PODIUM_KUBE_URL"].clone();
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Server::start(&tmp.path().join("data"));
    let env_type = "kube";
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000;
    let app = format!("shop{nanos}");
    let ns = format!("{app}-dev");

    let (st, body) = s.put_json(&format!("/api/v1/env-types/{env_type}"), &json!({}));
    assert!(st == 200 || st == 201, "{body}");
    let criteria = json!([{"env_type": env_type}]);
    let cluster_secrets = json!({
        "ca_data": "${resources.k8s-cluster.outputs.ca_data}",
        "client_cert": "${resources.k8s-cluster.outputs.client_cert}",
        "client_key": "${resources.k8s-cluster.outputs.client_key}",
    });
    let b64 = |s: String| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s);
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: test\n\
         clusters:\n- name: test\n  cluster:\n    server: {url}\n    certificate-authority-data: {}\n\
         users:\n- name: admin\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n\
         contexts:\n- name: test\n  context: {{cluster: test, user: admin}}\n",
        b64(read("PODIUM_KUBE_CA")),
        b64(read("PODIUM_KUBE_CERT")),
        b64(read("PODIUM_KUBE_KEY")),
    );
    let definitions = [
        (
            "kube-cluster",
            json!({
                "type": "k8s-cluster", "driver_type": "podium/kubernetes", "criteria": criteria,
                // A kubeconfig as `kubectl config view --raw --minify` prints it.
                "driver_inputs": {"secrets": {"kubeconfig": kubeconfig}}
            }),
        ),
        (
            "kube-namespace",
            json!({
                "type": "k8s-namespace", "driver_type": "podium/kubernetes", "criteria": criteria,
                "grants": [url],
                "driver_inputs": {"values": {
                    "cluster": {"url": "${resources.k8s-cluster.outputs.url}"},
                    "labels": {"team": "shop"},
                }, "secrets": cluster_secrets}
            }),
        ),
        (
            "kube-workload",
            json!({
                "type": "workload", "driver_type": "podium/kubernetes", "criteria": criteria,
                "grants": [url],
                "driver_inputs": {"values": {
                    "cluster": {"url": "${resources.k8s-cluster.outputs.url}"},
                    "namespace": "${resources.k8s-namespace.outputs.namespace}",
                    "rollout_timeout": 0,
                }, "secrets": cluster_secrets}
            }),
        ),
        (
            "kube-postgres",
            json!({
                "type": "postgres", "driver_type": "podium/template", "criteria": criteria,
                "driver_inputs": {"values": {"templates": {
                    "outputs": "host: db\nport: 5432\nname: hello\ndatabase: hello\nusername: hello",
                    "secrets": "password: kube-test-pw"
                }}}
            }),
        ),
    ];
    for (id, def) in &definitions {
        let (st, body) = s.put_json(&format!("/api/v1/resource-definitions/{id}"), def);
        assert!(st == 200 || st == 201, "{id}: {body}");
    }
    let (st, body) = s.put_json(&format!("/api/v1/apps/{app}"), &json!({}));
    assert_eq!(st, 200, "{body}");
    let (st, body) = s.put_json(
        &format!("/api/v1/apps/{app}/envs/dev"),
        &json!({"type": env_type}),
    );
    assert_eq!(st, 200, "{body}");

    let (ok, _) = kubectl(&vars, &["get", "namespace", &ns]);
    assert!(!ok, "namespace {ns} exists before the first deploy");
    let score = root().join("examples/hello/score.yaml");
    let started = Instant::now();
    let o = s.cli(&[
        "deploy",
        "-f",
        score.to_str().unwrap(),
        "--app",
        &app,
        "--env",
        "dev",
        "--image",
        "nginx:1.27",
        "--wait",
    ]);
    assert!(o.status.success(), "deploy: {}\n{}", stdout(&o), stderr(&o));
    assert!(started.elapsed() < Duration::from_secs(60));

    let (ok, out) = kubectl(&vars, &["get", "namespace", &ns, "--show-labels"]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("podium.dev/app={app}")) && out.contains("team=shop"),
        "{out}"
    );
    let (ok, out) = kubectl(
        &vars,
        &[
            "get",
            "deployment,service,secret,configmap,replicaset",
            "-n",
            &ns,
            "-o",
            "name",
        ],
    );
    assert!(ok, "{out}");
    for expected in [
        "deployment.apps/hello",
        "service/hello",
        "secret/hello-web-env-",
    ] {
        assert!(out.contains(expected), "{expected} missing:\n{out}");
    }
    // The controller-manager turns the Deployment into a ReplicaSet.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, out) = kubectl(&vars, &["get", "replicaset", "-n", &ns, "-o", "name"]);
        if out.contains("replicaset.apps/hello-") {
            break;
        }
        assert!(Instant::now() < deadline, "no ReplicaSet: {out}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, image) = kubectl(
        &vars,
        &[
            "get",
            "deployment/hello",
            "-n",
            &ns,
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ],
    );
    assert_eq!(image, "nginx:1.27");
    let (_, secret) = kubectl(&vars, &["get", "secret", "-n", &ns, "-o", "json"]);
    let secret: Value = serde_json::from_str(&secret).unwrap();
    assert!(secret.to_string().contains(&b64("kube-test-pw".to_owned())));

    // A clone of dev gets its own namespace; tearing the clone down (DELETE
    // of the env: a teardown deployment) deletes that namespace and leaves
    // dev's objects alone.
    let (st, e) = s.put_json(
        &format!("/api/v1/apps/{app}/envs/pr"),
        &json!({"type": env_type, "from_env": "dev"}),
    );
    assert_eq!(st, 200, "{e}");
    let cloned = s.wait(e["deploy"]["id"].as_str().unwrap());
    assert_eq!(cloned["status"], "succeeded", "{cloned}");
    let pr_ns = format!("{app}-pr");
    let (ok, out) = kubectl(
        &vars,
        &["get", "deployment/hello", "-n", &pr_ns, "-o", "name"],
    );
    assert!(ok, "{out}");
    let (st, _, t) = s.send(
        "DELETE",
        &format!("/api/v1/apps/{app}/envs/pr?wait=true"),
        "application/json",
        b"",
    );
    assert_eq!(st, 200, "{t}");
    assert_eq!(t["status"], "succeeded", "{t}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (ok, out) = kubectl(
            &vars,
            &["get", "namespace", &pr_ns, "-o", "jsonpath={.status.phase}"],
        );
        if !ok || out.contains("Terminating") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "namespace {pr_ns} not deleted: {out}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (ok, out) = kubectl(&vars, &["get", "deployment/hello", "-n", &ns, "-o", "name"]);
    assert!(ok, "dev untouched: {out}");

    // Removing the workload prunes everything of it; with no workload left,
    // the env's implicit resources go too: the Namespace is deleted
    // (teardown), and then the env itself can be deleted.
    let (st, d) = s.post_json(
        &format!("/api/v1/apps/{app}/envs/dev/deploys?wait=true"),
        &json!({"delta": {"modules": {"remove": ["hello"]}}, "comment": "teardown"}),
    );
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["status"], "succeeded", "{d}");
    let (_, out) = kubectl(
        &vars,
        &[
            "get",
            "deployment,service,secret",
            "-n",
            &ns,
            "-l",
            "app.kubernetes.io/managed-by=podium",
            "-o",
            "name",
        ],
    );
    assert!(!out.contains("deployment.apps/hello"), "{out}");
    let (st, active) = s.get(&format!("/api/v1/apps/{app}/envs/dev/resources"));
    assert_eq!(st, 200, "{active}");
    assert_eq!(active, json!([]));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (ok, out) = kubectl(
            &vars,
            &["get", "namespace", &ns, "-o", "jsonpath={.status.phase}"],
        );
        if !ok || out.contains("Terminating") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "namespace {ns} not deleted: {out}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The env's teardown (nothing left to delete) removes it.
    let (st, _, body) = s.send(
        "DELETE",
        &format!("/api/v1/apps/{app}/envs/dev?wait=true"),
        "application/json",
        b"",
    );
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["status"], "succeeded", "{body}");
    assert_eq!(s.get(&format!("/api/v1/apps/{app}/envs/dev")).0, 404);
    s.stop();
}
