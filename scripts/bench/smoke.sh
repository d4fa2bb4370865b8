#!/usr/bin/env bash
# Every benchmark once, in smoke mode, so none of them rots: they must still
# build, start and finish. Nothing is timed against a target or asserted on
# speed; the numbers printed mean nothing.
#
# - The criterion benches (host/core plan, host/runtime driver_call,
#   host/score score, tests/languages languages) run as tests: `cargo test`
#   runs a criterion bench binary in criterion's test mode, each benchmark
#   once. The hand-written ones (host/podium deploys, host/store commit) run
#   a small load in that mode. Built with the test profile, they share the
#   artifacts of `cargo test --workspace`: only the bench binaries are
#   compiled (`cargo bench` would build everything again, optimised).
# - scripts/bench/deploy-vs-direct.sh (and baseline-direct.sh, which it
#   calls) run once against the test backends (PostgreSQL, PowerDNS, S3),
#   with the debug `podium` binary the first step built.
#
# usage: scripts/bench/smoke.sh    (scripts/test.sh runs it after the tests)
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

started=$(date +%s)
cargo test --workspace --locked --bench '*'
BENCH_SMOKE=1 scripts/bench/deploy-vs-direct.sh
echo "bench smoke: every benchmark ran, in $(($(date +%s) - started)) s"
