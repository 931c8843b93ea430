/* member_login.c: the member page's login, logout and new password; runs as yubin-web */
#include "member.h"

#include "acct.h"
#include "addr.h"
#include "authclient.h"
#include "exitcode.h"
#include "idna.h"
#include "log.h"
#include "pages.h"
#include "session.h"
#include "str.h"
#include "webparse.h"

#include <string.h>

/* the log's word for a session ended by a login from the browser that held it */
#define LOGIN_ENDS "session ended: a new login from its browser"

/* ---- login and logout ---- */

/* The session the request came with, if live, ends on the server: at a logout, and at a login
   (of the same login or another), before the new one is made, so that its id, which the
   browser no longer holds, opens nothing from then on (OWASP Session Management: a new id at
   every login, the old one invalidated). event names it in the log. 0 ok (also: none), -1
   errno. */
static int end_session(struct req *r, const char *event)
{
    if (!r->logged_in) {
        return 0;
    }
    if (session_delete(r->root, r->sess.id) < 0) {
        return -1;
    }
    r->logged_in = 0;
    log_info("%s user=%s ip=%s", event, r->sess.addr, r->ip);
    return 0;
}

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

int do_login(struct req *r)
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
            ok = end_session(r, LOGIN_ENDS) < 0 ? -4
                 : session_create_id(r->root, out.s, addr, 1, NULL, r->now, &r->sess) < 0 ? -2
                 : 1;
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
            ok = end_session(r, LOGIN_ENDS) < 0 ? -4
                 : session_create(r->root, addr, 0, a.pwid, r->now, &r->sess) < 0 ? -2 : 1;
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
                     : ok == -4 ? "unable to end the session the login came with user=%s"
                     : "unable to store a session user=%s", addr);
        return refused(r, "503 Service Unavailable", &MSG_TEMP);
    }
    log_info("login %suser=%s ip=%s", admin ? "administrator " : "", addr, r->ip);
    add_header(r, "Set-Cookie: " COOKIE_SESSION "=%s" COOKIE_ATTRS, r->sess.id);
    add_header(r, "Set-Cookie: " COOKIE_PRE "=%s" COOKIE_ATTRS "; Max-Age=0", "");
    return redirect(r, "/");
}

int do_logout(struct req *r)
{
    if (r->logged_in) {
        if (!csrf_ok(r, r->sess.csrf)) {
            return refused(r, "403 Forbidden", &MSG_CSRF);
        }
        if (end_session(r, "logout") < 0) {
            log_warn_sys("unable to end the session user=%s ip=%s", r->sess.addr, r->ip);
        }
    }
    add_header(r, "Set-Cookie: " COOKIE_SESSION "=%s" COOKIE_ATTRS "; Max-Age=0", "");
    return redirect(r, "/");
}

/* ---- a new password ---- */

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

int do_password(struct req *r)
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
