/* SPDX-License-Identifier: MIT */
/* Message templates and the window (issue 16): past the back end's window
 * after a contact's last message only a template reaches the contact, so
 * a free-form message is refused at once with the time since that message;
 * /templates lists the business account's approved templates and
 * /template sends one, its filled-in text copied to the team and its
 * statuses told to whoever sent it as for any message. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bridge_core.h"
#include "bridge_history.h"
#include "bridge_stat.h"
#include "bridge_team.h"
#include "bridge_tpl.h"
#include "component.h"
#include "jid.h"
#include "log.h"
#include "message.h"
#include "net_backend.h"
#include "settings.h"
#include "store.h"
#include "util.h"

#define BRIDGE_TPL_MAX_PARAMS 16
#define BRIDGE_TPL_MAX_WORDS 32   /* name, language, parameters, options */
#define BRIDGE_TPL_MAX_BUTTONS 10 /* a template has at most 10 */
#define BRIDGE_TPL_LINK_MAX 2048  /* bytes of a header's link */
#define BRIDGE_TPL_LIST_MAX 3900  /* bytes of the /templates lines */
#define BRIDGE_TPL_TEXT_MAX 8192  /* bytes of a filled-in template */

#define BRIDGE_TPL_HOWTO                                                       \
    "/templates lists the approved templates; /template <name> [language] "    \
    "[parameters...] sends one (its body's parameters in order; quote one "    \
    "with spaces: \"like this\"; header=<text or link> and "                   \
    "button<n>=<value> when the template takes them)"

/* A command in flight: who asked, about which conversation. */
struct bridge_tpl_req {
    long long account_id, contact_id;
    char *to;                          /* the full JID that asked */
    char *writer;                      /* its bare JID */
    char *args[BRIDGE_TPL_MAX_WORDS];  /* name, then the rest */
    char quoted[BRIDGE_TPL_MAX_WORDS]; /* the word was in quotes */
    size_t nargs;
    char *rendered; /* a send: the text the contact reads */
    /* a send: the command's stanza (its id, what it asked for) and the
     * message row its statuses and failure are traced back through */
    char *stanza_id;
    int want_receipt, markable;
    long long message_id;
};

/* A send's parameters sorted out of the words (borrowed from them). */
struct bridge_tpl_form {
    const char *params[BRIDGE_TPL_MAX_WORDS]; /* the body's, in order */
    size_t nparams;
    const char *header;                          /* header=, or NULL */
    const char *buttons[BRIDGE_TPL_MAX_BUTTONS]; /* button<n>=, by index */
};

static void bridge_tpl_req_free(struct bridge_tpl_req *r)
{
    size_t i;

    for (i = 0; i < r->nargs; i++)
        free(r->args[i]);
    free(r->to);
    free(r->writer);
    free(r->rendered);
    free(r->stanza_id);
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
            r->quoted[r->nargs] = 1;
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
                             size_t nkeys, const char *const *params,
                             size_t nparams)
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

/* 1 when the template's header takes a parameter: a file, or a text
 * with a placeholder. */
static int bridge_tpl_header_param(const struct net_template *t)
{
    if (t->header_kind == NULL)
        return 0;
    if (strcmp(t->header_kind, "text") != 0)
        return 1;
    return t->header != NULL && strstr(t->header, "{{") != NULL;
}

/* 1 when ferry can give a header of kind k its parameter. */
static int bridge_tpl_header_ok(const char *k)
{
    return strcmp(k, "text") == 0 || strcmp(k, "image") == 0 ||
           strcmp(k, "video") == 0 || strcmp(k, "document") == 0;
}

/* 1 when the button takes a parameter; 2 when it must have one. */
static int bridge_tpl_button_param(const struct net_template_button *b)
{
    if (strcmp(b->kind, "url") == 0)
        return b->variable ? 2 : 0;
    if (strcmp(b->kind, "copy_code") == 0)
        return 2;
    return strcmp(b->kind, "quick_reply") == 0;
}

/* What else than its body's parameters t takes, in the words of the
 * command (" header=<image link> button1=<end of the link>"), into b. */
static void bridge_tpl_wants(const struct net_template *t, struct buf *b)
{
    size_t i;
    int p;

    if (bridge_tpl_header_param(t) && !bridge_tpl_header_ok(t->header_kind))
        buf_appendf(b, " a %s header, not sendable from here", t->header_kind);
    else if (bridge_tpl_header_param(t))
        buf_appendf(b, " header=<%s%s>", t->header_kind,
                    strcmp(t->header_kind, "text") == 0 ? "" : " link");
    for (i = 0; i < t->nbuttons && i < BRIDGE_TPL_MAX_BUTTONS; i++) {
        p = bridge_tpl_button_param(&t->buttons[i]);
        if (p == 0)
            continue;
        buf_appendf(b, " %sbutton%zu=<%s>%s", p == 1 ? "[" : "", i + 1,
                    strcmp(t->buttons[i].kind, "url") == 0 ? "end of the link"
                    : p == 1                               ? "payload"
                                                           : "code",
                    p == 1 ? "]" : "");
    }
}

/* What the contact reads: header, body and footer, one a line (a file
 * header as "[image] <link>"), then the buttons' labels. */
static char *bridge_tpl_render(const struct net_template *t,
                               const struct bridge_tpl_form *f, char **keys,
                               size_t nkeys)
{
    struct buf b;
    char *s, *hkeys[1];
    size_t i, nh = 0;

    buf_init(&b, BRIDGE_TPL_TEXT_MAX);
    if (t->header_kind != NULL && strcmp(t->header_kind, "text") != 0 &&
        f->header != NULL)
        buf_appendf(&b, "[%s] %s", t->header_kind, f->header);
    else if (t->header != NULL && t->header[0] != '\0') {
        nh = bridge_tpl_keys(t->header, hkeys, 1);
        s = bridge_tpl_fill(t->header, t->named, hkeys, nh, &f->header,
                            f->header != NULL);
        buf_appendf(&b, "%s", s);
        free(s);
    }
    if (t->body != NULL && t->body[0] != '\0') {
        s = bridge_tpl_fill(t->body, t->named, keys, nkeys, f->params,
                            f->nparams);
        buf_appendf(&b, "%s%s", b.len > 0 ? "\n" : "", s);
        free(s);
    }
    if (t->footer != NULL && t->footer[0] != '\0')
        buf_appendf(&b, "%s%s", b.len > 0 ? "\n" : "", t->footer);
    for (i = 0; i < t->nbuttons; i++)
        buf_appendf(&b, "%s%s", i == 0 ? (b.len > 0 ? "\n[" : "[") : " | ",
                    t->buttons[i].text ? t->buttons[i].text
                                       : t->buttons[i].kind);
    if (t->nbuttons > 0)
        buf_appendf(&b, "]");
    for (i = 0; i < nh; i++)
        free(hkeys[i]);
    return buf_take(&b);
}

/* ---- /templates ---- */

/* Answers r with the approved templates, one a line. */
static void bridge_tpl_listed(const struct net_result *res,
                              const struct net_template *t, size_t n, void *arg)
{
    struct bridge_tpl_req *r = arg;
    struct buf b, wants;
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
        buf_init(&wants, BRIDGE_TPL_LIST_MAX);
        bridge_tpl_wants(&t[i], &wants);
        line = xasprintf("\n%s %s (%s, %zu parameter%s%s%s): %s", t[i].name,
                         t[i].language, t[i].category ? t[i].category : "-", nk,
                         nk == 1 ? "" : "s", wants.len > 0 ? ";" : "",
                         wants.len > 0 ? wants.data : "",
                         t[i].body ? t[i].body : "");
        buf_reset(&wants);
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

/* A status of the template that raced ahead of the send's answer. */
static void bridge_tpl_early(int status, int code, const char *text, void *arg)
{
    struct store_message *m =
        store_message_by_id(bridge_store(), *(long long *)arg);

    if (m != NULL)
        bridge_apply_status(m, status, code, text);
    store_message_free(m);
}

/* The message row of a send, so that its statuses (receipts, markers, a
 * failure) reach the writer like those of any message; 0 or -1. */
static int bridge_tpl_message(struct bridge_tpl_req *r)
{
    struct store_message m = {.account_id = r->account_id,
                              .contact_id = r->contact_id,
                              .direction = 'o',
                              .stanza_id = r->stanza_id,
                              .sender = r->to,
                              .status = STORE_STATUS_QUEUED,
                              .want_receipt = r->want_receipt,
                              .want_markers = r->markable};

    r->message_id = bridge_message_add(&m, r->rendered);
    return r->message_id > 0 ? 0 : -1;
}

/* The network took the template as id: recorded on its message row, with
 * the statuses that came first and the team's history. */
static void bridge_tpl_took(const struct bridge_tpl_req *r,
                            const struct store_account *a, const char *id)
{
    long long mid = r->message_id;
    int rc = id != NULL ? store_message_sent(bridge_store(), mid, id) : 0;

    if (rc < 0)
        log_warn("bridge: template %s of %s sent, but its id not stored: "
                 "its statuses will not be told",
                 r->args[0], a->jid);
    if (rc != 1)
        return;
    store_early_status_take(bridge_store(), a->id, id, bridge_tpl_early, &mid);
    bridge_history_out(a, r->contact_id, r->writer, r->stanza_id, r->rendered);
    bridge_history_sent(a->id, mid, id);
}

/* The send's outcome: the writer is told, the team gets the text. */
static void bridge_tpl_sent(const struct net_result *res, void *arg)
{
    struct bridge_tpl_req *r = arg;
    struct store_account *a;
    char *text;

    store_txn_begin(bridge_store());
    if (res->outcome != NET_OK) {
        store_message_set_status(bridge_store(), r->message_id,
                                 STORE_STATUS_FAILED);
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
        bridge_tpl_took(r, a, res->id);
        bridge_stat_replied(a, r->contact_id, r->writer);
        bridge_team_wrote(a, r->contact_id, r->writer, r->rendered);
    }
    store_account_free(a);
    bridge_tpl_req_free(r);
}

/* Sorts the words from r->args[first] into f: header=, button<n>= (not
 * in quotes) and the body's parameters. NULL, or why not (caller
 * frees). */
static char *bridge_tpl_form_of(const struct bridge_tpl_req *r, size_t first,
                                struct bridge_tpl_form *f)
{
    const char *w;
    char *end;
    long n;
    size_t i;

    memset(f, 0, sizeof(*f));
    for (i = first; i < r->nargs; i++) {
        w = r->args[i];
        if (!r->quoted[i] && strncmp(w, "header=", 7) == 0) {
            if (f->header != NULL)
                return xstrdup("header= is given twice");
            if (w[7] == '\0')
                return xstrdup("header= has no value");
            f->header = w + 7;
            continue;
        }
        if (r->quoted[i] || strncmp(w, "button", 6) != 0 || w[6] < '0' ||
            w[6] > '9') {
            f->params[f->nparams++] = w;
            continue;
        }
        n = strtol(w + 6, &end, 10);
        if (*end != '=') {
            f->params[f->nparams++] = w;
            continue;
        }
        if (n < 1 || n > BRIDGE_TPL_MAX_BUTTONS)
            return xasprintf("a template has no button %ld (buttons are "
                             "numbered from 1)",
                             n);
        if (f->buttons[n - 1] != NULL)
            return xasprintf("button%ld= is given twice", n);
        if (end[1] == '\0')
            return xasprintf("button%ld= has no value", n);
        f->buttons[n - 1] = end + 1;
    }
    return NULL;
}

/* 1 when a header's file is given as a link or a media id. */
static int bridge_tpl_link_ok(const char *v)
{
    size_t n = strlen(v);

    if (n > 0 && n <= 32 && strspn(v, "0123456789") == n)
        return 1;
    return n <= BRIDGE_TPL_LINK_MAX &&
           (strncmp(v, "https://", 8) == 0 || strncmp(v, "http://", 7) == 0) &&
           strcspn(v, " \t\n\"<>") == n;
}

/* Why the header parameter of f does not fit t, or NULL (caller frees). */
static char *bridge_tpl_check_header(const struct net_template *t,
                                     const struct bridge_tpl_form *f)
{
    int takes = bridge_tpl_header_param(t);
    const char *k = t->header_kind;

    if (f->header != NULL && !takes)
        return xasprintf("%s has no header parameter", t->name);
    if (!takes)
        return NULL;
    if (!bridge_tpl_header_ok(k))
        return xasprintf("%s has a %s header, which cannot be given from "
                         "here",
                         t->name, k);
    if (f->header == NULL)
        return xasprintf("%s needs its header: header=<%s%s>", t->name, k,
                         strcmp(k, "text") == 0 ? "" : " link");
    if (strcmp(k, "text") != 0 && !bridge_tpl_link_ok(f->header))
        return xasprintf("header= takes the %s's https link (or its media "
                         "id)",
                         k);
    return NULL;
}

/* Why the button parameters of f do not fit t, or NULL (caller
 * frees). */
static char *bridge_tpl_check_buttons(const struct net_template *t,
                                      const struct bridge_tpl_form *f)
{
    const struct net_template_button *b;
    size_t i;
    int p;

    for (i = 0; i < BRIDGE_TPL_MAX_BUTTONS; i++) {
        b = i < t->nbuttons ? &t->buttons[i] : NULL;
        p = b != NULL ? bridge_tpl_button_param(b) : 0;
        if (f->buttons[i] != NULL && b == NULL)
            return xasprintf("%s has %zu button%s, not %zu", t->name,
                             t->nbuttons, t->nbuttons == 1 ? "" : "s", i + 1);
        if (f->buttons[i] != NULL && p == 0)
            return xasprintf("button %zu of %s (%s \"%s\") takes no "
                             "parameter",
                             i + 1, t->name, b->kind, b->text ? b->text : "");
        if (f->buttons[i] == NULL && p == 2)
            return xasprintf(
                "button %zu of %s (%s \"%s\") needs its "
                "parameter: button%zu=<%s>",
                i + 1, t->name, b->kind, b->text ? b->text : "", i + 1,
                strcmp(b->kind, "url") == 0 ? "end of the link" : "code");
    }
    return NULL;
}

/* why (taken), then template t's usage (nk placeholders in its body).
 * Caller frees. */
static char *bridge_tpl_usage(const struct net_template *t, size_t nk,
                              char *why)
{
    char *text;
    struct buf wants;

    buf_init(&wants, BRIDGE_TPL_LIST_MAX);
    bridge_tpl_wants(t, &wants);
    text = xasprintf("%s. Usage: /template %s %s%s%s", why, t->name,
                     t->language, nk > 0 ? " <body parameters>" : "",
                     wants.data ? wants.data : "");
    buf_reset(&wants);
    free(why);
    return text;
}

/* Why f does not fit template t (nk placeholders in its body), or NULL
 * when it does (caller frees). */
static char *bridge_tpl_check(const struct net_template *t,
                              const struct bridge_tpl_form *f, size_t nk)
{
    char *why = NULL;

    if (f->nparams != nk)
        why = xasprintf("%s takes %zu body parameter%s, not %zu", t->name, nk,
                        nk == 1 ? "" : "s", f->nparams);
    if (why == NULL)
        why = bridge_tpl_check_header(t, f);
    if (why == NULL)
        why = bridge_tpl_check_buttons(t, f);
    return why;
}

/* The buttons' parameters of f for a send, into b; their number. */
static size_t bridge_tpl_buttons(const struct net_template *t,
                                 const struct bridge_tpl_form *f,
                                 struct net_button_param *b)
{
    size_t i, n = 0;

    for (i = 0; i < t->nbuttons && i < BRIDGE_TPL_MAX_BUTTONS; i++) {
        if (f->buttons[i] == NULL)
            continue;
        b[n].kind = t->buttons[i].kind;
        b[n].index = i;
        b[n++].value = f->buttons[i];
    }
    return n;
}

/* Sends template t (NULL: unknown here; the network judges) with the
 * parameters from r->args[first], once they fit it. */
static void bridge_tpl_send(struct bridge_tpl_req *r,
                            const struct net_template *t, size_t first)
{
    struct store_account *a =
        store_account_by_id(bridge_store(), r->account_id);
    struct store_contact *c =
        store_contact_by_id(bridge_store(), r->contact_id);
    char *keys[BRIDGE_TPL_MAX_PARAMS], *hkeys[1], *why;
    size_t nk = 0, nh = 0, i;
    struct net_out out = {.kind = "template", .template_name = r->args[0]};
    struct net_button_param buttons[BRIDGE_TPL_MAX_BUTTONS];
    struct bridge_tpl_form f;
    struct net_account na;

    if (a == NULL || c == NULL)
        goto out;
    if (t != NULL && t->body != NULL)
        nk = bridge_tpl_keys(t->body, keys, BRIDGE_TPL_MAX_PARAMS);
    if (t == NULL && r->nargs > 1 && bridge_tpl_is_language(r->args[1]))
        first = 2;
    why = bridge_tpl_form_of(r, first, &f);
    if (why == NULL && t == NULL &&
        (f.header != NULL || f.nparams < r->nargs - first))
        why = xasprintf("%s is not among the business account's templates, "
                        "so its header and buttons cannot be checked: "
                        "/templates lists them",
                        r->args[0]);
    if (why == NULL && t != NULL)
        why = bridge_tpl_check(t, &f, nk);
    if (why != NULL && t != NULL)
        why = bridge_tpl_usage(t, nk, why);
    if (why != NULL) {
        r->rendered = xasprintf("[template] Not sent: %s", why);
        bridge_tpl_answer(r, r->rendered);
        log_info("bridge: template %s of %s refused: %s", r->args[0], a->jid,
                 "parameters do not fit");
        free(why);
        goto out;
    }
    r->rendered =
        t != NULL ? bridge_tpl_render(t, &f, keys, nk) : xstrdup(r->args[0]);
    if (bridge_tpl_message(r) < 0) {
        bridge_tpl_answer(r, "[template] Not sent: the gateway could not "
                             "store it; try again later");
        goto out;
    }
    out.language = t != NULL ? t->language : first == 2 ? r->args[1] : "en_US";
    out.to = c->network_id;
    out.params = f.params;
    out.nparams = f.nparams;
    out.param_names = t != NULL && t->named ? (const char *const *)keys : NULL;
    if (t != NULL && f.header != NULL) {
        out.header_kind = t->header_kind;
        out.header_value = f.header;
        if (t->named && strcmp(t->header_kind, "text") == 0)
            nh = bridge_tpl_keys(t->header, hkeys, 1);
        out.header_name = nh > 0 ? hkeys[0] : NULL;
    }
    if (t != NULL) {
        out.nbuttons = bridge_tpl_buttons(t, &f, buttons);
        out.buttons = buttons;
    }
    na.id = a->network_id;
    na.token = a->token;
    log_info("bridge: template %s of %s sent (%zu parameter(s))", r->args[0],
             a->jid, out.nparams);
    bridge_backend_of(a)->send(&na, &out, bridge_tpl_sent, r);
    r = NULL;
    for (i = 0; i < nh; i++)
        free(hkeys[i]);
out:
    for (i = 0; i < nk; i++)
        free(keys[i]);
    if (r != NULL)
        bridge_tpl_req_free(r);
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

    store_txn_begin(bridge_store());
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
    r->stanza_id = in->id != NULL ? xstrdup(in->id) : NULL;
    r->want_receipt = in->want_receipt && bridge_setting(a, SETTINGS_RECEIPTS);
    r->markable = in->markable;
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
