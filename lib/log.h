/* log.h: one line per event on stderr, sent by one write(): "PROG: LEVEL: text" */
#ifndef YUBIN_LOG_H
#define YUBIN_LOG_H

/* Name used as the line prefix; the pointer is kept (pass a string literal or argv[0]'s base). */
void log_init(const char *prog);
/* Lines longer than LOG_LINE_MAX are cut and end in "...". CR/LF in the text become '?'. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* fatal: log and exit with code; die_sys appends ": strerror(errno)". */
void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
void die_sys(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* warning with ": strerror(errno)" appended */
void log_warn_sys(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
