/* dkimacct.c: mailacct's DKIM keys and DNS records (domain add, domain dkim); run by root */
#include "dkimacct.h"

#include "dkim.h"
#include "dkimkey.h"
#include "exitcode.h"
#include "fd.h"
#include "limits.h"
#include "log.h"
#include "cdb/sheet.h"
#include "str.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DKIM_USER "yubin-dkim"

/* As root, what mailacct writes under ROOT/dkim/ takes the owner of ROOT/dkim/ itself, which
   yubin-setup made: yubin-dkim (the signer), or the user everything runs as in a root set up
   without root. A ROOT/dkim/ made here goes to yubin-dkim when that user exists. */
static void give(const char *root, const char *path)
{
    char top[YUBIN_PATH_MAX];
    struct stat st;
    struct passwd *pw;
    if (geteuid() != 0) {
        return;
    }
    if (str_fmt(top, sizeof top, "%s/dkim", root) < 0 || stat(top, &st) < 0) {
        die_sys(EXIT_TEMP, "unable to stat %s/dkim", root);
    }
    if (st.st_uid == 0 && (pw = getpwnam(DKIM_USER)) != NULL) {
        st.st_uid = pw->pw_uid;
        st.st_gid = pw->pw_gid;
    }
    if (chown(path, st.st_uid, st.st_gid) < 0) {
        die_sys(EXIT_TEMP, "unable to chown %s", path);
    }
}

static void make_dir(const char *root, const char *path)
{
    if (mkdir(path, 0700) < 0 && errno != EEXIST) {
        die_sys(EXIT_TEMP, "unable to create %s", path);
    }
    give(root, path);
}

/* Write a new file (O_EXCL) 0600, fsync it, give it to the signer. */
static void write_new(const char *root, const char *path, const char *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        die_sys(EXIT_TEMP, "unable to create %s", path);
    }
    if (fd_write_all(fd, p, n) < 0 || fsync(fd) < 0 || close(fd) < 0) {
        int e = errno;
        unlink(path);
        errno = e;
        die_sys(EXIT_TEMP, "unable to write %s", path);
    }
    give(root, path);
}

static void path_of(char *out, size_t cap, const char *root, const char *domain,
                    const char *sel, const char *ext)
{
    char name[DKIM_SELECTOR_MAX + 8];
    if (str_fmt(name, sizeof name, "%s%s", sel, ext) < 0
        || dkimkey_path(out, cap, root, domain, name) < 0) {
        die(EXIT_PERM, "path too long for domain %s", domain);
    }
}

void dkimacct_rotate(const char *root, const char *domain)
{
    char dir[YUBIN_PATH_MAX], path[YUBIN_PATH_MAX], tmp[YUBIN_PATH_MAX];
    char sel[DKIM_SELECTOR_MAX + 1], pub[DKIMKEY_PUB_MAX], line[DKIM_SELECTOR_MAX + 2];
    struct buf pem;
    struct tm tm;
    time_t now = time(NULL);
    char c;

    if (!localtime_r(&now, &tm)) {
        die_sys(EXIT_TEMP, "unable to read the clock");
    }
    if (str_fmt(dir, sizeof dir, "%s/dkim", root) < 0) {
        die(EXIT_PERM, "mail root path too long");
    }
    make_dir(root, dir);
    if (dkimkey_path(dir, sizeof dir, root, domain, NULL) < 0) {
        die(EXIT_PERM, "path too long for domain %s", domain);
    }
    make_dir(root, dir);
    for (c = 'a'; c <= 'z'; c++) {
        struct stat st;
        char suffix[2] = { c == 'a' ? '\0' : c, '\0' };     /* y20261203, y20261203b, ... */
        str_fmt(sel, sizeof sel, "y%04d%02d%02d%s", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, suffix);
        path_of(path, sizeof path, root, domain, sel, ".key");
        if (stat(path, &st) < 0 && errno == ENOENT) {
            break;
        }
    }
    if (c > 'z') {
        die(EXIT_PERM, "26 keys made today for %s: remove some (mailacct domain dkim %s remove "
            "SELECTOR)", domain, domain);
    }
    buf_init(&pem, DKIMKEY_PEM_MAX);
    if (dkimkey_generate(&pem, pub, sizeof pub) < 0) {
        die_sys(EXIT_TEMP, "unable to make a DKIM key");
    }
    write_new(root, path, pem.s, pem.len);
    buf_wipe(&pem);
    path_of(path, sizeof path, root, domain, sel, ".pub");
    write_new(root, path, pub, strlen(pub));
    /* the switch: one rename of the selector file; dkim-sign reads it at every message */
    path_of(tmp, sizeof tmp, root, domain, "selector", ".tmp");
    unlink(tmp);
    str_fmt(line, sizeof line, "%s\n", sel);
    write_new(root, tmp, line, strlen(line));
    if (dkimkey_path(path, sizeof path, root, domain, "selector") < 0
        || rename(tmp, path) < 0 || fd_fsync_dir(dir) < 0) {
        die_sys(EXIT_TEMP, "unable to switch %s to selector %s", domain, sel);
    }
    printf("domain %s: DKIM selector %s made and signing (publish its record below)\n", domain,
           sel);
}

void dkimacct_remove(const char *root, const char *domain, const char *selector)
{
    char path[YUBIN_PATH_MAX], cur[DKIM_SELECTOR_MAX + 1];
    int r;
    if (!dkimkey_selector_ok(selector)) {
        die(EXIT_PERM, "invalid selector %s", selector);
    }
    r = dkimkey_current(root, domain, cur, sizeof cur);
    if (r < 0) {
        die_sys(EXIT_TEMP, "unable to read the selector of %s", domain);
    }
    if (r == 1 && strcmp(cur, selector) == 0) {
        die(EXIT_PERM, "selector %s signs %s now: make a new one first (mailacct domain dkim %s "
            "rotate)", selector, domain, domain);
    }
    path_of(path, sizeof path, root, domain, selector, ".key");
    if (unlink(path) < 0) {
        if (errno == ENOENT) {
            die(EXIT_PERM, "domain %s has no DKIM selector %s", domain, selector);
        }
        die_sys(EXIT_TEMP, "unable to remove %s", path);
    }
    path_of(path, sizeof path, root, domain, selector, ".pub");
    unlink(path);
    printf("domain %s: DKIM selector %s removed (its DNS record may go now)\n", domain, selector);
}

static int cmp_desc(const void *a, const void *b)
{
    return strcmp(*(char *const *)b, *(char *const *)a);
}

/* The selectors with a key, newest first (the names sort by date). */
static size_t selectors(const char *root, const char *domain, char sels[][DKIM_SELECTOR_MAX + 1],
                        size_t max)
{
    char dir[YUBIN_PATH_MAX];
    char *order[DKIMKEY_SELECTORS];
    char tmp[DKIMKEY_SELECTORS][DKIM_SELECTOR_MAX + 1];
    struct dirent *e;
    size_t n = 0, i;
    DIR *d;

    if (dkimkey_path(dir, sizeof dir, root, domain, NULL) < 0) {
        return 0;
    }
    d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) {
            return 0;
        }
        die_sys(EXIT_TEMP, "unable to list %s", dir);
    }
    while ((e = readdir(d)) != NULL && n < max && n < DKIMKEY_SELECTORS) {
        size_t len = strlen(e->d_name);
        if (len > 4 && len - 4 <= DKIM_SELECTOR_MAX && strcmp(e->d_name + len - 4, ".key") == 0) {
            memcpy(tmp[n], e->d_name, len - 4);
            tmp[n][len - 4] = '\0';
            if (dkimkey_selector_ok(tmp[n])) {
                order[n] = tmp[n];
                n++;
            }
        }
    }
    closedir(d);
    qsort(order, n, sizeof order[0], cmp_desc);
    for (i = 0; i < n; i++) {
        memcpy(sels[i], order[i], strlen(order[i]) + 1);
    }
    return n;
}

/* etc/spf (the fleet's sending addresses, "ip4:192.0.2.1 ip4:192.0.2.2"), else a:ME. */
static void spf_mechs(const char *root, char *out, size_t cap)
{
    char path[YUBIN_PATH_MAX], buf[MAP_LINE_MAX];
    const char *files[2] = { "spf", "me" };
    size_t f;
    for (f = 0; f < 2; f++) {
        char *line = buf;
        if (str_fmt(path, sizeof path, "%s/etc/%s", root, files[f]) < 0
            || fd_read_file(path, buf, sizeof buf) < 0) {
            continue;
        }
        while (line && *line) {     /* the first line that is not empty or a comment */
            char *nl = strchr(line, '\n');
            if (nl) {
                *nl = '\0';
            }
            line += strspn(line, " \t");
            if (*line && *line != '#') {
                str_fmt(out, cap, f == 0 ? "%s" : "a:%s", line);
                return;
            }
            line = nl ? nl + 1 : NULL;
        }
    }
    str_fmt(out, cap, "mx");
}

void dkimacct_show(const char *root, const char *domain)
{
    char sels[DKIMKEY_SELECTORS][DKIM_SELECTOR_MAX + 1], cur[DKIM_SELECTOR_MAX + 1];
    char path[YUBIN_PATH_MAX], pub[DKIMKEY_PUB_MAX], mechs[MAP_LINE_MAX], rua[ADDR_MAX + 1];
    struct buf dkim, spf, dmarc, out;
    struct sheet_dns s;
    size_t n, i;
    int r;

    r = dkimkey_current(root, domain, cur, sizeof cur);
    if (r < 0) {
        die_sys(EXIT_TEMP, "unable to read the selector of %s", domain);
    }
    buf_init(&dkim, SHEET_MAX);
    buf_init(&spf, SHEET_MAX);
    buf_init(&dmarc, SHEET_MAX);
    buf_init(&out, SHEET_MAX);
    n = selectors(root, domain, sels, DKIMKEY_SELECTORS);
    for (i = 0; i < n; i++) {
        path_of(path, sizeof path, root, domain, sels[i], ".pub");
        if (fd_read_file(path, pub, sizeof pub) < 0) {
            die_sys(EXIT_TEMP, "unable to read %s", path);
        }
        pub[strcspn(pub, "\n")] = '\0';
        if (dkimkey_record_dkim(&dkim, domain, sels[i], pub) < 0) {
            die_sys(EXIT_TEMP, "unable to format the records");
        }
    }
    spf_mechs(root, mechs, sizeof mechs);
    str_fmt(rua, sizeof rua, "postmaster@%s", domain);
    if (dkimkey_record_spf(&spf, domain, mechs) < 0
        || dkimkey_record_dmarc(&dmarc, domain, rua) < 0) {
        die_sys(EXIT_TEMP, "unable to format the records");
    }
    memset(&s, 0, sizeof s);
    s.domain = domain;
    s.selector = r == 1 ? cur : NULL;
    s.dkim = dkim.s ? dkim.s : "";
    s.spf = spf.s;
    s.dmarc = dmarc.s;
    if (sheet_dns_text(&s, &out) < 0 || fwrite(out.s, 1, out.len, stdout) != out.len) {
        die_sys(EXIT_TEMP, "unable to print the records");
    }
    buf_free(&dkim);
    buf_free(&spf);
    buf_free(&dmarc);
    buf_free(&out);
}
