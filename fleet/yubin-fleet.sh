#!/bin/sh
# yubin-fleet: the fleet's certificates and etcd access rules (docs/fleet.md). Run by the
# operator (root) on the machine holding the fleet CA.
#
# usage: yubin-fleet ca DIR                    make the fleet CA (DIR/ca.pem, DIR/ca.key)
#        yubin-fleet cert DIR NAME CN [IP ...] DIR/NAME.pem + NAME.key signed by the CA; with
#                                              IPs an etcd member's (server and peer; SANs:
#                                              the IPs; CN etcd-peer), else a client's (CN:
#                                              the etcd user: root, yubin-operator, node-N)
#        yubin-fleet init DIR ENDPOINTS        on a new etcd cluster: users root,
#                                              yubin-operator; role yubin-operator; auth on
#                                              (DIR/root.pem must exist: yubin-fleet cert DIR root root)
#        yubin-fleet node DIR ENDPOINTS NODE   user and role node-NODE: read /yubin/dir/
#                                              and /yubin/rate/, write /yubin/node/NODE and
#                                              /yubin/rate/NODE/ only
#        yubin-fleet node-grants DIR ENDPOINTS NODE
#                                              give an existing role node-NODE the rights
#                                              of this version (ratesync's /yubin/rate/)
#        yubin-fleet [--root ROOT] node add NAME ADDRESS [SMTP_PORT [POP3_PORT]]
#                                              the node's record in the directory: where the
#                                              others reach it, its internal ports (4025, 4110)
#        yubin-fleet [--root ROOT] node list   the nodes (mailacct's root and certificate)
#        yubin-fleet [--root ROOT] node drain|remove NODE
#        yubin-fleet [--root ROOT] domain move DOMAIN NODE | abort DOMAIN
#        yubin-fleet [--root ROOT] domain cleanup DOMAIN [--grace MINUTES]
#        yubin-fleet [--root ROOT] status      moves and status: yubin-move (docs/fleet.md)
# Exit 0 done, 100 bad usage, 111 a command failed.
set -eu
prog=yubin-fleet
die() { echo "$prog: fatal: $1" >&2; exit "${2:-111}"; }   # MESSAGE [EXIT]
usage() { sed -n '5,27p' "$0" >&2; exit 100; }
minutes() { case "$1" in ''|*[!0-9]*) return 1 ;; esac; }
# the directory's records are changed the way accounts are: mailacct's guarded transaction
rootopt=""
if [ "${1:-}" = --root ] && [ $# -ge 2 ]; then rootopt="--root $2"; shift 2; fi
if [ "${1:-}" = node ] && { [ "${2:-}" = add ] || [ "${2:-}" = list ]; }; then
    shift
    exec "$(dirname "$0")/mailacct" $rootopt node "$@"
fi
# moves, drain, status: run on a node, with its root (the Maildirs of the domains homed there);
# their arguments checked here, so that bad ones print this usage, the one the operator typed
case "${1:-} ${2:-}" in
"node drain"|"node remove"|"domain abort") [ $# -eq 3 ] || usage ;;
"domain move") [ $# -eq 4 ] || usage ;;
"domain cleanup")
    [ $# -eq 3 ] || { [ $# -eq 5 ] && [ "$4" = --grace ] && minutes "$5"; } || usage ;;
"domain "*) usage ;;
"status ") [ $# -eq 1 ] || usage ;;
esac
case "${1:-} ${2:-}" in
"node drain"|"node remove"|"domain "*|"status ")
    r=${rootopt#--root }
    [ -n "$r" ] || r=${YUBIN_ROOT:-$(cat "$(dirname "$0")/.yubin-root" 2>/dev/null || echo /var/yubin)}
    exec "$(dirname "$0")/yubin-move" "$r" "$@" ;;
esac
[ -z "$rootopt" ] || usage
[ $# -ge 2 ] || usage
cmd=$1; dir=$2; shift 2
umask 077

etcdctl_root() {
    ETCDCTL_API=3 etcdctl --endpoints="$endpoints" --cacert="$dir/ca.pem" --cert="$dir/root.pem" \
        --key="$dir/root.key" --dial-timeout=3s --command-timeout=10s "$@" >/dev/null \
        || die "etcdctl $* failed"
}
# a user that logs in by its certificate's CN only: its password is random and thrown away
user_add() {
    pw=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
    etcdctl_root user add "$1:$pw"
}

case "$cmd" in
ca)
    [ $# -eq 0 ] || usage
    mkdir -p "$dir"
    [ -e "$dir/ca.key" ] && die "$dir/ca.key exists; not replacing the fleet CA" 100
    openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key.tmp" 2>/dev/null
    openssl req -x509 -new -key "$dir/ca.key.tmp" -subj "/CN=yubin fleet CA" -days 3650 \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$dir/ca.pem" 2>/dev/null || die "openssl: unable to make the CA"
    mv "$dir/ca.key.tmp" "$dir/ca.key"
    chmod 644 "$dir/ca.pem"
    ;;
cert)
    [ $# -ge 2 ] || usage
    name=$1; cn=$2; shift 2
    [ -e "$dir/ca.key" ] || die "no fleet CA in $dir (yubin-fleet ca $dir)" 100
    # a member's certificate serves clients and peers; a client's can be neither (members
    # accept as peers only the CN etcd-peer: --peer-cert-allowed-cn, docs/fleet.md)
    if [ $# -gt 0 ]; then
        san=""
        for ip in "$@"; do san="${san:+$san,}IP:$ip"; done
        ext="subjectAltName=$san
extendedKeyUsage=serverAuth,clientAuth"
    else
        case "$cn" in etcd-peer) die "etcd-peer is the members' CN" 100 ;; esac
        ext="extendedKeyUsage=clientAuth"
    fi
    t=$dir/.$name.$$
    openssl ecparam -name prime256v1 -genkey -noout -out "$t.ec" 2>/dev/null
    openssl pkcs8 -topk8 -nocrypt -in "$t.ec" -out "$t.key"
    openssl req -new -key "$t.key" -subj "/CN=$cn" -out "$t.csr" 2>/dev/null
    printf '%s\nbasicConstraints=CA:FALSE\n' "$ext" > "$t.ext"
    openssl x509 -req -in "$t.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
        -days 825 -extfile "$t.ext" -out "$t.pem" 2>/dev/null || die "openssl: unable to sign $name"
    mv "$t.key" "$dir/$name.key" && mv "$t.pem" "$dir/$name.pem"
    rm -f "$t.ec" "$t.csr" "$t.ext" "$dir/ca.srl"
    chmod 644 "$dir/$name.pem"
    ;;
init)
    [ $# -eq 1 ] || usage
    endpoints=$1
    user_add root
    etcdctl_root user grant-role root root
    user_add yubin-operator
    etcdctl_root role add yubin-operator
    etcdctl_root role grant-permission yubin-operator --prefix=true readwrite /yubin/
    etcdctl_root user grant-role yubin-operator yubin-operator
    etcdctl_root auth enable
    ;;
node|node-grants)
    [ $# -eq 2 ] || usage
    endpoints=$1; node=$2
    case "$node" in *[!a-z0-9-]*|'') die "bad node name $node (a-z 0-9 -)" 100 ;; esac
    if [ "$cmd" = node ]; then
        # a second run would fail in etcdctl, naming the thrown-away password: say what to run
        ETCDCTL_API=3 etcdctl --endpoints="$endpoints" --cacert="$dir/ca.pem" \
            --cert="$dir/root.pem" --key="$dir/root.key" --dial-timeout=3s \
            --command-timeout=10s user get "node-$node" >/dev/null 2>&1 \
            && die "etcd has the user node-$node already; to give its role the rights of this version: yubin-fleet node-grants $dir $endpoints $node" 100
        user_add "node-$node"
        etcdctl_root role add "node-$node"
    fi
    # granting again what a role has changes nothing: node-grants may run any number of times
    etcdctl_root role grant-permission "node-$node" --prefix=true read /yubin/dir/
    etcdctl_root role grant-permission "node-$node" readwrite "/yubin/node/$node"
    # ratesync: every node's sending counters to read, its own to write (docs/fleet.md)
    etcdctl_root role grant-permission "node-$node" --prefix=true read /yubin/rate/
    etcdctl_root role grant-permission "node-$node" --prefix=true readwrite "/yubin/rate/$node/"
    if [ "$cmd" = node ]; then
        etcdctl_root user grant-role "node-$node" "node-$node"
    fi
    ;;
*)
    usage
    ;;
esac
