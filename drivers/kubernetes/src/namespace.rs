//! `k8s-namespace` resources: the environment's Namespace.
//!
//! The Namespace carries Podium's labels (`app.kubernetes.io/managed-by:
//! podium`, `podium.dev/app`, `podium.dev/env`) and the definition's own
//! labels and annotations, applied server-side like every other object. An
//! existing Namespace is adopted only if it carries Podium's labels for this
//! app and env; anything else is refused, naming who it belongs to. Deleting
//! the resource (env teardown) deletes the Namespace, and with it everything
//! in it, unless `deletion_policy: retain`.

use std::collections::BTreeMap;

use podium_driver_sdk::{Error, Outputs, Plan, Request, log};
use serde_json::{Map, Value, json};

use crate::inputs::{DeletionPolicy, Mode, State};
use crate::kube::Client;
use crate::manifest::ObjectRef;
use crate::names;
use crate::{Changes, Kubernetes};

/// Label naming the app of a Podium-managed Namespace.
pub const APP_LABEL: &str = "podium.dev/app";
/// Label naming the env of a Podium-managed Namespace.
pub const ENV_LABEL: &str = "podium.dev/env";
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";

/// The Namespace's name: `driver_values.namespace`, or `<app>-<env>`.
pub fn name(req: &Request<Kubernetes>) -> Result<String, Error> {
    let given = req.driver_values.namespace.trim();
    if given.is_empty() {
        return Ok(names::dns_label(
            &format!("{}-{}", req.context.app_id, req.context.env_id),
            names::LABEL_MAX,
        ));
    }
    if !names::is_dns_label(given) {
        return Err(Error::invalid_input(format!(
            "driver_values.namespace: {given:?} is not a valid Namespace name (a DNS-1123 label: lower-case letters, digits and '-', at most 63)"
        )));
    }
    Ok(given.to_owned())
}

fn podium_labels(req: &Request<Kubernetes>) -> Map<String, Value> {
    labels_for(&req.context.app_id, &req.context.env_id)
}

fn labels_for(app: &str, env: &str) -> Map<String, Value> {
    let mut labels = Map::new();
    labels.insert(MANAGED_BY.into(), json!("podium"));
    labels.insert(APP_LABEL.into(), json!(names::label_value(app)));
    labels.insert(ENV_LABEL.into(), json!(names::label_value(env)));
    labels
}

/// The Namespace as Podium applies it.
fn render(req: &Request<Kubernetes>, name: &str) -> Result<Value, Error> {
    let v = &req.driver_values;
    manifest(
        &req.context.app_id,
        &req.context.env_id,
        name,
        &v.labels,
        &v.annotations,
    )
}

/// The Namespace of env `env` of app `app`: Podium's labels, then the
/// definition's labels (which may not override Podium's) and annotations.
pub fn manifest(
    app: &str,
    env: &str,
    name: &str,
    extra_labels: &BTreeMap<String, String>,
    extra_annotations: &BTreeMap<String, String>,
) -> Result<Value, Error> {
    let mut labels = Map::new();
    for (k, v) in extra_labels {
        labels.insert(k.clone(), json!(v));
    }
    for (k, v) in labels_for(app, env) {
        if labels.get(&k).is_some_and(|given| given != &v) {
            return Err(Error::invalid_input(format!(
                "driver_values.labels.{k}: Podium sets this label itself"
            )));
        }
        labels.insert(k, v);
    }
    let annotations: Map<String, Value> = extra_annotations
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let mut metadata = json!({"name": name, "labels": labels});
    if !annotations.is_empty() {
        metadata["annotations"] = Value::Object(annotations);
    }
    Ok(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}))
}

/// Whether a live Namespace is this env's (by Podium's labels).
fn ours(req: &Request<Kubernetes>, live: &Value) -> bool {
    let labels = &live["metadata"]["labels"];
    podium_labels(req)
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
}

/// Refuses a Namespace that exists and is not this env's.
fn check_owner(req: &Request<Kubernetes>, name: &str, live: &Value) -> Result<(), Error> {
    if ours(req, live) {
        return Ok(());
    }
    let labels = &live["metadata"]["labels"];
    let who = match (
        labels[MANAGED_BY].as_str(),
        labels[APP_LABEL].as_str(),
        labels[ENV_LABEL].as_str(),
    ) {
        (Some("podium"), Some(app), Some(env)) => {
            format!("Podium app {app}, env {env}")
        }
        _ => "someone else (it does not carry Podium's labels for this env)".to_owned(),
    };
    Err(Error::conflict(format!(
        "Namespace/{name} already exists and belongs to {who}; Podium does not take it over: \
         choose another namespace for env {} of app {}, or label it {APP_LABEL}={} and {ENV_LABEL}={} \
         ({MANAGED_BY}=podium) to hand it over",
        req.context.env_id,
        req.context.app_id,
        names::label_value(&req.context.app_id),
        names::label_value(&req.context.env_id),
    )))
}

fn client(req: &Request<Kubernetes>) -> Result<Client, Error> {
    if req.driver_values.mode != Mode::Apply {
        return Err(Error::invalid_input(
            "driver_values.mode: a k8s-namespace resource needs mode apply (a GitOps tree has no cluster to create it in)",
        ));
    }
    Client::connect(&req.driver_values, &req.driver_secrets)
}

fn state(name: &str) -> State {
    State {
        mode: Mode::Apply,
        namespace: name.to_owned(),
        objects: vec![ObjectRef {
            kind: "Namespace".into(),
            name: name.to_owned(),
            namespace: String::new(),
        }],
        dir: None,
    }
}

pub(crate) fn plan(req: &Request<Kubernetes>) -> Result<Plan, Error> {
    let name = name(req)?;
    let desired = render(req, &name)?;
    let client = client(req)?;
    let mut changes = Changes::default();
    let id = format!("Namespace/{name}");
    match client.get_namespace(&name)? {
        None => changes.create.push(id),
        Some(live) => {
            check_owner(req, &name, &live)?;
            let same = ["labels", "annotations"].iter().all(|field| {
                desired["metadata"][field]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .all(|(k, v)| live["metadata"][field].get(k) == Some(v))
            });
            if same {
                changes.unchanged.push(id);
            } else {
                changes.change.push(id);
            }
        }
    }
    Ok(changes.into_plan(req.state.is_none()))
}

pub(crate) fn apply(req: &Request<Kubernetes>) -> Result<Outputs<State>, Error> {
    let name = name(req)?;
    let desired = render(req, &name)?;
    let client = client(req)?;
    let adopted = match client.get_namespace(&name)? {
        Some(live) => {
            check_owner(req, &name, &live)?;
            if live["status"]["phase"] == "Terminating" {
                return Err(Error::unavailable(format!(
                    "Namespace/{name} is being deleted (Terminating); deploy again once it is gone"
                )));
            }
            req.state.is_none()
        }
        None => false,
    };
    let created = client.apply_namespace(&desired, &name)?;
    log::info(if created {
        format!("created Namespace/{name}")
    } else if adopted {
        format!("adopted Namespace/{name} (it carries Podium's labels for this env)")
    } else {
        format!("applied Namespace/{name}")
    });
    Ok(Outputs::new()
        .value("namespace", name.clone())
        .state(state(&name)))
}

pub(crate) fn delete(req: &Request<Kubernetes>) -> Result<(), Error> {
    let name = match &req.state {
        Some(state) if !state.namespace.is_empty() => state.namespace.clone(),
        _ => name(req)?,
    };
    if req.driver_values.deletion_policy == DeletionPolicy::Retain {
        log::info(format!("kept Namespace/{name} (deletion_policy: retain)"));
        return Ok(());
    }
    let client = client(req)?;
    let Some(live) = client.get_namespace(&name)? else {
        return Ok(());
    };
    if !ours(req, &live) {
        log::warn(format!(
            "left Namespace/{name} alone: it does not carry Podium's labels for this env"
        ));
        return Ok(());
    }
    if client.delete_namespace(&name)? {
        log::info(format!(
            "deleted Namespace/{name} (the cluster deletes everything in it)"
        ));
    }
    Ok(())
}
