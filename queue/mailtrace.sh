#!/bin/sh
# mailtrace: prints the story of one message, or of every message to/from an address, from the logs; run by the operator
# usage: mailtrace [--root DIR] ID|ADDRESS
#   ID       16 hex digits (as mailq lists them): every log line with id=ID
#   ADDRESS  local@domain: the lines that name <ADDRESS> (to=, from=, rcpt=: deliveries and
#            smtpd's refusals at MAIL/RCPT) and every line of the messages they belong to (id=)
# Reads ROOT/log/*/current and the rotated ROOT/log/*/@*.s, merges them in time order and
# prints readable local times (s6-tai64nlocal). Exit 0 found, 1 nothing found, 100 bad usage.
# The root: --root, else $YUBIN_ROOT, else the one yubin-setup recorded in .yubin-root beside it.
set -u
prog=mailtrace
root=${YUBIN_ROOT:-}
if [ "${1:-}" = "--root" ]; then
    [ $# -ge 2 ] || { echo "$prog: fatal: usage: mailtrace [--root DIR] ID|ADDRESS" >&2; exit 100; }
    root=$2
    shift 2
fi
[ $# -eq 1 ] && [ -n "$1" ] || { echo "$prog: fatal: usage: mailtrace [--root DIR] ID|ADDRESS" >&2; exit 100; }
# no --root, no YUBIN_ROOT: the root yubin-setup recorded beside this program (as cfg_root_find)
if [ -z "$root" ]; then
    rec=$(dirname "$(readlink -f "$0")")/.yubin-root
    [ -r "$rec" ] && IFS= read -r root < "$rec"
    case "$root" in /*) [ -d "$root" ] || root="" ;; *) root="" ;; esac
fi
[ -n "$root" ] || { echo "$prog: fatal: no mail root: give --root DIR or set YUBIN_ROOT (or set one up with yubin-setup ROOT, which records it beside the programs)" >&2; exit 100; }
[ -d "$root/log" ] || { echo "$prog: fatal: no log folder in $root" >&2; exit 111; }
what=$1

# every log line, prefixed by nothing: s6-log lines start with "@" + 24 hex digits (TAI64N),
# which sort in time order as plain text
all() {
    for f in "$root"/log/*/@*.s "$root"/log/*/current; do
        [ -f "$f" ] && cat "$f"
    done
}

case $what in
*@*)
    # the address as it appears in the logs (case-insensitive): to=<a@b> / from=<a@b> /
    # rcpt=<a@b> (smtpd's refusals at MAIL and RCPT), or as the address a refusal's reply
    # names first (reply="550 5.1.1 <a@b>: ..." in lines written before rcpt= was logged)
    pat=$(printf '%s' "$what" | sed 's/[][\.*^$+?(){}|]/\\&/g')
    addrpat="=<$pat>|reply=\"[0-9]{3} [0-9.]+ <$pat>"
    ids=$(all | grep -i -E -e "$addrpat" | grep -o 'id=[0-9a-f]\{16\}' | sort -u | sed 's/^id=//')
    idpat=""
    for i in $ids; do idpat="$idpat|$i"; done
    if [ -n "$idpat" ]; then
        out=$(all | grep -i -E -e "$addrpat" -e "id=(${idpat#|})( |\$)")
    else
        out=$(all | grep -i -E -e "$addrpat")
    fi
    ;;
*)
    printf '%s' "$what" | grep -q '^[0-9a-f]\{16\}$' || {
        echo "$prog: fatal: $what is neither a queue id (16 hex digits) nor an address" >&2
        exit 100
    }
    out=$(all | grep -E "id=$what( |\$)")
    ;;
esac
[ -n "$out" ] || { echo "$prog: nothing in $root/log about $what" >&2; exit 1; }
# Time order, with one correction: each service's logger stamps a line when it reads it, so
# under load remote's line about a delivery can be stamped after queue-run's line recording
# its outcome. A queue-run line of a message stamped up to 1 s before a remote line of the
# same message is put just after that line, in its own order (retries are further apart).
printf '%s\n' "$out" | awk '
function hex(s,   i, n) {
    n = 0
    for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
    return n
}
{
    line[NR] = $0; sec[NR] = hex(substr($1, 10, 8)); ns[NR] = hex(substr($1, 18, 8))
    id[NR] = match($0, / id=[0-9a-f]+/) ? substr($0, RSTART + 4, RLENGTH - 4) : ""
}
END {
    for (i = 1; i <= NR; i++) {
        s = sec[i]; n = ns[i]
        if (id[i] != "" && index(line[i], " queue-run: ")) {
            for (j = 1; j <= NR; j++) {
                if (id[j] != id[i] || !index(line[j], " remote: ")) continue
                d = (sec[j] - sec[i]) + (ns[j] - ns[i]) / 1e9
                if (d > 0 && d <= 1 && (sec[j] > s || (sec[j] == s && ns[j] >= n))) {
                    s = sec[j]; n = ns[j] + 1
                }
            }
        }
        printf "%d %d %d %d %d %s\n", s, n, sec[i], ns[i], i, line[i]
    }
}' | sort -k1,1n -k2,2n -k3,3n -k4,4n -k5,5n | cut -d' ' -f6- | s6-tai64nlocal
