#!/bin/sh
# Inbound verification cost per message: SPF + DKIM + DMARC of a 1 KB signed message against a
# local dnsmasq (see bench/inbound.py); BENCH_RUNS=N for more runs.
exec python3 "$(dirname "$0")/inbound.py" "${BENCH_RUNS:-3}"
