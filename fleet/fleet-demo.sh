#!/bin/bash
# fleet-demo: a whole fleet on this one machine (make fleet-demo; docs/fleet.md "fleet-demo"):
# 3 etcd members under one s6-svscan and 3 yubin nodes (a, b, c), each its own mail root and s6
# tree started by yubin-start, all on 127.0.0.1; a demo domain homed on each node; prints the
# ports and `yubin-fleet status`; Ctrl-C (SIGINT), SIGTERM or SIGHUP stops all of it.
# Run as root. usage: fleet-demo DIR BIN SHARE   (ports from FLEET_DEMO_PORT, default 27000:
# the etcd members BASE..BASE+5, node a BASE+10.., b BASE+30.., c BASE+50..)
set -u
prog=fleet-demo
pids=""
# take_down: the nodes, then etcd, once started; the folder is then free for the next run.
# (Defined before anything can fail: a name not yet defined would run a system command.)
take_down() {
    trap '' INT TERM HUP
    [ -n "${sp:-}" ] && kill "$sp" 2>/dev/null
    [ -n "$pids" ] || [ -n "${etcdpid:-}" ] || return 0
    echo "$prog: stopping"
    for p in $pids; do kill -TERM "$p" 2>/dev/null; done
    for p in $pids; do wait "$p" 2>/dev/null; done
    s6-svscanctl -t "$DIR/etcd" 2>/dev/null
    [ -n "${etcdpid:-}" ] && wait "$etcdpid" 2>/dev/null
    : > "$DIR/.stopped"
    echo "$prog: stopped"
}
# die: one line, then what was started is stopped (take_down's lines on stdout), exit 111
die() { echo "$prog: fatal: $*" >&2; take_down; exit 111; }
[ $# -eq 3 ] || { echo "usage: fleet-demo DIR BIN SHARE" >&2; exit 100; }
[ "$(id -u)" = 0 ] || die "run as root (the services run under their own uids)"
command -v etcd >/dev/null || die "no etcd (make deps)"
DIR=$1; BIN=$2; SHARE=$3; BASE=${FLEET_DEMO_PORT:-27000}
[ ! -e "$DIR" ] || [ -z "$(ls -A "$DIR" 2>/dev/null)" ] || [ -e "$DIR/.stopped" ] \
    || die "$DIR is in use (a fleet-demo running, or left by one killed): remove it first"
rm -rf "$DIR"; mkdir -p "$DIR" && chmod 755 "$DIR"
DIR=$(cd "$DIR" && pwd -P)
NODES="a b c"
EP="https://127.0.0.1:$BASE,https://127.0.0.1:$((BASE + 2)),https://127.0.0.1:$((BASE + 4))"
PKI=$DIR/pki
stop() { take_down; exit 0; }
trap stop INT TERM HUP
port() { # NODE OFFSET: a node's ports, BASE+10.. for a, +30.. for b, +50.. for c
    case "$1" in a) echo $((BASE + 10 + $2)) ;; b) echo $((BASE + 30 + $2)) ;; c) echo $((BASE + 50 + $2)) ;; esac
}
# Every port of the demo is free before anything starts: a node whose port is taken would
# refuse to start, and one clear line here beats a wait for a node that never comes up.
for p in $BASE $((BASE + 1)) $((BASE + 2)) $((BASE + 3)) $((BASE + 4)) $((BASE + 5)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null \
        && die "port 127.0.0.1:$p already accepts connections: stop what listens there, or give FLEET_DEMO_PORT another base"
done
for n in $NODES; do
    for o in 0 1 2 3 4 5 6 7 8; do
        p=$(port "$n" "$o")
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null \
            && die "port 127.0.0.1:$p already accepts connections: stop what listens there, or give FLEET_DEMO_PORT another base"
    done
done
fleet() { "$BIN/yubin-fleet" "$@" >/dev/null || die "yubin-fleet $1 failed"; }

# --- etcd: 3 members under s6 (started in a session of their own, as yubin-start does, so a
# Ctrl-C reaches this shell only and stop() takes the tree down in order)
fleet ca "$PKI"
for i in 1 2 3; do fleet cert "$PKI" "e$i" etcd-peer 127.0.0.1; done
fleet cert "$PKI" root root
cluster=""
for i in 1 2 3; do cluster="${cluster:+$cluster,}e$i=https://127.0.0.1:$((BASE + 2 * i - 1))"; done
for i in 1 2 3; do
    s=$DIR/etcd/e$i
    mkdir -p "$s"
    cat > "$s/run" <<EOF
#!/bin/sh
exec 2>&1
exec etcd --name e$i --data-dir $DIR/etcd-data/e$i \\
  --listen-client-urls https://127.0.0.1:$((BASE + 2 * i - 2)) \\
  --advertise-client-urls https://127.0.0.1:$((BASE + 2 * i - 2)) \\
  --listen-peer-urls https://127.0.0.1:$((BASE + 2 * i - 1)) \\
  --initial-advertise-peer-urls https://127.0.0.1:$((BASE + 2 * i - 1)) \\
  --initial-cluster $cluster --initial-cluster-state new --initial-cluster-token fleet-demo \\
  --cert-file $PKI/e$i.pem --key-file $PKI/e$i.key --client-cert-auth --trusted-ca-file $PKI/ca.pem \\
  --peer-cert-file $PKI/e$i.pem --peer-key-file $PKI/e$i.key --peer-client-cert-auth \\
  --peer-trusted-ca-file $PKI/ca.pem --peer-cert-allowed-cn etcd-peer \\
  --auto-compaction-mode periodic --auto-compaction-retention 1h \\
  --heartbeat-interval 50 --election-timeout 500 >> $DIR/etcd-e$i.log
EOF
    chmod 755 "$s/run"
done
setsid s6-svscan "$DIR/etcd" </dev/null >/dev/null 2>&1 &
etcdpid=$!
for t in $(seq 100); do
    "$BIN/yubin-fleet" init "$PKI" "$EP" >/dev/null 2>&1 && break
    [ "$t" = 100 ] && die "etcd did not start (see $DIR/etcd-e1.log)"
    sleep 0.2
done
echo "$prog: etcd members on 127.0.0.1:$BASE, $((BASE + 2)), $((BASE + 4)) (3 members, TLS, auth on)"

for n in $NODES; do
    fleet node "$PKI" "$EP" "$n"
    env YUBIN_LISTEN=127.0.0.1 YUBIN_ME="mail-$n.demo.test" \
        YUBIN_PORT_SMTP="$(port "$n" 0)" YUBIN_PORT_SUBMISSION="$(port "$n" 1)" \
        YUBIN_PORT_SUBMISSIONS="$(port "$n" 2)" YUBIN_PORT_POP3="$(port "$n" 3)" \
        YUBIN_PORT_POP3S="$(port "$n" 4)" YUBIN_PORT_HTTPS="$(port "$n" 5)" \
        YUBIN_PORT_HTTP="$(port "$n" 6)" YUBIN_PORT_FLEET_SMTP="$(port "$n" 7)" \
        YUBIN_PORT_FLEET_POP3="$(port "$n" 8)" \
        "$BIN/yubin-setup" --bin "$BIN" --share "$SHARE" --fleet "$n" --etcd "$EP" \
        --fleet-ca "$PKI" "$DIR/$n" > "$DIR/$n.setup.log" 2>&1 || die "yubin-setup of node $n failed (see $DIR/$n.setup.log)"
    setsid "$BIN/yubin-start" "$DIR/$n" </dev/null > "$DIR/$n.log" 2>&1 &
    pids="$pids $!"
    eval "pid_$n=$!"
done
# not_ready NODE WHY: stop, with the end of the node's own log (what yubin-start said)
not_ready() {
    echo "$prog: node $1 $2; the end of $DIR/$1.log:" >&2
    tail -n 5 "$DIR/$1.log" | sed 's/^/  /' >&2
    die "node $1 did not become ready (its services log to $DIR/$1/log/*/current)"
}
for n in $NODES; do
    eval "p=\$pid_$n"
    for t in $(seq 600); do
        grep -q "yubin: ready" "$DIR/$n.log" && break
        kill -0 "$p" 2>/dev/null || not_ready "$n" "stopped: its yubin-start exited"
        [ "$t" = 300 ] && grep "not every listener is up" "$DIR/$n.log" >&2
        [ "$t" = 600 ] && not_ready "$n" "was not ready after 120 s"
        sleep 0.2
    done
done
A=$DIR/a
"$BIN/mailacct" --root "$A" import >/dev/null || die "mailacct import failed"
for n in $NODES; do
    "$BIN/yubin-fleet" --root "$A" node add "$n" 127.0.0.1 "$(port "$n" 7)" "$(port "$n" 8)" >/dev/null \
        || die "yubin-fleet node add $n failed"
    for m in $NODES; do echo "$m $DIR/$m"; done > "$DIR/$n/etc/fleet.d/peers"
done
for n in $NODES; do
    "$BIN/mailacct" --root "$A" domain add "demo-$n.test" --plan premium --home "$n" >/dev/null \
        || die "mailacct domain add demo-$n.test failed"
    "$BIN/mailacct" --root "$A" add "info@demo-$n.test" --password "Demo-$n-pw1" >/dev/null \
        || die "mailacct add info@demo-$n.test failed"
done
echo
printf '%-5s %6s %6s %6s %6s %6s %6s %9s %9s  %s\n' NODE SMTP SUBM SUBMS POP3 POP3S HTTPS FLEETSMTP FLEETPOP3 ROOT
for n in $NODES; do
    printf '%-5s %6s %6s %6s %6s %6s %6s %9s %9s  %s\n' "$n" "$(port "$n" 0)" "$(port "$n" 1)" \
        "$(port "$n" 2)" "$(port "$n" 3)" "$(port "$n" 4)" "$(port "$n" 5)" "$(port "$n" 7)" \
        "$(port "$n" 8)" "$DIR/$n"
done
echo
for n in $NODES; do echo "demo account: info@demo-$n.test password Demo-$n-pw1 (homed on $n)"; done
echo
"$BIN/yubin-fleet" --root "$A" status
echo
echo "try: $BIN/yubin-fleet --root $DIR/a domain move demo-a.test b"
echo "$prog: ready (Ctrl-C stops the fleet)"
while :; do sleep 3600 & sp=$!; wait $sp; done
