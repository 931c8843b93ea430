#!/usr/bin/env python3
"""queue-run's CPU per delivered message beside a backlog of deferred messages.

A private mail root under s6; BACKLOG messages for a domain routed to a closed loopback port
are queued (8 queue-inject calls at a time) and each is tried once and deferred; then N
messages for a domain routed to Postfix's smtp-sink are queued the same way while the backlog
waits, and the clock and queue-run's CPU (from /proc, children included) run until the sink
has had them all. The rate includes the injection; the figure to read is the CPU.

usage: bench/backlog.py [N] [BACKLOG,...]   (defaults 1000 and 0,5000,20000)
"""
import concurrent.futures
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ARGS, sys.argv = sys.argv[1:], sys.argv[:1]     # the modules below read sys.argv when loaded
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, HERE)
from harness import MailRoot, free_port, have  # noqa: E402
import outbound as bo  # noqa: E402  (cpu_s())
import test_remote as tr  # noqa: E402  (inject())

N = int(ARGS[0]) if ARGS else 1000
BACKLOGS = [int(x) for x in (ARGS[1] if len(ARGS) > 1 else "0,5000,20000").split(",")]
MSG = b"From: bench@example.test\nSubject: backlog bench\n\n" + b"x" * 1000 + b"\n"


def inject_all(m, domain, count):
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda i: tr.inject(m, "bench@example.test", ["r%d@%s" % (i, domain)], MSG),
                    range(count)))


def one(backlog):
    m = MailRoot(prefix="yubin-bench-backlog-")
    m.start()
    try:
        dead, port = free_port(), free_port()
        with open(os.path.join(m.root, "etc", "routes"), "a") as f:
            f.write("dead.bench.test:127.0.0.1:%d\nout.bench.test:127.0.0.1:%d\n" % (dead, port))
        subprocess.run([m.bin("mkmaps"), "--root", m.root], check=True, capture_output=True,
                       env=m.env())
        inject_all(m, "dead.bench.test", backlog)
        time.sleep(5)       # each tried once (connection refused) and deferred
        waiting = len(os.listdir(os.path.join(m.root, "queue", "mess")))
        sink = subprocess.Popen(["smtp-sink", "-u", "nobody", "-M", str(N),
                                 "127.0.0.1:%d" % port, "256"])
        time.sleep(0.3)
        queue = m.pids("queue")
        c0, t0 = bo.cpu_s(queue), time.time()
        inject_all(m, "out.bench.test", N)
        sink.wait(timeout=600)
        dt = time.time() - t0
        print("backlog: %d deferred waiting, %d messages delivered in %.1f s (%.0f msg/s, "
              "injection included); queue-run %.3f ms CPU per message"
              % (waiting, N, dt, N / dt, (bo.cpu_s(queue) - c0) * 1000 / N))
    finally:
        m.stop()


def main():
    if not have("queue-run") or not shutil.which("smtp-sink"):
        print("backlog bench: needs bin/queue-run and Postfix's smtp-sink (apt install postfix)")
        return
    for b in BACKLOGS:
        one(b)
    print("commands: sh bench/backlog.sh (BENCH_N=%d BENCH_BACKLOGS=%s)"
          % (N, ",".join(str(b) for b in BACKLOGS)))


if __name__ == "__main__":
    main()
