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

/* The longest a lazy commit (nothing waits for it) waits for a sync. */
#define STORE_SYNC_LAZY_MS 10

/* Starts the syncer on the WAL file at wal_path (which must exist), its
 * answers delivered on the loop (loop_init() ran); a lazy commit waits at
 * most lazy_ms for its sync. NULL when it cannot (logged): the caller then
 * keeps SQLite's own fsync per commit. */
struct store_sync *store_sync_start(const char *wal_path, int lazy_ms,
                                    store_sync_done_fn done, void *arg);
/* On the loop, after commit generation gen was written (the commits are
 * counted by the caller): asks for a sync covering it and every commit
 * before (a lock and a signal). Lazy (nothing waits for it): with the next
 * commit that is not, or lazy_ms after it. */
void store_sync_commit(struct store_sync *s, long long gen, int lazy);
/* How many fdatasync calls the syncer made. */
long long store_sync_count(struct store_sync *s);
/* Stops the thread after one last sync of what was asked, in the caller. */
void store_sync_stop(struct store_sync *s);

#endif
