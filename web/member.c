/* member: the member page (会員専用ページ) and the mail programs' self-configuration; a CGI
   program lighttpd starts per request; runs as yubin-web */
/*
 * CGI/1.1 (RFC 3875): REQUEST_METHOD, PATH_INFO, QUERY_STRING, CONTENT_LENGTH, HTTP_COOKIE,
 * HTTP_HOST, REMOTE_ADDR, HTTPS from lighttpd; the body on stdin; the answer on stdout.
 * Environment from the service: YUBIN_ROOT, YUBIN_ME (optional; else ROOT/etc/me).
 * It reads users.cdb and domains.cdb (for the sheet's data), the usage summaries in quota/
 * (through the group yubin-smtpd) and its own sessions in ROOT/web/sessions; it cannot read
 * auth.cdb or a Maildir. Passwords are checked by authd (service=web, the client's IP: the
 * throttling of POP3) and changed by acctd (run/acctd.sock), the one crossing that writes.
 * Routes: docs/web.md. Exit 0 (an answer was written), 111 it could not be.
 */
#include "acct.h"
#include "addr.h"
#include "authclient.h"
#include "autoconf.h"
#include "cfg.h"
#include "exitcode.h"
#include "fd.h"
#include "ipcfd.h"
#include "log.h"
#include "pages.h"
#include "session.h"
#include "cdb/sheet.h"
#include "str.h"
#include "usage.h"
#include "webparse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WEB_REPLY_MAX   (256 * 1024)    /* a page, a sheet or a profile */
#define WEB_HEADERS_MAX 4096
#define WEB_AUTH_TIMEOUT 30             /* authd's throttle may hold an answer up to 20 s */
#define ACCTD_EXIT_BADAUTH 1            /* web/acctd.c: the current password is wrong */

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

/* ---- the answer ---- */

static void add_header(struct req *r, const char *fmt, const char *val)
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

static int html(struct req *r, const char *status, int rendered)
{
    if (rendered < 0) {
        die(EXIT_TEMP, "page too long");
    }
    return send_reply(r, status, "text/html; charset=utf-8", CSP_PAGES);
}

static int redirect(struct req *r, const char *to)
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

static int refused(struct req *r, const char *status, const struct msg *m)
{
    return html(r, status, page_message(&r->out, "エラー", "Error", m));
}

static const struct msg MSG_TEMP = {
    "ただいま処理できません。しばらくしてからもう一度お試し下さい。",
    "This cannot be done right now: please try again in a few minutes.", 0 };
static const struct msg MSG_CSRF = {
    "フォームの有効期限が切れました。ページを読み込み直してからもう一度お試し下さい。",
    "This form has expired: reload the page and try again.", 0 };
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
    if (web_cookie_get(r->cookie, r->clen, COOKIE_SESSION, id, sizeof id) == 1) {
        int s = session_load(r->root, id, r->now, &r->sess);
        if (s < 0) {
            log_warn_sys("unable to read a session");
        }
        r->logged_in = s == 1;
    }
}

/* 1 if the form's csrf field equals want (a token), in constant time. */
static int csrf_ok(const struct req *r, const char *want)
{
    char got[WEB_TOKEN_LEN + 2];
    if (!web_token_ok(want)
        || web_form_get(r->body, r->blen, "csrf", got, sizeof got, NULL) != 1
        || !web_token_ok(got)) {
        return 0;
    }
    return web_equal(got, want, WEB_TOKEN_LEN);
}

/* An address as the maps keep it (lower case); 1 valid, 0 not. */
static int map_addr(const char *in, char *out, size_t cap)
{
    size_t n = strlen(in);
    if (n >= cap || n > ADDR_MAX) {
        return 0;
    }
    memcpy(out, in, n + 1);
    str_lower(out, n);
    return addr_map_ok(out, n);
}

/* ---- login and logout ---- */

static int show_login(struct req *r, const char *status, const struct msg *m, const char *typed)
{
    char pre[WEB_TOKEN_LEN + 1];
    if (session_token(pre) < 0) {
        log_warn_sys("unable to make a token");
        return refused(r, "503 Service Unavailable", &MSG_TEMP);
    }
    add_header(r, "Set-Cookie: " COOKIE_PRE "=%s" COOKIE_ATTRS, pre);
    return html(r, status, page_login(&r->out, pre, m, typed));
}

static int do_login(struct req *r)
{
    static const struct msg bad = {
        "メールアドレスまたはパスワードが正しくありません。パスワードは大文字/小文字を区別します。",
        "The address or the password is not right. Passwords are case-sensitive.", 0 };
    char pre[WEB_TOKEN_LEN + 2], typed[WEB_FIELD_MAX], addr[ADDR_MAX + 1];
    char pw[AUTH_FIELD_MAX + 2];
    size_t pwlen = 0;
    int ok;
    if (web_cookie_get(r->cookie, r->clen, COOKIE_PRE, pre, sizeof pre) != 1 || !csrf_ok(r, pre)) {
        log_info("refused: login form without its token ip=%s", r->ip);
        return refused(r, "403 Forbidden", &MSG_CSRF);
    }
    if (web_form_get(r->body, r->blen, "addr", typed, sizeof typed, NULL) != 1) {
        typed[0] = '\0';
    }
    if (web_form_get(r->body, r->blen, "password", pw, sizeof pw, &pwlen) != 1
        || pwlen == 0 || pwlen > AUTH_FIELD_MAX || !map_addr(typed, addr, sizeof addr)) {
        explicit_bzero(pw, sizeof pw);
        log_info("login failed user=(not an address) ip=%s", r->ip);
        return show_login(r, "200 OK", &bad, typed);
    }
    ok = authclient_check(r->root, "web", r->ip, addr, strlen(addr), pw, pwlen, WEB_AUTH_TIMEOUT);
    explicit_bzero(pw, sizeof pw);
    if (ok < 0) {
        log_warn_sys("unable to ask authd user=%s ip=%s", addr, r->ip);
        return refused(r, "503 Service Unavailable", &MSG_TEMP);
    }
    if (ok == 0) {
        log_info("login failed user=%s ip=%s", addr, r->ip);
        return show_login(r, "200 OK", &bad, typed);
    }
    session_sweep(r->root, r->now);
    if (session_create(r->root, addr, r->now, &r->sess) < 0) {
        log_warn_sys("unable to store a session user=%s", addr);
        return refused(r, "503 Service Unavailable", &MSG_TEMP);
    }
    log_info("login user=%s ip=%s", addr, r->ip);
    add_header(r, "Set-Cookie: " COOKIE_SESSION "=%s" COOKIE_ATTRS, r->sess.id);
    add_header(r, "Set-Cookie: " COOKIE_PRE "=%s" COOKIE_ATTRS "; Max-Age=0", "");
    return redirect(r, "/");
}

static int do_logout(struct req *r)
{
    if (r->logged_in) {
        if (!csrf_ok(r, r->sess.csrf)) {
            return refused(r, "403 Forbidden", &MSG_CSRF);
        }
        session_delete(r->root, r->sess.id);
        log_info("logout user=%s ip=%s", r->sess.addr, r->ip);
    }
    add_header(r, "Set-Cookie: " COOKIE_SESSION "=%s" COOKIE_ATTRS "; Max-Age=0", "");
    return redirect(r, "/");
}

/* ---- the member's own pages ---- */

static int show_member(struct req *r, const char *status, const struct msg *m)
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
    u = usage_read(r->root, a.addr, &v.used, &v.count);
    if (u < 0) {
        log_warn_sys("unable to read quota/%s", a.addr);
    }
    v.usage_known = u == 1;
    return html(r, status, page_member(&r->out, &v, m));
}

static int do_password(struct req *r)
{
    static const struct msg differ = { "新しいパスワードが一致しません。",
                                       "The two new passwords differ.", 0 };
    static const struct msg weak = {
        "新しいパスワードは 8 文字以上 255 文字以内で、制御文字を含めないで下さい。",
        "The new password must be 8 to 255 characters, without control characters.", 0 };
    static const struct msg wrong = { "現在のパスワードが正しくありません。",
                                      "The current password is not right.", 0 };
    char cur[AUTH_FIELD_MAX + 2], pw[AUTH_FIELD_MAX + 2], pw2[AUTH_FIELD_MAX + 2];
    char secrets[2 * (AUTH_FIELD_MAX + 2)], path[YUBIN_PATH_MAX];
    size_t curlen = 0, pwlen = 0;
    const char *argv[] = { "passwd", r->sess.addr, r->ip, NULL };
    int p[2], sock, code;

    if (!csrf_ok(r, r->sess.csrf)) {
        log_info("refused: password form without its token user=%s ip=%s", r->sess.addr, r->ip);
        return refused(r, "403 Forbidden", &MSG_CSRF);
    }
    if (web_form_get(r->body, r->blen, "current", cur, sizeof cur, &curlen) != 1
        || web_form_get(r->body, r->blen, "new", pw, sizeof pw, &pwlen) != 1
        || web_form_get(r->body, r->blen, "new2", pw2, sizeof pw2, NULL) != 1
        || curlen == 0 || curlen > AUTH_FIELD_MAX) {
        code = -2;
    } else if (strcmp(pw, pw2) != 0) {
        code = -3;
    } else if (!web_password_ok(pw)) {
        code = -2;
    } else {
        memcpy(secrets, cur, curlen + 1);
        memcpy(secrets + curlen + 1, pw, pwlen + 1);
        code = -1;
        if (cfg_path(path, sizeof path, r->root, "run/acctd.sock") == 0 && pipe(p) == 0) {
            /* both fit the pipe's buffer: at most 2 * 256 octets */
            if (fd_write_all(p[1], secrets, curlen + pwlen + 2) == 0) {
                close(p[1]);
                p[1] = -1;
                sock = ipcfd_call_fds(path, &p[0], 1, argv);
                if (sock >= 0) {
                    code = ipcfd_status(sock, 2 * WEB_AUTH_TIMEOUT);
                    close(sock);
                }
            }
            close(p[0]);
            if (p[1] >= 0) {
                close(p[1]);
            }
        }
        explicit_bzero(secrets, sizeof secrets);
    }
    explicit_bzero(cur, sizeof cur);
    explicit_bzero(pw, sizeof pw);
    explicit_bzero(pw2, sizeof pw2);
    switch (code) {
    case 0:
        log_info("password changed user=%s ip=%s", r->sess.addr, r->ip);
        return redirect(r, "/?changed=1");
    case ACCTD_EXIT_BADAUTH:
        log_info("password not changed: current password wrong user=%s ip=%s", r->sess.addr, r->ip);
        return show_member(r, "200 OK", &wrong);
    case -3:
        return show_member(r, "200 OK", &differ);
    case -2:
    case EXIT_PERM:
        return show_member(r, "200 OK", &weak);
    default:
        log_warn("password not changed: acctd answered %d user=%s", code, r->sess.addr);
        return refused(r, "503 Service Unavailable", &MSG_TEMP);
    }
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
        if (!map_addr(email, addr, sizeof addr)) {
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
        || !map_addr(email, addr, sizeof addr)) {
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

/* ---- routing ---- */

static int route(struct req *r)
{
    static const struct msg changed = { "パスワードを変更しました。",
                                        "The password has been changed.", 1 };
    int get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    int post = strcmp(r->method, "POST") == 0;
    const char *p = r->path;
    char flag[4];

    if (strcmp(p, "/mail/config-v1.1.xml") == 0
        || strcmp(p, "/.well-known/autoconfig/mail/config-v1.1.xml") == 0) {
        return get ? thunderbird(r) : not_found(r);
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
    if (post && strcmp(p, "/login") == 0) {
        return do_login(r);
    }
    if (post && strcmp(p, "/logout") == 0) {
        return do_logout(r);
    }
    if (strcmp(p, "/") != 0 && strcmp(p, "/password") != 0 && strcmp(p, "/settings.html") != 0
        && strcmp(p, "/profile.mobileconfig") != 0) {
        return not_found(r);
    }
    if (!r->logged_in) {
        if (post) {     /* a form of an expired session */
            return show_login(r, "403 Forbidden", &MSG_CSRF, NULL);
        }
        return strcmp(p, "/") == 0 ? show_login(r, "200 OK", NULL, NULL) : redirect(r, "/");
    }
    if (post && strcmp(p, "/password") == 0) {
        return do_password(r);
    }
    if (!get) {
        return not_found(r);
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
