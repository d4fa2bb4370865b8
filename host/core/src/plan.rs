//! The plan: what a deployment would create, update, leave unchanged or
//! delete, in an order that respects dependencies. Pure: the deploy pipeline
//! and `podium plan` both call [`plan`] (the pipeline then calls drivers).
//!
//! # Update or unchanged
//!
//! Each node gets an **inputs digest**: sha256 hex of the canonical JSON of
//! `{definition: {id, version}, driver_inputs, driver_type, grants, params,
//! values}` where `driver_inputs` and `grants` are the definition's, with
//! placeholders *unexpanded* (so `${context.deploy.id}` does not make every
//! deploy an update and no secret plaintext is needed), and `values` holds
//! the shared values the definition reads (`${values.K}`) as the caller
//! passes them — for secrets that is their reference, so rotating a secret
//! (new reference) is an update. The pipeline records the digest on the
//! active resource after a successful apply; a later plan compares:
//! different definition id or version → update (definition changed);
//! different digest → update (inputs changed); a dependency created or
//! updated → update (upstream changed: its outputs, which placeholders read,
//! are not known before it runs, so the dependent always re-applies and the
//! plan says so in advance); else unchanged. Upstream outputs are not part
//! of the digest: they are not known before running.
//!
//! # Order
//!
//! Steps for graph nodes come in topological order (by level, then key);
//! then deletes of active resources that left the graph, dependents first
//! (from the dependencies recorded on each active resource), after the new
//! state is in place. A step's `depends_on` lists the earlier steps that
//! must finish before it starts.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::canonical;
use crate::graph::{Graph, GraphError, Node, NodeId, NodeKind};
use crate::hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use crate::ids::ResourceKey;
use crate::matching::Definitions;
use crate::model::set::DeploymentSet;
use crate::model::{EnvContext, ValueMap};

/// What the plan needs to know about a provisioned resource of the env.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveResource {
    pub guresid: String,
    #[serde(flatten)]
    pub key: ResourceKey,
    /// The definition that provisioned it, and its version then.
    pub definition_id: String,
    pub definition_version: u64,
    /// Needed to delete it (through this driver) once it leaves the set.
    pub driver_type: String,
    /// [`Step::inputs_digest`] of the step that last applied it.
    pub inputs_digest: String,
    /// GUResIDs of the resources it depended on when last applied; deletes
    /// run dependents first.
    #[serde(default)]
    pub depends_on: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Unchanged,
    Delete,
}

/// Why a step updates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum UpdateReason {
    /// Matched to another definition, or a new version of the same one.
    DefinitionChanged {
        previous_id: String,
        previous_version: u64,
    },
    /// Params, definition inputs or used shared values changed.
    InputsChanged,
    /// A resource it depends on is created or updated: its outputs (which
    /// this step's inputs read) are known only once that has run, so the
    /// step re-applies. Plan and deployment agree on this in advance.
    UpstreamChanged { resource: String },
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub key: ResourceKey,
    pub guresid: String,
    pub action: Action,
    /// The graph node (none for deletes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeId>,
    pub definition_id: String,
    pub definition_version: u64,
    pub driver_type: String,
    /// Indices of earlier steps that must finish before this one.
    pub depends_on: Vec<usize>,
    /// Graph level (deletes: 0).
    pub level: usize,
    /// Digest to record on the active resource (none for deletes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs_digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<UpdateReason>,
}

/// An ordered list of steps for one set in one environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub set_id: String,
    pub steps: Vec<Step>,
}

impl Plan {
    /// Number of steps per action.
    pub fn count(&self, action: Action) -> usize {
        self.steps.iter().filter(|s| s.action == action).count()
    }

    /// The active resources the environment has once every step succeeded:
    /// what the pipeline records, and what the next plan compares against.
    pub fn applied(&self) -> Vec<ActiveResource> {
        self.steps
            .iter()
            .filter_map(|s| {
                // Deletes leave nothing behind; every other step has a digest.
                let inputs_digest = s.inputs_digest.clone()?;
                Some(ActiveResource {
                    guresid: s.guresid.clone(),
                    key: s.key.clone(),
                    definition_id: s.definition_id.clone(),
                    definition_version: s.definition_version,
                    driver_type: s.driver_type.clone(),
                    inputs_digest,
                    depends_on: s
                        .depends_on
                        .iter()
                        .filter_map(|&d| self.steps.get(d).map(|dep| dep.guresid.clone()))
                        .collect(),
                })
            })
            .collect()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.steps {
            let sign = match s.action {
                Action::Create => "+ create   ",
                Action::Update => "~ update   ",
                Action::Unchanged => "= unchanged",
                Action::Delete => "- delete   ",
            };
            write!(
                f,
                "{sign} {} ({} v{}, {})",
                s.key, s.definition_id, s.definition_version, s.driver_type
            )?;
            match &s.reason {
                Some(UpdateReason::DefinitionChanged {
                    previous_id,
                    previous_version,
                }) => write!(f, ": definition was {previous_id} v{previous_version}")?,
                Some(UpdateReason::InputsChanged) => write!(f, ": inputs changed")?,
                Some(UpdateReason::UpstreamChanged { resource }) => {
                    write!(f, ": {resource} changes")?
                }
                None => {}
            }
            writeln!(f)?;
        }
        writeln!(
            f,
            "{} to create, {} to update, {} unchanged, {} to delete",
            self.count(Action::Create),
            self.count(Action::Update),
            self.count(Action::Unchanged),
            self.count(Action::Delete)
        )
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(
        "definition {definition:?} (matched for {resource}) reads ${{values.{key}}}, which is not set in this environment"
    )]
    MissingValue {
        definition: String,
        resource: ResourceKey,
        key: String,
    },
    #[error("active resources depend on each other in a cycle, cannot order their deletion: {}", resources.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    DeleteCycle { resources: Vec<ResourceKey> },
}

/// Plans `set` in `env`: builds and matches the graph, then compares with
/// the env's `active` resources. `values` are the shared values the env sees.
pub fn plan(
    set: &DeploymentSet,
    env: &EnvContext,
    definitions: &Definitions,
    values: &ValueMap,
    active: &[ActiveResource],
) -> Result<Plan, PlanError> {
    let graph = Graph::build(set, env, definitions)?;
    plan_graph(&graph, set.id(), values, active)
}

/// [`plan`] for an already built graph.
pub fn plan_graph(
    graph: &Graph,
    set_id: &str,
    values: &ValueMap,
    active: &[ActiveResource],
) -> Result<Plan, PlanError> {
    plan_graph_with(graph, set_id, values, active, &BTreeMap::new())
}

/// [`plan_graph`] with more inputs for some nodes, which the caller looked
/// up (a workload's profile): they are part of the node's inputs digest, so
/// a change of them is an update. Nodes without extras keep the digest
/// [`plan_graph`] gives them.
pub fn plan_graph_with(
    graph: &Graph,
    set_id: &str,
    values: &ValueMap,
    active: &[ActiveResource],
    extras: &BTreeMap<NodeId, serde_json::Value>,
) -> Result<Plan, PlanError> {
    let by_guresid: HashMap<&str, &ActiveResource> =
        active.iter().map(|a| (a.guresid.as_str(), a)).collect();
    // Per definition: the hash state after the part before `params`, and
    // the text after it (the same for every node of that definition).
    let mut prefixes: HashMap<&str, (Sha256, String)> = HashMap::default();
    let mut buf = String::new();
    let mut step_of: Vec<usize> = vec![0; graph.nodes().len()];
    let mut steps = Vec::with_capacity(graph.nodes().len());
    for &id in graph.order() {
        let Some(node) = graph.node(id) else { continue };
        let def = &node.definition;
        if !prefixes.contains_key(def.id.as_str()) {
            let (head, tail) = definition_parts(graph, node, values)?;
            let mut state = Sha256::new();
            state.update(head.as_bytes());
            prefixes.insert(def.id.as_str(), (state, tail));
        }
        let digest = match prefixes.get(def.id.as_str()) {
            Some((head, tail)) => {
                buf.clear();
                canonical::write(&mut buf, &node.params);
                let mut h = head.clone();
                h.update(buf.as_bytes());
                h.update(tail.as_bytes());
                // A workload reads shared values through its `environment`
                // resources (`${resources.env.KEY}`): they are inputs too.
                if matches!(node.kind, NodeKind::Workload { .. }) && reads_environment(&node.params)
                {
                    buf.clear();
                    buf.push_str(",\"environment\":");
                    canonical::write(&mut buf, &serde_json::json!(values));
                    h.update(buf.as_bytes());
                }
                if let Some(extra) = extras.get(&id) {
                    buf.clear();
                    buf.push_str(",\"extra\":");
                    canonical::write(&mut buf, extra);
                    h.update(buf.as_bytes());
                }
                canonical::to_hex(&h.finalize())
            }
            None => String::new(),
        };
        let (action, reason) = match by_guresid.get(node.guresid.as_str()) {
            None => (Action::Create, None),
            Some(a) if a.definition_id != def.id || a.definition_version != def.version => (
                Action::Update,
                Some(UpdateReason::DefinitionChanged {
                    previous_id: a.definition_id.clone(),
                    previous_version: a.definition_version,
                }),
            ),
            Some(a) if a.inputs_digest != digest => {
                (Action::Update, Some(UpdateReason::InputsChanged))
            }
            Some(_) => {
                let upstream = node
                    .deps
                    .iter()
                    .map(|&d| &steps[step_of[d]])
                    .find(|s: &&Step| matches!(s.action, Action::Create | Action::Update));
                match upstream {
                    Some(u) => (
                        Action::Update,
                        Some(UpdateReason::UpstreamChanged {
                            resource: u.key.to_string(),
                        }),
                    ),
                    None => (Action::Unchanged, None),
                }
            }
        };
        step_of[id] = steps.len();
        steps.push(Step {
            key: node.key.clone(),
            guresid: node.guresid.clone(),
            action,
            node: Some(id),
            definition_id: def.id.clone(),
            definition_version: def.version,
            driver_type: def.spec.driver_type.clone(),
            depends_on: node.deps.iter().map(|&d| step_of[d]).collect(),
            level: node.level,
            inputs_digest: Some(digest),
            reason,
        });
    }
    let kept: HashSet<&str> = graph.nodes().iter().map(|n| n.guresid.as_str()).collect();
    let leaving: Vec<&ActiveResource> = active
        .iter()
        .filter(|a| !kept.contains(a.guresid.as_str()))
        .collect();
    append_deletes(&mut steps, &leaving)?;
    Ok(Plan {
        set_id: set_id.to_owned(),
        steps,
    })
}

/// Whether a workload (Score JSON) declares a resource of type `environment`.
fn reads_environment(workload: &serde_json::Value) -> bool {
    workload
        .get("resources")
        .and_then(serde_json::Value::as_object)
        .is_some_and(|r| {
            r.values().any(|res| {
                res.get("type").and_then(serde_json::Value::as_str) == Some("environment")
            })
        })
}

/// The canonical text before and after `params` for nodes matched to this
/// node's definition (the same for all of them: see the module docs).
fn definition_parts(
    graph: &Graph,
    node: &Node,
    values: &ValueMap,
) -> Result<(String, String), PlanError> {
    let def = &node.definition;
    let mut head = String::from("{\"definition\":");
    canonical::write(
        &mut head,
        &serde_json::json!({"id": def.id, "version": def.version}),
    );
    head.push_str(",\"driver_inputs\":");
    canonical::write(
        &mut head,
        &serde_json::json!({"values": def.spec.driver_inputs.values, "secrets": def.spec.driver_inputs.secrets}),
    );
    head.push_str(",\"driver_type\":");
    canonical::write(
        &mut head,
        &serde_json::Value::String(def.spec.driver_type.clone()),
    );
    head.push_str(",\"grants\":");
    canonical::write(&mut head, &serde_json::json!(def.spec.grants));
    head.push_str(",\"params\":");
    let mut used = BTreeMap::new();
    for key in graph
        .definition_refs(&def.id)
        .map(|r| r.values.as_slice())
        .unwrap_or_default()
    {
        let v = values.get(key).ok_or_else(|| PlanError::MissingValue {
            definition: def.id.clone(),
            resource: node.key.clone(),
            key: key.clone(),
        })?;
        used.insert(
            key.clone(),
            serde_json::json!({"value": v.value, "secret": v.secret}),
        );
    }
    let mut tail = String::from(",\"values\":");
    canonical::write(&mut tail, &serde_json::json!(used));
    tail.push('}');
    Ok((head, tail))
}

/// Deletes, dependents first: a resource is deleted once every leaving
/// resource that depended on it is.
fn append_deletes(steps: &mut Vec<Step>, leaving: &[&ActiveResource]) -> Result<(), PlanError> {
    let mut order: Vec<usize> = (0..leaving.len()).collect();
    order.sort_by(|&a, &b| leaving[a].key.cmp(&leaving[b].key));
    let index: HashMap<&str, usize> = leaving
        .iter()
        .enumerate()
        .map(|(i, a)| (a.guresid.as_str(), i))
        .collect();
    // dependents[i]: leaving resources that depend on i.
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); leaving.len()];
    for (i, a) in leaving.iter().enumerate() {
        let mut deps: Vec<usize> = a
            .depends_on
            .iter()
            .filter_map(|g| index.get(g.as_str()).copied())
            .collect();
        deps.sort_unstable();
        deps.dedup();
        for d in deps {
            if d != i {
                dependents[d].push(i);
            }
        }
    }
    let mut step_of: Vec<Option<usize>> = vec![None; leaving.len()];
    let mut remaining = leaving.len();
    while remaining > 0 {
        let ready: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| {
                step_of[i].is_none() && dependents[i].iter().all(|&d| step_of[d].is_some())
            })
            .collect();
        if ready.is_empty() {
            return Err(PlanError::DeleteCycle {
                resources: order
                    .iter()
                    .filter(|&&i| step_of[i].is_none())
                    .map(|&i| leaving[i].key.clone())
                    .collect(),
            });
        }
        for i in ready {
            let a = leaving[i];
            step_of[i] = Some(steps.len());
            steps.push(Step {
                key: a.key.clone(),
                guresid: a.guresid.clone(),
                action: Action::Delete,
                node: None,
                definition_id: a.definition_id.clone(),
                definition_version: a.definition_version,
                driver_type: a.driver_type.clone(),
                depends_on: dependents[i].iter().filter_map(|&d| step_of[d]).collect(),
                level: 0,
                inputs_digest: None,
                reason: None,
            });
            remaining -= 1;
        }
    }
    Ok(())
}
