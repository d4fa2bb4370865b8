//! Environment lifecycle commands: `env create` (with `--from` to clone),
//! `promote`, `delete env|app`.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::client::{Client, ServerArgs};
use super::remote::finish_deploy;
use super::terminal::{errln, outln};

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Create an environment; `--from` clones another one's current set
    /// into it, `--ttl` makes it ephemeral.
    Create(EnvCreateArgs),
}

#[derive(Debug, Args)]
pub struct EnvCreateArgs {
    /// The new environment's id.
    name: String,
    #[arg(long)]
    app: String,
    /// Its environment type.
    #[arg(long = "type")]
    env_type: String,
    /// Deploy this environment's current set into the new one.
    #[arg(long)]
    from: Option<String>,
    /// With `--from`: copy the source's value overrides too.
    #[arg(long)]
    with_values: bool,
    /// Tear it down by itself after this long (`72h`, `30m`, `1d`).
    #[arg(long)]
    ttl: Option<String>,
    /// Wait for the clone's deployment.
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    #[arg(long)]
    app: String,
    /// The environment whose last successful set is promoted.
    #[arg(long)]
    from: String,
    /// The environment it is deployed to (with its own definitions).
    #[arg(long)]
    to: String,
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, Subcommand)]
pub enum DeleteCommand {
    /// Tear an environment down: every resource deleted through its driver,
    /// then the environment removed. Again to continue a failed teardown.
    Env(DeleteEnvArgs),
    /// Tear down every environment of an app, then remove the app.
    App(DeleteAppArgs),
}

#[derive(Debug, Args)]
pub struct DeleteEnvArgs {
    name: String,
    #[arg(long)]
    app: String,
    #[arg(long)]
    wait: bool,
    /// Admin only: forget the resources without deleting them.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct DeleteAppArgs {
    name: String,
    #[command(flatten)]
    server: ServerArgs,
}

pub fn env(cmd: EnvCommand) -> anyhow::Result<ExitCode> {
    let EnvCommand::Create(a) = cmd;
    let c = Client::new(&a.server);
    let mut body = json!({"type": a.env_type});
    if let Some(from) = &a.from {
        body["from_env"] = json!(from);
        body["with_values"] = json!(a.with_values);
    }
    if let Some(ttl) = &a.ttl {
        body["ttl"] = json!(ttl);
    }
    let r = c.put_json(&format!("/api/v1/apps/{}/envs/{}", a.app, a.name), &body)?;
    let expiry = r
        .body
        .get("expires_at")
        .and_then(Value::as_str)
        .map(|t| format!(" (expires {t})"))
        .unwrap_or_default();
    outln!("environment {}/{} ready{expiry}", a.app, a.name);
    match r.body.get("deploy") {
        Some(d) => finish_deploy(&c, d, a.wait),
        None => Ok(ExitCode::SUCCESS),
    }
}

pub fn promote(a: PromoteArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&a.server);
    let r = c.post_json(
        &format!("/api/v1/apps/{}/envs/{}/deploys", a.app, a.to),
        &json!({"from_env": a.from, "comment": format!("promote from {}", a.from)}),
    )?;
    finish_deploy(&c, &r.body, a.wait)
}

pub fn delete(cmd: DeleteCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DeleteCommand::Env(a) => {
            let c = Client::new(&a.server);
            let path = format!(
                "/api/v1/apps/{}/envs/{}{}",
                a.app,
                a.name,
                if a.force { "?force=true" } else { "" }
            );
            let r = c.delete(&path)?;
            if a.force {
                let forgotten = r.body.get("forgotten").cloned().unwrap_or(json!([]));
                outln!(
                    "environment {}/{} removed; forgotten: {forgotten}",
                    a.app,
                    a.name
                );
                return Ok(ExitCode::SUCCESS);
            }
            let code = finish_deploy(&c, &r.body, a.wait)?;
            if a.wait && code == ExitCode::SUCCESS {
                outln!("environment {}/{} deleted", a.app, a.name);
            } else if a.wait {
                errln!(
                    "environment {}/{} is delete_failed: `podium delete env {} --app {}` again continues",
                    a.app,
                    a.name,
                    a.name,
                    a.app
                );
            }
            Ok(code)
        }
        DeleteCommand::App(a) => {
            let c = Client::new(&a.server);
            let r = c.delete(&format!("/api/v1/apps/{}", a.name))?;
            match r.body.get("teardowns").and_then(Value::as_array) {
                Some(list) => {
                    for t in list {
                        outln!(
                            "environment {} is torn down by deployment {}",
                            t["env"].as_str().unwrap_or_default(),
                            t["id"].as_str().unwrap_or_default()
                        );
                    }
                    outln!("app {} goes with its last environment", a.name);
                }
                None => outln!("app {} deleted", a.name),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
