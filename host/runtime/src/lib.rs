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
mod contract;
mod driver;
mod engine;
mod error;
pub mod grants;
mod http;
mod inspect;
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
pub use inspect::{ComponentInfo, DRIVER_INTERFACE, InspectError, inspect};
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

    /// Check, compile (or load from cache), link.
    ///
    /// A component is [`inspect`]ed before it is compiled, so a file that is
    /// not a driver for this host fails in milliseconds with a message that
    /// names what it is, not after seconds of compiling. A cached artifact
    /// was inspected when it was compiled; only its contract version is
    /// read again.
    pub fn load(&self, id: &str, bytes: &[u8]) -> Result<Arc<Driver>, LoadError> {
        let started = Instant::now();
        let invalid = |reason| LoadError::Invalid {
            driver: id.to_string(),
            reason,
        };
        let sha = hex::encode(Sha256::digest(bytes));
        let cached = self.cache.as_ref().and_then(|c| c.load(&self.engine, &sha));
        let (component, code_source, wit_version) = match cached {
            Some(c) => {
                let version = self.contract_version(&c).map_err(invalid)?;
                (c, CodeSource::Cache, version)
            }
            None => {
                let checked = inspect::check(bytes).map_err(invalid)?;
                let c = Component::new(&self.engine, bytes).map_err(|e| LoadError::Compile {
                    driver: id.to_string(),
                    message: format!("{e:#}"),
                })?;
                if let Some(cache) = &self.cache
                    && let Err(e) = cache.store(&sha, &c)
                {
                    tracing::warn!(driver = id, error = %e, "could not cache the compiled driver");
                }
                (c, CodeSource::Compiled, checked.wit_version)
            }
        };
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

    /// The supported `podium:driver/driver@X` a compiled component exports.
    fn contract_version(&self, component: &Component) -> Result<String, InspectError> {
        let exports: Vec<String> = component
            .component_type()
            .exports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        inspect::driver_version(&exports)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// One function or resource of each interface the host should link.
    /// (`podium:driver/types` has neither: it holds only data types.)
    const PROBES: &[(&str, &str)] = &[
        ("wasi:cli/environment", "get-environment"),
        ("wasi:cli/exit", "exit"),
        ("wasi:cli/stdin", "get-stdin"),
        ("wasi:cli/stdout", "get-stdout"),
        ("wasi:cli/stderr", "get-stderr"),
        ("wasi:cli/terminal-input", "terminal-input"),
        ("wasi:cli/terminal-output", "terminal-output"),
        ("wasi:cli/terminal-stdin", "get-terminal-stdin"),
        ("wasi:cli/terminal-stdout", "get-terminal-stdout"),
        ("wasi:cli/terminal-stderr", "get-terminal-stderr"),
        ("wasi:clocks/monotonic-clock", "now"),
        ("wasi:clocks/wall-clock", "now"),
        ("wasi:filesystem/types", "descriptor"),
        ("wasi:filesystem/preopens", "get-directories"),
        ("wasi:io/error", "error"),
        ("wasi:io/poll", "pollable"),
        ("wasi:io/streams", "input-stream"),
        ("wasi:random/random", "get-random-bytes"),
        ("wasi:random/insecure", "get-insecure-random-bytes"),
        ("wasi:random/insecure-seed", "insecure-seed"),
        ("wasi:sockets/network", "network"),
        ("wasi:sockets/instance-network", "instance-network"),
        ("wasi:sockets/udp", "udp-socket"),
        ("wasi:sockets/udp-create-socket", "create-udp-socket"),
        ("wasi:sockets/tcp", "tcp-socket"),
        ("wasi:sockets/tcp-create-socket", "create-tcp-socket"),
        ("wasi:sockets/ip-name-lookup", "resolve-addresses"),
        ("wasi:http/types", "fields"),
        ("wasi:http/outgoing-handler", "handle"),
        ("podium:driver/log", "log"),
        ("podium:driver/sql", "connection"),
        ("podium:driver/tls", "configure"),
    ];

    /// Whether the linker defines `item` in the instance `import`. An
    /// instance the linker lacks is not an error by itself (an import of
    /// an empty instance type needs nothing), so ask for one item, typed
    /// as a plain function: a present item then fails only on its type.
    fn links(runtime: &Runtime, import: &str, item: &str) -> bool {
        let wat =
            format!("(component (import \"{import}\" (instance (export \"{item}\" (func)))))");
        let component = Component::new(&runtime.engine, wat).expect("valid component text");
        match runtime.linker.instantiate_pre(&component) {
            Ok(_) => true,
            Err(e) => !format!("{e:?}").contains("implementation is missing"),
        }
    }

    /// `inspect` accepts the imports the linker provides: every listed
    /// interface links (in the oldest and in the vendored WASI 0.2 version),
    /// and interfaces it refuses do not link either.
    #[test]
    fn the_import_list_matches_the_linker() {
        let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
        for name in inspect::provided_imports() {
            assert!(inspect::host_provides(&name), "{name}");
            let (interface, _) = name.split_once('@').expect("versioned");
            if interface == "podium:driver/types" {
                continue;
            }
            let item = PROBES
                .iter()
                .find(|(i, _)| *i == interface)
                .map(|(_, item)| *item)
                .unwrap_or_else(|| panic!("no probe for {interface}"));
            assert!(
                links(&runtime, &name, item),
                "{name} is listed but does not link"
            );
            if let Some(wasi) = name.strip_suffix("@0.2.0") {
                let vendored = format!("{wasi}@0.2.12");
                assert!(links(&runtime, &vendored, item), "{vendored}");
            }
        }
        for (name, item) in [
            ("wasi:http/incoming-handler@0.2.0", "handle"),
            ("wasi:keyvalue/store@0.2.0-draft", "bucket"),
            ("podium:driver/log@9.0.0", "log"),
        ] {
            assert!(!inspect::host_provides(name), "{name}");
            assert!(
                !links(&runtime, name, item),
                "{name} links but is not listed"
            );
        }
    }
}
