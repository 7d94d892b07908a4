/* SPDX-License-Identifier: MIT */
/* XEP-0313 on a room's JID (issue 14): the room's kept rows (texts,
 * reactions, corrections, retractions), by time and with XEP-0059 paging
 * on the room's stanza-ids, served to the room's user only, as the
 * groupchats a resource in the room got. */
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "bridge_core.h"
#include "bridge_mam.h"
#include "bridge_muc.h"
#include "bridge_muc_int.h"
#include "component.h"
#include "jid.h"
#include "store.h"
#include "store_room.h"
#include "util.h"

/* A stanza-id of the room (arg: its id) into its row; 0 or -1. */
static int bridge_muc_mam_row(const char *id, long long *row, void *arg)
{
    *row = store_room_message_row(bridge_store(), *(const long long *)arg, id);
    return *row > 0 ? 0 : -1;
}

/* The nick the user's own messages come from: the querying resource's in
 * the room, another resource's, else the localpart of the user's JID.
 * Caller frees. */
static char *bridge_muc_mam_nick(const struct bridge_muc_ctx *c)
{
    struct bridge_muc_joined *j = bridge_muc_find(c->full, c->room->id);
    const char *at = strchr(c->bare, '@');

    for (j = j ? j : bridge_muc_list; j != NULL; j = j->next)
        if (bridge_muc_in(j, c->room->id, c->bare))
            return xstrdup(j->nick);
    return at ? xstrndup(c->bare, (size_t)(at - c->bare)) : xstrdup(c->bare);
}

/* Sends the page of q to the querying resource and answers with its
 * <fin/>. */
static void bridge_muc_mam_answer(xmpp_stanza_t *iq,
                                  const struct bridge_muc_ctx *c,
                                  const struct bridge_mam_query *m,
                                  const struct store_room_query *q)
{
    struct store_room_message **rows = NULL;
    struct store_room_message_in r;
    struct bridge_muc_view v;
    xmpp_stanza_t *fin;
    size_t n = 0, i;
    long long count = 0;
    int more = 0;
    char *nick = bridge_muc_mam_nick(c), *xml;

    if (m->with == NULL || component_jid_equal(m->with, c->room_jid)) {
        count = store_room_count(bridge_store(), q);
        if (store_room_page(bridge_store(), q, &rows, &n, &more) < 0)
            more = 0;
    }
    bridge_muc_view_init(&v, c->bare, c->group, c->room_jid, c->room->id);
    for (i = 0; i < n; i++) {
        store_room_message_in_of(rows[i], &r);
        xml = bridge_muc_render(&v, &r, NULL, nick, 0);
        bridge_mam_send(c->full, c->room_jid, m->queryid, r.network_id,
                        r.stamp * 1000, xml);
        free(xml);
    }
    fin = bridge_mam_fin(m, n > 0 ? rows[0]->network_id : NULL,
                         n > 0 ? rows[n - 1]->network_id : NULL, count, !more);
    component_iq_result(iq, fin);
    xmpp_stanza_release(fin);
    for (i = 0; i < n; i++)
        store_room_message_free(rows[i]);
    free(rows);
    bridge_muc_view_reset(&v);
    free(nick);
}

/* A query on the user's room (c filled, c->room set). */
static void bridge_muc_mam_query(xmpp_stanza_t *iq, xmpp_stanza_t *query,
                                 const struct bridge_muc_ctx *c)
{
    struct bridge_mam_query m;
    struct bridge_mam_err e = {0};
    struct store_room_query q;
    long long room_id = c->room->id;

    if (bridge_mam_parse(query, bridge_muc_mam_row, &room_id, &m, &e) < 0) {
        component_error_reply(iq, e.type, e.cond, e.text);
        return;
    }
    memset(&q, 0, sizeof(q));
    q.room_id = room_id;
    q.start_ms = m.start_ms;
    q.end_ms = m.end_ms;
    q.after = m.after;
    q.before = m.before;
    q.last = m.last;
    q.max = m.max;
    bridge_muc_mam_answer(iq, c, &m, &q);
}

/* XEP-0313 on a room JID (bare); anything else is the team history's. */
static int bridge_muc_mam(xmpp_stanza_t *iq, xmpp_stanza_t *query, void *arg)
{
    const char *to = xmpp_stanza_get_to(iq);
    const char *type = xmpp_stanza_get_type(iq);
    struct bridge_muc_ctx c;

    if (to == NULL || type == NULL || strchr(to, '/') != NULL ||
        strcmp(xmpp_stanza_get_name(query), "query") != 0)
        return 0;
    if (bridge_muc_ctx(&c, xmpp_stanza_get_from(iq), to) < 0) {
        bridge_muc_ctx_free(&c);
        return 0;
    }
    if (strcmp(type, "get") == 0)
        bridge_mam_fields(iq);
    else if (!bridge_muc_iq_refused(iq, &c))
        bridge_muc_mam_query(iq, query, &c);
    bridge_muc_ctx_free(&c);
    return 1;
}

void bridge_muc_mam_init(void)
{
    component_iq_register_first(NS_MAM, bridge_muc_mam, NULL);
}
