"""Sending limits (docs/smtp.md "Sending limits"): an account over its plan's messages or
recipients per window gets 451 4.7.1 and the operator one alert; other accounts, other
addresses and the same account after the window are unaffected; the counters survive a
restart of the s6 tree; the operator's sending-limits for one account; suspend-sending /
resume-sending; POP-before-SMTP counts as the
account; a trusted network (RELAYCLIENT) is limited per IP. Real submissions, real queue,
the alerts read from the admin's Maildir as deliver wrote them. The window is RATE_WINDOW in
the test root's etc/env (24 s instead of an hour); nothing fakes the clock."""
import base64
import email
import os
import re
import smtplib
import subprocess
import time
import unittest

from harness import MailRoot, have
import test_smtp as ts

PW = "Secret-pw-1"
WINDOW = 24
ADMIN = "admin@example.test"


def b64(s):
    return base64.b64encode(s.encode()).decode()


def note(marker, sender):
    return "From: <%s>\r\nSubject: %s\r\n\r\nbody %s\r\n" % (sender, marker, marker)


class TestLimits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not (have("smtpd") and have("queue-run") and have("deliver") and have("pop3d")
                and have("remote")):
            raise unittest.SkipTest("smtpd, the queue or pop3d not built")
        cls.m = MailRoot(env={"RATE_WINDOW": WINDOW, "RATE_BURST": 5,
                              "RATE_BURST_SECONDS": WINDOW, "RATE_IP_MSGS": 2,
                              "RATE_IP_RCPTS": 100}).start()
        m = cls.m
        # the operator's way to a small limit: a plan with MSGS:RCPTS, a domain on it
        with open(os.path.join(m.root, "etc", "plans"), "a") as f:
            f.write("tiny:20M:50M:no:3:4\n")
        m.mailacct("domain", "add", "limited.test", "--plan", "tiny")
        for u in ("a", "b", "c", "p", "s"):
            m.add_user("%s@limited.test" % u, PW)
        m.add_user("burst@example.test", PW)
        m.add_user("rcv@example.test", PW)
        cls.sink = ts.relay_sink(m)

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()
        for sink in ts._sinks.values():
            sink.stop()
        ts._sinks.clear()

    # --- helpers
    def submit(self, user, rcpts=("rcv@example.test",), src="127.0.0.1"):
        """One message by SMTP AUTH on 587 from user; returns sendmail's refused dict or
        raises what smtplib raises."""
        s = smtplib.SMTP("127.0.0.1", self.m.port("submission"), timeout=20,
                         source_address=(src, 0))
        try:
            s.ehlo("client.example")
            s.login(user, PW)
            return s.sendmail(user, list(rcpts), note("lim-%d" % time.time_ns(), user))
        finally:
            s.close()

    def assert_limited(self, user, **kw):
        with self.assertRaises(smtplib.SMTPSenderRefused) as e:
            self.submit(user, **kw)
        self.assertEqual(e.exception.smtp_code, 451, e.exception)
        msg = e.exception.smtp_error.decode()
        self.assertTrue(msg.startswith("4.7.1 sending limit reached: at most 3 messages per 24 "
                                       "seconds from your account; wait and send again later, "
                                       "or ask your provider to raise the limit"),
                        msg)

    def restart_tree(self):
        """Stop the whole s6 tree and start it again (the root stays)."""
        m = self.m
        subprocess.run(["s6-svscanctl", "-t", os.path.join(m.root, "service")], check=True)
        m.svscan.wait(timeout=15)
        m.sweep()
        m.start()

    def alerts(self):
        out = []
        for path in self.m.messages(ADMIN):
            with open(path, "rb") as f:
                msg = email.message_from_binary_file(f)
            out.append(msg)
        return out

    def subjects(self):
        return sorted(str(x["Subject"]) for x in self.alerts())

    # --- the test: one window, in order (the counters are shared state)
    def test_limits(self):
        m = self.m
        a, b, c = "a@limited.test", "b@limited.test", "c@limited.test"
        start = time.time()
        for _ in range(3):
            self.assertEqual(self.submit(a), {})
        self.assert_limited(a)
        self.assert_limited(a)                      # refused again: still one alert
        # smtpd's line reaches the log through s6-log, a moment after the client has the 451
        limit = re.compile(r"sending limit reached account=%s ip=127\.0\.0\.1 session=\S+ "
                           r"messages=3 limit=3" % a)
        self.assertTrue(m.wait_for(lambda: limit.search(m.log("submission")), 10),
                        m.log("submission")[-2000:])
        # the counters survive a restart of the whole tree
        self.restart_tree()
        self.assertLess(time.time() - start, WINDOW - 4, "too slow for the test window")
        self.assert_limited(a)
        out = m.mailacct("show", a).stdout
        self.assertIn("sending: allowed\n", out)
        self.assertIn("sending limits per %d s: 3 messages, 4 recipients" % WINDOW, out)
        self.assertIn("sent in the last %d s: 3 messages, 3 recipients\n" % WINDOW, out)
        self.assertIn("sent in the last %d s: 3 messages, 3 recipients\n" % (WINDOW * 24), out)
        # another account of the same plan, from the same address: unaffected
        self.assertEqual(self.submit(b), {})
        # a limit of one: "1 message" in the refusal and the alert, not "1 messages"
        m.mailacct("sending-limits", b, "1", "10")
        with self.assertRaises(smtplib.SMTPSenderRefused) as e:
            self.submit(b)
        self.assertEqual(e.exception.smtp_code, 451, e.exception)
        self.assertTrue(e.exception.smtp_error.decode().startswith(
            "4.7.1 sending limit reached: at most 1 message per %d seconds from your account; "
            % WINDOW), e.exception)
        m.mailacct("sending-limits", b, "plan")
        # the operator raises this one account's limits, then gives it back its plan's
        out = m.mailacct("sending-limits", a, "5", "10").stdout
        self.assertEqual(out, "sending limits of %s: 5 messages, 10 recipients per window "
                              "(0 = no limit)\n" % a)
        self.assertIn("5 messages, 10 recipients (0 = none; options of the account)",
                      m.mailacct("show", a).stdout)
        self.assertEqual(self.submit(a), {})
        m.mailacct("sending-limits", a, "plan")
        self.assertIn("3 messages, 4 recipients (0 = none; the plan's)",
                      m.mailacct("show", a).stdout)
        self.assert_limited(a)
        r = m.mailacct("sending-limits", a, "many", "10", check=False)
        self.assertEqual(r.returncode, 100, r.stderr)
        self.assertIn("invalid messages per window: many", r.stderr)
        # recipients: the fifth recipient of c's window is refused at RCPT, the rest go
        rc = ["rcv@example.test", "burst@example.test", "b@limited.test", "a@limited.test",
              "p@limited.test"]
        refused = self.submit(c, rcpts=rc)
        self.assertEqual(list(refused), ["p@limited.test"])
        code, text = refused["p@limited.test"]
        self.assertEqual(code, 451)
        self.assertTrue(text.decode().startswith("4.7.1 sending limit reached: at most 4 "
                                                 "recipients per 24 seconds from your account"), text)
        # POP before SMTP (port 25, relaying): counted as the account it logged in as
        src = "127.0.8.3"
        ts.pop_login(m, src, "p@limited.test", PW)
        for i in range(3):
            s = ts.smtp_from(m, src)
            self.assertEqual(s.sendmail("p@limited.test", ["x@relayed.test"],
                                        note("pbs-%d" % i, "p@limited.test")), {})
            s.close()
        s = ts.smtp_from(m, src)
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as e:
            s.sendmail("p@limited.test", ["x@relayed.test"], note("pbs-4", "p@limited.test"))
        s.close()
        (code, text), = e.exception.recipients.values()
        self.assertEqual(code, 451)
        self.assertIn("4.7.1 sending limit reached", text.decode())
        self.assertTrue(m.wait_for(lambda: "sending limit reached account=p@limited.test ip=%s"
                                   % src in m.log("smtp"), 10), m.log("smtp")[-2000:])
        # a trusted network without a login: limited per IP (RATE_IP_MSGS=2), at MAIL
        ts.compile_rules(m, '127.0.8.5:allow,RELAYCLIENT=""\n127.0.8.6:allow,RELAYCLIENT=""\n'
                            ':allow\n')
        for i in range(2):
            s = ts.smtp_from(m, "127.0.8.5")
            s.sendmail("app@web.example", ["x@relayed.test"], note("ip-%d" % i, "app@web.example"))
            s.close()
        s = ts.smtp_from(m, "127.0.8.5")
        with self.assertRaises(smtplib.SMTPSenderRefused) as e:
            s.sendmail("app@web.example", ["x@relayed.test"], note("ip-3", "app@web.example"))
        s.close()
        self.assertEqual(e.exception.smtp_code, 451)
        self.assertTrue(m.wait_for(lambda: "sending limit reached account=ip-127.0.8.5"
                                   in m.log("smtp"), 10), m.log("smtp")[-2000:])
        s = ts.smtp_from(m, "127.0.8.6")            # another trusted address: unaffected
        self.assertEqual(s.sendmail("app@web.example", ["x@relayed.test"],
                                    note("ip-other", "app@web.example")), {})
        s.close()
        # mail from outside to a local account is not sending: not limited
        for i in range(4):
            s = ts.smtp_from(m, "127.0.8.7")
            self.assertEqual(s.sendmail("x@outside.example", ["rcv@example.test"],
                                        note("in-%d" % i, "x@outside.example")), {})
            s.close()
        # suspend-sending: 550 5.7.1 with a sentence; resume-sending: accepted again
        out = m.mailacct("suspend-sending", "s@limited.test").stdout
        self.assertEqual(out, "sending from s@limited.test suspended\n")
        with self.assertRaises(smtplib.SMTPSenderRefused) as e:
            self.submit("s@limited.test")
        self.assertEqual(e.exception.smtp_code, 550)
        self.assertEqual(e.exception.smtp_error.decode(),
                         "5.7.1 sending from <s@limited.test> is suspended by your provider; "
                         "contact your provider's support to have it restored")
        self.assertIn("sending: suspended", m.mailacct("show", "s@limited.test").stdout)
        m.mailacct("resume-sending", "s@limited.test")
        self.assertEqual(self.submit("s@limited.test"), {})
        # a burst (RATE_BURST=5 in the window) alerts, once
        for _ in range(6):
            self.assertEqual(self.submit("burst@example.test"), {})
        # the operator: one alert per account (the queue delivered them to the admin)
        want = ["sending burst: burst@example.test", "sending limit reached: a@limited.test",
                "sending limit reached: b@limited.test", "sending limit reached: c@limited.test",
                "sending limit reached: ip-127.0.8.5",
                "sending limit reached: p@limited.test"]
        self.assertTrue(m.wait_for(lambda: len(self.alerts()) >= len(want), 20),
                        m.log("queue")[-3000:])
        time.sleep(0.5)
        self.assertEqual(self.subjects(), want)
        one = [x for x in self.alerts() if x["Subject"].endswith(a)][0]
        self.assertEqual(one["From"], "Mail Delivery System <MAILER-DAEMON@mail.example.test>")
        self.assertEqual(one["Auto-Submitted"], "auto-generated")
        body = one.get_payload()
        self.assertIn("mailacct suspend-sending %s" % a, body)
        one = [x for x in self.alerts() if x["Subject"].endswith(b)][0]
        self.assertIn("reached its sending limit of 1 message per %d seconds" % WINDOW,
                      one.get_payload())
        # the same account after the window: accepted again
        left = start + WINDOW + 1 - time.time()
        if left > 0:
            time.sleep(left)
        self.assertEqual(self.submit(a), {})
        self.assertEqual(len(self.alerts()), len(want), "no alert for the accepted message")


if __name__ == "__main__":
    unittest.main()
