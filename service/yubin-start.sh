#!/bin/bash
# yubin-start: run s6-svscan on ROOT/service, print "yubin: ready" once every listener in
# ROOT/etc/listen accepts connections and every socket in ROOT/run exists, and stop the whole
# tree on SIGINT (Ctrl-C), SIGTERM or SIGHUP; "yubin: stopped" once no process of it is left.
# Refuses, with one line and exit 111, to start when a tree for ROOT is still up.
# usage: yubin-start [--check] ROOT      (--check: only the refusal test; make run calls it
#                                         before yubin-setup touches the root)
# A listener or socket still missing after YUBIN_READY_WAIT seconds (60) is named in a warning;
# "yubin: ready" follows when it comes.
#
# s6-svscan runs in a session of its own. Started with `&` from this non-interactive shell it
# would share the terminal's process group with SIGINT ignored: Ctrl-C then reached every
# s6-supervise, which passes SIGINT on to its service (ignored there too) and exits, leaving
# the services orphaned and still listening. Here Ctrl-C reaches this shell (and make) only,
# and the trap takes the tree down in order: s6-svscanctl -t (every supervisor stops its
# service and exits), then whatever the services left behind (sessions in progress).
set -u
prog=yubin-start
check=0
[ "${1:-}" = "--check" ] && { check=1; shift; }
[ $# -eq 1 ] || { echo "usage: yubin-start [--check] ROOT" >&2; exit 100; }
case "$1" in /*) ROOT=$1 ;; *) ROOT=$(pwd)/$1 ;; esac
ROOT=${ROOT%/}

# The processes of a tree, from /proc (fields of /proc/PID/stat after the command name:
# state, ppid, pgrp, session). s6-supervise runs each service and each logger with its folder
# in ROOT/service as the working directory, and as a session leader (setsid); sessions in
# progress stay in their service's session wherever they chdir (a POP3 session: its Maildir).
service_dir_pids() {
    find /proc -mindepth 2 -maxdepth 2 -name cwd \( -lname "$ROOT/service" \
        -o -lname "$ROOT/service/*" \) -printf '%h\n' 2>/dev/null | sed 's|^/proc/||'
}
stat_of() { # PID: sets ppid and sid
    local line rest
    { read -r line < "/proc/$1/stat"; } 2>/dev/null || return 1
    rest=${line##*) }
    set -- $rest
    ppid=$2 sid=$4
}
# service_sids: the sessions of the running services (children of an s6-supervise), on one line
service_sids() {
    local p ppid sid comm
    for p in $(service_dir_pids); do
        stat_of "$p" || continue
        { read -r comm < "/proc/$ppid/comm"; } 2>/dev/null || continue
        [ "$comm" = s6-supervise ] && printf "%s " "$sid"
    done
}
# session_pids "SID ...": every process in one of these sessions
session_pids() {
    local p ppid sid
    for p in /proc/[0-9]*; do
        stat_of "${p#/proc/}" || continue
        case " $1 " in *" $sid "*) echo "${p#/proc/}" ;; esac
    done
}
# orphan_pid: a process of an earlier tree whose supervisor is gone (reparented to pid 1)
orphan_pid() {
    local p ppid sid
    for p in $(service_dir_pids); do
        stat_of "$p" || continue
        [ "$ppid" = 1 ] && { echo "$p"; return 0; }
    done
    return 1
}

listening() { # host port
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# refuse_if_running: one line and exit 111 when a tree for ROOT (or anything on its ports)
# is up: s6-svscan answers on its control fifo, a supervisor answers, a process of an earlier
# tree is left, or a listener port already accepts connections.
refuse_if_running() {
    local how="" d name host port p
    local hint="Ctrl-C where it was started, or s6-svscanctl -t $ROOT/service"
    if [ -d "$ROOT/service" ]; then
        if s6-svscanctl "$ROOT/service" 2>/dev/null; then
            how="s6-svscan is running on $ROOT/service"
        else
            for d in "$ROOT"/service/*/ "$ROOT"/service/*/log/; do
                [ -d "$d" ] && s6-svok "$d" 2>/dev/null || continue
                how="a supervisor of ${d#"$ROOT"/service/} is running"
                break
            done
        fi
        if [ -z "$how" ] && p=$(orphan_pid); then
            how="process $p ($(cat "/proc/$p/comm" 2>/dev/null)) of an earlier tree is running"
            hint="end the processes whose working directory is in $ROOT/service"
        fi
    fi
    if [ -z "$how" ] && [ -f "$ROOT/etc/listen" ]; then
        while read -r name host port; do
            listening "$host" "$port" || continue
            how="port $host:$port ($name) already accepts connections"
            hint="stop the program listening there, or give this root other ports"
            break
        done < "$ROOT/etc/listen"
    fi
    [ -z "$how" ] && return 0
    echo "$prog: fatal: yubin is already running for $ROOT ($how): stop it first ($hint)" >&2
    exit 111
}

refuse_if_running
[ $check = 1 ] && exit 0
[ -d "$ROOT/service" ] || { echo "$prog: fatal: $ROOT/service is missing (run yubin-setup)" >&2; exit 100; }

setsid s6-svscan "$ROOT/service" </dev/null &
svscan=$!
stop() {
    trap '' INT TERM HUP
    echo "yubin: stopping"
    local sids left i p ppid sid
    sids="$svscan $(service_sids)"
    s6-svscanctl -t "$ROOT/service" 2>/dev/null || kill -TERM "$svscan" 2>/dev/null
    # Every supervisor stops its service and exits; a logger ends when the last writer of its
    # pipe is gone. Sessions in progress outlive their tcpserver (and would keep their logger
    # waiting): once a session's leader is gone, what is left in it gets SIGTERM.
    for i in $(seq 1 100); do
        left=$(session_pids "$sids")
        [ -z "$left" ] && break
        for p in $left; do
            stat_of "$p" && [ ! -d "/proc/$sid" ] && kill -TERM "$p" 2>/dev/null
        done
        if [ $i = 100 ]; then
            echo "$prog: warning: killing what is left after 10 s:" $left >&2
            kill -KILL $left 2>/dev/null
        fi
        sleep 0.1
    done
    wait "$svscan"
    echo "yubin: stopped"
    exit 0
}
trap stop INT TERM HUP

# ready: every listener accepts and every socket exists; else false, with what is missing
# in $missing (named in the warning after 60 s). The member page's doors (https, http) are
# knocked on only once lighttpd's socket behind them is there: the page is not up before
# lighttpd is (a knock sends nothing: webfront lets it go without a line, lighttpd there or not).
missing=""
ready() {
    local name host port web=""
    missing=""
    while read -r name host port; do
        [ -x "$ROOT/service/$name/run" ] || continue
        case $name in
        http|https)
            [ -S "$ROOT/run/web/$name.sock" ] || { web=${web:-$ROOT/run/web/$name.sock}; continue; } ;;
        esac
        listening "$host" "$port" || { missing="$name on $host:$port"; return 1; }
    done < "$ROOT/etc/listen"
    [ -z "$web" ] || { missing=$web; return 1; }
    for s in authd inject deliver pop3d remote acctd web/https; do
        [ -d "$ROOT/service/${s%/*}" ] || continue
        [ -S "$ROOT/run/$s.sock" ] || { missing="$ROOT/run/$s.sock"; return 1; }
    done
    return 0
}
announce() {
    local name host port
    while read -r name host port; do
        echo "yubin: $name listening on $host:$port"
        [ "$name" = https ] && echo "yubin: member page https://$host:$port/"
    done < "$ROOT/etc/listen"
    echo "yubin: logs in $ROOT/log/*/current (s6-tai64nlocal < FILE for readable times)"
}
up=0
wait_s=${YUBIN_READY_WAIT:-60}   # seconds before the warning (a test shortens it)
case "$wait_s" in ''|*[!0-9]*) wait_s=60 ;; esac
for i in $(seq 1 $((wait_s * 5))); do
    kill -0 "$svscan" 2>/dev/null || { echo "$prog: fatal: s6-svscan exited" >&2; exit 111; }
    if ready; then
        announce
        echo "yubin: ready"
        up=1
        break
    fi
    sleep 0.2
done
if [ $up = 0 ]; then
    echo "$prog: warning: not every listener is up after $wait_s s (still waiting for $missing); see $ROOT/log/*/current" >&2
    # and "yubin: ready" when it comes (a slow disk, a fleet node whose maps come late)
    while kill -0 "$svscan" 2>/dev/null && ! ready; do
        sleep 1
    done
    kill -0 "$svscan" 2>/dev/null && { announce; echo "yubin: ready"; }
fi
while kill -0 "$svscan" 2>/dev/null; do
    wait "$svscan"
done
