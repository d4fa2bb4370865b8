//! `inspect`: a component is checked before it is stored or compiled, and
//! everything that is not a driver for this host is refused with a message
//! naming what was found and what is supported.
#![allow(clippy::unwrap_used)]

use std::sync::LazyLock;

use podium_runtime::{
    InspectError, LoadError, Runtime, RuntimeConfig, SUPPORTED_WIT_VERSIONS, inspect,
};

static RUNTIME: LazyLock<Runtime> =
    LazyLock::new(|| Runtime::new(RuntimeConfig::default()).unwrap());

fn echo() -> &'static [u8] {
    podium_builtins::get("podium/echo").unwrap().component
}

/// The echo driver as if built from a `podium:driver@0.2.0` WIT package:
/// every `podium:driver/*@0.1.0` name rewritten to `@0.2.0` (same length, so
/// the binary stays valid).
fn echo_for_version_0_2_0() -> Vec<u8> {
    let mut bytes = echo().to_vec();
    let mut rewritten = 0;
    for iface in ["driver", "types", "log", "sql"] {
        let from = format!("podium:driver/{iface}@0.1.0");
        let to = format!("podium:driver/{iface}@0.2.0");
        let mut i = 0;
        while let Some(at) = find(&bytes[i..], from.as_bytes()) {
            bytes[i + at..i + at + to.len()].copy_from_slice(to.as_bytes());
            i += at + to.len();
            rewritten += 1;
        }
    }
    assert!(
        rewritten >= 2,
        "the echo component names podium:driver interfaces"
    );
    bytes
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A component exporting `podium:driver/driver@0.1.0` with the given
/// functions (all `func()`, so linking fails on the types), plus `extra`
/// items inside the component.
fn fake_driver(functions: &[&str], extra: &str) -> Vec<u8> {
    let core: String = functions
        .iter()
        .map(|f| format!("(func (export \"{f}\"))"))
        .collect();
    let lifted: String = functions
        .iter()
        .map(|f| format!("(func ${f} (canon lift (core func $i \"{f}\")))"))
        .collect();
    let exported: String = functions
        .iter()
        .map(|f| format!("(export \"{f}\" (func ${f}))"))
        .collect();
    wat::parse_str(format!(
        r#"(component
            {extra}
            (core module $m {core})
            (core instance $i (instantiate $m))
            {lifted}
            (instance $d {exported})
            (export "podium:driver/driver@0.1.0" (instance $d)))"#
    ))
    .unwrap()
}

const ALL: &[&str] = &["info", "plan", "apply", "delete"];

#[test]
fn a_real_driver_is_described() {
    let info = inspect(echo()).unwrap();
    assert_eq!(info.wit_version, "0.1.0");
    assert!(SUPPORTED_WIT_VERSIONS.contains(&info.wit_version.as_str()));
    assert_eq!(info.size, echo().len());
    assert!(info.digest.starts_with("sha256:") && info.digest.len() == 7 + 64);
    assert!(
        info.exports
            .contains(&"podium:driver/driver@0.1.0".to_string())
    );
    assert!(
        info.imports
            .iter()
            .any(|i| i.starts_with("podium:driver/types@")),
        "{:?}",
        info.imports
    );
    // The same digest as the runtime gives the loaded driver.
    assert_eq!(
        RUNTIME.load("podium/echo", echo()).unwrap().digest,
        info.digest
    );
}

#[test]
fn an_unsupported_contract_version_names_both_versions() {
    let bytes = echo_for_version_0_2_0();
    let err = inspect(&bytes).unwrap_err();
    assert!(
        matches!(err, InspectError::UnsupportedVersion { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "component exports podium:driver/driver@0.2.0; this host supports podium:driver/driver@0.1.0"
    );
    // Loading refuses it the same way, before compiling.
    let err = RUNTIME.load("myorg/next", &bytes).unwrap_err();
    assert!(matches!(err, LoadError::Invalid { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "driver myorg/next: component exports podium:driver/driver@0.2.0; \
         this host supports podium:driver/driver@0.1.0"
    );
}

#[test]
fn core_modules_and_garbage_are_not_components() {
    let core_module = wat::parse_str("(module (func (export \"apply\")))").unwrap();
    let err = inspect(&core_module).unwrap_err();
    assert_eq!(err, InspectError::CoreModule);
    assert!(
        err.to_string()
            .contains("core WebAssembly module, not a component")
    );

    assert_eq!(inspect(b"hello world").unwrap_err(), InspectError::NotWasm);
    assert_eq!(inspect(b"").unwrap_err(), InspectError::NotWasm);

    // Truncated: the header is right, the rest is not.
    let half = &echo()[..echo().len() / 2];
    let err = inspect(half).unwrap_err();
    assert!(matches!(err, InspectError::Invalid(_)), "{err:?}");
    let err = RUNTIME.load("x", half).unwrap_err().to_string();
    assert!(
        err.starts_with("driver x: not a valid WebAssembly component:"),
        "{err}"
    );
}

#[test]
fn a_component_without_the_driver_export_is_refused() {
    let nothing = wat::parse_str("(component)").unwrap();
    assert_eq!(
        inspect(&nothing).unwrap_err().to_string(),
        "component exports no driver interface (it exports: nothing); \
         this host supports podium:driver/driver@0.1.0"
    );

    let other = wat::parse_str(
        r#"(component
            (core module $m (func (export "run")))
            (core instance $i (instantiate $m))
            (func $run (canon lift (core func $i "run")))
            (export "run" (func $run)))"#,
    )
    .unwrap();
    let err = inspect(&other).unwrap_err().to_string();
    assert!(err.contains("(it exports: run)"), "{err}");

    let incomplete = fake_driver(&["info", "plan", "apply"], "");
    assert_eq!(
        inspect(&incomplete).unwrap_err().to_string(),
        "component exports podium:driver/driver@0.1.0 without the function(s) delete"
    );
}

#[test]
fn imports_the_host_does_not_provide_are_named() {
    let kv = fake_driver(
        ALL,
        r#"(import "wasi:keyvalue/store@0.2.0-draft" (instance))"#,
    );
    let err = inspect(&kv).unwrap_err();
    assert!(
        matches!(err, InspectError::UnsupportedImports { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "component imports what this host does not provide: wasi:keyvalue/store@0.2.0-draft;"
        ),
        "{msg}"
    );
    assert!(msg.contains("podium:driver/log"), "{msg}");

    // A capability of another contract version is not provided either.
    let log_0_2 = fake_driver(ALL, r#"(import "podium:driver/log@0.2.0" (instance))"#);
    let msg = inspect(&log_0_2).unwrap_err().to_string();
    assert!(msg.contains(": podium:driver/log@0.2.0;"), "{msg}");

    // WASI 0.3 is not linked; WASI 0.2.x of any patch level is.
    let unsupported_import =
        |bytes: &[u8]| matches!(inspect(bytes), Err(InspectError::UnsupportedImports { .. }));
    let p3 = fake_driver(ALL, r#"(import "wasi:io/poll@0.3.0" (instance))"#);
    assert!(unsupported_import(&p3));
    let p2 = fake_driver(ALL, r#"(import "wasi:io/poll@0.2.3" (instance))"#);
    assert!(!unsupported_import(&p2));
}

#[test]
fn functions_of_the_wrong_type_are_refused_before_compiling() {
    let untyped = fake_driver(ALL, "");
    let err = inspect(&untyped).unwrap_err();
    assert!(matches!(err, InspectError::WrongType { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "podium:driver/driver@0.1.0#info has the type `func()`; the contract says \
             `func() -> record { name: string, version: string, resource-types: list<string>, \
             inputs-schema: string }`"
        ),
        "{msg}"
    );
    let err = RUNTIME.load("x", &untyped).unwrap_err();
    assert!(matches!(err, LoadError::Invalid { .. }), "{err:?}");
}
