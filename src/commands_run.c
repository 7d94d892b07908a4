/* SPDX-License-Identifier: MIT */
/* The gateway's commands: for users Register, Unregister, Status and
 * Settings; for admins List users, Statistics, Retry failed messages and
 * Delete a user. Each has an optional form and a run function that works
 * the same for ad-hoc and chat requests (commands.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "commands_int.h"
#include "component.h"
#include "jid.h"
#include "metrics.h"
#include "register.h"
#include "settings.h"
#include "store.h"
#include "store_room.h"
#include "util.h"

#define COMMANDS_NOT_REGISTERED                                                \
    "You are not registered with this gateway: run the Register command "      \
    "first"
#define COMMANDS_NOT_REMOVED                                                   \
    "The gateway could not delete the registration (a store error): "          \
    "nothing was removed, try again"

/* What the commands use. */
static struct {
    struct store *st;
    struct commands_ops ops;
    long long started_ms;
    char *register_usage;
} commands;

/* ---- helpers ---- */

struct store *commands_store(void)
{
    return commands.st;
}

const struct commands_ops *commands_ops_get(void)
{
    return &commands.ops;
}

/* 1 or 0 for a boolean typed or submitted ("1", "true", "on", ...); -1 when
 * it is none. */
static int commands_bool(const char *s)
{
    static const char *const yes[] = {"1", "true", "on", "yes"};
    static const char *const no[] = {"0", "false", "off", "no"};
    size_t i;

    for (i = 0; s != NULL && i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return 1;
        if (strcasecmp(s, no[i]) == 0)
            return 0;
    }
    return -1;
}

static void commands_required(xmpp_stanza_t *field)
{
    component_elem(field, "required", NULL);
}

struct store_account *commands_account(struct commands_req *r)
{
    struct store_account *a = store_account_by_jid(commands.st, r->jid);

    if (a == NULL)
        commands_fail(r, COMMANDS_NOT_REGISTERED);
    return a;
}

static void commands_show_ll(struct commands_req *r, const char *var,
                             const char *label, long long v)
{
    char num[32];

    snprintf(num, sizeof(num), "%lld", v);
    commands_show(r, var, label, num);
}

char *commands_target(struct commands_req *r, const char *jid)
{
    char *bare = jid ? jid_bare(jid) : NULL;

    if (bare == NULL || strchr(bare, '@') == NULL) {
        commands_fail(r, "Not a user's JID: %s", jid ? jid : "(none)");
        free(bare);
        return NULL;
    }
    return bare;
}

/* ---- settings ---- */

/* Shows the settings json of account id. */
static void commands_settings_show(struct commands_req *r, long long id,
                                   const char *json)
{
    commands_show(r, SETTINGS_TYPING, "Typing notifications",
                  settings_get(id, json, SETTINGS_TYPING) ? "on" : "off");
    commands_show(r, SETTINGS_RECEIPTS, "Delivery receipts",
                  settings_get(id, json, SETTINGS_RECEIPTS) ? "on" : "off");
}

/* ---- Register ---- */

/* The chat words after "register <network>", when several are offered. */
static const char *const commands_register_words[] = {"word1", "word2"};

/* 1 when the user chooses among several networks. */
static int commands_several(void)
{
    return commands.ops.networks != NULL && commands.ops.networks->n > 1;
}

/* The network choice and every network's fields (none required: each is
 * only for its network). */
static void commands_register_networks(xmpp_stanza_t *x,
                                       const struct store_account *a)
{
    const struct login_networks *ns = commands.ops.networks;
    const struct login_field *f;
    xmpp_stanza_t *field, *o;
    int i;

    field = commands_field(x, LOGIN_NETWORK, "list-single", "Network",
                           a != NULL ? a->backend : ns->name[0]);
    commands_required(field);
    for (i = 0; i < ns->n; i++) {
        o = component_elem(field, "option", NULL);
        xmpp_stanza_set_attribute(o, "label", ns->form[i]->title);
        component_text_elem(o, "value", ns->name[i]);
    }
    for (i = 0; i < ns->n; i++)
        for (f = ns->form[i]->fields; f->var != NULL; f++)
            commands_field(
                x, f->var, f->secret ? "text-private" : "text-single", f->label,
                f->account && a != NULL && strcmp(a->backend, ns->name[i]) == 0
                    ? a->network_id
                    : NULL);
}

static int commands_register_form(struct commands_req *r, xmpp_stanza_t *x)
{
    const struct login_form *form = commands.ops.form;
    struct store_account *a = store_account_by_jid(commands.st, r->jid);
    const struct login_field *f;
    const char *value;
    xmpp_stanza_t *field;

    if (commands_several()) {
        component_text_elem(x, "instructions",
                            "Choose the network, then fill in its fields.");
        commands_register_networks(x, a);
        store_account_free(a);
        return 0;
    }
    component_text_elem(x, "instructions", form->instructions);
    for (f = form->fields; f->var != NULL; f++) {
        value = f->account && a != NULL ? a->network_id : NULL;
        field = commands_field(x, f->var,
                               f->secret ? "text-private" : "text-single",
                               f->label, value);
        if (f->required)
            commands_required(field);
    }
    store_account_free(a);
    return 0;
}

/* The value of a form's field i: by name, or typed as the i-th word after
 * the network in a chat. */
static const char *commands_register_value(struct commands_req *r,
                                           const struct login_field *f, int i)
{
    if (r->iq != NULL || !commands_several())
        return commands_value(r, f->var);
    return i < (int)(sizeof(commands_register_words) /
                     sizeof(commands_register_words[0]))
               ? commands_value(r, commands_register_words[i])
               : NULL;
}

/* The credentials submitted or typed (borrowed from r) and the form of
 * the network they are for; NULL (and *why) when there is no such
 * network. */
static const struct login_form *commands_register_creds(struct commands_req *r,
                                                        struct login_creds *c,
                                                        const char **why)
{
    const struct login_form *form = commands.ops.form;
    const struct login_field *f;
    int i = 0;

    memset(c, 0, sizeof(*c));
    if (commands_several()) {
        login_add(c, LOGIN_NETWORK, commands_value(r, LOGIN_NETWORK));
        form = login_chosen_form(commands.ops.networks, c, why);
        if (form == NULL)
            return NULL;
    }
    for (f = form->fields; f->var != NULL; f++)
        login_add(c, f->var, commands_register_value(r, f, i++));
    return form;
}

/* After a chat Register: where the secret went. */
static void commands_secret_note(struct commands_req *r)
{
    struct login_creds c;
    const struct login_form *form;
    const char *why;

    form = commands_register_creds(r, &c, &why);
    if (r->iq == NULL && form != NULL && login_has_secret(form, &c))
        commands_say(r, "%s", form->chat_note);
}

/* The bridge has checked and stored the credentials (or not). */
static void commands_registered(int ok, const char *text, void *arg)
{
    struct commands_req *r = arg;
    struct login_creds c;
    const struct login_form *form;
    const char *why;

    form = commands_register_creds(r, &c, &why);
    if (ok)
        commands_say(r,
                     "Registered: your %s is %s. "
                     "Write to +<phone number>@%s to chat.",
                     form ? form->account_noun : "account", text,
                     component_jid());
    else
        commands_fail(r, "Registration failed: %s", text);
    commands_secret_note(r);
    commands_finish(r);
}

static void commands_register_run(struct commands_req *r)
{
    struct login_creds c;
    const struct login_form *form;
    const char *why;

    form = commands_register_creds(r, &c, &why);
    if (form == NULL || login_check(form, &c, &why) < 0) {
        commands_fail(r, "%s", why);
    } else {
        commands.ops.register_account(r->jid, &c, commands_registered, r,
                                      commands.ops.arg);
        return;
    }
    commands_secret_note(r);
    commands_finish(r);
}

/* ---- Unregister ---- */

static int commands_unregister_form(struct commands_req *r, xmpp_stanza_t *x)
{
    struct store_account *a = commands_account(r);

    if (a == NULL)
        return -1;
    store_account_free(a);
    component_text_elem(x, "instructions",
                        "Unregistering deletes your registration and "
                        "everything the gateway keeps for you: contacts, "
                        "message history and queued messages.");
    commands_required(
        commands_field(x, "confirm", "boolean", "Yes, unregister", "0"));
    return 0;
}

static void commands_unregister_run(struct commands_req *r)
{
    if (r->iq != NULL && commands_bool(commands_value(r, "confirm")) != 1)
        commands_say(r, "Nothing was changed.");
    else
        switch (commands.ops.unregister(r->jid, commands.ops.arg)) {
        case 0:
            commands_say(r, "You are unregistered; everything the gateway "
                            "kept for you is deleted.");
            break;
        case -1:
            commands_fail(r, COMMANDS_NOT_REGISTERED);
            break;
        default:
            commands_fail(r, COMMANDS_NOT_REMOVED);
        }
    commands_finish(r);
}

/* ---- Login ---- */

static void commands_login_done(int ok, const char *text, void *arg)
{
    struct commands_req *r = arg;

    if (ok)
        commands_say(r, "%s.", text);
    else
        commands_fail(r, "Login failed: %s", text);
    commands_finish(r);
}

static void commands_login_run(struct commands_req *r)
{
    struct store_account *a = commands_account(r);

    if (a == NULL) {
        commands_finish(r);
        return;
    }
    store_account_free(a);
    commands.ops.login(r->jid, commands_login_done, r, commands.ops.arg);
}

/* ---- Status ---- */

/* The login form of a's network (the default one when it is gone). */
static const struct login_form *commands_form_of(const struct store_account *a)
{
    const struct login_form *f =
        commands.ops.networks
            ? login_networks_form(commands.ops.networks, a->backend)
            : NULL;

    return f != NULL ? f : commands.ops.form;
}

static void commands_status_account(struct commands_req *r,
                                    const struct store_account *a)
{
    struct store_stats s;
    char *err = a->last_error ? xstrdup(a->last_error)
                              : store_outbox_last_error(commands.st, a->id);
    const struct login_form *form = commands_form_of(a);
    const struct login_field *id = login_account_field(form);

    if (store_stats_get(commands.st, a->id, &s) < 0)
        memset(&s, 0, sizeof(s));
    commands_show(r, "state", "Account state", a->state);
    commands_show(r, "number", form->account_label,
                  a->display_number ? a->display_number : "unknown");
    if (id != NULL)
        commands_show(r, id->var, id->label, a->network_id);
    commands_show_ll(r, "outbox", "Outgoing messages waiting", s.outbox_queued);
    commands_show_ll(r, "failed", "Outgoing messages failed", s.outbox_failed);
    commands_show_ll(r, "inbox", "Incoming messages waiting", s.inbox);
    commands_show_ll(r, "held", "Incoming messages held until you are online",
                     s.inbox_held);
    commands_show(r, "last_error", "Last error", err ? err : "none");
    commands_settings_show(r, a->id, a->settings);
    free(err);
}

static void commands_status_run(struct commands_req *r)
{
    struct store_account *a = commands_account(r);

    if (a != NULL)
        commands_status_account(r, a);
    store_account_free(a);
    commands_finish(r);
}

/* ---- Groups ---- */

#define COMMANDS_GROUPS_MAX 200 /* rooms listed in one answer */

/* The user's WhatsApp groups with their room JIDs, one a line. */
static void commands_groups_run(struct commands_req *r)
{
    struct store_account *a = commands_account(r);
    struct store_room **rooms = NULL;
    size_t i, n = 0;
    char *jid;

    if (a != NULL &&
        store_room_list(commands.st, a->id, COMMANDS_GROUPS_MAX, &rooms, &n) ==
            0 &&
        n == 0)
        commands_say(r, "You are in no WhatsApp group (yet).");
    for (i = 0; i < n; i++) {
        jid = jid_of(rooms[i]->group_id, component_jid());
        if (jid != NULL)
            commands_say(
                r, "%s: xmpp:%s?join",
                rooms[i]->subject[0] ? rooms[i]->subject : "(no subject)", jid);
        free(jid);
        store_room_free(rooms[i]);
    }
    free(rooms);
    store_account_free(a);
    commands_finish(r);
}

/* ---- Settings ---- */

static void commands_setting_field(xmpp_stanza_t *x, const char *var,
                                   const char *label,
                                   const struct store_account *a)
{
    commands_field(x, var, "boolean", label,
                   settings_get(a->id, a->settings, var) ? "1" : "0");
}

static int commands_settings_form(struct commands_req *r, xmpp_stanza_t *x)
{
    struct store_account *a = commands_account(r);

    if (a == NULL)
        return -1;
    commands_setting_field(x, SETTINGS_TYPING,
                           "Send my typing notifications to WhatsApp", a);
    commands_setting_field(x, SETTINGS_RECEIPTS,
                           "Delivery receipts from WhatsApp contacts", a);
    store_account_free(a);
    return 0;
}

/* Sets key in the settings text *json to the boolean value, if one was
 * given; -1 when it is not a boolean. */
static int commands_settings_apply(struct commands_req *r, char **json,
                                   const char *key, const char *value)
{
    int on = commands_bool(value);
    char *next;

    if (value == NULL)
        return 0;
    if (on < 0) {
        commands_fail(r, "Usage: %s", r->def->usage);
        return -1;
    }
    next = settings_with(*json, key, on);
    free(*json);
    *json = next;
    return 0;
}

/* The changes asked for: chat "settings <key> <on|off>", or the form. */
static int commands_settings_change(struct commands_req *r, char **json)
{
    const char *key = commands_value(r, "setting");

    if (key == NULL) {
        if (commands_settings_apply(r, json, SETTINGS_TYPING,
                                    commands_value(r, SETTINGS_TYPING)) < 0)
            return -1;
        return commands_settings_apply(r, json, SETTINGS_RECEIPTS,
                                       commands_value(r, SETTINGS_RECEIPTS));
    }
    if ((strcmp(key, SETTINGS_TYPING) != 0 &&
         strcmp(key, SETTINGS_RECEIPTS) != 0) ||
        commands_value(r, "value") == NULL) {
        commands_fail(r, "Usage: %s", r->def->usage);
        return -1;
    }
    return commands_settings_apply(r, json, key, commands_value(r, "value"));
}

static void commands_settings_run(struct commands_req *r)
{
    struct store_account *a = commands_account(r);
    char *json = a ? xstrdup(a->settings ? a->settings : "{}") : NULL;

    if (a != NULL && commands_settings_change(r, &json) == 0) {
        if (settings_store(commands.st, a->id, json) < 0)
            commands_fail(r, "The gateway could not store your settings");
        else
            commands_settings_show(r, a->id, json);
    }
    free(json);
    store_account_free(a);
    commands_finish(r);
}

/* ---- List users (admin) ---- */

static int commands_users_row(const struct store_account *a, void *arg)
{
    struct commands_req *r = arg;
    const char *number = a->display_number ? a->display_number : a->network_id;
    xmpp_stanza_t *item;

    if (r->form != NULL) {
        item = component_elem(r->form, "item", NULL);
        commands_field(item, "jid", NULL, NULL, a->jid);
        commands_field(item, "number", NULL, NULL, number);
        commands_field(item, "state", NULL, NULL, a->state);
    }
    commands_say(r, "%s  %s  %s", a->jid, number, a->state);
    return 0;
}

static void commands_users_run(struct commands_req *r)
{
    xmpp_stanza_t *x = commands_result_form(r, r->def->name);
    xmpp_stanza_t *rep;

    if (x != NULL) {
        rep = component_elem(x, "reported", NULL);
        commands_field(rep, "jid", "jid-single", "JID", NULL);
        commands_field(rep, "number", "text-single",
                       commands.ops.form->account_label, NULL);
        commands_field(rep, "state", "text-single", "State", NULL);
    }
    commands_say(r, "%lld registered user(s)",
                 store_account_count(commands.st));
    store_account_foreach(commands.st, commands_users_row, r);
    commands_finish(r);
}

/* ---- Statistics (admin) ---- */

static void commands_stats_messages(struct commands_req *r,
                                    const struct store_stats *s)
{
    const long long *out = s->messages[1], *in = s->messages[0];

    commands_show_ll(r, "out_queued", "Messages to WhatsApp: queued",
                     out[STORE_STATUS_QUEUED]);
    commands_show_ll(r, "out_sent", "Messages to WhatsApp: sent",
                     out[STORE_STATUS_SENT]);
    commands_show_ll(r, "out_delivered", "Messages to WhatsApp: delivered",
                     out[STORE_STATUS_DELIVERED]);
    commands_show_ll(r, "out_read", "Messages to WhatsApp: read",
                     out[STORE_STATUS_READ]);
    commands_show_ll(r, "out_failed", "Messages to WhatsApp: failed",
                     out[STORE_STATUS_FAILED]);
    commands_show_ll(r, "in_delivered", "Messages from WhatsApp: delivered",
                     in[STORE_STATUS_DELIVERED]);
    commands_show_ll(r, "in_read", "Messages from WhatsApp: read",
                     in[STORE_STATUS_READ]);
}

static void commands_stats_run(struct commands_req *r)
{
    struct store_stats s;

    if (store_stats_get(commands.st, 0, &s) < 0) {
        commands_fail(r, "The gateway's database did not answer");
        commands_finish(r);
        return;
    }
    commands_show_ll(r, "users", "Registered users", s.accounts);
    commands_show_ll(r, "users_paused", "Users whose credentials were rejected",
                     s.accounts_paused);
    commands_stats_messages(r, &s);
    commands_show_ll(r, "outbox", "Outgoing queue", s.outbox_queued);
    commands_show_ll(r, "failed", "Outgoing failed (retryable)",
                     s.outbox_failed);
    commands_show_ll(r, "inbox", "Incoming queue", s.inbox);
    commands_show_ll(r, "held", "Incoming held for offline users (bounced)",
                     s.inbox_held);
    commands_show_ll(r, "uptime", "Uptime (seconds)",
                     (now_ms() - commands.started_ms) / 1000);
    commands_show_ll(r, "reconnects", "Reconnects to the XMPP server",
                     (long long)component_reconnects());
    commands_finish(r);
}

/* ---- Retry failed messages (admin) ---- */

static int commands_retry_form(struct commands_req *r, xmpp_stanza_t *x)
{
    component_text_elem(x, "instructions",
                        "Queue the failed outgoing messages again: those of "
                        "one user, or of everybody when the JID is empty.");
    commands_field(x, "jid", "jid-single", "User (empty: everybody)", NULL);
    return 0;
}

static void commands_retry_run(struct commands_req *r)
{
    const char *jid = commands_value(r, "jid");
    char *bare = NULL;
    struct store_account *a = NULL;
    long long n;

    if (jid != NULL && jid[0] != '\0') {
        bare = commands_target(r, jid);
        a = bare ? store_account_by_jid(commands.st, bare) : NULL;
        if (bare != NULL && a == NULL)
            commands_fail(r, "%s is not registered", bare);
        if (a == NULL)
            goto out;
    }
    n = commands.ops.retry_failed(bare, commands.ops.arg);
    if (n < 0)
        commands_fail(r, "The failed messages could not be queued again");
    else
        commands_say(r, "%lld failed message(s) queued again%s%s", n,
                     bare ? " for " : "", bare ? bare : "");
out:
    store_account_free(a);
    free(bare);
    commands_finish(r);
}

/* ---- Delete a user (admin) ---- */

static int commands_delete_form(struct commands_req *r, xmpp_stanza_t *x)
{
    component_text_elem(x, "instructions",
                        "Unregister a user and delete everything the gateway "
                        "keeps for them.");
    commands_required(
        commands_field(x, "jid", "jid-single", "User to delete", NULL));
    return 0;
}

static void commands_delete_run(struct commands_req *r)
{
    char *bare = commands_target(r, commands_value(r, "jid"));

    if (bare != NULL) {
        switch (commands.ops.unregister(bare, commands.ops.arg)) {
        case 0:
            commands_say(r, "%s is unregistered and their data deleted", bare);
            break;
        case -1:
            commands_fail(r, "%s is not registered", bare);
            break;
        default:
            commands_fail(r, COMMANDS_NOT_REMOVED);
        }
    }
    free(bare);
    commands_finish(r);
}

/* ---- the table ---- */

/* The commands; Register's usage, help and words come from the back end's
 * login form (commands_run_init()). */
static struct commands_def commands_defs[] = {
    {
        .node = "register",
        .name = "Register",
        .form = commands_register_form,
        .run = commands_register_run,
    },
    {
        .node = "unregister",
        .name = "Unregister",
        .usage = "unregister",
        .help = "delete your registration and everything kept for you",
        .form = commands_unregister_form,
        .run = commands_unregister_run,
    },
    {
        .node = "login",
        .name = "Login",
        .usage = "login",
        .help = "link your WhatsApp account again (a new QR code)",
        .run = commands_login_run,
    },
    {
        .node = "status",
        .name = "Status",
        .usage = "status",
        .help = "your account's state, queues and last error",
        .run = commands_status_run,
    },
    {
        .node = "groups",
        .name = "Groups",
        .usage = "groups",
        .help = "your WhatsApp groups and their rooms",
        .run = commands_groups_run,
    },
    {
        .node = "settings",
        .name = "Settings",
        .usage = "settings [typing|receipts on|off]",
        .help = "show or change your settings",
        .args = {"setting", "value"},
        .form = commands_settings_form,
        .run = commands_settings_run,
    },
    {
        .node = "team",
        .name = "Team",
        .usage = "team [add|remove <jid> | status | waba <id>]",
        .help = "the people who answer your business number with you",
        .args = {"action", "jid"},
        .form = commands_team_form,
        .run = commands_team_run,
    },
    {
        .node = "users",
        .name = "List users",
        .usage = "users",
        .help = "the registered users",
        .admin = 1,
        .run = commands_users_run,
    },
    {
        .node = "stats",
        .name = "Statistics",
        .usage = "stats",
        .help = "message and queue figures",
        .admin = 1,
        .run = commands_stats_run,
    },
    {
        .node = "retry",
        .name = "Retry failed messages",
        .usage = "retry [jid]",
        .help = "queue failed outgoing messages again, of one user or of all",
        .admin = 1,
        .args = {"jid"},
        .form = commands_retry_form,
        .run = commands_retry_run,
    },
    {
        .node = "delete",
        .name = "Delete a user",
        .usage = "delete <jid>",
        .help = "unregister a user and delete their data",
        .admin = 1,
        .args = {"jid"},
        .nrequired = 1,
        .form = commands_delete_form,
        .run = commands_delete_run,
    },
    {.node = NULL},
};

const struct commands_def *commands_table(void)
{
    return commands_defs;
}

const struct commands_def *commands_find(const char *name)
{
    const struct commands_def *d;

    for (d = commands_defs; name != NULL && d->node != NULL; d++)
        if (!d->hidden && strcmp(d->node, name) == 0)
            return d;
    return NULL;
}

/* ---- set-up ---- */

/* Register as a chat command with several networks: the network, then
 * its fields in order ("register cloudapi <id> <token>"). */
static void commands_register_def_networks(struct commands_def *d,
                                           struct buf *b)
{
    const struct login_networks *ns = commands.ops.networks;
    const struct login_field *f;
    size_t i;
    int n;

    buf_appendf(b, " <network> ...:");
    for (n = 0; n < ns->n; n++) {
        buf_appendf(b, " %s %s", n == 0 ? "" : ";", ns->name[n]);
        for (f = ns->form[n]->fields; f->var != NULL; f++)
            buf_appendf(b, f->required ? " <%s>" : " [%s]", f->var);
    }
    d->args[0] = LOGIN_NETWORK;
    for (i = 0; i < sizeof(commands_register_words) /
                        sizeof(commands_register_words[0]) &&
                i + 1 < COMMANDS_MAX_ARGS;
         i++)
        d->args[i + 1] = commands_register_words[i];
    d->nrequired = 1;
    free(commands.register_usage);
    commands.register_usage = buf_take(b);
    d->usage = commands.register_usage;
    d->help = "register with one of the networks of this gateway";
}

/* Register as a chat command: its words are the login form's fields. */
static void commands_register_def(struct commands_def *d,
                                  const struct login_form *form)
{
    const struct login_field *f;
    struct buf b;
    int n = 0;

    memset(d->args, 0, sizeof(d->args));
    buf_init(&b, COMMANDS_TEXT_MAX);
    buf_appendf(&b, "%s", d->node);
    d->nrequired = 0;
    if (commands_several()) {
        commands_register_def_networks(d, &b);
        return;
    }
    for (f = form->fields; f->var != NULL && n < COMMANDS_MAX_ARGS; f++) {
        buf_appendf(&b, f->required ? " <%s>" : " [%s]", f->var);
        d->args[n++] = f->var;
        d->nrequired += f->required;
    }
    free(commands.register_usage);
    commands.register_usage = buf_take(&b);
    d->usage = commands.register_usage;
    d->help = form->chat_help;
}

void commands_run_init(struct store *st, const struct commands_ops *ops)
{
    struct commands_def *d;

    commands.st = st;
    commands.ops = *ops;
    commands.started_ms = now_ms();
    commands_register_def(&commands_defs[0], ops->form);
    for (d = commands_defs; d->node != NULL; d++)
        if (d->run == commands_login_run)
            d->hidden = ops->login == NULL;
        else if (d->run == commands_groups_run)
            d->hidden = !ops->groups;
}

void commands_run_free(void)
{
    free(commands.register_usage);
    commands.register_usage = NULL;
}
