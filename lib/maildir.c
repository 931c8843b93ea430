/* maildir.c: creating a Maildir's tmp/ new/ cur/ */
#include "maildir.h"
#include "fd.h"
#include "limits.h"
#include "str.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

int maildir_create(const char *maildir, uid_t uid, gid_t gid)
{
    /* tmp/ last: a Maildir that has tmp/ has the others too, so deliver, which looks only for
       tmp/ (its file goes there first), finds a Maildir a crash left half-made and makes the
       rest */
    static const char *const sub[] = { "cur", "new", "tmp" };
    char path[YUBIN_PATH_MAX];
    size_t i;

    if (fd_mkdirs(maildir, 0700) < 0) {
        return -1;
    }
    for (i = 0; i < sizeof sub / sizeof sub[0]; i++) {
        if (str_fmt(path, sizeof path, "%s/%s", maildir, sub[i]) < 0) {
            return -1;
        }
        if (mkdir(path, 0700) < 0) {
            if (errno != EEXIST) {
                return -1;
            }
        } else if (uid != (uid_t)-1 && chown(path, uid, gid) < 0) {
            return -1;
        }
    }
    return 0;
}
