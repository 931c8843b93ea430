#!/bin/sh
# Run every libFuzzer target in build-fuzz/ for SECONDS each (default 60) on its seed corpus
# tests/fuzz/corpus/NAME/ (new inputs go to build-fuzz/corpus/NAME/, not into the repository).
# Prints executions and crashes per target; exits 1 if any target crashed.
secs=${1:-60}
cd "$(dirname "$0")/../.." || exit 111
status=0
for f in build-fuzz/fuzz_*; do
    case "$f" in *.*) continue ;; esac
    [ -x "$f" ] || continue
    name=$(basename "$f")
    mkdir -p "build-fuzz/corpus/$name" "build-fuzz/crash/$name"
    seeds=tests/fuzz/corpus/$name
    [ -d "$seeds" ] || seeds=""
    log=build-fuzz/$name.log
    "$f" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="build-fuzz/crash/$name/" "build-fuzz/corpus/$name" $seeds > "$log" 2>&1
    rc=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    [ -n "$execs" ] || execs=$(grep -oE '#[0-9]+' "$log" | tail -n 1 | tr -d '#')
    crashes=$(ls "build-fuzz/crash/$name" | wc -l)
    echo "fuzz $name: seconds=$secs execs=${execs:-?} crashes=$crashes rc=$rc"
    [ "$rc" = 0 ] && [ "$crashes" = 0 ] || { status=1; tail -n 30 "$log"; }
done
exit $status
