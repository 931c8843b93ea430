#!/usr/bin/env python3
"""Whole TLS sessions per second as mail programs make them, on a private tree.

587: connect, EHLO, STARTTLS, EHLO, AUTH PLAIN, MAIL, RCPT, DATA (1 KB), QUIT
465: implicit TLS, EHLO, AUTH PLAIN, MAIL, RCPT, DATA (1 KB), QUIT
995: implicit TLS, USER, PASS, STAT, QUIT (one account per client: one POP session each)
Full handshakes only (no resumption), CONC clients at once, with an RSA-2048 and an ECDSA
P-256 certificate (put in etc/tls by rename, as an operator replaces one: picked up at once).
Also the CPU of each program per 587 session (bench/profile.py, when perf is installed).

usage: bench/tlssessions.py [RUNS] [COUNT] [CONC]   (defaults 3, 300, 10; prints medians and
       the commands; a figure, never a pass/fail)
"""
import base64
import multiprocessing as mp
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from harness import MailRoot  # noqa: E402

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
COUNT = int(sys.argv[2]) if len(sys.argv) > 2 else 300
CONC = int(sys.argv[3]) if len(sys.argv) > 3 else 10
PASSWORD = "bench-Tls-pw-1"
BODY = b"Subject: tls bench\r\n\r\n" + (b"x" * 70 + b"\r\n") * 14


def reply(f):
    while True:
        ln = f.readline()
        if not ln:
            raise EOFError("closed")
        if ln[3:4] != b"-":
            return int(ln[:3])


def expect(want, got, what):
    if want != got:
        raise RuntimeError("%s: %s" % (what, got))


def session(mode, port, user, ctx):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        if mode == "587":
            f = s.makefile("rb")
            expect(220, reply(f), "banner")
            s.sendall(b"EHLO bench.test\r\n")
            expect(250, reply(f), "ehlo")
            s.sendall(b"STARTTLS\r\n")
            expect(220, reply(f), "starttls")
        s = ctx.wrap_socket(s, server_hostname="localhost")
        f = s.makefile("rb")
        if mode == "995":
            for cmd in (None, b"USER " + user, b"PASS " + PASSWORD.encode(), b"STAT", b"QUIT"):
                if cmd:
                    s.sendall(cmd + b"\r\n")
                if not f.readline().startswith(b"+OK"):
                    raise RuntimeError("pop3 %s" % cmd)
            return
        if mode == "465":
            expect(220, reply(f), "banner")
        tok = base64.b64encode(b"\0" + user + b"\0" + PASSWORD.encode())
        for cmd, code in ((b"EHLO bench.test", 250), (b"AUTH PLAIN " + tok, 235),
                          (b"MAIL FROM:<" + user + b">", 250), (b"RCPT TO:<" + user + b">", 250),
                          (b"DATA", 354), (BODY + b".", 250), (b"QUIT", 221)):
            s.sendall(cmd + b"\r\n")
            expect(code, reply(f), cmd[:10])
    finally:
        s.close()


def worker(mode, port, user, ca, n, q):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    ok = 0
    for _ in range(n):
        try:
            session(mode, port, user, ctx)
            ok += 1
        except (OSError, RuntimeError, EOFError):
            pass
    q.put(ok)


def rate(mode, port, users, ca):
    q = mp.Queue()
    per = [COUNT // CONC + (1 if i < COUNT % CONC else 0) for i in range(CONC)]
    t0 = time.time()
    ps = [mp.Process(target=worker, args=(mode, port, users[i].encode(), ca, per[i], q))
          for i in range(CONC)]
    for p in ps:
        p.start()
    ok = sum(q.get() for _ in ps)
    for p in ps:
        p.join()
    return ok / (time.time() - t0), ok


def install_pair(m, kind):
    """A fresh self-signed pair of this kind, renamed into etc/tls (key first)."""
    t = os.path.join(m.root, "etc", "tls")
    newkey = ["-newkey", "rsa:2048"] if kind == "rsa2048" else \
        ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    subprocess.run(["openssl", "req", "-x509"] + newkey + [
        "-nodes", "-keyout", t + "/.bench.key", "-out", t + "/.bench.pem", "-days", "30",
        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True)
    os.chmod(t + "/.bench.key", 0o600)
    shutil.copy(t + "/.bench.pem", t + "/.bench-ca.pem")
    os.rename(t + "/.bench.key", t + "/server.key")
    os.rename(t + "/.bench.pem", t + "/server.pem")
    return t + "/.bench-ca.pem"


def main():
    m = MailRoot(prefix="yubin-bench-tls-")
    m.start()
    try:
        users = ["tlsbench%d@example.test" % i for i in range(CONC)]
        for u in users:
            m.add_user(u, PASSWORD, quota=0)
        ports = {"587": m.port("submission"), "465": m.port("submissions"),
                 "995": m.port("pop3s")}
        print("# whole TLS sessions/s, %d clients, %d sessions, medians of %d runs, "
              "load %s" % (CONC, COUNT, RUNS, open("/proc/loadavg").read().split()[0]))
        for kind in ("rsa2048", "ecdsa-p256"):
            ca = install_pair(m, kind)
            for mode in ("587", "465", "995"):
                rates = [rate(mode, ports[mode], users, ca)[0] for _ in range(RUNS)]
                print("%s %s sessions_per_s=%.0f (runs: %s)" % (
                    kind, mode, statistics.median(rates), " ".join("%.0f" % r for r in rates)))
            print("  command: python3 bench/tlssessions.py %d %d %d  (587 STARTTLS+AUTH+1 KB, "
                  "465 implicit TLS+AUTH+1 KB, 995 USER/PASS/STAT; ports %s)"
                  % (RUNS, COUNT, CONC, " ".join("%s=%d" % kv for kv in sorted(ports.items()))))
        if shutil.which("perf") and os.geteuid() == 0:
            cmd = [sys.executable, os.path.join(HERE, "profile.py"), "--tree",
                   str(m.svscan.pid), "--sessions", "200", "--", sys.executable, "-c",
                   "import sys; sys.argv=['x','%d','200','%d']; sys.path.insert(0,%r); "
                   "import tlssessions as t; t.COUNT=200; "
                   "print(t.rate('587', %d, %r, %r))" % (RUNS, CONC, HERE, ports["587"], users, ca)]
            print("# CPU per 587 session by program (ECDSA P-256; perf, this tree only)")
            print("  command: %s" % " ".join(cmd[:6]) + " -- (200 sessions of 587)")
            sys.stdout.flush()
            subprocess.run(cmd)
    finally:
        m.stop()


if __name__ == "__main__":
    main()
