# queue/remote.mk: outbound SMTP delivery and the operator's queue tools (owner: remote engineer)
PROGRAMS += remote mailq
# remote is a glibc program, not static musl like the per-connection programs: it starts once
# (its loop forks a child per 100 jobs, no exec), so the start-up cost musl saves does not
# matter, and glibc's memchr/memcpy carry the DATA encoding of large messages (remote's CPU
# per 100 KB message 0.35-0.49 ms static musl, 0.21-0.23 ms glibc: docs/internals.md "Profile")
remote_SRCS := queue/remote.c queue/remote_job.c queue/conncache.c queue/smtpconn.c queue/smtpreply.c \
               $(wildcard tls/tlsclient.c) $(wildcard tls/pump.c) $(wildcard tls/x25519.c) $(wildcard tls/keys.c)
remote_LIBS := -lbearssl -lcdb
mailq_SRCS := queue/mailq.c queue/qfile.c queue/qdown.c queue/qbackoff.c
mailq_LIBS := -lcdb
SCRIPTS += queue/mailtrace
UNIT_test_smtpreply_SRCS := queue/smtpreply.c
FUZZ_fuzz_smtpreply_SRCS := queue/smtpreply.c
