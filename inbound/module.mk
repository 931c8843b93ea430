# inbound/: checks of mail from outside: spfcheck (the operator's SPF tool); smtpd runs SPF,
# DKIM verification and DMARC with lib/authres at the end of DATA (docs/inbound.md)
PROGRAMS += spfcheck
spfcheck_SRCS := inbound/spfcheck.c inbound/checkuser.c
UNIT_test_authres_LIBS := -lbearssl -lcdb
PROGRAMS += authcheck
authcheck_SRCS := inbound/authcheck.c inbound/checkuser.c
authcheck_LIBS := -lbearssl -lcdb
