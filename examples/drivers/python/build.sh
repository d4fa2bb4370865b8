#!/usr/bin/env bash
# Builds the Python example driver into OUT_DIR/python-config.wasm (default:
# this directory) with componentize-py, which it installs (pinned, into a
# virtualenv in the Podium cache) if it is missing. Needs python3 >= 3.10
# with venv (python3-venv is installed with apt-get if missing).
#
#   examples/drivers/python/build.sh [OUT_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out_dir=${1:-$here}
version=0.25.1
cache=${PODIUM_CACHE:-$HOME/.cache/podium}
tool=$cache/toolchains/componentize-py-$version
log() { printf '[python-config] %s\n' "$*" >&2; }

apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  log "installing $* with apt-get"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "$@"
}
# Debian's python3 needs python3-venv for `python3 -m venv`.
command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv

mkdir -p "$cache/toolchains"
# One installer at a time; `.installed` marks a finished install, so an
# interrupted one is redone instead of half-used.
exec 9>"$tool.lock"
flock 9
if [ ! -e "$tool/.installed" ]; then
  log "installing componentize-py $version into $tool"
  rm -rf "$tool"
  python3 -m venv "$tool"
  "$tool/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$version"
  touch "$tool/.installed"
fi
flock -u 9

mkdir -p "$out_dir"
started=$(date +%s%N)
# A virtualenv of the caller would be searched for modules too; this driver
# needs only the standard library and its own directory.
env -u VIRTUAL_ENV "$tool/bin/componentize-py" --quiet -d "$root/wit" -w component \
  componentize app -p "$here" -o "$out_dir/python-config.wasm"
log "wrote $out_dir/python-config.wasm ($(wc -c <"$out_dir/python-config.wasm") bytes) in $(( ($(date +%s%N) - started) / 1000000 )) ms"
