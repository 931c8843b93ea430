"""authd and checkpw (docs/auth.md): the credential service through its real socket under the
real s6 service, and checkpw in both of its modes, as the users that run them in production."""
import os
import poplib
import re
import pwd
import shutil
import signal
import smtplib
import socket
import ssl
import statistics
import subprocess
import tempfile
import time
import unittest

from harness import MailRoot, IS_ROOT, have, proc_uid, proc_name, can_open

# A client run as another uid: prints the reply in hex (or <Error>) and the seconds it took.
CLIENT = r'''
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(60)
t = time.time()
try:
    s.connect(sys.argv[1])
    s.sendall(bytes.fromhex(sys.argv[2]))
    s.shutdown(socket.SHUT_WR)
    r = b""
    while True:
        d = s.recv(64)
        if not d:
            break
        r += d
except OSError as e:
    r = ("<%s>" % e.__class__.__name__).encode()
print(r.hex(), time.time() - t)
'''


def request(service, ip, login, password):
    def b(x):
        return x if isinstance(x, bytes) else x.encode()
    return b"yubin-auth1\0" + b"".join(b(x) + b"\0" for x in (service, ip, login, password))


@unittest.skipUnless(have("authd") and have("mailacct"), "authd or mailacct not built")
class AuthdTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # a private tree: the tests kill authd and fill its throttle tables
        cls.m = MailRoot(prefix="yubin-authd-")
        cls.m.start()
        cls.sock = os.path.join(cls.m.root, "run", "authd.sock")
        cls.m.add_user("alice@example.test", "Correct Horse 1")
        cls.m.add_user("bob@example2.test", "bob-Pw-2")
        cls.next_ip = 0

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def ip(self):
        """A fresh client address per check, so throttling of one check never leaks into another."""
        type(self).next_ip += 1
        return "192.0.2.%d" % type(self).next_ip

    def ask(self, req, user=None):
        """(reply bytes, seconds) for one raw request, as root or as another user."""
        if user is None or not IS_ROOT:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(60)
            t = time.time()
            try:
                s.connect(self.sock)
                s.sendall(req)
                s.shutdown(socket.SHUT_WR)
                r = b""
                while True:
                    d = s.recv(64)
                    if not d:
                        break
                    r += d
            except OSError as e:
                r = ("<%s>" % e.__class__.__name__).encode()
            finally:
                s.close()
            return r, time.time() - t
        p = subprocess.run(["s6-setuidgid", user, "python3", "-c", CLIENT, self.sock, req.hex()],
                           capture_output=True, text=True, timeout=90)
        self.assertEqual(p.returncode, 0, p.stderr)
        h, secs = p.stdout.split()
        return bytes.fromhex(h), float(secs)

    def check(self, login, password, ip=None, service="pop3", user=None):
        return self.ask(request(service, ip if ip is not None else self.ip(), login, password),
                        user)[0]

    def log_has(self, text, timeout=5):
        return self.m.wait_for(lambda: text in self.m.log("authd"), timeout)

    # --- the protocol
    def test_good_login_as_smtpd_and_mbox(self):
        for user in ("yubin-smtpd", "yubin-mbox"):
            ip = self.ip()
            self.assertEqual(self.check("alice@example.test", "Correct Horse 1", ip, "smtp", user),
                             b"ok\n", user)
            self.assertTrue(self.log_has("auth ok service=smtp ip=%s user=alice@example.test"
                                         % ip))

    def test_login_is_case_insensitive(self):
        self.assertEqual(self.check("Alice@Example.TEST", "Correct Horse 1"), b"ok\n")

    def test_password_is_case_sensitive(self):
        self.assertEqual(self.check("alice@example.test", "correct horse 1"), b"fail\n")
        self.assertEqual(self.check("alice@example.test", "CORRECT HORSE 1"), b"fail\n")
        self.assertEqual(self.check("alice@example.test", "Correct Horse 1 "), b"fail\n")

    def test_wrong_password_and_unknown_user_look_the_same(self):
        ip1, ip2 = self.ip(), self.ip()
        wrong = self.check("alice@example.test", "guess-1", ip1)
        unknown = self.check("nobody@example.test", "guess-1", ip2)
        self.assertEqual(wrong, b"fail\n")
        self.assertEqual(unknown, wrong)
        self.assertTrue(self.log_has("auth failed service=pop3 ip=%s user=alice@example.test"
                                     % ip1))
        self.assertTrue(self.log_has("auth failed service=pop3 ip=%s user=nobody@example.test"
                                     % ip2))
        self.assertNotIn("guess-1", self.m.log("authd"), "a password reached the log")
        self.assertNotIn("Correct Horse", self.m.log("authd"), "a password reached the log")

    def test_unknown_user_costs_a_hash_verification(self):
        # a fast "no such user" would tell an attacker which accounts exist
        wrong, unknown = [], []
        for _ in range(7):
            wrong.append(self.ask(request("pop3", self.ip(), "alice@example.test", "x-1"))[1])
            unknown.append(self.ask(request("pop3", self.ip(), "ghost@example.test", "x-1"))[1])
        w, u = statistics.median(wrong), statistics.median(unknown)
        self.assertGreater(u, 0.4 * w, "unknown user %.4f s vs wrong password %.4f s" % (u, w))

    @unittest.skipUnless(IS_ROOT, "uids are only separate when started as root")
    def test_uid_not_allowed_is_refused(self):
        uid = pwd.getpwnam("yubin-pop").pw_uid
        reply, _ = self.ask(request("pop3", self.ip(), "alice@example.test", "Correct Horse 1"),
                            "yubin-pop")
        self.assertNotEqual(reply, b"ok\n")
        self.assertNotEqual(reply, b"fail\n", "refused before reading: no reply at all")
        self.assertTrue(self.log_has("refused connection from uid=%d" % uid))

    def test_over_one_kilobyte_is_refused(self):
        req = request("pop3", self.ip(), "alice@example.test", "Correct Horse 1")
        reply, _ = self.ask(req + b"x" * (1025 - len(req)))
        self.assertIn(reply, (b"fail\n", b"", b"<ConnectionResetError>"))
        self.assertTrue(self.log_has("request over 1024 octets"))
        reply, _ = self.ask(request("pop3", self.ip(), "alice@example.test", "x" * 300))
        self.assertEqual(reply, b"fail\n", "300-octet password field")

    def test_garbage_is_refused(self):
        for junk in (b"GET / HTTP/1.0\r\n\r\n", b"", b"yubin-auth1\0pop3\0\0alice@example.test\0",
                     b"yubin-auth1\0imap\0\0alice@example.test\0Correct Horse 1\0",
                     request("pop3", "", "alice@example.test", "Correct Horse 1") + b"extra"):
            with self.subTest(junk=junk):
                self.assertEqual(self.ask(junk)[0], b"fail\n")
        self.assertTrue(self.log_has("not a yubin-auth1 request"))
        self.assertTrue(self.log_has("unknown service"))
        # and the service still answers
        self.assertEqual(self.check("alice@example.test", "Correct Horse 1"), b"ok\n")

    def test_throttling_slows_one_ip_not_the_user_elsewhere(self):
        self.m.add_user("target@example.test", "Target-pw-7")
        attacker, home = self.ip(), self.ip()
        times = []
        for i in range(5):
            r, secs = self.ask(request("pop3", attacker, "target@example.test", "guess%d" % i))
            self.assertEqual(r, b"fail\n")
            times.append(secs)
        # three free guesses, then 1 s, then 2 s (docs/auth.md "Throttling")
        self.assertLess(max(times[:3]), 0.9, times)
        self.assertGreaterEqual(times[3], 0.9, times)
        self.assertGreaterEqual(times[4], 1.9, times)
        r, secs = self.ask(request("pop3", home, "target@example.test", "Target-pw-7"))
        self.assertEqual(r, b"ok\n")
        self.assertLess(secs, 0.9, "the right password from another IP must not wait")
        # the right password from the attacking IP still works (after its wait) and clears it
        r, secs = self.ask(request("pop3", attacker, "target@example.test", "Target-pw-7"))
        self.assertEqual(r, b"ok\n")
        r, secs = self.ask(request("pop3", attacker, "target@example.test", "guess-again"))
        self.assertEqual(r, b"fail\n")
        self.assertLess(secs, 0.9, "a success clears the IP's counters")

    def at_once(self, reqs):
        """One connection per request, all sent and half-closed at once, as many clients of
        one address at the same moment; the sockets, to read the replies from."""
        socks = []
        for req in reqs:
            s = socket.socket(socket.AF_UNIX)
            self.addCleanup(s.close)
            socks.append(s)
            s.connect(self.sock)
            s.sendall(req)
            s.shutdown(socket.SHUT_WR)
        return socks

    def test_guesses_sent_at_once_are_spaced_like_one_after_another(self):
        """docs/auth.md "Throttling": five wrong passwords for one account from one IP, sent in
        parallel, get the three free tries at once and then wait 1 s and 2 s more, as they
        would one after another (unanswered requests count as failures)."""
        import select
        attacker = self.ip()
        t0 = time.time()
        pending = self.at_once([request("pop3", attacker, "alice@example.test", "guess-%d" % i)
                                for i in range(5)])
        times = []
        while pending and time.time() < t0 + 10:
            ready, _, _ = select.select(pending, [], [], 1)
            for s in ready:
                self.assertEqual(s.recv(64), b"fail\n")
                times.append(time.time() - t0)
                pending.remove(s)
        self.assertEqual(len(times), 5)
        self.assertLess(times[2], 0.9, times)
        self.assertGreaterEqual(times[3], 0.9, times)
        self.assertGreaterEqual(times[4], 2.8, times)
        line = "ip=%s user=alice@example.test reason=password" % attacker
        self.assertTrue(self.m.wait_for(lambda: self.m.log("authd").count(line) == 5, 5),
                        "all five verified, in turn")

    def test_one_ip_cannot_fill_the_waiting_table(self):
        """docs/auth.md "Limits": at most 16 requests from one IP wait at once; its extras are
        failed at once (reason=busy, or reason=throttled once the unanswered ones, counted as
        failures, would make it wait over 20 s) and other clients are still answered without
        delay."""
        import select
        attacker = self.ip()
        for i in range(5):      # five free failures: from now on the IP waits 1 s more per try
            self.assertEqual(self.check("nobody%d@example.test" % i, "x", ip=attacker), b"fail\n")
        t0 = time.time()
        socks = self.at_once([request("pop3", attacker, "many%d@example.test" % i, "x")
                              for i in range(30)])
        quick = []
        pending = list(socks)
        while pending and time.time() < t0 + 0.7:
            ready, _, _ = select.select(pending, [], [], max(0, t0 + 0.7 - time.time()))
            for s in ready:
                quick.append(s.recv(64))
                pending.remove(s)
        self.assertGreaterEqual(len(quick), 14, "30 at once from one IP: 16 wait at most")
        self.assertEqual(quick, [b"fail\n"] * len(quick))
        self.assertTrue(pending, "some wait their turn")
        self.assertTrue(self.log_has("ip=%s user=many" % attacker))
        # the line waited for may be a verified guess's: the quick refusals' may follow it
        self.assertTrue(self.m.wait_for(lambda: "reason=busy" in self.m.log("authd")
                                        or "reason=throttled" in self.m.log("authd"), 5),
                        self.m.log("authd")[-2000:])
        # others are not held up, and the waiting ones are served in turn
        r, secs = self.ask(request("pop3", self.ip(), "alice@example.test", "Correct Horse 1"))
        self.assertEqual((r, secs < 0.9), (b"ok\n", True), secs)
        ready, _, _ = select.select(pending, [], [], 3)
        self.assertTrue(ready, "the first waiting request is answered after about 1 s")
        self.assertEqual(ready[0].recv(64), b"fail\n")

    def test_rebuilt_map_is_live(self):
        self.m.add_user("carol@example.test", "Old-pw-3")
        pid = self.m.pids("authd")[0]
        self.assertEqual(self.check("carol@example.test", "Old-pw-3"), b"ok\n")
        self.m.mailacct("passwd", "carol@example.test", "New-pw-4")
        self.assertEqual(self.check("carol@example.test", "New-pw-4"), b"ok\n")
        self.assertEqual(self.check("carol@example.test", "Old-pw-3"), b"fail\n")
        self.assertEqual(self.m.pids("authd")[0], pid, "authd was restarted")

    def test_disabled_account_fails(self):
        self.m.add_user("dave@example.test", "Dave-pw-5")
        self.assertEqual(self.check("dave@example.test", "Dave-pw-5"), b"ok\n")
        users = os.path.join(self.m.root, "etc", "users")
        lines = open(users).read().split("\n")
        for i, line in enumerate(lines):
            if line.startswith("dave@example.test:"):
                f = line.split(":")
                f[3] = "disabled" if not f[3] else f[3] + ",disabled"
                lines[i] = ":".join(f)
        with open(users, "w") as fh:
            fh.write("\n".join(lines))
        subprocess.run([self.m.bin("mkmaps"), "--root", self.m.root], check=True,
                       capture_output=True)
        ip = self.ip()
        self.assertEqual(self.check("dave@example.test", "Dave-pw-5", ip), b"fail\n")
        # mkmaps leaves a disabled account out of auth.cdb (reason=unknown); authd also checks
        # users.cdb's disabled=1 for a hash that is still there (reason=disabled)
        self.assertTrue(self.log_has("auth failed service=pop3 ip=%s user=dave@example.test" % ip))

    def set_disabled(self, addr, on):
        """The operator's way (docs/maps.md): the option `disabled` added to or removed from
        the account's line in etc/users; the maps are rebuilt by the caller."""
        users = os.path.join(self.m.root, "etc", "users")
        lines = open(users).read().split("\n")
        for i, line in enumerate(lines):
            if line.startswith(addr + ":"):
                f = line.split(":")
                opts = [o for o in f[3].split(",") if o and o != "disabled"]
                f[3] = ",".join(opts + (["disabled"] if on else []))
                lines[i] = ":".join(f)
        with open(users, "w") as fh:
            fh.write("\n".join(lines))

    @unittest.skipUnless(shutil.which("strace"), "strace not installed")
    def test_disabled_in_users_cdb_fails_even_with_a_hash(self):
        """users.cdb says disabled=1 while auth.cdb holds the hash: the maps a rebuild leaves
        when it is killed between the two (mkmaps writes auth.cdb, then users.cdb). The
        operator disabled erin, then enables her again, and that mkmaps is killed (SIGKILL, by
        strace at its rename onto users.cdb): authd must not let the login through."""
        addr, pw = "erin@example.test", "Erin-pw-6"
        self.m.add_user(addr, pw)
        self.assertEqual(self.check(addr, pw), b"ok\n")
        cdbdir = os.path.join(self.m.root, "cdb")

        def cdb_q(name):
            r = subprocess.run(["cdb", "-q", os.path.join(cdbdir, name), addr],
                               capture_output=True)
            return r.stdout if r.returncode == 0 else None
        self.set_disabled(addr, True)
        subprocess.run([self.m.bin("mkmaps"), "--root", self.m.root], check=True,
                       capture_output=True)
        self.assertIsNone(cdb_q("auth.cdb"), "a disabled account has no hash in auth.cdb")
        self.assertIn(b" disabled=1", cdb_q("users.cdb"))
        self.set_disabled(addr, False)
        # renames: nodes, homes, domains, routes, auth (5), users (6), aliases
        r = subprocess.run(["strace", "-qq", "-f", "-o", "/dev/null", "-e",
                            "trace=rename,renameat,renameat2", "-e",
                            "inject=rename,renameat,renameat2:signal=KILL:when=6",
                            self.m.bin("mkmaps"), "--root", self.m.root],
                           capture_output=True, text=True, env=self.m.env())
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(cdb_q("auth.cdb"), "the killed rebuild renamed auth.cdb into place")
        self.assertIn(b" disabled=1", cdb_q("users.cdb"), "and not users.cdb")
        ip = self.ip()
        self.assertEqual(self.check(addr, pw, ip), b"fail\n")
        self.assertTrue(self.log_has("ip=%s user=%s reason=disabled" % (ip, addr)))
        self.assertEqual(self.checkpw(b"erin@example.test\0Erin-pw-6\0\0")[0], 1)
        # the operator's next rebuild finishes the job: enabled again
        subprocess.run([self.m.bin("mkmaps"), "--root", self.m.root], check=True,
                       capture_output=True)
        self.assertNotIn(b"disabled", cdb_q("users.cdb"))
        self.assertEqual(self.check(addr, pw), b"ok\n")

    def test_map_missing_is_temporary(self):
        auth = os.path.join(self.m.root, "cdb", "auth.cdb")
        os.rename(auth, auth + ".away")
        try:
            ip = self.ip()
            self.assertEqual(self.check("alice@example.test", "Correct Horse 1", ip), b"temp\n")
            self.assertTrue(self.log_has("auth temporary failure service=pop3 ip=%s" % ip))
            if have("checkpw"):
                code, _, err = self.checkpw(b"alice@example.test\0Correct Horse 1\0\0")
                self.assertEqual(code, 111, err)
        finally:
            os.rename(auth + ".away", auth)
        self.assertEqual(self.check("alice@example.test", "Correct Horse 1"), b"ok\n")

    def test_sigkill_is_restarted_by_s6(self):
        old = self.m.pids("authd")[0]
        os.kill(old, signal.SIGKILL)
        self.assertTrue(self.m.wait_for(lambda: self.m.pids("authd")[:1] not in ([], [old]), 10))
        ok = self.m.wait_for(lambda: self.check("alice@example.test", "Correct Horse 1")
                             == b"ok\n", 10)
        self.assertTrue(ok, "authd does not answer after its restart")

    def test_killed_workers_are_replaced_and_logins_go_on(self):
        """The verifying workers are long-lived children of authd (docs/auth.md "How it
        works"); SIGKILL them all and authd forks new ones, and logins keep working."""
        self.assertEqual(self.check("alice@example.test", "Correct Horse 1"), b"ok\n")
        parent = self.m.pids("authd")[0]
        old = self.m.pids("authd")[1:]
        self.assertGreater(len(old), 0, "authd has no long-lived workers")
        # accounts that never logged in, so that their logins reach the new workers (a repeated
        # login would come from authd's cache)
        fresh = ["kw%d@example.test" % i for i in range(len(old) + 1)]
        for addr in fresh:
            self.m.add_user(addr, "Worker-pw-1")
        for pid in old:
            self.assertEqual(proc_name(pid), "authd")
            if IS_ROOT:
                self.assertEqual(proc_uid(pid), pwd.getpwnam("yubin-auth").pw_uid)
            os.kill(pid, signal.SIGKILL)

        def replaced():
            pids = self.m.pids("authd")
            return (pids[:1] == [parent] and len(pids) - 1 == len(old)
                    and not set(pids[1:]) & set(old))
        self.assertTrue(self.m.wait_for(replaced, 10),
                        "workers not replaced: %s, were %s" % (self.m.pids("authd"), old))
        self.assertTrue(self.log_has("ended; starting another"))
        for addr in fresh:
            self.assertEqual(self.check(addr, "Worker-pw-1"), b"ok\n")
        self.assertEqual(self.check("alice@example.test", "wrong"), b"fail\n")
        crypt = lambda: re.findall(r"auth ok service=\S+ ip=\S+ user=kw\d+@example\.test "
                                   r"via=crypt", self.m.log("authd"))
        self.assertTrue(self.m.wait_for(lambda: len(crypt()) == len(fresh), 10),
                        self.m.log("authd")[-2000:])
        self.assertEqual(self.m.pids("authd")[0], parent)

    # --- uids
    @unittest.skipUnless(IS_ROOT, "uids are only separate when started as root")
    def test_authd_runs_as_yubin_auth_and_alone_reads_hashes(self):
        pid = self.m.pids("authd")[0]
        self.assertEqual(proc_name(pid), "authd")
        self.assertEqual(proc_uid(pid), pwd.getpwnam("yubin-auth").pw_uid)
        auth = os.path.join(self.m.root, "cdb", "auth.cdb")
        self.assertTrue(can_open("yubin-auth", auth))
        for user in ("yubin-smtpd", "yubin-pop", "yubin-mbox"):
            self.assertFalse(can_open(user, auth), "%s can read auth.cdb" % user)

    # --- checkpw
    def checkpw(self, data, mode="classic", user="yubin-mbox", env=None, prog=None):
        """Run checkpw as user with data on fd 3 (classic) or on fd 2 (-s). Returns
        (exit code, stdout, what came back on fd 2)."""
        e = self.m.env()
        e["TCPREMOTEIP"] = self.ip()
        e.pop("YUBIN_ALLOW_ROOT", None)
        e.update(env or {})
        if prog is None:
            prog = ["sh", "-c", "echo PWD=$(pwd -P); env"]
        wrap = ["s6-setuidgid", user] if IS_ROOT and user else []
        if mode == "classic":
            p = subprocess.run(wrap + ["sh", "-c", 'exec "$0" "$@" 3<&0', self.m.bin("checkpw")]
                               + prog, input=data, env=e, capture_output=True, timeout=60)
            return p.returncode, p.stdout.decode(), p.stderr.decode()
        if mode == "nofd3":
            p = subprocess.run(wrap + [self.m.bin("checkpw")] + prog, env=e,
                               capture_output=True, timeout=60)
            return p.returncode, p.stdout.decode(), p.stderr.decode()
        a, b = socket.socketpair()
        try:
            p = subprocess.Popen(wrap + [self.m.bin("checkpw"), "-s"] + prog, env=e,
                                 stdout=subprocess.PIPE, stderr=b.fileno(),
                                 stdin=subprocess.DEVNULL)
            b.close()
            a.sendall(data)
            a.shutdown(socket.SHUT_WR)
            out = p.stdout.read().decode()
            code = p.wait(timeout=60)
            a.settimeout(5)
            log = b""
            while True:
                d = a.recv(4096)
                if not d:
                    break
                log += d
            return code, out, log.decode(errors="replace")
        finally:
            a.close()

    @staticmethod
    def envmap(out):
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    @unittest.skipUnless(have("checkpw"), "checkpw not built")
    def test_checkpw_classic(self):
        code, out, err = self.checkpw(b"Alice@example.test\0Correct Horse 1\0" b"1234\0")
        self.assertEqual(code, 0, err)
        env = self.envmap(out)
        maildir = self.m.maildir("alice@example.test")
        self.assertEqual(env["USER"], "alice@example.test")
        self.assertEqual(env["HOME"], os.path.dirname(maildir))
        self.assertEqual(env["MAILDIR"], maildir)
        self.assertEqual(env["PWD"], os.path.realpath(maildir))
        self.assertEqual(env["QUOTA"], str(50 * 1024 * 1024))
        self.assertEqual(env["PLAN"], "premium")
        self.assertEqual(env["POP3S"], "1")
        self.assertNotIn("POP3_PENDING", env)
        code, out, err = self.checkpw(b"bob@example2.test\0bob-Pw-2\0\0")
        self.assertEqual(code, 0, err)
        env = self.envmap(out)
        self.assertEqual((env["PLAN"], env["POP3S"], env["QUOTA"]),
                         ("basic", "0", str(20 * 1024 * 1024)))
        self.assertEqual(self.checkpw(b"alice@example.test\0wrong\0\0")[0], 1)
        self.assertEqual(self.checkpw(b"nobody@example.test\0wrong\0\0")[0], 1)
        self.assertEqual(self.checkpw(b"alice@example.test\0\0\0")[0], 1, "empty password")
        self.assertEqual(self.checkpw(b"alice@example.test")[0], 2, "no NUL")
        self.assertEqual(self.checkpw(b"a" * 600)[0], 2, "over 512 octets")
        self.assertEqual(self.checkpw(b"", mode="nofd3")[0], 2, "fd 3 closed")
        code, _, err = self.checkpw(b"alice@example.test\0Correct Horse 1\0\0", prog=[])
        self.assertEqual(code, 2, "no PROG")

    @unittest.skipUnless(have("checkpw"), "checkpw not built")
    def test_checkpw_pending_mode(self):
        pending = b"STAT\r\nLIST\r\n\x00\xff"
        code, out, log = self.checkpw(b"alice@example.test\0Correct Horse 1\0" + pending, "s")
        self.assertEqual(code, 0, log)
        env = self.envmap(out)
        self.assertEqual(env["USER"], "alice@example.test")
        self.assertEqual(bytes.fromhex(env["POP3_PENDING"]), pending)
        code, out, log = self.checkpw(b"alice@example.test\0Correct Horse 1\0", "s")
        self.assertEqual((code, self.envmap(out).get("POP3_PENDING")), (0, ""))
        # fd 2 stays the log for PROG
        code, out, log = self.checkpw(b"alice@example.test\0Correct Horse 1\0", "s",
                                      prog=["sh", "-c", "echo pop3d: info: hello >&2"])
        self.assertEqual(code, 0, log)
        self.assertIn("pop3d: info: hello", log)
        self.assertEqual(self.checkpw(b"alice@example.test\0bad\0STAT\r\n", "s")[0], 1)
        self.assertEqual(self.checkpw(b"alice@example.test", "s")[0], 2)
        self.assertEqual(self.checkpw(b"alice@example.test\0Correct Horse 1\0" + b"x" * 4097,
                                      "s")[0], 2, "over 4096 pending octets")

    @unittest.skipUnless(have("checkpw"), "checkpw not built")
    def test_checkpw_temporary_failures(self):
        # authd unreachable: a root whose run/ has no socket, with the real maps
        fake = tempfile.mkdtemp(prefix="yubin-noauthd-")
        try:
            os.chmod(fake, 0o755)
            os.symlink(os.path.join(self.m.root, "cdb"), os.path.join(fake, "cdb"))
            os.mkdir(os.path.join(fake, "run"))
            code, _, err = self.checkpw(b"alice@example.test\0Correct Horse 1\0\0",
                                        env={"YUBIN_ROOT": fake})
            self.assertEqual(code, 111, err)
            self.assertIn("authd", err)
        finally:
            shutil.rmtree(fake)
        code, _, err = self.checkpw(b"alice@example.test\0Correct Horse 1\0\0",
                                    env={"YUBIN_ROOT": ""})
        self.assertEqual(code, 111, "no YUBIN_ROOT")

    @unittest.skipUnless(have("checkpw") and IS_ROOT, "root only")
    def test_checkpw_refuses_root(self):
        code, _, err = self.checkpw(b"alice@example.test\0Correct Horse 1\0\0", user=None)
        self.assertEqual(code, 111)
        self.assertIn("root", err)
        # the single-user mode check: with YUBIN_ALLOW_ROOT=1 the same call works
        code, out, err = self.checkpw(b"alice@example.test\0Correct Horse 1\0\0", user=None,
                                      env={"YUBIN_ALLOW_ROOT": "1"})
        self.assertEqual(code, 0, err)
        self.assertEqual(self.envmap(out)["USER"], "alice@example.test")


@unittest.skipUnless(have("authd") and have("mailacct") and have("tlsd"),
                     "authd, mailacct or tlsd not built")
class AuthCacheTest(unittest.TestCase):
    """docs/auth.md "The cache": a repeated login with the same password against the same stored
    hash skips only the crypt(); everything else is checked every time. Real mail programs'
    logins: smtplib AUTH on 587 after STARTTLS, poplib USER/PASS on 110."""

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(prefix="yubin-authcache-")
        cls.m.start()
        cls.ctx = ssl.create_default_context(cafile=os.path.join(cls.m.root, "etc", "tls",
                                                                 "ca.pem"))
        cls.next_src = 0

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def src(self):
        """A fresh client address (127.0.8.N): each test's throttle counters are its own."""
        type(self).next_src += 1
        return "127.0.8.%d" % type(self).next_src

    def account(self, name, password):
        addr = "%s@example.test" % name
        self.m.add_user(addr, password)
        return addr

    def smtp_login(self, addr, password, src):
        """AUTH on 587 after STARTTLS as a mail program does it: True 235, False 535."""
        s = smtplib.SMTP("127.0.0.1", self.m.port("submission"), timeout=30,
                         source_address=(src, 0))
        try:
            s.starttls(context=self.ctx)
            s.ehlo("client.example")
            # AUTH PLAIN alone, as a configured mail program sends it (smtplib's login() would
            # try LOGIN as well after a 535: two failures where a user makes one)
            s.user, s.password = addr, password
            try:
                code, _ = s.auth("PLAIN", s.auth_plain)
            except smtplib.SMTPAuthenticationError as e:
                self.assertEqual(e.smtp_code, 535, e)
                self.assertTrue(e.smtp_error.startswith(b"5.7.8"), e)
                return False
            self.assertEqual(code, 235)
            # the session goes on as any authenticated one: a message to a local account
            s.sendmail(addr, [addr], "Subject: cached login\r\n\r\nhello\r\n")
            return True
        finally:
            s.close()

    def pop_login(self, addr, password):
        p = poplib.POP3("127.0.0.1", self.m.port("pop3"), timeout=30)
        try:
            p.user(addr)
            try:
                p.pass_(password)
            except poplib.error_proto as e:
                self.assertTrue(e.args[0].startswith(b"-ERR"), e)
                return False
            p.stat()
            p.quit()
            return True
        finally:
            p.close()

    def auth_lines(self, addr):
        return [l for l in self.m.log("authd").splitlines() if "user=%s " % addr in l + " "]

    def wait_lines(self, addr, n):
        """The authd log lines about addr, once there are n of them."""
        self.m.wait_for(lambda: len(self.auth_lines(addr)) >= n, 5)
        lines = self.auth_lines(addr)
        self.assertEqual(len(lines), n, lines)
        return lines

    def set_ttl(self, value):
        """An operator's change of AUTH_CACHE_TTL in etc/env, applied by restarting authd;
        the file is removed (the default) after the test."""
        path = os.path.join(self.m.root, "etc", "env", "AUTH_CACHE_TTL")

        def restore():
            if os.path.exists(path):
                os.unlink(path)
            self.m.restart("authd")
        self.addCleanup(restore)
        self.m.set_env("AUTH_CACHE_TTL", value)
        self.m.restart("authd")

    def ready_line_has(self, text):
        """The last ready line of authd (after a restart) holds text, within 5 s."""
        def last_ready():
            lines = [l for l in self.m.log("authd").splitlines() if "authd: info: ready" in l]
            return lines[-1] if lines else ""
        return self.m.wait_for(lambda: text in last_ready(), 5)

    def test_second_login_is_answered_from_the_cache(self):
        addr = self.account("cache1", "Cache-pw-1")
        src = self.src()
        self.assertTrue(self.smtp_login(addr, "Cache-pw-1", src))
        self.assertTrue(self.smtp_login(addr, "Cache-pw-1", src))
        lines = self.wait_lines(addr, 2)
        self.assertRegex(lines[0], r"auth ok service=smtp ip=%s user=%s via=crypt$" % (src, addr))
        self.assertRegex(lines[1], r"auth ok service=smtp ip=%s user=%s via=cache$" % (src, addr))
        # POP3 is its own entry: verified once, then from the cache
        self.assertTrue(self.pop_login(addr, "Cache-pw-1"))
        self.assertTrue(self.pop_login(addr, "Cache-pw-1"))
        lines = self.wait_lines(addr, 4)
        self.assertRegex(lines[2], r"auth ok service=pop3 ip=127.0.0.1 user=%s via=crypt$" % addr)
        self.assertRegex(lines[3], r"auth ok service=pop3 ip=127.0.0.1 user=%s via=cache$" % addr)
        self.assertTrue(self.m.wait_for(lambda: len(self.m.messages(addr)) == 2, 10),
                        "the two messages sent after AUTH were not delivered")
        self.assertNotIn("Cache-pw-1", self.m.log("authd"))

    def test_wrong_password_after_a_cached_success_fails_and_counts(self):
        addr = self.account("cache2", "Cache-pw-2")
        home, attacker = self.src(), self.src()
        self.assertTrue(self.smtp_login(addr, "Cache-pw-2", home))
        self.assertTrue(self.smtp_login(addr, "Cache-pw-2", home))
        self.assertIn("via=cache", self.wait_lines(addr, 2)[1])
        for i in range(3):      # the IP+account counter's three free failures
            self.assertFalse(self.smtp_login(addr, "Cache-pw-%d" % (i + 3), attacker))
        lines = self.wait_lines(addr, 5)
        for line in lines[2:]:
            self.assertRegex(line, r"auth failed service=smtp ip=%s user=%s reason=password$"
                             % (attacker, addr))
        # they counted: the next attempt from that IP waits 1 s before anything is checked,
        # even with the right (cached) password, which is then answered from the cache
        t = time.time()
        self.assertTrue(self.smtp_login(addr, "Cache-pw-2", attacker))
        self.assertGreaterEqual(time.time() - t, 0.9, "the failures did not count")
        self.assertIn("ip=%s user=%s via=cache" % (attacker, addr), self.wait_lines(addr, 6)[5])
        # the real user elsewhere never waits
        t = time.time()
        self.assertTrue(self.smtp_login(addr, "Cache-pw-2", home))
        self.assertLess(time.time() - t, 0.9)

    def test_passwd_refuses_the_old_password_at_once(self):
        addr = self.account("cache3", "Old-cache-pw")
        self.assertTrue(self.pop_login(addr, "Old-cache-pw"))
        self.assertTrue(self.pop_login(addr, "Old-cache-pw"))
        self.assertIn("via=cache", self.wait_lines(addr, 2)[1])
        self.m.mailacct("passwd", addr, "New-cache-pw")
        self.assertFalse(self.pop_login(addr, "Old-cache-pw"), "the old password still works")
        self.assertTrue(self.pop_login(addr, "New-cache-pw"))
        self.assertTrue(self.pop_login(addr, "New-cache-pw"))
        lines = self.wait_lines(addr, 5)
        self.assertRegex(lines[2], r"auth failed service=pop3 .* reason=password$")
        self.assertIn("via=crypt", lines[3])
        self.assertIn("via=cache", lines[4])
        # and over SMTP, where the old password had a cache entry of its own
        src = self.src()
        self.assertFalse(self.smtp_login(addr, "Old-cache-pw", src))
        self.assertTrue(self.smtp_login(addr, "New-cache-pw", src))

    def test_disabled_account_is_refused_with_a_cached_password(self):
        addr = self.account("cache4", "Cache-pw-4")
        src = self.src()
        self.assertTrue(self.smtp_login(addr, "Cache-pw-4", src))
        self.assertTrue(self.pop_login(addr, "Cache-pw-4"))
        self.assertTrue(self.smtp_login(addr, "Cache-pw-4", src))
        self.assertTrue(self.pop_login(addr, "Cache-pw-4"))
        self.assertEqual(sum("via=cache" in l for l in self.wait_lines(addr, 4)), 2)
        # the operator suspends the account: "disabled" in etc/users, then the maps rebuilt
        users = os.path.join(self.m.root, "etc", "users")
        with open(users) as f:
            lines = f.read().split("\n")
        for i, line in enumerate(lines):
            if line.startswith(addr + ":"):
                fields = line.split(":")
                fields[3] = "disabled" if not fields[3] else fields[3] + ",disabled"
                lines[i] = ":".join(fields)
        with open(users, "w") as f:
            f.write("\n".join(lines))
        subprocess.run([self.m.bin("mkmaps"), "--root", self.m.root], check=True,
                       capture_output=True)
        self.assertFalse(self.smtp_login(addr, "Cache-pw-4", src))
        self.assertFalse(self.pop_login(addr, "Cache-pw-4"))
        lines = self.wait_lines(addr, 6)
        for line in lines[4:]:
            self.assertIn("auth failed", line)
        # deleted accounts too
        addr = self.account("cache5", "Cache-pw-5")
        self.assertTrue(self.pop_login(addr, "Cache-pw-5"))
        self.assertTrue(self.pop_login(addr, "Cache-pw-5"))
        self.m.mailacct("del", addr)
        self.assertFalse(self.pop_login(addr, "Cache-pw-5"))
        self.assertRegex(self.wait_lines(addr, 3)[2], r"auth failed .* reason=unknown$")

    def test_ttl_zero_turns_the_cache_off(self):
        self.set_ttl(0)
        self.assertTrue(self.ready_line_has("cache=off"))
        # the restart: authd wiped its cache and left on SIGTERM
        self.assertTrue(self.m.wait_for(lambda: "authd: info: exiting on SIGTERM"
                                        in self.m.log("authd"), 5))
        addr = self.account("cache6", "Cache-pw-6")
        src = self.src()
        for _ in range(3):
            self.assertTrue(self.smtp_login(addr, "Cache-pw-6", src))
        for line in self.wait_lines(addr, 3):
            self.assertRegex(line, r"auth ok service=smtp .* via=crypt$")

    def test_an_expired_entry_is_verified_again(self):
        self.set_ttl(2)
        self.assertTrue(self.ready_line_has("cache=8192 ttl=2"))
        addr = self.account("cache7", "Cache-pw-7")
        self.assertTrue(self.pop_login(addr, "Cache-pw-7"))
        self.assertTrue(self.pop_login(addr, "Cache-pw-7"))
        time.sleep(2.2)
        self.assertTrue(self.pop_login(addr, "Cache-pw-7"))
        self.assertTrue(self.pop_login(addr, "Cache-pw-7"))
        vias = [l.rsplit("via=", 1)[-1] for l in self.wait_lines(addr, 4)]
        self.assertEqual(vias, ["crypt", "cache", "crypt", "cache"])


if __name__ == "__main__":
    unittest.main()
