//! Errors of the runtime. A driver's own verdict (`invalid-input`, `denied`,
//! ...) is kept apart from sandbox faults (deadline, memory, trap), and every
//! call error names the driver, its digest, the call and the resource.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::inspect::InspectError;

/// Which export was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Info,
    Plan,
    Apply,
    Delete,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Info => "info",
            Operation::Plan => "plan",
            Operation::Apply => "apply",
            Operation::Delete => "delete",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error kinds a driver reports itself (the WIT `error` variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriverErrorKind {
    InvalidInput,
    Denied,
    Unavailable,
    Conflict,
    Failed,
}

impl DriverErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DriverErrorKind::InvalidInput => "invalid-input",
            DriverErrorKind::Denied => "denied",
            DriverErrorKind::Unavailable => "unavailable",
            DriverErrorKind::Conflict => "conflict",
            DriverErrorKind::Failed => "failed",
        }
    }
}

/// What went wrong in one call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fault {
    /// The driver returned an error of its own.
    #[error("{} error from driver: {message}", kind.as_str())]
    Driver {
        #[serde(rename = "error")]
        kind: DriverErrorKind,
        message: String,
    },
    /// The call ran past its wall-clock deadline and was stopped.
    #[error("deadline exceeded: stopped after {}", humantime(*limit))]
    DeadlineExceeded {
        #[serde(serialize_with = "ser_duration")]
        limit: Duration,
    },
    /// The driver tried to grow its memory past the cap and was stopped.
    #[error(
        "memory limit exceeded: the driver asked for {requested} bytes, the cap is {limit} bytes"
    )]
    MemoryLimit { requested: u64, limit: u64 },
    /// The driver trapped (a panic, an `unreachable`, an out-of-bounds access).
    #[error("driver trapped: {message}{}", backtrace_suffix(backtrace))]
    Trap { message: String, backtrace: String },
    /// The driver returned more bytes than the output cap allows.
    #[error("output too large: {size} bytes, the cap is {limit} bytes")]
    OutputTooLarge { size: u64, limit: u64 },
    /// The driver returned something that is not what the contract says
    /// (e.g. outputs that are not JSON objects).
    #[error("invalid output: {message}")]
    InvalidOutput { message: String },
    /// The host could not set up the call (instantiation failed, bad request).
    #[error("host error: {message}")]
    Host { message: String },
}

fn backtrace_suffix(bt: &str) -> String {
    if bt.is_empty() {
        String::new()
    } else {
        format!("\n{bt}")
    }
}

fn humantime(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime(*d))
}

impl Fault {
    /// A short, stable, low-cardinality code for events and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Fault::Driver { kind, .. } => kind.as_str(),
            Fault::DeadlineExceeded { .. } => "deadline-exceeded",
            Fault::MemoryLimit { .. } => "memory-limit",
            Fault::Trap { .. } => "trap",
            Fault::OutputTooLarge { .. } => "output-too-large",
            Fault::InvalidOutput { .. } => "invalid-output",
            Fault::Host { .. } => "host",
        }
    }

    /// True for faults of the sandbox (the host stopped the driver), as
    /// opposed to errors the driver reported itself.
    pub fn is_sandbox_fault(&self) -> bool {
        !matches!(self, Fault::Driver { .. })
    }
}

/// A failed driver call, with everything needed to find the failing piece.
#[derive(Debug, Clone, thiserror::Error, Serialize)]
#[error(
    "driver {driver}@{} {call}{}: {fault}",
    short_digest(digest),
    resource_suffix(resource)
)]
pub struct CallError {
    /// The driver id, e.g. `podium/echo`.
    pub driver: String,
    /// `sha256:<hex>` of the component.
    pub digest: String,
    pub call: Operation,
    /// The resource id the call was for, if any.
    pub resource: Option<String>,
    #[serde(flatten)]
    pub fault: Fault,
}

impl CallError {
    pub fn kind_code(&self) -> &'static str {
        self.fault.code()
    }
}

fn resource_suffix(r: &Option<String>) -> String {
    r.as_ref().map(|r| format!(" for {r}")).unwrap_or_default()
}

/// `sha256:0123456789ab` — enough to tell drivers apart in messages.
pub fn short_digest(digest: &str) -> &str {
    let end = digest.len().min("sha256:".len() + 12);
    digest.get(..end).unwrap_or(digest)
}

/// Loading a component failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Not a driver this host can run (see [`crate::inspect`]). The reason
    /// is part of the message, not a separate `source`, so `{:#}` chains do
    /// not print it twice.
    #[error("driver {driver}: {reason}")]
    Invalid {
        driver: String,
        reason: InspectError,
    },
    #[error("driver {driver}: cannot be linked: {message}")]
    Link { driver: String, message: String },
    #[error("driver {driver}: compiling failed: {message}")]
    Compile { driver: String, message: String },
}

/// Setting up the runtime failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("creating the wasmtime engine failed: {0}")]
    Engine(String),
    #[error("preparing the host capabilities failed: {0}")]
    Linker(String),
    #[error("compiled-driver cache at {path}: {message}")]
    Cache { path: String, message: String },
}
