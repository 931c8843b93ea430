/* date.c: RFC 5322 §3.3 date-time with a numeric zone */
#include "date.h"

#include <stdio.h>

int date_rfc5322(time_t t, char *out, size_t cap)
{
    static const char *const day[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct tm tm;
    long off;
    int r;

    if (!localtime_r(&t, &tm)) {
        return -1;
    }
    off = tm.tm_gmtoff / 60;
    r = snprintf(out, cap, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld", day[tm.tm_wday],
                 tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, off < 0 ? '-' : '+', (off < 0 ? -off : off) / 60,
                 (off < 0 ? -off : off) % 60);
    return (r < 0 || (size_t)r >= cap) ? -1 : 0;
}
