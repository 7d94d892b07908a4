/* SPDX-License-Identifier: MIT */
/* Logging: levels, destination (stderr, syslog or a file). Every line is
 * escaped, so text from peers cannot forge log lines. Secrets never go in. */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG,
};

/* Parses "error", "warn", "info", "debug"; -1 when unknown. */
int log_level_parse(const char *s);
/* destination: "stderr", "syslog" or a file path. 0 or -1. */
int log_open(const char *destination, enum log_level level);
void log_set_level(enum log_level level);
int log_enabled(enum log_level level);
/* Reopens the file destination (after logrotate); 0 or -1. */
int log_reopen(void);
void log_close(void);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs and exits(1): start-up failures and broken invariants only. */
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* Escapes control characters and invalid UTF-8 in s into out (\xNN), so the
 * result is one printable line; returns out. */
char *log_escape(const char *s, char *out, size_t outlen);

#endif
