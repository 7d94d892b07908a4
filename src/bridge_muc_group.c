/* SPDX-License-Identifier: MIT */
/* Changes of a group as its room shows them (issue 14), and its member
 * list (muc#admin): the account added
 * to a group (the room stored, an XEP-0249 invitation), removed from one
 * (its resources told, the room forgotten), members added, removed,
 * promoted or demoted (the room's members updated, occupant presences to
 * the user's resources in the room), and a new subject. */
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "bridge_core.h"
#include "bridge_muc.h"
#include "bridge_muc_int.h"
#include "bridge_presence.h"
#include "component.h"
#include "jid.h"
#include "log.h"
#include "net_backend.h"
#include "store.h"
#include "store_room.h"
#include "util.h"

#define NS_MUC_ADMIN NS_MUC "#admin"

/* 1 when the stored member m is the event's member e. */
static int bridge_muc_same(const struct store_member *m,
                           const struct net_member *e)
{
    return strcmp(m->participant, e->id) == 0 ||
           (m->phone != NULL && e->phone != NULL &&
            strcmp(m->phone, e->phone) == 0) ||
           (m->lid != NULL && e->lid != NULL && strcmp(m->lid, e->lid) == 0);
}

/* The event's member that m is, or NULL. */
static const struct net_member *bridge_muc_changed(const struct store_member *m,
                                                   const struct net_group *g)
{
    size_t i;

    for (i = 0; i < g->nmembers; i++)
        if (bridge_muc_same(m, &g->members[i]))
            return &g->members[i];
    return NULL;
}

/* An occupant's presence (type NULL: available, with the member's
 * affiliation and role; "unavailable": gone) to every resource of the
 * user in the room. */
static void bridge_muc_tell(const struct store_account *a,
                            const struct store_room *room,
                            const struct store_member *m, const char *nick,
                            const char *type)
{
    char *room_jid = jid_of(room->group_id, component_jid());
    char *from, *real, oid[65];
    struct bridge_muc_joined *j;
    struct bridge_muc_pres p;

    if (room_jid == NULL || nick == NULL || !component_connected()) {
        free(room_jid);
        return;
    }
    from = xasprintf("%s/%s", room_jid, nick);
    real = bridge_muc_member_jid(m);
    bridge_muc_occupant_id(a->jid, room->group_id, m->participant, oid);
    memset(&p, 0, sizeof(p));
    p.from = from;
    p.type = type;
    p.affiliation = type ? "none" : bridge_muc_affiliation(m->role);
    p.role = type ? "none" : bridge_muc_role(m->role);
    p.jid = real;
    p.occupant_id = oid;
    for (j = bridge_muc_list; j != NULL; j = j->next)
        if (bridge_muc_in(j, room->id, a->jid)) {
            p.to = j->full;
            bridge_muc_pres_send(&p);
        }
    free(from);
    free(real);
    free(room_jid);
}

/* 1 when e is one of the stored members m[0..n-1]. */
static int bridge_muc_known(struct store_member **m, size_t n,
                            const struct net_member *e)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (bridge_muc_same(m[i], e))
            return 1;
    return 0;
}

/* The members of the room after change ("add", "remove", "promote",
 * "demote") of g's members, into out (room for n + g->nmembers; strings
 * borrowed from m and g); how many. */
static size_t bridge_muc_after(struct store_member **m, size_t n,
                               const struct net_group *g, const char *change,
                               struct store_member_in *out)
{
    int add = strcmp(change, "add") == 0;
    const struct net_member *e;
    size_t i, k = 0;

    for (i = 0; i < n; i++) {
        e = bridge_muc_changed(m[i], g);
        if (e != NULL && strcmp(change, "remove") == 0)
            continue;
        out[k].participant = m[i]->participant;
        out[k].lid = m[i]->lid ? m[i]->lid : e ? e->lid : NULL;
        out[k].phone = m[i]->phone ? m[i]->phone : e ? e->phone : NULL;
        out[k].push_name = m[i]->push_name;
        out[k].role = e != NULL && !add ? e->role : m[i]->role;
        out[k++].self = m[i]->self;
    }
    for (i = 0; add && i < g->nmembers; i++) {
        e = &g->members[i];
        if (bridge_muc_known(m, n, e))
            continue;
        memset(&out[k], 0, sizeof(out[k]));
        out[k].participant = e->id;
        out[k].lid = e->lid;
        out[k].phone = e->phone;
        out[k++].role = e->role;
    }
    return k;
}

/* The presences of a change: who left (before: the members and nicks as
 * they were), who came or changed role (after). */
static void bridge_muc_tell_change(const struct store_account *a,
                                   const struct store_room *room,
                                   const struct net_group *g,
                                   const char *change,
                                   struct store_member **before, char **bnicks,
                                   size_t nb)
{
    size_t n = 0, i;
    struct store_member **m;
    char **nicks;

    if (strcmp(change, "remove") == 0) {
        for (i = 0; i < nb; i++)
            if (bnicks[i] != NULL && bridge_muc_changed(before[i], g))
                bridge_muc_tell(a, room, before[i], bnicks[i], "unavailable");
        return;
    }
    m = bridge_muc_members(room->id, &n);
    nicks = bridge_muc_nicks(m, n);
    for (i = 0; i < n; i++)
        if (nicks[i] != NULL && bridge_muc_changed(m[i], g))
            bridge_muc_tell(a, room, m[i], nicks[i], NULL);
    bridge_muc_nicks_free(nicks, n);
    bridge_muc_members_free(m, n);
}

/* Members of the room added, removed, promoted or demoted; 0 or -1. */
static int bridge_muc_members_changed(const struct store_account *a,
                                      const struct store_room *room,
                                      const struct net_group *g,
                                      const char *change)
{
    size_t n = 0, k;
    struct store_member **m = bridge_muc_members(room->id, &n);
    char **nicks = bridge_muc_nicks(m, n);
    struct store_member_in *in = xcalloc(n + g->nmembers + 1, sizeof(*in));
    int rc;

    k = bridge_muc_after(m, n, g, change, in);
    rc = store_room_members_set(bridge_store(), room->id, in, k);
    if (rc == 0 && strcmp(change, "remove") != 0)
        bridge_muc_renamed(a->jid, room, m, nicks, n); /* a number learnt */
    if (rc == 0)
        bridge_muc_tell_change(a, room, g, change, m, nicks, n);
    free(in);
    bridge_muc_nicks_free(nicks, n);
    bridge_muc_members_free(m, n);
    return rc;
}

/* The account is no longer in the group: its resources in the room are
 * told they were removed (110, 321), and the room is forgotten. */
static int bridge_muc_left(const struct store_account *a,
                           const struct store_room *room)
{
    char *room_jid = jid_of(room->group_id, component_jid()), *from;
    struct bridge_muc_joined **p = &bridge_muc_list, *j;
    struct bridge_muc_pres pr;

    while (room_jid != NULL && (j = *p) != NULL) {
        if (!bridge_muc_in(j, room->id, a->jid)) {
            p = &j->next;
            continue;
        }
        from = xasprintf("%s/%s", room_jid, j->nick);
        memset(&pr, 0, sizeof(pr));
        pr.from = from;
        pr.to = j->full;
        pr.type = "unavailable";
        pr.affiliation = pr.role = "none";
        pr.jid = j->full;
        pr.codes[0] = "110";
        pr.codes[1] = "321";
        if (component_connected())
            bridge_muc_pres_send(&pr);
        free(from);
        *p = j->next;
        free(j->full);
        free(j->nick);
        free(j);
    }
    free(room_jid);
    bridge_muc_unbookmark(a->jid, room->group_id);
    return store_room_delete(bridge_store(), room->id);
}

/* A groupchat from the room to a resource in it: the new subject, or
 * (subject NULL) status 104, the room's configuration changed. */
static void bridge_muc_announce(const char *room_jid, const char *to,
                                const char *subject)
{
    xmpp_stanza_t *m = xmpp_message_new(component_ctx(), "groupchat", to, NULL);
    char *id = component_new_id();

    xmpp_stanza_set_id(m, id);
    xmpp_stanza_set_from(m, room_jid);
    if (subject != NULL)
        component_text_elem(m, "subject", subject);
    else
        xmpp_stanza_set_attribute(
            component_elem(component_elem(m, "x", NS_MUC_USER), "status", NULL),
            "code", "104");
    component_send(m);
    xmpp_stanza_release(m);
    free(id);
}

/* The group's subject changed: kept, and told to the user's resources in
 * the room (the subject, and 104 so that clients read disco again). */
static int bridge_muc_updated(const struct store_account *a,
                              const struct store_room *room,
                              const struct net_group *g)
{
    char *room_jid;
    struct bridge_muc_joined *j;

    if (g->subject == NULL)
        return 0; /* no change ferry shows (a picture...) */
    if (store_room_put(bridge_store(), a->id, room->group_id, g->subject) < 0)
        return -1;
    room_jid = jid_of(room->group_id, component_jid());
    for (j = bridge_muc_list;
         room_jid != NULL && component_connected() && j != NULL; j = j->next)
        if (bridge_muc_in(j, room->id, a->jid)) {
            bridge_muc_announce(room_jid, j->full, g->subject);
            bridge_muc_announce(room_jid, j->full, NULL);
        }
    free(room_jid);
    return 0;
}

/* The picture of room room_id changed (bridge_presence.c): 104 to the
 * user's resources in it, so that clients read disco (and the vCard)
 * again. */
static void bridge_muc_picture(long long account_id, long long room_id)
{
    struct store_room *room = store_room_by_id(bridge_store(), room_id);
    struct store_account *a =
        room ? store_account_by_id(bridge_store(), account_id) : NULL;
    char *room_jid = a ? jid_of(room->group_id, component_jid()) : NULL;
    struct bridge_muc_joined *j;

    for (j = bridge_muc_list;
         room_jid != NULL && component_connected() && j != NULL; j = j->next)
        if (bridge_muc_in(j, room->id, a->jid))
            bridge_muc_announce(room_jid, j->full, NULL);
    free(room_jid);
    store_account_free(a);
    store_room_free(room);
}

/* The account's phone digits as its rooms know them, or NULL. */
static char *bridge_muc_me(long long account_id)
{
    return store_room_self_phone(bridge_store(), account_id);
}

int bridge_muc_group(const struct net_event *ev, const struct store_account *a)
{
    struct store_room *room = store_room_get(bridge_store(), a->id, ev->group);
    char *me;
    int rc = 0;

    if (strcmp(ev->group_change, "join") == 0 && ev->group_info != NULL) {
        me = bridge_muc_me(a->id);
        if (bridge_muc_store_group(a->id, me, ev->group_info) < 0)
            rc = -1;
        else if (room == NULL)
            bridge_muc_invite(a->id, a->jid, ev->group_info->id,
                              ev->group_info->subject);
        free(me);
    } else if (room == NULL) {
        log_debug("bridge: %s has no room for a changed group", a->jid);
    } else if (strcmp(ev->group_change, "leave") == 0) {
        rc = bridge_muc_left(a, room);
    } else if (strcmp(ev->group_change, "update") == 0) {
        rc = ev->group_info ? bridge_muc_updated(a, room, ev->group_info) : 0;
    } else if (ev->group_info != NULL) {
        rc = bridge_muc_members_changed(a, room, ev->group_info,
                                        ev->group_change);
    }
    store_room_free(room);
    return rc;
}

/* ---- the member list (XEP-0045 9.5, 10.5: muc#admin) ---- */

/* The members whose affiliation is aff ("member", "admin", "owner"),
 * into q: bare real JID (when known), affiliation, role and nick. */
static void bridge_muc_list_members(xmpp_stanza_t *q,
                                    const struct bridge_muc_ctx *c,
                                    const char *aff)
{
    size_t n = 0, i;
    struct store_member **m = bridge_muc_members(c->room->id, &n);
    char **nicks = bridge_muc_nicks(m, n), *real;
    xmpp_stanza_t *it;

    for (i = 0; i < n; i++) {
        if (strcmp(bridge_muc_affiliation(m[i]->role), aff) != 0)
            continue;
        it = component_elem(q, "item", NULL);
        xmpp_stanza_set_attribute(it, "affiliation", aff);
        xmpp_stanza_set_attribute(it, "role", bridge_muc_role(m[i]->role));
        real = m[i]->self ? xstrdup(c->bare) : bridge_muc_member_jid(m[i]);
        if (real != NULL)
            xmpp_stanza_set_attribute(it, "jid", real);
        if (nicks[i] != NULL)
            xmpp_stanza_set_attribute(it, "nick", nicks[i]);
        free(real);
    }
    bridge_muc_nicks_free(nicks, n);
    bridge_muc_members_free(m, n);
}

/* A muc#admin query on a room: the member list for its user (gets, by
 * affiliation); changes are WhatsApp's (on the phone). */
static int bridge_muc_admin(xmpp_stanza_t *iq, xmpp_stanza_t *query, void *arg)
{
    const char *type = xmpp_stanza_get_type(iq);
    xmpp_stanza_t *item = xmpp_stanza_get_child_by_name(query, "item");
    const char *aff =
        item ? xmpp_stanza_get_attribute(item, "affiliation") : NULL;
    struct bridge_muc_ctx c;
    xmpp_stanza_t *q;

    if (bridge_muc_ctx(&c, xmpp_stanza_get_from(iq), xmpp_stanza_get_to(iq)) <
            0 ||
        type == NULL) {
        bridge_muc_ctx_free(&c);
        return 0;
    }
    if (bridge_muc_iq_refused(iq, &c)) {
        bridge_muc_ctx_free(&c);
        return 1;
    }
    if (strcmp(type, "get") != 0)
        component_error_reply(iq, "auth", "forbidden",
                              "Members and admins of a WhatsApp group are "
                              "changed on the phone");
    else if (aff == NULL ||
             (strcmp(aff, "member") != 0 && strcmp(aff, "admin") != 0 &&
              strcmp(aff, "owner") != 0))
        component_error_reply(iq, "cancel", "feature-not-implemented",
                              "Only the member, admin and owner lists");
    else {
        q = component_elem(NULL, "query", NS_MUC_ADMIN);
        bridge_muc_list_members(q, &c, aff);
        component_iq_result(iq, q);
        xmpp_stanza_release(q);
    }
    bridge_muc_ctx_free(&c);
    return 1;
}

void bridge_muc_group_init(void)
{
    component_iq_register(NS_MUC_ADMIN, bridge_muc_admin, NULL);
    bridge_presence_on_room(bridge_muc_picture);
}
