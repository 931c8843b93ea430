/* rate_bench: the cost per message of the sending counters (bench/rate.sh builds it) */
/* usage: rate_bench ROOT ACCOUNTS MESSAGES — for MESSAGES messages spread over ACCOUNTS
   accounts, does what smtpd does per message: rate_read at MAIL (open, read, close), then
   rate_open + rate_add + rate_store + close after the message is queued (open, flock, read,
   one pwrite). Prints the mean microseconds per message, then the same for the read alone. */
#include "rate.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e6 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e3;
}

int main(int argc, char **argv)
{
    struct timespec t0;
    struct rate_rec r;
    unsigned long accounts, n, i;
    char name[64];
    double all, rd;
    int fd;

    if (argc != 4) {
        fprintf(stderr, "usage: rate_bench ROOT ACCOUNTS MESSAGES\n");
        return 100;
    }
    accounts = strtoul(argv[2], NULL, 10);
    n = strtoul(argv[3], NULL, 10);
    if (accounts == 0 || n == 0) {
        return 100;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < n; i++) {
        snprintf(name, sizeof name, "user%lu@bench.test", i % accounts);
        if (rate_read(argv[1], name, 3600, &r) < 0
            || rate_open(argv[1], name, 3600, &fd, &r) < 0) {
            perror("rate_bench");
            return 111;
        }
        rate_add(&r, (unsigned long long)time(NULL), 1, 3);
        if (rate_store(fd, &r) < 0) {
            perror("rate_bench: store");
            return 111;
        }
        close(fd);
    }
    all = since(&t0) / (double)n;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < n; i++) {
        snprintf(name, sizeof name, "user%lu@bench.test", i % accounts);
        rate_read(argv[1], name, 3600, &r);
    }
    rd = since(&t0) / (double)n;
    printf("%.2f %.2f\n", all, rd);
    return 0;
}
