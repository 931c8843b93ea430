#!/bin/sh
# Outbound delivery figures (see bench/remote.py): msgs/s to a loopback sink, 1 KB / 100 KB,
# 1 / 10 destination domains; medians of BENCH_RUNS runs (default 3) of BENCH_N messages
# (default 500).
exec python3 "$(dirname "$0")/remote.py" "${BENCH_RUNS:-3}" "${BENCH_N:-500}"
