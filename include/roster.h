/* SPDX-License-Identifier: MIT */
/* Presence: the subscription handshake between users and the gateway or
 * contact JIDs, probes, and availability of contacts. */
#ifndef FERRY_ROSTER_H
#define FERRY_ROSTER_H

#include <strophe.h>

struct store;
struct store_account;
struct store_contact;

struct conf;

void roster_init(struct store *st);
/* Takes gateway.name (the roster group of pushed contacts). */
void roster_reconfigure(const struct conf *conf);
/* An XEP-0356 <privilege/> advertisement from a server domain. Returns 1
 * when st was one (handled), 0 otherwise. */
int roster_on_privilege(xmpp_stanza_t *st);
/* The XEP-0356 namespace under which user's server lets the gateway send
 * messages as its users ("urn:xmpp:privilege:2" or ":1"), or NULL when it
 * does not. */
const char *roster_message_privilege(const char *user);
/* The XEP-0356 namespace under which user's server lets the gateway send
 * iqs of type ("get" or "set") with a payload in ns as its users, or NULL
 * when it does not. */
const char *roster_iq_privilege(const char *user, const char *ns,
                                const char *type);
/* XML that puts a new contact on the user's roster: a privileged roster
 * push (XEP-0356) where the user's server granted it (the contact is then
 * subscribed both ways), else a subscription request with the profile name
 * as nick. Caller frees. */
char *roster_new_contact_xml(long long contact_id, const char *contact_jid,
                             const char *user, const char *name);
/* The answer to a roster push (an iq result or error); a refused push
 * falls back to a subscription request. */
void roster_on_reply(xmpp_stanza_t *st, void *arg);
void roster_free(void);
/* Handles a presence stanza addressed to the gateway or a contact JID. */
void roster_on_presence(xmpp_stanza_t *st, void *arg);
/* The JID of a contact (its stored localpart on the component; caller
 * frees). */
char *roster_contact_jid(const struct store_contact *c);
/* XML of a subscription request from contact_jid to user, with an XEP-0172
 * nick when name is not NULL. Caller frees. */
char *roster_subscribe_xml(const char *contact_jid, const char *user,
                           const char *name);
/* A newly registered account: the gateway asks to subscribe to the user and
 * shows itself available. */
void roster_account_added(const struct store_account *a);
/* The account is being removed: end every subscription it has. Call before
 * deleting it from the store. */
void roster_account_removed(const struct store_account *a);
/* The contact JID is no more (its contact has another now): it leaves the
 * user's roster (unavailable, unsubscribed, unsubscribe). */
void roster_contact_gone(const char *contact_jid, const char *user);
/* member joined the team of account a: every contact of a goes on the
 * member's roster, as roster_new_contact_xml() puts a new one (queued in
 * the inbox). */
void roster_member_added(const struct store_account *a, const char *member);
/* member left the team of account a: every contact of a ends its
 * subscriptions with the member. */
void roster_member_removed(const struct store_account *a, const char *member);
/* Sends contact c's available presence to the user of account a again
 * (its picture changed), when it is on their roster and a is active. */
void roster_contact_changed(const struct store_account *a,
                            const struct store_contact *c);
/* The network said contact c is online (away 0) or away since last_seen
 * (unix seconds, 0 when not known): remembered for this run and shown in
 * its presences, sent at once when it changed. */
void roster_contact_seen(const struct store_account *a,
                         const struct store_contact *c, int away,
                         long long last_seen);
/* Sends available (or unavailable) presence from the gateway and every
 * subscribed contact of every account: on connect and on shutdown. */
void roster_broadcast(int available);

#endif
