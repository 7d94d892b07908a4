/* SPDX-License-Identifier: MIT */
/* The WAL checkpointer: a thread with its own connection copies the WAL into
 * the database (with its fdatasync calls) while the loop goes on committing,
 * so no request waits for a checkpoint. The loop's commits wake it through
 * SQLite's WAL hook; it never touches the loop's connection. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store_checkpoint.h"
#include "util.h"

#define STORE_CKPT_BUSY_MS 2000 /* a RESTART waits this long for readers */
/* KiB of page cache: a checkpoint reads no b-tree */
#define STORE_CKPT_CACHE "PRAGMA cache_size = -64"

struct store_ckpt {
    sqlite3 *main; /* the loop's connection (its WAL hook is the store's) */
    sqlite3 *db;   /* the checkpointer's own */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    int pending, stop;             /* under mu */
    long long started;             /* rounds begun, under mu */
    struct store_ckpt_stats stats; /* under mu */
    int kick_at, seen;             /* WAL frames: the loop's alone */
};

long long store_busy_delay_us(int count)
{
    return count >= 5 ? STORE_BUSY_MAX_US
                      : (long long)STORE_BUSY_FIRST_US << count;
}

long long store_busy_waited_us(int count)
{
    /* 50 + 100 + 200 + 400 + 800 = 1550 for the first five */
    return count <= 5 ? STORE_BUSY_FIRST_US * ((1LL << count) - 1)
                      : STORE_BUSY_FIRST_US * 31LL +
                            (long long)(count - 5) * STORE_BUSY_MAX_US;
}

/* SQLite's busy handler: 0 gives up (the statement fails SQLITE_BUSY). */
static int store_busy_wait(void *arg, int count)
{
    long long timeout_us = (long long)(intptr_t)arg * 1000;
    long long us = store_busy_delay_us(count);
    struct timespec ts;

    if (store_busy_waited_us(count) >= timeout_us)
        return 0;
    ts.tv_sec = 0;
    ts.tv_nsec = us * 1000;
    nanosleep(&ts, NULL);
    return 1;
}

void store_busy_set(sqlite3 *db, int timeout_ms)
{
    sqlite3_busy_handler(db, store_busy_wait, (void *)(intptr_t)timeout_ms);
}

/* One passive checkpoint; a RESTART one too when the WAL is past its bound.
 * Returns the frames in the WAL, -1 when the connection has no WAL open. */
static int store_ckpt_round(struct store_ckpt *c, int *copied, int *restart)
{
    int log = -1, done = -1;
    int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                       &log, &done);

    *restart = 0;
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        log_warn("store: checkpoint: %s", sqlite3_errmsg(c->db));
    *copied = done > 0 ? done : 0;
    if (log >= STORE_CKPT_RESTART_FRAMES) {
        *restart = 1;
        rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_RESTART,
                                       NULL, &done);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            log_warn("store: checkpoint: %s", sqlite3_errmsg(c->db));
        if (done > *copied)
            *copied = done;
    }
    return log;
}

static void store_ckpt_count(struct store_ckpt *c, int log, int copied,
                             int restart)
{
    c->stats.rounds++;
    c->stats.restarts += restart;
    c->stats.backfilled = copied;
    if (log > c->stats.max_log)
        c->stats.max_log = log;
}

static void *store_ckpt_main(void *arg)
{
    struct store_ckpt *c = arg;
    int log, copied, restart;

    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->pending && !c->stop)
            pthread_cond_wait(&c->wake, &c->mu);
        if (c->stop)
            break;
        c->pending = 0;
        c->started++;
        pthread_mutex_unlock(&c->mu);
        log = store_ckpt_round(c, &copied, &restart);
        pthread_mutex_lock(&c->mu);
        store_ckpt_count(c, log, copied, restart);
        pthread_cond_broadcast(&c->done);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* One round per STORE_CKPT_FRAMES frames written: once the WAL is that
 * long, a kick per commit made the thread run round after round, each
 * with its two fsyncs for the few pages of one commit (a round per six
 * webhooks in a flood, docs/performance.md). */
void store_ckpt_frames(struct store_ckpt *c, int frames)
{
    if (frames < c->seen || c->kick_at == 0) /* the WAL started over */
        c->kick_at = STORE_CKPT_FRAMES;
    c->seen = frames;
    if (frames >= c->kick_at) {
        c->kick_at = frames + STORE_CKPT_FRAMES;
        store_ckpt_kick(c);
    }
}

void store_ckpt_kick(struct store_ckpt *c)
{
    pthread_mutex_lock(&c->mu);
    if (!c->pending) {
        c->pending = 1;
        pthread_cond_signal(&c->wake);
    }
    pthread_mutex_unlock(&c->mu);
}

void store_ckpt_sync(struct store_ckpt *c)
{
    long long want;

    pthread_mutex_lock(&c->mu);
    /* the next round to begin: one under way may have begun before the
     * caller's writes */
    want = c->started + 1;
    c->pending = 1;
    pthread_cond_signal(&c->wake);
    while (c->stats.rounds < want && !c->stop)
        pthread_cond_wait(&c->done, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

void store_ckpt_stats(struct store_ckpt *c, struct store_ckpt_stats *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->stats;
    pthread_mutex_unlock(&c->mu);
}

/* Opens the checkpointer's connection and makes it open the WAL: a
 * connection that has read nothing yet has no WAL, and SQLite then
 * "checkpoints" nothing and reports success (the first version of this
 * thread never checkpointed: docs/performance.md). 0 or -1 (logged). */
static int store_ckpt_open(struct store_ckpt *c, const char *path)
{
    int log = -1;

    if (sqlite3_open_v2(path, &c->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        goto fail;
    store_busy_set(c->db, STORE_CKPT_BUSY_MS);
    /* synchronous stays FULL (the default): a checkpoint fsyncs the WAL
     * before it overwrites the database, whatever the loop's setting. The
     * read opens the WAL (so would any statement that reads the schema,
     * the pragma included). */
    if (sqlite3_exec(c->db, STORE_CKPT_CACHE, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_schema", NULL, NULL,
                     NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log,
                                  NULL) != SQLITE_OK ||
        log < 0) {
        log_error("store: the checkpointer's connection has no WAL open");
        return -1;
    }
    return 0;
fail:
    log_error("store: checkpointer: %s",
              c->db ? sqlite3_errmsg(c->db) : "out of memory");
    return -1;
}

struct store_ckpt *store_ckpt_start(sqlite3 *db, const char *path)
{
    struct store_ckpt *c = xcalloc(1, sizeof(*c));

    c->main = db;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->wake, NULL);
    pthread_cond_init(&c->done, NULL);
    if (store_ckpt_open(c, path) < 0 ||
        pthread_create(&c->thread, NULL, store_ckpt_main, c) != 0) {
        sqlite3_close(c->db);
        c->db = NULL;
        log_warn("store: checkpoints run on the loop");
        store_ckpt_stop(c);
        return NULL;
    }
    return c;
}

void store_ckpt_stop(struct store_ckpt *c)
{
    if (c == NULL)
        return;
    if (c->db != NULL) {
        pthread_mutex_lock(&c->mu);
        c->stop = 1;
        pthread_cond_broadcast(&c->wake);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->thread, NULL);
        sqlite3_close(c->db);
    }
    pthread_cond_destroy(&c->wake);
    pthread_cond_destroy(&c->done);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
