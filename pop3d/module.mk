# pop3d/: pre-auth POP3 (pop3-front, yubin-pop) and the mailbox phase (pop3d, yubin-mbox)
# and pop3-link (yubin-link: a session relayed to the node that holds the mailbox, docs/fleet.md)
PROGRAMS += pop3-front pop3d pop3-link
STATIC_PROGRAMS += pop3-front pop3d pop3-link
pop3-front_SRCS := pop3d/pop3-front.c pop3d/pop3_parse.c
pop3-front_LIBS := -lcdb
pop3d_SRCS := pop3d/pop3d.c pop3d/pop3_parse.c pop3d/maildrop.c quota/quota.c
pop3d_LIBS := -lcdb
pop3-link_SRCS := pop3d/pop3-link.c pop3d/pop3_parse.c tls/tlsclient.c tls/pump.c tls/x25519.c tls/keys.c \
    tls/keyproto.c
pop3-link_LIBS := -lcdb -lbearssl
UNIT_test_pop3_parse_SRCS := pop3d/pop3_parse.c
UNIT_test_maildrop_SRCS := pop3d/maildrop.c
FUZZ_fuzz_pop3_cmd_SRCS := pop3d/pop3_parse.c pop3d/maildrop.c
