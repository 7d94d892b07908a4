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

/* Starts the syncer on the WAL file at wal_path (which must exist), its
 * answers delivered on the loop (loop_init() ran). NULL when it cannot
 * (logged): the caller then keeps SQLite's own fsync per commit. */
struct store_sync *store_sync_start(const char *wal_path,
                                    store_sync_done_fn done, void *arg);
/* Asks for a sync covering every commit up to generation gen (the commits
 * counted by the caller, written before this call). Any thread-safe cost:
 * a lock and a signal. */
void store_sync_ask(struct store_sync *s, long long gen);
/* How many fdatasync calls the syncer made. */
long long store_sync_count(struct store_sync *s);
/* Stops the thread after one last sync of what was asked, in the caller. */
void store_sync_stop(struct store_sync *s);

#endif
