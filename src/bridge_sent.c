/* SPDX-License-Identifier: MIT */
/* The outcome of a send (a text, a reaction, a file...): the message's
 * network id and statuses that raced ahead, the retry, the failure and its
 * bounce; exactly once per outbox row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge_core.h"
#include "bridge_history.h"
#include "bridge_job.h"
#include "bridge_sent.h"
#include "message.h"
#include "net.h"
#include "queue.h"
#include "store.h"
#include "util.h"

static void bridge_early_status(int status, int code, const char *text,
                                void *arg)
{
    struct store_message *m =
        store_message_by_id(bridge_store(), *(long long *)arg);

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
    if (store_message_sent(bridge_store(), s->message_id, id) != 1)
        return;
    store_early_status_take(bridge_store(), s->account_id, id,
                            bridge_early_status, &mid);
    bridge_history_sent(s->account_id, s->message_id, id);
}

/* Tells the user that a message went again after WhatsApp's first answer
 * was lost: the contact may have it twice. */
static void bridge_sent_twice_notice(const struct bridge_send *s)
{
    struct store_message *m =
        store_message_by_id(bridge_store(), s->message_id);
    struct store_account *a =
        store_account_by_id(bridge_store(), s->account_id);
    struct store_contact *c =
        m ? store_contact_by_id(bridge_store(), m->contact_id) : NULL;
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
    struct bridge_job j = {.kind = BRIDGE_JOB_TEXT, .text = s->caption};

    bridge_outbox_put(s->outbox_id, s->account_id, s->contact_id, s->message_id,
                      &j);
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

    store_txn_begin(bridge_store());
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

void bridge_send_end(struct bridge_send *s, enum net_outcome outcome,
                     const char *text)
{
    struct net_result r;

    memset(&r, 0, sizeof(r));
    r.outcome = outcome;
    r.text = text;
    bridge_send_done(&r, s);
}
