/* SPDX-License-Identifier: MIT */
/* The one libevent loop: base, deferred calls run before the loop sleeps,
 * and small helpers for timers and signals. */
#ifndef FERRY_LOOP_H
#define FERRY_LOOP_H

#include <event2/event.h>

typedef void (*loop_fn)(void *arg);

void loop_init(void);
void loop_free(void);
struct event_base *loop_base(void);
int loop_run(void);
void loop_stop(void);
/* Runs fn(arg) once, from the loop, after the current callback returns.
 * The same (fn, arg) pair is queued at most once. */
void loop_defer(loop_fn fn, void *arg);
/* (Re)arms a timer event to fire in ms milliseconds. */
void loop_timer_start(struct event *ev, long long ms);

#endif
