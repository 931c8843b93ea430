/* edit.h: mailacct's editing session: the sources loaded under the lock, edited in memory,
   checked by compiling them, then written (sources, then cdbs); argument checks that refuse
   with one line and exit 100; output helpers. Every function exits on failure (die): 100 for
   a refusal, 111 for a system error. */
#ifndef YUBIN_EDIT_H
#define YUBIN_EDIT_H

#include "acct.h"
#include "buf.h"
#include "fleet.h"
#include "mapsio.h"
#include "sheet.h"

#include <stddef.h>

enum opt {
    OPT_PASSWORD = 1, OPT_RANDOM = 2, OPT_QUOTA = 4, OPT_FORCE = 8, OPT_PLAN = 16, OPT_HTML = 32,
    OPT_HOME = 64
};

struct args {
    const char *pos[4];
    int npos;
    unsigned seen;
    const char *password, *quota, *plan, *html, *home;
};

struct ctx {
    const char *root;
    int lock;
    struct maps_src src;
    struct maps *m;
    struct args a;
    int fleet;                  /* ROOT/etc/fleet exists: the maps live in etcd */
    struct fleet_conf fc;
    struct fleet_snap snap;     /* what edit_load read from etcd */
};

typedef void (*edit_hook_fn)(struct ctx *c, const void *arg);

/* Read and compile ROOT/etc; with write, hold the exclusive lock on etc/.lock first. In
   fleet mode, read the maps from etcd instead (etc/me stays local). */
void edit_load(struct ctx *c, int write);
/* Compile the edited sources (refuse with FILE:LINE: reason), run hook, write the sources
   named in files (bit 1 << maps_file), then every cdb; c->m becomes the new maps. In fleet
   mode, write the changed records to etcd in one guarded transaction instead, then wait for
   every live node's maps to reach that revision (a warning names the nodes still behind
   after etc/fleet's wait=, 10 s by default; the change stays committed). */
void edit_commit(struct ctx *c, unsigned files, edit_hook_fn hook, const void *arg);
/* Fleet mode: wait for every live node's maps to reach rev (0: nothing to wait for); a
   warning names the nodes still behind after the wait. */
void edit_fleet_wait(struct ctx *c, long long rev);
/* text[f] = text[0..start) + line "\n" (line NULL: nothing) + text[end..) */
void edit_splice(struct ctx *c, enum maps_file f, size_t start, size_t end, const char *line);
/* Append one line (a newline is added to an unterminated last line first). */
void edit_append(struct ctx *c, enum maps_file f, const char *line);
/* Replace (line) or delete (NULL) the line whose key is key; it must exist. */
void edit_replace(struct ctx *c, enum maps_file f, const char *key, const char *line);
/* Lower-case arg into out, its domain in A-labels if typed in Unicode (idna.h), and check it
   is a map address (refuse otherwise). */
void edit_addr(const char *arg, char *out, size_t cap);
/* The same for a domain. */
void edit_domain(const char *arg, char *out, size_t cap);
/* Whether name is a domain the server writes its own mail from (docs/dkim.md "The server's own
   mail"): EDIT_OWN_ME, this server's name (etc/me: MAILER-DAEMON@ of bounces, warnings and
   alerts), EDIT_OWN_ADMIN, the domain of the operator's address (etc/admin: From of the
   settings mail), or 0. */
enum { EDIT_OWN_ME = 1, EDIT_OWN_ADMIN = 2 };
int edit_own_mail_domain(const struct maps *m, const char *name);
/* Refuse unless the domain / plan / account exists; fill the struct. */
void edit_need_domain(const struct ctx *c, const char *domain, struct domain *d);
void edit_need_plan(const struct ctx *c, const char *plan, struct map_plan *p);
void edit_need_user(const struct ctx *c, const char *addr, struct acct *a, struct map_user *u);
/* The quota asked for, checked against the domain's plan (--force to exceed). */
void edit_quota(const char *size, int force, const struct domain *d, struct map_user *u);
/* Render an etc/users line. */
void edit_user_line(const struct map_user *u, char *out, size_t cap);
/* Write the whole buffer to fd. */
void edit_write(int fd, const struct buf *b);
/* This server's name as the sheets give it (etc/me, else the host's name, else localhost). */
void edit_me(const struct ctx *c, char *me, size_t mecap);
/* The settings sheet of account a (pw NULL: a reprint without the password). */
void edit_fill_sheet(const struct ctx *c, const struct acct *a, const char *pw, struct sheet *s,
                     char *me, size_t mecap);
void edit_print_sheet(const struct ctx *c, const struct acct *a, const char *pw);

#endif
