/* test_ipslot: per-IP session slots (lib/ipslot) */
#include "t.h"
#include "ipslot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

/* The descriptor of a slot taken (ipslot_take / ipslot_port_take returned 1), else -1. */
static int take(const char *dir, const char *ip, unsigned long max)
{
    int fd;
    return ipslot_take(dir, ip, max, &fd) == 1 ? fd : -1;
}

static int port_take(const char *dir, const char *port, unsigned long max)
{
    int fd;
    return ipslot_port_take(dir, port, max, &fd) == 1 ? fd : -1;
}

/* A listener's table: lowest slot first; ipslot_held sees any holder, the caller included. */
static void port_table(const char *dir)
{
    int s0 = port_take(dir, "25", 3), s1 = port_take(dir, "25", 3);
    int w1 = ipslot_port_open(dir, "25", 1), w2 = ipslot_port_open(dir, "25", 2);
    int other = port_take(dir, "587", 3), fd = 0;
    T_CHECK(s0 >= 0 && s1 >= 0 && w1 >= 0 && w2 >= 0 && other >= 0, "port slots");
    T_EQ_INT(ipslot_held(w1), 1, "slot 1 is held (by this process)");
    T_EQ_INT(ipslot_held(w2), 0, "slot 2 is free");
    T_EQ_INT(ipslot_held(w2), 0, "testing does not take it");
    close(s0);
    s0 = port_take(dir, "25", 3);
    T_CHECK(s0 >= 0, "a freed low slot is taken again");
    T_EQ_INT(ipslot_held(w2), 0, "... before any higher one");
    T_CHECK(port_take(dir, "25", 3) >= 0, "third slot");
    T_EQ_INT(ipslot_held(w2), 1, "now slot 2 is held");
    T_EQ_INT(ipslot_port_take(dir, "25", 3, &fd), 0, "all three taken");
    T_EQ_INT(fd, -1, "no descriptor then");
    errno = 0;
    T_EQ_INT(ipslot_port_take(dir, "../x", 3, &fd), -1, "a path is not a port");
    T_EQ_INT(errno, EINVAL, "EINVAL");
    T_EQ_INT(ipslot_port_open(dir, "123456", 0), -1, "six digits");
    T_EQ_INT(ipslot_port_open(dir, "", 0), -1, "empty port");
}

static int exists(const char *dir, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* Every address leaves its files; a take sweeps those no session holds every 10 minutes (the
   time of DIR/.sweep), keeping held ones and the port tables. */
static void sweep_unheld(const char *dir)
{
    char mark[256];
    struct timeval old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
    int held = take(dir, "198.51.100.1", 2), gone = take(dir, "198.51.100.2", 2);
    int port = port_take(dir, "110", 2), fd;

    T_CHECK(held >= 0 && gone >= 0 && port >= 0, "slots for the sweep");
    close(gone);
    close(port);
    fd = take(dir, "198.51.100.3", 2);
    T_CHECK(exists(dir, "198.51.100.2.0"), "no sweep within 10 minutes of the last");
    close(fd);
    snprintf(mark, sizeof mark, "%s/.sweep", dir);
    T_EQ_INT(utimes(mark, old), 0, "the last sweep long ago");
    fd = take(dir, "198.51.100.4", 2);
    T_CHECK(fd >= 0, "a take after it");
    T_CHECK(!exists(dir, "198.51.100.2.0") && !exists(dir, "198.51.100.3.0"),
            "unheld per-address files removed");
    T_CHECK(exists(dir, "198.51.100.1.0"), "a held slot's file kept");
    T_CHECK(exists(dir, "198.51.100.4.0"), "the new take's file kept");
    T_CHECK(exists(dir, "port-110.0"), "the port table kept");
    T_EQ_INT(ipslot_take(dir, "198.51.100.1", 1, &(int){0}), 0, "the held slot still counts");
    close(held);
    close(fd);
}

/* An IPv6 client counts as its /64 (one home line's, which it may rotate through), an
   IPv4-mapped address as the IPv4 one: the key, and the slots the addresses share. */
static void ipv6_groups(const char *dir)
{
    static const struct { const char *in, *want; } keys[] = {
        { "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::_64" },
        { "2001:DB8:1:2::ffff", "2001:db8:1:2::_64" },
        { "::ffff:192.0.2.9", "192.0.2.9" },
        { "192.0.2.9", "192.0.2.9" },
        { "::1", "::_64" },
    };
    char key[IPSLOT_KEY_MAX + 1];
    size_t i;
    int a, b, c, d, e, fd = 0;
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        T_EQ_INT(ipslot_key(keys[i].in, key, sizeof key), 0, keys[i].in);
        T_EQ_STR(key, keys[i].want, keys[i].in);
    }
    errno = 0;
    T_EQ_INT(ipslot_key("2001:db8::/64", key, sizeof key), -1, "a '/' typed in is no address");
    T_EQ_INT(errno, EINVAL, "EINVAL");
    T_EQ_INT(ipslot_key("::1", key, 5), -1, "small buffer");

    a = take(dir, "2001:db8:1:2::1", 2);
    b = take(dir, "2001:db8:1:2:ffff:ffff:ffff:fffe", 2);
    T_CHECK(a >= 0 && b >= 0, "two addresses of one /64 take its two slots");
    T_EQ_INT(ipslot_take(dir, "2001:db8:1:2:1234::9", 2, &fd), 0,
             "a third address of that /64 finds them taken");
    T_CHECK(exists(dir, "2001:db8:1:2::_64.0") && exists(dir, "2001:db8:1:2::_64.1"),
            "the /64's files");
    T_CHECK(!exists(dir, "2001:db8:1:2::1.0") && !exists(dir, "2001:db8:1:2:1234::9.0"),
            "none per address of it");
    c = take(dir, "2001:db8:1:3::1", 2);
    T_CHECK(c >= 0, "the next /64 has its own");
    d = take(dir, "192.0.2.9", 2);
    e = take(dir, "::ffff:192.0.2.9", 2);
    T_CHECK(d >= 0 && e >= 0, "an IPv4 address, and the same as IPv4-mapped IPv6");
    T_EQ_INT(ipslot_take(dir, "::ffff:c000:209", 2, &fd), 0, "share one set of slots");
    close(a);
    close(b);
    close(c);
    close(d);
    close(e);
}

int main(void)
{
    char tmpl[] = "/tmp/test_ipslot.XXXXXX", cmd[128];
    const char *dir = mkdtemp(tmpl);
    int a, b, c, d, fd = 0;
    pid_t pid;

    if (!dir) {
        T_CHECK(0, "mkdtemp");
        return T_DONE();
    }
    a = take(dir, "192.0.2.1", 2);
    b = take(dir, "192.0.2.1", 2);
    c = ipslot_take(dir, "192.0.2.1", 2, &fd);
    T_CHECK(a >= 0 && b >= 0 && a != b, "two slots for one address");
    T_EQ_INT(c, 0, "a third is refused");
    T_EQ_INT(fd, -1, "with no descriptor");
    d = take(dir, "192.0.2.2", 2);
    T_CHECK(d >= 0, "another address has its own slots");
    close(a);
    c = take(dir, "192.0.2.1", 2);
    T_CHECK(c >= 0, "a closed slot is free again");
    /* a slot held by another process (flock is per open file description) */
    pid = fork();
    if (pid == 0) {
        _exit(ipslot_take(dir, "192.0.2.1", 2, &fd) == 0 ? 0 : 1);
    }
    {
        int st = 0;
        waitpid(pid, &st, 0);
        T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "another process sees both slots taken");
    }
    errno = 0;
    T_EQ_INT(ipslot_take(dir, "../etc/passwd", 2, &fd), -1, "a path is not an address");
    T_EQ_INT(errno, EINVAL, "EINVAL");
    T_EQ_INT(ipslot_take(dir, "", 2, &fd), -1, "empty address");
    T_EQ_INT(ipslot_take("/nonexistent/dir", "192.0.2.1", 2, &fd), -1, "missing folder: error");
    T_EQ_INT(ipslot_take(dir, "2001:db8::1", 0, &fd), 0, "max 0: no slot");
    close(b);
    close(c);
    close(d);
    ipv6_groups(dir);
    port_table(dir);
    sweep_unheld(dir);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    T_CHECK(system(cmd) == 0, "cleanup");
    return T_DONE();
}
