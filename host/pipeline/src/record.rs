//! Recording a deployment: its record, its events, one atomic write per
//! state change, events published once durable.

use std::sync::Arc;

use podium_store::{
    DeployStatus, Deployment, Event, Failure, RepoError, StepStatus, Timestamp, WriteSet,
};

use crate::{Inner, PipelineError};

pub(crate) fn is_final_event(kind: &str) -> bool {
    matches!(
        kind,
        "DeploymentSucceeded" | "DeploymentFailed" | "DeploymentInterrupted"
    )
}

pub(crate) struct Recorder {
    inner: Arc<Inner>,
    pub dep: Deployment,
    unpublished: Vec<Arc<Event>>,
}

impl Recorder {
    pub fn new(inner: Arc<Inner>, dep: Deployment) -> Self {
        Recorder {
            inner,
            dep,
            unpublished: Vec::new(),
        }
    }

    pub fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }

    /// Adds an event to `ws` (written with the next commit).
    pub fn event(
        &mut self,
        ws: &mut WriteSet,
        kind: &str,
        resource: Option<String>,
        status: Option<&str>,
        message: String,
    ) {
        let event = Event {
            deploy_id: self.dep.id.clone(),
            seq: self.dep.events,
            at: Timestamp::now(),
            kind: kind.to_owned(),
            resource,
            status: status.map(str::to_owned),
            message,
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

    /// Writes the deployment record with `ws` atomically and durably, then
    /// publishes the events.
    pub async fn commit(&mut self, mut ws: WriteSet) -> Result<(), RepoError> {
        ws.deployment(&self.dep);
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
            for e in events {
                // No subscribers is fine.
                let _ = self.inner.bus.send(e);
            }
        }
        result
    }

    pub fn set_phase(&mut self, name: &str, status: StepStatus) {
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
    let mut rec = Recorder::new(inner.clone(), dep);
    let phase = rec
        .dep
        .phases
        .iter()
        .find(|p| p.status == StepStatus::Running)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| "read".to_owned());
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
        phase,
        message: "interrupted: the service stopped while this deployment was running".into(),
    });
    let mut ws = WriteSet::new();
    rec.event(
        &mut ws,
        "DeploymentInterrupted",
        None,
        Some("failed"),
        "the service stopped while this deployment was running; marked failed at restart".into(),
    );
    rec.commit(ws).await?;
    Ok(())
}
