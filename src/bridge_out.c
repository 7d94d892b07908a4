/* SPDX-License-Identifier: MIT */
/* The bridge, XMPP to network: a user's message (text, reply, reaction,
 * marker, typing) becomes message and outbox rows in the loop turn's
 * transaction; the queue later hands each text, reaction, read or typing
 * row back here (through bridge.c) to be sent through the back end, and
 * bridge_sent.c records the outcome. */
#include <stdlib.h>
#include <string.h>

#include "bridge_core.h"
#include "bridge_job.h"
#include "bridge_media.h"
#include "bridge_out.h"
#include "bridge_sent.h"
#include "bridge_history.h"
#include "bridge_stat.h"
#include "bridge_team.h"
#include "bridge_tpl.h"
#include "component.h"
#include "jid.h"
#include "log.h"
#include "message.h"
#include "net.h"
#include "queue.h"
#include "settings.h"
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

/* ---- sending a text, reaction, read or typing job ---- */

void bridge_out_send(const struct bridge_job *j, const struct store_account *a,
                     const struct store_contact *c, struct bridge_send *s)
{
    struct net_account na = {.id = a->network_id, .token = a->token};
    struct net_out out = {.kind = bridge_job_name(j->kind),
                          .to = c->network_id,
                          .text = j->text,
                          .target = j->target,
                          .reply_to = j->reply_to};
    struct store_message *m = NULL;

    if (j->kind == BRIDGE_JOB_EDIT || j->kind == BRIDGE_JOB_RETRACT) {
        /* the message changed went before (the contact's order) */
        m = j->stanza_id ? store_message_by_stanza(bridge_store(), a->id, 'o',
                                                   j->stanza_id)
                         : NULL;
        if (m == NULL || m->contact_id != c->id || m->network_id == NULL) {
            store_message_free(m);
            bridge_send_end(s, NET_FAIL,
                            "The message to change never reached WhatsApp");
            return;
        }
        out.target = m->network_id;
    }
    bridge_backend_of(a)->send(&na, &out, bridge_send_done, s);
    store_message_free(m);
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
        size_t bytes = 0, chars = 0, cut = 0;

        while (bytes < n && chars < max) {
            bytes += utf8_step(text + bytes, n - bytes);
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
    struct store_contact_times t; /* read with contact_id */
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
                              .want_receipt =
                                  o->in->want_receipt && last &&
                                  bridge_setting(o->a, SETTINGS_RECEIPTS),
                              .want_markers = o->in->markable && last};

    o->stored = 1;
    return bridge_message_add(&m, text);
}

static void bridge_queue_part(const char *part, size_t len, void *arg)
{
    struct bridge_out *o = arg;
    char *text = xstrndup(part, len);
    long long id = bridge_out_message(o, text, --o->parts_left == 0);
    struct bridge_job j = {
        .kind = BRIDGE_JOB_TEXT, .text = text, .reply_to = o->reply_to};

    if (id > 0)
        bridge_outbox_put(0, o->a->id, o->contact_id, id, &j);
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

    m = store_message_by_stanza(bridge_store(), a->id, 'i', stanza_id);
    if (m == NULL)
        m = store_message_by_stanza(bridge_store(), a->id, 'o', stanza_id);
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
        store_message_by_stanza(bridge_store(), a->id, 'i', id);
    struct bridge_job j = {.kind = BRIDGE_JOB_READ};

    if (m != NULL && m->network_id != NULL && m->status != STORE_STATUS_READ) {
        store_message_set_status(bridge_store(), m->id, STORE_STATUS_READ);
        j.target = m->network_id;
        bridge_outbox_put(0, a->id, contact_id, 0, &j);
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
    struct store_contact *c = store_contact_by_id(bridge_store(), contact_id);
    struct bridge_job j = {.kind = BRIDGE_JOB_TYPING};

    if (c != NULL && c->last_in_network_id != NULL &&
        bridge_backend_of(a)->caps.typing &&
        bridge_setting(a, SETTINGS_TYPING) && bridge_typing_due(contact_id)) {
        j.target = c->last_in_network_id;
        bridge_outbox_put(0, a->id, contact_id, 0, &j);
    }
    store_contact_free(c);
}

/* XEP-0444: the user's reaction (the last emoji; none removes it). */
static void bridge_reaction(xmpp_stanza_t *st, struct bridge_out *o)
{
    char *target = bridge_network_id_of(o->a, o->in->reactions_id);
    struct bridge_job j = {
        .kind = BRIDGE_JOB_REACTION, .text = o->in->reaction, .target = target};
    long long id;

    if (target == NULL) {
        message_error_reply(st, "cancel", "item-not-found",
                            "WhatsApp cannot react to this message: the "
                            "gateway does not know it");
        return;
    }
    id = bridge_out_message(o, NULL, 1);
    if (id > 0)
        bridge_outbox_put(0, o->a->id, o->contact_id, id, &j);
    free(target);
}

/* XEP-0308 correction or XEP-0424 retraction (kind) of the user's own
 * message id to this contact: a message row (its failure bounces) and an
 * edit or retract row, after the message's own in the contact's order. */
static void bridge_change(xmpp_stanza_t *st, struct bridge_out *o,
                          enum bridge_job_kind kind, const char *id)
{
    struct store_message *m =
        store_message_by_stanza(bridge_store(), o->a->id, 'o', id);
    char *body =
        kind == BRIDGE_JOB_EDIT ? message_body_without_fallback(o->in) : NULL;
    struct bridge_job j = {.kind = kind, .text = body, .stanza_id = id};
    long long row;

    if (m == NULL || m->contact_id != o->contact_id ||
        m->status == STORE_STATUS_FAILED) {
        message_error_reply(st, "cancel", "item-not-found",
                            "The gateway does not know this message of yours "
                            "to this contact, so WhatsApp cannot change it");
    } else if (kind == BRIDGE_JOB_EDIT &&
               (body == NULL || body[0] == '\0' ||
                utf8_chars(body) > bridge_backend_of(o->a)->max_text)) {
        message_error_reply(st, "modify", "not-acceptable",
                            "WhatsApp cannot take this correction (empty or "
                            "too long)");
    } else {
        row = bridge_out_message(o, body ? body : "(a deleted message)", 1);
        if (row > 0)
            bridge_outbox_put(0, o->a->id, o->contact_id, row, &j);
        if (row > 0 && body != NULL) {
            free(m->snippet);
            m->snippet = bridge_snippet(body);
            store_message_set_snippet(bridge_store(), m->id, m->snippet);
        }
    }
    store_message_free(m);
    free(body);
}

/* What the user's network cannot take: an error now, nothing queued. */
static int bridge_refuse(xmpp_stanza_t *st, const struct message_in *in,
                         const struct net_backend *be)
{
    const char *why = NULL;

    if (in->body != NULL && strlen(in->body) > MESSAGE_BODY_MAX)
        why = "This message is too long for the gateway";
    else if (in->retract_id != NULL && !be->caps.retractions_out)
        why = "This network does not let the gateway delete sent messages";
    else if (in->replace_id != NULL && !be->caps.edits_out)
        why = "This network does not let the gateway edit sent messages";
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
        bridge_split(body, bridge_backend_of(o->a)->max_text, bridge_count_part,
                     &o->parts_left);
        log_debug("bridge: message %s from %s queued (%zu part(s))",
                  o->in->id ? o->in->id : "-", o->a->jid, o->parts_left);
        bridge_split(body, bridge_backend_of(o->a)->max_text, bridge_queue_part,
                     o);
    }
    free(body);
}

/* A file the user sent: one "media" row, with the text as its caption; a
 * text too long for a caption follows as text messages. */
static void bridge_file(struct bridge_out *o, const char *url)
{
    char *body = message_body_without_fallback(o->in);
    const char *caption =
        body != NULL && body[0] != '\0' && strcmp(body, url) != 0 ? body : NULL;
    int separate =
        caption && utf8_chars(caption) > bridge_backend_of(o->a)->max_caption;
    struct bridge_job j = {.kind = BRIDGE_JOB_MEDIA, .url = url};
    long long id;

    if (o->in->reply_id != NULL)
        o->reply_to = o->reply_owned =
            bridge_network_id_of(o->a, o->in->reply_id);
    id = bridge_out_message(o, caption ? caption : "[a file]", !separate);
    if (id > 0) {
        j.text = separate ? NULL : caption;
        j.reply_to = o->reply_to;
        bridge_outbox_put(0, o->a->id, o->contact_id, id, &j);
        log_debug("bridge: file from %s queued", o->a->jid);
    }
    o->reply_to = NULL;
    if (separate) {
        o->parts_left = 0;
        bridge_split(caption, bridge_backend_of(o->a)->max_text,
                     bridge_count_part, &o->parts_left);
        bridge_split(caption, bridge_backend_of(o->a)->max_text,
                     bridge_queue_part, o);
    }
    free(body);
}

/* What was sent is copied to the other people of the account's team. */
static void bridge_out_copy(const struct bridge_out *o)
{
    char *writer = jid_bare(o->in->from);
    char *body = message_body_without_fallback(o->in);

    if (writer != NULL)
        bridge_stat_replied_since(o->a, o->contact_id, writer,
                                  o->t.waiting_since);
    if (writer != NULL && body != NULL && body[0] != '\0' &&
        o->in->retract_id == NULL) { /* a retraction's body is a fallback */
        bridge_history_out(o->a, o->contact_id, writer, o->in->id, body);
        bridge_team_wrote(o->a, o->contact_id, writer, body);
    }
    free(body);
    free(writer);
}

/* A team command written in the conversation (a body starting with '/'
 * to a contact of a team's account): answered, never sent. */
static int bridge_out_team_command(const struct message_in *in,
                                   const struct store_account *a,
                                   long long contact_id)
{
    char *writer;
    int done;

    if (in->body == NULL || in->body[0] != '/')
        return 0;
    writer = jid_bare(in->from);
    done = writer != NULL && bridge_team_command(in, a, contact_id, writer);
    free(writer);
    return done;
}

void bridge_user_message(xmpp_stanza_t *st, const struct message_in *in,
                         const struct store_account *a, const char *wa_id)
{
    struct bridge_out o = {in, a, 0, NULL, NULL, 0, 0, {0, 0}};
    const char *url;
    char *local;
    int created;

    if (bridge_refuse(st, in, bridge_backend_of(a)))
        return;
    if (store_txn_begin(bridge_store()) < 0) {
        message_error_reply(st, "wait", "internal-server-error",
                            "The gateway could not store this message");
        return;
    }
    local = jid_local_of(wa_id);
    o.contact_id = store_contact_ensure_times(bridge_store(), a->id, wa_id,
                                              local, &created, &o.t);
    free(local);
    if (o.contact_id <= 0) {
        message_error_reply(st, "wait", "internal-server-error",
                            "The gateway could not store this message");
        return;
    }
    if ((in->body != NULL && in->body[0] == '/' &&
         bridge_tpl_command(in, a, o.contact_id)) ||
        bridge_out_team_command(in, a, o.contact_id) ||
        bridge_tpl_closed(st, in, a, o.t.last_in_at))
        return;
    if (in->displayed != NULL)
        bridge_displayed(a, o.contact_id, in->displayed);
    if (in->composing && in->body == NULL)
        bridge_composing(a, o.contact_id);
    if (in->reactions_id != NULL)
        bridge_reaction(st, &o);
    else if (in->retract_id != NULL)
        bridge_change(st, &o, BRIDGE_JOB_RETRACT, in->retract_id);
    else if (in->replace_id != NULL)
        bridge_change(st, &o, BRIDGE_JOB_EDIT, in->replace_id);
    else if ((url = bridge_media_url(bridge_backend_of(a), in)) != NULL)
        bridge_file(&o, url);
    else
        bridge_text(&o);
    if (o.stored) {
        bridge_pending_add(in);
        bridge_out_copy(&o);
    }
    free(o.reply_owned);
}
