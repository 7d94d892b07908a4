/* SPDX-License-Identifier: MIT */
/* A small sd_notify(3): readiness, reload, stop, status and watchdog
 * messages as datagrams to $NOTIFY_SOCKET (a path, or an abstract socket
 * name starting with '@'), without libsystemd. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "util.h"

#define NOTIFY_MSG_MAX (NOTIFY_STATUS_MAX + 64)

/* The address in $NOTIFY_SOCKET into sa and len: 1, or 0 when it is unset,
 * or -1 (logged) when it is unusable. */
static int notify_address(struct sockaddr_un *sa, socklen_t *len)
{
    const char *path = getenv("NOTIFY_SOCKET");
    size_t n;

    if (path == NULL || path[0] == '\0')
        return 0;
    n = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || n < 2 ||
        n >= sizeof(sa->sun_path)) {
        log_warn("notify: NOTIFY_SOCKET is not a socket path or "
                 "@abstract name");
        return -1;
    }
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, path, n);
    if (path[0] == '@')
        sa->sun_path[0] = '\0';
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    return 1;
}

/* Sends msg as one datagram to $NOTIFY_SOCKET without blocking. */
static int notify_send(const char *msg)
{
    struct sockaddr_un sa;
    socklen_t len;
    ssize_t sent;
    int fd, rc;

    rc = notify_address(&sa, &len);
    if (rc <= 0)
        return rc;
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        log_warn("notify: socket: %s", strerror(errno));
        return -1;
    }
    sent =
        sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
    if (sent < 0)
        log_warn("notify: cannot notify the service manager: %s",
                 strerror(errno));
    close(fd);
    return sent == (ssize_t)strlen(msg) ? 0 : -1;
}

int notify_ready(void)
{
    return notify_send("READY=1");
}

int notify_stopping(void)
{
    return notify_send("STOPPING=1");
}

int notify_reloading(void)
{
    char msg[NOTIFY_MSG_MAX];
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL +
                 (unsigned long long)ts.tv_nsec / 1000ULL);
    return notify_send(msg);
}

/* Makes s one line of valid UTF-8: a newline would start another
 * assignment; bad bytes (or a character cut by truncation) become '?'. */
static void notify_clean(char *s)
{
    size_t i = 0, n = strlen(s), l;

    while (i < n) {
        l = utf8_char_len(s + i, n - i);
        if (l == 0) {
            s[i++] = '?';
            continue;
        }
        if (l == 1 && ((unsigned char)s[i] < 0x20 || s[i] == 0x7f))
            s[i] = ' ';
        i += l;
    }
}

int notify_status(const char *fmt, ...)
{
    char msg[NOTIFY_MSG_MAX];
    va_list ap;
    int n;

    n = snprintf(msg, sizeof(msg), "STATUS=");
    va_start(ap, fmt);
    vsnprintf(msg + n, NOTIFY_STATUS_MAX + 1, fmt, ap);
    va_end(ap);
    notify_clean(msg + n);
    return notify_send(msg);
}

int notify_watchdog(void)
{
    return notify_send("WATCHDOG=1");
}

uint64_t notify_watchdog_usec(void)
{
    const char *usec = getenv("WATCHDOG_USEC");
    const char *pid = getenv("WATCHDOG_PID");
    long long v, p;

    if (usec == NULL || parse_ll(usec, 1, 0x7fffffffffffffffLL, &v) < 0)
        return 0;
    if (pid != NULL &&
        (parse_ll(pid, 1, 0x7fffffffLL, &p) < 0 || p != (long long)getpid()))
        return 0;
    return (uint64_t)v;
}
