//! Running one deployment.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use podium_core::{
    Action, ActiveResource, Definitions, DeploymentSet, Graph, NodeKind, Outputs, Plan,
    ResolvedInputs, Resolver, ResourceKey, ValueMap, plan_graph,
};
use podium_runtime::{
    CallError, CallReport, Context, Driver, DriverRequest, Grants, Operation, Outcome,
};
use podium_store::{
    ActiveRecord, DeployStatus, Deployment, Failure, PhaseStatus, ResourceProgress, StepStatus,
    Timestamp, WriteSet,
};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::record::Recorder;
use crate::{Inner, current_set, workload};

const PHASES: [&str; 5] = ["read", "match", "create", "deploy", "delete"];
/// Driver log lines kept as events per call.
const MAX_LOG_EVENTS: usize = 50;

/// Runs deployment `id` if it is still pending. Store failures end the run
/// (logged); the deployment then stays running and is failed at restart.
pub(crate) async fn run(inner: &Arc<Inner>, id: &str) {
    let dep = match inner.repo.deployment(id) {
        Ok(Some(dep)) if dep.status == DeployStatus::Pending => dep,
        Ok(_) => return,
        Err(e) => {
            tracing::error!(deploy = id, error = %e, "cannot read deployment");
            return;
        }
    };
    let mut run = Run {
        rec: Recorder::new(inner.clone(), dep),
        failed: false,
    };
    if let Err(e) = run.go().await {
        tracing::error!(deploy = id, error = %e, "recording the deployment failed");
    }
}

struct Run {
    rec: Recorder,
    failed: bool,
}

/// What the Match phase produced.
struct Matched {
    graph: Graph,
    plan: Plan,
    env: podium_core::EnvContext,
    values: ValueMap,
    active: HashMap<String, ActiveRecord>,
}

/// A driver call ready to run.
struct Prepared {
    driver: Arc<Driver>,
    request: DriverRequest,
    grants: Grants,
}

type CallResult = Result<CallReport<Outcome>, CallReport<CallError>>;

impl Run {
    fn inner(&self) -> Arc<Inner> {
        self.rec.inner().clone()
    }

    fn dep(&mut self) -> &mut Deployment {
        &mut self.rec.dep
    }

    async fn go(&mut self) -> Result<(), podium_store::RepoError> {
        let mut ws = WriteSet::new();
        {
            let d = self.dep();
            d.status = DeployStatus::Running;
            d.started_at = Some(Timestamp::now());
            d.phases = PHASES
                .iter()
                .map(|name| PhaseStatus {
                    name: (*name).to_owned(),
                    status: StepStatus::Pending,
                    started_at: None,
                    finished_at: None,
                })
                .collect();
        }
        self.rec.event(
            &mut ws,
            "DeploymentStarted",
            None,
            Some("running"),
            "deployment started".into(),
        );
        self.rec.set_phase("read", StepStatus::Running);

        // Start, Read and Match are written together (one write instead of
        // three: nothing external happens in between).
        let Some(set) = self.read(&mut ws).await? else {
            return self.finish().await;
        };
        let Some(matched) = self.match_phase(&set, &mut ws).await? else {
            return self.finish().await;
        };
        // Written together with the first steps' starts, before any driver runs.
        self.create(&matched, ws).await?;
        self.delete(&matched).await?;
        self.finish().await
    }

    /// Fails the deployment in `phase` (no resource).
    fn fail(&mut self, ws: &mut WriteSet, phase: &str, message: String) {
        self.failed = true;
        self.rec.set_phase(phase, StepStatus::Failed);
        if self.rec.dep.error.is_none() {
            self.rec.dep.error = Some(Failure {
                resource: None,
                driver: None,
                phase: phase.to_owned(),
                message: message.clone(),
            });
        }
        self.rec.event(
            ws,
            "PhaseFailed",
            None,
            Some("failed"),
            format!("{phase}: {message}"),
        );
    }

    /// Read: the new set from the delta (or the rollback source).
    async fn read(
        &mut self,
        ws: &mut WriteSet,
    ) -> Result<Option<DeploymentSet>, podium_store::RepoError> {
        let inner = self.inner();
        let repo = &inner.repo;
        let (app, env_id) = (self.rec.dep.app.clone(), self.rec.dep.env.clone());
        let Some(mut env) = repo.env(&app, &env_id)? else {
            self.fail(
                ws,
                "read",
                format!("environment {app}/{env_id} no longer exists"),
            );
            self.rec.commit(std::mem::take(ws)).await?;
            return Ok(None);
        };
        let request = self.rec.dep.request.clone();
        let result: Result<DeploymentSet, String> = if let Some(from) = &request.from_deploy {
            match repo.deployment(from)?.and_then(|d| d.set_id) {
                Some(set_id) => repo
                    .set(&set_id)?
                    .ok_or_else(|| format!("deployment set {set_id} of {from} is missing")),
                None => Err(format!("deployment {from} has no deployment set")),
            }
        } else {
            match current_set(repo, &env) {
                Ok(base) => match &request.delta {
                    Some(delta) => delta.apply(&base).map_err(|e| format!("delta: {e}")),
                    None => Ok(base),
                },
                Err(e) => Err(e.to_string()),
            }
        };
        let set = match result {
            Ok(set) => set,
            Err(message) => {
                self.fail(ws, "read", message);
                self.rec.commit(std::mem::take(ws)).await?;
                return Ok(None);
            }
        };
        self.rec.dep.previous = env.last_deploy.clone();
        self.rec.dep.set_id = Some(set.id().to_owned());
        env.current_set = Some(set.id().to_owned());
        env.last_deploy = Some(self.rec.dep.id.clone());
        ws.set(&set).env(&env);
        self.rec.set_phase("read", StepStatus::Succeeded);
        self.rec.set_phase("match", StepStatus::Running);
        self.rec.event(
            ws,
            "SetCreated",
            None,
            None,
            format!(
                "deployment set {} with {} workload(s)",
                short(set.id()),
                set.modules().len()
            ),
        );
        Ok(Some(set))
    }

    /// Match: definitions, graph, plan against the active resources.
    async fn match_phase(
        &mut self,
        set: &DeploymentSet,
        ws: &mut WriteSet,
    ) -> Result<Option<Matched>, podium_store::RepoError> {
        let inner = self.inner();
        let repo = &inner.repo;
        let app = self.rec.dep.app.clone();
        let env_id = self.rec.dep.env.clone();
        let Some(env_rec) = repo.env(&app, &env_id)? else {
            self.fail(
                ws,
                "match",
                format!("environment {app}/{env_id} no longer exists"),
            );
            self.rec.commit(std::mem::take(ws)).await?;
            return Ok(None);
        };
        let env = crate::context(&env_rec);
        let mut definitions = Definitions::new();
        let mut problems = Vec::new();
        for def in repo.definitions()? {
            if let Err(e) = definitions.add(def) {
                problems.push(e.to_string());
            }
        }
        // A rollback resolves the shared values the deployment it returns
        // to used; anything else the latest ones.
        let pinned = match &self.rec.dep.request.from_deploy {
            Some(from) => repo.deployment(from)?.map(|d| d.values_version),
            None => None,
        };
        let values_rec = match pinned {
            Some(0) => podium_core::Values::default(),
            Some(v) => match repo.values_version(&app, v)? {
                Some(rec) => rec,
                None => {
                    self.fail(
                        ws,
                        "match",
                        format!("shared values version {v} of app {app} is missing"),
                    );
                    self.rec.commit(std::mem::take(ws)).await?;
                    return Ok(None);
                }
            },
            None => repo.values(&app)?.unwrap_or_default(),
        };
        let values = values_rec.for_env(&env_id);
        self.rec.dep.values_version = values_rec.version;
        let active: HashMap<String, ActiveRecord> = repo
            .active(&app, &env_id)?
            .into_iter()
            .map(|a| (a.resource.guresid.clone(), a))
            .collect();
        let active_list: Vec<ActiveResource> =
            active.values().map(|a| a.resource.clone()).collect();
        let planned = if problems.is_empty() {
            Graph::build(set, &env, &definitions)
                .map_err(|e| e.to_string())
                .and_then(|graph| {
                    plan_graph(&graph, set.id(), &values, &active_list)
                        .map(|plan| (graph, plan))
                        .map_err(|e| e.to_string())
                })
        } else {
            Err(problems.join("; "))
        };
        let (graph, plan) = match planned {
            Ok(x) => x,
            Err(message) => {
                self.fail(ws, "match", message);
                self.rec.commit(std::mem::take(ws)).await?;
                return Ok(None);
            }
        };
        self.rec.dep.resources = plan
            .steps
            .iter()
            .map(|s| ResourceProgress {
                key: s.key.clone(),
                guresid: s.guresid.clone(),
                action: s.action,
                status: StepStatus::Pending,
                definition_id: s.definition_id.clone(),
                definition_version: s.definition_version,
                driver_type: s.driver_type.clone(),
                driver_digest: None,
                message: None,
                duration_ms: None,
            })
            .collect();
        self.rec.set_phase("match", StepStatus::Succeeded);
        self.rec.event(
            ws,
            "PlanCreated",
            None,
            None,
            format!(
                "{} to create, {} to update, {} unchanged, {} to delete",
                plan.count(Action::Create),
                plan.count(Action::Update),
                plan.count(Action::Unchanged),
                plan.count(Action::Delete)
            ),
        );
        Ok(Some(Matched {
            graph,
            plan,
            env,
            values,
            active,
        }))
    }

    /// Create and Deploy: every non-delete step, dependencies first,
    /// independent ones concurrently.
    async fn create(
        &mut self,
        m: &Matched,
        mut ws: WriteSet,
    ) -> Result<(), podium_store::RepoError> {
        let inner = self.inner();
        let steps = &m.plan.steps;
        let mut outputs = outputs_of(m.active.values());
        // Steps whose outputs changed in this deployment: their dependents
        // re-apply even when their own inputs did not change.
        let mut changed: HashSet<usize> = HashSet::new();
        let mut status: Vec<StepStatus> = steps
            .iter()
            .map(|s| {
                if s.action == Action::Delete {
                    StepStatus::Skipped
                } else {
                    StepStatus::Pending
                }
            })
            .collect();
        let mut started_at: HashMap<usize, Instant> = HashMap::new();
        let mut tasks: JoinSet<(usize, CallResult)> = JoinSet::new();
        let mut applied_params: HashMap<usize, Value> = HashMap::new();
        let is_workload = |i: usize| {
            steps[i]
                .node
                .and_then(|n| m.graph.node(n))
                .is_some_and(|n| matches!(n.kind, NodeKind::Workload { .. }))
        };

        // Completions are written together with the starts they enable; the
        // first write also carries Start/Read/Match.
        loop {
            // Skip what cannot run, settle unchanged steps, start the ready ones.
            let mut progress = true;
            while progress {
                progress = false;
                for i in 0..steps.len() {
                    if status[i] != StepStatus::Pending {
                        continue;
                    }
                    let deps = &steps[i].depends_on;
                    if deps
                        .iter()
                        .any(|&d| matches!(status[d], StepStatus::Failed | StepStatus::Skipped))
                    {
                        status[i] = StepStatus::Skipped;
                        self.progress(
                            i,
                            StepStatus::Skipped,
                            Some("a dependency failed".into()),
                            None,
                        );
                        self.rec.event(
                            &mut ws,
                            "ResourceSkipped",
                            Some(steps[i].key.to_string()),
                            Some("skipped"),
                            "not applied: a dependency failed".into(),
                        );
                        progress = true;
                        continue;
                    }
                    if !deps.iter().all(|&d| status[d] == StepStatus::Succeeded) {
                        continue;
                    }
                    let upstream_changed = deps.iter().any(|d| changed.contains(d));
                    if steps[i].action == Action::Unchanged && !upstream_changed {
                        status[i] = StepStatus::Succeeded;
                        self.progress(i, StepStatus::Succeeded, Some("unchanged".into()), None);
                        self.rec.event(
                            &mut ws,
                            "ResourceUnchanged",
                            Some(steps[i].key.to_string()),
                            Some("succeeded"),
                            "unchanged, not applied".into(),
                        );
                        progress = true;
                        continue;
                    }
                    if steps[i].action == Action::Unchanged {
                        self.rec.dep.resources[i].action = Action::Update;
                    }
                    let phase = if is_workload(i) { "deploy" } else { "create" };
                    self.rec.set_phase(phase, StepStatus::Running);
                    match self.prepare(m, i, &outputs) {
                        Ok(call) => {
                            status[i] = StepStatus::Running;
                            self.progress(i, StepStatus::Running, None, Some(&call.driver));
                            self.rec.event(
                                &mut ws,
                                "ResourceStarted",
                                Some(steps[i].key.to_string()),
                                Some("running"),
                                format!("apply with {}", call.driver.id),
                            );
                            started_at.insert(i, Instant::now());
                            applied_params.insert(i, call.request.params.clone());
                            let runtime = inner.runtime.clone();
                            let permits = inner.permits.clone();
                            tasks.spawn(async move {
                                let _permit = permits.acquire_owned().await;
                                let r = runtime
                                    .call(
                                        &call.driver,
                                        Operation::Apply,
                                        &call.request,
                                        &call.grants,
                                    )
                                    .await;
                                (i, r)
                            });
                        }
                        Err((driver, message)) => {
                            status[i] = StepStatus::Failed;
                            self.step_failed(&mut ws, i, phase, driver, message);
                        }
                    }
                    progress = true;
                }
            }
            if !ws.is_empty() {
                self.rec.commit(std::mem::take(&mut ws)).await?;
            }
            let Some(first) = tasks.join_next().await else {
                break;
            };
            // Every call that finished meanwhile goes into the same write.
            let mut finished = vec![first];
            while let Some(more) = tasks.try_join_next() {
                finished.push(more);
            }
            for joined in finished {
                let (i, result) = match joined {
                    Ok(x) => x,
                    Err(e) => {
                        // A panicking task is a host bug; fail the deployment, keep going.
                        self.fail(
                            &mut ws,
                            "create",
                            format!("internal error in a driver task: {e}"),
                        );
                        continue;
                    }
                };
                let elapsed = started_at.get(&i).map(|t| t.elapsed().as_millis() as u64);
                let phase = if is_workload(i) { "deploy" } else { "create" };
                match result {
                    Ok(report) => {
                        self.driver_logs(&mut ws, i, &report.logs);
                        let Outcome::Applied(out) = report.result else {
                            status[i] = StepStatus::Failed;
                            self.step_failed(
                                &mut ws,
                                i,
                                phase,
                                None,
                                "driver returned no outputs".into(),
                            );
                            continue;
                        };
                        let step = &steps[i];
                        let before = outputs.get(&step.key);
                        if before.is_none_or(|b| b.values != out.values || b.secrets != out.secrets)
                        {
                            changed.insert(i);
                        }
                        let depends_on = step
                            .depends_on
                            .iter()
                            .map(|&d| steps[d].guresid.clone())
                            .collect();
                        let digest = self.rec.dep.resources[i]
                            .driver_digest
                            .clone()
                            .unwrap_or_default();
                        let active = ActiveRecord {
                            resource: ActiveResource {
                                guresid: step.guresid.clone(),
                                key: step.key.clone(),
                                definition_id: step.definition_id.clone(),
                                definition_version: step.definition_version,
                                driver_type: step.driver_type.clone(),
                                inputs_digest: step.inputs_digest.clone().unwrap_or_default(),
                                depends_on,
                            },
                            driver_digest: digest,
                            values: out.values.clone(),
                            secrets: out.secrets.clone(),
                            state: out.state.clone(),
                            params: applied_params.remove(&i).unwrap_or(Value::Null),
                            deploy_id: self.rec.dep.id.clone(),
                            updated_at: Timestamp::now(),
                        };
                        outputs.insert(
                            step.key.clone(),
                            Outputs {
                                values: out.values,
                                secrets: out.secrets,
                            },
                        );
                        ws.active(&self.rec.dep.app, &self.rec.dep.env, &active);
                        status[i] = StepStatus::Succeeded;
                        self.progress(i, StepStatus::Succeeded, None, None);
                        self.rec.dep.resources[i].duration_ms = elapsed;
                        self.rec.event(
                            &mut ws,
                            "ResourceApplied",
                            Some(step.key.to_string()),
                            Some("succeeded"),
                            format!(
                                "{} applied in {} ms",
                                step.driver_type,
                                elapsed.unwrap_or(0)
                            ),
                        );
                    }
                    Err(report) => {
                        self.driver_logs(&mut ws, i, &report.logs);
                        status[i] = StepStatus::Failed;
                        self.rec.dep.resources[i].duration_ms = elapsed;
                        let e = report.result;
                        let driver = format!("{}@{}", e.driver, e.digest);
                        self.step_failed(&mut ws, i, phase, Some(driver), e.to_string());
                    }
                }
            }
        }

        // Phases settle once every step has.
        for (phase, workload) in [("create", false), ("deploy", true)] {
            let mine: Vec<usize> = (0..steps.len())
                .filter(|&i| steps[i].action != Action::Delete && is_workload(i) == workload)
                .collect();
            let st = if mine.iter().any(|&i| status[i] == StepStatus::Failed) {
                StepStatus::Failed
            } else if mine.iter().all(|&i| status[i] == StepStatus::Succeeded) {
                StepStatus::Succeeded
            } else {
                StepStatus::Skipped
            };
            self.rec.set_phase(phase, st);
        }
        Ok(())
    }

    /// Delete: resources that left the set, dependents first, once the new
    /// state is in place (never after a failure).
    async fn delete(&mut self, m: &Matched) -> Result<(), podium_store::RepoError> {
        let inner = self.inner();
        let deletes: Vec<usize> = (0..m.plan.steps.len())
            .filter(|&i| m.plan.steps[i].action == Action::Delete)
            .collect();
        if deletes.is_empty() {
            self.rec.set_phase("delete", StepStatus::Succeeded);
            return Ok(());
        }
        if self.failed {
            let mut ws = WriteSet::new();
            for &i in &deletes {
                self.progress(
                    i,
                    StepStatus::Skipped,
                    Some("not deleted: the deployment failed".into()),
                    None,
                );
            }
            self.rec.set_phase("delete", StepStatus::Skipped);
            self.rec.event(
                &mut ws,
                "PhaseSkipped",
                None,
                Some("skipped"),
                format!(
                    "delete: {} resource(s) kept because the deployment failed",
                    deletes.len()
                ),
            );
            return self.rec.commit(ws).await;
        }
        self.rec.set_phase("delete", StepStatus::Running);
        // Outputs of everything still active (what deleted definitions read).
        let repo = &inner.repo;
        let active: Vec<ActiveRecord> = repo.active(&self.rec.dep.app, &self.rec.dep.env)?;
        let outputs = outputs_of(active.iter());
        for i in deletes {
            let step = &m.plan.steps[i];
            let mut ws = WriteSet::new();
            if self.failed {
                self.progress(
                    i,
                    StepStatus::Skipped,
                    Some("not deleted: an earlier delete failed".into()),
                    None,
                );
                continue;
            }
            let Some(record) = m.active.get(&step.guresid) else {
                continue;
            };
            let prepared = self.prepare_delete(m, step, record, &outputs);
            let call = match prepared {
                Ok(c) => c,
                Err((driver, message)) => {
                    self.step_failed(&mut ws, i, "delete", driver, message);
                    self.rec.commit(ws).await?;
                    continue;
                }
            };
            self.progress(i, StepStatus::Running, None, Some(&call.driver));
            let started = Instant::now();
            let result = {
                let _permit = inner.permits.clone().acquire_owned().await;
                inner
                    .runtime
                    .call(&call.driver, Operation::Delete, &call.request, &call.grants)
                    .await
            };
            let elapsed = started.elapsed().as_millis() as u64;
            self.rec.dep.resources[i].duration_ms = Some(elapsed);
            match result {
                Ok(report) => {
                    self.driver_logs(&mut ws, i, &report.logs);
                    ws.remove_active(&self.rec.dep.app, &self.rec.dep.env, &step.guresid);
                    self.progress(i, StepStatus::Succeeded, None, None);
                    self.rec.event(
                        &mut ws,
                        "ResourceDeleted",
                        Some(step.key.to_string()),
                        Some("succeeded"),
                        format!("{} deleted in {elapsed} ms", step.driver_type),
                    );
                }
                Err(report) => {
                    self.driver_logs(&mut ws, i, &report.logs);
                    let e = report.result;
                    let driver = format!("{}@{}", e.driver, e.digest);
                    self.step_failed(&mut ws, i, "delete", Some(driver), e.to_string());
                }
            }
            self.rec.commit(ws).await?;
        }
        let settled = if self.failed {
            StepStatus::Failed
        } else {
            StepStatus::Succeeded
        };
        self.rec.set_phase("delete", settled);
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), podium_store::RepoError> {
        let mut ws = WriteSet::new();
        for p in &mut self.rec.dep.phases {
            if p.status == StepStatus::Pending {
                p.status = StepStatus::Skipped;
            }
        }
        for r in &mut self.rec.dep.resources {
            if r.status == StepStatus::Pending {
                r.status = StepStatus::Skipped;
            }
        }
        self.rec.dep.finished_at = Some(Timestamp::now());
        if self.failed {
            self.rec.dep.status = DeployStatus::Failed;
            let message = self
                .rec
                .dep
                .error
                .as_ref()
                .map(|e| e.message.clone())
                .unwrap_or_default();
            self.rec
                .event(&mut ws, "DeploymentFailed", None, Some("failed"), message);
        } else {
            self.rec.dep.status = DeployStatus::Succeeded;
            self.rec.event(
                &mut ws,
                "DeploymentSucceeded",
                None,
                Some("succeeded"),
                "deployment succeeded".into(),
            );
        }
        self.rec.commit(ws).await
    }

    fn progress(
        &mut self,
        i: usize,
        status: StepStatus,
        message: Option<String>,
        driver: Option<&Driver>,
    ) {
        if let Some(r) = self.rec.dep.resources.get_mut(i) {
            r.status = status;
            if message.is_some() {
                r.message = message;
            }
            if let Some(d) = driver {
                r.driver_digest = Some(d.digest.clone());
            }
        }
    }

    fn step_failed(
        &mut self,
        ws: &mut WriteSet,
        i: usize,
        phase: &str,
        driver: Option<String>,
        message: String,
    ) {
        self.failed = true;
        let resource = self.rec.dep.resources.get(i).map(|r| r.key.to_string());
        self.progress(i, StepStatus::Failed, Some(message.clone()), None);
        if self.rec.dep.error.is_none() {
            self.rec.dep.error = Some(Failure {
                resource: resource.clone(),
                driver,
                phase: phase.to_owned(),
                message: message.clone(),
            });
        }
        self.rec
            .event(ws, "ResourceFailed", resource, Some("failed"), message);
    }

    fn driver_logs(&mut self, ws: &mut WriteSet, i: usize, logs: &[podium_runtime::LogLine]) {
        let resource = self.rec.dep.resources.get(i).map(|r| r.key.to_string());
        for line in logs.iter().take(MAX_LOG_EVENTS) {
            self.rec.event(
                ws,
                "DriverLogged",
                resource.clone(),
                Some(line.level),
                line.message.clone(),
            );
        }
    }

    /// Resolves the inputs of step `i` and finds its driver.
    fn prepare(
        &self,
        m: &Matched,
        i: usize,
        outputs: &HashMap<ResourceKey, Outputs>,
    ) -> Result<Prepared, (Option<String>, String)> {
        let step = &m.plan.steps[i];
        let node = step
            .node
            .and_then(|n| m.graph.node(n))
            .ok_or((None, "internal: step without a graph node".to_owned()))?;
        let driver = self.driver(&step.driver_type)?;
        let inputs = Resolver {
            env: &m.env,
            resource: &node.key,
            guresid: &node.guresid,
            deploy_id: &self.rec.dep.id,
            values: &m.values,
            outputs,
        }
        .resolve_inputs(&node.definition)
        .map_err(|e| (None, format!("definition {}: {e}", node.definition.id)))?;
        let ResolvedInputs {
            values,
            mut secrets,
            grants,
        } = inputs;
        let params = match &node.kind {
            NodeKind::Workload { name } => {
                let resolved = workload::resolve(name, &node.params, outputs, &m.values)
                    .map_err(|e| (None, format!("workload {name}: {e}")))?;
                if let Value::Object(map) = &mut secrets {
                    map.insert("workload_secrets".into(), Value::Object(resolved.secrets));
                }
                let mut params = resolved.params;
                if let Some(profile) = self.profile(&node.params, &values)? {
                    params["profile"] = profile;
                }
                params
            }
            _ => (*node.params).clone(),
        };
        let grants = Grants::parse(&grants).map_err(|e| {
            (
                None,
                format!(
                    "definition {}: grant {:?}: {}",
                    node.definition.id, e.grant, e.reason
                ),
            )
        })?;
        let state = m.active.get(&step.guresid).and_then(|a| a.state.clone());
        Ok(Prepared {
            driver,
            request: DriverRequest {
                context: context(m, &step.key, &step.guresid, &self.rec.dep.id),
                params,
                driver_values: values,
                driver_secrets: secrets,
                state,
            },
            grants,
        })
    }

    /// The request to delete an active resource, through the definition
    /// version that provisioned it.
    fn prepare_delete(
        &self,
        m: &Matched,
        step: &podium_core::Step,
        record: &ActiveRecord,
        outputs: &HashMap<ResourceKey, Outputs>,
    ) -> Result<Prepared, (Option<String>, String)> {
        let driver = self.driver(&step.driver_type)?;
        let def = self
            .rec
            .inner()
            .repo
            .definition_version(&step.definition_id, step.definition_version)
            .map_err(|e| (None, e.to_string()))?
            .ok_or_else(|| {
                (
                    None,
                    format!(
                        "definition {} v{} is missing; cannot delete {}",
                        step.definition_id, step.definition_version, step.key
                    ),
                )
            })?;
        let inputs = Resolver {
            env: &m.env,
            resource: &step.key,
            guresid: &step.guresid,
            deploy_id: &self.rec.dep.id,
            values: &m.values,
            outputs,
        }
        .resolve_inputs(&def)
        .map_err(|e| (None, format!("definition {}: {e}", def.id)))?;
        let grants = Grants::parse(&inputs.grants).map_err(|e| {
            (
                None,
                format!("definition {}: grant {:?}: {}", def.id, e.grant, e.reason),
            )
        })?;
        Ok(Prepared {
            driver,
            request: DriverRequest {
                context: context(m, &step.key, &step.guresid, &self.rec.dep.id),
                params: if record.params.is_null() {
                    json!({})
                } else {
                    record.params.clone()
                },
                driver_values: inputs.values,
                driver_secrets: inputs.secrets,
                state: record.state.clone(),
            },
            grants,
        })
    }

    fn driver(&self, id: &str) -> Result<Arc<Driver>, (Option<String>, String)> {
        let registry = &self.rec.inner().registry;
        registry.get(id).ok_or_else(|| {
            (
                None,
                format!(
                    "driver {id:?} is not installed (installed: {})",
                    registry.ids().join(", ")
                ),
            )
        })
    }

    /// The workload profile: the Score annotation `podium.dev/profile`, else
    /// the definition's `profile` value when it names a stored profile.
    fn profile(
        &self,
        workload: &Value,
        values: &Value,
    ) -> Result<Option<Value>, (Option<String>, String)> {
        let by_annotation = workload
            .pointer("/metadata/annotations/podium.dev~1profile")
            .and_then(Value::as_str);
        let name = match (by_annotation, values.get("profile")) {
            (Some(n), _) => n,
            (None, Some(Value::String(n))) => n.as_str(),
            _ => return Ok(None),
        };
        match self.rec.inner().repo.profile(name) {
            Ok(Some(p)) => Ok(Some(p.spec)),
            Ok(None) => Err((None, format!("workload profile {name:?} does not exist"))),
            Err(e) => Err((None, e.to_string())),
        }
    }
}

fn context(m: &Matched, key: &ResourceKey, guresid: &str, deploy_id: &str) -> Context {
    Context {
        app_id: m.env.app_id.clone(),
        env_id: m.env.env_id.clone(),
        env_type: m.env.env_type.clone(),
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

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
