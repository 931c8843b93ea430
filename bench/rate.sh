#!/bin/sh
# bench/rate.sh: the cost per message of the sending counters (lib/rate, docs/smtp.md
# "Sending limits"): smtpd's reads at MAIL plus the locked read-modify-one-pwrite after the
# message is queued, over 1,000 accounts' files in a root under /tmp: on a single server (the
# read of rate/NAME and one failed stat of ratefleet/.fresh) and on a fleet node (also the
# stat and the read of ratefleet/NAME, the other nodes' counts: docs/fleet.md). Prints the
# medians of RUNS runs of each and the commands that produced them.
# usage: sh bench/rate.sh [RUNS]
set -e
cd "$(dirname "$0")/.."
RUNS=${1:-5}
ACCOUNTS=1000
MESSAGES=100000
BUILD=${BUILD:-build}
make -s "$BUILD/lib/libyubin.a" >/dev/null
ROOT=$(mktemp -d /tmp/yubin-bench-rate.XXXXXX)
trap 'rm -rf "$ROOT" "$ROOT.fleet"' EXIT INT TERM
mkdir -p "$ROOT/rate" "$ROOT/bin" "$ROOT.fleet/rate" "$ROOT.fleet/ratefleet"
${CC:-cc} -O2 -D_GNU_SOURCE -Ilib -o "$ROOT/bin/rate_bench" bench/rate_bench.c \
    "$BUILD/lib/libyubin.a"
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "rate: $MESSAGES messages over $ACCOUNTS accounts; $RUNS runs; $(nproc) CPUs; $(df -T /tmp | awk 'NR == 2 { print $2 }') under /tmp"
for mode in single fleet; do
    r=$ROOT; [ $mode = fleet ] && r=$ROOT.fleet
    arg=""; [ $mode = fleet ] && arg=fleet
    echo "cmd: $ROOT/bin/rate_bench $r $ACCOUNTS $MESSAGES $arg"
    "$ROOT/bin/rate_bench" "$r" $ACCOUNTS $ACCOUNTS $arg >/dev/null  # create the files, not counted
    i=0; : > "$ROOT/t.all"; : > "$ROOT/t.rd"
    while [ $i -lt "$RUNS" ]; do
        "$ROOT/bin/rate_bench" "$r" $ACCOUNTS $MESSAGES $arg > "$ROOT/t.one"
        awk '{ print $1 }' "$ROOT/t.one" >> "$ROOT/t.all"
        awk '{ print $2 }' "$ROOT/t.one" >> "$ROOT/t.rd"
        i=$((i + 1))
    done
    printf '%s: counters per message (reads at MAIL + open, flock, read, one pwrite, close): median %.2f us (runs: %s)\n' \
        $mode "$(median < "$ROOT/t.all")" "$(tr '\n' ' ' < "$ROOT/t.all")"
    printf '%s:   of which the reads at MAIL: median %.2f us\n' $mode "$(median < "$ROOT/t.rd")"
done
printf 'file per account: %d bytes\n' "$(stat -c %s "$ROOT/rate/user0@bench.test")"
