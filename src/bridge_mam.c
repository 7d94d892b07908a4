/* SPDX-License-Identifier: MIT */
/* What the bridge's XEP-0313 archives share (a team's conversations,
 * bridge_history.c; rooms, bridge_muc_mam.c): a query's form (start, end,
 * with) and XEP-0059 set (max, after, before) read and checked, the form
 * answered to a get, the <fin/> of a page and one result sent. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge_mam.h"
#include "component.h"
#include "util.h"

#define NS_RSM "http://jabber.org/protocol/rsm"
#define NS_FORWARD "urn:xmpp:forward:0"
#define NS_DELAY "urn:xmpp:delay"
#define NS_DATA "jabber:x:data"
#define BRIDGE_MAM_QUERYID_MAX 256

/* The text of e's first child ("" when none). */
static const char *bridge_mam_text(xmpp_stanza_t *e)
{
    xmpp_stanza_t *t = e ? xmpp_stanza_get_children(e) : NULL;
    const char *s =
        t && xmpp_stanza_is_text(t) ? xmpp_stanza_get_text_ptr(t) : NULL;

    return s ? s : "";
}

int bridge_mam_fail(struct bridge_mam_err *e, const char *type,
                    const char *cond, const char *text)
{
    e->type = type;
    e->cond = cond;
    e->text = text;
    return -1;
}

/* One field of the query's form; 0 or -1 (*e says why). */
static int bridge_mam_field(struct bridge_mam_query *q, const char *var,
                            const char *value, struct bridge_mam_err *e)
{
    long long *t = NULL;

    if (strcmp(var, "FORM_TYPE") == 0) {
        if (strcmp(value, NS_MAM) != 0)
            return bridge_mam_fail(e, "modify", "bad-request",
                                   "FORM_TYPE is not " NS_MAM);
        return 0;
    }
    if (strcmp(var, "with") == 0) {
        q->with = value;
        return 0;
    }
    if (strcmp(var, "start") == 0)
        t = &q->start_ms;
    else if (strcmp(var, "end") == 0)
        t = &q->end_ms;
    else
        return bridge_mam_fail(e, "cancel", "feature-not-implemented",
                               "Unknown field: only start, end and with");
    *t = time_parse_xmpp(value);
    if (*t < 0)
        return bridge_mam_fail(e, "modify", "bad-request",
                               "start and end are XEP-0082 DateTimes");
    return 0;
}

/* The query's data form (x, or NULL); 0 or -1. */
static int bridge_mam_form(struct bridge_mam_query *q, xmpp_stanza_t *x,
                           struct bridge_mam_err *e)
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
            return bridge_mam_fail(e, "modify", "bad-request",
                                   "A field without var");
        if (bridge_mam_field(
                q, var,
                bridge_mam_text(xmpp_stanza_get_child_by_name(f, "value")),
                e) < 0)
            return -1;
    }
    return 0;
}

/* An RSM id into its archive row; 0 or -1. */
static int bridge_mam_row(const char *text, bridge_mam_row_fn row_of, void *arg,
                          long long *row, struct bridge_mam_err *e)
{
    if (text[0] == '\0' || row_of(text, row, arg) < 0)
        return bridge_mam_fail(e, "cancel", "item-not-found",
                               "No such message in this archive");
    return 0;
}

/* The XEP-0059 set (NULL: none) of a query; 0 or -1. */
static int bridge_mam_rsm(struct bridge_mam_query *q, xmpp_stanza_t *set,
                          bridge_mam_row_fn row_of, void *arg,
                          struct bridge_mam_err *e)
{
    xmpp_stanza_t *max = NULL, *after = NULL, *before = NULL;
    long long n = BRIDGE_MAM_PAGE_MAX;

    if (set != NULL) {
        max = xmpp_stanza_get_child_by_name(set, "max");
        after = xmpp_stanza_get_child_by_name(set, "after");
        before = xmpp_stanza_get_child_by_name(set, "before");
        if (xmpp_stanza_get_child_by_name(set, "index") != NULL)
            return bridge_mam_fail(e, "cancel", "feature-not-implemented",
                                   "Paging by index is not supported");
    }
    if (max != NULL && parse_ll(bridge_mam_text(max), 0, INT32_MAX, &n) < 0)
        return bridge_mam_fail(e, "modify", "bad-request",
                               "max is not a number");
    q->max = (size_t)(n < BRIDGE_MAM_PAGE_MAX ? n : BRIDGE_MAM_PAGE_MAX);
    if (after != NULL &&
        bridge_mam_row(bridge_mam_text(after), row_of, arg, &q->after, e) < 0)
        return -1;
    if (before == NULL)
        return 0;
    q->last = 1;
    if (bridge_mam_text(before)[0] == '\0')
        return 0; /* <before/>: the last page */
    return bridge_mam_row(bridge_mam_text(before), row_of, arg, &q->before, e);
}

int bridge_mam_parse(xmpp_stanza_t *query, bridge_mam_row_fn row_of, void *arg,
                     struct bridge_mam_query *q, struct bridge_mam_err *e)
{
    memset(q, 0, sizeof(*q));
    q->queryid = xmpp_stanza_get_attribute(query, "queryid");
    if (q->queryid != NULL && strlen(q->queryid) > BRIDGE_MAM_QUERYID_MAX)
        return bridge_mam_fail(e, "modify", "bad-request",
                               "queryid is too long");
    if (bridge_mam_form(q, xmpp_stanza_get_child_by_ns(query, NS_DATA), e) < 0)
        return -1;
    return bridge_mam_rsm(q, xmpp_stanza_get_child_by_ns(query, NS_RSM), row_of,
                          arg, e);
}

void bridge_mam_fields(xmpp_stanza_t *iq)
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

xmpp_stanza_t *bridge_mam_fin(const struct bridge_mam_query *q,
                              const char *first, const char *last,
                              long long count, int complete)
{
    xmpp_stanza_t *fin = component_elem(NULL, "fin", NS_MAM), *set;
    char s[24];

    if (q->queryid != NULL)
        xmpp_stanza_set_attribute(fin, "queryid", q->queryid);
    if (complete)
        xmpp_stanza_set_attribute(fin, "complete", "true");
    set = component_elem(fin, "set", NS_RSM);
    if (first != NULL && last != NULL) {
        component_text_elem(set, "first", first);
        component_text_elem(set, "last", last);
    }
    snprintf(s, sizeof(s), "%lld", count < 0 ? 0 : count);
    component_text_elem(set, "count", s);
    return fin;
}

void bridge_mam_send(const char *to, const char *from, const char *queryid,
                     const char *id, long long stamp_ms, const char *inner)
{
    xmpp_stanza_t *m = component_elem(NULL, "message", NULL), *r, *f, *in;
    char *mid = component_new_id(), stamp[40];

    in = xmpp_stanza_new_from_string(component_ctx(), inner);
    xmpp_stanza_set_to(m, to);
    xmpp_stanza_set_from(m, from);
    xmpp_stanza_set_id(m, mid);
    r = component_elem(m, "result", NS_MAM);
    if (queryid != NULL)
        xmpp_stanza_set_attribute(r, "queryid", queryid);
    xmpp_stanza_set_attribute(r, "id", id);
    f = component_elem(r, "forwarded", NS_FORWARD);
    time_format_xmpp(stamp_ms, stamp, sizeof(stamp));
    xmpp_stanza_set_attribute(component_elem(f, "delay", NS_DELAY), "stamp",
                              stamp);
    if (in != NULL) {
        xmpp_stanza_set_ns(in, "jabber:client");
        xmpp_stanza_add_child_ex(f, in, 0);
        component_send(m);
    }
    xmpp_stanza_release(m);
    free(mid);
}
