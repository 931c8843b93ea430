# pop3d/: pre-auth POP3 (pop3-front, yubin-pop) and the mailbox phase (pop3d, yubin-mbox)
PROGRAMS += pop3-front pop3d
STATIC_PROGRAMS += pop3-front pop3d
pop3-front_SRCS := pop3d/pop3-front.c pop3d/pop3_parse.c
pop3d_SRCS := pop3d/pop3d.c pop3d/pop3_parse.c pop3d/maildrop.c quota/quota.c
UNIT_test_pop3_parse_SRCS := pop3d/pop3_parse.c
UNIT_test_maildrop_SRCS := pop3d/maildrop.c
FUZZ_fuzz_pop3_cmd_SRCS := pop3d/pop3_parse.c pop3d/maildrop.c
