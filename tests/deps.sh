#!/bin/sh
# Install the Debian packages yubin needs to build, run and test, when any is missing.
# Does nothing when all are there. Needs root (or sudo) only when something is missing.
# libnet-ssleay-perl: swaks needs it for --tls (STARTTLS); fonts-ipafont-gothic: a Japanese font,
# without which chromium draws the settings sheet's Japanese as empty boxes.
# lighttpd, lighttpd-mod-openssl: the member page's web server (docs/web.md); Debian's own
# lighttpd service (port 80, /var/www) is switched off below: yubin runs its own under s6.
# apache2-utils: ab, for bench/web.sh.
# python3-dkim: the independent DKIM verifier of tests/integration/test_dkim.py (Debian's python3).
# etcd-server, etcd-client: the fleet's directory (docs/fleet.md); the tests start their own
# members on free high ports, so the package's own service (2379/2380) is switched off below.
PKGS="s6 execline ucspi-tcp-ipv6 libbearssl-dev libssl-dev libcdb-dev tinycdb libcrypt-dev gcc make
python3 openssl swaks libnet-ssleay-perl curl fetchmail msmtp dnsmasq-base clang libclang-rt-dev
iproute2 procps strace rsync chromium fonts-ipafont-gothic musl-tools etcd-server etcd-client
lighttpd lighttpd-mod-openssl apache2-utils python3-dkim"
# another apt-get or dpkg (an unattended upgrade, a second make deps) may hold the package
# locks: wait for them this long instead of failing at once
LOCK_WAIT=600
# python3-spf: pyspf, the independent SPF implementation tests/integration/test_spf.py compares with
PKGS="$PKGS python3-spf"
# publicsuffix: the Public Suffix List smtpd reads for the DMARC organizational domain (docs/inbound.md)
PKGS="$PKGS publicsuffix"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
APT="$SUDO apt-get -o DPkg::Lock::Timeout=$LOCK_WAIT"
# DPkg::Lock::Timeout covers dpkg's locks (install); apt-get update fails at once when another
# process holds the lists lock, so it is tried again while that is the reason
waited=0
while :; do
    out=$($APT update -qq 2>&1) && break
    case "$out" in
    *"Could not get lock"*) ;;
    *) printf '%s\n' "$out" >&2; echo "deps: apt-get update failed" >&2; exit 1 ;;
    esac
    [ $waited -ge $LOCK_WAIT ] && {
        printf '%s\n' "$out" >&2; echo "deps: apt-get update: lock held for ${LOCK_WAIT}s" >&2
        exit 1
    }
    [ $waited = 0 ] && echo "deps: waiting for the apt lists lock"
    sleep 5
    waited=$((waited + 5))
done
$APT install -y -qq --no-install-recommends $missing >/dev/null || {
    echo "deps: apt-get install failed:$missing" >&2; exit 1; }
# Debian's etcd-server enables (and under systemd starts) a default member on 2379/2380 with
# no TLS: yubin's fleet runs its own members (docs/fleet.md), so that one is stopped and disabled.
case "$missing" in
*lighttpd*)
    if [ -d /run/systemd/system ]; then
        $SUDO systemctl disable --now lighttpd >/dev/null 2>&1 || true
    elif [ -x /etc/init.d/lighttpd ]; then
        $SUDO /etc/init.d/lighttpd stop >/dev/null 2>&1 || true
        $SUDO update-rc.d lighttpd disable >/dev/null 2>&1 || true
    fi
    ;;
esac
case "$missing" in
*etcd-server*)
    if [ -d /run/systemd/system ]; then
        $SUDO systemctl disable --now etcd >/dev/null 2>&1 || true
    elif [ -x /etc/init.d/etcd ]; then
        $SUDO /etc/init.d/etcd stop >/dev/null 2>&1 || true
        $SUDO update-rc.d etcd disable >/dev/null 2>&1 || true
    fi
    ;;
esac
