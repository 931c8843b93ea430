"""The member page in a fleet (docs/web.md "Security"): a real 3-member etcd cluster and 2
nodes, the domain homed on node a. mailacct ends the member page sessions of the node it runs
on; a member logged in on node b's page is logged out there at its next request once b's maps
have the new password (users.cdb's fingerprint of the hash, compared with the session's)."""
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IS_ROOT, have  # noqa: E402
from fleetharness import ETCD, ETCDCTL, FleetCase  # noqa: E402
from test_web import change_password, http_login, https, logged_out, set_cookie  # noqa: E402

ADDR, OLD_PW, NEW_PW = "taro@home-a.test", "Taro-Old-pw-1", "Taro-New-pw-2"
ENDED = "member: info: session ended: password changed user=%s ip=127.0.0.1" % ADDR


def member_page(node, session):
    """The page / of session on node: (status, body)."""
    st, _, body = https(node, "GET", "/", headers={"Cookie": session})
    return st, body


@unittest.skipUnless(ETCD and ETCDCTL, "etcd-server and etcd-client not installed (make deps)")
@unittest.skipUnless(IS_ROOT, "the fleet runs its services under their own uids: needs root")
@unittest.skipUnless(shutil.which("lighttpd") and have("member"),
                     "lighttpd or the member page not built")
class FleetMemberPageTest(FleetCase):
    names = ("a", "b")

    @classmethod
    def prepare(cls):
        a, _ = cls.nodes
        cls.import_with_nodes()
        a.mailacct("domain", "add", "home-a.test", "--plan", "premium", "--home", "a")
        a.mailacct("add", ADDR, "--password", OLD_PW)

    def login(self, node, pw):
        st, session, _ = http_login(node, ADDR, pw)
        self.assertEqual(st, 303, node.log("web"))
        self.assertIsNotNone(session)
        st, body = member_page(node, session)
        self.assertIn(b'action="/password"', body, "the member page on %s" % node.name)
        self.assertIn(ADDR.encode(), body)
        return session

    def test_1_passwd_on_a_logs_the_member_out_on_b(self):
        a, b = self.nodes
        on_a = self.login(a, OLD_PW)
        on_b = self.login(b, OLD_PW)
        before = b.revision()
        # the operator, on node a (the account's home)
        r = a.mailacct("passwd", ADDR, NEW_PW, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(b.wait_for(lambda: b.revision() > before, 20), "b's maps: no change")
        # b's page: the old cookie gets the login page, not the member page
        st, body = member_page(b, on_b)
        self.assertEqual(st, 200)
        self.assertFalse(b'action="/password"' in body or ADDR.encode() in body,
                         "b still serves the member page to the old cookie")
        self.assertIn(b'action="/login"', body)
        self.assertTrue(b.wait_for(lambda: ENDED in b.log("web")), b.log("web"))
        self.assertTrue(logged_out(b, on_b), "the sheet and the profile are not served either")
        self.assertTrue(logged_out(a, on_a), "mailacct ended its own node's session")
        # the new password logs in on b, the old one no longer
        self.login(b, NEW_PW)
        st, session, _ = http_login(b, ADDR, OLD_PW)
        self.assertIsNone(session)

    def test_2_new_password_on_bs_page_keeps_the_member_in(self):
        """The page's own change of password (acctd runs mailacct on b): the new session
        carries the new password's fingerprint, so the maps that bring it end nothing."""
        a, b = self.nodes
        on_b = self.login(b, NEW_PW)
        ended = b.log("web").count(ENDED)
        st, h, body = change_password(b, on_b, NEW_PW, OLD_PW)
        self.assertEqual(st, 303, body)
        renewed = set_cookie(h)
        self.assertIsNotNone(renewed)
        self.assertEqual(a.revision(), b.revision(), "mailacct waited for both nodes")
        st, body = member_page(b, renewed)
        self.assertIn(b'action="/password"', body, "still the member page")
        self.assertTrue(logged_out(b, on_b), "the session of the old password ended")
        self.assertEqual(b.log("web").count(ENDED), ended, "ended by the page, not the maps")
        self.login(a, OLD_PW)


if __name__ == "__main__":
    unittest.main()
