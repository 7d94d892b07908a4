/* SPDX-License-Identifier: MIT */
/* The SQLite handle and row helpers shared by the store's files (store.c
 * defines them; the rows are in store_<table>.c). Not for the rest of
 * ferry, which goes through include/store.h; the unit tests use it. */
#ifndef FERRY_STORE_INT_H
#define FERRY_STORE_INT_H

#include <stddef.h>

#include <sqlite3.h>

struct store;

/* Builds one row struct from the current row of a statement. */
typedef void *(*store_read_fn)(sqlite3_stmt *s);

sqlite3 *store_db(struct store *st);
/* Brings the database to this ferry's schema (store_schema.c); 0, or -1
 * (logged) when a migration failed or the database is newer. */
int store_migrate(struct store *st);
/* Runs SQL without results; 0 or -1 (logged). */
int store_exec(struct store *st, const char *sql);
/* A cached prepared statement for sql (reset and cleared on each call). */
sqlite3_stmt *store_stmt(struct store *st, const char *sql);
/* Rows the cached statements stepped through in full-table scans since the
 * last call (SQLITE_STMTSTATUS_FULLSCAN_STEP, reset by the call): a
 * per-message path should add none (test_store.c checks it). */
long long store_full_scan_steps(struct store *st);

/* The queue's tables whose new rows wait for their commit's sync. */
enum store_fresh_table {
    STORE_FRESH_OUTBOX,
    STORE_FRESH_INBOX,
    STORE_FRESH_TABLES
};
/* The last statement inserted rows into t (ids last_insert_rowid - changes
 * + 1 up to it): none of them is sent before the commit holding them is
 * synced. Nothing without the WAL syncer. */
void store_fresh_rows(struct store *st, enum store_fresh_table t);
/* The lowest id of t not yet durable (inserted by the open transaction or
 * by a commit not yet synced): every row at or past it waits; 0 when all
 * are durable. */
long long store_fresh_min(struct store *st, enum store_fresh_table t);
/* store_insert() of a row of t, noted by store_fresh_rows(). */
long long store_insert_fresh(struct store *st, sqlite3_stmt *s,
                             enum store_fresh_table t);

/* Logs the database's last error with the statement it came from. */
void store_log_stmt(struct store *st, sqlite3_stmt *s);
/* A copy of text column i; NULL when the column is NULL. */
char *store_col_text(sqlite3_stmt *s, int i);
void store_bind_text(sqlite3_stmt *s, int i, const char *v);
/* Binds a row id, or NULL when id is 0 ("none"). */
void store_bind_id(sqlite3_stmt *s, int i, long long id);
/* Steps a statement that returns no rows; 0 or -1 (logged). s may be NULL
 * (store_stmt() failed): -1. */
int store_run(struct store *st, sqlite3_stmt *s);
/* store_run() of the cached statement sql with ?1 bound to v. */
int store_run_ll(struct store *st, const char *sql, long long v);
/* Runs an INSERT; the new row's id, or -1 (logged). */
long long store_insert(struct store *st, sqlite3_stmt *s);
/* The integer in the first column of the first row (NULL reads as 0);
 * none when there is no row, -1 on error (logged). */
long long store_int(struct store *st, sqlite3_stmt *s, long long none);
/* The first row built by read; NULL when none or on error (logged). */
void *store_one(struct store *st, sqlite3_stmt *s, store_read_fn read);
/* Reads up to max rows into a new array *rows (the caller frees it and each
 * row, even on error), so that callbacks run with no statement pending. */
int store_all(struct store *st, sqlite3_stmt *s, store_read_fn read, size_t max,
              void ***rows, size_t *n);

#endif
