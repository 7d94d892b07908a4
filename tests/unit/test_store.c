/* SPDX-License-Identifier: MIT */
/* Unit tests of store.c and the store_<table>.c files on a temporary database:
 * migrations and the file's mode, accounts and the cascade of their deletion,
 * contacts and aliases, the message id map, the outbox heads, inbox, dedupe and
 * early statuses, and foreign keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/store_int.h"
#include "loop.h"
#include "store.h"
#include "store_avatar.h"
#include "store_history.h"
#include "store_room.h"
#include "util.h"

#define FAR_FUTURE 4102444800000LL /* 2100-01-01 in ms */

/* A database in a temporary directory, opened by the setup. */
struct fixture {
    char dir[64];
    char path[96];
    struct store *st;
    long long acc; /* one registered account */
};

/* Ids collected by the row callbacks; stops after stop_after rows if > 0. */
struct ids {
    long long v[32];
    int n;
    int stop_after;
};

static int test_setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/ferry-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/ferry.db", f->dir);
    f->st = store_open(f->path, "normal");
    assert_non_null(f->st);
    f->acc = store_account_upsert(f->st, "alice@example.org", "cloudapi",
                                  "1001", "tok-a", "+49 151 1");
    assert_true(f->acc > 0);
    *state = f;
    return 0;
}

/* Removes path with the given suffix, if it exists. */
static void test_unlink(const char *path, const char *suffix)
{
    char *p = xasprintf("%s%s", path, suffix);

    unlink(p);
    free(p);
}

static int test_teardown(void **state)
{
    struct fixture *f = *state;

    store_close(f->st);
    test_unlink(f->path, "");
    test_unlink(f->path, "-wal");
    test_unlink(f->path, "-shm");
    assert_int_equal(rmdir(f->dir), 0);
    free(f);
    return 0;
}

/* An integer from a one-value query run directly on the database. */
static long long test_query(struct fixture *f, const char *sql)
{
    sqlite3_stmt *s;
    long long v = -1;

    assert_int_equal(sqlite3_prepare_v2(store_db(f->st), sql, -1, &s, NULL),
                     SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static int test_exec(struct fixture *f, const char *sql)
{
    return sqlite3_exec(store_db(f->st), sql, NULL, NULL, NULL);
}

static long long test_contact(struct fixture *f, long long acc,
                              const char *network_id)
{
    char *lp = xasprintf("+%s", network_id);
    long long id = store_contact_ensure(f->st, acc, network_id, lp, NULL, NULL);

    free(lp);
    assert_true(id > 0);
    return id;
}

static long long test_message(struct fixture *f, long long acc,
                              long long contact, char direction,
                              const char *stanza_id, const char *network_id)
{
    struct store_message m = {0};

    m.account_id = acc;
    m.contact_id = contact;
    m.direction = direction;
    m.stanza_id = (char *)stanza_id;
    m.network_id = (char *)network_id;
    m.sender = direction == 'o' ? (char *)"alice@example.org/phone" : NULL;
    return store_message_add(f->st, &m);
}

static int test_collect_outbox(const struct store_outbox *o, void *arg)
{
    struct ids *ids = arg;

    assert_true(ids->n < 32);
    ids->v[ids->n++] = o->id;
    return ids->stop_after > 0 && ids->n >= ids->stop_after;
}

/* The ids store_outbox_heads() returns at now_ms, at most max. */
static struct ids test_heads(struct fixture *f, long long now, int max)
{
    struct ids ids = {0};

    assert_int_equal(
        store_outbox_heads(f->st, now, max, test_collect_outbox, &ids), 0);
    return ids;
}

static void test_ids_equal(const struct ids *ids, int n, ...)
{
    va_list ap;
    int i;

    assert_int_equal(ids->n, n);
    va_start(ap, n);
    for (i = 0; i < n; i++)
        assert_int_equal(ids->v[i], va_arg(ap, long long));
    va_end(ap);
}

/* ---- migrations ---- */

static void test_migrate_fresh(void **state)
{
    struct fixture *f = *state;
    struct stat sb;

    assert_true(store_schema_version() >= 1);
    assert_int_equal(store_user_version(f->st), store_schema_version());
    assert_true(store_healthy(f->st));
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(test_query(f, "PRAGMA foreign_keys"), 1);
    assert_int_equal(test_query(f, "SELECT count(*) FROM early_status"), 0);

    /* Reopening migrates nothing and keeps the data. */
    store_close(f->st);
    f->st = store_open(f->path, "full");
    assert_non_null(f->st);
    assert_int_equal(store_user_version(f->st), store_schema_version());
    assert_int_equal(store_account_count(f->st), 1);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
}

/* Sets the user_version of the database at path behind the store's back. */
static void test_set_version(const char *path, int v)
{
    char *sql = xasprintf("PRAGMA user_version = %d", v);
    sqlite3 *db;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    free(sql);
}

/* Runs sql on the database at path behind the store's back. */
static void test_sql(const char *path, const char *sql)
{
    sqlite3 *db;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* A schema-4 database (accounts keyed by phone_number_id) keeps its
 * accounts, found by their network id, and their uniqueness. */
static void test_migrate_4_to_5(void **state)
{
    struct fixture *f = *state;
    struct store_account *a;

    assert_int_equal(
        store_account_set_settings(f->st, f->acc, "{\"typing\":false}"), 0);
    store_close(f->st);
    test_sql(
        f->path,
        "ALTER TABLE contact DROP COLUMN waiting_since;"
        "ALTER TABLE account DROP COLUMN business_id;"
        "DROP TABLE room_avatar; DROP TABLE contact_avatar; DROP TABLE avatar;"
        "DROP TABLE lid;"
        "DROP TABLE room_message;"
        "DROP TABLE room_member; DROP TABLE room;"
        "DROP TABLE history;"
        "DROP TABLE team_claim; DROP TABLE team_member;"
        "ALTER TABLE account RENAME COLUMN network_id TO phone_number_id;"
        "INSERT INTO account (jid, backend, phone_number_id, token,"
        " display_number, created) VALUES ('bob@example.org',"
        " 'cloudapi', '2002', 'tok-b', '+49 2', 1);"
        "PRAGMA user_version = 4");
    f->st = store_open(f->path, "normal");
    assert_non_null(f->st);
    assert_int_equal(store_user_version(f->st), store_schema_version());
    a = store_account_by_network_id(f->st, "cloudapi", "2002");
    assert_non_null(a);
    assert_string_equal(a->jid, "bob@example.org");
    assert_string_equal(a->token, "tok-b");
    assert_string_equal(a->display_number, "+49 2");
    store_account_free(a);
    a = store_account_by_jid(f->st, "alice@example.org");
    assert_non_null(a);
    assert_string_equal(a->network_id, "1001");
    assert_string_equal(a->settings, "{\"typing\":false}");
    store_account_free(a);
    assert_int_equal(store_account_upsert(f->st, "carol@example.org",
                                          "cloudapi", "2002", "t", NULL),
                     -2);
}

static void test_migrate_newer_refused(void **state)
{
    struct fixture *f = *state;
    char *sql =
        xasprintf("PRAGMA user_version = %d", store_schema_version() + 1);

    assert_int_equal(store_exec(f->st, sql), 0);
    free(sql);
    store_close(f->st);
    f->st = store_open(f->path, "normal");
    assert_null(f->st);

    /* The refused file was left alone; put the version back. */
    test_set_version(f->path, store_schema_version());
    f->st = store_open(f->path, "normal");
    assert_non_null(f->st);
    assert_int_equal(store_account_count(f->st), 1);
}

static void test_foreign_keys(void **state)
{
    struct fixture *f = *state;
    long long c = test_contact(f, f->acc, "4915100000001"), o;

    assert_int_equal(test_message(f, 9999, c, 'i', "s", "w"), -1);
    assert_int_equal(test_message(f, f->acc, 9999, 'i', "s", "w"), -1);
    assert_int_equal(store_outbox_add(f->st, f->acc, 9999, 0, "text", "{}"),
                     -1);
    /* a row's message is no foreign key (schema 16): messages go only
     * with their contact or account, whose keys take the rows along */
    o = store_outbox_add(f->st, f->acc, c, 9999, "text", "{}");
    assert_true(o > 0);
    assert_int_equal(store_outbox_delete(f->st, o), 0);
    assert_int_equal(store_inbox_add(f->st, 9999, "a@b", "<m/>", NULL), -1);
    assert_int_equal(store_early_status_add(f->st, 9999, "w", 1, 0, NULL), -1);
    assert_int_equal(store_contact_ensure(f->st, 9999, "1", "+1", NULL, NULL),
                     -1);
    /* A bad direction is refused too. */
    assert_int_equal(test_message(f, f->acc, c, 'x', "s", "w"), -1);
    assert_int_equal(store_message_count(f->st), 0);
    assert_int_equal(store_outbox_count(f->st), 0);
}

/* ---- accounts ---- */

static int test_count_accounts(const struct store_account *a, void *arg)
{
    struct ids *ids = arg;

    ids->v[ids->n++] = a->id;
    return ids->stop_after > 0 && ids->n >= ids->stop_after;
}

/* The business account of an account: unknown, set, changed, forgotten. */
static void test_account_business(void **state)
{
    struct fixture *f = *state;
    char *b;

    assert_null(store_account_business(f->st, f->acc));
    assert_int_equal(store_account_set_business(f->st, f->acc, "1022"), 0);
    b = store_account_business(f->st, f->acc);
    assert_string_equal(b, "1022");
    free(b);
    assert_int_equal(store_account_set_business(f->st, f->acc, "2033"), 0);
    b = store_account_business(f->st, f->acc);
    assert_string_equal(b, "2033");
    free(b);
    assert_int_equal(store_account_set_business(f->st, f->acc, NULL), 0);
    assert_null(store_account_business(f->st, f->acc));
}

static int test_wait_seen(long long account_id, long long n, long long oldest,
                          void *arg)
{
    long long *got = arg;

    got[0] = account_id;
    got[1] = n;
    got[2] = oldest;
    return 0;
}

/* A customer's wait: started by the first unanswered message only, ended
 * (and read) by a reply, counted per account with the oldest start. */
static void test_contact_wait(void **state)
{
    struct fixture *f = *state;
    long long c1 = test_contact(f, f->acc, "4911"), c2;
    long long n, oldest, got[3] = {0, 0, 0};

    c2 = test_contact(f, f->acc, "4922");
    assert_int_equal(store_wait_of(f->st, f->acc, &n, &oldest), 0);
    assert_int_equal(n, 0);
    assert_int_equal(oldest, 0);
    assert_int_equal(store_contact_answer(f->st, c1), 0);
    assert_int_equal(store_contact_set_last_in(f->st, c1, "w1", 1000, 1000), 0);
    assert_int_equal(store_contact_set_last_in(f->st, c1, "w2", 1500, 1500),
                     0); /* kept */
    assert_int_equal(store_contact_set_last_in(f->st, c2, "w3", 1200, 0),
                     0); /* not a wait */
    assert_int_equal(store_contact_set_last_in(f->st, c2, "w4", 1200, 1200), 0);
    assert_int_equal(store_wait_of(f->st, f->acc, &n, &oldest), 0);
    assert_int_equal(n, 2);
    assert_int_equal(oldest, 1000);
    assert_int_equal(store_wait_foreach(f->st, test_wait_seen, got), 0);
    assert_int_equal(got[0], f->acc);
    assert_int_equal(got[1], 2);
    assert_int_equal(got[2], 1000);
    assert_int_equal(store_contact_answer(f->st, c1), 1000);
    assert_int_equal(store_contact_answer(f->st, c1), 0); /* answered */
    assert_int_equal(store_wait_of(f->st, f->acc, &n, &oldest), 0);
    assert_int_equal(n, 1);
    assert_int_equal(oldest, 1200);
    assert_int_equal(store_contact_answered(f->st, c2), 0);
    assert_int_equal(store_wait_of(f->st, f->acc, &n, &oldest), 0);
    assert_int_equal(n, 0);
}

static void test_account_upsert(void **state)
{
    struct fixture *f = *state;
    struct store_account *a;
    struct ids ids = {0};
    long long b;

    a = store_account_by_jid(f->st, "alice@example.org");
    assert_non_null(a);
    assert_int_equal(a->id, f->acc);
    assert_string_equal(a->backend, "cloudapi");
    assert_string_equal(a->network_id, "1001");
    assert_string_equal(a->token, "tok-a");
    assert_string_equal(a->display_number, "+49 151 1");
    assert_string_equal(a->settings, "{}");
    assert_string_equal(a->state, "active");
    assert_null(a->last_error);
    store_account_free(a);

    /* Update: same id, new token and number; state back to active. */
    assert_int_equal(
        store_account_set_state(f->st, f->acc, "auth_failed", "token expired"),
        0);
    a = store_account_by_id(f->st, f->acc);
    assert_string_equal(a->state, "auth_failed");
    assert_string_equal(a->last_error, "token expired");
    store_account_free(a);
    assert_int_equal(store_account_upsert(f->st, "alice@example.org",
                                          "cloudapi", "1002", "tok-b", NULL),
                     f->acc);
    a = store_account_by_network_id(f->st, "cloudapi", "1002");
    assert_non_null(a);
    assert_int_equal(a->id, f->acc);
    assert_string_equal(a->token, "tok-b");
    assert_null(a->display_number);
    assert_string_equal(a->state, "active");
    assert_null(a->last_error);
    store_account_free(a);
    assert_null(store_account_by_network_id(f->st, "cloudapi", "1001"));
    assert_null(store_account_by_jid(f->st, "nobody@example.org"));
    assert_null(store_account_by_id(f->st, 9999));

    /* Another JID may not take alice's number, but may take the old one. */
    assert_int_equal(store_account_upsert(f->st, "bob@example.org", "cloudapi",
                                          "1002", "x", NULL),
                     -2);
    assert_null(store_account_by_jid(f->st, "bob@example.org"));
    b = store_account_upsert(f->st, "bob@example.org", "cloudapi", "1001",
                             "tok-c", NULL);
    assert_true(b > 0 && b != f->acc);
    /* The same number on another back end is another account. */
    assert_true(store_account_upsert(f->st, "carol@example.org", "waha", "1002",
                                     "t", NULL) > 0);
    assert_int_equal(store_account_count(f->st), 3);

    assert_int_equal(store_account_set_settings(f->st, b, "{\"a\":1}"), 0);
    a = store_account_by_id(f->st, b);
    assert_string_equal(a->settings, "{\"a\":1}");
    store_account_free(a);

    assert_int_equal(store_account_foreach(f->st, test_count_accounts, &ids),
                     0);
    assert_int_equal(ids.n, 3);
    assert_int_equal(ids.v[0], f->acc);
    assert_int_equal(ids.v[1], b);
    ids.n = 0;
    ids.stop_after = 1;
    assert_int_equal(store_account_foreach(f->st, test_count_accounts, &ids),
                     0);
    assert_int_equal(ids.n, 1);
}

/* Gives the account a contact, alias, message, outbox, inbox and early
 * status row. */
static void test_fill_account(struct fixture *f, long long acc, const char *num)
{
    long long c = test_contact(f, acc, num);
    long long m = test_message(f, acc, c, 'o', "x1", num);

    assert_true(m > 0);
    assert_int_equal(store_alias_add(f->st, acc, "lid-x", c), 0);
    assert_true(store_outbox_add(f->st, acc, c, m, "text", "{}") > 0);
    assert_true(store_outbox_add(f->st, acc, 0, 0, "read", "{}") > 0);
    assert_true(store_inbox_add(f->st, acc, "a@example.org", "<m/>", "m1") > 0);
    assert_int_equal(store_early_status_add(f->st, acc, num, 2, 0, NULL), 0);
}

static void test_account_delete(void **state)
{
    struct fixture *f = *state;
    long long b = store_account_upsert(f->st, "bob@example.org", "cloudapi",
                                       "2001", "tok", NULL);

    assert_true(b > 0);
    test_fill_account(f, f->acc, "4915100000001");
    test_fill_account(f, b, "4915100000002");
    assert_int_equal(store_inbox_add(f->st, 0, "gw", "<presence/>", NULL) > 0,
                     1);
    assert_int_equal(test_query(f, "SELECT count(*) FROM alias"), 2);

    assert_int_equal(store_account_delete(f->st, f->acc), 0);
    assert_null(store_account_by_id(f->st, f->acc));
    assert_int_equal(store_account_count(f->st), 1);
    assert_int_equal(test_query(f, "SELECT count(*) FROM contact"), 1);
    assert_int_equal(test_query(f, "SELECT count(*) FROM alias"), 1);
    assert_int_equal(store_message_count(f->st), 1);
    assert_int_equal(store_outbox_count(f->st), 2);
    assert_int_equal(store_inbox_count(f->st), 2);
    assert_int_equal(test_query(f, "SELECT count(*) FROM early_status"), 1);
    assert_int_equal(
        test_query(f, "SELECT count(*) FROM early_status WHERE account_id <> "
                      "(SELECT id FROM account)"),
        0);
    assert_int_equal(
        test_query(f, "SELECT count(*) FROM outbox WHERE account_id <> "
                      "(SELECT id FROM account)"),
        0);
    /* Deleting what is not there is no error. */
    assert_int_equal(store_account_delete(f->st, f->acc), 0);
}

/* ---- contacts ---- */

static int test_collect_contact(const struct store_contact *c, void *arg)
{
    struct ids *ids = arg;

    ids->v[ids->n++] = c->id;
    return 0;
}

static void test_contact_ensure(void **state)
{
    struct fixture *f = *state;
    struct store_contact_times t;
    struct store_contact *c;
    struct ids ids = {0};
    int created = -1;
    long long id, id2, b;

    id = store_contact_ensure(f->st, f->acc, "4915112345678", "+4915112345678",
                              "Bob", &created);
    assert_true(id > 0);
    assert_int_equal(created, 1);
    assert_int_equal(store_contact_ensure(f->st, f->acc, "4915112345678",
                                          "ignored", NULL, &created),
                     id);
    assert_int_equal(created, 0);
    c = store_contact_get(f->st, f->acc, "4915112345678");
    assert_non_null(c);
    assert_int_equal(c->id, id);
    assert_int_equal(c->account_id, f->acc);
    assert_string_equal(c->localpart, "+4915112345678");
    assert_string_equal(c->name, "Bob"); /* NULL name keeps it */
    assert_string_equal(c->subscription, "none");
    assert_null(c->last_in_network_id);
    assert_int_equal(c->last_in_at, 0);
    store_contact_free(c);

    assert_int_equal(store_contact_ensure(f->st, f->acc, "4915112345678",
                                          "+4915112345678", "Robert", &created),
                     id);
    assert_int_equal(created, 0);
    assert_int_equal(store_contact_set_subscription(f->st, id, "both"), 0);
    assert_int_equal(store_contact_set_last_in(f->st, id, "wamid.1", 1700, 0),
                     0);
    c = store_contact_by_id(f->st, id);
    assert_string_equal(c->name, "Robert");
    assert_string_equal(c->subscription, "both");
    assert_string_equal(c->last_in_network_id, "wamid.1");
    assert_int_equal(c->last_in_at, 1700);
    store_contact_free(c);
    /* the send path's lookup reads the times with the id */
    assert_int_equal(
        store_contact_set_last_in(f->st, id, "wamid.2", 1800, 1750), 0);
    assert_int_equal(store_contact_ensure_times(f->st, f->acc, "4915112345678",
                                                "+4915112345678", &created, &t),
                     id);
    assert_int_equal(created, 0);
    assert_int_equal(t.last_in_at, 1800);
    assert_int_equal(t.waiting_since, 1750);
    id2 = store_contact_ensure_times(f->st, f->acc, "4915100000008",
                                     "+4915100000008", &created, &t);
    assert_true(id2 > id);
    assert_int_equal(created, 1);
    assert_int_equal(t.last_in_at, 0);
    assert_int_equal(t.waiting_since, 0);

    /* The same network id under another account is another contact. */
    b = store_account_upsert(f->st, "bob@example.org", "cloudapi", "2001",
                             "tok", NULL);
    id2 = store_contact_ensure(f->st, b, "4915112345678", "+4915112345678",
                               NULL, &created);
    assert_true(id2 > 0 && id2 != id);
    assert_int_equal(created, 1);
    assert_null(store_contact_get(f->st, f->acc, "4915100000000"));
    assert_null(store_contact_by_id(f->st, 9999));
    test_contact(f, f->acc, "4915100000009");
    assert_int_equal(
        store_contact_foreach(f->st, f->acc, test_collect_contact, &ids), 0);
    assert_int_equal(ids.n, 3);
    assert_int_equal(ids.v[0], id);
}

/* A changed number: the new one becomes the contact's id, the old one an
 * alias, the JID (localpart) stays. */
static void test_contact_renumber(void **state)
{
    struct fixture *f = *state;
    struct store_contact *c;
    long long id = test_contact(f, f->acc, "972987654321");

    assert_int_equal(store_contact_renumber(f->st, id, "972912345678"), 0);
    c = store_contact_get(f->st, f->acc, "972987654321");
    assert_non_null(c);
    assert_int_equal(c->id, id);
    assert_string_equal(c->network_id, "972912345678");
    store_contact_free(c);
    c = store_contact_get(f->st, f->acc, "972912345678");
    assert_non_null(c);
    assert_int_equal(c->id, id);
    store_contact_free(c);
    assert_int_equal(store_contact_renumber(f->st, id, "972912345678"), 0);
    assert_int_equal(store_contact_renumber(f->st, 999999, "1"), -1);
    assert_int_equal(test_query(f, "SELECT count(*) FROM contact"), 1);
}

static void test_contact_alias(void **state)
{
    struct fixture *f = *state;
    struct store_contact *c;
    int created = -1;
    long long id, other, b;

    id = store_contact_ensure(f->st, f->acc, "123@lid", "123\\40lid", "Bob",
                              &created);
    assert_int_equal(created, 1);
    assert_int_equal(store_alias_add(f->st, f->acc, "4915112345678", id), 0);

    /* The resolved number merges into the existing contact. */
    assert_int_equal(store_contact_ensure(f->st, f->acc, "4915112345678",
                                          "+4915112345678", "Bobby", &created),
                     id);
    assert_int_equal(created, 0);
    c = store_contact_get(f->st, f->acc, "4915112345678");
    assert_non_null(c);
    assert_int_equal(c->id, id);
    assert_string_equal(c->network_id, "123@lid");
    assert_string_equal(c->localpart, "123\\40lid");
    assert_string_equal(c->name, "Bobby");
    store_contact_free(c);
    assert_int_equal(test_query(f, "SELECT count(*) FROM contact"), 1);

    /* Re-pointing an alias replaces it. */
    other = test_contact(f, f->acc, "4915100000001");
    assert_int_equal(store_alias_add(f->st, f->acc, "4915112345678", other), 0);
    assert_int_equal(store_contact_ensure(f->st, f->acc, "4915112345678", "x",
                                          NULL, &created),
                     other);
    /* A contact's own id wins over an alias of the same id. */
    assert_int_equal(store_alias_add(f->st, f->acc, "4915100000001", id), 0);
    assert_int_equal(store_contact_ensure(f->st, f->acc, "4915100000001", "x",
                                          NULL, &created),
                     other);

    /* Aliases do not cross accounts. */
    b = store_account_upsert(f->st, "bob@example.org", "cloudapi", "2001",
                             "tok", NULL);
    assert_int_equal(store_alias_add(f->st, b, "999", id), -1);
    assert_int_equal(store_contact_ensure(f->st, b, "4915112345678", "x", NULL,
                                          &created) != id,
                     1);
    assert_int_equal(created, 1);
}

/* A lid's contact becomes its number's: relinked when the number has no
 * contact, merged into it (messages and aliases moved) when it has. */
static void test_contact_lid_relink_and_merge(void **state)
{
    struct fixture *f = *state;
    struct store_contact *c;
    char *phone = (char *)"x";
    long long lid, lid2, num, m;

    assert_int_equal(store_lid_get(f->st, f->acc, "7@lid", &phone), 0);
    assert_null(phone);
    assert_int_equal(store_lid_set(f->st, f->acc, "7@lid", NULL), 0);
    assert_int_equal(store_lid_get(f->st, f->acc, "7@lid", &phone), 1);
    assert_null(phone);
    assert_int_equal(store_lid_set(f->st, f->acc, "7@lid", "4915100000007"), 0);
    assert_int_equal(store_lid_set(f->st, f->acc, "7@lid", NULL), 0);
    assert_int_equal(store_lid_get(f->st, f->acc, "7@lid", &phone), 1);
    assert_string_equal(phone, "4915100000007"); /* a known number stays */
    free(phone);

    lid = test_contact(f, f->acc, "7@lid");
    assert_int_equal(
        store_contact_relink(f->st, lid, "4915100000007", "+4915100000007"), 0);
    c = store_contact_get(f->st, f->acc, "7@lid");
    assert_non_null(c);
    assert_int_equal(c->id, lid);
    assert_string_equal(c->network_id, "4915100000007");
    assert_string_equal(c->localpart, "+4915100000007");
    store_contact_free(c);

    lid2 = test_contact(f, f->acc, "8@lid");
    num = test_contact(f, f->acc, "4915100000008");
    m = test_message(f, f->acc, lid2, 'i', "wamid.L", "wamid.L");
    assert_int_equal(store_alias_add(f->st, f->acc, "9@lid", lid2), 0);
    /* what hangs on the lid's contact alone goes with it (the delete
     * cascades): its claim, its avatar, its name and customer window */
    assert_int_equal(
        store_claim_set(f->st, f->acc, lid2, "bob@example.org", 1000), 0);
    assert_int_equal(
        test_exec(f, "INSERT INTO contact_avatar (contact_id, hash, checked)"
                     " SELECT id, 'h8', 1"
                     " FROM contact WHERE network_id = '8@lid'"),
        0);
    assert_int_equal(test_exec(f, "UPDATE contact SET name = 'Eight',"
                                  " last_in_at = 5000 WHERE network_id ="
                                  " '8@lid'"),
                     0);
    assert_int_equal(store_contact_merge(f->st, lid2, lid2), -1);
    assert_int_equal(store_contact_merge(f->st, lid2, num), 0);
    assert_null(store_contact_by_id(f->st, lid2));
    assert_int_equal(
        test_query(f, "SELECT contact_id FROM message WHERE network_id ="
                      " 'wamid.L'"),
        num);
    c = store_contact_get(f->st, f->acc, "8@lid");
    assert_non_null(c);
    assert_int_equal(c->id, num);
    store_contact_free(c);
    c = store_contact_get(f->st, f->acc, "9@lid");
    assert_non_null(c);
    assert_int_equal(c->id, num);
    assert_string_equal(c->name, "Eight");
    store_contact_free(c);
    assert_int_equal(
        test_query(f, "SELECT last_in_at FROM contact WHERE network_id ="
                      " '4915100000008'"),
        5000);
    assert_int_equal(test_query(f, "SELECT contact_id FROM team_claim"
                                   " WHERE holder = 'bob@example.org'"),
                     num);
    assert_int_equal(test_query(f, "SELECT contact_id FROM contact_avatar"
                                   " WHERE hash = 'h8'"),
                     num);
    assert_true(m > 0);
}

/* ---- messages ---- */

static void test_message_map(void **state)
{
    struct fixture *f = *state;
    long long c = test_contact(f, f->acc, "4915100000001");
    long long in, out;
    struct store_message *m;

    in = test_message(f, f->acc, c, 'i', "wamid.IN", "wamid.IN");
    out = test_message(f, f->acc, c, 'o', "wamid.IN", NULL);
    assert_true(in > 0 && out > 0 && in != out);
    assert_int_equal(store_message_count(f->st), 2);

    m = store_message_by_network(f->st, f->acc, "wamid.IN");
    assert_non_null(m);
    assert_int_equal(m->id, in);
    assert_int_equal(m->account_id, f->acc);
    assert_int_equal(m->contact_id, c);
    assert_int_equal(m->direction, 'i');
    assert_null(m->sender);
    assert_int_equal(m->status, STORE_STATUS_QUEUED);
    store_message_free(m);

    m = store_message_by_stanza(f->st, f->acc, 'o', "wamid.IN");
    assert_non_null(m);
    assert_int_equal(m->id, out);
    assert_int_equal(m->direction, 'o');
    assert_string_equal(m->sender, "alice@example.org/phone");
    assert_null(m->network_id);
    store_message_free(m);
    m = store_message_by_stanza(f->st, f->acc, 'i', "wamid.IN");
    assert_int_equal(m->id, in);
    store_message_free(m);
    assert_null(store_message_by_stanza(f->st, f->acc, 'i', "nope"));
    assert_null(store_message_by_network(f->st, f->acc + 1, "wamid.IN"));

    assert_int_equal(store_message_sent(f->st, out, "wamid.OUT"), 1);
    m = store_message_by_network(f->st, f->acc, "wamid.OUT");
    assert_non_null(m);
    assert_int_equal(m->id, out);
    assert_int_equal(m->status, STORE_STATUS_SENT);
    store_message_free(m);
    /* only a queued message becomes sent */
    assert_int_equal(store_message_sent(f->st, out, "wamid.OTHER"), 0);
    assert_null(store_message_by_network(f->st, f->acc, "wamid.OTHER"));
    /* Network ids are unique per account. */
    assert_int_equal(test_message(f, f->acc, c, 'i', "s", "wamid.OUT"), -1);
}

static void test_message_status(void **state)
{
    struct fixture *f = *state;
    long long c = test_contact(f, f->acc, "4915100000001");
    long long id = test_message(f, f->acc, c, 'o', "s1", NULL);
    struct store_message *m;

    assert_int_equal(store_message_set_status(f->st, id, STORE_STATUS_SENT), 0);
    assert_int_equal(store_message_set_status(f->st, id, STORE_STATUS_READ), 0);
    /* A late "delivered" does not undo "read". */
    assert_int_equal(
        store_message_set_status(f->st, id, STORE_STATUS_DELIVERED), 0);
    m = store_message_by_id(f->st, id);
    assert_int_equal(m->status, STORE_STATUS_READ);
    store_message_free(m);
    assert_int_equal(store_message_set_status(f->st, id, STORE_STATUS_FAILED),
                     0);
    assert_int_equal(store_message_set_status(f->st, id, STORE_STATUS_READ), 0);
    m = store_message_by_id(f->st, id);
    assert_int_equal(m->status, STORE_STATUS_FAILED);
    store_message_free(m);
    assert_null(store_message_by_id(f->st, 9999));
}

/* ---- outbox ---- */

static void test_outbox_heads(void **state)
{
    struct fixture *f = *state;
    long long ca = test_contact(f, f->acc, "4915100000001");
    long long cb = test_contact(f, f->acc, "4915100000002");
    long long a1, b1, a2, n1, n2, b2, now = wall_ms();
    struct ids ids;

    assert_int_equal(store_outbox_next_wakeup(f->st, now), 0);
    a1 = store_outbox_add(f->st, f->acc, ca, 0, "text", "a1");
    b1 = store_outbox_add(f->st, f->acc, cb, 0, "text", "b1");
    a2 = store_outbox_add(f->st, f->acc, ca, 0, "text", "a2");
    n1 = store_outbox_add(f->st, f->acc, 0, 0, "read", "n1");
    n2 = store_outbox_add(f->st, f->acc, 0, 0, "read", "n2");
    b2 = store_outbox_add(f->st, f->acc, cb, 0, "text", "b2");
    assert_true(a1 > 0 && b1 > a1 && a2 > b1 && n1 > a2 && n2 > n1 && b2 > n2);
    assert_int_equal(store_outbox_count(f->st), 6);
    /* Due at once: nothing to wake up for. */
    assert_int_equal(store_outbox_next_wakeup(f->st, now), 0);

    ids = test_heads(f, now, 10);
    test_ids_equal(&ids, 4, a1, b1, n1, n2);
    ids = test_heads(f, now, 2);
    test_ids_equal(&ids, 2, a1, b1);
    ids = test_heads(f, now, 0);
    test_ids_equal(&ids, 0);

    /* The next row of a contact becomes its head. */
    assert_int_equal(store_outbox_delete(f->st, a1), 0);
    ids = test_heads(f, now, 10);
    test_ids_equal(&ids, 4, b1, a2, n1, n2);

    /* A head not due yet holds back its whole contact, even due rows. */
    assert_int_equal(store_outbox_retry(f->st, b1, 1, now + 60000, "503"), 0);
    assert_int_equal(store_outbox_retry(f->st, n1, 1, now + 30000, "503"), 0);
    ids = test_heads(f, now, 10);
    test_ids_equal(&ids, 2, a2, n2);
    ids = test_heads(f, now + 60000, 10);
    test_ids_equal(&ids, 4, b1, a2, n1, n2);

    /* The wake-up ignores due rows behind a waiting head. */
    assert_int_equal(store_outbox_delete(f->st, a2), 0);
    assert_int_equal(store_outbox_delete(f->st, n2), 0);
    assert_int_equal(store_outbox_next_wakeup(f->st, now), now + 30000);
    /* A row that became due since "now" still counts. */
    assert_int_equal(store_outbox_next_wakeup(f->st, now + 29999), now + 30000);
    assert_int_equal(store_outbox_next_wakeup(f->st, now + 30000), now + 60000);
    assert_int_equal(store_outbox_delete(f->st, n1), 0);
    assert_int_equal(store_outbox_next_wakeup(f->st, now), now + 60000);
}

static void test_note_account(long long account_id, void *arg)
{
    struct ids *ids = arg;

    assert_true(ids->n < 32);
    ids->v[ids->n++] = account_id;
}

/* One account's heads contact by contact after a contact (due or not, the
 * queue decides), its rows without contact apart, the accounts with
 * queued rows, and whose rows were queued since the queue last asked. */
static void test_outbox_heads_of(void **state)
{
    struct fixture *f = *state;
    long long bob = store_account_upsert(f->st, "bob@example.org", "cloudapi",
                                         "1002", "tok-b", "+49 151 2");
    long long ca = test_contact(f, f->acc, "4915100000001");
    long long cb = test_contact(f, f->acc, "4915100000002");
    long long cc = test_contact(f, f->acc, "4915100000003");
    long long cx = test_contact(f, bob, "4915100000001");
    long long a1, b1, a2, c1, n1, x1, now = wall_ms();
    struct ids ids = {0};

    assert_int_equal(store_outbox_queued_since(f->st, test_note_account, &ids),
                     0);
    test_ids_equal(&ids, 0);
    b1 = store_outbox_add(f->st, f->acc, cb, 0, "text", "b1");
    a1 = store_outbox_add(f->st, f->acc, ca, 0, "text", "a1");
    x1 = store_outbox_add(f->st, bob, cx, 0, "text", "x1");
    a2 = store_outbox_add(f->st, f->acc, ca, 0, "text", "a2");
    n1 = store_outbox_add(f->st, f->acc, 0, 0, "read", "n1");
    c1 = store_outbox_add(f->st, f->acc, cc, 0, "text", "c1");
    assert_true(b1 > 0 && a1 > 0 && x1 > 0 && a2 > 0 && n1 > 0 && c1 > 0);
    assert_int_equal(store_outbox_queued_since(f->st, test_note_account, &ids),
                     0);
    test_ids_equal(&ids, 2, f->acc, bob);
    ids.n = 0;
    assert_int_equal(store_outbox_queued_since(f->st, test_note_account, &ids),
                     0);
    test_ids_equal(&ids, 0);

    /* rows without contact first, then contact by contact */
    assert_int_equal(
        store_outbox_heads_of(f->st, f->acc, 0, 10, test_collect_outbox, &ids),
        3);
    test_ids_equal(&ids, 4, n1, a1, b1, c1);
    ids.n = 0;
    assert_int_equal(
        store_outbox_heads_of(f->st, f->acc, ca, 1, test_collect_outbox, &ids),
        1);
    test_ids_equal(&ids, 2, n1, b1);
    ids.n = 0;
    /* a circle: after the last contact come the first ones, round to it */
    assert_int_equal(
        store_outbox_heads_of(f->st, f->acc, cb, 10, test_collect_outbox, &ids),
        3);
    test_ids_equal(&ids, 4, n1, c1, a1, b1);
    ids.n = 0;
    assert_int_equal(
        store_outbox_heads_of(f->st, f->acc, cc, 2, test_collect_outbox, &ids),
        2);
    test_ids_equal(&ids, 3, n1, a1, b1);
    ids.n = 0;
    /* not due: still read; the next row is not the head */
    assert_int_equal(store_outbox_retry(f->st, a1, 1, now + 60000, "503"), 0);
    assert_int_equal(store_outbox_delete(f->st, n1), 0);
    assert_int_equal(
        store_outbox_heads_of(f->st, f->acc, 0, 1, test_collect_outbox, &ids),
        1);
    test_ids_equal(&ids, 1, a1);
    ids.n = 0;
    assert_int_equal(store_outbox_fail(f->st, a1, "gone"), 0);
    assert_int_equal(
        store_outbox_heads_of(f->st, f->acc, 0, 1, test_collect_outbox, &ids),
        1);
    test_ids_equal(&ids, 1, a2);
    ids.n = 0;
    assert_int_equal(
        store_outbox_heads_of(f->st, bob, 0, 10, test_collect_outbox, &ids), 1);
    test_ids_equal(&ids, 1, x1);
    ids.n = 0;
    assert_int_equal(store_outbox_accounts(f->st, test_note_account, &ids), 0);
    test_ids_equal(&ids, 2, f->acc, bob);
    ids.n = 0;
    assert_int_equal(store_outbox_delete(f->st, x1), 0);
    assert_int_equal(store_outbox_accounts(f->st, test_note_account, &ids), 0);
    test_ids_equal(&ids, 1, f->acc);
}

/* Deletes each row it is given: the store is usable inside callbacks. */
static int test_delete_outbox(const struct store_outbox *o, void *arg)
{
    struct store *st = arg;

    assert_int_equal(store_outbox_delete(st, o->id), 0);
    return 0;
}

static int test_check_outbox(const struct store_outbox *o, void *arg)
{
    struct fixture *f = arg;

    assert_int_equal(o->account_id, f->acc);
    assert_int_equal(o->attempts, 3);
    assert_int_equal(o->next_attempt, 5000);
    assert_string_equal(o->kind, "text");
    assert_string_equal(o->payload, "{\"body\":\"hi\"}");
    assert_true(o->message_id > 0);
    assert_true(o->contact_id > 0);
    assert_true(o->created > 1600000000 && o->created < 4102444800LL);
    return 1;
}

static void test_outbox_retry_delay(void **state)
{
    struct fixture *f = *state;
    long long c = test_contact(f, f->acc, "4915100000001");
    long long m = test_message(f, f->acc, c, 'o', "s1", NULL);
    long long r1, r2, r3;
    struct ids ids;

    r1 = store_outbox_add(f->st, f->acc, c, m, "text", "{\"body\":\"hi\"}");
    r2 = store_outbox_add(f->st, f->acc, c, 0, "text", "2");
    r3 = store_outbox_add(f->st, f->acc, 0, 0, "text", "3");
    assert_int_equal(store_outbox_retry(f->st, r1, 3, 5000, "timeout"), 0);
    assert_int_equal(store_outbox_heads(f->st, 5000, 10, test_check_outbox, f),
                     0);
    ids = test_heads(f, 4999, 10);
    test_ids_equal(&ids, 1, r3);

    /* Delay pushes the contact's rows forward, never back. */
    assert_int_equal(store_outbox_retry(f->st, r2, 0, 90000, NULL), 0);
    assert_int_equal(store_outbox_delay_contact(f->st, c, 20000), 0);
    assert_int_equal(test_query(f, "SELECT min(next_attempt) FROM outbox "
                                   "WHERE contact_id IS NOT NULL"),
                     20000);
    assert_int_equal(test_query(f, "SELECT max(next_attempt) FROM outbox"),
                     90000);
    assert_int_equal(test_query(f, "SELECT next_attempt FROM outbox WHERE "
                                   "contact_id IS NULL"),
                     0);
    ids = test_heads(f, 19999, 10);
    test_ids_equal(&ids, 1, r3);
    ids = test_heads(f, 20000, 10);
    test_ids_equal(&ids, 2, r1, r3);

    /* Callbacks may write: one pass deletes every head. */
    assert_int_equal(
        store_outbox_heads(f->st, FAR_FUTURE, 10, test_delete_outbox, f->st),
        0);
    ids = test_heads(f, FAR_FUTURE, 10);
    test_ids_equal(&ids, 1, r2);
    ids.n = 0;
    ids.stop_after = 1;
    assert_true(store_outbox_add(f->st, f->acc, 0, 0, "read", "x") > 0);
    assert_int_equal(
        store_outbox_heads(f->st, FAR_FUTURE, 10, test_collect_outbox, &ids),
        0);
    test_ids_equal(&ids, 1, r2);
    assert_int_equal(store_outbox_count(f->st), 2);
}

/* ---- inbox ---- */

static int test_collect_inbox(const struct store_inbox *i, void *arg)
{
    struct ids *ids = arg;
    long long now = wall_ms();

    assert_true(i->created > now - 60000 && i->created <= now);
    assert_string_equal(i->stanza, "<message/>");
    ids->v[ids->n++] = i->id;
    return ids->stop_after > 0 && ids->n >= ids->stop_after;
}

static struct ids test_inbox(struct fixture *f, long long after, int max,
                             int stop_after)
{
    struct ids ids = {0};

    ids.stop_after = stop_after;
    assert_int_equal(
        store_inbox_fetch(f->st, after, max, test_collect_inbox, &ids), 0);
    return ids;
}

static void test_inbox_queue(void **state)
{
    struct fixture *f = *state;
    long long i1, i2, i3;
    struct ids ids;

    i1 =
        store_inbox_add(f->st, f->acc, "alice@example.org", "<message/>", NULL);
    i2 = store_inbox_add(f->st, 0, "bob@example.org", "<message/>", NULL);
    i3 =
        store_inbox_add(f->st, f->acc, "alice@example.org", "<message/>", NULL);
    assert_true(i1 > 0 && i2 > i1 && i3 > i2);
    assert_int_equal(store_inbox_count(f->st), 3);

    ids = test_inbox(f, 0, 10, 0);
    test_ids_equal(&ids, 3, i1, i2, i3);
    ids = test_inbox(f, i1, 10, 0);
    test_ids_equal(&ids, 2, i2, i3);
    ids = test_inbox(f, 0, 1, 0);
    test_ids_equal(&ids, 1, i1);
    ids = test_inbox(f, 0, 10, 2);
    test_ids_equal(&ids, 2, i1, i2);
    ids = test_inbox(f, i3, 10, 0);
    test_ids_equal(&ids, 0);

    assert_int_equal(store_inbox_confirm(f->st, i1, i2, wall_ms()), 0);
    assert_int_equal(store_inbox_count(f->st), 1);
    ids = test_inbox(f, 0, 10, 0);
    test_ids_equal(&ids, 1, i3);

    /* Emptied, the table must not hand out an id the queue's cursor has
     * already passed. */
    assert_int_equal(store_inbox_confirm(f->st, i3, i3, wall_ms()), 0);
    assert_true(store_inbox_add(f->st, 0, "bob@example.org", "<m/>", NULL) >
                i3);
}

/* Caps the database at its current size, as a full disk would. */
static void test_store_full(struct fixture *f)
{
    char *sql;

    assert_int_equal(store_exec(f->st, "VACUUM"), 0);
    sql = xasprintf("PRAGMA max_page_count = %lld",
                    test_query(f, "PRAGMA page_count"));
    assert_int_equal(store_exec(f->st, sql), 0);
    free(sql);
}

/* A stanza larger than a page: it needs pages a full store cannot add. */
static char *test_big_stanza(void)
{
    char *s = xmalloc(9000);

    memset(s, 'x', 8999);
    s[8999] = '\0';
    return s;
}

/* A write that fails inside a transaction: nothing of the transaction
 * commits, not even what was written before it, nor anything after (SQLite
 * may have rolled it back already: nothing may run outside it). */
static void test_txn_failed_rolls_back(void **state)
{
    struct fixture *f = *state;
    char *big = test_big_stanza();
    long long c = test_contact(f, f->acc, "4915100000001");

    test_store_full(f);
    assert_int_equal(store_begin(f->st), 0);
    assert_int_equal(store_failed(f->st), 0);
    assert_true(store_outbox_add(f->st, f->acc, c, 0, "read", "{}") > 0);
    assert_true(store_inbox_add(f->st, f->acc, "a@example.org", big, "x") < 0);
    assert_int_equal(store_failed(f->st), 1);
    assert_true(store_outbox_add(f->st, f->acc, c, 0, "typing", "{}") < 0);
    assert_int_equal(store_commit(f->st), -1);
    assert_int_equal(store_failed(f->st), 0);
    assert_int_equal(store_outbox_count(f->st), 0);
    assert_int_equal(store_inbox_count(f->st), 0);
    /* the next transaction starts clean; outside one, a failure is the
     * statement's alone */
    assert_int_equal(store_begin(f->st), 0);
    assert_true(store_outbox_add(f->st, f->acc, c, 0, "read", "{}") > 0);
    assert_int_equal(store_commit(f->st), 0);
    assert_int_equal(store_outbox_count(f->st), 1);
    assert_true(store_inbox_add(f->st, f->acc, "a@example.org", big, "x") < 0);
    assert_int_equal(store_failed(f->st), 0);
    free(big);
}

/* What the turn's transaction reported: ends seen by a hook and by calls
 * registered with store_txn_after(), in order ('h', 'a', 'b'), with ok. */
struct txn_log {
    char who[16];
    int ok[16];
    int n;
};

static void test_txn_note(struct txn_log *l, char who, int ok)
{
    assert_true(l->n < 16);
    l->who[l->n] = who;
    l->ok[l->n++] = ok;
}

static void test_txn_hook_fn(int ok, void *arg)
{
    test_txn_note(arg, 'h', ok);
}

static void test_txn_a(int ok, void *arg)
{
    test_txn_note(arg, 'a', ok);
}

static void test_txn_b(int ok, void *arg)
{
    test_txn_note(arg, 'b', ok);
}

/* The loop turn's transaction: one per turn, committed when the turn's
 * callbacks have run; the calls that asked for its end run once (twice
 * asked, once run), before the hooks, which run at every end. */
static void test_txn_turn(void **state)
{
    struct fixture *f = *state;
    struct txn_log l = {.n = 0};
    long long c = test_contact(f, f->acc, "4915100000001");

    loop_init();
    store_txn_hook(f->st, test_txn_hook_fn, &l);
    assert_int_equal(store_txn_after(f->st, test_txn_a, &l), -1);
    assert_int_equal(store_txn_begin(f->st), 0);
    assert_int_equal(store_txn_open(f->st), 1);
    assert_true(store_outbox_add(f->st, f->acc, c, 0, "read", "{}") > 0);
    assert_int_equal(store_txn_begin(f->st), 0); /* the same one */
    assert_int_equal(store_txn_after(f->st, test_txn_a, &l), 0);
    assert_int_equal(store_txn_after(f->st, test_txn_b, &l), 0);
    assert_int_equal(store_txn_after(f->st, test_txn_a, &l), 0);
    assert_int_equal(l.n, 0);
    /* the turn ends: the deferred commit runs */
    event_base_loop(loop_base(), EVLOOP_NONBLOCK);
    assert_int_equal(store_txn_open(f->st), 0);
    assert_int_equal(l.n, 3);
    assert_memory_equal(l.who, "abh", 3);
    assert_true(l.ok[0] && l.ok[1] && l.ok[2]);
    assert_int_equal(store_outbox_count(f->st), 1);
    /* committed at once; the turn's deferred commit then finds none */
    assert_int_equal(store_txn_begin(f->st), 0);
    assert_int_equal(store_txn_after(f->st, test_txn_b, &l), 0);
    assert_int_equal(store_txn_commit(f->st), 0);
    assert_int_equal(store_txn_commit(f->st), 0);
    loop_free();
    assert_int_equal(l.n, 5);
    assert_memory_equal(l.who + 3, "bh", 2);
}

/* A turn whose statement failed is rolled back as a whole, and its end is
 * reported as such (its sender learns of it). */
static void test_txn_turn_failed(void **state)
{
    struct fixture *f = *state;
    struct txn_log l = {.n = 0};
    char *big = test_big_stanza();
    long long c = test_contact(f, f->acc, "4915100000001");

    loop_init();
    store_txn_hook(f->st, test_txn_hook_fn, &l);
    test_store_full(f);
    assert_int_equal(store_txn_begin(f->st), 0);
    assert_int_equal(store_txn_after(f->st, test_txn_a, &l), 0);
    assert_true(store_outbox_add(f->st, f->acc, c, 0, "read", "{}") > 0);
    assert_true(store_inbox_add(f->st, f->acc, "a@example.org", big, "x") < 0);
    assert_int_equal(store_txn_commit(f->st), -1);
    assert_int_equal(l.n, 2);
    assert_memory_equal(l.who, "ah", 2);
    assert_false(l.ok[0] || l.ok[1]);
    assert_int_equal(store_outbox_count(f->st), 0);
    /* the next turn starts clean */
    assert_int_equal(store_txn_begin(f->st), 0);
    assert_true(store_outbox_add(f->st, f->acc, c, 0, "read", "{}") > 0);
    assert_int_equal(store_txn_commit(f->st), 0);
    assert_int_equal(store_outbox_count(f->st), 1);
    assert_int_equal(l.n, 3);
    assert_true(l.ok[2]);
    loop_free();
    free(big);
}

/* Parts of the turn's transaction: the first part, before anything
 * changed, is undone with the whole transaction, which goes on (its
 * waiters still wait); a later part with a SAVEPOINT. Kept parts commit
 * with the turn. */
static void test_txn_parts(void **state)
{
    struct fixture *f = *state;
    struct txn_log l = {.n = 0};
    long long c = test_contact(f, f->acc, "4915100000001");

    loop_init();
    store_txn_hook(f->st, test_txn_hook_fn, &l);
    assert_int_equal(store_part_begin(f->st), -1); /* no turn */
    assert_int_equal(store_txn_begin(f->st), 0);
    assert_int_equal(store_txn_after(f->st, test_txn_a, &l), 0);
    assert_int_equal(store_part_begin(f->st), 0);
    assert_true(store_outbox_add(f->st, f->acc, c, 0, "read", "{}") > 0);
    assert_int_equal(store_part_end(f->st, 0), 0); /* undone */
    assert_int_equal(store_txn_open(f->st), 1);
    assert_int_equal(store_outbox_count(f->st), 0);
    assert_int_equal(store_part_begin(f->st), 0); /* again the first */
    assert_true(store_outbox_add(f->st, f->acc, c, 0, "read", "{}") > 0);
    assert_int_equal(store_part_end(f->st, 1), 0); /* kept */
    assert_int_equal(store_part_begin(f->st), 0);  /* a savepoint */
    assert_true(store_outbox_add(f->st, f->acc, c, 0, "typing", "{}") > 0);
    assert_int_equal(store_outbox_count(f->st), 2);
    assert_int_equal(store_part_end(f->st, 0), 0); /* undone alone */
    assert_int_equal(store_outbox_count(f->st), 1);
    assert_int_equal(l.n, 0);
    assert_int_equal(store_txn_commit(f->st), 0);
    assert_int_equal(l.n, 2);
    assert_memory_equal(l.who, "ah", 2);
    assert_true(l.ok[0] && l.ok[1]);
    assert_int_equal(store_outbox_count(f->st), 1);
    loop_free();
}

/* FERRY_TEST_MAX_PAGES caps the database (tests/e2e/README.md); a value
 * that is not a number refuses to open. */
static void test_max_pages_knob(void **state)
{
    struct fixture *f = *state;
    struct store *st;

    setenv("FERRY_TEST_MAX_PAGES", "12x", 1);
    assert_null(store_open(f->path, "normal"));
    setenv("FERRY_TEST_MAX_PAGES", "4321", 1);
    st = store_open(f->path, "normal");
    assert_non_null(st);
    unsetenv("FERRY_TEST_MAX_PAGES");
    store_close(f->st);
    f->st = st;
    assert_int_equal(test_query(f, "PRAGMA max_page_count"), 4321);
}

/* The queued stanzas after row after, comma-separated. */
struct stanzas {
    char s[256];
    size_t n;
    long long last;
};

static int test_collect_stanza(const struct store_inbox *i, void *arg)
{
    struct stanzas *o = arg;
    int w = snprintf(o->s + o->n, sizeof(o->s) - o->n, "%s%s", o->n ? "," : "",
                     i->stanza);

    assert_true(w > 0 && (size_t)w < sizeof(o->s) - o->n);
    o->n += (size_t)w;
    o->last = i->id;
    return 0;
}

static const char *test_stanzas(struct fixture *f, long long after)
{
    static struct stanzas o;

    memset(&o, 0, sizeof(o));
    assert_int_equal(
        store_inbox_fetch(f->st, after, 100, test_collect_stanza, &o), 0);
    return o.s;
}

/* A file keeps its place in its contact's order: what the contact sent
 * after it waits until it is ready (in any order of completion), or until
 * its slot gives up and a placeholder goes instead. */
static void test_inbox_slots(void **state)
{
    struct fixture *f = *state;
    long long c1 = test_contact(f, f->acc, "4915100000001");
    long long c2 = test_contact(f, f->acc, "4915100000002");
    const char *u = "alice@example.org";

    assert_true(store_inbox_add_after(f->st, f->acc, c1, u, "t0", "t0") > 0);
    assert_int_equal(store_inbox_slot_oldest(f->st), 0);
    assert_true(store_inbox_add_slot(f->st, f->acc, c1, u, "P1", "w1") > 0);
    assert_true(store_inbox_add_after(f->st, f->acc, c1, u, "cap1", "c") > 0);
    assert_true(store_inbox_add_after(f->st, f->acc, c1, u, "t1", "t1") > 0);
    assert_true(store_inbox_add_slot(f->st, f->acc, c1, u, "P2", "w2") > 0);
    assert_true(store_inbox_add_after(f->st, f->acc, c1, u, "t2", "t2") > 0);
    assert_true(store_inbox_add_after(f->st, f->acc, c2, u, "u1", "u1") > 0);
    assert_string_equal(test_stanzas(f, 0), "t0,u1");
    assert_true(store_inbox_slot_oldest(f->st) > 0);
    /* the second file first: it waits for the first */
    assert_int_equal(store_inbox_slot_fill(f->st, f->acc, "w2", "F2"), c1);
    assert_string_equal(test_stanzas(f, 0), "t0,u1");
    assert_int_equal(store_inbox_slot_fill(f->st, f->acc, "w1", "F1"), c1);
    assert_string_equal(test_stanzas(f, 0), "t0,u1,F1,cap1,t1,F2,t2");
    assert_int_equal(store_inbox_slot_oldest(f->st), 0);
    assert_int_equal(store_inbox_slot_fill(f->st, f->acc, "w1", "F1"), 0);
    /* a slot that gives up: its placeholder, then what waited */
    assert_true(store_inbox_add_slot(f->st, f->acc, c1, u, "P3", "w3") > 0);
    assert_true(store_inbox_add_after(f->st, f->acc, c1, u, "t3", "t3") > 0);
    assert_int_equal(store_inbox_slot_expire(f->st, wall_ms() - 60000), 0);
    assert_int_equal(store_inbox_slot_expire(f->st, wall_ms() + 1), 1);
    assert_string_equal(test_stanzas(f, 0), "t0,u1,F1,cap1,t1,F2,t2,P3,t3");
    assert_int_equal(store_inbox_slot_fill(f->st, f->acc, "w3", "F3"), 0);
    assert_true(store_inbox_add_after(f->st, f->acc, c1, u, "F3", "w3") > 0);
    assert_string_equal(test_stanzas(f, 0), "t0,u1,F1,cap1,t1,F2,t2,P3,t3,F3");
}

/* The webhook path's inbox statements use indexes: with many confirmed
 * rows in the table, adding, fetching and confirming messages and looking
 * for file slots steps through no full-table scan (each webhook message
 * scanned the whole inbox when the partial index went unused). */
static void test_inbox_no_scans(void **state)
{
    struct fixture *f = *state;
    long long c1 = test_contact(f, f->acc, "4915100000001");
    const char *u = "alice@example.org";
    long long id = 0, first;
    char sid[32];
    int i;

    for (i = 0; i < 300; i++) {
        snprintf(sid, sizeof(sid), "old%d", i);
        id = store_inbox_add_after(f->st, f->acc, c1, u, "<m/>", sid);
        assert_true(id > 0);
    }
    assert_int_equal(store_inbox_confirm(f->st, 1, id, wall_ms()), 0);
    (void)store_full_scan_steps(f->st);
    first = store_inbox_add_after(f->st, f->acc, c1, u, "<m/>", "new1");
    assert_true(first > 0);
    assert_true(store_inbox_add_slot(f->st, f->acc, c1, u, "P", "w1") > 0);
    assert_true(store_inbox_add_after(f->st, f->acc, c1, u, "t", "t") > 0);
    assert_int_equal(store_inbox_slot_fill(f->st, f->acc, "w1", "F"), c1);
    assert_int_equal(store_inbox_slot_expire(f->st, wall_ms() - 60000), 0);
    assert_int_equal(store_inbox_slot_oldest(f->st), 0);
    assert_int_equal(store_full_scan_steps(f->st), 0);
}

static long long test_inbox_rows(struct fixture *f, int state)
{
    sqlite3_stmt *s = store_stmt(f->st, "SELECT count(*) FROM inbox"
                                        " WHERE state = ?1");
    long long n;

    sqlite3_bind_int(s, 1, state);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    n = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return n;
}

/* A message the user's server bounces after the ping: held, then queued
 * again (after everything queued meanwhile) when the user is back. */
static void test_inbox_bounce(void **state)
{
    struct fixture *f = *state;
    long long m1, r1, m2, m3, t = wall_ms();
    struct ids ids;

    m1 = store_inbox_add(f->st, f->acc, "alice@example.org", "<message/>",
                         "wamid.1");
    r1 =
        store_inbox_add(f->st, f->acc, "alice@example.org", "<message/>", NULL);
    m2 = store_inbox_add(f->st, f->acc, "alice@example.org", "<message/>",
                         "wamid.2");
    assert_int_equal(store_inbox_confirm(f->st, m1, m2, t), 0);
    /* the receipt is gone; the messages are kept, but not queued */
    assert_int_equal(store_inbox_count(f->st), 0);
    assert_int_equal(test_inbox_rows(f, 1), 2);
    ids = test_inbox(f, 0, 10, 0);
    test_ids_equal(&ids, 0);
    (void)r1;

    /* a bounce of an unknown id, or of another account, holds nothing */
    assert_int_equal(store_inbox_bounce(f->st, f->acc, NULL, "wamid.x", 10, t),
                     0);
    assert_int_equal(
        store_inbox_bounce(f->st, f->acc + 1, NULL, "wamid.2", 10, t), 0);
    assert_int_equal(store_inbox_bounce(f->st, f->acc, NULL, "wamid.2", 10, t),
                     1);
    assert_int_equal(store_inbox_bounce(f->st, f->acc, NULL, "wamid.1", 10, t),
                     1);
    assert_int_equal(test_inbox_rows(f, 2), 2);
    /* held rows are not expired with the confirmed ones */
    assert_int_equal(store_inbox_expire(f->st, t + 1), 0);
    assert_int_equal(test_inbox_rows(f, 2), 2);

    m3 = store_inbox_add(f->st, f->acc, "alice@example.org", "<message/>",
                         "wamid.3");
    assert_int_equal(store_inbox_release(f->st, f->acc + 1, NULL), 0);
    assert_int_equal(store_inbox_release(f->st, f->acc, NULL), 2);
    assert_int_equal(test_inbox_rows(f, 2), 0);
    ids = test_inbox(f, m2, 10, 0);
    assert_int_equal(ids.n, 3);
    assert_int_equal(ids.v[0], m3);
    assert_true(ids.v[1] > m3 && ids.v[2] > ids.v[1]);
    assert_int_equal(store_inbox_count(f->st), 3);

    /* the released rows keep their ids' order (wamid.1 first) and their
     * bounce count: the max_bounces-th bounce drops it */
    assert_int_equal(store_inbox_confirm(f->st, m3, ids.v[2], t), 0);
    assert_int_equal(store_inbox_bounce(f->st, f->acc, NULL, "wamid.1", 3, t),
                     1);
    assert_int_equal(store_inbox_bounce(f->st, f->acc, NULL, "wamid.1", 3, t),
                     0);
    assert_int_equal(store_inbox_release(f->st, f->acc, NULL), 1);
    assert_int_equal(store_inbox_bounce(f->st, f->acc, NULL, "wamid.1", 3, t),
                     2);
    assert_int_equal(store_inbox_bounce(f->st, f->acc, NULL, "wamid.1", 3, t),
                     0);

    /* confirmed rows expire after their keep time */
    assert_int_equal(store_inbox_expire(f->st, t), 0);
    assert_int_equal(test_inbox_rows(f, 1), 2);
    assert_int_equal(store_inbox_expire(f->st, t + 1), 0);
    assert_int_equal(test_inbox_rows(f, 1), 0);
}

/* A team's members get rows with the same stanza id: a bounce holds the
 * row of the member whose server bounced it, and a member's return
 * releases only that member's rows (with those to its full JIDs). */
static void test_inbox_bounce_recipient(void **state)
{
    struct fixture *f = *state;
    long long t = 1000, a, b, c;

    a = store_inbox_add(f->st, f->acc, "alice@example.org", "<message/>", "w1");
    b = store_inbox_add(f->st, f->acc, "bob@example.org", "<message/>", "w1");
    c = store_inbox_add(f->st, f->acc, "bob@example.org/phone", "<message/>",
                        "w2");
    assert_true(a < b && b < c);
    assert_int_equal(store_inbox_confirm(f->st, a, c, t), 0);
    assert_int_equal(
        store_inbox_bounce(f->st, f->acc, "bob@example.org", "w1", 10, t), 1);
    assert_int_equal(
        store_inbox_bounce(f->st, f->acc, "bob@example.org", "w1", 10, t), 0);
    assert_int_equal(
        store_inbox_bounce(f->st, f->acc, "bob@example.org/phone", "w2", 10, t),
        1);
    assert_int_equal(test_query(f, "SELECT count(*) FROM inbox WHERE state = 2"
                                   " AND recipient = 'alice@example.org'"),
                     0);
    assert_int_equal(store_inbox_release(f->st, f->acc, "bob@example.orgx"), 0);
    assert_int_equal(store_inbox_release(f->st, f->acc, "alice@example.org"),
                     0);
    assert_int_equal(store_inbox_release(f->st, f->acc, "bob@example.org"), 2);
    assert_int_equal(test_inbox_rows(f, 2), 0);
}

/* ---- dedupe ---- */

static void test_seen(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(store_seen_add(f->st, "wamid.1", 100), 1);
    assert_int_equal(store_seen_add(f->st, "wamid.1", 300), 0);
    assert_int_equal(store_seen_add(f->st, "wamid.2", 200), 1);
    assert_int_equal(store_seen_expire(f->st, 150), 0);
    assert_int_equal(store_seen_add(f->st, "wamid.1", 300), 1);
    assert_int_equal(store_seen_add(f->st, "wamid.2", 300), 0);
    assert_int_equal(store_seen_expire(f->st, 200), 0);
    assert_int_equal(store_seen_add(f->st, "wamid.2", 300), 1);
    assert_int_equal(test_query(f, "SELECT count(*) FROM seen"), 2);
}

/* ---- early statuses ---- */

struct early {
    int status[8];
    int code[8];
    char text[8][32];
    int n;
};

static void test_collect_early(int status, int error_code,
                               const char *error_text, void *arg)
{
    struct early *e = arg;

    assert_true(e->n < 8);
    e->status[e->n] = status;
    e->code[e->n] = error_code;
    snprintf(e->text[e->n], sizeof(e->text[0]), "%s",
             error_text ? error_text : "(null)");
    e->n++;
}

static void test_early_status(void **state)
{
    struct fixture *f = *state;
    struct early e = {0};
    long long b = store_account_upsert(f->st, "bob@example.org", "cloudapi",
                                       "2001", "tok", NULL);

    assert_int_equal(store_early_status_add(f->st, f->acc, "w1", 2, 0, NULL),
                     0);
    assert_int_equal(store_early_status_add(f->st, f->acc, "w2", 1, 0, NULL),
                     0);
    assert_int_equal(store_early_status_add(f->st, f->acc, "w1", 3, 0, NULL),
                     0);
    assert_int_equal(
        store_early_status_add(f->st, f->acc, "w1", 4, 131047, "window"), 0);
    assert_int_equal(store_early_status_add(f->st, b, "w1", 1, 0, NULL), 0);

    assert_int_equal(
        store_early_status_take(f->st, f->acc, "w1", test_collect_early, &e),
        0);
    assert_int_equal(e.n, 3);
    assert_int_equal(e.status[0], 2);
    assert_int_equal(e.status[1], 3);
    assert_int_equal(e.status[2], 4);
    assert_int_equal(e.code[2], 131047);
    assert_string_equal(e.text[0], "(null)");
    assert_string_equal(e.text[2], "window");

    /* Taken means gone; the other id and account keep theirs. */
    e.n = 0;
    assert_int_equal(
        store_early_status_take(f->st, f->acc, "w1", test_collect_early, &e),
        0);
    assert_int_equal(e.n, 0);
    assert_int_equal(test_query(f, "SELECT count(*) FROM early_status"), 2);

    /* Expiry removes what was recorded before the cut. */
    assert_int_equal(store_early_status_expire(f->st, now_s() - 3600), 0);
    assert_int_equal(test_query(f, "SELECT count(*) FROM early_status"), 2);
    assert_int_equal(store_early_status_expire(f->st, now_s() + 1), 0);
    assert_int_equal(test_query(f, "SELECT count(*) FROM early_status"), 0);
}

/* ---- figures and failed rows (store_admin.c) ---- */

static void test_stats(void **state)
{
    struct fixture *f = *state;
    long long b = store_account_upsert(f->st, "bob@example.org", "cloudapi",
                                       "2001", "tok", NULL);
    long long ca = test_contact(f, f->acc, "4915100000001");
    long long cb = test_contact(f, b, "4915100000002");
    long long mo = test_message(f, f->acc, ca, 'o', "o1", NULL);
    long long mf = test_message(f, f->acc, ca, 'o', "o2", NULL);
    long long mb = test_message(f, b, cb, 'o', "o3", "w3");
    long long ob, of, held;
    struct store_stats s;
    char *err;

    assert_true(test_message(f, f->acc, ca, 'i', "w1", "w1") > 0);
    assert_true(test_message(f, f->acc, ca, 'i', "w2", "w2") > 0);
    assert_int_equal(store_message_set_status(f->st, mf, 4), 0);
    assert_int_equal(store_message_set_status(f->st, mb, 2), 0);
    assert_true(store_outbox_add(f->st, f->acc, ca, mo, "text", "x") > 0);
    of = store_outbox_add(f->st, f->acc, ca, mf, "text", "y");
    ob = store_outbox_add(f->st, b, cb, 0, "read", "w1");
    assert_int_equal(store_outbox_fail(f->st, of, "131026 undeliverable"), 0);
    assert_int_equal(store_outbox_retry(f->st, ob, 1, 0, "HTTP 503"), 0);
    held = store_inbox_add(f->st, f->acc, "alice@example.org", "<m/>", "h1");
    assert_int_equal(store_inbox_confirm(f->st, held, held, wall_ms()), 0);
    assert_int_equal(
        store_inbox_bounce(f->st, f->acc, NULL, "h1", 10, wall_ms()), 1);
    assert_true(
        store_inbox_add(f->st, f->acc, "alice@example.org", "<m/>", NULL) > 0);
    assert_true(store_inbox_add(f->st, 0, "example.org", "<p/>", NULL) > 0);
    assert_int_equal(store_account_set_state(f->st, b, "auth_failed", "190"),
                     0);

    assert_int_equal(store_stats_get(f->st, f->acc, &s), 0);
    assert_int_equal(s.messages[0][STORE_STATUS_QUEUED], 2); /* incoming */
    assert_int_equal(s.messages[1][STORE_STATUS_QUEUED], 1);
    assert_int_equal(s.messages[1][STORE_STATUS_FAILED], 1);
    assert_int_equal(s.messages[1][STORE_STATUS_SENT], 0);
    assert_int_equal(s.outbox_queued, 1);
    assert_int_equal(s.outbox_failed, 1);
    assert_int_equal(s.inbox, 1);
    assert_int_equal(s.inbox_held, 1);
    assert_int_equal(s.accounts, 1);
    assert_int_equal(s.accounts_paused, 0);

    assert_int_equal(store_stats_get(f->st, 0, &s), 0);
    assert_int_equal(s.messages[1][STORE_STATUS_DELIVERED], 1);
    assert_int_equal(s.messages[1][STORE_STATUS_QUEUED], 1);
    assert_int_equal(s.outbox_queued, 2);
    assert_int_equal(s.outbox_failed, 1);
    assert_int_equal(s.inbox, 2);
    assert_int_equal(s.accounts, 2);
    assert_int_equal(s.accounts_paused, 1);

    err = store_outbox_last_error(f->st, f->acc);
    assert_string_equal(err, "131026 undeliverable");
    free(err);
    err = store_outbox_last_error(f->st, b);
    assert_string_equal(err, "HTTP 503");
    free(err);
    assert_null(store_outbox_last_error(f->st, 999));
}

/* The integer column col of row id of table, read directly. */
static long long test_column(struct fixture *f, const char *table,
                             const char *col, long long id)
{
    char *sql = xasprintf("SELECT %s FROM %s WHERE id = %lld", col, table, id);
    long long v = test_query(f, sql);

    free(sql);
    return v;
}

static void test_outbox_failed(void **state)
{
    struct fixture *f = *state;
    long long b = store_account_upsert(f->st, "bob@example.org", "cloudapi",
                                       "2001", "tok", NULL);
    long long ca = test_contact(f, f->acc, "4915100000001");
    long long m1 = test_message(f, f->acc, ca, 'o', "o1", NULL);
    long long m2 = test_message(f, f->acc, ca, 'o', "o2", NULL);
    long long o1 = store_outbox_add(f->st, f->acc, ca, m1, "text", "one");
    long long o2 = store_outbox_add(f->st, f->acc, ca, m2, "text", "two");
    struct ids ids;

    /* A failed row is no longer a head: the contact's next row is. */
    assert_int_equal(store_outbox_retry(f->st, o1, 3, 0, "timeout"), 0);
    assert_int_equal(store_outbox_fail(f->st, o1, "gave up"), 0);
    assert_int_equal(store_message_set_status(f->st, m1, 4), 0);
    ids = test_heads(f, wall_ms(), 10);
    test_ids_equal(&ids, 1, o2);

    /* Queued again: only the account's, due at once, attempts reset, the
     * message back to queued. */
    assert_int_equal(store_outbox_requeue_failed(f->st, b), 0);
    assert_int_equal(store_outbox_requeue_failed(f->st, f->acc), 1);
    assert_int_equal(store_outbox_requeue_failed(f->st, 0), 0);
    ids = test_heads(f, wall_ms(), 10);
    test_ids_equal(&ids, 1, o1);
    assert_int_equal(test_column(f, "outbox", "attempts", o1), 0);
    assert_int_equal(test_column(f, "message", "status", m1), 0);
    assert_int_equal(test_column(f, "message", "status", m2), 0);

    /* All accounts at once; expiry deletes only failed rows. */
    assert_int_equal(store_outbox_fail(f->st, o1, "again"), 0);
    assert_int_equal(store_outbox_fail(f->st, o2, "again"), 0);
    assert_int_equal(store_outbox_requeue_failed(f->st, 0), 2);
    assert_int_equal(store_outbox_fail(f->st, o2, "again"), 0);
    assert_int_equal(store_outbox_expire_failed(f->st, now_s() - 60), 0);
    assert_int_equal(store_outbox_count(f->st), 2);
    assert_int_equal(store_outbox_expire_failed(f->st, now_s() + 60), 0);
    assert_int_equal(store_outbox_count(f->st), 1);
    ids = test_heads(f, wall_ms(), 10);
    test_ids_equal(&ids, 1, o1);
}

/* Collects member JIDs into a comma-separated list. */
static int test_team_collect(const char *jid, void *arg)
{
    struct buf *b = arg;

    buf_appendf(b, "%s,", jid);
    return 0;
}

/* Team members: one team per JID, removal with the member's claims, the
 * cascade of the account's deletion. */
static void test_team_members(void **state)
{
    struct fixture *f = *state;
    long long other = store_account_upsert(f->st, "carol@example.org",
                                           "cloudapi", "1002", "tok-c", NULL);
    long long c1, c2;
    int created;
    struct store_claim *cl;
    struct buf b;
    char *list;

    assert_true(other > 0);
    assert_int_equal(store_team_add(f->st, f->acc, "bob@example.org", 1), 1);
    assert_int_equal(store_team_add(f->st, f->acc, "bob@example.org", 2), 0);
    assert_int_equal(store_team_add(f->st, f->acc, "amy@example.org", 3), 1);
    /* a JID answers for one number: not in a second team */
    assert_int_equal(store_team_add(f->st, other, "bob@example.org", 4), -2);
    assert_int_equal(store_team_account_of(f->st, "bob@example.org"), f->acc);
    assert_int_equal(store_team_account_of(f->st, "zed@example.org"), 0);
    assert_int_equal(store_team_count(f->st, f->acc), 2);
    assert_int_equal(store_team_count(f->st, other), 0);
    buf_init(&b, 1024);
    assert_int_equal(store_team_foreach(f->st, f->acc, test_team_collect, &b),
                     0);
    list = buf_take(&b);
    assert_string_equal(list, "amy@example.org,bob@example.org,");
    free(list);
    /* claims: set, replaced, touched, counted; gone with their holder */
    c1 = store_contact_ensure(f->st, f->acc, "4915100000001", "+4915100000001",
                              NULL, &created);
    c2 = store_contact_ensure(f->st, f->acc, "4915100000002", "+4915100000002",
                              NULL, &created);
    assert_null(store_claim_get(f->st, c1));
    assert_int_equal(store_claim_set(f->st, f->acc, c1, "amy@example.org", 10),
                     0);
    assert_int_equal(store_claim_set(f->st, f->acc, c1, "bob@example.org", 20),
                     0);
    assert_int_equal(store_claim_set(f->st, f->acc, c2, "bob@example.org", 30),
                     0);
    assert_int_equal(store_claim_touch(f->st, c1, 25), 0);
    cl = store_claim_get(f->st, c1);
    assert_non_null(cl);
    assert_string_equal(cl->holder, "bob@example.org");
    assert_int_equal(cl->since, 20);
    assert_int_equal(cl->active, 25);
    assert_int_equal(cl->account_id, f->acc);
    store_claim_free(cl);
    assert_int_equal(store_claim_count(f->st, f->acc, "bob@example.org"), 2);
    assert_int_equal(store_claim_count(f->st, f->acc, "amy@example.org"), 0);
    assert_int_equal(store_team_remove(f->st, f->acc, "bob@example.org"), 1);
    assert_int_equal(store_team_remove(f->st, f->acc, "bob@example.org"), 0);
    assert_null(store_claim_get(f->st, c1));
    assert_null(store_claim_get(f->st, c2));
    assert_int_equal(store_claim_set(f->st, f->acc, c1, "amy@example.org", 40),
                     0);
    assert_int_equal(store_claim_drop(f->st, c1), 0);
    assert_null(store_claim_get(f->st, c1));
    /* now free to join the other team; the account's deletion cascades */
    assert_int_equal(store_team_add(f->st, other, "bob@example.org", 5), 1);
    assert_int_equal(store_claim_set(f->st, f->acc, c2, "amy@example.org", 50),
                     0);
    assert_int_equal(store_account_delete(f->st, f->acc), 0);
    assert_int_equal(store_team_account_of(f->st, "amy@example.org"), 0);
    assert_null(store_claim_get(f->st, c2));
    assert_int_equal(store_team_account_of(f->st, "bob@example.org"), other);
}

/* Keeps a message of contact c at ms from dir (sender for 'o'); its id. */
static long long test_history_add(struct fixture *f, long long c, char dir,
                                  const char *body, long long ms)
{
    struct store_history h = {.contact_id = c,
                              .direction = dir,
                              .sender =
                                  dir == 'o' ? (char *)"bob@example.org" : NULL,
                              .body = (char *)body,
                              .stanza_id = (char *)"sid",
                              .created_ms = ms};

    return store_history_add(f->st, f->acc, &h);
}

/* The ids of a page, in order, and its "more" flag. */
static void test_history_page(struct fixture *f,
                              const struct store_history_query *q,
                              long long *ids, size_t *n, int *more)
{
    struct store_history **rows;
    size_t i;

    assert_int_equal(store_history_page(f->st, q, &rows, n, more), 0);
    for (i = 0; i < *n; i++) {
        ids[i] = rows[i]->id;
        store_history_free(rows[i]);
    }
    free(rows);
}

/* History: pages forward and backward with their "more" flag, time
 * bounds, counts, the network id filled in later, and the expiry of
 * [team] history_days by a given "now". */
static void test_history(void **state)
{
    struct fixture *f = *state;
    struct store_history_query q = {0};
    struct store_history **rows;
    long long ids[25], got[32], c, other;
    size_t n, i;
    int created, more;
    char body[16];

    c = store_contact_ensure(f->st, f->acc, "4915100000001", "+4915100000001",
                             NULL, &created);
    other = store_contact_ensure(f->st, f->acc, "4915100000002",
                                 "+4915100000002", NULL, &created);
    for (i = 0; i < 25; i++) {
        snprintf(body, sizeof(body), "m%zu", i);
        ids[i] = test_history_add(f, c, i % 2 ? 'o' : 'i', body,
                                  1000 * (long long)(i + 1));
        assert_true(ids[i] > 0);
    }
    assert_true(test_history_add(f, other, 'i', "elsewhere", 500) > 0);
    q.contact_id = c;
    q.max = 10;
    assert_int_equal(store_history_count(f->st, &q), 25);
    /* forward: 10, 10, 5 */
    test_history_page(f, &q, got, &n, &more);
    assert_int_equal(n, 10);
    assert_int_equal(more, 1);
    assert_int_equal(got[0], ids[0]);
    assert_int_equal(got[9], ids[9]);
    q.after = got[9];
    test_history_page(f, &q, got, &n, &more);
    assert_int_equal(n, 10);
    assert_int_equal(got[0], ids[10]);
    q.after = got[9];
    test_history_page(f, &q, got, &n, &more);
    assert_int_equal(n, 5);
    assert_int_equal(more, 0);
    assert_int_equal(got[4], ids[24]);
    /* backward: the last 10, oldest first, then the 10 before them */
    q.after = 0;
    q.last = 1;
    test_history_page(f, &q, got, &n, &more);
    assert_int_equal(n, 10);
    assert_int_equal(more, 1);
    assert_int_equal(got[0], ids[15]);
    assert_int_equal(got[9], ids[24]);
    q.before = ids[5];
    test_history_page(f, &q, got, &n, &more);
    assert_int_equal(n, 5);
    assert_int_equal(more, 0);
    assert_int_equal(got[0], ids[0]);
    /* time bounds (inclusive): messages 5..9 */
    q.before = 0;
    q.last = 0;
    q.start_ms = 5000;
    q.end_ms = 9000;
    assert_int_equal(store_history_count(f->st, &q), 5);
    test_history_page(f, &q, got, &n, &more);
    assert_int_equal(n, 5);
    assert_int_equal(more, 0);
    assert_int_equal(got[0], ids[4]);
    /* the row as read, and its network id filled in once */
    q.start_ms = q.end_ms = 2000;
    assert_int_equal(
        store_history_sent(f->st, f->acc,
                           test_message(f, f->acc, c, 'o', "sid", NULL),
                           "wamid.X"),
        0);
    assert_int_equal(store_history_page(f->st, &q, &rows, &n, &more), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0]->direction, 'o');
    assert_string_equal(rows[0]->sender, "bob@example.org");
    assert_string_equal(rows[0]->body, "m1");
    assert_string_equal(rows[0]->network_id, "wamid.X");
    assert_int_equal(rows[0]->created_ms, 2000);
    store_history_free(rows[0]);
    free(rows);
    assert_int_equal(store_history_has(f->st, c, ids[3]), 1);
    assert_int_equal(store_history_has(f->st, other, ids[3]), 0);
    /* the contacts with history, the latest written first */
    assert_int_equal(store_history_contacts(f->st, f->acc, got, 5), 2);
    assert_int_equal(got[0], other);
    assert_int_equal(got[1], c);
    assert_int_equal(store_history_contacts(f->st, f->acc, got, 1), 1);
    /* expiry: "now" is 20.5 s, kept 10 s: messages before 10.5 s go */
    assert_int_equal(store_history_expire(f->st, 20500 - 10000), 11);
    q.start_ms = q.end_ms = 0;
    assert_int_equal(store_history_count(f->st, &q), 15);
    assert_int_equal(store_history_has(f->st, c, ids[9]), 0);
    assert_int_equal(store_history_expire(f->st, 20500 - 10000), 0);
    /* gone with the contact's account */
    assert_int_equal(store_account_delete(f->st, f->acc), 0);
    assert_int_equal(store_history_count(f->st, &q), 0);
}

/* Rooms are per account; members are replaced as a whole, keep their
 * order and the push names learnt meanwhile; a refresh forgets the groups
 * the account left; deleting the account deletes its rooms. */
static int test_avatar_due_fn(long long contact_id, long long account_id,
                              const char *network_id, void *arg)
{
    struct ids *ids = arg;

    (void)account_id;
    (void)network_id;
    ids->v[ids->n++] = contact_id;
    return 0;
}

/* Pictures: kept once by hash, per contact, dropped when nobody shows them,
 * and the contacts of active accounts of a back end that are due. */
static void test_avatars(void **state)
{
    struct fixture *f = *state;
    long long bob = store_account_upsert(f->st, "bob@example.org", "waha",
                                         "s-bob", "", "+49 2");
    long long c1 = test_contact(f, bob, "4911"),
              c2 = test_contact(f, bob, "4912");
    long long c3 = test_contact(f, f->acc, "4913");
    char hash[STORE_AVATAR_HASH], *mime;
    unsigned char *data;
    struct ids ids = {{0}, 0, 0};
    size_t len;

    assert_int_equal(store_avatar_hash(f->st, STORE_AVATAR_CONTACT, c1, hash),
                     0);
    assert_int_equal(store_avatar_checked(f->st, STORE_AVATAR_CONTACT, c1), 0);
    assert_int_equal(
        store_avatar_get(f->st, STORE_AVATAR_CONTACT, c1, &mime, &data, &len),
        0);
    assert_int_equal(store_avatar_set(f->st, STORE_AVATAR_CONTACT, c1, "aa",
                                      "image/png", "PNG1", 4, 100),
                     1);
    assert_int_equal(store_avatar_set(f->st, STORE_AVATAR_CONTACT, c2, "aa",
                                      "image/png", NULL, 0, 100),
                     1);
    assert_int_equal(store_avatar_set(f->st, STORE_AVATAR_CONTACT, c1, "aa",
                                      "image/png", NULL, 0, 200),
                     0); /* the same picture */
    assert_int_equal(store_avatar_checked(f->st, STORE_AVATAR_CONTACT, c1),
                     200);
    assert_int_equal(store_avatar_hash(f->st, STORE_AVATAR_CONTACT, c2, hash),
                     1);
    assert_string_equal(hash, "aa");
    assert_int_equal(
        store_avatar_get(f->st, STORE_AVATAR_CONTACT, c2, &mime, &data, &len),
        1);
    assert_string_equal(mime, "image/png");
    assert_int_equal(len, 4);
    assert_memory_equal(data, "PNG1", 4);
    free(mime);
    free(data);
    /* c1 has none now; c2 still shows "aa", so it stays */
    assert_int_equal(store_avatar_set(f->st, STORE_AVATAR_CONTACT, c1, "", NULL,
                                      NULL, 0, 300),
                     1);
    assert_int_equal(store_avatar_hash(f->st, STORE_AVATAR_CONTACT, c1, hash),
                     1);
    assert_string_equal(hash, "");
    assert_int_equal(test_query(f, "SELECT count(*) FROM avatar"), 1);
    assert_int_equal(store_avatar_set(f->st, STORE_AVATAR_CONTACT, c2, "bb",
                                      "image/jpeg", "J", 1, 300),
                     1);
    assert_int_equal(test_query(f, "SELECT count(*) FROM avatar"), 1);
    assert_int_equal(
        test_query(f, "SELECT count(*) FROM avatar WHERE hash = 'bb'"), 1);
    /* a room shows "bb" too: it stays when c2 changes again, and goes
     * when the room does not show it either */
    long long room = store_room_put(f->st, bob, "120363@g.us", "Hiking");
    struct ids rooms = {{0}, 0, 0};

    assert_true(room > 0);
    assert_int_equal(store_avatar_due(f->st, STORE_AVATAR_ROOM, "waha", 1000, 8,
                                      test_avatar_due_fn, &rooms),
                     1);
    assert_int_equal(rooms.v[0], room);
    assert_int_equal(store_avatar_set(f->st, STORE_AVATAR_ROOM, room, "bb",
                                      NULL, NULL, 0, 300),
                     1);
    assert_int_equal(store_avatar_set(f->st, STORE_AVATAR_CONTACT, c2, "cc",
                                      "image/png", "C", 1, 300),
                     1);
    assert_int_equal(
        test_query(f, "SELECT count(*) FROM avatar WHERE hash = 'bb'"), 1);
    assert_int_equal(
        store_avatar_get(f->st, STORE_AVATAR_ROOM, room, &mime, &data, &len),
        1);
    assert_memory_equal(data, "J", 1);
    free(mime);
    free(data);
    assert_int_equal(store_avatar_set(f->st, STORE_AVATAR_ROOM, room, "", NULL,
                                      NULL, 0, 400),
                     1);
    assert_int_equal(
        test_query(f, "SELECT count(*) FROM avatar WHERE hash = 'bb'"), 0);
    rooms.n = 0;
    assert_int_equal(store_avatar_due(f->st, STORE_AVATAR_ROOM, "waha", 400, 8,
                                      test_avatar_due_fn, &rooms),
                     0);
    store_avatar_set(f->st, STORE_AVATAR_CONTACT, c2, "bb", NULL, NULL, 0, 300);
    /* due: roster contacts of active waha accounts, stalest first */
    store_contact_set_subscription(f->st, c1, "both");
    store_contact_set_subscription(f->st, c2, "both");
    store_contact_set_subscription(f->st, c3, "both");
    store_avatar_set(f->st, STORE_AVATAR_CONTACT, c2, "bb", NULL, NULL, 0, 250);
    assert_int_equal(store_avatar_due(f->st, STORE_AVATAR_CONTACT, "waha", 1000,
                                      8, test_avatar_due_fn, &ids),
                     2);
    assert_int_equal(ids.v[0], c2);
    assert_int_equal(ids.v[1], c1);
    ids.n = 0;
    assert_int_equal(store_avatar_due(f->st, STORE_AVATAR_CONTACT, "waha", 260,
                                      8, test_avatar_due_fn, &ids),
                     1);
    assert_int_equal(ids.v[0], c2);
    store_account_set_state(f->st, bob, "auth_failed", "x");
    assert_int_equal(store_avatar_due(f->st, STORE_AVATAR_CONTACT, "waha", 1000,
                                      8, test_avatar_due_fn, &ids),
                     0);
    /* a contact that goes takes its row along */
    assert_int_equal(store_account_delete(f->st, bob), 0);
    assert_int_equal(test_query(f, "SELECT count(*) FROM contact_avatar"), 0);
}

static void test_rooms(void **state)
{
    struct fixture *f = *state;
    long long bob = store_account_upsert(f->st, "bob@example.org", "waha",
                                         "s-bob", "", "+49 2");
    struct store_member_in m[] = {
        {.participant = "201@lid",
         .lid = "201",
         .phone = "4915",
         .role = "owner"},
        {.participant = "202@lid", .lid = "202", .role = "admin", .self = 1},
        {.participant = "4917@c.us", .phone = "4917", .role = "member"},
    };
    struct store_member **rows;
    struct store_room **rooms, *r;
    const char *keep[] = {"g2"};
    size_t n, i;
    long long room, room_b;

    room = store_room_put(f->st, f->acc, "g1", "Family");
    assert_true(room > 0);
    assert_int_equal(store_room_put(f->st, f->acc, "g1", "Family 2"), room);
    room_b = store_room_put(f->st, bob, "g1", "Family");
    assert_true(room_b > 0 && room_b != room);
    assert_true(store_room_put(f->st, f->acc, "g2", NULL) > 0);
    r = store_room_get(f->st, f->acc, "g1");
    assert_non_null(r);
    assert_string_equal(r->subject, "Family 2");
    store_room_free(r);
    assert_null(store_room_get(f->st, f->acc, "g3"));

    assert_int_equal(store_room_members_set(f->st, room, m, 3), 0);
    assert_int_equal(store_room_member_name(f->st, room, "4915", "Ana"), 0);
    assert_int_equal(store_room_members_set(f->st, room, m, 2), 0);
    assert_int_equal(store_room_members(f->st, room, 10, &rows, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0]->participant, "201@lid");
    assert_string_equal(rows[0]->push_name, "Ana");
    assert_string_equal(rows[0]->role, "owner");
    assert_string_equal(rows[1]->participant, "202@lid");
    assert_null(rows[1]->phone);
    assert_null(rows[1]->push_name);
    assert_int_equal(rows[0]->self, 0);
    assert_int_equal(rows[1]->self, 1);
    for (i = 0; i < n; i++)
        store_member_free(rows[i]);
    free(rows);

    assert_int_equal(store_room_list(f->st, f->acc, 10, &rooms, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(rooms[0]->subject, "");
    assert_string_equal(rooms[1]->group_id, "g1");
    for (i = 0; i < n; i++)
        store_room_free(rooms[i]);
    free(rooms);

    /* messages: once each, the pending ones in order until delivered */
    {
        struct store_room_message **msgs;
        long long m1 =
            store_room_message_add(f->st, room, "w1", "201@lid", "hi", 100, 1);

        assert_true(m1 > 0);
        assert_int_equal(
            store_room_message_add(f->st, room, "w1", "201@lid", "hi", 100, 1),
            0);
        assert_true(store_room_message_add(f->st, room, "w2", "202@lid", "yo",
                                           101, 0) > m1);
        assert_true(store_room_message_add(f->st, room, "w3", "202@lid", "ho",
                                           102, 1) > m1);
        assert_int_equal(store_room_pending(f->st, room, 10, &msgs, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(msgs[0]->network_id, "w1");
        assert_string_equal(msgs[0]->author, "201@lid");
        assert_int_equal(msgs[0]->stamp, 100);
        assert_string_equal(msgs[1]->body, "ho");
        assert_int_equal(store_room_pending_clear(f->st, room, m1), 0);
        for (i = 0; i < n; i++)
            store_room_message_free(msgs[i]);
        free(msgs);
        assert_int_equal(store_room_pending(f->st, room, 10, &msgs, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(msgs[0]->network_id, "w3");
        assert_string_equal(msgs[0]->kind, "text");
        assert_string_equal(msgs[0]->key, "w3");
        store_room_message_free(msgs[0]);
        free(msgs);
    }

    /* actions: kept with their kind and target; texts found by key */
    {
        struct store_room_message_in in = {.network_id =
                                               "false_g1@g.us_K9_1@lid",
                                           .key = "K9",
                                           .author = "1@lid",
                                           .body = "hi",
                                           .stamp = 200,
                                           .kind = "text",
                                           .xmpp_id = "x1",
                                           .origin_id = "o1"};
        struct store_room_message *t;

        assert_true(store_room_message_put(f->st, room, &in, 0) > 0);
        in.network_id = "false_g1@g.us_R1_2@lid";
        in.key = "R1";
        in.kind = "reaction";
        in.body = "+1";
        in.target = "false_g1@g.us_K9_1@lid";
        assert_true(store_room_message_put(f->st, room, &in, 0) > 0);
        t = store_room_message_find(f->st, room, "K9");
        assert_non_null(t);
        assert_string_equal(t->network_id, "false_g1@g.us_K9_1@lid");
        assert_string_equal(t->xmpp_id, "x1");
        assert_string_equal(t->origin_id, "o1");
        assert_null(t->target);
        assert_null(t->url);
        store_room_message_free(t);
        assert_null(store_room_message_find(f->st, room, "R1")); /* no text */
        assert_null(store_room_message_find(f->st, room, "K8"));
    }

    /* the latest rows since a time, newest first; expiry by time */
    {
        struct store_room_message **msgs;

        assert_int_equal(store_room_recent(f->st, room, 101, 2, &msgs, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(msgs[0]->network_id, "false_g1@g.us_R1_2@lid");
        assert_string_equal(msgs[0]->kind, "reaction");
        assert_string_equal(msgs[0]->target, "false_g1@g.us_K9_1@lid");
        assert_string_equal(msgs[1]->network_id, "false_g1@g.us_K9_1@lid");
        for (i = 0; i < n; i++)
            store_room_message_free(msgs[i]);
        free(msgs);
        assert_int_equal(store_room_recent(f->st, room, 102, 10, &msgs, &n), 0);
        assert_int_equal(n, 3); /* w3 (102) and the two of 200 */
        for (i = 0; i < n; i++)
            store_room_message_free(msgs[i]);
        free(msgs);
        assert_int_equal(store_room_expire(f->st, 102), 2); /* w1, w2 */
        assert_int_equal(store_room_recent(f->st, room, 0, 10, &msgs, &n), 0);
        assert_int_equal(n, 3);
        for (i = 0; i < n; i++)
            store_room_message_free(msgs[i]);
        free(msgs);
    }

    /* a file: kept with its URL, found by key as a text */
    {
        struct store_room_message_in in = {.network_id = "true_g1@g.us_F1",
                                           .key = "F1",
                                           .author = "self",
                                           .body = "https://up.example/a.jpg",
                                           .stamp = 50,
                                           .kind = "text",
                                           .url = "https://up.example/a.jpg"};
        struct store_room_message *t;

        assert_true(store_room_message_put(f->st, room, &in, 0) > 0);
        t = store_room_message_find(f->st, room, "F1");
        assert_non_null(t);
        assert_string_equal(t->url, "https://up.example/a.jpg");
        store_room_message_free(t);
    }

    assert_int_equal(store_room_keep(f->st, f->acc, keep, 1), 0);
    assert_null(store_room_get(f->st, f->acc, "g1"));
    assert_int_equal(store_room_members(f->st, room, 10, &rows, &n), 0);
    assert_int_equal(n, 0);
    free(rows);
    r = store_room_get(f->st, bob, "g1");
    assert_non_null(r);
    store_room_free(r);
    assert_int_equal(store_account_delete(f->st, bob), 0);
    assert_null(store_room_get(f->st, bob, "g1"));
}

/* Members known by a lid alone get a number; the mention notice once per
 * silent period (schema 17). */
static void test_room_people(void **state)
{
    struct fixture *f = *state;
    long long bob = store_account_upsert(f->st, "bob@example.org", "waha",
                                         "s-bob", "", "+49 2");
    struct store_member_in m[] = {
        {.participant = "201@lid", .lid = "201", .role = "owner"},
        {.participant = "202@lid", .lid = "202", .phone = "4916"},
    };
    long long room = store_room_put(f->st, f->acc, "g1", "Family");
    long long other = store_room_put(f->st, bob, "g1", "Family");
    long long *ids;
    size_t n;

    assert_int_equal(store_room_members_set(f->st, room, m, 2), 0);
    assert_int_equal(store_room_members_set(f->st, other, m, 2), 0);
    /* the account's rooms only, and only while the number is unknown */
    assert_int_equal(store_room_lid_rooms(f->st, f->acc, "201", 10, &ids, &n),
                     0);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], room);
    free(ids);
    assert_int_equal(store_room_lid_rooms(f->st, f->acc, "202", 10, &ids, &n),
                     0);
    assert_int_equal(n, 0);
    free(ids);
    assert_int_equal(store_room_member_phone(f->st, room, "201", "4915"), 0);
    assert_int_equal(store_room_member_phone(f->st, room, "202", "4999"), 0);
    assert_int_equal(
        test_query(f, "SELECT count(*) FROM room_member WHERE phone = '4915'"),
        1);
    assert_int_equal(
        test_query(f, "SELECT count(*) FROM room_member WHERE phone = '4916'"),
        2);
    assert_int_equal(store_room_lid_rooms(f->st, f->acc, "201", 10, &ids, &n),
                     0);
    assert_int_equal(n, 0);
    free(ids);
    /* one notice until the next join */
    assert_int_equal(store_room_notice_take(f->st, room), 1);
    assert_int_equal(store_room_notice_take(f->st, room), 0);
    assert_int_equal(store_room_notice_take(f->st, other), 1);
    assert_int_equal(store_room_notice_reset(f->st, room), 0);
    assert_int_equal(store_room_notice_take(f->st, room), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrate_fresh, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_migrate_4_to_5, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_migrate_newer_refused, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_foreign_keys, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_account_upsert, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_account_business, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_contact_wait, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_account_delete, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_contact_ensure, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_contact_renumber, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_contact_lid_relink_and_merge,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_contact_alias, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_message_map, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_message_status, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_outbox_heads, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_outbox_heads_of, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_outbox_retry_delay, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_inbox_queue, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_inbox_bounce, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_inbox_bounce_recipient, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_seen, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_early_status, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_stats, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_outbox_failed, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_txn_turn, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_txn_turn_failed, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_txn_parts, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_txn_failed_rolls_back, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_max_pages_knob, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_inbox_no_scans, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_inbox_slots, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_history, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_team_members, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_rooms, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_room_people, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_avatars, test_setup,
                                        test_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
