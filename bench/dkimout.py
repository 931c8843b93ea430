#!/usr/bin/env python3
"""Outbound delivery with DKIM signing on against off (docs/dkim.md "Cost").

Signing happens before the queue (queue-inject asks dkim-sign on run/dkim.sock), so remote
sends the same bytes plus one DKIM-Signature field: this measures what that costs outbound.
Each run fills the queue with N messages submitted on 587 with SMTP AUTH (10 clients) while
queue-run is down, all to one remote domain routed to Postfix's smtp-sink: from
bench@example.test (the domain has a key: every queued message is signed, checked in
queue/mess/) or from bench@nokey.test (a domain without a key: none is). Then s6-svc -u
starts queue-run and the clock runs until queue/mess/ is empty, every message delivered to the
sink and removed (smtp-sink -M, as bench/outbound.py uses, stops at N received and may leave the
last message unacknowledged, to be retried into the next run). Printed per size (1 KB, 100 KB) and kind: msg/s and CPU ms per message of
remote (its processes and their children) and queue-run, signed and unsigned runs alternating,
medians of RUNS, and the signed/unsigned ratio of each run pair (the machine is shared: the
same-run ratios are the figure to quote).
usage: bench/dkimout.py [RUNS] [N]     (defaults 3 and 300)
"""
import importlib.util
import os
import shutil
import smtplib
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from harness import MailRoot, free_port, have  # noqa: E402


def _load(name, file):
    """A bench module by path (bench/dkim.py would shadow python3-dkim's "dkim")."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, file))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


bd = _load("bench_dkim", "dkim.py")          # message(), unlimit()
bo = _load("bench_outbound", "outbound.py")  # cpu_s()

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
N = int(sys.argv[2]) if len(sys.argv) > 2 else 300
PW = "bench-pw-1"
CLIENTS = 10
SENDERS = {"signed": "bench@example.test", "unsigned": "bench@nokey.test"}


def fill(m, sender, size):
    """N messages from sender submitted on 587 (AUTH, CLIENTS sessions) with queue-run down;
    returns how many of the queued messages carry a DKIM-Signature."""
    msg = bd.message(size, sender.split("@")[1], eol="\r\n")
    errors = []

    def worker(k):
        try:
            s = smtplib.SMTP("127.0.0.1", m.port("submission"), timeout=120)
            s.login(sender, PW)
            for i in range(k, N, CLIENTS):
                s.sendmail(sender, ["r%d@out.bench.test" % i], msg)
            s.quit()
        except (OSError, smtplib.SMTPException) as e:
            errors.append(e)
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit("submission failed: %r" % errors[0])
    mess = os.path.join(m.root, "queue", "mess")
    queued = signed = 0
    for name in os.listdir(mess):
        with open(os.path.join(mess, name), "rb") as f:
            head = f.read(16384)
        if b"\nF%s\n" % sender.encode() not in head.split(b"\n\n", 1)[0] + b"\n":
            sys.exit("dkimout: another message in the queue: %s %r"
                     % (name, head.split(b"\n\n", 1)[0]))
        queued += 1
        signed += b"\nDKIM-Signature:" in head
    if queued != N:
        sys.exit("%d messages queued, not %d" % (queued, N))
    return signed


def one_run(m, kind, size):
    """Fill the queue, then the clock runs from s6-svc -u until queue/mess/ is empty (every
    message delivered to the sink and removed)."""
    svc = os.path.join(m.root, "service", "queue")
    mess = os.path.join(m.root, "queue", "mess")
    subprocess.run(["s6-svc", "-wD", "-T", "20000", "-d", svc], check=True)
    signed = fill(m, SENDERS[kind], size)
    if signed != (N if kind == "signed" else 0):
        sys.exit("%s run: %d of %d queued messages signed" % (kind, signed, N))
    remote = m.pids("remote")
    c0 = bo.cpu_s(remote)
    t0 = time.time()
    subprocess.run(["s6-svc", "-u", svc], check=True)
    queue = m.wait_for(lambda: m.pids("queue"), 10) or []
    if not m.wait_for(lambda: not os.listdir(mess), 600, 0.005):
        sys.exit("%s run: the queue did not empty" % kind)
    dt = time.time() - t0
    return N / dt, (bo.cpu_s(remote) - c0) * 1000 / N, bo.cpu_s(queue) * 1000 / N


def main():
    if not have("queue-run") or not shutil.which("smtp-sink"):
        print("dkimout bench: needs bin/queue-run and Postfix's smtp-sink (apt install postfix)")
        return
    port = free_port()
    # RATE_BURST=0: no "sending burst" alert to the operator queued among the bench's messages
    m = MailRoot(prefix="yubin-bench-dkimout-", env={"RATE_BURST": "0"})
    sink = subprocess.Popen(["smtp-sink", "-u", "nobody", "127.0.0.1:%d" % port, "256"])
    m.start()
    try:
        m.mailacct("domain", "add", "nokey.test", "--plan", "basic")
        shutil.rmtree(os.path.join(m.root, "dkim", "nokey.test"))
        for addr in SENDERS.values():
            m.add_user(addr, PW)
            bd.unlimit(m, addr)
        with open(os.path.join(m.root, "etc", "routes"), "a") as f:
            f.write("out.bench.test:127.0.0.1:%d\n" % port)
        subprocess.run([m.bin("mkmaps"), "--root", m.root, "--quiet"], check=True,
                       env=m.env())
        # what setting up queued (the new accounts' welcome) is delivered first
        if not m.wait_for(lambda: not os.listdir(os.path.join(m.root, "queue", "mess")), 60):
            sys.exit("the queue did not empty after setup")
        print("dkimout: N=%d per run, %d runs per case, signed and unsigned alternating; "
              "%d CPUs; load %.1f" % (N, RUNS, os.cpu_count(), os.getloadavg()[0]))
        print("cmd: %d smtplib clients, AUTH PLAIN on 587, from bench@example.test (key) or "
              "bench@nokey.test (none), queue-run down (s6-svc -d); then smtp-sink -u nobody "
              "127.0.0.1:PORT 256, s6-svc -u ROOT/service/queue, the clock stops when queue/mess/ is empty"
              % CLIENTS)
        for size in (1024, 102400):
            runs = {"signed": [], "unsigned": []}
            for r in range(RUNS):
                order = ("signed", "unsigned") if r % 2 == 0 else ("unsigned", "signed")
                for kind in order:
                    runs[kind].append(one_run(m, kind, size))
            for kind, v in runs.items():
                print("outbound %3d KB %-8s: %.1f msg/s (runs: %s); CPU ms/msg remote %.2f "
                      "(runs: %s), queue-run %.2f" %
                      (size // 1024, kind, statistics.median(x[0] for x in v),
                       " ".join("%.1f" % x[0] for x in v), statistics.median(x[1] for x in v),
                       " ".join("%.2f" % x[1] for x in v), statistics.median(x[2] for x in v)))
            rate = [s[0] / u[0] for s, u in zip(runs["signed"], runs["unsigned"])]
            cpu = [s[1] / u[1] for s, u in zip(runs["signed"], runs["unsigned"]) if u[1] > 0]
            print("outbound %3d KB signed/unsigned, same run: msg/s %s (median %.2f); remote "
                  "CPU %s (median %.2f)" %
                  (size // 1024, " ".join("%.2f" % x for x in rate), statistics.median(rate),
                   " ".join("%.2f" % x for x in cpu), statistics.median(cpu) if cpu else 0))
        print("commands: sh bench/dkimout.sh (BENCH_RUNS=%d BENCH_N=%d)" % (RUNS, N))
    finally:
        m.stop()
        sink.terminate()
        sink.wait(timeout=30)


if __name__ == "__main__":
    main()
