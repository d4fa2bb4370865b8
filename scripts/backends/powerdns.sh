#!/usr/bin/env bash
# A throwaway PowerDNS Authoritative 4.7 (Debian, sqlite3 backend) on
# loopback for tests: DNS on 15353, HTTP API on 18081 (X-API-Key), with the
# zone `podium.test.`.
#
# usage: scripts/backends/powerdns.sh install|start|stop|reset|env
#   install  apt-get pdns-server, pdns-backend-sqlite3, sqlite3, dig if missing
#   start    init (first time) and start; does nothing if already running
#   stop     stop the server, keep its data (a later start resumes it)
#   reset    stop and delete the data
#   env      print KEY=VALUE lines for tests
# env: PODIUM_BACKENDS_DIR (default /tmp/podium-backends),
#      PODIUM_PDNS_DNS_PORT (15353), PODIUM_PDNS_API_PORT (18081)
set -euo pipefail

DNS_PORT=${PODIUM_PDNS_DNS_PORT:-15353}
API_PORT=${PODIUM_PDNS_API_PORT:-18081}
DIR=${PODIUM_BACKENDS_DIR:-/tmp/podium-backends}/powerdns
# A test server on loopback; the key only proves that the API checks it.
API_KEY=podium-pdns-api-key-18081
ZONE=podium.test.
API=http://127.0.0.1:$API_PORT/api/v1/servers/localhost
SCHEMA=/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql

log() { printf '[powerdns] %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

pid() { cat "$DIR/pdns.pid" 2>/dev/null || true; }

running() {
  local p
  p=$(pid)
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null
}

api_ready() { curl -sf -o /dev/null -H "X-API-Key: $API_KEY" "$API"; }

install() {
  if command -v pdns_server >/dev/null && [ -f "$SCHEMA" ] && command -v sqlite3 >/dev/null \
      && command -v dig >/dev/null && command -v curl >/dev/null; then
    return 0
  fi
  log "installing pdns-server, pdns-backend-sqlite3, sqlite3, dnsutils, curl"
  local started=$SECONDS
  as_root apt-get update -qq
  # policy-rc.d on Debian images keeps apt from starting the packaged server.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    pdns-server pdns-backend-sqlite3 sqlite3 dnsutils curl >/dev/null
  log "installed in $((SECONDS - started)) s"
}

init() {
  rm -rf "$DIR"
  mkdir -p "$DIR"
  sqlite3 "$DIR/pdns.sqlite3" <"$SCHEMA"
  cat >"$DIR/pdns.conf" <<CONF
launch=gsqlite3
gsqlite3-database=$DIR/pdns.sqlite3
local-address=127.0.0.1
local-port=$DNS_PORT
api=yes
api-key=$API_KEY
webserver=yes
webserver-address=127.0.0.1
webserver-port=$API_PORT
webserver-allow-from=127.0.0.0/8
daemon=no
guardian=no
disable-syslog=yes
socket-dir=$DIR
security-poll-suffix=
default-soa-content=ns1.@ hostmaster.@ 0 10800 3600 604800 3600
CONF
}

start() {
  command -v pdns_server >/dev/null || { log "PowerDNS is not installed: run $0 install"; exit 1; }
  mkdir -p "$(dirname "$DIR")"
  exec 9>"$DIR.lock"
  flock 9
  if running && api_ready; then return 0; fi
  [ -f "$DIR/pdns.conf" ] || init
  # --config-dir: read only our pdns.conf, not /etc/powerdns. 9>&-: the
  # server must not inherit (and hold) the start lock.
  pdns_server --config-dir="$DIR" >>"$DIR/pdns.log" 2>&1 9>&- &
  echo $! >"$DIR/pdns.pid"
  for _ in $(seq 1 200); do
    if api_ready; then
      # 201 created, 409 exists already.
      curl -s -o /dev/null -H "X-API-Key: $API_KEY" -H 'Content-Type: application/json' \
        -d "{\"name\": \"$ZONE\", \"kind\": \"Native\", \"nameservers\": []}" "$API/zones"
      log "DNS on 127.0.0.1:$DNS_PORT, API on 127.0.0.1:$API_PORT, zone $ZONE"
      return 0
    fi
    running || break
    sleep 0.05
  done
  log "PowerDNS did not start; pdns.log:"
  tail -30 "$DIR/pdns.log" >&2
  exit 1
}

stop() {
  local p
  p=$(pid)
  [ -n "$p" ] || return 0
  kill "$p" 2>/dev/null || true
  # Wait until the ports and the control socket are free, or a quick restart
  # fails with "controlsocket is in use".
  for _ in $(seq 1 200); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.05
  done
  rm -f "$DIR/pdns.pid"
}

reset() {
  stop
  rm -rf "$DIR" "$DIR.lock"
}

env_lines() {
  cat <<EOF
PODIUM_PDNS_API_URL=http://127.0.0.1:$API_PORT
PODIUM_PDNS_API_KEY=$API_KEY
PODIUM_PDNS_ZONE=$ZONE
PODIUM_PDNS_DNS_HOST=127.0.0.1
PODIUM_PDNS_DNS_PORT=$DNS_PORT
PODIUM_PDNS_GRANT=http://127.0.0.1:$API_PORT
PODIUM_PDNS_DB=$DIR/pdns.sqlite3
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
