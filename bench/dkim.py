#!/usr/bin/env python3
"""DKIM signing cost (docs/dkim.md "Cost").

1. dkim-sign run by hand (as yubin-dkim when root) on a 1 KB and a 1 MB message: CPU per
   message (user + sys of the child: its start, the key read and decode, the body hash, the
   RSA-2048 signature), and the same for a domain without a key (everything but the key and
   the signature), whose difference is the signing itself.
2. Submission on 587 with SMTP AUTH, end to end (10 clients, 1 KB and 100 KB, to a local
   mailbox, until
   every message is in its Maildir): msg/s with the domain's key (signed) and with its selector
   file moved away (the signer is still asked and answers "no key": not signed), and the CPU
   per message of the dkim-sign service (its loop's children, as in production: no exec).
   The account gets msgs=0 rcpts=0 (no sending limit) for the runs. The two alternate; the
   signed/not signed ratio of each run pair is printed (the machine is shared).
usage: bench/dkim.py [RUNS]     (default 3; medians)
"""
import os
import resource
import shutil
import smtplib
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from harness import IS_ROOT, MailRoot  # noqa: E402

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
PW = "bench-pw-1"


def message(size, domain="example.test", eol="\n"):
    """LF line ends as queue-inject holds (and passes on) a message; CRLF for SMTP."""
    head = ("From: Bench <bench@%s>\nTo: bench@example.test\nSubject: dkim bench\n"
            "Date: Thu, 03 Dec 2026 12:00:00 +0900\nMessage-ID: <%d@%s>\n"
            "MIME-Version: 1.0\nContent-Type: text/plain\n\n" % (domain, time.time_ns(), domain))
    line = "0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\n"
    body = line * max(1, (size - len(head)) // len(line))
    return (head + body).replace("\n", eol).encode()


def sign_cpu(m, msg, account, n):
    """CPU ms per dkim-sign run on msg (median of RUNS batches of n)."""
    kw = {"user": "yubin-dkim", "group": "yubin-dkim"} if IS_ROOT else {}
    per = []
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        for _ in range(n):
            p = subprocess.run([m.bin("dkim-sign"), account, account], input=msg, env=m.env(),
                               capture_output=True, **kw)
            if p.returncode not in (0, 1):
                sys.exit("dkim-sign failed: %r" % p.stderr)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        per.append(cpu / n * 1000)
    return statistics.median(per)


def unlimit(m, addr):
    """No sending limit for the bench account (the plan's 200 an hour would refuse the runs):
    msgs=0,rcpts=0 in its etc/users options, as an operator sets it (docs/maps.md), then mkmaps."""
    path = os.path.join(m.root, "etc", "users")
    with open(path) as f:
        lines = f.read().splitlines()
    for i, ln in enumerate(lines):
        f = ln.split(":")
        if f[0] == addr:
            f += [""] * (4 - len(f))
            f[3] = ",".join([o for o in f[3].split(",") if o] + ["msgs=0", "rcpts=0"])
            lines[i] = ":".join(f)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    subprocess.run([m.bin("mkmaps"), "--root", m.root, "--quiet"], env=m.env(), check=True)


def server_cpu(m):
    """CPU seconds the dkim-sign service's loop has collected from its finished children (one
    per message): the signer as it runs in production, forked from a started loop."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in m.pids("dkim"):
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip() != "dkim-sign":
                    continue
        except OSError:
            continue
        total += (int(fields[13]) + int(fields[14])) / tick     # cutime, cstime
    return total


def submit_rate(m, size=1024, n=300, clients=10):
    md = os.path.join(m.maildir("bench@example.test"), "new")
    start_count = len(os.listdir(md))
    msg = message(size, eol="\r\n")
    per_client = n // clients
    errors = []

    def worker():
        try:
            s = smtplib.SMTP("127.0.0.1", m.port("submission"), timeout=60)
            s.login("bench@example.test", PW)
            for _ in range(per_client):
                s.sendmail("bench@example.test", ["bench@example.test"], msg)
            s.quit()
        except (OSError, smtplib.SMTPException) as e:
            errors.append(e)
    cpu0 = server_cpu(m)
    t0 = time.time()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit("submission failed: %r" % errors[0])
    want = start_count + per_client * clients
    deadline = time.time() + 120
    while len(os.listdir(md)) < want:
        if time.time() > deadline:
            sys.exit("only %d of %d messages delivered" % (len(os.listdir(md)) - start_count,
                                                         want - start_count))
        time.sleep(0.01)
    rate = per_client * clients / (time.time() - t0)
    return rate, (server_cpu(m) - cpu0) / (per_client * clients) * 1000


def main():
    m = MailRoot(prefix="yubin-bench-dkim-")
    try:
        m.start()
        m.add_user("bench@example.test", PW, quota="0")    # unlimited: 180 MB at 100 KB
        unlimit(m, "bench@example.test")
        m.mailacct("domain", "add", "nokey.test", "--plan", "basic")
        shutil.rmtree(os.path.join(m.root, "dkim", "nokey.test"))
        print("dkim: %d runs each (medians); %d CPUs; load %.1f" % (RUNS, os.cpu_count(),
                                                                  os.getloadavg()[0]))
        print("cmd: %s ACCOUNT SENDER < MESSAGE%s" % (m.bin("dkim-sign"),
                                                     "   (as yubin-dkim)" if IS_ROOT else ""))
        for size, n in ((1024, 100), (1048576, 10)):
            signed = sign_cpu(m, message(size), "bench@example.test", n)
            unsigned = sign_cpu(m, message(size, "nokey.test"), "bench@nokey.test", n)
            print("dkim-sign %7d octets: %.2f ms CPU/msg signed, %.2f ms without a key "
                  "(signing itself %.2f ms)" % (size, signed, unsigned, signed - unsigned))
        sel = os.path.join(m.root, "dkim", "example.test", "selector")
        for size in (1024, 102400):
            rates = {"signed": [], "not signed": []}
            cpus = {"signed": [], "not signed": []}
            for r in range(RUNS):
                for k in (("signed", "not signed") if r % 2 == 0 else ("not signed", "signed")):
                    if k == "not signed":
                        os.rename(sel, sel + ".off")
                    rate, cpu = submit_rate(m, size)
                    rates[k].append(rate)
                    cpus[k].append(cpu)
                    if k == "not signed":
                        os.rename(sel + ".off", sel)
            print("cmd: 10 smtplib clients, AUTH PLAIN on 587, 30 x %d KB each, to a local "
                  "Maildir" % (size // 1024))
            for k, v in rates.items():
                print("587 end to end, %d KB, %s: %.0f msg/s (runs: %s); dkim-sign service "
                      "%.2f ms CPU/msg" % (size // 1024, k, statistics.median(v),
                                           ", ".join("%.0f" % x for x in v),
                                           statistics.median(cpus[k])))
            ratio = [a / b for a, b in zip(rates["signed"], rates["not signed"])]
            print("587 end to end, %d KB, signed/not signed, same run: %s (median %.2f)"
                  % (size // 1024, " ".join("%.2f" % x for x in ratio), statistics.median(ratio)))
    finally:
        m.stop()


if __name__ == "__main__":
    main()
