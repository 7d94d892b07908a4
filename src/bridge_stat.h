/* SPDX-License-Identifier: MIT */
/* Private to the bridge: what a business number's response times are
 * made of (bridge_stat.c): a customer's message starts a wait, the first
 * reply ends it, a release resolves a conversation. On bridge_core.c; the
 * in, out, template and team files call it. */
#ifndef FERRY_BRIDGE_STAT_H
#define FERRY_BRIDGE_STAT_H

struct store_account;

/* The customer of contact_id wrote at ts (unix s; 0: now). */
void bridge_stat_in(long long contact_id, long long ts);
/* writer (a bare JID) wrote to the customer of contact_id. */
void bridge_stat_replied(const struct store_account *a, long long contact_id,
                         const char *writer);
/* A conversation of a, held since since (unix s), was released. */
void bridge_stat_released(const struct store_account *a, long long since);

#endif
