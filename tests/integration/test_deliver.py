"""Local delivery (deliver/, quota/): the real bin/deliver run as yubin-mbox by hand and through
run/deliver.sock with bin/ipc-call (lib/ipcfd), checked on disk: the message byte-exact in new/ with
Return-Path and Delivered-To on top, owner and mode, exit codes and reason texts, loops,
Maildir++ quota (maildirsize, ROOT/quota/ADDR), the 90% warning, quota-report, fsync count."""
import email
import email.policy
import os
import smtplib
import poplib
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import MailRoot, IS_ROOT, have, as_user, proc_name

NAME_RE = re.compile(r"^(\d+)\.M(\d+)P(\d+)R([0-9a-f]+)\.mail\.example\.test,S=(\d+)$")
WARN_SUBJECT = b"Mailbox almost full"


def body(size, tag=b"x"):
    """A message of exactly size bytes (LF line ends, 8-bit text included)."""
    head = b"From: a@remote.test\nSubject: test " + tag + b"\nX-8bit: \xe3\x83\xa1\n\n"
    line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxy\n"
    need = size - len(head)
    assert need >= 0
    text = (line * (need // len(line) + 1))[:need]
    return head + text


def trace(sender, rcpt):
    return b"Return-Path: <" + sender.encode() + b">\nDelivered-To: " + rcpt.encode() + b"\n"


def warning_text(raw):
    """The quota warning's text, decoded by the email package (the body is base64)."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Content-Transfer-Encoding"] == "base64", msg["Content-Transfer-Encoding"]
    return msg.get_content()


@unittest.skipUnless(have("deliver") and have("mailacct"), "deliver or mailacct not built")
class DeliverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot.shared()
        cls.mbox = pwd.getpwnam("yubin-mbox").pw_uid if IS_ROOT else os.getuid()
        cls.n = 0

    def user(self, quota=None, domain="example.test"):
        DeliverTest.n += 1
        addr = "dl%d-%d@%s" % (os.getpid() % 10000, DeliverTest.n, domain)
        self.m.add_user(addr, self.password(addr), quota=quota)
        return addr

    def password(self, addr):
        return "pw-%s-secret" % addr.split("@")[0]

    def pop3(self, addr, delete_largest=False):
        """A real POP3 session of the customer: login (pop3d moves new/ to cur/), optionally
        DELE of the largest message, QUIT (pop3d updates maildirsize and quota/ADDR)."""
        p = poplib.POP3("127.0.0.1", self.m.port("pop3"), timeout=30)
        try:
            p.user(addr)
            p.pass_(self.password(addr))
            if delete_largest:
                sizes = [int(l.split()[1]) for l in p.list()[1]]
                p.dele(sizes.index(max(sizes)) + 1)
        finally:
            p.quit()

    def deliver(self, sender, rcpt, msg, env=None, user="yubin-mbox"):
        e = self.m.env()
        e.pop("YUBIN_ALLOW_ROOT", None)
        e.update(env or {})
        return as_user(user, [self.m.bin("deliver"), sender, rcpt], input=msg,
                       capture_output=True, env=e)

    def sudoc(self, user, sender, rcpt, msg):
        sock = os.path.join(self.m.root, "run", "deliver.sock")
        # what queue-run does: fds 0/1 and "deliver SENDER RCPT" over the socket (lib/ipcfd)
        return as_user(user, [self.m.bin("ipc-call"), sock, "deliver", sender, rcpt], input=msg,
                       capture_output=True, env=self.m.env())

    def files(self, addr):
        return [p for p in self.m.messages(addr)]

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def maildirsize(self, addr):
        try:
            return open(os.path.join(self.m.maildir(addr), "maildirsize")).read()
        except FileNotFoundError:
            return None

    def usage_file(self, addr):
        """(BYTES, COUNT) of the summary smtpd reads ("BYTES COUNT CHECK\n", fixed width)."""
        line = open(os.path.join(self.m.root, "quota", addr)).read()
        self.assertRegex(line, r"^[0-9]{20} [0-9]{20} [0-9]{10}\n$")
        return tuple(int(f) for f in line.split()[:2])

    def disk_usage(self, addr):
        paths = self.files(addr)
        return sum(os.path.getsize(p) for p in paths), len(paths)

    def quota_total(self, addr):
        lines = self.maildirsize(addr).splitlines()
        b = sum(int(l.split()[0]) for l in lines[1:] if l.strip())
        c = sum(int(l.split()[1]) for l in lines[1:] if l.strip())
        return b, c

    def warnings(self, addr):
        return [p for p in self.files(addr) if WARN_SUBJECT in self.read(p)[:2000]]

    # --- the message on disk

    def check_stored(self, addr, sender, msg, path):
        data = self.read(path)
        self.assertEqual(data, trace(sender, addr) + msg)
        st = os.stat(path)
        self.assertEqual(st.st_uid, self.mbox)
        self.assertEqual(st.st_mode & 0o777, 0o600)
        name = os.path.basename(path)
        mt = NAME_RE.match(name)
        self.assertTrue(mt, name)
        self.assertEqual(int(mt.group(5)), len(data), "S= is the file size")
        self.assertEqual(os.path.basename(os.path.dirname(path)), "new")

    def test_pipe_delivery_byte_exact(self):
        addr = self.user()
        msg = body(5000) + b"\n.\n..\nFrom the end\n"
        r = self.deliver("sender@remote.test", addr, msg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), r"^[^\n]*\(#2\.0\.0\)\n$")
        files = self.files(addr)
        self.assertEqual(len(files), 1)
        self.check_stored(addr, "sender@remote.test", msg, files[0])
        size = os.path.getsize(files[0])
        self.assertIn("deliver: info: delivered to=<%s> size=%d file=new/%s"
                      % (addr, size, os.path.basename(files[0])), r.stderr.decode())
        # maildirsize: definition line = the premium quota, then the usage
        self.assertTrue(self.maildirsize(addr).startswith("52428800S\n"))
        self.assertEqual(self.quota_total(addr), (size, 1))
        self.assertEqual(self.usage_file(addr), (size, 1))
        self.assertEqual(os.listdir(os.path.join(self.m.maildir(addr), "tmp")), [])

    def test_seekable_file_and_null_sender(self):
        addr = self.user()
        msg = body(70000)  # more than one read() chunk
        with tempfile.TemporaryFile() as f:
            f.write(msg)
            f.seek(0)
            e = self.m.env()
            r = as_user("yubin-mbox", [self.m.bin("deliver"), "", addr], stdin=f,
                        capture_output=True, env=e)
        self.assertEqual(r.returncode, 0, r.stderr)
        files = self.files(addr)
        self.assertEqual(len(files), 1)
        self.check_stored(addr, "", msg, files[0])
        self.assertTrue(self.read(files[0]).startswith(b"Return-Path: <>\n"))

    def test_through_socket_as_queue_uid(self):
        addr = self.user()
        msg = body(3000)
        r = self.sudoc("yubin-q", "s@remote.test", addr, msg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.decode().endswith("(#2.0.0)\n"), r.stdout)
        files = self.files(addr)
        self.assertEqual(len(files), 1)
        self.check_stored(addr, "s@remote.test", msg, files[0])
        # an unknown recipient through the socket: the exit code travels back
        r = self.sudoc("yubin-q", "s@remote.test", "nobody@example.test", msg)
        self.assertEqual(r.returncode, 100)
        self.assertEqual(r.stdout, b"no such mailbox (#5.1.1)\n")

    @unittest.skipUnless(IS_ROOT, "uids are only separate when started as root")
    def test_socket_refuses_other_uids(self):
        addr = self.user()
        for user in ("yubin-smtpd", "yubin-pop", "yubin-mbox", "root"):
            r = self.sudoc(user, "s@remote.test", addr, body(500))
            # deliver checks the peer uid (IPCFD_PEERS) before reading anything and exits
            # without a status: ipc-call says so, 111; the service log says who was refused
            self.assertEqual(r.returncode, 111, user)
            self.assertRegex(r.stderr, rb"^ipc-call: warning: .*: refused", user)
            self.assertNotIn(b"(#2.0.0)", r.stdout)
            line = ("deliver: warning: refused a connection from uid %d (not in IPCFD_PEERS)"
                    % pwd.getpwnam(user).pw_uid)
            self.assertTrue(self.m.wait_for(lambda: line in self.m.log("deliver"), 10),
                            self.m.log("deliver"))
        self.assertEqual(self.files(addr), [])
        # etc/env cannot widen the list: the run script sets IPCFD_PEERS after s6-envdir
        envfile = os.path.join(self.m.root, "etc", "env", "IPCFD_PEERS")
        self.m.set_env("IPCFD_PEERS", pwd.getpwnam("yubin-smtpd").pw_uid)
        try:
            self.m.restart("deliver")
            r = self.sudoc("yubin-smtpd", "s@remote.test", addr, body(500))
            self.assertEqual(r.returncode, 111, r.stderr)
            self.assertEqual(self.files(addr), [])
        finally:
            os.unlink(envfile)
            self.m.restart("deliver")
        r = self.sudoc("yubin-q", "s@remote.test", addr, body(500))
        self.assertEqual(r.returncode, 0, r.stderr)

    # --- refusals

    def test_unknown_and_disabled(self):
        r = self.deliver("s@remote.test", "nobody@example.test", body(100))
        self.assertEqual(r.returncode, 100)
        self.assertEqual(r.stdout, b"no such mailbox (#5.1.1)\n")
        self.assertIn("refused to=<nobody@example.test>", r.stderr.decode())
        r = self.deliver("s@remote.test", "dl@unknown-domain.test", body(100))
        self.assertEqual(r.returncode, 100)

    def test_loops(self):
        addr = self.user()
        cases = [
            (b"Delivered-To: " + addr.upper().encode() + b"\n" + body(200), 100),
            (b"Received: x\n" * 101 + body(200), 100),
            (b"Received: x\n" * 100 + body(200), 0),
            (b"Delivered-To: other@example.test\n" + body(200), 0),
            (body(200) + b"Delivered-To: " + addr.encode() + b"\n", 0),  # in the body
        ]
        stored = 0
        for msg, code in cases:
            r = self.deliver("s@remote.test", addr, msg)
            self.assertEqual(r.returncode, code, msg[:60])
            if code == 100:
                self.assertEqual(r.stdout, b"message is looping (#5.4.6)\n")
            else:
                stored += 1
            self.assertEqual(len(self.files(addr)), stored)
        self.assertEqual(os.listdir(os.path.join(self.m.maildir(addr), "tmp")), [])

    @unittest.skipUnless(IS_ROOT, "only meaningful when started as root")
    def test_refuses_root(self):
        addr = self.user()
        r = self.deliver("s@remote.test", addr, body(100), user="root")
        self.assertEqual(r.returncode, 111)
        self.assertTrue(r.stdout.endswith(b"(#4.3.5)\n"), r.stdout)
        self.assertEqual(self.files(addr), [])

    def test_usage_errors(self):
        r = as_user("yubin-mbox", [self.m.bin("deliver"), "only-one"], input=b"",
                    capture_output=True, env=self.m.env())
        self.assertEqual(r.returncode, 100)
        self.assertRegex(r.stdout.decode(), r"\(#5\.3\.5\)\n$")
        e = self.m.env()
        del e["YUBIN_ROOT"]
        r = as_user("yubin-mbox", [self.m.bin("deliver"), "a@b.test", "c@d.test"], input=b"",
                    capture_output=True, env=e)
        self.assertEqual(r.returncode, 111)

    # --- quota

    def test_quota_exact_fit_and_one_byte_over(self):
        quota = 1048576
        addr = self.user(quota=quota)
        over = len(trace("s@remote.test", addr))
        r = self.deliver("s@remote.test", addr, body(500000 - over))
        self.assertEqual(r.returncode, 0, r.stderr)
        used, _ = self.disk_usage(addr)
        self.assertEqual(used, 500000)
        # one byte over: refused permanently, nothing stored, accounting unchanged
        r = self.deliver("s@remote.test", addr, body(quota - used - over + 1))
        self.assertEqual(r.returncode, 100)
        self.assertEqual(r.stdout, b"mailbox full (quota 1 MB) (#5.2.2)\n")
        self.assertEqual(len(self.files(addr)), 1)
        self.assertEqual(self.quota_total(addr), (500000, 1))
        self.assertEqual(os.listdir(os.path.join(self.m.maildir(addr), "tmp")), [])
        # exact fit: accepted (and it crosses 90%, so the warning follows)
        r = self.deliver("s@remote.test", addr, body(quota - used - over))
        self.assertEqual(r.returncode, 0, r.stderr)
        files = self.files(addr)
        self.assertEqual(len(files), 3)
        self.assertEqual(len(self.warnings(addr)), 1)
        self.assertEqual(self.quota_total(addr), self.disk_usage(addr))
        b, c = self.disk_usage(addr)
        self.assertEqual(self.usage_file(addr), (b, c))
        # now full: even one byte is refused
        r = self.deliver("s@remote.test", addr, b"")
        self.assertEqual(r.returncode, 100)
        self.assertEqual(len(self.files(addr)), 3)

    def test_stale_sum_recalculated_before_refusing(self):
        quota = 1048576
        addr = self.user(quota=quota)
        r = self.deliver("s@remote.test", addr, body(1000))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(self.maildirsize(addr).startswith("1048576S\n"))
        r = self.deliver("s@remote.test", addr, body(quota - 6000))   # and the 90% warning
        self.assertEqual(r.returncode, 0, r.stderr)
        # still under the quota by the sum (no recount yet: two delta lines); a message of
        # the room left + 500 would not fit by it
        room = quota - self.quota_total(addr)[0]
        self.assertGreater(room, 0)
        # the operator removes the big message by hand (not through pop3d): maildirsize still
        # counts it, so by the sum the mailbox has no room for it
        big = [p for p in self.files(addr) if os.path.getsize(p) > quota // 2]
        self.assertEqual(len(big), 1)
        os.unlink(big[0])
        r = self.deliver("s@remote.test", addr, body(room + 500))
        # two delta lines and over quota: recalculated from disk, so it fits after all
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.quota_total(addr), self.disk_usage(addr))

    def test_full_mailbox_reason_text(self):
        addr = self.user(domain="example2.test")
        big = body(20 * 1024 * 1024 - 200)
        r = self.deliver("s@remote.test", addr, big)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.deliver("s@remote.test", addr, body(1000))
        self.assertEqual(r.returncode, 100)
        self.assertEqual(r.stdout, b"mailbox full (quota 20 MB) (#5.2.2)\n")
        self.assertIn("refused to=<%s> reason=over quota" % addr, r.stderr.decode())
        self.assertEqual(len(self.files(addr)), 2)  # the big one and the 90% warning
        # basic plan: the add-on advice, in the manual's words; a mailbox owner has no
        # application form on the member page, so the mail sends them to the domain's
        # administrator (who applies there), in both languages; the body is base64
        text = warning_text(self.read(self.warnings(addr)[0]))
        self.assertIn("メール容量追加サービス", text)
        self.assertIn("50MB までご利用頂けます", text)
        self.assertIn("ドメインの管理者様にご依頼ください", text)
        self.assertNotIn("会員専用ページからお申し込みください", text)
        self.assertIn("ask your domain's administrator", text)
        self.assertIn("it is 50 MB", text)

    def test_recalculation_after_deleting_maildirsize(self):
        addr = self.user()
        for i in range(3):
            self.assertEqual(self.deliver("s@remote.test", addr, body(1000 + i)).returncode, 0)
        # messages the customer has seen (pop3d moved them to cur/ with flags) still count
        self.pop3(addr)
        self.assertEqual(len(os.listdir(os.path.join(self.m.maildir(addr), "cur"))), 3)
        os.unlink(os.path.join(self.m.maildir(addr), "maildirsize"))   # lost: recalculated
        self.assertEqual(self.deliver("s@remote.test", addr, body(4000)).returncode, 0)
        text = self.maildirsize(addr)
        self.assertTrue(text.startswith("52428800S\n"), text)
        self.assertEqual(self.quota_total(addr), self.disk_usage(addr))
        self.assertEqual(self.quota_total(addr)[1], 4)
        b, c = self.disk_usage(addr)
        self.assertEqual(self.usage_file(addr), (b, c))

    def test_quota_change_updates_definition(self):
        addr = self.user()
        self.assertEqual(self.deliver("s@remote.test", addr, body(1000)).returncode, 0)
        self.assertTrue(self.maildirsize(addr).startswith("52428800S\n"))
        self.m.mailacct("quota", addr, "30M")
        self.assertEqual(self.deliver("s@remote.test", addr, body(1000)).returncode, 0)
        self.assertTrue(self.maildirsize(addr).startswith("31457280S\n"), self.maildirsize(addr))
        self.assertEqual(self.quota_total(addr), self.disk_usage(addr))

    def test_warning_once_per_crossing(self):
        quota = 1048576
        addr = self.user(quota=quota)
        over = len(trace("s@remote.test", addr))

        def send(size):
            r = self.deliver("s@remote.test", addr, body(size - over))
            self.assertEqual(r.returncode, 0, r.stderr)
            return r

        send(800000)
        send(100000)                                  # 86%
        self.assertEqual(self.warnings(addr), [])
        r = send(60000)                               # 92%: crossing
        self.assertIn("quota warning to=<%s>" % addr, r.stderr.decode())
        self.assertEqual(len(self.warnings(addr)), 1)
        send(10000)                                   # still above: no second warning
        send(10000)
        self.assertEqual(len(self.warnings(addr)), 1)
        w = self.read(self.warnings(addr)[0])
        self.assertTrue(w.startswith(b"Return-Path: <>\nDelivered-To: " + addr.encode()))
        self.assertIn(b"From: Mail Delivery System <MAILER-DAEMON@mail.example.test>", w)
        self.assertIn(b"\nTo: <" + addr.encode() + b">\n", w)
        self.assertTrue(all(c < 0x80 for c in w), "7-bit: base64 body (RFC 6152)")
        text = warning_text(w)
        self.assertIn("Quota: 1 MB", text)
        self.assertIn("メールボックス", text)
        self.assertIn("Delete messages", text)
        self.assertNotIn("add-on", text)              # premium plan: no add-on advice
        # the customer deletes the big message over POP3 (pop3d appends the negative delta)
        self.pop3(addr, delete_largest=True)
        self.assertFalse([p for p in self.files(addr) if os.path.getsize(p) == 800000])
        send(10000)                                   # well below 90%: re-armed
        self.assertEqual(len(self.warnings(addr)), 1)
        send(780000)                                  # crosses again
        self.assertEqual(len(self.warnings(addr)), 2)
        send(1000)
        self.assertEqual(len(self.warnings(addr)), 2)
        self.assertEqual(self.quota_total(addr), self.disk_usage(addr))

    # --- operator tool and durability

    @unittest.skipUnless(have("quota-report"), "quota-report not built")
    def test_quota_report(self):
        quota = 1048576
        full = self.user(quota=quota)
        empty = self.user(quota=quota)
        self.assertEqual(self.deliver("s@remote.test", full, body(950000)).returncode, 0)
        r = subprocess.run([self.m.bin("quota-report"), "--root", self.m.root],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        rows = {l.split()[0]: l.split() for l in lines}
        b, _ = self.disk_usage(full)
        self.assertEqual(rows[full][1:4], [str(b), str(quota), "%d%%" % (b * 100 // quota)])
        self.assertEqual(rows[empty][1:4], ["0", str(quota), "0%"])
        pct = [int(l.split()[3].rstrip("%")) for l in lines if l.split()[3] != "-"]
        self.assertEqual(pct, sorted(pct, reverse=True), "fullest first")
        r = subprocess.run([self.m.bin("quota-report"), "--root", self.m.root, "--over", "90"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        listed = [l.split()[0] for l in r.stdout.splitlines()]
        self.assertIn(full, listed)
        self.assertNotIn(empty, listed)
        # run as root, it must not leave root-owned files in a Maildir
        os.unlink(os.path.join(self.m.maildir(full), "maildirsize"))
        r = subprocess.run([self.m.bin("quota-report"), "--root", self.m.root],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        st = os.stat(os.path.join(self.m.maildir(full), "maildirsize"))
        self.assertEqual(st.st_uid, self.mbox)
        r = subprocess.run([self.m.bin("quota-report"), "--bogus"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 100)

    @unittest.skipUnless(shutil.which("strace"), "strace not installed")
    def start_slow_delivery(self, addr):
        """deliver reading a message that has not all arrived: its file is in tmp/."""
        e = self.m.env()
        e.pop("YUBIN_ALLOW_ROOT", None)
        argv = [self.m.bin("deliver"), "s@remote.example", addr]
        if IS_ROOT:
            argv = ["s6-setuidgid", "yubin-mbox"] + argv
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=e)
        p.stdin.write(b"Subject: half\n\n" + b"z" * 300000)
        p.stdin.flush()
        tmpd = os.path.join(self.m.maildir(addr), "tmp")
        self.assertTrue(self.m.wait_for(lambda: os.listdir(tmpd), 10), "a file in tmp/")
        return p, tmpd

    def test_timeout_and_dead_deliveries_leave_no_file_in_tmp(self):
        addr = self.user()
        self.assertEqual(self.deliver("s@remote.example", addr, b"Subject: a\n\nb\n").returncode, 0)
        # DELIVER_TIMEOUT's alarm (24 h) arrives: the partial file goes, the answer is temporary
        p, tmpd = self.start_slow_delivery(addr)
        os.kill(p.pid, signal.SIGALRM)
        out, _ = p.communicate(timeout=10)
        self.assertEqual(p.returncode, 111)
        self.assertIn(b"timed out writing the message (#4.3.0)", out)
        self.assertEqual(os.listdir(tmpd), [])
        # killed outright (kill -9, a power cut): the file stays until it is 36 hours old, and
        # then the customer's next POP3 login removes it
        p, tmpd = self.start_slow_delivery(addr)
        p.kill()
        p.wait()
        p.stdin.close()
        [left] = os.listdir(tmpd)
        self.pop3(addr)
        self.assertEqual(os.listdir(tmpd), [left], "a young file is left alone")
        old = time.time() - 37 * 3600       # the 36 hours, passed without waiting them
        os.utime(os.path.join(tmpd, left), (old, old))
        self.pop3(addr)
        self.assertEqual(os.listdir(tmpd), [])
        self.assertEqual(len(self.m.messages(addr)), 1, "the delivered message stays")

    @unittest.skipUnless(IS_ROOT and shutil.which("strace"), "needs root and strace")
    def test_size_cache_of_a_killed_session_is_swept(self):
        """pop3d writes its size cache to a temporary file and renames it; killed in between
        (kill -9), it leaves that file in tmp/, where the 36-hour sweep removes it, never in
        the Maildir's own folder, which nothing sweeps."""
        addr = self.user()
        self.assertEqual(self.deliver("s@remote.example", addr, b"Subject: a\n\nb\n").returncode, 0)
        md = self.m.maildir(addr)
        p = poplib.POP3("127.0.0.1", self.m.port("pop3"), timeout=30)
        self.addCleanup(p.close)
        p.user(addr)
        p.pass_(self.password(addr))
        pid = max(q for q in self.m.pids("pop3d") if proc_name(q) == "pop3d")
        tracer = subprocess.Popen(["strace", "-qq", "-p", str(pid), "-e", "trace=renameat,rename",
                                   "-e", "inject=renameat,rename:delay_enter=30000000:when=1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: tracer.poll() is None and tracer.kill())
        time.sleep(0.5)     # attached
        p.sock.sendall(b"LIST\r\n")          # sizes read from the file: the cache is written

        def left():
            return [os.path.relpath(os.path.join(d, f), md) for d, _, fs in os.walk(md)
                    for f in fs if f.startswith("yubin-pop3-sizes.")]
        self.assertTrue(self.m.wait_for(lambda: left(), 10), "the cache being written")
        os.kill(pid, signal.SIGKILL)
        tracer.kill()
        tracer.wait(10)
        [name] = left()
        self.assertEqual(os.path.dirname(name), "tmp", name)
        self.pop3(addr)
        self.assertIn(name, left(), "a young file is left alone")
        old = time.time() - 37 * 3600       # the 36 hours, passed without waiting them
        os.utime(os.path.join(md, name), (old, old))
        self.pop3(addr)
        self.assertNotIn(name, left())

    def test_two_fsyncs_per_delivery(self):
        addr = self.user()
        self.assertEqual(self.deliver("s@remote.test", addr, body(1000)).returncode, 0)
        with tempfile.NamedTemporaryFile() as out:
            e = self.m.env()
            argv = ["strace", "-f", "-c", "-o", out.name, "-e",
                    "trace=fsync,fdatasync,sync,syncfs,sync_file_range"]
            if IS_ROOT:
                argv += ["s6-setuidgid", "yubin-mbox"]
            r = subprocess.run(argv + [self.m.bin("deliver"), "s@remote.test", addr],
                               input=body(2000), capture_output=True, env=e)
            self.assertEqual(r.returncode, 0, r.stderr)
            report = open(out.name).read()
        calls = {}
        for line in report.splitlines():
            parts = line.split()
            if len(parts) >= 5 and parts[-1] in ("fsync", "fdatasync", "sync", "syncfs",
                                                 "sync_file_range"):
                calls[parts[-1]] = int(parts[3])
        self.assertEqual(calls, {"fsync": 2}, report)

    def test_first_delivery_makes_its_maildir_durable(self):
        """An account whose mailbox folder is not there (the operator removed it, or added the
        account to etc/users by hand): the first delivery makes the folders, and fsyncs them
        up to ROOT/mail, as well as the message and new/: 2 + 4 fsyncs."""
        addr = self.user()
        shutil.rmtree(os.path.dirname(self.m.maildir(addr)))
        with tempfile.NamedTemporaryFile() as out:
            argv = ["strace", "-f", "-c", "-o", out.name, "-e", "trace=fsync,fdatasync"]
            if IS_ROOT:
                argv += ["s6-setuidgid", "yubin-mbox"]
            r = subprocess.run(argv + [self.m.bin("deliver"), "s@remote.test", addr],
                               input=body(2000), capture_output=True, env=self.m.env())
            self.assertEqual(r.returncode, 0, r.stderr)
            report = open(out.name).read()
        fsyncs = [int(l.split()[3]) for l in report.splitlines() if l.split()[-1:] == ["fsync"]]
        self.assertEqual(fsyncs, [6], report)
        self.assertEqual(len(self.files(addr)), 1)


@unittest.skipUnless(IS_ROOT and have("deliver") and have("queue-run") and have("smtpd"),
                     "needs root and the delivery chain")
class ParallelQuotaTest(unittest.TestCase):
    """Ten 1 MB messages for a 2 MB mailbox, all accepted while the mailbox was empty, then
    delivered at once by queue-run (QUEUE_LOCAL_CONC 20): two fit, the other eight are refused
    over quota. Deliveries running at once must not all pass the same quota check. A private
    tree: its queue is stopped while the mail is sent."""

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(prefix="yubin-pquota-")
        cls.m.start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def test_parallel_deliveries_keep_the_quota(self):
        addr, quota = "par@example.test", 2 * 1048576
        self.m.add_user(addr, "Par-pw-1", quota="2M")
        queue = os.path.join(self.m.root, "service", "queue")
        subprocess.run(["s6-svc", "-d", queue], check=True)
        self.addCleanup(lambda: subprocess.run(["s6-svc", "-u", queue]))
        subprocess.run(["s6-svwait", "-D", "-t", "10000", queue], check=True)
        body = ("Y" * 98 + "\r\n") * 10000                # 990,000 octets stored
        for i in range(10):
            with smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=60) as s:
                s.sendmail("big@remote.example", [addr], "Subject: par %d\r\n\r\n%s" % (i, body))
        subprocess.run(["s6-svc", "-u", queue], check=True)
        log = lambda: self.m.log("deliver")
        self.assertTrue(self.m.wait_for(
            lambda: log().count("to=<%s>" % addr) >= 10, 60), log()[-2000:])
        big = [p for p in self.m.messages(addr) if os.path.getsize(p) > 900000]
        stored = sum(os.path.getsize(p) for p in big)
        note = "stored %d of 10 (%d octets, quota %d)" % (len(big), stored, quota)
        self.assertLessEqual(stored, quota, note)
        self.assertEqual(len(big), 2, note)
        # the 10 lines waited for may hold the quota warning's: the last refusal may still be
        # on its way through s6-log
        self.assertTrue(self.m.wait_for(lambda: log().count("refused id=") >= 8, 10),
                        log()[-3000:])
        self.assertEqual(log().count("refused id="), 8, log()[-3000:])
        self.assertEqual(len(re.findall(r"refused id=\S+ to=<%s> reason=over quota"
                                        % re.escape(addr), log())), 8)


if __name__ == "__main__":
    unittest.main()
