/* SPDX-License-Identifier: MIT */
/* Commands on the gateway JID for users and admins: XEP-0050 ad-hoc
 * commands with XEP-0004 forms, and the same commands typed as chat
 * messages to the gateway JID. The network side is reached through
 * callbacks the bridge gives at init. */
#ifndef FERRY_COMMANDS_H
#define FERRY_COMMANDS_H

#include <strophe.h>

#include "login.h"

struct conf;
struct store;

/* How an asynchronous registration ended: ok, and a text for the user (the
 * account's display name or number on success, the reason otherwise). */
typedef void (*commands_done_fn)(int ok, const char *text, void *arg);

struct commands_ops {
    /* What the back end asks for to register (fields, words, checks). */
    const struct login_form *form;
    /* The networks offered (borrowed for ferry's life); with more than
     * one, Register asks which first. NULL: form alone. */
    const struct login_networks *networks;
    /* Logs in with the credentials (well-formed; borrowed for the call) and
     * stores the account, as XEP-0077 registration does; done(ok, text,
     * done_arg) runs exactly once, possibly later. */
    void (*register_account)(const char *jid, const struct login_creds *c,
                             commands_done_fn done, void *done_arg, void *arg);
    /* Removes the account of the bare jid; 0, -1 when not registered, -2
     * when the store failed (nothing was removed). */
    int (*unregister)(const char *jid, void *arg);
    /* Starts the login of jid's account again (a back end whose login goes
     * on asynchronously: a new QR code); done(ok, text, done_arg) runs
     * exactly once, possibly later. NULL: no back end needs it, and there
     * is no Login command. */
    void (*login)(const char *jid, commands_done_fn done, void *done_arg,
                  void *arg);
    /* Queues the failed outgoing messages of jid (NULL: of everybody)
     * again; the number queued, or -1 on error. */
    long long (*retry_failed)(const char *jid, void *arg);
    /* member (a bare JID) joined (add 1) or left (0) the team of the
     * account (its row is written): its roster and what it held follow. */
    void (*team_changed)(long long account_id, const char *member, int add,
                         void *arg);
    /* 1 when a back end in use has groups (the Groups command). */
    int groups;
    void *arg;
};

void commands_init(struct store *st, const struct conf *conf,
                   const struct commands_ops *ops);
/* Applies a new config (admins; the allowed domains are registration's). */
void commands_reconfigure(const struct conf *conf);
/* A message with a body to the gateway JID: run it as a chat command and
 * answer with a chat message. */
void commands_on_message(xmpp_stanza_t *st);
void commands_free(void);

#endif
