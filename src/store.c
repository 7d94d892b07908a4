/* SPDX-License-Identifier: MIT */
/* The SQLite handle: pragmas (WAL, foreign keys, busy timeout), the file's
 * mode, schema migrations, a small cache of prepared statements, and
 * transactions: the loop turn's (group commit) with what waits for it. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "store.h"
#include "store_checkpoint.h"
#include "store_int.h"
#include "store_sync.h"
#include "util.h"

#define STORE_STMT_CACHE 128
#define STORE_BUSY_TIMEOUT_MS 5000
/* Bytes of WAL file kept when the WAL starts over (journal_size_limit):
 * above what a RESTART cycle reaches under sustained load (at most 23 MiB
 * in a 10-minute flood), so that the loop's first commit of each cycle
 * does not truncate the file. On a file system mounted with `discard` that
 * truncate freed the blocks with a synchronous discard, 2.6-2.8 ms on the loop
 * (docs/performance.md, "The tail"); past this it still cuts. */
#define STORE_WAL_LIMIT (32 * 1024 * 1024)
#define STORE_TXN_HOOKS 8

/* A function to call when the loop turn's transaction ends. */
struct store_txn_call {
    store_txn_fn fn;
    void *arg;
    struct store_txn_call *next;
};

/* A commit not yet durable that inserted queue rows: the lowest id it
 * inserted per table (0: none), which nothing may send before its sync. */
struct store_fresh {
    long long gen;
    long long min[STORE_FRESH_TABLES];
    struct store_fresh *next;
};

/* The calls waiting for a turn that ended before its commit was synced. */
struct store_batch {
    long long gen;
    struct store_txn_call *calls;
    struct store_batch *next;
};

/* Accounts whose outbox rows were queued, kept until the queue asks;
 * beyond that many the queue reads every account's. */
#define STORE_QUEUED_NOTES 256

struct store_cached {
    const char *sql; /* compared by address: callers pass literals */
    sqlite3_stmt *stmt;
};

struct store {
    sqlite3 *db;
    struct store_cached cache[STORE_STMT_CACHE];
    int ncache;
    int in_txn;       /* between store_begin() and store_commit()/_rollback() */
    int failed;       /* a statement of the open transaction failed */
    int turn;         /* the open transaction is the loop turn's */
    long long serial; /* turns opened */
    int part_failed;  /* failed when the open part began */
    int part_whole;   /* the open part is the whole turn's transaction */
    sqlite3_int64 turn_changes; /* rows changed before the turn began */
    struct store_txn_call hooks[STORE_TXN_HOOKS]; /* at every end */
    int nhooks;
    struct store_txn_call *after, **after_tail; /* at the next end, once */
    struct store_ckpt *ckpt;              /* the checkpoint thread, or NULL */
    long long queued[STORE_QUEUED_NOTES]; /* accounts with rows queued */
    int nqueued, queued_over;             /* since the queue last asked */
    /* store.synchronous = full with the WAL syncer (store_sync.c): commits
     * are counted (generations) and made durable by the syncer; what
     * waits for a commit waits for its sync */
    int want_sync, sync_tried;
    char *wal_path;
    struct store_sync *sync;     /* NULL: SQLite syncs (or not) itself */
    long long committed, synced; /* generations */
    long long open_min[STORE_FRESH_TABLES];  /* since the last commit */
    struct store_fresh *fresh, **fresh_tail; /* in generation order */
    struct store_batch *batches, **batches_tail;
    store_txn_fn durable_fn; /* rows became durable */
    void *durable_arg;
};

int store_exec(struct store *st, const char *sql)
{
    char *err = NULL;

    if (sqlite3_exec(st->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        log_error("store: %s", err ? err : sqlite3_errmsg(st->db));
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

/* Creates the file with mode 0600 before SQLite opens it, so tokens are
 * never readable by others even for an instant. */
static int store_create_private(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0) {
        log_error("store: cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    if (fchmod(fd, 0600) < 0)
        log_warn("store: cannot chmod 0600 %s: %s", path, strerror(errno));
    close(fd);
    return 0;
}

/* FERRY_TEST_MAX_PAGES=N (tests only; see tests/e2e/README.md): the
 * database may not grow past N pages, so a test can make writes fail as on
 * a full disk. It only ever takes room away. */
static int store_test_max_pages(struct store *st)
{
    const char *v = getenv("FERRY_TEST_MAX_PAGES");
    char *sql;
    int rc;

    if (v == NULL || v[0] == '\0')
        return 0;
    if (strspn(v, "0123456789") != strlen(v) || strlen(v) > 9) {
        log_error("store: FERRY_TEST_MAX_PAGES is not a number of pages");
        return -1;
    }
    log_warn("store: FERRY_TEST_MAX_PAGES=%s: the database may not grow "
             "past that (a test setting)",
             v);
    sql = xasprintf("PRAGMA max_page_count = %s;", v);
    rc = store_exec(st, sql);
    free(sql);
    return rc;
}

static int store_pragmas(struct store *st, const char *synchronous)
{
    char *sql;
    int rc;

    store_busy_set(st->db, STORE_BUSY_TIMEOUT_MS);
    /* No checkpoint inside a commit (SQLite's default every 1000 pages):
     * the owner calls store_checkpoint() soon after commits instead, off
     * the path of the request that is waiting for the commit. */
    sqlite3_wal_autocheckpoint(st->db, 0);
    sql = xasprintf("PRAGMA journal_mode = WAL;"
                    "PRAGMA foreign_keys = ON;"
                    "PRAGMA journal_size_limit = %d;"
                    /* ephemeral tables (a CTE, an IN list, a sort) in
                     * memory: in a temp file each cost ~0.2 ms */
                    "PRAGMA temp_store = MEMORY;"
                    "PRAGMA synchronous = %s;",
                    STORE_WAL_LIMIT,
                    strcmp(synchronous, "full") == 0 ? "FULL" : "NORMAL");
    rc = store_exec(st, sql);
    free(sql);
    return rc < 0 ? -1 : store_test_max_pages(st);
}

/* Keeps first (an id of table t) from the queue until generation gen is
 * synced: in the last commit's entry when it is gen's, else a new one. */
static void store_fresh_add(struct store *st, long long gen,
                            enum store_fresh_table t, long long first)
{
    struct store_fresh *f = NULL, *last;

    for (last = st->fresh; last != NULL && last->next != NULL;
         last = last->next)
        ;
    if (last != NULL && last->gen == gen)
        f = last;
    if (f == NULL) {
        f = xcalloc(1, sizeof(*f));
        f->gen = gen;
        *st->fresh_tail = f;
        st->fresh_tail = &f->next;
    }
    if (f->min[t] == 0 || first < f->min[t])
        f->min[t] = first;
}

/* SQLite's WAL hook, after each commit that wrote: counts the generation,
 * keeps the rows it inserted out of the queue's reach until it is synced,
 * and wakes the syncer and the checkpointer. */
static int store_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct store *st = arg;
    int i;

    st->committed++;
    if (st->sync != NULL) {
        for (i = 0; i < STORE_FRESH_TABLES; i++)
            if (st->open_min[i] != 0)
                store_fresh_add(st, st->committed, i, st->open_min[i]);
        memset(st->open_min, 0, sizeof(st->open_min));
        store_sync_ask(st->sync, st->committed);
    }
    if (st->ckpt != NULL)
        store_ckpt_frames(st->ckpt, frames);
    return SQLITE_OK;
}

/* Calls each waiter of the list with ok, and frees it. */
static void store_calls_run(struct store_txn_call *c, int ok)
{
    struct store_txn_call *next;

    for (; c != NULL; c = next) {
        next = c->next;
        c->fn(ok, c->arg);
        free(c);
    }
}

/* On the loop: every commit up to synced is on disk. The rows they
 * inserted may go, and the turns that ended with them are answered, in
 * their order. */
static void store_synced(long long synced, void *arg)
{
    struct store *st = arg;
    struct store_fresh *f;
    struct store_batch *b;

    st->synced = synced;
    while ((f = st->fresh) != NULL && f->gen <= synced) {
        st->fresh = f->next;
        free(f);
    }
    if (st->fresh == NULL)
        st->fresh_tail = &st->fresh;
    while ((b = st->batches) != NULL && b->gen <= synced) {
        st->batches = b->next;
        if (st->batches == NULL)
            st->batches_tail = &st->batches;
        store_calls_run(b->calls, 1);
        free(b);
    }
    if (st->durable_fn != NULL)
        st->durable_fn(1, st->durable_arg);
}

/* Starts the WAL syncer, once, when the loop is there: from then on the
 * connection commits without fsync and the syncer makes commits durable.
 * Outside any transaction (the pragma). */
static void store_sync_begin(struct store *st)
{
    st->sync_tried = 1;
    st->sync = store_sync_start(st->wal_path, store_synced, st);
    if (st->sync != NULL && store_exec(st, "PRAGMA synchronous = NORMAL") < 0) {
        store_sync_stop(st->sync);
        st->sync = NULL;
    }
    /* The commits before (start-up's) ran with synchronous = FULL: SQLite
     * synced each. Without this, a first turn that wrote nothing waited
     * for a generation no one had asked the syncer for: an unsigned or
     * unknown webhook to a quiet gateway was never answered. */
    st->synced = st->committed;
}

void store_fresh_rows(struct store *st, enum store_fresh_table t)
{
    sqlite3_int64 n, first;

    if (st->sync == NULL)
        return;
    n = sqlite3_changes64(st->db);
    first = sqlite3_last_insert_rowid(st->db) - n + 1;
    if (n <= 0)
        return;
    if (sqlite3_get_autocommit(st->db)) {
        /* a statement outside any transaction: it committed on its own,
         * and the WAL hook has counted that commit already */
        store_fresh_add(st, st->committed, t, first);
        return;
    }
    if (st->open_min[t] == 0 || first < st->open_min[t])
        st->open_min[t] = first;
}

long long store_fresh_min(struct store *st, enum store_fresh_table t)
{
    struct store_fresh *f;
    long long m = st->open_min[t];

    for (f = st->fresh; f != NULL; f = f->next)
        if (f->min[t] != 0 && (m == 0 || f->min[t] < m))
            m = f->min[t];
    return m;
}

int store_outbox_durable(struct store *st, long long id)
{
    long long m = store_fresh_min(st, STORE_FRESH_OUTBOX);

    return m == 0 || id < m;
}

int store_txn_durable(struct store *st)
{
    return st->sync == NULL || st->synced >= st->committed;
}

void store_txn_durable_hook(struct store *st, store_txn_fn fn, void *arg)
{
    st->durable_fn = fn;
    st->durable_arg = arg;
}

long long store_sync_calls(struct store *st)
{
    return st->sync != NULL ? store_sync_count(st->sync) : -1;
}

struct store *store_open(const char *path, const char *synchronous)
{
    struct store *st;
    mode_t old;

    if (store_create_private(path) < 0)
        return NULL;
    st = xcalloc(1, sizeof(*st));
    st->after_tail = &st->after;
    st->fresh_tail = &st->fresh;
    st->batches_tail = &st->batches;
    st->want_sync = strcmp(synchronous, "full") == 0;
    st->wal_path = xasprintf("%s-wal", path);
    old = umask(077); /* the -wal and -shm files too */
    if (sqlite3_open_v2(path, &st->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        NULL) != SQLITE_OK) {
        umask(old);
        log_error("store: cannot open %s: %s", path,
                  st->db ? sqlite3_errmsg(st->db) : "out of memory");
        store_close(st);
        return NULL;
    }
    if (store_pragmas(st, synchronous) < 0 || store_migrate(st) < 0) {
        umask(old);
        store_close(st);
        return NULL;
    }
    umask(old);
    st->ckpt = store_ckpt_start(st->db, path); /* NULL: on the loop */
    sqlite3_wal_hook(st->db, store_wal_hook, st);
    return st;
}

/* Frees a list of calls, uncalled. */
static void store_calls_free(struct store_txn_call *c)
{
    struct store_txn_call *next;

    for (; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
}

/* Drops the calls waiting for the turn's transaction or for a sync,
 * uncalled (a request never answered is asked again), and what the syncer
 * tracked. */
static void store_txn_forget(struct store *st)
{
    struct store_fresh *f;
    struct store_batch *b;

    store_calls_free(st->after);
    st->after = NULL;
    st->after_tail = &st->after;
    while ((b = st->batches) != NULL) {
        st->batches = b->next;
        store_calls_free(b->calls);
        free(b);
    }
    st->batches_tail = &st->batches;
    while ((f = st->fresh) != NULL) {
        st->fresh = f->next;
        free(f);
    }
    st->fresh_tail = &st->fresh;
}

void store_close(struct store *st)
{
    int i;

    if (st == NULL)
        return;
    if (st->db != NULL)
        sqlite3_wal_hook(st->db, NULL, NULL);
    store_txn_settle(st);
    store_txn_forget(st);
    store_ckpt_stop(st->ckpt);
    for (i = 0; i < st->ncache; i++)
        sqlite3_finalize(st->cache[i].stmt);
    sqlite3_close(st->db);
    free(st->wal_path);
    free(st);
}

int store_healthy(struct store *st)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT 1");
    int ok = s != NULL && sqlite3_step(s) == SQLITE_ROW;

    if (s != NULL)
        sqlite3_reset(s);
    return ok;
}

sqlite3 *store_db(struct store *st)
{
    return st->db;
}

/* Prepared once like every statement: sqlite3_exec() parses and
 * finalises its SQL on each call. */
int store_begin(struct store *st)
{
    if (store_run(st, store_stmt(st, "BEGIN IMMEDIATE")) < 0)
        return -1;
    st->in_txn = 1;
    st->failed = 0;
    return 0;
}

/* A transaction in which a statement failed is rolled back, never
 * committed in part: its caller reports the loss. */
int store_commit(struct store *st)
{
    if (st->in_txn && st->failed) {
        log_error("store: a statement of this transaction failed; rolled "
                  "back");
        store_rollback(st);
        return -1;
    }
    if (store_run(st, store_stmt(st, "COMMIT")) < 0) {
        store_rollback(st);
        return -1;
    }
    st->in_txn = 0;
    return 0;
}

int store_failed(struct store *st)
{
    return st->in_txn && st->failed;
}

int store_checkpoint(struct store *st)
{
    int rc;

    if (st->ckpt != NULL) {
        store_ckpt_kick(st->ckpt);
        return 0;
    }
    rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                   NULL, NULL);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        log_warn("store: checkpoint: %s", sqlite3_errmsg(st->db));
        return -1;
    }
    return 0;
}

void store_rollback(struct store *st)
{
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    /* the rows it inserted are gone (a commit since the last one would
     * have taken them into its entry) */
    memset(st->open_min, 0, sizeof(st->open_min));
    st->in_txn = 0;
    st->failed = 0;
}

/* ---- the loop turn's transaction (group commit) ---- */

static void store_txn_turn_over(void *arg)
{
    store_txn_commit(arg);
}

int store_txn_begin(struct store *st)
{
    if (st->turn)
        return 0;
    if (st->want_sync && !st->sync_tried && loop_base() != NULL)
        store_sync_begin(st);
    if (store_begin(st) < 0)
        return -1;
    st->turn = 1;
    st->serial++;
    st->turn_changes = sqlite3_total_changes64(st->db);
    loop_defer(store_txn_turn_over, st);
    return 0;
}

/* The turn's transaction ended: the calls waiting for it, in the order they
 * asked, then the hooks. They may open the next one. With the syncer, a
 * turn that committed is answered once everything committed so far is
 * on disk (a turn that only read may have read a commit not yet synced: a
 * duplicate webhook of one still in flight), after the turns before it. */
static void store_txn_ended(struct store *st, int ok)
{
    struct store_txn_call *c = st->after;
    struct store_batch *b;
    int i;

    st->after = NULL;
    st->after_tail = &st->after;
    if (c != NULL && ok && st->sync != NULL && st->synced < st->committed) {
        b = xcalloc(1, sizeof(*b));
        b->gen = st->committed;
        b->calls = c;
        *st->batches_tail = b;
        st->batches_tail = &b->next;
    } else {
        store_calls_run(c, ok);
    }
    for (i = 0; i < st->nhooks; i++)
        st->hooks[i].fn(ok, st->hooks[i].arg);
}

int store_txn_commit(struct store *st)
{
    int rc;

    if (!st->turn)
        return 0;
    st->turn = 0;
    rc = store_commit(st);
    if (rc < 0)
        log_error("store: commit failed; this turn's work is rolled back");
    store_txn_ended(st, rc == 0);
    return rc;
}

/* A part that begins before anything of the turn's transaction changed
 * a row needs no SAVEPOINT: undoing it is undoing the transaction, which
 * then begins again (two statements less for a webhook alone in its
 * turn; undoing is rare). */
int store_part_begin(struct store *st)
{
    if (!st->turn)
        return -1;
    st->part_failed = st->failed;
    st->part_whole = sqlite3_total_changes64(st->db) == st->turn_changes;
    if (st->part_whole)
        return 0;
    return store_run(st, store_stmt(st, "SAVEPOINT part"));
}

/* Undoes the turn's transaction and begins it again: the calls waiting
 * for its end still wait. -1 when it could not begin again: it ended
 * (rolled back, its waiters told). */
static int store_part_undo_whole(struct store *st)
{
    store_rollback(st);
    if (store_begin(st) < 0) {
        st->turn = 0;
        store_txn_ended(st, 0);
        return -1;
    }
    st->turn_changes = sqlite3_total_changes64(st->db);
    st->failed = st->part_failed;
    return 0;
}

int store_part_end(struct store *st, int keep)
{
    if (st->part_whole) {
        st->part_whole = 0;
        return keep ? 0 : store_part_undo_whole(st);
    }
    if (!keep) {
        if (store_run(st, store_stmt(st, "ROLLBACK TO part")) < 0)
            return -1;
        st->failed = st->part_failed;
    }
    return store_run(st, store_stmt(st, "RELEASE part"));
}

void store_outbox_note(struct store *st, long long account_id)
{
    int i;

    for (i = st->nqueued - 1; i >= 0; i--)
        if (st->queued[i] == account_id)
            return;
    if (st->nqueued == STORE_QUEUED_NOTES)
        st->queued_over = 1;
    else
        st->queued[st->nqueued++] = account_id;
}

int store_outbox_queued_since(struct store *st,
                              void (*fn)(long long account_id, void *arg),
                              void *arg)
{
    int i, over = st->queued_over;

    for (i = 0; i < st->nqueued && !over; i++)
        fn(st->queued[i], arg);
    st->nqueued = 0;
    st->queued_over = 0;
    return over;
}

int store_txn_open(struct store *st)
{
    return st->turn;
}

void store_txn_settle(struct store *st)
{
    if (st->sync == NULL)
        return;
    /* a last fdatasync, then the turns that waited for it are answered
     * (their requests may be gone: their owners free them); SQLite syncs
     * each commit from here on */
    store_sync_stop(st->sync);
    st->sync = NULL;
    st->durable_fn = NULL;
    store_synced(st->committed, st);
    store_exec(st, "PRAGMA synchronous = FULL");
}

long long store_txn_serial(struct store *st)
{
    return st->turn ? st->serial : 0;
}

void store_txn_hook(struct store *st, store_txn_fn fn, void *arg)
{
    if (st->nhooks == STORE_TXN_HOOKS)
        fatal("store: too many transaction hooks (raise STORE_TXN_HOOKS)");
    st->hooks[st->nhooks].fn = fn;
    st->hooks[st->nhooks].arg = arg;
    st->nhooks++;
}

int store_txn_after(struct store *st, store_txn_fn fn, void *arg)
{
    struct store_txn_call *c;

    if (!st->turn)
        return -1;
    for (c = st->after; c != NULL; c = c->next)
        if (c->fn == fn && c->arg == arg)
            return 0;
    c = xcalloc(1, sizeof(*c));
    c->fn = fn;
    c->arg = arg;
    *st->after_tail = c;
    st->after_tail = &c->next;
    return 0;
}

sqlite3_stmt *store_stmt(struct store *st, const char *sql)
{
    sqlite3_stmt *s;
    int i;

    for (i = 0; i < st->ncache; i++) {
        if (st->cache[i].sql == sql) {
            s = st->cache[i].stmt;
            sqlite3_reset(s);
            sqlite3_clear_bindings(s);
            return s;
        }
    }
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        log_error("store: cannot prepare statement: %s",
                  sqlite3_errmsg(st->db));
        return NULL;
    }
    if (st->ncache < STORE_STMT_CACHE) {
        st->cache[st->ncache].sql = sql;
        st->cache[st->ncache].stmt = s;
        st->ncache++;
    } else {
        fatal("store: statement cache full (raise STORE_STMT_CACHE)");
    }
    return s;
}

long long store_full_scan_steps(struct store *st)
{
    long long n = 0;
    int i;

    for (i = 0; i < st->ncache; i++)
        n += sqlite3_stmt_status(st->cache[i].stmt,
                                 SQLITE_STMTSTATUS_FULLSCAN_STEP, 1);
    return n;
}

/* ---- row helpers for the store_<table>.c files ---- */

/* Logs the database's last error with the statement it came from; the
 * open transaction, if any, can no longer commit. */
void store_log_stmt(struct store *st, sqlite3_stmt *s)
{
    if (st->in_txn)
        st->failed = 1;
    log_error("store: %s (in \"%.60s\")", sqlite3_errmsg(store_db(st)),
              sqlite3_sql(s));
}

/* A copy of text column i; NULL when the column is NULL. */
char *store_col_text(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);

    return t != NULL ? xstrdup((const char *)t) : NULL;
}

void store_bind_text(sqlite3_stmt *s, int i, const char *v)
{
    sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
}

/* Binds a row id, or NULL when id is 0 ("none"). */
void store_bind_id(sqlite3_stmt *s, int i, long long id)
{
    if (id > 0)
        sqlite3_bind_int64(s, i, id);
    else
        sqlite3_bind_null(s, i);
}

/* Steps a statement that returns no rows; 0 or -1 (logged). */
int store_run(struct store *st, sqlite3_stmt *s)
{
    int rc;

    if (s == NULL) {
        st->failed = st->in_txn;
        return -1;
    }
    if (st->in_txn && sqlite3_get_autocommit(st->db)) {
        /* SQLite rolled the transaction back after an error (a full
         * disk, I/O): nothing more may run outside it */
        st->failed = 1;
        return -1;
    }
    rc = sqlite3_step(s);
    if (rc != SQLITE_DONE)
        store_log_stmt(st, s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_run_ll(struct store *st, const char *sql, long long v)
{
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, v);
    return store_run(st, s);
}

/* Runs an INSERT; the new row's id, or -1 (logged). */
long long store_insert(struct store *st, sqlite3_stmt *s)
{
    if (store_run(st, s) < 0)
        return -1;
    return sqlite3_last_insert_rowid(store_db(st));
}

long long store_insert_fresh(struct store *st, sqlite3_stmt *s,
                             enum store_fresh_table t)
{
    long long id = store_insert(st, s);

    if (id > 0)
        store_fresh_rows(st, t);
    return id;
}

/* The integer in the first column of the first row (NULL reads as 0);
 * none when there is no row, -1 on error (logged). */
long long store_int(struct store *st, sqlite3_stmt *s, long long none)
{
    long long v = none;
    int rc;

    if (s == NULL)
        return -1;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        v = sqlite3_column_int64(s, 0);
    } else if (rc != SQLITE_DONE) {
        store_log_stmt(st, s);
        v = -1;
    }
    sqlite3_reset(s);
    return v;
}

/* The first row built by read; NULL when none or on error (logged). */
void *store_one(struct store *st, sqlite3_stmt *s, store_read_fn read)
{
    void *row = NULL;
    int rc;

    if (s == NULL)
        return NULL;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        row = read(s);
    else if (rc != SQLITE_DONE)
        store_log_stmt(st, s);
    sqlite3_reset(s);
    return row;
}

/* Reads up to max rows into a new array *rows (the caller frees it and each
 * row, even on error), so that callbacks run with no statement pending. */
int store_all(struct store *st, sqlite3_stmt *s, store_read_fn read, size_t max,
              void ***rows, size_t *n)
{
    size_t alloc = 0;
    int rc = SQLITE_DONE;

    *rows = NULL;
    *n = 0;
    if (s == NULL)
        return -1;
    while (*n < max) {
        rc = sqlite3_step(s);
        if (rc != SQLITE_ROW)
            break;
        if (*n == alloc) {
            alloc = alloc ? alloc * 2 : 16;
            *rows = xrealloc(*rows, alloc * sizeof(**rows));
        }
        (*rows)[(*n)++] = read(s);
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        store_log_stmt(st, s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}
