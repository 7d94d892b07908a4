/* SPDX-License-Identifier: MIT */
/* The inbox rows: network-to-XMPP stanzas awaiting the ping barrier,
 * their states (queued, confirmed, held, file slots) and releases.
 * Static SQL with bound parameters only; every string read is copied. */
#include <stdint.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

/* ---- inbox ---- */

/* The condition of the partial index inbox_waiting, written out in every
 * query about waiting rows (state 3) and file slots (state 4): SQLite uses
 * a partial index only when the query's WHERE contains the index's own
 * terms, and does not infer "state >= 3" from "state = 4". Without it
 * each webhook message scanned the whole inbox, confirmed rows included. */
#define STORE_INBOX_WAITING "state >= 3"

static void *store_inbox_read(sqlite3_stmt *s)
{
    struct store_inbox *i = xcalloc(1, sizeof(*i));

    i->id = sqlite3_column_int64(s, 0);
    i->account_id = sqlite3_column_int64(s, 1);
    i->recipient = store_col_text(s, 2);
    i->stanza = store_col_text(s, 3);
    i->created = sqlite3_column_int64(s, 4);
    return i;
}

void store_inbox_free(struct store_inbox *i)
{
    if (i == NULL)
        return;
    free(i->recipient);
    free(i->stanza);
    free(i);
}

/* Queues a stanza (account_id 0: no account); the new row's id. */
long long store_inbox_add(struct store *st, long long account_id,
                          const char *recipient, const char *stanza,
                          const char *stanza_id)
{
    sqlite3_stmt *s = store_stmt(st, "INSERT INTO inbox (account_id,"
                                     " recipient, stanza, created, stanza_id)"
                                     " VALUES (?1, ?2, ?3, ?4, ?5)");

    if (s == NULL)
        return -1;
    store_bind_id(s, 1, account_id);
    store_bind_text(s, 2, recipient);
    store_bind_text(s, 3, stanza);
    sqlite3_bind_int64(s, 4, wall_ms());
    store_bind_text(s, 5, stanza_id);
    return store_insert_fresh(st, s, STORE_FRESH_INBOX);
}

/* The first id the queue may not read yet: rows from it on wait for the
 * sync of the commit that inserted them (in id order: those after them
 * too). */
static long long store_inbox_bound(struct store *st)
{
    long long m = store_fresh_min(st, STORE_FRESH_INBOX);

    return m > 0 ? m : LLONG_MAX;
}

/* Calls fn for up to max queued rows after after_id, in id order. */
int store_inbox_fetch(struct store *st, long long after_id, int max,
                      int (*fn)(const struct store_inbox *i, void *arg),
                      void *arg)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT id, account_id, recipient,"
                                     " stanza, created FROM inbox"
                                     " WHERE id > ?1 AND id < ?2"
                                     " AND state = 0 ORDER BY id");
    void **rows;
    size_t n, i;
    int rc, stop = 0;

    if (max <= 0)
        return 0;
    if (s != NULL) {
        sqlite3_bind_int64(s, 1, after_id);
        sqlite3_bind_int64(s, 2, store_inbox_bound(st));
    }
    rc = store_all(st, s, store_inbox_read, (size_t)max, &rows, &n);
    for (i = 0; i < n; i++) {
        if (rc == 0 && stop == 0)
            stop = fn(rows[i], arg);
        store_inbox_free(rows[i]);
    }
    free(rows);
    return rc;
}

long long store_inbox_last_id(struct store *st)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT max(id) FROM inbox WHERE id < ?1");

    if (s != NULL)
        sqlite3_bind_int64(s, 1, store_inbox_bound(st));
    return store_int(st, s, 0);
}

/* The id range keeps both statements to the batch's rows, however many
 * confirmed rows wait for their expiry before it. */
int store_inbox_confirm(struct store *st, long long first, long long last,
                        long long now)
{
    sqlite3_stmt *s = store_stmt(st, "DELETE FROM inbox WHERE id BETWEEN ?1"
                                     " AND ?2 AND state = 0"
                                     " AND stanza_id IS NULL");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, first);
    sqlite3_bind_int64(s, 2, last);
    if (store_run(st, s) < 0)
        return -1;
    s = store_stmt(st, "UPDATE inbox SET state = 1, settled = ?3"
                       " WHERE id BETWEEN ?1 AND ?2 AND state = 0");
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, first);
    sqlite3_bind_int64(s, 2, last);
    sqlite3_bind_int64(s, 3, now);
    return store_run(st, s);
}

int store_inbox_expire(struct store *st, long long cutoff)
{
    return store_run_ll(st,
                        "DELETE FROM inbox WHERE state = 1"
                        " AND settled < ?1",
                        cutoff);
}

int store_inbox_bounce(struct store *st, long long account_id,
                       const char *recipient, const char *stanza_id,
                       int max_bounces, long long now)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT id, bounces FROM inbox"
                                     " WHERE account_id = ?1"
                                     " AND stanza_id = ?2 AND state <> 2"
                                     " AND (?3 IS NULL OR recipient = ?3)"
                                     " ORDER BY id DESC LIMIT 1");
    long long id = 0;
    int bounces = 0, rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, stanza_id);
    store_bind_text(s, 3, recipient);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        id = sqlite3_column_int64(s, 0);
        bounces = sqlite3_column_int(s, 1);
    } else if (rc != SQLITE_DONE) {
        store_log_stmt(st, s);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? 0 : -1;
    if (bounces + 1 >= max_bounces)
        return store_run_ll(st, "DELETE FROM inbox WHERE id = ?1", id) < 0 ? -1
                                                                           : 2;
    s = store_stmt(st, "UPDATE inbox SET state = 2, settled = ?2,"
                       " bounces = bounces + 1 WHERE id = ?1");
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, now);
    return store_run(st, s) < 0 ? -1 : 1;
}

/* Whether a row's recipient is ?2 (a bare JID or NULL) or one of its full
 * JIDs. */
#define STORE_INBOX_FOR                                                        \
    " AND (?2 IS NULL OR recipient = ?2"                                       \
    " OR substr(recipient, 1, length(?2) + 1) = ?2 || '/')"

/* New ids put the rows after the queue's cursor; created is kept, so they
 * carry their first time as a delay stamp. */
long long store_inbox_release(struct store *st, long long account_id,
                              const char *recipient)
{
    sqlite3_stmt *s = store_stmt(
        st, "INSERT INTO inbox (account_id, recipient, stanza, created,"
            " stanza_id, bounces) SELECT account_id, recipient, stanza,"
            " created, stanza_id, bounces FROM inbox"
            " WHERE account_id = ?1 AND state IN (2, 5)" STORE_INBOX_FOR
            " ORDER BY id");
    long long n;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, recipient);
    if (store_run(st, s) < 0)
        return -1;
    n = sqlite3_changes(store_db(st));
    store_fresh_rows(st, STORE_FRESH_INBOX);
    if (n == 0)
        return 0;
    s = store_stmt(st, "DELETE FROM inbox WHERE account_id = ?1"
                       " AND state IN (2, 5)" STORE_INBOX_FOR);
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, recipient);
    return store_run(st, s) < 0 ? -1 : n;
}

long long store_inbox_add_slot(struct store *st, long long account_id,
                               long long contact_id, const char *recipient,
                               const char *placeholder, const char *stanza_id)
{
    sqlite3_stmt *s = store_stmt(st, "INSERT INTO inbox (account_id,"
                                     " recipient, stanza, created, stanza_id,"
                                     " contact_id, state)"
                                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, 4)");

    if (s == NULL)
        return -1;
    store_bind_id(s, 1, account_id);
    store_bind_text(s, 2, recipient);
    store_bind_text(s, 3, placeholder);
    sqlite3_bind_int64(s, 4, wall_ms());
    store_bind_text(s, 5, stanza_id);
    sqlite3_bind_int64(s, 6, contact_id);
    return store_insert_fresh(st, s, STORE_FRESH_INBOX);
}

long long store_inbox_add_after(struct store *st, long long account_id,
                                long long contact_id, const char *recipient,
                                const char *stanza, const char *stanza_id)
{
    sqlite3_stmt *s = store_stmt(
        st, "INSERT INTO inbox (account_id, recipient, stanza, created,"
            " stanza_id, contact_id, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
            " CASE WHEN EXISTS (SELECT 1 FROM inbox WHERE contact_id = ?6"
            " AND state = 4 AND " STORE_INBOX_WAITING ") THEN 3 ELSE 0 END)");

    if (s == NULL)
        return -1;
    store_bind_id(s, 1, account_id);
    store_bind_text(s, 2, recipient);
    store_bind_text(s, 3, stanza);
    sqlite3_bind_int64(s, 4, wall_ms());
    store_bind_text(s, 5, stanza_id);
    sqlite3_bind_int64(s, 6, contact_id);
    return store_insert_fresh(st, s, STORE_FRESH_INBOX);
}

/* The contact's waiting rows before its oldest slot (all when none) are
 * queued again, in their order, after every queued row. */
static int store_inbox_release_waiting(struct store *st, long long contact_id)
{
    sqlite3_stmt *s = store_stmt(
        st, "INSERT INTO inbox (account_id, recipient, stanza, created,"
            " stanza_id, bounces, contact_id) SELECT account_id, recipient,"
            " stanza, created, stanza_id, bounces, contact_id FROM inbox"
            " WHERE contact_id = ?1 AND state = 3 AND " STORE_INBOX_WAITING
            " AND id < coalesce((SELECT min(id) FROM inbox WHERE contact_id"
            " = ?1 AND state = 4 AND " STORE_INBOX_WAITING "),"
            " 9223372036854775807) ORDER BY id");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, contact_id);
    if (store_run(st, s) < 0)
        return -1;
    store_fresh_rows(st, STORE_FRESH_INBOX);
    s = store_stmt(st, "DELETE FROM inbox WHERE contact_id = ?1 AND state = 3"
                       " AND " STORE_INBOX_WAITING " AND id < coalesce(("
                       "SELECT min(id) FROM inbox WHERE contact_id = ?1"
                       " AND state = 4 AND " STORE_INBOX_WAITING "),"
                       " 9223372036854775807)");
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, contact_id);
    return store_run(st, s);
}

long long store_inbox_slot_fill(struct store *st, long long account_id,
                                const char *stanza_id, const char *stanza)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT contact_id FROM inbox"
                                     " WHERE account_id = ?1"
                                     " AND stanza_id = ?2 AND state = 4");
    long long contact;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, stanza_id);
    contact = store_int(st, s, 0);
    if (contact <= 0)
        return contact;
    s = store_stmt(st, "UPDATE inbox SET stanza = ?3, state = 3"
                       " WHERE account_id = ?1 AND stanza_id = ?2"
                       " AND state = 4");
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, stanza_id);
    store_bind_text(s, 3, stanza);
    if (store_run(st, s) < 0 || store_inbox_release_waiting(st, contact) < 0)
        return -1;
    return contact;
}

static void *store_inbox_read_ll(sqlite3_stmt *s)
{
    long long *v = xmalloc(sizeof(*v));

    *v = sqlite3_column_int64(s, 0);
    return v;
}

/* A slot that gave up: its placeholder is a waiting row now, under an id
 * of its own (the file, when it comes, has the slot's). */
static int store_inbox_slot_give_up(struct store *st, long long contact_id,
                                    long long cutoff)
{
    sqlite3_stmt *s = store_stmt(
        st, "UPDATE inbox SET state = 3, stanza_id ="
            " stanza_id || '-wait' WHERE contact_id ="
            " ?1 AND state = 4 AND " STORE_INBOX_WAITING " AND created < ?2");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, contact_id);
    sqlite3_bind_int64(s, 2, cutoff);
    if (store_run(st, s) < 0)
        return -1;
    return store_inbox_release_waiting(st, contact_id);
}

long long store_inbox_slot_expire(struct store *st, long long cutoff)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT DISTINCT contact_id FROM inbox"
                                     " WHERE state = 4 AND " STORE_INBOX_WAITING
                                     " AND created < ?1");
    void **rows;
    size_t n, i;
    int rc;

    if (s != NULL)
        sqlite3_bind_int64(s, 1, cutoff);
    rc = store_all(st, s, store_inbox_read_ll, 1000, &rows, &n);
    for (i = 0; i < n; i++) {
        if (rc == 0 &&
            store_inbox_slot_give_up(st, *(long long *)rows[i], cutoff) < 0)
            rc = -1;
        free(rows[i]);
    }
    free(rows);
    return rc < 0 ? -1 : (long long)n;
}

long long store_inbox_slot_oldest(struct store *st)
{
    return store_int(st,
                     store_stmt(st,
                                "SELECT min(created) FROM inbox"
                                " WHERE state = 4 AND " STORE_INBOX_WAITING),
                     0);
}

long long store_inbox_held(struct store *st)
{
    return store_int(
        st, store_stmt(st, "SELECT count(*) FROM inbox WHERE state IN (2, 5)"),
        0);
}

long long store_inbox_count(struct store *st)
{
    return store_int(
        st, store_stmt(st, "SELECT count(*) FROM inbox WHERE state = 0"), 0);
}

/* state 5: held because the barrier ping to the recipient's domain got no
 * answer; sent again by store_inbox_unhold() or with the account's held
 * rows (store_inbox_release()). */
int store_inbox_hold(struct store *st, long long first, long long last,
                     long long now)
{
    sqlite3_stmt *s = store_stmt(st, "UPDATE inbox SET state = 5,"
                                     " settled = ?3 WHERE id BETWEEN ?1"
                                     " AND ?2 AND state = 0");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, first);
    sqlite3_bind_int64(s, 2, last);
    sqlite3_bind_int64(s, 3, now);
    return store_run(st, s);
}

/* The recipient's domain, in SQL: after the '@', before any '/'. */
#define STORE_INBOX_AT                                                         \
    "(CASE WHEN instr(recipient, '@') > 0"                                     \
    " THEN substr(recipient, instr(recipient, '@') + 1) ELSE recipient END)"
#define STORE_INBOX_DOMAIN                                                     \
    "lower(CASE WHEN instr(" STORE_INBOX_AT                                    \
    ", '/') > 0 THEN substr(" STORE_INBOX_AT ", 1, instr(" STORE_INBOX_AT      \
    ", '/') - 1)"                                                              \
    " ELSE " STORE_INBOX_AT " END)"

/* Like store_inbox_release(), for the rows held (state 5) for domain, or
 * for every domain when domain is NULL. */
long long store_inbox_unhold(struct store *st, const char *domain)
{
    sqlite3_stmt *s = store_stmt(
        st, "INSERT INTO inbox (account_id, recipient, stanza, created,"
            " stanza_id, bounces) SELECT account_id, recipient, stanza,"
            " created, stanza_id, bounces FROM inbox WHERE state = 5"
            " AND (?1 IS NULL OR " STORE_INBOX_DOMAIN " = lower(?1))"
            " ORDER BY id");
    long long n;

    if (s == NULL)
        return -1;
    store_bind_text(s, 1, domain);
    if (store_run(st, s) < 0)
        return -1;
    n = sqlite3_changes(store_db(st));
    store_fresh_rows(st, STORE_FRESH_INBOX);
    if (n == 0)
        return 0;
    s = store_stmt(st, "DELETE FROM inbox WHERE state = 5 AND (?1 IS NULL"
                       " OR " STORE_INBOX_DOMAIN " = lower(?1))");
    if (s == NULL)
        return -1;
    store_bind_text(s, 1, domain);
    return store_run(st, s) < 0 ? -1 : n;
}

/* Calls fn with the bare JID of each account that has held rows. */
int store_inbox_held_accounts(struct store *st,
                              void (*fn)(const char *jid, void *arg), void *arg)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT jid FROM account WHERE id IN"
                                     " (SELECT account_id FROM inbox"
                                     " WHERE state IN (2, 5))");
    int rc;

    if (s == NULL)
        return -1;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        fn((const char *)sqlite3_column_text(s, 0), arg);
    if (rc != SQLITE_DONE)
        store_log_stmt(st, s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}
