/* SPDX-License-Identifier: MIT */
/* WAHA liveness: a session can stay WORKING while WAHA stops passing on its
 * events. A session that had events and gets none for waha.idle_restart
 * seconds after a message was sent to it is asked for its status and, when
 * WORKING, restarted; the STOPPED and WORKING of that restart are not told
 * to the user. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loop.h"
#include "net_backend.h"
#include "net_waha_int.h"
#include "util.h"

#define WAHA_LIVE_MAX 4096              /* sessions followed */
#define WAHA_LIVE_QUIET_MS (120 * 1000) /* a restart's statuses kept quiet */
#define WAHA_LIVE_TICK_MIN_MS 200
#define WAHA_LIVE_TICK_MAX_MS 60000

/* One session's traffic (wall ms; 0: none). */
struct waha_live {
    char *session;
    long long seen;    /* its last event */
    long long sent;    /* the first send since that event */
    long long restart; /* when ferry restarted it */
    int checking;      /* its status asked for */
};

static struct {
    struct waha_live *s;
    size_t n;
    long long idle_ms; /* 0: off */
    struct event *timer;
} live;

void waha_live_configure(long long idle_seconds)
{
    live.idle_ms = idle_seconds * 1000;
}

/* The session's entry, made when absent (NULL when the table is full). */
static struct waha_live *waha_live_get(const char *session)
{
    size_t i;

    for (i = 0; i < live.n; i++)
        if (strcmp(live.s[i].session, session) == 0)
            return &live.s[i];
    if (live.n == WAHA_LIVE_MAX)
        return NULL;
    if (live.s == NULL)
        live.s = xcalloc(WAHA_LIVE_MAX, sizeof(*live.s));
    live.s[live.n].session = xstrdup(session);
    return &live.s[live.n++];
}

static void waha_live_tick(evutil_socket_t fd, short what, void *arg);

static void waha_live_arm(void)
{
    long long ms = live.idle_ms / 4;

    if (live.timer == NULL)
        live.timer = event_new(loop_base(), -1, 0, waha_live_tick, NULL);
    if (evtimer_pending(live.timer, NULL))
        return;
    if (ms < WAHA_LIVE_TICK_MIN_MS)
        ms = WAHA_LIVE_TICK_MIN_MS;
    if (ms > WAHA_LIVE_TICK_MAX_MS)
        ms = WAHA_LIVE_TICK_MAX_MS;
    loop_timer_start(live.timer, ms);
}

void waha_live_sent(const char *session)
{
    struct waha_live *l;

    if (live.idle_ms <= 0 || (l = waha_live_get(session)) == NULL)
        return;
    if (l->seen != 0 && l->sent == 0)
        l->sent = wall_ms();
    if (l->sent != 0)
        waha_live_arm();
}

/* The restart asked for: logged (arg: the session's name). */
static void waha_live_restarted(const struct net_result *r, void *arg)
{
    char *session = arg;

    if (r->outcome == NET_OK)
        log_info("waha: session %s restarted", session);
    else
        log_warn("waha: session %s not restarted: %s", session,
                 r->text ? r->text : "no reason given");
    free(session);
}

/* The status of a silent session: WORKING is restarted (arg: its name). */
static void waha_live_status(const struct net_result *r, void *arg)
{
    char *session = arg;
    struct waha_live *l = waha_live_get(session);

    if (l != NULL) {
        l->checking = 0;
        l->sent = 0;
        l->seen = wall_ms(); /* one restart per silence */
    }
    if (r->outcome == NET_OK && r->info != NULL &&
        strcmp(r->info, "WORKING") == 0) {
        log_warn("waha: session %s is WORKING but sent no event for %lld s "
                 "after a message went to it: restarting it",
                 session, live.idle_ms / 1000);
        if (l != NULL)
            l->restart = wall_ms();
        waha_session_restart(session, waha_live_restarted, session);
        return;
    }
    log_info("waha: session %s silent after a send; its status is %s", session,
             r->outcome == NET_OK && r->info ? r->info : "unknown");
    free(session);
}

static void waha_live_tick(evutil_socket_t fd, short what, void *arg)
{
    long long now = wall_ms();
    int waiting = 0;
    size_t i;

    (void)fd;
    (void)what;
    (void)arg;
    for (i = 0; i < live.n && live.idle_ms > 0; i++) {
        struct waha_live *l = &live.s[i];

        if (l->sent == 0 || l->checking)
            continue;
        waiting = 1;
        if (now - l->sent < live.idle_ms)
            continue;
        l->checking = 1;
        waha_session_status(l->session, waha_live_status, xstrdup(l->session));
    }
    if (waiting)
        waha_live_arm();
}

int waha_live_event(const struct net_event *ev)
{
    struct waha_live *l;
    long long now = wall_ms();
    int quiet = 0;

    if (ev->account == NULL || (l = waha_live_get(ev->account)) == NULL)
        return 0;
    l->seen = now;
    l->sent = 0;
    if (ev->kind == NET_EVENT_LOGIN && l->restart != 0) {
        quiet =
            now - l->restart < WAHA_LIVE_QUIET_MS &&
            (ev->login == NET_LOGIN_STOPPED || ev->login == NET_LOGIN_READY);
        if (ev->login != NET_LOGIN_STOPPED)
            l->restart = 0;
    }
    return quiet;
}
