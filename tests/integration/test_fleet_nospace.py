"""etcd's database full (docs/fleet.md "etcd's database is full"): a real 3-member etcd cluster
with a small quota (--quota-backend-bytes) and node a. The operator fills etcd the way history
fills it, with puts under a test prefix until etcd refuses one with its space alarm (NOSPACE);
then etcd refuses every write and still serves reads. yubin-check fails with one line saying
so, what stops and what to do; mailacct exits 111 naming it; mail still flows; ratesync and a
restarted mapsync say it once, not at every try; yubin-fleet names it. Then the documented
remedy (the test keys deleted, compaction, defragmentation of each member, alarm disarm):
yubin-check is ok again, mailacct changes the directory, and mapsync lists the node again."""
import json
import os
import re
import smtplib
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IS_ROOT  # noqa: E402
from fleetharness import ETCD, ETCDCTL, FleetCase  # noqa: E402

ADDR = "taro@full.test"
PW = "Taro-full-pw1"
FILL = "/yubin/test-fill/"
FULL_FAIL = ("FAIL: fleet node a: etcd refuses every write: its database is full (space alarm "
             "NOSPACE): mailacct changes, the member page's approvals, domain moves and the "
             "fleet-wide sending counts stop until it is freed (mail still flows); compact, "
             "defragment each member, then etcdctl alarm disarm, with the root certificate "
             "(docs/fleet.md \"etcd's database is full\")\n")
FULL_SAY = ("etcd's database is full (its space alarm NOSPACE: etcd refuses every write until an "
            "operator compacts, defragments and disarms it: docs/fleet.md \"etcd's database is "
            "full\")")


@unittest.skipUnless(ETCD and ETCDCTL, "etcd-server and etcd-client not installed (make deps)")
@unittest.skipUnless(IS_ROOT, "the fleet runs its services under their own uids: needs root")
class FleetNoSpaceTest(FleetCase):
    names = ("a",)
    etcd_quota = 4 * 1024 * 1024    # a few puts of 512 KiB fill it

    @classmethod
    def prepare(cls):
        a = cls.nodes[0]
        r = a.mailacct("import", check=False)
        assert r.returncode == 0, (r.stdout, r.stderr)
        a.mailacct("domain", "add", "full.test", "--plan", "premium")
        a.mailacct("add", ADDR, "--password", PW)

    def yubin_check(self):
        a = self.nodes[0]
        return subprocess.run([a.bin("yubin-check"), "--root", a.root], capture_output=True,
                              text=True)

    def submit(self, n):
        """A message by SMTP AUTH on a's 587: ratesync has a count of a's to put."""
        a = self.nodes[0]
        with smtplib.SMTP("127.0.0.1", a.port("submission"), timeout=20) as s:
            s.login(ADDR, PW)
            s.sendmail(ADDR, [ADDR], "From: <%s>\r\nSubject: sent %d\r\n\r\nbody\r\n" % (ADDR, n))

    def fill(self):
        """Puts of 512 KiB as the operator until etcd refuses one for want of space."""
        value = "x" * (512 * 1024)
        for i in range(64):
            r = self.etcd.ctl("put", FILL + str(i), check=False, input=value)
            if r.returncode != 0:
                self.assertIn("etcdserver: mvcc: database space exceeded", r.stderr)
                return
        self.fail("etcd took 32 MiB under a quota of 4 MiB")

    def remedy(self):
        """docs/fleet.md "etcd's database is full", with the root certificate: what filled it
        deleted (here the test keys; in production the history), compacted to the current
        revision, each member defragmented, the alarm disarmed."""
        root = os.path.join(self.etcd.pki, "root")
        self.etcd.ctl("del", "--prefix", FILL, cert=root)
        st = json.loads(self.etcd.ctl("endpoint", "status", "-w", "json", cert=root).stdout)
        self.etcd.ctl("compaction", "--physical", str(st[0]["Status"]["header"]["revision"]),
                      cert=root)
        out = self.etcd.ctl("defrag", cert=root).stdout
        self.assertEqual(out.count("Finished defragmenting etcd member"), 3, out)
        self.etcd.ctl("alarm", "disarm", cert=root)
        self.assertEqual(self.etcd.ctl("alarm", "list", cert=root).stdout, "")

    def test_full_etcd_is_named_mail_flows_and_the_remedy_works(self):
        a = self.nodes[0]
        r = self.yubin_check()
        self.assertNotIn("database is full", r.stdout)
        self.assertIn("ok: fleet node a: etcd lets ratesync read /yubin/rate/ and write "
                      "/yubin/rate/a/\n", r.stdout)
        self.fill()
        t0 = time.time()

        # the operator's check: one FAIL line, what stops and what to do; no second message
        # of the ratesync rights for the same cause
        r = self.yubin_check()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(FULL_FAIL, r.stdout)
        self.assertEqual(len([l for l in r.stdout.splitlines() if "database is full" in l]), 1,
                         r.stdout)
        self.assertNotIn("unable to ask etcd", r.stdout)
        self.assertIn("ok: fleet node a: maps built from etcd revision", r.stdout)
        self.assertEqual([l for l in r.stdout.splitlines() if l.startswith("FAIL")],
                         [FULL_FAIL.strip()], r.stdout)

        # a change: refused, temporary, said so; the directory is as it was
        before = a.revision()
        r = a.mailacct("passwd", ADDR, "--password", "Taro-new-pw2", check=False)
        self.assertEqual(r.returncode, 111, r.stderr)
        self.assertEqual(r.stderr, "mailacct: fatal: %s; nothing was changed (mail still "
                                   "flows)\n" % FULL_SAY)
        self.assertEqual(a.revision(), before)
        self.assertEqual(a.pop_login(ADDR, PW)[0], 0)

        # mail flows: port 25 to the account, stored
        a.send_mail(ADDR, [b"Subject: while etcd is full\n\nstill here\n"])

        # ratesync: the refusal of this node's counts said once, however often it tries
        self.submit(1)
        line = "ratesync: warning: etcd refused the write of this node's counts: %s: the " \
               "other nodes count without them until it takes them" % FULL_SAY
        self.assertTrue(a.wait_for(lambda: line in a.log("ratesync"), 15),
                        a.log("ratesync")[-2000:])
        time.sleep(1.5)
        self.submit(2)      # a new count: tried again after 1, 2, 4 ... s
        time.sleep(3)
        self.assertEqual(a.log("ratesync").count("etcd refused the write"), 1,
                         a.log("ratesync")[-3000:])

        # mapsync started while etcd is full: maps served, the node not listed, said once
        subprocess.run(["s6-svc", "-r", os.path.join(a.root, "service", "mapsync")], check=True)
        lease = ("mapsync: warning: unable to take a lease in etcd: %s: this node is not listed "
                 "as live, so mailacct does not wait for it until etcd takes writes again"
                 % FULL_SAY)
        self.assertTrue(a.wait_for(lambda: lease in a.log("mapsync"), 15),
                        a.log("mapsync")[-2000:])
        time.sleep(3)
        self.assertEqual(a.log("mapsync").count("unable to take a lease"), 1,
                         a.log("mapsync")[-3000:])
        self.assertIsNone(self.etcd.get("/yubin/node/a"))

        # yubin-fleet (yubin-move): the step refused, said so
        r = subprocess.run([a.bin("yubin-fleet"), "--root", a.root, "node", "drain", "a"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 111, r.stderr)
        self.assertIn("yubin-fleet: fatal: unable to mark a draining: etcd refuses every write: "
                      "its database is full (space alarm NOSPACE); nothing was changed at this "
                      "step: compact, defragment and disarm etcd (docs/fleet.md \"etcd's "
                      "database is full\"), then rerun\n", r.stderr)
        print("\n  etcd full for %.1f s" % (time.time() - t0))

        # the remedy of docs/fleet.md
        self.remedy()
        r = self.yubin_check()
        self.assertNotIn("database is full", r.stdout)
        self.assertNotIn("FAIL", r.stdout)
        self.assertIn("ok: fleet node a: etcd lets ratesync read /yubin/rate/ and write "
                      "/yubin/rate/a/\n", r.stdout)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # mapsync lists the node again at its next try (every 10 s while refused)
        self.assertTrue(a.wait_for(lambda: self.etcd.get("/yubin/node/a"), 15),
                        a.log("mapsync")[-2000:])
        # said once the put is done, and in the log a moment after etcd has the record
        listed = re.compile(r"mapsync: info: node listed as live again after \d+s, at "
                            r"revision \d+")
        self.assertTrue(a.wait_for(lambda: listed.search(a.log("mapsync")), 5),
                        a.log("mapsync")[-2000:])
        r = a.mailacct("passwd", ADDR, "--password", "Taro-new-pw2", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        self.assertGreaterEqual(a.pop_login(ADDR, "Taro-new-pw2")[0], 1)


if __name__ == "__main__":
    unittest.main()
