/* SPDX-License-Identifier: MIT */
/* The systemd notification protocol (sd_notify(3)) without libsystemd: one
 * datagram to $NOTIFY_SOCKET per call. Every call is a no-op returning 0
 * when NOTIFY_SOCKET is unset, so ferry runs the same outside systemd. */
#ifndef FERRY_NOTIFY_H
#define FERRY_NOTIFY_H

#include <stdint.h>

/* The longest STATUS= text sent; longer texts are cut. */
#define NOTIFY_STATUS_MAX 256

/* READY=1: start-up (or a reload) is complete. 0 or -1 (logged). */
int notify_ready(void);
/* STOPPING=1: shutting down. 0 or -1 (logged). */
int notify_stopping(void);
/* RELOADING=1 with MONOTONIC_USEC: a reload begins; end it with
 * notify_ready(). 0 or -1 (logged). */
int notify_reloading(void);
/* STATUS=<text>: one line for systemctl status; control characters become
 * spaces. 0 or -1 (logged). */
int notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* WATCHDOG=1: the loop is alive. 0 or -1 (logged). */
int notify_watchdog(void);
/* The watchdog interval in microseconds from WATCHDOG_USEC, or 0 when the
 * watchdog is off or meant for another process (WATCHDOG_PID). Send
 * notify_watchdog() at least every half of it. */
uint64_t notify_watchdog_usec(void);

#endif
