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
};

void message_parse(xmpp_stanza_t *st, struct message_in *m);

/* XML of a chat message from contact to user (bare), with id and body;
 * markable so the user's client can report it read. Caller frees. */
char *message_chat_xml(const char *from, const char *to, const char *id,
                       const char *body);
/* XML of an XEP-0184 receipt for id. Caller frees. */
char *message_receipt_xml(const char *from, const char *to, const char *id);
/* XML of an XEP-0333 displayed marker for id. Caller frees. */
char *message_displayed_xml(const char *from, const char *to, const char *id);
/* XML of a message error bounced to the sender of id. Caller frees. */
char *message_error_xml(const char *from, const char *to, const char *id,
                        const char *type, const char *condition,
                        const char *text);
/* XML of a plain notice (type chat) from the gateway. Caller frees. */
char *message_notice_xml(const char *from, const char *to, const char *body);
/* Adds an XEP-0203 delay stamp (unix seconds) to a message stanza's XML.
 * Caller frees. */
char *message_add_delay(const char *xml, const char *from, long long stamp);
/* Sends a stanza error reply to message st right away. */
void message_error_reply(xmpp_stanza_t *st, const char *type,
                         const char *condition, const char *text);
/* Copies s with characters XML cannot carry replaced by U+FFFD. */
char *message_xml_safe(const char *s);

#endif
