"""lib/dns without YUBIN_RESOLVER, as installed systems run it: a route's host name is found in
/etc/hosts (libc's "hosts: files dns", kept when remote moved off libc's resolver), and the
servers are the nameserver lines of /etc/resolv.conf, a dead one passed over for the next
(resolv.conf is replaced only inside a private mount namespace of the program under test).
The DNS paths themselves are in test_remote.py (MX, A, AAAA against dnsmasq) and test_spf.py
(TXT, PTR, TCP after TC, forged answers, a silent server)."""
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_remote as tr  # noqa: E402
from dnsharness import HAVE_DNSMASQ, Dns  # noqa: E402
from harness import BIN, IS_ROOT  # noqa: E402


def hosts_name(ip="127.0.0.1"):
    """A name /etc/hosts gives ip, or None."""
    try:
        for line in open("/etc/hosts"):
            f = line.split("#")[0].split()
            if len(f) > 1 and f[0] == ip:
                return f[1]
    except OSError:
        pass
    return None


class RemoteHostsFile(tr.RemoteBase):
    def test_route_host_from_etc_hosts(self):
        name = hosts_name()
        if not name:
            self.skipTest("/etc/hosts gives 127.0.0.1 no name")
        s = self.sink()
        tr.add_route(self.m, "hosts.test:%s:%d" % (name, s.port))
        # YUBIN_RESOLVER empty: the system's configuration, /etc/hosts first (this passed with
        # getaddrinfo before lib/dns and must still pass: behaviour kept, not a fix)
        rc, out, err = tr.run_remote(self.m, "hosts.test", "a@example.test", ["x@hosts.test"],
                                     tr.MSG, env={"YUBIN_RESOLVER": ""})
        self.assertTrue(out and out[0].startswith("D %s [127.0.0.1] said: 250" % name),
                        (out, err))
        self.assertEqual(len(s.sessions), 1)


def free_address():
    """A 127.0.53.N whose port 53 is free (UDP and TCP), or None."""
    for _ in range(20):
        a = "127.0.53.%d" % random.randint(2, 250)
        try:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                s = socket.socket(socket.AF_INET, kind)
                s.bind((a, 53))
                s.close()
            return a
        except OSError:
            continue
    return None


@unittest.skipUnless(HAVE_DNSMASQ, "dnsmasq not installed")
@unittest.skipUnless(IS_ROOT and shutil.which("unshare"), "needs root and unshare")
class ResolvConf(unittest.TestCase):
    def test_nameservers_of_resolv_conf(self):
        addr, dead = free_address(), free_address()
        if not addr or not dead or addr == dead:
            self.skipTest("no free 127.0.53.N:53")
        dns = Dns("--txt-record=conf.test,v=spf1 ip4:192.0.2.0/24 -all", address=addr, port=53)
        self.addCleanup(dns.stop)
        d = tempfile.mkdtemp(prefix="yubin-resolv-")
        self.addCleanup(shutil.rmtree, d, True)
        conf = os.path.join(d, "resolv.conf")
        with open(conf, "w") as f:   # options and search are not ours: ignored
            f.write("# a comment\nsearch example.invalid\noptions timeout:30 attempts:5\n"
                    "nameserver %s\nnameserver %s\n" % (dead, addr))
        env = dict(os.environ)
        env.pop("YUBIN_RESOLVER", None)
        t = time.monotonic()
        p = subprocess.run(["unshare", "-m", "sh", "-c",
                            'mount --bind "$1" /etc/resolv.conf && exec "$2" 192.0.2.5 a@conf.test',
                            "sh", conf, os.path.join(BIN, "spfcheck")],
                           env=env, capture_output=True, text=True, timeout=60)
        took = time.monotonic() - t
        self.assertEqual(p.stdout.split(" ")[0], "spf=pass", (p.stdout, p.stderr))
        self.assertLess(took, 2)      # the dead server refuses at once (ICMP): no 2 s wait


if __name__ == "__main__":
    unittest.main()
