/* SPDX-License-Identifier: MIT */
/* The history of a team's conversations: what the customer and the
 * members wrote, read page by page (XEP-0313 with XEP-0059 paging) and
 * expired after [team] history_days (issue 16, item 4).
 * Static SQL with bound parameters only; every string read is copied. */
#include <stdint.h>
#include <stdlib.h>

#include "store.h"
#include "store_history.h"
#include "store_int.h"
#include "util.h"

#define STORE_HISTORY_COLS                                                     \
    "id, contact_id, direction, sender, body, stanza_id, network_id,"          \
    " created_ms"

long long store_history_add(struct store *st, long long account_id,
                            const struct store_history *h)
{
    sqlite3_stmt *s = store_stmt(
        st, "INSERT INTO history (account_id, contact_id, direction, sender,"
            " body, stanza_id, network_id, created_ms)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    char dir[2] = {h->direction, '\0'};

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    sqlite3_bind_int64(s, 2, h->contact_id);
    store_bind_text(s, 3, dir);
    store_bind_text(s, 4, h->sender);
    store_bind_text(s, 5, h->body);
    store_bind_text(s, 6, h->stanza_id);
    store_bind_text(s, 7, h->network_id);
    sqlite3_bind_int64(s, 8, h->created_ms);
    return store_insert(st, s);
}

int store_history_sent(struct store *st, long long account_id,
                       long long message_id, const char *network_id)
{
    sqlite3_stmt *s = store_stmt(
        st, "UPDATE history SET network_id = ?3 WHERE account_id = ?1"
            " AND direction = 'o' AND network_id IS NULL AND stanza_id ="
            " (SELECT stanza_id FROM message WHERE id = ?2)");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    sqlite3_bind_int64(s, 2, message_id);
    store_bind_text(s, 3, network_id);
    return store_run(st, s);
}

int store_history_contacts(struct store *st, long long account_id,
                           long long *ids, int max)
{
    sqlite3_stmt *s =
        store_stmt(st, "SELECT contact_id FROM history WHERE account_id = ?1"
                       " GROUP BY contact_id ORDER BY MAX(id) DESC LIMIT ?2");
    int n = 0, rc = SQLITE_DONE;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    sqlite3_bind_int(s, 2, max);
    while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW)
        ids[n++] = sqlite3_column_int64(s, 0);
    if (n < max && rc != SQLITE_DONE) {
        store_log_stmt(st, s);
        n = -1;
    }
    sqlite3_reset(s);
    return n;
}

void store_history_free(struct store_history *h)
{
    if (h == NULL)
        return;
    free(h->sender);
    free(h->body);
    free(h->stanza_id);
    free(h->network_id);
    free(h);
}

static void *store_history_read(sqlite3_stmt *s)
{
    struct store_history *h = xcalloc(1, sizeof(*h));
    const unsigned char *dir = sqlite3_column_text(s, 2);

    h->id = sqlite3_column_int64(s, 0);
    h->contact_id = sqlite3_column_int64(s, 1);
    h->direction = dir != NULL && dir[0] == 'o' ? 'o' : 'i';
    h->sender = store_col_text(s, 3);
    h->body = store_col_text(s, 4);
    h->stanza_id = store_col_text(s, 5);
    h->network_id = store_col_text(s, 6);
    h->created_ms = sqlite3_column_int64(s, 7);
    return h;
}

/* Binds q's bounds: ?1 contact, ?2..?3 time, ?4..?5 ids, ?6 the limit. */
static void store_history_bind(sqlite3_stmt *s,
                               const struct store_history_query *q,
                               long long limit)
{
    sqlite3_bind_int64(s, 1, q->contact_id);
    sqlite3_bind_int64(s, 2, q->start_ms);
    sqlite3_bind_int64(s, 3, q->end_ms > 0 ? q->end_ms : INT64_MAX);
    sqlite3_bind_int64(s, 4, q->after);
    sqlite3_bind_int64(s, 5, q->before > 0 ? q->before : INT64_MAX);
    sqlite3_bind_int64(s, 6, limit);
}

int store_history_page(struct store *st, const struct store_history_query *q,
                       struct store_history ***rows, size_t *n, int *more)
{
    sqlite3_stmt *s = store_stmt(
        st, q->last ? "SELECT " STORE_HISTORY_COLS " FROM history"
                      " WHERE contact_id = ?1 AND created_ms BETWEEN ?2 AND ?3"
                      " AND id > ?4 AND id < ?5 ORDER BY id DESC LIMIT ?6"
                    : "SELECT " STORE_HISTORY_COLS " FROM history"
                      " WHERE contact_id = ?1 AND created_ms BETWEEN ?2 AND ?3"
                      " AND id > ?4 AND id < ?5 ORDER BY id LIMIT ?6");
    struct store_history *t;
    size_t i;
    int rc;

    *rows = NULL;
    *n = 0;
    *more = 0;
    if (s == NULL)
        return -1;
    store_history_bind(s, q, (long long)q->max + 1);
    rc = store_all(st, s, store_history_read, q->max + 1, (void ***)rows, n);
    if (*n > q->max) {
        *more = 1;
        store_history_free((*rows)[--*n]);
    }
    for (i = 0; q->last && i < *n / 2; i++) { /* oldest first */
        t = (*rows)[i];
        (*rows)[i] = (*rows)[*n - 1 - i];
        (*rows)[*n - 1 - i] = t;
    }
    return rc;
}

long long store_history_count(struct store *st,
                              const struct store_history_query *q)
{
    sqlite3_stmt *s =
        store_stmt(st, "SELECT COUNT(*) FROM history WHERE contact_id = ?1"
                       " AND created_ms BETWEEN ?2 AND ?3");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, q->contact_id);
    sqlite3_bind_int64(s, 2, q->start_ms);
    sqlite3_bind_int64(s, 3, q->end_ms > 0 ? q->end_ms : INT64_MAX);
    return store_int(st, s, 0);
}

int store_history_has(struct store *st, long long contact_id, long long id)
{
    sqlite3_stmt *s = store_stmt(
        st, "SELECT COUNT(*) FROM history WHERE id = ?1 AND contact_id = ?2");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, contact_id);
    return (int)store_int(st, s, 0);
}

long long store_history_expire(struct store *st, long long before_ms)
{
    if (store_run_ll(st, "DELETE FROM history WHERE created_ms < ?1",
                     before_ms) < 0)
        return -1;
    return sqlite3_changes(store_db(st));
}
