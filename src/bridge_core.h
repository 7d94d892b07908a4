/* SPDX-License-Identifier: MIT */
/* Private to the bridge: its leaf (bridge_core.c), what every side of it
 * uses. The in, out and media files sit on it; bridge.c wires them. */
#ifndef FERRY_BRIDGE_CORE_H
#define FERRY_BRIDGE_CORE_H

struct bridge_job;
struct net_backend;
struct net_set;
struct store;
struct store_account;
struct store_contact;
struct store_message;

#define BRIDGE_SNIPPET_CHARS 100 /* quoted in replies */

/* The store and the back ends the bridge runs on (bridge_init()). */
void bridge_core_init(struct store *st, const struct net_set *set);
struct store *bridge_store(void);
/* The back ends in use; the first is the default. */
const struct net_set *bridge_backends(void);
/* The back end that serves account a (its row's backend). An account of a
 * back end no longer enabled gets the default one, which does not know its
 * network id: its sends fail and its webhooks go unheard. */
const struct net_backend *bridge_backend_of(const struct store_account *a);

/* Queues xml (taken) for recipient to in the inbox. id: the stanza id of
 * a message with content, which ferry sends again should the user's
 * server bounce it; NULL for stanzas not worth it (receipts, markers,
 * errors, subscriptions). 0 or -1 (the transaction will not commit). */
int bridge_inbox(long long account_id, const char *to, const char *id,
                 char *xml);
/* bridge_inbox() for a stanza from contact_id: it keeps its place behind
 * the contact's files still on their way. */
int bridge_inbox_from(long long account_id, long long contact_id,
                      const char *to, const char *id, char *xml);
/* The JID of a contact (caller frees). */
char *bridge_contact_jid(const struct store_contact *c);
/* Puts job j in the outbox as row id (0: a new row) of the account, the
 * contact (0: none) and the message (0: none); its id, or -1. */
long long bridge_outbox_put(long long id, long long account_id,
                            long long contact_id, long long message_id,
                            const struct bridge_job *j);
/* Marks a message failed and bounces an error to its sender. */
void bridge_fail_message(long long message_id, const char *condition,
                         const char *text);
/* Moves a message's status forward only, and tells the sender. */
void bridge_apply_status(struct store_message *m, int status, int error_code,
                         const char *error_text);
/* The token was refused: the account stops, its user is told once. */
void bridge_auth_failed(long long account_id, const char *text);
/* 1 unless the account's settings JSON turns key off. */
int bridge_setting(const struct store_account *a, const char *key);
/* The start of text, at most BRIDGE_SNIPPET_CHARS characters (caller
 * frees). */
char *bridge_snippet(const char *text);
/* Adds the message row m (all but its snippet filled in), with the
 * snippet of text (NULL: none); its id, or -1. */
long long bridge_message_add(struct store_message *m, const char *text);
/* 1 when the account's number has a team (members besides its owner).
 * Asked for every message (history, copies), so remembered per account
 * until bridge_team_forget(). */
int bridge_has_team(long long account_id);
/* Forgets what bridge_has_team() remembered: a member joined or left, an
 * account went, or a transaction was rolled back. */
void bridge_team_forget(void);

#endif
