//! Calling a driver: request and outcome types, one fresh `Store` per call,
//! and the translation of every way a call can end into an `Outcome` or a
//! `CallError`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use wasmtime::component::Component;
use wasmtime::{Store, Trap, UpdateDeadline, WasmBacktrace};

use crate::bindings::ComponentCorePre;
use crate::bindings::podium::driver::types as wit_types;
use crate::error::{CallError, DriverErrorKind, Fault, Operation};
use crate::grants::Grants;
use crate::limits::Limits;
use crate::mask::SecretMask;
use crate::policy::{Mode, Policy};
use crate::state::{CallState, LogLine};

/// Where a call comes from. Serialized with the field names of the API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Context {
    pub app_id: String,
    pub env_id: String,
    pub env_type: String,
    pub res_id: String,
    pub res_type: String,
    pub res_class: String,
    pub guresid: String,
    pub deploy_id: String,
}

/// One call's input (the WIT `request`, as JSON values).
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DriverRequest {
    pub context: Context,
    pub params: Value,
    pub driver_values: Value,
    pub driver_secrets: Value,
    pub state: Option<Value>,
}

impl std::fmt::Debug for DriverRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriverRequest")
            .field("context", &self.context)
            .field("params", &self.params)
            .field("driver_values", &self.driver_values)
            .field("driver_secrets", &crate::mask::REDACTED)
            .field("state", &self.state)
            .finish()
    }
}

fn json_object_string(v: &Value) -> String {
    match v {
        Value::Null => "{}".to_string(),
        v => v.to_string(),
    }
}

impl DriverRequest {
    fn to_wit(&self) -> wit_types::Request {
        let c = &self.context;
        wit_types::Request {
            context: wit_types::Context {
                app_id: c.app_id.clone(),
                env_id: c.env_id.clone(),
                env_type: c.env_type.clone(),
                res_id: c.res_id.clone(),
                res_type: c.res_type.clone(),
                res_class: if c.res_class.is_empty() {
                    "default".into()
                } else {
                    c.res_class.clone()
                },
                guresid: c.guresid.clone(),
                deploy_id: c.deploy_id.clone(),
            },
            params: json_object_string(&self.params),
            driver_values: json_object_string(&self.driver_values),
            driver_secrets: json_object_string(&self.driver_secrets),
            state: self.state.as_ref().map(|s| s.to_string()),
        }
    }
}

/// What `info` says about a driver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriverInfo {
    pub name: String,
    pub version: String,
    pub resource_types: Vec<String>,
    pub inputs_schema: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanAction {
    Create,
    Update,
    Unchanged,
    Delete,
}

/// Outputs of a successful `apply`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outputs {
    pub values: Map<String, Value>,
    pub secrets: Map<String, Value>,
    pub state: Option<Value>,
}

/// How a successful call ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Info(DriverInfo),
    Plan { action: PlanAction, summary: String },
    Applied(Outputs),
    Deleted,
}

/// A finished call: its outcome and what the driver logged.
#[derive(Debug, Clone)]
pub struct CallReport<T> {
    pub result: T,
    pub logs: Vec<LogLine>,
    pub elapsed: Duration,
}

/// Where a loaded driver's compiled code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CodeSource {
    /// Compiled now (and written to the cache, if there is one).
    Compiled,
    /// Loaded from the on-disk cache without compiling.
    Cache,
}

/// A driver ready to be called: compiled, linked, with an `InstancePre`.
pub struct Driver {
    pub id: String,
    /// `sha256:<hex>` of the component bytes.
    pub digest: String,
    /// The `podium:driver` version the component targets.
    pub wit_version: String,
    pub code_source: CodeSource,
    pub load_time: Duration,
    pub(crate) pre: ComponentCorePre<CallState>,
    pub(crate) _component: Component,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("id", &self.id)
            .field("digest", &self.digest)
            .field("wit_version", &self.wit_version)
            .finish()
    }
}

pub(crate) struct CallSpec<'a> {
    pub op: Operation,
    pub request: Option<&'a DriverRequest>,
    pub grants: &'a Grants,
}

/// Run one call in a fresh store. Every failure becomes a `CallError` naming
/// the driver, digest, call and resource.
pub(crate) async fn call(
    engine: &wasmtime::Engine,
    limits: &Limits,
    driver: &Driver,
    spec: CallSpec<'_>,
) -> Result<CallReport<Outcome>, CallReport<CallError>> {
    let started = Instant::now();
    let mode = match spec.op {
        Operation::Info => Mode::Nothing,
        Operation::Plan => Mode::ReadOnly,
        Operation::Apply | Operation::Delete => Mode::ReadWrite,
    };
    let policy = Arc::new(Policy::new(spec.grants.clone(), mode));
    let mask = Arc::new(match spec.request {
        Some(r) => SecretMask::from_json(&[&r.driver_secrets]),
        None => SecretMask::default(),
    });
    let state = match CallState::new(
        limits,
        policy.clone(),
        mask.clone(),
        driver.id.as_str().into(),
    ) {
        Ok(state) => state,
        Err(message) => {
            return Err(CallReport {
                result: call_error(driver, &spec, Fault::Host { message }),
                logs: Vec::new(),
                elapsed: started.elapsed(),
            });
        }
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    let deadline_at = started + limits.deadline;
    store.set_epoch_deadline(1);
    // Each tick: past the deadline, stop; otherwise yield to the executor so
    // a spinning driver never starves other calls on the same thread.
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline_at {
            Ok(UpdateDeadline::Interrupt)
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });

    let wit_request = spec.request.map(DriverRequest::to_wit);
    let run = async {
        let instance = driver.pre.instantiate_async(&mut store).await?;
        let iface = instance.podium_driver_driver();
        let r: Result<RawOutcome, wasmtime::Error> = match (spec.op, &wit_request) {
            (Operation::Info, _) => iface.call_info(&mut store).await.map(RawOutcome::Info),
            (Operation::Plan, Some(req)) => {
                iface.call_plan(&mut store, req).await.map(RawOutcome::Plan)
            }
            (Operation::Apply, Some(req)) => iface
                .call_apply(&mut store, req)
                .await
                .map(RawOutcome::Apply),
            (Operation::Delete, Some(req)) => iface
                .call_delete(&mut store, req)
                .await
                .map(RawOutcome::Delete),
            (op, None) => Err(wasmtime::format_err!("`{op}` needs a request")),
        };
        r
    };
    let result = tokio::time::timeout(limits.deadline, run).await;

    let fault_or_outcome = match result {
        Err(_elapsed) => Err(Fault::DeadlineExceeded {
            limit: limits.deadline,
        }),
        Ok(Err(e)) => Err(classify_trap(&e, store.data(), limits)),
        Ok(Ok(raw)) => translate(raw, limits, &policy, &mask),
    };
    let data = store.into_data();
    let mut logs = data.logs;
    if data.logs_dropped > 0 {
        logs.push(LogLine {
            level: "warn",
            message: format!("{} log line(s) dropped: log cap reached", data.logs_dropped),
        });
    }
    let elapsed = started.elapsed();
    match fault_or_outcome {
        Ok(result) => Ok(CallReport {
            result,
            logs,
            elapsed,
        }),
        Err(fault) => Err(CallReport {
            result: call_error(driver, &spec, fault),
            logs,
            elapsed,
        }),
    }
}

fn call_error(driver: &Driver, spec: &CallSpec<'_>, fault: Fault) -> CallError {
    CallError {
        driver: driver.id.clone(),
        digest: driver.digest.clone(),
        call: spec.op,
        resource: spec
            .request
            .map(|r| r.context.res_id.clone())
            .filter(|r| !r.is_empty()),
        fault,
    }
}

enum RawOutcome {
    Info(wit_types::Info),
    Plan(Result<wit_types::Plan, wit_types::Error>),
    Apply(Result<wit_types::Outputs, wit_types::Error>),
    Delete(Result<(), wit_types::Error>),
}

fn classify_trap(e: &wasmtime::Error, state: &CallState, limits: &Limits) -> Fault {
    if let Some(requested) = state.limiter.memory_refused {
        return Fault::MemoryLimit {
            requested,
            limit: limits.memory,
        };
    }
    if let Some(Trap::Interrupt) = e.downcast_ref::<Trap>() {
        return Fault::DeadlineExceeded {
            limit: limits.deadline,
        };
    }
    let backtrace = e
        .downcast_ref::<WasmBacktrace>()
        .map(|bt| bt.to_string())
        .unwrap_or_default();
    let stderr = state.stderr_text();
    let what = match e.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => e.to_string(),
    };
    let message = if stderr.is_empty() {
        state.mask.apply(&what)
    } else {
        format!("{}; the driver wrote: {stderr}", state.mask.apply(&what))
    };
    if e.downcast_ref::<Trap>().is_none() && backtrace.is_empty() {
        // Not a trap of the guest: the host could not run the call.
        return Fault::Host { message };
    }
    Fault::Trap {
        message,
        backtrace: state.mask.apply(&backtrace),
    }
}

fn driver_error(e: wit_types::Error, policy: &Policy, mask: &SecretMask) -> Fault {
    let (kind, message) = match e {
        wit_types::Error::InvalidInput(m) => (DriverErrorKind::InvalidInput, m),
        wit_types::Error::Denied(m) => (DriverErrorKind::Denied, m),
        wit_types::Error::Unavailable(m) => (DriverErrorKind::Unavailable, m),
        wit_types::Error::Conflict(m) => (DriverErrorKind::Conflict, m),
        wit_types::Error::Failed(m) => (DriverErrorKind::Failed, m),
    };
    let mut message = mask.apply(&message);
    // The host knows exactly what it refused; say it even if the driver's
    // own message is vague, or if it reported the refusal as something else
    // (JavaScript's `fetch` turns every failure into "NetworkError").
    for d in policy.denials() {
        let d = d.to_string();
        if message.contains(&d) {
            continue;
        }
        message = if kind == DriverErrorKind::Denied {
            format!("{message} ({d})")
        } else {
            format!("{message} (the host denied a request of this call: {d})")
        };
    }
    Fault::Driver { kind, message }
}

fn translate(
    raw: RawOutcome,
    limits: &Limits,
    policy: &Policy,
    mask: &SecretMask,
) -> Result<Outcome, Fault> {
    let too_big = |size: usize| Fault::OutputTooLarge {
        size: size as u64,
        limit: limits.output,
    };
    match raw {
        RawOutcome::Info(info) => {
            let size = info.name.len()
                + info.version.len()
                + info.inputs_schema.len()
                + info.resource_types.iter().map(String::len).sum::<usize>();
            if size as u64 > limits.output {
                return Err(too_big(size));
            }
            let inputs_schema = if info.inputs_schema.trim().is_empty() {
                Value::Object(Map::new())
            } else {
                parse_json("inputs-schema", &info.inputs_schema)?
            };
            Ok(Outcome::Info(DriverInfo {
                name: info.name,
                version: info.version,
                resource_types: info.resource_types,
                inputs_schema,
            }))
        }
        RawOutcome::Plan(Err(e)) | RawOutcome::Delete(Err(e)) | RawOutcome::Apply(Err(e)) => {
            Err(driver_error(e, policy, mask))
        }
        RawOutcome::Plan(Ok(plan)) => {
            if plan.summary.len() as u64 > limits.output {
                return Err(too_big(plan.summary.len()));
            }
            let action = match plan.action {
                wit_types::Action::Create => PlanAction::Create,
                wit_types::Action::Update => PlanAction::Update,
                wit_types::Action::Unchanged => PlanAction::Unchanged,
                wit_types::Action::Delete => PlanAction::Delete,
            };
            Ok(Outcome::Plan {
                action,
                summary: plan.summary,
            })
        }
        RawOutcome::Delete(Ok(())) => Ok(Outcome::Deleted),
        RawOutcome::Apply(Ok(out)) => {
            let size =
                out.values.len() + out.secrets.len() + out.state.as_ref().map_or(0, String::len);
            if size as u64 > limits.output {
                return Err(too_big(size));
            }
            Ok(Outcome::Applied(Outputs {
                values: parse_object("values", &out.values)?,
                secrets: parse_object("secrets", &out.secrets)?,
                state: match out.state {
                    Some(s) => Some(parse_json("state", &s)?),
                    None => None,
                },
            }))
        }
    }
}

fn parse_json(what: &str, s: &str) -> Result<Value, Fault> {
    serde_json::from_str(s).map_err(|e| Fault::InvalidOutput {
        message: format!("`{what}` is not valid JSON: {e}"),
    })
}

fn parse_object(what: &str, s: &str) -> Result<Map<String, Value>, Fault> {
    if s.trim().is_empty() {
        return Ok(Map::new());
    }
    match parse_json(what, s)? {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        other => Err(Fault::InvalidOutput {
            message: format!(
                "`{what}` must be a JSON object, got {}",
                match other {
                    Value::Array(_) => "an array",
                    Value::String(_) => "a string",
                    Value::Number(_) => "a number",
                    Value::Bool(_) => "a boolean",
                    _ => "something else",
                }
            ),
        }),
    }
}
