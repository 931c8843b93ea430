"""Fleet test parts shared by the fleet tests (docs/fleet.md): a real 3-member etcd cluster on
loopback high ports with TLS and authentication (members killed by pid), and FleetNode, a mail
root set up with yubin-setup --fleet. Each node gets free ports for the internal node-to-node
services too (YUBIN_PORT_FLEET_SMTP, YUBIN_PORT_FLEET_POP3)."""
import atexit
import base64
import json
import os
import poplib
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, MailRoot, free_port  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ETCD = shutil.which("etcd")
ETCDCTL = shutil.which("etcdctl")


def commit_shim(folder, before):
    """An etcdctl in folder (put it first on PATH) that runs the shell command before ahead of
    each transaction that writes the directory (a change's commit: it puts /yubin/dir/serial)
    and passes every other call, mailacct's reads (transactions too) included, straight on."""
    path = os.path.join(folder, "etcdctl")
    with open(path, "w") as f:
        f.write('#!/bin/sh\ncase " $* " in *" txn "*)\n'
                '  in=$(cat; echo .); in=${in%.}\n'
                '  case "$in" in *"put /yubin/dir/serial"*) ' + before + ' ;; esac\n'
                '  printf %s "$in" | ' + ETCDCTL + ' "$@"; exit ;;\nesac\n'
                'exec ' + ETCDCTL + ' "$@"\n')
    os.chmod(path, 0o755)


class Etcd:
    """A 3-member cluster with its own CA (yubin-fleet), client and peer TLS, auth on; quota:
    each member's --quota-backend-bytes (etcd's default of 2 GB when None)."""

    def __init__(self, quota=None):
        self.quota = quota
        self.dir = tempfile.mkdtemp(prefix="yubin-etcd-")
        self.pki = os.path.join(self.dir, "pki")
        self.names = ["e1", "e2", "e3"]
        self.client = {n: free_port() for n in self.names}
        self.peer = {n: free_port() for n in self.names}
        self.procs = {}
        self.endpoints = ",".join("https://127.0.0.1:%d" % self.client[n] for n in self.names)

    def fleet(self, *args):
        subprocess.run([os.path.join(BIN, "yubin-fleet")] + list(args), check=True,
                       capture_output=True, text=True)

    def start(self):
        atexit.register(self.stop)      # also when a run is interrupted before tearDown
        self.fleet("ca", self.pki)
        for n in self.names:
            self.fleet("cert", self.pki, n, "etcd-peer", "127.0.0.1")
        self.fleet("cert", self.pki, "root", "root")
        self.fleet("cert", self.pki, "operator", "yubin-operator")
        for n in self.names:
            self.start_member(n)
        self.fleet("init", self.pki, self.endpoints)

    def start_member(self, n):
        cluster = ",".join("%s=https://127.0.0.1:%d" % (m, self.peer[m]) for m in self.names)
        key, cert, ca = (os.path.join(self.pki, n + ".key"), os.path.join(self.pki, n + ".pem"),
                         os.path.join(self.pki, "ca.pem"))
        log = open(os.path.join(self.dir, n + ".log"), "a")
        self.procs[n] = subprocess.Popen([
            ETCD, "--name", n, "--data-dir", os.path.join(self.dir, n),
            "--listen-client-urls", "https://127.0.0.1:%d" % self.client[n],
            "--advertise-client-urls", "https://127.0.0.1:%d" % self.client[n],
            "--listen-peer-urls", "https://127.0.0.1:%d" % self.peer[n],
            "--initial-advertise-peer-urls", "https://127.0.0.1:%d" % self.peer[n],
            "--initial-cluster", cluster, "--initial-cluster-state", "new",
            "--initial-cluster-token", os.path.basename(self.dir),
            "--cert-file", cert, "--key-file", key, "--client-cert-auth",
            "--trusted-ca-file", ca, "--peer-cert-file", cert, "--peer-key-file", key,
            "--peer-client-cert-auth", "--peer-trusted-ca-file", ca,
            "--peer-cert-allowed-cn", "etcd-peer",
            "--heartbeat-interval", "50", "--election-timeout", "500"]
            + (["--quota-backend-bytes", str(self.quota)] if self.quota else []),
            stdout=log, stderr=log)

    def kill(self, n):
        p = self.procs.pop(n)
        p.send_signal(signal.SIGKILL)
        p.wait()

    def stop(self):
        for n in list(self.procs):
            self.kill(n)
        shutil.rmtree(self.dir, ignore_errors=True)

    def ctl(self, *args, cert=None, check=True, input=None):
        """etcdctl with the operator's certificate, or cert=PATH (without .pem/.key); input:
        its standard input (a put's value when ARGS give none)."""
        cert = cert or os.path.join(self.pki, "operator")
        return subprocess.run(
            [ETCDCTL, "--endpoints=" + self.endpoints,
             "--cacert=" + os.path.join(self.pki, "ca.pem"),
             "--cert=" + cert + ".pem", "--key=" + cert + ".key",
             "--dial-timeout=2s", "--command-timeout=5s"] + list(args),
            env=dict(os.environ, ETCDCTL_API="3"), capture_output=True, text=True, check=check,
            input=input)

    def get(self, key):
        out = json.loads(self.ctl("get", key, "-w", "json").stdout)
        kvs = out.get("kvs") or []
        return base64.b64decode(kvs[0]["value"]).decode() if kvs else None

    def leader(self):
        out = json.loads(self.ctl("endpoint", "status", "-w", "json").stdout)
        for st in out:
            if st["Status"]["leader"] == st["Status"]["header"]["member_id"]:
                port = int(st["Endpoint"].rsplit(":", 1)[1])
                return [n for n in self.names if self.client[n] == port][0]
        return None


class FleetNode(MailRoot):
    """A mail root set up with yubin-setup --fleet (no accounts of its own)."""

    def __init__(self, name, etcd, env=None):
        super().__init__(env=env, prefix="yubin-fleet-%s-" % name)
        self.name = name
        self.etcd = etcd
        self.ports["fleet_smtp"] = free_port()
        self.ports["fleet_pop3"] = free_port()

    def setup(self):
        env = dict(os.environ)
        env.update({"YUBIN_LISTEN": "127.0.0.1", "YUBIN_ME": "mail-%s.example.test" % self.name})
        for n, port in self.ports.items():     # every listener its own port (web too)
            env["YUBIN_PORT_" + n.upper()] = str(port)
        with open(os.path.join(self.root, ".setup.log"), "w") as log:
            subprocess.run([os.path.join(BIN, "yubin-setup"), "--bin", BIN, "--share",
                            TOP, "--fleet", self.name,
                            "--etcd", self.etcd.endpoints, "--fleet-ca", self.etcd.pki,
                            self.root], env=env, stdout=log, stderr=subprocess.STDOUT,
                           check=True)
        for k, v in self.extra_env.items():
            self.set_env(k, v)
        self.etcd.fleet("node", self.etcd.pki, self.etcd.endpoints, self.name)

    def revision(self):
        try:
            with open(os.path.join(self.root, "cdb", "revision")) as f:
                return int(f.read())
        except (OSError, ValueError):
            return 0

    def edit_fleet_conf(self, test):
        """etc/fleet's text, put back as it was when test ends; write_fleet_conf(text)
        replaces it meanwhile."""
        path = os.path.join(self.root, "etc", "fleet")
        with open(path) as f:
            orig = f.read()
        test.addCleanup(self.write_fleet_conf, orig)
        return orig

    def write_fleet_conf(self, text):
        with open(os.path.join(self.root, "etc", "fleet"), "w") as f:
            f.write(text)

    def pop_login(self, addr, pw):
        p = poplib.POP3("127.0.0.1", self.port("pop3"), timeout=10)
        try:
            p.user(addr)
            p.pass_(pw)
            return p.stat()
        finally:
            try:
                p.quit()
            except Exception:
                pass


class FleetCase(unittest.TestCase):
    """A fleet started once per test class: the etcd cluster (its members' quota `etcd_quota`
    when set) and the nodes `names`, each with the settings `node_env` in its etc/env, all
    ready; then the class's `prepare()`. Everything is stopped (by pid) after the class, or at
    once when the set-up fails."""
    names = ("a", "b", "c")
    node_env = None
    etcd_quota = None       # each member's --quota-backend-bytes: etcd's default when None

    @classmethod
    def setUpClass(cls):
        cls.etcd = Etcd(quota=cls.etcd_quota)
        cls.nodes = []
        try:
            cls.etcd.start()
            cls.nodes = [FleetNode(n, cls.etcd, env=cls.node_env) for n in cls.names]
            for node in cls.nodes:
                node.start(wait=False)
            for node in cls.nodes:
                node.wait_ready(60)
            cls.prepare()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def prepare(cls):
        """The class's own set-up, with the fleet up."""

    @classmethod
    def import_with_nodes(cls):
        """The first node's maps into etcd (mailacct import), then a record for every node
        (its internal SMTP and POP3 ports), as an operator sets up a fleet."""
        a = cls.nodes[0]
        r = a.mailacct("import", check=False)
        assert r.returncode == 0, (r.stdout, r.stderr)
        for node in cls.nodes:
            a.mailacct("node", "add", node.name, "127.0.0.1", str(node.port("fleet_smtp")),
                       str(node.port("fleet_pop3")))

    @classmethod
    def tearDownClass(cls):
        for node in cls.nodes:
            node.stop()
        cls.etcd.stop()
