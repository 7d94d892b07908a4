/* SPDX-License-Identifier: MIT */
/* Presence for the gateway JID and contact JIDs: subscription requests are
 * approved for registered users, probes are answered, and contacts of an
 * active account show as available, away with an XEP-0319 idle time when
 * the network said they went offline, and with the XEP-0153 hash of their
 * profile picture when it is known. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "component.h"
#include "conf.h"
#include "disco.h"
#include "jid.h"
#include "log.h"
#include "loop.h"
#include "message.h"
#include "metrics.h"
#include "queue.h"
#include "roster.h"
#include "store.h"
#include "store_avatar.h"
#include "util.h"

#define NS_NICK "http://jabber.org/protocol/nick"
#define NS_ROSTER "jabber:iq:roster"
#define NS_PRIVILEGE_PREFIX "urn:xmpp:privilege:"
#define NS_VCARD_UPDATE "vcard-temp:x:update"
#define NS_IDLE "urn:xmpp:idle:1"
/* Contacts whose network presence is remembered (open addressing on the
 * contact id; a power of two). Past three quarters full, new ones are not
 * remembered: they show as available, as before the network said. */
#define ROSTER_SEEN_SLOTS 8192
#define ROSTER_MAX_DOMAINS 16
/* iq namespaces a domain grants that are remembered */
#define ROSTER_IQ_NS_MAX 8
#define ROSTER_BCAST_PAGE 32       /* accounts per page of the broadcast */
#define ROSTER_BCAST_QUEUE_MAX 256 /* stanzas libstrophe holds before the */
#define ROSTER_BCAST_WAIT_MS 2     /* next page waits this long */
/* A roster push's id: ROSTER_PUSH_ID <account id>-<wa id>-<nonce>-<mac>,
 * the mac over the rest keyed from the component secret: a reply names
 * only a push ferry made, for that account, even after a restart. */
#define ROSTER_PUSH_ID "roster-push-"
#define ROSTER_MAC_HEX 16 /* 64 bits of HMAC-SHA256 */
#define ROSTER_PUSH_ID_MAX 160

/* A contact the network said is away (or back). */
struct roster_seen {
    long long contact_id; /* 0: a free slot */
    int away;
    long long last_seen; /* unix seconds, 0 when not known */
};

/* An iq namespace a server domain lets the gateway use as its users. */
struct roster_iq_perm {
    char ns[128];
    int get, set;
};

/* What a server domain lets the gateway do (XEP-0356). */
struct roster_privilege {
    char domain[256];
    int roster_set;   /* may push roster items */
    char message[32]; /* may send messages as its users: the namespace */
    char via[32];     /* the privilege namespace the domain spoke */
    struct roster_iq_perm iq[ROSTER_IQ_NS_MAX];
    int niq;
};

static struct {
    struct store *st;
    char *group;
    struct roster_privilege priv[ROSTER_MAX_DOMAINS];
    int npriv;
    unsigned char push_key[32]; /* keys the mac of roster push ids */
    struct event *bcast;        /* next step of the start-up broadcast */
    long long bcast_after;      /* accounts up to this id are done */
    struct roster_seen *seen;   /* ROSTER_SEEN_SLOTS, made when needed */
    size_t nseen;
} roster;

static xmpp_stanza_t *roster_presence_new(const char *type, const char *from,
                                          const char *to)
{
    xmpp_stanza_t *p = xmpp_presence_new(component_ctx());

    if (type != NULL)
        xmpp_stanza_set_type(p, type);
    xmpp_stanza_set_from(p, from);
    xmpp_stanza_set_to(p, to);
    return p;
}

/* The slot of contact_id, or the free slot where it would go (NULL when
 * the table is not made). */
static struct roster_seen *roster_seen_slot(long long contact_id)
{
    size_t i = (size_t)contact_id * 2654435761u & (ROSTER_SEEN_SLOTS - 1);

    if (roster.seen == NULL)
        return NULL;
    while (roster.seen[i].contact_id != 0 &&
           roster.seen[i].contact_id != contact_id)
        i = (i + 1) & (ROSTER_SEEN_SLOTS - 1);
    return &roster.seen[i];
}

/* Adds what the network said of contact_id to its available presence p:
 * <show>away</show> and an XEP-0319 idle time, and the XEP-0153 hash of
 * its picture (an empty one when it has none). */
static void roster_contact_status(xmpp_stanza_t *p, long long contact_id)
{
    struct roster_seen *seen = roster_seen_slot(contact_id);
    char hash[STORE_AVATAR_HASH], since[UTIL_DATETIME_LEN];
    xmpp_stanza_t *e;

    if (seen != NULL && seen->contact_id == contact_id && seen->away) {
        component_text_elem(p, "show", "away");
        if (seen->last_seen > 0) {
            util_datetime(seen->last_seen, since);
            e = component_elem(p, "idle", NS_IDLE);
            xmpp_stanza_set_attribute(e, "since", since);
        }
    }
    if (store_avatar_hash(roster.st, STORE_AVATAR_CONTACT, contact_id, hash) ==
        1) {
        e = component_elem(p, "x", NS_VCARD_UPDATE);
        if (*hash != '\0')
            component_text_elem(e, "photo", hash);
        else
            component_elem(e, "photo", NULL);
    }
}

/* Sends presence; a contact's available presence carries XEP-0115 caps and,
 * for a contact ferry has a row of (contact_id), what roster_contact_status()
 * adds. */
static void roster_send_contact(const char *type, const char *from,
                                const char *to, long long contact_id)
{
    xmpp_stanza_t *p = roster_presence_new(type, from, to), *c;

    if (type == NULL && strchr(from, '@') != NULL) {
        if (contact_id > 0)
            roster_contact_status(p, contact_id);
        c = disco_contact_caps(to);
        xmpp_stanza_add_child_ex(p, c, 0);
    }

    component_send(p);
    xmpp_stanza_release(p);
}

static void roster_send(const char *type, const char *from, const char *to)
{
    roster_send_contact(type, from, to, 0);
}

char *roster_subscribe_xml(const char *contact_jid, const char *user,
                           const char *name)
{
    xmpp_stanza_t *p = roster_presence_new("subscribe", contact_jid, user);

    if (name != NULL && *name != '\0')
        xmpp_stanza_set_ns(component_text_elem(p, "nick", name), NS_NICK);
    return message_take_xml(p);
}

char *roster_contact_jid(const struct store_contact *c)
{
    return xasprintf("%s@%s", c->localpart, component_jid());
}

/* Presence from the gateway itself. */
static void roster_gateway_presence(const char *type, const char *from,
                                    const struct store_account *a)
{
    if (type == NULL || strcmp(type, "probe") == 0 ||
        strcmp(type, "available") == 0) {
        roster_send(strcmp(a->state, "active") == 0 ? NULL : "unavailable",
                    component_jid(), a->jid);
    } else if (strcmp(type, "subscribe") == 0) {
        roster_send("subscribed", component_jid(), a->jid);
        roster_send(NULL, component_jid(), a->jid);
    } else if (strcmp(type, "unsubscribe") == 0) {
        roster_send("unsubscribed", component_jid(), a->jid);
    }
}

/* 1 when wa is a network id the account has contacts by: a phone number,
 * or a hidden linked id that wrote to it (a contact or an alias). */
static int roster_contact_ok(const struct store_account *a, const char *wa)
{
    struct store_contact *c;

    if (wa != NULL && jid_kind_of(wa) == JID_KIND_PHONE)
        return 1;
    c = wa != NULL && jid_is_lid(wa) ? store_contact_get(roster.st, a->id, wa)
                                     : NULL;
    store_contact_free(c);
    return c != NULL;
}

/* Presence to a contact JID of a registered user. */
static void roster_contact_presence(const char *type, const char *to,
                                    const struct store_account *a)
{
    char *wa = jid_network_id(to, component_jid()), *cj;
    struct store_contact *c;
    int created;
    long long id;

    if (!roster_contact_ok(a, wa)) {
        if (type != NULL && strcmp(type, "subscribe") == 0)
            roster_send("unsubscribed", to, a->jid);
        free(wa);
        return;
    }
    cj = jid_of(wa, component_jid());
    if (type != NULL && strcmp(type, "subscribe") == 0) {
        char *local = jid_local_of(wa);

        id = store_contact_ensure(roster.st, a->id, wa, local, NULL, &created);
        free(local);
        if (id > 0)
            store_contact_set_subscription(roster.st, id, "both");
        roster_send("subscribed", cj, a->jid);
        if (created)
            roster_send("subscribe", cj, a->jid);
        roster_send_contact(NULL, cj, a->jid, id);
    } else if (type != NULL && (strcmp(type, "unsubscribe") == 0 ||
                                strcmp(type, "unsubscribed") == 0)) {
        c = store_contact_get(roster.st, a->id, wa);
        if (c != NULL)
            store_contact_set_subscription(roster.st, c->id, "none");
        store_contact_free(c);
        if (strcmp(type, "unsubscribe") == 0)
            roster_send("unsubscribed", cj, a->jid);
    } else if (type == NULL || strcmp(type, "probe") == 0 ||
               strcmp(type, "subscribed") == 0) {
        c = store_contact_get(roster.st, a->id, wa);
        if (c != NULL && type != NULL && strcmp(type, "subscribed") == 0)
            store_contact_set_subscription(roster.st, c->id, "both");
        roster_send_contact(strcmp(a->state, "active") == 0 ? NULL
                                                            : "unavailable",
                            cj, a->jid, c != NULL ? c->id : 0);
        store_contact_free(c);
    }
    free(cj);
    free(wa);
}

/* The account whose contacts bare sees: its own, or that of the team bare
 * is a member of, as seen by the member (jid: the member's). NULL when
 * neither. */
static struct store_account *roster_user(const char *bare)
{
    struct store_account *a = store_account_by_jid(roster.st, bare);
    long long id;

    if (a != NULL)
        return a;
    id = store_team_account_of(roster.st, bare);
    a = id > 0 ? store_account_by_id(roster.st, id) : NULL;
    if (a != NULL) {
        free(a->jid);
        a->jid = xstrdup(bare);
    }
    return a;
}

void roster_on_presence(xmpp_stanza_t *st, void *arg)
{
    const char *type = xmpp_stanza_get_type(st);
    const char *to = xmpp_stanza_get_to(st);
    char *bare = jid_bare(xmpp_stanza_get_from(st));
    struct store_account *a;

    if (bare == NULL || to == NULL)
        goto out;
    if (type != NULL &&
        (strcmp(type, "error") == 0 || strcmp(type, "unavailable") == 0))
        goto out;
    a = roster_user(bare);
    if (a == NULL) {
        /* Not registered: refuse subscriptions, say unavailable to probes. */
        if (type != NULL && strcmp(type, "subscribe") == 0)
            roster_send("unsubscribed", to, bare);
        else if (type != NULL && strcmp(type, "probe") == 0)
            roster_send("unavailable", to, bare);
        goto out;
    }
    if (type == NULL)
        queue_in_release(a->id, a->jid); /* back: held messages go */
    if (strchr(to, '@') == NULL)
        roster_gateway_presence(type, bare, a);
    else
        roster_contact_presence(type, to, a);
    store_account_free(a);
out:
    free(bare);
}

void roster_account_added(const struct store_account *a)
{
    roster_send("subscribe", component_jid(), a->jid);
    roster_send(NULL, component_jid(), a->jid);
}

static int roster_unsubscribe_contact(const struct store_contact *c, void *arg)
{
    const struct store_account *a = arg;
    char *cj = roster_contact_jid(c);

    roster_send("unavailable", cj, a->jid);
    roster_send("unsubscribed", cj, a->jid);
    roster_send("unsubscribe", cj, a->jid);
    free(cj);
    return 0;
}

void roster_contact_gone(const char *contact_jid, const char *user)
{
    roster_send("unavailable", contact_jid, user);
    roster_send("unsubscribed", contact_jid, user);
    roster_send("unsubscribe", contact_jid, user);
}

void roster_account_removed(const struct store_account *a)
{
    store_contact_foreach(roster.st, a->id, roster_unsubscribe_contact,
                          (void *)a);
    roster_send("unavailable", component_jid(), a->jid);
    roster_send("unsubscribed", component_jid(), a->jid);
    roster_send("unsubscribe", component_jid(), a->jid);
}

/* The member's view of the account: its jid is the member's. */
static struct store_account roster_member_view(const struct store_account *a,
                                               const char *member)
{
    struct store_account v = *a;

    v.jid = (char *)member;
    return v;
}

static int roster_member_contact(const struct store_contact *c, void *arg)
{
    const struct store_account *v = arg;
    char *cj = roster_contact_jid(c);
    char *xml = roster_new_contact_xml(c->id, cj, v->jid, c->name);

    store_inbox_add(roster.st, v->id, v->jid, xml, NULL);
    free(xml);
    free(cj);
    return 0;
}

void roster_member_added(const struct store_account *a, const char *member)
{
    struct store_account v = roster_member_view(a, member);

    store_contact_foreach(roster.st, a->id, roster_member_contact, &v);
    queue_kick();
}

void roster_member_removed(const struct store_account *a, const char *member)
{
    struct store_account v = roster_member_view(a, member);

    store_contact_foreach(roster.st, a->id, roster_unsubscribe_contact, &v);
}

struct roster_bcast {
    const struct store_account *a;
    const char *type;
};

static int roster_bcast_contact(const struct store_contact *c, void *arg)
{
    struct roster_bcast *b = arg;
    char *cj;

    if (strcmp(c->subscription, "none") == 0)
        return 0;
    cj = roster_contact_jid(c);
    roster_send_contact(b->type, cj, b->a->jid, c->id);
    free(cj);
    return 0;
}

void roster_contact_changed(const struct store_account *a,
                            const struct store_contact *c)
{
    char *cj;

    if (strcmp(c->subscription, "none") == 0 ||
        strcmp(a->state, "active") != 0 || !component_connected())
        return;
    cj = roster_contact_jid(c);
    roster_send_contact(NULL, cj, a->jid, c->id);
    free(cj);
}

void roster_contact_seen(const struct store_account *a,
                         const struct store_contact *c, int away,
                         long long last_seen)
{
    struct roster_seen *seen;

    if (roster.seen == NULL)
        roster.seen = xcalloc(ROSTER_SEEN_SLOTS, sizeof(*roster.seen));
    seen = roster_seen_slot(c->id);
    if (seen->contact_id == c->id) {
        if (seen->away == away && (!away || seen->last_seen == last_seen))
            return; /* nothing new to show */
    } else if (!away || roster.nseen >= ROSTER_SEEN_SLOTS / 4 * 3) {
        return; /* available is what is shown without a slot */
    } else {
        seen->contact_id = c->id;
        roster.nseen++;
    }
    seen->away = away;
    seen->last_seen = away ? last_seen : 0;
    roster_contact_changed(a, c);
}

static int roster_bcast_account(const struct store_account *a, void *arg)
{
    struct roster_bcast b = {a, arg};

    if (b.type == NULL && strcmp(a->state, "active") != 0)
        b.type = "unavailable";
    roster_send(b.type, component_jid(), a->jid);
    store_contact_foreach(roster.st, a->id, roster_bcast_contact, &b);
    roster.bcast_after = a->id;
    return 0;
}

/* One step of the available broadcast: pages of accounts while the stream
 * takes them, then again once libstrophe has written most of its queue.
 * Queuing every presence at once (110,000 with 10,000 users) cost 100 MB
 * of RSS. */
static void roster_bcast_step(evutil_socket_t fd, short what, void *arg)
{
    long long before;

    while (component_connected() &&
           component_send_queue_len() < ROSTER_BCAST_QUEUE_MAX) {
        before = roster.bcast_after;
        store_account_page(roster.st, roster.bcast_after, ROSTER_BCAST_PAGE,
                           roster_bcast_account, NULL);
        if (roster.bcast_after == before) {
            log_debug("roster: start-up presences sent");
            return; /* every account done */
        }
    }
    if (component_connected())
        loop_timer_start(roster.bcast, ROSTER_BCAST_WAIT_MS);
}

void roster_broadcast(int available)
{
    if (roster.bcast == NULL)
        roster.bcast = event_new(loop_base(), -1, 0, roster_bcast_step, NULL);
    event_del(roster.bcast);
    roster.bcast_after = 0;
    if (available) {
        /* a new stream: the server advertises its privileges again, and
         * none of the old stream's stand */
        roster.npriv = 0;
        roster_bcast_step(-1, 0, NULL);
    } else /* shutting down: all at once, the stream is flushed before exit */
        store_account_foreach(roster.st, roster_bcast_account,
                              (void *)"unavailable");
}

void roster_init(struct store *st)
{
    roster.st = st;
}

void roster_reconfigure(const struct conf *conf)
{
    static const char label[] = "ferry roster push ids";
    unsigned int len = sizeof(roster.push_key);

    free(roster.group);
    roster.group = xstrdup(conf->gateway_name);
    if (HMAC(EVP_sha256(), conf->component_secret,
             (int)strlen(conf->component_secret), (const unsigned char *)label,
             sizeof(label) - 1, roster.push_key, &len) == NULL)
        fatal("roster: HMAC failed");
}

/* The mac of a roster push id's body, in hex (out: ROSTER_MAC_HEX + 1). */
static void roster_push_mac(const char *body, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (HMAC(EVP_sha256(), roster.push_key, sizeof(roster.push_key),
             (const unsigned char *)body, strlen(body), md, &len) == NULL)
        fatal("roster: HMAC failed");
    util_hex(md, ROSTER_MAC_HEX / 2, out);
}

/* A fresh roster push id for the account's contact wa (caller frees). */
static char *roster_push_id(long long account_id, const char *wa)
{
    char *nonce = component_random_id(), mac[ROSTER_MAC_HEX + 1];
    char *body = xasprintf("%lld-%s-%s", account_id, wa, nonce), *id;

    roster_push_mac(body, mac);
    id = xasprintf(ROSTER_PUSH_ID "%s-%s", body, mac);
    free(body);
    free(nonce);
    return id;
}

/* Checks a roster push id made by roster_push_id(): the account id and
 * the contact's wa id (out: JID_PHONE_MAX), or -1 when ferry did not make
 * it. */
static int roster_push_id_parse(const char *id, long long *account_id, char *wa)
{
    char body[ROSTER_PUSH_ID_MAX], mac[ROSTER_MAC_HEX + 1];
    const char *last;
    char *dash;
    size_t n;

    if (strncmp(id, ROSTER_PUSH_ID, strlen(ROSTER_PUSH_ID)) != 0)
        return -1;
    id += strlen(ROSTER_PUSH_ID);
    last = strrchr(id, '-');
    if (last == NULL || (size_t)(last - id) >= sizeof(body) ||
        strlen(last + 1) != ROSTER_MAC_HEX)
        return -1;
    memcpy(body, id, (size_t)(last - id));
    body[last - id] = '\0';
    roster_push_mac(body, mac);
    if (CRYPTO_memcmp(mac, last + 1, ROSTER_MAC_HEX) != 0)
        return -1;
    /* made by us: "<account>-<wa>-<nonce>"; the nonce is hex, the wa id
     * may hold dashes */
    dash = strchr(body, '-');
    last = dash != NULL ? strrchr(dash + 1, '-') : NULL;
    if (last == NULL)
        return -1;
    body[dash - body] = '\0';
    if (parse_ll(body, 1, LLONG_MAX, account_id) < 0)
        return -1;
    n = (size_t)(last - dash - 1);
    if (n == 0 || n >= JID_PHONE_MAX)
        return -1;
    memcpy(wa, dash + 1, n);
    wa[n] = '\0';
    return 0;
}

static struct roster_privilege *roster_privilege_of(const char *domain)
{
    int i;

    for (i = 0; i < roster.npriv; i++)
        if (strcmp(roster.priv[i].domain, domain) == 0)
            return &roster.priv[i];
    return NULL;
}

/* Remembers the <namespace/> elements under an iq permission. Prosody's
 * mod_privilege nests each in the one before (it never closes them), so
 * they are looked for under each other too. */
static void roster_iq_perms(struct roster_privilege *rp, xmpp_stanza_t *parent,
                            int depth)
{
    struct roster_iq_perm *q;
    xmpp_stanza_t *e;
    const char *ns, *type, *name;

    for (e = xmpp_stanza_get_children(parent); e; e = xmpp_stanza_get_next(e)) {
        name = xmpp_stanza_is_tag(e) ? xmpp_stanza_get_name(e) : NULL;
        if (name == NULL || strcmp(name, "namespace") != 0 ||
            rp->niq == ROSTER_IQ_NS_MAX || depth == ROSTER_IQ_NS_MAX)
            continue;
        ns = xmpp_stanza_get_attribute(e, "ns");
        type = xmpp_stanza_get_attribute(e, "type");
        if (ns != NULL && type != NULL && strlen(ns) < sizeof(q->ns)) {
            q = &rp->iq[rp->niq++];
            memcpy(q->ns, ns, strlen(ns) + 1);
            q->get = strcmp(type, "get") == 0 || strcmp(type, "both") == 0;
            q->set = strcmp(type, "set") == 0 || strcmp(type, "both") == 0;
        }
        roster_iq_perms(rp, e, depth + 1);
    }
}

int roster_on_privilege(xmpp_stanza_t *st)
{
    const char *from = xmpp_stanza_get_from(st);
    xmpp_stanza_t *p, *perm;
    struct roster_privilege *rp;
    const char *ns, *access, *type;

    for (p = xmpp_stanza_get_children(st); p; p = xmpp_stanza_get_next(p)) {
        ns = xmpp_stanza_get_ns(p);
        if (xmpp_stanza_is_tag(p) && ns != NULL &&
            strncmp(ns, NS_PRIVILEGE_PREFIX, strlen(NS_PRIVILEGE_PREFIX)) ==
                0 &&
            strcmp(xmpp_stanza_get_name(p), "privilege") == 0)
            break;
    }
    if (p == NULL)
        return 0;
    if (from == NULL || !component_jid_equal(from, component_server_domain())) {
        char safe[256];

        log_warn("roster: ignored a privilege advertisement from %s: only "
                 "%s, the server ferry is attached to, grants privileges",
                 log_escape(from ? from : "-", safe, sizeof(safe)),
                 component_server_domain());
        return 1;
    }
    if (strlen(from) >= sizeof(rp->domain))
        return 1;
    rp = roster_privilege_of(from);
    if (rp == NULL && roster.npriv == ROSTER_MAX_DOMAINS)
        return 1;
    if (rp == NULL)
        rp = &roster.priv[roster.npriv++];
    memset(rp, 0, sizeof(*rp));
    memcpy(rp->domain, from, strlen(from) + 1);
    if (strlen(ns) < sizeof(rp->via))
        memcpy(rp->via, ns, strlen(ns) + 1);
    for (perm = xmpp_stanza_get_children(p); perm;
         perm = xmpp_stanza_get_next(perm)) {
        access = xmpp_stanza_get_attribute(perm, "access");
        type = xmpp_stanza_get_attribute(perm, "type");
        if (access != NULL && type != NULL && strcmp(access, "roster") == 0)
            rp->roster_set =
                strcmp(type, "set") == 0 || strcmp(type, "both") == 0;
        if (access != NULL && type != NULL && strcmp(access, "message") == 0 &&
            strcmp(type, "outgoing") == 0 && strlen(ns) < sizeof(rp->message))
            memcpy(rp->message, ns, strlen(ns) + 1);
        if (access != NULL && strcmp(access, "iq") == 0)
            roster_iq_perms(rp, perm, 0);
    }
    if (rp->roster_set && strcmp(ns, NS_PRIVILEGE_PREFIX "1") == 0) {
        /* ejabberd 23.01 (privilege:1) applies a privileged roster set to
         * the component's own roster and answers an error: a push would
         * only delay the subscription request past the first message. */
        log_info("roster: %s grants %s roster access (%s), but that "
                 "version's roster set does not work: subscription requests "
                 "instead",
                 from, component_jid(), ns);
        rp->roster_set = 0;
        return 1;
    }
    log_info("roster: %s grants %s (%s): roster %s, messages %s, %d iq "
             "namespace(s)",
             from, component_jid(), ns, rp->roster_set ? "push" : "none",
             rp->message[0] ? "outgoing" : "none", rp->niq);
    return 1;
}

const char *roster_iq_privilege(const char *user, const char *ns,
                                const char *type)
{
    char domain[JID_MAX + 1];
    struct roster_privilege *rp;
    int i, set = strcmp(type, "set") == 0;

    if (jid_domain(user, domain, sizeof(domain)) < 0 ||
        (rp = roster_privilege_of(domain)) == NULL || rp->via[0] == '\0')
        return NULL;
    for (i = 0; i < rp->niq; i++)
        if (strcmp(rp->iq[i].ns, ns) == 0 &&
            (set ? rp->iq[i].set : rp->iq[i].get))
            return rp->via;
    return NULL;
}

const char *roster_message_privilege(const char *user)
{
    char domain[JID_MAX + 1];
    struct roster_privilege *rp;

    if (jid_domain(user, domain, sizeof(domain)) < 0 ||
        (rp = roster_privilege_of(domain)) == NULL || rp->message[0] == '\0')
        return NULL;
    return rp->message;
}

/* A privileged roster push of contact_jid into user's roster. */
static char *roster_push_xml(const struct store_contact *c,
                             const char *contact_jid, const char *user,
                             const char *name)
{
    xmpp_stanza_t *iq = xmpp_iq_new(component_ctx(), "set", NULL);
    xmpp_stanza_t *q = xmpp_stanza_new(component_ctx());
    xmpp_stanza_t *item = xmpp_stanza_new(component_ctx());
    xmpp_stanza_t *group = xmpp_stanza_new(component_ctx());
    xmpp_stanza_t *t = xmpp_stanza_new(component_ctx());
    char *id = roster_push_id(c->account_id, c->network_id), *safe;

    xmpp_stanza_set_id(iq, id);
    xmpp_stanza_set_from(iq, component_jid());
    xmpp_stanza_set_to(iq, user);
    xmpp_stanza_set_name(q, "query");
    xmpp_stanza_set_ns(q, NS_ROSTER);
    xmpp_stanza_set_name(item, "item");
    xmpp_stanza_set_attribute(item, "jid", contact_jid);
    xmpp_stanza_set_attribute(item, "subscription", "both");
    if (name != NULL && *name != '\0') {
        safe = utf8_xml_safe(name);
        xmpp_stanza_set_attribute(item, "name", safe);
        free(safe);
    }
    xmpp_stanza_set_name(group, "group");
    xmpp_stanza_set_text(t, roster.group ? roster.group : "WhatsApp");
    xmpp_stanza_add_child_ex(group, t, 0);
    xmpp_stanza_add_child_ex(item, group, 0);
    xmpp_stanza_add_child_ex(q, item, 0);
    xmpp_stanza_add_child_ex(iq, q, 0);
    free(id);
    return message_take_xml(iq);
}

char *roster_new_contact_xml(long long contact_id, const char *contact_jid,
                             const char *user, const char *name)
{
    char domain[JID_MAX + 1];
    struct roster_privilege *rp;

    struct store_contact *c;
    char *xml;

    if (jid_domain(user, domain, sizeof(domain)) == 0 &&
        (rp = roster_privilege_of(domain)) != NULL && rp->roster_set &&
        (c = store_contact_by_id(roster.st, contact_id)) != NULL) {
        store_contact_set_subscription(roster.st, contact_id, "both");
        xml = roster_push_xml(c, contact_jid, user, name);
        store_contact_free(c);
        return xml;
    }
    return roster_subscribe_xml(contact_jid, user, name);
}

/* Whether from may answer a push into the roster of the account's user:
 * the user's bare JID, or the user's server. */
static int roster_push_from_ok(const char *from, const struct store_account *a)
{
    char domain[JID_MAX + 1];

    if (from == NULL)
        return 0;
    if (component_jid_equal(from, a->jid))
        return 1;
    return jid_domain(a->jid, domain, sizeof(domain)) == 0 &&
           component_jid_equal(from, domain);
}

/* A push into the roster of a member of a's team: a becomes the
 * member's view of it, so that the answer is checked, and a refusal
 * handled, for the member. */
static void roster_push_member(const char *from, struct store_account *a)
{
    char *bare = from ? jid_bare(from) : NULL;

    if (bare != NULL && !component_jid_equal(bare, a->jid) &&
        store_team_account_of(roster.st, bare) == a->id) {
        free(a->jid);
        a->jid = bare;
        return;
    }
    free(bare);
}

/* The user's server refused the push: subscription requests for this
 * contact, and for every later one of that server. */
static void roster_push_refused(const struct store_account *a, const char *wa)
{
    struct roster_privilege *rp;
    struct store_contact *c;
    char domain[JID_MAX + 1], *cj, *xml;

    if (jid_domain(a->jid, domain, sizeof(domain)) == 0 &&
        (rp = roster_privilege_of(domain)) != NULL && rp->roster_set) {
        log_warn("roster: %s refused a privileged roster push: falling back "
                 "to subscription requests",
                 domain);
        rp->roster_set = 0;
    }
    c = store_contact_get(roster.st, a->id, wa);
    if (c == NULL)
        return;
    store_contact_set_subscription(roster.st, c->id, "none");
    cj = roster_contact_jid(c);
    xml = roster_subscribe_xml(cj, a->jid, c->name);
    store_inbox_add(roster.st, a->id, a->jid, xml, NULL);
    free(xml);
    free(cj);
    store_contact_free(c);
    queue_kick();
}

void roster_on_reply(xmpp_stanza_t *st, void *arg)
{
    const char *id = xmpp_stanza_get_id(st);
    const char *type = xmpp_stanza_get_type(st);
    const char *from = xmpp_stanza_get_from(st);
    struct store_account *a;
    char wa[JID_PHONE_MAX];
    long long aid;

    if (id == NULL || strncmp(id, ROSTER_PUSH_ID, strlen(ROSTER_PUSH_ID)))
        return; /* a late answer to an iq given up */
    if (roster_push_id_parse(id, &aid, wa) < 0) {
        component_forged(st, "not a roster push id ferry made");
        return;
    }
    a = store_account_by_id(roster.st, aid);
    if (a == NULL)
        return; /* unregistered since */
    roster_push_member(from, a);
    if (!roster_push_from_ok(from, a))
        component_forged(st, "not the user the roster push went to");
    else if (strcmp(type, "error") == 0)
        roster_push_refused(a, wa);
    store_account_free(a);
}

void roster_free(void)
{
    free(roster.seen);
    roster.seen = NULL;
    roster.nseen = 0;
    if (roster.bcast != NULL)
        event_free(roster.bcast);
    roster.bcast = NULL;
    free(roster.group);
    roster.group = NULL;
    roster.npriv = 0;
}
