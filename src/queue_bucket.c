/* SPDX-License-Identifier: MIT */
/* Each account's token bucket and its turn in the queue: the due list
 * (accounts whose rows are read at the next pass, in turn) and the
 * sleepers (accounts out of tokens, due again once a batch of tokens is
 * there), so that an account waiting for tokens costs nothing. */
#include <stdlib.h>
#include <string.h>

#include "queue_bucket.h"
#include "util.h"

/* An account out of tokens is due again once it has this many (or its
 * rate's worth, if lower): one read of its rows per batch of tokens, not
 * per token. */
#define QUEUE_BUCKET_BATCH 8
#define QUEUE_BUCKET_SLOTS 256 /* hash chains */

static struct {
    double rate;
    struct queue_bucket *all;
    struct queue_bucket *slots[QUEUE_BUCKET_SLOTS];
    struct queue_bucket *due, **due_tail; /* accounts to read, in turn */
    struct queue_bucket *sleepers;        /* accounts waiting for tokens */
    long long sleep_ms; /* earliest wake_ms of the sleepers, 0 if none */
} qb = {.due_tail = &qb.due};

void queue_bucket_rate(double rate)
{
    qb.rate = rate > 0 ? rate : 1;
}

struct queue_bucket *queue_bucket(long long account_id)
{
    unsigned int slot =
        (unsigned int)((unsigned long long)account_id % QUEUE_BUCKET_SLOTS);
    struct queue_bucket *b;

    for (b = qb.slots[slot]; b != NULL; b = b->chain)
        if (b->account_id == account_id)
            return b;
    b = xcalloc(1, sizeof(*b));
    b->account_id = account_id;
    b->tokens = qb.rate;
    b->last_ms = now_ms();
    b->chain = qb.slots[slot];
    qb.slots[slot] = b;
    b->next = qb.all;
    qb.all = b;
    return b;
}

void queue_bucket_due(struct queue_bucket *b, int why)
{
    if (b->due == 0) {
        b->next_due = NULL;
        *qb.due_tail = b;
        qb.due_tail = &b->next_due;
    }
    b->due |= why;
}

struct queue_bucket *queue_bucket_take_due(void)
{
    struct queue_bucket *list = qb.due;

    qb.due = NULL;
    qb.due_tail = &qb.due;
    return list;
}

void queue_bucket_put_back(struct queue_bucket *list)
{
    struct queue_bucket **tail;

    if (list == NULL)
        return;
    for (tail = &list->next_due; *tail != NULL; tail = &(*tail)->next_due)
        ;
    *tail = qb.due;
    if (qb.due == NULL)
        qb.due_tail = tail;
    qb.due = list;
}

int queue_bucket_refill(struct queue_bucket *b, long long now)
{
    if (now < b->paused_until)
        return 0;
    b->tokens += (double)(now - b->last_ms) * qb.rate / 1000.0;
    if (b->tokens > qb.rate)
        b->tokens = qb.rate;
    b->last_ms = now;
    return b->tokens >= 1.0;
}

int queue_bucket_take(struct queue_bucket *b, long long now)
{
    if (!queue_bucket_refill(b, now))
        return 0;
    b->tokens -= 1.0;
    return 1;
}

void queue_bucket_sleep(struct queue_bucket *b, long long now)
{
    double batch = qb.rate < QUEUE_BUCKET_BATCH ? qb.rate : QUEUE_BUCKET_BATCH;

    if (now < b->paused_until)
        b->wake_ms = b->paused_until;
    else
        b->wake_ms =
            now + (long long)((batch - b->tokens) * 1000.0 / qb.rate) + 1;
    if (!b->asleep) {
        b->asleep = 1;
        b->next_asleep = qb.sleepers;
        qb.sleepers = b;
    }
    if (qb.sleep_ms == 0 || b->wake_ms < qb.sleep_ms)
        qb.sleep_ms = b->wake_ms;
}

void queue_bucket_wake(long long now)
{
    struct queue_bucket **p = &qb.sleepers, *b;

    if (qb.sleep_ms == 0 || now < qb.sleep_ms)
        return;
    qb.sleep_ms = 0;
    while ((b = *p) != NULL) {
        if (b->wake_ms <= now) {
            *p = b->next_asleep;
            b->asleep = 0;
            queue_bucket_due(b, QUEUE_DUE_SLOT);
            continue;
        }
        if (qb.sleep_ms == 0 || b->wake_ms < qb.sleep_ms)
            qb.sleep_ms = b->wake_ms;
        p = &b->next_asleep;
    }
}

long long queue_bucket_next_wake(void)
{
    return qb.sleep_ms;
}

void queue_bucket_pause(struct queue_bucket *b, long long ms)
{
    b->paused_until = now_ms() + ms;
    b->tokens = 0;
}

void queue_bucket_free_all(void)
{
    struct queue_bucket *b;

    while ((b = qb.all) != NULL) {
        qb.all = b->next;
        free(b);
    }
    memset(qb.slots, 0, sizeof(qb.slots));
    qb.due = qb.sleepers = NULL;
    qb.due_tail = &qb.due;
    qb.sleep_ms = 0;
}
