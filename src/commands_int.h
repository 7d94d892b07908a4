/* SPDX-License-Identifier: MIT */
/* Inside the commands module: what the front ends (commands.c: ad-hoc and
 * chat) and the commands themselves (commands_run.c) share. Not for other
 * modules. */
#ifndef FERRY_COMMANDS_INT_H
#define FERRY_COMMANDS_INT_H

#include <strophe.h>

#include "commands.h"
#include "util.h"

#define NS_COMMANDS "http://jabber.org/protocol/commands"
#define NS_DATA "jabber:x:data"
#define COMMANDS_MAX_VALUES 8
#define COMMANDS_VALUE_MAX 1024 /* bytes of one submitted value */
#define COMMANDS_MAX_ARGS 3     /* words after a chat command's keyword */
#define COMMANDS_MAX_WORDS (COMMANDS_MAX_ARGS + 2)
#define COMMANDS_TEXT_MAX (256 * 1024) /* bytes of an answer */

struct commands_req;

/* One command: its node (also its chat keyword), who may run it, its
 * form and what it does. */
struct commands_def {
    const char *node;
    const char *name;  /* label in clients' command lists */
    const char *usage; /* as a chat command */
    const char *help;  /* one line */
    int admin;         /* for gateway.admins only */
    int hidden;        /* not offered (no back end needs it) */
    /* chat: the values the words after the keyword fill, in order */
    const char *args[COMMANDS_MAX_ARGS];
    int nrequired;
    /* Fills the ad-hoc form x; returns 0 to show it, or -1 after writing a
     * note (the command is then complete). NULL: the command runs at
     * once. */
    int (*form)(struct commands_req *r, xmpp_stanza_t *x);
    /* Runs with the values; calls commands_finish(r), now or later. */
    void (*run)(struct commands_req *r);
};

struct commands_value {
    const char *var;
    const char *value; /* borrowed from the request's iq or words */
};

/* One execution of a command, ad-hoc or chat. */
struct commands_req {
    const struct commands_def *def;
    char *jid;         /* bare JID of the requester */
    xmpp_stanza_t *iq; /* ad-hoc: a copy of the request; chat: NULL */
    char *to;          /* chat: the full JID to answer */
    char *sessionid;   /* ad-hoc */
    char *words;       /* chat: the message's words */
    struct commands_value vals[COMMANDS_MAX_VALUES];
    int nvals;
    struct buf text;     /* the answer in words: note or chat body */
    int error;           /* the answer reports a failure */
    xmpp_stanza_t *form; /* ad-hoc result form, or NULL */
};

/* commands_run.c: the commands. */
void commands_run_init(struct store *st, const struct commands_ops *ops);
void commands_run_free(void);
/* The table of commands, ended by a NULL node. */
const struct commands_def *commands_table(void);
/* The command with node (or chat keyword) name, or NULL. */
const struct commands_def *commands_find(const char *name);

/* The store and the gateway's functions the commands were set up with. */
struct store *commands_store(void);
const struct commands_ops *commands_ops_get(void);
/* The requester's account; NULL (and a failure said) when there is none. */
struct store_account *commands_account(struct commands_req *r);
/* The bare form of a JID an admin typed; NULL (and a failure said) when it
 * is not one. Caller frees. */
char *commands_target(struct commands_req *r, const char *jid);

/* commands_team.c: the team command (its form and run). */
int commands_team_form(struct commands_req *r, xmpp_stanza_t *x);
void commands_team_run(struct commands_req *r);

/* commands_req.c: a request and its answer. */
struct commands_req *commands_req_new(const struct commands_def *def,
                                      const char *jid);
void commands_req_free(struct commands_req *r);
/* Adds a submitted value (borrowed; ignored past COMMANDS_MAX_VALUES or
 * COMMANDS_VALUE_MAX). */
void commands_value_add(struct commands_req *r, const char *var,
                        const char *value);
/* The <command/> element of an answer to r's iq. */
xmpp_stanza_t *commands_answer_elem(const struct commands_req *r,
                                    const char *status);
/* The submitted value of var, or NULL. */
const char *commands_value(const struct commands_req *r, const char *var);
/* Adds a line to the answer. */
void commands_say(struct commands_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Adds a line to the answer and marks it as a failure. */
void commands_fail(struct commands_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Adds label: value to the answer, and as a field of the result form. */
void commands_show(struct commands_req *r, const char *var, const char *label,
                   const char *value);
/* The ad-hoc result form (created on first use); NULL for chat. */
xmpp_stanza_t *commands_result_form(struct commands_req *r, const char *title);
/* Answers (iq result or chat message) and frees r. */
void commands_finish(struct commands_req *r);

xmpp_stanza_t *commands_field(xmpp_stanza_t *x, const char *var,
                              const char *type, const char *label,
                              const char *value);

#endif
