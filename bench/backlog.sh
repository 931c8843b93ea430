#!/bin/sh
# queue-run's CPU per delivered message beside 0 / 5,000 / 20,000 deferred messages (see
# bench/backlog.py); BENCH_N messages (default 1000), BENCH_BACKLOGS (default 0,5000,20000).
exec python3 "$(dirname "$0")/backlog.py" "${BENCH_N:-1000}" "${BENCH_BACKLOGS:-0,5000,20000}"
