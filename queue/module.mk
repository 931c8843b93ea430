# queue/: the crash-safe queue (owner: queue engineer). remote.c/mailq.c: queue/remote.mk.
PROGRAMS += queue-inject queue-run
STATIC_PROGRAMS += queue-inject queue-run
queue-inject_SRCS := queue/queue-inject.c queue/qfile.c queue/signcall.c
queue-run_SRCS := queue/queue-run.c queue/msgs.c queue/sched.c queue/notify.c queue/qfile.c queue/qdown.c \
                  queue/qbackoff.c queue/bounce.c queue/signcall.c
queue-run_LIBS := -lcdb -lbearssl
UNIT_test_qfile_SRCS := queue/qfile.c
UNIT_test_qdown_SRCS := queue/qdown.c queue/qfile.c
UNIT_test_qbackoff_SRCS := queue/qbackoff.c
UNIT_test_bounce_SRCS := queue/bounce.c queue/qfile.c
UNIT_test_signcall_SRCS := queue/signcall.c
FUZZ_fuzz_envelope_SRCS := queue/qfile.c
FUZZ_fuzz_qdown_SRCS := queue/qdown.c queue/qfile.c
FUZZ_fuzz_bounce_SRCS := queue/bounce.c queue/qfile.c
FUZZ_fuzz_signcall_SRCS := queue/signcall.c
UNIT_test_srs_LIBS := -lbearssl
