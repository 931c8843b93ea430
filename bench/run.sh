#!/bin/sh
# make bench: run every bench/*.sh (each prints its figures and the commands behind them).
cd "$(dirname "$0")/.." || exit 111
for b in bench/*.sh; do
    [ "$b" = bench/run.sh ] && continue
    echo "== $b   (command: sh $b)"
    sh "$b" || echo "bench: $b failed (exit $?)"
done
