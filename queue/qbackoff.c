/* qbackoff.c: the queue's retry schedule, QUEUE_BACKOFF (queue-run, mailq) */
#include "qbackoff.h"

#include <stdlib.h>

unsigned long qbackoff_cut(unsigned long seconds)
{
    return seconds > QBACKOFF_STEP_MAX ? QBACKOFF_STEP_MAX : seconds;
}

void qbackoff_parse(struct qbackoff *b, const char *s)
{
    b->n = 0;
    while (s && *s && b->n < QBACKOFF_STEPS_MAX) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);     /* ULONG_MAX when out of range: cut */
        if (end == s) {
            break;
        }
        b->step[b->n++] = v == 0 ? 1 : qbackoff_cut(v);
        if (*end != ',') {
            break;
        }
        s = end + 1;
    }
    if (b->n == 0) {
        qbackoff_parse(b, QBACKOFF_DEFAULT);
    }
}

time_t qbackoff_step(const struct qbackoff *b, unsigned count)
{
    size_t k = count == 0 ? 0 : count - 1;
    return (time_t)b->step[k < b->n ? k : b->n - 1];
}
