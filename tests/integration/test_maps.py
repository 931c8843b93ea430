"""mkmaps and mailacct on a mail root built by yubin-setup (no services needed): every
mailacct subcommand and refusal, FILE:LINE on a bad line with the old cdbs untouched, changes
live in the cdbs (read with tinycdb's `cdb -q`), owners and modes, the trash, the sheet."""
import fcntl
import grp
import hashlib
import os
import pwd
import re
import shutil
import stat
import subprocess
import time
import unittest
import xml.etree.ElementTree as ET

from harness import MailRoot, IS_ROOT, as_user, have

CDBS = ("users", "domains", "aliases", "routes", "auth")


def cdb_get(root, name, key):
    """The value of key in ROOT/cdb/NAME.cdb (tinycdb's cdb -q), or None if absent."""
    r = subprocess.run(["cdb", "-q", os.path.join(root, "cdb", name + ".cdb"), key],
                       capture_output=True)
    return r.stdout.decode() if r.returncode == 0 else None


def pwid(root, addr):
    """users.cdb's pwid= for addr's hash in auth.cdb: the SHA-256 of the hash string, 16 hex
    digits (docs/maps.md)."""
    return hashlib.sha256(cdb_get(root, "auth", addr).encode()).hexdigest()[:16]


def crypt_ok(password, hashed):
    """Check a $6$ hash with openssl (Python 3.13 has no crypt module)."""
    m = re.match(r"^\$6\$([^$]+)\$", hashed)
    if not m:
        return False
    out = subprocess.run(["openssl", "passwd", "-6", "-salt", m.group(1), "-stdin"],
                         input=password, capture_output=True, text=True).stdout.strip()
    return out == hashed


@unittest.skipUnless(have("mailacct") and have("mkmaps") and have("yubin-setup"),
                     "needs bin/mailacct, bin/mkmaps and bin/yubin-setup")
class MapsTest(unittest.TestCase):
    def setUp(self):
        self.m = MailRoot(prefix="yubin-maps-")
        self.addCleanup(shutil.rmtree, self.m.root, True)   # also when setup() fails
        self.m.setup()      # domains example.test (premium), example2.test (basic), admin@
        self.root = self.m.root

    # --- helpers
    def acct(self, *args, input=None, env=None):
        e = self.m.env()
        e.update(env or {})
        return subprocess.run([self.m.bin("mailacct"), "--root", self.root] + list(args),
                              capture_output=True, text=True, input=input, env=e)

    def ok(self, *args, **kw):
        r = self.acct(*args, **kw)
        self.assertEqual(r.returncode, 0, "mailacct %s: %s" % (" ".join(args), r.stderr))
        return r.stdout

    def refused(self, args, pattern, code=100):
        before = self.snapshot()
        r = self.acct(*args)
        self.assertEqual(r.returncode, code, "mailacct %s: %s%s" % (" ".join(args), r.stdout,
                                                                     r.stderr))
        self.assertRegex(r.stderr, pattern)
        self.assertEqual(len(r.stderr.strip().split("\n")), 1, "one line: %r" % r.stderr)
        self.assertEqual(before, self.snapshot(), "a refusal must change no file")
        return r

    def snapshot(self):
        out = {}
        for d, names in (("etc", ("domains", "users", "aliases", "routes")),
                         ("cdb", [c + ".cdb" for c in CDBS])):
            for n in names:
                p = os.path.join(self.root, d, n)
                out[p] = open(p, "rb").read() if os.path.exists(p) else None
        return out

    def mkmaps(self, *args):
        return subprocess.run([self.m.bin("mkmaps"), "--root", self.root] + list(args),
                              capture_output=True, text=True, env=self.m.env())

    def etc(self, name):
        return open(os.path.join(self.root, "etc", name)).read()

    def append_etc(self, name, text):
        with open(os.path.join(self.root, "etc", name), "a") as f:
            f.write(text)

    # --- domains
    def test_domain_subcommands(self):
        out = self.ok("domain", "add", "New.Test", "--plan", "secure")
        self.assertIn("new.test", out)
        self.assertEqual(cdb_get(self.root, "domains", "new.test"),
                         "plan=secure quota=52428800 maxquota=52428800 pop3s=1")
        lines = self.ok("domain", "list").split("\n")
        self.assertIn("new.test secure", lines)
        self.assertIn("example2.test basic", lines)
        self.ok("domain", "plan", "new.test", "basic")
        self.assertEqual(cdb_get(self.root, "domains", "new.test"),
                         "plan=basic quota=20971520 maxquota=52428800 pop3s=0")
        self.assertEqual(cdb_get(self.root, "aliases", "postmaster@new.test"),
                         "admin@example.test")
        self.refused(["domain", "add", "new.test", "--plan", "basic"], r"already exists")
        self.refused(["domain", "add", "other.test", "--plan", "gold"], r"unknown plan gold")
        self.refused(["domain", "add", "bad_domain", "--plan", "basic"], r"invalid domain")
        self.refused(["domain", "plan", "nowhere.test", "basic"], r"unknown domain nowhere.test")
        self.refused(["domain", "plan", "new.test", "gold"], r"unknown plan")
        self.ok("add", "a@new.test", "--password", "pw-1")
        self.refused(["domain", "del", "new.test"], r"still has 1 account")
        self.ok("del", "a@new.test")
        self.ok("domain", "del", "new.test")
        self.assertIsNone(cdb_get(self.root, "domains", "new.test"))
        self.assertIsNone(cdb_get(self.root, "aliases", "postmaster@new.test"))
        self.refused(["domain", "del", "new.test"], r"unknown domain")

    def test_domain_del_refused_while_aliases_use_it(self):
        self.ok("domain", "add", "gone.test", "--plan", "basic")
        self.ok("add", "u@example.test", "--password", "pw-1")
        self.append_etc("aliases", "info@gone.test: u@example.test\n")
        self.assertEqual(self.mkmaps("--quiet").returncode, 0)
        self.refused(["domain", "del", "gone.test"], r"etc/aliases line \d+")

    def test_plan_change_refused_when_a_quota_no_longer_fits(self):
        self.ok("add", "big@example.test", "--password", "pw-1", "--quota", "50M")
        self.ok("domain", "add", "small.test", "--plan", "premium")
        self.append_etc("plans", "tiny:5M:10M:no\n")
        self.ok("add", "q@small.test", "--password", "pw-1", "--quota", "40M")
        self.refused(["domain", "plan", "small.test", "tiny"],
                     r"users:\d+: quota 40 MB of q@small.test is above the tiny plan")

    # --- accounts
    def test_add_is_live_with_maildir_and_sheet(self):
        out = self.ok("add", "Demo@Example.test", "--password", "S3cret-pw", "--quota", "30M")
        self.assertEqual(cdb_get(self.root, "users", "demo@example.test"),
                         "quota=31457280 plan=premium pop3s=1 home=mail/example.test/demo "
                         "pwid=%s msgs=200 rcpts=1000" % pwid(self.root, "demo@example.test"))
        h = cdb_get(self.root, "auth", "demo@example.test")
        self.assertTrue(h.startswith("$6$"), h)
        self.assertTrue(crypt_ok("S3cret-pw", h))
        self.assertFalse(crypt_ok("s3cret-pw", h), "passwords are case-sensitive")
        self.assertNotIn("S3cret-pw", self.etc("users"))
        md = self.m.maildir("demo@example.test")
        want = pwd.getpwnam("yubin-mbox").pw_uid if IS_ROOT else os.getuid()
        for sub in ("", "tmp", "new", "cur"):
            st = os.stat(os.path.join(md, sub))
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o700, sub)
            self.assertEqual(st.st_uid, want, sub)
        # the sheet: Japanese first, then English, the manual's wording
        for s in ("受信メールサーバ名: pop3.example.test", "使用ポート: 110",
                  "認証方法: 平文パスワード", "メールアカウント名: demo@example.test",
                  "パスワード: S3cret-pw", "送信メールサーバ名: smtp.example.test",
                  "25 または 587", "SMTP Auth または POP before SMTP",
                  "送信可能な最大メールサイズ/1通: 20MB", "POP over SSL",
                  "Incoming mail server: pop3.example.test", "Account name: demo@example.test",
                  "Password: S3cret-pw", "Outgoing mail server: smtp.example.test",
                  "30 MB", "1.37", "13MB~18MB"):
            self.assertIn(s, out)
        self.assertLess(out.index("受信メールサーバ名"), out.index("Incoming mail server"))
        me = self.etc("me").strip()
        self.assertRegex(out, r"受信メールサーバ名: %s\n  使用ポート: 995" % re.escape(me))
        self.assertRegex(out, r"送信メールサーバ名: %s\n  使用ポート: 465" % re.escape(me))
        # basic plan: no POP3 over TLS
        out = self.ok("add", "b@example2.test", "--password", "pw-2")
        self.assertNotIn("995", out)
        self.assertIn("20 MB", out)
        self.assertEqual(cdb_get(self.root, "users", "b@example2.test"),
                         "quota=20971520 plan=basic pop3s=0 home=mail/example2.test/b "
                         "pwid=%s msgs=200 rcpts=1000" % pwid(self.root, "b@example2.test"))

    def test_add_refusals(self):
        self.ok("add", "dup@example.test", "--password", "pw-1")
        self.refused(["add", "x@nowhere.test", "--password", "p"], r"unknown domain nowhere.test")
        self.refused(["add", "dup@example.test", "--password", "p"], r"already exists")
        self.append_etc("aliases", "sales@example.test: dup@example.test\n")
        self.assertEqual(self.mkmaps("--quiet").returncode, 0)
        self.refused(["add", "sales@example.test", "--password", "p"], r"already an alias")
        self.refused(["add", "bad..dot@example.test", "--password", "p"], r"invalid address")
        self.refused(["add", "noat.example.test", "--password", "p"], r"invalid address")
        self.refused(["add", "q@example2.test", "--password", "p", "--quota", "60M"],
                     r"above the basic plan's maximum 50 MB.*--force")
        self.refused(["add", "q@example2.test", "--password", "p", "--quota", "12X"],
                     r"bad size 12X")
        self.refused(["add", "q@example2.test", "--password", "p", "--quota", "0"],
                     r"unlimited.*--force")
        self.refused(["add", "q@example2.test", "--password", "a\tb"], r"bad password")
        self.refused(["add", "q@example2.test", "--password"], r"usage")
        self.refused(["add", "q@example2.test", "--password", "p", "--random"], r"usage")
        self.refused(["frobnicate"], r"usage")
        # --force allows above the plan maximum and unlimited
        self.ok("add", "q@example2.test", "--password", "p", "--quota", "60M", "--force")
        self.ok("add", "u@example2.test", "--password", "p", "--quota", "0", "--force")
        self.assertIn("quota=0 ", cdb_get(self.root, "users", "u@example2.test"))

    def test_random_passwords_and_passwd(self):
        out = self.ok("add", "r@example.test")
        pw = re.search(r"パスワード: (\S+)", out).group(1)
        self.assertGreaterEqual(len(pw), 12)
        self.assertIn("Password: " + pw, out)
        self.assertTrue(crypt_ok(pw, cdb_get(self.root, "auth", "r@example.test")))
        before = cdb_get(self.root, "users", "r@example.test")
        out = self.ok("passwd", "r@example.test", "--random")
        pw2 = re.search(r"パスワード: (\S+)", out).group(1)
        self.assertNotEqual(pw, pw2)
        self.assertTrue(crypt_ok(pw2, cdb_get(self.root, "auth", "r@example.test")))
        # users.cdb's fingerprint follows the new hash (the member page's sessions end by it)
        after = cdb_get(self.root, "users", "r@example.test")
        self.assertIn(" pwid=%s" % pwid(self.root, "r@example.test"), after)
        self.assertNotEqual(before, after)
        self.ok("passwd", "r@example.test", input="from stdin\n")
        self.assertTrue(crypt_ok("from stdin", cdb_get(self.root, "auth", "r@example.test")))
        self.ok("passwd", "r@example.test", "Given-PW")
        self.assertTrue(crypt_ok("Given-PW", cdb_get(self.root, "auth", "r@example.test")))
        self.refused(["passwd", "nobody@example.test", "x"], r"no such account")
        self.refused(["passwd", "r@example.test"], r"bad password")   # empty stdin
        self.ok("passwd", "r@example.test", "y", env={"YUBIN_HASH": "yescrypt"})
        self.assertTrue(cdb_get(self.root, "auth", "r@example.test").startswith("$y$"))

    def test_quota(self):
        self.ok("add", "q@example2.test", "--password", "p")
        self.assertIn("quota=20971520 ", cdb_get(self.root, "users", "q@example2.test"))
        self.ok("quota", "q@example2.test", "50M")
        self.assertIn("quota=52428800 ", cdb_get(self.root, "users", "q@example2.test"))
        self.refused(["quota", "q@example2.test", "51M"], r"above the basic plan's maximum")
        self.refused(["quota", "q@example2.test", "lots"], r"bad size")
        self.refused(["quota", "q@example2.test", "0"], r"--force")
        self.refused(["quota", "nobody@example2.test", "1M"], r"no such account")
        self.ok("quota", "q@example2.test", "100M", "--force")
        self.assertIn("quota=104857600 ", cdb_get(self.root, "users", "q@example2.test"))
        self.assertIn("forced", self.ok("show", "q@example2.test"))
        self.ok("quota", "q@example2.test", "1048576")
        self.assertIn("quota=1048576 ", cdb_get(self.root, "users", "q@example2.test"))
        self.ok("quota", "q@example2.test", "default")
        self.assertIn("quota=20971520 ", cdb_get(self.root, "users", "q@example2.test"))

    def test_list_and_show(self):
        self.ok("add", "b@example.test", "--password", "p")
        self.ok("add", "a@example2.test", "--password", "p", "--quota", "30M")
        lines = self.ok("list").strip().split("\n")
        self.assertIn("b@example.test 50M premium", lines)
        self.assertIn("a@example2.test 30M basic", lines)
        self.assertIn("admin@example.test 50M premium", lines)
        self.assertEqual(lines, sorted(lines))
        self.assertEqual(self.ok("list", "example2.test").strip().split("\n"),
                         ["a@example2.test 30M basic"])
        self.refused(["list", "nowhere.test"], r"unknown domain")
        self.append_etc("aliases", "info@example.test: b@example.test\n")
        self.assertEqual(self.mkmaps("--quiet").returncode, 0)
        out = self.ok("show", "B@example.test")
        for s in ("address: b@example.test", "domain: example.test", "plan: premium",
                  "quota: 50 MB (plan default)", "pop3s: yes", "status: active",
                  "home: mail/example.test/b", "info@example.test"):
            self.assertIn(s, out)
        self.assertNotIn("$6$", out)
        self.refused(["show", "nobody@example.test"], r"no such account")

    def test_del_moves_mailbox_to_trash_and_prunes_aliases(self):
        if not have("deliver"):
            self.skipTest("bin/deliver not built")
        self.ok("add", "gone@example.test", "--password", "p")
        self.ok("add", "stay@example.test", "--password", "p")
        # a message stored by the real deliver, as yubin-mbox (queue-run's job; no services
        # run in this tree)
        e = self.m.env()
        e.pop("YUBIN_ALLOW_ROOT", None)
        r = as_user("yubin-mbox", [self.m.bin("deliver"), "a@remote.test", "gone@example.test"],
                    input=b"Subject: keep me\n\nbody\n", capture_output=True, env=e)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        [msg] = self.m.messages("gone@example.test")
        stored = open(msg, "rb").read()
        self.assertTrue(stored.endswith(b"\nSubject: keep me\n\nbody\n"), stored)
        self.append_etc("aliases", "both@example.test: gone@example.test, stay@example.test\n"
                        "only@example.test: gone@example.test\n"
                        "chain@example.test: only@example.test, x@remote.example\n")
        self.assertEqual(self.mkmaps("--quiet").returncode, 0)
        t0 = int(time.time())
        out = self.ok("del", "gone@example.test")
        self.assertIn("trash/gone@example.test.", out)
        self.assertIsNone(cdb_get(self.root, "users", "gone@example.test"))
        self.assertIsNone(cdb_get(self.root, "auth", "gone@example.test"))
        self.assertEqual(cdb_get(self.root, "aliases", "both@example.test"), "stay@example.test")
        self.assertIsNone(cdb_get(self.root, "aliases", "only@example.test"))
        self.assertEqual(cdb_get(self.root, "aliases", "chain@example.test"), "x@remote.example")
        self.assertFalse(os.path.exists(os.path.join(self.root, "mail/example.test/gone")))
        trash = [n for n in os.listdir(os.path.join(self.root, "trash"))
                 if n.startswith("gone@example.test.")]
        self.assertEqual(len(trash), 1)
        self.assertGreaterEqual(int(trash[0].split(".")[-1]), t0)
        kept = os.path.join(self.root, "trash", trash[0], "Maildir", "new",
                            os.path.basename(msg))
        self.assertEqual(open(kept, "rb").read(), stored)
        self.assertEqual(self.mkmaps("--check", "--quiet").returncode, 0, "maps stay valid")
        self.refused(["del", "gone@example.test"], r"no such account")
        self.refused(["del", "admin@example.test"], r"etc/admin")

    def test_add_never_hands_an_unfinished_deletes_mailbox_to_a_new_owner(self):
        """A del that could not move the mailbox to trash (here: ROOT/trash is a file, not a
        folder) has removed the account; the mailbox stays. A new account of that address must
        not get the old owner's mail: add refuses and says what to do; after the operator
        moves the old mailbox away, the new account starts empty."""
        if not have("deliver"):
            self.skipTest("bin/deliver not built")
        self.ok("add", "carol@example.test", "--password", "Old-pw-1")
        e = self.m.env()
        e.pop("YUBIN_ALLOW_ROOT", None)
        r = as_user("yubin-mbox", [self.m.bin("deliver"), "a@remote.test", "carol@example.test"],
                    input=b"Subject: private\n\ncarol's secret\n", capture_output=True, env=e)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        trash = os.path.join(self.root, "trash")
        if os.path.isdir(trash):
            os.rmdir(trash)     # yubin-setup made it, empty
        with open(trash, "w") as f:
            f.write("not a folder\n")
        r = self.acct("del", "carol@example.test")
        self.assertEqual(r.returncode, 111, r.stderr)
        self.assertIn("account carol@example.test deleted, but unable to move", r.stderr)
        self.assertIsNone(cdb_get(self.root, "users", "carol@example.test"))
        os.unlink(trash)
        old = os.path.join(self.root, "mail", "example.test", "carol")
        self.refused(["add", "carol@example.test", "--password", "New-pw-1"],
                     r"^mailacct: fatal: %s already exists with mail in it, but no account owns "
                     r"it \(a mailacct del that did not finish, or a copy\): move it to "
                     r"%s/trash/ for an empty mailbox" % (re.escape(old), re.escape(self.root)))
        self.assertIsNone(cdb_get(self.root, "users", "carol@example.test"))
        os.makedirs(trash)
        os.rename(old, os.path.join(trash, "carol@example.test.old"))
        self.ok("add", "carol@example.test", "--password", "New-pw-1")
        self.assertEqual(self.m.messages("carol@example.test"), [], "the new owner starts empty")

    @unittest.skipUnless(shutil.which("strace"), "strace not installed")
    def test_add_that_failed_after_its_mailbox_can_be_run_again(self):
        """mailacct add makes the mailbox folder before it writes etc/users; a disk full at
        that write (ENOSPC, injected by strace) leaves an empty folder and no account. The same
        add run again must work: an empty folder is no one's mail."""
        r = subprocess.run(["strace", "-qq", "-f", "-o", "/dev/null", "-e",
                            "trace=rename,renameat,renameat2", "-e",
                            "inject=rename,renameat,renameat2:error=ENOSPC:when=1",
                            self.m.bin("mailacct"), "--root", self.root, "add",
                            "newbie@example.test", "--password", "New-pw-1"],
                           capture_output=True, text=True, env=self.m.env())
        self.assertEqual(r.returncode, 111, r.stdout + r.stderr)
        self.assertTrue(os.path.isdir(os.path.join(self.root, "mail/example.test/newbie")))
        self.assertIsNone(cdb_get(self.root, "users", "newbie@example.test"))
        self.ok("add", "newbie@example.test", "--password", "New-pw-1")
        self.assertIsNotNone(cdb_get(self.root, "users", "newbie@example.test"))

    @unittest.skipUnless(shutil.which("strace"), "strace not installed")
    def test_rebuild_killed_at_its_rename_leaves_nothing_for_long(self):
        """mkmaps killed (SIGKILL, by strace at its first rename) after writing a cdb's
        temporary file: the maps in use stay whole, and the next rebuild removes the file."""
        self.ok("add", "k1@example.test", "--password", "p")
        before = cdb_get(self.root, "users", "k1@example.test")
        r = subprocess.run(["strace", "-qq", "-f", "-o", "/dev/null", "-e",
                            "trace=rename,renameat,renameat2", "-e",
                            "inject=rename,renameat,renameat2:signal=KILL:when=1",
                            self.m.bin("mkmaps"), "--root", self.root],
                           capture_output=True, text=True, env=self.m.env())
        self.assertNotEqual(r.returncode, 0, r.stderr)
        cdbdir = os.path.join(self.root, "cdb")
        left = [f for f in os.listdir(cdbdir) if ".tmp." in f]
        self.assertEqual(len(left), 1, os.listdir(cdbdir))
        self.assertEqual(cdb_get(self.root, "users", "k1@example.test"), before, "maps whole")
        r = self.mkmaps()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([f for f in os.listdir(cdbdir) if ".tmp." in f], [])
        self.assertIn("removed %s/%s, left by a rebuild that was cut short"
                      % (cdbdir, left[0]), r.stderr)

    @unittest.skipUnless(shutil.which("strace"), "strace not installed")
    def test_del_killed_between_its_files_leaves_maps_that_build(self):
        """mailacct del writes etc/users and etc/aliases (the account, and an alias naming it).
        Killed (SIGKILL, by strace at its second rename) after the first file: the texts on
        disk must still compile, so that the operator's next command works, and running the
        del again finishes it."""
        self.ok("add", "dave@example.test", "--password", "p")
        self.ok("add", "erin@example.test", "--password", "p")
        self.append_etc("aliases", "team@example.test: dave@example.test, erin@example.test\n")
        self.assertEqual(self.mkmaps("--quiet").returncode, 0)
        r = subprocess.run(["strace", "-qq", "-f", "-o", "/dev/null", "-e",
                            "trace=rename,renameat,renameat2", "-e",
                            "inject=rename,renameat,renameat2:signal=KILL:when=2",
                            self.m.bin("mailacct"), "--root", self.root, "del",
                            "dave@example.test"],
                           capture_output=True, text=True, env=self.m.env())
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        changed = [n for n in ("users", "aliases") if "dave@example.test" not in self.etc(n)]
        self.assertEqual(len(changed), 1, "killed after one of the two files")
        r = self.mkmaps("--check")
        self.assertEqual(r.returncode, 0, "the texts on disk compile: %s" % r.stderr)
        self.ok("passwd", "erin@example.test", "Erin-pw-2")
        self.ok("del", "dave@example.test")
        self.assertNotIn("dave@example.test", self.etc("users") + self.etc("aliases"))
        self.assertEqual(cdb_get(self.root, "aliases", "team@example.test"), "erin@example.test")

    def test_del_keeps_the_admin_alias_and_long_alias_lines(self):
        # etc/admin names an alias of the account: deleting the account would leave
        # postmaster@ and abuse@ of every domain pointing at nothing
        self.ok("add", "taro@example.test", "--password", "p")
        self.append_etc("aliases", "ops@example.test: taro@example.test\n")
        with open(os.path.join(self.root, "etc", "admin"), "w") as f:
            f.write("ops@example.test\n")
        self.assertEqual(self.mkmaps("--quiet").returncode, 0)
        self.refused(["del", "taro@example.test"],
                     r"would leave the alias ops@example\.test, the operator's address in "
                     r"etc/admin \(postmaster\), without a target")
        # a valid aliases line of 100 targets with no blanks, near the 4,096-octet bound: the
        # line written back without the deleted target stays within it
        self.ok("add", "gone@example.test", "--password", "p")
        targets = ["r%02d%s@remote.example" % (i, "x" * 22) for i in range(99)]
        line = "big@example.test:" + ",".join(["gone@example.test"] + targets)
        self.assertLessEqual(len(line), 4096)
        self.assertGreater(len("big@example.test: " + ", ".join(targets)), 4096,
                           "written with ', ' it would not fit")
        self.append_etc("aliases", line + "\n")
        self.assertEqual(self.mkmaps("--quiet").returncode, 0)
        self.ok("del", "gone@example.test")
        kept = cdb_get(self.root, "aliases", "big@example.test")
        self.assertEqual(kept.split(" "), targets)
        self.assertEqual(self.mkmaps("--check", "--quiet").returncode, 0, "maps stay valid")

    def test_domain_add_with_a_bad_admin_contact_adds_nothing(self):
        self.refused(["domain", "add", "shop.test", "--plan", "basic", "--admin",
                      "Tanaka <tanaka@customer.example>"], r"invalid address")
        self.assertFalse(os.path.exists(os.path.join(self.root, "etc", "dkim", "shop.test")))
        out = self.ok("domain", "add", "shop.test", "--plan", "basic", "--admin",
                      "tanaka@customer.example")
        self.assertIn("domain shop.test added (plan basic)", out)

    # --- the sheet
    def test_sheet_text_and_html(self):
        self.ok("add", "s@example.test", "--password", "pw<&>1")
        out = self.ok("sheet", "s@example.test")
        self.assertIn("メールアカウント名: s@example.test", out)
        self.assertNotIn("pw<&>1", out)
        path = os.path.join(self.root, "sheet.html")
        self.ok("sheet", "s@example.test", "--html", path)
        raw = open(path, "rb").read()
        text = raw.decode("utf-8")
        self.assertTrue(text.startswith("<!DOCTYPE html>"))
        doc = ET.fromstring(text.split("\n", 1)[1])     # well-formed (XHTML-style) markup
        self.assertEqual(doc.tag, "html")
        self.assertEqual(doc.find("head/meta").get("charset"), "utf-8")
        self.assertIn("@page", doc.find("head/style").text)
        self.assertIsNone(doc.find(".//link"), "self-contained: no external stylesheet")
        secs = doc.findall("body/div/section")
        self.assertEqual([s.get("lang") for s in secs], ["ja", "en"])
        cells = [td.text for td in doc.iter("td")]
        self.assertIn("pop3.example.test", cells)
        self.assertIn("smtp.example.test", cells)
        self.assertIn("s@example.test", cells)
        self.assertNotIn("pw<&>1", text)
        self.refused(["sheet", "nobody@example.test"], r"no such account")

    def test_sheet_html_without_a_file_name_goes_to_stdout(self):
        self.ok("add", "s@example.test", "--password", "pw-42-x")
        want = self.ok("sheet", "s@example.test", "--html", "-")
        cwd_before = sorted(os.listdir(self.root))
        r = subprocess.run([self.m.bin("mailacct"), "--root", self.root, "sheet",
                            "s@example.test", "--html"], capture_output=True, text=True,
                           env=self.m.env(), cwd=self.root)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("<!DOCTYPE html>"), r.stdout[:200])
        self.assertEqual(r.stdout, want)
        ET.fromstring(r.stdout.split("\n", 1)[1])
        self.assertEqual(sorted(os.listdir(self.root)), cwd_before, "no file written")

    def test_help_and_usage(self):
        r = subprocess.run([self.m.bin("mailacct"), "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        self.assertTrue(r.stdout.startswith("usage: mailacct"), r.stdout)
        self.assertIn("passwd ADDR [PW | --random]", r.stdout)
        self.assertIn("sheet ADDR [--html [FILE]]", r.stdout)
        # a wrong command still gets the usage on stderr and exit 100
        r = self.acct("frobnicate")
        self.assertEqual(r.returncode, 100)
        self.assertEqual(r.stdout, "")
        self.assertIn("passwd ADDR [PW | --random]", r.stderr)

    # --- mkmaps
    def test_bad_line_keeps_old_cdbs(self):
        self.ok("add", "k@example.test", "--password", "p")
        before = {c: open(os.path.join(self.root, "cdb", c + ".cdb"), "rb").read() for c in CDBS}
        cases = [
            ("users", "k2@example.test:notahash::\n", r"^users:\d+: .*crypt"),
            ("users", "k@example.test:$6$a$bcdefg::\n", r"^users:\d+: account k@example.test "
                                                       r"already defined on line \d+"),
            ("users", "k3@example.test:$6$a$bcdefg::\r\n", r"^users:\d+: carriage return"),
            ("users", "k4@example.test:$6$a$b\x00cd::\n", r"^users:\d+: NUL"),
            ("users", "k5@example.test:$6$a$bcdefg:" + "9" * 5000 + ":\n", r"longer than 4096"),
            ("users", "k6@example2.test:$6$a$bcdefg:99M:\n", r"above the basic plan"),
            ("domains", "x.test:gold\n", r"^domains:\d+: unknown plan gold"),
            ("aliases", "l1@example.test: l2@example.test\nl2@example.test: l1@example.test\n",
             r"^aliases:\d+: alias loop: l1@example.test -> l2@example.test -> l1@example.test"),
            ("aliases", "z@example.test: ghost@example.test\n", r"^aliases:\d+: .*ghost"),
            ("aliases", "y@example.test: k@example.test   # until March\n",
             r"^aliases:\d+: a comment must be on a line of its own"),
            ("routes", "r.test:h.test:99999\n", r"^routes:\d+: bad port"),
            ("plans", "odd:60M:50M:no\n", r"^plans:\d+: default quota is above"),
        ]
        for name, line, pattern in cases:
            p = os.path.join(self.root, "etc", name)
            saved = open(p, "rb").read()
            lineno = saved.count(b"\n") + 1
            with open(p, "ab") as f:
                f.write(line.encode())
            r = self.mkmaps()
            self.assertEqual(r.returncode, 100, name + ": " + r.stderr)
            self.assertRegex(r.stderr, pattern)
            if "loop" not in pattern:
                self.assertTrue(r.stderr.startswith("%s:%d: " % (name, lineno)), r.stderr)
            for c in CDBS:
                self.assertEqual(open(os.path.join(self.root, "cdb", c + ".cdb"), "rb").read(),
                                 before[c], "%s.cdb must stay as it was (%s)" % (c, name))
            self.assertEqual(self.mkmaps("--check").returncode, 100)
            # mailacct refuses to edit on top of a broken map, naming the line
            r = self.acct("add", "n@example.test", "--password", "p")
            self.assertEqual(r.returncode, 100)
            self.assertIn("%s:" % name, r.stderr)
            with open(p, "wb") as f:
                f.write(saved)
        self.assertEqual(self.mkmaps("--check").returncode, 0)

    def test_report_and_implicit_aliases(self):
        h = cdb_get(self.root, "auth", "admin@example.test")
        self.append_etc("users", "hand@example.test:%s::\n" % h)
        self.append_etc("aliases", "abuse@example2.test: hand@example.test\n")
        r = self.mkmaps()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("mkmaps: users: 1 added, 0 removed, 0 changed; "
                      "domains: 0 added, 0 removed, 0 changed", r.stdout)
        self.assertEqual(cdb_get(self.root, "aliases", "abuse@example2.test"), "hand@example.test")
        self.assertEqual(cdb_get(self.root, "aliases", "abuse@example.test"), "admin@example.test")
        self.assertEqual(cdb_get(self.root, "aliases", "postmaster"), "admin@example.test")
        # a real postmaster account replaces the implicit alias
        self.assertEqual(self.acct("add", "postmaster@example2.test", "--password", "p").returncode,
                         0)
        self.assertIsNone(cdb_get(self.root, "aliases", "postmaster@example2.test"))
        self.assertIsNotNone(cdb_get(self.root, "users", "postmaster@example2.test"))
        self.assertEqual(self.mkmaps("--quiet").stdout, "")
        r = self.mkmaps()
        self.assertIn("users: 0 added, 0 removed, 0 changed", r.stdout)

    def test_report_counts_a_password_and_a_disabled_account_once(self):
        """mkmaps' summary (docs/maps.md "mkmaps"): a new password counts in `passwords` only,
        not as a changed account as well (users.cdb's pwid= changes with it); an account
        disabled by hand in etc/users, or enabled again, counts as a changed account and a
        changed login; a quota changed by hand as a changed account only. The new password is
        mailacct passwd's etc/users: mailacct rebuilds the cdbs itself, so the operator puts
        back the copy taken before it, runs mkmaps, then puts mailacct's back."""
        users = os.path.join(self.root, "etc", "users")

        def put(text):
            with open(users, "w") as f:
                f.write(text)

        def report():
            """(users added, removed, changed, passwords changed) of a mkmaps run"""
            r = self.mkmaps()
            self.assertEqual(r.returncode, 0, r.stderr)
            m = re.search(r"^mkmaps: users: (\d+) added, (\d+) removed, (\d+) changed; .*; "
                          r"passwords: (\d+) changed$", r.stdout.strip())
            self.assertIsNotNone(m, r.stdout)
            return tuple(int(n) for n in m.groups())

        def options(text, opts):
            return re.sub(r"^(pw@example\.test:[^:\n]*:[^:\n]*:).*$", r"\g<1>" + opts, text,
                          flags=re.M)

        self.ok("add", "pw@example.test", "--password", "Old-Pass-1")
        before = self.etc("users")
        self.ok("passwd", "pw@example.test", "New-Pass-2")
        after = self.etc("users")
        self.assertNotEqual(before, after)
        put(before)
        self.assertEqual(report(), (0, 0, 0, 1))
        self.assertTrue(crypt_ok("Old-Pass-1", cdb_get(self.root, "auth", "pw@example.test")))
        put(after)
        self.assertEqual(report(), (0, 0, 0, 1))
        self.assertTrue(crypt_ok("New-Pass-2", cdb_get(self.root, "auth", "pw@example.test")))
        self.assertEqual(report(), (0, 0, 0, 0))

        put(options(after, "disabled"))
        self.assertEqual(report(), (0, 0, 1, 1))
        self.assertIsNone(cdb_get(self.root, "auth", "pw@example.test"))
        self.assertIn(" disabled=1", cdb_get(self.root, "users", "pw@example.test"))
        put(after)
        self.assertEqual(report(), (0, 0, 1, 1))
        self.assertIsNotNone(cdb_get(self.root, "auth", "pw@example.test"))
        # disabled with the old password at once: one login changed
        put(options(before, "disabled"))
        self.assertEqual(report(), (0, 0, 1, 1))
        put(after)
        self.assertEqual(report(), (0, 0, 1, 1))

        put(re.sub(r"^(pw@example\.test:[^:\n]*:)", r"\g<1>30M", after, flags=re.M))
        self.assertEqual(report(), (0, 0, 1, 0))
        self.assertIn("quota=31457280 ", cdb_get(self.root, "users", "pw@example.test"))
        # an account added by hand: only added, whether it can log in or not
        h = cdb_get(self.root, "auth", "pw@example.test")
        self.append_etc("users", "hand@example.test:%s::\nhand2@example.test:%s::disabled\n"
                        % (h, h))
        self.assertEqual(report(), (2, 0, 0, 0))

    @unittest.skipUnless(IS_ROOT, "owners are set only as root")
    def test_cdb_owners_and_modes(self):
        self.assertEqual(self.mkmaps("--quiet").returncode, 0)
        st = os.stat(os.path.join(self.root, "cdb", "auth.cdb"))
        self.assertEqual(st.st_uid, 0)
        try:
            gid = grp.getgrnam("yubin-auth").gr_gid
            self.assertEqual((st.st_gid, stat.S_IMODE(st.st_mode)), (gid, 0o640))
        except KeyError:
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        for c in ("users", "domains", "aliases", "routes"):
            st = os.stat(os.path.join(self.root, "cdb", c + ".cdb"))
            self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (0, 0o644), c)
        st = os.stat(os.path.join(self.root, "etc", "users"))
        self.ok("add", "m@example.test", "--password", "p")
        st2 = os.stat(os.path.join(self.root, "etc", "users"))
        self.assertEqual(stat.S_IMODE(st2.st_mode), stat.S_IMODE(st.st_mode))
        self.assertEqual(stat.S_IMODE(st2.st_mode), 0o600)
        # yubin-auth (authd's uid) can read the hashes; yubin-smtpd cannot
        for user, can in (("yubin-auth", True), ("yubin-smtpd", False)):
            r = subprocess.run(["s6-setuidgid", user, "cdb", "-q",
                                os.path.join(self.root, "cdb", "auth.cdb"), "m@example.test"],
                               capture_output=True)
            self.assertEqual(r.returncode == 0, can, user)

    def test_make_etc_rebuilds_only_when_newer(self):
        etc = os.path.join(self.root, "etc")
        r = subprocess.run(["make", "-C", etc], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run(["make", "-C", etc], capture_output=True, text=True)
        self.assertIn("Nothing to be done", r.stdout)
        h = cdb_get(self.root, "auth", "admin@example.test")
        time.sleep(1.1)
        self.append_etc("users", "mk@example.test:%s::\n" % h)
        r = subprocess.run(["make", "-C", etc], capture_output=True, text=True)
        self.assertIn("users: 1 added", r.stdout)
        self.assertIsNotNone(cdb_get(self.root, "users", "mk@example.test"))
        time.sleep(1.1)
        self.append_etc("users", "broken\n")
        r = subprocess.run(["make", "-C", etc], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"users:\d+: ")

    def test_make_etc_rebuilds_for_nodes_and_homes(self):
        etc = os.path.join(self.root, "etc")
        subprocess.run(["make", "-C", etc], capture_output=True, text=True)
        time.sleep(1.1)
        self.append_etc("nodes", "mk-node:10.0.0.9:4025:4110\n")
        r = subprocess.run(["make", "-C", etc], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("Nothing to be done", r.stdout)
        self.assertIn("addr=10.0.0.9", cdb_get(self.root, "nodes", "mk-node") or "")
        time.sleep(1.1)
        self.append_etc("homes", "example.test:mk-node:1:live\n")
        r = subprocess.run(["make", "-C", etc], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("node=mk-node", cdb_get(self.root, "homes", "example.test") or "")

    def test_yubin_root_env_and_lock(self):
        e = self.m.env()
        r = subprocess.run([self.m.bin("mailacct"), "domain", "list"], capture_output=True,
                           text=True, env=e)
        self.assertIn("example.test premium", r.stdout)
        # a second writer waits for the lock on etc/.lock
        fd = os.open(os.path.join(self.root, "etc", ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        p = subprocess.Popen([self.m.bin("mailacct"), "add", "w@example.test", "--password", "p"],
                             env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.5)
        self.assertIsNone(p.poll(), "mailacct must wait for the lock")
        self.assertIsNone(cdb_get(self.root, "users", "w@example.test"))
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        self.assertEqual(p.wait(timeout=10), 0)
        p.stdout.close()
        p.stderr.close()
        self.assertIsNotNone(cdb_get(self.root, "users", "w@example.test"))


if __name__ == "__main__":
    unittest.main()
