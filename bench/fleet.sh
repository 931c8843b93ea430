#!/bin/sh
# bench/fleet.sh: the fleet's figures (bench/fleet.py): mailacct add to live on 3 nodes
# (median, p99 of 100), mapsync CPU per change, a 10,000-account import live on 3 nodes,
# mailacct passwd while etcd holds 100,000 sending counters (FLEET_OLD_BIN=DIR: an older
# build's mailacct timed too). Needs root, etcd (make deps) and the built programs.
# usage: sh bench/fleet.sh [N] [IMPORT] [RATE]   (0 leaves a part out)
cd "$(dirname "$0")/.." || exit 111
[ "$(id -u)" = 0 ] || { echo "bench/fleet.sh: skipped (needs root: mapsync runs as yubin-sync)"; exit 0; }
command -v etcd >/dev/null || { echo "bench/fleet.sh: skipped (no etcd: make deps)"; exit 0; }
echo "python3 bench/fleet.py ${1:-100} ${2:-10000} ${3:-100000}"
YUBIN_BIN=${YUBIN_BIN:-$(pwd)/bin} exec python3 bench/fleet.py "${1:-100}" "${2:-10000}" "${3:-100000}"
