/* SPDX-License-Identifier: MIT */
/* Queue policy. Outbox: the oldest row of each contact may be in flight,
 * one at a time, so messages leave in order; each account has a token
 * bucket; failures back off exponentially with jitter. Inbox: stanzas are
 * written in id order and a ping after each batch proves the server read
 * them; only then are the rows deleted. */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "component.h"
#include "jid.h"
#include "log.h"
#include "loop.h"
#include "message.h"
#include "metrics.h"
#include "queue.h"
#include "store.h"
#include "util.h"

#define QUEUE_MAX_INFLIGHT 32
#define QUEUE_MAX_ATTEMPTS 25
#define QUEUE_BACKOFF_FIRST_MS 1000
#define QUEUE_BACKOFF_MAX_MS 60000
#define QUEUE_PAIR_BACKOFF_MS 6000
#define QUEUE_INBOX_BATCH 100
#define QUEUE_MAX_PINGS 64 /* batches in flight before the barrier answers */
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
};

/* A user came back: its held messages go when ev fires. */
struct queue_release {
    long long account_id;
    struct event *ev;
    struct queue_release *next;
};

struct queue_bucket {
    long long account_id;
    double tokens;
    long long last_ms;
    long long paused_until;
    int penalty; /* consecutive rate limits */
    struct queue_bucket *next;
};

static struct {
    struct store *st;
    struct queue_ops ops;
    double rate;
    int in_txn;
    struct queue_flight flight[QUEUE_MAX_INFLIGHT];
    int nflight;
    struct queue_bucket *buckets;
    struct queue_release *releases;
    struct event *checkpoint;
    struct event *timer;
    struct event *housekeeping;
    int xmpp_up;
    long long inbox_sent;       /* highest inbox id written to the stream */
    long long inbox_expired_ms; /* last expiry of confirmed rows */
    int pings;                  /* barrier pings outstanding */
    long long wake_ms;          /* earliest time a bucket frees up, 0 if none */
    int hold;                   /* shutting down: no new requests */
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

/* Commits the turn's transaction; a failure is reported upward so that
 * what it held (a user's message) is bounced, not silently lost. */
static int queue_end(void)
{
    int rc;

    queue.in_txn = 0;
    rc = store_commit(queue.st);
    if (rc < 0)
        log_error("queue: commit failed; this turn's work is rolled back");
    if (queue.ops.committed != NULL)
        queue.ops.committed(rc == 0, queue.ops.arg);
    return rc;
}

static void queue_commit(void *arg)
{
    if (queue.in_txn)
        queue_end();
}

int queue_begin(void)
{
    if (queue.in_txn)
        return 0;
    if (store_begin(queue.st) < 0)
        return -1;
    queue.in_txn = 1;
    loop_defer(queue_commit, NULL);
    queue_kick();
    return 0;
}

int queue_flush(void)
{
    return queue.in_txn ? queue_end() : 0;
}

void queue_kick(void)
{
    loop_defer(queue_pass, NULL);
}

void queue_hold(void)
{
    queue.hold = 1;
}

static struct queue_bucket *queue_bucket(long long account_id)
{
    struct queue_bucket *b;

    for (b = queue.buckets; b != NULL; b = b->next)
        if (b->account_id == account_id)
            return b;
    b = xcalloc(1, sizeof(*b));
    b->account_id = account_id;
    b->tokens = queue.rate;
    b->last_ms = now_ms();
    b->next = queue.buckets;
    queue.buckets = b;
    return b;
}

/* Takes a token from the account's bucket; 0 when it must wait. */
static int queue_take_token(long long account_id)
{
    struct queue_bucket *b = queue_bucket(account_id);
    long long now = now_ms();
    long long wake;

    if (now < b->paused_until) {
        wake = b->paused_until;
    } else {
        b->tokens += (double)(now - b->last_ms) * queue.rate / 1000.0;
        if (b->tokens > queue.rate)
            b->tokens = queue.rate;
        b->last_ms = now;
        if (b->tokens >= 1.0) {
            b->tokens -= 1.0;
            return 1;
        }
        wake = now + (long long)(1000.0 / queue.rate) + 1;
    }
    if (queue.wake_ms == 0 || wake < queue.wake_ms)
        queue.wake_ms = wake;
    return 0;
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

static int queue_out_head(const struct store_outbox *o, void *arg)
{
    struct queue_flight *f;

    if (queue.nflight == QUEUE_MAX_INFLIGHT)
        return 1;
    if (queue_flight_find(o->id, o->contact_id) >= 0)
        return 0;
    if (!queue_take_token(o->account_id))
        return 0;
    f = &queue.flight[queue.nflight++];
    f->id = o->id;
    f->contact_id = o->contact_id;
    f->account_id = o->account_id;
    f->message_id = o->message_id;
    f->attempts = o->attempts;
    queue.ops.send(o, queue.ops.arg);
    return 0;
}

/* Arms the timer for the next row or bucket that becomes ready. Rows due
 * by seen (the time the pass read the heads at) are in flight or waiting
 * for a token: their completion or the bucket's wake time runs the queue
 * again, so they need no timer. A row that fell due while the pass ran
 * gets one at once: with the clock read again here, it was lost. */
static void queue_arm_timer(long long seen)
{
    long long next = store_outbox_next_wakeup(queue.st, seen);
    long long now = wall_ms(), mono = now_ms();
    long long delay = -1;

    if (next > 0)
        delay = next > now ? next - now : 0;
    if (queue.wake_ms > 0 && (delay < 0 || queue.wake_ms - mono < delay))
        delay = queue.wake_ms > mono ? queue.wake_ms - mono : 0;
    if (delay < 0)
        event_del(queue.timer);
    else
        loop_timer_start(queue.timer, delay);
}

static void queue_out_pass(void)
{
    long long now = wall_ms();

    if (queue.hold)
        return;
    queue.wake_ms = 0;
    store_outbox_heads(queue.st, now, QUEUE_MAX_INFLIGHT * 4, queue_out_head,
                       NULL);
    queue_arm_timer(now);
}

static void queue_on_timer(evutil_socket_t fd, short what, void *arg)
{
    queue_kick();
}

static void queue_flight_remove(int i)
{
    queue.flight[i] = queue.flight[--queue.nflight];
}

void queue_out_done(long long id)
{
    int i = queue_flight_find(id, 0);

    queue_begin();
    store_outbox_delete(queue.st, id);
    if (i >= 0) {
        queue_bucket(queue.flight[i].account_id)->penalty = 0;
        queue_flight_remove(i);
    }
    queue_kick();
}

void queue_out_failed(long long id, const char *error)
{
    int i = queue_flight_find(id, 0);

    queue_begin();
    store_outbox_fail(queue.st, id, error ? error : "failed");
    if (i >= 0)
        queue_flight_remove(i);
    queue_kick();
}

/* A rate limit pauses the whole account, longer each time in a row. */
static void queue_pause_account(long long account_id)
{
    struct queue_bucket *b = queue_bucket(account_id);

    if (b->penalty < 6)
        b->penalty++;
    b->paused_until =
        now_ms() + queue_jitter(QUEUE_BACKOFF_FIRST_MS << (b->penalty - 1));
    b->tokens = 0;
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
    queue_begin();
    if (f.attempts + 1 >= QUEUE_MAX_ATTEMPTS) {
        /* a message's row is kept for the Retry command */
        if (f.message_id != 0)
            store_outbox_fail(queue.st, id, error ? error : "failed");
        else
            store_outbox_delete(queue.st, id);
        queue_kick();
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
    queue_kick();
    return 0;
}

int queue_out_inflight(void)
{
    return queue.nflight;
}

/* ---- inbox: the confirmation barrier ---- */

struct queue_batch {
    long long first, last;
    int n;
    char domain[JID_MAX + 1];
};

static void queue_ping_done(xmpp_stanza_t *reply, void *arg)
{
    struct queue_batch *b = arg;
    long long now = wall_ms();

    if (reply != NULL) {
        queue_begin();
        store_inbox_confirm(queue.st, b->first, b->last, now);
        if (now - queue.inbox_expired_ms >= QUEUE_INBOX_EXPIRE_EVERY_MS) {
            store_inbox_expire(queue.st, now - QUEUE_INBOX_KEEP_MS);
            queue.inbox_expired_ms = now;
        }
        metrics_add(METRICS_XMPP_DELIVERED, (unsigned long long)b->n);
        queue.pings--;
        queue_kick();
    }
    free(b);
}

static int queue_in_send(const struct store_inbox *in, void *arg)
{
    struct queue_batch *b = arg;
    char *delayed = NULL;

    if (wall_ms() - in->created > QUEUE_DELAY_AFTER_MS)
        delayed =
            message_add_delay(in->stanza, component_jid(), in->created / 1000);
    if (delayed != NULL)
        component_send_raw(delayed, strlen(delayed));
    else
        component_send_raw(in->stanza, strlen(in->stanza));
    free(delayed);
    if (b->first == 0)
        b->first = in->id;
    b->last = in->id;
    b->n++;
    if (jid_domain(in->recipient, b->domain, sizeof(b->domain)) < 0)
        b->domain[0] = '\0';
    return 0;
}

/* The ping that closes a batch: its answer means the server read all of
 * it. */
static void queue_in_barrier(const struct queue_batch *b)
{
    xmpp_stanza_t *iq = xmpp_iq_new(component_ctx(), "get", NULL);
    xmpp_stanza_t *ping = xmpp_stanza_new(component_ctx());
    struct queue_batch *copy = xmalloc(sizeof(*copy));

    *copy = *b;
    xmpp_stanza_set_name(ping, "ping");
    xmpp_stanza_set_ns(ping, "urn:xmpp:ping");
    xmpp_stanza_add_child_ex(iq, ping, 0);
    xmpp_stanza_set_to(iq, b->domain[0] ? b->domain : component_jid());
    queue.pings++;
    component_send_iq(iq, queue_ping_done, copy);
    xmpp_stanza_release(iq);
}

static void queue_in_pass(void)
{
    struct queue_batch b;

    while (queue.xmpp_up && queue.pings < QUEUE_MAX_PINGS &&
           component_send_queue_len() < QUEUE_XMPP_QUEUE_HIGH) {
        b.first = b.last = 0;
        b.n = 0;
        b.domain[0] = '\0';
        store_inbox_fetch(queue.st, queue.inbox_sent, QUEUE_INBOX_BATCH,
                          queue_in_send, &b);
        if (b.last == 0)
            return;
        queue.inbox_sent = b.last;
        queue_in_barrier(&b);
    }
}

void queue_in_bounced(long long account_id, const char *stanza_id,
                      const char *why)
{
    int rc;

    queue_begin();
    rc = store_inbox_bounce(queue.st, account_id, stanza_id, QUEUE_MAX_BOUNCES,
                            wall_ms());
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
    free(r);
}

static void queue_release_due(evutil_socket_t fd, short what, void *arg)
{
    struct queue_release *r = arg;
    long long n;

    queue_begin();
    n = store_inbox_release(queue.st, r->account_id);
    if (n > 0) {
        log_info("queue: %lld held message(s) of account %lld sent again", n,
                 r->account_id);
        queue_kick();
    }
    queue_release_free(r);
}

void queue_in_release(long long account_id)
{
    struct queue_release *r;

    for (r = queue.releases; r != NULL; r = r->next)
        if (r->account_id == account_id)
            return; /* one release per return is enough */
    r = xcalloc(1, sizeof(*r));
    r->account_id = account_id;
    r->ev = event_new(loop_base(), -1, 0, queue_release_due, r);
    r->next = queue.releases;
    queue.releases = r;
    loop_timer_start(r->ev, QUEUE_RELEASE_AFTER_MS);
}

void queue_xmpp_state(int connected)
{
    queue.xmpp_up = connected;
    queue.inbox_sent = 0; /* unconfirmed rows go again after a reconnect */
    queue.pings = 0;
    if (connected)
        queue_kick();
}

static void queue_pass(void *arg)
{
    if (queue.timer == NULL)
        return; /* queue_free() ran: shutting down */
    if (queue.in_txn)
        queue_commit(NULL);
    /* everything that commits (the turn's transaction, a webhook's) kicks
     * the queue: a checkpoint follows a little later, once */
    if (!evtimer_pending(queue.checkpoint, NULL))
        loop_timer_start(queue.checkpoint, QUEUE_CHECKPOINT_MS);
    /* The pass reads the queues, the accounts and contacts of the rows it
     * sends, and may write (a row that fails at once): in one transaction
     * rather than one implicit transaction per statement. Requests start
     * only for rows committed before it. */
    if (store_begin(queue.st) == 0)
        queue.in_txn = 1;
    queue_out_pass();
    queue_in_pass();
    queue_commit(NULL);
}

/* Hourly: forget dedupe keys past their expiry, and statuses of messages
 * that were never ours (sent from the phone or another app). */
static void queue_housekeep(evutil_socket_t fd, short what, void *arg)
{
    queue_flush();
    store_seen_expire(queue.st, now_s());
    store_early_status_expire(queue.st, now_s() - QUEUE_EARLY_STATUS_TTL_S);
    store_outbox_expire_failed(queue.st, now_s() - QUEUE_FAILED_TTL_S);
    loop_timer_start(queue.housekeeping, QUEUE_HOUSEKEEPING_MS);
}

void queue_init(struct store *st, long long throughput,
                const struct queue_ops *ops)
{
    queue.st = st;
    queue.ops = *ops;
    queue.rate = (double)throughput;
    queue.timer = event_new(loop_base(), -1, 0, queue_on_timer, NULL);
    queue.housekeeping = event_new(loop_base(), -1, 0, queue_housekeep, NULL);
    queue.checkpoint = event_new(loop_base(), -1, 0, queue_checkpoint, NULL);
    loop_timer_start(queue.housekeeping, QUEUE_HOUSEKEEPING_MS);
    queue_kick();
}

void queue_set_throughput(long long per_second)
{
    queue.rate = (double)per_second;
}

void queue_free(void)
{
    struct queue_bucket *b;

    queue_flush();
    while (queue.releases != NULL) /* held rows stay held: a restart keeps */
        queue_release_free(queue.releases); /* them for the next presence */
    while ((b = queue.buckets) != NULL) {
        queue.buckets = b->next;
        free(b);
    }
    if (queue.timer != NULL) {
        event_free(queue.timer);
        event_free(queue.housekeeping);
        event_free(queue.checkpoint);
    }
    queue.timer = NULL;
}
