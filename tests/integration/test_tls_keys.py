"""When tlsd reads and when it parses the certificate folder (docs/tls.md "When the files are
read"): the bytes are read as root at every connection (port 25: at every STARTTLS, by the
STARTTLS service), decoded and checked only once TLS is wanted. A port-25 session that never
sends STARTTLS does not depend on the key at all; a broken key refuses STARTTLS cleanly with one
log line; a replaced pair is live for the next connection without a restart. Also tlsd -u
UID:GID (the run scripts resolve tlsd's ids once)."""
import os
import poplib
import pwd
import shutil
import smtplib
import socket
import ssl
import subprocess
import time
import unittest

from harness import MailRoot, IS_ROOT, have, port_open, proc_name, proc_ppid, proc_uid
from test_tls import make_cert, proc_argv, read_line

USER, PASSWORD = "lazy@example.test", "lazy-Secret-9"


def peer_cn(sock):
    return dict(x[0] for x in sock.getpeercert()["subject"])["commonName"]


def starttls_454_then_plain(tc, m, user):
    """STARTTLS on port 25 gets 454 4.7.0 (RFC 3207 §4) before any handshake: the session
    goes on in plaintext, no longer offers STARTTLS, and still takes mail for user, which is
    delivered (checked with the assertions of the TestCase tc)."""
    s = smtplib.SMTP("127.0.0.1", m.port("smtp"), timeout=20)
    try:
        s.ehlo("client.example.net")
        tc.assertTrue(s.has_extn("starttls"))
        code, text = s.docmd("STARTTLS")
        tc.assertEqual(code, 454, text)
        tc.assertTrue(text.startswith(b"4.7.0 "), text)
        code, _ = s.ehlo("client.example.net")
        tc.assertEqual(code, 250)
        tc.assertFalse(s.has_extn("starttls"), "STARTTLS is no longer offered")
        code, text = s.docmd("STARTTLS")
        tc.assertEqual(code, 502, text)
        before = len(m.messages(user))
        msg = "From: <a@remote.example>\r\nTo: <%s>\r\nSubject: after 454\r\n\r\nx\r\n" % user
        tc.assertEqual(s.sendmail("a@remote.example", [user], msg), {})
    finally:
        s.quit()
    tc.assertTrue(m.wait_for(lambda: len(m.messages(user)) > before, 20),
                  "the message sent after the 454 was delivered")


@unittest.skipUnless(have("tlsd") and have("smtpd") and have("mailacct"),
                     "tlsd, smtpd or mailacct not built")
class LazyKeysTest(unittest.TestCase):
    """A private tree: these tests break and replace etc/tls/server.key."""

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot()
        cls.m.start()
        cls.tlsdir = os.path.join(cls.m.root, "etc", "tls")
        for name in ("smtp", "pop3", "pop3s", "submission"):
            cls.m.wait_for(lambda: port_open(cls.m.port(name)), timeout=15)
        cls.m.add_user(USER, PASSWORD)

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def setUp(self):
        # every test starts from the demo pair and puts it back (rename, as an operator would)
        self.saved = {}
        for ext in (".pem", ".key"):
            with open(os.path.join(self.tlsdir, "server" + ext), "rb") as f:
                self.saved[ext] = f.read()
        self.addCleanup(self.restore)

    def restore(self):
        for ext, data in self.saved.items():
            self.replace("server" + ext, data)

    def replace(self, name, data):
        tmp = os.path.join(self.tlsdir, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o600)
        os.rename(tmp, os.path.join(self.tlsdir, name))

    def ctx(self):
        """Verifies the chain against the demo CA; the name is checked by the tests (CN)."""
        c = ssl.create_default_context(cafile=os.path.join(self.tlsdir, "ca.pem"))
        c.check_hostname = False
        return c

    def top_pid(self, service):
        pids = self.m.pids(service)
        return pids[0] if pids else None

    def deliver_plain(self, subject):
        """One message over port 25 without STARTTLS; returns once it is in the Maildir."""
        before = set(self.m.messages(USER))
        s = smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=20)
        try:
            code, _ = s.ehlo("client.example.net")
            self.assertEqual(code, 250)
            msg = "From: <a@remote.example>\r\nTo: <%s>\r\nSubject: %s\r\n\r\nplain\r\n" % (
                USER, subject)
            self.assertEqual(s.sendmail("a@remote.example", [USER], msg), {})
        finally:
            s.quit()
        self.assertTrue(self.m.wait_for(lambda: self.m.new_message_with(
            USER, before, ("Subject: " + subject).encode()), 20),
            "a message sent without STARTTLS was delivered")

    def starttls_refused(self, reason):
        """STARTTLS is refused with 454 (starttls_454_then_plain); the log of the STARTTLS
        service (whose child read the files for this STARTTLS) names the problem with the
        client's ip."""
        starttls_454_then_plain(self, self.m, USER)
        line = "tlsd: warning: TLS unavailable ip=127.0.0.1: " + reason
        self.assertTrue(self.m.wait_for(lambda: line in self.m.log("starttls")),
                        "%r not in\n%s" % (line, self.m.log("starttls")[-2000:]))
        # smtpd's own line, from another process than tlsd's: waited for on its own
        self.assertTrue(self.m.wait_for(lambda: "smtpd: info: tls unavailable ip=127.0.0.1"
                                        in self.m.log("smtp"), 10), self.m.log("smtp")[-2000:])

    def test_broken_key_after_start_plain_smtp_still_delivers(self):
        """The key turns into garbage while smtp runs: sessions without STARTTLS go on
        (nothing parses the key for them), STARTTLS is refused with a log line, the service
        is not restarted; once the key is back STARTTLS works again."""
        top = self.top_pid("smtp")
        self.replace("server.key", b"this is not a key\n" * 8)
        self.deliver_plain("no starttls 1")
        self.starttls_refused("%s/server.key: no PRIVATE KEY in the file" % self.tlsdir)
        self.deliver_plain("no starttls 2")
        # a missing key is the same: reported only when TLS is asked for
        os.unlink(os.path.join(self.tlsdir, "server.key"))
        self.deliver_plain("no starttls 3")
        self.starttls_refused("unable to read %s/server.key: No such file or directory"
                              % self.tlsdir)
        self.assertEqual(self.top_pid("smtp"), top, "smtp kept running (no restart)")
        self.restore()
        s = smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=20)
        try:
            s.starttls(context=self.ctx())
            self.assertEqual(s.sock.version(), "TLSv1.2")
        finally:
            s.quit()

    @unittest.skipUnless(have("pop3-front"), "pop3-front not built")
    def test_broken_key_pop3_stls_refused_plain_login_works(self):
        """STLS with a broken key gets -ERR before any handshake (RFC 2595 §4), CAPA no longer
        lists STLS, and the same connection can still log in."""
        self.replace("server.key", b"garbage")
        p = poplib.POP3("127.0.0.1", self.m.port("pop3"), timeout=10)
        try:
            self.assertIn("STLS", p.capa())
            with self.assertRaises(poplib.error_proto) as cm:
                p._shortcmd("STLS")
            self.assertIn(b"[SYS/TEMP] TLS is not available", cm.exception.args[0])
            self.assertNotIn("STLS", p.capa())
            if have("pop3d") and have("checkpw"):
                p.user(USER)
                p.pass_(PASSWORD)
                p.stat()
        finally:
            p.quit()
        self.assertTrue(self.m.wait_for(
            lambda: "tlsd: warning: TLS unavailable ip=127.0.0.1: %s/server.key:" % self.tlsdir
            in self.m.log("pop3")), self.m.log("pop3")[-2000:])

    @unittest.skipUnless(have("pop3-front"), "pop3-front not built")
    def test_broken_key_pop3s_gets_an_alert(self):
        """Port 995 has no plaintext to fall back to: the client's handshake ends with a fatal
        alert, and the log names the problem."""
        self.replace("server.key", b"garbage")
        with self.assertRaises(ssl.SSLError) as cm:
            poplib.POP3_SSL("127.0.0.1", self.m.port("pop3s"), timeout=10, context=self.ctx())
        self.assertIn("HANDSHAKE_FAILURE", str(cm.exception).upper())
        self.assertTrue(self.m.wait_for(
            lambda: "tlsd: fatal: refusing connection ip=127.0.0.1: %s/server.key:" % self.tlsdir
            in self.m.log("pop3s")), self.m.log("pop3s")[-2000:])

    def test_pair_not_valid_yet_is_taken_once_it_is(self):
        """A renewal put in a few seconds before its start date (or a clock a little behind):
        refused while it is not valid yet, served from its start on, with no restart."""
        start = int(time.time()) + 4
        make_cert(self.tlsdir, "server", "early.example.test", start=start)
        with self.assertRaises(ssl.SSLError):
            poplib.POP3_SSL("127.0.0.1", self.m.port("pop3s"), timeout=10, context=self.ctx())
        self.assertTrue(self.m.wait_for(lambda: "is not valid yet" in self.m.log("pop3s")))
        time.sleep(max(0, start + 1 - time.time()))
        p = poplib.POP3_SSL("127.0.0.1", self.m.port("pop3s"), timeout=10, context=self.ctx())
        try:
            self.assertEqual(peer_cn(p.sock), "early.example.test")
        finally:
            p.quit()

    def test_replaced_pair_is_presented_by_next_starttls(self):
        """Replace server.pem + server.key with a new valid pair: the next STARTTLS handshake
        presents the new certificate, with no restart. Port 25 reads the files at STARTTLS
        (the STARTTLS service), so even a session that connected before the swap presents the
        new pair; a 587 session that connected before it uses the files as they were when it
        connected (its tlsd read them at connect)."""
        top = self.top_pid("smtp")
        s = smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=20)
        try:
            s.starttls(context=self.ctx())
            self.assertEqual(peer_cn(s.sock), "mail.example.test")
        finally:
            s.quit()
        early = smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=20)
        early.ehlo("early.example.net")
        early587 = smtplib.SMTP("127.0.0.1", self.m.port("submission"), timeout=20)
        early587.ehlo("early.example.net")
        make_cert(self.tlsdir, "server", "renewed.example.test", days=90)
        try:
            s = smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=20)
            try:
                s.starttls(context=self.ctx())
                self.assertEqual(peer_cn(s.sock), "renewed.example.test")
            finally:
                s.quit()
            if have("pop3-front"):
                p = poplib.POP3("127.0.0.1", self.m.port("pop3"), timeout=10)
                try:
                    p.stls(context=self.ctx())
                    self.assertEqual(peer_cn(p.sock), "renewed.example.test")
                finally:
                    p.quit()
            early.starttls(context=self.ctx())
            self.assertEqual(peer_cn(early.sock), "renewed.example.test")
            early587.starttls(context=self.ctx())
            self.assertEqual(peer_cn(early587.sock), "mail.example.test")
        finally:
            early.close()
            early587.close()
        self.assertEqual(self.top_pid("smtp"), top, "smtp kept running (no restart)")


@unittest.skipUnless(have("tlsd"), "tlsd not built")
class NumericUserTest(unittest.TestCase):
    """tlsd -u UID:GID beside -u NAME; the run scripts pass numeric ids."""

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot.shared()
        cls.tlsdir = os.path.join(cls.m.root, "etc", "tls")

    def tlsd(self, user):
        """One implicit-TLS session through tlsd -u USER -- cat on a socketpair: the echo
        comes back only if tlsd dropped to USER (a failed drop exits 101 first)."""
        a, b = socket.socketpair()
        p = subprocess.Popen([self.m.bin("tlsd"), "-i", "-u", user, "-d", self.tlsdir, "--",
                              "cat"], stdin=b, stdout=b, stderr=subprocess.PIPE,
                             env={"TCPREMOTEIP": "192.0.2.7", "PATH": "/usr/bin:/bin"})
        b.close()
        try:
            c = ssl.create_default_context(cafile=os.path.join(self.tlsdir, "ca.pem"))
            s = c.wrap_socket(a, server_hostname="localhost")
            s.sendall(b"ping\n")
            self.assertEqual(read_line(s), b"ping\n")
            s.close()
        finally:
            a.close()
            err = p.communicate(timeout=20)[1].decode()
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("tls ip=192.0.2.7", err)

    @unittest.skipUnless(IS_ROOT, "dropping needs root")
    def test_user_name_and_numeric_ids(self):
        pw = pwd.getpwnam("yubin-tls")
        self.tlsd("yubin-tls")
        self.tlsd("%d:%d" % (pw.pw_uid, pw.pw_gid))

    def test_bad_numeric_ids_refused(self):
        for v in ("0:0", "995:0", "0:995", ":995", "995:", "a:b", "1:2:3"):
            p = subprocess.run([self.m.bin("tlsd"), "-u", v, "-d", self.tlsdir, "--", "true"],
                               capture_output=True, text=True, stdin=subprocess.DEVNULL,
                               timeout=10)
            with self.subTest(u=v):
                self.assertEqual(p.returncode, 100, p.stderr)
                self.assertIn("-u %s: give a user name or numeric UID:GID, neither of them 0"
                              % v, p.stderr)

    @unittest.skipUnless(IS_ROOT, "uids are only real as root")
    def test_run_scripts_pass_numeric_tls_ids(self):
        """Every service with tlsd in front runs it as -u UID:GID (resolved once at service
        start, no passwd lookup per connection), and tlsd does run as yubin-tls. So does the
        STARTTLS service (port 25's), whose loop stays root and whose children drop to it."""
        pw = pwd.getpwnam("yubin-tls")
        want = "%d:%d" % (pw.pw_uid, pw.pw_gid)
        loop = self.m.pids("starttls")[:1]
        self.assertTrue(loop, "the STARTTLS service runs")
        argv = proc_argv(loop[0])
        self.assertEqual(proc_name(loop[0]), "tlsd")
        self.assertIn("-S", argv)
        self.assertEqual(argv[argv.index("-u") + 1], want, argv)
        services = [(n, d) for n, d in (("submission", "smtpd"),
                                        ("submissions", "smtpd"), ("pop3", "pop3-front"),
                                        ("pop3s", "pop3-front"))
                    if n in self.m.listeners() and have(d)]
        self.assertTrue(services)
        held = []
        try:
            for service, _ in services:
                raw = socket.create_connection(("127.0.0.1", self.m.port(service)), timeout=10)
                held.append(raw)
                if service in ("submissions", "pop3s"):
                    c = ssl.create_default_context(cafile=os.path.join(self.tlsdir, "ca.pem"))
                    raw = c.wrap_socket(raw, server_hostname="localhost")
                    held.append(raw)
                self.assertTrue(read_line(raw)[:1] in (b"+", b"2"), service)  # greeting
            for service, daemon in services:
                with self.subTest(service=service):
                    # our session's tlsd: the parent of its daemon (other tlsd processes may
                    # be short-lived probes)
                    tlsds = {proc_ppid(p) for p in self.m.pids(service)
                             if proc_name(p) == daemon}
                    self.assertTrue(tlsds, "no %s under %s" % (daemon, service))
                    for p in tlsds:
                        self.assertEqual(proc_name(p), "tlsd")
                        argv = proc_argv(p)
                        self.assertEqual(argv[argv.index("-u") + 1], want, argv)
                        self.assertEqual(proc_uid(p), pw.pw_uid)
        finally:
            for s in held:
                s.close()


if __name__ == "__main__":
    unittest.main()
