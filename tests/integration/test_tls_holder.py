"""The TLS key holder (docs/tls.md "The key holder"): tlsd hands the bytes of etc/tls to
tlskeyd before it drops to yubin-tls and reads the network, so the process that talks to the
client holds no copy of the private key; tlskeyd (yubin-tlskey) signs the handshakes and
answers only root and the TLS uid."""
import os
import poplib
import pwd
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from harness import MailRoot, IS_ROOT, have, openssl, port_open, proc_name, proc_ppid, proc_uid
from test_tls_keys import starttls_454_then_plain


def key_lines(path):
    """The base64 body lines of a PEM private key (64 characters each but the last)."""
    with open(path, "rb") as f:
        return [ln.strip() for ln in f if len(ln.strip()) == 64 and not ln.startswith(b"-----")]


def memory_has(pid, needles):
    """Whether any needle is in the writable memory of pid (read as root via /proc/PID/mem)."""
    with open("/proc/%d/maps" % pid) as f:
        maps = f.read().splitlines()
    with open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            if "w" not in perms:
                continue
            lo, hi = (int(x, 16) for x in addr.split("-"))
            if hi - lo > MAPPING_MAX:
                continue    # ASan's shadow (terabytes, under make check); tlsd has no such heap
            overlap = max(len(n) for n in needles)
            tail = b""
            for at in range(lo, hi, CHUNK):
                try:
                    mem.seek(at)
                    data = tail + mem.read(min(CHUNK, hi - at))
                except (OSError, ValueError, OverflowError):
                    break
                if any(n in data for n in needles):
                    return True
                tail = data[-overlap:]
    return False


MAPPING_MAX = 1 << 30   # bytes: larger writable mappings are not a process's own data
CHUNK = 16 << 20        # bytes read at once


@unittest.skipUnless(IS_ROOT and have("tlsd") and have("tlskeyd") and have("smtpd"),
                     "needs root, tlsd, tlskeyd and smtpd")
class KeyHolderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot.shared()
        for name in ("smtp", "submission"):
            cls.m.wait_for(lambda: port_open(cls.m.port(name)), timeout=15)
        cls.tlsdir = os.path.join(cls.m.root, "etc", "tls")

    def session_tlsd(self, service):
        """The tlsd serving our newest connection to service: a tlsd under it whose parent is
        tcpserver (its child smtpd has the greeting written by now)."""
        found = []
        for pid in self.m.pids(service):
            if proc_name(pid) == "tlsd" and proc_name(proc_ppid(pid)) == "tcpserver":
                found.append(pid)
        self.assertTrue(found, "no tlsd under the %s service" % service)
        return max(found)

    def test_session_tlsd_holds_no_private_key(self):
        """Port 587: before STARTTLS (the key's bytes were read at connect) and after the
        handshake, the memory of the yubin-tls process in front of smtpd contains no line of
        server.key."""
        needles = key_lines(os.path.join(self.tlsdir, "server.key"))
        self.assertTrue(needles, "server.key has base64 lines")
        s = socket.create_connection(("127.0.0.1", self.m.port("submission")), timeout=10)
        try:
            f = s.makefile("rb")
            self.assertTrue(f.readline().startswith(b"220"))
            pid = self.session_tlsd("submission")
            self.assertNotEqual(proc_uid(pid), 0, "tlsd dropped root before reading the network")
            self.assertFalse(memory_has(pid, needles),
                             "the network-facing tlsd holds the private key before STARTTLS")
            s.sendall(b"EHLO client.example.net\r\n")
            while f.readline()[3:4] == b"-":
                pass
            s.sendall(b"STARTTLS\r\n")
            self.assertTrue(f.readline().startswith(b"220"))
            c = ssl.create_default_context(cafile=os.path.join(self.tlsdir, "ca.pem"))
            c.check_hostname = False
            t = c.wrap_socket(s, server_hostname="localhost")
            t.sendall(b"EHLO client.example.net\r\n")
            self.assertTrue(t.recv(512).startswith(b"250"))
            self.assertFalse(memory_has(pid, needles),
                             "the network-facing tlsd holds the private key after the handshake")
            t.sendall(b"QUIT\r\n")
            t.recv(512)
            t.close()
        finally:
            s.close()

    def test_port25_starttls_child_is_tls_uid_without_the_key(self):
        """Port 25 has no tlsd per connection: at STARTTLS smtpd asks the STARTTLS service
        (tlsd -S), whose loop runs as root and never reads a key file. Between smtpd's
        "220 Ready to start TLS" and our ClientHello, the child the loop forked for us has
        read the key files, handed them to tlskeyd and dropped to yubin-tls: its uids are
        all yubin-tls and neither it nor the loop holds a line of server.key. The handshake
        then completes and smtpd speaks TLS."""
        import pwd
        tls = pwd.getpwnam("yubin-tls")
        needles = key_lines(os.path.join(self.tlsdir, "server.key"))
        loops = [p for p in self.m.pids("starttls")
                 if proc_name(p) == "tlsd" and proc_name(proc_ppid(p)) == "s6-supervise"]
        self.assertEqual(len(loops), 1, "the STARTTLS service's loop")
        loop = loops[0]
        self.assertEqual(proc_uid(loop), 0)
        s = socket.create_connection(("127.0.0.1", self.m.port("smtp")), timeout=10)
        try:
            f = s.makefile("rb")
            self.assertTrue(f.readline().startswith(b"220"))
            self.assertFalse([p for p in self.m.pids("smtp") if proc_name(p) == "tlsd"],
                             "no tlsd in front of port 25's smtpd")
            s.sendall(b"EHLO client.example.net\r\n")
            lines = [f.readline()]
            while lines[-1][3:4] == b"-":
                lines.append(f.readline())
            self.assertIn(b"STARTTLS", [ln[4:].strip() for ln in lines])
            s.sendall(b"STARTTLS\r\n")
            self.assertTrue(f.readline().startswith(b"220 2.0.0"))
            children = [p for p in self.m.pids("starttls")
                        if proc_name(p) == "tlsd" and proc_ppid(p) == loop]
            self.assertEqual(len(children), 1, "one child of the loop for our STARTTLS")
            with open("/proc/%d/status" % children[0]) as st:
                uids = [ln.split()[1:] for ln in st if ln.startswith("Uid:")][0]
            self.assertEqual(uids, [str(tls.pw_uid)] * 4, "the child dropped to yubin-tls")
            self.assertFalse(memory_has(children[0], needles), "the child holds the key")
            self.assertFalse(memory_has(loop, needles), "the loop holds the key")
            c = ssl.create_default_context(cafile=os.path.join(self.tlsdir, "ca.pem"))
            c.check_hostname = False
            t = c.wrap_socket(s, server_hostname="localhost")
            t.sendall(b"EHLO client.example.net\r\n")
            self.assertTrue(t.recv(512).startswith(b"250"))
            t.sendall(b"QUIT\r\n")
            t.recv(512)
            t.close()
        finally:
            s.close()

    def test_holder_runs_as_its_uid_and_answers_only_tls(self):
        """tlskeyd runs as yubin-tlskey; yubin-smtpd is refused without an answer."""
        import pwd
        holders = [p for p in self.m.pids("tlskeyd") if proc_name(p) == "tlskeyd"]
        self.assertTrue(holders, "tlskeyd is not running")
        self.assertEqual(proc_uid(holders[0]), pwd.getpwnam("yubin-tlskey").pw_uid)
        sock = os.path.join(self.m.root, "run", "tlskey.sock")
        smtpd = pwd.getpwnam("yubin-smtpd")
        probe = ("import socket,sys\ns=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
                 "try:\n s.sendall(b'C\\0\\0\\0\\x20' + bytes(32)); s.settimeout(5)\n"
                 " print(repr(s.recv(100)))\n"
                 "except (BrokenPipeError, ConnectionResetError):\n print(repr(b''))\n")
        r = subprocess.run(["setpriv", "--reuid", str(smtpd.pw_uid), "--regid",
                            str(smtpd.pw_gid), "--clear-groups", "python3", "-c", probe, sock],
                           capture_output=True, text=True, timeout=20)
        self.assertIn("b''", r.stdout + r.stderr, "yubin-smtpd got an answer: %s" % r.stdout)
        line = "tlskeyd: warning: refused a connection from uid %d" % smtpd.pw_uid
        self.assertTrue(self.m.wait_for(lambda: line in self.m.log("tlskeyd"), 10),
                        self.m.log("tlskeyd")[-1000:])
        self.assertTrue(re.search(r"tlskeyd: info: folder \S+/etc/tls: ok", self.m.log("tlskeyd")))


def s_client(args, data=b"QUIT\r\n"):
    """openssl s_client with data, waiting for the server to close; the output as text."""
    return openssl(args, data)[1]


@unittest.skipUnless(IS_ROOT and have("tlsd") and have("tlskeyd") and have("smtpd")
                     and have("pop3-front"), "needs root, tlsd, tlskeyd, smtpd and pop3-front")
class HandshakeCrowdTest(unittest.TestCase):
    """Clients that open 465 and never send a ClientHello (300 of them: more than tlskeyd once
    had room for) must not shut the customers of every TLS port out. A tlsd connects to
    tlskeyd only when its handshake needs it (a session lookup, the signature; the chains came
    with the answer to the folder), so the crowd holds no tlskeyd connection at all; and
    tlskeyd has room for all the sessions the ports may hold at once. A private tree: the
    crowd would slow the shared one's other tests."""

    CROWD = 300

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(prefix="yubin-tlscrowd-")
        cls.m.start()
        for name in ("pop3s", "submissions"):
            cls.m.wait_for(lambda: port_open(cls.m.port(name)), timeout=15)
        cls.ca = os.path.join(cls.m.root, "etc", "tls", "ca.pem")
        cls.m.add_user("crowd@example.test", "Crowd-pw-1")

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def holder_connections(self):
        pid = [p for p in self.m.pids("tlskeyd") if proc_name(p) == "tlskeyd"][0]
        n = 0
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                n += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:")
            except FileNotFoundError:
                pass        # closed while we looked
        return n

    def test_stalled_handshakes_leave_room_for_customers(self):
        crowd = []
        self.addCleanup(lambda: [c.close() for c in crowd])
        for i in range(self.CROWD):
            c = socket.socket()
            c.bind(("127.0.5.%d" % (1 + i // 10), 0))
            c.connect(("127.0.0.1", self.m.port("submissions")))
            crowd.append(c)        # connected, no ClientHello: tlsd waits for it
        waiting = lambda: len([p for p in self.m.pids("submissions") if proc_name(p) == "tlsd"])
        self.assertTrue(self.m.wait_for(lambda: waiting() >= self.CROWD, 30),
                        "%d tlsd processes wait for a ClientHello" % waiting())
        self.assertLess(self.holder_connections(), 20,
                        "tlskeyd holds a connection per stalled handshake")
        ctx = ssl.create_default_context(cafile=self.ca)
        p = poplib.POP3_SSL("127.0.0.1", self.m.port("pop3s"), context=ctx, timeout=10)
        p.user("crowd@example.test")
        self.assertTrue(p.pass_("Crowd-pw-1").startswith(b"+OK"))
        self.assertEqual(p.stat(), (0, 0))
        p.quit()
        s = smtplib.SMTP_SSL("127.0.0.1", self.m.port("submissions"), context=ctx, timeout=10)
        self.assertEqual(s.ehlo("client.example.net")[0], 250)
        self.assertEqual(s.login("crowd@example.test", "Crowd-pw-1")[0], 235)
        s.quit()
        room = self.m.wait_for(lambda: re.search(r"room for (\d+) handshakes at once",
                                                 self.m.log("tlskeyd")), 10)
        self.assertTrue(room, self.m.log("tlskeyd")[-1000:])
        self.assertEqual(int(room.group(1)), 4 * 1000 + 2 * 100 + 400, "the ports' defaults")


@unittest.skipUnless(have("tlsd") and have("tlskeyd") and have("pop3-front")
                     and have("smtpd"), "needs tlsd, tlskeyd, pop3-front and smtpd")
class SessionResumptionTest(unittest.TestCase):
    """A client that comes back with the session ID of an earlier session resumes it: no
    certificate, no signature, no key exchange (docs/tls.md "Session resumption"). tlskeyd
    keeps the sessions; a private tree, since tlskeyd is restarted and reconfigured."""

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot()
        cls.m.start()
        for name in ("pop3s", "submission"):
            cls.m.wait_for(lambda: port_open(cls.m.port(name)), timeout=15)
        cls.ca = os.path.join(cls.m.root, "etc", "tls", "ca.pem")

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def setUp(self):
        d = tempfile.mkdtemp(prefix="tlssess-")
        self.addCleanup(shutil.rmtree, d, True)
        self.sess = os.path.join(d, "session.pem")

    def pop3s(self, sess_flag, name="localhost"):
        return s_client(["-connect", "127.0.0.1:%d" % self.m.port("pop3s"), "-CAfile", self.ca,
                         "-verify_return_error", "-servername", name, sess_flag, self.sess])

    def resumed_lines(self):
        return self.m.log("pop3s").count(" resumed\n")

    def test_mail_program_resumes_pop3s(self):
        """Python's ssl as a mail program uses it: the second connection offers the first's
        session and gets it back, POP3 works inside it, and tlsd's log line says so."""
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        before = self.resumed_lines()
        session = None
        for i in range(3):
            raw = socket.create_connection(("127.0.0.1", self.m.port("pop3s")), timeout=10)
            t = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
            try:
                f = t.makefile("rb")
                self.assertTrue(f.readline().startswith(b"+OK"))
                t.sendall(b"QUIT\r\n")
                self.assertTrue(f.readline().startswith(b"+OK"))
                self.assertEqual(t.session_reused, i > 0, "connection %d" % i)
                session = t.session
            finally:
                t.close()
        self.assertTrue(self.m.wait_for(lambda: self.resumed_lines() == before + 2, 10),
                        self.m.log("pop3s")[-1500:])

    def test_starttls_submission_resumes(self):
        """587 after STARTTLS: the second session is resumed, and SMTP goes on inside it. Each
        handshake has one log line, smtpd's (it took the session over from tlsd), naming the
        SMTP session, the server name and the resumption."""
        def tls_lines():
            log = self.m.log("submission")
            return ([x for x in log.splitlines() if "smtpd: info: tls ip=" in x],
                    [x for x in log.splitlines() if "tlsd: info: tls ip=" in x])
        args = ["-connect", "127.0.0.1:%d" % self.m.port("submission"), "-starttls", "smtp",
                "-CAfile", self.ca, "-verify_return_error", "-servername", "localhost"]
        before = tls_lines()
        first = s_client(args + ["-sess_out", self.sess], b"EHLO client.example.net\r\nQUIT\r\n")
        self.assertIn("New, TLSv1.2", first)
        again = s_client(args + ["-sess_in", self.sess], b"EHLO client.example.net\r\nQUIT\r\n")
        self.assertIn("Reused, TLSv1.2", again)
        self.assertIn("AUTH PLAIN", again.split("Reused")[-1], "EHLO answered inside the session")
        self.assertIn("221", again)
        self.assertTrue(self.m.wait_for(lambda: len(tls_lines()[0]) == len(before[0]) + 2, 10),
                        tls_lines()[0][-3:])
        smtpd, tlsd = tls_lines()
        new = smtpd[len(before[0]):]
        self.assertRegex(new[0], r"tls ip=127\.0\.0\.1 session=\S+ protocol=TLSv1\.2 "
                                 r"cipher=\S+ sni=localhost$")
        self.assertRegex(new[1], r"session=\S+ .* sni=localhost resumed$")
        self.assertEqual(tlsd, before[1], "tlsd logs no second line for these handshakes")

    def test_other_server_name_is_refused(self):
        """A session made for one server name does not resume under another (RFC 6066 §3):
        the connection ends before the greeting, and the log says why."""
        self.assertIn("New, TLSv1.2", self.pop3s("-sess_out"))
        out = self.pop3s("-sess_in", name="other.example.test")
        self.assertNotIn("+OK", out)
        line = "the client resumed a TLS session made for another server name"
        self.assertTrue(self.m.wait_for(lambda: line in self.m.log("pop3s"), 10))
        self.assertIn("Reused, TLSv1.2", self.pop3s("-sess_in"), "the right name still works")

    def test_forgotten_session_means_a_full_handshake(self):
        """After tlskeyd restarts, or with TLS_SESSION_TTL=0, an offered session is unknown:
        a full handshake instead, and POP3 works."""
        self.assertIn("New, TLSv1.2", self.pop3s("-sess_out"))
        self.m.restart("tlskeyd")
        out = self.pop3s("-sess_in")
        self.assertIn("New, TLSv1.2", out)
        self.assertEqual(out.count("+OK"), 2, out[-1500:])
        setting = os.path.join(self.m.root, "etc", "env", "TLS_SESSION_TTL")
        with open(setting) as f:
            self.assertEqual(f.read().strip(), "3600", "yubin-setup wrote the default")
        self.m.set_env("TLS_SESSION_TTL", "0")
        try:
            self.m.restart("tlskeyd")
            self.assertTrue(self.m.wait_for(
                lambda: "ready; TLS sessions kept 0 s" in self.m.log("tlskeyd"), 10))
            self.assertIn("New, TLSv1.2", self.pop3s("-sess_out"))
            out = self.pop3s("-sess_in")
            self.assertIn("New, TLSv1.2", out)
            self.assertEqual(out.count("+OK"), 2, out[-1500:])
        finally:
            self.m.set_env("TLS_SESSION_TTL", "3600")
            self.m.restart("tlskeyd")
        self.assertIn("New, TLSv1.2", self.pop3s("-sess_out"))
        self.assertIn("Reused, TLSv1.2", self.pop3s("-sess_in"), "on again with the default")


@unittest.skipUnless(IS_ROOT and have("tlsd") and have("tlskeyd") and have("smtpd")
                     and have("mailacct"), "needs root, tlsd, tlskeyd, smtpd and mailacct")
class StartTlsServiceTest(unittest.TestCase):
    """Port 25's STARTTLS service (docs/tls.md "The STARTTLS service"): what a client sees
    when it is down, and whom it serves. A private tree: one test stops the service."""

    USER, PASSWORD = "st@example.test", "st-Secret-42"

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot()
        cls.m.start()
        cls.m.wait_for(lambda: port_open(cls.m.port("smtp")), timeout=15)
        cls.m.add_user(cls.USER, cls.PASSWORD)
        cls.sock = os.path.join(cls.m.root, "run", "starttls.sock")
        cls.tlsdir = os.path.join(cls.m.root, "etc", "tls")

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def ctx(self):
        c = ssl.create_default_context(cafile=os.path.join(self.tlsdir, "ca.pem"))
        c.check_hostname = False
        return c

    def test_service_down_means_454_and_mail_still_accepted(self):
        """With the STARTTLS service stopped, STARTTLS on port 25 gets 454 4.7.0 (RFC 3207
        §4), the session goes on in plaintext without STARTTLS on offer and its mail is
        delivered (starttls_454_then_plain); smtpd's log says whom it could not ask. Started
        again, the next session's STARTTLS works."""
        sdir = os.path.join(self.m.root, "service", "starttls")
        subprocess.run(["s6-svc", "-d", sdir], check=True)
        try:
            subprocess.run(["s6-svwait", "-D", "-t", "10000", sdir], check=True)
            starttls_454_then_plain(self, self.m, self.USER)
            line = "tls unavailable ip=127.0.0.1 session="
            self.assertTrue(self.m.wait_for(
                lambda: line in self.m.log("smtp") and "unable to ask %s" % self.sock
                in self.m.log("smtp")), self.m.log("smtp")[-2000:])
        finally:
            subprocess.run(["s6-svc", "-u", sdir], check=True)
            subprocess.run(["s6-svwait", "-U", "-t", "10000", sdir], check=True)
        s = smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=20)
        try:
            s.starttls(context=self.ctx())
            self.assertEqual(s.sock.version(), "TLSv1.2")
            code, _ = s.ehlo("client.example.net")
            self.assertEqual(code, 250)
        finally:
            s.quit()

    def ask_as(self, user, *args):
        """Send REQUEST with args as user; its stdout is the answer's repr."""
        pw = pwd.getpwnam(user)
        return subprocess.run(["setpriv", "--reuid", str(pw.pw_uid), "--regid", str(pw.pw_gid),
                               "--clear-groups", "python3", "-c", self.REQUEST, self.sock]
                              + list(args), capture_output=True, text=True, timeout=30)

    # one ipcfd request (netstring of NUL-ended arguments) with three fds: a socket of a
    # socketpair as the "connection", a control socketpair and a pipe; prints the status line
    REQUEST = (
        "import os, socket, sys\n"
        "args = sys.argv[2:]\n"
        "payload = b''.join(a.encode() + b'\\0' for a in args)\n"
        "req = str(len(payload)).encode() + b':' + payload + b','\n"
        "net, _peer = socket.socketpair()\n"
        "ctl, _ctl = socket.socketpair()\n"
        "r, w = os.pipe()\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "s.connect(sys.argv[1])\n"
        "s.settimeout(20)\n"
        "try:\n"
        "    socket.send_fds(s, [req], [net.fileno(), _ctl.fileno(), w])\n"
        "    print(repr(s.recv(100)))\n"
        "except (BrokenPipeError, ConnectionResetError):\n"
        "    print(repr(b''))\n")

    def test_silent_caller_is_let_go_after_the_idle_timeout(self):
        """tlsd -S started by hand the way the run script starts it, with an idle timeout of
        1 s: a caller that sends its request and then neither asks ('?') nor starts ('Y')
        nor closes does not hold a slot of the loop for ever. The request's child ends after
        the timeout (the control channel reaches EOF, status 0) and says why."""
        tls = pwd.getpwnam("yubin-tls")
        d = tempfile.mkdtemp(prefix="yubin-st-")
        self.addCleanup(shutil.rmtree, d, True)
        sock = os.path.join(d, "starttls.sock")
        p = subprocess.Popen(["s6-ipcserver-socketbinder", sock, self.m.bin("tlsd"), "-S",
                              "-T", "1", "-d", self.tlsdir, "-u",
                              "%d:%d" % (tls.pw_uid, tls.pw_gid)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=dict(os.environ, IPCFD_PEERS="0"))
        err = ""
        try:
            self.assertEqual(p.stdout.readline(), b"\n", "the loop's readiness line")
            net, peer = socket.socketpair()
            ctl, theirs = socket.socketpair()
            r, w = os.pipe()
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock)
            payload = b"starttls\x00192.0.2.9\x00"
            socket.send_fds(s, [b"%d:%s," % (len(payload), payload)],
                            [peer.fileno(), theirs.fileno(), w])
            for f in (peer, theirs):
                f.close()
            os.close(w)
            ctl.settimeout(15)
            start = time.monotonic()
            self.assertEqual(ctl.recv(1), b"", "the child closed the control channel")
            waited = time.monotonic() - start
            self.assertGreater(waited, 0.8)
            self.assertLess(waited, 10)
            s.settimeout(10)
            self.assertEqual(s.recv(16), b"0\n")
            for f in (s, ctl, net):
                f.close()
            os.close(r)
        finally:
            p.terminate()
            err = p.communicate(timeout=10)[1].decode()
        self.assertIn("tlsd: warning: ip=192.0.2.9: smtpd neither started TLS nor closed the "
                      "control channel in 1 s", err)

    def test_only_smtpd_may_ask(self):
        """The loop runs as root, so it serves smtpd's uid alone: a yubin-pop process that
        connects is refused before a byte is read (no status, one log line)."""
        pop = pwd.getpwnam("yubin-pop")
        r = self.ask_as("yubin-pop", "starttls", "127.0.0.1")
        self.assertEqual(r.stdout.strip(), "b''", r.stderr)
        line = "tlsd: warning: refused a connection from uid %d" % pop.pw_uid
        self.assertTrue(self.m.wait_for(lambda: line in self.m.log("starttls")),
                        self.m.log("starttls")[-2000:])

    def test_malformed_request_refused(self):
        """smtpd's uid with arguments that are not "starttls IP" (a space and a '!' in the IP:
        it would land in a log line) gets status 100 and nothing else: no key is read, no
        handshake is tried; the service's log says why."""
        r = self.ask_as("yubin-smtpd", "starttls", "bad ip!")
        self.assertEqual(r.stdout.strip(), "b'100\\n'", r.stderr)
        line = 'tlsd: warning: refused a STARTTLS request that is not "starttls IP"'
        self.assertTrue(self.m.wait_for(lambda: line in self.m.log("starttls")),
                        self.m.log("starttls")[-2000:])


if __name__ == "__main__":
    unittest.main()
