//! What the deployment pipeline does to a Score workload before it reaches
//! the Kubernetes driver, for tests: fill `image: "."`, inline `files[].source`,
//! resolve the placeholders with made-up resource outputs (some secret), and
//! replace every secret string by `{"$secret": "<JSON pointer>"}` with its
//! plaintext in `workload_secrets`.

use std::collections::BTreeMap;
use std::path::Path;

use podium_score::expand_workload;
use podium_score::placeholder::{ResolveError, Resolved};
use serde_json::{Map, Value, json};

/// Output names that the made-up resources treat as secret.
const SECRET_OUTPUTS: [&str; 5] = ["password", "secret", "token", "key", "connection"];

/// A workload as the pipeline hands it to the driver.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub name: String,
    /// The workload JSON, secret strings as references.
    pub workload: Value,
    /// Plaintext of each reference.
    pub workload_secrets: BTreeMap<String, String>,
}

/// Made-up outputs: a resource reference alone is a DNS-1123 name (what a
/// volume resource would give), an output whose name sounds secret is a
/// secret marker, anything else a plain marker.
fn outputs(path: &[String]) -> Result<Resolved, ResolveError> {
    let name = path.get(1).cloned().unwrap_or_default();
    let keys = &path[2.min(path.len())..];
    if keys.is_empty() {
        return Ok(Resolved::public(
            podium_driver_kubernetes::names::dns_label(&name, 63),
        ));
    }
    let joined = keys.join(".");
    let lower = joined.to_ascii_lowercase();
    if SECRET_OUTPUTS.iter().any(|s| lower.contains(s)) {
        Ok(Resolved::secret(format!(
            "SECRET-{name}-{joined}-plaintext"
        )))
    } else {
        Ok(Resolved::public(format!("{name}-{joined}-value")))
    }
}

/// Loads, fills, resolves and splits one Score file.
pub fn prepare(path: &Path) -> Result<Prepared, String> {
    let workload = podium_score::load_file(path).map_err(|r| r.to_string())?;
    let base = path.parent().unwrap_or(Path::new("."));
    let expanded = expand_workload(&workload, &outputs).map_err(|e| e.to_string())?;
    let mut doc = expanded.workload.to_json();
    let name = workload.name().to_owned();

    let containers = doc["containers"].as_object_mut().ok_or("no containers")?;
    for (cname, container) in containers.iter_mut() {
        if container["image"] == "." {
            container["image"] = json!(format!("registry.example.com/{name}-{cname}:1.0"));
        }
        if let Some(files) = container.get_mut("files").and_then(Value::as_object_mut) {
            for file in files.values_mut() {
                inline_source(file, base);
            }
        }
    }

    let mut workload_secrets = BTreeMap::new();
    for pointer in &expanded.secret_pointers {
        let Some(slot) = doc.pointer_mut(pointer) else {
            continue;
        };
        // Resource params are the pipeline's business, not the driver's.
        if pointer.starts_with("/resources/") {
            continue;
        }
        let plaintext = match std::mem::replace(slot, json!({"$secret": pointer})) {
            Value::String(s) => s,
            other => other.to_string(),
        };
        workload_secrets.insert(pointer.clone(), plaintext);
    }
    Ok(Prepared {
        name,
        workload: doc,
        workload_secrets,
    })
}

/// `source` → `content`, read next to the Score file (the driver needs the
/// content; sources that cannot be read get a marker).
fn inline_source(file: &mut Value, base: &Path) {
    let Some(map) = file.as_object_mut() else {
        return;
    };
    let Some(Value::String(source)) = map.remove("source") else {
        return;
    };
    let content = std::fs::read_to_string(base.join(&source))
        .unwrap_or_else(|_| format!("(content of {source})\n"));
    map.insert("content".into(), Value::String(content));
}

/// `workload_secrets` as the driver secrets document.
pub fn secrets_json(secrets: &BTreeMap<String, String>) -> Value {
    let map: Map<String, Value> = secrets
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({ "workload_secrets": map })
}
