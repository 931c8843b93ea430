/* session.h: the member page's server-side sessions, one file each in ROOT/web/sessions/
   (yubin-web only, 0700). The cookie carries a random id; the file is named by the SHA-256
   of the id, so a copy of the folder does not hand out live cookies. A session expires
   WEB_SESSION_SECONDS after the login whatever the browser keeps. */
#ifndef YUBIN_SESSION_H
#define YUBIN_SESSION_H

#include "limits.h"
#include "webparse.h"

#include <time.h>

#define WEB_SESSION_SECONDS 1800    /* 30 minutes from the login */
#define WEB_SESSIONS_MAX    10000   /* files the sweep looks at, at most, per login */

struct session {
    char id[WEB_TOKEN_LEN + 1];     /* the cookie value */
    char csrf[WEB_TOKEN_LEN + 1];   /* the token every form of this session carries */
    char addr[ADDR_MAX + 1];        /* the member, lower case */
    time_t expires;
};

/* A fresh random token (32 bytes from getrandom in lower hex) into out[WEB_TOKEN_LEN + 1].
   0 ok, -1 errno. */
int session_token(char *out);
/* Make a session for addr (fresh id and CSRF token), written with O_EXCL, mode 0600.
   0 ok, -1 errno. */
int session_create(const char *root, const char *addr, time_t now, struct session *s);
/* Load the session of cookie value id (checked: web_token_ok). 1 live (s filled), 0 none,
   malformed or expired (an expired file is removed), -1 error (errno). */
int session_load(const char *root, const char *id, time_t now, struct session *s);
/* Remove the session of id. 0 ok or absent, -1 errno. */
int session_delete(const char *root, const char *id);
/* Remove expired session files (at most WEB_SESSIONS_MAX looked at). */
void session_sweep(const char *root, time_t now);

#endif
