/* SPDX-License-Identifier: MIT */
/* The rows of files ferry serves itself under /media/: what each token
 * names (type, file name, size) and until when it may be fetched. Static
 * SQL with bound parameters; every string read is copied. */
#include <stdlib.h>

#include "store.h"
#include "store_int.h"
#include "util.h"

#define STORE_MEDIA_BATCH_MAX 1024

void store_media_file_free(struct store_media_file *f)
{
    if (f == NULL)
        return;
    free(f->token);
    free(f->kind);
    free(f->mime);
    free(f->filename);
    free(f);
}

int store_media_add(struct store *st, const struct store_media_file *f)
{
    sqlite3_stmt *s = store_stmt(
        st, "INSERT INTO media_file (token, kind, mime, filename, size,"
            " expires, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");

    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, f->token, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, f->kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, f->mime, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, f->filename, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 5, f->size);
    sqlite3_bind_int64(s, 6, f->expires);
    sqlite3_bind_int64(s, 7, now_s());
    return store_run(st, s);
}

static void *store_media_read(sqlite3_stmt *s)
{
    struct store_media_file *f = xcalloc(1, sizeof(*f));

    f->token = store_col_text(s, 0);
    f->kind = store_col_text(s, 1);
    f->mime = store_col_text(s, 2);
    f->filename = store_col_text(s, 3);
    f->size = sqlite3_column_int64(s, 4);
    f->expires = sqlite3_column_int64(s, 5);
    return f;
}

struct store_media_file *store_media_get(struct store *st, const char *token)
{
    sqlite3_stmt *s =
        store_stmt(st, "SELECT token, kind, mime, filename, size, expires"
                       " FROM media_file WHERE token = ?1");
    struct store_media_file *f;

    if (s != NULL)
        store_bind_text(s, 1, token);
    f = store_one(st, s, store_media_read);
    if (f != NULL && (f->token == NULL || f->kind == NULL || f->mime == NULL)) {
        store_media_file_free(f);
        f = NULL;
    }
    return f;
}

/* The tokens of up to max expired files (a new array the caller frees,
 * with each token); their number, or -1. */
static int store_media_expired(struct store *st, long long now_s, int max,
                               char ***tokens)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT token FROM media_file"
                                     " WHERE expires <= ?1 LIMIT ?2");
    int n = 0, rc = SQLITE_DONE;

    *tokens = NULL;
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, now_s);
    sqlite3_bind_int(s, 2, max);
    *tokens = xcalloc((size_t)max, sizeof(**tokens));
    while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW)
        (*tokens)[n++] = store_col_text(s, 0);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        store_log_stmt(st, s);
    sqlite3_reset(s);
    return n;
}

int store_media_expire(struct store *st, long long now_s, int max,
                       void (*fn)(const char *token, void *arg), void *arg)
{
    sqlite3_stmt *s;
    char **tokens;
    int i, n, rc = 0;

    if (max <= 0 || max > STORE_MEDIA_BATCH_MAX)
        max = STORE_MEDIA_BATCH_MAX;
    n = store_media_expired(st, now_s, max, &tokens);
    for (i = 0; i < n; i++) {
        if (tokens[i] == NULL)
            continue;
        fn(tokens[i], arg);
        s = store_stmt(st, "DELETE FROM media_file WHERE token = ?1");
        if (s == NULL) {
            rc = -1;
        } else {
            sqlite3_bind_text(s, 1, tokens[i], -1, SQLITE_TRANSIENT);
            if (store_run(st, s) < 0)
                rc = -1;
        }
        free(tokens[i]);
    }
    free(tokens);
    return n < 0 || rc < 0 ? -1 : n;
}
