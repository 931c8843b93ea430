"""Privilege separation is real (DESIGN.md "Programs and who runs them"): every running yubin
process has the uid the design gives it, and the uids of the network parsers can open neither
a Maildir, nor the password hashes, nor the queue, nor the TLS key; the logs are readable by
the log uid and the operators' group only."""
import grp
import os
import poplib
import pwd
import smtplib
import shutil
import socket
import stat
import subprocess
import time
import unittest

from harness import MailRoot, IS_ROOT, BIN, have, proc_uid, proc_name, descendants, can_open, \
    as_user
from smtpsink import Sink


def read_as(path, uid, gid, groups):
    """Run cat PATH as uid:gid with exactly these supplementary groups (setpriv)."""
    grouparg = ["--groups", ",".join(str(g) for g in groups)] if groups else ["--clear-groups"]
    return subprocess.run(["setpriv", "--reuid", str(uid), "--regid", str(gid)] + grouparg
                          + ["cat", path], capture_output=True, text=True, errors="replace")

# program name (as in /proc/PID/comm) -> the user it must run as
EXPECTED = {
    "smtpd": "yubin-smtpd",
    "pop3-front": "yubin-pop",
    "authd": "yubin-auth",
    "queue-run": "yubin-q",
    "queue-inject": "yubin-q",
    "remote": "yubin-remote",
    "deliver": "yubin-mbox",
    "checkpw": "yubin-mbox",
    "pop3d": "yubin-mbox",
    "s6-log": "yubin-log",
    "tlskeyd": "yubin-tlskey",
    "lighttpd": "yubin-web",
    "member": "yubin-web",
    "acctd": "root",
    "dkim-sign": "yubin-dkim",
}


@unittest.skipUnless(IS_ROOT, "privilege separation is only real when started as root")
class PrivilegeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot.shared()

    def tree_processes(self):
        """(pid, comm, uid) of every process under our s6-svscan."""
        out = []
        for pid in descendants(self.m.svscan.pid):
            uid = proc_uid(pid)
            if uid is not None:     # not a session that ended meanwhile
                out.append((pid, proc_name(pid), uid))
        return out

    def hold_sessions(self):
        """Open an SMTP and a POP3 session so their processes exist while we look."""
        socks = []
        for name in ("smtp", "pop3"):
            if name in self.m.listeners():
                s = socket.create_connection(("127.0.0.1", self.m.port(name)), timeout=5)
                s.recv(512)
                socks.append(s)
        return socks

    def test_every_process_runs_as_its_uid(self):
        socks = self.hold_sessions()
        try:
            time.sleep(0.2)
            procs = self.tree_processes()
        finally:
            for s in socks:
                s.close()
        seen = set()
        for pid, comm, uid in procs:
            if comm in EXPECTED:
                want = pwd.getpwnam(EXPECTED[comm]).pw_uid
                with self.subTest(program=comm, pid=pid):
                    self.assertEqual(uid, want, "%s (pid %d) runs as uid %d, not %s"
                                     % (comm, pid, uid, EXPECTED[comm]))
                seen.add(comm)
        self.assertIn("s6-log", seen)
        for prog in ("authd", "queue-run", "tlskeyd", "acctd", "dkim-sign"):
            if have(prog):
                self.assertIn(prog, seen, "%s is not running" % prog)
        if have("smtpd"):
            self.assertIn("smtpd", seen)
        if have("pop3-front"):
            self.assertIn("pop3-front", seen)
        if shutil.which("lighttpd"):
            self.assertIn("lighttpd", seen, "the member page's lighttpd is not running")

    GROUP_HINT = ("yubin-web is in group yubin-smtpd: groups are system-wide, and a yubin-setup "
                  "older than the member page's acctd usage (run for another mail root on this "
                  "machine) puts it back; this root's yubin-setup took it out")

    @unittest.skipUnless(shutil.which("lighttpd"), "needs lighttpd")
    def test_web_uid_is_in_no_other_roles_group(self):
        """The member page asks acctd for quota use (docs/web.md): the web uid is not in the
        group yubin-smtpd, so neither the running lighttpd (and the page program it starts)
        nor any yubin-web process can read the SRS secret, the usage summaries or the
        POP-before-SMTP grants."""
        smtpd_gid = grp.getgrnam("yubin-smtpd").gr_gid
        web_uid = pwd.getpwnam("yubin-web").pw_uid
        for pid in descendants(self.m.svscan.pid):
            if proc_name(pid) == "lighttpd" and proc_uid(pid) == web_uid:
                with open("/proc/%d/status" % pid) as f:
                    groups = [l.split()[1:] for l in f if l.startswith("Groups:")][0]
                self.assertNotIn(str(smtpd_gid), groups, self.GROUP_HINT)
                break
        else:
            self.fail("no lighttpd running as yubin-web")
        for what in ("etc/srs", "quota", "relay"):
            with self.subTest(target=what):
                path = os.path.join(self.m.root, what)
                self.assertTrue(os.path.exists(path))
                self.assertFalse(can_open("yubin-web", path),
                                 "yubin-web can read %s (%s)" % (what, self.GROUP_HINT))

    @unittest.skipUnless(shutil.which("lighttpd"), "needs lighttpd")
    def test_web_uid_cannot_swap_lighttpds_sockets(self):
        """lighttpd binds its sockets in run/web/ as root and then chmods them by name: the
        web uid reaches them (webfront connects) but cannot rename or create anything there,
        or it could swap a socket for a link to a secret between the two calls."""
        d = os.path.join(self.m.root, "run", "web")
        sock = os.path.join(d, "https.sock")
        self.assertTrue(self.m.wait_for(lambda: os.path.exists(sock), 30), os.listdir(d))
        code = ("import os,sys,socket\n"
                "s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.close()\n"
                "for f in (lambda: os.rename(sys.argv[1], sys.argv[1] + '.x'),\n"
                "          lambda: os.symlink('/etc/shadow', sys.argv[1] + '.y')):\n"
                "    try:\n        f(); sys.exit(3)\n    except PermissionError:\n        pass\n")
        r = as_user("yubin-web", ["python3", "-c", code, sock])
        self.assertEqual(r.returncode, 0, "the web uid could not connect (1) or could change "
                         "run/web/ (3): %r" % (r.stderr,))

    def test_parsers_cannot_read_secrets_or_mail(self):
        if have("mailacct"):
            self.m.add_user("privcheck@example.test", "Secret-pw-9") \
                if not os.path.isdir(self.m.maildir("privcheck@example.test")) else None
        targets = {
            "auth.cdb": os.path.join(self.m.root, "cdb", "auth.cdb"),
            "etc/users": os.path.join(self.m.root, "etc", "users"),
            "TLS key": os.path.join(self.m.root, "etc", "tls", "server.key"),
            "queue": os.path.join(self.m.root, "queue", "mess"),
            "mail": os.path.join(self.m.root, "mail"),
            "DKIM keys": os.path.join(self.m.root, "dkim"),
        }
        sel = os.path.join(self.m.root, "dkim", "example.test", "selector")
        if have("mailacct"):        # mailacct domain add made example.test's first key
            self.assertTrue(os.path.exists(sel), "no DKIM key for example.test")
            with open(sel) as f:
                targets["DKIM key"] = os.path.join(os.path.dirname(sel), f.read().strip() + ".key")
        if have("mailacct"):
            targets["Maildir"] = os.path.join(self.m.maildir("privcheck@example.test"), "new")
        for user in ("yubin-smtpd", "yubin-pop", "yubin-tls", "yubin-remote", "yubin-tlskey",
                     "yubin-web"):
            for what, path in targets.items():
                if not os.path.exists(path):
                    continue
                with self.subTest(user=user, target=what):
                    self.assertFalse(can_open(user, path), "%s can read %s" % (user, what))
        # and the other direction: the queue and mailbox uids cannot read hashes or DKIM keys
        for user in ("yubin-q", "yubin-mbox"):
            for what in ("auth.cdb", "etc/users", "TLS key", "DKIM keys", "DKIM key"):
                path = targets.get(what, "")
                if os.path.exists(path):
                    with self.subTest(user=user, target=what):
                        self.assertFalse(can_open(user, path))
        # the mailbox uid cannot read the queue, the queue uid cannot read mailboxes
        self.assertFalse(can_open("yubin-mbox", targets["queue"]))
        self.assertFalse(can_open("yubin-q", targets["mail"]))
        # the signer's uid reads the DKIM keys, and nothing else of the above
        if "DKIM key" in targets:
            self.assertTrue(can_open("yubin-dkim", targets["DKIM key"]))
            for what in ("auth.cdb", "etc/users", "TLS key", "queue", "mail"):
                if os.path.exists(targets[what]):
                    with self.subTest(user="yubin-dkim", target=what):
                        self.assertFalse(can_open("yubin-dkim", targets[what]))

    @unittest.skipUnless(have("remote") and have("queue-run") and have("queue-inject"),
                         "needs the outbound queue")
    def test_remote_runs_as_its_own_uid_and_cannot_open_the_queue(self):
        """remote parses what other mail servers send (DESIGN.md): while it delivers, it runs
        as yubin-remote, holds the message on fd 0 read-only (queue-run opened it), reports on
        a pipe on fd 1, and with its own credentials can open nothing in queue/."""
        import test_remote as tr
        sink = Sink(hang_after_data=True, hang=6).start()
        self.addCleanup(sink.stop)
        tr.add_route(self.m, "privremote.test:127.0.0.1:%d" % sink.port)
        qid = tr.inject(self.m, "admin@example.test", ["x@privremote.test"], tr.MSG)
        mess = os.path.join(self.m.root, "queue", "mess", qid)
        self.assertTrue(self.m.wait_for(lambda: any(x.data for x in sink.sessions), 30),
                        self.m.all_logs()[-3000:])

        def holding_the_message():
            out = []
            for pid in descendants(self.m.svscan.pid):
                try:
                    if os.readlink("/proc/%d/fd/0" % pid) == mess:
                        out.append(pid)
                except OSError:
                    pass
            return out
        pids = self.m.wait_for(holding_the_message, 10)
        self.assertTrue(pids, "no process holds mess/%s on fd 0" % qid)
        pid = pids[0]
        self.assertEqual(proc_name(pid), "remote")
        status = dict(line.split(":", 1) for line in open("/proc/%d/status" % pid)
                      if ":" in line)
        uids = [int(x) for x in status["Uid"].split()]
        gids = [int(x) for x in status["Gid"].split()]
        groups = [int(x) for x in status["Groups"].split()]
        ru = pwd.getpwnam("yubin-remote")
        self.assertEqual(uids, [ru.pw_uid] * 4, "remote's uids (real, effective, saved, fs)")
        self.assertEqual(gids, [ru.pw_gid] * 4, "remote's gids")
        self.assertNotIn(pwd.getpwnam("yubin-q").pw_gid, groups + gids)
        with open("/proc/%d/fdinfo/0" % pid) as f:
            flags = int([x for x in f if x.startswith("flags:")][0].split()[1], 8)
        self.assertEqual(flags & os.O_ACCMODE, os.O_RDONLY, "the message is passed read-only")
        self.assertTrue(os.readlink("/proc/%d/fd/1" % pid).startswith("pipe:"),
                        "results go to a pipe")
        # the same credentials as the running remote, on the queue's files and folders
        for path in (mess, os.path.join(self.m.root, "queue", "state"),
                     os.path.join(self.m.root, "queue", "mess"),
                     os.path.join(self.m.root, "queue", "trigger")):
            if os.path.exists(path):
                with self.subTest(path=path):
                    r = read_as(path, uids[0], gids[0], groups)
                    self.assertNotEqual(r.returncode, 0, "remote's uid reads %s" % path)
        w = subprocess.run(["setpriv", "--reuid", str(uids[0]), "--regid", str(gids[0])]
                           + (["--groups", ",".join(map(str, groups))] if groups
                              else ["--clear-groups"])
                           + ["sh", "-c", ": > %s/queue/tmp/remote-was-here" % self.m.root],
                           capture_output=True)
        self.assertNotEqual(w.returncode, 0, "remote's uid can create files in queue/tmp")
        # the sink hangs up without a reply: a deferral; the next try is answered
        sink.hang_after_data = False
        self.assertTrue(self.m.wait_for(lambda: "deferred id=%s" % qid in self.m.log("queue"),
                                        30), self.m.all_logs()[-3000:])
        subprocess.run([self.m.bin("mailq"), "--root", self.m.root, "flush"],
                       capture_output=True, env=self.m.env())
        self.assertTrue(self.m.wait_for(lambda: not os.path.exists(mess), 60),
                        self.m.all_logs()[-3000:])

    @unittest.skipUnless(have("authd") and have("pop3-front"), "needs authd and POP3")
    def test_logs_are_read_by_the_log_uid_and_operators_only(self):
        """The logs hold addresses and the IPs of failed logins (README "Logs"): log/SERVICE/
        is yubin-log:yubin-adm 2750, its files 0640 (0740 once finished), so an unrelated uid
        reads nothing there, a member of yubin-adm reads everything, root's mailtrace works."""
        self.m.add_user("logcheck@example.test", "Right-pw-5") \
            if not os.path.isdir(self.m.maildir("logcheck@example.test")) else None
        pop = poplib.POP3("127.0.0.1", self.m.port("pop3"), timeout=10)
        pop.user("logcheck@example.test")
        with self.assertRaises(poplib.error_proto):
            pop.pass_("wrong-password")
        pop.quit()
        with smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=10) as c:
            c.sendmail("friend@elsewhere.example", ["logcheck@example.test"],
                       "Subject: logs\r\n\r\nhello\r\n")
        authlog = os.path.join(self.m.root, "log", "authd", "current")
        self.assertTrue(self.m.wait_for(lambda: "reason=password" in self.m.log("authd")),
                        "no failed login in log/authd")
        self.assertTrue(self.m.wait_for(lambda: "to=<logcheck@example.test>" in self.m.log("deliver")))
        log_uid = pwd.getpwnam("yubin-log").pw_uid
        adm = grp.getgrnam("yubin-adm").gr_gid
        for service in self.m.services():
            d = os.path.join(self.m.root, "log", service)
            st = os.stat(d)
            with self.subTest(folder="log/" + service):
                self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)),
                                 (log_uid, adm, 0o2750))
            for name in os.listdir(d):
                st = os.stat(os.path.join(d, name))
                with self.subTest(file="log/%s/%s" % (service, name)):
                    mode = stat.S_IMODE(st.st_mode)
                    self.assertEqual(st.st_gid, adm)
                    self.assertEqual(mode & 0o077, 0o040, "group only reads, others nothing: %o" % mode)
        self.assertEqual(stat.S_IMODE(os.stat(authlog).st_mode), 0o640)
        # an unrelated uid: neither the file nor the folder
        nobody = pwd.getpwnam("nobody")
        r = read_as(authlog, nobody.pw_uid, nobody.pw_gid, [])
        self.assertNotEqual(r.returncode, 0, "nobody read log/authd/current")
        self.assertNotIn("reason=password", r.stdout)
        self.assertFalse(can_open("nobody", os.path.dirname(authlog)), "nobody lists log/authd")
        for user in ("yubin-smtpd", "yubin-pop", "yubin-tls"):
            self.assertFalse(can_open(user, authlog), "%s reads log/authd/current" % user)
        # an operator: the same uid, in the group yubin-adm
        r = read_as(authlog, nobody.pw_uid, nobody.pw_gid, [adm])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("reason=password", r.stdout)
        # root's mailtrace still reads every log
        if have("mailtrace"):
            r = subprocess.run([os.path.join(BIN, "mailtrace"), "--root", self.m.root,
                                "logcheck@example.test"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("to=<logcheck@example.test>", r.stdout)


if __name__ == "__main__":
    unittest.main()
