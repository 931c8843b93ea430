#!/usr/bin/env python3
"""Inbound verification cost (docs/inbound.md "Cost").

bin/authcheck (the code smtpd runs at the end of DATA on port 25: lib/authres) on a 1 KB
message signed rsa-sha256 (2048-bit key) by python3-dkim, its SPF, DKIM key and DMARC
records served by dnsmasq on loopback: CPU per message (user + sys of the child: its start,
3 DNS lookups (SPF TXT, key TXT, _dmarc TXT), the body and header
hashes, the RSA verification); the same with the From address in a subdomain that has no
DMARC record (a 4th lookup, and the Public Suffix List for the organizational domain: from
ROOT/cdb/psl.cdb as smtpd finds it, and again from the list file, as without psl.cdb); and
spfcheck alone (start + one lookup); the
difference is what DKIM and DMARC add. Medians of RUNS runs of N messages each.
usage: bench/inbound.py [RUNS]     (default 3)
"""
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from dnsharness import Dns  # noqa: E402

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
N = 200
BIN = os.environ.get("YUBIN_BIN", os.path.join(HERE, "..", "bin"))
SIGN = r"""
import sys, dkim
msg = sys.stdin.buffer.read()
sys.stdout.buffer.write(dkim.sign(msg, b"sel1", b"good.test", open(sys.argv[1], "rb").read(),
                                  include_headers=[b"from", b"to", b"subject", b"date"]) + msg)
"""


def cpu_of(argv, data, env):
    """(CPU seconds, wall seconds) per run of argv over N runs."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    for _ in range(N):
        p = subprocess.run(argv, input=data, env=env, capture_output=True)
        if p.returncode != 0:
            raise SystemExit("%s failed: %s" % (argv[0], p.stderr.decode()))
    wall = time.monotonic() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu / N, wall / N, p.stdout.decode()


def main():
    tmp = tempfile.mkdtemp(prefix="yubin-bench-inbound-")
    key = os.path.join(tmp, "k.pem")
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", key, "2048"], check=True,
                   capture_output=True)
    pub = subprocess.run(["openssl", "rsa", "-in", key, "-pubout"], check=True,
                         capture_output=True, text=True).stdout
    p = "".join(l for l in pub.splitlines() if "-----" not in l)
    rec = ["v=DKIM1; k=rsa; p=" + p[:180]] + [p[i:i + 200] for i in range(180, len(p), 200)]
    dns = Dns("--txt-record=good.test,v=spf1 ip4:127.0.0.1 -all",
              "--txt-record=sel1._domainkey.good.test,%s" % ",".join(rec),
              "--txt-record=_dmarc.good.test,v=DMARC1; p=reject")
    try:
        head = ("From: Taro <taro@good.test>\nTo: hanako@example.test\nSubject: bench\n"
                "Date: Thu, 3 Dec 2026 06:00:00 +0000\nMessage-ID: <bench@good.test>\n\n")
        line = "0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\n"
        msg = (head + line * ((1024 - len(head)) // len(line))).encode()
        signed = subprocess.run(["/usr/bin/python3", "-c", SIGN, key], input=msg,
                                capture_output=True, check=True).stdout
        sub = subprocess.run(["/usr/bin/python3", "-c", SIGN, key],
                             input=msg.replace(b"taro@good.test", b"taro@news.good.test"),
                             capture_output=True, check=True).stdout
        # a root with cdb/psl.cdb (mkmaps compiles it), and one without (the list file is read)
        withcdb, without = os.path.join(tmp, "root"), os.path.join(tmp, "bare")
        for d in (os.path.join(withcdb, "etc"), without):
            os.makedirs(d)
        os.chmod(tmp, 0o755)    # authcheck reads as yubin-smtpd when run as root
        subprocess.run([os.path.join(BIN, "mkmaps"), "--root", withcdb, "--quiet"], check=True)
        if not os.path.exists(os.path.join(withcdb, "cdb", "psl.cdb")):
            raise SystemExit("mkmaps wrote no cdb/psl.cdb (no publicsuffix package?)")
        env = dict(os.environ, YUBIN_ROOT=withcdb, **dns.env())
        env_file = dict(env, YUBIN_ROOT=without)
        full, spf, org, orgfile = [], [], [], []
        for _ in range(RUNS):
            c, w, out = cpu_of([os.path.join(BIN, "authcheck"), "127.0.0.1", "a@good.test",
                                "mx.good.test", "mx.example.test"], signed, env)
            if "dkim=pass" not in out or "dmarc=pass" not in out or "spf=pass" not in out:
                raise SystemExit("unexpected result: " + out)
            full.append((c, w))
            c, w, out = cpu_of([os.path.join(BIN, "authcheck"), "127.0.0.1", "a@good.test",
                                "mx.good.test", "mx.example.test"], sub, env)
            if "dmarc=pass" not in out:
                raise SystemExit("unexpected result: " + out)
            org.append((c, w))
            c, w, out = cpu_of([os.path.join(BIN, "authcheck"), "127.0.0.1", "a@good.test",
                                "mx.good.test", "mx.example.test"], sub, env_file)
            if "dmarc=pass" not in out:
                raise SystemExit("unexpected result: " + out)
            orgfile.append((c, w))
            c, w, out = cpu_of([os.path.join(BIN, "spfcheck"), "127.0.0.1", "a@good.test",
                                "mx.good.test"], b"", env)
            spf.append((c, w))
        fc = statistics.median(c for c, _ in full) * 1000
        fw = statistics.median(w for _, w in full) * 1000
        sc = statistics.median(c for c, _ in spf) * 1000
        sw = statistics.median(w for _, w in spf) * 1000
        print("inbound: %d B signed message, SPF+DKIM+DMARC (authcheck): CPU %.2f ms/msg, "
              "wall %.2f ms/msg" % (len(signed), fc, fw))
        for what, runs in (("from cdb/psl.cdb", org), ("the list file read", orgfile)):
            print("inbound: the same From a subdomain without a DMARC record (the Public "
                  "Suffix List %s): CPU %.2f ms/msg, wall %.2f ms/msg"
                  % (what, statistics.median(c for c, _ in runs) * 1000,
                     statistics.median(w for _, w in runs) * 1000))
        print("inbound: SPF alone (spfcheck): CPU %.2f ms/msg, wall %.2f ms/msg" % (sc, sw))
        print("inbound: DKIM + DMARC add %.2f ms CPU per message (median of %d runs of %d)"
              % (fc - sc, RUNS, N))
    finally:
        dns.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
