//! The Kubernetes API server of the apply tests: `scripts/backends/kube.sh`
//! (kube-apiserver + kube-controller-manager v1.20.2 + etcd on loopback,
//! client-certificate and token auth, RBAC),
//! started once per test process. `start` is idempotent, so test binaries
//! share one server.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::repo_root;

/// How to reach the test API server.
#[derive(Debug, Clone)]
pub struct Kube {
    /// `https://127.0.0.1:16443`
    pub url: String,
    /// PEM of the CA that signed the serving and client certificates.
    pub ca_pem: String,
    /// PEM client certificate (`O=system:masters`).
    pub cert_pem: String,
    /// PEM client key.
    pub key_pem: String,
    /// Bearer token of the same admin identity.
    pub token: String,
    /// Bearer token of `podium-restricted`, a user without any permission
    /// until a test binds one with RBAC.
    pub restricted_token: String,
    files: BTreeMap<String, String>,
}

fn script(arg: &str) -> std::process::Output {
    let script = repo_root().join("scripts/backends/kube.sh");
    Command::new("bash")
        .arg(&script)
        .arg(arg)
        .output()
        .unwrap_or_else(|e| panic!("running {} {arg}: {e}", script.display()))
}

/// Starts the server (building it first if needed) and returns how to reach it.
pub fn kube() -> &'static Kube {
    static KUBE: OnceLock<Kube> = OnceLock::new();
    KUBE.get_or_init(|| {
        let started = script("start");
        assert!(
            started.status.success(),
            "scripts/backends/kube.sh start failed:\n{}\n{}",
            String::from_utf8_lossy(&started.stdout),
            String::from_utf8_lossy(&started.stderr)
        );
        let env = script("env");
        let vars: BTreeMap<String, String> = String::from_utf8_lossy(&env.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let read = |key: &str| {
            let path = &vars[key];
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{key}={path}: {e}"))
        };
        Kube {
            url: vars["PODIUM_KUBE_URL"].clone(),
            ca_pem: read("PODIUM_KUBE_CA"),
            cert_pem: read("PODIUM_KUBE_CERT"),
            key_pem: read("PODIUM_KUBE_KEY"),
            token: read("PODIUM_KUBE_TOKEN").trim().to_owned(),
            restricted_token: read("PODIUM_KUBE_RESTRICTED_TOKEN").trim().to_owned(),
            files: vars,
        }
    })
}

impl Kube {
    /// One request with the admin identity (through curl, independent of
    /// the code under test): status and JSON body (`null` if none).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> (u16, Value) {
        let out = Command::new("curl")
            .args(["-sS", "-X", method, "-w", "\n%{http_code}"])
            .args(["--cacert", &self.files["PODIUM_KUBE_CA"]])
            .args(["--cert", &self.files["PODIUM_KUBE_CERT"]])
            .args(["--key", &self.files["PODIUM_KUBE_KEY"]])
            .args(["-H", &format!("content-type: {content_type}")])
            .args(["--data-binary", body])
            .arg(format!("{}{path}", self.url))
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
        let code = code.trim().parse().unwrap_or(0);
        (code, serde_json::from_str(body).unwrap_or(Value::Null))
    }

    /// `GET path` with the admin identity.
    pub fn get(&self, path: &str) -> (u16, Value) {
        let out = Command::new("curl")
            .args(["-sS", "-w", "\n%{http_code}"])
            .args(["--cacert", &self.files["PODIUM_KUBE_CA"]])
            .args(["--cert", &self.files["PODIUM_KUBE_CERT"]])
            .args(["--key", &self.files["PODIUM_KUBE_KEY"]])
            .arg(format!("{}{path}", self.url))
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
        (
            code.trim().parse().unwrap_or(0),
            serde_json::from_str(body).unwrap_or(Value::Null),
        )
    }

    /// The API path of an object (or, with an empty name, of its collection).
    pub fn path(namespace: &str, kind: &str, name: &str) -> String {
        let (prefix, plural) = match kind {
            "Deployment" => ("/apis/apps/v1", "deployments"),
            "StatefulSet" => ("/apis/apps/v1", "statefulsets"),
            "ReplicaSet" => ("/apis/apps/v1", "replicasets"),
            "Service" => ("/api/v1", "services"),
            "ConfigMap" => ("/api/v1", "configmaps"),
            "PersistentVolumeClaim" => ("/api/v1", "persistentvolumeclaims"),
            "Secret" => ("/api/v1", "secrets"),
            other => panic!("no path for kind {other}"),
        };
        let base = format!("{prefix}/namespaces/{namespace}/{plural}");
        if name.is_empty() {
            base
        } else {
            format!("{base}/{name}")
        }
    }

    /// Creates a namespace (from outside Podium); an existing one is fine.
    pub fn create_namespace(&self, name: &str, labels: &Value) {
        let body = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": labels}});
        let (code, body) = self.request(
            "POST",
            "/api/v1/namespaces",
            "application/json",
            &body.to_string(),
        );
        assert!(
            code == 201 || code == 409,
            "creating namespace {name}: {code} {body}"
        );
    }

    /// `kubectl ARGS` (Debian's kubectl 1.20, admin identity): exit status
    /// and standard output (standard error appended on failure).
    pub fn kubectl(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new(&self.files["PODIUM_KUBECTL"])
            .args(["--kubeconfig", &self.files["PODIUM_KUBECONFIG"]])
            .args(args)
            .output()
            .expect("kubectl");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            text.push_str(&String::from_utf8_lossy(&out.stderr));
        }
        (out.status.success(), text)
    }

    /// Waits (up to `secs`) until `check` holds, polling every 100 ms.
    pub fn eventually(&self, secs: u64, what: &str, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !check() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
