/* clock.h: the monotonic clock in milliseconds, for deadlines and waits (never the date) */
#ifndef YUBIN_CLOCK_H
#define YUBIN_CLOCK_H

long long clock_ms(void);

#endif
