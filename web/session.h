/* session.h: the member page's server-side sessions, one file each in ROOT/web/sessions/
   (yubin-web only, 0700). The cookie carries a random id; the file is named by the SHA-256
   of the id, so a copy of the folder does not hand out live cookies. A session expires
   WEB_SESSION_SECONDS after its last use (sliding), and WEB_SESSION_MAX_SECONDS after the
   login at the latest, whatever the browser keeps. File: "LOGIN\nCSRF\nLASTUSE\nCREATED\nKIND\n"
   (KIND "m" a member, LOGIN its address; "a" a domain administrator, LOGIN the domain). */
#ifndef YUBIN_SESSION_H
#define YUBIN_SESSION_H

#include "limits.h"
#include "webparse.h"

#include <time.h>

#define WEB_SESSION_SECONDS 1800    /* 30 minutes from the last use */
#define WEB_SESSION_MAX_SECONDS 28800   /* 8 hours from the login, however used */
#define WEB_SESSION_TOUCH   60      /* the last use is written at most once a minute */
#define WEB_SESSIONS_MAX    10000   /* files the sweep looks at, at most, per login */

struct session {
    char id[WEB_TOKEN_LEN + 1];     /* the cookie value */
    char csrf[WEB_TOKEN_LEN + 1];   /* the token every form of this session carries */
    char addr[ADDR_MAX + 1];        /* the member, or the administrator's domain; lower case */
    int admin;                      /* 1 a domain administrator */
    time_t last;                    /* last use */
    time_t created;
    time_t expires;                 /* min(last + WEB_SESSION_SECONDS, created + MAX) */
};

/* A fresh random token (32 bytes from getrandom in lower hex) into out[WEB_TOKEN_LEN + 1].
   0 ok, -1 errno. */
int session_token(char *out);
/* Make a session for addr (fresh id and CSRF token), written with O_EXCL, mode 0600.
   0 ok, -1 errno. */
int session_create(const char *root, const char *addr, int admin, time_t now, struct session *s);
/* The same with the id given (an administrator's, made by acctd: web_token_ok). */
int session_create_id(const char *root, const char *id, const char *addr, int admin, time_t now,
                      struct session *s);
/* ROOT/DIR/ and the SHA-256 of id in hex: where a session's file is (DIR "web/sessions" for
   the page's; acctd keeps its own record of an administrator's login elsewhere). 0 / -1. */
int session_path_in(const char *root, const char *dir, const char *id, char *out, size_t cap);
/* Load the session of cookie value id (checked: web_token_ok). 1 live (s filled), 0 none,
   malformed or expired (an expired file is removed when touch), -1 error (errno). With touch,
   a last use older than WEB_SESSION_TOUCH is moved to now (the file replaced by rename). */
int session_load(const char *root, const char *id, time_t now, int touch, struct session *s);
/* Remove every session of login (of its kind) but the one of keep_id (NULL: all): a member's
   other sessions once its password changed. 0 ok, -1 errno (the folder unreadable). */
int session_end_others(const char *root, const char *login, int admin, const char *keep_id);
/* Remove the session of id. 0 ok or absent, -1 errno. */
int session_delete(const char *root, const char *id);
/* Remove expired session files (at most WEB_SESSIONS_MAX looked at). */
void session_sweep(const char *root, time_t now);

#endif
