/* test_pages.c: the domain administrator's page has a bounded size whatever the domain holds
   (pages.h PAGE_ADMIN_MAX), its decided applications come a page at a time, and the page that
   shows an auto-approval's sheet fits with the longest sheet acctd hands over */
#include "web/pages.h"
#include "web/apply.h"
#include "web/webparse.h"
#include "acct.h"
#include "limits.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

#define SHEET_GIVEN_MAX (16 * 1024)     /* web/acctd_admin.c ACCTD_SHEET_MAX */

/* s of n copies of c, NUL-terminated (s has n + 1) */
static void fill(char *s, char c, size_t n)
{
    memset(s, c, n);
    s[n] = '\0';
}

/* How often needle is in s */
static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    while ((s = strstr(s, needle)) != NULL) {
        n++;
        s += strlen(needle);
    }
    return n;
}

/* The view with every list at its longest and every field at its bound, full of characters
   that escaping makes six times longer where they may come from a file. */
static void worst_view(struct admin_view *v, struct buf *list, struct buf *pend, char *sheet,
                       char *plans, size_t total)
{
    char domain[SMTP_DOMAIN_MAX + 1], local[SMTP_LOCAL_MAX + 1], reason[APPLY_REASON_MAX + 1];
    size_t i;
    fill(domain, 'd', SMTP_DOMAIN_MAX);
    fill(local, 'l', SMTP_LOCAL_MAX);
    fill(reason, '"', APPLY_REASON_MAX);
    for (i = 0; i < WEB_LIST_PAGE; i++) {
        buf_printf(list, "%s@%s unlimited premium disabled 18446744073709551615 "
                   "18446744073709551615\n", local, domain);
    }
    for (i = 0; i < APPLY_WAITING_MAX; i++) {
        buf_printf(pend, "20261204-060000-0a1b2c3d addon %s@%s 2026-12-04 pending\n", local,
                   domain);
    }
    for (i = 0; i < APPLY_DECIDED_PAGE; i++) {
        buf_printf(pend, "20261204-060000-0a1b2c3d reset %s@%s 2026-12-04 rejected %s\n", local,
                   domain, reason);
    }
    fill(sheet, '"', SHEET_GIVEN_MAX);
    for (i = 0; i + PLAN_NAME_MAX + 1 < 1023; i += PLAN_NAME_MAX + 1) {
        memset(plans + i, '&', PLAN_NAME_MAX);
        plans[i + PLAN_NAME_MAX] = ' ';
    }
    plans[i] = '\0';
    memset(v, 0, sizeof *v);
    v->domain = strdup(domain);
    v->csrf = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    v->plan = "basic";
    v->addon = 1;
    v->list = list->s;
    v->listlen = list->len;
    v->total = total;
    v->from = total > WEB_LIST_PAGE ? WEB_LIST_PAGE : 0;
    v->pending = pend->s;
    v->pendinglen = pend->len;
    v->waiting = APPLY_WAITING_MAX;
    v->decided = 100000;
    v->decided_from = APPLY_DECIDED_PAGE;
    v->plans = plans;
    v->due = "2026-12-04";
    v->today = "2026-12-04";
    v->zone = "JST, UTC+09:00";
    v->applied_id = "20261204-060000-0a1b2c3d";
    v->applied_due = "2026-12-04";
    v->approved = 1;
    v->sheet = sheet;
    v->sheetlen = SHEET_GIVEN_MAX;
}

static void test_admin_page_bound(void)
{
    static const struct msg m = { "メッセージ", "message", 0 };
    static char sheet[SHEET_GIVEN_MAX + 1], plans[1024];
    size_t totals[] = { WEB_LIST_PAGE, 5000 }, k;
    for (k = 0; k < sizeof totals / sizeof totals[0]; k++) {
        struct admin_view v;
        struct buf list, pend, out;
        buf_init(&list, 1024 * 1024);
        buf_init(&pend, 1024 * 1024);
        buf_init(&out, PAGE_ADMIN_MAX);
        worst_view(&v, &list, &pend, sheet, plans, totals[k]);
        T_CHECK(page_admin(&out, &v, &m) == 0, "the longest page of a domain of %zu addresses "
                "fits PAGE_ADMIN_MAX (%zu octets of %d)", totals[k], out.len, PAGE_ADMIN_MAX);
        /* every row drawn, the longest (an address of 320 octets, a reason of 200) too: a row
           that does not fit is dropped from the table and the pager's count goes wrong */
        T_CHECK(out.s && count(out.s, "<td class=\"pending\">") == APPLY_WAITING_MAX,
                "all %d waiting applications drawn", APPLY_WAITING_MAX);
        T_CHECK(out.s && count(out.s, "<td class=\"rejected\">") == APPLY_DECIDED_PAGE,
                "all %d decided applications drawn (%zu)", APPLY_DECIDED_PAGE,
                out.s ? count(out.s, "<td class=\"rejected\">") : 0);
        T_CHECK(out.s && strstr(out.s, "新しいものから 21〜40 件目") != NULL,
                "the pager counts the 20 shown");
        printf("# the longest administrator's page, %zu addresses: %zu octets\n", totals[k],
               out.len);
        buf_reset(&out);
        T_CHECK(page_admin_applied(&out, &v) == 0, "the page of an application alone fits");
        T_CHECK(out.len < 128 * 1024, "and is short (%zu octets)", out.len);
        T_CHECK(strstr(out.s, "id=\"sheet\"") != NULL, "with the sheet");
        free((char *)v.domain);
        buf_free(&list);
        buf_free(&pend);
        buf_free(&out);
    }
}

/* 1 if the link of id in s has the attribute href ("href=\"...\""), or there is none and
   href is NULL */
static int link_is(const char *s, const char *id, const char *href)
{
    char want[64];
    const char *at;
    snprintf(want, sizeof want, "id=\"%s\" ", id);
    at = strstr(s, want);
    return href ? at && strncmp(at + strlen(want), href, strlen(href)) == 0 : at == NULL;
}

/* The decided applications' line: how many, which, and the links to newer and older ones
   that keep the addresses' page. */
static void test_decided_pager(void)
{
    static const struct {
        size_t decided, from, shown, list_from;
        const char *ja, *newer, *older;
    } cases[] = {
        { 5, 0, 5, 0, NULL, NULL, NULL },
        { 21, 0, 20, 0, "全 21 件中、新しいものから 1〜20 件目を表示しています (ほか 1 件)", NULL,
          "href=\"/?done=20\"" },
        { 900, 20, 20, 100, "全 900 件中、新しいものから 21〜40 件目", "href=\"/?from=100\"",
          "href=\"/?from=100&amp;done=40\"" },
        { 5000, APPLY_DECIDED_REACH - APPLY_DECIDED_PAGE, 20, 0, "全 5000 件中",
          "href=\"/?done=960\"", NULL },
    };
    size_t k, i;
    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct admin_view v;
        struct buf pend, out;
        char *pager;
        buf_init(&pend, 64 * 1024);
        buf_init(&out, PAGE_ADMIN_MAX);
        for (i = 0; i < cases[k].shown; i++) {
            buf_printf(&pend, "20261204-060000-%08zx del x%zu@shop.test 2026-12-04 approved\n",
                       i, i);
        }
        memset(&v, 0, sizeof v);
        v.domain = "shop.test";
        v.csrf = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        v.plan = "basic";
        v.list = "";
        v.total = cases[k].list_from ? 5000 : 0;
        v.from = cases[k].list_from;
        v.pending = pend.s;
        v.pendinglen = pend.len;
        v.decided = cases[k].decided;
        v.decided_from = cases[k].from;
        v.plans = "basic premium";
        v.due = v.today = "2026-12-04";
        v.zone = "JST, UTC+09:00";
        T_CHECK(page_admin(&out, &v, NULL) == 0, "page with %zu decided", cases[k].decided);
        pager = strstr(out.s, "id=\"decided-pager\"");
        if (pager) {
            *strstr(pager, "</p>") = '\0';     /* the line alone */
        }
        if (!cases[k].ja) {
            T_CHECK(pager == NULL, "%zu decided, all shown: no line", cases[k].decided);
            buf_free(&pend);
            buf_free(&out);
            continue;
        }
        T_CHECK(pager && strstr(pager, cases[k].ja), "%zu decided from %zu: says %s",
                cases[k].decided, cases[k].from, cases[k].ja);
        T_CHECK(pager && link_is(pager, "decided-newer", cases[k].newer),
                "case %zu: link to newer ones %s", k, cases[k].newer ? cases[k].newer : "none");
        T_CHECK(pager && link_is(pager, "decided-older", cases[k].older),
                "case %zu: link to older ones %s (none past the newest %d)", k,
                cases[k].older ? cases[k].older : "none", APPLY_DECIDED_REACH);
        buf_free(&pend);
        buf_free(&out);
    }
}

int main(void)
{
    test_admin_page_bound();
    test_decided_pager();
    return T_DONE();
}
