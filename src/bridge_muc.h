/* SPDX-License-Identifier: MIT */
/* Private to the bridge: WhatsApp groups as XEP-0045 rooms (issue 14):
 * the groups learnt at login, disco on rooms and the gateway's items,
 * joins and leaves, messages from groups (bridge_muc.c). */
#ifndef FERRY_BRIDGE_MUC_H
#define FERRY_BRIDGE_MUC_H

#include <strophe.h>

struct conf;
struct store_account;

/* Answers self-pings (XEP-0410) to occupant JIDs. */
void bridge_muc_init(void);
/* Answers XEP-0313 queries on room JIDs (bridge_muc_mam.c). */
void bridge_muc_mam_init(void);
/* Answers muc#admin member lists of rooms (bridge_muc_group.c). */
void bridge_muc_group_init(void);
/* Applies [groups]: how long rooms' messages are kept. */
void bridge_muc_configure(const struct conf *conf);

/* Fetches the account's groups and members from its back end and stores
 * them (me: the READY event's text, "+<digits> (<name>)", or NULL). */
void bridge_muc_learn(const struct store_account *a, const char *me);
struct net_event;

/* A message in a group (ev->group): kept once, and queued to the user's
 * resources in the room, or held for the next join; 0 or -1 (the
 * webhook fails). */
int bridge_muc_message(const struct net_event *ev,
                       const struct store_account *a);
/* A group's change (ev->kind NET_EVENT_GROUP) for the account: the room
 * stored and the user invited, forgotten, or its members changed; 0 or
 * -1 (the webhook fails). */
int bridge_muc_group(const struct net_event *ev, const struct store_account *a);
struct bridge_job;
struct message_in;
struct store_outbox;

/* Handles a message to a room JID (a groupchat is queued for the group);
 * 1 when it was one, 0 if not. */
int bridge_muc_user_message(xmpp_stanza_t *st, const struct message_in *in);
/* Sends a room text job of outbox row o; once WhatsApp took it, it is
 * reflected to the user's resources in the room (an error to the sender
 * if it failed for good). */
void bridge_muc_send(const struct store_outbox *o, const struct bridge_job *j);
/* Handles a presence to a room JID; 1 when it was one (handled), 0 to let
 * the roster have it. */
int bridge_muc_presence(xmpp_stanza_t *st);
/* The disco handler for rooms and the gateway's items (disco_node_fn). */
int bridge_muc_disco(xmpp_stanza_t *iq, const char *node, int items, void *arg);
/* The account's lid ("<digits>@lid") is the number phone (digits): the
 * rooms' members known by that lid alone get it, and the user's resources
 * in those rooms see it (bridge_muc_people.c); 0 or -1. */
int bridge_muc_lid_known(const struct store_account *a, const char *lid,
                         const char *phone);
/* The group's file network_id of account account_id was fetched (url)
 * or not (url NULL, body a notice): kept with body, and shown with the
 * room's rows that waited behind it (in the caller's transaction). */
void bridge_muc_file_done(long long account_id, const char *group,
                          const char *network_id, const char *body,
                          const char *url);
/* The group's file network_id is fetched again later: the room's rows
 * behind it wait for it no more. */
void bridge_muc_file_defer(long long account_id, const char *group,
                           const char *network_id);
/* Tells every resource in a room that the service goes down (110, 332:
 * clients join again once it is back). */
void bridge_muc_shutdown(void);
/* Forgets every joined resource (shutdown). */
void bridge_muc_free(void);

#endif
