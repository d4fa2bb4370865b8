#!/usr/bin/env bash
# Run the podium service with its embedded defaults (data in ./.podium).
# Extra arguments go to `podium serve`, e.g. scripts/run.sh --listen 127.0.0.1:9090
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec cargo run --release --bin podium -- serve "$@"
