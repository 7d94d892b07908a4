/* SPDX-License-Identifier: MIT */
/* The XEP-0114 component connection. libstrophe does the stream and the
 * handshake; its socket is captured with the sockopt callback and watched
 * by libevent, so an idle ferry sleeps. Reconnects at once after a drop,
 * then with exponential backoff and jitter capped at 30 s. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "component.h"
#include "conf.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "util.h"

#define COMPONENT_BACKOFF_FIRST_MS 500
#define COMPONENT_BACKOFF_MAX_MS 30000
/* While connecting, libstrophe's own timeouts need a periodic run. */
#define COMPONENT_TICK_MS 1000
#define COMPONENT_ID_PREFIX 11 /* base-62 digits of a 64-bit value */
#define COMPONENT_STOP_MS 900
#define COMPONENT_MAX_IQ_NS 32
#define COMPONENT_IQ_ID_BYTES 12 /* 96 random bits per iq id */
/* An iq that got no answer in this long is given up (cb(NULL)). */
#define COMPONENT_IQ_TIMEOUT_MS 60000

enum component_state {
    COMPONENT_IDLE,
    COMPONENT_CONNECTING,
    COMPONENT_CONNECTED,
    COMPONENT_WAITING, /* backoff before the next attempt */
    COMPONENT_STOPPING,
};

struct component_pending {
    char *id;
    char *to;              /* where it went: only that JID may answer */
    long long deadline_ms; /* now_ms() past which it is given up */
    component_reply_fn cb;
    void *arg;
    struct component_pending *next;
};

struct component_ns {
    const char *ns;
    component_iq_fn fn;
    void *arg;
};

static struct {
    xmpp_ctx_t *ctx;
    xmpp_conn_t *conn;
    char *jid, *secret, *host;
    unsigned short port;
    enum component_state state;
    int fd;
    struct event *io_ev;   /* the XMPP socket */
    struct event *tick_ev; /* periodic xmpp_run_once while connecting */
    struct event *retry_ev;
    struct event *stop_ev;
    struct event *iq_timer_ev; /* the earliest pending iq's deadline */
    unsigned attempt;          /* consecutive failed attempts */
    int was_connected;
    unsigned long reconnects;
    struct component_handlers h;
    struct component_ns iq_ns[COMPONENT_MAX_IQ_NS];
    int n_iq_ns;
    struct component_pending *pending;
    void (*stop_done)(void *);
    void *stop_arg;
} comp = {.fd = -1};

static void component_pump(void *arg);
static void component_watch(void);

xmpp_ctx_t *component_ctx(void)
{
    return comp.ctx;
}

const char *component_jid(void)
{
    return comp.jid;
}

int component_connected(void)
{
    return comp.state == COMPONENT_CONNECTED;
}

unsigned long component_reconnects(void)
{
    return comp.reconnects;
}

/* Writes v in base 62 to out (at least 12 bytes), NUL-terminated; with
 * width, left-padded to that many digits. */
static void component_base62(uint64_t v, size_t width, char *out)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz"
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    char tmp[COMPONENT_ID_PREFIX];
    size_t n = 0, i;

    do {
        tmp[n++] = alphabet[v % 62];
        v /= 62;
    } while (v != 0);
    while (n < width)
        tmp[n++] = alphabet[0];
    for (i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

/* A 64-bit random prefix drawn once per run, then a counter: unique within
 * the run, and apart from other runs' ids, without RAND_bytes per id. */
char *component_new_id(void)
{
    static char prefix[COMPONENT_ID_PREFIX + 1];
    static uint64_t counter;
    char *id = xmalloc(2 * COMPONENT_ID_PREFIX + 1);
    uint64_t r;

    if (prefix[0] == '\0') {
        if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
            fatal("RAND_bytes failed");
        component_base62(r, COMPONENT_ID_PREFIX, prefix);
    }
    memcpy(id, prefix, COMPONENT_ID_PREFIX);
    component_base62(counter++, 0, id + COMPONENT_ID_PREFIX);
    return id;
}

/* 96 bits from RAND_bytes in hex: an id nobody can guess (caller frees). */
char *component_random_id(void)
{
    unsigned char r[COMPONENT_IQ_ID_BYTES];
    char *id = xmalloc(2 * sizeof(r) + 1);

    if (RAND_bytes(r, sizeof(r)) != 1)
        fatal("RAND_bytes failed");
    util_hex(r, sizeof(r), id);
    return id;
}

/* libstrophe 0.12.2 dereferences conn->sm_state, which only
 * xmpp_connect_client() allocates: seed an all-zero state ("stream
 * management not enabled") whose first member is the ctx. See
 * reference/xmpp-harness.md section 4.2. */
static int component_seed_sm_state(void)
{
    void **blk = calloc(1, 256);

    if (blk == NULL)
        fatal("out of memory");
    blk[0] = comp.ctx;
    return xmpp_conn_set_sm_state(comp.conn, (xmpp_sm_state_t *)blk);
}

/* Called by libstrophe right after socket(): remember the fd for libevent. */
static int component_sockopt(xmpp_conn_t *conn, void *sock)
{
    int one = 1;

    comp.fd = *(int *)sock;
    /* stanzas and the barrier ping are small writes: no Nagle delay */
    setsockopt(comp.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (comp.io_ev != NULL) {
        event_free(comp.io_ev);
        comp.io_ev = NULL;
    }
    return xmpp_sockopt_cb_keepalive(conn, sock);
}

static void component_io(evutil_socket_t fd, short what, void *arg)
{
    component_pump(NULL);
}

/* Watches the socket for reading, and for writing while connecting or while
 * libstrophe still holds unsent data. */
static void component_watch(void)
{
    short want = EV_READ | EV_PERSIST;

    if (comp.fd < 0 || comp.state == COMPONENT_IDLE ||
        comp.state == COMPONENT_WAITING)
        return;
    if (comp.state == COMPONENT_CONNECTING ||
        xmpp_conn_send_queue_len(comp.conn) > 0)
        want |= EV_WRITE;
    if (comp.io_ev != NULL && event_get_events(comp.io_ev) == want)
        return;
    if (comp.io_ev != NULL)
        event_free(comp.io_ev);
    comp.io_ev = event_new(loop_base(), comp.fd, want, component_io, NULL);
    event_add(comp.io_ev, NULL);
}

static void component_unwatch(void)
{
    if (comp.io_ev != NULL)
        event_free(comp.io_ev);
    comp.io_ev = NULL;
    comp.fd = -1;
}

/* Lets libstrophe write its queue, read what arrived and run its timers. */
static void component_pump(void *arg)
{
    if (comp.ctx == NULL)
        return;
    xmpp_run_once(comp.ctx, 0);
    component_watch();
}

static void component_tick(evutil_socket_t fd, short what, void *arg)
{
    component_pump(NULL);
}

static long long component_backoff_ms(unsigned attempt)
{
    long long ms = COMPONENT_BACKOFF_FIRST_MS;
    unsigned int r;

    if (attempt == 0)
        return 0;
    while (--attempt > 0 && ms < COMPONENT_BACKOFF_MAX_MS)
        ms *= 2;
    if (ms > COMPONENT_BACKOFF_MAX_MS)
        ms = COMPONENT_BACKOFF_MAX_MS;
    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
        r = 0;
    /* jitter: between half and the full delay */
    return ms / 2 + (long long)(r % (unsigned)(ms / 2 + 1));
}

static void component_pending_free(struct component_pending *p)
{
    free(p->id);
    free(p->to);
    free(p);
}

static void component_fail_pending(void)
{
    struct component_pending *p = comp.pending;

    comp.pending = NULL;
    if (comp.iq_timer_ev != NULL)
        event_del(comp.iq_timer_ev);
    while (p != NULL) {
        struct component_pending *next = p->next;

        p->cb(NULL, p->arg);
        component_pending_free(p);
        p = next;
    }
}

/* Arms the timer for the earliest deadline of the pending iqs. */
static void component_iq_timer_arm(void)
{
    struct component_pending *p;
    long long first = 0, now = now_ms();

    for (p = comp.pending; p != NULL; p = p->next)
        if (first == 0 || p->deadline_ms < first)
            first = p->deadline_ms;
    if (first == 0)
        event_del(comp.iq_timer_ev);
    else
        loop_timer_start(comp.iq_timer_ev, first > now ? first - now : 0);
}

/* Gives up the iqs past their deadline: cb(NULL) while still connected. */
static void component_iq_expire(evutil_socket_t fd, short what, void *arg)
{
    struct component_pending **pp = &comp.pending, *p;
    long long now = now_ms();

    while (*pp != NULL) {
        p = *pp;
        if (p->deadline_ms > now) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        log_debug("component: iq %s to %s: no answer in time", p->id, p->to);
        p->cb(NULL, p->arg);
        component_pending_free(p);
        pp = &comp.pending; /* the callback may have sent or failed iqs */
    }
    component_iq_timer_arm();
}

static void component_conn_handler(xmpp_conn_t *conn, xmpp_conn_event_t ev,
                                   int error, xmpp_stream_error_t *se,
                                   void *arg);

static void component_connect(void)
{
    int rc;

    comp.state = COMPONENT_CONNECTING;
    xmpp_conn_set_jid(comp.conn, comp.jid);
    xmpp_conn_set_pass(comp.conn, comp.secret);
    rc = xmpp_connect_component(comp.conn, comp.host, comp.port,
                                component_conn_handler, NULL);
    if (rc != XMPP_EOK) {
        log_error("component: cannot start connecting to %s:%u", comp.host,
                  comp.port);
        comp.state = COMPONENT_WAITING;
        comp.attempt++;
        loop_timer_start(comp.retry_ev, component_backoff_ms(comp.attempt));
        return;
    }
    loop_timer_start(comp.tick_ev, COMPONENT_TICK_MS);
    component_watch();
}

static void component_retry(evutil_socket_t fd, short what, void *arg)
{
    if (comp.state == COMPONENT_WAITING)
        component_connect();
}

/* Words an admin understands for why the server closed the stream. */
static void component_log_stream_error(const xmpp_stream_error_t *se)
{
    const char *text = se->text ? se->text : "";

    switch (se->type) {
    case XMPP_SE_NOT_AUTHORIZED:
        log_error("component: the XMPP server rejected our secret "
                  "(not-authorized): check component.secret against the "
                  "server's component password. Server said: %s",
                  text);
        break;
    case XMPP_SE_CONFLICT:
        log_error("component: another component is already connected as %s "
                  "(conflict): is a second ferry running? Server said: %s",
                  comp.jid, text);
        break;
    case XMPP_SE_HOST_UNKNOWN:
        log_error("component: the XMPP server has no component named %s "
                  "(host-unknown): check component.jid and the server's "
                  "Component configuration. Server said: %s",
                  comp.jid, text);
        break;
    default:
        log_error(
            "component: the XMPP server closed the stream with an "
            "error (%s): %s",
            se->stanza && xmpp_stanza_get_children(se->stanza) &&
                    xmpp_stanza_get_name(xmpp_stanza_get_children(se->stanza))
                ? xmpp_stanza_get_name(xmpp_stanza_get_children(se->stanza))
                : "unknown condition",
            text);
        break;
    }
}

static void component_on_connect(void)
{
    if (comp.was_connected)
        comp.reconnects++;
    comp.state = COMPONENT_CONNECTED;
    comp.attempt = 0;
    comp.was_connected = 1;
    event_del(comp.tick_ev);
    log_info("component: connected to %s:%u as %s", comp.host, comp.port,
             comp.jid);
    if (comp.h.state != NULL)
        comp.h.state(1, comp.h.arg);
}

static void component_on_disconnect(int error, xmpp_stream_error_t *se)
{
    int was = comp.state == COMPONENT_CONNECTED;
    int stopping = comp.state == COMPONENT_STOPPING;
    long long delay;

    component_unwatch();
    event_del(comp.tick_ev);
    /* not connected while the pending iqs fail: their callbacks tell a
     * disconnect from a timeout by component_connected() */
    comp.state = COMPONENT_WAITING;
    component_fail_pending();
    if (stopping) {
        log_info("component: stream closed");
        comp.state = COMPONENT_IDLE;
        event_active(comp.stop_ev, EV_TIMEOUT, 0);
        return;
    }
    if (se != NULL)
        component_log_stream_error(se);
    else if (was)
        log_warn("component: connection to the XMPP server lost (%s)",
                 error ? strerror(error) : "closed");
    else
        log_warn("component: cannot connect to %s:%u (%s)", comp.host,
                 comp.port, error ? strerror(error) : "refused or timed out");
    if (was && comp.h.state != NULL)
        comp.h.state(0, comp.h.arg);
    comp.state = COMPONENT_WAITING;
    /* at once after a drop; but a server that closed the stream with an
     * error will likely do it again: back off */
    if (!was || se != NULL)
        comp.attempt++;
    delay = component_backoff_ms(comp.attempt);
    log_info("component: reconnecting in %lld ms", delay);
    loop_timer_start(comp.retry_ev, delay);
}

static void component_conn_handler(xmpp_conn_t *conn, xmpp_conn_event_t ev,
                                   int error, xmpp_stream_error_t *se,
                                   void *arg)
{
    if (ev == XMPP_CONN_CONNECT)
        component_on_connect();
    else if (ev == XMPP_CONN_DISCONNECT || ev == XMPP_CONN_FAIL)
        component_on_disconnect(error, se);
}

const char *component_server_domain(void)
{
    const char *dot = comp.jid ? strchr(comp.jid, '.') : NULL;

    return dot != NULL && dot[1] != '\0' ? dot + 1 : comp.jid;
}

/* 1 when the JIDs a and b are the same: localpart and domain compared
 * without ASCII case (servers fold both), the resource exactly. */
int component_jid_equal(const char *a, const char *b)
{
    const char *ra = strchr(a, '/'), *rb = strchr(b, '/');
    size_t la = ra ? (size_t)(ra - a) : strlen(a);
    size_t lb = rb ? (size_t)(rb - b) : strlen(b);

    if (la != lb || strncasecmp(a, b, la) != 0)
        return 0;
    if (ra == NULL || rb == NULL)
        return ra == rb;
    return strcmp(ra, rb) == 0;
}

/* Whether the reply st may answer an iq that went to "to": its from must
 * be that JID; a reply without from counts as from the server, so it
 * answers only what went to the server itself. */
static int component_reply_from_ok(xmpp_stanza_t *st, const char *to)
{
    const char *from = xmpp_stanza_get_from(st);

    if (from == NULL)
        from = component_server_domain();
    return component_jid_equal(from, to);
}

void component_forged(xmpp_stanza_t *st, const char *why)
{
    const char *from = xmpp_stanza_get_from(st);
    char safe[256];

    metrics_inc(METRICS_XMPP_FORGED);
    log_warn("component: ignored an iq reply from %s: %s",
             log_escape(from ? from : "-", safe, sizeof(safe)), why);
}

/* Answers an iq result/error we were waiting for: only when it comes from
 * where the request went. */
static void component_on_reply(xmpp_stanza_t *st, const char *id)
{
    struct component_pending **pp, *p;

    for (pp = &comp.pending; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, id) != 0)
            continue;
        p = *pp;
        if (!component_reply_from_ok(st, p->to)) {
            component_forged(st, "not the JID the request went to");
            return;
        }
        *pp = p->next;
        p->cb(st, p->arg);
        component_pending_free(p);
        component_iq_timer_arm();
        return;
    }
    if (comp.h.reply != NULL)
        comp.h.reply(st, comp.h.arg);
    else
        log_debug("component: reply to unknown iq id %s", id);
}

/* One debug line per received stanza: never its content (a registration
 * form carries an access token). */
static void component_trace(xmpp_stanza_t *st)
{
    const char *type = xmpp_stanza_get_type(st);
    const char *from = xmpp_stanza_get_from(st);
    const char *id = xmpp_stanza_get_id(st);

    if (!log_enabled(LOG_LEVEL_DEBUG))
        return;
    log_debug("component: <%s type=%s from=%s id=%s>", xmpp_stanza_get_name(st),
              type ? type : "-", from ? from : "-", id ? id : "-");
}

static int component_iq_handler(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
    const char *type = xmpp_stanza_get_type(st);
    const char *id = xmpp_stanza_get_id(st);
    xmpp_stanza_t *child;
    const char *ns;
    int i;

    component_trace(st);
    if (type == NULL || id == NULL)
        return 1; /* not a valid iq: nothing to answer */
    if (strcmp(type, "result") == 0 || strcmp(type, "error") == 0) {
        component_on_reply(st, id);
        return 1;
    }
    if (xmpp_stanza_get_from(st) == NULL)
        return 1; /* a request from nobody: nowhere to answer */
    if (strcmp(type, "get") != 0 && strcmp(type, "set") != 0)
        return 1;
    child = xmpp_stanza_get_children(st);
    while (child != NULL && !xmpp_stanza_is_tag(child))
        child = xmpp_stanza_get_next(child);
    ns = child ? xmpp_stanza_get_ns(child) : NULL;
    for (i = 0; ns != NULL && i < comp.n_iq_ns; i++)
        if (strcmp(comp.iq_ns[i].ns, ns) == 0 &&
            comp.iq_ns[i].fn(st, child, comp.iq_ns[i].arg))
            return 1;
    component_error_reply(st, "cancel", "service-unavailable", NULL);
    return 1;
}

static int component_message_handler(xmpp_conn_t *conn, xmpp_stanza_t *st,
                                     void *arg)
{
    component_trace(st);
    if (comp.h.message != NULL && xmpp_stanza_get_from(st) != NULL)
        comp.h.message(st, comp.h.arg);
    return 1;
}

static int component_presence_handler(xmpp_conn_t *conn, xmpp_stanza_t *st,
                                      void *arg)
{
    component_trace(st);
    if (comp.h.presence != NULL && xmpp_stanza_get_from(st) != NULL)
        comp.h.presence(st, comp.h.arg);
    return 1;
}

xmpp_stanza_t *component_elem(xmpp_stanza_t *parent, const char *name,
                              const char *ns)
{
    xmpp_stanza_t *e = xmpp_stanza_new(comp.ctx);

    xmpp_stanza_set_name(e, name);
    if (ns != NULL)
        xmpp_stanza_set_ns(e, ns);
    if (parent != NULL)
        xmpp_stanza_add_child_ex(parent, e, 0);
    return e;
}

xmpp_stanza_t *component_text_elem(xmpp_stanza_t *parent, const char *name,
                                   const char *text)
{
    xmpp_stanza_t *e = component_elem(parent, name, NULL);
    xmpp_stanza_t *t = xmpp_stanza_new(comp.ctx);
    char *safe = utf8_xml_safe(text);

    xmpp_stanza_set_text(t, safe);
    xmpp_stanza_add_child_ex(e, t, 0);
    free(safe);
    return e;
}

void component_inject(xmpp_stanza_t *st)
{
    const char *name = xmpp_stanza_get_name(st);

    if (name == NULL)
        return;
    if (strcmp(name, "iq") == 0)
        component_iq_handler(comp.conn, st, NULL);
    else if (strcmp(name, "message") == 0)
        component_message_handler(comp.conn, st, NULL);
    else if (strcmp(name, "presence") == 0)
        component_presence_handler(comp.conn, st, NULL);
}

static void component_stop_fire(evutil_socket_t fd, short what, void *arg)
{
    void (*done)(void *) = comp.stop_done;

    comp.stop_done = NULL;
    if (done != NULL)
        done(comp.stop_arg);
}

static void component_set_target(const struct conf *conf)
{
    free(comp.jid);
    free(comp.secret);
    free(comp.host);
    comp.jid = xstrdup(conf->component_jid);
    comp.secret = xstrdup(conf->component_secret);
    comp.host = xstrdup(conf->component_host);
    comp.port = (unsigned short)conf->component_port;
}

int component_init(const struct conf *conf)
{
    xmpp_initialize();
    comp.ctx = xmpp_ctx_new(NULL, NULL);
    comp.conn = xmpp_conn_new(comp.ctx);
    if (comp.ctx == NULL || comp.conn == NULL)
        fatal("component: cannot create the libstrophe context");
    if (component_seed_sm_state() != XMPP_EOK)
        fatal("component: cannot apply the libstrophe sm_state workaround");
    component_set_target(conf);
    xmpp_conn_set_sockopt_callback(comp.conn, component_sockopt);
    xmpp_handler_add(comp.conn, component_iq_handler, NULL, "iq", NULL, NULL);
    xmpp_handler_add(comp.conn, component_message_handler, NULL, "message",
                     NULL, NULL);
    xmpp_handler_add(comp.conn, component_presence_handler, NULL, "presence",
                     NULL, NULL);
    comp.tick_ev = event_new(loop_base(), -1, EV_PERSIST, component_tick, NULL);
    comp.retry_ev = event_new(loop_base(), -1, 0, component_retry, NULL);
    comp.stop_ev = event_new(loop_base(), -1, 0, component_stop_fire, NULL);
    comp.iq_timer_ev = event_new(loop_base(), -1, 0, component_iq_expire, NULL);
    return 0;
}

void component_reconfigure(const struct conf *conf)
{
    component_set_target(conf);
}

void component_set_handlers(const struct component_handlers *h)
{
    comp.h = *h;
}

void component_iq_register(const char *ns, component_iq_fn fn, void *arg)
{
    if (comp.n_iq_ns == COMPONENT_MAX_IQ_NS)
        fatal("component: too many iq namespaces");
    comp.iq_ns[comp.n_iq_ns].ns = ns;
    comp.iq_ns[comp.n_iq_ns].fn = fn;
    comp.iq_ns[comp.n_iq_ns].arg = arg;
    comp.n_iq_ns++;
}

void component_iq_register_first(const char *ns, component_iq_fn fn, void *arg)
{
    size_t i;

    if (comp.n_iq_ns == COMPONENT_MAX_IQ_NS)
        fatal("component: too many iq namespaces");
    for (i = (size_t)comp.n_iq_ns; i > 0; i--)
        comp.iq_ns[i] = comp.iq_ns[i - 1];
    comp.iq_ns[0].ns = ns;
    comp.iq_ns[0].fn = fn;
    comp.iq_ns[0].arg = arg;
    comp.n_iq_ns++;
}

void component_start(void)
{
    comp.attempt = 0;
    component_connect();
}

void component_stop(void (*done)(void *arg), void *arg)
{
    struct timeval tv = {0, COMPONENT_STOP_MS * 1000};

    comp.stop_done = done;
    comp.stop_arg = arg;
    event_del(comp.retry_ev);
    if (comp.state == COMPONENT_CONNECTED ||
        comp.state == COMPONENT_CONNECTING) {
        comp.state = COMPONENT_STOPPING;
        xmpp_disconnect(comp.conn);
        loop_defer(component_pump, NULL);
        tv.tv_sec = COMPONENT_STOP_MS / 1000;
        tv.tv_usec = (COMPONENT_STOP_MS % 1000) * 1000;
        event_add(comp.stop_ev, &tv);
        return;
    }
    comp.state = COMPONENT_IDLE;
    event_active(comp.stop_ev, EV_TIMEOUT, 0);
}

void component_free(void)
{
    if (comp.ctx == NULL)
        return;
    comp.state = COMPONENT_IDLE;
    component_fail_pending();
    component_unwatch();
    event_free(comp.tick_ev);
    event_free(comp.retry_ev);
    event_free(comp.stop_ev);
    event_free(comp.iq_timer_ev);
    comp.iq_timer_ev = NULL;
    xmpp_conn_release(comp.conn);
    xmpp_ctx_free(comp.ctx);
    xmpp_shutdown();
    free(comp.jid);
    free(comp.secret);
    free(comp.host);
    comp.ctx = NULL;
}

void component_send(xmpp_stanza_t *stanza)
{
    if (comp.state != COMPONENT_CONNECTED) {
        log_debug("component: not connected, stanza dropped");
        return;
    }
    xmpp_send(comp.conn, stanza);
    loop_defer(component_pump, NULL);
}

void component_send_raw(const char *xml, size_t len)
{
    if (comp.state != COMPONENT_CONNECTED)
        return;
    xmpp_send_raw(comp.conn, xml, len);
    loop_defer(component_pump, NULL);
}

int component_send_queue_len(void)
{
    return comp.conn ? xmpp_conn_send_queue_len(comp.conn) : 0;
}

void component_send_iq_timeout(xmpp_stanza_t *iq, long long timeout_ms,
                               component_reply_fn cb, void *arg)
{
    struct component_pending *p;
    const char *to = xmpp_stanza_get_to(iq);

    if (comp.state != COMPONENT_CONNECTED) {
        cb(NULL, arg);
        return;
    }
    p = xcalloc(1, sizeof(*p));
    p->id = component_random_id();
    p->to = xstrdup(to != NULL ? to : component_server_domain());
    p->deadline_ms = now_ms() + timeout_ms;
    p->cb = cb;
    p->arg = arg;
    xmpp_stanza_set_id(iq, p->id);
    if (xmpp_stanza_get_from(iq) == NULL)
        xmpp_stanza_set_from(iq, comp.jid);
    p->next = comp.pending;
    comp.pending = p;
    component_iq_timer_arm();
    component_send(iq);
}

void component_send_iq(xmpp_stanza_t *iq, component_reply_fn cb, void *arg)
{
    component_send_iq_timeout(iq, COMPONENT_IQ_TIMEOUT_MS, cb, arg);
}

/* ---- questions whose answer only matters as an outcome ---- */

/* Who waits for the outcome of a ping or a readiness query. */
struct component_ask {
    component_done_fn done;
    void *arg;
};

static struct component_ask *component_ask_new(component_done_fn done,
                                               void *arg)
{
    struct component_ask *a = xcalloc(1, sizeof(*a));

    a->done = done;
    a->arg = arg;
    return a;
}

/* The outcome of a question without an answer: -1 when the stream went
 * down, else 0 (no answer in time). */
static int component_ask_lost(void)
{
    return component_connected() ? 0 : -1;
}

static void component_ping_reply(xmpp_stanza_t *reply, void *arg)
{
    struct component_ask *a = arg;
    component_done_fn done = a->done;
    void *done_arg = a->arg;

    free(a);
    done(reply != NULL ? 1 : component_ask_lost(), done_arg);
}

void component_ping(const char *domain, long long timeout_ms,
                    component_done_fn done, void *arg)
{
    xmpp_stanza_t *iq = xmpp_iq_new(comp.ctx, "get", NULL);

    component_elem(iq, "ping", "urn:xmpp:ping");
    xmpp_stanza_set_to(iq, domain);
    component_send_iq_timeout(iq, timeout_ms, component_ping_reply,
                              component_ask_new(done, arg));
    xmpp_stanza_release(iq);
}

static void component_ready_reply(xmpp_stanza_t *reply, void *arg)
{
    struct component_ask *a = arg;
    component_done_fn done = a->done;
    void *done_arg = a->arg;
    const char *type = reply ? xmpp_stanza_get_type(reply) : NULL;
    int rc;

    free(a);
    if (reply == NULL)
        rc = component_ask_lost();
    else
        rc = type != NULL && strcmp(type, "result") == 0;
    done(rc, done_arg);
}

void component_ask_ready(long long timeout_ms, component_done_fn done,
                         void *arg)
{
    xmpp_stanza_t *iq = xmpp_iq_new(comp.ctx, "get", NULL);

    component_elem(iq, "query", "http://jabber.org/protocol/disco#info");
    xmpp_stanza_set_to(iq, component_server_domain());
    component_send_iq_timeout(iq, timeout_ms, component_ready_reply,
                              component_ask_new(done, arg));
    xmpp_stanza_release(iq);
}

void component_probe(const char *jid)
{
    xmpp_stanza_t *p = xmpp_presence_new(comp.ctx);

    xmpp_stanza_set_type(p, "probe");
    xmpp_stanza_set_from(p, comp.jid);
    xmpp_stanza_set_to(p, jid);
    component_send(p);
    xmpp_stanza_release(p);
}

/* A reply skeleton to req: name, type, id, and from/to swapped. */
static xmpp_stanza_t *component_reply_new(xmpp_stanza_t *req, const char *type)
{
    xmpp_stanza_t *r = xmpp_stanza_new(comp.ctx);
    const char *id = xmpp_stanza_get_id(req);
    const char *to = xmpp_stanza_get_to(req);

    xmpp_stanza_set_name(r, xmpp_stanza_get_name(req));
    xmpp_stanza_set_type(r, type);
    if (id != NULL)
        xmpp_stanza_set_id(r, id);
    xmpp_stanza_set_to(r, xmpp_stanza_get_from(req));
    xmpp_stanza_set_from(r, to ? to : comp.jid);
    return r;
}

void component_iq_result(xmpp_stanza_t *req, xmpp_stanza_t *child)
{
    xmpp_stanza_t *r = component_reply_new(req, "result");

    if (child != NULL)
        xmpp_stanza_add_child(r, child);
    component_send(r);
    xmpp_stanza_release(r);
}

void component_error_reply(xmpp_stanza_t *req, const char *type,
                           const char *condition, const char *text)
{
    xmpp_stanza_t *r, *err, *cond, *t, *body;

    if (xmpp_stanza_get_from(req) == NULL)
        return;
    r = component_reply_new(req, "error");
    err = xmpp_stanza_new(comp.ctx);
    xmpp_stanza_set_name(err, "error");
    xmpp_stanza_set_type(err, type);
    cond = xmpp_stanza_new(comp.ctx);
    xmpp_stanza_set_name(cond, condition);
    xmpp_stanza_set_ns(cond, "urn:ietf:params:xml:ns:xmpp-stanzas");
    xmpp_stanza_add_child_ex(err, cond, 0);
    if (text != NULL) {
        t = xmpp_stanza_new(comp.ctx);
        xmpp_stanza_set_name(t, "text");
        xmpp_stanza_set_ns(t, "urn:ietf:params:xml:ns:xmpp-stanzas");
        body = xmpp_stanza_new(comp.ctx);
        xmpp_stanza_set_text(body, text);
        xmpp_stanza_add_child_ex(t, body, 0);
        xmpp_stanza_add_child_ex(err, t, 0);
    }
    xmpp_stanza_add_child_ex(r, err, 0);
    component_send(r);
    xmpp_stanza_release(r);
}
