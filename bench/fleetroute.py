"""bench/fleetroute.py: SMTP relayed through a front vs direct, in messages per second, on one
machine (real etcd, 2 nodes as tests/integration/test_fleet_route.py builds them): N messages
of 2 KB over C parallel SMTP sessions to the home node's port 25 (delivered there), then the
same to the other node's port 25 (queued there, relayed over the internal TLS port, delivered
on the home); the clock stops when the last message is in the home's Maildir.
usage: python3 bench/fleetroute.py [N] [C]   (root; after make all)"""
import os
import smtplib
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
from fleetharness import Etcd, FleetNode  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 500
C = int(sys.argv[2]) if len(sys.argv) > 2 else 4
ADDR = "bench@route.test"
BODY = b"Subject: bench\r\n\r\n" + (b"z" * 78 + b"\r\n") * 25


def count(node):
    return len(node.messages(ADDR))


def run(entry, home, label):
    before = count(home)
    per = [N // C + (1 if i < N % C else 0) for i in range(C)]

    def client(k):
        with smtplib.SMTP("127.0.0.1", entry.port("smtp"), timeout=60) as s:
            s.ehlo("bench.outside.test")
            for _ in range(k):
                s.sendmail("load@outside.test", [ADDR], BODY)

    t = time.time()
    threads = [threading.Thread(target=client, args=(k,)) for k in per]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    home.wait_for(lambda: count(home) - before >= N, 600, 0.02)
    took = time.time() - t
    got = count(home) - before
    print("fleet route: %s: %d messages of %d bytes, %d sessions: %.1f s, %.0f msg/s%s"
          % (label, N, len(BODY), C, took, got / took, "" if got == N else
             " (only %d arrived)" % got))
    return got / took


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
        a.mailacct("domain", "add", "route.test", "--plan", "premium", "--home", "b")
        a.mailacct("add", ADDR, "--password", "Bench-pw-1")
        direct = run(b, b, "direct to the home (b:25)")
        front = run(a, b, "through a front (a:25 -> b's internal port)")
        print("fleet route: relayed/direct = %.2f (deferred on the front: %d)"
              % (front / direct, a.log("queue").count("deferred id=")))
        if os.environ.get("BENCH_KEEP"):
            input("roots kept: %s %s (Enter to stop)" % (a.root, b.root))
    finally:
        for n in nodes:
            n.stop()
        etcd.stop()


if __name__ == "__main__":
    main()
