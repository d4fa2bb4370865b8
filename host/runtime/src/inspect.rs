//! What a component is, checked before it is stored or compiled.
//!
//! Compiling a Python or JavaScript driver takes seconds; saying that a file
//! is not a driver for this host should not. [`inspect`] parses the
//! component's outer structure with wasmparser (validating it, but not the
//! function bodies, which compiling checks anyway) and answers:
//!
//! - is it a component at all (not a core module, not garbage)?
//! - does it export `podium:driver/driver@X` for an `X` this host supports,
//!   with the four functions of the contract, of the contract's types?
//! - does it import only interfaces the host provides?
//!
//! Errors name what was found and what is supported, e.g. "component exports
//! podium:driver/driver@0.2.0; this host supports podium:driver/driver@0.1.0".

use sha2::{Digest, Sha256};
use wasmparser::component_types::ComponentEntityType;
use wasmparser::types::Types;
use wasmparser::{Encoding, Parser, Payload, ValidPayload, Validator, WasmFeatures};

use crate::SUPPORTED_WIT_VERSIONS;
use crate::contract;

/// The interface every driver exports (without its `@version`).
pub const DRIVER_INTERFACE: &str = "podium:driver/driver";

/// `podium:driver` interfaces a driver may import, in the supported versions.
const PODIUM_IMPORTS: &[&str] = &[
    "podium:driver/types",
    "podium:driver/log",
    "podium:driver/sql",
    "podium:driver/tls",
];

/// WASI 0.2 interfaces the host links (wasmtime-wasi's p2 set, with empty,
/// deny-everything implementations, plus outgoing `wasi:http`). Any 0.2.x
/// version links: wasmtime matches semver-compatible versions.
const WASI_IMPORTS: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/ip-name-lookup",
    "wasi:http/types",
    "wasi:http/outgoing-handler",
];

/// The WASI version family the host links.
const WASI_VERSION_PREFIX: &str = "0.2.";

/// What [`inspect`] learned about a driver component.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ComponentInfo {
    /// `sha256:<hex>` of the component bytes: the driver's identity.
    pub digest: String,
    /// Size of the component in bytes.
    pub size: usize,
    /// The `podium:driver` version it was built for, e.g. `0.1.0`.
    pub wit_version: String,
    /// Top-level import names, e.g. `wasi:http/outgoing-handler@0.2.12`.
    pub imports: Vec<String>,
    /// Top-level export names, e.g. `podium:driver/driver@0.1.0`.
    pub exports: Vec<String>,
}

/// Why a file is not a driver this host can run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InspectError {
    #[error("not WebAssembly: the file does not start with the `\\0asm` magic number")]
    NotWasm,
    #[error(
        "this is a core WebAssembly module, not a component; build a component \
         (`cargo build --target wasm32-wasip2`, componentize-py, componentize-js)"
    )]
    CoreModule,
    #[error("not a valid WebAssembly component: {0}")]
    Invalid(String),
    #[error(
        "component exports no driver interface (it exports: {found}); \
         this host supports {supported}"
    )]
    NoDriverExport { found: String, supported: String },
    #[error("component exports {found}; this host supports {supported}")]
    UnsupportedVersion { found: String, supported: String },
    #[error("component exports {export} without the function(s) {missing}")]
    IncompleteExport { export: String, missing: String },
    #[error("{function} has the type `{found}`; the contract says `{expected}`")]
    WrongType {
        function: String,
        found: String,
        expected: String,
    },
    #[error(
        "component imports what this host does not provide: {found}; \
         a driver may import {supported}"
    )]
    UnsupportedImports { found: String, supported: String },
}

/// Check that `bytes` is a driver component this host can run, without
/// compiling it.
pub fn inspect(bytes: &[u8]) -> Result<ComponentInfo, InspectError> {
    let checked = check(bytes)?;
    Ok(ComponentInfo {
        digest: format!("sha256:{}", hex::encode(Sha256::digest(bytes))),
        size: bytes.len(),
        wit_version: checked.wit_version,
        imports: checked.imports,
        exports: checked.exports,
    })
}

/// What [`check`] found.
pub(crate) struct Checked {
    pub wit_version: String,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

/// [`inspect`] without the digest (the caller has one).
pub(crate) fn check(bytes: &[u8]) -> Result<Checked, InspectError> {
    let (imports, exports, types) = parse(bytes)?;
    let wit_version = driver_version(&exports)?;
    let export = format!("{DRIVER_INTERFACE}@{wit_version}");
    check_imports(&imports)?;
    check_export(&types, &export, &wit_version)?;
    Ok(Checked {
        wit_version,
        imports,
        exports,
    })
}

/// The supported driver exports, for messages:
/// `podium:driver/driver@0.1.0`.
pub fn supported_exports() -> String {
    SUPPORTED_WIT_VERSIONS
        .iter()
        .map(|v| format!("{DRIVER_INTERFACE}@{v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

type Parsed = (Vec<String>, Vec<String>, Types);

/// Validate the component's structure and collect its top-level import and
/// export names. Function bodies are skipped: compiling validates them, and
/// here they would cost most of the time for a 20 MB Python component.
fn parse(bytes: &[u8]) -> Result<Parsed, InspectError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(InspectError::NotWasm);
    }
    let invalid = |e: wasmparser::BinaryReaderError| InspectError::Invalid(e.to_string());
    let mut validator = Validator::new_with_features(WasmFeatures::default());
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    let mut depth = 0usize;
    let mut types = None;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(invalid)?;
        match &payload {
            Payload::Version { encoding, .. } => {
                if depth == 0 && *encoding == Encoding::Module {
                    return Err(InspectError::CoreModule);
                }
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(section) if depth == 1 => {
                for import in section.clone() {
                    imports.push(import.map_err(invalid)?.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(section) if depth == 1 => {
                for export in section.clone() {
                    exports.push(export.map_err(invalid)?.name.name.to_string());
                }
            }
            _ => {}
        }
        match validator.payload(&payload).map_err(invalid)? {
            ValidPayload::End(t) if depth == 0 => types = Some(t),
            // Function bodies: validated when compiling.
            ValidPayload::Ok
            | ValidPayload::Parser(_)
            | ValidPayload::Func(..)
            | ValidPayload::End(_) => {}
        }
    }
    let types = types.ok_or_else(|| InspectError::Invalid("unexpected end of the file".into()))?;
    Ok((imports, exports, types))
}

/// The `podium:driver` version of the driver export, if supported.
pub(crate) fn driver_version(exports: &[String]) -> Result<String, InspectError> {
    let candidates: Vec<&String> = exports
        .iter()
        .filter(|e| e.split('@').next() == Some(DRIVER_INTERFACE))
        .collect();
    for name in &candidates {
        if let Some((_, v)) = name.split_once('@')
            && SUPPORTED_WIT_VERSIONS.contains(&v)
        {
            return Ok(v.to_string());
        }
    }
    if candidates.is_empty() {
        return Err(InspectError::NoDriverExport {
            found: if exports.is_empty() {
                "nothing".into()
            } else {
                exports.join(", ")
            },
            supported: supported_exports(),
        });
    }
    Err(InspectError::UnsupportedVersion {
        found: candidates
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        supported: supported_exports(),
    })
}

/// The driver export must be an instance with the contract's functions, of
/// the contract's types (compared structurally, as WIT text).
fn check_export(types: &Types, export: &str, version: &str) -> Result<(), InspectError> {
    let expected = contract::driver_functions(version).unwrap_or_default();
    let functions: Vec<(&str, String)> =
        match types.component_item_for_export(export).map(|i| &i.ty) {
            Some(ComponentEntityType::Instance(id)) => types[*id]
                .exports
                .iter()
                .filter_map(|(name, item)| match item.ty {
                    ComponentEntityType::Func(f) => {
                        Some((name.as_str(), contract::describe_func(types, &types[f])))
                    }
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
    let missing: Vec<&str> = expected
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !functions.iter().any(|(f, _)| f == name))
        .collect();
    if !missing.is_empty() {
        return Err(InspectError::IncompleteExport {
            export: export.to_string(),
            missing: missing.join(", "),
        });
    }
    for (name, want) in &expected {
        if let Some((_, found)) = functions.iter().find(|(f, _)| f == name)
            && found != want
        {
            return Err(InspectError::WrongType {
                function: format!("{export}#{name}"),
                found: found.clone(),
                expected: want.clone(),
            });
        }
    }
    Ok(())
}

fn check_imports(imports: &[String]) -> Result<(), InspectError> {
    let unsupported: Vec<&str> = imports
        .iter()
        .map(String::as_str)
        .filter(|name| !host_provides(name))
        .collect();
    if unsupported.is_empty() {
        return Ok(());
    }
    Err(InspectError::UnsupportedImports {
        found: unsupported.join(", "),
        supported: format!(
            "{} (versions {}) and WASI {}x ({})",
            PODIUM_IMPORTS.join(", "),
            SUPPORTED_WIT_VERSIONS.join(", "),
            WASI_VERSION_PREFIX,
            WASI_IMPORTS
                .iter()
                .map(|i| i.trim_start_matches("wasi:"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

/// Whether the host links an import of this name.
pub(crate) fn host_provides(name: &str) -> bool {
    let Some((interface, version)) = name.split_once('@') else {
        return false;
    };
    if PODIUM_IMPORTS.contains(&interface) {
        return SUPPORTED_WIT_VERSIONS.contains(&version);
    }
    WASI_IMPORTS.contains(&interface) && version.starts_with(WASI_VERSION_PREFIX)
}

/// Every interface name the host links, in one version each (for tests that
/// check this list against the real linker).
#[cfg(test)]
pub(crate) fn provided_imports() -> Vec<String> {
    let podium = PODIUM_IMPORTS.iter().flat_map(|i| {
        SUPPORTED_WIT_VERSIONS
            .iter()
            .map(move |v| format!("{i}@{v}"))
    });
    let wasi = WASI_IMPORTS.iter().map(|i| format!("{i}@0.2.0"));
    podium.chain(wasi).collect()
}
