#!/usr/bin/env bash
# Runs one subcommand for every test backend of the built-in drivers.
# usage: scripts/backends/all.sh install|start|stop|reset|env
# `stop` and `reset` go through every backend even if one fails.
set -euo pipefail
cd "$(dirname "$0")"

BACKENDS=(postgres powerdns s3)

case "${1:-}" in
install | start | env)
  for b in "${BACKENDS[@]}"; do ./"$b".sh "$1"; done
  ;;
stop | reset)
  rc=0
  for b in "${BACKENDS[@]}"; do ./"$b".sh "$1" || rc=1; done
  exit $rc
  ;;
*) echo "usage: $0 install|start|stop|reset|env" >&2; exit 2 ;;
esac
