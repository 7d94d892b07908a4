/* SPDX-License-Identifier: MIT */
/* The WAL checkpointer: a thread with its own SQLite connection that
 * copies the WAL into the database, off the loop (store_checkpoint.c).
 * For store.c and its tests only. */
#ifndef FERRY_STORE_CHECKPOINT_H
#define FERRY_STORE_CHECKPOINT_H

#include <sqlite3.h>

/* Every this many WAL frames (pages) written, a commit wakes the
 * checkpointer. */
#define STORE_CKPT_FRAMES 1000
/* Past this many after a passive checkpoint, the checkpointer makes the
 * next commit start the WAL over (a RESTART checkpoint: it holds the
 * writers back for as long as it takes), so the WAL stays bounded under
 * sustained load: 4096 frames of 4 KiB pages is 16 MiB, the size
 * journal_size_limit keeps (64 MiB let a webhook flood's WAL reach 139 MiB:
 * docs/performance.md). */
#define STORE_CKPT_RESTART_FRAMES 4096

/* How the store's two connections wait for each other's locks: a sleep of
 * STORE_BUSY_FIRST_US, doubling up to STORE_BUSY_MAX_US, until the
 * connection's timeout has passed in all. SQLite's sqlite3_busy_timeout()
 * sleeps 1, 2, 5, 10 ms... between tries: the loop's commit held back by
 * a RESTART checkpoint slept on past the moment the lock came free (1-8 ms
 * in a webhook's path), and the checkpointer, waiting that way for the
 * loop's last reader, kept every writer out meanwhile
 * (docs/performance.md, "The tail"). */
#define STORE_BUSY_FIRST_US 50
#define STORE_BUSY_MAX_US 1000

/* The sleep before try count + 1 (count tries failed), in µs. */
long long store_busy_delay_us(int count);
/* What those count sleeps add up to, in µs. */
long long store_busy_waited_us(int count);
/* Sets that way of waiting on db, giving up after timeout_ms in all. */
void store_busy_set(sqlite3 *db, int timeout_ms);

struct store_ckpt;

struct store_ckpt_stats {
    long long rounds;     /* checkpoint rounds done */
    long long restarts;   /* of which RESTART checkpoints */
    long long backfilled; /* the WAL's frames in the database after the
                             last round */
    long long max_log;    /* the most frames seen in the WAL */
};

/* Starts the checkpointer of the database at path, whose connection db
 * (the loop's, in WAL mode) wakes it after commits; db's automatic
 * checkpoints stay off. NULL (logged) when it cannot start. */
struct store_ckpt *store_ckpt_start(sqlite3 *db, const char *path);
/* Asks for a checkpoint soon; never waits. */
void store_ckpt_kick(struct store_ckpt *c);
/* From the store's WAL hook, after each commit of the loop's connection:
 * frames is the WAL's length. A kick per STORE_CKPT_FRAMES of them. */
void store_ckpt_frames(struct store_ckpt *c, int frames);
/* Asks for a checkpoint and waits until one has run after the call; for
 * tests. */
void store_ckpt_sync(struct store_ckpt *c);
void store_ckpt_stats(struct store_ckpt *c, struct store_ckpt_stats *out);
/* Stops the thread and closes its connection; NULL is a no-op. */
void store_ckpt_stop(struct store_ckpt *c);

#endif
