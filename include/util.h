/* SPDX-License-Identifier: MIT */
/* Memory helpers that end the process on exhaustion, and a growable buffer
 * with a hard size cap for peer input. */
#ifndef FERRY_UTIL_H
#define FERRY_UTIL_H

#include <stdarg.h>
#include <stddef.h>

/* Sets how the x* helpers end the process when memory runs out (a
 * function that does not return; NULL: stderr and abort()). */
void util_set_die(void (*die)(const char *msg));
/* Ends the process that way: for a library that reports exhaustion
 * itself (a NULL it documents as "out of memory"). */
void xdie(const char *msg);

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));

/* A byte buffer that refuses to grow past cap; always NUL-terminated. */
struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t alloc;
};

void buf_init(struct buf *b, size_t cap);
/* Appends; returns -1 (and leaves b unchanged) when cap would be passed. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_appendf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Takes the data out of b; the caller frees it; b is reset. */
char *buf_take(struct buf *b);
void buf_reset(struct buf *b);

/* A duration of s seconds in words for people: "42 s", "5 min",
 * "3 h 20 min", from 48 hours on "3 days 2 h" (negative: 0). */
void duration_words(long long s, char *out, size_t len);

/* Length of the valid UTF-8 character at s (at most n bytes); 0 if bad. */
size_t utf8_char_len(const char *s, size_t n);
/* Bytes to the next character of s[0..n): a bad byte counts as one
 * character of its own. 0 only when n is 0. */
size_t utf8_step(const char *s, size_t n);
/* Number of characters in s (a bad byte counts as one). */
size_t utf8_chars(const char *s);
/* Byte offset of character number chars in s, or its length when s is
 * shorter. */
size_t utf8_offset(const char *s, size_t chars);
/* A copy of s with what XML cannot carry (control characters but tab and
 * newlines, U+FFFE, U+FFFF, invalid UTF-8) replaced by U+FFFD. Caller
 * frees. */
char *utf8_xml_safe(const char *s);
/* 1 when s is valid UTF-8 of length n with no NUL byte. */
int utf8_valid(const char *s, size_t n);
/* A pipe with both ends non-blocking and closed on exec (how a thread wakes
 * the loop). 0, or -1 with errno and both ends -1. */
int util_pipe(int fds[2]);
/* Monotonic time in milliseconds; wall clock in seconds. */
long long now_ms(void);
long long now_s(void);
/* Wall clock in milliseconds since the epoch (for stored timestamps). */
long long wall_ms(void);
/* n bytes as lower-case hex into out (2 n characters and a NUL). */
void util_hex(const unsigned char *in, size_t n, char *out);
/* unix seconds as an XEP-0082 DateTime in UTC, "2026-12-06T04:00:00Z". */
#define UTIL_DATETIME_LEN 32
void util_datetime(long long unix_s, char out[UTIL_DATETIME_LEN]);
/* Strict decimal parse of the whole string into [min, max]; 0 or -1. */
int parse_ll(const char *s, long long min, long long max, long long *out);
/* An XEP-0082 DateTime ("2026-12-06T01:02:03.123Z", the fraction and a
 * numeric zone optional) in ms since the epoch; -1 when it is not one. */
long long time_parse_xmpp(const char *s);
/* ms since the epoch as an XEP-0082 DateTime with ms, into out (32 bytes
 * are enough). */
void time_format_xmpp(long long ms, char *out, size_t len);

#endif
