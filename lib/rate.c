/* rate.c: sending counters of one account or client IP in ROOT/rate/NAME (see rate.h) */
#include "rate.h"
#include "fd.h"
#include "limits.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define RATE_MAGIC 0x79726131UL     /* "yra1" */
#define RATE_FILE  (2 * sizeof(struct rate_rec))


void rate_init(struct rate_rec *r, unsigned long window)
{
    if (window < RATE_WINDOW_MIN) {
        window = RATE_WINDOW_MIN;
    }
    if (window > RATE_WINDOW_MAX) {
        window = RATE_WINDOW_MAX;
    }
    memset(r, 0, sizeof *r);
    r->magic = RATE_MAGIC;
    r->slot_secs = (uint32_t)(window / RATE_FINE_SLOTS);
}

unsigned long rate_window(const struct rate_rec *r)
{
    return (unsigned long)r->slot_secs * RATE_FINE_SLOTS;
}

static void slot_add(struct rate_slot *s, uint64_t no, unsigned msgs, unsigned rcpts)
{
    if (s->no != no) {
        s->no = no;
        s->msgs = 0;
        s->rcpts = 0;
    }
    /* saturate: a counter never wraps to a small number */
    s->msgs = s->msgs > UINT32_MAX - msgs ? UINT32_MAX : s->msgs + msgs;
    s->rcpts = s->rcpts > UINT32_MAX - rcpts ? UINT32_MAX : s->rcpts + rcpts;
}

void rate_add(struct rate_rec *r, uint64_t now, unsigned msgs, unsigned rcpts)
{
    uint64_t fine = now / r->slot_secs, win = now / rate_window(r);
    /* slot numbers are stored + 1, so that an empty slot (0) is never current */
    slot_add(&r->fine[fine % RATE_FINE_SLOTS], fine + 1, msgs, rcpts);
    slot_add(&r->day[win % RATE_DAY_SLOTS], win + 1, msgs, rcpts);
}

/* Sum of the slots whose number is in (cur - n, cur]. */
static struct rate_sum sum(const struct rate_slot *s, size_t count, uint64_t cur, uint64_t n)
{
    struct rate_sum t = { 0, 0 };
    size_t i;
    for (i = 0; i < count; i++) {
        if (s[i].no != 0 && s[i].no <= cur && s[i].no + n > cur) {
            t.msgs += s[i].msgs;
            t.rcpts += s[i].rcpts;
        }
    }
    return t;
}

struct rate_sum rate_recent(const struct rate_rec *r, uint64_t now, unsigned long secs)
{
    uint64_t n = (secs + r->slot_secs - 1) / r->slot_secs;
    if (n > RATE_FINE_SLOTS) {
        n = RATE_FINE_SLOTS;
    }
    if (n == 0) {
        n = 1;
    }
    return sum(r->fine, RATE_FINE_SLOTS, now / r->slot_secs + 1, n);
}

struct rate_sum rate_day(const struct rate_rec *r, uint64_t now)
{
    return sum(r->day, RATE_DAY_SLOTS, now / rate_window(r) + 1, RATE_DAY_SLOTS);
}

uint64_t rate_day_no(const struct rate_rec *r, uint64_t now)
{
    return now / (rate_window(r) * RATE_DAY_SLOTS) + 1;
}

static int copy_ok(const struct rate_rec *c, unsigned long window)
{
    return c->magic == RATE_MAGIC && c->check == str_fnv64(c, offsetof(struct rate_rec, check))
           && c->slot_secs != 0 && rate_window(c) == window;
}

int rate_pick(const unsigned char *buf, struct rate_rec *r, unsigned long window)
{
    struct rate_rec a, b;
    int oka, okb;
    memcpy(&a, buf, sizeof a);
    memcpy(&b, buf + sizeof a, sizeof b);
    rate_init(r, window);
    window = rate_window(r);
    oka = copy_ok(&a, window);
    okb = copy_ok(&b, window);
    if (!oka && !okb) {
        return 0;
    }
    *r = oka && (!okb || a.seq > b.seq) ? a : b;
    return 1;
}

size_t rate_seal(struct rate_rec *r)
{
    r->seq++;
    r->check = str_fnv64(r, offsetof(struct rate_rec, check));
    return (size_t)(r->seq % 2) * sizeof *r;
}

/* ---- the text form ---- */

/* Append the slots of s[0..count) whose number is in (cur - n, cur] as "NO:M:R" items. */
static int text_slots(const struct rate_slot *s, size_t count, uint64_t cur, uint64_t n,
                      char *out, size_t cap, size_t *len, int *slots)
{
    size_t i;
    for (i = 0; i < count; i++) {
        int w;
        if (s[i].no == 0 || s[i].no > cur || s[i].no + n <= cur
            || (s[i].msgs == 0 && s[i].rcpts == 0)) {
            continue;
        }
        w = snprintf(out + *len, cap - *len, "%s%llu:%lu:%lu", *slots ? "," : "",
                     (unsigned long long)s[i].no, (unsigned long)s[i].msgs,
                     (unsigned long)s[i].rcpts);
        if (w < 0 || (size_t)w >= cap - *len) {
            errno = ENOSPC;
            return -1;
        }
        *len += (size_t)w;
        (*slots)++;
    }
    return 0;
}

int rate_text(const struct rate_rec *r, uint64_t now, char *out, size_t cap)
{
    size_t len = 0;
    int fine = 0, day = 0, w = snprintf(out, cap, "w=%lu f=", rate_window(r));
    if (w < 0 || (size_t)w >= cap) {
        errno = ENOSPC;
        return -1;
    }
    len = (size_t)w;
    if (text_slots(r->fine, RATE_FINE_SLOTS, now / r->slot_secs + 1, RATE_FINE_SLOTS, out, cap,
                   &len, &fine) < 0) {
        return -1;
    }
    if (cap - len < 4) {
        errno = ENOSPC;
        return -1;
    }
    memcpy(out + len, " d=", 4);
    len += 3;
    if (text_slots(r->day, RATE_DAY_SLOTS, now / rate_window(r) + 1, RATE_DAY_SLOTS, out, cap,
                   &len, &day) < 0) {
        return -1;
    }
    return fine + day;
}

/* A decimal number of at most max at *p, up to one of the stop characters; advances *p. */
static int text_num(const char **p, const char *stop, uint64_t max, uint64_t *v)
{
    size_t n = strcspn(*p, stop);
    if (n == 0 || n > 20 || str_to_u64(*p, n, v) < 0 || *v > max) {
        return -1;
    }
    *p += n;
    return 0;
}

/* "NO:M:R,..." up to a space or the end into s[count], each at its index (NO % count). */
static int parse_slots(const char **p, struct rate_slot *s, size_t count)
{
    while (**p && **p != ' ') {
        uint64_t no, m, r;
        struct rate_slot *t;
        if (text_num(p, ":", UINT64_MAX - 1, &no) < 0 || *(*p)++ != ':'
            || text_num(p, ":", UINT32_MAX, &m) < 0 || *(*p)++ != ':'
            || text_num(p, ", ", UINT32_MAX, &r) < 0 || no == 0) {
            return -1;
        }
        t = &s[(no - 1) % count];   /* rate_add stores number + 1 */
        if (t->no != 0) {
            return -1;              /* two slots at one index: not rate_text's */
        }
        t->no = no;
        t->msgs = (uint32_t)m;
        t->rcpts = (uint32_t)r;
        if (**p == ',') {
            (*p)++;
            if (**p < '0' || **p > '9') {
                return -1;          /* a comma leads to another slot */
            }
        }
    }
    return 0;
}

int rate_parse_text(const char *s, struct rate_rec *r)
{
    uint64_t w;
    if (strncmp(s, "w=", 2) != 0) {
        goto bad;
    }
    s += 2;
    if (text_num(&s, " ", RATE_WINDOW_MAX, &w) < 0 || w < RATE_WINDOW_MIN
        || w % RATE_FINE_SLOTS != 0) {
        goto bad;
    }
    rate_init(r, (unsigned long)w);
    if (strncmp(s, " f=", 3) != 0) {
        goto bad;
    }
    s += 3;
    if (parse_slots(&s, r->fine, RATE_FINE_SLOTS) < 0 || strncmp(s, " d=", 3) != 0) {
        goto bad;
    }
    s += 3;
    if (parse_slots(&s, r->day, RATE_DAY_SLOTS) < 0 || *s != '\0') {
        goto bad;
    }
    return 0;
bad:
    errno = EINVAL;
    return -1;
}

static void merge_slots(struct rate_slot *d, const struct rate_slot *s, size_t count)
{
    size_t i;
    for (i = 0; i < count; i++) {
        if (s[i].no == 0 || s[i].no < d[i].no) {
            continue;
        }
        slot_add(&d[i], s[i].no, s[i].msgs, s[i].rcpts);
    }
}

void rate_merge(struct rate_rec *dst, const struct rate_rec *src)
{
    merge_slots(dst->fine, src->fine, RATE_FINE_SLOTS);
    merge_slots(dst->day, src->day, RATE_DAY_SLOTS);
}

/* ---- the file ---- */

int rate_path(char *out, size_t cap, const char *root, const char *dir, const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || name[0] == '.' || strchr(name, '/') || str_has_ctl(name, n)) {
        errno = EINVAL;
        return -1;
    }
    return str_fmt(out, cap, "%s/%s/%s", root, dir, name);
}

/* The whole file into buf (RATE_FILE octets; a shorter file reads as zeros after its end). */
static int read_file(int fd, unsigned char *buf)
{
    size_t got = 0;
    memset(buf, 0, RATE_FILE);
    while (got < RATE_FILE) {
        ssize_t n = pread(fd, buf + got, RATE_FILE - got, (off_t)got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    return 0;
}

int rate_open_in(const char *root, const char *dir, const char *name, unsigned long window,
                 int *fd, struct rate_rec *r)
{
    char path[YUBIN_PATH_MAX];
    unsigned char buf[RATE_FILE];
    int e;
    *fd = -1;
    if (rate_path(path, sizeof path, root, dir, name) < 0) {
        return -1;
    }
    *fd = fd_open_locked(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640, LOCK_EX);
    if (*fd < 0) {
        return -1;
    }
    if (read_file(*fd, buf) < 0) {
        goto fail;
    }
    rate_pick(buf, r, window);
    return 0;
fail:
    e = errno;
    close(*fd);
    *fd = -1;
    errno = e;
    return -1;
}

int rate_open(const char *root, const char *name, unsigned long window, int *fd,
              struct rate_rec *r)
{
    return rate_open_in(root, RATE_DIR, name, window, fd, r);
}

int rate_store(int fd, struct rate_rec *r)
{
    size_t off = rate_seal(r);
    ssize_t n;
    do {
        n = pwrite(fd, r, sizeof *r, (off_t)off);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return -1;
    }
    if ((size_t)n != sizeof *r) {
        errno = EIO;
        return -1;
    }
    return 0;
}

int rate_read_in(const char *root, const char *dir, const char *name, unsigned long window,
                 struct rate_rec *r)
{
    char path[YUBIN_PATH_MAX];
    unsigned char buf[RATE_FILE];
    struct rate_rec a;
    int fd, e;
    rate_init(r, window);
    if (rate_path(path, sizeof path, root, dir, name) < 0) {
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    if (read_file(fd, buf) < 0) {
        e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    close(fd);
    /* the window the writer used: that of the first valid copy */
    memcpy(&a, buf, sizeof a);
    if (a.magic != RATE_MAGIC || a.slot_secs == 0) {
        memcpy(&a, buf + sizeof a, sizeof a);
    }
    if (a.magic == RATE_MAGIC && a.slot_secs != 0 && a.slot_secs <= RATE_WINDOW_MAX) {
        window = rate_window(&a);
    }
    rate_pick(buf, r, window);
    return 1;
}

int rate_read(const char *root, const char *name, unsigned long window, struct rate_rec *r)
{
    return rate_read_in(root, RATE_DIR, name, window, r);
}

int rate_fleet_read(const char *root, const char *name, unsigned long window, uint64_t now,
                    struct rate_rec *r, long *age)
{
    char path[YUBIN_PATH_MAX];
    struct stat st;
    int got;
    rate_init(r, window);
    if (age) {
        *age = -1;
    }
    if (str_fmt(path, sizeof path, "%s/%s/%s", root, RATE_FLEET_DIR, RATE_FLEET_FRESH) < 0) {
        return -1;
    }
    if (stat(path, &st) < 0) {
        return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
    }
    if (age) {
        *age = (uint64_t)st.st_mtime >= now ? 0 : (long)(now - (uint64_t)st.st_mtime);
    }
    if ((uint64_t)st.st_mtime + RATE_FLEET_STALE < now) {
        return 0;
    }
    got = rate_read_in(root, RATE_FLEET_DIR, name, window, r);
    if (got < 0) {
        return -1;
    }
    if (rate_window(r) != window) {
        rate_init(r, window);
        return 0;
    }
    return 1;
}
