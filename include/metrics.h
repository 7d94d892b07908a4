/* SPDX-License-Identifier: MIT */
/* Counters and a latency histogram, kept in memory since start; any
 * module may count. metrics_export.h serves them at /metrics. */
#ifndef FERRY_METRICS_H
#define FERRY_METRICS_H

struct buf;

enum metrics_counter {
    METRICS_OUT_SENT,         /* requests the network accepted */
    METRICS_OUT_RETRY,        /* transient failures (retried) */
    METRICS_OUT_FAILED,       /* permanent failures */
    METRICS_OUT_AUTH,         /* rejected credentials */
    METRICS_IN_MESSAGE,       /* messages and actions from the network */
    METRICS_IN_STATUS,        /* statuses from the network */
    METRICS_IN_DUPLICATE,     /* events seen before (dropped) */
    METRICS_WEBHOOK_OK,       /* webhooks stored and answered 200 */
    METRICS_REJECT_SIGNATURE, /* webhooks refused: bad or no signature */
    METRICS_REJECT_MALFORMED, /* webhooks refused: not parseable */
    METRICS_REJECT_STORE,     /* webhooks refused: store failure (500) */
    METRICS_REJECT_BUSY,      /* webhooks refused: over a cap (503) */
    METRICS_REJECT_TOO_LARGE, /* webhooks refused: body over the cap (413) */
    METRICS_XMPP_DELIVERED,   /* stanzas confirmed by the ping barrier */
    METRICS_XMPP_FORGED,      /* iq replies from a JID we did not ask */
    METRICS_PING_TIMEOUT,     /* barrier pings never answered */
    METRICS_OUT_UNKNOWN,      /* sends whose outcome is unknown */
    METRICS_NCOUNTERS,
};

/* Starts the uptime clock. */
void metrics_init(void);
void metrics_inc(enum metrics_counter c);
void metrics_add(enum metrics_counter c, unsigned long long n);
unsigned long long metrics_get(enum metrics_counter c);
/* Records the duration of one outgoing HTTP request. */
void metrics_observe_http_ms(long long ms);
/* Seconds since metrics_init(). */
long long metrics_uptime(void);
/* Appends the counters and the histogram in the Prometheus text format. */
void metrics_write(struct buf *b);

/* metrics_team.c: per business number (account id) since start. */
struct metrics_team_stat {
    unsigned long long first_count, resolved_count;
    long long first_sum, resolved_sum; /* s */
};

/* member (a bare JID) wrote to a customer of account; first: the seconds
 * the customer had waited when this is the first reply, else -1. */
void metrics_team_reply(long long account, const char *member, long long first);
/* A conversation of account was resolved (released) s after its claim. */
void metrics_team_resolved(long long account, long long s);
/* The account's sums and counts; -1 (zeros) when nothing was recorded. */
int metrics_team_get(long long account, struct metrics_team_stat *out);
/* Calls fn for each member of account who wrote, with its count. */
void metrics_team_members(long long account,
                          void (*fn)(const char *member, unsigned long long n,
                                     void *arg),
                          void *arg);
/* Appends the histograms and the per-member counters. */
void metrics_team_write(struct buf *b);
void metrics_team_free(void);

#endif
