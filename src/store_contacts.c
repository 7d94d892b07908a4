/* SPDX-License-Identifier: MIT */
/* The contact rows of each account and their aliases (old or other
 * network ids that reach the same contact).
 * Static SQL with bound parameters only; every string read is copied. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

/* ---- contacts ---- */

#define STORE_CONTACT_COLS                                                     \
    "id, account_id, network_id, localpart, name, subscription, "              \
    "last_in_network_id, last_in_at"

static void *store_contact_read(sqlite3_stmt *s)
{
    struct store_contact *c = xcalloc(1, sizeof(*c));

    c->id = sqlite3_column_int64(s, 0);
    c->account_id = sqlite3_column_int64(s, 1);
    c->network_id = store_col_text(s, 2);
    c->localpart = store_col_text(s, 3);
    c->name = store_col_text(s, 4);
    c->subscription = store_col_text(s, 5);
    c->last_in_network_id = store_col_text(s, 6);
    c->last_in_at = sqlite3_column_int64(s, 7);
    return c;
}

void store_contact_free(struct store_contact *c)
{
    if (c == NULL)
        return;
    free(c->network_id);
    free(c->localpart);
    free(c->name);
    free(c->subscription);
    free(c->last_in_network_id);
    free(c);
}

/* The id of the contact with network_id, its own or an alias; 0 when
 * none, -1 on error. */
static long long store_contact_resolve(struct store *st, long long account_id,
                                       const char *network_id)
{
    sqlite3_stmt *s =
        store_stmt(st, "SELECT coalesce("
                       "(SELECT id FROM contact WHERE account_id = ?1"
                       " AND network_id = ?2),"
                       "(SELECT contact_id FROM alias WHERE account_id = ?1"
                       " AND network_id = ?2))");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, network_id);
    return store_int(st, s, 0);
}

/* The contact with network_id, found directly or through an alias. */
struct store_contact *store_contact_get(struct store *st, long long account_id,
                                        const char *network_id)
{
    long long id = store_contact_resolve(st, account_id, network_id);

    return id > 0 ? store_contact_by_id(st, id) : NULL;
}

struct store_contact *store_contact_by_id(struct store *st, long long id)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT " STORE_CONTACT_COLS
                                     " FROM contact WHERE id = ?1");

    if (s == NULL)
        return NULL;
    sqlite3_bind_int64(s, 1, id);
    return store_one(st, s, store_contact_read);
}

static long long store_contact_insert(struct store *st, long long account_id,
                                      const char *network_id,
                                      const char *localpart, const char *name)
{
    sqlite3_stmt *s = store_stmt(st, "INSERT INTO contact (account_id,"
                                     " network_id, localpart, name, created)"
                                     " VALUES (?1, ?2, ?3, ?4, ?5)");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, network_id);
    store_bind_text(s, 3, localpart);
    store_bind_text(s, 4, name);
    sqlite3_bind_int64(s, 5, now_s());
    return store_insert(st, s);
}

static int store_contact_set_name(struct store *st, long long id,
                                  const char *name)
{
    sqlite3_stmt *s = store_stmt(st, "UPDATE contact SET name = ?2"
                                     " WHERE id = ?1 AND name IS NOT ?2");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    store_bind_text(s, 2, name);
    return store_run(st, s);
}

/* Finds (also through an alias) or creates the contact; its id. */
long long store_contact_ensure(struct store *st, long long account_id,
                               const char *network_id, const char *localpart,
                               const char *name, int *created)
{
    long long id = store_contact_resolve(st, account_id, network_id);

    if (created != NULL)
        *created = 0;
    if (id < 0)
        return -1;
    if (id == 0) {
        id = store_contact_insert(st, account_id, network_id, localpart, name);
        if (id > 0 && created != NULL)
            *created = 1;
        return id;
    }
    if (name != NULL && store_contact_set_name(st, id, name) < 0)
        return -1;
    return id;
}

long long store_contact_ensure_times(struct store *st, long long account_id,
                                     const char *network_id,
                                     const char *localpart, int *created,
                                     struct store_contact_times *t)
{
    sqlite3_stmt *s = store_stmt(
        st, "SELECT id, last_in_at, waiting_since FROM contact WHERE id ="
            " coalesce((SELECT id FROM contact WHERE account_id = ?1"
            " AND network_id = ?2), (SELECT contact_id FROM alias"
            " WHERE account_id = ?1 AND network_id = ?2))");
    long long id = 0;
    int rc;

    t->last_in_at = t->waiting_since = 0;
    if (created != NULL)
        *created = 0;
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, network_id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        id = sqlite3_column_int64(s, 0);
        t->last_in_at = sqlite3_column_int64(s, 1);
        t->waiting_since = sqlite3_column_int64(s, 2);
    } else if (rc != SQLITE_DONE) {
        store_log_stmt(st, s);
        id = -1;
    }
    sqlite3_reset(s);
    if (id != 0)
        return id;
    return store_contact_ensure(st, account_id, network_id, localpart, NULL,
                                created);
}

int store_contact_set_subscription(struct store *st, long long id,
                                   const char *subscription)
{
    sqlite3_stmt *s =
        store_stmt(st, "UPDATE contact SET subscription = ?2 WHERE id = ?1");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    store_bind_text(s, 2, subscription);
    return store_run(st, s);
}

int store_contact_set_last_in(struct store *st, long long id,
                              const char *network_id, long long ts,
                              long long wait)
{
    sqlite3_stmt *s = store_stmt(
        st, "UPDATE contact SET last_in_network_id = ?2, last_in_at = ?3,"
            " waiting_since = CASE WHEN waiting_since = 0 THEN ?4"
            " ELSE waiting_since END WHERE id = ?1");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    store_bind_text(s, 2, network_id);
    sqlite3_bind_int64(s, 3, ts);
    sqlite3_bind_int64(s, 4, wait > 0 ? wait : 0);
    return store_run(st, s);
}

/* Calls fn for every contact of the account until fn returns non-zero. */
int store_contact_foreach(struct store *st, long long account_id,
                          int (*fn)(const struct store_contact *c, void *arg),
                          void *arg)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT " STORE_CONTACT_COLS
                                     " FROM contact WHERE account_id = ?1"
                                     " ORDER BY id");
    void **rows;
    size_t n, i;
    int rc, stop = 0;

    if (s != NULL)
        sqlite3_bind_int64(s, 1, account_id);
    rc = store_all(st, s, store_contact_read, SIZE_MAX, &rows, &n);
    for (i = 0; i < n; i++) {
        if (rc == 0 && stop == 0)
            stop = fn(rows[i], arg);
        store_contact_free(rows[i]);
    }
    free(rows);
    return rc;
}

int store_contact_renumber(struct store *st, long long contact_id,
                           const char *new_network_id)
{
    return store_contact_relink(st, contact_id, new_network_id, NULL);
}

/* Points network_id at contact_id, which must belong to account_id. */
int store_alias_add(struct store *st, long long account_id,
                    const char *network_id, long long contact_id)
{
    sqlite3_stmt *s =
        store_stmt(st, "INSERT INTO alias (account_id, network_id, contact_id)"
                       " SELECT ?1, ?2, id FROM contact WHERE id = ?3"
                       " AND account_id = ?1"
                       " ON CONFLICT (account_id, network_id) DO UPDATE SET"
                       " contact_id = excluded.contact_id");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, network_id);
    sqlite3_bind_int64(s, 3, contact_id);
    if (store_run(st, s) < 0)
        return -1;
    if (sqlite3_changes(store_db(st)) == 0) {
        log_error("store: alias for contact %lld, not one of account %lld",
                  contact_id, account_id);
        return -1;
    }
    return 0;
}

int store_contact_relink(struct store *st, long long contact_id,
                         const char *network_id, const char *localpart)
{
    struct store_contact *c = store_contact_by_id(st, contact_id);
    sqlite3_stmt *s;
    int rc = -1;

    if (c == NULL)
        return -1;
    if (strcmp(c->network_id, network_id) == 0 && localpart == NULL) {
        store_contact_free(c);
        return 0;
    }
    s = store_stmt(st, "DELETE FROM alias WHERE account_id = ?1"
                       " AND network_id = ?2");
    if (s != NULL) {
        sqlite3_bind_int64(s, 1, c->account_id);
        store_bind_text(s, 2, network_id);
        rc = store_run(st, s);
    }
    s = rc < 0 ? NULL
               : store_stmt(st, "UPDATE contact SET network_id = ?2,"
                                " localpart = coalesce(?3, localpart)"
                                " WHERE id = ?1");
    rc = -1;
    if (s != NULL) {
        sqlite3_bind_int64(s, 1, contact_id);
        store_bind_text(s, 2, network_id);
        store_bind_text(s, 3, localpart);
        rc = store_run(st, s);
    }
    if (rc == 0)
        rc = store_alias_add(st, c->account_id, c->network_id, contact_id);
    store_contact_free(c);
    return rc;
}

/* What moves from one contact to another in a merge (?1: from, ?2: into;
 * both of one account, checked before): every row that names the contact,
 * since deleting it would delete (cascade) what was left behind. A claim
 * or an avatar stays with into when into has its own (OR IGNORE: the
 * contact is their key); into keeps its name, subscription and customer
 * window unless from's say more. */
static const char *const store_contact_moves[] = {
    "UPDATE message SET contact_id = ?2 WHERE contact_id = ?1",
    "UPDATE outbox SET contact_id = ?2 WHERE contact_id = ?1",
    "UPDATE inbox SET contact_id = ?2 WHERE contact_id = ?1",
    "UPDATE history SET contact_id = ?2 WHERE contact_id = ?1",
    "UPDATE alias SET contact_id = ?2 WHERE contact_id = ?1",
    "UPDATE OR IGNORE team_claim SET contact_id = ?2 WHERE contact_id = ?1",
    "UPDATE OR IGNORE contact_avatar SET contact_id = ?2"
    " WHERE contact_id = ?1",
    "UPDATE contact AS i SET"
    " name = coalesce(i.name, f.name),"
    " subscription = CASE WHEN i.subscription = 'none' THEN f.subscription"
    "   ELSE i.subscription END,"
    " last_in_network_id = CASE WHEN f.last_in_at > i.last_in_at"
    "   THEN f.last_in_network_id ELSE i.last_in_network_id END,"
    " last_in_at = max(i.last_in_at, f.last_in_at),"
    " waiting_since = CASE WHEN i.waiting_since = 0 THEN f.waiting_since"
    "   WHEN f.waiting_since = 0 THEN i.waiting_since"
    "   ELSE min(i.waiting_since, f.waiting_since) END"
    " FROM contact AS f WHERE f.id = ?1 AND i.id = ?2",
};

int store_contact_merge(struct store *st, long long from_id, long long into_id)
{
    struct store_contact *from = store_contact_by_id(st, from_id);
    struct store_contact *into = store_contact_by_id(st, into_id);
    sqlite3_stmt *s;
    size_t i;
    int rc = from != NULL && into != NULL &&
                     from->account_id == into->account_id && from_id != into_id
                 ? 0
                 : -1;

    for (i = 0; rc == 0 && i < sizeof(store_contact_moves) /
                                   sizeof(store_contact_moves[0]);
         i++) {
        s = store_stmt(st, store_contact_moves[i]);
        if (s == NULL) {
            rc = -1;
            break;
        }
        sqlite3_bind_int64(s, 1, from_id);
        sqlite3_bind_int64(s, 2, into_id);
        rc = store_run(st, s);
    }
    if (rc == 0)
        rc = store_run_ll(st, "DELETE FROM contact WHERE id = ?1", from_id);
    if (rc == 0)
        rc = store_alias_add(st, into->account_id, from->network_id, into_id);
    store_contact_free(from);
    store_contact_free(into);
    return rc;
}

/* ---- hidden linked ids ---- */

int store_lid_get(struct store *st, long long account_id, const char *lid,
                  char **phone)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT phone FROM lid WHERE"
                                     " account_id = ?1 AND lid = ?2");
    int rc;

    *phone = NULL;
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, lid);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *phone = store_col_text(s, 0);
    else if (rc != SQLITE_DONE)
        store_log_stmt(st, s);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_lid_set(struct store *st, long long account_id, const char *lid,
                  const char *phone)
{
    sqlite3_stmt *s = store_stmt(
        st, "INSERT INTO lid (account_id, lid, phone, asked)"
            " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (account_id, lid) DO UPDATE"
            " SET phone = coalesce(excluded.phone, phone),"
            " asked = excluded.asked");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, lid);
    store_bind_text(s, 3, phone);
    sqlite3_bind_int64(s, 4, now_s());
    return store_run(st, s);
}
