#!/bin/sh
# POP3 figures (docs/pop3.md "Performance"): RETR throughput for 10,000 x 4 KB messages (MB/s,
# msg/s), login+STAT+UIDL at 1,000 and 10,000 messages (first session and warm), logins per
# second (sequential and 4 at once), and the memory of one idle logged-in session (all of its
# processes). Medians of BENCH_RUNS runs (default 5). Builds a throw-away mail root under /tmp
# with bin/yubin-setup, starts only authd, pop3 and pop3d under their own s6-svscan, removes
# it after. The client is ../shared/bench/pop3_bench.c, compiled into a temporary folder.
# Needs bin/{yubin-setup,mailacct,mkmaps,authd,checkpw,pop3-front,pop3d}.
cd "$(dirname "$0")/.." || exit 111
exec python3 - "${BENCH_RUNS:-5}" "${BENCH_SHARED:-../shared/bench}" <<'PYEOF'
import os
import pwd
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

RUNS = int(sys.argv[1])
SHARED = os.path.abspath(sys.argv[2])
TOP = os.getcwd()
IS_ROOT = os.getuid() == 0
PASSWORD = "Bench pw 1"
SERVICES = ("authd", "pop3", "pop3d")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def show(cmd):
    print("  $ " + shlex.join(cmd))


def make_root(tmp):
    root = tempfile.mkdtemp(prefix="yubin-bench-pop3-")
    os.chmod(root, 0o755)
    port = free_port()
    env = dict(os.environ, YUBIN_LISTEN="127.0.0.1", YUBIN_PORT_POP3=str(port),
               YUBIN_PORT_POP3S=str(free_port()), YUBIN_PORT_SMTP=str(free_port()),
               YUBIN_PORT_SUBMISSION=str(free_port()), YUBIN_PORT_SUBMISSIONS=str(free_port()))
    subprocess.run(["bin/yubin-setup", "--bin", "bin", "--share", ".", root], env=env,
                   stdout=subprocess.DEVNULL, check=True)
    ma = [os.path.join(root, "bin", "mailacct"), "--root", root]
    with open(os.path.join(root, "etc", "admin"), "w") as f:
        f.write("admin@example.test\n")
    subprocess.run(ma + ["domain", "add", "example.test", "--plan", "premium"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(ma + ["add", "admin@example.test", "--password", "admin-pw-1"], check=True,
                   stdout=subprocess.DEVNULL)
    scan = os.path.join(root, "bench-scan")
    os.mkdir(scan)
    for s in SERVICES:
        os.symlink(os.path.join(root, "service", s), os.path.join(scan, s))
    svscan = subprocess.Popen(["s6-svscan", scan], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                              start_new_session=True)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            if os.path.exists(os.path.join(root, "run", "pop3d.sock")) and \
               os.path.exists(os.path.join(root, "run", "authd.sock")):
                break
        except OSError:
            pass
        time.sleep(0.05)
    return root, scan, svscan, port, ma


def stop(root, scan, svscan):
    subprocess.run(["s6-svscanctl", "-t", scan])
    try:
        svscan.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(svscan.pid, 9)
        svscan.wait()
    shutil.rmtree(root, ignore_errors=True)


def fill(maildir, count, size):
    """Like ../shared/bench/maildir_fill.py: qmail-style names, no size tags, LF endings."""
    for d in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(maildir, d), exist_ok=True)
    t = int(time.time())
    for i in range(count):
        hdr = (f"From: bench@remote.test\nTo: user@example.test\nSubject: bench message {i}\n"
               f"Message-ID: <{t}.{i}@bench>\n\n").encode()
        line = b"x" * 71 + b"\n"
        body = line * ((size - len(hdr)) // 72)
        rest = size - len(hdr) - len(body)
        if rest > 0:
            body += b"y" * (rest - 1) + b"\n"
        name = f"{t}.M{i:06d}P{os.getpid()}.bench"
        with open(os.path.join(maildir, "new", name), "wb") as f:
            f.write(hdr + body)
    if IS_ROOT:
        pw = pwd.getpwnam("yubin-mbox")
        for dirpath, dirs, files in os.walk(os.path.dirname(maildir)):
            os.chown(dirpath, pw.pw_uid, pw.pw_gid)
            for x in files:
                os.chown(os.path.join(dirpath, x), pw.pw_uid, pw.pw_gid)


def bench(tool, port, user, mode):
    out = subprocess.run([tool, "127.0.0.1", str(port), user, PASSWORD, mode],
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit("pop3_bench failed: " + out.stdout + out.stderr)
    return dict(kv.split("=", 1) for kv in out.stdout.split()[1:])


def med(xs):
    return statistics.median(xs)


def login_once(port, user):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    f = s.makefile("rwb")
    f.readline()
    f.write(b"USER %s\r\nPASS %s\r\n" % (user.encode(), PASSWORD.encode()))
    f.flush()
    f.readline()
    r = f.readline()
    f.write(b"QUIT\r\n")
    f.flush()
    f.readline()
    s.close()
    if not r.startswith(b"+OK"):
        raise SystemExit("login failed: %r" % r)


def logins_per_s(port, users, seconds=3.0):
    done = [0] * len(users)
    stop_at = time.time() + seconds

    def worker(i):
        while time.time() < stop_at:
            login_once(port, users[i])
            done[i] += 1
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(len(users))]
    t0 = time.time()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(done) / (time.time() - t0)


def main():
    tmp = tempfile.mkdtemp(prefix="yubin-bench-pop3-tools-")
    tool = os.path.join(tmp, "pop3_bench")
    try:
        shutil.copy(os.path.join(SHARED, "pop3_bench.c"), tmp)
        subprocess.run(["cc", "-O2", "-o", tool, os.path.join(tmp, "pop3_bench.c")], check=True)
        root, scan, svscan, port, ma = make_root(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        print("POP3 benchmark: yubin %s, %d runs, medians (min-max)" % (root, RUNS))
        print("client: %s (copy of ../shared/bench/pop3_bench.c)" % tool)
        lu = []
        for i in range(4):
            u = "login%d@example.test" % i
            subprocess.run(ma + ["add", u, "--password", PASSWORD], check=True,
                           stdout=subprocess.DEVNULL)
            lu.append(u)
        seq = [logins_per_s(port, lu[:1]) for _ in range(RUNS)]
        par = [logins_per_s(port, lu) for _ in range(RUNS)]
        print("\nlogins/s (connect, USER, PASS, QUIT; sha512-crypt via authd): sequential %.0f "
              "(%.0f-%.0f), 4 at once %.0f (%.0f-%.0f)"
              % (med(seq), min(seq), max(seq), med(par), min(par), max(par)))
        print("  (python loop in bench/pop3.sh, 3 s per run)")

        rss = os.path.join(SHARED, "session_rss.py")
        cmd = ["python3", rss, "--target", "127.0.0.1:%d" % port, "--proto", "pop3",
               "--stage", "auth", "--user", lu[0], "--pass", PASSWORD,
               "--root-pid", str(svscan.pid)]
        vals = []
        for _ in range(RUNS):
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
            vals.append(out)
        print("\nidle logged-in session, all its processes (last run):")
        print("".join("  " + l + "\n" for l in vals[-1].strip().split("\n")))
        show(cmd)

        users = {}
        for n in (1000, 10000):
            u = "b%d@example.test" % n
            subprocess.run(ma + ["add", u, "--password", PASSWORD, "--quota", "0", "--force"],
                           check=True, stdout=subprocess.DEVNULL)
            md = os.path.join(root, "mail", "example.test", "b%d" % n, "Maildir")
            fill(md, n, 4096)
            users[n] = u
        for n in (1000, 10000):
            first = bench(tool, port, users[n], "index")
            warm = [bench(tool, port, users[n], "index") for _ in range(RUNS)]
            tot = [float(w["total_s"]) for w in warm]
            print("\nlogin+STAT+UIDL, %d x 4 KB: first session %.3f s (moves new/ to cur/, "
                  "sizes each file once); warm %.4f s (%.4f-%.4f)"
                  % (n, float(first["total_s"]), med(tot), min(tot), max(tot)))
            show([tool, "127.0.0.1", str(port), users[n], PASSWORD, "index"])
        full = [bench(tool, port, users[10000], "full") for _ in range(RUNS)]
        mbs = [float(x["MB_per_s"]) for x in full]
        mps = [float(x["msgs_per_s"]) for x in full]
        tot = [float(x["total_s"]) for x in full]
        print("\nRETR all, 10,000 x 4 KB, one RETR at a time: %.1f MB/s (%.1f-%.1f), "
              "%.0f msg/s (%.0f-%.0f), session %.3f s"
              % (med(mbs), min(mbs), max(mbs), med(mps), min(mps), max(mps), med(tot)))
        show([tool, "127.0.0.1", str(port), users[10000], PASSWORD, "full"])

    finally:
        stop(root, scan, svscan)
        shutil.rmtree(tmp, ignore_errors=True)
    print("\nreference (../shared/bench/README.md, same machine class): Dovecot POP3 10,000 x 4 KB "
          "login+STAT+UIDL 0.05 s warm (0.40 s first), RETR all ~1 s; idle pop3 session 0.66 MB "
          "private memory")


main()
PYEOF
