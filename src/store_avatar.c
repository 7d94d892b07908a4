/* SPDX-License-Identifier: MIT */
/* Profile pictures: the avatar table, and contact_avatar and room_avatar
 * (which picture each shows). Static SQL with bound parameters only; every
 * string read is copied. */
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_avatar.h"
#include "store_int.h"
#include "util.h"

/* The statements of each owner's table, indexed by enum store_avatar_owner. */
static const struct {
    const char *hash, *checked, *get, *set, *due;
} store_avatar_sql[] = {
    [STORE_AVATAR_CONTACT] =
        {
            "SELECT hash FROM contact_avatar WHERE contact_id = ?1",
            "SELECT checked FROM contact_avatar WHERE contact_id = ?1",
            "SELECT a.mime, a.data FROM contact_avatar c"
            " JOIN avatar a ON a.hash = c.hash WHERE c.contact_id = ?1",
            "INSERT INTO contact_avatar (contact_id, hash, checked)"
            " VALUES (?1, ?2, ?3) ON CONFLICT (contact_id)"
            " DO UPDATE SET hash = ?2, checked = ?3",
            "SELECT c.id, c.account_id, c.network_id FROM account a"
            " JOIN contact c ON c.account_id = a.id"
            " LEFT JOIN contact_avatar v ON v.contact_id = c.id"
            " WHERE a.backend = ?1 AND a.state = 'active'"
            " AND c.subscription != 'none'"
            " AND coalesce(v.checked, 0) < ?2"
            " ORDER BY coalesce(v.checked, 0), c.id LIMIT ?3",
        },
    [STORE_AVATAR_ROOM] =
        {
            "SELECT hash FROM room_avatar WHERE room_id = ?1",
            "SELECT checked FROM room_avatar WHERE room_id = ?1",
            "SELECT a.mime, a.data FROM room_avatar r"
            " JOIN avatar a ON a.hash = r.hash WHERE r.room_id = ?1",
            "INSERT INTO room_avatar (room_id, hash, checked)"
            " VALUES (?1, ?2, ?3) ON CONFLICT (room_id)"
            " DO UPDATE SET hash = ?2, checked = ?3",
            "SELECT r.id, r.account_id, r.group_id FROM account a"
            " JOIN room r ON r.account_id = a.id"
            " LEFT JOIN room_avatar v ON v.room_id = r.id"
            " WHERE a.backend = ?1 AND a.state = 'active'"
            " AND coalesce(v.checked, 0) < ?2"
            " ORDER BY coalesce(v.checked, 0), r.id LIMIT ?3",
        },
};

int store_avatar_hash(struct store *st, enum store_avatar_owner owner,
                      long long id, char hash[STORE_AVATAR_HASH])
{
    sqlite3_stmt *s = store_stmt(st, store_avatar_sql[owner].hash);
    const unsigned char *h;
    int rc;

    hash[0] = '\0';
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        h = sqlite3_column_text(s, 0);
        if (h != NULL && strlen((const char *)h) < STORE_AVATAR_HASH)
            strcpy(hash, (const char *)h);
    } else if (rc != SQLITE_DONE) {
        store_log_stmt(st, s);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

long long store_avatar_checked(struct store *st, enum store_avatar_owner owner,
                               long long id)
{
    sqlite3_stmt *s = store_stmt(st, store_avatar_sql[owner].checked);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    return store_int(st, s, 0);
}

int store_avatar_get(struct store *st, enum store_avatar_owner owner,
                     long long id, char **mime, unsigned char **data,
                     size_t *len)
{
    sqlite3_stmt *s = store_stmt(st, store_avatar_sql[owner].get);
    const void *blob;
    int rc, n;

    *mime = NULL;
    *data = NULL;
    *len = 0;
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *mime = store_col_text(s, 0);
        blob = sqlite3_column_blob(s, 1);
        n = sqlite3_column_bytes(s, 1);
        *data = xmalloc(n > 0 ? (size_t)n : 1);
        if (n > 0)
            memcpy(*data, blob, (size_t)n);
        *len = (size_t)n;
    } else if (rc != SQLITE_DONE) {
        store_log_stmt(st, s);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Drops old's picture when nothing shows it any more. */
static int store_avatar_drop_unused(struct store *st, const char *old)
{
    sqlite3_stmt *s = store_stmt(
        st, "DELETE FROM avatar WHERE hash = ?1"
            " AND NOT EXISTS (SELECT 1 FROM contact_avatar WHERE hash = ?1)"
            " AND NOT EXISTS (SELECT 1 FROM room_avatar WHERE hash = ?1)");

    if (s == NULL)
        return -1;
    store_bind_text(s, 1, old);
    return store_run(st, s);
}

int store_avatar_set(struct store *st, enum store_avatar_owner owner,
                     long long id, const char *hash, const char *mime,
                     const void *data, size_t len, long long now)
{
    char old[STORE_AVATAR_HASH];
    int known = store_avatar_hash(st, owner, id, old), changed;
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
    s = store_stmt(st, store_avatar_sql[owner].set);
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
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
    long long id, account_id;
    char *network_id;
};

static void *store_avatar_row_read(sqlite3_stmt *s)
{
    struct store_avatar_row *r = xcalloc(1, sizeof(*r));

    r->id = sqlite3_column_int64(s, 0);
    r->account_id = sqlite3_column_int64(s, 1);
    r->network_id = store_col_text(s, 2);
    return r;
}

int store_avatar_due(struct store *st, enum store_avatar_owner owner,
                     const char *backend, long long before, int max,
                     int (*fn)(long long id, long long account_id,
                               const char *network_id, void *arg),
                     void *arg)
{
    sqlite3_stmt *s = store_stmt(st, store_avatar_sql[owner].due);
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
            stop =
                fn(rows[i]->id, rows[i]->account_id, rows[i]->network_id, arg);
        free(rows[i]->network_id);
        free(rows[i]);
    }
    free(rows);
    return rc < 0 ? -1 : (int)n;
}
