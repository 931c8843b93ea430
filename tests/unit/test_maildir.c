/* test_maildir: creating a Maildir (lib/maildir.c): parents, tmp/new/cur, idempotence,
   ownership, and the path bound exactly at and one past YUBIN_PATH_MAX */
#include "t.h"
#include "limits.h"
#include "maildir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_dir(const char *base, const char *sub, mode_t *mode, uid_t *uid)
{
    char p[2 * YUBIN_PATH_MAX];
    struct stat st;
    snprintf(p, sizeof p, "%s%s", base, sub);
    if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode)) {
        return 0;
    }
    if (mode) {
        *mode = st.st_mode & 07777;
    }
    if (uid) {
        *uid = st.st_uid;
    }
    return 1;
}

/* A path of exactly len octets below dir: dir, then "/" and 'a' components of 200 at most. */
static void long_path(char *out, const char *dir, size_t len)
{
    size_t n = strlen(dir);
    memcpy(out, dir, n);
    while (n < len) {
        size_t k = len - n - 1 > 200 ? 200 : len - n - 1;
        if (k == 0) {           /* never end in "/": lengthen the last component */
            out[n++] = 'b';
            continue;
        }
        out[n++] = '/';
        memset(out + n, 'a', k);
        n += k;
    }
    out[n] = '\0';
}

int main(void)
{
    char tmpl[] = "/tmp/test_maildir.XXXXXX", md[2 * YUBIN_PATH_MAX], cmd[2 * YUBIN_PATH_MAX + 8];
    const char *dir = mkdtemp(tmpl);
    mode_t mode = 0;
    uid_t uid = 0;

    if (!dir) {
        T_CHECK(0, "mkdtemp");
        return T_DONE();
    }
    umask(022);
    snprintf(md, sizeof md, "%s/example.test/demo/Maildir", dir);
    T_EQ_INT(maildir_create(md, (uid_t)-1, (gid_t)-1), 0, "create with missing parents");
    T_CHECK(is_dir(md, "", &mode, NULL) && mode == 0700, "Maildir itself 0700");
    T_CHECK(is_dir(md, "/tmp", &mode, NULL) && mode == 0700, "tmp/ 0700");
    T_CHECK(is_dir(md, "/new", &mode, NULL) && mode == 0700, "new/ 0700");
    T_CHECK(is_dir(md, "/cur", &mode, NULL) && mode == 0700, "cur/ 0700");
    T_EQ_INT(maildir_create(md, (uid_t)-1, (gid_t)-1), 0, "a second call finds it all there");
    snprintf(cmd, sizeof cmd, "%s/cur", md);
    rmdir(cmd);
    T_CHECK(!is_dir(md, "/cur", NULL, NULL), "cur/ removed");
    T_EQ_INT(maildir_create(md, (uid_t)-1, (gid_t)-1), 0, "a missing cur/ alone is made");
    T_CHECK(is_dir(md, "/cur", NULL, NULL), "cur/ back");

    if (geteuid() == 0) {
        snprintf(md, sizeof md, "%s/owned/Maildir", dir);
        T_EQ_INT(maildir_create(md, 4242, 4242), 0, "create owned");
        T_CHECK(is_dir(md, "/new", NULL, &uid) && uid == 4242, "new/ chowned");
        T_CHECK(is_dir(md, "", NULL, &uid) && uid == 0, "the Maildir itself is the caller's");
    }

    /* "<maildir>/tmp" must fit YUBIN_PATH_MAX with its NUL */
    long_path(md, dir, YUBIN_PATH_MAX - 1 - 4);
    T_EQ_INT(strlen(md), YUBIN_PATH_MAX - 5, "longest Maildir path built");
    T_EQ_INT(maildir_create(md, (uid_t)-1, (gid_t)-1), 0, "longest Maildir path works");
    T_CHECK(is_dir(md, "/cur", NULL, NULL), "its cur/ exists");
    long_path(md, dir, YUBIN_PATH_MAX - 4);
    errno = 0;
    T_EQ_INT(maildir_create(md, (uid_t)-1, (gid_t)-1), -1, "one octet longer is refused");
    T_EQ_INT(errno, ENAMETOOLONG, "as ENAMETOOLONG");

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    T_CHECK(system(cmd) == 0, "cleanup");
    return T_DONE();
}
