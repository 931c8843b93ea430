/* maps_bench: users.cdb lookup latency through lib/acct acct_user (bench/maps.sh builds it) */
/* usage: maps_bench ROOT DOMAINS USERS_PER_DOMAIN LOOKUPS — prints the mean microseconds per
   lookup of random existing accounts (each lookup opens, reads and closes users.cdb). */
#include "acct.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    struct timespec t0, t1;
    struct acct a;
    unsigned long domains, per, n, i, found = 0;
    unsigned seed = 12345;
    char addr[ADDR_MAX + 1];
    double us;

    if (argc != 5) {
        fprintf(stderr, "usage: maps_bench ROOT DOMAINS USERS_PER_DOMAIN LOOKUPS\n");
        return 100;
    }
    domains = strtoul(argv[2], NULL, 10);
    per = strtoul(argv[3], NULL, 10);
    n = strtoul(argv[4], NULL, 10);
    if (!domains || !per || !n) {
        return 100;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        snprintf(addr, sizeof addr, "user%lu@dom%lu.test", (unsigned long)(seed >> 8) % per,
                 (unsigned long)(seed >> 4) % domains);
        if (acct_user(argv[1], addr, &a) == 1) {
            found++;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    us = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) / n;
    printf("%.2f %lu\n", us, found);
    return found == n ? 0 : 111;
}
