#!/usr/bin/env python3
"""End-to-end durable delivery rate (first connection until every message is in its Maildir),
the whole machine's CPU per message (client included), fsync calls per message on the whole
path, and the memory of one idle SMTP session.

A private mail root is started with the real service tree (tests/integration/harness.py) on
loopback ports; bench/smtpload.c is the client (one message per connection; on loopback each client connects
from its own address, 127.0.0.10 and up, as distinct hosts would).
usage: bench/smtp.py [RUNS]      (default 3; prints medians and the commands used)
"""
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from harness import MailRoot, descendants, proc_name, mem_sum  # noqa: E402
from dnsharness import Dns, HAVE_DNSMASQ  # noqa: E402

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
LOAD = "/tmp/yubin-smtpload"
RCPT = "bench@example.test"


def build_load():
    subprocess.run(["cc", "-O2", "-Wall", "-o", LOAD, os.path.join(HERE, "smtpload.c")], check=True)


def count_files(md):
    return sum(len(os.listdir(os.path.join(md, d))) for d in ("new", "cur"))


def clear(md):
    for d in ("new", "cur"):
        for n in os.listdir(os.path.join(md, d)):
            os.unlink(os.path.join(md, d, n))


def cpu_jiffies():
    """Busy and total jiffies of the whole machine (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def e2e(m, size, conc, count):
    md = m.maildir(RCPT)
    clear(md)
    cmd = [LOAD, "127.0.0.1", str(m.port("smtp")), RCPT, str(size), str(conc), str(count)]
    busy0, _ = cpu_jiffies()
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    accepted = int(r.stdout.split("accepted=")[1].split()[0]) if "accepted=" in r.stdout else 0
    if accepted < count:
        print("  (%d of %d messages not accepted: %s)" % (count - accepted, count,
                                                          r.stdout.strip() or r.stderr.strip()))
    t_acc = time.time() - t0
    deadline = time.time() + 600
    while count_files(md) < accepted and time.time() < deadline:
        time.sleep(0.01)
    t_all = time.time() - t0
    busy1, _ = cpu_jiffies()
    ms = (busy1 - busy0) * 1000.0 / os.sysconf("SC_CLK_TCK") / max(accepted, 1)
    return accepted / t_acc, count_files(md) / t_all, ms, " ".join(cmd)


def fsyncs_per_message(m, n=200):
    """strace every process of the tree (following forks) while n messages go through."""
    md = m.maildir(RCPT)
    clear(md)
    pids = descendants(m.svscan.pid)
    args = ["strace", "-f", "-qq", "-c", "-e", "trace=fsync,fdatasync,sync_file_range,syncfs",
            "-o", "/tmp/yubin-bench-strace.txt"]
    for p in pids:
        args += ["-p", str(p)]
    st = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    subprocess.run([LOAD, "127.0.0.1", str(m.port("smtp")), RCPT, "1024", "4", str(n)],
                   capture_output=True)
    deadline = time.time() + 60
    while count_files(md) < n and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    st.terminate()
    st.wait()
    calls = 0
    for line in open("/tmp/yubin-bench-strace.txt"):
        parts = line.split()
        if len(parts) >= 5 and parts[-1] in ("fsync", "fdatasync", "sync_file_range", "syncfs"):
            calls += int(parts[3])
    return calls / n


def idle_session_memory(m):
    """RSS and private memory (PSS) of every process one idle SMTP session causes."""
    import socket
    before = set(descendants(m.svscan.pid))
    s = socket.create_connection(("127.0.0.1", m.port("smtp")))
    s.recv(512)
    s.sendall(b"EHLO bench.example\r\n")
    time.sleep(0.3)
    s.recv(4096)
    new = [p for p in descendants(m.svscan.pid) if p not in before]
    mem = mem_sum(new)
    names = [proc_name(p) for p in new]
    s.close()
    return mem["rss"], mem["pss"], mem["private"], names


def main():
    build_load()
    # Port 25 checks the sender's SPF, DKIM and DMARC: a DNS server on loopback answers them
    # as the Internet would (an SPF record that passes, no DMARC record), so every message
    # pays for its lookups; without dnsmasq they fail at once (temperror) against a dead port.
    spf = "--txt-record=remote.example,v=spf1 ip4:127.0.0.0/8 -all"
    dns = Dns("--local=/remote.example/", spf) if HAVE_DNSMASQ else None
    m = MailRoot(prefix="yubin-bench-", env=dns.env() if dns else None)
    m.start()
    try:
        print("# DNS for the port-25 checks: %s"
              % ("dnsmasq on loopback (spf=pass)" if dns else "none (temperror at once)"))
        m.add_user(RCPT, "bench-pw-1", quota=0)
        print("# e2e durable delivery, medians of %d runs (1 KB / 100 KB bodies)" % RUNS)
        for size in (1024, 102400):
            for conc in (1, 10, 50):
                count = {1: 300, 10: 2000, 50: 2000}[conc] if size == 1024 else {1: 200, 10: 1000, 50: 1000}[conc]
                acc, rates, cpu = [], [], []
                for _ in range(RUNS):
                    a, r, ms, cmd = e2e(m, size, conc, count)
                    acc.append(a)
                    rates.append(r)
                    cpu.append(ms)
                print("size=%d conc=%d count=%d accept_msgs_per_s=%.0f e2e_msgs_per_s=%.0f "
                      "cpu_ms_per_msg=%.2f (runs: %s)"
                      % (size, conc, count, statistics.median(acc), statistics.median(rates),
                         statistics.median(cpu), " ".join("%.0f" % x for x in rates)))
                print("  command: %s" % cmd)
        print("fsync calls per message (whole path, 1 KB, strace -f -c): %.2f" % fsyncs_per_message(m))
        rss, pss, priv, names = idle_session_memory(m)
        print("idle SMTP session after EHLO: processes=%s rss_kb=%d pss_kb=%d private_kb=%d"
              % ("+".join(names), rss, pss, priv))
    finally:
        m.stop()
        if dns:
            dns.stop()


if __name__ == "__main__":
    main()
