"""A small SMTP server on loopback that plays the remote side for remote's tests and bench.

It records every session (commands, envelope, the raw DATA bytes as they came on the wire)
and can be told to misbehave: other greeting, EHLO refused, scripted replies per command,
no reply at all, STARTTLS with a given certificate, or hold the final reply to DATA until the
test opens a gate (a delivery kept in flight as long as the test needs).

    sink = Sink(caps=["PIPELINING", "SIZE 1000000", "8BITMIME"]).start()
    ... sink.port ... sink.sessions[0].rcpts ... sink.stop()

Run alone (bench): python3 smtpsink.py PORT  -> accepts everything, prints nothing, counts
messages into the file given with --count FILE (one line per message).
"""
import socket
import socketserver
import ssl
import sys
import threading
import time


class Session:
    def __init__(self):
        self.commands = []      # every command line as received (bytes, without CRLF)
        self.ehlo = None
        self.mail = None        # the MAIL line
        self.rcpts = []         # addresses accepted (between < >)
        self.data = None        # raw bytes after 354 up to and including CRLF.CRLF
        self.messages = []      # every (mail, rcpts, data) accepted in this session
        self.tls = False
        self.raw_chunks = []    # (command, bytes already buffered behind it) for pipelining


class Handler(socketserver.BaseRequestHandler):
    """Reads with recv() into its own buffer, so it can tell which commands came pipelined."""

    def setup(self):
        self.buf = b""
        self.request.settimeout(30)
        # replies go out at once (a real server batches pipelined replies; Nagle + delayed
        # ACK would otherwise add 40 ms to every second reply)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def reply(self, text):
        self.request.sendall(text.encode() + b"\r\n")

    def read_data(self):
        """The DATA bytes up to and including the first CRLF.CRLF (or a leading .CRLF)."""
        buf = bytearray(self.buf)
        start = 0
        while True:
            if buf.startswith(b".\r\n"):
                end = 3
                break
            k = buf.find(b"\r\n.\r\n", start)
            if k >= 0:
                end = k + 5
                break
            start = max(0, len(buf) - 4)
            chunk = self.request.recv(262144)
            if not chunk:
                return None
            buf += chunk
        data, self.buf = bytes(buf[:end]), bytes(buf[end:])
        return data

    def readline(self, limit=100000):
        while b"\n" not in self.buf and len(self.buf) < limit:
            chunk = self.request.recv(65536)
            if not chunk:
                line, self.buf = self.buf, b""
                return line
            self.buf += chunk
        i = self.buf.find(b"\n")
        i = len(self.buf) if i < 0 else i + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def next_reply(self, verb, default):
        script = self.server.sink.script.get(verb)
        if script:
            r = script.pop(0)
            return r
        return default

    def handle(self):
        sink = self.server.sink
        s = Session()
        with sink.lock:
            sink.sessions.append(s)
        if sink.greeting is None:
            time.sleep(sink.hang)
            return
        self.reply(sink.greeting)
        if not sink.greeting.startswith("220"):
            self.readline_safe()
            return
        while True:
            line = self.readline_safe()
            if line is None:
                return
            s.commands.append(line)
            # bytes already waiting behind this command (pipelined with it)
            s.raw_chunks.append((line, len(self.buf)))
            verb = line.split(b" ", 1)[0].upper().decode("ascii", "replace")
            if verb == "EHLO":
                s.ehlo = line
                r = self.next_reply("EHLO", None)
                if r:
                    self.reply(r)
                    continue
                caps = list(sink.caps)
                if sink.tls_ctx and not s.tls:
                    caps.append("STARTTLS")
                lines = ["sink.test hello"] + caps
                out = ["250-" + x for x in lines[:-1]] + ["250 " + lines[-1]]
                self.reply("\r\n".join(out))
            elif verb == "HELO":
                s.ehlo = line
                self.reply(self.next_reply("HELO", "250 sink.test"))
            elif verb == "STARTTLS" and sink.tls_ctx and not s.tls:
                self.reply("220 2.0.0 go ahead")
                self.buf = b""   # RFC 3207 §4: nothing read before the handshake counts
                try:
                    self.request = sink.tls_ctx.wrap_socket(self.request, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                s.tls = True
            elif verb == "MAIL":
                s.mail = line
                s.rcpts = []
                self.reply(self.next_reply("MAIL", "250 2.1.0 ok"))
            elif verb == "RCPT":
                r = self.next_reply("RCPT", "250 2.1.5 ok")
                if r.startswith("2"):
                    s.rcpts.append(line.split(b"<", 1)[1].split(b">", 1)[0].decode("utf-8"))
                self.reply(r)
            elif verb == "DATA":
                # RFC 2920 §3.1: with no recipient accepted, DATA is refused
                r = self.next_reply("DATA", "354 go ahead" if s.rcpts else
                                    "554 5.5.1 no valid recipients")
                self.reply(r)
                if not r.startswith("354"):
                    continue
                data = self.read_data()
                if data is None:
                    return
                s.data = data
                if sink.hang_after_data:
                    time.sleep(sink.hang)
                    return
                sink.got_data.set()
                if sink.gate is not None and not sink.gate.wait(120):
                    return
                r = self.next_reply("DOT", "250 2.0.0 queued as sink%d" % len(sink.sessions))
                if r.startswith("2"):
                    s.messages.append((s.mail, list(s.rcpts), data))
                    sink.delivered(s.rcpts, data)
                self.reply(r)
            elif verb == "QUIT":
                self.reply("221 2.0.0 bye")
                return
            elif verb == "RSET":
                r = self.next_reply("RSET", "250 2.0.0 ok")
                self.reply(r)
                if r.startswith("421"):
                    return      # 421: the server closes the session (RFC 5321 §3.8)
            else:
                self.reply("502 5.5.1 unknown command")

    def readline_safe(self):
        try:
            line = self.readline()
        except (OSError, ssl.SSLError):
            return None
        if not line:
            return None
        return line.rstrip(b"\r\n")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    # socketserver's default backlog is 5: with queue-run's parallel deliveries the accept
    # queue overflowed, the kernel dropped the handshake's last ACK and remote waited out its
    # 300 s greeting timeout on a connection the sink never saw (bench/remote.py, 1 run in 12)
    request_queue_size = 128


class Sink:
    def __init__(self, caps=("PIPELINING", "SIZE 20971520", "8BITMIME"), greeting="220 sink.test ESMTP",
                 script=None, host="127.0.0.1", port=0, certfile=None, keyfile=None,
                 hang=0, hang_after_data=False, count_file=None, gate=None):
        self.caps = list(caps)
        self.greeting = greeting
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.sessions = []
        self.lock = threading.Lock()
        self.hang = hang
        self.hang_after_data = hang_after_data
        self.gate = gate                    # threading.Event: the reply to the dot waits for it
        self.got_data = threading.Event()   # set when a message's data is in
        self.count = 0
        self.count_file = count_file
        self.tls_ctx = None
        if certfile:
            self.tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls_ctx.load_cert_chain(certfile, keyfile)
        self.server = Server((host, port), Handler)
        self.server.sink = self
        self.port = self.server.server_address[1]
        self.thread = None

    def delivered(self, rcpts, data):
        with self.lock:
            self.count += 1
            if self.count_file:
                with open(self.count_file, "a") as f:
                    f.write("%d %d\n" % (len(rcpts), len(data)))

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def messages(self):
        with self.lock:
            return [m for s in self.sessions for m in s.messages]


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--count", help="append one line per accepted message to this file")
    a = ap.parse_args()
    sink = Sink(port=a.port, count_file=a.count)
    try:
        sink.server.serve_forever()
    except KeyboardInterrupt:
        pass
