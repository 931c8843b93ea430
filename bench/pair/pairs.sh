#!/usr/bin/env bash
# pairs.sh smtp|tls [RUNS] [COUNT]: the README "Benchmarks" rows for port 25 and 587/465/995,
# from ../shared/bench/pair.sh as it is, with the two things these rows need and it lacks.
#   tls:  the bench accounts' sending limits lifted on our side (`mailacct sending-limits ADDR
#         0 0`: one run sends COUNT messages from one account, past the plan's hour; the
#         reference has no limits), and a 465 column (tls_sessions.py smtps, yubin only).
#   smtp: a dnsmasq on loopback as yubin's resolver (every name NXDOMAIN), so the inbound checks
#         run as they do in production without waiting on a resolver off the machine (the
#         reference checks nothing); the disk's single-stream fsync ceiling before and after.
# Copies ../shared/bench to BENCH_SHARED (default /tmp/bench) when it is not there, and patches
# that copy's pair.sh (once). Run from the yubin checkout. The anchor installs Postfix and
# Dovecot and rewrites their files in /etc: a tool for your own machine, never CI, and not part
# of `make bench`. For outbound rows: bench/pair/outpair.sh.
set -u
mode=${1:-tls}; RUNS=${2:-5}
OWN=$(cd "$(dirname "$0")" && pwd); SRC=$(cd "$OWN/../.." && pwd)
HERE=${BENCH_SHARED:-/tmp/bench}
[ -x "$HERE/pair.sh" ] || cp -r "$SRC/../shared/bench" "$HERE" || exit 1
p=$HERE/pair.sh
if ! grep -q 'sending-limits "tlsb' "$p"; then
    # after each bench account is added on our side; then the 465 figure beside each pair's line
    sed -i -e '/\$Y_ADD "tlsb\$i@example.test"/a\    "$PWD/bin/mailacct" --root "$YUBIN_ROOT" sending-limits "tlsb$i@example.test" 0 0 >/dev/null' \
        -e '/echo "pair \$r: 587 STARTTLS/a\    ys=$(sps smtps 127.0.0.1:20465 tlsb@example.test benchpw "$A_CA"); echo "pair $r: 465 yubin=${ys:-fail}"' "$p"
    grep -q 'sending-limits "tlsb' "$p" && grep -q 'sps smtps' "$p" ||
        { echo "pairs.sh: $p is not the pair.sh these lines fit; patch it by hand"; exit 1; }
fi
cd "$SRC" || exit 1
case "$mode" in
tls)
    "$p" tls "$RUNS" "${3:-400}"
    ;;
smtp)
    command -v dnsmasq >/dev/null || { echo "pairs.sh: dnsmasq is needed (apt-get install dnsmasq-base)"; exit 1; }
    dnsmasq --keep-in-foreground --no-resolv --no-hosts --port=5354 --listen-address=127.0.0.1 \
        --bind-interfaces --address=/#/ --pid-file= &
    dp=$!
    trap 'kill $dp 2>/dev/null' EXIT
    export YUBIN_RESOLVER=127.0.0.1:5354
    "$HERE/build.sh" >/dev/null
    mkdir -p /var/tmp/fsc
    echo "fsync ceiling before: $("$HERE/fsync_ceiling" /var/tmp/fsc 1024 2000 2>&1 | tail -1)"
    "$p" smtp "$RUNS"
    echo "fsync ceiling after: $("$HERE/fsync_ceiling" /var/tmp/fsc 1024 2000 2>&1 | tail -1)"
    ;;
*)
    echo "usage: bench/pair/pairs.sh smtp|tls [RUNS] [COUNT]"; exit 2
    ;;
esac
echo "command: BENCH_SHARED=$HERE bench/pair/pairs.sh $mode $RUNS${3:+ $3} (from $SRC)"
