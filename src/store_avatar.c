/* SPDX-License-Identifier: MIT */
/* Contacts' profile pictures: the avatar and contact_avatar tables.
 * Static SQL with bound parameters only; every string read is copied. */
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_avatar.h"
#include "store_int.h"
#include "util.h"

int store_avatar_hash(struct store *st, long long contact_id,
                      char hash[STORE_AVATAR_HASH])
{
    sqlite3_stmt *s =
        store_stmt(st, "SELECT hash FROM contact_avatar WHERE contact_id = ?1");
    const unsigned char *h;
    int rc;

    hash[0] = '\0';
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, contact_id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        h = sqlite3_column_text(s, 0);
        if (h != NULL && strlen((const char *)h) < STORE_AVATAR_HASH)
            strcpy(hash, (const char *)h);
        sqlite3_reset(s);
        return 1;
    }
    if (rc != SQLITE_DONE)
        store_log_stmt(st, s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

long long store_avatar_checked(struct store *st, long long contact_id)
{
    sqlite3_stmt *s = store_stmt(
        st, "SELECT checked FROM contact_avatar WHERE contact_id = ?1");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, contact_id);
    return store_int(st, s, 0);
}

int store_avatar_get(struct store *st, long long contact_id, char **mime,
                     unsigned char **data, size_t *len)
{
    sqlite3_stmt *s =
        store_stmt(st, "SELECT a.mime, a.data FROM contact_avatar c"
                       " JOIN avatar a ON a.hash = c.hash"
                       " WHERE c.contact_id = ?1");
    const void *blob;
    int rc, n;

    *mime = NULL;
    *data = NULL;
    *len = 0;
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, contact_id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *mime = store_col_text(s, 0);
        blob = sqlite3_column_blob(s, 1);
        n = sqlite3_column_bytes(s, 1);
        *data = xmalloc(n > 0 ? (size_t)n : 1);
        if (n > 0)
            memcpy(*data, blob, (size_t)n);
        *len = (size_t)n;
        sqlite3_reset(s);
        return 1;
    }
    if (rc != SQLITE_DONE)
        store_log_stmt(st, s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Drops old's picture when no contact shows it any more. */
static int store_avatar_drop_unused(struct store *st, const char *old)
{
    sqlite3_stmt *s =
        store_stmt(st, "DELETE FROM avatar WHERE hash = ?1 AND NOT EXISTS"
                       " (SELECT 1 FROM contact_avatar WHERE hash = ?1)");

    if (s == NULL)
        return -1;
    store_bind_text(s, 1, old);
    return store_run(st, s);
}

int store_avatar_set(struct store *st, long long contact_id, const char *hash,
                     const char *mime, const void *data, size_t len,
                     long long now)
{
    char old[STORE_AVATAR_HASH];
    int known = store_avatar_hash(st, contact_id, old), changed;
    sqlite3_stmt *s;

    if (known < 0)
        return -1;
    changed = known == 0 || strcmp(old, hash) != 0;
    if (data != NULL && *hash != '\0') {
        s = store_stmt(st, "INSERT INTO avatar (hash, mime, data)"
                           " VALUES (?1, ?2, ?3)"
                           " ON CONFLICT (hash) DO NOTHING");
        if (s == NULL)
            return -1;
        store_bind_text(s, 1, hash);
        store_bind_text(s, 2, mime ? mime : "image/jpeg");
        sqlite3_bind_blob(s, 3, data, (int)len, SQLITE_TRANSIENT);
        if (store_run(st, s) < 0)
            return -1;
    }
    s = store_stmt(st, "INSERT INTO contact_avatar (contact_id, hash, checked)"
                       " VALUES (?1, ?2, ?3) ON CONFLICT (contact_id)"
                       " DO UPDATE SET hash = ?2, checked = ?3");
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, contact_id);
    store_bind_text(s, 2, hash);
    sqlite3_bind_int64(s, 3, now);
    if (store_run(st, s) < 0)
        return -1;
    if (known == 1 && changed && *old != '\0' &&
        store_avatar_drop_unused(st, old) < 0)
        return -1;
    return changed;
}

struct store_avatar_row {
    long long contact_id, account_id;
    char *network_id;
};

static void *store_avatar_row_read(sqlite3_stmt *s)
{
    struct store_avatar_row *r = xcalloc(1, sizeof(*r));

    r->contact_id = sqlite3_column_int64(s, 0);
    r->account_id = sqlite3_column_int64(s, 1);
    r->network_id = store_col_text(s, 2);
    return r;
}

int store_avatar_due(struct store *st, const char *backend, long long before,
                     int max,
                     int (*fn)(long long contact_id, long long account_id,
                               const char *network_id, void *arg),
                     void *arg)
{
    sqlite3_stmt *s =
        store_stmt(st, "SELECT c.id, c.account_id, c.network_id FROM account a"
                       " JOIN contact c ON c.account_id = a.id"
                       " LEFT JOIN contact_avatar v ON v.contact_id = c.id"
                       " WHERE a.backend = ?1 AND a.state = 'active'"
                       " AND c.subscription != 'none'"
                       " AND coalesce(v.checked, 0) < ?2"
                       " ORDER BY coalesce(v.checked, 0), c.id LIMIT ?3");
    struct store_avatar_row **rows = NULL;
    size_t i, n = 0;
    int rc, stop = 0;

    if (s == NULL || max <= 0)
        return s == NULL ? -1 : 0;
    store_bind_text(s, 1, backend);
    sqlite3_bind_int64(s, 2, before);
    sqlite3_bind_int(s, 3, max);
    rc = store_all(st, s, store_avatar_row_read, (size_t)max, (void ***)&rows,
                   &n);
    for (i = 0; i < n; i++) {
        if (rc == 0 && !stop)
            stop = fn(rows[i]->contact_id, rows[i]->account_id,
                      rows[i]->network_id, arg);
        free(rows[i]->network_id);
        free(rows[i]);
    }
    free(rows);
    return rc < 0 ? -1 : (int)n;
}
