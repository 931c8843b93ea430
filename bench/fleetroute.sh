#!/bin/sh
# bench/fleetroute.sh: SMTP relayed through a fleet front vs direct to the home (msg/s), see
# bench/fleetroute.py. Needs root, etcd (make deps) and the built programs.
# usage: sh bench/fleetroute.sh [N] [SESSIONS]
cd "$(dirname "$0")/.." || exit 111
[ "$(id -u)" = 0 ] || { echo "bench/fleetroute.sh: skipped (needs root: the nodes run their own uids)"; exit 0; }
command -v etcd >/dev/null || { echo "bench/fleetroute.sh: skipped (no etcd: make deps)"; exit 0; }
echo "python3 bench/fleetroute.py ${1:-500} ${2:-4}"
YUBIN_BIN=${YUBIN_BIN:-$(pwd)/bin} exec python3 bench/fleetroute.py "${1:-500}" "${2:-4}"
