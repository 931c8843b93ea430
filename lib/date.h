/* date.h: RFC 5322 §3.3 date-time with a numeric zone, e.g. "Sat, 28 Nov 2026 19:20:06 +0000" */
#ifndef YUBIN_DATE_H
#define YUBIN_DATE_H

#include <stddef.h>
#include <time.h>

#define DATE_RFC5322_MAX 40

/* Format t in local time into out (cap >= DATE_RFC5322_MAX). 0 ok, -1 error. */
int date_rfc5322(time_t t, char *out, size_t cap);

#endif
