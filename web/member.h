/* member.h: what the files of the member page's program share (web/member.c: the request,
   the answer, the routes, the member's pages and the self-configuration; web/member_login.c:
   the login, logout and new password; web/admin.c: the domain administrator's pages): the
   request, the answer helpers, the acctd call. Nothing here is used by another program. */
#ifndef YUBIN_MEMBER_H
#define YUBIN_MEMBER_H

#include "buf.h"
#include "pages.h"
#include "session.h"
#include "webparse.h"

#include <stddef.h>
#include <time.h>

/* a page, a sheet or a profile: the longest is the administrator's page, under
   PAGE_ADMIN_MAX by construction (pages.h) */
#define WEB_REPLY_MAX   (512 * 1024)
#define WEB_HEADERS_MAX 4096
#define WEB_AUTH_TIMEOUT 30             /* authd's throttle may hold an answer up to 20 s */
#define ACCTD_EXIT_BADAUTH 1            /* web/acctd.h: the current password is wrong */
#define ACCTD_ANSWER_MAX (192 * 1024)   /* acctd's text: a page of a domain's list, a sheet */

#define COOKIE_SESSION  "__Host-yubin"
#define COOKIE_PRE      "__Host-yubin-login"
#define COOKIE_ATTRS    "; Path=/; Secure; HttpOnly; SameSite=Strict"
#define CSP_PAGES       "default-src 'none'; style-src 'self'; img-src 'self'; " \
                        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

struct req {
    const char *root;
    const char *method;
    const char *path;
    const char *ip;
    const char *host;
    char query[WEB_QUERY_MAX + 1];
    size_t qlen;
    char body[WEB_BODY_MAX + 1];
    size_t blen;
    char cookie[WEB_COOKIE_MAX + 1];
    size_t clen;
    struct session sess;
    int logged_in;
    struct buf hdr;     /* extra header lines (Set-Cookie, Location, ...) */
    struct buf out;     /* the body */
    time_t now;
};

extern const struct msg MSG_TEMP;   /* "try again in a few minutes" (503) */
extern const struct msg MSG_CSRF;   /* "this form has expired" (403) */

/* web/member.c */
/* One header line of the answer, fmt with val; dies past WEB_HEADERS_MAX. */
void add_header(struct req *r, const char *fmt, const char *val);
/* The answer: an HTML page of status with rendered's result (-1: too long, fatal). */
int html(struct req *r, const char *status, int rendered);
/* The answer: 303 See Other to the path to. */
int redirect(struct req *r, const char *to);
/* An error page with m. */
int refused(struct req *r, const char *status, const struct msg *m);
/* The logged-in member's page, with m (an account gone: the login page). */
int show_member(struct req *r, const char *status, const struct msg *m);
/* 1 if the form's csrf field equals want, in constant time. */
int csrf_ok(const struct req *r, const char *want);
/* One acctd request: in[0..inlen) on its fd 0, its fd 1's text into out (NULL: dropped). The
   exit status, or -1 (unreachable, no answer, or an answer over out's max: logged). */
int acctd_call(const struct req *r, const char *const argv[], const char *in, size_t inlen,
               struct buf *out);

/* web/member_login.c */
/* The login page (a fresh login-form token in its cookie), with m and the address typed. */
int show_login(struct req *r, const char *status, const struct msg *m, const char *typed);
/* The forms, POST /login (a member, or a domain's administrator), /logout and /password (a
   member's new password); each answers. */
int do_login(struct req *r);
int do_logout(struct req *r);
int do_password(struct req *r);

/* web/admin.c: the domain administrator's page (GET /) and an application (POST /apply),
   for a session with admin set. */
int admin_page(struct req *r);
int admin_apply(struct req *r);

#endif
