/* SPDX-License-Identifier: MIT */
/* Queue policy. Outbox: the oldest row of each contact may be in flight,
 * one at a time, so messages leave in order; each account has a token
 * bucket (queue_bucket.c) and a few of the slots (fewer still for files),
 * so no user's slow transfers hold up another's messages; only accounts
 * with a reason (a slot freed, tokens came, rows queued) read their rows,
 * a few contacts at a time in turn, so a backlog waiting for tokens costs
 * nothing; failures back off exponentially with jitter, and a send of
 * unknown outcome goes once more.
 * Inbox: stanzas are written in id order and a barrier ping per recipient
 * domain after each batch proves the server read them; only then are the
 * rows confirmed. The XMPP side (writing, pinging) is given in queue_ops;
 * transactions are the store's (store_txn_begin()). */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "jid.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "queue.h"
#include "queue_bucket.h"
#include "store.h"
#include "store_room.h"
#include "store_history.h"
#include "util.h"

#define QUEUE_MAX_INFLIGHT 32
/* Files (a user's to send, a contact's to fetch) may be slow: they take at
 * most QUEUE_MAX_SLOW slots, the rest are kept for quick sends; an account
 * has at most QUEUE_ACCOUNT_INFLIGHT, QUEUE_ACCOUNT_SLOW of them files. */
#define QUEUE_MAX_SLOW 24
#define QUEUE_ACCOUNT_INFLIGHT 8
#define QUEUE_ACCOUNT_SLOW 4
/* Contacts' heads read per query of one account's rows. */
#define QUEUE_ACCOUNT_READ (2 * QUEUE_ACCOUNT_INFLIGHT)
#define QUEUE_MAX_ATTEMPTS 25
#define QUEUE_BACKOFF_FIRST_MS 1000
#define QUEUE_BACKOFF_MAX_MS 60000
#define QUEUE_PAIR_BACKOFF_MS 6000
#define QUEUE_INBOX_BATCH 100
/* Barrier pings outstanding per recipient domain; rows sent beyond that
 * wait for the next ping of their domain. */
#define QUEUE_DOMAIN_PINGS 8
/* Runs of rows (ids in fetch order) waiting for one domain's next ping;
 * beyond that the domain's rows are held until its retry. */
#define QUEUE_DOMAIN_RUNS 1024
/* A barrier ping without an answer in this long fails the rows it covers
 * (FERRY_PING_TIMEOUT_MS, for tests, sets it in ms). */
#define QUEUE_PING_TIMEOUT_MS 30000
#define QUEUE_READY_RETRY_MS 500
#define QUEUE_XMPP_QUEUE_HIGH 512
#define QUEUE_DELAY_AFTER_MS 5000 /* stamp XEP-0203 delay when older */
/* A confirmed message is kept this long in case the server bounces it
 * after the ping (the bounce comes within a round trip, even over s2s). */
#define QUEUE_INBOX_KEEP_MS 60000
#define QUEUE_INBOX_EXPIRE_EVERY_MS 5000
#define QUEUE_MAX_BOUNCES 10 /* then the message is dropped, with a warning */
/* Held messages go this long after the user's presence: a server hands
 * its offline store to the new session at about the time it broadcasts
 * the presence, and the held messages are newer than those. */
#define QUEUE_RELEASE_AFTER_MS 2000
#define QUEUE_HOUSEKEEPING_MS (3600 * 1000)
#define QUEUE_CHECKPOINT_MS 500 /* WAL checkpoint this long after a commit */
#define QUEUE_EARLY_STATUS_TTL_S 3600
#define QUEUE_FAILED_TTL_S (7 * 24 * 3600) /* failed rows kept for a retry */

struct queue_flight {
    long long id;
    long long contact_id;
    long long account_id;
    long long message_id; /* 0: not a message (read, typing...) */
    int attempts;
    int slow;    /* QUEUE_ROW_SLOW: a file */
    int unknown; /* an earlier attempt's outcome is unknown */
};

/* A user came back: its held messages go when ev fires. */
struct queue_release {
    long long account_id;
    char *recipient; /* bare JID of the user who is back */
    struct event *ev;
    struct queue_release *next;
};

/* Inbox rows first..last (ids in fetch order, all of one domain). */
struct queue_run {
    long long first, last;
};

/* The rows one barrier ping covers, or will once it is sent. */
struct queue_ping {
    struct queue_domain *d;
    struct queue_run *run;
    int nrun, cap;
    int n; /* rows */
};

/* The barrier of one recipient domain. */
struct queue_domain {
    char *name;
    int pings;               /* outstanding */
    struct queue_ping *open; /* rows sent whose ping is not yet */
    int failures;            /* pings in a row that got no answer */
    int blocked;             /* rows held until retry fires */
    struct event *retry;
    struct queue_domain *next;
};

static struct {
    struct store *st;
    struct queue_ops ops;
    int in_pass; /* queue_pass() runs */
    int kicked;  /* a pass is deferred and has not started */
    struct queue_flight flight[QUEUE_MAX_INFLIGHT];
    int nflight;
    long long rows_ms; /* wall clock: the next row to come due, 0 none */
    int full;          /* every account with queued rows is due */
    int slow_wait;     /* a file waits for the files' share of slots */
    struct queue_release *releases;
    struct event *checkpoint;
    struct event *timer;
    struct event *housekeeping;
    int xmpp_up;
    long long inbox_sent;         /* highest inbox id written to the stream */
    long long inbox_expired_ms;   /* last expiry of confirmed rows */
    struct queue_domain *domains; /* barrier state per recipient domain */
    int ready;                    /* the server answered disco#info */
    struct event *ready_retry;
    long long ping_timeout_ms;
    int hold;                  /* shutting down: no new requests */
    long long history_keep_ms; /* a team's history, 0: kept forever */
    long long room_keep_s;     /* rooms' messages, 0: kept forever */
    long long housekeeping_ms; /* how often housekeeping runs */
} queue;

static void queue_pass(void *arg);

static long long queue_jitter(long long ms)
{
    unsigned int r = 0;

    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
        r = 0;
    return ms / 2 + (long long)(r % (unsigned)(ms / 2 + 1));
}

static long long queue_backoff_ms(int attempts)
{
    long long ms = QUEUE_BACKOFF_FIRST_MS;

    while (--attempts > 0 && ms < QUEUE_BACKOFF_MAX_MS)
        ms *= 2;
    return queue_jitter(ms < QUEUE_BACKOFF_MAX_MS ? ms : QUEUE_BACKOFF_MAX_MS);
}

/* Copies the WAL into the database: SQLite's automatic checkpoint is off,
 * as it ran inside the commit a webhook's answer waits for. */
static void queue_checkpoint(evutil_socket_t fd, short what, void *arg)
{
    store_checkpoint(queue.st);
}

/* A run of the queues soon. A run asked for while one waits to run is
 * that run: it commits the turn's transaction before it reads, so it sees
 * what the asker wrote. (loop_defer() alone would queue a second pass when
 * the first waits in the batch of deferred calls now running: one more
 * read of the outbox per message.) */
static void queue_defer(void)
{
    if (queue.kicked)
        return;
    queue.kicked = 1;
    loop_defer(queue_pass, NULL);
}

/* Every end of the turn's transaction (one of its writers', a webhook's
 * flush) runs the queues: what it committed may go now (the store tells
 * whose outbox rows were queued). The pass's own commit does not, nor an
 * end while the WAL syncer has commits to flush: queue_durable() runs
 * them once it has. */
static void queue_txn_ended(int ok, void *arg)
{
    if (!queue.in_pass && store_txn_durable(queue.st))
        queue_defer();
}

/* Rows the WAL syncer made durable may go. */
static void queue_durable(int ok, void *arg)
{
    if (!queue.in_pass)
        queue_defer();
}

/* From outside the queue, what changed is not known: every account with
 * queued rows is read. */
void queue_kick(void)
{
    queue.full = 1;
    queue_defer();
}

void queue_hold(void)
{
    queue.hold = 1;
}

static void queue_due_rows(long long account_id, void *arg)
{
    queue_bucket_due(queue_bucket(account_id), QUEUE_DUE_ROWS);
}

static int queue_flight_find(long long id, long long contact_id)
{
    int i;

    for (i = 0; i < queue.nflight; i++)
        if (queue.flight[i].id == id ||
            (contact_id != 0 && queue.flight[i].contact_id == contact_id))
            return i;
    return -1;
}

static int queue_out_flags(const struct store_outbox *o)
{
    return queue.ops.row_flags ? queue.ops.row_flags(o, queue.ops.arg) : 0;
}

/* 1 when a row of the account (slow: a file) may take a slot now: within
 * the files' share of the slots and the account's share. */
static int queue_out_room(long long account_id, int slow)
{
    int i, slow_all = 0, mine = 0, slow_mine = 0;

    for (i = 0; i < queue.nflight; i++) {
        const struct queue_flight *f = &queue.flight[i];

        slow_all += f->slow;
        if (f->account_id == account_id) {
            mine++;
            slow_mine += f->slow;
        }
    }
    if (mine >= QUEUE_ACCOUNT_INFLIGHT)
        return 0;
    return !slow ||
           (slow_all < QUEUE_MAX_SLOW && slow_mine < QUEUE_ACCOUNT_SLOW);
}

static int queue_account_inflight(long long account_id)
{
    int i, n = 0;

    for (i = 0; i < queue.nflight; i++)
        n += queue.flight[i].account_id == account_id;
    return n;
}

/* One read of an account's rows: what stopped it. */
struct queue_read {
    struct queue_bucket *b;
    long long now;   /* wall clock: rows due by now may go */
    long long mono;  /* now_ms(), for the bucket */
    int dry;         /* a row waited for a token */
    int full;        /* no slot left: for the account (1) or for anyone (2) */
    long long last;  /* the contact of the last row done with */
    long long after; /* the read began after this contact */
    int wrapped;     /* the read went round past the last contact */
    long long first; /* the first contact of the pass's reads */
    int closed;      /* a read came to it again: every head was seen */
};

static int queue_out_head(const struct store_outbox *o, void *arg)
{
    struct queue_read *r = arg;
    struct queue_flight *f;
    int flags = queue_out_flags(o), slow = (flags & QUEUE_ROW_SLOW) != 0;

    if (o->contact_id > 0 && o->contact_id == r->first) {
        r->closed = 1;
        return 1;
    }
    if (r->first == 0)
        r->first = o->contact_id;
    if (o->contact_id > 0 && o->contact_id <= r->after)
        r->wrapped = 1;
    if (queue.nflight == QUEUE_MAX_INFLIGHT) {
        r->full = 2;
        return 1;
    }
    if (!store_outbox_durable(queue.st, o->id)) {
        /* its commit is not on disk yet: the contact waits, and the
         * account is read again when it is (queue_durable()) */
        store_outbox_note(queue.st, o->account_id);
    } else if (queue_flight_find(o->id, o->contact_id) < 0 &&
               o->next_attempt <= r->now) {
        if (!queue_out_room(o->account_id, slow)) {
            if (queue_account_inflight(o->account_id) >=
                QUEUE_ACCOUNT_INFLIGHT) {
                r->full = 1; /* a flight of the account ends first */
                return 1;
            }
            /* the files' share is taken: a quick row may still go, and
             * the next file to finish reads every account again */
            queue.slow_wait = 1;
        } else if (!(flags & QUEUE_ROW_UNPACED) &&
                   !queue_bucket_take(r->b, r->mono)) {
            r->dry = 1; /* it keeps its turn: last stays */
            return 0;
        } else {
            f = &queue.flight[queue.nflight++];
            f->id = o->id;
            f->contact_id = o->contact_id;
            f->account_id = o->account_id;
            f->message_id = o->message_id;
            f->attempts = o->attempts;
            f->slow = slow;
            f->unknown = o->unknown;
            queue.ops.send(o, queue.ops.arg);
        }
    }
    if (!r->dry && o->contact_id > 0)
        r->last = o->contact_id;
    return 0;
}

/* Reads the account's heads from where its last read stopped (its
 * contacts take turns) and sends what its slots and tokens allow; a read
 * is a few contacts, whatever its backlog. 1 when no slot is left for any
 * account. */
static int queue_account_pass(struct queue_bucket *b, long long now,
                              long long mono)
{
    struct queue_read r = {.b = b, .now = now, .mono = mono, .last = b->cursor};
    long long start = b->cursor;
    int due = b->due, n;

    b->due = 0;
    if (queue.nflight == QUEUE_MAX_INFLIGHT) {
        b->due = due;
        return 1;
    }
    if (queue_account_inflight(b->account_id) >= QUEUE_ACCOUNT_INFLIGHT)
        return 0; /* one of its flights ends first, and makes it due */
    if (!(due & QUEUE_DUE_ROWS) && !queue_bucket_refill(b, mono)) {
        queue_bucket_sleep(b, mono);
        return 0;
    }
    /* usually one read; more only while every head read was in flight,
     * not due or not yet durable, until the circle of its contacts is
     * closed: past where the pass began, or back at the first contact
     * read (the contact the pass began after may have no head left) */
    do {
        r.after = r.last;
        n = store_outbox_heads_of(queue.st, b->account_id, r.after,
                                  QUEUE_ACCOUNT_READ, queue_out_head, &r);
    } while (n == QUEUE_ACCOUNT_READ && !r.full && !r.dry && !r.closed &&
             !(r.wrapped && (start == 0 || r.last >= start)));
    b->cursor = r.last;
    if (r.dry)
        queue_bucket_sleep(b, mono);
    if (r.full == 2) {
        b->due = due | QUEUE_DUE_SLOT;
        return 1;
    }
    return 0;
}

/* Arms the timer for the next row or account that becomes ready. Rows due
 * by seen (the time the pass read at) are in flight, waiting for a token
 * or a slot, or of accounts not due: a completion, the sleepers' wake or
 * new rows run the queue again, so they need no timer. A row that fell due
 * while the pass ran gets one at once: with the clock read again here, it
 * was lost. */
static void queue_arm_timer(long long seen)
{
    long long next = store_outbox_next_wakeup(queue.st, seen);
    long long now = wall_ms(), mono = now_ms();
    long long delay = -1, wake = queue_bucket_next_wake();

    queue.rows_ms = next;
    if (next > 0)
        delay = next > now ? next - now : 0;
    if (wake > 0 && (delay < 0 || wake - mono < delay))
        delay = wake > mono ? wake - mono : 0;
    if (delay < 0)
        event_del(queue.timer);
    else
        loop_timer_start(queue.timer, delay);
}

/* The accounts that are due read their rows, in turn; those left when the
 * slots run out keep their place ahead of accounts due since. */
static void queue_out_pass(void)
{
    long long now = wall_ms(), mono = now_ms();
    struct queue_bucket *list, *b;

    if (queue.hold)
        return;
    if (queue.rows_ms > 0 && now >= queue.rows_ms)
        queue.full = 1; /* a row came due: its account is not known */
    if (store_outbox_queued_since(queue.st, queue_due_rows, NULL))
        queue.full = 1;
    if (queue.full) {
        queue.full = 0;
        store_outbox_accounts(queue.st, queue_due_rows, NULL);
    }
    queue_bucket_wake(mono);
    list = queue_bucket_take_due();
    while ((b = list) != NULL) {
        list = b->next_due;
        if (!queue_account_pass(b, now, mono))
            continue;
        b->next_due = list;
        queue_bucket_put_back(b);
        break;
    }
    queue_arm_timer(now);
}

static void queue_on_timer(evutil_socket_t fd, short what, void *arg)
{
    queue_defer();
}

/* Flight f ended: its account's slot is free (and a file's, for any
 * account whose file waited for one). */
static void queue_freed(const struct queue_flight *f)
{
    if (f->slow && queue.slow_wait) {
        queue.slow_wait = 0;
        queue.full = 1;
    }
    queue_bucket_due(queue_bucket(f->account_id), QUEUE_DUE_SLOT);
    queue_defer();
}

static void queue_flight_remove(int i)
{
    queue.flight[i] = queue.flight[--queue.nflight];
}

void queue_out_done(long long id)
{
    int i = queue_flight_find(id, 0);

    store_txn_begin(queue.st);
    store_outbox_delete(queue.st, id);
    if (i < 0) {
        queue_kick(); /* not a flight: whose row comes next is not known */
        return;
    }
    queue_bucket(queue.flight[i].account_id)->penalty = 0;
    queue_freed(&queue.flight[i]);
    queue_flight_remove(i);
}

void queue_out_failed(long long id, const char *error)
{
    int i = queue_flight_find(id, 0);

    store_txn_begin(queue.st);
    store_outbox_fail(queue.st, id, error ? error : "failed");
    if (i < 0) {
        queue_kick();
        return;
    }
    queue_freed(&queue.flight[i]);
    queue_flight_remove(i);
}

/* A rate limit pauses the whole account, longer each time in a row. */
static void queue_pause_account(long long account_id)
{
    struct queue_bucket *b = queue_bucket(account_id);

    if (b->penalty < 6)
        b->penalty++;
    queue_bucket_pause(
        b, queue_jitter(QUEUE_BACKOFF_FIRST_MS << (b->penalty - 1)));
}

int queue_out_retry(long long id, int rate_limited, int pair_limited,
                    const char *error)
{
    int i = queue_flight_find(id, 0);
    struct queue_flight f;
    long long next;

    if (i < 0)
        return 0;
    f = queue.flight[i];
    queue_flight_remove(i);
    store_txn_begin(queue.st);
    if (f.attempts + 1 >= QUEUE_MAX_ATTEMPTS) {
        /* a message's row is kept for the Retry command */
        if (f.message_id != 0)
            store_outbox_fail(queue.st, id, error ? error : "failed");
        else
            store_outbox_delete(queue.st, id);
        queue_freed(&f);
        return 1;
    }
    next = wall_ms() + queue_backoff_ms(f.attempts + 1);
    store_outbox_retry(queue.st, id, f.attempts + 1, next, error);
    if (rate_limited)
        queue_pause_account(f.account_id);
    if (pair_limited && f.contact_id != 0)
        store_outbox_delay_contact(
            queue.st, f.contact_id,
            wall_ms() + queue_jitter(QUEUE_PAIR_BACKOFF_MS * (f.attempts + 1)));
    log_info("queue: outbox row %lld: attempt %d failed (%s); retrying", id,
             f.attempts + 1, error ? error : "no reason");
    queue_freed(&f);
    return 0;
}

int queue_out_unknown(long long id, const char *error)
{
    int i = queue_flight_find(id, 0);
    struct queue_flight f;

    if (i < 0)
        return 0;
    metrics_inc(METRICS_OUT_UNKNOWN);
    if (queue.flight[i].unknown) /* marked already: retried as usual */
        return queue_out_retry(id, 0, 0, error);
    f = queue.flight[i];
    queue_flight_remove(i);
    store_txn_begin(queue.st);
    store_outbox_mark_unknown(queue.st, id, f.attempts + 1,
                              wall_ms() + queue_backoff_ms(f.attempts + 1),
                              error);
    log_warn("queue: outbox row %lld: outcome unknown (%s); it may have "
             "reached the contact; sending it once more",
             id, error ? error : "no reason");
    queue_freed(&f);
    return 0;
}

int queue_out_inflight(void)
{
    return queue.nflight;
}

/* ---- inbox: the confirmation barrier ---- */

static void queue_ping_free(struct queue_ping *p)
{
    if (p == NULL)
        return;
    free(p->run);
    free(p);
}

/* Adds row id to p: the same run when it follows prev (the row fetched
 * just before it), else a new one. 0, or -1 when p has its most runs. */
static int queue_ping_add(struct queue_ping *p, long long id, long long prev)
{
    if (p->nrun > 0 && p->run[p->nrun - 1].last == prev) {
        p->run[p->nrun - 1].last = id;
        p->n++;
        return 0;
    }
    if (p->nrun == QUEUE_DOMAIN_RUNS)
        return -1;
    if (p->nrun == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 4;
        p->run = xrealloc(p->run, (size_t)p->cap * sizeof(*p->run));
    }
    p->run[p->nrun].first = p->run[p->nrun].last = id;
    p->nrun++;
    p->n++;
    return 0;
}

static void queue_domain_retry(evutil_socket_t fd, short what, void *arg);

static struct queue_domain *queue_domain(const char *name)
{
    struct queue_domain *d;

    for (d = queue.domains; d != NULL; d = d->next)
        if (strcasecmp(d->name, name) == 0)
            return d;
    d = xcalloc(1, sizeof(*d));
    d->name = xstrdup(name);
    d->retry = event_new(loop_base(), -1, 0, queue_domain_retry, d);
    d->next = queue.domains;
    queue.domains = d;
    return d;
}

/* The rows of p are held (state 5) until their domain's retry. */
static void queue_ping_hold(const struct queue_ping *p)
{
    int i;

    if (p == NULL)
        return;
    store_txn_begin(queue.st);
    for (i = 0; i < p->nrun; i++)
        store_inbox_hold(queue.st, p->run[i].first, p->run[i].last, wall_ms());
}

/* The domain takes no rows for a while (they are held), longer after each
 * ping in a row that got no answer. */
static void queue_domain_block(struct queue_domain *d, long long ms)
{
    if (d->blocked)
        return;
    d->blocked = 1;
    loop_timer_start(d->retry, ms);
}

/* The domain's wait is over: its held rows go again. */
static void queue_domain_retry(evutil_socket_t fd, short what, void *arg)
{
    struct queue_domain *d = arg;
    long long n;

    d->blocked = 0;
    store_txn_begin(queue.st);
    n = store_inbox_unhold(queue.st, d->name);
    if (n > 0)
        log_info("queue: %lld held message(s) to %s sent again", n, d->name);
    queue_defer();
}

/* No answer in time: the rows of p, and those sent after it to the same
 * domain, are held and tried again after a backoff. */
static void queue_ping_timeout(struct queue_ping *p)
{
    struct queue_domain *d = p->d;
    long long ms;

    metrics_inc(METRICS_PING_TIMEOUT);
    queue_ping_hold(p);
    queue_ping_hold(d->open);
    queue_ping_free(d->open);
    d->open = NULL;
    if (d->blocked)
        return;
    d->failures++;
    ms = queue_backoff_ms(d->failures);
    log_warn("queue: %s did not answer the barrier ping in %lld ms; its "
             "messages are held and tried again in %lld ms",
             d->name, queue.ping_timeout_ms, ms);
    queue_domain_block(d, ms);
}

static void queue_ping_send(struct queue_domain *d);

/* How a barrier ping ended (queue_ops.ping): answered (1), no answer in
 * time (0: the rows are held) or a disconnect (-1: the rows go again after
 * the reconnect). */
static void queue_ping_done(int rc, void *arg)
{
    struct queue_ping *p = arg;
    struct queue_domain *d = p->d;
    long long now = wall_ms();
    int i;

    if (rc < 0) {
        queue_ping_free(p);
        return; /* queue_xmpp_state(0) follows */
    }
    d->pings--;
    store_txn_begin(queue.st);
    if (rc == 0) {
        queue_ping_timeout(p);
        queue_ping_free(p);
        return;
    }
    for (i = 0; i < p->nrun; i++)
        store_inbox_confirm(queue.st, p->run[i].first, p->run[i].last, now);
    if (now - queue.inbox_expired_ms >= QUEUE_INBOX_EXPIRE_EVERY_MS) {
        store_inbox_expire(queue.st, now - QUEUE_INBOX_KEEP_MS);
        queue.inbox_expired_ms = now;
    }
    metrics_add(METRICS_XMPP_DELIVERED, (unsigned long long)p->n);
    d->failures = 0;
    queue_ping_free(p);
    queue_ping_send(d);
    queue_defer();
}

/* Sends the ping that closes the rows of d sent since its last one: its
 * answer means the server took all of them (the stream and the route to
 * the domain keep their order). Waits while d has its most pings out. */
static void queue_ping_send(struct queue_domain *d)
{
    struct queue_ping *p = d->open;

    if (p == NULL || d->pings >= QUEUE_DOMAIN_PINGS)
        return;
    d->open = NULL;
    d->pings++;
    queue.ops.ping(d->name, queue.ping_timeout_ms, queue_ping_done, p);
}

/* One fetched row: written, and added to its domain's next ping; or held
 * while that domain is blocked. */
static int queue_in_send(const struct store_inbox *in, void *arg)
{
    char domain[JID_MAX + 1];
    struct queue_domain *d;
    long long prev = queue.inbox_sent;

    queue.inbox_sent = in->id;
    if (jid_domain(in->recipient, domain, sizeof(domain)) < 0)
        snprintf(domain, sizeof(domain), "%s", queue.ops.server_domain());
    d = queue_domain(domain);
    if (d->open == NULL && !d->blocked) {
        d->open = xcalloc(1, sizeof(*d->open));
        d->open->d = d;
    }
    if (d->blocked || queue_ping_add(d->open, in->id, prev) < 0) {
        store_txn_begin(queue.st);
        store_inbox_hold(queue.st, in->id, in->id, wall_ms());
        /* too many runs wait for its ping: a breath, then again */
        queue_domain_block(d, QUEUE_BACKOFF_FIRST_MS);
        return 0;
    }
    queue.ops.write(in, wall_ms() - in->created > QUEUE_DELAY_AFTER_MS,
                    queue.ops.arg);
    return 0;
}

static void queue_in_pass(void)
{
    struct queue_domain *d;
    long long before, last;
    int rc;

    while (queue.xmpp_up && queue.ready &&
           queue.ops.backlog() < QUEUE_XMPP_QUEUE_HIGH) {
        before = queue.inbox_sent;
        rc = store_inbox_fetch(queue.st, queue.inbox_sent, QUEUE_INBOX_BATCH,
                               queue_in_send, NULL);
        for (d = queue.domains; d != NULL; d = d->next)
            queue_ping_send(d);
        if (queue.inbox_sent != before)
            continue;
        /* Nothing queued after the cursor: the rows after it are all
         * settled or held (a held row comes back under a new id), so the
         * cursor skips them rather than every pass reading them again
         * (after a reconnect, a minute of confirmed rows). */
        last = rc == 0 ? store_inbox_last_id(queue.st) : 0;
        if (last > queue.inbox_sent)
            queue.inbox_sent = last;
        return;
    }
}

void queue_in_bounced(long long account_id, const char *recipient,
                      const char *stanza_id, const char *why)
{
    int rc;

    store_txn_begin(queue.st);
    rc = store_inbox_bounce(queue.st, account_id, recipient, stanza_id,
                            QUEUE_MAX_BOUNCES, wall_ms());
    if (rc == 1)
        log_info("queue: message %s bounced (%s); held until its user is "
                 "online",
                 stanza_id, why);
    else if (rc == 2)
        log_warn("queue: message %s bounced %d times (%s); dropped", stanza_id,
                 QUEUE_MAX_BOUNCES, why);
}

static void queue_release_free(struct queue_release *r)
{
    struct queue_release **p = &queue.releases;

    while (*p != NULL && *p != r)
        p = &(*p)->next;
    if (*p == r)
        *p = r->next;
    event_free(r->ev);
    free(r->recipient);
    free(r);
}

static void queue_release_due(evutil_socket_t fd, short what, void *arg)
{
    struct queue_release *r = arg;
    long long n;

    store_txn_begin(queue.st);
    n = store_inbox_release(queue.st, r->account_id, r->recipient);
    if (n > 0) {
        log_info("queue: %lld held message(s) of account %lld sent again", n,
                 r->account_id);
        queue_defer();
    }
    queue_release_free(r);
}

void queue_in_release(long long account_id, const char *recipient)
{
    struct queue_release *r;

    for (r = queue.releases; r != NULL; r = r->next)
        if (r->account_id == account_id && strcmp(r->recipient, recipient) == 0)
            return; /* one release per return is enough */
    r = xcalloc(1, sizeof(*r));
    r->account_id = account_id;
    r->recipient = xstrdup(recipient);
    r->ev = event_new(loop_base(), -1, 0, queue_release_due, r);
    r->next = queue.releases;
    queue.releases = r;
    loop_timer_start(r->ev, QUEUE_RELEASE_AFTER_MS);
}

/* Asks the server for the presence of a user with held messages: an
 * online user's answer releases them (queue_in_release()). */
static void queue_probe(const char *jid, void *arg)
{
    queue.ops.probe(jid);
}

static void queue_ready_probe(void);

/* The server's answer to the readiness query after a connect (1: it runs
 * its modules, offline storage among them, not only the component port);
 * anything else is asked again a little later. */
static void queue_ready_done(int rc, void *arg)
{
    if (!queue.xmpp_up || rc < 0)
        return;
    if (rc == 1) {
        queue.ready = 1;
        queue_defer();
        return;
    }
    loop_timer_start(queue.ready_retry, QUEUE_READY_RETRY_MS);
}

static void queue_ready_probe(void)
{
    queue.ops.ask_ready(queue.ping_timeout_ms, queue_ready_done, NULL);
}

static void queue_ready_again(evutil_socket_t fd, short what, void *arg)
{
    if (queue.xmpp_up && !queue.ready)
        queue_ready_probe();
}

void queue_xmpp_state(int connected)
{
    struct queue_domain *d;

    queue.xmpp_up = connected;
    queue.inbox_sent = 0; /* unconfirmed rows go again after a reconnect */
    for (d = queue.domains; d != NULL; d = d->next) {
        d->pings = 0;
        queue_ping_free(d->open);
        d->open = NULL;
    }
    /* inbox rows wait after each connect until the server shows it runs
     * more than its component port (see queue_ready_done()) */
    queue.ready = 0;
    event_del(queue.ready_retry);
    if (connected) {
        store_inbox_held_accounts(queue.st, queue_probe, NULL);
        queue_ready_probe();
    }
}

static void queue_pass(void *arg)
{
    queue.kicked = 0;
    if (queue.timer == NULL)
        return; /* queue_free() ran: shutting down */
    queue.in_pass = 1;
    store_txn_commit(queue.st);
    /* everything that commits (the turn's transaction, a webhook's) kicks
     * the queue: a checkpoint follows a little later, once */
    if (!evtimer_pending(queue.checkpoint, NULL))
        loop_timer_start(queue.checkpoint, QUEUE_CHECKPOINT_MS);
    /* The pass reads the queues, the accounts and contacts of the rows it
     * sends, and may write (a row that fails at once): in one transaction
     * rather than one implicit transaction per statement. Requests start
     * only for rows committed before it. */
    store_txn_begin(queue.st);
    queue_out_pass();
    queue_in_pass();
    store_txn_commit(queue.st);
    queue.in_pass = 0;
}

/* Hourly: forget dedupe keys past their expiry, statuses of messages
 * that were never ours (sent from the phone or another app), a team's
 * history past [team] history_days and rooms' messages past [groups]
 * history_days. */
static void queue_housekeep(evutil_socket_t fd, short what, void *arg)
{
    store_txn_commit(queue.st);
    store_seen_expire(queue.st, now_s());
    store_early_status_expire(queue.st, now_s() - QUEUE_EARLY_STATUS_TTL_S);
    store_outbox_expire_failed(queue.st, now_s() - QUEUE_FAILED_TTL_S);
    if (queue.history_keep_ms > 0)
        store_history_expire(queue.st, wall_ms() - queue.history_keep_ms);
    if (queue.room_keep_s > 0 &&
        store_room_expire(queue.st, now_s() - queue.room_keep_s) > 0)
        log_debug("queue: rooms' messages past their days forgotten");
    loop_timer_start(queue.housekeeping, queue.housekeeping_ms);
}

void queue_init(struct store *st, long long throughput,
                const struct queue_ops *ops)
{
    const char *env;

    queue.st = st;
    queue.ops = *ops;
    queue.kicked = 0;
    store_txn_hook(st, queue_txn_ended, NULL);
    store_txn_durable_hook(st, queue_durable, NULL);
    queue_bucket_rate((double)throughput);
    queue.timer = event_new(loop_base(), -1, 0, queue_on_timer, NULL);
    queue.housekeeping = event_new(loop_base(), -1, 0, queue_housekeep, NULL);
    queue.checkpoint = event_new(loop_base(), -1, 0, queue_checkpoint, NULL);
    queue.ready_retry = event_new(loop_base(), -1, 0, queue_ready_again, NULL);
    queue.housekeeping_ms = QUEUE_HOUSEKEEPING_MS;
    env = getenv("FERRY_HOUSEKEEPING_MS"); /* for tests */
    if (env != NULL &&
        parse_ll(env, 100, QUEUE_HOUSEKEEPING_MS, &queue.housekeeping_ms) < 0) {
        log_warn("queue: FERRY_HOUSEKEEPING_MS=%s is not 100..%d; using %d",
                 env, QUEUE_HOUSEKEEPING_MS, QUEUE_HOUSEKEEPING_MS);
        queue.housekeeping_ms = QUEUE_HOUSEKEEPING_MS;
    }
    loop_timer_start(queue.housekeeping, queue.housekeeping_ms);
    queue.ping_timeout_ms = QUEUE_PING_TIMEOUT_MS;
    env = getenv("FERRY_PING_TIMEOUT_MS");
    if (env != NULL && parse_ll(env, 100, 3600000, &queue.ping_timeout_ms) < 0)
        log_warn("queue: FERRY_PING_TIMEOUT_MS=%s is not 100..3600000; "
                 "using %d",
                 env, QUEUE_PING_TIMEOUT_MS);
    if (store_inbox_unhold(queue.st, NULL) > 0) /* a new run: try them */
        log_info("queue: messages held for silent domains sent again");
    queue_kick();
}

void queue_set_throughput(long long per_second)
{
    queue_bucket_rate((double)per_second);
}

void queue_set_history_keep(long long ms)
{
    queue.history_keep_ms = ms;
}

void queue_set_room_keep(long long seconds)
{
    queue.room_keep_s = seconds;
}

void queue_free(void)
{
    struct queue_domain *d;

    store_txn_commit(queue.st);
    while (queue.releases != NULL) /* held rows stay held: a restart keeps */
        queue_release_free(queue.releases); /* them for the next presence */
    queue_bucket_free_all();
    queue.rows_ms = 0;
    while ((d = queue.domains) != NULL) {
        queue.domains = d->next;
        queue_ping_free(d->open);
        event_free(d->retry);
        free(d->name);
        free(d);
    }
    if (queue.timer != NULL) {
        event_free(queue.timer);
        event_free(queue.housekeeping);
        event_free(queue.checkpoint);
        event_free(queue.ready_retry);
    }
    queue.timer = NULL;
}
