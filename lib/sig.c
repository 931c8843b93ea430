/* sig.c: SIGTERM and SIGCHLD for a ppoll service loop (sig.h) */
#include "sig.h"

#include <string.h>

int sig_loop_setup(void (*handler)(int), sigset_t *old, sigset_t *wait)
{
    struct sigaction sa;
    sigset_t block, before;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGCHLD);
    if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGCHLD, &sa, NULL) < 0
        || sigprocmask(SIG_BLOCK, &block, &before) < 0) {
        return -1;
    }
    if (old) {
        *old = before;
    }
    *wait = before;
    sigdelset(wait, SIGTERM);
    sigdelset(wait, SIGCHLD);
    return 0;
}
