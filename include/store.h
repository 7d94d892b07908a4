/* SPDX-License-Identifier: MIT */
/* The SQLite store: opening with the right pragmas, migrations keyed on
 * PRAGMA user_version and transactions (store.c), and the rows of every
 * table (store_accounts.c, store_contacts.c, store_messages.c,
 * store_outbox.c, store_inbox.c, store_seen.c, store_admin.c,
 * store_media.c, store_team.c). SQLite itself stays inside the store
 * (store_int.h). */
#ifndef FERRY_STORE_H
#define FERRY_STORE_H

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

/* ---- the loop turn's transaction (group commit) ----
 * Everything written in one turn of the loop shares one transaction: the
 * first store_txn_begin() of the turn opens it, and it is committed once
 * the turn's callbacks have run (or at store_txn_commit()). Its end is
 * reported to the hooks (every end) and to the calls that asked for it
 * with store_txn_after() (that end only): ok is 1 when it committed, 0 when
 * it was rolled back (a statement or the commit failed), so that what it
 * held is reported to its sender, never silently lost. Work that may only
 * be answered once its rows are committed (a webhook's 200, a stanza's
 * confirmation) registers with store_txn_after(). */
typedef void (*store_txn_fn)(int ok, void *arg);

/* Opens the turn's transaction unless it is open; 0, or -1 when none
 * could be opened. */
int store_txn_begin(struct store *st);
/* Commits the turn's transaction now, if open; 0 or -1 (rolled back). The
 * next store_txn_begin() opens another. */
int store_txn_commit(struct store *st);
/* 1 when the turn's transaction is open. */
int store_txn_open(struct store *st);
/* A number naming the open turn's transaction (each turn its own); 0 when
 * none is open. */
long long store_txn_serial(struct store *st);
/* fn(ok, arg) runs at the end of every turn's transaction, after the
 * store_txn_after() calls, in the order the hooks were set. */
void store_txn_hook(struct store *st, store_txn_fn fn, void *arg);
/* fn(ok, arg) runs once, when the open turn's transaction ends (the same
 * fn and arg asked twice run once); -1 when none is open. Calls of a turn
 * still open when the store closes are dropped; those waiting for the WAL
 * syncer run (ok) after its last sync. */
int store_txn_after(struct store *st, store_txn_fn fn, void *arg);
/* With store.synchronous = full, commits are made durable by a thread (the
 * WAL syncer: one fdatasync for every commit written before it began), and
 * the store_txn_after() calls of a turn that committed run once its commit
 * is synced, in turn order; the hooks run at once. 1 when every commit is
 * on disk (always without the syncer). */
int store_txn_durable(struct store *st);
/* fn(1, arg) runs on the loop after each sync of the WAL syncer: what was
 * committed before it (rows inserted, rows changed) may now be sent. One
 * hook. */
void store_txn_durable_hook(struct store *st, store_txn_fn fn, void *arg);
/* 1 when the outbox row id may be sent: the commit that inserted it is on
 * disk. */
int store_outbox_durable(struct store *st, long long id);
/* Notes that rows of the account were queued (store_outbox_queued_since()):
 * done for every new row, and by the queue for a row it found not yet
 * durable, so that its account is read again once it is. */
void store_outbox_note(struct store *st, long long account_id);
/* Stops the WAL syncer after a last fdatasync and runs what waited for
 * it (shutdown: while the loop is still there, since the syncer answers
 * through it). store_close() does it too. */
void store_txn_settle(struct store *st);
/* The fdatasync calls the WAL syncer made; -1 without it. */
long long store_sync_calls(struct store *st);

/* A part of the turn's transaction that can be undone alone (a SAVEPOINT):
 * store_part_begin() inside the open turn's transaction, then
 * store_part_end(st, 1) keeps it, store_part_end(st, 0) undoes its
 * writes and forgets its failed statements. 0 or -1. */
int store_part_begin(struct store *st);
int store_part_end(struct store *st, int keep);

/* A transaction of its own, outside the turn's (BEGIN IMMEDIATE / COMMIT /
 * ROLLBACK); 0 or -1. Once a statement of the open transaction failed,
 * store_commit() rolls it all back and returns -1: a transaction is never
 * committed in part. */
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);
/* 1 when a statement of the open transaction failed (it will not
 * commit). */
int store_failed(struct store *st);
/* Copies committed pages from the WAL to the database (passive: never
 * waits); automatic checkpoints are off. 0 or -1. */
int store_checkpoint(struct store *st);

/* ---- rows (strings are copies; free with the matching _free) ---- */

struct store_account {
    long long id;
    char *jid; /* bare JID of the XMPP user */
    char *backend;
    char *network_id; /* the account on its network (Cloud API: phone_number_id)
                       */
    char *token;      /* secret: never log */
    char *display_number;
    char *settings; /* JSON object */
    char *state;    /* "active" or "auth_failed" */
    char *last_error;
};

struct store_contact {
    long long id;
    long long account_id;
    char *network_id; /* e.g. wa_id digits */
    char *localpart;  /* JID localpart, e.g. "+4915112345678" */
    char *name;
    char *subscription; /* "none", "to", "from", "both" */
    char *last_in_network_id;
    long long last_in_at; /* s since the epoch; 0 when never */
};

enum store_status {
    STORE_STATUS_QUEUED = 0,
    STORE_STATUS_SENT = 1,
    STORE_STATUS_DELIVERED = 2,
    STORE_STATUS_READ = 3,
    STORE_STATUS_FAILED = 4,
};
#define STORE_NSTATUS 5

struct store_message {
    long long id;
    long long account_id;
    long long contact_id;
    char direction; /* 'i' or 'o' */
    char *stanza_id;
    char *sender; /* full JID that sent it (outgoing), for errors */
    char *network_id;
    int status;
    int want_receipt;
    int want_markers;
    char *snippet; /* the start of the text, to quote in replies */
};

struct store_outbox {
    long long id;
    long long account_id;
    long long contact_id; /* 0 when none */
    long long message_id; /* 0 when none */
    char *kind;           /* "text", "read", ... */
    char *payload;
    int attempts;
    long long next_attempt; /* ms since the epoch */
    long long created;      /* s since the epoch */
    int unknown; /* an earlier attempt's outcome is unknown: it may have
                    reached the contact */
};

struct store_inbox {
    long long id;
    long long account_id;
    char *recipient;
    char *stanza;      /* the XML to send */
    long long created; /* ms since the epoch */
};

void store_account_free(struct store_account *a);
void store_contact_free(struct store_contact *c);
void store_message_free(struct store_message *m);
void store_outbox_free(struct store_outbox *o);
void store_inbox_free(struct store_inbox *i);

/* ---- accounts ---- */
struct store_account *store_account_by_jid(struct store *st, const char *jid);
struct store_account *store_account_by_network_id(struct store *st,
                                                  const char *backend,
                                                  const char *network_id);
struct store_account *store_account_by_id(struct store *st, long long id);
/* Inserts or updates (same jid) the account, state back to "active".
 * Returns the id; -1 on error; -2 when network_id belongs to another jid. */
long long store_account_upsert(struct store *st, const char *jid,
                               const char *backend, const char *network_id,
                               const char *token, const char *display_number);
/* Deletes the account and everything it owns (cascade). */
int store_account_delete(struct store *st, long long id);
int store_account_set_state(struct store *st, long long id, const char *state,
                            const char *last_error);
/* Replaces the account's settings (a JSON object). */
int store_account_set_settings(struct store *st, long long id,
                               const char *settings);
/* store_stat.c: the customers waiting for a reply. */
#define STORE_WAIT_ACCOUNTS 256 /* accounts store_wait_foreach() reads */
/* (A customer's message starts a wait: store_contact_set_last_in().) */
/* Someone replied: since when the customer had been waiting (0: not
 * waiting), now answered; -1 on error. */
long long store_contact_answer(struct store *st, long long contact_id);
/* Someone replied to a customer the caller knows was waiting (read by
 * store_contact_ensure_times()): answered; 0 or -1. */
int store_contact_answered(struct store *st, long long contact_id);
/* The account's conversations waiting for a reply (*n) and the oldest
 * one's start (*oldest, 0 when none); 0 or -1. */
int store_wait_of(struct store *st, long long account_id, long long *n,
                  long long *oldest);
/* Calls fn with store_wait_of() for each account (the first
 * STORE_WAIT_ACCOUNTS) until fn returns non-zero; 0 or -1. */
int store_wait_foreach(struct store *st,
                       int (*fn)(long long account_id, long long n,
                                 long long oldest, void *arg),
                       void *arg);
/* The business account the account belongs to (its templates' holder),
 * or NULL when not known (caller frees). */
char *store_account_business(struct store *st, long long id);
/* Sets it (NULL: forgets it); 0 or -1. */
int store_account_set_business(struct store *st, long long id,
                               const char *business);
/* Calls fn for every account; stops early if fn returns non-zero. */
int store_account_foreach(struct store *st,
                          int (*fn)(const struct store_account *a, void *arg),
                          void *arg);
/* The same for up to max (-1: all) accounts with id > after_id, in id
 * order. */
int store_account_page(struct store *st, long long after_id, int max,
                       int (*fn)(const struct store_account *a, void *arg),
                       void *arg);
long long store_account_count(struct store *st);

/* ---- contacts ---- */
/* The contact whose network id, or one of whose aliases, is network_id. A
 * contact's own network id takes precedence over an alias. */
struct store_contact *store_contact_get(struct store *st, long long account_id,
                                        const char *network_id);
struct store_contact *store_contact_by_id(struct store *st, long long id);
/* Returns the contact's id, creating it (subscription "none") when absent;
 * *created tells which. A non-NULL name replaces the stored one. Network ids
 * found in the alias table resolve to their contact. */
long long store_contact_ensure(struct store *st, long long account_id,
                               const char *network_id, const char *localpart,
                               const char *name, int *created);
/* What the send path needs of a contact besides its id. */
struct store_contact_times {
    long long last_in_at;    /* the customer's last message (s); 0: never */
    long long waiting_since; /* waiting for a reply since (s); 0: not */
};
/* store_contact_ensure() without a name, reading *t with the id in the
 * same statement (zeros for a contact it creates). */
long long store_contact_ensure_times(struct store *st, long long account_id,
                                     const char *network_id,
                                     const char *localpart, int *created,
                                     struct store_contact_times *t);
int store_contact_set_subscription(struct store *st, long long id,
                                   const char *subscription);
/* Records the contact's last incoming message (ts: s since the epoch)
 * and, when wait > 0, that the customer waits for a reply since wait
 * (unless waiting already), in one statement. */
int store_contact_set_last_in(struct store *st, long long id,
                              const char *network_id, long long ts,
                              long long wait);
int store_contact_foreach(struct store *st, long long account_id,
                          int (*fn)(const struct store_contact *c, void *arg),
                          void *arg);
/* The contact's number changed: new_network_id becomes its network id and
 * the old one an alias, so both reach the same contact (and JID). */
int store_contact_renumber(struct store *st, long long contact_id,
                           const char *new_network_id);
/* Makes network_id an alias of contact_id (replacing an older alias of
 * network_id); -1 when the contact is not one of the account's. */
int store_alias_add(struct store *st, long long account_id,
                    const char *network_id, long long contact_id);
/* The contact is now known by network_id, its JID by localpart (a
 * hidden linked id whose number came to be known; NULL: the JID stays, as
 * store_contact_renumber()); the old network id becomes an alias. */
int store_contact_relink(struct store *st, long long contact_id,
                         const char *network_id, const char *localpart);
/* Contact from_id is contact into_id (both of one account): its messages,
 * queued rows and history move to into_id, its network id and aliases
 * become into_id's aliases, and from_id is deleted. */
int store_contact_merge(struct store *st, long long from_id, long long into_id);

/* ---- hidden linked ids (lid -> phone) ---- */
/* The phone number (digits) of the account's lid into *phone (caller
 * frees; NULL while unknown). 1 when the lid has a row, 0 when not, -1 on
 * error. */
int store_lid_get(struct store *st, long long account_id, const char *lid,
                  char **phone);
/* Records that the network was asked about lid now, and its answer: phone
 * (digits), or NULL (not known; a number known before is kept). */
int store_lid_set(struct store *st, long long account_id, const char *lid,
                  const char *phone);

/* ---- messages (the id map) ---- */
long long store_message_add(struct store *st, const struct store_message *m);
/* 1 when the account has a message with this network id, 0 when not, -1
 * on error. */
int store_message_known(struct store *st, long long account_id,
                        const char *network_id);
struct store_message *store_message_by_network(struct store *st,
                                               long long account_id,
                                               const char *network_id);
struct store_message *store_message_by_id(struct store *st, long long id);
/* The newest message of the account in direction ('i' or 'o') with
 * stanza_id (the ids of our incoming stanzas are network ids). */
struct store_message *store_message_by_stanza(struct store *st,
                                              long long account_id,
                                              char direction,
                                              const char *stanza_id);
/* What a reply to the message quotes (after an edit or deletion). */
int store_message_set_snippet(struct store *st, long long id,
                              const char *snippet);
/* The network took the queued message id: its network id is recorded and
 * its status becomes sent. 1 when so, 0 when the message was not queued
 * (nothing changes), -1 on error. */
int store_message_sent(struct store *st, long long id, const char *network_id);
/* Moves the status forward only: an older or equal status, or anything
 * after failed, leaves the row unchanged (still 0). */
int store_message_set_status(struct store *st, long long id, int status);
long long store_message_count(struct store *st);

/* ---- outbox (XMPP -> network work queue) ---- */
/* Queues a row, due at once; contact_id and message_id may be 0 (none). */
long long store_outbox_add(struct store *st, long long account_id,
                           long long contact_id, long long message_id,
                           const char *kind, const char *payload);
/* Queues a row under the given id (0: a new one), free again once the row of
 * that id was deleted: a finished row's next step, keeping the row's place in
 * its contact's order. The id, or -1. */
long long store_outbox_put(struct store *st, long long id, long long account_id,
                           long long contact_id, long long message_id,
                           const char *kind, const char *payload);
/* The oldest queued row of each contact (rows without contact stand alone)
 * when its next_attempt <= now_ms (wall clock, wall_ms()), in id order, at
 * most max rows; a contact whose oldest row is not due yields nothing. fn is
 * called for each (no statement is pending, so it may use the store) and
 * may stop the scan by returning non-zero. */
int store_outbox_heads(struct store *st, long long now_ms, int max,
                       int (*fn)(const struct store_outbox *o, void *arg),
                       void *arg);
/* The account's queued rows without contact (id order, at most max),
 * then the oldest queued row of each of its contacts, contact by contact
 * in a circle from the first contact id above after round to after, at
 * most max contacts, whether due or not (next_attempt); fn as for
 * store_outbox_heads(). The number of contacts' rows read (fewer than
 * max: the circle is complete), or -1. */
int store_outbox_heads_of(struct store *st, long long account_id,
                          long long after, int max,
                          int (*fn)(const struct store_outbox *o, void *arg),
                          void *arg);
/* Calls fn for every account with queued rows; 0 or -1. */
int store_outbox_accounts(struct store *st,
                          void (*fn)(long long account_id, void *arg),
                          void *arg);
/* Calls fn for each account whose rows were queued (store_outbox_put())
 * since the last call, committed or not, and forgets them; 1 when there
 * were too many to keep (the caller then considers every account), else
 * 0. */
int store_outbox_queued_since(struct store *st,
                              void (*fn)(long long account_id, void *arg),
                              void *arg);
/* The earliest next_attempt after now_ms among the rows
 * store_outbox_heads() considers (the oldest row of each contact, rows
 * without contact); 0 when there is none. Rows due by now_ms are not
 * counted: the caller has just seen them. */
long long store_outbox_next_wakeup(struct store *st, long long now_ms);
int store_outbox_delete(struct store *st, long long id);
/* Records a failed attempt: attempts, next_attempt (ms) and the error. */
int store_outbox_retry(struct store *st, long long id, int attempts,
                       long long next_attempt, const char *last_error);
/* Pushes every queued row of the contact to at least next_attempt. */
/* An attempt whose outcome is unknown: marks the row (unknown = 1) and
 * records attempts, next attempt and error. */
int store_outbox_mark_unknown(struct store *st, long long id, int attempts,
                              long long next_attempt, const char *last_error);
int store_outbox_delay_contact(struct store *st, long long contact_id,
                               long long next_attempt);
long long store_outbox_count(struct store *st);

/* ---- inbox (network -> XMPP stanzas awaiting the ping barrier) ---- */
/* Queues a stanza; account_id may be 0 (none). created is wall_ms().
 * stanza_id names a message with content: such a row is kept for a while
 * after the ping confirmed it, in case the server bounces it (see
 * store_inbox_bounce()); NULL for stanzas not worth sending again. */
long long store_inbox_add(struct store *st, long long account_id,
                          const char *recipient, const char *stanza,
                          const char *stanza_id);
/* Queued rows with id > after_id in id order, at most max; fn may stop
 * early. */
int store_inbox_fetch(struct store *st, long long after_id, int max,
                      int (*fn)(const struct store_inbox *i, void *arg),
                      void *arg);
/* The highest inbox id the queue may read past (below the first row not
 * yet durable); 0 when none. */
long long store_inbox_last_id(struct store *st);
/* The ping after rows first..last was answered at now (ms): rows without a
 * stanza_id go, the others are kept as confirmed. */
int store_inbox_confirm(struct store *st, long long first, long long last,
                        long long now);
/* Deletes the confirmed rows settled before the cutoff (ms). */
int store_inbox_expire(struct store *st, long long cutoff);
/* The user's server bounced the message stanza_id of the account sent to
 * recipient (a bare JID; NULL: any; a team's members get rows with the
 * same stanza id): its row is held until store_inbox_release(). Returns 1
 * when held, 2 when it had bounced max_bounces times already (the row is
 * deleted), 0 when no such row is kept, -1 on error. */
int store_inbox_bounce(struct store *st, long long account_id,
                       const char *recipient, const char *stanza_id,
                       int max_bounces, long long now);
/* Queues the account's held rows for recipient (a bare JID, its full JIDs
 * included; NULL: for anybody) again, after every queued row, in their
 * order; the number of rows, or -1. */
long long store_inbox_release(struct store *st, long long account_id,
                              const char *recipient);
/* A file of contact_id is on its way: its slot keeps its place in the
 * contact's order (sent as placeholder if the slot expires first). The new
 * row's id, or -1. */
long long store_inbox_add_slot(struct store *st, long long account_id,
                               long long contact_id, const char *recipient,
                               const char *placeholder, const char *stanza_id);
/* store_inbox_add() for a stanza about contact_id: it waits behind the
 * contact's slots, if any. */
long long store_inbox_add_after(struct store *st, long long account_id,
                                long long contact_id, const char *recipient,
                                const char *stanza, const char *stanza_id);
/* The file of slot stanza_id is ready: stanza replaces the placeholder and
 * what is no longer behind any slot goes. The slot's contact id, 0 when
 * there is no such slot (it expired), -1 on error. */
long long store_inbox_slot_fill(struct store *st, long long account_id,
                                const char *stanza_id, const char *stanza);
/* Slots created before cutoff (ms) give up: their placeholders go, and
 * what waited behind them. The number of contacts concerned, or -1. */
long long store_inbox_slot_expire(struct store *st, long long cutoff);
/* When the oldest slot was created (ms); 0 when there is none. */
long long store_inbox_slot_oldest(struct store *st);
/* Rows waiting to be sent or confirmed. */
long long store_inbox_count(struct store *st);
/* Rows held after a bounce or a ping timeout. */
long long store_inbox_held(struct store *st);
/* The barrier ping after queued rows first..last got no answer in time:
 * they are held until store_inbox_unhold() or store_inbox_release(). */
int store_inbox_hold(struct store *st, long long first, long long last,
                     long long now);
/* Queues again, after every queued row, the rows held by
 * store_inbox_hold() whose recipient is of domain (all when NULL); the
 * number of rows, or -1. */
long long store_inbox_unhold(struct store *st, const char *domain);
/* Calls fn with the bare JID of every account with held rows. */
int store_inbox_held_accounts(struct store *st,
                              void (*fn)(const char *jid, void *arg),
                              void *arg);

/* ---- figures and failed work, for operators (store_admin.c) ---- */
struct store_stats {
    long long messages[2][STORE_NSTATUS]; /* [0] in, [1] out; by status */
    long long outbox_queued;              /* rows waiting to be sent */
    long long outbox_failed; /* rows that failed for good (retryable) */
    long long inbox;         /* stanzas waiting for the XMPP server */
    long long inbox_held;    /* bounced messages waiting for their user */
    long long accounts;
    long long accounts_paused; /* state other than "active" */
};

/* Fills s for one account (account_id > 0) or for all (0); 0 or -1. */
int store_stats_get(struct store *st, long long account_id,
                    struct store_stats *s);
/* The newest error recorded on an outbox row of the account, or NULL.
 * Caller frees. */
char *store_outbox_last_error(struct store *st, long long account_id);
/* Keeps a row that failed for good (state "failed") instead of deleting
 * it, so that it can be queued again. */
int store_outbox_fail(struct store *st, long long id, const char *last_error);
/* Queues the failed rows of the account (0: of all) again, due at once,
 * and moves their messages back to queued; the number of rows, or -1. */
long long store_outbox_requeue_failed(struct store *st, long long account_id);
/* Deletes the failed rows created before before_s (s since the epoch). */
int store_outbox_expire_failed(struct store *st, long long before_s);

/* ---- dedupe ---- */
/* Records key until expires (s since the epoch): 1 when new, 0 when already
 * seen, -1 on error. */
int store_seen_add(struct store *st, const char *key, long long expires);
/* Forgets the keys whose expiry is <= now_s. */
int store_seen_expire(struct store *st, long long now_s);

/* ---- statuses that arrived before the send request returned ---- */
int store_early_status_add(struct store *st, long long account_id,
                           const char *network_id, int status, int error_code,
                           const char *error_text);
/* Calls fn for each early status of network_id (oldest first), then
 * deletes them. */
int store_early_status_take(struct store *st, long long account_id,
                            const char *network_id,
                            void (*fn)(int status, int error_code,
                                       const char *error_text, void *arg),
                            void *arg);
/* Deletes early statuses recorded before before_s (s since the epoch) that
 * were never taken (e.g. for messages sent by other clients). */
int store_early_status_expire(struct store *st, long long before_s);

/* ---- teams (store_team.c) ---- */
/* The owner of a business number is its account's jid; the other people
 * who answer it are members. A JID is a member of one team at most. */
/* Adds jid (bare) to the account's team: 1 when added, 0 when it was a
 * member already, -2 when it is a member of another account's team, -1
 * on error. now: s since the epoch. */
int store_team_add(struct store *st, long long account_id, const char *jid,
                   long long now);
/* Removes jid from the team, with the conversations it held: 1 when
 * removed, 0 when it was no member, -1 on error. */
int store_team_remove(struct store *st, long long account_id, const char *jid);
/* The account whose team jid is in; 0 when none, -1 on error. */
long long store_team_account_of(struct store *st, const char *jid);
/* jid's own account, else that of the team jid is in; NULL when neither. */
struct store_account *store_account_own_or_team(struct store *st,
                                                const char *jid);
/* The number of members (the owner not counted), or -1. */
long long store_team_count(struct store *st, long long account_id);
/* Calls fn for every member's JID, in order; fn may stop early. */
int store_team_foreach(struct store *st, long long account_id,
                       int (*fn)(const char *jid, void *arg), void *arg);

/* Who holds a conversation (a contact of a team's account). */
struct store_claim {
    long long contact_id;
    long long account_id;
    char *holder;     /* bare JID */
    long long since;  /* s since the epoch */
    long long active; /* the holder's last message, s since the epoch */
};

void store_claim_free(struct store_claim *c);
/* The contact's claim, or NULL when nobody holds it. */
struct store_claim *store_claim_get(struct store *st, long long contact_id);
/* holder now holds the contact's conversation (since and active: now). */
int store_claim_set(struct store *st, long long account_id,
                    long long contact_id, const char *holder, long long now);
/* The holder was active in the conversation at now. */
int store_claim_touch(struct store *st, long long contact_id, long long now);
/* Nobody holds the conversation any more. */
int store_claim_drop(struct store *st, long long contact_id);
/* How many conversations of the account holder holds, or -1. */
long long store_claim_count(struct store *st, long long account_id,
                            const char *holder);

/* ---- files ferry serves itself (store_media.c) ---- */
struct store_media_file {
    char *token; /* the unguessable name in the URL and on disk */
    char *kind;  /* "image", "document", ... */
    char *mime;
    char *filename; /* the name to offer, or NULL */
    long long size;
    long long expires; /* s since the epoch */
};

void store_media_file_free(struct store_media_file *f);
int store_media_add(struct store *st, const struct store_media_file *f);
/* The file of token, expired or not; NULL when unknown. */
struct store_media_file *store_media_get(struct store *st, const char *token);
/* Calls fn for each file whose expiry is <= now_s (at most max per call),
 * then deletes their rows; the number of rows, or -1. */
int store_media_expire(struct store *st, long long now_s, int max,
                       void (*fn)(const char *token, void *arg), void *arg);

#endif
