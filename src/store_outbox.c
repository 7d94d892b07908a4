/* SPDX-License-Identifier: MIT */
/* The outbox rows: XMPP-to-network work, the oldest row of each contact
 * first, with attempts and the next attempt's time.
 * Static SQL with bound parameters only; every string read is copied. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

/* ---- outbox ---- */

#define STORE_OUTBOX_COLS                                                      \
    "o.id, o.account_id, o.contact_id, o.message_id, o.kind, o.payload, "      \
    "o.attempts, o.next_attempt, o.created, o.unknown"

/* Rows that are first in their contact's queue, or have no contact. */
#define STORE_OUTBOX_HEAD                                                      \
    "o.state = 'queued' AND (o.contact_id IS NULL OR o.id ="                   \
    " (SELECT min(p.id) FROM outbox p WHERE p.contact_id = o.contact_id"       \
    " AND p.state = 'queued'))"

/* The same rows found contact by contact: a skip scan of outbox_contact
 * (the next contact with a queued row, then its oldest queued row) costs
 * O(contacts * log rows), where testing every row against
 * STORE_OUTBOX_HEAD costs O(rows): 4 ms per pass with 5,000 rows queued
 * for 50 contacts, against 0.09 ms. A statement starting with this WITH
 * may use "o.id IN " STORE_OUTBOX_HEAD_IDS. */
#define STORE_OUTBOX_HEAD_WITH                                                 \
    "WITH RECURSIVE c(cid) AS ("                                               \
    " SELECT (SELECT contact_id FROM outbox INDEXED BY outbox_contact"         \
    "  WHERE contact_id > 0 AND state = 'queued'"                              \
    "  ORDER BY contact_id LIMIT 1)"                                           \
    " UNION ALL"                                                               \
    " SELECT (SELECT contact_id FROM outbox INDEXED BY outbox_contact"         \
    "  WHERE contact_id > c.cid AND state = 'queued'"                          \
    "  ORDER BY contact_id LIMIT 1) FROM c WHERE c.cid IS NOT NULL) "
#define STORE_OUTBOX_HEAD_IDS                                                  \
    "(SELECT (SELECT min(p.id) FROM outbox p WHERE p.contact_id = c.cid"       \
    "  AND p.state = 'queued') FROM c WHERE c.cid IS NOT NULL"                 \
    " UNION ALL SELECT id FROM outbox WHERE contact_id IS NULL"                \
    "  AND state = 'queued')"

static void *store_outbox_read(sqlite3_stmt *s)
{
    struct store_outbox *o = xcalloc(1, sizeof(*o));

    o->id = sqlite3_column_int64(s, 0);
    o->account_id = sqlite3_column_int64(s, 1);
    o->contact_id = sqlite3_column_int64(s, 2);
    o->message_id = sqlite3_column_int64(s, 3);
    o->kind = store_col_text(s, 4);
    o->payload = store_col_text(s, 5);
    o->attempts = sqlite3_column_int(s, 6);
    o->next_attempt = sqlite3_column_int64(s, 7);
    o->created = sqlite3_column_int64(s, 8);
    o->unknown = sqlite3_column_int(s, 9);
    return o;
}

void store_outbox_free(struct store_outbox *o)
{
    if (o == NULL)
        return;
    free(o->kind);
    free(o->payload);
    free(o);
}

/* Queues a request, due at once; the new row's id. */
long long store_outbox_add(struct store *st, long long account_id,
                           long long contact_id, long long message_id,
                           const char *kind, const char *payload)
{
    return store_outbox_put(st, 0, account_id, contact_id, message_id, kind,
                            payload);
}

long long store_outbox_put(struct store *st, long long id, long long account_id,
                           long long contact_id, long long message_id,
                           const char *kind, const char *payload)
{
    sqlite3_stmt *s = store_stmt(
        st, "INSERT INTO outbox (id, account_id, contact_id, message_id, kind,"
            " payload, created) VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?6)");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_id(s, 2, contact_id);
    store_bind_id(s, 3, message_id);
    store_bind_text(s, 4, kind);
    store_bind_text(s, 5, payload);
    sqlite3_bind_int64(s, 6, now_s());
    store_bind_id(s, 7, id); /* NULL: a new id */
    store_outbox_note(st, account_id);
    return store_insert_fresh(st, s, STORE_FRESH_OUTBOX);
}

/* Calls fn for each row read (no statement pending) until it returns
 * non-zero; the number of rows read, or -1. */
static int store_outbox_each(struct store *st, sqlite3_stmt *s, int max,
                             int (*fn)(const struct store_outbox *o, void *arg),
                             void *arg)
{
    void **rows;
    size_t n, i;
    int rc, stop = 0;

    rc = store_all(st, s, store_outbox_read, (size_t)max, &rows, &n);
    for (i = 0; i < n; i++) {
        if (rc == 0 && stop == 0)
            stop = fn(rows[i], arg);
        store_outbox_free(rows[i]);
    }
    free(rows);
    return rc < 0 ? -1 : (int)n;
}

/* Calls fn for the due head of each contact's queue (and for due rows
 * without contact), in id order. */
int store_outbox_heads(struct store *st, long long now_ms, int max,
                       int (*fn)(const struct store_outbox *o, void *arg),
                       void *arg)
{
    sqlite3_stmt *s =
        store_stmt(st, STORE_OUTBOX_HEAD_WITH
                   "SELECT " STORE_OUTBOX_COLS
                   " FROM outbox o WHERE o.id IN " STORE_OUTBOX_HEAD_IDS
                   " AND o.next_attempt <= ?1 ORDER BY o.id");

    if (max <= 0)
        return 0;
    if (s != NULL)
        sqlite3_bind_int64(s, 1, now_ms);
    return store_outbox_each(st, s, max, fn, arg) < 0 ? -1 : 0;
}

/* The account's next contact with a queued row after the one that
 * follows (a skip scan of outbox_account: account_id, state, contact_id),
 * ended by STORE_OUTBOX_FIRST or by a bound and STORE_OUTBOX_FIRST. */
#define STORE_OUTBOX_NEXT                                                      \
    "(SELECT contact_id FROM outbox INDEXED BY outbox_account"                 \
    " WHERE account_id = ?1 AND state = 'queued' AND contact_id > "
#define STORE_OUTBOX_FIRST " ORDER BY contact_id LIMIT 1)"

/* One account's rows without contact (at most ?3), then the heads of its
 * contacts in a circle from the one after ?2 round to ?2 (at most ?3
 * contacts): each read costs what it returns, whatever the backlog. */
#define STORE_OUTBOX_HEADS_OF                                                  \
    "WITH RECURSIVE c(cid, n) AS ("                                            \
    " SELECT coalesce(" STORE_OUTBOX_NEXT "?2" STORE_OUTBOX_FIRST              \
    "," STORE_OUTBOX_NEXT "0 AND contact_id <= ?2" STORE_OUTBOX_FIRST "), 1"   \
    " UNION ALL"                                                               \
    " SELECT CASE WHEN c.cid > ?2 THEN coalesce(" STORE_OUTBOX_NEXT            \
    "c.cid" STORE_OUTBOX_FIRST "," STORE_OUTBOX_NEXT                           \
    "0 AND contact_id <= ?2" STORE_OUTBOX_FIRST ") ELSE " STORE_OUTBOX_NEXT    \
    "c.cid AND contact_id <= ?2" STORE_OUTBOX_FIRST                            \
    " END, c.n + 1 FROM c WHERE c.cid IS NOT NULL AND c.n < ?3) "              \
    "SELECT " STORE_OUTBOX_COLS ", 0 FROM (SELECT * FROM outbox"               \
    " INDEXED BY outbox_account WHERE account_id = ?1 AND state = 'queued'"    \
    " AND contact_id IS NULL ORDER BY id LIMIT ?3) o "                         \
    "UNION ALL "                                                               \
    "SELECT " STORE_OUTBOX_COLS ", c.n FROM c, outbox o"                       \
    " WHERE c.cid IS NOT NULL AND o.id = (SELECT min(p.id) FROM outbox p"      \
    " INDEXED BY outbox_account WHERE p.account_id = ?1"                       \
    " AND p.state = 'queued' AND p.contact_id = c.cid) ORDER BY 11, 1"

int store_outbox_heads_of(struct store *st, long long account_id,
                          long long after, int max,
                          int (*fn)(const struct store_outbox *o, void *arg),
                          void *arg)
{
    sqlite3_stmt *s = store_stmt(st, STORE_OUTBOX_HEADS_OF);
    void **rows;
    size_t n, i;
    int rc, stop = 0, heads = 0;

    if (s == NULL || max <= 0)
        return s == NULL ? -1 : 0;
    sqlite3_bind_int64(s, 1, account_id);
    sqlite3_bind_int64(s, 2, after);
    sqlite3_bind_int(s, 3, max);
    rc = store_all(st, s, store_outbox_read, 2 * (size_t)max, &rows, &n);
    for (i = 0; i < n; i++) {
        heads += ((struct store_outbox *)rows[i])->contact_id > 0;
        if (rc == 0 && stop == 0)
            stop = fn(rows[i], arg);
        store_outbox_free(rows[i]);
    }
    free(rows);
    return rc < 0 ? -1 : heads;
}

int store_outbox_accounts(struct store *st,
                          void (*fn)(long long account_id, void *arg),
                          void *arg)
{
    sqlite3_stmt *s = store_stmt(
        st, "WITH RECURSIVE a(aid) AS ("
            " SELECT (SELECT min(account_id) FROM outbox)"
            " UNION ALL"
            " SELECT (SELECT min(account_id) FROM outbox"
            "  WHERE account_id > a.aid) FROM a WHERE a.aid IS NOT NULL) "
            "SELECT aid FROM a WHERE aid IS NOT NULL AND EXISTS (SELECT 1"
            " FROM outbox WHERE account_id = a.aid AND state = 'queued')");
    int rc;

    if (s == NULL)
        return -1;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        fn(sqlite3_column_int64(s, 0), arg);
    if (rc != SQLITE_DONE)
        store_log_stmt(st, s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The earliest next_attempt after now_ms among the heads; 0 when none.
 * Only rows with a time to wait for are in outbox_ready (next_attempt >
 * 0, said again for SQLite to use it). */
long long store_outbox_next_wakeup(struct store *st, long long now_ms)
{
    sqlite3_stmt *s =
        store_stmt(st, "SELECT min(o.next_attempt) FROM outbox o"
                       " WHERE o.next_attempt > 0 AND " STORE_OUTBOX_HEAD
                       " AND o.next_attempt > ?1");

    if (s != NULL)
        sqlite3_bind_int64(s, 1, now_ms);
    return store_int(st, s, 0);
}

int store_outbox_delete(struct store *st, long long id)
{
    return store_run_ll(st, "DELETE FROM outbox WHERE id = ?1", id);
}

/* Records an attempt and when to try again; unknown set marks the row as
 * one whose outcome is unknown (never unmarked). */
static int store_outbox_reschedule(struct store *st, long long id, int attempts,
                                   long long next_attempt,
                                   const char *last_error, int unknown)
{
    sqlite3_stmt *s = store_stmt(st, "UPDATE outbox SET attempts = ?2,"
                                     " next_attempt = ?3, last_error = ?4,"
                                     " unknown = max(unknown, ?5)"
                                     " WHERE id = ?1");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int(s, 2, attempts);
    sqlite3_bind_int64(s, 3, next_attempt);
    store_bind_text(s, 4, last_error);
    sqlite3_bind_int(s, 5, unknown);
    return store_run(st, s);
}

/* Records a failed attempt and when to try again. */
int store_outbox_retry(struct store *st, long long id, int attempts,
                       long long next_attempt, const char *last_error)
{
    return store_outbox_reschedule(st, id, attempts, next_attempt, last_error,
                                   0);
}

/* Records an attempt whose outcome is unknown: marks the row, and when to
 * try again. */
int store_outbox_mark_unknown(struct store *st, long long id, int attempts,
                              long long next_attempt, const char *last_error)
{
    return store_outbox_reschedule(st, id, attempts, next_attempt, last_error,
                                   1);
}

/* Pushes the contact's queued rows to next_attempt at the earliest. */
int store_outbox_delay_contact(struct store *st, long long contact_id,
                               long long next_attempt)
{
    sqlite3_stmt *s = store_stmt(
        st, "UPDATE outbox SET next_attempt = ?2 WHERE contact_id = ?1"
            " AND state = 'queued' AND next_attempt < ?2");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, contact_id);
    sqlite3_bind_int64(s, 2, next_attempt);
    return store_run(st, s);
}

long long store_outbox_count(struct store *st)
{
    return store_int(st, store_stmt(st, "SELECT count(*) FROM outbox"), 0);
}
