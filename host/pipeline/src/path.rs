//! The one deployment path, shared by [`crate::execute`] (a deployment) and
//! [`crate::plan`] (the same path with read-only driver calls, nothing
//! recorded): **Read** (the set), **Match** (definitions, values, graph,
//! plan) and the preparation of each driver request. There is no second
//! copy: what `plan` shows is what a deployment then does.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use podium_core::model::types::TypeDecl;
use podium_core::{
    Action, ActiveResource, Definitions, DeploymentSet, EnvContext, Graph, NodeId, NodeKind,
    Outputs, Plan, ResolvedInputs, Resolver, ResourceDefinition, ResourceKey, Step, ValueMap,
    plan_graph_with,
};
use podium_runtime::{Context, Driver, DriverRequest, Grants};
use podium_store::{ActiveRecord, DeployRequest, Deployment, EnvRecord, Phase, Repo, RepoError};
use serde_json::{Value, json};

use crate::{Inner, current_set, workload};

/// Why a step (or a phase) failed, naming the failing piece.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{cause}")]
pub struct StepError {
    pub phase: Phase,
    /// `type.class#res_id`, when one resource failed.
    pub resource: Option<String>,
    /// The driver id, when a driver was involved.
    pub driver: Option<String>,
    /// `sha256:…` of the driver component, when known.
    pub digest: Option<String>,
    pub cause: StepCause,
}

/// What went wrong in a step.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepCause {
    #[error("driver {id:?} is not installed (installed: {})", installed.join(", "))]
    DriverNotInstalled { id: String, installed: Vec<String> },
    #[error("definition {id} v{version} is missing")]
    DefinitionMissing { id: String, version: u64 },
    #[error("definition {definition}: {message}")]
    Inputs { definition: String, message: String },
    #[error("workload {workload}: {message}")]
    Workload { workload: String, message: String },
    #[error("definition {definition}: grant {grant:?}: {reason}")]
    Grant {
        definition: String,
        grant: String,
        reason: String,
    },
    #[error("workload profile {0:?} does not exist")]
    ProfileMissing(String),
    /// The driver call failed; the text names driver, digest, call, resource.
    #[error("{0}")]
    Driver(String),
    #[error("driver returned no outputs")]
    NoOutputs,
    /// The outputs break the resource type's declaration.
    #[error("{0}")]
    Outputs(String),
    #[error("{0}")]
    Store(String),
    /// Read or Match refused the deployment (no single resource to blame).
    #[error("{0}")]
    Phase(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl StepError {
    pub fn new(phase: Phase, cause: StepCause) -> Self {
        StepError {
            phase,
            resource: None,
            driver: None,
            digest: None,
            cause,
        }
    }
    pub fn on(mut self, resource: &ResourceKey) -> Self {
        self.resource = Some(resource.to_string());
        self
    }
    pub fn driver(mut self, id: &str, digest: Option<&str>) -> Self {
        self.driver = Some(id.to_owned());
        self.digest = digest.map(str::to_owned);
        self
    }
}

impl From<RepoError> for StepCause {
    fn from(e: RepoError) -> Self {
        StepCause::Store(e.to_string())
    }
}

/// Read: the set a request deploys. `Err` is the reason, for the `read`
/// phase.
pub(crate) fn read_set(
    repo: &Repo,
    env: &EnvRecord,
    request: &DeployRequest,
) -> Result<Result<DeploymentSet, String>, RepoError> {
    if request.teardown {
        return Ok(Ok(DeploymentSet::empty()));
    }
    if let Some(from) = &request.from_env {
        return last_successful_set(repo, &env.env.app, from);
    }
    if let Some(from) = &request.from_deploy {
        return Ok(match repo.deployment(from)?.and_then(|d| d.set_id) {
            Some(set_id) => repo
                .set(&set_id)?
                .ok_or_else(|| format!("deployment set {set_id} of {from} is missing")),
            None => Err(format!("deployment {from} has no deployment set")),
        });
    }
    Ok(match current_set(repo, env) {
        Ok(base) => match &request.delta {
            Some(delta) => delta.apply(&base).map_err(|e| format!("delta: {e}")),
            None => Ok(base),
        },
        Err(e) => Err(e.to_string()),
    })
}

/// The set of the last successful deployment of env `from` of `app` (what
/// a clone or a promotion deploys).
pub(crate) fn last_successful_set(
    repo: &Repo,
    app: &str,
    from: &str,
) -> Result<Result<DeploymentSet, String>, RepoError> {
    if repo.env(app, from)?.is_none() {
        return Ok(Err(format!("environment {app}/{from} does not exist")));
    }
    let found = repo
        .deployments(app, from)?
        .into_iter()
        .rev()
        .find(|d| d.status == podium_store::DeployStatus::Succeeded && d.set_id.is_some());
    let Some(d) = found else {
        return Ok(Err(format!(
            "environment {app}/{from} has no successful deployment to take the set of"
        )));
    };
    let set_id = d.set_id.unwrap_or_default();
    Ok(repo
        .set(&set_id)?
        .ok_or_else(|| format!("deployment set {set_id} of {} is missing", d.id)))
}

/// What Match produced: everything a step's request is prepared from.
pub(crate) struct Matched {
    pub graph: Graph,
    pub plan: Plan,
    pub env: EnvContext,
    pub values: ValueMap,
    /// The shared-values version resolved.
    pub values_version: u64,
    /// The env's active resources, by GUResID.
    pub active: HashMap<String, ActiveRecord>,
    /// Per workload node: its profile (found) or the name of the missing
    /// one. Looked up once, here: the plan's digest and the request use the
    /// same spec.
    pub profiles: BTreeMap<NodeId, Result<Value, String>>,
    /// The declared outputs of the resource types in the plan (built-in or
    /// declared by a platform engineer); a type without a declaration is
    /// not checked.
    pub types: HashMap<String, TypeDecl>,
}

impl Matched {
    pub fn is_workload(&self, i: usize) -> bool {
        self.plan.steps[i]
            .node
            .and_then(|n| self.graph.node(n))
            .is_some_and(|n| matches!(n.kind, NodeKind::Workload { .. }))
    }

    /// The phase step `i` runs in.
    pub fn phase_of(&self, i: usize) -> Phase {
        match self.plan.steps[i].action {
            Action::Delete => Phase::Delete,
            _ if self.is_workload(i) => Phase::Deploy,
            _ => Phase::Create,
        }
    }

    /// Outputs of the active resources, by key (what placeholders read).
    pub fn outputs(&self) -> HashMap<ResourceKey, Outputs> {
        outputs_of(self.active.values())
    }
}

/// Match: definitions (a rollback's recorded versions, unless it asks for
/// the latest), shared values (a rollback's recorded version), the graph
/// and the plan against the active resources. `Err` is the reason, for the
/// `match` phase. No driver is called.
pub(crate) fn match_env(
    inner: &Inner,
    env_rec: &EnvRecord,
    set: &DeploymentSet,
    request: &DeployRequest,
) -> Result<Result<Matched, String>, RepoError> {
    let repo = &inner.repo;
    let app = &env_rec.env.app;
    let env_id = &env_rec.env.id;
    let env = crate::context(env_rec);
    let source = match &request.from_deploy {
        Some(from) => match repo.deployment(from)? {
            Some(d) => Some(d),
            None => return Ok(Err(format!("deployment {from} does not exist"))),
        },
        None => None,
    };

    let replay = source.as_ref().filter(|_| !request.latest_definitions);
    let defs = match replay {
        Some(src) => match recorded_definitions(inner, src)? {
            Ok(defs) => defs,
            Err(message) => return Ok(Err(message)),
        },
        None => repo.definitions()?,
    };
    let mut definitions = Definitions::new();
    let mut problems = Vec::new();
    for def in defs {
        if let Err(e) = definitions.add(def) {
            problems.push(e.to_string());
        }
    }
    if !problems.is_empty() {
        return Ok(Err(problems.join("; ")));
    }

    // A rollback resolves the shared values the deployment it returns to
    // used; anything else the latest ones.
    let values_rec = match source.as_ref().map(|d| d.values_version) {
        Some(0) => podium_core::Values::default(),
        Some(v) => match repo.values_version(app, v)? {
            Some(rec) => rec,
            None => {
                return Ok(Err(format!(
                    "shared values version {v} of app {app} is missing"
                )));
            }
        },
        None => repo.values(app)?.unwrap_or_default(),
    };
    let values = values_rec.for_env(env_id);
    let active: HashMap<String, ActiveRecord> = repo
        .active(app, env_id)?
        .into_iter()
        .map(|a| (a.resource.guresid.clone(), a))
        .collect();
    let active_list: Vec<ActiveResource> = active.values().map(|a| a.resource.clone()).collect();
    let graph = match Graph::build(set, &env, &definitions) {
        Ok(g) => g,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let profiles = profiles(inner, &graph)?;
    // A workload's profile is one of its inputs: a new spec is an update.
    let extras: BTreeMap<NodeId, Value> = profiles
        .iter()
        .filter_map(|(&id, p)| p.as_ref().ok().map(|spec| (id, json!({"profile": spec}))))
        .collect();
    let plan = match plan_graph_with(&graph, set.id(), &values, &active_list, &extras) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let mut types = HashMap::new();
    for step in &plan.steps {
        let t = &step.key.res_type;
        if types.contains_key(t) {
            continue;
        }
        let decl = match TypeDecl::builtin(t) {
            Some(d) => Some(d),
            None => repo.resource_type(t)?,
        };
        if let Some(d) = decl {
            types.insert(t.clone(), d);
        }
    }
    Ok(Ok(Matched {
        graph,
        plan,
        env,
        values,
        values_version: values_rec.version,
        active,
        profiles,
        types,
    }))
}

/// The profile of every workload node: the Score annotation
/// `podium.dev/profile`, else the matched definition's `profile` value when
/// it names a stored profile.
fn profiles(
    inner: &Inner,
    graph: &Graph,
) -> Result<BTreeMap<NodeId, Result<Value, String>>, RepoError> {
    let mut out = BTreeMap::new();
    for (id, node) in graph.nodes().iter().enumerate() {
        if !matches!(node.kind, NodeKind::Workload { .. }) {
            continue;
        }
        let by_annotation = node
            .params
            .pointer("/metadata/annotations/podium.dev~1profile")
            .and_then(Value::as_str);
        let by_definition = node
            .definition
            .spec
            .driver_inputs
            .values
            .get("profile")
            .and_then(Value::as_str);
        let Some(name) = by_annotation.or(by_definition) else {
            continue;
        };
        let found = inner.repo.profile(name)?;
        out.insert(id, found.map(|p| p.spec).ok_or_else(|| name.to_owned()));
    }
    Ok(out)
}

/// The definition versions a deployment matched with, for an exact replay;
/// refused (before any call) when a driver it ran is no longer loaded at
/// the digest it recorded.
fn recorded_definitions(
    inner: &Inner,
    src: &Deployment,
) -> Result<Result<Vec<ResourceDefinition>, String>, RepoError> {
    let mut versions: BTreeMap<(&str, u64), ()> = BTreeMap::new();
    // driver id → (recorded digest → resources)
    let mut gone: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
    for r in src.resources.iter().filter(|r| r.action != Action::Delete) {
        versions.insert((&r.definition_id, r.definition_version), ());
        if let Some(digest) = r.driver_digest.as_deref() {
            let loaded = inner.registry.get(&r.driver_type);
            if loaded.is_none_or(|d| d.digest != digest) {
                gone.entry((&r.driver_type, digest))
                    .or_default()
                    .push(r.key.to_string());
            }
        }
    }
    if versions.is_empty() {
        return Ok(Err(format!(
            "deployment {} recorded no matched resources to replay (it failed before Match); \
             use latest_definitions to deploy its set with today's definitions",
            src.id
        )));
    }
    if !gone.is_empty() {
        let list: Vec<String> = gone
            .iter()
            .map(|((id, digest), resources)| {
                let now = inner
                    .registry
                    .get(id)
                    .map(|d| format!("loaded now: {}", d.digest))
                    .unwrap_or_else(|| "not loaded now".into());
                format!("driver {id} {digest} ({now}) ran {}", resources.join(", "))
            })
            .collect();
        return Ok(Err(format!(
            "cannot replay deployment {} exactly: {}; push that driver version again, or use \
             latest_definitions (--latest-definitions) to use today's definitions and drivers",
            src.id,
            list.join("; ")
        )));
    }
    let mut out = Vec::with_capacity(versions.len());
    for (id, version) in versions.keys() {
        match inner.repo.definition_version(id, *version)? {
            Some(d) => out.push(d),
            None => {
                return Ok(Err(format!(
                    "definition {id} v{version}, recorded by deployment {}, is missing",
                    src.id
                )));
            }
        }
    }
    Ok(Ok(out))
}

/// A driver call ready to run.
pub(crate) struct Prepared {
    pub driver: Arc<Driver>,
    pub request: DriverRequest,
    pub grants: Grants,
}

/// The request to apply (or plan) step `i`: inputs resolved against
/// `outputs`, workload placeholders, profile, grants, previous state.
pub(crate) fn prepare_apply(
    inner: &Inner,
    m: &Matched,
    i: usize,
    outputs: &HashMap<ResourceKey, Outputs>,
    deploy_id: &str,
) -> Result<Prepared, Box<StepError>> {
    let step = &m.plan.steps[i];
    let phase = m.phase_of(i);
    let fail = |cause: StepCause| Box::new(StepError::new(phase, cause).on(&step.key));
    let node = step
        .node
        .and_then(|n| m.graph.node(n))
        .ok_or_else(|| fail(StepCause::Internal("step without a graph node".into())))?;
    let driver = driver(inner, &step.driver_type).map_err(fail)?;
    let inputs = Resolver {
        env: &m.env,
        resource: &node.key,
        guresid: &node.guresid,
        deploy_id,
        values: &m.values,
        outputs,
    }
    .resolve_inputs(&node.definition)
    .map_err(|e| {
        fail(StepCause::Inputs {
            definition: node.definition.id.clone(),
            message: e.to_string(),
        })
    })?;
    let ResolvedInputs {
        values,
        mut secrets,
        grants,
    } = inputs;
    let params = match &node.kind {
        NodeKind::Workload { name } => {
            let resolved =
                workload::resolve(name, &node.params, outputs, &m.values).map_err(|e| {
                    fail(StepCause::Workload {
                        workload: name.clone(),
                        message: e.to_string(),
                    })
                })?;
            if let Value::Object(map) = &mut secrets {
                map.insert("workload_secrets".into(), Value::Object(resolved.secrets));
            }
            let mut params = resolved.params;
            match step.node.and_then(|n| m.profiles.get(&n)) {
                Some(Ok(spec)) => params["profile"] = spec.clone(),
                Some(Err(name)) => return Err(fail(StepCause::ProfileMissing(name.clone()))),
                None => {}
            }
            params
        }
        _ => (*node.params).clone(),
    };
    let grants = Grants::parse(&grants).map_err(|e| {
        fail(StepCause::Grant {
            definition: node.definition.id.clone(),
            grant: e.grant.clone(),
            reason: e.reason.to_string(),
        })
    })?;
    let state = m.active.get(&step.guresid).and_then(|a| a.state.clone());
    Ok(Prepared {
        request: DriverRequest {
            context: context(&m.env, &step.key, &step.guresid, deploy_id),
            params,
            driver_values: values,
            driver_secrets: secrets,
            state,
        },
        driver,
        grants,
    })
}

/// The request to delete an active resource, through the definition
/// version that provisioned it, with the params of its last apply and its
/// state.
pub(crate) fn prepare_delete(
    inner: &Inner,
    m: &Matched,
    step: &Step,
    record: &ActiveRecord,
    outputs: &HashMap<ResourceKey, Outputs>,
    deploy_id: &str,
) -> Result<Prepared, Box<StepError>> {
    let fail = |cause: StepCause| Box::new(StepError::new(Phase::Delete, cause).on(&step.key));
    let driver = driver(inner, &step.driver_type).map_err(fail)?;
    let def = inner
        .repo
        .definition_version(&step.definition_id, step.definition_version)
        .map_err(|e| fail(e.into()))?
        .ok_or_else(|| {
            fail(StepCause::DefinitionMissing {
                id: step.definition_id.clone(),
                version: step.definition_version,
            })
        })?;
    let inputs = Resolver {
        env: &m.env,
        resource: &step.key,
        guresid: &step.guresid,
        deploy_id,
        values: &m.values,
        outputs,
    }
    .resolve_inputs(&def)
    .map_err(|e| {
        fail(StepCause::Inputs {
            definition: def.id.clone(),
            message: e.to_string(),
        })
    })?;
    let grants = Grants::parse(&inputs.grants).map_err(|e| {
        fail(StepCause::Grant {
            definition: def.id.clone(),
            grant: e.grant.clone(),
            reason: e.reason.to_string(),
        })
    })?;
    Ok(Prepared {
        request: DriverRequest {
            context: context(&m.env, &step.key, &step.guresid, deploy_id),
            params: if record.params.is_null() {
                json!({})
            } else {
                record.params.clone()
            },
            driver_values: inputs.values,
            driver_secrets: inputs.secrets,
            state: record.state.clone(),
        },
        driver,
        grants,
    })
}

fn driver(inner: &Inner, id: &str) -> Result<Arc<Driver>, StepCause> {
    inner
        .registry
        .get(id)
        .ok_or_else(|| StepCause::DriverNotInstalled {
            id: id.to_owned(),
            installed: inner.registry.ids(),
        })
}

fn context(env: &EnvContext, key: &ResourceKey, guresid: &str, deploy_id: &str) -> Context {
    Context {
        app_id: env.app_id.clone(),
        env_id: env.env_id.clone(),
        env_type: env.env_type.clone(),
        res_id: key.res_id.clone(),
        res_type: key.res_type.clone(),
        res_class: key.class.clone(),
        guresid: guresid.to_owned(),
        deploy_id: deploy_id.to_owned(),
    }
}

/// The outputs of active resources, by resource key (what placeholders
/// read).
pub(crate) fn outputs_of<'a>(
    active: impl Iterator<Item = &'a ActiveRecord>,
) -> HashMap<ResourceKey, Outputs> {
    active
        .map(|a| {
            (
                a.resource.key.clone(),
                Outputs {
                    values: a.values.clone(),
                    secrets: a.secrets.clone(),
                },
            )
        })
        .collect()
}
