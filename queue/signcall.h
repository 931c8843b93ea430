/* signcall.h: one message DKIM-signed by dkim-sign over run/dkim.sock (lib/ipcfd), for the
   two programs of the queue uid that hand it mail: queue-inject (a customer's message, before
   its commit) and queue-run (the notices it writes itself). The crossing and the answer:
   docs/internals.md "dkim-sign"; what is signed and why there: docs/dkim.md. */
#ifndef YUBIN_SIGNCALL_H
#define YUBIN_SIGNCALL_H

#include "dkim.h"
#include "limits.h"

#include <stddef.h>
#include <time.h>

#define SIGNCALL_WHY_MAX    192     /* the sentence saying why a signing failed */
#define SIGNCALL_CHUNK      65536   /* octets of the spill file read and written at a time */

/* What dkim-sign answered, or why it could not. */
struct signcall {
    int code;                       /* its exit, enum dkim_sign_exit (0..3) when usable */
    char field[DKIM_SIG_MAX + 1];   /* DKIM_SIGN_OK: the DKIM-Signature field, folded, LF line
                                       ends, final LF, NUL-terminated; "" otherwise */
    size_t len;                     /* octets of field (0 unless signed) */
    char domain[SMTP_DOMAIN_MAX + 1];   /* signed: d=; not signed: the From domain dkim-sign
                                           named ("" for none, too long or unprintable) */
    char sel[DKIM_SELECTOR_MAX + 1];    /* signed: s= */
    char why[SIGNCALL_WHY_MAX];     /* after a failure: what failed, for the log (no "nothing
                                       queued": each caller says what follows) */
};

/* Take dkim-sign's exit code and its answer ans[0..n) (any octets) into s. Pure. 0 when the
   code is 0..3 and, for 0, ans is exactly one DKIM-Signature field ending in LF, without NUL,
   with d= and s= within their bounds (copied into s); -1 (errno EPROTO) otherwise, with
   s->why saying which ("the DKIM signer failed (exit N; see log/dkim)", "... answered no
   field", "... a malformed field"). A not-signed answer's first line is its domain. */
int signcall_answer(int code, const char *ans, size_t n, struct signcall *s);

/* Have dkim-sign at ROOT/run/dkim.sock sign the message mem[0..memlen) followed by, when
   spill >= 0, the file spill from offset 0 to its end (read with pread: its offset is not
   moved), as argv "dkim-sign" account sender. Waits at most until deadline (ipcfd_deadline:
   CLOCK_MONOTONIC seconds) in all; blocks only in connect(). The caller ignores SIGPIPE (the
   signer stops reading once it has decided not to sign). 0 with s filled as signcall_answer
   says (s->code 0..3); -1 with errno (ETIMEDOUT for the deadline, EPROTO for a bad answer)
   and s->why when nothing usable came: unreachable, failed, too slow or garbled. */
int signcall_sign(const char *root, const char *account, const char *sender, const char *mem,
                  size_t memlen, int spill, time_t deadline, struct signcall *s);

#endif
