/* SPDX-License-Identifier: MIT */
/* The bridge, hidden linked ids: a 1:1 sender WhatsApp names by a lid
 * ("<digits>@lid") alone has a contact and JID of its own
 * ("<digits>\40lid@gateway") until the network tells its number; that
 * contact then becomes the number's (merged into the number's contact
 * when there is one), the lid stays an alias of it, and the user is told
 * once, from the number's JID. */
#include <stdlib.h>
#include <string.h>

#include "bridge_core.h"
#include "bridge_lid.h"
#include "bridge_muc.h"
#include "bridge_team.h"
#include "jid.h"
#include "log.h"
#include "message.h"
#include "net_backend.h"
#include "roster.h"
#include "store.h"
#include "util.h"

#define BRIDGE_LID_ASKING_MAX 16 /* lookups in flight at once */

/* A lookup in flight. */
struct bridge_lid_q {
    long long account_id;
    char *lid;
};

static struct {
    struct bridge_lid_q *q[BRIDGE_LID_ASKING_MAX];
    size_t n;
} bridge_lid_asking;

int bridge_lid_phone(const struct store_account *a, const char *lid,
                     char **phone)
{
    return store_lid_get(bridge_store(), a->id, lid, phone) < 0 ? -1 : 0;
}

/* The index of the lookup of (account_id, lid) in flight, or -1. */
static long bridge_lid_find(long long account_id, const char *lid)
{
    size_t i;

    for (i = 0; i < bridge_lid_asking.n; i++)
        if (bridge_lid_asking.q[i]->account_id == account_id &&
            strcmp(bridge_lid_asking.q[i]->lid, lid) == 0)
            return (long)i;
    return -1;
}

/* Tells the user that the conversation with contact_id (now the number's,
 * at jid) goes on there; was: the lid's JID. A relinked contact (new: no
 * contact had the number) is put on the roster under its new JID. */
static int bridge_lid_tell(const struct store_account *a, long long contact_id,
                           const char *jid, const char *was, const char *name,
                           int new)
{
    struct message_out o = {.from = jid, .to = a->jid};
    char *id = xasprintf("ferry-lid-%s", was), *body;
    int rc = new ? bridge_team_new_contact(a, contact_id, jid, name) : 0;

    body = xasprintf("[%s%swrote to you as %s, with their number hidden by "
                     "WhatsApp: the conversation goes on here]",
                     name ? name : "", name ? " " : "", was);
    o.id = id;
    o.body = body;
    if (rc == 0)
        rc = bridge_team_deliver(a, contact_id, id, &o);
    free(body);
    free(id);
    return rc;
}

/* The lid's number is phone: the lid's contact becomes the number's. */
static int bridge_lid_move(const struct store_account *a,
                           const struct store_contact *c, const char *phone)
{
    struct store_contact *into =
        store_contact_get(bridge_store(), a->id, phone);
    struct store_contact *now;
    char *local = jid_local_of(phone), *was = bridge_contact_jid(c), *jid;
    long long id = into != NULL ? into->id : c->id;
    int rc = into != NULL
                 ? store_contact_merge(bridge_store(), c->id, into->id)
                 : store_contact_relink(bridge_store(), c->id, phone, local);

    now = rc == 0 ? store_contact_by_id(bridge_store(), id) : NULL;
    if (now != NULL) {
        jid = bridge_contact_jid(now);
        log_info("bridge: %s of %s is %s", was, a->jid, jid);
        rc = bridge_lid_tell(a, id, jid, was, c->name ? c->name : now->name,
                             into == NULL);
        if (rc == 0)
            roster_contact_gone(was, a->jid);
        free(jid);
    } else {
        rc = -1;
    }
    store_contact_free(now);
    store_contact_free(into);
    free(local);
    free(was);
    return rc;
}

/* What the network said of the account's lid (phone: digits or NULL). */
static int bridge_lid_learn(const struct store_account *a, const char *lid,
                            const char *phone)
{
    struct store_contact *c;
    int rc;

    if (phone != NULL && jid_kind_of(phone) != JID_KIND_PHONE) {
        log_warn("bridge: the number given for a lid is not one; ignored");
        phone = NULL;
    }
    if (store_lid_set(bridge_store(), a->id, lid, phone) < 0)
        return -1;
    if (phone == NULL)
        return 0;
    if (bridge_muc_lid_known(a, lid, phone) < 0)
        return -1;
    c = store_contact_get(bridge_store(), a->id, lid);
    /* none yet, or already the number's (an alias) */
    rc = c == NULL || strcmp(c->network_id, lid) != 0
             ? 0
             : bridge_lid_move(a, c, phone);
    store_contact_free(c);
    return rc;
}

static void bridge_lid_answer(const struct net_result *r, void *arg)
{
    struct bridge_lid_q *q = arg;
    long i = bridge_lid_find(q->account_id, q->lid);
    struct store_account *a;
    int rc;

    if (i >= 0)
        bridge_lid_asking.q[i] = bridge_lid_asking.q[--bridge_lid_asking.n];
    if (r->outcome == NET_OK)
        store_txn_begin(bridge_store());
    a = r->outcome == NET_OK
            ? store_account_by_id(bridge_store(), q->account_id)
            : NULL;
    if (a != NULL && store_part_begin(bridge_store()) == 0) {
        rc = bridge_lid_learn(a, q->lid, r->info);
        if (store_part_end(bridge_store(), rc == 0) < 0 || rc < 0)
            log_error("bridge: the number of a lid of %s not stored", a->jid);
    }
    store_account_free(a);
    free(q->lid);
    free(q);
}

/* A page of the network's lid map, for account *arg: each pair learnt, in
 * the page's own transaction. */
static void bridge_lid_page(const struct net_result *r, const char *const *lids,
                            const char *const *phones, size_t n, int last,
                            void *arg)
{
    long long *account_id = arg;
    struct store_account *a = NULL;
    size_t i;
    int rc = 0;

    if (r->outcome == NET_OK && n > 0) {
        store_txn_begin(bridge_store());
        a = store_account_by_id(bridge_store(), *account_id);
    }
    if (a != NULL && store_part_begin(bridge_store()) == 0) {
        for (i = 0; i < n && rc == 0; i++)
            if (jid_is_lid(lids[i]))
                rc = bridge_lid_learn(a, lids[i], phones[i]);
        if (store_part_end(bridge_store(), rc == 0) < 0 || rc < 0)
            log_error("bridge: the numbers of lids of %s not stored", a->jid);
        else
            log_debug("bridge: %zu lid(s) of %s known", n, a->jid);
    }
    store_account_free(a);
    if (last)
        free(account_id);
}

void bridge_lid_learn_all(const struct store_account *a)
{
    const struct net_backend *be = bridge_backend_of(a);
    struct net_account na = {.id = a->network_id, .token = a->token};
    long long *account_id;

    if (be == NULL || be->peer_phones == NULL)
        return;
    account_id = xmalloc(sizeof(*account_id));
    *account_id = a->id;
    be->peer_phones(&na, bridge_lid_page, account_id);
}

void bridge_lid_ask(const struct store_account *a, const char *lid)
{
    const struct net_backend *be = bridge_backend_of(a);
    struct net_account na = {.id = a->network_id, .token = a->token};
    struct bridge_lid_q *q;

    if (be == NULL || be->peer_phone == NULL ||
        bridge_lid_find(a->id, lid) >= 0)
        return;
    if (bridge_lid_asking.n == BRIDGE_LID_ASKING_MAX) {
        log_debug("bridge: too many lid lookups at once; asked later");
        return;
    }
    q = xcalloc(1, sizeof(*q));
    q->account_id = a->id;
    q->lid = xstrdup(lid);
    bridge_lid_asking.q[bridge_lid_asking.n++] = q;
    be->peer_phone(&na, lid, bridge_lid_answer, q);
}
