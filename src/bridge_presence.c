/* SPDX-License-Identifier: MIT */
/* Contacts' profile pictures and availability (issue 13, item 5).
 *
 * Pictures: for back ends with net_backend.avatar, the pictures of the
 * contacts on users' rosters are asked for at most once a day (a slow walk
 * over the store, a few at a time) and when a client asks for a contact's
 * vCard (XEP-0054) and the one kept is older. They are kept in the store
 * (store_avatar.h); the roster puts their XEP-0153 hash in the contact's
 * presence, and a changed picture sends that presence again.
 *
 * Availability: NET_EVENT_PRESENCE (online, or offline with the time last
 * seen) becomes the contact's available presence, away with an XEP-0319
 * idle time when offline (roster_contact_seen()). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "bridge_core.h"
#include "bridge_presence.h"
#include "bridge_team.h"
#include "component.h"
#include "disco.h"
#include "jid.h"
#include "log.h"
#include "loop.h"
#include "media.h"
#include "net.h"
#include "net_backend.h"
#include "roster.h"
#include "store.h"
#include "store_avatar.h"
#include "store_room.h"
#include "util.h"

#define NS_VCARD "vcard-temp"
#define BRIDGE_AVATAR_MAX (96 * 1024) /* bytes: WhatsApp's are 640 px JPEGs */
#define BRIDGE_AVATAR_AGE_S 86400     /* asked again after a day */
#define BRIDGE_AVATAR_FLIGHT 2        /* asked at once, in all */
#define BRIDGE_AVATAR_PACE_MS 250     /* between two asked by the walk */
#define BRIDGE_AVATAR_IDLE_MS 60000   /* the walk looks again after this */
#define BRIDGE_AVATAR_PAUSE_MS 600000 /* after a failure to ask */

/* Whose picture: a contact's or a room's, by its row id. */
struct bridge_avatar_of {
    enum store_avatar_owner owner;
    long long id; /* 0: none (a free slot) */
};

/* A picture being asked for. */
struct bridge_avatar {
    struct bridge_avatar_of of;
    long long account_id;
    char *path;
};

static struct {
    struct event *walk;
    struct bridge_avatar_of flight[BRIDGE_AVATAR_FLIGHT];
    bridge_presence_room_fn room_changed;
} bp;

/* The slot of the picture of (owner, id) among those in flight (id 0 finds
 * a free one), or -1. */
static int bridge_avatar_slot(enum store_avatar_owner owner, long long id)
{
    int i;

    for (i = 0; i < BRIDGE_AVATAR_FLIGHT; i++)
        if (bp.flight[i].id == id && (id == 0 || bp.flight[i].owner == owner))
            return i;
    return -1;
}

static int bridge_avatar_free_slots(void)
{
    return bridge_avatar_slot(STORE_AVATAR_CONTACT, 0) >= 0;
}

static void bridge_avatar_walk_in(long long ms)
{
    if (bp.walk != NULL)
        loop_timer_start(bp.walk, ms);
}

void bridge_presence_kick(void)
{
    struct timeval due, now;

    if (bp.walk == NULL)
        return;
    /* sooner, never later: a flood of kicks does not hold the walk off */
    if (event_pending(bp.walk, EV_TIMEOUT, &due)) {
        evutil_gettimeofday(&now, NULL);
        if ((due.tv_sec - now.tv_sec) * 1000LL +
                (due.tv_usec - now.tv_usec) / 1000 <=
            BRIDGE_AVATAR_PACE_MS)
            return;
    }
    bridge_avatar_walk_in(BRIDGE_AVATAR_PACE_MS);
}

/* The picture file's SHA-1 in hex and its bytes (caller frees); NULL when
 * it cannot be read. */
static unsigned char *bridge_avatar_read(const char *path, size_t size,
                                         char hash[STORE_AVATAR_HASH])
{
    unsigned char md[EVP_MAX_MD_SIZE], *data;
    unsigned int mdlen = 0;
    FILE *fp = fopen(path, "rb");

    if (fp == NULL)
        return NULL;
    data = xmalloc(size + 1);
    if (fread(data, 1, size, fp) != size ||
        EVP_Digest(data, size, md, &mdlen, EVP_sha1(), NULL) != 1 ||
        mdlen != 20) {
        free(data);
        data = NULL;
    } else {
        util_hex(md, mdlen, hash);
    }
    fclose(fp);
    return data;
}

/* The picture's type when it is one ferry passes on, else NULL. */
static const char *bridge_avatar_mime(const char *mime)
{
    static const char *const ok[] = {"image/jpeg", "image/png", "image/webp",
                                     "image/gif"};
    size_t i;

    for (i = 0; mime != NULL && i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strncmp(mime, ok[i], strlen(ok[i])) == 0)
            return ok[i];
    return mime == NULL ? "image/jpeg" : NULL;
}

/* Keeps what the network said of the contact's picture; when it changed,
 * the contact's presence goes out again with the new hash. */
static void bridge_avatar_keep(const struct bridge_avatar *w,
                               const struct net_result *r)
{
    char hash[STORE_AVATAR_HASH] = "";
    unsigned char *data = NULL;
    const char *mime = NULL;
    struct store_account *a;
    struct store_contact *c;
    int changed, first;

    if (r->outcome == NET_OK && r->size > 0 &&
        (mime = bridge_avatar_mime(r->mime)) != NULL) {
        data = bridge_avatar_read(w->path, (size_t)r->size, hash);
        if (data == NULL) {
            log_warn("bridge: a profile picture fetched could not be read");
            hash[0] = '\0';
            mime = NULL;
        }
    } else if (r->outcome == NET_OK && r->size > 0) {
        log_info("bridge: a profile picture of type %.40s left out", r->mime);
    }
    store_txn_begin(bridge_store());
    first = store_avatar_checked(bridge_store(), w->of.owner, w->of.id) == 0;
    changed = store_avatar_set(bridge_store(), w->of.owner, w->of.id, hash,
                               mime, data, data ? (size_t)r->size : 0, now_s());
    free(data);
    if (changed <= 0)
        return;
    if (w->of.owner == STORE_AVATAR_ROOM) {
        /* a room learnt without a picture has nothing to announce */
        if (bp.room_changed != NULL && !(first && hash[0] == '\0'))
            bp.room_changed(w->account_id, w->of.id);
        return;
    }
    a = store_account_by_id(bridge_store(), w->account_id);
    c = a != NULL ? store_contact_by_id(bridge_store(), w->of.id) : NULL;
    if (c != NULL && c->account_id == a->id)
        roster_contact_changed(a, c);
    store_contact_free(c);
    store_account_free(a);
}

static void bridge_avatar_done(const struct net_result *r, void *arg)
{
    struct bridge_avatar *w = arg;
    int i = bridge_avatar_slot(w->of.owner, w->of.id);

    if (i >= 0)
        bp.flight[i].id = 0;
    if (r->outcome == NET_OK || r->outcome == NET_FAIL || r->too_big) {
        bridge_avatar_keep(w, r->outcome == NET_OK
                                  ? r
                                  : &(struct net_result){.outcome = NET_OK});
        bridge_avatar_walk_in(BRIDGE_AVATAR_PACE_MS);
    } else { /* the network is away or busy: later */
        log_info("bridge: profile pictures paused for %d minutes: %s",
                 BRIDGE_AVATAR_PAUSE_MS / 60000, r->text ? r->text : "-");
        bridge_avatar_walk_in(BRIDGE_AVATAR_PAUSE_MS);
    }
    unlink(w->path);
    free(w->path);
    free(w);
}

/* Asks for the picture of of (network_id: the contact's or the group's)
 * of account_id, unless it is asked for already or too many are; 1 when
 * asked. */
static int bridge_avatar_ask(const struct net_backend *be,
                             struct bridge_avatar_of of, long long account_id,
                             const char *network_id)
{
    struct store_account *a;
    struct net_account na;
    struct bridge_avatar *w;
    int slot;

    if (bridge_avatar_slot(of.owner, of.id) >= 0 ||
        (slot = bridge_avatar_slot(of.owner, 0)) < 0)
        return 0;
    a = store_account_by_id(bridge_store(), account_id);
    if (a == NULL)
        return 0;
    w = xcalloc(1, sizeof(*w));
    w->of = of;
    w->account_id = account_id;
    w->path = media_temp_path();
    bp.flight[slot] = of;
    na.id = a->network_id;
    na.token = a->token;
    be->avatar(&na, network_id, w->path, BRIDGE_AVATAR_MAX, bridge_avatar_done,
               w);
    store_account_free(a);
    return 1;
}

struct bridge_avatar_walk {
    const struct net_backend *be;
    enum store_avatar_owner owner;
    int asked;
};

static int bridge_avatar_due(long long id, long long account_id,
                             const char *network_id, void *arg)
{
    struct bridge_avatar_walk *w = arg;
    struct bridge_avatar_of of = {w->owner, id};

    if (bridge_avatar_slot(of.owner, of.id) >= 0)
        return 0; /* on its way */
    w->asked += bridge_avatar_ask(w->be, of, account_id, network_id);
    return !bridge_avatar_free_slots(); /* stop when all slots are taken */
}

/* One step of the walk: the stalest pictures of every back end that has
 * them, while slots are free. */
static void bridge_avatar_step(evutil_socket_t fd, short what, void *arg)
{
    const struct net_set *set = bridge_backends();
    struct bridge_avatar_walk w = {NULL, STORE_AVATAR_CONTACT, 0};
    int i, k;

    if (!component_connected()) {
        bridge_avatar_walk_in(BRIDGE_AVATAR_IDLE_MS);
        return;
    }
    /* contacts, then groups' rooms (those of back ends with groups) */
    for (k = 0; k < 2 && bridge_avatar_free_slots(); k++) {
        w.owner = k == 0 ? STORE_AVATAR_CONTACT : STORE_AVATAR_ROOM;
        for (i = 0; i < set->n && bridge_avatar_free_slots(); i++) {
            w.be = set->be[i];
            if (w.be->avatar != NULL &&
                (w.owner == STORE_AVATAR_CONTACT || w.be->groups != NULL) &&
                store_avatar_due(bridge_store(), w.owner, w.be->name,
                                 now_s() - BRIDGE_AVATAR_AGE_S,
                                 BRIDGE_AVATAR_FLIGHT * 2, bridge_avatar_due,
                                 &w) < 0)
                break;
        }
    }
    if (w.asked == 0 && bridge_avatar_free_slots())
        bridge_avatar_walk_in(BRIDGE_AVATAR_IDLE_MS);
}

/* ---- vcard-temp on contact JIDs ---- */

/* A vCard: the name fn, the number tel (or NULL) and the picture of of. */
static xmpp_stanza_t *bridge_vcard(const char *fn, const char *tel,
                                   struct bridge_avatar_of of)
{
    xmpp_stanza_t *v = component_elem(NULL, "vCard", NS_VCARD), *photo;
    unsigned char *data;
    char *mime, *b64;
    size_t len;

    component_text_elem(v, "FN", fn);
    if (tel != NULL)
        component_text_elem(v, "TEL", tel);
    if (store_avatar_get(bridge_store(), of.owner, of.id, &mime, &data, &len) ==
            1 &&
        len > 0) {
        photo = component_elem(v, "PHOTO", NULL);
        component_text_elem(photo, "TYPE", mime);
        b64 = xmalloc(4 * ((len + 2) / 3) + 1);
        EVP_EncodeBlock((unsigned char *)b64, data, (int)len);
        component_text_elem(photo, "BINVAL", b64);
        free(b64);
    }
    free(mime);
    free(data);
    return v;
}

/* The picture of of (network_id: the contact's or the group's) is asked
 * for again when it is older than a day. */
static void bridge_avatar_refresh(const struct store_account *a,
                                  struct bridge_avatar_of of,
                                  const char *network_id)
{
    const struct net_backend *be = bridge_backend_of(a);
    char hash[STORE_AVATAR_HASH];

    if (be->avatar != NULL && strcmp(a->state, "active") == 0 &&
        (store_avatar_hash(bridge_store(), of.owner, of.id, hash) == 0 ||
         store_avatar_checked(bridge_store(), of.owner, of.id) <
             now_s() - BRIDGE_AVATAR_AGE_S))
        bridge_avatar_ask(be, of, a->id, network_id);
}

/* A vCard get on a contact JID from a user who sees the contact, or on a
 * room JID from its user: the one kept (asking the network again when it
 * is older than a day). */
static int bridge_vcard_iq(xmpp_stanza_t *iq, xmpp_stanza_t *q, void *arg)
{
    const char *to = xmpp_stanza_get_to(iq);
    char *user = jid_bare(xmpp_stanza_get_from(iq)), *cj = jid_bare(to);
    char *wa = cj ? jid_network_id(cj, component_jid()) : NULL;
    enum jid_kind kind = wa ? jid_kind_of(wa) : JID_KIND_OTHER;
    struct store_account *a = NULL;
    struct store_contact *c = NULL;
    struct store_room *room = NULL;
    struct bridge_avatar_of of = {STORE_AVATAR_CONTACT, 0};
    xmpp_stanza_t *v;
    int handled = 1;

    if (wa == NULL || (kind != JID_KIND_PHONE && kind != JID_KIND_GROUP) ||
        strchr(to, '/') != NULL) {
        handled = 0; /* not a contact nor a room: someone else's */
        goto out;
    }
    if (strcmp(xmpp_stanza_get_type(iq), "get") != 0) {
        component_error_reply(iq, "cancel", "not-allowed",
                              "This vCard is WhatsApp's");
        goto out;
    }
    if (kind == JID_KIND_PHONE) {
        a = user ? bridge_team_account(user) : NULL;
        c = a ? store_contact_get(bridge_store(), a->id, wa) : NULL;
        of.id = c ? c->id : 0;
    } else {
        a = user ? store_account_by_jid(bridge_store(), user) : NULL;
        room = a ? store_room_get(bridge_store(), a->id, wa) : NULL;
        of.owner = STORE_AVATAR_ROOM;
        of.id = room ? room->id : 0;
    }
    if (of.id == 0) {
        component_error_reply(iq, "cancel", "item-not-found", NULL);
        goto out;
    }
    v = c ? bridge_vcard(c->name != NULL ? c->name : c->localpart, c->localpart,
                         of)
          : bridge_vcard(room->subject[0] ? room->subject : room->group_id,
                         NULL, of);
    component_iq_result(iq, v);
    xmpp_stanza_release(v);
    bridge_avatar_refresh(a, of, c ? c->network_id : room->group_id);
out:
    store_room_free(room);
    store_contact_free(c);
    store_account_free(a);
    free(wa);
    free(cj);
    free(user);
    return handled;
}

xmpp_stanza_t *bridge_presence_vcard(const struct store_account *a,
                                     const struct store_contact *c,
                                     const char *fn, const char *tel)
{
    struct bridge_avatar_of of = {STORE_AVATAR_CONTACT, c ? c->id : 0};
    xmpp_stanza_t *v = bridge_vcard(fn, tel, of);

    if (c != NULL)
        bridge_avatar_refresh(a, of, c->network_id);
    return v;
}

/* ---- availability ---- */

int bridge_presence_event(const struct net_event *ev,
                          const struct store_account *a)
{
    struct store_contact *c =
        ev->peer ? store_contact_get(bridge_store(), a->id, ev->peer) : NULL;

    if (c != NULL)
        roster_contact_seen(a, c, ev->away, ev->last_seen);
    store_contact_free(c);
    return 0;
}

void bridge_presence_init(void)
{
    const struct net_set *set = bridge_backends();
    int i;

    disco_contact_feature_add(NS_VCARD);
    component_iq_register(NS_VCARD, bridge_vcard_iq, NULL);
    for (i = 0; i < set->n; i++)
        if (set->be[i]->avatar != NULL && bp.walk == NULL) {
            bp.walk = event_new(loop_base(), -1, 0, bridge_avatar_step, NULL);
            bridge_avatar_walk_in(5000); /* once connected */
        }
}

void bridge_presence_on_room(bridge_presence_room_fn fn)
{
    bp.room_changed = fn;
}

void bridge_presence_free(void)
{
    if (bp.walk != NULL)
        event_free(bp.walk);
    memset(&bp, 0, sizeof(bp));
}
