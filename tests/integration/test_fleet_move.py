"""Moving a domain between fleet nodes, live (docs/fleet.md "Moving a domain"): a real 3-member
etcd cluster and 3 nodes (fleetharness). `yubin-fleet domain move` copies the Maildirs while
the domain is live, freezes it for the last pass, switches the home in etcd and releases the
mail the fronts held; mail keeps arriving through every node and a POP3 client keeps polling
meanwhile. A move killed at any step completes when rerun; a second move of the same domain
refuses. The full numbers (2,000 messages, 500 during the move) are in bench/fleetmove.sh."""
import os
import poplib
import re
import shutil
import signal
import smtplib
import subprocess
import tempfile
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IS_ROOT, SANITIZED, Terminal, free_port_base, port_open  # noqa: E402
from fleetharness import ETCD, ETCDCTL, Etcd, FleetNode, commit_shim  # noqa: E402

TARO, TARO_PW = "taro@move.test", "Taro-pw-1"
KEN, KEN_PW = "ken@kill.test", "Ken-pw-1"
SENDER = "sender@outside.test"
BEFORE = int(os.environ.get("FLEETMOVE_MESSAGES", "300"))     # in the mailbox before the move
DURING = int(os.environ.get("FLEETMOVE_DURING", "60"))        # sent through all nodes meanwhile


def message(rcpt, mid):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@outside.test>\r\n\r\n"
            "body of %s\r\n%s" % (SENDER, rcpt, mid, mid, mid, ("x" * 74 + "\r\n") * 20)).encode()


def send(node, rcpt, mids):
    with smtplib.SMTP("127.0.0.1", node.port("smtp"), timeout=30) as s:
        s.ehlo("mx.outside.test")
        for mid in mids:
            s.sendmail(SENDER, [rcpt], message(rcpt, mid))


def message_ids(node, addr):
    """Message-ID -> how many files of the Maildir (new/ and cur/) carry it."""
    out = {}
    for p in node.messages(addr):
        try:
            with open(p, "rb") as f:
                m = re.search(rb"^Message-ID: <([^@>]*)@", f.read(8192), re.M)
        except FileNotFoundError:
            continue
        if m:
            k = m.group(1).decode()
            out[k] = out.get(k, 0) + 1
    return out


@unittest.skipUnless(ETCD and ETCDCTL, "etcd-server and etcd-client not installed (make deps)")
@unittest.skipUnless(IS_ROOT, "the fleet runs its services under their own uids: needs root")
class FleetMoveTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.etcd = Etcd()
        cls.nodes = []
        try:
            cls.etcd.start()
            cls.nodes = [FleetNode(n, cls.etcd) for n in ("a", "b", "c")]
            for node in cls.nodes:
                node.setup()
                node.started = True
                node.set_env("QUEUE_BACKOFF", "1,1,2")
                node.start(wait=False)
            for node in cls.nodes:
                node.wait_ready(60)
            a = cls.nodes[0]
            r = a.mailacct("import", check=False)
            assert r.returncode == 0, (r.stdout, r.stderr)
            for node in cls.nodes:
                cls.fleet(a, "node", "add", node.name, "127.0.0.1",
                          str(node.port("fleet_smtp")), str(node.port("fleet_pop3")))
                # the operator's setting: the nodes' roots are on this one machine
                with open(os.path.join(node.root, "etc", "fleet.d", "peers"), "w") as f:
                    f.write("".join("%s %s\n" % (m.name, m.root) for m in cls.nodes))
            a.mailacct("domain", "add", "move.test", "--plan", "premium", "--home", "a")
            a.mailacct("domain", "add", "kill.test", "--plan", "premium", "--home", "a")
            a.mailacct("add", TARO, "--password", TARO_PW)
            a.mailacct("add", KEN, "--password", KEN_PW)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for node in cls.nodes:
            node.stop()
        cls.etcd.stop()

    @staticmethod
    def fleet(node, *args, check=True):
        r = subprocess.run([node.bin("yubin-fleet"), "--root", node.root] + list(args),
                           env=node.env(), capture_output=True, text=True)
        if check:
            assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r

    def node(self, name):
        return [n for n in self.nodes if n.name == name][0]

    def home(self, domain):
        return self.etcd.get("/yubin/dir/homes/" + domain)

    def fill(self, node, addr, prefix, n):
        """n messages to addr through node's port 25, stored on node (its home)."""
        chunks = [["%s%d" % (prefix, i) for i in range(k, n, 4)] for k in range(4)]
        ts = [threading.Thread(target=send, args=(node, addr, c)) for c in chunks]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertTrue(node.wait_for(lambda: len(node.messages(addr)) >= n, max(120, n / 30)),
                        (len(node.messages(addr)), node.log("queue")[-2000:]))

    def all_delivered_once(self, node, addr, mids, timeout=120):
        want = set(mids)
        got = node.wait_for(lambda: (lambda m: m if want <= set(m) else None)(
            message_ids(node, addr)), timeout)
        self.assertTrue(got, "missing on %s: %s\n%s" % (
            node.name, sorted(want - set(message_ids(node, addr)))[:20],
            "".join(subprocess.run([n.bin("mailq"), "--root", n.root], capture_output=True,
                                   text=True).stdout for n in self.nodes)[-3000:]))
        doubled = {k: v for k, v in got.items() if v != 1}
        self.assertEqual(doubled, {})
        return got

    def uidls(self, node, addr, pw):
        p = poplib.POP3("127.0.0.1", node.port("pop3"), timeout=20)
        try:
            p.user(addr)
            p.pass_(pw)
            return {line.split()[1] for line in p.uidl()[1]}
        finally:
            p.quit()

    def test_1_move_under_load(self):
        a, b, c = self.nodes
        self.fill(a, TARO, "before", BEFORE)
        seen_before = self.uidls(c, TARO, TARO_PW)          # through a front
        self.assertEqual(len(seen_before), BEFORE)
        stop = threading.Event()
        polls = {"ok": 0, "refused": []}

        def poll():         # a mail program checking every 0.2 s through c
            while not stop.is_set():
                try:
                    p = poplib.POP3("127.0.0.1", c.port("pop3"), timeout=20)
                    p.user(TARO)
                    p.pass_(TARO_PW)
                    p.uidl()
                    time.sleep(0.2)
                    p.quit()
                    polls["ok"] += 1
                except (poplib.error_proto, OSError) as e:
                    polls["refused"].append(str(e))
                time.sleep(0.2)
        during = ["during%d" % i for i in range(DURING)]

        def sender():       # mail keeps coming, through every node
            for i in range(0, DURING, 5):
                send(self.nodes[(i // 5) % 3], TARO, during[i:i + 5])
                time.sleep(0.1)
        threads = [threading.Thread(target=poll), threading.Thread(target=sender)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        t0 = time.time()
        r = self.fleet(a, "domain", "move", "move.test", "b", check=False)
        took = time.time() - t0
        threads[1].join()
        time.sleep(1)
        stop.set()
        threads[0].join()
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        frozen = float(re.search(r"frozen for ([0-9.]+) s", r.stdout).group(1))
        print("\n  move of %d messages (%d sent meanwhile): %.2f s, frozen %.2f s; "
              "POP3 polls ok=%d refused=%d %s" % (BEFORE, DURING, took, frozen, polls["ok"],
                                                  len(polls["refused"]),
                                                  sorted(set(polls["refused"]))[:1]),
              file=sys.stderr)
        sys.stderr.write(r.stdout)
        self.assertLess(frozen, 10)
        self.assertEqual(self.home("move.test"), "1 move.test:b:2:live")
        # the operator's change is a line of the old home's audit log
        with open(os.path.join(a.root, "log", "audit")) as f:
            self.assertRegex(f.read(), r"(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z "
                                       r"event=domain-move target=move\.test by=\S+ ip=local "
                                       r"command=domain move move\.test b$")
        # every message is in the new home exactly once
        self.all_delivered_once(b, TARO, ["before%d" % i for i in range(BEFORE)] + during)
        # the mail program's UIDLs stay: what it saw before is a subset of what it sees now
        after = self.uidls(a, TARO, TARO_PW)
        self.assertTrue(seen_before <= after, sorted(seen_before - after)[:5])
        self.assertEqual(len(after), BEFORE + DURING)
        # nothing is left for the domain in any front's queue
        for n in self.nodes:
            self.assertTrue(n.wait_for(lambda: "move.test" not in subprocess.run(
                [n.bin("mailq"), "--root", n.root], capture_output=True, text=True).stdout, 30))
        # an abort after the switch, on the new home or the old, is refused and keeps the
        # record the old home's cleanup needs
        for n in (b, a):
            r = self.fleet(n, "domain", "abort", "move.test", check=False)
            self.assertEqual(r.returncode, 100, (r.stdout, r.stderr))
            # the refusal is the sentence alone, as docs/fleet.md quotes it (no exit code
            # appended to it)
            self.assertRegex(r.stderr, r"(?m)^yubin-fleet: fatal: move\.test was already "
                             r"switched to b; a move back is a new move "
                             r"\(yubin-fleet domain move move\.test a\)$")
        self.assertIn(":done:", self.etcd.get("/yubin/move/move.test"))
        # the old copy stays for the grace period, then goes
        r = self.fleet(a, "domain", "cleanup", "move.test", check=False)
        self.assertEqual(r.returncode, 100, (r.stdout, r.stderr))
        self.assertRegex(r.stderr, r"(?m)^yubin-fleet: fatal: the grace period after the move "
                         r"ends in \d+ s; the old copy stays$")
        self.assertTrue(os.path.isdir(os.path.join(a.root, "mail", "move.test")))
        self.fleet(a, "domain", "cleanup", "move.test", "--grace", "0")
        self.assertFalse(os.path.exists(os.path.join(a.root, "mail", "move.test")))
        self.assertIsNone(self.etcd.get("/yubin/move/move.test"))
        self.assertEqual(len(self.uidls(c, TARO, TARO_PW)), BEFORE + DURING)

    def kill_at(self, src, dst, when):
        """Start a move of kill.test from src to dst and SIGKILL the tool at step `when`
        (frozen: right after the freeze; final: during the last pass; switched: right after
        the switch); returns the home record then."""
        p = subprocess.Popen([src.bin("yubin-fleet"), "--root", src.root, "domain", "move",
                              "kill.test", dst.name], env=src.env(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        out = []
        for line in p.stdout:
            out.append(line)
            if when == "frozen" and "frozen at etcd revision" in line:
                break
            if when == "final" and ("ended POP3" in line or "final pass" in line):
                break
            if when == "switched" and line.startswith("yubin-fleet: switched"):
                break
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdout.close()
        self.assertTrue(out)
        return self.home("kill.test")

    def rerun(self, src, dst):
        # at once, as the tool's messages say: a killed tool's child that still holds the
        # move's lock a moment is waited for by the rerun itself (test 7)
        r = self.fleet(src, "domain", "move", "kill.test", dst.name, check=False)
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        return r

    def test_2_killed_at_each_step_then_rerun(self):
        a, b, c = self.nodes
        self.fill(a, KEN, "k", 100)
        mids = ["k%d" % i for i in range(100)]
        epoch = 1
        for n, (src, dst, when) in enumerate([(a, b, "frozen"), (b, a, "final"),
                                              (a, b, "switched")]):
            # a POP3 session in progress on the old home
            held = poplib.POP3("127.0.0.1", src.port("pop3"), timeout=20)
            held.user(KEN)
            held.pass_(KEN_PW)
            held.stat()
            rec = self.kill_at(src, dst, when)
            # exactly one home at every moment: the old one (frozen) or the new one (live)
            self.assertIn(rec, ["1 kill.test:%s:%d:frozen" % (src.name, epoch),
                                "1 kill.test:%s:%d:live" % (dst.name, epoch + 1)], when)
            # mail sent while the killed move left it so, through every node
            extra = ["k%s%d-%d" % (when, n, i) for i in range(3)]
            for i, mid in enumerate(extra):
                send(self.nodes[i], KEN, [mid])
            mids += extra
            r = self.rerun(src, dst)
            t_done = time.time()
            self.assertIn("resuming", r.stdout)
            epoch += 1
            self.assertEqual(self.home("kill.test"), "1 kill.test:%s:%d:live" % (dst.name, epoch))
            self.all_delivered_once(dst, KEN, mids)
            print("\n  killed at %s: mail held meanwhile delivered %.2f s after the rerun returned"
                  % (when, time.time() - t_done), file=sys.stderr)
            self.assertEqual(len(self.uidls(c, KEN, KEN_PW)), len(mids))
            try:
                held.quit()
            except (poplib.error_proto, OSError):
                pass        # the move ended it: no UPDATE, nothing lost
        # etcd's leader lost right after the freeze: the move goes on or stops at its step;
        # the member back, a rerun (when needed) ends with one home and nothing lost
        p = subprocess.Popen([b.bin("yubin-fleet"), "--root", b.root, "domain", "move",
                              "kill.test", "a"], env=b.env(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        for line in p.stdout:
            if "frozen at etcd revision" in line:
                break
        leader = self.etcd.leader()
        self.etcd.kill(leader)
        out = p.stdout.read()
        p.wait()
        p.stdout.close()
        self.etcd.start_member(leader)
        send(c, KEN, ["kleader"])
        mids.append("kleader")
        if p.returncode != 0:
            self.assertIn("rerun", out)
            self.rerun(b, a)
        self.assertEqual(self.home("kill.test"), "1 kill.test:a:%d:live" % (epoch + 1))
        self.all_delivered_once(a, KEN, mids)

    def test_3_concurrent_moves_refuse_and_status(self):
        h = self.node(self.home("kill.test").split(":")[1])     # kill.test's home
        self.assertEqual(h.name, "a")
        # a child of a move test 2 ended (killed, or failed with etcd's leader) may hold a's
        # lock of the domain a moment more: this move waits for it, the two below do not
        p = subprocess.Popen([h.bin("yubin-fleet"), "--root", h.root, "domain", "move",
                              "kill.test", "c"], env=h.env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        # the move has begun (its own record, not the one of test 2's last move)
        self.assertTrue(h.wait_for(lambda: (self.etcd.get("/yubin/move/kill.test") or "")
                                   .startswith("1 kill.test:a:c:"), 20))
        second = self.fleet(h, "domain", "move", "kill.test", "c", check=False)
        other = self.fleet(h, "domain", "move", "kill.test", "a", check=False)
        out, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 0, (out, err))
        self.assertNotEqual(second.returncode, 0)
        self.assertIn("already running", second.stderr)
        self.assertNotEqual(other.returncode, 0)
        self.assertTrue("already running" in other.stderr or "unfinished move" in other.stderr,
                        other.stderr)
        self.assertTrue(self.home("kill.test").startswith("1 kill.test:c:"))
        st = self.fleet(h, "status").stdout
        rows = {line.split()[0]: line.split() for line in st.splitlines()[1:] if line.strip()}
        for n in ("a", "b", "c"):
            self.assertEqual(rows[n][1], "up", st)
        self.assertEqual(rows["c"][5], "1", st)         # kill.test
        self.assertEqual(rows["b"][5], "1", st)         # move.test
        self.assertEqual(rows["a"][5], "0", st)
        # a node that homes domains cannot be removed
        r = self.fleet(h, "node", "remove", "c", check=False)
        self.assertEqual(r.returncode, 100)
        self.assertRegex(r.stderr, r"(?m)^yubin-fleet: fatal: node c still homes: kill\.test "
                         r"\(yubin-fleet node drain c first\)$")
        # the certificates' side refuses the same way: one sentence, exit 100
        r = subprocess.run([h.bin("yubin-fleet"), "ca", self.etcd.pki], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 100, r.stderr)
        self.assertEqual(r.stderr, "yubin-fleet: fatal: %s/ca.key exists; not replacing the "
                         "fleet CA\n" % self.etcd.pki)

    def test_5_a_delivery_started_after_the_switch_is_deferred(self):
        """A local job of the old home that starts after the switch (it waited for a free
        slot) is deferred by deliver, never written into the old copy of the mailbox."""
        a, b, _ = self.nodes
        a.mailacct("domain", "add", "late.test", "--plan", "premium", "--home", "a")
        a.mailacct("add", "late@late.test", "--password", "Late-pw-1")
        self.fleet(a, "domain", "move", "late.test", "b")
        def a_sees_b():     # a's own maps (mapsync) say the domain is homed on b
            r = subprocess.run(["cdb", "-q", os.path.join(a.root, "cdb", "homes.cdb"),
                                "late.test"], capture_output=True, text=True)
            return r.returncode == 0 and "node=b " in r.stdout
        self.assertTrue(a.wait_for(a_sees_b, 20))
        e = a.env()
        e.pop("YUBIN_ALLOW_ROOT", None)
        argv = [a.bin("deliver"), "s@remote.example", "late@late.test"]
        if IS_ROOT:
            argv = ["s6-setuidgid", "yubin-mbox"] + argv
        r = subprocess.run(argv, input=b"Subject: late\n\nqueued before the move\n",
                           capture_output=True, env=e)
        self.assertEqual(r.returncode, 111, (r.stdout, r.stderr))
        self.assertIn(b"on another server now", r.stdout)
        self.assertEqual(a.messages("late@late.test"), [], "nothing in the old copy")

    def test_6_del_racing_a_move_is_refused(self):
        """mailacct del read the directory while the domain was homed here; a move switched it
        before the delete was written: refused, the account and its mailbox on the new home
        kept (the delete would have trashed the old copy, leaving the live one unreachable)."""
        a, b, _ = self.nodes
        a.mailacct("domain", "add", "race.test", "--plan", "premium", "--home", "a")
        a.mailacct("add", "hana@race.test", "--password", "Hana-pw-1")
        send(a, "hana@race.test", ["r1"])
        self.assertTrue(a.wait_for(lambda: a.messages("hana@race.test"), 30))
        shim = tempfile.mkdtemp(prefix="yubin-slow-")
        self.addCleanup(shutil.rmtree, shim, True)
        commit_shim(shim, "sleep 6")     # its commit leaves late
        env = dict(a.env(), PATH=shim + ":" + os.environ["PATH"])
        p = subprocess.Popen([a.bin("mailacct"), "--root", a.root, "del", "hana@race.test"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1)
        self.fleet(a, "domain", "move", "race.test", "b")
        out, err = p.communicate(timeout=60)
        self.assertNotEqual(p.returncode, 0, out)
        self.assertIn("the home of race.test was changed by a move at the same time", err)
        self.assertTrue(self.etcd.get("/yubin/dir/users/hana@race.test"), "the account stays")
        self.assertTrue(b.messages("hana@race.test"), "its mailbox on the new home")

    def test_4_drain_then_remove(self):
        a, b, c = self.nodes
        self.assertTrue(self.home("kill.test").startswith("1 kill.test:c:"))
        r = self.fleet(c, "node", "drain", "c")
        self.assertIn("homes no domain", r.stdout)
        # kill.test went to the node with the fewest homes (a: none), its mail with it
        self.assertTrue(self.home("kill.test").startswith("1 kill.test:a:"), self.home("kill.test"))
        self.assertGreater(len(self.uidls(b, KEN, KEN_PW)), 100)
        st = self.fleet(a, "status").stdout
        self.assertRegex(st, r"(?m)^c +up,draining +\d+ +\d+ +\d+ +0 ")
        # the columns stay under their headings with "up,draining" in the UP column
        head = st.splitlines()[0]
        for line in st.splitlines()[1:]:
            if line.startswith(("a ", "b ", "c ")):
                self.assertEqual(len(line), len(head), st)
                self.assertEqual(line.index(line.split()[2]) + len(line.split()[2]),
                                 head.index("REVISION") + len("REVISION"), st)
        r = self.fleet(a, "domain", "move", "kill.test", "c", check=False)
        self.assertEqual(r.returncode, 100)
        self.assertIn("draining", r.stderr)
        self.fleet(a, "node", "remove", "c")
        self.assertNotIn("c 127.0.0.1", self.fleet(a, "node", "list").stdout)
        with open(os.path.join(c.root, "log", "audit")) as f:
            self.assertRegex(f.read(), r"(?m) event=node-drain target=c by=\S+ ip=local "
                                       r"command=node drain c$")
        with open(os.path.join(a.root, "log", "audit")) as f:
            audit = f.read()
        self.assertRegex(audit, r"(?m) event=node-remove target=c by=\S+ ip=local "
                                r"command=node remove c$")
        self.assertNotIn("event=status", audit)

    def test_7_killed_move_rerun_at_once(self):
        """The tool SIGKILLed while its rsync still runs (a slow copy): that rsync holds the
        node's lock of the domain a moment more. The rerun the operator makes at once, as the
        tool's messages say, waits for it, says so, and finishes the move."""
        a, b, _ = self.nodes
        a.mailacct("domain", "add", "rerun.test", "--plan", "premium", "--home", "a")
        a.mailacct("add", "jiro@rerun.test", "--password", "Jiro-pw-1")
        send(a, "jiro@rerun.test", ["j1", "j2"])
        self.assertTrue(a.wait_for(lambda: len(a.messages("jiro@rerun.test")) == 2, 30))
        shim = tempfile.mkdtemp(prefix="yubin-slow-rsync-")
        self.addCleanup(shutil.rmtree, shim, True)
        started = os.path.join(shim, "started")
        with open(os.path.join(shim, "rsync"), "w") as f:       # a copy over a slow link
            f.write("#!/bin/sh\ntouch %s\nsleep 3\nexec %s \"$@\"\n"
                    % (started, shutil.which("rsync")))
        os.chmod(os.path.join(shim, "rsync"), 0o755)
        p = subprocess.Popen([a.bin("yubin-fleet"), "--root", a.root, "domain", "move",
                              "rerun.test", "b"],
                             env=dict(a.env(), PATH=shim + ":" + os.environ["PATH"]),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.assertTrue(a.wait_for(lambda: os.path.exists(started), 30))
        p.send_signal(signal.SIGKILL)
        p.wait()
        r = self.fleet(a, "domain", "move", "rerun.test", "b", check=False)
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        self.assertIn("yubin-fleet: a stopped move of rerun.test left a process holding its "
                      "lock on this node; waiting for it to end (at most 122 s: an etcdctl it "
                      "started may run 3 s to connect + 10 s for its command, its rsync 120 s "
                      "without progress)", r.stdout)
        self.assertIn("resuming the move of rerun.test from a to b at step copy", r.stdout)
        self.assertEqual(self.home("rerun.test"), "1 rerun.test:b:2:live")
        self.assertEqual(len(self.uidls(b, "jiro@rerun.test", "Jiro-pw-1")), 2)
        # a move that runs without waiting says nothing of a lock
        r = self.fleet(b, "domain", "move", "rerun.test", "a")
        self.assertNotIn("lock", r.stdout)

    def test_9_killed_move_whose_etcdctl_hangs_rerun_at_once(self):
        """The tool SIGKILLed while one of its etcdctl commands waits on an etcd that does not
        answer (12 s here: within the 3 s to connect + 10 s for the command it allows
        etcdctl): that etcdctl holds the node's lock of the domain until it gives up. The rerun
        made at once waits for it, longer than the 10 s a rsync needs, and finishes the move."""
        a, b, _ = self.nodes
        a.mailacct("domain", "add", "hang.test", "--plan", "premium", "--home", "a")
        a.mailacct("add", "saburo@hang.test", "--password", "Saburo-pw-1")
        send(a, "saburo@hang.test", ["s1"])
        self.assertTrue(a.wait_for(lambda: len(a.messages("saburo@hang.test")) == 1, 30))
        shim = tempfile.mkdtemp(prefix="yubin-hung-etcdctl-")
        self.addCleanup(shutil.rmtree, shim, True)
        started = os.path.join(shim, "started")
        # the tool's etcdctl once it holds the lock (fd 9, its children's too): etcd silent
        # for 12 s, then etcdctl's own words when its command times out
        with open(os.path.join(shim, "etcdctl"), "w") as f:
            f.write("#!/bin/sh\n[ -e /proc/$$/fd/9 ] || exec %s \"$@\"\ntouch %s\nsleep 12\n"
                    "echo 'Error: context deadline exceeded' >&2\nexit 1\n"
                    % (shutil.which("etcdctl"), started))
        os.chmod(os.path.join(shim, "etcdctl"), 0o755)
        p = subprocess.Popen([a.bin("yubin-fleet"), "--root", a.root, "domain", "move",
                              "hang.test", "b"],
                             env=dict(a.env(), PATH=shim + ":" + os.environ["PATH"]),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.assertTrue(a.wait_for(lambda: os.path.exists(started), 30))
        p.send_signal(signal.SIGKILL)
        p.wait()
        t0 = time.monotonic()
        r = self.fleet(a, "domain", "move", "hang.test", "b", check=False)
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        self.assertGreater(time.monotonic() - t0, 10)
        self.assertIn("yubin-fleet: a stopped move of hang.test left a process holding its "
                      "lock on this node; waiting for it to end (at most 122 s: an etcdctl it "
                      "started may run 3 s to connect + 10 s for its command, its rsync 120 s "
                      "without progress)", r.stdout)
        self.assertEqual(self.home("hang.test"), "1 hang.test:b:2:live")
        self.assertEqual(len(self.uidls(b, "saburo@hang.test", "Saburo-pw-1")), 1)

    def test_9b_copy_to_a_node_that_stops_answering_fails_the_step_then_rerun(self):
        """Node b stops answering in the middle of a copy (its rsync reached over a remote
        shell that never speaks again: a node that hangs, a network cut). With etc/fleet's
        copy_timeout=2 the move fails the step after 2 s without progress, naming the node,
        what became of the domain and the rerun: at the first copy the domain is still live;
        at the last pass it stays frozen. The rerun, once b answers, finishes the move."""
        a, b, _ = self.nodes
        a.mailacct("domain", "add", "stall.test", "--plan", "premium", "--home", "a")
        a.mailacct("add", "shiro@stall.test", "--password", "Shiro-pw-1")
        send(a, "shiro@stall.test", ["st1"])
        self.assertTrue(a.wait_for(lambda: len(a.messages("shiro@stall.test")) == 1, 30))
        orig = a.edit_fleet_conf(self)
        a.write_fleet_conf(orig + "copy_timeout=2\n")
        shim = tempfile.mkdtemp(prefix="yubin-hung-rsync-")
        self.addCleanup(shutil.rmtree, shim, True)
        calls, hang = os.path.join(shim, "calls"), os.path.join(shim, "hang")
        with open(hang, "w") as f:              # a peer that took the connection, then silence
            f.write("#!/bin/sh\nexec sleep 60\n")
        os.chmod(hang, 0o755)
        # the 1st and 3rd rsync of the node reach b through that peer (-e after the tool's)
        with open(os.path.join(shim, "rsync"), "w") as f:
            f.write("#!/bin/bash\necho >> %s\ncase $(wc -l < %s) in 1|3) exec %s "
                    "\"${@:1:$#-1}\" -e %s \"hung:${@: -1}\" ;; esac\nexec %s \"$@\"\n"
                    % (calls, calls, shutil.which("rsync"), hang, shutil.which("rsync")))
        os.chmod(os.path.join(shim, "rsync"), 0o755)
        env = dict(a.env(), PATH=shim + ":" + os.environ["PATH"])

        def move():
            t0 = time.monotonic()
            r = subprocess.run([a.bin("yubin-fleet"), "--root", a.root, "domain", "move",
                                "stall.test", "b"], env=env, capture_output=True, text=True)
            return r, time.monotonic() - t0

        r, took = move()
        self.assertLess(took, 12, r.stdout)
        self.assertEqual((r.returncode, r.stderr), (111, (
            "yubin-fleet: fatal: the copy to node b (%s) made no progress for 2 s (etc/fleet "
            "copy_timeout=): node b or the network to it stopped answering; stall.test is "
            "still live on a, nothing was switched; when it answers, rerun: yubin-fleet domain "
            "move stall.test b\n") % b.root))
        self.assertEqual(self.home("stall.test"), "1 stall.test:a:1:live")
        r, took = move()                        # its final pass, the domain frozen, hangs
        self.assertLess(took, 20, r.stdout)
        self.assertEqual((r.returncode, r.stderr), (111, (
            "yubin-fleet: fatal: the copy to node b (%s) made no progress for 2 s (etc/fleet "
            "copy_timeout=): node b or the network to it stopped answering; stall.test stays "
            "frozen on a, its mail held (or: yubin-fleet domain abort stall.test); when it "
            "answers, rerun: yubin-fleet domain move stall.test b\n") % b.root))
        self.assertIn("resuming the move of stall.test from a to b at step copy", r.stdout)
        self.assertEqual(self.home("stall.test"), "1 stall.test:a:1:frozen")
        r, _ = move()                           # b answers again
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        self.assertIn("resuming the move of stall.test from a to b at step frozen", r.stdout)
        self.assertNotIn("lock", r.stdout)      # the timed-out rsync left no process behind
        self.assertEqual(self.home("stall.test"), "1 stall.test:b:2:live")
        self.assertEqual(len(self.uidls(b, "shiro@stall.test", "Shiro-pw-1")), 1)

    def test_8_bad_arguments_print_yubin_fleets_usage(self):
        """yubin-fleet domain cleanup (and the other forms run by yubin-move) with bad
        arguments: yubin-fleet's usage, the one the operator typed, naming the cleanup form;
        exit 100, nothing done."""
        a = self.nodes[0]
        before = (self.home("rerun.test"), self.etcd.get("/yubin/move/rerun.test"))
        for args in (["domain", "cleanup"], ["domain", "cleanup", "rerun.test", "--grace"],
                     ["domain", "cleanup", "rerun.test", "--grace", "soon"],
                     ["domain", "cleanup", "rerun.test", "now"],
                     ["domain", "move", "rerun.test"], ["status", "now"]):
            r = self.fleet(a, *args, check=False)
            self.assertEqual(r.returncode, 100, (args, r.stdout, r.stderr))
            self.assertIn("yubin-fleet [--root ROOT] domain cleanup DOMAIN [--grace MINUTES]",
                          r.stderr, args)
            self.assertTrue(r.stderr.startswith("# usage: yubin-fleet "), (args, r.stderr))
            self.assertNotIn("yubin-move ROOT", r.stderr, args)
            self.assertEqual(r.stdout, "", args)
        self.assertEqual((self.home("rerun.test"), self.etcd.get("/yubin/move/rerun.test")),
                         before)


@unittest.skipIf(SANITIZED, "make fleet-demo builds the normal binaries")
@unittest.skipUnless(ETCD and ETCDCTL, "etcd-server and etcd-client not installed (make deps)")
@unittest.skipUnless(IS_ROOT, "the fleet runs its services under their own uids: needs root")
class FleetDemoTest(unittest.TestCase):
    def test_make_fleet_demo_then_ctrl_c(self):
        """make fleet-demo in a pseudo-terminal: 3 etcd members (compacting their history, as
        the production line in docs/fleet.md) and 3 nodes come up, the status
        lists the three nodes up with one demo domain each, a demo account logs in by POP3 on
        every node; ^C typed there stops all of it (no process left in the folder, ports
        closed)."""
        def tree():
            out = []
            for p in [int(x) for x in os.listdir("/proc") if x.isdigit()]:
                try:
                    if d in open("/proc/%d/cmdline" % p).read():
                        out.append(p)
                except OSError:
                    pass
            return out
        # The ports are free when chosen, but this machine's other programs may take one
        # before the demo binds it: the demo then stops, naming the port, and the operator's
        # remedy is another FLEET_DEMO_PORT, which is what a second try does.
        for attempt in range(3):
            base = free_port_base(60)   # etcd BASE..+5, the nodes +10.., +30.., +50..+58
            d = os.path.join("/tmp", "yubin-fleetdemo-%d" % base)
            env = dict(os.environ, FLEET_DEMO_DIR=d, FLEET_DEMO_PORT=str(base))
            term = Terminal(["make", "-s", "fleet-demo"], env)
            term.read_for(180, b"fleet-demo: ready")
            if b"fleet-demo: ready" in term.text or b"already accepts connections" not in \
                    term.text or attempt == 2:
                break
            status = term.wait(60)
            term.close(also=tree() if status is None else ())
            shutil.rmtree(d, ignore_errors=True)
        status = None
        try:
            out = term.out()
            self.assertIn("fleet-demo: ready", out, out[-3000:])
            # its etcd members compact their history as the production line in docs/fleet.md
            # has them do (else the demo's etcd grows until it refuses every write)
            members = []
            for p in tree():
                try:
                    argv = open("/proc/%d/cmdline" % p).read().split("\0")
                except OSError:
                    continue
                if os.path.basename(argv[0]) == "etcd":
                    members.append(" ".join(argv))
            self.assertEqual(len(members), 3, members)
            for m in members:
                self.assertIn(" --auto-compaction-mode periodic --auto-compaction-retention 1h ",
                              m)
            rows = {l.split()[0]: l.split() for l in out.splitlines()
                    if re.match(r"^[abc] +up ", l)}
            self.assertEqual(sorted(rows), ["a", "b", "c"], out)
            for n in "abc":
                self.assertEqual(rows[n][5], "1", out)
            ports = {m.group(1): int(m.group(2))
                     for m in re.finditer(r"(?m)^([abc]) +(\d+) +\d+ +\d+ +(\d+)", out)}
            pop3 = {m.group(1): int(m.group(3))
                    for m in re.finditer(r"(?m)^([abc]) +(\d+) +\d+ +\d+ +(\d+)", out)}
            for n in "abc":
                for addr, pw in (("info@demo-%s.test" % m, "Demo-%s-pw1" % m) for m in "abc"):
                    p = poplib.POP3("127.0.0.1", pop3[n], timeout=20)
                    p.user(addr)
                    p.pass_(pw)
                    p.quit()
            term.type(b"\x03")   # Ctrl-C, as typed
            status = term.wait(60)
            self.assertIsNotNone(status, term.out()[-2000:])
            self.assertIn(b"fleet-demo: stopped", term.text)
            self.assertEqual(tree(), [])
            for port in list(ports.values()) + list(pop3.values()) + [base, base + 2, base + 4]:
                self.assertFalse(port_open(port), port)
        finally:
            if status is None and term.status is None:
                # a check above failed: the demo's own ^C takes its trees down in order (the
                # s6-supervise processes do not name the folder, so tree() misses them, and
                # they would restart what it kills)
                try:
                    term.type(b"\x03")
                    status = term.wait(60)
                except OSError:
                    pass
            term.close(also=tree() if status is None else ())
            shutil.rmtree(d, ignore_errors=True)



@unittest.skipIf(SANITIZED, "make fleet-demo builds the normal binaries")
@unittest.skipUnless(ETCD and ETCDCTL, "etcd-server and etcd-client not installed (make deps)")
@unittest.skipUnless(IS_ROOT, "make fleet-demo runs as root")
class FleetDemoRefusalTest(unittest.TestCase):
    def test_folder_in_use_is_refused_with_one_line(self):
        """make fleet-demo on a folder a demo killed left behind: one line saying so, exit 111,
        and nothing else run (its clean-up of what it started has nothing to stop)."""
        d = tempfile.mkdtemp(prefix="yubin-fleetdemo-used-")
        self.addCleanup(shutil.rmtree, d, True)
        with open(os.path.join(d, "left"), "w") as f:
            f.write("by a killed demo\n")
        r = subprocess.run(["make", "-s", "fleet-demo"], env=dict(os.environ, FLEET_DEMO_DIR=d),
                           capture_output=True, text=True, timeout=300)
        said = [l for l in (r.stdout + r.stderr).splitlines()
                if l.strip() and not l.startswith(("make: ***", "make[1]"))]
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(said, ["fleet-demo: fatal: %s is in use (a fleet-demo running, or left "
                                "by one killed): remove it first" % d], r.stdout + r.stderr)
        self.assertTrue(os.path.exists(os.path.join(d, "left")))

if __name__ == "__main__":
    unittest.main()
