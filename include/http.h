/* SPDX-License-Identifier: MIT */
/* Outgoing HTTP: libcurl's multi-socket API on the loop. Requests carry a
 * timeout and a response size cap; completion is reported by callback. */
#ifndef FERRY_HTTP_H
#define FERRY_HTTP_H

#include <stddef.h>

struct http_result {
    int ok;           /* 1: a complete HTTP response arrived */
    long status;      /* HTTP status when ok */
    const char *body; /* NUL-terminated response body (may be "") */
    size_t len;
    const char *content_type; /* may be NULL */
    const char *error;        /* when !ok: what went wrong, in words */
    int timed_out;
    long long elapsed_ms;
};

typedef void (*http_done_fn)(const struct http_result *r, void *arg);

struct http_request {
    const char *method; /* "GET", "POST", "DELETE" */
    const char *url;
    const char *bearer; /* Authorization: Bearer <token>, never logged */
    const char *content_type;
    const char *body; /* request body, copied */
    size_t body_len;
    long timeout_ms;
    size_t max_response;
};

void http_init(void);
void http_free(void);
/* Starts a request; done(result, arg) is called exactly once from the loop
 * (never from inside http_start). */
void http_start(const struct http_request *req, http_done_fn done, void *arg);
/* Requests in flight. */
int http_inflight(void);

#endif
