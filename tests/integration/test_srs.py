"""SRS: mail an alias forwards to another domain leaves with an SRS0/SRS1 sender at our host
name; a bounce to that address reaches the original sender; forged and expired SRS addresses
are refused at RCPT (docs/queue.md "SRS"). Real s6 tree, real smtpd/queue-run/remote, a real
SMTP sink; the hash is checked with Python's own hmac, hashlib and base64. The SRS sender the
sink sees passes SPF for our host name (spfcheck and pyspf against a dnsmasq publishing
"v=spf1 ip4:127.0.0.1 -all" for it)."""
import base64
import hashlib
import hmac
import os
import pwd
import smtplib
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IS_ROOT, MailRoot, have  # noqa: E402
from smtpsink import Sink  # noqa: E402
from dnsharness import HAVE_DNSMASQ, Dns  # noqa: E402
from test_spf import have_pyspf, pyspf, spfcheck  # noqa: E402

ME = "mail.example.test"
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def srs_hash(secret, data):
    mac = hmac.new(secret.encode(), data.lower().encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()[:4]


def stamp(days_ago=0):
    day = (int(time.time()) // 86400 - days_ago) % 1024
    return B32[day >> 5] + B32[day & 31]


@unittest.skipUnless(have("smtpd") and have("queue-run") and have("remote"), "not built")
class SrsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sink = Sink().start()
        cls.m = MailRoot(prefix="yubin-srs-", env={"QUEUE_BACKOFF": "1,1,2"})
        cls.m.start()
        try:
            etc = os.path.join(cls.m.root, "etc")
            with open(os.path.join(etc, "routes"), "a") as f:
                for d in ("remote.test", "sender.example", "fwd1.example"):
                    f.write("%s:127.0.0.1:%d\n" % (d, cls.sink.port))
            with open(os.path.join(etc, "aliases"), "a") as f:
                f.write("fwd@example.test: friend@remote.test\n")
            subprocess.run([cls.m.bin("mkmaps"), "--root", cls.m.root], env=cls.m.env(), check=True,
                           capture_output=True)
            with open(os.path.join(etc, "srs")) as f:
                cls.secret = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")][0]
        except BaseException:
            cls.m.stop()
            cls.sink.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()
        cls.sink.stop()

    def send(self, sender, rcpt, body):
        with smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=20) as s:
            s.sendmail(sender, [rcpt], body)

    def arrived(self, marker, rcpt):
        def find():
            return [m for m in self.sink.messages() if marker.encode() in m[2] and rcpt in m[1]]
        got = self.m.wait_for(find, timeout=30)
        self.assertTrue(got, "nothing for %s reached the sink: %s" % (rcpt, self.m.log("queue")))
        line, rcpts, data = got[0]
        sender = line.split(b"<", 1)[1].split(b">", 1)[0].decode()     # MAIL FROM:<...> ...
        return sender, rcpts, data

    def test_forwarded_mail_leaves_with_srs0_that_decodes_back(self):
        marker = "srs-forward-%d" % time.time_ns()
        self.send("Bob.Smith@sender.example", "fwd@example.test",
                  "Subject: %s\r\n\r\nforwarded\r\n" % marker)
        mail, rcpts, data = self.arrived(marker, "friend@remote.test")
        local, _, domain = mail.rpartition("@")
        self.assertEqual(domain, ME, "the SRS address is at our host name")
        tag, h, tt, odom, olocal = local.split("=", 4)
        self.assertEqual((tag, odom, olocal), ("SRS0", "sender.example", "Bob.Smith"), mail)
        self.assertEqual(tt, stamp())
        self.assertEqual(h, srs_hash(self.secret, tt + odom + olocal), "hash from etc/srs")
        self.passes_spf(mail)
        # a bounce to it, as the far end would send it, reaches the original sender
        bmark = "srs-bounce-%d" % time.time_ns()
        self.send("", mail, "Subject: Undelivered %s\r\n\r\nbounce\r\n" % bmark)
        bmail, brcpts, _ = self.arrived(bmark, "Bob.Smith@sender.example")
        self.assertEqual(bmail, "")
        self.assertEqual(brcpts, ["Bob.Smith@sender.example"])

    def passes_spf(self, mail):
        """The receiving server's check: SPF of the sink's client address (we sent from
        127.0.0.1) for the SRS sender, with our host name publishing the fleet's address."""
        if not HAVE_DNSMASQ:
            return
        dns = Dns("--txt-record=%s,v=spf1 ip4:127.0.0.1 -all" % ME)
        try:
            got, why, _, err = spfcheck(dns.env(), "127.0.0.1", mail, "mx.example.test")
            self.assertEqual(got, "pass", (why, err))
            if have_pyspf():
                self.assertEqual(pyspf(dns.port, [("127.0.0.1", mail, "mx.example.test")]),
                                 ["pass"], "pyspf agrees")
        finally:
            dns.stop()

    def test_another_forwarders_srs0_becomes_srs1_and_returns_to_it(self):
        marker = "srs1-%d" % time.time_ns()
        first = "SRS0=ABCD=%s=orig.example=alice@fwd1.example" % stamp()
        self.send(first, "fwd@example.test", "Subject: %s\r\n\r\ntwice\r\n" % marker)
        mail, _, _ = self.arrived(marker, "friend@remote.test")
        local, _, domain = mail.rpartition("@")
        self.assertEqual(domain, ME)
        rest = "=ABCD=%s=orig.example=alice" % stamp()
        self.assertEqual(local, "SRS1=%s=fwd1.example=%s" % (
            srs_hash(self.secret, "fwd1.example" + rest), rest))
        bmark = "srs1-bounce-%d" % time.time_ns()
        self.send("", mail, "Subject: %s\r\n\r\nback\r\n" % bmark)
        self.arrived(bmark, first)

    def test_local_sender_is_not_rewritten(self):
        marker = "srs-local-%d" % time.time_ns()
        self.send("admin@example.test", "fwd@example.test", "Subject: %s\r\n\r\nours\r\n" % marker)
        mail, _, _ = self.arrived(marker, "friend@remote.test")
        self.assertEqual(mail, "admin@example.test", "our own domains pass SPF as they are")

    def rcpt(self, addr):
        with smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=20) as s:
            s.ehlo("bounce.example")
            s.mail("")
            return s.rcpt(addr)

    def test_forged_and_expired_srs_refused_at_rcpt(self):
        tt = stamp()
        code, text = self.rcpt("SRS0=AAAA=%s=sender.example=bob@%s" % (tt, ME))
        self.assertEqual(code, 550, text)
        self.assertIn(b"5.7.1", text)
        self.assertIn(b"not written by this server", text)
        old = stamp(30)
        h = srs_hash(self.secret, old + "sender.example" + "bob")
        code, text = self.rcpt("SRS0=%s=%s=sender.example=bob@%s" % (h, old, ME))
        self.assertEqual(code, 550, text)
        self.assertIn(b"5.1.1", text)
        self.assertIn(b"expired", text)
        fresh = stamp(2)
        h = srs_hash(self.secret, fresh + "sender.example" + "bob")
        code, text = self.rcpt("SRS0=%s=%s=sender.example=bob@%s" % (h, fresh, ME))
        self.assertEqual(code, 250, text)
        # a server that changed the case of the bounce's address (some lower-case it): the
        # hash and the stamp compare without case
        code, text = self.rcpt("srs0=%s=%s=sender.example=bob@%s" % (h.swapcase(),
                                                                      fresh.lower(), ME.upper()))
        self.assertEqual(code, 250, text)
        # smtpd's line reaches the log through s6-log, a moment after the client has the 550
        self.assertTrue(self.m.wait_for(lambda: "refused rcpt=<SRS0=AAAA=" in self.m.log("smtp"),
                                        10), self.m.log("smtp")[-2000:])

    @unittest.skipUnless(IS_ROOT, "needs root for the service uids")
    def test_secret_is_read_only_by_queue_and_smtpd(self):
        path = os.path.join(self.m.root, "etc", "srs")
        st = os.stat(path)
        self.assertEqual(st.st_mode & 0o777, 0o440)
        self.assertEqual(pwd.getpwuid(st.st_uid).pw_name, "yubin-q")
        for user, readable in (("yubin-q", True), ("yubin-smtpd", True), ("yubin-remote", False),
                               ("yubin-pop", False), ("yubin-mbox", False)):
            r = subprocess.run(["setpriv", "--reuid", user, "--regid", user, "--init-groups",
                                "cat", path], capture_output=True)
            self.assertEqual(r.returncode == 0, readable, "%s reading etc/srs" % user)


if __name__ == "__main__":
    unittest.main()
