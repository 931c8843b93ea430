/* test_apply.c: the administrator's applications (web/apply.h): the due-date rule (the
   manual's 14:00 weekday rule with etc/holidays), the request records, the administrators'
   file, ids and the settings mail's headers */
#include "web/apply.h"
#include "b64.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

#define S(s) s, sizeof(s) - 1

/* 2026-12-04 is a Friday */
static struct tm at(int y, int mo, int d, int h, int mi)
{
    struct tm t;
    memset(&t, 0, sizeof t);
    t.tm_year = y - 1900;
    t.tm_mon = mo - 1;
    t.tm_mday = d;
    t.tm_hour = h;
    t.tm_min = mi;
    return t;
}

struct due_case {
    const char *name;
    int y, mo, d, h, mi;
    const char *holidays;
    const char *want;
};

static const struct due_case due_cases[] = {
    { "weekday morning: the same day", 2026, 12, 3, 9, 0, "", "2026-12-03" },
    { "weekday 13:59: the same day", 2026, 12, 3, 13, 59, "", "2026-12-03" },
    { "weekday 14:00: the next business day", 2026, 12, 3, 14, 0, "", "2026-12-04" },
    { "Friday 15:00: Monday", 2026, 12, 4, 15, 0, "", "2026-12-07" },
    { "Friday 15:00, Monday a holiday: Tuesday", 2026, 12, 4, 15, 0, "2026-12-07\n",
      "2026-12-08" },
    { "Friday 15:00, Monday a holiday with a comment: Tuesday", 2026, 12, 4, 15, 0,
      "# days off\n2026-12-07 substitute holiday\n", "2026-12-08" },
    { "Friday 15:00, Monday and Tuesday holidays: Wednesday", 2026, 12, 4, 15, 0,
      "2026-12-07\r\n2026-12-08\n", "2026-12-09" },
    { "Saturday morning: Monday", 2026, 12, 5, 9, 0, "", "2026-12-07" },
    { "Sunday night: Monday", 2026, 12, 6, 23, 0, "", "2026-12-07" },
    { "holiday morning: the next business day", 2026, 12, 7, 9, 0, "2026-12-07", "2026-12-08" },
    { "year end: across the year, holidays to 1-3", 2026, 12, 31, 10, 0,
      "2026-12-31\n2027-01-01\n2027-01-02\n2027-01-03\n", "2027-01-04" },
    { "leap day", 2028, 2, 28, 15, 0, "", "2028-02-29" },
    { "a date prefix is not a date", 2026, 12, 4, 15, 0, "2026-12-070\n", "2026-12-07" },
    { "a date without its newline at the end counts", 2026, 12, 4, 15, 0, "2026-12-07",
      "2026-12-08" },
};

static void test_due(void)
{
    char out[APPLY_DATE_LEN + 1];
    size_t i;
    for (i = 0; i < sizeof due_cases / sizeof due_cases[0]; i++) {
        const struct due_case *c = &due_cases[i];
        struct tm t = at(c->y, c->mo, c->d, c->h, c->mi);
        T_EQ_INT(apply_due(&t, c->holidays, strlen(c->holidays), out), 0, c->name);
        T_EQ_STR(out, c->want, c->name);
    }
    {
        /* every day a holiday: no date, refused instead of looping */
        struct tm t = at(2026, 12, 4, 15, 0);
        size_t n = 0, cap = 500 * 11;
        char *all = malloc(cap);
        int k;
        for (k = 0; k < 450; k++) {
            struct tm d = at(2026, 12, 5 + k, 0, 0);
            time_t x = timegm(&d);
            gmtime_r(&x, &d);
            n += (size_t)snprintf(all + n, cap - n, "%04d-%02d-%02d\n", d.tm_year + 1900,
                                  d.tm_mon + 1, d.tm_mday);
        }
        T_EQ_INT(apply_due(&t, all, n, out), -1, "no business day within 400 days");
        free(all);
    }
}

static void test_records(void)
{
    struct application a, b;
    struct buf out;
    memset(&a, 0, sizeof a);
    strcpy(a.id, "20261204-060000-0a1b2c3d");
    strcpy(a.domain, "shop.test");
    a.kind = APPLY_ADD;
    strcpy(a.target, "newbie@shop.test");
    strcpy(a.by, "admin:shop.test");
    strcpy(a.ip, "192.0.2.1");
    a.time = 1796364000;
    strcpy(a.due, "2026-12-07");
    buf_init(&out, APPLY_RECORD_MAX);
    T_EQ_INT(apply_format(&a, &out), 0, "format");
    T_EQ_INT(apply_parse(out.s, out.len, &b), 1, "a pending record parses");
    T_EQ_STR(b.target, "newbie@shop.test", "target");
    T_EQ_INT(b.kind, APPLY_ADD, "kind");
    T_EQ_INT(b.time, 1796364000, "time");
    T_EQ_STR(b.state, "", "pending: no state");
    strcpy(a.state, "rejected");
    strcpy(a.decided_by, "root");
    a.decided_at = 1796365000;
    strcpy(a.reason, "the name is taken");
    buf_reset(&out);
    T_EQ_INT(apply_format(&a, &out), 0, "format decided");
    T_EQ_INT(apply_parse(out.s, out.len, &b), 1, "a decided record parses");
    T_EQ_STR(b.reason, "the name is taken", "reason");
    T_EQ_INT(apply_parse(out.s, out.len - 1, &b), 0, "the last line without its newline");
    buf_free(&out);
#define BASE "id 20261204-060000-0a1b2c3d\ndomain shop.test\nkind add\ntarget a@shop.test\n" \
             "by admin:shop.test\nip \ntime 1\ndue 2026-12-07\n"
    T_EQ_INT(apply_parse(S(BASE), &b), 1, "an empty ip is allowed");
    T_EQ_INT(apply_parse(S(BASE "id 20261204-060000-0a1b2c3d\n"), &b), 0, "a key twice");
    T_EQ_INT(apply_parse(S(BASE "colour red\n"), &b), 0, "an unknown key");
    T_EQ_INT(apply_parse(S(BASE "state approved\n"), &b), 0, "a state without who and when");
    T_EQ_INT(apply_parse(S(BASE "reason x\n"), &b), 0, "a reason without a decision");
    T_EQ_INT(apply_parse(S("id 20261204-060000-0a1b2c3d\ndomain shop.test\nkind steal\n"
                           "target a@shop.test\nby x\nip \ntime 1\ndue 2026-12-07\n"), &b), 0,
             "an unknown kind");
    T_EQ_INT(apply_parse(S("id ../../etc/passwd\ndomain shop.test\nkind add\n"
                           "target a@shop.test\nby x\nip \ntime 1\ndue 2026-12-07\n"), &b), 0,
             "an id that is not an id");
    T_EQ_INT(apply_parse(S("domain shop.test\nkind add\ntarget a@shop.test\nby x\nip \n"
                           "time 1\ndue 2026-12-07\n"), &b), 0, "no id");
    T_EQ_INT(apply_parse(S("id 20261204-060000-0a1b2c3d\ndomain shop.test\nkind add\n"
                           "target a@shop.test\x01\nby x\nip \ntime 1\ndue 2026-12-07\n"), &b),
             0, "a control byte");
    T_EQ_INT(apply_parse(S("id 20261204-060000-0a1b2c3d\ndomain shop.test\nkind add\n"
                           "target a@shop.test\nby x\nip \ntime -1\ndue 2026-12-07\n"), &b),
             0, "a negative time");
    T_EQ_INT(apply_parse(S(""), &b), 0, "empty");
}

static void test_ids(void)
{
    char id[APPLY_ID_LEN + 1], id2[APPLY_ID_LEN + 1];
    T_EQ_INT(apply_id(1796364000, id), 0, "make an id");
    T_CHECK(apply_id_ok(id), "a made id is an id (%s)", id);
    T_CHECK(strncmp(id, "20261204-", 9) == 0, "UTC date first (%s)", id);
    apply_id(1796364000, id2);
    T_CHECK(strcmp(id, id2) != 0, "two ids of one second differ");
    T_CHECK(!apply_id_ok("20261204-060000-0A1B2C3D"), "upper-case hex is not an id");
    T_CHECK(!apply_id_ok("20261204-060000-0a1b2c3"), "short");
    T_CHECK(!apply_id_ok("20261204-060000-0a1b2c3d0"), "long");
    T_CHECK(!apply_id_ok(".tmp-20261204-060000-0a"), "a temporary file");
    T_EQ_INT(apply_kind_of("addon"), APPLY_ADDON, "kind addon");
    T_EQ_INT(apply_kind_of("ADD"), -1, "kinds are lower case");
}

static void test_admins(void)
{
    static const char text[] =
        "shop.test:boss@example.test:off:$6$salt$hash1\n"
        "broken line\n"
        "shop.test.evil:x@example.test:on:$6$salt$hash2\n"
        "rival.test:other@rival.test:on:$6$salt$hash:with:colons\n"
        "bad.test:x@example.test:maybe:$6$x\n";
    struct webadmin w;
    char line[600];
    T_EQ_INT(apply_admin_find(S(text), "shop.test", &w), 1, "found");
    T_EQ_STR(w.contact, "boss@example.test", "contact");
    T_EQ_INT(w.auto_approve, 0, "auto-approve off");
    T_EQ_STR(w.hash, "$6$salt$hash1", "hash");
    T_EQ_INT(apply_admin_find(S(text), "rival.test", &w), 1, "found with colons in the hash");
    T_EQ_INT(w.auto_approve, 1, "auto-approve on");
    T_EQ_STR(w.hash, "$6$salt$hash:with:colons", "the hash keeps its colons");
    T_EQ_INT(apply_admin_find(S(text), "shop", &w), 0, "a prefix of a domain is not it");
    T_EQ_INT(apply_admin_find(S(text), "bad.test", &w), 0, "a bad AUTO field is skipped");
    T_EQ_INT(apply_admin_find(S(text), "none.test", &w), 0, "absent");
    T_EQ_INT(apply_admin_find(S(text), "shop.test.evil", &w), 1, "the longer name is its own");
    T_EQ_STR(w.contact, "x@example.test", "the longer name's contact");
    T_EQ_INT(apply_admin_line(&w, line, sizeof line), 0, "render");
    T_EQ_STR(line, "shop.test.evil:x@example.test:on:$6$salt$hash2", "rendered line");
}

/* The subject of a composed mail, its encoded-words decoded and joined; each word at most 75
   characters (RFC 2047 §2). */
static void check_subject(const char *mail, const char *want)
{
    char got[512];
    const char *p, *end = strstr(mail, "\r\n\r\n");
    size_t n = 0;
    int words = 0;
    for (p = strstr(mail, "=?UTF-8?B?"); p && end && p < end; p = strstr(p + 1, "=?UTF-8?B?")) {
        const char *q = strstr(p + 10, "?=");
        long k = q ? b64_decode(p + 10, (size_t)(q - p - 10), (unsigned char *)got + n,
                                sizeof got - 1 - n) : -1;
        words++;
        T_CHECK(q && q + 2 - p <= 75, "an encoded-word of at most 75 characters (%d)",
                q ? (int)(q + 2 - p) : -1);
        T_CHECK(k > 0, "an encoded-word decodes");
        n += k > 0 ? (size_t)k : 0;
    }
    got[n] = '\0';
    T_CHECK(words >= 2, "the subject is split into encoded-words (%d)", words);
    T_EQ_STR(got, want, "the subject, decoded");
}

static void test_mail(void)
{
    struct buf out;
    const char *p, *end;
    int ok = 1;
    buf_init(&out, 65536);
    T_EQ_INT(apply_sheet_mail(&out, "postmaster@mail.example.test", "boss@example.test",
                              "mail.example.test", APPLY_SUBJECT_SHEET,
                              "Fri, 04 Dec 2026 15:00:00 +0900",
                              "20261204-060000-0a1b2c3d", S("テキスト"), S("<html></html>")), 0,
             "compose");
    end = strstr(out.s, "\r\n\r\n");
    T_CHECK(end != NULL, "a header and a body");
    for (p = out.s; p < end; p++) {
        ok &= (unsigned char)*p < 0x80;
    }
    T_CHECK(ok, "the header is ASCII");
    check_subject(out.s, APPLY_SUBJECT_SHEET);
    T_CHECK(strstr(out.s, "Content-Type: multipart/mixed; boundary=") != NULL, "multipart");
    T_CHECK(strstr(out.s, "filename=\"settings.html\"") != NULL, "the attachment's name");
    T_CHECK(strstr(out.s, "44OG44Kt44K544OI") != NULL, "the text in base64");
    buf_reset(&out);
    T_EQ_INT(apply_sheet_mail(&out, "postmaster@mail.example.test", "boss@example.test",
                              "mail.example.test", APPLY_SUBJECT_PLAN " (2/3)",
                              "Fri, 04 Dec 2026 15:00:00 +0900",
                              "20261204-060000-0a1b2c3e", S("テキスト"), S("<html></html>")), 0,
             "compose a change of plan's");
    check_subject(out.s, APPLY_SUBJECT_PLAN " (2/3)");
    buf_free(&out);
}

int main(void)
{
    test_due();
    test_records();
    test_ids();
    test_admins();
    test_mail();
    return T_DONE();
}
