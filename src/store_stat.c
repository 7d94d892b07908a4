/* SPDX-License-Identifier: MIT */
/* The rows behind a business number's response times: since when each
 * customer has been waiting for a reply, and the waiting conversations of
 * each account. */
#include "store.h"
#include "store_int.h"

long long store_contact_answer(struct store *st, long long contact_id)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT waiting_since FROM contact"
                                     " WHERE id = ?1");
    long long since;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, contact_id);
    since = store_int(st, s, 0);
    if (since > 0 &&
        store_run_ll(st, "UPDATE contact SET waiting_since = 0 WHERE id = ?1",
                     contact_id) < 0)
        return -1;
    return since;
}

int store_contact_answered(struct store *st, long long contact_id)
{
    return store_run_ll(
        st, "UPDATE contact SET waiting_since = 0 WHERE id = ?1", contact_id);
}

int store_wait_of(struct store *st, long long account_id, long long *n,
                  long long *oldest)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT COUNT(*), COALESCE(MIN("
                                     "waiting_since), 0) FROM contact WHERE"
                                     " account_id = ?1 AND waiting_since > 0");
    int rc;

    *n = *oldest = 0;
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *n = sqlite3_column_int64(s, 0);
        *oldest = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : -1;
}

int store_wait_foreach(struct store *st,
                       int (*fn)(long long account_id, long long n,
                                 long long oldest, void *arg),
                       void *arg)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT id FROM account ORDER BY id");
    long long ids[STORE_WAIT_ACCOUNTS], n, oldest;
    size_t k = 0, i;

    if (s == NULL)
        return -1;
    while (k < STORE_WAIT_ACCOUNTS && sqlite3_step(s) == SQLITE_ROW)
        ids[k++] = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    for (i = 0; i < k; i++) {
        if (store_wait_of(st, ids[i], &n, &oldest) == 0 &&
            fn(ids[i], n, oldest, arg) != 0)
            break;
    }
    return 0;
}
