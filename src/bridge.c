/* SPDX-License-Identifier: MIT */
/* The bridge's wiring: the entry of a user's stanzas, registration and the
 * commands' network side, the queue's dispatch of outbox rows, and the
 * callbacks that tie the component, registration, commands, queue and the
 * back end's webhook to the bridge's files (bridge_core.c at the bottom;
 * bridge_media.c, bridge_sent.c on it; bridge_in.c, bridge_out.c on top).
 * Nothing else knows both sides. */
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "bridge_core.h"
#include "bridge_history.h"
#include "bridge_in.h"
#include "bridge_job.h"
#include "bridge_login.h"
#include "bridge_media.h"
#include "bridge_muc.h"
#include "bridge_out.h"
#include "bridge_presence.h"
#include "bridge_sent.h"
#include "bridge_team.h"
#include "commands.h"
#include "component.h"
#include "conf.h"
#include "disco.h"
#include "httpd.h"
#include "jid.h"
#include "log.h"
#include "message.h"
#include "net.h"
#include "queue.h"
#include "register.h"
#include "roster.h"
#include "settings.h"
#include "store.h"
#include "util.h"

#define BRIDGE_WEBHOOK_MAX (4 * 1024 * 1024) /* Meta: up to 3 MB */
/* An account whose domain left gateway.allowed_domains: kept, refused. */
#define BRIDGE_DOMAIN_GONE                                                     \
    "Your server's domain is no longer allowed to use this gateway, so "       \
    "nothing is sent to WhatsApp; your registration is kept until the "        \
    "gateway's admin deletes it"

/* One webhook route per back end: /webhook/<name>. */
static char *bridge_webhook_paths[NET_MAX_BACKENDS];
/* The networks registration offers: the back ends in use. */
static struct login_networks bridge_networks;

/* ---- the queue's outbox rows ---- */

/* A row's send state, for bridge_send_done(). */
static struct bridge_send *bridge_send_new(const struct store_outbox *o)
{
    struct bridge_send *s = xcalloc(1, sizeof(*s));

    s->outbox_id = o->id;
    s->account_id = o->account_id;
    s->contact_id = o->contact_id;
    s->message_id = o->message_id;
    s->unknown = o->unknown;
    return s;
}

/* Sends job j of row o (NULL: a row of unknown kind) when its account may
 * send: a file through the media side, the rest through the out side. */
static void bridge_send_row(const struct store_outbox *o,
                            const struct bridge_job *j)
{
    struct store_account *a =
        store_account_by_id(bridge_store(), o->account_id);
    struct store_contact *c =
        store_contact_by_id(bridge_store(), o->contact_id);
    struct bridge_send *s = bridge_send_new(o);

    if (j == NULL) {
        log_warn("bridge: outbox row %lld of unknown kind", o->id);
        bridge_send_end(s, NET_FAIL,
                        "The gateway cannot read this queued message");
    } else if (a != NULL && c != NULL && !register_domain_allowed(a->jid)) {
        bridge_send_end(s, NET_FAIL, BRIDGE_DOMAIN_GONE);
    } else if (a != NULL && c != NULL &&
               net_set_find(bridge_backends(), a->backend) == NULL) {
        bridge_send_end(s, NET_FAIL,
                        "The gateway no longer serves your network: register "
                        "again");
    } else if (a == NULL || c == NULL || strcmp(a->state, "active") != 0) {
        bridge_send_end(s, a == NULL || c == NULL ? NET_FAIL : NET_AUTH,
                        a && a->last_error
                            ? a->last_error
                            : "Your WhatsApp account is not usable: "
                              "register again");
    } else if (j->kind == BRIDGE_JOB_MEDIA) {
        bridge_media_send(j, a, c, s);
    } else {
        bridge_out_send(j, a, c, s);
    }
    store_account_free(a);
    store_contact_free(c);
}

/* The queue chose an outbox row: a received file's fetch goes its own way,
 * everything else is a send. */
static void bridge_send(const struct store_outbox *o, void *arg)
{
    struct bridge_job j;
    int known = bridge_job_decode(o->kind, o->payload, &j) == 0;

    if (known && j.kind == BRIDGE_JOB_FETCH)
        bridge_media_fetch(o, &j);
    else if (known && (j.kind == BRIDGE_JOB_ROOM_TEXT ||
                       j.kind == BRIDGE_JOB_ROOM_REACTION ||
                       j.kind == BRIDGE_JOB_ROOM_READ ||
                       j.kind == BRIDGE_JOB_ROOM_EDIT ||
                       j.kind == BRIDGE_JOB_ROOM_RETRACT ||
                       j.kind == BRIDGE_JOB_ROOM_MEDIA))
        bridge_muc_send(o, &j);
    else
        bridge_send_row(o, known ? &j : NULL);
    bridge_job_reset(&j);
}

/* ---- XMPP -> network: the entry ---- */

/* A message error from a user's server: when it bounces a message the
 * inbox gave it (same id), the message is held for the user. */
static void bridge_on_bounce(xmpp_stanza_t *st, const struct message_in *in)
{
    struct store_account *a;
    char *bare;

    if (in->id == NULL || in->to == NULL || strchr(in->to, '@') == NULL)
        return;
    bare = jid_bare(in->from);
    a = bare ? bridge_team_account(bare) : NULL;
    if (a != NULL)
        queue_in_bounced(a->id, bare, in->id, message_error_condition(st));
    store_account_free(a);
    free(bare);
}

/* A presence: to a room, or the roster's (a contact newly on a roster may
 * have a picture to ask for). */
static void bridge_on_presence(xmpp_stanza_t *st, void *arg)
{
    const char *type = xmpp_stanza_get_type(st);

    if (bridge_muc_presence(st))
        return;
    roster_on_presence(st, arg);
    if (type != NULL &&
        (strcmp(type, "subscribe") == 0 || strcmp(type, "subscribed") == 0))
        bridge_presence_kick();
}

/* 1 when the account may write to network id wa: a phone number, or a
 * hidden linked id that wrote to it (its contact, or an alias of one). */
static int bridge_contact_ok(const struct store_account *a, const char *wa)
{
    struct store_contact *c;

    if (jid_kind_of(wa) == JID_KIND_PHONE)
        return 1;
    c = jid_is_lid(wa) ? store_contact_get(bridge_store(), a->id, wa) : NULL;
    store_contact_free(c);
    return c != NULL;
}

/* A message stanza to the gateway or a contact JID. */
static void bridge_on_message(xmpp_stanza_t *st, void *arg)
{
    struct message_in in;
    struct store_account *a;
    char *bare, *wa = NULL;

    if (roster_on_privilege(st))
        return; /* XEP-0356: what the user's server lets us do */
    message_parse(st, &in);
    if (strcmp(in.type, "error") == 0) {
        bridge_on_bounce(st, &in);
        return;
    }
    if (in.to == NULL || bridge_muc_user_message(st, &in))
        return; /* to a room: its own way */
    if (strcmp(in.type, "groupchat") == 0)
        return;
    if (strchr(in.to, '@') == NULL) {
        if (in.body != NULL)
            commands_on_message(st); /* to the gateway: a chat command */
        return;
    }
    store_txn_begin(
        bridge_store()); /* the lookups too: one transaction per loop turn */
    bare = jid_bare(in.from);
    a = bare ? bridge_team_account(bare) : NULL; /* its own or its team's */
    if (a == NULL) {
        if (in.body != NULL)
            message_error_reply(st, "auth", "registration-required",
                                "Register with this gateway first");
    } else if (!register_domain_allowed(a->jid)) {
        if (in.body != NULL)
            message_error_reply(st, "cancel", "forbidden", BRIDGE_DOMAIN_GONE);
    } else if ((wa = jid_network_id(in.to, component_jid())) == NULL ||
               !bridge_contact_ok(a, wa)) {
        message_error_reply(st, "modify", "jid-malformed",
                            "Not a WhatsApp contact: write to "
                            "+<country code><number>@ this gateway");
    } else if (in.body != NULL && strcmp(a->state, "active") != 0) {
        message_error_reply(st, "auth", "not-authorized",
                            a->last_error ? a->last_error
                                          : "Register again first");
    } else {
        bridge_user_message(st, &in, a, wa);
    }
    store_account_free(a);
    free(wa);
    free(bare);
}

/* ---- registration ---- */

/* How a registration ended: type NULL when it worked (text: the account's
 * display name or number), else an XMPP error type, condition and text. */
typedef void (*bridge_reg_done_fn)(const char *type, const char *condition,
                                   const char *text, void *arg);

struct bridge_reg {
    const struct net_backend *be; /* the network chosen */
    bridge_reg_done_fn done;
    void *arg;
    char *jid;
};

static int bridge_reg_lookup(const char *jid, char **network_id, void *arg)
{
    struct store_account *a = store_account_by_jid(bridge_store(), jid);

    if (a == NULL)
        return 0;
    *network_id = xstrdup(a->network_id);
    store_account_free(a);
    return 1;
}

static void bridge_reg_free(struct bridge_reg *r)
{
    free(r->jid);
    free(r);
}

static void bridge_reg_checked(const struct net_result *res, void *arg)
{
    struct bridge_reg *r = arg;
    const struct net_backend *be = r->be;
    struct store_account *a;
    long long id;

    if (res->outcome != NET_OK || res->account == NULL) {
        r->done(res->outcome == NET_RETRY ? "wait" : "modify", "not-acceptable",
                res->text ? res->text : "WhatsApp refused these credentials",
                r->arg);
        bridge_reg_free(r);
        return;
    }
    store_txn_begin(bridge_store());
    id = store_account_upsert(bridge_store(), r->jid, be->name,
                              res->account->id, res->account->token, res->info);
    if (id < 0) {
        r->done("cancel", "conflict",
                id == -2 ? be->login_form->taken
                         : "The gateway could not store the account",
                r->arg);
    } else if (store_txn_commit(bridge_store()) < 0) {
        r->done("wait", "internal-server-error",
                "The gateway could not store the account", r->arg);
    } else {
        r->done(NULL, NULL, res->info ? res->info : res->account->id, r->arg);
        a = store_account_by_id(bridge_store(), id);
        if (a != NULL)
            roster_account_added(a);
        store_account_free(a);
        log_info("bridge: %s registered %s %s", r->jid, be->name,
                 res->info ? res->info : res->account->id);
        queue_kick();
    }
    bridge_reg_free(r);
}

/* Logs in with the network and stores the account (XEP-0077 and the
 * Register command); done(..., arg) tells how it ended. */
static void bridge_reg_start(const char *jid, const struct login_creds *c,
                             bridge_reg_done_fn done, void *arg)
{
    const char *network = login_get(c, LOGIN_NETWORK);
    struct bridge_reg *r;

    r = xcalloc(1, sizeof(*r));
    r->be =
        net_set_find(bridge_backends(), network && *network ? network : NULL);
    r->done = done;
    r->arg = arg;
    r->jid = xstrdup(jid);
    if (r->be == NULL) { /* login_chosen_form() let no such name through */
        done("modify", "not-acceptable", "There is no such network", arg);
        bridge_reg_free(r);
        return;
    }
    r->be->login(c, bridge_reg_checked, r);
}

/* Answers the XEP-0077 iq (a copy we own). */
static void bridge_reg_iq_done(const char *type, const char *condition,
                               const char *text, void *arg)
{
    xmpp_stanza_t *iq = arg;

    if (type == NULL)
        register_reply_ok(iq);
    else
        register_reply_error(iq, type, condition, text);
    xmpp_stanza_release(iq);
}

static void bridge_reg_submit(xmpp_stanza_t *iq, const char *jid,
                              const struct login_creds *c, void *arg)
{
    bridge_reg_start(jid, c, bridge_reg_iq_done, iq);
}

static int bridge_reg_remove(const char *jid, void *arg)
{
    struct store_account *a = store_account_by_jid(bridge_store(), jid);

    if (a == NULL)
        return -1;
    store_txn_begin(bridge_store());
    roster_account_removed(a);
    if (store_account_delete(bridge_store(), a->id) < 0 ||
        store_txn_commit(bridge_store()) < 0) {
        log_error("bridge: %s not unregistered: the store failed", jid);
        store_account_free(a);
        return -2;
    }
    settings_forget(a->id);
    bridge_team_forget();
    bridge_login_end(a); /* the network's side, in the background */
    log_info("bridge: %s unregistered", jid);
    store_account_free(a);
    return 0;
}

/* ---- commands ---- */

struct bridge_cmd_reg {
    commands_done_fn done;
    void *arg;
};

static void bridge_cmd_reg_done(const char *type, const char *condition,
                                const char *text, void *arg)
{
    struct bridge_cmd_reg *c = arg;

    c->done(type == NULL, text, c->arg);
    free(c);
}

/* The Register command: the same check and store as XEP-0077. */
static void bridge_cmd_register(const char *jid, const struct login_creds *c,
                                commands_done_fn done, void *done_arg,
                                void *arg)
{
    struct bridge_cmd_reg *cr = xmalloc(sizeof(*cr));

    cr->done = done;
    cr->arg = done_arg;
    bridge_reg_start(jid, c, bridge_cmd_reg_done, cr);
}

static int bridge_cmd_unregister(const char *jid, void *arg)
{
    return bridge_reg_remove(jid, NULL);
}

/* The Login command: a new round of jid's asynchronous login. */
static void bridge_cmd_login(const char *jid, commands_done_fn done,
                             void *done_arg, void *arg)
{
    struct store_account *a = store_account_by_jid(bridge_store(), jid);

    if (a == NULL)
        done(0, "You are not registered", done_arg);
    else
        bridge_login_again(a, done, done_arg);
    store_account_free(a);
}

/* 1 when a back end in use logs in asynchronously (and so needs Login). */
static int bridge_async_login(const struct net_set *set)
{
    int i;

    for (i = 0; i < set->n; i++)
        if (set->be[i]->login_form->async)
            return 1;
    return 0;
}

/* 1 when a back end in use has groups. */
static int bridge_has_groups(const struct net_set *set)
{
    int i;

    for (i = 0; i < set->n; i++)
        if (set->be[i]->groups != NULL)
            return 1;
    return 0;
}

/* Queues the failed messages of jid's account (NULL: of all) again. */
static long long bridge_cmd_retry(const char *jid, void *arg)
{
    struct store_account *a = NULL;
    long long n;

    if (jid != NULL) {
        a = store_account_by_jid(bridge_store(), jid);
        if (a == NULL)
            return 0;
    }
    store_txn_begin(bridge_store());
    n = store_outbox_requeue_failed(bridge_store(), a ? a->id : 0);
    if (store_txn_commit(bridge_store()) < 0)
        n = -1;
    log_info("bridge: %lld failed message(s) of %s queued again", n,
             jid ? jid : "every user");
    store_account_free(a);
    queue_kick();
    return n;
}

/* A team's member joined or left. */
static void bridge_cmd_team(long long account_id, const char *member, int add,
                            void *arg)
{
    struct store_account *a = store_account_by_id(bridge_store(), account_id);

    bridge_team_forget();
    if (a != NULL)
        bridge_team_changed(a, member, add);
    if (a != NULL && add)
        bridge_history_welcome(a, member);
    log_info("bridge: a member %s the team of %s", add ? "joined" : "left",
             a ? a->jid : "?");
    store_account_free(a);
}

/* ---- wiring ---- */

/* Contact JIDs advertise exactly what the user's back end can do: its
 * profile (its place in the set). */
static void bridge_advertise(int profile, const struct net_caps *c)
{
    const struct {
        int on;
        const char *var;
    } map[] = {
        {c->receipts, "urn:xmpp:receipts"},
        {c->read_markers, "urn:xmpp:chat-markers:0"},
        {c->typing, "http://jabber.org/protocol/chatstates"},
        {c->replies, "urn:xmpp:reply:0"},
        {c->reactions, "urn:xmpp:reactions:0"},
        {c->edits_in || c->edits_out, "urn:xmpp:message-correct:0"},
        {c->retractions_in || c->retractions_out, "urn:xmpp:message-retract:1"},
        {c->retractions_in || c->retractions_out, "urn:xmpp:message-retract:0"},
        {c->media, "jabber:x:oob"},
    };
    size_t i;

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i].on)
            disco_profile_feature_add(profile, map[i].var);
}

/* The disco profile of user (a full or bare JID): its back end's place in
 * the set; a store lookup only when there are several. */
static int bridge_profile(const char *user, void *arg)
{
    const struct net_set *set = bridge_backends();
    struct store_account *a;
    char *bare;
    int i, p = 0;

    if (set->n < 2 || (bare = jid_bare(user)) == NULL)
        return 0;
    a = store_account_by_jid(bridge_store(), bare);
    for (i = 1; a != NULL && i < set->n; i++)
        if (strcmp(set->be[i]->name, a->backend) == 0)
            p = i;
    store_account_free(a);
    free(bare);
    return p;
}

/* The slowest back end's rate: the queue has one token bucket rate. */
static long long bridge_throughput(void)
{
    const struct net_set *set = bridge_backends();
    long long t, min = 0;
    int i;

    for (i = 0; i < set->n; i++) {
        t = set->be[i]->throughput();
        if (min == 0 || t < min)
            min = t;
    }
    return min;
}

/* Routes, disco profiles and registration's networks, per back end. */
static void bridge_backends_wire(const struct net_set *set)
{
    int i;

    memset(&bridge_networks, 0, sizeof(bridge_networks));
    for (i = 0; i < set->n && i < LOGIN_MAX_NETWORKS; i++) {
        bridge_networks.name[i] = set->be[i]->name;
        bridge_networks.form[i] = set->be[i]->login_form;
        bridge_networks.n++;
        bridge_advertise(i, &set->be[i]->caps);
        bridge_webhook_paths[i] = xasprintf("/webhook/%s", set->be[i]->name);
        httpd_route(bridge_webhook_paths[i], bridge_webhook, (void *)set->be[i],
                    BRIDGE_WEBHOOK_MAX);
    }
    disco_contact_profiles(bridge_profile, NULL);
}

/* What an outbox row asks of the queue. */
static int bridge_row_flags(const struct store_outbox *o, void *arg)
{
    return bridge_job_flags(o->kind);
}

static void bridge_on_state(int connected, void *arg)
{
    queue_xmpp_state(connected);
    if (connected)
        roster_broadcast(1);
}

/* Writes an inbox row's stanza (stamp: with the time it was stored). */
static void bridge_inbox_write(const struct store_inbox *in, int stamp,
                               void *arg)
{
    char *delayed = NULL;

    if (stamp)
        delayed =
            message_add_delay(in->stanza, component_jid(), in->created / 1000);
    if (delayed != NULL)
        component_send_raw(delayed, strlen(delayed));
    else
        component_send_raw(in->stanza, strlen(in->stanza));
    free(delayed);
}

int bridge_init(struct store *st, const struct conf *conf,
                const struct net_set *set)
{
    static const struct component_handlers h = {
        .message = bridge_on_message,
        .presence = bridge_on_presence,
        .state = bridge_on_state,
        .reply = roster_on_reply,
    };
    struct register_ops r = {
        .lookup = bridge_reg_lookup,
        .submit = bridge_reg_submit,
        .remove = bridge_reg_remove,
    };
    static const struct queue_ops q = {
        .send = bridge_send,
        .row_flags = bridge_row_flags,
        .write = bridge_inbox_write,
        .ping = component_ping,
        .ask_ready = component_ask_ready,
        .probe = component_probe,
        .backlog = component_send_queue_len,
        .server_domain = component_server_domain,
    };
    struct commands_ops c = {
        .register_account = bridge_cmd_register,
        .unregister = bridge_cmd_unregister,
        .retry_failed = bridge_cmd_retry,
        .team_changed = bridge_cmd_team,
    };

    bridge_core_init(st, set);
    bridge_backends_wire(set);
    bridge_team_configure(conf);
    r.form = c.form = set->be[0]->login_form;
    r.networks = c.networks = &bridge_networks;
    c.login = bridge_async_login(set) ? bridge_cmd_login : NULL;
    c.groups = bridge_has_groups(set);
    register_init(conf, &r);
    commands_init(st, conf, &c);
    queue_init(st, bridge_throughput(), &q);
    bridge_history_configure(conf);
    bridge_muc_configure(conf);
    bridge_history_init();
    bridge_presence_init();
    store_txn_hook(st, bridge_out_committed, NULL);
    bridge_media_order_start();
    disco_first_handler_set(bridge_muc_disco, NULL);
    bridge_muc_init();
    bridge_muc_mam_init();
    bridge_muc_group_init();
    component_set_handlers(&h);
    return 0;
}

void bridge_reconfigure(const struct conf *conf)
{
    register_reconfigure(conf);
    commands_reconfigure(conf);
    bridge_team_configure(conf);
    bridge_history_configure(conf);
    bridge_muc_configure(conf);
    queue_set_throughput(bridge_throughput());
}

void bridge_stop(void)
{
    if (component_connected()) {
        roster_broadcast(0);
        bridge_muc_shutdown();
    }
}

void bridge_free(void)
{
    int i;

    queue_free();
    register_free();
    commands_free();
    bridge_out_committed(1, NULL); /* forgets what is left */
    bridge_media_order_stop();
    bridge_muc_free();
    bridge_presence_free();
    for (i = 0; i < NET_MAX_BACKENDS; i++) {
        free(bridge_webhook_paths[i]);
        bridge_webhook_paths[i] = NULL;
    }
}
