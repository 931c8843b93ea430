#!/bin/bash
# yubin-setup: create or update a mail root: uids, directories with their owners and modes,
# programs, default maps, demo TLS certificates, settings and the s6 service tree.
# Runs as root (production: real uid separation) or as an ordinary user (everything is that user).
# Re-running it on an existing root changes nothing the operator edited (etc/ files are only
# created when missing); programs and service run scripts are refreshed. It records ROOT in
# .yubin-root beside the programs and in ROOT/bin, where the operator tools look for it.
#
# usage: yubin-setup [--demo] [--bin DIR] [--share DIR] [--fleet NODE --etcd URLS --fleet-ca DIR] ROOT
#   --demo   add the demo domain example.test (plan premium) and demo@example.test, print its sheet
#   --fleet  make this root node NODE of a fleet (docs/fleet.md): ROOT/etc/fleet, the user
#            yubin-sync, the service mapsync, a node and an operator certificate from the
#            fleet CA in DIR (made there first when missing); the maps then come from etcd
#   --bin    where the built programs are (default: the folder of this script)
#   --share  where service/ templates and defaults are (default: the checkout or PREFIX/share/yubin)
# Environment: YUBIN_LISTEN (127.0.0.1), YUBIN_PORT_SMTP, YUBIN_PORT_SUBMISSION,
#   YUBIN_PORT_SUBMISSIONS, YUBIN_PORT_POP3, YUBIN_PORT_POP3S, YUBIN_PORT_HTTPS, YUBIN_PORT_HTTP
#   (25 587 465 110 995 443 80 as root, else 2525 2587 2465 2110 2995 2443 2080),
#   YUBIN_ME (this host's name, default mail.example.test),
#   YUBIN_PORT_FLEET_POP3 (--fleet: the internal POP3 port, 4110).
#   Fleet (--fleet): YUBIN_PORT_FLEET_SMTP (4025), the internal SMTP port of service fleet-smtp.
#   On a root set up before, a variable left unset keeps the address and port of that set-up
#   (ROOT/etc/listen), not the default: a re-run does not move the listeners.
set -eu
umask 022
prog=yubin-setup
die() { echo "$prog: fatal: $*" >&2; exit 100; }
info() { echo "$prog: $*"; }

demo=0; bindir=$(cd "$(dirname "$0")" && pwd); share=""
fleet=""; etcd=""; fleetca=""
while [ $# -gt 0 ]; do
    case "$1" in
        --demo) demo=1; shift ;;
        --bin) bindir=$(cd "$2" && pwd) || die "no such folder: $2"; shift 2 ;;
        --share) share=$(cd "$2" && pwd) || die "no such folder: $2"; shift 2 ;;
        --fleet) fleet=$2; shift 2 ;;
        --etcd) etcd=$2; shift 2 ;;
        --fleet-ca) fleetca=$2; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) break ;;
    esac
done
[ $# -eq 1 ] || die "usage: yubin-setup [--demo] [--bin DIR] [--share DIR] [--fleet NODE --etcd URLS --fleet-ca DIR] ROOT"
if [ -n "$fleet$etcd$fleetca" ]; then
    [ -n "$fleet" ] && [ -n "$etcd" ] && [ -n "$fleetca" ] || die "--fleet needs --etcd URLS and --fleet-ca DIR"
    case "$fleet" in *[!a-z0-9-]*) die "bad node name $fleet (a-z 0-9 -)" ;; esac
    case "$fleetca" in /*) ;; *) fleetca=$(pwd)/$fleetca ;; esac
    [ $demo = 0 ] || die "--demo and --fleet do not go together (add accounts with mailacct)"
fi
case "$1" in /*) ROOT=$1 ;; *) ROOT=$(pwd)/$1 ;; esac
if [ -z "$share" ]; then
    for s in "$bindir/.." "$bindir/../share/yubin"; do
        [ -f "$s/service/yubin-setup.sh" ] && { share=$(cd "$s" && pwd); break; }
    done
fi
[ -n "$share" ] && [ -d "$share/service" ] || die "cannot find the service templates (use --share)"

asroot=0; [ "$(id -u)" = 0 ] && asroot=1
if [ $asroot = 1 ]; then
    defports="25 587 465 110 995 443 80"
else
    defports="2525 2587 2465 2110 2995 2443 2080"
fi
set -- $defports
# was SERVICE FIELD: the address (2) or port (3) an earlier set-up of this root gave the
# service (etc/listen, written below), else nothing; a variable set now wins over it
was() { awk -v n="$1" -v f="$2" '$1 == n { print $f; exit }' "$ROOT/etc/listen" 2>/dev/null || :; }
LISTEN=${YUBIN_LISTEN:-$(was smtp 2)}; LISTEN=${LISTEN:-127.0.0.1}
P_SMTP=${YUBIN_PORT_SMTP:-$(was smtp 3)}; P_SMTP=${P_SMTP:-$1}
P_SUBMISSION=${YUBIN_PORT_SUBMISSION:-$(was submission 3)}; P_SUBMISSION=${P_SUBMISSION:-$2}
P_SUBMISSIONS=${YUBIN_PORT_SUBMISSIONS:-$(was submissions 3)}; P_SUBMISSIONS=${P_SUBMISSIONS:-$3}
P_POP3=${YUBIN_PORT_POP3:-$(was pop3 3)}; P_POP3=${P_POP3:-$4}
P_POP3S=${YUBIN_PORT_POP3S:-$(was pop3s 3)}; P_POP3S=${P_POP3S:-$5}
P_HTTPS=${YUBIN_PORT_HTTPS:-$(was https 3)}; P_HTTPS=${P_HTTPS:-$6}
P_HTTP=${YUBIN_PORT_HTTP:-$(was http 3)}; P_HTTP=${P_HTTP:-$7}
P_FLEET_POP3=${YUBIN_PORT_FLEET_POP3:-$(was pop3-fleet 3)}; P_FLEET_POP3=${P_FLEET_POP3:-4110}
# fleet: the internal SMTP port the other nodes relay to (docs/fleet.md "SMTP routing")
P_FLEET_SMTP=${YUBIN_PORT_FLEET_SMTP:-$(was fleet-smtp 3)}; P_FLEET_SMTP=${P_FLEET_SMTP:-4025}

# link: a fleet node's POP3 sessions to other nodes (pop3-link); named in authd's callers
ROLES="smtpd pop auth q mbox remote tls tlskey log web link dkim"
[ -n "$fleet" ] && ROLES="$ROLES sync"
user_of() { if [ $asroot = 1 ]; then echo "yubin-$1"; else id -un; fi; }

# --- users and groups (root only), serialised: several setups may run at once in tests
if [ $asroot = 1 ]; then
    exec 8>/run/yubin-setup.lock 2>/dev/null || exec 8>/tmp/yubin-setup.lock
    flock 8
    for r in $ROLES; do
        u=yubin-$r
        getent passwd "$u" >/dev/null && continue
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$u" || die "unable to create user $u"
        info "created user $u"
    done
    # the operators' group: its members read the logs (they hold addresses and client IPs)
    if ! getent group yubin-adm >/dev/null; then
        groupadd --system yubin-adm || die "unable to create group yubin-adm"
        info "created group yubin-adm (operators who read ROOT/log: usermod -aG yubin-adm NAME)"
    fi
    # the member page asks acctd for quota use: yubin-web is in no other role's group (the
    # group yubin-smtpd would open quota/, relay/ and etc/srs to it); taken out if an older
    # version put it there
    if id -nG yubin-web | tr ' ' '\n' | grep -qx yubin-smtpd; then
        gpasswd -d yubin-web yubin-smtpd >/dev/null \
            || die "unable to take yubin-web out of group yubin-smtpd"
    fi
    flock -u 8
fi

# own PATH MODE ROLE[:GROUPROLE]
own() {
    local path=$1 mode=$2 spec=$3 u g
    [ $asroot = 1 ] || { chmod "$mode" "$path"; return 0; }
    case "$spec" in
        root) u=root; g=root ;;
        root:*) u=root; g=yubin-${spec#root:} ;;
        *:*) u=yubin-${spec%%:*}; g=yubin-${spec#*:} ;;
        *) u=yubin-$spec; g=yubin-$spec ;;
    esac
    chown "$u:$g" "$path"
    chmod "$mode" "$path"     # after chown, which may clear a setgid bit
}
mkd() { mkdir -p "$1"; own "$@"; }
# logdir DIR: s6-log (yubin-log) writes it, the operator group yubin-adm reads it, nobody else:
# 2750, setgid so that the files s6-log makes (umask 027 in log/run: 0640, 0740 once finished)
# get the group too; files written before are brought in line.
logdir() {
    mkdir -p "$1"
    if [ $asroot = 1 ]; then
        chown yubin-log:yubin-adm "$1"
        find "$1" -maxdepth 1 -type f -exec chown yubin-log:yubin-adm {} +
    fi
    chmod 2750 "$1"
    find "$1" -maxdepth 1 -type f -exec chmod g-w,o-rwx {} +
}

# --- the root and its folders (docs/internals.md "Mail root")
mkd "$ROOT" 0755 root
for d in bin etc etc/env cdb run service log; do mkd "$ROOT/$d" 0755 root; done
mkd "$ROOT/etc/tls" 0700 root
mkd "$ROOT/queue" 0700 q
for d in tmp mess state hold; do mkd "$ROOT/queue/$d" 0700 q; done
[ -p "$ROOT/queue/trigger" ] || mkfifo "$ROOT/queue/trigger"
own "$ROOT/queue/trigger" 0600 q
mkd "$ROOT/mail" 0700 mbox
mkd "$ROOT/trash" 0700 mbox
# setgid: a summary deliver or pop3d creates takes the group yubin-smtpd (lib/usage.c)
mkd "$ROOT/quota" 2750 mbox:smtpd
for f in "$ROOT"/quota/*; do
    [ -f "$f" ] && own "$f" 0640 mbox:smtpd   # summaries written before the folder was setgid
done
# setgid: a grant pop3d writes (yubin-mbox) takes the folder's group, so smtpd can read it
mkd "$ROOT/relay" 2750 mbox:smtpd
# DKIM keys (docs/dkim.md): only the signer's uid reads them; keys made before are brought in line
mkd "$ROOT/dkim" 0700 dkim
for d in "$ROOT"/dkim/*/; do
    [ -d "$d" ] || continue
    own "$d" 0700 dkim
    for f in "$d"*; do [ -f "$f" ] && own "$f" 0600 dkim; done
done
mkd "$ROOT/run/smtpd" 0700 smtpd
# sending counters: smtpd's own policy state (lib/rate.h), written by smtpd alone. In a fleet
# ratesync (yubin-sync) reads them through the folder's group (setgid: smtpd's files, 0640,
# take it) and writes the other nodes' sums into ratefleet/, which smtpd reads through its group
# (docs/fleet.md "Sending limits across nodes")
if [ -n "$fleet" ] || [ -e "$ROOT/etc/fleet" ]; then
    mkd "$ROOT/rate" 2750 smtpd:sync
    for f in "$ROOT"/rate/*; do
        [ -f "$f" ] && own "$f" 0640 smtpd:sync   # counters written before the fleet
    done
    mkd "$ROOT/ratefleet" 2750 sync:smtpd
else
    mkd "$ROOT/rate" 0700 smtpd
fi
mkd "$ROOT/run/pop" 0700 pop
# the member page's doors (services https and http, webfront as the web uid): lighttpd's
# sockets, which only that uid reaches, and the per-IP slots (docs/web.md "How it runs").
# run/web is root's (group web, 0750): lighttpd binds and chmods its sockets there as root,
# so the web uid must not be able to swap a socket for a link between the two calls.
mkd "$ROOT/run/web" 0750 root:web
mkd "$ROOT/run/webfront" 0700 web
# the member page's own folder (docs/web.md): sessions, lighttpd's upload folder, the
# document root holding only the empty name the CGI program is assigned to
mkd "$ROOT/web" 0700 web
for d in sessions logins tmp docroot; do mkd "$ROOT/web/$d" 0700 web; done
[ -e "$ROOT/web/docroot/member" ] || : > "$ROOT/web/docroot/member"
own "$ROOT/web/docroot/member" 0600 web
# the domain administrators' applications (acctd writes, mailacct reads; root only), their
# audit log (the operators' group reads it), the administrators' hashes (authd reads them)
mkd "$ROOT/requests" 0700 root
mkd "$ROOT/requests/done" 0700 root
# acctd's record of each administrator's login it checked itself (the page's sessions are the
# web uid's to write, so acctd does not take them alone as proof)
mkd "$ROOT/run/acctd" 0700 root
[ -e "$ROOT/log/audit" ] || : > "$ROOT/log/audit"
own "$ROOT/log/audit" 0640 root:adm
[ -e "$ROOT/etc/webadmins" ] && own "$ROOT/etc/webadmins" 0640 root:auth
[ -e "$ROOT/etc/holidays" ] || printf '%s\n' "# holidays: days without setup work (one YYYY-MM-DD a line); docs/web.md" \
    > "$ROOT/etc/holidays"
own "$ROOT/etc/holidays" 0644 root

# --- programs: copied so that service uids never need to reach into the build tree
for f in "$bindir"/*; do
    [ -f "$f" ] && [ -x "$f" ] || continue
    n=$(basename "$f")
    case "$n" in *.*) continue ;; esac
    cp "$f" "$ROOT/bin/.$n.tmp" && chmod 755 "$ROOT/bin/.$n.tmp" && mv -f "$ROOT/bin/.$n.tmp" "$ROOT/bin/$n"
done

# --- operator sources: created when missing, never overwritten; etc/Makefile (make -C etc)
# is ours, not the operator's: written anew, so an old root's gets what a new one has
if [ -d "$share/cdb/etc.defaults" ]; then
    for f in "$share/cdb/etc.defaults"/* "$share/cdb/etc.defaults"/.[!.]*; do
        [ -f "$f" ] || continue
        n=$(basename "$f")
        if [ "$n" = Makefile ]; then
            cp "$f" "$ROOT/etc/.Makefile.tmp" && mv -f "$ROOT/etc/.Makefile.tmp" "$ROOT/etc/Makefile"
        else
            [ -e "$ROOT/etc/$n" ] || cp "$f" "$ROOT/etc/$n"
        fi
    done
fi
for f in domains users aliases routes; do [ -e "$ROOT/etc/$f" ] || : > "$ROOT/etc/$f"; done
[ -e "$ROOT/etc/plans" ] || printf '%s\n' 'basic:20M:50M:no:200:1000' 'secure:50M:50M:yes:200:1000' \
    'premium:50M:50M:yes:200:1000' 'pro:50M:50M:no:200:1000' 'dedicated:50M:50M:no:500:2500' \
    > "$ROOT/etc/plans"
[ -e "$ROOT/etc/me" ] || echo "${YUBIN_ME:-mail.example.test}" > "$ROOT/etc/me"
ME=$(head -n 1 "$ROOT/etc/me")
[ -e "$ROOT/etc/admin" ] || { [ $demo = 1 ] && echo "demo@example.test" > "$ROOT/etc/admin"; } || true
own "$ROOT/etc/users" 0600 root
# SRS secrets (docs/queue.md "SRS"): queue-run (yubin-q) signs forwarded senders, smtpd (group
# yubin-smtpd) checks the bounces that come back; nobody else reads them
if [ ! -e "$ROOT/etc/srs" ]; then (umask 077
    { echo "# SRS secrets: the first signs, every line verifies (add a new first line to rotate)"
      head -c 24 /dev/urandom | base64; } > "$ROOT/etc/srs.tmp" && mv -f "$ROOT/etc/srs.tmp" "$ROOT/etc/srs")
fi
own "$ROOT/etc/srs" 0440 q:smtpd
if [ ! -e "$ROOT/etc/tcp.smtp" ]; then
    cat > "$ROOT/etc/tcp.smtp" <<'EOF'
# tcprules for the smtp and submission services (compiled to etc/smtp.cdb by yubin-setup or
# `make -C etc`). Networks listed with RELAYCLIENT="" may relay without authentication, e.g.
#   192.168.10.:allow,RELAYCLIENT=""
# The default lists none, loopback included.
:allow
EOF
fi
tcprules "$ROOT/etc/smtp.cdb" "$ROOT/etc/smtp.cdb.tmp" < "$ROOT/etc/tcp.smtp" \
    || die "etc/tcp.smtp: bad rules (see tcprules(1))"

# --- settings (s6-envdir): one file per variable, written when missing
printf '%s' "$ROOT" > "$ROOT/etc/env/YUBIN_ROOT"
for f in "$share"/*/defaults.env "$share"/defaults.env; do
    [ -f "$f" ] || continue
    while IFS= read -r line; do
        case "$line" in ''|'#'*) continue ;; esac
        name=${line%%=*}; value=${line#*=}
        [ -e "$ROOT/etc/env/$name" ] || printf '%s\n' "$value" > "$ROOT/etc/env/$name"
    done < "$f"
done

# --- demo TLS: a CA and a server certificate for localhost, 127.0.0.1 and ME
if [ ! -e "$ROOT/etc/tls/server.pem" ]; then
    t=$ROOT/etc/tls
    openssl ecparam -name prime256v1 -genkey -noout -out "$t/ca.key" 2>/dev/null
    openssl req -x509 -new -key "$t/ca.key" -subj "/CN=yubin demo CA" -days 3650 \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$t/ca.pem" 2>/dev/null
    openssl ecparam -name prime256v1 -genkey -noout -out "$t/server.key.tmp" 2>/dev/null
    openssl pkcs8 -topk8 -nocrypt -in "$t/server.key.tmp" -out "$t/server.key"
    rm -f "$t/server.key.tmp"
    san="DNS:localhost,IP:127.0.0.1,DNS:$ME,DNS:pop3.example.test,DNS:smtp.example.test"
    openssl req -new -key "$t/server.key" -subj "/CN=$ME" -out "$t/server.csr" 2>/dev/null
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$san" > "$t/ext.cnf"
    openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
        -days 825 -extfile "$t/ext.cnf" -out "$t/server.pem" 2>/dev/null
    rm -f "$t/server.csr" "$t/ext.cnf" "$t/ca.srl"
    chmod 600 "$t"/*.key
    chmod 644 "$t/ca.pem" "$t/server.pem"
    info "made a demo CA (etc/tls/ca.pem) and a certificate for $ME, localhost, 127.0.0.1"
fi

# --- the service tree
uid_of() { id -u "$(user_of "$1")"; }
peers=""   # @PEERS@, set per service below
as_user() { local u=yubin-$1; echo "s6-applyuidgid -u $(id -u $u) -g $(id -g $u) -G $(id -g $u)"; }
# tlsd's ids in front of a daemon (root only): -u the TLS uid, -c the daemon's, numeric, so
# that tlsd reads no passwd entry per connection and drops its child itself (no exec)
tlsd_ids() { echo "-u $(id -u yubin-tls):$(id -g yubin-tls) -c $(id -u yubin-$1):$(id -g yubin-$1)"; }
# The ids the templates name, resolved once (subst runs for every file it writes; `id` per
# substitution was most of the set-up's time). Numeric ids: s6-setuidgid would look the user
# and its groups up through NSS at every start, and smtpd, pop3-front and tlsd's child start per
# connection.
as_smtpd="" as_pop="" as_auth="" as_q="" as_mbox="" as_remote="" as_tls="" as_log="" as_tlskey=""
as_dkim="" tlsd_smtpd="" tlsd_pop="" as_sync="" as_link="" tlsd_mbox="" as_ratesync=""
tlsd_serve=""
if [ $asroot = 1 ]; then
    as_smtpd=$(as_user smtpd); as_pop=$(as_user pop); as_auth=$(as_user auth)
    as_q=$(as_user q); as_mbox=$(as_user mbox); as_remote=$(as_user remote)
    as_tls=$(as_user tls); as_log=$(as_user log)
    as_tlskey=$(as_user tlskey); as_dkim=$(as_user dkim)
    tlsd_smtpd=$(tlsd_ids smtpd); tlsd_pop=$(tlsd_ids pop)
    tlsd_serve="-u $(id -u yubin-tls):$(id -g yubin-tls)"    # tlsd -S: no child to drop
    as_link=$(as_user link); tlsd_mbox=$(tlsd_ids mbox)
    if [ -n "$fleet" ]; then
        # yubin-auth: auth.cdb for authd; yubin-dkim: dkim.cdb (the DKIM keys) for the signer
        ga=$(getent group yubin-auth | cut -d: -f3)
        gd=$(getent group yubin-dkim | cut -d: -f3)
        as_sync="s6-applyuidgid -u $(id -u yubin-sync) -g $ga -G $ga,$gd"
        as_ratesync=$(as_user sync)
    fi
fi
# tcpserver drops to the web uid itself after binding (numeric: no passwd lookup)
tcp_web="" tcp_smtpd=""
[ $asroot = 1 ] && tcp_web="-u $(id -u yubin-web) -g $(id -g yubin-web)"
# and port 25's to the smtpd uid (smtpd runs straight under it: the STARTTLS service)
[ $asroot = 1 ] && tcp_smtpd="-u $(id -u yubin-smtpd) -g $(id -g yubin-smtpd)"
u_web=$(user_of web) u_smtpd=$(user_of smtpd) u_pop=$(user_of pop) u_auth=$(user_of auth)
u_q=$(user_of q) u_mbox=$(user_of mbox) u_tls=$(user_of tls) u_remote=$(user_of remote)
u_log=$(user_of log) u_link=$(user_of link)
subst() {
    sed -e "s|@ROOT@|$ROOT|g" -e "s|@BIN@|$ROOT/bin|g" -e "s|@LISTEN@|$LISTEN|g" \
        -e "s|@PORT_SMTP@|$P_SMTP|g" -e "s|@PORT_SUBMISSIONS@|$P_SUBMISSIONS|g" \
        -e "s|@PORT_SUBMISSION@|$P_SUBMISSION|g" -e "s|@PORT_POP3S@|$P_POP3S|g" \
        -e "s|@PORT_POP3@|$P_POP3|g" -e "s|@PORT_HTTPS@|$P_HTTPS|g" -e "s|@PORT_HTTP@|$P_HTTP|g" \
        -e "s|@USER_WEB@|$u_web|g" -e "s|@TCP_AS_WEB@|$tcp_web|g" \
        -e "s|@TCP_AS_SMTPD@|$tcp_smtpd|g" \
        -e "s|@PORT_FLEET_SMTP@|$P_FLEET_SMTP|g" \
        -e "s|@USER_SMTPD@|$u_smtpd|g" -e "s|@USER_POP@|$u_pop|g" \
        -e "s|@USER_AUTH@|$u_auth|g" -e "s|@USER_Q@|$u_q|g" \
        -e "s|@USER_MBOX@|$u_mbox|g" -e "s|@USER_TLS@|$u_tls|g" \
        -e "s|@USER_REMOTE@|$u_remote|g" -e "s|@AS_REMOTE@|$as_remote|g" \
        -e "s|@USER_LOG@|$u_log|g" \
        -e "s|@AS_SMTPD@|$as_smtpd|g" -e "s|@AS_POP@|$as_pop|g" -e "s|@AS_AUTH@|$as_auth|g" \
        -e "s|@AS_Q@|$as_q|g" -e "s|@AS_MBOX@|$as_mbox|g" -e "s|@AS_TLS@|$as_tls|g" \
        -e "s|@AS_LOG@|$as_log|g" -e "s|@AS_TLSKEY@|$as_tlskey|g" -e "s|@AS_SYNC@|$as_sync|g" \
        -e "s|@AS_RATESYNC@|$as_ratesync|g" \
        -e "s|@PEERS@|$peers|g" -e "s|@AS_DKIM@|$as_dkim|g" \
        -e "s|@PORT_FLEET_POP3@|$P_FLEET_POP3|g" -e "s|@AS_LINK@|$as_link|g" \
        -e "s|@USER_LINK@|$u_link|g" -e "s|@TLSD_IDS_MBOX@|$tlsd_mbox|g" \
        -e "s|@TLSD_IDS_SMTPD@|$tlsd_smtpd|g" -e "s|@TLSD_IDS_POP@|$tlsd_pop|g" \
        -e "s|@TLSD_IDS_SERVE@|$tlsd_serve|g"
}
# put SRC DEST MODE: write through a temporary file and rename
# Each script starts with a short fixed PATH: services must not inherit the caller's (every
# program started by a bare name would otherwise be searched for along it, at every start).
SVCPATH="$ROOT/bin:/usr/bin:/bin:/usr/sbin:/sbin"
put() {
    subst < "$1" | awk -v p="PATH=$SVCPATH; export PATH" 'NR == 1 && /^#!/ { print; print p; next } NR == 1 { print p } { print }' > "$2.tmp" \
        && chmod "$3" "$2.tmp" && mv -f "$2.tmp" "$2"
}

: > "$ROOT/etc/listen.tmp"
install_service() {
    tdir=$1
    name=$(basename "$tdir")
    [ -f "$tdir/run" ] || return 0
    sdir=$ROOT/service/$name
    # @PEERS@: the uids of the roles in the service's `access` file, the only ones its unix
    # socket serves (IPCFD_PEERS, checked by the program itself: lib/ipcfd.h)
    peers=""
    if [ -f "$tdir/access" ]; then
        for role in $(grep -v '^#' "$tdir/access"); do
            u=$(uid_of "$role") || die "service $name: unknown role $role"
            case ",$peers," in *",$u,"*) ;; *) peers=${peers:+$peers,}$u ;; esac
        done
    fi
    if grep -q '@PEERS@' "$tdir/run" && [ -z "$peers" ]; then
        die "service $name: its access file names no role"
    fi
    mkdir -p "$sdir/log"
    put "$tdir/run" "$sdir/run" 755
    [ -f "$tdir/finish" ] && put "$tdir/finish" "$sdir/finish" 755
    for f in notification-fd timeout-kill timeout-finish down-signal; do
        [ -f "$tdir/$f" ] && cp "$tdir/$f" "$sdir/$f"
    done
    logdir "$ROOT/log/$name"
    cat > "$sdir/log/run.tmp" <<EOF
#!/bin/sh
PATH=$SVCPATH; export PATH
umask 027
exec 2>&1
exec $( [ $asroot = 1 ] && echo "s6-setuidgid yubin-log " )s6-log -b -d 3 n10 s1000000 t $ROOT/log/$name
EOF
    echo 3 > "$sdir/log/notification-fd"
    chmod 755 "$sdir/log/run.tmp" && mv -f "$sdir/log/run.tmp" "$sdir/log/run"
    # which TCP port a service listens on (its tcpserver's), for yubin-start and yubin-check;
    # lighttpd (service web) binds unix sockets behind https and http, and names their ports
    # only in its configuration
    port=$(grep -v '^[[:space:]]*#' "$tdir/run" | grep 'tcpserver ' | grep -o '@PORT_[A-Z0-9_]*@' \
           | head -n 1 | subst || true)
    [ -n "$port" ] && echo "$name $LISTEN $port" >> "$ROOT/etc/listen.tmp"
    return 0
}
for tdir in "$share"/service/*/; do install_service "$tdir"; done
# POP3 through any node (docs/fleet.md): the relay to other homes and the internal port
[ -n "$fleet" ] && for n in pop3-link pop3-fleet grant-push; do install_service "$share/fleet/$n/"; done
[ -n "$fleet" ] && install_service "$share/fleet/mapsync/"
[ -n "$fleet" ] && install_service "$share/fleet/ratesync/"
# the fleet's internal SMTP port (smtpd -f): fleet nodes only
[ -n "$fleet" ] && install_service "$share/fleet/fleet-smtp/"
mv -f "$ROOT/etc/listen.tmp" "$ROOT/etc/listen"
# services whose template was removed from the share are left to the operator: list them
# (a fleet node's are in fleet/: this run's --fleet, or etc/fleet of an earlier one)
for sdir in "$ROOT"/service/*/; do
    [ -d "$sdir" ] || continue
    n=$(basename "$sdir")
    [ -d "$share/service/$n" ] \
        || { [ -d "$share/fleet/$n" ] && { [ -n "$fleet" ] || [ -e "$ROOT/etc/fleet" ]; }; } \
        || info "note: service $n has no template"
done

# --- fleet: node and operator certificates, etc/fleet, cdb/ written by mapsync only
if [ -n "$fleet" ]; then
    YF="$ROOT/bin/yubin-fleet"
    fd=$ROOT/etc/fleet.d
    mkd "$fd" 0755 root
    # certificates already in etc/fleet.d (made on the CA's host) are kept; the CA is needed
    # only to make missing ones, and made only when the folder has none
    if [ ! -e "$fd/node.pem" ]; then
        [ -e "$fleetca/ca.key" ] || { "$YF" ca "$fleetca" && info "made the fleet CA in $fleetca"; } \
            || die "unable to make the fleet CA in $fleetca"
        "$YF" cert "$fleetca" "node-$fleet" "node-$fleet" || die "unable to make the node certificate"
        "$YF" cert "$fleetca" "operator-$fleet" yubin-operator || die "unable to make the operator certificate"
        cp "$fleetca/ca.pem" "$fd/ca.pem"
        mv -f "$fleetca/node-$fleet.pem" "$fd/node.pem"; mv -f "$fleetca/node-$fleet.key" "$fd/node.key"
        mv -f "$fleetca/operator-$fleet.pem" "$fd/operator.pem"
        mv -f "$fleetca/operator-$fleet.key" "$fd/operator.key"
    fi
    own "$fd/ca.pem" 0644 root; own "$fd/node.pem" 0644 root; own "$fd/operator.pem" 0644 root
    own "$fd/node.key" 0600 sync; own "$fd/operator.key" 0600 root
    # the internal route between nodes (docs/fleet.md "Part 2"): tls/server.* serves this
    # node's internal SMTP port (read by tlsd as root, like etc/tls); remote.* is the client
    # certificate remote presents to the other nodes (yubin-remote reads its key). Both have
    # the CN fleet-NODE, which no etcd user has: they open no door to the directory.
    mkd "$fd/tls" 0700 root
    if [ ! -e "$fd/tls/server.pem" ] || [ ! -e "$fd/remote.pem" ]; then
        [ -e "$fleetca/ca.key" ] || die "no fleet CA in $fleetca to make the internal certificates"
        "$YF" cert "$fleetca" "fleet-$fleet" "fleet-$fleet" "$LISTEN" \
            || die "unable to make the internal server certificate"
        "$YF" cert "$fleetca" "remote-$fleet" "fleet-$fleet" || die "unable to make the client certificate"
        mv -f "$fleetca/fleet-$fleet.pem" "$fd/tls/server.pem"
        mv -f "$fleetca/fleet-$fleet.key" "$fd/tls/server.key"
        mv -f "$fleetca/remote-$fleet.pem" "$fd/remote.pem"
        mv -f "$fleetca/remote-$fleet.key" "$fd/remote.key"
    fi
    own "$fd/tls/server.pem" 0644 root; own "$fd/tls/server.key" 0600 root
    own "$fd/remote.pem" 0644 root; own "$fd/remote.key" 0640 root:remote
    # link.*: the client certificate pop3-link (yubin-link) presents to other nodes' internal
    # POP3 port, CN link-NODE (the only CN that port takes); its own key, so that neither
    # remote nor pop3d can open sessions elsewhere. One made before the CNs were apart
    # (fleet-NODE, like remote's) is made again.
    if [ -e "$fd/link.pem" ] && openssl x509 -in "$fd/link.pem" -noout -subject 2>/dev/null \
            | grep -q "CN *= *fleet-"; then
        if [ -e "$fleetca/ca.key" ]; then
            info "link.pem has the CN fleet-$fleet (remote's): making it again as link-$fleet"
            rm -f "$fd/link.pem" "$fd/link.key"
        else
            echo "$prog: warning: $fd/link.pem has the CN fleet-$fleet: other nodes refuse it; run yubin-setup with --fleet-ca to make it again" >&2
        fi
    fi
    if [ ! -e "$fd/link.pem" ]; then
        [ -e "$fleetca/ca.key" ] || die "no fleet CA in $fleetca to make the link certificate"
        "$YF" cert "$fleetca" "link-$fleet" "link-$fleet" || die "unable to make the link certificate"
        mv -f "$fleetca/link-$fleet.pem" "$fd/link.pem"; mv -f "$fleetca/link-$fleet.key" "$fd/link.key"
    fi
    own "$fd/link.pem" 0644 root; own "$fd/link.key" 0640 root:link
    if [ ! -e "$ROOT/etc/fleet" ]; then
        printf 'node=%s\nendpoints=%s\nwait=10\n' "$fleet" "$etcd" > "$ROOT/etc/fleet.tmp"
        mv -f "$ROOT/etc/fleet.tmp" "$ROOT/etc/fleet"
    fi
    own "$ROOT/cdb" 0755 sync
    info "fleet node $fleet: etcd needs its user and role once, made where the fleet CA is:" \
         "yubin-fleet node $fleetca $etcd $fleet"
fi

# --- maps (in a fleet, mapsync builds them from etcd)
if [ -z "$fleet" ] && [ ! -e "$ROOT/etc/fleet" ] && [ -x "$ROOT/bin/mkmaps" ]; then
    "$ROOT/bin/mkmaps" --root "$ROOT" --quiet || die "the maps in $ROOT/etc do not compile (see above)"
fi

# --- demo domain and account
if [ $demo = 1 ] && [ -x "$ROOT/bin/mailacct" ]; then
    MA="$ROOT/bin/mailacct --root $ROOT"
    grep -q '^example\.test:' "$ROOT/etc/domains" || $MA domain add example.test --plan premium
    if grep -q '^demo@example\.test:' "$ROOT/etc/users"; then
        info "demo@example.test exists; its password is unchanged (reset: bin/mailacct --root $ROOT passwd demo@example.test --random)"
    else
        $MA add demo@example.test --random
    fi
fi
# --- the root, recorded beside the programs: bin/mailacct, mailq, mailtrace and yubin-check
# act on it without --root or YUBIN_ROOT (lib/cfg.h cfg_root_find). The folder is the one
# the programs really are in (symbolic links resolved, as /proc/self/exe is); the last
# set-up made from a folder of programs is the one recorded there.
for d in "$bindir" "$ROOT/bin"; do
    d=$(cd "$d" && pwd -P) || continue
    if printf '%s\n' "$ROOT" > "$d/.yubin-root.$$" 2>/dev/null && chmod 644 "$d/.yubin-root.$$" \
        && mv -f "$d/.yubin-root.$$" "$d/.yubin-root"; then
        :
    else
        rm -f "$d/.yubin-root.$$"
        info "note: cannot write $d/.yubin-root: the tools in $d need --root $ROOT"
    fi
done
info "mail root ready: $ROOT"
