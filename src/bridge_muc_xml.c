/* SPDX-License-Identifier: MIT */
/* A room's kept rows as the stanzas a resource in the room gets (issue
 * 14): texts (XEP-0461 replies with their quote), reactions (XEP-0444),
 * corrections (XEP-0308), retractions by their author (XEP-0424) and by
 * an admin (XEP-0425), each with the room's stanza-id and occupant-id;
 * live, at a join or later from the archive alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "bridge_core.h"
#include "bridge_muc_int.h"
#include "component.h"
#include "message.h"
#include "store.h"
#include "store_room.h"
#include "util.h"

#define NS_REPLY "urn:xmpp:reply:0"
#define NS_FALLBACK "urn:xmpp:fallback:0"
#define NS_REACTIONS "urn:xmpp:reactions:0"
#define NS_CORRECT "urn:xmpp:message-correct:0"
#define NS_RETRACT "urn:xmpp:message-retract:1"
#define NS_MODERATE "urn:xmpp:message-moderate:1"
#define NS_HINTS "urn:xmpp:hints"
#define NS_OOB "jabber:x:oob"
#define BRIDGE_MUC_QUOTE_MAX 200 /* characters of a quoted text */
#define BRIDGE_MUC_RETRACTED                                                   \
    "This person deleted a previous message (your client does not show "       \
    "deletions)."
#define BRIDGE_MUC_MODERATED                                                   \
    "An admin deleted a previous message (your client does not show "          \
    "deletions)."

/* The key of {true|false}_<chat>_<key>[_<participant>], or a bare id. */
char *bridge_muc_key(const char *id)
{
    const char *p, *q;

    if (id == NULL)
        return NULL;
    if (strncmp(id, "true_", 5) != 0 && strncmp(id, "false_", 6) != 0)
        return xstrdup(id);
    p = strchr(id, '_') + 1; /* the chat */
    p = strchr(p, '_');
    if (p == NULL)
        return xstrdup(id);
    p++;
    q = strchr(p, '_'); /* a group's: the participant follows */
    if (p[0] == '\0' || q == p)
        return xstrdup(id); /* no key: the id as it is */
    return q ? xstrndup(p, (size_t)(q - p)) : xstrdup(p);
}

/* 1 when author (an id as a message names its author) is member m. */
static int bridge_muc_is(const struct store_member *m, const char *author)
{
    size_t n = strspn(author, "0123456789");
    const char *domain = author + n;
    const char *digits = NULL;

    if (strcmp(m->participant, author) == 0)
        return 1;
    if (n == 0)
        return 0;
    if (strcmp(domain, "@lid") == 0)
        digits = m->lid;
    else if (strcmp(domain, "@c.us") == 0 ||
             strcmp(domain, "@s.whatsapp.net") == 0)
        digits = m->phone;
    return digits != NULL && strlen(digits) == n &&
           strncmp(digits, author, n) == 0;
}

const char *bridge_muc_who(const struct bridge_muc_view *v, const char *author)
{
    size_t i;

    for (i = 0; author != NULL && i < v->n; i++)
        if (bridge_muc_is(v->m[i], author))
            return v->m[i]->participant;
    return author;
}

/* 1 when author is the account itself. */
static int bridge_muc_is_self(const struct bridge_muc_view *v,
                              const char *author)
{
    const struct store_member *me = bridge_muc_self(v->m, v->n);

    return strcmp(author, "self") == 0 ||
           (me != NULL && bridge_muc_is(me, author));
}

char *bridge_muc_author(const struct bridge_muc_view *v, const char *author,
                        const char *self_nick, const char **who)
{
    size_t i, d = strspn(author, "0123456789");

    if (self_nick != NULL && bridge_muc_is_self(v, author)) {
        *who = bridge_muc_self(v->m, v->n)
                   ? bridge_muc_self(v->m, v->n)->participant
                   : "self";
        return xstrdup(self_nick);
    }
    for (i = 0; i < v->n; i++)
        if (v->nicks[i] != NULL && bridge_muc_is(v->m[i], author)) {
            *who = v->m[i]->participant;
            return xstrdup(v->nicks[i]);
        }
    *who = author;
    if (d > 0 && strcmp(author + d, "@lid") == 0)
        return xasprintf("~%.*s", (int)d, author);
    if (d > 0)
        return xasprintf("+%.*s", (int)d, author);
    return xstrdup(author);
}

/* The message a row acts on (or quotes), or NULL. */
static struct store_room_message *
bridge_muc_target(const struct bridge_muc_view *v,
                  const struct store_room_message_in *r)
{
    char *key = bridge_muc_key(r->target);
    struct store_room_message *t =
        key ? store_room_message_find(bridge_store(), v->room_id, key) : NULL;

    free(key);
    return t;
}

/* The id of a kept text's stanza (what corrections name). */
static const char *bridge_muc_xmpp_id(const struct store_room_message *r)
{
    return r->xmpp_id ? r->xmpp_id : r->network_id;
}

/* "> nick: text\n", the text on one line and cut (at a character) to
 * BRIDGE_MUC_QUOTE_MAX characters. Caller frees. */
static char *bridge_muc_quote(const char *nick, const char *text)
{
    size_t n = utf8_offset(text, BRIDGE_MUC_QUOTE_MAX);
    char *q = xasprintf("> %s: %.*s%s\n", nick, (int)n, text,
                        text[n] != '\0' ? "…" : "");
    char *p;

    for (p = q + 2; p[1] != '\0'; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return q;
}

/* The nick of the member whose number or lid is the n digits at d (the
 * user's: self_nick), or NULL. */
static const char *bridge_muc_mentioned(const struct bridge_muc_view *v,
                                        const char *d, size_t n,
                                        const char *self_nick)
{
    size_t i;

    for (i = 0; i < v->n; i++)
        if ((v->m[i]->phone != NULL && strlen(v->m[i]->phone) == n &&
             strncmp(v->m[i]->phone, d, n) == 0) ||
            (v->m[i]->lid != NULL && strlen(v->m[i]->lid) == n &&
             strncmp(v->m[i]->lid, d, n) == 0))
            return v->m[i]->self ? self_nick : v->nicks[i];
    return NULL;
}

/* body with WhatsApp's mentions ("@<number>" or "@<lid>" of a member)
 * written as "@<nick>", the user's as their own nick, so that clients
 * highlight them. Caller frees. */
static char *bridge_muc_mentions(const struct bridge_muc_view *v,
                                 const char *body, const char *self_nick)
{
    struct buf b;
    const char *p = body, *at, *nick;
    size_t n;

    buf_init(&b, strlen(body) * 20 + 256); /* a nick per 5 digits at most */
    while ((at = strchr(p, '@')) != NULL) {
        buf_append(&b, p, (size_t)(at - p) + 1);
        n = strspn(at + 1, "0123456789");
        nick = n >= 5 && n <= 32 ? bridge_muc_mentioned(v, at + 1, n, self_nick)
                                 : NULL;
        p = at + 1;
        if (nick != NULL) {
            buf_append(&b, nick, strlen(nick));
            p += n;
        }
    }
    buf_append(&b, p, strlen(p));
    return buf_take(&b);
}

/* An XEP-0461 reply to t (or to the id target when t is unknown), with
 * the quote as an XEP-0428 fallback in front of body. */
static void bridge_muc_reply(xmpp_stanza_t *m, const struct bridge_muc_view *v,
                             const char *target,
                             const struct store_room_message *t,
                             const char *self_nick, const char *body)
{
    xmpp_stanza_t *e = component_elem(m, "reply", NS_REPLY), *f;
    const char *who;
    char *nick, *to, *quote, num[24];

    xmpp_stanza_set_id(e, t ? t->network_id : target);
    if (t == NULL || strcmp(t->kind, "text") != 0) {
        component_text_elem(m, "body", body);
        return;
    }
    nick = bridge_muc_author(v, t->author, self_nick, &who);
    to = xasprintf("%s/%s", v->room_jid, nick);
    xmpp_stanza_set_attribute(e, "to", to);
    quote = bridge_muc_quote(nick, t->body);
    snprintf(num, sizeof(num), "%zu", utf8_chars(quote));
    free(to);
    to = xasprintf("%s%s", quote, body);
    component_text_elem(m, "body", to);
    f = component_elem(m, "fallback", NS_FALLBACK);
    xmpp_stanza_set_attribute(f, "for", NS_REPLY);
    e = component_elem(f, "body", NULL);
    xmpp_stanza_set_attribute(e, "start", "0");
    xmpp_stanza_set_attribute(e, "end", num);
    free(quote);
    free(to);
    free(nick);
}

/* A retraction of the id target, by its author or (moderated: the admin's
 * occupant JID and occupant-id) by an admin. */
static void bridge_muc_retract(xmpp_stanza_t *m, const char *target,
                               const char *moderator, const char *oid)
{
    xmpp_stanza_t *r = component_elem(m, "retract", NS_RETRACT), *e;

    xmpp_stanza_set_id(r, target);
    if (moderator != NULL) {
        e = component_elem(r, "moderated", NS_MODERATE);
        xmpp_stanza_set_attribute(e, "by", moderator);
        xmpp_stanza_set_id(component_elem(e, "occupant-id", NS_OCCUPANT_ID),
                           oid);
        component_text_elem(r, "reason", "Deleted by a group admin");
    }
    e = component_elem(m, "fallback", NS_FALLBACK);
    xmpp_stanza_set_attribute(e, "for", NS_RETRACT);
    component_text_elem(
        m, "body", moderator ? BRIDGE_MUC_MODERATED : BRIDGE_MUC_RETRACTED);
    component_elem(m, "store", NS_HINTS);
}

/* What the row r is, into m (from its author, nick). */
static void bridge_muc_content(xmpp_stanza_t *m,
                               const struct bridge_muc_view *v,
                               const struct store_room_message_in *r,
                               const char *self_nick, const char *from,
                               const char *oid)
{
    struct store_room_message *t = r->target ? bridge_muc_target(v, r) : NULL;
    const char *target = t ? t->network_id : r->target;
    char *body = bridge_muc_mentions(v, r->body, self_nick);
    xmpp_stanza_t *e;

    if (strcmp(r->kind, "reaction") == 0 && target != NULL) {
        e = component_elem(m, "reactions", NS_REACTIONS);
        xmpp_stanza_set_id(e, target);
        if (r->body[0] != '\0')
            component_text_elem(e, "reaction", r->body);
        component_elem(m, "store", NS_HINTS);
    } else if (strcmp(r->kind, "edit") == 0 && target != NULL) {
        component_text_elem(m, "body", body);
        xmpp_stanza_set_id(component_elem(m, "replace", NS_CORRECT),
                           t ? bridge_muc_xmpp_id(t) : target);
    } else if (strcmp(r->kind, "retract") == 0 && target != NULL) {
        bridge_muc_retract(m, target, NULL, NULL);
    } else if (strcmp(r->kind, "moderate") == 0 && target != NULL) {
        bridge_muc_retract(m, target, from, oid);
    } else if (r->target != NULL) {
        bridge_muc_reply(m, v, r->target, t, self_nick, body);
    } else {
        component_text_elem(m, "body", body);
    }
    store_room_message_free(t);
    free(body);
}

/* The real JID of the participant who (XEP-0045 non-anonymous rooms):
 * the user's for the user, +<number>@gateway when the number is known,
 * else NULL. Caller frees. */
static char *bridge_muc_real(const struct bridge_muc_view *v, const char *who)
{
    size_t i;

    if (bridge_muc_is_self(v, who))
        return xstrdup(v->user);
    for (i = 0; i < v->n; i++)
        if (strcmp(v->m[i]->participant, who) == 0)
            return bridge_muc_member_jid(v->m[i]);
    return NULL;
}

/* An archived message's <x xmlns='...muc#user'> with its author's real
 * JID, when known. */
static void bridge_muc_real_item(xmpp_stanza_t *m,
                                 const struct bridge_muc_view *v,
                                 const char *who)
{
    char *real = bridge_muc_real(v, who);

    if (real != NULL)
        xmpp_stanza_set_attribute(
            component_elem(component_elem(m, "x", NS_MUC_USER), "item", NULL),
            "jid", real);
    free(real);
}

char *bridge_muc_render(const struct bridge_muc_view *v,
                        const struct store_room_message_in *r, const char *to,
                        const char *self_nick, int delayed)
{
    xmpp_stanza_t *m;
    xmpp_stanza_t *e;
    const char *who;
    char *nick = bridge_muc_author(v, r->author, self_nick, &who);
    char *from = xasprintf("%s/%s", v->room_jid, nick), *xml, *stamped;
    char oid[65];
    int moderated = strcmp(r->kind, "moderate") == 0;

    bridge_muc_occupant_id(v->user, v->group, who, oid);
    m = xmpp_message_new(component_ctx(), "groupchat", to,
                         r->xmpp_id ? r->xmpp_id : r->network_id);
    xmpp_stanza_set_from(m, moderated ? v->room_jid : from);
    bridge_muc_content(m, v, r, self_nick, from, oid);
    if (r->url != NULL && strcmp(r->kind, "text") == 0) /* a file */
        component_text_elem(component_elem(m, "x", NS_OOB), "url", r->url);
    if (r->origin_id != NULL)
        xmpp_stanza_set_id(component_elem(m, "origin-id", NS_SID),
                           r->origin_id);
    e = component_elem(m, "stanza-id", NS_SID);
    xmpp_stanza_set_id(e, r->network_id);
    xmpp_stanza_set_attribute(e, "by", v->room_jid);
    if (!moderated)
        xmpp_stanza_set_id(component_elem(m, "occupant-id", NS_OCCUPANT_ID),
                           oid);
    if (!moderated && to == NULL)
        bridge_muc_real_item(m, v, who);
    xml = message_take_xml(m);
    free(from);
    free(nick);
    if (!delayed)
        return xml;
    stamped = message_add_delay(xml, v->room_jid, r->stamp);
    free(xml);
    return stamped;
}

void bridge_muc_view_init(struct bridge_muc_view *v, const char *user,
                          const char *group, const char *room_jid,
                          long long room_id)
{
    memset(v, 0, sizeof(*v));
    v->user = user;
    v->group = group;
    v->room_jid = room_jid;
    v->room_id = room_id;
    v->m = bridge_muc_members(room_id, &v->n);
    v->nicks = bridge_muc_nicks(v->m, v->n);
}

void bridge_muc_view_reset(struct bridge_muc_view *v)
{
    bridge_muc_nicks_free(v->nicks, v->n);
    bridge_muc_members_free(v->m, v->n);
    memset(v, 0, sizeof(*v));
}
