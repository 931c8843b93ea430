#!/bin/sh
# yubin-webready ROOT SOCKET HOST PORT: the readiness check of the member page's doors
# (service/https/run, service/http/run: s6-notifyoncheck -c runs it every 50 ms from the
# start). A door is ready once a request through it can be served: lighttpd (service web) is
# up and ready, its SOCKET behind this door (ROOT/run/web/https.sock or http.sock) accepts,
# and then a TCP connect to HOST:PORT (the door's own tcpserver) succeeds (yubin-ready). The
# port alone accepted while lighttpd was still starting, or down, and every request then
# failed. The wait for lighttpd is s6-svwait's, which waits for service web's "ready" event
# without polling, at most 1 s a try: while lighttpd is down a door tries about once a second,
# not twenty times. Exits 0 ready, else 111, without a word: a try before lighttpd or the
# door has its socket only means "not yet" (s6-ipcclient's and tcpclient's "unable to
# connect" went into the service's log at every start). The connection to SOCKET sends the
# PROXY line lighttpd expects first there, as service web's own check does (an empty one is
# an "hap-PROXY proto received invalid/unsupported request" line in log/web).
[ $# = 4 ] || { echo "usage: yubin-webready ROOT SOCKET HOST PORT" >&2; exit 100; }
s6-svwait -U -t 1000 "$1/service/web" >/dev/null 2>&1 || exit 111
s6-ipcclient "$2" sh -c 'printf "PROXY UNKNOWN\r\n" >&7' >/dev/null 2>&1 || exit 111
exec "${0%/*}/yubin-ready" "$3" "$4"
