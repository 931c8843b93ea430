#!/bin/sh
# DKIM signing cost per message (1 KB, 1 MB) and 587 end to end signed / not signed
# (see bench/dkim.py); BENCH_RUNS=N for more runs.
exec python3 "$(dirname "$0")/dkim.py" "${BENCH_RUNS:-3}"
