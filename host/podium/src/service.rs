//! The service: the store, the driver runtime with its drivers, the
//! pipeline, and the out-of-the-box development defaults.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use podium_pipeline::{Config, Pipeline, Registry};
use podium_runtime::{Limits, Runtime, RuntimeConfig};
use podium_store::{Repo, RepoError, SledStore, StoreError, WriteSet};

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
    /// The read-modify-write sections of the configuration ([`Section`]).
    sections: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A part of the configuration whose writers read, check and write back:
/// one writer at a time per section, from its read to its commit, so no
/// concurrent request computes from a state another is replacing (two
/// definition PUTs both taking latest + 1, two value PUTs each dropping
/// the other's key).
///
/// These are in-process locks: they are enough for one service over its
/// store. Several replicas sharing a store would need the store to
/// compare-and-set instead (commit only if the record read is unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section<'a> {
    /// Env types, apps and envs: their writes check one another (an env
    /// needs its app and env type; a delete needs no dependents).
    Structure,
    /// Resource definitions: versions are numbered latest + 1, and a new
    /// version must not tie with any other definition.
    Definitions,
    /// Declared resource types: a new declaration must be compatible with
    /// the stored one.
    ResourceTypes,
    /// The shared values of one app (one versioned record).
    Values(&'a str),
    /// Uploaded drivers: the store and the runtime's registry are updated
    /// in the same order.
    Drivers,
}

impl Section<'_> {
    fn key(&self) -> String {
        match self {
            Section::Structure => "structure".to_owned(),
            Section::Definitions => "definitions".to_owned(),
            Section::ResourceTypes => "resource-types".to_owned(),
            Section::Values(app) => format!("values/{app}"),
            Section::Drivers => "drivers".to_owned(),
        }
    }
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
        // Ephemeral environments: expiries that passed while stopped are
        // torn down now, later ones when they pass. The timer is the store's
        // expiry index, not memory.
        let expiry = pipeline.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = expiry.expire_due(podium_store::Timestamp::now()).await {
                    tracing::error!(error = %e, "EnvironmentExpiryFailed");
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        });
        Ok(Arc::new(Service {
            pipeline,
            drivers: std::sync::RwLock::new(drivers),
            ready: AtomicBool::new(true),
            data_dir: data_dir.to_path_buf(),
            secret_key_file,
            rotating: std::sync::Mutex::new(()),
            sections: std::sync::Mutex::new(std::collections::HashMap::new()),
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

    /// Commits `ws` atomically and durably on a blocking thread: the fsync
    /// must not hold one of the async runtime's few workers. Every commit
    /// of the API goes through here.
    pub async fn commit(&self, ws: WriteSet) -> Result<(), RepoError> {
        let repo = self.repo().clone();
        tokio::task::spawn_blocking(move || repo.commit(ws))
            .await
            .unwrap_or_else(|e| {
                Err(RepoError::Store(StoreError::Backend(format!(
                    "commit task failed: {e}"
                ))))
            })
    }

    /// Waits for section `section` and holds it until the guard drops:
    /// take it before reading what a write depends on, drop it after the
    /// commit.
    pub async fn section(&self, section: Section<'_>) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut map = self
                .sections
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            map.entry(section.key()).or_default().clone()
        };
        lock.lock_owned().await
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
