#!/usr/bin/env python3
"""Provider scale: what one server does at a hosting provider's sizes (docs/internals.md "Scale").

Each part builds its state the production way and prints its figures with the commands behind
them:
  maps   DOMAINS domains and 10 accounts each in generated etc/ files (an operator's migration),
         mkmaps; then mailacct add / passwd / quota / list on that root (time, peak RSS); then a
         domain of ADMIN_ADDRS addresses added the same way and its administrator's member page
         walked page by page through the real lighttpd, acctd and member program.
  pop3   POP3_MSGS messages delivered by SMTP (4 connections) into one mailbox, then one POP3
         session: login, STAT, LIST, UIDL, RETR of the last, DELE of all, QUIT, each timed, and
         pop3d's peak RSS (VmHWM); the quota summary before and after.
  queue  QUEUE_MSGS messages queued by SMTP submission (AUTH, 4 connections) for a domain routed
         to a closed port (a big receiver that is down): each tried once and deferred; then
         queue-run restarted (time to ready, RSS), mailq's listing time, and queue-run's CPU over
         60 s while nothing can be delivered.

  down   SCALE_DOWN_MSGS (200) messages for a receiver whose connects time out, then one for a
         live server: how long that one waits, how many attempts the down receiver got.

usage: bench/scale.py [maps] [pop3] [queue] [down]   (all four without arguments)
sizes: SCALE_DOMAINS (20000), SCALE_ADMIN_ADDRS (10000), SCALE_POP3_MSGS (100000),
       SCALE_QUEUE_MSGS (100000), SCALE_DOWN_MSGS (200); bench/scale.sh runs it.
"""
import concurrent.futures
import http.client
import os
import re
import resource
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ARGS, sys.argv = sys.argv[1:], sys.argv[:1]
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, HERE)
from harness import MailRoot, free_port  # noqa: E402
from test_web import http_login  # noqa: E402
import outbound as bo  # noqa: E402  (cpu_s())

DOMAINS = int(os.environ.get("SCALE_DOMAINS", "20000"))
ADMIN_ADDRS = int(os.environ.get("SCALE_ADMIN_ADDRS", "10000"))
POP3_MSGS = int(os.environ.get("SCALE_POP3_MSGS", "100000"))
QUEUE_MSGS = int(os.environ.get("SCALE_QUEUE_MSGS", "100000"))
PER = 10
HASH = ("$6$benchsalt$Jq4rmGvNk1E8ZHYoD7p1cY0b7bX5o3bq0Cj9mJ1mS0rU7rS6h2Yx4z5Q8w9e0r1t2y3u4i5o6p7a8s9d0f"
        "1g2h")
PW = "Scale pw 1"


def timed(argv, env=None):
    """(seconds, peak RSS in kB of the command and its children, CompletedProcess)"""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.time()
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv, capture_output=True, text=True,
                       env=env)
    dt = time.time() - t0
    rss = int(p.stderr.strip().split("\n")[-1]) if p.stderr.strip() else before
    return dt, rss, p


def show(argv):
    print("  $ " + " ".join(argv))


def append_maps(m, domains, per, start=0):
    """Domains and accounts as an operator's migration writes them: etc/ text, then mkmaps."""
    with open(os.path.join(m.root, "etc", "domains"), "a") as f:
        for d in range(start, start + domains):
            f.write("dom%d.test:%s\n" % (d, "basic" if d % 2 else "premium"))
    with open(os.path.join(m.root, "etc", "users"), "a") as f:
        for d in range(start, start + domains):
            for u in range(per):
                f.write("user%d@dom%d.test:%s::\n" % (u, d, HASH))
    with open(os.path.join(m.root, "etc", "aliases"), "a") as f:
        for d in range(start, start + domains):
            f.write("info@dom%d.test: user0@dom%d.test, user1@dom%d.test\n" % (d, d, d))


def part_maps():
    m = MailRoot(prefix="yubin-bench-scale-maps-")
    m.start()
    try:
        append_maps(m, DOMAINS, PER)
        mk = [m.bin("mkmaps"), "--root", m.root, "--quiet"]
        dt, rss, p = timed(mk, m.env())
        assert p.returncode == 0, p.stderr
        print("maps: %d domains, %d accounts, %d aliases (generated etc/ files, as a migration)"
              % (DOMAINS + 2, DOMAINS * PER + 1, DOMAINS))
        print("mkmaps first build: %.2f s, peak RSS %d MB" % (dt, rss // 1024))
        dt, rss, p = timed(mk, m.env())
        print("mkmaps rebuild (nothing changed): %.2f s, peak RSS %d MB" % (dt, rss // 1024))
        show(mk)
        ma = [m.bin("mailacct"), "--root", m.root]
        for what, args in (("add", ["add", "new1@dom5.test", "--password", PW]),
                           ("passwd", ["passwd", "new1@dom5.test", PW + "2"]),
                           ("quota", ["quota", "new1@dom5.test", "10M"]),
                           ("list DOMAIN", ["list", "dom5.test"]),
                           ("show", ["show", "new1@dom5.test"])):
            dt, rss, p = timed(ma + args, m.env())
            assert p.returncode == 0, p.stderr
            print("mailacct %-12s %.2f s, peak RSS %d MB" % (what + ":", dt, rss // 1024))
            show(ma + args)
        # authd at this size: logins by POP3 (authd's lookup, one sha512-crypt each)
        m.mailacct("add", "login@dom7.test", "--password", PW)
        t0 = time.time()
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", m.port("pop3")), timeout=30)
            f = s.makefile("rwb")
            f.readline()
            f.write(b"USER login@dom7.test\r\nPASS %s\r\nQUIT\r\n" % PW.encode())
            f.flush()
            f.readline()
            ok = f.readline()
            s.close()
            assert ok.startswith(b"+OK"), ok
        print("POP3 login on this root (authd, checkpw, pop3d): %.1f ms each (20 in a row)"
              % ((time.time() - t0) * 50))
        admin_page(m)
    finally:
        m.stop()


def admin_page(m):
    """A domain of ADMIN_ADDRS addresses; its administrator's page, every page of the list."""
    dom = "big.test"
    with open(os.path.join(m.root, "etc", "domains"), "a") as f:
        f.write("%s:premium\n" % dom)
    with open(os.path.join(m.root, "etc", "users"), "a") as f:
        for u in range(ADMIN_ADDRS):
            f.write("u%05d@%s:%s::\n" % (u, dom, HASH))
    subprocess.run([m.bin("mkmaps"), "--root", m.root, "--quiet"], check=True, env=m.env())
    out = m.mailacct("domain", "admin", dom, "--reset", "--contact", "admin@example.test").stdout
    pw = re.search(r"(?m)^password: (\S+)$", out).group(1)
    st, cookie, _ = http_login(m, dom, pw)
    assert st == 303 and cookie, st
    ctx = ssl.create_default_context(cafile=os.path.join(m.root, "etc", "tls", "ca.pem"))
    c = http.client.HTTPSConnection("127.0.0.1", m.port("https"), context=ctx, timeout=120)
    seen, pages, t0, biggest, url = set(), 0, time.time(), 0, "/"
    while url:
        t1 = time.time()
        c.request("GET", url, headers={"Cookie": cookie})
        r = c.getresponse()
        page = r.read().decode()
        assert r.status == 200, (r.status, page[:500])
        biggest = max(biggest, time.time() - t1)
        pages += 1
        seen |= set(re.findall(r'<td class="addr">([^<\s]+)', page))
        nxt = re.search(r'<a rel="next" href="([^"]+)"', page)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
    print("administrator's page, a domain of %d addresses: %d page(s), %d addresses shown "
          "(%s), %.2f s in all, slowest page %.3f s"
          % (ADMIN_ADDRS, pages, len(seen), "complete" if len(seen) == ADMIN_ADDRS else
             "INCOMPLETE", time.time() - t0, biggest))
    print("  (https://127.0.0.1:%d/ logged in as %s, following rel=next)" % (m.port("https"), dom))


def smtp_fill(m, port, sender, rcpt, count, login=None, conns=4):
    msg = ("From: %s\r\nTo: %s\r\nSubject: scale\r\n\r\n" % (sender, rcpt)
           + ("x" * 78 + "\r\n") * 12)

    def worker(k):
        n = count // conns + (1 if k < count % conns else 0)
        s = smtplib.SMTP("127.0.0.1", port, timeout=120)
        if login:
            s.login(*login)
        for i in range(n):
            if i and i % 500 == 0:      # a session's own bounds (messages per session)
                s.quit()
                s = smtplib.SMTP("127.0.0.1", port, timeout=120)
                if login:
                    s.login(*login)
            s.sendmail(sender, [rcpt], msg)
        s.quit()
    with concurrent.futures.ThreadPoolExecutor(conns) as ex:
        list(ex.map(worker, range(conns)))


def hwm_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pop3d_pid(m):
    """The logged-in session's pop3d (its program under this root)."""
    prog = m.bin("pop3d").encode()
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    if f.read().split(b"\0")[0] == prog:
                        return int(d)
            except OSError:
                pass
    return None


def summary(m, user):
    """ROOT/quota/ADDR: the usage summary smtpd's RCPT check reads (lib/usage.h)."""
    try:
        with open(os.path.join(m.root, "quota", user)) as f:
            return f.read().strip()
    except OSError as e:
        return "none (%s)" % e.strerror


def part_pop3():
    m = MailRoot(prefix="yubin-bench-scale-pop3-")
    m.start()
    try:
        user = "big@example.test"
        m.mailacct("add", user, "--password", PW, "--quota", "1G", "--force")
        t0 = time.time()
        smtp_fill(m, m.port("smtp"), "s@remote.example", user, POP3_MSGS)
        md = m.maildir(user)
        m.wait_for(lambda: len(os.listdir(os.path.join(md, "new"))) >= POP3_MSGS, timeout=3600,
                   interval=1)
        print("pop3: %d messages of 1 KB delivered by SMTP into %s in %.0f s"
              % (POP3_MSGS, user, time.time() - t0))
        print("quota summary (ROOT/quota/ADDR) after delivery: %s" % summary(m, user))
        for run in ("first", "second"):
            s = socket.create_connection(("127.0.0.1", m.port("pop3")), timeout=600)
            f = s.makefile("rwb")
            f.readline()
            times = {}

            def cmd(line, multi=False):
                t = time.time()
                f.write(line + b"\r\n")
                f.flush()
                first = f.readline()
                n = 0
                if multi and first.startswith(b"+OK"):
                    while f.readline() != b".\r\n":
                        n += 1
                times[line.split()[0].decode()] = time.time() - t
                return first, n
            cmd(b"USER " + user.encode())
            ok, _ = cmd(b"PASS " + PW.encode())
            pid = pop3d_pid(m)
            stat, _ = cmd(b"STAT")
            _, nlist = cmd(b"LIST", True)
            _, nuidl = cmd(b"UIDL", True)
            count = int(stat.split()[1]) if stat.startswith(b"+OK") else 0
            _, nretr = cmd(b"RETR %d" % count, True) if count else (None, 0)
            rss = hwm_kb(pid) if pid else 0
            dele = 0.0
            if run == "second":
                t = time.time()
                for i in range(1, count + 1):
                    f.write(b"DELE %d\r\n" % i)
                    if i % 100 == 0 or i == count:
                        f.flush()
                        for _ in range(100 if i % 100 == 0 else i % 100):
                            f.readline()
                dele = time.time() - t
            quit_, _ = cmd(b"QUIT")
            s.close()
            print("POP3 %s session: login (PASS: the scan of the Maildir) %.3f s, %s; "
                  "STAT %.3f s (%s); LIST %.3f s (%d lines); UIDL "
                  "%.3f s (%d lines); RETR %.3f s; %sQUIT %.3f s; pop3d peak RSS %d MB"
                  % (run, times["PASS"], ok.decode().strip(), times["STAT"], stat.decode().strip(),
                     times["LIST"], nlist, times["UIDL"], nuidl, times.get("RETR", 0),
                     "DELE x%d %.2f s; " % (count, dele) if dele else "", times["QUIT"],
                     rss // 1024))
        print("quota summary after the deletions: %s" % summary(m, user))
    finally:
        m.stop()


def part_queue():
    m = MailRoot(prefix="yubin-bench-scale-queue-")
    m.start()
    try:
        dead = free_port()
        with open(os.path.join(m.root, "etc", "routes"), "a") as f:
            f.write("dead.bench.test:127.0.0.1:%d\n" % dead)
        subprocess.run([m.bin("mkmaps"), "--root", m.root, "--quiet"], check=True, env=m.env())
        sender = "bulk@example.test"
        m.mailacct("add", sender, "--password", PW)
        m.mailacct("sending-limits", sender, "0", "0")
        t0 = time.time()
        smtp_fill(m, m.port("submission"), sender, "r@dead.bench.test", QUEUE_MSGS,
                  login=(sender, PW))
        mess = os.path.join(m.root, "queue", "mess")
        print("queue: %d messages for a route to a closed port queued by SMTP AUTH in %.0f s"
              % (QUEUE_MSGS, time.time() - t0))
        time.sleep(10)
        logs = os.path.join(m.root, "log", "queue")
        text = ""
        for name in sorted(os.listdir(logs)):
            if name.startswith("@") or name == "current":
                with open(os.path.join(logs, name), errors="replace") as f:
                    text += f.read()
        print("attempts at the down destination meanwhile: %d"
              % text.count("to=<r@dead.bench.test> reason="))
        pids = m.pids("queue")
        c0 = bo.cpu_s(pids)
        time.sleep(60)
        print("queue-run CPU while nothing can be delivered: %.2f s over 60 s"
              % (bo.cpu_s(pids) - c0))
        t0 = time.time()
        m.restart("queue", timeout=600)
        pid = m.pids("queue")
        rss = max(hwm_kb(p) for p in pid) if pid else 0
        print("queue-run restart to ready (loads every message): %.2f s, peak RSS %d MB"
              % (time.time() - t0, rss // 1024))
        mq = [m.bin("mailq"), "--root", m.root]
        dt, rss, p = timed(mq, m.env())
        lines = p.stdout.count("\n")
        print("mailq list: %.2f s, peak RSS %d MB, %d lines (%d messages in mess/)"
              % (dt, rss // 1024, lines, len(os.listdir(mess))))
        show(mq)
    finally:
        m.stop()


def part_down():
    """DOWN_MSGS messages for a receiver that does not answer (a listener that never accepts:
    once its backlog is full every connect waits REMOTE_TIMEOUT_CONNECT, here 5 s), then one
    message for a live server: how long that one waits, and how many connection attempts the
    down receiver got."""
    n = int(os.environ.get("SCALE_DOWN_MSGS", "200"))
    m = MailRoot(prefix="yubin-bench-scale-down-", env={"REMOTE_TIMEOUT_CONNECT": "5"})
    m.start()
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)
    sink = subprocess.Popen(["smtp-sink", "-u", "nobody", "127.0.0.1:%d" % free_port(), "64"])
    try:
        sink_port = int(sink.args[3].split(":")[1])
        with open(os.path.join(m.root, "etc", "routes"), "a") as f:
            f.write("hole.bench.test:127.0.0.1:%d\nlive.bench.test:127.0.0.1:%d\n"
                    % (hole.getsockname()[1], sink_port))
        subprocess.run([m.bin("mkmaps"), "--root", m.root, "--quiet"], check=True, env=m.env())
        sender = "bulk@example.test"
        m.mailacct("add", sender, "--password", PW)
        m.mailacct("sending-limits", sender, "0", "0")
        smtp_fill(m, m.port("submission"), sender, "r@hole.bench.test", n, login=(sender, PW))
        t0 = time.time()
        smtp_fill(m, m.port("submission"), sender, "x@live.bench.test", 1, login=(sender, PW),
                  conns=1)
        mess = os.path.join(m.root, "queue", "mess")
        m.wait_for(lambda: len(os.listdir(mess)) <= n, timeout=1800, interval=0.2)
        waited = time.time() - t0
        tries = m.log("queue").count("to=<r@hole.bench.test>")
        print("down receiver (connect times out after 5 s), %d messages queued for it: a message "
              "for another server queued after them left in %.1f s; the down receiver got %d "
              "attempts meanwhile" % (n, waited, tries))
    finally:
        sink.terminate()
        sink.wait()
        hole.close()
        m.stop()


def main():
    parts = ARGS or ["maps", "pop3", "queue", "down"]
    for p in parts:
        {"maps": part_maps, "pop3": part_pop3, "queue": part_queue, "down": part_down}[p]()
    print("commands: sh bench/scale.sh %s (SCALE_DOMAINS=%d SCALE_ADMIN_ADDRS=%d "
          "SCALE_POP3_MSGS=%d SCALE_QUEUE_MSGS=%d)"
          % (" ".join(parts), DOMAINS, ADMIN_ADDRS, POP3_MSGS, QUEUE_MSGS))


if __name__ == "__main__":
    main()
