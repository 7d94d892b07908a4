/* SPDX-License-Identifier: MIT */
/* Message templates and the window (issue 16): past the back end's window
 * after a contact's last message only a template reaches the contact, so
 * a free-form message is refused at once with the time since that message;
 * /templates lists the business account's approved templates and
 * /template sends one, its filled-in text copied to the team. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bridge_core.h"
#include "bridge_stat.h"
#include "bridge_team.h"
#include "bridge_tpl.h"
#include "component.h"
#include "jid.h"
#include "log.h"
#include "message.h"
#include "net_backend.h"
#include "store.h"
#include "util.h"

#define BRIDGE_TPL_MAX_PARAMS 16
#define BRIDGE_TPL_LIST_MAX 3900 /* bytes of the /templates lines */
#define BRIDGE_TPL_TEXT_MAX 8192 /* bytes of a filled-in template */

#define BRIDGE_TPL_HOWTO                                                       \
    "/templates lists the approved templates; /template <name> [language] "    \
    "[parameters...] sends one (its body's parameters in order; quote one "    \
    "with spaces: \"like this\")"

/* A command in flight: who asked, about which conversation. */
struct bridge_tpl_req {
    long long account_id, contact_id;
    char *to;                              /* the full JID that asked */
    char *writer;                          /* its bare JID */
    char *args[BRIDGE_TPL_MAX_PARAMS + 2]; /* name, then the rest */
    size_t nargs;
    char *rendered; /* a send: the text the contact reads */
};

static void bridge_tpl_req_free(struct bridge_tpl_req *r)
{
    size_t i;

    for (i = 0; i < r->nargs; i++)
        free(r->args[i]);
    free(r->to);
    free(r->writer);
    free(r->rendered);
    free(r);
}

/* Sends text from the contact to whoever asked. */
static void bridge_tpl_answer(const struct bridge_tpl_req *r, const char *text)
{
    struct store_contact *c =
        store_contact_by_id(bridge_store(), r->contact_id);
    char *cj, *id;

    if (c == NULL)
        return;
    cj = bridge_contact_jid(c);
    id = component_new_id();
    bridge_inbox(r->account_id, r->to, NULL,
                 message_chat_xml(cj, r->to, id, text));
    free(id);
    free(cj);
    store_contact_free(c);
}

int bridge_tpl_closed(xmpp_stanza_t *st, const struct message_in *in,
                      const struct store_account *a, long long last_in_at)
{
    const struct net_backend *be = bridge_backend_of(a);
    long long since = last_in_at > 0 ? now_s() - last_in_at : -1;
    char ago[48], *why;

    if (be->caps.window <= 0 ||
        (in->body == NULL && in->oob_url == NULL && in->reactions_id == NULL))
        return 0;
    if (since <= be->caps.window)
        return 0;
    duration_words(since, ago, sizeof(ago));
    why = xasprintf(
        "Not sent: the customer last wrote %s ago, and past %lld h only a "
        "template message reaches them. %s",
        ago, be->caps.window / 3600,
        be->templates != NULL ? BRIDGE_TPL_HOWTO
                              : "Wait until the customer writes again");
    message_error_reply(st, "modify", "not-acceptable", why);
    log_info("bridge: a message of %s refused: outside the window", a->jid);
    free(why);
    return 1;
}

void bridge_tpl_business(const struct store_account *a, const char *business)
{
    char *known;

    if (business == NULL || business[0] == '\0')
        return;
    known = store_account_business(bridge_store(), a->id);
    if (known == NULL || strcmp(known, business) != 0) {
        store_account_set_business(bridge_store(), a->id, business);
        log_info("bridge: account %lld belongs to business account %s", a->id,
                 business);
    }
    free(known);
}

/* ---- the arguments ---- */

/* Splits text into words (a word in double quotes may hold spaces) into
 * r->args; -1 when there are too many. */
static int bridge_tpl_split(struct bridge_tpl_req *r, const char *text)
{
    const char *p = text, *end;

    for (;;) {
        p += strspn(p, " \t\n");
        if (*p == '\0')
            return 0;
        if (r->nargs == sizeof(r->args) / sizeof(r->args[0]))
            return -1;
        if (*p == '"' && (end = strchr(p + 1, '"')) != NULL) {
            r->args[r->nargs++] = xstrndup(p + 1, (size_t)(end - p - 1));
            p = end + 1;
        } else {
            end = p + strcspn(p, " \t\n");
            r->args[r->nargs++] = xstrndup(p, (size_t)(end - p));
            p = end;
        }
    }
}

/* ---- rendering ---- */

/* The placeholders of text in order of first appearance ("1", "name"):
 * up to max, each allocated; their number. */
static size_t bridge_tpl_keys(const char *text, char **keys, size_t max)
{
    const char *p = text, *open, *close;
    size_t n = 0, i;
    char *k;

    while (p != NULL && (open = strstr(p, "{{")) != NULL &&
           (close = strstr(open + 2, "}}")) != NULL) {
        k = xstrndup(open + 2, (size_t)(close - open - 2));
        for (i = 0; i < n && strcmp(keys[i], k) != 0; i++)
            ;
        if (i < n || n == max)
            free(k);
        else
            keys[n++] = k;
        p = close + 2;
    }
    return n;
}

/* text with each placeholder filled (positional: {{n}} is params[n-1];
 * named: the names in keys take params in order); caller frees. */
static char *bridge_tpl_fill(const char *text, int named, char **keys,
                             size_t nkeys, char **params, size_t nparams)
{
    struct buf b;
    const char *p = text, *open, *close;
    size_t i;
    long n;
    char *k, *endp;

    buf_init(&b, BRIDGE_TPL_TEXT_MAX);
    while ((open = strstr(p, "{{")) != NULL &&
           (close = strstr(open + 2, "}}")) != NULL) {
        buf_append(&b, p, (size_t)(open - p));
        k = xstrndup(open + 2, (size_t)(close - open - 2));
        i = nparams;
        if (named) {
            for (i = 0; i < nkeys && strcmp(keys[i], k) != 0; i++)
                ;
        } else {
            n = strtol(k, &endp, 10);
            if (*endp == '\0' && n > 0)
                i = (size_t)(n - 1);
        }
        if (i < nparams)
            buf_appendf(&b, "%s", params[i]);
        else
            buf_append(&b, open, (size_t)(close + 2 - open));
        free(k);
        p = close + 2;
    }
    buf_appendf(&b, "%s", p);
    return buf_take(&b);
}

/* What the contact reads: header, body and footer, one a line. */
static char *bridge_tpl_render(const struct net_template *t, char **keys,
                               size_t nkeys, char **params, size_t nparams)
{
    const char *parts[3] = {t->header, t->body, t->footer};
    struct buf b;
    char *s;
    size_t i;

    buf_init(&b, BRIDGE_TPL_TEXT_MAX);
    for (i = 0; i < 3; i++) {
        if (parts[i] == NULL || parts[i][0] == '\0')
            continue;
        s = bridge_tpl_fill(parts[i], t->named, keys, nkeys, params, nparams);
        buf_appendf(&b, "%s%s", b.len > 0 ? "\n" : "", s);
        free(s);
    }
    return buf_take(&b);
}

/* ---- /templates ---- */

/* Answers r with the approved templates, one a line. */
static void bridge_tpl_listed(const struct net_result *res,
                              const struct net_template *t, size_t n, void *arg)
{
    struct bridge_tpl_req *r = arg;
    struct buf b;
    char *keys[BRIDGE_TPL_MAX_PARAMS], *text, *line;
    size_t i, k, nk, shown = 0, approved = 0;

    store_txn_begin(bridge_store());
    if (res->outcome != NET_OK) {
        text = xasprintf("[template] The templates could not be listed: %s",
                         res->text ? res->text : "no reason given");
        bridge_tpl_answer(r, text);
        free(text);
        bridge_tpl_req_free(r);
        return;
    }
    buf_init(&b, BRIDGE_TPL_LIST_MAX + 64); /* and the "more" line */
    for (i = 0; i < n; i++) {
        if (t[i].status == NULL || strcasecmp(t[i].status, "APPROVED") != 0)
            continue;
        approved++;
        nk = t[i].body ? bridge_tpl_keys(t[i].body, keys, BRIDGE_TPL_MAX_PARAMS)
                       : 0;
        for (k = 0; k < nk; k++)
            free(keys[k]);
        line = xasprintf("\n%s %s (%s, %zu parameter%s): %s", t[i].name,
                         t[i].language, t[i].category ? t[i].category : "-", nk,
                         nk == 1 ? "" : "s", t[i].body ? t[i].body : "");
        if (shown == approved - 1 &&
            b.len + strlen(line) <= BRIDGE_TPL_LIST_MAX)
            shown += buf_appendf(&b, "%s", line) == 0;
        free(line);
    }
    if (shown < approved)
        buf_appendf(&b, "\n... and %zu more", approved - shown);
    text = xasprintf("[template] %zu approved template%s:%s\n%s", approved,
                     approved == 1 ? "" : "s", b.data ? b.data : "",
                     BRIDGE_TPL_HOWTO);
    bridge_tpl_answer(r, text);
    free(text);
    buf_reset(&b);
    bridge_tpl_req_free(r);
}

/* ---- /template ---- */

/* 1 when s looks like a language code ("en", "en_US", "pt_BR"). */
static int bridge_tpl_is_language(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz");

    if (n < 2 || n > 3)
        return 0;
    if (s[n] == '\0')
        return 1;
    return s[n] == '_' && strlen(s + n + 1) == 2 &&
           strspn(s + n + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 2;
}

/* The template r asks for: by name, in the language given as its second
 * word when it is one of the name's languages (*first: the index of the
 * first parameter), else the name's first approved one. NULL if none. */
static const struct net_template *
bridge_tpl_pick(const struct bridge_tpl_req *r, const struct net_template *t,
                size_t n, size_t *first)
{
    const struct net_template *any = NULL;
    size_t i;

    *first = 1;
    for (i = 0; i < n; i++) {
        if (strcmp(t[i].name, r->args[0]) != 0)
            continue;
        if (r->nargs > 1 && strcmp(t[i].language, r->args[1]) == 0) {
            *first = 2;
            return &t[i];
        }
        if (any == NULL ||
            (t[i].status && strcasecmp(t[i].status, "APPROVED") == 0 &&
             (any->status == NULL || strcasecmp(any->status, "APPROVED"))))
            any = &t[i];
    }
    return any;
}

/* The send's outcome: the writer is told, the team gets the text. */
static void bridge_tpl_sent(const struct net_result *res, void *arg)
{
    struct bridge_tpl_req *r = arg;
    struct store_account *a;
    char *text;

    store_txn_begin(bridge_store());
    if (res->outcome != NET_OK) {
        text = xasprintf("[template] Not sent: %s",
                         res->text ? res->text : "no reason given");
        bridge_tpl_answer(r, text);
        free(text);
        bridge_tpl_req_free(r);
        return;
    }
    text = xasprintf("[template] Sent: %s", r->rendered);
    bridge_tpl_answer(r, text);
    free(text);
    a = store_account_by_id(bridge_store(), r->account_id);
    if (a != NULL) {
        bridge_stat_replied(a, r->contact_id, r->writer);
        bridge_team_wrote(a, r->contact_id, r->writer, r->rendered);
    }
    store_account_free(a);
    bridge_tpl_req_free(r);
}

/* Sends template t (NULL: unknown here; the network judges) with the
 * parameters from r->args[first]. */
static void bridge_tpl_send(struct bridge_tpl_req *r,
                            const struct net_template *t, size_t first)
{
    struct store_account *a =
        store_account_by_id(bridge_store(), r->account_id);
    struct store_contact *c =
        store_contact_by_id(bridge_store(), r->contact_id);
    char *keys[BRIDGE_TPL_MAX_PARAMS];
    size_t nk = 0, i;
    struct net_out out = {.kind = "template", .template_name = r->args[0]};
    struct net_account na;

    if (a == NULL || c == NULL) {
        store_account_free(a);
        store_contact_free(c);
        bridge_tpl_req_free(r);
        return;
    }
    if (t != NULL && t->body != NULL)
        nk = bridge_tpl_keys(t->body, keys, BRIDGE_TPL_MAX_PARAMS);
    if (t == NULL && r->nargs > 1 && bridge_tpl_is_language(r->args[1]))
        first = 2;
    out.language = t != NULL ? t->language : first == 2 ? r->args[1] : "en_US";
    out.to = c->network_id;
    out.params = (const char *const *)&r->args[first];
    out.nparams = r->nargs - first;
    out.param_names = t != NULL && t->named && out.nparams <= nk
                          ? (const char *const *)keys
                          : NULL;
    r->rendered =
        t != NULL ? bridge_tpl_render(t, keys, nk, &r->args[first], out.nparams)
                  : xstrdup(r->args[0]);
    na.id = a->network_id;
    na.token = a->token;
    log_info("bridge: template %s of %s sent (%zu parameter(s))", r->args[0],
             a->jid, out.nparams);
    bridge_backend_of(a)->send(&na, &out, bridge_tpl_sent, r);
    for (i = 0; i < nk; i++)
        free(keys[i]);
    store_contact_free(c);
    store_account_free(a);
}

/* The listing for a send arrived: the template is picked and sent. */
static void bridge_tpl_found(const struct net_result *res,
                             const struct net_template *t, size_t n, void *arg)
{
    struct bridge_tpl_req *r = arg;
    const struct net_template *pick;
    size_t first = 1;

    if (res->outcome != NET_OK) {
        bridge_tpl_listed(res, t, n, r);
        return;
    }
    pick = bridge_tpl_pick(r, t, n, &first);
    bridge_tpl_send(r, pick, first);
}

int bridge_tpl_command(const struct message_in *in,
                       const struct store_account *a, long long contact_id)
{
    const struct net_backend *be = bridge_backend_of(a);
    const char *w = in->body + 1;
    size_t n = strcspn(w, " \t\n");
    int list = n == 9 && strncasecmp(w, "templates", 9) == 0;
    struct bridge_tpl_req *r;
    struct net_account na = {.id = a->network_id, .token = a->token};
    char *business;

    if (be->templates == NULL ||
        (!list && !(n == 8 && strncasecmp(w, "template", 8) == 0)))
        return 0;
    r = xcalloc(1, sizeof(*r));
    r->account_id = a->id;
    r->contact_id = contact_id;
    r->to = xstrdup(in->from);
    r->writer = jid_bare(in->from);
    if (r->writer == NULL || bridge_tpl_split(r, w + n) < 0 ||
        (!list && r->nargs == 0)) {
        bridge_tpl_answer(r, "[template] Usage: " BRIDGE_TPL_HOWTO);
        bridge_tpl_req_free(r);
        return 1;
    }
    business = store_account_business(bridge_store(), a->id);
    be->templates(&na, business, list ? bridge_tpl_listed : bridge_tpl_found,
                  r);
    free(business);
    return 1;
}
