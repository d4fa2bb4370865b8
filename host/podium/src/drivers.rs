//! Where drivers come from: the built-ins embedded in the binary, or a
//! component file named on the command line.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use podium_runtime::{Driver, Runtime, RuntimeConfig};

/// The directory compiled drivers are cached in for command-line use:
/// `$PODIUM_CACHE_DIR`, else `$XDG_CACHE_HOME/podium/drivers`, else
/// `~/.cache/podium/drivers`.
pub fn cli_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("PODIUM_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("podium").join("drivers"))
}

pub fn runtime(config: RuntimeConfig) -> anyhow::Result<Runtime> {
    Ok(Runtime::new(config)?)
}

/// Load `spec`: a built-in id like `podium/echo`, or a path to a `.wasm` file.
pub fn load(runtime: &Runtime, spec: &str) -> anyhow::Result<Arc<Driver>> {
    let (id, bytes) = read(spec)?;
    Ok(runtime.load(&id, &bytes)?)
}

/// The id and component bytes of `spec` (a built-in id or a `.wasm` path).
pub fn read(spec: &str) -> anyhow::Result<(String, Cow<'static, [u8]>)> {
    if let Some(b) = podium_builtins::get(spec) {
        return Ok((b.id.to_string(), Cow::Borrowed(b.component)));
    }
    let path = Path::new(spec);
    if path.extension().is_some_and(|e| e == "wasm") || path.exists() {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading driver component {}", path.display()))?;
        return Ok((path.display().to_string(), Cow::Owned(bytes)));
    }
    let known: Vec<&str> = podium_builtins::BUILTINS.iter().map(|b| b.id).collect();
    bail!(
        "unknown driver `{spec}`: not a built-in ({}) and not a .wasm file",
        known.join(", ")
    )
}
