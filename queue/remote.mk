# queue/remote.mk: outbound SMTP delivery and the operator's queue tools (owner: remote engineer)
PROGRAMS += remote mailq
STATIC_PROGRAMS += remote
remote_SRCS := queue/remote.c queue/remote_job.c queue/conncache.c queue/smtpconn.c queue/smtpreply.c \
               $(wildcard tls/tlsclient.c) $(wildcard tls/pump.c) $(wildcard tls/x25519.c) $(wildcard tls/keys.c)
remote_LIBS := -lbearssl -lcdb
mailq_SRCS := queue/mailq.c queue/qfile.c queue/qdown.c queue/qbackoff.c
mailq_LIBS := -lcdb
SCRIPTS += queue/mailtrace
UNIT_test_smtpreply_SRCS := queue/smtpreply.c
FUZZ_fuzz_smtpreply_SRCS := queue/smtpreply.c
