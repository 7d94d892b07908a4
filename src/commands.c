/* SPDX-License-Identifier: MIT */
/* The front ends of the gateway's commands: XEP-0050 ad-hoc commands
 * (discovery, sessions, execute/next/complete/cancel, XEP-0004 forms and
 * notes) and the same commands typed as chat messages. Who may run what:
 * users of the allowed domains the user commands, gateway.admins the admin
 * commands. The commands themselves are in commands_run.c. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "commands_int.h"
#include "component.h"
#include "conf.h"
#include "disco.h"
#include "jid.h"
#include "log.h"
#include "message.h"
#include "register.h"
#include "settings.h"
#include "util.h"

#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define COMMANDS_MAX_SESSIONS 256
#define COMMANDS_SESSION_TTL_MS (10LL * 60 * 1000)
#define COMMANDS_CHAT_MAX 2048 /* bytes of a chat message read as command */

/* A command waiting for its form to come back. */
struct commands_session {
    char *id;
    const struct commands_def *def;
    char *owner; /* the full JID that started it */
    long long expires_ms;
    struct commands_session *next;
};

static struct {
    char *admins; /* lower-cased bare JIDs */
    struct commands_session *sessions;
    int nsessions;
} cs;

/* ---- permissions ---- */

static int commands_is_admin(const char *jid)
{
    return jid != NULL && conf_list_has(cs.admins, jid);
}

/* The domains that may use the gateway are registration's to say. */
static int commands_domain_allowed(const char *jid)
{
    return jid != NULL && register_domain_allowed(jid);
}

/* 1 when the bare jid may run def. */
static int commands_may(const char *jid, const struct commands_def *def)
{
    if (def->hidden)
        return 0;
    return def->admin ? commands_is_admin(jid) : commands_domain_allowed(jid);
}

static const char *commands_forbidden_text(const struct commands_def *def)
{
    return def->admin ? "Only the administrators of this gateway may run "
                        "this command"
                      : REGISTER_FORBIDDEN_TEXT;
}

/* ---- XML helpers ---- */

/* The text of e's first text child ("" when none). */
static const char *commands_text_of(xmpp_stanza_t *e)
{
    xmpp_stanza_t *t = xmpp_stanza_get_children(e);
    const char *s =
        t && xmpp_stanza_is_text(t) ? xmpp_stanza_get_text_ptr(t) : NULL;

    return s ? s : "";
}

/* ---- requests and answers ---- */

/* ---- sessions ---- */

static void commands_session_free(struct commands_session *s)
{
    free(s->id);
    free(s->owner);
    free(s);
}

/* Drops the sessions nobody came back to. */
static void commands_session_expire(void)
{
    struct commands_session **pp = &cs.sessions, *s;
    long long now = now_ms();

    while ((s = *pp) != NULL) {
        if (s->expires_ms > now) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        commands_session_free(s);
        cs.nsessions--;
    }
}

static int commands_session_add(const char *id, const struct commands_def *def,
                                const char *owner)
{
    struct commands_session *s;

    commands_session_expire();
    if (cs.nsessions >= COMMANDS_MAX_SESSIONS)
        return -1;
    s = xcalloc(1, sizeof(*s));
    s->id = xstrdup(id);
    s->def = def;
    s->owner = xstrdup(owner);
    s->expires_ms = now_ms() + COMMANDS_SESSION_TTL_MS;
    s->next = cs.sessions;
    cs.sessions = s;
    cs.nsessions++;
    return 0;
}

/* Takes the session id of owner for def out of the list; 0 or -1. With
 * keep, it stays. */
static int commands_session_take(const char *id, const struct commands_def *def,
                                 const char *owner, int keep)
{
    struct commands_session **pp, *s;

    commands_session_expire();
    for (pp = &cs.sessions; (s = *pp) != NULL; pp = &s->next) {
        if (strcmp(s->id, id) != 0 || s->def != def ||
            strcmp(s->owner, owner) != 0)
            continue;
        if (!keep) {
            *pp = s->next;
            commands_session_free(s);
            cs.nsessions--;
        }
        return 0;
    }
    return -1;
}

/* ---- ad-hoc commands (XEP-0050) ---- */

/* An error answer with an XEP-0050 condition (bad-action, ...) as well. */
static void commands_error(xmpp_stanza_t *iq, const char *type,
                           const char *condition, const char *specific,
                           const char *text)
{
    xmpp_stanza_t *r = component_elem(NULL, "iq", NULL);
    xmpp_stanza_t *e = component_elem(r, "error", NULL);
    const char *to = xmpp_stanza_get_to(iq);

    xmpp_stanza_set_type(r, "error");
    xmpp_stanza_set_id(r, xmpp_stanza_get_id(iq));
    xmpp_stanza_set_to(r, xmpp_stanza_get_from(iq));
    xmpp_stanza_set_from(r, to ? to : component_jid());
    xmpp_stanza_set_type(e, type);
    component_elem(e, condition, NS_STANZAS);
    if (specific != NULL)
        component_elem(e, specific, NS_COMMANDS);
    if (text != NULL)
        xmpp_stanza_set_ns(component_text_elem(e, "text", text), NS_STANZAS);
    component_send(r);
    xmpp_stanza_release(r);
}

/* Answers with the first stage's form; the session waits for it. */
static void commands_reply_form(struct commands_req *r, xmpp_stanza_t *x)
{
    xmpp_stanza_t *c = commands_answer_elem(r, "executing");
    xmpp_stanza_t *a = component_elem(c, "actions", NULL);

    xmpp_stanza_set_attribute(a, "execute", "complete");
    component_elem(a, "complete", NULL);
    xmpp_stanza_add_child(c, x);
    component_iq_result(r->iq, c);
    xmpp_stanza_release(c);
}

/* A new execution: the form, or the result at once. */
static void commands_start(struct commands_req *r)
{
    xmpp_stanza_t *x;

    if (r->def->form == NULL) {
        r->def->run(r);
        return;
    }
    x = component_elem(NULL, "x", NS_DATA);
    xmpp_stanza_set_type(x, "form");
    component_text_elem(x, "title", r->def->name);
    if (r->def->form(r, x) < 0) {
        xmpp_stanza_release(x);
        commands_finish(r);
        return;
    }
    if (commands_session_add(r->sessionid, r->def,
                             xmpp_stanza_get_from(r->iq)) < 0)
        commands_error(r->iq, "wait", "resource-constraint", NULL,
                       "Too many commands are in progress; try later");
    else
        commands_reply_form(r, x);
    xmpp_stanza_release(x);
    commands_req_free(r);
}

/* Reads the values of a submitted form into r (they borrow from r->iq). */
static void commands_read_form(struct commands_req *r, xmpp_stanza_t *x)
{
    xmpp_stanza_t *f, *v;
    const char *var;

    for (f = xmpp_stanza_get_children(x); f; f = xmpp_stanza_get_next(f)) {
        var = xmpp_stanza_get_attribute(f, "var");
        if (!xmpp_stanza_is_tag(f) || var == NULL ||
            strcmp(xmpp_stanza_get_name(f), "field") != 0)
            continue;
        v = xmpp_stanza_get_child_by_name(f, "value");
        commands_value_add(r, var, v ? commands_text_of(v) : "");
    }
}

/* The form comes back (execute, next or complete) or is cancelled. */
static void commands_continue(struct commands_req *r, xmpp_stanza_t *c,
                              const char *action)
{
    const char *from = xmpp_stanza_get_from(r->iq);
    int cancel = strcmp(action, "cancel") == 0;
    xmpp_stanza_t *x = xmpp_stanza_get_child_by_ns(c, NS_DATA);
    const char *type = x ? xmpp_stanza_get_type(x) : NULL;

    if (!cancel && strcmp(action, "prev") == 0) {
        commands_error(r->iq, "modify", "bad-request", "bad-action",
                       "This command has a single stage");
    } else if (commands_session_take(r->sessionid, r->def, from,
                                     !cancel && x == NULL) < 0) {
        commands_error(r->iq, "modify", "bad-request", "bad-sessionid",
                       "No such session (it may have expired)");
    } else if (cancel) {
        xmpp_stanza_t *a = commands_answer_elem(r, "canceled");

        component_iq_result(r->iq, a);
        xmpp_stanza_release(a);
    } else if (x == NULL || type == NULL || strcmp(type, "submit") != 0) {
        commands_error(r->iq, "modify", "bad-request", "bad-payload",
                       "Fill in and submit the form");
    } else {
        commands_read_form(r, x);
        r->def->run(r);
        return;
    }
    commands_req_free(r);
}

/* 1 when action is one XEP-0050 defines. */
static int commands_action_known(const char *action)
{
    static const char *const known[] = {"execute", "next", "complete", "prev",
                                        "cancel"};
    size_t i;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(action, known[i]) == 0)
            return 1;
    return 0;
}

/* iq set <command/> to the gateway JID. */
static int commands_iq(xmpp_stanza_t *iq, xmpp_stanza_t *c, void *arg)
{
    const char *to = xmpp_stanza_get_to(iq);
    const char *action = xmpp_stanza_get_attribute(c, "action");
    const char *sid = xmpp_stanza_get_attribute(c, "sessionid");
    const struct commands_def *def =
        commands_find(xmpp_stanza_get_attribute(c, "node"));
    struct commands_req *r;
    char *jid;

    if ((to != NULL && strchr(to, '@') != NULL) ||
        strcmp(xmpp_stanza_get_type(iq), "set") != 0)
        return 0;
    jid = jid_bare(xmpp_stanza_get_from(iq));
    if (def == NULL) {
        commands_error(iq, "cancel", "item-not-found", NULL,
                       "This gateway has no such command");
    } else if (!commands_may(jid, def)) {
        commands_error(iq, "cancel", "forbidden", NULL,
                       commands_forbidden_text(def));
    } else if (action != NULL && !commands_action_known(action)) {
        commands_error(iq, "modify", "bad-request", "malformed-action",
                       "Unknown action");
    } else if (sid == NULL && action != NULL &&
               strcmp(action, "execute") != 0) {
        commands_error(iq, "modify", "bad-request", "bad-action",
                       "Execute the command first");
    } else {
        r = commands_req_new(def, jid);
        r->iq = xmpp_stanza_copy(iq);
        r->sessionid = sid ? xstrdup(sid) : component_new_id();
        if (sid == NULL)
            commands_start(r);
        else
            commands_continue(r,
                              xmpp_stanza_get_child_by_ns(r->iq, NS_COMMANDS),
                              action ? action : "execute");
    }
    free(jid);
    return 1;
}

/* ---- discovery ---- */

static xmpp_stanza_t *commands_disco_query(const char *node, int items)
{
    xmpp_stanza_t *q =
        component_elem(NULL, "query", items ? NS_DISCO_ITEMS : NS_DISCO_INFO);

    xmpp_stanza_set_attribute(q, "node", node);
    return q;
}

/* The commands jid may run, as disco items. */
static void commands_list(xmpp_stanza_t *q, const char *jid)
{
    const struct commands_def *d;
    xmpp_stanza_t *item;

    for (d = commands_table(); d->node != NULL; d++) {
        if (!commands_may(jid, d))
            continue;
        item = component_elem(q, "item", NULL);
        xmpp_stanza_set_attribute(item, "jid", component_jid());
        xmpp_stanza_set_attribute(item, "node", d->node);
        xmpp_stanza_set_attribute(item, "name", d->name);
    }
}

static void commands_identity(xmpp_stanza_t *q, const char *type,
                              const char *name)
{
    xmpp_stanza_t *id = component_elem(q, "identity", NULL);

    xmpp_stanza_set_attribute(id, "category", "automation");
    xmpp_stanza_set_attribute(id, "type", type);
    xmpp_stanza_set_attribute(id, "name", name);
}

static void commands_feature(xmpp_stanza_t *q, const char *var)
{
    xmpp_stanza_set_attribute(component_elem(q, "feature", NULL), "var", var);
}

/* disco#info and #items on the command list and on each command. */
static int commands_disco(xmpp_stanza_t *iq, const char *node, int items,
                          void *arg)
{
    const struct commands_def *def = commands_find(node);
    int list = strcmp(node, NS_COMMANDS) == 0;
    char *jid;
    xmpp_stanza_t *q;

    if (!list && def == NULL)
        return 0;
    jid = jid_bare(xmpp_stanza_get_from(iq));
    if (!list && !commands_may(jid, def)) {
        component_error_reply(iq, "cancel", "forbidden",
                              commands_forbidden_text(def));
        free(jid);
        return 1;
    }
    q = commands_disco_query(node, items);
    if (list && items) {
        commands_list(q, jid);
    } else if (!items) {
        commands_identity(q, list ? "command-list" : "command-node",
                          list ? "Commands" : def->name);
        commands_feature(q, NS_COMMANDS);
        commands_feature(q, NS_DATA);
    }
    component_iq_result(iq, q);
    xmpp_stanza_release(q);
    free(jid);
    return 1;
}

/* ---- chat commands ---- */

/* The list of commands jid may type. */
static char *commands_help(const char *jid)
{
    const struct commands_def *d;
    struct buf b;
    int admin = commands_is_admin(jid), user = commands_domain_allowed(jid);

    buf_init(&b, COMMANDS_TEXT_MAX);
    buf_appendf(&b,
                "This is a WhatsApp gateway. Send one of these "
                "commands as a message to %s (or use your client's "
                "ad-hoc commands):\nhelp - this text",
                component_jid());
    for (d = commands_table(); d->node != NULL; d++) {
        if (commands_may(jid, d))
            buf_appendf(&b, "\n%s%s - %s", d->admin ? "[admin] " : "", d->usage,
                        d->help);
    }
    if (user)
        buf_appendf(&b,
                    "\nOnce registered, write to +<phone number>@%s to "
                    "chat with a WhatsApp number.",
                    component_jid());
    if (!user && !admin)
        buf_appendf(&b, "\n%s.", REGISTER_FORBIDDEN_TEXT);
    return buf_take(&b);
}

/* Splits the first words of body into r->words (at most
 * COMMANDS_MAX_WORDS; the keyword lower-cased); their number. */
static int commands_split(struct commands_req *r, const char *body, char **w)
{
    size_t n = strnlen(body, COMMANDS_CHAT_MAX);
    char *p;
    int nw = 0;

    r->words = xstrndup(body, n);
    for (p = r->words; *p != '\0' && nw < COMMANDS_MAX_WORDS;) {
        while (*p != '\0' && isspace((unsigned char)*p))
            *p++ = '\0';
        if (*p == '\0')
            break;
        w[nw++] = p;
        while (*p != '\0' && !isspace((unsigned char)*p))
            p++;
    }
    for (p = nw > 0 ? w[0] : r->words; nw > 0 && *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    return nw;
}

/* Maps the words after the keyword to the command's values; -1 when they
 * do not fit its usage. */
static int commands_chat_args(struct commands_req *r, char **w, int nw)
{
    const struct commands_def *d = r->def;
    int i, nargs = 0;

    while (nargs < COMMANDS_MAX_ARGS && d->args[nargs] != NULL)
        nargs++;
    if (nw - 1 < d->nrequired || nw - 1 > nargs)
        return -1;
    for (i = 1; i < nw; i++)
        commands_value_add(r, d->args[i - 1], w[i]);
    return 0;
}

/* Runs def for a chat message whose words are w. */
static void commands_chat_run(struct commands_req *r,
                              const struct commands_def *def, char **w, int nw)
{
    r->def = def;
    if (commands_chat_args(r, w, nw) < 0) {
        commands_fail(r, "Usage: %s", def->usage);
        commands_finish(r);
        return;
    }
    def->run(r);
}

void commands_on_message(xmpp_stanza_t *st)
{
    struct message_in in;
    char *jid, *w[COMMANDS_MAX_WORDS], *help;
    const struct commands_def *def;
    struct commands_req *r;
    int nw;

    message_parse(st, &in);
    jid = in.from ? jid_bare(in.from) : NULL;
    if (jid == NULL || in.body == NULL) {
        free(jid);
        return;
    }
    r = commands_req_new(NULL, jid);
    r->to = xstrdup(in.from);
    nw = commands_split(r, in.body, w);
    def = nw > 0 ? commands_find(w[0]) : NULL;
    if (def != NULL && !commands_may(jid, def)) {
        message_error_reply(st, "cancel", "forbidden",
                            commands_forbidden_text(def));
        commands_req_free(r);
    } else if (def == NULL && !commands_is_admin(jid) &&
               !commands_domain_allowed(jid)) {
        message_error_reply(st, "cancel", "forbidden", REGISTER_FORBIDDEN_TEXT);
        commands_req_free(r);
    } else if (def == NULL) {
        help = commands_help(jid);
        commands_say(r, "%s", help);
        free(help);
        commands_finish(r);
    } else {
        commands_chat_run(r, def, w, nw);
    }
    free(jid);
}

/* ---- set-up ---- */

/* A lower-cased copy of s. */
static char *commands_lower(const char *s)
{
    char *c = xstrdup(s ? s : ""), *p;

    for (p = c; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    return c;
}

void commands_reconfigure(const struct conf *conf)
{
    free(cs.admins);
    cs.admins = commands_lower(conf->gateway_admins);
}

void commands_init(struct store *st, const struct conf *conf,
                   const struct commands_ops *ops)
{
    commands_run_init(st, ops);
    commands_reconfigure(conf);
    component_iq_register(NS_COMMANDS, commands_iq, NULL);
    disco_node_handler_add(commands_disco, NULL);
    disco_feature_add(NS_COMMANDS);
}

void commands_free(void)
{
    struct commands_session *s;

    while ((s = cs.sessions) != NULL) {
        cs.sessions = s->next;
        commands_session_free(s);
    }
    cs.nsessions = 0;
    commands_run_free();
    settings_free();
    free(cs.admins);
    cs.admins = NULL;
}
