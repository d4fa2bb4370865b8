#!/usr/bin/env bash
# The whole test suite: set-up, formatting, lints (host and guests), tests.
# Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# A one-shot build gains nothing from incremental artifacts (GBs on disk).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
scripts/setup.sh

guests=(-p podium-driver-sdk -p podium-driver-echo -p podium-driver-template -p podium-guest-hostile
        -p podium-driver-postgres -p podium-driver-powerdns -p podium-driver-s3 -p podium-driver-kubernetes
        -p podium-example-config)

step() { printf '\n== %s\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "clippy (host)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "clippy (guests, wasm32-wasip2)"
cargo clippy --target wasm32-wasip2 --profile guest --locked "${guests[@]}" -- -D warnings

step "test backends: PostgreSQL, PowerDNS, S3, Kubernetes API server, schemas, schemathesis (install what is missing)"
scripts/backends/all.sh install
scripts/backends/kube.sh install
scripts/backends/k8s-schemas.sh install
scripts/schemathesis.sh install
trap 'scripts/backends/all.sh stop; scripts/backends/kube.sh stop' EXIT

step "tests"
# --workspace includes the guest crates built natively: the SDK's pure parts
# are unit-tested that way.
cargo test --workspace --locked --no-fail-fast

step "benchmarks, smoke mode: each runs once, nothing timed (scripts/bench/smoke.sh)"
scripts/bench/smoke.sh
