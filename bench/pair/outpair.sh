#!/usr/bin/env bash
# outpair.sh RUNS COUNT SIZE NDOM: ../shared/bench/pair.sh's outbound mode with a message size
# and 1 or NDOM destinations (docs/remote.md "Against Postfix"): COUNT messages of SIZE octets
# are submitted over 587 to each server while the sinks are down (one smtp-sink per
# destination, 127.0.0.1:10026+N, a Postfix transport and a yubin route each), then
# `postqueue -f` / `mailq flush` and the clock runs until every sink has its share. Prints per
# pair the rates, the machine's CPU per message (/proc/stat) and the sinks' own, and the
# median ratio. Run from the yubin checkout, with BENCH_SHARED a writable copy of
# ../shared/bench (default /tmp/bench). Its anchor installs Postfix and Dovecot and rewrites
# their files in /etc: a tool for your own machine, never CI, and not part of `make bench`.
set -u
HERE=${BENCH_SHARED:-/tmp/bench}; ANCHOR=$HERE/anchor; OWN=$(cd "$(dirname "$0")" && pwd)
RUNS=${1:-3} COUNT=${2:-1000} SIZE=${3:-1024} NDOM=${4:-1}
"$HERE/build.sh" >/dev/null
"$ANCHOR/up.sh" >/dev/null 2>&1 || { echo "anchor did not start"; exit 1; }
. "$ANCHOR/target.env"; A_SUB=$SUBMISSION A_CA=$CA_FILE A_ADD=$ADD_USER
export YUBIN_ROOT=/tmp/yubin-pair-$$
yenv=$("$HERE/yubin-up.sh" "$PWD" | tail -1); [ -f "$yenv" ] || { echo "yubin did not start: $yenv"; exit 1; }
. "$yenv"; Y_SUB=$SUBMISSION Y_CA=$CA_FILE Y_ADD=$ADD_USER
trap '"$HERE/yubin-down.sh"' EXIT
U=outbench@example.test
$A_ADD $U benchpw 0 >/dev/null 2>&1; $Y_ADD $U benchpw 1073741824 >/dev/null 2>&1
"$PWD/bin/mailacct" --root "$YUBIN_ROOT" sending-limits $U 0 0 >/dev/null
RUN=$ANCHOR/run
if [ "$NDOM" -gt 1 ]; then
  for i in $(seq 0 $((NDOM-1))); do
    echo "d$i.remote.test:127.0.0.1:$((10026+i))" >> "$YUBIN_ROOT/etc/routes"
    printf 'd%d.remote.test smtp:[127.0.0.1]:%d\n' $i $((10026+i)) >> "$RUN/transport"
  done
  make -C "$YUBIN_ROOT/etc" >/dev/null 2>&1; postmap "hash:$RUN/transport"; postfix reload >/dev/null 2>&1
fi
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
clear_queues() {
  postsuper -d ALL >/dev/null 2>&1
  "$PWD/bin/mailq" --root "$YUBIN_ROOT" list 2>/dev/null | grep -oE '^[0-9a-f]{16}' | while read -r id; do
    "$PWD/bin/mailq" --root "$YUBIN_ROOT" delete "$id" --silent >/dev/null 2>&1; done
}
drain() {
  local tgt=$1 ca=$2; shift 2
  clear_queues
  python3 "$OWN/submit.py" "$tgt" $U benchpw "$ca" "$COUNT" "$SIZE" "$NDOM" >/dev/null || { echo "0 0 0"; return; }
  sleep 3
  local sps=() i
  for i in $(seq 0 $((NDOM-1))); do
    timeout 300 smtp-sink -u nobody -M $((COUNT/NDOM)) 127.0.0.1:$((10026+i)) 256 & sps+=($!)
  done
  sleep 0.3; local t0 b0 sc; t0=$(date +%s.%N); b0=$(busy)
  "$@" >/dev/null 2>&1
  sc=0
  for i in "${sps[@]}"; do
    while kill -0 $i 2>/dev/null; do
      k=$(cat /proc/$i/task/$i/children 2>/dev/null); k=${k%% *}
      c=$(awk '{print $14+$15}' /proc/${k:-$i}/stat 2>/dev/null) && [ -n "$c" ] && last[$i]=$c
      sleep 0.05; done
    sc=$((sc + ${last[$i]:-0}))
  done
  local t1 b1; t1=$(date +%s.%N); b1=$(busy)
  local hz; hz=$(getconf CLK_TCK)
  echo "$(echo "$COUNT / ($t1 - $t0)" | bc -l | xargs printf %.1f) $(echo "($b1 - $b0) * 1000 / $hz / $COUNT" | bc -l | xargs printf %.2f) $(echo "$sc * 1000 / $hz / $COUNT" | bc -l | xargs printf %.2f)"
}
declare -A last
med() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
ratios=()
for r in $(seq 1 "$RUNS"); do
  read -r a ac as < <(drain "$A_SUB" "$A_CA" postqueue -f)
  read -r y yc ys < <(drain "$Y_SUB" "$Y_CA" "$PWD/bin/mailq" --root "$YUBIN_ROOT" flush)
  echo "pair $r: outbound msg/s yubin=$y postfix=$a; machine CPU ms/msg yubin=$yc postfix=$ac; sink ms/msg $ys / $as"
  ratios+=("$(echo "${y:-0} / (${a:-0} + 0.001)" | bc -l | xargs printf %.2f)")
done
echo "median outbound ratio yubin/postfix (COUNT=$COUNT SIZE=$SIZE NDOM=$NDOM) = $(printf '%s\n' "${ratios[@]}" | med)"
echo "command: BENCH_SHARED=$HERE bench/pair/outpair.sh $RUNS $COUNT $SIZE $NDOM (from $PWD)"
