//! The Kubernetes API server of the apply tests: `scripts/backends/kube.sh`
//! (apiextensions-apiserver + etcd on loopback, client-certificate auth),
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
            files: vars,
        }
    })
}

/// `driver_values.api_versions` that apply the rendered kinds as the
/// stand-in custom resources of `fixtures/standin-crds.json`.
pub fn standin_api_versions() -> Value {
    json!({"apps/v1": "apps.test.podium.dev/v1", "v1": "core.test.podium.dev/v1"})
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

    /// Installs the stand-in CRDs (once) and waits until they are served.
    pub fn install_standin_crds(&self) {
        static DONE: OnceLock<()> = OnceLock::new();
        DONE.get_or_init(|| {
            let path = repo_root().join("tests/kubernetes/fixtures/standin-crds.json");
            let crds: Vec<Value> =
                serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            let base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
            for crd in &crds {
                let (code, body) = self.request("POST", base, "application/json", &crd.to_string());
                assert!(code == 201 || code == 409, "creating a CRD: {code} {body}");
            }
            let deadline = Instant::now() + Duration::from_secs(30);
            for crd in &crds {
                let name = crd["metadata"]["name"].as_str().unwrap();
                loop {
                    let (_, body) = self.get(&format!("{base}/{name}"));
                    let established = body["status"]["conditions"].as_array().is_some_and(|c| {
                        c.iter()
                            .any(|c| c["type"] == "Established" && c["status"] == "True")
                    });
                    if established {
                        break;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "CRD {name} not established: {body}"
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            // Established CRDs take a moment to be served ("storage is
            // (re)initializing"): wait until each can be listed.
            for crd in &crds {
                let group = crd["spec"]["group"].as_str().unwrap();
                let plural = crd["spec"]["names"]["plural"].as_str().unwrap();
                let list = format!("/apis/{group}/v1/{plural}");
                loop {
                    let (code, body) = self.get(&list);
                    if code == 200 {
                        break;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "{list} not served: {code} {body}"
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        });
    }
}
