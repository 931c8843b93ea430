"""bench/fleet.py: the fleet's figures on one machine (3 etcd members, 3 nodes, as
tests/integration/test_fleet.py builds them): time from `mailacct add` to live on every node
(median, p99 of N adds; mailacct returns when every node's maps hold the change), mapsync's
CPU per change on one node (its own and its etcdctl children's), and the time for a
10,000-account `mailacct import` to be live on every node. Then, on a fleet of its own (3 etcd
members, node a), `mailacct passwd` while etcd holds RATE sending counters under /yubin/rate/
(ratesync's records, put with etcdctl in its format) and without them: median wall time and
CPU (mailacct and its etcdctl runs) of RUNS; with FLEET_OLD_BIN=DIR the mailacct of DIR (an
older build) is timed too, alternately with this one. N, IMPORT or RATE 0 leaves that part out.
usage: python3 bench/fleet.py [N] [IMPORT] [RATE]   (root; after make all)"""
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
from harness import MailRoot  # noqa: E402
from harness import BIN  # noqa: E402
from fleetharness import ETCDCTL, Etcd, FleetNode  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100
IMPORT = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
RATE = int(sys.argv[3]) if len(sys.argv) > 3 else 100000
RUNS = 5            # passwd runs per build and size
OLD_BIN = os.environ.get("FLEET_OLD_BIN")
HZ = os.sysconf("SC_CLK_TCK")


def cpu(pid):
    """utime + stime + reaped children's (etcdctl), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / HZ


def changes():
    """mailacct add to live, mapsync's CPU, an import (3 nodes)."""
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
        if N:
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
            print("fleet: mapsync CPU per change (node b, with its etcdctl runs): %.0f ms"
                  % (per * 1000))
        if IMPORT:
            if not N:
                a.mailacct("add", "u0@bench.test", "--password", "Bench-pw-1")
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


def load_rate(etcd, n):
    """n records /yubin/rate/NODE/ADDRESS (nodes a, b, c; accounts of 10 per domain) in
    ratesync's format (lib/rate rate_text), 100 puts per etcdctl txn (etcd takes 128 ops), 4
    etcdctl at a time."""
    now = int(time.time())
    fine, day = now // 300, now // 3600
    ctl = [ETCDCTL, "--endpoints=" + etcd.endpoints,
           "--cacert=" + os.path.join(etcd.pki, "ca.pem"),
           "--cert=" + os.path.join(etcd.pki, "operator.pem"),
           "--key=" + os.path.join(etcd.pki, "operator.key"), "--command-timeout=30s", "txn"]
    env = dict(os.environ, ETCDCTL_API="3")
    running = []
    for start in range(0, n, 100):
        ops = "".join('put /yubin/rate/%s/u%d@r%d.test "1 w=3600 f=%d:3:5,%d:1:1 d=%d:4:6"\n'
                      % ("abc"[i % 3], i // 3 % 10, i // 30, fine - 1, fine, day)
                      for i in range(start, min(n, start + 100)))
        p = subprocess.Popen(ctl, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env,
                             text=True)
        p.stdin.write("\n" + ops + "\n\n")
        p.stdin.close()
        running.append(p)
        while len(running) >= 4 or (start + 100 >= n and running):
            if running[0].wait() != 0:
                raise RuntimeError("etcdctl txn failed")
            running.pop(0)


def passwd(a, binary, pw):
    """One mailacct passwd of binary/: its wall time and CPU (with its etcdctl children)."""
    t = time.time()
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([os.path.join(binary, "mailacct"), "--root", a.root, "passwd",
                    "taro@bench.test", pw], env=a.env(), check=True, capture_output=True)
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.time() - t, c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime


def rate_records():
    """mailacct passwd with and without RATE records under /yubin/rate/ (node a)."""
    etcd = Etcd()
    a = None
    builds = [("new", BIN)] + ([("old", OLD_BIN)] if OLD_BIN else [])
    try:
        etcd.start()
        a = FleetNode("a", etcd)
        a.start()
        a.mailacct("import")
        a.mailacct("domain", "add", "bench.test", "--plan", "basic")
        a.mailacct("add", "taro@bench.test", "--password", "Bench-pw-1")
        # ratesync is not on mailacct's path; down, it writes no ratefleet file per account
        # while the records go in
        subprocess.run(["s6-svc", "-wd", "-d", "-T", "30000",
                        os.path.join(a.root, "service", "ratesync")], check=True)
        for size in (0, RATE):
            if size:
                t = time.time()
                load_rate(etcd, size)
                print("fleet: %d records put under /yubin/rate/ in %.0f s"
                      % (size, time.time() - t))
            got = {name: [] for name, _ in builds}
            for i in range(RUNS):       # the builds alternately: the VM's load hits both
                for name, binary in builds:
                    got[name].append(passwd(a, binary, "Bench-pw-%s-%d" % (name, i)))
            for name, _ in builds:
                print("fleet: mailacct passwd, etcd holding %d rate records (%s): median %.0f "
                      "ms, CPU %.0f ms (mailacct and etcdctl; %d runs)"
                      % (size, name, statistics.median(w for w, _ in got[name]) * 1000,
                         statistics.median(c for _, c in got[name]) * 1000, RUNS))
    finally:
        if a:
            a.stop()
        etcd.stop()


if __name__ == "__main__":
    if N or IMPORT:
        changes()
    if RATE:
        rate_records()
