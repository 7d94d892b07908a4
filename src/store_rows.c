/* SPDX-License-Identifier: MIT */
/* The rows of the store: accounts, contacts and their aliases, the message
 * id map, the outbox and inbox work queues, dedupe keys and early statuses.
 * Static SQL with bound parameters only; every string read is copied. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

/* ---- accounts ---- */

#define STORE_ACCOUNT_COLS                                                     \
    "id, jid, backend, network_id, token, display_number, settings, "          \
    "state, last_error"

static void *store_account_read(sqlite3_stmt *s)
{
    struct store_account *a = xcalloc(1, sizeof(*a));

    a->id = sqlite3_column_int64(s, 0);
    a->jid = store_col_text(s, 1);
    a->backend = store_col_text(s, 2);
    a->network_id = store_col_text(s, 3);
    a->token = store_col_text(s, 4);
    a->display_number = store_col_text(s, 5);
    a->settings = store_col_text(s, 6);
    a->state = store_col_text(s, 7);
    a->last_error = store_col_text(s, 8);
    return a;
}

void store_account_free(struct store_account *a)
{
    if (a == NULL)
        return;
    if (a->token != NULL)
        explicit_bzero(a->token, strlen(a->token));
    free(a->jid);
    free(a->backend);
    free(a->network_id);
    free(a->token);
    free(a->display_number);
    free(a->settings);
    free(a->state);
    free(a->last_error);
    free(a);
}

struct store_account *store_account_by_jid(struct store *st, const char *jid)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT " STORE_ACCOUNT_COLS
                                     " FROM account WHERE jid = ?1");

    if (s == NULL)
        return NULL;
    store_bind_text(s, 1, jid);
    return store_one(st, s, store_account_read);
}

struct store_account *store_account_by_network_id(struct store *st,
                                                  const char *backend,
                                                  const char *network_id)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT " STORE_ACCOUNT_COLS
                                     " FROM account WHERE backend = ?1"
                                     " AND network_id = ?2");

    if (s == NULL)
        return NULL;
    store_bind_text(s, 1, backend);
    store_bind_text(s, 2, network_id);
    return store_one(st, s, store_account_read);
}

struct store_account *store_account_by_id(struct store *st, long long id)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT " STORE_ACCOUNT_COLS
                                     " FROM account WHERE id = ?1");

    if (s == NULL)
        return NULL;
    sqlite3_bind_int64(s, 1, id);
    return store_one(st, s, store_account_read);
}

/* 1 when the network account is registered to a JID other than jid. */
static long long store_account_network_id_taken(struct store *st,
                                                const char *jid,
                                                const char *backend,
                                                const char *network_id)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT count(*) FROM account"
                                     " WHERE backend = ?1"
                                     " AND network_id = ?2"
                                     " AND jid <> ?3");

    if (s == NULL)
        return -1;
    store_bind_text(s, 1, backend);
    store_bind_text(s, 2, network_id);
    store_bind_text(s, 3, jid);
    return store_int(st, s, 0);
}

/* The id of the account of jid; 0 when none. */
static long long store_account_id(struct store *st, const char *jid)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT id FROM account WHERE jid = ?1");

    if (s == NULL)
        return -1;
    store_bind_text(s, 1, jid);
    return store_int(st, s, 0);
}

/* Registers jid (or updates its registration); the account's id. */
long long store_account_upsert(struct store *st, const char *jid,
                               const char *backend, const char *network_id,
                               const char *token, const char *display_number)
{
    long long taken =
        store_account_network_id_taken(st, jid, backend, network_id);
    sqlite3_stmt *s;

    if (taken != 0)
        return taken < 0 ? -1 : -2;
    s = store_stmt(st, "INSERT INTO account (jid, backend, network_id,"
                       " token, display_number, created)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                       " ON CONFLICT (jid) DO UPDATE SET"
                       " backend = excluded.backend,"
                       " network_id = excluded.network_id,"
                       " token = excluded.token,"
                       " display_number = excluded.display_number,"
                       " state = 'active', last_error = NULL");
    if (s == NULL)
        return -1;
    store_bind_text(s, 1, jid);
    store_bind_text(s, 2, backend);
    store_bind_text(s, 3, network_id);
    store_bind_text(s, 4, token);
    store_bind_text(s, 5, display_number);
    sqlite3_bind_int64(s, 6, now_s());
    if (store_run(st, s) < 0)
        return -1;
    return store_account_id(st, jid);
}

int store_account_delete(struct store *st, long long id)
{
    return store_run_ll(st, "DELETE FROM account WHERE id = ?1", id);
}

/* Records the account's state and why (last_error may be NULL). */
int store_account_set_state(struct store *st, long long id, const char *state,
                            const char *last_error)
{
    sqlite3_stmt *s = store_stmt(st, "UPDATE account SET state = ?2,"
                                     " last_error = ?3 WHERE id = ?1");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    store_bind_text(s, 2, state);
    store_bind_text(s, 3, last_error);
    return store_run(st, s);
}

int store_account_set_settings(struct store *st, long long id,
                               const char *settings)
{
    sqlite3_stmt *s =
        store_stmt(st, "UPDATE account SET settings = ?2 WHERE id = ?1");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    store_bind_text(s, 2, settings);
    return store_run(st, s);
}

/* Calls fn for every account in id order until fn returns non-zero. */
int store_account_foreach(struct store *st,
                          int (*fn)(const struct store_account *a, void *arg),
                          void *arg)
{
    return store_account_page(st, 0, -1, fn, arg);
}

int store_account_page(struct store *st, long long after_id, int max,
                       int (*fn)(const struct store_account *a, void *arg),
                       void *arg)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT " STORE_ACCOUNT_COLS
                                     " FROM account WHERE id > ?1"
                                     " ORDER BY id LIMIT ?2");
    void **rows;
    size_t n, i;
    int rc, stop = 0;

    if (s != NULL) {
        sqlite3_bind_int64(s, 1, after_id);
        sqlite3_bind_int(s, 2, max);
    }
    rc = store_all(st, s, store_account_read, SIZE_MAX, &rows, &n);
    for (i = 0; i < n; i++) {
        if (rc == 0 && stop == 0)
            stop = fn(rows[i], arg);
        store_account_free(rows[i]);
    }
    free(rows);
    return rc;
}

long long store_account_count(struct store *st)
{
    return store_int(st, store_stmt(st, "SELECT count(*) FROM account"), 0);
}

/* ---- contacts ---- */

#define STORE_CONTACT_COLS                                                     \
    "id, account_id, network_id, localpart, name, subscription, "              \
    "last_in_network_id, last_in_at"

static void *store_contact_read(sqlite3_stmt *s)
{
    struct store_contact *c = xcalloc(1, sizeof(*c));

    c->id = sqlite3_column_int64(s, 0);
    c->account_id = sqlite3_column_int64(s, 1);
    c->network_id = store_col_text(s, 2);
    c->localpart = store_col_text(s, 3);
    c->name = store_col_text(s, 4);
    c->subscription = store_col_text(s, 5);
    c->last_in_network_id = store_col_text(s, 6);
    c->last_in_at = sqlite3_column_int64(s, 7);
    return c;
}

void store_contact_free(struct store_contact *c)
{
    if (c == NULL)
        return;
    free(c->network_id);
    free(c->localpart);
    free(c->name);
    free(c->subscription);
    free(c->last_in_network_id);
    free(c);
}

/* The id of the contact with network_id, its own or an alias; 0 when
 * none, -1 on error. */
static long long store_contact_resolve(struct store *st, long long account_id,
                                       const char *network_id)
{
    sqlite3_stmt *s =
        store_stmt(st, "SELECT coalesce("
                       "(SELECT id FROM contact WHERE account_id = ?1"
                       " AND network_id = ?2),"
                       "(SELECT contact_id FROM alias WHERE account_id = ?1"
                       " AND network_id = ?2))");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, network_id);
    return store_int(st, s, 0);
}

/* The contact with network_id, found directly or through an alias. */
struct store_contact *store_contact_get(struct store *st, long long account_id,
                                        const char *network_id)
{
    long long id = store_contact_resolve(st, account_id, network_id);

    return id > 0 ? store_contact_by_id(st, id) : NULL;
}

struct store_contact *store_contact_by_id(struct store *st, long long id)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT " STORE_CONTACT_COLS
                                     " FROM contact WHERE id = ?1");

    if (s == NULL)
        return NULL;
    sqlite3_bind_int64(s, 1, id);
    return store_one(st, s, store_contact_read);
}

static long long store_contact_insert(struct store *st, long long account_id,
                                      const char *network_id,
                                      const char *localpart, const char *name)
{
    sqlite3_stmt *s = store_stmt(st, "INSERT INTO contact (account_id,"
                                     " network_id, localpart, name, created)"
                                     " VALUES (?1, ?2, ?3, ?4, ?5)");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, network_id);
    store_bind_text(s, 3, localpart);
    store_bind_text(s, 4, name);
    sqlite3_bind_int64(s, 5, now_s());
    return store_insert(st, s);
}

static int store_contact_set_name(struct store *st, long long id,
                                  const char *name)
{
    sqlite3_stmt *s = store_stmt(st, "UPDATE contact SET name = ?2"
                                     " WHERE id = ?1 AND name IS NOT ?2");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    store_bind_text(s, 2, name);
    return store_run(st, s);
}

/* Finds (also through an alias) or creates the contact; its id. */
long long store_contact_ensure(struct store *st, long long account_id,
                               const char *network_id, const char *localpart,
                               const char *name, int *created)
{
    long long id = store_contact_resolve(st, account_id, network_id);

    if (created != NULL)
        *created = 0;
    if (id < 0)
        return -1;
    if (id == 0) {
        id = store_contact_insert(st, account_id, network_id, localpart, name);
        if (id > 0 && created != NULL)
            *created = 1;
        return id;
    }
    if (name != NULL && store_contact_set_name(st, id, name) < 0)
        return -1;
    return id;
}

int store_contact_set_subscription(struct store *st, long long id,
                                   const char *subscription)
{
    sqlite3_stmt *s =
        store_stmt(st, "UPDATE contact SET subscription = ?2 WHERE id = ?1");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    store_bind_text(s, 2, subscription);
    return store_run(st, s);
}

int store_contact_set_last_in(struct store *st, long long id,
                              const char *network_id, long long ts)
{
    sqlite3_stmt *s = store_stmt(st, "UPDATE contact SET"
                                     " last_in_network_id = ?2,"
                                     " last_in_at = ?3 WHERE id = ?1");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    store_bind_text(s, 2, network_id);
    sqlite3_bind_int64(s, 3, ts);
    return store_run(st, s);
}

/* Calls fn for every contact of the account until fn returns non-zero. */
int store_contact_foreach(struct store *st, long long account_id,
                          int (*fn)(const struct store_contact *c, void *arg),
                          void *arg)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT " STORE_CONTACT_COLS
                                     " FROM contact WHERE account_id = ?1"
                                     " ORDER BY id");
    void **rows;
    size_t n, i;
    int rc, stop = 0;

    if (s != NULL)
        sqlite3_bind_int64(s, 1, account_id);
    rc = store_all(st, s, store_contact_read, SIZE_MAX, &rows, &n);
    for (i = 0; i < n; i++) {
        if (rc == 0 && stop == 0)
            stop = fn(rows[i], arg);
        store_contact_free(rows[i]);
    }
    free(rows);
    return rc;
}

int store_contact_renumber(struct store *st, long long contact_id,
                           const char *new_network_id)
{
    struct store_contact *c = store_contact_by_id(st, contact_id);
    sqlite3_stmt *s;
    int rc = -1;

    if (c == NULL)
        return -1;
    if (strcmp(c->network_id, new_network_id) == 0) {
        store_contact_free(c);
        return 0;
    }
    s = store_stmt(st, "DELETE FROM alias WHERE account_id = ?1"
                       " AND network_id = ?2");
    if (s != NULL) {
        sqlite3_bind_int64(s, 1, c->account_id);
        store_bind_text(s, 2, new_network_id);
        rc = store_run(st, s);
    }
    s = rc < 0 ? NULL
               : store_stmt(st, "UPDATE contact SET network_id = ?2"
                                " WHERE id = ?1");
    rc = -1;
    if (s != NULL) {
        sqlite3_bind_int64(s, 1, contact_id);
        store_bind_text(s, 2, new_network_id);
        rc = store_run(st, s);
    }
    if (rc == 0)
        rc = store_alias_add(st, c->account_id, c->network_id, contact_id);
    store_contact_free(c);
    return rc;
}

/* Points network_id at contact_id, which must belong to account_id. */
int store_alias_add(struct store *st, long long account_id,
                    const char *network_id, long long contact_id)
{
    sqlite3_stmt *s =
        store_stmt(st, "INSERT INTO alias (account_id, network_id, contact_id)"
                       " SELECT ?1, ?2, id FROM contact WHERE id = ?3"
                       " AND account_id = ?1"
                       " ON CONFLICT (account_id, network_id) DO UPDATE SET"
                       " contact_id = excluded.contact_id");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, network_id);
    sqlite3_bind_int64(s, 3, contact_id);
    if (store_run(st, s) < 0)
        return -1;
    if (sqlite3_changes(store_db(st)) == 0) {
        log_error("store: alias for contact %lld, not one of account %lld",
                  contact_id, account_id);
        return -1;
    }
    return 0;
}

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
    return store_insert(st, s);
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
    void **rows;
    size_t n, i;
    int rc, stop = 0;

    if (max <= 0)
        return 0;
    if (s != NULL)
        sqlite3_bind_int64(s, 1, now_ms);
    rc = store_all(st, s, store_outbox_read, (size_t)max, &rows, &n);
    for (i = 0; i < n; i++) {
        if (rc == 0 && stop == 0)
            stop = fn(rows[i], arg);
        store_outbox_free(rows[i]);
    }
    free(rows);
    return rc;
}

/* The earliest next_attempt after now_ms among the heads; 0 when none. */
long long store_outbox_next_wakeup(struct store *st, long long now_ms)
{
    sqlite3_stmt *s =
        store_stmt(st, "SELECT min(o.next_attempt) FROM outbox o"
                       " WHERE " STORE_OUTBOX_HEAD " AND o.next_attempt > ?1");

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

/* ---- inbox ---- */

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
    return store_insert(st, s);
}

/* Calls fn for up to max queued rows after after_id, in id order. */
int store_inbox_fetch(struct store *st, long long after_id, int max,
                      int (*fn)(const struct store_inbox *i, void *arg),
                      void *arg)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT id, account_id, recipient,"
                                     " stanza, created FROM inbox"
                                     " WHERE id > ?1 AND state = 0"
                                     " ORDER BY id");
    void **rows;
    size_t n, i;
    int rc, stop = 0;

    if (max <= 0)
        return 0;
    if (s != NULL)
        sqlite3_bind_int64(s, 1, after_id);
    rc = store_all(st, s, store_inbox_read, (size_t)max, &rows, &n);
    for (i = 0; i < n; i++) {
        if (rc == 0 && stop == 0)
            stop = fn(rows[i], arg);
        store_inbox_free(rows[i]);
    }
    free(rows);
    return rc;
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
                       const char *stanza_id, int max_bounces, long long now)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT id, bounces FROM inbox"
                                     " WHERE account_id = ?1"
                                     " AND stanza_id = ?2 AND state <> 2"
                                     " ORDER BY id DESC LIMIT 1");
    long long id = 0;
    int bounces = 0, rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, stanza_id);
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

/* New ids put the rows after the queue's cursor; created is kept, so they
 * carry their first time as a delay stamp. */
long long store_inbox_release(struct store *st, long long account_id)
{
    sqlite3_stmt *s = store_stmt(
        st, "INSERT INTO inbox (account_id, recipient, stanza, created,"
            " stanza_id, bounces) SELECT account_id, recipient, stanza,"
            " created, stanza_id, bounces FROM inbox"
            " WHERE account_id = ?1 AND state IN (2, 5) ORDER BY id");
    long long n;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    if (store_run(st, s) < 0)
        return -1;
    n = sqlite3_changes(store_db(st));
    if (n == 0)
        return 0;
    s = store_stmt(st, "DELETE FROM inbox WHERE account_id = ?1"
                       " AND state IN (2, 5)");
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
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
    return store_insert(st, s);
}

long long store_inbox_add_after(struct store *st, long long account_id,
                                long long contact_id, const char *recipient,
                                const char *stanza, const char *stanza_id)
{
    sqlite3_stmt *s = store_stmt(
        st, "INSERT INTO inbox (account_id, recipient, stanza, created,"
            " stanza_id, contact_id, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
            " CASE WHEN EXISTS (SELECT 1 FROM inbox WHERE contact_id = ?6"
            " AND state = 4) THEN 3 ELSE 0 END)");

    if (s == NULL)
        return -1;
    store_bind_id(s, 1, account_id);
    store_bind_text(s, 2, recipient);
    store_bind_text(s, 3, stanza);
    sqlite3_bind_int64(s, 4, wall_ms());
    store_bind_text(s, 5, stanza_id);
    sqlite3_bind_int64(s, 6, contact_id);
    return store_insert(st, s);
}

/* The contact's waiting rows before its oldest slot (all when none) are
 * queued again, in their order, after every queued row. */
static int store_inbox_release_waiting(struct store *st, long long contact_id)
{
    sqlite3_stmt *s = store_stmt(
        st, "INSERT INTO inbox (account_id, recipient, stanza, created,"
            " stanza_id, bounces, contact_id) SELECT account_id, recipient,"
            " stanza, created, stanza_id, bounces, contact_id FROM inbox"
            " WHERE contact_id = ?1 AND state = 3 AND id < coalesce((SELECT"
            " min(id) FROM inbox WHERE contact_id = ?1 AND state = 4),"
            " 9223372036854775807) ORDER BY id");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, contact_id);
    if (store_run(st, s) < 0)
        return -1;
    s = store_stmt(st, "DELETE FROM inbox WHERE contact_id = ?1 AND state = 3"
                       " AND id < coalesce((SELECT min(id) FROM inbox"
                       " WHERE contact_id = ?1 AND state = 4),"
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
    sqlite3_stmt *s = store_stmt(st, "UPDATE inbox SET state = 3, stanza_id ="
                                     " stanza_id || '-wait' WHERE contact_id ="
                                     " ?1 AND state = 4 AND created < ?2");

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
                                     " WHERE state = 4 AND created < ?1");
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
                     store_stmt(st, "SELECT min(created) FROM inbox"
                                    " WHERE state = 4"),
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

/* ---- dedupe ---- */

/* Records key; 1 when new, 0 when already there. */
int store_seen_add(struct store *st, const char *key, long long expires)
{
    sqlite3_stmt *s = store_stmt(st, "INSERT INTO seen (key, expires)"
                                     " VALUES (?1, ?2)"
                                     " ON CONFLICT (key) DO NOTHING");

    if (s == NULL)
        return -1;
    store_bind_text(s, 1, key);
    sqlite3_bind_int64(s, 2, expires);
    if (store_run(st, s) < 0)
        return -1;
    return sqlite3_changes(store_db(st)) > 0 ? 1 : 0;
}

int store_seen_expire(struct store *st, long long now_s)
{
    return store_run_ll(st, "DELETE FROM seen WHERE expires <= ?1", now_s);
}

/* ---- early statuses ---- */

struct store_early {
    int status;
    int error_code;
    char *error_text;
};

static void *store_early_read(sqlite3_stmt *s)
{
    struct store_early *e = xcalloc(1, sizeof(*e));

    e->status = sqlite3_column_int(s, 0);
    e->error_code = sqlite3_column_int(s, 1);
    e->error_text = store_col_text(s, 2);
    return e;
}

/* Keeps a status whose message is not yet in the id map. */
int store_early_status_add(struct store *st, long long account_id,
                           const char *network_id, int status, int error_code,
                           const char *error_text)
{
    sqlite3_stmt *s = store_stmt(
        st, "INSERT INTO early_status (account_id, network_id, status,"
            " error_code, error_text, created)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, network_id);
    sqlite3_bind_int(s, 3, status);
    sqlite3_bind_int(s, 4, error_code);
    store_bind_text(s, 5, error_text);
    sqlite3_bind_int64(s, 6, now_s());
    return store_insert(st, s) < 0 ? -1 : 0;
}

static int store_early_status_delete(struct store *st, long long account_id,
                                     const char *network_id)
{
    sqlite3_stmt *s = store_stmt(st, "DELETE FROM early_status"
                                     " WHERE account_id = ?1"
                                     " AND network_id = ?2");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, account_id);
    store_bind_text(s, 2, network_id);
    return store_run(st, s);
}

/* Hands the early statuses of network_id to fn, oldest first, and deletes
 * them. */
int store_early_status_take(struct store *st, long long account_id,
                            const char *network_id,
                            void (*fn)(int status, int error_code,
                                       const char *error_text, void *arg),
                            void *arg)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT status, error_code, error_text"
                                     " FROM early_status WHERE account_id = ?1"
                                     " AND network_id = ?2 ORDER BY id");
    struct store_early *e;
    void **rows;
    size_t n, i;
    int rc;

    if (s != NULL) {
        sqlite3_bind_int64(s, 1, account_id);
        store_bind_text(s, 2, network_id);
    }
    rc = store_all(st, s, store_early_read, SIZE_MAX, &rows, &n);
    for (i = 0; i < n; i++) {
        e = rows[i];
        if (rc == 0)
            fn(e->status, e->error_code, e->error_text, arg);
        free(e->error_text);
        free(e);
    }
    free(rows);
    if (rc == 0 && n > 0)
        rc = store_early_status_delete(st, account_id, network_id);
    return rc;
}

int store_early_status_expire(struct store *st, long long before_s)
{
    sqlite3_stmt *s =
        store_stmt(st, "DELETE FROM early_status WHERE created < ?1");

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, before_s);
    return store_run(st, s);
}
