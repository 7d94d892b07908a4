/* SPDX-License-Identifier: MIT */
/* Private to the Cloud API back end (net_cloudapi.c, net_cloudapi_media.c):
 * its settings, JSON helpers and the classification of its answers. */
#ifndef FERRY_NET_CLOUDAPI_INT_H
#define FERRY_NET_CLOUDAPI_INT_H

#include <stddef.h>

#include <json-c/json.h>

#include "net_backend.h"

struct http_result;

/* One Graph API request in flight. */
struct cloudapi_call {
    net_result_fn cb;
    void *arg;
    int is_check;
    int is_upload; /* the id is the answer's "id" (a media id) */
    int is_send;   /* a message to a contact: a repeat would duplicate */
};

const char *cloudapi_graph_url(void);
const char *cloudapi_api_version(void);

/* How deep a Graph API document may nest (json_strict_parse()). */
#define CLOUDAPI_MAX_DEPTH 32

/* A string member (NULL if absent or not a string). */
const char *cloudapi_str(json_object *o, const char *key);
/* Fills r from an error envelope's "error" object; the text is built into
 * *owned (freed by the caller). */
void cloudapi_classify_error(json_object *err, long status,
                             struct net_result *r, char **owned);

struct cloudapi_call *cloudapi_call_new(net_result_fn cb, void *arg);
/* Completion of a call: classifies the answer, calls back, frees call. */
void cloudapi_done(const struct http_result *h, void *arg);

/* net_cloudapi_media.c: the back end's media_fetch and media_upload. */
/* 1 when a media download URL may get the access token: it is on the
 * configured Graph host (scheme, host and port) or Meta's media host. */
int cloudapi_media_host_ok(const char *url);
void cloudapi_media_fetch(const struct net_account *a, const char *id,
                          const char *url, const char *path, long long max,
                          net_result_fn cb, void *arg);
void cloudapi_media_upload(const struct net_account *a, const char *path,
                           const char *mime, const char *filename,
                           net_result_fn cb, void *arg);

/* net_cloudapi_tpl.c: message templates (part E). */
/* The back end's templates slot: GET /<WABA_ID>/message_templates, every
 * page. */
void cloudapi_templates(const struct net_account *a, const char *business,
                        net_templates_fn cb, void *arg);
/* One page of a listing (body: GET /<WABA_ID>/message_templates's
 * answer) as the templates slot gives it, without its other pages: cb
 * gets NET_OK and the page's templates, or NET_FAIL when body is not a
 * list. For the fuzzer. */
void cloudapi_templates_parse(const char *body, size_t len, net_templates_fn cb,
                              void *arg);
/* Fills the "template" object of a send of kind "template". */
void cloudapi_template_body(json_object *t, const struct net_out *m);
/* id when it is a WABA id (digits), else NULL. */
const char *cloudapi_template_business(const char *id);

#endif
