/* SPDX-License-Identifier: MIT */
/* The inbound HTTP listener: libmicrohttpd in external epoll mode on the
 * loop, a small table of routes and a body cap per route. */
#ifndef FERRY_HTTPD_H
#define FERRY_HTTPD_H

#include <stddef.h>

struct httpd_request {
    const char *method;
    const char *path; /* without the query string */
    const char *body; /* NUL-terminated; may contain other NULs */
    size_t body_len;
    void *conn; /* for httpd_header() / httpd_query() */
    void *hc;   /* the listener's own, for httpd_defer() */
};

struct httpd_response {
    int status;
    const char *content_type;
    char *body; /* owned by the response (freed after sending) */
    size_t len;
    char *file;        /* when set, owned: the body is this file's content */
    char *disposition; /* owned: a Content-Disposition header, or NULL */
};

/* Handles a request; fills res (status, content type, body). */
typedef void (*httpd_handler)(const struct httpd_request *req,
                              struct httpd_response *res, void *arg);

/* What clients may hold before any handler has seen their request. */
struct httpd_limits {
    unsigned conn_per_ip;     /* open connections per address; 0: any */
    unsigned request_timeout; /* s from a request's first byte to its last */
    size_t max_buffered;      /* bytes of request bodies held at once */
};

/* listen is "HOST:PORT" or "[V6]:PORT". 0 or -1 (logged). */
int httpd_start(const char *listen, const struct httpd_limits *lim);
void httpd_stop(void);
/* Routes requests whose path equals path, or starts with path when it ends
 * in '/'. Bodies over max_body get 413 without reaching the handler, as
 * soon as Content-Length declares them; bodies that would pass the
 * limits' max_buffered get 503. */
void httpd_route(const char *path, httpd_handler fn, void *arg,
                 size_t max_body);
/* While draining, every route but /health and /metrics answers 503. */
void httpd_set_draining(int draining);
/* The value of a request header or query argument; NULL if absent. */
const char *httpd_header(const struct httpd_request *req, const char *name);
const char *httpd_query(const struct httpd_request *req, const char *name);
/* A request answered later, from the loop: the handler calls
 * httpd_defer() and leaves res alone; httpd_answer() sends the answer
 * (and frees the handle) whenever it is known, e.g. once the commit that
 * holds the request's data is durable. Until then the connection is
 * suspended. A handle whose connection went away (the listener stopped)
 * is only freed. */
struct httpd_later;
struct httpd_later *httpd_defer(const struct httpd_request *req);
void httpd_answer(struct httpd_later *l, int status, const char *body);
/* Helper: a JSON or text response (copies body). */
void httpd_respond(struct httpd_response *res, int status,
                   const char *content_type, const char *body);
/* The port actually bound (useful with port 0). */
int httpd_port(void);

#endif
