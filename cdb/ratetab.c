/* ratetab.c: ratesync's sorted, bounded tables of name -> text (ratetab.h) */
#include "ratetab.h"

#include "buf.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void ratetab_init(struct ratetab *t, size_t max, const char *full)
{
    memset(t, 0, sizeof *t);
    t->max = max;
    t->full = full;
}

/* The index of name, or where it would go (*found 0). */
size_t ratetab_pos(const struct ratetab *t, const char *name, int *found)
{
    size_t lo = 0, hi = t->n;
    *found = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(t->e[mid].name, name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

const char *ratetab_get(const struct ratetab *t, const char *name)
{
    int found;
    size_t i = ratetab_pos(t, name, &found);
    return found ? t->e[i].text : NULL;
}

/* Set name to text (copied), or remove it (text NULL). 0 ok, -1 ENOMEM, or E2BIG (max). */
int ratetab_set(struct ratetab *t, const char *name, const char *text)
{
    int found;
    size_t i = ratetab_pos(t, name, &found);
    char *copy = NULL, *key;
    if (text && !(copy = strdup(text))) {
        return -1;
    }
    if (found) {
        free(t->e[i].text);
        if (copy) {
            t->e[i].text = copy;
            return 0;
        }
        free(t->e[i].name);
        memmove(&t->e[i], &t->e[i + 1], (t->n - i - 1) * sizeof *t->e);
        t->n--;
        return 0;
    }
    if (!copy) {
        return 0;
    }
    if (buf_grow_array((void **)&t->e, &t->cap, t->n, sizeof *t->e, t->max) < 0
        || !(key = strdup(name))) {
        free(copy);
        return -1;
    }
    memmove(&t->e[i + 1], &t->e[i], (t->n - i) * sizeof *t->e);
    t->e[i].name = key;
    t->e[i].text = copy;
    t->n++;
    return 0;
}

/* ratetab_set, but a name that a full table has no room for is left out (said once per table):
   0, or -1 out of memory. */
int ratetab_keep(struct ratetab *t, const char *name, const char *text)
{
    if (ratetab_set(t, name, text) == 0) {
        return 0;
    }
    if (errno != E2BIG) {
        return -1;
    }
    if (!t->warned) {
        t->warned = 1;
        log_warn("more than %zu %s", t->max, t->full);
    }
    return 0;
}

void ratetab_free(struct ratetab *t)
{
    int warned = t->warned;
    size_t i;
    for (i = 0; i < t->n; i++) {
        free(t->e[i].name);
        free(t->e[i].text);
    }
    free(t->e);
    ratetab_init(t, t->max, t->full);
    t->warned = warned;     /* the bound is said once */
}
