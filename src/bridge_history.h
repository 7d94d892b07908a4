/* SPDX-License-Identifier: MIT */
/* Private to the bridge: the history of a team's conversations
 * (bridge_history.c): what is kept, XEP-0313 on contact JIDs, and the
 * last messages for whoever picks a conversation up. On bridge_core.c;
 * bridge_team.c, bridge_out.c, bridge_sent.c and bridge.c call it. */
#ifndef FERRY_BRIDGE_HISTORY_H
#define FERRY_BRIDGE_HISTORY_H

struct conf;
struct store_account;

/* Takes [team] history_days (the housekeeping's expiry). */
void bridge_history_configure(const struct conf *conf);
/* Answers XEP-0313 queries on contact JIDs and advertises it. */
void bridge_history_init(void);
/* The customer's message id (its stanza id, the network's id or derived
 * from it) with body (NULL: none, nothing is kept) is kept when the
 * account has a team. */
void bridge_history_in(const struct store_account *a, long long contact_id,
                       const char *id, const char *body);
/* writer (a bare JID) wrote body to the contact in the stanza stanza_id:
 * kept when the account has a team. */
void bridge_history_out(const struct store_account *a, long long contact_id,
                        const char *writer, const char *stanza_id,
                        const char *body);
/* The network accepted message_id of the account as network_id. */
void bridge_history_sent(long long account_id, long long message_id,
                         const char *network_id);
/* Sends to (a bare JID) the last messages of the conversation, with
 * their time (XEP-0203) and marked as history. */
void bridge_history_replay(const struct store_account *a, long long contact_id,
                           const char *to);
/* A new member (bare JID) gets the last messages of the account's
 * latest conversations. */
void bridge_history_welcome(const struct store_account *a, const char *member);

#endif
