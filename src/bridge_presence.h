/* SPDX-License-Identifier: MIT */
/* Private to the bridge: contacts' profile pictures and availability
 * (issue 13, item 5; bridge_presence.c). On bridge_core.c; bridge.c and
 * bridge_in.c call it. */
#ifndef FERRY_BRIDGE_PRESENCE_H
#define FERRY_BRIDGE_PRESENCE_H

#include <strophe.h>

struct net_event;
struct store_account;
struct store_contact;

/* Answers vcard-temp on contact and room JIDs, advertises it on contacts,
 * and starts asking the back ends that have profile pictures for those of
 * roster contacts and groups. */
void bridge_presence_init(void);
void bridge_presence_free(void);
/* A room's picture changed (account_id, room_id: its row). */
typedef void (*bridge_presence_room_fn)(long long account_id,
                                        long long room_id);
/* Who is told when a room's picture changed (bridge_muc.c, above). */
void bridge_presence_on_room(bridge_presence_room_fn fn);
/* Contacts may have pictures to ask for now (an account logged in, a
 * contact went on a roster): the walk looks soon. */
void bridge_presence_kick(void);
/* A NET_EVENT_PRESENCE of account a: shown as the contact's availability.
 * 0 (never fails the webhook). */
int bridge_presence_event(const struct net_event *ev,
                          const struct store_account *a);

/* A vCard (XEP-0054): the name fn, the number tel (or NULL) and the
 * picture kept of contact c (NULL: none), asked for again when it is
 * older than a day. Caller releases. */
xmpp_stanza_t *bridge_presence_vcard(const struct store_account *a,
                                     const struct store_contact *c,
                                     const char *fn, const char *tel);

#endif
