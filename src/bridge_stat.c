/* SPDX-License-Identifier: MIT */
/* A business number's response times: the wait a customer's message
 * starts (kept in the store, so it survives a restart), the first reply
 * that ends it, and the release that resolves a conversation, counted in
 * metrics_team.c. */
#include "bridge_core.h"
#include "bridge_stat.h"
#include "metrics.h"
#include "store.h"
#include "util.h"

long long bridge_stat_wait(long long ts)
{
    long long now = now_s();

    return ts > 0 && ts <= now ? ts : now;
}

void bridge_stat_replied(const struct store_account *a, long long contact_id,
                         const char *writer)
{
    long long since = store_contact_answer(bridge_store(), contact_id);

    metrics_team_reply(a->id, writer, since > 0 ? now_s() - since : -1);
}

void bridge_stat_replied_since(const struct store_account *a,
                               long long contact_id, const char *writer,
                               long long since)
{
    if (since > 0 && store_contact_answered(bridge_store(), contact_id) < 0)
        since = 0;
    metrics_team_reply(a->id, writer, since > 0 ? now_s() - since : -1);
}

void bridge_stat_released(const struct store_account *a, long long since)
{
    metrics_team_resolved(a->id, now_s() - since);
}
