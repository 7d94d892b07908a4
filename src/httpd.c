/* SPDX-License-Identifier: MIT */
/* libmicrohttpd in external epoll mode: its epoll fd is watched by libevent
 * and MHD_run() is called on readiness, MHD_get_timeout() as a timer. The
 * routes, per-route body caps and the limits on what unauthenticated
 * clients may hold (connections per address, a deadline per request, bytes
 * of bodies buffered at once) live here; handlers live in their modules. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <microhttpd.h>

#include "httpd.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "util.h"

#define HTTPD_MAX_ROUTES 16
#define HTTPD_CONN_LIMIT 256
#define HTTPD_CONN_TIMEOUT_S 30
#define HTTPD_SWEEP_MS 1000 /* how often request deadlines are checked */
/* A body refused half-way is read on and thrown away up to this many more
 * bytes, so that the answer is not lost to a reset of the connection. */
#define HTTPD_DRAIN_MAX (1024 * 1024)
/* At most one of libmicrohttpd's messages a minute is a warning. */
#define HTTPD_LOG_WARN_MS 60000

struct httpd_route {
    const char *path;
    httpd_handler fn;
    void *arg;
    size_t max_body;
};

/* One request: its route and its body so far. The body's buffer is
 * allocated once at its declared length (no chain of reallocations) and
 * is what it holds of the global budget. */
struct httpd_conn {
    const struct httpd_route *route;
    char *body; /* reserved + 1 bytes, NUL-terminated; NULL without body */
    size_t len;
    size_t reserved;
    int refused;      /* 413 or 503 found mid-body, answered at its end */
    size_t discarded; /* bytes thrown away since */
    struct MHD_Connection *conn;
    struct httpd_later *later; /* answered later: suspended meanwhile */
};

/* A deferred answer's handle: it outlives its request if the listener
 * stops first (hc is then NULL). */
struct httpd_later {
    struct httpd_conn *hc;
    struct httpd_later *prev, *next; /* suspended, for httpd_stop() */
};

/* One TCP connection, from accept to close: the deadline of the request
 * being read on it (0 while none is, e.g. while a response is sent). */
struct httpd_peer {
    struct MHD_Connection *conn;
    long long deadline;
    int cut; /* its socket was shut down at the deadline */
    struct httpd_peer *prev, *next;
};

static struct {
    struct MHD_Daemon *d;
    struct event *io_ev, *timer_ev, *sweep_ev;
    struct httpd_route routes[HTTPD_MAX_ROUTES];
    int nroutes;
    int draining;
    int port;
    struct httpd_limits lim;
    size_t buffered; /* bytes of bodies reserved by requests being read */
    struct httpd_peer *peers;
    struct httpd_later *suspended;
} httpd;

static void httpd_reschedule(void)
{
    MHD_UNSIGNED_LONG_LONG ms;

    if (httpd.d == NULL)
        return;
    if (MHD_get_timeout(httpd.d, &ms) == MHD_YES)
        loop_timer_start(httpd.timer_ev, (long long)ms);
    else
        event_del(httpd.timer_ev);
}

static void httpd_run(evutil_socket_t fd, short what, void *arg)
{
    MHD_run(httpd.d);
    httpd_reschedule();
}

/* After resumes: one run of the listener for all answers of the turn. */
static void httpd_run_deferred(void *arg)
{
    if (httpd.d != NULL)
        httpd_run(-1, 0, NULL);
}

void httpd_route(const char *path, httpd_handler fn, void *arg, size_t max_body)
{
    if (httpd.nroutes == HTTPD_MAX_ROUTES)
        fatal("httpd: too many routes");
    httpd.routes[httpd.nroutes].path = path;
    httpd.routes[httpd.nroutes].fn = fn;
    httpd.routes[httpd.nroutes].arg = arg;
    httpd.routes[httpd.nroutes].max_body = max_body;
    httpd.nroutes++;
}

static const struct httpd_route *httpd_find(const char *path)
{
    int i;

    for (i = 0; i < httpd.nroutes; i++) {
        const char *p = httpd.routes[i].path;
        size_t n = strlen(p);

        if (strcmp(p, path) == 0 ||
            (n > 0 && p[n - 1] == '/' && strncmp(p, path, n) == 0))
            return &httpd.routes[i];
    }
    return NULL;
}

void httpd_set_draining(int draining)
{
    httpd.draining = draining;
}

void httpd_respond(struct httpd_response *res, int status,
                   const char *content_type, const char *body)
{
    free(res->body);
    res->status = status;
    res->content_type = content_type;
    res->body = xstrdup(body);
    res->len = strlen(body);
}

const char *httpd_header(const struct httpd_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *httpd_query(const struct httpd_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* A response whose body is a file; NULL (and a 404 in res) when it cannot
 * be opened. Files are sent with headers that keep browsers from running
 * them as pages. */
static struct MHD_Response *httpd_file_response(struct httpd_response *res)
{
    struct MHD_Response *r;
    struct stat sb;
    int fd = open(res->file, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        if (fd >= 0)
            close(fd);
        log_warn("httpd: cannot open a file to serve: %s", strerror(errno));
        return NULL;
    }
    r = MHD_create_response_from_fd64((uint64_t)sb.st_size, fd);
    if (r == NULL) {
        close(fd);
        return NULL;
    }
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; sandbox");
    if (res->disposition != NULL)
        MHD_add_response_header(r, "Content-Disposition", res->disposition);
    return r;
}

/* The peer of a connection (NULL before its start was notified). */
static struct httpd_peer *httpd_peer_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci != NULL ? ci->socket_context : NULL;
}

/* Starts (or, with 0, stops) the clock of the request read on c. */
static void httpd_peer_clock(struct httpd_peer *p, int on)
{
    if (p != NULL)
        p->deadline =
            on ? now_ms() + (long long)httpd.lim.request_timeout * 1000 : 0;
}

/* Queues res on c: the request has been read, its deadline no longer
 * runs (sending the answer is bounded by the inactivity timeout). */
static enum MHD_Result httpd_send(struct MHD_Connection *c,
                                  struct httpd_response *res)
{
    struct MHD_Response *r = NULL;
    enum MHD_Result rc;

    httpd_peer_clock(httpd_peer_of(c), 0);

    if (res->file != NULL && (r = httpd_file_response(res)) == NULL)
        httpd_respond(res, 404, "text/plain", "not found\n");
    if (r == NULL) {
        r = MHD_create_response_from_buffer(res->len, res->body,
                                            MHD_RESPMEM_MUST_FREE);
        res->body = NULL;
    }
    free(res->body);
    free(res->file);
    free(res->disposition);
    if (res->content_type != NULL)
        MHD_add_response_header(r, "Content-Type", res->content_type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    rc = MHD_queue_response(c, (unsigned)res->status, r);
    MHD_destroy_response(r);
    return rc;
}

static int httpd_exempt_from_drain(const char *path)
{
    return strcmp(path, "/health") == 0 || strcmp(path, "/metrics") == 0;
}

/* Calls the route's handler once the whole body has arrived. */
static enum MHD_Result httpd_finish(struct MHD_Connection *c,
                                    struct httpd_conn *hc, const char *url,
                                    const char *method)
{
    struct httpd_response res = {404, "text/plain", NULL, 0, NULL, NULL};
    struct httpd_request req;

    if (hc->route == NULL) {
        httpd_respond(&res, 404, "text/plain", "not found\n");
    } else if (httpd.draining && !httpd_exempt_from_drain(url)) {
        httpd_respond(&res, 503, "text/plain", "shutting down\n");
    } else {
        req.method = method;
        req.path = url;
        req.body = hc->body ? hc->body : "";
        req.body_len = hc->len;
        req.conn = c;
        req.hc = hc;
        hc->conn = c;
        hc->route->fn(&req, &res, hc->route->arg);
        if (hc->later != NULL) {
            free(res.body);
            httpd_peer_clock(httpd_peer_of(c), 0);
            MHD_suspend_connection(c);
            return MHD_YES;
        }
        if (res.body == NULL && res.file == NULL)
            httpd_respond(&res, res.status, "text/plain", "");
    }
    return httpd_send(c, &res);
}

struct httpd_later *httpd_defer(const struct httpd_request *req)
{
    struct httpd_conn *hc = req->hc;
    struct httpd_later *l = xcalloc(1, sizeof(*l));

    l->hc = hc;
    hc->later = l;
    l->next = httpd.suspended;
    if (l->next != NULL)
        l->next->prev = l;
    httpd.suspended = l;
    return l;
}

static void httpd_later_unlink(struct httpd_later *l)
{
    if (l->prev != NULL)
        l->prev->next = l->next;
    else if (httpd.suspended == l)
        httpd.suspended = l->next;
    if (l->next != NULL)
        l->next->prev = l->prev;
    l->prev = l->next = NULL;
}

void httpd_answer(struct httpd_later *l, int status, const char *body)
{
    struct httpd_response res = {status, "text/plain", NULL, 0, NULL, NULL};
    struct httpd_conn *hc = l->hc;

    httpd_later_unlink(l);
    free(l);
    if (hc == NULL)
        return; /* the listener stopped meanwhile */
    hc->later = NULL;
    httpd_respond(&res, status, "text/plain", body);
    httpd_send(hc->conn, &res);
    MHD_resume_connection(hc->conn);
    loop_defer(httpd_run_deferred, NULL);
}

/* Gives back hc's body and its share of the budget. */
static void httpd_release(struct httpd_conn *hc)
{
    httpd.buffered -= hc->reserved;
    hc->reserved = 0;
    free(hc->body);
    hc->body = NULL;
    hc->len = 0;
}

/* Answers status at once, before (the rest of) the body is read: MHD
 * then reads no more of this request and closes the connection. */
static enum MHD_Result httpd_refuse(struct MHD_Connection *c,
                                    struct httpd_conn *hc, int status)
{
    struct httpd_response res = {404, "text/plain", NULL, 0, NULL, NULL};

    if (status == 413) {
        metrics_inc(METRICS_REJECT_TOO_LARGE);
        httpd_respond(&res, 413, "text/plain", "body too large\n");
    } else {
        metrics_inc(METRICS_REJECT_BUSY);
        httpd_respond(&res, 503, "text/plain", "busy, try again later\n");
    }
    log_debug("httpd: request refused with %d before its body", status);
    httpd_release(hc);
    return httpd_send(c, &res);
}

/* Grows hc's share of the global body budget, and its buffer, to want
 * bytes; -1 when the budget is spent. */
static int httpd_reserve(struct httpd_conn *hc, size_t want)
{
    if (want <= hc->reserved)
        return 0;
    if (want - hc->reserved > httpd.lim.max_buffered - httpd.buffered)
        return -1;
    httpd.buffered += want - hc->reserved;
    hc->reserved = want;
    hc->body = xrealloc(hc->body, want + 1);
    return 0;
}

/* The declared Content-Length, or -1 when there is none (chunked). MHD
 * has already refused a malformed one with 400. */
static long long httpd_declared_length(struct MHD_Connection *c)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_CONTENT_LENGTH);
    long long n;

    if (v == NULL || parse_ll(v, 0, LLONG_MAX, &n) < 0)
        return -1;
    return n;
}

/* At the headers: 0, or the status that refuses the request before any
 * of its body is read (413 over the route's cap, 503 when the bodies
 * being read already hold the global budget). */
static int httpd_admit(struct MHD_Connection *c, struct httpd_conn *hc)
{
    long long len = httpd_declared_length(c);

    if (hc->route == NULL || len <= 0)
        return 0;
    if ((unsigned long long)len > hc->route->max_body)
        return 413;
    if (httpd_reserve(hc, (size_t)len) < 0)
        return 503;
    return 0;
}

/* Buffers a piece of the body; 0 or the status that refuses it (a body
 * without Content-Length takes budget as it grows, doubling up to the
 * route's cap). */
static int httpd_take(struct httpd_conn *hc, const char *data, size_t n)
{
    size_t need, grow;

    if (hc->route == NULL)
        return 0;
    if (n > hc->route->max_body - hc->len)
        return 413;
    need = hc->len + n;
    grow = hc->reserved * 2 > need ? hc->reserved * 2 : need;
    if (grow > hc->route->max_body)
        grow = hc->route->max_body;
    if (need > hc->reserved && httpd_reserve(hc, grow) < 0 &&
        httpd_reserve(hc, need) < 0)
        return 503;
    memcpy(hc->body + hc->len, data, n);
    hc->len = need;
    hc->body[need] = '\0';
    return 0;
}

/* Takes a piece of the body; once it is refused, reads the rest and
 * throws it away, so the answer goes out after the whole request (closing
 * a socket with unread bytes resets it, and the client may never see the
 * answer). 0 to read on, or the status to answer now: a client that
 * sends more than HTTPD_DRAIN_MAX after the refusal is cut off. */
static int httpd_drain(struct httpd_conn *hc, const char *data, size_t n)
{
    int status;

    if (!hc->refused) {
        status = httpd_take(hc, data, n);
        if (status == 0)
            return 0;
        hc->refused = status;
        httpd_release(hc);
        log_debug("httpd: body refused with %d, reading the rest", status);
        return 0;
    }
    if (n > HTTPD_DRAIN_MAX - hc->discarded)
        return hc->refused;
    hc->discarded += n;
    return 0;
}

static enum MHD_Result httpd_access(void *cls, struct MHD_Connection *c,
                                    const char *url, const char *method,
                                    const char *version,
                                    const char *upload_data,
                                    size_t *upload_data_size, void **con_cls)
{
    struct httpd_conn *hc = *con_cls;
    int status;

    if (hc == NULL) {
        hc = xcalloc(1, sizeof(*hc));
        hc->route = httpd_find(url);
        *con_cls = hc;
        status = httpd_admit(c, hc);
        return status ? httpd_refuse(c, hc, status) : MHD_YES;
    }
    if (*upload_data_size > 0) {
        status = httpd_drain(hc, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return status ? httpd_refuse(c, hc, status) : MHD_YES;
    }
    if (hc->refused)
        return httpd_refuse(c, hc, hc->refused);
    return httpd_finish(c, hc, url, method);
}

/* A request is over (answered or not): its budget is released and the
 * clock of the next request on the connection starts. */
static void httpd_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                            enum MHD_RequestTerminationCode toe)
{
    struct httpd_conn *hc = *con_cls;

    httpd_peer_clock(httpd_peer_of(c), 1);
    if (hc == NULL)
        return;
    if (hc->later != NULL) {
        httpd_later_unlink(hc->later);
        hc->later->hc = NULL;
    }
    httpd_release(hc);
    free(hc);
    *con_cls = NULL;
}

/* Cuts the connections whose request is past its deadline: shutdown(2)
 * makes MHD see the end of the stream and close it as usual. */
static void httpd_sweep(evutil_socket_t fd, short what, void *arg)
{
    const union MHD_ConnectionInfo *ci;
    struct httpd_peer *p;
    long long now = now_ms();
    int cut = 0;

    for (p = httpd.peers; p != NULL; p = p->next) {
        if (p->cut || p->deadline == 0 || now < p->deadline)
            continue;
        ci =
            MHD_get_connection_info(p->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci != NULL && shutdown(ci->connect_fd, SHUT_RDWR) == 0)
            cut++;
        p->cut = 1;
    }
    if (cut > 0)
        log_info("httpd: closed %d connection(s) whose request took over "
                 "%u s",
                 cut, httpd.lim.request_timeout);
    if (httpd.peers != NULL)
        loop_timer_start(httpd.sweep_ev, HTTPD_SWEEP_MS);
}

/* Keeps the list of open connections whose requests have deadlines. */
static void httpd_notify(void *cls, struct MHD_Connection *c,
                         void **socket_context,
                         enum MHD_ConnectionNotificationCode toe)
{
    struct httpd_peer *p = *socket_context;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        p = xcalloc(1, sizeof(*p));
        p->conn = c;
        httpd_peer_clock(p, 1);
        p->next = httpd.peers;
        if (httpd.peers != NULL)
            httpd.peers->prev = p;
        else
            loop_timer_start(httpd.sweep_ev, HTTPD_SWEEP_MS);
        httpd.peers = p;
        *socket_context = p;
        return;
    }
    if (p == NULL)
        return;
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        httpd.peers = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    free(p);
    *socket_context = NULL;
}

/* Parses "HOST:PORT" or "[V6]:PORT" into ss; 0 or -1. */
static int httpd_parse_listen(const char *listen, struct sockaddr_storage *ss,
                              socklen_t *len)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    const char *h = listen;
    size_t hl;
    long long port;
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

    if (colon == NULL || parse_ll(colon + 1, 0, 65535, &port) < 0)
        return -1;
    hl = (size_t)(colon - listen);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']')
        h++, hl -= 2;
    if (hl == 0 || hl >= sizeof(host))
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        *len = sizeof(*s4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*s6);
        return 0;
    }
    return -1;
}

static void httpd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* libmicrohttpd's messages are mostly about what one client did (closed
 * early, sent garbage): anyone can cause them, so at most one a minute is
 * a warning, with the count of those held back; the rest go to debug. */
static void httpd_log(void *cls, const char *fmt, va_list ap)
{
    static long long last_warn_ms = LLONG_MIN / 2;
    static unsigned held_back;
    char *s = xvasprintf(fmt, ap);
    size_t n = strlen(s);
    long long now = now_ms();

    if (n > 0 && s[n - 1] == '\n')
        s[n - 1] = '\0';
    if (now - last_warn_ms < HTTPD_LOG_WARN_MS) {
        held_back++;
        log_debug("httpd: %s", s);
    } else {
        if (held_back)
            log_warn("httpd: %s (and %u more messages in the last minute, "
                     "at debug level)",
                     s, held_back);
        else
            log_warn("httpd: %s", s);
        last_warn_ms = now;
        held_back = 0;
    }
    free(s);
}

int httpd_start(const char *listen, const struct httpd_limits *lim)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    const union MHD_DaemonInfo *info;
    unsigned flags =
        MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;

    if (httpd_parse_listen(listen, &ss, &sl) < 0) {
        log_error("httpd: cannot parse http.listen '%s'", listen);
        return -1;
    }
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    httpd.lim = *lim;
    httpd.sweep_ev = event_new(loop_base(), -1, 0, httpd_sweep, NULL);
    httpd.d = MHD_start_daemon(
        flags, 0, NULL, NULL, httpd_access, NULL, MHD_OPTION_EXTERNAL_LOGGER,
        httpd_log, NULL, MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)HTTPD_CONN_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        lim->conn_per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)HTTPD_CONN_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED,
        httpd_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION, httpd_notify, NULL,
        MHD_OPTION_END);
    if (httpd.d == NULL) {
        log_error("httpd: cannot listen on %s (address in use?)", listen);
        event_free(httpd.sweep_ev);
        return -1;
    }
    info = MHD_get_daemon_info(httpd.d, MHD_DAEMON_INFO_EPOLL_FD);
    httpd.io_ev = event_new(loop_base(), info->epoll_fd, EV_READ | EV_PERSIST,
                            httpd_run, NULL);
    httpd.timer_ev = event_new(loop_base(), -1, 0, httpd_run, NULL);
    event_add(httpd.io_ev, NULL);
    info = MHD_get_daemon_info(httpd.d, MHD_DAEMON_INFO_BIND_PORT);
    httpd.port = info ? info->port : 0;
    log_info("httpd: listening on %s", listen);
    return 0;
}

int httpd_port(void)
{
    return httpd.port;
}

void httpd_stop(void)
{
    if (httpd.d == NULL)
        return;
    event_free(httpd.io_ev);
    event_free(httpd.timer_ev);
    /* answers still awaited: resumed unanswered, so MHD can close them */
    while (httpd.suspended != NULL) {
        struct httpd_later *l = httpd.suspended;

        httpd_later_unlink(l);
        MHD_resume_connection(l->hc->conn);
    }
    MHD_stop_daemon(httpd.d); /* notifies every close: peers are freed */
    event_free(httpd.sweep_ev);
    httpd.d = NULL;
}
