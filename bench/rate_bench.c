/* rate_bench: the cost per message of the sending counters (bench/rate.sh builds it) */
/* usage: rate_bench ROOT ACCOUNTS MESSAGES [fleet] — for MESSAGES messages spread over
   ACCOUNTS accounts, does what smtpd does per message: rate_read at MAIL (open, read, close),
   then rate_open + rate_add + rate_store + close after the message is queued (open, flock,
   read, one pwrite). With fleet, a fleet node's MAIL: also rate_fleet_read (the stat of
   ratefleet/.fresh, then open, read, close of the other nodes' sums, which ROOT/ratefleet/
   must hold: the bench writes them first, as ratesync would). Without it, rate_fleet_read
   finds no stamp (one failed stat), as on a single server. Prints the mean microseconds per
   message, then the same for the reads at MAIL alone. */
#include "rate.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e6 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e3;
}

/* The other nodes' sums of every account and a fresh stamp, as ratesync writes them. */
static int prepare_fleet(const char *root, unsigned long accounts)
{
    char name[64], path[4096];
    struct rate_rec r;
    unsigned long i;
    int fd;
    for (i = 0; i < accounts; i++) {
        snprintf(name, sizeof name, "user%lu@bench.test", i);
        if (rate_open_in(root, RATE_FLEET_DIR, name, 3600, &fd, &r) < 0) {
            return -1;
        }
        rate_add(&r, (unsigned long long)time(NULL), 2, 2);
        if (rate_store(fd, &r) < 0) {
            close(fd);
            return -1;
        }
        close(fd);
    }
    snprintf(path, sizeof path, "%s/%s/%s", root, RATE_FLEET_DIR, RATE_FLEET_FRESH);
    fd = open(path, O_WRONLY | O_CREAT, 0640);
    if (fd < 0) {
        return -1;
    }
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    struct timespec t0;
    struct rate_rec r, o;
    unsigned long accounts, n, i;
    char name[64];
    double all, rd;
    int fd, fleet = argc == 5 && strcmp(argv[4], "fleet") == 0;

    if (argc != 4 && !fleet) {
        fprintf(stderr, "usage: rate_bench ROOT ACCOUNTS MESSAGES [fleet]\n");
        return 100;
    }
    accounts = strtoul(argv[2], NULL, 10);
    n = strtoul(argv[3], NULL, 10);
    if (accounts == 0 || n == 0) {
        return 100;
    }
    if (fleet && prepare_fleet(argv[1], accounts) < 0) {
        perror("rate_bench: ratefleet");
        return 111;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < n; i++) {
        snprintf(name, sizeof name, "user%lu@bench.test", i % accounts);
        if (rate_read(argv[1], name, 3600, &r) < 0
            || rate_fleet_read(argv[1], name, 3600, (uint64_t)time(NULL), &o, NULL) < 0
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
        rate_fleet_read(argv[1], name, 3600, (uint64_t)time(NULL), &o, NULL);
    }
    rd = since(&t0) / (double)n;
    printf("%.2f %.2f\n", all, rd);
    return 0;
}
