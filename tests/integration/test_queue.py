"""The crash-safe queue (queue/): queue-inject run by hand as yubin-q and through run/inject.sock
(bin/ipc-call, lib/ipcfd) as yubin-smtpd, its commit semantics and refusals; queue-run delivering
into Maildirs,
bouncing (RFC 3464) to the sender, double bounces to etc/admin, retries with backoff, expiry,
delay warnings, state-log replay after a restart, a mailq delete racing a delivery; and a kill
storm (queue-run and deliver SIGKILLed at random while 500 messages are injected: every
Message-ID arrives)."""
import email
import email.policy
import os
import pwd
import random
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import threading
import time
import unittest

from harness import MailRoot, IS_ROOT, have, proc_name

ID_RE = re.compile(rb"^[0-9a-f]{16}\n$")


def inject(m, msg, sender, rcpts, user="yubin-q", socket_path=None, envelope=None,
           before_envelope=None, as_root=False):
    """Run queue-inject (directly, or through bin/ipc-call on socket_path) with the qmail-queue
    interface. Returns (exit code, bytes written back on fd 1, stderr)."""
    if socket_path:
        argv = [m.bin("ipc-call"), socket_path, "queue-inject"]
    else:
        argv = [m.bin("queue-inject")]
    if IS_ROOT and not as_root:
        argv = ["s6-setuidgid", user] + argv
    if envelope is None:
        envelope = b"F" + sender.encode() + b"\0"
        envelope += b"".join(b"T" + r.encode() + b"\0" for r in rcpts) + b"\0"
    a, b = socket.socketpair()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=b.fileno(),
                         stderr=subprocess.PIPE, env=m.env())
    b.close()
    try:
        p.stdin.write(msg)      # a refusing queue-inject may exit before reading it
        p.stdin.close()
    except BrokenPipeError:
        pass
    if before_envelope:
        before_envelope()
    try:
        a.sendall(envelope)
        a.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    out = b""
    a.settimeout(30)
    while True:
        try:
            chunk = a.recv(4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    a.close()
    err = p.stderr.read()
    return p.wait(timeout=30), out, err


def queue_files(m, sub):
    return set(os.listdir(os.path.join(m.root, "queue", sub)))


def queued_with(m, marker):
    """Names of the files in queue/mess holding marker (bounces of other tests do not count)."""
    out = set()
    for name in queue_files(m, "mess"):
        try:
            with open(os.path.join(m.root, "queue", "mess", name), "rb") as f:
                if marker.encode() in f.read():
                    out.add(name)
        except OSError:
            pass    # delivered and removed meanwhile
    return out


def find_mail(m, addr, marker):
    """Contents of the messages in addr's Maildir that contain marker."""
    out = []
    for path in m.messages(addr):
        try:
            data = open(path, "rb").read()
        except OSError:
            continue
        if marker in data:
            out.append(data)
    return out


def message(marker, subject="queue test"):
    return ("From: <sender@example.test>\nTo: <rcpt@example.test>\nSubject: %s\n"
            "Message-ID: <%s@example.test>\n\nbody %s\n" % (subject, marker, marker)).encode()


_n = [0]


def new_user(m, prefix="q"):
    _n[0] += 1
    addr = "%s%d-%d@example.test" % (prefix, os.getpid() % 10000, _n[0])
    m.add_user(addr, "pw-%d-secret-q" % _n[0])
    return addr


def unique(tag="m"):
    _n[0] += 1
    return "%s-%d-%d-%d" % (tag, os.getpid(), _n[0], random.randrange(10 ** 9))


@unittest.skipUnless(have("smtpd") and have("mailtrace") and shutil.which("s6-tai64nlocal"),
                     "needs smtpd, mailtrace and s6-tai64nlocal")
class MailtraceRefusalTest(unittest.TestCase):
    """"My mail bounced": the operator runs mailtrace ADDRESS and sees smtpd's refusals at RCPT
    for that address, as recipient or as sender, in time order with its deliveries."""

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot.shared()

    def smtp(self):
        # from 127.0.0.2: no POP-before-SMTP grant of another test applies to it
        s = smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=30,
                         source_address=("127.0.0.2", 0))
        self.addCleanup(s.close)
        s.ehlo("client.example")
        return s

    def trace(self, what):
        r = subprocess.run([self.m.bin("mailtrace"), "--root", self.m.root, what],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.splitlines()

    def test_refusals_at_rcpt_are_traced(self):
        sender = "%s@remote.example" % unique("trace-from")
        full = new_user(self.m, "tracefull")
        self.m.mailacct("quota", full, "1M", "--force")
        unknown = "%s@example.test" % unique("nosuch")
        far = "%s@elsewhere.example" % unique("far")
        # first a message that gets through, so the story has a delivery before the refusals
        s = self.smtp()
        s.sendmail(sender, [full], "Subject: first\r\n\r\nhello\r\n")
        s.quit()
        self.assertTrue(self.m.wait_for(lambda: "to=<%s> how=local" % full
                                        in self.m.log("queue"), 15), self.m.log("queue"))
        refusals = []
        for rcpt, opts, code in ((unknown, [], "550 5.1.1"),
                                 (full, ["SIZE=2000000"], "552 5.2.2"),
                                 (far, [], "554 5.7.1")):
            s = self.smtp()
            self.assertEqual(s.mail(sender, opts)[0], 250)
            r = s.rcpt(rcpt)
            self.assertEqual("%d %s" % (r[0], r[1].decode()[:5]), code, r)
            s.quit()
            refusals.append((rcpt, code))
        self.assertTrue(self.m.wait_for(lambda: far in self.m.log("smtp"), 10))
        for rcpt, code in refusals:
            with self.subTest(rcpt=rcpt):
                lines = self.trace(rcpt.upper() if rcpt == full else rcpt)
                hits = [l for l in lines if code in l]
                self.assertEqual(len(hits), 1, "\n".join(lines))
                self.assertIn("smtpd: info: refused", hits[0])
                self.assertIn("from=<%s> rcpt=<%s>" % (sender, rcpt), hits[0])
        # the recipient's story: the delivery, then the refusal
        lines = self.trace(full)
        delivered = [i for i, l in enumerate(lines) if "delivered" in l and full in l]
        refused = [i for i, l in enumerate(lines) if "552 5.2.2" in l]
        self.assertTrue(delivered and refused, "\n".join(lines))
        self.assertLess(delivered[0], refused[0])
        # the sender's story: its message, then the three refusals in the order they happened
        lines = self.trace(sender)
        codes = [c for l in lines for _, c in refusals if c in l]
        self.assertEqual(codes, ["550 5.1.1", "552 5.2.2", "554 5.7.1"], "\n".join(lines))


@unittest.skipUnless(have("queue-inject") and have("queue-run"), "queue not built")
class InjectTest(unittest.TestCase):
    """queue-inject alone: codes, commit semantics and the access rules of the socket."""

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot.shared()

    def test_inject_returns_id_and_commits_the_message(self):
        marker = unique()
        with_down = self.m.root + "/service/queue"
        subprocess.run(["s6-svc", "-d", with_down], check=True)
        try:
            self.m.wait_for(lambda: not self.m.pids("queue"), 10)
            before = queue_files(self.m, "mess")
            rc, out, err = inject(self.m, message(marker), "a@remote.test",
                                  ["x@example.test", "y@example.test"])
            self.assertEqual(rc, 0, err)
            self.assertRegex(out, ID_RE)
            qid = out.decode().strip()
            self.assertEqual(queue_files(self.m, "mess") - before, {qid})
            data = open(os.path.join(self.m.root, "queue", "mess", qid), "rb").read()
            head, _, body = data.partition(b"\n\n")
            lines = head.split(b"\n")
            self.assertEqual(lines[0], b"Y1")
            self.assertRegex(lines[1], rb"^T\d+$")
            self.assertEqual(lines[2:], [b"Fa@remote.test", b"Rx@example.test",
                                         b"Ry@example.test"])
            self.assertEqual(body, message(marker))
            # the ID starts with the commit time, at or just after the arrival
            self.assertIn(int(qid[:8], 16) - int(lines[1][1:]), (0, 1))
            self.assertEqual(os.listdir(os.path.join(self.m.root, "queue", "tmp")), [])
            self.assertIn("queued id=%s" % qid, err.decode())
        finally:
            subprocess.run(["s6-svc", "-u", with_down], check=True)

    def test_truncated_envelope_queues_nothing(self):
        marker = unique()
        rc, out, err = inject(self.m, message(marker), "", [],
                              envelope=b"Fa@remote.test\0Tx@example.test\0")
        self.assertNotEqual(rc, 0)
        self.assertEqual(rc, 54, err)
        self.assertEqual(out, b"")
        self.assertEqual(queued_with(self.m, marker), set())
        self.assertEqual(os.listdir(os.path.join(self.m.root, "queue", "tmp")), [])

    def test_hostile_envelopes_are_refused(self):
        cases = [
            (b"F\0T" + b"a" * 400 + b"@example.test\0\0", 11, "address too long"),
            (b"F\0Tx\r\n@example.test\0\0", 91, "CR LF inside an address"),
            (b"Fa\nRevil@x\0Tx@example.test\0\0", 91, "LF in the sender"),
            (b"F\0\0", 91, "no recipient"),
            (b"Xjunk\0\0", 91, "not an envelope"),
            (b"F\0" + b"".join(b"Tr%d@example.test\0" % i for i in range(1001)) + b"\0", 91,
             "over 1000 recipients"),
        ]
        for env, code, what in cases:
            marker = unique()
            rc, out, err = inject(self.m, message(marker), "", [], envelope=env)
            self.assertEqual(rc, code, "%s: %s" % (what, err))
            self.assertEqual(out, b"", what)
            self.assertEqual(queued_with(self.m, marker), set(), what)

    def test_no_file_in_mess_before_the_envelope_commits(self):
        marker = unique()
        seen = {}

        def look():
            time.sleep(0.3)
            seen["mess"] = queued_with(self.m, marker)
        rc, out, err = inject(self.m, message(marker) * 1000, "", ["nobody-q@example.test"],
                              before_envelope=look)
        self.assertEqual(rc, 0, err)
        self.assertEqual(seen["mess"], set(), "a message file appeared before the commit")

    @unittest.skipUnless(IS_ROOT, "uid separation needs root")
    def test_refuses_to_run_as_root(self):
        marker = unique()
        rc, out, err = inject(self.m, message(marker), "", ["x@example.test"], as_root=True)
        self.assertEqual(rc, 111)
        self.assertIn(b"root", err)
        self.assertEqual(queued_with(self.m, marker), set())

    def test_socket_allows_smtpd(self):
        user = new_user(self.m)
        marker = unique()
        rc, out, err = inject(self.m, message(marker), "a@remote.test", [user], user="yubin-smtpd",
                              socket_path=os.path.join(self.m.root, "run", "inject.sock"))
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, ID_RE)
        if have("deliver"):
            self.assertTrue(self.m.wait_for(lambda: find_mail(self.m, user, marker.encode()), 15),
                            self.m.log("queue"))
            # deliver's line (its service log) carries the queue id, for mailtrace
            qid = out.decode().strip()
            line = "deliver: info: delivered id=%s to=<%s>" % (qid, user)
            self.assertTrue(self.m.wait_for(lambda: line in self.m.log("deliver"), 10),
                            self.m.log("deliver"))

    @unittest.skipUnless(IS_ROOT, "uid separation needs root")
    def test_socket_refuses_other_uids(self):
        for who in ("yubin-pop", "yubin-mbox", "root"):
            marker = unique()
            rc, out, err = inject(self.m, message(marker), "", ["x@example.test"], user=who,
                                  socket_path=os.path.join(self.m.root, "run", "inject.sock"))
            # queue-inject checks the peer uid (IPCFD_PEERS) before reading anything and exits
            # without a status: ipc-call says so, 111; the service log says who was refused
            self.assertEqual(rc, 111, who)
            self.assertRegex(err, rb"^ipc-call: warning: .*: refused", who)
            self.assertNotRegex(out, ID_RE, who)
            line = ("queue-inject: warning: refused a connection from uid %d (not in IPCFD_PEERS)"
                    % pwd.getpwnam(who).pw_uid)
            self.assertTrue(self.m.wait_for(lambda: line in self.m.log("inject"), 10),
                            self.m.log("inject"))
            self.assertEqual(queued_with(self.m, marker), set(), who)

    @unittest.skipUnless(shutil.which("strace"), "strace not installed")
    def test_two_fsyncs_per_message(self):
        out = os.path.join(self.m.root, "strace.%d" % os.getpid())
        argv = [self.m.bin("queue-inject")]
        if IS_ROOT:
            argv = ["s6-setuidgid", "yubin-q"] + argv
        a, b = socket.socketpair()
        p = subprocess.Popen(["strace", "-f", "-c", "-o", out, "-e",
                              "trace=fsync,fdatasync,sync_file_range,msync"] + argv,
                             stdin=subprocess.PIPE, stdout=b.fileno(), stderr=subprocess.PIPE,
                             env=self.m.env())
        b.close()
        p.stdin.write(message(unique()))
        p.stdin.close()
        a.sendall(b"F\0Tnobody-q@example.test\0\0")
        a.shutdown(socket.SHUT_WR)
        a.recv(100)
        self.assertEqual(p.wait(timeout=30), 0, p.stderr.read())
        text = open(out).read()
        os.unlink(out)
        counts = {mo.group(2): int(mo.group(1))
                  for mo in re.finditer(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$",
                                        text, re.M)}
        self.assertEqual(counts.get("fsync", 0) + counts.get("fdatasync", 0), 2, text)


@unittest.skipUnless(have("queue-inject") and have("queue-run") and have("deliver")
                     and have("mailacct"), "queue, deliver or mailacct not built")
class DeliveryTest(unittest.TestCase):
    """queue-run on the shared tree: local delivery, bounces and double bounces."""

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot.shared()

    def test_delivers_into_the_maildir_and_removes_the_message(self):
        user = new_user(self.m)
        marker = unique()
        rc, out, err = inject(self.m, message(marker), "a@remote.test", [user])
        self.assertEqual(rc, 0, err)
        qid = out.decode().strip()
        got = self.m.wait_for(lambda: find_mail(self.m, user, marker.encode()), 15)
        self.assertEqual(len(got), 1, self.m.log("queue"))
        self.assertTrue(got[0].endswith(message(marker)))
        self.assertIn(b"Return-Path: <a@remote.test>", got[0])
        log = self.m.wait_for(lambda: "done id=%s" % qid in self.m.log("queue")
                              and self.m.log("queue"), 10)
        self.assertIn("delivered id=%s to=<%s> how=local" % (qid, user), log)
        self.assertNotIn(qid, queue_files(self.m, "mess"))
        self.assertNotIn(qid, queue_files(self.m, "state"))

    def test_unknown_recipient_bounces_to_the_sender(self):
        sender = new_user(self.m)
        good = new_user(self.m)
        bad = "nosuch-%s@example.test" % unique("u")
        marker = unique()
        rc, out, err = inject(self.m, message(marker, "bounce me"), sender, [good, bad])
        self.assertEqual(rc, 0, err)
        qid = out.decode().strip()
        self.assertTrue(self.m.wait_for(lambda: find_mail(self.m, good, marker.encode()), 15))
        bounces = self.m.wait_for(lambda: find_mail(self.m, sender, b"report-type"), 15)
        self.assertEqual(len(bounces), 1, self.m.log("queue"))
        raw = bounces[0]
        self.assertIn(b"Return-Path: <>", raw)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.assertTrue(msg["From"].startswith("MAILER-DAEMON@"))
        self.assertEqual(msg["To"].addresses[0].addr_spec, sender)
        self.assertEqual(msg["Auto-Submitted"], "auto-replied")
        self.assertIn("Undelivered Mail", msg["Subject"])
        self.assertIn("配送エラー", msg["Subject"])
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertEqual(msg.get_param("report-type"), "delivery-status")
        parts = msg.get_payload()
        self.assertEqual([p.get_content_type() for p in parts],
                         ["text/plain", "message/delivery-status", "text/rfc822-headers"])
        text = parts[0].get_content()
        self.assertIn(bad, text)
        self.assertNotIn(good, text)
        self.assertLess(text.index("存在しません"), text.index("does not exist"))
        status = parts[1].as_bytes().decode()
        self.assertIn("Reporting-MTA: dns; mail.example.test", status)
        self.assertIn("Final-Recipient: rfc822; %s" % bad, status)
        self.assertIn("Action: failed", status)
        self.assertIn("Status: 5.1.1", status)
        self.assertIn("Diagnostic-Code: X-Yubin; no such mailbox (#5.1.1)", status)
        self.assertIn("Subject: bounce me", parts[2].as_bytes().decode())
        self.assertNotIn("body %s" % marker, parts[2].as_bytes().decode())
        log = self.m.wait_for(lambda: "done id=%s" % qid in self.m.log("queue")
                              and self.m.log("queue"), 10)
        self.assertRegex(log, r"bounced id=%s to=<%s> reason=.*5\.1\.1" % (qid, re.escape(bad)))

    def test_failed_bounce_goes_to_admin_once(self):
        bad = "nosuch-%s@example.test" % unique("u")
        marker = unique()
        rc, out, err = inject(self.m, message(marker, "null sender"), "", [bad])
        self.assertEqual(rc, 0, err)
        got = self.m.wait_for(lambda: find_mail(self.m, "admin@example.test", bad.encode()), 15)
        self.assertEqual(len(got), 1, self.m.log("queue"))
        self.assertIn(b"Return-Path: <>", got[0])
        self.assertIn(b"report-type=delivery-status", got[0])

    def test_failed_double_bounce_is_dropped(self):
        """A double bounce (sender #@[]) that fails is logged and dropped, never bounced."""
        bad = "nosuch-%s@example.test" % unique("u")
        rc, out, err = inject(self.m, message(unique()), "#@[]", [bad])
        self.assertEqual(rc, 0, err)
        qid = out.decode().strip()
        # IDs are unique while a message is queued, so an older message may have had this one
        self.assertTrue(self.m.wait_for(
            lambda: "dropped double bounce id=%s" % qid in self.m.log("queue"), 15),
            self.m.log("queue"))
        self.assertEqual(find_mail(self.m, "admin@example.test", bad.encode()), [])


@unittest.skipUnless(have("queue-inject") and have("queue-run") and have("deliver")
                     and have("remote") and have("mkmaps"), "queue, deliver or remote not built")
class RemoteTest(unittest.TestCase):
    """Remote recipients: one remote call per domain, a refusal bounces with Remote-MTA."""

    @classmethod
    def setUpClass(cls):
        from smtpsink import Sink
        cls.m = MailRoot.shared()
        cls.sink = Sink(script={"RCPT": ["550 5.1.1 <b@refuse-q.test>: no such user here",
                                         "250 2.1.5 ok"]}).start()
        with open(os.path.join(cls.m.root, "etc", "routes"), "a") as f:
            f.write("refuse-q.test:127.0.0.1:%d\n" % cls.sink.port)
        subprocess.run([cls.m.bin("mkmaps"), "--root", cls.m.root], env=cls.m.env(),
                       check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        cls.sink.stop()

    def test_remote_refusal_bounces_with_remote_mta(self):
        sender = new_user(self.m)
        marker = unique()
        rc, out, err = inject(self.m, message(marker, "to remote"), sender,
                              ["b@refuse-q.test", "c@refuse-q.test"])
        self.assertEqual(rc, 0, err)
        qid = out.decode().strip()
        bounces = self.m.wait_for(lambda: find_mail(self.m, sender, b"b@refuse-q.test"), 20)
        self.assertEqual(len(bounces), 1, self.m.log("queue"))
        msgs = self.sink.messages()
        self.assertEqual(len(msgs), 1, "one transaction for both recipients of the domain")
        self.assertEqual(msgs[0][1], ["c@refuse-q.test"])
        self.assertIn(marker.encode(), msgs[0][2])
        raw = bounces[0]
        self.assertIn(b"Final-Recipient: rfc822; b@refuse-q.test", raw)
        self.assertNotIn(b"Final-Recipient: rfc822; c@refuse-q.test", raw)
        self.assertIn(b"Status: 5.1.1", raw)
        self.assertIn(b"Remote-MTA: dns; 127.0.0.1", raw)
        self.assertIn(b"Diagnostic-Code: smtp; 550 5.1.1 <b@refuse-q.test>: no such user here",
                      raw)
        # queue-run's line reaches the log through s6-log, maybe after the bounce is stored
        self.assertTrue(self.m.wait_for(lambda: "delivered id=%s to=<c@refuse-q.test> how=remote"
                                        % qid in self.m.log("queue"), 10),
                        self.m.log("queue")[-2000:])


def parse_notice(test, raw):
    """A notice parsed by the email package: (message, decoded text, status part text)."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    parts = msg.get_payload()
    test.assertEqual(parts[0]["Content-Transfer-Encoding"], "base64")
    text = parts[0].get_content()
    if parts[1].get_content_type() == "message/global-delivery-status":
        # the email package leaves message/* undecoded: the base64 body by hand
        import base64
        body = parts[1].as_bytes().split(b"\n\n", 1)[1]
        status = base64.b64decode(body).decode()
    else:
        status = "".join(str(p) for p in parts[1].get_payload())
    return msg, text, status


@unittest.skipUnless(have("queue-inject") and have("queue-run") and have("deliver")
                     and have("remote") and have("mkmaps") and have("mailacct"),
                     "queue, deliver, remote or mailacct not built")
class NoticeTextTest(unittest.TestCase):
    """What a bounce tells the sender, from real deliveries: our add-on only for our basic
    mailboxes, another server's limits as its own, our findings as ours, RFC 6533 for a UTF-8
    recipient, and a notice 7-bit enough for a server without 8BITMIME (RFC 6152)."""

    @classmethod
    def setUpClass(cls):
        from smtpsink import Sink
        cls.m = MailRoot.shared()
        cls.full = Sink(script={"RCPT": ["552 5.2.2 <f@full-q.test>: mailbox full"]}).start()
        cls.big = Sink(script={"DATA": ["552 5.3.4 message exceeds 2048 bytes here"]}).start()
        cls.ascii = Sink(caps=("PIPELINING", "SIZE 20971520")).start()   # no 8BITMIME/SMTPUTF8
        with open(os.path.join(cls.m.root, "etc", "routes"), "a") as f:
            f.write("full-q.test:127.0.0.1:%d\nbig-q.test:127.0.0.1:%d\n"
                    "ascii-q.test:127.0.0.1:%d\n" % (cls.full.port, cls.big.port,
                                                    cls.ascii.port))
        subprocess.run([cls.m.bin("mkmaps"), "--root", cls.m.root], env=cls.m.env(),
                       check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        for s in (cls.full, cls.big, cls.ascii):
            s.stop()

    def bounce_for(self, sender, rcpts, needle, subject="notice test", body=None):
        marker = unique()
        msg = message(marker, subject) if body is None else body
        rc, out, err = inject(self.m, msg, sender, rcpts)
        self.assertEqual(rc, 0, err)
        got = self.m.wait_for(lambda: find_mail(self.m, sender, needle), 30)
        self.assertTrue(got, self.m.log("queue")[-3000:])
        return got[0]

    def test_remote_full_mailbox_advertises_nothing(self):
        sender = new_user(self.m)
        raw = self.bounce_for(sender, ["f@full-q.test"], b"f@full-q.test")
        msg, text, status = parse_notice(self, raw)
        self.assertNotIn("容量増設", text)
        self.assertNotIn("add-on", text)
        self.assertIn("mailbox on their mail server is full", text)
        self.assertIn("相手先のメールサーバ上", text)
        self.assertIn("Remote server's reply: 127.0.0.1 [127.0.0.1] said: 552 5.2.2", text)
        self.assertIn("Diagnostic-Code: smtp; 552 5.2.2 <f@full-q.test>: mailbox full", status)
        self.assertIn("Remote-MTA: dns; 127.0.0.1", status)

    def test_local_full_mailbox_names_the_add_on_only_on_the_basic_plan(self):
        sender = new_user(self.m)
        basic = "%s@example2.test" % unique("qb")        # example2.test: the basic plan
        self.m.add_user(basic, "pw-basic-secret-q", quota=1048576)
        premium = new_user(self.m, "qp")
        self.m.mailacct("quota", premium, "1M")
        big = message(unique(), "too big") + b"x" * 1100000 + b"\n"
        for rcpt, addon in ((basic, True), (premium, False)):
            raw = self.bounce_for(sender, [rcpt], rcpt.encode(), body=big)
            msg, text, status = parse_notice(self, raw)
            self.assertIn("mailbox is full", text)
            self.assertEqual("容量増設オプション(50MB)" in text, addon, text)
            self.assertEqual("capacity add-on (50 MB)" in text, addon, text)
            # deliver's finding: ours, with no made-up SMTP reply (RFC 3464 §2.3.6)
            self.assertIn("Diagnostic-Code: X-Yubin; mailbox full (quota 1 MB) (#5.2.2)", status)
            self.assertNotIn("smtp;", status)
            self.assertIn("What happened: mailbox full", text)

    def test_remote_size_refusal_is_the_servers_limit(self):
        sender = new_user(self.m)
        raw = self.bounce_for(sender, ["s@big-q.test"], b"s@big-q.test")
        msg, text, status = parse_notice(self, raw)
        self.assertNotIn("20 MB", text)
        self.assertNotIn("20MB", text)
        self.assertIn("each server sets its own limit", text)
        self.assertIn("約 1.37 倍", text)
        self.assertIn("about 1.37 times", text)
        self.assertNotIn("1.2~1.5", text)
        self.assertIn("Diagnostic-Code: smtp; 552 5.3.4 message exceeds 2048 bytes here",
                      status)

    def test_utf8_recipient_without_smtputf8_is_our_finding_in_a_global_report(self):
        sender = new_user(self.m)
        rcpt = "ユーザ@ascii-q.test"
        raw = self.bounce_for(sender, [rcpt], b"global-delivery-status")
        msg, text, status = parse_notice(self, raw)
        self.assertEqual(msg.get_param("report-type"), "global-delivery-status")
        parts = msg.get_payload()
        self.assertEqual(parts[1].get_content_type(), "message/global-delivery-status")
        self.assertIn("Final-Recipient: utf-8; %s\n" % rcpt, status)
        self.assertIn("Status: 5.6.7", status)
        self.assertIn("Diagnostic-Code: X-Yubin; 127.0.0.1 [127.0.0.1]: the address needs "
                      "SMTPUTF8", status)
        self.assertNotIn("Remote-MTA", status)
        self.assertNotIn("smtp;", status)
        self.assertNotIn("Remote server's reply", text)
        self.assertNotIn("相手先サーバの応答", text)
        self.assertNotIn("refused the message", text)
        self.assertIn("What happened: 127.0.0.1 [127.0.0.1]: the address needs SMTPUTF8", text)
        self.assertIn("状況: 127.0.0.1", text)

    def test_bounce_to_a_server_without_8bitmime_is_7bit(self):
        """The sender is on a server without 8BITMIME: the bounce remote sends it must carry
        no 8-bit octet (RFC 6152), so its Japanese text goes in base64."""
        sender = "s%s@ascii-q.test" % unique("b")
        bad = "nosuch-%s@example.test" % unique("u")
        before = len(self.ascii.messages())
        rc, out, err = inject(self.m, message(unique(), "to the 7-bit server"), sender, [bad])
        self.assertEqual(rc, 0, err)
        self.assertTrue(self.m.wait_for(lambda: len(self.ascii.messages()) > before, 30),
                        self.m.log("queue")[-3000:])
        mail, rcpts, data = self.ascii.messages()[before]
        self.assertEqual(rcpts, [sender])
        self.assertTrue(all(c < 0x80 for c in data), "8-bit octets sent without 8BITMIME")
        msg, text, status = parse_notice(self, data.replace(b"\r\n", b"\n"))
        self.assertIn("宛先のメールアドレスは存在しません", text)
        self.assertIn("Final-Recipient: rfc822; %s" % bad, status)


@unittest.skipUnless(have("queue-inject") and have("queue-run") and have("deliver")
                     and have("mailacct"), "queue, deliver or mailacct not built")
class RetryTest(unittest.TestCase):
    """A private tree with a fast retry schedule; deliver is taken down to make failures."""

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(env={"QUEUE_BACKOFF": "1,1,2", "QUEUE_LIFETIME": "432000",
                              "QUEUE_WARN": "0", "QUEUE_SCAN": "300"})
        cls.m.start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def svc(self, flag, service):
        subprocess.run(["s6-svc", flag, os.path.join(self.m.root, "service", service)],
                       check=True)

    def deliver_down(self):
        """The deliver service stopped (s6-svc -d), as an operator stops it: its socket file
        stays, and nothing listens on it."""
        self.svc("-d", "deliver")
        self.m.wait_for(lambda: not self.m.pids("deliver"), 10)
        self.assertTrue(os.path.exists(os.path.join(self.m.root, "run", "deliver.sock")))

    def deliver_up(self):
        self.svc("-u", "deliver")
        self.m.wait_ready()

    def restart_queue(self, settings):
        for k, v in settings.items():
            self.m.set_env(k, v)
        self.m.restart("queue")

    def inject_deferred(self, user, marker, deferrals):
        """One message for user queued while deliver is down (deliver_down before; the
        caller brings it back), once queue-run has deferred it `deferrals` times: its id."""
        rc, out, err = inject(self.m, message(marker), "a@remote.test", [user])
        self.assertEqual(rc, 0, err)
        qid = out.decode().strip()
        self.assertTrue(self.m.wait_for(
            lambda: self.m.log("queue").count("deferred id=%s" % qid) >= deferrals, 20),
            self.m.log("queue"))
        return qid

    def test_retry_then_success(self):
        user = new_user(self.m)
        marker = unique()
        self.deliver_down()
        try:
            qid = self.inject_deferred(user, marker, 2)
            state = open(os.path.join(self.m.root, "queue", "state", qid)).read()
            self.assertTrue(re.search(r"^0 Z \d+ .*\(#4\.\d+\.\d+\)$", state, re.M), state)
        finally:
            self.deliver_up()
        self.assertTrue(self.m.wait_for(lambda: find_mail(self.m, user, marker.encode()), 15),
                        self.m.log("queue"))
        self.assertTrue(self.m.wait_for(lambda: "done id=%s" % qid in self.m.log("queue"), 10))
        self.assertEqual(len(find_mail(self.m, user, marker.encode())), 1)

    def test_deliver_down_is_no_try(self):
        """While the deliver service is down, mail for a local mailbox is not tried: mailq
        shows tries=0, the state file keeps one line for three deferrals, and the mail goes
        in as soon as deliver is back (before, each deferral was a try, and the backoff grew
        with the length of the outage)."""
        user = new_user(self.m)
        marker = unique()
        self.deliver_down()
        try:
            qid = self.inject_deferred(user, marker, 3)
            state = open(os.path.join(self.m.root, "queue", "state", qid)).read()
            lines = [x for x in state.splitlines() if x.startswith("0 Z ")]
            self.assertEqual(len(lines), 1, state)
            self.assertIn("local delivery: unable to reach run/deliver.sock", lines[0])
            r = subprocess.run([self.m.bin("mailq"), "--root", self.m.root], capture_output=True,
                               text=True, env=self.m.env())
            self.assertEqual(r.returncode, 0, r.stderr)
            line = [x for x in r.stdout.splitlines() if user in x]
            self.assertTrue(line and "tries=0" in line[0], r.stdout)
        finally:
            self.deliver_up()
        self.assertTrue(self.m.wait_for(lambda: find_mail(self.m, user, marker.encode()), 15),
                        self.m.log("queue"))

    def test_a_new_reason_not_to_try_is_written(self):
        """Deliver down, then the domain map unreadable too: the state file (and so mailq and
        a notice) says the second reason once it is the one, though neither is a try and a
        repeat of the same reason is not written again."""
        user = new_user(self.m)
        marker = unique()
        domains = os.path.join(self.m.root, "cdb", "domains.cdb")
        mode = os.stat(domains).st_mode
        self.deliver_down()
        try:
            qid = self.inject_deferred(user, marker, 2)
            state = os.path.join(self.m.root, "queue", "state", qid)
            os.chmod(domains, 0)
            try:
                self.assertTrue(self.m.wait_for(
                    lambda: "reading the domain map" in open(state).read(), 20),
                    open(state).read())
                n = self.m.log("queue").count("deferred id=%s" % qid)
                self.assertTrue(self.m.wait_for(
                    lambda: self.m.log("queue").count("deferred id=%s" % qid) >= n + 2, 20))
            finally:
                os.chmod(domains, mode)
            lines = [x.split(" ", 3)[3] for x in open(state).read().splitlines()
                     if x.startswith("0 Z ")]
            self.assertEqual(len(lines), 2, lines)
            self.assertTrue(lines[0].startswith("local delivery: unable to reach run/deliver"))
            self.assertTrue(lines[1].startswith("temporary failure reading the domain map"))
        finally:
            self.deliver_up()
        self.assertTrue(self.m.wait_for(lambda: find_mail(self.m, user, marker.encode()), 15),
                        self.m.log("queue"))

    def test_expiry_bounces_and_warning_is_sent_once(self):
        sender = new_user(self.m)
        user = new_user(self.m)
        marker = unique()
        self.restart_queue({"QUEUE_LIFETIME": "4", "QUEUE_WARN": "1"})
        # Only the recipient's mailbox fails (its tmp/ unwritable: a temporary error), so the
        # delay warning and the bounce to the sender are delivered while the original waits.
        tmp = os.path.join(self.m.maildir(user), "tmp")
        os.makedirs(tmp, exist_ok=True)
        mode = os.stat(tmp).st_mode
        try:
            os.chmod(tmp, 0)
            try:
                rc, out, err = inject(self.m, message(marker, "too slow"), sender, [user])
                self.assertEqual(rc, 0, err)
                qid = out.decode().strip()
                self.assertTrue(self.m.wait_for(
                    lambda: "bounced id=%s" % qid in self.m.log("queue"), 20), self.m.log("queue"))
            finally:
                os.chmod(tmp, mode)
            got = self.m.wait_for(lambda: len(find_mail(self.m, sender, b"report-type")) >= 2, 30)
            self.assertTrue(got, "%s\nlogs: %s\nmess: %s" % (
                self.m.log("queue"), os.listdir(os.path.join(self.m.root, "log", "queue")),
                queue_files(self.m, "mess")))
            notices = find_mail(self.m, sender, b"report-type")
            kinds = sorted(b"Action: delayed" in n and "delayed" or "failed" for n in notices)
            self.assertEqual(kinds, ["delayed", "failed"])
            failed = [n for n in notices if b"Action: failed" in n][0]
            self.assertIn(b"Status: 4.4.7", failed)
            self.assertIn(b"expired", failed)
            self.assertEqual(find_mail(self.m, user, marker.encode()), [])
        finally:
            self.restart_queue({"QUEUE_LIFETIME": "432000", "QUEUE_WARN": "0"})

    def test_times_past_the_end_of_time_are_cut_to_30_days(self):
        """QUEUE_LIFETIME, QUEUE_WARN, QUEUE_JOB_TIMEOUT and QUEUE_SCAN of 2^63 or more (a typo,
        a "never"): each is taken as 30 days, as a QUEUE_BACKOFF step is. A failure is deferred,
        not bounced as expired, no warning goes out, no job is given up, and the message is
        delivered once. Before, each was negative as a time_t: every temporary failure bounced
        as expired at once, the warning went out at once, and every job was given up as soon
        as it started (its mail delivered again)."""
        sender = new_user(self.m)
        user = new_user(self.m)
        marker = unique()
        huge = {"QUEUE_LIFETIME": "18446744073709551615", "QUEUE_WARN": "9223372036854775808",
                "QUEUE_JOB_TIMEOUT": "9223372036854775808", "QUEUE_SCAN": "18446744073709551615"}
        self.addCleanup(self.restart_queue, {"QUEUE_LIFETIME": "432000", "QUEUE_WARN": "0",
                                             "QUEUE_JOB_TIMEOUT": "3600", "QUEUE_SCAN": "300"})
        self.restart_queue(huge)
        self.deliver_down()
        try:
            rc, out, err = inject(self.m, message(marker), sender, [user])
            self.assertEqual(rc, 0, err)
            qid = out.decode().strip()
            self.assertTrue(self.m.wait_for(
                lambda: self.m.log("queue").count("deferred id=%s" % qid) >= 2, 15),
                self.m.log("queue")[-3000:])
        finally:
            self.deliver_up()
        self.assertTrue(self.m.wait_for(lambda: "done id=%s" % qid in self.m.log("queue"), 15),
                        self.m.log("queue")[-3000:])
        log = self.m.log("queue")
        self.assertNotIn("bounced id=%s" % qid, log)
        self.assertNotIn("for id=%s" % qid, log, "no warning, no bounce")
        self.assertNotIn("giving up on delivery id=%s" % qid, log)
        self.assertEqual(len(find_mail(self.m, user, marker.encode())), 1)
        self.assertEqual(find_mail(self.m, sender, b"report-type"), [])

    def test_job_counts_are_bounded_and_bad_ones_take_the_default(self):
        """QUEUE_LOCAL_CONC of a billion is cut to 1000 and QUEUE_DOMAIN_CONC of 2^32 too;
        QUEUE_REMOTE_CONC that is not a number takes the default 20: one warning line each,
        naming the setting and the value used, and queue-run runs and delivers. Before, a
        billion made queue-run's job table too big to allocate and it died at each start
        (s6 starting it again and again), and 2^32 wrapped to 0."""
        user = new_user(self.m)
        marker = unique()
        self.addCleanup(self.restart_queue, {"QUEUE_LOCAL_CONC": "20", "QUEUE_REMOTE_CONC": "20",
                                             "QUEUE_DOMAIN_CONC": "20"})
        self.restart_queue({"QUEUE_LOCAL_CONC": "1000000000", "QUEUE_REMOTE_CONC": "twenty",
                            "QUEUE_DOMAIN_CONC": "4294967296"})
        rc, out, err = inject(self.m, message(marker), "a@remote.test", [user])
        self.assertEqual(rc, 0, err)
        self.assertTrue(self.m.wait_for(lambda: find_mail(self.m, user, marker.encode()), 15),
                        self.m.log("queue")[-3000:])
        said = ["info: started:",
                "warning: QUEUE_LOCAL_CONC is above 1000, the most queue-run runs at once: "
                "1000 used",
                "warning: QUEUE_DOMAIN_CONC is above 1000, the most queue-run runs at once: "
                "1000 used",
                "warning: QUEUE_REMOTE_CONC is 0 or not a number (1 to 1000): the default 20 "
                "used"]

        def this_run():
            """The lines of the queue-run started above: those after the last "stopped" (its
            restart's). Through s6-log they come a moment after what they say is done, and so
            may the lines of the start before it (the previous test's cleanup)."""
            log = self.m.log("queue")
            return log[max(0, log.rfind("queue-run: info: stopped\n")):]
        self.assertTrue(self.m.wait_for(lambda: all(x in this_run() for x in said), 10),
                        this_run()[-3000:])
        log = this_run()
        for x in said:
            self.assertEqual(log.count(x), 1, log[-3000:])
        self.assertEqual(log.count("QUEUE_"), 3, log[-3000:])

    def test_restart_replays_the_state_log(self):
        """queue-run really delivers to one recipient and defers the other (its tmp/
        unwritable), is stopped, and on restart delivers only what the state log leaves
        undone. The torn last line is fault injection (a crash in the middle of an append;
        no program leaves one on purpose): it is ignored."""
        done_user = new_user(self.m)
        todo_user = new_user(self.m)
        marker = unique()
        tmp = os.path.join(self.m.maildir(todo_user), "tmp")
        mode = os.stat(tmp).st_mode
        os.chmod(tmp, 0)
        try:
            rc, out, err = inject(self.m, message(marker), "a@remote.test", [done_user, todo_user])
            self.assertEqual(rc, 0, err)
            qid = out.decode().strip()
            self.assertTrue(self.m.wait_for(lambda: find_mail(self.m, done_user, marker.encode())
                                            and "deferred id=%s" % qid in self.m.log("queue"), 15),
                            self.m.log("queue"))
            self.addCleanup(self.svc, "-u", "queue")
            self.svc("-d", "queue")
            self.m.wait_for(lambda: not self.m.pids("queue"), 10)
        finally:
            os.chmod(tmp, mode)
        try:
            path = os.path.join(self.m.root, "queue", "state", qid)
            state = open(path).read()
            self.assertRegex(state, r"(?m)^0 D \d+ ")
            self.assertRegex(state, r"(?m)^1 Z \d+ .*\(#4\.\d+\.\d+\)$")
            self.assertNotRegex(state, r"(?m)^1 D ")
            with open(path, "a") as f:
                f.write("1 D 17")        # a torn last line: ignored
        finally:
            self.svc("-u", "queue")
        self.assertTrue(self.m.wait_for(lambda: find_mail(self.m, todo_user, marker.encode()), 15),
                        self.m.log("queue"))
        self.assertTrue(self.m.wait_for(lambda: "done id=%s" % qid in self.m.log("queue"), 10))
        self.assertEqual(len(find_mail(self.m, done_user, marker.encode())), 1,
                         "delivered before the stop: not again")


@unittest.skipUnless(IS_ROOT and shutil.which("strace") and have("queue-inject")
                     and have("queue-run") and have("deliver") and have("mailq"),
                     "needs root, strace, and queue-run, deliver and mailq built")
class DeleteRaceTest(unittest.TestCase):
    """mailq delete racing queue-run: a delivery whose D line lands between mailq's reading of
    state/ID and its F lines stays a delivery. A private tree: the test stops queue-run."""

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(prefix="yubin-delrace-")
        cls.m.start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def svc(self, flag):
        subprocess.run(["s6-svc", flag, os.path.join(self.m.root, "service", "queue")],
                       check=True)

    def test_delivery_between_deletes_read_and_write_is_not_bounced(self):
        """mailq delete reads the state (both recipients pending) and its first write is
        held back (strace delays it); queue-run starts, really delivers one recipient and
        defers the other (its tmp/ unwritable); then mailq writes its F lines. The delivered
        recipient has the message and is not in the sender's bounce; the other one is."""
        sender, got, stuck = new_user(self.m), new_user(self.m), new_user(self.m)
        marker = unique()
        tmp = os.path.join(self.m.maildir(stuck), "tmp")
        mode = os.stat(tmp).st_mode
        os.chmod(tmp, 0)
        self.addCleanup(os.chmod, tmp, mode)
        self.addCleanup(self.m.wait_ready)
        self.addCleanup(self.svc, "-u")
        self.svc("-d")
        self.m.wait_for(lambda: not self.m.pids("queue"), 10)
        rc, out, err = inject(self.m, message(marker, "delete race"), sender, [got, stuck])
        self.assertEqual(rc, 0, err)
        qid = out.decode().strip()
        state = os.path.join(self.m.root, "queue", "state", qid)
        self.assertFalse(os.path.exists(state))
        # mailq's first write to state/ID waits (at most a minute) until the tracer is killed
        tracer = subprocess.Popen(
            ["strace", "-f", "-qq", "-o", "/dev/null", "-P", state, "-e", "trace=write",
             "-e", "inject=write:delay_enter=60s:when=1",
             self.m.bin("mailq"), "--root", self.m.root, "delete", qid],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.m.env())
        self.addCleanup(lambda: tracer.poll() is None and tracer.kill())
        # the file appears when mailq opens it to append, after it read it (empty: queue-run
        # is down, nothing else writes it)
        self.assertTrue(self.m.wait_for(lambda: os.path.exists(state), 20), "mailq stuck")
        self.svc("-u")

        def read():
            with open(state) as f:
                return f.read()

        raced = self.m.wait_for(lambda: tracer.poll() is None and re.search(r"(?m)^0 D ", read())
                                and re.search(r"(?m)^1 Z ", read()), 30)
        self.assertTrue(raced, "queue-run's lines did not come while mailq waited:\n"
                        + read() + self.m.log("queue")[-2000:])
        self.assertNotRegex(read(), r"(?m)^\d+ F ")
        tracer.kill()       # strace gone, mailq goes on with its write
        out, err = tracer.communicate(timeout=30)   # EOF: mailq has ended too
        self.assertIn("1 recipient marked failed (deleted by the operator); 1 delivered "
                      "meanwhile (not bounced); the sender gets a bounce", out, err)
        self.assertTrue(self.m.wait_for(lambda: "done id=%s" % qid in self.m.log("queue"), 20),
                        self.m.log("queue")[-3000:])
        self.assertEqual(len(find_mail(self.m, got, marker.encode())), 1)
        self.assertEqual(find_mail(self.m, stuck, marker.encode()), [])
        bounces = self.m.wait_for(lambda: find_mail(self.m, sender, marker.encode()), 15)
        self.assertEqual(len(bounces), 1, self.m.log("queue")[-3000:])
        parts = email.message_from_bytes(bounces[0], policy=email.policy.default).get_payload()
        text, status = parts[0].get_content(), parts[1].as_bytes().decode()
        self.assertIn(stuck, text)
        self.assertIn("Final-Recipient: rfc822; %s" % stuck, status)
        self.assertIn("deleted by the operator", status)
        self.assertNotIn(got, text + status, "a bounce for the delivered recipient")


@unittest.skipUnless(have("queue-inject") and have("queue-run") and have("deliver")
                     and have("mailacct"), "queue, deliver or mailacct not built")
class CrashTest(unittest.TestCase):
    """500 messages injected while queue-run and the deliver processes are SIGKILLed at random:
    every Message-ID ends up in a Maildir (duplicates allowed, losses not)."""

    COUNT = 500

    def setUp(self):
        self.m = MailRoot(env={"QUEUE_BACKOFF": "1", "QUEUE_SCAN": "5"})
        self.m.start()

    def tearDown(self):
        self.m.stop()

    def victims(self):
        pids = []
        for service in ("queue", "deliver"):
            for pid in self.m.pids(service):
                if proc_name(pid) in ("queue-run", "deliver", "s6-ipcserverd"):
                    pids.append(pid)
        return pids

    def test_kill_storm_loses_nothing(self):
        users = [new_user(self.m, "crash") for _ in range(5)]
        markers = ["<crash-%d-%d@example.test>" % (os.getpid(), i) for i in range(self.COUNT)]
        stop = threading.Event()
        kills = [0]

        def killer():
            rnd = random.Random(1234)
            while not stop.is_set():
                pids = self.victims()
                if pids:
                    try:
                        os.kill(rnd.choice(pids), signal.SIGKILL)
                        kills[0] += 1
                    except ProcessLookupError:
                        pass
                time.sleep(rnd.uniform(0.01, 0.06))

        errors = []

        def sender(k):
            for i in range(k, self.COUNT, 8):
                msg = ("Subject: crash %d\nMessage-ID: %s\n\nbody %d\n"
                       % (i, markers[i], i)).encode()
                rc, out, err = inject(self.m, msg, "a@remote.test", [users[i % len(users)]])
                if rc != 0:
                    errors.append((i, rc, err))

        t = threading.Thread(target=killer)
        t.start()
        senders = [threading.Thread(target=sender, args=(k,)) for k in range(8)]
        start = time.time()
        for s in senders:
            s.start()
        for s in senders:
            s.join()
        time.sleep(3)       # keep killing while the backlog is delivered
        stop.set()
        t.join()
        self.assertEqual(errors, [])
        self.assertGreater(kills[0], 5)
        if os.environ.get("YUBIN_VERBOSE"):
            print("kills=%d" % kills[0])

        def missing():
            seen = set()
            for u in users:
                for path in self.m.messages(u):
                    try:
                        data = open(path, "rb").read()
                    except OSError:
                        continue
                    mo = re.search(rb"\nMessage-ID: (<crash-[^>]*>)", data)
                    if mo:
                        seen.add(mo.group(1).decode())
            return [x for x in markers if x not in seen]
        left = self.m.wait_for(lambda: not missing(), 60 - (time.time() - start), 0.5)
        self.assertTrue(left, "lost %d messages after %d kills: %s\n%s" % (
            len(missing()), kills[0], missing()[:5], self.m.log("queue")[-3000:]))
        self.assertTrue(self.m.wait_for(lambda: not queue_files(self.m, "mess"), 20),
                        "messages left in the queue")


if __name__ == "__main__":
    unittest.main()
