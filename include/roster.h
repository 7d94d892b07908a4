/* SPDX-License-Identifier: MIT */
/* Presence: the subscription handshake between users and the gateway or
 * contact JIDs, probes, and availability of contacts. */
#ifndef FERRY_ROSTER_H
#define FERRY_ROSTER_H

#include <strophe.h>

struct store;
struct store_account;

void roster_init(struct store *st);
/* Handles a presence stanza addressed to the gateway or a contact JID. */
void roster_on_presence(xmpp_stanza_t *st, void *arg);
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
/* Sends available (or unavailable) presence from the gateway and every
 * subscribed contact of every account: on connect and on shutdown. */
void roster_broadcast(int available);

#endif
