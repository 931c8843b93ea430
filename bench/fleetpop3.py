"""bench/fleetpop3.py: POP3 through a fleet front vs direct on the home (docs/fleet.md "POP3
through any node"): 3 etcd members and 2 nodes as tests/integration/test_fleet_pop3.py builds
them; the account's domain is homed on b and its Maildir holds COUNT x 4 KB messages (written
straight into b's Maildir, as bench/pop3.sh does). Prints medians of RUNS for login+STAT+UIDL
(warm: the size cache exists) and for RETR of every message one at a time (MB/s), direct on b
and through a (pop3-front -> pop3-link -> TLS -> b's pop3-fleet -> pop3d).
usage: python3 bench/fleetpop3.py [COUNT] [RUNS]   (root; after make all)"""
import os
import poplib
import pwd
import statistics
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
from fleetharness import Etcd, FleetNode  # noqa: E402

COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
USER, PW = "bench@b.test", "Bench-pw-1"


def fill(maildir, count, size=4096):
    for d in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(maildir, d), exist_ok=True)
    t = int(time.time())
    for i in range(count):
        hdr = ("From: bench@remote.test\nTo: %s\nSubject: bench %d\n\n" % (USER, i)).encode()
        body = (b"x" * 71 + b"\n") * ((size - len(hdr)) // 72)
        with open(os.path.join(maildir, "new", "%d.M%06dP%d.bench" % (t, i, os.getpid())),
                  "wb") as f:
            f.write(hdr + body)
    pw = pwd.getpwnam("yubin-mbox")
    for dirpath, _, files in os.walk(os.path.dirname(os.path.dirname(maildir))):
        os.chown(dirpath, pw.pw_uid, pw.pw_gid)
        for x in files:
            os.chown(os.path.join(dirpath, x), pw.pw_uid, pw.pw_gid)


def session(port, retr):
    t = time.time()
    p = poplib.POP3("127.0.0.1", port, timeout=120)
    p.user(USER)
    p.pass_(PW)
    n = p.stat()[0]
    octets = 0
    if not retr:
        p.uidl()
    else:
        t = time.time()
        for i in range(1, n + 1):
            octets += sum(len(x) + 2 for x in p.retr(i)[1])
    took = time.time() - t
    p.quit()
    return took, octets


def main():
    etcd = Etcd()
    nodes = []
    try:
        etcd.start()
        nodes = [FleetNode(n, etcd) for n in ("a", "b")]
        for n in nodes:
            n.start(wait=False)
        for n in nodes:
            n.wait_ready(60)
        a, b = nodes
        a.mailacct("import")
        for n in nodes:
            a.mailacct("node", "add", n.name, "127.0.0.1", str(n.port("fleet_smtp")),
                       str(n.port("fleet_pop3")))
        a.mailacct("domain", "add", "b.test", "--plan", "premium", "--home", "b")
        a.mailacct("add", USER, "--password", PW)
        fill(b.maildir(USER), COUNT)
        session(b.port("pop3"), False)          # first session: moves new/ to cur/, sizes
        for what, retr in (("login+STAT+UIDL", False), ("RETR all", True)):
            for name, node in (("direct on b", b), ("through a", a)):
                runs = [session(node.port("pop3"), retr) for _ in range(RUNS)]
                took = statistics.median(r[0] for r in runs)
                if retr:
                    mb = runs[0][1] / 1e6
                    print("fleetpop3: %s of %d x 4 KB, %s: %.2f s, %.1f MB/s (median of %d)"
                          % (what, COUNT, name, took, mb / took, RUNS))
                else:
                    print("fleetpop3: %s at %d messages, %s: %.3f s (median of %d)"
                          % (what, COUNT, name, took, RUNS))
    finally:
        for n in nodes:
            n.stop()
        etcd.stop()


if __name__ == "__main__":
    main()
