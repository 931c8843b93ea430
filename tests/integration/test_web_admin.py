"""The member page's domain administrator and the operator's side of the applications
(docs/web.md "The domain administrator", "Applications"): real lighttpd and the member CGI
under the real s6 tree, acctd as root, a real headless chromium (tests/integration/cdp.py),
`mailacct` as the operator runs it, the settings mail through the real queue, read by POP3.
Screenshots go to $BUILD/test-output/test_web_admin/."""
import datetime
import email
import email.policy
import http.client
import os
import poplib
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import unittest

from cdp import BrowserCase
from harness import IS_ROOT, MailRoot, TOP, as_user, can_open
from test_web import NEEDS, form, https, http_login, login_form_token, pop3_login, \
    set_cookie

OUT = os.path.join(TOP, os.environ.get("BUILD", "build"), "test-output", "test_web_admin")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def due_for(now, holidays):
    """The manual's rule, for the page's date: a business day before 14:00 is that day, else
    the next business day (Saturday, Sunday and etc/holidays are not business days)."""
    def business(d):
        return d.weekday() < 5 and d.isoformat() not in holidays
    day = now.date()
    if business(day) and now.hour < 14:
        return day.isoformat()
    day += datetime.timedelta(days=1)
    while not business(day):
        day += datetime.timedelta(days=1)
    return day.isoformat()


def sheet_password(text):
    """The password line of the settings sheet's text (cdb/sheet.c)."""
    return re.search(r"(?m)^\s*パスワード: (\S+)$", text).group(1)


def trace_acctd(test, m, inject):
    """strace attached to acctd's loop (-f: each request's child too, counted per child) with
    the fault inject; detached (SIGTERM) at the test's end. Returns once it is attached."""
    pid = m.pids("acctd")[0]
    tracer = subprocess.Popen(["strace", "-qq", "-f", "-o", "/dev/null", "-p", str(pid),
                               "-e", "trace=" + inject.split(":")[0].split("=")[1],
                               "-e", inject], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)

    def detach():
        if tracer.poll() is None:
            tracer.terminate()
            tracer.wait(10)
    test.addCleanup(detach)

    def attached():
        with open("/proc/%d/status" % pid) as f:
            return re.search(r"(?m)^TracerPid:\s+%d$" % tracer.pid, f.read()) is not None
    test.assertTrue(m.wait_for(attached, 10), "strace attached to acctd")
    return detach


def pop3s_login(m, server, addr, password):
    """A POP over SSL login as a mail program set up from a sheet makes it: port 995 (here the
    root's pop3s port on 127.0.0.1), the certificate checked for the server name the sheet
    gives. The answer to PASS."""
    ctx = ssl.create_default_context(cafile=os.path.join(m.root, "etc", "tls", "ca.pem"))
    with socket.create_connection(("127.0.0.1", m.port("pop3s")), timeout=30) as raw:
        with ctx.wrap_socket(raw, server_hostname=server) as t:
            f = t.makefile("rwb")

            def cmd(line):
                if line:
                    f.write(line.encode() + b"\r\n")
                    f.flush()
                return f.readline().decode("utf-8", "replace").rstrip("\r\n")
            cmd("")
            cmd("USER " + addr)
            answer = cmd("PASS " + password)
            cmd("QUIT")
            return answer


def plan_mail(msg):
    """(text, page) of a settings mail after a change of plan."""
    parts = list(msg.iter_parts())
    return parts[0].get_content(), parts[1].get_content()


def pop3_fetch_all(m, addr, password):
    p = poplib.POP3("127.0.0.1", m.port("pop3"), timeout=30)
    p.user(addr)
    p.pass_(password)
    msgs = [b"\r\n".join(p.retr(i + 1)[1]) for i in range(len(p.list()[1]))]
    p.quit()
    return [email.message_from_bytes(x, policy=email.policy.default) for x in msgs]


@unittest.skipUnless(NEEDS, "needs mailacct, lighttpd and chromium (make deps)")
class DomainAdministratorTest(BrowserCase, unittest.TestCase):
    out = OUT

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(prefix="yubin-webadm-")
        cls.m.start()
        m = cls.m
        # the customers' contact addresses are local accounts here, so their mail is read by POP3
        m.add_user("boss@example.test", "Boss-Pass-1")
        m.add_user("other-boss@example.test", "Other-Boss-2")
        out = m.mailacct("domain", "add", "shop.test", "--plan", "basic",
                         "--admin", "boss@example.test").stdout
        cls.admin_pw = re.search(r"^password: (\S+)$", out, re.M).group(1)
        out = m.mailacct("domain", "add", "rival.test", "--plan", "premium",
                         "--admin", "other-boss@example.test").stdout
        cls.rival_pw = re.search(r"^password: (\S+)$", out, re.M).group(1)
        m.add_user("clerk@shop.test", "Clerk-Pass-3")
        m.add_user("secret@rival.test", "Secret-Pass-4")
        cls.base = "https://127.0.0.1:%d" % m.port("https")
        os.makedirs(OUT, exist_ok=True)

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def admin_session(self, domain, password):
        st, session, _ = http_login(self.m, domain, password)
        self.assertEqual(st, 303)
        self.assertIsNotNone(session)
        st, h, body = https(self.m, "GET", "/", headers={"Cookie": session})
        token = re.search(rb'name="csrf" value="([0-9a-f]+)"', body).group(1).decode()
        return session, token, body

    def inbox(self, addr, password):
        return pop3_fetch_all(self.m, addr, password)

    def killed_approval(self, session, token, **fields):
        """File an application on the page, then run the operator's approval of it killed
        (SIGKILL, by strace) as it builds the settings mail; returns the application's id."""
        m = self.m
        st, h, body = https(m, "POST", "/apply", form(csrf=token, **fields),
                            dict(FORM, Cookie=session))
        app_id = re.search(rb'id="applied-id">([^<]+)<', body).group(1).decode()
        r = subprocess.run(["strace", "-qq", "-f", "-o", "/dev/null", "-e", "trace=memfd_create",
                            "-e", "inject=memfd_create:signal=KILL:when=1",
                            m.bin("mailacct"), "--root", m.root, "approve", app_id],
                           capture_output=True, text=True, env=m.env())
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        return app_id

    def test_japanese_domain_typed_on_the_login_form(self):
        """A customer types the domain as it is written, in Japanese, into the member page:
        the member and the domain's administrator are logged in to the xn-- domain the maps
        hold, with a real browser typing the keys."""
        m = self.m
        out = m.mailacct("domain", "add", "例え.jp", "--plan", "basic",
                         "--admin", "tatoe-boss@example.test").stdout
        self.assertIn("domain xn--r8jz45g.jp added", out)
        pw = re.search(r"^password: (\S+)$", out, re.M).group(1)
        m.add_user("hanako@xn--r8jz45g.jp", "Hanako-Pass-9")
        b = self.open_browser()
        self.login("Hanako@例え.jp", "Hanako-Pass-9")
        text = b.text()
        self.assertIn("ご利用状況", text)
        self.assertIn("hanako@xn--r8jz45g.jp", text)
        b.close()
        # the input method left in full-width mode
        b = self.browser = self.open_browser()
        self.login("ｈａｎａｋｏ＠例え．ｊｐ", "Hanako-Pass-9")
        text = b.text()
        self.assertIn("ご利用状況", text)
        self.assertIn("hanako@xn--r8jz45g.jp", text)
        b.close()
        b = self.browser = self.open_browser()
        self.login("例え。ｊｐ", pw)
        text = b.text()
        self.assertIn("ドメイン管理", text)
        self.assertIn("hanako@xn--r8jz45g.jp", text)
        # the administrator applies for a new address, typed in full-width with a capital
        b.type("#add-local", "Ｔａｒｏ２")
        b.click("#form-add button")
        self.assertIn("申請を受け付けました", b.text())
        self.assertIn("taro2@xn--r8jz45g.jp", b.eval("document.getElementById('pending').innerText"))
        self.assertRegex(m.mailacct("requests").stdout, r"(?m) xn--r8jz45g\.jp add taro2@xn--r8jz45g\.jp ")

    # --- the whole path: apply on the page, the operator approves, the sheet arrives by mail
    def test_admin_applies_operator_approves_sheet_mailed_new_address_works(self):
        m = self.m
        b = self.open_browser()
        self.login("shop.test", self.admin_pw)
        self.shot("01-admin-page")
        text = b.text()
        self.assertIn("ドメイン管理", text)
        self.assertIn("clerk@shop.test", text)
        self.assertNotIn("secret@rival.test", text)
        self.assertIn("平日午後 2 時迄のお申し込み分は、当日中にサーバ設定を行わせて頂きます", text)
        # what is mailed, as it is: a sheet for an added address or a new password only
        self.assertIn("メールアドレスの追加、パスワードの再発行の申請を頂いた場合、サーバ設定完了後に"
                      "設定情報をご連絡先へメールでお送り致します", text)
        self.assertNotIn("追加、変更の申請を頂いた場合", text)
        with open(os.path.join(m.root, "etc", "holidays")) as f:
            holidays = {l[:10] for l in f if re.match(r"\d{4}-\d\d-\d\d", l)}
        want = {due_for(datetime.datetime.now(), holidays)}
        # the page's date is the rule's for the moment the page was made (a minute may turn)
        self.assertIn(b.eval("document.getElementById('due').innerText"),
                      want | {due_for(datetime.datetime.now() - datetime.timedelta(seconds=30),
                                      holidays)})
        b.type("#add-local", "newbie")
        b.click("#form-add button")
        self.shot("02-admin-applied")
        self.assertIn("申請を受け付けました", b.text())
        app_id = b.eval("document.getElementById('applied-id').innerText")
        self.assertRegex(app_id, r"^\d{8}-\d{6}-[0-9a-f]{8}$")
        self.assertIn("newbie@shop.test", b.eval("document.getElementById('pending').innerText"))
        # nothing is done before the operator approves
        self.assertFalse(pop3_login(m, "newbie@shop.test", "anything"))
        listing = m.mailacct("requests").stdout
        self.assertRegex(listing, r"(?m)^%s due \d{4}-\d\d-\d\d shop\.test add newbie@shop\.test "
                                  r"by admin:shop\.test ip 127\.0\.0\.1" % app_id)
        before = len(self.inbox("boss@example.test", "Boss-Pass-1"))
        out = m.mailacct("approve", app_id).stdout
        self.assertIn("newbie@shop.test", out)
        self.assertIn("mailed to boss@example.test", out)
        self.assertNotIn(app_id, m.mailacct("requests").stdout)
        # the sheet mail arrives at the contact through the queue
        self.assertTrue(m.wait_for(lambda: len(m.messages("boss@example.test")) > before, 30))
        msg = self.inbox("boss@example.test", "Boss-Pass-1")[-1]
        self.assertEqual(str(msg["Subject"]),
                         "メールアカウント設定情報のお知らせ (Settings of your mail account)")
        self.assertTrue(msg.is_multipart())
        self.assertTrue(all(ord(c) < 128 for c in msg.as_string().split("\n\n")[0]))
        parts = list(msg.iter_parts())
        body = parts[0].get_content()
        self.assertEqual(parts[0].get_content_type(), "text/plain")
        self.assertIn("newbie@shop.test", body)
        self.assertIn("pop3.shop.test", body)
        self.assertEqual(parts[1].get_content_type(), "text/html")
        self.assertEqual(parts[1].get_filename(), "settings.html")
        self.assertIn("newbie@shop.test", parts[1].get_content())
        password = sheet_password(body)
        self.assertTrue(pop3_login(m, "newbie@shop.test", password), body)
        # the audit log: the application and the decision, who, when, from where
        with open(os.path.join(m.root, "log", "audit")) as f:
            audit = f.read()
        self.assertRegex(audit, r"(?m)^\S+Z event=apply id=%s domain=shop\.test kind=add "
                                r"target=newbie@shop\.test due=\S+ by=admin:shop\.test "
                                r"ip=127\.0\.0\.1$" % app_id)
        self.assertRegex(audit, r"(?m)^\S+Z event=approve id=%s .* by=root ip=local$" % app_id)
        self.assertNotIn(password, audit)
        self.assertNotIn(password, m.all_logs())

    def test_deletion_is_carried_out_and_sends_nothing(self):
        m = self.m
        m.add_user("leaving@shop.test", "Leaving-Pass-5")
        before = len(m.messages("boss@example.test"))
        b = self.open_browser()
        self.login("shop.test", self.admin_pw)
        b.eval("document.getElementById('del-addr').value = 'leaving@shop.test'")
        b.click("#form-del button")
        self.shot("03-admin-delete-applied")
        app_id = b.eval("document.getElementById('applied-id').innerText")
        out = m.mailacct("approve", app_id).stdout
        self.assertIn("account leaving@shop.test deleted", out)
        self.assertNotIn("mailed", out)
        with smtplib.SMTP("127.0.0.1", m.port("smtp"), timeout=30) as s:
            s.ehlo("client.example")
            s.mail("someone@example2.test")
            code, text = s.rcpt("leaving@shop.test")
        self.assertEqual(code, 550)
        self.assertTrue(text.startswith(b"5.1.1"), text)
        # and no mail went out for it: the queue is empty and the contact got nothing
        time.sleep(1)
        self.assertEqual(len(m.messages("boss@example.test")), before)
        self.assertEqual(os.listdir(os.path.join(m.root, "queue", "mess")), [])

    def test_address_typed_in_full_width_is_applied_for(self):
        """An address typed with the input method in full-width mode (and a capital) in a form
        that names one (a new password, here) is the maps' address: the application is filed
        for clerk@shop.test, as typed in ASCII would be."""
        m = self.m
        session, token, _ = self.admin_session("shop.test", self.admin_pw)
        st, h, body = https(m, "POST", "/apply", form(csrf=token, kind="reset",
                                                      target="Ｃｌｅｒｋ＠ｓｈｏｐ．ｔｅｓｔ"),
                            dict(FORM, Cookie=session))
        self.assertIn("申請を受け付けました".encode(), body, body[-1500:])
        app_id = re.search(rb'id="applied-id">([^<]+)<', body).group(1).decode()
        self.addCleanup(m.mailacct, "reject", app_id, "--reason", "test", check=False)
        self.assertRegex(m.mailacct("requests").stdout,
                         r"(?m)^%s due \S+ shop\.test reset clerk@shop\.test " % app_id)

    def test_reject_with_reason(self):
        m = self.m
        session, token, _ = self.admin_session("shop.test", self.admin_pw)
        st, h, body = https(m, "POST", "/apply", form(csrf=token, kind="add", local="maybe"),
                            dict(FORM, Cookie=session))
        app_id = re.search(rb'id="applied-id">([^<]+)<', body).group(1).decode()
        r = m.mailacct("reject", app_id, "--reason", "name already promised", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(app_id, m.mailacct("requests").stdout)
        with open(os.path.join(m.root, "log", "audit")) as f:
            self.assertRegex(f.read(), r"event=reject id=%s .* reason=name already promised"
                             % app_id)
        self.assertFalse(pop3_login(m, "maybe@shop.test", "x"))
        self.assertEqual(m.mailacct("approve", app_id, check=False).returncode, 100)
        # the administrator sees the decision and its reason
        b = self.open_browser()
        self.login("shop.test", self.admin_pw)
        self.shot("06-admin-rejected")
        row = [r for r in b.eval("[...document.querySelectorAll('#pending tr')]"
                                 ".map(r => r.innerText)") if app_id in r]
        self.assertEqual(len(row), 1)
        self.assertIn("お受けできませんでした", row[0])
        self.assertIn("name already promised", row[0])

    def test_auto_approve_applies_at_once_and_shows_the_sheet_once(self):
        m = self.m
        # mailacct says what it set (it used to print the old state's text: "wait for ...")
        self.assertEqual(m.mailacct("domain", "set", "rival.test", "auto-approve", "on").stdout,
                         "domain rival.test: applications carried out at once\n")
        self.assertIn("carried out at once", m.mailacct("domain", "admin", "rival.test").stdout)
        m.add_user("forgot@rival.test", "Forgot-Pass-6")
        st, member_session, _ = http_login(m, "forgot@rival.test", "Forgot-Pass-6")
        self.assertEqual(st, 303)
        b = self.open_browser()
        self.login("rival.test", self.rival_pw)
        b.eval("document.getElementById('reset-addr').value = 'forgot@rival.test'")
        b.click("#form-reset button")
        self.shot("04-admin-auto-approved-sheet")
        self.assertIn("設定が完了しました", b.text())
        # done now: today's date as its completion, no (maybe future) date it is "to be done on"
        today = datetime.date.today().isoformat()
        applied = b.eval("document.getElementById('applied').innerText")
        self.assertNotIn("設定予定日", applied)
        self.assertNotIn("to be done on", applied)
        self.assertEqual(b.eval("document.getElementById('applied-done').innerText"), today)
        app_id = b.eval("document.getElementById('applied-id').innerText")
        row = b.eval("[...document.querySelectorAll('#pending tr')]"
                     ".find(r => r.innerText.includes('%s')).innerText" % app_id)
        self.assertIn("設定完了", row)
        self.assertIn(today, row)
        self.assertNotIn("予定", row)
        sheet = b.eval("document.getElementById('sheet').innerText")
        password = sheet_password(sheet)
        self.assertFalse(pop3_login(m, "forgot@rival.test", "Forgot-Pass-6"))
        self.assertTrue(pop3_login(m, "forgot@rival.test", password))
        # whoever was logged in with the old password is logged out
        st, h, body = https(m, "GET", "/", headers={"Cookie": member_session})
        self.assertIn(b'action="/login"', body)
        self.assertNotIn(b"forgot@rival.test", body)
        # shown once: the page loaded again has no sheet
        b.goto(self.base + "/")
        self.assertEqual(b.eval("document.getElementById('sheet') === null"), True)
        self.assertNotIn(password, b.text())
        # and the same sheet went to the domain's contact
        self.assertTrue(m.wait_for(lambda: m.messages("other-boss@example.test"), 30))
        mails = self.inbox("other-boss@example.test", "Other-Boss-2")
        self.assertTrue(any(sheet_password(x.get_body(("plain",)).get_content()) == password
                            for x in mails))
        with open(os.path.join(m.root, "log", "audit")) as f:
            self.assertRegex(f.read(), r"event=approve id=\S+ domain=rival\.test kind=reset "
                                       r"target=forgot@rival\.test due=\S+ by=auto ip=-")
        self.assertEqual(m.mailacct("domain", "set", "rival.test", "auto-approve", "off").stdout,
                         "domain rival.test: applications wait for mailacct approve\n")

    # --- security
    def test_other_domains_addresses_cannot_be_seen_or_changed(self):
        m = self.m
        session, token, body = self.admin_session("shop.test", self.admin_pw)
        hdr = dict(FORM, Cookie=session)
        self.assertNotIn(b"rival.test", body)
        for path in ("/?domain=rival.test", "/?addr=secret@rival.test", "/settings.html",
                     "/profile.mobileconfig"):
            st, h, body = https(m, "GET", path, headers={"Cookie": session})
            with self.subTest(path=path):
                self.assertNotIn(b"secret@rival.test", body)
        for fields in (dict(kind="reset", target="secret@rival.test"),
                       dict(kind="del", target="secret@rival.test"),
                       dict(kind="addon", target="secret@rival.test"),
                       dict(kind="add", local="x@rival.test"),
                       dict(kind="reset", target="secret@rival.test", domain="rival.test")):
            st, h, body = https(m, "POST", "/apply", form(csrf=token, **fields), hdr)
            with self.subTest(fields=fields):
                self.assertNotIn(b'id="applied-id"', body)
                self.assertIn("この申請はお受けできません".encode(), body)
                self.assertNotIn(b"secret@rival.test", body)
        # a domain field is ignored: the address is always of the session's domain
        st, h, body = https(m, "POST", "/apply", form(csrf=token, kind="add", local="x",
                                                      domain="rival.test"), hdr)
        self.assertIn(b'id="applied-id"', body)
        listing = m.mailacct("requests").stdout
        self.assertIn("shop.test add x@shop.test", listing)
        self.assertNotIn("rival.test", listing)
        self.assertTrue(pop3_login(m, "secret@rival.test", "Secret-Pass-4"))
        with open(os.path.join(m.root, "log", "audit")) as f:
            self.assertRegex(f.read(), r"event=refused id=- domain=shop\.test kind=reset "
                                       r"target=secret@rival\.test due=- by=admin:shop\.test "
                                       r"ip=127\.0\.0\.1 reason=not an address of the domain")
        # without the CSRF token nothing is filed
        st, h, body = https(m, "POST", "/apply", form(kind="add", local="nocsrf"), hdr)
        self.assertEqual(st, 403)
        self.assertNotIn("nocsrf", m.mailacct("requests").stdout)
        # an address with markup is refused and comes back escaped
        st, h, body = https(m, "POST", "/apply", form(csrf=token, kind="add",
                                                      local="<script>x</script>"), hdr)
        self.assertNotIn(b"<script>", body)

    def test_member_cannot_reach_admin_pages_and_admin_no_member_pages(self):
        m = self.m
        st, session, _ = http_login(m, "clerk@shop.test", "Clerk-Pass-3")
        self.assertEqual(st, 303)
        st, h, body = https(m, "GET", "/", headers={"Cookie": session})
        token = re.search(rb'name="csrf" value="([0-9a-f]+)"', body).group(1).decode()
        self.assertNotIn("ドメイン管理".encode(), body)
        st, h, body = https(m, "POST", "/apply", form(csrf=token, kind="add", local="sneaky"),
                            dict(FORM, Cookie=session))
        self.assertEqual(st, 403)
        self.assertNotIn("sneaky", m.mailacct("requests").stdout)
        b = self.open_browser()
        self.login("clerk@shop.test", "Clerk-Pass-3")
        b.goto(self.base + "/apply")
        self.shot("05-member-refused-admin")
        self.assertNotIn("ドメイン管理", b.text())
        # the administrator's session opens no member page
        session, token, _ = self.admin_session("shop.test", self.admin_pw)
        for path in ("/settings.html", "/profile.mobileconfig"):
            st, h, body = https(m, "GET", path, headers={"Cookie": session})
            self.assertEqual(st, 403, path)
        st, h, body = https(m, "POST", "/password",
                            form(csrf=token, current="x", new="Yyyyyyyy-1", new2="Yyyyyyyy-1"),
                            dict(FORM, Cookie=session))
        self.assertEqual(st, 403)
        # an administrator's password is no POP3 password, and the other way round
        self.assertFalse(pop3_login(m, "shop.test", self.admin_pw))
        st, session, _ = http_login(m, "shop.test", "Clerk-Pass-3")
        self.assertIsNone(session)

    def test_a_login_from_the_browser_ends_its_administrators_session(self):
        """An administrator's browser logs in as a member (the login page still open in
        another tab): the administrator's session ends on the server at once, its id no
        longer opens the domain's page nor files an application; and a member's browser
        logging in as the administrator ends the member's session the same way."""
        m = self.m

        def login_from(jar, login, password):
            pre, token = login_form_token(m)
            st, h, body = https(m, "POST", "/login", form(csrf=token, addr=login,
                                                          password=password),
                                dict(FORM, Cookie=jar + "; " + pre))
            self.assertEqual(st, 303, body)
            return set_cookie(h)
        admin, token, body = self.admin_session("shop.test", self.admin_pw)
        self.assertIn(b"clerk@shop.test", body)
        member = login_from(admin, "clerk@shop.test", "Clerk-Pass-3")
        self.assertIsNotNone(member)
        st, h, body = https(m, "GET", "/", headers={"Cookie": admin})
        self.assertIn(b'action="/login"', body)
        self.assertNotIn(b"clerk@shop.test", body)
        st, h, body = https(m, "POST", "/apply", form(csrf=token, kind="add", local="ended"),
                            dict(FORM, Cookie=admin))
        self.assertEqual(st, 403)
        self.assertNotIn("ended@shop.test", m.mailacct("requests").stdout)
        st, h, body = https(m, "GET", "/", headers={"Cookie": member})
        self.assertIn(b'action="/password"', body)
        self.assertIn(b"clerk@shop.test", body)
        admin = login_from(member, "shop.test", self.admin_pw)
        self.assertIsNotNone(admin)
        st, h, body = https(m, "GET", "/", headers={"Cookie": member})
        self.assertIn(b'action="/login"', body)
        st, h, body = https(m, "GET", "/settings.html", headers={"Cookie": member})
        self.assertEqual(st, 303)
        st, h, body = https(m, "GET", "/", headers={"Cookie": admin})
        self.assertIn(b"clerk@shop.test", body)
        self.assertNotIn(b'action="/login"', body)

    def test_password_change_ends_the_members_other_sessions(self):
        m = self.m
        m.add_user("twice@shop.test", "Twice-Pass-7")
        st, other, _ = http_login(m, "twice@shop.test", "Twice-Pass-7")
        st, mine, _ = http_login(m, "twice@shop.test", "Twice-Pass-7")
        st, h, body = https(m, "GET", "/", headers={"Cookie": mine})
        token = re.search(rb'name="csrf" value="([0-9a-f]+)"', body).group(1).decode()
        st, h, body = https(m, "POST", "/password",
                            form(csrf=token, current="Twice-Pass-7", new="Twice-New-8",
                                 new2="Twice-New-8"), dict(FORM, Cookie=mine))
        self.assertEqual(st, 303)
        st, h2, body = https(m, "GET", "/", headers={"Cookie": other})
        self.assertIn(b'action="/login"', body)
        self.assertNotIn(b"twice@shop.test", body)
        # the page goes on in a new session; the one the password was changed in ended too
        renewed = set_cookie(h)
        self.assertIsNotNone(renewed)
        st, h2, body = https(m, "GET", "/", headers={"Cookie": renewed})
        self.assertIn(b"twice@shop.test", body)
        st, h2, body = https(m, "GET", "/", headers={"Cookie": mine})
        self.assertNotIn(b"twice@shop.test", body)

    def test_reset_of_the_administrators_password_ends_its_sessions(self):
        """A stolen administrator's cookie, on a domain that applies at once (a new password for
        an address would be shown on the page): the operator's reset of the administrator's
        password ends it at once, and so does a new contact."""
        m = self.m
        pw = self.admin_domain("stolen.test")
        m.add_user("victim@stolen.test", "Victim-Pass-1")
        m.mailacct("domain", "set", "stolen.test", "auto-approve", "on")
        session, token, body = self.admin_session("stolen.test", pw)
        self.assertIn(b"victim@stolen.test", body)
        out = m.mailacct("domain", "admin", "stolen.test", "--reset").stdout
        new = re.search(r"^password: (\S+)$", out, re.M).group(1)
        st, h, body = https(m, "GET", "/", headers={"Cookie": session})
        self.assertIn(b'action="/login"', body)
        self.assertNotIn(b"victim@stolen.test", body)
        st, h, body = https(m, "POST", "/apply",
                            form(csrf=token, kind="reset", target="victim@stolen.test"),
                            dict(FORM, Cookie=session))
        self.assertEqual(st, 403)
        self.assertNotIn(b"applied-id", body)
        self.assertNotIn("stolen.test", m.mailacct("requests").stdout)
        self.assertTrue(pop3_login(m, "victim@stolen.test", "Victim-Pass-1"), "unchanged")
        # a new contact is a new password too
        session, token, body = self.admin_session("stolen.test", new)
        m.mailacct("domain", "admin", "stolen.test", "--contact", "other-boss@example.test")
        st, h, body = https(m, "GET", "/", headers={"Cookie": session})
        self.assertIn(b'action="/login"', body)

    @unittest.skipUnless(IS_ROOT, "uids are only real when started as root")
    def test_administrator_session_restored_after_a_reset_opens_nothing(self):
        """A page program taken over (the web uid) hides an administrator's session from the
        operator's reset (what names it in web/ beside its own file moved away) and puts it
        back afterwards: acctd holds the session to the password of its login and refuses it."""
        import hashlib
        m = self.m
        pw = self.admin_domain("restored.test")
        m.add_user("kept@restored.test", "Kept-Pass-1")
        session, token, body = self.admin_session("restored.test", pw)
        name = hashlib.sha256(session.split("=", 1)[1].encode()).hexdigest()
        listed = [os.path.join(d, f) for d, _, files in os.walk(os.path.join(m.root, "web"))
                  for f in files if f == name and "/sessions" not in d]

        def move(a, b):
            r = as_user("yubin-web", ["mv", a, b], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
        for i, p in enumerate(listed):
            move(p, os.path.join(m.root, "web", "tmp", "%s.%d" % (name, i)))
        m.mailacct("domain", "admin", "restored.test", "--reset")
        for i, p in enumerate(listed):
            as_user("yubin-web", ["mkdir", "-p", os.path.dirname(p)], check=True)
            move(os.path.join(m.root, "web", "tmp", "%s.%d" % (name, i)), p)
        st, h, body = https(m, "POST", "/apply", form(csrf=token, kind="add", local="backdoor"),
                            dict(FORM, Cookie=session))
        self.assertNotIn(b"applied-id", body)
        self.assertNotIn("backdoor@restored.test", m.mailacct("requests").stdout)
        said = ("refused: an administrator session of restored.test from before its password "
                "was reset")
        self.assertTrue(m.wait_for(lambda: said in m.log("acctd")), m.log("acctd")[-2000:])

    @unittest.skipUnless(IS_ROOT, "uids are only real when started as root")
    def test_a_session_acctd_refuses_ends_with_the_login_page(self):
        """A login racing `mailacct domain admin D --reset`: acctd checked and recorded the old
        password, the reset ended the domain's sessions, then the page wrote the session. acctd
        refuses that session (its record is of the old password) and would for its 8 hours:
        the page answered "ただいま処理できません" (503) on every reload. The session ends and the
        login page comes instead; a login with the new password works. The race's order is
        made here by moving the page's files of the session away (as the web uid) across the
        reset and back."""
        import hashlib
        m = self.m
        pw = self.admin_domain("raced.test")
        session, token, body = self.admin_session("raced.test", pw)
        name = hashlib.sha256(session.split("=", 1)[1].encode()).hexdigest()
        listed = [os.path.join(d, f) for d, _, files in os.walk(os.path.join(m.root, "web"))
                  for f in files if f == name]

        def move(a, b):
            r = as_user("yubin-web", ["mv", a, b], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
        for i, p in enumerate(listed):
            move(p, os.path.join(m.root, "web", "tmp", "%s.%d" % (name, i)))
        out = m.mailacct("domain", "admin", "raced.test", "--reset").stdout
        new = re.search(r"^password: (\S+)$", out, re.M).group(1)
        for i, p in enumerate(listed):
            as_user("yubin-web", ["mkdir", "-p", os.path.dirname(p)], check=True)
            move(os.path.join(m.root, "web", "tmp", "%s.%d" % (name, i)), p)
        # an application sent on the page still open, then the page reloaded
        st, h, body = https(m, "POST", "/apply", form(csrf=token, kind="add", local="late"),
                            dict(FORM, Cookie=session))
        self.assertEqual(st, 200, body[:300])
        self.assertIn(b'action="/login"', body)
        self.assertIn("ログインが終了しました".encode(), body)
        self.assertNotIn("late@raced.test", m.mailacct("requests").stdout)
        self.assertTrue(m.wait_for(lambda: "session ended: acctd refused the administrator "
                                   "session domain=raced.test" in m.log("web"), 10),
                        m.log("web")[-2000:])
        self.assertFalse(any(os.path.exists(p) for p in listed), "the session's files are gone")
        st, h, body = https(m, "GET", "/", headers={"Cookie": session})
        self.assertEqual(st, 200)
        self.assertIn(b'action="/login"', body)
        session, token, body = self.admin_session("raced.test", new)
        self.assertIn(b'action="/apply"', body)

    def test_an_application_decided_already_is_named_as_decided(self):
        """`mailacct approve ID` (or reject) of an application decided already said "no
        application waiting", and so it did once its record had left requests/done after 14
        days. It says it was decided, when and by whom, and after those days, from log/audit,
        that it was decided and its record removed."""
        m = self.m
        session, token, _ = self.admin_session("shop.test", self.admin_pw)
        st, h, body = https(m, "POST", "/apply",
                            form(csrf=token, kind="add", local="decided-once"),
                            dict(FORM, Cookie=session))
        app_id = re.search(rb'id="applied-id">([^<]+)<', body).group(1).decode()
        m.mailacct("approve", app_id)
        today = time.strftime("%Y-%m-%d")
        for verb in ("approve", "reject"):
            args = [verb, app_id] + (["--reason", "no"] if verb == "reject" else [])
            r = m.mailacct(*args, check=False)
            self.assertEqual(r.returncode, 100, r.stdout + r.stderr)
            self.assertIn("application %s cannot be %s: it was approved on %s by root"
                          % (app_id, {"approve": "approved", "reject": "rejected"}[verb], today),
                          r.stderr)
        # 14 days on, acctd's listing removes the decided record (web/applist.c): time cannot
        # be moved in this test, so the record goes as that listing unlinks it
        os.unlink(os.path.join(m.root, "requests", "done", app_id))
        r = m.mailacct("approve", app_id, check=False)
        self.assertEqual(r.returncode, 100)
        self.assertRegex(r.stderr, r"application %s cannot be approved: it was approved at "
                         r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(log/audit\), and its record was "
                         r"removed from requests/done 14 days after" % app_id)
        self.assertNotIn("decided-once@shop.test", m.mailacct("requests").stdout)

    def test_operator_commands_refuse_what_they_should(self):
        m = self.m
        r = m.mailacct("approve", "20260101-000000-00000000", check=False)
        self.assertEqual(r.returncode, 100)
        self.assertIn("no application 20260101-000000-00000000: none with that number is "
                      "waiting or in log/audit", r.stderr)
        r = m.mailacct("reject", "20260101-000000-00000000", check=False)
        self.assertEqual(r.returncode, 100)
        r = m.mailacct("approve", "../etc/users", check=False)
        self.assertEqual(r.returncode, 100)
        self.assertIn("is not an application number", r.stderr)
        # a reason the page could not read back (a tab): refused before anything is written
        session, token, _ = self.admin_session("shop.test", self.admin_pw)
        st, h, body = https(m, "POST", "/apply", form(csrf=token, kind="add", local="tabbed"),
                            dict(FORM, Cookie=session))
        app_id = re.search(rb'id="applied-id">([^<]+)<', body).group(1).decode()
        r = m.mailacct("reject", app_id, "--reason", "taken\tsee the list", check=False)
        self.assertEqual(r.returncode, 100)
        self.assertIn("without tabs or other control characters", r.stderr)
        self.assertIn(app_id, m.mailacct("requests").stdout, "still waiting")
        m.mailacct("reject", app_id, "--reason", "taken, see the list")
        st, h, body = https(m, "GET", "/", headers={"Cookie": session})
        self.assertIn("taken, see the list".encode(), body, "the reason reaches the page")
        r = m.mailacct("domain", "set", "example2.test", "auto-approve", "on", check=False)
        self.assertEqual(r.returncode, 100)
        self.assertIn("no administrator", r.stderr)
        # a new administrator password: the old one stops working at once
        out = m.mailacct("domain", "admin", "rival.test").stdout
        self.assertIn("contact: other-boss@example.test", out)
        self.assertNotIn("password:", out)
        out = m.mailacct("domain", "admin", "rival.test", "--reset").stdout
        new = re.search(r"^password: (\S+)$", out, re.M).group(1)
        st, session, _ = http_login(m, "rival.test", self.rival_pw)
        self.assertIsNone(session)
        st, session, _ = http_login(m, "rival.test", new)
        self.assertIsNotNone(session)
        type(self).rival_pw = new
        # a deleted domain takes its administrator login with it
        m.mailacct("domain", "add", "gone.test", "--plan", "basic", "--admin", "boss@example.test")
        self.assertIn("administrator login of gone.test removed",
                      m.mailacct("domain", "del", "gone.test").stdout)
        with open(os.path.join(m.root, "etc", "webadmins")) as f:
            self.assertNotIn("gone.test", f.read())

    @unittest.skipUnless(IS_ROOT, "uids are only real when started as root")
    def test_acctd_takes_the_domain_from_the_session_not_the_caller(self):
        """Even the web uid itself (a broken page program) lists and applies only for the
        domain of a live administrator session whose id it holds."""
        m = self.m
        script = r'''
import os, socket, sys
args, sid = sys.argv[2].split(","), sys.argv[3]
payload = b"".join(a.encode() + b"\x00" for a in args)
r, w = os.pipe()
os.write(w, sid.encode() + b"\n")
os.close(w)
orr, ow = os.pipe()
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
socket.send_fds(s, [b"%d:%s," % (len(payload), payload)], [r, ow])
os.close(ow)
out = b""
while True:
    b = os.read(orr, 65536)
    if not b:
        break
    out += b
s.settimeout(60)
print(s.recv(16).decode().strip() or "closed")
print(out.decode())
'''
        sock = os.path.join(m.root, "run", "acctd.sock")

        def call(args, sid):
            r = as_user("yubin-web", ["python3", "-c", script, sock, ",".join(args), sid],
                        capture_output=True, text=True, timeout=90)
            status, _, out = r.stdout.partition("\n")
            return status, out
        st, member, _ = http_login(m, "clerk@shop.test", "Clerk-Pass-3")
        st, admin, _ = http_login(m, "shop.test", self.admin_pw)
        member, admin = member.split("=", 1)[1], admin.split("=", 1)[1]
        self.assertEqual(call(["list"], member)[0], "100")
        self.assertEqual(call(["list"], "f" * 64)[0], "100")
        status, out = call(["list"], admin)
        self.assertEqual(status, "0")
        self.assertIn("clerk@shop.test", out)
        self.assertNotIn("rival.test", out)
        self.assertEqual(call(["apply", "127.0.0.1", "del", "secret@rival.test"], admin)[0],
                         "100")
        self.assertEqual(call(["apply", "127.0.0.1", "add", "viaacctd@shop.test"], member)[0],
                         "100")
        self.assertNotIn("viaacctd@shop.test", m.mailacct("requests").stdout)
        self.assertTrue(pop3_login(m, "secret@rival.test", "Secret-Pass-4"))

    def test_addon_and_change_of_plan(self):
        """The 50 MB add-on of a basic plan and a change of plan, approved by the operator,
        are what `mailacct quota` and `mailacct domain plan` do; the add-on sends nothing, the
        change to premium (POP over SSL on) sends the address's new settings."""
        m = self.m
        pw = self.admin_domain("grow.test")
        m.add_user("big@grow.test", "Big-Pass-9")
        before = len(m.messages("boss@example.test"))
        b = self.open_browser()
        self.login("grow.test", pw)
        # the manual's names, not the ids; the plan the domain has is no choice
        self.assertEqual(b.eval("document.getElementById('plan').innerText"),
                         "ベーシックプランBasic plan")
        options = b.eval("[...document.querySelectorAll('#plan-name option')]"
                         ".map(o => o.value + '=' + o.innerText)")
        self.assertNotIn("basic", [o.split("=")[0] for o in options])
        self.assertIn("premium=プレミアムプラン (Premium plan)", options)
        self.assertIn("dedicated=専用サーバプラン (Dedicated server plan)", options)
        self.assertNotIn("プラン: basic", b.text())
        b.eval("document.getElementById('addon-addr').value = 'big@grow.test'")
        b.click("#form-addon button")
        self.shot("07-admin-addon-applied")
        addon = b.eval("document.getElementById('applied-id').innerText")
        self.assertIn("quota of big@grow.test: 50 MB", m.mailacct("approve", addon).stdout)
        time.sleep(1)
        self.assertEqual(len(m.messages("boss@example.test")), before, "the add-on mails nothing")
        b.goto(self.base + "/")
        self.assertIn("50 MB", b.eval("[...document.querySelectorAll('#addresses tr')]"
                                      ".find(r => r.innerText.includes('big@grow.test'))"
                                      ".innerText"))
        b.eval("document.getElementById('plan-name').value = 'premium'")
        b.click("#form-plan button")
        self.shot("08-admin-plan-applied")
        plan = b.eval("document.getElementById('applied-id').innerText")
        m.mailacct("approve", plan)
        self.assertIn("grow.test premium", m.mailacct("domain", "list").stdout)
        b.goto(self.base + "/")
        self.assertEqual(b.eval("document.getElementById('plan').innerText"),
                         "プレミアムプランPremium plan")
        self.assertNotIn("premium", b.eval("[...document.querySelectorAll('#plan-name option')]"
                                           ".map(o => o.value)"))
        # premium has no add-on: no form for it
        self.assertIsNone(b.eval("document.getElementById('form-addon')"))
        self.assertTrue(m.wait_for(lambda: len(m.messages("boss@example.test")) > before, 30))
        msg = self.inbox("boss@example.test", "Boss-Pass-1")[-1]
        self.assertEqual(str(msg["Subject"]), "メールアカウント設定情報変更のお知らせ (Changes to "
                                              "the settings of your mail accounts)")
        self.assertIn("big@grow.test", plan_mail(msg)[0])

    def admin_domain(self, domain, plan="basic", contact="boss@example.test"):
        """A customer's domain added by the operator with an administrator; its password."""
        out = self.m.mailacct("domain", "add", domain, "--plan", plan, "--admin", contact).stdout
        return re.search(r"^password: (\S+)$", out, re.M).group(1)

    def plan_domain(self, domain, plan, contact, addrs):
        """A customer's domain on plan with an administrator whose contact is a local account
        (its mail is read by POP3), and its addresses; the administrator's password."""
        m = self.m
        m.add_user(contact, "Contact-Pass-1")
        pw = self.admin_domain(domain, plan, contact)
        for a in addrs:
            m.add_user(a, "Pw-" + a)
        return pw

    def contact_mails(self, contact, n):
        m = self.m
        self.assertTrue(m.wait_for(lambda: len(m.messages(contact)) >= n, 30),
                        m.log("queue")[-3000:])
        return self.inbox(contact, "Contact-Pass-1")

    def test_change_of_plan_turning_pop_over_ssl_on_mails_the_new_settings(self):
        """basic -> premium, applied on the page, approved by the operator: port 995 is the
        addresses' now, and the contact is told so, in the manual's words, with every
        address's new sheet (without passwords: only hashes are kept), text and printable
        page, in one mail through the queue; the settings in it work."""
        m = self.m
        addrs = ["sales@up.test", "info@up.test"]
        pw = self.plan_domain("up.test", "basic", "upboss@example.test", addrs)
        for a in addrs:
            self.assertIn("not included in the basic plan", pop3s_login(m, "mail.example.test",
                                                                        a, "Pw-" + a))
        session, token, page = self.admin_session("up.test", pw)
        # the page says what is mailed
        self.assertIn("プランの変更で POP over SSL (ポート 995) がご利用頂けるようになる、またはご利用"
                      "頂けなくなる場合、または割り当てディスク容量が小さくなる場合は、各メールアドレス"
                      "の新しい設定情報 (パスワードは記載しておりません) をご連絡先へメールでお送り"
                      "致します (すでに新しい割り当てディスク容量に達しているメールアドレスもお知らせ"
                      "致します)。", page.decode())
        st, h, body = https(m, "POST", "/apply", form(csrf=token, kind="plan", target="premium"),
                            dict(FORM, Cookie=session))
        app_id = re.search(rb'id="applied-id">([^<]+)<', body).group(1).decode()
        r = m.mailacct("approve", app_id)
        self.assertIn("domain up.test: plan premium (was basic)", r.stdout)
        self.assertRegex(r.stdout, r"settings sheets of 2 addresses of up\.test \(POP over SSL "
                                   r"on\) mailed to upboss@example\.test \(queue \S+\)")
        self.assertNotIn(app_id, m.mailacct("requests").stdout)
        mails = self.contact_mails("upboss@example.test", 1)
        self.assertEqual(len(mails), 1)
        msg = mails[0]
        self.assertEqual(str(msg["Subject"]), "メールアカウント設定情報変更のお知らせ (Changes to "
                                              "the settings of your mail accounts)")
        self.assertEqual(str(msg["From"]), "admin@example.test")
        text, page = plan_mail(msg)
        self.assertIn("ドメイン up.test のプランを、ベーシックプランからプレミアムプランへ変更致しました。",
                      text)
        self.assertIn("プレミアムプランでは、POP3 に加えて POP over SSL もお使い頂けます。", text)
        self.assertIn("Microsoft Outlook や Windows メールなど、POP over SSL に対応したメールソフトを"
                      "ご利用頂く必要があります。", text)
        self.assertIn("The plan of up.test has been changed from the Basic plan to the Premium "
                      "plan.", text)
        self.assertIn("各メールアドレス (2 件) の新しい設定情報", text)
        self.assertLess(text.index("プランを"), text.index("The plan of"), "Japanese first")
        for a in addrs:
            self.assertIn("==== メールアカウント設定情報: %s ====" % a, text)
            self.assertNotIn("Pw-" + a, text + page)
            self.assertIn(a, page)
        self.assertIn("(別途お知らせしたパスワード)", text)
        self.assertEqual(page.count("<h2>POP over SSL</h2>"), 4, "in each sheet, JA and EN")
        # the settings the mail gives: the server's name and port 995, the same password
        server = re.search(r"(?m)^  受信メールサーバ名: (\S+)\n  使用ポート: 995$", text).group(1)
        self.assertEqual(server, "mail.example.test")
        for a in addrs:
            self.assertTrue(pop3s_login(m, server, a, "Pw-" + a).startswith("+OK"), a)

    def test_change_of_plan_turning_pop_over_ssl_off_tells_the_contact(self):
        """premium -> basic by the operator's own `mailacct domain plan`: a mail program on
        995 stops receiving, so the contact gets the notice (port 110 on pop3.DOMAIN) and the
        new sheets. A change that keeps the servers (basic -> pro) sends nothing; a domain
        without a contact gets nothing, and the operator is told to hand the sheets."""
        m = self.m
        addrs = ["shop@down.test"]
        self.plan_domain("down.test", "premium", "downboss@example.test", addrs)
        self.assertTrue(pop3s_login(m, "mail.example.test", addrs[0], "Pw-" + addrs[0])
                        .startswith("+OK"))
        r = m.mailacct("domain", "plan", "down.test", "basic")
        self.assertIn("domain down.test: plan basic (was premium)", r.stdout)
        self.assertIn("(POP over SSL off, mailbox size 20 MB) mailed to downboss@example.test",
                      r.stdout)
        msg = self.contact_mails("downboss@example.test", 1)[0]
        text, page = plan_mail(msg)
        self.assertIn("ドメイン down.test のプランを、プレミアムプランからベーシックプランへ変更致しました。",
                      text)
        self.assertIn("ベーシックプランでは、POP over SSL (mail.example.test、ポート 995) はご利用頂けません。",
                      text)
        self.assertIn("受信できなくなります", text)
        self.assertIn("The Basic plan does not include POP over SSL", text)
        self.assertRegex(text, r"(?m)^  受信メールサーバ名: pop3\.down\.test\n  メールサーバの種類: POP3\n"
                               r"  使用ポート: 110\n  セキュア対応: 無効$")
        self.assertIn("==== メールアカウント設定情報: shop@down.test ====", text)
        self.assertIn("割り当てディスク容量: 20 MB (これまで 50 MB)", text, "the size goes down too")
        self.assertNotIn("[POP over SSL]", text, "no sheet offers 995 any more")
        self.assertNotIn("995", page)
        # as the mail says: 995 refused, 110 works with the same password
        self.assertIn("not included in the basic plan", pop3s_login(m, "mail.example.test",
                                                                    addrs[0], "Pw-" + addrs[0]))
        self.assertTrue(pop3_login(m, addrs[0], "Pw-" + addrs[0]))
        # basic -> pro: the servers and ports stay, nothing is sent
        r = m.mailacct("domain", "plan", "down.test", "pro")
        self.assertNotIn("mailed", r.stdout)
        self.assertNotIn("no settings mail", r.stdout)
        time.sleep(1)
        self.assertEqual(len(m.messages("downboss@example.test")), 1)
        # a domain without an administrator: nobody to mail; the operator hears it
        m.mailacct("domain", "add", "nocontact.test", "--plan", "secure")
        m.add_user("x@nocontact.test", "Pw-x-nocontact")
        r = m.mailacct("domain", "plan", "nocontact.test", "basic")
        self.assertIn("domain nocontact.test has no contact: no settings mail sent; POP over SSL "
                      "(port 995) is off for its 1 address now; the mailbox of 1 of its "
                      "addresses is 20 MB now: hand them their sheets (mailacct sheet ADDR)",
                      r.stdout)

    def test_change_of_plan_whose_mail_the_queue_refused_is_mailed_when_run_again(self):
        """`mailacct domain plan` whose settings mail queue-inject cannot queue (queue/tmp not
        writable for the queue uid, as after a restore with the wrong owner): the plan is
        changed, the command exits 111 and says to run it again; run again once the queue takes
        mail, it sends the mail (the plan before it kept in requests/.plan-DOMAIN), and the
        contact gets it once; a third run sends nothing."""
        m = self.m
        contact = "retryboss@example.test"
        self.plan_domain("retry.test", "basic", contact, ["one@retry.test"])
        tmp = os.path.join(m.root, "queue", "tmp")
        mode = os.stat(tmp).st_mode
        self.addCleanup(os.chmod, tmp, mode)
        os.chmod(tmp, 0)
        r = m.mailacct("domain", "plan", "retry.test", "premium", check=False)
        os.chmod(tmp, mode)
        self.assertEqual(r.returncode, 111, r.stdout + r.stderr)
        self.assertIn("domain retry.test: plan premium (was basic)", r.stdout)
        self.assertIn("queue-inject: fatal: ", r.stderr)
        self.assertIn("mailacct: fatal: domain retry.test is on plan premium now, but the "
                      "settings mail to retryboss@example.test could not be queued: once the "
                      "queue takes mail again, run mailacct domain plan retry.test premium "
                      "again, which sends it", r.stderr)
        self.assertIn("retry.test premium", m.mailacct("domain", "list").stdout)
        self.assertEqual(m.messages(contact), [])
        # the queue takes mail again: the same command sends what it owes
        r = m.mailacct("domain", "plan", "retry.test", "premium", check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("domain retry.test: a change of its plan stopped before its mail was "
                      "sent; carrying on (the plan before it: basic)", r.stderr)
        self.assertIn("domain retry.test: plan premium (was basic)", r.stdout)
        qid = re.search(r"\(POP over SSL on\) mailed to retryboss@example\.test \(queue (\S+)\)",
                        r.stdout).group(1)
        self.assertFalse(os.path.exists(os.path.join(m.root, "requests", ".plan-retry.test")))
        # a third run: nothing changes and nothing is owed
        r = m.mailacct("domain", "plan", "retry.test", "premium")
        self.assertIn("domain retry.test: plan premium (was premium)", r.stdout)
        self.assertNotIn("mailed", r.stdout)
        self.assertNotIn("queued", r.stderr)
        self.assertTrue(m.wait_for(lambda: not os.path.exists(
            os.path.join(m.root, "queue", "mess", qid)), 30), m.log("queue")[-3000:])
        mails = self.contact_mails(contact, 1)
        self.assertEqual(len(mails), 1)
        text, _ = plan_mail(mails[0])
        self.assertIn("ドメイン retry.test のプランを、ベーシックプランからプレミアムプランへ変更致しました。",
                      text)
        self.assertIn("==== メールアカウント設定情報: one@retry.test ====", text)

    def test_change_of_plan_to_smaller_mailboxes_tells_the_contact_which_are_full(self):
        """pro -> basic keeps the servers, but every mailbox on the plan's default goes from
        50 MB to 20 MB and mail beyond that bounces: the contact is told, in the manual's words,
        the new size, and which addresses hold more mail already (filled by real deliveries);
        an address with its own size keeps it and is not named. They are refused mail as the
        notice says. A change up (basic -> pro) takes nothing away and sends nothing."""
        m = self.m
        contact = "smallboss@example.test"
        addrs = ["full@small.test", "light@small.test", "own@small.test"]
        self.plan_domain("small.test", "pro", contact, addrs)
        m.mailacct("quota", "own@small.test", "50M")
        fill = b"Subject: fill\r\n\r\n" + (b"x" * 998 + b"\r\n") * 7300
        for a in ("full@small.test", "own@small.test"):
            m.send_mail(a, [fill] * 3)
        m.send_mail("light@small.test", [b"Subject: hello\r\n\r\nhello\r\n"])
        used = sum(os.path.getsize(p) for p in m.messages("full@small.test"))
        self.assertGreater(used, 20 * 1048576)
        r = m.mailacct("domain", "plan", "small.test", "basic")
        self.assertIn("domain small.test: plan basic (was pro)", r.stdout)
        self.assertRegex(r.stdout, r"settings sheets of 3 addresses of small\.test \(mailbox "
                                   r"size 20 MB\) mailed to smallboss@example\.test")
        text, page = plan_mail(self.contact_mails(contact, 1)[0])
        self.assertIn("ドメイン small.test のプランを、プロプランからベーシックプランへ変更致しました。",
                      text)
        self.assertIn("[利用可能なディスク容量]\n  割り当てディスク容量: 20 MB (これまで 50 MB)\n", text)
        self.assertIn("ベーシックプランでは、1 つのメールアドレスの割り当てディスク容量は 20 MB 標準と"
                      "なります。2 件のメールアドレスの割り当てディスク容量が 50 MB から 20 MB に"
                      "なりました。", text)
        self.assertIn("割り当てディスク容量を超過すると、新しいメールをサーバ側で保存することが出来ず、"
                      "From (送信者) にエラーメッセージが返ります。", text)
        self.assertIn("以下のメールアドレスは、現在のご利用量がすでに新しい割り当てディスク容量に"
                      "達しているため、不要なメールを削除して頂くまで、新しいメールを保存することが"
                      "出来ません", text)
        self.assertIn("\n  full@small.test (ご利用量 %.1f MB)\n" % (used / 1048576), text)
        self.assertIn("メール容量追加サービスをお申し込み頂くことで 50 MB までご利用頂けます", text)
        self.assertIn("The plan of small.test has been changed from the Pro plan to the Basic "
                      "plan.", text)
        self.assertIn("  full@small.test (%.1f MB in use)\n" % (used / 1048576), text)
        self.assertNotIn("own@small.test (", text, "its own size: not lowered")
        self.assertNotIn("light@small.test (", text)
        self.assertNotIn("POP over SSL", text, "the servers stay")
        # the sheets: the new size, the own size kept
        self.assertRegex(text, r"(?s)==== メールアカウント設定情報: full@small\.test ====.*?"
                               r"割り当てディスク容量: 20 MB\n")
        self.assertRegex(text, r"(?s)==== メールアカウント設定情報: own@small\.test ====.*?"
                               r"割り当てディスク容量: 50 MB\n")
        # as the notice says: the full mailbox is refused mail, the others take it
        with smtplib.SMTP("127.0.0.1", m.port("smtp"), timeout=30) as s:
            s.ehlo("mx.remote.example")
            code, msg = s.docmd("MAIL FROM:<someone@remote.example> SIZE=2000")
            self.assertEqual(code, 250)
            code, msg = s.docmd("RCPT TO:<full@small.test>")
            self.assertEqual(code // 100, 5, msg)
            self.assertIn(b"5.2.2", msg)
        m.send_mail("light@small.test", [b"Subject: still\r\n\r\nstill\r\n"])
        # back up: nothing is taken away, nothing is sent
        r = m.mailacct("domain", "plan", "small.test", "pro")
        self.assertIn("domain small.test: plan pro (was basic)", r.stdout)
        self.assertNotIn("mailed", r.stdout)
        self.assertNotIn("queued", r.stderr)

    def test_auto_approved_change_of_plan_mails_the_new_settings(self):
        """A domain that applies at once: the change of plan is carried out when the page
        files it, and the contact gets the new settings."""
        m = self.m
        pw = self.plan_domain("autoplan.test", "basic", "autoboss@example.test",
                              ["one@autoplan.test"])
        m.mailacct("domain", "set", "autoplan.test", "auto-approve", "on")
        session, token, _ = self.admin_session("autoplan.test", pw)
        st, h, body = https(m, "POST", "/apply", form(csrf=token, kind="plan", target="secure"),
                            dict(FORM, Cookie=session))
        self.assertIn("設定が完了しました".encode(), body)
        self.assertIn("autoplan.test secure", m.mailacct("domain", "list").stdout)
        msg = self.contact_mails("autoboss@example.test", 1)[0]
        text, page = plan_mail(msg)
        self.assertIn("ベーシックプランからセキュアプランへ変更致しました。", text)
        self.assertIn("==== メールアカウント設定情報: one@autoplan.test ====", text)
        self.assertTrue(pop3s_login(m, "mail.example.test", "one@autoplan.test",
                                    "Pw-one@autoplan.test").startswith("+OK"))
        with open(os.path.join(m.root, "log", "audit")) as f:
            self.assertRegex(f.read(), r"event=approve id=\S+ domain=autoplan\.test kind=plan "
                                       r"target=secure due=\S+ by=auto ip=-")

    def test_change_of_plan_of_a_large_domain_mails_the_sheets_in_parts(self):
        """51 addresses (another domain's between them in etc/users): 50 sheets a mail bound
        its size, so two mails, each saying which part it is; every address's sheet comes
        once, and none of the other domain's."""
        m = self.m
        addrs = ["u%02d@big.test" % i for i in range(51)]
        self.plan_domain("big.test", "premium", "bigboss@example.test", addrs[:25])
        m.add_user("between@example2.test", "Between-Pass-1")
        for a in addrs[25:]:
            m.add_user(a, "Pw-" + a)
        r = m.mailacct("domain", "plan", "big.test", "basic")
        self.assertIn("settings sheets of 50 addresses of big.test (POP over SSL off, mailbox "
                      "size 20 MB)", r.stdout)
        self.assertIn("settings sheets of 1 address of big.test (POP over SSL off, mailbox "
                      "size 20 MB)", r.stdout)
        mails = self.contact_mails("bigboss@example.test", 2)
        self.assertEqual(len(mails), 2)
        subjects = sorted(str(x["Subject"]) for x in mails)
        self.assertEqual(subjects, ["メールアカウント設定情報変更のお知らせ (Changes to the settings "
                                    "of your mail accounts) (%d/2)" % i for i in (1, 2)])
        texts = [plan_mail(x)[0] for x in mails]
        self.assertTrue(any("(2 通のうち 1 通目)" in t for t in texts))
        self.assertTrue(any("(mail 2 of 2)" in t for t in texts))
        got = re.findall(r"(?m)^==== メールアカウント設定情報: (\S+) ====$", "".join(texts))
        self.assertEqual(sorted(got), addrs)
        self.assertTrue(all("各メールアドレス (51 件)" in t for t in texts))

    @unittest.skipUnless(shutil.which("strace"), "strace not installed")
    def test_approval_of_a_change_of_plan_stopped_before_its_mail_is_carried_on(self):
        """The operator's approval dies (SIGKILL, by strace, as it builds the settings mail)
        after the plan is changed: the application still waits, and approving it again sends
        the mail it owes, though the plan is the new one already."""
        m = self.m
        pw = self.plan_domain("stopplan.test", "basic", "stopboss@example.test",
                              ["two@stopplan.test"])
        session, token, _ = self.admin_session("stopplan.test", pw)
        app_id = self.killed_approval(session, token, kind="plan", target="premium")
        self.assertIn("stopplan.test premium", m.mailacct("domain", "list").stdout, "changed")
        self.assertIn(app_id, m.mailacct("requests").stdout, "still waiting")
        r = m.mailacct("approve", app_id, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("its approval stopped before it was closed; carrying on (the plan before "
                      "it: basic)", r.stderr)
        self.assertIn("(POP over SSL on) mailed to stopboss@example.test", r.stdout)
        self.assertNotIn(app_id, m.mailacct("requests").stdout)
        self.assertFalse(os.path.exists(os.path.join(m.root, "requests", ".approving-" + app_id)))
        text, _ = plan_mail(self.contact_mails("stopboss@example.test", 1)[0])
        self.assertIn("ベーシックプランからプレミアムプランへ変更致しました。", text)

    def test_disabled_address_shows_its_own_usage(self):
        """An address the operator disabled (etc/users option, then make) is listed with its
        own usage and count, and marked."""
        m = self.m
        m.add_user("parked@shop.test", "Parked-Pass-5")
        body = b"Subject: kept\r\n\r\n" + (b"0123456789" * 7 + b"\r\n") * 10
        for _ in range(3):
            m.send_mail("parked@shop.test", [body])
        self.assertTrue(m.wait_for(lambda: len(m.messages("parked@shop.test")) == 3))
        used = sum(os.path.getsize(p) for p in m.messages("parked@shop.test"))
        users = os.path.join(m.root, "etc", "users")
        with open(users) as f:
            lines = f.read().splitlines()
        for i, line in enumerate(lines):
            if line.startswith("parked@shop.test:"):
                f = line.split(":")
                while len(f) < 4:
                    f.append("")
                f[3] = ",".join(x for x in (f[3], "disabled") if x)
                lines[i] = ":".join(f)
        with open(users, "w") as f:
            f.write("\n".join(lines) + "\n")
        subprocess.run(["make", "-s", "-C", os.path.join(m.root, "etc")], check=True,
                       capture_output=True)
        b = self.open_browser()
        self.login("shop.test", self.admin_pw)
        row = b.eval("[...document.querySelectorAll('#addresses tr')]"
                     ".find(r => r.innerText.includes('parked@shop.test')).innerText")
        self.assertIn("disabled", row)
        cells = row.split("\t")
        self.assertEqual(cells[-1].strip(), "3", row)
        self.assertTrue(cells[1].startswith("%d bytes / " % used), row)

    def test_the_same_application_twice_is_filed_once(self):
        """An administrator who applies again for what is already waiting (the result page
        reloaded, the form sent twice) is told so; the operator sees one application."""
        m = self.m
        pw = self.admin_domain("twice.test")
        b = self.open_browser()
        self.login("twice.test", pw)
        for _ in range(2):
            b.goto(self.base + "/")
            b.type("#add-local", "twice")
            b.click("#form-add button")
        self.shot("09-admin-same-application")
        first = re.search(r"^(\S+) due \S+ twice\.test add twice@twice\.test",
                          m.mailacct("requests").stdout, re.M)
        self.assertIsNotNone(first, m.mailacct("requests").stdout)
        self.assertIn("同じ内容の申請 (申請番号 %s) を受付済みです" % first.group(1), b.text())
        self.assertIn("The same application (No. %s) is waiting already" % first.group(1),
                      b.text())
        self.assertEqual(m.mailacct("requests").stdout.count(" add twice@twice.test "), 1)
        self.assertTrue(m.wait_for(lambda: "the same application %s is waiting" % first.group(1)
                                   in m.log("acctd"), 10), m.log("acctd")[-2000:])
        m.mailacct("reject", first.group(1), "--reason", "test")

    @unittest.skipUnless(__import__("shutil").which("strace"), "strace not installed")
    def test_approval_stopped_after_the_account_is_carried_on(self):
        """The operator's mailacct approve dies (SIGKILL, by strace as it builds the settings
        mail) after making the account: the application is still waiting, and approving it
        again finishes the job (a new password, mailed) instead of failing for good."""
        m = self.m
        pw = self.admin_domain("stop.test")
        session, token, _ = self.admin_session("stop.test", pw)
        app_id = self.killed_approval(session, token, kind="add", local="late")
        self.assertIn("late@stop.test", m.mailacct("list", "stop.test").stdout, "made")
        self.assertIn(app_id, m.mailacct("requests").stdout, "still waiting")
        before = len(self.inbox("boss@example.test", "Boss-Pass-1"))
        r = m.mailacct("approve", app_id, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("its approval stopped after late@stop.test was made", r.stderr)
        self.assertNotIn(app_id, m.mailacct("requests").stdout)
        self.assertTrue(m.wait_for(lambda: len(m.messages("boss@example.test")) > before, 30))
        msg = self.inbox("boss@example.test", "Boss-Pass-1")[-1]
        body = list(msg.iter_parts())[0].get_content()
        self.assertIn("late@stop.test", body)
        self.assertTrue(pop3_login(m, "late@stop.test", sheet_password(body)), body)

    def test_the_same_application_sent_at_once_is_filed_once(self):
        """A double click sends the form twice at the same moment (four here): one is filed,
        the others are told it is waiting; the operator sees one application."""
        import threading
        m = self.m
        pw = self.admin_domain("dbl.test")
        session, token, _ = self.admin_session("dbl.test", pw)
        hdr = dict(FORM, Cookie=session)
        bodies, go = [], threading.Barrier(4)

        def post():
            go.wait()
            bodies.append(https(m, "POST", "/apply", form(csrf=token, kind="add",
                                                          local="newbie"), hdr)[2])
        threads = [threading.Thread(target=post) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(len(bodies), 4)
        self.assertEqual(sum(b'id="applied-id"' in b for b in bodies), 1, "filed once")
        self.assertEqual(m.mailacct("requests").stdout.count(" add newbie@dbl.test "), 1)

    @unittest.skipUnless(IS_ROOT and shutil.which("strace"), "needs root and strace")
    def test_application_not_made_durable_is_not_filed(self):
        """acctd puts requests/ID in place (rename), then fsyncs requests/ to make it durable;
        that fsync fails (EIO, injected by strace: the second fsync of the request's child).
        The page tells the administrator to try again, so nothing may be left filed: no
        application waits for the operator, and the next try is filed once."""
        m = self.m
        pw = self.admin_domain("sync.test")
        session, token, _ = self.admin_session("sync.test", pw)
        hdr = dict(FORM, Cookie=session)
        reqdir = os.path.join(m.root, "requests")

        def files():    # the lock file is made by the first application of the class's root
            return sorted(n for n in os.listdir(reqdir) if n != ".lock")
        before = files()
        detach = trace_acctd(self, m, "inject=fsync:error=EIO:when=2")
        st, h, body = https(m, "POST", "/apply", form(csrf=token, kind="add", local="synced"),
                            hdr)
        detach()
        text = body.decode()
        self.assertEqual(st, 503, text)
        self.assertIn("しばらくしてからもう一度お試し下さい", text)
        self.assertNotIn('id="applied-id"', text)
        self.assertTrue(m.wait_for(lambda: "unable to write %s/requests/" % m.root
                                   in m.log("acctd"), 10), m.log("acctd")[-2000:])
        # as the page said: not filed, and nothing left of it
        self.assertNotIn("synced@sync.test", m.mailacct("requests").stdout)
        self.assertEqual(files(), before, "no application, no temporary file")
        with open(os.path.join(m.root, "log", "audit")) as f:
            self.assertNotIn("target=synced@sync.test", f.read())
        # the administrator tries again: filed, once
        st, h, body = https(m, "POST", "/apply", form(csrf=token, kind="add", local="synced"),
                            hdr)
        self.assertIn(b'id="applied-id"', body)
        self.assertEqual(m.mailacct("requests").stdout.count(" add synced@sync.test "), 1)

    @unittest.skipUnless(IS_ROOT and shutil.which("strace"), "needs root and strace")
    def test_auto_approval_that_fails_leaves_the_application_filed_and_says_so(self):
        """A domain that applies at once: the application is filed, then `mailacct approve`
        fails (it cannot make the settings mail: memfd_create fails, injected by strace). The
        application is filed and waits for the operator, so the page says it was taken (not
        'try again', which would only be told 'the same application is waiting'); the
        operator's approval then finishes it and the sheet is mailed."""
        m = self.m
        pw = self.admin_domain("halfway.test")
        m.mailacct("domain", "set", "halfway.test", "auto-approve", "on")
        m.add_user("lost@halfway.test", "Lost-Pass-1")
        session, token, _ = self.admin_session("halfway.test", pw)
        hdr = dict(FORM, Cookie=session)
        detach = trace_acctd(self, m, "inject=memfd_create:error=ENOMEM:when=1")
        st, h, body = https(m, "POST", "/apply", form(csrf=token, kind="reset",
                                                      target="lost@halfway.test"), hdr)
        detach()
        text = re.sub(r"<[^>]+>", "", body.decode())
        self.assertTrue(m.wait_for(lambda: "mailacct approve" in m.log("acctd"), 10),
                        m.log("acctd")[-2000:])
        self.assertEqual(st, 200, text)
        self.assertIn("申請を受け付けました", text)
        self.assertNotIn("設定が完了しました", text)
        self.assertNotIn("パスワード:", text)
        app_id = re.search(r'id="applied-id">([^<]+)<', body.decode()).group(1)
        self.assertIn(app_id, m.mailacct("requests").stdout, "waits for the operator")
        before = len(m.messages("boss@example.test"))
        r = m.mailacct("approve", app_id, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("mailed to boss@example.test", r.stdout)
        self.assertTrue(m.wait_for(lambda: len(m.messages("boss@example.test")) > before, 30))
        msg = self.inbox("boss@example.test", "Boss-Pass-1")[-1]
        body = list(msg.iter_parts())[0].get_content()
        self.assertIn("lost@halfway.test", body)
        self.assertTrue(pop3_login(m, "lost@halfway.test", sheet_password(body)), body)

    def test_auto_approval_adds_at_most_the_cap_of_new_addresses_a_day(self):
        """An auto-approve domain's administrator (or whoever has its password) adds address
        after address: each would be an account with its own sending limits. With the cap
        (WEB_AUTO_ADD_MAX in etc/env) at 2, the first two are carried out at once; the third is
        filed and waits for the operator, whose approval carries it out; a new password past the
        cap is still done at once. Another domain's cap is its own, and three of its
        applications sent at once get two carried out."""
        m = self.m
        m.set_env("WEB_AUTO_ADD_MAX", 2)
        m.restart("acctd")

        def uncap():
            os.unlink(os.path.join(m.root, "etc", "env", "WEB_AUTO_ADD_MAX"))
            m.restart("acctd")
        self.addCleanup(uncap)
        m.add_user("cap-boss@example.test", "Cap-Boss-1")
        pw = self.admin_domain("capped.test", contact="cap-boss@example.test")
        m.mailacct("domain", "set", "capped.test", "auto-approve", "on")
        session, token, _ = self.admin_session("capped.test", pw)
        hdr = dict(FORM, Cookie=session)

        def add(local):
            st, h, body = https(m, "POST", "/apply", form(csrf=token, kind="add", local=local),
                                hdr)
            self.assertEqual(st, 200)
            return body.decode()
        passwords = {}
        # the operator sees the cap and the count where acctd's warning sends them
        self.assertIn("new addresses: 0 of at most 2 carried out at once in the last 24 hours "
                      "on this node (WEB_AUTO_ADD_MAX)\n",
                      m.mailacct("domain", "admin", "capped.test").stdout)
        for local in ("one", "two"):
            text = add(local)
            self.assertIn("設定が完了しました", text)
            sheet = re.search(r'<pre id="sheet">(.*?)</pre>', text, re.S)
            self.assertIsNotNone(sheet, text[-1500:])
            passwords[local] = sheet_password(sheet.group(1))
            addr = local + "@capped.test"
            self.assertIn(addr, m.mailacct("show", addr).stdout)
            self.assertTrue(pop3_login(m, addr, passwords[local]))
        # the third: filed, and the page says so with its date, as for any application that
        # waits; nothing is made
        text = add("three")
        said = re.sub(r"<[^>]+>", "", re.search(r'<p class="msg ok" role="status" id="applied">'
                                                 r'(.*?)</p>', text, re.S).group(1))
        self.assertIn("申請を受け付けました", said)
        self.assertIn("設定予定日", said)
        self.assertNotIn("設定が完了しました", text)
        self.assertNotIn('id="sheet"', text)
        app_id = re.search(r'id="applied-id">([^<]+)<', text).group(1)
        due = re.search(r'id="applied-due">([^<]+)<', text).group(1)
        self.assertRegex(m.mailacct("requests").stdout,
                         r"(?m)^%s due %s capped\.test add three@capped\.test "
                         r"by admin:capped\.test " % (app_id, due))
        self.assertIn("new addresses: 2 of at most 2 carried out at once in the last 24 hours "
                      "on this node (WEB_AUTO_ADD_MAX); more wait for mailacct approve\n",
                      m.mailacct("domain", "admin", "capped.test").stdout)
        self.assertNotEqual(m.mailacct("show", "three@capped.test", check=False).returncode, 0)
        self.assertFalse(pop3_login(m, "three@capped.test", "anything"))
        held = re.compile(r"warning: application %s \(add three@capped\.test\): domain "
                          r"capped\.test has had 2 new addresses carried out by auto-approval "
                          r"in 24 hours, its cap \(WEB_AUTO_ADD_MAX=2\)" % app_id)
        self.assertTrue(m.wait_for(lambda: held.search(m.log("acctd")), 10),
                        m.log("acctd")[-2000:])
        with open(os.path.join(m.root, "log", "audit")) as f:
            self.assertRegex(f.read(), r"(?m)^\S+Z event=held id=%s domain=capped\.test kind=add "
                                       r"target=three@capped\.test due=\S+ by=auto ip=- "
                                       r"reason=auto-approval cap: 2 new addresses in 24 hours "
                                       r"\(WEB_AUTO_ADD_MAX\)$" % app_id)
        # a new password past the cap: done at once, with its sheet
        st, h, body = https(m, "POST", "/apply", form(csrf=token, kind="reset",
                                                      target="one@capped.test"), hdr)
        text = body.decode()
        self.assertIn("設定が完了しました", text)
        sheet = re.search(r'<pre id="sheet">(.*?)</pre>', text, re.S)
        self.assertIsNotNone(sheet, text[-1500:])
        new = sheet_password(sheet.group(1))
        self.assertFalse(pop3_login(m, "one@capped.test", passwords["one"]))
        self.assertTrue(pop3_login(m, "one@capped.test", new))
        # the operator approves the third: it is made, its sheet printed and mailed
        r = m.mailacct("approve", app_id, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("mailed to cap-boss@example.test", r.stdout)
        self.assertNotIn(app_id, m.mailacct("requests").stdout)
        self.assertTrue(pop3_login(m, "three@capped.test", sheet_password(r.stdout)))
        # another auto-approve domain has a cap of its own, also for three sent at once (they
        # would all count the same none before them, without the count's lock)
        import threading
        pw2 = self.admin_domain("second.test", contact="cap-boss@example.test")
        m.mailacct("domain", "set", "second.test", "auto-approve", "on")
        session2, token2, _ = self.admin_session("second.test", pw2)
        pages = {}

        def post(local):
            pages[local] = https(m, "POST", "/apply", form(csrf=token2, kind="add", local=local),
                                 dict(FORM, Cookie=session2))[2].decode()
        posts = [threading.Thread(target=post, args=("s%d" % i,)) for i in range(3)]
        for t in posts:
            t.start()
        for t in posts:
            t.join(60)
        done = sorted(k for k, v in pages.items() if "設定が完了しました" in v)
        held = sorted(k for k, v in pages.items() if "申請を受け付けました" in v)
        self.assertEqual((len(done), len(held)), (2, 1), pages)
        for local in done:
            self.assertTrue(pop3_login(m, local + "@second.test", sheet_password(
                re.search(r'<pre id="sheet">(.*?)</pre>', pages[local], re.S).group(1))))
        self.assertNotEqual(m.mailacct("show", held[0] + "@second.test", check=False).returncode,
                            0)
        self.assertIn(" second.test add %s@second.test " % held[0], m.mailacct("requests").stdout)

    def test_administrator_guesses_do_not_hold_up_members_pages(self):
        """Twelve addresses send wrong administrator passwords, over and over; authd's
        throttle holds each guess for seconds. A member's page (it asks acctd for the usage)
        must still come at once: the guesses must not wait in acctd's slots."""
        import threading
        m = self.m
        m.mailacct("domain", "add", "guess.test", "--plan", "basic",
                   "--admin", "boss@example.test")
        m.add_user("calm@guess.test", "Calm-Pass-7")
        st, member, _ = http_login(m, "calm@guess.test", "Calm-Pass-7")
        self.assertEqual(st, 303)
        stop = threading.Event()

        def guess(n):
            src = "127.0.9.%d" % (n + 1)
            while not stop.is_set():
                try:
                    http_login(m, "guess.test", "wrong-%d" % n, source=src)
                except OSError:
                    pass
        attackers = [threading.Thread(target=guess, args=(n,)) for n in range(12)]
        for t in attackers:
            t.start()
        self.addCleanup(lambda: [t.join(90) for t in attackers])
        self.addCleanup(stop.set)
        time.sleep(8)       # the throttle now holds every guess for seconds
        took = []
        for _ in range(3):
            t0 = time.time()
            st, h, body = https(m, "GET", "/", headers={"Cookie": member})
            took.append(time.time() - t0)
            self.assertEqual(st, 200)
            self.assertIn(b"calm@guess.test", body)
            time.sleep(1)
        stop.set()
        print("\n  member page during 12 guessing addresses: %s s"
              % ", ".join("%.2f" % t for t in took), file=sys.stderr)
        self.assertLess(max(took), 5, took)

    def test_waiting_applications_are_bounded(self):
        """A domain has at most 100 applications waiting: more are refused, not stored, and the
        page says why and what to do (it used to say to check what was typed, as for an
        address that exists already, which the customer could not act on)."""
        m = self.m
        pw = self.admin_domain("busy.test")
        session, token, _ = self.admin_session("busy.test", pw)
        hdr = dict(FORM, Cookie=session)
        for i in range(101):
            st, h, body = https(m, "POST", "/apply", form(csrf=token, kind="add", local="u%d" % i),
                                hdr)
            self.assertEqual(b'id="applied-id"' in body, i < 100, i)
        self.assertEqual(st, 200)
        text = body.decode()
        said = re.search(r'<p class="msg[^"]*" role="status">(.*?)</p>', text).group(1)
        self.assertIn("受付済みの申請が上限 (100 件) に達しているため、新しい申請をお受けできません",
                      said)
        self.assertIn("が済むまでお待ち頂き、その後あらためてお申し込み下さい", said)
        self.assertIn("The limit of 100 applications waiting has been reached", said)
        self.assertNotIn("入力内容をご確認下さい", said)
        self.assertEqual(m.mailacct("requests").stdout.count(" busy.test add "), 100)
        self.assertTrue(m.wait_for(lambda: "busy.test has 100 applications waiting"
                                   in m.log("acctd"), 10), m.log("acctd")[-2000:])
        # all 100 are listed, the oldest first
        rows = re.findall(r'<tr><td>\d{8}-\d{6}-[0-9a-f]{8}</td><td>.*?</td><td>u(\d+)@', text)
        self.assertEqual([int(n) for n in rows], list(range(100)))

    def test_many_decided_applications_keep_the_page_and_its_sheet(self):
        """An auto-approve domain whose administrator had 900 applications carried out: the
        page listed every one of the last 14 days (about 315 octets each), and past about 750
        it outgrew the page program's bound, so every page of the domain was lighttpd's 500,
        and the new password of an approval, shown once, was lost with its page although the
        approval was done. Now the page shows the newest 20, says how many more there are and
        links to older ones, and a new password's sheet still shows, once."""
        m = self.m
        m.add_user("many-boss@example.test", "Many-Boss-1")
        pw = self.admin_domain("many.test", plan="secure", contact="many-boss@example.test")
        m.mailacct("domain", "set", "many.test", "auto-approve", "on")
        m.add_user("staff@many.test", "Staff-Pass-1")
        session, token, _ = self.admin_session("many.test", pw)
        hdr = dict(FORM, Cookie=session)
        ctx = ssl.create_default_context(cafile=os.path.join(m.root, "etc", "tls", "ca.pem"))
        c = http.client.HTTPSConnection("127.0.0.1", m.port("https"), context=ctx, timeout=60)
        n, t0 = 900, time.time()
        # changes of plan between two plans with POP over SSL and 50 MB: carried out at once
        # (the maps, the record moved to requests/done/), nothing mailed
        for i in range(n):
            c.request("POST", "/apply", form(csrf=token, kind="plan",
                                             target=("premium", "secure")[i % 2]), hdr)
            r = c.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200, "application %d" % (i + 1))
            self.assertIn(b'id="applied-done"', body, i)
        c.close()
        print("\n  %d applications in %.1f s" % (n, time.time() - t0), file=sys.stderr)
        st, h, body = https(m, "GET", "/", headers={"Cookie": session})
        self.assertEqual(st, 200)
        text = body.decode()
        ids = re.findall(r'<tr><td>(\d{8}-\d{6}-[0-9a-f]{8})</td>', text)
        with open(os.path.join(m.root, "log", "audit")) as f:
            done = re.findall(r"event=approve id=(\S+) domain=many\.test ", f.read())
        self.assertEqual(len(done), n)
        self.assertEqual(ids, done[::-1][:20], "the newest 20, newest first")
        self.assertIn("14 日以内に処理した申請 全 900 件中、新しいものから 1〜20 件目を表示しています "
                      "(ほか 880 件)", text)
        self.assertIn("applications decided in the last 14 days: 1 to 20 of 900", text)
        self.assertLess(len(body), 64 * 1024)
        older = re.search(r'id="decided-older" href="([^"]+)"', text).group(1)
        self.assertEqual(older, "/?done=20")
        st, h, body = https(m, "GET", older, headers={"Cookie": session})
        self.assertEqual(st, 200)
        self.assertEqual(re.findall(r'<tr><td>(\d{8}-\d{6}-[0-9a-f]{8})</td>', body.decode()),
                         done[::-1][20:40])
        self.assertIn("全 900 件中、新しいものから 21〜40 件目", body.decode())
        # a new password now: done at once, and its sheet on the page that says so
        st, h, body = https(m, "POST", "/apply", form(csrf=token, kind="reset",
                                                     target="staff@many.test"), hdr)
        self.assertEqual(st, 200)
        sheet = re.search(rb'<pre id="sheet">(.*?)</pre>', body, re.S)
        self.assertIsNotNone(sheet, body[:300])
        password = sheet_password(sheet.group(1).decode())
        self.assertTrue(pop3_login(m, "staff@many.test", password))
        self.assertIn("全 901 件中", body.decode())
        m.mailacct("domain", "set", "many.test", "auto-approve", "off")

    @unittest.skipUnless(IS_ROOT, "uids are only real when started as root")
    def test_web_uid_cannot_forge_an_administrator_session(self):
        """The page's session files are the web uid's to write: a page program taken over writes
        one for shop.test and asks acctd for its addresses, and to reset clerk's password
        (auto-approved, the new password would come back). acctd refuses both: it acts only
        for an administrator's login it checked itself."""
        m = self.m
        m.mailacct("domain", "set", "shop.test", "auto-approve", "on")
        self.addCleanup(m.mailacct, "domain", "set", "shop.test", "auto-approve", "off")
        forge = (
            'set -e\nR=$1\nID=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d " \\n")\n'
            'NOW=$(date +%s)\n'
            'H=$(printf %s "$ID" | sha256sum | cut -d" " -f1)\n'
            'printf "shop.test\\n%s\\n%s\\n%s\\na\\n" "$ID" "$NOW" "$NOW" '
            '> "$R/web/sessions/$H"\n'
            'K=$(printf "a\\nshop.test" | sha256sum | cut -d" " -f1)\n'
            'mkdir -p "$R/web/logins/$K"\n: > "$R/web/logins/$K/$H"\n'
            'shift\nprintf "%s\\n" "$ID" | "$R/bin/ipc-call" "$R/run/acctd.sock" "$@"\n')
        script = os.path.join(m.root, "web", "tmp", "forge.sh")
        with open(script, "w") as f:
            f.write(forge)
        os.chmod(script, 0o755)
        import pwd
        pw = pwd.getpwnam("yubin-web")
        os.chown(script, pw.pw_uid, pw.pw_gid)
        for args in (["list"], ["apply", "127.0.0.9", "reset", "clerk@shop.test"]):
            r = as_user("yubin-web", ["sh", script, m.root] + args, capture_output=True,
                        text=True)
            self.assertNotEqual(r.returncode, 0, (args, r.stdout))
            self.assertNotIn("clerk@shop.test", r.stdout)
            self.assertNotIn("Password", r.stdout)
        self.assertTrue(m.wait_for(lambda: "refused: an administrator session of shop.test that "
                                   "acctd did not open" in m.log("acctd"), 10),
                        m.log("acctd")[-2000:])
        self.assertTrue(pop3_login(m, "clerk@shop.test", "Clerk-Pass-3"), "its password stays")
        # the administrator's own login still works
        session, token, body = self.admin_session("shop.test", self.admin_pw)
        self.assertIn(b"clerk@shop.test", body)

    @unittest.skipUnless(IS_ROOT, "uids are only real when started as root")
    def test_web_uid_reads_no_quota_relay_or_srs_secret(self):
        m = self.m
        for what in ("etc/srs", "quota", "relay", "etc/webadmins", "requests", "log/audit"):
            path = os.path.join(m.root, what)
            with self.subTest(target=what):
                self.assertTrue(os.path.exists(path), what)
                self.assertFalse(can_open("yubin-web", path), "yubin-web can read " + what)
        groups = as_user("yubin-web", ["id", "-Gn"], capture_output=True, text=True).stdout.split()
        self.assertNotIn("yubin-smtpd", groups,
                         "groups are system-wide: an older yubin-setup run for another mail root "
                         "on this machine puts yubin-web back into yubin-smtpd")
        # yet the member page shows quota use (acctd answers it)
        with smtplib.SMTP("127.0.0.1", m.port("smtp"), timeout=30) as s:
            s.sendmail("a@example2.test", ["clerk@shop.test"], b"Subject: x\r\n\r\n" + b"y" * 70 + b"\r\n")
        self.assertTrue(m.wait_for(lambda: len(m.messages("clerk@shop.test")) >= 1))
        st, session, _ = http_login(m, "clerk@shop.test", "Clerk-Pass-3")
        st, h, body = https(m, "GET", "/", headers={"Cookie": session})
        self.assertRegex(body.decode(), r'id="count">[1-9]\d* 通')
        session, token, body = self.admin_session("shop.test", self.admin_pw)
        self.assertRegex(body.decode(), r"clerk@shop\.test</td><td>\d[\d.]* (bytes|KB) / 20 MB")


@unittest.skipUnless(NEEDS, "needs mailacct, lighttpd and chromium (make deps)")
class DueDateTimeZoneTest(unittest.TestCase):
    """The due date is the server's local time of etc/env/TZ, the same on the page and in
    acctd's record: a zone 14 hours ahead of UTC makes the difference visible most hours."""
    ZONE = "Pacific/Kiritimati"

    def test_page_and_record_use_the_zone_of_etc_env_tz(self):
        import zoneinfo
        m = MailRoot(prefix="yubin-webtz-", env={"TZ": self.ZONE})
        m.start()
        try:
            m.add_user("boss@example.test", "Boss-Pass-1")
            out = m.mailacct("domain", "add", "zone.test", "--plan", "basic",
                             "--admin", "boss@example.test").stdout
            pw = re.search(r"^password: (\S+)$", out, re.M).group(1)
            st, session, _ = http_login(m, "zone.test", pw)
            t0 = datetime.datetime.now(zoneinfo.ZoneInfo(self.ZONE))
            st, h, body = https(m, "GET", "/", headers={"Cookie": session})
            t1 = datetime.datetime.now(zoneinfo.ZoneInfo(self.ZONE))
            want = {due_for(t0, set()), due_for(t1, set())}
            page_due = re.search(rb'id="due">([^<]+)<', body).group(1).decode()
            # the page names the zone its 14:00 is read in
            self.assertIn("時刻は +14, UTC+14:00 です", re.sub(r"<[^>]+>", "", body.decode()))
            self.assertIn(page_due, want)
            token = re.search(rb'name="csrf" value="([0-9a-f]+)"', body).group(1).decode()
            st, h, body = https(m, "POST", "/apply", form(csrf=token, kind="add", local="tz"),
                                dict(FORM, Cookie=session))
            applied = re.search(rb'id="applied-due">([^<]+)<', body).group(1).decode()
            self.assertIn(applied, want | {due_for(datetime.datetime.now(
                zoneinfo.ZoneInfo(self.ZONE)), set())})
        finally:
            m.stop()


if __name__ == "__main__":
    unittest.main()
