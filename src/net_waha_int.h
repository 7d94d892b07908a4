/* SPDX-License-Identifier: MIT */
/* Private to the WAHA back end (net_waha*.c) and its unit
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

/* How deep a WAHA document may nest (json_strict_parse()): engine-specific
 * answers nest deeply. */
#define WAHA_MAX_DEPTH 64

/* A string member (NULL if absent or not a string). */
const char *waha_str(json_object *o, const char *key);
/* Adds key: value (a copy) to o. */
void waha_add(json_object *o, const char *key, const char *value);
/* o as JSON text (caller frees); o is released. */
char *waha_text(json_object *o);

/* What a call is, for reading its answer. */
enum waha_kind {
    WAHA_CALL_PLAIN,  /* 2xx is all */
    WAHA_CALL_SEND,   /* a message: its id, a repeat would duplicate */
    WAHA_CALL_QR,     /* an image saved to a file */
    WAHA_CALL_CODE,   /* {"code": "ABCD-EFGH"} */
    WAHA_CALL_STATUS, /* a SessionInfo: its status */
};

/* Starts method on WAHA's path with body (taken; NULL: none), the answer
 * read as kind says and given to cb; save_to: the answer goes to this
 * file. */
void waha_call_start(const char *method, const char *path, char *body,
                     const char *save_to, enum waha_kind kind, net_result_fn cb,
                     void *arg);
/* A new session's configuration: ferry's signed webhook, every event it
 * reads. */
json_object *waha_session_config(void);
/* waha.session, or a name nobody can guess: ferry-<96 random bits in hex>
 * (caller frees). */
char *waha_session_name(void);

/* The login (net_waha_login.c): the back end's login_form, login,
 * login_step, relogin and logout. */
extern const struct login_form waha_login_form;
void waha_login(const struct login_creds *c, net_result_fn cb, void *arg);
void waha_login_step(const struct net_account *a, const char *path,
                     net_result_fn cb, void *arg);
void waha_relogin(const struct net_account *a, net_result_fn cb, void *arg);
void waha_logout(const struct net_account *a, net_result_fn cb, void *arg);

/* 1 when the full message id names one of ferry's latest sends (by the
 * key it gave it). */
int waha_sent_by_us(const char *id);

/* Forgets the session's presence subscriptions (a new login has none):
 * they are made again at the next send to each chat. */
void waha_subscriptions_forget(const char *session);

/* The back end's media_upload: the file read for the send that follows
 * (net_waha_media.c). */
void waha_media_upload(const struct net_account *a, const char *path,
                       const char *mime, const char *filename, net_result_fn cb,
                       void *arg);
/* Adds a file send's file (file.data in base64 of a file read by
 * waha_media_upload() as m->media_id, or file.url: m->media_url, of type
 * m->media_mime), mimetype, filename, caption and convert to o for m (a
 * media kind); returns the endpoint, or NULL when the file is not known
 * (any more). */
const char *waha_media_body(json_object *o, const struct net_out *m);

/* Liveness (net_waha_live.c): waha.idle_restart in seconds (0: off); a
 * message the session took; an event of a session, 1 when it is the
 * STOPPED or WORKING of a restart ferry made (not told to the user). */
void waha_live_configure(long long idle_seconds);
void waha_live_sent(const char *session);
int waha_live_event(const struct net_event *ev);
/* GET /api/sessions/{s}: r->info is its status; POST .../restart. */
void waha_session_status(const char *session, net_result_fn cb, void *arg);
void waha_session_restart(const char *session, net_result_fn cb, void *arg);

struct http_result;

/* GETs path on the WAHA server with the API key, answers up to max bytes;
 * done(result, arg) as http_start()'s. */
void waha_get(const char *path, size_t max,
              void (*done)(const struct http_result *h, void *arg), void *arg);

/* Reads GET /groups's answer (any engine's shape) and calls cb once with
 * NET_OK and the groups; 0, or -1 (cb not called) when it is not JSON. */
/* A group.v2.join, .leave or .participants event (id: the webhook's; p:
 * its payload) as a NET_EVENT_GROUP to fn; fn's answer, or 0 when it is
 * none. */
int waha_groups_event(const char *event, const char *id, const char *session,
                      json_object *p, net_event_fn fn, void *arg);
int waha_groups_parse(const char *body, size_t len, net_groups_fn cb,
                      void *arg);
/* The back end's groups (net_waha_group.c). */
void waha_groups(const struct net_account *a, net_groups_fn cb, void *arg);

/* Downloads a file from url into path (the API key only to waha.url's
 * host); the back end's media_fetch. */
void waha_media_fetch(const struct net_account *a, const char *id,
                      const char *url, const char *path, long long max,
                      net_result_fn cb, void *arg);
/* Subscribes the session to chat's presence, once per run and login. */
void waha_presence_subscribe(const char *session, const char *chat);
/* The back end's avatar (net_waha_avatar.c). */
void waha_avatar(const struct net_account *a, const char *peer,
                 const char *path, long long max, net_result_fn cb, void *arg);
/* The back end's peer_phone (net_waha_lid.c). */
void waha_peer_phone(const struct net_account *a, const char *peer,
                     net_result_fn cb, void *arg);
void waha_peer_phones(const struct net_account *a, net_phones_fn cb, void *arg);

/* The back end's webhook_parse: one event per POST. */
int waha_webhook_parse(const char *body, size_t len, net_event_fn fn,
                       void *arg);

#endif
