/* SPDX-License-Identifier: MIT */
/* libcurl multi-socket on libevent (curl's hiperfifo pattern): curl tells us
 * which sockets to watch and when to wake it; we report finished transfers
 * to their callbacks. Response bodies are capped, in memory or in a file;
 * request bodies come from memory, a file or multipart form parts. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "loop.h"
#include "util.h"

#define HTTP_MAX_CONNECTIONS 64 /* keeps fds low: libstrophe uses select() */
#define HTTP_CONNECT_TIMEOUT_MS 10000
/* File transfers (bulk): a host that does not answer, or trickles, is
 * given up on in seconds rather than at the overall timeout. */
#define HTTP_BULK_CONNECT_TIMEOUT_MS 5000
#define HTTP_BULK_LOW_SPEED_BYTES 1024L /* per second, ... */
#define HTTP_BULK_LOW_SPEED_S 30L       /* ... over this long */
#define HTTP_POOL_MAX 64                /* idle easy handles kept for reuse */
#define HTTP_HDRS_SLOTS 64 /* cached header lists, by bearer and type */

/* A header list shared by the requests with the same bearer token and
 * content type and no other headers: built once, not per request. */
struct http_hdrs {
    char *bearer; /* NULL: no Authorization header */
    char *content_type;
    unsigned long hash;
    struct curl_slist *list;
    int refs; /* the cache's, and one per transfer using it */
};

struct http_xfer {
    CURL *easy;
    struct curl_slist *headers; /* own list, or NULL when shared */
    struct http_hdrs *shared;   /* cached list, or NULL */
    char *body;                 /* request body */
    size_t body_len, body_off;  /* its length, and what curl has read */
    struct buf resp;
    int too_big;
    int refused;       /* public_only kept it from an internal address */
    int save_fd;       /* -1 unless the body goes to a file */
    size_t saved, cap; /* bytes written to save_fd, and the cap */
    FILE *upload;      /* request body file, or NULL */
    curl_mime *mime;   /* multipart body, or NULL */
    char *setup_error; /* the request could not start: why */
    http_done_fn done;
    void *arg;
    char errbuf[CURL_ERROR_SIZE];
    int no_repeat; /* http_request.no_repeat */
    long long started;
    struct http_xfer *prev, *next; /* in flight: http.xfers */
};

struct http_sock {
    struct event *ev;
    int what; /* the CURL_POLL_* it waits for */
};

static struct {
    CURLM *multi;
    struct event *timer_ev;
    int inflight;
    int inflight_no_repeat;    /* of which no_repeat */
    struct http_xfer *xfers;   /* in flight, for http_cancel_all() */
    CURL *pool[HTTP_POOL_MAX]; /* idle easy handles, reset */
    int npool;
    struct http_hdrs *hdrs[HTTP_HDRS_SLOTS];
    char *test_ca; /* FERRY_TEST_CA_FILE, or NULL */
} http;

static void http_check_done(void);

static void http_on_socket(evutil_socket_t fd, short what, void *arg)
{
    int running;
    int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
                 ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);

    curl_multi_socket_action(http.multi, fd, action, &running);
    http_check_done();
}

static void http_on_timer(evutil_socket_t fd, short what, void *arg)
{
    int running;

    curl_multi_socket_action(http.multi, CURL_SOCKET_TIMEOUT, 0, &running);
    http_check_done();
}

static int http_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp,
                          void *socketp)
{
    struct http_sock *hs = socketp;
    short kind;

    if (what == CURL_POLL_REMOVE) {
        if (hs != NULL) {
            event_free(hs->ev);
            free(hs);
        }
        curl_multi_assign(http.multi, s, NULL);
        return 0;
    }
    kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) |
                   ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
    /* One event per socket for its lifetime: re-armed, not reallocated,
     * when curl wants other events. */
    if (hs == NULL) {
        hs = xcalloc(1, sizeof(*hs));
        hs->ev = event_new(loop_base(), s, kind, http_on_socket, NULL);
        curl_multi_assign(http.multi, s, hs);
    } else if (hs->what == what) {
        return 0;
    } else {
        event_del(hs->ev);
        event_assign(hs->ev, loop_base(), s, kind, http_on_socket, NULL);
    }
    hs->what = what;
    event_add(hs->ev, NULL);
    return 0;
}

static int http_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    if (timeout_ms < 0)
        event_del(http.timer_ev);
    else
        loop_timer_start(http.timer_ev, timeout_ms);
    return 0;
}

/* Appends to the response file; a short count aborts the transfer. */
static size_t http_write_file(struct http_xfer *x, const char *p, size_t n)
{
    size_t done = 0;
    ssize_t w;

    if (n > x->cap - x->saved) {
        x->too_big = 1;
        return 0;
    }
    while (done < n) {
        w = write(x->save_fd, p + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            log_warn("http: cannot write a response to disk: %s",
                     strerror(errno));
            return 0;
        }
        done += (size_t)w;
    }
    x->saved += n;
    return n;
}

static size_t http_write_cb(char *ptr, size_t size, size_t n, void *userdata)
{
    struct http_xfer *x = userdata;

    if (x->save_fd >= 0)
        return http_write_file(x, ptr, size * n);
    if (buf_append(&x->resp, ptr, size * n) < 0) {
        x->too_big = 1;
        return 0; /* aborts the transfer */
    }
    return size * n;
}

/* Drops a reference to a shared header list. */
static void http_hdrs_unref(struct http_hdrs *h)
{
    if (h == NULL || --h->refs > 0)
        return;
    curl_slist_free_all(h->list);
    free(h->bearer);
    free(h->content_type);
    free(h);
}

/* Keeps a finished transfer's easy handle for the next request, saving
 * its set-up: reset drops every option (headers, body, private pointers,
 * error buffer) but keeps the handle and its buffers. */
static void http_easy_release(CURL *e)
{
    if (e == NULL)
        return;
    if (http.multi == NULL || http.npool == HTTP_POOL_MAX) {
        curl_easy_cleanup(e);
        return;
    }
    curl_easy_reset(e);
    http.pool[http.npool++] = e;
}

static CURL *http_easy_get(void)
{
    CURL *e;

    if (http.npool > 0)
        return http.pool[--http.npool];
    e = curl_easy_init();
    if (e == NULL)
        fatal("curl_easy_init failed");
    return e;
}

/* The easy handle goes first: it must let go of the headers and the body
 * before they are freed. */
static void http_xfer_free(struct http_xfer *x)
{
    http_easy_release(x->easy);
    curl_slist_free_all(x->headers);
    http_hdrs_unref(x->shared);
    curl_mime_free(x->mime);
    if (x->save_fd >= 0)
        close(x->save_fd);
    if (x->upload != NULL)
        fclose(x->upload);
    free(x->setup_error);
    free(x->body);
    buf_reset(&x->resp);
    free(x);
}

/* 1 when x's request went out (its headers at least): the peer may have
 * acted on it although no answer came. */
static int http_request_sent(struct http_xfer *x)
{
    long size = 0;

    return curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &size) ==
               CURLE_OK &&
           size > 0;
}

static void http_finish(struct http_xfer *x, CURLcode code)
{
    struct http_result r;
    char *ct = NULL;

    memset(&r, 0, sizeof(r));
    r.elapsed_ms = now_ms() - x->started;
    metrics_observe_http_ms(r.elapsed_ms);
    r.body = x->resp.data ? x->resp.data : "";
    r.len = x->save_fd >= 0 ? x->saved : x->resp.len;
    if (x->setup_error != NULL) {
        r.error = x->setup_error;
    } else if (code == CURLE_OK) {
        r.ok = 1;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r.status);
        curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ct);
        r.content_type = ct;
    } else {
        r.sent = http_request_sent(x);
        r.timed_out = code == CURLE_OPERATION_TIMEDOUT;
        r.too_big = x->too_big;
        r.refused = x->refused;
        r.error = x->too_big     ? "response too large"
                  : x->refused   ? "the address is inside the gateway's network"
                  : x->errbuf[0] ? x->errbuf
                                 : curl_easy_strerror(code);
    }
    x->done(&r, x->arg);
}

/* Takes x off the multi handle and the list of transfers in flight. */
static void http_untrack(struct http_xfer *x)
{
    curl_multi_remove_handle(http.multi, x->easy);
    if (x->prev != NULL)
        x->prev->next = x->next;
    else
        http.xfers = x->next;
    if (x->next != NULL)
        x->next->prev = x->prev;
    http.inflight--;
    http.inflight_no_repeat -= x->no_repeat;
}

static void http_check_done(void)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(http.multi, &left)) != NULL) {
        struct http_xfer *x = NULL;

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        http_untrack(x);
        http_finish(x, m->data.result);
        http_xfer_free(x);
    }
}

void http_cancel_all(void)
{
    struct http_xfer *x;

    while ((x = http.xfers) != NULL) {
        http_untrack(x);
        snprintf(x->errbuf, sizeof(x->errbuf), "ferry is shutting down");
        http_finish(x, CURLE_ABORTED_BY_CALLBACK);
        http_xfer_free(x);
    }
}

/* FERRY_TEST_CA_FILE=PATH (tests and benchmarks only; see
 * tests/bench/README.md): the CA bundle curl trusts instead of the system's,
 * so a test sink can speak TLS with its own certificate. It only replaces
 * the trust anchors: certificates and host names are still verified. */
static void http_test_ca(void)
{
    const char *v = getenv("FERRY_TEST_CA_FILE");

    if (v == NULL || v[0] == '\0')
        return;
    log_warn("http: FERRY_TEST_CA_FILE=%s: trusting only that CA (a test "
             "setting)",
             v);
    http.test_ca = xstrdup(v);
}

void http_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        fatal("curl_global_init failed");
    http.multi = curl_multi_init();
    http.timer_ev = event_new(loop_base(), -1, 0, http_on_timer, NULL);
    curl_multi_setopt(http.multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
    curl_multi_setopt(http.multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
    curl_multi_setopt(http.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      (long)HTTP_MAX_CONNECTIONS);
    curl_multi_setopt(http.multi, CURLMOPT_MAXCONNECTS,
                      (long)HTTP_MAX_CONNECTIONS);
    /* HTTP/2 where the server offers it (ALPN): requests to one host share
     * one connection (curl's default since 7.62, set so it stays) */
    curl_multi_setopt(http.multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    http_test_ca();
}

void http_free(void)
{
    int i;

    if (http.multi == NULL)
        return;
    while (http.npool > 0)
        curl_easy_cleanup(http.pool[--http.npool]);
    for (i = 0; i < HTTP_HDRS_SLOTS; i++) {
        http_hdrs_unref(http.hdrs[i]);
        http.hdrs[i] = NULL;
    }
    curl_multi_cleanup(http.multi);
    event_free(http.timer_ev);
    free(http.test_ca);
    http.test_ca = NULL;
    http.multi = NULL;
    curl_global_cleanup();
}

int http_inflight(void)
{
    return http.inflight;
}

int http_inflight_no_repeat(void)
{
    return http.inflight_no_repeat;
}

/* Authorization, Content-Type, the extra lines, and no "Expect:". */
static struct curl_slist *http_headers_build(const struct http_request *req)
{
    struct curl_slist *l = NULL;
    const char *const *h;
    char *line;

    if (req->bearer != NULL) {
        line = xasprintf("Authorization: Bearer %s", req->bearer);
        l = curl_slist_append(l, line);
        free(line);
    }
    if (req->content_type != NULL) {
        line = xasprintf("Content-Type: %s", req->content_type);
        l = curl_slist_append(l, line);
        free(line);
    }
    for (h = req->headers; h != NULL && *h != NULL; h++)
        l = curl_slist_append(l, *h);
    l = curl_slist_append(l, "Expect:");
    if (l == NULL)
        fatal("out of memory");
    return l;
}

static unsigned long http_hash(unsigned long h, const char *s)
{
    if (s == NULL)
        return h * 33;
    while (*s != '\0')
        h = h * 33 ^ (unsigned char)*s++;
    return h * 33 ^ 0xff; /* "" and NULL hash apart */
}

static int http_str_same(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* The cached list for req's bearer and content type (one reference for
 * the caller), built on a miss; it replaces whatever shared its slot. */
static struct http_hdrs *http_hdrs_get(const struct http_request *req)
{
    unsigned long hash =
        http_hash(http_hash(5381, req->bearer), req->content_type);
    struct http_hdrs **slot = &http.hdrs[hash % HTTP_HDRS_SLOTS];
    struct http_hdrs *h = *slot;

    if (h == NULL || h->hash != hash ||
        !http_str_same(h->bearer, req->bearer) ||
        !http_str_same(h->content_type, req->content_type)) {
        http_hdrs_unref(h);
        h = xcalloc(1, sizeof(*h));
        h->bearer = req->bearer ? xstrdup(req->bearer) : NULL;
        h->content_type = req->content_type ? xstrdup(req->content_type) : NULL;
        h->hash = hash;
        h->list = http_headers_build(req);
        h->refs = 1;
        *slot = h;
    }
    h->refs++;
    return h;
}

static void http_set_headers(struct http_xfer *x,
                             const struct http_request *req)
{
    if (req->headers == NULL) {
        x->shared = http_hdrs_get(req);
        curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->shared->list);
        return;
    }
    x->headers = http_headers_build(req);
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
}

/* A multipart/form-data body from the request's parts. */
static void http_set_form(struct http_xfer *x, const struct http_request *req)
{
    curl_mimepart *part;
    size_t i;

    x->mime = curl_mime_init(x->easy);
    for (i = 0; i < req->nform; i++) {
        const struct http_form_part *f = &req->form[i];

        part = curl_mime_addpart(x->mime);
        curl_mime_name(part, f->name);
        if (f->file != NULL && curl_mime_filedata(part, f->file) != CURLE_OK &&
            x->setup_error == NULL)
            x->setup_error = xasprintf("cannot read %s", f->file);
        else if (f->file == NULL)
            curl_mime_data(part, f->value ? f->value : "",
                           CURL_ZERO_TERMINATED);
        if (f->type != NULL)
            curl_mime_type(part, f->type);
        if (f->filename != NULL)
            curl_mime_filename(part, f->filename);
    }
    curl_easy_setopt(x->easy, CURLOPT_MIMEPOST, x->mime);
}

/* curl reads a no_repeat request's body from memory, once. */
static size_t http_read_body(char *buf, size_t size, size_t n, void *arg)
{
    struct http_xfer *x = arg;
    size_t left = x->body_len - x->body_off;

    if (left > size * n)
        left = size * n;
    memcpy(buf, x->body + x->body_off, left);
    x->body_off += left;
    return left;
}

/* The request body: memory, a file or form parts. */
static void http_set_body(struct http_xfer *x, const struct http_request *req)
{
    CURL *e = x->easy;
    struct stat sb;

    if (req->form != NULL) {
        http_set_form(x, req);
    } else if (req->upload_file != NULL) {
        x->upload = fopen(req->upload_file, "rbe");
        if (x->upload == NULL || fstat(fileno(x->upload), &sb) < 0) {
            x->setup_error = xasprintf("cannot read %s: %s", req->upload_file,
                                       strerror(errno));
            return;
        }
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_READDATA, x->upload);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)sb.st_size);
    } else if (req->body != NULL && req->no_repeat) {
        /* read through a callback that cannot rewind: when a kept-alive
         * connection dies after the request went out, curl's silent retry
         * on a new one fails instead (it could send the request twice) */
        x->body = xstrndup(req->body, req->body_len);
        x->body_len = req->body_len;
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, http_read_body);
        curl_easy_setopt(e, CURLOPT_READDATA, x);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)req->body_len);
    } else if (req->body != NULL) {
        x->body = xstrndup(req->body, req->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)req->body_len);
    } else if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
}

/* Where the response body goes: memory (capped) or a new file. */
static void http_set_sink(struct http_xfer *x, const struct http_request *req)
{
    x->save_fd = -1;
    buf_init(&x->resp, req->max_response);
    if (req->save_to == NULL)
        return;
    x->cap = req->max_response;
    x->save_fd =
        open(req->save_to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (x->save_fd < 0 && x->setup_error == NULL)
        x->setup_error =
            xasprintf("cannot create %s: %s", req->save_to, strerror(errno));
}

/* A request that could not start ends from the loop, like the others. */
static void http_fail_deferred(void *arg)
{
    struct http_xfer *x = arg;

    http_finish(x, CURLE_FAILED_INIT);
    http_xfer_free(x);
}

/* 1 when the IPv4 address b (network order) is not on the public
 * internet: "this network", private, shared (CGNAT), loopback, link-local,
 * IETF protocol assignments, benchmarking, multicast, reserved and
 * broadcast. */
static int http_ipv4_internal(const unsigned char *b)
{
    return b[0] == 0 || b[0] == 10 || b[0] == 127 ||
           (b[0] == 100 && (b[1] & 0xc0) == 64) ||
           (b[0] == 169 && b[1] == 254) ||
           (b[0] == 172 && (b[1] & 0xf0) == 16) ||
           (b[0] == 192 && b[1] == 0 && b[2] == 0) ||
           (b[0] == 192 && b[1] == 168) ||
           (b[0] == 198 && (b[1] & 0xfe) == 18) || b[0] >= 224;
}

/* 1 when the IPv6 address b is not on the public internet; the forms that
 * carry an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by
 * it or refused. */
static int http_ipv6_internal(const unsigned char *b)
{
    static const unsigned char nat64[12] = {0x00, 0x64, 0xff, 0x9b};
    static const unsigned char mapped[12] = {[10] = 0xff, [11] = 0xff};
    static const unsigned char zero[12] = {0};

    if (memcmp(b, mapped, 12) == 0)
        return http_ipv4_internal(b + 12);
    if (memcmp(b, zero, 12) == 0) /* ::, ::1 and IPv4-compatible */
        return 1;
    if (memcmp(b, nat64, 12) == 0 || /* 64:ff9b::/96 and 64:ff9b:1::/48 */
        (memcmp(b, nat64, 4) == 0 && b[4] == 0 && b[5] == 1))
        return 1;
    if (b[0] == 0x20 && b[1] == 0x02) /* 6to4: 2002:V4ADDR::/48 */
        return http_ipv4_internal(b + 2);
    return (b[0] & 0xfe) == 0xfc || /* fc00::/7 unique local */
           (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || /* fe80::/10 */
           (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) || /* fec0::/10 site */
           b[0] == 0xff;                              /* ff00::/8 multicast */
}

int http_address_internal(const struct sockaddr *a)
{
    if (a->sa_family == AF_INET6)
        return http_ipv6_internal(
            ((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr);
    if (a->sa_family == AF_INET)
        return http_ipv4_internal(
            (const unsigned char *)&((const struct sockaddr_in *)a)->sin_addr);
    return 1;
}

/* curl's socket opener for public_only requests. */
static curl_socket_t http_open_public(void *clientp, curlsocktype purpose,
                                      struct curl_sockaddr *addr)
{
    struct http_xfer *x = clientp;

    if (http_address_internal(&addr->addr)) {
        log_warn("http: refusing to connect to an internal address for a "
                 "URL from a user");
        x->refused = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
}

/* HTTP/2 over TLS when the server offers it, HTTP/1.1 otherwise; an https
 * request waits for a connection that may multiplex it rather than opening
 * one of its own (one TLS handshake per host, not per request in flight). */
static void http_set_transport(CURL *e, const struct http_request *req)
{
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    if (!req->public_only && strncmp(req->url, "https:", 6) == 0)
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    if (http.test_ca != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, http.test_ca);
}

void http_start(const struct http_request *req, http_done_fn done, void *arg)
{
    struct http_xfer *x = xcalloc(1, sizeof(*x));
    CURL *e = http_easy_get();

    x->easy = e;
    x->done = done;
    x->arg = arg;
    x->started = now_ms();
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     req->bulk ? (long)HTTP_BULK_CONNECT_TIMEOUT_MS
                               : (long)HTTP_CONNECT_TIMEOUT_MS);
    if (req->bulk) {
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, HTTP_BULK_LOW_SPEED_BYTES);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, HTTP_BULK_LOW_SPEED_S);
    }
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (req->public_only) {
        /* the check is in the socket opener: a connection curl kept from
         * another request would skip it, and one opened here must not
         * serve anything else */
        curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, http_open_public);
        curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, x);
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    }
    curl_easy_setopt(e, CURLOPT_USERAGENT, "ferry/" PACKAGE_VERSION);
    http_set_transport(e, req);
    http_set_sink(x, req);
    http_set_body(x, req);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    http_set_headers(x, req);
    if (x->setup_error != NULL) {
        loop_defer(http_fail_deferred, x);
        return;
    }
    http.inflight++;
    x->no_repeat = req->no_repeat != 0;
    http.inflight_no_repeat += x->no_repeat;
    x->next = http.xfers;
    if (x->next != NULL)
        x->next->prev = x;
    http.xfers = x;
    curl_multi_add_handle(http.multi, e);
}

/* "scheme://host:port" of an http(s) URL, lower case, with the default
 * port filled in; -1 for anything else, or with user info. */
int http_url_origin(const char *url, char *out, size_t len)
{
    int https = strncasecmp(url, "https://", 8) == 0;
    const char *p = url + (https ? 8 : 7), *end, *colon;
    size_t i, n;
    int w;

    if (!https && strncasecmp(url, "http://", 7) != 0)
        return -1;
    end = p + strcspn(p, "/?#");
    if (end == p || memchr(p, '@', (size_t)(end - p)) != NULL ||
        memchr(p, '\\', (size_t)(end - p)) != NULL)
        return -1;
    colon = end;
    while (colon > p && colon[-1] != ':' && colon[-1] != ']')
        colon--;
    colon = colon > p && colon[-1] == ':' ? colon - 1 : end;
    n = (size_t)(colon - p);
    w = snprintf(out, len, "%s://%.*s:%.*s", https ? "https" : "http", (int)n,
                 p, colon < end ? (int)(end - colon - 1) : 3,
                 colon < end ? colon + 1
                 : https     ? "443"
                             : "80");
    if (w < 0 || (size_t)w >= len)
        return -1;
    for (i = 0; out[i] != '\0'; i++)
        out[i] = (char)tolower((unsigned char)out[i]);
    return 0;
}
