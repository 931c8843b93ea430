#!/bin/sh
# mailtrace: prints the story of one message, or of every message to/from an address, from the logs; run by the operator
# usage: mailtrace [--root DIR] ID|ADDRESS
#   ID       16 hex digits (as mailq lists them): every log line with id=ID
#   ADDRESS  local@domain: the lines that name <ADDRESS> (to=, from=, rcpt=: deliveries and
#            smtpd's refusals at MAIL/RCPT) and every line of the messages they belong to (id=)
# Reads ROOT/log/*/current and the rotated ROOT/log/*/@*.s, and ROOT/log/audit's lines of the
# message (mailq delete, hold ...) or of the address (mailacct, the member page's applications,
# "audit:"), merges them in time order and prints readable local times (s6-tai64nlocal). Exit 0 found, 1 nothing found, 100 bad usage.
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

# the lines of log/audit (the changes people made: lib/audit.h) that match the extended regular
# expression $1 (case-insensitive), each as "@TAI64N audit: FIELDS": an audit line starts with
# its UTC time to the microsecond (older lines to the second: those sort before the other lines
# of their second), turned here into the TAI64N label s6-log would have
# written then, so that it sorts among the other lines. The label's offset from Unix time (2^62 + TAI-UTC) is s6's own.
audit_lines() {
    [ -f "$root/log/audit" ] || return 0
    grep -q -i -E -e "$1" "$root/log/audit" || return 0
    off=""
    while [ -z "$off" ]; do
        t0=$(date +%s); lab=$(echo | s6-tai64n); t1=$(date +%s)
        [ "$t0" = "$t1" ] && off=$(( 0x$(printf '%s' "$lab" | cut -c2-17) - t0 ))
    done
    grep -i -E -e "$1" "$root/log/audit" | while IFS= read -r l; do
        t=$(printf '%s' "${l%% *}" | sed -n 's/^\([0-9-]*\)T\([0-9:]*\)\(\.[0-9]\{6\}\)\{0,1\}Z$/\1 \2 \3/p')
        [ -n "$t" ] || continue
        us=$(printf '%s' "${t##* }" | sed 's/^\.0*//')     # microseconds, no leading 0 (octal)
        s=$(date -u -d "${t% *}" +%s 2>/dev/null) || continue
        printf '@%016x%08x audit: %s\n' $((s + off)) $(( ${us:-0} * 1000 )) "${l#* }"
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
    if [ -n "$idpat" ]; then
        aud=$(audit_lines " target=$pat( |\$)| id=(${idpat#|})( |\$)")
    else
        aud=$(audit_lines " target=$pat( |\$)")
    fi
    ;;
*)
    printf '%s' "$what" | grep -q '^[0-9a-f]\{16\}$' || {
        echo "$prog: fatal: $what is neither a queue id (16 hex digits) nor an address" >&2
        exit 100
    }
    out=$(all | grep -E "id=$what( |\$)")
    aud=$(audit_lines " id=$what( |\$)")
    ;;
esac
[ -z "$aud" ] || out=$(printf '%s\n%s' "$out" "$aud" | sed '/^$/d')
[ -n "$out" ] || { echo "$prog: nothing in $root/log about $what" >&2; exit 1; }
printf '%s\n' "$out" | sort -s -k1,1 | s6-tai64nlocal
