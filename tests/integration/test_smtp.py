"""smtpd on the real service tree: replies and codes, relay rules, pipelining, smuggling, size,
AUTH, submission, per-IP limit, timeout, privileges. Real sockets and smtplib only."""
import base64
import glob
import os
import poplib
import pwd
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import time
import unittest

from harness import MailRoot, have, can_open, proc_uid, proc_name, IS_ROOT

PW = "Secret-pw-1"


class Client:
    """A raw SMTP client: exact bytes out, replies parsed as (code, [lines])."""

    def __init__(self, port, timeout=20, src=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(src, 0) if src else None)
        self.buf = b""
        self.greeting = self.reply()

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; buffered %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        lines = []
        while True:
            line = self._line()
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), lines

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def closed(self, timeout=5):
        """True if the server closed the connection (EOF) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, ConnectionResetError):
            return False

    def close(self):
        self.sock.close()


def text(reply):
    return " ".join(reply[1])


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def queued_files(m):
    return sorted(glob.glob(os.path.join(m.root, "queue", "mess", "*")))


def stored_with(m, marker, addrs):
    """Messages holding marker: the copies in the Maildirs of addrs, or, while none has been
    delivered yet, the copies in the queue (a message between its delivery and its removal from
    the queue is in both: it counts once)."""
    def count(paths):
        n = 0
        for p in paths:
            try:
                with open(p, "rb") as f:
                    if marker.encode() in f.read():
                        n += 1
            except OSError:
                pass
        return n
    delivered = count([p for a in addrs for p in m.messages(a)])
    return delivered if delivered else count(queued_files(m))


def set_alias(m, line):
    with open(os.path.join(m.root, "etc", "aliases"), "a") as f:
        f.write(line + "\n")
    subprocess.run([m.bin("mkmaps"), "--root", m.root, "--quiet"], check=True, env=m.env())


def compile_rules(m, rules):
    """Replace etc/tcp.smtp and compile it into etc/smtp.cdb (live for the next connection)
    as the operator does: make -C ROOT/etc (README "Production set-up"; the file's own
    comment says so too)."""
    path = os.path.join(m.root, "etc", "tcp.smtp")
    with open(path, "w") as f:
        f.write(rules)
    subprocess.run(["make", "-s", "-C", os.path.join(m.root, "etc")], check=True,
                   stdout=subprocess.DEVNULL)


_uniq = [0]


def addr(prefix="u"):
    _uniq[0] += 1
    return "%s%d-%d@example.test" % (prefix, os.getpid(), _uniq[0])


class SmtpCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not have("smtpd"):
            raise unittest.SkipTest("smtpd not built")
        cls.m = MailRoot.shared()
        cls.user = addr("smtp")
        cls.m.add_user(cls.user, PW)

    def client(self, service="smtp", src=None):
        c = Client(self.m.port(service), src=src)
        self.addCleanup(c.close)
        self.assertEqual(c.greeting[0], 220, c.greeting)
        return c

    def ehlo(self, service="smtp", src=None):
        c = self.client(service, src)
        r = c.cmd("EHLO client.example")
        self.assertEqual(r[0], 250, r)
        return c


class TestCommands(SmtpCase):
    def test_ehlo_keywords(self):
        c = self.client()
        code, lines = c.cmd("EHLO client.example")
        self.assertEqual(code, 250)
        kws = [l[4:] for l in lines[1:]]
        for k in ("PIPELINING", "SIZE 20971520", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8",
                  "AUTH PLAIN LOGIN"):
            self.assertIn(k, kws)
        self.assertTrue(lines[-1].startswith("250 ") and all(l.startswith("250-") for l in lines[:-1]))

    def test_mail_line_with_its_parameters_may_pass_512(self):
        """The longest sender (256 octets with <>) with SIZE, BODY and AUTH= (RFC 4954 §3: the
        line may be 500 longer), as a relay passing AUTH= sends it."""
        c = self.client()
        c.cmd("EHLO client.example")
        sender = "l" * 64 + "@" + ".".join(["d" * 60, "d" * 60, "d" * 59]) + ".example"
        self.assertEqual(len(sender) + 2, 256)
        line = "MAIL FROM:<%s> SIZE=1000 BODY=8BITMIME AUTH=<%s>" % (sender, sender)
        self.assertGreater(len(line) + 2, 512)
        code, lines = c.cmd(line)
        self.assertEqual(code, 250, lines)
        self.assertEqual(c.cmd("RSET")[0], 250)
        code, lines = c.cmd("MAIL FROM:<a@b.example> AUTH=<%s>" % ("x" * 1100))
        self.assertEqual(lines[0][:9], "500 5.5.2", lines)
        self.assertEqual(c.cmd("RCPT TO:<%s>" % self.user)[0], 503)      # no MAIL was taken
        code, lines = c.cmd("NOOP " + "x" * 600)
        self.assertEqual(lines[0][:9], "500 5.5.2", "other commands keep 512")

    def test_helo_has_no_extensions(self):
        c = self.client()
        code, lines = c.cmd("HELO client.example")
        self.assertEqual((code, len(lines)), (250, 1))
        self.assertEqual(c.cmd("EHLO")[0], 501)

    def test_sequence(self):
        c = self.client()
        self.assertEqual(c.cmd("MAIL FROM:<a@b.example>")[1][0][:9], "503 5.5.1")
        c.cmd("EHLO client.example")
        self.assertEqual(c.cmd("RCPT TO:<%s>" % self.user)[1][0][:9], "503 5.5.1")
        self.assertEqual(c.cmd("DATA")[1][0][:9], "503 5.5.1")
        self.assertEqual(c.cmd("MAIL FROM:<a@b.example>")[0], 250)
        self.assertEqual(c.cmd("MAIL FROM:<a@b.example>")[1][0][:9], "503 5.5.1")
        self.assertEqual(c.cmd("DATA")[1][0][:9], "554 5.5.1")     # no valid recipients
        self.assertEqual(c.cmd("RSET")[1][0][:9], "250 2.0.0")
        self.assertEqual(c.cmd("RCPT TO:<%s>" % self.user)[0], 503)
        self.assertEqual(c.cmd("MAIL FROM:<a@b.example>")[0], 250)

    def test_other_commands(self):
        c = self.client()
        self.assertEqual(c.cmd("NOOP anything")[1][0][:9], "250 2.0.0")
        self.assertEqual(c.cmd("VRFY %s" % self.user)[0], 252)
        self.assertEqual(c.cmd("EXPN list")[1][0][:9], "502 5.5.1")
        self.assertEqual(c.cmd("HELP")[0], 214)
        self.assertEqual(c.cmd("FOO bar")[1][0][:9], "500 5.5.1")
        self.assertEqual(c.cmd("RSET now")[1][0][:9], "501 5.5.4")
        self.assertEqual(c.cmd("QUIT now")[1][0][:9], "501 5.5.4")
        self.assertEqual(c.cmd("quit")[1][0][:9], "221 2.0.0")
        self.assertTrue(c.closed())

    def test_mail_syntax(self):
        c = self.ehlo()
        for line, want in [("MAIL FROM:a@b.example", "501 5.1.7"),
                           ("MAIL FROM:<a@b.example", "501 5.1.7"),
                           ("MAIL FROM:<a>", "501 5.1.7"),
                           ("MAIL TO:<a@b.example>", "501 5.5.4"),
                           ("MAIL FROM:<a@b.example> RET=FULL", "555 5.5.4"),
                           ("MAIL FROM:<a@b.example> BODY=BINARYMIME", "501 5.5.4"),
                           ("MAIL FROM:<a@b.example> SIZE=20971521", "552 5.3.4"),
                           # RFC 1870 1*20DIGIT: past 2^64-1 still a size, too big
                           ("MAIL FROM:<a@b.example> SIZE=99999999999999999999", "552 5.3.4"),
                           ("MAIL FROM:<\u00fc@b.example>", "553 5.6.7")]:
            r = c.cmd(line)
            self.assertEqual(r[1][0][:9], want, (line, r))
        self.assertIn("1.37x", text(c.cmd("MAIL FROM:<a@b.example> SIZE=30000000")))
        r = c.cmd("MAIL FROM: <a@b.example> SIZE=20971520 BODY=8BITMIME AUTH=<>")
        self.assertEqual(r[1][0][:9], "250 2.1.0", r)
        c.cmd("RSET")
        self.assertEqual(c.cmd("MAIL FROM:<> SMTPUTF8")[0], 250)
        c.cmd("RSET")
        self.assertEqual(c.cmd("MAIL FROM:<\u00fc@b.example> SMTPUTF8")[0], 250)

    def test_long_command_line(self):
        """500 with X.5.2 (syntax): X.5.6 is the AUTH line's (RFC 4954 §4, SPECS §3)."""
        c = self.ehlo()
        r = c.cmd("NOOP " + "x" * 600)
        self.assertEqual(r[1][0][:9], "500 5.5.2", r)
        r = c.cmd("NOOP " + "x" * 20000)      # longer than the input buffer: drained
        self.assertEqual(r[1][0][:9], "500 5.5.2", r)
        self.assertEqual(c.cmd("NOOP")[0], 250)

    def test_endless_line_closes(self):
        c = self.ehlo()
        c.send(b"x" * (1024 * 1024 + 1))    # one octet past what smtpd drains (1 MB)
        r = c.reply()
        self.assertEqual(r[1][0], "500 5.5.2 line too long; closing connection")
        self.assertTrue(c.closed())

    def test_bare_lf_in_command_closes(self):
        for raw in (b"NOOP\n", b"NOOP\rX\r\n"):
            c = self.ehlo()
            c.send(raw)
            r = c.reply()
            self.assertEqual(r[1][0][:9], "550 5.5.2", (raw, r))
            self.assertTrue(c.closed())


class TestRecipients(SmtpCase):
    def rcpt(self, c, a):
        r = c.cmd("RCPT TO:<%s>" % a)
        return r[1][0][:9]

    def test_source_route_is_ignored(self):
        """RFC 5321 §4.1.1.3, §C: a source route is ignored, the mailbox after it is the
        recipient (Postfix does the same); the relay rules still apply to that mailbox.
        From an address with no POP-before-SMTP grant (other tests log in from 127.0.0.1)."""
        c = self.ehlo(src="127.0.9.22")
        c.cmd("MAIL FROM:<someone@remote.example>")
        self.assertEqual(self.rcpt(c, "@a.example,@b.example:%s" % self.user), "250 2.1.5")
        r = c.cmd("RCPT TO:<@a.example:x@remote.example>")
        self.assertEqual(r[1][0][:3], "554", r)
        r = c.cmd("RCPT TO:<x%%remote.example@%s>" % self.user.split("@")[1])
        self.assertEqual(r[1][0][:9], "553 5.7.1")
        self.assertIn("addresses with %, ! or quoted @ are not accepted", text(r))
        mark = "routed-%d" % time.time_ns()
        before = len(self.m.messages(self.user))
        c.cmd("DATA")
        c.send("Subject: %s\r\n\r\nhello\r\n.\r\n" % mark)
        self.assertEqual(c.reply()[0], 250)
        self.assertTrue(self.m.wait_for(lambda: len(self.m.messages(self.user)) > before, 20))
        self.assertTrue(any(mark.encode() in open(p, "rb").read()
                            for p in self.m.messages(self.user)))

    def test_quoted_local_part_is_the_same_mailbox(self):
        local, domain = self.user.split("@")
        c = self.ehlo()
        c.cmd("MAIL FROM:<someone@remote.example>")
        self.assertEqual(self.rcpt(c, '"%s"@%s' % (local, domain)), "250 2.1.5")
        self.assertEqual(self.rcpt(c, '"%s\\%s"@%s' % (local[:2], local[2:], domain)),
                         "250 2.1.5")
        self.assertEqual(self.rcpt(c, '"Postmaster"'), "250 2.1.5")
        self.assertEqual(self.rcpt(c, '"no such one"@%s' % domain)[:3], "550")
        mark = "quoted-%d" % time.time_ns()
        before = len(self.m.messages(self.user))
        c.cmd("DATA")
        c.send("Subject: %s\r\n\r\nhello\r\n.\r\n" % mark)
        self.assertEqual(c.reply()[0], 250)
        self.assertTrue(self.m.wait_for(lambda: len(self.m.messages(self.user)) > before, 20))
        copies = [open(p, "rb").read() for p in self.m.messages(self.user)]
        self.assertEqual(sum(mark.encode() in x for x in copies), 1, "one copy for one mailbox")

    def test_local_recipients(self):
        c = self.ehlo()
        c.cmd("MAIL FROM:<someone@remote.example>")
        self.assertEqual(self.rcpt(c, self.user), "250 2.1.5")
        self.assertEqual(self.rcpt(c, self.user.upper()), "250 2.1.5")   # case variants are local
        r = c.cmd("RCPT TO:<nobody-here@example.test>")
        self.assertEqual(r[1][0][:9], "550 5.1.1")
        self.assertIn("no such mailbox", text(r))
        self.assertEqual(self.rcpt(c, "nobody-here@EXAMPLE.Test"), "550 5.1.1")
        self.assertEqual(self.rcpt(c, "postmaster"), "250 2.1.5")
        self.assertEqual(self.rcpt(c, "PostMaster"), "250 2.1.5")
        self.assertEqual(self.rcpt(c, "postmaster@example.test"), "250 2.1.5")
        self.assertEqual(self.rcpt(c, "postmaster@EXAMPLE2.TEST"), "250 2.1.5")
        self.assertEqual(self.rcpt(c, "someone"), "501 5.1.3")
        r = c.cmd("RCPT TO:<%s> NOTIFY=NEVER" % self.user)
        self.assertEqual(r[1][0][:9], "555 5.5.4")

    def test_alias_expands(self):
        target = addr("target")
        self.m.add_user(target, PW)
        alias = addr("alias")
        set_alias(self.m, "%s: %s, %s" % (alias, target, self.user))
        c = self.ehlo()
        c.cmd("MAIL FROM:<someone@remote.example>")
        self.assertEqual(self.rcpt(c, alias), "250 2.1.5")

    def test_too_many_recipients(self):
        c = self.ehlo()
        c.cmd("MAIL FROM:<someone@remote.example>")
        c.send("".join("RCPT TO:<%s>\r\n" % self.user for _ in range(1001)))
        codes = [c.reply()[1][0][:9] for _ in range(1001)]
        self.assertEqual(codes[:1000], ["250 2.1.5"] * 1000)
        self.assertEqual(codes[1000], "452 4.5.3")
        self.assertEqual(c.cmd("NOOP")[0], 250)

    @unittest.skipUnless(IS_ROOT and have("queue-run") and have("deliver"),
                         "needs the real uids (root) and the delivery chain")
    def test_quota_at_rcpt(self):
        """The account fills up by real deliveries (smtpd, queue, deliver as yubin-mbox); the
        summary deliver writes must be readable by smtpd's uid, so the next sender is refused at
        RCPT (552 5.2.2) instead of getting a 250 and a bounce later (backscatter)."""
        full = addr("full")
        self.m.add_user(full, PW, quota="1M")
        quota = 1048576
        sender = addr("filler").replace("@example.test", "@remote.example")
        line = "X" * 70 + "\r\n"                  # stored as 71 octets (LF)

        def send(lines, mark):
            s = smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=30)
            self.addCleanup(s.close)
            s.ehlo()
            s.mail(sender)                        # no SIZE=: the room is checked at RCPT
            self.assertEqual(s.rcpt(full)[0], 250)
            self.assertEqual(s.data("Subject: %s\r\n\r\n%s" % (mark, line * lines))[0], 250)
            s.quit()
            self.assertTrue(self.m.wait_for(
                lambda: any(mark.encode() in open(p, "rb").read()
                            for p in self.m.messages(full)), 20), self.m.log("deliver")[-2000:])

        def used():
            return sum(os.path.getsize(p) for p in self.m.messages(full))

        send(100, "fill-1")
        first = used()
        summary = os.path.join(self.m.root, "quota", full)
        # deliver writes the summary just after it renames the message into new/
        self.assertTrue(self.m.wait_for(lambda: os.path.exists(summary), 10),
                        self.m.log("deliver")[-2000:])
        st = os.stat(summary)
        self.assertEqual((st.st_mode & 0o7777, st.st_uid, st.st_gid),
                         (0o640, pwd.getpwnam("yubin-mbox").pw_uid,
                          pwd.getpwnam("yubin-smtpd").pw_gid), "quota/%s from deliver" % full)
        self.assertTrue(can_open("yubin-smtpd", summary))
        # room is checked against SIZE= already
        c = self.ehlo()
        c.cmd("MAIL FROM:<%s> SIZE=%d" % (sender, quota))
        r = c.cmd("RCPT TO:<%s>" % full)
        self.assertEqual(r[1][0][:9], "552 5.2.2", r)
        self.assertIn("no room for a message of this size", text(r))
        c.cmd("QUIT")
        # the second message takes usage to just under the quota: past 90%, so deliver adds
        # the warning, and the mailbox is full
        send((quota - 2 * first - 300) // 71 + 100, "fill-2")
        self.assertTrue(self.m.wait_for(lambda: used() >= quota, 10), used())
        self.assertEqual(self.m.log("queue").count("to=<%s> reason=" % full), 0,
                         "a filling message bounced")
        s = smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=30)
        self.addCleanup(s.close)
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
            s.sendmail(sender, [full], "Subject: one too many\r\n\r\nhello\r\n")
        code, msg = cm.exception.recipients[full]
        self.assertEqual(code, 552, msg)
        self.assertRegex(msg.decode(), r"^5\.2\.2 <%s>: mailbox full \(quota 1 MB\)$" % full)
        s.quit()
        # nothing queued, nothing bounced back to the (possibly forged) sender
        time.sleep(0.5)
        self.assertNotIn("one too many", "".join(open(p, errors="replace").read()
                                                for p in queued_files(self.m)))
        self.assertNotIn("bounced", "\n".join(l for l in self.m.log("queue").splitlines()
                                              if "to=<%s>" % full in l))
        self.assertNotIn("over quota", "\n".join(l for l in self.m.log("deliver").splitlines()
                                                 if "to=<%s>" % full in l))
        self.assertNotIn("quota not checked", self.m.log("smtp"))
        # the operator removes the big message by hand (the file, not through POP3): smtpd's
        # summary still says full; the customer's next POP3 session, deleting nothing, reads
        # the usage again and rewrites it, and mail is accepted again at once
        big = max(self.m.messages(full), key=os.path.getsize)
        os.unlink(big)
        c = self.ehlo()
        c.cmd("MAIL FROM:<%s>" % sender)
        self.assertEqual(self.rcpt(c, full), "552 5.2.2", "the summary is stale")
        c.cmd("QUIT")
        p = poplib.POP3("127.0.0.1", self.m.port("pop3"), timeout=30)
        self.addCleanup(p.close)
        p.user(full)
        p.pass_(PW)
        self.assertEqual(p.stat()[0], len(self.m.messages(full)))
        p.quit()
        st = os.stat(summary)
        self.assertEqual((st.st_mode & 0o7777, st.st_gid),
                         (0o640, pwd.getpwnam("yubin-smtpd").pw_gid))
        c = self.ehlo()
        c.cmd("MAIL FROM:<%s> SIZE=100000" % sender)
        self.assertEqual(self.rcpt(c, full), "250 2.1.5")
        self.assertNotIn("quota not checked", self.m.log("smtp"))

    @unittest.skipUnless(IS_ROOT and have("queue-run") and have("deliver") and have("pop3d")
                         and shutil.which("strace"), "needs root, the delivery chain, strace")
    def test_pop3d_killed_in_update_leaves_no_stale_full(self):
        """The customer deletes everything by POP3 and the session dies (kill -9) after the
        first file is unlinked, before the usage summary is rewritten: smtpd must not go on
        refusing every sender with 552 for a mailbox that is now nearly empty."""
        full = addr("killedquit")
        self.m.add_user(full, PW, quota="1M")
        sender = "filler@remote.example"
        body = ("X" * 70 + "\r\n") * 4700            # 334 KB stored: three nearly fill 1 MB
        for i in range(3):
            with smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=30) as s:
                s.sendmail(sender, [full], "Subject: fill %d\r\n\r\n%s" % (i, body))
            self.assertTrue(self.m.wait_for(lambda: len(self.m.messages(full)) > i, 20))
        def refused():
            c = self.ehlo()
            c.cmd("MAIL FROM:<%s> SIZE=100000" % sender)
            r = self.rcpt(c, full)
            c.cmd("QUIT")
            return r == "552 5.2.2"
        # deliver adds a message to the usage summary a moment after its file is in new/
        self.assertTrue(self.m.wait_for(refused, 10, 0.2), "full by real deliveries")
        p = poplib.POP3("127.0.0.1", self.m.port("pop3"), timeout=30)
        self.addCleanup(p.close)
        p.user(full)
        p.pass_(PW)
        n = p.stat()[0]                                 # the three and the quota warning
        self.assertGreaterEqual(n, 3)
        for i in range(1, n + 1):
            p.dele(i)
        pid = max(q for q in self.m.pids("pop3d") if proc_name(q) == "pop3d")
        # the first unlink of UPDATE returns, then the session waits 30 s: it is killed there
        tracer = subprocess.Popen(["strace", "-qq", "-p", str(pid), "-e", "trace=unlinkat",
                                   "-e", "inject=unlinkat:delay_exit=30000000:when=1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: tracer.poll() is None and tracer.kill())
        time.sleep(0.5)     # attached
        p.sock.sendall(b"QUIT\r\n")
        self.assertTrue(self.m.wait_for(lambda: len(self.m.messages(full)) == n - 1, 10),
                        "UPDATE began")
        os.kill(pid, 9)
        tracer.kill()       # ours; it may sit out the delay it was told to inject
        tracer.wait(10)
        self.assertTrue(self.m.wait_for(lambda: not os.path.exists("/proc/%d" % pid), 10))
        self.assertEqual(len(self.m.messages(full)), n - 1, "killed in the middle of UPDATE")
        c = self.ehlo()
        c.cmd("MAIL FROM:<%s> SIZE=100000" % sender)
        self.assertEqual(self.rcpt(c, full), "250 2.1.5")
        c.cmd("QUIT")


class TestAuth(SmtpCase):
    def test_plain_good_allows_relay(self):
        c = self.ehlo()
        r = c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (self.user, PW)))
        self.assertEqual(r[1][0][:9], "235 2.7.0", r)
        self.assertEqual(c.cmd("AUTH PLAIN " + b64("\0a\0b"))[1][0][:9], "503 5.5.1")
        c.cmd("MAIL FROM:<%s>" % self.user)
        self.assertEqual(c.cmd("RCPT TO:<x@remote.example>")[1][0][:9], "250 2.1.5")
        # smtpd's line reaches the log through s6-log, a moment after the client's reply
        self.assertTrue(self.m.wait_for(lambda: "auth ok ip=127.0.0.1" in self.m.log("smtp"), 10),
                        self.m.log("smtp")[-2000:])
        self.assertNotIn(PW, self.m.log("smtp"))

    def test_plain_continuation_and_login(self):
        c = self.ehlo()
        self.assertEqual(c.cmd("AUTH PLAIN")[1], ["334 "])
        self.assertEqual(c.cmd(b64("\0%s\0%s" % (self.user, PW)))[0], 235)
        c = self.ehlo()
        self.assertEqual(c.cmd("AUTH LOGIN")[1], ["334 VXNlcm5hbWU6"])
        self.assertEqual(c.cmd(b64(self.user))[1], ["334 UGFzc3dvcmQ6"])
        self.assertEqual(c.cmd(b64(PW))[0], 235)
        c = self.ehlo()
        self.assertEqual(c.cmd("AUTH LOGIN " + b64(self.user))[1], ["334 UGFzc3dvcmQ6"])
        self.assertEqual(c.cmd(b64(PW))[0], 235)

    def test_smtplib_login(self):
        s = smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=20)
        self.addCleanup(s.close)
        s.ehlo()
        self.assertEqual(s.login(self.user, PW)[0], 235)

    def test_bad_credentials(self):
        c = self.ehlo()
        r = c.cmd("AUTH PLAIN " + b64("\0%s\0wrong" % self.user))
        self.assertEqual(r[1][0][:9], "535 5.7.8", r)
        c.cmd("AUTH LOGIN")
        c.cmd(b64(self.user))
        self.assertEqual(c.cmd(b64("wrong"))[1][0][:9], "535 5.7.8")
        self.assertTrue(self.m.wait_for(lambda: "auth failed ip=127.0.0.1" in self.m.log("smtp"),
                                        10), self.m.log("smtp")[-2000:])

    def test_cancel_bad_base64_mech(self):
        c = self.ehlo()
        c.cmd("AUTH PLAIN")
        self.assertEqual(c.cmd("*")[1][0][:3], "501")
        c.cmd("AUTH LOGIN")
        self.assertEqual(c.cmd("*")[1][0][:3], "501")
        self.assertEqual(c.cmd("AUTH PLAIN not*base64")[1][0][:9], "501 5.5.2")
        self.assertEqual(c.cmd("AUTH PLAIN AA=A")[1][0][:9], "501 5.5.2")
        self.assertEqual(c.cmd("AUTH CRAM-MD5")[1][0][:9], "504 5.5.4")
        self.assertEqual(c.cmd("AUTH PLAIN " + "A" * 12000)[1][0][:3], "535")  # long, accepted
        self.assertEqual(c.cmd("NOOP")[0], 250)

    def test_auth_line_too_long(self):
        """docs/smtp.md, RFC 4954 §4: an AUTH line over 12288 octets, as the command (its
        initial response), after 334, or past the input buffer, gets 500 5.5.6 authentication
        line too long; the session goes on."""
        c = self.ehlo()
        for line in ("AUTH PLAIN " + "A" * 13000, "AUTH LOGIN " + "A" * 40000):
            self.assertEqual(c.cmd(line)[1], ["500 5.5.6 authentication line too long"])
            self.assertEqual(c.cmd("NOOP")[0], 250)
        self.assertEqual(c.cmd("AUTH PLAIN")[1], ["334 "])
        self.assertEqual(c.cmd("A" * 13000)[1], ["500 5.5.6 authentication line too long"])
        self.assertEqual(c.cmd("MAIL FROM:<" + "a" * 1100 + "@example.com>")[1],
                         ["500 5.5.2 line too long: MAIL with its parameters is limited to 1064 "
                          "characters"])
        self.assertEqual(c.cmd("RCPT TO:<" + "a" * 600 + "@example.com>")[1],
                         ["500 5.5.2 line too long: commands are limited to 512 characters"])
        self.assertEqual(c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (self.user, PW)))[0], 235)

    def test_auth_sequence(self):
        c = self.client()
        self.assertEqual(c.cmd("AUTH PLAIN " + b64("\0a@b\0c"))[1][0][:9], "503 5.5.1")
        c.cmd("HELO client.example")     # RFC 4954 §4: AUTH is an extension of EHLO's
        self.assertEqual(c.cmd("AUTH PLAIN " + b64("\0a@b\0c"))[1][0][:9], "503 5.5.1")
        c.cmd("EHLO client.example")
        # "=" is an empty initial response (RFC 4954 §4): a PLAIN message it is not, but it
        # is no bad base64 either
        self.assertEqual(c.cmd("AUTH PLAIN =")[1][0][:9], "535 5.7.8")
        c.cmd("MAIL FROM:<a@b.example>")
        self.assertEqual(c.cmd("AUTH PLAIN " + b64("\0a@b\0c"))[1][0][:9], "503 5.5.1")

    def test_three_failures_close(self):
        c = self.ehlo()
        for _ in range(2):
            self.assertEqual(c.cmd("AUTH PLAIN " + b64("\0%s\0bad" % self.user))[0], 535)
        c.send("AUTH PLAIN " + b64("\0%s\0bad" % self.user) + "\r\n")
        self.assertEqual(c.reply()[0], 535)
        self.assertEqual(c.reply()[1][0][:9], "421 4.7.0")
        self.assertTrue(c.closed())


class TestSubmission(SmtpCase):
    def test_auth_required(self):
        # from an address that never checked mail here (POP3 tests log in from 127.0.0.1, and
        # a POP-before-SMTP grant stands in for AUTH on 587)
        c = self.ehlo("submission", src="127.0.9.20")
        r = c.cmd("MAIL FROM:<%s>" % self.user)
        self.assertEqual(r[1][0][:9], "530 5.7.0", r)

    def test_sender_must_be_own(self):
        c = self.ehlo("submission")
        self.assertEqual(c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (self.user, PW)))[0], 235)
        r = c.cmd("MAIL FROM:<other@example.test>")
        self.assertEqual(r[1][0][:9], "553 5.7.1", r)
        # the null sender names nobody: a read receipt (RFC 8098 §2.1) carries it
        self.assertEqual(c.cmd("MAIL FROM:<>")[1][0][:9], "250 2.1.0")
        self.assertEqual(c.cmd("RSET")[0], 250)
        self.assertEqual(c.cmd("MAIL FROM:<%s>" % self.user.upper())[0], 250)
        self.assertEqual(c.cmd("RCPT TO:<x@remote.example>")[0], 250)

    def test_alias_sender_allowed(self):
        alias = addr("from")
        set_alias(self.m, "%s: %s" % (alias, self.user))
        c = self.ehlo("submission")
        c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (self.user, PW)))
        self.assertEqual(c.cmd("MAIL FROM:<%s>" % alias)[0], 250)


class POP3From(poplib.POP3):
    """poplib from a chosen loopback address (each test's POP-before-SMTP grant is its own)."""

    def __init__(self, src, port):
        self.src = src
        super().__init__("127.0.0.1", port, timeout=20)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.src, 0))


def pop_login(m, src, user, password):
    """A mail program checking mail from src: the login leaves the POP-before-SMTP grant."""
    p = POP3From(src, m.port("pop3"))
    p.user(user)
    p.pass_(password)
    p.quit()


def smtp_from(m, src, service="smtp"):
    s = smtplib.SMTP("127.0.0.1", m.port(service), timeout=20, source_address=(src, 0))
    s.ehlo("client.example")
    return s


def note(marker, sender="x@example.test"):
    return "From: <%s>\r\nSubject: %s\r\n\r\nbody %s\r\n" % (sender, marker, marker)


_sinks = {}


def relay_sink(m):
    """A remote domain (relayed.test) routed to a loopback SMTP sink: mail relayed there
    arrives at the sink through queue-run and remote."""
    from smtpsink import Sink
    if m.root not in _sinks:
        sink = Sink().start()
        with open(os.path.join(m.root, "etc", "routes"), "a") as f:
            f.write("relayed.test:127.0.0.1:%d\n" % sink.port)
        subprocess.run([m.bin("mkmaps"), "--root", m.root, "--quiet"], check=True, env=m.env())
        _sinks[m.root] = sink
    return _sinks[m.root]


def sink_has(m, sink, marker, timeout=20):
    return m.wait_for(lambda: [x for x in sink.messages() if marker.encode() in x[2]], timeout)


class TestLoginSender(SmtpCase):
    """A login (SMTP AUTH, or a POP3 login from the same address for POP before SMTP) lets a
    customer relay, as the login or one of its aliases only, on port 25 as on 587."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not (have("queue-run") and have("remote") and have("pop3d")):
            raise unittest.SkipTest("queue-run, remote or pop3d not built")
        cls.alice = addr("alice")
        cls.bob = addr("bob")
        cls.m.add_user(cls.alice, PW)
        cls.m.add_user(cls.bob, PW)
        cls.alias = addr("alice-alias")
        set_alias(cls.m, "%s: %s" % (cls.alias, cls.alice))
        cls.sink = relay_sink(cls.m)

    def refused(self, exc, code=553):
        """The reply smtplib got: the enhanced code and a sentence."""
        err = exc.exception
        if isinstance(err, smtplib.SMTPRecipientsRefused):
            (c, msg), = err.recipients.values()
        else:
            c, msg = err.smtp_code, err.smtp_error
        self.assertEqual(c, code, err)
        return msg.decode()

    def test_auth_on_port_25_sends_only_as_the_login(self):
        s = smtp_from(self.m, "127.0.9.1")
        self.addCleanup(s.close)
        s.login(self.alice, PW)
        with self.assertRaises(smtplib.SMTPSenderRefused) as e:
            s.sendmail(self.bob, ["x@relayed.test"], note("auth25-bob", self.bob))
        msg = self.refused(e)
        self.assertTrue(msg.startswith("5.7.1 <%s>: sender address is not yours; send as <%s> or "
                                       "one of its aliases" % (self.bob, self.alice)), msg)
        # the null sender names nobody: a read receipt (RFC 8098 §2.1) after AUTH is relayed
        mark_null = "auth25-null-%d" % time.time_ns()
        s.sendmail("", ["x@relayed.test"], note(mark_null))
        mark_own, mark_alias = "auth25-own-%d" % time.time_ns(), "auth25-alias-%d" % time.time_ns()
        s.sendmail(self.alice, ["x@relayed.test"], note(mark_own, self.alice))
        s.sendmail(self.alias.upper(), ["x@relayed.test"], note(mark_alias, self.alias))
        self.assertTrue(sink_has(self.m, self.sink, mark_own), self.m.log("queue")[-2000:])
        self.assertTrue(sink_has(self.m, self.sink, mark_alias), self.m.log("queue")[-2000:])
        self.assertTrue(sink_has(self.m, self.sink, mark_null), self.m.log("queue")[-2000:])
        self.assertFalse([x for x in self.sink.messages() if b"auth25-bob" in x[2]])
        # the null sender's line also ends "relay=auth user=alice": wait for the one asserted
        own = re.compile(r"accepted session=\S+ msg=\S+ id=\S+ from=<%s> rcpts=1 "
                         r"size=\d+ relay=auth user=%s\n" % (self.alice, self.alice))
        self.assertTrue(self.m.wait_for(lambda: own.search(self.m.log("smtp")), 10),
                        self.m.log("smtp")[-2000:])

    def test_pop_before_smtp_on_port_25(self):
        src = "127.0.9.2"
        s = smtp_from(self.m, src)
        self.addCleanup(s.close)
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as e:
            s.sendmail(self.alice, ["x@relayed.test"], note("pbs25-before"))
        self.assertIn("5.7.1", self.refused(e, 554))                 # no grant yet
        s.close()
        pop_login(self.m, src, self.alice, PW)
        s = smtp_from(self.m, src)
        self.addCleanup(s.close)
        # the grant is alice's: as bob it relays nothing
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as e:
            s.sendmail(self.bob, ["x@relayed.test"], note("pbs25-bob", self.bob))
        msg = self.refused(e)
        self.assertTrue(msg.startswith("5.7.1 <%s>: sender address is not yours; send as the "
                                       "address you checked mail with (POP before SMTP)"
                                       % self.bob), msg)
        self.assertNotIn(self.alice, msg)
        # a grant is found by IP alone: the sender is what ties the relay to the account,
        # so the null sender needs AUTH
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as e:
            s.sendmail("", ["x@relayed.test"], note("pbs25-null"))
        self.assertIn("5.7.1 <>: the null sender is relayed after SMTP AUTH only",
                      self.refused(e))
        # mail to a local recipient is inbound mail: any sender, grant or not
        mark_in = "pbs25-inbound-%d" % time.time_ns()
        s.sendmail(self.bob, [self.alice], note(mark_in, self.bob))
        mark_own, mark_alias = "pbs25-own-%d" % time.time_ns(), "pbs25-alias-%d" % time.time_ns()
        s.sendmail(self.alice.upper(), ["x@relayed.test"], note(mark_own, self.alice))
        s.sendmail(self.alias, ["x@relayed.test", self.bob], note(mark_alias, self.alias))
        self.assertTrue(sink_has(self.m, self.sink, mark_own), self.m.log("queue")[-2000:])
        self.assertTrue(sink_has(self.m, self.sink, mark_alias), self.m.log("queue")[-2000:])
        self.assertTrue(self.m.wait_for(lambda: stored_with(self.m, mark_in, [self.alice]), 20))
        self.assertFalse([x for x in self.sink.messages() if b"pbs25-bob" in x[2]])
        # the own address's line also ends "relay=pop-before-smtp user=alice": wait for each
        # line asserted
        alias = re.compile(r"accepted session=\S+ msg=\S+ id=\S+ from=<%s> rcpts=2 "
                           r"size=\d+ relay=pop-before-smtp user=%s\n" % (self.alias, self.alice))
        inbound = re.compile(r"accepted session=\S+ msg=\S+ id=\S+ from=<%s> rcpts=1 "
                             r"size=\d+\n" % self.bob)              # inbound: nothing relayed
        for line in (alias, inbound):
            self.assertTrue(self.m.wait_for(lambda: line.search(self.m.log("smtp")), 10),
                            (line.pattern, self.m.log("smtp")[-2000:]))

    def test_bounce_to_an_alias_sender_reaches_its_account(self):
        """alice sends as her alias; the remote server refuses the recipient: the bounce goes
        to the alias, and so reaches alice's mailbox (not a double bounce to the operator)."""
        from smtpsink import Sink
        sink = Sink(script={"RCPT": ["550 5.1.1 no such user here"] * 3}).start()
        self.addCleanup(sink.stop)
        dom = "refusing%d.test" % sink.port
        with open(os.path.join(self.m.root, "etc", "routes"), "a") as f:
            f.write("%s:127.0.0.1:%d\n" % (dom, sink.port))
        subprocess.run([self.m.bin("mkmaps"), "--root", self.m.root, "--quiet"], check=True,
                       env=self.m.env())
        mark = "alias-bounce-%d" % time.time_ns()
        s = smtp_from(self.m, "127.0.9.5")
        self.addCleanup(s.close)
        s.login(self.alice, PW)
        s.sendmail(self.alias, ["nobody@" + dom], note(mark, self.alias))

        def bounce():
            copies = [open(p, "rb").read() for p in self.m.messages(self.alice)]
            return [x for x in copies if mark.encode() in x and b"Undelivered Mail" in x]
        self.assertTrue(self.m.wait_for(bounce, 30), self.m.log("queue")[-2000:])
        got = bounce()[0]
        self.assertIn(b"\nTo: <%s>" % self.alias.encode(), got)
        self.assertNotIn("refused id=", "\n".join(l for l in self.m.log("deliver").splitlines()
                                                  if self.alias in l))

    def test_refused_relay_leaves_local_mail_inbound(self):
        """Someone behind the address of a grant (a shared NAT) is refused the relay as another
        sender; the same transaction's local recipient then gets ordinary inbound mail: checked,
        not signed with the grant's domain, not logged as the account's."""
        src = "127.0.9.4"
        pop_login(self.m, src, self.alice, PW)
        s = smtp_from(self.m, src)
        self.addCleanup(s.close)
        mark = "nat-%d" % time.time_ns()
        self.assertEqual(s.mail("forger@evil.example")[0], 250)
        code, msg = s.rcpt("someone@relayed.test")
        self.assertEqual(code, 553, msg)
        self.assertEqual(s.rcpt(self.bob)[0], 250)
        code, msg = s.data(note(mark, "boss@example.test"))
        self.assertEqual(code, 250, msg)
        def delivered():
            copies = [open(p, "rb").read() for p in self.m.messages(self.bob)]
            return [x for x in copies if mark.encode() in x]
        self.assertTrue(self.m.wait_for(delivered, 20), self.m.log("queue")[-2000:])
        head = delivered()[0].split(b"\n\n", 1)[0].decode()
        self.assertIn("Authentication-Results:", head)
        self.assertNotIn("DKIM-Signature:", head)
        # the refusal's line names the sender too: wait for the line asserted
        accepted = re.compile(r"accepted session=\S+ msg=\S+ id=\S+ "
                              r"from=<forger@evil.example> rcpts=1 size=\d+\n")
        self.assertTrue(self.m.wait_for(lambda: accepted.search(self.m.log("smtp")), 10),
                        self.m.log("smtp")[-2000:])

    def test_pop_before_smtp_on_port_587(self):
        src = "127.0.9.3"
        pop_login(self.m, src, self.alice, PW)
        s = smtp_from(self.m, src, "submission")
        self.addCleanup(s.close)
        with self.assertRaises(smtplib.SMTPSenderRefused) as e:
            s.sendmail(self.bob, ["x@relayed.test"], note("pbs587-bob", self.bob))
        self.assertIn("sender address is not yours", self.refused(e))
        mark = "pbs587-own-%d" % time.time_ns()
        s.sendmail(self.alice, ["x@relayed.test"], note(mark, self.alice))
        self.assertTrue(sink_has(self.m, self.sink, mark), self.m.log("queue")[-2000:])
        # the line of this message (earlier tests' "accepted" lines from alice are in the log
        # already, so the wait is for the line asserted)
        accepted = re.compile(r"accepted .* from=<%s> rcpts=1 size=\d+ relay=pop-before-smtp "
                              r"user=%s\n" % (self.alice, self.alice))
        self.assertTrue(self.m.wait_for(lambda: accepted.search(self.m.log("submission")), 10),
                        self.m.log("submission")[-2000:])
        # another address, with no POP3 login: still AUTH first
        other = smtp_from(self.m, "127.0.9.4", "submission")
        self.addCleanup(other.close)
        with self.assertRaises(smtplib.SMTPSenderRefused) as e:
            other.sendmail(self.alice, ["x@relayed.test"], note("pbs587-nogrant"))
        self.assertIn("Authentication required", self.refused(e, 530))
        # port 465 takes SMTP AUTH only, grant or not
        if "submissions" in self.m.listeners():
            ctx = ssl.create_default_context(cafile=os.path.join(self.m.root, "etc", "tls",
                                                                 "ca.pem"))
            t = smtplib.SMTP_SSL("127.0.0.1", self.m.port("submissions"), timeout=20,
                                 context=ctx, source_address=(src, 0))
            self.addCleanup(t.close)
            t.ehlo("client.example")
            with self.assertRaises(smtplib.SMTPSenderRefused) as e:
                t.sendmail(self.alice, ["x@relayed.test"], note("pbs465"))
            self.assertIn("Authentication required", self.refused(e, 530))


def send_raw(c, rcpts, body, sender="someone@remote.example"):
    """MAIL, RCPTs and DATA pipelined in one write, then the body bytes; returns the replies."""
    c.send("MAIL FROM:<%s>\r\n" % sender + "".join("RCPT TO:<%s>\r\n" % r for r in rcpts)
           + "DATA\r\n")
    replies = [c.reply() for _ in range(len(rcpts) + 2)]
    if replies[-1][0] != 354:
        return replies, None
    c.send(body)
    return replies, c.reply()


class TestInternationalDomains(SmtpCase):
    """A domain written in Japanese (U-labels, RFC 6531) is our maps', the DNS's and every
    server's in A-labels (xn--, RFC 5891 §4.4), as Postfix converts it: smtpd takes it in
    either form, and the envelope goes on in A-labels."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not (have("queue-run") and have("remote") and have("pop3d")):
            raise unittest.SkipTest("queue-run, remote or pop3d not built")
        from smtpsink import Sink
        # the operator types the customer's domain as the customer wrote it
        out = cls.m.mailacct("domain", "add", "日本語.jp", "--plan", "basic",
                             "--admin", "admin@example.test").stdout
        assert "domain xn--wgv71a119e.jp added" in out, out
        cls.taro = "taro%d@xn--wgv71a119e.jp" % os.getpid()
        out = cls.m.add_user(cls.taro.replace("xn--wgv71a119e.jp", "日本語。ＪＰ"), PW).stdout
        assert cls.taro in out, out
        # メール.test, routed to a server without SMTPUTF8
        cls.sink = Sink(caps=("PIPELINING", "SIZE 20971520")).start()
        with open(os.path.join(cls.m.root, "etc", "routes"), "a") as f:
            f.write("xn--4dkua4c.test:127.0.0.1:%d\n" % cls.sink.port)
        subprocess.run([cls.m.bin("mkmaps"), "--root", cls.m.root, "--quiet"], check=True,
                       env=cls.m.env())

    @classmethod
    def tearDownClass(cls):
        cls.sink.stop()

    def fetch(self, marker):
        p = poplib.POP3("127.0.0.1", self.m.port("pop3"), timeout=20)
        try:
            p.user(self.taro)
            p.pass_(PW)
            for i in range(len(p.list()[1]), 0, -1):
                text_ = b"\n".join(p.retr(i)[1])
                if marker.encode() in text_:
                    return text_
            return None
        finally:
            p.quit()

    def test_japanese_domain_reaches_the_mailbox(self):
        """Another server (or a mail program) writes the recipient's domain in Japanese: the
        mail is delivered to the mailbox of its xn-- form, which the customer reads by POP3."""
        local = self.taro.split("@")[0]
        marker = "idn-in-%d" % time.time_ns()
        s = smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=20)
        self.addCleanup(s.close)
        s.ehlo("client.example")
        refused = s.sendmail("someone@remote.example", ["%s@日本語.jp" % local,
                                                        "%s@日本語。ｊｐ" % local],
                             note(marker, "someone@remote.example").encode(),
                             mail_options=["SMTPUTF8"])
        self.assertEqual(refused, {})
        got = self.m.wait_for(lambda: self.fetch(marker), 30)
        self.assertTrue(got, self.m.log("queue")[-2000:])
        self.assertIn(("Delivered-To: %s" % self.taro).encode(), got)

    def test_japanese_domain_goes_out_in_a_labels(self):
        """A customer writes to メール.test, whose server has no SMTPUTF8: the envelope goes
        out as hanako@xn--4dkua4c.test, with no SMTPUTF8 needed, instead of a bounce."""
        marker = "idn-out-%d" % time.time_ns()
        s = smtplib.SMTP("127.0.0.1", self.m.port("submission"), timeout=20)
        self.addCleanup(s.close)
        s.ehlo("client.example")
        s.login(self.user, PW)
        s.sendmail(self.user, ["hanako@メール.test"], note(marker, self.user).encode(),
                   mail_options=["SMTPUTF8"])
        got = sink_has(self.m, self.sink, marker, 30)
        self.assertTrue(got, self.m.log("queue")[-2000:])
        mail, rcpts, data = got[0]
        self.assertEqual(rcpts, ["hanako@xn--4dkua4c.test"])
        self.assertNotIn(b"SMTPUTF8", mail)

    def test_login_typed_in_japanese(self):
        """The customer types the address in the mail program as printed on a business card,
        taro@日本語.jp, and the program sends those UTF-8 octets as the login (RFC 4616 §2):
        SMTP AUTH (PLAIN and LOGIN, curl as the mail program) sends on 587, and POP3 USER
        (poplib) reads the mail, both as the account taro@xn--wgv71a119e.jp."""
        local = self.taro.split("@")[0]
        typed = "%s@日本語.jp" % local
        marks = []
        for mech in ("PLAIN", "LOGIN"):
            mark = "idn-login-%s-%d" % (mech, time.time_ns())
            p = subprocess.run(
                ["curl", "-sS", "--max-time", "30", "--url",
                 "smtp://127.0.0.1:%d" % self.m.port("submission"), "--login-options",
                 "AUTH=" + mech, "--user", "%s:%s" % (typed, PW), "--mail-from", self.taro,
                 "--mail-rcpt", self.taro, "--upload-file", "-"],
                input=note(mark, self.taro).encode(), capture_output=True, timeout=60)
            self.assertEqual(p.returncode, 0, (mech, p.stderr, self.m.log("smtp")[-1500:]))
            marks.append(mark)
        # smtpd's lines reach the log through s6-log, a moment after curl has its reply
        self.assertTrue(self.m.wait_for(lambda: "auth ok ip=127.0.0.1" in self.m.log("submission"),
                                        10), self.m.log("submission")[-2000:])
        self.assertTrue(self.m.wait_for(lambda: "user=%s" % self.taro in self.m.log("submission"),
                                        10), self.m.log("submission")[-2000:])

        def read_as(login):
            c = poplib.POP3("127.0.0.1", self.m.port("pop3"), timeout=20)
            try:
                c.user(login)           # poplib sends the command in UTF-8
                c.pass_(PW)
                got = b"\n".join(b"\n".join(c.retr(i)[1])
                                  for i in range(1, len(c.list()[1]) + 1))
                return all(m.encode() in got for m in marks) and got
            finally:
                c.quit()
        self.assertTrue(self.m.wait_for(lambda: read_as(typed), 30), self.m.log("queue")[-2000:])
        # typed with the input method still in full-width mode: ｔａｒｏ…＠日本語．ｊｐ
        wide = "".join(chr(ord(ch) + 0xfee0) for ch in local) + "＠日本語．ｊｐ"
        self.assertTrue(read_as(wide))

    def test_operator_types_an_address_in_full_width(self):
        """The operator copies an address from a customer's form typed with the input method in
        full-width mode: mailacct stores it in the maps' form and says so, and the customer
        logs in with the address as printed on the sheet."""
        local = "jiro%d" % os.getpid()
        wide = "".join(chr(ord(ch) + 0xfee0) for ch in local.capitalize()) + "＠日本語．ｊｐ"
        out = self.m.mailacct("add", wide, "--password", PW).stdout
        self.assertIn("%s@xn--wgv71a119e.jp" % local, out)
        p = poplib.POP3("127.0.0.1", self.m.port("pop3"), timeout=20)
        try:
            p.user("%s@xn--wgv71a119e.jp" % local)
            self.assertTrue(p.pass_(PW).startswith(b"+OK"))
        finally:
            p.quit()

    def test_a_name_that_is_no_domain_is_refused_with_a_reason(self):
        c = self.ehlo()
        self.assertEqual(c.cmd("MAIL FROM:<someone@remote.example> SMTPUTF8")[0], 250)
        # a surrogate in UTF-8 (RFC 3629 §3) is no character
        c.send(b"RCPT TO:<x@\xed\xa0\x80.jp>\r\n")
        r = c.reply()
        self.assertEqual(r[1][0][:9], "553 5.1.2", r)
        self.assertIn("not a valid internationalized domain name", text(r))
        c.send(b"RSET\r\n")
        c.reply()
        c.send(b"MAIL FROM:<someone@\xff.example> SMTPUTF8\r\n")
        r = c.reply()
        self.assertEqual(r[1][0][:3], "553", r)

    def test_full_width_punctuation_is_no_domain(self):
        """Full-width ＠, ＞ or ＿ map to ASCII punctuation (UTS #46), which no host name holds
        (STD3 rules): refused, not taken into the envelope as x@y@xn--... or x@y>.jp."""
        c = self.ehlo()
        self.assertEqual(c.cmd("MAIL FROM:<someone@remote.example> SMTPUTF8")[0], 250)
        for dom in ("ｙ＠日本語.jp", "日本語＞.jp", "日本＿語.jp"):
            c.send(("RCPT TO:<x@%s>\r\n" % dom).encode())
            r = c.reply()
            self.assertEqual(r[1][0][:9], "553 5.1.2", (dom, r))
        c.send(b"RSET\r\n")
        c.reply()
        c.send("MAIL FROM:<a@ｂ＠日本語.jp> SMTPUTF8\r\n".encode())
        r = c.reply()
        self.assertEqual(r[1][0][:9], "553 5.1.7", r)


def delivered_copy(test, user, mark):
    """The bytes of the message holding mark as deliver stored it in user's Maildir (what the
    customer's mail program gets), once queue-run has delivered it."""
    def find():
        for p in test.m.messages(user):
            with open(p, "rb") as f:
                data = f.read()
            if mark.encode() in data:
                return data
        return None
    data = test.m.wait_for(find, 20)
    test.assertTrue(data, "%s not delivered to %s\n%s" % (mark, user, test.m.log("queue")[-2000:]))
    return data


@unittest.skipUnless(have("queue-inject") and have("queue-run") and have("deliver"),
                     "the queue or deliver not built")
class TestData(SmtpCase):

    def test_pipelined_message_queued(self):
        c = self.ehlo()
        mark = "pipelined-%d" % time.time_ns()
        replies, final = send_raw(c, [self.user, "nobody-here@example.test"],
                                  "Subject: %s\r\n\r\n..dot\r\n.\r\n" % mark)
        self.assertEqual([r[0] for r in replies], [250, 250, 550, 354])
        self.assertEqual(final[1][0][:24], "250 2.0.0 Ok: queued as ", final)
        qid = final[1][0][24:]
        self.assertIn("accepted", self.m.wait_for(lambda: ("id=%s" % qid) in self.m.log("smtp")
                                                  and self.m.log("smtp")))
        self.assertEqual(self.m.wait_for(lambda: stored_with(self.m, mark, [self.user])), 1)

    def test_stored_form_and_received(self):
        c = self.ehlo()
        mark = "stored-%d" % time.time_ns()
        body = "Subject: %s\r\n\r\n..one\r\n..\r\nx.\r\n \r\n" % mark
        _, final = send_raw(c, [self.user], body + ".\r\n")
        self.assertEqual(final[0], 250, final)
        data = delivered_copy(self, self.user, mark)
        msg = data[data.index(b"Received: from client.example"):]
        self.assertIn(b"with ESMTP id ", msg)
        self.assertIn(b"for <%s>;" % self.user.encode(), msg)
        self.assertNotIn(b"\r", msg)
        self.assertIn(b"Subject: %s\n\n.one\n.\nx.\n \n" % mark.encode(), msg)

    def test_received_sanitises_ehlo(self):
        c = self.client()
        c.cmd("EHLO ev(il);name\u00e9")
        mark = "ehlo-%d" % time.time_ns()
        _, final = send_raw(c, [self.user], "Subject: %s\r\n\r\nx\r\n.\r\n" % mark)
        self.assertEqual(final[0], 250, final)
        data = delivered_copy(self, self.user, mark)
        self.assertIn(b"Received: from ev?il??name?? ([127.0.0.1])\n", data)

    def test_smuggling_variants(self):
        for i, smuggle in enumerate([b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r.\r", b"\r\n.\r\r\n"]):
            mark = "smuggle-%d-%d" % (i, time.time_ns())
            c = self.ehlo()
            second = ("MAIL FROM:<x@remote.example>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                      "Subject: %s-second\r\n\r\nevil\r\n.\r\n" % (self.user, mark)).encode()
            body = ("Subject: %s\r\n\r\nhello" % mark).encode() + smuggle + second
            replies, final = send_raw(c, [self.user], body)
            self.assertEqual(final[1][0][:9], "550 5.5.2", (smuggle, final))
            self.assertTrue(c.closed(), smuggle)
            time.sleep(0.3)
            self.assertEqual(stored_with(self.m, mark, [self.user]), 0, smuggle)

    def test_line_too_long_refused(self):
        c = self.ehlo()
        mark = "long-%d" % time.time_ns()
        _, final = send_raw(c, [self.user], "Subject: %s\r\n\r\n%s\r\nafter\r\n.\r\n"
                            % (mark, "x" * 1200))
        self.assertEqual(final[1][0][:9], "554 5.6.0", final)
        self.assertEqual(c.cmd("NOOP")[0], 250)
        time.sleep(0.3)
        self.assertEqual(stored_with(self.m, mark, [self.user]), 0)

    def test_received_loop_refused(self):
        c = self.ehlo()
        mark = "loop-%d" % time.time_ns()
        hdr = "".join("Received: from a by b; %d\r\n" % i for i in range(101))
        _, final = send_raw(c, [self.user], hdr + "Subject: %s\r\n\r\nx\r\n.\r\n" % mark)
        self.assertEqual(final[1][0][:9], "554 5.4.6", final)
        time.sleep(0.3)
        self.assertEqual(stored_with(self.m, mark, [self.user]), 0)

    def test_over_20mb_refused(self):
        """slow: 20 MB + 1 octet (CRLF counted, headers included) is refused after the dot."""
        c = self.ehlo()
        mark = "big-%d" % time.time_ns()
        head = "Subject: %s\r\n\r\n" % mark
        line = b"y" * 998 + b"\r\n"
        total = 20971520 + 1 - len(head)
        body = head.encode() + line * (total // 1000)
        rest = total - (total // 1000) * 1000
        body += b"z" * (rest - 2) + b"\r\n"
        self.assertEqual(len(body), 20971521)
        _, final = send_raw(c, [self.user], body + b".\r\n")
        self.assertEqual(final[1][0][:9], "552 5.3.4", final)
        self.assertIn("1.37x", text(final))
        self.assertEqual(c.cmd("NOOP")[0], 250)
        time.sleep(0.5)
        self.assertEqual(stored_with(self.m, mark, [self.user]), 0)

    @unittest.skipUnless(have("queue-run") and have("deliver"), "queue-run/deliver not built yet")
    def test_end_to_end_maildir(self):
        mark = "e2e-%d" % time.time_ns()
        s = smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=30)
        self.addCleanup(s.close)
        s.sendmail("someone@remote.example", [self.user],
                   "Subject: %s\r\n\r\n..dot line\r\nend\r\n" % mark)
        self.assertTrue(self.m.wait_for(lambda: stored_with(self.m, mark, [self.user])
                                        and any(mark.encode() in open(p, "rb").read()
                                                for p in self.m.messages(self.user)), 20),
                        self.m.all_logs()[-3000:])


class TestPrivateTree(unittest.TestCase):
    """Settings that need their own tree: per-IP limit, timeout, require-TLS, relay grants."""

    @classmethod
    def setUpClass(cls):
        if not have("smtpd"):
            raise unittest.SkipTest("smtpd not built")
        cls.m = MailRoot(env={"SMTP_MAXPERIP": "2", "SMTP_TIMEOUT": "3",
                              "SMTP_REQUIRE_TLS": "1"})
        cls.m.start()
        cls.user = addr("priv")
        cls.m.add_user(cls.user, PW)

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def setUp(self):
        # SMTP_MAXPERIP is 2 here: each test starts with no session of 127.0.0.1 still open
        self.m.wait_sessions_gone("127.0.0.1")

    def test_per_ip_limit(self):
        a, b = Client(self.m.port("smtp")), Client(self.m.port("smtp"))
        try:
            self.assertEqual((a.greeting[0], b.greeting[0]), (220, 220))
            c = Client(self.m.port("smtp"))
            self.assertEqual(c.greeting[1][0],
                             "421 4.7.0 too many connections from your address, try again later")
            self.assertTrue(c.closed())
            c.close()
            a.cmd("QUIT")
            a.close()
            d = self.m.wait_for(lambda: Client(self.m.port("smtp")), 5)
            self.assertEqual(d.greeting[0], 220)
            d.close()
        finally:
            a.close()
            b.close()

    def test_timeout(self):
        c = Client(self.m.port("smtp"))
        self.addCleanup(c.close)
        t0 = time.time()
        r = c.reply()
        self.assertEqual(r[1][0][:9], "421 4.4.2", r)
        self.assertLess(time.time() - t0, 10)
        self.assertTrue(c.closed())

    def test_require_tls(self):
        c = Client(self.m.port("submission"))
        self.addCleanup(c.close)
        code, lines = c.cmd("EHLO client.example")
        self.assertNotIn("250-AUTH PLAIN LOGIN", lines)
        self.assertNotIn("250 AUTH PLAIN LOGIN", lines)
        self.assertEqual(c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (self.user, PW)))[1][0][:10],
                         "538 5.7.11")
        self.assertEqual(c.cmd("MAIL FROM:<%s>" % self.user)[1][0],
                         "530 5.7.0 Must issue a STARTTLS command first")

    def test_authd_down_is_temporary(self):
        sdir = os.path.join(self.m.root, "service", "authd")
        subprocess.run(["s6-svc", "-wD", "-T", "10000", "-d", sdir], check=True)
        try:
            ctx = ssl.create_default_context(cafile=os.path.join(self.m.root, "etc", "tls",
                                                                 "ca.pem"))
            s = smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=20)
            self.addCleanup(s.close)
            self.assertIn(b"STARTTLS", s.ehlo()[1], "AUTH needs STARTTLS here (SMTP_REQUIRE_TLS)")
            s.starttls(context=ctx)
            s.ehlo()
            code, msg = s.docmd("AUTH", "PLAIN " + b64("\0%s\0%s" % (self.user, PW)))
            self.assertEqual((code, msg[:5]), (454, b"4.7.0"))
        finally:
            subprocess.run(["s6-svc", "-u", sdir], check=True)
            self.m.wait_ready()

    @unittest.skipUnless(have("tlsd"), "tlsd not built")
    def test_implicit_tls_counts_as_tls(self):
        """Port 465 (tlsd -i): smtpd sees SSL_PROTOCOL, so SMTP_REQUIRE_TLS lets AUTH through."""
        self.assertIn("submissions", self.m.listeners())
        ctx = ssl.create_default_context(cafile=os.path.join(self.m.root, "etc", "tls", "ca.pem"))
        s = smtplib.SMTP_SSL("127.0.0.1", self.m.port("submissions"), timeout=20, context=ctx)
        self.addCleanup(s.close)
        code, msg = s.ehlo()
        self.assertIn(b"AUTH PLAIN LOGIN", msg)
        self.assertNotIn(b"STARTTLS", msg)
        self.assertEqual(s.login(self.user, PW)[0], 235)

    def test_relay_battery(self):
        """In this tree no POP3 login ever wrote a POP-before-SMTP grant for 127.0.0.1."""
        c = Client(self.m.port("smtp"))
        self.addCleanup(c.close)
        c.cmd("EHLO client.example")
        c.cmd("MAIL FROM:<someone@remote.example>")
        cases = [
            ("x@remote.example", "554 5.7.1"),
            ("x@REMOTE.example", "554 5.7.1"),
            ("x@example.test.remote.example", "554 5.7.1"),
            ("x@localhost", "554 5.7.1"),
            ("x%remote.example@example.test", "553 5.7.1"),
            ("remote.example!x@example.test", "553 5.7.1"),
            # a source route is ignored (RFC 5321 §C): what counts is the mailbox after it
            ("@example.test:x@remote.example", "554 5.7.1"),
            ("@example.test,@example2.test:x@remote.example", "554 5.7.1"),
            ('"x@remote.example"@example.test', "553 5.7.1"),
            ('"x%remote.example"@example.test', "553 5.7.1"),
            ("x@[127.0.0.1]", "553 5.1.3"),
            ("x@[IPv6:::1]", "553 5.1.3"),
            ("x@example.test.", "501 5.1.3"),
            ("x@remote.example.", "501 5.1.3"),
            ("x@@remote.example", "501 5.1.3"),
            ("\u00fc@example.test", "553 5.6.7"),
        ]
        for a, want in cases:
            self.assertEqual(c.cmd("RCPT TO:<%s>" % a)[1][0][:9], want, a)
        r = c.cmd("RCPT TO:<x@remote.example>")
        self.assertIn("relaying denied; authenticate (SMTP AUTH) or check your mail first "
                      "(POP before SMTP)", text(r))
        self.assertIn("refused ip=127.0.0.1", self.m.wait_for(
            lambda: "554 5.7.1" in self.m.log("smtp") and self.m.log("smtp")))

    @unittest.skipUnless(have("pop3d") and have("tlsd") and have("queue-inject"),
                         "pop3d, tlsd or the queue not built")
    def test_relay_grant_and_relayclient(self):
        src = "127.0.9.10"
        c = Client(self.m.port("smtp"), src=src)
        c.cmd("EHLO client.example")
        c.cmd("MAIL FROM:<%s>" % self.user)
        self.assertEqual(c.cmd("RCPT TO:<x@remote.example>")[0], 554)
        c.close()
        # a grant outlives its window: the operator's RELAY_WINDOW=3 (etc/env, smtpd
        # restarted), and the time passes
        window = os.path.join(self.m.root, "etc", "env", "RELAY_WINDOW")
        self.m.set_env("RELAY_WINDOW", 3)
        self.m.restart("smtp")
        try:
            pop_login(self.m, src, self.user, PW)
            c = Client(self.m.port("smtp"), src=src)
            c.cmd("EHLO client.example")
            c.cmd("MAIL FROM:<%s>" % self.user)
            self.assertEqual(c.cmd("RCPT TO:<x@remote.example>")[1][0][:9], "250 2.1.5")
            c.close()
            time.sleep(3.5)
            c = Client(self.m.port("smtp"), src=src)
            c.cmd("EHLO client.example")
            c.cmd("MAIL FROM:<%s>" % self.user)
            self.assertEqual(c.cmd("RCPT TO:<x@remote.example>")[0], 554)   # expired
            c.close()
            pop_login(self.m, src, self.user, PW)                     # checks mail again
            c = Client(self.m.port("smtp"), src=src)
            c.cmd("EHLO client.example")
            c.cmd("MAIL FROM:<%s>" % self.user)
            self.assertEqual(c.cmd("RCPT TO:<x@remote.example>")[1][0][:9], "250 2.1.5")
            c.close()
        finally:
            os.unlink(window)
            self.m.restart("smtp")
        # SMTP_REQUIRE_TLS=1: submission, with a grant too, only after STARTTLS; port 25 takes
        # the grant in plaintext (it must take inbound mail in plaintext anyway)
        c = Client(self.m.port("submission"), src=src)
        c.cmd("EHLO client.example")
        self.assertEqual(c.cmd("MAIL FROM:<%s>" % self.user)[1][0],
                         "530 5.7.0 Must issue a STARTTLS command first")
        self.assertIn("STARTTLS", [l[4:] for l in c.cmd("EHLO client.example")[1]])
        self.assertEqual(c.cmd("STARTTLS")[0], 220)
        ctx = ssl.create_default_context(cafile=os.path.join(self.m.root, "etc", "tls",
                                                             "ca.pem"))
        c.sock = ctx.wrap_socket(c.sock, server_hostname="localhost")
        c.buf = b""
        c.cmd("EHLO client.example")
        self.assertEqual(c.cmd("MAIL FROM:<someone@remote.example>")[1][0][:9], "553 5.7.1")
        self.assertEqual(c.cmd("MAIL FROM:<%s>" % self.user)[1][0][:9], "250 2.1.0")
        self.assertEqual(c.cmd("RCPT TO:<x@remote.example>")[1][0][:9], "250 2.1.5")
        c.close()
        # a trusted network (RELAYCLIENT) is no login: any sender, and the log says so
        compile_rules(self.m, '%s:allow,RELAYCLIENT=""\n:allow\n' % src)
        try:
            c = Client(self.m.port("smtp"), src=src)
            c.cmd("EHLO client.example")
            c.cmd("MAIL FROM:<a@b.example>")
            self.assertEqual(c.cmd("RCPT TO:<x@remote.example>")[1][0][:9], "250 2.1.5")
            self.assertEqual(c.cmd("DATA")[0], 354)
            self.assertEqual(c.cmd("Subject: trusted\r\n\r\nx\r\n.")[0], 250)
            self.m.wait_for(lambda: "from=<a@b.example>" in self.m.log("smtp"))
            self.assertRegex(self.m.log("smtp"), r"accepted .* from=<a@b.example> rcpts=1 "
                             r"size=\d+ relay=relayclient\n")
            c.close()
        finally:
            compile_rules(self.m, ":allow\n")


@unittest.skipUnless(have("tlsd"), "tlsd not built")
class TestTls(SmtpCase):
    def setUp(self):
        c = Client(self.m.port("smtp"))
        lines = c.cmd("EHLO client.example")[1]
        c.close()
        self.assertTrue("250-STARTTLS" in lines or "250 STARTTLS" in lines, lines)
        self.ctx = ssl.create_default_context(cafile=os.path.join(self.m.root, "etc", "tls",
                                                                  "ca.pem"))

    def test_starttls_resets_and_discards_injection(self):
        c = self.ehlo()
        # RFC 3207 §4: STARTTLS takes no parameters; the session goes on in plaintext
        self.assertEqual(c.cmd("STARTTLS now")[1], ["501 5.5.4 STARTTLS takes no parameters"])
        c.send("STARTTLS\r\nNOOP injected\r\n")
        self.assertEqual(c.reply()[1][0][:9], "220 2.0.0")
        c.sock = self.ctx.wrap_socket(c.sock, server_hostname="localhost")
        c.buf = b""
        self.assertEqual(c.cmd("MAIL FROM:<a@b.example>")[0], 503)  # EHLO forgotten
        code, lines = c.cmd("EHLO client.example")
        self.assertEqual(code, 250)      # the reply to EHLO, not to the injected NOOP
        self.assertNotIn("250-STARTTLS", lines + [lines[-1].replace(" ", "-")])
        self.assertEqual(c.cmd("STARTTLS")[1][0][:9], "503 5.5.1")
        self.assertEqual(c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (self.user, PW)))[0], 235)
        mark = "tls-%d" % time.time_ns()
        _, final = send_raw(c, [self.user, "x@remote.example"], "Subject: %s\r\n\r\nx\r\n.\r\n"
                            % mark, sender=self.user)
        self.assertEqual(final[0], 250, final)
        # the local recipient's copy, as delivered (the remote one waits in the queue: no DNS)
        data = delivered_copy(self, self.user, mark)
        self.assertIn(b"with ESMTPSA id", data)
        self.assertIn(b"(authenticated as %s)" % self.user.encode(), data)
        self.assertNotIn(b"\tfor <", data)     # two recipients: no "for"

    def test_smtplib_starttls(self):
        s = smtplib.SMTP("127.0.0.1", self.m.port("submission"), timeout=20)
        self.addCleanup(s.close)
        s.starttls(context=self.ctx)
        s.ehlo()
        self.assertEqual(s.login(self.user, PW)[0], 235)


class TestPrivileges(SmtpCase):
    @unittest.skipUnless(IS_ROOT, "uid separation needs root")
    def test_smtpd_uid_and_reach(self):
        c = self.ehlo()
        pids = self.m.wait_for(lambda: [p for p in self.m.pids("smtp") if proc_name(p) == "smtpd"])
        self.assertTrue(pids)
        uid = pwd.getpwnam("yubin-smtpd").pw_uid
        uids = [u for u in map(proc_uid, pids) if u is not None]   # ours is held open
        self.assertTrue(uids)
        for u in uids:
            self.assertEqual(u, uid)
        c.cmd("QUIT")
        self.assertFalse(can_open("yubin-smtpd", self.m.maildir(self.user)))
        self.assertFalse(can_open("yubin-smtpd", os.path.join(self.m.root, "cdb", "auth.cdb")))
        self.assertFalse(can_open("yubin-smtpd", os.path.join(self.m.root, "queue", "mess")))


if __name__ == "__main__":
    unittest.main()
