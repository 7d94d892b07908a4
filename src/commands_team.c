/* SPDX-License-Identifier: MIT */
/* The team command of a business number's owner (issue 16): list the
 * members and what each holds, add and remove members, the team's status
 * in words (waits, response times, messages per member) and the WhatsApp
 * Business Account id. Ad-hoc and chat alike (commands.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "commands_int.h"
#include "component.h"
#include "metrics.h"
#include "register.h"
#include "store.h"
#include "util.h"

static void commands_option(xmpp_stanza_t *field, const char *value,
                            const char *label)
{
    xmpp_stanza_t *o = component_elem(field, "option", NULL);

    xmpp_stanza_set_attribute(o, "label", label);
    component_text_elem(o, "value", value);
}

int commands_team_form(struct commands_req *r, xmpp_stanza_t *x)
{
    struct store_account *a = commands_account(r);
    xmpp_stanza_t *f;

    if (a == NULL)
        return -1;
    store_account_free(a);
    component_text_elem(x, "instructions",
                        "The people who answer your business number with "
                        "you: list them, or add or remove one.");
    f = commands_field(x, "action", "list-single", "Action", "list");
    commands_option(f, "list", "List the team");
    commands_option(f, "status", "Waits, response times, messages");
    commands_option(f, "add", "Add a member");
    commands_option(f, "remove", "Remove a member");
    commands_option(f, "waba", "Set the WhatsApp Business Account id");
    commands_field(x, "jid", "jid-single", "Member (to add or remove)", NULL);
    commands_field(x, "waba", "text-single",
                   "WhatsApp Business Account id (its templates)", NULL);
    return 0;
}

/* The line on the business account that holds the number's templates. */
static void commands_team_business(struct commands_req *r,
                                   const struct store_account *a)
{
    char *b = store_account_business(commands_store(), a->id);

    if (b != NULL)
        commands_say(r, "WhatsApp Business Account (templates): %s", b);
    else
        commands_say(r, "WhatsApp Business Account (templates): not known "
                        "yet (set it with: team waba <id>)");
    free(b);
}

static void commands_team_wrote(const char *member, unsigned long long n,
                                void *arg)
{
    commands_say(arg, "Messages to customers by %s: %llu", member, n);
}

/* What a team lead reads: waits, response and resolution times, and the
 * messages each member wrote (the last three since the gateway started). */
static void commands_team_status(struct commands_req *r,
                                 const struct store_account *a)
{
    struct metrics_team_stat m;
    long long n, oldest;
    char d[32];

    store_wait_of(commands_store(), a->id, &n, &oldest);
    metrics_team_get(a->id, &m);
    commands_say(r, "Team status of %s:",
                 a->display_number ? a->display_number : a->network_id);
    duration_words(oldest > 0 ? now_s() - oldest : 0, d, sizeof(d));
    if (n > 0)
        commands_say(r,
                     "Waiting for a reply: %lld conversation(s), the "
                     "oldest for %s",
                     n, d);
    else
        commands_say(r, "Waiting for a reply: none");
    duration_words(m.first_count ? m.first_sum / (long long)m.first_count : 0,
                   d, sizeof(d));
    commands_say(r, "First replies: %llu, on average after %s", m.first_count,
                 d);
    duration_words(
        m.resolved_count ? m.resolved_sum / (long long)m.resolved_count : 0, d,
        sizeof(d));
    commands_say(r,
                 "Resolved (released): %llu, on average %s after the "
                 "claim",
                 m.resolved_count, d);
    metrics_team_members(a->id, commands_team_wrote, r);
}

/* The owner sets the business account id (digits). */
static void commands_team_waba(struct commands_req *r,
                               const struct store_account *a, const char *id)
{
    size_t n = id != NULL ? strlen(id) : 0;

    if (n == 0 || n > 32 || strspn(id, "0123456789") != n) {
        commands_fail(r, "Usage: team waba <id> (the digits of your WhatsApp "
                         "Business Account id)");
        return;
    }
    store_txn_begin(commands_store());
    if (store_account_set_business(commands_store(), a->id, id) < 0)
        commands_fail(r, "The gateway could not store the account id");
    else
        commands_say(r, "WhatsApp Business Account id set to %s", id);
}

/* One line and form item of the team's list. */
static void commands_team_row(struct commands_req *r,
                              const struct store_account *a, const char *jid,
                              const char *role)
{
    long long n = store_claim_count(commands_store(), a->id, jid);
    char holds[32];
    xmpp_stanza_t *item;

    snprintf(holds, sizeof(holds), "%lld", n < 0 ? 0 : n);
    if (r->form != NULL) {
        item = component_elem(r->form, "item", NULL);
        commands_field(item, "jid", NULL, NULL, jid);
        commands_field(item, "role", NULL, NULL, role);
        commands_field(item, "holds", NULL, NULL, holds);
    }
    commands_say(r, "%s  %s  handling %s conversation(s)", jid, role, holds);
}

struct commands_team_list {
    struct commands_req *r;
    const struct store_account *a;
};

static int commands_team_member(const char *jid, void *arg)
{
    struct commands_team_list *l = arg;

    commands_team_row(l->r, l->a, jid, "member");
    return 0;
}

static void commands_team_list(struct commands_req *r,
                               const struct store_account *a)
{
    xmpp_stanza_t *x = commands_result_form(r, r->def->name);
    xmpp_stanza_t *rep;
    struct commands_team_list l = {r, a};

    if (x != NULL) {
        rep = component_elem(x, "reported", NULL);
        commands_field(rep, "jid", "jid-single", "JID", NULL);
        commands_field(rep, "role", "text-single", "Role", NULL);
        commands_field(rep, "holds", "text-single", "Conversations held", NULL);
    }
    commands_say(r, "The team of %s:",
                 a->display_number ? a->display_number : a->network_id);
    commands_team_row(r, a, a->jid, "owner");
    store_team_foreach(commands_store(), a->id, commands_team_member, &l);
    commands_team_business(r, a);
}

/* Why bare cannot join a's team, or NULL. */
static const char *commands_team_refused(const struct store_account *a,
                                         const char *bare)
{
    struct store_account *own;
    const char *why = NULL;

    if (!register_domain_allowed(bare))
        return "is not of a domain this gateway serves";
    own = store_account_by_jid(commands_store(), bare);
    if (own != NULL)
        why = own->id == a->id ? "is the owner"
                               : "has a business number of their own";
    store_account_free(own);
    return why;
}

static void commands_team_add(struct commands_req *r,
                              const struct store_account *a, const char *bare)
{
    const char *why = commands_team_refused(a, bare);
    int rc;

    if (why != NULL) {
        commands_fail(r, "%s %s: not added", bare, why);
        return;
    }
    store_txn_begin(commands_store());
    rc = store_team_add(commands_store(), a->id, bare, now_s());
    if (rc == 1)
        commands_ops_get()->team_changed(a->id, bare, 1,
                                         commands_ops_get()->arg);
    if (rc == 1)
        commands_say(r, "%s is now a member of your team", bare);
    else if (rc == 0)
        commands_say(r, "%s is a member already", bare);
    else if (rc == -2)
        commands_fail(r, "%s answers another business number already", bare);
    else
        commands_fail(r, "The gateway could not store the team");
}

static void commands_team_remove(struct commands_req *r,
                                 const struct store_account *a,
                                 const char *bare)
{
    int rc;

    store_txn_begin(commands_store());
    rc = store_team_remove(commands_store(), a->id, bare);
    if (rc == 1)
        commands_ops_get()->team_changed(a->id, bare, 0,
                                         commands_ops_get()->arg);
    if (rc == 1)
        commands_say(r, "%s is no longer a member of your team", bare);
    else if (rc == 0)
        commands_fail(r, "%s is not a member of your team", bare);
    else
        commands_fail(r, "The gateway could not store the team");
}

void commands_team_run(struct commands_req *r)
{
    const char *action = commands_value(r, "action");
    struct store_account *a = commands_account(r);
    char *bare = NULL;

    if (a == NULL) {
        /* said */
    } else if (action == NULL || strcmp(action, "list") == 0) {
        commands_team_list(r, a);
    } else if (strcmp(action, "status") == 0) {
        commands_team_status(r, a);
    } else if (strcmp(action, "waba") == 0) {
        commands_team_waba(r, a,
                           commands_value(r, "waba")
                               ? commands_value(r, "waba")
                               : commands_value(r, "jid"));
    } else if (strcmp(action, "add") != 0 && strcmp(action, "remove") != 0) {
        commands_fail(r, "Usage: %s", r->def->usage);
    } else if ((bare = commands_target(r, commands_value(r, "jid"))) != NULL) {
        if (strcmp(action, "add") == 0)
            commands_team_add(r, a, bare);
        else
            commands_team_remove(r, a, bare);
    }
    free(bare);
    store_account_free(a);
    commands_finish(r);
}
