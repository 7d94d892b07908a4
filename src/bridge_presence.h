/* SPDX-License-Identifier: MIT */
/* Private to the bridge: contacts' profile pictures and availability
 * (issue 13, item 5; bridge_presence.c). On bridge_core.c; bridge.c and
 * bridge_in.c call it. */
#ifndef FERRY_BRIDGE_PRESENCE_H
#define FERRY_BRIDGE_PRESENCE_H

struct net_event;
struct store_account;

/* Answers vcard-temp on contact JIDs, advertises it, and starts asking the
 * back ends that have profile pictures for those of roster contacts. */
void bridge_presence_init(void);
void bridge_presence_free(void);
/* Contacts may have pictures to ask for now (an account logged in, a
 * contact went on a roster): the walk looks soon. */
void bridge_presence_kick(void);
/* A NET_EVENT_PRESENCE of account a: shown as the contact's availability.
 * 0 (never fails the webhook). */
int bridge_presence_event(const struct net_event *ev,
                          const struct store_account *a);

#endif
