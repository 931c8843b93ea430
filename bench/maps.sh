#!/bin/sh
# bench/maps.sh: mkmaps rebuild time for 100,000 accounts over 10,000 domains, users.cdb lookup
# latency through lib/acct (acct_user), and one mailacct add on that root (edit + full rebuild).
# Prints the medians of RUNS runs and the commands that produced them.
# usage: sh bench/maps.sh [RUNS]   (after `make bin/mkmaps bin/mailacct`)
set -e
cd "$(dirname "$0")/.."
RUNS=${1:-5}
DOMAINS=10000
PER=10
LOOKUPS=100000
BUILD=${BUILD:-build}
make -s "$BUILD/lib/libyubin.a" bin/mkmaps bin/mailacct >/dev/null
ROOT=$(mktemp -d /tmp/yubin-bench-maps.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT INT TERM
mkdir -p "$ROOT/etc" "$ROOT/bin"
cp bin/mkmaps bin/mailacct "$ROOT/bin/"
${CC:-cc} -O2 -D_GNU_SOURCE -Ilib -o "$ROOT/bin/maps_bench" cdb/maps_bench.c \
    "$BUILD/lib/libyubin.a" -lcdb

# one fixed sha512-crypt hash: hashing is not what is measured here
HASH='$6$benchsalt$Jq4rmGvNk1E8ZHYoD7p1cY0b7bX5o3bq0Cj9mJ1mS0rU7rS6h2Yx4z5Q8w9e0r1t2y3u4i5o6p7a8s9d0f1g2h'
cp cdb/etc.defaults/plans "$ROOT/etc/plans"
echo mail.bench.test > "$ROOT/etc/me"
echo ops@ops.example > "$ROOT/etc/admin"
awk -v n=$DOMAINS 'BEGIN { for (d = 0; d < n; d++) printf "dom%d.test:%s\n", d, (d % 2 ? "basic" : "premium") }' \
    > "$ROOT/etc/domains"
awk -v n=$DOMAINS -v per=$PER -v h="$HASH" 'BEGIN {
    for (d = 0; d < n; d++) for (u = 0; u < per; u++) printf "user%d@dom%d.test:%s::\n", u, d, h }' \
    > "$ROOT/etc/users"
awk -v n=$DOMAINS 'BEGIN { for (d = 0; d < n; d++) printf "info@dom%d.test: user0@dom%d.test, user1@dom%d.test\n", d, d, d }' \
    > "$ROOT/etc/aliases"
: > "$ROOT/etc/routes"

now() { date +%s.%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "maps: $DOMAINS domains, $((DOMAINS * PER)) accounts, $DOMAINS aliases (+$((2 * DOMAINS + 1)) implicit); $RUNS runs each; $(nproc) CPUs"
echo "cmd: $ROOT/bin/mkmaps --root $ROOT --quiet"
"$ROOT/bin/mkmaps" --root "$ROOT" --quiet   # first build, not counted
i=0; : > "$ROOT/t.mk"
while [ $i -lt "$RUNS" ]; do
    t0=$(now); "$ROOT/bin/mkmaps" --root "$ROOT" --quiet; t1=$(now)
    awk -v a="$t0" -v b="$t1" "BEGIN { print b - a }" >> "$ROOT/t.mk"; i=$((i + 1))
done
printf 'mkmaps rebuild: median %.3f s (runs: %s)\n' "$(median < "$ROOT/t.mk")" "$(tr '\n' ' ' < "$ROOT/t.mk" | sed 's/ $//' | xargs printf '%.3f ')"
ls -l "$ROOT/cdb" | awk 'NR > 1 { printf "  %s %d bytes\n", $9, $5 }'

echo "cmd: $ROOT/bin/maps_bench $ROOT $DOMAINS $PER $LOOKUPS   (acct_user: open + find + close per lookup)"
i=0; : > "$ROOT/t.lk"
while [ $i -lt "$RUNS" ]; do
    "$ROOT/bin/maps_bench" "$ROOT" $DOMAINS $PER $LOOKUPS | awk '{ print $1 }' >> "$ROOT/t.lk"
    i=$((i + 1))
done
printf 'users.cdb lookup (acct_user): median %.2f us per lookup (runs: %s)\n' "$(median < "$ROOT/t.lk")" "$(tr '\n' ' ' < "$ROOT/t.lk")"

echo "cmd: $ROOT/bin/mailacct --root $ROOT add benchN@dom1.test --password pw   (edit etc/users + full rebuild)"
i=0; : > "$ROOT/t.ad"
while [ $i -lt "$RUNS" ]; do
    t0=$(now); "$ROOT/bin/mailacct" --root "$ROOT" add "bench$i@dom1.test" --password pw >/dev/null; t1=$(now)
    awk -v a="$t0" -v b="$t1" "BEGIN { print b - a }" >> "$ROOT/t.ad"; i=$((i + 1))
done
printf 'mailacct add: median %.3f s (runs: %s)\n' "$(median < "$ROOT/t.ad")" "$(tr '\n' ' ' < "$ROOT/t.ad" | sed 's/ $//' | xargs printf '%.3f ')"
