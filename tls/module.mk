# tls/: tlsd (BearSSL server wrapper), tlskeyd (the key holder) and the client side for remote
PROGRAMS += tlsd tlskeyd
STATIC_PROGRAMS += tlsd
tlsd_SRCS := tls/tlsd.c tls/tlsd_certs.c tls/tlsd_engine.c tls/tlsd_child.c \
    tls/keys.c tls/keyproto.c tls/pump.c tls/x25519.c tls/tlsclient.c tls/handoff.c
tlsd_LIBS := -lbearssl
# tlskeyd runs once (not per connection): glibc, and libcrypto for the private-key operation
tlskeyd_SRCS := tls/tlskeyd.c tls/keys.c tls/keyproto.c tls/pump.c tls/x25519.c
tlskeyd_LIBS := -lbearssl -lcrypto
UNIT_test_keys_SRCS := tls/keys.c tls/pump.c tls/x25519.c tls/tlsclient.c
UNIT_test_keys_LIBS := -lbearssl
UNIT_test_keyproto_SRCS := tls/keyproto.c tls/keys.c tls/pump.c tls/x25519.c
UNIT_test_keyproto_LIBS := -lbearssl
FUZZ_fuzz_keyproto_SRCS := tls/keyproto.c tls/keys.c tls/pump.c tls/x25519.c
FUZZ_fuzz_keyproto_LIBS := -lbearssl
UNIT_test_x25519_SRCS := tls/x25519.c
UNIT_test_x25519_LIBS := -lbearssl
UNIT_test_handoff_SRCS := tls/handoff.c tls/pump.c tls/x25519.c
UNIT_test_handoff_LIBS := -lbearssl
FUZZ_fuzz_handoff_SRCS := tls/handoff.c
