//! Running one deployment: [`path`](crate::path)'s Read, Match and request
//! preparation, then the driver calls, every state change recorded.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use podium_core::{Action, ActiveResource, DeploymentSet, Outputs, ResourceKey};
use podium_runtime::{CallError, CallReport, Driver, LogLine, Operation, Outcome};
use podium_store::{
    ActiveRecord, DeleteFailure, DeployStatus, EnvState, EnvStatus, EventKind, Phase, PhaseStatus,
    ResourceProgress, StepStatus, Timestamp, WriteSet,
};
use serde_json::Value;
use tokio::task::JoinSet;

use crate::Inner;
use crate::path::{self, Matched, StepCause, StepError};
use crate::record::Recorder;

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
        rec: Recorder::stored(inner.clone(), dep),
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

type CallResult = Result<CallReport<Outcome>, CallReport<CallError>>;

impl Run {
    fn inner(&self) -> Arc<Inner> {
        self.rec.inner().clone()
    }

    async fn go(&mut self) -> Result<(), podium_store::RepoError> {
        let mut ws = WriteSet::new();
        {
            let d = &mut self.rec.dep;
            d.status = DeployStatus::Running;
            d.started_at = Some(Timestamp::now());
            d.phases = Phase::ALL
                .iter()
                .map(|&name| PhaseStatus {
                    name,
                    status: StepStatus::Pending,
                    started_at: None,
                    finished_at: None,
                })
                .collect();
        }
        self.rec.event(
            &mut ws,
            EventKind::DeploymentStarted,
            None,
            Some(StepStatus::Running),
            "deployment started".into(),
        );
        self.rec.set_phase(Phase::Read, StepStatus::Running);

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

    /// Fails the deployment in a phase (no single resource to blame) and
    /// commits.
    async fn fail_phase(
        &mut self,
        mut ws: WriteSet,
        phase: Phase,
        message: String,
    ) -> Result<(), podium_store::RepoError> {
        self.failed = true;
        self.rec.set_phase(phase, StepStatus::Failed);
        self.rec
            .failure(&StepError::new(phase, StepCause::Phase(message.clone())));
        self.rec.event(
            &mut ws,
            EventKind::PhaseFailed,
            None,
            Some(StepStatus::Failed),
            format!("{phase}: {message}"),
        );
        self.rec.commit(ws).await
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
            let message = format!("environment {app}/{env_id} no longer exists");
            self.fail_phase(std::mem::take(ws), Phase::Read, message)
                .await?;
            return Ok(None);
        };
        let set = match path::read_set(repo, &env, &self.rec.dep.request)? {
            Ok(set) => set,
            Err(message) => {
                self.fail_phase(std::mem::take(ws), Phase::Read, message)
                    .await?;
                return Ok(None);
            }
        };
        self.rec.dep.previous = env.last_deploy.clone();
        self.rec.dep.set_id = Some(set.id().to_owned());
        env.current_set = Some(set.id().to_owned());
        env.last_deploy = Some(self.rec.dep.id.clone());
        ws.set(&set).env(&env);
        self.rec.set_phase(Phase::Read, StepStatus::Succeeded);
        self.rec.set_phase(Phase::Match, StepStatus::Running);
        self.rec.event(
            ws,
            EventKind::SetCreated,
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
        let (app, env_id) = (self.rec.dep.app.clone(), self.rec.dep.env.clone());
        let Some(env_rec) = inner.repo.env(&app, &env_id)? else {
            let message = format!("environment {app}/{env_id} no longer exists");
            self.fail_phase(std::mem::take(ws), Phase::Match, message)
                .await?;
            return Ok(None);
        };
        let m = match path::match_env(&inner, &env_rec, set, &self.rec.dep.request)? {
            Ok(m) => m,
            Err(message) => {
                self.fail_phase(std::mem::take(ws), Phase::Match, message)
                    .await?;
                return Ok(None);
            }
        };
        self.rec.dep.values_version = m.values_version;
        self.rec.dep.resources = m
            .plan
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
                // Unchanged steps are not called: record the digest of the
                // driver that made what stays (a rollback checks it).
                driver_digest: (s.action == Action::Unchanged)
                    .then(|| m.active.get(&s.guresid).map(|a| a.driver_digest.clone()))
                    .flatten(),
                message: None,
                duration_ms: None,
            })
            .collect();
        // Secrets of what exists are masked in everything recorded.
        for a in m.active.values() {
            self.rec.mask.add(&Value::Object(a.secrets.clone()));
        }
        for (_, v) in m.values.iter().filter(|(_, v)| v.secret) {
            self.rec.mask.add_str(&v.value);
        }
        self.rec.set_phase(Phase::Match, StepStatus::Succeeded);
        self.rec.event(
            ws,
            EventKind::PlanCreated,
            None,
            None,
            format!(
                "{} to create, {} to update, {} unchanged, {} to delete",
                m.plan.count(Action::Create),
                m.plan.count(Action::Update),
                m.plan.count(Action::Unchanged),
                m.plan.count(Action::Delete)
            ),
        );
        Ok(Some(m))
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
        let mut outputs = m.outputs();
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
                        self.progress(i, StepStatus::Skipped, Some("a dependency failed".into()));
                        self.rec.event(
                            &mut ws,
                            EventKind::ResourceSkipped,
                            Some(steps[i].key.to_string()),
                            Some(StepStatus::Skipped),
                            "not applied: a dependency failed".into(),
                        );
                        progress = true;
                        continue;
                    }
                    if !deps.iter().all(|&d| status[d] == StepStatus::Succeeded) {
                        continue;
                    }
                    // The plan already turned dependents of changed steps
                    // into updates: unchanged means not called.
                    if steps[i].action == Action::Unchanged {
                        status[i] = StepStatus::Succeeded;
                        self.progress(i, StepStatus::Succeeded, Some("unchanged".into()));
                        self.rec.event(
                            &mut ws,
                            EventKind::ResourceUnchanged,
                            Some(steps[i].key.to_string()),
                            Some(StepStatus::Succeeded),
                            "unchanged, not applied".into(),
                        );
                        progress = true;
                        continue;
                    }
                    self.rec.set_phase(m.phase_of(i), StepStatus::Running);
                    match path::prepare_apply(&inner, m, i, &outputs, &self.rec.dep.id) {
                        Ok(call) => {
                            status[i] = StepStatus::Running;
                            self.started(&mut ws, i, &call, "apply");
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
                        Err(e) => {
                            status[i] = StepStatus::Failed;
                            self.step_failed(&mut ws, i, &e);
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
                        self.failed = true;
                        let e = StepError::new(
                            Phase::Create,
                            StepCause::Internal(format!("a driver task failed: {e}")),
                        );
                        self.rec.failure(&e);
                        self.rec.event(
                            &mut ws,
                            EventKind::PhaseFailed,
                            None,
                            Some(StepStatus::Failed),
                            e.to_string(),
                        );
                        continue;
                    }
                };
                let elapsed = started_at.get(&i).map(|t| t.elapsed().as_millis() as u64);
                self.rec.dep.resources[i].duration_ms = elapsed;
                let step = &steps[i];
                let report = match result {
                    Ok(report) => report,
                    Err(report) => {
                        self.driver_logs(&mut ws, i, &report.logs);
                        status[i] = StepStatus::Failed;
                        let e = call_failed(m.phase_of(i), &step.key, &report.result);
                        self.step_failed(&mut ws, i, &e);
                        continue;
                    }
                };
                self.driver_logs(&mut ws, i, &report.logs);
                let Outcome::Applied(out) = report.result else {
                    status[i] = StepStatus::Failed;
                    let e = StepError::new(m.phase_of(i), StepCause::NoOutputs).on(&step.key);
                    self.step_failed(&mut ws, i, &e);
                    continue;
                };
                self.rec.mask.add(&Value::Object(out.secrets.clone()));
                // Outputs against the type's declaration: a declared secret
                // returned as a value would be stored and shown in clear.
                let undeclared = match m.types.get(&step.key.res_type) {
                    None => Vec::new(),
                    Some(decl) => match podium_core::check_outputs(decl, &out.values, &out.secrets)
                    {
                        Ok(u) => u,
                        Err(e) => {
                            status[i] = StepStatus::Failed;
                            let e =
                                StepError::new(m.phase_of(i), StepCause::Outputs(e.to_string()))
                                    .on(&step.key)
                                    .driver(&step.driver_type, None);
                            self.step_failed(&mut ws, i, &e);
                            continue;
                        }
                    },
                };
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
                self.progress(i, StepStatus::Succeeded, None);
                self.rec.event(
                    &mut ws,
                    EventKind::ResourceApplied,
                    Some(step.key.to_string()),
                    Some(StepStatus::Succeeded),
                    format!(
                        "{} applied in {} ms{}",
                        step.driver_type,
                        elapsed.unwrap_or(0),
                        if undeclared.is_empty() {
                            String::new()
                        } else {
                            format!(
                                "; outputs not declared by type {}: {}",
                                step.key.res_type,
                                undeclared.join(", ")
                            )
                        }
                    ),
                );
            }
        }

        // Phases settle once every step has.
        for phase in [Phase::Create, Phase::Deploy] {
            let mine: Vec<usize> = (0..steps.len())
                .filter(|&i| m.phase_of(i) == phase)
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
            self.rec.set_phase(Phase::Delete, StepStatus::Succeeded);
            return Ok(());
        }
        if self.failed {
            let mut ws = WriteSet::new();
            for &i in &deletes {
                self.progress(
                    i,
                    StepStatus::Skipped,
                    Some("not deleted: the deployment failed".into()),
                );
            }
            self.rec.set_phase(Phase::Delete, StepStatus::Skipped);
            self.rec.event(
                &mut ws,
                EventKind::PhaseSkipped,
                None,
                Some(StepStatus::Skipped),
                format!(
                    "delete: {} resource(s) kept because the deployment failed",
                    deletes.len()
                ),
            );
            return self.rec.commit(ws).await;
        }
        self.rec.set_phase(Phase::Delete, StepStatus::Running);
        // Outputs of everything still active (what deleted definitions read).
        let active: Vec<ActiveRecord> = inner.repo.active(&self.rec.dep.app, &self.rec.dep.env)?;
        let outputs = path::outputs_of(active.iter());
        for i in deletes {
            let step = &m.plan.steps[i];
            let mut ws = WriteSet::new();
            if self.failed {
                self.progress(
                    i,
                    StepStatus::Skipped,
                    Some("not deleted: an earlier delete failed".into()),
                );
                continue;
            }
            let Some(record) = m.active.get(&step.guresid) else {
                continue;
            };
            let call =
                match path::prepare_delete(&inner, m, step, record, &outputs, &self.rec.dep.id) {
                    Ok(c) => c,
                    Err(e) => {
                        self.step_failed(&mut ws, i, &e);
                        self.rec.commit(ws).await?;
                        continue;
                    }
                };
            // Recorded before the call, as applies are: followers see the
            // delete start, and a restart knows which call was cut short.
            self.started(&mut ws, i, &call, "delete");
            self.rec.commit(std::mem::take(&mut ws)).await?;
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
                    self.progress(i, StepStatus::Succeeded, None);
                    self.rec.event(
                        &mut ws,
                        EventKind::ResourceDeleted,
                        Some(step.key.to_string()),
                        Some(StepStatus::Succeeded),
                        format!("{} deleted in {elapsed} ms", step.driver_type),
                    );
                }
                Err(report) => {
                    self.driver_logs(&mut ws, i, &report.logs);
                    let e = call_failed(Phase::Delete, &step.key, &report.result);
                    self.step_failed(&mut ws, i, &e);
                }
            }
            self.rec.commit(ws).await?;
        }
        let settled = if self.failed {
            StepStatus::Failed
        } else {
            StepStatus::Succeeded
        };
        self.rec.set_phase(Phase::Delete, settled);
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
            self.rec.event(
                &mut ws,
                EventKind::DeploymentFailed,
                None,
                Some(StepStatus::Failed),
                message,
            );
        } else {
            self.rec.dep.status = DeployStatus::Succeeded;
        }
        if self.rec.dep.request.teardown {
            self.teardown_settled(&mut ws)?;
        }
        if self.rec.dep.status == DeployStatus::Succeeded {
            self.rec.event(
                &mut ws,
                EventKind::DeploymentSucceeded,
                None,
                Some(StepStatus::Succeeded),
                "deployment succeeded".into(),
            );
        }
        self.rec.commit(ws).await
    }

    /// A teardown's end: the environment removed (its deployment history
    /// stays), or its state `delete_failed` naming what could not be
    /// deleted. Written with the final event.
    fn teardown_settled(&mut self, ws: &mut WriteSet) -> Result<(), podium_store::RepoError> {
        let inner = self.inner();
        let (app, env) = (self.rec.dep.app.clone(), self.rec.dep.env.clone());
        let state = inner.repo.env_state(&app, &env)?;
        if self.failed {
            let mut failures: Vec<DeleteFailure> = self
                .rec
                .dep
                .resources
                .iter()
                .filter(|r| r.status == StepStatus::Failed)
                .map(|r| DeleteFailure {
                    resource: r.key.to_string(),
                    message: r.message.clone().unwrap_or_default(),
                })
                .collect();
            if failures.is_empty()
                && let Some(e) = &self.rec.dep.error
            {
                failures.push(DeleteFailure {
                    resource: e.resource.clone().unwrap_or_default(),
                    message: e.message.clone(),
                });
            }
            let next = EnvState {
                status: EnvStatus::DeleteFailed,
                failures,
                ..state.clone()
            };
            ws.env_state(&app, &env, &next, Some(&state));
            return Ok(());
        }
        ws.delete_env_state(&app, &env, &state)
            .delete_env(&app, &env);
        let others = inner
            .repo
            .envs(&app)?
            .into_iter()
            .filter(|e| e.env.id != env)
            .count();
        let app_goes = others == 0 && inner.repo.app_deleting(&app)?;
        if app_goes {
            ws.delete_app(&app);
        }
        self.rec.event(
            ws,
            EventKind::EnvironmentDeleted,
            None,
            None,
            if app_goes {
                format!("environment {app}/{env} deleted, and with it app {app}")
            } else {
                format!("environment {app}/{env} deleted")
            },
        );
        Ok(())
    }

    fn progress(&mut self, i: usize, status: StepStatus, message: Option<String>) {
        if let Some(r) = self.rec.dep.resources.get_mut(i) {
            r.status = status;
            if message.is_some() {
                r.message = message;
            }
        }
    }

    /// Step `i` starts its driver call: its secrets join the mask, it is
    /// running with that driver's digest, and `ResourceStarted` says so.
    fn started(&mut self, ws: &mut WriteSet, i: usize, call: &path::Prepared, verb: &str) {
        self.rec.mask.add(&call.request.driver_secrets);
        self.progress(i, StepStatus::Running, None);
        self.ran(i, &call.driver);
        let resource = self.rec.dep.resources.get(i).map(|r| r.key.to_string());
        self.rec.event(
            ws,
            EventKind::ResourceStarted,
            resource,
            Some(StepStatus::Running),
            format!("{verb} with {}", call.driver.id),
        );
    }

    /// Records which driver component step `i` ran.
    fn ran(&mut self, i: usize, driver: &Driver) {
        if let Some(r) = self.rec.dep.resources.get_mut(i) {
            r.driver_digest = Some(driver.digest.clone());
        }
    }

    fn step_failed(&mut self, ws: &mut WriteSet, i: usize, e: &StepError) {
        self.failed = true;
        let mut e = e.clone();
        if e.driver.is_some() && e.digest.is_none() {
            e.digest = self
                .rec
                .dep
                .resources
                .get(i)
                .and_then(|r| r.driver_digest.clone());
        }
        let message = self.rec.mask.apply(&e.to_string());
        self.progress(i, StepStatus::Failed, Some(message.clone()));
        self.rec.failure(&e);
        self.rec.event(
            ws,
            EventKind::ResourceFailed,
            e.resource.clone(),
            Some(StepStatus::Failed),
            message,
        );
    }

    fn driver_logs(&mut self, ws: &mut WriteSet, i: usize, logs: &[LogLine]) {
        let resource = self.rec.dep.resources.get(i).map(|r| r.key.to_string());
        for line in logs.iter().take(MAX_LOG_EVENTS) {
            self.rec
                .driver_log(ws, resource.clone(), line.level, &line.message);
        }
    }
}

/// A failed driver call as a step error (the call error's text names the
/// driver, digest, call and resource).
fn call_failed(phase: Phase, key: &ResourceKey, e: &CallError) -> StepError {
    StepError::new(phase, StepCause::Driver(e.to_string()))
        .on(key)
        .driver(&e.driver, Some(&e.digest))
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
