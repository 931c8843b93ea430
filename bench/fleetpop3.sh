#!/bin/sh
# bench/fleetpop3.sh: POP3 through a fleet front vs direct on the home node (bench/fleetpop3.py):
# login+STAT+UIDL at 10,000 messages and RETR of all of them (MB/s), medians.
# Needs root, etcd (make deps) and the built programs. usage: sh bench/fleetpop3.sh [COUNT] [RUNS]
cd "$(dirname "$0")/.." || exit 111
[ "$(id -u)" = 0 ] || { echo "bench/fleetpop3.sh: skipped (needs root: the nodes' uids)"; exit 0; }
command -v etcd >/dev/null || { echo "bench/fleetpop3.sh: skipped (no etcd: make deps)"; exit 0; }
echo "python3 bench/fleetpop3.py ${1:-10000} ${2:-5}"
YUBIN_BIN=${YUBIN_BIN:-$(pwd)/bin} exec python3 bench/fleetpop3.py "${1:-10000}" "${2:-5}"
