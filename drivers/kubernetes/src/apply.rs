//! Apply mode: server-side apply of every rendered object, then prune;
//! `delete` removes every object the workload owns; `plan` only reads.
//!
//! Ownership is the label `podium.dev/owner=<GUResID>`: prune and delete
//! list each kind by that label, so objects left behind by an older version
//! of the workload (or a lost state) are found too.
//!
//! Conflicts: applies are not forced unless `force_conflicts` is set, so a
//! field another manager changed (`kubectl scale`, an operator) is reported
//! as a conflict with the server's message instead of being overwritten.
//! An object of the same name that another workload (or a person) created
//! is never taken over: every workload applies as field manager `podium`,
//! so server-side apply alone would not notice; the owner label does.

use std::collections::BTreeSet;

use std::time::Duration;

use podium_driver_sdk::time::{Instant, sleep};
use podium_driver_sdk::{Error, Request, log};
use serde_json::Value;

use crate::inputs::{Mode, State};
use crate::kube::{Applied, Client};
use crate::manifest::{Kind, Manifest, OWNER_LABEL};
use crate::render::Target;
use crate::rollout;
use crate::{Changes, Kubernetes, Prepared, state_for};

fn selector(target: &Target) -> String {
    format!("{OWNER_LABEL}={}", target.owner)
}

fn client(req: &Request<Kubernetes>) -> Result<Client, Error> {
    Client::connect(&req.driver_values, &req.driver_secrets)
}

pub(crate) fn plan(req: &Request<Kubernetes>, prepared: &Prepared) -> Result<Changes, Error> {
    let client = client(req)?;
    let namespace = &prepared.target.namespace;
    let mut changes = Changes::default();
    let mut rendered = BTreeSet::new();
    for object in &prepared.objects {
        let live = client.get(object.kind, namespace, &object.name)?;
        if let Some(live) = &live {
            check_owner(object, live, &prepared.target)?;
        }
        let live_hash = live.as_ref().and_then(|l| {
            l.pointer(&format!(
                "/metadata/annotations/{}",
                crate::manifest::CONTENT_HASH.replace('/', "~1")
            ))
            .and_then(|h| h.as_str())
            .map(str::to_owned)
        });
        match (&live, live_hash.as_deref()) {
            (None, _) => changes.create.push(object.id()),
            (Some(_), hash) if hash == object.content_hash() => changes.unchanged.push(object.id()),
            (Some(_), _) => changes.change.push(object.id()),
        }
        rendered.insert((object.kind, object.name.clone()));
    }
    for kind in Kind::ALL {
        for name in client.list(kind, namespace, &selector(&prepared.target))? {
            if !rendered.contains(&(kind, name.clone())) {
                changes.prune.push(format!("{kind}/{name}"));
            }
        }
    }
    Ok(changes)
}

pub(crate) fn apply(req: &Request<Kubernetes>, prepared: &Prepared) -> Result<State, Error> {
    let client = client(req)?;
    let target = &prepared.target;
    let mut rendered = BTreeSet::new();
    // Every owner is checked before anything is written, so a conflict
    // changes nothing.
    for object in &prepared.objects {
        if let Some(live) = client.get(object.kind, &object.namespace, &object.name)? {
            check_owner(object, &live, target)?;
        }
    }
    let rollout_timeout = req.driver_values.rollout_timeout()?;
    for object in &prepared.objects {
        let applied = client.apply(object)?;
        let note = match applied {
            Applied::Created => " (created)",
            Applied::Updated => "",
            Applied::Immutable(message) => {
                recreate(&client, object, &message)?;
                " (re-created)"
            }
        };
        log::info(format!(
            "applied {} in namespace {}{note}",
            object.id(),
            object.namespace,
        ));
        rendered.insert((object.kind, object.name.clone()));
    }
    // Prune after everything new is in place, dependents first.
    prune(&client, &target.namespace, &selector(target), &rendered)?;
    // The namespace changed: what the last apply put in the old one goes.
    if let Some(State {
        mode: Mode::Apply,
        namespace: old,
        ..
    }) = &req.state
        && old != &target.namespace
        && !old.is_empty()
    {
        prune(&client, old, &selector(target), &BTreeSet::new())?;
    }
    // Each Deployment's (or StatefulSet's) rollout, bounded by rollout_timeout.
    for object in &prepared.objects {
        if matches!(object.kind, Kind::Deployment | Kind::StatefulSet) {
            rollout::wait(
                &client,
                object.kind,
                &object.namespace,
                &object.name,
                rollout_timeout,
            )?;
        }
    }
    Ok(state_for(Mode::Apply, target, &prepared.objects, None))
}

/// An apply refused because it changes an immutable field (a Deployment's
/// selector, a Service's clusterIP): the object is deleted and applied
/// again, which is what changing such a field means.
fn recreate(client: &Client, object: &Manifest, message: &str) -> Result<(), Error> {
    log::warn(format!(
        "re-creating {} in namespace {}: the change touches an immutable field ({message})",
        object.id(),
        object.namespace
    ));
    client.delete(object.kind, &object.namespace, &object.name)?;
    // Background deletion removes the object at once unless it has
    // finalizers; wait for it to be gone (bounded).
    let start = Instant::now();
    while client
        .get(object.kind, &object.namespace, &object.name)?
        .is_some()
    {
        if start.elapsed() > Duration::from_secs(20) {
            return Err(Error::unavailable(format!(
                "{} in namespace {} was deleted to be re-created but is still there after 20s (finalizers?)",
                object.id(),
                object.namespace
            )));
        }
        sleep(Duration::from_millis(200));
    }
    match client.apply(object)? {
        Applied::Immutable(message) => Err(Error::invalid_input(message)),
        Applied::Created | Applied::Updated => Ok(()),
    }
}

pub(crate) fn delete(req: &Request<Kubernetes>, target: &Target) -> Result<(), Error> {
    let client = client(req)?;
    let mut namespaces = vec![target.namespace.clone()];
    if let Some(state) = &req.state
        && state.mode == Mode::Apply
        && !state.namespace.is_empty()
        && state.namespace != target.namespace
    {
        namespaces.push(state.namespace.clone());
    }
    for namespace in namespaces {
        prune(&client, &namespace, &selector(target), &BTreeSet::new())?;
    }
    Ok(())
}

/// Refuses to touch a live object that carries another owner (or none).
fn check_owner(object: &Manifest, live: &Value, target: &Target) -> Result<(), Error> {
    let owner = live
        .pointer(&format!(
            "/metadata/labels/{}",
            OWNER_LABEL.replace('/', "~1")
        ))
        .and_then(Value::as_str);
    if owner == Some(target.owner.as_str()) {
        return Ok(());
    }
    let who = match owner {
        Some(other) => format!("another Podium workload ({OWNER_LABEL}={other})"),
        None => "something else than this workload (no podium.dev/owner label)".to_owned(),
    };
    Err(Error::conflict(format!(
        "{} in namespace {} already exists and belongs to {who}; Podium does not take it over: \
         delete it, or give this workload another name or namespace",
        object.id(),
        object.namespace
    )))
}

/// Deletes the owned objects of every kind that are not in `keep`.
fn prune(
    client: &Client,
    namespace: &str,
    selector: &str,
    keep: &BTreeSet<(Kind, String)>,
) -> Result<(), Error> {
    for kind in Kind::ALL.into_iter().rev() {
        for name in client.list(kind, namespace, selector)? {
            if keep.contains(&(kind, name.clone())) {
                continue;
            }
            if client.delete(kind, namespace, &name)? {
                log::info(format!("pruned {kind}/{name} in namespace {namespace}"));
            }
        }
    }
    Ok(())
}
