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

#define NS_MAM "urn:xmpp:mam:2"
#define NS_RSM "http://jabber.org/protocol/rsm"
#define NS_FORWARD "urn:xmpp:forward:0"
#define NS_DELAY "urn:xmpp:delay"
#define NS_DATA "jabber:x:data"
#define BRIDGE_HISTORY_PAGE_MAX 100 /* messages per XEP-0313 page */
#define BRIDGE_HISTORY_LAST 20      /* replayed to a new holder */
#define BRIDGE_HISTORY_WELCOME 10   /* conversations replayed on joining */
#define BRIDGE_HISTORY_QUERYID_MAX 256

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

/* Why a query is refused: an error's type and condition. */
struct bridge_history_err {
    const char *type, *cond, *text;
};

/* A query as asked. */
struct bridge_history_req {
    struct store_history_query q;
    const char *with;
    const char *queryid;
};

/* The text of e's first child ("" when none). */
static const char *bridge_history_text(xmpp_stanza_t *e)
{
    xmpp_stanza_t *t = e ? xmpp_stanza_get_children(e) : NULL;
    const char *s =
        t && xmpp_stanza_is_text(t) ? xmpp_stanza_get_text_ptr(t) : NULL;

    return s ? s : "";
}

/* Sets *e and returns -1. */
static int bridge_history_fail(struct bridge_history_err *e, const char *type,
                               const char *cond, const char *text)
{
    e->type = type;
    e->cond = cond;
    e->text = text;
    return -1;
}

/* One field of the query's form; 0 or -1 (*e says why). */
static int bridge_history_field(struct bridge_history_req *r, const char *var,
                                const char *value, struct bridge_history_err *e)
{
    long long *t = NULL;

    if (strcmp(var, "FORM_TYPE") == 0) {
        if (strcmp(value, NS_MAM) != 0)
            return bridge_history_fail(e, "modify", "bad-request",
                                       "FORM_TYPE is not " NS_MAM);
        return 0;
    }
    if (strcmp(var, "with") == 0) {
        r->with = value;
        return 0;
    }
    if (strcmp(var, "start") == 0)
        t = &r->q.start_ms;
    else if (strcmp(var, "end") == 0)
        t = &r->q.end_ms;
    else
        return bridge_history_fail(e, "cancel", "feature-not-implemented",
                                   "Unknown field: only start, end and with");
    *t = time_parse_xmpp(value);
    if (*t < 0)
        return bridge_history_fail(e, "modify", "bad-request",
                                   "start and end are XEP-0082 DateTimes");
    return 0;
}

/* The query's data form (x, or NULL); 0 or -1. */
static int bridge_history_form(struct bridge_history_req *r, xmpp_stanza_t *x,
                               struct bridge_history_err *e)
{
    xmpp_stanza_t *f;
    const char *var;

    for (f = x ? xmpp_stanza_get_children(x) : NULL; f != NULL;
         f = xmpp_stanza_get_next(f)) {
        if (!xmpp_stanza_is_tag(f) ||
            strcmp(xmpp_stanza_get_name(f), "field") != 0)
            continue;
        var = xmpp_stanza_get_attribute(f, "var");
        if (var == NULL)
            return bridge_history_fail(e, "modify", "bad-request",
                                       "A field without var");
        if (bridge_history_field(
                r, var,
                bridge_history_text(xmpp_stanza_get_child_by_name(f, "value")),
                e) < 0)
            return -1;
    }
    return 0;
}

/* An archive id of the contact's ("after" or "before") into *id; 0 or
 * -1. */
static int bridge_history_id(const char *text, long long contact_id,
                             long long *id, struct bridge_history_err *e)
{
    if (parse_ll(text, 1, INT64_MAX, id) < 0 ||
        (contact_id > 0 &&
         store_history_has(bridge_store(), contact_id, *id) != 1))
        return bridge_history_fail(e, "cancel", "item-not-found",
                                   "No such message in this archive");
    return 0;
}

/* The XEP-0059 set (NULL: none) of a query; 0 or -1. */
static int bridge_history_rsm(struct bridge_history_req *r, xmpp_stanza_t *set,
                              struct bridge_history_err *e)
{
    xmpp_stanza_t *max = NULL, *after = NULL, *before = NULL;
    long long n = BRIDGE_HISTORY_PAGE_MAX;

    if (set != NULL) {
        max = xmpp_stanza_get_child_by_name(set, "max");
        after = xmpp_stanza_get_child_by_name(set, "after");
        before = xmpp_stanza_get_child_by_name(set, "before");
        if (xmpp_stanza_get_child_by_name(set, "index") != NULL)
            return bridge_history_fail(e, "cancel", "feature-not-implemented",
                                       "Paging by index is not supported");
    }
    if (max != NULL && parse_ll(bridge_history_text(max), 0, INT32_MAX, &n) < 0)
        return bridge_history_fail(e, "modify", "bad-request",
                                   "max is not a number");
    r->q.max =
        (size_t)(n < BRIDGE_HISTORY_PAGE_MAX ? n : BRIDGE_HISTORY_PAGE_MAX);
    if (after != NULL && bridge_history_id(bridge_history_text(after),
                                           r->q.contact_id, &r->q.after, e) < 0)
        return -1;
    if (before == NULL)
        return 0;
    r->q.last = 1;
    if (bridge_history_text(before)[0] == '\0')
        return 0; /* <before/>: the last page */
    return bridge_history_id(bridge_history_text(before), r->q.contact_id,
                             &r->q.before, e);
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

/* The <fin/> of a page: complete, and the set's first, last and count. */
static xmpp_stanza_t *bridge_history_fin(const struct bridge_history_req *r,
                                         struct store_history **rows, size_t n,
                                         long long count, int more)
{
    xmpp_stanza_t *fin = component_elem(NULL, "fin", NS_MAM), *set;
    char s[24];

    if (r->queryid != NULL)
        xmpp_stanza_set_attribute(fin, "queryid", r->queryid);
    xmpp_stanza_set_attribute(fin, "complete", more ? "false" : "true");
    set = component_elem(fin, "set", NS_RSM);
    if (n > 0) {
        snprintf(s, sizeof(s), "%lld", rows[0]->id);
        component_text_elem(set, "first", s);
        snprintf(s, sizeof(s), "%lld", rows[n - 1]->id);
        component_text_elem(set, "last", s);
    }
    snprintf(s, sizeof(s), "%lld", count);
    component_text_elem(set, "count", s);
    return fin;
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
        (r->with == NULL || component_jid_equal(r->with, cj))) {
        count = store_history_count(bridge_store(), &r->q);
        store_history_page(bridge_store(), &r->q, &rows, &n, &more);
    }
    for (i = 0; i < n; i++)
        bridge_history_result(xmpp_stanza_get_from(iq), cj, reader, r->queryid,
                              rows[i]);
    fin = bridge_history_fin(r, rows, n, count < 0 ? 0 : count, more);
    component_iq_result(iq, fin);
    xmpp_stanza_release(fin);
    for (i = 0; i < n; i++)
        store_history_free(rows[i]);
    free(rows);
}

/* The account whose history reader (a bare JID) may read: its own or
 * that of the team it is in; NULL when neither. */
static struct store_account *bridge_history_account(const char *reader)
{
    struct store_account *a;
    long long id;

    if (reader == NULL || !register_domain_allowed(reader))
        return NULL;
    a = store_account_by_jid(bridge_store(), reader);
    if (a != NULL)
        return a;
    id = store_team_account_of(bridge_store(), reader);
    return id > 0 ? store_account_by_id(bridge_store(), id) : NULL;
}

/* A query r of reader's on the contact JID cj; 0 or -1 (*e). */
static int bridge_history_parse(struct bridge_history_req *r,
                                xmpp_stanza_t *query,
                                const struct store_account *a, const char *cj,
                                struct bridge_history_err *e)
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
        return bridge_history_fail(e, "cancel", "item-not-found",
                                   "Not a WhatsApp contact");
    r->queryid = xmpp_stanza_get_attribute(query, "queryid");
    if (r->queryid != NULL && strlen(r->queryid) > BRIDGE_HISTORY_QUERYID_MAX)
        return bridge_history_fail(e, "modify", "bad-request",
                                   "queryid is too long");
    if (bridge_history_form(r, xmpp_stanza_get_child_by_ns(query, NS_DATA), e) <
        0)
        return -1;
    return bridge_history_rsm(r, xmpp_stanza_get_child_by_ns(query, NS_RSM), e);
}

/* Answers a get with the query's form. */
static void bridge_history_fields(xmpp_stanza_t *iq)
{
    static const char *const vars[] = {"with", "start", "end"};
    xmpp_stanza_t *q = component_elem(NULL, "query", NS_MAM), *x, *f;
    size_t i;

    x = component_elem(q, "x", NS_DATA);
    xmpp_stanza_set_type(x, "form");
    f = component_elem(x, "field", NULL);
    xmpp_stanza_set_attribute(f, "var", "FORM_TYPE");
    xmpp_stanza_set_type(f, "hidden");
    component_text_elem(f, "value", NS_MAM);
    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        f = component_elem(x, "field", NULL);
        xmpp_stanza_set_attribute(f, "var", vars[i]);
        xmpp_stanza_set_type(f, i == 0 ? "jid-single" : "text-single");
    }
    component_iq_result(iq, q);
    xmpp_stanza_release(q);
}

/* XEP-0313 on a contact JID: the owner and members of the account's team
 * read the conversation's history; anyone else is refused. */
static int bridge_history_iq(xmpp_stanza_t *iq, xmpp_stanza_t *query, void *arg)
{
    const char *to = xmpp_stanza_get_to(iq);
    struct bridge_history_req r = {{0}, NULL, NULL};
    struct bridge_history_err e = {0};
    struct store_account *a;
    char *reader, *cj;

    if (to == NULL || strchr(to, '@') == NULL ||
        strcmp(xmpp_stanza_get_name(query), "query") != 0)
        return 0;
    if (strcmp(xmpp_stanza_get_type(iq), "get") == 0) {
        bridge_history_fields(iq);
        return 1;
    }
    reader = jid_bare(xmpp_stanza_get_from(iq));
    cj = jid_bare(to);
    a = bridge_history_account(reader);
    if (a == NULL || cj == NULL)
        bridge_history_fail(&e, "auth", "forbidden",
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
