/* SPDX-License-Identifier: MIT */
/* Private to the queue: each account's token bucket and its turn
 * (queue_bucket.c). Accounts with a reason to be read wait on the due
 * list, in turn; accounts out of tokens sleep until a batch of them is
 * there, behind one timer for all (the queue arms it). */
#ifndef FERRY_QUEUE_BUCKET_H
#define FERRY_QUEUE_BUCKET_H

/* Why an account's rows are read at the next pass (struct queue_bucket's
 * due): only accounts with a reason are read, so rows that cannot go yet
 * are not read again and again. */
#define QUEUE_DUE_SLOT 1 /* one of its requests ended, or its tokens came */
#define QUEUE_DUE_ROWS                                                         \
    2 /* rows were queued or came due: read them even                          \
         without tokens (unpaced rows need none) */

struct queue_bucket {
    long long account_id;
    double tokens;
    long long last_ms;
    long long paused_until;
    int penalty;                /* consecutive rate limits */
    int due;                    /* QUEUE_DUE_*: on a due list while not 0 */
    int asleep;                 /* on the sleepers' list, until wake_ms */
    long long wake_ms;          /* when a batch of tokens is there (now_ms()) */
    long long cursor;           /* the contact its last read stopped at */
    struct queue_bucket *chain; /* the same hash slot */
    struct queue_bucket *next_due;    /* the due list */
    struct queue_bucket *next_asleep; /* the sleepers */
    struct queue_bucket *next;        /* every bucket */
};

/* Every bucket's rate (tokens per second, also its size). */
void queue_bucket_rate(double rate);
/* The account's bucket, made full on first use. */
struct queue_bucket *queue_bucket(long long account_id);
/* The account is read at the next pass, after those due before it; why
 * is a QUEUE_DUE_* bit. */
void queue_bucket_due(struct queue_bucket *b, int why);
/* The due list, taken whole (linked by next_due; each keeps its due
 * bits until read): accounts made due meanwhile start a new one. */
struct queue_bucket *queue_bucket_take_due(void);
/* A taken list's rest (list and what follows it) is due again, ahead of
 * the accounts made due since it was taken. */
void queue_bucket_put_back(struct queue_bucket *list);
/* Fills the bucket up to now (not while paused); 1 when it holds a
 * token. */
int queue_bucket_refill(struct queue_bucket *b, long long now);
/* Takes a token; 0 when the account must wait. */
int queue_bucket_take(struct queue_bucket *b, long long now);
/* The account waits for tokens: due again once it has a batch of them,
 * or when its pause ends. */
void queue_bucket_sleep(struct queue_bucket *b, long long now);
/* The sleepers whose tokens came (by now) are due. */
void queue_bucket_wake(long long now);
/* The earliest wake of a sleeper (now_ms()), 0 when none sleeps. */
long long queue_bucket_next_wake(void);
/* A rate limit: no tokens for ms. */
void queue_bucket_pause(struct queue_bucket *b, long long ms);
void queue_bucket_free_all(void);

#endif
