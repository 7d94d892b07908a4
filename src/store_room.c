/* SPDX-License-Identifier: MIT */
/* Rows of the room and room_member tables: the groups each account is in
 * and their members (issue 14).
 * Static SQL with bound parameters only; every string read is copied. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_int.h"
#include "store_room.h"
#include "util.h"

long long store_room_put(struct store *st, long long account_id,
                         const char *group_id, const char *subject)
{
    sqlite3_stmt *s = store_stmt(
        st, "INSERT INTO room (account_id, group_id, subject, updated)"
            " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (account_id, group_id)"
            " DO UPDATE SET subject = excluded.subject,"
            " updated = excluded.updated");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, group_id);
    store_bind_text(s, 3, subject ? subject : "");
    sqlite3_bind_int64(s, 4, now_s());
    if (store_run(st, s) < 0)
        return -1;
    s = store_stmt(st, "SELECT id FROM room WHERE account_id = ?1"
                       " AND group_id = ?2");
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, group_id);
    return store_int(st, s, -1);
}

/* Adds one member as the seq-th of its room. */
static int store_room_member_add(struct store *st, long long room_id,
                                 const struct store_member_in *m, size_t seq)
{
    sqlite3_stmt *s = store_stmt(
        st, "INSERT INTO room_member (room_id, participant, lid, phone,"
            " push_name, role, seq, self)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            " ON CONFLICT (room_id, participant) DO NOTHING");

    if (s == NULL || m->participant == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, room_id);
    store_bind_text(s, 2, m->participant);
    store_bind_text(s, 3, m->lid);
    store_bind_text(s, 4, m->phone);
    store_bind_text(s, 5, m->push_name);
    store_bind_text(s, 6, m->role ? m->role : "member");
    sqlite3_bind_int64(s, 7, (long long)seq);
    sqlite3_bind_int(s, 8, m->self != 0);
    return store_run(st, s);
}

int store_room_members_set(struct store *st, long long room_id,
                           const struct store_member_in *m, size_t n)
{
    size_t i;

    /* push names learnt from messages outlive a refresh of the list */
    if (store_exec(st, "CREATE TEMP TABLE IF NOT EXISTS room_names"
                       " (participant TEXT PRIMARY KEY, push_name TEXT);"
                       "DELETE FROM temp.room_names") < 0)
        return -1;
    if (store_run_ll(st,
                     "INSERT INTO temp.room_names SELECT participant,"
                     " push_name FROM room_member WHERE room_id = ?1"
                     " AND push_name IS NOT NULL",
                     room_id) < 0 ||
        store_run_ll(st, "DELETE FROM room_member WHERE room_id = ?1",
                     room_id) < 0)
        return -1;
    for (i = 0; i < n; i++)
        if (store_room_member_add(st, room_id, &m[i], i) < 0)
            return -1;
    return store_run_ll(st,
                        "UPDATE room_member SET push_name = (SELECT"
                        " push_name FROM temp.room_names n WHERE"
                        " n.participant = room_member.participant)"
                        " WHERE room_id = ?1 AND push_name IS NULL",
                        room_id);
}

/* 1 when group_id is one of keep[0..n-1]. */
static int store_room_kept(const char *group_id, const char *const *keep,
                           size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(keep[i], group_id) == 0)
            return 1;
    return 0;
}

int store_room_keep(struct store *st, long long account_id,
                    const char *const *keep, size_t n)
{
    struct store_room **rows;
    size_t i, nrows;
    int rc = store_room_list(st, account_id, SIZE_MAX, &rows, &nrows);

    for (i = 0; i < nrows; i++) {
        if (rc == 0 && !store_room_kept(rows[i]->group_id, keep, n))
            rc =
                store_run_ll(st, "DELETE FROM room WHERE id = ?1", rows[i]->id);
        store_room_free(rows[i]);
    }
    free(rows);
    return rc;
}

static void *store_room_read(sqlite3_stmt *s)
{
    struct store_room *r = xcalloc(1, sizeof(*r));

    r->id = sqlite3_column_int64(s, 0);
    r->account_id = sqlite3_column_int64(s, 1);
    r->group_id = store_col_text(s, 2);
    r->subject = store_col_text(s, 3);
    if (r->subject == NULL)
        r->subject = xstrdup("");
    return r;
}

struct store_room *store_room_get(struct store *st, long long account_id,
                                  const char *group_id)
{
    sqlite3_stmt *s =
        store_stmt(st, "SELECT id, account_id, group_id, subject FROM room"
                       " WHERE account_id = ?1 AND group_id = ?2");

    if (s == NULL)
        return NULL;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, group_id);
    return store_one(st, s, store_room_read);
}

struct store_room *store_room_by_id(struct store *st, long long room_id)
{
    sqlite3_stmt *s = store_stmt(
        st, "SELECT id, account_id, group_id, subject FROM room WHERE id = ?1");

    if (s == NULL)
        return NULL;
    sqlite3_bind_int64(s, 1, room_id);
    return store_one(st, s, store_room_read);
}

int store_room_list(struct store *st, long long account_id, size_t max,
                    struct store_room ***rows, size_t *n)
{
    sqlite3_stmt *s =
        store_stmt(st, "SELECT id, account_id, group_id, subject FROM room"
                       " WHERE account_id = ?1 ORDER BY subject, group_id");

    *rows = NULL;
    *n = 0;
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    return store_all(st, s, store_room_read, max, (void ***)rows, n);
}

static void *store_member_read(sqlite3_stmt *s)
{
    struct store_member *m = xcalloc(1, sizeof(*m));

    m->participant = store_col_text(s, 0);
    m->lid = store_col_text(s, 1);
    m->phone = store_col_text(s, 2);
    m->push_name = store_col_text(s, 3);
    m->role = store_col_text(s, 4);
    m->self = sqlite3_column_int(s, 5);
    return m;
}

int store_room_members(struct store *st, long long room_id, size_t max,
                       struct store_member ***rows, size_t *n)
{
    sqlite3_stmt *s = store_stmt(
        st, "SELECT participant, lid, phone, push_name, role, self FROM"
            " room_member WHERE room_id = ?1 ORDER BY seq");

    *rows = NULL;
    *n = 0;
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, room_id);
    return store_all(st, s, store_member_read, max, (void ***)rows, n);
}

int store_room_member_name(struct store *st, long long room_id, const char *who,
                           const char *push_name)
{
    sqlite3_stmt *s = store_stmt(
        st, "UPDATE room_member SET push_name = ?3 WHERE room_id = ?1"
            " AND (participant = ?2 OR lid = ?2 OR phone = ?2)");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, room_id);
    store_bind_text(s, 2, who);
    store_bind_text(s, 3, push_name);
    return store_run(st, s);
}

long long store_room_message_put(struct store *st, long long room_id,
                                 const struct store_room_message_in *m,
                                 int pending)
{
    sqlite3_stmt *s = store_stmt(
        st, "INSERT INTO room_message (room_id, network_id, author, body,"
            " stamp, pending, kind, target, msg_key, xmpp_id, origin_id, url,"
            " waiting) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
            " ?12, ?13)"
            " ON CONFLICT (room_id, network_id) DO NOTHING");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, room_id);
    store_bind_text(s, 2, m->network_id);
    store_bind_text(s, 3, m->author);
    store_bind_text(s, 4, m->body ? m->body : "");
    sqlite3_bind_int64(s, 5, m->stamp);
    sqlite3_bind_int(s, 6, pending != 0);
    store_bind_text(s, 7, m->kind ? m->kind : "text");
    store_bind_text(s, 8, m->target);
    store_bind_text(s, 9, m->key ? m->key : m->network_id);
    store_bind_text(s, 10, m->xmpp_id);
    store_bind_text(s, 11, m->origin_id);
    store_bind_text(s, 12, m->url);
    sqlite3_bind_int(s, 13, m->waiting);
    if (store_run(st, s) < 0)
        return -1;
    return sqlite3_changes(store_db(st)) > 0
               ? sqlite3_last_insert_rowid(store_db(st))
               : 0;
}

long long store_room_message_add(struct store *st, long long room_id,
                                 const char *network_id, const char *author,
                                 const char *body, long long stamp, int pending)
{
    struct store_room_message_in m = {.network_id = network_id,
                                      .author = author,
                                      .body = body,
                                      .stamp = stamp};

    return store_room_message_put(st, room_id, &m, pending);
}

void store_room_message_in_of(const struct store_room_message *m,
                              struct store_room_message_in *in)
{
    in->network_id = m->network_id;
    in->author = m->author;
    in->body = m->body;
    in->kind = m->kind;
    in->target = m->target;
    in->key = m->key;
    in->xmpp_id = m->xmpp_id;
    in->origin_id = m->origin_id;
    in->url = m->url;
    in->stamp = m->stamp;
}

#define STORE_ROOM_MESSAGE_COLS                                                \
    "id, network_id, author, body, stamp, kind, target, msg_key, xmpp_id,"     \
    " origin_id, url"

static void *store_room_message_read(sqlite3_stmt *s)
{
    struct store_room_message *m = xcalloc(1, sizeof(*m));

    m->id = sqlite3_column_int64(s, 0);
    m->network_id = store_col_text(s, 1);
    m->author = store_col_text(s, 2);
    m->body = store_col_text(s, 3);
    m->stamp = sqlite3_column_int64(s, 4);
    m->kind = store_col_text(s, 5);
    m->target = store_col_text(s, 6);
    m->key = store_col_text(s, 7);
    m->xmpp_id = store_col_text(s, 8);
    m->origin_id = store_col_text(s, 9);
    m->url = store_col_text(s, 10);
    return m;
}

struct store_room_message *
store_room_message_find(struct store *st, long long room_id, const char *key)
{
    sqlite3_stmt *s =
        store_stmt(st, "SELECT " STORE_ROOM_MESSAGE_COLS " FROM room_message"
                       " WHERE room_id = ?1 AND msg_key = ?2 AND kind = 'text'"
                       " ORDER BY id LIMIT 1");

    if (s == NULL || key == NULL)
        return NULL;
    sqlite3_bind_int64(s, 1, room_id);
    store_bind_text(s, 2, key);
    return store_one(st, s, store_room_message_read);
}

struct store_room_message *
store_room_message_mine(struct store *st, long long room_id, const char *id)
{
    sqlite3_stmt *s = store_stmt(
        st, "SELECT " STORE_ROOM_MESSAGE_COLS " FROM room_message"
            " WHERE room_id = ?1 AND kind = 'text'"
            " AND (xmpp_id = ?2 OR origin_id = ?2) ORDER BY id DESC LIMIT 1");

    if (s == NULL || id == NULL)
        return NULL;
    sqlite3_bind_int64(s, 1, room_id);
    store_bind_text(s, 2, id);
    return store_one(st, s, store_room_message_read);
}

int store_room_pending(struct store *st, long long room_id, size_t max,
                       struct store_room_message ***rows, size_t *n)
{
    sqlite3_stmt *s =
        store_stmt(st, "SELECT " STORE_ROOM_MESSAGE_COLS " FROM room_message"
                       " WHERE room_id = ?1 AND pending = 1 AND waiting = 0"
                       " ORDER BY id");

    *rows = NULL;
    *n = 0;
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, room_id);
    return store_all(st, s, store_room_message_read, max, (void ***)rows, n);
}

int store_room_recent(struct store *st, long long room_id, long long since,
                      size_t max, struct store_room_message ***rows, size_t *n)
{
    sqlite3_stmt *s =
        store_stmt(st, "SELECT " STORE_ROOM_MESSAGE_COLS " FROM room_message"
                       " WHERE room_id = ?1 AND stamp >= ?2 AND waiting = 0"
                       " ORDER BY id DESC LIMIT ?3");

    *rows = NULL;
    *n = 0;
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, room_id);
    sqlite3_bind_int64(s, 2, since);
    sqlite3_bind_int64(s, 3, (long long)(max < INT32_MAX ? max : INT32_MAX));
    return store_all(st, s, store_room_message_read, max, (void ***)rows, n);
}

/* Binds q's room, times and ids from 1 to 5. */
static void store_room_query_bind(sqlite3_stmt *s,
                                  const struct store_room_query *q)
{
    sqlite3_bind_int64(s, 1, q->room_id);
    sqlite3_bind_int64(s, 2, q->start_ms);
    sqlite3_bind_int64(s, 3, q->end_ms > 0 ? q->end_ms : INT64_MAX);
    sqlite3_bind_int64(s, 4, q->after);
    sqlite3_bind_int64(s, 5, q->before > 0 ? q->before : INT64_MAX);
}

int store_room_page(struct store *st, const struct store_room_query *q,
                    struct store_room_message ***rows, size_t *n, int *more)
{
    sqlite3_stmt *s = store_stmt(
        st, q->last ? "SELECT " STORE_ROOM_MESSAGE_COLS " FROM room_message"
                      " WHERE room_id = ?1 AND stamp * 1000 BETWEEN ?2 AND ?3"
                      " AND id > ?4 AND id < ?5 AND waiting = 0"
                      " ORDER BY id DESC LIMIT ?6"
                    : "SELECT " STORE_ROOM_MESSAGE_COLS " FROM room_message"
                      " WHERE room_id = ?1 AND stamp * 1000 BETWEEN ?2 AND ?3"
                      " AND id > ?4 AND id < ?5 AND waiting = 0"
                      " ORDER BY id LIMIT ?6");
    struct store_room_message *t;
    size_t i;
    int rc;

    *rows = NULL;
    *n = 0;
    *more = 0;
    if (s == NULL)
        return -1;
    store_room_query_bind(s, q);
    sqlite3_bind_int64(s, 6, (long long)q->max + 1);
    rc = store_all(st, s, store_room_message_read, q->max + 1, (void ***)rows,
                   n);
    if (*n > q->max) {
        *more = 1;
        store_room_message_free((*rows)[--*n]);
    }
    for (i = 0; q->last && i < *n / 2; i++) { /* oldest first */
        t = (*rows)[i];
        (*rows)[i] = (*rows)[*n - 1 - i];
        (*rows)[*n - 1 - i] = t;
    }
    return rc;
}

long long store_room_count(struct store *st, const struct store_room_query *q)
{
    sqlite3_stmt *s = store_stmt(
        st, "SELECT COUNT(*) FROM room_message WHERE room_id = ?1"
            " AND stamp * 1000 BETWEEN ?2 AND ?3 AND id > ?4 AND id < ?5"
            " AND waiting = 0");
    struct store_room_query all = *q;

    if (s == NULL)
        return -1;
    all.after = all.before = 0; /* the count is of the whole query */
    store_room_query_bind(s, &all);
    return store_int(st, s, -1);
}

int store_room_message_blank(struct store *st, long long room_id,
                             const char *network_id, const char *body)
{
    sqlite3_stmt *s = store_stmt(
        st, "UPDATE room_message SET body = ?3 WHERE room_id = ?1 AND"
            " ((kind = 'text' AND network_id = ?2) OR"
            " (kind = 'edit' AND target = ?2))");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, room_id);
    store_bind_text(s, 2, network_id);
    store_bind_text(s, 3, body);
    return store_run(st, s);
}

int store_room_delete(struct store *st, long long room_id)
{
    return store_run_ll(st, "DELETE FROM room WHERE id = ?1", room_id);
}

static void *store_room_text_read(sqlite3_stmt *s)
{
    return store_col_text(s, 0);
}

char *store_room_self_phone(struct store *st, long long account_id)
{
    sqlite3_stmt *s =
        store_stmt(st, "SELECT m.phone FROM room_member m JOIN room r ON r.id ="
                       " m.room_id WHERE r.account_id = ?1 AND m.self = 1"
                       " AND m.phone IS NOT NULL LIMIT 1");

    if (s == NULL)
        return NULL;
    sqlite3_bind_int64(s, 1, account_id);
    return store_one(st, s, store_room_text_read);
}

long long store_room_message_row(struct store *st, long long room_id,
                                 const char *network_id)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT id FROM room_message"
                                     " WHERE room_id = ?1 AND network_id = ?2");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, room_id);
    store_bind_text(s, 2, network_id);
    return store_int(st, s, 0);
}

int store_room_expire(struct store *st, long long before)
{
    sqlite3_stmt *s =
        store_stmt(st, "DELETE FROM room_message WHERE stamp < ?1");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, before);
    if (store_run(st, s) < 0)
        return -1;
    return sqlite3_changes(store_db(st));
}

int store_room_holding(struct store *st, long long room_id)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT EXISTS (SELECT 1 FROM"
                                     " room_message WHERE room_id = ?1"
                                     " AND waiting = 1)");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, room_id);
    return (int)store_int(st, s, -1);
}

int store_room_file_end(struct store *st, long long room_id,
                        const char *network_id, const char *body,
                        const char *url)
{
    sqlite3_stmt *s = store_stmt(
        st, "UPDATE room_message SET body = ?3, url = ?4, waiting = 2"
            " WHERE room_id = ?1 AND network_id = ?2 AND waiting IN (1, 3)");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, room_id);
    store_bind_text(s, 2, network_id);
    store_bind_text(s, 3, body);
    store_bind_text(s, 4, url);
    return store_run(st, s);
}

int store_room_file_defer(struct store *st, long long room_id,
                          const char *network_id)
{
    sqlite3_stmt *s = store_stmt(
        st, "UPDATE room_message SET waiting = 3"
            " WHERE room_id = ?1 AND network_id = ?2 AND waiting = 1");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, room_id);
    store_bind_text(s, 2, network_id);
    return store_run(st, s);
}

int store_room_released(struct store *st, long long room_id, size_t max,
                        struct store_room_message ***rows, size_t *n)
{
    sqlite3_stmt *s = store_stmt(
        st, "SELECT " STORE_ROOM_MESSAGE_COLS " FROM room_message"
            " WHERE room_id = ?1 AND waiting = 2 AND id < coalesce((SELECT"
            " min(id) FROM room_message WHERE room_id = ?1 AND waiting = 1),"
            " 9223372036854775807) ORDER BY id LIMIT ?2");

    *rows = NULL;
    *n = 0;
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, room_id);
    sqlite3_bind_int64(s, 2, (long long)(max < INT32_MAX ? max : INT32_MAX));
    return store_all(st, s, store_room_message_read, max, (void ***)rows, n);
}

int store_room_release_mark(struct store *st, long long room_id,
                            long long up_to, int pending)
{
    sqlite3_stmt *s = store_stmt(st, "UPDATE room_message SET waiting = 0,"
                                     " pending = ?3 WHERE room_id = ?1"
                                     " AND waiting = 2 AND id <= ?2");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, room_id);
    sqlite3_bind_int64(s, 2, up_to);
    sqlite3_bind_int(s, 3, pending != 0);
    return store_run(st, s);
}

int store_room_pending_clear(struct store *st, long long room_id,
                             long long up_to)
{
    sqlite3_stmt *s = store_stmt(st, "UPDATE room_message SET pending = 0"
                                     " WHERE room_id = ?1 AND pending = 1"
                                     " AND id <= ?2");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, room_id);
    sqlite3_bind_int64(s, 2, up_to);
    return store_run(st, s);
}

void store_room_message_free(struct store_room_message *m)
{
    if (m == NULL)
        return;
    free(m->network_id);
    free(m->author);
    free(m->body);
    free(m->kind);
    free(m->target);
    free(m->key);
    free(m->xmpp_id);
    free(m->origin_id);
    free(m->url);
    free(m);
}

void store_room_free(struct store_room *r)
{
    if (r == NULL)
        return;
    free(r->group_id);
    free(r->subject);
    free(r);
}

void store_member_free(struct store_member *m)
{
    if (m == NULL)
        return;
    free(m->participant);
    free(m->lid);
    free(m->phone);
    free(m->push_name);
    free(m->role);
    free(m);
}
