//! Plan: the deployment path ([`path`](crate::path)'s Read, Match and
//! request preparation) with the drivers' `plan` instead of `apply`
//! (read-only capabilities). Nothing is recorded.

use podium_core::{Action, ResourceKey, UpdateReason};
use podium_runtime::{Operation, Outcome};
use podium_store::DeployRequest;
use serde::Serialize;

use crate::path::{self, Prepared, StepError};
use crate::{Inner, PipelineError};

/// What a deployment would do.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub set_id: String,
    pub steps: Vec<PlanStep>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanStep {
    #[serde(flatten)]
    pub key: ResourceKey,
    pub guresid: String,
    /// What the deployment will do: the action it will record.
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<UpdateReason>,
    pub definition_id: String,
    pub definition_version: u64,
    pub driver_type: String,
    /// What the driver's `plan` said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<DriverPlan>,
    /// Why the driver was not asked (inputs not known before a dependency
    /// is created) or what it answered with an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DriverPlan {
    pub action: String,
    pub summary: String,
}

pub(crate) async fn plan(
    inner: &Inner,
    app: &str,
    env_id: &str,
    request: &DeployRequest,
) -> Result<PlanReport, PipelineError> {
    let repo = &inner.repo;
    let env = repo
        .env(app, env_id)?
        .ok_or_else(|| PipelineError::NotFound {
            what: "environment",
            id: format!("{app}/{env_id}"),
        })?;
    let invalid = |path: &str, message: String| PipelineError::Invalid {
        path: path.into(),
        message,
    };
    let set = path::read_set(repo, &env, request)?.map_err(|m| {
        let field = if request.from_deploy.is_some() {
            "from_deploy"
        } else {
            "delta"
        };
        invalid(field, m)
    })?;
    let m = path::match_env(inner, &env, &set, request)?.map_err(|m| invalid("set", m))?;
    let outputs = m.outputs();

    let mut steps = Vec::with_capacity(m.plan.steps.len());
    for (i, step) in m.plan.steps.iter().enumerate() {
        let mut out = PlanStep {
            key: step.key.clone(),
            guresid: step.guresid.clone(),
            action: step.action,
            reason: step.reason.clone(),
            definition_id: step.definition_id.clone(),
            definition_version: step.definition_version,
            driver_type: step.driver_type.clone(),
            driver: None,
            note: None,
        };
        let prepared: Result<Prepared, Box<StepError>> = match step.action {
            Action::Unchanged => {
                out.note = Some("unchanged: the driver is not called".into());
                steps.push(out);
                continue;
            }
            Action::Delete => {
                let Some(record) = m.active.get(&step.guresid) else {
                    steps.push(out);
                    continue;
                };
                // The delete request is prepared as the deployment will
                // (definition version that made it, its params and state),
                // so a delete that cannot run shows here. The 0.1.0 driver
                // contract has no way to ask `plan` about a delete.
                match path::prepare_delete(inner, &m, step, record, &outputs, "plan") {
                    Ok(p) => {
                        out.driver = Some(DriverPlan {
                            action: "delete".into(),
                            summary: format!(
                                "{} deletes it ({} {})",
                                p.driver.id, step.definition_id, step.definition_version
                            ),
                        });
                    }
                    Err(e) => out.note = Some(e.to_string()),
                }
                steps.push(out);
                continue;
            }
            Action::Create | Action::Update => path::prepare_apply(inner, &m, i, &outputs, "plan"),
        };
        let call = match prepared {
            Ok(call) => call,
            Err(e) => {
                out.note = Some(match &e.cause {
                    path::StepCause::Inputs { .. } | path::StepCause::Workload { .. } => {
                        format!("inputs not known yet: {e}")
                    }
                    _ => e.to_string(),
                });
                steps.push(out);
                continue;
            }
        };
        let result = {
            let _permit = inner.permits.clone().acquire_owned().await;
            inner
                .runtime
                .call(&call.driver, Operation::Plan, &call.request, &call.grants)
                .await
        };
        match result {
            Ok(report) => {
                if let Outcome::Plan { action, summary } = report.result {
                    out.driver = Some(DriverPlan {
                        action: format!("{action:?}").to_lowercase(),
                        summary,
                    });
                }
            }
            Err(report) => out.note = Some(report.result.to_string()),
        }
        steps.push(out);
    }
    Ok(PlanReport {
        set_id: m.plan.set_id,
        steps,
    })
}
