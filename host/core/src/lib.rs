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

pub mod canonical;
pub mod delta;
pub mod graph;
mod hash;
pub mod ids;
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
    workload::{Images, ResourceUse, WorkloadError, WorkloadView, fill_images, resources_of},
};
pub use placeholders::{OutputSource, Outputs, ResolveError, Resolved, ResolvedInputs, Resolver};
pub use plan::{Action, ActiveResource, Plan, PlanError, Step, UpdateReason, plan, plan_graph};
