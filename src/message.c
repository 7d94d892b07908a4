/* SPDX-License-Identifier: MIT */
/* Reads users' message stanzas and writes the stanzas ferry sends, as XML
 * text so they can wait in the inbox table until the server confirms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component.h"
#include "log.h"
#include "message.h"
#include "util.h"

#define NS_RECEIPTS "urn:xmpp:receipts"
#define NS_MARKERS "urn:xmpp:chat-markers:0"
#define NS_SID "urn:xmpp:sid:0"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_DELAY "urn:xmpp:delay"
#define NS_HINTS "urn:xmpp:hints"
#define NS_REPLY "urn:xmpp:reply:0"
#define NS_FALLBACK "urn:xmpp:fallback:0"
#define NS_REACTIONS "urn:xmpp:reactions:0"
#define NS_CHATSTATES "http://jabber.org/protocol/chatstates"
#define NS_OOB "jabber:x:oob"
#define NS_CORRECT "urn:xmpp:message-correct:0"
#define NS_RETRACT "urn:xmpp:message-retract:1"
#define NS_RETRACT0 "urn:xmpp:message-retract:0"
#define NS_FASTEN "urn:xmpp:fasten:0"
#define NS_FORWARD "urn:xmpp:forward:0"
#define NS_CARBONS "urn:xmpp:carbons:2"
#define NS_CLIENT "jabber:client"
#define MESSAGE_RETRACT_FALLBACK                                               \
    "This person deleted a previous message (your client does not show "       \
    "deletions)."

/* The text directly inside element e ("" when it has none, or no e). */
static const char *message_text_of(xmpp_stanza_t *e)
{
    xmpp_stanza_t *t = e ? xmpp_stanza_get_children(e) : NULL;
    const char *s =
        t && xmpp_stanza_is_text(t) ? xmpp_stanza_get_text_ptr(t) : NULL;

    return s ? s : "";
}

/* A size_t attribute, or 0. */
static size_t message_attr_size(xmpp_stanza_t *e, const char *name)
{
    const char *v = xmpp_stanza_get_attribute(e, name);
    long long n;

    if (v == NULL || parse_ll(v, 0, MESSAGE_BODY_MAX, &n) < 0)
        return 0;
    return (size_t)n;
}

/* XEP-0428: where the reply quote is in the body. */
static void message_parse_fallback(xmpp_stanza_t *c, struct message_in *m)
{
    const char *for_ = xmpp_stanza_get_attribute(c, "for");
    xmpp_stanza_t *b = xmpp_stanza_get_child_by_name(c, "body");

    if (for_ == NULL || strcmp(for_, NS_REPLY) != 0 || b == NULL)
        return;
    m->fallback_start = message_attr_size(b, "start");
    m->fallback_end = message_attr_size(b, "end");
}

/* XEP-0444: the last emoji of the set (WhatsApp keeps one). */
static void message_parse_reactions(xmpp_stanza_t *c, struct message_in *m)
{
    xmpp_stanza_t *r;

    m->reactions_id = xmpp_stanza_get_id(c);
    m->reaction = "";
    for (r = xmpp_stanza_get_children(c); r; r = xmpp_stanza_get_next(r))
        if (xmpp_stanza_is_tag(r) && xmpp_stanza_get_name(r) != NULL &&
            strcmp(xmpp_stanza_get_name(r), "reaction") == 0)
            m->reaction = message_text_of(r);
}

/* One namespaced child of a message. */
static void message_parse_child(xmpp_stanza_t *c, const char *name,
                                const char *ns, struct message_in *m)
{
    if (strcmp(ns, NS_RECEIPTS) == 0 && strcmp(name, "request") == 0)
        m->want_receipt = 1;
    else if (strcmp(ns, NS_RECEIPTS) == 0 && strcmp(name, "received") == 0)
        m->received = xmpp_stanza_get_id(c);
    else if (strcmp(ns, NS_MARKERS) == 0 && strcmp(name, "markable") == 0)
        m->markable = 1;
    else if (strcmp(ns, NS_MARKERS) == 0 && strcmp(name, "displayed") == 0)
        m->displayed = xmpp_stanza_get_id(c);
    else if (strcmp(ns, NS_SID) == 0 && strcmp(name, "origin-id") == 0)
        m->origin_id = xmpp_stanza_get_id(c);
    else if (strcmp(ns, NS_REPLY) == 0 && strcmp(name, "reply") == 0)
        m->reply_id = xmpp_stanza_get_id(c);
    else if (strcmp(ns, NS_FALLBACK) == 0 && strcmp(name, "fallback") == 0)
        message_parse_fallback(c, m);
    else if (strcmp(ns, NS_REACTIONS) == 0 && strcmp(name, "reactions") == 0)
        message_parse_reactions(c, m);
    else if (strcmp(ns, NS_CHATSTATES) == 0 && strcmp(name, "composing") == 0)
        m->composing = 1;
    else if (strcmp(ns, NS_OOB) == 0 && strcmp(name, "x") == 0)
        m->oob_url = message_text_of(xmpp_stanza_get_child_by_name(c, "url"));
    else if (strcmp(ns, NS_CORRECT) == 0 && strcmp(name, "replace") == 0)
        m->replace_id = xmpp_stanza_get_id(c);
    else if ((strcmp(ns, NS_RETRACT) == 0 && strcmp(name, "retract") == 0) ||
             (strcmp(ns, NS_FASTEN) == 0 && strcmp(name, "apply-to") == 0 &&
              xmpp_stanza_get_child_by_ns(c, NS_RETRACT0) != NULL))
        m->retract_id = xmpp_stanza_get_id(c);
}

void message_parse(xmpp_stanza_t *st, struct message_in *m)
{
    xmpp_stanza_t *c;

    memset(m, 0, sizeof(*m));
    m->type = xmpp_stanza_get_type(st);
    if (m->type == NULL)
        m->type = "normal";
    m->from = xmpp_stanza_get_from(st);
    m->to = xmpp_stanza_get_to(st);
    m->id = xmpp_stanza_get_id(st);
    for (c = xmpp_stanza_get_children(st); c; c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_get_name(c);
        const char *ns = xmpp_stanza_get_ns(c);

        if (!xmpp_stanza_is_tag(c) || name == NULL)
            continue;
        if (strcmp(name, "body") == 0 && m->body == NULL)
            m->body = message_text_of(c);
        else if (ns != NULL)
            message_parse_child(c, name, ns, m);
    }
    if (m->oob_url != NULL && *m->oob_url == '\0')
        m->oob_url = NULL;
}

char *message_body_without_fallback(const struct message_in *m)
{
    size_t a, b;

    if (m->body == NULL)
        return NULL;
    if (m->fallback_end <= m->fallback_start)
        return xstrdup(m->body);
    a = utf8_offset(m->body, m->fallback_start);
    b = utf8_offset(m->body, m->fallback_end);
    return xasprintf("%.*s%s", (int)a, m->body, m->body + b);
}

static xmpp_stanza_t *message_new(const char *type, const char *from,
                                  const char *to, const char *id)
{
    xmpp_stanza_t *m = component_elem(NULL, "message", NULL);

    if (type != NULL)
        xmpp_stanza_set_type(m, type);
    xmpp_stanza_set_from(m, from);
    xmpp_stanza_set_to(m, to);
    if (id != NULL)
        xmpp_stanza_set_id(m, id);
    return m;
}

char *message_take_xml(xmpp_stanza_t *st)
{
    char *text = NULL, *copy;
    size_t len = 0;

    if (xmpp_stanza_to_text(st, &text, &len) != XMPP_EOK)
        fatal("message: cannot serialise a stanza");
    copy = xstrndup(text, len);
    xmpp_free(component_ctx(), text);
    xmpp_stanza_release(st);
    return copy;
}

/* "> line" for every line of quote, then a newline. Caller frees. */
static char *message_quote(const char *quote)
{
    struct buf b;
    const char *p = quote, *nl;

    buf_init(&b, strlen(quote) * 2 + 16);
    do {
        nl = strchr(p, '\n');
        buf_append(&b, "> ", 2);
        buf_append(&b, p, nl ? (size_t)(nl - p) : strlen(p));
        buf_append(&b, "\n", 1);
        p = nl ? nl + 1 : NULL;
    } while (p != NULL && *p != '\0');
    return buf_take(&b);
}

/* XEP-0461 reply, with the quote as XEP-0428 fallback in front of body. */
static void message_build_reply(xmpp_stanza_t *m, const struct message_out *o,
                                const char *body)
{
    xmpp_stanza_t *r = component_elem(m, "reply", NS_REPLY), *f, *fb;
    char *quoted, *full, num[32];

    xmpp_stanza_set_id(r, o->reply_id);
    if (o->reply_author != NULL)
        xmpp_stanza_set_attribute(r, "to", o->reply_author);
    if (o->quote == NULL) {
        component_text_elem(m, "body", body);
        return;
    }
    quoted = message_quote(o->quote);
    full = xasprintf("%s%s", quoted, body);
    component_text_elem(m, "body", full);
    f = component_elem(m, "fallback", NS_FALLBACK);
    xmpp_stanza_set_attribute(f, "for", NS_REPLY);
    fb = component_elem(f, "body", NULL);
    xmpp_stanza_set_attribute(fb, "start", "0");
    snprintf(num, sizeof(num), "%zu", utf8_chars(quoted));
    xmpp_stanza_set_attribute(fb, "end", num);
    free(quoted);
    free(full);
}

/* XEP-0424 retraction, in the current and the older (fastening) form. */
static void message_build_retract(xmpp_stanza_t *m, const char *id)
{
    xmpp_stanza_t *f;

    xmpp_stanza_set_id(component_elem(m, "retract", NS_RETRACT), id);
    f = component_elem(m, "apply-to", NS_FASTEN);
    xmpp_stanza_set_id(f, id);
    component_elem(f, "retract", NS_RETRACT0);
    f = component_elem(m, "fallback", NS_FALLBACK);
    xmpp_stanza_set_attribute(f, "for", NS_RETRACT);
    component_text_elem(m, "body", MESSAGE_RETRACT_FALLBACK);
}

static void message_build_reactions(xmpp_stanza_t *m, const char *id,
                                    const char *emoji)
{
    xmpp_stanza_t *r = component_elem(m, "reactions", NS_REACTIONS);

    xmpp_stanza_set_id(r, id);
    if (emoji != NULL && *emoji != '\0')
        component_text_elem(r, "reaction", emoji);
}

/* body cut to MESSAGE_BODY_MAX bytes (at a character) with a note, so one
 * huge text cannot pass the XMPP server's stanza size limit; NULL when it
 * fits. Caller frees. */
static char *message_cap(const char *body)
{
    size_t n = 0, l, len = strlen(body);

    if (len <= MESSAGE_BODY_MAX)
        return NULL;
    while (n < len) {
        l = utf8_step(body + n, len - n);
        if (n + l > MESSAGE_BODY_MAX)
            break;
        n += l;
    }
    return xasprintf("%.*s\n[the rest was cut: the message is longer than "
                     "the gateway passes on]",
                     (int)n, body);
}

char *message_build(const struct message_out *o)
{
    xmpp_stanza_t *m = message_new("chat", o->from, o->to, o->id);
    char *capped = o->body ? message_cap(o->body) : NULL;
    const char *body = o->oob_url ? o->oob_url : capped ? capped : o->body;

    if (o->retract_id != NULL)
        message_build_retract(m, o->retract_id);
    else if (o->reactions_id != NULL)
        message_build_reactions(m, o->reactions_id, o->reaction);
    else if (o->reply_id != NULL && body != NULL)
        message_build_reply(m, o, body);
    else if (body != NULL)
        component_text_elem(m, "body", body);
    if (o->oob_url != NULL)
        component_text_elem(component_elem(m, "x", NS_OOB), "url", o->oob_url);
    if (o->replace_id != NULL)
        xmpp_stanza_set_id(component_elem(m, "replace", NS_CORRECT),
                           o->replace_id);
    if (o->markable)
        component_elem(m, "markable", NS_MARKERS);
    if (o->retract_id != NULL || o->reactions_id != NULL)
        component_elem(m, "store", NS_HINTS);
    xmpp_stanza_set_id(component_elem(m, "origin-id", NS_SID), o->id);
    free(capped);
    return message_take_xml(m);
}

char *message_chat_xml(const char *from, const char *to, const char *id,
                       const char *body)
{
    struct message_out o = {
        .from = from, .to = to, .id = id, .body = body, .markable = 1};

    return message_build(&o);
}

char *message_carbon_xml(const char *privilege_ns, const char *gateway,
                         const char *user, const char *contact, const char *id,
                         const char *body)
{
    const char *at = strchr(user, '@');
    xmpp_stanza_t *outer = message_new(NULL, gateway, at ? at + 1 : user, id);
    xmpp_stanza_t *f =
        component_elem(component_elem(outer, "privilege", privilege_ns),
                       "forwarded", NS_FORWARD);
    xmpp_stanza_t *carbon = component_elem(f, "message", NS_CLIENT), *m;

    xmpp_stanza_set_type(carbon, "chat");
    xmpp_stanza_set_from(carbon, user);
    xmpp_stanza_set_to(carbon, user);
    xmpp_stanza_set_id(carbon, id);
    f = component_elem(component_elem(carbon, "sent", NS_CARBONS), "forwarded",
                       NS_FORWARD);
    m = component_elem(f, "message", NS_CLIENT);
    xmpp_stanza_set_type(m, "chat");
    xmpp_stanza_set_from(m, user);
    xmpp_stanza_set_to(m, contact);
    xmpp_stanza_set_id(m, id);
    component_text_elem(m, "body", body);
    xmpp_stanza_set_id(component_elem(m, "origin-id", NS_SID), id);
    return message_take_xml(outer);
}

char *message_receipt_xml(const char *from, const char *to, const char *id)
{
    xmpp_stanza_t *m = message_new("chat", from, to, NULL);
    char *mid = component_new_id();

    xmpp_stanza_set_id(m, mid);
    xmpp_stanza_set_id(component_elem(m, "received", NS_RECEIPTS), id);
    component_elem(m, "store", NS_HINTS);
    free(mid);
    return message_take_xml(m);
}

char *message_displayed_xml(const char *from, const char *to, const char *id)
{
    xmpp_stanza_t *m = message_new("chat", from, to, NULL);
    char *mid = component_new_id();

    xmpp_stanza_set_id(m, mid);
    xmpp_stanza_set_id(component_elem(m, "displayed", NS_MARKERS), id);
    component_elem(m, "store", NS_HINTS);
    free(mid);
    return message_take_xml(m);
}

char *message_chatstate_xml(const char *from, const char *to, const char *state)
{
    xmpp_stanza_t *m = message_new("chat", from, to, NULL);
    char *mid = component_new_id();

    xmpp_stanza_set_id(m, mid);
    component_elem(m, state, NS_CHATSTATES);
    component_elem(m, "no-store", NS_HINTS);
    free(mid);
    return message_take_xml(m);
}

/* The <error/> child of an error stanza. */
static void message_error_elem(xmpp_stanza_t *parent, const char *type,
                               const char *condition, const char *text)
{
    xmpp_stanza_t *e = component_elem(parent, "error", NULL);

    xmpp_stanza_set_type(e, type);
    component_elem(e, condition, NS_STANZAS);
    if (text != NULL)
        xmpp_stanza_set_ns(component_text_elem(e, "text", text), NS_STANZAS);
}

char *message_error_xml(const char *from, const char *to, const char *id,
                        const char *type, const char *condition,
                        const char *text)
{
    xmpp_stanza_t *m = message_new("error", from, to, id);

    message_error_elem(m, type, condition, text);
    return message_take_xml(m);
}

char *message_notice_xml(const char *from, const char *to, const char *id,
                         const char *body)
{
    char *made = id == NULL ? component_new_id() : NULL;
    char *xml;
    xmpp_stanza_t *m = message_new("chat", from, to, id ? id : made);

    component_text_elem(m, "body", body);
    xml = message_take_xml(m);
    free(made);
    return xml;
}

char *message_add_delay(const char *xml, const char *from, long long stamp)
{
    static const char close[] = "</message>";
    size_t n = strlen(xml), cl = sizeof(close) - 1;
    char ts[UTIL_DATETIME_LEN];

    if (n < cl || strcmp(xml + n - cl, close) != 0)
        return xstrdup(xml);
    util_datetime(stamp, ts);
    return xasprintf("%.*s<delay xmlns=\"" NS_DELAY
                     "\" from=\"%s\" stamp=\"%s\"/>%s",
                     (int)(n - cl), xml, from, ts, close);
}

const char *message_error_condition(xmpp_stanza_t *st)
{
    xmpp_stanza_t *e = xmpp_stanza_get_child_by_name(st, "error"), *c;
    const char *ns;

    for (c = e ? xmpp_stanza_get_children(e) : NULL; c != NULL;
         c = xmpp_stanza_get_next(c)) {
        ns = xmpp_stanza_get_ns(c);
        if (xmpp_stanza_is_tag(c) && ns != NULL &&
            strcmp(ns, NS_STANZAS) == 0 &&
            strcmp(xmpp_stanza_get_name(c), "text") != 0)
            return xmpp_stanza_get_name(c);
    }
    return "unknown";
}

void message_error_reply(xmpp_stanza_t *st, const char *type,
                         const char *condition, const char *text)
{
    const char *from = xmpp_stanza_get_from(st);
    const char *to = xmpp_stanza_get_to(st);
    const char *t = xmpp_stanza_get_type(st);
    xmpp_stanza_t *m;

    if (from == NULL || (t != NULL && strcmp(t, "error") == 0))
        return; /* never answer an error with an error */
    m = message_new("error", to ? to : component_jid(), from,
                    xmpp_stanza_get_id(st));
    message_error_elem(m, type, condition, text);
    component_send(m);
    xmpp_stanza_release(m);
}
