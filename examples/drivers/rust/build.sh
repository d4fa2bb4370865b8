#!/usr/bin/env bash
# Builds the Rust example driver into OUT_DIR/rust-config.wasm (default: this
# directory). Installs the Rust target wasm32-wasip2 if it is missing.
#
#   examples/drivers/rust/build.sh [OUT_DIR]
#
# CARGO_TARGET_DIR is honoured (default: the workspace's `target/`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out_dir=${1:-$here}
log() { printf '[rust-config] %s\n' "$*" >&2; }

if [ ! -d "$(rustc --print sysroot)/lib/rustlib/wasm32-wasip2" ]; then
  log "installing the Rust target wasm32-wasip2"
  rustup target add wasm32-wasip2
fi

target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$target_dir" in /*) ;; *) target_dir=$root/$target_dir ;; esac
started=$(date +%s%N)
# The guest profile (root Cargo.toml) and the link flags (.cargo/config.toml)
# are the ones the built-in drivers use.
(cd "$root" && cargo build --quiet -p podium-example-config --target wasm32-wasip2 --profile guest \
  --target-dir "$target_dir")
mkdir -p "$out_dir"
cp "$target_dir/wasm32-wasip2/guest/podium_example_config.wasm" "$out_dir/rust-config.wasm"
log "wrote $out_dir/rust-config.wasm ($(wc -c <"$out_dir/rust-config.wasm") bytes) in $(( ($(date +%s%N) - started) / 1000000 )) ms"
