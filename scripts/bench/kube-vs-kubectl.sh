#!/usr/bin/env bash
# Side by side on the same kube-apiserver (scripts/backends/kube.sh): applying the quick-start workload
# (examples/hello) through Podium's Kubernetes driver in its sandbox (`podium driver test podium/kubernetes
# --action apply`: process start, cached compiled driver, owner checks, server-side apply of the four
# objects, prune listing; rollout wait off) against `kubectl apply --server-side` of the same manifests
# (rendered by the same driver in GitOps mode). Each run applies into a fresh namespace (created before
# the timing), so every run creates the four objects.
#
# usage: scripts/bench/kube-vs-kubectl.sh [RUNS]   (PODIUM_BIN: the podium binary, default target/release)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-5}
BIN=${PODIUM_BIN:-${CARGO_TARGET_DIR:-target}/release/podium}
[ -x "$BIN" ] || { echo "build podium first (cargo build --release --bin podium) or set PODIUM_BIN" >&2; exit 1; }
scripts/backends/kube.sh start
eval "$(scripts/backends/kube.sh env | sed 's/^/export /')"
KUBECTL=(scripts/backends/kube.sh kubectl)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

workload='{"apiVersion":"score.dev/v1b1","metadata":{"name":"hello"},
  "containers":{"web":{"image":"nginx:1.27","variables":{"DATABASE_HOST":"db",
    "DATABASE_PASSWORD":{"$secret":"/containers/web/variables/DATABASE_PASSWORD"}}}},
  "service":{"ports":{"www":{"port":80,"targetPort":8080}}}}'
context='{"app_id":"bench","env_id":"dev","env_type":"development","res_id":"modules.hello",
  "res_type":"workload","res_class":"default","guresid":"0123456789abcdef0123456789abcdef01234567","deploy_id":"d-1"}'
secrets=$(python3 - <<P
import json
print(json.dumps({"ca_data": open("$PODIUM_KUBE_CA").read(), "client_cert": open("$PODIUM_KUBE_CERT").read(),
  "client_key": open("$PODIUM_KUBE_KEY").read(),
  "workload_secrets": {"/containers/web/variables/DATABASE_PASSWORD": "bench-pw"}}))
P
)
request() { # namespace mode-values
  printf '{"context":%s,"params":{"workload":%s},"driver_values":%s,"driver_secrets":%s}' \
    "$context" "$workload" "$2" "$secrets" > "$W/req-$1.json"
}

# the manifests, once, through the GitOps mode
request gitops "{\"mode\":\"gitops\",\"namespace\":\"bench-ns\",\"gitops_dir\":\"$W/git\"}"
mkdir -p "$W/git"
"$BIN" driver test podium/kubernetes --action apply --input "$W/req-gitops.json" --grant "file://$W/git" > "$W/gitops.out" || { cat "$W/gitops.out" >&2; exit 1; }
manifests=$(find "$W/git" -name '*.yaml' | sort)

now() { date +%s.%N; }
podium_t=(); kubectl_t=()
for i in $(seq 1 "$RUNS"); do
  a=bench-podium-$$-$i; b=bench-kubectl-$$-$i
  "${KUBECTL[@]}" create namespace "$a" >/dev/null
  "${KUBECTL[@]}" create namespace "$b" >/dev/null
  request "$a" "{\"mode\":\"apply\",\"cluster\":{\"url\":\"$PODIUM_KUBE_URL\"},\"namespace\":\"$a\",\"rollout_timeout\":0}"
  for f in $manifests; do sed "s/namespace: bench-ns/namespace: $b/" "$f"; echo ---; done > "$W/$b.yaml"
  t0=$(now)
  "$BIN" driver test podium/kubernetes --action apply --input "$W/req-$a.json" --grant "$PODIUM_KUBE_URL" >/dev/null
  t1=$(now)
  "${KUBECTL[@]}" apply --server-side --field-manager bench -f "$W/$b.yaml" >/dev/null
  t2=$(now)
  podium_t+=("$(echo "$t1 - $t0" | bc)"); kubectl_t+=("$(echo "$t2 - $t1" | bc)")
  "${KUBECTL[@]}" delete namespace "$a" "$b" --wait=false >/dev/null
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "runs: $RUNS"
echo "podium driver apply (s): ${podium_t[*]}  median $(median "${podium_t[@]}")"
echo "kubectl apply --server-side (s): ${kubectl_t[*]}  median $(median "${kubectl_t[@]}")"
