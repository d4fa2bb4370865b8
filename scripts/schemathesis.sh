#!/usr/bin/env bash
# Schemathesis (pinned) against a running podium: property-based tests
# generated from the service's OpenAPI document (/api/v1/openapi.json).
#
# usage: scripts/schemathesis.sh install
#        scripts/schemathesis.sh run BASE_URL [schemathesis run options...]
#   install  create the virtualenv with schemathesis if it is missing
#   run      install if needed, then test every operation of BASE_URL
#            (e.g. http://127.0.0.1:8080); exits non-zero on any failure
#
# env:
#   PODIUM_CACHE          cache root (default ~/.cache/podium); the venv is
#                         toolchains/schemathesis-<version> under it
#   PODIUM_TOKEN          bearer token to send; otherwise the one in
#                         PODIUM_DATA/admin-token when that file exists
#   PODIUM_DATA           the service's data directory (for admin-token)
#   ST_MAX_EXAMPLES       test cases per operation and phase (default 60)
#   ST_CHECKS             checks (default: all, see CHECKS below)
#   ST_EXCLUDE_CHECKS     checks left out (default: positive_data_acceptance)
#   ST_SEED               a seed, for a reproducible run
#   ST_REPORT_DIR         where to write the JUnit and NDJSON reports
#   PODIUM_ST_DEPLOY      a deployment id for the `{id}` of deployments
#   PODIUM_ST_TOKEN_ID    a token id that `DELETE /api/v1/tokens/{id}` may
#                         revoke (never the one the run uses)
#
# The settings that need a file (known ids for path parameters) are in
# scripts/schemathesis.toml; scripts/schemathesis_hooks.py teaches it to send
# driver uploads (application/wasm).
set -euo pipefail

VERSION=4.32.5
here=$(cd "$(dirname "$0")" && pwd)
cache=${PODIUM_CACHE:-$HOME/.cache/podium}
tool=$cache/toolchains/schemathesis-$VERSION
# Every check (zero 5xx; documented status codes, content types, headers
# and bodies; invalid data refused; ...) but positive_data_acceptance: most
# request schemas are "any JSON document", so schema-valid bodies and ids
# are rightly refused with a 4xx.
CHECKS=${ST_CHECKS:-all}
EXCLUDE_CHECKS=${ST_EXCLUDE_CHECKS:-positive_data_acceptance}

log() { printf '[schemathesis] %s\n' "$*" >&2; }

apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  log "installing $* with apt-get"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "$@"
}

install() {
  # Debian's python3 needs python3-venv for `python3 -m venv`.
  command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
  python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
  mkdir -p "$cache/toolchains"
  # One installer at a time; `.installed` marks a finished install, so an
  # interrupted one is redone instead of half-used.
  exec 9>"$tool.lock"
  flock 9
  if [ ! -e "$tool/.installed" ]; then
    log "installing schemathesis $VERSION into $tool"
    local started=$SECONDS
    rm -rf "$tool"
    python3 -m venv "$tool"
    "$tool/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
    touch "$tool/.installed"
    log "installed in $((SECONDS - started)) s"
  fi
  flock -u 9
  exec 9>&-
}

run() {
  local url=${1:?usage: $0 run BASE_URL [options...]}
  shift
  install
  url=${url%/}
  local token=${PODIUM_TOKEN:-}
  if [ -z "$token" ] && [ -n "${PODIUM_DATA:-}" ] && [ -s "$PODIUM_DATA/admin-token" ]; then
    token=$(tr -d '[:space:]' <"$PODIUM_DATA/admin-token")
  fi
  # Ids the config file reads; unknown ones just get 404s.
  export PODIUM_ST_DEPLOY=${PODIUM_ST_DEPLOY:-none} PODIUM_ST_TOKEN_ID=${PODIUM_ST_TOKEN_ID:-none}
  local args=(
    --url "$url"
    --checks "$CHECKS"
    --exclude-checks "$EXCLUDE_CHECKS"
    --max-examples "${ST_MAX_EXAMPLES:-60}"
    --workers 1
    --request-timeout 30
    # Failures are reported with the request that reproduces them; shrinking
    # only costs time here.
    --no-shrink
    --suppress-health-check all
  )
  [ -n "$token" ] && args+=(--header "Authorization: Bearer $token")
  [ -n "${ST_SEED:-}" ] && args+=(--seed "$ST_SEED")
  if [ -n "${ST_REPORT_DIR:-}" ]; then
    mkdir -p "$ST_REPORT_DIR"
    args+=(--report junit,ndjson --report-dir "$(cd "$ST_REPORT_DIR" && pwd)")
  fi
  # Schemathesis and Hypothesis keep state in the working directory: use a
  # throwaway one, so runs are independent and leave nothing behind.
  # (A global: the EXIT trap runs after this function has returned.)
  st_work=$(mktemp -d)
  trap 'rm -rf "$st_work"' EXIT
  cd "$st_work"
  log "testing $url (checks: $CHECKS, except $EXCLUDE_CHECKS)"
  # A virtualenv of the caller must not shadow ours.
  env -u VIRTUAL_ENV NO_COLOR=1 SCHEMATHESIS_HOOKS="$here/schemathesis_hooks.py" "$tool/bin/schemathesis" --config-file "$here/schemathesis.toml" \
    run "${args[@]}" "$@" "$url/api/v1/openapi.json"
}

case "${1:-}" in
  install) install ;;
  run) shift; run "$@" ;;
  *) echo "usage: $0 install | run BASE_URL [schemathesis run options...]" >&2; exit 2 ;;
esac
