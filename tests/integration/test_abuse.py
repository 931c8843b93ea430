"""Load and abuse (hardening issue): many sessions held open, caps and per-IP limits, slow
clients, endless lines, recipient floods, password guessing, control characters in the
envelope. Real sockets from several loopback addresses (127.0.0.0/8 routes to lo), real
daemons under s6; figures go to stderr, assertions are about behaviour and generous bounds."""
import base64
import glob
import os
import resource
import socket
import ssl
import sys
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

from harness import MailRoot, SANITIZED, have, descendants, proc_name, mem_sum

MB = 1024 * 1024
GROWTH_MAX = 65536 if SANITIZED else 4096   # kB a session may grow by while draining (ASan's
                                            # allocator keeps freed memory in quarantine)


def raise_nofile(want=8192):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))


def note(fmt, *args):
    sys.stderr.write("\n  [abuse] " + (fmt % args if args else fmt))
    sys.stderr.flush()


class Conn:
    """A raw line client bound to a chosen loopback source address."""

    def __init__(self, port, src="127.0.0.1", timeout=20, greet=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(src, 0))
        self.buf = b""
        self.greeting = self.line() if greet else None

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self, timeout=None):
        if timeout is not None:
            self.sock.settimeout(timeout)
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; buffered %r" % self.buf[:200])
            self.buf += chunk
        out, self.buf = self.buf.split(b"\r\n", 1)
        return out.decode("utf-8", "replace")

    def reply(self, timeout=None):
        """SMTP reply: its last line (continuation lines skipped)."""
        while True:
            line = self.line(timeout)
            if len(line) < 4 or line[3] != "-":
                return line

    def cmd(self, text, timeout=None):
        self.send(text + "\r\n")
        return self.reply(timeout)

    def pcmd(self, text, timeout=None):
        self.send(text + "\r\n")
        return self.line(timeout)

    def closed(self, timeout=5):
        """True if the server closes the connection (EOF or reset) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, TimeoutError):
            return False
        except OSError:
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


# --- memory of processes (kB), from /proc/PID/smaps_rollup
def tree_pids(m):
    return [m.svscan.pid] + descendants(m.svscan.pid)


def named(pids, name):
    return [p for p in pids if proc_name(p) == name]


def wait_gone(m, name, keep=0, timeout=15):
    """Until at most `keep` processes called name remain in the tree."""
    return m.wait_for(lambda: len(named(tree_pids(m), name)) <= keep, timeout)


def have_pop3():
    return have("pop3-front") and have("pop3d") and have("checkpw") and have("mailacct")


def queue_files(m):
    return sorted(glob.glob(os.path.join(m.root, "queue", "mess", "*")))


def stored_with(m, marker, addrs):
    """Paths of stored copies holding marker (bytes), in the queue or the Maildirs of addrs."""
    out = []
    paths = queue_files(m)
    for a in addrs:
        paths += m.messages(a)
    for p in paths:
        try:
            with open(p, "rb") as f:
                if marker in f.read():
                    out.append(p)
        except OSError:
            pass
    return out


def queue_headers_clean(m):
    """Problems in the queue files' envelope headers (docs/internals.md "Queue")."""
    bad = []
    for p in queue_files(m):
        try:
            with open(p, "rb") as f:
                data = f.read()
        except OSError:
            continue
        head, sep, _ = data.partition(b"\n\n")
        if not sep:
            bad.append("%s: no blank line after the envelope" % p)
            continue
        for rec in head.split(b"\n"):
            if not rec[:1] in (b"Y", b"T", b"F", b"R") or b"\0" in rec or b"\r" in rec:
                bad.append("%s: bad record %r" % (p, rec[:80]))
    return bad


# =============================================================================================
@unittest.skipUnless(have("smtpd") and have_pop3(), "smtpd or the pop3 programs not built")
class ManySessionsTest(unittest.TestCase):
    """500 SMTP + 500 POP3 sessions held open on one tree: memory stays bounded. Under the
    sanitizers (YUBIN_SANITIZED) every process carries ASan's shadow memory: 100 + 100
    sessions, figures printed, no memory bound."""
    N = 100 if SANITIZED else 500

    @classmethod
    def setUpClass(cls):
        raise_nofile(4 * cls.N + 512)
        # idle sessions held on purpose: no stress mode (its short deadlines would end them)
        cls.m = MailRoot(prefix="yubin-load-", env={
            "SMTP_MAXCONN": str(cls.N + 20), "POP3_MAXCONN": str(cls.N + 20),
            "SMTP_MAXPERIP": "10", "POP3_MAXPERIP": "10", "SMTP_STRESS_PERCENT": "0"})
        cls.m.start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def open_many(self, port, n, net, expect):
        """n sessions, 10 per source address net.1, net.2, ...; all greetings read."""
        conns = []

        def one(i):
            c = Conn(port, "%s.%d" % (net, i // 10 + 1), timeout=60)
            conns.append(c)
            return c

        try:
            with ThreadPoolExecutor(8) as ex:
                conns = list(ex.map(one, range(n)))
        except BaseException:
            for c in conns:
                c.close()
            raise
        bad = [c.greeting for c in conns if not c.greeting.startswith(expect)]
        self.assertEqual(bad, [], "greetings")
        return conns

    def test_500_smtp_and_500_pop3_sessions(self):
        m, n = self.m, self.N
        base = mem_sum(tree_pids(m))
        base_pids = set(tree_pids(m))
        t0 = time.time()
        smtp = self.open_many(m.port("smtp"), n, "127.0.1", "220 ")
        self.addCleanup(lambda: [c.close() for c in smtp])
        t_smtp = time.time() - t0
        mid_pids = set(tree_pids(m))
        smtp_mem = mem_sum(mid_pids - base_pids)
        t0 = time.time()
        pop = self.open_many(m.port("pop3"), n, "127.0.2", "+OK")
        self.addCleanup(lambda: [c.close() for c in pop])
        t_pop = time.time() - t0
        all_pids = set(tree_pids(m))
        pop_mem = mem_sum(all_pids - mid_pids)
        total = mem_sum(all_pids)
        note("tree before: %d processes, RSS %d MB, PSS %d MB",
             base["procs"], base["rss"] // 1024, base["pss"] // 1024)
        note("with %d SMTP + %d POP3 idle sessions: %d processes, RSS %d MB, PSS %d MB, "
             "private %d MB (opened in %.1f s + %.1f s)", n, n, total["procs"],
             total["rss"] // 1024, total["pss"] // 1024, total["private"] // 1024, t_smtp, t_pop)
        for name, mm in (("SMTP", smtp_mem), ("POP3", pop_mem)):
            note("per %s session: %.1f processes, RSS %d kB, PSS %d kB, private %d kB", name,
                 mm["procs"] / n, mm["rss"] // n, mm["pss"] // n, mm["private"] // n)
        # the sessions are alive and answer
        for c in smtp[:5] + smtp[-5:]:
            self.assertTrue(c.cmd("NOOP", timeout=10).startswith("250"))
        for c in pop[:5] + pop[-5:]:
            self.assertTrue(c.pcmd("CAPA", timeout=10).startswith("+OK"))
        # generous bound: a session is a few small processes, not megabytes each
        if not SANITIZED:
            self.check_bounds(smtp_mem, pop_mem, total)
        # closing the clients ends their processes: nothing piles up
        for c in smtp + pop:
            c.close()
        self.assertTrue(wait_gone(m, "smtpd", 0, 20), "smtpd processes left")
        self.assertTrue(wait_gone(m, "pop3-front", 0, 20), "pop3-front processes left")
        after = mem_sum(tree_pids(m))
        note("after closing: %d processes, PSS %d MB", after["procs"], after["pss"] // 1024)
        self.assertLess(after["procs"], base["procs"] + 5)

    def check_bounds(self, smtp_mem, pop_mem, total):
        n = self.N
        self.assertLess(smtp_mem["pss"] / n, 2048, "PSS kB per SMTP session")
        self.assertLess(pop_mem["pss"] / n, 2048, "PSS kB per POP3 session")
        self.assertLess(total["pss"], 2 * 1024 * 1024, "tree PSS kB with 1000 sessions")


# =============================================================================================
@unittest.skipUnless(have("smtpd") and have_pop3(), "smtpd or the pop3 programs not built")
class CapsTest(unittest.TestCase):
    """Beyond the caps clients wait (backlog) or get 421 4.7.0 / -ERR [SYS/TEMP]; one IP
    cannot take every slot."""
    SMTP_MAX, PER_IP, POP3_MAX = 12, 4, 30

    @classmethod
    def setUpClass(cls):
        raise_nofile(2048)
        cls.m = MailRoot(prefix="yubin-caps-", env={
            "SMTP_MAXCONN": str(cls.SMTP_MAX), "SMTP_MAXPERIP": str(cls.PER_IP),
            "POP3_MAXCONN": str(cls.POP3_MAX), "POP3_MAXPERIP": str(cls.PER_IP)})
        cls.m.start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def hold(self, conns):
        self.addCleanup(lambda: [c.close() for c in conns])
        return conns

    def settle(self):
        for name in ("smtpd", "pop3-front"):
            self.assertTrue(wait_gone(self.m, name, 0, 15), "%s left over" % name)

    def test_per_ip_cap_leaves_room_for_others(self):
        self.settle()
        port = self.m.port("smtp")
        mine = self.hold([Conn(port, "127.0.0.1") for _ in range(self.PER_IP)])
        self.assertEqual([c.greeting[:4] for c in mine], ["220 "] * self.PER_IP)
        extra = self.hold([Conn(port, "127.0.0.1")])[0]
        self.assertEqual(extra.greeting[:9], "421 4.7.0", extra.greeting)
        self.assertTrue(extra.closed(), "the refused client is disconnected")
        other = self.hold([Conn(port, "127.0.0.2")])[0]
        self.assertEqual(other.greeting[:4], "220 ", "another address still gets in")
        self.assertTrue(other.cmd("EHLO other.example").startswith("250"))

    def test_smtp_beyond_connection_cap_waits(self):
        self.settle()
        port = self.m.port("smtp")
        held = self.hold([Conn(port, "127.0.3.%d" % (i // self.PER_IP + 1))
                          for i in range(self.SMTP_MAX)])
        self.assertEqual({c.greeting[:4] for c in held}, {"220 "})
        late = self.hold([Conn(port, "127.0.4.1", greet=False)])[0]
        late.sock.settimeout(1.5)
        with self.assertRaises((socket.timeout, TimeoutError), msg="served beyond the cap"):
            late.line()
        held[0].cmd("QUIT")
        held[0].close()
        self.assertEqual(late.line(timeout=10)[:4], "220 ", "the waiting client is served")

    def test_pop3_beyond_connection_cap_waits_or_temp(self):
        self.settle()
        port = self.m.port("pop3")
        held = self.hold([Conn(port, "127.0.5.%d" % (i // self.PER_IP + 1))
                          for i in range(self.POP3_MAX)])
        self.assertEqual({c.greeting[:3] for c in held}, {"+OK"})
        late = self.hold([Conn(port, "127.0.6.1", greet=False)])[0]
        late.sock.settimeout(1.5)
        try:
            first = late.line()
        except (socket.timeout, TimeoutError):
            first = None     # waits in the backlog
        if first is not None:
            self.assertTrue(first.startswith("-ERR [SYS/TEMP]"), first)
            return
        held[0].pcmd("QUIT")
        held[0].close()
        self.assertTrue(late.line(timeout=10).startswith("+OK"), "the waiting client is served")


    def test_pop3_one_ip_cannot_take_every_slot(self):
        """127.0.0.1 opens POP3_MAXCONN connections at once: POP3_MAXPERIP of them are
        served, the others get -ERR [SYS/TEMP] and are closed, and 127.0.0.2 still gets in."""
        self.settle()
        port = self.m.port("pop3")
        mine = self.hold([Conn(port, "127.0.0.1", greet=False) for _ in range(self.POP3_MAX)])
        greets = []
        for c in mine:
            try:
                greets.append(c.line(timeout=5))
            except (socket.timeout, TimeoutError):
                greets.append("(no greeting after 5 s)")
            except (EOFError, OSError) as e:
                greets.append("(closed: %s)" % e)
        other = self.hold([Conn(port, "127.0.0.2", greet=False)])[0]
        try:
            g = other.line(timeout=5)
        except (socket.timeout, TimeoutError):
            g = "(no greeting after 5 s: every slot is held by 127.0.0.1)"
        ok = sum(x.startswith("+OK") for x in greets)
        temp = [c for c, x in zip(mine, greets) if x.startswith("-ERR [SYS/TEMP]")]
        note("POP3: %d of %d connections from 127.0.0.1 served, %d refused; 127.0.0.2 got %r",
             ok, self.POP3_MAX, len(temp), g)
        self.assertTrue(g.startswith("+OK"), g)
        self.assertEqual(ok, self.PER_IP, greets)
        self.assertEqual(len(temp), self.POP3_MAX - self.PER_IP, greets)
        self.assertTrue(all(c.closed() for c in temp[:3]), "refused clients are disconnected")


# =============================================================================================
@unittest.skipUnless(have("smtpd") and have_pop3(), "smtpd or the pop3 programs not built")
class SlowClientTest(unittest.TestCase):
    """SMTP_TIMEOUT=2, POP3_TIMEOUT=2: idle sessions are closed; POP3 without UPDATE.
    POP3_LOGIN_TIMEOUT=5: a POP3 connection that keeps talking but never logs in is closed."""

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(prefix="yubin-slow-", env={"SMTP_TIMEOUT": "2", "POP3_TIMEOUT": "2",
                                                     "POP3_LOGIN_TIMEOUT": "5"})
        cls.m.start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def test_idle_smtp_gets_421_4_4_2(self):
        for service in ("smtp", "submission"):
            c = Conn(self.m.port(service))
            self.addCleanup(c.close)
            self.assertTrue(c.cmd("EHLO slow.example").startswith("250"))
            c.send("MAIL FROM:<slow@remote")       # half a command, then nothing
            r = c.reply(timeout=15)
            self.assertEqual(r[:9], "421 4.4.2", r)
            self.assertTrue(c.closed(), "closed after the timeout")

    def test_idle_smtp_in_data_gets_421_4_4_2(self):
        user = "slowdata@example.test"
        self.m.add_user(user, "Slow-pw-1")
        c = Conn(self.m.port("smtp"))
        self.addCleanup(c.close)
        c.cmd("EHLO slow.example")
        c.cmd("MAIL FROM:<slow@remote.example>")
        self.assertTrue(c.cmd("RCPT TO:<%s>" % user).startswith("250"))
        self.assertTrue(c.cmd("DATA").startswith("354"))
        c.send("Subject: slow\r\n\r\nhalf a li")
        r = c.reply(timeout=15)
        self.assertEqual(r[:9], "421 4.4.2", r)
        self.assertTrue(c.closed())
        self.assertEqual(stored_with(self.m, b"Subject: slow", [user]), [])

    def test_idle_pop3_closed_silently_without_update(self):
        addr, pw = "slowpop@example.test", "Slow-pop-1"
        self.m.add_user(addr, pw)
        self.m.send_mail(addr, [b"Subject: keep me\n\nbody\n"])     # smtpd, queue, deliver
        r = Conn(self.m.port("pop3"))
        self.addCleanup(r.close)
        self.assertTrue(r.closed(timeout=15), "idle before login: closed")
        self.assertEqual(r.buf, b"", "closed silently")
        r = Conn(self.m.port("pop3"))
        self.addCleanup(r.close)
        self.assertTrue(r.pcmd("USER " + addr).startswith("+OK"))
        self.assertTrue(r.pcmd("PASS " + pw).startswith("+OK"))
        self.assertTrue(r.pcmd("DELE 1").startswith("+OK"))
        self.assertTrue(r.closed(timeout=15), "idle after DELE: closed")
        self.assertEqual(r.buf, b"", "closed silently")
        self.assertEqual(len(self.m.messages(addr)), 1, "no UPDATE on timeout")
        r = self.m.wait_for(lambda: self._login(addr, pw), 10)
        self.addCleanup(r.close)
        self.assertTrue(r.pcmd("STAT").startswith("+OK 1 "), "the message is still there")
        self.assertTrue(r.pcmd("QUIT").startswith("+OK"))

    def test_pop3_login_has_a_deadline_that_talk_does_not_extend(self):
        """Before the login every command resets the silence timer; the login deadline is
        counted from the greeting, so ten addresses cannot hold a port's sessions for good.
        A logged-in session is not bound by it."""
        addr, pw = "slowlogin@example.test", "Slow-login-1"
        self.m.add_user(addr, pw)
        for port in (self.m.port("pop3"), self.m.port("pop3s")):
            ctx = None
            if port == self.m.port("pop3s"):
                ctx = ssl.create_default_context(
                    cafile=os.path.join(self.m.root, "etc", "tls", "ca.pem"))
            raw = socket.create_connection(("127.0.0.1", port), timeout=20)
            c = ctx.wrap_socket(raw, server_hostname="localhost") if ctx else raw
            self.addCleanup(c.close)
            f = c.makefile("rb")
            self.assertTrue(f.readline().startswith(b"+OK"))
            t0 = time.monotonic()
            got = b""
            while time.monotonic() - t0 < 15:
                try:
                    c.sendall(b"NOOP\r\n")          # answered -ERR: not logged in
                except OSError:
                    break
                line = f.readline()
                if not line:
                    break
                got = line
                time.sleep(1)
            took = time.monotonic() - t0
            note("port %d: talking without a login: %r after %.1f s", port, got, took)
            self.assertEqual(got, b"-ERR [SYS/TEMP] no login within the time allowed; connect "
                                  b"again and log in\r\n")
            self.assertGreater(took, 4, "not before the deadline")
            self.assertLess(took, 5 + 6)
        # pop3-front's line reaches the log through s6-log, a moment after the client's read
        self.assertTrue(self.m.wait_for(lambda: "login timeout ip=127.0.0.1 seconds=5"
                                        in self.m.log("pop3"), 10), self.m.log("pop3")[-2000:])
        r = Conn(self.m.port("pop3"))
        self.addCleanup(r.close)
        self.assertTrue(r.pcmd("USER " + addr).startswith("+OK"))
        self.assertTrue(r.pcmd("PASS " + pw).startswith("+OK"))
        for _ in range(7):
            time.sleep(1)
            self.assertTrue(r.pcmd("NOOP").startswith("+OK"), "logged in: no login deadline")
        self.assertTrue(r.pcmd("QUIT").startswith("+OK"))

    def test_client_that_does_not_read_is_closed(self):
        """Pipelined commands whose replies are never read: the server's writes time out
        (SMTP_TIMEOUT / POP3_TIMEOUT) and the whole session, tlsd included, ends."""
        for service, cmd in (("smtp", b"NOOP\r\n"), ("pop3", b"CAPA\r\n")):
            before = set(self.m.pids(service))
            s = socket.socket()
            self.addCleanup(s.close)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.bind(("127.0.0.1", 0))
            s.settimeout(10)
            s.connect(("127.0.0.1", self.m.port(service)))
            self.assertTrue(s.recv(100)[:1] in (b"2", b"+"))
            s.setblocking(False)
            t0, closed, sent = time.time(), False, 0
            while time.time() - t0 < 20 and not closed:
                try:
                    sent += s.send(cmd * 1000)
                except BlockingIOError:
                    time.sleep(0.05)
                except OSError:
                    closed = True
            note("%s: client not reading, %d kB of commands sent, %s after %.1f s", service,
                 sent // 1024, "closed" if closed else "NOT closed", time.time() - t0)
            self.assertTrue(closed, "%s session not closed" % service)
            self.assertTrue(self.m.wait_for(
                lambda: not [p for p in self.m.pids(service) if p not in before
                             and proc_name(p) in ("smtpd", "pop3-front", "tlsd")], 10),
                "%s session processes still there" % service)

    def _login(self, addr, pw):
        r = Conn(self.m.port("pop3"))
        r.pcmd("USER " + addr)
        resp = r.pcmd("PASS " + pw)
        if resp.startswith("+OK"):
            return r
        r.close()       # e.g. [IN-USE] while the timed-out pop3d is still exiting
        return None


# =============================================================================================
class Trickler:
    """Sends one byte to each of conns every period seconds (the bytes of `data` in turn), in
    a thread, until stop(): sessions that are never idle yet never finish anything."""

    def __init__(self, conns, period, data=b"NOOP\r\n"):
        self.conns, self.period, self.data = conns, period, data
        self.failed = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        i = 0
        while not self.done.wait(self.period):
            for c in self.conns:
                try:
                    c.send(self.data[i % len(self.data):i % len(self.data) + 1])
                except OSError:
                    self.failed += 1
            i += 1

    def stop(self):
        self.done.set()
        self.thread.join()


def greeted_within(port, src, seconds):
    """(greeting or why none, seconds taken) for a new client from src."""
    t0 = time.time()
    try:
        c = Conn(port, src, timeout=seconds)
    except (socket.timeout, TimeoutError):
        return "(no greeting within %.1f s)" % seconds, time.time() - t0
    took = time.time() - t0
    try:
        c.cmd("QUIT", timeout=5)
    except (OSError, EOFError):
        pass
    c.close()
    return c.greeting, took


def trickle_until_answer(c, data, period=1.0, budget=15.0):
    """Send data one byte every period seconds until the server answers or closes.
    Returns (the answer line or None, seconds since the first byte)."""
    t0, i = time.time(), 0
    while time.time() - t0 < budget:
        try:
            c.send(data[i % len(data):i % len(data) + 1])
        except OSError:
            return "(closed)", time.time() - t0
        i += 1
        try:
            return c.line(timeout=period), time.time() - t0
        except (socket.timeout, TimeoutError):
            continue
        except (EOFError, OSError):
            return "(closed)", time.time() - t0
    return None, time.time() - t0


@unittest.skipUnless(have("smtpd"), "smtpd not built")
class TrickleDefaultsTest(unittest.TestCase):
    """A tree with the default settings (as yubin-setup writes them): 100 sessions from 10
    addresses (SMTP_MAXPERIP each), every one sending a byte every 2 s, do not shut port 25:
    a new client still gets its greeting within a second (docs/smtp.md "Slow clients")."""
    N, ADDRS, PERIOD = 100, 10, 2.0

    @classmethod
    def setUpClass(cls):
        raise_nofile(2048)
        cls.m = MailRoot(prefix="yubin-trickle-")
        cls.m.start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def test_100_trickling_sessions_leave_room(self):
        port = self.m.port("smtp")
        conns = []
        self.addCleanup(lambda: [c.close() for c in conns])
        for i in range(self.N):
            conns.append(Conn(port, "127.0.0.%d" % (i % self.ADDRS + 2), timeout=20))
        self.assertEqual({c.greeting[:4] for c in conns}, {"220 "})
        trickle = Trickler(conns, self.PERIOD)
        self.addCleanup(trickle.stop)
        for _ in range(3):
            time.sleep(self.PERIOD * 1.5)
            greeting, took = greeted_within(port, "127.0.0.1", 1.0)
            note("%d trickling sessions: a new client greeted in %.2f s: %s", self.N, took,
                 greeting[:40])
            self.assertTrue(greeting.startswith("220 "), greeting)
            self.assertLess(took, 1.0)
        trickle.stop()
        self.assertEqual(trickle.failed, 0, "the trickling sessions stay open (300 s a command)")


@unittest.skipUnless(have("smtpd") and have("mailacct"), "smtpd or mailacct not built")
class TrickleDeadlineTest(unittest.TestCase):
    """SMTP_TIMEOUT=3, SMTP_MIN_DATA_RATE=100: a command must be whole within 3 s and a
    message must keep up 100 octets/s, however often single bytes arrive; a client sending
    faster than that is not cut off however long its message takes."""
    TIMEOUT, RATE = 3, 100

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(prefix="yubin-deadline-", env={
            "SMTP_TIMEOUT": str(cls.TIMEOUT), "SMTP_MIN_DATA_RATE": str(cls.RATE)})
        cls.m.start()
        cls.user = "trickle@example.test"
        cls.m.add_user(cls.user, "Trickle-pw-1")

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def timeout_logged(self, src, phase):
        return self.m.wait_for(lambda: [l for l in self.m.log("smtp").split("\n")
                                        if "timeout ip=%s session=" % src in l
                                        and "phase=%s" % phase in l], 5)

    def test_trickled_command_is_cut_off(self):
        c = Conn(self.m.port("smtp"), "127.0.0.5")
        self.addCleanup(c.close)
        self.assertTrue(c.cmd("EHLO trickle.example").startswith("250"))
        r, took = trickle_until_answer(c, b"MAIL FROM:<trickle@remote.example>\r\n")
        note("command sent one byte a second: %r after %.1f s", r, took)
        self.assertIsNotNone(r, "still open after %.0f s of trickling" % took)
        self.assertTrue(r.startswith("421 4.4.2 mail.example.test timeout: a command must "
                                     "arrive within 3 seconds"), r)
        self.assertGreater(took, self.TIMEOUT - 1)
        self.assertLess(took, self.TIMEOUT + 3)
        self.assertTrue(c.closed(), "closed after the 421")
        self.assertTrue(self.timeout_logged("127.0.0.5", "command"), self.m.log("smtp")[-2000:])

    def open_data(self, src):
        c = Conn(self.m.port("smtp"), src)
        self.addCleanup(c.close)
        self.assertTrue(c.cmd("EHLO trickle.example").startswith("250"))
        self.assertTrue(c.cmd("MAIL FROM:<trickle@remote.example>").startswith("250"))
        self.assertTrue(c.cmd("RCPT TO:<%s>" % self.user).startswith("250"))
        self.assertTrue(c.cmd("DATA").startswith("354"))
        return c

    def test_trickled_message_is_cut_off(self):
        c = self.open_data("127.0.0.6")
        mark = b"trickle-%d" % time.time_ns()
        r, took = trickle_until_answer(c, b"Subject: " + mark + b"\r\n\r\n" + b"x" * 200)
        note("message sent one byte a second: %r after %.1f s", r, took)
        self.assertIsNotNone(r, "still open after %.0f s of trickling" % took)
        self.assertTrue(r.startswith("421 4.4.2 mail.example.test timeout: the message must "
                                     "arrive at 100 bytes per second or more"), r)
        self.assertLess(took, self.TIMEOUT + 3)
        self.assertTrue(c.closed(), "closed after the 421")
        self.assertTrue(self.timeout_logged("127.0.0.6", "data"), self.m.log("smtp")[-2000:])
        time.sleep(0.5)
        self.assertEqual(stored_with(self.m, mark, [self.user]), [], "nothing stored")

    def test_slow_but_steady_message_is_accepted(self):
        """300 octets a second for 7 s: longer than SMTP_TIMEOUT, but above the rate."""
        c = self.open_data("127.0.0.7")
        mark = b"steady-%d" % time.time_ns()
        c.send(b"Subject: " + mark + b"\r\n\r\n")
        t0 = time.time()
        for i in range(7):
            time.sleep(1)
            c.send((b"%03d " % i + b"y" * 94 + b"\r\n") * 3)
        c.send(b".\r\n")
        r = c.reply(timeout=30)
        note("300 octets a second for %.1f s: %s", time.time() - t0, r)
        self.assertTrue(r.startswith("250 2.0.0"), r)
        self.assertTrue(self.m.wait_for(lambda: stored_with(self.m, mark, [self.user]), 20))


@unittest.skipUnless(have("smtpd"), "smtpd not built")
class StressTest(unittest.TestCase):
    """SMTP_MAXCONN=20, SMTP_STRESS_PERCENT=50, SMTP_TIMEOUT=30, SMTP_STRESS_TIMEOUT=2: while
    port 25 holds 10 sessions, every session, one opened before included, gets 2 s for a
    command; once they are gone, 30 s again."""

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(prefix="yubin-stress-", env={
            "SMTP_MAXCONN": "20", "SMTP_STRESS_PERCENT": "50", "SMTP_TIMEOUT": "30",
            "SMTP_STRESS_TIMEOUT": "2"})
        cls.m.start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def test_nearly_full_port_shortens_deadlines(self):
        port = self.m.port("smtp")
        early = Conn(port, "127.0.0.20")
        self.addCleanup(early.close)
        self.assertTrue(early.greeting.startswith("220 "))
        crowd = [Conn(port, "127.0.0.21") for _ in range(10)]
        self.addCleanup(lambda: [c.close() for c in crowd])
        self.assertEqual({c.greeting[:4] for c in crowd}, {"220 "})
        self.assertTrue(early.cmd("EHLO early.example").startswith("250"))
        r, took = trickle_until_answer(early, b"MAIL FROM:<early@remote.example>\r\n")
        note("11 sessions of at most 20: the early session's trickled command: %r after %.1f s",
             r, took)
        self.assertIsNotNone(r, "still open after %.0f s" % took)
        self.assertTrue(r.startswith("421 4.4.2 mail.example.test timeout: a command must "
                                     "arrive within 2 seconds while the server is busy"), r)
        self.assertLess(took, 2 + 3)
        self.assertTrue(self.m.wait_for(
            lambda: "timeout ip=127.0.0.20 session=" in self.m.log("smtp")
            and "seconds=2 stress=yes" in self.m.log("smtp"), 5), self.m.log("smtp")[-2000:])
        for c in crowd:
            c.close()
        self.assertTrue(wait_gone(self.m, "smtpd", 0, 15), "the crowd's sessions ended")
        calm = Conn(port, "127.0.0.22")
        self.addCleanup(calm.close)
        self.assertTrue(calm.cmd("EHLO calm.example").startswith("250"))
        r, took = trickle_until_answer(calm, b"MAIL FROM:<calm@remote.example>\r\n",
                                       budget=5)
        note("port quiet again: trickled command after %.1f s: %r", took, r)
        self.assertIsNone(r, "cut off although the port is quiet")


# =============================================================================================
def session_pids(m, service, before, names):
    return [p for p in m.pids(service) if p not in before and proc_name(p) in names]


@unittest.skipUnless(have("smtpd") and have_pop3(), "smtpd or the pop3 programs not built")
class EndlessLineTest(unittest.TestCase):
    """100 MB without a newline: refused, drained or closed, no memory growth."""

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot.shared()

    def stream(self, c, pids, total, chunk=MB, service="smtp"):
        """Send total octets without a newline; returns (sent, peak RSS kB of pids, closed).
        Halfway, another client of the same service must be served normally."""
        data = b"x" * chunk
        sent, peak, other = 0, 0, False
        c.sock.settimeout(20)
        while sent < total:
            try:
                c.sock.sendall(data)
            except OSError:
                self.other_client_served(service)
                return sent, peak, True
            sent += chunk
            peak = max(peak, mem_sum(pids)["rss"])
            if not other and sent >= total // 2:
                other = True
                self.other_client_served(service)
        return sent, peak, False

    def other_client_served(self, service):
        o = Conn(self.m.port(service), "127.0.0.2", timeout=20)
        try:
            if service == "smtp":
                self.assertTrue(o.greeting.startswith("220"), o.greeting)
                self.assertTrue(o.cmd("EHLO other.example").startswith("250"))
                self.assertTrue(o.cmd("QUIT").startswith("221"))
            else:
                self.assertTrue(o.greeting.startswith("+OK"), o.greeting)
                self.assertTrue(o.pcmd("CAPA").startswith("+OK"))
        finally:
            o.close()

    def test_smtp_100mb_command_line(self):
        m = self.m
        before = set(m.pids("smtp"))
        c = Conn(m.port("smtp"))
        self.addCleanup(c.close)
        self.assertTrue(c.cmd("EHLO long.example").startswith("250"))
        pids = session_pids(m, "smtp", before, ("smtpd", "tlsd"))
        self.assertTrue(pids, "session processes")
        start = mem_sum(pids)["rss"]
        t0 = time.time()
        sent, peak, closed = self.stream(c, pids, 100 * MB)
        note("SMTP: %d MB without newline in %.1f s, session RSS %d kB -> peak %d kB%s",
             sent // MB, time.time() - t0, start, peak, " (closed by server)" if closed else "")
        self.assertLess(peak, start + GROWTH_MAX, "session memory grew while draining")
        if closed:
            try:
                c.sock.settimeout(5)
                rest = c.buf + c.sock.recv(4096)
            except OSError:
                rest = c.buf
            note("SMTP: the server closed after: %r", rest[:100])
            if rest:
                self.assertTrue(rest.startswith(b"500 5.5.2"), rest)
        else:
            c.send(b"\r\n")
            r = c.reply(timeout=20)
            self.assertEqual(r[:9], "500 5.5.2", r)
            self.assertTrue(c.cmd("NOOP", timeout=10).startswith("250"), "session usable")

    def test_smtp_100mb_data_line(self):
        m = self.m
        user = "longdata@example.test"
        m.mailacct("add", user, "--password", "Long-pw-1", check=False)
        before = set(m.pids("smtp"))
        c = Conn(m.port("smtp"))
        self.addCleanup(c.close)
        c.cmd("EHLO long.example")
        c.cmd("MAIL FROM:<long@remote.example>")
        self.assertTrue(c.cmd("RCPT TO:<%s>" % user).startswith("250"))
        self.assertTrue(c.cmd("DATA").startswith("354"))
        mark = b"longdata-%d" % time.time_ns()
        c.send(b"Subject: " + mark + b"\r\n\r\n")
        pids = session_pids(m, "smtp", before, ("smtpd", "tlsd"))
        start = mem_sum(pids)["rss"]
        sent, peak, closed = self.stream(c, pids, 100 * MB)
        note("SMTP DATA: %d MB line, session RSS %d kB -> peak %d kB%s", sent // MB, start,
             peak, " (closed by server)" if closed else "")
        self.assertLess(peak, start + GROWTH_MAX, "session memory grew in DATA")
        if not closed:
            c.send(b"\r\n.\r\n")
            r = c.reply(timeout=30)
            note("SMTP DATA: after the dot: %s", r)
            self.assertEqual(r[0], "5", r)
        time.sleep(0.3)
        self.assertEqual(stored_with(m, mark, [user]), [])

    def test_pop3_1mb_line(self):
        m = self.m
        before = set(m.pids("pop3"))
        c = Conn(m.port("pop3"))
        self.addCleanup(c.close)
        self.assertTrue(c.greeting.startswith("+OK"))
        pids = session_pids(m, "pop3", before, ("pop3-front", "tlsd"))
        start = mem_sum(pids)["rss"]
        sent, peak, closed = self.stream(c, pids, MB, chunk=64 * 1024, service="pop3")
        note("POP3: %d kB line, session RSS %d kB -> peak %d kB%s", sent // 1024, start, peak,
             " (closed by server)" if closed else "")
        self.assertLess(peak, start + GROWTH_MAX // 4)
        if not closed:
            c.send(b"\r\n")
            try:
                r = c.line(timeout=10)
            except EOFError:
                return
            self.assertTrue(r.startswith("-ERR"), r)
            try:
                r = c.pcmd("CAPA", timeout=10)
            except EOFError:
                return
            self.assertTrue(r.startswith("+OK") or r.startswith("-ERR"), r)


# =============================================================================================
@unittest.skipUnless(have("smtpd") and have("mailacct") and have("queue-inject")
                     and have("queue-run") and have("deliver"), "smtpd, mailacct or the queue not built")
class RcptFloodTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot.shared()
        cls.user = "flood%d@example.test" % os.getpid()
        cls.m.add_user(cls.user, "Flood-pw-1")

    def test_list_server_with_stale_addresses_keeps_its_connection(self):
        """A list server sends message after message on one connection, each to a few gone
        addresses and one real one: 24 refusals in all, but every message went through, so
        the error limit (20) forgives them after each message, as Postfix does."""
        c = Conn(self.m.port("smtp"), src="127.0.9.30", timeout=60)
        self.addCleanup(c.close)
        self.assertTrue(c.cmd("EHLO lists.example").startswith("250"))
        for i in range(6):
            self.assertTrue(c.cmd("MAIL FROM:<list@lists.example>").startswith("250"))
            for k in range(4):
                self.assertTrue(c.cmd("RCPT TO:<gone%d-%d@example.test>" % (i, k))
                                .startswith("550"))
            self.assertTrue(c.cmd("RCPT TO:<%s>" % self.user).startswith("250"))
            self.assertTrue(c.cmd("DATA").startswith("354"))
            r = c.cmd("Subject: list %d\r\n\r\nhello\r\n." % i, timeout=60)
            self.assertTrue(r.startswith("250"), (i, r))
        self.assertTrue(c.cmd("QUIT").startswith("221"))

    def test_10000_rcpts(self):
        c = Conn(self.m.port("smtp"), timeout=60)
        self.addCleanup(c.close)
        self.assertTrue(c.cmd("EHLO flood.example").startswith("250"))
        self.assertTrue(c.cmd("MAIL FROM:<flood@remote.example>").startswith("250"))
        codes = []
        t0 = time.time()
        batch = 500
        while len(codes) < 10000:
            if "452 4.5.3" in codes:
                batch = 1   # in step now: the 421 is read before the server closes
            c.send("".join("RCPT TO:<%s>\r\n" % self.user for _ in range(batch)))
            codes += [c.reply(timeout=60)[:9] for _ in range(batch)]
            if "421 4.7.0" in codes:
                break
        note("10000 RCPT in %.1f s: %d x 250, %d x 452 4.5.3, then %r", time.time() - t0,
             codes.count("250 2.1.5"), codes.count("452 4.5.3"), codes[-1])
        first452 = codes.index("452 4.5.3") if "452 4.5.3" in codes else len(codes)
        self.assertGreaterEqual(first452, 100, "RFC 5321 §4.5.3.1.8: at least 100")
        self.assertEqual(set(codes[:first452]), {"250 2.1.5"})
        # a sending server splits its list at the first 452s; one that goes on is cut off
        # after 1,000 of them and SMTP_ERROR_LIMIT (20) more, as Postfix does
        over = codes.index("421 4.7.0")
        self.assertEqual(set(codes[first452:over]), {"452 4.5.3"})
        self.assertEqual(over - first452, 1000 + 20)
        self.assertTrue(c.closed(), "closed after the 421")
        # the line reaches the log through s6-log a moment after the client saw the close
        self.assertTrue(self.m.wait_for(lambda: "too many errors ip=127.0.0.1"
                                        in self.m.log("smtp"), 10), self.m.log("smtp")[-2000:])
        # any other refusal counts from the first: 20, then 421
        c = Conn(self.m.port("smtp"), timeout=60)
        self.addCleanup(c.close)
        self.assertTrue(c.cmd("EHLO flood.example").startswith("250"))
        codes = [c.cmd("RCPT TO:<%s>" % self.user)[:9] for _ in range(20)]
        self.assertEqual(set(codes), {"503 5.5.1"}, "RCPT before MAIL")
        self.assertTrue(c.line().startswith("421 4.7.0 "), "the 20th refusal ends the session")
        self.assertTrue(c.closed())
        c = Conn(self.m.port("smtp"), timeout=60)
        self.addCleanup(c.close)
        self.assertTrue(c.cmd("EHLO flood.example").startswith("250"))
        mark = "after-flood-%d" % time.time_ns()
        self.assertTrue(c.cmd("MAIL FROM:<flood@remote.example>").startswith("250"))
        self.assertTrue(c.cmd("RCPT TO:<%s>" % self.user).startswith("250"))
        self.assertTrue(c.cmd("DATA").startswith("354"))
        r = c.cmd("Subject: %s\r\n\r\nstill works\r\n." % mark, timeout=60)
        self.assertTrue(r.startswith("250"), r)
        self.assertTrue(self.m.wait_for(lambda: stored_with(self.m, mark.encode(),
                                                            [self.user]), 10))


# =============================================================================================
def left(timeout, deadline):
    """Socket timeout for the next step: timeout, cut at deadline (+1 s) if there is one."""
    if deadline is None:
        return timeout
    return max(0.5, min(timeout, deadline + 1 - time.time()))


def smtp_auth(port, src, user, pw, attempts=1, timeout=40, deadline=None):
    """AUTH PLAIN attempts on one connection: list of (reply, seconds). No new attempt after
    deadline, and a reply is not awaited much past it."""
    out = []
    c = Conn(port, src, timeout=timeout)
    try:
        if not c.greeting.startswith("220"):
            return [(c.greeting, 0.0)]
        c.cmd("EHLO brute.example")
        for _ in range(attempts):
            if deadline is not None and time.time() > deadline:
                break
            t = time.time()
            try:
                r = c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (user, pw)),
                          timeout=left(timeout, deadline))
            except (EOFError, OSError) as e:
                out.append(("closed: %s" % e, time.time() - t))
                break
            out.append((r, time.time() - t))
            if not r.startswith("535"):
                break
    finally:
        c.close()
    return out


def pop3_auth(port, src, user, pw, attempts=1, timeout=40, deadline=None):
    out = []
    c = Conn(port, src, timeout=timeout)
    try:
        for _ in range(attempts):
            if deadline is not None and time.time() > deadline:
                break
            t = time.time()
            try:
                c.pcmd("USER " + user, timeout=timeout)
                r = c.pcmd("PASS " + pw, timeout=left(timeout, deadline))
            except (EOFError, OSError) as e:
                out.append(("closed: %s" % e, time.time() - t))
                break
            out.append((r, time.time() - t))
            if not r.startswith("-ERR"):
                try:
                    c.pcmd("QUIT", timeout=5)
                except (EOFError, OSError):
                    pass
                break
    finally:
        c.close()
    return out


@unittest.skipUnless(have("smtpd") and have_pop3() and have("authd"),
                     "smtpd, authd or the pop3 programs not built")
class BruteForceTest(unittest.TestCase):
    """1,000 failed AUTHs from one IP: refused and slowed; the real user elsewhere is not."""
    VICTIM, RIGHT = "victim@example.test", "Right-pw-1"
    BUDGET = 40         # seconds of attack (the issue: stop after about a minute if throttled)
    TARGET = 1000

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(prefix="yubin-brute-", env={"SMTP_MAXPERIP": "20"})
        cls.m.start()
        cls.m.add_user(cls.VICTIM, cls.RIGHT)

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def real_user(self, src):
        t = time.time()
        s = smtp_auth(self.m.port("smtp"), src, self.VICTIM, self.RIGHT)
        ts = time.time() - t
        t = time.time()
        p = pop3_auth(self.m.port("pop3"), src, self.VICTIM, self.RIGHT)
        tp = time.time() - t
        return s[-1][0], ts, p[-1][0], tp

    def test_brute_force_one_ip(self):
        m = self.m
        sport, pport = m.port("smtp"), m.port("pop3")
        # 1. sequential guesses from 127.0.0.1: the delay grows
        seq = smtp_auth(sport, "127.0.0.1", self.VICTIM, "wrong-0", attempts=3)
        seq += pop3_auth(pport, "127.0.0.1", self.VICTIM, "wrong-1", attempts=3)
        lat = [round(t, 2) for _, t in seq]
        note("sequential wrong guesses from 127.0.0.1, seconds each: %s", lat)
        self.assertTrue(all(r.startswith("535 5.7.8") or r.startswith("-ERR [AUTH]")
                            for r, _ in seq), seq)
        self.assertGreaterEqual(sum(lat), 1.0, "no slowdown after 6 failures")
        # 2. the flood, with the real user checked from 127.0.0.2 meanwhile
        fails, wins, other = [0], [], []
        lock = threading.Lock()
        stop = time.time() + self.BUDGET

        def attacker(k):
            i = 0
            while time.time() < stop and fails[0] < self.TARGET:
                i += 1
                pw = "guess-%d-%d" % (k, i)
                try:
                    if k % 2:
                        res = smtp_auth(sport, "127.0.0.1", self.VICTIM, pw, attempts=3,
                                        deadline=stop)
                    else:
                        res = pop3_auth(pport, "127.0.0.1", self.VICTIM, pw, attempts=5,
                                        deadline=stop)
                except OSError as e:
                    res = [("connect: %s" % e, 0)]
                with lock:
                    for r, _ in res:
                        if r.startswith("535") or r.startswith("-ERR [AUTH]"):
                            fails[0] += 1
                        elif r.startswith("235") or r.startswith("+OK"):
                            wins.append(r)
                        else:
                            other.append(r)

        threads = [threading.Thread(target=attacker, args=(k,)) for k in range(12)]
        t0 = time.time()
        for t in threads:
            t.start()
        checks = []
        while any(t.is_alive() for t in threads):
            time.sleep(2)
            checks.append(self.real_user("127.0.0.2"))
        for t in threads:
            t.join()
        took = time.time() - t0
        note("flood: %d refused guesses in %.1f s (%.0f/s), %d other replies %s",
             fails[0], took, fails[0] / took, len(other), sorted(set(x[:40] for x in other))[:5])
        note("real user from 127.0.0.2 during the flood (SMTP s, POP3 s): %s",
             [(round(a, 2), round(b, 2)) for _, a, _, b in checks])
        self.assertEqual(wins, [], "a wrong password was accepted")
        log = [l for l in m.log("authd").split("\n")
               if "auth failed" in l and "ip=127.0.0.1 " in l]
        tried = sum(1 for l in log if l.endswith("reason=password"))
        throttled = sum(1 for l in log if l.endswith("reason=throttled"))
        note("authd: %d guesses from 127.0.0.1 verified, %d failed unverified (throttled) "
             "in %.0f s", tried, throttled, took + sum(lat))
        self.assertGreater(throttled, 0, "authd never throttled the flood")
        # docs/auth.md: 3 free guesses per IP and account, then 1, 2, 4, 8, 16, 16 ... s apart
        self.assertLessEqual(tried, 10 + int(took + sum(lat)) // 16 + 2,
                             "more guesses verified than the throttle allows")
        self.assertTrue(checks)
        for s, ts, p, tp in checks:
            self.assertTrue(s.startswith("235"), s)
            self.assertTrue(p.startswith("+OK"), p)
            self.assertLess(ts, 2.0, "SMTP AUTH of the real user from 127.0.0.2")
            self.assertLess(tp, 2.0, "POP3 login of the real user from 127.0.0.2")
        # 3. the attacked account is not locked out from a third address
        s, ts, p, tp = self.real_user("127.0.0.3")
        note("real user from 127.0.0.3 after the flood: SMTP %.2f s, POP3 %.2f s", ts, tp)
        self.assertTrue(s.startswith("235"), s)
        self.assertTrue(p.startswith("+OK"), p)
        self.assertLess(ts, 2.0)
        self.assertLess(tp, 2.0)
def authd_ask(m, ip, login, password, service="smtp", timeout=60):
    """One request on run/authd.sock (docs/auth.md "Protocol"), as smtpd or checkpw sends it
    for a client at ip. Root (and the single-user mode's user) may always ask."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    try:
        s.connect(os.path.join(m.root, "run", "authd.sock"))
        s.sendall(b"yubin-auth1\0%s\0%s\0%s\0%s\0" % (service.encode(), ip.encode(),
                                                         login.encode(), password.encode()))
        s.shutdown(socket.SHUT_WR)
        return s.recv(64)
    finally:
        s.close()


@unittest.skipUnless(have("smtpd") and have_pop3() and have("authd"),
                     "smtpd, authd or the pop3 programs not built")
class DistributedGuessingTest(unittest.TestCase):
    """docs/auth.md: "The real user, logging in from an address that has not failed on the
    account, never waits, however hard the account is attacked from elsewhere." 100 attacking
    addresses guess the account's password, each one guess at a time as 100 smtpd sessions
    would (their requests go straight to run/authd.sock: 100 SMTP clients from 100 addresses,
    without the protocol's overhead), while the real user logs in over POP3 and SMTP from
    127.0.0.4, which never failed."""
    VICTIM, RIGHT = "target@example.test", "Target-pw-1"
    ATTACKERS, BUDGET = 100, 12

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(prefix="yubin-dist-")
        cls.m.start()
        cls.m.add_user(cls.VICTIM, cls.RIGHT)

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def test_many_attackers_do_not_delay_the_real_user(self):
        m = self.m
        stop = time.time() + self.BUDGET
        wins = []

        def attacker(k):
            ip = "192.0.2.%d" % (k + 1) if k < 200 else "198.51.100.%d" % (k - 199)
            i = 0
            while time.time() < stop:
                i += 1
                try:
                    if authd_ask(m, ip, self.VICTIM, "d-%d-%d" % (k, i)) == b"ok\n":
                        wins.append(ip)
                except OSError:
                    time.sleep(0.1)

        # daemon threads: a request in flight at the end finishes (or fails at m.stop()) alone
        for k in range(self.ATTACKERS):
            threading.Thread(target=attacker, args=(k,), daemon=True).start()
        checks = []
        time.sleep(2)
        while time.time() < stop - 1 or not checks:
            t0 = time.time()
            if len(checks) % 2 == 0:
                r = pop3_auth(m.port("pop3"), "127.0.0.4", self.VICTIM, self.RIGHT, timeout=60)
                checks.append(("POP3", r[-1][0], time.time() - t0))
            else:
                r = smtp_auth(m.port("smtp"), "127.0.0.4", self.VICTIM, self.RIGHT, timeout=60)
                checks.append(("SMTP", r[-1][0], time.time() - t0))
            time.sleep(0.5)
        note("real user from 127.0.0.4 while %d addresses guess: %s", self.ATTACKERS,
             ["%s %.2f s" % (proto, t) for proto, _, t in checks])
        self.assertEqual(wins, [])
        for proto, r, _ in checks:
            self.assertTrue(r.startswith("+OK") or r.startswith("235"), (proto, r))
        worst = max(t for _, _, t in checks)
        self.assertLess(worst, 2.0, "the real user waited %.1f s to log in from a clean "
                        "address while %d others guessed" % (worst, self.ATTACKERS))


# =============================================================================================
@unittest.skipUnless(have("smtpd") and have("mailacct"), "smtpd or mailacct not built")
class EnvelopeControlCharsTest(unittest.TestCase):
    """CR/LF/NUL in envelope fields never reach a queue record; NUL in a header line is
    refused or stored byte-exact."""

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot.shared()
        cls.user = "ctl%d@example.test" % os.getpid()
        cls.m.add_user(cls.user, "Ctl-pw-1")

    def attempt(self, mail, rcpt, mark):
        """One transaction with raw MAIL/RCPT bytes. Returns the replies seen."""
        c = Conn(self.m.port("smtp"))
        self.addCleanup(c.close)
        seen = []
        try:
            seen.append(c.cmd("EHLO ctl.example"))
            c.send(b"MAIL FROM:" + mail + b"\r\n")
            seen.append(c.reply(timeout=10))
            c.send(b"RCPT TO:" + rcpt + b"\r\n")
            seen.append(c.reply(timeout=10))
            r = c.cmd("DATA", timeout=10)
            seen.append(r)
            if r.startswith("354"):
                seen.append(c.cmd("Subject: %s\r\n\r\nbody\r\n." % mark.decode(), timeout=30))
        except (EOFError, OSError) as e:
            seen.append("closed: %s" % e)
        return seen

    def test_envelope_control_characters_refused(self):
        ok = b"<" + self.user.encode() + b">"
        cases = [
            (b"<a\x00b@remote.example>", ok),
            (b"<a@remote.example\x00>", ok),
            (b"<a@remote.example>\x00", ok),
            (b"<\"a\x00b\"@remote.example>", ok),
            (b"<a\rb@remote.example>", ok),
            (b"<a@remote.example\rX>", ok),
            (b"<a\nb@remote.example>", ok),
            (b"<a@remote.example>", b"<" + self.user.encode() + b"\x00>"),
            (b"<a@remote.example>", b"<a\x00" + self.user.encode() + b">"),
            (b"<a@remote.example>", b"<a@b\rX>"),
            (b"<a@remote.example>", b"<" + self.user.encode() + b"\rRX@evil.example>"),
            (b"<a@remote.example>", b"<" + self.user.encode() + b"\nTX@evil.example>"),
            (b"<a@remote.example>", b"<\"x\\\x00y\"@example.test>"),
            (b"<a@remote.example>", b"<" + self.user.encode() + b"> NOTIFY=\x00"),
        ]
        for i, (mail, rcpt) in enumerate(cases):
            mark = b"ctl-%d-%d" % (i, time.time_ns())
            seen = self.attempt(mail, rcpt, mark)
            with self.subTest(mail=mail, rcpt=rcpt):
                self.assertFalse(any(r.startswith("250 2.0.0") or r.startswith("354")
                                     for r in seen), seen)
                self.assertFalse(seen[1].startswith("250") and seen[2].startswith("250"), seen)
        time.sleep(0.5)
        self.assertEqual(queue_headers_clean(self.m), [])

    @unittest.skipUnless(have_pop3(), "the pop3 programs not built")
    def test_pop3_nul_in_credentials(self):
        """A NUL would split LOGIN\\0PASSWORD\\0 on the way to checkpw: never a login."""
        pw = "Ctl-pw-1"
        for user, word in ((self.user + "\0" + pw, "whatever"), (self.user, pw + "\0junk"),
                           (self.user + "\0", pw), ("\0" + self.user, pw), (self.user, "\0" + pw)):
            c = Conn(self.m.port("pop3"))
            self.addCleanup(c.close)
            try:
                c.pcmd("USER " + user, timeout=10)
                r = c.pcmd("PASS " + word, timeout=30)
            except (EOFError, OSError) as e:
                r = "closed: %s" % e
            self.assertFalse(r.startswith("+OK"), (user, word, r))

    @unittest.skipUnless(have("queue-inject") and have("queue-run") and have("deliver"),
                         "the queue or deliver not built")
    def test_nul_in_header_line(self):
        mark = b"nul-%d" % time.time_ns()
        header = b"Subject: a\x00b " + mark
        c = Conn(self.m.port("smtp"))
        self.addCleanup(c.close)
        c.cmd("EHLO ctl.example")
        c.cmd("MAIL FROM:<nul@remote.example>")
        self.assertTrue(c.cmd("RCPT TO:<%s>" % self.user).startswith("250"))
        self.assertTrue(c.cmd("DATA").startswith("354"))
        c.send(header + b"\r\nX-Other: \x00\x00\r\n\r\nbody \x00 line\r\n.\r\n")
        try:
            r = c.reply(timeout=30)
        except EOFError as e:
            r = "closed: %s" % e
        note("NUL in a header line: %s", r)
        self.assertFalse(r.startswith("4"), "a temporary failure is no answer: " + r)
        if r.startswith("250"):
            paths = self.m.wait_for(lambda: stored_with(self.m, mark, [self.user]), 10)
            self.assertTrue(paths, "accepted but not stored")
            with open(paths[0], "rb") as f:
                data = f.read()
            self.assertIn(header + b"\nX-Other: \x00\x00\n", data, "stored byte-exact (LF ends)")
            self.assertIn(b"\nbody \x00 line\n", data)
        else:
            time.sleep(0.5)
            self.assertEqual(stored_with(self.m, mark, [self.user]), [])
        self.assertEqual(queue_headers_clean(self.m), [])


if __name__ == "__main__":
    unittest.main()
