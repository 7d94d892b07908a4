/* SPDX-License-Identifier: MIT */
/* Shared by the load tools of tests/bench: clocks, latency samples and
 * their percentiles, strict number parsing and the stdin command reader
 * through which bench.py drives each tool. */
#ifndef FERRY_BENCH_UTIL_H
#define FERRY_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Every message body written by a load tool carries "t=<ns>", the
 * CLOCK_MONOTONIC time at which it left; the receiver subtracts it from
 * its own clock (same host, same clock). */
#define BENCH_STAMP "t="

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t bench_now_ns(void);
/* Sleeps for ns nanoseconds (no-op when <= 0). */
void bench_sleep_ns(int64_t ns);

/* Latency samples in microseconds, plus first/last event times. */
struct bench_lat {
    uint32_t *us;
    size_t n, alloc;
    int64_t first_ns, last_ns; /* receipt times; 0 when none */
    int64_t min_sent_ns;       /* earliest stamp seen; 0 when none */
};

void bench_lat_reset(struct bench_lat *l);
void bench_lat_free(struct bench_lat *l);
/* Records one receipt at now_ns of a message stamped sent_ns (0: no
 * stamp, counted but no latency sample). With BENCH_LAT_DUMP=<file> in the
 * environment, each sample is also appended to that file as a line
 * "<tool> <sent_ns> <latency_us>" (CLOCK_MONOTONIC), so that a tail can be
 * set beside a trace of the same run. */
void bench_lat_add(struct bench_lat *l, int64_t sent_ns, int64_t now_ns);
/* The stamp in text ("... t=<ns> ..."), 0 when absent. */
int64_t bench_stamp_parse(const char *text);
/* Writes the stats as JSON members (no braces) into out. */
void bench_lat_json(struct bench_lat *l, long long count, char *out,
                    size_t outlen);

/* Strict decimal parse of the whole string; exits with a message when s
 * is not a number in [min, max]. */
long long bench_num(const char *what, const char *s, long long min,
                    long long max);

/* Reads complete lines from a non-blocking fd: returns one line (without
 * the newline) per call, NULL when none is complete yet; *eof is set when
 * the fd reached end of file. */
struct bench_lines {
    char buf[4096];
    size_t len;
    char line[4096];
};
const char *bench_lines_next(struct bench_lines *b, int fd, int *eof);

/* Prints a line on stdout and flushes it (the driver reads it). */
void bench_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bench_die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
