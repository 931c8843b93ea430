/* test_ipslot: per-IP session slots (lib/ipslot) */
#include "t.h"
#include "ipslot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* A listener's table: lowest slot first; ipslot_held sees any holder, the caller included. */
static void port_table(const char *dir)
{
    int s0 = ipslot_port_take(dir, "25", 3), s1 = ipslot_port_take(dir, "25", 3);
    int w1 = ipslot_port_open(dir, "25", 1), w2 = ipslot_port_open(dir, "25", 2);
    int other = ipslot_port_take(dir, "587", 3);
    T_CHECK(s0 >= 0 && s1 >= 0 && w1 >= 0 && w2 >= 0 && other >= 0, "port slots");
    T_EQ_INT(ipslot_held(w1), 1, "slot 1 is held (by this process)");
    T_EQ_INT(ipslot_held(w2), 0, "slot 2 is free");
    T_EQ_INT(ipslot_held(w2), 0, "testing does not take it");
    close(s0);
    s0 = ipslot_port_take(dir, "25", 3);
    T_CHECK(s0 >= 0, "a freed low slot is taken again");
    T_EQ_INT(ipslot_held(w2), 0, "... before any higher one");
    T_CHECK(ipslot_port_take(dir, "25", 3) >= 0, "third slot");
    T_EQ_INT(ipslot_held(w2), 1, "now slot 2 is held");
    T_EQ_INT(ipslot_port_take(dir, "25", 3), -2, "all three taken");
    errno = 0;
    T_EQ_INT(ipslot_port_take(dir, "../x", 3), -1, "a path is not a port");
    T_EQ_INT(errno, EINVAL, "EINVAL");
    T_EQ_INT(ipslot_port_open(dir, "123456", 0), -1, "six digits");
    T_EQ_INT(ipslot_port_open(dir, "", 0), -1, "empty port");
}

int main(void)
{
    char tmpl[] = "/tmp/test_ipslot.XXXXXX", cmd[128];
    const char *dir = mkdtemp(tmpl);
    int a, b, c, d;
    pid_t pid;

    if (!dir) {
        T_CHECK(0, "mkdtemp");
        return T_DONE();
    }
    a = ipslot_take(dir, "192.0.2.1", 2);
    b = ipslot_take(dir, "192.0.2.1", 2);
    c = ipslot_take(dir, "192.0.2.1", 2);
    T_CHECK(a >= 0 && b >= 0 && a != b, "two slots for one address");
    T_EQ_INT(c, -2, "a third is refused");
    d = ipslot_take(dir, "192.0.2.2", 2);
    T_CHECK(d >= 0, "another address has its own slots");
    close(a);
    c = ipslot_take(dir, "192.0.2.1", 2);
    T_CHECK(c >= 0, "a closed slot is free again");
    /* a slot held by another process (flock is per open file description) */
    pid = fork();
    if (pid == 0) {
        _exit(ipslot_take(dir, "192.0.2.1", 2) == -2 ? 0 : 1);
    }
    {
        int st = 0;
        waitpid(pid, &st, 0);
        T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "another process sees both slots taken");
    }
    errno = 0;
    T_EQ_INT(ipslot_take(dir, "../etc/passwd", 2), -1, "a path is not an address");
    T_EQ_INT(errno, EINVAL, "EINVAL");
    T_EQ_INT(ipslot_take(dir, "", 2), -1, "empty address");
    T_EQ_INT(ipslot_take("/nonexistent/dir", "192.0.2.1", 2), -1, "missing folder: error");
    T_EQ_INT(ipslot_take(dir, "2001:db8::1", 0), -2, "max 0: no slot");
    close(b);
    close(c);
    close(d);
    port_table(dir);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    T_CHECK(system(cmd) == 0, "cleanup");
    return T_DONE();
}
