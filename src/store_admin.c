/* SPDX-License-Identifier: MIT */
/* What operators ask of the store: counts of messages by direction and
 * status and of queued work, and the outbox rows that failed for good,
 * which are kept so that they can be queued again. */
#include <string.h>

#include "store.h"
#include "store_int.h"
#include "util.h"

/* A row filter on the account: ?1 = 0 means every account. */
#define STORE_ADMIN_ACCOUNT "(?1 = 0 OR account_id = ?1)"

/* Steps s after binding ?1 to account_id; the integer of its first row (0
 * when none), -1 on error (logged). */
static long long store_admin_int(struct store *st, sqlite3_stmt *s,
                                 long long account_id)
{
    if (s != NULL)
        sqlite3_bind_int64(s, 1, account_id);
    return store_int(st, s, 0);
}

/* Fills s->messages from the message table. */
static int store_admin_messages(struct store *st, long long account_id,
                                struct store_stats *s)
{
    sqlite3_stmt *q = store_stmt(st, "SELECT direction, status, count(*)"
                                     " FROM message WHERE " STORE_ADMIN_ACCOUNT
                                     " GROUP BY direction, status");
    const unsigned char *dir;
    int rc, status;

    if (q == NULL)
        return -1;
    sqlite3_bind_int64(q, 1, account_id);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        dir = sqlite3_column_text(q, 0);
        status = sqlite3_column_int(q, 1);
        if (dir == NULL || status < 0 || status >= STORE_NSTATUS)
            continue;
        s->messages[dir[0] == 'o'][status] = sqlite3_column_int64(q, 2);
    }
    if (rc != SQLITE_DONE)
        store_log_stmt(st, q);
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_stats_get(struct store *st, long long account_id,
                    struct store_stats *s)
{
    memset(s, 0, sizeof(*s));
    if (store_admin_messages(st, account_id, s) < 0)
        return -1;
    s->outbox_queued = store_admin_int(
        st,
        store_stmt(st, "SELECT count(*) FROM outbox WHERE state = 'queued'"
                       " AND " STORE_ADMIN_ACCOUNT),
        account_id);
    s->outbox_failed = store_admin_int(
        st,
        store_stmt(st, "SELECT count(*) FROM outbox WHERE state = 'failed'"
                       " AND " STORE_ADMIN_ACCOUNT),
        account_id);
    s->inbox = store_admin_int(
        st,
        store_stmt(st, "SELECT count(*) FROM inbox WHERE state = 0"
                       " AND " STORE_ADMIN_ACCOUNT),
        account_id);
    s->inbox_held = store_admin_int(
        st,
        store_stmt(st, "SELECT count(*) FROM inbox WHERE state IN (2, 5)"
                       " AND " STORE_ADMIN_ACCOUNT),
        account_id);
    s->accounts = store_admin_int(
        st,
        store_stmt(st, "SELECT count(*) FROM account WHERE ?1 = 0"
                       " OR id = ?1"),
        account_id);
    s->accounts_paused = store_admin_int(
        st,
        store_stmt(st, "SELECT count(*) FROM account WHERE state <> 'active'"
                       " AND (?1 = 0 OR id = ?1)"),
        account_id);
    return s->outbox_queued < 0 || s->outbox_failed < 0 || s->inbox < 0 ||
                   s->inbox_held < 0 || s->accounts < 0 ||
                   s->accounts_paused < 0
               ? -1
               : 0;
}

char *store_outbox_last_error(struct store *st, long long account_id)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT last_error FROM outbox"
                                     " WHERE account_id = ?1"
                                     " AND last_error IS NOT NULL"
                                     " ORDER BY id DESC LIMIT 1");
    char *v = NULL;

    if (s == NULL)
        return NULL;
    sqlite3_bind_int64(s, 1, account_id);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = store_col_text(s, 0);
    sqlite3_reset(s);
    return v;
}

int store_outbox_fail(struct store *st, long long id, const char *last_error)
{
    sqlite3_stmt *s = store_stmt(st, "UPDATE outbox SET state = 'failed',"
                                     " last_error = ?2 WHERE id = ?1");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, last_error, -1, SQLITE_TRANSIENT);
    return store_run(st, s);
}

/* Moves the messages of the account's failed rows back to queued. */
static int store_admin_unfail_messages(struct store *st, long long account_id)
{
    sqlite3_stmt *s =
        store_stmt(st, "UPDATE message SET status = 0, updated = ?2"
                       " WHERE id IN (SELECT message_id FROM outbox"
                       " WHERE state = 'failed' AND " STORE_ADMIN_ACCOUNT ")");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    sqlite3_bind_int64(s, 2, now_s());
    return store_run(st, s);
}

long long store_outbox_requeue_failed(struct store *st, long long account_id)
{
    sqlite3_stmt *s =
        store_stmt(st, "UPDATE outbox SET state = 'queued', attempts = 0,"
                       " next_attempt = 0, last_error = NULL"
                       " WHERE state = 'failed' AND " STORE_ADMIN_ACCOUNT);

    if (s == NULL || store_admin_unfail_messages(st, account_id) < 0)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    if (store_run(st, s) < 0)
        return -1;
    return sqlite3_changes(store_db(st));
}

int store_outbox_expire_failed(struct store *st, long long before_s)
{
    return store_run_ll(st,
                        "DELETE FROM outbox WHERE"
                        " state = 'failed' AND created < ?1",
                        before_s);
}
