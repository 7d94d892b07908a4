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
#include "util.h"

#define NS_VCARD "vcard-temp"
#define BRIDGE_AVATAR_MAX (96 * 1024) /* bytes: WhatsApp's are 640 px JPEGs */
#define BRIDGE_AVATAR_AGE_S 86400     /* asked again after a day */
#define BRIDGE_AVATAR_FLIGHT 2        /* asked at once, in all */
#define BRIDGE_AVATAR_PACE_MS 250     /* between two asked by the walk */
#define BRIDGE_AVATAR_IDLE_MS 60000   /* the walk looks again after this */
#define BRIDGE_AVATAR_PAUSE_MS 600000 /* after a failure to ask */

/* A picture being asked for. */
struct bridge_avatar {
    long long contact_id, account_id;
    char *path;
};

static struct {
    struct event *walk;
    long long flight[BRIDGE_AVATAR_FLIGHT]; /* contact ids, 0: free */
} bp;

/* The slot of contact_id among those in flight (0 finds a free one), or
 * -1. */
static int bridge_avatar_slot(long long contact_id)
{
    int i;

    for (i = 0; i < BRIDGE_AVATAR_FLIGHT; i++)
        if (bp.flight[i] == contact_id)
            return i;
    return -1;
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
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE], *data;
    unsigned int mdlen = 0, i;
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
        for (i = 0; i < mdlen; i++) {
            hash[2 * i] = hex[md[i] >> 4];
            hash[2 * i + 1] = hex[md[i] & 15];
        }
        hash[2 * mdlen] = '\0';
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
    int changed;

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
    changed = store_avatar_set(bridge_store(), w->contact_id, hash, mime, data,
                               data ? (size_t)r->size : 0, now_s());
    free(data);
    if (changed <= 0)
        return;
    a = store_account_by_id(bridge_store(), w->account_id);
    c = a != NULL ? store_contact_by_id(bridge_store(), w->contact_id) : NULL;
    if (c != NULL && c->account_id == a->id)
        roster_contact_changed(a, c);
    store_contact_free(c);
    store_account_free(a);
}

static void bridge_avatar_done(const struct net_result *r, void *arg)
{
    struct bridge_avatar *w = arg;
    int i = bridge_avatar_slot(w->contact_id);

    if (i >= 0)
        bp.flight[i] = 0;
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

/* Asks for the picture of contact network_id of account_id, unless it is
 * asked for already or too many are; 1 when asked. */
static int bridge_avatar_ask(const struct net_backend *be, long long contact_id,
                             long long account_id, const char *network_id)
{
    struct store_account *a;
    struct net_account na;
    struct bridge_avatar *w;
    int slot;

    if (bridge_avatar_slot(contact_id) >= 0 ||
        (slot = bridge_avatar_slot(0)) < 0)
        return 0;
    a = store_account_by_id(bridge_store(), account_id);
    if (a == NULL)
        return 0;
    w = xcalloc(1, sizeof(*w));
    w->contact_id = contact_id;
    w->account_id = account_id;
    w->path = media_temp_path();
    bp.flight[slot] = contact_id;
    na.id = a->network_id;
    na.token = a->token;
    be->avatar(&na, network_id, w->path, BRIDGE_AVATAR_MAX, bridge_avatar_done,
               w);
    store_account_free(a);
    return 1;
}

struct bridge_avatar_walk {
    const struct net_backend *be;
    int asked;
};

static int bridge_avatar_due(long long contact_id, long long account_id,
                             const char *network_id, void *arg)
{
    struct bridge_avatar_walk *w = arg;

    if (bridge_avatar_slot(contact_id) >= 0)
        return 0; /* on its way */
    w->asked += bridge_avatar_ask(w->be, contact_id, account_id, network_id);
    return bridge_avatar_slot(0) < 0; /* stop when all slots are taken */
}

/* One step of the walk: the stalest pictures of every back end that has
 * them, while slots are free. */
static void bridge_avatar_step(evutil_socket_t fd, short what, void *arg)
{
    const struct net_set *set = bridge_backends();
    struct bridge_avatar_walk w = {NULL, 0};
    int i;

    if (!component_connected()) {
        bridge_avatar_walk_in(BRIDGE_AVATAR_IDLE_MS);
        return;
    }
    for (i = 0; i < set->n && bridge_avatar_slot(0) >= 0; i++) {
        w.be = set->be[i];
        if (w.be->avatar != NULL &&
            store_avatar_due(
                bridge_store(), w.be->name, now_s() - BRIDGE_AVATAR_AGE_S,
                BRIDGE_AVATAR_FLIGHT * 2, bridge_avatar_due, &w) < 0)
            break;
    }
    if (w.asked == 0 && bridge_avatar_slot(0) >= 0)
        bridge_avatar_walk_in(BRIDGE_AVATAR_IDLE_MS);
}

/* ---- vcard-temp on contact JIDs ---- */

/* The contact's vCard: its name and picture. */
static xmpp_stanza_t *bridge_vcard(const struct store_contact *c)
{
    xmpp_stanza_t *v = component_elem(NULL, "vCard", NS_VCARD), *photo;
    unsigned char *data;
    char *mime, *b64;
    size_t len;

    component_text_elem(v, "FN", c->name != NULL ? c->name : c->localpart);
    component_text_elem(v, "TEL", c->localpart);
    if (store_avatar_get(bridge_store(), c->id, &mime, &data, &len) == 1 &&
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

/* A vCard get on a contact JID from a user who sees the contact: the one
 * kept (asking the network again when it is older than a day). */
static int bridge_vcard_iq(xmpp_stanza_t *iq, xmpp_stanza_t *q, void *arg)
{
    const char *to = xmpp_stanza_get_to(iq);
    char *user = jid_bare(xmpp_stanza_get_from(iq)), *cj = jid_bare(to);
    char *wa = cj ? jid_network_id(cj, component_jid()) : NULL;
    struct store_account *a = NULL;
    struct store_contact *c = NULL;
    const struct net_backend *be;
    char hash[STORE_AVATAR_HASH];
    xmpp_stanza_t *v;
    int handled = 1;

    if (wa == NULL || jid_kind_of(wa) != JID_KIND_PHONE) {
        handled = 0; /* not a contact: someone else's, or nobody's */
        goto out;
    }
    if (strcmp(xmpp_stanza_get_type(iq), "get") != 0) {
        component_error_reply(iq, "cancel", "not-allowed",
                              "The vCard of a WhatsApp contact is theirs");
        goto out;
    }
    a = user ? bridge_team_account(user) : NULL;
    c = a ? store_contact_get(bridge_store(), a->id, wa) : NULL;
    if (c == NULL) {
        component_error_reply(iq, "cancel", "item-not-found", NULL);
        goto out;
    }
    v = bridge_vcard(c);
    component_iq_result(iq, v);
    xmpp_stanza_release(v);
    be = bridge_backend_of(a);
    if (be->avatar != NULL && strcmp(a->state, "active") == 0 &&
        (store_avatar_hash(bridge_store(), c->id, hash) == 0 ||
         store_avatar_checked(bridge_store(), c->id) <
             now_s() - BRIDGE_AVATAR_AGE_S))
        bridge_avatar_ask(be, c->id, a->id, c->network_id);
out:
    store_contact_free(c);
    store_account_free(a);
    free(wa);
    free(cj);
    free(user);
    return handled;
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

void bridge_presence_free(void)
{
    if (bp.walk != NULL)
        event_free(bp.walk);
    memset(&bp, 0, sizeof(bp));
}
