"""Nothing accepted is lost (hardening issue): a kill storm of SIGKILLs on random yubin
processes during a load, a restart of the whole tree mid-load, and a full disk.

Every message acknowledged with 250 must end up in a Maildir exactly once or still be queued;
duplicates are counted and reported (allowed: at-least-once), losses must be zero."""
import email
import os
import random
import shutil
import smtplib
import subprocess
import threading
import time
import unittest

from harness import BIN, MailRoot, IS_ROOT, have, descendants, proc_name

PIPELINE = ("smtpd", "queue-inject", "queue-run", "deliver", "mkmaps", "mailacct")
VICTIMS = ("smtpd", "queue-inject", "queue-run", "deliver", "s6-ipcserverd",
           "authd", "tlsd", "tcpserver")


def have_pipeline():
    return all(have(p) for p in PIPELINE)


def send_load(m, rcpts, count, conc, accepted, refused):
    """count messages over conc threads; record Message-IDs that got 250."""
    lock = threading.Lock()

    def worker(k):
        for i in range(k, count, conc):
            mid = "<storm.%d.%d@remote.example>" % (i, os.getpid())
            rcpt = rcpts[i % len(rcpts)]
            msg = ("From: load@remote.example\r\nTo: %s\r\nSubject: storm %d\r\n"
                   "Message-ID: %s\r\n\r\nbody %d\r\n" % (rcpt, i, mid, i))
            for attempt in range(20):
                try:
                    with smtplib.SMTP("127.0.0.1", m.port("smtp"), timeout=30) as s:
                        s.sendmail("load@remote.example", [rcpt], msg)
                    with lock:
                        accepted[mid] = rcpt
                    break
                except (smtplib.SMTPException, OSError):
                    time.sleep(0.05)
            else:
                with lock:
                    refused.append(mid)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(conc)]
    for t in threads:
        t.start()
    return threads


def delivered_ids(m, rcpts):
    """Message-ID -> number of copies in the Maildirs of rcpts."""
    seen = {}
    for r in rcpts:
        for path in m.messages(r):
            try:
                with open(path, "rb") as f:
                    msg = email.message_from_binary_file(f)
            except FileNotFoundError:
                continue
            mid = msg.get("Message-ID")
            if mid:
                seen[mid] = seen.get(mid, 0) + 1
    return seen


def queued(m):
    return len(os.listdir(os.path.join(m.root, "queue", "mess")))


@unittest.skipUnless(IS_ROOT and have_pipeline(), "needs root and the whole mail-in pipeline")
class KillStormTest(unittest.TestCase):
    def setUp(self):
        self.m = MailRoot(prefix="yubin-storm-", env={"QUEUE_BACKOFF": "1,1,2"})
        self.m.start()
        self.rcpts = ["storm%d@example.test" % i for i in range(3)]
        for r in self.rcpts:
            self.m.add_user(r, "storm-pw-1", quota=0)

    def tearDown(self):
        self.m.stop()

    def check_no_loss(self, accepted, label):
        # wait for the queue to drain (kills may leave retries pending)
        self.m.wait_for(lambda: queued(self.m) == 0
                        and len(delivered_ids(self.m, self.rcpts)) >= len(accepted), timeout=90,
                        interval=0.5)
        seen = delivered_ids(self.m, self.rcpts)
        lost = [mid for mid in accepted if mid not in seen]
        dups = sum(n - 1 for mid, n in seen.items() if n > 1)
        print("\n%s: accepted=%d delivered=%d still_queued=%d duplicates=%d lost=%d"
              % (label, len(accepted), len(seen), queued(self.m), dups, len(lost)))
        if lost and queued(self.m):
            self.fail("%d accepted messages neither delivered nor drained: %s" % (len(lost), lost[:5]))
        self.assertEqual(lost, [], "accepted messages lost")

    def test_kill_storm_loses_nothing(self):
        accepted, refused = {}, []
        threads = send_load(self.m, self.rcpts, 1000, 8, accepted, refused)
        kills = 0
        rnd = random.Random(5)
        while any(t.is_alive() for t in threads):
            time.sleep(rnd.uniform(0.1, 0.3))
            procs = [p for p in descendants(self.m.svscan.pid) if proc_name(p) in VICTIMS]
            if procs:
                try:
                    os.kill(rnd.choice(procs), 9)
                    kills += 1
                except ProcessLookupError:
                    pass
        for t in threads:
            t.join()
        print("\nkill storm: kills=%d refused_after_retries=%d" % (kills, len(refused)))
        self.assertGreater(kills, 5)
        self.assertGreater(len(accepted), 900)
        self.check_no_loss(accepted, "kill storm")

    def test_whole_tree_restart_mid_load_loses_nothing(self):
        accepted, refused = {}, []
        threads = send_load(self.m, self.rcpts, 300, 6, accepted, refused)
        time.sleep(0.5)
        tree = descendants(self.m.svscan.pid)   # before the kill: then they are orphans
        self.m.svscan.kill()  # SIGKILL s6-svscan, then every process of the tree
        for p in tree:
            try:
                os.kill(p, 9)
            except ProcessLookupError:
                pass
        self.m.sweep()        # and whatever was started meanwhile
        self.m.svscan.wait()
        time.sleep(0.3)
        self.m.start()
        for t in threads:
            t.join()
        self.check_no_loss(accepted, "tree restart")


@unittest.skipUnless(IS_ROOT and have_pipeline(), "needs root (tmpfs mount) and the pipeline")
class DiskFullTest(unittest.TestCase):
    def setUp(self):
        self.mnt = "/tmp/yubin-diskfull-%d" % os.getpid()
        os.makedirs(self.mnt)
        # room for the root's copy of the programs (25 MB built with ASan+UBSan, 9 MB
        # without) and 16 MB for the mail that fills it
        progs = sum(os.path.getsize(os.path.join(BIN, f)) for f in os.listdir(BIN)
                    if os.path.isfile(os.path.join(BIN, f)))
        size = progs // (1 << 20) + 16
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0755" % size, "tmpfs",
                        self.mnt], check=True)
        self.m = MailRoot(prefix="yubin-full-", parent=self.mnt)
        self.m.start()
        self.m.add_user("full@example.test", "full-pw-1", quota=0)

    def tearDown(self):
        self.m.stop()
        subprocess.run(["umount", "-l", self.mnt])
        shutil.rmtree(self.mnt, ignore_errors=True)

    def send(self, body_kb):
        msg = "Subject: x\r\nMessage-ID: <full.%f@r.example>\r\n\r\n" % time.time() + \
              ("y" * 990 + "\r\n") * body_kb
        with smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=30) as s:
            return s.sendmail("a@remote.example", ["full@example.test"], msg)

    def test_full_disk_refuses_with_452_and_recovers(self):
        self.send(1)
        self.m.wait_for(lambda: len(self.m.messages("full@example.test")) == 1, 10)
        filler = os.path.join(self.mnt, "filler")
        subprocess.run(["dd", "if=/dev/zero", "of=" + filler, "bs=1M", "count=64"],
                       capture_output=True)
        with self.assertRaises(smtplib.SMTPResponseException) as cm:
            self.send(200)
        self.assertIn(cm.exception.smtp_code, (452, 451))
        self.assertIn(b"4.3.1", cm.exception.smtp_error)
        # nothing half-written is visible to the runner
        self.assertEqual(os.listdir(os.path.join(self.m.root, "queue", "mess")), [])
        os.unlink(filler)
        self.send(1)
        self.assertTrue(self.m.wait_for(lambda: len(self.m.messages("full@example.test")) == 2, 15))


if __name__ == "__main__":
    unittest.main()
