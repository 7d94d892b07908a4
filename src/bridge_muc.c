/* SPDX-License-Identifier: MIT */
/* WhatsApp groups as XEP-0045 rooms (issue 14): an account's groups learnt
 * from its back end at login and kept in the store, disco#info on a room
 * and disco#items on the gateway (per user), and the join sequence and
 * leaves of each of the user's resources (kept in memory); messages are
 * bridge_muc_msg.c's. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <strophe.h>

#include "bridge_core.h"
#include "bridge_muc.h"
#include "bridge_muc_int.h"
#include "bridge_presence.h"
#include "component.h"
#include "conf.h"
#include "jid.h"
#include "log.h"
#include "message.h"
#include "net_backend.h"
#include "queue.h"
#include "store.h"
#include "store_avatar.h"
#include "store_room.h"
#include "util.h"

#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_PING "urn:xmpp:ping"
#define BRIDGE_MUC_HISTORY_MAX_S "100" /* BRIDGE_MUC_HISTORY_MAX */
#define BRIDGE_MUC_ROOMS_MAX 4096
#define BRIDGE_MUC_NICK_MAX 64 /* bytes of a nick made from a push name */

struct bridge_muc_joined *bridge_muc_list;

void bridge_muc_configure(const struct conf *conf)
{
    queue_set_room_keep(conf->groups_history_days * 86400LL);
    bridge_muc_people_configure(strcmp(conf->groups_mention_notice, "true") ==
                                0);
}

/* ---- learning the groups ---- */

struct bridge_muc_learning {
    long long account_id;
    char *jid;
    char *me; /* the account's phone digits, or NULL */
};

/* The number the account's lid map gives a member known by its lid
 * (digits) alone, or NULL. Caller frees. */
static char *bridge_muc_lid_phone(long long account_id, const char *lid)
{
    char *id = xasprintf("%s@lid", lid), *phone = NULL;

    if (store_lid_get(bridge_store(), account_id, id, &phone) < 0)
        phone = NULL;
    free(id);
    return phone;
}

long long bridge_muc_store_group(long long account_id, const char *me,
                                 const struct net_group *g)
{
    struct store_member_in *m;
    long long room =
        store_room_put(bridge_store(), account_id, g->id, g->subject);
    char **phones;
    size_t i;
    int rc;

    if (room < 0)
        return -1;
    m = xcalloc(g->nmembers ? g->nmembers : 1, sizeof(*m));
    phones = xcalloc(g->nmembers ? g->nmembers : 1, sizeof(*phones));
    for (i = 0; i < g->nmembers; i++) {
        m[i].participant = g->members[i].id;
        m[i].lid = g->members[i].lid;
        m[i].phone = g->members[i].phone;
        if (m[i].phone == NULL && m[i].lid != NULL)
            m[i].phone = phones[i] = bridge_muc_lid_phone(account_id, m[i].lid);
        m[i].role = g->members[i].role;
        m[i].self =
            me != NULL && m[i].phone != NULL && strcmp(me, m[i].phone) == 0;
    }
    rc = store_room_members_set(bridge_store(), room, m, g->nmembers);
    for (i = 0; i < g->nmembers; i++)
        free(phones[i]);
    free(phones);
    free(m);
    return rc < 0 ? -1 : room;
}

/* Stores one group learnt at login; a group the user did not have yet
 * brings an invitation. 0 or -1. */
static int bridge_muc_learn_one(const struct bridge_muc_learning *l,
                                const struct net_group *g)
{
    struct store_room *old =
        store_room_get(bridge_store(), l->account_id, g->id);
    size_t n = 0;
    struct store_member **m = old ? bridge_muc_members(old->id, &n) : NULL;
    char **nicks = bridge_muc_nicks(m, n);
    long long room = bridge_muc_store_group(l->account_id, l->me, g);

    if (room > 0 && old == NULL)
        bridge_muc_invite(l->account_id, l->jid, g->id, g->subject);
    else if (room > 0) /* numbers learnt since */
        bridge_muc_renamed(l->jid, old, m, nicks, n);
    bridge_muc_nicks_free(nicks, n);
    bridge_muc_members_free(m, n);
    store_room_free(old);
    return room < 0 ? -1 : 0;
}

static void bridge_muc_learnt(const struct net_result *r,
                              const struct net_group *g, size_t n, void *arg)
{
    struct bridge_muc_learning *l = arg;
    const char **keep;
    size_t i;

    if (r->outcome != NET_OK) {
        log_warn("bridge: the groups of %s could not be read: %s", l->jid,
                 r->text ? r->text : "no reason");
        goto out;
    }
    store_txn_begin(bridge_store());
    keep = xcalloc(n ? n : 1, sizeof(*keep));
    for (i = 0; i < n; i++) {
        keep[i] = g[i].id;
        if (bridge_muc_learn_one(l, &g[i]) < 0)
            break;
    }
    if (i == n && store_room_keep(bridge_store(), l->account_id, keep, n) == 0)
        log_info("bridge: %s is in %zu group(s)", l->jid, n);
    bridge_presence_kick(); /* the groups' pictures */
    free(keep);
out:
    free(l->jid);
    free(l->me);
    free(l);
}

void bridge_muc_learn(const struct store_account *a, const char *me)
{
    const struct net_backend *be = bridge_backend_of(a);
    struct net_account na = {.id = a->network_id, .token = a->token};
    struct bridge_muc_learning *l;
    size_t n = me && me[0] == '+' ? strspn(me + 1, "0123456789") : 0;

    if (be->groups == NULL)
        return;
    l = xcalloc(1, sizeof(*l));
    l->account_id = a->id;
    l->jid = xstrdup(a->jid);
    l->me = n > 0 ? xstrndup(me + 1, n) : NULL;
    be->groups(&na, bridge_muc_learnt, l);
}

/* ---- rooms and their occupants ---- */

/* The group id behind a room JID (bare or full); NULL when jid is not
 * one. Caller frees. */
static char *bridge_muc_group_of(const char *jid)
{
    char *id = jid ? jid_network_id(jid, component_jid()) : NULL;

    if (id != NULL && jid_kind_of(id) != JID_KIND_GROUP) {
        free(id);
        id = NULL;
    }
    return id;
}

/* The resource of a full JID, or NULL. */
static const char *bridge_muc_resource(const char *jid)
{
    const char *slash = jid ? strchr(jid, '/') : NULL;

    return slash && slash[1] != '\0' ? slash + 1 : NULL;
}

/* The room's members (caller frees with bridge_muc_members_free). */
struct store_member **bridge_muc_members(long long room_id, size_t *n)
{
    struct store_member **m;

    if (store_room_members(bridge_store(), room_id, BRIDGE_MUC_MEMBERS_MAX, &m,
                           n) < 0)
        log_warn("bridge: room %lld: members not read", room_id);
    return m;
}

void bridge_muc_members_free(struct store_member **m, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        store_member_free(m[i]);
    free(m);
}

/* A nick made from a member: its push name (control characters dropped,
 * cut at a character boundary), else +<phone>, else ~<lid>. */
static char *bridge_muc_nick_base(const struct store_member *m)
{
    char buf[BRIDGE_MUC_NICK_MAX + 1];
    size_t i, o = 0;
    const char *p = m->push_name;

    for (i = 0; p != NULL && p[i] != '\0' && o < BRIDGE_MUC_NICK_MAX; i++)
        if ((unsigned char)p[i] >= 0x20 && p[i] != 0x7f)
            buf[o++] = p[i];
    if (p != NULL && p[i] != '\0') { /* cut: end on a whole character */
        while (o > 0 && ((unsigned char)buf[o - 1] & 0xc0) == 0x80)
            o--;
        if (o > 0 && ((unsigned char)buf[o - 1] & 0xc0) == 0xc0)
            o--;
    }
    buf[o] = '\0';
    if (o > 0 && strspn(buf, " ") < o)
        return xstrdup(buf);
    if (m->phone != NULL)
        return xasprintf("+%s", m->phone);
    if (m->lid != NULL)
        return xasprintf("~%s", m->lid);
    return xstrdup(m->participant);
}

/* 1 when nick is one of nicks[0..n-1] (without ASCII case). */
static int bridge_muc_nick_taken(char **nicks, size_t n, const char *nick)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (nicks[i] != NULL && strcasecmp(nicks[i], nick) == 0)
            return 1;
    return 0;
}

char *bridge_muc_member_jid(const struct store_member *m)
{
    return m->phone != NULL ? xasprintf("+%s@%s", m->phone, component_jid())
                            : NULL;
}

/* Unique nicks for the members (NULL for the account itself); the caller
 * frees each and the array. */
char **bridge_muc_nicks(struct store_member **m, size_t n)
{
    char **nicks = xcalloc(n ? n : 1, sizeof(*nicks));
    char *base, *nick;
    size_t i, k;

    for (i = 0; i < n; i++) {
        if (m[i]->self)
            continue;
        base = bridge_muc_nick_base(m[i]);
        nick = xstrdup(base);
        for (k = 2; bridge_muc_nick_taken(nicks, i, nick); k++) {
            free(nick);
            nick = m[i]->phone && k == 2
                       ? xasprintf("%s (+%s)", base, m[i]->phone)
                       : xasprintf("%s (%zu)", base, k);
        }
        free(base);
        nicks[i] = nick;
    }
    return nicks;
}

void bridge_muc_nicks_free(char **nicks, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(nicks[i]);
    free(nicks);
}

/* XEP-0421: a stable pseudonymous id of a participant, per user and
 * room, into out (65 bytes). */
void bridge_muc_occupant_id(const char *user, const char *group,
                            const char *participant, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    char *in =
        xasprintf("ferry occupant\n%s\n%s\n%s", user, group, participant);

    if (EVP_Digest(in, strlen(in), md, &len, EVP_sha256(), NULL) != 1)
        len = 0;
    util_hex(md, len < 32 ? len : 32, out);
    free(in);
}

const char *bridge_muc_affiliation(const char *role)
{
    return role && (strcmp(role, "owner") == 0 || strcmp(role, "admin") == 0)
               ? role
               : "member";
}

const char *bridge_muc_role(const char *role)
{
    return strcmp(bridge_muc_affiliation(role), "member") == 0 ? "participant"
                                                               : "moderator";
}

void bridge_muc_pres_send(const struct bridge_muc_pres *p)
{
    xmpp_stanza_t *st = xmpp_presence_new(component_ctx());
    xmpp_stanza_t *x, *item, *e;
    int i;

    xmpp_stanza_set_from(st, p->from);
    xmpp_stanza_set_to(st, p->to);
    if (p->type != NULL)
        xmpp_stanza_set_type(st, p->type);
    if (p->id != NULL)
        xmpp_stanza_set_id(st, p->id);
    x = component_elem(st, "x", NS_MUC_USER);
    item = component_elem(x, "item", NULL);
    xmpp_stanza_set_attribute(item, "affiliation", p->affiliation);
    xmpp_stanza_set_attribute(item, "role", p->role);
    if (p->jid != NULL)
        xmpp_stanza_set_attribute(item, "jid", p->jid);
    if (p->nick != NULL)
        xmpp_stanza_set_attribute(item, "nick", p->nick);
    for (i = 0; p->codes[i] != NULL; i++) {
        e = component_elem(x, "status", NULL);
        xmpp_stanza_set_attribute(e, "code", p->codes[i]);
    }
    if (p->occupant_id != NULL) {
        e = component_elem(st, "occupant-id", NS_OCCUPANT_ID);
        xmpp_stanza_set_attribute(e, "id", p->occupant_id);
    }
    component_send(st);
    xmpp_stanza_release(st);
}

/* A presence error to a join (st), from its room JID. */
static void bridge_muc_join_error(xmpp_stanza_t *st, const char *type,
                                  const char *condition, const char *text)
{
    xmpp_stanza_t *r = xmpp_presence_new(component_ctx());
    xmpp_stanza_t *err, *e;
    const char *to = xmpp_stanza_get_to(st);
    char *room = jid_bare(to);

    xmpp_stanza_set_type(r, "error");
    xmpp_stanza_set_from(r, to);
    xmpp_stanza_set_to(r, xmpp_stanza_get_from(st));
    if (xmpp_stanza_get_id(st) != NULL)
        xmpp_stanza_set_id(r, xmpp_stanza_get_id(st));
    component_elem(r, "x", NS_MUC);
    err = component_elem(r, "error", NULL);
    xmpp_stanza_set_type(err, type);
    if (room != NULL)
        xmpp_stanza_set_attribute(err, "by", room);
    component_elem(err, condition, NS_STANZAS);
    e = component_text_elem(err, "text", text);
    xmpp_stanza_set_ns(e, NS_STANZAS);
    component_send(r);
    xmpp_stanza_release(r);
    free(room);
}

/* ---- joined resources ---- */

struct bridge_muc_joined *bridge_muc_find(const char *full, long long room_id)
{
    struct bridge_muc_joined *j;

    for (j = bridge_muc_list; j != NULL; j = j->next)
        if (j->room_id == room_id && strcmp(j->full, full) == 0)
            return j;
    return NULL;
}

int bridge_muc_in(const struct bridge_muc_joined *j, long long room_id,
                  const char *user)
{
    size_t n = strlen(user);

    return j->room_id == room_id && strncasecmp(j->full, user, n) == 0 &&
           j->full[n] == '/';
}

static void bridge_muc_joined_free(struct bridge_muc_joined *j)
{
    free(j->full);
    free(j->nick);
    free(j);
}

/* Notes full as joined to the room as nick (again: the new nick). */
static void bridge_muc_remember(const char *full, long long room_id,
                                const char *nick)
{
    struct bridge_muc_joined *j = bridge_muc_find(full, room_id);

    if (j == NULL) {
        j = xcalloc(1, sizeof(*j));
        j->full = xstrdup(full);
        j->room_id = room_id;
        j->next = bridge_muc_list;
        bridge_muc_list = j;
    }
    free(j->nick);
    j->nick = xstrdup(nick);
}

static void bridge_muc_forget(const char *full, long long room_id)
{
    struct bridge_muc_joined **p, *j;

    for (p = &bridge_muc_list; (j = *p) != NULL; p = &j->next)
        if (j->room_id == room_id && strcmp(j->full, full) == 0) {
            *p = j->next;
            bridge_muc_joined_free(j);
            return;
        }
}

void bridge_muc_free(void)
{
    struct bridge_muc_joined *j;

    while ((j = bridge_muc_list) != NULL) {
        bridge_muc_list = j->next;
        bridge_muc_joined_free(j);
    }
}

/* ---- joining and leaving ---- */

void bridge_muc_ctx_free(struct bridge_muc_ctx *c)
{
    free(c->bare);
    free(c->room_jid);
    free(c->group);
    store_account_free(c->a);
    store_room_free(c->room);
}

/* Fills c for a stanza from from to to; 0 when to is a room JID (c->a
 * and c->room may be NULL: not registered, no such group), -1 if not. */
int bridge_muc_iq_refused(xmpp_stanza_t *iq, const struct bridge_muc_ctx *c)
{
    if (c->a == NULL)
        component_error_reply(iq, "auth", "registration-required",
                              "Register with this gateway first");
    else if (c->room == NULL)
        component_error_reply(iq, "cancel", "item-not-found",
                              "You are not in this WhatsApp group");
    return c->a == NULL || c->room == NULL;
}

int bridge_muc_ctx(struct bridge_muc_ctx *c, const char *from, const char *to)
{
    memset(c, 0, sizeof(*c));
    c->group = bridge_muc_group_of(to);
    if (c->group == NULL || from == NULL)
        return -1;
    c->full = from;
    c->bare = jid_bare(from);
    c->room_jid = jid_bare(to);
    store_txn_begin(bridge_store());
    c->a = c->bare ? store_account_by_jid(bridge_store(), c->bare) : NULL;
    if (c->a != NULL)
        c->room = store_room_get(bridge_store(), c->a->id, c->group);
    return 0;
}

/* The subject message that ends a join. */
static void bridge_muc_subject(const struct bridge_muc_ctx *c)
{
    xmpp_stanza_t *m =
        xmpp_message_new(component_ctx(), "groupchat", c->full, NULL);
    char *id = component_new_id();

    xmpp_stanza_set_from(m, c->room_jid);
    xmpp_stanza_set_id(m, id);
    component_text_elem(m, "subject", c->room->subject);
    component_send(m);
    xmpp_stanza_release(m);
    free(id);
}

/* The others' presences to a joining resource. */
static void bridge_muc_occupants(const struct bridge_muc_ctx *c,
                                 struct store_member **m, char **nicks,
                                 size_t n)
{
    struct bridge_muc_pres p;
    char oid[65], *from, *real;
    size_t i;

    for (i = 0; i < n; i++) {
        if (nicks[i] == NULL)
            continue;
        memset(&p, 0, sizeof(p));
        from = xasprintf("%s/%s", c->room_jid, nicks[i]);
        real = bridge_muc_member_jid(m[i]);
        bridge_muc_occupant_id(c->bare, c->group, m[i]->participant, oid);
        p.from = from;
        p.to = c->full;
        p.affiliation = bridge_muc_affiliation(m[i]->role);
        p.role = bridge_muc_role(m[i]->role);
        p.jid = real;
        p.occupant_id = oid;
        bridge_muc_pres_send(&p);
        free(from);
        free(real);
    }
}

/* The user's own member row among m, or NULL. */
const struct store_member *bridge_muc_self(struct store_member **m, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (m[i]->self)
            return m[i];
    return NULL;
}

/* The <history> of a join st (XEP-0045 7.2.14) into h; attributes that
 * are not numbers or times are left out. */
static void bridge_muc_hist_of(xmpp_stanza_t *st, struct bridge_muc_hist *h)
{
    xmpp_stanza_t *x = xmpp_stanza_get_child_by_ns(st, NS_MUC);
    xmpp_stanza_t *e = x ? xmpp_stanza_get_child_by_name(x, "history") : NULL;
    const char *v;
    long long n;

    memset(h, 0, sizeof(*h));
    h->maxstanzas = h->maxchars = -1;
    if (e == NULL)
        return;
    h->given = 1;
    v = xmpp_stanza_get_attribute(e, "maxstanzas");
    if (v != NULL && parse_ll(v, 0, INT32_MAX, &n) == 0)
        h->maxstanzas = n;
    v = xmpp_stanza_get_attribute(e, "maxchars");
    if (v != NULL && parse_ll(v, 0, INT32_MAX, &n) == 0)
        h->maxchars = n;
    v = xmpp_stanza_get_attribute(e, "seconds");
    if (v != NULL && parse_ll(v, 0, INT32_MAX, &n) == 0)
        h->since = wall_ms() / 1000 - n;
    v = xmpp_stanza_get_attribute(e, "since");
    if (v != NULL && (n = time_parse_xmpp(v)) >= 0 && n / 1000 > h->since)
        h->since = n / 1000;
}

/* The XEP-0045 join sequence: the others, the user's self-presence (110,
 * 100, and 210 when ferry changed the nick), then the subject. */
static void bridge_muc_join(xmpp_stanza_t *st, const struct bridge_muc_ctx *c,
                            const char *asked)
{
    size_t n = 0, k;
    struct store_member **m = bridge_muc_members(c->room->id, &n);
    char **nicks = bridge_muc_nicks(m, n);
    const struct store_member *me = bridge_muc_self(m, n);
    struct bridge_muc_pres p;
    struct bridge_muc_view v;
    struct bridge_muc_hist h;
    char *nick = xstrdup(asked), *from, oid[65];

    for (k = 2; bridge_muc_nick_taken(nicks, n, nick); k++) {
        free(nick);
        nick = xasprintf("%s (%zu)", asked, k);
    }
    bridge_muc_occupants(c, m, nicks, n);
    memset(&p, 0, sizeof(p));
    from = xasprintf("%s/%s", c->room_jid, nick);
    bridge_muc_occupant_id(c->bare, c->group, me ? me->participant : "self",
                           oid);
    p.from = from;
    p.to = c->full;
    p.id = xmpp_stanza_get_id(st);
    p.affiliation = bridge_muc_affiliation(me ? me->role : NULL);
    p.role = bridge_muc_role(me ? me->role : NULL);
    p.jid = c->full;
    p.occupant_id = oid;
    p.codes[0] = "100";
    p.codes[1] = "110";
    p.codes[2] = strcmp(nick, asked) != 0 ? "210" : NULL;
    bridge_muc_pres_send(&p);
    bridge_muc_remember(c->full, c->room->id, nick);
    if (store_room_notice_reset(bridge_store(), c->room->id) < 0)
        log_warn("bridge: room %lld: its mention notice not reset",
                 c->room->id);
    v.user = c->bare;
    v.group = c->group;
    v.room_jid = c->room_jid;
    v.room_id = c->room->id;
    v.m = m;
    v.nicks = nicks;
    v.n = n;
    bridge_muc_hist_of(st, &h);
    bridge_muc_history(c, &v, nick, &h);
    bridge_muc_subject(c);
    free(from);
    free(nick);
    bridge_muc_nicks_free(nicks, n);
    bridge_muc_members_free(m, n);
}

/* The user's resource leaves (or is told it is not in the room: codes). */
static void bridge_muc_leave(const struct bridge_muc_ctx *c, const char *nick,
                             const char *const *codes)
{
    struct bridge_muc_pres p;
    char *from = xasprintf("%s/%s", c->room_jid, nick);
    int i;

    memset(&p, 0, sizeof(p));
    p.from = from;
    p.to = c->full;
    p.type = "unavailable";
    p.affiliation = "member";
    p.role = "none";
    p.jid = c->full;
    for (i = 0; codes[i] != NULL && i < 3; i++)
        p.codes[i] = codes[i];
    bridge_muc_pres_send(&p);
    free(from);
}

void bridge_muc_shutdown(void)
{
    static const char *const codes[] = {"110", "332", NULL};
    struct bridge_muc_joined *j;
    struct store_room *room;
    struct bridge_muc_ctx c;

    store_txn_begin(bridge_store());
    for (j = bridge_muc_list; j != NULL; j = j->next) {
        room = store_room_by_id(bridge_store(), j->room_id);
        memset(&c, 0, sizeof(c));
        c.full = j->full;
        c.room_jid = room ? jid_of(room->group_id, component_jid()) : NULL;
        if (c.room_jid != NULL)
            bridge_muc_leave(&c, j->nick, codes);
        free(c.room_jid);
        store_room_free(room);
    }
}

/* A presence to a room JID (c filled). */
static void bridge_muc_on_presence(xmpp_stanza_t *st,
                                   const struct bridge_muc_ctx *c)
{
    static const char *const left[] = {"110", NULL};
    static const char *const gone[] = {"110", "307", "333", NULL};
    const char *type = xmpp_stanza_get_type(st);
    const char *nick = bridge_muc_resource(xmpp_stanza_get_to(st));
    int join = xmpp_stanza_get_child_by_ns(st, NS_MUC) != NULL;
    struct bridge_muc_joined *j =
        c->room ? bridge_muc_find(c->full, c->room->id) : NULL;

    if (type != NULL && strcmp(type, "unavailable") == 0) {
        if (j != NULL) {
            bridge_muc_leave(c, j->nick, left);
            bridge_muc_forget(c->full, c->room->id);
        }
    } else if (type != NULL) {
        return; /* errors, subscriptions: nothing for a room */
    } else if (c->a == NULL) {
        if (join)
            bridge_muc_join_error(st, "auth", "registration-required",
                                  "Register with this gateway first");
    } else if (c->room == NULL) {
        if (join)
            bridge_muc_join_error(st, "cancel", "item-not-found",
                                  "You are not in this WhatsApp group");
    } else if (nick == NULL || nick[0] == '\0') {
        if (join)
            bridge_muc_join_error(st, "modify", "jid-malformed",
                                  "Join with a nickname");
    } else if (join) {
        bridge_muc_join(st, c, nick);
    } else if (j == NULL) {
        bridge_muc_leave(c, nick, gone); /* after a restart: rejoin */
    }
}

int bridge_muc_presence(xmpp_stanza_t *st)
{
    struct bridge_muc_ctx c;

    if (bridge_muc_ctx(&c, xmpp_stanza_get_from(st), xmpp_stanza_get_to(st)) <
            0 ||
        (c.room == NULL && xmpp_stanza_get_child_by_ns(st, NS_MUC) == NULL)) {
        bridge_muc_ctx_free(&c); /* not a room of the user's, no join */
        return 0;
    }
    bridge_muc_on_presence(st, &c);
    bridge_muc_ctx_free(&c);
    return 1;
}

/* ---- self-ping (XEP-0410) ---- */

/* 1 when nick is an occupant's in the room (one of the members' nicks or
 * a resource of the user's). */
static int bridge_muc_occupant(const struct bridge_muc_ctx *c, const char *nick)
{
    size_t n = 0;
    struct store_member **m = bridge_muc_members(c->room->id, &n);
    char **nicks = bridge_muc_nicks(m, n);
    struct bridge_muc_joined *j;
    int found = bridge_muc_nick_taken(nicks, n, nick);

    for (j = bridge_muc_list; j != NULL && !found; j = j->next)
        found = bridge_muc_in(j, c->room->id, c->bare) &&
                strcmp(j->nick, nick) == 0;
    bridge_muc_nicks_free(nicks, n);
    bridge_muc_members_free(m, n);
    return found;
}

/* A ping to an occupant JID: answered for a resource in the room (its own
 * nick, or another occupant's), not-acceptable for one that is not in it
 * (after a restart: clients then join again); other pings are disco's. */
static int bridge_muc_ping(xmpp_stanza_t *iq, xmpp_stanza_t *child, void *arg)
{
    const char *to = xmpp_stanza_get_to(iq);
    const char *type = xmpp_stanza_get_type(iq);
    const char *nick = bridge_muc_resource(to);
    struct bridge_muc_ctx c;

    if (nick == NULL || type == NULL || strcmp(type, "get") != 0)
        return 0;
    if (bridge_muc_ctx(&c, xmpp_stanza_get_from(iq), to) < 0) {
        bridge_muc_ctx_free(&c);
        return 0; /* a contact's JID: disco answers */
    }
    if (c.room == NULL || bridge_muc_find(c.full, c.room->id) == NULL)
        component_error_reply(iq, "cancel", "not-acceptable",
                              "You are not in this room: join it again");
    else if (bridge_muc_occupant(&c, nick))
        component_iq_result(iq, NULL);
    else
        component_error_reply(iq, "cancel", "item-not-found",
                              "No such occupant");
    bridge_muc_ctx_free(&c);
    return 1;
}

void bridge_muc_init(void)
{
    component_iq_register_first(NS_PING, bridge_muc_ping, NULL);
    bridge_muc_people_init();
}

/* ---- disco ---- */

static void bridge_muc_feature(xmpp_stanza_t *q, const char *var)
{
    xmpp_stanza_set_attribute(component_elem(q, "feature", NULL), "var", var);
}

void bridge_muc_field(xmpp_stanza_t *x, const char *var, const char *type,
                      const char *value)
{
    xmpp_stanza_t *f = component_elem(x, "field", NULL);

    xmpp_stanza_set_attribute(f, "var", var);
    if (type != NULL)
        xmpp_stanza_set_attribute(f, "type", type);
    component_text_elem(f, "value", value);
}

/* disco#info on a room the user has. */
static void bridge_muc_info(xmpp_stanza_t *iq, const struct bridge_muc_ctx *c,
                            const char *node)
{
    static const char *const features[] = {
        NS_MUC,
        "muc_persistent",
        "muc_membersonly",
        "muc_nonanonymous",
        "muc_hidden",
        "muc_unmoderated",
        "muc_unsecured",
        NS_MUC "#stable_id",
        NS_OCCUPANT_ID,
        NS_SID,
        NS_PING,
        NS_MUC "#self-ping-optimization",
        "urn:xmpp:mam:2",
        "vcard-temp",
        NULL,
    };
    char hash[STORE_AVATAR_HASH];
    xmpp_stanza_t *q = component_elem(NULL, "query", NS_DISCO_INFO);
    xmpp_stanza_t *id = component_elem(q, "identity", NULL), *x;
    const char *name =
        c->room->subject[0] != '\0' ? c->room->subject : c->room->group_id;
    int i;

    if (node != NULL)
        xmpp_stanza_set_attribute(q, "node", node);
    xmpp_stanza_set_attribute(id, "category", "conference");
    xmpp_stanza_set_attribute(id, "type", "text");
    xmpp_stanza_set_attribute(id, "name", name);
    for (i = 0; features[i] != NULL; i++)
        bridge_muc_feature(q, features[i]);
    x = component_elem(q, "x", "jabber:x:data");
    xmpp_stanza_set_type(x, "result");
    bridge_muc_field(x, "FORM_TYPE", "hidden",
                     "http://jabber.org/protocol/muc#roominfo");
    bridge_muc_field(x, "muc#roomconfig_roomname", NULL, name);
    bridge_muc_field(x, "muc#roominfo_subject", NULL, c->room->subject);
    /* XEP-0486: the group's picture, the vCard of the room */
    if (store_avatar_hash(bridge_store(), STORE_AVATAR_ROOM, c->room->id,
                          hash) == 1)
        bridge_muc_field(x, "muc#roominfo_avatarhash", NULL, hash);
    bridge_muc_field(x, "muc#roomconfig_whois", NULL, "anyone");
    bridge_muc_field(x, "muc#roomconfig_allowpm", NULL, "none");
    bridge_muc_field(x, "muc#roomconfig_changesubject", NULL, "0");
    bridge_muc_field(x, "muc#maxhistoryfetch", NULL, BRIDGE_MUC_HISTORY_MAX_S);
    /* XEP-0444 2.2: WhatsApp keeps one reaction per person */
    x = component_elem(q, "x", "jabber:x:data");
    xmpp_stanza_set_type(x, "result");
    bridge_muc_field(x, "FORM_TYPE", "hidden",
                     "urn:xmpp:reactions:0:restrictions");
    bridge_muc_field(x, "max_reactions_per_user", NULL, "1");
    component_iq_result(iq, q);
    xmpp_stanza_release(q);
}

/* disco#items on the gateway: the user's rooms. */
static void bridge_muc_items(xmpp_stanza_t *iq, const struct store_account *a)
{
    xmpp_stanza_t *q = component_elem(NULL, "query", NS_DISCO_ITEMS), *it;
    struct store_room **rooms;
    size_t i, n;
    char *jid;

    store_room_list(bridge_store(), a->id, BRIDGE_MUC_ROOMS_MAX, &rooms, &n);
    for (i = 0; i < n; i++) {
        jid = jid_of(rooms[i]->group_id, component_jid());
        if (jid != NULL) {
            it = component_elem(q, "item", NULL);
            xmpp_stanza_set_attribute(it, "jid", jid);
            xmpp_stanza_set_attribute(it, "name",
                                      rooms[i]->subject[0] != '\0'
                                          ? rooms[i]->subject
                                          : rooms[i]->group_id);
        }
        free(jid);
        store_room_free(rooms[i]);
    }
    free(rooms);
    component_iq_result(iq, q);
    xmpp_stanza_release(q);
}

/* The gateway's items for a registered user; 0 to let disco answer. */
static int bridge_muc_gateway_items(xmpp_stanza_t *iq)
{
    char *bare = jid_bare(xmpp_stanza_get_from(iq));
    struct store_account *a;

    store_txn_begin(bridge_store());
    a = bare ? store_account_by_jid(bridge_store(), bare) : NULL;
    if (a != NULL)
        bridge_muc_items(iq, a);
    store_account_free(a);
    free(bare);
    return a != NULL;
}

/* An empty disco#items answer. */
static void bridge_muc_no_items(xmpp_stanza_t *iq)
{
    xmpp_stanza_t *q = component_elem(NULL, "query", NS_DISCO_ITEMS);

    component_iq_result(iq, q);
    xmpp_stanza_release(q);
}

int bridge_muc_disco(xmpp_stanza_t *iq, const char *node, int items, void *arg)
{
    const char *to = xmpp_stanza_get_to(iq);
    struct bridge_muc_ctx c;

    if (to == NULL || strchr(to, '@') == NULL)
        return items && node == NULL && bridge_muc_gateway_items(iq);
    if (bridge_muc_resource(to) != NULL)
        return 0;
    if (bridge_muc_ctx(&c, xmpp_stanza_get_from(iq), to) < 0) {
        bridge_muc_ctx_free(&c);
        return 0;
    }
    if (!bridge_muc_iq_refused(iq, &c)) {
        if (items)
            bridge_muc_no_items(iq);
        else
            bridge_muc_info(iq, &c, node);
    }
    bridge_muc_ctx_free(&c);
    return 1;
}
