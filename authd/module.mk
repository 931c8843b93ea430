# authd/: the credential service (authd, yubin-auth) and its checkpassword client (checkpw, yubin-mbox)
PROGRAMS += authd checkpw
STATIC_PROGRAMS += checkpw
authd_SRCS := authd/authd.c authd/authd_loop.c authd/authd_pool.c authd/authcache.c \
    authd/authreq.c authd/throttle.c authd/pwcheck.c authd/verdict.c web/apply.c
authd_LIBS := -lcdb -lcrypt -lbearssl
checkpw_SRCS := authd/checkpw.c authd/authreq.c
checkpw_LIBS := -lcdb
UNIT_test_authreq_SRCS := authd/authreq.c authd/pwcheck.c
UNIT_test_throttle_SRCS := authd/throttle.c
UNIT_test_authcache_SRCS := authd/authcache.c
UNIT_test_authcache_LIBS := -lbearssl
FUZZ_fuzz_authreq_SRCS := authd/authreq.c
