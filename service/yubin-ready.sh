#!/bin/sh
# yubin-ready HOST PORT: the readiness check of every TCP service (service/*/run, fleet/*/run:
# s6-notifyoncheck -c runs it every 50 ms from the start). Exits 0 once a TCP connect to
# HOST:PORT succeeds (the connection is closed at once, without a byte), else with tcpclient's
# code (111), without a word: a try before tcpserver has bound the port only means "not yet",
# and tcpclient's "unable to connect to HOST port PORT: connection refused" went into the
# service's log at every start. Only the check's own stderr is dropped: the service's errors
# (tcpserver's "unable to bind", ...) are logged as ever. As service web's check (its run).
[ $# = 2 ] || { echo "usage: yubin-ready HOST PORT" >&2; exit 100; }
exec tcpclient -RHl0 "$1" "$2" true 2>/dev/null
