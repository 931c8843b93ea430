#!/bin/sh
# Install the Debian packages yubin needs to build, run and test, when any is missing.
# Does nothing when all are there. Needs root (or sudo) only when something is missing.
PKGS="s6 execline ucspi-tcp-ipv6 libbearssl-dev libcdb-dev tinycdb libcrypt-dev gcc make
python3 openssl swaks curl fetchmail msmtp dnsmasq-base clang libclang-rt-dev iproute2 procps
strace chromium musl-tools"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null || { echo "deps: apt-get update failed" >&2; exit 1; }
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
    echo "deps: apt-get install failed:$missing" >&2; exit 1; }
