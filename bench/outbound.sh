#!/bin/sh
# Outbound delivery into smtp-sink (see bench/outbound.py): msgs/s and CPU per message of
# queue-run and remote, 1 KB / 100 KB, 1 / 10 destinations; medians of BENCH_RUNS runs
# (default 3) of BENCH_N messages (default 1000).
exec python3 "$(dirname "$0")/outbound.py" "${BENCH_RUNS:-3}" "${BENCH_N:-1000}"
