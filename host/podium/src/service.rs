//! The service: the store, the driver runtime with its drivers, the
//! pipeline, and the out-of-the-box development defaults.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use podium_pipeline::{Config, Pipeline, Registry};
use podium_runtime::{Limits, Runtime, RuntimeConfig};
use podium_store::{Repo, SledStore};

use crate::{auth, secret_key};
use serde::Serialize;

use crate::defaults;

/// The wall-clock deadline of one driver call: longer than the Kubernetes
/// driver's default rollout wait (`rollout_timeout`, 5 minutes), which is
/// part of its `apply`.
pub const CALL_DEADLINE: std::time::Duration = std::time::Duration::from_secs(360);

/// A driver the service can use, as the API lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DriverEntry {
    pub id: String,
    pub name: String,
    pub version: String,
    pub digest: String,
    pub wit_version: String,
    pub resource_types: Vec<String>,
    pub builtin: bool,
}

pub struct Service {
    pipeline: Pipeline,
    drivers: std::sync::RwLock<Vec<DriverEntry>>,
    ready: AtomicBool,
    data_dir: PathBuf,
    secret_key_file: PathBuf,
    /// One rotation at a time.
    rotating: std::sync::Mutex<()>,
}

impl Service {
    /// Opens the data directory and its store, loads the built-in and
    /// uploaded drivers (from the compiled-driver cache when possible),
    /// seeds the development defaults on first start and recovers
    /// deployments a previous process left unfinished.
    pub async fn start(data_dir: &Path) -> anyhow::Result<Arc<Service>> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
        let store = SledStore::open(&data_dir.join("state"))
            .with_context(|| format!("opening the store in {}", data_dir.display()))?;
        let secret_key_file = secret_key::path(data_dir);
        let (ring, pending) = secret_key::load(&secret_key_file)?;
        let repo = Repo::new(Arc::new(store), ring);
        match pending {
            // A rotation was interrupted: finish it before anything else.
            Some(next) => {
                secret_key::rotate(&repo, &secret_key_file, Some(next))?;
            }
            None => {
                let n = repo.reseal_stale()?;
                if n > 0 {
                    tracing::info!(records = n, "SecretsSealed");
                }
            }
        }
        if let Some(path) = auth::bootstrap(&repo, data_dir)? {
            tracing::info!(file = %path.display(), "AdminTokenCreated");
        }
        let runtime = Arc::new(Runtime::new(RuntimeConfig {
            cache_dir: Some(data_dir.join("cache").join("drivers")),
            limits: Limits {
                deadline: CALL_DEADLINE,
                ..Limits::default()
            },
            ..RuntimeConfig::default()
        })?);
        let registry = Arc::new(Registry::default());
        let mut drivers = Vec::new();
        for b in podium_builtins::BUILTINS {
            let driver = runtime.load(b.id, b.component)?;
            let info = runtime.info(&driver).await?;
            drivers.push(DriverEntry {
                id: b.id.to_string(),
                name: info.name,
                version: info.version,
                digest: driver.digest.clone(),
                wit_version: format!("podium:driver@{}", driver.wit_version),
                resource_types: info.resource_types,
                builtin: true,
            });
            registry.insert(driver);
        }
        for rec in repo.drivers()? {
            let Some(bytes) = repo.blob(&rec.digest)? else {
                tracing::error!(driver = %rec.id, "uploaded driver's component is missing from the store");
                continue;
            };
            match runtime.load(&rec.id, &bytes) {
                Ok(driver) => {
                    drivers.push(DriverEntry {
                        id: rec.id.clone(),
                        name: rec.name.clone(),
                        version: rec.version.clone(),
                        digest: driver.digest.clone(),
                        wit_version: rec.wit_version.clone(),
                        resource_types: rec.resource_types.clone(),
                        builtin: false,
                    });
                    registry.insert(driver);
                }
                Err(e) => {
                    tracing::error!(driver = %rec.id, error = %e, "cannot load uploaded driver")
                }
            }
        }
        defaults::seed(&repo, data_dir)?;
        let pipeline = Pipeline::new(repo, runtime, registry, Config::default());
        let interrupted = pipeline.recover().await?;
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                "deployments interrupted by the previous stop were marked failed"
            );
        }
        Ok(Arc::new(Service {
            pipeline,
            drivers: std::sync::RwLock::new(drivers),
            ready: AtomicBool::new(true),
            data_dir: data_dir.to_path_buf(),
            secret_key_file,
            rotating: std::sync::Mutex::new(()),
        }))
    }

    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    pub fn drivers(&self) -> Vec<DriverEntry> {
        self.drivers.read().map(|d| d.clone()).unwrap_or_default()
    }

    pub fn add_driver(&self, entry: DriverEntry) {
        if let Ok(mut d) = self.drivers.write() {
            d.retain(|e| e.id != entry.id);
            d.push(entry);
        }
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    pub fn repo(&self) -> &Repo {
        self.pipeline.repo()
    }

    /// Seals every secret under a new key (blocking: call off the async
    /// runtime).
    pub fn rotate_key(&self) -> anyhow::Result<secret_key::Rotated> {
        let _one = self
            .rotating
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        secret_key::rotate(self.repo(), &self.secret_key_file, None)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}
