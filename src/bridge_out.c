/* SPDX-License-Identifier: MIT */
/* The bridge, XMPP to network: a user's message (text, reply, reaction,
 * marker, typing) becomes message and outbox rows in the loop turn's
 * transaction; the queue later hands each row back here to be sent through
 * the back end, and the outcome is recorded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "bridge_int.h"
#include "component.h"
#include "log.h"
#include "message.h"
#include "net.h"
#include "queue.h"
#include "register.h"
#include "store.h"
#include "util.h"

#define BRIDGE_TYPING_EVERY_S 20 /* WhatsApp shows it for 25 s */
#define BRIDGE_TYPING_SLOTS 64

/* When a typing indicator last went to each contact (a small cache). */
static struct {
    long long contact_id;
    long long at;
} bridge_typing[BRIDGE_TYPING_SLOTS];

/* A user's message stored in the loop turn's transaction: bounced should
 * the transaction not commit. */
struct bridge_pending {
    char *from, *to, *id;
    struct bridge_pending *next;
};

static struct bridge_pending *bridge_pending;

/* ---- outbox payloads: {"text":..,"target":..,"reply_to":..} ---- */

static char *bridge_payload(const char *text, const char *target,
                            const char *reply_to)
{
    json_object *o = json_object_new_object();
    char *s;

    if (text != NULL)
        json_object_object_add(o, "text", json_object_new_string(text));
    if (target != NULL)
        json_object_object_add(o, "target", json_object_new_string(target));
    if (reply_to != NULL)
        json_object_object_add(o, "reply_to", json_object_new_string(reply_to));
    s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

static const char *bridge_payload_get(json_object *o, const char *key)
{
    json_object *v;

    if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* ---- sending an outbox row ---- */

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
    long long mid = s->message_id;

    if (s->message_id == 0 || id == NULL)
        return;
    if (store_message_sent(bridge.st, s->message_id, id) == 1)
        store_early_status_take(bridge.st, s->account_id, id,
                                bridge_early_status, &mid);
}

/* Tells the user that a message went again after WhatsApp's first answer
 * was lost: the contact may have it twice. */
static void bridge_sent_twice_notice(const struct bridge_send *s)
{
    struct store_message *m = store_message_by_id(bridge.st, s->message_id);
    struct store_account *a = store_account_by_id(bridge.st, s->account_id);
    struct store_contact *c =
        m ? store_contact_by_id(bridge.st, m->contact_id) : NULL;
    char *from, *id, *text;

    if (m != NULL && a != NULL && c != NULL) {
        from = bridge_contact_jid(c);
        id = xasprintf("ferry-twice-%lld", m->id);
        text = xasprintf("[The gateway got no clear answer from WhatsApp the "
                         "first time it sent your message \"%s\", so it sent "
                         "it again: it may have been sent twice]",
                         m->snippet ? m->snippet : "");
        bridge_inbox(a->id, a->jid, id,
                     message_chat_xml(from, a->jid, id, text));
        free(text);
        free(id);
        free(from);
    }
    store_contact_free(c);
    store_account_free(a);
    store_message_free(m);
}

/* A failure's text, saying that an earlier attempt may have arrived
 * (a static buffer, valid until the next call). */
static const char *bridge_unknown_text(const char *text)
{
    static char out[1024];

    snprintf(out, sizeof(out),
             "%s (an earlier attempt got no clear answer from WhatsApp and "
             "may have reached the contact)",
             text ? text : "WhatsApp refused the message");
    return out;
}

/* A send of unknown outcome: once more, or (given up on) a failure that
 * says it may have arrived. */
static void bridge_send_unknown(const struct bridge_send *s,
                                const struct net_result *r)
{
    if (queue_out_unknown(s->outbox_id, r->text) && s->message_id != 0)
        bridge_fail_message(s->message_id, "remote-server-timeout",
                            "WhatsApp gave no clear answer after many "
                            "attempts: the message may have reached the "
                            "contact (perhaps more than once); the gateway "
                            "does not send it again");
}

void bridge_send_free(struct bridge_send *s)
{
    if (s == NULL)
        return;
    free(s->caption);
    free(s);
}

/* The file went: its caption follows as a text in the row's place, so it
 * goes once and next (on the same message row: a failure still bounces). */
static void bridge_send_caption(const struct bridge_send *s)
{
    char *payload = bridge_payload(s->caption, NULL, NULL);

    store_outbox_put(bridge.st, s->outbox_id, s->account_id, s->contact_id,
                     s->message_id, "text", payload);
    free(payload);
}

/* A failure's text for the sender's bounce, naming a caption that was not
 * sent either. Caller frees. */
static char *bridge_send_failure(const struct bridge_send *s, const char *text)
{
    char *snippet, *t;

    if (s->caption == NULL)
        return xstrdup(text);
    snippet = bridge_snippet(s->caption);
    t = xasprintf("%s; its caption \"%s\" was not sent either", text, snippet);
    free(snippet);
    return t;
}

/* A message that failed for good: the bounce, and the row is kept for the
 * Retry command. */
static void bridge_send_failed(const struct bridge_send *s,
                               const struct net_result *r)
{
    char *text =
        bridge_send_failure(s, s->unknown ? bridge_unknown_text(r->text)
                               : r->text  ? r->text
                                         : "WhatsApp did not take the message");

    bridge_fail_message(s->message_id,
                        r->outcome == NET_AUTH ? "not-authorized"
                                               : "service-unavailable",
                        text);
    queue_out_failed(s->outbox_id, r->text);
    free(text);
}

void bridge_send_done(const struct net_result *r, void *arg)
{
    struct bridge_send *s = arg;
    char *text;

    store_txn_begin(bridge.st);
    switch (r->outcome) {
    case NET_OK:
        bridge_sent(s, r->id);
        queue_out_done(s->outbox_id);
        if (s->unknown && s->message_id != 0)
            bridge_sent_twice_notice(s);
        if (s->caption != NULL)
            bridge_send_caption(s);
        break;
    case NET_RETRY:
        if (r->unknown) {
            bridge_send_unknown(s, r);
            break;
        }
        if (queue_out_retry(s->outbox_id, r->rate_limited, r->pair_limited,
                            r->text) &&
            s->message_id != 0) {
            text = bridge_send_failure(s, "WhatsApp did not take the message "
                                          "after many attempts; it was not "
                                          "sent");
            bridge_fail_message(s->message_id, "remote-server-timeout", text);
            free(text);
        }
        break;
    case NET_AUTH:
        bridge_auth_failed(s->account_id, r->text);
        /* fall through */
    case NET_FAIL:
        if (s->message_id != 0)
            bridge_send_failed(s, r);
        else
            queue_out_done(s->outbox_id);
        break;
    }
    bridge_send_free(s);
}

/* The queue chose an outbox row: send it through the back end (a received
 * file's fetch goes its own way). */
void bridge_send(const struct store_outbox *o, void *arg)
{
    struct store_account *a;
    struct store_contact *c;
    struct bridge_send *s;
    json_object *p;
    struct net_account na;
    struct net_out out;
    struct net_result r;

    if (strcmp(o->kind, "fetch") == 0) {
        bridge_media_fetch(o);
        return;
    }
    a = store_account_by_id(bridge.st, o->account_id);
    c = store_contact_by_id(bridge.st, o->contact_id);
    s = xcalloc(1, sizeof(*s));
    p = json_tokener_parse(o->payload);
    s->outbox_id = o->id;
    s->account_id = o->account_id;
    s->contact_id = o->contact_id;
    s->message_id = o->message_id;
    s->unknown = o->unknown;
    if (a != NULL && c != NULL && !register_domain_allowed(a->jid)) {
        memset(&r, 0, sizeof(r));
        r.outcome = NET_FAIL;
        r.text = BRIDGE_DOMAIN_GONE;
        bridge_send_done(&r, s);
    } else if (a == NULL || c == NULL || strcmp(a->state, "active") != 0) {
        memset(&r, 0, sizeof(r));
        r.outcome = a == NULL || c == NULL ? NET_FAIL : NET_AUTH;
        r.text = a && a->last_error ? a->last_error
                                    : "Your WhatsApp account is not usable: "
                                      "register again";
        bridge_send_done(&r, s);
    } else if (strcmp(o->kind, "media") == 0) {
        bridge_media_send(o, a, c, s);
    } else {
        memset(&out, 0, sizeof(out));
        na.id = a->pnid;
        na.token = a->token;
        out.kind = o->kind;
        out.to = c->network_id;
        out.text = bridge_payload_get(p, "text");
        out.target = bridge_payload_get(p, "target");
        out.reply_to = bridge_payload_get(p, "reply_to");
        bridge.be->send(&na, &out, bridge_send_done, s);
    }
    json_object_put(p);
    store_account_free(a);
    store_contact_free(c);
}

/* ---- a user's message ---- */

/* Remembers a message stored in this turn's transaction. */
static void bridge_pending_add(const struct message_in *in)
{
    struct bridge_pending *p = xcalloc(1, sizeof(*p));

    p->from = xstrdup(in->from);
    p->to = xstrdup(in->to);
    p->id = in->id ? xstrdup(in->id) : NULL;
    p->next = bridge_pending;
    bridge_pending = p;
}

/* The turn's transaction ended: when it was rolled back, every message it
 * held is bounced to its sender at once (the store cannot hold the
 * bounce either). */
void bridge_out_committed(int ok, void *arg)
{
    struct bridge_pending *p;
    char *xml;

    while ((p = bridge_pending) != NULL) {
        bridge_pending = p->next;
        if (!ok) {
            xml = message_error_xml(p->to, p->from, p->id, "wait",
                                    "resource-constraint",
                                    "The gateway could not store this "
                                    "message, so it was not sent; try again "
                                    "later");
            component_send_raw(xml, strlen(xml));
            free(xml);
            log_warn("bridge: a message of %s not stored; bounced", p->from);
        }
        free(p->from);
        free(p->to);
        free(p->id);
        free(p);
    }
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
    const char *reply_to; /* network id of the quoted message */
    char *reply_owned;
    size_t parts_left;
    int stored; /* message rows were written: bounce if they roll back */
};

/* A message row for something the user sent, so statuses and failures can
 * be traced back to the stanza. */
static long long bridge_out_message(struct bridge_out *o, const char *text,
                                    int last)
{
    struct store_message m = {.account_id = o->a->id,
                              .contact_id = o->contact_id,
                              .direction = 'o',
                              .stanza_id = (char *)o->in->id,
                              .sender = (char *)o->in->from,
                              .status = STORE_STATUS_QUEUED,
                              /* one receipt per stanza: on its last part */
                              .want_receipt = o->in->want_receipt && last &&
                                              bridge_setting(o->a, "receipts"),
                              .want_markers = o->in->markable && last};

    o->stored = 1;
    return bridge_message_add(&m, text);
}

static void bridge_queue_part(const char *part, size_t len, void *arg)
{
    struct bridge_out *o = arg;
    char *text = xstrndup(part, len), *payload;
    long long id = bridge_out_message(o, text, --o->parts_left == 0);

    if (id > 0) {
        payload = bridge_payload(text, NULL, o->reply_to);
        store_outbox_add(bridge.st, o->a->id, o->contact_id, id, "text",
                         payload);
        free(payload);
    }
    o->reply_to = NULL; /* only the first part quotes */
    free(text);
}

static void bridge_count_part(const char *part, size_t len, void *arg)
{
    (*(size_t *)arg)++;
}

/* The network id of the message a user's stanza id refers to (either
 * direction); caller frees. */
static char *bridge_network_id_of(const struct store_account *a,
                                  const char *stanza_id)
{
    struct store_message *m;
    char *id = NULL;

    m = store_message_by_stanza(bridge.st, a->id, 'i', stanza_id);
    if (m == NULL)
        m = store_message_by_stanza(bridge.st, a->id, 'o', stanza_id);
    if (m != NULL && m->network_id != NULL)
        id = xstrdup(m->network_id);
    store_message_free(m);
    return id;
}

/* The user read a message on XMPP: mark it read on the network. */
static void bridge_displayed(const struct store_account *a,
                             long long contact_id, const char *id)
{
    struct store_message *m =
        store_message_by_stanza(bridge.st, a->id, 'i', id);
    char *payload;

    if (m != NULL && m->network_id != NULL && m->status != STORE_STATUS_READ) {
        store_message_set_status(bridge.st, m->id, STORE_STATUS_READ);
        payload = bridge_payload(NULL, m->network_id, NULL);
        store_outbox_add(bridge.st, a->id, contact_id, 0, "read", payload);
        free(payload);
    }
    store_message_free(m);
}

/* 1 when a typing indicator to the contact is due (at most one per 20 s). */
static int bridge_typing_due(long long contact_id)
{
    int slot = (int)(contact_id % BRIDGE_TYPING_SLOTS);
    long long now = now_s();

    if (bridge_typing[slot].contact_id == contact_id &&
        now - bridge_typing[slot].at < BRIDGE_TYPING_EVERY_S)
        return 0;
    bridge_typing[slot].contact_id = contact_id;
    bridge_typing[slot].at = now;
    return 1;
}

/* XEP-0085 composing: WhatsApp's typing indicator goes on the contact's
 * latest message, which it also marks read (hence a setting). */
static void bridge_composing(const struct store_account *a,
                             long long contact_id)
{
    struct store_contact *c = store_contact_by_id(bridge.st, contact_id);
    char *payload;

    if (c != NULL && c->last_in_network_id != NULL && bridge.be->caps.typing &&
        bridge_setting(a, "typing") && bridge_typing_due(contact_id)) {
        payload = bridge_payload(NULL, c->last_in_network_id, NULL);
        store_outbox_add(bridge.st, a->id, contact_id, 0, "typing", payload);
        free(payload);
    }
    store_contact_free(c);
}

/* XEP-0444: the user's reaction (the last emoji; none removes it). */
static void bridge_reaction(xmpp_stanza_t *st, struct bridge_out *o)
{
    char *target = bridge_network_id_of(o->a, o->in->reactions_id), *payload;
    long long id;

    if (target == NULL) {
        message_error_reply(st, "cancel", "item-not-found",
                            "WhatsApp cannot react to this message: the "
                            "gateway does not know it");
        return;
    }
    id = bridge_out_message(o, NULL, 1);
    if (id > 0) {
        payload = bridge_payload(o->in->reaction, target, NULL);
        store_outbox_add(bridge.st, o->a->id, o->contact_id, id, "reaction",
                         payload);
        free(payload);
    }
    free(target);
}

/* What WhatsApp cannot take from a user: an error now, nothing queued. */
static int bridge_refuse(xmpp_stanza_t *st, const struct message_in *in)
{
    const char *why = NULL;

    if (in->body != NULL && strlen(in->body) > MESSAGE_BODY_MAX)
        why = "This message is too long for the gateway";
    else if (in->retract_id != NULL && !bridge.be->caps.retractions_out)
        why = "WhatsApp does not let businesses delete sent messages";
    else if (in->replace_id != NULL && !bridge.be->caps.edits_out)
        why = "WhatsApp does not let businesses edit sent messages";
    else if ((in->body != NULL && strncmp(in->body, "aesgcm://", 9) == 0) ||
             (in->oob_url != NULL && strncmp(in->oob_url, "aesgcm://", 9) == 0))
        why = "This file is end-to-end encrypted (OMEMO): the gateway "
              "cannot read it, so it cannot pass it on to WhatsApp. Send it "
              "unencrypted to bridge it";
    if (why == NULL)
        return 0;
    message_error_reply(st, "modify", "not-acceptable", why);
    return 1;
}

/* The text to send: the body without the reply quote. */
static void bridge_text(struct bridge_out *o)
{
    char *body = message_body_without_fallback(o->in);

    if (body != NULL && body[0] != '\0') {
        if (o->in->reply_id != NULL)
            o->reply_to = o->reply_owned =
                bridge_network_id_of(o->a, o->in->reply_id);
        bridge_split(body, bridge.be->max_text, bridge_count_part,
                     &o->parts_left);
        log_debug("bridge: message %s from %s queued (%zu part(s))",
                  o->in->id ? o->in->id : "-", o->a->jid, o->parts_left);
        bridge_split(body, bridge.be->max_text, bridge_queue_part, o);
    }
    free(body);
}

/* {"url":..,"text":..,"reply_to":..}: a file to fetch and send. */
static char *bridge_media_payload(const char *url, const char *caption,
                                  const char *reply_to)
{
    json_object *o = json_object_new_object();
    char *s;

    json_object_object_add(o, "url", json_object_new_string(url));
    if (caption != NULL)
        json_object_object_add(o, "text", json_object_new_string(caption));
    if (reply_to != NULL)
        json_object_object_add(o, "reply_to", json_object_new_string(reply_to));
    s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

/* Characters in s (UTF-8). */
static size_t bridge_chars(const char *s)
{
    size_t n = strlen(s), i = 0, chars = 0, l;

    while (i < n) {
        l = utf8_char_len(s + i, n - i);
        i += l ? l : 1;
        chars++;
    }
    return chars;
}

/* A file the user sent: one "media" row, with the text as its caption; a
 * text too long for a caption follows as text messages. */
static void bridge_file(struct bridge_out *o, const char *url)
{
    char *body = message_body_without_fallback(o->in), *payload;
    const char *caption =
        body != NULL && body[0] != '\0' && strcmp(body, url) != 0 ? body : NULL;
    int separate = caption && bridge_chars(caption) > bridge.be->max_caption;
    long long id;

    if (o->in->reply_id != NULL)
        o->reply_to = o->reply_owned =
            bridge_network_id_of(o->a, o->in->reply_id);
    id = bridge_out_message(o, caption ? caption : "[a file]", !separate);
    if (id > 0) {
        payload =
            bridge_media_payload(url, separate ? NULL : caption, o->reply_to);
        store_outbox_add(bridge.st, o->a->id, o->contact_id, id, "media",
                         payload);
        free(payload);
        log_debug("bridge: file from %s queued", o->a->jid);
    }
    o->reply_to = NULL;
    if (separate) {
        o->parts_left = 0;
        bridge_split(caption, bridge.be->max_text, bridge_count_part,
                     &o->parts_left);
        bridge_split(caption, bridge.be->max_text, bridge_queue_part, o);
    }
    free(body);
}

void bridge_user_message(xmpp_stanza_t *st, const struct message_in *in,
                         const struct store_account *a, const char *wa_id)
{
    struct bridge_out o = {in, a, 0, NULL, NULL, 0, 0};
    const char *url;
    char *local;
    int created;

    if (bridge_refuse(st, in))
        return;
    if (store_txn_begin(bridge.st) < 0) {
        message_error_reply(st, "wait", "internal-server-error",
                            "The gateway could not store this message");
        return;
    }
    local = xasprintf("+%s", wa_id);
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
    if (in->composing && in->body == NULL)
        bridge_composing(a, o.contact_id);
    if (in->reactions_id != NULL)
        bridge_reaction(st, &o);
    else if ((url = bridge_media_url(in)) != NULL)
        bridge_file(&o, url);
    else
        bridge_text(&o);
    if (o.stored)
        bridge_pending_add(in);
    free(o.reply_owned);
}
