/* SPDX-License-Identifier: MIT */
/* In-band registration (XEP-0077, with an XEP-0004 form) and the XEP-0100
 * phone number prompt on the gateway JID. Checking credentials and storing
 * the account is the bridge's job, reached through callbacks. */
#ifndef FERRY_REGISTER_H
#define FERRY_REGISTER_H

#include <strophe.h>

#include "login.h"

struct conf;

/* What a user of a domain that may not use the gateway is told. */
#define REGISTER_FORBIDDEN_TEXT "Your server is not allowed to use this gateway"

struct register_ops {
    /* What the back end asks for (fields, words, checks). */
    const struct login_form *form;
    /* The networks offered (borrowed for ferry's life); with more than
     * one, the form asks which (LOGIN_NETWORK) and then that network's
     * fields. NULL: form alone. */
    const struct login_networks *networks;
    /* 1 and *network_id (caller frees) when jid (bare) is registered. */
    int (*lookup)(const char *jid, char **network_id, void *arg);
    /* Log in with the credentials (well-formed; borrowed for the call) and
     * store the account, then answer iq with register_reply_ok() or
     * register_reply_error(). iq is a copy owned by the callee (release
     * it). */
    void (*submit)(xmpp_stanza_t *iq, const char *jid,
                   const struct login_creds *c, void *arg);
    /* Removes the account; 0, -1 when jid is not registered, -2 when the
     * store failed (nothing was removed). */
    int (*remove)(const char *jid, void *arg);
    void *arg;
};

void register_init(const struct conf *conf, const struct register_ops *ops);
void register_reconfigure(const struct conf *conf);
/* 1 when the bare JID's domain may register. */
int register_domain_allowed(const char *jid);
void register_reply_ok(xmpp_stanza_t *iq);
void register_reply_error(xmpp_stanza_t *iq, const char *type,
                          const char *condition, const char *text);
void register_free(void);

#endif
