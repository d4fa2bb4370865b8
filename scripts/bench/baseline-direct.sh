#!/usr/bin/env bash
# Baseline for the end-to-end deploy benchmark: the same three provisioning
# operations a deploy of a workload with `postgres`, `dns` and `s3` makes,
# done directly against the test servers, one after another, with the
# servers' own clients:
#   1. psql: CREATE ROLE ... LOGIN PASSWORD, CREATE DATABASE ... OWNER,
#      REVOKE ALL ON DATABASE ... FROM PUBLIC (one connection)
#   2. curl: PATCH the PowerDNS zone (REPLACE one A record)
#   3. curl --aws-sigv4: PUT an S3 bucket (CreateBucket, path-style)
# Each run creates fresh names; only the creation is timed, the cleanup
# afterwards is not.
#
# usage: scripts/bench/baseline-direct.sh [RUNS]     (default 11)
#        scripts/bench/baseline-direct.sh --smoke    (or BENCH_SMOKE=1: one run)
# prints one line per run and a final `median_ms=...` line.
set -euo pipefail
cd "$(dirname "$0")/../.."

SMOKE=${BENCH_SMOKE:-0}
if [ "${1:-}" = --smoke ]; then
  SMOKE=1
  shift
fi
RUNS=${1:-11}
if [ "$SMOKE" = 1 ]; then RUNS=1; fi
scripts/backends/all.sh start >/dev/null 2>&1 || scripts/backends/all.sh start
eval "$(scripts/backends/all.sh env | sed 's/^/export /')"

psql_admin() {
  PGPASSWORD=$PODIUM_PG_ADMIN_PASSWORD psql -h "$PODIUM_PG_HOST" -p "$PODIUM_PG_PORT" \
    -U "$PODIUM_PG_ADMIN_USER" -d postgres -v ON_ERROR_STOP=1 -qAt "$@"
}

pdns_patch() {
  curl -sf -o /dev/null -X PATCH -H "X-API-Key: $PODIUM_PDNS_API_KEY" \
    -H 'Content-Type: application/json' -d "$1" \
    "$PODIUM_PDNS_API_URL/api/v1/servers/localhost/zones/$PODIUM_PDNS_ZONE"
}

s3() {
  # The empty payload's SHA-256: s3s-fs requires the header, curl does not send it.
  curl -sf -o /dev/null -X "$1" --aws-sigv4 "aws:amz:$PODIUM_S3_REGION:s3" \
    --user "$PODIUM_S3_ACCESS_KEY_ID:$PODIUM_S3_SECRET_KEY" \
    -H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
    "$PODIUM_S3_ENDPOINT/$2"
}

now_ns() { date +%s%N; }

times=()
for i in $(seq 1 "$RUNS"); do
  id="$(printf '%x' "$$")$(printf '%02d' "$i")"
  name="bench_dev_api_db_$id"
  host="bench-dev-api-dns-$id.${PODIUM_PDNS_ZONE}"
  bucket="bench-dev-api-files-$id"
  password=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)

  start=$(now_ns)
  psql_admin -c "CREATE ROLE \"$name\" LOGIN PASSWORD '$password'" \
    -c "CREATE DATABASE \"$name\" OWNER \"$name\"" \
    -c "REVOKE ALL ON DATABASE \"$name\" FROM PUBLIC"
  pdns_patch "{\"rrsets\": [{\"name\": \"$host\", \"type\": \"A\", \"ttl\": 300, \"changetype\": \"REPLACE\",
    \"records\": [{\"content\": \"10.0.0.7\", \"disabled\": false}]}]}"
  s3 PUT "$bucket"
  end=$(now_ns)

  ms=$(( (end - start) / 1000000 ))
  times+=("$ms")
  echo "run $i: ${ms} ms"

  # Cleanup (untimed).
  psql_admin -c "DROP DATABASE \"$name\" WITH (FORCE)" -c "DROP ROLE \"$name\""
  pdns_patch "{\"rrsets\": [{\"name\": \"$host\", \"type\": \"A\", \"changetype\": \"DELETE\"}]}"
  s3 DELETE "$bucket"
done

median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}')
echo "median_ms=$median runs=$RUNS"
