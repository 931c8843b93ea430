#!/bin/bash
# yubin-start: run s6-svscan on ROOT/service in the foreground, print "yubin: ready" once every
# listener in ROOT/etc/listen accepts connections and every socket in ROOT/run exists, and stop
# the whole tree cleanly on SIGTERM or SIGINT (Ctrl-C).
# usage: yubin-start ROOT
set -u
ROOT=${1:?usage: yubin-start ROOT}
[ -d "$ROOT/service" ] || { echo "yubin-start: fatal: $ROOT/service is missing (run yubin-setup)" >&2; exit 100; }

s6-svscan "$ROOT/service" &
svscan=$!
stop() {
    trap '' INT TERM
    echo "yubin: stopping"
    s6-svscanctl -t "$ROOT/service" 2>/dev/null || kill -TERM "$svscan" 2>/dev/null
    wait "$svscan"
    echo "yubin: stopped"
    exit 0
}
trap stop INT TERM

listening() { # host port
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}
ready() {
    local name host port
    while read -r name host port; do
        [ -x "$ROOT/service/$name/run" ] || continue
        listening "$host" "$port" || return 1
    done < "$ROOT/etc/listen"
    for s in authd inject deliver pop3d; do
        [ -d "$ROOT/service/$s" ] || continue
        [ -S "$ROOT/run/$s.sock" ] || return 1
    done
    return 0
}
for i in $(seq 1 300); do
    kill -0 "$svscan" 2>/dev/null || { echo "yubin-start: fatal: s6-svscan exited" >&2; exit 111; }
    if ready; then
        while read -r name host port; do echo "yubin: $name listening on $host:$port"; done < "$ROOT/etc/listen"
        echo "yubin: logs in $ROOT/log/*/current (s6-tai64nlocal < FILE for readable times)"
        echo "yubin: ready"
        break
    fi
    sleep 0.2
done
ready || echo "yubin-start: warning: not every listener is up after 60 s; see $ROOT/log/*/current" >&2
while kill -0 "$svscan" 2>/dev/null; do
    wait "$svscan"
done
