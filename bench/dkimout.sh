#!/bin/sh
# Outbound into smtp-sink with DKIM signing on against off (see bench/dkimout.py): msg/s and
# remote CPU per message, 1 KB / 100 KB, signed / unsigned alternating; medians of BENCH_RUNS
# runs (default 3) of BENCH_N messages (default 300).
exec python3 "$(dirname "$0")/dkimout.py" "${BENCH_RUNS:-3}" "${BENCH_N:-300}"
