/* SPDX-License-Identifier: MIT */
/* Work-queue policy over the store: which outbox rows may go now (order
 * per contact, a token bucket per account, backoff and giving up), and
 * which inbox rows: a barrier ping (the XMPP side's, through struct
 * queue_ops) after each batch of stanzas, per recipient domain, with holds
 * and backoff for domains that do not answer. */
#ifndef FERRY_QUEUE_H
#define FERRY_QUEUE_H

struct store;
struct store_inbox;
struct store_outbox;

/* What an outbox row asks of the queue (struct queue_ops' row_flags). */
#define QUEUE_ROW_SLOW 1 /* may take long (a file): within the slots' share */
#define QUEUE_ROW_UNPACED 2 /* spends no token of the account's bucket */

/* How a question to the XMPP server ended: 1 answered, 0 no answer in
 * time, -1 the stream went down (as component_done_fn). */
typedef void (*queue_done_fn)(int rc, void *arg);

/* What the queue asks of the sides it schedules for (the bridge wires them;
 * the XMPP ones are the component's). */
struct queue_ops {
    /* Starts the network request for an outbox row. Exactly one of
     * queue_out_done(), queue_out_failed() or queue_out_retry() must
     * follow for o->id. */
    void (*send)(const struct store_outbox *o, void *arg);
    /* QUEUE_ROW_* flags of a row; NULL: none for every row. */
    int (*row_flags)(const struct store_outbox *o, void *arg);
    /* Writes an inbox row's stanza to the XMPP stream, with an XEP-0203
     * delay stamp when stamp is 1 (it waited). */
    void (*write)(const struct store_inbox *in, int stamp, void *arg);
    void *arg;
    /* The barrier: an XEP-0199 ping to domain whose answer proves the
     * server read every stanza written to the stream before it. */
    void (*ping)(const char *domain, long long timeout_ms, queue_done_fn done,
                 void *done_arg);
    /* After each connect: done(1) once the server runs its modules. */
    void (*ask_ready)(long long timeout_ms, queue_done_fn done, void *done_arg);
    /* Asks the server for the presence of jid (a user with held rows). */
    void (*probe)(const char *jid);
    /* Stanzas waiting to be written to the XMPP stream. */
    int (*backlog)(void);
    /* The XMPP server's domain (for a recipient without a readable one). */
    const char *(*server_domain)(void);
};

void queue_init(struct store *st, long long throughput,
                const struct queue_ops *ops);
void queue_set_throughput(long long per_second);
/* How long a team's history is kept (ms; 0: forever): the hourly
 * housekeeping forgets what is older. */
void queue_set_history_keep(long long ms);
/* How long rooms' messages are kept (seconds; 0: forever), by the same
 * housekeeping. */
void queue_set_room_keep(long long seconds);
void queue_free(void);

/* Runs the queues soon (after the current callback); they also run after
 * every end of the store's turn transaction (store_txn_begin()). */
void queue_kick(void);
/* Shutting down: start no new network requests (rows stay queued). */
void queue_hold(void);

/* The request for outbox row id finished for good (sent or failed). */
void queue_out_done(long long id);
/* The request for a message's outbox row failed for good: the row is kept
 * as failed (the Retry command queues it again). */
void queue_out_failed(long long id, const char *error);
/* The request failed transiently. Returns 1 when ferry gives up on the
 * row (the caller reports the failure; a message's row is kept as failed,
 * as by queue_out_failed(), others are deleted), else 0. */
int queue_out_retry(long long id, int rate_limited, int pair_limited,
                    const char *error);
/* The request may or may not have reached the contact (no answer, an
 * unreadable one, a failure after it was sent): the row is marked and
 * sent once more; a row marked already is retried as by
 * queue_out_retry() (whose result this returns), else 0. */
int queue_out_unknown(long long id, const char *error);
int queue_out_inflight(void);

/* The server of recipient (bare JID: the account's user or a member of
 * its team) bounced the message stanza_id the inbox gave it (why: the
 * error condition, for the log): the message is held for the user. */
void queue_in_bounced(long long account_id, const char *recipient,
                      const char *stanza_id, const char *why);
/* recipient (bare JID: the account's user or a member of its team) is
 * online again: its held messages go again, a moment later (after what
 * the server kept for the user itself). */
void queue_in_release(long long account_id, const char *recipient);

/* The XMPP stream came up (1) or went down (0). */
void queue_xmpp_state(int connected);

#endif
