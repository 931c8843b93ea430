#!/usr/bin/env python3
"""bench/pair/submit.py HOST:PORT USER PASS CA COUNT SIZE NDOM [CONC]: queue COUNT messages of SIZE bytes
through 587 STARTTLS+AUTH, spread over NDOM destination domains (remote.test when NDOM=1,
else dI.remote.test), CONC sessions, each sending its share over one connection."""
import multiprocessing as mp, smtplib, ssl, sys
host, port = sys.argv[1].rsplit(":", 1)
user, pw, ca = sys.argv[2:5]
count, size, ndom = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
conc = int(sys.argv[8]) if len(sys.argv) > 8 else 10
line = "x" * 70 + "\r\n"
body = ("From: %s\r\nSubject: out bench\r\n\r\n" % user) + line * max(1, size // len(line))
def work(k):
    ctx = ssl.create_default_context(cafile=ca); ctx.check_hostname = False
    s = smtplib.SMTP(host, int(port), timeout=60); s.starttls(context=ctx); s.login(user, pw)
    for i in range(k, count, conc):
        d = "remote.test" if ndom == 1 else "d%d.remote.test" % (i % ndom)
        s.sendmail(user, ["r%d@%s" % (i, d)], body)
    s.quit()
with mp.Pool(conc) as p: p.map(work, range(conc))
