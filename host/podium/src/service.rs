//! The service's state: the driver runtime with the built-in drivers loaded.
//! (Deployments, the store and the pipeline arrive with the service issue.)

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use podium_runtime::{Runtime, RuntimeConfig};
use serde::Serialize;

/// A driver the service can use, as the API lists it.
#[derive(Debug, Clone, Serialize)]
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
    #[allow(dead_code)] // used by the pipeline, next
    runtime: Runtime,
    drivers: Vec<DriverEntry>,
    ready: AtomicBool,
    data_dir: PathBuf,
}

impl Service {
    /// Open the data directory and load the built-in drivers (from the
    /// compiled-driver cache when possible).
    pub async fn start(data_dir: &Path) -> anyhow::Result<Service> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(data_dir.join("cache").join("drivers")),
            ..RuntimeConfig::default()
        })?;
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
        }
        Ok(Service {
            runtime,
            drivers,
            ready: AtomicBool::new(true),
            data_dir: data_dir.to_path_buf(),
        })
    }

    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    pub fn drivers(&self) -> &[DriverEntry] {
        &self.drivers
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}
