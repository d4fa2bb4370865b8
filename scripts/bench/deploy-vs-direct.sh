#!/usr/bin/env bash
# End-to-end deploy benchmark (issue 6): `podium deploy --wait` of a Score
# workload needing a `postgres`, a `dns` name and an `s3` bucket, provisioned
# by podium/postgres, podium/powerdns and podium/s3 on the test servers,
# against scripts/bench/baseline-direct.sh, which makes the same three
# provisioning operations directly (psql, curl to PowerDNS, curl to S3), one
# after another.
#
# Podium side: a release build of `podium serve` with a fresh data
# directory; every run deploys to a fresh environment, so every run creates
# all three resources. Timed: the whole `podium deploy --wait` process (CLI
# start, Score load, HTTP, the pipeline with its durable store writes, the
# driver calls, the event stream until the deployment is final). Untimed:
# a deploy of the workload without its resources afterwards, which deletes
# them in the servers. The two sides alternate run by run, so both see the
# same machine load; one warm-up run of each is not counted.
#
# usage: scripts/bench/deploy-vs-direct.sh [RUNS]     (default 11)
#        scripts/bench/deploy-vs-direct.sh --smoke    (or BENCH_SMOKE=1)
# prints one line per run and final `podium_median_ms=`, `direct_median_ms=`
# and `ratio=` lines.
#
# Smoke mode (CI, scripts/bench/smoke.sh): one run, no warm-up, with the
# debug binary the tests built (`PODIUM_BIN` to use another); it checks that
# the benchmark still works, its numbers mean nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."

SMOKE=${BENCH_SMOKE:-0}
if [ "${1:-}" = --smoke ]; then
  SMOKE=1
  shift
fi
RUNS=${1:-11}
TARGET=${CARGO_TARGET_DIR:-target}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (nproc $(nproc))"
if [ "$SMOKE" = 1 ]; then
  RUNS=1
  PODIUM=${PODIUM_BIN:-$TARGET/debug/podium}
  [ -x "$PODIUM" ] || cargo build -p podium --locked --quiet
else
  cargo build --release -p podium --locked --quiet
  PODIUM=${PODIUM_BIN:-$TARGET/release/podium}
fi

scripts/backends/all.sh install >/dev/null
scripts/backends/all.sh start >/dev/null
eval "$(scripts/backends/all.sh env | sed 's/^/export /')"

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$PODIUM" serve --listen 127.0.0.1:0 --data "$WORK/data" >"$WORK/stdout" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 600); do
  grep -q '^podium listening on ' "$WORK/stdout" && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.1
done
PODIUM_SERVER=$(sed -n 's/^podium listening on //p' "$WORK/stdout")
[ -n "$PODIUM_SERVER" ] || { echo "podium serve did not start" >&2; tail "$WORK/server.log" >&2; exit 1; }
export PODIUM_SERVER
# The admin token the service wrote on its first start; nothing else may
# set up apps and definitions.
export PODIUM_TOKEN_FILE=$WORK/data/admin-token
unset PODIUM_TOKEN
[ -s "$PODIUM_TOKEN_FILE" ] || { echo "no admin token in $WORK/data" >&2; exit 1; }

APP="bench-$(printf '%x' "$$")"
q() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

{
  cat <<EOF
apiVersion: podium.dev/v1
kind: EnvironmentType
metadata: {id: bench}
---
apiVersion: podium.dev/v1
kind: Application
metadata: {id: $APP}
---
apiVersion: podium.dev/v1
kind: Values
metadata: {app: $APP}
spec:
  PG_ADMIN_PASSWORD: {value: $(q "$PODIUM_PG_ADMIN_PASSWORD"), secret: true}
  PDNS_API_KEY: {value: $(q "$PODIUM_PDNS_API_KEY"), secret: true}
  S3_ACCESS_KEY_ID: {value: $(q "$PODIUM_S3_ACCESS_KEY_ID"), secret: true}
  S3_SECRET_KEY: {value: $(q "$PODIUM_S3_SECRET_KEY"), secret: true}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: bench-postgres}
spec:
  type: postgres
  driver_type: podium/postgres
  criteria: [{env_type: bench}]
  grants: [$(q "$PODIUM_PG_GRANT")]
  driver_inputs:
    values: {host: $PODIUM_PG_HOST, port: $PODIUM_PG_PORT, admin_user: $PODIUM_PG_ADMIN_USER}
    secrets: {admin_password: "\${values.PG_ADMIN_PASSWORD}"}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: bench-dns}
spec:
  type: dns
  driver_type: podium/powerdns
  criteria: [{env_type: bench}]
  grants: [$(q "$PODIUM_PDNS_GRANT")]
  driver_inputs:
    values: {api_url: $(q "$PODIUM_PDNS_API_URL"), zone: $PODIUM_PDNS_ZONE, target: 10.0.0.7}
    secrets: {api_key: "\${values.PDNS_API_KEY}"}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: bench-s3}
spec:
  type: s3
  driver_type: podium/s3
  criteria: [{env_type: bench}]
  grants: [$(q "$PODIUM_S3_GRANT")]
  driver_inputs:
    values: {endpoint: $(q "$PODIUM_S3_ENDPOINT"), region: $PODIUM_S3_REGION}
    secrets: {access_key_id: "\${values.S3_ACCESS_KEY_ID}", secret_key: "\${values.S3_SECRET_KEY}"}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: bench-k8s-cluster}
spec:
  type: k8s-cluster
  driver_type: podium/echo
  criteria: [{env_type: bench}]
  driver_inputs: {values: {name: bench, url: "https://kubernetes.invalid"}}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: bench-k8s-namespace}
spec:
  type: k8s-namespace
  driver_type: podium/template
  criteria: [{env_type: bench}]
  driver_inputs: {values: {templates: {outputs: 'namespace: "{{ context.app_id }}-{{ context.env_id }}"'}}}
---
apiVersion: podium.dev/v1
kind: ResourceDefinition
metadata: {id: bench-workload}
spec:
  type: workload
  driver_type: podium/template
  criteria: [{env_type: bench}]
  driver_inputs:
    values:
      namespace: "\${resources.k8s-namespace.outputs.namespace}"
      templates:
        outputs: 'name: "{{ params.workload.metadata.name }}"'
EOF
  for i in $(seq 0 "$RUNS"); do
    printf -- '---\napiVersion: podium.dev/v1\nkind: Environment\nmetadata: {id: e%s, app: %s}\nspec: {type: bench}\n' "$i" "$APP"
  done
} >"$WORK/setup.yaml"

cat >"$WORK/api.yaml" <<'EOF'
apiVersion: score.dev/v1b1
metadata: {name: api}
containers:
  main:
    image: registry.invalid/api:1
    variables:
      DB_HOST: ${resources.db.host}
      DB_PASSWORD: ${resources.db.password}
      PUBLIC_HOST: ${resources.dns.host}
      S3_BUCKET: ${resources.files.bucket}
      AWS_SECRET_ACCESS_KEY: ${resources.files.aws_secret_access_key}
resources:
  db: {type: postgres}
  dns: {type: dns}
  files: {type: s3}
EOF
cat >"$WORK/api-alone.yaml" <<'EOF'
apiVersion: score.dev/v1b1
metadata: {name: api}
containers:
  main:
    image: registry.invalid/api:1
EOF

if ! "$PODIUM" apply -f "$WORK/setup.yaml" >"$WORK/apply.out" 2>&1; then
  cat "$WORK/apply.out" >&2
  exit 1
fi

now_ns() { date +%s%N; }

podium_run() { # ENV -> prints ms
  local start end
  start=$(now_ns)
  if ! "$PODIUM" deploy -f "$WORK/api.yaml" --app "$APP" --env "$1" --wait >"$WORK/deploy.out" 2>&1; then
    cat "$WORK/deploy.out" >&2
    exit 1
  fi
  end=$(now_ns)
  # Untimed: delete the three resources in the servers.
  if ! "$PODIUM" deploy -f "$WORK/api-alone.yaml" --app "$APP" --env "$1" --wait >"$WORK/remove.out" 2>&1; then
    cat "$WORK/remove.out" >&2
    exit 1
  fi
  echo $(((end - start) / 1000000))
}

direct_run() { # -> prints ms
  scripts/bench/baseline-direct.sh 1 | sed -n 's/^run 1: \([0-9]*\) ms$/\1/p'
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# Warm-up (not counted): first connections, servers' caches.
if [ "$SMOKE" != 1 ]; then
  echo "warm-up: podium $(podium_run e0) ms, direct $(direct_run) ms"
fi

podium_times=()
direct_times=()
for i in $(seq 1 "$RUNS"); do
  p=$(podium_run "e$i")
  d=$(direct_run)
  [ -n "$d" ] || { echo "baseline-direct.sh failed" >&2; exit 1; }
  podium_times+=("$p")
  direct_times+=("$d")
  echo "run $i: podium ${p} ms, direct ${d} ms"
done

pm=$(printf '%s\n' "${podium_times[@]}" | median)
dm=$(printf '%s\n' "${direct_times[@]}" | median)
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "podium_median_ms=$pm"
echo "direct_median_ms=$dm"
awk -v p="$pm" -v d="$dm" 'BEGIN { printf "ratio=%.2f\n", p / d }'
