/* SPDX-License-Identifier: MIT */
/* Reads users' message stanzas and writes the stanzas ferry sends, as XML
 * text so they can wait in the inbox table until the server confirms. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* The text directly inside element e ("" when it has none). */
static const char *message_text_of(xmpp_stanza_t *e)
{
    xmpp_stanza_t *t = xmpp_stanza_get_children(e);
    const char *s =
        t && xmpp_stanza_is_text(t) ? xmpp_stanza_get_text_ptr(t) : NULL;

    return s ? s : "";
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
        if (ns == NULL)
            continue;
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
    }
}

char *message_xml_safe(const char *s)
{
    struct buf b;
    size_t n = strlen(s), i = 0, l;

    buf_init(&b, n * 3 + 1);
    while (i < n) {
        unsigned char ch = (unsigned char)s[i];

        l = utf8_char_len(s + i, n - i);
        if (l == 0 || (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r')) {
            buf_append(&b, "\xef\xbf\xbd", 3);
            i += l ? l : 1;
            continue;
        }
        buf_append(&b, s + i, l);
        i += l;
    }
    return buf_take(&b);
}

static xmpp_stanza_t *message_elem(xmpp_stanza_t *parent, const char *name,
                                   const char *ns)
{
    xmpp_stanza_t *e = xmpp_stanza_new(component_ctx());

    xmpp_stanza_set_name(e, name);
    if (ns != NULL)
        xmpp_stanza_set_ns(e, ns);
    if (parent != NULL)
        xmpp_stanza_add_child_ex(parent, e, 0);
    return e;
}

static void message_text_elem(xmpp_stanza_t *parent, const char *name,
                              const char *ns, const char *text)
{
    xmpp_stanza_t *e = message_elem(parent, name, ns);
    xmpp_stanza_t *t = xmpp_stanza_new(component_ctx());
    char *safe = message_xml_safe(text);

    xmpp_stanza_set_text(t, safe);
    xmpp_stanza_add_child_ex(e, t, 0);
    free(safe);
}

static xmpp_stanza_t *message_new(const char *type, const char *from,
                                  const char *to, const char *id)
{
    xmpp_stanza_t *m = message_elem(NULL, "message", NULL);

    if (type != NULL)
        xmpp_stanza_set_type(m, type);
    xmpp_stanza_set_from(m, from);
    xmpp_stanza_set_to(m, to);
    if (id != NULL)
        xmpp_stanza_set_id(m, id);
    return m;
}

/* Serialises and releases st. Caller frees the result. */
static char *message_take_xml(xmpp_stanza_t *st)
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

char *message_chat_xml(const char *from, const char *to, const char *id,
                       const char *body)
{
    xmpp_stanza_t *m = message_new("chat", from, to, id);

    message_text_elem(m, "body", NULL, body);
    message_elem(m, "markable", NS_MARKERS);
    xmpp_stanza_set_id(message_elem(m, "origin-id", NS_SID), id);
    return message_take_xml(m);
}

char *message_receipt_xml(const char *from, const char *to, const char *id)
{
    xmpp_stanza_t *m = message_new("chat", from, to, NULL);
    char *mid = component_new_id();

    xmpp_stanza_set_id(m, mid);
    xmpp_stanza_set_id(message_elem(m, "received", NS_RECEIPTS), id);
    message_elem(m, "store", NS_HINTS);
    free(mid);
    return message_take_xml(m);
}

char *message_displayed_xml(const char *from, const char *to, const char *id)
{
    xmpp_stanza_t *m = message_new("chat", from, to, NULL);
    char *mid = component_new_id();

    xmpp_stanza_set_id(m, mid);
    xmpp_stanza_set_id(message_elem(m, "displayed", NS_MARKERS), id);
    message_elem(m, "store", NS_HINTS);
    free(mid);
    return message_take_xml(m);
}

/* The <error/> child of an error stanza. */
static void message_error_elem(xmpp_stanza_t *parent, const char *type,
                               const char *condition, const char *text)
{
    xmpp_stanza_t *e = message_elem(parent, "error", NULL);

    xmpp_stanza_set_type(e, type);
    message_elem(e, condition, NS_STANZAS);
    if (text != NULL)
        message_text_elem(e, "text", NS_STANZAS, text);
}

char *message_error_xml(const char *from, const char *to, const char *id,
                        const char *type, const char *condition,
                        const char *text)
{
    xmpp_stanza_t *m = message_new("error", from, to, id);

    message_error_elem(m, type, condition, text);
    return message_take_xml(m);
}

char *message_notice_xml(const char *from, const char *to, const char *body)
{
    char *id = component_new_id();
    char *xml;
    xmpp_stanza_t *m = message_new("chat", from, to, id);

    message_text_elem(m, "body", NULL, body);
    xml = message_take_xml(m);
    free(id);
    return xml;
}

char *message_add_delay(const char *xml, const char *from, long long stamp)
{
    static const char close[] = "</message>";
    size_t n = strlen(xml), cl = sizeof(close) - 1;
    char ts[32];
    time_t t = (time_t)stamp;
    struct tm tm;

    if (n < cl || strcmp(xml + n - cl, close) != 0)
        return xstrdup(xml);
    gmtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return xasprintf("%.*s<delay xmlns=\"" NS_DELAY
                     "\" from=\"%s\" stamp=\"%s\"/>%s",
                     (int)(n - cl), xml, from, ts, close);
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
