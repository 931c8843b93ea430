/* session.h: the member page's server-side sessions, one file each in ROOT/web/sessions/
   (yubin-web only, 0700). The cookie carries a random id; the file is named by the SHA-256
   of the id, so a copy of the folder does not hand out live cookies. A session expires
   WEB_SESSION_SECONDS after its last use (sliding), and WEB_SESSION_MAX_SECONDS after the
   login at the latest, whatever the browser keeps. File: "LOGIN\nCSRF\nLASTUSE\nCREATED\nKIND\n"
   (KIND "m" a member, LOGIN its address; "a" a domain administrator, LOGIN the domain), then
   for a member "PWID\n": the fingerprint of its password hash in users.cdb at the login
   (lib/acct.h), which the page compares with users.cdb's at each request, so that a new
   password ends the member's sessions on every node of a fleet once its maps have it. A file
   made before it has five lines, and that comparison does not end it.
   Each login has its folder ROOT/web/logins/SHA256(KIND "\n" LOGIN)/ holding an empty file of
   the same name for each of its sessions: a session is live only while that file is there too,
   so ending a login's sessions looks at its own folder (at most WEB_SESSIONS_PER_LOGIN live
   ones), never at every member's sessions. */
#ifndef YUBIN_SESSION_H
#define YUBIN_SESSION_H

#include "acct.h"
#include "limits.h"
#include "webparse.h"

#include <time.h>

#define WEB_SESSION_SECONDS 1800    /* 30 minutes from the last use */
#define WEB_SESSION_MAX_SECONDS 28800   /* 8 hours from the login, however used */
#define WEB_SESSION_TOUCH   60      /* the last use is written at most once a minute */
#define WEB_SESSIONS_MAX    10000   /* files the sweep looks at, at most, per login */
/* Live sessions of one login at most; a new login past it ends the login's oldest. A person's
   browsers and devices (home, office, a phone, a browser whose cookies were cleared) stay far
   below it, and it bounds what a login can leave behind (a script logging in again and again)
   and what ending a login's sessions has to look at. */
#define WEB_SESSIONS_PER_LOGIN 20
/* acctd's own record of each administrator's login it checked (web/acctd_admin.c): root only, named
   like the session's file */
#define SESSION_ADMIN_DIR   "run/acctd"

struct session {
    char id[WEB_TOKEN_LEN + 1];     /* the cookie value */
    char csrf[WEB_TOKEN_LEN + 1];   /* the token every form of this session carries */
    char addr[ADDR_MAX + 1];        /* the member, or the administrator's domain; lower case */
    int admin;                      /* 1 a domain administrator */
    char pwid[ACCT_PWID_LEN + 1];   /* a member's password fingerprint at the login, or "" */
    time_t last;                    /* last use */
    time_t created;
    time_t expires;                 /* min(last + WEB_SESSION_SECONDS, created + MAX) */
};

/* A fresh random token (32 bytes from getrandom in lower hex) into out[WEB_TOKEN_LEN + 1].
   0 ok, -1 errno. */
int session_token(char *out);
/* Make a session for addr (fresh id and CSRF token), written with O_EXCL, mode 0600, and its
   name in the login's folder (made when missing); past WEB_SESSIONS_PER_LOGIN live sessions of
   the login, the oldest ones end. pwid: the password fingerprint users.cdb has for addr
   (ACCT_PWID_LEN lower hex), or NULL or "" for none. 0 ok, -1 errno (EINVAL a pwid of another
   form). */
int session_create(const char *root, const char *addr, int admin, const char *pwid, time_t now,
                   struct session *s);
/* The same with the id given (an administrator's, made by acctd: web_token_ok). */
int session_create_id(const char *root, const char *id, const char *addr, int admin,
                      const char *pwid, time_t now, struct session *s);
/* ROOT/DIR/ and the SHA-256 of id in hex: where a session's file is (DIR "web/sessions" for
   the page's; acctd keeps its own record of an administrator's login elsewhere). 0 / -1. */
int session_path_in(const char *root, const char *dir, const char *id, char *out, size_t cap);
/* Load the session of cookie value id (checked: web_token_ok). 1 live (s filled), 0 none,
   malformed, expired (an expired file is removed when touch) or no longer in its login's
   folder (ended), -1 error (errno). With touch,
   a last use older than WEB_SESSION_TOUCH is moved to now (the file replaced by rename). */
int session_load(const char *root, const char *id, time_t now, int touch, struct session *s);
/* End every session of login (of its kind) but the one of keep_id (NULL: all): a member's
   other sessions once its password changed (those of this node's page; on the other nodes of
   a fleet the fingerprint ends them). Only the login's folder is looked at; symbolic
   links are not followed (mailacct runs it as root in the web uid's folder). An
   administrator's sessions take acctd's records of them (SESSION_ADMIN_DIR) along, when the
   caller may remove them. 0 ok (also when the login has no sessions), -1 errno. */
int session_end_others(const char *root, const char *login, int admin, const char *keep_id);
/* Remove the session of id and its name in its login's folder. 0 ok or absent, -1 errno. */
int session_delete(const char *root, const char *id);
/* Remove expired session files and their names (at most WEB_SESSIONS_MAX looked at). */
void session_sweep(const char *root, time_t now);

#endif
