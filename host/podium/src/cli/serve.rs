//! `podium serve`: run the service until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use super::terminal::outln;
use crate::{api, service::Service};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PODIUM_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Data directory (state, compiled-driver cache).
    #[arg(long, env = "PODIUM_DATA", default_value = ".podium")]
    data: PathBuf,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let service = Service::start(&args.data).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data = %service.data_dir().display(), drivers = service.drivers().len(), "ServiceStarted");
    // Printed on stdout so scripts and tests can find an ephemeral port.
    outln!("podium listening on http://{addr}");
    axum::serve(listener, api::router(service))
        .with_graceful_shutdown(shutdown())
        .await
        .context("serving HTTP")?;
    tracing::info!("ServiceStopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
