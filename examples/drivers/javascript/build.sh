#!/usr/bin/env bash
# Builds the JavaScript example driver into OUT_DIR/javascript-config.wasm
# (default: this directory) with ComponentizeJS, which it installs (every
# package pinned by toolchain/package-lock.json) into the Podium cache if it
# is missing. Needs Node.js >= 18 and npm (installed with apt-get if missing).
#
#   examples/drivers/javascript/build.sh [OUT_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out_dir=${1:-$here}
cache=${PODIUM_CACHE:-$HOME/.cache/podium}
# Keyed by the lock file: a changed pin installs next to the old one.
lock_hash=$(sha256sum "$here/toolchain/package-lock.json" | cut -c1-12)
tool=$cache/toolchains/componentize-js-$lock_hash
log() { printf '[javascript-config] %s\n' "$*" >&2; }

if ! command -v npm >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  log "installing Node.js and npm with apt-get"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends nodejs npm
fi

mkdir -p "$cache/toolchains"
# One installer at a time; `.installed` marks a finished install.
exec 9>"$tool.lock"
flock 9
if [ ! -e "$tool/.installed" ]; then
  log "installing ComponentizeJS (toolchain/package-lock.json) into $tool"
  rm -rf "$tool"
  mkdir -p "$tool"
  cp "$here/toolchain/package.json" "$here/toolchain/package-lock.json" "$tool/"
  # `npm install` rather than `npm ci`: npm 11 leaves the optional
  # platform packages of other systems out of the lock file and `npm ci`
  # then refuses it; `install` still takes every version from the lock.
  (cd "$tool" && npm install --no-audit --no-fund --no-save --loglevel=error)
  touch "$tool/.installed"
fi
flock -u 9

mkdir -p "$out_dir"
started=$(date +%s%N)
"$tool/node_modules/.bin/componentize-js" "$here/driver.js" --wit "$root/wit" --world-name component \
  --out "$out_dir/javascript-config.wasm" >/dev/null
log "wrote $out_dir/javascript-config.wasm ($(wc -c <"$out_dir/javascript-config.wasm") bytes) in $(( ($(date +%s%N) - started) / 1000000 )) ms"
