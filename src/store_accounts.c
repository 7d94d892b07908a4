/* SPDX-License-Identifier: MIT */
/* The account rows: one per registered XMPP user, with its back end,
 * credentials, settings and state.
 * Static SQL with bound parameters only; every string read is copied. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

/* ---- accounts ---- */

#define STORE_ACCOUNT_COLS                                                     \
    "id, jid, backend, network_id, token, display_number, settings, "          \
    "state, last_error"

static void *store_account_read(sqlite3_stmt *s)
{
    struct store_account *a = xcalloc(1, sizeof(*a));

    a->id = sqlite3_column_int64(s, 0);
    a->jid = store_col_text(s, 1);
    a->backend = store_col_text(s, 2);
    a->network_id = store_col_text(s, 3);
    a->token = store_col_text(s, 4);
    a->display_number = store_col_text(s, 5);
    a->settings = store_col_text(s, 6);
    a->state = store_col_text(s, 7);
    a->last_error = store_col_text(s, 8);
    return a;
}

void store_account_free(struct store_account *a)
{
    if (a == NULL)
        return;
    if (a->token != NULL)
        explicit_bzero(a->token, strlen(a->token));
    free(a->jid);
    free(a->backend);
    free(a->network_id);
    free(a->token);
    free(a->display_number);
    free(a->settings);
    free(a->state);
    free(a->last_error);
    free(a);
}

struct store_account *store_account_by_jid(struct store *st, const char *jid)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT " STORE_ACCOUNT_COLS
                                     " FROM account WHERE jid = ?1");

    if (s == NULL)
        return NULL;
    store_bind_text(s, 1, jid);
    return store_one(st, s, store_account_read);
}

struct store_account *store_account_by_network_id(struct store *st,
                                                  const char *backend,
                                                  const char *network_id)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT " STORE_ACCOUNT_COLS
                                     " FROM account WHERE backend = ?1"
                                     " AND network_id = ?2");

    if (s == NULL)
        return NULL;
    store_bind_text(s, 1, backend);
    store_bind_text(s, 2, network_id);
    return store_one(st, s, store_account_read);
}

struct store_account *store_account_by_id(struct store *st, long long id)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT " STORE_ACCOUNT_COLS
                                     " FROM account WHERE id = ?1");

    if (s == NULL)
        return NULL;
    sqlite3_bind_int64(s, 1, id);
    return store_one(st, s, store_account_read);
}

/* 1 when the network account is registered to a JID other than jid. */
static long long store_account_network_id_taken(struct store *st,
                                                const char *jid,
                                                const char *backend,
                                                const char *network_id)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT count(*) FROM account"
                                     " WHERE backend = ?1"
                                     " AND network_id = ?2"
                                     " AND jid <> ?3");

    if (s == NULL)
        return -1;
    store_bind_text(s, 1, backend);
    store_bind_text(s, 2, network_id);
    store_bind_text(s, 3, jid);
    return store_int(st, s, 0);
}

/* The id of the account of jid; 0 when none. */
static long long store_account_id(struct store *st, const char *jid)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT id FROM account WHERE jid = ?1");

    if (s == NULL)
        return -1;
    store_bind_text(s, 1, jid);
    return store_int(st, s, 0);
}

/* Registers jid (or updates its registration); the account's id. */
long long store_account_upsert(struct store *st, const char *jid,
                               const char *backend, const char *network_id,
                               const char *token, const char *display_number)
{
    long long taken =
        store_account_network_id_taken(st, jid, backend, network_id);
    sqlite3_stmt *s;

    if (taken != 0)
        return taken < 0 ? -1 : -2;
    s = store_stmt(st, "INSERT INTO account (jid, backend, network_id,"
                       " token, display_number, created)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                       " ON CONFLICT (jid) DO UPDATE SET"
                       " backend = excluded.backend,"
                       " network_id = excluded.network_id,"
                       " token = excluded.token,"
                       " display_number = excluded.display_number,"
                       " state = 'active', last_error = NULL");
    if (s == NULL)
        return -1;
    store_bind_text(s, 1, jid);
    store_bind_text(s, 2, backend);
    store_bind_text(s, 3, network_id);
    store_bind_text(s, 4, token);
    store_bind_text(s, 5, display_number);
    sqlite3_bind_int64(s, 6, now_s());
    if (store_run(st, s) < 0)
        return -1;
    return store_account_id(st, jid);
}

int store_account_delete(struct store *st, long long id)
{
    return store_run_ll(st, "DELETE FROM account WHERE id = ?1", id);
}

/* Records the account's state and why (last_error may be NULL). */
int store_account_set_state(struct store *st, long long id, const char *state,
                            const char *last_error)
{
    sqlite3_stmt *s = store_stmt(st, "UPDATE account SET state = ?2,"
                                     " last_error = ?3 WHERE id = ?1");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    store_bind_text(s, 2, state);
    store_bind_text(s, 3, last_error);
    return store_run(st, s);
}

int store_account_set_settings(struct store *st, long long id,
                               const char *settings)
{
    sqlite3_stmt *s =
        store_stmt(st, "UPDATE account SET settings = ?2 WHERE id = ?1");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    store_bind_text(s, 2, settings);
    return store_run(st, s);
}

static void *store_account_read_business(sqlite3_stmt *s)
{
    return store_col_text(s, 0);
}

char *store_account_business(struct store *st, long long id)
{
    sqlite3_stmt *s =
        store_stmt(st, "SELECT business_id FROM account WHERE id = ?1");

    if (s == NULL)
        return NULL;
    sqlite3_bind_int64(s, 1, id);
    return store_one(st, s, store_account_read_business);
}

int store_account_set_business(struct store *st, long long id,
                               const char *business)
{
    sqlite3_stmt *s =
        store_stmt(st, "UPDATE account SET business_id = ?2 WHERE id = ?1");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    store_bind_text(s, 2, business);
    return store_run(st, s);
}

/* Calls fn for every account in id order until fn returns non-zero. */
int store_account_foreach(struct store *st,
                          int (*fn)(const struct store_account *a, void *arg),
                          void *arg)
{
    return store_account_page(st, 0, -1, fn, arg);
}

int store_account_page(struct store *st, long long after_id, int max,
                       int (*fn)(const struct store_account *a, void *arg),
                       void *arg)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT " STORE_ACCOUNT_COLS
                                     " FROM account WHERE id > ?1"
                                     " ORDER BY id LIMIT ?2");
    void **rows;
    size_t n, i;
    int rc, stop = 0;

    if (s != NULL) {
        sqlite3_bind_int64(s, 1, after_id);
        sqlite3_bind_int(s, 2, max);
    }
    rc = store_all(st, s, store_account_read, SIZE_MAX, &rows, &n);
    for (i = 0; i < n; i++) {
        if (rc == 0 && stop == 0)
            stop = fn(rows[i], arg);
        store_account_free(rows[i]);
    }
    free(rows);
    return rc;
}

long long store_account_count(struct store *st)
{
    return store_int(st, store_stmt(st, "SELECT count(*) FROM account"), 0);
}
