/* SPDX-License-Identifier: MIT */
/* A business number answered by a team (issue 16): its owner (the user
 * who registered it) and the members the owner added. A customer's
 * message goes to all of them, or to the one holding the conversation;
 * what one of them writes to the customer is sent once and copied to the
 * others, marked with the writer's name. */
#include <stdlib.h>
#include <string.h>

#include "bridge_core.h"
#include "bridge_team.h"
#include "component.h"
#include "conf.h"
#include "message.h"
#include "register.h"
#include "roster.h"
#include "store.h"
#include "util.h"

static struct {
    int autoclaim;
    long long claim_idle; /* s */
} bridge_team = {1, 86400};

void bridge_team_configure(const struct conf *conf)
{
    bridge_team.autoclaim = strcmp(conf->team_autoclaim, "on") == 0;
    bridge_team.claim_idle = conf->team_claim_idle;
}

struct store_account *bridge_team_account(const char *bare)
{
    struct store_account *a = store_account_by_jid(bridge_store(), bare);
    long long id;

    if (a != NULL || !register_domain_allowed(bare))
        return a;
    id = store_team_account_of(bridge_store(), bare);
    return id > 0 ? store_account_by_id(bridge_store(), id) : NULL;
}

/* Calls fn for the owner and every member of a's team. */
static void bridge_team_everyone(const struct store_account *a,
                                 int (*fn)(const char *jid, void *arg),
                                 void *arg)
{
    fn(a->jid, arg);
    store_team_foreach(bridge_store(), a->id, fn, arg);
}

/* The contact's claim; NULL when nobody holds it, or when it lapsed (it
 * is then dropped). */
static struct store_claim *bridge_team_claim(long long contact_id)
{
    struct store_claim *c = store_claim_get(bridge_store(), contact_id);

    if (c != NULL && now_s() - c->active >= bridge_team.claim_idle) {
        store_claim_drop(bridge_store(), contact_id);
        store_claim_free(c);
        return NULL;
    }
    return c;
}

/* ---- the customer's messages ---- */

struct bridge_team_msg {
    const struct store_account *a;
    long long contact_id;
    const char *id;
    struct message_out *o;
    int rc;
};

static int bridge_team_deliver_one(const char *jid, void *arg)
{
    struct bridge_team_msg *m = arg;

    m->o->to = jid;
    if (bridge_inbox_from(m->a->id, m->contact_id, jid, m->id,
                          message_build(m->o)) < 0)
        m->rc = -1;
    return 0;
}

int bridge_team_deliver(const struct store_account *a, long long contact_id,
                        const char *id, struct message_out *o)
{
    struct bridge_team_msg m = {a, contact_id, id, o, 0};
    struct store_claim *c = bridge_team_claim(contact_id);

    if (c != NULL)
        bridge_team_deliver_one(c->holder, &m);
    else
        bridge_team_everyone(a, bridge_team_deliver_one, &m);
    o->to = a->jid;
    store_claim_free(c);
    return m.rc;
}

struct bridge_team_contact {
    const struct store_account *a;
    long long contact_id;
    const char *cj, *name;
    int rc;
};

static int bridge_team_contact_one(const char *jid, void *arg)
{
    struct bridge_team_contact *c = arg;

    if (bridge_inbox(
            c->a->id, jid, NULL,
            roster_new_contact_xml(c->contact_id, c->cj, jid, c->name)) < 0)
        c->rc = -1;
    return 0;
}

int bridge_team_new_contact(const struct store_account *a, long long contact_id,
                            const char *contact_jid, const char *name)
{
    struct bridge_team_contact c = {a, contact_id, contact_jid, name, 0};

    bridge_team_everyone(a, bridge_team_contact_one, &c);
    return c.rc;
}

/* ---- what a member writes ---- */

/* What the team calls a member: the localpart of the JID (caller frees). */
static char *bridge_team_name(const char *jid)
{
    const char *at = strchr(jid, '@');

    return at != NULL && at > jid ? xstrndup(jid, (size_t)(at - jid))
                                  : xstrdup(jid);
}

/* A notice from the contact's JID for the team's members but one. */
struct bridge_team_note {
    const struct store_account *a;
    long long contact_id;
    const char *cj, *skip, *body;
};

static int bridge_team_note_one(const char *jid, void *arg)
{
    struct bridge_team_note *n = arg;
    char *id;

    if (n->skip != NULL && strcmp(jid, n->skip) == 0)
        return 0;
    id = component_new_id();
    bridge_inbox_from(n->a->id, n->contact_id, jid, id,
                      message_chat_xml(n->cj, jid, id, n->body));
    free(id);
    return 0;
}

/* Sends body from the contact to everyone of the team but skip. */
static void bridge_team_tell(const struct store_account *a,
                             long long contact_id, const char *skip,
                             const char *body)
{
    struct store_contact *c = store_contact_by_id(bridge_store(), contact_id);
    struct bridge_team_note n = {a, contact_id, NULL, skip, body};
    char *cj;

    if (c == NULL)
        return;
    cj = bridge_contact_jid(c);
    n.cj = cj;
    bridge_team_everyone(a, bridge_team_note_one, &n);
    free(cj);
    store_contact_free(c);
}

/* holder now holds the conversation; the others are told. */
static void bridge_team_hold(const struct store_account *a,
                             long long contact_id, const char *holder)
{
    char *name = bridge_team_name(holder);
    char *line = xasprintf("[team] %s is handling this", name);

    store_claim_set(bridge_store(), a->id, contact_id, holder, now_s());
    bridge_team_tell(a, contact_id, holder, line);
    free(line);
    free(name);
}

void bridge_team_wrote(const struct store_account *a, long long contact_id,
                       const char *writer, const char *text)
{
    struct store_claim *c;
    char *name, *copy;

    if (store_team_count(bridge_store(), a->id) <= 0)
        return; /* nobody to copy to */
    name = bridge_team_name(writer);
    copy = xasprintf("%s: %s", name, text);
    bridge_team_tell(a, contact_id, writer, copy);
    c = bridge_team_claim(contact_id);
    if (c == NULL && bridge_team.autoclaim)
        bridge_team_hold(a, contact_id, writer);
    else if (c != NULL && strcmp(c->holder, writer) == 0)
        store_claim_touch(bridge_store(), contact_id, now_s());
    store_claim_free(c);
    free(copy);
    free(name);
}

/* ---- the team's changes ---- */

void bridge_team_changed(const struct store_account *a, const char *member,
                         int add)
{
    if (add)
        roster_member_added(a, member);
    else
        roster_member_removed(a, member);
}
