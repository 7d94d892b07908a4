/* SPDX-License-Identifier: MIT */
/* The bridge between the two sides, in two sections: XMPP to network (a
 * user's message becomes outbox rows, sent by the queue through the back
 * end) and network to XMPP (webhook events become inbox stanzas, delivered
 * behind the ping barrier). Nothing else knows both sides. */
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "bridge_int.h"
#include "commands.h"
#include "component.h"
#include "conf.h"
#include "disco.h"
#include "httpd.h"
#include "jid.h"
#include "log.h"
#include "media.h"
#include "message.h"
#include "net.h"
#include "queue.h"
#include "register.h"
#include "roster.h"
#include "store.h"
#include "util.h"

#define BRIDGE_WEBHOOK_MAX (4 * 1024 * 1024) /* Meta: up to 3 MB */

struct bridge_state bridge;

/* ---- shared helpers ---- */

int bridge_inbox(long long account_id, const char *to, const char *id,
                 char *xml)
{
    long long row = store_inbox_add(bridge.st, account_id, to, xml, id);

    free(xml);
    return row < 0 ? -1 : 0;
}

int bridge_inbox_from(long long account_id, long long contact_id,
                      const char *to, const char *id, char *xml)
{
    long long row =
        store_inbox_add_after(bridge.st, account_id, contact_id, to, xml, id);

    free(xml);
    return row < 0 ? -1 : 0;
}

char *bridge_contact_jid(const struct store_contact *c)
{
    return xasprintf("%s@%s", c->localpart, component_jid());
}

long long bridge_message_add(struct store_message *m, const char *text)
{
    char *snippet = text ? bridge_snippet(text) : NULL;
    long long id;

    m->snippet = snippet;
    id = store_message_add(bridge.st, m);
    m->snippet = NULL;
    free(snippet);
    return id;
}

int bridge_setting(const struct store_account *a, const char *key)
{
    return commands_setting(a->settings, key);
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
        bridge_inbox(m->account_id, m->sender, NULL,
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
    char *notice, *id;

    if (a == NULL)
        return;
    if (strcmp(a->state, "active") == 0) {
        store_account_set_state(bridge.st, a->id, "auth_failed", text);
        notice = xasprintf("%s. Messages to WhatsApp are not sent until you "
                           "register again with a valid access token.",
                           text);
        id = component_new_id();
        bridge_inbox(a->id, a->jid, id,
                     message_notice_xml(component_jid(), a->jid, id, notice));
        free(id);
        free(notice);
        log_warn("bridge: access token of %s rejected; account paused", a->jid);
    }
    store_account_free(a);
}

/* ---- XMPP -> network: the entry ---- */

/* A message error from a user's server: when it bounces a message the
 * inbox gave it (same id), the message is held for the user. */
static void bridge_on_bounce(xmpp_stanza_t *st, const struct message_in *in)
{
    struct store_account *a;
    char *bare;

    if (in->id == NULL || in->to == NULL || strchr(in->to, '@') == NULL)
        return;
    bare = jid_bare(in->from);
    a = bare ? store_account_by_jid(bridge.st, bare) : NULL;
    if (a != NULL)
        queue_in_bounced(a->id, in->id, message_error_condition(st));
    store_account_free(a);
    free(bare);
}

/* A message stanza to the gateway or a contact JID. */
static void bridge_on_message(xmpp_stanza_t *st, void *arg)
{
    struct message_in in;
    struct store_account *a;
    char *bare, wa[JID_PHONE_MAX];

    if (roster_on_privilege(st))
        return; /* XEP-0356: what the user's server lets us do */
    message_parse(st, &in);
    if (strcmp(in.type, "error") == 0) {
        bridge_on_bounce(st, &in);
        return;
    }
    if (strcmp(in.type, "groupchat") == 0 || in.to == NULL)
        return;
    if (strchr(in.to, '@') == NULL) {
        if (in.body != NULL)
            commands_on_message(st); /* to the gateway: a chat command */
        return;
    }
    /* the lookups too: one transaction per loop turn */
    store_txn_begin(bridge.st);
    bare = jid_bare(in.from);
    a = bare ? store_account_by_jid(bridge.st, bare) : NULL;
    if (a == NULL) {
        if (in.body != NULL)
            message_error_reply(st, "auth", "registration-required",
                                "Register with this gateway first");
    } else if (!register_domain_allowed(a->jid)) {
        if (in.body != NULL)
            message_error_reply(st, "cancel", "forbidden", BRIDGE_DOMAIN_GONE);
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

/* How a registration ended: type NULL when it worked (text: the business
 * number), else an XMPP error type, condition and text. */
typedef void (*bridge_reg_done_fn)(const char *type, const char *condition,
                                   const char *text, void *arg);

struct bridge_reg {
    bridge_reg_done_fn done;
    void *arg;
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
        r->done(res->outcome == NET_RETRY ? "wait" : "modify", "not-acceptable",
                res->text ? res->text : "WhatsApp refused these credentials",
                r->arg);
        bridge_reg_free(r);
        return;
    }
    store_txn_begin(bridge.st);
    id = store_account_upsert(bridge.st, r->jid, bridge.be->name, r->pnid,
                              r->token, res->info);
    if (id < 0) {
        r->done("cancel", "conflict",
                id == -2 ? "This phone number ID is already registered by "
                           "another user"
                         : "The gateway could not store the account",
                r->arg);
    } else if (store_txn_commit(bridge.st) < 0) {
        r->done("wait", "internal-server-error",
                "The gateway could not store the account", r->arg);
    } else {
        r->done(NULL, NULL, res->info ? res->info : r->pnid, r->arg);
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

/* Checks the credentials with the network and stores the account (XEP-0077
 * and the Register command); done(..., arg) tells how it ended. */
static void bridge_reg_start(const char *jid, const char *pnid,
                             const char *token, bridge_reg_done_fn done,
                             void *arg)
{
    struct bridge_reg *r = xcalloc(1, sizeof(*r));
    struct net_account na;

    r->done = done;
    r->arg = arg;
    r->jid = xstrdup(jid);
    r->pnid = xstrdup(pnid);
    r->token = xstrdup(token);
    na.id = r->pnid;
    na.token = r->token;
    bridge.be->check(&na, bridge_reg_checked, r);
}

/* Answers the XEP-0077 iq (a copy we own). */
static void bridge_reg_iq_done(const char *type, const char *condition,
                               const char *text, void *arg)
{
    xmpp_stanza_t *iq = arg;

    if (type == NULL)
        register_reply_ok(iq);
    else
        register_reply_error(iq, type, condition, text);
    xmpp_stanza_release(iq);
}

static void bridge_reg_submit(xmpp_stanza_t *iq, const char *jid,
                              const char *pnid, const char *token, void *arg)
{
    bridge_reg_start(jid, pnid, token, bridge_reg_iq_done, iq);
}

static int bridge_reg_remove(const char *jid, void *arg)
{
    struct store_account *a = store_account_by_jid(bridge.st, jid);

    if (a == NULL)
        return -1;
    roster_account_removed(a);
    store_txn_begin(bridge.st);
    store_account_delete(bridge.st, a->id);
    store_txn_commit(bridge.st);
    log_info("bridge: %s unregistered", jid);
    store_account_free(a);
    return 0;
}

/* ---- commands ---- */

struct bridge_cmd_reg {
    commands_done_fn done;
    void *arg;
};

static void bridge_cmd_reg_done(const char *type, const char *condition,
                                const char *text, void *arg)
{
    struct bridge_cmd_reg *c = arg;

    c->done(type == NULL, text, c->arg);
    free(c);
}

/* The Register command: the same check and store as XEP-0077. */
static void bridge_cmd_register(const char *jid, const char *pnid,
                                const char *token, commands_done_fn done,
                                void *done_arg, void *arg)
{
    struct bridge_cmd_reg *c = xmalloc(sizeof(*c));

    c->done = done;
    c->arg = done_arg;
    bridge_reg_start(jid, pnid, token, bridge_cmd_reg_done, c);
}

static int bridge_cmd_unregister(const char *jid, void *arg)
{
    return bridge_reg_remove(jid, NULL);
}

/* Queues the failed messages of jid's account (NULL: of all) again. */
static long long bridge_cmd_retry(const char *jid, void *arg)
{
    struct store_account *a = NULL;
    long long n;

    if (jid != NULL) {
        a = store_account_by_jid(bridge.st, jid);
        if (a == NULL)
            return 0;
    }
    store_txn_begin(bridge.st);
    n = store_outbox_requeue_failed(bridge.st, a ? a->id : 0);
    if (store_txn_commit(bridge.st) < 0)
        n = -1;
    log_info("bridge: %lld failed message(s) of %s queued again", n,
             jid ? jid : "every user");
    store_account_free(a);
    queue_kick();
    return n;
}

/* ---- wiring ---- */

/* Contact JIDs advertise exactly what the back end can do. */
static void bridge_advertise(const struct net_caps *c)
{
    const struct {
        int on;
        const char *var;
    } map[] = {
        {c->receipts, "urn:xmpp:receipts"},
        {c->read_markers, "urn:xmpp:chat-markers:0"},
        {c->typing, "http://jabber.org/protocol/chatstates"},
        {c->replies, "urn:xmpp:reply:0"},
        {c->reactions, "urn:xmpp:reactions:0"},
        {c->edits_in || c->edits_out, "urn:xmpp:message-correct:0"},
        {c->retractions_in || c->retractions_out, "urn:xmpp:message-retract:1"},
        {c->retractions_in || c->retractions_out, "urn:xmpp:message-retract:0"},
        {c->media, "jabber:x:oob"},
    };
    size_t i;

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i].on)
            disco_contact_feature_add(map[i].var);
}

static void bridge_on_state(int connected, void *arg)
{
    queue_xmpp_state(connected);
    if (connected)
        roster_broadcast(1);
}

/* Writes an inbox row's stanza (stamp: with the time it was stored). */
static void bridge_inbox_write(const struct store_inbox *in, int stamp,
                               void *arg)
{
    char *delayed = NULL;

    if (stamp)
        delayed =
            message_add_delay(in->stanza, component_jid(), in->created / 1000);
    if (delayed != NULL)
        component_send_raw(delayed, strlen(delayed));
    else
        component_send_raw(in->stanza, strlen(in->stanza));
    free(delayed);
}

int bridge_init(struct store *st, const struct conf *conf)
{
    struct component_handlers h = {bridge_on_message, roster_on_presence,
                                   bridge_on_state, roster_on_reply, NULL};
    struct register_ops r = {bridge_reg_lookup, bridge_reg_submit,
                             bridge_reg_remove, NULL};
    struct queue_ops q = {.send = bridge_send,
                          .write = bridge_inbox_write,
                          .ping = component_ping,
                          .ask_ready = component_ask_ready,
                          .probe = component_probe,
                          .backlog = component_send_queue_len,
                          .server_domain = component_server_domain};
    struct commands_ops c = {bridge_cmd_register, bridge_cmd_unregister,
                             bridge_cmd_retry, NULL};

    bridge.st = st;
    store_txn_hook(st, bridge_out_committed, NULL);
    bridge.be = net_backend_find(conf->network_backend);
    if (bridge.be == NULL || bridge.be->send == NULL) {
        log_error("bridge: network.backend '%s' is not available",
                  conf->network_backend);
        return -1;
    }
    net_configure(conf);
    bridge_advertise(&bridge.be->caps);
    roster_init(st);
    roster_reconfigure(conf);
    register_init(conf, &r);
    commands_init(st, conf, &c);
    queue_init(st, conf->cloudapi_throughput, &q);
    if (media_init(conf, st) < 0)
        return -1;
    bridge_media_order_start();
    component_set_handlers(&h);
    bridge.webhook_path = xasprintf("/webhook/%s", bridge.be->name);
    httpd_route(bridge.webhook_path, bridge_webhook, NULL, BRIDGE_WEBHOOK_MAX);
    return 0;
}

void bridge_reconfigure(const struct conf *conf)
{
    net_configure(conf);
    media_reconfigure(conf);
    register_reconfigure(conf);
    roster_reconfigure(conf);
    commands_reconfigure(conf);
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
    media_free();
    register_free();
    roster_free();
    commands_free();
    bridge_out_committed(1, NULL); /* forgets what is left */
    bridge_media_order_stop();
    free(bridge.webhook_path);
    bridge.webhook_path = NULL;
}
