/* SPDX-License-Identifier: MIT */
/* The WAHA back end (a self-hosted server that drives personal WhatsApp
 * accounts as linked devices): one WAHA session per user, created with
 * ferry's signed webhook; the login goes on asynchronously (QR code or
 * pairing code); 1:1 texts and files (net_waha_media.c), read marks,
 * typing and reactions, presence subscriptions, and received files fetched
 * from WAHA. Every request to WAHA carries X-Api-Key (a file's URL only on
 * WAHA's host). Webhooks are net_waha_hook.c's, each event passing the
 * liveness watch (net_waha_live.c) first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/rand.h>

#include "conf.h"
#include "http.h"
#include "httpd.h"
#include "json_strict.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "net_backend.h"
#include "net_waha.h"
#include "net_waha_int.h"
#include "util.h"

#define WAHA_TIMEOUT_MS 30000 /* WAHA itself waits 5 s for a session */
#define WAHA_SEND_TIMEOUT_MS 60000
#define WAHA_MAX_RESPONSE (256 * 1024)
#define WAHA_QR_MAX (1024 * 1024)
#define WAHA_TEXT_MAX 65536
#define WAHA_THROUGHPUT 1000 /* WAHA has no rate limit of its own */
#define WAHA_ID_BYTES 10     /* a message id ferry pre-generates: 3EB0 + hex */
#define WAHA_MEDIA_TIMEOUT_MS (5 * 60 * 1000) /* 100 MB, slow link */
#define WAHA_URL_MAX 4096
#define WAHA_ORIGIN_MAX 300
#define WAHA_SUBSCRIBED_MAX 4096 /* chats subscribed to, then forgotten */
#define WAHA_CHAT_ID_MAX 256     /* a chat id inside a message id */

static struct {
    char *url;
    char *api_key_header; /* "X-Api-Key: ...", or NULL without a key */
    char *hmac_key;
    char *session; /* a fixed session name, or "" */
    char *webhook_url;
    int files_by_url; /* waha.files = url */
} waha;

/* ---- configuration ---- */

static int waha_configure(const struct conf *conf)
{
    free(waha.url);
    free(waha.api_key_header);
    free(waha.hmac_key);
    free(waha.session);
    free(waha.webhook_url);
    waha.url = xstrdup(conf->waha_url);
    waha.api_key_header = conf->waha_api_key[0]
                              ? xasprintf("X-Api-Key: %s", conf->waha_api_key)
                              : NULL;
    waha.hmac_key = xstrdup(conf->waha_webhook_hmac_key);
    waha.session = xstrdup(conf->waha_session);
    waha.webhook_url = xasprintf("%s/webhook/waha", conf->http_public_url);
    waha_live_configure(conf->waha_idle_restart);
    waha.files_by_url = strcmp(conf->waha_files, "url") == 0;
    if (waha.url[0] == '\0') {
        log_error("waha: waha.url is not set (the WAHA server's base URL)");
        return -1;
    }
    if (waha.hmac_key[0] == '\0') {
        log_error("waha: waha.webhook_hmac_key is not set: WAHA's webhooks "
                  "could not be verified");
        return -1;
    }
    return 0;
}

/* The back end's media_by_url: waha.files. */
static int waha_media_by_url(void)
{
    return waha.files_by_url;
}

static long long waha_throughput(void)
{
    return WAHA_THROUGHPUT;
}

/* ---- JSON ---- */

const char *waha_str(json_object *o, const char *key)
{
    json_object *v = json_strict_member(o, key);

    if (v == NULL || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* Adds key: value (a copy) to o. */
void waha_add(json_object *o, const char *key, const char *value)
{
    json_object_object_add(o, key, json_object_new_string(value));
}

/* o as JSON text (caller frees); o is released. */
char *waha_text(json_object *o)
{
    char *s = xstrdup(json_object_to_json_string_ext(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));

    json_object_put(o);
    return s;
}

/* ---- requests ---- */

struct waha_call {
    net_result_fn cb;
    void *arg;
    enum waha_kind kind;
    char *id;      /* send: the full id ferry chose */
    char *chat;    /* send: the chat id */
    char *session; /* send: the session (its liveness) */
};

/* The id in an engine's answer to a send, in the reference's order: id,
 * id._serialized, _data.id._serialized, key.id (then built); NULL. */
static char *waha_answer_id(json_object *o, const char *chat)
{
    json_object *id = json_strict_member(o, "id");
    const char *s;

    if (id != NULL && json_object_is_type(id, json_type_string))
        return xstrdup(json_object_get_string(id));
    if ((s = waha_str(id, "_serialized")) != NULL)
        return xstrdup(s);
    if ((s = waha_str(json_strict_member(json_strict_member(o, "_data"), "id"),
                      "_serialized")))
        return xstrdup(s);
    if ((s = waha_str(json_strict_member(o, "key"), "id")) != NULL)
        return xasprintf("true_%s_%s", chat, s);
    return NULL;
}

/* 1 when an answer says the session is not WORKING (yet): held. */
static int waha_not_working(json_object *o)
{
    const char *e = waha_str(o, "error");

    return json_strict_member(o, "expected") != NULL ||
           (e != NULL && strstr(e, "Session status is not as expected"));
}

/* The "message" of a NestJS error, or the "error"; NULL. */
static const char *waha_error_text(json_object *o)
{
    const char *m = waha_str(o, "message");

    return m != NULL ? m : waha_str(o, "error");
}

/* Fills r for an HTTP answer that is not a 2xx; the text is built into
 * *owned. */
static void waha_classify(const struct http_result *h, json_object *o,
                          struct net_result *r, char **owned)
{
    const char *msg = waha_error_text(o);

    r->code = (int)h->status;
    r->outcome = NET_FAIL;
    if (h->status == 401) {
        r->outcome = NET_RETRY;
        *owned = xstrdup("The WAHA server refused the gateway's API key");
        log_error("waha: WAHA answered 401: check waha.api_key");
    } else if (h->status == 404 && msg && strstr(msg, "Session not found")) {
        r->outcome = NET_AUTH;
        *owned = xstrdup("Your WhatsApp session is gone from the WAHA server: "
                         "send 'login' to the gateway to link it again");
    } else if (h->status == 422 && waha_not_working(o)) {
        r->outcome = NET_RETRY; /* held while the session logs in */
        *owned = xasprintf("Your WhatsApp session is not connected (%s)",
                           waha_str(o, "status") ? waha_str(o, "status")
                                                 : "not WORKING");
    } else if (h->status == 429 || h->status >= 500) {
        r->outcome = NET_RETRY;
        r->rate_limited = h->status == 429;
        *owned = xasprintf("The WAHA server answered HTTP %ld", h->status);
    } else {
        *owned = xasprintf("WhatsApp refused it: %s (HTTP %ld)",
                           msg ? msg : "no reason given", h->status);
    }
    r->text = *owned;
}

/* Reads a 2xx answer into r. */
static void waha_success(const struct http_result *h, json_object *o,
                         struct waha_call *call, struct net_result *r,
                         char **owned)
{
    r->outcome = NET_OK;
    if (call->kind == WAHA_CALL_SEND) {
        *owned = waha_answer_id(o, call->chat);
        r->id = *owned != NULL ? *owned : call->id;
    } else if (call->kind == WAHA_CALL_QR) {
        r->mime = "image/png";
        r->size = (long long)h->len;
    } else if (call->kind == WAHA_CALL_STATUS) {
        r->info = waha_str(o, "status");
    } else if (call->kind == WAHA_CALL_CODE) {
        r->info = waha_str(o, "code");
        if (r->info == NULL) {
            r->outcome = NET_RETRY;
            r->text = "The WAHA server gave no pairing code";
        }
    }
}

static void waha_done(const struct http_result *h, void *arg)
{
    struct waha_call *call = arg;
    struct net_result r;
    json_object *o = NULL;
    char *owned = NULL;

    memset(&r, 0, sizeof(r));
    if (!h->ok) {
        r.outcome = NET_RETRY;
        r.unknown = call->kind == WAHA_CALL_SEND && h->sent;
        owned = xasprintf("The WAHA server is unreachable: %s", h->error);
        r.text = owned;
    } else {
        if (call->kind != WAHA_CALL_QR)
            o = json_strict_parse(h->body, h->len, WAHA_MAX_DEPTH);
        if (h->status >= 200 && h->status < 300)
            waha_success(h, o, call, &r, &owned);
        else
            waha_classify(h, o, &r, &owned);
        r.unknown = call->kind == WAHA_CALL_SEND && h->status >= 500;
    }
    if (call->kind == WAHA_CALL_SEND && r.outcome == NET_OK &&
        call->session != NULL)
        waha_live_sent(call->session);
    if (call->kind == WAHA_CALL_SEND)
        metrics_inc(r.outcome == NET_OK      ? METRICS_OUT_SENT
                    : r.outcome == NET_RETRY ? METRICS_OUT_RETRY
                    : r.outcome == NET_AUTH  ? METRICS_OUT_AUTH
                                             : METRICS_OUT_FAILED);
    if (r.outcome != NET_OK)
        log_info("waha: %s (HTTP %ld, %lld ms)", r.text, h->ok ? h->status : 0L,
                 h->elapsed_ms);
    call->cb(&r, call->arg);
    json_object_put(o);
    free(owned);
    free(call->id);
    free(call->chat);
    free(call->session);
    free(call);
}

/* A call that ends without a request: its failure, from the loop (never
 * from inside the caller's send). */
static void waha_refused(void *arg)
{
    struct waha_call *call = arg;
    struct net_result r;

    memset(&r, 0, sizeof(r));
    r.outcome = NET_FAIL;
    r.text = call->id;
    call->cb(&r, call->arg);
    free(call->id);
    free(call->chat);
    free(call->session);
    free(call);
}

/* The same, but to be tried again (call->id: why). */
static void waha_retry_later(void *arg)
{
    struct waha_call *call = arg;
    struct net_result r;

    memset(&r, 0, sizeof(r));
    r.outcome = NET_RETRY;
    r.text = call->id;
    call->cb(&r, call->arg);
    free(call->id);
    free(call->chat);
    free(call->session);
    free(call);
}

static struct waha_call *waha_call_new(enum waha_kind kind, net_result_fn cb,
                                       void *arg)
{
    struct waha_call *call = xcalloc(1, sizeof(*call));

    call->kind = kind;
    call->cb = cb;
    call->arg = arg;
    return call;
}

/* Starts method on WAHA's path with body (taken; NULL: none); save_to: the
 * answer goes to this file. */
static void waha_request(const char *method, const char *path, char *body,
                         const char *save_to, struct waha_call *call)
{
    const char *headers[3] = {NULL, NULL, NULL};
    struct http_request req;
    char *url = xasprintf("%s%s", waha.url, path);
    int n = 0;

    if (waha.api_key_header != NULL)
        headers[n++] = waha.api_key_header;
    headers[n++] = save_to ? "Accept: image/png" : "Accept: application/json";
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = url;
    req.headers = headers;
    if (body != NULL) {
        req.content_type = "application/json";
        req.body = body;
        req.body_len = strlen(body);
    }
    req.save_to = save_to;
    req.timeout_ms =
        call->kind == WAHA_CALL_SEND ? WAHA_SEND_TIMEOUT_MS : WAHA_TIMEOUT_MS;
    req.no_repeat = call->kind == WAHA_CALL_SEND;
    req.max_response = save_to ? WAHA_QR_MAX : WAHA_MAX_RESPONSE;
    http_start(&req, waha_done, call);
    free(url);
    free(body);
}

void waha_call_start(const char *method, const char *path, char *body,
                     const char *save_to, enum waha_kind kind, net_result_fn cb,
                     void *arg)
{
    waha_request(method, path, body, save_to, waha_call_new(kind, cb, arg));
}

void waha_get(const char *path, size_t max,
              void (*done)(const struct http_result *h, void *arg), void *arg)
{
    const char *headers[3] = {"Accept: application/json", NULL, NULL};
    struct http_request req;
    char *url = xasprintf("%s%s", waha.url, path);

    headers[1] = waha.api_key_header;
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = url;
    req.headers = headers;
    req.timeout_ms = WAHA_TIMEOUT_MS;
    req.max_response = max;
    http_start(&req, done, arg);
    free(url);
}

/* ---- sessions (the login is net_waha_login.c's) ---- */

/* The session's configuration: ferry's signed webhook. */
json_object *waha_session_config(void)
{
    static const char *const events[] = {
        "session.status", "message",          "message.any",
        "message.ack",    "message.reaction", "message.revoked",
        "message.edited", "presence.update",  "call.received",
        "group.v2.join",  "group.v2.leave",   "group.v2.participants",
        "group.v2.update"};
    json_object *cfg = json_object_new_object();
    json_object *hooks = json_object_new_array();
    json_object *hook = json_object_new_object();
    json_object *ev = json_object_new_array();
    json_object *hmac = json_object_new_object();
    json_object *retries = json_object_new_object();
    size_t i;

    for (i = 0; i < sizeof(events) / sizeof(events[0]); i++)
        json_object_array_add(ev, json_object_new_string(events[i]));
    waha_add(hmac, "key", waha.hmac_key);
    waha_add(retries, "policy", "constant");
    json_object_object_add(retries, "delaySeconds", json_object_new_int(2));
    json_object_object_add(retries, "attempts", json_object_new_int(15));
    waha_add(hook, "url", waha.webhook_url);
    json_object_object_add(hook, "events", ev);
    json_object_object_add(hook, "hmac", hmac);
    json_object_object_add(hook, "retries", retries);
    json_object_array_add(hooks, hook);
    json_object_object_add(cfg, "webhooks", hooks);
    return cfg;
}

/* A session name nobody can guess: ferry-<96 random bits in hex>. */
char *waha_session_name(void)
{
    unsigned char r[12];
    char hex[2 * sizeof(r) + 1];
    size_t i;

    if (waha.session[0] != '\0')
        return xstrdup(waha.session);
    if (RAND_bytes(r, sizeof(r)) != 1)
        fatal("RAND_bytes failed");
    for (i = 0; i < sizeof(r); i++)
        snprintf(hex + 2 * i, 3, "%02x", r[i]);
    return xasprintf("ferry-%s", hex);
}

/* ---- sending ---- */

/* The ids of ferry's latest sends (a ring): their message.any is ferry's
 * own even when it comes before WAHA's answer, or from an engine that
 * says its source is the phone. */
#define WAHA_SENT_KEYS 256
static struct {
    char key[WAHA_SENT_KEYS][2 * WAHA_ID_BYTES + 5];
    size_t next;
} waha_sent;

int waha_sent_by_us(const char *id)
{
    const char *p = id ? strchr(id, '_') : NULL;
    size_t i, n;

    p = p ? strchr(p + 1, '_') : NULL; /* true_<chat>_<key>[_<author>] */
    if (p == NULL)
        return 0;
    n = strcspn(++p, "_");
    if (n == 0 || n >= sizeof(waha_sent.key[0]))
        return 0;
    for (i = 0; i < WAHA_SENT_KEYS; i++)
        if (strncmp(waha_sent.key[i], p, n) == 0 && waha_sent.key[i][n] == '\0')
            return 1;
    return 0;
}

/* A message id for the request's "id": 3EB0 and 20 hex digits, like the
 * ids WhatsApp Web makes, remembered as ferry's (caller frees). */
static char *waha_new_key(void)
{
    unsigned char r[WAHA_ID_BYTES];
    char hex[2 * WAHA_ID_BYTES + 1];
    size_t i;

    if (RAND_bytes(r, sizeof(r)) != 1)
        fatal("RAND_bytes failed");
    for (i = 0; i < sizeof(r); i++)
        snprintf(hex + 2 * i, 3, "%02X", r[i]);
    snprintf(waha_sent.key[waha_sent.next], sizeof(waha_sent.key[0]), "3EB0%s",
             hex);
    waha_sent.next = (waha_sent.next + 1) % WAHA_SENT_KEYS;
    return xasprintf("3EB0%s", hex);
}

static void waha_send_text(const struct net_account *a, const char *chat,
                           const struct net_out *m, struct waha_call *call)
{
    json_object *o = json_object_new_object(), *mentions;
    char *key = waha_new_key();
    size_t i;

    call->id = xasprintf("true_%s_%s", chat, key);
    waha_add(o, "session", a->id);
    waha_add(o, "chatId", chat);
    waha_add(o, "text", m->text ? m->text : "");
    waha_add(o, "id", key);
    if (m->reply_to != NULL)
        waha_add(o, "reply_to", m->reply_to);
    if (m->nmentions > 0) {
        mentions = json_object_new_array();
        for (i = 0; i < m->nmentions; i++)
            json_object_array_add(mentions,
                                  json_object_new_string(m->mentions[i]));
        json_object_object_add(o, "mentions", mentions);
    }
    json_object_object_add(o, "linkPreview", json_object_new_boolean(0));
    waha_request("POST", "/api/sendText", waha_text(o), NULL, call);
    free(key);
}

/* A file read by waha_media_upload(), with its caption. */
static void waha_send_file(const struct net_account *a, const char *chat,
                           const struct net_out *m, struct waha_call *call)
{
    json_object *o = json_object_new_object();
    const char *path = waha_media_body(o, m);
    char *key;

    if (path == NULL) { /* tried again: fetched and read again */
        json_object_put(o);
        call->id = xstrdup("The gateway lost the file before sending it");
        loop_defer(waha_retry_later, call);
        return;
    }
    key = waha_new_key();
    call->id = xasprintf("true_%s_%s", chat, key);
    waha_add(o, "session", a->id);
    waha_add(o, "chatId", chat);
    waha_add(o, "id", key);
    if (m->reply_to != NULL)
        waha_add(o, "reply_to", m->reply_to);
    waha_request("POST", path, waha_text(o), NULL, call);
    free(key);
}

/* A group's sendSeen names the author of the message read: the
 * participant that ends its full id (false_<group>@g.us_<key>_<author>). */
static void waha_seen_participant(json_object *o, const char *chat,
                                  const char *target)
{
    size_t n = strlen(chat);
    const char *p = target;
    int i;

    if (n < 5 || strcmp(chat + n - 5, "@g.us") != 0)
        return;
    for (i = 0; i < 3 && p != NULL; i++) {
        p = strchr(p, '_');
        p = p ? p + 1 : NULL;
    }
    if (p != NULL && *p != '\0' && strchr(p, '@') != NULL)
        waha_add(o, "participant", p);
}

static void waha_send_other(const struct net_account *a, const char *chat,
                            const struct net_out *m, struct waha_call *call)
{
    json_object *o = json_object_new_object(), *ids;
    char *path;

    if (strcmp(m->kind, "read") == 0) {
        ids = json_object_new_array();
        json_object_array_add(ids, json_object_new_string(m->target));
        waha_add(o, "session", a->id);
        waha_add(o, "chatId", chat);
        json_object_object_add(o, "messageIds", ids);
        waha_seen_participant(o, chat, m->target);
        waha_request("POST", "/api/sendSeen", waha_text(o), NULL, call);
    } else if (strcmp(m->kind, "typing") == 0) {
        waha_add(o, "chatId", chat);
        waha_add(o, "presence", "typing");
        path = xasprintf("/api/%s/presence", a->id);
        waha_request("POST", path, waha_text(o), NULL, call);
        free(path);
    } else { /* a reaction: PUT, not POST */
        waha_add(o, "session", a->id);
        waha_add(o, "messageId", m->target);
        waha_add(o, "reaction", m->text ? m->text : "");
        waha_request("PUT", "/api/reaction", waha_text(o), NULL, call);
    }
}

/* s for a URL's path segment: all but unreserved characters
 * percent-encoded ('@' as %40, as WAHA asks). Caller frees. */
static char *waha_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = xmalloc(3 * strlen(s) + 1), *p = out;

    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || strchr("-._~", ch) != NULL) {
            *p++ = (char)ch;
        } else {
            *p++ = '%';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
        }
    }
    *p = '\0';
    return out;
}

/* The chat of a full message id "<true|false>_<chat>_<key>[_...]" into
 * out (WAHA_CHAT_ID_MAX bytes); 0, or -1 when id is not one. */
static int waha_chat_of(const char *id, char *out)
{
    const char *u = strchr(id, '_'), *end = u ? strchr(u + 1, '_') : NULL;

    if (u == NULL || end == NULL || end - u - 1 <= 0 ||
        end - u - 1 >= WAHA_CHAT_ID_MAX ||
        memchr(u + 1, '@', end - u - 1) == NULL)
        return -1;
    memcpy(out, u + 1, (size_t)(end - u - 1));
    out[end - u - 1] = '\0';
    return 0;
}

/* An edit (PUT, the new text) or a deletion for everyone (DELETE) of the
 * user's message m->target, in the chat its id names (a contact's or a
 * group's; chat when the id names none). */
static void waha_send_change(const struct net_account *a, const char *chat,
                             const struct net_out *m, struct waha_call *call)
{
    char in[WAHA_CHAT_ID_MAX], *c, *id, *path;
    json_object *o;
    int edit = strcmp(m->kind, "edit") == 0;

    c = waha_escape(waha_chat_of(m->target, in) == 0 ? in : chat);
    id = waha_escape(m->target);
    path = xasprintf("/api/%s/chats/%s/messages/%s", a->id, c, id);
    if (edit) {
        o = json_object_new_object();
        waha_add(o, "text", m->text ? m->text : "");
        json_object_object_add(o, "linkPreview", json_object_new_boolean(0));
        waha_request("PUT", path, waha_text(o), NULL, call);
    } else {
        waha_request("DELETE", path, NULL, NULL, call);
    }
    free(path);
    free(id);
    free(c);
}

/* ---- presence subscriptions ---- */

/* "<session>/<chat>" of the chats whose presence (typing...) WAHA sends,
 * subscribed in this run. */
static struct {
    char **key;
    size_t n;
} waha_subs;

/* The index of key in waha_subs, or -1. */
static long waha_subs_find(const char *key)
{
    size_t i;

    for (i = 0; i < waha_subs.n; i++)
        if (strcmp(waha_subs.key[i], key) == 0)
            return (long)i;
    return -1;
}

static void waha_subs_drop(size_t i)
{
    free(waha_subs.key[i]);
    waha_subs.key[i] = waha_subs.key[--waha_subs.n];
}

void waha_subscriptions_forget(const char *session)
{
    size_t i, n = strlen(session);

    for (i = waha_subs.n; i-- > 0;)
        if (strncmp(waha_subs.key[i], session, n) == 0 &&
            waha_subs.key[i][n] == '/')
            waha_subs_drop(i);
}

/* A subscription failed: tried again at the next send. arg: its key. */
static void waha_subscribed(const struct net_result *r, void *arg)
{
    char *key = arg;
    long i = r->outcome == NET_OK ? -1 : waha_subs_find(key);

    if (i >= 0)
        waha_subs_drop((size_t)i);
    free(key);
}

/* Subscribes the session to the chat's presence, once per run (and login):
 * WAHA sends presence.update only for chats subscribed to. */
void waha_presence_subscribe(const char *session, const char *chat)
{
    char *key = xasprintf("%s/%s", session, chat), *path;

    if (waha_subs_find(key) >= 0) {
        free(key);
        return;
    }
    if (waha_subs.n == WAHA_SUBSCRIBED_MAX)
        while (waha_subs.n > 0)
            waha_subs_drop(waha_subs.n - 1);
    if (waha_subs.key == NULL)
        waha_subs.key = xcalloc(WAHA_SUBSCRIBED_MAX, sizeof(char *));
    waha_subs.key[waha_subs.n++] = xstrdup(key);
    path = xasprintf("/api/%s/presence/%s/subscribe", session, chat);
    waha_request("POST", path, NULL, NULL,
                 waha_call_new(WAHA_CALL_PLAIN, waha_subscribed, key));
    free(path);
}

static void waha_send(const struct net_account *a, const struct net_out *m,
                      net_result_fn cb, void *arg)
{
    int text = strcmp(m->kind, "text") == 0;
    int file = m->media_id != NULL || m->media_url != NULL;
    struct waha_call *call =
        waha_call_new(text || file ? WAHA_CALL_SEND : WAHA_CALL_PLAIN, cb, arg);

    /* a group (net_group.id) or a lid: the chat itself; a number: its
     * chat; 1:1 chats' presence is subscribed to */
    call->chat = strchr(m->to, '@') != NULL ? xstrdup(m->to)
                                            : xasprintf("%s@c.us", m->to);
    if (strstr(call->chat, "@g.us") == NULL)
        waha_presence_subscribe(a->id, call->chat);
    call->session = xstrdup(a->id);
    if (text) {
        waha_send_text(a, call->chat, m, call);
    } else if ((strcmp(m->kind, "read") == 0 ||
                strcmp(m->kind, "reaction") == 0 ||
                strcmp(m->kind, "edit") == 0 ||
                strcmp(m->kind, "retract") == 0) &&
               m->target == NULL) {
        call->id = xstrdup("There is no message to mark");
        loop_defer(waha_refused, call);
    } else if (strcmp(m->kind, "read") == 0 || strcmp(m->kind, "typing") == 0 ||
               strcmp(m->kind, "reaction") == 0) {
        waha_send_other(a, call->chat, m, call);
    } else if (strcmp(m->kind, "edit") == 0 ||
               strcmp(m->kind, "retract") == 0) {
        waha_send_change(a, call->chat, m, call);
    } else if (file) {
        waha_send_file(a, call->chat, m, call);
    } else {
        call->id = xasprintf("The gateway cannot send a %s to personal "
                             "WhatsApp accounts",
                             m->kind);
        loop_defer(waha_refused, call);
    }
}

/* ---- media ---- */

/* One download of a received file from the WAHA server. */
struct waha_fetch {
    char *url;
    net_result_fn cb;
    void *arg;
};

/* 1 when a media URL is on the WAHA server ferry talks to: only then does
 * it get the API key. */
static int waha_media_host_ok(const char *url)
{
    char want[WAHA_ORIGIN_MAX], got[WAHA_ORIGIN_MAX];

    return http_url_origin(url, got, sizeof(got)) == 0 &&
           http_url_origin(waha.url, want, sizeof(want)) == 0 &&
           strcmp(got, want) == 0;
}

static void waha_fetch_done(const struct http_result *h, void *arg)
{
    struct waha_fetch *f = arg;
    struct net_result r;
    char *text = NULL;

    memset(&r, 0, sizeof(r));
    r.outcome = NET_FAIL;
    if (!h->ok && h->too_big) {
        r.too_big = 1;
        r.text = "the file is larger than allowed";
    } else if (!h->ok || h->status >= 500 || h->status == 429) {
        r.outcome = NET_RETRY;
        text = h->ok ? xasprintf("the WAHA server answered HTTP %ld", h->status)
                     : xasprintf("the download failed: %s", h->error);
    } else if (h->status >= 200 && h->status < 300) {
        r.outcome = NET_OK;
        r.size = (long long)h->len;
        /* the webhook's media.mimetype stays unless WAHA says better */
        r.mime = h->content_type != NULL && strlen(h->content_type) < 256 &&
                         strncmp(h->content_type, "application/octet-stream",
                                 24) != 0
                     ? h->content_type
                     : NULL;
    } else {
        text = xasprintf("the WAHA server no longer offers it (HTTP %ld)",
                         h->status);
    }
    if (text != NULL)
        r.text = text;
    if (r.outcome != NET_OK)
        log_info("waha: a received file not fetched: %s", r.text);
    f->cb(&r, f->arg);
    free(text);
    free(f->url);
    free(f);
}

/* Downloads a received file from its media.url (the id is not needed:
 * WAHA names the file in the URL). */
void waha_media_fetch(const struct net_account *a, const char *id,
                      const char *url, const char *path, long long max,
                      net_result_fn cb, void *arg)
{
    const char *headers[2] = {NULL, NULL};
    struct waha_fetch *f;
    struct http_request req;

    if (url == NULL || strlen(url) > WAHA_URL_MAX ||
        (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
        struct waha_call *call = waha_call_new(WAHA_CALL_PLAIN, cb, arg);

        call->id = xstrdup("the WAHA server gave no address for it");
        loop_defer(waha_refused, call);
        return;
    }
    f = xcalloc(1, sizeof(*f));
    f->url = xstrdup(url);
    f->cb = cb;
    f->arg = arg;
    /* the key goes to the configured WAHA server only */
    if (waha_media_host_ok(url))
        headers[0] = waha.api_key_header;
    else
        log_info("waha: a media URL not on waha.url's host; fetched without "
                 "the API key");
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = f->url;
    req.headers = headers;
    req.timeout_ms = WAHA_MEDIA_TIMEOUT_MS;
    req.max_response = (size_t)max;
    req.save_to = path;
    req.bulk = 1;
    http_start(&req, waha_fetch_done, f);
}

/* ---- liveness ---- */

void waha_session_status(const char *session, net_result_fn cb, void *arg)
{
    char *path = xasprintf("/api/sessions/%s", session);

    waha_request("GET", path, NULL, NULL,
                 waha_call_new(WAHA_CALL_STATUS, cb, arg));
    free(path);
}

void waha_session_restart(const char *session, net_result_fn cb, void *arg)
{
    char *path = xasprintf("/api/sessions/%s/restart", session);

    waha_request("POST", path, NULL, NULL,
                 waha_call_new(WAHA_CALL_PLAIN, cb, arg));
    free(path);
}

/* ---- webhooks ---- */

/* The bridge's callback, behind the liveness watch. */
struct waha_parse_ctx {
    net_event_fn fn;
    void *arg;
};

static int waha_parsed(const struct net_event *ev, void *arg)
{
    struct waha_parse_ctx *c = arg;

    if (waha_live_event(ev))
        return 0; /* the statuses of ferry's own restart */
    return c->fn(ev, c->arg);
}

/* The webhook's events, each noted as the session's traffic. */
static int waha_parse(const char *body, size_t len, net_event_fn fn, void *arg)
{
    struct waha_parse_ctx c = {fn, arg};

    return waha_webhook_parse(body, len, waha_parsed, &c);
}

static void waha_webhook_get(const struct httpd_request *req,
                             struct httpd_response *res)
{
    httpd_respond(res, 405, "text/plain", "WAHA posts its events\n");
}

static int waha_webhook_verify(const struct httpd_request *req,
                               const char **why)
{
    const char *sig = httpd_header(req, "X-Webhook-Hmac");

    if (sig == NULL) {
        *why = "unsigned (no X-Webhook-Hmac)";
        return -1;
    }
    if (!waha_signature_ok(waha.hmac_key, sig, req->body, req->body_len)) {
        *why = "X-Webhook-Hmac mismatch";
        return -1;
    }
    return 0;
}

/* sendVoice takes no caption, nor does a sticker show one: it follows as
 * a text */
static const char *const waha_uncaptioned[] = {"audio", "sticker", NULL};

const struct net_backend net_waha_backend = {
    .name = "waha",
    .max_text = WAHA_TEXT_MAX,
    .max_caption = WAHA_TEXT_MAX,
    .caps =
        {
            .receipts = 1,
            .read_markers = 1,
            .typing = 1,
            .replies = 1,
            .reactions = 1,
            .edits_in = 1,
            .edits_out = 1,
            .retractions_in = 1,
            .retractions_out = 1,
            .media = 1,
            .uncaptioned = waha_uncaptioned,
        },
    .configure = waha_configure,
    .throughput = waha_throughput,
    .login_form = &waha_login_form,
    .login = waha_login,
    .send = waha_send,
    .webhook_get = waha_webhook_get,
    .webhook_verify = waha_webhook_verify,
    .webhook_reject = 401,
    .webhook_parse = waha_parse,
    .login_step = waha_login_step,
    .relogin = waha_relogin,
    .logout = waha_logout,
    .media_types = net_whatsapp_media_types,
    .media_types_text = "pictures (JPEG, PNG, up to 5 MB), videos (MP4, "
                        "3GP, 16 MB), audio (AAC, AMR, MP3, M4A, OGG, 16 MB), "
                        "documents (PDF, text, Word, Excel, PowerPoint, 100 "
                        "MB) and WebP stickers (500 KB)",
    .media_fetch = waha_media_fetch,
    .media_upload = waha_media_upload,
    .groups = waha_groups,
    .avatar = waha_avatar,
    .peer_phone = waha_peer_phone,
    .peer_phones = waha_peer_phones,
    .media_by_url = waha_media_by_url,
};
