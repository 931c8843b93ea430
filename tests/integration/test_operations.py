"""The operator's service (issue: the whole s6 tree): every service reaches ready, comes back
within a second after SIGKILL or s6-svc -r, yubin-check reports what is wrong, make-style map
rebuilds, and the settings sheet renders in a real browser."""
import json
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
import unittest
from html import unescape as html_unescape

from harness import MailRoot, IS_ROOT, have, BIN, TOP, port_open, free_port, proc_name


def svstat(sdir):
    r = subprocess.run(["s6-svstat", "-o", "up,ready,pid", sdir], capture_output=True, text=True)
    parts = r.stdout.split()
    return (parts[0] == "true", parts[1] == "true", int(parts[2])) if len(parts) == 3 else (False, False, -1)


class OperationsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(prefix="yubin-ops-")
        cls.m.start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def runnable_services(self):
        return [s for s in self.m.services() if self.m._runnable(s)]

    def test_operator_address_is_changed_with_mailacct(self):
        """The operator hands the postmaster's mail to another address with mailacct, as any map
        change: etc/admin and the compiled cdb/admin say it at once, and mail to postmaster@
        of a customer domain arrives in that mailbox."""
        m = self.m
        self.assertEqual(m.mailacct("operator").stdout.strip(), "admin@example.test")
        m.add_user("ops@example.test", "Ops-pass-1")
        out = m.mailacct("operator", "Ops@Example.TEST").stdout
        self.addCleanup(m.mailacct, "operator", "admin@example.test")
        self.assertIn("operator address: ops@example.test (was admin@example.test)", out)
        for f in ("etc/admin", "cdb/admin"):
            with open(os.path.join(m.root, f)) as fh:
                self.assertEqual(fh.read(), "ops@example.test\n", f)
        mark = "to-the-postmaster-%d" % time.time_ns()
        with smtplib.SMTP("127.0.0.1", m.port("smtp"), timeout=20) as s:
            s.sendmail("someone@remote.example", ["postmaster@example2.test"],
                       "Subject: %s\r\n\r\nhello\r\n" % mark)
        self.assertTrue(m.wait_for(lambda: any(mark.encode() in open(p, "rb").read()
                                               for p in m.messages("ops@example.test")), 20),
                        m.log("queue")[-2000:])
        r = m.mailacct("del", "ops@example.test", check=False)
        self.assertEqual(r.returncode, 100)
        self.assertIn("mailacct operator ADDR", r.stderr)

    def test_every_service_and_logger_is_up(self):
        for s in self.runnable_services():
            for d in ("", "log"):
                sdir = os.path.join(self.m.root, "service", s, d)
                with self.subTest(service=s + ("/log" if d else "")):
                    up, ready, pid = self.m.wait_for(lambda: svstat(sdir)[0] and svstat(sdir), 5)
                    self.assertTrue(up)
                    self.assertGreater(pid, 0)
                    self.assertTrue(os.path.exists(os.path.join(sdir, "notification-fd")),
                                    "no readiness notification")
                    self.assertTrue(self.m.wait_for(lambda: svstat(sdir)[1], 5), "not ready")

    def test_sigkill_of_each_service_comes_back_within_a_second(self):
        for s in self.runnable_services():
            sdir = os.path.join(self.m.root, "service", s)
            with self.subTest(service=s):
                up, _, pid = svstat(sdir)
                self.assertTrue(up)
                os.kill(pid, signal.SIGKILL)
                t0 = time.time()
                back = self.m.wait_for(lambda: svstat(sdir)[0] and svstat(sdir)[2] not in (pid, -1),
                                       timeout=3, interval=0.02)
                self.assertTrue(back, "%s did not come back" % s)
                self.assertLess(time.time() - t0, 1.5, "%s took %.2fs" % (s, time.time() - t0))
        self.m.wait_ready(10)

    def test_logs_are_written_by_s6_log_with_tai64n(self):
        time.sleep(0.2)
        found = False
        for s in self.runnable_services():
            text = self.m.log(s)
            if text:
                found = True
                first = text.splitlines()[0]
                self.assertTrue(first.startswith("@4000"), first)
        self.assertTrue(found, "no service logged anything")

    @unittest.skipUnless(have("mkmaps"), "mkmaps not built")
    def test_yubin_check_reports_stopped_service_and_stale_map(self):
        check = [os.path.join(BIN, "yubin-check"), "--root", self.m.root]
        r = subprocess.run(check, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout)
        deb = "/usr/share/publicsuffix/public_suffix_list.dat"
        if os.path.exists(deb):
            self.assertIn("ok: psl.cdb compiled from the current Public Suffix List", r.stdout)
            # the list changes after the last build (an operator's own list in PSL_FILE,
            # updated as a publicsuffix upgrade would): a warning, no failure, until mkmaps
            mkmaps = [os.path.join(BIN, "mkmaps"), "--root", self.m.root, "--quiet"]
            own = os.path.join(self.m.root, "etc", "public_suffix_list.dat")
            shutil.copyfile(deb, own)
            self.m.set_env("PSL_FILE", own)
            try:
                subprocess.run(mkmaps, check=True)
                r = subprocess.run(check, capture_output=True, text=True)
                self.assertIn("ok: psl.cdb compiled", r.stdout)
                with open(own, "a") as f:
                    f.write("example.test\n")
                r = subprocess.run(check, capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stdout)
                self.assertIn("warning: psl.cdb is missing or was compiled from another", r.stdout)
                subprocess.run(mkmaps, check=True)
                r = subprocess.run(check, capture_output=True, text=True)
                self.assertIn("ok: psl.cdb compiled", r.stdout)
            finally:
                os.unlink(os.path.join(self.m.root, "etc", "env", "PSL_FILE"))
                os.unlink(own)
                subprocess.run(mkmaps, check=True)
        victim = self.runnable_services()[0]
        sdir = os.path.join(self.m.root, "service", victim)
        subprocess.run(["s6-svc", "-d", sdir], check=True)
        subprocess.run(["s6-svwait", "-D", "-t", "5000", sdir])
        users = os.path.join(self.m.root, "etc", "users")
        time.sleep(0.05)  # past the filesystem's timestamp granularity
        os.utime(users)   # the source is now newer than its cdb
        try:
            r = subprocess.run(check, capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("users.cdb is older than etc/users", r.stdout)
            self.assertIn(victim, r.stdout)
        finally:
            subprocess.run(["s6-svc", "-u", sdir], check=True)
            subprocess.run(["make", "-s", "-C", os.path.join(self.m.root, "etc")], capture_output=True)
            self.m.wait_ready(10)
        r = subprocess.run(check, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout)


    @unittest.skipUnless(have("mailacct"), "mailacct not built")
    def test_yubin_check_names_an_account_near_its_quota(self):
        """An account filled to 95% of its quota by real deliveries: yubin-check warns, naming
        it and its use in quota-report's units (not "0 of 1 MB"), and exits 0 (the summaries
        deliver writes are zero-padded figures)."""
        m = self.m
        addr = "nearly-full@example.test"
        m.add_user(addr, "Nearly-full-1", quota="1M")
        self.addCleanup(m.mailacct, "del", addr, check=False)
        with smtplib.SMTP("127.0.0.1", m.port("smtp"), timeout=20) as s:
            s.sendmail("someone@remote.example", [addr], b"Subject: big\r\n\r\n"
                       + (b"x" * 76 + b"\r\n") * (950 * 1024 // 78))
        summary = os.path.join(m.root, "quota", addr)

        def used():
            try:
                with open(summary) as f:
                    return int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                return 0
        self.assertTrue(m.wait_for(lambda: used() > 900 * 1024, 20), m.log("queue")[-2000:])
        r = subprocess.run([os.path.join(BIN, "yubin-check"), "--root", m.root],
                           capture_output=True, text=True)
        self.assertEqual(r.stderr, "")
        self.assertRegex(r.stdout, r"warning: account nearly-full@example.test uses 9\d% of its "
                                   r"quota \(9\d{5} bytes of 1 MB\)\n")
        self.assertNotIn("no account above 90%", r.stdout)
        self.assertEqual(r.returncode, 0, r.stdout)


class ReadinessCheckTest(unittest.TestCase):
    """Each TCP service tells s6 it is ready once a connect to its port succeeds: its readiness
    check (s6-notifyoncheck) tries every 50 ms from the start. A try before tcpserver has bound
    the port only means "not yet" and leaves no line in the service's log: each such try was a
    "tcpclient: unable to connect to 127.0.0.1 port N: connection refused" line, which an
    operator read after a healthy start as a fault. The services' own errors are still logged,
    and a service is ready only once its port accepts."""

    def svc(self, flag, wait, dirs):
        for d in dirs:          # s6-svc takes one service
            subprocess.run(["s6-svc", flag, d], check=True)
        if wait:
            subprocess.run(["s6-svwait", wait, "-t", "30000"] + dirs, check=True)

    def test_a_try_before_the_bind_leaves_no_line_and_the_service_is_ready_once_it_accepts(self):
        m = MailRoot(prefix="yubin-readycheck-")
        m.start()
        self.addCleanup(m.stop)

        def tries(text):
            return [x for x in text.splitlines()
                    if "unable to connect" in x or "connection refused" in x.lower()]
        # a clean start: no service's log names a failed connect
        for s in m.services():
            self.assertEqual(tries(m.log(s)), [], "log/%s" % s)
        # every listener starts late: etc/env holds a FIFO, so each service's s6-envdir waits
        # there, before tcpserver, until the test opens it; meanwhile the checks try the ports
        listen = m.listeners()
        self.assertTrue(listen)
        names = sorted(listen)
        dirs = [os.path.join(m.root, "service", n) for n in names]
        self.svc("-d", "-D", dirs)
        fifo = os.path.join(m.root, "etc", "env", "SLOW_DISK")
        os.mkfifo(fifo)
        since = {n: len(m.log(n)) for n in names}
        self.svc("-u", "", dirs)
        try:
            def waiting():
                return all(m.pids(n) and proc_name(m.pids(n)[0]) == "s6-envdir" for n in names)
            self.assertTrue(m.wait_for(waiting, 10), {n: m.pids(n) for n in names})
            time.sleep(0.5)     # ten tries of each check, every one refused
            for n, d in zip(names, dirs):
                self.assertFalse(svstat(d)[1], "%s ready before tcpserver" % n)
                self.assertFalse(port_open(listen[n]), n)
        finally:
            fd = os.open(fifo, os.O_RDWR)   # the waiting opens return; EOF once closed
            os.unlink(fifo)
            os.close(fd)
        subprocess.run(["s6-svwait", "-U", "-t", "30000"] + dirs, check=True)
        for n in names:
            self.assertTrue(port_open(listen[n]), n)
        m.wait_ready(30)
        for n in names:
            self.assertEqual(tries(m.log(n)[since[n]:]), [], "log/%s" % n)
        # a real error of the service is still its log's: tcpserver unable to bind a port
        # another program holds (bound, not listening); not ready until it has the port
        smtp = os.path.join(m.root, "service", "smtp")
        self.svc("-d", "-D", [smtp])
        since = len(m.log("smtp"))
        hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

        def bound():
            try:
                hold.bind(("127.0.0.1", m.port("smtp")))
                return True
            except OSError:     # a session of the stopped tcpserver still on the port
                return False
        try:
            self.assertTrue(m.wait_for(bound, 30), "port %d still in use" % m.port("smtp"))
            self.svc("-u", "", [smtp])
            self.assertTrue(m.wait_for(lambda: "tcpserver: fatal: unable to bind"
                                       in m.log("smtp")[since:], 10), m.log("smtp")[since:])
            self.assertFalse(svstat(smtp)[1], "smtp ready while another program held its port")
        finally:
            hold.close()
        subprocess.run(["s6-svwait", "-U", "-t", "30000", smtp], check=True)
        self.assertTrue(port_open(m.port("smtp")))
        self.assertEqual(tries(m.log("smtp")[since:]), [])


@unittest.skipUnless(all(have(p) for p in ("mailacct", "mailq", "mailtrace", "yubin-check")),
                     "needs the operator tools")
class RootDiscoveryTest(unittest.TestCase):
    """After yubin-setup made a root, the operator's tools beside the programs act on it with
    neither --root nor YUBIN_ROOT, from any working directory (README "The mail root")."""

    def test_tools_find_the_root_yubin_setup_made(self):
        m = MailRoot(prefix="yubin-findroot-")
        try:
            m.start()   # a real yubin-setup --bin BIN ROOT, then the tree
            with smtplib.SMTP("127.0.0.1", m.port("smtp"), timeout=10) as s:
                s.sendmail("someone@elsewhere.example", ["admin@example.test"],
                           "Subject: hello\r\n\r\nfind the root\r\n")
            self.assertTrue(m.wait_for(lambda: m.messages("admin@example.test")), "not delivered")
            env = {k: v for k, v in os.environ.items() if k != "YUBIN_ROOT"}

            def tool(*argv, bindir=BIN):
                return subprocess.run([os.path.join(bindir, argv[0])] + list(argv[1:]), cwd="/",
                                      env=env, capture_output=True, text=True, timeout=60)

            r = tool("mailacct", "add", "hanako@example.test", "--password", "Hanako-Pass-7")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("hanako@example.test:", open(os.path.join(m.root, "etc", "users")).read())
            r = tool("mailacct", "list", "example.test")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("admin@example.test", r.stdout)
            for bindir in (BIN, os.path.join(m.root, "bin")):
                r = tool("mailq", bindir=bindir)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertNotIn("no mail root", r.stderr)
            r = self.m_wait_trace(tool)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("to=<admin@example.test>", r.stdout)
            r = tool("yubin-check")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("ok: service smtp up", r.stdout)
            self.assertIn("ok: map cdb/users.cdb is up to date", r.stdout)
            r = tool("quota-report")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("admin@example.test", r.stdout)
            self.assertIn("hanako@example.test", r.stdout)
            r = tool("mkmaps")
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(os.path.join(m.root, "etc", "users"), "a") as f:
                f.write("broken line without fields\n")
            r = tool("mkmaps", "--check")
            self.assertEqual(r.returncode, 100, r.stderr)
            self.assertIn("users:", r.stderr)
        finally:
            m.stop()

    @staticmethod
    def m_wait_trace(tool):
        """mailtrace by address, once the delivery's log line is written."""
        r = None
        deadline = time.time() + 10
        while time.time() < deadline:
            r = tool("mailtrace", "admin@example.test")
            if r.returncode == 0 and "to=<admin@example.test>" in r.stdout:
                break
            time.sleep(0.2)
        return r


@unittest.skipUnless(all(have(p) for p in ("mailacct", "mailq", "mailtrace")),
                     "needs the operator tools")
class AuditTrailTest(unittest.TestCase):
    """What an operator changes by hand is a line of log/audit, with who did it and from where
    (sudo over ssh), and mailtrace tells it among the message's or the address's own lines
    (README "The queue", docs/web.md "Audit log")."""

    def test_mailq_and_mailacct_changes_are_in_log_audit_and_mailtrace(self):
        m = MailRoot(prefix="yubin-audit-")
        try:
            m.start()
            # a destination that never answers: the message waits in the queue
            with open(os.path.join(m.root, "etc", "routes"), "a") as f:
                f.write("stuck.test:127.0.0.1:%d\n" % free_port())
            m.mailacct("add", "hanako@example.test", "--password", "Hanako-Secret-71")
            subprocess.run([m.bin("mkmaps"), "--root", m.root], env=m.env(), check=True,
                           capture_output=True)
            with smtplib.SMTP("127.0.0.1", m.port("submission"), timeout=30) as s:
                s.login("hanako@example.test", "Hanako-Secret-71")
                s.sendmail("hanako@example.test", ["x@stuck.test"],
                           "Subject: audit\r\n\r\nwaits for stuck.test\r\n")
            qids = []

            def listed():
                r = subprocess.run([m.bin("mailq"), "--root", m.root], env=m.env(),
                                   capture_output=True, text=True)
                qids[:] = re.findall(r"(?m)^([0-9a-f]{16}) ", r.stdout)
                return qids and "stuck.test" in r.stdout
            self.assertTrue(m.wait_for(listed, 20), m.log("queue"))
            qid = qids[0]
            # smtpd's line of the message (through s6-log, maybe after mailq lists it): the
            # first of its story in mailtrace below, before the operator's changes
            self.assertTrue(m.wait_for(lambda: " id=%s " % qid in m.log("submission"), 10),
                            m.log("submission")[-2000:])
            env = dict(m.env(), SUDO_USER="ops-ken", SSH_CLIENT="192.0.2.7 50122 22")

            def tool(*argv):
                r = subprocess.run([m.bin(argv[0]), "--root", m.root] + list(argv[1:]),
                                   env=env, capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertNotIn("audit", r.stderr)     # no "unable to write .../log/audit"
                return r

            for cmd in ("hold", "release", "retry", "delete"):
                tool("mailq", cmd, qid)
            tool("mailq", "flush")
            tool("mailacct", "passwd", "hanako@example.test", "Hanako-New-Secret-72")
            tool("mailacct", "quota", "hanako@example.test", "30M")
            tool("mailacct", "list", "example.test")            # reads: no line
            tool("mailacct", "show", "hanako@example.test")     # reads: no line
            tool("mailacct", "domain", "dkim", "example.test")  # shows: no line
            tool("mailacct", "domain", "dkim", "example.test", "rotate")
            self.assertEqual(tool("mailacct", "requests").stdout, "no application is waiting\n")
            audit = open(os.path.join(m.root, "log", "audit")).read()
            stamp = r"(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z "
            who = r" by=ops-ken ip=192\.0\.2\.7"
            for cmd in ("hold", "release", "retry"):
                self.assertRegex(audit, stamp + "event=%s id=%s%s$" % (cmd, qid, who))
            self.assertRegex(audit, stamp + "event=delete id=%s recipients=1 delivered=0 "
                                            "bounce=yes%s$" % (qid, who))
            self.assertRegex(audit, stamp + "event=flush%s$" % who)
            self.assertRegex(audit, stamp + r"event=passwd target=hanako@example\.test%s "
                                            r"command=passwd hanako@example\.test -$" % who)
            self.assertRegex(audit, stamp + r"event=quota target=hanako@example\.test%s "
                                            r"command=quota hanako@example\.test 30M$" % who)
            # the harness's own add, without sudo: the password given on the line is not kept
            self.assertRegex(audit, stamp + r"event=add target=hanako@example\.test by=\S+ "
                                            r"ip=local command=add hanako@example\.test "
                                            r"--password -$")
            self.assertRegex(audit, stamp + r"event=domain-dkim target=example\.test%s "
                                            r"command=domain dkim example\.test rotate$" % who)
            self.assertEqual(audit.count("event=domain-dkim"), 1, audit)
            self.assertNotIn("Secret", audit)
            self.assertNotRegex(audit, r"event=(list|show|requests)")
            if IS_ROOT:
                import grp
                adm = grp.getgrnam("yubin-adm").gr_gid
                path = os.path.join(m.root, "log", "audit")
                st = os.stat(path)
                self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777), (0, adm, 0o640))
                # the operator rotates it (moves it away): the next change makes a new one that
                # the operators' group still reads
                os.rename(path, path + ".1")
                tool("mailacct", "quota", "hanako@example.test", "40M")
                st = os.stat(path)
                self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777), (0, adm, 0o640))
                with open(path) as f:
                    self.assertRegex(f.read(), stamp + r"event=quota target=hanako@example\.test"
                                               r"%s command=quota hanako@example\.test 40M\n\Z"
                                     % who)
                os.rename(path + ".1", path)    # mailtrace below reads log/audit
            # mailtrace: the message's story ends with the operator's hold ... delete, in order
            r = subprocess.run([m.bin("mailtrace"), "--root", m.root, qid], env=m.env(),
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            events = re.findall(r"audit: event=(\w+) id=%s" % qid, r.stdout)
            self.assertEqual(events, ["hold", "release", "retry", "delete"], r.stdout)
            self.assertRegex(r.stdout, r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ audit: "
                                       r"event=hold id=%s by=ops-ken" % qid)
            self.assertLess(r.stdout.index("id=%s" % qid), r.stdout.index("audit: event=hold"))
            r = subprocess.run([m.bin("mailtrace"), "--root", m.root, "Hanako@Example.test"],
                               env=m.env(), capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(re.findall(r"audit: event=(\w+) target=hanako@example\.test",
                                        r.stdout), ["add", "passwd", "quota"], r.stdout)
        finally:
            m.stop()


@unittest.skipUnless(have("mailacct") and shutil.which("chromium"), "needs mailacct and chromium")
class SheetInBrowserTest(unittest.TestCase):
    def test_sheet_html_renders_with_every_field(self):
        m = MailRoot(prefix="yubin-sheet-")
        try:
            m.setup()
            m.mailacct("add", "taro@example2.test", "--password", "Taro-Pass-42")
            html = os.path.join(m.root, "sheet.html")
            m.mailacct("sheet", "taro@example2.test", "--html", html)
            prof = tempfile.mkdtemp(prefix="yubin-chromium-")
            r = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                                "--disable-quic", "--no-first-run", "--disable-background-networking",
                                "--disable-component-update", "--disable-sync",
                                "--user-data-dir=" + prof, "--dump-dom", "file://" + html],
                               capture_output=True, text=True, timeout=120)
            shutil.rmtree(prof, ignore_errors=True)
            dom = r.stdout
            self.assertIn("<body", dom)
            for text in ("pop3.example2.test", "smtp.example2.test", "110", "587",
                         "taro@example2.test", "20MB" if "20MB" in dom else "20 MB",
                         "受信メールサーバ", "送信メールサーバ", "POP before SMTP"):
                self.assertIn(text, dom)
            # basic plan: no POP3 over TLS on the sheet
            self.assertNotIn("995", dom)
            png = os.path.join(m.root, "sheet.png")
            prof = tempfile.mkdtemp(prefix="yubin-chromium-")
            subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                            "--disable-background-networking", "--user-data-dir=" + prof,
                            "--screenshot=" + png, "--window-size=900,1200", "file://" + html],
                           capture_output=True, timeout=120)
            shutil.rmtree(prof, ignore_errors=True)
            self.assertTrue(os.path.exists(png) and os.path.getsize(png) > 10000,
                            "the page did not render")
            self.check_japanese_glyphs(m, html)
        finally:
            m.stop() if m.svscan else shutil.rmtree(m.root, ignore_errors=True)

    # Run in the sheet (a copy with this script added; the sheet itself is left as written)
    # after it is laid out. A character no installed font has is drawn as the same empty box
    # (.notdef) whatever the character: U+0378 is unassigned, so no font has it.
    PROBE = """<script>
(function () {
  var TEXT = "受信メールサーバ", out = {};
  var walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT), node;
  while ((node = walk.nextNode()) && node.data.indexOf(TEXT) < 0) {}
  if (!node) { out.error = "text not found"; }
  else {
    var el = node.parentNode, range = document.createRange(), at = node.data.indexOf(TEXT);
    range.setStart(node, at);
    range.setEnd(node, at + TEXT.length);
    out.font = getComputedStyle(el).fontFamily;
    out.width = range.getBoundingClientRect().width;
    var box = document.createElement("span");
    box.textContent = "\u0378".repeat(TEXT.length);
    el.appendChild(box);
    out.tofu = box.getBoundingClientRect().width;
    el.removeChild(box);
    out.glyphs = ["受", "信", "メ", "ル", "\u0378"].map(function (ch) {
      var c = document.createElement("canvas"), x, d, h = 0, ink = 0, i;
      c.width = c.height = 64;
      x = c.getContext("2d");
      x.font = "48px " + out.font;
      x.fillText(ch, 4, 52);
      d = x.getImageData(0, 0, 64, 64).data;
      for (i = 3; i < d.length; i += 4) { h = (h * 31 + d[i]) >>> 0; if (d[i]) { ink++; } }
      return h + ":" + ink;
    });
  }
  var pre = document.createElement("pre");
  pre.id = "glyph-probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""

    def check_japanese_glyphs(self, m, html):
        """The Japanese is drawn with a font that has it, not as empty boxes: (1) the laid-out
        width of the sheet's 受信メールサーバ differs from eight missing-glyph boxes in the same
        element; (2) drawn on a canvas in the sheet's font, four different characters give four
        different pictures, none of them the missing-glyph box (boxes are all alike)."""
        with open(html, encoding="utf-8") as f:
            page = f.read()
        self.assertIn("</body>", page)
        probe = os.path.join(m.root, "sheet-probe.html")
        with open(probe, "w", encoding="utf-8") as f:
            f.write(page.replace("</body>", self.PROBE + "</body>", 1))
        prof = tempfile.mkdtemp(prefix="yubin-chromium-")
        r = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                            "--disable-background-networking", "--user-data-dir=" + prof,
                            "--dump-dom", "file://" + probe],
                           capture_output=True, text=True, timeout=120)
        shutil.rmtree(prof, ignore_errors=True)
        found = re.search(r'<pre id="glyph-probe">(.*?)</pre>', r.stdout)
        self.assertTrue(found, r.stdout[-2000:] + r.stderr[-2000:])
        out = json.loads(html_unescape(found.group(1)))
        self.assertNotIn("error", out)
        self.assertGreater(out["width"], 0)
        self.assertNotAlmostEqual(out["width"], out["tofu"], delta=0.5,
                                  msg="the Japanese is drawn as missing-glyph boxes: %s" % out)
        glyphs = out["glyphs"]
        self.assertEqual(len(set(glyphs[:4])), 4,
                         "different characters, one picture (empty boxes): %s" % out)
        self.assertNotIn(glyphs[4], glyphs[:4], "a character drawn as the missing glyph: %s" % out)


if __name__ == "__main__":
    unittest.main()
