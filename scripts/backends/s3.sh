#!/usr/bin/env bash
# A throwaway S3 server on loopback for tests: s3s-fs 0.14.1 (checks AWS
# Signature V4, path-style), port 15001, one access key. Also a Python venv
# with boto3 for checks from outside.
#
# usage: scripts/backends/s3.sh install|start|stop|reset|env
#   install  cargo install s3s-fs 0.14.1 into the cache (~5 min, once) and
#            create the boto3 venv, each only if missing
#   start    start; does nothing if already running
#   stop     stop the server, keep its data (a later start resumes it)
#   reset    stop and delete the data
#   env      print KEY=VALUE lines for tests
# env: PODIUM_BACKENDS_DIR (default /tmp/podium-backends),
#      PODIUM_CACHE (default ~/.cache/podium), PODIUM_S3_PORT (15001)
set -euo pipefail

PORT=${PODIUM_S3_PORT:-15001}
DIR=${PODIUM_BACKENDS_DIR:-/tmp/podium-backends}/s3
CACHE=${PODIUM_CACHE:-$HOME/.cache/podium}
# Pinned: 0.15+ needs a newer rustc than the project's 1.95.
S3S_VERSION=0.14.1
S3S=$CACHE/s3s-fs/bin/s3s-fs
BOTO3_VERSION=1.35.99
VENV=$CACHE/venv-boto3-$BOTO3_VERSION
# Test credentials for a server on loopback (AWS's documented example key).
ACCESS_KEY=AKIAIOSFODNN7EXAMPLE
SECRET_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
REGION=us-east-1

log() { printf '[s3] %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

pid() { cat "$DIR/s3s.pid" 2>/dev/null || true; }

running() {
  local p
  p=$(pid)
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null
}

# Any HTTP answer means it listens (anonymous requests get 4xx/5xx).
ready() { curl -s -o /dev/null "http://127.0.0.1:$PORT/"; }

install() {
  if [ ! -x "$S3S" ] || [ "$("$S3S" --version 2>/dev/null)" != "s3s-fs $S3S_VERSION" ]; then
    command -v cargo >/dev/null || { log "cargo is needed to build s3s-fs"; exit 1; }
    log "building s3s-fs $S3S_VERSION into $CACHE/s3s-fs (takes minutes, once)"
    local started=$SECONDS
    cargo install "s3s-fs@$S3S_VERSION" --locked --features binary --root "$CACHE/s3s-fs" --quiet
    log "s3s-fs built in $((SECONDS - started)) s"
  fi
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import boto3' 2>/dev/null; then
    log "creating the boto3 venv $VENV"
    local started=$SECONDS
    if ! python3 -m venv --help >/dev/null 2>&1; then
      as_root apt-get update -qq
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        python3 python3-venv >/dev/null
    fi
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "boto3==$BOTO3_VERSION"
    log "boto3 installed in $((SECONDS - started)) s"
  fi
  command -v curl >/dev/null || {
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends curl >/dev/null
  }
}

start() {
  [ -x "$S3S" ] || { log "s3s-fs is not installed: run $0 install"; exit 1; }
  mkdir -p "$DIR/data"
  exec 9>"$DIR.lock"
  flock 9
  if running && ready; then return 0; fi
  # 9>&-: the server must not inherit (and hold) the start lock.
  "$S3S" --host 127.0.0.1 --port "$PORT" --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" \
    "$DIR/data" >>"$DIR/s3s.log" 2>&1 9>&- &
  echo $! >"$DIR/s3s.pid"
  for _ in $(seq 1 200); do
    if ready; then
      log "S3 on http://127.0.0.1:$PORT"
      return 0
    fi
    running || break
    sleep 0.05
  done
  log "s3s-fs did not start; s3s.log:"
  tail -30 "$DIR/s3s.log" >&2
  exit 1
}

stop() {
  local p
  p=$(pid)
  [ -n "$p" ] || return 0
  kill "$p" 2>/dev/null || true
  for _ in $(seq 1 200); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.05
  done
  rm -f "$DIR/s3s.pid"
}

reset() {
  stop
  rm -rf "$DIR" "$DIR.lock"
}

env_lines() {
  cat <<EOF
PODIUM_S3_ENDPOINT=http://127.0.0.1:$PORT
PODIUM_S3_REGION=$REGION
PODIUM_S3_ACCESS_KEY_ID=$ACCESS_KEY
PODIUM_S3_SECRET_KEY=$SECRET_KEY
PODIUM_S3_DATA_DIR=$DIR/data
PODIUM_S3_PYTHON=$VENV/bin/python
PODIUM_S3_GRANT=http://127.0.0.1:$PORT
EOF
}

case "${1:-}" in
install) install ;;
start) start ;;
stop) stop ;;
reset) reset ;;
env) env_lines ;;
*) echo "usage: $0 install|start|stop|reset|env" >&2; exit 2 ;;
esac
