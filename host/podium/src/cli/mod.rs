//! The command line. Only this module knows the terminal: it parses
//! arguments, prints results and turns errors into exit codes.

mod access;
mod client;
mod driver;
mod input;
mod lifecycle;
mod remote;
mod score;
mod serve;
mod terminal;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use terminal::errln;

/// Podium: a self-hostable platform orchestrator. Score workloads in,
/// sandboxed WebAssembly drivers provisioning what they need.
#[derive(Debug, Parser)]
#[command(name = "podium", version, about, propagate_version = true)]
pub struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `podium=debug`.
    /// Defaults to `info` for `serve`, `warn` otherwise.
    #[arg(long, env = "PODIUM_LOG", global = true)]
    log: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or update env types, resource types, apps, envs, definitions,
    /// values and profiles from declarative YAML documents (re-applying is
    /// a no-op).
    Apply(remote::ApplyArgs),
    /// Deploy Score workloads to an environment.
    Deploy(remote::DeployArgs),
    /// Show what a deployment would do, without doing it.
    Plan(remote::DeployArgs),
    /// List or show apps, envs, deploys, resources, definitions, resource
    /// types, drivers.
    Get(remote::GetArgs),
    /// Which resource definition a resource matches in an environment, and
    /// why every other definition of its type lost.
    Explain(remote::ExplainArgs),
    /// The change between two deployments' sets (secrets masked).
    Diff(remote::DiffArgs),
    /// Deploy an earlier deployment's set again.
    Rollback(remote::RollbackArgs),
    /// The events of a deployment.
    Logs(remote::LogsArgs),
    /// Environments: create (clone with `--from`, ephemeral with `--ttl`).
    #[command(subcommand)]
    Env(lifecycle::EnvCommand),
    /// Deploy one environment's last successful set to another.
    Promote(lifecycle::PromoteArgs),
    /// Tear down an environment or an app.
    #[command(subcommand)]
    Delete(lifecycle::DeleteCommand),
    /// Shared values and secrets of an app (`${values.KEY}`).
    #[command(subcommand)]
    Values(access::ValuesCommand),
    /// API tokens: create, list, revoke.
    #[command(subcommand)]
    Tokens(access::TokensCommand),
    /// Show the token in use: its role, app and env types.
    Whoami(client::ServerArgs),
    /// Administration: secret key rotation, the audit log.
    #[command(subcommand)]
    Admin(access::AdminCommand),
    /// Inspect and run drivers locally, or push one to a server.
    #[command(subcommand)]
    Driver(driver::DriverCommand),
    /// Work with Score files.
    #[command(subcommand)]
    Score(score::ScoreCommand),
    /// Run the podium service.
    Serve(serve::ServeArgs),
}

/// Exit codes: 0 success, 1 the operation failed (a driver error, an invalid
/// file), 2 bad usage or input the command could not read.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_log = match cli.command {
        Command::Serve(_) => "info",
        _ => "warn",
    };
    init_tracing(cli.log.as_deref().unwrap_or(default_log));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            errln!("error: starting the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Apply(a) => blocking(move || remote::apply(a)).await,
            Command::Deploy(a) => blocking(move || remote::deploy(a)).await,
            Command::Plan(a) => blocking(move || remote::plan(a)).await,
            Command::Get(a) => blocking(move || remote::get(a)).await,
            Command::Explain(a) => blocking(move || remote::explain(a)).await,
            Command::Diff(a) => blocking(move || remote::diff(a)).await,
            Command::Rollback(a) => blocking(move || remote::rollback(a)).await,
            Command::Logs(a) => blocking(move || remote::logs(a)).await,
            Command::Env(cmd) => blocking(move || lifecycle::env(cmd)).await,
            Command::Promote(a) => blocking(move || lifecycle::promote(a)).await,
            Command::Delete(cmd) => blocking(move || lifecycle::delete(cmd)).await,
            Command::Values(cmd) => blocking(move || access::values(cmd)).await,
            Command::Tokens(cmd) => blocking(move || access::tokens(cmd)).await,
            Command::Whoami(server) => blocking(move || access::whoami(server)).await,
            Command::Admin(cmd) => blocking(move || access::admin(cmd)).await,
            Command::Driver(cmd) => driver::run(cmd).await,
            Command::Score(cmd) => Ok(score::run(cmd)),
            Command::Serve(args) => serve::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            errln!("error: {e:#}");
            // The server refused the request (a problem document): the
            // operation failed; anything else is bad usage or unreadable input.
            if e.downcast_ref::<client::ClientError>().is_some() {
                ExitCode::FAILURE
            } else {
                ExitCode::from(2)
            }
        }
    }
}

/// Runs a blocking client command off the async runtime.
async fn blocking(
    f: impl FnOnce() -> anyhow::Result<ExitCode> + Send + 'static,
) -> anyhow::Result<ExitCode> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(anyhow::anyhow!("command task failed: {e}")))
}

/// Dependencies whose debug output carries what drivers send: SQL text and
/// bound parameters (e.g. a new role's password verifier). Held at `info`
/// unless the filter names them explicitly.
const QUIET_TARGETS: &[&str] = &["tokio_postgres"];

fn init_tracing(filter: &str) {
    let mut filter = filter.to_owned();
    for target in QUIET_TARGETS {
        if !filter.contains(target) {
            filter.push_str(&format!(",{target}=info"));
        }
    }
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}
