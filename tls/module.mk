# tls/: tlsd (BearSSL server wrapper) and the client side for remote
PROGRAMS += tlsd
STATIC_PROGRAMS += tlsd
tlsd_SRCS := tls/tlsd.c tls/keys.c tls/pump.c
tlsd_LIBS := -lbearssl
UNIT_test_keys_SRCS := tls/keys.c tls/pump.c tls/tlsclient.c
UNIT_test_keys_LIBS := -lbearssl
