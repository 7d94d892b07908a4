/* SPDX-License-Identifier: MIT */
/* Memory helpers that end the process on exhaustion, a capped growable
 * buffer, UTF-8 validation, clocks, strict number parsing and a wake-up
 * pipe. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* How the process ends on exhaustion: stderr and abort() until start-up
 * gives the logging layer's fatal() (util.c is below log.c). */
static void util_die_default(const char *msg)
{
    fprintf(stderr, "ferry: %s\n", msg);
    abort();
}

static void (*util_die)(const char *msg) = util_die_default;

void util_set_die(void (*die)(const char *msg))
{
    util_die = die ? die : util_die_default;
}

void xdie(const char *msg)
{
    util_die(msg);
    abort(); /* util_die must not return */
}

/* Formats the message on the stack (nothing may be allocated) and dies. */
static void util_diez(const char *what, size_t n, size_t size)
{
    char msg[96];

    snprintf(msg, sizeof(msg), "%s (%zu x %zu bytes)", what, n, size);
    xdie(msg);
}

void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL)
        util_diez("out of memory", 1, size);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL)
        util_diez("out of memory", n, size);
    return p;
}

void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);

    if (q == NULL)
        util_diez("out of memory", 1, size);
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
    va_list aq;
    int n;
    char *p;

    va_copy(aq, ap);
    n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0)
        util_die("vsnprintf failed");
    p = xmalloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *p;

    va_start(ap, fmt);
    p = xvasprintf(fmt, ap);
    va_end(ap);
    return p;
}

void buf_init(struct buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    size_t want;

    if (n > b->cap || b->len > b->cap - n)
        return -1;
    want = b->len + n + 1;
    if (want > b->alloc) {
        size_t a = b->alloc ? b->alloc : 256;

        while (a < want)
            a *= 2;
        b->data = xrealloc(b->data, a);
        b->alloc = a;
    }
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_appendf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    char *s;
    int rc;

    va_start(ap, fmt);
    s = xvasprintf(fmt, ap);
    va_end(ap);
    rc = buf_append(b, s, strlen(s));
    free(s);
    return rc;
}

char *buf_take(struct buf *b)
{
    char *p = b->data ? b->data : xstrdup("");

    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    return p;
}

void buf_reset(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

size_t utf8_char_len(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t len, i;
    unsigned int cp;

    if (n == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

size_t utf8_step(const char *s, size_t n)
{
    size_t l = utf8_char_len(s, n);

    return l != 0 || n == 0 ? l : 1;
}

size_t utf8_chars(const char *s)
{
    size_t n = strlen(s), i = 0, chars = 0;

    while (i < n) {
        i += utf8_step(s + i, n - i);
        chars++;
    }
    return chars;
}

size_t utf8_offset(const char *s, size_t chars)
{
    size_t n = strlen(s), i = 0;

    while (i < n && chars > 0) {
        i += utf8_step(s + i, n - i);
        chars--;
    }
    return i;
}

int utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, l;

    while (i < n) {
        if (p[i] == 0)
            return 0;
        l = utf8_char_len(s + i, n - i);
        if (l == 0)
            return 0;
        i += l;
    }
    return 1;
}

long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long now_s(void)
{
    return (long long)time(NULL);
}

long long wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void util_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void util_datetime(long long unix_s, char out[UTIL_DATETIME_LEN])
{
    time_t t = (time_t)unix_s;
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL ||
        strftime(out, UTIL_DATETIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        strcpy(out, "1970-01-01T00:00:00Z");
}

int parse_ll(const char *s, long long min, long long max, long long *out)
{
    char *end;
    long long v;

    if (s == NULL || *s == '\0' || *s == ' ' || *s == '\t' || *s == '+')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

char *utf8_xml_safe(const char *s)
{
    struct buf b;
    size_t n = strlen(s), i = 0, l;

    buf_init(&b, n * 3 + 1);
    while (i < n) {
        unsigned char ch = (unsigned char)s[i];

        l = utf8_char_len(s + i, n - i);
        if (l == 0 || (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') ||
            (l == 3 && (unsigned char)s[i] == 0xef &&
             (unsigned char)s[i + 1] == 0xbf &&
             (unsigned char)s[i + 2] >= 0xbe)) { /* U+FFFE, U+FFFF */
            buf_append(&b, "\xef\xbf\xbd", 3);
            i += l ? l : 1;
            continue;
        }
        buf_append(&b, s + i, l);
        i += l;
    }
    return buf_take(&b);
}

void duration_words(long long s, char *out, size_t len)
{
    if (s < 0)
        s = 0;
    if (s < 60)
        snprintf(out, len, "%lld s", s);
    else if (s < 3600)
        snprintf(out, len, "%lld min", s / 60);
    else if (s < 48 * 3600)
        snprintf(out, len, "%lld h %lld min", s / 3600, s % 3600 / 60);
    else
        snprintf(out, len, "%lld days %lld h", s / 86400, s % 86400 / 3600);
}

/* ---- times (XEP-0082) ---- */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static long long util_days(long long y, int m, int d)
{
    long long era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Reads n digits at *s into *v; 0 or -1. */
static int util_digits(const char **s, int n, int *v)
{
    *v = 0;
    for (; n > 0; n--, (*s)++) {
        if (**s < '0' || **s > '9')
            return -1;
        *v = *v * 10 + (**s - '0');
    }
    return 0;
}

/* The zone of a DateTime at s ("Z", "+hh:mm", "-hh:mm") in seconds east
 * of UTC into *off; 0 or -1 (anything after it too). */
static int util_zone(const char *s, long long *off)
{
    int h, m, sign = *s == '-' ? -1 : 1;

    *off = 0;
    if (strcmp(s, "Z") == 0)
        return 0;
    if (*s != '+' && *s != '-')
        return -1;
    s++;
    if (util_digits(&s, 2, &h) < 0 || *s++ != ':' ||
        util_digits(&s, 2, &m) < 0 || *s != '\0' || h > 23 || m > 59)
        return -1;
    *off = sign * (h * 3600LL + m * 60LL);
    return 0;
}

/* An XEP-0082 DateTime ("2026-12-06T01:02:03.123Z", the fraction and a
 * numeric zone optional) in ms since the epoch; -1 when it is not one. */
long long time_parse_xmpp(const char *s)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    static const char seps[] = "--T::";
    const int len[6] = {4, 2, 2, 2, 2, 2};
    int v[6], i, frac = 0, ms = 0;
    long long off;

    for (i = 0; i < 6; i++) {
        if (util_digits(&s, len[i], &v[i]) < 0)
            return -1;
        if (i < 5 && *s++ != seps[i])
            return -1;
    }
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9' && frac < 9; s++, frac++)
            if (frac < 3)
                ms = ms * 10 + (*s - '0');
        if (frac == 0)
            return -1;
        for (i = frac; i < 3; i++)
            ms *= 10;
    }
    if (util_zone(s, &off) < 0 || v[0] < 1970 || v[1] < 1 || v[1] > 12 ||
        v[2] < 1 || v[2] > mdays[v[1] - 1] || v[3] > 23 || v[4] > 59 ||
        v[5] > 60)
        return -1;
    return ((util_days(v[0], v[1], v[2]) * 86400 + v[3] * 3600LL + v[4] * 60LL +
             v[5] - off) *
            1000) +
           ms;
}

/* ms since the epoch as an XEP-0082 DateTime (out: 32 bytes). */
void time_format_xmpp(long long ms, char *out, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char s[24];

    gmtime_r(&t, &tm);
    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, len, "%s.%03dZ", s, (int)(ms % 1000));
}

int util_pipe(int fds[2])
{
    int i;

    if (pipe(fds) < 0) {
        fds[0] = fds[1] = -1;
        return -1;
    }
    for (i = 0; i < 2; i++)
        if (fcntl(fds[i], F_SETFL, O_NONBLOCK) < 0 ||
            fcntl(fds[i], F_SETFD, FD_CLOEXEC) < 0) {
            int err = errno;

            close(fds[0]);
            close(fds[1]);
            fds[0] = fds[1] = -1;
            errno = err;
            return -1;
        }
    return 0;
}
