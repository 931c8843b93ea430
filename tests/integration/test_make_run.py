"""The README's first command: `make run` sets up a mail root with the demo domain and account,
prints the password and the settings sheet, starts the tree, prints "yubin: ready", serves
SMTP and POP3 with the demo credentials, and stops cleanly on SIGTERM."""
import os
import poplib
import re
import shutil
import signal
import smtplib
import subprocess
import tempfile
import time
import unittest

from harness import TOP, free_port, have, SANITIZED


@unittest.skipIf(SANITIZED, "make run builds the normal binaries")
@unittest.skipUnless(all(have(p) for p in ("mailacct", "smtpd", "pop3-front", "authd")),
                     "needs the whole service")
class MakeRunTest(unittest.TestCase):
    def test_make_run_demo_then_sigterm(self):
        root = tempfile.mkdtemp(prefix="yubin-makerun-", dir="/tmp")
        os.chmod(root, 0o755)
        ports = {k: free_port() for k in ("SMTP", "SUBMISSION", "SUBMISSIONS", "POP3", "POP3S")}
        env = dict(os.environ, YUBIN_ROOT=root, YUBIN_LISTEN="127.0.0.1",
                   **{"YUBIN_PORT_" + k: str(v) for k, v in ports.items()})
        out = open(os.path.join(root, ".make-run.log"), "w+")
        p = subprocess.Popen(["make", "-s", "run"], cwd=TOP, env=env, stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.time() + 120
            text = ""
            while time.time() < deadline and "yubin: ready" not in text:
                time.sleep(0.2)
                out.seek(0)
                text = out.read()
                self.assertIsNone(p.poll(), "make run exited:\n" + text[-3000:])
            self.assertIn("yubin: ready", text)
            m = re.search(r"(?:password|パスワード)\s*[:：]\s*(\S+)", text, re.I)
            self.assertIsNotNone(m, "no password printed:\n" + text[-3000:])
            password = m.group(1)
            self.assertIn("pop3.example.test", text)
            self.assertIn("smtp.example.test", text)
            # the demo account works on POP3 and on SMTP AUTH
            pop = poplib.POP3("127.0.0.1", ports["POP3"], timeout=10)
            pop.user("demo@example.test")
            pop.pass_(password)
            pop.quit()
            with smtplib.SMTP("127.0.0.1", ports["SUBMISSION"], timeout=10) as s:
                s.ehlo("client.example")
                s.login("demo@example.test", password)
                s.sendmail("demo@example.test", ["demo@example.test"],
                           "Subject: hello\r\n\r\nfrom make run\r\n")
            maildir = os.path.join(root, "mail", "example.test", "demo", "Maildir")
            deadline = time.time() + 10
            while time.time() < deadline and not os.listdir(os.path.join(maildir, "new")):
                time.sleep(0.1)
            self.assertTrue(os.listdir(os.path.join(maildir, "new")), "message not delivered")
        finally:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        out.seek(0)
        text = out.read()
        self.assertIn("yubin: stopped", text)
        time.sleep(0.5)
        left = []
        for pid in [int(x) for x in os.listdir("/proc") if x.isdigit()]:
            try:
                if root in open("/proc/%d/cmdline" % pid).read():
                    left.append(pid)
            except OSError:
                pass
        self.assertEqual(left, [], "processes left after SIGTERM")
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
