/* SPDX-License-Identifier: MIT */
/* Asynchronous logins (a back end whose login_form is async, WAHA): the
 * gateway JID tells the user each step. On a challenge it asks the back
 * end for the QR code (served on /media/ and sent as XEP-0066, body = the
 * URL, so clients show it inline) or the pairing code (a text); then
 * connected, failed or logged out, and how to start again. */
#include <stdlib.h>
#include <string.h>

#include "bridge_core.h"
#include "bridge_lid.h"
#include "bridge_login.h"
#include "bridge_muc.h"
#include "bridge_presence.h"
#include "component.h"
#include "log.h"
#include "media.h"
#include "message.h"
#include "net.h"
#include "queue.h"
#include "store.h"
#include "util.h"

#define BRIDGE_LOGIN_QR_HELP                                                   \
    "Scan this QR code with WhatsApp on your phone: Settings > Linked "        \
    "devices > Link a device. It changes every few seconds; a new one "        \
    "follows until you scan one."
#define BRIDGE_LOGIN_AGAIN                                                     \
    "Send 'login' to this gateway (or run its Login command) to link it "      \
    "again with a new QR code."

/* A challenge's fetch in flight. */
struct bridge_login_step {
    long long account_id;
    char *jid;
    char *path;
};

static void bridge_login_step_free(struct bridge_login_step *s)
{
    free(s->jid);
    free(s->path);
    free(s);
}

/* A notice from the gateway JID to the account's user, in the inbox. */
static int bridge_login_notice(long long account_id, const char *jid,
                               const char *text)
{
    char *id = component_new_id();
    int rc = bridge_inbox(account_id, jid, id,
                          message_notice_xml(component_jid(), jid, id, text));

    free(id);
    return rc;
}

/* A note outside a webhook: in the turn's transaction. */
static void bridge_login_tell(long long account_id, const char *jid,
                              const char *text)
{
    store_txn_begin(bridge_store());
    bridge_login_notice(account_id, jid, text);
}

/* The QR code is on /media/: the image, then the one line of help. */
static void bridge_login_published(const char *url, const char *error,
                                   int retry, void *arg)
{
    struct bridge_login_step *s = arg;
    struct message_out o = {.from = component_jid(), .to = s->jid};
    char *id;

    if (url == NULL) {
        log_warn("bridge: QR code for %s not published: %s", s->jid,
                 error ? error : "no reason");
        bridge_login_step_free(s);
        return;
    }
    id = component_new_id();
    o.id = id;
    o.oob_url = url;
    store_txn_begin(bridge_store());
    bridge_inbox(s->account_id, s->jid, id, message_build(&o));
    bridge_login_notice(s->account_id, s->jid, BRIDGE_LOGIN_QR_HELP);
    log_info("bridge: QR code sent to %s", s->jid);
    free(id);
    bridge_login_step_free(s);
}

/* The back end's answer to a challenge: a code to type, or the image. */
static void bridge_login_stepped(const struct net_result *r, void *arg)
{
    struct bridge_login_step *s = arg;
    struct media_file mf = {s->path, "image", "image/png", "whatsapp-qr.png"};
    char *text;

    if (r->outcome == NET_OK && r->info != NULL) {
        media_discard(s->path);
        text = xasprintf("Your pairing code is %s. On your phone, open "
                         "WhatsApp > Settings > Linked devices > Link a "
                         "device > Link with phone number instead, and "
                         "type it there.",
                         r->info);
        bridge_login_tell(s->account_id, s->jid, text);
        free(text);
        bridge_login_step_free(s);
    } else if (r->outcome == NET_OK) {
        media_publish(&mf, component_jid(), bridge_login_published, s);
    } else {
        media_discard(s->path);
        log_warn("bridge: login step of %s failed: %s", s->jid,
                 r->text ? r->text : "no reason");
        bridge_login_step_free(s);
    }
}

/* Asks the back end for what the user needs now (after the webhook's
 * commit: the answer comes later). */
static void bridge_login_challenge(const struct store_account *a)
{
    struct bridge_login_step *s = xcalloc(1, sizeof(*s));
    struct net_account na = {.id = a->network_id, .token = a->token};
    const struct net_backend *be = bridge_backend_of(a);

    s->account_id = a->id;
    s->jid = xstrdup(a->jid);
    s->path = media_temp_path();
    be->login_step(&na, s->path, bridge_login_stepped, s);
}

int bridge_login_event(const struct net_event *ev,
                       const struct store_account *a)
{
    char *text;
    int rc = 0;

    if (bridge_backend_of(a)->login_step == NULL)
        return 0;
    switch (ev->login) {
    case NET_LOGIN_CHALLENGE:
        bridge_login_challenge(a);
        break;
    case NET_LOGIN_READY:
        text = xasprintf("Connected to WhatsApp as %s. Write to "
                         "+<phone number>@%s to chat.",
                         ev->text ? ev->text : "your account", component_jid());
        if (strcmp(a->state, "active") != 0)
            store_account_set_state(bridge_store(), a->id, "active", NULL);
        rc = bridge_login_notice(a->id, a->jid, text);
        free(text);
        queue_kick(); /* what waited for the session */
        bridge_presence_kick();
        bridge_muc_learn(a, ev->text);
        bridge_lid_learn_all(a);
        break;
    case NET_LOGIN_FAILED:
        rc = bridge_login_notice(
            a->id, a->jid,
            "Your WhatsApp session failed: nothing is "
            "sent or received until it is linked "
            "again (what you write meanwhile waits). " BRIDGE_LOGIN_AGAIN);
        break;
    case NET_LOGIN_STOPPED:
        rc = bridge_login_notice(a->id, a->jid,
                                 "Your WhatsApp session was logged out or "
                                 "stopped (what you write meanwhile "
                                 "waits). " BRIDGE_LOGIN_AGAIN);
        break;
    case NET_LOGIN_ELSEWHERE:
        rc = bridge_login_notice(a->id, a->jid,
                                 ev->text ? ev->text
                                          : "WhatsApp asks for a step the "
                                            "gateway cannot show");
        break;
    }
    return rc;
}

/* A new round in flight. */
struct bridge_login_round {
    bridge_login_done_fn done;
    void *arg;
};

static void bridge_login_restarted(const struct net_result *r, void *arg)
{
    struct bridge_login_round *l = arg;

    if (r->outcome == NET_OK)
        l->done(1, "A new login started: a QR code (or pairing code) follows",
                l->arg);
    else
        l->done(0, r->text ? r->text : "The network refused it", l->arg);
    free(l);
}

void bridge_login_again(const struct store_account *a,
                        bridge_login_done_fn done, void *arg)
{
    const struct net_backend *be = bridge_backend_of(a);
    struct net_account na = {.id = a->network_id, .token = a->token};
    struct bridge_login_round *l;

    if (be->relogin == NULL ||
        net_set_find(bridge_backends(), a->backend) == NULL) {
        done(0,
             "Your network needs no login: register again to change "
             "your credentials",
             arg);
        return;
    }
    l = xcalloc(1, sizeof(*l));
    l->done = done;
    l->arg = arg;
    be->relogin(&na, bridge_login_restarted, l);
}

static void bridge_login_ended(const struct net_result *r, void *arg)
{
    char *jid = arg;

    if (r->outcome == NET_OK)
        log_info("bridge: the session of %s was logged out and deleted", jid);
    else
        log_warn("bridge: the session of %s could not be deleted: %s", jid,
                 r->text ? r->text : "no reason");
    free(jid);
}

void bridge_login_end(const struct store_account *a)
{
    const struct net_backend *be = bridge_backend_of(a);
    struct net_account na = {.id = a->network_id, .token = a->token};

    if (be->logout == NULL ||
        net_set_find(bridge_backends(), a->backend) == NULL)
        return;
    be->logout(&na, bridge_login_ended, xstrdup(a->jid));
}
