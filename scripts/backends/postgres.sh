#!/usr/bin/env bash
# A throwaway PostgreSQL 15 (Debian) on loopback for tests: superuser
# `podium_admin` with a password, password auth (scram-sha-256) over TCP.
#
# usage: scripts/backends/postgres.sh install|start|stop|reset|env
#   install  apt-get postgresql-15 and the psql client if missing
#   start    init (first time) and start; does nothing if already running
#   stop     stop the server, keep its data (a later start resumes it)
#   reset    stop and delete the data
#   env      print KEY=VALUE lines for tests
# env: PODIUM_BACKENDS_DIR (default /tmp/podium-backends), PODIUM_PG_PORT (55432)
set -euo pipefail

PORT=${PODIUM_PG_PORT:-55432}
DIR=${PODIUM_BACKENDS_DIR:-/tmp/podium-backends}/postgres
ADMIN_USER=podium_admin
# A test server on loopback; the password only proves that auth is enforced.
ADMIN_PASSWORD=podium-admin-Pw-55432
PGBIN=/usr/lib/postgresql/15/bin

log() { printf '[postgres] %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# initdb and postgres refuse to run as root: use the `postgres` OS user then.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

running() { [ -f "$DIR/data/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; }

install() {
  if [ -x "$PGBIN/postgres" ] && command -v psql >/dev/null; then
    return 0
  fi
  log "installing postgresql-15 and postgresql-client"
  local started=$SECONDS
  as_root apt-get update -qq
  # policy-rc.d on Debian images keeps apt from starting the packaged cluster.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    postgresql-15 postgresql-client >/dev/null
  log "installed in $((SECONDS - started)) s"
}

init() {
  mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
  local pwfile="$DIR/pwfile"
  # The bootstrap superuser `postgres` gets a random password nobody needs:
  # local socket access is `trust` and only inside $DIR.
  head -c 24 /dev/urandom | base64 >"$pwfile"
  [ "$(id -u)" = 0 ] && chown postgres: "$pwfile"
  as_pg "$PGBIN/initdb" -D "$DIR/data" -U postgres --pwfile="$pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync \
    >"$DIR/initdb.log" 2>&1 || { tail -20 "$DIR/initdb.log" >&2; exit 1; }
  rm -f "$pwfile"
}

start() {
  [ -x "$PGBIN/postgres" ] || { log "PostgreSQL 15 is not installed: run $0 install"; exit 1; }
  mkdir -p "$(dirname "$DIR")"
  exec 9>"$DIR.lock"
  flock 9
  if running; then return 0; fi
  local fresh=no
  if [ ! -f "$DIR/data/PG_VERSION" ]; then
    rm -rf "$DIR"
    init
    fresh=yes
  fi
  # -k: the socket lives in our directory (the default one may not be writable).
  # 9>&-: the server must not inherit (and hold) the start lock.
  if ! as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 \
      -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null 9>&-; then
    log "PostgreSQL did not start; server.log:"
    tail -30 "$DIR/server.log" >&2
    exit 1
  fi
  if [ $fresh = yes ]; then
    as_pg psql -h "$DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qc \
      "CREATE ROLE $ADMIN_USER LOGIN SUPERUSER CREATEDB CREATEROLE PASSWORD '$ADMIN_PASSWORD';"
  fi
  log "listening on 127.0.0.1:$PORT"
}

stop() {
  [ -d "$DIR/data" ] || return 0
  if running; then
    as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w -t 30 stop >/dev/null
  fi
}

reset() {
  stop
  rm -rf "$DIR" "$DIR.lock"
}

env_lines() {
  cat <<EOF
PODIUM_PG_HOST=127.0.0.1
PODIUM_PG_PORT=$PORT
PODIUM_PG_ADMIN_USER=$ADMIN_USER
PODIUM_PG_ADMIN_PASSWORD=$ADMIN_PASSWORD
PODIUM_PG_GRANT=postgres://127.0.0.1:$PORT
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
