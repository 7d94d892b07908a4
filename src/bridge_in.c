/* SPDX-License-Identifier: MIT */
/* The bridge, network to XMPP: a verified webhook's events (messages,
 * replies, reactions, edits, deletions, number changes, statuses) become
 * stanzas in the inbox, all in one transaction committed before the
 * network gets its 200. */
#include <stdlib.h>
#include <string.h>

#include "bridge_core.h"
#include "bridge_in.h"
#include "bridge_lid.h"
#include "bridge_login.h"
#include "bridge_media.h"
#include "bridge_muc.h"
#include "bridge_presence.h"
#include "bridge_stat.h"
#include "bridge_team.h"
#include "bridge_tpl.h"
#include "component.h"
#include "httpd.h"
#include "jid.h"
#include "log.h"
#include "message.h"
#include "metrics.h"
#include "net.h"
#include "queue.h"
#include "register.h"
#include "roster.h"
#include "store.h"
#include "util.h"

#define BRIDGE_SEEN_TTL_S (8 * 24 * 3600) /* Meta retries for 7 days */
#define BRIDGE_UNKNOWN_QUOTE "(a message the gateway has not seen)"
#define BRIDGE_MINE_MARK "[you wrote, on your phone:]"

/* 1 when the event is new (and now recorded), 0 for a duplicate, -1 on
 * error. A message is known by its row in the message map (written in the
 * same transaction, unique per account and network id); statuses and
 * actions by a dedupe key. */
static int bridge_fresh(const char *kind, const struct store_account *a,
                        const struct net_event *ev)
{
    char *key;
    int fresh;

    if (ev->kind == NET_EVENT_MESSAGE) {
        fresh = store_message_known(bridge_store(), a->id, ev->id);
        fresh = fresh < 0 ? -1 : !fresh;
    } else {
        key = ev->kind == NET_EVENT_STATUS
                  ? xasprintf("%s:%s:%s:%s:%d", kind, a->backend, ev->account,
                              ev->id, ev->status)
                  : xasprintf("%s:%s:%s:%s", kind, a->backend, ev->account,
                              ev->id);
        fresh =
            store_seen_add(bridge_store(), key, now_s() + BRIDGE_SEEN_TTL_S);
        free(key);
    }
    metrics_inc(fresh == 0                     ? METRICS_IN_DUPLICATE
                : ev->kind == NET_EVENT_STATUS ? METRICS_IN_STATUS
                                               : METRICS_IN_MESSAGE);
    return fresh;
}

static int bridge_on_status(const struct net_event *ev,
                            const struct store_account *a)
{
    struct store_message *m;
    int fresh = bridge_fresh("s", a, ev);

    if (fresh <= 0)
        return fresh;
    m = store_message_by_network(bridge_store(), a->id, ev->id);
    if (m == NULL) {
        /* the send's answer has not come back yet (or not ours) */
        return store_early_status_add(bridge_store(), a->id, ev->id, ev->status,
                                      ev->error_code, ev->error_text);
    }
    if (m->direction == 'o')
        bridge_apply_status(m, ev->status, ev->error_code, ev->error_text);
    store_message_free(m);
    return 0;
}

/* ---- messages and actions ---- */

/* What an incoming event is about: account, contact and its JID. */
struct bridge_peer {
    const struct store_account *a;
    long long contact_id;
    char *jid;
};

/* Finds or creates the sender; a new one asks the user for a subscription
 * with its profile name. 0 or -1. */
static int bridge_peer(const struct store_account *a,
                       const struct net_event *ev, struct bridge_peer *p)
{
    char *local, *phone = NULL;
    const char *peer = ev->peer;
    struct store_contact *c;
    int created, lid = jid_is_lid(peer), ask;

    p->a = a;
    if (lid && bridge_lid_phone(a, peer, &phone) < 0) {
        p->contact_id = -1;
        return -1;
    }
    if (phone != NULL) /* a lid whose number is known: the number's */
        peer = phone;
    else if (!lid && jid_kind_of(peer) != JID_KIND_PHONE) {
        log_warn("bridge: event %s from an id that is neither a phone "
                 "number nor a lid",
                 ev->id);
        return -1;
    }
    ask = lid && phone == NULL;
    local = jid_local_of(peer);
    p->contact_id = store_contact_ensure(bridge_store(), a->id, peer, local,
                                         ev->peer_name, &created);
    free(local);
    free(phone);
    if (ask && p->contact_id > 0)
        bridge_lid_ask(a, ev->peer); /* its number, for what follows */
    else if (lid && p->contact_id > 0 &&
             store_alias_add(bridge_store(), a->id, ev->peer, p->contact_id) <
                 0) /* the lid reaches the number's contact */
        p->contact_id = -1;
    c = p->contact_id > 0 ? store_contact_by_id(bridge_store(), p->contact_id)
                          : NULL;
    if (c == NULL)
        return -1;
    p->jid = bridge_contact_jid(c);
    if (created)
        bridge_team_new_contact(a, p->contact_id, p->jid, ev->peer_name);
    store_contact_free(c);
    return 0;
}

/* Remembers an incoming message so it can be replied to, reacted to and
 * marked read later. */
static int bridge_remember(const struct bridge_peer *p,
                           const struct net_event *ev, const char *text)
{
    struct store_message m = {.account_id = p->a->id,
                              .contact_id = p->contact_id,
                              .direction = 'i',
                              .stanza_id = (char *)ev->id,
                              .network_id = (char *)ev->id,
                              .status = STORE_STATUS_DELIVERED};
    long long id = bridge_message_add(&m, text);

    store_contact_set_last_in(bridge_store(), p->contact_id, ev->id,
                              ev->timestamp, bridge_stat_wait(ev->timestamp));
    bridge_tpl_business(p->a, ev->business);
    return id < 0 ? -1 : 0;
}

/* The XMPP id and author of a network message ferry knows; 0 or -1. */
static int bridge_lookup(const struct bridge_peer *p, const char *network_id,
                         struct store_message **m)
{
    *m = network_id
             ? store_message_by_network(bridge_store(), p->a->id, network_id)
             : NULL;
    return *m != NULL && (*m)->stanza_id != NULL ? 0 : -1;
}

/* A contact card as text, its numbers as gateway JIDs. Caller frees. */
static char *bridge_cards(const struct net_event *ev)
{
    struct buf b;
    char *jid;
    int i, j;

    buf_init(&b, 64 * 1024);
    for (i = 0; i < ev->ncards; i++) {
        const struct net_card *c = &ev->cards[i];

        buf_appendf(&b, "%sContact: %s\n", i ? "\n" : "",
                    c->name ? c->name : "(no name)");
        for (j = 0; j < c->nphones; j++) {
            jid = jid_kind_of(c->phones[j].peer) == JID_KIND_PHONE
                      ? jid_of(c->phones[j].peer, component_jid())
                      : NULL;
            buf_appendf(&b, "%s%s%s%s%s\n",
                        c->phones[j].phone ? c->phones[j].phone : "",
                        c->phones[j].type ? " (" : "",
                        c->phones[j].type ? c->phones[j].type : "",
                        c->phones[j].type ? ")" : "",
                        jid ? "" : " (not on WhatsApp)");
            if (jid != NULL)
                buf_appendf(&b, "  xmpp:%s\n", jid);
            free(jid);
        }
    }
    return buf_take(&b);
}

/* The body ferry shows for a message event (for a file: its caption, as
 * in an edit). Caller frees. */
static char *bridge_body(const struct net_event *ev)
{
    if (ev->ncards > 0)
        return bridge_cards(ev);
    if (ev->media != NULL)
        return xasprintf("[%s caption] %s", ev->media->kind,
                         ev->text ? ev->text : "");
    return xstrdup(ev->text ? ev->text : "[an empty message]");
}

/* A file: fetched later by a durable job (never while the network waits
 * for the webhook's answer); remembered now for replies and markers. */
static int bridge_in_media(const struct bridge_peer *p,
                           const struct net_event *ev)
{
    char *snippet;
    int rc;

    if (bridge_media_in(p->a, p->contact_id, p->jid, ev) < 0)
        return -1;
    snippet = ev->text ? xstrdup(ev->text) : xasprintf("[%s]", ev->media->kind);
    rc = bridge_remember(p, ev, snippet);
    free(snippet);
    return rc;
}

/* A plain text from the contact, with id; 0 or -1. */
static int bridge_in_text(const struct bridge_peer *p, const char *id,
                          const char *text)
{
    struct message_out o = {
        .from = p->jid, .to = p->a->jid, .id = id, .body = text, .markable = 1};

    return bridge_team_deliver(p->a, p->contact_id, id, &o);
}

/* A message, possibly a reply (XEP-0461, quoting what ferry knows). */
static int bridge_in_message(const struct bridge_peer *p,
                             const struct net_event *ev)
{
    struct message_out o = {
        .from = p->jid, .to = p->a->jid, .id = ev->id, .markable = 1};
    struct store_message *q = NULL;
    char *body, *info_id;
    int rc;

    if (ev->media != NULL)
        return bridge_in_media(p, ev);
    body = bridge_body(ev);
    if (ev->reply_to != NULL) {
        o.reply_id = ev->reply_to;
        o.quote = BRIDGE_UNKNOWN_QUOTE;
        if (bridge_lookup(p, ev->reply_to, &q) == 0) {
            o.reply_id = q->stanza_id;
            o.reply_author = q->direction == 'i' ? p->jid : p->a->jid;
            o.quote = q->snippet ? q->snippet : BRIDGE_UNKNOWN_QUOTE;
        }
    }
    o.body = ev->geo ? ev->geo : body;
    rc = bridge_team_deliver(p->a, p->contact_id, o.id, &o);
    if (ev->geo != NULL && ev->text != NULL) {
        /* the name and address follow the geo: URI clients show as a map */
        info_id = xasprintf("%s-place", ev->id);
        bridge_in_text(p, info_id, ev->text);
        free(info_id);
    }
    store_message_free(q);
    free(body);
    if (rc < 0)
        return -1;
    return bridge_remember(p, ev, ev->geo ? ev->geo : ev->text);
}

/* A message the user wrote to the contact elsewhere (on the phone): kept
 * as the user's (its id known: never shown twice, and replies and
 * reactions find it), and shown to the user as their own: an XEP-0280
 * <sent/> carbon through XEP-0356 where their server lets ferry send as
 * its users, else a message from the contact marked as the user's. */
static int bridge_in_mine(const struct bridge_peer *p,
                          const struct net_event *ev)
{
    struct store_message m = {.account_id = p->a->id,
                              .contact_id = p->contact_id,
                              .direction = 'o',
                              .stanza_id = (char *)ev->id,
                              .sender = p->a->jid,
                              .network_id = (char *)ev->id,
                              .status = STORE_STATUS_SENT};
    const char *ns = roster_message_privilege(p->a->jid);
    struct message_out o = {.from = p->jid, .to = p->a->jid, .id = ev->id};
    char *body = ev->media != NULL
                     ? xasprintf("[%s]%s%s", ev->media->kind,
                                 ev->text ? " " : "", ev->text ? ev->text : "")
                 : ev->geo != NULL ? xstrdup(ev->geo)
                                   : bridge_body(ev),
         *text = NULL;
    int rc;

    if (ns != NULL) {
        rc = bridge_inbox(p->a->id, p->a->jid, ev->id,
                          message_carbon_xml(ns, component_jid(), p->a->jid,
                                             p->jid, ev->id, body));
    } else {
        o.body = text = xasprintf("%s %s", BRIDGE_MINE_MARK, body);
        rc = bridge_team_deliver(p->a, p->contact_id, ev->id, &o);
    }
    if (rc == 0 && bridge_message_add(&m, body) < 0)
        rc = -1;
    free(text);
    free(body);
    return rc;
}

/* The text of an edit: a correction of t, the message ferry knows (a
 * file stays: its caption is new text), else a notice. Caller frees. */
static char *bridge_in_edit(const struct net_event *ev,
                            const struct store_message *t,
                            struct message_out *o)
{
    char *text = bridge_body(ev), *snippet, *notice;

    if (t != NULL && ev->media == NULL) {
        o->replace_id = t->stanza_id;
        snippet = bridge_snippet(text);
        store_message_set_snippet(bridge_store(), t->id, snippet);
        free(snippet);
        return text;
    }
    notice = xasprintf("[edited] %s", text);
    free(text);
    return notice;
}

/* XEP-0444 reaction, XEP-0308 correction or XEP-0424 retraction of a
 * message ferry knows; a readable notice when it does not. */
static int bridge_in_action(const struct bridge_peer *p,
                            const struct net_event *ev)
{
    struct message_out o = {.from = p->jid, .to = p->a->jid, .id = ev->id};
    struct store_message *t = NULL;
    int known = bridge_lookup(p, ev->target, &t) == 0, rc;
    char *text = NULL;

    switch (ev->kind) {
    case NET_EVENT_REACTION:
        if (known) {
            o.reactions_id = t->stanza_id;
            o.reaction = ev->emoji;
        } else {
            text = *ev->emoji
                       ? xasprintf("[reacted %s to a message]", ev->emoji)
                       : xstrdup("[removed a reaction]");
        }
        break;
    case NET_EVENT_REVOKE:
        if (known) {
            o.retract_id = t->stanza_id;
            store_message_set_snippet(bridge_store(), t->id,
                                      "(a deleted message)");
        } else {
            text = xstrdup("[deleted a message]");
        }
        break;
    case NET_EVENT_EDIT:
        text = bridge_in_edit(ev, known ? t : NULL, &o);
        break;
    default: /* not an action on a message */
        store_message_free(t);
        return 0;
    }
    o.body = text;
    rc = bridge_team_deliver(p->a, p->contact_id, o.id, &o);
    store_message_free(t);
    free(text);
    return rc;
}

/* The contact now writes from another number: one contact, two numbers. */
static int bridge_in_renumber(const struct bridge_peer *p,
                              const struct net_event *ev)
{
    char *text;
    int rc;

    if (ev->new_peer == NULL ||
        store_contact_renumber(bridge_store(), p->contact_id, ev->new_peer) < 0)
        log_warn("bridge: number change of %s not recorded", p->jid);
    text = xasprintf("[%s]", ev->text ? ev->text : "changed their number");
    rc = bridge_in_text(p, ev->id, text);
    free(text);
    return rc;
}

/* An XEP-0085 chat state from a contact ferry knows: sent at once, never
 * stored (a state that waited would be stale); nothing when the user is
 * not reachable now or the contact is unknown. */
static int bridge_on_chatstate(const struct net_event *ev,
                               const struct store_account *a)
{
    struct store_contact *c =
        ev->peer ? store_contact_get(bridge_store(), a->id, ev->peer) : NULL;
    char *jid, *xml;

    if (c == NULL || ev->chatstate == NULL || !component_connected()) {
        store_contact_free(c);
        return 0;
    }
    jid = bridge_contact_jid(c);
    xml = message_chatstate_xml(jid, a->jid, ev->chatstate);
    component_send_raw(xml, strlen(xml));
    free(xml);
    free(jid);
    store_contact_free(c);
    return 0;
}

static int bridge_on_incoming(const struct net_event *ev,
                              const struct store_account *a)
{
    struct bridge_peer p = {a, 0, NULL};
    int rc, fresh = bridge_fresh("m", a, ev);

    if (fresh <= 0)
        return fresh;
    if (bridge_peer(a, ev, &p) < 0) {
        free(p.jid);
        return p.contact_id < 0 ? -1 : 0;
    }
    switch (ev->kind) {
    case NET_EVENT_MESSAGE:
        rc = ev->from_me ? bridge_in_mine(&p, ev) : bridge_in_message(&p, ev);
        break;
    case NET_EVENT_RENUMBER:
        rc = bridge_in_renumber(&p, ev);
        break;
    default:
        rc = bridge_in_action(&p, ev);
        break;
    }
    free(p.jid);
    return rc;
}

/* One webhook event of back end arg; runs inside the webhook's
 * transaction. */
static int bridge_on_event(const struct net_event *ev, void *arg)
{
    const struct net_backend *be = arg;
    struct store_account *a =
        store_account_by_network_id(bridge_store(), be->name, ev->account);
    int rc;

    if (a == NULL) {
        log_info("bridge: webhook event for unknown account %s ignored",
                 ev->account);
        return 0;
    }
    if (!register_domain_allowed(a->jid)) {
        log_info("bridge: webhook event for %s ignored: its domain is no "
                 "longer in gateway.allowed_domains",
                 a->jid);
        store_account_free(a);
        return 0;
    }
    if (ev->kind == NET_EVENT_LOGIN)
        rc = (rc = bridge_fresh("l", a, ev)) <= 0 ? rc
                                                  : bridge_login_event(ev, a);
    else if (ev->kind == NET_EVENT_CHATSTATE)
        rc = bridge_on_chatstate(ev, a);
    else if (ev->kind == NET_EVENT_PRESENCE)
        rc = bridge_presence_event(ev, a);
    else if (ev->kind == NET_EVENT_GROUP) /* once, by the event's id */
        rc =
            (rc = bridge_fresh("g", a, ev)) <= 0 ? rc : bridge_muc_group(ev, a);
    else if (ev->group != NULL) /* a message or an action in a group */
        rc = bridge_muc_message(ev, a);
    else
        rc = ev->kind == NET_EVENT_STATUS ? bridge_on_status(ev, a)
                                          : bridge_on_incoming(ev, a);
    store_account_free(a);
    return rc < 0 ? -1 : 0;
}

/* ---- the webhook ---- */

/* A webhook the store could not keep: 500, so that the network sends it
 * again (the transaction is rolled back by then). */
static void bridge_webhook_not_stored(const struct httpd_request *req,
                                      struct httpd_response *res)
{
    log_error("bridge: webhook of %zu bytes not stored (store error); "
              "answering 500 so that it comes again",
              req->body_len);
    metrics_inc(METRICS_REJECT_STORE);
    httpd_respond(res, 500, "text/plain", "store unavailable\n");
}

/* The webhooks stored in one turn's transaction, answered at its end
 * (each turn its own: with the WAL syncer, a turn's answers wait for its
 * sync while later turns store theirs). */
struct bridge_webhook_wait {
    long long turn; /* store_txn_serial() */
    struct httpd_later **later;
    size_t n, cap;
};

/* The open turn's, or NULL. */
static struct bridge_webhook_wait *bridge_webhook_open;

/* The turn's transaction ended: its webhooks are answered, 200 once
 * durable, 500 (the network sends them again) when it was rolled back. */
static void bridge_webhook_committed(int ok, void *arg)
{
    struct bridge_webhook_wait *w = arg;
    size_t i;

    for (i = 0; i < w->n; i++) {
        if (ok)
            metrics_inc(METRICS_WEBHOOK_OK);
        else
            metrics_inc(METRICS_REJECT_STORE);
        httpd_answer(w->later[i], ok ? 200 : 500,
                     ok ? "ok\n" : "store unavailable\n");
    }
    if (!ok && w->n > 0)
        log_error("bridge: %zu webhook(s) not stored (commit failed); "
                  "answered 500 so that they come again",
                  w->n);
    if (bridge_webhook_open == w)
        bridge_webhook_open = NULL;
    free(w->later);
    free(w);
}

/* Answers the webhook after the commit of the turn's transaction that
 * holds it (group commit): 0, or -1 when there is no such transaction. */
static int bridge_webhook_defer(const struct httpd_request *req)
{
    struct bridge_webhook_wait *w = bridge_webhook_open;
    long long turn = store_txn_serial(bridge_store());

    if (turn == 0)
        return -1;
    if (w == NULL || w->turn != turn) {
        w = xcalloc(1, sizeof(*w));
        w->turn = turn;
        if (store_txn_after(bridge_store(), bridge_webhook_committed, w) < 0) {
            free(w);
            return -1;
        }
        bridge_webhook_open = w;
    }
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 16;
        w->later = xrealloc(w->later, w->cap * sizeof(*w->later));
    }
    w->later[w->n++] = httpd_defer(req);
    return 0;
}

/* POST /webhook/<backend>: verify, store every event in the turn's
 * transaction, then 200 once it is committed (bridge_webhook_defer()). */
static void bridge_webhook_post(const struct net_backend *be,
                                const struct httpd_request *req,
                                struct httpd_response *res)
{
    const char *why = NULL;
    int rc;

    if (be->webhook_verify(req, &why) < 0) {
        log_warn("bridge: %s webhook rejected: %s", be->name, why);
        metrics_inc(METRICS_REJECT_SIGNATURE);
        httpd_respond(res, be->webhook_reject ? be->webhook_reject : 403,
                      "text/plain", "signature rejected\n");
        return;
    }
    if (store_txn_begin(bridge_store()) < 0 ||
        store_part_begin(bridge_store()) < 0) {
        bridge_webhook_not_stored(req, res);
        return;
    }
    rc = be->webhook_parse(req->body, req->body_len, bridge_on_event,
                           (void *)be);
    if (store_failed(bridge_store())) {
        /* nothing of it is kept: the network delivers it again */
        store_part_end(bridge_store(), 0);
        bridge_webhook_not_stored(req, res);
        return;
    }
    if (rc < 0) {
        store_part_end(bridge_store(), 0);
        log_warn("bridge: webhook body malformed or not stored (%zu bytes)",
                 req->body_len);
        metrics_inc(METRICS_REJECT_MALFORMED);
        httpd_respond(res, 400, "text/plain", "malformed\n");
        return;
    }
    if (store_part_end(bridge_store(), 1) < 0 ||
        bridge_webhook_defer(req) < 0) {
        bridge_webhook_not_stored(req, res);
        return;
    }
    log_debug("bridge: webhook of %zu bytes stored", req->body_len);
}

void bridge_webhook(const struct httpd_request *req, struct httpd_response *res,
                    void *arg)
{
    const struct net_backend *be = arg;

    if (strcmp(req->method, "GET") == 0)
        be->webhook_get(req, res);
    else if (strcmp(req->method, "POST") == 0)
        bridge_webhook_post(be, req, res);
    else
        httpd_respond(res, 405, "text/plain", "method not allowed\n");
}
