#!/bin/sh
# yubin-tlskeywait ROOT: where the TLS services' run scripts (submission, submissions, starttls,
# pop3, pop3s, fleet-smtp, pop3-fleet) wait, at most 5 s, for tlskeyd (the key holder,
# service tlskeyd) to be up and ready before their tcpserver starts. tlsd hands each
# connection's keys to tlskeyd: a connection taken before it listens (at a start, the
# services' own readiness check) was a "the key holder ... did not take the keys (Connection
# refused): parsing them here" warning in the log. Exits 0 either way: after 5 s tlsd parses
# the keys itself, as it does whenever tlskeyd is down.
# yubin-tlskeywait ROOT starttls: the same wait for the STARTTLS service (service starttls),
# where port 25's run script waits: a STARTTLS before it listens is answered 454.
case $# in 1) svc=tlskeyd ;; 2) svc=$2 ;; *) echo "usage: yubin-tlskeywait ROOT [SERVICE]" >&2; exit 100 ;; esac
i=0
while [ $i -lt 50 ]; do
    # 0 up and ready, 99 timed out; 111: its s6-supervise has not made supervise/ yet
    s6-svwait -U -t $(( (50 - i) * 100 )) "$1/service/$svc" 2>/dev/null
    [ $? = 111 ] || exit 0
    sleep 0.1
    i=$((i + 1))
done
exit 0
