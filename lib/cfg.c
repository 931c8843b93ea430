/* cfg.c: settings from the environment (s6-envdir etc/env) and the mail root */
#include "cfg.h"
#include "exitcode.h"
#include "fd.h"
#include "limits.h"
#include "log.h"
#include "str.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *cfg_root(void)
{
    const char *r = getenv("YUBIN_ROOT");
    if (!r || r[0] != '/') {
        return NULL;
    }
    return r;
}

/* The root recorded in DIR/.yubin-root beside /proc/self/exe: 1 found, 0 none, -1 error. */
static int root_recorded(char *out, size_t cap)
{
    char exe[YUBIN_PATH_MAX], path[YUBIN_PATH_MAX], line[YUBIN_PATH_MAX + 1];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash;
    struct stat st;
    size_t len;

    if (n <= 0 || n >= (ssize_t)sizeof exe - 1) {
        return 0;
    }
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (!slash) {
        return 0;
    }
    *slash = '\0';
    if (str_fmt(path, sizeof path, "%s/%s", exe, CFG_ROOT_RECORD) < 0) {
        return 0;
    }
    n = fd_read_file(path, line, sizeof line);
    if (n <= 0) {
        return 0;
    }
    len = strcspn(line, "\n");
    if (len == (size_t)n && n == (ssize_t)sizeof line - 1) {
        return 0;   /* longer than any root we accept */
    }
    line[len] = '\0';
    if (line[0] != '/' || stat(line, &st) < 0 || !S_ISDIR(st.st_mode)) {
        return 0;
    }
    return str_fmt(out, cap, "%s", line) < 0 ? -1 : 1;
}

int cfg_root_find(char *out, size_t cap, const char *given)
{
    const char *r = given && given[0] ? given : cfg_root();

    if (r) {
        return str_fmt(out, cap, "%s", r) < 0 ? -1 : 1;
    }
    return root_recorded(out, cap);
}

void cfg_root_need(char *out, size_t cap, const char *given)
{
    int found = cfg_root_find(out, cap, given);
    if (found < 0) {
        die_sys(EXIT_PERM, "unable to use the mail root");
    }
    if (found == 0) {
        die(EXIT_PERM, CFG_NO_ROOT);
    }
}

static int me_ok(const char *s, size_t n)
{
    return n > 0 && n <= SMTP_DOMAIN_MAX && !str_has_ctl(s, n) && !memchr(s, ' ', n);
}

int cfg_me(char *out, size_t cap)
{
    const char *e = getenv("YUBIN_ME");
    const char *root = cfg_root();
    char path[YUBIN_PATH_MAX];
    char line[SMTP_DOMAIN_MAX + 2];

    if (e && me_ok(e, strlen(e))) {
        return str_fmt(out, cap, "%s", e);
    }
    if (root && cfg_path(path, sizeof path, root, "etc/me") == 0) {
        if (fd_read_file(path, line, sizeof line) > 0) {
            size_t n = strcspn(line, "\r\n");
            line[n] = '\0';
            if (me_ok(line, n)) {
                return str_fmt(out, cap, "%s", line);
            }
        }
    }
    if (gethostname(line, sizeof line) == 0) {
        line[sizeof line - 1] = '\0';
        if (me_ok(line, strlen(line))) {
            return str_fmt(out, cap, "%s", line);
        }
    }
    return -1;
}

int cfg_admin(const char *root, char *out, size_t cap)
{
    static const char *const from[] = { "cdb/admin", "etc/admin" };
    char path[YUBIN_PATH_MAX], line[ADDR_MAX + 2];
    size_t i, n;

    for (i = 0; i < sizeof from / sizeof from[0]; i++) {
        if (cfg_path(path, sizeof path, root, from[i]) < 0
            || fd_read_file(path, line, sizeof line) <= 0) {
            continue;
        }
        n = strcspn(line, "\r\n");
        while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t')) {
            n--;
        }
        line[n] = '\0';
        if (n > 0 && n <= ADDR_MAX && !str_has_ctl(line, n) && strchr(line, '@')
            && !strchr(line, ' ') && !strchr(line, '\t')) {
            return str_fmt(out, cap, "%s", line);
        }
    }
    return -1;
}

static unsigned long num_or(const char *v, unsigned long def)
{
    uint64_t n;
    if (!v || str_to_u64(v, strlen(v), &n) < 0 || n > (unsigned long)-1) {
        return def;
    }
    return (unsigned long)n;
}

unsigned long cfg_num(const char *name, unsigned long def)
{
    return num_or(getenv(name), def);
}

unsigned long cfg_setting_num(const char *root, const char *name, unsigned long def)
{
    char buf[32];       /* a number longer than this is no number: def, as cfg_num's */
    return num_or(cfg_setting(root, name, buf, sizeof buf), def);
}

enum cfg_fit cfg_num_max(const char *name, unsigned long def, unsigned long max,
                         unsigned long *out)
{
    const char *v = getenv(name);
    size_t n = v ? strlen(v) : 0;
    uint64_t x;

    *out = def;
    if (n == 0) {
        return CFG_FIT_OK;
    }
    while (n > 1 && v[0] == '0') {      /* leading zeros: not a longer number */
        v++;
        n--;
    }
    if (str_to_u64(v, n, &x) < 0) {
        /* only digits, and still no uint64_t: a number too long to hold */
        if (strspn(v, "0123456789") != n) {
            return CFG_FIT_DEFAULT;
        }
        *out = max;
        return CFG_FIT_CUT;
    }
    if (x == 0) {
        return CFG_FIT_DEFAULT;
    }
    if (x > max) {
        *out = max;
        return CFG_FIT_CUT;
    }
    *out = (unsigned long)x;
    return CFG_FIT_OK;
}

int cfg_flag(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] && strcmp(v, "0") != 0 && strcmp(v, "no") != 0;
}

const char *cfg_setting(const char *root, const char *name, char *buf, size_t cap)
{
    const char *v = getenv(name);
    char path[YUBIN_PATH_MAX];

    if (v) {
        return v[0] && str_fmt(buf, cap, "%s", v) == 0 ? buf : NULL;
    }
    if (!root || str_fmt(path, sizeof path, "%s/etc/env/%s", root, name) < 0
        || fd_read_file(path, buf, cap) <= 0) {
        return NULL;
    }
    buf[strcspn(buf, "\n")] = '\0';
    return buf[0] ? buf : NULL;
}

int cfg_path(char *out, size_t cap, const char *root, const char *rel)
{
    return str_fmt(out, cap, "%s/%s", root, rel);
}
