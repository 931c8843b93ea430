/* audit.c: append a line to ROOT/log/audit; who the operator is (audit.h) */
#include "audit.h"
#include "fd.h"
#include "limits.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int audit_open(const char *root)
{
    char path[YUBIN_PATH_MAX];
    struct group *g;
    int fd, tries, grouped;

    if (str_fmt(path, sizeof path, "%s/log/audit", root) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (tries = 0; tries < 2; tries++) {   /* a rotation between the two opens: once more */
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd >= 0) {
            /* made now (the first line, or the first after a rotation): the operators'
               group reads it, as yubin-setup left the one before; if that fails, root
               alone reads it until yubin-setup runs again, and the line is still kept */
            g = geteuid() == 0 ? getgrnam(AUDIT_GROUP) : NULL;
            grouped = g ? fchown(fd, 0, g->gr_gid) : -1;
            (void)grouped;
            return fd;
        }
        if (errno != EEXIST) {
            return -1;
        }
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0 || errno != ENOENT) {
            return fd;
        }
    }
    return -1;
}

int audit_write(int fd, const char *fields)
{
    char line[AUDIT_LINE_MAX];
    struct timespec now;
    struct tm tm;
    int n;

    if (clock_gettime(CLOCK_REALTIME, &now) < 0) {
        return -1;
    }
    if (!gmtime_r(&now.tv_sec, &tm)) {
        errno = EOVERFLOW;
        return -1;
    }
    n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 now.tv_nsec / 1000, fields);
    if (n < 0) {
        return -1;
    }
    if ((size_t)n >= sizeof line - 1) {
        n = (int)sizeof line - 2;       /* cut: the newline still ends it */
    }
    line[n++] = '\n';
    if (fd_write_all(fd, line, (size_t)n) < 0 || fsync(fd) < 0) {
        return -1;
    }
    return 0;
}

int audit_append(const char *root, const char *fields)
{
    int fd = audit_open(root), e;

    if (fd < 0) {
        return -1;
    }
    if (audit_write(fd, fields) < 0) {
        e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return close(fd);
}

void audit_safe(const char *s, char *out, size_t cap)
{
    size_t i;

    if (cap == 0) {
        return;
    }
    for (i = 0; s && s[i] && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c > 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[i] = '\0';
    if (i == 0 && cap > 1) {
        out[0] = '-';
        out[1] = '\0';
    }
}

void audit_operator(char *who, size_t wcap, char *ip, size_t icap)
{
    const char *s = getenv("SUDO_USER");
    const char *ssh = getenv("SSH_CLIENT");
    struct passwd *pw = NULL;
    char tmp[AUDIT_IP_MAX + 1];
    size_t n = ssh ? strcspn(ssh, " ") : 0;

    if (!s || !s[0]) {
        pw = getpwuid(getuid());
        s = pw ? pw->pw_name : "root";
    }
    audit_safe(s, who, wcap < AUDIT_WHO_MAX + 1 ? wcap : AUDIT_WHO_MAX + 1);
    if (n == 0 || n >= sizeof tmp) {
        n = 0;
    }
    memcpy(tmp, ssh ? ssh : "", n);
    tmp[n] = '\0';
    (void)str_fmt(ip, icap, "%s", n && str_ip_text_ok(tmp) ? tmp : "local");
}
