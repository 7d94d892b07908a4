/* SPDX-License-Identifier: MIT */
/* Counters kept in memory since start and a histogram of outgoing HTTP
 * latency, written in the Prometheus text format; a leaf every layer may
 * count in (the /metrics endpoint is metrics_export.c). */
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "util.h"

static const struct {
    const char *name;
    const char *labels;
    const char *help;
} metrics_names[METRICS_NCOUNTERS] = {
    {"ferry_network_requests_total", "result=\"sent\"",
     "Requests to the network API by result."},
    {"ferry_network_requests_total", "result=\"retry\"", NULL},
    {"ferry_network_requests_total", "result=\"failed\"", NULL},
    {"ferry_network_requests_total", "result=\"auth_failed\"", NULL},
    {"ferry_network_events_total", "kind=\"message\"",
     "Events received from the network by kind."},
    {"ferry_network_events_total", "kind=\"status\"", NULL},
    {"ferry_network_events_total", "kind=\"duplicate\"", NULL},
    {"ferry_webhooks_total", "result=\"ok\"",
     "Webhook POSTs by result (rejections by reason)."},
    {"ferry_webhooks_total", "result=\"rejected_signature\"", NULL},
    {"ferry_webhooks_total", "result=\"rejected_malformed\"", NULL},
    {"ferry_webhooks_total", "result=\"store_error\"", NULL},
    {"ferry_webhooks_total", "result=\"rejected_busy\"", NULL},
    {"ferry_webhooks_total", "result=\"rejected_too_large\"", NULL},
    {"ferry_xmpp_stanzas_confirmed_total", NULL,
     "Stanzas the XMPP server confirmed (ping barrier)."},
    {"ferry_xmpp_forged_replies_total", NULL,
     "iq replies ignored: not from the JID the request went to."},
    {"ferry_xmpp_ping_timeouts_total", NULL,
     "Barrier pings that got no answer in time (their rows are retried)."},
    {"ferry_network_sends_unknown_total", NULL,
     "Sends whose outcome stayed unknown (may reach the contact twice)."},
};

static const long long metrics_bounds_ms[] = {5,   10,  25,   50,   100,
                                              250, 500, 1000, 2500, 10000};
#define METRICS_NBUCKETS                                                       \
    (sizeof(metrics_bounds_ms) / sizeof(metrics_bounds_ms[0]))

static struct {
    unsigned long long counter[METRICS_NCOUNTERS];
    unsigned long long bucket[METRICS_NBUCKETS + 1];
    unsigned long long http_count;
    long long http_sum_ms;
    long long started;
} metrics;

void metrics_inc(enum metrics_counter c)
{
    metrics.counter[c]++;
}

void metrics_add(enum metrics_counter c, unsigned long long n)
{
    metrics.counter[c] += n;
}

unsigned long long metrics_get(enum metrics_counter c)
{
    return metrics.counter[c];
}

long long metrics_uptime(void)
{
    return now_s() - metrics.started;
}

void metrics_observe_http_ms(long long ms)
{
    size_t i;

    for (i = 0; i < METRICS_NBUCKETS && ms > metrics_bounds_ms[i]; i++)
        ;
    metrics.bucket[i]++;
    metrics.http_count++;
    metrics.http_sum_ms += ms;
}

static void metrics_write_counters(struct buf *b)
{
    int i;

    for (i = 0; i < METRICS_NCOUNTERS; i++) {
        if (metrics_names[i].help != NULL)
            buf_appendf(b, "# HELP %s %s\n# TYPE %s counter\n",
                        metrics_names[i].name, metrics_names[i].help,
                        metrics_names[i].name);
        buf_appendf(b, "%s%s%s%s %llu\n", metrics_names[i].name,
                    metrics_names[i].labels ? "{" : "",
                    metrics_names[i].labels ? metrics_names[i].labels : "",
                    metrics_names[i].labels ? "}" : "", metrics.counter[i]);
    }
}

static void metrics_write_histogram(struct buf *b)
{
    unsigned long long cum = 0;
    size_t i;

    buf_appendf(b, "# HELP ferry_network_request_seconds Duration of "
                   "requests to the network API.\n"
                   "# TYPE ferry_network_request_seconds histogram\n");
    for (i = 0; i < METRICS_NBUCKETS; i++) {
        cum += metrics.bucket[i];
        buf_appendf(b, "ferry_network_request_seconds_bucket{le=\"%g\"} %llu\n",
                    (double)metrics_bounds_ms[i] / 1000.0, cum);
    }
    cum += metrics.bucket[METRICS_NBUCKETS];
    buf_appendf(b,
                "ferry_network_request_seconds_bucket{le=\"+Inf\"} %llu\n"
                "ferry_network_request_seconds_sum %g\n"
                "ferry_network_request_seconds_count %llu\n",
                cum, (double)metrics.http_sum_ms / 1000.0, metrics.http_count);
}

void metrics_write(struct buf *b)
{
    metrics_write_counters(b);
    metrics_write_histogram(b);
    metrics_team_write(b);
}

void metrics_init(void)
{
    metrics.started = now_s();
}
