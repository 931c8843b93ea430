/* smtpd_auth.c: smtpd's AUTH PLAIN and LOGIN (RFC 4954, RFC 4616), checked by authd */
#include "smtpd.h"
#include "authclient.h"
#include "b64.h"
#include "exitcode.h"
#include "log.h"
#include "str.h"

#include <string.h>

/* A client response: the initial response (has_init) or the line after "334 challenge".
   Decoded length, or -1 after a reply (cancelled, bad base64, line too long). */
static long auth_response(struct smtpd_session *s, const char *challenge, const char *init,
                          size_t ilen, int has_init, unsigned char *out, size_t cap)
{
    const char *p = init;
    size_t n = ilen;
    long r;
    if (!has_init) {
        smtpd_reply(s, "334 %s", challenge);
        if (smtpd_io_getline(s, SMTP_AUTH_LINE_MAX, &n) == SMTPD_GL_LONG) {
            smtpd_reply(s, "500 5.5.6 authentication line too long");
            return -1;
        }
        p = s->line;
    }
    if (n == 1 && p[0] == '*') {
        smtpd_reply(s, "501 5.7.0 authentication cancelled");
        return -1;
    }
    if (has_init && n == 1 && p[0] == '=') {
        return 0;   /* RFC 4954 §4: "=" is an empty initial response */
    }
    r = b64_decode(p, n, out, cap);
    explicit_bzero(s->line, sizeof s->line);
    if (r < 0) {
        smtpd_reply(s, "501 5.5.2 invalid base64 data in the authentication response");
        return -1;
    }
    return r;
}

/* Login name for the log: printable ASCII only, bounded. */
static void log_name(const unsigned char *u, size_t n, char *out, size_t cap)
{
    size_t i;
    for (i = 0; i < n && i < cap - 1; i++) {
        out[i] = (u[i] > 32 && u[i] < 127) ? (char)u[i] : '?';
    }
    out[i] = '\0';
}

static void auth_verdict(struct smtpd_session *s, const char *user, size_t ulen, const char *pass,
                         size_t plen)
{
    char shown[ADDR_MAX + 1], form[AUTH_FIELD_MAX + 1];
    size_t flen = addr_login_form(user, ulen, form, sizeof form);
    int r;

    if (flen > 0) {             /* taro@日本語.jp: taro@xn--wgv71a119e.jp from here on */
        user = form;
        ulen = flen;
    }
    r = authclient_check(s->root, "smtp", s->ip, user, ulen, pass, plen, SMTPD_AUTH_TIMEOUT);
    log_name((const unsigned char *)user, ulen, shown, sizeof shown);
    if (r == 1 && ulen <= ADDR_MAX) {
        memcpy(s->user, shown, strlen(shown) + 1);
        str_lower(s->user, strlen(s->user));
        s->authed = 1;
        log_info("auth ok ip=%s session=%s user=%s", s->ip, s->id, s->user);
        smtpd_reply(s, "235 2.7.0 Authentication successful");
        return;
    }
    if (r < 0) {
        log_warn_sys("auth temporary failure ip=%s session=%s user=%s", s->ip, s->id, shown);
        smtpd_reply(s, "454 4.7.0 temporary authentication failure, try again later");
        return;
    }
    s->auth_fail++;
    log_info("auth failed ip=%s session=%s user=%s", s->ip, s->id, shown);
    smtpd_reply(s, "535 5.7.8 authentication failed: check your user name (your full mail address) "
             "and password");
    if (s->auth_fail >= SMTPD_AUTH_FAIL_MAX) {
        smtpd_reply(s, "421 4.7.0 too many failed authentication attempts; closing connection");
        smtpd_io_quit(s, EXIT_DONE);
    }
}

static void auth_plain(struct smtpd_session *s, const char *init, size_t ilen, int has_init)
{
    unsigned char msg[SMTPD_AUTH_DECODED_MAX];
    const char *user, *pass;
    size_t ulen, plen;
    long n = auth_response(s, "", init, ilen, has_init, msg, sizeof msg);
    if (n < 0) {
        return;
    }
    if (smtp_plain_split((const char *)msg, (size_t)n, &user, &ulen, &pass, &plen) < 0) {
        explicit_bzero(msg, sizeof msg);
        s->auth_fail++;
        smtpd_reply(s, "535 5.7.8 authentication failed: malformed PLAIN response");
        if (s->auth_fail >= SMTPD_AUTH_FAIL_MAX) {
            smtpd_reply(s, "421 4.7.0 too many failed authentication attempts; closing connection");
            smtpd_io_quit(s, EXIT_DONE);
        }
        return;
    }
    auth_verdict(s, user, ulen, pass, plen);
    explicit_bzero(msg, sizeof msg);
}

static void auth_login(struct smtpd_session *s, const char *init, size_t ilen, int has_init)
{
    unsigned char user[SMTPD_AUTH_DECODED_MAX], pass[SMTPD_AUTH_DECODED_MAX];
    long ul, pl;
    ul = auth_response(s, "VXNlcm5hbWU6", init, ilen, has_init, user, sizeof user);
    if (ul < 0) {
        return;
    }
    pl = auth_response(s, "UGFzc3dvcmQ6", NULL, 0, 0, pass, sizeof pass);
    if (pl >= 0) {
        auth_verdict(s, (const char *)user, (size_t)ul, (const char *)pass, (size_t)pl);
    }
    explicit_bzero(user, sizeof user);
    explicit_bzero(pass, sizeof pass);
}

void smtpd_cmd_auth(struct smtpd_session *s, const char *arg, size_t n)
{
    size_t m = 0, i;
    if (s->state == SMTPD_ST_GREETED || !s->esmtp) {
        smtpd_reply(s, "503 5.5.1 send EHLO first");
        return;
    }
    if (s->authed) {
        smtpd_reply(s, "503 5.5.1 already authenticated");
        return;
    }
    if (s->state != SMTPD_ST_READY) {
        smtpd_reply(s, "503 5.5.1 AUTH is not allowed during a mail transaction; send RSET first");
        return;
    }
    if (s->require_tls && !s->tls) {
        smtpd_reply(s, "538 5.7.11 Encryption required for requested authentication mechanism; "
                 "use STARTTLS first");
        return;
    }
    while (m < n && arg[m] != ' ') {
        m++;
    }
    i = m;
    while (i < n && arg[i] == ' ') {
        i++;
    }
    if (str_eq_nocase(arg, m, "PLAIN")) {
        auth_plain(s, arg + i, n - i, i < n);
    } else if (str_eq_nocase(arg, m, "LOGIN")) {
        auth_login(s, arg + i, n - i, i < n);
    } else if (m == 0) {
        smtpd_reply(s, "501 5.5.4 syntax: AUTH mechanism [initial-response]");
    } else {
        smtpd_reply(s, "504 5.5.4 unrecognized authentication type; use PLAIN or LOGIN");
    }
}
