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

/// Why the deployment was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Deploy,
    Redeploy,
    Rollback,
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseStatus {
    pub name: String,
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

/// Why a deployment failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The resource (`type.class#res_id`), when one resource failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// `driver_id@sha256:…`, when a driver failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    pub phase: String,
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
    #[serde(default)]
    pub resources: Vec<ResourceProgress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Failure>,
    /// Number of events written (the next event's sequence number).
    #[serde(default)]
    pub events: u64,
}

/// One event of a deployment, named `<Noun><Verb>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub deploy_id: String,
    pub seq: u64,
    pub at: Timestamp,
    /// `DeploymentQueued`, `PhaseStarted`, `ResourceApplied`, …
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    pub message: String,
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
