/* cfg.h: settings from the environment (s6-envdir etc/env) and the mail root */
#ifndef YUBIN_CFG_H
#define YUBIN_CFG_H

#include <stddef.h>

/* $YUBIN_ROOT, or NULL if unset or not absolute. */
const char *cfg_root(void);
/* This host's name: $YUBIN_ME, else the first line of ROOT/etc/me, else gethostname().
   Copies into out (cap bytes); 0 ok, -1 if nothing usable. */
int cfg_me(char *out, size_t cap);
/* Unsigned integer setting; def if unset, empty or not a number. */
unsigned long cfg_num(const char *name, unsigned long def);
/* 1 if the variable is set to something other than "", "0", "no". */
int cfg_flag(const char *name);
/* out = ROOT "/" rel; 0 ok, -1 (ENAMETOOLONG) if it does not fit YUBIN_PATH_MAX-sized out. */
int cfg_path(char *out, size_t cap, const char *root, const char *rel);

#endif
