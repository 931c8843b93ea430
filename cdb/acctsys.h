/* acctsys.h: the system side of mailacct: Maildirs, the trash, passwords and their hashes */
#ifndef YUBIN_ACCTSYS_H
#define YUBIN_ACCTSYS_H

#include <stddef.h>

#define PASSWORD_RANDOM_LEN 12   /* 12 of 55 symbols: about 69 bits */
#define MBOX_USER "yubin-mbox"

/* Create ROOT/HOME/Maildir/{tmp,new,cur} (mode 0700; as root owned by yubin-mbox when that
   user exists). Existing directories are kept. 0 ok, -1 errno. */
int acctsys_maildir(const char *root, const char *home);
/* Move ROOT/HOME to ROOT/trash/ADDR.UNIXTIME (a ".N" suffix if taken); the path under ROOT
   goes to dest. 1 moved, 0 there was no mailbox, -1 errno. */
int acctsys_trash(const char *root, const char *addr, const char *home, char *dest, size_t cap);
/* A random password from getrandom(): letters and digits without look-alikes. 0 / -1. */
int acctsys_random_password(char *out, size_t cap);
/* 1 if pw is usable: 1..255 octets (RFC 4616), no control characters. */
int acctsys_password_ok(const char *pw);
/* crypt(3) hash of pw with a salt from getrandom(): "$6$" (sha512-crypt), or "$y$" (yescrypt)
   when YUBIN_HASH=yescrypt. 0 ok, -1 errno. */
int acctsys_hash(const char *pw, char *out, size_t cap);

#endif
