"""Inbound authentication results (docs/inbound.md): mail from outside on port 25 gets one
Authentication-Results header (RFC 8601) with its SPF (RFC 7208), DKIM (RFC 6376) and DMARC
(RFC 7489) results, from records a real DNS server (dnsmasq on loopback) serves; the results
are compared with independent implementations, Debian's python3-dkim and python3-spf (pyspf).
The messages are signed in the test with python3-dkim and a key the test makes: that is the
sending server's part. DMARC_REJECT=1 refuses a p=reject failure with 550 5.7.1; a forged
Authentication-Results claiming our host name is removed, another server's is kept."""
import base64
import hashlib
import os
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import MailRoot, can_open, free_port, have  # noqa: E402
from dnsharness import HAVE_DNSMASQ, Dns, ScriptedDns  # noqa: E402
from test_dkim import DEB_PYTHON, HAVE_DKIMPY, VERIFY  # noqa: E402
from test_spf import have_pyspf, pyspf  # noqa: E402

ME = "mail.example.test"
RCPT = "hanako@example.test"
HELO = "mx.sender.test"

# python3-dkim signs stdin's message (argv: selector domain keyfile canon alg); it verifies with
# test_dkim's VERIFY
SIGN = r"""
import sys, dkim
sel, dom, key, canon, alg = sys.argv[1:6]
msg = sys.stdin.buffer.read()
sig = dkim.sign(msg, sel.encode(), dom.encode(), open(key, "rb").read(),
                include_headers=[b"from", b"to", b"subject", b"date"],
                canonicalize=tuple(c.encode() for c in canon.split("/")),
                signature_algorithm=alg.encode())
sys.stdout.buffer.write(sig + msg)
"""


def txt(name, *strings):
    return "--txt-record=%s,%s" % (name, ",".join(strings))


def ar_fields(msg):
    """The Authentication-Results fields of a stored message, unfolded."""
    head = msg.split(b"\n\n", 1)[0].decode(errors="replace")
    return [re.sub(r"\r?\n[ \t]+", " ", m.group(0))
            for m in re.finditer(r"^Authentication-Results:.*(?:\n[ \t].*)*", head, re.M | re.I)]


@unittest.skipUnless(HAVE_DNSMASQ and HAVE_DKIMPY and have("smtpd"),
                     "dnsmasq, python3-dkim (Debian) or the build missing: make deps")
class InboundTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="yubin-inbound-")
        def make_key(path, bits):
            """A key of bits, and its DKIM key record as TXT strings of at most 200 octets."""
            subprocess.run(["openssl", "genrsa", "-traditional", "-out", path, str(bits)],
                           check=True, capture_output=True)
            pub = subprocess.run(["openssl", "rsa", "-in", path, "-pubout"], check=True,
                                 capture_output=True, text=True).stdout
            p = "".join(l for l in pub.splitlines() if "-----" not in l)
            return ["v=DKIM1; k=rsa; p=" + p[:180]] + [p[i:i + 200]
                                                        for i in range(180, len(p), 200)]
        cls.key = os.path.join(cls.tmp, "dkim.key")
        key = cls.keyrec = make_key(cls.key, 2048)
        # RFC 8301 §3.2: verifiers accept 1024 to 4096 bits
        cls.sized = {bits: os.path.join(cls.tmp, "dkim%d.key" % bits) for bits in (1024, 4096)}
        sized = [txt("b%d._domainkey.good.test" % bits, *make_key(path, bits))
                 for bits, path in cls.sized.items()]
        # a server that takes queries and never answers: names under timeout.example time out
        cls.silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cls.silent.bind(("127.0.0.1", free_port()))
        cls.dns = Dns(
            txt("good.test", "v=spf1 ip4:127.0.0.1 -all"),
            txt("sel1._domainkey.good.test", *key), *sized,
            txt("_dmarc.good.test", "v=DMARC1; p=reject; sp=reject"),
            txt("fail.test", "v=spf1 -all"),
            txt("soft.test", "v=spf1 ~all"),
            txt("temp.test", "v=spf1 include:x.timeout.example -all"),
            # p=reject with a broken value in another tag (RFC 7489 §6.3: that tag takes its
            # default, the policy stands)
            txt("_dmarc.typo1.test", "v=DMARC1; p=reject; adkim=relaxed"),
            txt("_dmarc.typo2.test", "v=DMARC1; p=reject; pct=100%"),
            txt("_dmarc.temp.test", "v=DMARC1; p=reject"),
            # big senders: 79 verification records beside the SPF record (over 32 records, 4 KB and
            # the UDP size: the answer comes by TCP), which is first in one answer and last in
            # the other whatever order dnsmasq answers in
            txt("many1.test", "v=spf1 ip4:127.0.0.1 -all"),
            *[txt(d, "site-verification=%040d" % i) for d in ("many1.test", "many2.test")
              for i in range(79)],
            txt("many2.test", "v=spf1 ip4:127.0.0.1 -all"),
            "--server=/timeout.example/127.0.0.1#%d" % cls.silent.getsockname()[1],
            # DKIM keys of slow.good.test (aligned with good.test) time out
            "--server=/slow.good.test/127.0.0.1#%d" % cls.silent.getsockname()[1])
        cls.m = MailRoot(prefix="yubin-inbound-", env=dict(cls.dns.env(), SPF_TIMEOUT="3"))
        cls.m.start()
        cls.m.add_user(RCPT, "inbound-pw-1")

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()
        cls.dns.stop()
        cls.silent.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # --- helpers
    def message(self, tag, frm="taro@good.test", extra=""):
        return ("From: Taro <%s>\r\nTo: <%s>\r\nSubject: %s\r\n"
                "Date: Thu, 3 Dec 2026 06:00:00 +0000\r\nMessage-ID: <%s@good.test>\r\n%s\r\n"
                "Hello,\r\n  a line with  spaces \r\n\r\n"
                % (frm, RCPT, tag, tag, extra.replace("\n", "\r\n"))).encode()

    def sign(self, msg, canon="relaxed/simple", alg="rsa-sha256", dom="good.test", sel="sel1",
             key=None):
        p = subprocess.run([DEB_PYTHON, "-c", SIGN, sel, dom, key or self.key, canon, alg],
                           input=msg, capture_output=True, check=True)
        return p.stdout

    def sign_by_hand(self, msg, extra):
        """A relaxed/relaxed rsa-sha256 signature over from:to:subject with more tags (extra),
        made with openssl: for what python3-dkim refuses to sign (an i= outside d=)."""
        def relaxed(field):
            name, value = field.split(b":", 1)
            value = re.sub(rb"[ \t]+", b" ", re.sub(rb"\r\n(?=[ \t])", b"", value)).strip()
            return name.strip().lower() + b":" + value
        head, body = msg.split(b"\r\n\r\n", 1)
        lines = [re.sub(rb"[ \t]+", b" ", x).rstrip() for x in body.split(b"\r\n")]
        body = b"\r\n".join(lines).rstrip(b"\r\n") + b"\r\n"
        bh = base64.b64encode(hashlib.sha256(body).digest()).decode()
        fields = re.split(rb"\r\n(?![ \t])", head)
        sig = ("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=good.test; s=sel1; %s"
               "h=from:to:subject; bh=%s; b=" % (extra, bh)).encode()
        data = b""
        for h in (b"from", b"to", b"subject"):
            data += relaxed([f for f in fields if f.split(b":")[0].lower() == h][-1]) + b"\r\n"
        data += relaxed(sig)
        b = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key], input=data,
                           capture_output=True, check=True).stdout
        return sig + base64.b64encode(b) + b"\r\n" + msg

    def dkimpy(self, msg):
        p = subprocess.run([DEB_PYTHON, "-c", VERIFY, str(self.dns.port)], input=msg,
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return p.stdout.decode().split()[0]     # "pass BITS" or "fail 0"

    def deliver(self, msg, sender):
        name = self.m.send_mail(RCPT, [msg], sender=sender)[0]
        return self.m.stored(RCPT, name)

    def ours(self, stored):
        got = [f for f in ar_fields(stored) if f.split(":", 1)[1].strip().startswith(ME + ";")]
        self.assertEqual(len(got), 1, stored[:2000])
        # the first field smtpd wrote (deliver adds Return-Path: and Delivered-To: above it)
        rest = re.sub(rb"^(Return-Path|Delivered-To):.*\n", b"", stored, flags=re.M)
        self.assertTrue(rest.startswith(b"Authentication-Results: " + ME.encode() + b";"),
                        "our header is on top: %r" % stored[:300])
        return got[0]

    # --- tests
    def test_held_message_leaves_memory_past_128_kb(self):
        """Mail from outside is held until the checks run. A small one is held in memory; past
        128 KB it is held in an unnamed file in run/smtpd, so clients that send 19 MB and then
        wait cannot take the machine's RAM (a memfd is neither swapped nor written back). The
        message arrives whole and checked."""
        def held(pid):
            out = []
            for fd in os.listdir("/proc/%d/fd" % pid):
                try:
                    out.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
                except OSError:
                    pass
            return [x for x in out if "memfd:smtpd-message" in x
                    or (os.path.join(self.m.root, "run", "smtpd") in x and "(deleted)" in x)]

        def session_pid(ip):
            for pid in self.m.pids("smtp"):
                try:
                    with open("/proc/%d/environ" % pid, "rb") as f:
                        env = f.read().split(b"\0")
                    with open("/proc/%d/comm" % pid) as f:
                        comm = f.read().strip()
                except OSError:
                    continue
                if comm == "smtpd" and ("TCPREMOTEIP=" + ip).encode() in env:
                    return pid
            return None
        if os.geteuid() != 0:
            self.skipTest("reads smtpd's /proc entries: needs root")
        ip = "127.0.7.1"
        c = socket.socket()
        self.addCleanup(c.close)
        c.bind((ip, 0))
        c.connect(("127.0.0.1", self.m.port("smtp")))
        f = c.makefile("rb")
        self.assertTrue(f.readline().startswith(b"220"))
        msg = self.message("held-big").replace(b"Hello,", b"Hello,\r\n" + (b"z" * 98 + b"\r\n")
                                                * 3000)        # 300 KB
        for line in (b"EHLO " + HELO.encode(), b"MAIL FROM:<taro@good.test>",
                     b"RCPT TO:<" + RCPT.encode() + b">", b"DATA"):
            c.sendall(line + b"\r\n")
            while True:
                r = f.readline()
                if r[3:4] != b"-":
                    break
            self.assertIn(r[:3], (b"250", b"354"), r)
        pid = session_pid(ip)
        self.assertIsNotNone(pid)
        c.sendall(msg[:60000])
        self.assertTrue(self.m.wait_for(lambda: any("memfd:" in x for x in held(pid)), 10),
                        held(pid))
        c.sendall(msg[60000:])
        self.assertTrue(self.m.wait_for(
            lambda: any("/run/smtpd/" in x for x in held(pid))
            and not any("memfd:" in x for x in held(pid)), 10), held(pid))
        c.sendall(b".\r\n")
        r = f.readline()
        self.assertTrue(r.startswith(b"250"), r)
        c.sendall(b"QUIT\r\n")
        self.assertTrue(self.m.wait_for(
            lambda: any(b"held-big" in open(p, "rb").read() for p in self.m.messages(RCPT)), 20))
        stored = [open(p, "rb").read() for p in self.m.messages(RCPT)
                  if b"held-big" in open(p, "rb").read()][0]
        self.assertIn(msg.replace(b"\r\n", b"\n").split(b"\n\n", 1)[1], stored)
        # checked (from 127.0.7.1, which good.test's record does not list)
        self.assertTrue(any(x.startswith("Authentication-Results: %s; spf=fail" % ME)
                            for x in ar_fields(stored)), ar_fields(stored))

    def test_public_suffix_list_from_psl_cdb(self):
        """smtpd takes DMARC's organizational domain from ROOT/cdb/psl.cdb, which every build
        of the maps compiles from the list file (Debian's, or the operator's own named in
        etc/env/PSL_FILE) stamped with the file's mtime, size and inode, as long as the stamp
        matches the file; a file changed since is read itself, and the next build compiles it
        again. As root the operator's list is readable by root alone, so smtpd (yubin-smtpd)
        can only have its rules from psl.cdb."""
        psl = os.path.join(self.m.root, "cdb", "psl.cdb")
        deb = "/usr/share/publicsuffix/public_suffix_list.dat"
        if not os.path.exists(deb):
            self.skipTest("no publicsuffix package")

        def stamp_of(path):
            st = os.stat(path)
            return "%d.%09d %d %d" % (st.st_mtime_ns // 10**9, st.st_mtime_ns % 10**9,
                                      st.st_size, st.st_ino)

        def cdb_stamp():
            return subprocess.run(["cdb", "-q", psl, "#stamp"], capture_output=True,
                                  text=True).stdout

        self.assertEqual(cdb_stamp(), stamp_of(deb), "psl.cdb holds the list file's stamp")
        self.assertEqual(subprocess.run(["cdb", "-q", psl, "co.jp"]).returncode, 0)
        self.assertEqual(os.stat(psl).st_mode & 0o777, 0o644)
        if os.geteuid() == 0:
            self.assertTrue(can_open("yubin-smtpd", psl), "the smtpd uid reads psl.cdb")

        def dmarc_of_subdomain():
            """taro@news.good.test, signed by good.test: aligned only through the
            organizational domain good.test, whose record says sp=reject."""
            msg = self.sign(self.message("org-%d" % time.time_ns(), frm="taro@news.good.test"))
            return re.search(r"dmarc=(\w+)", self.ours(self.deliver(msg, "bounce@good.test")))[1]

        self.assertEqual(dmarc_of_subdomain(), "pass")
        mkmaps = [self.m.bin("mkmaps"), "--root", self.m.root, "--quiet"]
        rules = open(deb, encoding="utf-8").read()
        folder = tempfile.mkdtemp(prefix="yubin-psl-")
        os.chmod(folder, 0o755)
        own = os.path.join(folder, "public_suffix_list.dat")
        try:
            # the operator's own list, making good.test a public suffix, readable by root only
            with open(own, "w", encoding="utf-8") as f:
                f.write(rules + "good.test\n")
            os.chmod(own, 0o600)
            self.m.set_env("PSL_FILE", own)
            self.m.restart("smtp")      # a setting: smtpd takes it from its environment
            subprocess.run(mkmaps, check=True)
            self.assertEqual(cdb_stamp(), stamp_of(own), "compiled from the operator's list")
            if os.geteuid() == 0:
                self.assertFalse(can_open("yubin-smtpd", own), "only psl.cdb can tell smtpd")
            self.assertEqual(dmarc_of_subdomain(), "none", "news.good.test is its own org")
            # the list replaced (good.test gone), no build since: the file itself is read
            with open(own, "w", encoding="utf-8") as f:
                f.write(rules)
            os.chmod(own, 0o644)
            self.assertEqual(dmarc_of_subdomain(), "pass")
            subprocess.run(mkmaps, check=True)
            self.assertEqual(cdb_stamp(), stamp_of(own), "the build compiled the list again")
            self.assertNotEqual(subprocess.run(["cdb", "-q", psl, "good.test"]).returncode, 0)
        finally:
            os.unlink(os.path.join(self.m.root, "etc", "env", "PSL_FILE"))
            self.m.restart("smtp")
            subprocess.run(mkmaps, check=True)
            shutil.rmtree(folder, ignore_errors=True)
        self.assertEqual(cdb_stamp(), stamp_of(deb), "back to Debian's list")
        self.assertEqual(dmarc_of_subdomain(), "pass")

    def test_good_signature_passes_all_three(self):
        msg = self.sign(self.message("good-%d" % time.time_ns()))
        stored = self.deliver(msg, "bounce@good.test")
        ar = self.ours(stored)
        self.assertIn("spf=pass", ar)
        self.assertIn("smtp.mailfrom=bounce@good.test", ar)
        self.assertIn("dkim=pass", ar)
        self.assertIn("header.d=good.test header.s=sel1", ar)
        self.assertIn("dmarc=pass", ar)
        self.assertIn("header.from=good.test", ar)
        # the HELO identity apart (RFC 7208 §2.3): mx.remote.example is outside the zone the
        # test's DNS serves (REFUSED): a temporary result, and the message is delivered
        self.assertIn("spf=temperror", ar)
        self.assertIn("smtp.helo=mx.remote.example", ar)
        self.assertEqual(self.dkimpy(stored), "pass", "python3-dkim agrees on the stored message")
        # smtpd's line reaches the log through s6-log, a moment after the message is stored
        self.assertTrue(self.m.wait_for(lambda: re.search(
            r"inbound .*spf=pass dkim=pass:good.test dmarc=pass", self.m.log("smtp")), 10),
            self.m.log("smtp")[-2000:])
        # the other canonicalizations verify too, python3-dkim agreeing
        for canon in ("relaxed/relaxed", "simple/simple", "simple/relaxed"):
            stored = self.deliver(self.sign(self.message("c-%s-%d" % (canon, time.time_ns())),
                                            canon), "bounce@good.test")
            self.assertIn("dkim=pass (good signature) header.d=good.test", self.ours(stored),
                          canon)
            self.assertEqual(self.dkimpy(stored), "pass", canon)
        # rsa-sha1 is not accepted (RFC 8301), whatever the signature
        stored = self.deliver(self.sign(self.message("sha1-%d" % time.time_ns()), alg="rsa-sha1"),
                              "bounce@good.test")
        self.assertIn("dkim=permerror (rsa-sha1 is not accepted", self.ours(stored))
        # the same message from a client that logged in (AUTH on port 25) gets no header
        self.m.add_user("jiro@example.test", "inbound-pw-2")
        tag = "authed-%d" % time.time_ns()
        with smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=30) as s:
            s.ehlo(HELO)
            s.login("jiro@example.test", "inbound-pw-2")
            s.sendmail("jiro@example.test", [RCPT], self.sign(self.message(tag)))
        got = self.m.wait_for(lambda: [p for p in self.m.messages(RCPT)
                                       if tag.encode() in open(p, "rb").read()], 30)
        self.assertTrue(got)
        self.assertEqual(ar_fields(open(got[0], "rb").read()), [])

    def test_keys_of_1024_and_4096_bits_verify(self):
        """RFC 8301 §3.2 (SPECS §10): a verifier accepts RSA keys of 1024 to 4096 bits; the
        4096-bit key record is 736 octets of p= in four strings, its b= 684 octets."""
        for bits, path in sorted(self.sized.items()):
            msg = self.sign(self.message("bits-%d-%d" % (bits, time.time_ns())), sel="b%d" % bits,
                            key=path)
            stored = self.deliver(msg, "bounce@good.test")
            self.assertIn("dkim=pass (good signature) header.d=good.test header.s=b%d" % bits,
                          self.ours(stored))
            self.assertEqual(self.dkimpy(stored), "pass", bits)

    def test_changed_body_fails_and_unsigned_is_none(self):
        msg = self.sign(self.message("bad-%d" % time.time_ns()))
        msg = msg.replace(b"Hello,", b"Hello, changed")
        stored = self.deliver(msg, "bounce@good.test")
        ar = self.ours(stored)
        self.assertIn("dkim=fail (the body hash does not match", ar)
        self.assertIn("header.d=good.test", ar)
        self.assertIn("dmarc=pass", ar, "SPF still passes aligned")
        self.assertEqual(self.dkimpy(stored), "fail", "python3-dkim agrees")
        stored = self.deliver(self.message("none-%d" % time.time_ns()), "bounce@good.test")
        ar = self.ours(stored)
        self.assertIn("dkim=none", ar)

    def test_signature_tags_and_obsolete_from(self):
        # i= must be d= or under it (RFC 6376 §6.1.1): a good signature with another domain's
        # identity is not a pass
        ok = self.sign_by_hand(self.message("i-ok-%d" % time.time_ns()), "i=ceo@good.test; ")
        stored = self.deliver(ok, "bounce@good.test")
        self.assertIn("dkim=pass (good signature) header.d=good.test", self.ours(stored))
        self.assertEqual(self.dkimpy(stored), "pass", "the hand-made signature is right")
        bad = self.sign_by_hand(self.message("i-bad-%d" % time.time_ns()), "i=ceo@evil.test; ")
        stored = self.deliver(bad, "bounce@good.test")
        self.assertIn("dkim=permerror", self.ours(stored))
        self.assertEqual(self.dkimpy(stored), "fail", "python3-dkim agrees")
        # white space and folding after "b=" are not hashed (§3.7), simple canonicalization too
        for sep in (b" ", b"\r\n\t"):
            msg = self.sign(self.message("bsep-%d" % time.time_ns()), "simple/simple")
            self.assertIn(b"\r\n b=", msg)
            msg = msg.replace(b"\r\n b=", b"\r\n b=" + sep, 1)
            stored = self.deliver(msg, "bounce@good.test")
            self.assertIn("dkim=pass (good signature)", self.ours(stored), sep)
            self.assertEqual(self.dkimpy(stored), "pass", sep)
        # "From :" (RFC 5322 §4.5.2 obs-from) is the From field DMARC evaluates
        msg = self.message("obs-from-%d" % time.time_ns()).replace(b"From: ", b"From : ", 1)
        stored = self.deliver(msg, "a@fail.test")
        self.assertIn("dmarc=fail (p=reject) header.from=good.test", self.ours(stored))

    def test_signatures_past_five_are_named_not_verified(self):
        """SPECS §10: a verifier tolerates many signatures and bounds its work: the first 5
        (top down) are verified, the rest named as not verified, and the message is
        delivered. Here a good signature on top, then 6 of an unknown domain."""
        bogus = "".join("DKIM-Signature: v=1; a=rsa-sha256; d=bogus%d.test; s=x; h=from; "
                        "bh=AAAA; b=AAAA\n" % i for i in range(6))
        msg = self.sign(self.message("sigs-%d" % time.time_ns(), extra=bogus))
        ar = self.ours(self.deliver(msg, "bounce@good.test"))
        self.assertEqual(len(re.findall(r"dkim=", ar)), 5, ar)
        self.assertIn("dkim=pass (good signature) header.d=good.test", ar)
        self.assertIn("header.d=bogus3.test", ar)
        self.assertNotIn("bogus4.test", ar)
        self.assertIn("(2 more signatures not verified)", ar)
        self.assertIn("dmarc=pass", ar)

    def test_header_of_too_many_fields_is_permerror_not_none(self):
        """The verifier indexes at most 4096 header fields (DKIMV_FIELDS_MAX, a bound on its
        memory). A signed message with more gets dkim=permerror with the reason and the
        signature's d= and s= (RFC 6376 §6.1: PERMFAIL), not dkim=none as if it were unsigned;
        the same signature verifies when the header is within the bound, and python3-dkim
        finds both good. A message with as many fields and no signature stays dkim=none."""
        for fields, want in ((4000, "dkim=pass (good signature) header.d=good.test "
                                     "header.s=sel1"),
                             (4200, "dkim=permerror (the header has over 4096 fields, too many "
                                    "to verify) header.d=good.test header.s=sel1")):
            filler = "".join("X-Trace-%04d: hop %d\n" % (i, i) for i in range(fields))
            msg = self.sign(self.message("fields-%d-%d" % (fields, time.time_ns()),
                                         extra=filler))
            stored = self.deliver(msg, "bounce@good.test")
            self.assertEqual(stored.count(b"\nX-Trace-"), fields)
            ar = self.ours(stored)
            self.assertIn(want, ar)
            self.assertNotIn("dkim=none", ar)
            self.assertIn("dmarc=pass", ar, "SPF still passes aligned")
            self.assertEqual(self.dkimpy(stored), "pass", fields)
        self.assertTrue(self.m.wait_for(lambda: re.search(
            r"inbound .*dkim=permerror:good\.test ", self.m.log("smtp")), 10),
            self.m.log("smtp")[-2000:])
        unsigned = self.message("fields-none-%d" % time.time_ns(), extra=filler)
        self.assertIn("dkim=none (no signature)",
                      self.ours(self.deliver(unsigned, "bounce@good.test")))

    def test_spf_results_match_pyspf(self):
        want = {"a@good.test": "pass", "a@fail.test": "fail", "a@soft.test": "softfail",
                "a@temp.test": "temperror", "a@nothing.test": "none", "a@many1.test": "pass",
                "a@many2.test": "pass"}
        got = {}
        for sender in want:
            t = time.monotonic()
            stored = self.deliver(self.message("spf-%d" % time.time_ns(), frm="x@nothing.test"),
                                  sender)
            if sender == "a@temp.test":
                self.assertLess(time.monotonic() - t, 15, "SPF_TIMEOUT bounds the lookups")
            ar = self.ours(stored)
            got[sender] = re.search(r"spf=(\w+)", ar).group(1)
            self.assertIn("dmarc=none header.from=nothing.test", ar)
        self.assertEqual(got, want)
        if not have_pyspf():
            self.skipTest("python3-spf is not installed for %s (tests/deps.sh)" % DEB_PYTHON)
        theirs = pyspf(self.dns.port, [("127.0.0.1", s, "localhost") for s in want], timeout=3)
        self.assertEqual(dict(zip(want, theirs)), got, "pyspf agrees")

    def test_dmarc_reject_policy_with_the_option_off_and_on(self):
        # off (the default): delivered, the header says fail
        stored = self.deliver(self.message("dmarc-off-%d" % time.time_ns()), "a@fail.test")
        ar = self.ours(stored)
        self.assertIn("spf=fail", ar)
        self.assertIn("dmarc=fail (p=reject) header.from=good.test", ar)
        # a subdomain without its own record: the organizational domain's sp=
        stored = self.deliver(self.message("dmarc-sub-%d" % time.time_ns(), frm="x@sub.good.test"),
                              "a@fail.test")
        self.assertIn("dmarc=fail (p=reject of the organizational domain) "
                      "header.from=sub.good.test", self.ours(stored))
        # two From addresses, or a second From: field (mail programs show only one of them):
        # not evaluable, treated as a failure (SPECS §12)
        msg = self.message("dmarc-two-%d" % time.time_ns(), frm="a@good.test>, <b@good.test")
        self.assertIn("dmarc=fail (not evaluable", self.ours(self.deliver(msg, "a@fail.test")))
        two_fields = self.sign(self.message("dmarc-twofields-%d" % time.time_ns())).replace(
            b"From: Taro <taro@good.test>\r\n",
            b"From: Taro <taro@good.test>\r\nFrom: Bank <ceo@bank.test>\r\n", 1)
        self.assertIn("dmarc=fail (not evaluable", self.ours(self.deliver(two_fields,
                                                                         "a@fail.test")))
        # on: 550 5.7.1 with the reason, nothing stored
        self.m.set_env("DMARC_REJECT", "1")
        self.m.restart("smtp")
        try:
            before = len(self.m.messages(RCPT))
            with smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=30) as s:
                s.ehlo(HELO)
                with self.assertRaises(smtplib.SMTPDataError) as e:
                    s.sendmail("a@fail.test", [RCPT], self.message("dmarc-on-%d" % time.time_ns()))
            self.assertEqual(e.exception.smtp_code, 550)
            self.assertIn(b"5.7.1", e.exception.smtp_error)
            self.assertIn(b"DMARC policy of reject", e.exception.smtp_error)
            # two From: fields: refused too, with what to do
            with smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=30) as s:
                s.ehlo(HELO)
                with self.assertRaises(smtplib.SMTPDataError) as e:
                    s.sendmail("bounce@good.test", [RCPT], two_fields.replace(
                        b"dmarc-twofields", b"dmarc-twofields-on"))
            self.assertEqual(e.exception.smtp_code, 550)
            self.assertIn(b"5.7.1 this message does not have exactly one From: address",
                          e.exception.smtp_error)
            # a message that passes is still delivered
            self.deliver(self.sign(self.message("dmarc-on-ok-%d" % time.time_ns())), "a@fail.test")
            self.assertEqual(len(self.m.messages(RCPT)), before + 1)
            self.assertTrue(self.m.wait_for(lambda: "refused (DMARC_REJECT)" in self.m.log("smtp"),
                                            10), self.m.log("smtp")[-2000:])
        finally:
            os.unlink(os.path.join(self.m.root, "etc", "env", "DMARC_REJECT"))
            self.m.restart("smtp")

    def test_dmarc_policy_stands_beside_a_broken_tag(self):
        """RFC 7489 §6.3: a syntax error in a tag other than v= and p= takes that tag's default
        (adkim=relaxed is r, pct=100% is 100); the domain's p=reject still applies, it does
        not become 'no policy'."""
        for dom in ("typo1.test", "typo2.test"):
            stored = self.deliver(self.message("dmarc-typo-%d" % time.time_ns(),
                                               frm="x@" + dom), "a@fail.test")
            self.assertIn("dmarc=fail (p=reject) header.from=" + dom, self.ours(stored))

    def test_dmarc_temperror_of_an_aligned_check_is_not_a_reject(self):
        """A DNS failure never loses mail: when DMARC fails only because an SPF or DKIM check
        of an aligned domain ended in temperror (a later attempt might pass), the result is
        dmarc=temperror and DMARC_REJECT=1 does not refuse the message. A temperror of a
        check that is not aligned changes nothing: still a failure, still refused. One try
        of 1 s per query, so a key lookup that times out leaves the DMARC lookups after it
        time within SPF_TIMEOUT (3 s here; 20 s and 2 x 2 s by default)."""
        settings = {"DMARC_REJECT": "1", "DNS_TIMEOUT": "1", "DNS_TRIES": "1"}
        for k, v in settings.items():
            self.m.set_env(k, v)
        self.m.restart("smtp")
        try:
            # SPF of temp.test times out; its From is temp.test, p=reject
            stored = self.deliver(self.message("dmarc-tempspf-%d" % time.time_ns(),
                                               frm="x@temp.test"), "a@temp.test")
            ar = self.ours(stored)
            self.assertIn("spf=temperror", ar)
            self.assertIn("dmarc=temperror (p=reject", ar)
            self.assertIn("header.from=temp.test", ar)
            # the key of d=slow.good.test times out; the From is good.test, p=reject (relaxed)
            msg = self.sign(self.message("dmarc-tempdkim-%d" % time.time_ns()),
                            dom="slow.good.test")
            ar = self.ours(self.deliver(msg, "a@fail.test"))
            self.assertIn("dkim=temperror", ar)
            self.assertIn("header.d=slow.good.test", ar)
            self.assertIn("dmarc=temperror (p=reject", ar)
            # SPF of temp.test times out, but the From is good.test: not aligned, refused
            with smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=30) as s:
                s.ehlo(HELO)
                with self.assertRaises(smtplib.SMTPDataError) as e:
                    s.sendmail("a@temp.test", [RCPT],
                               self.message("dmarc-tempother-%d" % time.time_ns()))
            self.assertEqual(e.exception.smtp_code, 550)
            self.assertIn(b"DMARC policy of reject", e.exception.smtp_error)
        finally:
            for k in settings:
                os.unlink(os.path.join(self.m.root, "etc", "env", k))
            self.m.restart("smtp")

    def test_forged_results_removed_and_others_kept(self):
        extra = ("Authentication-Results: %s; dkim=pass header.d=bank.test\n"
                 "Authentication-Results: (comment) %s;\n spf=pass\n"
                 "Authentication-Results: other.example; spf=pass smtp.mailfrom=x@bank.test\n"
                 % (ME.upper(), ME))
        stored = self.deliver(self.message("forged-%d" % time.time_ns(), extra=extra),
                              "bounce@good.test")
        fields = ar_fields(stored)
        self.assertEqual(len(fields), 2, fields)
        self.assertIn("spf=pass", self.ours(stored))
        self.assertNotIn("bank.test", self.ours(stored))
        self.assertIn("Authentication-Results: other.example; spf=pass smtp.mailfrom=x@bank.test",
                      fields)
        self.assertTrue(self.m.wait_for(lambda: "removed 2 Authentication-Results"
                                        in self.m.log("smtp"), 10), self.m.log("smtp")[-2000:])

    FORGED = ("Authentication-Results: %s; dmarc=pass header.from=bank.test\n"
              "Authentication-Results: (comment) %s;\n spf=pass\n"
              "Authentication-Results: other.example; spf=pass smtp.mailfrom=x@bank.test\n"
              % (ME.upper(), ME))

    def test_forged_results_removed_from_a_customers_own_mail(self):
        """RFC 8601 §5: a customer who logs in on 587 is not a trusted server either. A
        message to another of our mailboxes carrying a "dmarc=pass" under our host name (what
        a mail program's DKIM add-on would show as our verdict) loses it; another server's
        field stays. The message streams to the queue (no inbound checks), so the header
        section is held back until its end."""
        tag = "own-%d" % time.time_ns()
        with smtplib.SMTP("127.0.0.1", self.m.port("submission"), timeout=30) as c:
            c.login(RCPT, "inbound-pw-1")
            c.sendmail(RCPT, [RCPT], self.message(tag, frm=RCPT, extra=self.FORGED))
        got = self.m.wait_for(lambda: [p for p in self.m.messages(RCPT)
                                       if tag.encode() in open(p, "rb").read()], 20)
        self.assertTrue(got, self.m.log("submission")[-2000:])
        stored = open(got[0], "rb").read()
        self.assertEqual(ar_fields(stored),
                         ["Authentication-Results: other.example; spf=pass "
                          "smtp.mailfrom=x@bank.test"], stored[:2000])
        self.assertIn(b"Subject: %s\n" % tag.encode(), stored)
        self.assertIn(b"\n\nHello,\n  a line with  spaces \n", stored)
        self.assertTrue(self.m.wait_for(
            lambda: "removed 2 Authentication-Results field(s) claiming %s" % ME
            in self.m.log("submission"), 10), self.m.log("submission")[-2000:])

    def test_forged_results_removed_with_the_checks_off(self):
        """INBOUND_CHECKS=0: no results of ours are added, and a forged one from outside is
        still removed (it would pass for ours)."""
        self.m.set_env("INBOUND_CHECKS", "0")
        self.m.restart("smtp")
        try:
            stored = self.deliver(self.message("off-%d" % time.time_ns(), extra=self.FORGED),
                                  "bounce@good.test")
        finally:
            os.unlink(os.path.join(self.m.root, "etc", "env", "INBOUND_CHECKS"))
            self.m.restart("smtp")
        self.assertEqual(ar_fields(stored),
                         ["Authentication-Results: other.example; spf=pass "
                          "smtp.mailfrom=x@bank.test"], stored[:2000])
        self.assertIn(b"\n\nHello,\n", stored)

    def test_no_resolver_delivers_without_the_header(self):
        """No usable resolver: the message is delivered as it came (our Received: on top, the
        forged field still removed), without results, and the log says the checks did not run."""
        self.m.set_env("YUBIN_RESOLVER", "not-an-address")
        self.m.restart("smtp")
        try:
            extra = "Authentication-Results: %s; dkim=pass header.d=bank.test\n" % ME
            stored = self.deliver(self.message("nodns-%d" % time.time_ns(), extra=extra),
                                  "bounce@good.test")
        finally:
            self.m.set_env("YUBIN_RESOLVER", self.dns.env()["YUBIN_RESOLVER"])
            self.m.restart("smtp")
        rest = re.sub(rb"^(Return-Path|Delivered-To):.*\n", b"", stored, flags=re.M)
        self.assertTrue(rest.startswith(b"Received: from mx.remote.example"), stored[:300])
        self.assertEqual(ar_fields(stored), [])
        self.assertIn(b"Hello,\n", stored)
        self.assertTrue(self.m.wait_for(lambda: "inbound checks not run" in self.m.log("smtp"), 10),
                        self.m.log("smtp")[-2000:])

    def through(self, dns, msg, sender):
        """Deliver msg with dns as smtpd's resolver: the stored message, and the seconds from
        the start of the sending to its storing."""
        self.m.set_env("YUBIN_RESOLVER", dns.env()["YUBIN_RESOLVER"])
        self.m.restart("smtp")
        try:
            t = time.monotonic()
            stored = self.deliver(msg, sender)
            return stored, time.monotonic() - t
        finally:
            self.m.set_env("YUBIN_RESOLVER", self.dns.env()["YUBIN_RESOLVER"])
            self.m.restart("smtp")

    def test_first_records_are_asked_together(self):
        """The records every check of a message starts from (the SPF records of the MAIL FROM
        domain and of the HELO name, the From domain's DMARC record, the key of its DKIM
        signature) are asked of the resolver together, so a slow resolver keeps the sending
        server waiting after its final dot once, not once per record: a resolver that answers
        each question after 0.4 s has all four questions before it sends its first reply, and
        the results are those of asking one by one (the signature passes with the key it
        served)."""
        dns = ScriptedDns(txt={"sel1._domainkey.good.test": [self.keyrec]}, delay=0.4)
        msg = self.sign(self.message("ahead-%d" % time.time_ns(), frm="x@from-ahead.test"))
        try:
            stored, took = self.through(dns, msg, "a@sender-ahead.test")
        finally:
            dns.stop()
        asks = ["ask sender-ahead.test", "ask mx.remote.example", "ask _dmarc.from-ahead.test",
                "ask sel1._domainkey.good.test"]
        self.assertEqual(sorted(dns.events[:4]), sorted(asks), dns.events)
        self.assertEqual(sorted(dns.events), sorted(asks + [a.replace("ask", "reply")
                                                            for a in asks]), dns.events)
        ar = self.ours(stored)
        self.assertIn("spf=none", ar)
        self.assertIn("smtp.mailfrom=a@sender-ahead.test", ar)
        self.assertIn("dkim=pass", ar)
        self.assertIn("header.d=good.test", ar)
        self.assertIn("dmarc=none", ar)
        self.assertIn("header.from=from-ahead.test", ar)
        print("\n  four records, each answered after 0.4 s: the message was stored %.2f s after "
              "it was sent" % took, file=sys.stderr)

    def test_a_failed_early_answer_is_asked_again(self):
        """An early answer the checks cannot take (SERVFAIL here) is asked again, as a lookup
        of its own would be: that early question was the first of DNS_TRIES (2) tries, so the
        record is asked twice in all, and the second answer counts (spf=pass)."""
        dns = ScriptedDns(txt={"retry-ahead.test": ["v=spf1 ip4:127.0.0.1 -all"]},
                          servfail_first=["retry-ahead.test"])
        try:
            stored = self.through(dns, self.message("ahead-retry-%d" % time.time_ns(),
                                                    frm="x@retry-ahead.test"),
                                  "a@retry-ahead.test")[0]
        finally:
            dns.stop()
        self.assertEqual(dns.events.count("ask retry-ahead.test"), 2, dns.events)
        ar = self.ours(stored)
        self.assertIn("spf=pass", ar)
        self.assertIn("smtp.mailfrom=a@retry-ahead.test", ar)


if __name__ == "__main__":
    unittest.main()
