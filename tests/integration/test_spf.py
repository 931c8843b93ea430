"""SPF (RFC 7208) from real DNS: bin/spfcheck against a dnsmasq on loopback serving the SPF,
A, MX and PTR records, every result compared with an independent implementation, Debian's
python3-spf (pyspf, on dnspython pointed at the same dnsmasq); the HELO identity (§2.3) as
spfcheck and as a real port 25 session records it in the delivered message's
Authentication-Results header (RFC 8601 §2.7.2 smtp.helo); and the time bound when the DNS
server does not answer (docs/inbound.md "SPF")."""
import json
import os
import re
import smtplib
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IS_ROOT, MailRoot, free_port, have  # noqa: E402
from dnsharness import HAVE_DNSMASQ, Dns  # noqa: E402

SYS_PYTHON = "/usr/bin/python3"   # Debian's, where python3-spf is installed

# pyspf's check2 with its DNS (dnspython) sent to 127.0.0.1:PORT, for a JSON list of
# [ip, sender, helo] on stdin (one process for all: a start costs about 0.5 s); prints the
# results as a JSON list
PYSPF = r"""
import json, sys, dns.resolver, spf
r = dns.resolver.Resolver(configure=False)
r.nameservers = ["127.0.0.1"]
r.port = int(sys.argv[1])
dns.resolver.default_resolver = r
t = int(sys.argv[2])
print(json.dumps([spf.check2(i=i, s=s, h=h, timeout=t, querytime=t)[0]
                  for i, s, h in json.load(sys.stdin)]))
"""


def have_pyspf():
    try:
        return subprocess.run([SYS_PYTHON, "-c", "import spf, dns.resolver"],
                              capture_output=True).returncode == 0
    except OSError:
        return False


def pyspf(port, cases, timeout=20):
    """pyspf's results for [(ip, sender, helo)...], its DNS at 127.0.0.1:port."""
    p = subprocess.run([SYS_PYTHON, "-c", PYSPF, str(port), str(timeout)],
                       input=json.dumps(cases), capture_output=True, text=True,
                       timeout=timeout * 3 * len(cases) + 30)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def spfcheck(env_extra, ip, sender, helo="helo.test"):
    """Run bin/spfcheck; (result, reason, seconds, stderr)."""
    env = dict(os.environ)
    env.update(env_extra)
    t = time.monotonic()
    p = subprocess.run([os.path.join(os.environ.get("YUBIN_BIN", "bin"), "spfcheck"), ip,
                        sender, helo], env=env, capture_output=True, text=True, timeout=120)
    took = time.monotonic() - t
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    line = p.stdout.strip()
    assert line.startswith("spf=") and line.endswith(")"), line
    result, _, reason = line[4:].partition(" (")
    return result, reason[:-1], took, p.stderr


def txt(name, *strings):
    """dnsmasq's TXT record of one or more strings (given in argv: quotes would be kept)."""
    return "--txt-record=%s,%s" % (name, ",".join(strings))


# a record longer than a UDP answer of 1232 octets (40 terms, about 1,900 octets): dnsmasq
# sets TC, the TCP retry gets it
BIG = ["v=spf1"] + ["".join(" ip6:2001:0db8:0000:%04x:0000:0000:0000:0000/64" % (i * 8 + j)
                            for j in range(8)) for i in range(5)]
BIG[-1] += " ip4:192.0.2.77 -all"

RECORDS = [
    "--local=/2.0.192.in-addr.arpa/",   # answer NXDOMAIN for the PTR names we have not given
    # names outside .test do not exist (NXDOMAIN, as the root answers for a top-level label
    # nobody registered: "nofqdn", "[127.0.0.1]", "1"), except under refused.example, which is
    # refused (no server for it): a DNS error
    "--address=/#/", "--server=/refused.example/#",
    txt("pass.test", "v=spf1 ip4:192.0.2.0/24 -all"),
    txt("soft.test", "v=spf1 ip4:192.0.2.1 ~all"),
    txt("neutral.test", "v=spf1 ?all"),
    txt("split.test", "v=spf1 ip4:198.51.100.0/24", " ip6:2001:db8::/32 -all"),
    txt("other.test", "hello world"),
    "--host-record=none.test,192.0.2.5",
    txt("two.test", "v=spf1 +all"), txt("two.test", "v=spf1 -all"),
    txt("mx.test", "v=spf1 mx -all"), "--mx-host=mx.test,mail.mx.test,10",
    "--host-record=mail.mx.test,192.0.2.20,2001:db8::20",
    txt("a.test", "v=spf1 a:mail.mx.test -all"),
    txt("ptr.test", "v=spf1 ptr -all"), "--host-record=host.ptr.test,192.0.2.30",
    "--ptr-record=30.2.0.192.in-addr.arpa,host.ptr.test",
    txt("redir.test", "v=spf1 redirect=pass.test"),
    txt("incl.test", "v=spf1 include:soft.test include:pass.test -all"),
    txt("exists.test", "v=spf1 exists:%{i}.ok.exists.test -all"),
    "--host-record=192.0.2.40.ok.exists.test,127.0.0.2",
    # 11 DNS mechanisms, none matching: the 11th is one too many (§4.6.4)
    txt("many.test", "v=spf1 " + " ".join("a:h%d.many.test" % i for i in range(11)) + " -all"),
] + ["--host-record=h%d.many.test,203.0.113.%d" % (i, i) for i in range(11)] + [
    # three lookups of names that do not exist: more than 2 void lookups (§4.6.4)
    txt("void.test", "v=spf1 a:v1.void.test a:v2.void.test a:v3.void.test -all"),
    txt("big.test", *BIG),
    txt("tempincl.test", "v=spf1 include:x.refused.example -all"),
    # a domain-spec without a "." toplabel is a syntax error, and a syntax error anywhere is a
    # permerror before anything is evaluated (§4.6, §12), even after a mechanism that matches
    txt("nodot.test", "v=spf1 ip4:192.0.2.0/24 a:nodot -all"),
    txt("numtop.test", "v=spf1 ip4:192.0.2.0/24 mx:example.123 -all"),
    txt("redirnodot.test", "v=spf1 ip4:192.0.2.0/24 redirect=nodot"),
    txt("expnodot.test", "v=spf1 ip4:192.0.2.0/24 exp=nodot -all"),
    # HELO names (the client of the port 25 session is 127.0.0.1)
    txt("helo-pass.test", "v=spf1 ip4:127.0.0.0/8 -all"),
    txt("helo-fail.test", "v=spf1 ip4:192.0.2.0/24 -all"),
    txt("helo-soft.test", "v=spf1 ~all"),
    txt("helo-neutral.test", "v=spf1 ?all"),
    "--host-record=helo-none.test,127.0.0.1",
    txt("helo-perm.test", "v=spf1 ip4:127.0.0.1/33 -all"),
    txt("helo-temp.test", "v=spf1 include:x.refused.example -all"),
    txt("spfonly", "v=spf1 -all"),     # a single label that has a record
]

# (ip, sender, expected result): RFC 7208's semantics for the records above
CASES = [
    ("192.0.2.5", "a@pass.test", "pass"),
    ("198.51.100.1", "a@pass.test", "fail"),
    ("198.51.100.1", "a@soft.test", "softfail"),
    ("192.0.2.5", "a@neutral.test", "neutral"),
    ("2001:db8::1", "a@split.test", "pass"),
    ("192.0.2.5", "a@none.test", "none"),
    ("192.0.2.5", "a@other.test", "none"),
    ("192.0.2.5", "a@nosuch.test", "none"),
    ("192.0.2.5", "a@two.test", "permerror"),
    ("192.0.2.20", "a@mx.test", "pass"),
    ("2001:db8::20", "a@mx.test", "pass"),
    ("192.0.2.21", "a@mx.test", "fail"),
    ("192.0.2.20", "a@a.test", "pass"),
    ("192.0.2.30", "a@ptr.test", "pass"),
    ("192.0.2.31", "a@ptr.test", "fail"),
    ("192.0.2.5", "a@redir.test", "pass"),
    ("192.0.2.5", "a@incl.test", "pass"),
    ("198.51.100.1", "a@incl.test", "fail"),
    ("192.0.2.40", "a@exists.test", "pass"),
    ("192.0.2.41", "a@exists.test", "fail"),
    ("192.0.2.5", "a@many.test", "permerror"),
    ("192.0.2.5", "a@void.test", "permerror"),
    ("192.0.2.77", "a@big.test", "pass"),
    ("192.0.2.78", "a@big.test", "fail"),
    ("192.0.2.5", "a@x.refused.example", "temperror"),
    ("192.0.2.5", "a@tempincl.test", "temperror"),
    ("192.0.2.5", "a@nodot.test", "permerror"),
    ("192.0.2.5", "a@numtop.test", "permerror"),
    ("192.0.2.5", "a@redirnodot.test", "permerror"),
    ("192.0.2.5", "a@expnodot.test", "permerror"),
    ("192.0.2.5", "", "pass"),          # the null sender: postmaster@HELO (§2.4)
]


# (HELO name, the HELO identity's result, its pvalue in smtp.helo=): RFC 7208 §2.3 checks
# postmaster@HELO against the HELO name's record, and only when the name is a fully qualified
# domain name: a single label, an address literal or a bare address gets none, without a query
HELO_CASES = [
    ("helo-pass.test", "pass", "helo-pass.test"),
    ("helo-fail.test", "fail", "helo-fail.test"),
    ("helo-soft.test", "softfail", "helo-soft.test"),
    ("helo-neutral.test", "neutral", "helo-neutral.test"),
    ("helo-none.test", "none", "helo-none.test"),
    ("helo-perm.test", "permerror", "helo-perm.test"),
    ("helo-temp.test", "temperror", "helo-temp.test"),
    ("nofqdn", "none", "nofqdn"),
    ("[127.0.0.1]", "none", '"[127.0.0.1]"'),
    ("[IPv6:::1]", "none", '"[IPv6:::1]"'),
    ("127.0.0.1", "none", "127.0.0.1"),
    ("spfonly", "none", "spfonly"),
]
# where pyspf deliberately differs: it looks up any name whose labels are 1..63 octets, so a
# single label with a record of its own gets that record's result; RFC 7208 §2.3 and §4.3
# ("not a multi-label domain name": none) say none, and yubin does not ask
PYSPF_DIFFERS = {"spfonly": "fail"}


@unittest.skipUnless(HAVE_DNSMASQ, "dnsmasq not installed")
class SpfDns(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = Dns(*RECORDS)

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def test_results_match_rfc_and_pyspf(self):
        """Every case: spfcheck gives the result RFC 7208 asks for, and pyspf agrees."""
        asked = []
        for ip, sender, want in CASES:
            helo = "pass.test" if sender == "" else "helo.test"
            asked.append((ip, sender, helo))
            with self.subTest(ip=ip, sender=sender):
                got, why, took, err = spfcheck(self.dns.env(), ip, sender, helo)
                self.assertEqual(got, want, (why, err))
                self.assertLess(took, 5, why)
        if not have_pyspf():
            self.skipTest("python3-spf is not installed for %s (tests/deps.sh)" % SYS_PYTHON)
        theirs = pyspf(self.dns.port, asked)
        for (ip, sender, want), res in zip(CASES, theirs):
            with self.subTest(ip=ip, sender=sender, by="pyspf"):
                self.assertEqual(res, want, "pyspf disagrees for %s %s" % (ip, sender))

    def test_helo_identity_matches_rfc_and_pyspf(self):
        """The HELO identity (RFC 7208 §2.3, checked as postmaster@HELO, §2.4): spfcheck with
        the null sender gives the result the RFC asks for, and pyspf agrees but where it
        deliberately does not (PYSPF_DIFFERS)."""
        for helo, want, _ in HELO_CASES:
            with self.subTest(helo=helo):
                got, why, took, err = spfcheck(self.dns.env(), "127.0.0.1", "", helo)
                self.assertEqual(got, want, (why, err))
                if helo.startswith(("[", "1", "nofqdn", "spfonly")):
                    self.assertIn("not a fully qualified domain name", why)
        if not have_pyspf():
            self.skipTest("python3-spf is not installed for %s (tests/deps.sh)" % SYS_PYTHON)
        theirs = pyspf(self.dns.port, [("127.0.0.1", "postmaster@" + h, h)
                                       for h, _, _ in HELO_CASES], timeout=3)
        for (helo, want, _), res in zip(HELO_CASES, theirs):
            with self.subTest(helo=helo, by="pyspf"):
                self.assertEqual(res, PYSPF_DIFFERS.get(helo, want),
                                 "pyspf's result for the HELO %s" % helo)

    def test_reasons_name_the_limit(self):
        """The reason says which limit was hit, so the operator can tell the customer."""
        _, why, _, _ = spfcheck(self.dns.env(), "192.0.2.5", "a@many.test")
        self.assertIn("10", why)
        _, why, _, _ = spfcheck(self.dns.env(), "192.0.2.5", "a@two.test")
        self.assertIn("v=spf1", why)

    def test_runs_as_unprivileged_user(self):
        """spfcheck parses answers from the network: run as root, it is not root when it asks."""
        if not IS_ROOT:
            self.skipTest("needs root")
        if not os.path.exists("/usr/bin/strace"):
            self.skipTest("strace not installed")
        out = os.path.join(self.dns.dir, "strace.out")
        env = dict(os.environ)
        env.update(self.dns.env())
        subprocess.run(["strace", "-f", "-e", "trace=setuid,sendto,connect", "-o", out,
                        os.path.join(os.environ.get("YUBIN_BIN", "bin"), "spfcheck"),
                        "192.0.2.5", "a@pass.test"], env=env, capture_output=True, timeout=60)
        calls = open(out).read().splitlines()
        setuid = [i for i, c in enumerate(calls) if "setuid(" in c and "= 0" in c]
        query = [i for i, c in enumerate(calls) if "connect(" in c and "sin_port=htons(%d)"
                 % self.dns.port in c]
        self.assertTrue(setuid and query and setuid[0] < query[0], calls)


ME = "mail.example.test"
RCPT = "hanako@example.test"


def helo_resinfo(stored):
    """{pvalue of smtp.helo: result} of the resinfos of our Authentication-Results field."""
    head = stored.split(b"\n\n", 1)[0].decode(errors="replace")
    fields = [re.sub(r"\r?\n[ \t]+", " ", m.group(0)) for m in
              re.finditer(r"^Authentication-Results:.*(?:\n[ \t].*)*", head, re.M | re.I)]
    ours = [f for f in fields if f.split(":", 1)[1].strip().startswith(ME + ";")]
    assert len(ours) == 1, fields
    return {m.group(2): m.group(1) for m in re.finditer(
        r"spf=(\w+)(?: \([^()]*\))? smtp\.helo=(\"[^\"]*\"|[^ ;]+)", ours[0])}, ours[0]


@unittest.skipUnless(HAVE_DNSMASQ and have("smtpd"), "dnsmasq or the build missing")
class HeloOnPort25(unittest.TestCase):
    """The HELO identity as smtpd records it: a real session on port 25 from 127.0.0.1 per HELO
    name, the message delivered to a mailbox, its Authentication-Results header read there."""

    @classmethod
    def setUpClass(cls):
        cls.dns = Dns(*RECORDS)
        cls.m = MailRoot(prefix="yubin-spf-", env=dict(cls.dns.env(), SPF_TIMEOUT="3"))
        cls.m.start()
        cls.m.add_user(RCPT, "spf-helo-pw-1")

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()
        cls.dns.stop()

    def send(self, sessions):
        """One session per (helo, sender): EHLO helo, one message; then the stored messages,
        in that order (sent first, waited for together)."""
        tags = []
        for helo, sender in sessions:
            tag = "helo-%d" % time.time_ns()
            msg = ("From: <x@helo-none.test>\r\nTo: <%s>\r\nSubject: %s\r\n\r\nhi\r\n"
                   % (RCPT, tag)).encode()
            with smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=30) as s:
                s.ehlo(helo)
                s.sendmail(sender, [RCPT], msg)
            tags.append(tag.encode())
        stored = {}

        def arrived():
            for p in self.m.messages(RCPT):
                with open(p, "rb") as f:
                    data = f.read()
                for t in tags:
                    if t in data:
                        stored[t] = data
            return len(stored) == len(tags)
        self.assertTrue(self.m.wait_for(arrived, 60), self.m.log("smtp")[-2000:])
        return [stored[t] for t in tags]

    def test_helo_result_in_the_header(self):
        """MAIL FROM not <>: a second spf= resinfo with smtp.helo= names the HELO identity's
        result, for every HELO name (a name that is not a FQDN: none); for <> the one spf=
        resinfo is the HELO identity's (§2.4). The results equal spfcheck's and pyspf's."""
        null = [("helo-fail.test", "fail", "helo-fail.test"),
                ("[127.0.0.1]", "none", '"[127.0.0.1]"')]
        stored = self.send([(h, "a@helo-none.test") for h, _, _ in HELO_CASES] +
                           [(h, "<>") for h, _, _ in null])
        got = {}
        for (helo, want, pvalue), msg in zip(HELO_CASES, stored):
            with self.subTest(helo=helo):
                res, field = helo_resinfo(msg)
                got[helo] = res.get(pvalue)
                self.assertIn("spf=none", field.split(";")[1], "the MAIL FROM result first")
                self.assertIn("smtp.mailfrom=a@helo-none.test", field)
                self.assertEqual(res, {pvalue: want}, field)
        for (helo, want, pvalue), msg in zip(null, stored[len(HELO_CASES):]):
            with self.subTest(helo=helo, sender="<>"):
                res, field = helo_resinfo(msg)
                self.assertEqual(res, {pvalue: want}, field)
                self.assertNotIn("smtp.mailfrom", field)
                self.assertEqual(field.count("spf="), 1, field)
        if not have_pyspf():
            self.skipTest("python3-spf is not installed for %s (tests/deps.sh)" % SYS_PYTHON)
        theirs = pyspf(self.dns.port, [("127.0.0.1", "postmaster@" + h, h)
                                       for h, _, _ in HELO_CASES], timeout=3)
        self.assertEqual({h: PYSPF_DIFFERS.get(h, got[h]) for h, _, _ in HELO_CASES},
                         dict(zip([h for h, _, _ in HELO_CASES], theirs)), "pyspf agrees")


class SpfSilentServer(unittest.TestCase):
    """A DNS server that takes the query and never answers: temperror, in bounded time."""

    def setUp(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", free_port()))
        self.addCleanup(self.sock.close)
        self.env = {"YUBIN_RESOLVER": "127.0.0.1:%d" % self.sock.getsockname()[1]}

    def test_default_bound(self):
        """Defaults: 2 tries of 2 seconds (DNS_TRIES, DNS_TIMEOUT) for the first lookup."""
        got, why, took, err = spfcheck(self.env, "192.0.2.5", "a@pass.test")
        self.assertEqual(got, "temperror", (why, err))
        self.assertGreaterEqual(took, 3.9)
        self.assertLess(took, 6)
        if have_pyspf():
            self.assertEqual(pyspf(self.sock.getsockname()[1],
                                   [("192.0.2.5", "a@pass.test", "helo.test")], timeout=2),
                             ["temperror"])

    def test_total_budget(self):
        """SPF_TIMEOUT bounds the whole check, whatever the per-lookup settings."""
        env = dict(self.env, SPF_TIMEOUT="1", DNS_TIMEOUT="10", DNS_TRIES="5")
        got, why, took, err = spfcheck(env, "192.0.2.5", "a@pass.test")
        self.assertEqual(got, "temperror", (why, err))
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, 3)


class FakeDns(threading.Thread):
    """A UDP DNS server in the test: answer() gets each query and its sender."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", free_port()))
        self.sock.settimeout(0.2)
        self.stopped = False
        self.queries = []

    def env(self):
        return {"YUBIN_RESOLVER": "127.0.0.1:%d" % self.sock.getsockname()[1]}

    @staticmethod
    def reply(qid, question, text, rcode=0):
        """An answer with one TXT record (none when text is None)."""
        if text is None:
            return struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, 0, 0, 0) + question
        rdata = bytes([len(text)]) + text
        return (struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, 1, 0, 0) + question +
                b"\xc0\x0c" + struct.pack(">HHIH", 16, 1, 60, len(rdata)) + rdata)

    def run(self):
        while not self.stopped:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            self.queries.append(data)
            qid = struct.unpack(">H", data[:2])[0]
            end = data.index(b"\0", 12) + 5
            self.answer(data, qid, data[12:end], peer)

    def stop(self):
        self.stopped = True
        self.join(timeout=5)
        self.sock.close()


class SpoofingServer(FakeDns):
    """Answers every TXT query with "v=spf1 -all", but first sends three forged answers saying
    "v=spf1 +all": one from another port, one with another id, one for another question. A
    resolver that takes any of them says pass."""

    def __init__(self):
        super().__init__()
        self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.other.bind(("127.0.0.1", 0))

    def answer(self, data, qid, question, peer):
        forged = b"v=spf1 +all"
        self.other.sendto(self.reply(qid, question, forged), peer)
        self.sock.sendto(self.reply(qid ^ 0x5a5a, question, forged), peer)
        other_q = b"\x05other\x04test\x00" + question[-4:]
        self.sock.sendto(self.reply(qid, other_q, forged), peer)
        time.sleep(0.05)
        self.sock.sendto(self.reply(qid, question, b"v=spf1 -all"), peer)

    def stop(self):
        super().stop()
        self.other.close()


class NoEdnsServer(FakeDns):
    """An old server: FORMERR for a query with an additional record (EDNS0's OPT), the answer
    "v=spf1 -all" for one without (RFC 6891 §7)."""

    def answer(self, data, qid, question, peer):
        arcount = struct.unpack(">H", data[10:12])[0]
        if arcount:
            self.sock.sendto(self.reply(qid, question, None, rcode=1), peer)
        else:
            self.sock.sendto(self.reply(qid, question, b"v=spf1 -all"), peer)


class SlowServer(FakeDns):
    """Answers every query after 0.4 s: slow.test's record includes 9 names whose records do
    not match, so a whole check takes 10 answers, about 4 s."""

    def answer(self, data, qid, question, peer):
        time.sleep(0.4)
        if question.startswith(b"\x04slow"):
            text = b"v=spf1 " + b" ".join(b"include:i%d.slow.test" % i for i in range(9)) + \
                b" -all"
        else:
            text = b"v=spf1 ip4:203.0.113.1 -all"
        self.sock.sendto(self.reply(qid, question, text), peer)


class EscapeServer(FakeDns):
    """A record with a terminal escape sequence in a term."""

    def answer(self, data, qid, question, peer):
        self.sock.sendto(self.reply(qid, question, b"v=spf1 a:\x1b[2J\x1b]0;x\x07.test -all"),
                         peer)


class SpfFakeServers(unittest.TestCase):
    def test_reason_quotes_no_control_octets(self):
        """The reason may quote the record: it reaches the operator's terminal without escapes."""
        srv = EscapeServer()
        srv.start()
        self.addCleanup(srv.stop)
        env = dict(os.environ, **srv.env())
        p = subprocess.run([os.path.join(os.environ.get("YUBIN_BIN", "bin"), "spfcheck"),
                            "192.0.2.5", "a@esc.test"], env=env, capture_output=True, timeout=60)
        self.assertTrue(p.stdout.startswith(b"spf="), p.stdout)
        self.assertFalse(any(c < 0x20 for c in p.stdout[:-1]), p.stdout)
        self.assertTrue(p.stdout.endswith(b")\n"), p.stdout)

    def test_budget_against_a_slow_server(self):
        """Every answer in time, but SPF_TIMEOUT ends the check as a whole: temperror."""
        srv = SlowServer()
        srv.start()
        self.addCleanup(srv.stop)
        got, why, took, err = spfcheck(dict(srv.env(), SPF_TIMEOUT="2"), "192.0.2.5",
                                       "a@slow.test")
        self.assertEqual(got, "temperror", (why, err))
        self.assertGreaterEqual(took, 1.9)
        self.assertLess(took, 3)
        self.assertLess(len(srv.queries), 10)

    def test_forged_answers_are_ignored(self):
        """Only the answer from the server asked, with the query's id and question, counts."""
        srv = SpoofingServer()
        srv.start()
        self.addCleanup(srv.stop)
        got, why, took, err = spfcheck(srv.env(), "192.0.2.5", "a@spoof.test")
        self.assertEqual(got, "fail", (why, err))
        self.assertEqual(len(srv.queries), 1)
        self.assertLess(took, 2)

    def test_server_without_edns(self):
        """FORMERR to the EDNS0 query: asked again without it, at once."""
        srv = NoEdnsServer()
        srv.start()
        self.addCleanup(srv.stop)
        got, why, took, err = spfcheck(srv.env(), "192.0.2.5", "a@old.test")
        self.assertEqual(got, "fail", (why, err))
        self.assertEqual([q[10:12] for q in srv.queries], [b"\0\1", b"\0\0"])
        self.assertLess(took, 2)


if __name__ == "__main__":
    unittest.main()
