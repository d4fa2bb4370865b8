//! The data of one call's `Store`: WASI (empty, deny-all, except the
//! directories of `file://` grants), `wasi:http` with the grant-checking
//! hooks, the `log`, `sql` and `tls` capabilities, the limiter. A fresh one
//! per call; dropped (with every connection it holds) after it.

use std::sync::Arc;

use serde::Serialize;
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::bindings::podium::driver::{log, sql, tls, types};
use crate::http::HttpHooks;
use crate::limits::{Limiter, Limits};
use crate::mask::SecretMask;
use crate::policy::{Mode, Policy};
use crate::sql::{MAX_CONNECTIONS, SqlConnection, SqlError};
use crate::tls::TlsRegistry;

/// Bytes of guest stderr kept (panic messages land there).
const STDERR_CAP: usize = 16 << 10;

/// One log line of a driver, secrets masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    pub level: &'static str,
    pub message: String,
}

pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    http_ctx: WasiHttpCtx,
    http_hooks: HttpHooks,
    pub(crate) limiter: Limiter,
    pub(crate) policy: Arc<Policy>,
    pub(crate) mask: Arc<SecretMask>,
    pub(crate) stderr: MemoryOutputPipe,
    pub(crate) logs: Vec<LogLine>,
    log_bytes: usize,
    log_cap: usize,
    pub(crate) logs_dropped: usize,
    driver: Arc<str>,
    open_connections: usize,
    tls: TlsRegistry,
}

impl CallState {
    pub fn new(
        limits: &Limits,
        policy: Arc<Policy>,
        mask: Arc<SecretMask>,
        driver: Arc<str>,
    ) -> Result<CallState, String> {
        let stderr = MemoryOutputPipe::new(STDERR_CAP);
        // No args, no environment, no sockets, no name lookups, and no
        // directories but the granted ones: the driver sees an empty machine.
        let mut wasi = WasiCtx::builder();
        wasi.stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        preopen_granted_directories(&mut wasi, &policy)?;
        let wasi = wasi.build();
        let tls = TlsRegistry::default();
        Ok(CallState {
            wasi,
            table: ResourceTable::new(),
            http_ctx: WasiHttpCtx::new(),
            http_hooks: HttpHooks {
                policy: policy.clone(),
                tls: tls.clone(),
            },
            limiter: Limiter::new(limits),
            policy,
            mask,
            stderr,
            logs: Vec::new(),
            log_bytes: 0,
            log_cap: limits.log_bytes,
            logs_dropped: 0,
            driver,
            open_connections: 0,
            tls,
        })
    }

    /// What the guest wrote to stderr (a panic message, usually), masked.
    pub fn stderr_text(&self) -> String {
        let bytes = self.stderr.contents();
        self.mask.apply(String::from_utf8_lossy(&bytes).trim())
    }
}

/// Preopens each `file://` grant at its own path: read-write for `apply`
/// and `delete` (creating a missing directory), read-only for `plan` (a
/// missing directory is left out: there is nothing to read), nothing for
/// `info`. The preopen confines the driver to the directory: `..`, absolute
/// paths elsewhere and symlinks leading out fail inside WASI.
fn preopen_granted_directories(wasi: &mut WasiCtxBuilder, policy: &Policy) -> Result<(), String> {
    let perms = match policy.mode {
        Mode::Nothing => return Ok(()),
        Mode::ReadOnly => FsPerms::ReadOnly,
        Mode::ReadWrite => FsPerms::ReadWrite,
    };
    for dir in policy.grants.directories() {
        let shown = dir.display();
        if perms == FsPerms::ReadWrite && !dir.exists() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create the granted directory {shown}: {e}"))?;
        }
        if perms == FsPerms::ReadOnly && !dir.exists() {
            continue;
        }
        let guest = dir
            .to_str()
            .ok_or_else(|| format!("the granted directory {shown} is not UTF-8"))?;
        wasi.preopened_dir(dir, guest, perms)
            .map_err(|e| format!("cannot open the granted directory {shown}: {e:#}"))?;
    }
    Ok(())
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http_ctx,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}

impl types::Host for CallState {}

impl log::Host for CallState {
    fn log(&mut self, level: log::Level, message: String) {
        let level = match level {
            log::Level::Trace => "trace",
            log::Level::Debug => "debug",
            log::Level::Info => "info",
            log::Level::Warn => "warn",
            log::Level::Error => "error",
        };
        if self.log_bytes + message.len() > self.log_cap {
            self.logs_dropped += 1;
            return;
        }
        self.log_bytes += message.len();
        let message = self.mask.apply(&message);
        tracing::debug!(target: "podium::driver", driver = %self.driver, level, %message, "DriverLogged");
        self.logs.push(LogLine { level, message });
    }
}

fn to_wit(e: SqlError) -> types::Error {
    match e {
        SqlError::Denied(m) => types::Error::Denied(m),
        SqlError::Unavailable(m) => types::Error::Unavailable(m),
        SqlError::InvalidInput(m) => types::Error::InvalidInput(m),
        SqlError::Failed(m) => types::Error::Failed(m),
    }
}

impl tls::Host for CallState {
    fn configure(&mut self, config: tls::ClientConfig) -> Result<(), types::Error> {
        if self.policy.mode == Mode::Nothing {
            return Err(types::Error::Denied(
                "TLS settings are not available during `info`".into(),
            ));
        }
        let request = crate::tls::Request {
            origin: &config.origin,
            ca_bundle: config.ca_bundle.as_deref(),
            client_cert: config.client_cert.as_deref(),
            client_key: config.client_key.as_deref(),
        };
        self.tls
            .configure(&request)
            .map_err(|e| types::Error::InvalidInput(self.mask.apply(&e)))
    }
}

impl sql::Host for CallState {}

impl sql::HostConnection for CallState {
    async fn open(
        &mut self,
        options: sql::ConnectOptions,
    ) -> wasmtime::Result<Result<Resource<SqlConnection>, types::Error>> {
        if self.open_connections >= MAX_CONNECTIONS {
            return Ok(Err(types::Error::Unavailable(format!(
                "at most {MAX_CONNECTIONS} SQL connections per call"
            ))));
        }
        let conn =
            match SqlConnection::open(&self.policy, &options.url, &options.user, &options.password)
                .await
            {
                Ok(c) => c,
                Err(e) => return Ok(Err(to_wit(e))),
            };
        self.open_connections += 1;
        Ok(Ok(self.table.push(conn)?))
    }

    async fn query(
        &mut self,
        conn: Resource<SqlConnection>,
        statement: String,
        params: String,
    ) -> wasmtime::Result<Result<String, types::Error>> {
        let c = self.table.get(&conn)?;
        Ok(c.query(&statement, &params).await.map_err(to_wit))
    }

    async fn execute(
        &mut self,
        conn: Resource<SqlConnection>,
        statement: String,
        params: String,
    ) -> wasmtime::Result<Result<u32, types::Error>> {
        let c = self.table.get(&conn)?;
        Ok(c.execute(&self.policy, &statement, &params)
            .await
            .map_err(to_wit))
    }

    async fn batch(
        &mut self,
        conn: Resource<SqlConnection>,
        statements: String,
    ) -> wasmtime::Result<Result<(), types::Error>> {
        let c = self.table.get(&conn)?;
        Ok(c.batch(&self.policy, &statements).await.map_err(to_wit))
    }

    async fn drop(&mut self, conn: Resource<SqlConnection>) -> wasmtime::Result<()> {
        self.table.delete(conn)?;
        self.open_connections = self.open_connections.saturating_sub(1);
        Ok(())
    }
}
