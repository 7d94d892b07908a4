/* SPDX-License-Identifier: MIT */
/* Telling a user about a room of theirs (issue 14): an XEP-0402 bookmark
 * with autojoin, published to their PEP through XEP-0356 where their server
 * lets the gateway publish as its users; else, and when the server refuses
 * or does not answer, an XEP-0249 invitation from the gateway (inbox). */
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "bridge_core.h"
#include "bridge_muc_int.h"
#include "component.h"
#include "jid.h"
#include "log.h"
#include "message.h"
#include "queue.h"
#include "roster.h"
#include "util.h"

#define NS_CONFERENCE "jabber:x:conference"
#define NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define NS_BOOKMARKS "urn:xmpp:bookmarks:1"
#define NS_FORWARD "urn:xmpp:forward:0"
#define NS_DATA "jabber:x:data"
#define BRIDGE_MUC_BOOKMARK_WAIT_MS 30000

/* A bookmark on its way: what the invitation instead would need. */
struct bridge_muc_announce {
    long long account_id;
    char *user, *group, *subject;
    char *inner_id; /* the id of the iq the server runs as the user */
};

/* The name the room goes by: the group's subject, or its id. */
static const char *bridge_muc_room_name(const char *group, const char *subject)
{
    return subject && subject[0] != '\0' ? subject : group;
}

/* Queues an XEP-0249 invitation to the group's room to user. */
static void bridge_muc_invitation(long long account_id, const char *user,
                                  const char *group, const char *subject)
{
    char *room_jid = jid_of(group, component_jid());
    char *id = component_new_id(), *reason;
    xmpp_stanza_t *m, *x;

    if (room_jid == NULL) {
        free(id);
        return;
    }
    reason = xasprintf("You are in the WhatsApp group \"%s\"",
                       bridge_muc_room_name(group, subject));
    m = xmpp_message_new(component_ctx(), NULL, user, id);
    xmpp_stanza_set_from(m, component_jid());
    x = component_elem(m, "x", NS_CONFERENCE);
    xmpp_stanza_set_attribute(x, "jid", room_jid);
    xmpp_stanza_set_attribute(x, "reason", reason);
    if (bridge_inbox(account_id, user, id, message_take_xml(m)) < 0)
        log_warn("bridge: the invitation to a room of %s was not kept", user);
    free(reason);
    free(room_jid);
    free(id);
}

static void bridge_muc_announce_free(struct bridge_muc_announce *an)
{
    free(an->user);
    free(an->group);
    free(an->subject);
    free(an->inner_id);
    free(an);
}

/* The pubsub payload that publishes the room's bookmark (XEP-0402 3.3),
 * with the node options the XEP asks for. */
static xmpp_stanza_t *bridge_muc_bookmark_pubsub(const char *room_jid,
                                                 const char *name,
                                                 const char *nick)
{
    xmpp_stanza_t *ps = component_elem(NULL, "pubsub", NS_PUBSUB);
    xmpp_stanza_t *pub = component_elem(ps, "publish", NULL);
    xmpp_stanza_t *item = component_elem(pub, "item", NULL);
    xmpp_stanza_t *conf = component_elem(item, "conference", NS_BOOKMARKS);
    xmpp_stanza_t *x;
    char *safe = utf8_xml_safe(name);

    xmpp_stanza_set_attribute(pub, "node", NS_BOOKMARKS);
    xmpp_stanza_set_attribute(item, "id", room_jid);
    xmpp_stanza_set_attribute(conf, "name", safe);
    xmpp_stanza_set_attribute(conf, "autojoin", "true");
    if (nick != NULL)
        component_text_elem(conf, "nick", nick);
    x = component_elem(component_elem(ps, "publish-options", NULL), "x",
                       NS_DATA);
    xmpp_stanza_set_type(x, "submit");
    bridge_muc_field(x, "FORM_TYPE", "hidden", NS_PUBSUB "#publish-options");
    bridge_muc_field(x, "pubsub#persist_items", NULL, "true");
    bridge_muc_field(x, "pubsub#max_items", NULL, "max");
    bridge_muc_field(x, "pubsub#send_last_published_item", NULL, "never");
    bridge_muc_field(x, "pubsub#access_model", NULL, "whitelist");
    free(safe);
    return ps;
}

/* The XEP-0356 iq that has the user's server run the pubsub set ps as
 * the user (via: the privilege namespace; ps is taken), the inner iq's id
 * inner_id. */
static xmpp_stanza_t *bridge_muc_bookmark_iq(const char *via, const char *user,
                                             xmpp_stanza_t *ps,
                                             const char *inner_id)
{
    xmpp_stanza_t *iq = xmpp_iq_new(component_ctx(), "set", NULL);
    xmpp_stanza_t *inner = xmpp_iq_new(component_ctx(), "set", inner_id);

    xmpp_stanza_set_to(iq, user);
    xmpp_stanza_set_ns(inner, "jabber:client");
    xmpp_stanza_set_from(inner, user);
    xmpp_stanza_set_to(inner, user);
    xmpp_stanza_add_child_ex(inner, ps, 0);
    xmpp_stanza_add_child_ex(component_elem(iq, "privileged_iq", via), inner,
                             0);
    return iq;
}

/* The user's localpart, their nick in the bookmark (caller frees), or
 * NULL. */
static char *bridge_muc_bookmark_nick(const char *user)
{
    char *nick = jid_bare(user), *at = nick ? strchr(nick, '@') : NULL;

    if (at == NULL || at == nick) {
        free(nick);
        return NULL;
    }
    *at = '\0';
    return nick;
}

/* Why the server did not publish the bookmark (reply: its answer, NULL
 * when none came), or NULL when it did. */
static const char *bridge_muc_bookmark_refused(xmpp_stanza_t *reply,
                                               const char *inner_id)
{
    const char *type = reply ? xmpp_stanza_get_type(reply) : NULL;
    xmpp_stanza_t *e;
    const char *id;

    if (reply == NULL)
        return component_connected() ? "no answer" : "disconnected";
    if (type == NULL || strcmp(type, "result") != 0)
        return "the privileged iq was refused";
    e = xmpp_stanza_get_child_by_name(reply, "privilege");
    e = e ? xmpp_stanza_get_child_by_name_and_ns(e, "forwarded", NS_FORWARD)
          : NULL;
    e = e ? xmpp_stanza_get_child_by_name(e, "iq") : NULL;
    if (e == NULL)
        return "no forwarded answer";
    type = xmpp_stanza_get_type(e);
    id = xmpp_stanza_get_id(e);
    if (id == NULL || strcmp(id, inner_id) != 0)
        return "an answer to another iq";
    if (type == NULL || strcmp(type, "result") != 0)
        return "the publish was refused";
    return NULL;
}

static void bridge_muc_bookmark_reply(xmpp_stanza_t *reply, void *arg)
{
    struct bridge_muc_announce *an = arg;
    const char *why = bridge_muc_bookmark_refused(reply, an->inner_id);

    if (why == NULL) {
        log_debug("bridge: bookmarked a room for %s", an->user);
    } else {
        log_warn("bridge: no bookmark of a room for %s (%s): an invitation "
                 "instead",
                 an->user, why);
        bridge_muc_invitation(an->account_id, an->user, an->group, an->subject);
        queue_kick();
    }
    bridge_muc_announce_free(an);
}

/* Publishes the room's bookmark to user's PEP when their server lets the
 * gateway; 0 when asked (the answer decides the rest), -1 when not. */
static int bridge_muc_bookmark(long long account_id, const char *user,
                               const char *group, const char *subject)
{
    const char *via = roster_iq_privilege(user, NS_PUBSUB, "set");
    struct bridge_muc_announce *an;
    char *room_jid, *nick;
    xmpp_stanza_t *iq;

    if (via == NULL || !component_connected() ||
        (room_jid = jid_of(group, component_jid())) == NULL)
        return -1;
    an = xcalloc(1, sizeof(*an));
    an->account_id = account_id;
    an->user = xstrdup(user);
    an->group = xstrdup(group);
    an->subject = subject ? xstrdup(subject) : NULL;
    an->inner_id = component_random_id();
    nick = bridge_muc_bookmark_nick(user);
    iq = bridge_muc_bookmark_iq(
        via, user,
        bridge_muc_bookmark_pubsub(room_jid,
                                   bridge_muc_room_name(group, subject), nick),
        an->inner_id);
    component_send_iq_timeout(iq, BRIDGE_MUC_BOOKMARK_WAIT_MS,
                              bridge_muc_bookmark_reply, an);
    xmpp_stanza_release(iq);
    free(nick);
    free(room_jid);
    return 0;
}

void bridge_muc_invite(long long account_id, const char *user,
                       const char *group, const char *subject)
{
    if (bridge_muc_bookmark(account_id, user, group, subject) < 0)
        bridge_muc_invitation(account_id, user, group, subject);
}

static void bridge_muc_unbookmark_reply(xmpp_stanza_t *reply, void *arg)
{
    char *inner_id = arg;
    const char *why = bridge_muc_bookmark_refused(reply, inner_id);

    if (why != NULL)
        log_info("bridge: a room's bookmark was not removed (%s)", why);
    free(inner_id);
}

void bridge_muc_unbookmark(const char *user, const char *group)
{
    const char *via = roster_iq_privilege(user, NS_PUBSUB, "set");
    xmpp_stanza_t *ps, *retract, *item, *iq;
    char *room_jid, *inner_id;

    if (via == NULL || !component_connected() ||
        (room_jid = jid_of(group, component_jid())) == NULL)
        return;
    ps = component_elem(NULL, "pubsub", NS_PUBSUB);
    retract = component_elem(ps, "retract", NULL);
    xmpp_stanza_set_attribute(retract, "node", NS_BOOKMARKS);
    xmpp_stanza_set_attribute(retract, "notify", "true");
    item = component_elem(retract, "item", NULL);
    xmpp_stanza_set_attribute(item, "id", room_jid);
    inner_id = component_random_id();
    iq = bridge_muc_bookmark_iq(via, user, ps, inner_id);
    component_send_iq_timeout(iq, BRIDGE_MUC_BOOKMARK_WAIT_MS,
                              bridge_muc_unbookmark_reply, inner_id);
    xmpp_stanza_release(iq);
    free(room_jid);
}
