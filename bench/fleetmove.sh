#!/bin/sh
# bench/fleetmove.sh: freeze time and total move time of `yubin-fleet domain move` with 2,000
# and 20,000 messages in the mailbox while 500 more are sent through all three nodes and a POP3
# client polls (tests/integration/test_fleet_move.py's move test at these sizes: it also checks
# that every message is in the new home once and the UIDLs stay).
# Needs root, etcd (make deps) and the built programs. usage: sh bench/fleetmove.sh [COUNT ...]
cd "$(dirname "$0")/.." || exit 111
[ "$(id -u)" = 0 ] || { echo "bench/fleetmove.sh: skipped (needs root: the nodes' uids)"; exit 0; }
command -v etcd >/dev/null || { echo "bench/fleetmove.sh: skipped (no etcd: make deps)"; exit 0; }
[ $# -gt 0 ] || set -- 2000 20000
for n in "$@"; do
    echo "bench/fleetmove.sh: $n messages, 500 sent during the move"
    FLEETMOVE_MESSAGES=$n FLEETMOVE_DURING=500 YUBIN_BIN=${YUBIN_BIN:-$(pwd)/bin} \
        BUILD=${BUILD:-build} python3 tests/run test_fleet_move.FleetMoveTest.test_1 2>&1 \
        | grep -E "move of|yubin-fleet: (copy|frozen|final|verified|switched|done)|passed"
done
