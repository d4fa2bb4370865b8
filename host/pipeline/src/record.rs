//! Recording a deployment: its record, its events, one atomic write per
//! state change, events published once durable.
//!
//! What a write carries: the request once (the first write), the small
//! deployment record (status, phases, error, event count), the steps whose
//! progress changed since the last write, and the new events. A
//! deployment's writes never repeat its request nor unchanged steps, so
//! their size follows what happened, not the size of the set.

use std::sync::Arc;

use podium_core::mask::SecretMask;
use podium_store::{
    DeleteFailure, DeployStatus, Deployment, EnvState, EnvStatus, Event, EventKind, Failure,
    LogLevel, Phase, RepoError, ResourceProgress, StepStatus, Timestamp, WriteSet,
};

use crate::path::StepError;
use crate::{Inner, PipelineError};

pub(crate) struct Recorder {
    inner: Arc<Inner>,
    pub dep: Deployment,
    unpublished: Vec<Arc<Event>>,
    /// Whether the request is in the store (written with the first commit).
    request_written: bool,
    /// The steps as last written.
    written: Vec<ResourceProgress>,
    /// Secrets this deployment has seen: masked in every event message
    /// and failure it records.
    pub mask: SecretMask,
}

impl Recorder {
    /// A recorder for a deployment not yet in the store.
    pub fn new(inner: Arc<Inner>, dep: Deployment) -> Self {
        Recorder {
            inner,
            dep,
            unpublished: Vec::new(),
            request_written: false,
            written: Vec::new(),
            mask: SecretMask::default(),
        }
    }

    /// A recorder for a deployment read back from the store.
    pub fn stored(inner: Arc<Inner>, dep: Deployment) -> Self {
        let written = dep.resources.clone();
        Recorder {
            inner,
            dep,
            unpublished: Vec::new(),
            request_written: true,
            written,
            mask: SecretMask::default(),
        }
    }

    pub fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }

    /// Adds an event to `ws` (written with the next commit).
    pub fn event(
        &mut self,
        ws: &mut WriteSet,
        kind: EventKind,
        resource: Option<String>,
        status: Option<StepStatus>,
        message: String,
    ) {
        self.push(ws, kind, resource, status, None, message);
    }

    /// A line a driver logged (already masked by the runtime with the
    /// call's secrets; masked again with everything this deployment saw).
    pub fn driver_log(
        &mut self,
        ws: &mut WriteSet,
        resource: Option<String>,
        level: &str,
        message: &str,
    ) {
        let level = LogLevel::parse(level).unwrap_or(LogLevel::Info);
        self.push(
            ws,
            EventKind::DriverLogged,
            resource,
            None,
            Some(level),
            message.to_owned(),
        );
    }

    fn push(
        &mut self,
        ws: &mut WriteSet,
        kind: EventKind,
        resource: Option<String>,
        status: Option<StepStatus>,
        level: Option<LogLevel>,
        message: String,
    ) {
        let event = Event {
            deploy_id: self.dep.id.clone(),
            seq: self.dep.events,
            at: Timestamp::now(),
            kind,
            resource,
            status,
            level,
            message: self.mask.apply(&message),
        };
        self.dep.events += 1;
        tracing::info!(
            deploy = %event.deploy_id,
            kind = %event.kind,
            resource = event.resource.as_deref().unwrap_or(""),
            "{}",
            event.message
        );
        ws.event(&event);
        self.unpublished.push(Arc::new(event));
    }

    /// Records `e` as the deployment's error (the first one wins).
    pub fn failure(&mut self, e: &StepError) {
        if self.dep.error.is_none() {
            self.dep.error = Some(Failure {
                resource: e.resource.clone(),
                driver: e.driver.clone(),
                digest: e.digest.clone(),
                phase: e.phase,
                message: self.mask.apply(&e.cause.to_string()),
            });
        }
    }

    /// Writes the deployment record (with the request the first time and
    /// the steps that changed) and `ws` atomically and durably, then
    /// publishes the events.
    pub async fn commit(&mut self, mut ws: WriteSet) -> Result<(), RepoError> {
        ws.deployment(&self.dep);
        if !self.request_written {
            ws.deployment_request(&self.dep);
        }
        for (i, r) in self.dep.resources.iter().enumerate() {
            if self.written.get(i) != Some(r) {
                ws.deployment_resource(&self.dep.id, i, r);
            }
        }
        let repo = self.inner.repo.clone();
        let result = tokio::task::spawn_blocking(move || repo.commit(ws))
            .await
            .unwrap_or_else(|e| {
                Err(RepoError::Store(podium_store::StoreError::Backend(
                    format!("commit task failed: {e}"),
                )))
            });
        let events = std::mem::take(&mut self.unpublished);
        if result.is_ok() {
            self.request_written = true;
            self.written.clone_from(&self.dep.resources);
            for e in events {
                // No subscribers is fine.
                let _ = self.inner.bus.send(e);
            }
        }
        result
    }

    pub fn set_phase(&mut self, name: Phase, status: StepStatus) {
        let now = Timestamp::now();
        if let Some(p) = self.dep.phases.iter_mut().find(|p| p.name == name) {
            if status == StepStatus::Running && p.started_at.is_none() {
                p.started_at = Some(now);
            }
            if matches!(
                status,
                StepStatus::Succeeded | StepStatus::Failed | StepStatus::Skipped
            ) {
                if p.started_at.is_none() && status != StepStatus::Skipped {
                    p.started_at = Some(now);
                }
                p.finished_at = Some(now);
            }
            p.status = status;
        }
    }
}

/// Marks a deployment left running by a previous process as failed.
pub(crate) async fn interrupt(inner: &Arc<Inner>, dep: Deployment) -> Result<(), PipelineError> {
    let mut rec = Recorder::stored(inner.clone(), dep);
    let phase = rec
        .dep
        .phases
        .iter()
        .find(|p| p.status == StepStatus::Running)
        .map(|p| p.name)
        .unwrap_or(Phase::Read);
    for p in &mut rec.dep.phases {
        if matches!(p.status, StepStatus::Running) {
            p.status = StepStatus::Failed;
        } else if p.status == StepStatus::Pending {
            p.status = StepStatus::Skipped;
        }
    }
    for r in &mut rec.dep.resources {
        match r.status {
            StepStatus::Running => {
                r.status = StepStatus::Failed;
                r.message = Some(
                    "interrupted: the service stopped during this call; the next deployment applies it again"
                        .into(),
                );
            }
            StepStatus::Pending => r.status = StepStatus::Skipped,
            _ => {}
        }
    }
    rec.dep.status = DeployStatus::Failed;
    rec.dep.finished_at = Some(Timestamp::now());
    rec.dep.error = Some(Failure {
        resource: None,
        driver: None,
        digest: None,
        phase,
        message: "interrupted: the service stopped while this deployment was running".into(),
    });
    let mut ws = WriteSet::new();
    if rec.dep.request.teardown {
        // The env stays on its way out; `DELETE` again continues.
        let state = inner.repo.env_state(&rec.dep.app, &rec.dep.env)?;
        let next = EnvState {
            status: EnvStatus::DeleteFailed,
            failures: vec![DeleteFailure {
                resource: String::new(),
                message: "interrupted: the service stopped during the teardown".into(),
            }],
            ..state.clone()
        };
        ws.env_state(&rec.dep.app, &rec.dep.env, &next, Some(&state));
    }
    rec.event(
        &mut ws,
        EventKind::DeploymentInterrupted,
        None,
        Some(StepStatus::Failed),
        "the service stopped while this deployment was running; marked failed at restart".into(),
    );
    rec.commit(ws).await?;
    Ok(())
}
