/* SPDX-License-Identifier: MIT */
/* A business number answered by a team (issue 16): its owner (the user
 * who registered it) and the members the owner added. A customer's
 * message goes to all of them, or to the one holding the conversation;
 * what one of them writes to the customer is sent once and copied to the
 * others, marked with the writer's name. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <stdarg.h>
#include <stdio.h>

#include "bridge_core.h"
#include "bridge_history.h"
#include "bridge_stat.h"
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
    return register_domain_allowed(bare)
               ? store_account_own_or_team(bridge_store(), bare)
               : store_account_by_jid(bridge_store(), bare);
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
    struct store_claim *c;

    if (!bridge_has_team(a->id)) { /* the owner's alone: no claim to ask */
        bridge_team_deliver_one(a->jid, &m);
        o->to = a->jid;
        return m.rc;
    }
    c = bridge_team_claim(contact_id);
    bridge_history_in(a, contact_id, o->id, o->body);
    if (c != NULL)
        bridge_team_deliver_one(c->holder, &m);
    else
        bridge_team_everyone(a, bridge_team_deliver_one, &m);
    o->to = a->jid;
    store_claim_free(c);
    return m.rc;
}

struct bridge_team_file {
    struct bridge_team_msg m;
    const char *caption;
    char *caption_id;
};

static int bridge_team_file_one(const char *jid, void *arg)
{
    struct bridge_team_file *f = arg;
    struct message_out cap = {.from = f->m.o->from,
                              .id = f->caption_id,
                              .body = f->caption,
                              .markable = 1};
    struct bridge_team_msg m = {f->m.a, f->m.contact_id, f->caption_id, &cap,
                                0};

    if (strcmp(jid, f->m.a->jid) == 0)
        return 0; /* the owner's copy has its own place */
    bridge_team_deliver_one(jid, &f->m);
    if (f->caption != NULL && f->caption[0] != '\0')
        bridge_team_deliver_one(jid, &m);
    return 0;
}

void bridge_team_deliver_members(long long account_id, long long contact_id,
                                 struct message_out *o, const char *caption)
{
    struct store_account *a = store_account_by_id(bridge_store(), account_id);
    struct bridge_team_file f = {{a, contact_id, o->id, o, 0}, caption, NULL};
    struct store_claim *c;
    const char *to = o->to;

    if (a == NULL || !bridge_has_team(a->id)) {
        store_account_free(a);
        return;
    }
    f.caption_id = xasprintf("%s-caption", o->id);
    bridge_history_in(a, contact_id, o->id, o->body);
    bridge_history_in(a, contact_id, f.caption_id, caption);
    c = bridge_team_claim(contact_id);
    if (c != NULL)
        bridge_team_file_one(c->holder, &f);
    else
        store_team_foreach(bridge_store(), a->id, bridge_team_file_one, &f);
    o->to = to;
    store_claim_free(c);
    free(f.caption_id);
    store_account_free(a);
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

    if (!bridge_has_team(a->id))
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

/* ---- commands in the conversation ---- */

#define BRIDGE_TEAM_HELP                                                       \
    "[team] Not sent. Team commands: /claim (the customer's messages come "    \
    "to you alone), /release, /assign <jid or name>, /note <text> (for the "   \
    "team only), /who"

/* One command written in a conversation. */
struct bridge_team_cmd {
    const struct message_in *in;
    const struct store_account *a;
    long long contact_id;
    const char *writer;
    const char *arg; /* the text after the word, "" when none */
};

/* Answers the writer (the full JID that wrote) from the contact. */
static void bridge_team_answer(const struct bridge_team_cmd *c,
                               const char *text)
{
    struct store_contact *ct =
        store_contact_by_id(bridge_store(), c->contact_id);
    char *cj, *id;

    if (ct == NULL)
        return;
    cj = bridge_contact_jid(ct);
    id = component_new_id();
    bridge_inbox(c->a->id, c->in->from, NULL,
                 message_chat_xml(cj, c->in->from, id, text));
    free(id);
    free(cj);
    store_contact_free(ct);
}

/* Answers the writer with a formatted text. */
static void bridge_team_answerf(const struct bridge_team_cmd *c,
                                const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void bridge_team_answerf(const struct bridge_team_cmd *c,
                                const char *fmt, ...)
{
    va_list ap;
    char *text;

    va_start(ap, fmt);
    text = xvasprintf(fmt, ap);
    va_end(ap);
    bridge_team_answer(c, text);
    free(text);
}

static void bridge_team_claim_cmd(const struct bridge_team_cmd *c)
{
    struct store_claim *cl = bridge_team_claim(c->contact_id);
    char *name;

    if (cl != NULL && strcmp(cl->holder, c->writer) != 0) {
        name = bridge_team_name(cl->holder);
        bridge_team_answerf(c,
                            "[team] %s is handling this; ask them, or use "
                            "/assign",
                            name);
        free(name);
    } else if (cl != NULL) {
        store_claim_touch(bridge_store(), c->contact_id, now_s());
        bridge_team_answer(c, "[team] You are handling this already");
    } else {
        bridge_team_hold(c->a, c->contact_id, c->writer);
        bridge_team_answer(c, "[team] You are handling this now: the "
                              "customer's messages come to you alone");
    }
    store_claim_free(cl);
}

static void bridge_team_release_cmd(const struct bridge_team_cmd *c)
{
    struct store_claim *cl = bridge_team_claim(c->contact_id);
    char *name, *line;

    if (cl == NULL || strcmp(cl->holder, c->writer) != 0) {
        bridge_team_answer(c, "[team] You are not handling this");
    } else {
        store_claim_drop(bridge_store(), c->contact_id);
        bridge_stat_released(c->a, cl->since);
        name = bridge_team_name(c->writer);
        line = xasprintf("[team] %s released this: the customer's messages "
                         "come to everyone again",
                         name);
        bridge_team_tell(c->a, c->contact_id, c->writer, line);
        bridge_team_answer(c, "[team] Released: the customer's messages come "
                              "to everyone again");
        free(line);
        free(name);
    }
    store_claim_free(cl);
}

/* The owner's or a member's JID, by JID or by name (its localpart). */
struct bridge_team_find {
    const char *want;
    char *found;
};

static int bridge_team_find_one(const char *jid, void *arg)
{
    struct bridge_team_find *f = arg;
    char *name = bridge_team_name(jid);

    if (f->found == NULL &&
        (strcasecmp(jid, f->want) == 0 || strcasecmp(name, f->want) == 0))
        f->found = xstrdup(jid);
    free(name);
    return 0;
}

static void bridge_team_assign_cmd(const struct bridge_team_cmd *c)
{
    struct bridge_team_find f = {c->arg, NULL};
    char *to, *from, *line;

    if (c->arg[0] != '\0')
        bridge_team_everyone(c->a, bridge_team_find_one, &f);
    if (f.found == NULL) {
        bridge_team_answer(c, "[team] Usage: /assign <jid or name of a "
                              "member of the team>");
        return;
    }
    store_claim_set(bridge_store(), c->a->id, c->contact_id, f.found, now_s());
    to = bridge_team_name(f.found);
    from = bridge_team_name(c->writer);
    line = xasprintf("[team] %s assigned this to %s", from, to);
    bridge_team_tell(c->a, c->contact_id, c->writer, line);
    bridge_team_answerf(c, "[team] Assigned to %s", to);
    if (strcmp(f.found, c->writer) != 0)
        bridge_history_replay(c->a, c->contact_id, f.found);
    free(line);
    free(from);
    free(to);
    free(f.found);
}

static void bridge_team_note_cmd(const struct bridge_team_cmd *c)
{
    char *name, *line;

    if (c->arg[0] == '\0') {
        bridge_team_answer(c, "[team] Usage: /note <text>");
        return;
    }
    name = bridge_team_name(c->writer);
    line = xasprintf("[note] %s: %s", name, c->arg);
    bridge_team_tell(c->a, c->contact_id, c->writer, line);
    bridge_team_answer(c, "[team] Note copied to the team, not sent to the "
                          "customer");
    free(line);
    free(name);
}

static void bridge_team_who_cmd(const struct bridge_team_cmd *c)
{
    struct store_claim *cl = bridge_team_claim(c->contact_id);
    struct store_contact *ct =
        store_contact_by_id(bridge_store(), c->contact_id);
    char held[32], wait[64] = "", *name;
    long long now = now_s();

    if (ct != NULL && ct->last_in_at > 0) {
        duration_words(now - ct->last_in_at, held, sizeof(held));
        snprintf(wait, sizeof(wait), "; the customer last wrote %s ago", held);
    }
    if (cl == NULL) {
        bridge_team_answerf(c, "[team] Nobody is handling this%s", wait);
    } else {
        name = bridge_team_name(cl->holder);
        duration_words(now - cl->since, held, sizeof(held));
        bridge_team_answerf(c, "[team] %s (%s) is handling this, for %s%s",
                            name, cl->holder, held, wait);
        free(name);
    }
    store_contact_free(ct);
    store_claim_free(cl);
}

int bridge_team_command(const struct message_in *in,
                        const struct store_account *a, long long contact_id,
                        const char *writer)
{
    static const struct {
        const char *word;
        void (*run)(const struct bridge_team_cmd *c);
    } cmds[] = {
        {.word = "claim", .run = bridge_team_claim_cmd},
        {.word = "release", .run = bridge_team_release_cmd},
        {.word = "assign", .run = bridge_team_assign_cmd},
        {.word = "note", .run = bridge_team_note_cmd},
        {.word = "who", .run = bridge_team_who_cmd},
    };
    struct bridge_team_cmd c = {in, a, contact_id, writer, ""};
    const char *word = in->body + 1;
    size_t n = strcspn(word, " \t\n"), i;

    if (!bridge_has_team(a->id))
        return 0;
    c.arg = word + n + strspn(word + n, " \t\n");
    for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strlen(cmds[i].word) == n &&
            strncasecmp(word, cmds[i].word, n) == 0) {
            cmds[i].run(&c);
            return 1;
        }
    }
    bridge_team_answer(&c, BRIDGE_TEAM_HELP);
    return 1;
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
