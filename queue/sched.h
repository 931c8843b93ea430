/* sched.h: queue-run's state: loaded messages, running delivery jobs, and the scheduler.
   Internal to queue-run (queue-run.c: main loop; msgs.c: the message table; sched.c: jobs;
   notify.c: bounces, warnings, removal). Calls go one way: queue-run.c -> sched.c,
   notify.c -> msgs.c. */
#ifndef YUBIN_SCHED_H
#define YUBIN_SCHED_H

#include "buf.h"
#include "ipcfd.h"
#include "qbackoff.h"
#include "qdown.h"
#include "qfile.h"
#include "signcall.h"

#include <sys/types.h>
#include <time.h>

#define JOB_LOCAL_OUT_MAX   4096            /* deliver's reason line (one line) */
#define JOB_REMOTE_LINE_MAX 1100            /* "D " + 512-octet reply + slack, per recipient */
/* Recipients per remote job: what one lib/ipcfd request carries (IPCFD_ARGS_MAX), and the
   100 of RFC 5321 §4.5.3.1.8 a server must take in one transaction. */
#define QUEUE_JOB_RCPT_MAX  100
#define TMP_MAX_AGE         (36 * 3600)     /* queue/tmp garbage (qmail's 36 h) */
/* A destination that is down (struct qdown, queue/qdown.h): every recipient of a remote job
   deferred with "(#4.4.1)". Its mail waits without a job until the mark's `until`
   (QUEUE_BACKOFF's step for `rounds`); then one job tries while the rest sleep, and the others
   follow (QUEUE_DOMAIN_CONC, woken at once) once a server answered; a try that tells nothing
   (remote killed, a DNS or local failure) waits the same step again. A big receiver that is
   down costs one attempt a round, not one per queued message, and does not hold every remote
   slot while other destinations wait. The marks are kept in queue/down (each change
   written), so that a restart keeps them and mailq shows them. */

struct msg {
    char id[QID_BUF];
    struct qenv e;
    off_t body;                 /* offset of the message in mess/ID */
    struct qstate st;
    unsigned char *busy;        /* per recipient: in a running job */
    unsigned char *where;       /* per recipient: WHERE_* (looked up once per attempt) */
    time_t *next;               /* per recipient: earliest next attempt */
    time_t retry_at;            /* whole message: next try of a failed bounce/removal */
    time_t flushed;             /* the last `mailq flush` that covered it (0: none): a try
                                   before it waits for no backoff */
    int gone;                   /* mess/ID vanished (held or removed by the operator) */
    int reload;                 /* mailq wrote to state/ID while a job ran: read it again after */
    /* The D line that completed the message, kept back from state/ID (sched_record) while the
       message is removed in the next pass. quiet_text (malloc) holds quiet.text; NULL: none
       kept. msg_quiet_write puts the line in the file before anything reads the file again. */
    struct qline quiet;
    char *quiet_text;
    time_t wake;                /* asleep: when it next needs queue-run (msg_sleep_idle) */
    struct msg *link;
    struct msg *inext;          /* the next in its bucket of r->idx */
};

enum job_kind { JOB_LOCAL, JOB_REMOTE };   /* deliver: one recipient; remote: one domain's */
/* WHERE_HELD: a domain homed here and frozen by a move (docs/fleet.md): not delivered now */
enum { WHERE_UNKNOWN = 0, WHERE_LOCAL, WHERE_REMOTE, WHERE_HELD };

/* One delivery in flight, of either kind: a call over run/deliver.sock or run/remote.sock
   (lib/ipcfd) with the message on its fd 0 and the write end of our pipe on its fd 1. Its
   result is what came on the pipe plus the exit status on the connection; it ends when the
   status is in (or the connection ended without one). */
struct job {
    int sock;                   /* the connection; -1 = a free slot */
    int out;                    /* read end of the result pipe, -1 once at EOF */
    enum job_kind kind;
    struct msg *m;
    size_t *idx;                /* recipient indexes (local: 1; remote: one domain's) */
    size_t nidx;
    char domain[SMTP_DOMAIN_MAX + 1];
    struct ipcfd_answer answer; /* the status line read so far */
    struct buf text;            /* the result lines read so far (bounded) */
    time_t started;
};

struct runner {
    const char *root;
    char me[SMTP_DOMAIN_MAX + 1];
    struct msg *msgs;           /* loaded messages with something to do now, or a job; the
                                   order of delivery (oldest first, woken ones at the end) */
    struct msg *last;           /* the list's tail */
    struct msg *asleep;         /* messages that need nothing before their wake time */
    time_t asleep_min;          /* the earliest wake among them */
    size_t nmsgs;               /* both lists */
    struct msg **idx;           /* both lists by id: idxcap buckets (a power of 2), chained */
    size_t idxcap;
    struct job *jobs;           /* local_conc + remote_conc slots */
    size_t njobs;
    unsigned local_conc, remote_conc, domain_conc;
    unsigned local_busy, remote_busy;
    unsigned long lifetime, warn, scan_every, job_timeout;
    struct qbackoff backoff;    /* QUEUE_BACKOFF */
    time_t now;
    time_t flushed;             /* the last `mailq flush` (queue/flushed; 0: none): a message
                                   loaded later takes it as its own (struct msg flushed) */
    int stopping;
    struct qdown down[QUEUE_DOWN_MAX];  /* sched.c: destinations found down (queue/down) */
    size_t ndown;
    /* notify.c: dkim-sign failed to sign a notice; none asks it again before sign_retry_at
       (mailq flush clears it), and sign_why says what failed */
    time_t sign_retry_at;
    char sign_why[SIGNCALL_WHY_MAX];
    time_t sign_failing_since;  /* the first failure of the signer's current outage, or 0 */
    unsigned long sign_wait;    /* QUEUE_SIGN_WAIT: seconds of an outage after which notices
                                   leave unsigned rather than wait longer */
};

/* msgs.c: the message table */
int msg_index_init(struct runner *r);                   /* before any load; -1 no memory */
int msg_load(struct runner *r, const char *id);         /* 1 loaded, 0 skipped, -1 error */
struct msg *msg_find(struct runner *r, const char *id);
void msg_forget(struct runner *r, struct msg *m);
/* The operator's mailq wrote to state/ID (delete, release, retry): read the message again from
   its files and make it due now; while a job holds it, once the job is done. */
void msg_reload(struct runner *r, struct msg *m);
/* mailq's R<ID> (retry, delete, release): the message read from its files and due now. */
void msg_retry(struct runner *r, const char *id);
/* One line appended to state/ID (qstate_open, one O_APPEND write). 0 ok, -1 error (errno). */
int msg_append(struct runner *r, struct msg *m, const struct qline *l);
/* The D line kept back (m->quiet) written to state/ID, for a state file that will be read
   again: by a reload, by mailq and the next queue-run for a message held during its last
   delivery, by the next queue-run after a stop. 0 written or none kept, -1 error (logged). */
int msg_quiet_write(struct runner *r, struct msg *m);
void msg_quiet_write_all(struct runner *r);             /* every message's, before exiting */
int msg_busy(const struct msg *m);                      /* some recipient in a running job */
time_t msg_backoff(const struct runner *r, unsigned tries);   /* seconds before the next try */
/* The earliest time after now that something needs queue-run (a recipient's next try, a
   retry, a sleeper's wake), 0 for none. What is due now and did not start waits for a job
   to end (a slot, its destination's try), and a job's end wakes poll: not counted, so that
   such mail sleeps in poll instead of spinning it. */
time_t msg_next_due(const struct runner *r);
void msg_flush(struct runner *r, struct msg *only);     /* retry deferred now */
/* Messages with nothing due now, no job and no notice to send leave r->msgs for r->asleep, so
   that the walks of each loop turn (jobs to start, notices, the next wake) cost what is active,
   not the whole queue; msg_wake_due brings back those whose time came (the earliest next try,
   a failed removal's retry, the delay warning). */
void msg_sleep_idle(struct runner *r);
void msg_wake_due(struct runner *r);
/* The mark of a destination down that recipient i waits for (open, its domain marked), or
   NULL. */
const struct qdown *msg_rcpt_down(const struct runner *r, const struct msg *m, size_t i);
/* 1 if recipient i counts for the delay warning: deferred, or never tried while it waits for
   its destination that is down (notify.c maybe_warn; msg_wake keeps the warning's time). */
int msg_rcpt_delayed(const struct runner *r, const struct msg *m, size_t i);
/* The mark of domain went (a server answered): each open recipient of it that waits back on
   its own schedule (due now unless its own backoff is later), its message on the active
   list. */
void msg_wake_domain(struct runner *r, const char *domain);
/* The part after the last '@' of addr ("" without one). */
const char *rcpt_domain(const char *addr);
/* 1 local, 0 remote, 2 held (homed here, frozen), -1 cdb/domains.cdb could not be read
   (errno), -2 the home could not be read (fleethome_strerror(errno) says why: etc/fleet or a
   map) */
int rcpt_is_local(struct runner *r, const char *addr);
int msg_rcpt_local(struct runner *r, struct msg *m, size_t i);   /* cached rcpt_is_local */

/* sched.c: the jobs */
void sched_start_jobs(struct runner *r);
/* A job's pipe or connection is readable: take what came; finish the job once its status is
   in (or the connection ended without one: a temporary failure). */
void sched_job_read(struct runner *r, struct job *j);
void sched_give_up_overdue(struct runner *r);           /* QUEUE_JOB_TIMEOUT */
/* The marks of queue/down, at start (what cannot be read is logged: none is taken). */
void sched_down_load(struct runner *r);
void sched_down_now(struct runner *r);      /* mailq flush: each one's next try is now */
/* mailq retry ID: the next try of each destination down of m's open recipients is now (m
   NULL: none), so that m, due again, is that try (one job); its answer keeps the mark (renewed
   for its next round) or clears it, as after a flush. */
void sched_down_now_msg(struct runner *r, const struct msg *m);
void sched_down_expire(struct runner *r);   /* forget marks QDOWN_STALE past their time */
void sched_record(struct runner *r, struct msg *m, size_t i, char status, const char *text,
                  size_t len, int remote);

/* notify.c: a message's fate once no job holds it: bounce, delay warning, removal */
void notify_check(struct runner *r, struct msg *m);     /* bounce/warn/remove when due */
void notify_check_all(struct runner *r);

#endif
