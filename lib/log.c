/* log.c: single-write log lines on stderr for s6-log */
#include "log.h"
#include "limits.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *log_prog = "yubin";

void log_init(const char *prog)
{
    const char *slash = strrchr(prog, '/');
    log_prog = slash ? slash + 1 : prog;
}

static size_t log_put(char *line, size_t n, size_t cap, const char *s)
{
    size_t m = strlen(s);
    if (m > cap - n) {
        m = cap - n;
    }
    memcpy(line + n, s, m);
    return n + m;
}

static void log_line(const char *level, int err, const char *fmt, va_list ap)
{
    char line[LOG_LINE_MAX];
    char text[LOG_LINE_MAX];
    size_t cap = sizeof line - 1, n = 0, i, start;
    int r;

    r = vsnprintf(text, sizeof text, fmt, ap);
    if (r < 0) {
        return;
    }
    n = log_put(line, n, cap, log_prog);
    n = log_put(line, n, cap, ": ");
    n = log_put(line, n, cap, level);
    n = log_put(line, n, cap, ": ");
    start = n;
    n = log_put(line, n, cap, text);
    if (err) {
        n = log_put(line, n, cap, ": ");
        n = log_put(line, n, cap, strerror(err));
    }
    if (n == cap || (size_t)r >= sizeof text) {
        memcpy(line + cap - 3, "...", 3);
        n = cap;
    }
    for (i = start; i < n; i++) {
        if (line[i] == '\n' || line[i] == '\r' || line[i] == '\0') {
            line[i] = '?';
        }
    }
    line[n++] = '\n';
    while (write(2, line, n) < 0 && errno == EINTR) {
    }
}

#define LOG_FN(name, level, err)                 \
    void name(const char *fmt, ...)              \
    {                                            \
        va_list ap;                              \
        int saved = errno;                       \
        va_start(ap, fmt);                       \
        log_line(level, err ? saved : 0, fmt, ap); \
        va_end(ap);                              \
        errno = saved;                           \
    }

LOG_FN(log_info, "info", 0)
LOG_FN(log_warn, "warning", 0)
LOG_FN(log_debug, "debug", 0)
LOG_FN(log_warn_sys, "warning", 1)

void die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line("fatal", 0, fmt, ap);
    va_end(ap);
    _exit(code);
}

void die_sys(int code, const char *fmt, ...)
{
    va_list ap;
    int saved = errno;
    va_start(ap, fmt);
    log_line("fatal", saved, fmt, ap);
    va_end(ap);
    _exit(code);
}
