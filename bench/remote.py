#!/usr/bin/env python3
"""Outbound delivery rate: messages per second from the queue to a local SMTP sink.

For each case (1 KB and 100 KB messages; 1 and 10 destination domains, each routed to the
sink by etc/routes) N messages are injected with queue-inject (as yubin-q) into a private
mail root whose services run under s6 (tests/integration/harness.py), and the clock runs
until the sink has accepted them all. Without bin/queue-run (not built yet) the figure is
bin/remote alone: N runs of remote, one after the other, on the same messages.

usage: bench/remote.py [RUNS] [N]     (defaults 3 and 500; prints medians and the commands)
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from harness import BIN, IS_ROOT, MailRoot, have  # noqa: E402
from smtpsink import Sink  # noqa: E402
import test_remote as tr  # noqa: E402

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
N = int(sys.argv[2]) if len(sys.argv) > 2 else 500


def message(size):
    head = b"From: bench@example.test\nSubject: bench\n\n"
    line = b"x" * 76 + b"\n"
    body = line * max(1, (size - len(head)) // len(line))
    return head + body


def setup_routes(m, port, ndom):
    with open(os.path.join(m.root, "etc", "routes"), "a") as f:
        for d in range(10):
            f.write("dom%d.bench.test:127.0.0.1:%d\n" % (d, port))
    subprocess.run([os.path.join(m.root, "bin", "mkmaps"), "--root", m.root], check=True,
                   capture_output=True, env=m.env())


def through_queue(m, sink, size, ndom):
    """queue-run is stopped while N messages are injected, then started: the clock measures
    the queue's outbound work only (scan, fork/exec remote, SMTP, state lines)."""
    msg = message(size)
    svc = os.path.join(m.root, "service", "queue")
    subprocess.run(["s6-svc", "-wD", "-T", "20000", "-d", svc], check=True)
    start = sink.count
    for i in range(N):
        tr.inject(m, "bench@example.test", ["r%d@dom%d.bench.test" % (i, i % ndom)], msg)
    t0 = time.time()
    subprocess.run(["s6-svc", "-u", svc], check=True)
    deadline = time.time() + 600
    while sink.count - start < N and time.time() < deadline:
        time.sleep(0.005)
    return (sink.count - start) / (time.time() - t0)


def remote_alone(m, size, ndom):
    msg = message(size)
    with tempfile.TemporaryFile() as f:
        f.write(msg)
        t0 = time.time()
        for i in range(N):
            f.seek(0)
            argv = [m.bin("remote"), "dom%d.bench.test" % (i % ndom), "bench@example.test",
                    "r%d@dom%d.bench.test" % (i, i % ndom)]
            if IS_ROOT:
                argv = ["s6-setuidgid", tr.Q_USER] + argv
            subprocess.run(argv, stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env=dict(m.env(), YUBIN_ME="bench.example.test"), check=True)
        return N / (time.time() - t0)


def main():
    queue = have("queue-run")
    sink = Sink().start()
    if queue:
        m = MailRoot(prefix="yubin-bench-remote-")
        m.start()
        how = ("through the queue: N messages queued while queue-run is down (s6-svc -d), "
               "then s6-svc -u and the clock runs until the sink has all N")
    else:
        tr.need_queue_user()
        m = tr.LightRoot()
        how = "bin/remote alone (no bin/queue-run yet): N sequential runs"
    try:
        setup_routes(m, sink.port, 10)
        print("remote bench: %s; N=%d, runs=%d, sink=python %s 127.0.0.1:%d" %
              (how, N, RUNS, os.path.join("tests", "integration", "smtpsink.py"), sink.port))
        for size in (1024, 102400):
            for ndom in (1, 10):
                rates = []
                for _ in range(RUNS):
                    if queue:
                        rates.append(through_queue(m, sink, size, ndom))
                    else:
                        rates.append(remote_alone(m, size, ndom))
                print("remote: size=%dKB domains=%d msgs/s median=%.1f (runs: %s)" %
                      (size // 1024, ndom, statistics.median(rates),
                       " ".join("%.1f" % r for r in rates)))
        how_one = ("s6-setuidgid yubin-q queue-inject < msg (envelope on fd 1)" if queue else
                   "s6-setuidgid yubin-q %s/remote domK.bench.test bench@example.test "
                   "rN@domK.bench.test < msg" % BIN)
        print("commands: sh bench/remote.sh (BENCH_RUNS=%d BENCH_N=%d); routes "
              "'domK.bench.test:127.0.0.1:%d' in etc/routes + mkmaps; %s"
              % (RUNS, N, sink.port, how_one))
    finally:
        if queue:
            m.stop()
        else:
            m.remove()
        sink.stop()


if __name__ == "__main__":
    main()
