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
#define STORE_WAL_LIMIT (16 * 1024 * 1024) /* bytes kept after a checkpoint */
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

/* Migration N takes the schema from version N to N + 1. */
static const char *const store_migrations[] = {
    /* 0 -> 1: the first schema (DESIGN.md section 6). */
    "CREATE TABLE account ("
    "  id INTEGER PRIMARY KEY,"
    "  jid TEXT NOT NULL UNIQUE,"
    "  backend TEXT NOT NULL,"
    "  phone_number_id TEXT NOT NULL,"
    "  token TEXT NOT NULL,"
    "  display_number TEXT,"
    "  settings TEXT NOT NULL DEFAULT '{}',"
    "  state TEXT NOT NULL DEFAULT 'active',"
    "  last_error TEXT,"
    "  created INTEGER NOT NULL,"
    "  UNIQUE (backend, phone_number_id));"
    "CREATE TABLE contact ("
    "  id INTEGER PRIMARY KEY,"
    "  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,"
    "  network_id TEXT NOT NULL,"
    "  localpart TEXT NOT NULL,"
    "  name TEXT,"
    "  subscription TEXT NOT NULL DEFAULT 'none',"
    "  last_in_network_id TEXT,"
    "  last_in_at INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL,"
    "  UNIQUE (account_id, network_id));"
    "CREATE TABLE alias ("
    "  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,"
    "  network_id TEXT NOT NULL,"
    "  contact_id INTEGER NOT NULL REFERENCES contact(id) ON DELETE CASCADE,"
    "  PRIMARY KEY (account_id, network_id)) WITHOUT ROWID;"
    "CREATE INDEX alias_contact ON alias (contact_id);"
    "CREATE TABLE message ("
    "  id INTEGER PRIMARY KEY,"
    "  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,"
    "  contact_id INTEGER NOT NULL REFERENCES contact(id) ON DELETE CASCADE,"
    "  direction TEXT NOT NULL CHECK (direction IN ('i', 'o')),"
    "  stanza_id TEXT,"
    "  sender TEXT,"
    "  network_id TEXT,"
    "  status INTEGER NOT NULL DEFAULT 0 CHECK (status BETWEEN 0 AND 4),"
    "  want_receipt INTEGER NOT NULL DEFAULT 0,"
    "  want_markers INTEGER NOT NULL DEFAULT 0,"
    "  snippet TEXT,"
    "  created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX message_network ON message (account_id, network_id)"
    "  WHERE network_id IS NOT NULL;"
    "CREATE INDEX message_stanza ON message"
    "  (account_id, direction, stanza_id);"
    "CREATE INDEX message_contact ON message (contact_id);"
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY,"
    "  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,"
    "  contact_id INTEGER REFERENCES contact(id) ON DELETE CASCADE,"
    "  message_id INTEGER REFERENCES message(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL,"
    "  payload TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt INTEGER NOT NULL DEFAULT 0,"
    "  state TEXT NOT NULL DEFAULT 'queued',"
    "  last_error TEXT,"
    "  created INTEGER NOT NULL);"
    "CREATE INDEX outbox_ready ON outbox (state, next_attempt);"
    "CREATE INDEX outbox_account ON outbox (account_id);"
    "CREATE INDEX outbox_contact ON outbox (contact_id, state, id);"
    "CREATE INDEX outbox_message ON outbox (message_id);"
    "CREATE TABLE inbox ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT," /* ids never reused: the */
                                              /* queue's cursor relies on it */
    "  account_id INTEGER REFERENCES account(id) ON DELETE CASCADE,"
    "  recipient TEXT NOT NULL,"
    "  stanza TEXT NOT NULL,"
    "  created INTEGER NOT NULL);"
    "CREATE INDEX inbox_account ON inbox (account_id);"
    "CREATE TABLE seen ("
    "  key TEXT PRIMARY KEY,"
    "  expires INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX seen_expires ON seen (expires);"
    "CREATE TABLE early_status ("
    "  id INTEGER PRIMARY KEY,"
    "  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,"
    "  network_id TEXT NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  error_code INTEGER NOT NULL DEFAULT 0,"
    "  error_text TEXT,"
    "  created INTEGER NOT NULL);"
    "CREATE INDEX early_status_network ON early_status"
    "  (account_id, network_id, id);"
    "CREATE INDEX early_status_created ON early_status (created);"
    "CREATE TABLE media_file (" /* files ferry serves under /media/ */
    "  token TEXT PRIMARY KEY,"
    "  kind TEXT NOT NULL,"
    "  mime TEXT NOT NULL,"
    "  filename TEXT,"
    "  size INTEGER NOT NULL,"
    "  expires INTEGER NOT NULL,"
    "  created INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX media_file_expires ON media_file (expires);",
    /* 1 -> 2: stanzas the XMPP server bounces after the barrier ping
     * (an offline user over quota, no offline storage) are kept and sent
     * again when the user is back. state: 0 queued, 1 confirmed by the
     * ping and kept a while in case it bounces, 2 bounced: held until the
     * user's presence returns. Only rows with a stanza_id (messages with
     * content) are kept past the ping. */
    "ALTER TABLE inbox ADD COLUMN stanza_id TEXT;"
    "ALTER TABLE inbox ADD COLUMN state INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE inbox ADD COLUMN settled INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE inbox ADD COLUMN bounces INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX inbox_stanza ON inbox (account_id, stanza_id)"
    "  WHERE stanza_id IS NOT NULL;"
    "CREATE INDEX inbox_settled ON inbox (settled) WHERE state = 1;",
    /* 2 -> 3: a send whose outcome ferry could not learn (no answer, an
     * unreadable one, a 5xx without the API's error envelope) may have
     * reached the contact: unknown = 1 marks its row, which is sent again
     * once only, and its user is told it may have arrived twice. */
    "ALTER TABLE outbox ADD COLUMN unknown INTEGER NOT NULL DEFAULT 0;",
    /* 3 -> 4: a file from WhatsApp keeps its place in its contact's order.
     * state 4: the file's slot, holding a placeholder until the file is
     * ready; 3: waiting behind a slot of the same contact (contact_id).
     * Neither is sent until released (store_inbox_release_waiting()). */
    "ALTER TABLE inbox ADD COLUMN contact_id INTEGER;"
    "CREATE INDEX inbox_waiting ON inbox (contact_id, state, id)"
    "  WHERE state >= 3;",
    /* 4 -> 5: an account is known on its network by an id whose meaning is
     * the back end's (Cloud API: the phone number id; WAHA: the session),
     * unique per back end. */
    "ALTER TABLE account RENAME COLUMN phone_number_id TO network_id;",
    /* 5 -> 6 (issue 16's migration, number 8 on merging): a business
     * number answered by a team. team_member: the people besides the
     * owner (the account's jid); a JID answers for one number at most,
     * as a contact JID does not name the number. team_claim: who holds a
     * conversation, since when, and its last activity (for the lapse). */
    "CREATE TABLE team_member ("
    "  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,"
    "  jid TEXT NOT NULL UNIQUE,"
    "  role TEXT NOT NULL DEFAULT 'member',"
    "  created INTEGER NOT NULL,"
    "  PRIMARY KEY (account_id, jid)) WITHOUT ROWID;"
    "CREATE TABLE team_claim ("
    "  contact_id INTEGER PRIMARY KEY REFERENCES contact(id) ON DELETE"
    "  CASCADE,"
    "  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,"
    "  holder TEXT NOT NULL,"
    "  since INTEGER NOT NULL,"
    "  active INTEGER NOT NULL);"
    "CREATE INDEX team_claim_holder ON team_claim (account_id, holder);",
    /* 6 -> 7 (issue 16, item 4): the history of a team's conversations,
     * kept [team] history_days for XEP-0313 on the contact's JID and for
     * whoever picks a conversation up. direction 'i': the customer's,
     * 'o': a member's (sender, a bare JID). id: the archive's id, never
     * reused (paging relies on it). */
    "CREATE TABLE history ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,"
    "  contact_id INTEGER NOT NULL REFERENCES contact(id) ON DELETE CASCADE,"
    "  direction TEXT NOT NULL CHECK (direction IN ('i', 'o')),"
    "  sender TEXT,"
    "  body TEXT NOT NULL,"
    "  stanza_id TEXT,"
    "  network_id TEXT,"
    "  created_ms INTEGER NOT NULL);"
    "CREATE INDEX history_contact ON history (contact_id, id);"
    "CREATE INDEX history_created ON history (created_ms);"
    "CREATE INDEX history_account ON history (account_id, stanza_id);",
    /* 7 -> 8 (issue 16's templates): the business account a number belongs
     * to, which holds its message templates (Cloud API: the WABA id, from
     * its webhooks' entry[].id or set by the owner); NULL until known. */
    "ALTER TABLE account ADD COLUMN business_id TEXT;",
    /* 8 -> 9 (issue 16's metrics): since when the customer has been
     * waiting for a reply (the first unanswered message's time), 0 when
     * answered. */
    "ALTER TABLE contact ADD COLUMN waiting_since INTEGER NOT NULL DEFAULT 0;",
    /* 9 -> 10 (issue 14): the groups an account is in, seen by its user
     * alone (group_id: the network's id without a domain), and their
     * members (participant: the id the group gives, often a lid; phone:
     * digits once known; role: owner, admin or member; self: the
     * account itself; seq: the network's order). A room's id is never
     * reused: resources in a room are known by it. */
    "CREATE TABLE room ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,"
    "  group_id TEXT NOT NULL,"
    "  subject TEXT NOT NULL DEFAULT '',"
    "  updated INTEGER NOT NULL,"
    "  UNIQUE (account_id, group_id));"
    "CREATE TABLE room_member ("
    "  room_id INTEGER NOT NULL REFERENCES room(id) ON DELETE CASCADE,"
    "  participant TEXT NOT NULL,"
    "  lid TEXT,"
    "  phone TEXT,"
    "  push_name TEXT,"
    "  role TEXT NOT NULL DEFAULT 'member',"
    "  self INTEGER NOT NULL DEFAULT 0,"
    "  seq INTEGER NOT NULL,"
    "  PRIMARY KEY (room_id, participant)) WITHOUT ROWID;",
    /* 10 -> 11 (issue 14): a room's messages from the network, each once
     * (network_id, unique per room: the duplicate check), with their
     * author's id and the network's time; pending: no resource of the
     * user was in the room when it came (sent at the next join). */
    "CREATE TABLE room_message ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  room_id INTEGER NOT NULL REFERENCES room(id) ON DELETE CASCADE,"
    "  network_id TEXT NOT NULL,"
    "  author TEXT NOT NULL,"
    "  body TEXT NOT NULL,"
    "  stamp INTEGER NOT NULL,"
    "  pending INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE (room_id, network_id));"
    "CREATE INDEX room_message_pending ON room_message (room_id, id)"
    "  WHERE pending = 1;",
    /* 11 -> 12 (issue 13, item 5): contacts' profile pictures. avatar:
     * each picture once, by the SHA-1 of its bytes (the XEP-0153 hash);
     * contact_avatar: a contact's current picture ('' when it has none or
     * hides it) and when the network was last asked. */
    "CREATE TABLE avatar ("
    "  hash TEXT PRIMARY KEY,"
    "  mime TEXT NOT NULL,"
    "  data BLOB NOT NULL);"
    "CREATE TABLE contact_avatar ("
    "  contact_id INTEGER PRIMARY KEY"
    "    REFERENCES contact(id) ON DELETE CASCADE,"
    "  hash TEXT NOT NULL,"
    "  checked INTEGER NOT NULL);"
    "CREATE INDEX contact_avatar_hash ON contact_avatar (hash);",
    /* 12 -> 13 (issue 13): the phone number behind a hidden linked id
     * ("<digits>@lid") that wrote to an account 1:1, as the network told
     * it (phone: digits, NULL while unknown); asked: when ferry last asked
     * the network (s since the epoch). */
    "CREATE TABLE lid ("
    "  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,"
    "  lid TEXT NOT NULL,"
    "  phone TEXT,"
    "  asked INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (account_id, lid)) WITHOUT ROWID;",
    /* 13 -> 14 (issue 14): what a room's row is (kind: 'text', 'reaction'
     * (body: the emoji, "" removed), 'edit' (body: the new text),
     * 'retract' (by its author) or 'moderate' (by an admin); target: the
     * network id of the message it acts on, or a text's quoted one),
     * msg_key: the network's own key of the message (the part of its id
     * after the chat, which actions name), and for the user's own texts
     * the stanza's id and origin-id (what their clients match); stamp
     * indexed for the expiry after [groups] history_days, (room_id, id)
     * for join history and MAM pages. */
    "ALTER TABLE room_message ADD COLUMN kind TEXT NOT NULL DEFAULT 'text';"
    "ALTER TABLE room_message ADD COLUMN target TEXT;"
    "ALTER TABLE room_message ADD COLUMN msg_key TEXT;"
    "ALTER TABLE room_message ADD COLUMN xmpp_id TEXT;"
    "ALTER TABLE room_message ADD COLUMN origin_id TEXT;"
    "UPDATE room_message SET msg_key = substr(substr(substr(network_id,"
    "  instr(network_id, '_') + 1), instr(substr(network_id,"
    "  instr(network_id, '_') + 1), '_') + 1) || '_', 1, instr(substr("
    "  substr(network_id, instr(network_id, '_') + 1), instr(substr("
    "  network_id, instr(network_id, '_') + 1), '_') + 1) || '_', '_') - 1)"
    "  WHERE network_id LIKE 'true\\_%' ESCAPE '\\'"
    "  OR network_id LIKE 'false\\_%' ESCAPE '\\';"
    "UPDATE room_message SET msg_key = network_id WHERE msg_key IS NULL;"
    "CREATE INDEX room_message_key ON room_message (room_id, msg_key);"
    "CREATE INDEX room_message_stamp ON room_message (stamp);"
    "CREATE INDEX room_message_room ON room_message (room_id, id);",
    /* 14 -> 15 (issue 14): a room's picture (the group's), as a contact's
     * (contact_avatar, migration 12). */
    "CREATE TABLE room_avatar ("
    "  room_id INTEGER PRIMARY KEY REFERENCES room(id) ON DELETE CASCADE,"
    "  hash TEXT NOT NULL,"
    "  checked INTEGER NOT NULL);"
    "CREATE INDEX room_avatar_hash ON room_avatar (hash);",
    /* 15 -> 16 (issue 15, items 3 and 6): fewer b-trees per message. The
     * queue reads one account's contacts' heads at a time
     * (store_outbox_heads_of()), so outbox_account orders the account's
     * queued rows by contact. outbox_ready holds only rows with a time to
     * wait for (retries, pair limits): a new row (next_attempt 0) writes
     * none. outbox.message_id loses its foreign key and outbox_message:
     * messages are deleted only with their contact or account, whose own
     * keys delete the outbox rows (the table is rebuilt for it, as SQLite
     * cannot drop a constraint). inbox_account gives way to inbox_held:
     * only held rows are looked up by account (their release); an
     * account's deletion reads the inbox, which holds a minute of rows. */
    "CREATE TABLE outbox_new ("
    "  id INTEGER PRIMARY KEY,"
    "  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,"
    "  contact_id INTEGER REFERENCES contact(id) ON DELETE CASCADE,"
    "  message_id INTEGER,"
    "  kind TEXT NOT NULL,"
    "  payload TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt INTEGER NOT NULL DEFAULT 0,"
    "  state TEXT NOT NULL DEFAULT 'queued',"
    "  last_error TEXT,"
    "  created INTEGER NOT NULL,"
    "  unknown INTEGER NOT NULL DEFAULT 0);"
    "INSERT INTO outbox_new (id, account_id, contact_id, message_id, kind,"
    "  payload, attempts, next_attempt, state, last_error, created, unknown)"
    "  SELECT id, account_id, contact_id, message_id, kind, payload,"
    "  attempts, next_attempt, state, last_error, created, unknown"
    "  FROM outbox;"
    "DROP TABLE outbox;"
    "ALTER TABLE outbox_new RENAME TO outbox;"
    "CREATE INDEX outbox_ready ON outbox (state, next_attempt)"
    "  WHERE next_attempt > 0;"
    "CREATE INDEX outbox_account ON outbox (account_id, state, contact_id);"
    "CREATE INDEX outbox_contact ON outbox (contact_id, state, id);"
    "DROP INDEX IF EXISTS inbox_account;"
    "CREATE INDEX IF NOT EXISTS inbox_held ON inbox (account_id)"
    "  WHERE state IN (2, 5);",
    /* 16 -> 17 (issue 14): notified: the user was told of a mention in
     * the room while none of their resources was in it, and has not
     * joined it since ([groups] mention_notice: one notice per silent
     * period). */
    "ALTER TABLE room ADD COLUMN notified INTEGER NOT NULL DEFAULT 0;",
    /* 17 -> 18 (issue 14): a room's file (the user's, sent to the group):
     * its URL, which the room's messages carry as XEP-0066 out-of-band
     * data (NULL: no file). */
    "ALTER TABLE room_message ADD COLUMN url TEXT;",
    /* 18 -> 19 (issue 14): a received file of a room and what came after
     * it wait for its download (waiting: 1 the file, holding the room's
     * later rows back; 2 a row ready, held behind a file; 3 a file that
     * gave up its place while it is fetched again); rows that wait are
     * neither in join history nor in MAM yet. */
    "ALTER TABLE room_message ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX room_message_waiting ON room_message (room_id, id)"
    "  WHERE waiting <> 0;",
};

#define STORE_NMIGRATIONS                                                      \
    ((int)(sizeof(store_migrations) / sizeof(store_migrations[0])))

int store_schema_version(void)
{
    return STORE_NMIGRATIONS;
}

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

int store_user_version(struct store *st)
{
    sqlite3_stmt *s = store_stmt(st, "PRAGMA user_version");
    int v = -1;

    if (s != NULL && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    if (s != NULL)
        sqlite3_reset(s);
    return v;
}

/* Applies migration v (v -> v + 1) in its own transaction. */
static int store_migrate_one(struct store *st, int v)
{
    char *bump;
    int rc;

    if (store_begin(st) < 0)
        return -1;
    bump = xasprintf("PRAGMA user_version = %d", v + 1);
    rc = store_exec(st, store_migrations[v]);
    if (rc == 0)
        rc = store_exec(st, bump);
    free(bump);
    if (rc < 0) {
        store_rollback(st);
        log_error("store: migration to schema %d failed", v + 1);
        return -1;
    }
    return store_commit(st);
}

static int store_migrate(struct store *st)
{
    int v = store_user_version(st);

    if (v < 0)
        return -1;
    if (v > STORE_NMIGRATIONS) {
        log_error("store: database schema %d is newer than this ferry "
                  "(%d); refusing to touch it",
                  v, STORE_NMIGRATIONS);
        return -1;
    }
    for (; v < STORE_NMIGRATIONS; v++) {
        if (store_migrate_one(st, v) < 0)
            return -1;
        log_info("store: migrated to schema %d", v + 1);
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

    sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
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
    if (st->sync != NULL) {
        /* a last fdatasync, then the turns that waited for it are
         * answered (their requests may be gone: their owners free them) */
        store_sync_stop(st->sync);
        st->sync = NULL;
        st->durable_fn = NULL;
        store_synced(st->committed, st);
    }
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
