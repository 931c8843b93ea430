#!/bin/sh
# TLS sessions/s on 587 (STARTTLS+AUTH+1 KB), 465 and 995, RSA-2048 and ECDSA P-256, and the CPU
# of each program per 587 session (see bench/tlssessions.py); BENCH_RUNS=N for more runs.
exec python3 "$(dirname "$0")/tlssessions.py" "${BENCH_RUNS:-3}" "${BENCH_TLS_N:-300}" 10
