"""Privilege separation is real (DESIGN.md "Programs and who runs them"): every running yubin
process has the uid the design gives it, and the uids of the network parsers can open neither
a Maildir, nor the password hashes, nor the queue, nor the TLS key."""
import os
import pwd
import socket
import time
import unittest

from harness import MailRoot, IS_ROOT, have, proc_uid, proc_name, descendants, can_open

# program name (as in /proc/PID/comm) -> the user it must run as
EXPECTED = {
    "smtpd": "yubin-smtpd",
    "pop3-front": "yubin-pop",
    "authd": "yubin-auth",
    "queue-run": "yubin-q",
    "queue-inject": "yubin-q",
    "remote": "yubin-q",
    "deliver": "yubin-mbox",
    "checkpw": "yubin-mbox",
    "pop3d": "yubin-mbox",
    "s6-log": "yubin-log",
}


@unittest.skipUnless(IS_ROOT, "privilege separation is only real when started as root")
class PrivilegeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot.shared()

    def tree_processes(self):
        """(pid, comm, uid) of every process under our s6-svscan."""
        out = []
        for pid in descendants(self.m.svscan.pid):
            out.append((pid, proc_name(pid), proc_uid(pid)))
        return out

    def hold_sessions(self):
        """Open an SMTP and a POP3 session so their processes exist while we look."""
        socks = []
        for name in ("smtp", "pop3"):
            if name in self.m.listeners():
                s = socket.create_connection(("127.0.0.1", self.m.port(name)), timeout=5)
                s.recv(512)
                socks.append(s)
        return socks

    def test_every_process_runs_as_its_uid(self):
        socks = self.hold_sessions()
        try:
            time.sleep(0.2)
            procs = self.tree_processes()
        finally:
            for s in socks:
                s.close()
        seen = set()
        for pid, comm, uid in procs:
            if comm in EXPECTED:
                want = pwd.getpwnam(EXPECTED[comm]).pw_uid
                with self.subTest(program=comm, pid=pid):
                    self.assertEqual(uid, want, "%s (pid %d) runs as uid %d, not %s"
                                     % (comm, pid, uid, EXPECTED[comm]))
                seen.add(comm)
        self.assertIn("s6-log", seen)
        for prog in ("authd", "queue-run"):
            if have(prog):
                self.assertIn(prog, seen, "%s is not running" % prog)
        if have("smtpd"):
            self.assertIn("smtpd", seen)
        if have("pop3-front"):
            self.assertIn("pop3-front", seen)

    def test_parsers_cannot_read_secrets_or_mail(self):
        if have("mailacct"):
            self.m.add_user("privcheck@example.test", "Secret-pw-9") \
                if not os.path.isdir(self.m.maildir("privcheck@example.test")) else None
        targets = {
            "auth.cdb": os.path.join(self.m.root, "cdb", "auth.cdb"),
            "etc/users": os.path.join(self.m.root, "etc", "users"),
            "TLS key": os.path.join(self.m.root, "etc", "tls", "server.key"),
            "queue": os.path.join(self.m.root, "queue", "mess"),
            "mail": os.path.join(self.m.root, "mail"),
        }
        if have("mailacct"):
            targets["Maildir"] = os.path.join(self.m.maildir("privcheck@example.test"), "new")
        for user in ("yubin-smtpd", "yubin-pop", "yubin-tls"):
            for what, path in targets.items():
                if not os.path.exists(path):
                    continue
                with self.subTest(user=user, target=what):
                    self.assertFalse(can_open(user, path), "%s can read %s" % (user, what))
        # and the other direction: the queue and mailbox uids cannot read hashes
        for user in ("yubin-q", "yubin-mbox"):
            for what in ("auth.cdb", "etc/users", "TLS key"):
                path = targets[what]
                if os.path.exists(path):
                    with self.subTest(user=user, target=what):
                        self.assertFalse(can_open(user, path))
        # the mailbox uid cannot read the queue, the queue uid cannot read mailboxes
        self.assertFalse(can_open("yubin-mbox", targets["queue"]))
        self.assertFalse(can_open("yubin-q", targets["mail"]))


if __name__ == "__main__":
    unittest.main()
