/* cfg.c: settings from the environment (s6-envdir etc/env) and the mail root */
#include "cfg.h"
#include "fd.h"
#include "limits.h"
#include "str.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *cfg_root(void)
{
    const char *r = getenv("YUBIN_ROOT");
    if (!r || r[0] != '/') {
        return NULL;
    }
    return r;
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
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t r = fd_read_full(fd, line, sizeof line - 1);
            close(fd);
            if (r > 0) {
                size_t n = 0;
                while (n < (size_t)r && line[n] != '\n' && line[n] != '\r') {
                    n++;
                }
                line[n] = '\0';
                if (me_ok(line, n)) {
                    return str_fmt(out, cap, "%s", line);
                }
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

unsigned long cfg_num(const char *name, unsigned long def)
{
    const char *v = getenv(name);
    uint64_t n;
    if (!v || str_to_u64(v, strlen(v), &n) < 0 || n > (unsigned long)-1) {
        return def;
    }
    return (unsigned long)n;
}

int cfg_flag(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] && strcmp(v, "0") != 0 && strcmp(v, "no") != 0;
}

int cfg_path(char *out, size_t cap, const char *root, const char *rel)
{
    return str_fmt(out, cap, "%s/%s", root, rel);
}
