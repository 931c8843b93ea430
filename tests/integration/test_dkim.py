"""DKIM signing (docs/dkim.md): a message submitted on 587 with SMTP AUTH and relayed to a test
sink verifies with Debian's python3-dkim against the key record `mailacct` printed, served by a
real DNS server (dnsmasq) on loopback; a message changed in transit fails; 1,000 header lines
and long folded lines still verify; every line of the signature field is at most 78
characters (long domains and selectors, 4096-bit keys, a long h=); 465, 25 with AUTH and POP
before SMTP are signed too; rotation signs with the new selector and lists both records;
a domain without a key sends unsigned and the log names it; the key is readable by the signer's
uid only; a signer that is down defers (451) and loses nothing."""
import base64
import os
import re
import shutil
import smtplib
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IS_ROOT, MailRoot, can_open, loop_children, open_paths  # noqa: E402
from smtpsink import Sink  # noqa: E402
from test_remote import Dns  # noqa: E402

# The verifier is Debian's python3-dkim, run by Debian's python3 (the one it is installed for).
DEB_PYTHON = "/usr/bin/python3"
HAVE_DKIMPY = os.path.exists("/usr/lib/python3/dist-packages/dkim/__init__.py")
PW = "dkim-pw-1"
SINK_DOMAIN = "sink-dkim.test"

VERIFY = r"""
import sys, dkim, dns.resolver
port = int(sys.argv[1])
def txt(name, timeout=5):
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = port
    r.lifetime = timeout
    try:
        a = r.resolve(name.decode().rstrip("."), "TXT")
    except dns.exception.DNSException:
        return None
    return b"".join(b"".join(rd.strings) for rd in a)
msg = sys.stdin.buffer.read()
d = dkim.DKIM(msg)
try:
    ok = d.verify(dnsfunc=txt)
except dkim.ValidationError as e:      # e.g. "body hash mismatch": a fail, not a crash
    ok = False
    print(e, file=sys.stderr)
print("pass" if ok else "fail", d.keysize if ok else 0)
"""


def unstuff(data):
    """The message as the sink's DATA carried it: dot-stuffing undone, the final dot gone."""
    assert data.endswith(b"\r\n.\r\n"), data[-20:]
    lines = data[:-3].split(b"\r\n")
    return b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines)


def txt_records(out, domain):
    """{selector: [strings]} from the zone lines mailacct printed for domain."""
    recs = {}
    for m in re.finditer(r"^(\S+)\._domainkey\.%s\. IN TXT (.*)$" % re.escape(domain), out,
                         re.M):
        recs[m.group(1)] = re.findall(r'"([^"]*)"', m.group(2))
    return recs


@unittest.skipUnless(shutil.which("dnsmasq") and HAVE_DKIMPY,
                     "dnsmasq or python3-dkim (Debian) missing: make deps")
class DkimTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sink = Sink().start()
        cls.m = MailRoot(prefix="yubin-dkim-").start()
        with open(os.path.join(cls.m.root, "etc", "routes"), "a") as f:
            f.write("%s:127.0.0.1:%d\n" % (SINK_DOMAIN, cls.sink.port))
        subprocess.run([cls.m.bin("mkmaps"), "--root", cls.m.root], env=cls.m.env(),
                       check=True, capture_output=True)
        cls.m.add_user("taro@example.test", PW)
        cls.dns = None

    @classmethod
    def tearDownClass(cls):
        if cls.dns:
            cls.dns.stop()
        cls.m.stop()
        cls.sink.stop()

    # --- helpers
    def records(self, domain):
        out = self.m.mailacct("domain", "dkim", domain).stdout
        return out, txt_records(out, domain)

    def serve(self, domain):
        """(Re)start dnsmasq with every DKIM record mailacct lists for domain."""
        out, recs = self.records(domain)
        args = ["--txt-record=%s._domainkey.%s,%s" % (sel, domain, ",".join(strs))
                for sel, strs in recs.items()]
        if self.__class__.dns:
            self.__class__.dns.stop()
        self.__class__.dns = Dns(*args)
        return recs

    def verify(self, msg):
        p = subprocess.run([DEB_PYTHON, "-c", VERIFY, str(self.dns.port)], input=msg,
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return p.stdout.decode().split()

    def submit(self, msg, user="taro@example.test", sender=None, rcpt="x@" + SINK_DOMAIN):
        """AUTH on 587 and send; returns what the sink received (unstuffed)."""
        marker = re.search(rb"Message-ID: <([^>]+)>", msg).group(1)
        s = smtplib.SMTP("127.0.0.1", self.m.port("submission"), timeout=30)
        s.login(user, PW)
        s.sendmail(sender or user, [rcpt], msg)
        s.quit()
        got = self.m.wait_for(lambda: [d for _, _, d in self.sink.messages() if marker in d], 20)
        self.assertEqual(len(got), 1, self.m.log("queue") + self.m.log("inject"))
        return unstuff(got[0])

    def message(self, tag, sender="taro@example.test", extra=b"", body=None):
        return (b"From: Taro <%s>\r\nTo: x@%s\r\nSubject: dkim %s\r\n"
                b"Date: Thu, 03 Dec 2026 12:00:00 +0900\r\nMessage-ID: <%s.%d@example.test>\r\n"
                b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n%s\r\n%s"
                % (sender.encode(), SINK_DOMAIN.encode(), tag.encode(), tag.encode(),
                   time.time_ns(), extra,
                   body if body is not None else b"hello  \t world \r\n\r\nbye\r\n\r\n\r\n"))

    # --- tests
    def test_signed_on_587_verifies_and_a_change_fails(self):
        recs = self.serve("example.test")
        self.assertEqual(len(recs), 1, recs)
        sel = list(recs)[0]
        self.assertRegex(sel, r"^y\d{8}[b-z]?$")
        got = self.submit(self.message("basic"))
        self.assertEqual(self.verify(got), ["pass", "2048"])
        sig = re.search(rb"^DKIM-Signature:(.*?)\r\n(?![ \t])", got, re.M | re.S).group(1)
        flat = re.sub(rb"\s+", b"", sig)
        for tag in (b"a=rsa-sha256;", b"c=relaxed/relaxed;", b"d=example.test;",
                    b"s=" + sel.encode() + b";"):
            self.assertIn(tag, flat)
        self.assertRegex(flat, rb"t=\d+;")
        self.assertRegex(flat, rb"h=from:from:subject:date:to:message-id:mime-version:"
                               rb"content-type;")     # From once more than present
        self.assertNotIn(b"l=", flat)
        # the queue log says what was signed (through s6-log: maybe after the sink has it)
        self.assertTrue(self.m.wait_for(lambda: "dkim=signed d=example.test s=%s" % sel
                                        in self.m.log("inject"), 10),
                        self.m.log("inject")[-2000:])
        # changed in transit: body, a signed header, an added From
        self.assertEqual(self.verify(got.replace(b"bye", b"bye!"))[0], "fail")
        self.assertEqual(self.verify(got.replace(b"Subject: dkim", b"Subject: DKIM"))[0], "fail")
        self.assertEqual(self.verify(got.replace(b"\r\n\r\nhello", b"\r\nFrom: evil@bad.test"
                                                                    b"\r\n\r\nhello"))[0], "fail")

    def test_read_receipt_with_the_null_sender_leaves_signed(self):
        """A read receipt from a mail program (RFC 8098 §2.1: MAIL FROM:<>) after AUTH on 587
        is accepted, leaves with the null sender, and is signed with the login's domain, as
        a customer's own server's bounces relayed through us are (RFC 5321 §4.5.5)."""
        self.serve("example.test")
        msg = self.message("mdn", extra=b"Auto-Submitted: auto-replied\r\n")
        s = smtplib.SMTP("127.0.0.1", self.m.port("submission"), timeout=30)
        s.login("taro@example.test", PW)
        s.sendmail("", ["x@" + SINK_DOMAIN], msg)
        s.quit()
        got = self.m.wait_for(lambda: [(mail, d) for mail, _, d in self.sink.messages()
                                       if b"Subject: dkim mdn" in d], 20)
        self.assertEqual(len(got), 1, self.m.log("queue") + self.m.log("inject"))
        self.assertEqual(got[0][0].split()[1][:7].upper(), b"FROM:<>", got[0][0])
        self.assertEqual(self.verify(unstuff(got[0][1])), ["pass", "2048"])

    def test_signer_injector_and_deliverer_serve_message_after_message(self):
        """dkim-sign, queue-inject and deliver keep the child of their loop for the next
        request (*_PROCESS_USES, lib/ipcserve): the second signed message, to a local mailbox
        and to another server, is signed, committed and stored by the processes that did the
        first, both arrive signed and verifying, and between messages those processes hold
        nothing open or mapped of the queue, the Maildir or the message."""
        self.serve("example.test")
        me = "taro@example.test"
        before = len(self.m.messages(me))
        seen = []
        for tag in ("reuse-1", "reuse-2"):
            msg = self.message(tag)
            with smtplib.SMTP("127.0.0.1", self.m.port("submission"), timeout=30) as c:
                c.login(me, PW)
                c.sendmail(me, [me, "x@" + SINK_DOMAIN], msg)
            marker = re.search(rb"Message-ID: <([^>]+)>", msg).group(1)
            got = self.m.wait_for(lambda: [d for _, _, d in self.sink.messages() if marker in d],
                                  20)
            self.assertEqual(len(got), 1, self.m.log("queue"))
            self.assertEqual(self.verify(unstuff(got[0]))[0], "pass")
            self.m.wait_for(lambda: len(self.m.messages(me)) == before + len(seen) + 1, 20)
            seen.append({n: set(loop_children(self.m, n))
                         for n in ("dkim-sign", "queue-inject", "deliver")})
        mine = self.m.messages(me)[before:]
        self.assertEqual(len(mine), 2, self.m.log("deliver"))
        for path in mine:
            with open(path, "rb") as f:
                self.assertEqual(self.verify(f.read().replace(b"\n", b"\r\n"))[0], "pass")
        for name in ("dkim-sign", "queue-inject", "deliver"):
            self.assertTrue(seen[0][name] & seen[1][name],
                            "%s: the same process served both: %s then %s"
                            % (name, sorted(seen[0][name]), sorted(seen[1][name])))
            for pid in seen[1][name]:
                held = [x for x in open_paths(pid)
                        if "/queue/" in x or "/Maildir/" in x or "/mail/" in x or "memfd" in x]
                self.assertEqual(held, [], "%s %d" % (name, pid))

    def test_thousand_header_lines_and_long_folded_lines_verify(self):
        self.serve("example.test")
        filler = b"".join(b"X-Filler-%04d: value %d  with   spaces\t\r\n" % (i, i)
                          for i in range(1000))
        refs = b"References:" + b"".join(b"\r\n\t<%d.%s@long.example.test>" % (i, b"r" * 60)
                                          for i in range(40)) + b"\r\n"
        long_to = b"Cc:" + b",\r\n ".join(b"person%d@%s" % (i, SINK_DOMAIN.encode())
                                          for i in range(60)) + b"\r\n"
        body = b"".join(b"line %d" % i + b" " * (i % 7) + b"x" * 900 + b"\r\n" for i in range(200))
        got = self.submit(self.message("big", extra=filler + refs + long_to, body=body))
        self.assertEqual(got.count(b"X-Filler-"), 1000)
        self.assertEqual(self.verify(got)[0], "pass")

    def operator_key(self, domain, sel, bits):
        """An RSA key of bits made with openssl and put in place as docs/dkim.md lays out
        ROOT/dkim/DOMAIN/ (SELECTOR.key, the selector file; owner and mode as mailacct's key
        has them), signing from the next message; its DNS p= value, taken from the key."""
        folder = os.path.join(self.m.root, "dkim", domain)
        st = os.stat(os.path.join(folder, open(os.path.join(folder, "selector")).read()
                                  .strip() + ".key"))
        key = os.path.join(folder, sel + ".key")
        subprocess.run(["openssl", "genrsa", "-traditional", "-out", key, str(bits)], check=True,
                       capture_output=True)
        der = subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        tmp = os.path.join(folder, "selector.tmp")
        with open(tmp, "w") as f:
            f.write(sel + "\n")
        for path in (key, tmp):
            os.chmod(path, 0o600)
            os.chown(path, st.st_uid, st.st_gid)
        os.rename(tmp, os.path.join(folder, "selector"))
        return base64.b64encode(der).decode()

    def test_signature_lines_fit_78_columns(self):
        """RFC 5322 §2.1.1: every line of the DKIM-Signature field dkim-sign writes is at most
        78 characters, with short and long domains (up to 74 octets: "\td=DOMAIN;" fills a
        line), selectors up to 63 octets, 2048 and 4096-bit keys and a long h= list; each
        message still verifies (the folding white space in b= is not signed, RFC 6376 §3.5,
        §3.7)."""
        long74 = "x" * 40 + "." + "y" * 28 + ".test"
        cases = [   # domain, selector (None: mailacct's), key bits
            ("example.test", None, 2048),
            ("fold-" + "a" * 10 + ".test", None, 2048),      # " d=D;" ends line 1 at 78
            ("fold-" + "b" * 11 + ".test", "s" * 12, 4096),  # one octet more: d= folds
            ("f" * 40 + ".test", "sel-" + "q" * 59, 4096),
            (long74, None, 2048),
            (long74, "k" * 63, 4096),
        ]
        refs = b"References:" + b"".join(b" <%d@example.test>" % i for i in range(3)) + b"\r\n"
        many = (b"Reply-To: r@example.test\r\nCc: c@example.test\r\nCc: d@example.test\r\n"
                + b"".join(b"%s: <x@example.test>\r\n" % n for n in (
                    b"List-Id", b"List-Help", b"List-Unsubscribe", b"List-Subscribe",
                    b"List-Post", b"List-Owner", b"List-Archive", b"Resent-Date",
                    b"Resent-From", b"Resent-To", b"Resent-Cc", b"In-Reply-To"))
                + refs + b"Content-Transfer-Encoding: 7bit\r\n")
        records = []
        for domain, sel, bits in cases:
            if domain != "example.test" and not os.path.isdir(
                    os.path.join(self.m.root, "dkim", domain)):
                self.m.mailacct("domain", "add", domain, "--plan", "basic")
                self.m.add_user("taro@" + domain, PW)
            if sel:
                p = self.operator_key(domain, sel, bits)
                records.append("--txt-record=%s._domainkey.%s,%s" % (sel, domain, ",".join(
                    "v=DKIM1; k=rsa; p=%s" % p[:200] if i == 0 else p[i:i + 250]
                    for i in [0] + list(range(200, len(p), 250)))))
            else:
                for name, strs in self.records(domain)[1].items():
                    records.append("--txt-record=%s._domainkey.%s,%s" % (name, domain,
                                                                             ",".join(strs)))
            if self.__class__.dns:
                self.__class__.dns.stop()
            self.__class__.dns = Dns(*records)
            for extra in (b"", many):
                with self.subTest(domain=domain, sel=sel, bits=bits, many=bool(extra)):
                    user = "taro@" + domain
                    got = self.submit(self.message("fold", sender=user, extra=extra), user=user)
                    field = re.search(rb"^DKIM-Signature:.*?\r\n(?![ \t])", got,
                                      re.M | re.S).group(0)
                    lines = field[:-2].split(b"\r\n")
                    self.assertEqual([l for l in lines if len(l) > 78], [], field.decode())
                    flat = re.sub(rb"\s+", b"", field)
                    self.assertIn(b"d=%s;" % domain.encode(), flat)
                    if sel:
                        self.assertIn(b"s=%s;" % sel.encode(), flat)
                    if extra:
                        self.assertIn(b":list-archive:", flat)
                    self.assertEqual(self.verify(got), ["pass", str(bits)], field.decode())

    def test_rotate_signs_with_new_selector_and_keeps_old_record(self):
        before = set(self.records("example.test")[1])
        r = self.m.mailacct("domain", "dkim", "example.test", "rotate")
        recs = txt_records(r.stdout, "example.test")
        new = set(recs) - before
        self.assertEqual(len(new), 1, r.stdout)
        new = new.pop()
        self.assertTrue(before <= set(recs), "the old records stay listed")
        self.assertIn("(selector signing now: %s)" % new, r.stdout)
        self.assertIn("署名に使用中のセレクタ: %s" % new, r.stdout)
        for strs in recs.values():
            self.assertTrue(all(len(s) <= 255 for s in strs))
            self.assertTrue("".join(strs).startswith("v=DKIM1; k=rsa; p=MIIBIjAN"))
        self.assertIn('example.test. IN TXT "v=spf1 ', r.stdout)
        self.assertIn('_dmarc.example.test. IN TXT "v=DMARC1; p=none; '
                      'rua=mailto:postmaster@example.test"', r.stdout)
        self.serve("example.test")
        got = self.submit(self.message("rotated"))
        self.assertIn(b"s=%s;" % new.encode(), re.sub(rb"\s+", b"", got))
        self.assertEqual(self.verify(got)[0], "pass")
        # the one signing now cannot go; an old one can, and is listed no more
        r = self.m.mailacct("domain", "dkim", "example.test", "remove", new, check=False)
        self.assertEqual(r.returncode, 100, r.stderr)
        self.assertIn("rotate", r.stderr)
        for old in before:
            self.m.mailacct("domain", "dkim", "example.test", "remove", old)
        self.assertEqual(set(self.records("example.test")[1]), {new})

    def test_key_copied_over_in_place_signs_at_once(self):
        """The signer's loop keeps the keys it parsed at start; a key file copied over in place
        (as from another node of a fleet: docs/dkim.md "Fleet"; cp keeps the inode) is a new
        key, and the very next message is signed with it."""
        self.m.mailacct("domain", "add", "other.test", "--plan", "basic")
        self.m.restart("dkim")          # the loop parses example.test's current key now
        sel = open(os.path.join(self.m.root, "dkim", "example.test", "selector")).read().strip()
        self.serve("example.test")
        got = self.submit(self.message("cached"))
        self.assertEqual(self.verify(got)[0], "pass")
        osel = open(os.path.join(self.m.root, "dkim", "other.test", "selector")).read().strip()
        for ext in ("key", "pub"):
            subprocess.run(["cp", os.path.join(self.m.root, "dkim", "other.test", osel + "." + ext),
                            os.path.join(self.m.root, "dkim", "example.test", sel + "." + ext)],
                           check=True)
        recs = self.serve("example.test")
        self.assertEqual(recs[sel], txt_records(self.m.mailacct("domain", "dkim", "other.test")
                                                .stdout, "other.test")[osel])
        got = self.submit(self.message("copied"))
        self.assertIn(b"s=%s;" % sel.encode(), re.sub(rb"\s+", b"", got))
        self.assertEqual(self.verify(got)[0], "pass", self.m.log("dkim"))

    def test_domain_del_removes_its_keys(self):
        """A deleted domain's keys go with it (its folder under ROOT/dkim/), and the operator is
        told which DNS records may go; a domain added again gets a new key."""
        self.m.mailacct("domain", "add", "leaving.test", "--plan", "basic")
        self.m.mailacct("domain", "dkim", "leaving.test", "rotate")
        keys = os.path.join(self.m.root, "dkim", "leaving.test")
        self.assertEqual(len([f for f in os.listdir(keys) if f.endswith(".key")]), 2)
        out = self.m.mailacct("domain", "del", "leaving.test").stdout
        self.assertIn("domain leaving.test deleted", out)
        self.assertIn("domain leaving.test: its 2 DKIM keys removed (their DNS records, "
                      "SELECTOR._domainkey.leaving.test, may go now)", out)
        self.assertFalse(os.path.exists(keys))
        self.assertTrue(os.path.isdir(os.path.join(self.m.root, "dkim", "example.test")))
        r = self.m.mailacct("domain", "del", "leaving.test", check=False)
        self.assertEqual(r.returncode, 100, r.stdout + r.stderr)
        self.assertIn("leaving.test", r.stderr)
        out = self.m.mailacct("domain", "add", "leaving.test", "--plan", "basic").stdout
        self.assertEqual(len(txt_records(out, "leaving.test")), 1, out)

    def test_domain_del_of_the_host_name_as_a_customer_domain_keeps_its_key(self):
        """This server's name added as a customer domain too, then deleted: the domain goes,
        its DKIM key stays (the server's own mail is signed with it) and the operator is told
        so; deleting it again is refused as no customer domain, and the key still stays."""
        me = "mail.example.test"            # the harness's etc/me
        out = self.m.mailacct("domain", "add", me, "--plan", "basic").stdout
        sel = list(txt_records(out, me))[0]
        keys = os.path.join(self.m.root, "dkim", me)
        before = sorted(os.listdir(keys))
        out = self.m.mailacct("domain", "del", me).stdout
        self.assertIn("domain %s deleted\n" % me, out)
        self.assertIn("domain %s is this server's own name (etc/me): its DKIM key (selector %s) "
                      "signs the mail the server writes itself from MAILER-DAEMON@ (bounces, "
                      "delay warnings, alerts) and is kept" % (me, sel), out)
        self.assertNotRegex(out, r"DKIM keys? removed")
        self.assertEqual(sorted(os.listdir(keys)), before)
        self.assertNotIn(me, self.m.mailacct("domain", "list").stdout)
        r = self.m.mailacct("domain", "del", me, check=False)
        self.assertEqual(r.returncode, 100, r.stdout + r.stderr)
        self.assertIn("%s is this server's own name (etc/me), not a customer domain: it is not "
                      "in etc/domains" % me, r.stderr)
        self.assertNotIn("left-over", r.stdout + r.stderr)
        self.assertEqual(sorted(os.listdir(keys)), before)

    def test_domain_without_key_sends_unsigned_and_logs_it(self):
        # a domain added by editing etc/domains (the operator's other way) has no key
        with open(os.path.join(self.m.root, "etc", "domains"), "a") as f:
            f.write("nokey.test:basic\n")
        subprocess.run([self.m.bin("mkmaps"), "--root", self.m.root], env=self.m.env(),
                       check=True, capture_output=True)
        self.m.add_user("jiro@nokey.test", PW)
        got = self.submit(self.message("nokey", sender="jiro@nokey.test"),
                          user="jiro@nokey.test")
        self.assertNotIn(b"DKIM-Signature", got)
        self.assertTrue(self.m.wait_for(lambda: re.search(
            r"not signed id=\w+ domain=nokey\.test: the domain has no DKIM key",
            self.m.log("inject")), 5), self.m.log("inject"))
        out = self.m.mailacct("domain", "dkim", "nokey.test").stdout
        self.assertIn("none yet: outgoing mail is not signed", out)
        # rotate makes the first key; the next message is signed and verifies
        self.m.mailacct("domain", "dkim", "nokey.test", "rotate")
        self.serve("nokey.test")
        got = self.submit(self.message("nokey2", sender="jiro@nokey.test"),
                          user="jiro@nokey.test")
        self.assertEqual(self.verify(got)[0], "pass")

    def test_from_in_a_japanese_domain_is_signed_with_its_a_labels(self):
        """A mail program that writes the From domain in Japanese (RFC 6532 header): the
        message is signed for the domain's key, d= in A-labels (RFC 8616 §3), and verifies;
        before, the domain was not a domain name and the message left unsigned."""
        self.m.mailacct("domain", "add", "日本語.jp", "--plan", "basic")
        self.m.add_user("hanako@xn--wgv71a119e.jp", PW)
        self.serve("xn--wgv71a119e.jp")
        msg = self.message("idn", sender="hanako@xn--wgv71a119e.jp").replace(
            b"From: Taro <hanako@xn--wgv71a119e.jp>",
            "From: 花子 <hanako@日本語.jp>".encode())
        self.assertIn("花子".encode(), msg)
        got = self.submit(msg, user="hanako@xn--wgv71a119e.jp")
        sig = re.search(rb"^DKIM-Signature:(.*?)\r\n(?![ \t])", got, re.M | re.S)
        self.assertTrue(sig, got[:600])
        self.assertIn(b"d=xn--wgv71a119e.jp;", re.sub(rb"\s+", b"", sig.group(1)))
        self.assertEqual(self.verify(got)[0], "pass")

    @unittest.skipUnless(IS_ROOT, "uids are only separate when started as root")
    def test_key_readable_by_the_signer_uid_only(self):
        sel = list(self.records("example.test")[1])[0]
        key = os.path.join(self.m.root, "dkim", "example.test", sel + ".key")
        st = os.stat(key)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        import pwd
        self.assertEqual(pwd.getpwuid(st.st_uid).pw_name, "yubin-dkim")
        self.assertTrue(can_open("yubin-dkim", key))
        for user in ("yubin-smtpd", "yubin-remote", "yubin-q", "yubin-mbox"):
            self.assertFalse(can_open(user, key), user)

    def test_every_way_of_sending_as_a_customer_is_signed(self):
        """465 (implicit TLS) with AUTH, 25 with STARTTLS and AUTH, and POP before SMTP (a
        POP3 login, then port 25 without AUTH) are signed like 587 and verify."""
        import poplib
        import ssl
        self.serve("example.test")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        for how in ("465", "25-auth", "pop-before-smtp"):
            with self.subTest(how=how):
                msg = self.message("way-" + how)
                marker = re.search(rb"Message-ID: <([^>]+)>", msg).group(1)
                if how == "465":
                    s = smtplib.SMTP_SSL("127.0.0.1", self.m.port("submissions"), timeout=30,
                                         context=ctx)
                    s.login("taro@example.test", PW)
                elif how == "25-auth":
                    s = smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=30)
                    s.starttls(context=ctx)
                    s.login("taro@example.test", PW)
                else:
                    p = poplib.POP3("127.0.0.1", self.m.port("pop3"), timeout=30)
                    p.user("taro@example.test")
                    p.pass_(PW)
                    p.quit()
                    s = smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=30)
                s.sendmail("taro@example.test", ["x@" + SINK_DOMAIN], msg)
                s.quit()
                got = self.m.wait_for(lambda: [d for _, _, d in self.sink.messages()
                                               if marker in d], 20)
                self.assertEqual(len(got), 1, self.m.log("smtp") + self.m.log("queue"))
                got = unstuff(got[0])
                self.assertIn(b"DKIM-Signature:", got)
                self.assertEqual(self.verify(got)[0], "pass")

    def test_signer_down_defers_and_loses_nothing(self):
        svc = os.path.join(self.m.root, "service", "dkim")
        subprocess.run(["s6-svc", "-wD", "-d", svc], check=True, timeout=20)
        try:
            s = smtplib.SMTP("127.0.0.1", self.m.port("submission"), timeout=30)
            s.login("taro@example.test", PW)
            with self.assertRaises(smtplib.SMTPDataError) as cm:
                s.sendmail("taro@example.test", ["x@" + SINK_DOMAIN], self.message("down"))
            self.assertEqual(cm.exception.smtp_code, 451)
            self.assertIn(b"4.3.0", cm.exception.smtp_error)
            s.quit()
        finally:
            subprocess.run(["s6-svc", "-wU", "-u", svc], check=True, timeout=20)
        self.assertTrue(self.m.wait_for(lambda: "DKIM signer" in self.m.log("inject"), 10),
                        self.m.log("inject")[-2000:])
        self.serve("example.test")
        got = self.submit(self.message("up-again"))
        self.assertEqual(self.verify(got)[0], "pass")


if __name__ == "__main__":
    unittest.main()
