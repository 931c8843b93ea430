#!/bin/sh
# yubin-move: moves a domain's home between fleet nodes, live; the fleet's status (docs/fleet.md
# "Moving a domain"). Run as root on the domain's old home, through yubin-fleet.
#
# usage: yubin-move ROOT domain move DOMAIN NODE   copy, freeze, last pass, verify, switch
#        yubin-move ROOT domain abort DOMAIN       an unfinished move (not switched): live again
#                                                  on the old home, the move record removed
#        yubin-move ROOT domain cleanup DOMAIN [--grace MINUTES]
#                                                  remove the old copy, MINUTES (10) after the switch
#        yubin-move ROOT node drain NODE           move every domain homed here away
#        yubin-move ROOT node remove NODE          the node's record, refused while it homes domains
#        yubin-move ROOT status                    nodes: up, revision, lag, queue, domains, bytes
# Exit 0 done, 100 refused (bad usage, nothing to do), 111 a step failed or another move of the
# domain is running: what was done is in /yubin/move/DOMAIN and a rerun goes on from there.
set -eu
prog=yubin-fleet
die() { echo "$prog: fatal: $1" >&2; exit "${2:-111}"; }   # MESSAGE [EXIT]
warn() { echo "$prog: warning: $*" >&2; }
T0=$(date +%s.%N | cut -c1-14)
info() { echo "$prog: $* [$(echo "$T0 $(date +%s.%N | cut -c1-14)" | awk '{ printf "%.2f", $2 - $1 }') s]"; }
usage() { sed -n '5,14p' "$0" >&2; exit 100; }
# The audit line of a change that is done (ROOT/log/audit; lib/audit.h's form, docs/web.md
# "Audit log"): EVENT TARGET WORDS, with who ran it ($SUDO_USER, else the login) and from where
# ($SSH_CLIENT's address, else local); every value made log-safe. A line that cannot be written
# is a warning: the change is made.
audit() {
    safe() { printf '%s' "$1" | tr -c '!-~' '?'; }
    who=${SUDO_USER:-$(id -un 2>/dev/null || echo root)}
    ip=${SSH_CLIENT:-}; ip=${ip%% *}
    case "$ip" in ''|*[!0-9A-Fa-f.:]*) ip=local ;; esac
    line="$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ) event=$(safe "$1") target=$(safe "$2") by=$(safe "$who") ip=$ip command=$(for w in $3; do printf '%s ' "$(safe "$w")"; done | sed 's/ $//')"
    { printf '%s\n' "$line" >> "$ROOT/log/audit" && sync "$ROOT/log/audit"; } 2>/dev/null \
        || warn "unable to write $ROOT/log/audit: the change is made, but not in the audit log"
}
[ $# -ge 2 ] || usage
ROOT=$(cd "$1" && pwd -P) || die "no mail root $1" 100
shift
BIN=$(cd "$(dirname "$0")" && pwd -P)
FD=$ROOT/etc/fleet.d
[ -e "$ROOT/etc/fleet" ] || die "$ROOT is not a fleet node (no etc/fleet)" 100
# etc/fleet by the rule of every reader of it (docs/fleet.md "Modes"; fleet-conf asks
# lib/fleethome.c, as mapsync and smtpd do): a line they refuse is refused here, as
# "etc/fleet:LINE: reason"; a setting on more than one line counts by its last line
conf() { sed -n "s/^$1=//p" "$ROOT/etc/fleet" | tail -n 1; }
why=$("$BIN/fleet-conf" "$ROOT") || die "$ROOT/$why" 100
ME=$(conf node)
EP=$(conf endpoints)
WAIT=$(conf wait); WAIT=${WAIT:-10}
# how long the freeze may wait for this node's maps (the old home must refuse before the last pass)
FREEZE_WAIT=60
# a copy pass that transfers this many files or fewer is the last live one (at most COPY_PASSES)
COPY_SETTLED=50
COPY_PASSES=4
# how long a copy pass (rsync --timeout) may go without progress, no data either way, before it
# gives up: a peer that stops answering (a node that hangs, a network cut) fails the step with a
# message instead of holding the move, and a frozen domain's mail, for ever; long enough for a
# slow disk (etc/fleet copy_timeout=, docs/fleet.md "Moving a domain")
COPY_TIMEOUT=$(conf copy_timeout); COPY_TIMEOUT=${COPY_TIMEOUT:-120}

# etcdctl's bounds: ETCD_DIAL s to connect, then ETCD_COMMAND s for the command; the longest an
# etcdctl of this tool lives is their sum (the move lock's wait, LOCK_WAIT below, is built on it)
ETCD_DIAL=3
ETCD_COMMAND=10
ctl() {
    ETCDCTL_API=3 etcdctl --endpoints="$EP" --cacert="$FD/ca.pem" --cert="$FD/operator.pem" \
        --key="$FD/operator.key" --dial-timeout=${ETCD_DIAL}s --command-timeout=${ETCD_COMMAND}s "$@"
}
# KEY: sets val (empty: absent) and mod (0: absent)
get() {
    out=$(ctl get "$1" -w fields) || die "unable to read $1 from etcd ($EP)"
    mod=$(printf '%s\n' "$out" | sed -n 's/^"ModRevision" : //p')
    val=$(printf '%s\n' "$out" | sed -n 's/^"Value" : "\(.*\)"$/\1/p')
    mod=${mod:-0}
}
# etcdctl's words for a refused write (its output, stderr with it): the reason an operator
# acts on. etcd's space alarm refuses every write until the operator frees it; the step's
# state stays in etcd as it was, and a rerun goes on from there.
refusal() {
    case "$1" in
    *"database space exceeded"*)
        echo "etcd refuses every write: its database is full (space alarm NOSPACE); nothing" \
             "was changed at this step: compact, defragment and disarm etcd (docs/fleet.md" \
             "\"etcd's database is full\"), then rerun" ;;
    *) echo "etcd refused the write ($EP): $(printf '%s\n' "$1" | tail -n 1)" ;;
    esac
}
# a transaction on stdin: 0 committed (rev set), 1 a compare failed
txn() {
    out=$(ctl txn -w fields 2>&1) || die "$(refusal "$out")"
    rev=$(printf '%s\n' "$out" | sed -n 's/^"Revision" : //p' | head -1)
    printf '%s\n' "$out" | grep -q '^"Succeeded" : true'
}
now() { date +%s.%N | cut -c1-14; }
since() { echo "$1 $(now)" | awk '{ printf "%.2f", $2 - $1 }'; }

# The other nodes' mail roots: etc/fleet.d/peers, "NODE DEST" a line. DEST is a local path (the
# nodes of one machine: tests, make fleet-demo) or USER@HOST:PATH, reached by rsync and commands
# over ssh; a node without a line is root@ADDRESS:ROOT (its record's address, this root's path).
peer_dest() {
    d=$(awk -v n="$1" '$1 == n { print $2 }' "$FD/peers" 2>/dev/null | tail -1)
    if [ -z "$d" ]; then
        [ "$1" = "$ME" ] && { echo "$ROOT"; return; }
        a=$(ctl get "/yubin/dir/nodes/$1" --print-value-only | sed -n 's/^1 [^:]*:\([^:]*\):.*/\1/p')
        [ -n "$a" ] || die "no record of node $1 (yubin-fleet node add $1 ADDRESS)" 100
        d="root@$a:$ROOT"
    fi
    echo "$d"
}
# NODE SCRIPT: run SCRIPT (sh) with R = the node's root and B = the programs' folder
peer_sh() {
    d=$(peer_dest "$1")
    case "$d" in
    *:*) ssh -o BatchMode=yes -o ConnectTimeout=5 "${d%%:*}" "R='${d#*:}' B='$BIN'; $2" ;;
    *) R=$d B=$BIN sh -c "$2" ;;
    esac
}

# REV: until every node reporting under /yubin/node/ has applied REV (at most WAIT s); names
# those behind. This node (the old home) is waited for longer by the caller.
wait_nodes() {
    t=$(now)
    while :; do
        behind=$(ctl get --prefix /yubin/node/ | awk -v r="$1" '
            /^\/yubin\/node\// { n = substr($0, 13); next }
            { v = $0; sub(/.*rev=/, "", v); sub(/[^0-9].*/, "", v); if (v + 0 < r) printf "%s ", n }')
        [ -z "$behind" ] && return 0
        if [ "$(since "$t" | cut -d. -f1)" -ge "$WAIT" ]; then
            warn "after $WAIT s these nodes have not applied revision $1 yet: $behind"
            return 1
        fi
        sleep 0.1
    done
}
local_rev() { cat "$ROOT/cdb/revision" 2>/dev/null || echo 0; }

# the processes with a file open under DIR (pop3d sessions, a delivery in progress)
users_of() {
    find /proc/[0-9]*/fd -maxdepth 1 \( -lname "$1/*" -o -lname "$1" \) 2>/dev/null \
        | cut -d/ -f3 | sort -u
}

# --- domain move
# One move (or abort) of a domain at a time on this node: flock on ROOT/run/.move.DOMAIN.lock,
# held by the tool and its children, the holding tool's pid written in it. A tool killed, or
# stopped by a failed step, may leave a child (rsync, etcdctl) holding it a moment more: the
# rerun its messages ask for waits for that child (at most LOCK_WAIT s: the longest such a
# child that makes no progress can still run, an etcdctl's ETCD_DIAL + ETCD_COMMAND or an
# rsync's COPY_TIMEOUT, and 2 s for it to exit). A leftover rsync still copying is not cut
# off: it would write into the copy beside the rerun's; the rerun refuses, naming it. While
# the holding tool itself runs, the other refuses at once.
LOCK_WAIT=$(( (ETCD_DIAL + ETCD_COMMAND > COPY_TIMEOUT ? ETCD_DIAL + ETCD_COMMAND : COPY_TIMEOUT) + 2 ))
lock_domain() {   # MESSAGE: the refusal
    mkdir -p "$ROOT/run"
    lk=$ROOT/run/.move.$dom.lock
    exec 9>>"$lk"
    i=0
    until flock -n 9; do
        h=$(cat "$lk" 2>/dev/null || true)
        case "$h" in
        ''|*[!0-9]*) ;;
        *) grep -qsa yubin-move "/proc/$h/cmdline" && die "$1" ;;
        esac
        if [ $i -ge $((LOCK_WAIT * 10)) ]; then
            exec 9>&-   # ours closed: the holders named are the others
            die "$1 (its lock is still held after $LOCK_WAIT s, longer than an etcdctl or a stalled rsync of a stopped move runs, by pid $(users_of "$lk" | tr '\n' ' ')- see what that is)"
        fi
        [ $i != 0 ] || info "a stopped move of $dom left a process holding its lock on this" \
            "node; waiting for it to end (at most $LOCK_WAIT s: an etcdctl it started may run" \
            "$ETCD_DIAL s to connect + $ETCD_COMMAND s for its command, its rsync" \
            "$COPY_TIMEOUT s without progress)"
        sleep 0.1; i=$((i + 1))
    done
    echo $$ > "$lk"
}
home_of() {   # sets hval hmod hnode hepoch hstate of DOMAIN's home record
    get "/yubin/dir/homes/$1"; hval=$val; hmod=$mod
    [ -n "$hval" ] || die "$1 has no home record (mailacct domain add $1 --plan PLAN --home NODE)" 100
    IFS=: read -r _ hnode hepoch hstate <<EOF
${hval#1 }
EOF
    hstate=${hstate:-live}
}
record() { echo "1 $dom:$from:$to:$1:$epoch${2:+:$2}"; }
home_line() { echo "1 $dom:$1:$2:$3"; }
# STEP, HOME NODE EPOCH STATE: the move record and the home record in one guarded transaction
step() {
    txn <<EOF || die "the home of $dom or its move record was changed by someone else meanwhile (etcd revision $rev); nothing was changed: look with yubin-fleet status and rerun"
mod("/yubin/dir/homes/$dom") = "$hmod"
mod("/yubin/move/$dom") = "$mmod"

put /yubin/dir/homes/$dom "$(home_line "$2" "$3" "$4")"
put /yubin/move/$dom "$(record "$1" "${5:-}")"
put /yubin/dir/serial "yubin-fleet@$ME"


EOF
    home_of "$dom"; get "/yubin/move/$dom"; mmod=$mod
}

copy_pass() {   # FLAGS: one rsync of the domain's Maildirs; sets moved (files transferred)
    peer_sh "$to" 'mkdir -p "$R/mail"' || die "unable to reach node $to's root ($(peer_dest "$to"))"
    # exit 24: files vanished during the pass (a POP3 session moved them new/ -> cur/, or
    # deleted them): the next pass sees the change
    # exit 30: no data either way for COPY_TIMEOUT s. The peer is reached directly (a local
    # path) or over ssh (-e, as peer_sh: no password prompt, 5 s to connect), never an rsync
    # daemon, so --timeout bounds the whole pass (--contimeout is a daemon's)
    rc=0
    d=$(peer_dest "$to")
    s=$(rsync -a --delete --stats --timeout="$COPY_TIMEOUT" \
        -e "ssh -o BatchMode=yes -o ConnectTimeout=5" --exclude='tmp/*' $1 "$ROOT/mail/$dom/" \
        "$d/mail/$dom/" 2>"$ROOT/run/.move.$dom.err") || rc=$?
    if [ $rc = 30 ]; then
        if [ "$st" = copy ]; then left="$dom is still live on $from, nothing was switched"
        else left="$dom stays frozen on $from, its mail held (or: yubin-fleet domain abort $dom)"; fi
        die "the copy to node $to ($d) made no progress for $COPY_TIMEOUT s (etc/fleet copy_timeout=): node $to or the network to it stopped answering; $left; when it answers, rerun: yubin-fleet domain move $dom $to"
    fi
    [ $rc = 0 ] || [ $rc = 24 ] || die "rsync to node $to failed ($(tail -3 "$ROOT/run/.move.$dom.err")); rerun"
    rm -f "$ROOT/run/.move.$dom.err"
    moved=$(printf '%s\n' "$s" | sed -n 's/^Number of regular files transferred: //p' | tr -d ,)
    moved=${moved:-0}
}
# every message file's name and size (what a POP3 client's UIDL and LIST show)
LISTING='find "$R/mail/$D" -type f ! -name maildirsize ! -name .pop3.lock -printf "%P %s\n" | grep -v "/tmp/" | LC_ALL=C sort'
verify() {
    here=$(R=$ROOT D=$dom sh -c "$LISTING")
    there=$(peer_sh "$to" "D='$dom'; $LISTING") || die "unable to list node $to's copy"
    [ "$here" = "$there" ] || die "the copy on node $to differs from this one (file names or sizes); the domain stays frozen on $from: rerun"
    # the new home's quota summaries from its own files: maildirsize scanned again, quota/ refreshed
    peer_sh "$to" "find \"\$R/mail/$dom\" -name maildirsize -delete; \"\$B/quota-report\" --root \"\$R\"" \
        > "$ROOT/run/.move.$dom.quota" || die "quota recalculation on node $to failed"
    q_there=$(grep "@$dom " "$ROOT/run/.move.$dom.quota" || true)
    # this side's too: its maildirsize may carry deltas off by a delivery (docs/delivery.md)
    find "$ROOT/mail/$dom" -name maildirsize -delete
    q_here=$("$BIN/quota-report" --root "$ROOT" | grep "@$dom " || true)
    rm -f "$ROOT/run/.move.$dom.quota"
    [ "$q_here" = "$q_there" ] || die "quota summaries differ on node $to:
$q_there
here:
$q_here"
    info "verified: $(printf '%s\n' "$here" | grep -c . || true) files, quota summaries equal"
}
# POP3 sessions of the domain on this node end (SIGTERM: pop3d dies without UPDATE, so a
# DELE not yet committed by QUIT is not done and nothing is lost); a delivery in progress ends
end_sessions() {
    d=$ROOT/mail/$dom
    i=0
    while u=$(users_of "$d"); [ -n "$u" ]; do
        [ $i -lt 100 ] || die "processes still use $d: $u; the domain stays frozen: rerun"
        for p in $u; do
            [ "$(cat /proc/"$p"/comm 2>/dev/null)" = pop3d ] && kill -TERM "$p" 2>/dev/null \
                && info "ended POP3 session pid=$p"
        done
        [ $i != 20 ] || info "waiting for: $(for p in $u; do printf '%s(%s) ' "$p" "$(cat /proc/"$p"/comm 2>/dev/null)"; done)"
        sleep 0.1; i=$((i + 1))
    done
}
release() {   # every node's queue retries now: the held mail goes to the new home
    for n in $(ctl get --prefix /yubin/dir/nodes/ --print-value-only | sed -n 's/^1 \([^:]*\):.*/\1/p'); do
        peer_sh "$n" '"$B/mailq" --root "$R" flush' >/dev/null 2>&1 || warn "unable to flush node $n's queue; it retries on its own schedule"
    done
}

domain_move() {
    dom=$1; to=$2
    case "$to" in *[!a-z0-9-]*|'') die "bad node name $to" 100 ;; esac
    lock_domain "a move of $dom is already running on this node; nothing was done"
    home_of "$dom"
    get "/yubin/move/$dom"; mval=$val; mmod=$mod
    if [ -n "$mval" ]; then
        IFS=: read -r _ from mto st epoch _ <<EOF
${mval#1 }
EOF
        if [ "$st" = done ] && [ "$hnode" = "$mto" ] && [ "$mto" != "$to" ]; then
            mval=""     # that move is over: this one replaces its record (cleanup of it: by hand)
        else
            [ "$mto" = "$to" ] || die "an unfinished move of $dom to $mto: finish it (yubin-fleet domain move $dom $mto) or abort it" 100
            info "resuming the move of $dom from $from to $to at step $st"
        fi
    fi
    if [ -z "$mval" ]; then
        [ "$hnode" != "$to" ] || die "$dom is already homed on $to" 100
        [ "$hstate" = live ] || die "$dom is frozen without a move record; set it live with mailacct first" 100
        from=$hnode; epoch=$hepoch; st=copy
        ctl get "/yubin/dir/nodes/$to" --print-value-only | grep -q . || die "unknown node $to (yubin-fleet node add $to ADDRESS)" 100
        [ "$from" = "$ME" ] || die "run the move on $dom's home, node $from (its Maildirs are there)" 100
        ctl get "/yubin/drain/$to" --print-value-only | grep -q . && die "node $to is draining: it takes no new homes" 100
        if [ "$mmod" = 0 ]; then guard="version(\"/yubin/move/$dom\") = \"0\""
        else guard="mod(\"/yubin/move/$dom\") = \"$mmod\""; fi
        txn <<EOF || die "$dom was changed or another move of it started meanwhile; nothing was done"
mod("/yubin/dir/homes/$dom") = "$hmod"
$guard

put /yubin/move/$dom "$(record copy)"


EOF
        get "/yubin/move/$dom"; mmod=$mod
    fi
    [ "$from" = "$ME" ] || die "run the move on $dom's old home, node $from (its Maildirs are there)" 100
    t_start=$(now)
    if [ "$st" = copy ]; then
        [ "$hnode" = "$from" ] && [ "$hstate" = live ] || die "the home record of $dom is $hval; expected $from live"
        pass=1
        while :; do
            copy_pass ""
            info "copy pass $pass: $moved files"
            [ "$moved" -le $COPY_SETTLED ] || [ $pass -ge $COPY_PASSES ] && break
            pass=$((pass + 1))
        done
        step frozen "$from" "$epoch" frozen
        st=frozen
    fi
    if [ "$st" = frozen ]; then
        t_freeze=$(now)
        frev=$hmod
        info "frozen at etcd revision $frev"
        i=0
        while [ "$(local_rev)" -lt "$frev" ]; do
            [ $i -lt $((FREEZE_WAIT * 10)) ] || die "this node's maps have not applied the freeze after $FREEZE_WAIT s (ROOT/log/mapsync/current); $dom stays frozen, its mail held: rerun, or yubin-fleet domain abort $dom"
            sleep 0.1; i=$((i + 1))
        done
        wait_nodes "$frev" || true
        info "the nodes hold the freeze"
        sleep 1     # a delivery that read the maps just before the freeze has started by now
        end_sessions
        copy_pass ""
        info "final pass: $moved files"
        verify
        # the copy on disk before the switch (rsync writes without fsync): a power cut on the
        # new home right after it would lose mail whose old copy the cleanup later removes
        peer_sh "$to" "sync -f \"\$R/mail/$dom\"" ||
            die "unable to sync node $to's copy to its disk; the domain stays frozen on $from: rerun"
        step switched "$to" $((epoch + 1)) live "$(since "$t_freeze")"
        st=switched
        info "switched: $dom homed on $to at epoch $((epoch + 1)) at etcd revision $hmod; frozen for $(since "$t_freeze") s"
    fi
    if [ "$st" = switched ]; then
        wait_nodes "$hmod" || true
        release
        txn <<EOF || die "the move record of $dom changed meanwhile"
mod("/yubin/move/$dom") = "$mmod"

put /yubin/move/$dom "$(record done "$(date +%s)")"


EOF
        info "done: $dom moved from $from to $to in $(since "$t_start") s; the old copy stays until yubin-fleet domain cleanup $dom"
    elif [ "$st" = done ]; then
        info "$dom was already moved to $to; the old copy stays until yubin-fleet domain cleanup $dom"
    fi
}

domain_abort() {
    dom=$1
    lock_domain "a move of $dom is running on this node; nothing was done"
    home_of "$dom"
    get "/yubin/move/$dom"; mmod=$mod
    [ -n "$val" ] || die "no move of $dom to abort" 100
    IFS=: read -r _ from mto st _ <<EOF
${val#1 }
EOF
    # switched: the new home serves it, and the old home's cleanup needs the record
    case "$st" in switched|done)
        m="$dom was already switched to $mto; a move back is a new move"
        die "$m (yubin-fleet domain move $dom $from)" 100 ;;
    esac
    [ "$hnode" = "$ME" ] ||
        die "run the abort on $dom's home, node $hnode (its Maildirs are there)" 100
    txn <<EOF || die "$dom changed meanwhile; nothing was done"
mod("/yubin/dir/homes/$dom") = "$hmod"
mod("/yubin/move/$dom") = "$mmod"

put /yubin/dir/homes/$dom "$(home_line "$hnode" "$hepoch" live)"
del /yubin/move/$dom
put /yubin/dir/serial "yubin-fleet@$ME"


EOF
    wait_nodes "$rev" || true
    release
    info "the move of $dom was aborted: live on $hnode (the partial copy elsewhere is not served)"
}

domain_cleanup() {
    dom=$1; grace=${2:-10}
    home_of "$dom"
    get "/yubin/move/$dom"; mmod=$mod
    [ "$hnode" != "$ME" ] || die "$dom is homed on this node: its Maildirs are not an old copy" 100
    case "$val" in
    "1 $dom:$ME:"*:done:*) ;;
    *) die "no finished move of $dom from this node (its move record: ${val:-none})" 100 ;;
    esac
    at=${val##*:}
    left=$((at + grace * 60 - $(date +%s)))
    [ $left -le 0 ] || die "the grace period after the move ends in $left s; the old copy stays" 100
    rm -rf "$ROOT/mail/$dom"
    rm -f "$ROOT/quota/"*"@$dom"
    txn <<EOF || true
mod("/yubin/move/$dom") = "$mmod"

del /yubin/move/$dom


EOF
    info "removed the old copy of $dom"
}

# --- nodes and status
node_homes() { ctl get --prefix /yubin/dir/homes/ --print-value-only | awk -F: -v n="$1" '$2 == n { sub(/^1 /, "", $1); print $1 }'; }
node_drain() {
    n=$1
    [ "$n" = "$ME" ] || die "drain node $n on node $n itself (its Maildirs are there)" 100
    out=$(ctl put "/yubin/drain/$n" "1 $(date +%s)" 2>&1) ||
        die "unable to mark $n draining: $(refusal "$out")"
    for d in $(node_homes "$n"); do
        # the live node, not draining, with the fewest homes
        best=""; least=""
        for m in $(ctl get --prefix /yubin/node/ --keys-only | sed -n 's|^/yubin/node/||p'); do
            [ "$m" != "$n" ] || continue
            ctl get "/yubin/drain/$m" --print-value-only | grep -q . && continue
            c=$(node_homes "$m" | grep -c . || true)
            if [ -z "$least" ] || [ "$c" -lt "$least" ]; then best=$m; least=$c; fi
        done
        [ -n "$best" ] || die "no live node that is not draining to move $d to"
        "$0" "$ROOT" domain move "$d" "$best"
    done
    info "node $n homes no domain; remove it with yubin-fleet node remove $n"
}
node_remove() {
    n=$1
    h=$(node_homes "$n" | tr '\n' ' ')
    [ -z "$h" ] || die "node $n still homes: $h(yubin-fleet node drain $n first)" 100
    get "/yubin/dir/nodes/$n"
    [ -n "$val" ] || die "no node $n" 100
    txn <<EOF || die "node $n changed meanwhile; nothing was done"
mod("/yubin/dir/nodes/$n") = "$mod"

del /yubin/dir/nodes/$n
del /yubin/drain/$n
put /yubin/dir/serial "yubin-fleet@$ME"


EOF
    info "node $n removed from the directory (stop its services; its etcd user: etcdctl user delete node-$n)"
}
status() {
    get /yubin/dir/serial; dirrev=$mod
    printf '%-12s %-11s %9s %5s %7s %8s %12s\n' NODE UP REVISION LAG QUEUE DOMAINS BYTES
    for n in $(ctl get --prefix /yubin/dir/nodes/ --print-value-only | sed -n 's/^1 \([^:]*\):.*/\1/p'); do
        v=$(ctl get "/yubin/node/$n" --print-value-only)
        if [ -n "$v" ]; then
            up=up; r=$(echo "$v" | sed -n 's/.*rev=\([0-9]*\).*/\1/p'); lag=$((dirrev > r ? dirrev - r : 0))
        else
            up=down; r=-; lag=-
        fi
        # the node's queue, counted by its own mailq (through the peers' transport)
        q=$(peer_sh "$n" '"$B/mailq" --root "$R" list | grep -c "^[^ -]"' 2>/dev/null || true)
        doms=$(node_homes "$n")
        b=$(peer_sh "$n" "cd \"\$R/mail\" 2>/dev/null && du -sbc $(echo $doms) 2>/dev/null | tail -1 | cut -f1" 2>/dev/null || true)
        [ -n "$doms" ] || b=0
        ctl get "/yubin/drain/$n" --print-value-only | grep -q . && up="$up,draining"
        printf '%-12s %-11s %9s %5s %7s %8s %12s\n' "$n" "$up" "$r" "$lag" "${q:--}" \
            "$(echo $doms | wc -w)" "${b:--}"
    done
    ctl get --prefix /yubin/move/ --print-value-only | sed -n 's/^1 \([^:]*\):\([^:]*\):\([^:]*\):\([^:]*\):.*/move of \1 from \2 to \3: \4/p'
}

case "$1 ${2:-}" in
"domain move") [ $# -eq 4 ] || usage; domain_move "$3" "$4" ;;
"domain abort") [ $# -eq 3 ] || usage; domain_abort "$3" ;;
"domain cleanup")
    [ $# -eq 3 ] || { [ $# -eq 5 ] && [ "$4" = --grace ]; } || usage
    domain_cleanup "$3" "${5:-10}" ;;
"node drain") [ $# -eq 3 ] || usage; node_drain "$3" ;;
"node remove") [ $# -eq 3 ] || usage; node_remove "$3" ;;
"status ") status; exit 0 ;;
*) usage ;;
esac
audit "$1-$2" "$3" "$*"
