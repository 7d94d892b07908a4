/* SPDX-License-Identifier: MIT */
/* The SQLite store: opening with the right pragmas, migrations keyed on
 * PRAGMA user_version, transactions and prepared statements. */
#ifndef FERRY_STORE_H
#define FERRY_STORE_H

#include <sqlite3.h>

struct store;

/* Opens (creating with mode 0600) and migrates the database at path.
 * synchronous is "normal" or "full". NULL on failure (logged). */
struct store *store_open(const char *path, const char *synchronous);
void store_close(struct store *st);
/* The schema version this build migrates to. */
int store_schema_version(void);
/* The schema version of the open database. */
int store_user_version(struct store *st);
/* 1 when the database answers a trivial query. */
int store_healthy(struct store *st);
sqlite3 *store_db(struct store *st);

/* Transactions (BEGIN IMMEDIATE / COMMIT / ROLLBACK); 0 or -1. */
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);
/* Runs SQL without results; 0 or -1 (logged). */
int store_exec(struct store *st, const char *sql);
/* A cached prepared statement for sql (reset and cleared on each call). */
sqlite3_stmt *store_stmt(struct store *st, const char *sql);

#endif
