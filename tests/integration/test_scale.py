"""A hosting provider's sizes (docs/internals.md "Scale"), at what a test can afford: every
bound a big customer can reach is either out of reach or reported, never a silent cut-off.
The figures at full size come from bench/scale.sh."""
import os
import poplib
import re
import shutil
import subprocess
import unittest

from harness import MailRoot, have
from test_web import form, http_login, https

HASH = "$6$scale$Jq4rmGvNk1E8ZHYoD7p1cY0b7bX5o3bq0Cj9mJ1mS0rU7rS6h2Yx4z5Q8w9e0r1t2y3u4i5o6p7a8s9d0f"
WEB = have("mailacct") and shutil.which("lighttpd")


@unittest.skipUnless(WEB, "needs mailacct and lighttpd (make deps)")
class BigDomainAdminPageTest(unittest.TestCase):
    """A domain of 3,000 addresses, made as an operator migrates one (its lines appended to
    etc/users, then mkmaps): its administrator's page lists every one of them, a page at a
    time, and every form still takes an address. Before, the page program got the whole list
    (cut at 192 kB without a word) and rendered it four times: lighttpd answered 500."""
    N = 3000

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(prefix="yubin-scale-web-")
        cls.m.start()
        m = cls.m
        m.add_user("boss@example.test", "Boss-Pass-1")
        out = m.mailacct("domain", "add", "big.test", "--plan", "premium",
                         "--admin", "boss@example.test").stdout
        cls.admin_pw = re.search(r"^password: (\S+)$", out, re.M).group(1)
        with open(os.path.join(m.root, "etc", "users"), "a") as f:
            for i in range(cls.N):
                f.write("u%05d@big.test:%s::\n" % (i, HASH))
        subprocess.run([m.bin("mkmaps"), "--root", m.root], check=True, capture_output=True,
                       env=m.env())
        cls.want = {"u%05d@big.test" % i for i in range(cls.N)}

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def test_every_address_listed_page_by_page(self):
        st, session, _ = http_login(self.m, "big.test", self.admin_pw)
        self.assertEqual(st, 303)
        seen, pages, url = [], 0, "/"
        while url:
            st, h, body = https(self.m, "GET", url, headers={"Cookie": session})
            self.assertEqual(st, 200, body[:300])
            page = body.decode()
            rows = re.findall(r'<td class="addr">([^<\s]+)', page)
            self.assertTrue(0 < len(rows) <= 100, "a page of at most 100 addresses")
            m = re.search(r'id="pager">.*?addresses (\d+) to (\d+) of (\d+)', page)
            self.assertIsNotNone(m, "the page says which addresses it shows")
            self.assertEqual(int(m.group(3)), self.N)
            self.assertEqual(int(m.group(2)) - int(m.group(1)) + 1, len(rows))
            self.assertEqual(int(m.group(1)), len(seen) + 1)
            # every form that names an address takes one typed (the page's are offered)
            self.assertIn('name="target" type="text"', page)
            seen += rows
            pages += 1
            nxt = re.search(r'<a rel="next" href="([^"]+)"', page)
            url = nxt.group(1) if nxt else None
            self.assertLess(pages, 100)
        self.assertEqual(len(seen), len(set(seen)), "no address twice")
        self.assertEqual(set(seen), self.want, "every address, on one page or another")
        self.assertEqual(pages, 30)
        # a page past the end is the last one; the previous link goes back
        st, h, body = https(self.m, "GET", "/?from=99999", headers={"Cookie": session})
        self.assertEqual(st, 200)
        self.assertIn(b"addresses 2901 to 3000 of 3000", body)
        self.assertIn(b'<a rel="prev" href="/?from=2800">', body)

    def test_an_address_typed_in_the_form_is_applied_for(self):
        """The form of a big domain takes the address typed, whole or its local part."""
        st, session, _ = http_login(self.m, "big.test", self.admin_pw)
        st, h, body = https(self.m, "GET", "/", headers={"Cookie": session})
        token = re.search(rb'name="csrf" value="([0-9a-f]+)"', body).group(1).decode()
        for target in ("u02999", "u02998@big.test"):
            st, h, body = https(self.m, "POST", "/apply",
                                form(csrf=token, kind="reset", target=target),
                                {"Cookie": session,
                                 "Content-Type": "application/x-www-form-urlencoded"})
            self.assertEqual(st, 200)
            self.assertIn(b'id="applied-id"', body, body[:2000])
        out = self.m.mailacct("requests").stdout
        self.assertIn("u02999@big.test", out)
        self.assertIn("u02998@big.test", out)


class Pop3ListingBoundTest(unittest.TestCase):
    """A mailbox past what one POP3 session lists (MAILDROP_MSGS_MAX, 500,000; lowered here
    to 50 by POP3_LIST_MAX so that real deliveries reach it): the login says how many are
    listed, that more are waiting and what to do; the oldest (cur/, earlier sessions') come
    first, and after the customer deletes them the next session lists the rest: every message
    is fetched once. Before, a scan past the bound refused the login with "your mailbox cannot
    be read right now; try again later", every time."""

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(prefix="yubin-scale-pop3-", env={"POP3_LIST_MAX": "50"})
        cls.m.start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def session(self, user, delete):
        p = poplib.POP3("127.0.0.1", self.m.port("pop3"), timeout=60)
        p.user(user)
        welcome = p.pass_("Big-Pass-1").decode()
        n = p.stat()[0]
        self.assertEqual(len(p.list()[1]), n)
        subjects = []
        for i in range(1, n + 1):
            msg = b"\n".join(p.retr(i)[1])
            subjects.append(re.search(rb"(?m)^Subject: (m\d+)$", msg).group(1).decode())
            if delete:
                p.dele(i)
        p.quit()
        return welcome, subjects

    def test_a_mailbox_past_the_bound_is_fetched_whole_over_sessions(self):
        user = "big@example.test"
        self.m.add_user(user, "Big-Pass-1")
        mail = [b"Subject: m%02d\n\nbody %d\n" % (i, i) for i in range(70)]
        self.m.send_mail(user, mail[:30])
        welcome, first = self.session(user, delete=False)     # moves them to cur/
        self.assertEqual(welcome, "+OK logged in; 30 messages")
        self.m.send_mail(user, mail[30:])
        welcome, second = self.session(user, delete=True)
        self.assertEqual(welcome, "+OK logged in; 50 messages listed, more are waiting (at most "
                         "50 a session): delete these and log in again for the rest")
        self.assertEqual(len(second), 50)
        self.assertEqual(second[:30], first, "the earlier sessions' mail first, oldest first")
        self.assertTrue(self.m.wait_for(
            lambda: "listing bound reached user=%s listed=50 max=50" % user
            in self.m.log("pop3"), 10), self.m.log("pop3")[-2000:])
        welcome, third = self.session(user, delete=True)
        self.assertEqual(welcome, "+OK logged in; 20 messages")
        self.assertEqual(sorted(second + third), ["m%02d" % i for i in range(70)],
                         "every message fetched, none twice")
        welcome, rest = self.session(user, delete=False)
        self.assertEqual((welcome, rest), ("+OK logged in; 0 messages", []))


if __name__ == "__main__":
    unittest.main()
