# smtpd: the ESMTP server (smtpd/smtpd.c and its parts; parser apart in smtp_parse.c)
PROGRAMS += smtpd
STATIC_PROGRAMS += smtpd
smtpd_SRCS := smtpd/smtpd.c smtpd/smtpd_io.c smtpd/smtpd_rcpt.c smtpd/smtpd_data.c \
              smtpd/smtpd_auth.c smtpd/smtpd_limits.c smtpd/smtp_parse.c tls/handoff.c
smtpd_LIBS := -lcdb -lbearssl
UNIT_test_smtp_parse_SRCS := smtpd/smtp_parse.c
FUZZ_fuzz_smtp_cmd_SRCS := smtpd/smtp_parse.c
FUZZ_fuzz_smtp_data_SRCS := smtpd/smtp_parse.c
