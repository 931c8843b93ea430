#!/bin/sh
# End-to-end SMTP delivery figures (see bench/smtp.py); BENCH_RUNS=N for more runs.
exec python3 "$(dirname "$0")/smtp.py" "${BENCH_RUNS:-3}"
