"""A hosting provider's sizes (docs/internals.md "Scale"), at what a test can afford: every
bound a big customer can reach is either out of reach or reported, never a silent cut-off.
The figures at full size come from bench/scale.sh."""
import os
import re
import shutil
import subprocess
import unittest

from harness import MailRoot, have
from test_web import http_login, https

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
        from test_web import form
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


if __name__ == "__main__":
    unittest.main()
