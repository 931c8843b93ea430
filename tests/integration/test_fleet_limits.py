"""Sending limits across a fleet (docs/fleet.md "Sending limits across nodes"): an account's
messages per window hold for the fleet, not per node. A real 3-member etcd cluster and nodes a
and b; the account's small limit is set the operator's way (`mailacct sending-limits`, through
etcd to both nodes); its mail is submitted by SMTP AUTH on 587 through a, then through b, and b
refuses with the same 451 4.7.1 once the fleet's total reaches the limit (ratesync on each node
carries the counts through etcd: polled with a deadline, never a fixed sleep). Another account
is unaffected. ratesync stopped on b with `s6-svc -d`: mail still flows and b counts its own
mail only; started again, the counts come back. ratesync SIGKILLed: s6 starts it again and
the counts still travel. `mailacct show` prints the fleet's count and the node's own."""
import grp
import os
import pwd
import re
import smtplib
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IS_ROOT, as_user, can_open, proc_uid  # noqa: E402
from fleetharness import ETCD, ETCDCTL, FleetCase  # noqa: E402

PW = "Limit-fleet-pw1"
X = "x@lim.test"        # limit 6 messages: sends through a, then b
W = "w@lim.test"        # the plan's limit: unaffected
Y = "y@lim.test"        # limit 4: sent while b's ratesync is stopped
K = "k@lim.test"        # limit 100: counted across a kill -9 of ratesync
Z = "z@lim.test"        # limit 5: counted by a node c gone from the fleet, changed in etcd
RCV = "rcv@lim.test"
SYNC_DEADLINE = 15      # seconds for a count to reach the other node (documented: ~1-3 s)
REFUSAL = ("4.7.1 sending limit reached: at most %d messages per hour from your account; wait "
           "and send again later, or ask your provider to raise the limit")


@unittest.skipUnless(ETCD and ETCDCTL, "etcd-server and etcd-client not installed (make deps)")
@unittest.skipUnless(IS_ROOT, "the fleet runs its services under their own uids: needs root")
class FleetLimitsTest(FleetCase):
    names = ("a", "b")

    @classmethod
    def prepare(cls):
        a, _ = cls.nodes
        # the operator's address for the alerts: a's etc/admin goes into the directory with the
        # plans; b has no etc/admin, and takes it from there (mapsync writes cdb/admin)
        with open(os.path.join(a.root, "etc", "admin"), "w") as f:
            f.write("ops@lim.test\n")
        r = a.mailacct("import", check=False)
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert not os.path.exists(os.path.join(cls.nodes[1].root, "etc", "admin"))
        a.mailacct("domain", "add", "lim.test", "--plan", "premium")
        for addr in (X, W, Y, K, Z, RCV, "ops@lim.test"):
            a.mailacct("add", addr, "--password", PW)
        a.mailacct("sending-limits", X, "6", "100")
        a.mailacct("sending-limits", Z, "5", "100")
        a.mailacct("sending-limits", Y, "4", "100")
        a.mailacct("sending-limits", K, "100", "1000")

    # --- helpers
    def submit(self, node, user):
        """One message by SMTP AUTH on node's 587; raises what smtplib raises."""
        with smtplib.SMTP("127.0.0.1", node.port("submission"), timeout=20) as s:
            s.login(user, PW)
            s.sendmail(user, [RCV], "From: <%s>\r\nSubject: n %d\r\n\r\nbody\r\n"
                       % (user, time.time_ns()))

    def refused(self, node, user, limit):
        with self.assertRaises(smtplib.SMTPSenderRefused) as e:
            self.submit(node, user)
        self.assertEqual(e.exception.smtp_code, 451, e.exception)
        self.assertEqual(e.exception.smtp_error.decode(), REFUSAL % limit)

    def show(self, node, user):
        return node.mailacct("show", user).stdout

    def fleet_count(self, node, user):
        m = re.search(r"sent through the fleet in the last hour: (\d+) messages", self.show(node,
                                                                                          user))
        return int(m.group(1)) if m else None

    def wait_count(self, node, user, n, seconds=SYNC_DEADLINE):
        """Until node's `mailacct show` says the fleet sent n messages of user."""
        deadline = time.time() + seconds
        got = None
        while time.time() < deadline:
            got = self.fleet_count(node, user)
            if got == n:
                return time.time()
            time.sleep(0.1)
        self.fail("node %s: fleet count of %s is %s, not %d after %ds\n%s\n%s" % (
            node.name, user, got, n, seconds, self.show(node, user),
            node.log("ratesync")[-2000:]))

    def sync_pid(self, node):
        st = subprocess.run(["s6-svstat", "-o", "pid", os.path.join(node.root, "service",
                                                                   "ratesync")],
                            capture_output=True, text=True, check=True)
        return int(st.stdout.split()[0])

    def sync_cpu(self, node):
        """CPU seconds of node's ratesync and its etcdctl runs so far, and its age."""
        pid = self.sync_pid(node)
        with open("/proc/%d/stat" % pid) as f:
            f13 = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        with open("/proc/uptime") as f:
            up = float(f.read().split()[0]) - int(f13[19]) / tick
        return sum(int(x) for x in f13[11:15]) / tick, up

    def full_reads(self, node):
        """The full reads of /yubin/rate/ node's ratesync logged so far."""
        return re.findall(r"ratesync: info: read /yubin/rate/ in full \((.*)\): \d+ records",
                          node.log("ratesync"))

    def yubin_check(self, node):
        return subprocess.run([node.bin("yubin-check"), "--root", node.root],
                              capture_output=True, text=True)

    def svc(self, node, *args):
        subprocess.run(["s6-svc"] + list(args) + [os.path.join(node.root, "service",
                                                               "ratesync")], check=True)

    # --- tests
    def test_1_limit_holds_for_the_fleet(self):
        a, b = self.nodes
        for _ in range(3):
            self.submit(a, X)
        t0 = time.time()
        self.wait_count(b, X, 3)
        print("\n  a's 3 messages counted on b after %.2f s" % (time.time() - t0))
        for _ in range(3):              # 3 through a + 3 through b: the limit of 6
            self.submit(b, X)
        self.refused(b, X, 6)
        # s6-log may write smtpd's last lines a moment after the client has the 451
        self.assertTrue(b.wait_for(lambda: "sending limit reached account=%s" % X
                                   in b.log("submission"), 5), b.log("submission")[-2000:])
        alert = re.compile(r"alert id=\S+ to=<ops@lim\.test> session=\S+: sending limit "
                           r"reached: " + re.escape(X))
        self.assertTrue(b.wait_for(lambda: alert.search(b.log("submission")), 5),
                        b.log("submission")[-2000:])
        # a learns b's three and refuses too
        self.wait_count(a, X, 6)
        self.refused(a, X, 6)
        # another account of the same domain sends through both
        self.submit(b, W)
        self.submit(a, W)
        out = self.show(b, X)
        self.assertIn("sent through the fleet in the last hour: 6 messages", out)
        self.assertIn("sent through this node (b) in the last hour: 3 messages", out)
        self.assertIn("sent through this node (a) in the last hour: 3 messages", self.show(a, X))
        print("  b's ratesync: %.2f s of CPU (with its etcdctl runs) in its %.1f s" %
              self.sync_cpu(b))
        # only accounts travel: the per-IP counters stay the node's own
        self.assertIsNone(re.search(r"/yubin/rate/[ab]/ip-", self.etcd.ctl(
            "get", "--prefix", "--keys-only", "/yubin/rate/").stdout))

    def test_4_privileges(self):
        """ratesync runs as yubin-sync and reads rate/ through its group; smtpd reads the
        other nodes' sums through its own and cannot write them; smtpd holds no fleet key."""
        _, b = self.nodes
        self.assertEqual(proc_uid(self.sync_pid(b)), pwd.getpwnam("yubin-sync").pw_uid)
        mine = os.stat(os.path.join(b.root, "rate", X))
        self.assertEqual((mine.st_mode & 0o777, grp.getgrgid(mine.st_gid).gr_name),
                         (0o640, "yubin-sync"))
        theirs = os.stat(os.path.join(b.root, "ratefleet", X))
        self.assertEqual((pwd.getpwuid(theirs.st_uid).pw_name, theirs.st_mode & 0o777,
                          grp.getgrgid(theirs.st_gid).gr_name),
                         ("yubin-sync", 0o640, "yubin-smtpd"))
        self.assertTrue(can_open("yubin-smtpd", os.path.join(b.root, "ratefleet", X)))
        for path in (os.path.join(b.root, "ratefleet", X),
                     os.path.join(b.root, "ratefleet", "new@lim.test")):
            r = as_user("yubin-smtpd", ["sh", "-c", 'echo x >> "$1"', "sh", path],
                        capture_output=True)
            self.assertNotEqual(r.returncode, 0, "smtpd wrote " + path)
        self.assertFalse(can_open("yubin-smtpd", os.path.join(b.root, "etc", "fleet.d",
                                                              "node.key")))

    def test_2_sync_stopped_limits_per_node(self):
        a, b = self.nodes
        self.svc(b, "-wD", "-T", "10000", "-d")
        try:
            # said before it exited; s6-log may write it a moment after
            self.assertTrue(b.wait_for(lambda: "stopping: the sending limits count this node's "
                                       "mail only" in b.log("ratesync"), 10),
                            b.log("ratesync")[-2000:])
            self.assertIn("sent through the fleet: unknown", self.show(b, Y))
            for _ in range(3):
                self.submit(a, Y)
            self.wait_count(a, Y, 3)    # a's own; b cannot learn them now
            for _ in range(4):          # b's own limit of 4: mail still flows through b
                self.submit(b, Y)
            self.refused(b, Y, 4)
            self.assertIn("sent through this node (b) in the last hour: 4 messages",
                          self.show(b, Y))
        finally:
            self.svc(b, "-wU", "-T", "10000", "-u")
        # back: b adds a's 3, and a learns b's 4 (published when b's ratesync came back)
        self.wait_count(b, Y, 7)
        self.wait_count(a, Y, 7)
        self.refused(a, Y, 4)

    def test_3_kill_9_survived(self):
        a, b = self.nodes
        self.submit(a, K)
        self.wait_count(b, K, 1)
        pid = self.sync_pid(a)
        self.assertGreater(pid, 0)
        os.kill(pid, 9)
        self.submit(a, K)
        self.submit(b, K)
        self.wait_count(b, K, 3)
        self.wait_count(a, K, 3)
        self.assertNotEqual(self.sync_pid(a), pid)
        self.assertTrue(a.wait_for(lambda: "ratesync: info: node a starting"
                                   in a.log("ratesync"), 10), a.log("ratesync")[-2000:])

    def test_5_operator_address_set_on_b_reaches_a(self):
        """The operator's address is the directory's: `mailacct operator` on b changes it for
        every node (a's cdb/admin, where its alerts and double bounces go)."""
        a, b = self.nodes
        self.assertEqual(b.mailacct("operator").stdout.strip(), "ops@lim.test")
        out = b.mailacct("operator", "boss@lim.test").stdout
        self.assertIn("operator address: boss@lim.test (was ops@lim.test), on every node", out)

        def admin_of(node):
            try:
                with open(os.path.join(node.root, "cdb", "admin")) as f:
                    return f.read()
            except OSError:
                return None
        self.assertTrue(a.wait_for(lambda: admin_of(a) == "boss@lim.test\n", 15), admin_of(a))
        self.assertEqual(a.mailacct("operator").stdout.strip(), "boss@lim.test")


    def test_6_records_changed_in_etcd_travel_by_the_watch(self):
        """A node c taken out of the fleet left a counter of Z in etcd; the operator changes it
        and then deletes it there (etcdctl). a and b take each change from their watch and
        refuse or accept Z's mail by it, with no full read of /yubin/rate/ since their start
        (ratesync logs each full read and why)."""
        a, b = self.nodes
        reads = {n.name: self.full_reads(n) for n in self.nodes}
        for n in self.nodes:
            self.assertTrue(reads[n.name], "node %s logged no full read\n%s"
                            % (n.name, n.log("ratesync")[-2000:]))
        self.submit(a, Z)
        self.wait_count(b, Z, 1)
        # c's record: a's slots with 4 messages each: the fleet has sent 5, Z's limit
        mine = self.etcd.get("/yubin/rate/a/" + Z)
        self.assertRegex(mine or "", r"^1 w=3600 f=\d+:1:1 d=\d+:1:1$")

        def c_counts(n):
            self.etcd.ctl("put", "/yubin/rate/c/" + Z,
                          re.sub(r"(\d+):1:1", r"\1:%d:%d" % (n, n), mine))
        c_counts(4)
        self.wait_count(b, Z, 5)
        self.refused(b, Z, 5)
        self.wait_count(a, Z, 5)
        self.refused(a, Z, 5)
        c_counts(2)                 # changed: 1 + 2, b takes one more
        self.wait_count(b, Z, 3)
        self.submit(b, Z)
        self.wait_count(a, Z, 4)
        self.etcd.ctl("del", "--prefix", "/yubin/rate/c/")   # deleted: a's 1 and b's 1
        self.wait_count(a, Z, 2)
        self.wait_count(b, Z, 2)
        for _ in range(3):
            self.submit(b, Z)
        self.wait_count(a, Z, 5)
        self.refused(a, Z, 5)
        for n in self.nodes:
            self.assertEqual(self.full_reads(n), reads[n.name], n.log("ratesync")[-3000:])

    def test_7_yubin_check_names_missing_grants(self):
        """b's role as `yubin-fleet node` made it before ratesync (no read of /yubin/rate/, no
        write of /yubin/rate/b/: here revoked with the root certificate): ratesync logs that
        etcd refuses it, and yubin-check fails, naming both and the command that gives them;
        run as told, ratesync counts the fleet's mail again and yubin-check says ok."""
        _, b = self.nodes
        fresh = os.path.join(b.root, "ratefleet", ".fresh")
        root = os.path.join(self.etcd.pki, "root")
        r = self.yubin_check(b)
        self.assertIn("ok: fleet node b: etcd lets ratesync read /yubin/rate/ and write "
                      "/yubin/rate/b/\n", r.stdout)
        self.assertRegex(r.stdout, r"ok: fleet node b: ratesync heard from etcd \d+ s ago")
        self.etcd.ctl("role", "revoke-permission", "node-b", "/yubin/rate/", "--prefix=true",
                      cert=root)
        self.etcd.ctl("role", "revoke-permission", "node-b", "/yubin/rate/b/", "--prefix=true",
                      cert=root)
        try:
            self.assertTrue(b.wait_for(lambda: not os.path.exists(fresh), 15),
                            b.log("ratesync")[-2000:])
            unable = re.compile(r"ratesync: warning: unable to read /yubin/rate/ from etcd "
                                r"\(Error: etcdserver: permission denied\): until then the "
                                r"sending limits count this node's mail only")
            self.assertTrue(b.wait_for(lambda: unable.search(b.log("ratesync")), 10),
                            b.log("ratesync")[-2000:])
            r = self.yubin_check(b)
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("FAIL: fleet node b: etcd does not let ratesync read /yubin/rate/ or "
                          "write /yubin/rate/b/ (the node's role lacks the grants of the sending "
                          "limits): each node counts its own mail against them; run yubin-fleet "
                          "node-grants CA-FOLDER %s b (with the root certificate, where the "
                          "fleet CA is)\n" % self.etcd.endpoints, r.stdout)
        finally:
            self.etcd.fleet("node-grants", self.etcd.pki, self.etcd.endpoints, "b")
        # the next full read, 5 s after etcd refused the first (later reads wait longer)
        self.assertTrue(b.wait_for(lambda: os.path.exists(fresh), 30), b.log("ratesync")[-2000:])
        r = self.yubin_check(b)
        self.assertIn("ok: fleet node b: etcd lets ratesync read /yubin/rate/ and write "
                      "/yubin/rate/b/\n", r.stdout)
        self.assertNotIn("ratesync", "".join(l for l in r.stdout.splitlines(True)
                                             if not l.startswith("ok: ")))

    def test_8_watch_lost_read_in_full_again(self):
        """b's etcdctl watch killed (as when it exits): ratesync reads /yubin/rate/ in full
        once, says why, watches again from there, and a's next count reaches b."""
        a, b = self.nodes
        sync = self.sync_pid(b)
        watches = [int(p) for p in os.listdir("/proc") if p.isdigit() and self.is_watch(p, sync)]
        self.assertEqual(len(watches), 1, watches)
        before = self.full_reads(b)
        os.kill(watches[0], 9)
        self.assertTrue(b.wait_for(lambda: len(self.full_reads(b)) > len(before), 15),
                        b.log("ratesync")[-2000:])
        self.assertEqual(self.full_reads(b)[len(before):], ["etcdctl watch ended"])
        n = self.fleet_count(b, K)
        self.submit(a, K)
        self.wait_count(b, K, n + 1)
        self.assertEqual(len(self.full_reads(b)), len(before) + 1)

    def fresh_stays(self, node, seconds):
        """node's ratefleet/.fresh is there throughout the next seconds (polled)."""
        fresh = os.path.join(node.root, "ratefleet", ".fresh")
        deadline = time.time() + seconds
        while time.time() < deadline:
            self.assertTrue(os.path.exists(fresh), "node %s: .fresh removed\n%s"
                            % (node.name, node.log("ratesync")[-3000:]))
            time.sleep(0.1)

    def watch_pid(self, node, not_this=None):
        """The pid of node's ratesync's etcdctl watch (another than not_this), polled."""
        sync = self.sync_pid(node)
        found = []

        def one():
            found[:] = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != not_this
                        and self.is_watch(p, sync)]
            return len(found) == 1
        self.assertTrue(node.wait_for(one, 70), node.log("ratesync")[-2000:])
        return found[0]

    def test_8a_unreadable_records_counted_as_absent(self):
        """Records under /yubin/rate/ that no ratesync wrote (put by hand with etcdctl): a value
        without the schema, an empty one (etcd leaves it out of its JSON), one of two lines, one
        that is no counter, keys of no node and account, and c's counter of K made unreadable.
        Each node logs each record once, naming it, counts it as absent (K's count drops back)
        and goes on: .fresh stays, no full read, the limits count across nodes, mailacct (which
        reads /yubin/) works; a full read with them there names none again."""
        a, b = self.nodes
        reads = {n.name: self.full_reads(n) for n in self.nodes}
        logged = {n.name: len(n.log("ratesync")) for n in self.nodes}
        n = self.fleet_count(b, K) + 1
        self.submit(a, K)                   # a's counter of K, to copy for c's
        self.wait_count(b, K, n)
        mine = self.etcd.get("/yubin/rate/a/" + K) or ""
        fine, day = (re.search(r" %s=(\d+):" % k, mine) for k in ("f", "d"))
        self.assertTrue(fine and day, mine)
        c_key = "/yubin/rate/c/" + K
        self.etcd.ctl("put", c_key, "1 w=3600 f=%s:5:5 d=%s:5:5" % (fine.group(1),
                                                                    day.group(1)))
        self.wait_count(b, K, n + 5)
        self.wait_count(a, K, n + 5)
        bad = [("/yubin/rate/c/" + X, "garbage"), ("/yubin/rate/c/" + W, ""),
               ("/yubin/rate/c/" + Y, "1 w=3600 f=1:1:1\nd=1:1:1"),
               ("/yubin/rate/c/" + Z, "1 not a counter"), ("/yubin/rate/c", "1 w=3600"),
               ("/yubin/rate/c/odd\nname@lim.test", "1 w=3600"), (c_key, "2 w=3600")]
        try:
            for key, value in bad:
                self.etcd.ctl("put", key, value)
            self.wait_count(b, K, n)        # c's counter unreadable: as if it were not there
            self.wait_count(a, K, n)
            self.submit(a, K)               # the limits still count across nodes
            self.wait_count(b, K, n + 1)
            for key, value in bad[:2]:      # the same records again: not said again
                self.etcd.ctl("put", key, value + "x")
            self.submit(b, K)
            self.wait_count(a, K, n + 2)
            for node in self.nodes:
                self.fresh_stays(node, 1)
                self.assertEqual(self.full_reads(node), reads[node.name],
                                 node.log("ratesync")[-3000:])
            # a full read with the records there (b's watch killed): read, none said again
            os.kill(self.watch_pid(b), 9)
            self.assertTrue(b.wait_for(lambda: len(self.full_reads(b)) > len(reads["b"]), 15),
                            b.log("ratesync")[-2000:])
            for key, value in bad[:2]:      # and changed again after it: still not said again
                self.etcd.ctl("put", key, value + "y")
            self.submit(a, K)
            self.wait_count(b, K, n + 3)
            self.fresh_stays(b, 1)
            for node in self.nodes:
                log = node.log("ratesync")[logged[node.name]:]
                for key, _ in bad:
                    named = "ratesync: warning: unreadable record %s in etcd (" % key.replace(
                        "\n", "?")
                    self.assertEqual(log.count(named), 1, "%s on %s\n%s"
                                     % (key, node.name, log[-3000:]))
                self.assertNotIn("unable to read /yubin/rate/", log)
                self.assertNotIn("could not be read", log)
            self.assertIn("ratesync: warning: unreadable record %s in etcd (a value not of "
                          "schema 1: written by a newer yubin, or by hand): counted as absent"
                          % c_key, b.log("ratesync"))
            self.assertIn("unreadable record /yubin/rate/c/%s in etcd (no value)" % W,
                          b.log("ratesync"))
        finally:
            for key, _ in bad:
                self.etcd.ctl("del", key)
        self.wait_count(b, K, n + 3)

    def test_8b_write_refused_reads_go_on(self):
        """b's role loses the write of /yubin/rate/b/ and keeps the read (as under etcd's space
        alarm: writes refused, reads served). b says once that etcd refused its write and why,
        keeps .fresh and its watch (no full read), and still counts a's mail; its own stays
        unseen on a. The grant given back, b's counts reach a."""
        a, b = self.nodes
        reads = self.full_reads(b)
        n = self.fleet_count(b, K)
        self.wait_count(a, K, n)
        self.etcd.ctl("role", "revoke-permission", "node-b", "/yubin/rate/b/", "--prefix=true",
                      cert=os.path.join(self.etcd.pki, "root"))
        refused = ("ratesync: warning: etcd refused the write of this node's counts (Error: "
                   "etcdserver: permission denied): the other nodes count without them until it "
                   "takes them")
        try:
            self.submit(b, K)
            self.assertTrue(b.wait_for(lambda: refused in b.log("ratesync"), 15),
                            b.log("ratesync")[-2000:])
            self.submit(a, K)
            self.wait_count(b, K, n + 2)    # a's message reaches b: its reads go on
            self.fresh_stays(b, 8)          # past a ping (5 s) and a few refused writes
            self.assertEqual(self.fleet_count(a, K), n + 1)     # b's not written
        finally:
            self.etcd.fleet("node-grants", self.etcd.pki, self.etcd.endpoints, "b")
        self.wait_count(a, K, n + 2, 70)    # written once etcd takes it (the wait doubles)
        # s6-log may write the line a moment after a has the count
        self.assertTrue(b.wait_for(lambda: "ratesync: info: etcd takes this node's counts again "
                                           "after " in b.log("ratesync"), 5),
                        b.log("ratesync")[-3000:])
        log = b.log("ratesync")
        self.assertEqual(log.count(refused), 1, log[-3000:])
        self.assertNotIn("unable to read /yubin/rate/ from etcd (Error: etcdserver: permission "
                         "denied)", log[log.index(refused):])
        self.assertEqual(self.full_reads(b), reads, log[-3000:])

    def test_8c_watch_lost_in_a_row_reads_wait_longer(self):
        """b's watch killed as soon as each new one runs, three times in a row: each full read
        waits twice as long as the one before (1, 2, 4 s after a state that held 10 s), not a
        read every second; then a's counts reach b again."""
        a, b = self.nodes
        delays, pid = [], None
        for _ in range(3):
            pid = self.watch_pid(b, pid)
            reads = len(self.full_reads(b))
            t0 = time.time()
            os.kill(pid, 9)
            self.assertTrue(b.wait_for(lambda: len(self.full_reads(b)) > reads, 70),
                            b.log("ratesync")[-2000:])
            delays.append(time.time() - t0)
        print("\n  b's full reads after its watch was killed: %s s later"
              % ", ".join("%.1f" % d for d in delays))
        self.assertGreater(delays[1], 1.8, delays)   # ratesync's loop ticks each second:
        self.assertGreater(delays[2], 3.6, delays)   # 2-3 s, then 4-5 s
        n = self.fleet_count(b, K)
        self.submit(a, K)
        self.wait_count(b, K, n + 1)

    @staticmethod
    def is_watch(pid, parent):
        try:
            with open("/proc/%s/stat" % pid) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                args = f.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            return False
        return ppid == parent and b"watch" in args

    def test_9_ratesync_only_restarted_by_the_operator_or_the_kill(self):
        """ratesync never died on its own through the tests above: each start follows a stop
        the operator asked for (test_2 on b) or the kill -9 (test_3 on a)."""
        a, b = self.nodes
        for node, kills in ((a, 1), (b, 0)):
            log = node.log("ratesync")
            self.assertEqual(log.count(" starting: "), 1 + kills + log.count(" stopping: "),
                             log[-3000:])
            self.assertNotIn("free()", log)

if __name__ == "__main__":
    unittest.main()
