"""The fleet (docs/fleet.md): a real 3-member etcd cluster on loopback high ports with TLS and
authentication, and 3 yubin nodes (each its own mail root and s6 tree) whose maps mapsync
builds from it. Accounts are changed with mailacct on one node and used by POP3 and SMTP on
every node; etcd members are killed by pid."""
import json
import os
import poplib
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, IS_ROOT, MailRoot  # noqa: E402
from fleetharness import (ETCD, ETCDCTL, Etcd, FleetCase, FleetNode,  # noqa: E402
                          commit_shim)



@unittest.skipUnless(ETCD and ETCDCTL, "etcd-server and etcd-client not installed (make deps)")
@unittest.skipUnless(IS_ROOT, "the fleet runs mapsync as yubin-sync: needs root")
class FleetTest(FleetCase):
    @classmethod
    def prepare(cls):
        a = cls.nodes[0]
        # the operator's way into a fleet: the first node's etc/ (the default plans) into etcd
        r = a.mailacct("import", check=False)
        assert r.returncode == 0 and "imported 5 records" in r.stdout, (r.stdout, r.stderr)
        a.mailacct("domain", "add", "example.test", "--plan", "premium")
        a.mailacct("add", "taro@example.test", "--password", "Taro-pw-1")

    def acct(self, node, *args, env=None, check=False):
        e = node.env()
        e.update(env or {})
        return subprocess.run([node.bin("mailacct"), "--root", node.root] + list(args), env=e,
                              capture_output=True, text=True, check=check)

    def acct_until_ok(self, node, seconds, pause, *args):
        """mailacct ARGS again and again while the cluster recovers; the last result."""
        deadline = time.time() + seconds
        while True:
            r = self.acct(node, *args)
            if r.returncode == 0 or time.time() > deadline:
                return r
            time.sleep(pause)

    @staticmethod
    def full_reads(node):
        """The reasons of the full reads of /yubin/rate/ node's ratesync logged so far."""
        return re.findall(r"ratesync: info: read /yubin/rate/ in full \((.*)\): \d+ records",
                          node.log("ratesync"))

    def test_1_add_on_one_node_logs_in_on_every_node(self):
        a, b, c = self.nodes
        r = self.acct(a, "add", "hanako@example.test", "--password", "Hanako-pw-1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("hanako@example.test", r.stdout)      # the settings sheet, as on one node
        for node in (a, b, c):   # live on every node when mailacct returns: no waiting here
            self.assertEqual(node.pop_login("hanako@example.test", "Hanako-pw-1")[0], 0)
        revs = {node.revision() for node in (a, b, c)}
        self.assertEqual(len(revs), 1, revs)
        # etcd holds the hash, never the password; the record is schema-versioned
        v = self.etcd.get("/yubin/dir/users/hanako@example.test")
        self.assertTrue(v.startswith("1 hanako@example.test:$"), v)
        self.assertNotIn("Hanako-pw-1", v)
        # the other commands keep their output in fleet mode
        r = self.acct(b, "list", "example.test")
        self.assertIn("hanako@example.test 50M premium", r.stdout)
        r = self.acct(c, "add", "hanako@example.test", "--password", "x-pw-12345")
        self.assertEqual(r.returncode, 100)
        self.assertIn("account hanako@example.test already exists", r.stderr)
        # a node's own credentials cannot change the directory
        r = self.etcd.ctl("put", "/yubin/dir/users/evil@example.test", "1 x", check=False,
                          cert=os.path.join(b.root, "etc", "fleet.d", "node"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("permission denied", r.stderr)
        r = self.acct(b, "del", "hanako@example.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        for node in (a, b, c):
            with self.assertRaises(poplib.error_proto):
                node.pop_login("hanako@example.test", "Hanako-pw-1")

    def test_2_concurrent_quota_exactly_one_wins(self):
        a, b, _ = self.nodes
        # etcdctl behind a slow network: each commit leaves 0.5 s after the read, so the two
        # changes surely read the same revision
        shim = tempfile.mkdtemp(prefix="yubin-slow-")
        commit_shim(shim, "sleep 0.5")
        env = {"PATH": shim + ":" + os.environ["PATH"]}
        try:
            procs = [subprocess.Popen([n.bin("mailacct"), "--root", n.root, "quota",
                                       "taro@example.test", size],
                                      env=dict(n.env(), **env), stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
                     for n, size in ((a, "30M"), (b, "40M"))]
            res = [(p.wait(), p.stdout.read(), p.stderr.read()) for p in procs]
        finally:
            shutil.rmtree(shim)
        codes = sorted(r[0] for r in res)
        self.assertEqual(codes, [0, 111], res)
        win = "30M" if res[0][0] == 0 else "40M"
        lose = res[1] if res[0][0] == 0 else res[0]
        self.assertIn("account taro@example.test was changed by another change at the same "
                      "time", lose[2])
        self.assertIn("nothing was changed", lose[2])
        show = self.acct(b, "show", "taro@example.test").stdout
        self.assertIn("quota: %s MB" % win[:-1], show)

    def test_3_majority_down_mailacct_fails_mail_flows(self):
        a, b, c = self.nodes
        before = a.revision()
        reads = {n.name: self.full_reads(n) for n in self.nodes}
        # right after b's ratesync renewed .fresh (it asks etcd every 5 s), so that its watch
        # ends before it finds etcd unreachable: etcd cancels it for want of a leader in ~2 s
        fresh = os.path.join(b.root, "ratefleet", ".fresh")
        was = os.stat(fresh).st_mtime_ns
        self.assertTrue(b.wait_for(lambda: os.stat(fresh).st_mtime_ns != was, 10))
        down = [n for n in self.etcd.names][:2]
        for n in down:
            self.etcd.kill(n)
        try:
            t0 = time.time()
            r = self.acct(a, "add", "jiro@example.test", "--password", "Jiro-pw-1")
            self.assertEqual(r.returncode, 111, r)
            self.assertIn("unable to read the fleet's directory from etcd", r.stderr)
            self.assertLess(time.time() - t0, 15)
            for i, node in enumerate((a, b, c)):   # mail flows on the last maps
                with smtplib.SMTP("127.0.0.1", node.port("smtp"), timeout=10) as s:
                    s.sendmail("x@remote.test", ["taro@example.test"],
                               "Subject: etcd down %d\r\n\r\nstill here\r\n" % i)
                self.assertTrue(node.wait_for(
                    lambda: any("etcd down %d" % i in open(p, errors="replace").read()
                                for p in node.messages("taro@example.test")), 15))
                self.assertEqual(node.pop_login("taro@example.test", "Taro-pw-1")[0] >= 1, True)
            self.assertEqual(a.revision(), before)
        finally:
            for n in down:
                self.etcd.start_member(n)
        # the cluster is back: changes go through and every node catches up
        r = self.acct_until_ok(b, 30, 0.5, "add", "jiro@example.test", "--password", "Jiro-pw-1")
        self.assertEqual(r.returncode, 0, r.stderr)
        for node in (a, b, c):
            self.assertEqual(node.pop_login("jiro@example.test", "Jiro-pw-1")[0], 0)
        # b's ratesync watch was canceled for want of a leader (etcdctl prints "Events":null):
        # said so, and /yubin/rate/ read again once etcd answers (its wait doubles meanwhile)
        self.assertTrue(b.wait_for(lambda: len(self.full_reads(b)) > len(reads["b"]), 90),
                        b.log("ratesync")[-3000:])
        self.assertRegex(self.full_reads(b)[len(reads["b"])],
                         r"^etcd canceled the watch(, then etcd was unreachable)?$",
                         b.log("ratesync")[-3000:])
        for node in (a, b, c):
            self.assertNotIn("could not be read", node.log("ratesync"))

    def test_4_sigkill_mapsync_mid_rebuild_never_half_a_map(self):
        a, b, c = self.nodes
        # a burst: 1,000 accounts loaded by mailacct import from a single node's etc/ maps
        src = MailRoot(prefix="yubin-fleet-src-")
        try:
            src.setup()
            with open(os.path.join(src.root, "etc", "users"), "a") as f:
                h = self.etcd.get("/yubin/dir/users/taro@example.test").split(":")[1]
                for i in range(1000):
                    f.write("u%04d@burst.test:%s\n" % (i, h))
            with open(os.path.join(src.root, "etc", "domains"), "a") as f:
                f.write("burst.test:basic\n")
            shutil.copy(os.path.join(a.root, "etc", "fleet"), os.path.join(src.root, "etc"))
            shutil.copytree(os.path.join(a.root, "etc", "fleet.d"),
                            os.path.join(src.root, "etc", "fleet.d"))
            bad = []
            stop = threading.Event()

            def check_maps():   # what authd and pop3d would open, over and over
                while not stop.is_set():
                    for name in ("users.cdb", "auth.cdb", "domains.cdb"):
                        r = subprocess.run(["cdb", "-s", os.path.join(b.root, "cdb", name)],
                                           capture_output=True, text=True)
                        if r.returncode != 0:
                            bad.append((name, r.stderr))
                    r = subprocess.run(["cdb", "-q", os.path.join(b.root, "cdb", "auth.cdb"),
                                        "taro@example.test"], capture_output=True)
                    if r.returncode != 0:
                        bad.append(("auth.cdb lost taro", r.returncode))

            kills = []
            cdbdir = os.path.join(b.root, "cdb")

            def killer():   # SIGKILL b's mapsync while it writes a map (.NAME.tmp.PID)
                while not stop.is_set():
                    tmp = [f for f in os.listdir(cdbdir) if ".tmp." in f]
                    for f in tmp[:1]:
                        try:
                            os.kill(int(f.rsplit(".", 1)[1]), signal.SIGKILL)
                        except (ProcessLookupError, ValueError):
                            continue
                        time.sleep(0.01)
                        if os.path.exists(os.path.join(cdbdir, f)):
                            kills.append(f)   # killed before its rename: cut short
                        time.sleep(0.2)   # let s6 start it again
                    time.sleep(0.001)

            threads = [threading.Thread(target=check_maps), threading.Thread(target=killer)]
            for t in threads:
                t.start()
            t0 = time.time()
            try:
                r = subprocess.run([src.bin("mailacct") if os.path.exists(src.bin("mailacct"))
                                    else os.path.join(BIN, "mailacct"), "--root", src.root,
                                    "import"], capture_output=True, text=True)
                time.sleep(1.0)
            finally:
                stop.set()
                for t in threads:
                    t.join()
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertGreaterEqual(int(re.search(r"imported (\d+) records", r.stdout).group(1)),
                                    1001, r.stdout)
            converge = time.time() - t0
            self.assertEqual(bad, [])
        finally:
            shutil.rmtree(src.root, ignore_errors=True)
        # b recovers by itself; every node converges to the same revision
        self.assertTrue(b.wait_for(lambda: len({n.revision() for n in self.nodes}) == 1
                                   and a.revision() > 0, 30), [n.revision() for n in self.nodes])
        self.assertGreater(len(kills), 0)
        self.assertTrue(b.wait_for(lambda: "left by a rebuild that was cut short"
                                   in b.log("mapsync"), 10), b.log("mapsync")[-2000:])
        for node in (a, b, c):
            self.assertEqual(node.pop_login("u0999@burst.test", "Taro-pw-1")[0], 0)
            # what a killed rebuild left is removed when s6 has started mapsync again
            cdbdir = os.path.join(node.root, "cdb")
            self.assertTrue(node.wait_for(
                lambda: not [f for f in os.listdir(cdbdir) if ".tmp." in f], 10),
                os.listdir(cdbdir))
        sys.stderr.write("[fleet: 1,000-account import, b's mapsync SIGKILLed %d times "
                         "mid-rebuild: %.1f s] " % (len(kills), converge))

    def test_5_etcd_refuses_clients_without_certificate(self):
        port = self.etcd.client["e3"]
        r = subprocess.run(["curl", "-sS", "--max-time", "5", "--cacert",
                            os.path.join(self.etcd.pki, "ca.pem"),
                            "https://127.0.0.1:%d/v3/kv/range" % port, "-d", '{"key":"Lw=="}'],
                           capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        r = subprocess.run(["curl", "-sS", "--max-time", "5", "--cacert",
                            os.path.join(self.etcd.pki, "ca.pem"),
                            "--cert", os.path.join(self.etcd.pki, "operator.pem"),
                            "--key", os.path.join(self.etcd.pki, "operator.key"),
                            "https://127.0.0.1:%d/version" % port], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("etcdserver", r.stdout)

    def test_6_leader_killed_changes_continue(self):
        a, b, c = self.nodes
        leader = self.etcd.leader()
        self.assertIsNotNone(leader)
        self.etcd.kill(leader)
        try:
            r = self.acct_until_ok(c, 20, 0.3, "add", "saburo@example.test",
                                   "--password", "Saburo-pw-1")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("have not applied", r.stderr)
            for node in (a, b, c):
                self.assertEqual(node.pop_login("saburo@example.test", "Saburo-pw-1")[0], 0)
        finally:
            self.etcd.start_member(leader)

    def test_7_lagging_node_is_named_and_the_change_stays(self):
        a, b, c = self.nodes
        fleet = os.path.join(a.root, "etc", "fleet")
        conf = open(fleet).read()
        with open(fleet, "w") as f:
            f.write(conf.replace("wait=10", "wait=2"))
        stuck = c.pids("mapsync")[0]
        os.kill(stuck, signal.SIGSTOP)   # live (its lease kept alive) but not applying
        try:
            t0 = time.time()
            r = self.acct(a, "add", "shiro@example.test", "--password", "Shiro-pw-1")
            took = time.time() - t0
            self.assertEqual(r.returncode, 0, r.stderr)   # committed: exit 0
            self.assertIn("these nodes have not applied it yet: c (at revision", r.stderr)
            self.assertLess(took, 8)
            for node in (a, b):
                self.assertEqual(node.pop_login("shiro@example.test", "Shiro-pw-1")[0], 0)
        finally:
            os.kill(stuck, signal.SIGCONT)
        # c catches up by itself
        self.assertTrue(c.wait_for(lambda: c.revision() == a.revision(), 15))
        self.assertEqual(c.pop_login("shiro@example.test", "Shiro-pw-1")[0], 0)
        # a node that leaves the list between mailacct's read and its wait (stopped while the
        # change is on its way: the commit held back by a slow etcdctl) is still waited for
        # and named, since the read holds the nodes' records with the directory
        hold = tempfile.mkdtemp(prefix="yubin-hold-")
        gate, held = os.path.join(hold, "gate"), os.path.join(hold, "held")
        commit_shim(hold, ": > %s; while [ -e %s ]; do sleep 0.05; done" % (held, gate))
        open(gate, "w").close()
        p = subprocess.Popen([a.bin("mailacct"), "--root", a.root, "quota", "shiro@example.test",
                              "40M"], env=dict(a.env(), PATH=hold + ":" + os.environ["PATH"]),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.assertTrue(a.wait_for(lambda: os.path.exists(held), 15))
            # a node stopped on purpose leaves the list at once
            subprocess.run(["s6-svc", "-wd", "-d", "-T", "30000",
                            os.path.join(c.root, "service", "mapsync")], check=True)
            self.assertIsNone(self.etcd.get("/yubin/node/c"))
            os.unlink(gate)
            _, err = p.communicate(timeout=30)
            self.assertEqual(p.returncode, 0, err)
            self.assertIn("these nodes have not applied it yet: c (not reporting)", err)
            # a later change no longer waits for it
            r = self.acct(a, "quota", "shiro@example.test", "30M")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("have not applied", r.stderr)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
            shutil.rmtree(hold)
            with open(fleet, "w") as f:
                f.write(conf)
            subprocess.run(["s6-svc", "-u", os.path.join(c.root, "service", "mapsync")],
                           check=True)
        self.assertTrue(c.wait_for(lambda: c.revision() == a.revision(), 15))

    def test_8_new_node_builds_its_maps_before_ready(self):
        d = FleetNode("d", self.etcd)
        try:
            d.start()   # returns once s6 says every service, mapsync included, is ready
            # yubin-setup --fleet installs the fleet's services from fleet/: none of them is
            # reported as a service left without a template
            with open(os.path.join(d.root, ".setup.log")) as f:
                setup_log = f.read()
            self.assertNotIn("has no template", setup_log)
            # and it names the command that makes the node's etcd user, endpoints and all
            self.assertIn("yubin-fleet node %s %s d\n" % (self.etcd.pki, self.etcd.endpoints),
                          setup_log)
            # its etcd user exists (the harness made it as an operator does): a second
            # `yubin-fleet node` says so and names node-grants, exit 100
            r = subprocess.run([d.bin("yubin-fleet"), "node", self.etcd.pki,
                                self.etcd.endpoints, "d"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 100, r.stderr)
            self.assertEqual(r.stderr, "yubin-fleet: fatal: etcd has the user node-d already; to "
                             "give its role the rights of this version: yubin-fleet node-grants "
                             "%s %s d\n" % (self.etcd.pki, self.etcd.endpoints))
            self.assertEqual(d.pop_login("taro@example.test", "Taro-pw-1")[0] >= 0, True)
            self.assertEqual(d.revision(), self.nodes[0].revision())
            r = subprocess.run([d.bin("yubin-check"), "--root", d.root], capture_output=True,
                               text=True)
            self.assertIn("ok: fleet node d: maps built from etcd revision %d (mapsync)\n"
                          % d.revision(), r.stdout)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        finally:
            d.stop()

    def test_9_watch_lost_to_compaction_resyncs(self):
        a, b, c = self.nodes
        # history compacted up to now (etcd's root may compact), and b's watch ends the way
        # etcd ends a watch that fell behind a compaction
        rev = json.loads(self.etcd.ctl("endpoint", "status", "-w", "json").stdout)[0]
        self.etcd.ctl("compact", str(rev["Status"]["header"]["revision"]),
                      cert=os.path.join(self.etcd.pki, "root"))
        watch = [p for p in b.pids("mapsync")[1:]
                 if b"watch" in open("/proc/%d/cmdline" % p, "rb").read()]
        self.assertEqual(len(watch), 1)
        os.kill(watch[0], signal.SIGKILL)
        self.assertTrue(b.wait_for(lambda: "watch ended" in b.log("mapsync"), 10))
        r = self.acct(a, "add", "goro@example.test", "--password", "Goro-pw-1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("have not applied", r.stderr)
        self.assertEqual(b.pop_login("goro@example.test", "Goro-pw-1")[0], 0)

    def test_10_bad_record_deleted_the_log_says_the_directory_compiles(self):
        """A record written by hand that does not compile keeps every node on its maps, its
        warning naming where the node's domains come from (etcd, not etc/domains); once the
        operator deletes it the node's log says the directory compiles again (the maps stay:
        they are the directory's), not only the warning."""
        a = self.nodes[0]
        rev = a.revision()
        self.etcd.ctl("put", "/yubin/dir/homes/nowhere.test", "1 nowhere.test:a:1:live")
        self.assertTrue(a.wait_for(lambda: "home of nowhere.test: the domain is not in"
                                   in a.log("mapsync"), 15), a.log("mapsync")[-1500:])
        self.assertRegex(a.log("mapsync"), r"mapsync: warning: the directory at revision \d+ "
                         r"does not compile \(homes:\d+: home of nowhere\.test: the domain is "
                         r"not in the fleet directory \(/yubin/dir/domains/\)\); keeping the "
                         r"maps of revision %d" % rev)
        self.assertNotIn("etc/domains", a.log("mapsync"))
        self.etcd.ctl("del", "/yubin/dir/homes/nowhere.test")
        again = "the directory compiles again: it is the one of revision %d" % rev
        self.assertTrue(a.wait_for(lambda: again in a.log("mapsync"), 15),
                        a.log("mapsync")[-1500:])
        self.assertEqual(a.revision(), rev)
        self.assertEqual(a.pop_login("taro@example.test", "Taro-pw-1")[0] >= 0, True)


if __name__ == "__main__":
    unittest.main()
