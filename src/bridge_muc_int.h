/* SPDX-License-Identifier: MIT */
/* Private to bridge_muc.c and bridge_muc_msg.c: the joined resources, a
 * room's members and nicks, and what a stanza to a room is about. */
#ifndef FERRY_BRIDGE_MUC_INT_H
#define FERRY_BRIDGE_MUC_INT_H

#include <stddef.h>

#define NS_MUC "http://jabber.org/protocol/muc"
#define NS_MUC_USER NS_MUC "#user"
#define NS_OCCUPANT_ID "urn:xmpp:occupant-id:0"
#define NS_SID "urn:xmpp:sid:0"
#define BRIDGE_MUC_MEMBERS_MAX 2048
#define BRIDGE_MUC_PENDING_MAX 1000 /* held messages sent at a join */
#define BRIDGE_MUC_HISTORY_MAX 100  /* stanzas a <history> may ask for */

struct store_account;
struct store_member;
struct store_room;

/* A resource of a user in a room. */
struct bridge_muc_joined {
    struct bridge_muc_joined *next;
    char *full; /* the user's full JID */
    long long room_id;
    char *nick;
};

/* One occupant's presence. */
struct bridge_muc_pres {
    const char *from; /* R/nick */
    const char *to;
    const char *type; /* NULL: available */
    const char *id;
    const char *affiliation, *role;
    const char *jid; /* the real JID, or NULL */
    const char *occupant_id;
    const char *codes[4]; /* NULL-ended */
    const char *nick;     /* the new nick of a 303, or NULL */
};

/* Sends p. */
void bridge_muc_pres_send(const struct bridge_muc_pres *p);
/* The XEP-0045 affiliation and role of a member's role ("owner", "admin"
 * or "member"). */
const char *bridge_muc_affiliation(const char *role);
const char *bridge_muc_role(const char *role);
struct net_group;
/* Stores group g of the account and its members (me: the account's phone
 * digits, or NULL); the room's id, or -1. */
long long bridge_muc_store_group(long long account_id, const char *me,
                                 const struct net_group *g);
/* Tells user of the group's room: an XEP-0402 bookmark published to their
 * PEP through XEP-0356 where their server grants it, else (or when that
 * fails) an XEP-0249 invitation queued in the inbox
 * (bridge_muc_bookmark.c). */
void bridge_muc_invite(long long account_id, const char *user,
                       const char *group, const char *subject);
/* Removes the room's bookmark from user's PEP where their server lets the
 * gateway (the user left the group). */
void bridge_muc_unbookmark(const char *user, const char *group);

/* The resources in rooms (of every user). */
extern struct bridge_muc_joined *bridge_muc_list;

/* What a stanza to a room is about. */
struct bridge_muc_ctx {
    const char *full; /* the user's full JID */
    char *bare;
    char *room_jid; /* bare */
    char *group;
    struct store_account *a;
    struct store_room *room;
};

/* Fills c for a stanza from from to to; 0 when to is a room JID (c->a
 * and c->room may be NULL: not registered, no such group), -1 if not;
 * free it with bridge_muc_ctx_free() either way. */
int bridge_muc_ctx(struct bridge_muc_ctx *c, const char *from, const char *to);
/* Answers iq with an error when c has no account (registration-required)
 * or no room (item-not-found); 1 when it did. */
int bridge_muc_iq_refused(xmpp_stanza_t *iq, const struct bridge_muc_ctx *c);
void bridge_muc_ctx_free(struct bridge_muc_ctx *c);
/* The resource full in the room, or NULL. */
struct bridge_muc_joined *bridge_muc_find(const char *full, long long room_id);
/* 1 when j is a resource of user (a bare JID) in room room_id: room ids
 * are never reused, and a room is one user's, but a resource is checked
 * against its user all the same before anything of the room goes to it. */
int bridge_muc_in(const struct bridge_muc_joined *j, long long room_id,
                  const char *user);
/* The room's members (caller frees with bridge_muc_members_free()). */
struct store_member **bridge_muc_members(long long room_id, size_t *n);
void bridge_muc_members_free(struct store_member **m, size_t n);
/* Unique nicks for the members (NULL for the account itself). */
char **bridge_muc_nicks(struct store_member **m, size_t n);
void bridge_muc_nicks_free(char **nicks, size_t n);
/* The account's own member row among m, or NULL. */
const struct store_member *bridge_muc_self(struct store_member **m, size_t n);
/* XEP-0421: a stable pseudonymous id of a participant, per user and
 * room, into out. */
void bridge_muc_occupant_id(const char *user, const char *group,
                            const char *participant, char out[65]);
struct store_room_message_in;

/* What writing a room's rows for its user's resources needs
 * (bridge_muc_xml.c). */
struct bridge_muc_view {
    const char *user; /* the user's bare JID */
    const char *group;
    const char *room_jid; /* bare */
    long long room_id;
    struct store_member **m; /* the members, with their nicks */
    char **nicks;
    size_t n;
};

/* Reads the room's members into v (strings borrowed); release it with
 * bridge_muc_view_reset(). */
void bridge_muc_view_init(struct bridge_muc_view *v, const char *user,
                          const char *group, const char *room_jid,
                          long long room_id);
void bridge_muc_view_reset(struct bridge_muc_view *v);
/* The network's own key of a message id (full or bare). Caller frees. */
char *bridge_muc_key(const char *id);
/* The member's participant id that author names, or author. */
const char *bridge_muc_who(const struct bridge_muc_view *v, const char *author);
/* The nick of author in the room (self_nick when it is the user, if not
 * NULL) and, in *who, the participant its occupant-id comes from. Caller
 * frees the nick. */
char *bridge_muc_author(const struct bridge_muc_view *v, const char *author,
                        const char *self_nick, const char **who);
/* The stanza of the kept row r to the resource to (in the room as
 * self_nick), with an XEP-0203 delay when delayed; to NULL: as archived
 * (no to, the author's real JID in <x/>). Caller frees. */
char *bridge_muc_render(const struct bridge_muc_view *v,
                        const struct store_room_message_in *r, const char *to,
                        const char *self_nick, int delayed);
/* What a join's <history> asks for (XEP-0045 7.2.14); -1: not said. */
struct bridge_muc_hist {
    int given; /* a <history> came (else: the held messages) */
    long long maxstanzas, maxchars;
    long long since; /* unix seconds (seconds and since: the later) */
};

/* ---- the people of a room (bridge_muc_people.c) ---- */

/* Answers vcard-temp on occupant JIDs. */
void bridge_muc_people_init(void);
/* Applies [groups] mention_notice. */
void bridge_muc_people_configure(int mention_notice);
/* The members of the room that got a number or another nick since they
 * were before[0..nb-1] (with their nicks bnicks) are shown again to the
 * user's resources in it: a nick change (303) when the nick changed, the
 * same occupant-id, the new real JID. */
void bridge_muc_renamed(const char *user, const struct store_room *room,
                        struct store_member **before, char **bnicks, size_t nb);
/* A text r of the room came while none of the user's resources was in it:
 * one notice to the user when it mentions them, until they join the room
 * again; 0 or -1. */
int bridge_muc_notice(const struct store_account *a,
                      const struct store_room *room,
                      const struct store_room_message_in *r);

/* The history a joining resource (as nick) asked for h, or the messages
 * held for the next join; nothing is held afterwards (bridge_muc_msg.c). */
void bridge_muc_history(const struct bridge_muc_ctx *c,
                        const struct bridge_muc_view *v, const char *nick,
                        const struct bridge_muc_hist *h);

/* Adds the field var (of type, unless NULL) with value to the data form x:
 * the room info form, the bookmark's publish-options. */
void bridge_muc_field(xmpp_stanza_t *x, const char *var, const char *type,
                      const char *value);

/* A member's real JID, +<number>@gateway (caller frees); NULL while only
 * its lid is known. */
char *bridge_muc_member_jid(const struct store_member *m);

#endif
