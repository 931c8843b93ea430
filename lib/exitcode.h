/* exitcode.h: the exit codes every yubin program uses (qmail's convention) */
#ifndef YUBIN_EXITCODE_H
#define YUBIN_EXITCODE_H

#define EXIT_DONE       0    /* done */
#define EXIT_PERM       100  /* permanent failure: bounce, 5xx, bad usage or configuration */
#define EXIT_TEMP       111  /* temporary failure: retry, 4xx, a failed system call */
#define EXIT_BUG        101  /* internal bug */

#endif
