/* SPDX-License-Identifier: MIT */
/* Unit tests of store_checkpoint.c on a temporary database: the thread's
 * checkpoints really copy the WAL into the database (its connection has
 * opened the WAL), the next commit then starts the WAL over, and a WAL past
 * its bound is restarted; and the busy handler both connections use. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_checkpoint.h"
#include "util.h"

#define PAGE 4096

struct fixture {
    char dir[64];
    char path[96];
    char wal[104];
    sqlite3 *db; /* the "loop's" connection */
    struct store_ckpt *c;
};

static void test_exec(sqlite3 *db, const char *sql)
{
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
}

static int test_setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/ferry-ckpt-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/ferry.db", f->dir);
    snprintf(f->wal, sizeof(f->wal), "%s-wal", f->path);
    assert_int_equal(sqlite3_open(f->path, &f->db), SQLITE_OK);
    sqlite3_wal_autocheckpoint(f->db, 0);
    test_exec(f->db, "PRAGMA journal_mode = WAL;"
                     "PRAGMA synchronous = OFF;"
                     "PRAGMA journal_size_limit = 1048576;"
                     "CREATE TABLE t (v BLOB);");
    f->c = store_ckpt_start(f->db, f->path);
    *state = f;
    return 0;
}

static int test_teardown(void **state)
{
    struct fixture *f = *state;
    char *p;

    store_ckpt_stop(f->c);
    sqlite3_close(f->db);
    unlink(f->path);
    unlink(f->wal);
    p = xasprintf("%s-shm", f->path);
    unlink(p);
    free(p);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* n rows of about a page each, in commits of per rows. */
static void test_write(struct fixture *f, int n, int per)
{
    int i;

    for (i = 0; i < n; i += per) {
        char *sql = xasprintf("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL"
                              " SELECT i + 1 FROM r WHERE i < %d)"
                              " INSERT INTO t SELECT randomblob(%d) FROM r",
                              per, PAGE - 100);
        test_exec(f->db, sql);
        free(sql);
    }
}

static long long test_size(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

static long long test_pages(sqlite3 *db)
{
    sqlite3_stmt *s;
    long long n = -1;

    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &s, NULL),
                     SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

/* Fails if the thread's connection never opened the WAL: SQLite then
 * reports every checkpoint a success and copies nothing. */
static void test_checkpoint_copies(void **state)
{
    struct fixture *f = *state;
    struct store_ckpt_stats s;

    assert_non_null(f->c);
    test_write(f, 2000, 100);
    store_ckpt_sync(f->c);
    store_ckpt_stats(f->c, &s);
    assert_true(s.backfilled > 0);
    /* every page of the database is in its file */
    assert_int_equal(test_size(f->path), test_pages(f->db) * PAGE);
}

/* After a checkpoint that copied everything, the next commit writes the
 * WAL from its start and cuts the file to journal_size_limit. */
static void test_wal_restarts(void **state)
{
    struct fixture *f = *state;

    assert_non_null(f->c);
    test_write(f, 2000, 100);
    store_ckpt_sync(f->c);
    test_write(f, 10, 10);
    assert_true(test_size(f->wal) <= 1048576 + 20 * PAGE);
}

/* A WAL past STORE_CKPT_RESTART_FRAMES gets a RESTART checkpoint. */
static void test_restart_past_bound(void **state)
{
    struct fixture *f = *state;
    struct store_ckpt_stats s;

    assert_non_null(f->c);
    test_write(f, STORE_CKPT_RESTART_FRAMES + 500, 500);
    store_ckpt_sync(f->c);
    store_ckpt_stats(f->c, &s);
    assert_true(s.max_log >= STORE_CKPT_RESTART_FRAMES);
    assert_true(s.restarts >= 1);
    test_write(f, 10, 10);
    assert_true(test_size(f->wal) <= 1048576 + 20 * PAGE);
}

/* The store's WAL hook, as store.c has it: the checkpointer sees every
 * commit's WAL length. */
static int test_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    store_ckpt_frames(arg, frames);
    return SQLITE_OK;
}

/* A round per STORE_CKPT_FRAMES frames written, not one per commit once
 * the WAL is that long (each round costs two fsyncs). */
static void test_round_per_frames(void **state)
{
    struct fixture *f = *state;
    struct store_ckpt_stats s;

    assert_non_null(f->c);
    store_busy_set(f->db, 5000); /* as the store has it */
    sqlite3_wal_hook(f->db, test_wal_hook, f->c);
    test_write(f, STORE_CKPT_FRAMES * 3 / 2, 1);
    store_ckpt_sync(f->c);
    store_ckpt_stats(f->c, &s);
    assert_true(s.rounds >= 2);
    /* a commit here writes a few frames: a round at each thousand, and the
     * sync's */
    assert_true(s.rounds <= s.max_log / STORE_CKPT_FRAMES + 2);
    sqlite3_wal_hook(f->db, NULL, NULL);
}

/* The schedule of the store's busy handler: short sleeps first, each
 * one adding up to what the next call counts as waited. */
static void test_busy_schedule(void **state)
{
    int i;

    (void)state;
    assert_int_equal(store_busy_delay_us(0), STORE_BUSY_FIRST_US);
    assert_int_equal(store_busy_delay_us(1), 2 * STORE_BUSY_FIRST_US);
    assert_int_equal(store_busy_delay_us(5), STORE_BUSY_MAX_US);
    assert_int_equal(store_busy_delay_us(1000), STORE_BUSY_MAX_US);
    assert_int_equal(store_busy_waited_us(0), 0);
    for (i = 0; i < 100; i++) {
        assert_true(store_busy_delay_us(i) <= STORE_BUSY_MAX_US);
        assert_int_equal(store_busy_waited_us(i + 1),
                         store_busy_waited_us(i) + store_busy_delay_us(i));
    }
}

struct test_holder {
    sqlite3 *db;
    int hold_ms;
    int rc; /* of its COMMIT (no cmocka assertion off the main thread) */
};

static void *test_hold_then_commit(void *arg)
{
    struct test_holder *h = arg;
    struct timespec ts = {0, h->hold_ms * 1000000L};

    nanosleep(&ts, NULL);
    h->rc = sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL);
    return NULL;
}

/* With the handler, a writer waits for another connection's write lock
 * until it is let go (here 30 ms later), and gives up past its timeout. */
static void test_busy_waits_then_gives_up(void **state)
{
    struct fixture *f = *state;
    struct test_holder h = {NULL, 30, -1};
    pthread_t t;

    assert_int_equal(sqlite3_open(f->path, &h.db), SQLITE_OK);
    store_busy_set(f->db, 5000);
    test_exec(h.db, "BEGIN IMMEDIATE");
    assert_int_equal(pthread_create(&t, NULL, test_hold_then_commit, &h), 0);
    assert_int_equal(sqlite3_exec(f->db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(h.rc, SQLITE_OK);
    test_exec(f->db, "COMMIT");

    test_exec(h.db, "BEGIN IMMEDIATE");
    store_busy_set(f->db, 5); /* 5 ms: the lock is never let go in time */
    assert_int_equal(sqlite3_exec(f->db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                     SQLITE_BUSY);
    test_exec(h.db, "COMMIT");
    sqlite3_close(h.db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_checkpoint_copies, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_wal_restarts, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_restart_past_bound, test_setup,
                                        test_teardown),
        cmocka_unit_test(test_busy_schedule),
        cmocka_unit_test_setup_teardown(test_busy_waits_then_gives_up,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_round_per_frames, test_setup,
                                        test_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
