#!/usr/bin/env python3
"""Where a session's CPU goes: perf samples of one process tree, per program, per session.

Runs `perf record -a` (cpu-clock at FREQ Hz, with fork/exec/exit events) while LOAD runs, then
keeps only the samples of the processes that descend from the --tree pids (the machine may be
shared: other trees' smtpd are not counted), and prints for each program (comm) the CPU
milliseconds per session, its share, and the fork and exec counts per session. --syms COMM
adds the top functions of that program (e.g. tlsd: BearSSL's RSA/EC code against the rest).

usage: bench/profile.py --tree PID [--tree PID ...] --sessions N [--freq HZ] [--syms COMM]
                        [--data FILE] -- LOAD COMMAND...
needs: perf (linux-perf), root or perf_event_paranoid <= 0 for -a.
"""
import argparse
import collections
import os
import re
import subprocess
import sys

FORK = re.compile(r"PERF_RECORD_FORK\((\d+):(\d+)\):\((\d+):(\d+)\)")
COMM = re.compile(r"PERF_RECORD_COMM( exec)?: (.*?):(\d+)/(\d+)")


def record(data, freq, load, load_pid):
    perf = subprocess.Popen(["perf", "record", "-q", "-a", "-F", str(freq), "-e", "cpu-clock",
                             "-o", data], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        child = subprocess.Popen(load)
        load_pid.append(child.pid)
        rc = child.wait()
    finally:
        perf.send_signal(2)
        perf.wait()
    return rc


def parse(data, roots, syms_for):
    out = subprocess.run(["perf", "script", "-i", data, "--show-task-events",
                          "-F", "comm,pid,tid,ip,sym,dso"],
                         capture_output=True, text=True, errors="replace").stdout
    parent = {}
    mine = set(roots)
    comm = {}
    cpu = collections.Counter()       # comm -> samples
    forks = collections.Counter()     # parent's comm -> children forked
    execs = collections.Counter()     # new comm -> execs
    syms = collections.Counter()
    for line in out.splitlines():
        m = FORK.search(line)
        if m:
            child, ptid, par = int(m.group(1)), int(m.group(2)), int(m.group(3))
            if child == ptid and child not in parent:
                parent[child] = par
                if par in mine:
                    mine.add(child)
                    forks[comm.get(par, "?")] += 1
                    comm[child] = comm.get(par, "?")
            continue
        m = COMM.search(line)
        if m:
            pid = int(m.group(3))
            if m.group(1) and pid in mine:
                execs[m.group(2)] += 1
            comm[pid] = m.group(2)
            continue
        f = line.split()
        if len(f) < 2 or "/" not in f[1] or "PERF_RECORD" in line:
            continue
        try:
            pid = int(f[1].split("/")[0])
        except ValueError:
            continue
        if pid in mine:
            name = f[0]
            cpu[name] += 1
            if name in syms_for:
                k = "[k] " if "kernel" in f[-1] else ""
                syms[(name, k + (f[3] if len(f) >= 5 else "?"))] += 1
    return cpu, forks, execs, syms


def descendants(roots):
    kids = collections.defaultdict(list)
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                st = open("/proc/%s/stat" % p).read()
                kids[int(st.rsplit(")", 1)[1].split()[1])].append(int(p))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = set(), list(roots)
    while todo:
        p = todo.pop()
        if p not in out:
            out.add(p)
            todo.extend(kids.get(p, []))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tree", type=int, action="append", required=True)
    ap.add_argument("--sessions", type=int, required=True)
    ap.add_argument("--freq", type=int, default=2000)
    ap.add_argument("--syms", action="append", default=[])
    ap.add_argument("--client", action="store_true", help="count the load command's CPU too")
    ap.add_argument("--data", default="/tmp/yubin-profile.%d.data" % os.getpid())
    ap.add_argument("load", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    load = a.load[1:] if a.load and a.load[0] == "--" else a.load
    roots = descendants(a.tree)
    load_pid = []
    rc = record(a.data, a.freq, load, load_pid)
    if a.client:
        roots |= set(load_pid)
    cpu, forks, execs, syms = parse(a.data, roots, set(a.syms))
    os.unlink(a.data)
    n = float(a.sessions)
    total = sum(cpu.values())
    ms = lambda s: s * 1000.0 / a.freq / n
    print("# %d sessions, perf cpu-clock at %d Hz, load exit %d" % (a.sessions, a.freq, rc))
    print("%-18s %10s %7s %8s %8s" % ("program", "ms/session", "share", "forks/s", "execs/s"))
    names = set(cpu) | set(forks) | set(execs)
    for name in sorted(names, key=lambda x: -cpu[x]):
        print("%-18s %10.2f %6.1f%% %8.2f %8.2f" % (name, ms(cpu[name]),
              100.0 * cpu[name] / max(total, 1), forks[name] / n, execs[name] / n))
    print("%-18s %10.2f %6.1f%% %8.2f %8.2f" % ("total", ms(total), 100.0,
          sum(forks.values()) / n, sum(execs.values()) / n))
    for want in a.syms:
        own = [(k[1], v) for k, v in syms.items() if k[0] == want]
        tot = sum(v for _, v in own)
        print("## %s: top functions (%.2f ms/session)" % (want, ms(tot)))
        for sym, v in sorted(own, key=lambda x: -x[1])[:15]:
            print("  %-40s %7.3f ms %5.1f%%" % (sym[:40], ms(v), 100.0 * v / max(tot, 1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
