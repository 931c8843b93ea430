"""DKIM on the mail the server writes itself (docs/dkim.md "The server's own mail"): a real
message that another server refuses with 550 comes back as a bounce from MAILER-DAEMON@ the
host name; captured where it leaves (a test SMTP server standing for the sender's provider),
it carries a DKIM signature for the host name made with the key `mailacct domain dkim HOST
rotate` made, and verifies twice, with Debian's python3-dkim and with yubin's own inbound
check on port 25 (Authentication-Results dkim=pass), against the record a real DNS server
(dnsmasq) publishes. The delay warning, the operator's sending-limit alert and the settings
mail of an approved application are signed too. Without a key for the host name a bounce goes
out unsigned and the log says how to make one; with the signer down a bounce waits (nothing
is lost, nothing goes unsigned) and leaves signed once it is back, while an alert, which has
no queue to wait in, goes unsigned rather than lost."""
import email
import email.policy
import os
import re
import shutil
import smtplib
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IS_ROOT, MailRoot, free_port, have  # noqa: E402
from dnsharness import HAVE_DNSMASQ, Dns  # noqa: E402
from smtpsink import Sink  # noqa: E402
from test_dkim import DEB_PYTHON, HAVE_DKIMPY, VERIFY, txt_records, unstuff  # noqa: E402
from test_remote import inject  # noqa: E402
from test_web import form, https, http_login  # noqa: E402

ME = "mail.example.test"            # the harness's host name (YUBIN_ME)
SENDER_DOMAIN = "sender.test"       # another provider: its MX is self.out, where mail leaves
REFUSE_DOMAIN = "refuse.test"       # a server that refuses the recipient with 550
WEB = bool(shutil.which("lighttpd")) and have("member")   # the member page, no browser
LATER_DOMAIN = "later.test"         # a server that answers 451 for ever
PW = "notice-pw-1"


def flat(sig_field):
    return re.sub(rb"\s+", b"", sig_field)


def signature(msg):
    """The DKIM-Signature fields of msg (CRLF line ends), without their name, unfolded."""
    return [flat(m.group(1)) for m in
            re.finditer(rb"^DKIM-Signature:(.*?)\r\n(?![ \t])", msg, re.M | re.S | re.I)]


@unittest.skipUnless(HAVE_DNSMASQ and HAVE_DKIMPY and have("queue-run") and have("dkim-sign"),
                     "dnsmasq, python3-dkim (Debian) or the build missing: make deps")
class DkimNoticeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns_port = free_port()
        cls.dns = None
        cls.out = Sink().start()        # the sender's provider: where our notices leave to
        cls.m = MailRoot(prefix="yubin-dkimnote-", env={
            "YUBIN_RESOLVER": "127.0.0.1:%d" % cls.dns_port,
            "QUEUE_BACKOFF": "1,1,2", "QUEUE_WARN": "3"}).start()
        try:
            m = cls.m
            with open(os.path.join(m.root, "etc", "routes"), "a") as f:
                f.write("%s:127.0.0.1:%d\n" % (SENDER_DOMAIN, cls.out.port))
            subprocess.run([m.bin("mkmaps"), "--root", m.root], env=m.env(), check=True,
                           capture_output=True)
            m.add_user("rcv@example.test", PW)
            # the operator's one step for the host name (docs/dkim.md): a key, and its record
            m.mailacct("domain", "dkim", ME, "rotate")
            cls.serve()
        except BaseException:
            cls.tearDownClass()         # not called after a failed set-up: stop what runs
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.dns:
            cls.dns.stop()
        cls.m.stop()
        cls.out.stop()

    @classmethod
    def serve(cls):
        """dnsmasq with every DKIM record mailacct lists for the host name and example.test."""
        args = []
        for domain in (ME, "example.test"):
            out = cls.m.mailacct("domain", "dkim", domain).stdout
            for sel, strs in txt_records(out, domain).items():
                args.append("--txt-record=%s._domainkey.%s,%s" % (sel, domain, ",".join(strs)))
        if cls.dns:
            cls.dns.stop()
        cls.dns = Dns(*args, port=cls.dns_port)

    # --- helpers
    def route(self, domain, sink):
        """domain's mail to sink (the route replaces an earlier test's for the same domain)."""
        path = os.path.join(self.m.root, "etc", "routes")
        with open(path) as f:
            lines = [l for l in f if not l.startswith(domain + ":")]
        with open(path, "w") as f:
            f.write("".join(lines) + "%s:127.0.0.1:%d\n" % (domain, sink.port))
        subprocess.run([self.m.bin("mkmaps"), "--root", self.m.root], env=self.m.env(),
                       check=True, capture_output=True)

    def refusing(self, domain, reply="550 5.1.1 no such user here"):
        s = Sink(script={"RCPT": [reply] * 50}).start()
        self.addCleanup(s.stop)
        self.route(domain, s)
        return s

    def original(self, tag):
        return (b"From: Bob <bob@%s>\nTo: <nobody@%s>\nSubject: notice %s\n"
                b"Date: Thu, 03 Dec 2026 12:00:00 +0900\nMessage-ID: <%s.%d@%s>\n\nhello\n"
                % (SENDER_DOMAIN.encode(), REFUSE_DOMAIN.encode(), tag.encode(), tag.encode(),
                   time.time_ns(), SENDER_DOMAIN.encode()))

    def left(self, needle, timeout=60):
        """The one message that left for the sender's provider with needle in it (unstuffed,
        CRLF line ends, as on the wire)."""
        got = self.m.wait_for(lambda: [(mail, d) for mail, _, d in self.out.messages()
                                       if needle in d], timeout)
        self.assertEqual(len(got or []), 1, self.m.log("queue")[-3000:])
        return got[0][0], unstuff(got[0][1])

    def verify(self, msg):
        p = subprocess.run([DEB_PYTHON, "-c", VERIFY, str(self.dns.port)], input=msg,
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return p.stdout.decode().split()

    def assert_signed_for(self, msg, domain):
        sigs = signature(msg)
        self.assertEqual(len(sigs), 1, msg[:3000])
        self.assertIn(b"d=%s;" % domain.encode(), sigs[0])
        self.assertIn(b"a=rsa-sha256;", sigs[0])
        self.assertEqual(self.verify(msg), ["pass", "2048"], msg[:3000])

    def check(self):
        """yubin-check's output (its DKIM look at ROOT/dkim/ is made as root only)."""
        r = subprocess.run([self.m.bin("yubin-check"), "--root", self.m.root],
                           capture_output=True, text=True, env=self.m.env())
        return r.stdout + r.stderr

    def bounce_of(self, tag):
        qid = inject(self.m, "bob@" + SENDER_DOMAIN, ["nobody@" + REFUSE_DOMAIN],
                     self.original(tag))
        return qid, self.left(b"notice " + tag.encode())

    # --- tests
    def test_bounce_of_a_refused_message_leaves_signed_for_the_host_name(self):
        refuse = self.refusing(REFUSE_DOMAIN)
        qid, (mail, bounce) = self.bounce_of("refused")
        self.assertTrue(mail.startswith(b"MAIL FROM:<> "), "a bounce has the null sender")
        self.assertTrue(refuse.sessions, "the refusing server was asked")
        self.assertIn(b"From: MAILER-DAEMON@%s" % ME.encode(), bounce)
        self.assertIn(b"no such user here", bounce)
        self.assertIn(b"report-type=delivery-status", bounce)
        self.assert_signed_for(bounce, ME)
        # what the bounce covers cannot change in transit
        self.assertEqual(self.verify(bounce.replace(b"Subject: ", b"Subject: Re: "))[0], "fail")
        # queue-run's line reaches the log through s6-log, maybe after the bounce has left
        self.assertTrue(self.m.wait_for(lambda: re.search(
            r"bounce id=\w+ for id=%s to=<bob@%s> dkim=signed d=%s s=y"
            % (qid, SENDER_DOMAIN, re.escape(ME)), self.m.log("queue")), 10),
            self.m.log("queue")[-2000:])
        # the other verifier: yubin's inbound check on port 25, as a receiving server runs it
        name = self.m.send_mail("rcv@example.test", [bounce], sender="")[0]
        stored = self.m.stored("rcv@example.test", name).decode(errors="replace")
        ar = re.search(r"^Authentication-Results: %s;(.*(?:\n[ \t].*)*)" % re.escape(ME),
                       stored, re.M)
        self.assertIsNotNone(ar, stored[:2000])
        self.assertRegex(re.sub(r"\s+", " ", ar.group(1)),
                         r"dkim=pass (\([^)]*\) )?header\.d=%s header\.s=y" % re.escape(ME))

    def test_delay_warning_leaves_signed(self):
        self.refusing(LATER_DOMAIN, "451 4.7.1 try again later (notice test)")
        tag = b"later-%d" % time.time_ns()
        inject(self.m, "bob@" + SENDER_DOMAIN, ["x@" + LATER_DOMAIN],
               b"From: <bob@%s>\nSubject: %s\n\nwait\n" % (SENDER_DOMAIN.encode(), tag))
        mail, warning = self.left(tag, 60)
        self.assertIn(b"Action: delayed", warning)
        self.assertTrue(mail.startswith(b"MAIL FROM:<> "), mail)
        self.assert_signed_for(warning, ME)

    def test_sending_limit_alert_is_signed(self):
        """smtpd's alert to the operator (etc/admin) goes through queue-inject as MAILER-DAEMON
        of the host name, signed like a bounce; here the operator's mailbox is ours."""
        self.m.add_user("busy@example.test", PW)
        self.m.mailacct("sending-limits", "busy@example.test", "1", "10")
        admin = "admin@example.test"
        before = len(self.m.messages(admin))
        with smtplib.SMTP("127.0.0.1", self.m.port("submission"), timeout=30) as c:
            c.login("busy@example.test", PW)
            c.sendmail("busy@example.test", ["rcv@example.test"], b"Subject: one\r\n\r\n1\r\n")
            with self.assertRaises(smtplib.SMTPException):
                c.sendmail("busy@example.test", ["rcv@example.test"], b"Subject: two\r\n\r\n2\r\n")
        got = self.m.wait_for(lambda: [p for p in self.m.messages(admin)[before:]
                                       if b"sending limit reached" in open(p, "rb").read()], 30)
        self.assertTrue(got, self.m.log("submission")[-2000:])
        with open(got[0], "rb") as f:
            alert = f.read().replace(b"\n", b"\r\n")
        self.assertIn(b"From: Mail Delivery System <MAILER-DAEMON@%s>" % ME.encode(), alert)
        self.assert_signed_for(alert, ME)

    def test_alert_goes_unsigned_rather_than_lost_when_the_signer_is_down(self):
        """An alert has no queue to wait in: with the signer down it is queued unsigned (the
        customer's own message is refused with 451, as ever), and smtpd says so."""
        self.m.add_user("busy2@example.test", PW)
        self.m.mailacct("sending-limits", "busy2@example.test", "1", "10")
        admin = "admin@example.test"
        before = len(self.m.messages(admin))
        svc = os.path.join(self.m.root, "service", "dkim")
        with smtplib.SMTP("127.0.0.1", self.m.port("submission"), timeout=30) as c:
            c.login("busy2@example.test", PW)
            c.sendmail("busy2@example.test", ["rcv@example.test"], b"Subject: one\r\n\r\n1\r\n")
            subprocess.run(["s6-svc", "-wD", "-d", svc], check=True, timeout=20)
            try:
                with self.assertRaises(smtplib.SMTPException):
                    c.sendmail("busy2@example.test", ["rcv@example.test"],
                               b"Subject: two\r\n\r\n2\r\n")
                got = self.m.wait_for(lambda: [
                    p for p in self.m.messages(admin)[before:]
                    if b"busy2@example.test reached" in open(p, "rb").read()], 30)
            finally:
                subprocess.run(["s6-svc", "-wU", "-u", svc], check=True, timeout=20)
        self.assertEqual(len(got or []), 1, self.m.log("submission")[-2000:])
        with open(got[0], "rb") as f:
            self.assertNotIn(b"DKIM-Signature", f.read())
        self.assertTrue(self.m.wait_for(
            lambda: "the DKIM signer did not answer (see log/inject): queuing the message to "
            "admin@example.test unsigned" in self.m.log("submission"), 10),
            self.m.log("submission")[-2000:])

    @unittest.skipUnless(WEB, "lighttpd or the member page not built")
    def test_settings_mail_of_an_approved_application_leaves_signed(self):
        """mailacct approve mails the settings sheet to the domain's contact, at another
        provider here, From the operator's address (etc/admin): signed for its domain."""
        out = self.m.mailacct("domain", "add", "shop.test", "--plan", "basic",
                              "--admin", "boss@" + SENDER_DOMAIN).stdout
        admin_pw = re.search(r"^password: (\S+)$", out, re.M).group(1)
        st, session, _ = http_login(self.m, "shop.test", admin_pw)
        self.assertEqual(st, 303)
        st, h, body = https(self.m, "GET", "/", headers={"Cookie": session})
        token = re.search(rb'name="csrf" value="([0-9a-f]+)"', body).group(1).decode()
        st, h, body = https(self.m, "POST", "/apply", form(csrf=token, kind="add", local="new"),
                            {"Cookie": session,
                             "Content-Type": "application/x-www-form-urlencoded"})
        app_id = re.search(rb'id="applied-id">([^<]+)<', body).group(1).decode()
        r = self.m.mailacct("approve", app_id)
        self.assertIn("settings sheet of new@shop.test mailed to boss@%s" % SENDER_DOMAIN,
                      r.stdout)
        mail, sheet = self.left(b"settings.html")
        self.assertTrue(mail.startswith(b"MAIL FROM:<admin@example.test> "), mail)
        self.assertIn(b"From: admin@example.test", sheet)
        self.assert_signed_for(sheet, "example.test")
        msg = email.message_from_bytes(sheet, policy=email.policy.default)
        self.assertIn("new@shop.test", list(msg.iter_parts())[0].get_content())

    def test_host_without_key_sends_its_bounce_unsigned_and_says_how_to_make_one(self):
        """The selector file moved away (as for a host name never given a key): the bounce
        still leaves, once, unsigned; the original is gone from the queue; the log names the
        command that makes the key."""
        self.refusing(REFUSE_DOMAIN)
        sel = os.path.join(self.m.root, "dkim", ME, "selector")
        if IS_ROOT:
            self.assertIn("ok: this server's name %s has a DKIM key" % ME, self.check())
        os.rename(sel, sel + ".away")
        try:
            qid, (mail, bounce) = self.bounce_of("nokey")
            if IS_ROOT:
                self.assertIn("warning: this server's name %s has no DKIM key: its bounces and "
                              "delay warnings leave unsigned" % ME, self.check())
                self.assertIn("mailacct domain dkim %s rotate" % ME, self.check())
        finally:
            os.rename(sel + ".away", sel)
        self.assertTrue(mail.startswith(b"MAIL FROM:<> "), mail)
        self.assertIn(b"From: MAILER-DAEMON@%s" % ME.encode(), bounce)
        self.assertEqual(signature(bounce), [])
        q = os.path.join(self.m.root, "queue")
        self.assertTrue(self.m.wait_for(
            lambda: not os.path.exists(os.path.join(q, "mess", qid)), 30))
        self.assertTrue(self.m.wait_for(lambda: re.search(
            r"bounce id=\w+ for id=%s to=<bob@%s> dkim=none: %s has no DKIM key \(mailacct "
            r"domain dkim %s rotate makes one\)" % (qid, SENDER_DOMAIN, re.escape(ME),
                                                    re.escape(ME)),
            self.m.log("queue")), 10), self.m.log("queue")[-2000:])

    def test_domain_del_of_the_host_name_keeps_its_key_and_says_what_it_is_for(self):
        """`mailacct domain del ME` (this server's name, no customer domain): refused, saying
        so, what its key signs, that it is kept, and the commands that replace it; nothing is
        removed, and a bounce after it still leaves signed for ME. With no key (its selector
        moved away, as for a host never given one) it says the mail goes unsigned and how to
        make one."""
        keys = os.path.join(self.m.root, "dkim", ME)
        with open(os.path.join(keys, "selector")) as f:
            sel = f.read().strip()
        before = sorted(os.listdir(keys))
        r = self.m.mailacct("domain", "del", ME, check=False)
        self.assertEqual(r.returncode, 100, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertEqual(r.stderr.strip(),
                         "mailacct: fatal: %s is this server's own name (etc/me), not a customer "
                         "domain: it is not in etc/domains, so there is no domain to delete; "
                         "its DKIM key (selector %s) signs the mail the server writes itself "
                         "from MAILER-DAEMON@ (bounces, delay warnings, alerts) and is kept "
                         "(docs/dkim.md \"The server's own mail\"; unsigned, such mail is put in "
                         "spam or refused by the large providers): mailacct domain dkim %s shows "
                         "its records, rotate makes a new key that signs from then on, and "
                         "remove SELECTOR then deletes an old one (the key signing cannot be "
                         "removed)" % (ME, sel, ME))
        self.assertEqual(sorted(os.listdir(keys)), before, "nothing removed")
        self.refusing(REFUSE_DOMAIN)
        qid, (mail, bounce) = self.bounce_of("after-del")
        self.assert_signed_for(bounce, ME)
        # what the commands it names do: remove refuses the key signing, as it says
        r = self.m.mailacct("domain", "dkim", ME, "remove", sel, check=False)
        self.assertEqual(r.returncode, 100)
        self.assertIn("selector %s signs %s now" % (sel, ME), r.stderr)
        os.rename(os.path.join(keys, "selector"), os.path.join(keys, "selector.away"))
        try:
            r = self.m.mailacct("domain", "del", ME, check=False)
        finally:
            os.rename(os.path.join(keys, "selector.away"), os.path.join(keys, "selector"))
        self.assertEqual(r.returncode, 100, r.stdout + r.stderr)
        self.assertIn("mailacct: fatal: %s is this server's own name (etc/me), not a customer "
                      "domain: it is not in etc/domains, so there is no domain to delete; it "
                      "has no DKIM key, so the mail the server writes itself from MAILER-DAEMON@ "
                      "(bounces, delay warnings, alerts) goes out unsigned (docs/dkim.md \"The "
                      "server's own mail\"): mailacct domain dkim %s rotate makes one" % (ME, ME),
                      r.stderr)
        self.assertEqual(sorted(os.listdir(keys)), before, "nothing removed")

    def signer_down_bounce(self, tag):
        """The signer stopped (started again at the end of the test), then a message that a
        server refuses: its bounce waits for the signer. The message's queue id."""
        self.refusing(REFUSE_DOMAIN)
        svc = os.path.join(self.m.root, "service", "dkim")
        subprocess.run(["s6-svc", "-wD", "-d", svc], check=True, timeout=20)
        self.addCleanup(subprocess.run, ["s6-svc", "-u", svc], timeout=20)
        qid = inject(self.m, "bob@" + SENDER_DOMAIN, ["nobody@" + REFUSE_DOMAIN],
                     self.original(tag))
        self.assertTrue(self.m.wait_for(lambda: re.search(
            r"unable to sign the notice for id=%s" % qid, self.m.log("queue")), 30),
            self.m.log("queue")[-2000:])
        return qid

    def not_left(self, tag):
        return [d for _, _, d in self.out.messages() if b"notice " + tag.encode() in d] == []

    def flush(self):
        subprocess.run([self.m.bin("mailq"), "--root", self.m.root, "flush"], env=self.m.env(),
                       check=True, capture_output=True)

    def test_signer_down_holds_the_bounce_until_it_is_back(self):
        """No unsigned bounce while the signer cannot answer (as queue-inject queues no
        unsigned customer mail): the failed message stays in the queue with its notice to
        come, and once the signer is back (mailq flush: at once) the bounce leaves signed."""
        qid = self.signer_down_bounce("down")
        time.sleep(2)
        self.assertTrue(self.not_left("down"))
        self.assertTrue(os.path.exists(os.path.join(self.m.root, "queue", "mess", qid)))
        subprocess.run(["s6-svc", "-wU", "-u", os.path.join(self.m.root, "service", "dkim")],
                       check=True, timeout=20)
        self.flush()
        mail, bounce = self.left(b"notice down", 30)
        self.assert_signed_for(bounce, ME)

    def test_signer_away_longer_than_queue_sign_wait_lets_the_bounce_go_unsigned(self):
        """A signer stopped for good must not keep a sender's bounce for good: once it has
        not answered for QUEUE_SIGN_WAIT (3 s here; an hour by default), the bounce leaves
        unsigned, and the log says why."""
        queue = os.path.join(self.m.root, "service", "queue")
        self.m.set_env("QUEUE_SIGN_WAIT", 3)
        subprocess.run(["s6-svc", "-r", queue], check=True, timeout=20)
        try:
            qid = self.signer_down_bounce("away")
            self.assertTrue(self.not_left("away"))
            time.sleep(4)
            self.flush()
            mail, bounce = self.left(b"notice away", 30)
            self.assertEqual(signature(bounce), [])
            self.assertTrue(self.m.wait_for(lambda: re.search(
                r"bounce id=\w+ for id=%s .*dkim=none: the signer has not answered for 3 s or "
                r"more" % qid, self.m.log("queue")), 10), self.m.log("queue")[-2000:])
            self.assertFalse(os.path.exists(os.path.join(self.m.root, "queue", "mess", qid)))
        finally:
            self.m.set_env("QUEUE_SIGN_WAIT", 3600)
            subprocess.run(["s6-svc", "-r", queue], check=True, timeout=20)

if __name__ == "__main__":
    unittest.main()
