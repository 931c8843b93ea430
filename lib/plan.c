/* plan.c: the plans' names from the provider's manual (plan.h) */
#include "plan.h"

#include <stddef.h>
#include <string.h>

static const struct {
    const char *id, *ja, *en;
} plans[] = {
    {"basic", "ベーシックプラン", "Basic plan"},
    {"secure", "セキュアプラン", "Secure plan"},
    {"premium", "プレミアムプラン", "Premium plan"},
    {"pro", "プロプラン", "Pro plan"},
    {"dedicated", "専用サーバプラン", "Dedicated server plan"},
};

static int find(const char *id)
{
    size_t i;
    for (i = 0; id && i < sizeof plans / sizeof plans[0]; i++) {
        if (strcmp(id, plans[i].id) == 0) {
            return (int)i;
        }
    }
    return -1;
}

const char *plan_name_ja(const char *id)
{
    int i = find(id);
    return i < 0 ? NULL : plans[i].ja;
}

const char *plan_name_en(const char *id)
{
    int i = find(id);
    return i < 0 ? NULL : plans[i].en;
}
