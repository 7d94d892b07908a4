/* SPDX-License-Identifier: MIT */
/* Service discovery (XEP-0030), ping (XEP-0199) and version (XEP-0092) on
 * the gateway JID and on contact JIDs. */
#ifndef FERRY_DISCO_H
#define FERRY_DISCO_H

#include <strophe.h>

struct conf;

/* Answers a disco#info (items 0) or disco#items (items 1) get for node on
 * the gateway JID; returns 1 when it answered, 0 to let others try. */
typedef int (*disco_node_fn)(xmpp_stanza_t *iq, const char *node, int items,
                             void *arg);

void disco_init(const struct conf *conf);
void disco_reconfigure(const struct conf *conf);
/* Adds a feature var advertised by the gateway JID (a static string). */
void disco_feature_add(const char *var);
#define DISCO_MAX_PROFILES 4

/* Which of the contact JIDs' feature sets (profiles) user (a full or bare
 * JID) sees: 0..DISCO_MAX_PROFILES-1. */
typedef int (*disco_profile_fn)(const char *user, void *arg);

/* Adds a feature var advertised by contact JIDs in every profile (a static
 * string). */
void disco_contact_feature_add(const char *var);
/* Adds a feature var advertised by contact JIDs in one profile. */
void disco_profile_feature_add(int profile, const char *var);
/* Sets how a user's profile is found (none: everyone sees profile 0). */
void disco_contact_profiles(disco_profile_fn fn, void *arg);
/* Sets the handler offered every disco#info and disco#items get first, on
 * any JID, with or without a node (rooms). */
void disco_first_handler_set(disco_node_fn fn, void *arg);
/* Adds a handler for queries on nodes of the gateway JID. */
void disco_node_handler_add(disco_node_fn fn, void *arg);
/* A new XEP-0115 <c/> element for contact JIDs' presence to user (caller
 * releases). */
xmpp_stanza_t *disco_contact_caps(const char *user);
void disco_free(void);

#endif
