/* SPDX-License-Identifier: MIT */
/* The history of a team's conversations (issue 16, item 4): what the
 * customer and the members wrote is kept [team] history_days, served as
 * XEP-0313 (with XEP-0059 paging) on the contact's JID to the owner and
 * members, and replayed to whoever joins or is assigned a conversation. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bridge_core.h"
#include "bridge_history.h"
#include "bridge_mam.h"
#include "component.h"
#include "conf.h"
#include "disco.h"
#include "jid.h"
#include "message.h"
#include "queue.h"
#include "register.h"
#include "store.h"
#include "store_history.h"
#include "util.h"

#define NS_FORWARD "urn:xmpp:forward:0"
#define NS_DELAY "urn:xmpp:delay"
#define BRIDGE_HISTORY_LAST 20    /* replayed to a new holder */
#define BRIDGE_HISTORY_WELCOME 10 /* conversations replayed on joining */

void bridge_history_configure(const struct conf *conf)
{
    queue_set_history_keep(conf->team_history_days * 86400LL * 1000);
}

/* ---- what is kept ---- */

/* Keeps one message of a team's conversation. */
static void bridge_history_keep(const struct store_account *a,
                                long long contact_id, char direction,
                                const char *sender, const char *stanza_id,
                                const char *network_id, const char *body)
{
    struct store_history h = {.contact_id = contact_id,
                              .direction = direction,
                              .sender = (char *)sender,
                              .body = (char *)body,
                              .stanza_id = (char *)stanza_id,
                              .network_id = (char *)network_id,
                              .created_ms = wall_ms()};

    if (body == NULL || body[0] == '\0' || !bridge_has_team(a->id))
        return;
    store_history_add(bridge_store(), a->id, &h);
}

void bridge_history_in(const struct store_account *a, long long contact_id,
                       const char *id, const char *body)
{
    bridge_history_keep(a, contact_id, 'i', NULL, id, id, body);
}

void bridge_history_out(const struct store_account *a, long long contact_id,
                        const char *writer, const char *stanza_id,
                        const char *body)
{
    bridge_history_keep(a, contact_id, 'o', writer, stanza_id, NULL, body);
}

void bridge_history_sent(long long account_id, long long message_id,
                         const char *network_id)
{
    if (bridge_has_team(account_id))
        store_history_sent(bridge_store(), account_id, message_id, network_id);
}

/* ---- XEP-0313 queries ---- */

/* A query as asked: the store's query and the request's form and set. */
struct bridge_history_req {
    struct store_history_query q;
    struct bridge_mam_query m;
};

/* An archive id of the contact's (arg: its id, 0 for a contact with no
 * history) into *row; 0 or -1. */
static int bridge_history_row(const char *text, long long *row, void *arg)
{
    long long contact_id = *(const long long *)arg;

    if (parse_ll(text, 1, INT64_MAX, row) < 0 ||
        (contact_id > 0 &&
         store_history_has(bridge_store(), contact_id, *row) != 1))
        return -1;
    return 0;
}

/* Sends one archived message h to the querying JID. */
static void bridge_history_result(const char *to, const char *cj,
                                  const char *reader, const char *queryid,
                                  const struct store_history *h)
{
    xmpp_stanza_t *m = component_elem(NULL, "message", NULL), *r, *f, *in;
    char *id = component_new_id(), aid[24], stamp[40];

    xmpp_stanza_set_to(m, to);
    xmpp_stanza_set_from(m, cj);
    xmpp_stanza_set_id(m, id);
    r = component_elem(m, "result", NS_MAM);
    if (queryid != NULL)
        xmpp_stanza_set_attribute(r, "queryid", queryid);
    snprintf(aid, sizeof(aid), "%lld", h->id);
    xmpp_stanza_set_attribute(r, "id", aid);
    f = component_elem(r, "forwarded", NS_FORWARD);
    time_format_xmpp(h->created_ms, stamp, sizeof(stamp));
    xmpp_stanza_set_attribute(component_elem(f, "delay", NS_DELAY), "stamp",
                              stamp);
    in = component_elem(f, "message", "jabber:client");
    xmpp_stanza_set_type(in, "chat");
    if (h->stanza_id != NULL)
        xmpp_stanza_set_id(in, h->stanza_id);
    xmpp_stanza_set_from(in, h->direction == 'o' && h->sender ? h->sender : cj);
    xmpp_stanza_set_to(in, h->direction == 'o' ? cj : reader);
    component_text_elem(in, "body", h->body);
    component_send(m);
    xmpp_stanza_release(m);
    free(id);
}

/* The <fin/> of a page of rows[0..n-1]. */
static xmpp_stanza_t *bridge_history_fin(const struct bridge_history_req *r,
                                         struct store_history **rows, size_t n,
                                         long long count, int more)
{
    char first[24], last[24];

    if (n > 0) {
        snprintf(first, sizeof(first), "%lld", rows[0]->id);
        snprintf(last, sizeof(last), "%lld", rows[n - 1]->id);
    }
    return bridge_mam_fin(&r->m, n > 0 ? first : NULL, n > 0 ? last : NULL,
                          count, !more);
}

/* Answers a valid query r on the contact cj (r->q.contact_id 0: a
 * contact with no history) for reader (a bare JID). */
static void bridge_history_answer(xmpp_stanza_t *iq,
                                  const struct bridge_history_req *r,
                                  const char *cj, const char *reader)
{
    struct store_history **rows = NULL;
    xmpp_stanza_t *fin;
    long long count = 0;
    size_t n = 0, i;
    int more = 0;

    if (r->q.contact_id > 0 &&
        (r->m.with == NULL || component_jid_equal(r->m.with, cj))) {
        count = store_history_count(bridge_store(), &r->q);
        store_history_page(bridge_store(), &r->q, &rows, &n, &more);
    }
    for (i = 0; i < n; i++)
        bridge_history_result(xmpp_stanza_get_from(iq), cj, reader,
                              r->m.queryid, rows[i]);
    fin = bridge_history_fin(r, rows, n, count < 0 ? 0 : count, more);
    component_iq_result(iq, fin);
    xmpp_stanza_release(fin);
    for (i = 0; i < n; i++)
        store_history_free(rows[i]);
    free(rows);
}

/* The account whose history reader (a bare JID) may read: its own or
 * that of the team it is in, and only while its domain is allowed (an
 * owner's too: the domain may have left gateway.allowed_domains since);
 * NULL when neither. */
static struct store_account *bridge_history_account(const char *reader)
{
    return reader != NULL && register_domain_allowed(reader)
               ? store_account_own_or_team(bridge_store(), reader)
               : NULL;
}

/* A query r of reader's on the contact JID cj; 0 or -1 (*e). */
static int bridge_history_parse(struct bridge_history_req *r,
                                xmpp_stanza_t *query,
                                const struct store_account *a, const char *cj,
                                struct bridge_mam_err *e)
{
    char *wa = jid_network_id(cj, component_jid());
    struct store_contact *c = NULL;
    int ok = wa != NULL && jid_kind_of(wa) == JID_KIND_PHONE;

    if (ok)
        c = store_contact_get(bridge_store(), a->id, wa);
    r->q.contact_id = c != NULL ? c->id : 0;
    store_contact_free(c);
    free(wa);
    if (!ok)
        return bridge_mam_fail(e, "cancel", "item-not-found",
                               "Not a WhatsApp contact");
    if (bridge_mam_parse(query, bridge_history_row, &r->q.contact_id, &r->m,
                         e) < 0)
        return -1;
    r->q.start_ms = r->m.start_ms;
    r->q.end_ms = r->m.end_ms;
    r->q.after = r->m.after;
    r->q.before = r->m.before;
    r->q.last = r->m.last;
    r->q.max = r->m.max;
    return 0;
}

/* XEP-0313 on a contact JID: the owner and members of the account's team
 * read the conversation's history; anyone else is refused. */
static int bridge_history_iq(xmpp_stanza_t *iq, xmpp_stanza_t *query, void *arg)
{
    const char *to = xmpp_stanza_get_to(iq);
    struct bridge_history_req r;
    struct bridge_mam_err e = {0};
    struct store_account *a;
    char *reader, *cj;

    if (to == NULL || strchr(to, '@') == NULL ||
        strcmp(xmpp_stanza_get_name(query), "query") != 0)
        return 0;
    if (strcmp(xmpp_stanza_get_type(iq), "get") == 0) {
        bridge_mam_fields(iq);
        return 1;
    }
    memset(&r, 0, sizeof(r));
    reader = jid_bare(xmpp_stanza_get_from(iq));
    cj = jid_bare(to);
    a = bridge_history_account(reader);
    if (a == NULL || cj == NULL)
        bridge_mam_fail(&e, "auth", "forbidden",
                        "Only the team of a business number reads its "
                        "conversations' history");
    else if (bridge_history_parse(&r, query, a, cj, &e) == 0)
        bridge_history_answer(iq, &r, cj, reader);
    if (e.cond != NULL)
        component_error_reply(iq, e.type, e.cond, e.text);
    store_account_free(a);
    free(cj);
    free(reader);
    return 1;
}

void bridge_history_init(void)
{
    disco_contact_feature_add(NS_MAM);
    component_iq_register(NS_MAM, bridge_history_iq, NULL);
}

/* ---- the last messages for whoever picks a conversation up ---- */

/* Queues one line of history (body) from the contact cj to to, with its
 * time when stamp_ms is not 0. */
static void bridge_history_line(const struct store_account *a,
                                long long contact_id, const char *cj,
                                const char *to, const char *body,
                                long long stamp_ms)
{
    char *id = component_new_id();
    char *xml = message_chat_xml(cj, to, id, body), *delayed;

    if (stamp_ms > 0) {
        delayed = message_add_delay(xml, component_jid(), stamp_ms / 1000);
        free(xml);
        xml = delayed;
    }
    bridge_inbox_from(a->id, contact_id, to, id, xml);
    free(id);
}

/* What a line of history says: the customer's words, or the writer's
 * name (the localpart of the JID) and theirs, after "[history]". */
static char *bridge_history_body(const struct store_history *h)
{
    const char *at = h->sender ? strchr(h->sender, '@') : NULL;

    if (h->direction != 'o' || h->sender == NULL)
        return xasprintf("[history] %s", h->body);
    return xasprintf("[history] %.*s: %s",
                     at ? (int)(at - h->sender) : (int)strlen(h->sender),
                     h->sender, h->body);
}

void bridge_history_replay(const struct store_account *a, long long contact_id,
                           const char *to)
{
    struct store_history_query q = {
        .contact_id = contact_id, .last = 1, .max = BRIDGE_HISTORY_LAST};
    struct store_history **rows = NULL;
    struct store_contact *c = NULL;
    size_t n = 0, i;
    int more;
    char *cj = NULL, *line;

    store_history_page(bridge_store(), &q, &rows, &n, &more);
    if (n > 0)
        c = store_contact_by_id(bridge_store(), contact_id);
    if (c != NULL) {
        cj = bridge_contact_jid(c);
        line = xasprintf("[team] The last %zu message(s) of this "
                         "conversation follow, marked [history]",
                         n);
        bridge_history_line(a, contact_id, cj, to, line, 0);
        free(line);
    }
    for (i = 0; i < n; i++) {
        if (cj != NULL) {
            line = bridge_history_body(rows[i]);
            bridge_history_line(a, contact_id, cj, to, line,
                                rows[i]->created_ms);
            free(line);
        }
        store_history_free(rows[i]);
    }
    free(rows);
    free(cj);
    store_contact_free(c);
}

void bridge_history_welcome(const struct store_account *a, const char *member)
{
    long long ids[BRIDGE_HISTORY_WELCOME];
    int n = store_history_contacts(bridge_store(), a->id, ids,
                                   BRIDGE_HISTORY_WELCOME);

    while (n-- > 0) /* the latest conversation last */
        bridge_history_replay(a, ids[n], member);
}
