"""A real DNS server for the tests: dnsmasq on 127.0.0.1:PORT, authoritative for *.test
(unknown names answered NXDOMAIN, names outside .test REFUSED), records given as dnsmasq
options (--mx-host, --host-record, --txt-record, --ptr-record, --cname ...)."""
import atexit
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
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


class ScriptedDns:
    """A UDP DNS server on 127.0.0.1:PORT that answers after `delay` seconds and writes down
    when each question came and each reply went ("ask NAME" / "reply NAME", in order). The
    answers: TXT records from `txt` (name -> its records, each a string or a list of the
    strings of one record), NXDOMAIN for other names; a name
    in `servfail_first` gets SERVFAIL the first time it is asked. Names are compared lower
    case; every question is taken to be TXT, and answered with its own question."""

    def __init__(self, txt=None, servfail_first=(), delay=0.0):
        self.txt = {k.lower(): v for k, v in (txt or {}).items()}
        self.servfail = {n.lower() for n in servfail_first}
        self.delay = delay
        self.events = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)       # the thread looks at self.running this often
        self.port = self.sock.getsockname()[1]
        self.timers = []
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()
        atexit.register(self.stop)

    def env(self):
        return {"YUBIN_RESOLVER": "127.0.0.1:%d" % self.port}

    @staticmethod
    def question(pkt):
        """(name, end of the question section) of a query."""
        i, labels = 12, []
        while pkt[i]:
            labels.append(pkt[i + 1:i + 1 + pkt[i]].decode("ascii", "replace"))
            i += 1 + pkt[i]
        return ".".join(labels).lower(), i + 5

    def reply(self, pkt, addr):
        name, qend = self.question(pkt)
        with self.lock:
            fail = name in self.servfail
            self.servfail.discard(name)
        records = [] if fail else self.txt.get(name)
        rcode = 2 if fail else 0 if records is not None else 3
        ans = b""
        for text in records or []:
            data = b"".join(bytes([len(s)]) + s.encode() for s in ([text] if isinstance(text, str)
                                                                   else text))
            ans += b"\xc0\x0c" + struct.pack(">HHIH", 16, 1, 60, len(data)) + data
        head = pkt[:2] + bytes([0x84 | (pkt[2] & 0x01), 0x80 | rcode]) + struct.pack(
            ">HHHH", 1, len(records or []), 0, 0)
        with self.lock:
            self.events.append("reply " + name)
        self.sock.sendto(head + pkt[12:qend] + ans, addr)

    def serve(self):
        while self.running:
            try:
                pkt, addr = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(pkt) < 17:
                continue
            with self.lock:
                self.events.append("ask " + self.question(pkt)[0])
            if self.delay:
                t = threading.Timer(self.delay, self.reply, (pkt, addr))
                self.timers.append(t)
                t.start()
            else:
                self.reply(pkt, addr)

    def stop(self):
        """Ends the thread and the replies still due before the socket is closed (a thread
        blocked on a closed socket's number could read the next server's questions)."""
        if not self.running:
            return
        self.running = False
        self.thread.join()
        for t in self.timers:
            t.cancel()
            t.join()
        self.sock.close()
