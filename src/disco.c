/* SPDX-License-Identifier: MIT */
/* Answers disco#info and disco#items (XEP-0030), ping (XEP-0199) and
 * software version (XEP-0092) for the gateway and its contact JIDs. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "component.h"
#include "conf.h"
#include "config.h"
#include "disco.h"
#include "log.h"
#include "util.h"

#define DISCO_MAX_FEATURES 48
#define DISCO_CAPS_NODE "https://github.com/ferry-xmpp/ferry"
#define DISCO_MAX_NODE_HANDLERS 4
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_PING "urn:xmpp:ping"
#define NS_VERSION "jabber:iq:version"

struct disco_list {
    const char *var[DISCO_MAX_FEATURES];
    int n;
};

struct disco_node_handler {
    disco_node_fn fn;
    void *arg;
};

static struct {
    char *name;
    struct disco_list gateway;
    /* contact JIDs: one feature list per profile (the features of a back
     * end), each with its XEP-0115 ver, computed when needed */
    struct disco_list contact[DISCO_MAX_PROFILES];
    char *caps_ver[DISCO_MAX_PROFILES];
    disco_profile_fn profile;
    void *profile_arg;
    struct disco_node_handler nodes[DISCO_MAX_NODE_HANDLERS];
    int nnodes;
    struct disco_node_handler first; /* offered every query first */
} disco;

static void disco_list_add(struct disco_list *l, const char *var)
{
    int i;

    for (i = 0; i < l->n; i++)
        if (strcmp(l->var[i], var) == 0)
            return;
    if (l->n < DISCO_MAX_FEATURES)
        l->var[l->n++] = var;
}

void disco_feature_add(const char *var)
{
    disco_list_add(&disco.gateway, var);
}

void disco_profile_feature_add(int profile, const char *var)
{
    if (profile < 0 || profile >= DISCO_MAX_PROFILES)
        return;
    free(disco.caps_ver[profile]);
    disco.caps_ver[profile] = NULL;
    disco_list_add(&disco.contact[profile], var);
}

void disco_contact_feature_add(const char *var)
{
    int i;

    for (i = 0; i < DISCO_MAX_PROFILES; i++)
        disco_profile_feature_add(i, var);
}

void disco_contact_profiles(disco_profile_fn fn, void *arg)
{
    disco.profile = fn;
    disco.profile_arg = arg;
}

/* The profile of contact JIDs shown to the sender of a stanza (full or
 * bare JID). */
static int disco_profile_of(const char *user)
{
    int p = disco.profile && user ? disco.profile(user, disco.profile_arg) : 0;

    return p >= 0 && p < DISCO_MAX_PROFILES ? p : 0;
}

void disco_node_handler_add(disco_node_fn fn, void *arg)
{
    if (disco.nnodes == DISCO_MAX_NODE_HANDLERS)
        fatal("disco: too many node handlers");
    disco.nodes[disco.nnodes].fn = fn;
    disco.nodes[disco.nnodes].arg = arg;
    disco.nnodes++;
}

void disco_first_handler_set(disco_node_fn fn, void *arg)
{
    disco.first.fn = fn;
    disco.first.arg = arg;
}

/* 1 when the first handler answered the query. */
static int disco_first(xmpp_stanza_t *iq, const char *node, int items)
{
    return disco.first.fn != NULL &&
           disco.first.fn(iq, node, items, disco.first.arg);
}

/* 1 when the iq is addressed to the gateway itself (no localpart). */
static int disco_to_gateway(xmpp_stanza_t *iq)
{
    const char *to = xmpp_stanza_get_to(iq);

    return to == NULL || strchr(to, '@') == NULL;
}

/* Offers a node query on the gateway to the node handlers; 1 if one
 * answered. */
static int disco_node_dispatch(xmpp_stanza_t *iq, const char *node, int items)
{
    int i;

    if (node == NULL || !disco_to_gateway(iq))
        return 0;
    for (i = 0; i < disco.nnodes; i++)
        if (disco.nodes[i].fn(iq, node, items, disco.nodes[i].arg))
            return 1;
    return 0;
}

static xmpp_stanza_t *disco_info_query(xmpp_stanza_t *iq, const char *node)
{
    int gw = disco_to_gateway(iq);
    struct disco_list *l =
        gw ? &disco.gateway
           : &disco.contact[disco_profile_of(xmpp_stanza_get_from(iq))];
    xmpp_stanza_t *q = component_elem(NULL, "query", NS_DISCO_INFO);
    xmpp_stanza_t *id = component_elem(NULL, "identity", NULL);
    int i;

    if (node != NULL)
        xmpp_stanza_set_attribute(q, "node", node);
    xmpp_stanza_set_attribute(id, "category", gw ? "gateway" : "client");
    xmpp_stanza_set_attribute(id, "type", gw ? "whatsapp" : "phone");
    if (gw)
        xmpp_stanza_set_attribute(id, "name", disco.name);
    xmpp_stanza_add_child_ex(q, id, 0);
    for (i = 0; i < l->n; i++) {
        xmpp_stanza_t *f = component_elem(NULL, "feature", NULL);

        xmpp_stanza_set_attribute(f, "var", l->var[i]);
        xmpp_stanza_add_child_ex(q, f, 0);
    }
    return q;
}

static int disco_info(xmpp_stanza_t *iq, xmpp_stanza_t *child, void *arg)
{
    xmpp_stanza_t *q;

    if (strcmp(xmpp_stanza_get_type(iq), "get") != 0)
        return 0;
    if (disco_first(iq, xmpp_stanza_get_attribute(child, "node"), 0) ||
        disco_node_dispatch(iq, xmpp_stanza_get_attribute(child, "node"), 0))
        return 1;
    q = disco_info_query(iq, xmpp_stanza_get_attribute(child, "node"));
    component_iq_result(iq, q);
    xmpp_stanza_release(q);
    return 1;
}

static int disco_items(xmpp_stanza_t *iq, xmpp_stanza_t *child, void *arg)
{
    xmpp_stanza_t *q;
    const char *node = xmpp_stanza_get_attribute(child, "node");

    if (strcmp(xmpp_stanza_get_type(iq), "get") != 0)
        return 0;
    if (disco_first(iq, node, 1) || disco_node_dispatch(iq, node, 1))
        return 1;
    q = component_elem(NULL, "query", NS_DISCO_ITEMS);
    if (node != NULL)
        xmpp_stanza_set_attribute(q, "node", node);
    component_iq_result(iq, q);
    xmpp_stanza_release(q);
    return 1;
}

static int disco_ping(xmpp_stanza_t *iq, xmpp_stanza_t *child, void *arg)
{
    if (strcmp(xmpp_stanza_get_type(iq), "get") != 0)
        return 0;
    component_iq_result(iq, NULL);
    return 1;
}

static int disco_version(xmpp_stanza_t *iq, xmpp_stanza_t *child, void *arg)
{
    xmpp_stanza_t *q;

    if (strcmp(xmpp_stanza_get_type(iq), "get") != 0 || !disco_to_gateway(iq))
        return 0;
    q = component_elem(NULL, "query", NS_VERSION);
    component_text_elem(q, "name", PACKAGE_NAME);
    component_text_elem(q, "version", PACKAGE_VERSION);
    component_iq_result(iq, q);
    xmpp_stanza_release(q);
    return 1;
}

void disco_reconfigure(const struct conf *conf)
{
    free(disco.name);
    disco.name = xstrdup(conf->gateway_name);
}

void disco_init(const struct conf *conf)
{
    disco_reconfigure(conf);
    disco_feature_add(NS_DISCO_INFO);
    disco_feature_add(NS_DISCO_ITEMS);
    disco_feature_add(NS_PING);
    disco_feature_add(NS_VERSION);
    disco_contact_feature_add(NS_DISCO_INFO);
    disco_contact_feature_add(NS_PING);
    component_iq_register(NS_DISCO_INFO, disco_info, NULL);
    component_iq_register(NS_DISCO_ITEMS, disco_items, NULL);
    component_iq_register(NS_PING, disco_ping, NULL);
    component_iq_register(NS_VERSION, disco_version, NULL);
}

static int disco_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* XEP-0115 verification string of the contact JIDs' identity and
 * features: base64(SHA-1("client/phone//<" feature "<" ...)). */
static char *disco_caps_ver(const struct disco_list *l)
{
    const char *sorted[DISCO_MAX_FEATURES];
    unsigned char md[SHA_DIGEST_LENGTH];
    unsigned char b64[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
    struct buf b;
    int i;

    memcpy(sorted, l->var, sizeof(sorted[0]) * l->n);
    qsort(sorted, (size_t)l->n, sizeof(sorted[0]), disco_cmp);
    buf_init(&b, 64 * 1024);
    buf_append(&b, "client/phone//<", 15);
    for (i = 0; i < l->n; i++)
        buf_appendf(&b, "%s<", sorted[i]);
    SHA1((const unsigned char *)b.data, b.len, md);
    EVP_EncodeBlock(b64, md, SHA_DIGEST_LENGTH);
    buf_reset(&b);
    return xstrdup((const char *)b64);
}

xmpp_stanza_t *disco_contact_caps(const char *user)
{
    xmpp_stanza_t *c =
        component_elem(NULL, "c", "http://jabber.org/protocol/caps");
    int p = disco_profile_of(user);

    if (disco.caps_ver[p] == NULL)
        disco.caps_ver[p] = disco_caps_ver(&disco.contact[p]);
    xmpp_stanza_set_attribute(c, "hash", "sha-1");
    xmpp_stanza_set_attribute(c, "node", DISCO_CAPS_NODE);
    xmpp_stanza_set_attribute(c, "ver", disco.caps_ver[p]);
    return c;
}

void disco_free(void)
{
    int i;

    for (i = 0; i < DISCO_MAX_PROFILES; i++) {
        free(disco.caps_ver[i]);
        disco.caps_ver[i] = NULL;
        disco.contact[i].n = 0;
    }
    free(disco.name);
    disco.name = NULL;
    disco.gateway.n = 0;
    disco.profile = NULL;
    disco.nnodes = 0;
    disco.first.fn = NULL;
}
