/* SPDX-License-Identifier: MIT */
/* Clocks, latency samples, number parsing and line input shared by the
 * bench tools. */
#define _GNU_SOURCE /* program_invocation_short_name */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

int64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void bench_sleep_ns(int64_t ns)
{
    struct timespec ts;

    if (ns <= 0)
        return;
    ts.tv_sec = ns / 1000000000LL;
    ts.tv_nsec = ns % 1000000000LL;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

void bench_lat_reset(struct bench_lat *l)
{
    l->n = 0;
    l->first_ns = 0;
    l->last_ns = 0;
    l->min_sent_ns = 0;
}

void bench_lat_free(struct bench_lat *l)
{
    free(l->us);
    l->us = NULL;
    l->alloc = 0;
    bench_lat_reset(l);
}

static void bench_lat_dump(int64_t sent_ns, int64_t us)
{
    static FILE *f;
    static int off;
    const char *path;

    if (f == NULL && !off) {
        path = getenv("BENCH_LAT_DUMP");
        off = path == NULL || *path == '\0';
        if (!off && (f = fopen(path, "a")) == NULL)
            bench_die("BENCH_LAT_DUMP %s: %s", path, strerror(errno));
        if (f != NULL) /* the tools end by signal: no buffer to lose */
            setvbuf(f, NULL, _IOLBF, 0);
    }
    if (f != NULL && fprintf(f, "%s %lld %lld\n", program_invocation_short_name,
                             (long long)sent_ns, (long long)us) < 0)
        bench_die("BENCH_LAT_DUMP: %s", strerror(errno));
}

void bench_lat_add(struct bench_lat *l, int64_t sent_ns, int64_t now_ns)
{
    int64_t us;

    if (l->first_ns == 0)
        l->first_ns = now_ns;
    l->last_ns = now_ns;
    if (sent_ns <= 0)
        return;
    if (l->min_sent_ns == 0 || sent_ns < l->min_sent_ns)
        l->min_sent_ns = sent_ns;
    if (l->n == l->alloc) {
        l->alloc = l->alloc ? l->alloc * 2 : 65536;
        l->us = realloc(l->us, l->alloc * sizeof(*l->us));
        if (l->us == NULL)
            bench_die("out of memory");
    }
    us = (now_ns - sent_ns) / 1000;
    bench_lat_dump(sent_ns, us);
    l->us[l->n++] = us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

int64_t bench_stamp_parse(const char *text)
{
    const char *p = text ? strstr(text, BENCH_STAMP) : NULL;
    int64_t v = 0;

    if (p == NULL)
        return 0;
    for (p += strlen(BENCH_STAMP); *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (*p - '0');
    return v;
}

static int bench_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

static uint32_t bench_pct(const struct bench_lat *l, double p)
{
    size_t i;

    if (l->n == 0)
        return 0;
    i = (size_t)(p * (double)(l->n - 1) + 0.5);
    return l->us[i];
}

void bench_lat_json(struct bench_lat *l, long long count, char *out,
                    size_t outlen)
{
    qsort(l->us, l->n, sizeof(*l->us), bench_cmp_u32);
    snprintf(out, outlen,
             "\"count\":%lld,\"samples\":%zu,\"first_ns\":%lld,"
             "\"last_ns\":%lld,\"min_sent_ns\":%lld,\"p50_us\":%u,"
             "\"p90_us\":%u,\"p99_us\":%u,\"max_us\":%u",
             count, l->n, (long long)l->first_ns, (long long)l->last_ns,
             (long long)l->min_sent_ns, bench_pct(l, 0.50), bench_pct(l, 0.90),
             bench_pct(l, 0.99), bench_pct(l, 1.0));
}

long long bench_num(const char *what, const char *s, long long min,
                    long long max)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        bench_die("%s: '%s' is not a number in [%lld, %lld]", what, s, min,
                  max);
    return v;
}

const char *bench_lines_next(struct bench_lines *b, int fd, int *eof)
{
    char *nl;
    ssize_t r;
    size_t n;

    *eof = 0;
    for (;;) {
        nl = memchr(b->buf, '\n', b->len);
        if (nl != NULL) {
            n = (size_t)(nl - b->buf);
            memcpy(b->line, b->buf, n);
            b->line[n] = '\0';
            memmove(b->buf, nl + 1, b->len - n - 1);
            b->len -= n + 1;
            return b->line;
        }
        if (b->len == sizeof(b->buf))
            b->len = 0; /* an absurd line: drop it */
        r = read(fd, b->buf + b->len, sizeof(b->buf) - b->len);
        if (r == 0)
            *eof = 1;
        if (r <= 0)
            return NULL;
        b->len += (size_t)r;
    }
}

void bench_say(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

void bench_die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}
