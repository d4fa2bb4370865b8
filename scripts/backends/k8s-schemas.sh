#!/usr/bin/env bash
# The official Kubernetes JSON Schemas (strict, draft 2020-12) for checking rendered manifests offline:
# the PyPI package kubernetes-validate (pinned), in a venv under the cache. Not a server: start/stop exist
# for the shared backend conventions.
#
# usage: scripts/backends/k8s-schemas.sh install|start|stop|env
#   install  create $PODIUM_CACHE/k8s-schemas-venv with kubernetes-validate (skipped when present)
#   start    same as install
#   stop     nothing to stop
#   env      PODIUM_K8S_SCHEMA_PYTHON=<the venv's python>
set -euo pipefail

VERSION=1.37.0
CACHE=${PODIUM_CACHE:-$HOME/.cache/podium}
VENV=$CACHE/k8s-schemas-venv
PY=$VENV/bin/python

log() { printf '[k8s-schemas] %s\n' "$*" >&2; }

installed() {
  [ -f "$VENV/.podium-complete" ] && "$PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('kubernetes-validate') != '$VERSION')" 2>/dev/null
}

install() {
  if installed; then
    return 0
  fi
  local python
  python=$(command -v python3 || true)
  if [ -z "$python" ] || ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
    log "installing python3 with venv support"
    local sudo=
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    $sudo apt-get install -y --no-install-recommends python3 python3-venv >/dev/null
    python=$(command -v python3)
  fi
  log "creating $VENV with kubernetes-validate==$VERSION"
  # A venv cannot be moved; a half-made one (no marker) is made again.
  rm -rf "$VENV"
  "$python" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$VERSION"
  touch "$VENV/.podium-complete"
  installed || { log "kubernetes-validate==$VERSION did not install"; exit 1; }
}

case "${1:-}" in
  install|start) install ;;
  stop) ;;
  env) echo "PODIUM_K8S_SCHEMA_PYTHON=$PY" ;;
  *) echo "usage: $0 install|start|stop|env" >&2; exit 2 ;;
esac
