/* SPDX-License-Identifier: MIT */
/* The /metrics endpoint: the counters of metrics.c, and gauges (queues,
 * accounts, connection) read from the store and the component when
 * scraped. */
#include <string.h>

#include "component.h"
#include "httpd.h"
#include "metrics.h"
#include "metrics_export.h"
#include "store.h"
#include "util.h"

static struct store *metrics_export_store;

static void metrics_export_gauge(struct buf *b, const char *name,
                                 const char *help, long long v)
{
    buf_appendf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name,
                name, v);
}

static void metrics_export_gauges(struct buf *b)
{
    metrics_export_gauge(b, "ferry_outbox_depth",
                         "Rows waiting to go to the network (incl. failed).",
                         store_outbox_count(metrics_export_store));
    metrics_export_gauge(b, "ferry_inbox_depth",
                         "Stanzas waiting for XMPP server confirmation.",
                         store_inbox_count(metrics_export_store));
    metrics_export_gauge(
        b, "ferry_inbox_held",
        "Messages the user's server bounced, held until the user "
        "is online.",
        store_inbox_held(metrics_export_store));
    metrics_export_gauge(b, "ferry_accounts", "Registered accounts.",
                         store_account_count(metrics_export_store));
    metrics_export_gauge(b, "ferry_component_connected",
                         "1 when the XEP-0114 stream is up.",
                         component_connected());
    metrics_export_gauge(b, "ferry_component_reconnects_total",
                         "Reconnects of the XEP-0114 stream since start.",
                         (long long)component_reconnects());
    metrics_export_gauge(b, "ferry_uptime_seconds", "Seconds since start.",
                         metrics_uptime());
}

struct metrics_export_wait {
    struct buf *b;
    int oldest; /* 0: the count, 1: the oldest wait */
};

/* One account's waiting conversations, or its oldest wait. */
static int metrics_export_wait(long long account_id, long long n,
                               long long oldest, void *arg)
{
    struct metrics_export_wait *w = arg;
    long long age = oldest > 0 ? now_s() - oldest : 0;

    if (w->oldest)
        buf_appendf(w->b,
                    "ferry_team_oldest_wait_seconds{account=\"%lld\"} %lld\n",
                    account_id, age < 0 ? 0 : age);
    else
        buf_appendf(w->b,
                    "ferry_team_waiting_conversations{account=\"%lld\"} "
                    "%lld\n",
                    account_id, n);
    return 0;
}

/* Per business number: conversations waiting for a reply, the oldest. */
static void metrics_export_waits(struct buf *b)
{
    struct metrics_export_wait w = {b, 0};

    buf_appendf(b, "# HELP ferry_team_waiting_conversations Conversations "
                   "whose customer waits for a reply, per business number.\n"
                   "# TYPE ferry_team_waiting_conversations gauge\n");
    store_wait_foreach(metrics_export_store, metrics_export_wait, &w);
    w.oldest = 1;
    buf_appendf(b, "# HELP ferry_team_oldest_wait_seconds How long the "
                   "longest-waiting customer has waited, per business "
                   "number.\n"
                   "# TYPE ferry_team_oldest_wait_seconds gauge\n");
    store_wait_foreach(metrics_export_store, metrics_export_wait, &w);
}

static void metrics_export_serve(const struct httpd_request *req,
                                 struct httpd_response *res, void *arg)
{
    struct buf b;

    if (strcmp(req->method, "GET") != 0) {
        httpd_respond(res, 405, "text/plain", "method not allowed\n");
        return;
    }
    buf_init(&b, 1024 * 1024);
    metrics_write(&b);
    metrics_export_gauges(&b);
    metrics_export_waits(&b);
    res->status = 200;
    res->content_type = "text/plain; version=0.0.4";
    res->len = b.len;
    res->body = buf_take(&b);
}

void metrics_export_init(struct store *st)
{
    metrics_export_store = st;
    httpd_route("/metrics", metrics_export_serve, NULL, 0);
}
