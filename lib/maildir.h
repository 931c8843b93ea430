/* maildir.h: a Maildir's folders. deliver, pop3d, checkpw and the account tool (cdb/acctsys)
   all make a missing Maildir the same way, here. */
#ifndef YUBIN_MAILDIR_H
#define YUBIN_MAILDIR_H

#include <sys/types.h>

/* Create maildir (and each missing folder above it, mode 0700), then maildir/cur, new and tmp
   (mode 0700), in this order: tmp/ is made last, so a Maildir with tmp/ has all three.
   Folders already there are left as they are. With uid != (uid_t)-1 every folder this call
   creates below maildir (cur, new, tmp) is chowned to uid:gid. Nothing is fsynced (the
   caller does, where a crash must not lose the folders).
   0 ok; -1 errno (ENAMETOOLONG when a path exceeds YUBIN_PATH_MAX, or mkdir/chown's). */
int maildir_create(const char *maildir, uid_t uid, gid_t gid);

#endif
