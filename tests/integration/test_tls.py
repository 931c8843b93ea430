"""TLS through tlsd (docs/tls.md): implicit TLS on 995/465, STARTTLS/STLS on 25/587/110 via
UCSPI-TLS, TLS 1.2 + ECDHE/AEAD only, STARTTLS injection, broken clients, SNI, key and uid
separation, and the certificate checks that keep a bad certificate out of service."""
import base64
import os
import poplib
import pwd
import random
import select
import shutil
import smtplib
import socket
import ssl
import string
import subprocess
import tempfile
import time
import unittest

from harness import (MailRoot, IS_ROOT, have, proc_uid, proc_name, proc_ppid, can_open,
                     port_open, openssl)

AEAD = {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"}
USER, PASSWORD = "tlsuser@example.test", "tls-Secret-7"
HUSER, HPASSWORD = "handoff@example.test", "handoff-Secret-8"


def make_cert(tlsdir, name, cn, days=30, expired=False, key_from=None, start=None):
    """Write tlsdir/NAME.pem + NAME.key: a P-256 certificate for cn signed by the demo CA
    (ROOT/etc/tls/ca.*), optionally already expired or valid only from start (a Unix time),
    optionally with another pair's key."""
    ca = os.path.join(tlsdir, "ca.pem")
    cakey = os.path.join(tlsdir, "ca.key")
    work = tempfile.mkdtemp(prefix="tlscert-")
    try:
        key = os.path.join(work, "k")
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", key], check=True, capture_output=True)
        subprocess.run(["openssl", "req", "-new", "-key", key, "-subj", "/CN=" + cn, "-out",
                        os.path.join(work, "csr")], check=True, capture_output=True)
        with open(os.path.join(work, "ext"), "w") as f:
            f.write("subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\n" % cn)
        if expired or start:
            # openssl ca can set explicit dates; x509 -req cannot
            for d in ("db",):
                os.mkdir(os.path.join(work, d))
            open(os.path.join(work, "db", "index"), "w").close()
            with open(os.path.join(work, "db", "serial"), "w") as f:
                f.write("1000\n")
            with open(os.path.join(work, "cnf"), "w") as f:
                f.write("[ca]\ndefault_ca=d\n[d]\ndatabase=%s/db/index\nnew_certs_dir=%s/db\n"
                        "serial=%s/db/serial\ndefault_md=sha256\npolicy=p\n[p]\n"
                        "commonName=supplied\n" % (work, work, work))
            subprocess.run(["openssl", "ca", "-batch", "-config", os.path.join(work, "cnf"),
                            "-cert", ca, "-keyfile", cakey, "-in", os.path.join(work, "csr"),
                            "-startdate", time.strftime("%Y%m%d%H%M%SZ", time.gmtime(start))
                            if start else "20200101000000Z",
                            "-enddate", "20300101000000Z" if start else "20200201000000Z",
                            "-extfile", os.path.join(work, "ext"),
                            "-notext", "-out", os.path.join(work, "crt")],
                           check=True, capture_output=True)
        else:
            subprocess.run(["openssl", "x509", "-req", "-in", os.path.join(work, "csr"), "-CA",
                            ca, "-CAkey", cakey, "-set_serial", str(int(time.time() * 1000)),
                            "-days", str(days), "-extfile", os.path.join(work, "ext"), "-out",
                            os.path.join(work, "crt")], check=True, capture_output=True)
        if key_from:
            shutil.copy(key_from, key)
        # replace atomically: write a temporary name, then rename (docs/tls.md)
        for src, ext in ((os.path.join(work, "crt"), ".pem"), (key, ".key")):
            tmp = os.path.join(tlsdir, "." + name + ext + ".tmp")
            shutil.copy(src, tmp)
            os.chmod(tmp, 0o600 if ext == ".key" else 0o644)
            os.rename(tmp, os.path.join(tlsdir, name + ext))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def read_line(sock):
    buf = b""
    while not buf.endswith(b"\n"):
        c = sock.recv(1)
        if not c:
            break
        buf += c
    return buf


def read_smtp_reply(sock):
    lines = []
    while True:
        line = read_line(sock)
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            return b"".join(lines)


def proc_ids(pid):
    """(uids, gids, groups) of a process from /proc/PID/status: real, effective, saved, fs;
    None once the process has ended (a session that closed between listing and reading)."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("Uid", "Gid", "Groups"):
                    out[key] = [int(x) for x in rest.split()]
    except OSError:     # FileNotFoundError, or ESRCH once it is being reaped
        return None
    return out["Uid"], out["Gid"], out["Groups"]


def proc_argv(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]


@unittest.skipUnless(have("tlsd"), "tlsd not built")
class TLSTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot.shared()
        cls.tlsdir = os.path.join(cls.m.root, "etc", "tls")
        cls.ca = os.path.join(cls.tlsdir, "ca.pem")
        for name in ("pop3s", "submissions", "pop3", "smtp", "submission"):
            cls.m.wait_for(lambda: port_open(cls.m.port(name)), timeout=15)
        if have("mailacct"):
            r = cls.m.mailacct("show", USER, check=False)
            if r.returncode != 0:
                cls.m.add_user(USER, PASSWORD)

    def ctx(self, **kw):
        c = ssl.create_default_context(cafile=self.ca)
        for k, v in kw.items():
            setattr(c, k, v)
        return c

    def tls_connect(self, service, server_hostname="localhost", ctx=None):
        raw = socket.create_connection(("127.0.0.1", self.m.port(service)), timeout=10)
        return (ctx or self.ctx()).wrap_socket(raw, server_hostname=server_hostname,
                                               suppress_ragged_eofs=False)

    # --- implicit TLS

    def test_pop3s_handshake_version_cipher_and_close_notify(self):
        s = self.tls_connect("pop3s")
        try:
            self.assertEqual(s.version(), "TLSv1.2")
            self.assertIn(s.cipher()[0], AEAD)
            self.assertTrue(read_line(s).startswith(b"+OK"))
            s.sendall(b"QUIT\r\n")
            self.assertTrue(read_line(s).startswith(b"+OK"))
            # a clean end: tlsd sends close_notify when pop3-front exits (RFC 8314 §3.4);
            # without it this recv raises SSLEOFError (suppress_ragged_eofs=False)
            self.assertEqual(s.recv(100), b"")
        finally:
            s.close()

    @unittest.skipUnless(have("pop3-front") and have("pop3d"), "pop3 not built")
    def test_pop3s_full_session(self):
        ctx = self.ctx()
        p = poplib.POP3_SSL("127.0.0.1", self.m.port("pop3s"), context=ctx, timeout=10)
        try:
            p.user(USER)
            p.pass_(PASSWORD)
            count, size = p.stat()
            self.assertGreaterEqual(count, 0)
            caps = p.capa()
            self.assertNotIn("STLS", caps, "STLS must not be offered inside TLS")
        finally:
            p.quit()
        # tlsd's line reaches the log through s6-log, a moment after the session
        self.assertTrue(self.m.wait_for(lambda: "protocol=TLSv1.2" in self.m.log("pop3s"), 10),
                        self.m.log("pop3s")[-2000:])

    @unittest.skipUnless(have("smtpd"), "smtpd not built")
    def test_submissions_full_session(self):
        s = smtplib.SMTP_SSL("localhost", self.m.port("submissions"), context=self.ctx(),
                             timeout=20)
        try:
            code, _ = s.ehlo("client.example.net")
            self.assertEqual(code, 250)
            self.assertTrue(s.has_extn("auth"), "AUTH offered on 465")
            self.assertFalse(s.has_extn("starttls"), "no STARTTLS inside implicit TLS")
            s.login(USER, PASSWORD)
            before = set(self.m.messages(USER))
            msg = ("From: %s\r\nTo: %s\r\nSubject: over 465\r\n\r\nhello over implicit TLS\r\n"
                   % (USER, USER))
            refused = s.sendmail(USER, [USER], msg)
            self.assertEqual(refused, {})
        finally:
            s.quit()
        # the files that were not there before (a POP3 session's move to cur/ renames old ones,
        # so the newest by list position need not be this message)
        got = self.m.wait_for(lambda: self.m.new_message_with(USER, before,
                                                              b"hello over implicit TLS"), 20)
        self.assertTrue(got, "the message sent over 465 was delivered")

    def test_ecdhe_groups_x25519_and_p256(self):
        """The ECDHE works with either curve a client may put first: X25519 through our
        tls/x25519.c (every mail program's first choice), P-256 through BearSSL's code. A
        wrong shared secret would fail the Finished messages; the QUIT is answered inside the
        session. (P-256 stays in the X25519 client's list: in TLS 1.2 the client checks the
        P-256 certificate's curve against the same list.)"""
        for group, temp in (("X25519:P-256", "X25519, 253 bits"),
                            ("P-256", "ECDH, prime256v1, 256 bits")):
            _, out = openssl(["-connect", "127.0.0.1:%d" % self.m.port("pop3s"), "-groups",
                              group, "-CAfile", self.ca, "-verify_return_error",
                              "-verify_hostname", "localhost"], b"QUIT\r\n")
            self.assertIn("Server Temp Key: " + temp, out, group)
            self.assertIn("Verify return code: 0 (ok)", out, group)
            self.assertEqual(out.count("+OK"), 2, "%s: greeting and QUIT answered\n%s"
                             % (group, out[-1500:]))

    # --- STARTTLS / STLS

    @unittest.skipUnless(have("smtpd"), "smtpd not built")
    def test_starttls_smtp_openssl(self):
        rc, out = openssl(["-connect", "127.0.0.1:%d" % self.m.port("smtp"), "-starttls",
                           "smtp", "-CAfile", self.ca, "-verify_return_error", "-verify_hostname",
                           "localhost"], b"EHLO client.example.net\r\nQUIT\r\n")
        self.assertIn("Verify return code: 0 (ok)", out)
        self.assertIn("Protocol  : TLSv1.2", out)
        self.assertIn("221", out)
        self.assertIn("AUTH", out.split("Verify return code")[-1])

    @unittest.skipUnless(have("smtpd"), "smtpd not built")
    def test_starttls_submission_session(self):
        s = smtplib.SMTP("127.0.0.1", self.m.port("submission"), timeout=20)
        try:
            s.ehlo("client.example.net")
            self.assertTrue(s.has_extn("starttls"))
            s.starttls(context=self.ctx(check_hostname=False))
            self.assertEqual(s.sock.version(), "TLSv1.2")
            self.assertIn(s.sock.cipher()[0], AEAD)
            s.ehlo("client.example.net")
            self.assertFalse(s.has_extn("starttls"), "STARTTLS not offered twice (RFC 3207 §4.2)")
            s.login(USER, PASSWORD)
        finally:
            s.quit()

    @unittest.skipUnless(have("smtpd") and shutil.which("swaks"), "smtpd or swaks missing")
    def test_swaks_starttls_submission(self):
        """The operator's test tool: swaks --tls on 587 (it needs Net::SSLeay, which make deps
        installs), AUTH inside TLS, and the message arrives."""
        mark = "swaks-tls-%d" % time.time_ns()
        before = len(self.m.messages(USER))
        r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port",
                            str(self.m.port("submission")), "--tls", "--tls-verify",
                            "--tls-ca-path", self.ca, "--tls-sni", "localhost",
                            "--ehlo", "client.example.net", "--auth", "PLAIN",
                            "--auth-user", USER, "--auth-password", PASSWORD,
                            "--from", USER, "--to", USER, "--header", "Subject: " + mark,
                            "--body", "hello from swaks over STARTTLS", "--timeout", "20"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-2000:])
        self.assertIn("TLS started with cipher TLSv1.2", r.stdout)
        self.assertRegex(r.stdout, r"~> AUTH PLAIN")         # "~>": sent inside TLS
        self.assertRegex(r.stdout, r"<~ *250 2\.0\.0 Ok: queued as ")
        got = self.m.wait_for(lambda: [p for p in self.m.messages(USER)[before:]
                                       if mark.encode() in open(p, "rb").read()], timeout=20)
        self.assertTrue(got, "the message sent by swaks was delivered")

    @unittest.skipUnless(have("pop3-front"), "pop3-front not built")
    def test_stls_pop3(self):
        rc, out = openssl(["-connect", "127.0.0.1:%d" % self.m.port("pop3"), "-starttls", "pop3",
                           "-CAfile", self.ca, "-verify_return_error"], b"CAPA\r\nQUIT\r\n")
        self.assertIn("Verify return code: 0 (ok)", out)
        self.assertIn("Protocol  : TLSv1.2", out)
        self.assertIn("+OK", out.split("Verify return code")[-1])
        p = poplib.POP3("127.0.0.1", self.m.port("pop3"), timeout=10)
        try:
            p.stls(context=self.ctx(check_hostname=False))
            self.assertEqual(p.sock.version(), "TLSv1.2")
            self.assertNotIn("STLS", p.capa())
            if have("pop3d"):
                p.user(USER)
                p.pass_(PASSWORD)
                p.stat()
        finally:
            p.quit()

    # --- versions and suites

    def test_old_versions_refused(self):
        for service in ("pop3s", "submissions"):
            for flag in ("-tls1", "-tls1_1"):
                rc, out = openssl(["-connect", "127.0.0.1:%d" % self.m.port(service), flag,
                                   "-cipher", "DEFAULT:@SECLEVEL=0"])
                self.assertNotEqual(rc, 0, "%s %s accepted:\n%s" % (service, flag, out))
                self.assertIn("Cipher is (NONE)", out)
        self.assertTrue(self.m.wait_for(lambda: "protocol_version" in self.m.log("pop3s"), 10),
                        self.m.log("pop3s")[-2000:])

    def test_non_aead_and_non_ecdhe_suites_refused(self):
        port = "127.0.0.1:%d" % self.m.port("pop3s")
        for suite in ("AES128-SHA", "AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA",
                      "ECDHE-ECDSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA"):
            rc, out = openssl(["-connect", port, "-tls1_2", "-cipher", suite + ":@SECLEVEL=0"])
            self.assertNotEqual(rc, 0, "%s accepted:\n%s" % (suite, out))
            self.assertIn("Cipher is (NONE)", out)
        for suite in ("ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES256-GCM-SHA384"):
            rc, out = openssl(["-connect", port, "-tls1_2", "-cipher", suite])
            self.assertIn("Cipher is " + suite, out)

    # --- injection and broken clients

    @unittest.skipUnless(have("smtpd"), "smtpd not built")
    def test_starttls_injection_smtp(self):
        """CVE-2011-0411: a command in the same packet as STARTTLS is neither answered in
        plaintext nor executed after the handshake."""
        raw = socket.create_connection(("127.0.0.1", self.m.port("smtp")), timeout=10)
        try:
            self.assertTrue(read_smtp_reply(raw).startswith(b"220"))
            raw.sendall(b"EHLO client.example.net\r\n")
            read_smtp_reply(raw)
            raw.sendall(b"STARTTLS\r\nNOOP\r\n")
            reply = read_smtp_reply(raw)
            self.assertTrue(reply.startswith(b"220"), reply)
            raw.settimeout(0.5)
            try:
                extra = raw.recv(100, socket.MSG_PEEK)
            except socket.timeout:
                extra = b""
            self.assertFalse(extra.startswith(b"250"), "NOOP answered in plaintext: %r" % extra)
            raw.settimeout(10)
            try:
                s = self.ctx(check_hostname=False).wrap_socket(raw)
            except (ssl.SSLError, OSError):
                return  # the injected bytes broke the handshake: the connection is closed
            s.sendall(b"EHLO again.example.net\r\n")
            first = read_smtp_reply(s)
            self.assertTrue(first.startswith(b"250-") or first.startswith(b"250 "), first)
            self.assertIn(b"again.example.net", first, "the first reply after TLS must answer "
                          "our EHLO, not the injected NOOP: %r" % first)
            s.close()
        finally:
            raw.close()

    @unittest.skipUnless(have("pop3-front"), "pop3-front not built")
    def test_stls_injection_pop3(self):
        raw = socket.create_connection(("127.0.0.1", self.m.port("pop3")), timeout=10)
        try:
            self.assertTrue(read_line(raw).startswith(b"+OK"))
            raw.sendall(b"STLS\r\nCAPA\r\n")
            self.assertTrue(read_line(raw).startswith(b"+OK"))
            raw.settimeout(0.5)
            try:
                extra = raw.recv(100, socket.MSG_PEEK)
            except socket.timeout:
                extra = b""
            self.assertEqual(extra[:3], extra[:3].replace(b"+OK", b"x"),
                             "CAPA answered in plaintext: %r" % extra)
            raw.settimeout(10)
            try:
                s = self.ctx(check_hostname=False).wrap_socket(raw)
            except (ssl.SSLError, OSError):
                return
            s.sendall(b"NOOP\r\n")      # NOOP is invalid before login: -ERR
            first = read_line(s)
            self.assertTrue(first.startswith(b"-ERR"), "injected CAPA executed after TLS: %r"
                            % first)
            s.close()
        finally:
            raw.close()

    def test_garbage_instead_of_client_hello(self):
        for service in ("pop3s", "submissions"):
            raw = socket.create_connection(("127.0.0.1", self.m.port(service)), timeout=10)
            raw.sendall(b"USER root\r\nGARBAGE GARBAGE GARBAGE\r\n" * 4)
            data = b""
            try:
                while True:
                    d = raw.recv(4096)
                    if not d:
                        break
                    data += d
            except ConnectionResetError:
                pass
            raw.close()
            self.assertNotIn(b"+OK", data)
            self.assertNotIn(b"220", data)
            # only that connection: a real client still gets in
            s = self.tls_connect(service)
            self.assertEqual(s.version(), "TLSv1.2")
            s.close()
        found = self.m.wait_for(lambda: "handshake failed ip=127.0.0.1 error=" in
                                self.m.log("pop3s"))
        self.assertTrue(found, self.m.log("pop3s")[-2000:])

    def test_handshake_timeout_is_bounded(self):
        # a client that connects and says nothing is closed by tlsd (-t, 30 s by default);
        # here we only check that tlsd does not answer in plaintext meanwhile
        raw = socket.create_connection(("127.0.0.1", self.m.port("pop3s")), timeout=1)
        try:
            with self.assertRaises(socket.timeout):
                raw.recv(10)
        finally:
            raw.close()

    # --- SNI

    def test_sni_selects_certificate(self):
        make_cert(self.tlsdir, "pop3.example.test", "pop3.example.test")
        try:
            s = self.tls_connect("pop3s", server_hostname="pop3.example.test")
            cn = dict(x[0] for x in s.getpeercert()["subject"])["commonName"]
            s.close()
            self.assertEqual(cn, "pop3.example.test")
            s = self.tls_connect("pop3s", server_hostname="localhost")
            cn = dict(x[0] for x in s.getpeercert()["subject"])["commonName"]
            s.close()
            self.assertEqual(cn, "mail.example.test", "other names get the default")
            # tlsd logs the session after the handshake, s6-log writes it a moment later
            self.m.wait_for(lambda: "sni=pop3.example.test" in self.m.log("pop3s"), 10)
            self.assertIn("sni=pop3.example.test", self.m.log("pop3s"))
        finally:
            for ext in (".pem", ".key"):
                os.unlink(os.path.join(self.tlsdir, "pop3.example.test" + ext))

    # --- uid separation

    @unittest.skipUnless(IS_ROOT, "uids are only real as root")
    def test_key_unreadable_by_daemon_uids(self):
        key = os.path.join(self.tlsdir, "server.key")
        for user in ("yubin-smtpd", "yubin-pop", "yubin-tls", "yubin-q", "yubin-mbox"):
            self.assertFalse(can_open(user, key), "%s can read the TLS key" % user)
        self.assertEqual(os.stat(key).st_mode & 0o077, 0)

    @unittest.skipUnless(IS_ROOT, "uids are only real as root")
    def test_tlsd_runs_as_tls_user(self):
        tls_uid = pwd.getpwnam("yubin-tls").pw_uid
        held = [self.tls_connect("pop3s")]
        if have("pop3-front"):
            raw = socket.create_connection(("127.0.0.1", self.m.port("pop3")), timeout=10)
            read_line(raw)
            raw.sendall(b"STLS\r\n")
            read_line(raw)
            held.append(self.ctx(check_hostname=False).wrap_socket(raw))
        try:
            read_line(held[0])
            time.sleep(0.2)
            for service in ("pop3s", "pop3") if len(held) > 1 else ("pop3s",):
                pids = [p for p in self.m.pids(service) if proc_name(p) == "tlsd"]
                self.assertTrue(pids, "no tlsd process under %s" % service)
                uids = {p: proc_uid(p) for p in pids}
                uids = {p: u for p, u in uids.items() if u is not None}  # ours are held
                self.assertTrue(uids, "every tlsd under %s ended" % service)
                for p, u in uids.items():
                    self.assertEqual(u, tls_uid, "tlsd pid %d of %s" % (p, service))
                fronts = [p for p in self.m.pids(service) if proc_name(p) == "pop3-front"]
                for p in fronts:
                    u = proc_uid(p)
                    if u is not None:
                        self.assertEqual(u, pwd.getpwnam("yubin-pop").pw_uid)
        finally:
            for s in held:
                s.close()


    @unittest.skipUnless(IS_ROOT, "uids are only real as root")
    def test_tlsd_drops_the_daemon_itself(self):
        """With tlsd in front, tlsd -c drops its child to the daemon's uid (docs/tls.md):
        smtpd (STARTTLS on 587, implicit on 465) and pop3-front (995, and STLS on 110) run as
        their user in every uid/gid slot with only their own gid as group, forked straight
        from tlsd, whose command line runs the daemon with no s6-applyuidgid in between (one
        exec fewer per connection). Port 25 has no tlsd in front: the next test."""
        held = []
        services = [(service, prog, user) for service, prog, user in (
            ("pop3s", "pop3-front", "yubin-pop"), ("submissions", "smtpd", "yubin-smtpd"),
            ("submission", "smtpd", "yubin-smtpd"), ("pop3", "pop3-front", "yubin-pop"))
            if have(prog)]
        self.assertTrue(services, "neither smtpd nor pop3-front is built")
        try:
            for service, _, _ in services:
                if service in ("pop3s", "submissions"):
                    s = self.tls_connect(service)
                else:
                    s = socket.create_connection(("127.0.0.1", self.m.port(service)),
                                                 timeout=10)
                held.append(s)
                self.assertTrue(read_line(s)[:1] in (b"+", b"2"), service)  # greeting
            for service, prog, user in services:
                with self.subTest(service=service):
                    pw = pwd.getpwnam(user)
                    procs = self.m.pids(service)
                    names = [proc_name(p) for p in procs]
                    self.assertNotIn("s6-applyuidgid", names)
                    daemons = [p for p in procs if proc_name(p) == prog]
                    self.assertTrue(daemons, "no %s under %s: %s" % (prog, service, names))
                    checked = 0
                    for p in daemons:
                        ids, parent = proc_ids(p), proc_ppid(p)
                        try:
                            pname, argv = proc_name(parent), proc_argv(parent)
                        except OSError:
                            pname, argv = "", []
                        if ids is None or not os.path.exists("/proc/%d" % p) \
                                or not os.path.exists("/proc/%d" % parent) or not argv:
                            continue    # another session's, ended meanwhile; ours is held
                        uids, gids, groups = ids
                        self.assertEqual(uids, [pw.pw_uid] * 4, "%s pid %d" % (prog, p))
                        self.assertEqual(gids, [pw.pw_gid] * 4, "%s pid %d" % (prog, p))
                        self.assertEqual(groups, [pw.pw_gid], "%s pid %d" % (prog, p))
                        self.assertEqual(pname, "tlsd")
                        self.assertIn("-c", argv)
                        self.assertEqual(argv[argv.index("-c") + 1],
                                         "%d:%d" % (pw.pw_uid, pw.pw_gid))
                        prog_argv = argv[argv.index("--") + 1:]
                        self.assertTrue(prog_argv[0].endswith("/" + prog), argv)
                        self.assertFalse([a for a in prog_argv if "applyuidgid" in a], argv)
                        checked += 1
                    self.assertGreater(checked, 0, "our own %s session was not seen" % prog)
        finally:
            for s in held:
                s.close()

    @unittest.skipUnless(IS_ROOT and have("smtpd"), "uids are only real as root")
    def test_port25_smtpd_runs_straight_under_tcpserver(self):
        """Port 25 (docs/tls.md "The STARTTLS service"): tcpserver drops to the smtpd uid
        once it has bound the port and starts smtpd itself: no tlsd and no s6-applyuidgid per
        connection. smtpd runs as yubin-smtpd in every uid/gid slot with only its own gid as
        group; so does tcpserver, which therefore cannot start anything as root. STARTTLS is
        still on offer, through the STARTTLS service's socket."""
        pw = pwd.getpwnam("yubin-smtpd")
        s = socket.create_connection(("127.0.0.1", self.m.port("smtp")), timeout=10)
        try:
            self.assertTrue(read_line(s).startswith(b"220"))
            procs = self.m.pids("smtp")
            names = [proc_name(p) for p in procs]
            self.assertNotIn("s6-applyuidgid", names)
            self.assertNotIn("tlsd", names)
            servers = [p for p in procs if proc_name(p) == "tcpserver"]
            self.assertEqual(len(servers), 1, names)
            ours = [p for p in procs if proc_name(p) == "smtpd" and proc_ppid(p) == servers[0]]
            self.assertTrue(ours, "no smtpd under tcpserver: %s" % names)
            for p in servers + ours:
                uids, gids, groups = proc_ids(p)
                self.assertEqual(uids, [pw.pw_uid] * 4, "%s pid %d" % (proc_name(p), p))
                self.assertEqual(gids, [pw.pw_gid] * 4, "%s pid %d" % (proc_name(p), p))
                self.assertEqual(groups, [pw.pw_gid], "%s pid %d" % (proc_name(p), p))
            s.sendall(b"EHLO client.example.net\r\n")
            lines = [read_line(s)]
            while lines[-1][3:4] == b"-":
                lines.append(read_line(s))
            self.assertIn(b"STARTTLS", [ln[4:].strip() for ln in lines])
        finally:
            s.close()


def tcp_inodes():
    """Inode -> (local port, remote port) of every TCP socket of this network namespace."""
    out = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], int(fields[9])
            out[inode] = (int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16))
    return out


def socket_fds(pid):
    """fd -> socket inode for the fds of pid that are sockets."""
    out = {}
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return out
    for fd in fds:
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            out[int(fd)] = int(target[8:-1])
    return out


def fd_target(pid, fd):
    try:
        return os.readlink("/proc/%d/fd/%d" % (pid, fd))
    except OSError:
        return None


def message_lines(seed, size):
    """Lines of printable ASCII of varying length (empty up to 990 octets; some begin with
    '.', which the client must dot-stuff), about size octets with their CRLFs."""
    rnd = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + " .,;:-_=+*/!?()<>[]"
    lines, total = [], 0
    while total < size:
        n = rnd.choice((0, 1, 2, 76, 78, 200, 512, 990, rnd.randrange(0, 991)))
        line = "".join(rnd.choice(alphabet) for _ in range(n))
        if rnd.random() < 0.05:
            line = "." + line[1:]
        lines.append(line.encode())
        total += len(line) + 2
    return lines


@unittest.skipUnless(have("tlsd") and have("smtpd"), "tlsd or smtpd not built")
class HandoffTest(unittest.TestCase):
    """tlsd -h on 25, 587 and 465 (docs/tls.md "The handoff"): after the handshake smtpd
    holds the connection and reads and writes the TLS records itself, with real clients."""

    @classmethod
    def setUpClass(cls):
        # an account of its own: TLSTest counts the messages in USER's Maildir
        cls.m = MailRoot.shared()
        cls.ca = os.path.join(cls.m.root, "etc", "tls", "ca.pem")
        for name in ("submissions", "submission"):
            cls.m.wait_for(lambda: port_open(cls.m.port(name)), timeout=15)
        if have("mailacct"):
            r = cls.m.mailacct("show", HUSER, check=False)
            if r.returncode != 0:
                cls.m.add_user(HUSER, HPASSWORD)

    ctx = TLSTest.ctx
    tls_connect = TLSTest.tls_connect

    def command(self, s, line, expect):
        s.sendall(line)
        reply = read_smtp_reply(s)
        self.assertTrue(reply.startswith(expect), "%r: %r" % (line, reply))
        return reply

    def session(self, service, auth=True):
        """An SMTP session inside TLS on 587 (STARTTLS) or 465, greeted and logged in."""
        if service == "submissions":
            s = self.tls_connect(service)
            self.assertTrue(read_smtp_reply(s).startswith(b"220"))
        else:
            raw = socket.create_connection(("127.0.0.1", self.m.port(service)), timeout=20)
            self.assertTrue(read_smtp_reply(raw).startswith(b"220"))
            self.command(raw, b"EHLO client.example.net\r\n", b"250")
            self.command(raw, b"STARTTLS\r\n", b"220")
            s = self.ctx(check_hostname=False).wrap_socket(raw, suppress_ragged_eofs=False)
        self.command(s, b"EHLO client.example.net\r\n", b"250")
        if auth:
            plain = base64.b64encode(("\0%s\0%s" % (HUSER, HPASSWORD)).encode())
            self.command(s, b"AUTH PLAIN " + plain + b"\r\n", b"235")
        return s

    def arrived(self, mark, timeout=30):
        """The stored message holding mark (bytes), or None."""
        def find():
            for p in self.m.messages(HUSER):
                try:
                    with open(p, "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                if mark in data:
                    return data
            return None
        return self.m.wait_for(find, timeout)

    def count_log(self, service, *words):
        return sum(1 for line in self.m.log(service).splitlines()
                   if all(w in line for w in words))

    # --- 1. who holds the connection

    def test_smtpd_holds_the_connection_tlsd_none(self):
        """During a session on 587 (after STARTTLS and AUTH) and on 465, smtpd reads and
        writes the connection itself: its fds 0 and 1 are the TCP socket of our connection,
        and its parent tlsd keeps no TCP socket at all (it relays nothing); as root they run
        as yubin-tls and yubin-smtpd. The session then still sends mail."""
        for service in ("submission", "submissions"):
            with self.subTest(service=service):
                s = self.session(service)
                try:
                    port = s.getsockname()[1]
                    ours = [i for i, (lp, rp) in tcp_inodes().items()
                            if lp == self.m.port(service) and rp == port]
                    self.assertEqual(len(ours), 1, "the server's end of our connection")
                    inode = ours[0]
                    holders = {p: [fd for fd, i in socket_fds(p).items() if i == inode]
                               for p in self.m.pids(service)}
                    holders = {p: fds for p, fds in holders.items() if fds}
                    names = {p: proc_name(p) for p in holders}
                    smtpd = [p for p, n in names.items() if n == "smtpd"]
                    self.assertEqual(len(smtpd), 1, "processes holding our connection: %r"
                                     % names)
                    smtpd = smtpd[0]
                    tlsd = proc_ppid(smtpd)
                    self.assertEqual(proc_name(tlsd), "tlsd")
                    for fd in (0, 1):
                        self.assertEqual(fd_target(smtpd, fd), "socket:[%d]" % inode,
                                         "smtpd's fd %d" % fd)

                    def tlsd_tcp():
                        tcp = tcp_inodes()
                        return {fd: tcp[i] for fd, i in socket_fds(tlsd).items() if i in tcp}
                    # tlsd closes its copies right after handing the session over
                    self.m.wait_for(lambda: not tlsd_tcp(), timeout=5)
                    self.assertEqual(tlsd_tcp(), {}, "tlsd still holds TCP sockets (fd: "
                                     "ports)")
                    self.assertNotIn(tlsd, holders)
                    if IS_ROOT:
                        self.assertEqual(proc_uid(tlsd), pwd.getpwnam("yubin-tls").pw_uid)
                        self.assertEqual(proc_uid(smtpd), pwd.getpwnam("yubin-smtpd").pw_uid)
                    mark = ("held-%s-%d" % (service, time.time_ns())).encode()
                    self.command(s, b"MAIL FROM:<%s>\r\n" % HUSER.encode(), b"250")
                    self.command(s, b"RCPT TO:<%s>\r\n" % HUSER.encode(), b"250")
                    self.command(s, b"DATA\r\n", b"354")
                    self.command(s, b"Subject: " + mark + b"\r\n\r\nheld by smtpd\r\n.\r\n",
                                 b"250")
                    self.command(s, b"QUIT\r\n", b"221")
                finally:
                    s.close()
                self.assertTrue(self.arrived(mark), "the message sent over %s arrived"
                                % service)

    # --- 2. many records each way, pipelining

    def test_large_message_arrives_byte_identical(self):
        """A message of ~300 KB in lines of every length (many TLS records each way, and
        records that end inside a line) sent by smtplib over 587 STARTTLS + AUTH and over
        465 is stored byte for byte (the body after the headers smtpd adds)."""
        lines = message_lines(os.getpid(), 300 * 1024)
        for service in ("submission", "submissions"):
            with self.subTest(service=service):
                mark = "large-%s-%d" % (service, time.time_ns())
                head = ("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\n" % (HUSER, HUSER, mark))
                body = b"\r\n".join(lines) + b"\r\n"
                if service == "submissions":
                    c = smtplib.SMTP_SSL("localhost", self.m.port(service), context=self.ctx(),
                                         timeout=60)
                else:
                    c = smtplib.SMTP("127.0.0.1", self.m.port(service), timeout=60)
                try:
                    c.ehlo("client.example.net")
                    if service == "submission":
                        c.starttls(context=self.ctx(check_hostname=False))
                        c.ehlo("client.example.net")
                    c.login(HUSER, HPASSWORD)
                    self.assertEqual(c.sendmail(HUSER, [HUSER], head.encode() + body), {})
                finally:
                    c.quit()
                stored = self.arrived(mark.encode())
                self.assertTrue(stored, "the large message over %s arrived" % service)
                start = stored.index(b"Subject: " + mark.encode())
                got = stored[start:].split(b"\n\n", 1)[1]
                want = body.replace(b"\r\n", b"\n")
                if got != want:
                    at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
                              min(len(got), len(want)))
                    self.fail("over %s the body differs from octet %d of %d (stored %d): "
                              "%r, not %r" % (service, at, len(want), len(got),
                                              got[at:at + 40], want[at:at + 40]))

    def test_several_messages_and_pipelined_commands(self):
        """One session, several transactions: MAIL, RCPT and DATA sent in one write and
        answered in order; then a message's end, RSET and the next MAIL, RCPT and DATA in one
        write (the commands arrive in the record after the body's last octets), on 587
        STARTTLS and on 465."""
        for service in ("submission", "submissions"):
            with self.subTest(service=service):
                marks = [("pipe-%s-%d-%d" % (service, i, time.time_ns())).encode()
                         for i in range(3)]
                envelope = (b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                            % (HUSER.encode(), HUSER.encode()))
                s = self.session(service)
                try:
                    s.sendall(envelope)
                    for code in (b"250", b"250", b"354"):
                        reply = read_smtp_reply(s)
                        self.assertTrue(reply.startswith(code), reply)
                    filler = b"".join(b"%05d pipelined line\r\n" % i for i in range(2000))
                    s.sendall(b"Subject: " + marks[0] + b"\r\n\r\n" + filler + b".\r\n")
                    self.assertTrue(read_smtp_reply(s).startswith(b"250"))
                    self.command(s, b"RSET\r\n", b"250")
                    s.sendall(envelope)
                    for code in (b"250", b"250", b"354"):
                        reply = read_smtp_reply(s)
                        self.assertTrue(reply.startswith(code), reply)
                    # body end, RSET and the next transaction in one write
                    s.sendall(b"Subject: " + marks[1] + b"\r\n\r\n" + filler + b".\r\nRSET\r\n"
                              + envelope)
                    for code in (b"250", b"250", b"250", b"250", b"354"):
                        reply = read_smtp_reply(s)
                        self.assertTrue(reply.startswith(code), reply)
                    s.sendall(b"Subject: " + marks[2] + b"\r\n\r\nlast\r\n.\r\nNOOP\r\nQUIT\r\n")
                    for code in (b"250", b"250", b"221"):
                        reply = read_smtp_reply(s)
                        self.assertTrue(reply.startswith(code), reply)
                finally:
                    s.close()
                for i, mark in enumerate(marks):
                    stored = self.arrived(mark)
                    self.assertTrue(stored, "message %d over %s arrived" % (i, service))
                    if i < 2:
                        self.assertTrue(stored.endswith(filler.replace(b"\r\n", b"\n")),
                                        "message %d over %s stored whole" % (i, service))

    # --- 3. the end of a session

    def test_quit_sends_close_notify(self):
        """After QUIT's 221 the server ends the TLS session with close_notify (RFC 5246
        §7.2.1) and closes the connection; the client's own close_notify exchange (unwrap)
        then succeeds."""
        for service in ("submission", "submissions"):
            with self.subTest(service=service):
                s = self.session(service, auth=False)
                try:
                    self.command(s, b"QUIT\r\n", b"221")
                    # b"" only after a close_notify: a bare EOF raises SSLEOFError here
                    # (suppress_ragged_eofs=False)
                    self.assertEqual(s.recv(100), b"", "close_notify after the 221")
                    peek = socket.socket(fileno=os.dup(s.fileno()))
                    try:
                        peek.settimeout(10)
                        self.assertEqual(peek.recv(1, socket.MSG_PEEK), b"",
                                         "the server closes the connection")
                    finally:
                        peek.close()
                    # ours in answer; it raises SSLError unless the server's arrived
                    s.unwrap().close()
                finally:
                    s.close()

    def test_client_close_notify_answered(self):
        """A client that ends the TLS session first (close_notify without QUIT, as a client
        closing a connection it keeps open does) gets the server's close_notify in answer
        (RFC 5246 §7.2.1: the other party MUST respond with a close_notify of its own), and
        the connection then ends."""
        for service in ("submission", "submissions"):
            with self.subTest(service=service):
                s = self.session(service, auth=False)
                try:
                    # SSL_shutdown until the server's close_notify has come: SSLEOFError
                    # (or a reset) if the server only closes the connection
                    raw = s.unwrap()
                    raw.settimeout(10)
                    try:
                        self.assertEqual(raw.recv(100), b"", "the connection ends")
                    finally:
                        raw.close()
                finally:
                    s.close()

    # --- 4. a record that fails its integrity check

    def bio_session(self):
        """STARTTLS on 587 with the TLS client in memory (ssl.MemoryBIO): (raw socket, SSL
        object, incoming BIO, outgoing BIO), the handshake done."""
        raw = socket.create_connection(("127.0.0.1", self.m.port("submission")), timeout=10)
        self.addCleanup(raw.close)
        self.assertTrue(read_smtp_reply(raw).startswith(b"220"))
        self.command(raw, b"EHLO client.example.net\r\n", b"250")
        self.command(raw, b"STARTTLS\r\n", b"220")
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = self.ctx(check_hostname=False).wrap_bio(inc, out)
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                raw.sendall(out.read())
                data = raw.recv(65536)
                self.assertTrue(data, "the server closed during the handshake")
                inc.write(data)
        raw.sendall(out.read())
        self.assertEqual(obj.version(), "TLSv1.2")
        return raw, obj, inc, out

    def bio_command(self, raw, obj, inc, out, line, expect):
        obj.write(line)
        raw.sendall(out.read())
        buf = b""
        while not (buf.endswith(b"\r\n") and buf.split(b"\r\n")[-2][3:4] == b" "):
            try:
                buf += obj.read(65536)
            except ssl.SSLWantReadError:
                data = raw.recv(65536)
                self.assertTrue(data, "the server closed")
                inc.write(data)
        self.assertTrue(buf.startswith(expect), "%r: %r" % (line, buf))

    def send_tampered(self, raw, obj, inc, out, plaintext):
        """plaintext as one record with one bit of its ciphertext flipped; returns the
        SSLError reading the server's answer raised (None if it raised none) and whether
        the server closed the connection afterwards."""
        obj.write(plaintext)
        rec = bytearray(out.read())
        self.assertEqual(rec[0], 23, "one application data record")
        self.assertEqual(len(rec), 5 + (rec[3] << 8 | rec[4]), "one record")
        rec[5 + (len(rec) - 5) // 2] ^= 0x10      # past the 5-octet header
        raw.sendall(bytes(rec))
        answer, closed = b"", False
        raw.settimeout(10)
        try:
            while True:
                data = raw.recv(65536)
                if not data:
                    closed = True
                    break
                answer += data
        except ConnectionResetError:
            closed = True
        except socket.timeout:
            pass
        inc.write(answer)
        try:
            got = obj.read(65536)
        except ssl.SSLError as e:
            return e, closed, answer
        self.fail("the server answered a tampered record with %r" % got)

    def test_tampered_record_bad_record_mac(self):
        """A record whose ciphertext was changed on the way (one bit) is refused: the server
        sends a fatal bad_record_mac alert (RFC 5246 §7.2.2), closes the connection and
        logs why."""
        before = self.count_log("submission", "tls error ip=127.0.0.1", "integrity")
        raw, obj, inc, out = self.bio_session()
        err, closed, answer = self.send_tampered(raw, obj, inc, out, b"EHLO x\r\n")
        self.assertEqual(answer[:3], b"\x15\x03\x03", "an alert record: %r" % answer[:16])
        self.assertIn("BAD_RECORD_MAC", str(err).upper().replace(" ", "_"), err)
        self.assertTrue(closed, "the server closed the connection")
        self.assertTrue(self.m.wait_for(lambda: self.count_log(
            "submission", "tls error ip=127.0.0.1", "integrity") > before, 10),
            self.m.log("submission")[-2000:])

    def test_tampered_message_end_not_queued(self):
        """The record carrying a message's last lines and its final '.' fails its integrity
        check: the session ends, and the message is neither queued nor delivered."""
        before = self.count_log("submission", "tls error ip=127.0.0.1", "integrity")
        mark = ("tampered-%d" % time.time_ns()).encode()
        raw, obj, inc, out = self.bio_session()
        plain = base64.b64encode(("\0%s\0%s" % (HUSER, HPASSWORD)).encode())
        for line, code in ((b"EHLO client.example.net\r\n", b"250"),
                           (b"AUTH PLAIN " + plain + b"\r\n", b"235"),
                           (b"MAIL FROM:<%s>\r\n" % HUSER.encode(), b"250"),
                           (b"RCPT TO:<%s>\r\n" % HUSER.encode(), b"250"),
                           (b"DATA\r\n", b"354")):
            self.bio_command(raw, obj, inc, out, line, code)
        err, closed, _ = self.send_tampered(raw, obj, inc, out, b"Subject: " + mark +
                                            b"\r\n\r\nchanged on the way\r\n.\r\n")
        self.assertIn("BAD_RECORD_MAC", str(err).upper().replace(" ", "_"), err)
        self.assertTrue(closed, "the server closed the connection")
        self.assertTrue(self.m.wait_for(lambda: self.count_log(
            "submission", "tls error ip=127.0.0.1", "integrity") > before, 10),
            self.m.log("submission")[-2000:])
        self.assertIsNone(self.arrived(mark, timeout=3), "the tampered message was delivered")
        mess = os.path.join(self.m.root, "queue", "mess")
        for name in os.listdir(mess):
            try:
                with open(os.path.join(mess, name), "rb") as f:
                    self.assertNotIn(mark, f.read(), "the tampered message was queued")
            except (FileNotFoundError, IsADirectoryError):
                pass

    # --- 5. renegotiation

    def test_renegotiation_refused(self):
        """openssl s_client's R (renegotiate, TLS 1.2) inside a STARTTLS session on 587: the
        server refuses it with a no_renegotiation warning and ends the session (the handshake
        was tlsd's, done before smtpd got the connection), logs why, and the next session
        works."""
        before = self.count_log("submission", "tls error ip=127.0.0.1", "renegotiation refused")
        p = subprocess.Popen(["openssl", "s_client", "-starttls", "smtp", "-connect",
                              "127.0.0.1:%d" % self.m.port("submission"), "-tls1_2",
                              "-CAfile", self.ca], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        text = b""
        try:
            os.set_blocking(p.stdout.fileno(), False)

            def read_until(done, seconds):
                nonlocal text
                end = time.time() + seconds
                while not done() and time.time() < end:
                    r, _, _ = select.select([p.stdout], [], [], 0.2)
                    if r:
                        data = p.stdout.read()
                        if not data:
                            return
                        text += data

            def answered():
                # s_client prints the last line of its own EHLO's reply before STARTTLS
                # ("250 STARTTLS") after the handshake: ours is the reply greeting us
                return b"\n250 " in text.partition(b"Hello client.example.net")[2]
            read_until(lambda: b"Verify return code" in text, 15)
            p.stdin.write(b"EHLO client.example.net\r\n")
            p.stdin.flush()
            read_until(answered, 15)
            self.assertTrue(answered(), "EHLO answered inside TLS:\n%s"
                            % text.decode(errors="replace")[-1500:])
            p.stdin.write(b"R\n")       # stdin stays open: the server must end the session
            p.stdin.flush()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.fail("the session outlived a renegotiation:\n%s"
                          % text.decode(errors="replace")[-1500:])
            read_until(lambda: False, 1)
            self.assertIn(b"RENEGOTIATING", text, "s_client did not try to renegotiate")
            # smtpd's no_renegotiation alert, a warning (RFC 5246 §7.2.2), ends OpenSSL's
            # renegotiation with "no renegotiation"; a fatal one reads "alert no renegotiation"
            self.assertIn(b"no renegotiation", text, text.decode(errors="replace")[-1500:])
            self.assertNotIn(b"alert no renegotiation", text, "no_renegotiation sent as a "
                             "fatal alert")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdin.close()
            p.stdout.close()
        self.assertTrue(self.m.wait_for(lambda: self.count_log(
            "submission", "tls error ip=127.0.0.1", "renegotiation refused") > before, 10),
            self.m.log("submission")[-2000:] + "\n" + text.decode(errors="replace")[-1500:])
        s = self.session("submission")
        try:
            self.command(s, b"QUIT\r\n", b"221")
        finally:
            s.close()


@unittest.skipUnless(have("tlsd"), "tlsd not built")
class CertificateCheckTest(unittest.TestCase):
    """tlsd --check and the per-connection refusal, on a private tree (destructive)."""

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot()
        cls.m.start()
        cls.tlsdir = os.path.join(cls.m.root, "etc", "tls")
        cls.m.wait_for(lambda: port_open(cls.m.port("pop3s")), timeout=15)

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def check(self, d):
        p = subprocess.run([self.m.bin("tlsd"), "--check", "-d", d], capture_output=True,
                           text=True)
        return p.returncode, p.stderr

    def scratch(self):
        d = tempfile.mkdtemp(prefix="tlscheck-")
        self.addCleanup(shutil.rmtree, d, True)
        for f in ("ca.pem", "ca.key"):
            shutil.copy(os.path.join(self.tlsdir, f), d)
        return d

    def test_child_ids_must_be_numeric_and_not_root(self):
        for v in ("0:0", "995:0", "0:995", "995", "yubin-smtpd:yubin-smtpd", ":995", "995:"):
            p = subprocess.run([self.m.bin("tlsd"), "-u", "yubin-tls", "-c", v, "-d",
                                self.tlsdir, "--", "true"], capture_output=True, text=True,
                               stdin=subprocess.DEVNULL, timeout=10)
            with self.subTest(c=v):
                self.assertEqual(p.returncode, 100, p.stderr)
                self.assertIn("-c %s: give numeric UID:GID, neither of them 0" % v, p.stderr)

    def test_check_accepts_demo_certificate(self):
        rc, err = self.check(self.tlsdir)
        self.assertEqual(rc, 0, err)
        self.assertIn("server.pem ok", err)

    def test_check_refuses_expired(self):
        d = self.scratch()
        make_cert(d, "server", "mail.example.test", expired=True)
        rc, err = self.check(d)
        self.assertEqual(rc, 100)
        self.assertIn("expired on 2020-02-01", err)

    def test_check_refuses_key_mismatch(self):
        d = self.scratch()
        make_cert(d, "server", "mail.example.test", key_from=os.path.join(self.tlsdir, "ca.key"))
        rc, err = self.check(d)
        self.assertEqual(rc, 100)
        self.assertIn("server.key does not belong to the certificate in server.pem", err)

    def test_check_refuses_missing_key_and_warns_near_expiry(self):
        d = self.scratch()
        make_cert(d, "server", "mail.example.test", days=10)
        rc, err = self.check(d)
        self.assertEqual(rc, 0, err)
        self.assertRegex(err, r"server\.pem expires in \d+ days: renew it")
        os.unlink(os.path.join(d, "server.key"))
        rc, err = self.check(d)
        self.assertEqual(rc, 100)
        self.assertIn("unable to read %s/server.key" % d, err)

    def test_replace_certificate_then_expired_one(self):
        """New connections read the files: a renamed-in certificate is live at once; an
        expired one closes new connections with one log line, and the service refuses to
        restart with it."""
        make_cert(self.tlsdir, "server", "renewed.example.test", days=90)
        ctx = ssl.create_default_context(cafile=os.path.join(self.tlsdir, "ca.pem"))
        raw = socket.create_connection(("127.0.0.1", self.m.port("pop3s")), timeout=10)
        s = ctx.wrap_socket(raw, server_hostname="renewed.example.test")
        self.assertEqual(dict(x[0] for x in s.getpeercert()["subject"])["commonName"],
                         "renewed.example.test")
        s.close()
        make_cert(self.tlsdir, "server", "mail.example.test", expired=True)
        raw = socket.create_connection(("127.0.0.1", self.m.port("pop3s")), timeout=10)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with self.assertRaises((ssl.SSLError, OSError)):
            ctx.wrap_socket(raw).recv(10)
        raw.close()
        self.assertTrue(self.m.wait_for(lambda: "refusing connection ip=127.0.0.1" in
                                        self.m.log("pop3s")))
        self.assertIn("expired on 2020-02-01", self.m.log("pop3s"))
        subprocess.run(["s6-svc", "-r", os.path.join(self.m.root, "service", "pop3s")],
                       check=True)
        self.assertTrue(self.m.wait_for(lambda: "pop3s: fatal: no usable certificate" in
                                        self.m.log("pop3s"), timeout=15), self.m.log("pop3s"))
        # smtp starts plaintext instead (a public MX keeps accepting mail): no tlsd, no
        # STARTTLS, and smtpd still dropped to its uid, by s6-applyuidgid this time
        if have("smtpd"):
            old = self.m.pids("smtp")
            subprocess.run(["s6-svc", "-r", os.path.join(self.m.root, "service", "smtp")],
                           check=True)     # not m.restart: pop3s stays down on purpose
            self.assertTrue(self.m.wait_for(lambda: self.m.pids("smtp")[:1] not in ([], old[:1])
                                            and port_open(self.m.port("smtp")), timeout=15))
            s = socket.create_connection(("127.0.0.1", self.m.port("smtp")), timeout=10)
            try:
                self.assertTrue(read_smtp_reply(s).startswith(b"220"))
                s.sendall(b"EHLO client.example.test\r\n")
                ehlo = read_smtp_reply(s)
                self.assertTrue(ehlo.startswith(b"250"), ehlo)
                self.assertNotIn(b"STARTTLS", ehlo)
                procs = self.m.pids("smtp")
                self.assertNotIn("tlsd", [proc_name(p) for p in procs])
                daemons = [p for p in procs if proc_name(p) == "smtpd"]
                self.assertTrue(daemons)
                if IS_ROOT:
                    pw = pwd.getpwnam("yubin-smtpd")
                    checked = 0
                    for p in daemons:
                        ids = proc_ids(p)
                        if ids is None:
                            continue    # the port probe's session, ended meanwhile
                        checked += 1
                        uids, gids, groups = ids
                        self.assertEqual(uids, [pw.pw_uid] * 4)
                        self.assertEqual(gids, [pw.pw_gid] * 4)
                        self.assertEqual(groups, [pw.pw_gid])
                    self.assertGreater(checked, 0, "our own session's smtpd was not seen")
            finally:
                s.close()


if __name__ == "__main__":
    unittest.main()
