/* SPDX-License-Identifier: MIT */
/* The bridge between the two sides, in two sections: XMPP to network (a
 * user's message becomes outbox rows, sent by the queue through the back
 * end) and network to XMPP (webhook events become inbox stanzas, delivered
 * behind the ping barrier). Nothing else knows both sides. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "bridge.h"
#include "bridge_int.h"
#include "component.h"
#include "conf.h"
#include "httpd.h"
#include "jid.h"
#include "log.h"
#include "message.h"
#include "net.h"
#include "queue.h"
#include "register.h"
#include "roster.h"
#include "store.h"
#include "util.h"

#define BRIDGE_WEBHOOK_MAX (4 * 1024 * 1024) /* Meta: up to 3 MB */
#define BRIDGE_HELP                                                            \
    "This is a WhatsApp gateway. Register with your client's \"Register\" "    \
    "command on this address, then write to +<phone number>@"

struct bridge_state bridge;

/* ---- shared helpers ---- */

void bridge_inbox(long long account_id, const char *to, char *xml)
{
    store_inbox_add(bridge.st, account_id, to, xml);
    free(xml);
}

char *bridge_contact_jid(const struct store_contact *c)
{
    return xasprintf("%s@%s", c->localpart, component_jid());
}

int bridge_setting(const struct store_account *a, const char *key)
{
    json_object *o = json_tokener_parse(a->settings ? a->settings : "{}");
    json_object *v;
    int on = 1;

    if (o != NULL && json_object_is_type(o, json_type_object) &&
        json_object_object_get_ex(o, key, &v) &&
        json_object_is_type(v, json_type_boolean))
        on = json_object_get_boolean(v);
    json_object_put(o);
    return on;
}

char *bridge_snippet(const char *text)
{
    size_t n = strlen(text), i = 0, chars = 0, l;

    while (i < n && chars < BRIDGE_SNIPPET_CHARS) {
        l = utf8_char_len(text + i, n - i);
        i += l ? l : 1;
        chars++;
    }
    return i < n ? xasprintf("%.*s…", (int)i, text) : xstrdup(text);
}

void bridge_fail_message(long long message_id, const char *condition,
                         const char *text)
{
    struct store_message *m = store_message_by_id(bridge.st, message_id);
    struct store_contact *c;
    char *from;

    if (m == NULL || m->status == STORE_STATUS_FAILED) {
        store_message_free(m);
        return;
    }
    store_message_set_status(bridge.st, m->id, STORE_STATUS_FAILED);
    c = store_contact_by_id(bridge.st, m->contact_id);
    if (c != NULL && m->sender != NULL) {
        from = bridge_contact_jid(c);
        bridge_inbox(m->account_id, m->sender,
                     message_error_xml(from, m->sender, m->stanza_id, "cancel",
                                       condition, text));
        free(from);
    }
    store_contact_free(c);
    store_message_free(m);
}

void bridge_auth_failed(long long account_id, const char *text)
{
    struct store_account *a = store_account_by_id(bridge.st, account_id);
    char *notice;

    if (a == NULL)
        return;
    if (strcmp(a->state, "active") == 0) {
        store_account_set_state(bridge.st, a->id, "auth_failed", text);
        notice = xasprintf("%s. Messages to WhatsApp are not sent until you "
                           "register again with a valid access token.",
                           text);
        bridge_inbox(a->id, a->jid,
                     message_notice_xml(component_jid(), a->jid, notice));
        free(notice);
        log_warn("bridge: access token of %s rejected; account paused", a->jid);
    }
    store_account_free(a);
}

/* ---- XMPP -> network: the entry ---- */

/* A message stanza to the gateway or a contact JID. */
static void bridge_on_message(xmpp_stanza_t *st, void *arg)
{
    struct message_in in;
    struct store_account *a;
    char *bare, wa[JID_PHONE_MAX], *help;

    message_parse(st, &in);
    if (strcmp(in.type, "error") == 0 || strcmp(in.type, "groupchat") == 0 ||
        in.to == NULL)
        return;
    bare = jid_bare(in.from);
    a = bare ? store_account_by_jid(bridge.st, bare) : NULL;
    if (a == NULL) {
        if (in.body != NULL)
            message_error_reply(st, "auth", "registration-required",
                                "Register with this gateway first");
    } else if (strchr(in.to, '@') == NULL) {
        if (in.body != NULL) {
            help = xasprintf(BRIDGE_HELP "%s", component_jid());
            bridge_inbox(a->id, a->jid,
                         message_notice_xml(component_jid(), a->jid, help));
            free(help);
            queue_kick();
        }
    } else if (jid_to_wa_id(in.to, component_jid(), wa, sizeof(wa)) < 0) {
        message_error_reply(st, "modify", "jid-malformed",
                            "Not a WhatsApp contact: write to "
                            "+<country code><number>@ this gateway");
    } else if (in.body != NULL && strcmp(a->state, "active") != 0) {
        message_error_reply(st, "auth", "not-authorized",
                            a->last_error ? a->last_error
                                          : "Register again first");
    } else {
        bridge_user_message(st, &in, a, wa);
    }
    store_account_free(a);
    free(bare);
}

/* ---- registration ---- */

struct bridge_reg {
    xmpp_stanza_t *iq;
    char *jid, *pnid, *token;
};

static int bridge_reg_lookup(const char *jid, char **pnid, void *arg)
{
    struct store_account *a = store_account_by_jid(bridge.st, jid);

    if (a == NULL)
        return 0;
    *pnid = xstrdup(a->pnid);
    store_account_free(a);
    return 1;
}

static void bridge_reg_free(struct bridge_reg *r)
{
    xmpp_stanza_release(r->iq);
    free(r->jid);
    free(r->pnid);
    free(r->token);
    free(r);
}

static void bridge_reg_checked(const struct net_result *res, void *arg)
{
    struct bridge_reg *r = arg;
    struct store_account *a;
    long long id;

    if (res->outcome != NET_OK) {
        register_reply_error(
            r->iq, res->outcome == NET_RETRY ? "wait" : "modify",
            "not-acceptable",
            res->text ? res->text : "WhatsApp refused these credentials");
        bridge_reg_free(r);
        return;
    }
    queue_begin();
    id = store_account_upsert(bridge.st, r->jid, bridge.be->name, r->pnid,
                              r->token, res->info);
    if (id < 0) {
        register_reply_error(r->iq, "cancel", "conflict",
                             id == -2 ? "This phone number ID is already "
                                        "registered by another user"
                                      : "The gateway could not store the "
                                        "account");
    } else if (queue_flush() < 0) {
        register_reply_error(r->iq, "wait", "internal-server-error",
                             "The gateway could not store the account");
    } else {
        register_reply_ok(r->iq);
        a = store_account_by_id(bridge.st, id);
        if (a != NULL)
            roster_account_added(a);
        store_account_free(a);
        log_info("bridge: %s registered business number %s", r->jid,
                 res->info ? res->info : r->pnid);
        queue_kick();
    }
    bridge_reg_free(r);
}

static void bridge_reg_submit(xmpp_stanza_t *iq, const char *jid,
                              const char *pnid, const char *token, void *arg)
{
    struct bridge_reg *r = xcalloc(1, sizeof(*r));
    struct net_account na;

    r->iq = iq;
    r->jid = xstrdup(jid);
    r->pnid = xstrdup(pnid);
    r->token = xstrdup(token);
    na.id = r->pnid;
    na.token = r->token;
    bridge.be->check(&na, bridge_reg_checked, r);
}

static int bridge_reg_remove(const char *jid, void *arg)
{
    struct store_account *a = store_account_by_jid(bridge.st, jid);

    if (a == NULL)
        return -1;
    roster_account_removed(a);
    queue_begin();
    store_account_delete(bridge.st, a->id);
    queue_flush();
    log_info("bridge: %s unregistered", jid);
    store_account_free(a);
    return 0;
}

/* ---- wiring ---- */

static void bridge_on_state(int connected, void *arg)
{
    queue_xmpp_state(connected);
    if (connected)
        roster_broadcast(1);
}

int bridge_init(struct store *st, const struct conf *conf)
{
    struct component_handlers h = {bridge_on_message, roster_on_presence,
                                   bridge_on_state, NULL};
    struct register_ops r = {bridge_reg_lookup, bridge_reg_submit,
                             bridge_reg_remove, NULL};
    struct queue_ops q = {bridge_send, NULL};

    bridge.st = st;
    bridge.be = net_backend_find(conf->network_backend);
    if (bridge.be == NULL || bridge.be->send == NULL) {
        log_error("bridge: network.backend '%s' is not available",
                  conf->network_backend);
        return -1;
    }
    net_configure(conf);
    roster_init(st);
    register_init(conf, &r);
    queue_init(st, conf->cloudapi_throughput, &q);
    component_set_handlers(&h);
    bridge.webhook_path = xasprintf("/webhook/%s", bridge.be->name);
    httpd_route(bridge.webhook_path, bridge_webhook, NULL, BRIDGE_WEBHOOK_MAX);
    return 0;
}

void bridge_reconfigure(const struct conf *conf)
{
    net_configure(conf);
    register_reconfigure(conf);
    queue_set_throughput(conf->cloudapi_throughput);
}

void bridge_stop(void)
{
    if (component_connected())
        roster_broadcast(0);
}

void bridge_free(void)
{
    queue_free();
    register_free();
    free(bridge.webhook_path);
    bridge.webhook_path = NULL;
}
