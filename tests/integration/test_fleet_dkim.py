"""DKIM keys in a fleet (docs/dkim.md "Keys in a fleet"): `mailacct domain add` on node a puts
the domain's key into etcd and every node's mapsync compiles it into cdb/dkim.cdb, so a customer
who submits on 587 at node b or c gets mail signed with the selector mailacct printed, which
Debian's python3-dkim verifies against that record served by dnsmasq; `domain dkim D rotate` on
c makes b sign with the new selector at once, `remove` of the old one on a takes it out of etcd
and every node's map; `mailacct import` carries a node's keys made before the fleet into etcd;
the compiled key map is readable by the signer's uid and by none of the network-facing uids."""
import grp
import os
import poplib
import pwd
import re
import shutil
import smtplib
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IS_ROOT  # noqa: E402
from dnsharness import Dns  # noqa: E402
from fleetharness import ETCD, ETCDCTL, FleetCase  # noqa: E402
from smtpsink import Sink  # noqa: E402
from test_dkim import DEB_PYTHON, HAVE_DKIMPY, VERIFY, txt_records, unstuff  # noqa: E402
from test_privileges import read_as  # noqa: E402

DOMAIN = "dkfleet.test"
OLD = "beforefleet.test"          # a domain with a key made on node a before it joined
SINK_DOMAIN = "sink-fleetdkim.test"
REFUSING = "refuse-fleetdkim.test"  # its server refuses every recipient: a bounce at the front
HOST_B = "mail-b.example.test"      # node b's name (etc/me), the From of its bounces
PW = "Dkim-fleet-pw1"


def signature_selector(msg):
    sig = re.search(rb"^DKIM-Signature:(.*?)\r\n(?![ \t])", msg, re.M | re.S)
    assert sig, msg[:400]
    flat = re.sub(rb"\s+", b"", sig.group(1))
    return (re.search(rb"(?:^|;)d=([^;]+)", flat).group(1).decode(),
            re.search(rb"(?:^|;)s=([^;]+)", flat).group(1).decode())


@unittest.skipUnless(ETCD and ETCDCTL, "etcd-server and etcd-client not installed (make deps)")
@unittest.skipUnless(IS_ROOT, "the fleet runs its services under their own uids: needs root")
@unittest.skipUnless(shutil.which("dnsmasq") and HAVE_DKIMPY,
                     "dnsmasq or python3-dkim (Debian) missing: make deps")
class FleetDkimTest(FleetCase):
    dns = None

    @classmethod
    def prepare(cls):
        a = cls.nodes[0]
        cls.sink = Sink().start()
        cls.refusing = Sink(script={"RCPT": ["550 5.1.1 no such user here"] * 20}).start()
        with open(os.path.join(a.root, "etc", "routes"), "a") as f:
            f.write("%s:127.0.0.1:%d\n" % (SINK_DOMAIN, cls.sink.port))
            f.write("%s:127.0.0.1:%d\n" % (REFUSING, cls.refusing.port))
        # a domain node a had before the fleet: made by mailacct in single-node mode (the
        # fleet's settings out of the way for that one command), key under a's ROOT/dkim/
        conf = os.path.join(a.root, "etc", "fleet")
        os.rename(conf, conf + ".off")
        try:
            cls.old_out = a.mailacct("domain", "add", OLD, "--plan", "premium").stdout
        finally:
            os.rename(conf + ".off", conf)
        cls.import_out = a.mailacct("import").stdout
        cls.add_out = a.mailacct("domain", "add", DOMAIN, "--plan", "premium").stdout
        a.mailacct("add", "taro@" + DOMAIN, "--password", PW)
        a.mailacct("add", "jiro@" + OLD, "--password", PW)

    @classmethod
    def tearDownClass(cls):
        if cls.dns:
            cls.dns.stop()
        if getattr(cls, "sink", None):
            cls.sink.stop()
        if getattr(cls, "refusing", None):
            cls.refusing.stop()
        super().tearDownClass()

    # --- helpers
    def serve(self, *outs):
        """(Re)start dnsmasq with the DKIM records printed in outs (mailacct's sheets)."""
        args = []
        for out in outs:
            for dom in (DOMAIN, OLD, HOST_B):
                for sel, strs in txt_records(out, dom).items():
                    args.append("--txt-record=%s._domainkey.%s,%s" % (sel, dom, ",".join(strs)))
        if self.__class__.dns:
            self.__class__.dns.stop()
        self.__class__.dns = Dns(*args)

    def verify(self, msg):
        p = subprocess.run([DEB_PYTHON, "-c", VERIFY, str(self.dns.port)], input=msg,
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return p.stdout.decode().split()

    def submit(self, node, user, tag):
        """AUTH on node's 587, send to the sink; what the sink received (unstuffed)."""
        marker = b"%s.%d" % (tag.encode(), time.time_ns())
        msg = (b"From: <%s>\r\nTo: x@%s\r\nSubject: fleet dkim %s\r\n"
               b"Date: Thu, 03 Dec 2026 12:00:00 +0900\r\nMessage-ID: <%s@fleet.test>\r\n\r\n"
               b"hello from node %s\r\n" % (user.encode(), SINK_DOMAIN.encode(), tag.encode(),
                                             marker, node.name.encode()))
        with smtplib.SMTP("127.0.0.1", node.port("submission"), timeout=30) as s:
            s.login(user, PW)
            s.sendmail(user, ["x@" + SINK_DOMAIN], msg)
        got = node.wait_for(lambda: [d for _, _, d in self.sink.messages() if marker in d], 20)
        self.assertEqual(len(got), 1, node.log("inject") + node.log("queue"))
        return unstuff(got[0])

    def signed_by(self, node, user, tag):
        got = self.submit(node, user, tag)
        self.assertIn(b"DKIM-Signature:", got, node.log("inject"))
        self.assertEqual(self.verify(got), ["pass", "2048"])
        return signature_selector(got)

    @staticmethod
    def in_key_map(node, key):
        """Whether node's cdb/dkim.cdb holds key (tinycdb's cdb -q: 0 found, 100 not)."""
        r = subprocess.run(["cdb", "-q", os.path.join(node.root, "cdb", "dkim.cdb"), key],
                           stdout=subprocess.DEVNULL)
        assert r.returncode in (0, 100), r.returncode
        return r.returncode == 0

    def current(self, node, domain):
        out = node.mailacct("domain", "dkim", domain).stdout
        return out, list(txt_records(out, domain))

    # --- tests (run in name order: the rotation comes after the first key is checked)
    def test_1_key_made_on_a_signs_at_b_and_c(self):
        a, b, c = self.nodes
        recs = txt_records(self.add_out, DOMAIN)
        self.assertEqual(len(recs), 1, self.add_out)
        sel = list(recs)[0]
        self.serve(self.add_out, self.old_out)
        self.assertEqual(self.signed_by(b, "taro@" + DOMAIN, "at-b"), (DOMAIN, sel))
        self.assertEqual(self.signed_by(c, "taro@" + DOMAIN, "at-c"), (DOMAIN, sel))
        # the records come from the directory, the same on every node
        for node in (b, c):
            out, sels = self.current(node, DOMAIN)
            self.assertEqual(sels, [sel], out)
            self.assertEqual(txt_records(out, DOMAIN), recs)

    def test_1b_sender_of_a_domain_homed_elsewhere_keeps_its_address(self):
        """A customer sends through a node that is not its domain's home: the envelope sender
        goes out as it is (SRS is for others' senders), so SPF and DMARC see the customer's
        domain."""
        a, b, _ = self.nodes
        r = subprocess.run([a.bin("yubin-fleet"), "--root", a.root, "node", "add", "a",
                            "127.0.0.1", str(a.port("fleet_smtp")), str(a.port("fleet_pop3"))],
                           env=a.env(), capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        a.mailacct("domain", "add", "homed-a.test", "--plan", "premium", "--home", "a")
        a.mailacct("add", "hana@homed-a.test", "--password", PW)
        self.assertTrue(b.wait_for(lambda: subprocess.run(
            ["cdb", "-q", os.path.join(b.root, "cdb", "users.cdb"), "hana@homed-a.test"],
            stdout=subprocess.DEVNULL).returncode == 0, 20))
        self.submit(b, "hana@homed-a.test", "homed-elsewhere")
        mails = [m for m, _, d in self.sink.messages() if b"homed-elsewhere" in d]
        self.assertEqual(len(mails), 1)
        self.assertIn(b"<hana@homed-a.test>", mails[0])
        self.assertNotIn(b"SRS0", mails[0])

    def test_2_rotate_on_c_signs_at_b_and_remove_on_b_clears_every_node(self):
        a, b, c = self.nodes
        _, (old,) = self.current(a, DOMAIN)
        out = c.mailacct("domain", "dkim", DOMAIN, "rotate").stdout
        new = re.search(r"DKIM selector (\S+) made and signing", out).group(1)
        self.assertNotEqual(new, old)
        self.assertEqual(sorted(txt_records(out, DOMAIN)), sorted([old, new]))  # both listed
        self.serve(out, self.old_out)
        self.assertEqual(self.signed_by(b, "taro@" + DOMAIN, "rotated-b"), (DOMAIN, new))
        # the one signing cannot go; the old one can, from another node
        r = b.mailacct("domain", "dkim", DOMAIN, "remove", new, check=False)
        self.assertEqual(r.returncode, 100, r.stderr)
        self.assertIn("signs %s now" % DOMAIN, r.stderr)
        out = b.mailacct("domain", "dkim", DOMAIN, "remove", old).stdout
        self.assertEqual(list(txt_records(out, DOMAIN)), [new], out)
        self.assertIsNone(self.etcd.get("/yubin/dir/dkim/%s/%s" % (DOMAIN, old)))
        for node in self.nodes:
            self.assertEqual(self.current(node, DOMAIN)[1], [new])
            self.assertFalse(self.in_key_map(node, "%s/%s" % (DOMAIN, old)), node.name)
            self.assertTrue(self.in_key_map(node, "%s/%s" % (DOMAIN, new)), node.name)
        self.serve(out, self.old_out)
        self.assertEqual(self.signed_by(c, "taro@" + DOMAIN, "after-remove"), (DOMAIN, new))

    def test_3_import_carries_the_keys_a_node_had(self):
        a, b, c = self.nodes
        sel = list(txt_records(self.old_out, OLD))[0]
        self.assertEqual(self.etcd.get("/yubin/dir/dkim/" + OLD), "1 " + sel)
        self.assertEqual(self.current(c, OLD)[1], [sel])
        self.serve(self.old_out)
        self.assertEqual(self.signed_by(c, "jiro@" + OLD, "imported"), (OLD, sel))
        self.assertRegex(self.import_out, r"and 2 DKIM records from \S+/dkim into etcd")

    def test_5_domain_del_removes_its_records_everywhere(self):
        a, b, c = self.nodes
        gone = "gone-fleet.test"
        out = a.mailacct("domain", "add", gone, "--plan", "basic").stdout
        sel = list(txt_records(out, gone))[0]
        self.assertTrue(c.wait_for(lambda: self.in_key_map(c, gone), 20))
        out = b.mailacct("domain", "del", gone).stdout
        self.assertIn("domain %s: its 1 DKIM key removed" % gone, out)
        self.assertIsNone(self.etcd.get("/yubin/dir/dkim/" + gone))
        self.assertIsNone(self.etcd.get("/yubin/dir/dkim/%s/%s" % (gone, sel)))
        for node in self.nodes:
            self.assertTrue(node.wait_for(lambda: not self.in_key_map(node, gone), 20), node.name)
        # the other domains keep theirs
        self.assertTrue(self.current(c, DOMAIN)[1])
        self.assertTrue(self.in_key_map(c, DOMAIN))

    def test_6_bounce_written_at_b_signed_with_bs_host_key(self):
        """Every node writes bounces from its own name (docs/dkim.md "The key for the host
        name"): the operator makes node b's host key on b, as for a single server; a bounce
        that b's queue writes (a customer's mail refused by the far server) is signed
        d=mail-b.example.test with it, through etcd and b's own map, reaches the customer's
        mailbox and verifies against the record the command printed."""
        _, b, _ = self.nodes
        out = b.mailacct("domain", "dkim", HOST_B, "rotate").stdout
        recs = txt_records(out, HOST_B)
        self.assertEqual(len(recs), 1, out)
        self.assertTrue(b.wait_for(lambda: self.in_key_map(b, HOST_B), 20))
        self.serve(out)
        marker = "refused-at-b.%d" % time.time_ns()
        user = "taro@" + DOMAIN
        with smtplib.SMTP("127.0.0.1", b.port("submission"), timeout=30) as s:
            s.login(user, PW)
            s.sendmail(user, ["nobody@" + REFUSING],
                       "From: <%s>\r\nTo: nobody@%s\r\nSubject: %s\r\n\r\nhello\r\n"
                       % (user, REFUSING, marker))

        def bounce():
            p = poplib.POP3("127.0.0.1", b.port("pop3"), timeout=10)
            try:
                p.user(user)
                p.pass_(PW)
            except poplib.error_proto:
                p.close()       # the server ended the session: its refusal is the failure
                raise
            try:
                for i in range(1, len(p.list()[1]) + 1):
                    msg = b"\r\n".join(p.retr(i)[1]) + b"\r\n"
                    if marker.encode() in msg and b"MAILER-DAEMON" in msg:
                        return msg
                return None
            finally:
                p.quit()
        msg = b.wait_for(bounce, 30)
        self.assertTrue(msg, b.log("queue")[-2000:])
        self.assertIn(b"From: MAILER-DAEMON@" + HOST_B.encode(), msg)
        self.assertEqual(signature_selector(msg), (HOST_B, list(recs)[0]))
        self.assertEqual(self.verify(msg), ["pass", "2048"])
        # queue-run's line reaches the log through s6-log, maybe after the bounce is read
        self.assertTrue(b.wait_for(lambda: "dkim=signed d=%s" % HOST_B in b.log("queue"), 10),
                        b.log("queue")[-2000:])

    def test_4_key_map_readable_by_the_signer_only(self):
        for node in self.nodes:
            path = os.path.join(node.root, "cdb", "dkim.cdb")
            st = os.stat(path)
            self.assertEqual(st.st_mode & 0o777, 0o640, node.name)
            self.assertEqual(grp.getgrgid(st.st_gid).gr_name, "yubin-dkim", node.name)
            for user in ("yubin-smtpd", "yubin-remote", "yubin-tls", "yubin-web", "yubin-pop",
                         "yubin-dkim"):
                pw = pwd.getpwnam(user)
                r = read_as(path, pw.pw_uid, pw.pw_gid, os.getgrouplist(user, pw.pw_gid))
                if user == "yubin-dkim":
                    self.assertEqual(r.returncode, 0, r.stderr)
                else:
                    self.assertNotEqual(r.returncode, 0, "%s read %s" % (user, path))
                    self.assertIn("Permission denied", r.stderr)
        # and the operator's check says so
        b = self.nodes[1]
        r = subprocess.run([b.bin("yubin-check"), "--root", b.root], capture_output=True,
                           text=True)
        self.assertIn("dkim.cdb readable by yubin-dkim only", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
