//! Build-script helper: compiles guest crates of this workspace to
//! `wasm32-wasip2` components.
//!
//! Used by the build scripts of `podium-builtins` (the built-in drivers) and
//! `podium-test-harness` (the hostile test guests). It runs a nested
//! `cargo build --target wasm32-wasip2 --profile guest` with its own target
//! directory (so it never waits on the outer build's lock) and returns the
//! paths of the `.wasm` files.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Compile `packages` (cargo package names of cdylib guest crates) and return
/// one component path per package, in order. Panics with a message that says
/// what to do: a build script has no better way to fail.
pub fn build_guests(packages: &[&str]) -> Vec<PathBuf> {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let workspace = workspace_root(&manifest_dir);
    let target_dir = guest_target_dir(&workspace);
    ensure_target_installed();

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&workspace)
        .args(["build", "--target", "wasm32-wasip2", "--profile", "guest"])
        .arg("--target-dir")
        .arg(&target_dir);
    if std::env::var_os("CARGO_NET_OFFLINE").is_some() {
        cmd.arg("--offline");
    }
    for p in packages {
        cmd.args(["-p", p]);
    }
    // The outer build's settings are for the host, not for the guests: a
    // clippy or coverage wrapper, host RUSTFLAGS or a forced target would
    // break or slow the guest build.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_PRIMARY_PACKAGE",
        "CLIPPY_ARGS",
        "CLIPPY_CONF_DIR",
        "__CARGO_FIX_PLZ",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("running cargo to build the guest drivers failed: {e}"));
    if !status.success() {
        panic!(
            "building the guest components ({}) for wasm32-wasip2 failed; see the cargo output above",
            packages.join(", ")
        );
    }

    // Rebuild when any guest source, the SDK or the contract changes.
    for dir in ["wit", "sdk", "drivers", "tests/guests"] {
        println!("cargo:rerun-if-changed={}", workspace.join(dir).display());
    }
    // The lock file, the workspace manifest (the `guest` profile) and the
    // cargo config (the guests' link flags).
    for file in ["Cargo.lock", "Cargo.toml", ".cargo/config.toml"] {
        println!("cargo:rerun-if-changed={}", workspace.join(file).display());
    }

    packages
        .iter()
        .map(|p| {
            let path = target_dir
                .join("wasm32-wasip2")
                .join("guest")
                .join(format!("{}.wasm", p.replace('-', "_")));
            assert!(
                path.exists(),
                "guest build did not produce {}",
                path.display()
            );
            path
        })
        .collect()
}

fn env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| panic!("{key} is not set; run this from a build script"))
}

fn workspace_root(start: &Path) -> PathBuf {
    start
        .ancestors()
        .find(|d| d.join("wit").join("driver.wit").exists())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| {
            panic!(
                "no workspace root (with wit/driver.wit) above {}",
                start.display()
            )
        })
}

/// `<outer target dir>/guests`: beside the host artifacts, reused between
/// builds, and never the outer build's own (locked) directory.
fn guest_target_dir(workspace: &Path) -> PathBuf {
    let outer = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_absolute() {
                p
            } else {
                workspace.join(p)
            }
        })
        .or_else(|| {
            // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out.
            std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .and_then(|out| out.ancestors().nth(4).map(Path::to_path_buf))
        })
        .unwrap_or_else(|| workspace.join("target"));
    outer.join("guests")
}

fn ensure_target_installed() {
    let sysroot = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| PathBuf::from(s.trim()));
    let installed = sysroot
        .map(|s| s.join("lib/rustlib/wasm32-wasip2").exists())
        .unwrap_or(false);
    if !installed {
        panic!(
            "the Rust target wasm32-wasip2 is not installed; the built-in drivers need it.\n\
             Install it with: rustup target add wasm32-wasip2\n\
             (or run ./scripts/setup.sh, which does this for you)"
        );
    }
}
