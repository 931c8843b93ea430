# dkim/: the DKIM signer (dkim-sign, yubin-dkim) and the key files mailacct makes (docs/dkim.md)
PROGRAMS += dkim-sign
# libcrypto for the RSA-2048 private operation (~7x BearSSL i62 here; docs/dkim.md "Cost")
dkim-sign_SRCS := dkim/dkim-sign.c dkim/dkimkey.c tls/keys.c
dkim-sign_LIBS := -lbearssl -lcrypto -lcdb
# mailacct makes the keys and prints the DNS records (domain add, domain dkim)
mailacct_SRCS += dkim/dkimkey.c
mailacct_LIBS += -lbearssl
UNIT_test_dkim_SRCS := dkim/dkimkey.c dkim/dkimdir.c
UNIT_test_dkim_LIBS := -lbearssl -lcdb
mailacct_SRCS += dkim/dkimacct.c
# fleet mode: the keys in etcd (mailacct writes them, mapsync compiles cdb/dkim.cdb)
mailacct_SRCS += dkim/dkimdir.c
mapsync_SRCS += dkim/dkimdir.c dkim/dkimmap.c dkim/dkimkey.c
mapsync_LIBS += -lbearssl
FUZZ_fuzz_dkimdir_SRCS := dkim/dkimdir.c dkim/dkimkey.c
