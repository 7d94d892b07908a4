/* SPDX-License-Identifier: MIT */
/* The XEP-0114 connection: libstrophe on the libevent loop, handshake,
 * reconnect with backoff, stanza dispatch and send helpers. */
#ifndef FERRY_COMPONENT_H
#define FERRY_COMPONENT_H

#include <strophe.h>

struct conf;

/* Handles an iq get/set whose first child is in a registered namespace.
 * Returns 1 if it answered (or will answer), 0 to fall through to
 * service-unavailable. */
typedef int (*component_iq_fn)(xmpp_stanza_t *iq, xmpp_stanza_t *child,
                               void *arg);
/* Called with the result (or error, or NULL on disconnect/timeout) of an
 * iq we sent. */
typedef void (*component_reply_fn)(xmpp_stanza_t *reply, void *arg);
/* Called for message and presence stanzas addressed to the component. */
typedef void (*component_stanza_fn)(xmpp_stanza_t *stanza, void *arg);
typedef void (*component_state_fn)(int connected, void *arg);

struct component_handlers {
    component_stanza_fn message;
    component_stanza_fn presence;
    component_state_fn state;  /* connected (1) or lost (0) */
    component_stanza_fn reply; /* iq results/errors nobody waited for */
    void *arg;
};

int component_init(const struct conf *conf);
void component_set_handlers(const struct component_handlers *h);
/* Registers an iq handler for a namespace (get and set). */
void component_iq_register(const char *ns, component_iq_fn fn, void *arg);
/* Registers an iq handler tried before those already registered (a
 * handler returning 0 lets the next one have the iq). */
void component_iq_register_first(const char *ns, component_iq_fn fn, void *arg);
/* Connects (and keeps reconnecting) until component_stop(). */
void component_start(void);
/* Closes the stream; done(arg) runs once it is closed (or after 1.5 s). */
void component_stop(void (*done)(void *arg), void *arg);
void component_free(void);
/* Applies a new config (secret, host, port) on the next reconnect. */
void component_reconfigure(const struct conf *conf);

int component_connected(void);
const char *component_jid(void);
xmpp_ctx_t *component_ctx(void);
/* Number of reconnects since start (for metrics and tests). */
unsigned long component_reconnects(void);

/* Queues a stanza (not released: the caller still owns it). Dropped with a
 * debug line when not connected. */
void component_send(xmpp_stanza_t *stanza);
void component_send_raw(const char *xml, size_t len);
/* Bytes and stanzas waiting in libstrophe's send queue. */
int component_send_queue_len(void);
/* Sends an iq (stamping a fresh random id, and the component's JID as from
 * unless it has one) and calls cb(reply, arg) once: with the reply, which
 * is taken only from the JID the iq went to (its to, or the server when it
 * has none); with NULL on disconnect (component_connected() is then 0) or
 * after timeout_ms without an answer (still connected). */
void component_send_iq_timeout(xmpp_stanza_t *iq, long long timeout_ms,
                               component_reply_fn cb, void *arg);
/* The same with a timeout of a minute. */
void component_send_iq(xmpp_stanza_t *iq, component_reply_fn cb, void *arg);
/* How a question to the server ended: 1 answered, 0 no answer in time
 * (still connected), -1 the stream went down. */
typedef void (*component_done_fn)(int rc, void *arg);
/* Sends an XEP-0199 ping to domain; done(rc, arg) follows once, 1 for any
 * reply from domain. Its answer proves the server read everything written
 * before it (the stream and the route to the domain keep their order): the
 * inbox's confirmation barrier. */
void component_ping(const char *domain, long long timeout_ms,
                    component_done_fn done, void *arg);
/* Asks the server's domain for disco#info: done(1, arg) when it answers
 * with a result (it runs its modules, offline storage among them, not only
 * the component port), 0 for an error or no answer. */
void component_ask_ready(long long timeout_ms, component_done_fn done,
                         void *arg);
/* Sends a presence probe from the gateway to jid. */
void component_probe(const char *jid);
/* The domain of the XMPP server the component is attached to: the
 * component's JID less its first label (gw.example.org: example.org). */
const char *component_server_domain(void);
/* 1 when two JIDs are the same (bare part without ASCII case). */
int component_jid_equal(const char *a, const char *b);
/* Counts and logs the iq reply st as forged (why: for the log). */
void component_forged(xmpp_stanza_t *st, const char *why);

/* Answers the iq get/set req with an empty result, or result with child
 * (child is not released). */
void component_iq_result(xmpp_stanza_t *req, xmpp_stanza_t *child);
/* Answers req with a stanza error: type ("cancel", "modify", "auth",
 * "wait"), condition (e.g. "service-unavailable") and optional text. */
void component_error_reply(xmpp_stanza_t *req, const char *type,
                           const char *condition, const char *text);
/* A new element (in ns unless NULL); added to parent, which then owns it,
 * unless parent is NULL. */
xmpp_stanza_t *component_elem(xmpp_stanza_t *parent, const char *name,
                              const char *ns);
/* A new element holding text (made XML-safe), added to parent likewise. */
xmpp_stanza_t *component_text_elem(xmpp_stanza_t *parent, const char *name,
                                   const char *text);
/* Dispatches st as if the server had sent it (fuzzers and tests). */
void component_inject(xmpp_stanza_t *st);
/* A fresh stanza id for messages: unique in this run, and apart from other
 * runs' ids by a random prefix, but predictable: never for an iq (caller
 * frees). */
char *component_new_id(void);
/* An id of 96 random bits, for iqs whose reply matters (caller frees). */
char *component_random_id(void);

#endif
