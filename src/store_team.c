/* SPDX-License-Identifier: MIT */
/* A business number answered by a team: its members (besides the owner,
 * the account's jid) and who holds each conversation (issue 16).
 * Static SQL with bound parameters only; every string read is copied. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_int.h"
#include "util.h"

/* ---- members ---- */

int store_team_add(struct store *st, long long account_id, const char *jid,
                   long long now)
{
    long long other = store_team_account_of(st, jid);
    sqlite3_stmt *s;

    if (other < 0)
        return -1;
    if (other > 0)
        return other == account_id ? 0 : -2;
    s = store_stmt(st, "INSERT INTO team_member (account_id, jid, created)"
                       " VALUES (?1, ?2, ?3)");
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, jid);
    sqlite3_bind_int64(s, 3, now);
    return store_run(st, s) < 0 ? -1 : 1;
}

/* Deletes the rows of sql (?1 the account, ?2 the member); 0 or -1. */
static int store_team_delete(struct store *st, const char *sql,
                             long long account_id, const char *jid)
{
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, jid);
    return store_run(st, s);
}

int store_team_remove(struct store *st, long long account_id, const char *jid)
{
    if (store_team_delete(st,
                          "DELETE FROM team_member WHERE account_id = ?1"
                          " AND jid = ?2",
                          account_id, jid) < 0)
        return -1;
    if (sqlite3_changes(store_db(st)) == 0)
        return 0;
    return store_team_delete(st,
                             "DELETE FROM team_claim WHERE account_id = ?1"
                             " AND holder = ?2",
                             account_id, jid) < 0
               ? -1
               : 1;
}

struct store_account *store_account_own_or_team(struct store *st,
                                                const char *jid)
{
    struct store_account *a = store_account_by_jid(st, jid);
    long long id;

    if (a != NULL)
        return a;
    id = store_team_account_of(st, jid);
    return id > 0 ? store_account_by_id(st, id) : NULL;
}

long long store_team_account_of(struct store *st, const char *jid)
{
    sqlite3_stmt *s =
        store_stmt(st, "SELECT account_id FROM team_member WHERE jid = ?1");

    if (s == NULL)
        return -1;
    store_bind_text(s, 1, jid);
    return store_int(st, s, 0);
}

long long store_team_count(struct store *st, long long account_id)
{
    sqlite3_stmt *s = store_stmt(
        st, "SELECT COUNT(*) FROM team_member WHERE account_id = ?1");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    return store_int(st, s, 0);
}

static void *store_team_read(sqlite3_stmt *s)
{
    return store_col_text(s, 0);
}

int store_team_foreach(struct store *st, long long account_id,
                       int (*fn)(const char *jid, void *arg), void *arg)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT jid FROM team_member"
                                     " WHERE account_id = ?1 ORDER BY jid");
    void **rows = NULL;
    size_t n = 0, i;
    int rc, stop = 0;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    rc = store_all(st, s, store_team_read, SIZE_MAX, &rows, &n);
    for (i = 0; i < n; i++) {
        if (rc == 0 && stop == 0 && rows[i] != NULL)
            stop = fn(rows[i], arg);
        free(rows[i]);
    }
    free(rows);
    return rc;
}

/* ---- claims ---- */

void store_claim_free(struct store_claim *c)
{
    if (c == NULL)
        return;
    free(c->holder);
    free(c);
}

static void *store_claim_read(sqlite3_stmt *s)
{
    struct store_claim *c = xcalloc(1, sizeof(*c));

    c->contact_id = sqlite3_column_int64(s, 0);
    c->account_id = sqlite3_column_int64(s, 1);
    c->holder = store_col_text(s, 2);
    c->since = sqlite3_column_int64(s, 3);
    c->active = sqlite3_column_int64(s, 4);
    return c;
}

struct store_claim *store_claim_get(struct store *st, long long contact_id)
{
    sqlite3_stmt *s =
        store_stmt(st, "SELECT contact_id, account_id, holder, since, active"
                       " FROM team_claim WHERE contact_id = ?1");

    if (s == NULL)
        return NULL;
    sqlite3_bind_int64(s, 1, contact_id);
    return store_one(st, s, store_claim_read);
}

int store_claim_set(struct store *st, long long account_id,
                    long long contact_id, const char *holder, long long now)
{
    sqlite3_stmt *s = store_stmt(
        st, "INSERT INTO team_claim (contact_id, account_id, holder, since,"
            " active) VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (contact_id)"
            " DO UPDATE SET holder = ?3, since = ?4, active = ?4");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, contact_id);
    sqlite3_bind_int64(s, 2, account_id);
    store_bind_text(s, 3, holder);
    sqlite3_bind_int64(s, 4, now);
    return store_run(st, s);
}

int store_claim_touch(struct store *st, long long contact_id, long long now)
{
    sqlite3_stmt *s = store_stmt(
        st, "UPDATE team_claim SET active = ?2 WHERE contact_id = ?1");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, contact_id);
    sqlite3_bind_int64(s, 2, now);
    return store_run(st, s);
}

int store_claim_drop(struct store *st, long long contact_id)
{
    return store_run_ll(st, "DELETE FROM team_claim WHERE contact_id = ?1",
                        contact_id);
}

long long store_claim_count(struct store *st, long long account_id,
                            const char *holder)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT COUNT(*) FROM team_claim"
                                     " WHERE account_id = ?1 AND holder = ?2");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, holder);
    return store_int(st, s, 0);
}
