//! The Deployment: pod template, containers (with `before` mapped onto init
//! containers and sidecars), probes, resources, mounts.

use std::collections::{BTreeMap, BTreeSet};

use podium_driver_sdk::Error;
use podium_driver_sdk::json::canonical;
use serde_json::{Map, Value, json};

use super::config::{ContainerConfig, FileItem};
use super::{Input, Meta, object, plain};
use crate::manifest::{CONFIG_HASH, Kind, Manifest};
use crate::names::{self, short_hash};
use crate::profile::Profile;
use crate::quantity;
use crate::workload::{Amounts, Container, Probe, Readiness, Text};

pub(super) fn deployment(
    input: &Input<'_>,
    meta: &Meta,
    configs: &BTreeMap<String, ContainerConfig>,
    config_hash: &str,
) -> Result<Manifest, Error> {
    let w = input.workload;
    let profile = input.profile;
    let roles = roles(&w.containers)?;

    let mut volumes = BTreeMap::new();
    let mut containers = Vec::new();
    let mut init = Vec::new();
    for (name, role) in &roles {
        let Some(container) = w.containers.get(*name) else {
            continue;
        };
        let config = configs.get(*name).cloned().unwrap_or_default();
        let mut c = container_spec(name, container, &config, profile, &mut volumes)?;
        match role {
            Role::Main => containers.push(Value::Object(c)),
            Role::Init(Readiness::Complete) => {
                // Plain init containers may not have probes.
                c.remove("livenessProbe");
                c.remove("readinessProbe");
                init.push(Value::Object(c));
            }
            Role::Init(ready) => {
                c.insert("restartPolicy".into(), json!("Always"));
                if *ready == Readiness::Healthy
                    && let Some(probe) = c
                        .get("readinessProbe")
                        .or_else(|| c.get("livenessProbe"))
                        .cloned()
                {
                    // The kubelet starts the next container once a sidecar's
                    // startup probe succeeds: "healthy" in Score's words.
                    c.insert("startupProbe".into(), probe);
                }
                init.push(Value::Object(c));
            }
        }
    }

    let mut spec = Map::new();
    if let Some(sc) = &profile.pod_security_context {
        spec.insert("securityContext".into(), Value::Object(sc.clone()));
    }
    if let Some(sa) = &profile.service_account_name {
        spec.insert("serviceAccountName".into(), json!(sa));
    }
    if let Some(automount) = profile.automount_service_account_token {
        spec.insert("automountServiceAccountToken".into(), json!(automount));
    }
    if !profile.image_pull_secrets.is_empty() {
        let secrets: Vec<Value> = profile
            .image_pull_secrets
            .iter()
            .map(|name| json!({"name": name}))
            .collect();
        spec.insert("imagePullSecrets".into(), json!(secrets));
    }
    if !profile.node_selector.is_empty() {
        spec.insert("nodeSelector".into(), json!(profile.node_selector));
    }
    if !profile.tolerations.is_empty() {
        spec.insert("tolerations".into(), json!(profile.tolerations));
    }
    if let Some(seconds) = profile.termination_grace_period_seconds {
        spec.insert("terminationGracePeriodSeconds".into(), json!(seconds));
    }
    if !init.is_empty() {
        spec.insert("initContainers".into(), json!(init));
    }
    spec.insert("containers".into(), json!(containers));
    if !volumes.is_empty() {
        let volumes: Vec<Value> = volumes.into_values().collect();
        spec.insert("volumes".into(), json!(volumes));
    }

    let mut workload_annotations = Map::new();
    for (key, value) in &w.metadata.annotations {
        let value = plain(value, &format!("metadata.annotations.{key}"))?;
        workload_annotations.insert(key.clone(), json!(value));
    }
    let mut pod_annotations = workload_annotations.clone();
    for (key, value) in &profile.pod_annotations {
        pod_annotations.insert(key.clone(), json!(value));
    }
    pod_annotations.insert(CONFIG_HASH.into(), json!(config_hash));

    let mut deployment_spec = Map::new();
    if let Some(replicas) = profile.replicas {
        deployment_spec.insert("replicas".into(), json!(replicas));
    }
    if let Some(limit) = profile.revision_history_limit {
        deployment_spec.insert("revisionHistoryLimit".into(), json!(limit));
    }
    deployment_spec.insert("selector".into(), json!({"matchLabels": meta.selector}));
    deployment_spec.insert(
        "template".into(),
        json!({
            "metadata": {"labels": meta.labels, "annotations": pod_annotations},
            "spec": spec,
        }),
    );
    let kind = workload_kind(w)?;
    if kind == Kind::StatefulSet {
        stateful(input, &mut deployment_spec)?;
    }
    let mut manifest = object(
        kind,
        w.metadata.name.clone(),
        input,
        meta,
        json!({ "spec": deployment_spec }),
    );
    if let Some(annotations) = manifest
        .body
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        for (k, v) in workload_annotations {
            annotations.entry(k).or_insert(v);
        }
    }
    Ok(manifest)
}

/// The workload annotation that picks the kind, as score-k8s reads it.
pub const KIND_ANNOTATION: &str = "k8s.score.dev/kind";

/// `Deployment` (default) or `StatefulSet`, from [`KIND_ANNOTATION`].
fn workload_kind(w: &crate::workload::Workload) -> Result<Kind, Error> {
    let Some(value) = w.metadata.annotations.get(KIND_ANNOTATION) else {
        return Ok(Kind::Deployment);
    };
    match plain(value, &format!("metadata.annotations.{KIND_ANNOTATION}"))? {
        "Deployment" => Ok(Kind::Deployment),
        "StatefulSet" => Ok(Kind::StatefulSet),
        other => Err(Error::invalid_input(format!(
            "metadata.annotations.{KIND_ANNOTATION}: {other:?} is not Deployment or StatefulSet"
        ))),
    }
}

/// Turns a Deployment spec into a StatefulSet's: `serviceName` (the
/// workload's Service), and every volume backed by a PersistentVolumeClaim
/// becomes a per-replica claim template of the same name (size and class
/// from the profile's `volume_claims`).
fn stateful(input: &Input<'_>, spec: &mut Map<String, Value>) -> Result<(), Error> {
    spec.insert(
        "serviceName".into(),
        json!(names::dns1035_label(
            &input.workload.metadata.name,
            names::LABEL_MAX
        )),
    );
    let claims = &input.profile.volume_claims;
    let Some(pod) = spec
        .get_mut("template")
        .and_then(|t| t.get_mut("spec"))
        .and_then(Value::as_object_mut)
    else {
        return Ok(());
    };
    let mut renamed = BTreeMap::new();
    if let Some(Value::Array(volumes)) = pod.get_mut("volumes") {
        volumes.retain(|v| {
            let (Some(volume), Some(claim)) = (
                v["name"].as_str(),
                v["persistentVolumeClaim"]["claimName"].as_str(),
            ) else {
                return true;
            };
            // The template's name is the pods' volume name: a DNS label.
            renamed.insert(volume.to_owned(), names::dns_label(claim, names::LABEL_MAX));
            false
        });
        if volumes.is_empty() {
            pod.remove("volumes");
        }
    }
    if renamed.is_empty() {
        return Ok(());
    }
    for list in ["containers", "initContainers"] {
        for container in pod
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            for mount in container
                .get_mut("volumeMounts")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(claim) = mount["name"].as_str().and_then(|n| renamed.get(n)) {
                    mount["name"] = json!(claim);
                }
            }
        }
    }
    let claim_names: BTreeSet<&String> = renamed.values().collect();
    let templates: Vec<Value> = claim_names
        .into_iter()
        .map(|claim| {
            let mut claim_spec = json!({
                "accessModes": claims.access_modes,
                "resources": {"requests": {"storage": claims.storage}},
            });
            if let Some(class) = &claims.storage_class_name {
                claim_spec["storageClassName"] = json!(class);
            }
            json!({"metadata": {"name": claim}, "spec": claim_spec})
        })
        .collect();
    spec.insert("volumeClaimTemplates".into(), json!(templates));
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Main,
    /// Runs before others, and what they wait for.
    Init(Readiness),
}

/// Each container's role, init containers first in the order they must
/// start, then the main containers by name.
fn roles(containers: &BTreeMap<String, Container>) -> Result<Vec<(&str, Role)>, Error> {
    let rank = |r: Readiness| match r {
        Readiness::Started => 0,
        Readiness::Healthy => 1,
        Readiness::Complete => 2,
    };
    // The strongest readiness anyone waits for decides the role.
    let mut waited: BTreeMap<&str, Readiness> = BTreeMap::new();
    for (name, c) in containers {
        for (other, before) in &c.before {
            if !containers.contains_key(other) {
                return Err(Error::invalid_input(format!(
                    "containers.{name}.before.{other}: no container {other:?}"
                )));
            }
            let entry = waited.entry(other.as_str()).or_insert(before.ready);
            if rank(before.ready) > rank(*entry) {
                *entry = before.ready;
            }
        }
    }
    // Kahn's algorithm over the init containers, smallest name first.
    let mut pending: BTreeMap<&str, BTreeSet<&str>> = waited
        .keys()
        .map(|name| {
            let deps = containers[*name]
                .before
                .keys()
                .map(String::as_str)
                .filter(|d| waited.contains_key(d))
                .collect();
            (*name, deps)
        })
        .collect();
    let mut order = Vec::new();
    while !pending.is_empty() {
        let Some(next) = pending
            .iter()
            .find(|(_, deps)| deps.is_empty())
            .map(|(n, _)| *n)
        else {
            let names: Vec<&str> = pending.keys().copied().collect();
            return Err(Error::invalid_input(format!(
                "containers: the `before` relations of {} form a cycle",
                names.join(", ")
            )));
        };
        pending.remove(next);
        for deps in pending.values_mut() {
            deps.remove(next);
        }
        order.push((next, Role::Init(waited[next])));
    }
    for name in containers.keys() {
        if !waited.contains_key(name.as_str()) {
            order.push((name.as_str(), Role::Main));
        }
    }
    Ok(order)
}

fn container_spec(
    name: &str,
    c: &Container,
    config: &ContainerConfig,
    profile: &Profile,
    volumes: &mut BTreeMap<String, Value>,
) -> Result<Map<String, Value>, Error> {
    let at = format!("containers.{name}");
    if !names::is_dns_label(name) {
        return Err(Error::invalid_input(format!(
            "{at}: {name:?} is not a DNS-1123 label, as Kubernetes container names must be"
        )));
    }
    if c.image.trim().is_empty() || c.image == "." {
        return Err(Error::invalid_input(format!(
            "{at}.image: no image (\".\" must be replaced by the deploy's image)"
        )));
    }
    let mut spec = Map::new();
    spec.insert("name".into(), json!(name));
    spec.insert("image".into(), json!(c.image));
    if let Some(policy) = &profile.image_pull_policy {
        spec.insert("imagePullPolicy".into(), json!(policy));
    }
    if let Some(command) = &c.command {
        spec.insert("command".into(), json!(command));
    }
    if let Some(args) = &c.args {
        spec.insert("args".into(), json!(args));
    }

    let mut env = Vec::new();
    for (var, text) in &c.variables {
        match text {
            Text::Plain(value) => env.push(json!({"name": var, "value": value})),
            Text::Secret(_) => {
                let Some((secret, key)) = config
                    .env
                    .as_ref()
                    .and_then(|(secret, keys)| keys.get(var).map(|k| (secret, k)))
                else {
                    return Err(Error::failed(format!(
                        "{at}.variables.{var}: secret rendered without its Secret (a bug)"
                    )));
                };
                env.push(json!({"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}));
            }
        }
    }
    if !env.is_empty() {
        spec.insert("env".into(), json!(env));
    }

    spec.insert("resources".into(), resources(c, profile, &at)?);

    let mut mounts = Vec::new();
    if let Some((cm, items)) = &config.files {
        let volume = names::dns_label(&format!("files-{name}"), names::LABEL_MAX);
        volumes.insert(
            volume.clone(),
            json!({"name": volume, "configMap": {"name": cm, "items": key_items(items)}}),
        );
        mount_items(&mut mounts, &volume, items);
    }
    if let Some((secret, items)) = &config.secret_files {
        let volume = names::dns_label(&format!("secret-files-{name}"), names::LABEL_MAX);
        volumes.insert(
            volume.clone(),
            json!({"name": volume, "secret": {"secretName": secret, "items": key_items(items)}}),
        );
        mount_items(&mut mounts, &volume, items);
    }
    for (target, v) in &c.volumes {
        let at = format!("{at}.volumes[{target:?}]");
        let source = volume_source(&v.source, &at)?;
        let volume = format!("vol-{}", short_hash(&canonical(&source), 8));
        let mut entry = Map::new();
        entry.insert("name".into(), json!(volume));
        if let Value::Object(source) = source {
            entry.extend(source);
        }
        volumes.insert(volume.clone(), Value::Object(entry));
        let mut mount = json!({"name": volume, "mountPath": target});
        if let Some(path) = &v.path {
            mount["subPath"] = json!(path);
        }
        if let Some(read_only) = v.read_only {
            mount["readOnly"] = json!(read_only);
        }
        mounts.push(mount);
    }
    if !mounts.is_empty() {
        mounts.sort_by(|a, b| a["mountPath"].as_str().cmp(&b["mountPath"].as_str()));
        spec.insert("volumeMounts".into(), json!(mounts));
    }

    if let Some(probe) = &c.liveness_probe {
        spec.insert(
            "livenessProbe".into(),
            probe_spec(probe, &format!("{at}.livenessProbe"))?,
        );
    }
    if let Some(probe) = &c.readiness_probe {
        spec.insert(
            "readinessProbe".into(),
            probe_spec(probe, &format!("{at}.readinessProbe"))?,
        );
    }
    if let Some(sc) = &profile.container_security_context {
        spec.insert("securityContext".into(), Value::Object(sc.clone()));
    }
    Ok(spec)
}

fn key_items(items: &[FileItem]) -> Vec<Value> {
    items
        .iter()
        .map(|i| {
            let mut item = json!({"key": i.key, "path": i.key});
            if let Some(mode) = i.mode {
                item["mode"] = json!(mode);
            }
            item
        })
        .collect()
}

fn mount_items(mounts: &mut Vec<Value>, volume: &str, items: &[FileItem]) {
    for i in items {
        mounts.push(json!({
            "name": volume,
            "mountPath": i.target,
            "subPath": i.key,
            "readOnly": true,
        }));
    }
}

/// A volume reference as resolved: a PersistentVolumeClaim name, or a
/// Kubernetes volume source object (`{"emptyDir": {}}`, `{"persistentVolumeClaim": {...}}`).
fn volume_source(source: &Value, at: &str) -> Result<Value, Error> {
    match source {
        Value::String(claim) if names::is_dns_subdomain(claim) => {
            Ok(json!({"persistentVolumeClaim": {"claimName": claim}}))
        }
        Value::Object(map) if map.contains_key(crate::workload::SECRET_KEY) => {
            Err(Error::invalid_input(format!(
                "{at}.source holds a secret value, which cannot go there"
            )))
        }
        Value::Object(map) if map.len() == 1 && map.values().all(Value::is_object) => {
            Ok(source.clone())
        }
        other => Err(Error::invalid_input(format!(
            "{at}.source: {other} is neither a PersistentVolumeClaim name nor a Kubernetes volume source such as {{\"emptyDir\": {{}}}}"
        ))),
    }
}

pub(super) fn port(p: u32, at: &str) -> Result<u32, Error> {
    if (1..=65535).contains(&p) {
        Ok(p)
    } else {
        Err(Error::invalid_input(format!(
            "{at}: port {p} is outside 1-65535"
        )))
    }
}

fn probe_spec(probe: &Probe, at: &str) -> Result<Value, Error> {
    if let Some(http) = &probe.http_get {
        let mut get = Map::new();
        get.insert("path".into(), json!(http.path));
        get.insert(
            "port".into(),
            json!(port(http.port, &format!("{at}.httpGet.port"))?),
        );
        if let Some(host) = &http.host {
            get.insert("host".into(), json!(host));
        }
        if let Some(scheme) = &http.scheme {
            get.insert("scheme".into(), json!(scheme.to_ascii_uppercase()));
        }
        if !http.http_headers.is_empty() {
            let headers: Vec<Value> = http
                .http_headers
                .iter()
                .map(|h| json!({"name": h.name, "value": h.value}))
                .collect();
            get.insert("httpHeaders".into(), json!(headers));
        }
        return Ok(json!({ "httpGet": get }));
    }
    if let Some(exec) = &probe.exec {
        return Ok(json!({"exec": {"command": exec.command}}));
    }
    Err(Error::invalid_input(format!("{at}: needs httpGet or exec")))
}

/// The container's requests and limits: what the workload says, the
/// profile's defaults for the rest, never a request above its limit.
fn resources(c: &Container, profile: &Profile, at: &str) -> Result<Value, Error> {
    let given = c.resources.clone().unwrap_or_default();
    let given_requests = given.requests.unwrap_or_default();
    let given_limits = given.limits.unwrap_or_default();
    let defaults = &profile.resources;
    let mut requests = Map::new();
    let mut limits = Map::new();
    for (field, pick) in [
        (
            "cpu",
            (|a: &Amounts| a.cpu.clone()) as fn(&Amounts) -> Option<String>,
        ),
        ("memory", |a: &Amounts| a.memory.clone()),
    ] {
        let check = |q: &String, what: &str| {
            quantity::parse(q).map(|_| q.clone()).ok_or_else(|| {
                Error::invalid_input(format!(
                    "{at}.resources.{what}.{field}: {q:?} is not a Kubernetes quantity"
                ))
            })
        };
        let limit = pick(&given_limits)
            .map(|q| check(&q, "limits"))
            .transpose()?;
        let request = pick(&given_requests)
            .map(|q| check(&q, "requests"))
            .transpose()?;
        let value = |q: &Option<String>| q.as_deref().and_then(quantity::parse);
        // A default request may not exceed the workload's limit; a default
        // limit may not fall below the (given or default) request.
        let request = request.or_else(|| {
            let default = pick(&defaults.requests)?;
            match (quantity::parse(&default), value(&limit)) {
                (Some(d), Some(l)) if d > l => limit.clone(),
                _ => Some(default),
            }
        });
        let limit = limit.or_else(|| {
            let default = pick(&defaults.limits)?;
            match (quantity::parse(&default), value(&request)) {
                (Some(d), Some(r)) if d < r => request.clone(),
                _ => Some(default),
            }
        });
        if let (Some(r), Some(l)) = (value(&request), value(&limit))
            && r > l
        {
            return Err(Error::invalid_input(format!(
                "{at}.resources: the {field} request {} is above its limit {}",
                request.as_deref().unwrap_or_default(),
                limit.as_deref().unwrap_or_default()
            )));
        }
        if let Some(r) = request {
            requests.insert(field.into(), json!(r));
        }
        if let Some(l) = limit {
            limits.insert(field.into(), json!(l));
        }
    }
    let mut out = Map::new();
    if !requests.is_empty() {
        out.insert("requests".into(), Value::Object(requests));
    }
    if !limits.is_empty() {
        out.insert("limits".into(), Value::Object(limits));
    }
    Ok(Value::Object(out))
}
