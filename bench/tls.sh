#!/bin/sh
# bench/tls.sh: tlsd figures (issue 5): full handshakes per second with ECDSA P-256 and
# RSA-2048 certificates through tlsd (tcpserver + tlsd + child per connection) and against
# `openssl s_server` on the same key; bulk throughput through tlsd vs plain TCP on loopback;
# resident memory per TLS session. tlsd pays fork+exec of itself and of its child per
# connection (tcpserver model); s_server is one process. Medians of RUNS runs (default 3). Prints each command.
# usage: sh bench/tls.sh [SECONDS_PER_RUN]   (needs bin/tlsd, tcpserver, openssl, python3)
# The machine's load matters: the figures print the load average too.
secs=${1:-5}
runs=${RUNS:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
tlsd=$top/bin/tlsd
[ -x "$tlsd" ] || { echo "bench/tls.sh: build bin/tlsd first (make bin/tlsd)" >&2; exit 100; }
work=$(mktemp -d /tmp/yubin-bench-tls.XXXXXX)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

user=""
if [ "$(id -u)" = 0 ]; then
    if id yubin-tls >/dev/null 2>&1; then user="-u yubin-tls"; else user="-u nobody"; fi
fi
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "?"; else print a[int((NR+1)/2)]}'; }
waitport() { python3 - "$1" <<'EOF'
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2).close(); sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF
}
run() { echo "  \$ $*"; }

mkdir -p "$work/ec" "$work/rsa"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ec/server.key" \
    -out "$work/ec/server.pem" -days 30 -subj /CN=localhost >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/rsa/server.key" \
    -out "$work/rsa/server.pem" -days 30 -subj /CN=localhost >/dev/null 2>&1
chmod 755 "$work"; chmod 755 "$work/ec" "$work/rsa"

# start_server NAME COMMAND...: background server, remembered for cleanup
start_server() { "$@" >/dev/null 2>"$work/server.log" & pids="$pids $!"; }
stop_servers() { for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; pids=""; }

# full handshakes per second, sequential, one Python ssl client (the same client for both servers)
cat > "$work/hs.py" <<'EOF'
import socket, ssl, sys, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
c.maximum_version = ssl.TLSVersion.TLSv1_2
n, t = 0, time.time()
while time.time() - t < secs:
    s = c.wrap_socket(socket.create_connection(("127.0.0.1", port)))
    s.close()
    n += 1
print("%.0f" % (n / (time.time() - t)))
EOF
handshakes() {
    for i in $(seq "$runs"); do python3 "$work/hs.py" "$1" "$secs"; done | median
}

echo "# tlsd benchmarks ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $runs runs of ${secs}s, medians)"
echo "## full handshakes per second (TLS 1.2, new session each, sequential Python ssl client)"
for kind in ec rsa; do
    port=$(freeport)
    start_server tcpserver -HR -l localhost 127.0.0.1 "$port" "$tlsd" -i $user -d "$work/$kind" -- cat
    waitport "$port"
    run tcpserver -HR -l localhost 127.0.0.1 "$port" "$tlsd" -i $user -d "$work/$kind" -- cat
    run python3 hs.py "$port" "$secs"
    t=$(handshakes "$port")
    stop_servers
    port=$(freeport)
    start_server openssl s_server -quiet -tls1_2 -accept "$port" -cert "$work/$kind/server.pem" \
        -key "$work/$kind/server.key"
    waitport "$port"
    run openssl s_server -quiet -tls1_2 -accept "$port" -cert "$work/$kind/server.pem" -key "$work/$kind/server.key"
    run python3 hs.py "$port" "$secs"
    o=$(handshakes "$port")
    stop_servers
    echo "handshakes/s $kind: tlsd=$t openssl_s_server=$o"
done

echo "## bulk throughput on loopback, server to client, 200 MB"
cat > "$work/recv.py" <<'EOF'
import socket, ssl, sys, time
port, use_tls = int(sys.argv[1]), sys.argv[2] == "tls"
s = socket.create_connection(("127.0.0.1", port))
if use_tls:
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
    s = c.wrap_socket(s)
t = time.time(); n = 0
while True:
    d = s.recv(1 << 16)
    if not d:
        break
    n += len(d)
print("%.0f" % (n / (time.time() - t) / 1e6))
EOF
for mode in tls plain; do
    port=$(freeport)
    if [ $mode = tls ]; then
        set -- "$tlsd" -i $user -d "$work/ec" -- head -c 200000000 /dev/zero
    else
        set -- head -c 200000000 /dev/zero
    fi
    start_server tcpserver -HR -l localhost 127.0.0.1 "$port" "$@"
    waitport "$port"
    run tcpserver -HR -l localhost 127.0.0.1 "$port" "$@"
    run python3 recv.py "$port" $mode
    mb=$(for i in $(seq "$runs"); do python3 "$work/recv.py" "$port" $mode; done | median)
    stop_servers
    echo "throughput MB/s $mode: $mb"
done

echo "## resident memory per TLS session (20 idle sessions: tlsd + child cat)"
port=$(freeport)
start_server tcpserver -c 100 -HR -l localhost 127.0.0.1 "$port" "$tlsd" -i $user -d "$work/ec" -- cat
waitport "$port"
run tcpserver -c 100 -HR -l localhost 127.0.0.1 "$port" "$tlsd" -i $user -d "$work/ec" -- cat
run "python3: open 20 TLS sessions; sum VmRSS of tlsd and its children from /proc"
python3 - "$port" $pids <<'EOF'
import os, socket, ssl, sys, time
port, server = int(sys.argv[1]), sys.argv[2]
c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
held = [c.wrap_socket(socket.create_connection(("127.0.0.1", port))) for _ in range(20)]
time.sleep(0.5)
def rss(pid):
    try:
        for line in open("/proc/%s/status" % pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
def comm(pid):
    try:
        return open("/proc/%s/comm" % pid).read().strip()
    except OSError:
        return ""
def ppid(pid):
    try:
        return int(open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError):
        return 0
tl = [p for p in os.listdir("/proc") if p.isdigit() and comm(p) == "tlsd" and str(ppid(p)) == server]
kids = [p for p in os.listdir("/proc") if p.isdigit() and str(ppid(p)) in tl]
t, k = sum(rss(p) for p in tl), sum(rss(p) for p in kids)
print("sessions=%d tlsd_kB_per_session=%d child_kB_per_session=%d total_kB_per_session=%d"
      % (len(tl), t // max(len(tl), 1), k // max(len(tl), 1), (t + k) // max(len(tl), 1)))
for s in held:
    s.close()
EOF
stop_servers
