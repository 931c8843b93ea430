#!/bin/sh
# Password verifications per second through authd: sha512-crypt ($6$, what mailacct writes) and
# yescrypt ($y$) for comparison, over the socket directly and through checkpw, at concurrency 1
# and 4; medians of BENCH_RUNS runs (default 5), all with authd's cache off (AUTH_CACHE_TTL=0),
# so each request costs a real verification. Then repeated logins (one account, the same
# password) with the cache off and on (the default TTL), alternating run by run in the same
# minutes, and their same-run ratio. Builds a throw-away mail root under /tmp with
# bin/yubin-setup, starts only the authd service under its own s6-svscan, and removes it after.
# Needs bin/authd, bin/checkpw, bin/yubin-setup (make bin/authd bin/checkpw).
cd "$(dirname "$0")/.." || exit 111
exec python3 - "${BENCH_RUNS:-5}" <<'PYEOF'
import ctypes
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

RUNS = int(sys.argv[1])
TOP = os.getcwd()
IS_ROOT = os.getuid() == 0
PASSWORD = "Bench pw 1"
ACCOUNTS = {"sha512-crypt": ("b6@example.test", b"$6$"),
            "yescrypt": ("by@example.test", b"$y$")}
# requests per run, per hash (yescrypt costs several times sha512-crypt's default)
PER_RUN = {"sha512-crypt": 200, "yescrypt": 100}


def crypt_hash(prefix, password):
    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    setting = lib.crypt_gensalt(prefix, 0, None, 0)
    return lib.crypt(password.encode(), setting)


def cdb_make(path, records, mode, group=None):
    data = b"".join(b"+%d,%d:%s->%s\n" % (len(k), len(v), k, v) for k, v in records) + b"\n"
    subprocess.run(["cdb", "-c", "-t", path + ".tmp", path], input=data, check=True)
    os.chmod(path, mode)
    if group and IS_ROOT:
        shutil.chown(path, "root", group)


def make_root():
    root = tempfile.mkdtemp(prefix="yubin-bench-auth-")
    os.chmod(root, 0o755)
    subprocess.run(["bin/yubin-setup", "--bin", "bin", "--share", ".", root],
                   stdout=subprocess.DEVNULL, check=True)
    auth, users = [], []
    for name, (addr, prefix) in ACCOUNTS.items():
        auth.append((addr.encode(), crypt_hash(prefix, PASSWORD)))
        users.append((addr.encode(), b"quota=0 plan=basic pop3s=0 home=mail/example.test/"
                      + addr.split("@")[0].encode()))
    cdb_make(os.path.join(root, "cdb", "auth.cdb"), auth, 0o640, "yubin-auth")
    cdb_make(os.path.join(root, "cdb", "users.cdb"), users, 0o644)
    with open(os.path.join(root, "etc", "env", "AUTH_CACHE_TTL"), "w") as f:
        f.write("0\n")
    scan = os.path.join(root, "bench-scan")
    os.mkdir(scan)
    os.symlink(os.path.join(root, "service", "authd"), os.path.join(scan, "authd"))
    svscan = subprocess.Popen(["s6-svscan", scan], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                              start_new_session=True)
    sdir = os.path.join(root, "service", "authd")
    deadline = time.time() + 10
    while subprocess.run(["s6-svok", sdir]).returncode != 0 and time.time() < deadline:
        time.sleep(0.05)
    if subprocess.run(["s6-svwait", "-U", "-t", "10000", sdir]).returncode != 0:
        stop(root, scan, svscan)
        raise SystemExit("bench: authd did not start")
    return root, scan, svscan


def stop(root, scan, svscan):
    subprocess.run(["s6-svscanctl", "-t", scan])
    try:
        svscan.wait(timeout=15)
    except subprocess.TimeoutExpired:
        svscan.kill()
    shutil.rmtree(root, ignore_errors=True)


def set_cache(root, ttl):
    """AUTH_CACHE_TTL as an operator sets it (etc/env), applied by restarting authd."""
    sdir = os.path.join(root, "service", "authd")
    subprocess.run(["s6-svc", "-d", sdir], check=True)
    subprocess.run(["s6-svwait", "-D", "-t", "10000", sdir], check=True)
    path = os.path.join(root, "etc", "env", "AUTH_CACHE_TTL")
    if ttl is None:
        os.unlink(path)
    else:
        with open(path, "w") as f:
            f.write("%d\n" % ttl)
    subprocess.run(["s6-svc", "-u", sdir], check=True)
    subprocess.run(["s6-svwait", "-U", "-t", "10000", sdir], check=True)


def ask_socket(root, login):
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.path.join(root, "run", "authd.sock"))
    s.sendall(b"yubin-auth1\0pop3\0" b"127.0.0.1\0" + login.encode() + b"\0"
              + PASSWORD.encode() + b"\0")
    s.shutdown(socket.SHUT_WR)
    r = s.recv(16)
    s.close()
    return r == b"ok\n"


def checkpw_argv(root):
    wrap = ["s6-setuidgid", "yubin-mbox"] if IS_ROOT else []
    return wrap + ["sh", "-c", 'exec "$0" "$@" 3<&0', os.path.join(root, "bin", "checkpw"), "true"]


def ask_checkpw(root, login):
    env = {"PATH": os.environ["PATH"], "YUBIN_ROOT": root, "TCPREMOTEIP": "127.0.0.1"}
    p = subprocess.run(checkpw_argv(root), input=login.encode() + b"\0" + PASSWORD.encode()
                       + b"\0\0", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p.returncode == 0


def one_run(fn, root, login, total, conc):
    """Verifications per second for total requests spread over conc client threads."""
    errors = []

    def client(n):
        for _ in range(n):
            if not fn(root, login):
                errors.append(1)
    shares = [total // conc + (1 if i < total % conc else 0) for i in range(conc)]
    threads = [threading.Thread(target=client, args=(n,)) for n in shares]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.perf_counter() - t0
    if errors:
        raise SystemExit("bench: %d of %d verifications failed" % (len(errors), total))
    return total / dt


def main():
    root, scan, svscan = make_root()
    try:
        print("auth bench: %d cores, authd workers: 2 per core (default), %d runs each, "
              "median shown" % (os.cpu_count(), RUNS))
        wrap = "s6-setuidgid yubin-mbox " if IS_ROOT else ""
        print("commands behind one verification (ROOT = %s, removed afterwards):" % root)
        print("  socket:  printf 'yubin-auth1\\0pop3\\0127.0.0.1\\0LOGIN\\0PASSWORD\\0' "
              "| python3 -c "
              "'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
              "s.sendall(sys.stdin.buffer.read()); s.shutdown(1); print(s.recv(16))' "
              "ROOT/run/authd.sock")
        print("  checkpw: printf 'LOGIN\\0PASSWORD\\0\\0' | env YUBIN_ROOT=ROOT "
              "TCPREMOTEIP=127.0.0.1 %sROOT/bin/checkpw true 3<&0" % wrap)
        print("  (conc N = N client threads; verif/s = requests / wall time; warm-up run first)")
        print("%-13s %-8s %5s %12s   %s" % ("hash", "path", "conc", "verif/s", "runs"))
        for name, (login, _) in ACCOUNTS.items():
            for path, fn in (("socket", ask_socket), ("checkpw", ask_checkpw)):
                for conc in (1, 4):
                    total = PER_RUN[name] // (2 if path == "checkpw" else 1)
                    one_run(fn, root, login, max(conc, total // 10), conc)   # warm up
                    rates = [one_run(fn, root, login, total, conc) for _ in range(RUNS)]
                    runs = " ".join("%.0f" % r for r in rates)
                    print("%-13s %-8s %5d %12.1f   %s"
                          % (name, path, conc, statistics.median(rates), runs))
                    sys.stdout.flush()
        repeated(root)
    finally:
        stop(root, scan, svscan)


def repeated(root):
    """The same login again and again, as mail programs do (cache off = every login verified)."""
    login = ACCOUNTS["sha512-crypt"][0]
    total = PER_RUN["sha512-crypt"]
    print("repeated logins, one account, sha512-crypt, socket: cache off (AUTH_CACHE_TTL=0) and "
          "on (default), alternating run by run")
    print("%-13s %5s %12s %12s %8s   %s" % ("cache", "conc", "off verif/s", "on verif/s",
                                             "on/off", "runs (off/on)"))
    for conc in (1, 4):
        off, on = [], []
        for _ in range(RUNS):
            for ttl, rates in ((0, off), (None, on)):
                set_cache(root, ttl)
                one_run(ask_socket, root, login, max(conc, total // 10), conc)   # warm up
                rates.append(one_run(ask_socket, root, login, total, conc))
        ratios = [b / a for a, b in zip(off, on)]
        print("%-13s %5d %12.1f %12.1f %8.1f   %s" % (
            "off vs on", conc, statistics.median(off), statistics.median(on),
            statistics.median(ratios), " ".join("%.0f/%.0f" % r for r in zip(off, on))))
        sys.stdout.flush()
    set_cache(root, 0)


main()
PYEOF
