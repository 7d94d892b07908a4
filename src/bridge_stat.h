/* SPDX-License-Identifier: MIT */
/* Private to the bridge: what a business number's response times are
 * made of (bridge_stat.c): a customer's message starts a wait, the first
 * reply ends it, a release resolves a conversation. On bridge_core.c; the
 * in, out, template and team files call it. */
#ifndef FERRY_BRIDGE_STAT_H
#define FERRY_BRIDGE_STAT_H

struct store_account;

/* The customer wrote at ts (unix s; 0: now): the start of the wait to
 * record with the message (store_contact_set_last_in()). */
long long bridge_stat_wait(long long ts);
/* writer (a bare JID) wrote to the customer of contact_id. */
void bridge_stat_replied(const struct store_account *a, long long contact_id,
                         const char *writer);
/* The same, when the caller read since when the customer has been waiting
 * (0: not waiting): no statement unless it was. */
void bridge_stat_replied_since(const struct store_account *a,
                               long long contact_id, const char *writer,
                               long long since);
/* A conversation of a, held since since (unix s), was released. */
void bridge_stat_released(const struct store_account *a, long long since);

#endif
