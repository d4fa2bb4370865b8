//! Rendering: Score workload + profile → Kubernetes objects. Pure and
//! deterministic: the same input gives byte-identical objects in the same
//! order, whatever the key order of the input JSON.
//!
//! | Object | When | Name |
//! |---|---|---|
//! | `Deployment` | unless the workload asks for a StatefulSet | the workload name |
//! | `StatefulSet` | annotation `k8s.score.dev/kind: StatefulSet` (claim templates from PVC-backed volumes) | the workload name |
//! | `Service` | the workload has `service.ports` | the workload name (DNS-1035) |
//! | `ConfigMap` | a container has plain files | `<workload>-<container>-files-<hash>` |
//! | `Secret` | a container has files with secret content | `<workload>-<container>-secret-files-<hash>` |
//! | `Secret` | a container has variables with secret values | `<workload>-<container>-env-<hash>` |
//!
//! Secret values appear only in the `data` of those Secrets (base64): the
//! Deployment refers to them with `secretKeyRef` and secret volumes.

mod config;
mod pod;
mod service;

use std::collections::BTreeMap;

use podium_driver_sdk::Error;
use podium_driver_sdk::json::canonical;
use serde_json::{Map, Value, json};

use crate::manifest::{Kind, Manifest, OWNER_LABEL};
use crate::names::{self, short_hash};
use crate::profile::Profile;
use crate::workload::{Text, Workload};

pub use config::ContainerConfig;

/// Where the objects go and whom they belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub app: String,
    pub env: String,
    pub namespace: String,
    /// The owner id (the workload's GUResID): a label value.
    pub owner: String,
}

/// Plaintext of the workload's secret strings, by JSON pointer.
pub type SecretValues = BTreeMap<String, String>;

/// Everything needed to render one workload.
pub struct Input<'a> {
    pub workload: &'a Workload,
    pub profile: &'a Profile,
    pub secrets: &'a SecretValues,
    pub target: &'a Target,
}

/// Renders every object of the workload, sorted in apply order.
pub fn render(input: &Input<'_>) -> Result<Vec<Manifest>, Error> {
    let w = input.workload;
    if !names::is_dns_label(&w.metadata.name) {
        return Err(Error::invalid_input(format!(
            "metadata.name: {:?} is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)",
            w.metadata.name
        )));
    }
    if !names::is_dns_label(&input.target.namespace) {
        return Err(Error::invalid_input(format!(
            "namespace: {:?} is not a DNS-1123 label",
            input.target.namespace
        )));
    }
    if w.containers.is_empty() {
        return Err(Error::invalid_input("containers: the workload has none"));
    }
    let meta = Meta::new(input);

    let mut objects = Vec::new();
    let mut configs = BTreeMap::new();
    for (name, container) in &w.containers {
        let config = config::render(input, &meta, name, container, &mut objects)?;
        configs.insert(name.clone(), config);
    }
    // The pods roll when anything they read from a ConfigMap or Secret
    // changes: hash exactly those objects' data.
    let config_hash = short_hash(
        &objects
            .iter()
            .map(|m: &Manifest| canonical(&m.body))
            .collect::<Vec<_>>()
            .join("\n"),
        32,
    );
    objects.push(pod::deployment(input, &meta, &configs, &config_hash)?);
    if let Some(service) = service::service(input, &meta)? {
        objects.push(service);
    }
    for object in &mut objects {
        object.seal();
    }
    objects.sort();
    Ok(objects)
}

/// Labels and annotations shared by the objects of one workload.
pub(crate) struct Meta {
    /// The selector: stable for the life of the workload (a Deployment's
    /// selector cannot change).
    pub selector: Map<String, Value>,
    /// Selector labels, the part-of/managed-by labels, the owner label and
    /// the profile's labels.
    pub labels: Map<String, Value>,
    pub annotations: Map<String, Value>,
}

impl Meta {
    fn new(input: &Input<'_>) -> Meta {
        let w = &input.workload.metadata.name;
        let t = input.target;
        let mut selector = Map::new();
        selector.insert("app.kubernetes.io/name".into(), json!(w));
        selector.insert(
            "app.kubernetes.io/instance".into(),
            json!(names::label_value(&format!("{w}-{}-{}", t.app, t.env))),
        );
        let mut labels = Map::new();
        // Profile labels first, so they can never override ours.
        for (k, v) in &input.profile.labels {
            labels.insert(k.clone(), json!(v));
        }
        labels.extend(selector.clone());
        labels.insert("app.kubernetes.io/managed-by".into(), json!("podium"));
        if !t.app.is_empty() {
            labels.insert(
                "app.kubernetes.io/part-of".into(),
                json!(names::label_value(&t.app)),
            );
        }
        labels.insert(OWNER_LABEL.into(), json!(t.owner));
        let mut annotations = Map::new();
        for (k, v) in &input.profile.annotations {
            annotations.insert(k.clone(), json!(v));
        }
        annotations.insert("podium.dev/app".into(), json!(t.app));
        annotations.insert("podium.dev/env".into(), json!(t.env));
        annotations.insert("podium.dev/workload".into(), json!(w));
        Meta {
            selector,
            labels,
            annotations,
        }
    }

    /// `metadata` of a top-level object.
    pub fn metadata(&self, name: &str, namespace: &str) -> Value {
        json!({
            "name": name,
            "namespace": namespace,
            "labels": self.labels,
            "annotations": self.annotations,
        })
    }
}

/// A manifest with the usual envelope.
pub(crate) fn object(
    kind: Kind,
    name: String,
    input: &Input<'_>,
    meta: &Meta,
    rest: Value,
) -> Manifest {
    let namespace = input.target.namespace.clone();
    let mut body = json!({
        "apiVersion": kind.api_version(),
        "kind": kind.as_str(),
        "metadata": meta.metadata(&name, &namespace),
    });
    if let (Some(body), Value::Object(rest)) = (body.as_object_mut(), rest) {
        body.extend(rest);
    }
    Manifest {
        kind,
        name,
        namespace,
        body,
    }
}

/// The plaintext of a secret string, or an error naming where it was used.
pub(crate) fn secret_value<'a>(
    secrets: &'a SecretValues,
    pointer: &str,
    used_at: &str,
) -> Result<&'a str, Error> {
    secrets.get(pointer).map(String::as_str).ok_or_else(|| {
        Error::invalid_input(format!(
            "{used_at} refers to secret {pointer:?}, which driver_secrets.workload_secrets does not hold"
        ))
    })
}

/// A plain string, or an error for a secret where none may be.
pub(crate) fn plain<'a>(text: &'a Text, used_at: &str) -> Result<&'a str, Error> {
    match text {
        Text::Plain(s) => Ok(s),
        Text::Secret(_) => Err(Error::invalid_input(format!(
            "{used_at} holds a secret value, which cannot go there (only container variables and file contents may)"
        ))),
    }
}

#[cfg(test)]
mod tests;
