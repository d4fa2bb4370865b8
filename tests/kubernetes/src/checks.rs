//! What the API server validates beyond the JSON Schemas, checked on the
//! objects of one workload: DNS-1123 names, label syntax, port ranges,
//! selector ⊆ pod labels, and every reference (volumes, ConfigMap and Secret
//! keys, `secretKeyRef`) resolving inside the rendered set.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use serde_json::{Map, Value, json};

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_label)
}

fn is_dns1035(s: &str) -> bool {
    is_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

/// `[prefix/]name` of labels and annotations.
fn is_qualified_name(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    name_ok && prefix.is_none_or(is_subdomain)
}

fn is_label_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && v.starts_with(|c: char| c.is_ascii_alphanumeric())
            && v.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

fn is_data_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 253
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && k != "."
        && k != ".."
}

fn port_ok(v: &Value) -> bool {
    v.as_u64().is_some_and(|p| (1..=65535).contains(&p))
}

fn str_map(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Problems with one workload's objects (empty when all is well).
pub fn check(objects: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut p = |s: String| problems.push(s);
    let id = |o: &Value| {
        format!(
            "{}/{}",
            o["kind"].as_str().unwrap_or("?"),
            o["metadata"]["name"].as_str().unwrap_or("?")
        )
    };
    // Data keys of the ConfigMaps and Secrets, by (kind, name).
    let mut data: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut deployments = Vec::new();
    let mut services = Vec::new();

    for o in objects {
        let kind = o["kind"].as_str().unwrap_or_default();
        let name = o["metadata"]["name"].as_str().unwrap_or_default();
        let namespace = o["metadata"]["namespace"].as_str().unwrap_or_default();
        let name_ok = match kind {
            "Service" => is_dns1035(name),
            _ => is_subdomain(name),
        };
        if !name_ok {
            p(format!("{}: invalid name", id(o)));
        }
        if !is_label(namespace) {
            p(format!("{}: invalid namespace {namespace:?}", id(o)));
        }
        for (k, v) in str_map(&o["metadata"]["labels"]) {
            if !is_qualified_name(&k) || !v.as_str().is_some_and(is_label_value) {
                p(format!("{}: invalid label {k}={v}", id(o)));
            }
        }
        for k in str_map(&o["metadata"]["annotations"]).keys() {
            if !is_qualified_name(k) {
                p(format!("{}: invalid annotation key {k}", id(o)));
            }
        }
        match kind {
            "ConfigMap" | "Secret" => {
                let mut keys = BTreeSet::new();
                for field in ["data", "binaryData"] {
                    for (k, v) in str_map(&o[field]) {
                        if !is_data_key(&k) || !keys.insert(k.clone()) {
                            p(format!("{}: invalid or duplicate key {k}", id(o)));
                        }
                        let base64 = kind == "Secret" || field == "binaryData";
                        let decodes = v.as_str().is_some_and(|s| {
                            base64::engine::general_purpose::STANDARD.decode(s).is_ok()
                        });
                        if base64 && !decodes {
                            p(format!("{}: {field}.{k} is not base64", id(o)));
                        }
                    }
                }
                data.insert((kind.to_owned(), name.to_owned()), keys);
            }
            "Deployment" | "StatefulSet" => deployments.push(o),
            "Service" => services.push(o),
            other => p(format!("unexpected kind {other}")),
        }
    }

    for d in &deployments {
        let selector = str_map(&d["spec"]["selector"]["matchLabels"]);
        let pod_labels = str_map(&d["spec"]["template"]["metadata"]["labels"]);
        if selector.is_empty() {
            p(format!("{}: empty selector", id(d)));
        }
        for (k, v) in &selector {
            if pod_labels.get(k) != Some(v) {
                p(format!("{}: selector {k}={v} not in the pod labels", id(d)));
            }
        }
        for s in &services {
            for (k, v) in str_map(&s["spec"]["selector"]) {
                if pod_labels.get(&k) != Some(&v) {
                    p(format!(
                        "{}: selector {k}={v} selects no pod of {}",
                        id(s),
                        id(d)
                    ));
                }
            }
        }
        // A StatefulSet's claim templates are volumes of its pods.
        let mut pod = d["spec"]["template"]["spec"].clone();
        for t in d["spec"]["volumeClaimTemplates"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let name = t["metadata"]["name"].clone();
            match pod["volumes"].as_array_mut() {
                Some(volumes) => volumes.push(json!({ "name": name })),
                None => pod["volumes"] = json!([{ "name": name }]),
            }
        }
        check_pod(&id(d), &pod, &data, &mut p);
    }

    for s in &services {
        let mut names = BTreeSet::new();
        let mut ports = BTreeSet::new();
        let list = s["spec"]["ports"].as_array().cloned().unwrap_or_default();
        for port in &list {
            let name = port["name"].as_str().unwrap_or_default();
            if (list.len() > 1 || !name.is_empty()) && (!is_label(name) || !names.insert(name)) {
                p(format!(
                    "{}: invalid or duplicate port name {name:?}",
                    id(s)
                ));
            }
            if !port_ok(&port["port"]) {
                p(format!("{}: port {} out of range", id(s), port["port"]));
            }
            let target_ok = port_ok(&port["targetPort"])
                || port["targetPort"]
                    .as_str()
                    .is_some_and(|n| is_label(n) && n.len() <= 15);
            if !target_ok {
                p(format!(
                    "{}: targetPort {} invalid",
                    id(s),
                    port["targetPort"]
                ));
            }
            let key = (port["port"].to_string(), port["protocol"].to_string());
            if !ports.insert(key) {
                p(format!("{}: duplicate port {}", id(s), port["port"]));
            }
        }
    }
    problems
}

fn check_pod(
    owner: &str,
    pod: &Value,
    data: &BTreeMap<(String, String), BTreeSet<String>>,
    p: &mut impl FnMut(String),
) {
    let mut volumes = BTreeSet::new();
    for v in pod["volumes"].as_array().cloned().unwrap_or_default() {
        let name = v["name"].as_str().unwrap_or_default().to_owned();
        if !is_label(&name) || !volumes.insert(name.clone()) {
            p(format!(
                "{owner}: invalid or duplicate volume name {name:?}"
            ));
        }
        for (field, kind, name_field) in [
            ("configMap", "ConfigMap", "name"),
            ("secret", "Secret", "secretName"),
        ] {
            if v[field].is_null() {
                continue;
            }
            let target = v[field][name_field].as_str().unwrap_or_default().to_owned();
            let Some(keys) = data.get(&(kind.to_owned(), target.clone())) else {
                p(format!(
                    "{owner}: volume {name} refers to missing {kind}/{target}"
                ));
                continue;
            };
            for item in v[field]["items"].as_array().cloned().unwrap_or_default() {
                let key = item["key"].as_str().unwrap_or_default();
                if !keys.contains(key) {
                    p(format!(
                        "{owner}: volume {name} uses missing key {key} of {kind}/{target}"
                    ));
                }
                if item["mode"].as_u64().is_some_and(|m| m > 0o777) {
                    p(format!("{owner}: volume {name} item mode out of range"));
                }
            }
        }
    }
    let mut containers = BTreeSet::new();
    let all = ["initContainers", "containers"]
        .iter()
        .flat_map(|f| pod[*f].as_array().cloned().unwrap_or_default())
        .collect::<Vec<_>>();
    if pod["containers"].as_array().is_none_or(Vec::is_empty) {
        p(format!("{owner}: no containers"));
    }
    for c in &all {
        let name = c["name"].as_str().unwrap_or_default().to_owned();
        if !is_label(&name) || !containers.insert(name.clone()) {
            p(format!(
                "{owner}: invalid or duplicate container name {name:?}"
            ));
        }
        if c["image"]
            .as_str()
            .is_none_or(|i| i.trim().is_empty() || i == ".")
        {
            p(format!("{owner}: container {name} has no image"));
        }
        let mut paths = BTreeSet::new();
        for m in c["volumeMounts"].as_array().cloned().unwrap_or_default() {
            let volume = m["name"].as_str().unwrap_or_default();
            if !volumes.contains(volume) {
                p(format!(
                    "{owner}: container {name} mounts missing volume {volume}"
                ));
            }
            let path = m["mountPath"].as_str().unwrap_or_default().to_owned();
            if path.is_empty() || !paths.insert(path.clone()) {
                p(format!(
                    "{owner}: container {name} mounts {path:?} twice or empty"
                ));
            }
        }
        for e in c["env"].as_array().cloned().unwrap_or_default() {
            if e["name"].as_str().is_none_or(str::is_empty) {
                p(format!(
                    "{owner}: container {name} has an env var without a name"
                ));
            }
            let r = &e["valueFrom"]["secretKeyRef"];
            if !r.is_null() {
                let secret = r["name"].as_str().unwrap_or_default().to_owned();
                let key = r["key"].as_str().unwrap_or_default();
                let found = data
                    .get(&("Secret".to_owned(), secret.clone()))
                    .is_some_and(|keys| keys.contains(key));
                if !found {
                    p(format!(
                        "{owner}: container {name} refers to missing {secret}/{key}"
                    ));
                }
            }
        }
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            let port = &c[probe]["httpGet"]["port"];
            if !port.is_null() && !port_ok(port) {
                p(format!(
                    "{owner}: container {name} {probe} port {port} out of range"
                ));
            }
        }
        let init_probe = c.get("restartPolicy").is_none()
            && pod["initContainers"]
                .as_array()
                .is_some_and(|i| i.iter().any(|x| x["name"] == c["name"]));
        if init_probe && (!c["readinessProbe"].is_null() || !c["livenessProbe"].is_null()) {
            p(format!("{owner}: init container {name} has probes"));
        }
    }
}
