/* SPDX-License-Identifier: MIT */
/* Logging to stderr, syslog or a file. Each line is escaped as a whole, so
 * control characters from peers cannot forge or split log lines. ferry's
 * threads log too (the WAL syncer, the checkpointer, the media disk
 * thread): the file is used and swapped under a lock, so a reopen on
 * SIGHUP never closes it under a line being written. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"
#include "util.h"

#define LOG_LINE_MAX 4096

enum log_dest { LOG_DEST_STDERR, LOG_DEST_SYSLOG, LOG_DEST_FILE };

static struct {
    enum log_level level;
    enum log_dest dest;
    char *path;
    FILE *fp;
} log_state = {LOG_LEVEL_INFO, LOG_DEST_STDERR, NULL, NULL};

/* log_state.fp: taken, written and swapped under it */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const log_names[] = {"error", "warn", "info", "debug"};

int log_level_parse(const char *s)
{
    int i;

    for (i = 0; i <= LOG_LEVEL_DEBUG; i++)
        if (strcmp(s, log_names[i]) == 0)
            return i;
    return -1;
}

int log_open(const char *destination, enum log_level level)
{
    log_close();
    log_state.level = level;
    if (destination == NULL || strcmp(destination, "stderr") == 0) {
        log_state.dest = LOG_DEST_STDERR;
        return 0;
    }
    if (strcmp(destination, "syslog") == 0) {
        log_state.dest = LOG_DEST_SYSLOG;
        openlog("ferry", LOG_PID | LOG_NDELAY, LOG_DAEMON);
        return 0;
    }
    log_state.dest = LOG_DEST_FILE;
    log_state.path = xstrdup(destination);
    return log_reopen();
}

void log_set_level(enum log_level level)
{
    log_state.level = level;
}

int log_enabled(enum log_level level)
{
    return level <= log_state.level;
}

/* Puts fp in place of the file and returns the one it replaces. */
static FILE *log_swap(FILE *fp)
{
    FILE *old;

    pthread_mutex_lock(&log_mu);
    old = log_state.fp;
    log_state.fp = fp;
    pthread_mutex_unlock(&log_mu);
    return old;
}

int log_reopen(void)
{
    FILE *fp;

    if (log_state.dest != LOG_DEST_FILE)
        return 0;
    fp = fopen(log_state.path, "a");
    if (fp == NULL) {
        log_error("cannot open log file %s", log_state.path);
        return -1;
    }
    setvbuf(fp, NULL, _IOLBF, 0);
    fp = log_swap(fp);
    if (fp != NULL)
        fclose(fp);
    return 0;
}

void log_close(void)
{
    FILE *fp = log_swap(NULL);

    if (fp != NULL)
        fclose(fp);
    if (log_state.dest == LOG_DEST_SYSLOG)
        closelog();
    free(log_state.path);
    log_state.path = NULL;
    log_state.dest = LOG_DEST_STDERR;
}

char *log_escape(const char *s, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;

    if (outlen == 0)
        return out;
    while (*p != '\0' && o + 5 < outlen) {
        size_t len =
            utf8_char_len((const char *)p, strnlen((const char *)p, 4));

        if (len == 1 && *p >= 0x20 && *p != 0x7f && *p != '\\') {
            out[o++] = (char)*p++;
        } else if (len > 1) {
            if (o + len + 1 >= outlen)
                break;
            memcpy(out + o, p, len);
            o += len;
            p += len;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
            p++;
        }
    }
    out[o] = '\0';
    return out;
}

static void log_emit(enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void log_emit(enum log_level level, const char *fmt, va_list ap)
{
    char raw[LOG_LINE_MAX], line[LOG_LINE_MAX];
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    FILE *fp;
    char stamp[32];
    struct timespec ts;
    struct tm tm;

    vsnprintf(raw, sizeof(raw), fmt, ap);
    log_escape(raw, line, sizeof(line));
    if (log_state.dest == LOG_DEST_SYSLOG) {
        syslog(prio[level], "%s", line);
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    pthread_mutex_lock(&log_mu);
    fp = log_state.fp ? log_state.fp : stderr;
    fprintf(fp, "%s.%03ldZ %s: %s\n", stamp, ts.tv_nsec / 1000000,
            log_names[level], line);
    fflush(fp);
    pthread_mutex_unlock(&log_mu);
}

#define LOG_FN(fn, lvl)                                                        \
    void fn(const char *fmt, ...)                                              \
    {                                                                          \
        va_list ap;                                                            \
        if (!log_enabled(lvl))                                                 \
            return;                                                            \
        va_start(ap, fmt);                                                     \
        log_emit(lvl, fmt, ap);                                                \
        va_end(ap);                                                            \
    }

LOG_FN(log_error, LOG_LEVEL_ERROR)
LOG_FN(log_warn, LOG_LEVEL_WARN)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_debug, LOG_LEVEL_DEBUG)

void fatal(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(LOG_LEVEL_ERROR, fmt, ap);
    va_end(ap);
    exit(1);
}
