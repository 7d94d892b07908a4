/* SPDX-License-Identifier: MIT */
/* Group messages both ways (issue 14): from the network, kept once and
 * queued to the user's resources in the room (or held for the next join);
 * from a joined resource, a room_text outbox row sent to the group and
 * reflected once the network took it. */
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "bridge_core.h"
#include "bridge_job.h"
#include "bridge_muc.h"
#include "bridge_muc_int.h"
#include "component.h"
#include "jid.h"
#include "log.h"
#include "message.h"
#include "net.h"
#include "net_backend.h"
#include "queue.h"
#include "store.h"
#include "store_room.h"
#include "util.h"

/* 1 when author (an id as a message names its author) is member m. */
static int bridge_muc_is(const struct store_member *m, const char *author)
{
    size_t n = strspn(author, "0123456789");
    const char *domain = author + n;
    const char *digits = NULL;

    if (strcmp(m->participant, author) == 0)
        return 1;
    if (n == 0)
        return 0;
    if (strcmp(domain, "@lid") == 0)
        digits = m->lid;
    else if (strcmp(domain, "@c.us") == 0 ||
             strcmp(domain, "@s.whatsapp.net") == 0)
        digits = m->phone;
    return digits != NULL && strlen(digits) == n &&
           strncmp(digits, author, n) == 0;
}

/* The nick of author in the room (nicks as bridge_muc_nicks() made them)
 * and, in *who, the participant id its occupant-id comes from. Caller
 * frees the nick. */
static char *bridge_muc_author(struct store_member **m, char **nicks, size_t n,
                               const char *author, const char **who)
{
    size_t i, d = strspn(author, "0123456789");

    for (i = 0; i < n; i++)
        if (nicks[i] != NULL && bridge_muc_is(m[i], author)) {
            *who = m[i]->participant;
            return xstrdup(nicks[i]);
        }
    *who = author;
    if (d > 0 && strcmp(author + d, "@lid") == 0)
        return xasprintf("~%.*s", (int)d, author);
    if (d > 0)
        return xasprintf("+%.*s", (int)d, author);
    return xstrdup(author);
}

/* A groupchat from R/nick to a resource: the network's id as its id and
 * as the room's stanza-id; stamp: sent later (XEP-0203), 0 if live.
 * Caller frees. */
static char *bridge_muc_groupchat(const char *room_jid, const char *nick,
                                  const char *to, const char *network_id,
                                  const char *body, const char *oid,
                                  long long stamp)
{
    xmpp_stanza_t *m =
        xmpp_message_new(component_ctx(), "groupchat", to, network_id);
    xmpp_stanza_t *e;
    char *from = xasprintf("%s/%s", room_jid, nick), *xml, *delayed;

    xmpp_stanza_set_from(m, from);
    component_text_elem(m, "body", body);
    e = component_elem(m, "stanza-id", NS_SID);
    xmpp_stanza_set_attribute(e, "id", network_id);
    xmpp_stanza_set_attribute(e, "by", room_jid);
    e = component_elem(m, "occupant-id", NS_OCCUPANT_ID);
    xmpp_stanza_set_attribute(e, "id", oid);
    xml = message_take_xml(m);
    free(from);
    if (stamp <= 0)
        return xml;
    delayed = message_add_delay(xml, room_jid, stamp);
    if (delayed == NULL)
        return xml;
    free(xml);
    return delayed;
}

/* The messages that came while no resource was in the room, with their
 * time (XEP-0203), to the joining resource; then no longer pending. */
void bridge_muc_history(const struct bridge_muc_ctx *c, struct store_member **m,
                        char **nicks, size_t n)
{
    struct store_room_message **rows;
    size_t i, nrows;
    const char *who;
    char *nick, *xml, oid[65];
    long long last = 0;

    store_room_pending(bridge_store(), c->room->id, BRIDGE_MUC_PENDING_MAX,
                       &rows, &nrows);
    for (i = 0; i < nrows; i++) {
        nick = bridge_muc_author(m, nicks, n, rows[i]->author, &who);
        bridge_muc_occupant_id(c->bare, c->group, who, oid);
        xml = bridge_muc_groupchat(c->room_jid, nick, c->full,
                                   rows[i]->network_id, rows[i]->body, oid,
                                   rows[i]->stamp);
        component_send_raw(xml, strlen(xml));
        last = rows[i]->id;
        free(xml);
        free(nick);
        store_room_message_free(rows[i]);
    }
    free(rows);
    if (last > 0)
        store_room_pending_clear(bridge_store(), c->room->id, last);
}

/* ---- messages from the network ---- */

/* The body of a group message: its text, or what ferry says of it. */
static char *bridge_muc_body(const struct net_event *ev)
{
    if (ev->text != NULL && ev->text[0] != '\0')
        return xstrdup(ev->text);
    return xasprintf("[%s] (not shown in groups yet)",
                     ev->type ? ev->type : "message");
}

/* 1 when a resource of the user is in the room. */
static int bridge_muc_anyone(long long room_id, const char *user)
{
    struct bridge_muc_joined *j;

    for (j = bridge_muc_list; j != NULL; j = j->next)
        if (bridge_muc_in(j, room_id, user))
            return 1;
    return 0;
}

/* Queues a kept message to every resource in the room. */
static int bridge_muc_deliver(const struct store_account *a,
                              const struct store_room *room,
                              const struct net_event *ev, const char *body)
{
    size_t n = 0;
    struct store_member **m = bridge_muc_members(room->id, &n);
    char **nicks = bridge_muc_nicks(m, n), *nick, *room_jid, oid[65];
    const char *who;
    struct bridge_muc_joined *j;
    int rc = 0;

    room_jid = jid_of(room->group_id, component_jid());
    nick = bridge_muc_author(m, nicks, n, ev->author, &who);
    bridge_muc_occupant_id(a->jid, room->group_id, who, oid);
    for (j = bridge_muc_list; j != NULL && room_jid != NULL && rc == 0;
         j = j->next)
        if (bridge_muc_in(j, room->id, a->jid))
            rc = bridge_inbox(a->id, j->full, ev->id,
                              bridge_muc_groupchat(room_jid, nick, j->full,
                                                   ev->id, body, oid, 0));
    free(room_jid);
    free(nick);
    bridge_muc_nicks_free(nicks, n);
    bridge_muc_members_free(m, n);
    return rc;
}

int bridge_muc_message(const struct net_event *ev,
                       const struct store_account *a)
{
    struct store_room *room = store_room_get(bridge_store(), a->id, ev->group);
    char *body;
    long long id;
    int joined, rc = 0;

    if (room == NULL && store_room_put(bridge_store(), a->id, ev->group, "") >
                            0) /* a group not learnt yet: kept all the same */
        room = store_room_get(bridge_store(), a->id, ev->group);
    if (room == NULL)
        return -1;
    joined = bridge_muc_anyone(room->id, a->jid);
    body = bridge_muc_body(ev);
    id = store_room_message_add(bridge_store(), room->id, ev->id, ev->author,
                                body, ev->timestamp, !joined);
    if (id < 0)
        rc = -1;
    else if (id > 0 && joined)
        rc = bridge_muc_deliver(a, room, ev, body);
    free(body);
    store_room_free(room);
    return rc;
}

/* ---- messages to the group ---- */

/* A message error from the room to the user's resource. */
static void bridge_muc_message_error(const char *room_jid, const char *to,
                                     const char *id, const char *type,
                                     const char *condition, const char *text)
{
    char *xml = message_error_xml(room_jid, to, id, type, condition, text);

    if (xml != NULL)
        component_send_raw(xml, strlen(xml));
    free(xml);
}

/* A groupchat from a resource: queued for the group when the resource is
 * in the room (c filled). */
static void bridge_muc_on_groupchat(const struct message_in *in,
                                    const struct bridge_muc_ctx *c)
{
    struct bridge_job j = {.kind = BRIDGE_JOB_ROOM_TEXT};

    if (in->body == NULL || in->body[0] == '\0')
        return; /* chat states, subjects: not yet */
    if (c->a == NULL)
        bridge_muc_message_error(c->room_jid, c->full, in->id, "auth",
                                 "registration-required",
                                 "Register with this gateway first");
    else if (c->room == NULL)
        bridge_muc_message_error(c->room_jid, c->full, in->id, "cancel",
                                 "item-not-found",
                                 "You are not in this WhatsApp group");
    else if (bridge_muc_find(c->full, c->room->id) == NULL)
        bridge_muc_message_error(c->room_jid, c->full, in->id, "cancel",
                                 "not-acceptable", "Join the room first");
    else {
        j.text = in->body;
        j.room = c->group;
        j.stanza_id = in->id;
        j.origin_id = in->origin_id;
        j.sender = c->full;
        if (bridge_outbox_put(0, c->a->id, 0, 0, &j) < 0)
            bridge_muc_message_error(c->room_jid, c->full, in->id, "wait",
                                     "internal-server-error",
                                     "The gateway could not keep it");
    }
}

int bridge_muc_user_message(xmpp_stanza_t *st, const struct message_in *in)
{
    struct bridge_muc_ctx c;

    if (bridge_muc_ctx(&c, in->from, in->to) < 0 ||
        (c.room == NULL && strcmp(in->type, "groupchat") != 0)) {
        bridge_muc_ctx_free(&c); /* not a room of the user's: a contact's */
        return 0;
    }
    if (strcmp(in->type, "groupchat") == 0)
        bridge_muc_on_groupchat(in, &c);
    else if (in->body != NULL)
        message_error_reply(st, "modify", "not-acceptable",
                            "WhatsApp groups have no private messages");
    bridge_muc_ctx_free(&c);
    return 1;
}

/* A room text being sent. */
struct bridge_muc_send {
    long long outbox_id;
    long long account_id;
    char *room, *text, *stanza_id, *origin_id, *sender;
};

static void bridge_muc_send_free(struct bridge_muc_send *s)
{
    free(s->room);
    free(s->text);
    free(s->stanza_id);
    free(s->origin_id);
    free(s->sender);
    free(s);
}

/* The reflection of a sent text to one resource in the room. */
static char *bridge_muc_reflection(const struct bridge_muc_send *s,
                                   const char *room_jid,
                                   const struct bridge_muc_joined *j,
                                   const char *network_id, const char *oid)
{
    xmpp_stanza_t *m =
        xmpp_message_new(component_ctx(), "groupchat", j->full, s->stanza_id);
    xmpp_stanza_t *e;
    char *from = xasprintf("%s/%s", room_jid, j->nick);

    xmpp_stanza_set_from(m, from);
    component_text_elem(m, "body", s->text);
    if (s->origin_id != NULL) {
        e = component_elem(m, "origin-id", NS_SID);
        xmpp_stanza_set_attribute(e, "id", s->origin_id);
    }
    e = component_elem(m, "stanza-id", NS_SID);
    xmpp_stanza_set_attribute(e, "id", network_id);
    xmpp_stanza_set_attribute(e, "by", room_jid);
    e = component_elem(m, "occupant-id", NS_OCCUPANT_ID);
    xmpp_stanza_set_attribute(e, "id", oid);
    free(from);
    return message_take_xml(m);
}

/* WhatsApp took the text: kept in the room, reflected to every resource
 * in it. */
static void bridge_muc_reflect(const struct bridge_muc_send *s,
                               const struct store_account *a,
                               const char *network_id)
{
    struct store_room *room = store_room_get(bridge_store(), a->id, s->room);
    struct bridge_muc_joined *j;
    char *room_jid = jid_of(s->room, component_jid()), oid[65];
    size_t n = 0;
    struct store_member **m;
    const struct store_member *me;

    if (room == NULL || room_jid == NULL) {
        store_room_free(room);
        free(room_jid);
        return;
    }
    m = bridge_muc_members(room->id, &n);
    me = bridge_muc_self(m, n);
    bridge_muc_occupant_id(a->jid, s->room, me ? me->participant : "self", oid);
    store_room_message_add(bridge_store(), room->id, network_id,
                           me ? me->participant : "self", s->text, now_s(), 0);
    for (j = bridge_muc_list; j != NULL; j = j->next)
        if (bridge_muc_in(j, room->id, a->jid))
            bridge_inbox(
                a->id, j->full, s->stanza_id,
                bridge_muc_reflection(s, room_jid, j, network_id, oid));
    bridge_muc_members_free(m, n);
    store_room_free(room);
    free(room_jid);
}

/* WhatsApp did not take the text: the sender hears why. */
static void bridge_muc_refused(const struct bridge_muc_send *s,
                               const char *text)
{
    char *room_jid = jid_of(s->room, component_jid());
    char *why = xasprintf("WhatsApp did not take the message: %s",
                          text ? text : "no reason given");

    if (room_jid != NULL)
        bridge_muc_message_error(room_jid, s->sender, s->stanza_id, "cancel",
                                 "service-unavailable", why);
    free(why);
    free(room_jid);
}

static void bridge_muc_sent(const struct net_result *r, void *arg)
{
    struct bridge_muc_send *s = arg;
    struct store_account *a;

    store_txn_begin(bridge_store());
    if (r->outcome == NET_OK) {
        queue_out_done(s->outbox_id);
        a = store_account_by_id(bridge_store(), s->account_id);
        if (a != NULL)
            bridge_muc_reflect(s, a, r->id ? r->id : s->stanza_id);
        store_account_free(a);
    } else if (r->outcome == NET_RETRY) {
        if (queue_out_retry(s->outbox_id, r->rate_limited, r->pair_limited,
                            r->text))
            bridge_muc_refused(s, r->text);
    } else {
        if (r->outcome == NET_AUTH)
            bridge_auth_failed(s->account_id, r->text);
        queue_out_done(s->outbox_id);
        bridge_muc_refused(s, r->text);
    }
    bridge_muc_send_free(s);
}

void bridge_muc_send(const struct store_outbox *o, const struct bridge_job *j)
{
    struct store_account *a =
        store_account_by_id(bridge_store(), o->account_id);
    struct bridge_muc_send *s = xcalloc(1, sizeof(*s));
    struct net_out out = {.kind = "text", .to = j->room, .text = j->text};
    struct net_account na;
    struct net_result r;

    s->outbox_id = o->id;
    s->account_id = o->account_id;
    s->room = xstrdup(j->room ? j->room : "");
    s->text = xstrdup(j->text ? j->text : "");
    s->stanza_id = j->stanza_id ? xstrdup(j->stanza_id) : NULL;
    s->origin_id = j->origin_id ? xstrdup(j->origin_id) : NULL;
    s->sender = xstrdup(j->sender ? j->sender : "");
    memset(&r, 0, sizeof(r));
    if (a == NULL || j->room == NULL || j->text == NULL ||
        net_set_find(bridge_backends(), a->backend) == NULL ||
        bridge_backend_of(a)->groups == NULL) {
        r.outcome = NET_FAIL;
        r.text = "The gateway cannot send this queued message";
        bridge_muc_sent(&r, s);
    } else if (strcmp(a->state, "active") != 0) {
        r.outcome = NET_AUTH;
        r.text = a->last_error ? a->last_error : "Register again first";
        bridge_muc_sent(&r, s);
    } else {
        na.id = a->network_id;
        na.token = a->token;
        bridge_backend_of(a)->send(&na, &out, bridge_muc_sent, s);
    }
    store_account_free(a);
}
