#!/bin/bash
# yubin-check: tell an operator whether an installation is healthy. Prints one line per check
# ("ok", "warning" or "FAIL") and exits 0 when nothing failed, 1 when something did.
#   every service (and its logger) is up; the maps are compiled, readable by the uids that need
#   them and not older than their sources; psl.cdb compiled from the current Public Suffix List
#   (a warning otherwise); the queue's size and oldest message; each destination queue-run
#   found down (a warning: for how long, why; its mail waits); free disk space;
#   certificate expiry (warning 30 days ahead); accounts over 90% of their quota; on a fleet
#   node, the etcd revision of its maps, that its node record names the port of its internal
#   SMTP service, as root whether etcd's space alarm NOSPACE is raised (its database full: a
#   FAIL line; nothing about it otherwise), and that ratesync may read and write the sending
#   counters in etcd (as root) and heard from etcd within 15 s;
#   as root, that this server's name has a DKIM key for the mail it writes itself (a warning
#   otherwise).
# usage: yubin-check [--root DIR]  (default $YUBIN_ROOT, else the root yubin-setup recorded in
#                                   .yubin-root beside this program)
set -u
ROOT=${YUBIN_ROOT:-}
while [ $# -gt 0 ]; do
    case "$1" in
        --root) ROOT=$2; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "yubin-check: unknown argument $1" >&2; exit 100 ;;
    esac
done
bin=$(dirname "$(readlink -f "$0")")     # the programs installed beside this one
# no --root, no YUBIN_ROOT: the root yubin-setup recorded beside this program (as cfg_root_find)
if [ -z "$ROOT" ]; then
    rec=$bin/.yubin-root
    [ -r "$rec" ] && IFS= read -r ROOT < "$rec"
    case "$ROOT" in /*) [ -d "$ROOT" ] || ROOT="" ;; *) ROOT="" ;; esac
fi
[ -n "$ROOT" ] || { echo "yubin-check: no mail root: give --root DIR or set YUBIN_ROOT (or set one up with yubin-setup ROOT, which records it beside the programs)" >&2; exit 100; }
[ -d "$ROOT/etc" ] || { echo "yubin-check: $ROOT is not a mail root (no etc/ folder)" >&2; exit 100; }
failed=0
ok() { echo "ok: $*"; }
warn() { echo "warning: $*"; }
fail() { echo "FAIL: $*"; failed=1; }
asroot=0; [ "$(id -u)" = 0 ] && asroot=1

# services
for sdir in "$ROOT"/service/*/; do
    [ -f "$sdir/run" ] || continue
    name=$(basename "$sdir")
    for d in "$sdir" "$sdir/log"; do
        label=$name; [ "$d" = "$sdir/log" ] && label="$name/log"
        st=$(s6-svstat -o up,ready,pid,normallyup "$d" 2>/dev/null)
        if [ -z "$st" ]; then
            fail "service $label is not supervised (is s6-svscan running on $ROOT/service?)"
            continue
        fi
        set -- $st
        if [ "$1" = true ]; then
            ok "service $label up (pid $3)"
        elif [ "$4" = false ]; then
            warn "service $label is down on purpose (s6-svc -d)"
        else
            fail "service $label is down: see $ROOT/log/$name/current"
        fi
    done
done

# maps: compiled, fresh, readable by the right uids
for m in users domains aliases routes auth; do
    c=$ROOT/cdb/$m.cdb
    if [ ! -f "$c" ]; then
        fail "map cdb/$m.cdb missing: run make -C $ROOT/etc"
        continue
    fi
    src=$ROOT/etc/$m
    [ $m = auth ] && src=$ROOT/etc/users
    # a fleet node's maps come from etcd (mapsync), not from etc/: docs/fleet.md
    [ -e "$ROOT/etc/fleet" ] && src=/nonexistent
    if [ -f "$src" ] && [ "$src" -nt "$c" ]; then
        fail "map cdb/$m.cdb is older than etc/$(basename "$src"): run make -C $ROOT/etc"
    else
        ok "map cdb/$m.cdb is up to date"
    fi
done
# etc/fleet by the rule of every reader of it (docs/fleet.md "Modes"; fleet-conf asks
# lib/fleethome.c, as mapsync and smtpd do): a line they refuse fails here as
# "etc/fleet:LINE: reason"; a setting on more than one line counts by its last line. fleet: set
# when etc/fleet is there and good (the fleet checks below need it)
fleet_conf() { sed -n "s/^$1=//p" "$ROOT/etc/fleet" | tail -n 1; }
fleet=
if [ -e "$ROOT/etc/fleet" ]; then
    if why=$("$bin/fleet-conf" "$ROOT"); then
        fleet=1
    else
        fail "$ROOT/$why: every program of this node refuses the file (mapsync, smtpd," \
             "yubin-fleet): correct that line"
    fi
fi
if [ -n "$fleet" ]; then
    for k in $(sed -n 's/^\([a-z]*\)=.*/\1/p' "$ROOT/etc/fleet" | sort | uniq -d); do
        warn "etc/fleet sets $k= on $(grep -c "^$k=" "$ROOT/etc/fleet") lines: the last," \
             "$k=$(fleet_conf "$k"), counts for every program of this node; remove the others"
    done
    node=$(fleet_conf node)
    if [ -s "$ROOT/cdb/revision" ]; then
        ok "fleet node $node: maps built from etcd revision $(cat "$ROOT/cdb/revision") (mapsync)"
    else
        fail "fleet node $node: no maps from etcd yet: read $ROOT/log/mapsync/current"
    fi
fi
# fleet: this node's record (cdb/nodes.cdb) must name the port its internal SMTP service
# (fleet-smtp) listens on, or the other nodes' queues cannot hand it the mail homed here
if [ -n "$fleet" ]; then
    rec=$(cdb -q "$ROOT/cdb/nodes.cdb" "$node" 2>/dev/null)
    lport=$(awk '$1 == "fleet-smtp" { print $3 }' "$ROOT/etc/listen" 2>/dev/null)
    case "$rec" in
        '') warn "fleet node $node has no node record: other nodes cannot route mail to it" \
                 "(yubin-fleet node add $node ADDRESS ${lport:-4025})" ;;
        *" smtp=$lport "*) ok "fleet node $node: internal SMTP port $lport (fleet-smtp), as its record says" ;;
        *) fail "fleet node $node: its record says \"$rec\" but fleet-smtp listens on port" \
                "${lport:-?}: give the node's record and YUBIN_PORT_FLEET_SMTP one port" ;;
    esac
fi
# fleet: etcd's space alarm (docs/fleet.md "etcd's database is full"). Once etcd's database
# reaches its quota (--quota-backend-bytes) etcd refuses every write while it still serves
# reads: mapsync keeps the maps and mail flows, but no account changes, no approval of the
# member page, no move, and no node's sending counts reach the others. Asked with the node's
# certificate (alarm list; the refusal of ratesync's write probe below says it too).
#
# fleet: ratesync carries the sending counters between the nodes (docs/fleet.md "Sending
# limits across nodes"). The node's etcd role must let it read /yubin/rate/ and write
# /yubin/rate/NODE/ (a role made before ratesync lacks both: yubin-fleet node-grants), and
# ratefleet/.fresh says it heard from etcd within the 15 s smtpd trusts it for; else each node
# counts only its own mail against the sending limits, and mail flows as if nothing were wrong.
if [ -n "$fleet" ]; then
    node=$(fleet_conf node)
    eps=$(fleet_conf endpoints)
    fd=$ROOT/etc/fleet.d
    grants="yubin-fleet node-grants CA-FOLDER $eps $node"
    grants="$grants (with the root certificate, where the fleet CA is)"
    refused=""
    full=""
    asked=""
    unreached=""
    # as mapsync and ratesync: the node's certificate
    ectl() {
        ETCDCTL_API=3 etcdctl --endpoints="$eps" --cacert="$fd/ca.pem" --cert="$fd/node.pem" \
            --key="$fd/node.key" --dial-timeout=2s --command-timeout=5s "$@"
    }
    full_fail() {
        full=1
        fail "fleet node $node: etcd refuses every write: its database is full (space alarm" \
             "NOSPACE): mailacct changes, the member page's approvals, domain moves and the" \
             "fleet-wide sending counts stop until it is freed (mail still flows); compact," \
             "defragment each member, then etcdctl alarm disarm, with the root certificate" \
             "(docs/fleet.md \"etcd's database is full\")"
    }
    if [ -r "$fd/node.key" ] && command -v etcdctl > /dev/null; then
        asked=1
        if alarms=$(ectl alarm list 2>&1); then
            case "$alarms" in *NOSPACE*) full_fail ;; esac
        else
            case "$alarms" in
                *"permission denied"*) ;;   # a later etcd's rule: the write probe tells
                *) unreached=$(printf '%s\n' "$alarms" | tail -n 1) ;;
            esac
        fi
    fi
    if [ ! -f "$ROOT/service/ratesync/run" ]; then
        fail "fleet node $node has no service ratesync (set up before it): each node counts" \
             "its own mail against the sending limits; run $grants, then yubin-setup --fleet" \
             "$node again on this node"
    elif [ -n "$unreached" ]; then
        # etcd did not answer at all: the probes below would wait as long again each
        warn "fleet node $node: unable to ask etcd for ratesync's rights: $unreached"
    elif [ -n "$asked" ]; then
        # as ratesync: the write is asked by a transaction whose compare never holds (etcd
        # checks the rights of its operations all the same) and so writes nothing
        rerr=$(ectl get /yubin/rate/ --prefix --limit 1 --keys-only 2>&1 > /dev/null) || :
        werr=$(printf 'version("/yubin/rate/%s/") < "0"\n\nput /yubin/rate/%s/ "-"\n\n\n' \
               "$node" "$node" | ectl txn 2>&1 > /dev/null) || :
        case "$rerr" in *"permission denied"*) refused="read /yubin/rate/" ;; esac
        case "$werr" in
            *"permission denied"*) refused="${refused:+$refused or }write /yubin/rate/$node/" ;;
            # a full etcd refuses the write before it looks at the rights: they are unknown
            *"database space exceeded"*) [ -n "$full" ] || full_fail; werr="" ;;
        esac
        if [ -n "$refused" ]; then
            fail "fleet node $node: etcd does not let ratesync $refused (the node's role lacks" \
                 "the grants of the sending limits): each node counts its own mail against" \
                 "them; run $grants"
        elif [ -n "$rerr$werr" ]; then
            warn "fleet node $node: unable to ask etcd for ratesync's rights:" \
                 "$(printf '%s\n' "$rerr$werr" | tail -n 1)"
        elif [ -n "$full" ]; then
            ok "fleet node $node: etcd lets ratesync read /yubin/rate/ (its right to write" \
               "/yubin/rate/$node/ cannot be asked while etcd is full)"
        else
            ok "fleet node $node: etcd lets ratesync read /yubin/rate/ and write /yubin/rate/$node/"
        fi
    fi
    # the stamp (as root: ratefleet/ is yubin-sync's and smtpd's only)
    if [ -f "$ROOT/service/ratesync/run" ] && [ -z "$refused" ] && [ -x "$ROOT/ratefleet" ]; then
        fresh=$ROOT/ratefleet/.fresh
        age=""
        [ -e "$fresh" ] && age=$(( $(date +%s) - $(stat -c %Y "$fresh") ))
        set -- $(s6-svstat -o up,updownfor "$ROOT/service/ratesync" 2>/dev/null) x 0
        why=$(sed -n 's|.*ratesync: warning: unable to read /yubin/rate/ from etcd (\(.*\)): until .*|\1|p' \
                  "$ROOT/log/ratesync/current" 2>/dev/null | tail -n 1)
        stale="the sending limits count this node's mail only"
        if [ -n "$age" ] && [ "$age" -le 15 ] && [ -n "$full" ]; then
            ok "fleet node $node: ratesync heard from etcd ${age} s ago (ratefleet/.fresh):" \
               "it reads the counts etcd holds, but none reach etcd while it is full"
        elif [ -n "$age" ] && [ "$age" -le 15 ]; then
            ok "fleet node $node: ratesync heard from etcd ${age} s ago (ratefleet/.fresh):" \
               "the sending limits count the fleet's mail"
        elif [ "$1" != true ]; then
            warn "fleet node $node: ratesync is not running: $stale" \
                 "(s6-svc -u $ROOT/service/ratesync)"
        elif [ "$2" -le 15 ]; then
            warn "fleet node $node: ratesync started $2 s ago and has not heard from etcd yet"
        else
            [ -n "$age" ] && age="$age s old" || age=missing
            [ -n "$why" ] && why=" ($why)"
            fail "fleet node $node: ratefleet/.fresh is $age: ratesync cannot read etcd$why:" \
                 "$stale; see $ROOT/log/ratesync/current"
        fi
    fi
fi
# DMARC's Public Suffix List, compiled into psl.cdb by every build of the maps (docs/maps.md)
psl=$(head -n 1 "$ROOT/etc/env/PSL_FILE" 2>/dev/null)
case "$psl" in /*) ;; *) psl=/usr/share/publicsuffix/public_suffix_list.dat ;; esac
if [ -f "$psl" ]; then
    if [ "$(cdb -q "$ROOT/cdb/psl.cdb" '#stamp' 2>/dev/null)" = "$(stat -c '%.9Y %s %i' "$psl")" ]
    then
        ok "psl.cdb compiled from the current Public Suffix List"
    else
        warn "psl.cdb is missing or was compiled from another $psl: run bin/mkmaps --root $ROOT" \
             "(until then smtpd reads the list itself for DMARC)"
    fi
fi
if [ $asroot = 1 ]; then
    canread() { s6-setuidgid "$1" sh -c "exec cat -- '$2' > /dev/null" 2>/dev/null; }
    canread yubin-auth "$ROOT/cdb/auth.cdb" && ok "auth.cdb readable by yubin-auth" \
        || fail "auth.cdb is not readable by yubin-auth (owner root:yubin-auth, mode 0640)"
    for u in yubin-smtpd yubin-pop yubin-q yubin-mbox; do
        canread $u "$ROOT/cdb/auth.cdb" && fail "auth.cdb is readable by $u: chmod 0640, chgrp yubin-auth"
        canread $u "$ROOT/cdb/users.cdb" || fail "users.cdb is not readable by $u"
    done
    # fleet: the DKIM keys mapsync compiles for the signer (docs/dkim.md "Keys in a fleet")
    if [ -e "$ROOT/cdb/dkim.cdb" ]; then
        bad=""
        for u in yubin-smtpd yubin-pop yubin-remote yubin-tls yubin-web yubin-q; do
            canread $u "$ROOT/cdb/dkim.cdb" && bad="$bad $u"
        done
        if ! canread yubin-dkim "$ROOT/cdb/dkim.cdb"; then
            fail "dkim.cdb is not readable by yubin-dkim: mapsync lacks the group yubin-dkim" \
                 "(run yubin-setup --fleet again, then s6-svc -r $ROOT/service/mapsync)"
        elif [ -n "$bad" ]; then
            fail "dkim.cdb (DKIM private keys) is readable by$bad: chmod 0640, chgrp yubin-dkim"
        else
            ok "dkim.cdb readable by yubin-dkim only"
        fi
    fi
    # the host name's DKIM key: bounces and warnings (From MAILER-DAEMON@ME) are signed with it
    # (docs/dkim.md "The server's own mail"); ROOT/dkim/ is the signer's, so root looks
    me=$(head -n 1 "$ROOT/etc/me" 2>/dev/null)
    if [ -n "$me" ]; then
        if [ -e "$ROOT/etc/fleet" ]; then
            key=$(cdb -q "$ROOT/cdb/dkim.cdb" "$me" 2>/dev/null)
        else
            key=$(head -n 1 "$ROOT/dkim/$me/selector" 2>/dev/null)
        fi
        if [ -n "$key" ]; then
            ok "this server's name $me has a DKIM key (selector $key): its bounces are signed"
        else
            warn "this server's name $me has no DKIM key: its bounces and delay warnings leave" \
                 "unsigned (big providers may put them in spam); make one with" \
                 "mailacct domain dkim $me rotate and publish the records it prints"
        fi
    fi
fi

# queue
if [ -d "$ROOT/queue/mess" ]; then
    n=$(find "$ROOT/queue/mess" -type f | wc -l)
    oldest=$(find "$ROOT/queue/mess" -type f -printf '%T@\n' | sort -n | head -n 1)
    if [ "$n" = 0 ]; then
        ok "queue empty"
    else
        age=$(( $(date +%s) - ${oldest%.*} ))
        msg="queue holds $n message(s), oldest $((age / 3600)) h $((age % 3600 / 60)) min old (bin/mailq)"
        if [ $age -gt 86400 ]; then warn "$msg"; else ok "$msg"; fi
    fi
    # destinations none of whose servers answered: queue-run holds their mail until its next
    # try of each (docs/queue.md "A destination that is down"); queue/down read by mailq's rule
    down_re='^    ([^ ]+)  down for ([^ ]+)  rounds=([0-9]+)  next try (now|in [^ ]+)  (.*)$'
    if downs=$("$bin/mailq" --root "$ROOT" down 2>/dev/null); then
        n=0
        while IFS= read -r line; do
            [[ $line =~ $down_re ]] || continue
            n=$((n + 1))
            warn "destination ${BASH_REMATCH[1]} is down: no server of it answered for" \
                 "${BASH_REMATCH[2]} (${BASH_REMATCH[3]} rounds, next try ${BASH_REMATCH[4]}):" \
                 "${BASH_REMATCH[5]}; its mail waits (bin/mailq lists it, bin/mailq flush tries" \
                 "it now)"
        done <<< "$downs"
        [ $n = 0 ] && ok "no destination down"
    else
        warn "unable to read $ROOT/queue/down: bin/mailq --root $ROOT down says why"
    fi
fi

# disk
avail=$(df -Pk "$ROOT" | awk 'NR==2 {print $4}')
pct=$(df -Pk "$ROOT" | awk 'NR==2 {sub("%","",$5); print $5}')
if [ "${avail:-0}" -lt 102400 ]; then
    fail "only $((avail / 1024)) MB free on the mail root's filesystem"
elif [ "${pct:-0}" -ge 90 ]; then
    warn "the mail root's filesystem is ${pct}% full"
else
    ok "disk: $((avail / 1024)) MB free (${pct}% used)"
fi

# certificates
for pem in "$ROOT"/etc/tls/*.pem; do
    [ -f "$pem" ] || continue
    case "$(basename "$pem")" in ca.pem) continue ;; esac
    end=$(openssl x509 -noout -enddate -in "$pem" 2>/dev/null | cut -d= -f2)
    if [ -z "$end" ]; then
        fail "certificate $pem cannot be read"
    elif ! openssl x509 -noout -checkend 0 -in "$pem" >/dev/null 2>&1; then
        fail "certificate $(basename "$pem") expired on $end"
    elif ! openssl x509 -noout -checkend 2592000 -in "$pem" >/dev/null 2>&1; then
        warn "certificate $(basename "$pem") expires within 30 days ($end): replace it in etc/tls/"
    else
        ok "certificate $(basename "$pem") valid until $end"
    fi
done

# accounts over 90% of their quota (summaries in quota/, limits in users.cdb)
if [ -f "$ROOT/cdb/users.cdb" ] && command -v cdb >/dev/null; then
    # a size as quota-report prints it (lib/str.c str_size_human): "20 MB", "18.1 MB", "972800 bytes"
    human() {
        local b=$1 mb=1048576 t
        if [ "$b" -ge $mb ] && [ $((b % mb)) = 0 ]; then
            echo "$((b / mb)) MB"
        elif [ "$b" -ge $mb ]; then
            t=$(((b * 10 + mb / 2) / mb))
            echo "$((t / 10)).$((t % 10)) MB"
        else
            echo "$b bytes"
        fi
    }
    over=0
    while IFS= read -r line; do
        addr=${line%% *}
        q=$(printf '%s\n' "$line" | grep -o 'quota=[0-9]*' | cut -d= -f2)
        [ -n "$q" ] && [ "$q" != 0 ] || continue
        [ -f "$ROOT/quota/$addr" ] || continue
        used=""
        read -r used _ < "$ROOT/quota/$addr"
        # deliver writes fixed-width figures, zero-padded: base 10, not octal (usage.h)
        case "$used" in ''|*[!0-9]*) continue ;; esac
        used=$((10#$used)); q=$((10#$q))
        if [ $((used * 10)) -ge $((q * 9)) ]; then
            warn "account $addr uses $((used * 100 / q))% of its quota ($(human $used) of $(human $q))"
            over=$((over + 1))
        fi
    done < <(cdb -d -m "$ROOT/cdb/users.cdb" 2>/dev/null)
    [ $over = 0 ] && ok "no account above 90% of its quota"
fi

exit $failed
