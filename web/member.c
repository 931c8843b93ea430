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
#include "authclient.h"
#include "autoconf.h"
#include "cfg.h"
#include "exitcode.h"
#include "fd.h"
#include "idna.h"
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

int html(struct req *r, const char *status, int rendered)
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

/* ---- login and logout ---- */

int show_login(struct req *r, const char *status, const struct msg *m, const char *typed)
{
    char pre[WEB_TOKEN_LEN + 2];
    /* the browser's token stays while it has one: a login page opened in a second tab must not
       turn the first tab's form into an expired one */
    if ((web_cookie_get(r->cookie, r->clen, COOKIE_PRE, pre, sizeof pre) != 1
         || !web_token_ok(pre)) && session_token(pre) < 0) {
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
    char folded[WEB_FIELD_MAX], pw[AUTH_FIELD_MAX + 2];
    size_t pwlen = 0;
    int ok, admin;
    if (web_cookie_get(r->cookie, r->clen, COOKIE_PRE, pre, sizeof pre) != 1 || !csrf_ok(r, pre)) {
        log_info("refused: login form without its token ip=%s", r->ip);
        return refused(r, "403 Forbidden", &MSG_CSRF);
    }
    if (web_form_get(r->body, r->blen, "addr", typed, sizeof typed, NULL) != 1) {
        typed[0] = '\0';
    }
    /* typed in full-width (ｈａｎａｋｏ＠例え．ｊｐ): as a mail program's login (lib/addr.c
       addr_login_form), full-width ASCII is ASCII; folding only shortens */
    if (idna_fold_fullwidth(typed, strlen(typed), folded, sizeof folded) >= 0) {
        memcpy(typed, folded, strlen(folded) + 1);
    }
    /* an address is a member; a domain name (no '@') its administrator */
    admin = typed[0] && !strchr(typed, '@');
    if (web_form_get(r->body, r->blen, "password", pw, sizeof pw, &pwlen) != 1
        || pwlen == 0 || pwlen > AUTH_FIELD_MAX
        || (admin ? idna_to_ascii(typed, strlen(typed), addr, sizeof addr) < 0
                        || !addr_map_domain_ok(addr, strlen(addr))
                  : !addr_map_form(typed, addr, sizeof addr))) {
        explicit_bzero(pw, sizeof pw);
        log_info("login failed user=(not an address) ip=%s", r->ip);
        return show_login(r, "200 OK", &bad, typed);
    }
    if (admin) {
        /* acctd checks an administrator's password itself and makes the session id: what it
           then does for the session, it does only for a login it saw (web/acctd_admin.c). A wrong
           password is turned away here first, so that guesses waiting out authd's throttle
           wait in this process, not in one of acctd's few slots that every member page needs
           (its usage); the right one is checked again there (authd's cache answers at once). */
        const char *argv[] = { "admin-login", r->ip, addr, NULL };
        struct buf out;
        int code;
        ok = authclient_check(r->root, "admin", r->ip, addr, strlen(addr), pw, pwlen,
                              WEB_AUTH_TIMEOUT);
        buf_init(&out, WEB_TOKEN_LEN + 2);
        code = ok == 1 ? acctd_call(r, argv, pw, pwlen, &out) : ok == 0 ? ACCTD_EXIT_BADAUTH : -1;
        explicit_bzero(pw, sizeof pw);
        ok = code == ACCTD_EXIT_BADAUTH ? 0 : code == 0 && out.len == WEB_TOKEN_LEN + 1 ? 1 : -1;
        if (ok == 1) {
            out.s[WEB_TOKEN_LEN] = '\0';
            session_sweep(r->root, r->now);
            ok = session_create_id(r->root, out.s, addr, 1, NULL, r->now, &r->sess) < 0 ? -2 : 1;
        }
        buf_wipe(&out);
        buf_free(&out);
    } else {
        struct acct a;
        ok = authclient_check(r->root, "web", r->ip, addr, strlen(addr), pw, pwlen,
                              WEB_AUTH_TIMEOUT);
        /* the session keeps the password's fingerprint in users.cdb (load_session compares
           it at each request); no account there: deleted since authd's yes */
        if (ok == 1 && (ok = acct_user(r->root, addr, &a)) < 0) {
            ok = -3;
        }
        /* the folder is swept (up to WEB_SESSIONS_MAX files read) for a login that makes a
           session, as for an administrator's: never for anyone's guess */
        if (ok == 1) {
            session_sweep(r->root, r->now);
            ok = session_create(r->root, addr, 0, a.pwid, r->now, &r->sess) < 0 ? -2 : 1;
        }
        /* A password changed between the check and the session's file would leave a session
           made with the old one (mailacct passwd ends the login's sessions on its node, and
           the fingerprint read above may already be the new one's): asked again once the file
           is there, authd answers from its cache (keyed on the stored hash), and a password no
           longer right takes the session back. A fingerprint of the new hash means this check
           runs against it: every build writes auth.cdb before users.cdb (cdb/mapsio.c). */
        if (ok == 1) {
            int again = authclient_check(r->root, "web", r->ip, addr, strlen(addr), pw, pwlen,
                                         WEB_AUTH_TIMEOUT);
            if (again != 1) {
                (void)session_delete(r->root, r->sess.id);
                ok = again;
            }
        }
        explicit_bzero(pw, sizeof pw);
    }
    if (ok == -1) {
        log_warn_sys("unable to ask %s user=%s ip=%s", admin ? "acctd" : "authd", addr, r->ip);
        return refused(r, "503 Service Unavailable", &MSG_TEMP);
    }
    if (ok == 0) {
        log_info("login failed user=%s ip=%s", addr, r->ip);
        return show_login(r, "200 OK", &bad, typed);
    }
    if (ok < 0) {
        log_warn_sys(ok == -3 ? "unable to read users.cdb user=%s"
                              : "unable to store a session user=%s", addr);
        return refused(r, "503 Service Unavailable", &MSG_TEMP);
    }
    log_info("login %suser=%s ip=%s", admin ? "administrator " : "", addr, r->ip);
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
    u = usage_of(r, a.addr, &v.used, &v.count);
    if (u < 0) {
        log_warn("unable to learn the usage of %s from acctd", a.addr);
    }
    v.usage_known = u == 1;
    return html(r, status, page_member(&r->out, &v, m));
}

/* After a new password: `mailacct passwd` (acctd) ended every session of the member, this one
   too; whoever else was logged in with the old password stays out, and the member goes on in
   a new session (a new id: a copy of the old cookie opens nothing). */
static int password_changed(struct req *r)
{
    char addr[ADDR_MAX + 1];
    struct acct a;
    memcpy(addr, r->sess.addr, sizeof addr);
    /* again, should mailacct not have been able to */
    if (session_end_others(r->root, addr, 0, NULL) < 0) {
        log_warn_sys("unable to end the other sessions of %s", addr);
    }
    /* the new password's fingerprint: mailacct returned once this node's maps had it (in a
       fleet, after waiting for the nodes); a node still behind records the old one, and the
       member logs in again once its maps catch up */
    if (acct_user(r->root, addr, &a) != 1) {
        a.pwid[0] = '\0';
    }
    if (session_create(r->root, addr, 0, a.pwid, r->now, &r->sess) < 0) {
        log_warn_sys("unable to store a session user=%s", addr);
        add_header(r, "Set-Cookie: " COOKIE_SESSION "=%s" COOKIE_ATTRS "; Max-Age=0", "");
        return redirect(r, "/");
    }
    add_header(r, "Set-Cookie: " COOKIE_SESSION "=%s" COOKIE_ATTRS, r->sess.id);
    return redirect(r, "/?changed=1");
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
    static const struct msg nocur = { "現在のパスワードを入力して下さい。",
                                      "Enter your current password.", 0 };
    char cur[AUTH_FIELD_MAX + 2], pw[AUTH_FIELD_MAX + 2], pw2[AUTH_FIELD_MAX + 2];
    char secrets[2 * (AUTH_FIELD_MAX + 2)];
    size_t curlen = 0, pwlen = 0;
    const char *argv[] = { "passwd", r->sess.addr, r->ip, NULL };
    int code, got;

    if (!csrf_ok(r, r->sess.csrf)) {
        log_info("refused: password form without its token user=%s ip=%s", r->sess.addr, r->ip);
        return refused(r, "403 Forbidden", &MSG_CSRF);
    }
    /* the current password first: left empty, it is asked for; longer than any password
       (255 octets) or with control characters, it cannot be right */
    got = web_form_get(r->body, r->blen, "current", cur, sizeof cur, &curlen);
    if (got == 0 || (got == 1 && curlen == 0)) {
        code = -5;
    } else if (got < 0 || curlen > AUTH_FIELD_MAX) {
        code = -6;
    } else if (web_form_get(r->body, r->blen, "new", pw, sizeof pw, &pwlen) != 1
               || web_form_get(r->body, r->blen, "new2", pw2, sizeof pw2, NULL) != 1) {
        code = -2;
    } else if (strcmp(pw, pw2) != 0) {
        code = -3;
    } else if (!web_password_ok(pw)) {
        code = -2;
    } else {
        /* the current password is checked here first, as a login's is (do_login): a wrong one,
           which authd's throttle holds for seconds, then waits in this process and never in
           one of acctd's few slots, which every member's and administrator's page needs;
           acctd checks the right one again (authd's cache answers at once) */
        int ok = authclient_check(r->root, "web", r->ip, r->sess.addr, strlen(r->sess.addr),
                                  cur, curlen, WEB_AUTH_TIMEOUT);
        if (ok != 1) {
            code = ok == 0 ? ACCTD_EXIT_BADAUTH : -4;
        } else {
            memcpy(secrets, cur, curlen + 1);
            memcpy(secrets + curlen + 1, pw, pwlen + 1);
            code = acctd_call(r, argv, secrets, curlen + pwlen + 2, NULL);
            explicit_bzero(secrets, sizeof secrets);
        }
    }
    explicit_bzero(cur, sizeof cur);
    explicit_bzero(pw, sizeof pw);
    explicit_bzero(pw2, sizeof pw2);
    switch (code) {
    case 0:
        log_info("password changed user=%s ip=%s", r->sess.addr, r->ip);
        return password_changed(r);
    case ACCTD_EXIT_BADAUTH:
        log_info("password not changed: current password wrong user=%s ip=%s", r->sess.addr, r->ip);
        return show_member(r, "200 OK", &wrong);
    case -5:
        return show_member(r, "200 OK", &nocur);
    case -6:
        return show_member(r, "200 OK", &wrong);
    case -3:
        return show_member(r, "200 OK", &differ);
    case -2:
    case EXIT_PERM:
        return show_member(r, "200 OK", &weak);
    case -4:
        log_warn_sys("password not changed: unable to ask authd user=%s ip=%s", r->sess.addr,
                     r->ip);
        return refused(r, "503 Service Unavailable", &MSG_TEMP);
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
