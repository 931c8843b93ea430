"""A headless chromium driven over the DevTools protocol, with the standard library only
(a minimal RFC 6455 websocket client), so `make test` needs nothing from npm.

    b = Browser(); b.goto("https://127.0.0.1:PORT/"); b.type("#addr", "taro@example.test")
    b.click("button"); b.wait_load(); b.text(); b.screenshot(PATH); b.close()
"""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request


class WebSocket:
    def __init__(self, url, timeout=30):
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n"
                           % (u.path, u.hostname, u.port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("websocket handshake: connection closed")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError("websocket handshake refused: %r" % head[:200])

    def _read(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("websocket closed")
            out += chunk
        return out

    def send(self, text):
        data = text.encode()
        head = bytes([0x81])
        n = len(data)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self):
        """One whole text message (continuation frames joined; pings answered)."""
        parts = []
        while True:
            b0, b1 = self._read(2)
            op, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            if op == 0x8:
                raise ConnectionError("websocket closed by the browser")
            if op == 0x9:
                self.sock.sendall(bytes([0x8A, 0x80 | len(data)]) + b"\0\0\0\0" + data)
                continue
            if op in (0x1, 0x2, 0x0):
                parts.append(data)
                if b0 & 0x80:
                    return b"".join(parts).decode()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Browser:
    """One headless chromium with a fresh profile and one page. It trusts any certificate
    (the test root's demo CA is not in its store); everything else is as a user's browser."""

    def __init__(self, width=1000, height=1100):
        self.profile = tempfile.mkdtemp(prefix="yubin-chromium-")
        self.proc = subprocess.Popen(
            ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
             "--remote-debugging-port=0", "--user-data-dir=" + self.profile,
             "--ignore-certificate-errors", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-quic",
             "--disable-features=HttpsUpgrades,Translate", "--lang=ja",
             "--window-size=%d,%d" % (width, height), "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + 60
        while not (os.path.exists(port_file) and open(port_file).read().count("\n") >= 1):
            if time.time() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not start")
            time.sleep(0.05)
        port = int(open(port_file).read().split()[0])
        pages = []
        while not pages:
            with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=10) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if not pages:
                time.sleep(0.05)
        self.ws = WebSocket(pages[0]["webSocketDebuggerUrl"])
        self.next_id = 0
        self.events = []
        for domain in ("Page", "Runtime", "DOM", "CSS", "Network"):
            self.call(domain + ".enable")

    def call(self, method, **params):
        self.next_id += 1
        mine = self.next_id
        self.ws.send(json.dumps({"id": mine, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mine:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, name, timeout=30, since=0):
        """The first event called name after index since in self.events."""
        deadline = time.time() + timeout
        while True:
            for e in self.events[since:]:
                if e["method"] == name:
                    return e
            if time.time() > deadline:
                raise TimeoutError("no %s within %ss" % (name, timeout))
            self.ws.sock.settimeout(max(0.1, deadline - time.time()))
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)

    def mark(self):
        return len(self.events)

    def goto(self, url):
        m = self.mark()
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired", since=m)

    def eval(self, expr, await_promise=False):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True,
                      awaitPromise=await_promise)
        if "exceptionDetails" in r:
            raise RuntimeError("page script failed: %s" % r["exceptionDetails"])
        return r["result"].get("value")

    def type(self, selector, text):
        """Focus the field and type text into it, as a keyboard would."""
        self.eval("(function(){var e=document.querySelector(%s); e.value=''; e.focus();})()"
                  % json.dumps(selector))
        self.call("Input.insertText", text=text)

    def click(self, selector, wait=True):
        """Click the element; with wait, until the page it leads to has loaded."""
        m = self.mark()
        self.eval("document.querySelector(%s).click()" % json.dumps(selector))
        if wait:
            self.wait_event("Page.loadEventFired", since=m)

    def download(self, selector, timeout=30):
        """Click a link to a download, as a user would; the file's bytes and its name."""
        where = tempfile.mkdtemp(prefix="download-", dir=self.profile)
        self.call("Browser.setDownloadBehavior", behavior="allow", downloadPath=where)
        self.eval("document.querySelector(%s).click()" % json.dumps(selector))
        deadline = time.time() + timeout
        while time.time() < deadline:
            names = [n for n in os.listdir(where) if not n.endswith(".crdownload")]
            if names:
                time.sleep(0.1)     # the rename from .crdownload is the last step
                with open(os.path.join(where, names[0]), "rb") as f:
                    return f.read(), names[0]
            time.sleep(0.05)
        raise TimeoutError("no download from %s" % selector)

    def text(self):
        return self.eval("document.body ? document.body.innerText : ''")

    def url(self):
        return self.eval("location.href")

    def screenshot(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    def fonts_of(self, selector):
        """The platform fonts chromium really drew the element's text with:
        [{familyName, glyphCount, ...}] (CSS.getPlatformFontsForNode)."""
        root = self.call("DOM.getDocument", depth=-1)["root"]["nodeId"]
        node = self.call("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        if not node:
            raise RuntimeError("no element %s" % selector)
        return self.call("CSS.getPlatformFontsForNode", nodeId=node)["fonts"]

    def close(self):
        if getattr(self, "ws", None):
            self.ws.close()
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)
            except ProcessLookupError:
                pass
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


class BrowserCase:
    """unittest mixin for the member page's browser tests: one real browser per test (closed
    after it), screenshots into the class's `out` folder, the login form at the class's `base`."""
    out = None
    base = None

    def setUp(self):
        self.browser = None

    def tearDown(self):
        if self.browser:
            self.browser.close()

    def open_browser(self):
        self.browser = Browser()
        return self.browser

    def shot(self, name):
        return self.browser.screenshot(os.path.join(self.out, name + ".png"))

    def login(self, login, password):
        """Type the login and password into the page's form and press its button."""
        b = self.browser
        b.goto(self.base + "/")
        b.type("#addr", login)
        b.type("#password", password)
        b.click("form[action='/login'] button")
