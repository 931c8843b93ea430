/* checkuser.c: the inbound tools give up root before they parse anything */
#include "inbound/checkuser.h"
#include "exitcode.h"
#include "log.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

void checkuser_become(void)
{
    struct passwd *pw;

    if (geteuid() != 0) {
        return;
    }
    pw = getpwnam(CHECK_USER);
    if (!pw) {
        pw = getpwnam("nobody");
    }
    if (!pw || pw->pw_uid == 0) {
        die(EXIT_TEMP, "unable to find the user %s (or nobody) to run as", CHECK_USER);
    }
    if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        die_sys(EXIT_TEMP, "unable to drop privileges to %s", pw->pw_name);
    }
    if (setuid(0) == 0) {
        die(EXIT_BUG, "still able to become root after dropping privileges");
    }
}
