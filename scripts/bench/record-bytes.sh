#!/usr/bin/env bash
# Bytes a deployment writes to the store, at two commits side by side, in
# one run: the same program (host/pipeline/examples/record_bytes.rs, which
# uses only APIs both commits have) built at each.
# usage: scripts/bench/record-bytes.sh [OLD_COMMIT [NEW_COMMIT [WORKLOADS]]]
#        BENCH_SMOKE=1 scripts/bench/record-bytes.sh   # this checkout only, 3 workloads
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
example=host/pipeline/examples/record_bytes.rs

if [ "${BENCH_SMOKE:-}" = 1 ]; then
  cargo run -q --example record_bytes -- 3
  exit 0
fi

old=${1:-0638e26}
new=${2:-HEAD}
n=${3:-50}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
tmp=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$tmp/old" >/dev/null 2>&1 || true;
      git -C "$root" worktree remove --force "$tmp/new" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT

run() { # label commit
  git -C "$root" worktree add -q --detach "$tmp/$1" "$2"
  mkdir -p "$tmp/$1/host/pipeline/examples"
  cp "$root/$example" "$tmp/$1/$example"
  # Fields `Submit` gained later are dropped for commits that lack them.
  grep -q 'pub audit' "$tmp/$1/host/pipeline/src/lib.rs" ||
    sed -i '/field absent before/d' "$tmp/$1/$example"
  # tokio's rt-multi-thread and tempfile are dependencies at both commits.
  (cd "$tmp/$1" && cargo run -q --example record_bytes -- "$n") > "$tmp/$1.out"
}
run old "$old"
run new "$new"
printf '%-42s %14s %14s %8s\n' "$n workloads" "old ($old)" "new ($new)" "new/old"
paste "$tmp/old.out" "$tmp/new.out" | awk -F'\t' '{
  split($1, a, "  +"); split($2, b, "  +");
  ob = a[2] + 0; nb = b[2] + 0;
  printf "%-42s %14d %14d %8.2f\n", a[1], ob, nb, (ob ? nb / ob : 0) }'
