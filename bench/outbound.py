#!/usr/bin/env python3
"""Outbound delivery into Postfix's smtp-sink: msg/s and CPU per message of queue-run and remote.

Like bench/remote.py (private mail root under s6, messages queued with queue-inject while
queue-run is down, then s6-svc -u and the clock runs), but each destination domain is routed
to its own smtp-sink (a C server that is not the bottleneck, as in ../shared/bench/pair.sh
outbound), the clock stops when every sink has had its share (smtp-sink -M), and the CPU
queue-run and remote (with its jobs and remote-cache) used is read from /proc.

usage: bench/outbound.py [RUNS] [N] [SIZE:DESTINATIONS,...]
       (defaults 3, 1000 and 1024:1,1024:10,102400:1,102400:10; medians per case)
Side by side with Postfix: ../shared/bench/pair.sh outbound (it rewrites /etc: not here).
"""
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, HERE)
from harness import MailRoot, free_port, have  # noqa: E402
import remote as br  # noqa: E402  (message())
import test_remote as tr  # noqa: E402  (inject())

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
N = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
CASES = [tuple(int(x) for x in c.split(":")) for c in
         (sys.argv[3] if len(sys.argv) > 3 else "1024:1,1024:10,102400:1,102400:10").split(",")]


def cpu_s(pids):
    """utime+stime of pids, their reaped children and their live descendants (remote's
    children serve REMOTE_PROCESS_USES messages each: their CPU reaches the loop's reaped
    total only when they end), in seconds."""
    t = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                t += sum(int(x) for x in f.read().rsplit(")", 1)[1].split()[11:15])
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            continue
        t += cpu_s(kids) * os.sysconf("SC_CLK_TCK")
    return t / os.sysconf("SC_CLK_TCK")


def one_run(m, ports, size, ndom):
    svc = os.path.join(m.root, "service", "queue")
    subprocess.run(["s6-svc", "-wD", "-T", "20000", "-d", svc], check=True)
    msg = br.message(size)
    for i in range(N):
        tr.inject(m, "bench@example.test", ["r%d@out%d.bench.test" % (i, i % ndom)], msg)
    sinks = [subprocess.Popen(["smtp-sink", "-u", "nobody", "-M", str(N // ndom),
                               "127.0.0.1:%d" % ports[d], "256"]) for d in range(ndom)]
    time.sleep(0.3)
    remote = m.pids("remote")
    c0 = cpu_s(remote)
    t0 = time.time()
    subprocess.run(["s6-svc", "-u", svc], check=True)
    queue = m.wait_for(lambda: m.pids("queue"), 10) or []
    for s in sinks:
        s.wait(timeout=600)
    dt = time.time() - t0
    time.sleep(0.3)     # the last jobs' exits and unlinks
    return N / dt, (cpu_s(queue)) * 1000 / N, (cpu_s(remote) - c0) * 1000 / N


def main():
    if not have("queue-run") or not shutil.which("smtp-sink"):
        print("outbound bench: needs bin/queue-run and Postfix's smtp-sink (apt install postfix)")
        return
    ports = [free_port() for _ in range(10)]
    m = MailRoot(prefix="yubin-bench-outbound-", env=dict(
        x.split("=", 1) for x in os.environ.get("BENCH_SET", "").split() if "=" in x))
    m.start()
    try:
        with open(os.path.join(m.root, "etc", "routes"), "a") as f:
            for d in range(10):
                f.write("out%d.bench.test:127.0.0.1:%d\n" % (d, ports[d]))
        subprocess.run([m.bin("mkmaps"), "--root", m.root], check=True, capture_output=True,
                       env=m.env())
        print("outbound bench: N=%d per run, %d runs; queue-run down while queue-inject queues "
              "them, then s6-svc -u; one smtp-sink -M N/D per destination" % (N, RUNS))
        for size, ndom in CASES:
            runs = [one_run(m, ports, size, ndom) for _ in range(RUNS)]
            print("outbound: size=%dKB destinations=%d msgs/s median=%.1f (runs: %s) "
                  "cpu ms/msg queue-run=%.2f remote=%.2f" %
                  (size // 1024, ndom, statistics.median(r[0] for r in runs),
                   " ".join("%.1f" % r[0] for r in runs),
                   statistics.median(r[1] for r in runs), statistics.median(r[2] for r in runs)))
        print("commands: sh bench/outbound.sh (BENCH_RUNS=%d BENCH_N=%d)" % (RUNS, N))
    finally:
        m.stop()


if __name__ == "__main__":
    main()
