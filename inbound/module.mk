# inbound/: checks of mail from outside (SPF now; DKIM verification and DMARC to follow)
PROGRAMS += spfcheck
spfcheck_SRCS := inbound/spfcheck.c
