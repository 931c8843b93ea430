/* ratetab.h: ratesync's tables: name -> text, sorted by name, of at most max entries (what
   the node last put in etcd, the other nodes' records, what it last wrote into ratefleet/, the
   records that cannot be read) */
#ifndef YUBIN_RATETAB_H
#define YUBIN_RATETAB_H

#include <stddef.h>

struct ratetab_entry {
    char *name, *text;
};
struct ratetab {
    struct ratetab_entry *e;            /* malloc'd, n of cap used */
    size_t n, cap, max;
    const char *full;                   /* what a name past max means, for the log */
    int warned;                         /* that was logged */
};

/* Empty, of at most max entries; full: static text ("N accounts of ...: what follows"). */
void ratetab_init(struct ratetab *t, size_t max, const char *full);
/* The index of name, or where it would go (*found 0). */
size_t ratetab_pos(const struct ratetab *t, const char *name, int *found);
/* name's text (the table's), or NULL. */
const char *ratetab_get(const struct ratetab *t, const char *name);
/* Set name to text (copied), or remove it (text NULL). 0 ok; -1 ENOMEM, or E2BIG (max). */
int ratetab_set(struct ratetab *t, const char *name, const char *text);
/* ratetab_set, but a name that a full table has no room for is left out (logged once per
   table: "more than MAX FULL"). 0, or -1 out of memory. */
int ratetab_keep(struct ratetab *t, const char *name, const char *text);
/* Every entry freed; empty again (max, full and warned kept). */
void ratetab_free(struct ratetab *t);

#endif
