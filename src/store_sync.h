/* SPDX-License-Identifier: MIT */
/* The WAL syncer (store.synchronous = full): commits write the WAL without
 * waiting for the disk, and a thread makes them durable with one fdatasync
 * of the WAL for every commit written before it began. Internal to the
 * store (store.c). */
#ifndef FERRY_STORE_SYNC_H
#define FERRY_STORE_SYNC_H

/* Called on the loop when every commit up to generation synced is on disk. */
typedef void (*store_sync_done_fn)(long long synced, void *arg);

struct store_sync;

/* The longest a commit waits for the loop to run dry before its sync is
 * asked for anyway (issue 15: "at most 1-2 ms, and only while commits are
 * pending"). */
#define STORE_SYNC_WINDOW_US 1000
/* The longest a lazy commit (nothing waits for it) waits for a sync. */
#define STORE_SYNC_LAZY_MS 10

/* Starts the syncer on the WAL file at wal_path (which must exist), its
 * answers delivered on the loop (loop_init() ran); a commit waits at most
 * window_us for the loop to run dry, a lazy one lazy_ms for a sync. NULL
 * when it cannot (logged): the caller then keeps SQLite's own fsync per
 * commit. */
struct store_sync *store_sync_start(const char *wal_path, long window_us,
                                    int lazy_ms, store_sync_done_fn done,
                                    void *arg);
/* On the loop, after commit generation gen was written (the commits are
 * counted by the caller): a sync covering it and every commit before is
 * asked for once the loop has run all the events that were ready (its
 * lowest priority), or within the window while it stays busy. Lazy (no
 * one waits for it): with the next commit that is not, or after
 * the lazy bound. */
void store_sync_commit(struct store_sync *s, long long gen, int lazy);
/* How many fdatasync calls the syncer made. */
long long store_sync_count(struct store_sync *s);
/* Stops the thread after one last sync of what was asked, in the caller. */
void store_sync_stop(struct store_sync *s);

#endif
