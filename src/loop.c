/* SPDX-License-Identifier: MIT */
/* The libevent base and a queue of deferred calls, so objects are never
 * freed inside their own callbacks and work is batched per loop turn. */
#include <stdlib.h>

#include "log.h"
#include "loop.h"
#include "util.h"

struct loop_call {
    loop_fn fn;
    void *arg;
    struct loop_call *next;
};

static struct {
    struct event_base *base;
    struct event *defer_ev;
    struct loop_call *head, **tail;
} loop;

/* Runs the deferred calls queued so far; calls queued meanwhile run on the
 * next turn. */
static void loop_run_deferred(evutil_socket_t fd, short what, void *arg)
{
    struct loop_call *c = loop.head;

    loop.head = NULL;
    loop.tail = &loop.head;
    while (c != NULL) {
        struct loop_call *next = c->next;

        c->fn(c->arg);
        free(c);
        c = next;
    }
}

void loop_init(void)
{
    loop.base = event_base_new();
    if (loop.base == NULL)
        fatal("event_base_new failed");
    loop.defer_ev = event_new(loop.base, -1, 0, loop_run_deferred, NULL);
    loop.head = NULL;
    loop.tail = &loop.head;
}

void loop_free(void)
{
    loop_run_deferred(-1, 0, NULL);
    event_free(loop.defer_ev);
    event_base_free(loop.base);
    loop.base = NULL;
}

struct event_base *loop_base(void)
{
    return loop.base;
}

int loop_run(void)
{
    return event_base_dispatch(loop.base);
}

void loop_stop(void)
{
    event_base_loopbreak(loop.base);
}

void loop_defer(loop_fn fn, void *arg)
{
    struct loop_call *c;

    for (c = loop.head; c != NULL; c = c->next)
        if (c->fn == fn && c->arg == arg)
            return;
    c = xcalloc(1, sizeof(*c));
    c->fn = fn;
    c->arg = arg;
    *loop.tail = c;
    loop.tail = &c->next;
    event_active(loop.defer_ev, EV_TIMEOUT, 0);
}

void loop_timer_start(struct event *ev, long long ms)
{
    struct timeval tv;

    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    event_add(ev, &tv);
}
