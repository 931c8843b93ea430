"""yubin-setup: the mail root's folders, owners and modes (docs/internals.md), the uids, the
service tree, and that re-running it keeps what the operator edited."""
import os
import pwd
import grp
import stat
import subprocess
import unittest

from harness import MailRoot, IS_ROOT, BIN, TOP, PORT_NAMES, have


def owner(path):
    st = os.stat(path)
    return pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name, stat.S_IMODE(st.st_mode)


class SetupTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(prefix="yubin-setup-")
        cls.m.setup()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop() if cls.m.svscan else __import__("shutil").rmtree(cls.m.root, True)

    @unittest.skipUnless(IS_ROOT, "owners are only set when yubin-setup runs as root")
    def test_owners_and_modes(self):
        table = {
            "": ("root", "root", 0o755),
            "bin": ("root", "root", 0o755),
            "etc": ("root", "root", 0o755),
            "etc/users": ("root", "root", 0o600),
            "etc/tls": ("root", "root", 0o700),
            "etc/tls/server.key": ("root", "root", 0o600),
            "cdb": ("root", "root", 0o755),
            "queue": ("yubin-q", "yubin-q", 0o700),
            "queue/mess": ("yubin-q", "yubin-q", 0o700),
            "queue/trigger": ("yubin-q", "yubin-q", 0o600),
            "mail": ("yubin-mbox", "yubin-mbox", 0o700),
            "trash": ("yubin-mbox", "yubin-mbox", 0o700),
            "quota": ("yubin-mbox", "yubin-smtpd", 0o2750),  # setgid: summaries readable by smtpd
            "relay": ("yubin-mbox", "yubin-smtpd", 0o2750),  # setgid: grants readable by smtpd
            "run/smtpd": ("yubin-smtpd", "yubin-smtpd", 0o700),
            "rate": ("yubin-smtpd", "yubin-smtpd", 0o700),     # sending counters, smtpd alone
            "run/pop": ("yubin-pop", "yubin-pop", 0o700),
            "log": ("root", "root", 0o755),
            "log/authd": ("yubin-log", "yubin-adm", 0o2750),
            "log/smtp": ("yubin-log", "yubin-adm", 0o2750),
        }
        for rel, want in table.items():
            with self.subTest(path=rel):
                self.assertEqual(owner(os.path.join(self.m.root, rel)), want)

    @unittest.skipUnless(IS_ROOT, "uids are only created as root")
    def test_uids_exist_and_cannot_log_in(self):
        for r in ("smtpd", "pop", "auth", "q", "mbox", "remote", "tls", "log"):
            p = pwd.getpwnam("yubin-" + r)
            self.assertNotEqual(p.pw_uid, 0)
            self.assertIn(p.pw_shell, ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false"))
            self.assertEqual(grp.getgrgid(p.pw_gid).gr_name, "yubin-" + r, "its own group")
        grp.getgrnam("yubin-adm")   # the operators' group, readers of the logs

    def test_demo_certificate_is_signed_by_the_demo_ca(self):
        tls = os.path.join(self.m.root, "etc", "tls")
        r = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(tls, "ca.pem"),
                            os.path.join(tls, "server.pem")], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in",
                            os.path.join(tls, "server.pem")], capture_output=True, text=True)
        for name in ("localhost", "127.0.0.1", "mail.example.test"):
            self.assertIn(name, r.stdout)

    def test_every_service_has_a_log_service(self):
        services = self.m.services()
        self.assertTrue(services, "no service in the tree")
        for s in services:
            with self.subTest(service=s):
                run = open(os.path.join(self.m.root, "service", s, "log", "run")).read()
                self.assertIn("s6-log", run)
                self.assertIn(os.path.join(self.m.root, "log", s), run)

    def test_templates_fully_substituted(self):
        for s in self.m.services():
            with self.subTest(service=s):
                run = open(os.path.join(self.m.root, "service", s, "run")).read()
                for word in run.split():
                    self.assertFalse(word.startswith("@") and word.endswith("@"), word)

    def test_rerun_keeps_operator_edits(self):
        me = os.path.join(self.m.root, "etc", "me")
        with open(me, "w") as f:
            f.write("mx.operator.example\n")
        env = dict(os.environ, YUBIN_PORT_SMTP=str(self.m.port("smtp")))
        subprocess.run([os.path.join(BIN, "yubin-setup"), "--bin", BIN, "--share", TOP, self.m.root],
                       env=env, check=True, capture_output=True)
        self.assertEqual(open(me).read(), "mx.operator.example\n")
        with open(me, "w") as f:
            f.write("mail.example.test\n")

    def test_rerun_keeps_the_address_and_ports(self):
        """A root set up with YUBIN_LISTEN and its ports, then yubin-setup ROOT again without
        them (as after an upgrade, or to put modes back): every listener stays where it was
        (etc/listen, which yubin-start announces, and the run scripts tcpserver binds from),
        not moved to 127.0.0.1 and the default ports at the services' next start; a variable
        given to the re-run still moves its own port."""
        m = MailRoot(prefix="yubin-setup-listen-")
        base = {k: v for k, v in os.environ.items()
                if not (k.startswith("YUBIN_PORT_") or k == "YUBIN_LISTEN")}
        env = dict(base, YUBIN_LISTEN="127.0.0.2",
                   **{"YUBIN_PORT_" + n.upper(): str(m.port(n)) for n in PORT_NAMES})
        setup = [os.path.join(BIN, "yubin-setup"), "--bin", BIN, "--share", TOP, m.root]
        listen = os.path.join(m.root, "etc", "listen")
        try:
            subprocess.run(setup, env=env, check=True, capture_output=True)
            before = open(listen).read()
            for n in PORT_NAMES:
                self.assertIn("%s 127.0.0.2 %d\n" % (n, m.port(n)), before)
            subprocess.run(setup, env=base, check=True, capture_output=True)
            self.assertEqual(open(listen).read(), before)
            run = open(os.path.join(m.root, "service", "smtp", "run")).read()
            self.assertIn("127.0.0.2 %d" % m.port("smtp"), run)
            subprocess.run(setup, env=dict(base, YUBIN_PORT_POP3=str(m.port("pop3") + 1)),
                           check=True, capture_output=True)
            after = open(listen).read()
            self.assertIn("pop3 127.0.0.2 %d\n" % (m.port("pop3") + 1), after)
            self.assertIn("smtp 127.0.0.2 %d\n" % m.port("smtp"), after)
        finally:
            __import__("shutil").rmtree(m.root, True)


if __name__ == "__main__":
    unittest.main()
