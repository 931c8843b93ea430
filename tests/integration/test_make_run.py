"""The README's first command: `make run` sets up a mail root with the demo domain and account,
prints the password and the settings sheet, starts the tree, prints "yubin: ready", serves
SMTP and POP3 with the demo credentials, and stops cleanly on SIGTERM, and on Ctrl-C typed in
its terminal; a second `make run` on a root whose tree is up is refused; a plain `make maps`
afterwards rebuilds the maps of the root make run set up."""
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

from harness import TOP, SANITIZED, MailRoot, Terminal, free_port, have, port_open


def cdb_get(root, name, key):
    """The value of key in ROOT/cdb/NAME.cdb (tinycdb's cdb -q), or None if absent."""
    r = subprocess.run(["cdb", "-q", os.path.join(root, "cdb", name + ".cdb"), key],
                       capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else None


def root_pids(root):
    """Processes whose working directory or command line lies in root."""
    out = []
    for pid in [int(x) for x in os.listdir("/proc") if x.isdigit()]:
        try:
            cwd = os.readlink("/proc/%d/cwd" % pid)
            cmd = open("/proc/%d/cmdline" % pid).read()
        except OSError:
            continue
        if cwd == root or cwd.startswith(root + "/") or root in cmd:
            out.append(pid)
    return out


def svstat_pids(root):
    """service (and service/log) -> the pid s6 reports for it."""
    out = {}
    sdir = os.path.join(root, "service")
    for name in sorted(os.listdir(sdir)):
        for d in (name, name + "/log"):
            r = subprocess.run(["s6-svstat", "-p", os.path.join(sdir, d)],
                               capture_output=True, text=True)
            out[d] = r.stdout.strip()
    return out


def stop_group(p):
    """SIGTERM to the process group we started (make run, yubin-start), SIGKILL after 30 s."""
    os.killpg(p.pid, signal.SIGTERM)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def wait_ready(test, p, out):
    """What `make run` (p, its output in the file out) printed up to its "yubin: ready"
    line, waited for at most 120 s; fails the test if it exits or never says it."""
    deadline = time.time() + 120
    text = ""
    while time.time() < deadline and "yubin: ready" not in text:
        time.sleep(0.2)
        out.seek(0)
        text = out.read()
        test.assertIsNone(p.poll(), "make run exited:\n" + text[-3000:])
    test.assertIn("yubin: ready", text)
    return text


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
            text = wait_ready(self, p, out)
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
            stop_group(p)
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

    def test_ctrl_c_in_the_terminal_stops_the_whole_tree(self):
        """make run in a pseudo-terminal, ^C typed there (the terminal sends SIGINT to the
        foreground process group): every process of the tree ends and every port closes. A
        second make run while the first is up is refused with one line and leaves it alone."""
        root = tempfile.mkdtemp(prefix="yubin-ctrlc-", dir="/tmp")
        os.chmod(root, 0o755)
        ports = {k: free_port() for k in ("SMTP", "SUBMISSION", "SUBMISSIONS", "POP3", "POP3S")}
        env = dict(os.environ, YUBIN_ROOT=root, YUBIN_LISTEN="127.0.0.1",
                   **{"YUBIN_PORT_" + k: str(v) for k, v in ports.items()})
        term = Terminal(["make", "-s", "run"], env)
        status = None
        try:
            term.read_for(120, b"yubin: ready")
            self.assertIn(b"yubin: ready", term.text, term.out()[-3000:])
            for port in ports.values():
                self.assertTrue(port_open(port), "port %d not listening" % port)
            before = svstat_pids(root)

            # a second make run on the same root while the first is up
            r = subprocess.run(["make", "-s", "run"], cwd=TOP, env=env, capture_output=True,
                               text=True, timeout=120)
            said = [l for l in (r.stdout + r.stderr).splitlines()
                    if l.strip() and not l.startswith(("make: ***", "make[1]"))]
            self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(len(said), 1, r.stdout + r.stderr)
            self.assertIn("already running", said[0])
            self.assertIn(root, said[0])
            self.assertNotIn("yubin: ready", r.stdout)
            self.assertEqual(svstat_pids(root), before, "the running tree was disturbed")
            for port in ports.values():
                self.assertTrue(port_open(port), "port %d closed by the second run" % port)

            term.type(b"\x03")   # Ctrl-C, as typed
            status = term.wait(30)
        finally:
            term.close(also=root_pids(root) if status is None else ())
        out = term.out()
        self.assertIsNotNone(status, "make run still running after Ctrl-C:\n" + out[-2000:])
        self.assertIn("yubin: stopped", out)
        left = root_pids(root)
        for p in left:  # our own tree's leftovers, by pid, so that the next test starts clean
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        self.assertEqual(left, [], "processes left after Ctrl-C")
        for name, port in ports.items():
            self.assertFalse(port_open(port), "%s port %d still accepts after Ctrl-C" % (name, port))
        shutil.rmtree(root, ignore_errors=True)

    def test_make_maps_rebuilds_the_root_make_run_set_up(self):
        """`YUBIN_ROOT=DIR make run`; then, in another shell without YUBIN_ROOT, an alias
        added by hand to DIR/etc/aliases and a plain `make maps` (README): it rebuilds DIR's
        maps, the root make run recorded in bin/.yubin-root, not ./run's. A YUBIN_ROOT given
        to make maps still names the root it rebuilds. The programs go to a bin folder of this
        test's own (BIN=, beside bin/ in the checkout, where yubin-setup finds its templates):
        every test's yubin-setup records its root in the shared bin/.yubin-root, and a module
        running alongside would change it under this one."""
        root = tempfile.mkdtemp(prefix="yubin-makemaps-", dir="/tmp")
        os.chmod(root, 0o755)
        self.addCleanup(shutil.rmtree, root, True)
        bindir = tempfile.mkdtemp(prefix="bin-makemaps-", dir=TOP)
        self.addCleanup(shutil.rmtree, bindir, True)
        bin_arg = "BIN=" + os.path.basename(bindir)
        other = MailRoot(prefix="yubin-makemaps-other-")
        self.addCleanup(shutil.rmtree, other.root, True)
        other.setup()
        ports = {k: free_port() for k in ("SMTP", "SUBMISSION", "SUBMISSIONS", "POP3", "POP3S",
                                          "HTTPS", "HTTP")}
        env = dict(os.environ, YUBIN_ROOT=root, YUBIN_LISTEN="127.0.0.1",
                   **{"YUBIN_PORT_" + k: str(v) for k, v in ports.items()})
        out = open(os.path.join(root, ".make-run.log"), "w+")
        p = subprocess.Popen(["make", "-s", "run", bin_arg], cwd=TOP, env=env, stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True)
        try:
            text = wait_ready(self, p, out)
            time.sleep(1.1)     # make compares modification times
            with open(os.path.join(root, "etc", "aliases"), "a") as f:
                f.write("info@example.test: demo@example.test\n")
            with open(os.path.join(other.root, "etc", "aliases"), "a") as f:
                f.write("sales@example.test: admin@example.test\n")
            shell = {k: v for k, v in os.environ.items() if k != "YUBIN_ROOT"}

            r = subprocess.run(["make", "maps", bin_arg], cwd=TOP, env=shell,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("Entering directory '%s/etc'" % root, r.stdout)
            self.assertIn("aliases: 1 added", r.stdout)
            self.assertEqual(cdb_get(root, "aliases", "info@example.test"), "demo@example.test")
            self.assertIsNone(cdb_get(other.root, "aliases", "sales@example.test"))

            # YUBIN_ROOT given: that root, not the recorded one
            r = subprocess.run(["make", "maps", bin_arg], cwd=TOP,
                               env=dict(shell, YUBIN_ROOT=other.root),
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("Entering directory '%s/etc'" % other.root, r.stdout)
            self.assertIn("aliases: 1 added", r.stdout)
            self.assertEqual(cdb_get(other.root, "aliases", "sales@example.test"),
                             "admin@example.test")
            self.assertIsNone(cdb_get(root, "aliases", "sales@example.test"))
        finally:
            stop_group(p)
        out.seek(0)
        self.assertIn("yubin: stopped", out.read())
        time.sleep(0.5)
        left = root_pids(root)
        for pid in left:  # our own tree's leftovers, by pid
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.assertEqual(left, [], "processes left after SIGTERM")


@unittest.skipUnless(all(have(p) for p in ("mailacct", "smtpd", "pop3-front", "authd")),
                     "needs the whole service")
class LateReadyTest(unittest.TestCase):
    def test_a_service_held_down_is_named_then_ready_when_it_comes(self):
        """yubin-start with a service that does not come up in time (the operator keeps POP3
        down with s6's down file): the warning names the listener it waits for, and "yubin:
        ready" is printed once the operator brings it up (s6-svc -u), not never. The member
        page's ports are the doors' (services https and http, tcpserver and webfront): the
        page is ready once lighttpd (service web, kept down here too) has its socket behind
        them, and no "web listening" is printed for a port lighttpd does not listen on. While
        lighttpd is down the wait does not knock on those doors: each knock (five a second)
        was a "webfront: fatal: unable to connect" line in log/https and log/http. The one
        knock left, the door's own readiness check when its tcpserver starts, sends nothing
        and leaves no line either. And lighttpd's own readiness check leaves no "invalid
        request" line in log/web, nor a fatal one for its tries before lighttpd is up."""
        m = MailRoot(prefix="yubin-lateready-")
        m.setup()
        pop3 = os.path.join(m.root, "service", "pop3")
        open(os.path.join(pop3, "down"), "w").close()
        web = os.path.join(m.root, "service", "web")
        if os.path.isdir(web):
            open(os.path.join(web, "down"), "w").close()
        out = open(os.path.join(m.root, ".start.log"), "w+")
        p = subprocess.Popen([m.bin("yubin-start"), m.root], env=dict(os.environ,
                             YUBIN_READY_WAIT="2"), stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True)

        def said(what):
            out.seek(0)
            text = out.read()
            return what in text and text
        try:
            text = m.wait_for(lambda: said("not every listener is up"), 60)
            self.assertTrue(text, said(""))
            self.assertIn("after 2 s (still waiting for pop3 on 127.0.0.1:%d)" % m.port("pop3"),
                          text)
            self.assertNotIn("yubin: ready", text)
            subprocess.run(["s6-svc", "-u", pop3], check=True)
            if os.path.isdir(web):
                self.assertTrue(m.wait_for(lambda: port_open(m.port("pop3")), 30))
                time.sleep(3)
                self.assertNotIn("yubin: ready", said(""), "ready without lighttpd")
                subprocess.run(["s6-svc", "-u", web], check=True)
            text = m.wait_for(lambda: said("yubin: ready"), 30)
            self.assertTrue(text, said(""))
            self.assertIn("yubin: pop3 listening on 127.0.0.1:%d" % m.port("pop3"), text)
            self.assertTrue(port_open(m.port("pop3")))
            if os.path.isdir(web):
                for name in ("https", "http"):
                    self.assertIn("yubin: %s listening on 127.0.0.1:%d" % (name, m.port(name)),
                                  text)
                self.assertIn("yubin: member page https://127.0.0.1:%d/" % m.port("https"),
                              text)
                self.assertNotIn("yubin: web listening", text)
                for name in ("https", "http"):
                    with open(os.path.join(m.root, "log", name, "current"), errors="replace") as f:
                        lines = [x for x in f if "fatal" in x]
                    self.assertEqual(lines, [], "log/%s" % name)
                with open(os.path.join(m.root, "log", "web", "current"), errors="replace") as f:
                    text = f.read()
                self.assertNotIn("hap-PROXY", text)
                self.assertNotIn("fatal", text)
        finally:
            stop_group(p)
            m.sweep()
            shutil.rmtree(m.root, ignore_errors=True)
        self.assertIn("yubin: stopped", said(""))


if __name__ == "__main__":
    unittest.main()
