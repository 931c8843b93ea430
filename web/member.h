/* member.h: what the member page's program (web/member.c) shares with its administrator's
   pages (web/admin.c): the request, the answer helpers, the acctd call. One program, two
   files; nothing here is used by another program. */
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

/* The answer: an HTML page of status with rendered's result (-1: too long, fatal). */
int html(struct req *r, const char *status, int rendered);
/* An error page with m. */
int refused(struct req *r, const char *status, const struct msg *m);
/* The login page (a fresh login-form token in its cookie), with m and the address typed. */
int show_login(struct req *r, const char *status, const struct msg *m, const char *typed);
/* 1 if the form's csrf field equals want, in constant time. */
int csrf_ok(const struct req *r, const char *want);
/* One acctd request: in[0..inlen) on its fd 0, its fd 1's text into out (NULL: dropped). The
   exit status, or -1 (unreachable, no answer, or an answer over out's max: logged). */
int acctd_call(const struct req *r, const char *const argv[], const char *in, size_t inlen,
               struct buf *out);

/* web/admin.c: the domain administrator's page (GET /) and an application (POST /apply),
   for a session with admin set. */
int admin_page(struct req *r);
int admin_apply(struct req *r);

#endif
