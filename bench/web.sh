#!/bin/sh
# Member page: pages per second for the login page, a logged-in member's page and a domain
# administrator's list page (a domain of BENCH_ADDRESSES addresses, default 50) over HTTPS
# (ab from apache2-utils, 4 clients, keep-alive and a new TLS connection per request), and the
# memory of the web service (lighttpd) and of one request's CGI program. Builds a throw-away mail
# root under /tmp with bin/yubin-setup on free ports, runs its s6 tree, removes it after.
# Needs the built programs (make all), lighttpd and ab (make deps).
cd "$(dirname "$0")/.." || exit 111
top=$(pwd)
n=${BENCH_REQUESTS:-3000}
command -v ab >/dev/null || { echo "bench/web.sh: ab not installed (make deps)"; exit 0; }
root=$(mktemp -d /tmp/yubin-bench-web.XXXXXX) && chmod 755 "$root" || exit 111
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
YUBIN_PORT_SMTP=$(port) YUBIN_PORT_SUBMISSION=$(port) YUBIN_PORT_SUBMISSIONS=$(port) \
YUBIN_PORT_POP3=$(port) YUBIN_PORT_POP3S=$(port) YUBIN_PORT_HTTPS=$(port) YUBIN_PORT_HTTP=$(port) \
    bin/yubin-setup --bin bin --share . "$root" >/dev/null || exit 111
https=$(awk '$1 == "https" { print $3 }' "$root/etc/listen")
bin/mailacct --root "$root" domain add bench.test --plan premium >/dev/null 2>&1
bin/mailacct --root "$root" add m@bench.test --password 'Bench-Pass-1' >/dev/null 2>&1
adminpw=$(bin/mailacct --root "$root" domain add shop.test --plan basic --admin m@bench.test \
          | awk '$1 == "password:" { print $2 }')
k=0
while [ $k -lt "${BENCH_ADDRESSES:-50}" ]; do
    bin/mailacct --root "$root" add "user$k@shop.test" --random >/dev/null 2>&1
    k=$((k + 1))
done
setsid s6-svscan "$root/service" </dev/null >/dev/null 2>&1 &
svscan=$!
trap 's6-svscanctl -t "$root/service" 2>/dev/null; wait $svscan; rm -rf "$root"' EXIT
i=0
until curl -sk -o /dev/null "https://127.0.0.1:$https/" && [ -S "$root/run/acctd.sock" ]; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "bench/web.sh: the web service did not start"; exit 111; }
    sleep 0.1
done
jar=$root/cookies
curl -sk -c "$jar" -b "$jar" "https://127.0.0.1:$https/" > "$root/login.html"
tok=$(grep -o 'name="csrf" value="[0-9a-f]*' "$root/login.html" | sed 's/.*value="//')
curl -sk -c "$jar" -b "$jar" -o /dev/null --data "csrf=$tok&addr=m%40bench.test&password=Bench-Pass-1" \
    "https://127.0.0.1:$https/login"
sess=$(awk '$6 == "__Host-yubin" { print $7 }' "$jar")
[ -n "$sess" ] || { echo "bench/web.sh: login failed"; exit 111; }
jar2=$root/cookies2
curl -sk -c "$jar2" -b "$jar2" "https://127.0.0.1:$https/" > "$root/login2.html"
tok=$(grep -o 'name="csrf" value="[0-9a-f]*' "$root/login2.html" | sed 's/.*value="//')
curl -sk -c "$jar2" -b "$jar2" -o /dev/null --data-urlencode "csrf=$tok" \
    --data-urlencode "addr=shop.test" --data-urlencode "password=$adminpw" \
    "https://127.0.0.1:$https/login"
asess=$(awk '$6 == "__Host-yubin" { print $7 }' "$jar2")
[ -n "$asess" ] || { echo "bench/web.sh: administrator login failed"; exit 111; }
rate() { ab "$@" 2>&1 | awk '/Requests per second/ { print $4 }'; }
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for ka in -k ""; do
    l=$(rate $ka -q -n "$n" -c 4 "https://127.0.0.1:$https/")
    mp=$(rate $ka -q -n "$n" -c 4 -C "__Host-yubin=$sess" "https://127.0.0.1:$https/")
    ap=$(rate $ka -q -n "$n" -c 4 -C "__Host-yubin=$asess" "https://127.0.0.1:$https/")
    how="a new TLS connection per request"; [ -n "$ka" ] && how="keep-alive"
    echo "pages/s, $how: login $l, member $mp, administrator's list (${BENCH_ADDRESSES:-50} addresses) $ap" \
         "  (ab $ka -n $n -c 4 [-C __Host-yubin=…] https://127.0.0.1:$https/)"
done
lp=$(pgrep -f "lighttpd -D -f $root/service/web/lighttpd.conf" | head -n 1)
awk '/^Rss:|^Pss:/ { printf "lighttpd %s %s kB  ", $1, $2 } END { print "" }' "/proc/$lp/smaps_rollup"
as=""; [ "$(id -u)" = 0 ] && as="s6-setuidgid yubin-web"
$as env -i REQUEST_METHOD=GET HTTPS=on YUBIN_ROOT="$root" REMOTE_ADDR=127.0.0.1 \
    HTTP_COOKIE="__Host-yubin=$sess" /usr/bin/time -f "member (one request's CGI program): max RSS %M kB" \
    "$root/bin/member" >/dev/null
