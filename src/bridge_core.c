/* SPDX-License-Identifier: MIT */
/* The bridge's leaf: its state and what all its sides use (the inbox, a
 * message's failure and status, the account's settings, snippets). */
#include <stdlib.h>
#include <string.h>

#include "bridge_core.h"
#include "bridge_job.h"
#include "settings.h"
#include "component.h"
#include "log.h"
#include "message.h"
#include "net.h"
#include "roster.h"
#include "store.h"
#include "util.h"

#define BRIDGE_TEAM_CACHE 4096 /* accounts remembered; then it starts over */

/* Set once at start-up, read by every side; and the team cache. */
static struct {
    struct store *st;
    struct net_set set;
    struct bridge_team_known {
        long long account_id;
        int has;
    } * teams;
    size_t nteams;
} bridge;

/* A rolled-back transaction may have held a member's change. */
static void bridge_core_txn_ended(int ok, void *arg)
{
    if (!ok)
        bridge_team_forget();
}

void bridge_core_init(struct store *st, const struct net_set *set)
{
    bridge.st = st;
    bridge.set = *set;
    bridge_team_forget();
    store_txn_hook(st, bridge_core_txn_ended, NULL);
}

int bridge_has_team(long long account_id)
{
    long long n;
    size_t i;

    for (i = 0; i < bridge.nteams; i++)
        if (bridge.teams[i].account_id == account_id)
            return bridge.teams[i].has;
    n = store_team_count(bridge.st, account_id);
    if (n < 0)
        return 0; /* a store error: asked again next time */
    if (bridge.nteams == BRIDGE_TEAM_CACHE)
        bridge.nteams = 0;
    if (bridge.teams == NULL)
        bridge.teams = xcalloc(BRIDGE_TEAM_CACHE, sizeof(*bridge.teams));
    bridge.teams[bridge.nteams].account_id = account_id;
    bridge.teams[bridge.nteams++].has = n > 0;
    return n > 0;
}

void bridge_team_forget(void)
{
    bridge.nteams = 0;
}

struct store *bridge_store(void)
{
    return bridge.st;
}

const struct net_set *bridge_backends(void)
{
    return &bridge.set;
}

const struct net_backend *bridge_backend_of(const struct store_account *a)
{
    int i;

    /* a strcmp or two: the set is short */
    for (i = 1; i < bridge.set.n && a->backend != NULL; i++)
        if (strcmp(bridge.set.be[i]->name, a->backend) == 0)
            return bridge.set.be[i];
    return bridge.set.be[0];
}

int bridge_inbox(long long account_id, const char *to, const char *id,
                 char *xml)
{
    long long row = store_inbox_add(bridge.st, account_id, to, xml, id);

    free(xml);
    return row < 0 ? -1 : 0;
}

int bridge_inbox_from(long long account_id, long long contact_id,
                      const char *to, const char *id, char *xml)
{
    long long row =
        store_inbox_add_after(bridge.st, account_id, contact_id, to, xml, id);

    free(xml);
    return row < 0 ? -1 : 0;
}

char *bridge_contact_jid(const struct store_contact *c)
{
    return roster_contact_jid(c);
}

long long bridge_outbox_put(long long id, long long account_id,
                            long long contact_id, long long message_id,
                            const struct bridge_job *j)
{
    char *payload = bridge_job_encode(j);
    long long row =
        store_outbox_put(bridge.st, id, account_id, contact_id, message_id,
                         bridge_job_name(j->kind), payload);

    free(payload);
    return row;
}

long long bridge_message_add(struct store_message *m, const char *text)
{
    char *snippet = text ? bridge_snippet(text) : NULL;
    long long id;

    m->snippet = snippet;
    id = store_message_add(bridge.st, m);
    m->snippet = NULL;
    free(snippet);
    return id;
}

int bridge_setting(const struct store_account *a, const char *key)
{
    return settings_get(a->id, a->settings, key);
}

char *bridge_snippet(const char *text)
{
    size_t i = utf8_offset(text, BRIDGE_SNIPPET_CHARS);

    return text[i] != '\0' ? xasprintf("%.*s…", (int)i, text) : xstrdup(text);
}

void bridge_fail_message(long long message_id, const char *condition,
                         const char *text)
{
    struct store_message *m = store_message_by_id(bridge.st, message_id);
    struct store_contact *c;
    char *from;

    if (m == NULL || m->status == STORE_STATUS_FAILED) {
        store_message_free(m);
        return;
    }
    store_message_set_status(bridge.st, m->id, STORE_STATUS_FAILED);
    c = store_contact_by_id(bridge.st, m->contact_id);
    if (c != NULL && m->sender != NULL) {
        from = bridge_contact_jid(c);
        bridge_inbox(m->account_id, m->sender, NULL,
                     message_error_xml(from, m->sender, m->stanza_id, "cancel",
                                       condition, text));
        free(from);
    }
    store_contact_free(c);
    store_message_free(m);
}

void bridge_auth_failed(long long account_id, const char *text)
{
    struct store_account *a = store_account_by_id(bridge.st, account_id);
    char *notice, *id;

    if (a == NULL)
        return;
    if (strcmp(a->state, "active") == 0) {
        store_account_set_state(bridge.st, a->id, "auth_failed", text);
        notice = xasprintf("%s. Messages to WhatsApp are not sent until you "
                           "register again with a valid access token.",
                           text);
        id = component_new_id();
        bridge_inbox(a->id, a->jid, id,
                     message_notice_xml(component_jid(), a->jid, id, notice));
        free(id);
        free(notice);
        log_warn("bridge: access token of %s rejected; account paused", a->jid);
    }
    store_account_free(a);
}

static int bridge_rank(int status)
{
    return status == STORE_STATUS_FAILED ? 0 : status;
}

/* Moves a message's status forward only, and tells the sender. */
void bridge_apply_status(struct store_message *m, int status, int error_code,
                         const char *error_text)
{
    struct store_contact *c;
    char *from;
    int old = m->status;

    if (old == STORE_STATUS_FAILED)
        return;
    if (status == STORE_STATUS_FAILED) {
        if (old < STORE_STATUS_DELIVERED)
            bridge_fail_message(m->id, "service-unavailable",
                                error_text ? error_text
                                           : "WhatsApp could not deliver it");
        return;
    }
    if (bridge_rank(status) <= bridge_rank(old))
        return;
    store_message_set_status(bridge.st, m->id, status);
    c = store_contact_by_id(bridge.st, m->contact_id);
    if (c == NULL || m->sender == NULL || m->stanza_id == NULL) {
        store_contact_free(c);
        return;
    }
    from = bridge_contact_jid(c);
    if (status >= STORE_STATUS_DELIVERED && old < STORE_STATUS_DELIVERED &&
        m->want_receipt)
        bridge_inbox(m->account_id, m->sender, NULL,
                     message_receipt_xml(from, m->sender, m->stanza_id));
    if (status == STORE_STATUS_READ && m->want_markers)
        bridge_inbox(m->account_id, m->sender, NULL,
                     message_displayed_xml(from, m->sender, m->stanza_id));
    free(from);
    store_contact_free(c);
}
