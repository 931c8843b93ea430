"""POP3 (docs/pop3.md) as mail programs see it: the real tcpserver -> pop3-front -(ipcfd,
run/pop3d.sock)-> s6-ipcserverd -> checkpw -> pop3d chain under s6, driven with poplib, raw
sockets and fetchmail."""
import base64
import hashlib
import os
import poplib
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from harness import (MailRoot, IS_ROOT, have, proc_uid, proc_name, can_open, descendants, as_user,
                     relay_rcpt_code)

MBOX = "yubin-mbox"


def wire(data):
    """What RETR must send for a file's bytes: LF -> CRLF (CRLF kept), CRLF added when the
    file lacks a final newline, byte-stuffing; without the final '.' line."""
    out = re.sub(rb"(?<!\r)\n", b"\r\n", data)
    if data and not data.endswith(b"\n"):
        out += b"\r\n"
    return out


def unstuffed_size(data):
    return len(wire(data))


def stuff(w):
    return re.sub(rb"(^|\r\n)\.", rb"\1..", w)


def top(data, n):
    """What TOP must send for a stored file: its header section and blank line, then the first
    n body lines, on the wire (CRLF, stuffed)."""
    i = data.index(b"\n\n") + 2
    lines = re.findall(rb"[^\n]*\n|[^\n]+$", data[i:])
    return stuff(wire(data[:i] + b"".join(lines[:n])))


class Raw:
    """A POP3 client on a plain socket that keeps every byte."""

    def __init__(self, port, timeout=20, src=None):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                          source_address=(src, 0) if src else None)
        self.buf = b""
        self.greeting = self.line()

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def _fill(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n")
        out, self.buf = self.buf[:i], self.buf[i + 2:]
        return out.decode("utf-8", "replace")

    def cmd(self, c):
        self.send(c + "\r\n")
        return self.line()

    def multi(self):
        """Raw body of a multi-line reply (still stuffed), up to and without '.\\r\\n'."""
        end = b"\r\n.\r\n"
        while True:
            if self.buf.startswith(b".\r\n"):
                self.buf = self.buf[3:]
                return b""
            i = self.buf.find(end)
            if i >= 0:
                out, self.buf = self.buf[:i + 2], self.buf[i + 5:]
                return out
            self._fill()

    def closed(self, timeout=10):
        """True if the server closes the connection within timeout."""
        self.s.settimeout(timeout)
        try:
            while True:
                if not self.s.recv(4096):
                    return True
        except (socket.timeout, TimeoutError):
            return False
        except OSError:
            return True

    def close(self):
        self.s.close()


def refusal(p, line):
    """The -ERR line a poplib session gets for line (None: it got +OK)."""
    try:
        p._shortcmd(line)
    except poplib.error_proto as e:
        return e.args[0]
    return None


def mbox_ids():
    pw = pwd.getpwnam(MBOX) if IS_ROOT else pwd.getpwuid(os.getuid())
    return pw.pw_uid, pw.pw_gid


@unittest.skipUnless(have("pop3-front") and have("pop3d") and have("checkpw")
                     and have("mailacct"), "pop3-front, pop3d, checkpw or mailacct not built")
class Pop3Test(unittest.TestCase):
    n = 0

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot.shared()
        cls.port = cls.m.port("pop3")

    # --- helpers
    def user(self, domain="example.test", pw="Pop-Pass 1"):
        Pop3Test.n += 1
        addr = "pop%d.%d@%s" % (os.getpid(), Pop3Test.n, domain)
        self.m.add_user(addr, pw)      # mailacct creates the Maildir
        return addr, pw

    def send(self, addr, *bodies):
        """Mail the messages to addr by SMTP (smtpd, queue-run, deliver store them, in this
        order); returns [(unique name, stored bytes)], the stored file ending in the body."""
        names = self.m.send_mail(addr, list(bodies))
        out = [(n, self.m.stored(addr, n)) for n in names]
        for (n, data), body in zip(out, bodies):
            self.assertTrue(data.endswith(body), "%s stored as sent" % n)
        return out

    def plant_foreign(self, addr, data):
        """Fault injection: write a file into new/ that no yubin program writes (smtpd stores
        LF-only text ending in LF), like one copied in from another server."""
        Pop3Test.n += 1
        name = "%d.M%06dP%d.foreign.example" % (time.time(), Pop3Test.n, os.getpid())
        md = self.m.maildir(addr)
        uid, gid = mbox_ids()
        tmp = os.path.join(md, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data)
        os.chown(tmp, uid, gid)
        os.rename(tmp, os.path.join(md, "new", name))
        return name

    def login(self, addr, pw):
        p = poplib.POP3("127.0.0.1", self.port, timeout=30)
        p.user(addr)
        p.pass_(pw)
        return p

    def raw_login(self, addr, pw):
        r = Raw(self.port)
        self.assertTrue(r.cmd("USER " + addr).startswith("+OK"))
        resp = r.cmd("PASS " + pw)
        self.assertTrue(resp.startswith("+OK"), resp)
        return r

    def pop3d_pids(self, addr):
        out = []
        for pid in self.m.pids("pop3d"):
            try:
                with open("/proc/%d/environ" % pid, "rb") as f:
                    env = f.read().split(b"\0")
            except OSError:
                continue
            if proc_name(pid) == "pop3d" and ("USER=" + addr).encode() in env:
                out.append(pid)
        return out

    # --- AUTHORIZATION
    def test_greeting_and_capa_before_and_after_login(self):
        addr, pw = self.user()
        r = Raw(self.port)
        self.assertEqual(r.greeting, "+OK yubin POP3 server ready")
        self.assertTrue(r.cmd("CAPA").startswith("+OK"))
        caps = r.multi().decode().split("\r\n")
        for c in ("TOP", "UIDL", "USER", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING",
                  "SASL PLAIN LOGIN", "EXPIRE NEVER", "IMPLEMENTATION yubin"):
            self.assertIn(c, caps)
        r.cmd("USER " + addr)
        self.assertTrue(r.cmd("PASS " + pw).startswith("+OK"))
        self.assertTrue(r.cmd("CAPA").startswith("+OK"))
        caps = r.multi().decode().split("\r\n")
        self.assertIn("UIDL", caps)
        self.assertNotIn("STLS", caps)
        self.assertTrue(r.cmd("QUIT").startswith("+OK"))
        r.close()

    def test_wrong_password_then_success_in_same_session(self):
        addr, pw = self.user()
        r = Raw(self.port)
        self.assertTrue(r.cmd("USER " + addr).startswith("+OK"))
        self.assertEqual(r.cmd("PASS wrong-" + pw), "-ERR [AUTH] invalid user name or password")
        r.cmd("USER nobody-here@example.test")
        self.assertEqual(r.cmd("PASS " + pw), "-ERR [AUTH] invalid user name or password",
                         "an unknown user gets the same reply")
        self.assertTrue(r.cmd("USER " + addr.upper().replace("@EXAMPLE.TEST", "@example.test"))
                        .startswith("+OK"))
        r.cmd("PASS " + pw.lower())     # passwords are case-sensitive
        r.cmd("USER " + addr)
        resp = r.cmd("PASS " + pw)
        self.assertTrue(resp.startswith("+OK"), resp)
        self.assertTrue(r.cmd("STAT").startswith("+OK 0 0"))
        self.assertTrue(r.cmd("QUIT").startswith("+OK"))
        r.close()

    def test_longest_password_logs_in(self):
        # the member page and mailacct take passwords up to 255 octets: a USER/PASS line and
        # an AUTH PLAIN line with its initial response are then longer than RFC 2449's 255
        pw = "p" * 120 + " Pass " + "w" * 129
        self.assertEqual(len(pw), 255)
        addr, pw = self.user(pw=pw)
        r = self.raw_login(addr, pw)
        self.assertTrue(r.cmd("STAT").startswith("+OK 0 0"))
        self.assertTrue(r.cmd("QUIT").startswith("+OK"))
        r.close()
        r = Raw(self.port)
        token = base64.b64encode(("\0%s\0%s" % (addr, pw)).encode()).decode()
        self.assertTrue(r.cmd("AUTH PLAIN " + token).startswith("+OK"), "initial response")
        self.assertTrue(r.cmd("QUIT").startswith("+OK"))
        r.close()
        p = self.login(addr, pw)    # poplib, as mail programs log in
        self.assertEqual(p.stat(), (0, 0))
        p.quit()

    def test_authorization_errors(self):
        r = Raw(self.port)
        self.assertTrue(r.cmd("PASS x").startswith("-ERR"), "PASS without USER")
        self.assertTrue(r.cmd("STAT").startswith("-ERR"), "STAT before login")
        self.assertTrue(r.cmd("RETR 1").startswith("-ERR"))
        self.assertTrue(r.cmd("APOP a b").startswith("-ERR"))
        self.assertTrue(r.cmd("XYZZY").startswith("-ERR"))
        self.assertTrue(r.cmd("USER").startswith("-ERR"))
        self.assertTrue(r.cmd("AUTH CRAM-MD5").startswith("-ERR"))
        self.assertEqual(r.cmd("NOOP " + "x" * 1100), "-ERR line too long")
        self.assertTrue(r.cmd("NOOP").startswith("-ERR"), "still answering after it")
        self.assertEqual(r.cmd("AUTH"), "+OK")
        self.assertEqual(r.multi(), b"PLAIN\r\nLOGIN\r\n")
        self.assertTrue(r.cmd("CAPA").startswith("+OK"))
        if b"STLS" not in r.multi():
            self.assertTrue(r.cmd("STLS").startswith("-ERR"), "STLS without tlsd")
        self.assertTrue(r.cmd("QUIT").startswith("+OK"))
        self.assertTrue(r.closed())

    def test_auth_plain(self):
        import base64
        addr, pw = self.user()
        tok = base64.b64encode(b"\0" + addr.encode() + b"\0" + pw.encode()).decode()
        r = Raw(self.port)
        self.assertTrue(r.cmd("AUTH PLAIN " + tok).startswith("+OK"), "initial response")
        self.assertTrue(r.cmd("QUIT").startswith("+OK"))
        r.close()
        r = Raw(self.port)
        self.assertEqual(r.cmd("AUTH PLAIN"), "+ ")
        self.assertTrue(r.cmd("*").startswith("-ERR"), "* cancels")
        self.assertEqual(r.cmd("AUTH PLAIN"), "+ ")
        self.assertEqual(r.cmd("!!notbase64"), "-ERR [AUTH] invalid user name or password")
        bad = base64.b64encode(b"\0" + addr.encode() + b"\0wrong").decode()
        self.assertEqual(r.cmd("AUTH PLAIN " + bad), "-ERR [AUTH] invalid user name or password")
        self.assertEqual(r.cmd("AUTH PLAIN"), "+ ")
        self.assertTrue(r.cmd(tok).startswith("+OK"), "continuation")
        self.assertTrue(r.cmd("STAT").startswith("+OK"))
        r.cmd("QUIT")
        r.close()

    def test_auth_login(self):
        """AUTH LOGIN (SPECS §4.4; Outlook's and Apple Mail's mechanism): base64 "Username:"
        and "Password:" challenges, the user name also as the initial response."""
        import base64

        def b64(t):
            return base64.b64encode(t.encode()).decode()
        addr, pw = self.user()
        [(_, data)] = self.send(addr, b"Subject: l\n\nby LOGIN\n")
        r = Raw(self.port)
        self.assertEqual(r.cmd("AUTH"), "+OK")
        self.assertEqual(r.multi().decode().split("\r\n")[:2], ["PLAIN", "LOGIN"])
        self.assertEqual(r.cmd("AUTH LOGIN"), "+ VXNlcm5hbWU6")
        self.assertEqual(r.cmd(b64(addr)), "+ UGFzc3dvcmQ6")
        self.assertTrue(r.cmd(b64(pw)).startswith("+OK"), "logged in")
        self.assertEqual(r.cmd("STAT"), "+OK 1 %d" % unstuffed_size(data))
        r.cmd("QUIT")
        r.close()
        r = Raw(self.port)
        self.assertEqual(r.cmd("AUTH LOGIN " + b64(addr)), "+ UGFzc3dvcmQ6", "initial response")
        self.assertEqual(r.cmd(b64("wrong-pw")), "-ERR [AUTH] invalid user name or password")
        self.assertEqual(r.cmd("AUTH LOGIN"), "+ VXNlcm5hbWU6")
        self.assertTrue(r.cmd("*").startswith("-ERR authentication cancelled"), "* cancels")
        self.assertEqual(r.cmd("AUTH LOGIN"), "+ VXNlcm5hbWU6")
        self.assertEqual(r.cmd("not base64!"), "-ERR [AUTH] invalid user name or password")
        self.assertEqual(r.cmd("AUTH login"), "+ VXNlcm5hbWU6", "the name in any case")
        self.assertEqual(r.cmd(b64(addr)), "+ UGFzc3dvcmQ6")
        self.assertTrue(r.cmd(b64(pw)).startswith("+OK"))
        r.cmd("QUIT")
        r.close()
        self.assertIn("-ERR unsupported authentication mechanism; use PLAIN or LOGIN",
                      Raw(self.port).cmd("AUTH CRAM-MD5"))

    def test_pipelined_login_and_commands(self):
        addr, pw = self.user()
        [(_, data)] = self.send(addr, b"Subject: p\n\npipelined\n")
        r = Raw(self.port)
        r.send("USER %s\r\nPASS %s\r\nSTAT\r\nRETR 1\r\nNOOP\r\nQUIT\r\n" % (addr, pw))
        self.assertTrue(r.line().startswith("+OK"))
        self.assertTrue(r.line().startswith("+OK"))
        self.assertEqual(r.line(), "+OK 1 %d" % unstuffed_size(data))
        self.assertTrue(r.line().startswith("+OK"))
        self.assertEqual(r.multi(), stuff(wire(data)))
        self.assertEqual(r.line(), "+OK")
        self.assertTrue(r.line().startswith("+OK"))
        self.assertTrue(r.closed())

    # --- TRANSACTION
    def test_every_command_and_error(self):
        addr, pw = self.user()
        sent = self.send(addr, b"From: a@b.example\nSubject: one\n\nbody one\nline 2\n.dot\n",
                         b"Subject: two\n\nsecond\n",
                         b"Subject: three\n\nthird body\n")
        names = [n for n, _ in sent]
        msgs = [data for _, data in sent]      # as stored: Received, Return-Path, ... on top
        r = self.raw_login(addr, pw)
        total = sum(unstuffed_size(b) for b in msgs)
        self.assertEqual(r.cmd("STAT"), "+OK 3 %d" % total)
        self.assertTrue(r.cmd("LIST").startswith("+OK"))
        self.assertEqual(r.multi().decode(), "".join("%d %d\r\n" % (i + 1, unstuffed_size(b))
                                                    for i, b in enumerate(msgs)))
        self.assertEqual(r.cmd("LIST 2"), "+OK 2 %d" % unstuffed_size(msgs[1]))
        self.assertTrue(r.cmd("UIDL").startswith("+OK"))
        self.assertEqual(r.multi().decode(), "".join("%d %s\r\n" % (i + 1, n)
                                                    for i, n in enumerate(names)))
        self.assertEqual(r.cmd("UIDL 3"), "+OK 3 " + names[2])
        self.assertTrue(r.cmd("TOP 1 0").startswith("+OK"))
        got = r.multi()
        self.assertEqual(got, top(msgs[0], 0))
        self.assertTrue(got.endswith(b"\r\nFrom: a@b.example\r\nSubject: one\r\n\r\n"), got)
        self.assertTrue(r.cmd("TOP 1 2").startswith("+OK"))
        self.assertEqual(r.multi(), top(msgs[0], 2))
        self.assertTrue(r.cmd("TOP 1 3").startswith("+OK"))
        got = r.multi()
        self.assertEqual(got, top(msgs[0], 3))
        self.assertTrue(got.endswith(b"\r\nSubject: one\r\n\r\nbody one\r\nline 2\r\n..dot\r\n"),
                        got)
        self.assertTrue(r.cmd("TOP 2 50").startswith("+OK"))
        self.assertEqual(r.multi(), wire(msgs[1]))
        self.assertTrue(r.cmd("TOP 1 99999999999").startswith("+OK"), "huge line count")
        self.assertEqual(r.multi(), stuff(wire(msgs[0])))
        for bad in ("RETR 0", "RETR 4", "RETR -1", "RETR x", "RETR", "LIST 9", "UIDL 0",
                    "DELE 4", "TOP 1", "TOP 9 1", "STAT 1", "RETR 99999999999999"):
            self.assertTrue(r.cmd(bad).startswith("-ERR"), bad)
        self.assertTrue(r.cmd("DELE 2").startswith("+OK"))
        for after in ("DELE 2", "RETR 2", "LIST 2", "UIDL 2", "TOP 2 0"):
            self.assertTrue(r.cmd(after).startswith("-ERR"), after)
        self.assertEqual(r.cmd("STAT"), "+OK 2 %d" % (total - unstuffed_size(msgs[1])))
        self.assertTrue(r.cmd("LIST").startswith("+OK"))
        self.assertNotIn(b"2 ", r.multi().split(b"\r\n")[1][:2])
        self.assertTrue(r.cmd("RSET").startswith("+OK"))
        self.assertEqual(r.cmd("STAT"), "+OK 3 %d" % total)
        self.assertEqual(r.cmd("NOOP"), "+OK")
        self.assertTrue(r.cmd("USER x").startswith("-ERR"))
        self.assertTrue(r.cmd("PASS x").startswith("-ERR"))
        self.assertTrue(r.cmd("STLS").startswith("-ERR"))
        self.assertTrue(r.cmd("FOO").startswith("-ERR"))
        self.assertTrue(r.cmd("QUIT").startswith("+OK"))
        self.assertTrue(r.closed())
        self.assertEqual(len(self.m.messages(addr)), 3, "RSET undid the deletion")

    def test_byte_exact_round_trip(self):
        addr, pw = self.user()
        long_line = b"L" * 996 + b"\n"                  # 998 octets on the wire with CRLF
        sent = self.send(
            addr,
            b"Subject: dots\n\n.\n..\n.leading dot\n...three\nend\n",
            b"Subject: 8bit\nContent-Type: text/plain; charset=utf-8\n\n"
            + "日本語のメール本文です。\n".encode() + bytes(range(128, 256)) + b"\n",
            b"Subject: long\n\n" + long_line * 3,
            b"Subject: empty body\n\n",
            b"Subject: ends with a dot line\n\n.\n")
        self.check_round_trip(addr, pw, [data for _, data in sent])

    def test_foreign_line_ends_round_trip(self):
        """Files no yubin program writes (smtpd stores LF-only text ending in LF), planted to
        simulate a Maildir copied in from another server: a CRLF in the file is kept, a bare CR
        passes, a missing final newline gets CRLF (docs/pop3.md)."""
        addr, pw = self.user()
        bodies = [
            b"Subject: no final newline\n\nlast line without LF",
            b"Subject: mixed\r\n\r\ncrlf line\r\nlf line\nbare\rcr\n",
            b"Subject: ends with dot\n\n.",
        ]
        for b in bodies:
            self.plant_foreign(addr, b)
        self.check_round_trip(addr, pw, bodies)

    def check_round_trip(self, addr, pw, bodies):
        """LIST, RETR (raw and through poplib) of the messages, bodies = the stored files."""
        p = self.login(addr, pw)
        listing = p.list()[1]
        for i, b in enumerate(bodies, 1):
            self.assertEqual(listing[i - 1].decode(), "%d %d" % (i, unstuffed_size(b)))
        p.quit()
        r = self.raw_login(addr, pw)
        for i, b in enumerate(bodies, 1):
            resp = r.cmd("RETR %d" % i)
            self.assertEqual(resp, "+OK %d octets" % unstuffed_size(b))
            got = r.multi()
            self.assertEqual(got, stuff(wire(b)), "message %d on the wire" % i)
        r.cmd("QUIT")
        r.close()
        # poplib unstuffs: what the mail program stores equals the original with CRLF
        p = self.login(addr, pw)
        for i, b in enumerate(bodies, 1):
            lines = p.retr(i)[1]
            self.assertEqual(b"\r\n".join(lines) + b"\r\n", wire(b))
        p.quit()

    def test_big_message(self):
        """A 19.5 MB message (just under the 20 MB limit) arrives intact."""
        addr, pw = self.user()
        line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ=+/.0123456789\n"
        body = b"Subject: big\n\n" + line * (int(19.5 * 1024 * 1024) // len(line))
        body += b".last line starts with a dot\n"
        [(_, body)] = self.send(addr, body)
        r = self.raw_login(addr, pw)
        self.assertEqual(r.cmd("LIST 1"), "+OK 1 %d" % unstuffed_size(body))
        self.assertEqual(r.cmd("RETR 1"), "+OK %d octets" % unstuffed_size(body))
        got = r.multi()
        self.assertEqual(len(got), len(stuff(wire(body))))
        self.assertEqual(hashlib.sha256(got).hexdigest(),
                         hashlib.sha256(stuff(wire(body))).hexdigest())
        r.cmd("QUIT")
        r.close()

    def test_uidl_stable_and_new_mail_next_session(self):
        addr, pw = self.user()
        md = self.m.maildir(addr)
        [(old, _)] = self.send(addr, b"Subject: b\n\n2\n")
        p = self.login(addr, pw)            # seen and kept: pop3d moves it to cur/OLD:2,
        p.retr(1)
        p.quit()
        self.assertEqual(os.listdir(os.path.join(md, "cur")), [old + ":2,"])
        self.assertRegex(old, r",S=\d+$", "deliver's name carries the size")
        [(n1, _)] = self.send(addr, b"Subject: a\n\n1\n")
        p = self.login(addr, pw)
        first = p.uidl()[1]
        self.assertEqual([x.split()[1].decode() for x in first], [old, n1],
                         "UIDL = the unique name without the :2, info; oldest first")
        self.assertEqual(os.listdir(os.path.join(md, "new")), [], "new/ emptied at login")
        self.assertIn(n1 + ":2,", os.listdir(os.path.join(md, "cur")))
        # mail arriving during the session is not shown in it
        self.send(addr, b"Subject: c\n\n3\n")
        self.assertEqual(p.stat()[0], 2)
        p.quit()
        p = self.login(addr, pw)
        second = p.uidl()[1]
        self.assertEqual(p.stat()[0], 3, "the new message appears in the next session")
        self.assertEqual(second[:2], first, "UIDLs and numbers stable across sessions")
        p.quit()

    def test_deletion_only_at_quit(self):
        addr, pw = self.user()
        self.send(addr, *[b"Subject: %d\n\nbody %d\n" % (i, i) for i in range(3)])
        usage = os.path.join(self.m.root, "quota", addr)
        r = self.raw_login(addr, pw)
        r.cmd("DELE 1")
        r.cmd("DELE 2")
        r.close()                                           # dropped: no UPDATE
        time.sleep(0.3)
        self.assertEqual(len(self.m.messages(addr)), 3, "a dropped connection deletes nothing")
        p = self.login(addr, pw)
        self.assertEqual(p.stat()[0], 3)
        uids = p.uidl()[1]
        p.dele(1)
        p.dele(3)
        self.assertEqual(len(self.m.messages(addr)), 3, "nothing deleted before QUIT")
        p.quit()
        left = self.m.messages(addr)
        self.assertEqual(len(left), 1)
        self.assertIn(uids[1].split()[1].decode(), os.path.basename(left[0]))
        with open(usage) as f:
            b, c = f.read().split()[:2]
        self.assertEqual(int(c), 1, "usage summary lowered at once")
        self.assertTrue(self.m.wait_for(lambda: ("pop3d: info: logout user=%s retr=0 octets=0 "
                                                 "deleted=2" % addr) in self.m.log("pop3")))
        self.assertEqual(int(b), os.path.getsize(left[0]))

    def test_message_vanishing_during_session(self):
        """A file removed behind the session's back (fault injection: another process or the
        operator unlinks it; no yubin program does during a session)."""
        addr, pw = self.user()
        (n1, _), (_, two) = self.send(addr, b"Subject: 1\n\none\n", b"Subject: 2\n\ntwo\n")
        r = self.raw_login(addr, pw)
        self.assertTrue(r.cmd("UIDL").startswith("+OK"))
        r.multi()
        os.unlink([p for p in self.m.messages(addr) if os.path.basename(p).startswith(n1)][0])
        self.assertTrue(r.cmd("RETR 1").startswith("-ERR"), "gone: -ERR, not a broken reply")
        self.assertTrue(r.cmd("DELE 1").startswith("-ERR"))
        self.assertTrue(r.cmd("RETR 2").startswith("+OK"))
        got = r.multi()
        self.assertEqual(got, wire(two))
        self.assertTrue(got.endswith(b"\r\nSubject: 2\r\n\r\ntwo\r\n"), got)
        self.assertTrue(r.cmd("DELE 2").startswith("+OK"))
        self.assertTrue(r.cmd("QUIT").startswith("+OK"))
        self.assertEqual(self.m.messages(addr), [])

    def test_a_maildir_without_its_folders_is_made_whole_at_login(self):
        """A Maildir that is there without cur/, new/ and tmp/: the moment a login sees while
        the account's first delivery is making them (in a fleet the node's first mail makes
        the Maildir), or what a crash between those mkdirs leaves (fault injection: the test
        removes the folders mailacct made, as that timing cannot be hit on purpose). The
        login is served, not refused, and the mail that comes next is listed."""
        addr, pw = self.user()
        md = self.m.maildir(addr)
        for sub in ("tmp", "new", "cur"):
            os.rmdir(os.path.join(md, sub))
        p = self.login(addr, pw)
        self.assertEqual(p.stat(), (0, 0))
        self.assertTrue(p.quit().startswith(b"+OK"))
        self.assertTrue(all(os.path.isdir(os.path.join(md, sub))
                            for sub in ("cur", "new", "tmp")), os.listdir(md))
        (_, data), = self.send(addr, b"Subject: after\n\nfirst mail\n")
        p = self.login(addr, pw)
        self.assertEqual(p.stat()[0], 1)
        self.assertEqual(b"\r\n".join(p.retr(1)[1]) + b"\r\n", wire(data))
        p.quit()

    @unittest.skipUnless(shutil.which("curl"), "curl not installed")
    def test_curl(self):
        addr, pw = self.user()
        [(_, body)] = self.send(addr, b"Subject: curl\n\n.dot\nline\n")
        base = "pop3://127.0.0.1:%d/" % self.port
        p = subprocess.run(["curl", "-sS", "--max-time", "20", "-u", "%s:%s" % (addr, pw),
                            base + "1"], capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, wire(body))
        p = subprocess.run(["curl", "-sS", "--max-time", "20", "-u", "%s:%s" % (addr, pw), base],
                           capture_output=True, timeout=30)
        self.assertEqual(p.stdout, b"1 %d\r\n" % unstuffed_size(body))
        p = subprocess.run(["curl", "-sS", "--max-time", "20", "-u", "%s:wrong" % addr, base],
                           capture_output=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.login(addr, pw).quit()       # a success clears authd's failure count

    def test_one_session_per_account(self):
        addr, pw = self.user()
        self.send(addr, b"Subject: x\n\nlocked\n")
        first = self.raw_login(addr, pw)
        self.assertTrue(first.cmd("STAT").startswith("+OK 1 "))
        second = Raw(self.port)
        second.cmd("USER " + addr)
        resp = second.cmd("PASS " + pw)
        self.assertTrue(resp.startswith("-ERR [IN-USE]"), resp)
        self.assertIn("他のセッションが受信中です", resp)
        second.close()
        self.assertTrue(first.cmd("STAT").startswith("+OK 1 "), "first session unharmed")
        self.assertTrue(first.cmd("RETR 1").startswith("+OK"))
        first.multi()
        # the lock dies with its process
        pids = self.pop3d_pids(addr)
        self.assertEqual(len(pids), 1, pids)
        self.assertEqual(proc_uid(pids[0]), pwd.getpwnam(MBOX).pw_uid if IS_ROOT else os.getuid())
        os.kill(pids[0], signal.SIGKILL)
        self.assertTrue(first.closed())
        third = self.raw_login(addr, pw)
        self.assertTrue(third.cmd("STAT").startswith("+OK 1 "), "lock freed at once")
        third.cmd("QUIT")
        third.close()

    def test_pop_before_smtp_grant(self):
        """A POP3 login from an address no other test uses lets that address relay on port 25
        (what the customer's mail program then does); the grant pop3d wrote is the mailbox
        uid's."""
        addr, pw = self.user()
        src = "127.0.5.11"

        def relay_reply():
            return relay_rcpt_code(self.m.port("smtp"), src, addr, "x@remote.example")
        self.assertEqual(relay_reply(), 554, "no grant before the login")
        r = Raw(self.port, src=src)
        self.assertTrue(r.cmd("USER " + addr).startswith("+OK"))
        self.assertTrue(r.cmd("PASS " + pw).startswith("+OK"))
        self.assertTrue(r.cmd("QUIT").startswith("+OK"))
        r.close()
        self.assertEqual(relay_reply(), 250, "relaying after the POP3 login")
        st = os.stat(os.path.join(self.m.root, "relay", src))
        if IS_ROOT:
            self.assertEqual(st.st_uid, pwd.getpwnam(MBOX).pw_uid)

    def test_privileges(self):
        if not IS_ROOT:
            self.skipTest("uid separation needs root")
        addr, pw = self.user()
        self.send(addr, b"Subject: p\n\nx\n")
        r = self.raw_login(addr, pw)
        pop = pwd.getpwnam("yubin-pop").pw_uid
        fronts = [p for p in self.m.pids("pop3") if proc_name(p) == "pop3-front"]
        self.assertTrue(fronts)
        uids = [u for u in map(proc_uid, fronts) if u is not None]  # ours is held open
        self.assertTrue(uids)
        for u in uids:
            self.assertEqual(u, pop)
        for p in self.pop3d_pids(addr):
            self.assertEqual(proc_uid(p), pwd.getpwnam(MBOX).pw_uid)
        r.cmd("QUIT")
        r.close()
        md = self.m.maildir(addr)
        self.assertFalse(can_open("yubin-pop", md))
        self.assertFalse(can_open("yubin-pop", self.m.messages(addr)[0]))
        self.assertFalse(can_open("yubin-pop", os.path.join(self.m.root, "cdb", "auth.cdb")))

    def test_login_crossing_is_ipcfd(self):
        """The session runs without s6-sudoc/s6-sudod, and pop3d got the client's address and
        (no TLS) an empty SSL_PROTOCOL through the request's arguments."""
        addr, pw = self.user()
        r = self.raw_login(addr, pw)
        try:
            pids = self.pop3d_pids(addr)
            self.assertEqual(len(pids), 1)
            with open("/proc/%d/environ" % pids[0], "rb") as f:
                env = f.read().split(b"\0")
            self.assertIn(b"TCPREMOTEIP=127.0.0.1", env)
            self.assertIn(b"SSL_PROTOCOL=", env)
            names = [proc_name(p) for s in ("pop3", "pop3d") for p in self.m.pids(s)]
            self.assertNotIn("s6-sudoc", names)
            self.assertNotIn("s6-sudod", names)
            self.assertTrue(r.cmd("STAT").startswith("+OK 0 0"))
        finally:
            r.cmd("QUIT")
            r.close()

    def pop3d_request(self, argv, nfds, user="yubin-pop"):
        """Send one hand-made ipcfd request to run/pop3d.sock as user (the pop uid) with nfds
        fds (a pipe's ends, a socket for the credentials) and return what came back on the
        connection."""
        code = r"""
import os, socket, sys
argv, nfds = sys.argv[2:], int(sys.argv[1])
payload = b"".join(a.encode() + b"\0" for a in argv)
req = b"%d:" % len(payload) + payload + b","
rd, wr = os.pipe()
cred_r, cred_w = socket.socketpair()
fds = [rd, wr, cred_w.fileno()][:nfds]
s = socket.socket(socket.AF_UNIX)
s.connect(os.environ["SOCK"])
try:
    socket.send_fds(s, [req], fds)
except (BrokenPipeError, ConnectionResetError):
    pass    # refused at once: closed before the request went out
os.close(rd); os.close(wr); cred_w.close()
try:
    cred_r.sendall(b"nobody@example.test\0x\0")
    cred_r.shutdown(socket.SHUT_WR)
except OSError:
    pass    # refused: the other end is already gone
s.settimeout(20)
out = b""
while True:
    try:
        b = s.recv(16)
    except ConnectionResetError:
        break   # refused before the request was read: closed with it unread
    if not b:
        break
    out += b
sys.stdout.write(repr(out))
"""
        env = dict(os.environ, SOCK=os.path.join(self.m.root, "run", "pop3d.sock"))
        r = as_user(user, ["python3", "-c", code, str(nfds)] + list(argv),
                    env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_pop3d_socket_takes_only_the_strict_request(self):
        """The pop uid cannot choose what checkpw runs, nor send another fd count; a well-formed
        request with wrong credentials is status 1 (what pop3-front turns into [AUTH])."""
        if not IS_ROOT:
            self.skipTest("the socket accepts only the pop uid")
        good = ["checkpw", "TCPREMOTEIP=127.0.0.9", "SSL_PROTOCOL="]
        self.assertEqual(self.pop3d_request(good, 3), repr(b"1\n"))
        self.assertEqual(self.pop3d_request(good + ["/bin/sh"], 3), repr(b"2\n"))
        self.assertEqual(self.pop3d_request(["/bin/sh", "TCPREMOTEIP=1", "SSL_PROTOCOL="], 3),
                         repr(b"2\n"))
        self.assertEqual(self.pop3d_request(["checkpw", "TCPREMOTEIP=1 2", "SSL_PROTOCOL="], 3),
                         repr(b"2\n"))
        self.assertEqual(self.pop3d_request(
            ["checkpw", "TCPREMOTEIP=" + "1" * 65, "SSL_PROTOCOL="], 3), repr(b"2\n"))
        # the server loop (lib/ipcserve) refuses it: a temporary failure, logged
        self.assertEqual(self.pop3d_request(good, 2), repr(b"111\n"), "two fds: refused, 111")
        self.assertTrue(self.m.wait_for(lambda: "checkpw: warning: refused a request on "
                                        "run/pop3d.sock" in self.m.log("pop3d"), 10),
                        self.m.log("pop3d")[-2000:])

    def test_pop3d_socket_refuses_other_uids(self):
        """Only the pop uid may connect (IPCFD_PEERS): any other gets no status, its
        credentials unread, and the refusal is in the pop3d log."""
        if not IS_ROOT:
            self.skipTest("uids are only separate when started as root")
        good = ["checkpw", "TCPREMOTEIP=127.0.0.9", "SSL_PROTOCOL="]
        for user in ("yubin-smtpd", "yubin-q", "yubin-mbox", "root"):
            self.assertEqual(self.pop3d_request(good, 3, user), repr(b""), user)
            line = ("checkpw: warning: refused a connection from uid %d (not in IPCFD_PEERS)"
                    % pwd.getpwnam(user).pw_uid)
            self.assertTrue(self.m.wait_for(lambda: line in self.m.log("pop3d"), 10),
                            self.m.log("pop3d"))
        # the same request from the pop uid is served (status 1: unknown user)
        self.assertEqual(self.pop3d_request(good, 3), repr(b"1\n"))
        self.assertNotIn("from uid %d " % pwd.getpwnam("yubin-pop").pw_uid, self.m.log("pop3d"))

    @unittest.skipUnless(shutil.which("fetchmail"), "fetchmail not installed")
    def test_fetchmail(self):
        """fetchmail keeps track by UIDL (keep + uidl), then downloads and deletes (nokeep)."""
        addr, pw = self.user()
        bodies = [b"From: f@remote.example\nSubject: fm %d\n\nline\n.dot line\n" % i
                  for i in range(3)]
        self.send(addr, *bodies)
        with tempfile.TemporaryDirectory(prefix="pop3-fetchmail-") as d:
            sink = os.path.join(d, "mbox")

            def run(opts, server="uidl"):
                rc = os.path.join(d, "rc")
                with open(rc, "w") as f:
                    f.write('poll 127.0.0.1 service %d protocol pop3 %s auth password\n'
                            '  user "%s" password "%s" is "root" here\n'
                            '  sslproto "" %s\n'
                            '  mda "/bin/sh -c \'cat >> %s; echo ==END== >> %s\'"\n'
                            % (self.port, server, addr, pw, opts, sink, sink))
                os.chmod(rc, 0o600)
                env = dict(os.environ, HOME=d, FETCHMAILHOME=d)
                return subprocess.run(["fetchmail", "-f", rc, "--idfile",
                                       os.path.join(d, "ids"), "--nosyslog", "-v"],
                                      capture_output=True, text=True, env=env, timeout=120)
            p = run("keep")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertEqual(open(sink, "rb").read().count(b"==END=="), 3)
            self.assertEqual(len(self.m.messages(addr)), 3, "keep: left on the server")
            p = run("keep")
            self.assertEqual(p.returncode, 1, "nothing new by UIDL: " + p.stdout + p.stderr)
            self.assertEqual(open(sink, "rb").read().count(b"==END=="), 3)
            self.send(addr, b"Subject: fm new\n\nnew one\n")
            p = run("nokeep fetchall", server="")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            got = open(sink, "rb").read()
        for b in bodies:
            self.assertIn(b.split(b"\n")[1], got)
        self.assertIn(b"\n.dot line\n", got, "fetchmail undid the byte-stuffing")
        self.assertEqual(got.count(b"==END=="), 7)
        self.assertEqual(self.m.messages(addr), [], "nokeep: deleted at QUIT")


@unittest.skipUnless(have("pop3-front") and have("pop3d") and have("checkpw")
                     and have("mailacct"), "pop3-front, pop3d, checkpw or mailacct not built")
class Pop3PrivateTest(unittest.TestCase):
    """Tests that change the service tree: a private one with a 2-second POP3_TIMEOUT and at
    most 3 connections per address."""

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(env={"POP3_TIMEOUT": "2", "POP3_MAXPERIP": "3"}, prefix="yubin-pop3t-")
        cls.m.start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def setUp(self):
        self.m.wait_sessions_gone("127.0.0.1", kind="pop")

    def test_one_address_cannot_take_every_slot(self):
        port = self.m.port("pop3")
        held = [Raw(port) for _ in range(3)]
        try:
            for r in held:
                self.assertEqual(r.greeting, "+OK yubin POP3 server ready")
            extra = Raw(port)
            self.assertTrue(extra.greeting.startswith("-ERR [SYS/TEMP] too many connections "
                                                      "from your address"), extra.greeting)
            self.assertTrue(extra.closed())
            other = Raw(port, src="127.0.0.2")
            self.assertTrue(other.greeting.startswith("+OK"), "another address gets in")
            other.close()
            held.pop().close()
            again = self.m.wait_for(lambda: Raw(port).greeting.startswith("+OK"), timeout=5)
            self.assertTrue(again, "a slot frees when its connection ends")
        finally:
            for r in held:
                r.close()
        self.assertTrue(self.m.wait_for(lambda: "pop3-front: info: refused ip=127.0.0.1: more "
                                        "than 3 connections" in self.m.log("pop3"), 10),
                        self.m.log("pop3")[-2000:])

    def test_pop3d_service_down_is_a_temporary_error(self):
        addr, pw = "down@example.test", "Down-pw-1"
        self.m.add_user(addr, pw)
        sdir = os.path.join(self.m.root, "service", "pop3d")
        subprocess.run(["s6-svc", "-wd", "-d", sdir], check=True, timeout=20)
        try:
            r = Raw(self.m.port("pop3"))
            r.cmd("USER " + addr)
            resp = r.cmd("PASS " + pw)
            self.assertTrue(resp.startswith("-ERR [SYS/TEMP]"), resp)
            self.assertTrue(r.cmd("NOOP").startswith("-ERR"), "still in AUTHORIZATION")
            r.close()
        finally:
            subprocess.run(["s6-svc", "-wu", "-u", sdir], timeout=20)
        self.m.wait_ready()
        p = poplib.POP3("127.0.0.1", self.m.port("pop3"), timeout=20)
        p.user(addr)
        self.assertTrue(p.pass_(pw).startswith(b"+OK"), "back once the service is up")
        p.quit()
        self.assertTrue(self.m.wait_for(lambda: "pop3-front: warning: login service unavailable "
                                        "user=" + addr in self.m.log("pop3"), 10),
                        self.m.log("pop3")[-2000:])

    def test_idle_timeout_deletes_nothing(self):
        """RFC 1939 §3: an idle session is closed silently, without UPDATE."""
        addr, pw = "idle@example.test", "Idle-pw-1"
        self.m.add_user(addr, pw)
        r = Raw(self.m.port("pop3"))
        self.assertTrue(r.closed(timeout=10), "idle before login: closed")
        self.m.send_mail(addr, [b"Subject: idle\n\nx\n"])
        r = Raw(self.m.port("pop3"))
        r.cmd("USER " + addr)
        self.assertTrue(r.cmd("PASS " + pw).startswith("+OK"))
        self.assertTrue(r.cmd("DELE 1").startswith("+OK"))
        t = time.time()
        self.assertTrue(r.closed(timeout=10), "idle after login: closed")
        self.assertLess(time.time() - t, 8)
        self.assertEqual(len(self.m.messages(addr)), 1, "timeout: no UPDATE")


@unittest.skipUnless(have("pop3-front") and have("pop3d") and have("checkpw") and have("tlsd")
                     and have("mailacct"), "pop3 programs, tlsd or mailacct not built")
class Pop3TlsPlanTest(unittest.TestCase):
    """The manual: POP over SSL only on the plans that include it (secure, premium)."""

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot.shared()
        cls.ca = os.path.join(cls.m.root, "etc", "tls", "ca.pem")
        cls.m.add_user("tlsbasic@example2.test", "Basic-pw-1")
        cls.m.add_user("tlspremium@example.test", "Premium-pw-1")

    def ctx(self):
        return ssl.create_default_context(cafile=self.ca)

    def test_pop3s_basic_plan_refused_premium_allowed(self):
        p = poplib.POP3_SSL("127.0.0.1", self.m.port("pop3s"), context=self.ctx(), timeout=20)
        self.assertNotIn("STLS", p.capa())
        p.user("tlsbasic@example2.test")
        with self.assertRaises(poplib.error_proto) as e:
            p.pass_("Basic-pw-1")
        msg = e.exception.args[0].decode()
        # [SYS/PERM]: the password was right; [AUTH] would make the mail program ask again
        self.assertTrue(msg.startswith("-ERR [SYS/PERM] POP over SSL (port 995) is not "
                                       "included in the basic plan; use port 110"), msg)
        self.assertIn("ベーシックプランでは POP over SSL (ポート995) はご利用いただけません。"
                      "ポート110をご利用いただくか、プラン変更をお申し込みください。", msg)
        p = poplib.POP3_SSL("127.0.0.1", self.m.port("pop3s"), context=self.ctx(), timeout=20)
        p.user("tlspremium@example.test")
        self.assertTrue(p.pass_("Premium-pw-1").startswith(b"+OK"))
        self.assertEqual(p.stat(), (0, 0))
        p.quit()
        # the basic plan still reads its mail over plain POP3 on 110
        p = poplib.POP3("127.0.0.1", self.m.port("pop3"), timeout=20)
        p.user("tlsbasic@example2.test")
        self.assertTrue(p.pass_("Basic-pw-1").startswith(b"+OK"))
        p.quit()

    def test_stls_on_110(self):
        """STLS on 110 is for every plan (the plan rule is the manual's POP over SSL, port 995):
        fetchmail and Thunderbird negotiate it by themselves when it is offered."""
        p = poplib.POP3("127.0.0.1", self.m.port("pop3"), timeout=20)
        self.assertIn("STLS", p.capa(), "offered on 110 (yubin-setup made the certificate)")
        p.stls(context=self.ctx())
        self.assertNotIn("STLS", p.capa(), "not offered again inside TLS")
        # RFC 2595 §4: STLS inside TLS, or in the TRANSACTION state, is refused
        self.assertEqual(refusal(p, "STLS"), b"-ERR already using TLS")
        p.user("tlsbasic@example2.test")
        self.assertTrue(p.pass_("Basic-pw-1").startswith(b"+OK"), "basic plan over STLS")
        self.assertEqual(refusal(p, "STLS"), b"-ERR already logged in")
        self.assertEqual(p.stat()[0], len(self.m.messages("tlsbasic@example2.test")))
        p.quit()
        self.assertTrue(self.m.wait_for(
            lambda: "user=tlsbasic@example2.test ip=127.0.0.1 tls=TLSv1.3+STLS"
            in self.m.log("pop3").replace("TLSv1.2+STLS", "TLSv1.3+STLS"), 10),
            self.m.log("pop3")[-2000:])
        p = poplib.POP3("127.0.0.1", self.m.port("pop3"), timeout=20)
        p.stls(context=self.ctx())
        p.user("tlspremium@example.test")
        self.assertTrue(p.pass_("Premium-pw-1").startswith(b"+OK"))
        p.quit()

    def test_stls_discards_pipelined_plaintext(self):
        """CVE-2011-0411: commands sent in clear behind STLS are not run inside TLS."""
        r = Raw(self.m.port("pop3"))
        r.send("CAPA\r\n")
        r.line()
        self.assertIn(b"STLS\r\n", r.multi())
        r.send("STLS\r\nUSER tlspremium@example.test\r\n")
        self.assertEqual(r.line(), "+OK Begin TLS negotiation")
        t = self.ctx().wrap_socket(r.s, server_hostname="127.0.0.1")
        t.sendall(b"PASS Premium-pw-1\r\n")
        reply = t.recv(4096).decode()
        self.assertTrue(reply.startswith("-ERR"), reply)
        t.close()


if __name__ == "__main__":
    unittest.main()
