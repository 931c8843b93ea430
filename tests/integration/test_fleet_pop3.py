"""POP3 and POP3S through any node of a fleet (docs/fleet.md "POP3 through any node"): a real
3-member etcd cluster and 3 nodes; the domain b.test is homed on node b, its mail delivered
there by SMTP; customers log in through node a or c. The session runs on b (UIDLs, the lock),
the password and the plan are checked at the front, a home that is down is a [SYS/TEMP], and a
POP3 login on one node opens POP-before-SMTP on the others."""
import os
import poplib
import pwd
import re
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IS_ROOT, can_open, proc_name, proc_uid, relay_rcpt_code  # noqa: E402
from fleetharness import ETCD, ETCDCTL, Etcd, FleetCase, FleetNode  # noqa: E402

TARO, TARO_PW = "taro@b.test", "Taro-pw-1"
KEN, KEN_PW = "ken@basic.test", "Ken-pw-1"


class POP3From(poplib.POP3):
    """poplib.POP3 from a chosen loopback source address (the customer's IP)."""

    def __init__(self, host, port, src, timeout=10):
        self._src = src
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self._src, 0))


@unittest.skipUnless(ETCD and ETCDCTL, "etcd-server and etcd-client not installed (make deps)")
@unittest.skipUnless(IS_ROOT, "the fleet runs its services under their own uids: needs root")
class FleetPOP3Test(FleetCase):
    @classmethod
    def prepare(cls):
        a, b, _ = cls.nodes
        cls.import_with_nodes()
        a.mailacct("domain", "add", "b.test", "--plan", "premium", "--home", "b")
        a.mailacct("domain", "add", "basic.test", "--plan", "basic", "--home", "b")
        a.mailacct("add", TARO, "--password", TARO_PW)
        a.mailacct("add", KEN, "--password", KEN_PW)
        # mail for taro arrives on its home the real way: SMTP to node b
        cls.bodies = []
        for i in range(3):
            body = "Subject: note %d\r\n\r\nline one of %d\r\n..dot line\r\nend\r\n" % (i, i)
            with smtplib.SMTP("127.0.0.1", b.port("smtp"), timeout=10) as s:
                s.sendmail("sender@outside.example", [TARO], body)
        with smtplib.SMTP("127.0.0.1", b.port("smtp"), timeout=10) as s:
            s.sendmail("sender@outside.example", [KEN], "Subject: hello ken\r\n\r\nhi\r\n")
        assert b.wait_for(lambda: len(b.messages(TARO)) == 3 and len(b.messages(KEN)) == 1,
                          15), b.all_logs()

    def pop(self, node, user, pw, port="pop3", src="127.0.0.1"):
        if port == "pop3s":
            ctx = ssl.create_default_context(cafile=os.path.join(node.root, "etc", "tls",
                                                                 "ca.pem"))
            p = poplib.POP3_SSL("127.0.0.1", node.port("pop3s"), context=ctx, timeout=10)
        else:
            p = POP3From("127.0.0.1", node.port(port), src)
        p.user(user)
        p.pass_(pw)
        return p

    def uidls(self, p):
        return [line.split(b" ", 1)[1] for line in p.uidl()[1]]

    def test_1_session_through_a_front_is_the_home_session(self):
        a, b, _ = self.nodes
        p = self.pop(b, TARO, TARO_PW)          # direct on the home
        direct = self.uidls(p)
        p.quit()
        self.assertEqual(len(direct), 3)
        files = {os.path.basename(f).split(":")[0]: f for f in b.messages(TARO)}
        for port in ("pop3", "pop3s"):
            p = self.pop(a, TARO, TARO_PW, port)
            count, octets = p.stat()
            self.assertEqual(count, 3)
            self.assertEqual(self.uidls(p), direct)       # the same UIDLs through the front
            for n, uid in enumerate(direct, 1):
                with open(files[uid.decode()], "rb") as f:
                    disk = f.read()
                lines = p.retr(n)[1]
                self.assertEqual(b"\n".join(lines) + b"\n", disk.replace(b"\r\n", b"\n"))
            p.quit()
        self.assertEqual(a.messages(TARO), [])            # nothing was served from a's disk
        # DELE through the front removes the message on the home at QUIT
        p = self.pop(a, TARO, TARO_PW)
        self.assertTrue(p.dele(1).startswith(b"+OK"))
        p.quit()
        self.assertEqual(len(b.messages(TARO)), 2)
        p = self.pop(b, TARO, TARO_PW)
        self.assertEqual(self.uidls(p), direct[1:])
        p.quit()
        self.assertTrue(a.wait_for(lambda: "home=b" in a.log("pop3") + a.log("pop3s"), 5))

    def test_2_one_session_fleet_wide_and_the_password_checked_at_the_front(self):
        a, _, c = self.nodes
        first = self.pop(a, TARO, TARO_PW)
        try:
            with self.assertRaises(poplib.error_proto) as e:
                self.pop(c, TARO, TARO_PW)
            self.assertIn(b"[IN-USE]", e.exception.args[0])
            self.assertEqual(first.stat()[0], 2)           # the first one is unharmed
        finally:
            first.quit()
        with self.assertRaises(poplib.error_proto) as e:
            self.pop(a, TARO, "wrong-password")
        self.assertIn(b"[AUTH]", e.exception.args[0])
        self.assertTrue(a.wait_for(lambda: "auth failed user=%s" % TARO in a.log("pop3"), 5),
                        a.log("pop3"))

    def test_3_plan_rule_for_995_at_the_front(self):
        a, b, _ = self.nodes
        with self.assertRaises(poplib.error_proto) as e:
            self.pop(a, KEN, KEN_PW, "pop3s")
        self.assertIn(b"[SYS/PERM] POP over SSL (port 995) is not included in the basic plan",
                      e.exception.args[0])
        p = self.pop(a, KEN, KEN_PW)                      # port 110 is fine: b's mailbox
        self.assertEqual(p.stat()[0], 1)
        p.quit()
        p = self.pop(a, TARO, TARO_PW, "pop3s")           # premium: 995 at once, b's mailbox
        self.assertEqual(p.stat()[0], len(b.messages(TARO)))
        p.quit()

    def test_4_internal_port_wants_a_fleet_certificate(self):
        _, b, _ = self.nodes
        port = b.port("fleet_pop3")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with ctx.wrap_socket(raw) as t:
                    t.sendall(("login %s - - -\n" % TARO).encode())
                    if not t.recv(100):
                        raise ConnectionError("closed")
        # plaintext gets nothing either
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            raw.sendall(("login %s - - -\n" % TARO).encode())
            raw.settimeout(5)
            try:
                got = raw.recv(100)
            except (ConnectionError, socket.timeout):
                got = b""
            self.assertNotIn(b"+OK", got)
        # a certificate of the fleet CA that is not a node's (the operator's) opens no mailbox
        pki = self.etcd.pki
        ctx.load_cert_chain(os.path.join(pki, "operator.pem"), os.path.join(pki, "operator.key"))
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with ctx.wrap_socket(raw) as t:
                t.sendall(("login %s - - -\n" % TARO).encode())
                try:
                    got = t.recv(100)
                except (ssl.SSLError, ConnectionError, socket.timeout):
                    got = b""
                self.assertNotIn(b"+OK", got)
        # node a's remote certificate (CN fleet-a, its key readable by the outbound network
        # parser) offers mail to b; it opens no mailbox and pushes no grant there
        a = self.nodes[0]
        fd = os.path.join(a.root, "etc", "fleet.d")
        ctx.load_cert_chain(os.path.join(fd, "remote.pem"), os.path.join(fd, "remote.key"))
        for req in ("login %s 127.0.0.1 - -\n" % TARO, "grant 127.0.0.77 %s\n" % TARO):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with ctx.wrap_socket(raw) as t:
                    t.sendall(req.encode())
                    try:
                        got = t.recv(100)
                    except (ssl.SSLError, ConnectionError, socket.timeout):
                        got = b""
                    self.assertNotIn(b"+OK", got, req)
        self.assertTrue(b.wait_for(lambda: "link-NODE expected" in b.log("pop3-fleet"), 10),
                        b.log("pop3-fleet")[-2000:])

    def relay_code(self, node, src):
        return relay_rcpt_code(node.port("smtp"), src, TARO, "friend@outside.example", 10)

    def test_5_pop_before_smtp_on_another_node(self):
        a, _, c = self.nodes
        src = "127.0.0.7"
        self.assertGreaterEqual(self.relay_code(c, src), 500)   # no login yet: no relay
        p = self.pop(a, TARO, TARO_PW, src=src)
        p.quit()
        code = c.wait_for(lambda: self.relay_code(c, src) == 250 or None, 10)
        self.assertTrue(code, c.log("pop3-fleet") + a.log("pop3"))
        # a login made on the home itself opens the other nodes too
        _, b, _ = self.nodes
        src = "127.0.0.6"
        self.assertGreaterEqual(self.relay_code(a, src), 500)
        self.pop(b, TARO, TARO_PW, src=src).quit()
        code = a.wait_for(lambda: self.relay_code(a, src) == 250 or None, 10)
        self.assertTrue(code, b.log("grant-push") + a.log("pop3-fleet"))

    def test_6_expired_grant_is_removed(self):
        _, b, _ = self.nodes
        b.set_env("RELAY_WINDOW", 2)
        b.restart("pop3d")
        relay = os.path.join(b.root, "relay")
        self.pop(b, TARO, TARO_PW, src="127.0.0.8").quit()
        self.assertTrue(os.path.exists(os.path.join(relay, "127.0.0.8")))
        time.sleep(3)
        self.pop(b, TARO, TARO_PW, src="127.0.0.9").quit()
        self.assertFalse(os.path.exists(os.path.join(relay, "127.0.0.8")))
        self.assertTrue(os.path.exists(os.path.join(relay, "127.0.0.9")))

    def test_7_the_fleet_key_stays_out_of_the_network_parser(self):
        a, _, _ = self.nodes
        key = os.path.join(a.root, "etc", "fleet.d", "link.key")
        self.assertTrue(can_open("yubin-link", key))
        for user in ("yubin-pop", "yubin-mbox", "yubin-smtpd", "yubin-tls"):
            self.assertFalse(can_open(user, key), user)
        held = self.pop(a, TARO, TARO_PW)     # a live session through a: who runs what
        try:
            procs = {}
            for svc in ("pop3", "pop3-link"):
                for pid in a.pids(svc):
                    uid = proc_uid(pid)
                    if uid is not None:     # not another session, ended meanwhile
                        procs.setdefault(proc_name(pid), set()).add(uid)
            self.assertEqual(procs.get("pop3-link"), {pwd.getpwnam("yubin-link").pw_uid}, procs)
            self.assertEqual(procs.get("pop3-front"), {pwd.getpwnam("yubin-pop").pw_uid}, procs)
        finally:
            held.quit()

    def test_8_account_deleted_on_its_home_only(self):
        """mailacct del on a node that does not hold the mailbox is refused and changes
        nothing (the mailbox would stay behind with no account); on the home it is deleted
        everywhere and its mailbox goes to the home's trash."""
        a, b, c = self.nodes
        addr = "leaver@b.test"
        a.mailacct("add", addr, "--password", "Leaver-pw-1")
        with smtplib.SMTP("127.0.0.1", b.port("smtp"), timeout=30) as s:
            s.sendmail("sender@outside.example", [addr], "Subject: before leaving\r\n\r\nbye\r\n")
        self.assertTrue(b.wait_for(lambda: len(b.messages(addr)) == 1, 20), b.log("queue"))
        r = c.mailacct("del", addr, check=False)
        self.assertEqual(r.returncode, 100, r.stdout + r.stderr)
        self.assertIn("the mailbox of %s is on node b (the home of b.test): run mailacct del "
                      "there" % addr, r.stderr)
        p = self.pop(c, addr, "Leaver-pw-1")                # still there, through c
        self.assertEqual(p.stat()[0], 1)
        p.quit()
        out = b.mailacct("del", addr).stdout
        self.assertRegex(out, r"account %s deleted; mailbox moved to \S+" % re.escape(addr))
        self.assertFalse(os.path.exists(b.maildir(addr)))
        for node in (a, b, c):
            with self.assertRaises(poplib.error_proto):
                self.pop(node, addr, "Leaver-pw-1")

    def test_9_home_down_is_a_temporary_error(self):
        a, b, _ = self.nodes
        b.stop()
        with self.assertRaises(poplib.error_proto) as e:
            self.pop(a, TARO, TARO_PW)
        msg = e.exception.args[0]
        self.assertTrue(msg.startswith(b"-ERR [SYS/TEMP]"), msg)
        self.assertIn(b"try again in a few minutes", msg)
        self.assertTrue(a.wait_for(lambda: "home node b" in a.log("pop3"), 5), a.log("pop3"))


if __name__ == "__main__":
    unittest.main()
