//! Plan: Read and Match as a deployment would, then every driver's `plan`
//! (read-only capabilities). Nothing is recorded.

use std::collections::HashMap;
use std::sync::Arc;

use podium_core::{
    Action, ActiveResource, Definitions, Graph, NodeKind, Resolver, ResourceKey, UpdateReason,
    plan_graph,
};
use podium_runtime::{Context, DriverRequest, Grants, Operation, Outcome};
use podium_store::DeployRequest;
use serde::Serialize;
use serde_json::Value;

use crate::{Inner, PipelineError, current_set, workload};

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

fn invalid(path: &str, message: impl Into<String>) -> PipelineError {
    PipelineError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

pub(crate) async fn plan(
    inner: &Arc<Inner>,
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
    let set = if let Some(from) = &request.from_deploy {
        let dep = repo
            .deployment(from)?
            .ok_or_else(|| PipelineError::NotFound {
                what: "deployment",
                id: from.clone(),
            })?;
        let set_id = dep
            .set_id
            .ok_or_else(|| invalid("from_deploy", format!("deployment {from} has no set")))?;
        match repo.set(&set_id)? {
            Some(set) => set,
            None => {
                return Err(PipelineError::NotFound {
                    what: "deployment set",
                    id: set_id,
                });
            }
        }
    } else {
        let base = current_set(repo, &env)?;
        match &request.delta {
            Some(delta) => delta
                .apply(&base)
                .map_err(|e| invalid("delta", e.to_string()))?,
            None => base,
        }
    };
    let ctx = env.env.context();
    let mut definitions = Definitions::new();
    for def in repo.definitions()? {
        definitions
            .add(def)
            .map_err(|e| invalid("definitions", e.to_string()))?;
    }
    let values = repo.values(app)?.unwrap_or_default().for_env(env_id);
    let active = repo.active(app, env_id)?;
    let active_list: Vec<ActiveResource> = active.iter().map(|a| a.resource.clone()).collect();
    let graph =
        Graph::build(&set, &ctx, &definitions).map_err(|e| invalid("set", e.to_string()))?;
    let plan = plan_graph(&graph, set.id(), &values, &active_list)
        .map_err(|e| invalid("set", e.to_string()))?;
    let outputs = crate::execute::outputs_of(active.iter());
    let state: HashMap<&str, &Option<Value>> = active
        .iter()
        .map(|a| (a.resource.guresid.as_str(), &a.state))
        .collect();

    let mut steps = Vec::with_capacity(plan.steps.len());
    for step in &plan.steps {
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
        let Some(node) = step.node.and_then(|n| graph.node(n)) else {
            steps.push(out);
            continue;
        };
        let Some(driver) = inner.registry.get(&step.driver_type) else {
            out.note = Some(format!("driver {:?} is not installed", step.driver_type));
            steps.push(out);
            continue;
        };
        let resolved = Resolver {
            env: &ctx,
            resource: &node.key,
            guresid: &node.guresid,
            deploy_id: "plan",
            values: &values,
            outputs: &outputs,
        }
        .resolve_inputs(&node.definition);
        let inputs = match resolved {
            Ok(i) => i,
            Err(e) => {
                out.note = Some(format!("inputs not known yet: {e}"));
                steps.push(out);
                continue;
            }
        };
        let mut secrets = inputs.secrets;
        let params = match &node.kind {
            NodeKind::Workload { name } => {
                match workload::resolve(name, &node.params, &outputs, &values) {
                    Ok(w) => {
                        if let Value::Object(map) = &mut secrets {
                            map.insert("workload_secrets".into(), Value::Object(w.secrets));
                        }
                        w.params
                    }
                    Err(e) => {
                        out.note = Some(format!("inputs not known yet: {e}"));
                        steps.push(out);
                        continue;
                    }
                }
            }
            _ => (*node.params).clone(),
        };
        let grants = match Grants::parse(&inputs.grants) {
            Ok(g) => g,
            Err(e) => {
                out.note = Some(format!("grant {:?}: {}", e.grant, e.reason));
                steps.push(out);
                continue;
            }
        };
        let request = DriverRequest {
            context: Context {
                app_id: ctx.app_id.clone(),
                env_id: ctx.env_id.clone(),
                env_type: ctx.env_type.clone(),
                res_id: step.key.res_id.clone(),
                res_type: step.key.res_type.clone(),
                res_class: step.key.class.clone(),
                guresid: step.guresid.clone(),
                deploy_id: "plan".into(),
            },
            params,
            driver_values: inputs.values,
            driver_secrets: secrets,
            state: state.get(step.guresid.as_str()).and_then(|s| (*s).clone()),
        };
        let result = {
            let _permit = inner.permits.clone().acquire_owned().await;
            inner
                .runtime
                .call(&driver, Operation::Plan, &request, &grants)
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
        set_id: plan.set_id,
        steps,
    })
}
