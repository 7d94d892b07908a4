/* SPDX-License-Identifier: MIT */
/* The bridge between the two sides, in two sections: XMPP to network (a
 * user's message becomes outbox rows, sent by the queue through the back
 * end) and network to XMPP (webhook events become inbox stanzas, delivered
 * behind the ping barrier). Nothing else knows both sides. */
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
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
#define BRIDGE_SEEN_TTL_S (8 * 24 * 3600)    /* Meta retries for 7 days */
#define BRIDGE_HELP                                                            \
    "This is a WhatsApp gateway. Register with your client's \"Register\" "    \
    "command on this address, then write to +<phone number>@"

static struct {
    struct store *st;
    const struct net_backend *be;
    char *webhook_path;
} bridge;

/* ---- shared helpers ---- */

static void bridge_inbox(long long account_id, const char *to, char *xml)
{
    store_inbox_add(bridge.st, account_id, to, xml);
    free(xml);
}

static char *bridge_contact_jid(const char *network_id)
{
    return jid_from_wa_id(network_id, component_jid());
}

/* Marks a message failed and bounces an error to its sender. */
static void bridge_fail_message(long long message_id, const char *condition,
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
        from = bridge_contact_jid(c->network_id);
        bridge_inbox(m->account_id, m->sender,
                     message_error_xml(from, m->sender, m->stanza_id, "cancel",
                                       condition, text));
        free(from);
    }
    store_contact_free(c);
    store_message_free(m);
}

/* The token was refused: the account stops, and its user is told once. */
static void bridge_auth_failed(long long account_id, const char *text)
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

/* ---- XMPP -> network ---- */

struct bridge_send {
    long long outbox_id;
    long long account_id;
    long long message_id;
};

static void bridge_apply_status(struct store_message *m, int status,
                                int error_code, const char *error_text);

static void bridge_early_status(int status, int code, const char *text,
                                void *arg)
{
    struct store_message *m = store_message_by_id(bridge.st, *(long long *)arg);

    if (m != NULL)
        bridge_apply_status(m, status, code, text);
    store_message_free(m);
}

/* The network accepted a message: record its id and apply any status
 * that raced ahead of the answer. */
static void bridge_sent(const struct bridge_send *s, const char *id)
{
    struct store_message *m;
    long long mid = s->message_id;

    if (s->message_id == 0 || id == NULL)
        return;
    m = store_message_by_id(bridge.st, s->message_id);
    if (m != NULL && m->status == STORE_STATUS_QUEUED) {
        store_message_set_network_id(bridge.st, m->id, id);
        store_message_set_status(bridge.st, m->id, STORE_STATUS_SENT);
        store_early_status_take(bridge.st, s->account_id, id,
                                bridge_early_status, &mid);
    }
    store_message_free(m);
}

static void bridge_send_done(const struct net_result *r, void *arg)
{
    struct bridge_send *s = arg;

    queue_begin();
    switch (r->outcome) {
    case NET_OK:
        bridge_sent(s, r->id);
        queue_out_done(s->outbox_id);
        break;
    case NET_RETRY:
        if (queue_out_retry(s->outbox_id, r->rate_limited, r->pair_limited,
                            r->text) &&
            s->message_id != 0)
            bridge_fail_message(s->message_id, "remote-server-timeout",
                                "WhatsApp did not take the message after "
                                "many attempts; it was not sent");
        break;
    case NET_AUTH:
        bridge_auth_failed(s->account_id, r->text);
        /* fall through */
    case NET_FAIL:
        if (s->message_id != 0)
            bridge_fail_message(s->message_id,
                                r->outcome == NET_AUTH ? "not-authorized"
                                                       : "service-unavailable",
                                r->text);
        queue_out_done(s->outbox_id);
        break;
    }
    free(s);
}

/* The queue chose an outbox row: send it through the back end. */
static void bridge_send(const struct store_outbox *o, void *arg)
{
    struct store_account *a = store_account_by_id(bridge.st, o->account_id);
    struct store_contact *c = store_contact_by_id(bridge.st, o->contact_id);
    struct bridge_send *s = xcalloc(1, sizeof(*s));
    struct net_account na;
    struct net_out out;
    struct net_result r = {NET_AUTH, NULL, NULL, 0, NULL, 0, 0};

    s->outbox_id = o->id;
    s->account_id = o->account_id;
    s->message_id = o->message_id;
    if (a == NULL || c == NULL || strcmp(a->state, "active") != 0) {
        r.outcome = a == NULL || c == NULL ? NET_FAIL : NET_AUTH;
        r.text = a && a->last_error ? a->last_error
                                    : "Your WhatsApp account is not usable: "
                                      "register again";
        bridge_send_done(&r, s);
    } else {
        na.id = a->pnid;
        na.token = a->token;
        out.kind = o->kind;
        out.to = c->network_id;
        out.text = o->payload;
        bridge.be->send(&na, &out, bridge_send_done, s);
    }
    store_account_free(a);
    store_contact_free(c);
}

/* Splits text into parts of at most max characters, at a space or newline
 * when one is near; calls fn for each part. */
static void bridge_split(const char *text, size_t max,
                         void (*fn)(const char *part, size_t len, void *arg),
                         void *arg)
{
    size_t n = strlen(text);

    while (n > 0) {
        size_t bytes = 0, chars = 0, cut = 0, l;

        while (bytes < n && chars < max) {
            l = utf8_char_len(text + bytes, n - bytes);
            bytes += l ? l : 1;
            chars++;
            if (text[bytes - 1] == ' ' || text[bytes - 1] == '\n')
                cut = bytes;
        }
        if (bytes < n && cut > bytes / 2)
            bytes = cut;
        fn(text, bytes, arg);
        text += bytes;
        n -= bytes;
    }
}

struct bridge_out {
    const struct message_in *in;
    const struct store_account *a;
    long long contact_id;
    size_t parts_left;
};

static void bridge_queue_part(const char *part, size_t len, void *arg)
{
    struct bridge_out *o = arg;
    struct store_message m;
    char *text = xstrndup(part, len);
    long long id;

    memset(&m, 0, sizeof(m));
    m.account_id = o->a->id;
    m.contact_id = o->contact_id;
    m.direction = 'o';
    m.stanza_id = (char *)o->in->id;
    m.sender = (char *)o->in->from;
    m.status = STORE_STATUS_QUEUED;
    /* one receipt per stanza: on its last part */
    m.want_receipt = o->in->want_receipt && --o->parts_left == 0;
    m.want_markers = o->in->markable && o->parts_left == 0;
    id = store_message_add(bridge.st, &m);
    if (id > 0)
        store_outbox_add(bridge.st, o->a->id, o->contact_id, id, "text", text);
    free(text);
}

static void bridge_count_part(const char *part, size_t len, void *arg)
{
    (*(size_t *)arg)++;
}

/* The user read a message on XMPP: mark it read on the network. */
static void bridge_displayed(const struct store_account *a,
                             long long contact_id, const char *id)
{
    struct store_message *m =
        store_message_by_stanza(bridge.st, a->id, 'i', id);

    if (m != NULL && m->network_id != NULL && m->status != STORE_STATUS_READ) {
        store_message_set_status(bridge.st, m->id, STORE_STATUS_READ);
        store_outbox_add(bridge.st, a->id, contact_id, 0, "read",
                         m->network_id);
    }
    store_message_free(m);
}

static void bridge_user_message(xmpp_stanza_t *st, const struct message_in *in,
                                const struct store_account *a,
                                const char *wa_id)
{
    struct bridge_out o = {in, a, 0, 0};
    char *local = xasprintf("+%s", wa_id);
    int created;

    if (in->body != NULL && strlen(in->body) > MESSAGE_BODY_MAX) {
        message_error_reply(st, "modify", "not-acceptable",
                            "This message is too long for the gateway");
        free(local);
        return;
    }
    queue_begin();
    o.contact_id =
        store_contact_ensure(bridge.st, a->id, wa_id, local, NULL, &created);
    free(local);
    if (o.contact_id <= 0) {
        message_error_reply(st, "wait", "internal-server-error",
                            "The gateway could not store this message");
        return;
    }
    if (in->displayed != NULL)
        bridge_displayed(a, o.contact_id, in->displayed);
    if (in->body == NULL || in->body[0] == '\0')
        return;
    bridge_split(in->body, bridge.be->max_text, bridge_count_part,
                 &o.parts_left);
    log_debug("bridge: message %s from %s to +%s queued (%zu part(s))",
              in->id ? in->id : "-", a->jid, wa_id, o.parts_left);
    bridge_split(in->body, bridge.be->max_text, bridge_queue_part, &o);
}

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

/* ---- network -> XMPP ---- */

static int bridge_rank(int status)
{
    return status == STORE_STATUS_FAILED ? 0 : status;
}

/* Moves a message's status forward only, and tells the sender. */
static void bridge_apply_status(struct store_message *m, int status,
                                int error_code, const char *error_text)
{
    struct store_contact *c;
    char *from;
    int old = m->status;

    if (old == STORE_STATUS_FAILED)
        return;
    if (status == STORE_STATUS_FAILED) {
        if (old < STORE_STATUS_DELIVERED)
            bridge_fail_message(m->id, "service-unavailable",
                                error_text ? error_text
                                           : "WhatsApp could not deliver it");
        return;
    }
    if (bridge_rank(status) <= bridge_rank(old))
        return;
    store_message_set_status(bridge.st, m->id, status);
    c = store_contact_by_id(bridge.st, m->contact_id);
    if (c == NULL || m->sender == NULL || m->stanza_id == NULL) {
        store_contact_free(c);
        return;
    }
    from = bridge_contact_jid(c->network_id);
    if (status >= STORE_STATUS_DELIVERED && old < STORE_STATUS_DELIVERED &&
        m->want_receipt)
        bridge_inbox(m->account_id, m->sender,
                     message_receipt_xml(from, m->sender, m->stanza_id));
    if (status == STORE_STATUS_READ && m->want_markers)
        bridge_inbox(m->account_id, m->sender,
                     message_displayed_xml(from, m->sender, m->stanza_id));
    free(from);
    store_contact_free(c);
}

static int bridge_on_status(const struct net_event *ev,
                            const struct store_account *a)
{
    struct store_message *m;
    char *key =
        xasprintf("s:%s:%s:%s:%d", a->backend, ev->account, ev->id, ev->status);
    int fresh = store_seen_add(bridge.st, key, now_s() + BRIDGE_SEEN_TTL_S);

    free(key);
    if (fresh <= 0)
        return fresh;
    m = store_message_by_network(bridge.st, a->id, ev->id);
    if (m == NULL) {
        /* the send's answer has not come back yet (or not ours) */
        return store_early_status_add(bridge.st, a->id, ev->id, ev->status,
                                      ev->error_code, ev->error_text);
    }
    if (m->direction == 'o')
        bridge_apply_status(m, ev->status, ev->error_code, ev->error_text);
    store_message_free(m);
    return 0;
}

/* A new contact asks the user for a subscription, with its profile name. */
static void bridge_new_contact(const struct store_account *a,
                               const char *contact_jid, const char *name)
{
    bridge_inbox(a->id, a->jid,
                 roster_subscribe_xml(contact_jid, a->jid, name));
}

static int bridge_on_incoming(const struct net_event *ev,
                              const struct store_account *a)
{
    char *key, *cj = bridge_contact_jid(ev->peer), *local;
    struct store_message m;
    long long cid;
    int created, fresh;

    if (cj == NULL) {
        log_warn("bridge: message %s from an id that is not a phone number",
                 ev->id);
        return 0;
    }
    key = xasprintf("m:%s:%s:%s", a->backend, ev->account, ev->id);
    fresh = store_seen_add(bridge.st, key, now_s() + BRIDGE_SEEN_TTL_S);
    free(key);
    if (fresh <= 0) {
        free(cj);
        return fresh;
    }
    local = xasprintf("+%s", ev->peer);
    cid = store_contact_ensure(bridge.st, a->id, ev->peer, local, ev->peer_name,
                               &created);
    free(local);
    if (cid <= 0) {
        free(cj);
        return -1;
    }
    if (created)
        bridge_new_contact(a, cj, ev->peer_name);
    store_contact_set_last_in(bridge.st, cid, ev->id, ev->timestamp);
    memset(&m, 0, sizeof(m));
    m.account_id = a->id;
    m.contact_id = cid;
    m.direction = 'i';
    m.stanza_id = (char *)ev->id;
    m.network_id = (char *)ev->id;
    m.status = STORE_STATUS_DELIVERED;
    if (store_message_add(bridge.st, &m) < 0) {
        free(cj);
        return -1;
    }
    bridge_inbox(a->id, a->jid, message_chat_xml(cj, a->jid, ev->id, ev->text));
    free(cj);
    return 0;
}

/* One webhook event; runs inside the webhook's transaction. */
static int bridge_on_event(const struct net_event *ev, void *arg)
{
    struct store_account *a =
        store_account_by_pnid(bridge.st, bridge.be->name, ev->account);
    int rc;

    if (a == NULL) {
        log_info("bridge: webhook event for unknown account %s ignored",
                 ev->account);
        return 0;
    }
    rc = ev->kind == NET_EVENT_MESSAGE ? bridge_on_incoming(ev, a)
                                       : bridge_on_status(ev, a);
    store_account_free(a);
    return rc < 0 ? -1 : 0;
}

/* POST /webhook/<backend>: verify, store every event, commit, then 200. */
static void bridge_webhook_post(const struct httpd_request *req,
                                struct httpd_response *res)
{
    const char *why = NULL;

    if (bridge.be->webhook_verify(req, &why) < 0) {
        log_warn("bridge: webhook rejected: %s", why);
        httpd_respond(res, 403, "text/plain", "signature rejected\n");
        return;
    }
    if (queue_flush() < 0 || store_begin(bridge.st) < 0) {
        httpd_respond(res, 500, "text/plain", "store unavailable\n");
        return;
    }
    if (bridge.be->webhook_parse(req->body, req->body_len, bridge_on_event,
                                 NULL) < 0) {
        store_rollback(bridge.st);
        log_warn("bridge: webhook body malformed or not stored (%zu bytes)",
                 req->body_len);
        httpd_respond(res, 400, "text/plain", "malformed\n");
        return;
    }
    if (store_commit(bridge.st) < 0) {
        httpd_respond(res, 500, "text/plain", "store unavailable\n");
        return;
    }
    log_debug("bridge: webhook of %zu bytes stored", req->body_len);
    queue_kick();
    httpd_respond(res, 200, "text/plain", "ok\n");
}

static void bridge_webhook(const struct httpd_request *req,
                           struct httpd_response *res, void *arg)
{
    if (strcmp(req->method, "GET") == 0)
        bridge.be->webhook_get(req, res);
    else if (strcmp(req->method, "POST") == 0)
        bridge_webhook_post(req, res);
    else
        httpd_respond(res, 405, "text/plain", "method not allowed\n");
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
