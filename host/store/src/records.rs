//! The records Podium keeps. JSON on disk; field names are the API's.

use podium_core::{Action, ActiveResource, Delta, Environment, ResourceKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use jiff::Timestamp;

/// An environment and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvRecord {
    #[serde(flatten)]
    pub env: Environment,
    pub created_at: Timestamp,
    /// The set of the latest deployment that got past Read: what the next
    /// delta applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_set: Option<String>,
    /// That deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_deploy: Option<String>,
}

/// Where an environment is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvStatus {
    /// Deployments are accepted.
    #[default]
    Active,
    /// A teardown deployment is queued or running; new deployments are
    /// refused.
    Deleting,
    /// The teardown failed or was interrupted: `DELETE` again continues it.
    DeleteFailed,
}

/// A resource a teardown could not delete, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteFailure {
    pub resource: String,
    pub message: String,
}

/// An environment's lifecycle, kept apart from [`EnvRecord`] (which the
/// pipeline's Read rewrites with every deployment): status, the teardown
/// deployment, and the expiry of an ephemeral environment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnvState {
    #[serde(default)]
    pub status: EnvStatus,
    /// The latest teardown deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown: Option<String>,
    /// What the last teardown could not delete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<DeleteFailure>,
    /// When the environment is torn down by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeployStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl DeployStatus {
    pub fn is_final(self) -> bool {
        matches!(self, DeployStatus::Succeeded | DeployStatus::Failed)
    }
}

/// Status of one phase or one resource of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    /// Not run: a dependency failed, or the deployment stopped before it.
    Skipped,
}

impl StepStatus {
    pub const ALL: [StepStatus; 5] = [
        StepStatus::Pending,
        StepStatus::Running,
        StepStatus::Succeeded,
        StepStatus::Failed,
        StepStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Running => "running",
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
        }
    }
}

/// Why the deployment was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Deploy,
    Redeploy,
    Rollback,
    /// The set of another environment (clone, promote).
    Promote,
    /// The empty set: every resource of the environment deleted, then the
    /// environment removed.
    Teardown,
}

/// What a deployment deploys: a delta applied to the env's current set
/// when the deployment starts (so queued deployments compose), or the set
/// of an earlier deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct DeployRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<Delta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_deploy: Option<String>,
    /// With `from_deploy`: match with today's definitions instead of the
    /// versions that deployment recorded (an exact replay is the default).
    #[serde(default, skip_serializing_if = "is_false")]
    pub latest_definitions: bool,
    /// The set of this environment's (of the same app) last successful
    /// deployment (clone, promote).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_env: Option<String>,
    /// The empty set (a teardown).
    #[serde(default, skip_serializing_if = "is_false")]
    pub teardown: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The phases of a deployment, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The new set: the delta applied to the env's current set, or the set
    /// of the deployment a rollback returns to.
    Read,
    /// Definitions matched, graph built, plan computed.
    Match,
    /// Resources other than workloads applied.
    Create,
    /// Workloads applied.
    Deploy,
    /// Resources that left the set deleted.
    Delete,
}

impl Phase {
    pub const ALL: [Phase; 5] = [
        Phase::Read,
        Phase::Match,
        Phase::Create,
        Phase::Deploy,
        Phase::Delete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Read => "read",
            Phase::Match => "match",
            Phase::Create => "create",
            Phase::Deploy => "deploy",
            Phase::Delete => "delete",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseStatus {
    pub name: Phase,
    pub status: StepStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
}

/// One resource of a deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceProgress {
    #[serde(flatten)]
    pub key: ResourceKey,
    pub guresid: String,
    pub action: Action,
    pub status: StepStatus,
    pub definition_id: String,
    pub definition_version: u64,
    pub driver_type: String,
    /// sha256 of the driver component that ran (once it ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// Why a deployment failed: the failing piece, named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The resource (`type.class#res_id`), when one resource failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The driver id, when a driver was involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// `sha256:…` of the driver component, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    pub phase: Phase,
    /// What went wrong (secret values masked).
    #[serde(alias = "cause")]
    pub message: String,
}

/// One deployment: immutable once final.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: String,
    pub app: String,
    pub env: String,
    pub env_type: String,
    /// Arrival order (increasing across the data directory).
    pub seq: u64,
    pub trigger: Trigger,
    /// Stored once, apart from the record (`deployreq/<id>`): the record is
    /// rewritten at every state change, the request never.
    #[serde(default)]
    pub request: DeployRequest,
    #[serde(default)]
    pub comment: String,
    pub created_by: String,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    pub status: DeployStatus,
    /// The env's previous deployment (whose set the delta applied to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_id: Option<String>,
    /// The shared-values version the deployment resolved.
    #[serde(default)]
    pub values_version: u64,
    #[serde(default)]
    pub phases: Vec<PhaseStatus>,
    /// One entry per plan step; stored one record per step
    /// (`deployres/<id>/<n>`), each written only when it changes.
    #[serde(default)]
    pub resources: Vec<ResourceProgress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Failure>,
    /// Number of events written (the next event's sequence number).
    #[serde(default)]
    pub events: u64,
}

/// What happened, named `<Noun><Verb>`. One enum for the pipeline that
/// records events, the API and its SSE stream, and the CLI that shows them;
/// the catalogue is in docs/events.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// Accepted and queued behind the env's other deployments.
    DeploymentQueued,
    /// Its env's worker started it.
    DeploymentStarted,
    /// Read: the deployment set it deploys.
    SetCreated,
    /// Match: the plan (counts per action).
    PlanCreated,
    /// A phase failed without a single resource to blame.
    PhaseFailed,
    /// A phase did not run (deletes after a failure).
    PhaseSkipped,
    /// A driver call for a resource started.
    ResourceStarted,
    /// A resource was created or updated.
    ResourceApplied,
    /// A resource's inputs did not change: not applied.
    ResourceUnchanged,
    /// Not applied because a dependency failed.
    ResourceSkipped,
    /// A resource failed (the message names driver, digest and cause).
    ResourceFailed,
    /// A resource that left the set was deleted.
    ResourceDeleted,
    /// A line a driver logged during a call (secrets masked).
    DriverLogged,
    /// A teardown removed the environment (just before its final event).
    EnvironmentDeleted,
    /// Final: every step succeeded.
    DeploymentSucceeded,
    /// Final: a step or phase failed.
    DeploymentFailed,
    /// Final: the service stopped while it ran; failed at restart.
    DeploymentInterrupted,
}

impl EventKind {
    pub const ALL: [EventKind; 17] = [
        EventKind::DeploymentQueued,
        EventKind::DeploymentStarted,
        EventKind::SetCreated,
        EventKind::PlanCreated,
        EventKind::PhaseFailed,
        EventKind::PhaseSkipped,
        EventKind::ResourceStarted,
        EventKind::ResourceApplied,
        EventKind::ResourceUnchanged,
        EventKind::ResourceSkipped,
        EventKind::ResourceFailed,
        EventKind::ResourceDeleted,
        EventKind::DriverLogged,
        EventKind::EnvironmentDeleted,
        EventKind::DeploymentSucceeded,
        EventKind::DeploymentFailed,
        EventKind::DeploymentInterrupted,
    ];

    /// The last event of a deployment: nothing follows it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            EventKind::DeploymentSucceeded
                | EventKind::DeploymentFailed
                | EventKind::DeploymentInterrupted
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::DeploymentQueued => "DeploymentQueued",
            EventKind::DeploymentStarted => "DeploymentStarted",
            EventKind::SetCreated => "SetCreated",
            EventKind::PlanCreated => "PlanCreated",
            EventKind::PhaseFailed => "PhaseFailed",
            EventKind::PhaseSkipped => "PhaseSkipped",
            EventKind::ResourceStarted => "ResourceStarted",
            EventKind::ResourceApplied => "ResourceApplied",
            EventKind::ResourceUnchanged => "ResourceUnchanged",
            EventKind::ResourceSkipped => "ResourceSkipped",
            EventKind::ResourceFailed => "ResourceFailed",
            EventKind::ResourceDeleted => "ResourceDeleted",
            EventKind::DriverLogged => "DriverLogged",
            EventKind::EnvironmentDeleted => "EnvironmentDeleted",
            EventKind::DeploymentSucceeded => "DeploymentSucceeded",
            EventKind::DeploymentFailed => "DeploymentFailed",
            EventKind::DeploymentInterrupted => "DeploymentInterrupted",
        }
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The level of a line a driver logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    /// The runtime's level names (`podium_runtime::LogLine::level`).
    pub fn parse(s: &str) -> Option<LogLevel> {
        Some(match s {
            "trace" => LogLevel::Trace,
            "debug" => LogLevel::Debug,
            "info" => LogLevel::Info,
            "warn" => LogLevel::Warn,
            "error" => LogLevel::Error,
            _ => return None,
        })
    }
}

/// One event of a deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "EventWire")]
pub struct Event {
    pub deploy_id: String,
    pub seq: u64,
    pub at: Timestamp,
    pub kind: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The status the deployment or resource moved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StepStatus>,
    /// For [`EventKind::DriverLogged`]: the line's level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<LogLevel>,
    pub message: String,
}

/// Events as stored before `level` existed kept a log line's level in
/// `status`: read both shapes, nothing recorded is lost.
#[derive(Deserialize)]
struct EventWire {
    deploy_id: String,
    seq: u64,
    at: Timestamp,
    kind: EventKind,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    level: Option<LogLevel>,
    message: String,
}

impl From<EventWire> for Event {
    fn from(w: EventWire) -> Event {
        let parsed = w
            .status
            .as_deref()
            .and_then(|s| StepStatus::ALL.into_iter().find(|st| st.as_str() == s));
        let level = w
            .level
            .or_else(|| w.status.as_deref().and_then(LogLevel::parse));
        Event {
            deploy_id: w.deploy_id,
            seq: w.seq,
            at: w.at,
            kind: w.kind,
            resource: w.resource,
            status: parsed,
            level,
            message: w.message,
        }
    }
}

/// A provisioned resource of an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveRecord {
    #[serde(flatten)]
    pub resource: ActiveResource,
    pub driver_digest: String,
    /// Output values.
    #[serde(default)]
    pub values: Map<String, Value>,
    /// Secret outputs. Never leave the service except inside a driver call.
    #[serde(default)]
    pub secrets: Map<String, Value>,
    /// What the driver asked to keep (treated as secret: drivers keep
    /// generated credentials here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Value>,
    /// The params of the last apply (never secret: secret strings of a
    /// workload are `{"$secret": …}` references); `delete` gets them again.
    #[serde(default)]
    pub params: Value,
    /// The deployment that last applied it.
    pub deploy_id: String,
    pub updated_at: Timestamp,
}

/// A workload profile the Kubernetes driver renders from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileRecord {
    pub id: String,
    #[serde(default)]
    pub spec: Value,
}

/// A driver component uploaded by a platform engineer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriverRecord {
    pub id: String,
    pub digest: String,
    pub size: u64,
    pub uploaded_at: Timestamp,
    pub wit_version: String,
    pub name: String,
    pub version: String,
    pub resource_types: Vec<String>,
}

/// What a token may do: `admin` everything; `owner`, `deployer` and
/// `viewer` within one app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Deployer,
    Owner,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Deployer => "deployer",
            Role::Owner => "owner",
            Role::Admin => "admin",
        }
    }
}

/// An API token. Only the SHA-256 of its secret part is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The public part of the token (`pdm_<id>_<secret>`).
    pub id: String,
    pub name: String,
    pub role: Role,
    /// The app an `owner`/`deployer`/`viewer` token is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Env types the token may deploy to; `None`: every env type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_types: Option<Vec<String>>,
    /// Hex SHA-256 of the secret part.
    pub secret_sha256: String,
    pub created_at: Timestamp,
    pub created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

/// One write request as the audit log keeps it: who, what, when, outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: u64,
    pub at: Timestamp,
    /// `token:<id> (<name>)`, or `anonymous` when no valid token came.
    pub actor: String,
    pub method: String,
    /// The request path (no query string).
    pub path: String,
    /// The operation, e.g. `deploy`, `put resource definition`.
    pub action: String,
    pub status: u16,
    /// `ok`, `denied` (401/403), `rejected` (other 4xx) or `failed` (5xx).
    pub outcome: String,
    /// The error's title, when it was refused or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
