# quota/: the Maildir++ quota library (linked by deliver, pop3d) and the operator report
PROGRAMS += quota-report
quota-report_SRCS := quota/quota-report.c quota/quota.c
quota-report_LIBS := -lcdb
UNIT_test_quota_SRCS := quota/quota.c
