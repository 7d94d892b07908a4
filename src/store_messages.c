/* SPDX-License-Identifier: MIT */
/* The message id map: XMPP stanza ids, network ids and statuses of
 * every message ferry carried.
 * Static SQL with bound parameters only; every string read is copied. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

/* ---- messages ---- */

#define STORE_MESSAGE_COLS                                                     \
    "id, account_id, contact_id, direction, stanza_id, sender, network_id, "   \
    "status, want_receipt, want_markers, snippet"

static void *store_message_read(sqlite3_stmt *s)
{
    struct store_message *m = xcalloc(1, sizeof(*m));
    const unsigned char *dir;

    m->id = sqlite3_column_int64(s, 0);
    m->account_id = sqlite3_column_int64(s, 1);
    m->contact_id = sqlite3_column_int64(s, 2);
    dir = sqlite3_column_text(s, 3);
    m->direction = dir != NULL ? (char)dir[0] : '\0';
    m->stanza_id = store_col_text(s, 4);
    m->sender = store_col_text(s, 5);
    m->network_id = store_col_text(s, 6);
    m->status = sqlite3_column_int(s, 7);
    m->want_receipt = sqlite3_column_int(s, 8);
    m->want_markers = sqlite3_column_int(s, 9);
    m->snippet = store_col_text(s, 10);
    return m;
}

void store_message_free(struct store_message *m)
{
    if (m == NULL)
        return;
    free(m->stanza_id);
    free(m->sender);
    free(m->network_id);
    free(m->snippet);
    free(m);
}

/* Inserts m (its id is ignored); the new id. */
long long store_message_add(struct store *st, const struct store_message *m)
{
    sqlite3_stmt *s = store_stmt(
        st, "INSERT INTO message (account_id, contact_id, direction,"
            " stanza_id, sender, network_id, status, want_receipt,"
            " want_markers, snippet, created, updated)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?11, ?10, ?10)");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, m->account_id);
    sqlite3_bind_int64(s, 2, m->contact_id);
    sqlite3_bind_text(s, 3, &m->direction, 1, SQLITE_TRANSIENT);
    store_bind_text(s, 4, m->stanza_id);
    store_bind_text(s, 5, m->sender);
    store_bind_text(s, 6, m->network_id);
    sqlite3_bind_int(s, 7, m->status);
    sqlite3_bind_int(s, 8, m->want_receipt != 0);
    sqlite3_bind_int(s, 9, m->want_markers != 0);
    sqlite3_bind_int64(s, 10, now_s());
    store_bind_text(s, 11, m->snippet);
    return store_insert(st, s);
}

struct store_message *store_message_by_network(struct store *st,
                                               long long account_id,
                                               const char *network_id)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT " STORE_MESSAGE_COLS
                                     " FROM message WHERE account_id = ?1"
                                     " AND network_id = ?2");

    if (s == NULL)
        return NULL;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, network_id);
    return store_one(st, s, store_message_read);
}

int store_message_known(struct store *st, long long account_id,
                        const char *network_id)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT count(*) FROM message"
                                     " WHERE account_id = ?1"
                                     " AND network_id = ?2");

    if (s != NULL) {
        sqlite3_bind_int64(s, 1, account_id);
        store_bind_text(s, 2, network_id);
    }
    return (int)store_int(st, s, 0);
}

struct store_message *store_message_by_id(struct store *st, long long id)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT " STORE_MESSAGE_COLS
                                     " FROM message WHERE id = ?1");

    if (s == NULL)
        return NULL;
    sqlite3_bind_int64(s, 1, id);
    return store_one(st, s, store_message_read);
}

/* The newest message of the account in direction with stanza_id. */
struct store_message *store_message_by_stanza(struct store *st,
                                              long long account_id,
                                              char direction,
                                              const char *stanza_id)
{
    sqlite3_stmt *s = store_stmt(
        st, "SELECT " STORE_MESSAGE_COLS " FROM message WHERE account_id = ?1"
            " AND direction = ?2 AND stanza_id = ?3 ORDER BY id DESC LIMIT 1");

    if (s == NULL)
        return NULL;
    sqlite3_bind_int64(s, 1, account_id);
    sqlite3_bind_text(s, 2, &direction, 1, SQLITE_TRANSIENT);
    store_bind_text(s, 3, stanza_id);
    return store_one(st, s, store_message_read);
}

int store_message_sent(struct store *st, long long id, const char *network_id)
{
    sqlite3_stmt *s = store_stmt(st, "UPDATE message SET network_id = ?2,"
                                     " status = 1, updated = ?3"
                                     " WHERE id = ?1 AND status = 0");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    store_bind_text(s, 2, network_id);
    sqlite3_bind_int64(s, 3, now_s());
    if (store_run(st, s) < 0)
        return -1;
    return sqlite3_changes(store_db(st)) > 0;
}

int store_message_set_snippet(struct store *st, long long id,
                              const char *snippet)
{
    sqlite3_stmt *s = store_stmt(st, "UPDATE message SET snippet = ?2,"
                                     " updated = ?3 WHERE id = ?1");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    store_bind_text(s, 2, snippet);
    sqlite3_bind_int64(s, 3, now_s());
    return store_run(st, s);
}

/* Moves the status forward only (failed is final); no change otherwise. */
int store_message_set_status(struct store *st, long long id, int status)
{
    sqlite3_stmt *s = store_stmt(st, "UPDATE message SET status = ?2,"
                                     " updated = ?3"
                                     " WHERE id = ?1 AND status < ?2");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int(s, 2, status);
    sqlite3_bind_int64(s, 3, now_s());
    return store_run(st, s);
}

long long store_message_count(struct store *st)
{
    return store_int(st, store_stmt(st, "SELECT count(*) FROM message"), 0);
}
