/* SPDX-License-Identifier: MIT */
/* Rows about a room's people (issue 14): members known by a lid alone
 * who get their number, and whether the user was told of a mention since
 * they last joined the room.
 * Static SQL with bound parameters only; every string read is copied. */
#include <stdlib.h>

#include "store.h"
#include "store_int.h"
#include "store_room.h"
#include "util.h"

static void *store_room_people_id(sqlite3_stmt *s)
{
    long long *id = xmalloc(sizeof(*id));

    *id = sqlite3_column_int64(s, 0);
    return id;
}

int store_room_lid_rooms(struct store *st, long long account_id,
                         const char *lid, size_t max, long long **ids,
                         size_t *n)
{
    sqlite3_stmt *s = store_stmt(
        st, "SELECT DISTINCT r.id FROM room r JOIN room_member m"
            " ON m.room_id = r.id WHERE r.account_id = ?1 AND m.lid = ?2"
            " AND m.phone IS NULL ORDER BY r.id");
    long long **rows = NULL;
    size_t i;
    int rc;

    *ids = NULL;
    *n = 0;
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, lid);
    rc = store_all(st, s, store_room_people_id, max, (void ***)&rows, n);
    *ids = xcalloc(*n ? *n : 1, sizeof(**ids));
    for (i = 0; i < *n; i++) {
        (*ids)[i] = *rows[i];
        free(rows[i]);
    }
    free(rows);
    return rc;
}

int store_room_member_phone(struct store *st, long long room_id,
                            const char *lid, const char *phone)
{
    sqlite3_stmt *s =
        store_stmt(st, "UPDATE room_member SET phone = ?3 WHERE room_id = ?1"
                       " AND lid = ?2 AND phone IS NULL");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, room_id);
    store_bind_text(s, 2, lid);
    store_bind_text(s, 3, phone);
    return store_run(st, s);
}

int store_room_notice_take(struct store *st, long long room_id)
{
    sqlite3_stmt *s = store_stmt(
        st, "UPDATE room SET notified = 1 WHERE id = ?1 AND notified = 0");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, room_id);
    if (store_run(st, s) < 0)
        return -1;
    return sqlite3_changes(store_db(st)) > 0;
}

int store_room_notice_reset(struct store *st, long long room_id)
{
    return store_run_ll(st,
                        "UPDATE room SET notified = 0 WHERE id = ?1"
                        " AND notified = 1",
                        room_id);
}
