/* SPDX-License-Identifier: MIT */
/* The store's schema: its migrations, each taking the database from
 * version N to N + 1 in its own transaction (PRAGMA user_version), and
 * the refusal of a database newer than this ferry. */
#include <stdlib.h>

#include "log.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

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

int store_migrate(struct store *st)
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
