"""Integration test harness: a real mail root under /tmp, built by bin/yubin-setup, served by a
real s6-svscan on free loopback ports. Tests talk to it with real clients.

    from harness import MailRoot, free_port
    m = MailRoot.shared()        # one tree shared by every test of this process
    m = MailRoot(); m.start()    # a private tree (destructive tests); m.stop() afterwards
"""
import atexit
import fcntl
import glob
import os
import random
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("YUBIN_BIN", os.path.join(TOP, "bin"))
IS_ROOT = os.getuid() == 0
SANITIZED = bool(os.environ.get("YUBIN_SANITIZED"))

PORT_NAMES = ("smtp", "submission", "submissions", "pop3", "pop3s", "https", "http")
SOCKETS = {"authd": "authd.sock", "inject": "inject.sock", "deliver": "deliver.sock",
           "remote": "remote.sock", "acctd": "acctd.sock",
           "pop3d": "pop3d.sock"}


_HANDED_OUT = set()


def _ephemeral_range():
    try:
        lo, hi = open("/proc/sys/net/ipv4/ip_local_port_range").read().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999


def _port_range():
    """[first, end) for free_port: 12,000 ports below the ephemeral range, and under the
    parallel runner (tests/run, YUBIN_TEST_JOBS) this process's slot's share of them: two
    modules running at once never pick the same port between a check and a daemon's bind."""
    lo, _ = _ephemeral_range()
    first = max(1024, lo - 12000)
    try:
        slot, slots = int(os.environ["YUBIN_TEST_SLOT"]), int(os.environ["YUBIN_TEST_SLOTS"])
    except (KeyError, ValueError):
        return first, lo
    if not 0 <= slot < slots:
        return first, lo
    width = (lo - first) // slots // 100 * 100
    return first + slot * width, first + (slot + 1) * width


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now, never handed out before by
    this process, and below the kernel's ephemeral range: a port from bind(0) can come back
    from a later bind(0) or become the source port of an outgoing connection (an etcd peer's,
    a readiness probe's) before the daemon binds it, and the daemon then never starts."""
    first, end = _port_range()
    rnd = random.Random(os.getpid() ^ int(time.time() * 1000))
    for _ in range(1000):
        port = rnd.randrange(first, end)
        if port in _HANDED_OUT:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError("no free port in %d..%d" % (first, end - 1))


def free_port_base(span):
    """A base port B, a multiple of 100, such that B .. B+span-1 are all free on 127.0.0.1,
    never handed out before by this process and below the ephemeral range (as free_port);
    the whole block is then handed out (a program that takes its ports from one base)."""
    first, end = _port_range()
    rnd = random.Random(os.getpid() ^ int(time.time() * 1000))
    for _ in range(200):
        base = rnd.randrange((first + 99) // 100 * 100, end - span, 100)
        block = range(base, base + span)
        if any(p in _HANDED_OUT for p in block):
            continue
        free = True
        for port in block:
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                free = False
                break
            finally:
                s.close()
        if free:
            _HANDED_OUT.update(block)
            return base
    raise RuntimeError("no block of %d free ports in %d..%d" % (span, first, end - 1))


def have(prog):
    """True if the program was built (tests of parts not built yet are skipped)."""
    return os.access(os.path.join(BIN, prog), os.X_OK)


def openssl(args, data=b"", timeout=20):
    """Run openssl s_client; returns (exit code, stdout+stderr text). With data, it waits for
    the server to close (-ign_eof), so data should end with QUIT."""
    if data:
        args = ["-ign_eof"] + args
    p = subprocess.run(["openssl", "s_client"] + args, input=data, capture_output=True,
                       timeout=timeout)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


def relay_rcpt_code(port, src, sender, rcpt, timeout=20):
    """The reply code port 25 gives a client at src for RCPT rcpt after MAIL sender: 250 when
    it may relay (a login, a POP-before-SMTP grant), 554 when not. The transaction is reset."""
    with smtplib.SMTP("127.0.0.1", port, timeout=timeout, source_address=(src, 0)) as s:
        s.ehlo("client.example")
        s.mail(sender)
        code = s.rcpt(rcpt)[0]
        s.rset()
        return code


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class MailRoot:
    _shared = None

    def __init__(self, env=None, prefix="yubin-test-", parent="/tmp"):
        """env: extra settings written into etc/env before start (name -> value);
        parent: folder to create the root in (e.g. a small tmpfs for disk-full tests).
        Unless env names another, YUBIN_RESOLVER is a loopback port nobody answers on: the
        services' DNS lookups (SPF, DKIM, DMARC on port 25, MX of a route) stay on this machine
        and fail at once (temperror, never lost mail) instead of asking /etc/resolv.conf's
        server; a test that needs answers starts dnsharness.Dns and passes its env()."""
        self.root = tempfile.mkdtemp(prefix=prefix, dir=parent)
        os.chmod(self.root, 0o755)
        self.ports = {n: free_port() for n in PORT_NAMES}
        self.extra_env = dict(env or {})
        self.extra_env.setdefault("YUBIN_RESOLVER", "127.0.0.1:%d" % free_port())
        self.svscan = None
        self.started = False

    # --- life cycle
    @classmethod
    def shared(cls):
        if cls._shared is None:
            cls._shared = MailRoot(prefix="yubin-shared-")
            cls._shared.start()
            atexit.register(cls._shared.stop)
        return cls._shared

    def setup(self):
        env = dict(os.environ)
        env.update({"YUBIN_LISTEN": "127.0.0.1",
                    "YUBIN_PORT_SMTP": str(self.ports["smtp"]),
                    "YUBIN_PORT_SUBMISSION": str(self.ports["submission"]),
                    "YUBIN_PORT_SUBMISSIONS": str(self.ports["submissions"]),
                    "YUBIN_PORT_POP3": str(self.ports["pop3"]),
                    "YUBIN_PORT_POP3S": str(self.ports["pop3s"]),
                    "YUBIN_PORT_HTTPS": str(self.ports["https"]),
                    "YUBIN_PORT_HTTP": str(self.ports["http"]),
                    "YUBIN_ME": "mail.example.test"})
        with open(os.path.join(self.root, ".setup.log"), "w") as log:
            subprocess.run([os.path.join(BIN, "yubin-setup"), "--bin", BIN,
                            "--share", TOP, self.root],
                           env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
        for k, v in self.extra_env.items():
            self.set_env(k, v)
        with open(os.path.join(self.root, "etc", "admin"), "w") as f:
            f.write("admin@example.test\n")
        if have("mailacct"):
            self.mailacct("domain", "add", "example.test", "--plan", "premium")
            self.mailacct("domain", "add", "example2.test", "--plan", "basic")
            self.mailacct("add", "admin@example.test", "--password", "admin-pw-1")

    def start(self, wait=True):
        if not self.started:
            self.setup()
            self.started = True
            # a run interrupted mid-class (Ctrl-C, or tests/run stopping a unit that hangs)
            # skips tearDownClass: its tree is stopped at exit anyway (stop: once)
            atexit.register(self.stop)
        self.svscan = subprocess.Popen(["s6-svscan", os.path.join(self.root, "service")],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       start_new_session=True)
        if wait:
            self.wait_ready()
        return self

    def services(self):
        return sorted(os.path.basename(os.path.dirname(p))
                      for p in glob.glob(os.path.join(self.root, "service", "*", "run")))

    def not_ready(self):
        """Services that s6 is asked to keep up but that have not reported readiness yet
        (s6-svstat; every service has a notification-fd). A socket file left by a stopped
        server still exists, so its presence alone says nothing."""
        out = []
        for name in self.services():
            if not self._runnable(name):
                continue
            r = subprocess.run(["s6-svstat", "-o", "wantedup,ready",
                                os.path.join(self.root, "service", name)],
                               capture_output=True, text=True)
            if r.returncode == 0 and r.stdout.split() == ["true", "false"]:
                out.append(name)
        return out

    def wait_ready(self, timeout=30):
        """Until every service s6 keeps up is ready, every listener accepts and every unix
        socket exists (for built programs)."""
        listen = self.listeners()
        deadline = time.time() + timeout
        missing = []
        while time.time() < deadline:
            missing = self.not_ready()
            missing += [n for n, port in listen.items() if not port_open(port)]
            missing += [s for s, f in SOCKETS.items()
                        if s in self.services()
                        and not os.path.exists(os.path.join(self.root, "run", f))]
            if not missing:
                return
            time.sleep(0.05)
        detail = "".join("== %s ==\n%s%s" % (s, self._svstat(s), self.log(s)[-3000:])
                         for s in sorted(set(missing)) if s in self.services())
        raise RuntimeError("services not ready after %ss: %s\n%s"
                           % (timeout, missing, detail or self.all_logs()[-4000:]))

    def _svstat(self, service):
        r = subprocess.run(["s6-svstat", os.path.join(self.root, "service", service)],
                           capture_output=True, text=True)
        return "s6-svstat: " + (r.stdout or r.stderr)

    def listeners(self):
        """service name -> port, for services whose programs exist."""
        out = {}
        try:
            lines = open(os.path.join(self.root, "etc", "listen")).read().split("\n")
        except OSError:
            return out
        for line in lines:
            parts = line.split()
            if len(parts) == 3 and self._runnable(parts[0]):
                out[parts[0]] = int(parts[2])
        return out

    def _runnable(self, service):
        """True if every ROOT/bin program named in the service's run script exists."""
        try:
            with open(os.path.join(self.root, "service", service, "run")) as f:
                run = f.read()
        except OSError:
            return False
        binroot = os.path.join(self.root, "bin") + "/"
        for word in run.replace('"', " ").split():
            if word.startswith(binroot) and not os.access(word, os.X_OK):
                return False
        return True

    def stop(self):
        if self.svscan is None:
            return
        subprocess.run(["s6-svscanctl", "-t", os.path.join(self.root, "service")],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.svscan.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.svscan.pid, signal.SIGKILL)
            self.svscan.wait()
        self.svscan = None
        self.sweep()
        if not os.environ.get("YUBIN_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)

    def sweep(self):
        """SIGKILL, by pid, every process still working in this root (its cwd or its command
        line under ROOT/): what a test that SIGKILLed s6-svscan or a supervisor orphaned."""
        inside = self.root.rstrip("/") + "/"
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) == os.getpid():
                continue
            try:
                cwd = os.readlink("/proc/%s/cwd" % d)
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if cwd.startswith(inside) or (" " + inside) in (" " + cmd):
                try:
                    os.kill(int(d), signal.SIGKILL)
                except ProcessLookupError:
                    pass

    # --- helpers for tests
    def port(self, name):
        return self.ports[name]

    def bin(self, name):
        return os.path.join(self.root, "bin", name)

    def env(self):
        e = dict(os.environ)
        e["YUBIN_ROOT"] = self.root
        return e

    def set_env(self, name, value):
        """Write ROOT/etc/env/NAME; restart the services that read it to apply."""
        with open(os.path.join(self.root, "etc", "env", name), "w") as f:
            f.write(str(value) + "\n")

    def mailacct(self, *args, check=True, input=None):
        return subprocess.run([self.bin("mailacct"), "--root", self.root] + list(args),
                              env=self.env(), capture_output=True, text=True, check=check,
                              input=input)

    def add_user(self, addr, password, quota=None):
        args = ["add", addr, "--password", password]
        if quota is not None:
            args += ["--quota", str(quota), "--force"]
        return self.mailacct(*args)

    def maildir(self, addr):
        local, domain = addr.lower().split("@", 1)
        return os.path.join(self.root, "mail", domain, local, "Maildir")

    def messages(self, addr):
        """Paths of the messages in the account's Maildir (new/ and cur/)."""
        md = self.maildir(addr)
        out = []
        for sub in ("new", "cur"):
            try:
                out += [os.path.join(md, sub, n) for n in sorted(os.listdir(os.path.join(md, sub)))]
            except FileNotFoundError:
                pass
        return out

    def new_message_with(self, addr, before, marker):
        """Whether a message file of the account that is not in before (a set of messages()'s
        paths) holds marker. By content, not by list position: messages() lists new/ before
        cur/, and a POP3 session's move to cur/ renames the older files."""
        for p in set(self.messages(addr)) - before:
            try:
                with open(p, "rb") as f:
                    if marker in f.read():
                        return True
            except FileNotFoundError:
                pass        # moved to cur/ meanwhile: the next look finds it there
        return False

    def send_mail(self, rcpt, bodies, sender="sender@remote.example", timeout=60):
        """Mail each message (bytes, LF line ends) to rcpt the way another mail server does:
        SMTP on port 25, then queue-run and deliver store it. Waits for each message to be
        stored before sending the next, so they are stored in this order (pop3d lists them
        oldest first). Returns the unique names (the part before ':') deliver gave them."""
        def names():
            return {os.path.basename(p).split(":", 1)[0] for p in self.messages(rcpt)}
        out = []
        with smtplib.SMTP("127.0.0.1", self.port("smtp"), timeout=timeout) as s:
            s.ehlo("mx.remote.example")
            for body in bodies:
                before = names()
                s.sendmail(sender, [rcpt], body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
                got = self.wait_for(lambda: names() - before, timeout)
                if len(got) != 1:
                    raise RuntimeError("message to %s not stored as one file: %r\n%s"
                                       % (rcpt, got, self.log("queue")[-2000:]))
                out.append(got.pop())
        return out

    def stored(self, rcpt, name):
        """The bytes deliver stored for the message with unique name `name` (new/ or cur/)."""
        for p in self.messages(rcpt):
            if os.path.basename(p).split(":", 1)[0] == name:
                with open(p, "rb") as f:
                    return f.read()
        raise FileNotFoundError(name)

    def sessions_from(self, ip, kind="smtpd"):
        """How many per-IP slots of ROOT/run/KIND (smtpd, or pop for POP3) the address holds:
        sessions that have not ended yet, wait_ready's probes included."""
        held = 0
        for path in glob.glob(os.path.join(self.root, "run", kind, glob.escape(ip) + ".*")):
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
            except BlockingIOError:
                held += 1
            finally:
                os.close(fd)
        return held

    def wait_sessions_gone(self, ip="127.0.0.1", kind="smtpd", timeout=10):
        """Until no session from ip holds a per-IP slot (a test of the per-IP limit starts from
        none; the probes of wait_ready and an earlier test's closed sessions end on their own,
        slower under the sanitizers)."""
        if not self.wait_for(lambda: self.sessions_from(ip, kind) == 0, timeout):
            raise RuntimeError("sessions from %s still hold %s slots after %ss"
                               % (ip, kind, timeout))

    def wait_for(self, predicate, timeout=10, interval=0.05):
        deadline = time.time() + timeout
        while True:
            v = predicate()
            if v:
                return v
            if time.time() > deadline:
                return v
            time.sleep(interval)

    def log(self, service):
        try:
            with open(os.path.join(self.root, "log", service, "current"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def all_logs(self):
        return "".join("== %s ==\n%s" % (s, self.log(s)) for s in self.services())

    def pids(self, service):
        """Pids of the processes of a service (its supervise child and that child's descendants)."""
        r = subprocess.run(["s6-svstat", "-p", os.path.join(self.root, "service", service)],
                           capture_output=True, text=True)
        try:
            top = int(r.stdout.strip())
        except ValueError:
            return []
        if top <= 0:
            return []
        return [top] + descendants(top)

    def restart(self, service, timeout=10):
        sdir = os.path.join(self.root, "service", service)
        old = self.pids(service)
        subprocess.run(["s6-svc", "-r", sdir], check=True)
        self.wait_for(lambda: self.pids(service) and self.pids(service)[:1] != old[:1], timeout)
        self.wait_ready(timeout)



class Terminal:
    """A command in a pseudo-terminal, as a user starts it from an interactive shell: SIGINT
    and SIGQUIT at their defaults (a test runner started by `cmd &` from a script inherits
    them ignored, and a ^C typed would then reach nothing), the output kept in .text."""

    def __init__(self, argv, env, cwd=TOP):
        import pty
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGQUIT, signal.SIG_DFL)
                os.chdir(cwd)
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        self.text = b""
        self.status = None

    def read_for(self, seconds, until=None):
        """Read the output for up to seconds, or until the bytes until have appeared."""
        import select
        end = time.time() + seconds
        while time.time() < end and not (until and until in self.text):
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if r:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    return
                if not data:
                    return
                self.text += data

    def type(self, data):
        os.write(self.fd, data)

    def wait(self, seconds):
        """The exit status once the command has ended within seconds, else None."""
        end = time.time() + seconds
        while time.time() < end and self.status is None:
            self.read_for(0.2)
            done, st = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.status = st
        self.read_for(0.5)
        return self.status

    def close(self, also=()):
        """Kill the command (and the pids in also) by pid if it has not ended; close the pty."""
        if self.status is None:
            for p in [self.pid] + list(also):
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            os.waitpid(self.pid, 0)
        os.close(self.fd)

    def out(self):
        return self.text.decode(errors="replace")

def descendants(pid):
    """All descendants of pid (from /proc)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(d))
        except (OSError, IndexError):
            continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def proc_mem(pid):
    """rss, pss and private memory (kB) of a process, from /proc/PID/smaps_rollup."""
    out = {"rss": 0, "pss": 0, "private": 0}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                k, _, rest = line.partition(":")
                v = rest.split()
                if not v or not v[0].isdigit():
                    continue
                if k == "Rss":
                    out["rss"] = int(v[0])
                elif k == "Pss":
                    out["pss"] = int(v[0])
                elif k in ("Private_Clean", "Private_Dirty"):
                    out["private"] += int(v[0])
    except OSError:
        pass
    return out


def mem_sum(pids):
    """Summed memory (kB) and count of the live processes among pids."""
    tot = {"rss": 0, "pss": 0, "private": 0, "procs": 0}
    for p in pids:
        m = proc_mem(p)
        if m["rss"]:
            tot["procs"] += 1
            for k in ("rss", "pss", "private"):
                tot[k] += m[k]
    return tot


def proc_uid(pid):
    """Real uid of a process; None once it has ended (a session that closed meanwhile: a
    caller that looks at every process of a service skips it)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except OSError:     # FileNotFoundError, or ESRCH once it is being reaped
        return None
    return -1


def proc_name(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def proc_ppid(pid):
    """The parent's pid, 0 once pid is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def loop_children(m, name):
    """Pids of the children of a lib/ipcserve loop named name (remote, queue-inject, deliver,
    dkim-sign) under this tree's s6-svscan: the processes that serve requests, busy or waiting
    for their next one (reused children), not the loop itself."""
    return [p for p in descendants(m.svscan.pid)
            if proc_name(p) == name and proc_name(proc_ppid(p)) == name]


def open_paths(pid):
    """What pid's fds point at (readlink of /proc/PID/fd/*) and the files it has mapped."""
    paths = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            paths.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except OSError:
            pass
    with open("/proc/%d/maps" % pid) as f:
        for ln in f:
            fields = ln.split(None, 5)      # address perms offset dev inode [path]
            if len(fields) == 6:
                paths.append(fields[5].strip())
    return paths


def as_user(user, argv, **kw):
    """Run argv as another user (through s6-setuidgid when we are root)."""
    if IS_ROOT:
        argv = ["s6-setuidgid", user] + list(argv)
    return subprocess.run(argv, **kw)


def can_open(user, path):
    """True if user can open path for reading (checked with a real process of that uid)."""
    code = "import sys\ntry:\n open(sys.argv[1],'rb').close()\nexcept OSError:\n sys.exit(1)\n"
    if os.path.isdir(path):
        code = "import os,sys\ntry:\n os.listdir(sys.argv[1])\nexcept OSError:\n sys.exit(1)\n"
    r = as_user(user, ["python3", "-c", code, path])
    return r.returncode == 0
