/* ipc-call: runs a program behind a lib/ipcfd socket on our fds 0/1; any uid (tests, operators) */
/* Usage: ipc-call SOCKET PROG [ARG...]   e.g. ipc-call ROOT/run/deliver.sock deliver S R
   Exit: the program's exit code; 111 if the socket refused us, went away or never answered
   (a program that refuses our uid closes the connection without a word: lib/ipcfd). */
#include "exitcode.h"
#include "ipcfd.h"
#include "log.h"

#include <errno.h>
#include <unistd.h>

#define IPC_CALL_TIMEOUT 3600   /* seconds to wait for the program's status */

int main(int argc, char **argv)
{
    int s, code;

    log_init("ipc-call");
    if (argc < 3) {
        log_warn("usage: ipc-call SOCKET PROG [ARG...]");
        return EXIT_PERM;
    }
    s = ipcfd_call(argv[1], 0, 1, (const char *const *)(argv + 2));
    if (s < 0) {
        if (errno == EINVAL) {
            log_warn("too many or too long arguments (at most %d, %d bytes)", IPCFD_ARGS_MAX,
                     IPCFD_PAYLOAD_MAX);
            return EXIT_PERM;
        }
        if (errno == EPIPE || errno == ECONNRESET) {
            /* the server refused our uid and closed it before our request went out */
            log_warn("%s closed the connection: refused", argv[1]);
        } else {
            log_warn_sys("unable to connect to %s", argv[1]);
        }
        return EXIT_TEMP;
    }
    close(0);
    close(1);
    code = ipcfd_status(s, IPC_CALL_TIMEOUT);
    if (code < 0) {
        log_warn("no status from %s: refused, or the program was interrupted", argv[1]);
        return EXIT_TEMP;
    }
    return code;
}
