/* plan.h: the provider's plans by the names the manual gives them (ベーシックプラン, ...).
   etc/plans and the maps keep a plan's id ("basic"); customers are shown these names. */
#ifndef YUBIN_PLAN_H
#define YUBIN_PLAN_H

/* The manual's Japanese name of plan id ("basic" -> "ベーシックプラン"), or NULL for an id the
   manual does not name (an operator's own plan: show the id). A static string; id is
   compared exactly (the maps keep ids in lower case). */
const char *plan_name_ja(const char *id);
/* The English name beside it ("basic" -> "Basic plan"), or NULL as above. */
const char *plan_name_en(const char *id);

#endif
