//! The pure heart of Podium: the model (apps, environments, definitions,
//! deployment sets, deltas), the matching engine, the resource graph and the
//! plan.
//!
//! # Architecture invariant
//!
//! This crate does **no I/O** (no files, network, clock or randomness) and
//! **cannot fail on valid input**: every function is a deterministic function
//! of its arguments, and every error names the piece of input that is wrong.
//! It knows nothing of wasmtime, HTTP or storage; the pipeline, the API and
//! the CLI call into it and are tested with fixtures.
//!
//! # Code map
//!
//! - [`canonical`] — canonical JSON (sorted keys, no whitespace) and digests.
//! - [`ids`] — resource keys `(type, class, res_id)` and GUResIDs.
//! - [`model`] — environment types, apps, environments, resource types,
//!   definitions, shared values, workload views and deployment sets.
//! - [`delta`] — changes to a set: apply and diff.
//! - [`matching`] — the definition registry and the most-specific-wins rule.
//! - [`placeholders`] — definition-side `${…}` references and the resolver
//!   that tracks secrecy.
//! - [`graph`] — the resource graph: nodes, dependencies, cycles, levels.
//! - [`plan`](mod@plan) — what a deployment would create, update, leave or delete.

//! # The pipeline's path through this crate
//!
//! ```
//! use std::collections::HashMap;
//! use podium_core::*;
//! use serde_json::json;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Definitions (the registry refuses ties when they are added).
//! let mut definitions = Definitions::new();
//! for (id, res_type) in [("k8s", "workload"), ("cluster", "k8s-cluster"), ("ns", "k8s-namespace"), ("pg", "postgres")] {
//!     definitions.add(serde_json::from_value(json!({
//!         "id": id, "version": 1, "type": res_type, "driver_type": "podium/echo",
//!         "driver_inputs": {"secrets": {"admin": "${values.PG_ADMIN}"}},
//!         "criteria": [{}],
//!     }))?)?;
//! }
//! let env = EnvContext::new("shop", "dev", "development");
//! let values: ValueMap = [("PG_ADMIN".to_owned(), SharedValue::secret("secret://PG_ADMIN/1"))].into();
//!
//! // Read: a deploy request is a delta that upserts workloads.
//! let score = json!({"apiVersion": "score.dev/v1b1", "metadata": {"name": "web"},
//!                    "containers": {"main": {"image": "."}},
//!                    "resources": {"db": {"type": "postgres"}}});
//! let delta = Delta::deploy([score], &Images::one("registry/web:1"))?;
//! let set = delta.apply(&DeploymentSet::empty())?;
//!
//! // Match and plan (the active resources come from the store).
//! let graph = Graph::build(&set, &env, &definitions)?;
//! let plan = plan_graph(&graph, set.id(), &values, &[])?;
//! assert_eq!(plan.count(Action::Create), 4);
//!
//! // Create: per step, resolve the definition's inputs with the outputs of
//! // the dependencies provisioned so far (secrets decrypted for the call).
//! let outputs: HashMap<ResourceKey, Outputs> = HashMap::new();
//! let plaintext: ValueMap = [("PG_ADMIN".to_owned(), SharedValue::secret("hunter2"))].into();
//! for step in &plan.steps {
//!     let Some(node) = step.node.and_then(|id| graph.node(id)) else { continue };
//!     let inputs = Resolver {
//!         env: &env, resource: &node.key, guresid: &node.guresid, deploy_id: "d1",
//!         values: &plaintext, outputs: &outputs,
//!     }
//!     .resolve_inputs(&node.definition)?;
//!     assert_eq!(inputs.secrets["admin"], "hunter2");
//!     // … call the driver, store outputs, record `step.inputs_digest`.
//! }
//! # Ok(())
//! # }
//! ```

pub mod canonical;
pub mod delta;
pub mod graph;
mod hash;
pub mod ids;
pub mod mask;
pub mod matching;
pub mod model;
pub mod placeholders;
pub mod plan;

pub use delta::{Delta, DeltaError, ModulesDelta, diff};
pub use graph::{Graph, GraphError, Node, NodeId, NodeKind};
pub use ids::{DEFAULT_CLASS, ResourceKey, guresid};
pub use matching::{Definitions, Explanation, Match, MatchError};
pub use model::{
    Application, EnvContext, Environment, EnvironmentType, ResourceDefinition, SharedValue,
    ValueMap, Values,
    definition::{Criterion, DefinitionSpec, DriverInputs},
    set::{DeploymentSet, SetError},
    types::{OutputError, TypeDecl, TypeError, check_outputs},
    workload::{Images, ResourceUse, WorkloadError, WorkloadView, fill_images, resources_of},
};
pub use placeholders::{OutputSource, Outputs, ResolveError, Resolved, ResolvedInputs, Resolver};
pub use plan::{
    Action, ActiveResource, Plan, PlanError, Step, UpdateReason, plan, plan_graph, plan_graph_with,
};
