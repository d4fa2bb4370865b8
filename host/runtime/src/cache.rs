//! On-disk cache of compiled components.
//!
//! Compiling a component takes from 0.3 s (Rust) to 10-12 s (Python,
//! JavaScript); loading a serialized artifact, memory-mapped, takes 1-40 ms
//! (docs/benchmarks-languages.md). Artifacts are keyed by the
//! component's sha256 and the engine's compatibility hash (wasmtime version,
//! target, compiler settings), so a changed engine never loads a stale
//! artifact. Each artifact carries its own sha256 in a side file: a truncated
//! or tampered file is recompiled, never deserialized.

use std::hash::{Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::RuntimeError;

/// A directory of `<component sha256>-<engine hash>.cwasm` files.
#[derive(Debug, Clone)]
pub struct ArtifactCache {
    dir: PathBuf,
    engine_hash: String,
}

impl ArtifactCache {
    pub fn open(dir: &Path, engine: &Engine) -> Result<ArtifactCache, RuntimeError> {
        std::fs::create_dir_all(dir).map_err(|e| RuntimeError::Cache {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        // SipHash with fixed keys: stable across runs of the same build, which
        // is all a cache key needs (a different build simply recompiles).
        #[allow(deprecated)]
        let mut h = std::hash::SipHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Ok(ArtifactCache {
            dir: dir.to_path_buf(),
            engine_hash: format!("{:016x}", h.finish()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn paths(&self, component_sha: &str) -> (PathBuf, PathBuf) {
        let base = self
            .dir
            .join(format!("{component_sha}-{}", self.engine_hash));
        (base.with_extension("cwasm"), base.with_extension("sha256"))
    }

    /// The cached compiled component, if present and intact.
    pub fn load(&self, engine: &Engine, component_sha: &str) -> Option<Component> {
        let (artifact, checksum) = self.paths(component_sha);
        let want = std::fs::read_to_string(&checksum).ok()?;
        let have = sha256_file(&artifact).ok()?;
        if have != want.trim() {
            tracing::warn!(path = %artifact.display(), "compiled driver failed its checksum; recompiling");
            return None;
        }
        // SAFETY: the file was produced by `Component::serialize` on an
        // engine with the same compatibility hash (it is in the file name),
        // written by this cache (to a temporary file, then renamed: a cached
        // file is never modified in place, which a memory-mapped artifact
        // requires), and verified against the checksum written with it;
        // wasmtime additionally checks the header and settings. Mapping the
        // file instead of reading and copying it saves most of the load time
        // of a 35 MB Python or JavaScript artifact.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize_file(engine, &artifact) };
        match component {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(path = %artifact.display(), error = %e, "cached driver unusable; recompiling");
                None
            }
        }
    }

    /// Store a compiled component. Written to a temporary file and renamed,
    /// so a crash never leaves a half-written artifact under the real name.
    pub fn store(&self, component_sha: &str, component: &Component) -> Result<(), String> {
        let (artifact, checksum) = self.paths(component_sha);
        let bytes = component.serialize().map_err(|e| e.to_string())?;
        let sum = hex::encode(Sha256::digest(&bytes));
        write_atomic(&artifact, &bytes)?;
        write_atomic(&checksum, sum.as_bytes())
    }
}

/// sha256 (hex) of a file, read in large chunks.
fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf)? {
            0 => return Ok(hex::encode(hasher.finalize())),
            n => hasher.update(&buf[..n]),
        }
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}
