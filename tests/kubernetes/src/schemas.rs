//! The official Kubernetes JSON Schemas (PyPI `kubernetes-validate`, strict
//! variants) through `k8s_schema_check.py`, in the venv that
//! `scripts/backends/k8s-schemas.sh` keeps under the cache.

use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::repo_root;

/// One schema violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub version: String,
    pub source: String,
    pub object: String,
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{}] {} {} at `{}`: {}",
            self.version, self.source, self.object, self.path, self.message
        )
    }
}

fn python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let script = repo_root().join("scripts/backends/k8s-schemas.sh");
        let run = |arg: &str| {
            let out = Command::new("bash").arg(&script).arg(arg).output().unwrap();
            assert!(
                out.status.success(),
                "{} {arg} failed:\n{}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        run("install");
        run("env")
            .lines()
            .find_map(|l| l.strip_prefix("PODIUM_K8S_SCHEMA_PYTHON="))
            .expect("PODIUM_K8S_SCHEMA_PYTHON")
            .to_owned()
    })
}

/// Validates `objects` (`(source label, manifest)`) for each Kubernetes
/// `version`; returns how many objects were checked and every violation.
pub fn check(objects: &[(String, Value)], versions: &[&str]) -> (usize, Vec<Violation>) {
    let items: Vec<Value> = objects
        .iter()
        .map(|(source, object)| json!({"source": source, "object": object}))
        .collect();
    let file = tempfile_path();
    std::fs::write(&file, serde_json::to_vec(&items).unwrap()).unwrap();
    let out = Command::new(python())
        .arg(repo_root().join("tests/kubernetes/k8s_schema_check.py"))
        .arg(&file)
        .args(versions)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "schema check failed to run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let field = |e: &Value, k: &str| e[k].as_str().unwrap_or_default().to_owned();
    let violations = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| Violation {
            version: field(e, "version"),
            source: field(e, "source"),
            object: field(e, "object"),
            path: field(e, "path"),
            message: field(e, "message"),
        })
        .collect();
    (report["checked"].as_u64().unwrap_or(0) as usize, violations)
}

fn tempfile_path() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "podium-k8s-manifests-{}-{}.json",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}
