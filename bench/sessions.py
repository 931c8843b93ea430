#!/usr/bin/env python3
"""Memory of idle sessions: peak resident memory of the whole service tree with 500 SMTP + 500
POP3 idle sessions held open, and the cost of one idle session (RSS, PSS, private) for SMTP
(port 25), POP3 (110) and POP3S (995, if tlsd is built).

A private mail root is started with the real service tree (tests/integration/harness.py) on
loopback ports, with SMTP_MAXCONN=POP3_MAXCONN=600 and the default SMTP_MAXPERIP=10; clients
connect from 127.0.1.x / 127.0.2.x / 127.0.3.x (10 per address), read the greeting and stay
idle. Memory is read from /proc/PID/smaps_rollup of every process under s6-svscan.
usage: bench/sessions.py [RUNS] [SESSIONS]     (defaults 3 and 500; prints medians)
"""
import os
import platform
import resource
import socket
import ssl
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from harness import MailRoot, descendants, have, port_open, mem_sum  # noqa: E402

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
N = int(sys.argv[2]) if len(sys.argv) > 2 else 500
N_TLS = min(N, 200)


def tree(m):
    return set([m.svscan.pid] + descendants(m.svscan.pid))


def recv_line(s):
    buf = b""
    while b"\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            raise EOFError("closed before the greeting")
        buf += d
    return buf


def opener(port, net, expect, tls=None):
    def one(i):
        s = socket.create_connection(("127.0.0.1", port), timeout=60,
                                     source_address=("%s.%d" % (net, i // 10 + 1), 0))
        if tls:
            s = tls.wrap_socket(s, server_hostname="mail.example.test")
        g = recv_line(s)
        if not g.startswith(expect):
            raise RuntimeError("unexpected greeting %r" % g)
        return s
    return one


def open_many(port, n, net, expect, tls=None):
    with ThreadPoolExecutor(8) as ex:
        return list(ex.map(opener(port, net, expect, tls), range(n)))


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return "?"


def per_session(m, before, n):
    new = tree(m) - before
    mm = mem_sum(new)
    out = {k: mm[k] / n for k in ("rss", "pss", "private", "procs")}
    names = {}
    for p in new:
        names.setdefault(comm(p), []).append(p)
    out["by"] = {name: mem_sum(ps)["pss"] / len(ps) for name, ps in names.items()}
    return out


def one_run(k):
    m = MailRoot(prefix="yubin-bench-sessions-", env={
        "SMTP_MAXCONN": str(N + 100), "POP3_MAXCONN": str(N + 100), "SMTP_MAXPERIP": "10"})
    m.start()
    held = []
    try:
        time.sleep(1)
        base_pids = tree(m)
        base = mem_sum(base_pids)
        held += open_many(m.port("smtp"), N, "127.0.1", b"220 ")
        mid = tree(m)
        smtp = per_session(m, base_pids, N)
        held += open_many(m.port("pop3"), N, "127.0.2", b"+OK")
        pop3 = per_session(m, mid, N)
        peak = {"rss": 0, "pss": 0, "private": 0, "procs": 0}
        for _ in range(3):          # sample the whole tree while everything is held
            t = mem_sum(tree(m))
            peak = {x: max(peak[x], t[x]) for x in peak}
            time.sleep(0.3)
        pop3s = None
        if have("tlsd") and port_open(m.port("pop3s")):
            ctx = ssl.create_default_context(cafile=os.path.join(m.root, "etc", "tls", "ca.pem"))
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            before = tree(m)
            held += open_many(m.port("pop3s"), N_TLS, "127.0.3", b"+OK", ctx)
            pop3s = per_session(m, before, N_TLS)
        print("run %d: base %d procs PSS %d kB; peak %d procs RSS %d kB PSS %d kB private %d kB"
              % (k, base["procs"], base["pss"], peak["procs"], peak["rss"], peak["pss"],
                 peak["private"]), file=sys.stderr)
        return base, peak, smtp, pop3, pop3s
    finally:
        for s in held:
            try:
                s.close()
            except OSError:
                pass
        m.stop()


def med(rows, key):
    vals = [r[key] for r in rows if r]
    return statistics.median(vals) if vals else float("nan")


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 4 * N + 1024), hard), hard))
    runs = [one_run(k + 1) for k in range(RUNS)]
    bases, peaks, smtps, pop3s, tlss = zip(*runs)
    print("yubin idle sessions, %s, %s, %d cores, %d run(s), medians"
          % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), platform.machine(),
             os.cpu_count(), RUNS))
    print("command: python3 bench/sessions.py %d %d" % (RUNS, N))
    print("tree idle (no sessions): %d processes, PSS %.1f MB"
          % (med(bases, "procs"), med(bases, "pss") / 1024))
    print("peak with %d SMTP + %d POP3 idle sessions: %d processes, RSS %.0f MB (shared pages "
          "counted in every process), PSS %.0f MB, private %.0f MB"
          % (N, N, med(peaks, "procs"), med(peaks, "rss") / 1024, med(peaks, "pss") / 1024,
             med(peaks, "private") / 1024))
    print("per idle session            processes   RSS kB   PSS kB   private kB")
    for name, rows, n in (("SMTP  (25, smtpd alone)", smtps, N),
                          ("POP3  (110, tlsd -s + pop3-front)", pop3s, N),
                          ("POP3S (995, tlsd -i + pop3-front)", tlss, N_TLS)):
        if not any(rows):
            print("%-34s not measured (no tlsd / pop3s service)" % name)
            continue
        names = sorted(set(x for r in rows if r for x in r["by"]))
        by = ", ".join("%s %.0f" % (x, statistics.median(r["by"].get(x, 0) for r in rows if r))
                       for x in names)
        print("%-34s %4.1f %8.0f %8.0f %8.0f   (%d sessions; PSS kB per process: %s)"
              % (name, med(rows, "procs"), med(rows, "rss"), med(rows, "pss"),
                 med(rows, "private"), n, by))


if __name__ == "__main__":
    main()
