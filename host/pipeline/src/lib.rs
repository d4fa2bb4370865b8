//! The deployment pipeline: `Read → Match → Create → Deploy`, then deletes
//! of what left the set, one path for deploy, redeploy, rollback and plan.
//!
//! - One worker per environment runs its deployments one at a time, in
//!   arrival order; environments run in parallel.
//! - Within a deployment, resources whose dependencies are done run
//!   concurrently, bounded by [`Config::max_parallel_calls`] across the
//!   whole service (the runtime's pool is sized for that).
//! - Every state change of a deployment is one atomic, durable write of the
//!   deployment record with its events and the active resources it touched
//!   ([`podium_store::WriteSet`]); events are published after the write.
//! - On start, [`Pipeline::recover`] fails deployments that were running
//!   (interrupted) and re-queues those that were pending.

mod execute;
mod path;
mod plan;
mod record;
mod registry;
mod workload;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use podium_core::{DeploymentSet, EnvContext};
use podium_runtime::Runtime;
use podium_store::{
    AuditRecord, DeployRequest, DeployStatus, Deployment, EnvRecord, EnvState, EnvStatus, Event,
    EventKind, Repo, RepoError, StepStatus, Timestamp, Trigger, WriteSet,
};
use tokio::sync::{Semaphore, broadcast, mpsc};

pub use path::{StepCause, StepError};
pub use plan::{DriverPlan, PlanReport, PlanStep};
pub use registry::Registry;

/// Pipeline settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Driver calls running at once across all deployments.
    pub max_parallel_calls: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_parallel_calls: 32,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{what} {id:?} does not exist")]
    NotFound { what: &'static str, id: String },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error(transparent)]
    Store(#[from] RepoError),
    /// The environment is in a state that refuses the request.
    #[error("{message}")]
    Conflict { message: String },
    #[error("the pipeline is shutting down")]
    ShuttingDown,
}

/// A deployment to queue.
#[derive(Debug, Clone)]
pub struct Submit {
    pub app: String,
    pub env: String,
    pub request: DeployRequest,
    pub trigger: Trigger,
    pub comment: String,
    pub who: String,
    /// The audit entry of the request that submits it: written in the same
    /// atomic batch as the queued deployment, so neither exists without
    /// the other.
    pub audit: Option<AuditRecord>,
}

impl Submit {
    /// The teardown of `app/env`: the empty set, every resource deleted,
    /// then the environment removed.
    pub fn teardown(app: &str, env: &str, comment: String, who: String) -> Submit {
        Submit {
            app: app.to_owned(),
            env: env.to_owned(),
            request: DeployRequest {
                teardown: true,
                ..DeployRequest::default()
            },
            trigger: Trigger::Teardown,
            comment,
            who,
            audit: None,
        }
    }
}

pub(crate) struct Inner {
    pub repo: Repo,
    pub runtime: Arc<Runtime>,
    pub registry: Arc<Registry>,
    pub permits: Arc<Semaphore>,
    pub bus: broadcast::Sender<Arc<Event>>,
    queues: Mutex<HashMap<String, mpsc::UnboundedSender<String>>>,
    /// Per env: held from numbering a deployment to queueing it, so queue
    /// order is arrival order.
    arrivals: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Per env: held by the env's worker while it runs a deployment (which
    /// reads the env's record and writes it back with the new current
    /// set), and by whoever else rewrites that record ([`Pipeline::env_lock`]).
    env_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The pipeline. Cheap to clone.
#[derive(Clone)]
pub struct Pipeline {
    inner: Arc<Inner>,
}

impl Pipeline {
    pub fn new(repo: Repo, runtime: Arc<Runtime>, registry: Arc<Registry>, config: Config) -> Self {
        let (bus, _) = broadcast::channel(16 * 1024);
        Pipeline {
            inner: Arc::new(Inner {
                repo,
                runtime,
                registry,
                permits: Arc::new(Semaphore::new(config.max_parallel_calls.max(1))),
                bus,
                queues: Mutex::new(HashMap::new()),
                arrivals: Mutex::new(HashMap::new()),
                env_locks: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn repo(&self) -> &Repo {
        &self.inner.repo
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    /// The lock of env `app/env`'s record: its worker holds it while a
    /// deployment runs (Read writes the env's current set and last
    /// deployment back), so a writer of the record that holds it (the
    /// API's `PUT` and `DELETE` of the env) neither undoes that write nor
    /// gets undone by it. In one process only: replicas sharing a store
    /// would need a compare-and-set on the record instead.
    pub fn env_lock(&self, app: &str, env: &str) -> Arc<tokio::sync::Mutex<()>> {
        env_lock(&self.inner, app, env)
    }

    /// Every event as it is recorded.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.inner.bus.subscribe()
    }

    /// Fails deployments left running by a previous process and queues the
    /// pending ones again, in their original order.
    pub async fn recover(&self) -> Result<usize, PipelineError> {
        let unfinished = self.inner.repo.unfinished_deployments()?;
        let mut interrupted = 0;
        for dep in unfinished {
            match dep.status {
                DeployStatus::Running => {
                    record::interrupt(&self.inner, dep).await?;
                    interrupted += 1;
                }
                _ => self.enqueue(&dep.app, &dep.env, dep.id.clone()),
            }
        }
        Ok(interrupted)
    }

    /// Records a pending deployment and queues it behind the env's others.
    pub async fn submit(&self, s: Submit) -> Result<Deployment, PipelineError> {
        let repo = &self.inner.repo;
        let env = repo
            .env(&s.app, &s.env)?
            .ok_or_else(|| PipelineError::NotFound {
                what: "environment",
                id: format!("{}/{}", s.app, s.env),
            })?;
        self.check_request(&env, &s.request)?;
        let arrival = {
            let mut map = self
                .inner
                .arrivals
                .lock()
                .map_err(|_| PipelineError::ShuttingDown)?;
            map.entry(format!("{}/{}", s.app, s.env))
                .or_default()
                .clone()
        };
        let _in_order = arrival.lock().await;
        // Lifecycle checks and the teardown's state change happen in
        // arrival order too: a deployment queued before a teardown runs
        // first; one after it is refused.
        let state = repo.env_state(&s.app, &s.env)?;
        if let Some(existing) = self.lifecycle_check(&s, &state)? {
            return Ok(existing);
        }
        let seq = repo.next_id()?;
        let dep = Deployment {
            id: format!("d{seq}"),
            app: s.app.clone(),
            env: s.env.clone(),
            env_type: env.env.env_type.clone(),
            seq,
            trigger: s.trigger,
            request: s.request,
            comment: s.comment,
            created_by: s.who,
            created_at: Timestamp::now(),
            started_at: None,
            finished_at: None,
            status: DeployStatus::Pending,
            previous: None,
            set_id: None,
            values_version: 0,
            phases: Vec::new(),
            resources: Vec::new(),
            error: None,
            events: 0,
        };
        let mut rec = record::Recorder::new(self.inner.clone(), dep);
        let mut ws = WriteSet::new();
        if let Some(a) = &s.audit {
            ws.audit(a);
        }
        if rec.dep.request.teardown {
            let next = EnvState {
                status: EnvStatus::Deleting,
                teardown: Some(rec.dep.id.clone()),
                failures: Vec::new(),
                expires_at: state.expires_at,
            };
            ws.env_state(&s.app, &s.env, &next, Some(&state));
        }
        rec.event(
            &mut ws,
            EventKind::DeploymentQueued,
            None,
            Some(StepStatus::Pending),
            format!("{:?} of {}/{} queued", rec.dep.trigger, s.app, s.env).to_lowercase(),
        );
        rec.commit(ws).await?;
        let dep = rec.dep.clone();
        self.enqueue(&dep.app, &dep.env, dep.id.clone());
        Ok(dep)
    }

    /// Refuses deployments to an environment on its way out; a teardown of
    /// an environment whose teardown is still pending or running is that
    /// teardown (`Some`).
    fn lifecycle_check(
        &self,
        s: &Submit,
        state: &EnvState,
    ) -> Result<Option<Deployment>, PipelineError> {
        let running = match &state.teardown {
            Some(id) => self
                .inner
                .repo
                .deployment(id)?
                .filter(|d| !d.status.is_final()),
            None => None,
        };
        if s.request.teardown {
            return Ok(running);
        }
        match state.status {
            EnvStatus::Active => Ok(None),
            EnvStatus::Deleting | EnvStatus::DeleteFailed => Err(PipelineError::Conflict {
                message: format!(
                    "environment {}/{} is being deleted (teardown deployment {}); delete it again to \
                     continue a failed teardown, or create it anew once it is gone",
                    s.app,
                    s.env,
                    state.teardown.as_deref().unwrap_or("unknown")
                ),
            }),
        }
    }

    /// Queues the teardown of every environment whose expiry has passed
    /// (also one that passed while the service was stopped). Returns the
    /// teardowns queued.
    pub async fn expire_due(&self, now: Timestamp) -> Result<Vec<Deployment>, PipelineError> {
        let mut queued = Vec::new();
        for (app, env) in self.inner.repo.expired_envs(now)? {
            let state = self.inner.repo.env_state(&app, &env)?;
            if state.status != EnvStatus::Active {
                continue;
            }
            let at = state.expires_at.map(|t| t.to_string()).unwrap_or_default();
            let dep = self
                .submit(Submit::teardown(
                    &app,
                    &env,
                    format!("expired at {at}"),
                    "podium (environment expiry)".into(),
                ))
                .await?;
            tracing::info!(app, env, deploy = %dep.id, "EnvironmentExpired");
            queued.push(dep);
        }
        Ok(queued)
    }

    /// Catches what can be caught before queueing: a rollback source that
    /// does not exist, a delta that does not apply to the current set.
    fn check_request(&self, env: &EnvRecord, request: &DeployRequest) -> Result<(), PipelineError> {
        let repo = &self.inner.repo;
        if let Some(from) = &request.from_deploy {
            let source = repo
                .deployment(from)?
                .ok_or_else(|| PipelineError::NotFound {
                    what: "deployment",
                    id: from.clone(),
                })?;
            if source.app != env.env.app {
                return Err(PipelineError::Invalid {
                    path: "from_deploy".into(),
                    message: format!(
                        "deployment {from} belongs to app {:?}, not {:?}",
                        source.app, env.env.app
                    ),
                });
            }
            if source.set_id.is_none() {
                return Err(PipelineError::Invalid {
                    path: "from_deploy".into(),
                    message: format!(
                        "deployment {from} never got a deployment set (it failed before Read finished)"
                    ),
                });
            }
        }
        if let Some(from) = &request.from_env {
            path::last_successful_set(repo, &env.env.app, from)?.map_err(|message| {
                PipelineError::Invalid {
                    path: "from_env".into(),
                    message,
                }
            })?;
        }
        if let Some(delta) = &request.delta {
            let base = current_set(repo, env)?;
            delta.apply(&base).map_err(|e| PipelineError::Invalid {
                path: "delta".into(),
                message: e.to_string(),
            })?;
        }
        Ok(())
    }

    fn enqueue(&self, app: &str, env: &str, id: String) {
        let key = format!("{app}/{env}");
        let Ok(mut queues) = self.inner.queues.lock() else {
            return;
        };
        let tx = queues.entry(key).or_insert_with(|| {
            let (tx, mut rx) = mpsc::unbounded_channel::<String>();
            let inner = self.inner.clone();
            let lock = env_lock(&self.inner, app, env);
            tokio::spawn(async move {
                while let Some(id) = rx.recv().await {
                    let _record = lock.lock().await;
                    execute::run(&inner, &id).await;
                }
            });
            tx
        });
        if tx.send(id).is_err() {
            tracing::error!(
                app,
                env,
                "environment worker stopped; deployment stays pending until restart"
            );
        }
    }

    /// Waits until deployment `id` is final and returns it.
    pub async fn wait(&self, id: &str) -> Result<Deployment, PipelineError> {
        let mut rx = self.subscribe();
        loop {
            let dep = self
                .inner
                .repo
                .deployment(id)?
                .ok_or_else(|| PipelineError::NotFound {
                    what: "deployment",
                    id: id.to_owned(),
                })?;
            if dep.status.is_final() {
                return Ok(dep);
            }
            // Wait for a final event of this deployment (or lag, then re-read).
            loop {
                match rx.recv().await {
                    Ok(e) if e.deploy_id == id && e.kind.is_final() => break,
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => {
                        return Err(PipelineError::ShuttingDown);
                    }
                }
            }
        }
    }

    /// Plans a deployment without recording or changing anything.
    pub async fn plan(
        &self,
        app: &str,
        env: &str,
        request: &DeployRequest,
    ) -> Result<PlanReport, PipelineError> {
        plan::plan(&self.inner, app, env, request).await
    }
}

fn env_lock(inner: &Inner, app: &str, env: &str) -> Arc<tokio::sync::Mutex<()>> {
    let mut map = inner
        .env_locks
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    map.entry(format!("{app}/{env}")).or_default().clone()
}

/// The set the env's next delta applies to.
pub fn current_set(repo: &Repo, env: &EnvRecord) -> Result<DeploymentSet, PipelineError> {
    match &env.current_set {
        None => Ok(DeploymentSet::empty()),
        Some(id) => repo.set(id)?.ok_or_else(|| PipelineError::NotFound {
            what: "deployment set",
            id: id.clone(),
        }),
    }
}

pub(crate) fn context(env: &EnvRecord) -> EnvContext {
    env.env.context()
}
