/* SPDX-License-Identifier: MIT */
/* Group messages both ways (issue 14): from the network, kept once and
 * queued to the user's resources in the room (or held for the next join);
 * from a joined resource, a room_text outbox row sent to the group and
 * reflected once the network took it. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "bridge_core.h"
#include "bridge_job.h"
#include "bridge_media.h"
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

/* The messages that came while no resource was in the room, with their
 * time (XEP-0203), to the joining resource (as nick). */
static void bridge_muc_held(const struct bridge_muc_ctx *c,
                            const struct bridge_muc_view *v, const char *nick)
{
    struct store_room_message **rows;
    struct store_room_message_in r;
    size_t i, nrows;
    char *xml;

    if (store_room_pending(bridge_store(), c->room->id, BRIDGE_MUC_PENDING_MAX,
                           &rows, &nrows) < 0)
        log_warn("bridge: room %lld: held messages not read", c->room->id);
    for (i = 0; i < nrows; i++) {
        store_room_message_in_of(rows[i], &r);
        xml = bridge_muc_render(v, &r, c->full, nick, 1);
        component_send_raw(xml, strlen(xml));
        free(xml);
        store_room_message_free(rows[i]);
    }
    free(rows);
}

/* The room's last rows that meet h, oldest first, to the joining
 * resource: whole stanzas, as many as maxstanzas, maxchars and since
 * allow. */
static void bridge_muc_asked(const struct bridge_muc_ctx *c,
                             const struct bridge_muc_view *v, const char *nick,
                             const struct bridge_muc_hist *h)
{
    struct store_room_message **rows;
    struct store_room_message_in r;
    size_t i, k = 0, nrows, max = BRIDGE_MUC_HISTORY_MAX;
    long long chars = 0;
    char **xml;

    if (h->maxstanzas >= 0 && (size_t)h->maxstanzas < max)
        max = (size_t)h->maxstanzas;
    if (max == 0 || h->maxchars == 0)
        return;
    if (store_room_recent(bridge_store(), c->room->id, h->since, max, &rows,
                          &nrows) < 0)
        log_warn("bridge: room %lld: history not read", c->room->id);
    xml = xcalloc(nrows ? nrows : 1, sizeof(*xml));
    for (k = 0; k < nrows; k++) { /* newest first, until maxchars */
        store_room_message_in_of(rows[k], &r);
        xml[k] = bridge_muc_render(v, &r, c->full, nick, 1);
        chars += (long long)utf8_chars(xml[k]);
        if (h->maxchars > 0 && chars > h->maxchars) {
            free(xml[k]);
            break;
        }
    }
    for (i = k; i-- > 0;) {
        component_send_raw(xml[i], strlen(xml[i]));
        free(xml[i]);
    }
    for (i = 0; i < nrows; i++)
        store_room_message_free(rows[i]);
    free(rows);
    free(xml);
}

void bridge_muc_history(const struct bridge_muc_ctx *c,
                        const struct bridge_muc_view *v, const char *nick,
                        const struct bridge_muc_hist *h)
{
    if (h->given)
        bridge_muc_asked(c, v, nick, h);
    else
        bridge_muc_held(c, v, nick);
    /* what was held is in the archive (and MAM) either way */
    if (store_room_pending_clear(bridge_store(), c->room->id, INT64_MAX) < 0)
        log_warn("bridge: room %lld: held messages not marked sent",
                 c->room->id);
}

/* ---- messages from the network ---- */

/* What a deleted text says in the store (and so in history and MAM). */
#define BRIDGE_MUC_DELETED "(a deleted message)"

/* The body of a group message: its text, or what ferry says of it (a
 * file's until it is fetched: its caption, or its kind). */
static char *bridge_muc_body(const struct net_event *ev)
{
    if (ev->text != NULL && ev->text[0] != '\0')
        return xstrdup(ev->text);
    if (ev->media != NULL)
        return xasprintf("[%s]", ev->media->kind);
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

/* Queues a kept row to every resource of the user in the room. */
static int bridge_muc_deliver(const struct store_account *a,
                              const struct store_room *room,
                              const struct store_room_message_in *r)
{
    char *room_jid = jid_of(room->group_id, component_jid());
    struct bridge_muc_view v;
    struct bridge_muc_joined *j;
    int rc = 0;

    if (room_jid == NULL)
        return 0;
    bridge_muc_view_init(&v, a->jid, room->group_id, room_jid, room->id);
    for (j = bridge_muc_list; j != NULL && rc == 0; j = j->next)
        if (bridge_muc_in(j, room->id, a->jid))
            rc = bridge_inbox(a->id, j->full, r->network_id,
                              bridge_muc_render(&v, r, j->full, j->nick, 0));
    bridge_muc_view_reset(&v);
    free(room_jid);
    return rc;
}

/* The message id names in the room: its full network id when the room
 * has it, else id itself. Caller frees. */
static char *bridge_muc_resolve(long long room_id, const char *id,
                                struct store_room_message **found)
{
    char *key = bridge_muc_key(id);
    struct store_room_message *t =
        key ? store_room_message_find(bridge_store(), room_id, key) : NULL;
    char *full = t ? xstrdup(t->network_id) : id ? xstrdup(id) : NULL;

    free(key);
    if (found != NULL)
        *found = t;
    else
        store_room_message_free(t);
    return full;
}

/* A revoke's kind: "moderate" when someone other than the author of the
 * message t took it back (an admin), else "retract". */
static const char *bridge_muc_revoke_kind(const struct store_account *a,
                                          const struct store_room *room,
                                          const struct store_room_message *t,
                                          const char *by)
{
    struct bridge_muc_view v;
    const char *kind = "retract";

    if (t == NULL || by == NULL)
        return kind;
    bridge_muc_view_init(&v, a->jid, room->group_id, "", room->id);
    if (strcmp(bridge_muc_who(&v, t->author), bridge_muc_who(&v, by)) != 0)
        kind = "moderate";
    bridge_muc_view_reset(&v);
    return kind;
}

/* The row a group event is kept as; what it owns goes in owned (body,
 * target, key: the caller frees them). */
static void bridge_muc_row(const struct net_event *ev,
                           const struct store_account *a,
                           const struct store_room *room,
                           struct store_room_message_in *r, char **owned)
{
    struct store_room_message *t = NULL;

    memset(r, 0, sizeof(*r));
    r->network_id = ev->id;
    r->author = ev->author;
    r->stamp = ev->timestamp > 0 ? ev->timestamp : now_s();
    r->key = owned[2] = bridge_muc_key(ev->id);
    switch (ev->kind) {
    case NET_EVENT_REACTION:
        r->kind = "reaction";
        r->body = ev->emoji ? ev->emoji : "";
        r->target = owned[1] = bridge_muc_resolve(room->id, ev->target, NULL);
        break;
    case NET_EVENT_EDIT:
        r->kind = "edit";
        r->body = ev->text ? ev->text : "";
        r->target = owned[1] = bridge_muc_resolve(room->id, ev->target, NULL);
        break;
    case NET_EVENT_REVOKE:
        r->body = "";
        r->target = owned[1] = bridge_muc_resolve(room->id, ev->target, &t);
        r->kind = bridge_muc_revoke_kind(a, room, t, ev->author);
        store_room_message_free(t);
        break;
    default:
        r->kind = "text";
        r->body = owned[0] = bridge_muc_body(ev);
        r->target = owned[1] =
            ev->reply_to ? bridge_muc_resolve(room->id, ev->reply_to, NULL)
                         : NULL;
        break;
    }
}

/* 1 when the room has the user's message id already: a message ferry
 * sent (kept when the network took it), which the network tells of again
 * (a full id that may name the author too). */
static int bridge_muc_had(long long room_id, const char *id)
{
    char *key = bridge_muc_key(id);
    struct store_room_message *t =
        key ? store_room_message_find(bridge_store(), room_id, key) : NULL;
    int had = t != NULL;

    store_room_message_free(t);
    free(key);
    return had;
}

/* The user's id in the room (their member's participant, or "self").
 * Caller frees. */
static char *bridge_muc_me(long long room_id)
{
    size_t n = 0;
    struct store_member **m = bridge_muc_members(room_id, &n);
    const struct store_member *me = bridge_muc_self(m, n);
    char *who = xstrdup(me ? me->participant : "self");

    bridge_muc_members_free(m, n);
    return who;
}

/* The member of m[0..n-1] that author (an id in the group) is, or
 * NULL. */
static const struct store_member *
bridge_muc_member_of(struct store_member **m, size_t n, const char *author)
{
    size_t i, d = strcspn(author, "@");

    for (i = 0; i < n; i++)
        if (strcmp(m[i]->participant, author) == 0 ||
            (m[i]->lid != NULL && strlen(m[i]->lid) == d &&
             strncmp(m[i]->lid, author, d) == 0 &&
             strcmp(author + d, "@lid") == 0) ||
            (m[i]->phone != NULL && strlen(m[i]->phone) == d &&
             strncmp(m[i]->phone, author, d) == 0 &&
             strcmp(author + d, "@c.us") == 0))
            return m[i];
    return NULL;
}

/* The push name a message carries becomes its author's in the room; the
 * user's resources in it see the nick change (XEP-0045 7.6). */
static int bridge_muc_push_name(const struct net_event *ev,
                                const struct store_account *a,
                                const struct store_room *room)
{
    size_t n = 0;
    struct store_member **m;
    const struct store_member *who;
    char **nicks;
    int rc = 0;

    if (ev->from_me || ev->author == NULL || ev->peer_name == NULL ||
        ev->peer_name[0] == '\0' || strlen(ev->peer_name) > 256 ||
        !utf8_valid(ev->peer_name, strlen(ev->peer_name)))
        return 0;
    m = bridge_muc_members(room->id, &n);
    who = bridge_muc_member_of(m, n, ev->author);
    if (who != NULL && (who->push_name == NULL ||
                        strcmp(who->push_name, ev->peer_name) != 0)) {
        nicks = bridge_muc_nicks(m, n);
        rc = store_room_member_name(bridge_store(), room->id, who->participant,
                                    ev->peer_name);
        if (rc == 0)
            bridge_muc_renamed(a->jid, room, m, nicks, n);
        bridge_muc_nicks_free(nicks, n);
    }
    bridge_muc_members_free(m, n);
    return rc;
}

/* Shows the room's rows that waited and wait no more (a file fetched, or
 * gone back to fetching), in order, to the user's resources in it (else
 * they are held for the next join). */
static void bridge_muc_release(const struct store_account *a,
                               const struct store_room *room)
{
    struct store_room_message **rows;
    struct store_room_message_in r;
    size_t i, n;
    int joined = bridge_muc_anyone(room->id, a->jid), more = 1;

    while (more) {
        if (store_room_released(bridge_store(), room->id,
                                BRIDGE_MUC_PENDING_MAX, &rows, &n) < 0)
            log_warn("bridge: room %lld: rows that waited not read", room->id);
        for (i = 0; i < n; i++) {
            store_room_message_in_of(rows[i], &r);
            if (joined)
                bridge_muc_deliver(a, room, &r);
        }
        if (n > 0 && store_room_release_mark(bridge_store(), room->id,
                                             rows[n - 1]->id, !joined) < 0)
            n = 0;
        more = n == BRIDGE_MUC_PENDING_MAX;
        for (i = 0; i < n; i++)
            store_room_message_free(rows[i]);
        free(rows);
    }
}

/* The account and room of a group's file job, or -1. */
static int bridge_muc_file_room(long long account_id, const char *group,
                                struct store_account **a,
                                struct store_room **room)
{
    *a = store_account_by_id(bridge_store(), account_id);
    *room = *a ? store_room_get(bridge_store(), account_id, group) : NULL;
    if (*room != NULL)
        return 0;
    log_warn("bridge: a file of a group that is gone dropped");
    store_account_free(*a);
    return -1;
}

void bridge_muc_file_done(long long account_id, const char *group,
                          const char *network_id, const char *body,
                          const char *url)
{
    struct store_account *a;
    struct store_room *room;

    if (bridge_muc_file_room(account_id, group, &a, &room) < 0)
        return;
    if (store_room_file_end(bridge_store(), room->id, network_id, body, url) <
        0)
        log_warn("bridge: room %lld: a file not kept", room->id);
    bridge_muc_release(a, room);
    store_room_free(room);
    store_account_free(a);
}

void bridge_muc_file_defer(long long account_id, const char *group,
                           const char *network_id)
{
    struct store_account *a;
    struct store_room *room;

    store_txn_begin(bridge_store());
    if (bridge_muc_file_room(account_id, group, &a, &room) < 0)
        return;
    if (store_room_file_defer(bridge_store(), room->id, network_id) < 0)
        log_warn("bridge: room %lld: a file's place not given up", room->id);
    bridge_muc_release(a, room);
    store_room_free(room);
    store_account_free(a);
}

int bridge_muc_message(const struct net_event *ev,
                       const struct store_account *a)
{
    struct store_room *room = store_room_get(bridge_store(), a->id, ev->group);
    struct store_room_message_in r;
    char *owned[3] = {NULL, NULL, NULL}, *me = NULL;
    long long id;
    int joined, holding, rc = 0;
    int file = ev->kind == NET_EVENT_MESSAGE && ev->media != NULL;

    if (ev->id == NULL || (ev->author == NULL && !ev->from_me))
        return 0;
    if (room == NULL && store_room_put(bridge_store(), a->id, ev->group, "") >
                            0) /* a group not learnt yet: kept all the same */
        room = store_room_get(bridge_store(), a->id, ev->group);
    if (room == NULL)
        return -1;
    if (ev->from_me && bridge_muc_had(room->id, ev->id)) {
        store_room_free(room); /* ferry's own send: reflected already */
        return 0;
    }
    joined = bridge_muc_anyone(room->id, a->jid);
    holding = store_room_holding(bridge_store(), room->id);
    if (holding < 0 || bridge_muc_push_name(ev, a, room) < 0) {
        store_room_free(room);
        return -1;
    }
    bridge_muc_row(ev, a, room, &r, owned);
    r.waiting = file ? 1 : holding ? 2 : 0; /* behind a file on its way */
    if (ev->from_me) /* written on the phone: from the user's own nick */
        r.author = me = bridge_muc_me(room->id);
    id = store_room_message_put(bridge_store(), room->id, &r, !joined);
    if (id > 0 && ev->kind == NET_EVENT_REVOKE && r.target != NULL &&
        store_room_message_blank(bridge_store(), room->id, r.target,
                                 BRIDGE_MUC_DELETED) < 0)
        id = -1; /* a deleted text is not kept */
    if (id > 0 && file && bridge_media_in_group(a, ev->group, ev) < 0)
        id = -1;
    if (id < 0)
        rc = -1;
    else if (id > 0 && joined && r.waiting == 0)
        rc = bridge_muc_deliver(a, room, &r);
    else if (id > 0 && !joined && strcmp(r.kind, "text") == 0)
        rc = bridge_muc_notice(a, room, &r);
    free(owned[0]);
    free(owned[1]);
    free(owned[2]);
    free(me);
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

/* The full network id of the room's message id names, or NULL when the
 * room has none. Caller frees. */
static char *bridge_muc_known(long long room_id, const char *id)
{
    struct store_room_message *t = NULL;
    char *full = bridge_muc_resolve(room_id, id, &t);

    if (t == NULL) {
        free(full);
        full = NULL;
    }
    store_room_message_free(t);
    return full;
}

/* A correction (XEP-0308) or retraction (XEP-0424) of the user's own text
 * in the room, named by the id a client sent it with (or, for a
 * retraction, the room's stanza-id) into j: NULL, or why not (and the
 * error's condition in *cond). owned holds what j borrows. */
static const char *bridge_muc_change(const struct message_in *in,
                                     const struct bridge_muc_ctx *c,
                                     struct bridge_job *j, char **owned,
                                     const char **cond)
{
    const char *id = in->retract_id ? in->retract_id : in->replace_id;
    const struct net_caps *caps = &bridge_backend_of(c->a)->caps;
    struct store_room_message *t;
    char *full;

    *cond = "feature-not-implemented";
    if (in->retract_id != NULL ? !caps->retractions_out : !caps->edits_out)
        return "This network does not let the gateway change sent messages";
    t = store_room_message_mine(bridge_store(), c->room->id, id);
    *cond = "item-not-found";
    if (t == NULL && in->retract_id != NULL) {
        full = bridge_muc_resolve(c->room->id, id, &t);
        free(full);
        if (t != NULL && t->xmpp_id == NULL) { /* someone else's */
            store_room_message_free(t);
            t = NULL;
        }
    }
    if (t == NULL)
        return "The gateway does not know this message of yours in the "
               "group, so WhatsApp cannot change it";
    j->target = owned[0] = xstrdup(t->network_id);
    store_room_message_free(t);
    if (in->retract_id != NULL) {
        j->kind = BRIDGE_JOB_ROOM_RETRACT;
        j->text = "";
        return NULL;
    }
    j->kind = BRIDGE_JOB_ROOM_EDIT;
    j->text = owned[1] = message_body_without_fallback(in);
    *cond = "not-acceptable";
    if (j->text == NULL || j->text[0] == '\0' ||
        strlen(j->text) > MESSAGE_BODY_MAX)
        return "WhatsApp cannot take this correction (empty or too long)";
    return NULL;
}

/* A groupchat's job: a reaction to a message of the room (XEP-0444), or a
 * text, a reply (XEP-0461) naming the room's stanza-id; -1 (the sender
 * told why, when it is an error) when it is none the group can take.
 * owned holds what j borrows. */
static int bridge_muc_job(const struct message_in *in,
                          const struct bridge_muc_ctx *c, struct bridge_job *j,
                          char **owned)
{
    const char *cond = "feature-not-implemented", *why = NULL;
    const char *url = bridge_media_url(bridge_backend_of(c->a), in);

    if (in->retract_id != NULL || in->replace_id != NULL) {
        why = bridge_muc_change(in, c, j, owned, &cond);
    } else if (in->reactions_id != NULL) {
        j->kind = BRIDGE_JOB_ROOM_REACTION;
        j->text = in->reaction;
        j->target = owned[0] = bridge_muc_known(c->room->id, in->reactions_id);
        if (j->target == NULL) {
            cond = "item-not-found";
            why = "The gateway does not know that message of the group";
        }
    } else if ((in->body == NULL || in->body[0] == '\0') &&
               in->displayed != NULL) { /* XEP-0333: the group read */
        j->kind = BRIDGE_JOB_ROOM_READ;
        j->target = owned[0] = bridge_muc_known(c->room->id, in->displayed);
        if (j->target == NULL)
            return -1; /* a message WhatsApp does not have: nothing to mark */
    } else if (url != NULL) { /* a file (XEP-0066), with its caption */
        j->kind = BRIDGE_JOB_ROOM_MEDIA;
        j->url = url;
        owned[1] = message_body_without_fallback(in);
        j->text = owned[1] != NULL && owned[1][0] != '\0' &&
                          strcmp(owned[1], j->url) != 0
                      ? owned[1]
                      : NULL;
        if (in->reply_id != NULL)
            j->reply_to = owned[0] =
                bridge_muc_known(c->room->id, in->reply_id);
    } else if (in->body == NULL || in->body[0] == '\0') {
        return -1; /* chat states, subjects: not yet */
    } else if (in->reply_id != NULL &&
               (owned[0] = bridge_muc_known(c->room->id, in->reply_id)) !=
                   NULL) {
        owned[1] = message_body_without_fallback(in);
        j->reply_to = owned[0];
        j->text = owned[1][0] != '\0' ? owned[1] : in->body;
    } else {
        j->text = in->body; /* a quote of a message unknown: as written */
    }
    if (why != NULL)
        bridge_muc_message_error(c->room_jid, c->full, in->id, "cancel", cond,
                                 why);
    return why != NULL ? -1 : 0;
}

/* 1 when st is end-to-end encrypted (OMEMO, OpenPGP) for the room. */
static int bridge_muc_encrypted(xmpp_stanza_t *st, const struct message_in *in)
{
    static const char *const ns[] = {"eu.siacs.conversations.axolotl",
                                     "urn:xmpp:omemo:2", "urn:xmpp:openpgp:0",
                                     "jabber:x:encrypted", NULL};
    int i;

    for (i = 0; ns[i] != NULL; i++)
        if (xmpp_stanza_get_child_by_ns(st, ns[i]) != NULL)
            return 1;
    return (in->body != NULL && strncmp(in->body, "aesgcm://", 9) == 0) ||
           (in->oob_url != NULL && strncmp(in->oob_url, "aesgcm://", 9) == 0);
}

/* What a groupchat from a resource in the room asks that the group cannot
 * take: an error to the sender and 1, or 0. Not not-acceptable, which
 * makes Conversations join again. */
static int bridge_muc_refuse(xmpp_stanza_t *st, const struct message_in *in,
                             const struct bridge_muc_ctx *c)
{
    const char *type = "cancel", *cond = "feature-not-implemented", *why;

    if (xmpp_stanza_get_child_by_name(st, "subject") != NULL &&
        in->body == NULL) {
        type = "auth";
        cond = "forbidden";
        why = "The subject of a WhatsApp group is changed on the phone";
    } else if (bridge_muc_encrypted(st, in)) {
        why = "The members of a WhatsApp group cannot read end-to-end "
              "encrypted (OMEMO) messages: turn encryption off in this room";
    } else if (in->body != NULL && strlen(in->body) > MESSAGE_BODY_MAX) {
        type = "modify";
        cond = "policy-violation";
        why = "This message is too long for the gateway";
    } else {
        return 0;
    }
    bridge_muc_message_error(c->room_jid, c->full, in->id, type, cond, why);
    return 1;
}

/* A groupchat from a resource: queued for the group when the resource is
 * in the room (c filled). */
static void bridge_muc_on_groupchat(xmpp_stanza_t *st,
                                    const struct message_in *in,
                                    const struct bridge_muc_ctx *c)
{
    struct bridge_job j = {.kind = BRIDGE_JOB_ROOM_TEXT};
    char *owned[2] = {NULL, NULL};

    if ((in->body == NULL || in->body[0] == '\0') && in->reactions_id == NULL &&
        in->displayed == NULL && in->retract_id == NULL &&
        in->oob_url == NULL &&
        xmpp_stanza_get_child_by_name(st, "subject") == NULL)
        return; /* chat states: not yet */
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
    else if (!bridge_muc_refuse(st, in, c) &&
             bridge_muc_job(in, c, &j, owned) == 0) {
        j.room = c->group;
        j.stanza_id = in->id;
        j.origin_id = in->origin_id;
        j.sender = c->full;
        if (bridge_outbox_put(0, c->a->id, 0, 0, &j) < 0)
            bridge_muc_message_error(c->room_jid, c->full, in->id, "wait",
                                     "internal-server-error",
                                     "The gateway could not keep it");
    }
    free(owned[0]);
    free(owned[1]);
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
        bridge_muc_on_groupchat(st, in, &c);
    else if (in->body != NULL)
        message_error_reply(st, "modify", "not-acceptable",
                            "WhatsApp groups have no private messages");
    bridge_muc_ctx_free(&c);
    return 1;
}

/* A room text or reaction being sent. */
struct bridge_muc_send {
    long long outbox_id;
    long long account_id;
    const char *kind; /* the row it is kept as: "text", "reaction", "edit"
                         or "retract" */
    int read;
    char *room, *text, *stanza_id, *origin_id, *sender, *target;
    char *url; /* a file's */
};

static void bridge_muc_send_free(struct bridge_muc_send *s)
{
    free(s->room);
    free(s->text);
    free(s->stanza_id);
    free(s->origin_id);
    free(s->sender);
    free(s->target);
    free(s->url);
    free(s);
}

/* WhatsApp took the text or reaction: kept in the room, reflected to
 * every resource of the user in it. */
static void bridge_muc_reflect(const struct bridge_muc_send *s,
                               const struct store_account *a,
                               const char *network_id)
{
    struct store_room *room = store_room_get(bridge_store(), a->id, s->room);
    struct store_room_message_in r;
    struct store_member **m;
    const struct store_member *me;
    char *room_jid = jid_of(s->room, component_jid());
    char *made = network_id ? NULL : component_new_id(), *key;
    size_t n = 0;

    if (room == NULL || room_jid == NULL)
        goto out;
    m = bridge_muc_members(room->id, &n);
    me = bridge_muc_self(m, n);
    memset(&r, 0, sizeof(r));
    r.network_id = network_id ? network_id : made;
    r.author = me ? me->participant : "self";
    r.body = s->text;
    r.stamp = now_s();
    r.kind = s->kind;
    r.target = s->target;
    r.key = key = bridge_muc_key(r.network_id);
    r.xmpp_id = s->stanza_id;
    r.origin_id = s->origin_id;
    r.url = s->url;
    if (store_room_message_put(bridge_store(), room->id, &r, 0) < 0 ||
        (strcmp(r.kind, "retract") == 0 && r.target != NULL &&
         store_room_message_blank(bridge_store(), room->id, r.target,
                                  BRIDGE_MUC_DELETED) < 0))
        log_warn("bridge: room %lld: a sent message not kept", room->id);
    bridge_muc_deliver(a, room, &r);
    free(key);
    bridge_muc_members_free(m, n);
out:
    free(made);
    store_room_free(room);
    free(room_jid);
}

/* WhatsApp did not take the text: the sender hears why (a read marker
 * is only logged). */
static void bridge_muc_refused(const struct bridge_muc_send *s,
                               const char *text)
{
    char *room_jid, *why;

    if (s->read) {
        log_info("bridge: a group was not marked read: %s",
                 text ? text : "no reason given");
        return;
    }
    room_jid = jid_of(s->room, component_jid());
    why = xasprintf("WhatsApp did not take the message: %s",
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
        a = s->read ? NULL /* a marker: nothing to show */
                    : store_account_by_id(bridge_store(), s->account_id);
        if (a != NULL)
            bridge_muc_reflect(s, a,
                               strcmp(s->kind, "text") != 0 ? NULL
                               : r->id                      ? r->id
                                                            : s->stanza_id);
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

/* The longest number a mention names (a member's phone digits). */
#define BRIDGE_MUC_MENTION_MAX 32

/* The mentions of a text to the group: "@<nick>" of a member whose number
 * is known (not the user) at the start or after a space or "(", the
 * longest nick that ends there. */
struct bridge_muc_mentions {
    char *text; /* each written "@<digits>", as WhatsApp has them */
    char **ids; /* "<digits>@c.us", each once */
    size_t n;
};

/* The member whose nick follows at p, or -1; its length in *len. */
static long bridge_muc_nick_at(const struct bridge_muc_view *v, const char *p,
                               size_t *len)
{
    size_t i, n;
    long best = -1;

    *len = 0;
    for (i = 0; i < v->n; i++) {
        if (v->nicks[i] == NULL || v->m[i]->self || v->m[i]->phone == NULL ||
            strlen(v->m[i]->phone) > BRIDGE_MUC_MENTION_MAX)
            continue;
        n = strlen(v->nicks[i]);
        if (n > *len && strncmp(p, v->nicks[i], n) == 0 &&
            !isalnum((unsigned char)p[n]) && p[n] != '_') {
            best = (long)i;
            *len = n;
        }
    }
    return best;
}

/* Adds phone's id to mm's, once. */
static void bridge_muc_mention_add(struct bridge_muc_mentions *mm,
                                   const char *phone)
{
    char *id = xasprintf("%s@c.us", phone);
    size_t i;

    for (i = 0; i < mm->n; i++)
        if (strcmp(mm->ids[i], id) == 0) {
            free(id);
            return;
        }
    mm->ids = xrealloc(mm->ids, (mm->n + 1) * sizeof(*mm->ids));
    mm->ids[mm->n++] = id;
}

/* The mentions of text, a's text to group, into mm (its own copy of the
 * text when there are none). */
static void bridge_muc_mentions_of(const struct store_account *a,
                                   const char *group, const char *text,
                                   struct bridge_muc_mentions *mm)
{
    struct store_room *room = store_room_get(bridge_store(), a->id, group);
    struct bridge_muc_view v;
    struct buf b;
    const char *p = text, *at;
    const char *phone;
    size_t len;
    long k;

    memset(mm, 0, sizeof(*mm));
    if (room == NULL) {
        mm->text = xstrdup(text);
        return;
    }
    bridge_muc_view_init(&v, a->jid, group, "", room->id);
    /* a nick of one character may become a number */
    buf_init(&b, strlen(text) * BRIDGE_MUC_MENTION_MAX + 256);
    while ((at = strchr(p, '@')) != NULL) {
        buf_append(&b, p, (size_t)(at - p) + 1);
        p = at + 1;
        if (at > text && !isspace((unsigned char)at[-1]) && at[-1] != '(')
            continue; /* an address, not a mention */
        k = bridge_muc_nick_at(&v, p, &len);
        if (k < 0)
            continue;
        phone = v.m[k]->phone;
        buf_append(&b, phone, strlen(phone));
        bridge_muc_mention_add(mm, phone);
        p += len;
    }
    buf_append(&b, p, strlen(p));
    mm->text = buf_take(&b);
    bridge_muc_view_reset(&v);
    store_room_free(room);
}

static void bridge_muc_mentions_free(struct bridge_muc_mentions *mm)
{
    size_t i;

    for (i = 0; i < mm->n; i++)
        free(mm->ids[i]);
    free(mm->ids);
    free(mm->text);
}

/* The send of row o's job j, with what its reflection needs (its text
 * and file: bridge_muc_send_body()). */
static struct bridge_muc_send *bridge_muc_send_new(const struct store_outbox *o,
                                                   const struct bridge_job *j)
{
    struct bridge_muc_send *s = xcalloc(1, sizeof(*s));

    s->outbox_id = o->id;
    s->account_id = o->account_id;
    s->kind = j->kind == BRIDGE_JOB_ROOM_REACTION  ? "reaction"
              : j->kind == BRIDGE_JOB_ROOM_EDIT    ? "edit"
              : j->kind == BRIDGE_JOB_ROOM_RETRACT ? "retract"
                                                   : "text";
    s->read = j->kind == BRIDGE_JOB_ROOM_READ;
    /* a reaction's message, or the message a text quotes */
    s->target = strcmp(s->kind, "text") != 0 && j->target ? xstrdup(j->target)
                : strcmp(s->kind, "text") == 0 && j->reply_to
                    ? xstrdup(j->reply_to)
                    : NULL;
    s->room = xstrdup(j->room ? j->room : "");
    s->stanza_id = j->stanza_id ? xstrdup(j->stanza_id) : NULL;
    s->origin_id = j->origin_id ? xstrdup(j->origin_id) : NULL;
    s->sender = xstrdup(j->sender ? j->sender : "");
    return s;
}

/* What s keeps of j and out sends: a file's URL and caption (or the URL),
 * a text with its mentions (in mm, which the caller frees), or j's text. */
static void bridge_muc_send_body(struct bridge_muc_send *s,
                                 const struct bridge_job *j,
                                 const struct store_account *a,
                                 struct net_out *out,
                                 struct bridge_muc_mentions *mm)
{
    if (j->kind == BRIDGE_JOB_ROOM_MEDIA) { /* kept as the client sent it */
        s->url = j->url ? xstrdup(j->url) : NULL;
        s->text = xstrdup(j->text ? j->text : j->url ? j->url : "");
    } else if (j->kind == BRIDGE_JOB_ROOM_TEXT && a != NULL && j->text) {
        bridge_muc_mentions_of(a, s->room, j->text, mm);
        out->text = mm->text;
        out->mentions = (const char *const *)mm->ids;
        out->nmentions = mm->n;
        s->text = xstrdup(mm->text); /* kept with the numbers, as received */
    } else {
        s->text = xstrdup(j->text ? j->text : "");
    }
}

void bridge_muc_send(const struct store_outbox *o, const struct bridge_job *j)
{
    struct store_account *a =
        store_account_by_id(bridge_store(), o->account_id);
    struct bridge_muc_send *s = bridge_muc_send_new(o, j);
    struct net_out out = {.kind = "text",
                          .to = j->room,
                          .text = j->text,
                          .reply_to = j->reply_to};
    struct bridge_muc_mentions mm = {NULL, NULL, 0};
    struct net_account na;
    struct net_result r;

    bridge_muc_send_body(s, j, a, &out, &mm);
    if (strcmp(s->kind, "text") != 0 || s->read) {
        out.kind = s->read ? "read" : s->kind;
        out.target = j->target;
        out.reply_to = NULL;
        out.text = s->read ? NULL : j->text;
    }
    memset(&r, 0, sizeof(r));
    if (a == NULL || j->room == NULL ||
        (j->text == NULL && !s->read && j->kind != BRIDGE_JOB_ROOM_MEDIA) ||
        net_set_find(bridge_backends(), a->backend) == NULL ||
        bridge_backend_of(a)->groups == NULL) {
        r.outcome = NET_FAIL;
        r.text = "The gateway cannot send this queued message";
        bridge_muc_sent(&r, s);
    } else if (strcmp(a->state, "active") != 0) {
        r.outcome = NET_AUTH;
        r.text = a->last_error ? a->last_error : "Register again first";
        bridge_muc_sent(&r, s);
    } else if (j->kind == BRIDGE_JOB_ROOM_MEDIA) {
        bridge_media_send_group(a, j->room, j->url, j->text, j->reply_to,
                                bridge_muc_sent, s);
    } else {
        na.id = a->network_id;
        na.token = a->token;
        bridge_backend_of(a)->send(&na, &out, bridge_muc_sent, s);
    }
    bridge_muc_mentions_free(&mm);
    store_account_free(a);
}
