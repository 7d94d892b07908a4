/* SPDX-License-Identifier: MIT */
/* A team's numbers, per business number (account id) since start: the
 * first-response and resolution time histograms and the messages each
 * member wrote (labelled by the member's bare JID; never a customer's
 * number), written in the Prometheus text format. */
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "util.h"

#define METRICS_TEAM_ACCOUNTS 256
#define METRICS_TEAM_MEMBERS 1024 /* (account, member) series */

static const long long metrics_team_bounds[] = {60,   300,   900,   1800,
                                                3600, 14400, 28800, 86400};
#define METRICS_TEAM_NBUCKETS                                                  \
    (sizeof(metrics_team_bounds) / sizeof(metrics_team_bounds[0]))

struct metrics_team_hist {
    unsigned long long bucket[METRICS_TEAM_NBUCKETS + 1];
    unsigned long long count;
    long long sum;
};

static struct {
    struct {
        long long account;
        struct metrics_team_hist first, resolved;
    } acc[METRICS_TEAM_ACCOUNTS];
    size_t nacc;
    struct {
        long long account;
        char *member;
        unsigned long long n;
    } mem[METRICS_TEAM_MEMBERS];
    size_t nmem;
} metrics_team;

/* The slot of account (created when new); -1 when the table is full. */
static int metrics_team_slot(long long account)
{
    size_t i;

    for (i = 0; i < metrics_team.nacc; i++)
        if (metrics_team.acc[i].account == account)
            return (int)i;
    if (metrics_team.nacc == METRICS_TEAM_ACCOUNTS)
        return -1;
    memset(&metrics_team.acc[i], 0, sizeof(metrics_team.acc[i]));
    metrics_team.acc[i].account = account;
    metrics_team.nacc++;
    return (int)i;
}

static void metrics_team_observe(struct metrics_team_hist *h, long long s)
{
    size_t i;

    if (s < 0)
        s = 0;
    for (i = 0; i < METRICS_TEAM_NBUCKETS && s > metrics_team_bounds[i]; i++)
        ;
    h->bucket[i]++;
    h->count++;
    h->sum += s;
}

void metrics_team_reply(long long account, const char *member, long long first)
{
    int k = metrics_team_slot(account);
    size_t i;

    if (k >= 0 && first >= 0)
        metrics_team_observe(&metrics_team.acc[k].first, first);
    for (i = 0; i < metrics_team.nmem; i++) {
        if (metrics_team.mem[i].account == account &&
            strcmp(metrics_team.mem[i].member, member) == 0) {
            metrics_team.mem[i].n++;
            return;
        }
    }
    if (metrics_team.nmem == METRICS_TEAM_MEMBERS)
        return;
    metrics_team.mem[i].account = account;
    metrics_team.mem[i].member = xstrdup(member);
    metrics_team.mem[i].n = 1;
    metrics_team.nmem++;
}

void metrics_team_resolved(long long account, long long s)
{
    int k = metrics_team_slot(account);

    if (k >= 0)
        metrics_team_observe(&metrics_team.acc[k].resolved, s);
}

int metrics_team_get(long long account, struct metrics_team_stat *out)
{
    size_t i;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < metrics_team.nacc; i++) {
        if (metrics_team.acc[i].account != account)
            continue;
        out->first_count = metrics_team.acc[i].first.count;
        out->first_sum = metrics_team.acc[i].first.sum;
        out->resolved_count = metrics_team.acc[i].resolved.count;
        out->resolved_sum = metrics_team.acc[i].resolved.sum;
        return 0;
    }
    return -1;
}

void metrics_team_members(long long account,
                          void (*fn)(const char *member, unsigned long long n,
                                     void *arg),
                          void *arg)
{
    size_t i;

    for (i = 0; i < metrics_team.nmem; i++)
        if (metrics_team.mem[i].account == account)
            fn(metrics_team.mem[i].member, metrics_team.mem[i].n, arg);
}

/* A label value with \, " and newlines escaped (caller frees). */
static char *metrics_team_label(const char *s)
{
    struct buf b;

    buf_init(&b, 4096);
    for (; *s != '\0'; s++) {
        if (*s == '\\' || *s == '"')
            buf_appendf(&b, "\\%c", *s);
        else if (*s == '\n')
            buf_appendf(&b, "\\n");
        else
            buf_append(&b, s, 1);
    }
    return buf_take(&b);
}

static void metrics_team_write_hist(struct buf *b, const char *name,
                                    long long account,
                                    const struct metrics_team_hist *h)
{
    unsigned long long cum = 0;
    size_t i;

    for (i = 0; i < METRICS_TEAM_NBUCKETS; i++) {
        cum += h->bucket[i];
        buf_appendf(b, "%s_bucket{account=\"%lld\",le=\"%lld\"} %llu\n", name,
                    account, metrics_team_bounds[i], cum);
    }
    cum += h->bucket[METRICS_TEAM_NBUCKETS];
    buf_appendf(b,
                "%s_bucket{account=\"%lld\",le=\"+Inf\"} %llu\n"
                "%s_sum{account=\"%lld\"} %lld\n"
                "%s_count{account=\"%lld\"} %llu\n",
                name, account, cum, name, account, h->sum, name, account,
                h->count);
}

void metrics_team_write(struct buf *b)
{
    size_t i;
    char *label;

    buf_appendf(b, "# HELP ferry_team_first_response_seconds Time from a "
                   "customer's first unanswered message to the first reply, "
                   "per business number.\n"
                   "# TYPE ferry_team_first_response_seconds histogram\n");
    for (i = 0; i < metrics_team.nacc; i++)
        metrics_team_write_hist(b, "ferry_team_first_response_seconds",
                                metrics_team.acc[i].account,
                                &metrics_team.acc[i].first);
    buf_appendf(b, "# HELP ferry_team_resolution_seconds Time from a "
                   "conversation's claim to its release, per business "
                   "number.\n"
                   "# TYPE ferry_team_resolution_seconds histogram\n");
    for (i = 0; i < metrics_team.nacc; i++)
        metrics_team_write_hist(b, "ferry_team_resolution_seconds",
                                metrics_team.acc[i].account,
                                &metrics_team.acc[i].resolved);
    buf_appendf(b, "# HELP ferry_team_messages_total Messages written to "
                   "customers, per business number and member.\n"
                   "# TYPE ferry_team_messages_total counter\n");
    for (i = 0; i < metrics_team.nmem; i++) {
        label = metrics_team_label(metrics_team.mem[i].member);
        buf_appendf(b,
                    "ferry_team_messages_total{account=\"%lld\","
                    "member=\"%s\"} %llu\n",
                    metrics_team.mem[i].account, label, metrics_team.mem[i].n);
        free(label);
    }
}

void metrics_team_free(void)
{
    size_t i;

    for (i = 0; i < metrics_team.nmem; i++)
        free(metrics_team.mem[i].member);
    memset(&metrics_team, 0, sizeof(metrics_team));
}
