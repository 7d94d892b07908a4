/* SPDX-License-Identifier: MIT */
/* Outgoing HTTP: libcurl's multi-socket API on the loop. Requests carry a
 * timeout and a response size cap; completion is reported by callback. */
#ifndef FERRY_HTTP_H
#define FERRY_HTTP_H

#include <stddef.h>

struct http_result {
    int ok;                   /* 1: a complete HTTP response arrived */
    long status;              /* HTTP status when ok */
    const char *body;         /* NUL-terminated response body (may be ""; always
                                 "" with save_to) */
    size_t len;               /* bytes received */
    const char *content_type; /* may be NULL */
    const char *error;        /* when !ok: what went wrong, in words */
    int timed_out;
    int too_big; /* when !ok: the response passed max_response */
    int refused; /* when !ok: public_only, and the address was internal */
    int sent;    /* when !ok: the request had gone out (the peer may have
                    acted on it) */
    long long elapsed_ms;
};

typedef void (*http_done_fn)(const struct http_result *r, void *arg);

/* One part of a multipart/form-data body: a text field (value) or a file
 * (file: its path, sent with type and filename). */
struct http_form_part {
    const char *name;
    const char *value;
    const char *file;
    const char *type;
    const char *filename;
};

struct http_request {
    const char *method; /* "GET", "POST", "PUT", "DELETE" */
    const char *url;
    const char *bearer; /* Authorization: Bearer <token>, never logged */
    const char *content_type;
    const char *body; /* request body, copied */
    size_t body_len;
    long timeout_ms;
    size_t max_response; /* in memory, or in save_to */
    /* Optional, all NULL or 0 by default: */
    const char *const *headers; /* extra "Name: value" lines, NULL-ended;
                                   never logged (may hold secrets) */
    const char *upload_file;    /* the request body is this file's content */
    const struct http_form_part *form; /* multipart/form-data parts */
    size_t nform;
    const char *save_to; /* the response body goes to this file (created
                            0600, truncated), not to memory; len counts it */
    int public_only;     /* refuse loopback, private and link-local addresses
                            (URLs a user gave: no requests into our network) */
    int bulk;            /* a file transfer: a connect timeout of seconds, and
                            given up when slower than 1 KB/s for 30 s */
    int no_repeat;       /* must not be made twice (a send: the peer may
                            have acted on it): curl may not repeat it on its
                            own on a new connection (then !ok with sent),
                            and shutdown waits for it */
};

void http_init(void);
void http_free(void);
/* Starts a request; done(result, arg) is called exactly once from the loop
 * (never from inside http_start). */
void http_start(const struct http_request *req, http_done_fn done, void *arg);
/* Requests in flight. */
int http_inflight(void);
/* Requests in flight that shutdown waits for (no_repeat). */
int http_inflight_no_repeat(void);
/* Ends every request in flight: each done() gets ok = 0 ("ferry is
 * shutting down"). For shutdown, before the callers' state goes. */
void http_cancel_all(void);

struct sockaddr;
/* 1 when a user's URL must not reach the address a: anything but the
 * public internet (loopback, private, shared, link-local, multicast,
 * reserved..., IPv4 inside IPv6 judged as IPv4). */
int http_address_internal(const struct sockaddr *a);

/* "scheme://host:port" of an http(s) URL into out, lower case, with the
 * default port filled in: 0, or -1 for anything else or with user info. */
int http_url_origin(const char *url, char *out, size_t len);

#endif
