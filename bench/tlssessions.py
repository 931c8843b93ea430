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
       bench/tlssessions.py RUNS COUNT CONC cache
           587 only (RSA-2048), authd's cache off (AUTH_CACHE_TTL=0) and on (the default),
           alternating run by run in the same minutes: sessions/s, the tree's CPU and authd's
           CPU per session, and the same-run ratios
       bench/tlssessions.py RUNS COUNT CONC resume
           995 and 587, ECDSA P-256 and RSA-2048: full handshakes against clients that offer
           their previous session (a mail program that comes back; docs/tls.md "Session
           resumption"), alternating run by run: sessions/s, the tree's CPU per session, the
           sessions resumed, and the same-run ratios
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
from harness import MailRoot, descendants  # noqa: E402

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


def session(mode, port, user, ctx, sess=None):
    """One whole session; (the TLS session, whether it was resumed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        if mode == "587":
            f = s.makefile("rb")
            expect(220, reply(f), "banner")
            s.sendall(b"EHLO bench.test\r\n")
            expect(250, reply(f), "ehlo")
            s.sendall(b"STARTTLS\r\n")
            expect(220, reply(f), "starttls")
        s = ctx.wrap_socket(s, server_hostname="localhost", session=sess)
        f = s.makefile("rb")
        if mode == "995":
            for cmd in (None, b"USER " + user, b"PASS " + PASSWORD.encode(), b"STAT", b"QUIT"):
                if cmd:
                    s.sendall(cmd + b"\r\n")
                if not f.readline().startswith(b"+OK"):
                    raise RuntimeError("pop3 %s" % cmd)
            return s.session, s.session_reused
        if mode == "465":
            expect(220, reply(f), "banner")
        tok = base64.b64encode(b"\0" + user + b"\0" + PASSWORD.encode())
        for cmd, code in ((b"EHLO bench.test", 250), (b"AUTH PLAIN " + tok, 235),
                          (b"MAIL FROM:<" + user + b">", 250), (b"RCPT TO:<" + user + b">", 250),
                          (b"DATA", 354), (BODY + b".", 250), (b"QUIT", 221)):
            s.sendall(cmd + b"\r\n")
            expect(code, reply(f), cmd[:10])
        return s.session, s.session_reused
    finally:
        s.close()


def worker(mode, port, user, ca, n, q, resume):
    """n sessions; with resume, each offers the session of the one before."""
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    ok = reused = 0
    sess = None
    for _ in range(n):
        try:
            got, again = session(mode, port, user, ctx, sess)
            ok += 1
            reused += again
            if resume:
                sess = got
        except (OSError, RuntimeError, EOFError):
            pass
    q.put((ok, reused))


def rate(mode, port, users, ca, count=None, resume=False):
    """(sessions/s, sessions that succeeded, sessions resumed)."""
    q = mp.Queue()
    count = count or COUNT
    per = [count // CONC + (1 if i < count % CONC else 0) for i in range(CONC)]
    t0 = time.time()
    ps = [mp.Process(target=worker, args=(mode, port, users[i].encode(), ca, per[i], q, resume))
          for i in range(CONC)]
    for p in ps:
        p.start()
    res = [q.get() for _ in ps]
    for p in ps:
        p.join()
    ok = sum(r[0] for r in res)
    return ok / (time.time() - t0), ok, sum(r[1] for r in res)


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


def cpu_ticks(pids):
    """pid -> (start time, utime+stime+cutime+cstime) in clock ticks, for the living ones."""
    out = {}
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (fields[19], sum(int(x) for x in fields[11:15]))
    return out


def cpu_ms(before, after):
    """CPU of the processes of `after` since `before` (a process started since counts whole;
    a per-session process's CPU reaches its long-lived parent's cutime when it is reaped)."""
    ticks = 0
    for pid, (start, t) in after.items():
        b = before.get(pid)
        ticks += t - (b[1] if b and b[0] == start else 0)
    return ticks * 1000.0 / os.sysconf("SC_CLK_TCK")


def set_cache(m, ttl):
    """AUTH_CACHE_TTL in etc/env as an operator sets it (None: the default), authd restarted."""
    path = os.path.join(m.root, "etc", "env", "AUTH_CACHE_TTL")
    if ttl is None:
        if os.path.exists(path):
            os.unlink(path)
    else:
        m.set_env("AUTH_CACHE_TTL", ttl)
    m.restart("authd")


def cache_main(m):
    """587 sessions with authd's cache off and on, alternating; medians and same-run ratios.
    Each round has its own CONC accounts (one per client), so no account reaches its plan's
    sending limit (200 messages an hour)."""
    ca = install_pair(m, "rsa2048")
    port = m.port("submission")
    print("# 587 STARTTLS+AUTH PLAIN+1 KB, RSA-2048, %d clients (one account each), %d sessions "
          "a run, %d runs each, cache off/on alternating, load %s" % (
              CONC, COUNT, RUNS, open("/proc/loadavg").read().split()[0]))
    rows = {"off": [], "on": []}
    for rnd in range(RUNS):
        users = ["tlscache%d-%d@example.test" % (rnd, i) for i in range(CONC)]
        for u in users:
            m.add_user(u, PASSWORD, quota=0)
        for name, ttl in (("off", 0), ("on", None)):
            set_cache(m, ttl)
            rate("587", port, users, ca, 2 * CONC)     # warm-up; with the cache on: fills it
            tree = [m.svscan.pid] + descendants(m.svscan.pid)
            authd = m.pids("authd")
            t0, a0 = cpu_ticks(tree), cpu_ticks(authd)
            r, ok, _ = rate("587", port, users, ca)
            tree = [m.svscan.pid] + descendants(m.svscan.pid)
            t1, a1 = cpu_ticks(tree), cpu_ticks(m.pids("authd"))
            if ok == 0:
                raise SystemExit("bench: no 587 session succeeded (see %s/log)" % m.root)
            rows[name].append((r, cpu_ms(t0, t1) / ok, cpu_ms(a0, a1) / ok))
            print("  cache %-3s sessions_per_s=%.0f server_cpu_ms=%.2f authd_cpu_ms=%.2f ok=%d/%d "
                  "load=%s" % ((name,) + rows[name][-1]
                               + (ok, COUNT, open("/proc/loadavg").read().split()[0])))
            sys.stdout.flush()
    for i, what in enumerate(("sessions_per_s", "server_cpu_ms_per_session",
                              "authd_cpu_ms_per_session")):
        off = [x[i] for x in rows["off"]]
        on = [x[i] for x in rows["on"]]
        ratios = [b / a if a else float("nan") for a, b in zip(off, on)]
        print("%s off=%.2f on=%.2f on/off=%.2f (same-run ratios: %s)" % (
            what, statistics.median(off), statistics.median(on), statistics.median(ratios),
            " ".join("%.2f" % x for x in ratios)))
    print("  command: python3 bench/tlssessions.py %d %d %d cache" % (RUNS, COUNT, CONC))
    set_cache(m, None)


def resume_main(m, users):
    """Full handshakes against resumed sessions, alternating; medians and same-run ratios."""
    ports = {"587": m.port("submission"), "995": m.port("pop3s")}
    for u in users:     # one run sends COUNT/CONC messages per account: over the plan's 200/h
        m.mailacct("sending-limits", u, "0", "0")
    print("# 995 USER/PASS/STAT and 587 STARTTLS+AUTH+1 KB, %d clients, %d sessions a run, %d "
          "runs each, full handshakes / resumed (each client offers its previous session), "
          "alternating, load %s" % (CONC, COUNT, RUNS, open("/proc/loadavg").read().split()[0]))
    for kind in ("ecdsa-p256", "rsa2048"):
        ca = install_pair(m, kind)
        for mode in ("995", "587"):
            rows = {False: [], True: []}
            for _ in range(RUNS):
                for resume in (False, True):
                    rate(mode, ports[mode], users, ca, 2 * CONC, resume)   # warm-up
                    tree = [m.svscan.pid] + descendants(m.svscan.pid)
                    t0 = cpu_ticks(tree)
                    r, ok, again = rate(mode, ports[mode], users, ca, resume=resume)
                    t1 = cpu_ticks([m.svscan.pid] + descendants(m.svscan.pid))
                    if ok == 0:
                        raise SystemExit("bench: no %s session succeeded (see %s/log)"
                                         % (mode, m.root))
                    rows[resume].append((r, cpu_ms(t0, t1) / ok, again, ok))
            full = [x[0] for x in rows[False]]
            res = [x[0] for x in rows[True]]
            print("%s %s sessions_per_s full=%.0f resumed=%.0f resumed/full=%.2f (same-run: %s); "
                  "server_cpu_ms full=%.2f resumed=%.2f; resumed/succeeded %s of %d a run" % (
                      kind, mode, statistics.median(full), statistics.median(res),
                      statistics.median([b / a for a, b in zip(full, res)]),
                      " ".join("%.2f" % (b / a) for a, b in zip(full, res)),
                      statistics.median([x[1] for x in rows[False]]),
                      statistics.median([x[1] for x in rows[True]]),
                      " ".join("%d/%d" % (x[2], x[3]) for x in rows[True]), COUNT))
            sys.stdout.flush()
    print("  command: python3 bench/tlssessions.py %d %d %d resume" % (RUNS, COUNT, CONC))


def main():
    m = MailRoot(prefix="yubin-bench-tls-")
    m.start()
    try:
        users = ["tlsbench%d@example.test" % i for i in range(CONC)]
        for u in users:
            m.add_user(u, PASSWORD, quota=0)
        if len(sys.argv) > 4 and sys.argv[4] == "cache":
            cache_main(m)
            return
        if len(sys.argv) > 4 and sys.argv[4] == "resume":
            resume_main(m, users)
            return
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
