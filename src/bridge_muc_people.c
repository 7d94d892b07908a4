/* SPDX-License-Identifier: MIT */
/* The people of a room (issue 14): an occupant's vCard (XEP-0054 on
 * room@gateway/nick), members known by a lid alone who get their number
 * (the same occupant, now with its real JID), and the one notice per
 * silent period when a group message mentions the user while none of
 * their resources is in the room ([groups] mention_notice). */
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
#include "message.h"
#include "store.h"
#include "store_room.h"
#include "util.h"

#define NS_VCARD "vcard-temp"
#define BRIDGE_MUC_NOTICE_TEXT 300 /* characters of the text in a notice */
#define BRIDGE_MUC_LID_ROOMS 4096  /* rooms looked at for one lid */

static int bridge_muc_notices = 1;

void bridge_muc_people_configure(int mention_notice)
{
    bridge_muc_notices = mention_notice;
}

/* ---- occupants' vCards ---- */

/* The vCard of the member m (nick: its nick in the room) for account a:
 * its push name (else its name as the account's contact, else the nick),
 * its number, and its picture when the account has it as a contact.
 * Caller releases. */
static xmpp_stanza_t *bridge_muc_member_vcard(const struct store_account *a,
                                              const struct store_member *m,
                                              const char *nick)
{
    char *tel = m->phone ? xasprintf("+%s", m->phone) : NULL;
    char *lid = m->lid ? xasprintf("%s@lid", m->lid) : NULL;
    struct store_contact *c =
        m->phone ? store_contact_get(bridge_store(), a->id, m->phone)
        : lid    ? store_contact_get(bridge_store(), a->id, lid)
                 : NULL;
    const char *fn = m->push_name && m->push_name[0] ? m->push_name
                     : c && c->name && c->name[0]    ? c->name
                                                     : nick;
    xmpp_stanza_t *v = bridge_presence_vcard(a, c, fn, tel);

    store_contact_free(c);
    free(lid);
    free(tel);
    return v;
}

/* A vCard get on an occupant JID of the user's room (c filled): the
 * member's whose nick it is, else item-not-found. */
static void bridge_muc_occupant_vcard(xmpp_stanza_t *iq,
                                      const struct bridge_muc_ctx *c,
                                      const char *nick)
{
    size_t n = 0, i;
    struct store_member **m = bridge_muc_members(c->room->id, &n);
    char **nicks = bridge_muc_nicks(m, n);
    xmpp_stanza_t *v;

    for (i = 0; i < n; i++)
        if (nicks[i] != NULL && strcmp(nicks[i], nick) == 0)
            break;
    if (i == n) {
        component_error_reply(iq, "cancel", "item-not-found",
                              "No such occupant");
    } else {
        v = bridge_muc_member_vcard(c->a, m[i], nicks[i]);
        component_iq_result(iq, v);
        xmpp_stanza_release(v);
    }
    bridge_muc_nicks_free(nicks, n);
    bridge_muc_members_free(m, n);
}

/* vcard-temp to room@gateway/nick, from the room's user only; other
 * vCards are bridge_presence.c's. */
static int bridge_muc_vcard(xmpp_stanza_t *iq, xmpp_stanza_t *q, void *arg)
{
    const char *to = xmpp_stanza_get_to(iq);
    const char *slash = to ? strchr(to, '/') : NULL;
    const char *type = xmpp_stanza_get_type(iq);
    struct bridge_muc_ctx c;

    if (slash == NULL || slash[1] == '\0' || type == NULL ||
        (strcmp(type, "get") != 0 && strcmp(type, "set") != 0))
        return 0;
    if (bridge_muc_ctx(&c, xmpp_stanza_get_from(iq), to) < 0) {
        bridge_muc_ctx_free(&c);
        return 0; /* not a room */
    }
    if (!bridge_muc_iq_refused(iq, &c)) {
        if (strcmp(type, "get") != 0)
            component_error_reply(iq, "cancel", "not-allowed",
                                  "This vCard is WhatsApp's");
        else
            bridge_muc_occupant_vcard(iq, &c, slash + 1);
    }
    bridge_muc_ctx_free(&c);
    return 1;
}

void bridge_muc_people_init(void)
{
    component_iq_register_first(NS_VCARD, bridge_muc_vcard, NULL);
}

/* ---- numbers and nicks that change ---- */

/* The member of before[0..nb-1] that m is (by its id in the group), or
 * -1. */
static long bridge_muc_was(const struct store_member *m,
                           struct store_member **before, size_t nb)
{
    size_t k;

    for (k = 0; k < nb; k++)
        if (strcmp(before[k]->participant, m->participant) == 0)
            return (long)k;
    return -1;
}

/* Member m is shown again to every resource of user in the room (as
 * room_jid/nick; was: its previous nick when it changed, or NULL). */
static void bridge_muc_reshow(const char *user, const struct store_room *room,
                              const char *room_jid,
                              const struct store_member *m, const char *nick,
                              const char *was)
{
    char *from = xasprintf("%s/%s", room_jid, nick), *old = NULL;
    char *real = bridge_muc_member_jid(m);
    struct bridge_muc_pres gone, p;
    struct bridge_muc_joined *j;
    char oid[65];

    bridge_muc_occupant_id(user, room->group_id, m->participant, oid);
    memset(&p, 0, sizeof(p));
    p.from = from;
    p.affiliation = bridge_muc_affiliation(m->role);
    p.role = bridge_muc_role(m->role);
    p.jid = real;
    p.occupant_id = oid;
    gone = p;
    if (was != NULL) { /* XEP-0045 7.6: a nick change */
        gone.from = old = xasprintf("%s/%s", room_jid, was);
        gone.type = "unavailable";
        gone.nick = nick;
        gone.codes[0] = "303";
    }
    for (j = bridge_muc_list; j != NULL; j = j->next)
        if (bridge_muc_in(j, room->id, user)) {
            gone.to = p.to = j->full;
            if (was != NULL)
                bridge_muc_pres_send(&gone);
            bridge_muc_pres_send(&p);
        }
    free(old);
    free(real);
    free(from);
}

void bridge_muc_renamed(const char *user, const struct store_room *room,
                        struct store_member **before, char **bnicks, size_t nb)
{
    char *room_jid = jid_of(room->group_id, component_jid());
    size_t n = 0, i;
    struct store_member **m;
    char **nicks;
    const char *was;
    long k;

    if (room_jid == NULL || !component_connected()) {
        free(room_jid);
        return;
    }
    m = bridge_muc_members(room->id, &n);
    nicks = bridge_muc_nicks(m, n);
    for (i = 0; i < n; i++) {
        k = nicks[i] ? bridge_muc_was(m[i], before, nb) : -1;
        if (k < 0 || bnicks[k] == NULL)
            continue;
        was = strcmp(bnicks[k], nicks[i]) != 0 ? bnicks[k] : NULL;
        if (was != NULL || (m[i]->phone != NULL && before[k]->phone == NULL))
            bridge_muc_reshow(user, room, room_jid, m[i], nicks[i], was);
    }
    bridge_muc_nicks_free(nicks, n);
    bridge_muc_members_free(m, n);
    free(room_jid);
}

/* The member of room room_id with lid (digits) gets phone; 0 or -1. */
static int bridge_muc_lid_room(const struct store_account *a, long long room_id,
                               const char *lid, const char *phone)
{
    struct store_room *room = store_room_by_id(bridge_store(), room_id);
    size_t n = 0;
    struct store_member **m = room ? bridge_muc_members(room_id, &n) : NULL;
    char **nicks = bridge_muc_nicks(m, n);
    int rc = room ? store_room_member_phone(bridge_store(), room_id, lid, phone)
                  : -1;

    if (rc == 0)
        bridge_muc_renamed(a->jid, room, m, nicks, n);
    bridge_muc_nicks_free(nicks, n);
    bridge_muc_members_free(m, n);
    store_room_free(room);
    return rc;
}

int bridge_muc_lid_known(const struct store_account *a, const char *lid,
                         const char *phone)
{
    size_t d = strspn(lid, "0123456789"), n = 0, i;
    char *digits = xstrndup(lid, d);
    long long *ids = NULL;
    int rc = store_room_lid_rooms(bridge_store(), a->id, digits,
                                  BRIDGE_MUC_LID_ROOMS, &ids, &n);

    for (i = 0; i < n && rc == 0; i++)
        rc = bridge_muc_lid_room(a, ids[i], digits, phone);
    if (rc == 0 && n > 0)
        log_debug("bridge: a member of %zu room(s) of %s got a number", n,
                  a->jid);
    free(ids);
    free(digits);
    return rc;
}

/* ---- mentions while away ---- */

/* 1 when text mentions the digits mine ("@<mine>", not followed by
 * another digit). */
static int bridge_muc_names(const char *text, const char *mine)
{
    size_t len = mine ? strlen(mine) : 0;
    const char *at;

    for (at = text; len > 0 && (at = strchr(at, '@')) != NULL; at++)
        if (strspn(at + 1, "0123456789") == len &&
            strncmp(at + 1, mine, len) == 0)
            return 1;
    return 0;
}

/* The notice of text r by nick in the room, to the user's bare JID. */
static int bridge_muc_notice_send(const struct store_account *a,
                                  const struct store_room *room,
                                  const char *room_jid, const char *nick,
                                  const char *text)
{
    size_t cut = utf8_offset(text, BRIDGE_MUC_NOTICE_TEXT);
    char *id = component_new_id();
    char *body =
        xasprintf("%s mentioned you in %s: %.*s%s", nick,
                  room->subject[0] != '\0' ? room->subject : room->group_id,
                  (int)cut, text, text[cut] != '\0' ? "…" : "");
    xmpp_stanza_t *m = xmpp_message_new(component_ctx(), NULL, a->jid, id);
    int rc;

    xmpp_stanza_set_from(m, room_jid);
    component_text_elem(m, "body", body);
    rc = bridge_inbox(a->id, a->jid, id, message_take_xml(m));
    free(body);
    free(id);
    return rc;
}

int bridge_muc_notice(const struct store_account *a,
                      const struct store_room *room,
                      const struct store_room_message_in *r)
{
    char *room_jid = jid_of(room->group_id, component_jid()), *nick;
    const struct store_member *me;
    struct bridge_muc_view v;
    const char *who;
    int rc = 0;

    if (!bridge_muc_notices || room_jid == NULL || r->body == NULL) {
        free(room_jid);
        return 0;
    }
    bridge_muc_view_init(&v, a->jid, room->group_id, room_jid, room->id);
    me = bridge_muc_self(v.m, v.n);
    if (me != NULL &&
        strcmp(bridge_muc_who(&v, r->author), me->participant) != 0 &&
        (bridge_muc_names(r->body, me->phone) ||
         bridge_muc_names(r->body, me->lid)))
        rc = store_room_notice_take(bridge_store(), room->id);
    if (rc == 1) {
        nick = bridge_muc_author(&v, r->author, NULL, &who);
        rc = bridge_muc_notice_send(a, room, room_jid, nick, r->body);
        free(nick);
    }
    bridge_muc_view_reset(&v);
    free(room_jid);
    return rc < 0 ? -1 : 0;
}
