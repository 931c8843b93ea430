# dkim/: the DKIM signer (dkim-sign, yubin-dkim) and the key files mailacct makes (docs/dkim.md)
UNIT_test_dkim_SRCS := dkim/dkimkey.c
UNIT_test_dkim_LIBS := -lbearssl
