//! The driver sandbox.
//!
//! Drivers are WebAssembly components implementing `podium:driver` (see
//! `wit/driver.wit`). This crate is the only one that knows wasmtime:
//!
//! - one [`Runtime`] per process: one `Engine` (component model, async,
//!   epoch interruption driven by a ticker thread, pooling allocator when the
//!   machine allows it) and one `Linker` with the host capabilities;
//! - [`Runtime::load`] compiles a component once (or loads the compiled
//!   artifact from the on-disk cache) and prepares an `InstancePre`;
//! - every call gets a fresh `Store` with a wall-clock deadline, a memory cap
//!   and an output cap, and the capabilities its [`Grants`] allow: WASI is
//!   present but empty (no environment, no sockets, no files but the
//!   directories of `file://` grants), outbound HTTP and SQL are checked
//!   against the grants and the resolved address, and the `tls` capability
//!   lets a driver name the CA and client identity for one HTTPS origin.
//!
//! A driver fault never takes the host down: traps, deadlines and memory
//! exhaustion end the call's store, become a [`CallError`], and the next call
//! starts from a fresh instance.

mod cache;
mod driver;
mod engine;
mod error;
pub mod grants;
mod http;
mod limits;
mod mask;
mod policy;
mod sql;
mod state;
mod tls;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

pub use cache::ArtifactCache;
pub use driver::{
    CallReport, CodeSource, Context, Driver, DriverInfo, DriverRequest, Outcome, Outputs,
    PlanAction,
};
pub use engine::{Allocator, EPOCH_TICK};
pub use error::{
    CallError, DriverErrorKind, Fault, LoadError, Operation, RuntimeError, short_digest,
};
pub use grants::{GrantError, Grants};
pub use limits::Limits;
pub use mask::{REDACTED, SecretMask};
pub use state::LogLine;

use state::CallState;

/// The `podium:driver` versions this host implements.
pub const SUPPORTED_WIT_VERSIONS: &[&str] = &["0.1.0"];

pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "podium:driver/component-core",
        imports: {
            "podium:driver/sql": async | trappable,
        },
        exports: { default: async },
        with: {
            "podium:driver/sql.connection": crate::sql::SqlConnection,
        },
    });
}

/// How to set up the runtime.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    pub limits: Limits,
    /// Where compiled drivers are cached; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// Turn the pooling allocator off (it is on by default when possible).
    pub no_pooling: bool,
}

/// The process-wide driver runtime.
pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    cache: Option<ArtifactCache>,
    limits: Limits,
    allocator: Allocator,
    _ticker: engine::Ticker,
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> Result<Runtime, RuntimeError> {
        let (engine, allocator) = engine::build(&config.limits, !config.no_pooling)?;
        let mut linker = Linker::new(&engine);
        let link = |e: wasmtime::Error| RuntimeError::Linker(e.to_string());
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(link)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(link)?;
        bindings::ComponentCore::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut linker,
            |s: &mut CallState| s,
        )
        .map_err(link)?;
        let cache = match &config.cache_dir {
            Some(dir) => Some(ArtifactCache::open(dir, &engine)?),
            None => None,
        };
        let ticker = engine::Ticker::start(engine.clone())?;
        Ok(Runtime {
            engine,
            linker,
            cache,
            limits: config.limits,
            allocator,
            _ticker: ticker,
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn allocator(&self) -> Allocator {
        self.allocator
    }

    /// Compile (or load from cache), check the contract version, link.
    pub fn load(&self, id: &str, bytes: &[u8]) -> Result<Arc<Driver>, LoadError> {
        let started = Instant::now();
        check_component_header(id, bytes)?;
        let sha = hex::encode(Sha256::digest(bytes));
        let cached = self.cache.as_ref().and_then(|c| c.load(&self.engine, &sha));
        let (component, code_source) = match cached {
            Some(c) => (c, CodeSource::Cache),
            None => {
                let c = Component::new(&self.engine, bytes).map_err(|e| LoadError::Compile {
                    driver: id.to_string(),
                    message: format!("{e:#}"),
                })?;
                if let Some(cache) = &self.cache
                    && let Err(e) = cache.store(&sha, &c)
                {
                    tracing::warn!(driver = id, error = %e, "could not cache the compiled driver");
                }
                (c, CodeSource::Compiled)
            }
        };
        let wit_version = self.contract_version(id, &component)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Link {
                driver: id.to_string(),
                message: format!("{e:#}"),
            })?;
        let pre = bindings::ComponentCorePre::new(pre).map_err(|e| LoadError::Link {
            driver: id.to_string(),
            message: format!("{e:#}"),
        })?;
        let load_time = started.elapsed();
        tracing::info!(
            driver = id,
            digest = %short_digest(&format!("sha256:{sha}")),
            source = ?code_source,
            ms = load_time.as_secs_f64() * 1e3,
            "DriverLoaded"
        );
        Ok(Arc::new(Driver {
            id: id.to_string(),
            digest: format!("sha256:{sha}"),
            wit_version,
            code_source,
            load_time,
            pre,
            _component: component,
        }))
    }

    /// The `podium:driver/driver@X` the component exports, if supported.
    fn contract_version(&self, id: &str, component: &Component) -> Result<String, LoadError> {
        let ty = component.component_type();
        let mut found = Vec::new();
        for (name, _) in ty.exports(&self.engine) {
            if let Some(v) = name.strip_prefix("podium:driver/driver@") {
                if SUPPORTED_WIT_VERSIONS.contains(&v) {
                    return Ok(v.to_string());
                }
                found.push(name.to_string());
            } else if name.starts_with("podium:driver/driver") {
                found.push(name.to_string());
            }
        }
        Err(LoadError::UnsupportedVersion {
            driver: id.to_string(),
            found: if found.is_empty() {
                "no podium:driver/driver export".into()
            } else {
                found.join(", ")
            },
            supported: SUPPORTED_WIT_VERSIONS
                .iter()
                .map(|v| format!("podium:driver/driver@{v}"))
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// Ask a driver to describe itself.
    pub async fn info(&self, driver: &Driver) -> Result<DriverInfo, CallError> {
        let grants = Grants::none();
        let spec = driver::CallSpec {
            op: Operation::Info,
            request: None,
            grants: &grants,
        };
        match driver::call(&self.engine, &self.limits, driver, spec).await {
            Ok(CallReport {
                result: Outcome::Info(info),
                ..
            }) => Ok(info),
            Ok(_) => Err(CallError {
                driver: driver.id.clone(),
                digest: driver.digest.clone(),
                call: Operation::Info,
                resource: None,
                fault: Fault::Host {
                    message: "unexpected outcome of info".into(),
                },
            }),
            Err(report) => Err(report.result),
        }
    }

    /// Run `plan`, `apply` or `delete` with the given grants.
    pub async fn call(
        &self,
        driver: &Driver,
        op: Operation,
        request: &DriverRequest,
        grants: &Grants,
    ) -> Result<CallReport<Outcome>, CallReport<CallError>> {
        let spec = driver::CallSpec {
            op,
            request: Some(request),
            grants,
        };
        driver::call(&self.engine, &self.limits, driver, spec).await
    }
}

/// A clear message for things that are not components at all.
fn check_component_header(id: &str, bytes: &[u8]) -> Result<(), LoadError> {
    let err = |m: &str| LoadError::NotAComponent {
        driver: id.to_string(),
        message: m.to_string(),
    };
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(err("missing the `\\0asm` magic number"));
    }
    // Byte 6-7 is the layer: 0 for core modules, 1 for components.
    if bytes[6..8] != [1, 0] {
        return Err(err(
            "this is a core WebAssembly module; build a component (e.g. `cargo build --target wasm32-wasip2`)",
        ));
    }
    Ok(())
}
