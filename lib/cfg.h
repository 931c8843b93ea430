/* cfg.h: settings from the environment (s6-envdir etc/env) and the mail root */
#ifndef YUBIN_CFG_H
#define YUBIN_CFG_H

#include <stddef.h>

/* $YUBIN_ROOT, or NULL if unset or not absolute. */
const char *cfg_root(void);

/* The file, in the folder of the programs, where yubin-setup records the root it set up. */
#define CFG_ROOT_RECORD ".yubin-root"
/* What an operator tool says when cfg_root_find finds nothing. */
#define CFG_NO_ROOT "no mail root: give --root DIR or set YUBIN_ROOT (or set one up with " \
    "yubin-setup ROOT, which records it beside the programs)"
/* The mail root an operator tool acts on, in this order: given (--root, may be NULL), else
   $YUBIN_ROOT (absolute), else the root yubin-setup recorded beside the running program: the
   first line of DIR/.yubin-root, DIR being the folder of /proc/self/exe, if it names an
   absolute path that is a folder. Copies the root into out (cap bytes, at most
   YUBIN_PATH_MAX); returns 1 found, 0 none, -1 error (ENAMETOOLONG: does not fit out). */
int cfg_root_find(char *out, size_t cap, const char *given);
/* cfg_root_find for an operator tool: the root into out, or the tool ends (exit 100) with
   CFG_NO_ROOT, or with why the root cannot be used. */
void cfg_root_need(char *out, size_t cap, const char *given);
/* This host's name: $YUBIN_ME, else the first line of ROOT/etc/me, else gethostname().
   Copies into out (cap bytes); 0 ok, -1 if nothing usable. */
int cfg_me(char *out, size_t cap);
/* The operator's address, where the server's own mail to the operator goes (double bounces,
   the sending-limit alerts): the first line of ROOT/cdb/admin, which mkmaps, or mapsync in a
   fleet, writes with the maps from etc/admin or the directory's admin record; else the first
   line of ROOT/etc/admin (maps compiled before cdb/admin existed). Copied into out (cap
   bytes); 0 ok, -1 none (or not one address of at most ADDR_MAX octets). */
int cfg_admin(const char *root, char *out, size_t cap);
/* Unsigned integer setting; def if unset, empty or not a number. */
unsigned long cfg_num(const char *name, unsigned long def);
/* How cfg_num_max found a setting. */
enum cfg_fit {
    CFG_FIT_OK,         /* unset or empty (def), or a number in 1..max */
    CFG_FIT_DEFAULT,    /* 0, or not a number: def */
    CFG_FIT_CUT         /* a number above max, however many digits it has: max */
};
/* A count in 1..max (def in 1..max), read as cfg_num reads a number, into *out: def when the
   variable is unset or empty, or 0 or not a number; max when above it (also past what a
   uint64_t holds). Says which, for the caller's log line (library code prints nothing). */
enum cfg_fit cfg_num_max(const char *name, unsigned long def, unsigned long max,
                         unsigned long *out);
/* 1 if the variable is set to something other than "", "0", "no". */
int cfg_flag(const char *name);
/* A setting as text, wherever the program runs: $NAME (a service: s6-envdir put etc/env in its
   environment), else the first line of ROOT/etc/env/NAME (an operator tool; root may be NULL).
   Copied into buf[cap] without its newline; buf, or NULL when unset, empty or too long. */
const char *cfg_setting(const char *root, const char *name, char *buf, size_t cap);
/* cfg_num of cfg_setting: a number setting read by an operator tool as the services read it
   (mailacct showing what acctd applies). */
unsigned long cfg_setting_num(const char *root, const char *name, unsigned long def);
/* out = ROOT "/" rel; 0 ok, -1 (ENAMETOOLONG) if it does not fit YUBIN_PATH_MAX-sized out. */
int cfg_path(char *out, size_t cap, const char *root, const char *rel);

#endif
