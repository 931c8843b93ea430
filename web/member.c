/* member: the member page (会員専用ページ) and the mail programs' self-configuration; a CGI
   program lighttpd starts per request; runs as yubin-web */
/*
 * CGI/1.1 (RFC 3875): REQUEST_METHOD, PATH_INFO, QUERY_STRING, CONTENT_LENGTH, HTTP_COOKIE,
 * HTTP_HOST, REMOTE_ADDR, HTTPS from lighttpd; the body on stdin; the answer on stdout.
 * Environment from the service: YUBIN_ROOT, YUBIN_ME (optional; else ROOT/etc/me).
 * It reads users.cdb and domains.cdb (for the sheet's data), etc/plans and etc/holidays, and
 * its own sessions in ROOT/web/sessions and web/logins; it cannot read auth.cdb, a Maildir or
 * quota/.
 * Passwords are checked by authd (service=web for members, service=admin for a domain's
 * administrator, the client's IP: the throttling of POP3); acctd (run/acctd.sock), the one
 * crossing that writes, changes a password, answers quota use, lists the administrator's
 * domain and files its applications.
 * Routes: docs/web.md. Exit 0 (an answer was written), 111 it could not be.
 */
#include "acct.h"
#include "addr.h"
#include "autoconf.h"
#include "cfg.h"
#include "exitcode.h"
#include "fd.h"
#include "ipcfd.h"
#include "log.h"
#include "member.h"
#include "pages.h"
#include "session.h"
#include "cdb/sheet.h"
#include "str.h"
#include "webparse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- the answer ---- */

void add_header(struct req *r, const char *fmt, const char *val)
{
    if (buf_printf(&r->hdr, fmt, val) < 0 || buf_puts(&r->hdr, "\r\n") < 0) {
        die(EXIT_TEMP, "header too long");
    }
}

static int send_reply(struct req *r, const char *status, const char *ctype, const char *csp)
{
    struct buf h;
    int rc;
    buf_init(&h, WEB_HEADERS_MAX * 2);
    if (buf_printf(&h, "Status: %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                   "Content-Security-Policy: %s\r\nX-Content-Type-Options: nosniff\r\n"
                   "Referrer-Policy: no-referrer\r\nCache-Control: no-store\r\n%s\r\n",
                   status, ctype, r->out.len, csp, r->hdr.s ? r->hdr.s : "") < 0) {
        die(EXIT_TEMP, "headers too long");
    }
    rc = fd_write_all(1, h.s, h.len) < 0 || (r->out.len && fd_write_all(1, r->out.s, r->out.len) < 0)
         ? -1 : 0;
    buf_free(&h);
    return rc;
}

int html(struct req *r, const char *status, int rendered)
{
    if (rendered < 0) {
        die(EXIT_TEMP, "page too long");
    }
    return send_reply(r, status, "text/html; charset=utf-8", CSP_PAGES);
}

int redirect(struct req *r, const char *to)
{
    add_header(r, "Location: %s", to);
    return send_reply(r, "303 See Other", "text/plain; charset=utf-8", CSP_PAGES);
}

static int not_found(struct req *r)
{
    static const struct msg m = { "お探しのページは見つかりませんでした。",
                                  "There is no such page.", 0 };
    return html(r, "404 Not Found", page_message(&r->out, "ページが見つかりません",
                                                 "Page not found", &m));
}

int refused(struct req *r, const char *status, const struct msg *m)
{
    return html(r, status, page_message(&r->out, "エラー", "Error", m));
}

const struct msg MSG_TEMP = {
    "ただいま処理できません。しばらくしてからもう一度お試し下さい。",
    "This cannot be done right now: please try again in a few minutes.", 0 };
const struct msg MSG_CSRF = {
    "フォームの有効期限が切れました。ページを読み込み直してからもう一度お試し下さい。",
    "This form has expired: reload the page and try again.", 0 };
static const struct msg MSG_NOT_YOURS = {
    "このページはご利用頂けません。ログインし直して下さい。",
    "This page is not open to you: log in with the right account.", 0 };
static const struct msg MSG_BADREQ = {
    "リクエストを読み取れませんでした。", "The request could not be read.", 0 };

/* ---- the request ---- */

/* Reads the CGI environment and the body, bounded; 0 ok, -1 an answer was already sent. */
static int read_request(struct req *r)
{
    const char *q = getenv("QUERY_STRING"), *cl = getenv("CONTENT_LENGTH");
    const char *ck = getenv("HTTP_COOKIE");
    uint64_t n = 0;
    r->method = getenv("REQUEST_METHOD");
    r->path = getenv("PATH_INFO");
    r->ip = getenv("REMOTE_ADDR");
    r->host = getenv("HTTP_HOST");
    if (!r->method) {
        die(EXIT_PERM, "not started as a CGI program (no REQUEST_METHOD)");
    }
    if (!r->path || !r->path[0]) {
        r->path = "/";
    }
    if (!r->ip || !str_ip_text_ok(r->ip)) {
        r->ip = "";
    }
    if (q && (r->qlen = strlen(q)) > WEB_QUERY_MAX) {
        refused(r, "414 URI Too Long", &MSG_BADREQ);
        return -1;
    }
    memcpy(r->query, q ? q : "", r->qlen + 1);
    if (ck && (r->clen = strlen(ck)) > WEB_COOKIE_MAX) {
        refused(r, "431 Request Header Fields Too Large", &MSG_BADREQ);
        return -1;
    }
    memcpy(r->cookie, ck ? ck : "", r->clen + 1);
    if (cl && cl[0] && (str_to_u64(cl, strlen(cl), &n) < 0 || n > WEB_BODY_MAX)) {
        refused(r, "413 Content Too Large", &MSG_BADREQ);
        return -1;
    }
    if (n > 0) {
        ssize_t got = fd_read_full(0, r->body, (size_t)n);
        if (got != (ssize_t)n) {
            refused(r, "400 Bad Request", &MSG_BADREQ);
            return -1;
        }
    }
    r->blen = (size_t)n;
    r->body[r->blen] = '\0';
    return 0;
}

static void load_session(struct req *r)
{
    char id[WEB_TOKEN_LEN + 2];
    const char *ended = NULL;
    struct acct a;
    int s, found;
    if (web_cookie_get(r->cookie, r->clen, COOKIE_SESSION, id, sizeof id) != 1) {
        return;
    }
    s = session_load(r->root, id, r->now, 1, &r->sess);
    if (s < 0) {
        log_warn_sys("unable to read a session");
    }
    r->logged_in = s == 1;
    if (!r->logged_in || r->sess.admin) {
        return;
    }
    /* a member whose account the operator disabled or deleted is logged out, whatever the
       browser still holds (a stolen cookie); so is a session of an older password: mailacct
       ends those of its own node's page, this the other nodes' once their maps have the new
       one. A session or a users.cdb from before the fingerprint has none: not compared.
       users.cdb unreadable: the routes say so */
    found = acct_user(r->root, r->sess.addr, &a);
    if (found == 0) {
        ended = "account deleted";
    } else if (found == 1 && a.disabled) {
        ended = "account disabled";
    } else if (found == 1 && r->sess.pwid[0] && a.pwid[0] && strcmp(r->sess.pwid, a.pwid) != 0) {
        ended = "password changed";
    }
    if (ended) {
        log_info("session ended: %s user=%s ip=%s", ended, r->sess.addr, r->ip);
        session_delete(r->root, r->sess.id);
        r->logged_in = 0;
    }
}

/* 1 if the form's csrf field equals want (a token), in constant time. */
int csrf_ok(const struct req *r, const char *want)
{
    char got[WEB_TOKEN_LEN + 2];
    if (!web_token_ok(want)
        || web_form_get(r->body, r->blen, "csrf", got, sizeof got, NULL) != 1
        || !web_token_ok(got)) {
        return 0;
    }
    return str_equal_ct(got, want, WEB_TOKEN_LEN);
}

/* One acctd request: in[0..inlen) on its fd 0 (a pipe), its fd 1's text into out (may be
   NULL). The exit status, or -1 (unreachable, no answer, an answer over out's bound). */
int acctd_call(const struct req *r, const char *const argv[], const char *in,
                      size_t inlen, struct buf *out)
{
    char path[YUBIN_PATH_MAX], chunk[4096];
    int ip[2] = { -1, -1 }, op[2] = { -1, -1 }, fds[2], sock, code = -1;
    size_t over = 0;
    ssize_t n;
    if (cfg_path(path, sizeof path, r->root, "run/acctd.sock") < 0 || pipe(ip) < 0) {
        return -1;
    }
    if (pipe(op) < 0) {
        close(ip[0]);
        close(ip[1]);
        return -1;
    }
    /* at most 2 * 256 octets: they fit the pipe's buffer before anyone reads */
    if (inlen && fd_write_all(ip[1], in, inlen) < 0) {
        goto done;
    }
    close(ip[1]);
    ip[1] = -1;
    fds[0] = ip[0];
    fds[1] = op[1];
    sock = ipcfd_call_fds(path, fds, 2, argv);
    close(op[1]);
    op[1] = -1;
    if (sock < 0) {
        goto done;
    }
    while ((n = fd_read(op[0], chunk, sizeof chunk)) > 0) {
        if (out && buf_append(out, chunk, (size_t)n) < 0) {
            over = out->max;    /* the rest is read and dropped, the call fails */
            out = NULL;
        }
    }
    code = ipcfd_status(sock, 2 * WEB_AUTH_TIMEOUT);
    close(sock);
    if (over) {
        log_warn("acctd's answer to %s was longer than %zu octets", argv[0], over);
        code = -1;
    }
done:
    close(ip[0]);
    close(op[0]);
    if (ip[1] >= 0) {
        close(ip[1]);
    }
    if (op[1] >= 0) {
        close(op[1]);
    }
    return code;
}

/* The usage summary of addr, from acctd ("BYTES COUNT KNOWN\n"): 1 known, 0 none yet (both
   0), -1 acctd did not answer. */
static int usage_of(const struct req *r, const char *addr, uint64_t *used, uint64_t *count)
{
    const char *argv[] = { "usage", addr, NULL };
    const char *f[3];
    size_t fl[3], i, k = 0, start = 0;
    struct buf b;
    int rc = -1;
    *used = *count = 0;
    buf_init(&b, 64);
    if (acctd_call(r, argv, NULL, 0, &b) == 0 && b.len > 0 && b.s[b.len - 1] == '\n') {
        for (i = 0; i < b.len && k < 3; i++) {
            if (b.s[i] == ' ' || b.s[i] == '\n') {
                f[k] = b.s + start;
                fl[k++] = i - start;
                start = i + 1;
            }
        }
        if (k == 3 && start == b.len && str_to_u64(f[0], fl[0], used) == 0
            && str_to_u64(f[1], fl[1], count) == 0 && fl[2] == 1
            && (f[2][0] == '0' || f[2][0] == '1')) {
            rc = f[2][0] == '1';
        } else {
            *used = *count = 0;
        }
    }
    buf_free(&b);
    return rc;
}

/* ---- the member's own pages ---- */

int show_member(struct req *r, const char *status, const struct msg *m)
{
    struct member_view v;
    struct acct a;
    int found = acct_user(r->root, r->sess.addr, &a), u;
    if (found < 0) {
        log_warn_sys("unable to read users.cdb");
        return refused(r, "503 Service Unavailable", &MSG_TEMP);
    }
    if (found == 0) {
        session_delete(r->root, r->sess.id);
        return show_login(r, "200 OK", NULL, NULL);
    }
    memset(&v, 0, sizeof v);
    v.addr = a.addr;
    v.csrf = r->sess.csrf;
    v.quota = a.quota;
    v.plan = a.plan;
    v.pop3s = a.pop3s;
    u = usage_of(r, a.addr, &v.used, &v.count);
    if (u < 0) {
        log_warn("unable to learn the usage of %s from acctd", a.addr);
    }
    v.usage_known = u == 1;
    return html(r, status, page_member(&r->out, &v, m));
}

/* The sheet's data for an account or, with a == NULL, a domain (Thunderbird). */
static void fill_sheet(struct sheet *s, const char *addr, const char *domain, int pop3s,
                       uint64_t quota, char *me, size_t mecap)
{
    if (cfg_me(me, mecap) < 0) {
        str_fmt(me, mecap, "localhost");
    }
    memset(s, 0, sizeof *s);
    s->addr = addr;
    s->domain = domain;
    s->me = me;
    s->quota = quota;
    s->pop3s = pop3s;
}

/* 8-4-4-4-12 from a fresh token, version 4, variant 10 (RFC 9562 §5.4) */
static int make_uuid(char *out)
{
    char t[WEB_TOKEN_LEN + 1];
    if (session_token(t) < 0) {
        return -1;
    }
    t[12] = '4';
    t[16] = "89ab"[t[16] % 4];
    snprintf(out, AUTOCONF_UUID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", t, t + 8, t + 12, t + 16,
             t + 20);
    return 0;
}

static int download(struct req *r, int profile)
{
    char me[SMTP_DOMAIN_MAX + 1], u1[AUTOCONF_UUID_LEN + 1], u2[AUTOCONF_UUID_LEN + 1];
    struct sheet s;
    struct acct a;
    int found = acct_user(r->root, r->sess.addr, &a), rc;
    if (found <= 0) {
        return found < 0 ? refused(r, "503 Service Unavailable", &MSG_TEMP) : not_found(r);
    }
    fill_sheet(&s, a.addr, strchr(a.addr, '@') + 1, a.pop3s, a.quota, me, sizeof me);
    if (profile) {
        if (make_uuid(u1) < 0 || make_uuid(u2) < 0) {
            return refused(r, "503 Service Unavailable", &MSG_TEMP);
        }
        rc = autoconf_mobileconfig(&s, u1, u2, &r->out);
        add_header(r, "Content-Disposition: attachment; filename=\"%s.mobileconfig\"", "mail");
    } else {
        rc = sheet_html(&s, &r->out);
        add_header(r, "Content-Disposition: attachment; filename=\"%s.html\"", "settings");
    }
    if (rc < 0) {
        die(EXIT_TEMP, "document too long");
    }
    /* the sheet carries its own <style>: a download, never shown from this origin */
    return send_reply(r, "200 OK", profile ? "application/x-apple-aspen-config"
                                           : "text/html; charset=utf-8",
                      "default-src 'none'; style-src 'unsafe-inline'; sandbox");
}

/* ---- autoconfiguration: no login, public data of hosted domains only ---- */

/* The domain a Thunderbird request is about: the emailaddress parameter's, else the host name
   asked for without "autoconfig." (RFC: autoconfig.DOMAIN and DOMAIN/.well-known). */
static int tb_domain(const struct req *r, char *out, size_t cap)
{
    char email[WEB_FIELD_MAX], addr[ADDR_MAX + 1];
    const char *h = r->host ? r->host : "";
    size_t n;
    if (web_form_get(r->query, r->qlen, "emailaddress", email, sizeof email, NULL) == 1) {
        if (!addr_map_form(email, addr, sizeof addr)) {
            return 0;
        }
        return str_fmt(out, cap, "%s", strchr(addr, '@') + 1) == 0;
    }
    if (str_start_nocase(h, strlen(h), "autoconfig.")) {
        h += strlen("autoconfig.");
    }
    n = strcspn(h, ":");
    if (n == 0 || n >= cap) {
        return 0;
    }
    memcpy(out, h, n);
    out[n] = '\0';
    str_lower(out, n);
    return addr_map_domain_ok(out, n);
}

static int xml(struct req *r)
{
    return send_reply(r, "200 OK", "application/xml; charset=utf-8", "default-src 'none'");
}

static int thunderbird(struct req *r)
{
    char domain[SMTP_DOMAIN_MAX + 1], me[SMTP_DOMAIN_MAX + 1];
    struct domain d;
    struct sheet s;
    int found;
    if (!tb_domain(r, domain, sizeof domain)) {
        return not_found(r);
    }
    found = acct_domain(r->root, domain, &d);
    if (found <= 0) {
        return found < 0 ? refused(r, "503 Service Unavailable", &MSG_TEMP) : not_found(r);
    }
    fill_sheet(&s, NULL, d.name, d.pop3s, d.quota, me, sizeof me);
    if (autoconf_thunderbird(&s, &r->out) < 0) {
        die(EXIT_TEMP, "document too long");
    }
    return xml(r);
}

static int autodiscover(struct req *r)
{
    char email[WEB_FIELD_MAX], addr[ADDR_MAX + 1], me[SMTP_DOMAIN_MAX + 1];
    struct domain d;
    struct sheet s;
    int found;
    if (strcmp(r->method, "POST") != 0) {
        add_header(r, "Allow: %s", "POST");
        return refused(r, "405 Method Not Allowed", &MSG_BADREQ);
    }
    if (web_autodiscover_email(r->body, r->blen, email, sizeof email) != 1
        || !addr_map_form(email, addr, sizeof addr)) {
        return refused(r, "400 Bad Request", &MSG_BADREQ);
    }
    found = acct_domain(r->root, strchr(addr, '@') + 1, &d);
    if (found <= 0) {
        return found < 0 ? refused(r, "503 Service Unavailable", &MSG_TEMP) : not_found(r);
    }
    fill_sheet(&s, addr, d.name, d.pop3s, d.quota, me, sizeof me);
    if (autoconf_autodiscover(&s, &r->out) < 0) {
        die(EXIT_TEMP, "document too long");
    }
    return xml(r);
}

/* The FAQ: for a member its own servers, quota and plan; for a domain's administrator its
   domain's servers; before the login those of "your domain" (the sheet's data, cdb/sheet.c) */
static int show_faq(struct req *r)
{
    char me[SMTP_DOMAIN_MAX + 1];
    struct faq_view v;
    struct sheet s;
    struct domain d;
    struct acct a;
    memset(&v, 0, sizeof v);
    v.pop3s = -1;
    fill_sheet(&s, NULL, NULL, 1, 0, me, sizeof me);
    if (r->logged_in && !r->sess.admin && acct_user(r->root, r->sess.addr, &a) == 1) {
        fill_sheet(&s, a.addr, strchr(a.addr, '@') + 1, a.pop3s, a.quota, me, sizeof me);
        v.member = 1;
        v.pop3s = a.pop3s != 0;
        v.quota = a.quota;
    } else if (r->logged_in && r->sess.admin && acct_domain(r->root, r->sess.addr, &d) == 1) {
        fill_sheet(&s, NULL, d.name, d.pop3s, d.quota, me, sizeof me);
        v.admin = 1;
        v.pop3s = d.pop3s != 0;
    }
    v.servers = &s;
    return html(r, "200 OK", page_faq(&r->out, &v));
}

/* ---- routing ---- */

static int not_allowed(struct req *r, const char *allow)
{
    add_header(r, "Allow: %s", allow);
    return refused(r, "405 Method Not Allowed", &MSG_BADREQ);
}

/* RFC 9110 §15.5.6, §15.6.2: a method the path does not take gets 405 with the ones it does;
   one we take nowhere 501. A GET of a form's answer (the address bar, a bookmark, a restored
   tab) goes to the page the form is on. METHOD_FITS, or what sending the answer returned (0,
   or -1 when it could not be written). */
#define METHOD_FITS 1

static int method_check(struct req *r, int get, int post)
{
    static const char *const pages[] = { "/", "/settings.html", "/profile.mobileconfig",
                                         "/style.css", "/faq", "/mail/config-v1.1.xml",
                                         "/.well-known/autoconfig/mail/config-v1.1.xml" };
    static const char *const forms[] = { "/login", "/logout", "/password", "/apply" };
    const char *p = r->path;
    size_t i;

    if (!get && !post) {
        add_header(r, "Allow: %s", "GET, HEAD, POST");
        return refused(r, "501 Not Implemented", &MSG_BADREQ);
    }
    for (i = 0; get && i < sizeof forms / sizeof forms[0]; i++) {
        if (strcmp(p, forms[i]) == 0) {
            return redirect(r, "/");
        }
    }
    for (i = 1; post && i < sizeof pages / sizeof pages[0]; i++) {  /* "/": below, by session */
        if (strcmp(p, pages[i]) == 0) {
            return not_allowed(r, "GET, HEAD");
        }
    }
    return METHOD_FITS;
}

static int route(struct req *r)
{
    static const struct msg changed = { "パスワードを変更しました。",
                                        "The password has been changed.", 1 };
    int get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    int post = strcmp(r->method, "POST") == 0;
    const char *p = r->path;
    char flag[4];
    int answered;

    /* Autodiscover answers its methods itself (POST only) */
    if (!str_eq_nocase(p, strlen(p), "/autodiscover/autodiscover.xml")
        && (answered = method_check(r, get, post)) != METHOD_FITS) {
        return answered;
    }
    if (strcmp(p, "/mail/config-v1.1.xml") == 0
        || strcmp(p, "/.well-known/autoconfig/mail/config-v1.1.xml") == 0) {
        return thunderbird(r);     /* a GET or HEAD: method_check answered the others */
    }
    if (str_eq_nocase(p, strlen(p), "/autodiscover/autodiscover.xml")) {
        return autodiscover(r);
    }
    if (get && strcmp(p, "/style.css") == 0) {
        if (buf_puts(&r->out, PAGES_CSS) < 0) {
            die(EXIT_TEMP, "style too long");
        }
        return send_reply(r, "200 OK", "text/css; charset=utf-8", "default-src 'none'");
    }
    load_session(r);
    if (get && strcmp(p, "/faq") == 0) {
        return show_faq(r);     /* anyone: a POST got 405 above */
    }
    if (post && strcmp(p, "/login") == 0) {
        return do_login(r);
    }
    if (post && strcmp(p, "/logout") == 0) {
        return do_logout(r);
    }
    if (strcmp(p, "/") != 0 && strcmp(p, "/password") != 0 && strcmp(p, "/settings.html") != 0
        && strcmp(p, "/profile.mobileconfig") != 0 && strcmp(p, "/apply") != 0) {
        return not_found(r);
    }
    if (!r->logged_in) {
        if (post) {     /* a form of an expired session */
            return show_login(r, "403 Forbidden", &MSG_CSRF, NULL);
        }
        return strcmp(p, "/") == 0 ? show_login(r, "200 OK", NULL, NULL) : redirect(r, "/");
    }
    if (r->sess.admin) {
        /* a domain administrator: its page and its applications, nothing of a member's */
        if (post && strcmp(p, "/apply") == 0) {
            return admin_apply(r);
        }
        if (get && strcmp(p, "/") == 0) {
            return admin_page(r);
        }
        if (post && strcmp(p, "/") == 0) {
            return not_allowed(r, "GET, HEAD");
        }
        log_info("refused: %s for an administrator domain=%s ip=%s", p, r->sess.addr, r->ip);
        return refused(r, "403 Forbidden", &MSG_NOT_YOURS);
    }
    if (strcmp(p, "/apply") == 0) {
        log_info("refused: /apply for a member user=%s ip=%s", r->sess.addr, r->ip);
        return refused(r, "403 Forbidden", &MSG_NOT_YOURS);
    }
    if (post && strcmp(p, "/password") == 0) {
        return do_password(r);
    }
    if (!get) {
        return not_allowed(r, "GET, HEAD");
    }
    if (strcmp(p, "/settings.html") == 0 || strcmp(p, "/profile.mobileconfig") == 0) {
        return download(r, p[1] == 'p');
    }
    if (strcmp(p, "/") != 0) {
        return not_found(r);
    }
    return show_member(r, "200 OK", web_form_get(r->query, r->qlen, "changed", flag, sizeof flag,
                                                 NULL) == 1 ? &changed : NULL);
}

int main(void)
{
    struct req r;           /* about 15 KB of bounded buffers */
    const char *https = getenv("HTTPS");

    log_init("member");
    memset(&r, 0, sizeof r);
    if (getuid() == 0 || geteuid() == 0) {
        die(EXIT_TEMP, "refusing to run as root (lighttpd runs it as the web uid)");
    }
    r.root = cfg_root();
    if (!r.root) {
        die(EXIT_PERM, "YUBIN_ROOT is not set to an absolute path");
    }
    r.now = time(NULL);
    buf_init(&r.hdr, WEB_HEADERS_MAX);
    buf_init(&r.out, WEB_REPLY_MAX);
    if (read_request(&r) < 0) {
        return EXIT_DONE;
    }
    if (!https || strcmp(https, "on") != 0) {
        /* lighttpd answers plain HTTP with a redirect before this program; never serve it */
        return refused(&r, "403 Forbidden", &MSG_BADREQ) < 0 ? EXIT_TEMP : EXIT_DONE;
    }
    if (route(&r) < 0) {
        log_warn_sys("unable to write the answer");
        return EXIT_TEMP;
    }
    explicit_bzero(r.body, sizeof r.body);
    return EXIT_DONE;
}
