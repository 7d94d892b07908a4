/* SPDX-License-Identifier: MIT */
/*
 * pages_shim.so: an LD_PRELOAD shim for measuring what ferry writes to its
 * store (tests/bench/pages.py, issue 15 item 3). Not part of ferry.
 *
 *   cc -shared -fPIC -O2 -o pages_shim.so pages_shim.c -ldl -lsqlite3
 *   PAGES_OUT=pages.txt LD_PRELOAD=$PWD/pages_shim.so ferry -c ...
 *
 * Wraps sqlite3_close() and sqlite3_close_v2(): before the connection
 * closes, appends one line to the file named by PAGES_OUT,
 *
 *   close file=<main db> cache_write=<N> page_size=<P> wal_bytes=<B>
 *       wal_writes=<W> db_bytes=<D>
 *
 * cache_write is SQLITE_DBSTATUS_CACHE_WRITE of that connection (pages it
 * wrote: to the WAL in WAL mode); wal_bytes, wal_writes and db_bytes count
 * pwrite64()/pwrite() calls of the whole process to files whose names end
 * in "-wal" and to other files ending in ".sqlite"/".db" (checkpoints),
 * since the process started: SQLite's unix VFS writes through pwrite64,
 * which this library interposes. A WAL frame is 24 bytes of header and
 * one page.
 *
 * With PAGES_MAP set, also writes to that file, at each close, one line
 * "<page number> <frames>" for every page the process wrote to a WAL: the
 * page number of each 24-byte frame header (SQLite writes a frame as its
 * header, then its page). pages.py names the b-tree of each page with the
 * dbstat table.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

typedef int (*pages_close_fn)(sqlite3 *);
typedef ssize_t (*pages_pwrite_fn)(int, const void *, size_t, off_t);

static unsigned long long wal_bytes, wal_writes, db_bytes;
static pthread_mutex_t pages_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int *pages_frames; /* frames written, by page number */
static size_t pages_nframes;

/* Counts a frame of page pgno (from its header) in pages_frames. */
static void pages_frame(const unsigned char *hdr)
{
    size_t pgno = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
                  (size_t)hdr[2] << 8 | hdr[3];
    unsigned int *p;
    size_t n;

    if (pgno == 0 || pgno > (1u << 24))
        return;
    pthread_mutex_lock(&pages_lock);
    if (pgno >= pages_nframes) {
        n = pgno * 2;
        p = realloc(pages_frames, n * sizeof(*p));
        if (p != NULL) {
            memset(p + pages_nframes, 0, (n - pages_nframes) * sizeof(*p));
            pages_frames = p;
            pages_nframes = n;
        }
    }
    if (pgno < pages_nframes)
        pages_frames[pgno]++;
    pthread_mutex_unlock(&pages_lock);
}

/* Writes the page map to the file named by PAGES_MAP, if any. */
static void pages_map(void)
{
    const char *out = getenv("PAGES_MAP");
    FILE *f;
    size_t i;

    if (out == NULL || *out == '\0' || (f = fopen(out, "w")) == NULL)
        return;
    pthread_mutex_lock(&pages_lock);
    for (i = 0; i < pages_nframes; i++)
        if (pages_frames[i] != 0)
            fprintf(f, "%zu %u\n", i, pages_frames[i]);
    pthread_mutex_unlock(&pages_lock);
    fclose(f);
}

/* 1: fd is a -wal file, 2: a database file, 0: anything else */
static int pages_fd_kind(int fd)
{
    char link[64], path[4096];
    ssize_t n;
    size_t len;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, path, sizeof(path) - 1);
    if (n <= 0)
        return 0;
    path[n] = '\0';
    len = (size_t)n;
    if (len > 4 && strcmp(path + len - 4, "-wal") == 0)
        return 1;
    if ((len > 7 && strcmp(path + len - 7, ".sqlite") == 0) ||
        (len > 3 && strcmp(path + len - 3, ".db") == 0))
        return 2;
    return 0;
}

static void pages_count(int fd, const void *buf, ssize_t n)
{
    int k;

    if (n <= 0)
        return;
    k = pages_fd_kind(fd);
    if (k == 1) {
        __atomic_add_fetch(&wal_bytes, (unsigned long long)n, __ATOMIC_RELAXED);
        __atomic_add_fetch(&wal_writes, 1, __ATOMIC_RELAXED);
        if (n == 24)
            pages_frame(buf);
    } else if (k == 2) {
        __atomic_add_fetch(&db_bytes, (unsigned long long)n, __ATOMIC_RELAXED);
    }
}

/* The real call (found once, by name) and what it wrote counted. */
static ssize_t pages_pwrite_real(pages_pwrite_fn *real, const char *name,
                                 int fd, const void *buf, size_t len, off_t off)
{
    ssize_t n;

    if (*real == NULL)
        *real = (pages_pwrite_fn)dlsym(RTLD_NEXT, name);
    n = (*real)(fd, buf, len, off);
    pages_count(fd, buf, n);
    return n;
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
    static pages_pwrite_fn real;

    return pages_pwrite_real(&real, "pwrite64", fd, buf, len, off);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
    static pages_pwrite_fn real;

    return pages_pwrite_real(&real, "pwrite", fd, buf, len, off);
}

static void pages_report(sqlite3 *db)
{
    const char *out = getenv("PAGES_OUT");
    const char *file;
    int cur = 0, hi = 0, psize = 0;
    sqlite3_stmt *s;
    FILE *f;

    if (db == NULL || out == NULL || *out == '\0')
        return;
    sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_WRITE, &cur, &hi, 0);
    if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &s, NULL) == SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW)
            psize = sqlite3_column_int(s, 0);
        sqlite3_finalize(s);
    }
    pages_map();
    file = sqlite3_db_filename(db, "main");
    f = fopen(out, "a");
    if (f == NULL)
        return;
    fprintf(f,
            "close file=%s cache_write=%d page_size=%d wal_bytes=%llu "
            "wal_writes=%llu db_bytes=%llu\n",
            file != NULL ? file : "?", cur, psize,
            __atomic_load_n(&wal_bytes, __ATOMIC_RELAXED),
            __atomic_load_n(&wal_writes, __ATOMIC_RELAXED),
            __atomic_load_n(&db_bytes, __ATOMIC_RELAXED));
    fclose(f);
}

/* The real close (found once, by name), after the connection's report. */
static int pages_close_real(pages_close_fn *real, const char *name, sqlite3 *db)
{
    if (*real == NULL)
        *real = (pages_close_fn)dlsym(RTLD_NEXT, name);
    pages_report(db);
    return (*real)(db);
}

int sqlite3_close(sqlite3 *db)
{
    static pages_close_fn real;

    return pages_close_real(&real, "sqlite3_close", db);
}

int sqlite3_close_v2(sqlite3 *db)
{
    static pages_close_fn real;

    return pages_close_real(&real, "sqlite3_close_v2", db);
}
