"""SMTP routing in a fleet (docs/fleet.md "SMTP routing"): a real 3-member etcd cluster and
3 nodes (fleetharness). Mail for a domain homed on node b, sent to node a's port 25, waits in
a's queue and goes to b's internal SMTP port (fleet-smtp: implicit TLS, client certificates of
the fleet CA, smtpd -f), where it is delivered; b down only delays it. The internal port takes
only the fleet's nodes and only domains homed on b at the epoch the sender saw."""
import email
import email.policy
import json
import os
import poplib
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IS_ROOT, port_open  # noqa: E402
from fleetharness import ETCD, ETCDCTL, Etcd, FleetCase, FleetNode  # noqa: E402

ADDR = "taro@route.test"          # homed on b
SENDER = "sender@outside.test"


def message(subject):
    """A message as a mail program sends it: 8-bit UTF-8, a line starting with a dot, a long
    line, trailing spaces, a blank line inside the body."""
    return ("From: Sender <%s>\r\nTo: Taro <%s>\r\nSubject: %s\r\n"
            "Message-ID: <%s@outside.test>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            "こんにちは、太郎さん。\r\n.a line that starts with a dot\r\n..two dots\r\n"
            "trailing spaces   \r\n\r\n%s\r\nend\r\n"
            % (SENDER, ADDR, subject, subject, "x" * 900)).encode()


@unittest.skipUnless(ETCD and ETCDCTL, "etcd-server and etcd-client not installed (make deps)")
@unittest.skipUnless(IS_ROOT, "the fleet runs its services under their own uids: needs root")
class FleetRouteTest(FleetCase):
    node_env = {"QUEUE_BACKOFF": "1,1,2"}

    @classmethod
    def prepare(cls):
        a, b, c = cls.nodes
        r = a.mailacct("import", check=False)
        assert r.returncode == 0, (r.stdout, r.stderr)
        for node in cls.nodes:
            cls.fleet(a, "node", "add", node.name, "127.0.0.1",
                      str(node.port("fleet_smtp")), str(node.port("fleet_pop3")))
        a.mailacct("domain", "add", "route.test", "--plan", "premium", "--home", "b")
        a.mailacct("domain", "add", "home-a.test", "--plan", "premium", "--home", "a")
        a.mailacct("add", ADDR, "--password", "Taro-pw-1")
        a.mailacct("add", "small@route.test", "--password", "Small-pw-1", "--quota", "1M",
                   "--force")
        a.mailacct("add", "hanako@home-a.test", "--password", "Hanako-pw-1")
        a.mailacct("domain", "add", "basic-route.test", "--plan", "basic", "--home", "b")
        a.mailacct("add", "tiny@basic-route.test", "--password", "Tiny-pw-1", "--quota", "1M",
                   "--force")

    @staticmethod
    def fleet(node, *args):
        r = subprocess.run([node.bin("yubin-fleet"), "--root", node.root] + list(args),
                           env=node.env(), capture_output=True, text=True)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r

    def send(self, node, rcpts, data, port="smtp"):
        with smtplib.SMTP("127.0.0.1", node.port(port), timeout=30) as s:
            s.ehlo("client.outside.test")
            return s.sendmail(SENDER, rcpts, data, mail_options=["BODY=8BITMIME"])

    def with_subject(self, node, addr, subject):
        out = []
        for p in node.messages(addr):
            with open(p, "rb") as f:
                data = f.read()
            if ("Subject: %s\n" % subject).encode() in data:
                out.append(data)
        return out

    def mailq(self, node):
        return subprocess.run([node.bin("mailq"), "--root", node.root], env=node.env(),
                              capture_output=True, text=True).stdout

    # --- the internal port, as a client sees it
    def internal(self, node, cert=None):
        """TLS to node's internal port with cert (a PATH without .pem/.key, or None); the
        socket wrapped and its greeting, or (None, why) when refused."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_verify_locations(os.path.join(node.root, "etc", "fleet.d", "ca.pem"))
        if cert:
            ctx.load_cert_chain(cert + ".pem", cert + ".key")
        raw = socket.create_connection(("127.0.0.1", node.port("fleet_smtp")), timeout=10)
        try:
            s = ctx.wrap_socket(raw)
            greeting = s.recv(4096).decode()
        except (ssl.SSLError, OSError) as e:
            raw.close()
            return None, str(e)
        if not greeting:
            s.close()
            return None, "closed without a greeting"
        return s, greeting

    def talk(self, s, line):
        s.sendall(line.encode() + b"\r\n")
        out = b""
        while True:
            out += s.recv(4096)
            last = out.rstrip(b"\r\n").split(b"\r\n")[-1]
            if len(last) >= 4 and last[3:4] == b" ":
                return out.decode()

    def remote_cert(self, node):
        return os.path.join(node.root, "etc", "fleet.d", "remote")

    # --- tests
    def test_1_front_relays_to_home_byte_exact(self):
        a, b, c = self.nodes
        data = message("routed through a")
        self.assertEqual(self.send(a, [ADDR], data), {})
        got = b.wait_for(lambda: self.with_subject(b, ADDR, "routed through a"), 30)
        self.assertEqual(len(got), 1, a.log("queue") + a.log("remote"))
        # what the sender wrote, unchanged after the two Received: lines (a's, then b's)
        sent = data.replace(b"\r\n", b"\n")
        self.assertTrue(got[0].endswith(sent), got[0][:600])
        head = got[0][:len(got[0]) - len(sent)]
        self.assertEqual(head.count(b"Received: "), 2, head)
        self.assertIn(b"by mail-b.example.test", head)
        self.assertIn(b"by mail-a.example.test", head)
        # the mailbox lives on b only
        self.assertEqual(a.messages(ADDR), [])
        self.assertEqual(c.messages(ADDR), [])
        self.assertFalse(os.path.exists(os.path.join(a.root, "mail", "route.test")))
        # each line reaches its log through s6-log, maybe after the message is stored
        self.assertTrue(a.wait_for(lambda: "fleet=b epoch=1" in a.log("remote"), 10),
                        a.log("remote")[-2000:])
        self.assertTrue(b.wait_for(lambda: "mode=fleet" in b.log("fleet-smtp"), 10),
                        b.log("fleet-smtp")[-2000:])
        self.assertTrue(b.wait_for(lambda: "fleet peer node=a" in b.log("fleet-smtp"), 10),
                        b.log("fleet-smtp")[-2000:])
        # the operator's check: b's record names the port b's fleet-smtp listens on
        r = subprocess.run([b.bin("yubin-check"), "--root", b.root], capture_output=True,
                           text=True)
        self.assertIn("ok: fleet node b: internal SMTP port %d (fleet-smtp)"
                      % b.port("fleet_smtp"), r.stdout)

    def test_1b_relayed_messages_share_tls_sessions(self):
        """Messages relayed one after another to the home go over one kept TLS session (the
        front's remote-cache holds it; it may be the one test_1 left), not a handshake each:
        b's internal port counts the sessions; every message arrives once."""
        a, b, c = self.nodes
        before = b.log("fleet-smtp").count("fleet peer node=a ")
        n = 8
        for i in range(n):
            subject = "kept session %d" % i
            self.assertEqual(self.send(a, [ADDR], message(subject)), {})
            got = b.wait_for(lambda: self.with_subject(b, ADDR, subject), 30)
            self.assertEqual(len(got), 1, a.log("remote"))
        sessions = b.log("fleet-smtp").count("fleet peer node=a ") - before
        self.assertLessEqual(sessions, n // 2, "%d TLS sessions for %d messages\n%s"
                             % (sessions, n, a.log("remote")[-3000:]))
        time.sleep(1)
        for i in range(n):
            self.assertEqual(len(self.with_subject(b, ADDR, "kept session %d" % i)), 1)

    def test_2_front_rcpt_checks_and_home_over_quota_bounces(self):
        a = self.nodes[0]
        with smtplib.SMTP("127.0.0.1", a.port("smtp"), timeout=30) as s:
            s.ehlo("client.outside.test")
            s.mail(SENDER)
            code, text = s.rcpt("nobody@route.test")
            self.assertEqual(code, 550, text)
            self.assertIn(b"5.1.1", text)
            s.rset()
            # the quota summary is on b; the front refuses a declared size over the quota
            s.mail(SENDER, ["SIZE=2000000"])
            code, text = s.rcpt("small@route.test")
            self.assertEqual(code, 552, text)
            self.assertIn(b"5.2.2", text)
            s.rset()
            s.mail(SENDER, ["SIZE=2000"])
            self.assertEqual(s.rcpt("small@route.test")[0], 250)
        # a real over-quota: the front lets it in (no summary there), the home says 552 at
        # its RCPT, and the front's queue bounces it to the sender (an account homed on a).
        # The notice speaks of our own mailboxes (the home is ours): their quota, and the
        # add-on for the basic plan's, not "a mailbox on their mail server".
        full = ["small@route.test", "tiny@basic-route.test"]
        big = b"Subject: %s\r\n\r\n" + (b"y" * 998 + b"\r\n") * 600
        for n in (1, 2):
            with smtplib.SMTP("127.0.0.1", a.port("smtp"), timeout=30) as s:
                s.ehlo("client.outside.test")
                self.assertEqual(s.sendmail("hanako@home-a.test", full, big % (b"big %d" % n)),
                                 {})
            if n == 1:
                b = self.nodes[1]
                for rcpt in full:
                    self.assertTrue(b.wait_for(lambda: self.with_subject(b, rcpt, "big 1"), 30))

        def bounce():
            for p in a.messages("hanako@home-a.test"):
                with open(p, "rb") as f:
                    data = f.read()
                if b"5.2.2" in data and b"tiny@basic-route.test" in data:
                    return data
            return None
        got = a.wait_for(bounce, 30)
        self.assertTrue(got, a.log("queue")[-2000:])
        self.assertIn(b"mailbox full", got)
        msg = email.message_from_bytes(got, policy=email.policy.default)
        text = msg.get_payload()[0].get_content()
        self.assertEqual(text.count("受信者のメールボックスが割り当てディスク容量の上限に達している"), 2, text)
        self.assertNotIn("相手先のメールサーバ上", text)
        self.assertNotIn("on their mail server", text)
        self.assertEqual(text.count("容量増設オプション(50MB)"), 1, text)     # tiny's, basic
        self.assertEqual(text.count("capacity add-on (50 MB)"), 1, text)
        self.assertLess(text.index("<small@route.test>"), text.index("<tiny@basic-route.test>"))
        self.assertGreater(text.index("容量増設オプション(50MB)"), text.index("<tiny@basic-route.test>"))
        for rcpt in full:
            self.assertEqual(self.with_subject(self.nodes[1], rcpt, "big 2"), [])

    def test_3_home_down_queues_then_delivered_once(self):
        a, b, _ = self.nodes
        svc = os.path.join(b.root, "service", "fleet-smtp")
        # a's remote-cache keeps an idle session to b for REMOTE_CACHE_IDLE (2) s, and
        # stopping the service leaves running sessions alone: let it go first
        time.sleep(3)
        subprocess.run(["s6-svc", "-wD", "-T", "10000", "-d", svc], check=True)
        try:
            self.assertFalse(port_open(b.port("fleet_smtp")))
            self.send(a, [ADDR], message("while b is down"))
            deferred = a.wait_for(lambda: [x for x in self.mailq(a).splitlines()
                                           if "deferred" in x and "<%s>" % ADDR in x], 30)
            self.assertTrue(deferred, self.mailq(a))
            self.assertIn("cannot connect", deferred[0])
            time.sleep(2)      # more tries while b is down: still nothing anywhere
            self.assertEqual(self.with_subject(b, ADDR, "while b is down"), [])
        finally:
            subprocess.run(["s6-svc", "-wU", "-T", "10000", "-u", svc], check=True)
        got = b.wait_for(lambda: self.with_subject(b, ADDR, "while b is down"), 30)
        self.assertEqual(len(got), 1, a.log("remote")[-3000:])
        a.wait_for(lambda: "-- 0 messages" in self.mailq(a), 15)
        self.assertIn("-- 0 messages", self.mailq(a))
        time.sleep(3)           # retries would have come by now
        self.assertEqual(len(self.with_subject(b, ADDR, "while b is down")), 1)

    def test_4_internal_port_needs_a_fleet_node_certificate(self):
        a, b, _ = self.nodes
        s, why = self.internal(b)
        self.assertIsNone(s, "served without a client certificate")
        # a certificate with the right CN from another CA
        other = os.path.join(self.etcd.dir, "other-ca")
        self.etcd.fleet("ca", other)
        self.etcd.fleet("cert", other, "fleet-a", "fleet-a")
        s, why = self.internal(b, os.path.join(other, "fleet-a"))
        self.assertIsNone(s, "served with another CA's certificate")
        # the fleet CA's, but not a node's internal certificate (mapsync's, CN node-a)
        s, greeting = self.internal(b, os.path.join(a.root, "etc", "fleet.d", "node"))
        self.assertIsNotNone(s, greeting)
        self.assertTrue(greeting.startswith("554 5.7.1"), greeting)
        s.close()
        # node a's own: served
        s, greeting = self.internal(b, self.remote_cert(a))
        self.assertTrue(greeting.startswith("220 "), greeting)
        s.close()

    def test_5_internal_port_takes_only_domains_homed_here(self):
        a, b, _ = self.nodes
        s, greeting = self.internal(b, self.remote_cert(a))
        self.assertTrue(greeting.startswith("220 "), greeting)
        try:
            ehlo = self.talk(s, "EHLO mail-a.example.test")
            self.assertIn("XEPOCH", ehlo)
            self.assertNotIn("AUTH", ehlo)
            self.assertTrue(self.talk(s, "AUTH PLAIN AGZvbwBiYXI=").startswith("502 5.5.1"))
            self.assertTrue(self.talk(s, "MAIL FROM:<%s>" % SENDER).startswith("250 "))
            r = self.talk(s, "RCPT TO:<%s> XEPOCH=1" % ADDR)
            self.assertTrue(r.startswith("250 "), r)
            r = self.talk(s, "RCPT TO:<x@home-a.test> XEPOCH=1")       # homed on a
            self.assertTrue(r.startswith("451 4.4.6"), r)
            self.assertIn("not homed on this node", r)
            r = self.talk(s, "RCPT TO:<%s> XEPOCH=2" % ADDR)           # epochs disagree
            self.assertTrue(r.startswith("451 4.4.6"), r)
            r = self.talk(s, "RCPT TO:<victim@elsewhere.example> XEPOCH=1")   # relay
            self.assertTrue(r.startswith("554 5.7.1"), r)
            r = self.talk(s, "RCPT TO:<nobody@route.test> XEPOCH=1")
            self.assertTrue(r.startswith("550 5.1.1"), r)
            r = self.talk(s, "RCPT TO:<%s>" % ADDR)                    # no epoch
            self.assertTrue(r.startswith("501 5.5.4"), r)
            r = self.talk(s, "RCPT TO:<%s> XEPOCH=01" % ADDR)
            self.assertTrue(r.startswith("501 5.5.4"), r)
            self.talk(s, "QUIT")
        finally:
            s.close()

    def test_6_frozen_home_holds_mail_in_the_front_queue(self):
        a, b, c = self.nodes
        key = "/yubin/dir/homes/route.test"

        def put(state):
            r = self.etcd.ctl("put", key, "1 route.test:b:1:%s" % state, "-w", "json")
            rev = json.loads(r.stdout)["header"]["revision"]
            for node in (a, b, c):
                node.wait_for(lambda: node.revision() >= rev, 20)
                self.assertGreaterEqual(node.revision(), rev)

        put("frozen")
        try:
            s, greeting = self.internal(b, self.remote_cert(a))
            self.talk(s, "EHLO mail-a.example.test")
            self.talk(s, "MAIL FROM:<%s>" % SENDER)
            r = self.talk(s, "RCPT TO:<%s> XEPOCH=1" % ADDR)
            self.assertTrue(r.startswith("451 4.3.2"), r)
            s.close()
            self.send(a, [ADDR], message("while frozen"))     # the front accepts and holds
            held = a.wait_for(lambda: [x for x in self.mailq(a).splitlines()
                                       if "deferred" in x and "4.3.2" in x], 30)
            self.assertTrue(held, self.mailq(a))
            # the home's own port 25 accepts too, and its queue holds the message
            self.send(b, [ADDR], message("frozen, sent to the home"))
            held = b.wait_for(lambda: [x for x in self.mailq(b).splitlines()
                                       if "deferred" in x and "moving between nodes" in x], 30)
            self.assertTrue(held, self.mailq(b))
            self.assertEqual(self.with_subject(b, ADDR, "while frozen"), [])
            self.assertEqual(self.with_subject(b, ADDR, "frozen, sent to the home"), [])
        finally:
            put("live")
        for subject in ("while frozen", "frozen, sent to the home"):
            got = b.wait_for(lambda: self.with_subject(b, ADDR, subject), 30)
            self.assertEqual(len(got), 1, subject)

    def test_7_maps_that_disagree_hold_mail_never_loop(self):
        a, b, c = self.nodes
        key = "/yubin/dir/homes/route.test"
        sync = os.path.join(c.root, "service", "mapsync")
        # c's maps stop at the old home (b, epoch 1); the others learn the move to c, epoch 2
        subprocess.run(["s6-svc", "-wD", "-T", "10000", "-d", sync], check=True)
        try:
            r = self.etcd.ctl("put", key, "1 route.test:c:2:live", "-w", "json")
            rev = json.loads(r.stdout)["header"]["revision"]
            for node in (a, b):
                node.wait_for(lambda: node.revision() >= rev, 20)
                self.assertGreaterEqual(node.revision(), rev)
            self.assertLess(c.revision(), rev)
            self.send(a, [ADDR], message("moved, sent to a"))
            self.send(b, [ADDR], message("moved, sent to the old home"))
            for node in (a, b):     # both queues hold their message: c says 451 4.4.6
                held = node.wait_for(lambda: [x for x in self.mailq(node).splitlines()
                                              if "deferred" in x and "4.4.6" in x], 30)
                self.assertTrue(held, self.mailq(node))
            time.sleep(2)
            for node in (a, b, c):
                for subject in ("moved, sent to a", "moved, sent to the old home"):
                    self.assertEqual(self.with_subject(node, ADDR, subject), [])
        finally:
            subprocess.run(["s6-svc", "-wU", "-T", "20000", "-u", sync], check=True)
        c.wait_for(lambda: c.revision() >= rev, 20)
        for subject in ("moved, sent to a", "moved, sent to the old home"):
            got = c.wait_for(lambda: self.with_subject(c, ADDR, subject), 30)
            self.assertEqual(len(got), 1, subject)
        time.sleep(3)
        for subject in ("moved, sent to a", "moved, sent to the old home"):
            self.assertEqual(len(self.with_subject(c, ADDR, subject)), 1)
            self.assertEqual(self.with_subject(a, ADDR, subject), [])
            self.assertEqual(self.with_subject(b, ADDR, subject), [])
        # a -> c and b -> c, and c, the home, passed nothing on
        self.assertNotIn("how=remote", c.log("queue"))

    def test_8_node_set_twice_the_last_line_counts_everywhere(self):
        """Node a's etc/fleet copied from node b's, and the operator appended the corrected
        node=a (docs/fleet.md "Modes"): every program of a takes the last line. Mail for a
        domain homed on a, sent to a's port 25, is delivered on a and fetched there by POP3;
        yubin-check names node a and warns of the repeated line; yubin-fleet takes this node
        for a."""
        a = self.nodes[0]
        orig = a.edit_fleet_conf(self)
        self.assertIn("node=a\n", orig)
        a.write_fleet_conf(orig.replace("node=a\n", "node=b\n") + "node=a\n")
        self.send(a, ["hanako@home-a.test"], message("node set twice"))
        got = a.wait_for(lambda: self.with_subject(a, "hanako@home-a.test", "node set twice"),
                         20)
        self.assertEqual(len(got or []), 1, self.mailq(a) + a.log("queue")[-1500:])
        self.assertGreaterEqual(a.pop_login("hanako@home-a.test", "Hanako-pw-1")[0], 1)
        r = subprocess.run([a.bin("yubin-check"), "--root", a.root], capture_output=True,
                           text=True)
        self.assertIn("warning: etc/fleet sets node= on 2 lines: the last, node=a, counts for "
                      "every program of this node; remove the others\n", r.stdout)
        self.assertIn("ok: fleet node a: maps built from etcd revision", r.stdout)
        self.assertNotIn("fleet node b", r.stdout)
        r = subprocess.run([a.bin("yubin-fleet"), "--root", a.root, "domain", "cleanup",
                            "home-a.test"], env=a.env(), capture_output=True, text=True)
        self.assertEqual((r.returncode, r.stderr), (100, "yubin-fleet: fatal: home-a.test is "
                         "homed on this node: its Maildirs are not an old copy\n"))

    def test_9_a_line_one_program_refuses_every_program_refuses(self):
        """Node a's etc/fleet with trailing spaces after node=a, then with a comment after it
        (docs/fleet.md "Modes": nothing may follow a value), then without its endpoints= line
        (mapsync has no etcd to build a's maps from): smtpd does not take the file mapsync
        refuses and defers the mail for a's own domain (451, the reason and the line in its
        log); yubin-fleet refuses with the same reason, yubin-check fails with it."""
        a = self.nodes[0]
        orig = a.edit_fleet_conf(self)
        line = orig.split("\n").index("node=a") + 1
        cases = [(orig.replace("node=a\n", bad + "\n"),
                  "etc/fleet:%d: bad %s: a node name is 1-63 of a-z 0-9 -, and nothing may "
                  "follow it on its line" % (line, bad)) for bad in ("node=a   ", "node=a # x")]
        cases.append(("".join(x for x in orig.splitlines(True)
                              if not x.startswith("endpoints=")),
                      "etc/fleet: no endpoints=URL,... line (the etcd members mapsync reads the "
                      "maps from)"))
        for text, why in cases:
            a.write_fleet_conf(text)
            with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
                self.send(a, ["hanako@home-a.test"], message("bad line"))
            code, _ = cm.exception.recipients["hanako@home-a.test"]
            self.assertEqual(code, 451)
            self.assertTrue(a.wait_for(lambda: why in a.log("smtp"), 10), a.log("smtp")[-800:])
            r = subprocess.run([a.bin("yubin-fleet"), "--root", a.root, "status"],
                               env=a.env(), capture_output=True, text=True)
            self.assertEqual((r.returncode, r.stderr),
                             (100, "yubin-fleet: fatal: %s/%s\n" % (a.root, why)))
            r = subprocess.run([a.bin("yubin-check"), "--root", a.root], capture_output=True,
                               text=True)
            self.assertIn("FAIL: %s/%s: every program of this node refuses the file" %
                          (a.root, why), r.stdout)
            self.assertNotIn("ok: fleet node", r.stdout)

    def test_9b_a_refused_line_is_named_in_every_log(self):
        """Node a's etc/fleet with a comment after node=a (docs/fleet.md "Modes"): each program
        of a that meets the file names its line and the reason in its log, not just "Invalid
        argument": queue-run (a's queued mail for a domain homed on another node) and remote
        (for a domain outside the fleet), which keep the mail queued; pop3-front, which refuses
        a POP3 login on a; checkpw, which refuses the session node b's front opens for a mailbox
        homed on a. Corrected, the queued mail for the other node's domain is delivered once."""
        a, b, _ = self.nodes
        orig = a.edit_fleet_conf(self)
        line = orig.split("\n").index("node=a") + 1
        why = ("%s/etc/fleet:%d: bad node=a # x: a node name is 1-63 of a-z 0-9 -, and nothing "
               "may follow it on its line" % (a.root, line))
        subject, far = "queued while etc/fleet is bad", "someone@far-away.test"
        # route.test's home as a's maps say (b, or c after test_7's move)
        rec = subprocess.run(["cdb", "-q", os.path.join(a.root, "cdb", "homes.cdb"),
                              "route.test"], capture_output=True, text=True).stdout
        home = [n for n in self.nodes if "node=%s " % n.name in rec + " "]
        self.assertEqual(len(home), 1, rec)
        home = home[0]
        self.assertIsNot(home, a)
        svc = os.path.join(home.root, "service", "fleet-smtp")
        time.sleep(3)       # a's cached session to the home goes idle first (test_3)
        subprocess.run(["s6-svc", "-wD", "-T", "10000", "-d", svc], check=True)
        try:
            self.assertFalse(port_open(home.port("fleet_smtp")))
            # one message from a customer of a: to route.test (its home's internal port is
            # down) and to a domain outside the fleet (no DNS answers): both wait in a's queue
            with smtplib.SMTP("127.0.0.1", a.port("submission"), timeout=30) as s:
                s.login("hanako@home-a.test", "Hanako-pw-1")
                s.sendmail("hanako@home-a.test", [ADDR, far], message(subject))

            def waiting():
                return [x for x in self.mailq(a).splitlines()
                        if "deferred" in x and ("<%s>" % ADDR in x or "<%s>" % far in x)]
            self.assertTrue(a.wait_for(lambda: len(waiting()) == 2, 60), self.mailq(a))
            a.write_fleet_conf(orig.replace("node=a\n", "node=a # x\n"))
            for node in (a, b):     # a's front, and b's front calling a (checkpw -f)
                with self.assertRaises(poplib.error_proto) as cm:
                    node.pop_login("hanako@home-a.test", "Hanako-pw-1")
                self.assertTrue(cm.exception.args[0].startswith(b"-ERR [SYS/TEMP]"),
                                cm.exception.args[0])
            logs = {"queue": "unable to read the home of route.test id=",
                    "remote": "unable to read the home of far-away.test id=",
                    "pop3": "unable to read the home of user=hanako@home-a.test: ",
                    "pop3-fleet": "refused a session of node b for user=hanako@home-a.test: "
                                  "unable to read the home: "}
            a.wait_for(lambda: all(why in a.log(k) for k in logs), 30)
            unnamed = {}
            for k, before in logs.items():
                got = [x for x in a.log(k).splitlines() if before in x]
                if not (got and got[-1].endswith(": " + why)):
                    unnamed[k] = a.log(k)[-400:]
            self.assertEqual(sorted(unnamed), [], unnamed)
            self.assertEqual(self.with_subject(home, ADDR, subject), [])
        finally:
            a.write_fleet_conf(orig)
            subprocess.run(["s6-svc", "-wU", "-T", "10000", "-u", svc], check=True)
        got = home.wait_for(lambda: self.with_subject(home, ADDR, subject), 30)
        self.assertEqual(len(got), 1, self.mailq(a) + a.log("queue")[-1500:])
        # the outside recipient would wait for days: deleted, without a notice
        mid = a.log("remote").split(logs["remote"], 1)[1].split(":", 1)[0]
        subprocess.run([a.bin("mailq"), "--root", a.root, "delete", mid, "--silent"],
                       env=a.env(), capture_output=True, check=True)
        self.assertIn("-- 0 messages", a.wait_for(lambda: "-- 0 messages" in self.mailq(a)
                                                  and self.mailq(a), 15) or self.mailq(a))

if __name__ == "__main__":
    unittest.main()
