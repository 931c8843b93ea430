"""remote (outbound SMTP), mailq and mailtrace, against a Python SMTP sink and a real DNS server
(dnsmasq) on loopback. remote is run by hand as yubin-remote, the uid its service runs it as
(run/remote.sock, where queue-run passes it the message); the tests through queue-run are
skipped until bin/queue-run exists."""
import atexit
import email.utils
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BIN, IS_ROOT, TOP, MailRoot, free_port, have,  # noqa: E402
                     loop_children, open_paths, proc_name)
from smtpsink import Sink  # noqa: E402
from dnsharness import HAVE_DNSMASQ, Dns  # noqa: E402

Q_USER = "yubin-q"
REMOTE_USER = "yubin-remote"
HAVE_TLS = os.path.exists(os.path.join(TOP, "tls", "tlsclient.c"))


def run_remote(m, domain, sender, rcpts, message, env=None, as_root=False, stdin=None,
               timeout=60):
    e = m.env()
    e.update({"YUBIN_ME": "out.example.test", "REMOTE_TIMEOUT": "5",
              "REMOTE_TIMEOUT_CONNECT": "5", "REMOTE_TIMEOUT_DATA": "5"})
    e.update(env or {})
    argv = [m.bin("remote"), domain, sender] + list(rcpts)
    if IS_ROOT and not as_root:
        argv = ["s6-setuidgid", REMOTE_USER] + argv
    kw = {"stdin": stdin} if stdin is not None else {"input": message}
    p = subprocess.run(argv, env=e, capture_output=True, timeout=timeout, **kw)
    return p.returncode, p.stdout.decode("utf-8", "replace").splitlines(), \
        p.stderr.decode("utf-8", "replace")


_routes_added = set()


def add_route(m, line):
    """Append a routes line and recompile the maps (bin/mkmaps)."""
    if (m.root, line) in _routes_added:
        return
    with open(os.path.join(m.root, "etc", "routes"), "a") as f:
        f.write(line + "\n")
    subprocess.run([m.bin("mkmaps"), "--root", m.root], env=m.env(), check=True,
                   capture_output=True)
    _routes_added.add((m.root, line))


def make_cert(d, name="sink.test"):
    key, crt = os.path.join(d, "sink.key"), os.path.join(d, "sink.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=" + name, "-keyout", key, "-out", crt],
                   check=True, capture_output=True)
    return crt, key


MSG = (b"From: a@example.test\nTo: x@remote.test\nSubject: dots\n\n"
       b"line one\n.hidden dot\n..two dots\n.\nlast line without newline")
WIRE = (b"From: a@example.test\r\nTo: x@remote.test\r\nSubject: dots\r\n\r\n"
        b"line one\r\n..hidden dot\r\n...two dots\r\n..\r\nlast line without newline\r\n.\r\n")


class LightRoot:
    """Just enough mail root for running remote by hand: etc/ maps compiled by bin/mkmaps,
    programs copied into bin/ (readable by yubin-q). The full service tree (MailRoot) is
    used only by the tests that go through queue-run."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="yubin-remote-")
        os.chmod(self.root, 0o755)
        for d in ("etc", "cdb", "bin"):
            os.mkdir(os.path.join(self.root, d), 0o755)
        for f in ("domains", "users", "aliases", "routes", "plans"):
            open(os.path.join(self.root, "etc", f), "w").close()
        with open(os.path.join(self.root, "etc", "me"), "w") as f:
            f.write("out.example.test\n")
        for prog in ("remote", "mkmaps", "mailq"):
            if have(prog):
                shutil.copy(os.path.join(BIN, prog), os.path.join(self.root, "bin", prog))
        subprocess.run([self.bin("mkmaps"), "--root", self.root], check=True,
                       capture_output=True)

    def bin(self, name):
        return os.path.join(self.root, "bin", name)

    def env(self):
        e = dict(os.environ)
        e["YUBIN_ROOT"] = self.root
        return e

    def remove(self):
        if not os.environ.get("YUBIN_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)


def need_queue_user():
    if IS_ROOT:
        try:
            import pwd
            pwd.getpwnam(Q_USER)
            pwd.getpwnam(REMOTE_USER)
        except KeyError:
            MailRoot.shared()   # yubin-setup creates the users


class RemoteBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not have("remote") or not have("mkmaps"):
            raise unittest.SkipTest("bin/remote or bin/mkmaps not built")
        need_queue_user()
        cls.m = LightRoot()

    @classmethod
    def tearDownClass(cls):
        cls.m.remove()

    def sink(self, **kw):
        s = Sink(**kw).start()
        self.addCleanup(s.stop)
        return s

    def route(self, domain, sink, options=""):
        add_route(self.m, "%s:127.0.0.1:%d%s" % (domain, sink.port, ":" + options if options else ""))


class RemoteRoutes(RemoteBase):
    def test_route_delivery_crlf_dotstuff_one_transaction(self):
        s = self.sink()
        self.route("route1.test", s)
        rc, out, err = run_remote(self.m, "route1.test", "a@example.test",
                                  ["x@route1.test", "y@route1.test"], MSG)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out), 2, out)
        for line in out:
            self.assertTrue(line.startswith("D "), out)
            self.assertIn("250 2.0.0 queued as sink", line)
            self.assertTrue(line.endswith("(#2.0.0)"), line)
        self.assertEqual(len(s.sessions), 1)
        ses = s.sessions[0]
        self.assertEqual(ses.rcpts, ["x@route1.test", "y@route1.test"])
        self.assertEqual(ses.data, WIRE)            # CRLF only, every leading dot doubled
        self.assertNotIn(b"\r\r", ses.data)
        self.assertEqual(ses.ehlo, b"EHLO out.example.test")
        self.assertIn(b"SIZE=%d" % (len(WIRE) - 3), ses.mail)   # exact, terminator excluded
        self.assertEqual(ses.commands[-1], b"QUIT")
        self.assertIn("delivered id=", err)
        self.assertIn("to=<x@route1.test>", err)
        self.assertIn("host=127.0.0.1", err)

    def test_message_file_positioned_after_header(self):
        """queue-run hands remote the mess/ file with the offset at the message: here the file
        the real queue-inject wrote, opened and positioned as queue-run does."""
        if not have("queue-inject"):
            self.skipTest("bin/queue-inject not built")
        s = self.sink()
        self.route("route2.test", s)
        qid = inject(self.m, "a@example.test", ["x@route2.test"], MSG)
        with open(os.path.join(self.m.root, "queue", "mess", qid), "rb") as f:
            head = f.read().index(b"\n\n") + 2          # the envelope records, blank line
            f.seek(head)
            rc, out, err = run_remote(self.m, "route2.test", "a@example.test",
                                      ["x@route2.test"], None, stdin=f)
        self.assertEqual(rc, 0, err)
        self.assertTrue(out[0].startswith("D "), out)
        self.assertEqual(s.sessions[0].data, WIRE)

    def test_pipelining_when_offered_only(self):
        s = self.sink()
        self.route("pipe.test", s)
        run_remote(self.m, "pipe.test", "a@example.test", ["x@pipe.test", "y@pipe.test"], MSG)
        chunks = dict(s.sessions[0].raw_chunks)
        mail = [c for c in chunks if c.startswith(b"MAIL")][0]
        self.assertGreater(chunks[mail], 0, "RCPTs should arrive in the same write as MAIL")
        last_rcpt = [n for c, n in s.sessions[0].raw_chunks if c.startswith(b"RCPT")][-1]
        self.assertGreater(last_rcpt, 0, "DATA should end the pipelined group (RFC 2920)")
        s2 = self.sink(caps=["SIZE 1000000"])
        self.route("nopipe.test", s2)
        rc, out, err = run_remote(self.m, "nopipe.test", "a@example.test",
                                  ["x@nopipe.test", "y@nopipe.test"], MSG)
        self.assertEqual([line[0] for line in out], ["D", "D"], err)
        self.assertTrue(all(n == 0 for _, n in s2.sessions[0].raw_chunks),
                        "without PIPELINING every command waits for its reply")

    def test_per_recipient_results_quote_the_server(self):
        s = self.sink(script={"RCPT": ["550 5.1.1 <b@perrcpt.test>: no such user here",
                                       "451 4.3.0 mailbox busy, try later",
                                       "250 2.1.5 ok"]})
        self.route("perrcpt.test", s)
        rc, out, err = run_remote(self.m, "perrcpt.test", "a@example.test",
                                  ["b@perrcpt.test", "c@perrcpt.test", "d@perrcpt.test"], MSG)
        self.assertEqual(rc, 0, err)
        self.assertTrue(out[0].startswith("F ") and "550 5.1.1 <b@perrcpt.test>: no such user "
                        "here (#5.1.1)" in out[0], out)
        self.assertTrue(out[1].startswith("Z ") and "451 4.3.0 mailbox busy" in out[1]
                        and out[1].endswith("(#4.3.0)"), out)
        self.assertTrue(out[2].startswith("D "), out)
        self.assertEqual(s.sessions[0].messages[0][1], ["d@perrcpt.test"])

    def test_552_to_rcpt_is_too_many_recipients_not_a_failure(self):
        # RFC 5321 §4.5.3.1.10: a server limiting recipients the RFC 821 way answers 552
        s = self.sink(script={"RCPT": ["250 2.1.5 ok", "552 5.5.3 too many recipients",
                                       "552 too many recipients", "552 5.2.2 mailbox full"]})
        self.route("few.test", s)
        rc, out, err = run_remote(self.m, "few.test", "a@example.test",
                                  ["b@few.test", "c@few.test", "d@few.test", "e@few.test"], MSG)
        self.assertEqual(rc, 0, err)
        self.assertTrue(out[0].startswith("D "), out)
        self.assertTrue(out[1].startswith("Z ") and "552 5.5.3 too many recipients" in out[1], out)
        self.assertTrue(out[2].startswith("Z "), out)
        self.assertTrue(out[3].startswith("F ") and "552 5.2.2 mailbox full" in out[3], out)
        self.assertEqual(s.sessions[0].messages[0][1], ["b@few.test"])

    def test_4xx_then_success(self):
        s = self.sink(script={"MAIL": ["451 4.7.1 greylisted, come back later"]})
        self.route("grey.test", s)
        rc, out, err = run_remote(self.m, "grey.test", "a@example.test", ["x@grey.test"], MSG)
        self.assertEqual(rc, 0)
        self.assertTrue(out[0].startswith("Z ") and "451 4.7.1 greylisted" in out[0], out)
        self.assertEqual(s.messages(), [])
        rc, out, err = run_remote(self.m, "grey.test", "a@example.test", ["x@grey.test"], MSG)
        self.assertTrue(out[0].startswith("D "), out)
        self.assertEqual(len(s.messages()), 1)

    def test_5xx_after_data(self):
        s = self.sink(script={"DOT": ["554 5.7.1 message refused as spam"]})
        self.route("spam.test", s)
        rc, out, err = run_remote(self.m, "spam.test", "a@example.test",
                                  ["x@spam.test", "y@spam.test"], MSG)
        self.assertEqual([line[0] for line in out], ["F", "F"])
        self.assertIn("554 5.7.1 message refused as spam (#5.7.1)", out[0])
        self.assertIn("failed id=", err)

    def test_helo_fallback(self):
        s = self.sink(script={"EHLO": ["502 5.5.1 what is EHLO"]})
        self.route("old.test", s)
        rc, out, err = run_remote(self.m, "old.test", "a@example.test", ["x@old.test"], MSG)
        self.assertTrue(out[0].startswith("D "), (out, err))
        ses = s.sessions[0]
        self.assertEqual(ses.ehlo, b"HELO out.example.test")
        self.assertEqual(ses.mail, b"MAIL FROM:<a@example.test>")   # no extensions after HELO

    def test_null_sender(self):
        s = self.sink()
        self.route("nullsender.test", s)
        rc, out, err = run_remote(self.m, "nullsender.test", "", ["x@nullsender.test"], MSG)
        self.assertTrue(out[0].startswith("D "), (out, err))
        self.assertTrue(s.sessions[0].mail.startswith(b"MAIL FROM:<> "))

    def test_size_limit_refused_early(self):
        s = self.sink(caps=["SIZE 100", "PIPELINING"])
        self.route("small.test", s)
        rc, out, err = run_remote(self.m, "small.test", "a@example.test", ["x@small.test"],
                                  b"Subject: big\n\n" + b"x" * 1000 + b"\n")
        self.assertTrue(out[0].startswith("F ") and "(#5.3.4)" in out[0], out)
        self.assertIn("limit of 100", out[0])
        self.assertFalse(any(c.startswith(b"MAIL") for c in s.sessions[0].commands))

    def test_8bitmime(self):
        body = "Subject: caf\u00e9\n\nna\u00efve\n".encode()
        s = self.sink()
        self.route("eight.test", s)
        run_remote(self.m, "eight.test", "a@example.test", ["x@eight.test"], body)
        self.assertIn(b" BODY=8BITMIME", s.sessions[0].mail)
        self.assertEqual(s.sessions[0].data, body.replace(b"\n", b"\r\n") + b".\r\n")
        s2 = self.sink(caps=["PIPELINING"])   # no 8BITMIME: sent as is (documented)
        self.route("seven.test", s2)
        rc, out, err = run_remote(self.m, "seven.test", "a@example.test", ["x@seven.test"], body)
        self.assertTrue(out[0].startswith("D "), out)
        self.assertNotIn(b"BODY=", s2.sessions[0].mail)
        s3 = self.sink()
        self.route("ascii.test", s3)
        run_remote(self.m, "ascii.test", "a@example.test", ["x@ascii.test"], MSG)
        self.assertNotIn(b"BODY=", s3.sessions[0].mail)

    def test_utf8_envelope_needs_smtputf8(self):
        rcpt = "j\u00fcrgen@utf.test"
        s = self.sink()
        self.route("utf.test", s)
        rc, out, err = run_remote(self.m, "utf.test", "a@example.test", [rcpt], MSG)
        self.assertTrue(out[0].startswith("F ") and "(#5.6.7)" in out[0], out)
        self.assertFalse(any(c.startswith(b"MAIL") for c in s.sessions[0].commands))
        s2 = self.sink(caps=["PIPELINING", "8BITMIME", "SMTPUTF8"])
        self.route("utf8ok.test", s2)
        rcpt = "j\u00fcrgen@utf8ok.test"
        rc, out, err = run_remote(self.m, "utf8ok.test", "a@example.test", [rcpt], MSG)
        self.assertTrue(out[0].startswith("D "), out)
        self.assertTrue(s2.sessions[0].mail.endswith(b" SMTPUTF8"))
        self.assertEqual(s2.sessions[0].rcpts, [rcpt])

    def test_greeting_timeout(self):
        s = self.sink(greeting=None, hang=10)
        self.route("slow.test", s)
        t = time.time()
        rc, out, err = run_remote(self.m, "slow.test", "a@example.test", ["x@slow.test"], MSG,
                                  env={"REMOTE_TIMEOUT": "1"})
        self.assertLess(time.time() - t, 8)
        self.assertTrue(out[0].startswith("Z ") and "timeout" in out[0], out)

    def test_greeting_refused(self):
        s = self.sink(greeting="554 5.3.2 not accepting mail today")
        self.route("closed.test", s)
        rc, out, err = run_remote(self.m, "closed.test", "a@example.test", ["x@closed.test"], MSG)
        self.assertTrue(out[0].startswith("Z "), out)   # another MX, or later, may work
        self.assertIn("554 5.3.2 not accepting mail today (#4.3.2)", out[0])

    def test_connection_refused(self):
        add_route(self.m, "dead.test:127.0.0.1:%d" % free_port())
        rc, out, err = run_remote(self.m, "dead.test", "a@example.test", ["x@dead.test"], MSG)
        self.assertEqual(rc, 0)
        self.assertTrue(out[0].startswith("Z ") and "Connection refused" in out[0], out)

    def test_hostile_replies(self):
        s = self.sink(script={"RCPT": ["550-5.1.1 bad\x00us\x01er\x7f\r\n550 5.1.1 " + "y" * 900,
                                       "250-" + "x" * 3000]})
        self.route("hostile.test", s)
        rc, out, err = run_remote(self.m, "hostile.test", "a@example.test",
                                  ["a@hostile.test", "b@hostile.test"], MSG)
        self.assertEqual(rc, 0, err)
        self.assertTrue(out[0].startswith("F "), out)
        self.assertIn("550 5.1.1 baduser 5.1.1 yyy", out[0])
        self.assertLessEqual(len(out[0].encode()) - 2, 512)   # the text is bounded
        self.assertTrue(out[0].endswith("(#5.1.1)"), out[0])
        self.assertTrue(out[1].startswith("Z ") and "reply line too long" in out[1], out)

    def test_sigkill_mid_transaction_claims_nothing(self):
        """Killed after the message went out but before the server's reply: no line at all,
        which queue-run reads as "temporary failure" for every recipient (retried later)."""
        s = self.sink(hang_after_data=True, hang=30)
        self.route("killed.test", s)
        e = self.m.env()
        e.update({"YUBIN_ME": "out.example.test"})
        argv = [self.m.bin("remote"), "killed.test", "a@example.test", "x@killed.test"]
        if IS_ROOT:
            argv = ["s6-setuidgid", REMOTE_USER] + argv
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=e)
        p.stdin.write(MSG)
        p.stdin.close()
        deadline = time.time() + 10
        while not any(x.data for x in s.sessions) and time.time() < deadline:
            time.sleep(0.02)
        self.assertEqual(s.sessions[0].data, WIRE)
        p.kill()   # s6-setuidgid execs remote: same pid
        self.assertEqual(p.wait(timeout=10), -signal.SIGKILL)
        self.assertEqual(p.stdout.read(), b"")
        p.stdout.close()
        p.stderr.close()

    def test_refuses_root(self):
        if not IS_ROOT:
            self.skipTest("needs root")
        rc, out, err = run_remote(self.m, "x.test", "a@example.test", ["x@x.test"], MSG,
                                  as_root=True)
        self.assertEqual(rc, 111)
        self.assertEqual(out, [])
        self.assertIn("root", err)

    def test_bad_usage(self):
        rc, out, err = run_remote(self.m, "x.test", "a@example.test", [], MSG)
        self.assertEqual(rc, 100)
        self.assertIn("usage", err)


@unittest.skipUnless(HAVE_DNSMASQ, "dnsmasq not installed")
class RemoteMx(RemoteBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dns = Dns("--mx-host=fb.test,mx1.fb.test,10", "--mx-host=fb.test,mx2.fb.test,20",
                      "--host-record=mx1.fb.test,127.0.0.2",
                      "--host-record=mx2.fb.test,127.0.0.1",
                      "--mx-host=pref.test,b.pref.test,20", "--mx-host=pref.test,a.pref.test,5",
                      "--host-record=a.pref.test,127.0.0.1",
                      "--host-record=b.pref.test,127.0.0.2",
                      "--host-record=plain.test,127.0.0.1",
                      "--mx-host=nullmx.test,.,0",
                      "--mx-host=greet.test,mx1.greet.test,10",
                      "--mx-host=greet.test,mx2.greet.test,20",
                      "--host-record=mx1.greet.test,127.0.0.2",
                      "--host-record=mx2.greet.test,127.0.0.1",
                      "--mx-host=noaddr.test,ghost.noaddr.test,10",
                      # the first MX refuses the connection, the second has no address
                      "--mx-host=half.test,mx1.half.test,10",
                      "--mx-host=half.test,ghost.half.test,20",
                      "--host-record=mx1.half.test,127.0.0.1",
                      # 17 MX records, the primary last in the answer (dnsmasq answers in
                      # the reverse of this order): more than remote keeps (16)
                      "--mx-host=many.test,a.many.test,10",
                      *["--mx-host=many.test,b%d.many.test,20" % i for i in range(16)],
                      *["--host-record=b%d.many.test,127.0.0.2" % i for i in range(16)],
                      "--host-record=a.many.test,127.0.0.1")

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()
        super().tearDownClass()

    def env(self, sink):
        e = self.dns.env()
        e["REMOTE_PORT"] = str(sink.port)
        return e

    def test_fallback_to_second_mx_when_first_refuses(self):
        s = self.sink()
        rc, out, err = run_remote(self.m, "fb.test", "a@example.test", ["x@fb.test"], MSG,
                                  env=self.env(s))
        self.assertTrue(out[0].startswith("D mx2.fb.test [127.0.0.1] said: 250"), (out, err))
        self.assertIn("host=mx1.fb.test ip=127.0.0.2", err)
        self.assertIn("Connection refused", err)
        self.assertEqual(s.sessions[0].data, WIRE)

    def test_mx_preference_order(self):
        s = self.sink()
        rc, out, err = run_remote(self.m, "pref.test", "a@example.test", ["x@pref.test"], MSG,
                                  env=self.env(s))
        self.assertTrue(out[0].startswith("D a.pref.test [127.0.0.1]"), (out, err))
        self.assertNotIn("127.0.0.2", err)   # the lower preference was never needed

    def test_long_mx_list_keeps_its_primary(self):
        """RFC 5321 §5.1: the best preference first, also when the answer has more records
        than remote keeps and lists the primary last."""
        s = self.sink()
        rc, out, err = run_remote(self.m, "many.test", "a@example.test", ["x@many.test"], MSG,
                                  env=self.env(s))
        self.assertTrue(out[0].startswith("D a.many.test [127.0.0.1]"), (out, err))
        self.assertNotIn("127.0.0.2", err)

    def test_no_mx_uses_address_record(self):
        s = self.sink()
        rc, out, err = run_remote(self.m, "plain.test", "a@example.test", ["x@plain.test"], MSG,
                                  env=self.env(s))
        self.assertTrue(out[0].startswith("D plain.test [127.0.0.1]"), (out, err))

    def test_null_mx_is_permanent(self):
        s = self.sink()
        rc, out, err = run_remote(self.m, "nullmx.test", "a@example.test", ["x@nullmx.test"],
                                  MSG, env=self.env(s))
        self.assertTrue(out[0].startswith("F ") and "(#5.1.10)" in out[0], out)
        self.assertEqual(s.sessions, [])

    def test_nxdomain_is_permanent(self):
        s = self.sink()
        rc, out, err = run_remote(self.m, "nosuch.test", "a@example.test", ["x@nosuch.test"],
                                  MSG, env=self.env(s))
        self.assertTrue(out[0].startswith("F ") and "(#5.1.2)" in out[0], out)

    def first_mx_refuses(self, **kw):
        """mx1.greet.test (127.0.0.2) is a sink made with kw; the message must reach mx2 after
        one session with mx1. remote's log."""
        s = self.sink()
        bad = Sink(host="127.0.0.2", port=s.port, **kw).start()
        self.addCleanup(bad.stop)
        rc, out, err = run_remote(self.m, "greet.test", "a@example.test", ["x@greet.test"],
                                  MSG, env=self.env(s))
        self.assertTrue(out[0].startswith("D mx2.greet.test"), (out, err))
        self.assertEqual(len(bad.sessions), 1)
        return err

    def test_greeting_refused_tries_next_mx(self):
        self.assertIn("421 4.3.2 too busy", self.first_mx_refuses(greeting="421 4.3.2 too busy"))

    def test_an_answer_outranks_a_later_mx_that_cannot_be_reached(self):
        """mx1 answers "421 too busy", mx2 refuses the connection: the deferral says what
        mx1 said (the sender's warning and mailq show it), and it is not "no server could be
        reached" (#4.4.1), which would hold the domain back as down (docs/queue.md)."""
        s = self.sink()
        port = s.port
        bad = Sink(host="127.0.0.2", port=port, greeting="421 4.3.2 too busy").start()
        self.addCleanup(bad.stop)
        s.stop()        # nothing listens on mx2 (127.0.0.1) now
        env = self.dns.env()
        env["REMOTE_PORT"] = str(port)
        rc, out, err = run_remote(self.m, "greet.test", "a@example.test", ["x@greet.test"],
                                  MSG, env=env)
        self.assertTrue(out[0].startswith("Z mx1.greet.test [127.0.0.2] said: 421"),
                        (out, err))
        self.assertNotIn("(#4.4.1)", out[0])
        self.assertIn("host=mx2.greet.test ip=127.0.0.1", err)     # mx2 was tried, and logged
        self.assertIn("Connection refused", err)
        self.assertEqual(len(bad.sessions), 1)

    def test_421_to_mail_tries_next_mx(self):
        """A server closing the channel (421, RFC 5321 §3.8) at MAIL: the next MX, now."""
        err = self.first_mx_refuses(script={"MAIL": ["421 4.3.2 shutting down, closing channel"]})
        self.assertIn("421 4.3.2 shutting down", err)

    def test_tls_required_after_our_failed_handshake_is_not_a_bounce(self):
        """A server that offers STARTTLS with a protocol we cannot speak, and then, on our
        plaintext retry, answers MAIL with 530 (TLS required): our failure, not the
        recipient's: the next MX takes the message (RFC 3207 §4)."""
        d = tempfile.mkdtemp(prefix="yubin-tls13-")
        self.addCleanup(shutil.rmtree, d, True)
        crt, key = make_cert(d, "mx1.greet.test")
        s = self.sink()
        bad = Sink(host="127.0.0.2", port=s.port, certfile=crt, keyfile=key,
                   script={"MAIL": ["530 5.7.0 Must issue a STARTTLS command first"] * 5})
        bad.tls_ctx.minimum_version = ssl.TLSVersion.TLSv1_3     # we speak TLS 1.2
        bad.start()
        self.addCleanup(bad.stop)
        rc, out, err = run_remote(self.m, "greet.test", "a@example.test", ["x@greet.test"],
                                  MSG, env=self.env(s))
        self.assertTrue(out[0].startswith("D mx2.greet.test"), (out, err))
        self.assertIn("retrying without TLS", err)
        self.assertIn("530 5.7.0", err)
        s.stop()        # only the server that wants TLS left: deferred, never bounced
        rc, out, err = run_remote(self.m, "greet.test", "a@example.test", ["x@greet.test"],
                                  MSG, env=self.env(s))
        self.assertTrue(out[0].startswith("Z "), (out, err))
        self.assertEqual(len(bad.sessions), 4, "TLS, then plaintext, twice")

    def test_no_server_reached_is_cannot_connect_also_when_the_last_has_no_address(self):
        """mx1 refuses the connection, mx2 has no address: no server was reached, and the
        deferral says "cannot connect" (#4.4.1), which holds the destination back as down
        (docs/queue.md), not the last host's "no address" (#4.4.4)."""
        s = self.sink()
        port = s.port
        s.stop()
        env = self.dns.env()
        env["REMOTE_PORT"] = str(port)
        rc, out, err = run_remote(self.m, "half.test", "a@example.test", ["x@half.test"], MSG,
                                  env=env)
        self.assertTrue(out[0].startswith("Z mx1.half.test [127.0.0.1]: cannot connect"),
                        (out, err))
        self.assertTrue(out[0].endswith("(#4.4.1)"), out)
        self.assertIn("host=ghost.half.test ip=- reason=", err)       # mx2 was tried

    def test_mx_without_address_is_temporary(self):
        s = self.sink()
        rc, out, err = run_remote(self.m, "noaddr.test", "a@example.test", ["x@noaddr.test"],
                                  MSG, env=self.env(s))
        # RFC 3463 X.4.4 "unable to route": no address to send to (X.4.3 is a failure of the
        # directory server, kept for DNS that does not answer)
        self.assertTrue(out[0].startswith("Z ") and "has no address in DNS (#4.4.4)" in out[0],
                        out)

    def test_dns_server_down_is_temporary(self):
        s = self.sink()
        env = self.env(s)
        env["YUBIN_RESOLVER"] = "127.0.0.1:%d" % free_port()
        t = time.time()
        rc, out, err = run_remote(self.m, "fb.test", "a@example.test", ["x@fb.test"], MSG,
                                  env=env)
        self.assertTrue(out[0].startswith("Z ") and "DNS" in out[0], out)
        self.assertLess(time.time() - t, 30)


@unittest.skipUnless(HAVE_TLS, "tls/tlsclient.c not written yet")
class RemoteTls(RemoteBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dir = tempfile.mkdtemp(prefix="yubin-tls-")
        cls.crt, cls.key = make_cert(cls.dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)
        super().tearDownClass()

    def test_starttls_when_offered(self):
        s = self.sink(certfile=self.crt, keyfile=self.key)
        self.route("tls1.test", s)
        rc, out, err = run_remote(self.m, "tls1.test", "a@example.test", ["x@tls1.test"], MSG)
        self.assertTrue(out[0].startswith("D "), (out, err))
        ses = s.sessions[0]
        self.assertTrue(ses.tls)
        self.assertEqual([c.split(b" ")[0] for c in ses.commands[:3]],
                         [b"EHLO", b"STARTTLS", b"EHLO"])   # EHLO again after TLS
        self.assertEqual(ses.data, WIRE)
        self.assertIn("tls id=", err)

    def test_tls_required_but_not_offered(self):
        s = self.sink()
        self.route("tlsreq.test", s, "tls=require")
        rc, out, err = run_remote(self.m, "tlsreq.test", "a@example.test", ["x@tlsreq.test"], MSG)
        self.assertTrue(out[0].startswith("Z ") and "(#4.7.4)" in out[0], out)
        self.assertFalse(any(c.startswith(b"MAIL") for c in s.sessions[0].commands))

    def test_tls_required_with_verify_rejects_self_signed(self):
        s = self.sink(certfile=self.crt, keyfile=self.key)
        self.route("tlsverify.test", s, "tls=require,verify")
        rc, out, err = run_remote(self.m, "tlsverify.test", "a@example.test",
                                  ["x@tlsverify.test"], MSG)
        self.assertTrue(out[0].startswith("Z ") and "TLS" in out[0], out)
        self.assertEqual(s.messages(), [])
        self.assertFalse(any(c.startswith(b"MAIL") for c in
                             [c for ses in s.sessions for c in ses.commands]))

    def test_tls_required_without_verify_accepts_self_signed(self):
        s = self.sink(certfile=self.crt, keyfile=self.key)
        self.route("tlsreq2.test", s, "tls=require")
        rc, out, err = run_remote(self.m, "tlsreq2.test", "a@example.test", ["x@tlsreq2.test"],
                                  MSG)
        self.assertTrue(out[0].startswith("D "), (out, err))
        self.assertTrue(s.sessions[0].tls)

    def test_failed_handshake_retries_in_plaintext(self):
        s = self.sink(certfile=self.crt, keyfile=self.key)
        import ssl
        s.tls_ctx.minimum_version = ssl.TLSVersion.TLSv1_3   # BearSSL stops at TLS 1.2
        self.route("tlsold.test", s)
        rc, out, err = run_remote(self.m, "tlsold.test", "a@example.test", ["x@tlsold.test"], MSG)
        self.assertTrue(out[0].startswith("D "), (out, err))
        self.assertIn("retrying without TLS", err)
        self.assertEqual(len(s.sessions), 2)
        self.assertFalse(s.sessions[1].tls)
        self.assertEqual(s.sessions[1].data, WIRE)


def inject(m, sender, rcpts, message):
    """Queue a message with the real queue-inject (as yubin-q); returns its id."""
    qdir = os.path.join(m.root, "queue")
    if not os.path.isdir(qdir):
        os.mkdir(qdir, 0o700)
        if IS_ROOT:
            import pwd
            pw = pwd.getpwnam(Q_USER)
            os.chown(qdir, pw.pw_uid, pw.pw_gid)
    env = m.env()
    argv = [os.path.join(BIN, "queue-inject")]
    if IS_ROOT:
        argv = ["s6-setuidgid", Q_USER] + argv
    parent, child = socket.socketpair()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=child, stderr=subprocess.DEVNULL,
                         env=env)
    child.close()
    p.stdin.write(message)
    p.stdin.close()
    env_bytes = b"F" + sender.encode() + b"\0" + b"".join(b"T" + r.encode() + b"\0" for r in rcpts) + b"\0"
    parent.sendall(env_bytes)
    parent.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        chunk = parent.recv(100)
        if not chunk:
            break
        out += chunk
    parent.close()
    assert p.wait(timeout=30) == 0, "queue-inject failed"
    return out.decode().strip()


def as_queue_user(argv):
    if IS_ROOT:
        return ["s6-setuidgid", Q_USER] + argv
    return argv


class Trigger:
    """Reads what mailq writes to queue/trigger (we hold the FIFO's reading end)."""

    def __init__(self, root):
        self.path = os.path.join(root, "queue", "trigger")
        if not os.path.exists(self.path):
            os.mkfifo(self.path, 0o600)
        self.fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)

    def read(self):
        try:
            return os.read(self.fd, 4096)
        except BlockingIOError:
            return b""

    def close(self):
        os.close(self.fd)


@unittest.skipUnless(have("mailq") and have("queue-inject"), "bin/mailq or bin/queue-inject missing")
class Mailq(unittest.TestCase):
    """mailq on a queue without a queue-run: what it lists and which files it changes."""

    def setUp(self):
        need_queue_user()
        self.m = LightRoot()
        self.addCleanup(self.m.remove)

    def mailq(self, *args, as_root=True):
        argv = [self.m.bin("mailq"), "--root", self.m.root] + list(args)
        if not as_root:
            argv = as_queue_user(argv)
        return subprocess.run(argv, capture_output=True, text=True, env=self.m.env())

    def state(self, qid):
        try:
            return open(os.path.join(self.m.root, "queue", "state", qid)).read()
        except FileNotFoundError:
            return ""

    def test_hold_release(self):
        qid = inject(self.m, "a@example.test", ["x@remote.test"], b"Subject: h\n\nbody\n")
        trig = Trigger(self.m.root)
        self.addCleanup(trig.close)
        r = self.mailq("hold", qid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.m.root, "queue", "mess", qid)))
        self.assertTrue(os.path.exists(os.path.join(self.m.root, "queue", "hold", qid)))
        self.assertRegex(self.state(qid), r"(?m)^H \d+$")
        self.assertIn("held", [x for x in self.mailq().stdout.splitlines() if x.startswith(qid)][0])
        self.assertEqual(self.mailq("hold", qid).returncode, 100)
        self.assertEqual(self.mailq("retry", qid).returncode, 100)
        r = self.mailq("release", qid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.m.root, "queue", "mess", qid)))
        self.assertEqual(trig.read(), b"R" + qid.encode() + b"\n")
        self.assertEqual(self.mailq("release", qid).returncode, 100)

    def test_flush_retry_and_unknown_ids(self):
        qid = inject(self.m, "a@example.test", ["x@remote.test"], b"S: 1\n\nb\n")
        trig = Trigger(self.m.root)
        self.addCleanup(trig.close)
        self.assertEqual(self.mailq("flush").returncode, 0)
        self.assertEqual(self.mailq("retry", qid, as_root=False).returncode, 0)
        self.assertEqual(trig.read(), b"F\nF" + qid.encode() + b"\n")     # F<ID>: retry one
        for cmd in ("retry", "delete", "hold", "release"):
            r = self.mailq(cmd, "0123456789abcdef")
            self.assertEqual(r.returncode, 100, cmd)
            self.assertIn("no message 0123456789abcdef in the queue", r.stderr)
        r = self.mailq("delete", "../../etc/passwd")
        self.assertEqual(r.returncode, 100)
        self.assertIn("not a queue id", r.stderr)
        self.assertEqual(self.mailq("retry").returncode, 100)   # usage

    def test_down_lists_the_destinations_down_alone(self):
        """mailq down reads queue/down as the listing does: nothing when it is missing; a file
        torn by a power cut (written here: nothing else makes one) is an error, exit 111 (the
        listing warns and goes on)."""
        inject(self.m, "a@example.test", ["x@remote.test"], b"S: 1\n\nb\n")
        r = self.mailq("down")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))
        with open(os.path.join(self.m.root, "queue", "down"), "w") as f:
            f.write("D1\nremote.test 17")
        r = self.mailq("down")
        self.assertEqual(r.returncode, 111, r.stdout + r.stderr)
        self.assertIn("unable to read", r.stderr)
        r = self.mailq()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("<x@remote.test>", r.stdout)
        self.assertEqual(self.mailq("down", "0123456789abcdef").returncode, 100)    # usage

    def test_without_reader_on_the_trigger(self):
        qid = inject(self.m, "a@example.test", ["x@remote.test"], b"S: 1\n\nb\n")
        r = self.mailq("retry", qid)   # no queue-run: not an error, it rescans later
        self.assertEqual(r.returncode, 0, r.stderr)


_queue_tree = []


def queue_tree():
    """One private tree with services for the mailq and mailtrace tests (QUEUE_BACKOFF=3600:
    a deferred recipient is tried again only when the operator asks, mailq retry)."""
    if not _queue_tree:
        m = MailRoot(env={"QUEUE_BACKOFF": "3600"}, prefix="yubin-mailq-")
        _queue_tree.append(m)
        atexit.register(m.stop)
        m.start()
    return _queue_tree[0]


@unittest.skipUnless(have("mailq") and have("queue-inject") and have("queue-run")
                     and have("remote") and have("mkmaps"), "mailq or the queue not built")
class MailqAfterTries(unittest.TestCase):
    """mailq on states queue-run really wrote: one sink defers every recipient (451), another
    accepts; queue-run tries each message once (QUEUE_BACKOFF=3600: no second try) and is then
    stopped, so mailq runs on a queue without a queue-run and we hold queue/trigger."""

    @classmethod
    def setUpClass(cls):
        cls.m = queue_tree()
        cls.later = Sink(script={"RCPT": ["451 4.3.0 try later"] * 50}).start()
        cls.ok = Sink().start()
        add_route(cls.m, "remote.test:127.0.0.1:%d" % cls.later.port)
        add_route(cls.m, "other.test:127.0.0.1:%d" % cls.ok.port)

    @classmethod
    def tearDownClass(cls):
        cls.later.stop()
        cls.ok.stop()

    def setUp(self):
        # what an earlier test left (deleted messages, their bounces) is worked off first
        self.assertTrue(self.m.wait_for(
            lambda: not os.listdir(os.path.join(self.m.root, "queue", "mess")), 30),
            self.m.log("queue"))

    def mailq(self, *args):
        return subprocess.run([self.m.bin("mailq"), "--root", self.m.root] + list(args),
                              capture_output=True, text=True, env=self.m.env())

    def state(self, qid):
        try:
            return open(os.path.join(self.m.root, "queue", "state", qid)).read()
        except FileNotFoundError:
            return ""

    def tried(self, sender, rcpts, message):
        """Queue a message (queue-inject) and wait until queue-run has a result for every
        recipient in its state log."""
        qid = inject(self.m, sender, rcpts, message)
        ok = self.m.wait_for(lambda: all(re.search(r"(?m)^%d [DZ] " % i, self.state(qid))
                                         for i in range(len(rcpts))), 20)
        self.assertTrue(ok, self.state(qid) + self.m.log("queue"))
        return qid

    def stop_queue(self):
        sdir = os.path.join(self.m.root, "service", "queue")
        self.addCleanup(self.m.wait_ready)
        self.addCleanup(subprocess.run, ["s6-svc", "-u", sdir], check=True)
        subprocess.run(["s6-svc", "-wD", "-d", sdir], check=True, timeout=20)
        self.m.wait_for(lambda: not self.m.pids("queue"), 10)

    def test_list_shows_messages_recipients_states_and_errors(self):
        a = self.tried("alice@example.test", ["bob@remote.test", "carol@other.test"],
                       b"Subject: one\n\nhello\n")
        self.stop_queue()
        b = inject(self.m, "", ["dave@remote.test"], b"Subject: two\n\n" + b"x" * 5000 + b"\n")
        self.addCleanup(self.mailq, "delete", a, "--silent")
        self.addCleanup(self.mailq, "delete", b, "--silent")
        r = self.mailq()
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        head = [line for line in lines if line.startswith(a)][0]
        self.assertIn("<alice@example.test>", head)
        self.assertIn("<>", [line for line in lines if line.startswith(b)][0])
        size_b = int([line for line in lines if line.startswith(b)][0].split()[2])
        self.assertGreaterEqual(size_b, 5000 + len("Subject: two\n\n\n"))
        self.assertTrue(any("deferred" in line and "<bob@remote.test>" in line and "tries=1" in line
                            and "451 4.3.0 try later" in line for line in lines), r.stdout)
        self.assertTrue(any("delivered" in line and "<carol@other.test>" in line
                            for line in lines), r.stdout)
        self.assertTrue(any("pending" in line and "<dave@remote.test>" in line for line in lines))
        self.assertIn("-- 2 messages (0 held), 2 recipients not yet delivered", r.stdout)
        self.assertEqual([m[1] for m in self.ok.messages()].count(["carol@other.test"]), 1)

    def rcpt_tries(self, addr):
        """RCPT commands for addr the deferring sink has seen."""
        with self.later.lock:
            return sum(1 for sess in self.later.sessions for c in sess.commands
                       if c.upper().startswith(b"RCPT") and addr.encode() in c)

    def test_delete_while_queue_run_runs(self):
        """The operator deletes a deferred message with queue-run up: it is not tried again,
        the sender's bounce goes out, the queue is empty."""
        rcpt = "del-%d@remote.test" % time.time_ns()
        q = self.tried("sender@other.test", [rcpt], b"Subject: to delete\n\nbody\n")
        self.assertEqual(self.rcpt_tries(rcpt), 1)
        before = len(self.ok.messages())
        r = self.mailq("delete", q)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("the sender gets a bounce", r.stdout)
        mess = os.path.join(self.m.root, "queue", "mess", q)
        self.assertTrue(self.m.wait_for(lambda: not os.path.exists(mess), 20), self.state(q))

        def bounces():
            return [x for x in self.ok.messages()[before:] if x[1] == ["sender@other.test"]]
        # the bounce is a message of its own, queued then sent: it may arrive after mess/ is gone
        self.assertTrue(self.m.wait_for(lambda: len(bounces()) >= 1, 20),
                        self.m.log("queue")[-2000:])
        time.sleep(0.5)     # a second bounce, were one made, would come in the same breath
        bounces = bounces()
        self.assertEqual(len(bounces), 1, self.m.log("queue")[-2000:])
        self.assertIn(rcpt.encode(), bounces[0][2])
        self.assertIn(b"deleted by the operator", bounces[0][2])
        self.assertEqual(self.rcpt_tries(rcpt), 1, "tried again after the delete")

    def test_deleting_a_bounce_sends_no_double_bounce(self):
        """A stuck bounce (sender <>) the operator deletes goes without a word to etc/admin."""
        rcpt = "nul-%d@remote.test" % time.time_ns()
        q = self.tried("", [rcpt], b"Subject: a bounce\n\nbody\n")
        r = self.mailq("delete", q)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("no bounce (the message is a bounce itself)", r.stdout)
        self.assertTrue(self.m.wait_for(lambda: "done id=%s" % q in self.m.log("queue"), 20),
                        self.m.log("queue")[-2000:])
        self.assertFalse(os.path.exists(os.path.join(self.m.root, "queue", "mess", q)))
        self.assertNotIn("for id=%s" % q, self.m.log("queue"))      # no bounce of it

    def test_hold_then_release_while_queue_run_runs(self):
        """A message held, then released, is tried again at once (QUEUE_BACKOFF is an hour)."""
        rcpt = "held-%d@remote.test" % time.time_ns()
        q = self.tried("sender@other.test", [rcpt], b"Subject: held\n\nbody\n")
        self.addCleanup(self.mailq, "delete", q, "--silent")
        r = self.mailq("hold", q)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.mailq("flush").returncode, 0)     # queue-run finds it gone
        self.assertTrue(self.m.wait_for(lambda: "gone id=%s" % q in self.m.log("queue"), 20),
                        self.m.log("queue")[-2000:])
        r = self.mailq("release", q)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(self.m.wait_for(lambda: self.rcpt_tries(rcpt) == 2, 20),
                        self.m.log("queue")[-2000:])
        self.assertTrue(self.m.wait_for(lambda: len(re.findall(r"(?m)^0 Z ", self.state(q))) == 2,
                                        10), self.state(q))

    def test_delete_with_and_without_bounce(self):
        q1 = self.tried("a@example.test", ["x@remote.test", "y@other.test"], b"S: 1\n\nb\n")
        self.assertRegex(self.state(q1), r"(?m)^1 D ")     # y delivered, x deferred
        self.stop_queue()
        q2 = inject(self.m, "a@example.test", ["x@remote.test"], b"S: 2\n\nb\n")
        trig = Trigger(self.m.root)
        self.addCleanup(trig.close)
        r = self.mailq("delete", q1)
        self.assertEqual(r.returncode, 0, r.stderr)
        st = self.state(q1)
        self.assertRegex(st, r"(?m)^0 F \d+ deleted by the operator")
        self.assertNotRegex(st, r"(?m)^1 F")          # delivered stays delivered
        self.assertNotRegex(st, r"(?m)^B ")           # a bounce will be sent
        self.assertIn("the sender gets a bounce", r.stdout)
        self.assertEqual(trig.read(), b"R" + q1.encode() + b"\n")
        r = self.mailq("delete", q2, "--silent")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(self.state(q2), r"(?m)^0 F \d+ deleted by the operator[^\n]*\nB \d+\n")
        self.assertIn("no bounce", r.stdout)
        if IS_ROOT:   # root became yubin-q: the queue's files stay the queue user's
            import pwd
            st = os.stat(os.path.join(self.m.root, "queue", "state", q2))
            self.assertEqual(st.st_uid, pwd.getpwnam(Q_USER).pw_uid)


def story(lines, kinds):
    """The kinds of event ("info: KIND ") the lines tell, in order, repeats folded."""
    out = []
    for x in lines:
        for k in kinds:
            if ": info: %s " % k in x and out[-1:] != [k]:
                out.append(k)
    return out


@unittest.skipUnless(have("mailtrace") and have("smtpd") and have("queue-run") and have("remote")
                     and shutil.which("s6-tai64nlocal"),
                     "bin/mailtrace, the mail programs or s6-tai64nlocal missing")
class Mailtrace(unittest.TestCase):
    """mailtrace on the logs the services wrote: amy sends through smtpd (AUTH on port 25);
    bob@r.test's server defers the first try (451) and takes the retry the operator asks for
    (mailq retry); the smtp log is rotated by s6-log (SIGALRM: an @TAI64N.s file) before a
    second message, to cy@q.test, is sent."""

    PW = "Amy-trace-pw-1"

    @classmethod
    def setUpClass(cls):
        cls.m = queue_tree()
        cls.r = Sink(script={"RCPT": ["451 4.3.0 try later"]}).start()
        cls.q = Sink().start()
        add_route(cls.m, "r.test:127.0.0.1:%d" % cls.r.port)
        add_route(cls.m, "q.test:127.0.0.1:%d" % cls.q.port)
        cls.m.add_user("amy@example.test", cls.PW)

    @classmethod
    def tearDownClass(cls):
        cls.r.stop()
        cls.q.stop()

    def send(self, rcpt, subject):
        """amy's mail program: AUTH, one message; returns the queue id from the 250 reply."""
        with smtplib.SMTP("127.0.0.1", self.m.port("smtp"), timeout=30) as c:
            c.ehlo("amy.example")
            c.login("amy@example.test", self.PW)
            c.mail("amy@example.test")
            self.assertEqual(c.rcpt(rcpt)[0], 250)
            code, resp = c.data(("Subject: %s\r\n\r\nhello\r\n" % subject).encode())
        self.assertEqual(code, 250, resp)
        return re.search(r"queued as ([0-9a-f]{16})", resp.decode()).group(1)

    def trace(self, what):
        return subprocess.run([self.m.bin("mailtrace"), "--root", self.m.root, what],
                              capture_output=True, text=True)

    def test_story_of_a_message_in_time_order(self):
        log = lambda: self.m.log("queue")   # noqa: E731
        a = self.send("bob@r.test", "one")
        self.assertTrue(self.m.wait_for(lambda: "deferred id=%s" % a in log(), 20), log())
        # smtpd's line of a reaches log/smtp through its own s6-log: in current before the
        # rotation moves it
        self.assertTrue(self.m.wait_for(lambda: " id=%s " % a in self.m.log("smtp"), 10),
                        self.m.log("smtp")[-2000:])
        smtplog = os.path.join(self.m.root, "log", "smtp")
        subprocess.run(["s6-svc", "-a", os.path.join(self.m.root, "service", "smtp", "log")],
                       check=True)
        rotated = self.m.wait_for(lambda: [n for n in os.listdir(smtplog)
                                           if n.startswith("@") and n.endswith(".s")], 10)
        self.assertTrue(rotated, os.listdir(smtplog))
        self.assertIn(" id=%s " % a, open(os.path.join(smtplog, rotated[0])).read())
        b = self.send("cy@q.test", "two")
        self.assertNotIn(" id=%s " % a, self.m.log("smtp"), "a's line is in the rotated file")
        r = subprocess.run([self.m.bin("mailq"), "--root", self.m.root, "retry", a],
                           capture_output=True, text=True, env=self.m.env())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(self.m.wait_for(lambda: "delivered id=%s" % a in log()
                                        and "delivered id=%s" % b in log(), 20), log())
        # what mailtrace reads comes through each service's s6-log, a moment after the event:
        # queue-run's "done" of a (after its "delivered"), b's "accepted" (log/smtp) and both
        # "queued" (log/inject)
        self.assertTrue(self.m.wait_for(lambda: "done id=%s" % a in log(), 10), log()[-2000:])
        self.assertTrue(self.m.wait_for(lambda: " id=%s " % b in self.m.log("smtp"), 10),
                        self.m.log("smtp")[-2000:])
        self.assertTrue(self.m.wait_for(lambda: "queued id=%s" % a in self.m.log("inject")
                                        and "queued id=%s" % b in self.m.log("inject"), 10),
                        self.m.log("inject")[-2000:])
        r = self.trace(a)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        for x in lines:
            self.assertIn("id=%s" % a, x)
            self.assertRegex(x, r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")   # readable time
        self.assertEqual(lines, sorted(lines, key=lambda x: x.split()[:2]), "time order")
        # each line is stamped by the logger of its service, so only the steps one waits for
        # the other have a fixed order: the retry's delivery follows the deferral
        kinds = story(lines, ("queued", "accepted", "deferred", "delivered"))
        self.assertEqual(sorted(set(kinds)), ["accepted", "deferred", "delivered", "queued"],
                         r.stdout)
        self.assertLess(kinds.index("deferred"), kinds.index("delivered"), r.stdout)
        self.assertIn("451 4.3.0 try later", [x for x in lines if "deferred" in x][0])
        # the last of queue-run's own lines (one logger: a fixed order) is the message's end;
        # remote's "delivered" is stamped by remote's logger and may come a moment after it
        qrun = [x for x in lines if " queue-run: " in x]
        self.assertIn("queue-run: info: done id=%s" % a, qrun[-1], r.stdout)
        r = self.trace("BOB@r.test")   # by address: every line of the messages to bob
        self.assertEqual(r.stdout.splitlines(), lines)
        r = self.trace("cy@q.test")
        self.assertEqual(sorted(set(story(r.stdout.splitlines(),
                                          ("queued", "accepted", "delivered")))),
                         ["accepted", "delivered", "queued"], r.stdout)
        self.assertNotIn("id=%s" % a, r.stdout)
        # both messages, merged from three files in time order: a's deferral (queue log)
        # comes before b's acceptance (current smtp log), after a's (rotated file)
        amy = self.trace("amy@example.test").stdout.splitlines()
        self.assertEqual(amy, sorted(amy, key=lambda x: x.split()[:2]), "time order")
        def at(kind, qid):
            return [i for i, x in enumerate(amy) if ": info: %s " % kind in x
                    and "id=" + qid in x and "queue-run" not in x]
        self.assertTrue(at("accepted", a) and at("deferred", a) and at("accepted", b),
                        "\n".join(amy))
        self.assertLess(at("accepted", a)[0], at("accepted", b)[0], "\n".join(amy))
        self.assertLess(at("deferred", a)[0], at("accepted", b)[0], "\n".join(amy))
        self.assertEqual(self.trace("ffffffffffffffff").returncode, 1)
        self.assertEqual(self.trace("not-an-id").returncode, 100)


def read_all(paths):
    out = []
    for p in paths:
        with open(p, "rb") as f:
            out.append(f.read().decode("utf-8", "replace"))
    return out


class QueueCase(unittest.TestCase):
    """What the queue tests share: a test sink, mailq, and whether a message has left."""
    m = None   # the MailRoot, set by each class

    def sink(self, **kw):
        s = Sink(**kw).start()
        self.addCleanup(s.stop)
        return s

    def mailq(self, *args):
        return subprocess.run([self.m.bin("mailq"), "--root", self.m.root] + list(args),
                              capture_output=True, text=True, env=self.m.env())

    def gone(self, qid):
        q = os.path.join(self.m.root, "queue")
        return not os.path.exists(os.path.join(q, "mess", qid)) and \
            not os.path.exists(os.path.join(q, "state", qid))

@unittest.skipUnless(have("queue-run") and have("remote") and have("queue-inject"),
                     "bin/queue-run not built yet")
class QueueEndToEnd(QueueCase):
    """The whole outbound path: queue-inject -> queue-run -> remote -> sink (and bounces)."""
    SENDER = "admin@example.test"   # a local account of the harness: bounces land in its Maildir

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot.shared()

    def bounces(self, needle):
        return [t for t in read_all(self.m.messages(self.SENDER)) if needle in t]

    def submit(self, rcpts, message):
        """A customer sends through the submission port (STARTTLS + AUTH), like Outlook."""
        import ssl
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with smtplib.SMTP("127.0.0.1", self.m.port("submission"), timeout=30) as c:
            c.starttls(context=ctx)
            c.login(self.SENDER, "admin-pw-1")
            c.sendmail(self.SENDER, rcpts, message)

    def test_delivery_through_route_and_trace(self):
        s = self.sink()
        add_route(self.m, "e2e1.test:127.0.0.1:%d" % s.port)
        self.submit(["x@e2e1.test", "y@e2e1.test"], MSG.replace(b"\n", b"\r\n"))
        self.assertTrue(self.m.wait_for(lambda: len(s.messages()) >= 1, 30),
                        self.m.all_logs()[-3000:])
        mail, rcpts, data = s.messages()[0]
        self.assertEqual(rcpts, ["x@e2e1.test", "y@e2e1.test"])   # one transaction
        self.assertTrue(data.endswith(WIRE[WIRE.index(b"line one"):]), data)   # dots intact
        self.assertNotIn(b"\r\r", data)
        trace = lambda: subprocess.run([self.m.bin("mailtrace"), "--root", self.m.root,
                                        "x@e2e1.test"], capture_output=True, text=True).stdout
        self.assertTrue(self.m.wait_for(lambda: "delivered" in trace(), 10), trace())
        # queue-inject ... (its line comes through its own s6-log, maybe after queue-run's)
        self.assertTrue(self.m.wait_for(lambda: "queued id=" in trace(), 10), trace())
        story = trace()
        self.assertIn("delivered id=", story)    # ... queue-run, one id all along
        ids = set(re.findall(r"id=([0-9a-f]{16})", story))
        self.assertEqual(len(ids), 1, story)
        qid = ids.pop()
        self.assertTrue(self.m.wait_for(lambda: self.gone(qid), 30), self.mailq().stdout)
        # queue-run's "done" (after its other lines) and smtpd's "accepted" come through
        # their loggers a moment after the queue's files are gone
        self.assertTrue(self.m.wait_for(lambda: "done id=" + qid in self.m.log("queue"), 10),
                        self.m.log("queue")[-2000:])
        self.assertTrue(self.m.wait_for(lambda: re.search(r"smtpd: info: accepted .* id=%s "
                                                          % qid, self.m.log("submission")), 10),
                        self.m.log("submission")[-2000:])
        r = subprocess.run([self.m.bin("mailtrace"), "--root", self.m.root, qid],
                           capture_output=True, text=True)
        lines = r.stdout.splitlines()
        # in time order, queue-run's "done" after its other lines. (Each service's logger stamps
        # lines when it reads them, so lines of different services written within a few
        # milliseconds, smtpd's "accepted", queue-inject's "queued", remote's "delivered" and
        # queue-run's record of it, can come in any order at this speed.)
        ours = [x for x in lines if " queue-run: " in x]
        self.assertIn("queue-run: info: done id=" + qid, ours[-1], r.stdout)
        self.assertEqual(len(ours), 3, r.stdout)     # delivered x, delivered y, done
        self.assertTrue(any("smtpd: info: accepted" in x for x in lines), r.stdout)
        self.assertTrue(any("queue-inject: info: queued" in x for x in lines), r.stdout)
        self.assertTrue(all("id=" + qid in x for x in lines), r.stdout)

    def test_5xx_bounces_quoting_the_remote_server(self):
        s = self.sink(script={"RCPT": ["550 5.1.1 <nobody@e2e2.test>: unknown user zx81"]})
        add_route(self.m, "e2e2.test:127.0.0.1:%d" % s.port)
        qid = inject(self.m, self.SENDER, ["nobody@e2e2.test"], MSG)
        self.assertTrue(self.m.wait_for(lambda: self.bounces("unknown user zx81"), 60),
                        self.m.all_logs()[-3000:])
        self.assertTrue(self.m.wait_for(lambda: self.gone(qid), 30))

    def test_4xx_deferred_then_flush_delivers(self):
        s = self.sink(script={"MAIL": ["451 4.7.1 greylisted e2e3, come back later"]})
        add_route(self.m, "e2e3.test:127.0.0.1:%d" % s.port)
        qid = inject(self.m, self.SENDER, ["x@e2e3.test"], MSG)
        self.assertTrue(self.m.wait_for(lambda: "greylisted e2e3" in self.mailq().stdout, 30),
                        self.mailq().stdout + self.m.all_logs()[-3000:])
        self.assertIn("deferred", self.mailq().stdout)
        self.assertEqual(self.mailq("flush").returncode, 0)
        self.assertTrue(self.m.wait_for(lambda: len(s.messages()) == 1, 30),
                        self.mailq().stdout + self.m.all_logs()[-3000:])
        self.assertTrue(self.m.wait_for(lambda: self.gone(qid), 30))

    def test_deferred_backlog_waits_apart_until_flush(self):
        """150 messages greylisted by their server wait in the queue for their retry time, out
        of the way of queue-run's work (docs/queue.md "A deferred backlog"); a message for
        another server is delivered meanwhile; `mailq flush` brings every one of them back at
        once and each is delivered exactly once."""
        n = 150
        grey = self.sink(script={"MAIL": ["451 4.7.1 greylisted bq1, come back later"] * n})
        live = self.sink()
        add_route(self.m, "bq1.test:127.0.0.1:%d" % grey.port)
        add_route(self.m, "bq2.test:127.0.0.1:%d" % live.port)

        def tries():
            with grey.lock:
                return sum(c.startswith(b"MAIL") for x in grey.sessions for c in x.commands)
        qids = [inject(self.m, self.SENDER, ["r%d@bq1.test" % i], MSG) for i in range(n)]
        self.assertTrue(self.m.wait_for(lambda: tries() >= n, 60),
                        "%d of %d tried\n%s" % (tries(), n, self.m.all_logs()[-3000:]))
        other = inject(self.m, self.SENDER, ["x@bq2.test"], MSG)
        self.assertTrue(self.m.wait_for(lambda: self.gone(other), 30), self.mailq().stdout)
        self.assertEqual(len(live.messages()), 1)
        self.assertEqual(tries(), n, "the deferred ones were not tried again before their time")
        self.assertFalse([q for q in qids if self.gone(q)])
        self.assertEqual(self.mailq("flush").returncode, 0)
        self.assertTrue(self.m.wait_for(lambda: all(self.gone(q) for q in qids), 60),
                        "%d left\n%s" % (sum(not self.gone(q) for q in qids),
                                          self.m.all_logs()[-3000:]))
        got = sorted(r for _, rcpts, _ in grey.messages() for r in rcpts)
        self.assertEqual(got, sorted("r%d@bq1.test" % i for i in range(n)))

    def test_sigkill_of_remote_mid_transaction_loses_nothing(self):
        s = self.sink(hang_after_data=True, hang=60)
        add_route(self.m, "e2e4.test:127.0.0.1:%d" % s.port)
        qid = inject(self.m, self.SENDER, ["x@e2e4.test"], MSG)
        self.assertTrue(self.m.wait_for(lambda: any(x.data for x in s.sessions), 30),
                        self.m.all_logs()[-3000:])
        pids = self.m.wait_for(lambda: loop_children(self.m, "remote"), 10)
        self.assertTrue(pids, "remote is not running")
        for p in pids:
            os.kill(p, signal.SIGKILL)
        s.hang_after_data = False   # the next try is answered
        self.assertTrue(os.path.exists(os.path.join(self.m.root, "queue", "mess", qid)))
        # flush once queue-run has recorded the lost try; a flush that lands while the
        # killed delivery is still in flight has nothing deferred to hurry
        self.assertTrue(self.m.wait_for(lambda: "killed by signal" in self.mailq().stdout, 30),
                        self.mailq().stdout + self.m.all_logs()[-3000:])
        self.mailq("flush")
        self.assertTrue(self.m.wait_for(lambda: len(s.messages()) >= 1, 60),
                        self.mailq().stdout + self.m.all_logs()[-3000:])
        self.assertTrue(self.m.wait_for(lambda: self.gone(qid), 30))


@unittest.skipUnless(have("queue-run") and have("remote") and have("queue-inject"),
                     "bin/queue-run not built yet")
class QueueDestinationDown(QueueCase):
    """A big receiver that is down (docs/queue.md "A destination that is down"). Its own root:
    QUEUE_BACKOFF=2, so that its rounds come every 2 s."""
    SENDER = "admin@example.test"

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(prefix="yubin-down-", env={"QUEUE_BACKOFF": "2"})
        cls.m.start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def test_a_server_that_answers_with_4_4_1_is_not_down(self):
        """A server's own reply with the code X.4.4.1 ("421 4.4.1 ...") came from a server
        that answered: its destination is not held back as down, each message is tried in
        its own time as after any other 4xx."""
        s = self.sink(greeting="421 4.4.1 no route to the next hop, try later")
        add_route(self.m, "said441.test:127.0.0.1:%d" % s.port)
        qids = [inject(self.m, self.SENDER, ["r%d@said441.test" % i], MSG) for i in range(3)]
        self.assertTrue(self.m.wait_for(lambda: all(
            re.search(r"deferred id=%s .*421 4\.4\.1" % q, self.m.log("queue")) for q in qids),
            30), self.m.log("queue")[-3000:])
        self.assertNotIn("destination down domain=said441.test", self.m.log("queue"))
        self.assertNotRegex(self.mailq().stdout, r"said441\.test\s+down for")

    def test_a_destination_that_is_down_is_tried_once_a_round(self):
        """Nothing listens on the receiver's port: every try ends in "cannot connect"
        (#4.4.1). After the first try finds it down, its other 200 messages wait for the next
        round without a connection each; each later round is one attempt; mail for another
        server passes meanwhile; when the receiver is back, `mailq flush` sends every
        message, each once. Before, each of the 200 made its own attempt every round (and
        with a receiver that times out instead of refusing, those attempts held every remote
        slot for REMOTE_TIMEOUT_CONNECT at a time: bench/scale.sh down)."""
        n = 200
        port = free_port()
        live = self.sink()
        add_route(self.m, "down1.test:127.0.0.1:%d" % port)
        add_route(self.m, "up1.test:127.0.0.1:%d" % live.port)
        qids = [inject(self.m, self.SENDER, ["r%d@down1.test" % i], MSG) for i in range(n)]
        other = inject(self.m, self.SENDER, ["x@up1.test"], MSG)
        self.assertTrue(self.m.wait_for(lambda: self.gone(other), 60), self.mailq().stdout)

        def tries_marks():
            log = self.m.log("queue").split("\n")
            tried = re.compile(r"deferred id=\S+ to=<r\d+@down1")
            return ([k for k, x in enumerate(log) if tried.search(x)],
                    [k for k, x in enumerate(log) if "destination down domain=down1.test" in x])
        tries, marks = tries_marks()
        self.assertLessEqual(len(tries), 20 + len(marks), "each message tried on its own")
        self.assertTrue(self.m.wait_for(lambda: "rounds=4 " in self.m.log("queue"), 60),
                        self.m.log("queue")[-3000:])
        tries, marks = tries_marks()
        # the first round: the messages in flight when its first try came back, at most
        self.assertLessEqual(len([k for k in tries if k < marks[1]]), 20,
                             "each message tried on its own")
        # each later round: one try, then the next wait
        self.assertEqual(len([k for k in tries if marks[1] < k < marks[-1]]), len(marks) - 2)
        self.assertFalse([q for q in qids if self.gone(q)])
        back = self.sink(port=port)
        self.assertEqual(self.mailq("flush").returncode, 0)
        self.assertTrue(self.m.wait_for(lambda: all(self.gone(q) for q in qids), 60),
                        "%d left\n%s" % (sum(not self.gone(q) for q in qids),
                                          self.m.all_logs()[-3000:]))
        got = sorted(r for _, rcpts, _ in back.messages() for r in rcpts)
        self.assertEqual(got, sorted("r%d@down1.test" % i for i in range(n)))

    def tries_between(self, local, domain, after):
        """After the last log line that holds the text after: the tries for LOCALn@DOMAIN and
        the marks of DOMAIN down, as line numbers."""
        log = self.m.log("queue").split("\n")
        start = max([k for k, x in enumerate(log) if after in x] or [0])
        tried = re.compile(r"deferred id=\S+ to=<%s\d+@%s>" % (local, re.escape(domain)))
        mark = "destination down domain=%s " % domain
        return ([k for k, x in enumerate(log) if k > start and tried.search(x)],
                [k for k, x in enumerate(log) if k > start and mark in x])

    def one_try_a_round(self, local, domain, after):
        """From the last log line holding after: the next two rounds find the destination down
        with one try each, not one per message."""
        ok = self.m.wait_for(lambda: len(self.tries_between(local, domain, after)[1]) >= 2, 60)
        self.assertTrue(ok, self.m.log("queue")[-3000:])
        tries, marks = self.tries_between(local, domain, after)
        self.assertEqual(len([k for k in tries if k < marks[1]]), 2,
                         "one try a round expected\n" + self.m.log("queue")[-4000:])

    def down_entry(self, out, domain):
        """mailq's line for domain in its section of destinations down, or None."""
        lines = out.splitlines()
        head = [k for k, x in enumerate(lines) if x.startswith("destinations down ")]
        if not head:
            return None
        for x in lines[head[0] + 1:]:
            if not x.startswith("    "):
                break
            if x.startswith("    %s  " % domain):
                return x
        return None

    def test_mailq_shows_a_destination_down_and_the_mail_that_waits_for_it(self):
        """The operator asks why mail for a domain is not leaving: mailq lists the destination
        as down (for how long, how many rounds, the next try, remote's reason) and each of its
        waiting recipients says it waits for that try. mailq flush tries the destination at
        once, with one job (not one per message) while it is still down; once the receiver is
        back, a flush delivers every message and the destination is no longer listed."""
        n = 30
        port = free_port()
        add_route(self.m, "down2.test:127.0.0.1:%d" % port)
        qids = [inject(self.m, self.SENDER, ["s%d@down2.test" % i], MSG) for i in range(n)]
        self.assertTrue(self.m.wait_for(
            lambda: "destination down domain=down2.test " in self.m.log("queue"), 60),
            self.m.log("queue")[-3000:])
        out = self.mailq().stdout
        entry = self.down_entry(out, "down2.test")
        self.assertTrue(entry, out)
        m = re.match(r"    down2\.test  down for \S+  rounds=(\d+)  next try (in \S+|now)  (.+)$",
                     entry)
        self.assertTrue(m, entry)
        self.assertIn("cannot connect to port %d" % port, m.group(3))
        self.assertTrue(m.group(3).endswith("(#4.4.1)"), entry)
        rcpts = [x for x in out.splitlines() if re.search(r"<s\d+@down2\.test>", x)]
        self.assertEqual(len(rcpts), n, out)
        for x in rcpts:
            self.assertIn("destination down: waits for its next try ", x)
        # the reason shown is the one remote gave the messages tried
        self.assertTrue([x for x in rcpts if x.endswith(m.group(3))], out)
        self.assertRegex(out, r"recipients? not yet delivered, \d+ destinations? down\n$")

        # a flush while it is still down: tried now, one job a round
        self.assertEqual(self.mailq("flush").returncode, 0)
        self.assertTrue(self.m.wait_for(
            lambda: "flush: retrying" in self.m.log("queue"), 10))
        self.one_try_a_round("s", "down2.test", "flush: retrying")
        self.assertFalse([q for q in qids if self.gone(q)])

        back = self.sink(port=port)
        self.assertEqual(self.mailq("flush").returncode, 0)
        self.assertTrue(self.m.wait_for(lambda: all(self.gone(q) for q in qids), 60),
                        self.mailq().stdout + self.m.log("queue")[-3000:])
        got = sorted(r for _, rcpts, _ in back.messages() for r in rcpts)
        self.assertEqual(got, sorted("s%d@down2.test" % i for i in range(n)))
        out = self.mailq().stdout
        self.assertIsNone(self.down_entry(out, "down2.test"), out)
        self.assertNotIn("down2.test", out)

    def test_yubin_check_warns_of_each_destination_down(self):
        """yubin-check, the operator's health check, warns of a destination down (its mail held
        back): for how long, how many rounds, remote's reason, with mailq's own reading of
        queue/down (mailq down); once a server answers, it warns no more. Before, it said
        nothing of it: only the queue's size and its oldest message."""
        port = free_port()
        add_route(self.m, "down5.test:127.0.0.1:%d" % port)
        qid = inject(self.m, self.SENDER, ["v@down5.test"], MSG)
        self.assertTrue(self.m.wait_for(
            lambda: "destination down domain=down5.test " in self.m.log("queue"), 60),
            self.m.log("queue")[-3000:])
        check = lambda: subprocess.run([self.m.bin("yubin-check"), "--root", self.m.root],
                                       capture_output=True, text=True).stdout
        out = check()
        line = [x for x in out.splitlines() if "down5.test" in x]
        self.assertEqual(len(line), 1, out)
        self.assertRegex(line[0], r"^warning: destination down5\.test is down: no server of it "
                         r"answered for \d+s \(\d+ rounds, next try (now|in \ds)\): 127\.0\.0\.1 "
                         r"\[127\.0\.0\.1\]: cannot connect to port %d: Connection refused "
                         r"\(#4\.4\.1\); its mail waits \(bin/mailq lists it, bin/mailq flush "
                         r"tries it now\)$" % port)
        r = self.mailq("down")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(self.down_entry(r.stdout, "down5.test"), r.stdout)
        self.assertNotIn("<v@down5.test>", r.stdout)        # the messages are not listed
        back = self.sink(port=port)
        self.assertEqual(self.mailq("flush").returncode, 0)
        self.assertTrue(self.m.wait_for(lambda: self.gone(qid), 30),
                        self.mailq().stdout + self.m.log("queue")[-3000:])
        self.assertEqual([r for _, rs, _ in back.messages() for r in rs], ["v@down5.test"])
        out = check()
        self.assertNotIn("down5.test", out)

    def test_a_restart_keeps_the_destinations_down(self):
        """queue-run restarted (s6-svc -r) while a destination is down keeps its mark: mailq
        still lists it, and the rounds after the restart make one try each, counted on from
        before, not one per queued message."""
        n = 30
        port = free_port()
        add_route(self.m, "down3.test:127.0.0.1:%d" % port)
        qids = [inject(self.m, self.SENDER, ["t%d@down3.test" % i], MSG) for i in range(n)]
        self.assertTrue(self.m.wait_for(
            lambda: "destination down domain=down3.test rounds=2 " in self.m.log("queue"), 60),
            self.m.log("queue")[-3000:])
        sdir = os.path.join(self.m.root, "service", "queue")
        starts = self.m.log("queue").count("info: started:")
        subprocess.run(["s6-svc", "-r", sdir], check=True)
        self.assertTrue(self.m.wait_for(
            lambda: self.m.log("queue").count("info: started:") > starts, 30),
            self.m.log("queue")[-3000:])
        self.m.wait_ready()
        out = self.mailq().stdout
        entry = self.down_entry(out, "down3.test")
        self.assertTrue(entry, out)
        self.assertIn("cannot connect to port %d" % port, entry)
        self.one_try_a_round("t", "down3.test", "info: started:")
        # the rounds go on from before the restart
        log = self.m.log("queue")
        after = log[log.rindex("info: started:"):]
        first = re.search(r"destination down domain=down3\.test rounds=(\d+) ", after)
        self.assertGreaterEqual(int(first.group(1)), 3, after[:3000])

        back = self.sink(port=port)
        self.assertEqual(self.mailq("flush").returncode, 0)
        self.assertTrue(self.m.wait_for(lambda: all(self.gone(q) for q in qids), 60),
                        self.mailq().stdout + self.m.log("queue")[-3000:])
        got = sorted(r for _, rcpts, _ in back.messages() for r in rcpts)
        self.assertEqual(got, sorted("t%d@down3.test" % i for i in range(n)))
        self.assertIsNone(self.down_entry(self.mailq().stdout, "down3.test"))


    def restart_queue(self, edit):
        """queue-run stopped, edit(path of queue/down) run, queue-run started again."""
        sdir = os.path.join(self.m.root, "service", "queue")
        path = os.path.join(self.m.root, "queue", "down")
        starts = self.m.log("queue").count("info: started:")
        subprocess.run(["s6-svc", "-wD", "-d", sdir], check=True, timeout=30)
        before = len(self.m.log("queue"))
        edit(path)
        subprocess.run(["s6-svc", "-u", sdir], check=True)
        self.assertTrue(self.m.wait_for(
            lambda: self.m.log("queue").count("info: started:") > starts, 30),
            self.m.log("queue")[-3000:])
        self.m.wait_ready()
        return before

    def test_a_mark_from_a_longer_backoff_or_a_torn_file_is_mended_at_start(self):
        """queue/down is a hint, not synced. A mark made under a longer QUEUE_BACKOFF (the
        operator shortens it and restarts queue-run; a clock stepped back does the same) waits
        no longer than its round's new step, and mailq shows that, so its mail is tried, not
        held until it expires untried. A file torn by a power cut (written here by the test:
        nothing else makes one) is removed at start, so mailq stops warning about it."""
        port = free_port()
        add_route(self.m, "down4.test:127.0.0.1:%d" % port)
        def back():
            self.m.set_env("QUEUE_BACKOFF", "2")        # the class's setting, for what follows
            self.restart_queue(lambda path: None)
        self.addCleanup(back)
        self.m.set_env("QUEUE_BACKOFF", "86400")
        self.restart_queue(lambda path: None)
        qid = inject(self.m, self.SENDER, ["u@down4.test"], MSG)
        self.assertTrue(self.m.wait_for(
            lambda: "destination down domain=down4.test rounds=1 retry_in=86400s"
            in self.m.log("queue"), 60), self.m.log("queue")[-3000:])
        self.m.set_env("QUEUE_BACKOFF", "2")
        before = self.restart_queue(lambda path: None)
        m = re.search(r"destination still down domain=down4\.test rounds=\d+ retry_in=(\d+)s",
                      self.m.log("queue")[before:])
        self.assertTrue(m, self.m.log("queue")[before:][:3000])
        self.assertLessEqual(int(m.group(1)), 2)
        entry = self.down_entry(self.mailq().stdout, "down4.test")   # mailq shows the same
        self.assertTrue(entry and not re.search(r"next try in \d+[hd]", entry), entry)
        self.assertTrue(self.m.wait_for(lambda: re.search(
            r"deferred id=%s" % qid, self.m.log("queue")[before:]), 60),
            self.m.log("queue")[-3000:])

        def torn(path):
            with open(path, "w") as out:
                out.write("D1\ndown4.test 17")
        self.restart_queue(torn)
        path = os.path.join(self.m.root, "queue", "down")
        # removed at start (or, if the next round came already, written anew whole)
        if os.path.exists(path):
            self.assertFalse(open(path).read().endswith(" 17"), "the torn file is still there")
        self.assertNotIn("unable to read", self.mailq().stderr)


class Hole:
    """A port whose connects time out: a listener that never accepts, the one place of its
    accept queue taken by our own connection, so that the kernel drops every later SYN (a
    receiver whose firewall drops packets, or a host that is off)."""

    def __init__(self, port=0):
        self.s = socket.socket()
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind(("127.0.0.1", port))
        self.s.listen(0)
        self.port = self.s.getsockname()[1]
        self.fill = socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def connecting(self):
        """Connections to the port waiting for an answer to their SYN (state SYN-SENT)."""
        n = 0
        with open("/proc/net/tcp") as f:
            next(f)
            for ln in f:
                x = ln.split()
                if x[3] == "02" and int(x[2].split(":")[1], 16) == self.port:
                    n += 1
        return n

    def close(self):
        self.fill.close()
        self.s.close()


def cpu_seconds(pid):
    """User and system CPU time of a process so far (/proc/PID/stat utime + stime)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@unittest.skipUnless(have("queue-run") and have("remote") and have("queue-inject"),
                     "bin/queue-run not built yet")
class QueueDownWaits(QueueCase):
    """Mail that cannot leave now: due mail waiting for a job slot, or for the one try of a
    destination that is down. Its own root: rounds of 3 s, 30 s, then 300 s
    (QUEUE_BACKOFF=3,30,300), connects that time out after 6 s, two jobs a domain at once."""
    SENDER = "admin@example.test"

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(prefix="yubin-downwait-",
                         env={"QUEUE_BACKOFF": "3,30,300", "REMOTE_TIMEOUT_CONNECT": "6",
                              "QUEUE_DOMAIN_CONC": "2"})
        cls.m.start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def drop(self, qids):
        for q in qids:
            if q:
                self.mailq("delete", q, "--silent")

    def cpu_over(self, seconds):
        """queue-run's CPU seconds over the next seconds of wall time, and that time."""
        pid = [p for p in self.m.pids("queue") if proc_name(p) == "queue-run"][0]
        t, c = time.time(), cpu_seconds(pid)
        time.sleep(seconds)
        return cpu_seconds(pid) - c, time.time() - t

    def deferred(self, domain, after=0):
        return re.findall(r"deferred id=\S+ to=<[^>]*@%s>" % re.escape(domain),
                          self.m.log("queue")[after:])

    def marked(self, domain, rounds, after=0):
        return "destination down domain=%s rounds=%d " % (domain, rounds) \
            in self.m.log("queue")[after:]

    def test_due_mail_waiting_for_a_job_slot_sleeps(self):
        """Eight messages deferred together are due together; their server takes its time
        (it holds the reply to the dot), and two jobs a domain may run: six due messages wait
        for a slot, in poll, queue-run using next to no CPU. Before, due mail that could not
        start kept poll's timeout at 0: queue-run spun at 100% CPU for as long as the jobs
        ran."""
        n = 8
        gate = threading.Event()
        s = self.sink(script={"MAIL": ["451 4.7.1 slot1 busy, try later"] * n}, gate=gate)
        self.addCleanup(gate.set)
        add_route(self.m, "slot1.test:127.0.0.1:%d" % s.port)
        qids = [inject(self.m, self.SENDER, ["s%d@slot1.test" % i], MSG) for i in range(n)]
        self.addCleanup(self.drop, qids)
        self.assertTrue(self.m.wait_for(lambda: len(self.deferred("slot1.test")) >= n, 30),
                        self.m.log("queue")[-3000:])
        # 3 s later all are due again: two deliveries wait at the dot, six for a slot
        self.assertTrue(self.m.wait_for(
            lambda: sum(x.data is not None for x in s.sessions) >= 2, 20),
            self.m.log("queue")[-3000:])
        cpu, wall = self.cpu_over(3)
        self.assertLess(cpu, 0.3 * wall, "queue-run spun while mail waited for a job slot: "
                        "%.2f s of CPU in %.1f s" % (cpu, wall))
        gate.set()
        self.assertTrue(self.m.wait_for(lambda: all(self.gone(q) for q in qids), 60),
                        self.mailq().stdout + self.m.log("queue")[-3000:])
        self.assertEqual(sorted(r for _, rcpts, _ in s.messages() for r in rcpts),
                         sorted("s%d@slot1.test" % i for i in range(n)))

    def test_mail_waiting_for_the_try_of_its_destination_sleeps(self):
        """A receiver found down whose connects then time out: once its mark's time comes,
        one job tries it (6 s here, REMOTE_TIMEOUT_CONNECT: 60 s for each of its addresses by
        default) and the other messages wait for that try's end, in poll: queue-run uses next
        to no CPU. Before, they kept poll's timeout at 0 for the whole try."""
        port = free_port()          # refused: the first round is quick
        add_route(self.m, "hole1.test:127.0.0.1:%d" % port)
        qids = [inject(self.m, self.SENDER, ["h%d@hole1.test" % i], MSG) for i in range(6)]
        self.addCleanup(self.drop, qids)
        self.assertTrue(self.m.wait_for(lambda: self.marked("hole1.test", 1), 30),
                        self.m.log("queue")[-3000:])
        h = Hole(port)              # now its connects time out
        self.addCleanup(h.close)
        # 3 s later: the second round's one try (the first round's tries, refused at once,
        # are all in the log by then)
        self.assertTrue(self.m.wait_for(lambda: h.connecting() >= 1, 15),
                        self.m.log("queue")[-3000:])
        before = len(self.m.log("queue"))
        cpu, wall = self.cpu_over(3)
        self.assertLess(cpu, 0.3 * wall, "queue-run spun while mail waited for the try of "
                        "its destination: %.2f s of CPU in %.1f s" % (cpu, wall))
        h.close()                   # refused from now on: that try ends at once
        self.assertTrue(self.m.wait_for(lambda: self.marked("hole1.test", 2, before), 30),
                        self.m.log("queue")[-3000:])
        self.assertEqual(len(self.deferred("hole1.test", before)), 1, "one try in that round")
        self.assertFalse([q for q in qids if self.gone(q)])

    def test_a_try_that_tells_nothing_renews_the_mark(self):
        """The try of a destination that is down ends without a word on its servers (here
        remote is killed during its connect): the mark waits its round's step again from now,
        its count of rounds unchanged, and mailq says when. Before, the mark stayed with its
        time past: mailq said "next try now", and the domain's mail went one job at a time, a
        try each, until the hourly scan dropped the mark. (The second round's step is 12 s
        here: QUEUE_BACKOFF=3,12,300.)"""
        self.addCleanup(self.backoff, "3,30,300")
        self.backoff("3,12,300")
        port = free_port()          # refused: the first rounds are quick
        add_route(self.m, "hole2.test:127.0.0.1:%d" % port)
        qids = [inject(self.m, self.SENDER, ["k%d@hole2.test" % i], MSG) for i in range(3)]
        self.addCleanup(self.drop, qids)
        self.assertTrue(self.m.wait_for(lambda: self.marked("hole2.test", 2), 30),
                        self.m.log("queue")[-3000:])
        h = Hole(port)              # now its connects time out
        self.addCleanup(h.close)
        before = len(self.m.log("queue"))
        self.assertEqual(self.mailq("flush").returncode, 0)     # the try, now
        self.assertTrue(self.m.wait_for(lambda: h.connecting() >= 1, 10),
                        self.m.log("queue")[-3000:])
        for p in loop_children(self.m, "remote"):
            os.kill(p, signal.SIGKILL)
        self.assertTrue(self.m.wait_for(
            lambda: "killed by signal 9" in self.m.log("queue")[before:], 20),
            self.m.log("queue")[-3000:])
        out = self.mailq().stdout
        self.assertRegex(self.down_entry(out, "hole2.test") or "",
                         r"rounds=2  next try in ([4-9]|1[0-2])s  ", out)
        self.assertTrue(self.m.wait_for(lambda: "destination still down domain=hole2.test "
                                        "rounds=2 retry_in=12s" in self.m.log("queue"), 10),
                        self.m.log("queue")[-3000:])
        renewed = time.time()
        self.assertEqual(len(self.deferred("hole2.test", before)), 1, "one try, no other")
        self.assertFalse([q for q in qids if self.gone(q)])
        # the mail that waited for that try is tried at the renewed time (12 s on), one job,
        # not before; the message whose try was killed goes, so that this try is not its own
        # next one (its own step may end then too)
        killed = re.search(r"deferred id=(\S+) to=<[^>]*@hole2\.test> reason=remote delivery "
                           r"killed by signal 9", self.m.log("queue")[before:]).group(1)
        self.drop([killed])
        self.assertTrue(self.m.wait_for(lambda: self.gone(killed), 10))
        self.assertTrue(self.m.wait_for(lambda: h.connecting() >= 1, 30),
                        self.mailq().stdout + self.m.log("queue")[-3000:])
        waited = time.time() - renewed
        self.assertGreater(waited, 8, "tried before the renewed mark's time")
        self.assertLess(waited, 18, "not tried at the renewed mark's time")
        h.close()                   # refused from now on: that try ends at once
        self.assertTrue(self.m.wait_for(lambda: self.marked("hole2.test", 3, before), 20),
                        self.m.log("queue")[-3000:])
        tried = re.findall(r"deferred id=(\S+) to=<[^>]*@hole2\.test>",
                           self.m.log("queue")[before:])
        self.assertEqual(len(tried), 2, "one try that round")
        self.assertIn(tried[1], [q for q in qids if q != killed])

    def backoff(self, value):
        """QUEUE_BACKOFF set to value, and queue-run restarted to read it."""
        self.m.set_env("QUEUE_BACKOFF", value)
        QueueDestinationDown.restart_queue(self, lambda path: None)

    def test_an_answer_wakes_the_mail_that_waits_for_the_destination(self):
        """A slower job of a destination marked down reaches a server (its delivery was held at
        the dot while the listener went away and came back): the mark goes, and the mail that
        waited for it leaves at once, not at the mark's time (60 s here, up to an hour)."""
        self.addCleanup(self.backoff, "3,30,300")
        self.backoff("60")
        gate = threading.Event()
        s = self.sink(gate=gate)
        self.addCleanup(gate.set)
        port = s.port
        add_route(self.m, "wake4.test:127.0.0.1:%d" % port)
        qids = [inject(self.m, self.SENDER, ["a@wake4.test"], MSG)]
        self.addCleanup(self.drop, qids)
        self.assertTrue(self.m.wait_for(s.got_data.is_set, 30), self.m.log("queue")[-3000:])
        s.stop()            # no new connection: refused
        qids.append(inject(self.m, self.SENDER, ["b@wake4.test"], MSG))
        self.assertTrue(self.m.wait_for(lambda: self.marked("wake4.test", 1), 30),
                        self.m.log("queue")[-3000:])
        qids.append(inject(self.m, self.SENDER, ["c@wake4.test"], MSG))
        self.assertTrue(self.m.wait_for(lambda: re.search(
            r"<c@wake4\.test>  destination down: waits for its next try in [3-6]\ds",
            self.mailq().stdout), 10), self.mailq().stdout)
        back = self.sink(port=port)
        gate.set()
        self.assertTrue(self.m.wait_for(
            lambda: "destination up domain=wake4.test" in self.m.log("queue"), 30),
            self.m.log("queue")[-3000:])
        self.assertTrue(self.m.wait_for(lambda: self.gone(qids[0]) and self.gone(qids[2]), 10),
                        self.mailq().stdout + self.m.log("queue")[-3000:])
        # c goes over the connection a's delivery left open (remote's cache), or a new one
        self.assertEqual(sorted(r for x in (s, back) for _, rcpts, _ in x.messages()
                                for r in rcpts), ["a@wake4.test", "c@wake4.test"])
        self.assertFalse(self.gone(qids[1]), "b waits for its own next try (60 s)")

    def test_flush_once_the_destination_is_back_sends_all_its_mail_at_once(self):
        """The operator's way after an outage: the receiver is back, `mailq flush`. The
        messages tried while it was down (each deferred for 60 s of its own) leave with the
        rest, at once. Before, they waited while the flush's one try ran, and its answer sent
        them back to their own 60 s: the queue emptied a minute late, one message after the
        others."""
        self.addCleanup(self.backoff, "3,30,300")
        self.backoff("60")
        port = free_port()          # refused until the sink listens there
        add_route(self.m, "back7.test:127.0.0.1:%d" % port)
        qids = [inject(self.m, self.SENDER, ["t%d@back7.test" % i], MSG) for i in range(2)]
        self.addCleanup(self.drop, qids)
        self.assertTrue(self.m.wait_for(lambda: self.marked("back7.test", 1)
                                        and len(self.deferred("back7.test")) >= 1, 30),
                        self.m.log("queue")[-3000:])
        qids += [inject(self.m, self.SENDER, ["w%d@back7.test" % i], MSG) for i in range(4)]
        time.sleep(1)
        tried = sorted(set(re.findall(r"deferred id=\S+ to=<([^>]*@back7\.test)>",
                                      self.m.log("queue"))))
        self.assertTrue(tried, self.m.log("queue")[-3000:])
        s = self.sink(port=port)
        self.assertEqual(self.mailq("flush").returncode, 0)
        self.assertTrue(self.m.wait_for(lambda: all(self.gone(q) for q in qids), 15),
                        "left after the flush: %s\n%s" % (self.mailq().stdout,
                                                           self.m.log("queue")[-3000:]))
        got = sorted(r for _, rcpts, _ in s.messages() for r in rcpts)
        self.assertEqual(got, sorted(["t0@back7.test", "t1@back7.test"]
                                     + ["w%d@back7.test" % i for i in range(4)]))
        for r in tried:
            self.assertIn(r, got)

    def test_retry_tries_the_messages_destination_down_now(self):
        """The operator says "retry this message" (mailq retry ID) for mail whose destination
        is down: queue-run tries that destination now, with that message, once, as a flush
        does for every destination. Still down: the mark stays (its next round), and the
        other message that waits for it is not tried; back: the message leaves at once and
        the other follows. Before, the retried message waited for the mark's next try (60 s
        here, up to an hour)."""
        self.addCleanup(self.backoff, "3,30,300")
        self.backoff("60")
        port = free_port()          # refused until the sink listens there
        add_route(self.m, "retry8.test:127.0.0.1:%d" % port)
        first = inject(self.m, self.SENDER, ["a@retry8.test"], MSG)
        self.addCleanup(self.drop, [first])
        self.assertTrue(self.m.wait_for(lambda: self.marked("retry8.test", 1), 30),
                        self.m.log("queue")[-3000:])
        # the mark stays (rounds=1, 60 s); its message goes, so that only these two wait
        self.drop([first])
        self.assertTrue(self.m.wait_for(lambda: self.gone(first), 10))
        b, c = qids = [inject(self.m, self.SENDER, ["%s@retry8.test" % x], MSG) for x in "bc"]
        self.addCleanup(self.drop, qids)
        self.assertTrue(self.m.wait_for(lambda: len(re.findall(
            r"<[bc]@retry8\.test>  destination down: waits for its next try in (1m00s|[3-5]\ds)",
            self.mailq().stdout)) == 2, 10), self.mailq().stdout)
        before = len(self.m.log("queue"))
        self.assertEqual(self.mailq("retry", b).returncode, 0)
        self.assertTrue(self.m.wait_for(lambda: self.marked("retry8.test", 2, before), 10),
                        "the retried message waited for the mark\n" + self.mailq().stdout
                        + self.m.log("queue")[-3000:])
        self.assertEqual(self.deferred("retry8.test", before),
                         ["deferred id=%s to=<b@retry8.test>" % b], "one try, b's")
        out = self.mailq().stdout
        self.assertRegex(self.down_entry(out, "retry8.test") or "",
                         r"rounds=2  next try in (1m00s|5\ds)  .*cannot connect", out)
        self.assertRegex(out, r"<c@retry8\.test>  destination down: waits for its next try "
                         r"in (1m00s|5\ds)", out)
        # back: the retry delivers b now, and c, which waited for the mark, follows at once
        s = self.sink(port=port)
        self.assertEqual(self.mailq("retry", b).returncode, 0)
        self.assertTrue(self.m.wait_for(lambda: self.gone(b) and self.gone(c), 20),
                        self.mailq().stdout + self.m.log("queue")[-3000:])
        self.assertEqual(sorted(r for _, rs, _ in s.messages() for r in rs),
                         ["b@retry8.test", "c@retry8.test"])
        self.assertIsNone(self.down_entry(self.mailq().stdout, "retry8.test"))

    def test_one_mark_for_a_domain_whatever_the_case_of_its_name(self):
        """Domain names are case-insensitive (RFC 5321 §2.4): once mail to a@case9.test found
        the destination down, mail to B@Case9.TEST and c@CASE9.test waits for that mark
        without a try of its own, mailq shows it waiting and lists one destination down; once
        a server of case9.test answers, it leaves at once. Before, each spelling was a
        destination of its own: tried on its own, marked on its own, listed again, and left
        waiting for its own mark (60 s here) when case9.test's went."""
        self.addCleanup(self.backoff, "3,30,300")
        self.backoff("60")
        port = free_port()          # refused until the sink listens there
        add_route(self.m, "case9.test:127.0.0.1:%d" % port)
        a = inject(self.m, self.SENDER, ["a@case9.test"], MSG)
        qids = [a]
        self.addCleanup(self.drop, qids)
        self.assertTrue(self.m.wait_for(lambda: self.marked("case9.test", 1), 30),
                        self.m.log("queue")[-3000:])
        before = len(self.m.log("queue"))
        qids += [inject(self.m, self.SENDER, [r], MSG) for r in ("B@Case9.TEST", "c@CASE9.test")]
        self.assertTrue(self.m.wait_for(lambda: len(re.findall(
            r"<(B@Case9\.TEST|c@CASE9\.test)>  destination down: waits for its next try in "
            r"(1m00s|[3-5]\ds)", self.mailq().stdout)) == 2, 10),
            self.mailq().stdout + self.m.log("queue")[-3000:])
        time.sleep(1)               # a try of their own would be in the log by now
        log = self.m.log("queue")[before:]
        self.assertNotIn("deferred id=", log, "mail to another spelling was tried on its own")
        self.assertNotRegex(log, r"destination down domain=(?!case9\.test )", log)
        out = self.mailq().stdout
        self.assertEqual(len([x for x in out.splitlines()
                              if re.match(r"    case9\.test  down for", x, re.I)]), 1, out)
        # a server answers a's retry: the mark goes, and the others follow at once
        s = self.sink(port=port)
        self.assertEqual(self.mailq("retry", a).returncode, 0)
        self.assertTrue(self.m.wait_for(lambda: all(self.gone(q) for q in qids), 15),
                        self.mailq().stdout + self.m.log("queue")[-3000:])
        self.assertEqual(sorted(r for _, rs, _ in s.messages() for r in rs),
                         ["B@Case9.TEST", "a@case9.test", "c@CASE9.test"])
        self.assertNotRegex(self.mailq().stdout, r"(?i)case9\.test")

    def test_mail_waiting_for_a_try_wakes_by_the_next_rounds_shorter_step(self):
        """A QUEUE_BACKOFF whose steps get shorter (30 s, then 3 s): mail that waits while the
        try of its destination runs (6 s, a connect that times out) is tried at the next
        round, 3 s after that try, not 30 s after it began. Before, it slept this round's step
        from the start of the try (30 s), a round skipped; with 900,60 15 minutes."""
        self.addCleanup(self.backoff, "3,30,300")
        self.backoff("30,3")
        port = free_port()          # refused: the first round is quick
        add_route(self.m, "short5.test:127.0.0.1:%d" % port)
        first = inject(self.m, self.SENDER, ["c@short5.test"], MSG)
        self.addCleanup(self.drop, [first])
        self.assertTrue(self.m.wait_for(lambda: self.marked("short5.test", 1), 30),
                        self.m.log("queue")[-3000:])
        # the mark stays (rounds=1, 30 s); its message goes, so that only these two wait
        self.drop([first])
        self.assertTrue(self.m.wait_for(lambda: self.gone(first), 10))
        h = Hole(port)              # now its connects time out
        self.addCleanup(h.close)
        qids = [inject(self.m, self.SENDER, ["%s@short5.test" % x], MSG) for x in "ab"]
        self.addCleanup(self.drop, qids)
        self.assertTrue(self.m.wait_for(lambda: len(re.findall(
            r"<[ab]@short5\.test>  destination down: waits for its next try in",
            self.mailq().stdout)) == 2, 10), self.mailq().stdout)
        before = len(self.m.log("queue"))
        flushed = time.time()
        self.assertEqual(self.mailq("flush").returncode, 0)     # the try of one, now
        # it ends after 6 s: round 2, 3 s; the other is tried then (at about 9 s), and its
        # connect refused from then on, so that its try ends at once
        self.assertTrue(self.m.wait_for(
            lambda: any("deferred id=%s" % q in self.m.log("queue")[before:] for q in qids), 20),
            self.m.log("queue")[-3000:])
        self.assertTrue(self.m.wait_for(lambda: h.connecting() >= 1, 30),
                        self.m.log("queue")[-3000:])
        h.close()
        self.assertTrue(self.m.wait_for(
            lambda: all("deferred id=%s" % q in self.m.log("queue")[before:] for q in qids), 20),
            self.m.log("queue")[-3000:])
        took = time.time() - flushed
        self.assertLess(took, 24, "the other waited this round's step (30 s): %.1f s" % took)
        # queue-run marks the destination after it logs the try's deferral
        self.assertTrue(self.m.wait_for(lambda: self.marked("short5.test", 3, before), 10),
                        self.m.log("queue")[-3000:])

    def test_mailq_shows_the_later_of_the_marks_and_the_recipients_own_next_try(self):
        """A recipient tried three times waits QUEUE_BACKOFF's third step (300 s) for its next
        try, whatever the mark of its destination says (3 s, then 30 s): mailq shows the later
        of the two, and that it is the recipient's own wait, not the destination's (it waits
        as long if a server answers meanwhile). Before, it showed the mark's time, and then
        labelled its own wait "destination down: waits for its next try"."""
        grey = self.sink(script={"MAIL": ["451 4.7.1 greylisted grey6, come back later"] * 3})
        add_route(self.m, "grey6.test:127.0.0.1:%d" % grey.port)
        a = inject(self.m, self.SENDER, ["a@grey6.test"], MSG)
        self.addCleanup(self.drop, [a])
        for k in (1, 2, 3):
            self.assertTrue(self.m.wait_for(
                lambda: self.m.log("queue").count("deferred id=%s" % a) >= k, 30),
                self.m.log("queue")[-3000:])
            if k < 3:
                self.assertEqual(self.mailq("retry", a).returncode, 0)
        grey.stop()         # down now: connections refused
        b = inject(self.m, self.SENDER, ["b@grey6.test"], MSG)
        self.addCleanup(self.drop, [b])
        self.assertTrue(self.m.wait_for(lambda: self.marked("grey6.test", 1), 30),
                        self.m.log("queue")[-3000:])
        out = self.mailq().stdout
        line = [x for x in out.splitlines() if "<a@grey6.test>" in x]
        self.assertRegex(line[0] if line else "",
                         r"tries=3  waits for its own next try in [45]m\d\ds \(its destination is "
                         r"down too\)  .*greylisted grey6", out)
        line = [x for x in out.splitlines() if "<b@grey6.test>" in x]
        self.assertRegex(line[0] if line else "",
                         r"tries=\d  destination down: waits for its next try (in [123]?\ds|now)  ",
                         out)

    def test_after_a_flush_mailq_shows_the_try_queue_run_makes(self):
        """Two recipients tried three times each (their own next try 300 s on) wait for their
        destination, down. After `mailq flush` one job tries the destination, which is still
        down (its mark: 30 s), and the other mail waits for the mark only: the flush took
        their own wait away. mailq says so (in 30 s at most), and once the server is back the
        mail leaves at that time.
        Before, mailq showed its own step (4-5 minutes) although queue-run tried it 30 s on."""
        grey = self.sink(script={"MAIL": ["451 4.7.1 greylisted grey9, come back later"] * 6})
        add_route(self.m, "grey9.test:127.0.0.1:%d" % grey.port)
        rcpts = ["a@grey9.test", "c@grey9.test"]
        qids = [inject(self.m, self.SENDER, [r], MSG) for r in rcpts]
        self.addCleanup(self.drop, qids)
        count = lambda r: self.m.log("queue").count("to=<%s> reason=" % r)
        for k in (1, 2, 3):
            self.assertTrue(self.m.wait_for(lambda: all(count(r) >= k for r in rcpts), 30),
                            self.m.log("queue")[-3000:])
            if k < 3:
                for q in qids:
                    self.assertEqual(self.mailq("retry", q).returncode, 0)
        grey.stop()         # down now: connections refused
        b = inject(self.m, self.SENDER, ["b@grey9.test"], MSG)
        self.addCleanup(self.drop, [b])
        self.assertTrue(self.m.wait_for(lambda: self.marked("grey9.test", 1), 30),
                        self.m.log("queue")[-3000:])
        self.assertEqual(self.mailq("flush").returncode, 0)
        self.assertTrue(self.m.wait_for(lambda: self.marked("grey9.test", 2), 30),
                        self.m.log("queue")[-3000:])
        out = self.mailq().stdout
        # one of the three messages was the flush's try: a and c (or one of them) wait
        waiting = [x for x in out.splitlines() if "tries=3  destination down" in x]
        self.assertTrue(waiting, out)
        for line in waiting:
            self.assertRegex(line, r"waits for its next try (in (30|[12]?\d)s|now)  ", out)
        # the server is back: at the mark's time one job reaches it, and the mail that
        # waited follows at once, within the 30 s mailq showed, not 5 minutes on
        back = self.sink(port=grey.port)
        self.assertTrue(self.m.wait_for(lambda: all(self.gone(q) for q in qids + [b]), 40),
                        self.mailq().stdout + self.m.log("queue")[-3000:])
        self.assertEqual(sorted(r for _, rs, _ in back.messages() for r in rs),
                         ["a@grey9.test", "b@grey9.test", "c@grey9.test"])

    def test_a_flush_while_queue_run_is_stopped_is_kept(self):
        """A recipient tried three times (its next try 300 s on); queue-run is stopped, the
        operator flushes, queue-run starts: the recipient is tried at once, as mailq showed
        it (no wait of its own). Before, the flush was lost with no queue-run to read the
        trigger: it waited its 5 minutes."""
        grey = self.sink(script={"MAIL": ["451 4.7.1 greylisted grey10, come back later"] * 3})
        add_route(self.m, "grey10.test:127.0.0.1:%d" % grey.port)
        qid = inject(self.m, self.SENDER, ["a@grey10.test"], MSG)
        self.addCleanup(self.drop, [qid])
        for k in (1, 2, 3):
            self.assertTrue(self.m.wait_for(
                lambda: self.m.log("queue").count("deferred id=%s" % qid) >= k, 30),
                self.m.log("queue")[-3000:])
            if k < 3:
                self.assertEqual(self.mailq("retry", qid).returncode, 0)
        sdir = os.path.join(self.m.root, "service", "queue")
        self.addCleanup(subprocess.run, ["s6-svc", "-u", sdir])
        subprocess.run(["s6-svc", "-d", sdir], check=True)
        self.assertTrue(self.m.wait_for(lambda: not self.m.pids("queue"), 10))
        self.assertEqual(self.mailq("flush").returncode, 0)
        out = self.mailq().stdout
        subprocess.run(["s6-svc", "-u", sdir], check=True)
        self.m.wait_ready()
        self.assertTrue(self.m.wait_for(lambda: self.gone(qid), 15),
                        out + self.m.log("queue")[-3000:])
        self.assertEqual([r for _, rs, _ in grey.messages() for r in rs], ["a@grey10.test"])

    @unittest.skipUnless(IS_ROOT, "needs root to make the domain map unreadable to yubin-q")
    def test_a_map_that_cannot_be_read_and_a_delete_are_no_attempts(self):
        """A recipient tried once (its server answers 451), then queue-run cannot read
        cdb/domains.cdb: each deferral for it is no try, so its step stays the first (3 s,
        not 30 s then 300 s) and mailq says tries=1; deleted by the operator, its bounce gives
        the time of that one try as Last-Attempt-Date (RFC 3464 §2.3.7), not the deferrals'
        or the delete's. Before, every such line was counted as a try and dated the bounce."""
        grey = self.sink(script={"MAIL": ["451 4.7.1 greylisted grey8, come back later"] * 9})
        add_route(self.m, "grey8.test:127.0.0.1:%d" % grey.port)
        qid = inject(self.m, self.SENDER, ["a@grey8.test"], MSG)
        self.addCleanup(self.drop, [qid])
        self.assertTrue(self.m.wait_for(
            lambda: "deferred id=%s to=<a@grey8.test> reason=127.0.0.1" % qid
            in self.m.log("queue"), 30), self.m.log("queue")[-3000:])
        state = os.path.join(self.m.root, "queue", "state", qid)
        tried = int(re.search(r"(?m)^0 Z (\d+) 127\.0\.0\.1", open(state).read()).group(1))
        domains = os.path.join(self.m.root, "cdb", "domains.cdb")
        mode = os.stat(domains).st_mode
        unreadable = "deferred id=%s to=<a@grey8.test> reason=temporary failure reading the " \
                     "domain map (#4.3.0)" % qid
        os.chmod(domains, 0)
        try:
            got = self.m.wait_for(lambda: self.m.log("queue").count(unreadable) >= 3, 20)
            out = self.mailq().stdout
        finally:
            os.chmod(domains, mode)
        self.assertTrue(got, "the recipient kept its first step of 3 s: %s"
                        % self.m.log("queue")[-3000:])
        # logged at each deferral, written to its state file once (not a line a minute while
        # the map stays unreadable)
        self.assertEqual(open(state).read().count("temporary failure reading the domain map"), 1,
                         open(state).read())
        line = [x for x in out.splitlines() if "<a@grey8.test>" in x]
        self.assertRegex(line[0] if line else "", r"deferred +<a@grey8\.test>  tries=1  ", out)
        time.sleep(1.5)             # the delete a second later than any line before it
        self.assertEqual(self.mailq("delete", qid).returncode, 0)
        find = lambda: [t for t in read_all(self.m.messages(self.SENDER))
                        if "a@grey8.test" in t and "deleted by the operator" in t]
        self.assertTrue(self.m.wait_for(find, 30), self.m.log("queue")[-3000:])
        last = re.findall(r"Last-Attempt-Date: (.*)", find()[0])
        self.assertEqual(len(last), 1, find()[0])
        self.assertEqual(email.utils.parsedate_to_datetime(last[0].strip()).timestamp(), tried,
                         find()[0])

    down_entry = QueueDestinationDown.down_entry


@unittest.skipUnless(have("queue-run") and have("remote") and have("queue-inject"),
                     "bin/queue-run not built yet")
class QueueStopWaits(QueueCase):
    """queue-run told to stop (SIGTERM, as s6-svc -d and -r do) while a job runs: it waits in
    poll for the job to end, without scans. Its own root: a scan every 2 s (QUEUE_SCAN),
    connects that time out after 10 s."""
    SENDER = "admin@example.test"

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(prefix="yubin-stopwait-",
                         env={"QUEUE_SCAN": "2", "REMOTE_TIMEOUT_CONNECT": "10"})
        cls.m.start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def test_a_stop_waits_for_the_running_job_without_spinning(self):
        """A remote job in a long connect when queue-run is told to stop; then the time of its
        next scan passes and the operator flushes: queue-run waits for the job using next to
        no CPU, and exits once it ended. Before, the scan's time (or the flush's "now") kept
        poll's timeout at 0 once past: queue-run spun at 100% CPU until the job ended (up to
        QUEUE_JOB_TIMEOUT)."""
        h = Hole()
        self.addCleanup(h.close)
        add_route(self.m, "stop1.test:127.0.0.1:%d" % h.port)
        qid = inject(self.m, self.SENDER, ["a@stop1.test"], MSG)
        self.assertTrue(self.m.wait_for(lambda: h.connecting() >= 1, 15),
                        self.m.log("queue")[-3000:])
        pid = [p for p in self.m.pids("queue") if proc_name(p) == "queue-run"][0]
        starts = self.m.log("queue").count("info: started:")
        os.kill(pid, signal.SIGTERM)
        self.assertTrue(self.m.wait_for(
            lambda: "stopping: waiting for 1 running deliveries" in self.m.log("queue"), 5))
        self.assertEqual(self.mailq("flush").returncode, 0)
        time.sleep(2.5)             # past the next scan's time (2 s)
        t, c = time.time(), cpu_seconds(pid)
        time.sleep(3)
        cpu, wall = cpu_seconds(pid) - c, time.time() - t
        self.assertLess(cpu, 0.3 * wall, "queue-run spun while it waited for a job to stop: "
                        "%.2f s of CPU in %.1f s" % (cpu, wall))
        self.assertTrue(os.path.exists("/proc/%d" % pid), "queue-run did not wait for the job")
        h.close()                   # refused from now on: the job ends at once
        # the job ends (connect refused), queue-run exits, s6 starts it again
        self.assertTrue(self.m.wait_for(
            lambda: self.m.log("queue").count("info: started:") > starts, 30),
            self.m.log("queue")[-3000:])
        self.m.wait_ready()
        self.assertIn("deferred id=%s" % qid, self.m.log("queue"))
        self.assertFalse(self.gone(qid))
        self.mailq("delete", qid, "--silent")


@unittest.skipUnless(have("queue-run") and have("remote") and have("queue-inject"),
                     "bin/queue-run not built yet")
class QueueDownFull(QueueCase):
    """More destinations down than queue-run remembers (QUEUE_DOWN_MAX, 256). Its own root:
    rounds of 10 minutes (QUEUE_BACKOFF=600)."""
    SENDER = "admin@example.test"

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(prefix="yubin-downfull-", env={"QUEUE_BACKOFF": "600"})
        cls.m.start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def waits(self, rcpt):
        return re.search(r"<%s>  destination down: waits for its next try in 9m" % re.escape(rcpt),
                         self.mailq().stdout)

    def test_a_mark_forgotten_for_room_wakes_its_mail_and_a_try_keeps_its_own(self):
        """x.test's try runs (a delivery held at the dot) while its listener is closed (b
        refused: x.test marked down, c waits for it); y.test refuses (marked, q waits for it)
        and then comes back. 256 more destinations go down: the marks given up for them are
        those without a running try, y.test's first: q is woken and delivered at once; x.test
        keeps its mark, and once a's delivery ends (a server answered) c follows at once.
        Before, the mark due soonest was given up, x.test's: c slept 10 minutes and the answer
        woke nobody; q slept 10 minutes too."""
        gate = threading.Event()
        s = self.sink(gate=gate)
        self.addCleanup(gate.set)
        xport = s.port
        yport = free_port()
        add_route(self.m, "x.test:127.0.0.1:%d" % xport)
        add_route(self.m, "y.test:127.0.0.1:%d" % yport)
        a = inject(self.m, self.SENDER, ["a@x.test"], MSG)
        self.assertTrue(self.m.wait_for(s.got_data.is_set, 30), self.m.log("queue")[-3000:])
        s.stop()            # a's session stays, held at the dot; new connections are refused
        b = inject(self.m, self.SENDER, ["b@x.test"], MSG)
        self.assertTrue(self.m.wait_for(
            lambda: "destination down domain=x.test rounds=1 " in self.m.log("queue"), 30),
            self.m.log("queue")[-3000:])
        c = inject(self.m, self.SENDER, ["c@x.test"], MSG)
        p = inject(self.m, self.SENDER, ["p@y.test"], MSG)
        self.assertTrue(self.m.wait_for(
            lambda: "destination down domain=y.test rounds=1 " in self.m.log("queue"), 30),
            self.m.log("queue")[-3000:])
        q = inject(self.m, self.SENDER, ["q@y.test"], MSG)
        self.assertTrue(self.m.wait_for(lambda: self.waits("c@x.test") and self.waits("q@y.test"),
                                        10), self.mailq().stdout)
        ys = self.sink(port=yport)          # y.test is back; nothing tells queue-run
        refused = free_port()
        with open(os.path.join(self.m.root, "etc", "routes"), "a") as f:
            for k in range(256):
                f.write("d%d.test:127.0.0.1:%d\n" % (k, refused))
        subprocess.run([self.m.bin("mkmaps"), "--root", self.m.root], env=self.m.env(),
                       check=True, capture_output=True)
        for k in range(256):
            inject(self.m, self.SENDER, ["r@d%d.test" % k], MSG)
        self.assertTrue(self.m.wait_for(
            lambda: self.m.log("queue").count("destination down domain=d") >= 256, 90),
            self.m.log("queue")[-3000:])
        log = self.m.log("queue")
        self.assertIn("destination forgotten domain=y.test ", log)
        self.assertNotIn("destination forgotten domain=x.test ", log)
        self.assertTrue(self.m.wait_for(lambda: self.gone(q), 15),
                        "q (never tried, waiting for y.test's mark) not woken when the mark "
                        "went\n" + self.mailq().stdout[:3000])
        self.assertEqual([r for _, rcpts, _ in ys.messages() for r in rcpts], ["q@y.test"])
        self.assertFalse(self.gone(p), "p waits for its own next try (10 minutes)")
        with open(os.path.join(self.m.root, "queue", "down")) as f:
            self.assertRegex(f.read(), r"(?m)^x\.test ")
        back = self.sink(port=xport)
        gate.set()
        self.assertTrue(self.m.wait_for(lambda: self.gone(a), 20), self.m.log("queue")[-3000:])
        # said before a's files go; through s6-log, maybe a moment after
        self.assertTrue(self.m.wait_for(lambda: "destination up domain=x.test"
                                        in self.m.log("queue"), 10), self.m.log("queue")[-3000:])
        self.assertTrue(self.m.wait_for(lambda: self.gone(c), 15),
                        "c (never tried, waiting for x.test's mark) not woken by the answer\n"
                        + self.mailq().stdout[:3000])
        self.assertEqual(sorted(r for x in (s, back) for _, rcpts, _ in x.messages()
                                for r in rcpts), ["a@x.test", "c@x.test"])
        self.assertFalse(self.gone(b), "b waits for its own next try (10 minutes)")


@unittest.skipUnless(have("queue-run") and have("remote") and have("queue-inject"),
                     "bin/queue-run not built yet")
class QueueDownNotices(QueueCase):
    """The sender of mail that waits for a destination that is down hears of it as of mail
    that was tried: the delay warning, then the bounce once it expires, each with remote's
    reason. Its own root: rounds of 2 s, a warning after 4 s, expiry after 10 s."""
    SENDER = "admin@example.test"

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(prefix="yubin-downnote-",
                         env={"QUEUE_BACKOFF": "2", "QUEUE_WARN": "4", "QUEUE_LIFETIME": "10"})
        cls.m.start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def notices(self, action, domain):
        """{local part: [notice, ...]} of the notices with Action: action about domain."""
        out = {}
        for t in read_all(self.m.messages(self.SENDER)):
            if "Action: %s" % action not in t:
                continue
            for local in re.findall(r"Final-Recipient: rfc822; (\w+)@%s" % re.escape(domain), t):
                out.setdefault(local, []).append(t)
        return out

    def test_mail_waiting_for_a_destination_down_is_warned_and_expires_with_its_reason(self):
        """20 messages for a receiver that refuses connections: most are never tried (one try
        a round), yet every sender gets one delay warning saying why (remote's reason,
        Status 4.4.1), and once the messages expire, a bounce with the same reason. Before,
        only the messages that happened to be tried were warned, and one that expired waiting
        said "no mail server of D answered" instead of what happened."""
        n = 20
        port = free_port()
        add_route(self.m, "down7.test:127.0.0.1:%d" % port)
        qids = [inject(self.m, self.SENDER, ["w%d@down7.test" % i], MSG) for i in range(n)]
        want = sorted("w%d" % i for i in range(n))
        self.assertTrue(self.m.wait_for(lambda: len(self.notices("delayed", "down7.test")) >= n,
                                        30),
                        "warned: %s\n%s" % (sorted(self.notices("delayed", "down7.test")),
                                            self.m.log("queue")[-3000:]))
        warned = self.notices("delayed", "down7.test")
        self.assertEqual(sorted(warned), want)
        # the premise: most of them were never tried when their warning was sent. queue-run's
        # lines come through s6-log, maybe after the warnings are delivered
        unwarned = lambda: [q for q in qids if not re.search(r"warning id=\S+ for id=%s " % q,
                                                             self.m.log("queue"))]
        self.assertTrue(self.m.wait_for(lambda: not unwarned(), 10),
                        "no warning logged for id=%s" % unwarned())
        log = self.m.log("queue")
        untried = set()
        for i, q in enumerate(qids):
            at = re.search(r"warning id=\S+ for id=%s " % q, log)
            self.assertTrue(at, "no warning logged for id=%s" % q)
            if "deferred id=%s " % q not in log[:at.start()]:
                untried.add("w%d" % i)
        self.assertGreater(len(untried), n // 2, "most were tried before their warning: "
                           "the test says nothing of mail that waits untried")
        for local, texts in warned.items():
            self.assertEqual(len(texts), 1, local)
            self.assertIn("Status: 4.4.1", texts[0])
            self.assertIn("cannot connect to port %d" % port, texts[0])
            # sent once the message is QUEUE_WARN (4 s) old, not before
            date = email.utils.parsedate_to_datetime(
                re.search(r"(?m)^Date: (.*)$", texts[0]).group(1))
            arrival = email.utils.parsedate_to_datetime(
                re.search(r"(?m)^Arrival-Date: (.*)$", texts[0]).group(1))
            self.assertGreaterEqual((date - arrival).total_seconds(), 4, local)
            # RFC 3464 §2.3.7: no Last-Attempt-Date for a recipient never tried
            self.assertEqual("Last-Attempt-Date:" in texts[0], local not in untried, local)
        self.assertTrue(self.m.wait_for(lambda: len(self.notices("failed", "down7.test")) >= n,
                                        60),
                        "bounced: %s\n%s" % (sorted(self.notices("failed", "down7.test")),
                                             self.m.log("queue")[-3000:]))
        bounced = self.notices("failed", "down7.test")
        self.assertEqual(sorted(bounced), want)
        # each recipient's "bounced" line, through s6-log, maybe after its bounce is delivered
        unlogged = lambda: [q for q in qids if "bounced id=%s " % q not in self.m.log("queue")]
        self.assertTrue(self.m.wait_for(lambda: not unlogged(), 10),
                        "no bounce logged for id=%s" % unlogged())
        log = self.m.log("queue")
        # never tried: expired while it waited for the mark ("destination down: message
        # expired ..."), no try before
        never = {"w%d" % i for i, q in enumerate(qids) if "deferred id=%s " % q not in log
                 and re.search(r"bounced id=%s to=<[^>]*> reason=destination down: message "
                               r"expired " % q, log)}
        self.assertTrue(never, "every message was tried before it expired")
        for local, texts in bounced.items():
            self.assertEqual(len(texts), 1, local)
            self.assertIn("Status: 4.4.7", texts[0])
            self.assertIn("cannot connect to port %d" % port, texts[0])
            self.assertNotIn("no mail server of", texts[0])
            self.assertEqual("Last-Attempt-Date:" in texts[0], local not in never, local)
        self.assertTrue(self.m.wait_for(lambda: all(self.gone(q) for q in qids), 30))


@unittest.skipUnless(have("queue-run") and have("remote") and have("queue-inject"),
                     "bin/queue-run not built yet")
class QueueConnectionReuse(QueueCase):
    """remote keeps a plaintext connection open after a message and sends the next message
    for the same server over it (RSET first), as Postfix's connection cache does."""
    SENDER = "admin@example.test"

    @classmethod
    def setUpClass(cls):
        # a long idle time: the next message of a test may come seconds later on a busy box
        cls.m = MailRoot(env={"REMOTE_CACHE_IDLE": "60"}, prefix="yubin-reuse-")
        cls.m.start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def send_one(self, domain, rcpt):
        """Queue one message and wait until queue-run has finished with it."""
        qid = inject(self.m, self.SENDER, [rcpt + "@" + domain], MSG)
        self.assertTrue(self.m.wait_for(lambda: self.gone(qid) or "deferred" in
                                        self.mailq().stdout, 30),
                        self.mailq().stdout + self.m.all_logs()[-3000:])
        return qid

    def test_one_remote_process_runs_job_after_job(self):
        """REMOTE_PROCESS_USES (default 100): the second message's job runs in the process
        that ran the first one's, as ps shows, and between jobs that process keeps no queue
        file open or mapped (delivery's unlink frees the disk space at once)."""
        s = self.sink()
        add_route(self.m, "reuse9.test:127.0.0.1:%d" % s.port)
        self.send_one("reuse9.test", "x")
        first = set(loop_children(self.m, "remote"))
        self.assertTrue(first, "a remote process waits for the next job")
        self.send_one("reuse9.test", "y")
        second = set(loop_children(self.m, "remote"))
        self.assertEqual(len(s.messages()), 2)
        self.assertTrue(first & second, "the same process ran both jobs: %s then %s"
                        % (sorted(first), sorted(second)))
        for p in second:
            paths = open_paths(p)
            self.assertFalse([x for x in paths if "/queue/" in x], paths)

    def test_two_messages_for_one_domain_go_over_one_connection(self):
        s = self.sink()
        add_route(self.m, "reuse1.test:127.0.0.1:%d" % s.port)
        self.send_one("reuse1.test", "x")
        self.send_one("reuse1.test", "y")
        self.assertEqual(len(s.messages()), 2)
        self.assertEqual(len(s.sessions), 1, [x.commands for x in s.sessions])
        cmds = [c.split(b" ")[0] for c in s.sessions[0].commands]
        self.assertEqual(cmds.count(b"EHLO"), 1, cmds)
        # the second message starts with RSET; no QUIT in between
        second = cmds[cmds.index(b"DATA") + 1:]
        self.assertEqual(second[:2], [b"RSET", b"MAIL"], cmds)
        self.assertNotIn(b"QUIT", cmds)
        # PIPELINING offered: RSET, MAIL, RCPT and DATA came in one write
        chunks = s.sessions[0].raw_chunks
        rset = [n for c, n in chunks if c == b"RSET"][0]
        self.assertGreater(rset, 0, chunks)
        last_rcpt = [n for c, n in chunks if c.startswith(b"RCPT")][-1]
        self.assertGreater(last_rcpt, 0, "DATA should follow the last RCPT in its write")

    def test_without_pipelining_one_command_at_a_time_on_a_reused_connection(self):
        s = self.sink(caps=["SIZE 1000000"])
        add_route(self.m, "reuse2.test:127.0.0.1:%d" % s.port)
        self.send_one("reuse2.test", "x")
        self.send_one("reuse2.test", "y")
        self.assertEqual(len(s.messages()), 2)
        self.assertEqual(len(s.sessions), 1, [x.commands for x in s.sessions])
        self.assertIn(b"RSET", s.sessions[0].commands)
        self.assertTrue(all(n == 0 for _, n in s.sessions[0].raw_chunks),
                        s.sessions[0].raw_chunks)

    def test_4xx_on_the_second_message_defers_only_that_message(self):
        s = self.sink(script={"DOT": ["250 2.0.0 first ok", "451 4.3.0 reuse3 disk busy"]})
        add_route(self.m, "reuse3.test:127.0.0.1:%d" % s.port)
        q1 = self.send_one("reuse3.test", "x")
        q2 = self.send_one("reuse3.test", "y")
        self.assertTrue(self.gone(q1))
        self.assertEqual(len(s.sessions), 1, [x.commands for x in s.sessions])
        out = self.mailq().stdout
        self.assertIn(q2, out)
        self.assertNotIn(q1, out)
        self.assertIn("451 4.3.0 reuse3 disk busy", out)
        self.assertEqual(self.mailq("flush").returncode, 0)
        self.assertTrue(self.m.wait_for(lambda: self.gone(q2), 30), self.mailq().stdout)
        # each message reached the sink once
        self.assertEqual(sorted(r for _, rs, _ in s.messages() for r in rs),
                         ["x@reuse3.test", "y@reuse3.test"])

    def test_connection_closed_while_idle_is_replaced(self):
        """A server that dropped the idle session (421 to RSET) costs nothing: the message
        goes over a new connection and is delivered."""
        s = self.sink(script={"RSET": ["421 4.4.2 reuse4 idle too long, closing"]})
        add_route(self.m, "reuse4.test:127.0.0.1:%d" % s.port)
        self.send_one("reuse4.test", "x")
        q2 = self.send_one("reuse4.test", "y")
        self.assertTrue(self.gone(q2), self.mailq().stdout)
        self.assertEqual(len(s.messages()), 2)
        self.assertEqual(len(s.sessions), 2)
        self.assertTrue(self.m.wait_for(lambda: "idle connection closed by the server" in
                                        self.m.log("remote"), 10), self.m.log("remote"))


@unittest.skipUnless(have("queue-run") and have("remote") and have("queue-inject"),
                     "bin/queue-run not built yet")
class QueueLifetime(unittest.TestCase):
    def test_lifetime_expiry_bounces(self):
        m = MailRoot(env={"QUEUE_LIFETIME": "3", "QUEUE_WARN": "0"})
        m.start()
        self.addCleanup(m.stop)
        add_route(m, "e2e5.test:127.0.0.1:%d" % free_port())   # nobody listens there
        qid = inject(m, "admin@example.test", ["x@e2e5.test"], MSG)
        time.sleep(4)
        subprocess.run([m.bin("mailq"), "--root", m.root, "flush"], env=m.env(),
                       capture_output=True)
        ok = m.wait_for(lambda: [t for t in read_all(m.messages("admin@example.test"))
                                 if "x@e2e5.test" in t], 60)
        self.assertTrue(ok, m.all_logs()[-3000:])
        self.assertTrue(m.wait_for(lambda: not os.path.exists(
            os.path.join(m.root, "queue", "mess", qid)), 30))


@unittest.skipUnless(have("queue-run") and have("remote") and have("queue-inject")
                     and have("mailq"), "bin/queue-run or mailq not built yet")
class QueueLastDelivery(QueueCase):
    """What happens to a message while its last delivery is in flight: the server holds its
    250 to the dot (a gate the test opens), and meanwhile queue-run is restarted, or the
    operator holds or deletes the message. The D line that completes a message is kept back
    from state/ID (docs/queue.md "queue-run"); whatever reads that file again must still see
    the recipient delivered. A private tree: these tests restart queue-run."""
    SENDER = "admin@example.test"   # a local account: a bounce would land in its Maildir

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(prefix="yubin-last-")
        cls.m.start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def in_flight(self, domain, subject):
        """A message to x@DOMAIN whose server has its data and holds the final reply. Returns
        (queue id, sink, gate)."""
        gate = threading.Event()
        self.addCleanup(gate.set)
        s = self.sink(gate=gate)
        add_route(self.m, "%s:127.0.0.1:%d" % (domain, s.port))
        qid = inject(self.m, self.SENDER, ["x@" + domain],
                     ("Subject: %s\n\nbody\n" % subject).encode())
        self.assertTrue(s.got_data.wait(30), self.m.all_logs()[-3000:])
        return qid, s, gate

    def logged_end(self, qid):
        """queue-run's last word on qid: removed (done) or let go (gone)."""
        return re.search(r"info: (done|gone) id=%s" % qid, self.m.log("queue"))

    def listing(self, qid):
        """mailq's lines about qid: its header line and its recipients' lines."""
        lines = self.mailq().stdout.splitlines()
        k = [i for i, x in enumerate(lines) if x.startswith(qid)]
        if not k:
            return []
        out = [lines[k[0]]]
        for x in lines[k[0] + 1:]:
            if not x.startswith("    "):
                break
            out.append(x)
        return out

    def test_restart_during_the_last_delivery_delivers_once(self):
        """s6-svc -r while the server still holds its 250: queue-run waits for the result and
        the message is not delivered a second time by the next queue-run."""
        qid, s, gate = self.in_flight("last1.test", "restart")
        sdir = os.path.join(self.m.root, "service", "queue")
        old = self.m.pids("queue")[:1]
        stops = self.m.log("queue").count("info: stopping")
        subprocess.run(["s6-svc", "-r", sdir], check=True)
        self.assertTrue(self.m.wait_for(
            lambda: self.m.log("queue").count("info: stopping") > stops, 10), self.m.log("queue"))
        gate.set()
        self.assertTrue(self.m.wait_for(lambda: self.m.pids("queue")[:1] not in ([], old), 30),
                        self.m.log("queue")[-3000:])
        self.m.wait_ready()
        self.assertTrue(self.m.wait_for(lambda: self.gone(qid), 30),
                        self.mailq().stdout + self.m.log("queue")[-3000:])
        self.assertEqual(len(s.messages()), 1, "delivered again after the restart\n"
                         + self.m.log("queue")[-3000:])

    def test_hold_during_the_last_delivery(self):
        """mailq hold while the server holds its 250: the held message is listed delivered,
        and mailq release removes it instead of delivering it again."""
        qid, s, gate = self.in_flight("last2.test", "hold")
        r = self.mailq("hold", qid)
        self.assertEqual(r.returncode, 0, r.stderr)
        gate.set()
        self.assertTrue(self.m.wait_for(lambda: self.logged_end(qid), 30),
                        self.m.log("queue")[-3000:])
        shown = self.listing(qid)
        self.assertEqual(len(shown), 2, self.mailq().stdout)
        self.assertIn("held", shown[0])
        self.assertRegex(shown[1], r"^\s+delivered\s+<x@last2\.test>", self.mailq().stdout)
        r = self.mailq("release", qid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(self.m.wait_for(lambda: self.gone(qid), 30),
                        self.mailq().stdout + self.m.log("queue")[-3000:])
        self.assertFalse(os.path.exists(os.path.join(self.m.root, "queue", "hold", qid)))
        self.assertEqual(len(s.messages()), 1, "delivered again after the release\n"
                         + self.m.log("queue")[-3000:])

    def test_delete_during_the_last_delivery_bounces_nothing(self):
        """mailq delete while the server holds its 250: the message was delivered, so the
        sender gets no bounce saying it was deleted."""
        qid, s, gate = self.in_flight("last3.test", "delete")
        r = self.mailq("delete", qid)
        self.assertEqual(r.returncode, 0, r.stderr)
        gate.set()
        self.assertTrue(self.m.wait_for(lambda: self.gone(qid), 30),
                        self.mailq().stdout + self.m.log("queue")[-3000:])
        self.assertTrue(self.m.wait_for(lambda: self.logged_end(qid), 10))
        # a bounce is queued (and logged) before the message's removal is
        self.assertNotIn("for id=%s" % qid, self.m.log("queue"))
        self.assertEqual(len(s.messages()), 1)
        bounced = [t for t in read_all(self.m.messages(self.SENDER)) if "x@last3.test" in t]
        self.assertEqual(bounced, [])

    @unittest.skipUnless(IS_ROOT and shutil.which("strace"), "needs root and strace")
    def test_scan_removes_a_state_file_without_its_message(self):
        """queue-run killed (SIGKILL, by strace) between the removal's two unlinks, mess/ID
        gone and state/ID not: s6 starts it again, and its scan removes that state file once
        it is old; the old state file of a held message is not."""
        qdir = os.path.join(self.m.root, "queue")
        s5 = self.sink(script={"RCPT": ["451 4.3.0 last5 try later"]})
        add_route(self.m, "last5.test:127.0.0.1:%d" % s5.port)
        orphan = inject(self.m, self.SENDER, ["x@last5.test"], b"Subject: orphan\n\nbody\n")
        path = os.path.join(qdir, "state", orphan)
        self.assertTrue(self.m.wait_for(lambda: os.path.exists(path), 30),
                        self.m.log("queue")[-3000:])      # deferred once: it has a state
        pid = [p for p in self.m.pids("queue") if open("/proc/%d/comm" % p).read().strip()
               == "queue-run"][0]
        tracer = subprocess.Popen(["strace", "-qq", "-p", str(pid), "-e", "trace=unlink,unlinkat",
                                   "-e", "inject=unlink,unlinkat:signal=KILL:when=2"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: tracer.poll() is None and tracer.kill())
        time.sleep(0.5)     # attached
        self.assertEqual(self.mailq("retry", orphan).returncode, 0)
        self.assertTrue(self.m.wait_for(lambda: not os.path.exists("/proc/%d" % pid), 20),
                        "killed at its second unlink")
        tracer.wait(10)
        self.assertFalse(os.path.exists(os.path.join(qdir, "mess", orphan)), "mess/ID gone")
        self.assertTrue(os.path.exists(path), "state/ID left by the crash")
        self.assertEqual(len(s5.messages()), 1, "delivered once")
        self.m.wait_ready(20)       # s6 started queue-run again
        s = self.sink(script={"RCPT": ["451 4.3.0 last4 try later"]})
        add_route(self.m, "last4.test:127.0.0.1:%d" % s.port)
        qid = inject(self.m, self.SENDER, ["x@last4.test"], b"Subject: held long\n\nbody\n")
        held_state = os.path.join(qdir, "state", qid)
        self.assertTrue(self.m.wait_for(lambda: os.path.exists(held_state), 30),
                        self.m.log("queue")[-3000:])
        self.addCleanup(self.mailq, "delete", qid, "--silent")
        r = self.mailq("hold", qid)
        self.assertEqual(r.returncode, 0, r.stderr)
        old = time.time() - 86400 * 3
        os.utime(path, (old, old))
        os.utime(held_state, (old, old))
        self.assertEqual(self.mailq("flush").returncode, 0)     # a flush scans at once
        self.assertTrue(self.m.wait_for(lambda: not os.path.exists(path), 10),
                        self.m.log("queue")[-3000:])
        # the log line follows the unlink, through queue-run's logger: waited for too
        self.assertTrue(self.m.wait_for(
            lambda: "removed stale state/%s" % orphan in self.m.log("queue"), 10),
            self.m.log("queue")[-3000:])
        self.assertTrue(os.path.exists(held_state))
        self.assertIn("held", self.listing(qid)[0])
