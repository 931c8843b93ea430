# web/: the member page (member, a CGI program under lighttpd, yubin-web) and its one crossing
# to the account maps (acctd, root, behind run/acctd.sock). docs/web.md.
PROGRAMS += member acctd webfront
STATIC_PROGRAMS += member webfront
member_SRCS := web/member.c web/member_login.c web/admin.c web/webparse.c web/session.c \
    web/pages.c web/adminpage.c web/autoconf.c web/apply.c cdb/sheet.c
member_LIBS := -lcdb -lbearssl
webfront_SRCS := web/webfront.c
acctd_SRCS := web/acctd.c web/acctd_admin.c web/applist.c web/webparse.c web/session.c web/apply.c
acctd_LIBS := -lcdb -lbearssl
UNIT_test_webparse_SRCS := web/webparse.c web/autoconf.c web/apply.c cdb/sheet.c
FUZZ_fuzz_webparse_SRCS := web/webparse.c web/apply.c
UNIT_test_apply_SRCS := web/apply.c
UNIT_test_session_SRCS := web/session.c web/webparse.c
UNIT_test_session_LIBS := -lbearssl
UNIT_test_pages_SRCS := web/pages.c web/adminpage.c web/webparse.c web/apply.c cdb/sheet.c
UNIT_test_applist_SRCS := web/applist.c web/apply.c
