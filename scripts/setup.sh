#!/usr/bin/env bash
# Installs what building and testing Podium needs, skipping what is present.
# Safe to run again. Used by scripts/run.sh and scripts/test.sh.
set -euo pipefail

log() { printf '[setup] %s\n' "$*" >&2; }

if ! command -v cargo >/dev/null 2>&1; then
  log "cargo not found: install Rust (https://rustup.rs) first"
  exit 1
fi

# The built-in drivers are WebAssembly components.
if ! rustc --print sysroot >/dev/null 2>&1 || [ ! -d "$(rustc --print sysroot)/lib/rustlib/wasm32-wasip2" ]; then
  if command -v rustup >/dev/null 2>&1; then
    log "installing the Rust target wasm32-wasip2"
    rustup target add wasm32-wasip2
  else
    log "the Rust target wasm32-wasip2 is missing and rustup is not available to install it"
    exit 1
  fi
fi

# clippy and rustfmt for the checks in scripts/test.sh.
if command -v rustup >/dev/null 2>&1; then
  for c in clippy rustfmt; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^$c"; then
      log "installing rustup component $c"
      rustup component add "$c"
    fi
  done
fi
