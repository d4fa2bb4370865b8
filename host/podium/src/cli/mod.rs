//! The command line. Only this module knows the terminal: it parses
//! arguments, prints results and turns errors into exit codes.

mod driver;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Podium: a self-hostable platform orchestrator. Score workloads in,
/// sandboxed WebAssembly drivers provisioning what they need.
#[derive(Debug, Parser)]
#[command(name = "podium", version, about, propagate_version = true)]
pub struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `podium=debug`.
    #[arg(long, env = "PODIUM_LOG", global = true, default_value = "warn")]
    log: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect and run drivers locally (no server, no cluster).
    #[command(subcommand)]
    Driver(driver::DriverCommand),
}

/// Exit codes: 0 success, 1 the operation failed (a driver error, an invalid
/// file), 2 bad usage or input the command could not read.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Driver(cmd) => driver::run(cmd).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
