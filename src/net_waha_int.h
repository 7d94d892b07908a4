/* SPDX-License-Identifier: MIT */
/* Private to the WAHA back end (net_waha.c, net_waha_hook.c) and its unit
 * tests: JSON helpers, the webhook signature and parsing. */
#ifndef FERRY_NET_WAHA_INT_H
#define FERRY_NET_WAHA_INT_H

#include <stddef.h>

#include <json-c/json.h>

#include "net_backend.h"

#define WAHA_HMAC_HEX (2 * 64 + 1) /* HMAC-SHA512 in hex, with its NUL */

/* The lower-case hex HMAC-SHA512 of body[0..len) with key into hex; 0, or
 * -1 when OpenSSL cannot compute it. */
int waha_hmac_hex(const char *key, const char *body, size_t len,
                  char hex[WAHA_HMAC_HEX]);
/* 1 when sig (the X-Webhook-Hmac header, may be NULL) signs body[0..len)
 * with key, compared in constant time. */
int waha_signature_ok(const char *key, const char *sig, const char *body,
                      size_t len);

/* A whole JSON document, strictly and with a depth cap; NULL if
 * malformed. */
json_object *waha_parse_json(const char *s, size_t len);
/* Member key of object o (borrowed), or NULL. */
json_object *waha_get(json_object *o, const char *key);
/* A string member (NULL if absent or not a string). */
const char *waha_str(json_object *o, const char *key);

/* The back end's webhook_parse: one event per POST. */
int waha_webhook_parse(const char *body, size_t len, net_event_fn fn,
                       void *arg);

#endif
