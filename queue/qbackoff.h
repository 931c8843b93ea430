/* qbackoff.h: the queue's retry schedule (QUEUE_BACKOFF, docs/queue.md "Retries"): the seconds
   before a recipient's next try after N failed tries, and before the Nth round of a
   destination that is down. Read by queue-run (its schedule) and mailq (to show it). */
#ifndef YUBIN_QBACKOFF_H
#define YUBIN_QBACKOFF_H

#include <stddef.h>
#include <time.h>

#define QBACKOFF_STEPS_MAX  16
/* The longest step, and the longest of queue-run's other times in seconds (QUEUE_LIFETIME,
   QUEUE_WARN, QUEUE_SCAN, QUEUE_JOB_TIMEOUT, QUEUE_SIGN_WAIT): a longer one (a typo of 20
   digits, a sign) is cut to it (qbackoff_cut), so that "now plus a setting" stays far from the
   end of time_t and no setting turns negative as one. 30 days, past any QUEUE_LIFETIME worth
   having. */
#define QBACKOFF_STEP_MAX   (30UL * 86400)
#define QBACKOFF_DEFAULT    "60,300,900,1800,3600"

struct qbackoff {
    unsigned long step[QBACKOFF_STEPS_MAX];     /* seconds, 1 .. QBACKOFF_STEP_MAX */
    size_t n;                                   /* 1 .. QBACKOFF_STEPS_MAX */
};

/* s ("60,300,900": seconds, comma-separated, the last step repeats) into b: at most
   QBACKOFF_STEPS_MAX steps, a 0 taken as 1, one over QBACKOFF_STEP_MAX cut to it; the list ends
   at the first thing that is not a number followed by a comma. NULL, or no number at all: the
   default. Pure. */
void qbackoff_parse(struct qbackoff *b, const char *s);
/* seconds, or QBACKOFF_STEP_MAX when longer. Pure. */
unsigned long qbackoff_cut(unsigned long seconds);
/* The step for count (failed tries, or rounds found down): step[count - 1], the last one past
   the end; count 0 is the first step. */
time_t qbackoff_step(const struct qbackoff *b, unsigned count);

#endif
