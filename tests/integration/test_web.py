"""The member page (docs/web.md): real lighttpd and the member CGI under the real s6 tree,
driven by a real headless chromium over the DevTools protocol (tests/integration/cdp.py).
Screenshots of every page go to $BUILD/test-output/test_web/ (build/test-output/test_web/ in
a checkout), where a person can look at them after the run."""
import http.client
import os
import plistlib
import poplib
import pwd
import re
import select
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import xml.etree.ElementTree as ET

from cdp import BrowserCase
from harness import BIN, IS_ROOT, MailRoot, TOP, as_user, can_open, have, port_open, proc_name, \
    proc_uid, descendants

OUT = os.path.join(TOP, os.environ.get("BUILD", "build"), "test-output", "test_web")
# lighttpd and chromium come from `make deps`; without them the test cannot run at all
NEEDS = have("mailacct") and shutil.which("lighttpd") and shutil.which("chromium")
AD_OUT = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"
CJK_FONTS = ("IPAGothic", "IPAPGothic", "Noto Sans CJK JP", "Noto Sans CJK", "IPAexGothic")


def https(m, method, path, body=None, headers=None, source="127.0.0.1"):
    """One HTTPS request to the member page; (status, headers dict (lower-case), body bytes)."""
    ctx = ssl.create_default_context(cafile=os.path.join(m.root, "etc", "tls", "ca.pem"))
    c = http.client.HTTPSConnection("127.0.0.1", m.port("https"), context=ctx, timeout=60,
                                    source_address=(source, 0))
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    hdrs = {}
    for k, v in r.getheaders():
        hdrs.setdefault(k.lower(), []).append(v)
    c.close()
    return r.status, hdrs, data


def form(**fields):
    from urllib.parse import urlencode
    return urlencode(fields).encode()


def login_form_token(m, source="127.0.0.1"):
    """(pre-login cookie, token) as the login page hands them out."""
    st, h, body = https(m, "GET", "/", source=source)
    cookie = h["set-cookie"][0].split(";")[0]
    token = re.search(rb'name="csrf" value="([0-9a-f]+)"', body).group(1).decode()
    return cookie, token


def http_login(m, addr, password, source="127.0.0.1"):
    cookie, token = login_form_token(m, source)
    t = time.time()
    st, h, body = https(m, "POST", "/login", form(csrf=token, addr=addr, password=password),
                        {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
                        source)
    session = None
    for c in h.get("set-cookie", []):
        if c.startswith("__Host-yubin="):
            session = c.split(";")[0]
    return st, session, time.time() - t


def set_cookie(h, name="__Host-yubin"):
    """The cookie name=value an answer's headers set, or None."""
    for c in h.get("set-cookie", []):
        if c.startswith(name + "="):
            return c.split(";")[0]
    return None


def member_token(m, session):
    """The CSRF token of a member's page, and the page."""
    st, h, body = https(m, "GET", "/", headers={"Cookie": session})
    match = re.search(rb'name="csrf" value="([0-9a-f]+)"', body)
    return (match.group(1).decode() if match else None), body


def change_password(m, session, current, new, source="127.0.0.1"):
    """POST /password from the member page of session: (status, headers, body)."""
    token, _ = member_token(m, session)
    return https(m, "POST", "/password", form(csrf=token, current=current, new=new, new2=new),
                 {"Cookie": session, "Content-Type": "application/x-www-form-urlencoded"}, source)


def set_user_option(m, addr, option, on):
    """The operator's edit of an account's options in etc/users (the `disabled` option has no
    mailacct command), then `make -C ROOT/etc`."""
    users = os.path.join(m.root, "etc", "users")
    with open(users) as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        if line.startswith(addr + ":"):
            f = line.split(":")
            while len(f) < 4:
                f.append("")
            opts = [x for x in f[3].split(",") if x and x != option]
            f[3] = ",".join(opts + ([option] if on else []))
            lines[i] = ":".join(f)
    with open(users, "w") as f:
        f.write("\n".join(lines) + "\n")
    subprocess.run(["make", "-s", "-C", os.path.join(m.root, "etc")], check=True,
                   capture_output=True)


def logged_out(m, session):
    """True if session opens nothing of a member: its page is the login page and its sheet
    and profile do not come."""
    st, h, body = https(m, "GET", "/", headers={"Cookie": session})
    if b'action="/login"' not in body or b'action="/password"' in body:
        return False
    for path in ("/settings.html", "/profile.mobileconfig"):
        st, h, body = https(m, "GET", path, headers={"Cookie": session})
        if st == 200:
            return False
    return True


def pop3_login(m, addr, password):
    p = poplib.POP3("127.0.0.1", m.port("pop3"), timeout=30)
    try:
        p.user(addr)
        p.pass_(password)
        return True
    except poplib.error_proto:
        return False
    finally:
        try:
            p.quit()
        except (poplib.error_proto, OSError):
            pass


def client_hello():
    """The first flight of a TLS client (its ClientHello), as bytes to send by hand."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    into, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    try:
        ctx.wrap_bio(into, out, server_hostname="x").do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


@unittest.skipUnless(NEEDS, "needs mailacct, lighttpd and chromium (make deps)")
class MemberPageTest(BrowserCase, unittest.TestCase):
    out = OUT

    @classmethod
    def setUpClass(cls):
        cls.m = MailRoot(prefix="yubin-web-")
        cls.m.start()
        cls.m.add_user("taro@example.test", "Taro-Old-Pass1")          # premium
        cls.m.add_user("hanako@example2.test", "Hanako-Pass-2")        # basic
        cls.base = "https://127.0.0.1:%d" % cls.m.port("https")
        os.makedirs(OUT, exist_ok=True)

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def assert_japanese_drawn(self, selector):
        """The Japanese text is drawn with a real CJK font (not empty boxes)."""
        fonts = self.browser.fonts_of(selector)
        names = [f["familyName"] for f in fonts if f["glyphCount"] > 0]
        self.assertTrue(any(n.startswith(CJK_FONTS) for n in names),
                        "%s is drawn with %s, no CJK font" % (selector, names))

    # --- the member's own page
    def test_member_logs_in_sees_usage_and_changes_password(self):
        m = self.m
        with smtplib.SMTP("127.0.0.1", m.port("smtp"), timeout=30) as s:
            s.sendmail("sender@example2.test", ["taro@example.test"],
                       b"Subject: hello\r\n\r\n" + (b"0123456789" * 7 + b"\r\n") * 50)
        self.assertTrue(m.wait_for(lambda: len(m.messages("taro@example.test")) == 1))
        b = self.open_browser()
        b.goto(self.base + "/")
        self.shot("01-login")
        self.assertIn("会員専用ページ", b.text())
        self.assertIn("Member page", b.text())
        self.assert_japanese_drawn("h1 span[lang=ja]")
        self.assertEqual(b.eval("document.scripts.length"), 0)
        self.login("taro@example.test", "Taro-Old-Pass1")
        self.shot("02-member")
        text = b.text()
        self.assertIn("taro@example.test", text)
        self.assertIn("ご利用状況", text)
        self.assertEqual(b.eval("document.getElementById('count').innerText"),
                         "1 通1 messages")
        used = b.eval("document.getElementById('used').innerText")
        self.assertRegex(used, r"^\d[\d.]* (bytes|KB) / 50 MB \(0%\)$")
        self.assert_japanese_drawn("main h2 span[lang=ja]")
        # the settings: the sheet and the profile, downloaded by the logged-in browser
        sheet, name = b.download("#sheet")
        sheet = sheet.decode()
        self.assertTrue(name.endswith(".html"), name)
        self.assertIn("pop3.example.test", sheet)
        self.assertIn("taro@example.test", sheet)
        self.assertIn("995", sheet)       # premium: POP over SSL
        prof, name = b.download("#profile")
        self.assertTrue(name.endswith(".mobileconfig"), name)
        mail = plistlib.loads(prof)["PayloadContent"][0]
        self.assertEqual(mail["EmailAddress"], "taro@example.test")
        self.assertEqual((mail["IncomingMailServerHostName"], mail["IncomingMailServerPortNumber"],
                          mail["IncomingMailServerUseSSL"]), ("mail.example.test", 995, True))
        # change the password in the browser
        b.type("#current", "Taro-Old-Pass1")
        b.type("#new", "Taro-New-Pass2")
        b.type("#new2", "Taro-New-Pass2")
        b.click("form[action='/password'] button")
        self.shot("03-password-changed")
        self.assertIn("パスワードを変更しました", b.text())
        # live for POP3 and SMTP AUTH at once
        self.assertFalse(pop3_login(m, "taro@example.test", "Taro-Old-Pass1"))
        self.assertTrue(pop3_login(m, "taro@example.test", "Taro-New-Pass2"))
        with smtplib.SMTP("127.0.0.1", m.port("submission"), timeout=30) as s:
            s.ehlo()
            if s.has_extn("starttls"):
                s.starttls(context=ssl._create_unverified_context())
                s.ehlo()
            s.login("taro@example.test", "Taro-New-Pass2")
        # a wrong current password changes nothing
        b.type("#current", "Taro-Old-Pass1")
        b.type("#new", "Another-Pass-3")
        b.type("#new2", "Another-Pass-3")
        b.click("form[action='/password'] button")
        self.shot("04-password-wrong-current")
        self.assertIn("現在のパスワードが正しくありません", b.text())
        self.assertTrue(pop3_login(m, "taro@example.test", "Taro-New-Pass2"))
        # acctd's line reaches the log through s6-log, maybe after the page is shown
        self.assertTrue(m.wait_for(lambda: "password changed user=taro@example.test"
                                   in m.log("acctd"), 10), m.log("acctd")[-2000:])
        # no password in any log
        logs = m.all_logs()
        for pw in ("Taro-Old-Pass1", "Taro-New-Pass2", "Another-Pass-3"):
            self.assertNotIn(pw, logs)
        # log out: the session is gone on the server, the old cookie opens nothing
        cookie = [c for c in b.call("Network.getCookies")["cookies"]
                  if c["name"] == "__Host-yubin"][0]
        self.assertTrue(cookie["secure"] and cookie["httpOnly"])
        self.assertEqual(cookie["sameSite"], "Strict")
        self.assertEqual(cookie["path"], "/")
        b.click("form[action='/logout'] button")
        self.assertIn("ログイン", b.text())
        st, h, body = https(m, "GET", "/", headers={"Cookie": "__Host-yubin=" + cookie["value"]})
        self.assertNotIn(b"taro@example.test", body)
        self.assertIn(b'action="/login"', body)

    # --- the FAQ (the manual: 会員専用ページでは … FAQ(よくあるご質問)などにつきましてもご案内)
    def test_faq_from_the_navigation_before_and_after_login(self):
        m = self.m
        with open(os.path.join(m.root, "etc", "me")) as f:
            me = f.read().split()[0]
        b = self.open_browser()
        b.goto(self.base + "/")
        b.click("#nav-faq")
        self.shot("10-faq-anonymous")
        text = b.text()
        self.assertEqual(b.eval("location.pathname"), "/faq")
        self.assertIn("よくあるご質問", text)
        self.assert_japanese_drawn("dt span[lang=ja]")
        # the servers as the settings sheet gives them: this server's own name for SSL
        servers = b.eval("[...document.querySelectorAll('table.servers')]"
                         ".map(t => t.innerText).join('\\n')")
        self.assertIn("pop3.お客様ドメイン名", servers)
        self.assertIn("smtp.お客様ドメイン名", servers)
        self.assertIn(me, servers)
        for port in ("110", "995", "465", "25 または 587"):
            self.assertIn(port, servers)
        self.assertIn("POP over SSL (セキュアプランおよびプレミアムプラン)", text)
        for words in ("ベーシックプランでは 20MB 標準となっており、メール容量追加サービスをお申し込み",
                      "50MB", "最大 20MB まで送受信", "1.37", "13MB~18MB",
                      "平日午後 2 時迄のお申し込み分は、当日中にサーバ設定",
                      "「パスワードの変更」", "From (送信者) にエラーメッセージが返ります",
                      "不要なメールを削除"):
            self.assertIn(words, text)
        self.assertEqual(b.eval("document.scripts.length"), 0)
        # a member: its own servers, plan and quota, and the links to its sheet and profile
        m.add_user("faq@example.test", "Faq-Pass-12")            # premium
        self.login("faq@example.test", "Faq-Pass-12")
        self.assertIsNotNone(b.eval("document.getElementById('nav-faq')"))
        b.click("#nav-faq")
        self.shot("11-faq-member")
        text = b.text()
        self.assertIn("pop3.example.test", text)
        self.assertNotIn("お客様ドメイン名", text)
        self.assertIn("お客様のプランでは POP over SSL をご利用頂けます", text)
        self.assertIn("お客様のメールアドレスの容量: 50 MB", text)
        sheet, name = b.download("#faq-sheet")
        self.assertIn("pop3.example.test", sheet.decode())
        self.assertEqual(b.eval("document.getElementById('faq-profile').getAttribute('href')"),
                         "/profile.mobileconfig")
        # a basic plan's member hears it has no POP over SSL
        st, session, _ = http_login(m, "hanako@example2.test", "Hanako-Pass-2")
        st, h, body = https(m, "GET", "/faq", headers={"Cookie": session})
        self.assertEqual(st, 200)
        body = body.decode()
        self.assertIn("pop3.example2.test", body)
        self.assertIn("お客様のプランでは POP over SSL はご利用頂けません", body)
        self.assertIn("お客様のメールアドレスの容量: 20 MB", body)
        self.assertNotIn("POP over SSL</span></h3>", body)
        # it is a page: a POST gets 405
        st, h, _ = https(m, "POST", "/faq", b"", {"Content-Length": "0"})
        self.assertEqual((st, h.get("allow")), (405, ["GET, HEAD"]))

    def test_headers_of_every_page(self):
        st, h, body = https(self.m, "GET", "/")
        self.assertEqual(st, 200)
        csp = h["content-security-policy"][0]
        self.assertTrue(csp.startswith("default-src 'none'"))
        self.assertIn("style-src 'self'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        for directive in ("img-src 'self'", "form-action 'self'", "base-uri 'none'"):
            self.assertIn(directive, [d.strip() for d in csp.split(";")])
        self.assertEqual(h["x-content-type-options"], ["nosniff"])
        self.assertEqual(h["referrer-policy"], ["no-referrer"])
        self.assertEqual(h["cache-control"], ["no-store"])
        pre = h["set-cookie"][0]
        self.assertTrue(pre.startswith("__Host-yubin-login="))
        for attr in ("Path=/", "Secure", "HttpOnly", "SameSite=Strict"):
            self.assertIn(attr, pre)
        self.assertNotIn("Domain", pre)
        # the session's cookie, as the login sets it and the logout takes it back: a browser
        # keeps a __Host- cookie only with Secure, Path=/ and no Domain (RFC 6265bis)
        self.m.add_user("cookie@example.test", "Cookie-Pass-1")
        pre, token = login_form_token(self.m)
        st, h, body = https(self.m, "POST", "/login",
                            form(csrf=token, addr="cookie@example.test", password="Cookie-Pass-1"),
                            {"Cookie": pre, "Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(st, 303)
        self.assertEqual(h["cache-control"], ["no-store"])
        sess = [c for c in h["set-cookie"] if c.startswith("__Host-yubin=")]
        self.assertEqual(len(sess), 1, h["set-cookie"])
        attrs = [a.strip() for a in sess[0].split(";")[1:]]
        for attr in ("Path=/", "Secure", "HttpOnly", "SameSite=Strict"):
            self.assertIn(attr, attrs)
        self.assertFalse([a for a in attrs if a.lower().startswith("domain")], attrs)
        gone = [c for c in h["set-cookie"] if c.startswith("__Host-yubin-login=")]
        self.assertEqual(len(gone), 1, h["set-cookie"])
        self.assertIn("Max-Age=0", gone[0])
        session = sess[0].split(";")[0]
        token, page = member_token(self.m, session)
        self.assertIn(b"cookie@example.test", page)
        st, h, body = https(self.m, "POST", "/logout", form(csrf=token),
                            {"Cookie": session, "Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(st, 303)
        out = [c for c in h["set-cookie"] if c.startswith("__Host-yubin=")]
        self.assertEqual(len(out), 1, h["set-cookie"])
        for attr in ("Path=/", "Secure", "Max-Age=0"):
            self.assertIn(attr, out[0])
        self.assertTrue(logged_out(self.m, session))
        # HTTPS only from now on (RFC 6797): the browser that once came here goes to https://
        # by itself, and a customer who types http://member... on a public Wi-Fi is not handed
        # a page by whoever strips the port-80 redirect; on every HTTPS answer, errors too
        for method, path, status in (("GET", "/", 200), ("GET", "/style.css", 200),
                                     ("GET", "/faq", 200), ("GET", "/nothing-here", 404),
                                     ("POST", "/login", 403), ("PUT", "/", 501)):
            st, h, body = https(self.m, method, path)
            with self.subTest(path=path, method=method):
                self.assertEqual(st, status)
                self.assertEqual(h.get("strict-transport-security"), ["max-age=31536000"])
        # bounds: an over-long query string is refused, not cut
        st, h, body = https(self.m, "GET", "/mail/config-v1.1.xml?emailaddress=" + "a" * 3000)
        self.assertEqual(st, 414)

    def test_each_path_answers_the_methods_it_takes(self):
        """RFC 9110: 405 with Allow for a method the path does not take, 501 for one taken
        nowhere; a GET of a form's answer (Enter in the address bar) goes back to the page."""
        m = self.m
        st, session, _ = http_login(m, "hanako@example2.test", "Hanako-Pass-2")
        self.assertEqual(st, 303)
        for who, hdr in (("anonymous", {}), ("member", {"Cookie": session})):
            for path in ("/login", "/logout", "/password", "/apply"):
                st, h, _ = https(m, "GET", path, headers=hdr)
                self.assertEqual((st, h.get("location")), (303, ["/"]), (who, path))
            for path in ("/settings.html", "/style.css", "/mail/config-v1.1.xml"):
                st, h, _ = https(m, "POST", path, b"", dict(hdr, **{"Content-Length": "0"}))
                self.assertEqual((st, h.get("allow")), (405, ["GET, HEAD"]), (who, path))
            for method in ("PUT", "DELETE"):
                st, h, _ = https(m, method, "/", b"", dict(hdr, **{"Content-Length": "0"}))
                self.assertEqual(st, 501, (who, method))
        st, h, _ = https(m, "POST", "/", b"", {"Cookie": session, "Content-Length": "0"})
        self.assertEqual((st, h.get("allow")), (405, ["GET, HEAD"]))
        st, _, body = https(m, "GET", "/", headers={"Cookie": session})
        self.assertEqual(st, 200)
        self.assertIn(b"hanako@example2.test", body, "the session lives on")

    # --- CSRF
    def test_form_without_csrf_token_is_refused(self):
        m = self.m
        m.add_user("csrf@example.test", "Csrf-Pass-11")
        b = self.open_browser()
        self.login("csrf@example.test", "Csrf-Pass-11")
        self.assertIn("csrf@example.test", b.text())
        # the same form, its hidden token removed (what another site's form would send)
        b.eval("document.querySelector(\"form[action='/password'] input[name=csrf]\").remove()")
        b.type("#current", "Csrf-Pass-11")
        b.type("#new", "Csrf-Changed-12")
        b.type("#new2", "Csrf-Changed-12")
        b.click("form[action='/password'] button")
        self.shot("05-csrf-refused")
        self.assertIn("フォームの有効期限が切れました", b.text())
        self.assertTrue(pop3_login(m, "csrf@example.test", "Csrf-Pass-11"))
        self.assertFalse(pop3_login(m, "csrf@example.test", "Csrf-Changed-12"))
        # a wrong token is refused as well, and so is a login form without its token
        cookie = [c for c in b.call("Network.getCookies")["cookies"]
                  if c["name"] == "__Host-yubin"][0]
        st, h, body = https(m, "POST", "/password",
                            form(csrf="0" * 64, current="Csrf-Pass-11", new="Csrf-Changed-12",
                                 new2="Csrf-Changed-12"),
                            {"Cookie": "__Host-yubin=" + cookie["value"],
                             "Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(st, 403)
        pre, token = login_form_token(m)
        st, h, body = https(m, "POST", "/login", form(addr="csrf@example.test",
                                                      password="Csrf-Pass-11"),
                            {"Cookie": pre, "Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(st, 403)
        self.assertNotIn("set-cookie", {k for k in h if "__Host-yubin=" in "".join(h[k])})
        self.assertTrue(pop3_login(m, "csrf@example.test", "Csrf-Pass-11"))

    # --- escaping
    def test_address_with_script_comes_back_escaped(self):
        evil = "<script>document.title='pwned'</script>@example.test"
        b = self.open_browser()
        self.login(evil, "whatever-pass")
        self.shot("06-script-address")
        self.assertEqual(b.eval("document.getElementById('typed').innerText"), evil)
        self.assertEqual(b.eval("document.scripts.length"), 0)
        self.assertNotEqual(b.eval("document.title"), "pwned")
        pre, token = login_form_token(self.m)
        st, h, body = https(self.m, "POST", "/login",
                            form(csrf=token, addr=evil, password="x"),
                            {"Cookie": pre, "Content-Type": "application/x-www-form-urlencoded"})
        self.assertIn(b"&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;@example.test",
                      body)
        self.assertNotIn(b"<script>", body)

    # --- another member's data
    def test_member_cannot_reach_another_members_data(self):
        m = self.m
        m.add_user("ichiro@example.test", "Ichiro-Pass-5")
        st, session, _ = http_login(m, "ichiro@example.test", "Ichiro-Pass-5")
        self.assertEqual(st, 303)
        hdr = {"Cookie": session}
        for path in ("/?addr=hanako@example2.test", "/settings.html?addr=hanako@example2.test",
                     "/profile.mobileconfig?emailaddress=hanako@example2.test",
                     "/settings.html/../hanako@example2.test", "/hanako@example2.test"):
            st, h, body = https(m, "GET", path, headers=hdr)
            with self.subTest(path=path):
                self.assertNotIn(b"hanako", body)
        # the password form with hanako's address and password added changes nothing of hers
        st, h, body = https(m, "GET", "/", headers=hdr)
        token = re.search(rb'name="csrf" value="([0-9a-f]+)"', body).group(1).decode()
        st, h, body = https(m, "POST", "/password",
                            form(csrf=token, addr="hanako@example2.test", user="hanako@example2.test",
                                 current="Hanako-Pass-2", new="Stolen-Pass-9", new2="Stolen-Pass-9"),
                            dict(hdr, **{"Content-Type": "application/x-www-form-urlencoded"}))
        self.assertIn("現在のパスワードが正しくありません".encode(), body)
        self.assertTrue(pop3_login(m, "hanako@example2.test", "Hanako-Pass-2"))
        self.assertFalse(pop3_login(m, "hanako@example2.test", "Stolen-Pass-9"))
        # a made-up session cookie is no session
        st, h, body = https(m, "GET", "/settings.html", headers={"Cookie": "__Host-yubin=" + "a" * 64})
        self.assertNotIn(b"hanako", body)
        self.assertNotIn(b"ichiro", body)

    # --- throttling
    def test_login_failures_are_throttled_like_pop3(self):
        """authd's rules (docs/auth.md): after 3 failures of one IP on one account each further
        try waits 1 s, 2 s, ...; another IP is not slowed, so the member is not locked out."""
        m = self.m
        m.add_user("jiro@example.test", "Jiro-Pass-77")
        times = []
        for i in range(5):
            st, session, took = http_login(m, "jiro@example.test", "wrong-%d" % i)
            self.assertIsNone(session)
            times.append(took)
        self.assertLess(max(times[:3]), 1.0, times)
        self.assertGreaterEqual(times[3], 0.9, times)
        self.assertGreaterEqual(times[4], 1.9, times)
        # from another address the right password works at once
        st, session, took = http_login(m, "jiro@example.test", "Jiro-Pass-77", source="127.0.0.2")
        self.assertEqual(st, 303)
        self.assertIsNotNone(session)
        self.assertLess(took, 1.0)
        log = m.log("authd")
        self.assertIn("service=web ip=127.0.0.1 user=jiro@example.test", log)
        self.assertNotIn("wrong-3", m.all_logs())

    def test_wrong_current_passwords_do_not_hold_up_other_members_pages(self):
        """A logged-in member sends wrong current passwords from twelve addresses, over and
        over; authd's throttle holds each for seconds. Another member's page (it asks acctd for
        the usage) must still come at once: the wrong ones must not wait in acctd's 8 slots.
        The right one still changes the password."""
        m = self.m
        m.add_user("noisy@example.test", "Noisy-Pass-1")
        m.add_user("quiet@example.test", "Quiet-Pass-2")
        st, noisy, _ = http_login(m, "noisy@example.test", "Noisy-Pass-1")
        st, quiet, _ = http_login(m, "quiet@example.test", "Quiet-Pass-2")
        self.assertIsNotNone(noisy)
        self.assertIsNotNone(quiet)
        token, _ = member_token(m, noisy)
        stop = threading.Event()

        def guess(n):
            src = "127.0.8.%d" % (n + 1)
            while not stop.is_set():
                try:
                    https(m, "POST", "/password",
                          form(csrf=token, current="wrong-%d" % n, new="Noisy-New-3",
                               new2="Noisy-New-3"),
                          {"Cookie": noisy, "Content-Type": "application/x-www-form-urlencoded"},
                          src)
                except OSError:
                    pass
        guessers = [threading.Thread(target=guess, args=(n,)) for n in range(12)]
        for t in guessers:
            t.start()
        self.addCleanup(lambda: [t.join(90) for t in guessers])
        self.addCleanup(stop.set)
        time.sleep(8)       # the throttle now holds every wrong password for seconds
        took = []
        for _ in range(3):
            t0 = time.time()
            st, h, body = https(m, "GET", "/", headers={"Cookie": quiet})
            took.append(time.time() - t0)
            self.assertEqual(st, 200)
            self.assertIn(b"quiet@example.test", body)
            self.assertRegex(body.decode(), r'id="count">\d+ 通', "the usage came from acctd")
            time.sleep(1)
        stop.set()
        for t in guessers:
            t.join(90)
        print("\n  member page during 12 addresses' wrong current passwords: %s s"
              % ", ".join("%.2f" % t for t in took), file=sys.stderr)
        self.assertLess(max(took), 3, took)
        self.assertTrue(pop3_login(m, "noisy@example.test", "Noisy-Pass-1"), "unchanged")
        self.assertNotIn("refused: current password wrong user=noisy@example.test",
                         m.log("acctd"), "the wrong ones never reached acctd")
        st, h, body = change_password(m, noisy, "Noisy-Pass-1", "Noisy-New-3")
        self.assertEqual(st, 303, body)
        self.assertTrue(pop3_login(m, "noisy@example.test", "Noisy-New-3"))

    # --- sessions
    def test_sessions_of_one_login_are_capped_and_a_new_password_ends_the_others(self):
        """One account logged in over and over keeps at most 20 sessions live (the oldest
        end); a new password on the page ends every other one, and the page goes on in a new
        session (the old cookie opens nothing either)."""
        m = self.m
        m.add_user("often@example.test", "Often-Pass-1")
        cookies = []
        for _ in range(25):
            st, session, _ = http_login(m, "often@example.test", "Often-Pass-1")
            self.assertEqual(st, 303)
            cookies.append(session)
        live = []
        for c in cookies:
            st, h, body = https(m, "GET", "/", headers={"Cookie": c})
            live.append(b"often@example.test" in body and b'action="/password"' in body)
        self.assertEqual(live, [False] * 5 + [True] * 20, "the oldest five ended")
        mine = cookies[-1]
        st, h, body = change_password(m, mine, "Often-Pass-1", "Often-New-2")
        self.assertEqual(st, 303, body)
        self.assertEqual(h["location"], ["/?changed=1"])
        new = set_cookie(h)
        self.assertIsNotNone(new, "the page goes on in a new session")
        self.assertNotEqual(new, mine)
        st, h, body = https(m, "GET", "/?changed=1", headers={"Cookie": new})
        self.assertIn("パスワードを変更しました".encode(), body)
        self.assertIn(b"often@example.test", body)
        for i, c in enumerate(cookies):
            with self.subTest(cookie=i):
                self.assertTrue(logged_out(m, c))
        self.assertTrue(pop3_login(m, "often@example.test", "Often-New-2"))

    def test_only_a_right_login_sweeps_the_sessions(self):
        """Every login swept the page's session folder (reading up to 10,000 files) before
        authd had checked its password: anyone's guesses made the page walk it. Now only a
        login that makes a session sweeps, as an administrator's did. A session file a power
        cut left empty (the only one a test may write: nothing else makes it), older than any
        session lives, is what a sweep removes."""
        m = self.m
        m.add_user("sweep@example.test", "Sweep-Pass-1")
        torn = os.path.join(m.root, "web", "sessions", "0" * 64)
        with open(torn, "w"):
            pass
        if IS_ROOT:
            web = pwd.getpwnam("yubin-web")
            os.chown(torn, web.pw_uid, web.pw_gid)
        old = time.time() - 9 * 3600
        os.utime(torn, (old, old))
        st, session, _ = http_login(m, "sweep@example.test", "wrong-password")
        self.assertIsNone(session)
        self.assertTrue(os.path.exists(torn), "a failed login sweeps nothing")
        st, session, _ = http_login(m, "sweep@example.test", "Sweep-Pass-1")
        self.assertIsNotNone(session)
        self.assertFalse(os.path.exists(torn), "a login that makes a session sweeps")

    def test_a_login_ends_the_session_the_browser_came_with(self):
        """A browser that holds a live session logs in again (its login form still open in
        another tab): the new session came, and the old one stayed live on the server until
        it expired, its id no longer in the browser's jar but still opening the member's page
        for whoever had a copy. The login now ends the session it came with before it makes
        the new one, whoever that session was for: the old cookie gets the login page and no
        sheet, the new one the member's page."""
        m = self.m
        m.add_user("again@example.test", "Again-Pass-1")
        m.add_user("other@example2.test", "Other-Pass-2")

        def login_from(jar, addr, password):
            pre, token = login_form_token(m)        # the other tab's login page
            st, h, body = https(m, "POST", "/login", form(csrf=token, addr=addr,
                                                          password=password),
                                {"Cookie": jar + "; " + pre,
                                 "Content-Type": "application/x-www-form-urlencoded"})
            self.assertEqual(st, 303, body)
            self.assertEqual(h["location"], ["/"])
            return set_cookie(h)

        st, first, _ = http_login(m, "again@example.test", "Again-Pass-1")
        self.assertEqual(st, 303)
        self.assertFalse(logged_out(m, first))
        second = login_from(first, "again@example.test", "Again-Pass-1")
        self.assertIsNotNone(second)
        self.assertNotEqual(second, first)
        self.assertTrue(logged_out(m, first), "the first session ended at the second login")
        st, h, body = https(m, "GET", "/settings.html", headers={"Cookie": first})
        self.assertEqual((st, h["location"]), (303, ["/"]), "as an expired session")
        token, body = member_token(m, second)
        self.assertIsNotNone(token)
        self.assertIn(b"again@example.test", body)
        self.assertTrue(m.wait_for(lambda: "session ended: a new login from its browser "
                                   "user=again@example.test ip=127.0.0.1" in m.log("web")),
                        m.log("web")[-2000:])
        # another member logs in from the same browser
        third = login_from(second, "other@example2.test", "Other-Pass-2")
        self.assertIsNotNone(third)
        self.assertTrue(logged_out(m, second), "the first member's session ended")
        token, body = member_token(m, third)
        self.assertIsNotNone(token)
        self.assertIn(b"other@example2.test", body)
        self.assertNotIn(b"again@example.test", body)
        # a login that fails ends nothing (from an address of its own: authd's throttle)
        pre, token = login_form_token(m, "127.0.0.12")
        st, h, body = https(m, "POST", "/login", form(csrf=token, addr="other@example2.test",
                                                      password="wrong-password"),
                            {"Cookie": third + "; " + pre,
                             "Content-Type": "application/x-www-form-urlencoded"},
                            "127.0.0.12")
        self.assertEqual(st, 200, body)
        self.assertIsNone(set_cookie(h))
        self.assertFalse(logged_out(m, third), "a wrong password ends no session")

    def test_a_second_tabs_login_page_keeps_the_first_tabs_form(self):
        """Two tabs show the login page; the member logs in from the first: its form's token
        is still the browser's (a second login page did not replace it)."""
        m = self.m
        m.add_user("tabs@example.test", "Tabs-Pass-1")
        first, token = login_form_token(m)
        st, h, body = https(m, "GET", "/", headers={"Cookie": first})     # the second tab
        jar = set_cookie(h, "__Host-yubin-login") or first
        self.assertEqual(jar, first)
        st, h, body = https(m, "POST", "/login",
                            form(csrf=token, addr="tabs@example.test", password="Tabs-Pass-1"),
                            {"Cookie": jar, "Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(st, 303, body)
        self.assertIsNotNone(set_cookie(h))

    def test_operator_passwd_disable_and_delete_end_the_members_sessions(self):
        """After a theft the operator gives a new password, disables or deletes the account:
        a stolen cookie then opens nothing (no usage, no settings sheet)."""
        m = self.m
        addr = "stolen@example.test"
        m.add_user(addr, "Stolen-Pass-1")
        st, thief, _ = http_login(m, addr, "Stolen-Pass-1", source="127.0.0.7")
        self.assertFalse(logged_out(m, thief))
        # mailacct passwd
        out = m.mailacct("passwd", addr, "--random").stdout
        pw = re.search(r"(?m)^\s*パスワード: (\S+)$", out).group(1)
        self.assertTrue(logged_out(m, thief), "after mailacct passwd")
        # disabled in etc/users
        st, thief, _ = http_login(m, addr, pw, source="127.0.0.7")
        self.assertFalse(logged_out(m, thief))
        set_user_option(m, addr, "disabled", True)
        self.assertTrue(logged_out(m, thief), "after disabling")
        self.assertTrue(m.wait_for(lambda: "session ended: account disabled user=" + addr
                                   in m.log("web")))
        set_user_option(m, addr, "disabled", False)
        self.assertTrue(logged_out(m, thief), "enabled again: the session stays ended")
        # mailacct del, and the address made again for someone else
        st, thief, _ = http_login(m, addr, pw, source="127.0.0.7")
        self.assertFalse(logged_out(m, thief))
        m.mailacct("del", addr)
        m.add_user(addr, "New-Owner-Pass-2")
        self.assertTrue(logged_out(m, thief), "after mailacct del and a new account")

    # --- plain HTTP
    def test_plain_http_only_redirects_to_https(self):
        m = self.m
        for method, path in (("GET", "/"), ("GET", "/mail/config-v1.1.xml?emailaddress=a%40example.test"),
                             ("POST", "/login")):
            c = http.client.HTTPConnection("127.0.0.1", m.port("http"), timeout=10)
            c.request(method, path, body=b"addr=x" if method == "POST" else None)
            r = c.getresponse()
            body = r.read()
            c.close()
            with self.subTest(path=path):
                self.assertIn(r.status, (301, 308))
                self.assertEqual(r.getheader("Location"),
                                 "https://127.0.0.1:%d%s" % (m.port("https"), path))
                self.assertNotIn(b"<form", body)
                # HSTS over plain HTTP means nothing and must not be sent (RFC 6797 §7.2)
                self.assertIsNone(r.getheader("Strict-Transport-Security"))
        b = self.open_browser()
        b.goto("http://127.0.0.1:%d/" % m.port("http"))
        self.assertTrue(b.url().startswith(self.base + "/"), b.url())
        self.assertIn("ログイン", b.text())

    def test_an_upload_over_the_bound_gets_its_answer_not_a_reset(self):
        """A form over lighttpd's 16 KB bound: lighttpd answers 413 after the header and
        closes. The door (webfront) reads and drops what the client still sends for a moment
        before it closes, so the client finishes sending and reads the answer; closing with
        the upload unread reset the connection (the client's send failed, and a Windows
        client loses the answer too)."""
        m = self.m
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)   # little held in flight
        raw.settimeout(10)
        raw.connect(("127.0.0.1", m.port("https")))
        s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        self.addCleanup(s.close)
        body = b"x" * (768 * 1024)
        s.sendall(b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                  b"application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n" % len(body))
        time.sleep(0.5)         # lighttpd has answered and closed its side by now
        for k in range(0, len(body), 16384):
            s.sendall(body[k:k + 16384])        # the upload goes on: no reset
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        self.assertTrue(got.startswith(b"HTTP/1.1 413"), got[:200])

    def test_one_address_holding_connections_open_shuts_nobody_else_out(self):
        """Slowloris: one client held lighttpd's 512 connections open, each a TLS handshake
        begun and fed a byte now and then, and nobody else got a page (another address's
        GET /faq waited until the attacker stopped). Now webfront takes at most WEB_MAXPERIP
        (16) connections of one address at once and closes the others as they come, and
        another address is answered at once."""
        m = self.m
        hello = client_hello()
        held, stop = [], threading.Event()

        def done():
            stop.set()
            for s in held:
                s.close()
        self.addCleanup(done)
        for _ in range(520):
            s = socket.create_connection(("127.0.0.1", m.port("https")), timeout=10)
            s.send(hello[:5])
            held.append(s)

        def drip():             # a byte of the ClientHello every 3 s, on every connection
            k = 5
            while not stop.wait(3) and k < len(hello):
                for s in held:
                    try:
                        s.send(hello[k:k + 1])
                    except OSError:
                        pass
                k += 1
        threading.Thread(target=drip, daemon=True).start()

        time.sleep(1)
        # another address: its page at once (it waited as long as the attacker kept on)
        t0 = time.time()
        cctx = ssl.create_default_context(cafile=os.path.join(m.root, "etc", "tls", "ca.pem"))
        c = http.client.HTTPSConnection("127.0.0.1", m.port("https"), context=cctx, timeout=10,
                                        source_address=("127.0.0.2", 0))
        c.request("GET", "/faq")
        r = c.getresponse()
        body = r.read()
        c.close()
        took = time.time() - t0
        self.assertEqual(r.status, 200)
        self.assertIn("よくあるご質問".encode(), body)
        self.assertLess(took, 5)
        # the address's connections past 16 were closed as they came; 16 are held open

        def closed(s):
            r, _, _ = select.select([s], [], [], 0)
            try:
                return bool(r) and s.recv(1, socket.MSG_PEEK) == b""
            except OSError:
                return True
        self.assertTrue(m.wait_for(lambda: sum(map(closed, held)) >= 520 - 16, 20),
                        "closed: %d of 520" % sum(map(closed, held)))
        self.assertEqual(sum(not closed(s) for s in held), 16, "16 held open")
        fronts = [p for p in m.pids("https") if proc_name(p) == "webfront"]
        self.assertEqual(len(fronts), 16, "one webfront per connection held")
        if IS_ROOT:         # the door parses nothing, and runs as the web uid all the same
            web = pwd.getpwnam("yubin-web").pw_uid
            self.assertEqual([proc_uid(p) for p in fronts], [web] * 16)
        self.assertTrue(m.wait_for(lambda: "webfront: info: refused ip=127.0.0.1: more than 16 "
                                   "connections" in m.log("https"), 10), m.log("https")[-2000:])
        # behind the door the page still sees each client's own address (the PROXY line):
        # authd's throttle and the logs go by it
        st, session, _ = http_login(m, "nobody@example.test", "wrong-password", "127.0.0.3")
        self.assertIsNone(session)
        self.assertTrue(m.wait_for(lambda: "login failed user=nobody@example.test ip=127.0.0.3"
                                   in m.log("web"), 10), m.log("web")[-2000:])

    def test_a_handshake_or_request_sent_a_byte_at_a_time_is_closed_within_15_s(self):
        """lighttpd's timers count silence only: a TLS ClientHello fed a byte every few seconds
        (or a plain HTTP request on port 80) held its connection, and one of the address's 16
        slots, for as long as the client liked (32 addresses held all 512). webfront closes a
        connection that has had no byte from lighttpd 15 s after it began, and frees the slot."""
        m = self.m
        hello = client_hello()
        request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " + b"x" * 200
        slow = {}
        for name, data in (("https", hello), ("http", request)):
            s = socket.create_connection(("127.0.0.1", m.port(name)), timeout=10,
                                         source_address=("127.0.0.4", 0))
            self.addCleanup(s.close)
            slow[name] = [s, data, 0, None]
        t0 = time.time()
        due = t0
        while time.time() - t0 < 40 and any(v[3] is None for v in slow.values()):
            if time.time() >= due:
                for v in slow.values():
                    s, data, k, closed = v
                    if closed is not None:
                        continue
                    try:
                        s.send(data[k:k + 1])   # a byte every 2 s: under lighttpd's 10 s
                        v[2] = k + 1
                    except OSError:
                        v[3] = time.time() - t0
                due += 2
            # until the next byte's time, or a close, seen when it comes
            left = [v for v in slow.values() if v[3] is None]
            r, _, _ = select.select([v[0] for v in left], [], [], max(0, due - time.time()))
            for v in left:
                if v[0] in r:
                    try:
                        if v[0].recv(4096) == b"":
                            v[3] = time.time() - t0
                    except OSError:
                        v[3] = time.time() - t0
        for name, v in slow.items():
            self.assertIsNotNone(v[3], "%s: still open after %d s and %d bytes"
                                 % (name, time.time() - t0, v[2]))
            self.assertLess(v[3], 20, "%s: closed after %.1f s" % (name, v[3]))
            self.assertGreater(v[3], 13, "%s: closed after %.1f s" % (name, v[3]))
            self.assertLess(v[2], len(v[1]), "%s: the whole of it was never sent" % name)
        said = ("webfront: info: closed ip=127.0.0.4: no answer from lighttpd within 15 s")
        for name in ("https", "http"):
            self.assertTrue(m.wait_for(lambda: said in m.log(name), 5), m.log(name)[-1000:])
        # the slot is free again: 16 connections of the address are taken at once
        held = [socket.create_connection(("127.0.0.1", m.port("https")), timeout=10,
                                         source_address=("127.0.0.4", 0)) for _ in range(16)]
        for s in held:
            self.addCleanup(s.close)
        self.assertTrue(m.wait_for(lambda: len([p for p in m.pids("https")
                                                if proc_name(p) == "webfront"]) >= 16, 10))
        self.assertNotIn("refused ip=127.0.0.4", m.log("https"))

    def request_timeout(self, seconds):
        """The operator's WEB_REQUEST_TIMEOUT in etc/env, applied by restarting https (tcpserver
        hands etc/env to each webfront); taken out again after the test."""
        m = self.m
        m.set_env("WEB_REQUEST_TIMEOUT", seconds)
        m.restart("https")

        def back():
            os.unlink(os.path.join(m.root, "etc", "env", "WEB_REQUEST_TIMEOUT"))
            m.restart("https")
        self.addCleanup(back)

    def page_connection(self, source):
        """A kept-alive HTTPS connection to the member page from source, its TLS handshake
        done (the root's CA)."""
        ctx = ssl.create_default_context(cafile=os.path.join(self.m.root, "etc", "tls", "ca.pem"))
        c = http.client.HTTPSConnection("127.0.0.1", self.m.port("https"), context=ctx,
                                        timeout=30, source_address=(source, 0))
        c.connect()
        self.addCleanup(c.close)
        return c

    def test_a_request_sent_a_byte_at_a_time_inside_tls_is_closed_after_the_bound(self):
        """After a handshake answered at once (lighttpd's first byte came in time), a client fed
        its request, inside TLS, a byte now and then: lighttpd's timers count silence only, so
        the connection and one of its address's slots were held for as long as the client
        liked. webfront closes a request still arriving WEB_REQUEST_TIMEOUT (4 s here) after its
        first byte, with nothing from lighttpd since."""
        m = self.m
        self.request_timeout(4)
        c = self.page_connection("127.0.0.5")
        s = c.sock
        request = b"GET /faq HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        s.setblocking(False)
        sent, closed, answer = 0, None, b""
        t0 = time.time()
        while time.time() - t0 < 15 and closed is None and sent < len(request):
            try:
                s.send(request[sent:sent + 1])      # a TLS record of its own, each second
                sent += 1
            except ssl.SSLWantWriteError:
                pass
            except OSError:
                closed = time.time() - t0
                break
            due = t0 + sent
            while closed is None and time.time() < due:
                r, _, _ = select.select([s], [], [], max(0, due - time.time()))
                if not r:
                    continue
                try:
                    got = s.recv(4096)
                except ssl.SSLWantReadError:        # a session ticket, taken in by ssl
                    continue
                except OSError:
                    got = b""
                if got == b"":
                    closed = time.time() - t0
                answer += got
        self.assertIsNotNone(closed, "still open after %.0f s and %d of %d bytes"
                             % (time.time() - t0, sent, len(request)))
        self.assertEqual(answer, b"", "no answer to a request that never came whole")
        self.assertLess(sent, len(request))
        self.assertGreater(closed, 3.5, "closed after %.1f s" % closed)
        self.assertLess(closed, 7, "closed after %.1f s" % closed)
        said = ("webfront: info: closed ip=127.0.0.5: a request still arriving after 4 s "
                "without an answer (sent a little at a time)")
        self.assertTrue(m.wait_for(lambda: said in m.log("https"), 5), m.log("https")[-1000:])

    def test_a_slow_answer_and_kept_alive_requests_outlive_the_request_bound(self):
        """The bound is on a request still arriving, never on the answer: a login sent whole
        that authd's throttle holds 8 s (twice WEB_REQUEST_TIMEOUT, 4 s here), the client quiet
        meanwhile, gets its session; a request sent whole on a connection left idle longer than
        the bound is answered; and one kept-alive connection's requests, each answered at once,
        go on for longer than the bound in all."""
        m = self.m
        self.request_timeout(4)
        m.add_user("slow@example.test", "Slow-Pass-5")
        src = "127.0.0.6"
        for i in range(6):      # 3 quick failures, then the throttle's 1, 2 and 4 s
            st, session, took = http_login(m, "slow@example.test", "wrong-%d" % i, src)
            self.assertIsNone(session)
        # the login page, then the login on the same connection: its request comes after
        # lighttpd's last byte (a TLS 1.3 session ticket, else, could come after it)
        c = self.page_connection(src)
        c.request("GET", "/")
        r = c.getresponse()
        body = r.read()
        self.assertEqual(r.status, 200)
        cookie = set_cookie({"set-cookie": r.msg.get_all("Set-Cookie")}, "__Host-yubin-login")
        token = re.search(rb'name="csrf" value="([0-9a-f]+)"', body).group(1).decode()
        t0 = time.time()
        c.request("POST", "/login", form(csrf=token, addr="slow@example.test",
                                         password="Slow-Pass-5"),
                  {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
        r = c.getresponse()
        r.read()
        took = time.time() - t0
        self.assertEqual(r.status, 303)
        session = set_cookie({"set-cookie": r.msg.get_all("Set-Cookie") or []})
        self.assertIsNotNone(session, "the throttled login came through")
        self.assertGreater(took, 6, "authd's throttle held the answer past the bound")
        st, h, body = https(m, "GET", "/", headers={"Cookie": session}, source=src)
        self.assertEqual(st, 200)
        self.assertIn(b"slow@example.test", body)
        # a connection idle past the bound, then a request (within lighttpd's 5 s keep-alive)
        c = self.page_connection("127.0.0.7")
        port = c.sock.getsockname()[1]
        time.sleep(4.5)
        t0 = time.time()
        for n in range(7):      # then requests one after another, 7 s in all
            c.request("GET", "/faq")
            r = c.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200, "request %d" % n)
            self.assertIn("よくあるご質問".encode(), body)
            self.assertEqual(c.sock.getsockname()[1], port, "the same connection")
            time.sleep(1)
        self.assertGreater(time.time() - t0, 4 + 2)
        for ip in (src, "127.0.0.7"):
            self.assertNotIn("closed ip=%s:" % ip, m.log("https"))

    # --- mail programs configure themselves
    def thunderbird(self, path, host=None):
        st, h, body = https(self.m, "GET", path, headers={"Host": host} if host else None)
        self.assertEqual(st, 200, body[:300])
        root = ET.fromstring(body)
        prov = root.find("emailProvider")
        servers = lambda kind: [(s.findtext("hostname"), int(s.findtext("port")),
                                 s.findtext("socketType"), s.findtext("username"),
                                 s.findtext("authentication"))
                                for s in prov.findall(kind)]
        return prov.get("id"), servers("incomingServer"), servers("outgoingServer")

    def autodiscover(self, addr):
        req = ('<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.'
               'microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request>'
               '<EMailAddress>%s</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft'
               '.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>'
               '</Request></Autodiscover>' % addr)
        st, h, body = https(self.m, "POST", "/autodiscover/autodiscover.xml", req.encode(),
                            {"Content-Type": "text/xml"})
        self.assertEqual(st, 200, body[:300])
        acct = ET.fromstring(body).find(AD_OUT + "Response").find(AD_OUT + "Account")
        self.assertEqual(acct.findtext(AD_OUT + "AccountType"), "email")
        return {p.findtext(AD_OUT + "Type"): (p.findtext(AD_OUT + "Server"),
                                              int(p.findtext(AD_OUT + "Port")),
                                              p.findtext(AD_OUT + "SSL"),
                                              p.findtext(AD_OUT + "LoginName"))
                for p in acct.findall(AD_OUT + "Protocol")}

    def test_autoconfig_autodiscover_and_profile_for_basic_and_premium(self):
        me = "mail.example.test"
        pw = "password-cleartext"
        # basic (example2.test): no 995 anywhere
        for path, host in (("/mail/config-v1.1.xml?emailaddress=hanako%40example2.test", None),
                           ("/.well-known/autoconfig/mail/config-v1.1.xml", "autoconfig.example2.test"),
                           ("/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=x%40example2.test",
                            "example2.test")):
            pid, inc, out = self.thunderbird(path, host)
            self.assertEqual(pid, "example2.test")
            self.assertEqual(inc, [("pop3.example2.test", 110, "plain", "%EMAILADDRESS%", pw)])
            self.assertEqual(out, [(me, 465, "SSL", "%EMAILADDRESS%", pw),
                                   ("smtp.example2.test", 587, "plain", "%EMAILADDRESS%", pw)])
        # premium (example.test): 995 on the server's own name, first
        pid, inc, out = self.thunderbird("/mail/config-v1.1.xml?emailaddress=taro%40example.test")
        self.assertEqual(inc, [(me, 995, "SSL", "%EMAILADDRESS%", pw),
                               ("pop3.example.test", 110, "plain", "%EMAILADDRESS%", pw)])
        self.assertEqual(self.autodiscover("hanako@example2.test"),
                         {"POP3": ("pop3.example2.test", 110, "off", "hanako@example2.test"),
                          "SMTP": (me, 465, "on", "hanako@example2.test")})
        self.assertEqual(self.autodiscover("Taro@Example.test"),
                         {"POP3": (me, 995, "on", "taro@example.test"),
                          "SMTP": (me, 465, "on", "taro@example.test")})
        # a domain not hosted here: nothing
        st, h, body = https(self.m, "GET", "/mail/config-v1.1.xml?emailaddress=a%40elsewhere.test")
        self.assertEqual(st, 404)
        # the basic member's profile, from the browser
        b = self.open_browser()
        self.login("hanako@example2.test", "Hanako-Pass-2")
        self.shot("07-member-basic")
        self.assertNotIn("995", b.text())
        prof, name = b.download("#profile")
        top = plistlib.loads(prof)
        self.assertEqual(top["PayloadType"], "Configuration")
        self.assertEqual(top["PayloadVersion"], 1)
        mail = top["PayloadContent"][0]
        self.assertEqual(mail["PayloadType"], "com.apple.mail.managed")
        self.assertEqual(mail["EmailAccountType"], "EmailTypePOP")
        self.assertEqual((mail["IncomingMailServerHostName"], mail["IncomingMailServerPortNumber"],
                          mail["IncomingMailServerUseSSL"], mail["IncomingMailServerUsername"]),
                         ("pop3.example2.test", 110, False, "hanako@example2.test"))
        self.assertEqual((mail["OutgoingMailServerHostName"], mail["OutgoingMailServerPortNumber"],
                          mail["OutgoingMailServerUseSSL"]), (me, 465, True))
        self.assertTrue(mail["OutgoingPasswordSameAsIncomingPassword"])
        self.assertNotEqual(top["PayloadUUID"], mail["PayloadUUID"])
        cookie = [c for c in b.call("Network.getCookies")["cookies"]
                  if c["name"] == "__Host-yubin"][0]
        st, h, body = https(self.m, "GET", "/profile.mobileconfig",
                            headers={"Cookie": "__Host-yubin=" + cookie["value"]})
        self.assertEqual(h["content-type"], ["application/x-apple-aspen-config"])
        self.assertEqual(plistlib.loads(body)["PayloadContent"][0]["EmailAddress"],
                         "hanako@example2.test")

    # --- privileges
    @unittest.skipUnless(IS_ROOT, "uids are only real when started as root")
    def test_web_uid_cannot_read_hashes_mail_or_key(self):
        m = self.m
        for what in ("cdb/auth.cdb", "etc/users", "etc/tls/server.key", "mail",
                     "mail/example.test/taro/Maildir/new", "queue/mess"):
            path = os.path.join(m.root, what)
            if os.path.exists(path):
                with self.subTest(target=what):
                    self.assertFalse(can_open("yubin-web", path), "yubin-web can read " + what)
        self.assertTrue(can_open("yubin-web", os.path.join(m.root, "cdb", "users.cdb")))
        # its sessions are its own
        for user in ("yubin-smtpd", "yubin-pop", "yubin-mbox"):
            self.assertFalse(can_open(user, os.path.join(m.root, "web", "sessions")))
        # lighttpd runs as yubin-web once it has bound its ports, acctd as root
        web = pwd.getpwnam("yubin-web").pw_uid
        procs = {(proc_name(p), proc_uid(p)) for p in descendants(m.svscan.pid)}
        procs = {(n, u) for n, u in procs if u is not None}
        self.assertIn(("lighttpd", web), procs)
        self.assertNotIn("lighttpd", {n for n, u in procs if u != web})
        self.assertIn(("acctd", 0), procs)

    @unittest.skipUnless(IS_ROOT, "uids are only real when started as root")
    def test_longest_passwords_change_and_log_in(self):
        # 255 octets, the most the page takes, both as the current password and as the new one
        m = self.m
        old, new = "o" * 250 + "-Old1", "n" * 250 + "-New2"
        m.add_user("long.pw@example.test", old)
        b = self.open_browser()
        self.login("long.pw@example.test", old)
        self.assertIn("long.pw@example.test", b.text())
        b.type("#current", old)
        b.type("#new", new)
        b.type("#new2", new)
        b.click("form[action='/password'] button")
        self.assertIn("パスワードを変更しました", b.text())
        self.assertFalse(pop3_login(m, "long.pw@example.test", old))
        self.assertTrue(pop3_login(m, "long.pw@example.test", new))

    def test_an_empty_or_impossible_current_password_is_named_for_what_it_is(self):
        """The password form sent without the current password (a client other than a browser,
        which the form's `required` stops), or with one longer than any password: the page
        said the *new* password must be 8 to 255 characters. It asks for the current one, or
        says it is not right; nothing changes."""
        m = self.m
        m.add_user("current@example.test", "Current-Pass-1")
        st, session, _ = http_login(m, "current@example.test", "Current-Pass-1")
        weak = "新しいパスワードは 8 文字以上".encode()
        for current, said in (("", "現在のパスワードを入力して下さい"),
                              ("c" * 256, "現在のパスワードが正しくありません")):
            st, h, body = change_password(m, session, current, "Current-New-2")
            self.assertEqual(st, 200)
            self.assertIn(said.encode(), body, "current of %d octets" % len(current))
            self.assertNotIn(weak, body, "current of %d octets" % len(current))
        st, h, body = change_password(m, session, "Current-Pass-1", "short")
        self.assertIn(weak, body, "a new password too short is still named")
        self.assertTrue(pop3_login(m, "current@example.test", "Current-Pass-1"))
        self.assertFalse(pop3_login(m, "current@example.test", "Current-New-2"))

    def test_acctd_serves_only_the_web_uid_and_rechecks_the_password(self):
        """A caller of run/acctd.sock other than yubin-web is refused; yubin-web itself cannot
        change a password without the current one. (Each request carries two fds: what the
        caller sends, where the answer's text goes.)"""
        m = self.m
        m.add_user("saburo@example.test", "Saburo-Pass-3")
        script = r'''
import os, socket, sys
addr, cur, new = sys.argv[2:5]
payload = b"passwd\x00" + addr.encode() + b"\x00127.0.0.1\x00"
req = b"%d:%s," % (len(payload), payload)
r, w = os.pipe()
os.write(w, cur.encode() + b"\x00" + new.encode() + b"\x00")
os.close(w)
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
try:
    socket.send_fds(s, [req], [r, sys.stdout.fileno()])
    s.settimeout(60)
    print(s.recv(16).decode().strip() or "closed")
except OSError:
    print("closed")
'''
        sock = os.path.join(m.root, "run", "acctd.sock")
        run = lambda user, cur: as_user(user, ["python3", "-c", script, sock, "saburo@example.test",
                                               cur, "Taken-Over-99"],
                                        capture_output=True, text=True, timeout=90).stdout.strip()
        self.assertEqual(run("yubin-smtpd", "Saburo-Pass-3"), "closed")
        self.assertTrue(m.wait_for(lambda: "refused a connection from uid" in m.log("acctd"), 10),
                        m.log("acctd")[-2000:])
        self.assertEqual(run("yubin-web", "not-the-password"), "1")
        self.assertTrue(pop3_login(m, "saburo@example.test", "Saburo-Pass-3"))
        self.assertEqual(run("yubin-web", "Saburo-Pass-3"), "0")
        self.assertTrue(pop3_login(m, "saburo@example.test", "Taken-Over-99"))


@unittest.skipUnless(have("webfront"), "needs webfront")
@unittest.skipUnless(have("mailacct") and have("webfront") and shutil.which("lighttpd"),
                     "needs mailacct, webfront and lighttpd (make deps)")
class DoorStartTest(unittest.TestCase):
    """The member page's doors (services https and http: tcpserver and webfront) at a start,
    and while lighttpd (service web) is away. A port check that closes without a byte (a
    monitor's) is let go without a line: webfront, unable to reach lighttpd, logged
    "webfront: fatal: unable to connect to ROOT/run/web/https.sock" at every healthy start,
    and lighttpd's own check an "s6-ipcclient: fatal" line in log/web. A door is ready only
    once lighttpd is; a client that comes while lighttpd is away is answered (503, or a TLS
    alert) and closed cleanly, and webfront logs one line."""

    def svc(self, flag, wait, *names):
        dirs = [os.path.join(self.m.root, "service", n) for n in names]
        for d in dirs:          # s6-svc takes one service
            subprocess.run(["s6-svc", flag, d], check=True)
        subprocess.run(["s6-svwait", wait, "-t", "30000"] + dirs, check=True)

    def state(self, *names):
        """s6's up and ready of each service: name -> [up, ready] ("true"/"false")."""
        out = {}
        for n in names:
            r = subprocess.run(["s6-svstat", "-o", "up,ready",
                                os.path.join(self.m.root, "service", n)],
                               capture_output=True, text=True, check=True)
            out[n] = r.stdout.split()
        return out

    def fatal(self, since):
        """The fatal lines of log/https and log/http past since (name -> offset)."""
        return {n: [x for x in self.m.log(n)[since.get(n, 0):].splitlines() if "fatal" in x]
                for n in ("https", "http")}

    def test_no_fatal_line_at_a_start_nor_for_a_port_check_while_lighttpd_is_away(self):
        m = self.m = MailRoot(prefix="yubin-doors-")
        m.start()
        self.addCleanup(m.stop)
        # a clean start, every service ready: the doors' logs say nothing fatal
        time.sleep(2)
        self.assertEqual(self.fatal({}), {"https": [], "http": []})
        self.assertNotIn("fatal", m.log("web"))
        st, h, body = https(m, "GET", "/faq")
        self.assertEqual(st, 200)
        # the doors start while lighttpd is down: their checks find no lighttpd behind them
        self.svc("-d", "-d", "web")
        # lighttpd's own check (service web), tried before lighttpd has its socket: "not yet",
        # and nothing in the log (its s6-ipcclient's "fatal: unable to connect" was)
        r = subprocess.run([os.path.join(m.root, "service", "web", "check")],
                           capture_output=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stdout + r.stderr, b"")
        since = {n: len(m.log(n)) for n in ("https", "http")}
        self.svc("-d", "-d", "https", "http")
        self.svc("-u", "-u", "https", "http")
        self.assertTrue(m.wait_for(lambda: port_open(m.port("https"))
                                   and port_open(m.port("http")), 10))
        # a monitor's port check: connects and closes without a byte
        for name in ("https", "http"):
            socket.create_connection(("127.0.0.1", m.port(name)), timeout=5).close()
        time.sleep(2)
        self.assertEqual({n: m.log(n)[since[n]:] for n in since}, {"https": "", "http": ""})
        # lighttpd back: the page is served
        self.svc("-u", "-U", "web")
        self.svc("-u", "-U", "https", "http")
        st, h, body = https(m, "GET", "/faq")
        self.assertEqual(st, 200)

    def test_a_door_is_ready_only_once_lighttpd_is(self):
        """A door reported ready as soon as its port accepted, lighttpd there or not: `s6-svwait
        -U` on https and http (an operator's, a test's "ready" wait) came true while every
        request failed. Now a door is ready once lighttpd (service web) is ready and its socket
        behind the door accepts: the doors started while lighttpd is down, then while its start
        is held (service web up in s6's eyes, its run script waiting on a FIFO in etc/env
        before lighttpd starts), are up and accept on their ports, not ready; they turn ready
        when lighttpd does, and the page is served then."""
        m = self.m = MailRoot(prefix="yubin-doorready-")
        m.start()
        self.addCleanup(m.stop)
        doors = ("https", "http")
        self.svc("-d", "-d", "web", *doors)
        self.svc("-u", "-u", *doors)
        self.assertTrue(m.wait_for(lambda: all(port_open(m.port(n)) for n in doors), 10))
        time.sleep(1)       # twenty tries of the doors' checks
        self.assertEqual(self.state(*doors), {n: ["true", "false"] for n in doors})
        # lighttpd's start held: service web's run script reads etc/env/WEB_MAXCONN, here a
        # FIFO nobody writes, before it starts lighttpd
        fifo = os.path.join(m.root, "etc", "env", "WEB_MAXCONN")
        os.mkfifo(fifo)
        fd = None
        try:
            self.svc("-u", "-u", "web")
            self.assertTrue(m.wait_for(
                lambda: "head" in [proc_name(p) for p in m.pids("web")], 10), m.pids("web"))
            time.sleep(1)
            self.assertNotIn("lighttpd", [proc_name(p) for p in m.pids("web")])
            self.assertEqual(self.state("web", *doors),
                             {n: ["true", "false"] for n in ("web",) + doors})
            r = subprocess.run(["s6-svwait", "-U", "-o", "-t", "500"]
                               + [os.path.join(m.root, "service", n) for n in doors],
                               capture_output=True)
            self.assertEqual(r.returncode, 99, "s6-svwait -U: a door ready before lighttpd")
        finally:
            fd = os.open(fifo, os.O_RDWR)   # the waiting open returns; EOF once closed
            os.unlink(fifo)
            os.close(fd)
        t0 = time.time()
        self.svc("-u", "-U", *doors)
        self.assertLess(time.time() - t0, 10)
        self.assertEqual(self.state("web"), {"web": ["true", "true"]})
        st, h, body = https(m, "GET", "/faq")
        self.assertEqual(st, 200)
        with socket.create_connection(("127.0.0.1", m.port("http")), timeout=10) as s:
            s.sendall(b"GET /faq HTTP/1.1\r\nHost: mail.example.test\r\nConnection: close"
                      b"\r\n\r\n")
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 301 "))

    def test_lighttpd_away_a_client_gets_503_or_a_tls_alert_not_a_reset(self):
        """lighttpd down (s6-svc -d web): webfront read one byte of the client's request and
        closed, and the client saw "Connection reset by peer" or an empty answer. Now port 80
        answers "503 Service Unavailable" with Retry-After and a short page, and port 443,
        whose TLS is lighttpd's (webfront holds no key), a fatal TLS internal_error alert in
        place of a handshake; either closes cleanly after the client's request was read
        (python's http.client and curl, as a browser would see it), and each connection is
        one line in the door's log."""
        m = self.m = MailRoot(prefix="yubin-doors503-")
        m.start()
        self.addCleanup(m.stop)
        self.svc("-d", "-d", "web")
        since = {n: len(m.log(n)) for n in ("https", "http")}
        # port 80: a browser's GET, then a form POST with a body (read, not left unread)
        for method, body in (("GET", None), ("POST", b"x=" + b"y" * 65536)):
            c = http.client.HTTPConnection("127.0.0.1", m.port("http"), timeout=10)
            c.request(method, "/login", body=body,
                      headers={"Host": "mail.example.test", "Content-Type":
                               "application/x-www-form-urlencoded"})
            r = c.getresponse()
            page = r.read()
            self.assertEqual((r.status, r.reason), (503, "Service Unavailable"))
            self.assertEqual(r.getheader("Retry-After"), "30")
            self.assertEqual(r.getheader("Content-Type"), "text/plain; charset=utf-8")
            self.assertIn("会員専用ページは一時的にご利用いただけません", page.decode())
            self.assertIn(b"try again", page)
            self.assertEqual(int(r.getheader("Content-Length")), len(page))
            c.close()
        # the same by hand: the answer, then the connection's end, no reset
        with socket.create_connection(("127.0.0.1", m.port("http")), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: mail.example.test\r\n\r\n")
            got = b""
            while True:
                b = s.recv(65536)       # ConnectionResetError here was the old end
                if not b:
                    break
                got += b
            self.assertTrue(got.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), got)
        # port 443: the handshake ends in the server's alert, not in a reset
        ctx = ssl.create_default_context(cafile=os.path.join(m.root, "etc", "tls", "ca.pem"))
        c = http.client.HTTPSConnection("127.0.0.1", m.port("https"), context=ctx, timeout=10)
        with self.assertRaises(ssl.SSLError) as e:
            c.request("GET", "/faq")
        self.assertEqual(e.exception.reason, "TLSV1_ALERT_INTERNAL_ERROR", e.exception)
        c.close()
        if shutil.which("curl"):
            r = subprocess.run(["curl", "-sS", "-i", "--max-time", "10",
                                "http://127.0.0.1:%d/" % m.port("http")],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("HTTP/1.1 503 Service Unavailable", r.stdout)
            self.assertIn("Retry-After: 30", r.stdout)
            r = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert",
                                os.path.join(m.root, "etc", "tls", "ca.pem"),
                                "https://127.0.0.1:%d/faq" % m.port("https")],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 35, r.stderr)   # CURLE_SSL_CONNECT_ERROR
            self.assertIn("alert internal error", r.stderr)
            self.assertNotIn("reset", r.stderr.lower())
        # one line a connection
        want = {"http": 4 if shutil.which("curl") else 3, "https": 2 if shutil.which("curl") else 1}
        for name, n in want.items():
            said = ("webfront: warning: lighttpd unreachable (unable to connect to %s/run/web/"
                    "%s.sock: " % (m.root, name))
            answer = ("503 Service Unavailable" if name == "http"
                      else "a TLS internal_error alert")
            self.assertTrue(m.wait_for(lambda: m.log(name)[since[name]:].count(said) == n, 5),
                            m.log(name)[since[name]:])
            lines = m.log(name)[since[name]:].splitlines()
            self.assertEqual(len(lines), n, lines)
            for x in lines:
                self.assertIn(said, x)
                self.assertTrue(x.endswith("): ip=127.0.0.1 answered " + answer), x)
        # lighttpd back: the page is served
        self.svc("-u", "-U", "web")
        st, h, body = https(m, "GET", "/faq")
        self.assertEqual(st, 200)


class WebfrontTest(unittest.TestCase):
    """The door (web/webfront.c) on its own, started as tcpserver starts it: the client's
    connection on fds 0 and 1 (a socket pair here), its address in TCPREMOTEIP, and in place
    of lighttpd a unix socket of the test's that answers as it is told."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="yubin-webfront-")
        self.addCleanup(shutil.rmtree, self.root, True)
        os.chmod(self.root, 0o755)
        os.makedirs(os.path.join(self.root, "run", "webfront"))
        if IS_ROOT:         # webfront refuses root: it runs as nobody here
            nobody = pwd.getpwnam("nobody")
            os.chown(os.path.join(self.root, "run", "webfront"), nobody.pw_uid, nobody.pw_gid)
        self.path = os.path.join(self.root, "lighttpd.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        os.chmod(self.path, 0o777)
        self.listener.listen(64)
        self.addCleanup(self.listener.close)
        self.procs = []
        self.addCleanup(self.end_procs)

    def end_procs(self):
        for p, c in self.procs:
            c.close()
            if p.poll() is None:
                p.kill()
            p.wait()

    def front(self, ip, maxperip=16, settings=None):
        """A webfront for a connection from ip (settings: more of etc/env, name -> value):
        (process, the client's end of it)."""
        client, theirs = socket.socketpair()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "YUBIN_ROOT": self.root,
               "WEB_MAXPERIP": str(maxperip), "TCPREMOTEIP": ip, "TCPREMOTEPORT": "40000",
               "TCPLOCALIP": "::" if ":" in ip else "127.0.0.1", "TCPLOCALPORT": "443"}
        env.update(settings or {})
        argv = [os.path.join(BIN, "webfront"), self.path]
        if IS_ROOT:
            argv = ["s6-setuidgid", "nobody"] + argv
        p = subprocess.Popen(argv, stdin=theirs, stdout=theirs, stderr=subprocess.PIPE,
                             env=env)
        theirs.close()
        self.procs.append((p, client))
        return p, client

    def accept(self):
        """lighttpd's end of the next connection, and the PROXY line it was sent."""
        self.listener.settimeout(10)
        s, _ = self.listener.accept()
        line = b""
        while not line.endswith(b"\r\n"):
            b = s.recv(1)
            if not b:
                break
            line += b
        return s, line

    def test_an_ipv6_64_counts_as_one_address(self):
        """One home line's /64 takes a new address for every connection: counted one by one,
        it took every slot. Its addresses share WEB_MAXPERIP slots (here 2), as authd's
        throttle counts them; the next /64 has its own, and an IPv4-mapped address is the
        IPv4 one. lighttpd is still told each connection's own address."""
        held = []
        for ip in ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe"):
            p, c = self.front(ip, 2)
            s, line = self.accept()
            held.append(s)
            self.assertEqual(line, b"PROXY TCP6 %s :: 40000 443\r\n" % ip.encode())
        p, c = self.front("2001:db8:1:2:1234::9", 2)
        self.assertEqual(p.wait(10), 0)
        self.assertIn(b"webfront: info: refused ip=2001:db8:1:2:1234::9: more than 2 "
                      b"connections", p.stderr.read())
        self.assertEqual(c.recv(1), b"", "closed at once")
        p, c = self.front("2001:db8:1:3::1", 2)
        s, line = self.accept()
        held.append(s)
        self.assertIsNone(p.poll(), "the next /64 has slots of its own")
        for ip in ("192.0.2.1", "::ffff:192.0.2.1"):
            self.front(ip, 2)
            held.append(self.accept()[0])
        p, c = self.front("::ffff:c000:201", 2)
        self.assertEqual(p.wait(10), 0, "192.0.2.1's two slots are taken")
        self.assertEqual(sorted(f for f in os.listdir(os.path.join(self.root, "run", "webfront"))
                                if not f.startswith(".")),
                         ["192.0.2.1.0", "192.0.2.1.1", "2001:db8:1:2::_64.0",
                          "2001:db8:1:2::_64.1", "2001:db8:1:3::_64.0"])
        for s in held:
            s.close()

    def test_lighttpd_away_a_port_check_leaves_no_line_a_client_is_answered(self):
        """lighttpd not there (down, or not up yet at a start): a connection that closes
        without a byte, as a port check's, ends without a line (it was "fatal: unable to
        connect" at every start). A client that sends is answered by its first byte and closed
        once it has closed (its request read, not reset): a plain request "503 Service
        Unavailable", a TLS ClientHello a fatal internal_error alert record; one silent past
        1 s is closed. Each is one warning line."""
        self.listener.close()
        os.unlink(self.path)
        p, c = self.front("192.0.2.20")
        c.close()
        self.assertEqual(p.wait(10), 0)
        self.assertEqual(p.stderr.read(), b"")
        said = (b"webfront: warning: lighttpd unreachable (unable to connect to "
                + self.path.encode() + b": No such file or directory): ")
        p, c = self.front("192.0.2.21")
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b"minute.\n"):
            b = c.recv(4096)
            self.assertTrue(b, answer)
            answer += b
        self.assertIsNone(p.poll(), "waits for the client's end")
        head, body = answer.split(b"\r\n\r\n", 1)
        self.assertEqual(head.split(b"\r\n"), [
            b"HTTP/1.1 503 Service Unavailable", b"Content-Type: text/plain; charset=utf-8",
            b"Retry-After: 30", b"Cache-Control: no-store", b"Connection: close",
            b"Content-Length: %d" % len(body)])
        c.sendall(b"more of the request")      # read and dropped
        self.assertEqual(c.recv(1), b"", "our side shut after the answer")
        c.close()
        self.assertEqual(p.wait(10), 111)
        self.assertEqual(p.stderr.read(), said + b"ip=192.0.2.21 answered 503 Service "
                         b"Unavailable\n")
        p, c = self.front("192.0.2.23")
        c.sendall(client_hello())
        self.assertEqual(c.recv(4096), b"\x15\x03\x03\x00\x02\x02\x50")
        self.assertEqual(c.recv(1), b"")
        c.close()
        self.assertEqual(p.wait(10), 111)
        self.assertEqual(p.stderr.read(), said + b"ip=192.0.2.23 answered a TLS "
                         b"internal_error alert\n")
        p, c = self.front("192.0.2.22")
        t0 = time.time()
        self.assertEqual(p.wait(10), 111)
        self.assertLess(time.time() - t0, 3)
        self.assertEqual(c.recv(1), b"")
        self.assertEqual(p.stderr.read(), said + b"ip=192.0.2.22 sent nothing within 1 s, "
                         b"closed\n")

    def test_a_client_not_reading_is_let_go_5_s_after_lighttpds_end(self):
        """lighttpd answers and closes, the client does not read: webfront held the rest of
        the answer, the connection and its slot for 300 s more. Now 5 s at most. A client that
        reads gets the whole answer all the same."""
        answer = bytes(range(256)) * 4096      # 1 MB: more than the sockets hold
        p, c = self.front("192.0.2.7")
        s, _ = self.accept()

        def lighttpd():
            s.sendall(answer)
            s.close()
        t = threading.Thread(target=lighttpd, daemon=True)
        t.start()
        got = b""
        c.settimeout(10)
        while True:
            b = c.recv(65536)
            if not b:
                break
            got += b
        t.join(10)
        self.assertEqual(got, answer, "a client that reads gets all of it")
        self.assertEqual(p.wait(10), 0)

        p, c = self.front("192.0.2.8")
        s, _ = self.accept()
        s.setblocking(False)
        sent = 0
        try:
            while True:
                sent += s.send(answer[sent % len(answer):])
        except BlockingIOError:
            pass
        s.close()           # what lighttpd does once its answer is written
        t0 = time.time()
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            pass
        took = time.time() - t0
        self.assertIsNotNone(p.poll(), "webfront still there %.0f s after lighttpd's end" % took)
        self.assertLess(took, 8)
        self.assertIn(b"webfront: info: closed ip=192.0.2.8: the client had not read the end "
                      b"of its answer 5 s after lighttpd's", p.stderr.read())

    def test_a_request_still_arriving_at_the_bound_is_closed_then_though_the_client_paused(self):
        """A client sends a byte a second and stops a moment before WEB_REQUEST_TIMEOUT (4 s
        here): it was still sending in the bound's second half, and lighttpd has said nothing,
        so the connection is closed at the bound, not at the client's next byte (there may be
        none: lighttpd's own read-idle would then close it 10 s on). A request whose bytes all
        came at once waits for lighttpd's answer, however long: the client is quiet. A 0 is no
        bound: the default, with a warning."""
        p, c = self.front("192.0.2.9", settings={"WEB_REQUEST_TIMEOUT": "4"})
        s, _ = self.accept()
        self.addCleanup(s.close)
        t0 = time.time()
        for _ in range(4):      # at 0, 1, 2 and 3 s
            c.send(b"x")
            time.sleep(1)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            pass
        took = time.time() - t0
        self.assertIsNotNone(p.poll(), "webfront still there %.0f s after the first byte" % took)
        self.assertGreater(took, 3.8)
        self.assertLess(took, 7)     # at the bound, not at a later byte (none comes)
        self.assertIn(b"webfront: info: closed ip=192.0.2.9: a request still arriving after 4 s "
                      b"without an answer (sent a little at a time)", p.stderr.read())
        s.settimeout(5)
        self.assertEqual(s.recv(16), b"xxxx")
        self.assertEqual(s.recv(16), b"", "lighttpd's side closed too")

        p, c = self.front("192.0.2.10", settings={"WEB_REQUEST_TIMEOUT": "4"})
        s, _ = self.accept()
        self.addCleanup(s.close)
        c.sendall(b"GET / HTTP/1.1\r\n\r\n")
        s.settimeout(5)
        self.assertEqual(s.recv(64), b"GET / HTTP/1.1\r\n\r\n")
        time.sleep(6)           # the page waits for acctd
        self.assertIsNone(p.poll(), "a slow answer is not cut")
        s.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
        c.settimeout(5)
        self.assertEqual(c.recv(64), b"HTTP/1.1 200 OK\r\n\r\n")
        s.close()
        self.assertEqual(p.wait(10), 0)
        self.assertNotIn(b"closed ip=", p.stderr.read())

        p, c = self.front("192.0.2.11", settings={"WEB_REQUEST_TIMEOUT": "0"})
        s, _ = self.accept()
        s.close()
        self.assertEqual(p.wait(10), 0)
        self.assertIn(b"webfront: warning: WEB_REQUEST_TIMEOUT is 0 or not a number (1 to "
                      b"3600 s): the default 30 used", p.stderr.read())


if __name__ == "__main__":
    unittest.main()
