/* SPDX-License-Identifier: MIT */
/* Private to the bridge: a business number answered by a team
 * (bridge_team.c): who gets a customer's message, copies of what a member
 * wrote, claims, and the team's changes. On bridge_core.c; the in and out
 * sides and bridge.c call it. */
#ifndef FERRY_BRIDGE_TEAM_H
#define FERRY_BRIDGE_TEAM_H

#include <strophe.h>

struct conf;
struct message_in;
struct message_out;
struct store_account;

/* Takes the [team] settings. */
void bridge_team_configure(const struct conf *conf);
/* The account bare (a bare JID) writes for: its own, or that of the team
 * it is a member of (the owner's account: a->jid is the owner). NULL when
 * neither, or when bare's domain is not allowed. */
struct store_account *bridge_team_account(const char *bare);
/* Queues the stanza o from contact_id (o->to is set for each recipient)
 * for whoever gets the account's messages from that customer: the owner
 * and every member, or the member holding the conversation. id: as
 * bridge_inbox_from(). 0 or -1. */
int bridge_team_deliver(const struct store_account *a, long long contact_id,
                        const char *id, struct message_out *o);
/* A file (or the notice of its failure) o from contact_id, with its
 * caption (NULL: none), for the members of the account's team who get
 * the customer's messages now; the owner gets it in the file's place in
 * the contact's order (bridge_media.c). */
void bridge_team_deliver_members(long long account_id, long long contact_id,
                                 struct message_out *o, const char *caption);
/* A new contact: its roster entry (roster_new_contact_xml()) goes to the
 * owner and every member. */
int bridge_team_new_contact(const struct store_account *a, long long contact_id,
                            const char *contact_jid, const char *name);
/* writer (a bare JID) sent text to the contact: the other people of the
 * team get a copy marked with the writer's name, and a first reply claims
 * the conversation ([team] autoclaim). */
void bridge_team_wrote(const struct store_account *a, long long contact_id,
                       const char *writer, const char *text);
/* A message whose body starts with '/' from writer (a bare JID) to a
 * contact of a team's account: 1 when it was taken as a team command
 * (answered to the writer, never sent to the network: /claim, /release,
 * /assign, /note, /who, and help for any other /word), 0 when the
 * account has no team (it is sent as it is). */
int bridge_team_command(const struct message_in *in,
                        const struct store_account *a, long long contact_id,
                        const char *writer);
/* member (bare JID) joined (add 1) or left (0) the team of account a:
 * the contacts go on or off its roster, and what it held is let go. */
void bridge_team_changed(const struct store_account *a, const char *member,
                         int add);

#endif
