"""A real DNS server for the tests: dnsmasq on 127.0.0.1:PORT, authoritative for *.test
(unknown names answered NXDOMAIN, names outside .test REFUSED), records given as dnsmasq
options (--mx-host, --host-record, --txt-record, --ptr-record, --cname ...)."""
import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import free_port  # noqa: E402

HAVE_DNSMASQ = shutil.which("dnsmasq") is not None


class Dns:
    """dnsmasq on 127.0.0.1:PORT, authoritative for *.test (NXDOMAIN / NODATA answered)."""

    def __init__(self, *records, address="127.0.0.1", port=None):
        self.address = address
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="yubin-dns-")
        argv = ["dnsmasq", "-C", "/dev/null", "--no-daemon", "--port=%d" % self.port,
                "--listen-address=%s" % address, "--bind-interfaces", "--no-resolv", "--no-hosts",
                "--local=/test/", "--pid-file=%s/pid" % self.dir, "--user=root"]
        argv += list(records)
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        atexit.register(self.stop)      # also when a run is interrupted before tearDown
        deadline = time.time() + 10
        while time.time() < deadline:   # ready when it answers a query over TCP
            try:
                socket.create_connection((address, self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)

    def env(self):
        return {"YUBIN_RESOLVER": "%s:%d" % (self.address, self.port)}

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)
