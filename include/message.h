/* SPDX-License-Identifier: MIT */
/* Message stanzas: reading what a user sent (body, ids, receipt and marker
 * requests, markers) and writing what ferry sends (chat messages, receipts,
 * markers, errors, notices) as XML text for the durable inbox. */
#ifndef FERRY_MESSAGE_H
#define FERRY_MESSAGE_H

#include <strophe.h>

#define MESSAGE_BODY_MAX (64 * 1024) /* bytes accepted from a user */

/* What a user's message stanza says; strings borrow from the stanza. */
struct message_in {
    const char *type; /* "chat", "normal", "error", ... */
    const char *from;
    const char *to;
    const char *id;
    const char *origin_id;
    const char *body;      /* NULL when none */
    int want_receipt;      /* XEP-0184 request */
    int markable;          /* XEP-0333 markable */
    const char *displayed; /* XEP-0333 displayed id, or NULL */
    const char *received;  /* XEP-0184 received id, or NULL */
    const char *reply_id;  /* XEP-0461 id of the quoted message, or NULL */
    size_t fallback_start, fallback_end; /* XEP-0428 reply quote, in
                                            characters (end 0: none) */
    const char *reactions_id;            /* XEP-0444 target, or NULL */
    const char *reaction;   /* the last emoji given; "" when none */
    int composing;          /* XEP-0085 */
    const char *oob_url;    /* XEP-0066, or NULL */
    const char *replace_id; /* XEP-0308, or NULL */
    const char *retract_id; /* XEP-0424, or NULL */
};

/* A message ferry writes to a user (all but from, to and id optional). */
struct message_out {
    const char *from, *to, *id;
    const char *body;
    int markable;
    const char *reply_id;     /* XEP-0461: the quoted message's id */
    const char *reply_author; /* its author's JID */
    const char *quote;        /* quoted as an XEP-0428 fallback */
    const char *replace_id;   /* XEP-0308 correction of this id */
    const char *retract_id;   /* XEP-0424 retraction of this id */
    const char *reactions_id; /* XEP-0444 reactions to this id */
    const char *reaction;     /* the emoji; "" removes */
    const char *oob_url;      /* XEP-0066: the body is the URL */
};

/* The XML of a stanza ferry built (any stanza, not only messages); st is
 * released. Caller frees the result. */
char *message_take_xml(xmpp_stanza_t *st);
/* XML of the message described by o. Caller frees. */
char *message_build(const struct message_out *o);
/* The body of m without its XEP-0428 reply fallback. Caller frees. */
char *message_body_without_fallback(const struct message_in *m);

void message_parse(xmpp_stanza_t *st, struct message_in *m);

/* XML of a chat message from contact to user (bare), with id and body;
 * markable so the user's client can report it read. Caller frees. */
char *message_chat_xml(const char *from, const char *to, const char *id,
                       const char *body);
/* XML of an XEP-0280 <sent/> carbon of a message (id, body) user wrote to
 * contact elsewhere, from the user's bare JID to itself, wrapped for
 * XEP-0356 (privilege_ns) from gateway to the user's server. Caller
 * frees. */
char *message_carbon_xml(const char *privilege_ns, const char *gateway,
                         const char *user, const char *contact, const char *id,
                         const char *body);
/* XML of an XEP-0184 receipt for id. Caller frees. */
char *message_receipt_xml(const char *from, const char *to, const char *id);
/* XML of an XEP-0333 displayed marker for id. Caller frees. */
char *message_displayed_xml(const char *from, const char *to, const char *id);
/* XML of an XEP-0085 chat state ("composing", "paused", "active"...) from
 * contact to user, not to be archived (XEP-0334 no-store). Caller frees. */
char *message_chatstate_xml(const char *from, const char *to,
                            const char *state);
/* XML of a message error bounced to the sender of id. Caller frees. */
char *message_error_xml(const char *from, const char *to, const char *id,
                        const char *type, const char *condition,
                        const char *text);
/* XML of a plain notice (type chat) from the gateway, with id (NULL: a new
 * one). Caller frees. */
char *message_notice_xml(const char *from, const char *to, const char *id,
                         const char *body);
/* Adds an XEP-0203 delay stamp (unix seconds) to a message stanza's XML.
 * Caller frees. */
char *message_add_delay(const char *xml, const char *from, long long stamp);
/* The defined condition of an error stanza ("service-unavailable"...), or
 * "unknown". */
const char *message_error_condition(xmpp_stanza_t *st);
/* Sends a stanza error reply to message st right away. */
void message_error_reply(xmpp_stanza_t *st, const char *type,
                         const char *condition, const char *text);

#endif
