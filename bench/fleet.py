"""bench/fleet.py: the fleet's figures on one machine (3 etcd members, 3 nodes, as
tests/integration/test_fleet.py builds them): time from `mailacct add` to live on every node
(median, p99 of N adds; mailacct returns when every node's maps hold the change), mapsync's
CPU per change on one node (its own and its etcdctl children's), and the time for a
10,000-account `mailacct import` to be live on every node.
usage: python3 bench/fleet.py [N] [IMPORT]   (root; after make all)"""
import os
import shutil
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
from harness import MailRoot  # noqa: E402
from test_fleet import Etcd, FleetNode  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100
IMPORT = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
HZ = os.sysconf("SC_CLK_TCK")


def cpu(pid):
    """utime + stime + reaped children's (etcdctl), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / HZ


def main():
    etcd = Etcd()
    nodes = []
    try:
        etcd.start()
        nodes = [FleetNode(n, etcd) for n in ("a", "b", "c")]
        for n in nodes:
            n.start(wait=False)
        for n in nodes:
            n.wait_ready(60)
        a, b = nodes[0], nodes[1]
        a.mailacct("import")
        a.mailacct("domain", "add", "bench.test", "--plan", "basic")
        pid = b.pids("mapsync")[0]
        c0 = cpu(pid)
        times = []
        for i in range(N):
            t = time.time()
            a.mailacct("add", "u%d@bench.test" % i, "--password", "Bench-pw-1")
            times.append(time.time() - t)
        per = (cpu(pid) - c0) / N
        times.sort()
        print("fleet: mailacct add live on 3 nodes: median %.0f ms, p99 %.0f ms (%d adds)"
              % (statistics.median(times) * 1000, times[int(len(times) * 0.99) - 1] * 1000, N))
        print("fleet: mapsync CPU per change (node b, with its etcdctl runs): %.0f ms" % (per * 1000))
        src = MailRoot(prefix="yubin-bench-fleet-src-")
        src.setup()
        h = etcd.get("/yubin/dir/users/u0@bench.test").split(":")[1]
        with open(os.path.join(src.root, "etc", "domains"), "a") as f:
            for d in range(IMPORT // 10):
                f.write("imp%d.test:basic\n" % d)
        with open(os.path.join(src.root, "etc", "users"), "a") as f:
            for i in range(IMPORT):
                f.write("user%d@imp%d.test:%s\n" % (i % 10, i // 10, h))
        shutil.copy(os.path.join(a.root, "etc", "fleet"), os.path.join(src.root, "etc"))
        shutil.copytree(os.path.join(a.root, "etc", "fleet.d"),
                        os.path.join(src.root, "etc", "fleet.d"))
        t = time.time()
        subprocess.run([src.bin("mailacct"), "--root", src.root, "import"], check=True,
                       capture_output=True)
        imported = time.time() - t
        final = max(n.revision() for n in nodes)
        while len({n.revision() for n in nodes}) > 1:
            time.sleep(0.05)
        print("fleet: %d accounts imported and live on 3 nodes in %.1f s (import returned "
              "after %.1f s; revision %d)" % (IMPORT, time.time() - t, imported, final))
        shutil.rmtree(src.root, ignore_errors=True)
    finally:
        for n in nodes:
            n.stop()
        etcd.stop()


if __name__ == "__main__":
    main()
