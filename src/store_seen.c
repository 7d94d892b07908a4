/* SPDX-License-Identifier: MIT */
/* Dedupe keys (network event ids already accepted) and statuses that
 * arrived before their send request returned.
 * Static SQL with bound parameters only; every string read is copied. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

/* ---- dedupe ---- */

/* Records key; 1 when new, 0 when already there. */
int store_seen_add(struct store *st, const char *key, long long expires)
{
    sqlite3_stmt *s = store_stmt(st, "INSERT INTO seen (key, expires)"
                                     " VALUES (?1, ?2)"
                                     " ON CONFLICT (key) DO NOTHING");

    if (s == NULL)
        return -1;
    store_bind_text(s, 1, key);
    sqlite3_bind_int64(s, 2, expires);
    if (store_run(st, s) < 0)
        return -1;
    return sqlite3_changes(store_db(st)) > 0 ? 1 : 0;
}

int store_seen_expire(struct store *st, long long now_s)
{
    return store_run_ll(st, "DELETE FROM seen WHERE expires <= ?1", now_s);
}

/* ---- early statuses ---- */

struct store_early {
    int status;
    int error_code;
    char *error_text;
};

static void *store_early_read(sqlite3_stmt *s)
{
    struct store_early *e = xcalloc(1, sizeof(*e));

    e->status = sqlite3_column_int(s, 0);
    e->error_code = sqlite3_column_int(s, 1);
    e->error_text = store_col_text(s, 2);
    return e;
}

/* Keeps a status whose message is not yet in the id map. */
int store_early_status_add(struct store *st, long long account_id,
                           const char *network_id, int status, int error_code,
                           const char *error_text)
{
    sqlite3_stmt *s = store_stmt(
        st, "INSERT INTO early_status (account_id, network_id, status,"
            " error_code, error_text, created)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, network_id);
    sqlite3_bind_int(s, 3, status);
    sqlite3_bind_int(s, 4, error_code);
    store_bind_text(s, 5, error_text);
    sqlite3_bind_int64(s, 6, now_s());
    return store_insert(st, s) < 0 ? -1 : 0;
}

static int store_early_status_delete(struct store *st, long long account_id,
                                     const char *network_id)
{
    sqlite3_stmt *s = store_stmt(st, "DELETE FROM early_status"
                                     " WHERE account_id = ?1"
                                     " AND network_id = ?2");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, network_id);
    return store_run(st, s);
}

/* Hands the early statuses of network_id to fn, oldest first, and deletes
 * them. */
int store_early_status_take(struct store *st, long long account_id,
                            const char *network_id,
                            void (*fn)(int status, int error_code,
                                       const char *error_text, void *arg),
                            void *arg)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT status, error_code, error_text"
                                     " FROM early_status WHERE account_id = ?1"
                                     " AND network_id = ?2 ORDER BY id");
    struct store_early *e;
    void **rows;
    size_t n, i;
    int rc;

    if (s != NULL) {
        sqlite3_bind_int64(s, 1, account_id);
        store_bind_text(s, 2, network_id);
    }
    rc = store_all(st, s, store_early_read, SIZE_MAX, &rows, &n);
    for (i = 0; i < n; i++) {
        e = rows[i];
        if (rc == 0)
            fn(e->status, e->error_code, e->error_text, arg);
        free(e->error_text);
        free(e);
    }
    free(rows);
    if (rc == 0 && n > 0)
        rc = store_early_status_delete(st, account_id, network_id);
    return rc;
}

int store_early_status_expire(struct store *st, long long before_s)
{
    sqlite3_stmt *s =
        store_stmt(st, "DELETE FROM early_status WHERE created < ?1");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, before_s);
    return store_run(st, s);
}
