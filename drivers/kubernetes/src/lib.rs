//! Built-in driver `podium/kubernetes`: turns a Score workload into
//! Kubernetes objects and puts them on a cluster (server-side apply with
//! prune) or into a GitOps directory.
//!
//! # Request
//!
//! - `params`: `{"workload": <Score workload>, "profile": <WorkloadProfile spec>?}`.
//!   The workload has its images filled in and its placeholders resolved;
//!   every string that held a secret output is `{"$secret": "<JSON pointer>"}`.
//! - `driver_values`: see [`inputs::Values`] (`mode`, `cluster.url`,
//!   `namespace`, `gitops_dir`, `profile`, `force_conflicts`,
//!   `rollout_timeout`; for `k8s-namespace`: `labels`, `annotations`,
//!   `deletion_policy`; for `k8s-cluster`: `context`).
//! - `driver_secrets`: `token`, `ca_data`, `client_cert`, `client_key` for the
//!   API server, and `workload_secrets` (pointer → plaintext) from the pipeline;
//!   `kubeconfig` for a `k8s-cluster` resource.
//!
//! # Resource types
//!
//! `workload` (below), `k8s-namespace` (the env's Namespace, see
//! [`namespace`]) and `k8s-cluster` (a kubeconfig read into the cluster
//! outputs, see [`cluster`]).
//!
//! # Rendering
//!
//! See [`render`]: a Deployment, a Service when the workload has ports,
//! ConfigMaps for files, Secrets for secret files and secret variables
//! (`secretKeyRef`: a secret never appears in the Deployment). Every object
//! carries `app.kubernetes.io/{name,instance,managed-by,part-of}` and the
//! owner label `podium.dev/owner=<GUResID>`; the selector is
//! `app.kubernetes.io/{name,instance}`. Profiles: see [`profile`].
//!
//! # Modes
//!
//! - `apply`: server-side apply of each object (`PATCH`,
//!   `application/apply-patch+yaml`, `fieldManager=podium`), then prune:
//!   objects with the owner label that were not rendered are deleted; a
//!   change of an immutable field re-creates the object; then each
//!   Deployment's (StatefulSet's) rollout is awaited (see [`rollout`]).
//!   `delete` deletes every object with the owner label. `plan` only reads.
//!   Grant: the cluster URL (e.g. `https://10.0.0.1:6443`).
//! - `gitops`: one YAML file per object in `<gitops_dir>/<app>/<env>/`,
//!   stale files of this workload removed. Grant: `file://<gitops_dir>`.
//!
//! Outputs: values `name` (the Deployment) and `namespace`; state: the
//! objects applied or written (no content).

pub mod cluster;
pub mod gitops;
pub mod inputs;
pub mod kube;
pub mod manifest;
pub mod names;
pub mod namespace;
pub mod profile;
pub mod quantity;
pub mod render;
pub mod rollout;
pub mod workload;
pub mod yaml;

mod apply;

use podium_driver_sdk::{Action, Driver, Error, Info, Outputs, Plan, Request};

use inputs::{Mode, Params, Secrets, State, Values};
use manifest::{Manifest, ObjectRef};
use render::Target;

/// The `podium/kubernetes` driver.
pub struct Kubernetes;

impl Driver for Kubernetes {
    type Params = Params;
    type Values = Values;
    type Secrets = Secrets;
    type State = State;

    fn info() -> Info {
        Info::new("podium/kubernetes", env!("CARGO_PKG_VERSION"))
            .resource_types(["workload", NAMESPACE_TYPE, CLUSTER_TYPE])
            .inputs_schema(inputs::schema().to_string())
    }

    fn plan(req: Request<Self>) -> Result<Plan, Error> {
        if req.context.res_type == NAMESPACE_TYPE {
            return namespace::plan(&req);
        }
        if req.context.res_type == CLUSTER_TYPE {
            return cluster::plan(&req);
        }
        let prepared = prepare(&req)?;
        let changes = match req.driver_values.mode {
            Mode::Apply => apply::plan(&req, &prepared)?,
            Mode::Gitops => gitops::plan(&req, &prepared)?,
        };
        Ok(changes.into_plan(req.state.is_none()))
    }

    fn apply(req: Request<Self>) -> Result<Outputs<State>, Error> {
        if req.context.res_type == NAMESPACE_TYPE {
            return namespace::apply(&req);
        }
        if req.context.res_type == CLUSTER_TYPE {
            return cluster::apply(&req);
        }
        let prepared = prepare(&req)?;
        let state = match req.driver_values.mode {
            Mode::Apply => apply::apply(&req, &prepared)?,
            Mode::Gitops => gitops::apply(&req, &prepared)?,
        };
        Ok(Outputs::new()
            .value("name", prepared.workload_name.clone())
            .value("namespace", prepared.target.namespace.clone())
            .state(state))
    }

    fn delete(req: Request<Self>) -> Result<(), Error> {
        if req.context.res_type == NAMESPACE_TYPE {
            return namespace::delete(&req);
        }
        if req.context.res_type == CLUSTER_TYPE {
            // Describes a cluster; nothing to remove.
            return Ok(());
        }
        let target = target(&req)?;
        match req.driver_values.mode {
            Mode::Apply => apply::delete(&req, &target),
            Mode::Gitops => gitops::delete(&req, &target),
        }
    }
}

podium_driver_sdk::export!(Kubernetes);

/// A decoded, rendered request.
pub struct Prepared {
    pub workload_name: String,
    pub target: Target,
    pub objects: Vec<Manifest>,
}

/// The resource type whose resources describe a cluster from a kubeconfig
/// (see [`cluster`]).
pub const CLUSTER_TYPE: &str = "k8s-cluster";

/// The resource type whose resources are Namespaces (see [`namespace`]).
pub const NAMESPACE_TYPE: &str = "k8s-namespace";

/// Where this request's objects go.
fn target(req: &Request<Kubernetes>) -> Result<Target, Error> {
    if req.driver_values.namespace.trim().is_empty() {
        return Err(Error::invalid_input(
            "driver_values.namespace is required for a workload (e.g. \"${resources.k8s-namespace.outputs.namespace}\")",
        ));
    }
    Ok(Target {
        app: req.context.app_id.clone(),
        env: req.context.env_id.clone(),
        namespace: req.driver_values.namespace.clone(),
        owner: inputs::owner(&req.context),
    })
}

/// Decodes the workload and the profile and renders every object.
pub fn prepare(req: &Request<Kubernetes>) -> Result<Prepared, Error> {
    let workload = req.params.workload()?;
    let profile = profile::effective(&[
        ("driver_values.profile", req.driver_values.profile.as_ref()),
        ("params.profile", req.params.profile.as_ref()),
    ])?;
    let secrets = req.driver_secrets.workload_secret_strings();
    let target = target(req)?;
    let objects = render::render(&render::Input {
        workload: &workload,
        profile: &profile,
        secrets: &secrets,
        target: &target,
    })?;
    Ok(Prepared {
        workload_name: workload.metadata.name.clone(),
        target,
        objects,
    })
}

/// What `plan` found, per object.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    pub create: Vec<String>,
    pub change: Vec<String>,
    pub unchanged: Vec<String>,
    pub prune: Vec<String>,
}

impl Changes {
    /// The plan: `create` when everything is new, `unchanged` when nothing
    /// changes, `update` otherwise; the summary lists the objects.
    pub fn into_plan(self, first: bool) -> Plan {
        let mut parts = Vec::new();
        for (verb, list) in [
            ("create", &self.create),
            ("change", &self.change),
            ("prune", &self.prune),
        ] {
            if !list.is_empty() {
                parts.push(format!("{verb} {}", list.join(", ")));
            }
        }
        if !self.unchanged.is_empty() {
            parts.push(format!("{} unchanged", self.unchanged.len()));
        }
        let summary = parts.join("; ");
        let action = if self.change.is_empty() && self.prune.is_empty() {
            if self.create.is_empty() {
                Action::Unchanged
            } else if self.unchanged.is_empty() && first {
                Action::Create
            } else {
                Action::Update
            }
        } else {
            Action::Update
        };
        Plan::new(action, summary)
    }
}

/// The state after writing or applying `objects`.
fn state_for(mode: Mode, target: &Target, objects: &[Manifest], dir: Option<String>) -> State {
    State {
        mode,
        namespace: target.namespace.clone(),
        objects: objects.iter().map(ObjectRef::from).collect(),
        dir,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(create: &[&str], change: &[&str], unchanged: &[&str], prune: &[&str]) -> Changes {
        let v = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect();
        Changes {
            create: v(create),
            change: v(change),
            unchanged: v(unchanged),
            prune: v(prune),
        }
    }

    #[test]
    fn plans_say_what_happens_to_each_object() {
        let p = changes(&["Deployment/a", "Service/a"], &[], &[], &[]).into_plan(true);
        assert_eq!(
            (p.action, p.summary.as_str()),
            (Action::Create, "create Deployment/a, Service/a")
        );
        let p = changes(&[], &[], &["Deployment/a"], &[]).into_plan(false);
        assert_eq!(
            (p.action, p.summary.as_str()),
            (Action::Unchanged, "1 unchanged")
        );
        let p = changes(
            &["ConfigMap/b"],
            &["Deployment/a"],
            &["Service/a"],
            &["Secret/c"],
        )
        .into_plan(false);
        assert_eq!(
            (p.action, p.summary.as_str()),
            (
                Action::Update,
                "create ConfigMap/b; change Deployment/a; prune Secret/c; 1 unchanged"
            )
        );
        // Objects gone behind Podium's back: recreating them is an update.
        let p = changes(&["Deployment/a"], &[], &[], &[]).into_plan(false);
        assert_eq!(p.action, Action::Update);
    }

    #[test]
    fn info_describes_the_inputs() {
        let info = Kubernetes::info();
        assert_eq!(
            info.resource_types,
            ["workload", "k8s-namespace", "k8s-cluster"]
        );
        let schema: serde_json::Value = serde_json::from_str(&info.inputs_schema).unwrap();
        assert_eq!(
            schema["properties"]["values"]["properties"]["deletion_policy"]["enum"],
            serde_json::json!(["delete", "retain"])
        );
    }
}
