/* sig.h: the signals of a service loop that waits in ppoll: SIGTERM and SIGCHLD caught and
   kept blocked, except inside ppoll (so a flag set by the handler is never missed between the
   check and the wait) */
#ifndef YUBIN_SIG_H
#define YUBIN_SIG_H

#include <signal.h>

/* Catch SIGTERM and SIGCHLD with handler (SA_NOCLDSTOP) and block both. *old (if old is not
   NULL): the mask before; *wait: that mask without the two, for ppoll. 0, or -1 (errno). */
int sig_loop_setup(void (*handler)(int), sigset_t *old, sigset_t *wait);

#endif
