/* SPDX-License-Identifier: MIT */
/* Presence for the gateway JID and contact JIDs: subscription requests are
 * approved for registered users, probes are answered, and contacts of an
 * active account show as available. */
#include <stdlib.h>
#include <string.h>

#include "component.h"
#include "disco.h"
#include "jid.h"
#include "log.h"
#include "roster.h"
#include "store.h"
#include "util.h"

#define NS_NICK "http://jabber.org/protocol/nick"

static struct {
    struct store *st;
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

/* Sends presence; a contact's available presence carries XEP-0115 caps. */
static void roster_send(const char *type, const char *from, const char *to)
{
    xmpp_stanza_t *p = roster_presence_new(type, from, to), *c;

    if (type == NULL && strchr(from, '@') != NULL) {
        c = disco_contact_caps();
        xmpp_stanza_add_child_ex(p, c, 0);
    }

    component_send(p);
    xmpp_stanza_release(p);
}

char *roster_subscribe_xml(const char *contact_jid, const char *user,
                           const char *name)
{
    xmpp_stanza_t *p = roster_presence_new("subscribe", contact_jid, user);
    char *text = NULL, *copy;
    size_t len;

    if (name != NULL && *name != '\0') {
        xmpp_stanza_t *nick = xmpp_stanza_new(component_ctx());
        xmpp_stanza_t *t = xmpp_stanza_new(component_ctx());

        xmpp_stanza_set_name(nick, "nick");
        xmpp_stanza_set_ns(nick, NS_NICK);
        xmpp_stanza_set_text(t, name);
        xmpp_stanza_add_child_ex(nick, t, 0);
        xmpp_stanza_add_child_ex(p, nick, 0);
    }
    if (xmpp_stanza_to_text(p, &text, &len) != XMPP_EOK)
        fatal("roster: cannot serialise a presence");
    copy = xstrndup(text, len);
    xmpp_free(component_ctx(), text);
    xmpp_stanza_release(p);
    return copy;
}

/* The contact's JID (caller frees). */
static char *roster_contact_jid(const struct store_contact *c)
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

/* Presence to a contact JID of a registered user. */
static void roster_contact_presence(const char *type, const char *to,
                                    const struct store_account *a)
{
    char wa[JID_PHONE_MAX], *cj;
    struct store_contact *c;
    int created;
    long long id;

    if (jid_to_wa_id(to, component_jid(), wa, sizeof(wa)) < 0) {
        if (type != NULL && strcmp(type, "subscribe") == 0)
            roster_send("unsubscribed", to, a->jid);
        return;
    }
    cj = xasprintf("+%s@%s", wa, component_jid());
    if (type != NULL && strcmp(type, "subscribe") == 0) {
        char *local = xasprintf("+%s", wa);

        id = store_contact_ensure(roster.st, a->id, wa, local, NULL, &created);
        free(local);
        if (id > 0)
            store_contact_set_subscription(roster.st, id, "both");
        roster_send("subscribed", cj, a->jid);
        if (created)
            roster_send("subscribe", cj, a->jid);
        roster_send(NULL, cj, a->jid);
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
        store_contact_free(c);
        roster_send(strcmp(a->state, "active") == 0 ? NULL : "unavailable", cj,
                    a->jid);
    }
    free(cj);
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
    a = store_account_by_jid(roster.st, bare);
    if (a == NULL) {
        /* Not registered: refuse subscriptions, say unavailable to probes. */
        if (type != NULL && strcmp(type, "subscribe") == 0)
            roster_send("unsubscribed", to, bare);
        else if (type != NULL && strcmp(type, "probe") == 0)
            roster_send("unavailable", to, bare);
        goto out;
    }
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

void roster_account_removed(const struct store_account *a)
{
    store_contact_foreach(roster.st, a->id, roster_unsubscribe_contact,
                          (void *)a);
    roster_send("unavailable", component_jid(), a->jid);
    roster_send("unsubscribed", component_jid(), a->jid);
    roster_send("unsubscribe", component_jid(), a->jid);
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
    roster_send(b->type, cj, b->a->jid);
    free(cj);
    return 0;
}

static int roster_bcast_account(const struct store_account *a, void *arg)
{
    struct roster_bcast b = {a, arg};

    if (b.type == NULL && strcmp(a->state, "active") != 0)
        b.type = "unavailable";
    roster_send(b.type, component_jid(), a->jid);
    store_contact_foreach(roster.st, a->id, roster_bcast_contact, &b);
    return 0;
}

void roster_broadcast(int available)
{
    store_account_foreach(roster.st, roster_bcast_account,
                          available ? NULL : (void *)"unavailable");
}

void roster_init(struct store *st)
{
    roster.st = st;
}
