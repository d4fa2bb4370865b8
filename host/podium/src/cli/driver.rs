//! `podium driver info|list|test`: the local authoring loop for drivers.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use podium_runtime::{
    CallReport, DriverRequest, Grants, Limits, Operation, Outcome, REDACTED, RuntimeConfig,
    SUPPORTED_WIT_VERSIONS,
};
use serde_json::{Map, Value, json};

use super::terminal::{self, errln, outln};
use crate::drivers;

#[derive(Debug, Subcommand)]
pub enum DriverCommand {
    /// Upload a driver component to a podium server.
    Push(super::remote::PushArgs),
    /// List the built-in drivers.
    List,
    /// Show a driver's id, version, digest, resource types and WIT version.
    Info {
        /// A built-in id (`podium/echo`) or a path to a `.wasm` component.
        driver: String,
    },
    /// Run one call of a driver with the service's sandbox and limits and
    /// print the outcome as JSON (exit 0) or the error as JSON (exit 1).
    Test {
        /// A built-in id (`podium/echo`) or a path to a `.wasm` component.
        driver: String,
        #[arg(long, value_enum)]
        action: Action,
        /// JSON file with the request: `{context, params, driver_values,
        /// driver_secrets, state}` (all optional); `-` reads standard input.
        #[arg(long)]
        input: PathBuf,
        /// Capability grant, e.g. `http://127.0.0.1:8080`, `postgres://db:5432`
        /// or `net:10.0.0.0/8`. Repeatable. Nothing is granted by default.
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// Wall-clock deadline of the call, in seconds.
        #[arg(long, default_value_t = 30)]
        deadline_secs: u64,
        /// Memory cap of the driver, in MiB.
        #[arg(long, default_value_t = 128)]
        memory_mib: u64,
        /// Print secret outputs instead of `<redacted>`.
        #[arg(long)]
        show_secrets: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Action {
    Plan,
    Apply,
    Delete,
}

pub async fn run(cmd: DriverCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DriverCommand::Push(a) => super::blocking(move || super::remote::push(a)).await,
        DriverCommand::List => {
            for b in podium_builtins::BUILTINS {
                outln!("{:<18} {}", b.id, b.description);
            }
            Ok(ExitCode::SUCCESS)
        }
        DriverCommand::Info { driver } => info(&driver).await,
        DriverCommand::Test {
            driver,
            action,
            input,
            grants,
            deadline_secs,
            memory_mib,
            show_secrets,
        } => {
            let limits = Limits {
                deadline: Duration::from_secs(deadline_secs),
                memory: memory_mib << 20,
                ..Limits::default()
            };
            let op = match action {
                Action::Plan => Operation::Plan,
                Action::Apply => Operation::Apply,
                Action::Delete => Operation::Delete,
            };
            test(&driver, op, &input, &grants, limits, show_secrets).await
        }
    }
}

fn config(limits: Limits) -> RuntimeConfig {
    RuntimeConfig {
        limits,
        cache_dir: drivers::cli_cache_dir(),
        no_pooling: false,
    }
}

async fn info(spec: &str) -> anyhow::Result<ExitCode> {
    let (id, bytes) = drivers::read(spec)?;
    // Inspected first: a file that is no driver for this host is refused
    // without compiling it.
    let component =
        podium_runtime::inspect(&bytes).map_err(|e| podium_runtime::LoadError::Invalid {
            driver: id.clone(),
            reason: e,
        })?;
    let runtime = drivers::runtime(config(Limits::default()))?;
    let driver = runtime.load(&id, &bytes)?;
    match runtime.info(&driver).await {
        Ok(info) => {
            print_json(&json!({
                "id": driver.id,
                "name": info.name,
                "version": info.version,
                "digest": driver.digest,
                "size_bytes": component.size,
                "wit_version": format!("podium:driver@{}", driver.wit_version),
                "host_supports": SUPPORTED_WIT_VERSIONS.iter().map(|v| format!("podium:driver@{v}")).collect::<Vec<_>>(),
                "imports": component.imports,
                "resource_types": info.resource_types,
                "inputs_schema": info.inputs_schema,
            }));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            print_json(&json!({ "error": e, "message": e.to_string() }));
            Ok(ExitCode::from(1))
        }
    }
}

async fn test(
    spec: &str,
    op: Operation,
    input: &PathBuf,
    grants: &[String],
    limits: Limits,
    show_secrets: bool,
) -> anyhow::Result<ExitCode> {
    let text = if input.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading the request from stdin")?
    } else {
        std::fs::read_to_string(input)
            .with_context(|| format!("reading the request file {}", input.display()))?
    };
    let request: DriverRequest = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a driver request", input.display()))?;
    let grants = Grants::parse(grants)?;
    let runtime = drivers::runtime(config(limits))?;
    let driver = drivers::load(&runtime, spec)?;
    match runtime.call(&driver, op, &request, &grants).await {
        Ok(CallReport {
            result,
            logs,
            elapsed,
        }) => {
            let mut out = match result {
                Outcome::Applied(o) => {
                    let state = if show_secrets {
                        o.state.clone().unwrap_or(Value::Null)
                    } else {
                        mask_secrets(o.state.clone().unwrap_or(Value::Null), &o.secrets)
                    };
                    json!({
                        "outcome": "applied",
                        "values": o.values,
                        "secrets": if show_secrets { Value::Object(o.secrets) } else { redact(&o.secrets) },
                        // Drivers keep generated credentials in their state:
                        // the secret outputs are masked there too.
                        "state": state,
                    })
                }
                Outcome::Plan { action, summary } => {
                    json!({ "outcome": "plan", "action": action, "summary": summary })
                }
                Outcome::Deleted => json!({ "outcome": "deleted" }),
                Outcome::Info(info) => json!({ "outcome": "info", "info": info }),
            };
            out["driver"] = json!({ "id": driver.id, "digest": driver.digest });
            out["logs"] = json!(logs);
            out["elapsed_ms"] = json!(elapsed.as_secs_f64() * 1e3);
            print_json(&out);
            Ok(ExitCode::SUCCESS)
        }
        Err(CallReport {
            result: err, logs, ..
        }) => {
            print_json(&json!({ "error": err, "message": err.to_string(), "logs": logs }));
            Ok(ExitCode::from(1))
        }
    }
}

fn redact(secrets: &Map<String, Value>) -> Value {
    Value::Object(
        secrets
            .keys()
            .map(|k| (k.clone(), Value::String(REDACTED.into())))
            .collect(),
    )
}

fn print_json(v: &Value) {
    if let Err(e) = terminal::print_json(v) {
        errln!("error: printing the result: {e}");
    }
}

/// `value` with every string that contains one of the secret output values
/// replaced by `<redacted>`.
fn mask_secrets(value: Value, secrets: &Map<String, Value>) -> Value {
    let needles: Vec<&str> = secrets
        .values()
        .filter_map(Value::as_str)
        .filter(|s| s.len() >= 4)
        .collect();
    fn walk(v: Value, needles: &[&str]) -> Value {
        match v {
            Value::String(s) if needles.iter().any(|n| s.contains(n)) => json!(REDACTED),
            Value::Array(a) => Value::Array(a.into_iter().map(|v| walk(v, needles)).collect()),
            Value::Object(m) => {
                Value::Object(m.into_iter().map(|(k, v)| (k, walk(v, needles))).collect())
            }
            other => other,
        }
    }
    walk(value, &needles)
}
