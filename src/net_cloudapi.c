/* SPDX-License-Identifier: MIT */
/* The WhatsApp Business Platform Cloud API back end: send requests, the
 * classification of its errors, media download and upload, and webhooks
 * (verification handshake, X-Hub-Signature-256 over the raw bytes, parsing
 * into events). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "conf.h"
#include "http.h"
#include "httpd.h"
#include "json_strict.h"
#include "log.h"
#include "metrics.h"
#include "net_backend.h"
#include "net_cloudapi.h"
#include "net_cloudapi_int.h"
#include "util.h"

#define CLOUDAPI_TIMEOUT_MS 15000
/* A send waits longer for its answer: given up on, it is sent again and
 * may reach the contact twice. */
#define CLOUDAPI_SEND_TIMEOUT_MS 60000
#define CLOUDAPI_MAX_RESPONSE (256 * 1024)
#define CLOUDAPI_TEXT_MAX 4096
#define CLOUDAPI_CAPTION_MAX 1024
#define CLOUDAPI_LOGIN_ID "phone_number_id" /* the login's credentials */
#define CLOUDAPI_LOGIN_TOKEN "access_token"
#define CLOUDAPI_SIG_PREFIX "sha256="

static struct {
    char *graph_url;
    char *api_version;
    char *app_secret;
    char *verify_token;
    EVP_MAC *hmac;           /* fetched once */
    EVP_MAC_CTX *hmac_keyed; /* keyed with app_secret, copied per webhook */
    long long throughput;    /* messages per second per business number */
} cloudapi;

/* WhatsApp shows no caption with these: it follows as a text. */
static const char *const cloudapi_uncaptioned[] = {"audio", "sticker", NULL};

const char *cloudapi_graph_url(void)
{
    return cloudapi.graph_url;
}

const char *cloudapi_api_version(void)
{
    return cloudapi.api_version;
}

static int cloudapi_configure(const struct conf *conf)
{
    free(cloudapi.graph_url);
    free(cloudapi.api_version);
    free(cloudapi.app_secret);
    free(cloudapi.verify_token);
    EVP_MAC_CTX_free(cloudapi.hmac_keyed); /* the secret may have changed */
    cloudapi.hmac_keyed = NULL;
    cloudapi.graph_url = xstrdup(conf->cloudapi_graph_url);
    cloudapi.api_version = xstrdup(conf->cloudapi_api_version);
    cloudapi.app_secret = xstrdup(conf->cloudapi_app_secret);
    cloudapi.verify_token = xstrdup(conf->cloudapi_verify_token);
    cloudapi.throughput = conf->cloudapi_throughput;
    return 0;
}

/* The token bucket's rate: cloudapi.throughput, 80 by default. */
static long long cloudapi_throughput(void)
{
    return cloudapi.throughput;
}

/* How ferry treats each documented error code, with the words the XMPP user
 * reads. Codes not listed are permanent failures quoting the API. */
static const struct cloudapi_error {
    int code;
    enum net_outcome outcome;
    int rate_limited, pair_limited;
    const char *text;
} cloudapi_errors[] = {
    {0, NET_AUTH, 0, 0,
     "WhatsApp rejected the access token: register again with a valid one"},
    {190, NET_AUTH, 0, 0,
     "WhatsApp rejected the access token (expired or invalid): register "
     "again with a new token"},
    {131047, NET_FAIL, 0, 0,
     "This contact has not written to you in the last 24 hours; WhatsApp "
     "only lets businesses answer within that window (a template message "
     "would be needed)"},
    {131026, NET_FAIL, 0, 0,
     "WhatsApp could not deliver this message: the number may not be on "
     "WhatsApp, may use an old version, or may have blocked you"},
    {131021, NET_FAIL, 0, 0,
     "WhatsApp does not let you send messages to your own number"},
    {100, NET_FAIL, 0, 0, "WhatsApp rejected the message as invalid"},
    {131008, NET_FAIL, 0, 0,
     "WhatsApp rejected the message: a required part is missing"},
    {131009, NET_FAIL, 0, 0,
     "WhatsApp rejected the message: a value is not valid"},
    {130429, NET_RETRY, 1, 0, "WhatsApp throughput limit reached"},
    {4, NET_RETRY, 1, 0, "WhatsApp API call rate limit reached"},
    {80007, NET_RETRY, 1, 0, "WhatsApp account rate limit reached"},
    {131048, NET_RETRY, 1, 0, "WhatsApp spam rate limit reached"},
    {131056, NET_RETRY, 0, 1,
     "too many messages to this contact in a short time"},
    {1, NET_RETRY, 0, 0, "WhatsApp reported an unknown error"},
    {2, NET_RETRY, 0, 0, "WhatsApp service temporarily unavailable"},
    {131000, NET_RETRY, 0, 0, "WhatsApp reported that something went wrong"},
    {131016, NET_RETRY, 0, 0, "WhatsApp service unavailable"},
    {131057, NET_RETRY, 0, 0, "WhatsApp account in maintenance"},
    {132000, NET_FAIL, 0, 0,
     "The number of parameters does not match the template's placeholders: "
     "give one parameter per placeholder of its body, in order"},
    {132001, NET_FAIL, 0, 0,
     "This template does not exist in this language, or is not approved: "
     "/templates lists those that can be sent"},
    {132005, NET_FAIL, 0, 0,
     "The template's text is too long once filled in: shorten the "
     "parameters"},
    {132012, NET_FAIL, 0, 0,
     "The parameters do not have the template's format (a media header, "
     "or named placeholders) and cannot be sent from here"},
    {132015, NET_FAIL, 0, 0, "This template is paused for low quality"},
    {132016, NET_FAIL, 0, 0, "This template is disabled"},
    {132018, NET_FAIL, 0, 0,
     "A parameter has a newline, a tab or more than 4 spaces in a row"},
    {131049, NET_FAIL, 0, 0,
     "WhatsApp did not deliver this marketing template: the customer has "
     "had as many as WhatsApp allows for now; do not send another within "
     "24 hours"},
    {131050, NET_FAIL, 0, 0,
     "The customer has stopped marketing messages from this number"},
    {130472, NET_FAIL, 0, 0,
     "WhatsApp did not deliver this marketing template: the customer is "
     "part of one of its experiments"},
    {131052, NET_FAIL, 0, 0,
     "WhatsApp could not download the file the contact sent"},
    {131053, NET_FAIL, 0, 0,
     "WhatsApp could not use this file: its type is not one WhatsApp takes, "
     "it does not match its content, or it is too large"},
};

static const struct cloudapi_error *cloudapi_error_find(int code)
{
    size_t i;

    for (i = 0; i < sizeof(cloudapi_errors) / sizeof(cloudapi_errors[0]); i++)
        if (cloudapi_errors[i].code == code)
            return &cloudapi_errors[i];
    return NULL;
}

/* A string member (NULL if absent or not a string). An escaped NUL
 * (\u0000) inside it becomes a control character that the XMPP side
 * shows as U+FFFD, so the text after it is not lost. */
const char *cloudapi_str(json_object *o, const char *key)
{
    json_object *v = json_strict_member(o, key);
    char *s, *nul;
    size_t len;

    if (v == NULL || !json_object_is_type(v, json_type_string))
        return NULL;
    s = (char *)json_object_get_string(v); /* our own parse: writable */
    len = (size_t)json_object_get_string_len(v);
    while ((nul = memchr(s, '\0', len)) != NULL)
        *nul = '\x1a';
    return s;
}

static int cloudapi_int(json_object *o, const char *key)
{
    json_object *v = json_strict_member(o, key);

    if (v == NULL)
        return 0;
    return json_object_get_int(v);
}

/* Element i of an array member, or NULL. */
static json_object *cloudapi_at(json_object *o, const char *key, size_t i)
{
    json_object *a = json_strict_member(o, key);

    if (a == NULL || !json_object_is_type(a, json_type_array) ||
        i >= json_object_array_length(a))
        return NULL;
    return json_object_array_get_idx(a, i);
}

static size_t cloudapi_len(json_object *o, const char *key)
{
    json_object *a = json_strict_member(o, key);

    if (a == NULL || !json_object_is_type(a, json_type_array))
        return 0;
    return json_object_array_length(a);
}

/* Fills r from an error envelope {"error":{"code":...}}; text is built into
 * *owned (freed by the caller). */
void cloudapi_classify_error(json_object *err, long status,
                             struct net_result *r, char **owned)
{
    int code = cloudapi_int(err, "code");
    const char *msg = cloudapi_str(err, "message");
    const struct cloudapi_error *e = cloudapi_error_find(code);

    r->code = code;
    if (e != NULL) {
        r->outcome = e->outcome;
        r->rate_limited = e->rate_limited;
        r->pair_limited = e->pair_limited;
        *owned = xasprintf("%s (WhatsApp error %d)", e->text, code);
    } else {
        r->outcome = status >= 500 ? NET_RETRY : NET_FAIL;
        *owned = xasprintf("WhatsApp refused the message: %s (error %d)",
                           msg ? msg : "no reason given", code);
    }
    r->text = *owned;
}

/* Why the credential check failed, in the words of a registration form. */
static void cloudapi_classify_check(json_object *err, struct net_result *r,
                                    char **owned)
{
    int code = cloudapi_int(err, "code");
    const char *msg = cloudapi_str(err, "message");
    const struct cloudapi_error *e = cloudapi_error_find(code);

    r->code = code;
    r->outcome = e && e->outcome == NET_RETRY ? NET_RETRY : NET_FAIL;
    if (code == 190 || code == 0)
        *owned = xasprintf("WhatsApp rejected the access token (expired or "
                           "invalid): %s",
                           msg ? msg : "no reason given");
    else if (code == 100)
        *owned = xasprintf("WhatsApp does not know this phone number ID, or "
                           "the token may not use it: %s",
                           msg ? msg : "no reason given");
    else
        *owned = xasprintf("WhatsApp refused these credentials: %s (error %d)",
                           msg ? msg : "no reason given", code);
    r->text = *owned;
}

/* 1 when a failed send may still have reached the contact: it went out
 * and no answer came, or the answer is not one the API gives when it
 * refuses (an error envelope): a proxy's 5xx, an unreadable 200. */
static int cloudapi_unknown(const struct http_result *h, json_object *err)
{
    if (!h->ok)
        return h->sent;
    return err == NULL && (h->status == 200 || h->status >= 500);
}

/* Turns an HTTP result into a net_result and calls the caller back. */
void cloudapi_done(const struct http_result *h, void *arg)
{
    struct cloudapi_call *call = arg;
    struct net_result r;
    json_object *o = NULL, *err = NULL;
    char *owned = NULL;

    memset(&r, 0, sizeof(r));
    if (!h->ok) {
        r.outcome = NET_RETRY;
        owned = xasprintf("WhatsApp API unreachable: %s", h->error);
        r.text = owned;
        goto out;
    }
    o = json_strict_parse(h->body, h->len, CLOUDAPI_MAX_DEPTH);
    err = json_strict_member(o, "error");
    if (err != NULL && call->is_check) {
        cloudapi_classify_check(err, &r, &owned);
    } else if (err != NULL) {
        cloudapi_classify_error(err, h->status, &r, &owned);
        if (h->status == 429)
            r.rate_limited = 1, r.outcome = NET_RETRY;
    } else if (h->status == 200 && o != NULL &&
               (!call->is_upload || cloudapi_str(o, "id") != NULL)) {
        r.outcome = NET_OK;
        r.id = call->is_upload
                   ? cloudapi_str(o, "id")
                   : cloudapi_str(cloudapi_at(o, "messages", 0), "id");
        r.info = cloudapi_str(o, "display_phone_number");
    } else {
        r.outcome = NET_RETRY;
        r.rate_limited = h->status == 429;
        owned = xasprintf("WhatsApp API answered HTTP %ld without a usable "
                          "body",
                          h->status);
        r.text = owned;
    }
out:
    r.unknown =
        call->is_send && r.outcome == NET_RETRY && cloudapi_unknown(h, err);
    metrics_inc(r.outcome == NET_OK      ? METRICS_OUT_SENT
                : r.outcome == NET_RETRY ? METRICS_OUT_RETRY
                : r.outcome == NET_AUTH  ? METRICS_OUT_AUTH
                                         : METRICS_OUT_FAILED);
    if (r.outcome != NET_OK)
        log_info("cloudapi: %s (HTTP %ld, %lld ms)", r.text,
                 h->ok ? h->status : 0L, h->elapsed_ms);
    call->cb(&r, call->arg);
    json_object_put(o);
    free(owned);
    free(call);
}

struct cloudapi_call *cloudapi_call_new(net_result_fn cb, void *arg)
{
    struct cloudapi_call *call = xcalloc(1, sizeof(*call));

    call->cb = cb;
    call->arg = arg;
    return call;
}

static void cloudapi_request(const char *method, const char *url,
                             const char *token, const char *body, int is_check,
                             int is_send, net_result_fn cb, void *arg)
{
    struct cloudapi_call *call = cloudapi_call_new(cb, arg);
    struct http_request req;

    call->is_check = is_check;
    call->is_send = is_send;
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = url;
    req.bearer = token;
    if (body != NULL) {
        req.content_type = "application/json";
        req.body = body;
        req.body_len = strlen(body);
    }
    req.timeout_ms = is_send ? CLOUDAPI_SEND_TIMEOUT_MS : CLOUDAPI_TIMEOUT_MS;
    req.no_repeat = is_send;
    req.max_response = CLOUDAPI_MAX_RESPONSE;
    http_start(&req, cloudapi_done, call);
}

static void cloudapi_check(const struct net_account *a, net_result_fn cb,
                           void *arg)
{
    char *url =
        xasprintf("%s/%s/%s", cloudapi.graph_url, cloudapi.api_version, a->id);

    cloudapi_request("GET", url, a->token, NULL, 1, 0, cb, arg);
    free(url);
}

/* A login in flight: the account it checks. */
struct cloudapi_login {
    net_result_fn cb;
    void *arg;
    struct net_account a;
    char *id, *token;
};

static void cloudapi_login_done(const struct net_result *r, void *arg)
{
    struct cloudapi_login *l = arg;
    struct net_result out = *r;

    out.account = &l->a;
    l->cb(&out, l->arg);
    free(l->id);
    free(l->token);
    free(l);
}

/* Logs in: the phone number id and token are checked by reading the
 * number. */
static void cloudapi_login(const struct login_creds *c, net_result_fn cb,
                           void *arg)
{
    struct cloudapi_login *l = xcalloc(1, sizeof(*l));

    l->cb = cb;
    l->arg = arg;
    l->id = xstrdup(login_get(c, CLOUDAPI_LOGIN_ID));
    l->token = xstrdup(login_get(c, CLOUDAPI_LOGIN_TOKEN));
    l->a.id = l->id;
    l->a.token = l->token;
    cloudapi_check(&l->a, cloudapi_login_done, l);
}

/* 1 when s is a plausible phone_number_id: 1 to 32 digits. */
static int cloudapi_login_id_valid(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > 32)
        return 0;
    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* 1 when s is a plausible token: printable ASCII without spaces. */
static int cloudapi_login_token_valid(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > LOGIN_VALUE_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return 0;
    return 1;
}

static int cloudapi_login_check(const struct login_creds *c, const char **why)
{
    if (!cloudapi_login_id_valid(login_get(c, CLOUDAPI_LOGIN_ID))) {
        *why = "The phone number ID is the numeric id Meta shows for your "
               "business number (digits only), not the phone number";
        return -1;
    }
    if (!cloudapi_login_token_valid(login_get(c, CLOUDAPI_LOGIN_TOKEN))) {
        *why = "The access token is empty, too long or has spaces in it";
        return -1;
    }
    return 0;
}

static const struct login_field cloudapi_login_fields[] = {
    {
        .var = CLOUDAPI_LOGIN_ID,
        .label = "Phone number ID",
        .required = 1,
        .account = 1,
        .legacy = "username",
    },
    {
        .var = CLOUDAPI_LOGIN_TOKEN,
        .label = "Access token",
        .secret = 1,
        .required = 1,
        .legacy = "password",
    },
    {.var = NULL},
};

/* A business number: its phone number id and a permanent token. */
static const struct login_form cloudapi_login_form = {
    .title = "WhatsApp Business registration",
    .instructions = "Enter the Phone number ID of your WhatsApp Business "
                    "number and a permanent access token (Meta Business "
                    "Settings > System users).",
    .fields = cloudapi_login_fields,
    .missing = "Both the phone number ID and the access token are required",
    .taken = "This phone number ID is already registered by another user",
    .account_noun = "WhatsApp business number",
    .account_label = "Business number",
    .chat_help = "register your WhatsApp Business number (typed here, the "
                 "token stays in your chat history: prefer the registration "
                 "form)",
    .chat_note =
        "Note: your access token is now in this chat's history, and in your "
        "server's message archive if it keeps one: delete it there if you "
        "can. Next time use the registration form (your client's "
        "registration with the gateway, or the Register ad-hoc command), "
        "which keeps it out of the archive.",
    .check = cloudapi_login_check,
};

static void cloudapi_add_str(json_object *o, const char *key, const char *v)
{
    json_object_object_add(o, key, json_object_new_string(v));
}

/* read and typing: {"status":"read","message_id":...} */
static void cloudapi_body_read(json_object *o, const struct net_out *m)
{
    json_object *t;

    cloudapi_add_str(o, "status", "read");
    cloudapi_add_str(o, "message_id", m->target);
    if (strcmp(m->kind, "typing") == 0) {
        t = json_object_new_object();
        cloudapi_add_str(t, "type", "text");
        json_object_object_add(o, "typing_indicator", t);
    }
}

/* A media message by id: captions where WhatsApp shows them, a file name
 * for documents. */
static void cloudapi_body_media(json_object *t, const struct net_out *m)
{
    int captioned = net_caption_shown(&net_cloudapi_backend, m->kind);

    cloudapi_add_str(t, "id", m->media_id ? m->media_id : "");
    if (captioned && m->text != NULL && m->text[0] != '\0')
        cloudapi_add_str(t, "caption", m->text);
    if (strcmp(m->kind, "document") == 0 && m->filename != NULL)
        cloudapi_add_str(t, "filename", m->filename);
}

static int cloudapi_is_media(const char *kind)
{
    return strcmp(kind, "image") == 0 || strcmp(kind, "video") == 0 ||
           strcmp(kind, "audio") == 0 || strcmp(kind, "document") == 0 ||
           strcmp(kind, "sticker") == 0;
}

/* text, reaction and media, to one recipient. */
static void cloudapi_body_message(json_object *o, const struct net_out *m)
{
    json_object *t = json_object_new_object(), *ctx;
    char *to = xasprintf("+%s", m->to);

    cloudapi_add_str(o, "recipient_type", "individual");
    cloudapi_add_str(o, "to", to);
    cloudapi_add_str(o, "type", m->kind);
    if (strcmp(m->kind, "reaction") == 0) {
        cloudapi_add_str(t, "message_id", m->target);
        cloudapi_add_str(t, "emoji", m->text);
    } else if (cloudapi_is_media(m->kind)) {
        cloudapi_body_media(t, m);
    } else if (strcmp(m->kind, "template") == 0) {
        cloudapi_template_body(t, m);
    } else {
        json_object_object_add(t, "preview_url", json_object_new_boolean(0));
        cloudapi_add_str(t, "body", m->text);
    }
    json_object_object_add(o, m->kind, t);
    if (m->reply_to != NULL) {
        ctx = json_object_new_object();
        cloudapi_add_str(ctx, "message_id", m->reply_to);
        json_object_object_add(o, "context", ctx);
    }
    free(to);
}

/* The JSON body of a send. Caller frees. */
static char *cloudapi_body(const struct net_out *m)
{
    json_object *o = json_object_new_object();
    char *s;

    cloudapi_add_str(o, "messaging_product", "whatsapp");
    if (strcmp(m->kind, "read") == 0 || strcmp(m->kind, "typing") == 0)
        cloudapi_body_read(o, m);
    else
        cloudapi_body_message(o, m);
    s = xstrdup(json_object_to_json_string_ext(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return s;
}

static void cloudapi_send(const struct net_account *a, const struct net_out *m,
                          net_result_fn cb, void *arg)
{
    char *url = xasprintf("%s/%s/%s/messages", cloudapi.graph_url,
                          cloudapi.api_version, a->id);
    char *body = cloudapi_body(m);

    /* a text or a file reaches the contact as a new message each time;
     * marks, typing and reactions can be repeated */
    cloudapi_request("POST", url, a->token, body, 0,
                     strcmp(m->kind, "text") == 0 ||
                         strcmp(m->kind, "template") == 0 ||
                         cloudapi_is_media(m->kind),
                     cb, arg);
    free(body);
    free(url);
}

/* 1 when a equals b, in time independent of where they differ. */
static int cloudapi_secret_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

static void cloudapi_webhook_get(const struct httpd_request *req,
                                 struct httpd_response *res)
{
    const char *mode = httpd_query(req, "hub.mode");
    const char *token = httpd_query(req, "hub.verify_token");
    const char *challenge = httpd_query(req, "hub.challenge");

    if (mode == NULL || token == NULL || challenge == NULL ||
        strcmp(mode, "subscribe") != 0 || cloudapi.verify_token[0] == '\0' ||
        !cloudapi_secret_equal(token, cloudapi.verify_token) ||
        strlen(challenge) > 256) {
        log_warn("cloudapi: webhook verification refused (wrong or missing "
                 "hub.verify_token)");
        httpd_respond(res, 403, "text/plain", "verification failed\n");
        return;
    }
    log_info("cloudapi: webhook verification accepted");
    httpd_respond(res, 200, "text/plain", challenge);
}

/* A fresh HMAC-SHA256 context keyed with the app secret, or NULL. The
 * algorithm is fetched and keyed once: each webhook copies the result. */
static EVP_MAC_CTX *cloudapi_hmac_new(void)
{
    static char digest[] = "SHA256";
    OSSL_PARAM params[2];
    EVP_MAC_CTX *c;

    if (cloudapi.hmac == NULL)
        cloudapi.hmac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
    if (cloudapi.hmac == NULL)
        return NULL;
    if (cloudapi.hmac_keyed == NULL) {
        c = EVP_MAC_CTX_new(cloudapi.hmac);
        params[0] =
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
        params[1] = OSSL_PARAM_construct_end();
        if (c == NULL ||
            EVP_MAC_init(c, (const unsigned char *)cloudapi.app_secret,
                         strlen(cloudapi.app_secret), params) != 1) {
            EVP_MAC_CTX_free(c);
            return NULL;
        }
        cloudapi.hmac_keyed = c;
    }
    return EVP_MAC_CTX_dup(cloudapi.hmac_keyed);
}

/* HMAC-SHA256 of the body with the app secret; 0 or -1. */
static int cloudapi_webhook_mac(const struct httpd_request *req,
                                unsigned char *mac, size_t *maclen)
{
    const unsigned char *body = (const unsigned char *)req->body;
    EVP_MAC_CTX *c = cloudapi_hmac_new();
    int ok;

    if (c == NULL)
        return -1;
    ok = EVP_MAC_update(c, body, req->body_len) == 1 &&
         EVP_MAC_final(c, mac, maclen, EVP_MAX_MD_SIZE) == 1;
    EVP_MAC_CTX_free(c);
    return ok ? 0 : -1;
}

static int cloudapi_webhook_verify(const struct httpd_request *req,
                                   const char **why)
{
    const char *sig = httpd_header(req, "X-Hub-Signature-256");
    const size_t plen = strlen(CLOUDAPI_SIG_PREFIX);
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    char want[2 * EVP_MAX_MD_SIZE + 1];

    if (cloudapi.app_secret[0] == '\0') {
        *why = "cloudapi.app_secret is not set";
        return -1;
    }
    if (sig == NULL) {
        *why = "missing X-Hub-Signature-256";
        return -1;
    }
    if (strncmp(sig, CLOUDAPI_SIG_PREFIX, plen) != 0) {
        *why = "malformed X-Hub-Signature-256";
        return -1;
    }
    if (cloudapi_webhook_mac(req, mac, &maclen) < 0) {
        *why = "OpenSSL cannot compute the signature";
        return -1;
    }
    util_hex(mac, maclen, want);
    if (!cloudapi_secret_equal(sig + plen, want)) {
        *why = "signature mismatch";
        return -1;
    }
    return 0;
}

/* ---- webhook parsing ---- */

struct cloudapi_ctx {
    net_event_fn fn;
    void *arg;
    const char *account;
    const char *business; /* the entry's id: the WABA id */
    json_object *contacts;
    int failed;
};

static long long cloudapi_timestamp(json_object *o)
{
    const char *s = cloudapi_str(o, "timestamp");
    long long v;

    if (s != NULL && parse_ll(s, 0, 1LL << 40, &v) == 0)
        return v;
    return now_s();
}

/* The profile name of wa_id from value.contacts[]. */
static const char *cloudapi_profile_name(json_object *contacts,
                                         const char *wa_id)
{
    size_t i, n;

    if (contacts == NULL || !json_object_is_type(contacts, json_type_array))
        return NULL;
    n = json_object_array_length(contacts);
    for (i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(contacts, i);
        const char *id = cloudapi_str(c, "wa_id");

        if (id != NULL && wa_id != NULL && strcmp(id, wa_id) == 0)
            return cloudapi_str(json_strict_member(c, "profile"), "name");
    }
    return NULL;
}

/* Media of an image, video, audio, document or sticker message. */
static void cloudapi_media(struct net_event *ev, struct net_media *md,
                           json_object *obj, const char *type)
{
    json_object *voice = json_strict_member(obj, "voice");

    md->kind = type;
    if (strcmp(type, "audio") == 0 && voice != NULL &&
        json_object_get_boolean(voice))
        md->kind = "voice";
    md->id = cloudapi_str(obj, "id");
    md->mime = cloudapi_str(obj, "mime_type");
    md->filename = cloudapi_str(obj, "filename");
    md->caption = cloudapi_str(obj, "caption");
    md->url = cloudapi_str(obj, "url");
    ev->media = md->id != NULL ? md : NULL;
    ev->text = md->caption;
}

/* A location: a geo: URI, and its name and address as text. */
static void cloudapi_location(struct net_event *ev, json_object *obj,
                              char **owned)
{
    const char *name = cloudapi_str(obj, "name");
    const char *addr = cloudapi_str(obj, "address");
    json_object *lat = json_strict_member(obj, "latitude");
    json_object *lon = json_strict_member(obj, "longitude");

    if (lat == NULL || lon == NULL) {
        ev->text = "[a location without coordinates]";
        ev->notice = 1;
        return;
    }
    owned[0] = xasprintf("geo:%.7f,%.7f", json_object_get_double(lat),
                         json_object_get_double(lon));
    ev->geo = owned[0];
    if (name != NULL || addr != NULL) {
        owned[1] = xasprintf("%s%s%s", name ? name : "",
                             name && addr ? "\n" : "", addr ? addr : "");
        ev->text = owned[1];
    }
}

/* Shared contact cards (at most NET_MAX_CARDS). */
static void cloudapi_cards(struct net_event *ev, struct net_card *cards,
                           json_object *m)
{
    json_object *card, *phone;
    size_t i, j;

    for (i = 0;
         i < NET_MAX_CARDS && (card = cloudapi_at(m, "contacts", i)) != NULL;
         i++) {
        struct net_card *c = &cards[i];

        c->name =
            cloudapi_str(json_strict_member(card, "name"), "formatted_name");
        for (j = 0; j < NET_CARD_PHONES &&
                    (phone = cloudapi_at(card, "phones", j)) != NULL;
             j++) {
            c->phones[j].phone = cloudapi_str(phone, "phone");
            c->phones[j].type = cloudapi_str(phone, "type");
            c->phones[j].peer = cloudapi_str(phone, "wa_id");
        }
        c->nphones = (int)j;
    }
    ev->cards = cards;
    ev->ncards = (int)i;
}

/* Text of a button or interactive (button or list) reply. */
static void cloudapi_interactive(struct net_event *ev, json_object *obj,
                                 char **owned)
{
    json_object *r = json_strict_member(obj, "button_reply");
    const char *title, *desc;

    if (r == NULL)
        r = json_strict_member(obj, "list_reply");
    title = cloudapi_str(r, "title");
    desc = cloudapi_str(r, "description");
    if (title == NULL) {
        ev->text = "[an interactive reply WhatsApp could not pass on]";
        ev->notice = 1;
        return;
    }
    owned[0] = xasprintf("%s%s%s", title, desc ? "\n" : "", desc ? desc : "");
    ev->text = owned[0];
}

/* Why WhatsApp did not pass a message on, from its errors[]. */
static void cloudapi_unsupported(struct net_event *ev, json_object *m,
                                 char **owned)
{
    json_object *err = cloudapi_at(m, "errors", 0);
    const char *details =
        cloudapi_str(json_strict_member(err, "error_data"), "details");

    owned[0] = xasprintf("[WhatsApp did not pass this message on: it is of a "
                         "kind businesses cannot receive (a poll, view-once "
                         "media...)%s%s]",
                         details ? ": " : "", details ? details : "");
    ev->text = owned[0];
    ev->notice = 1;
}

/* Fills ev for a message of the given type (the message object m). */
static void cloudapi_content(struct net_event *ev, json_object *m,
                             const char *type, struct net_media *md,
                             struct net_card *cards, char **owned)
{
    json_object *obj = json_strict_member(m, type);

    if (strcmp(type, "text") == 0) {
        ev->text = cloudapi_str(obj, "body");
    } else if (strcmp(type, "image") == 0 || strcmp(type, "video") == 0 ||
               strcmp(type, "audio") == 0 || strcmp(type, "document") == 0 ||
               strcmp(type, "sticker") == 0) {
        cloudapi_media(ev, md, obj, type);
    } else if (strcmp(type, "location") == 0) {
        cloudapi_location(ev, obj, owned);
    } else if (strcmp(type, "contacts") == 0) {
        cloudapi_cards(ev, cards, m);
    } else if (strcmp(type, "button") == 0) {
        ev->text = cloudapi_str(obj, "text");
    } else if (strcmp(type, "interactive") == 0) {
        cloudapi_interactive(ev, obj, owned);
    } else if (strcmp(type, "unsupported") == 0) {
        cloudapi_unsupported(ev, m, owned);
    } else {
        owned[0] = xasprintf("[a WhatsApp message of type '%s' that this "
                             "gateway cannot show]",
                             type);
        ev->text = owned[0];
        ev->notice = 1;
    }
}

/* Reactions, edits, revokes and number changes; 0 if m is none of them. */
static int cloudapi_action(struct net_event *ev, json_object *m,
                           const char *type, struct net_media *md,
                           struct net_card *cards, char **owned)
{
    json_object *obj = json_strict_member(m, type), *inner;
    const char *itype;

    if (strcmp(type, "reaction") == 0) {
        ev->kind = NET_EVENT_REACTION;
        ev->target = cloudapi_str(obj, "message_id");
        ev->emoji = cloudapi_str(obj, "emoji");
        if (ev->emoji == NULL)
            ev->emoji = "";
    } else if (strcmp(type, "revoke") == 0) {
        ev->kind = NET_EVENT_REVOKE;
        ev->target = cloudapi_str(obj, "original_message_id");
    } else if (strcmp(type, "edit") == 0) {
        ev->kind = NET_EVENT_EDIT;
        ev->target = cloudapi_str(obj, "original_message_id");
        inner = json_strict_member(obj, "message");
        itype = cloudapi_str(inner, "type");
        if (itype != NULL)
            cloudapi_content(ev, inner, itype, md, cards, owned);
    } else if (strcmp(type, "system") == 0 &&
               cloudapi_str(obj, "type") != NULL &&
               strcmp(cloudapi_str(obj, "type"), "user_changed_number") == 0) {
        ev->kind = NET_EVENT_RENUMBER;
        ev->new_peer = cloudapi_str(obj, "wa_id");
        ev->text = cloudapi_str(obj, "body");
    } else if (strcmp(type, "system") == 0) {
        ev->text = cloudapi_str(obj, "body");
        ev->notice = 1;
        return 1;
    } else {
        return 0;
    }
    return 1;
}

static void cloudapi_parse_message(struct cloudapi_ctx *c, json_object *m)
{
    struct net_event ev;
    struct net_media md;
    struct net_card cards[NET_MAX_CARDS];
    const char *type = cloudapi_str(m, "type");
    char *owned[2] = {NULL, NULL};

    memset(&ev, 0, sizeof(ev));
    memset(&md, 0, sizeof(md));
    memset(cards, 0, sizeof(cards));
    ev.kind = NET_EVENT_MESSAGE;
    ev.account = c->account;
    ev.business = c->business;
    ev.id = cloudapi_str(m, "id");
    ev.peer = cloudapi_str(m, "from");
    if (ev.id == NULL || ev.peer == NULL || type == NULL) {
        log_warn("cloudapi: webhook message without id, from or type");
        return;
    }
    ev.peer_name = cloudapi_profile_name(c->contacts, ev.peer);
    ev.timestamp = cloudapi_timestamp(m);
    ev.type = type;
    ev.reply_to = cloudapi_str(json_strict_member(m, "context"), "id");
    if (!cloudapi_action(&ev, m, type, &md, cards, owned))
        cloudapi_content(&ev, m, type, &md, cards, owned);
    if (c->fn(&ev, c->arg) < 0)
        c->failed = 1;
    free(owned[0]);
    free(owned[1]);
}

static int cloudapi_status_value(const char *s)
{
    if (strcmp(s, "sent") == 0)
        return NET_STATUS_SENT;
    if (strcmp(s, "delivered") == 0)
        return NET_STATUS_DELIVERED;
    if (strcmp(s, "read") == 0 || strcmp(s, "played") == 0)
        return NET_STATUS_READ;
    if (strcmp(s, "failed") == 0)
        return NET_STATUS_FAILED;
    return 0;
}

static void cloudapi_parse_status(struct cloudapi_ctx *c, json_object *s)
{
    struct net_event ev;
    const char *status = cloudapi_str(s, "status");
    json_object *err = cloudapi_at(s, "errors", 0);
    const struct cloudapi_error *e;
    char *text = NULL;

    memset(&ev, 0, sizeof(ev));
    ev.kind = NET_EVENT_STATUS;
    ev.account = c->account;
    ev.id = cloudapi_str(s, "id");
    ev.peer = cloudapi_str(s, "recipient_id");
    ev.timestamp = cloudapi_timestamp(s);
    ev.status = status ? cloudapi_status_value(status) : 0;
    if (ev.id == NULL || ev.status == 0) {
        log_warn("cloudapi: webhook status without id or known status");
        return;
    }
    if (err != NULL) {
        ev.error_code = cloudapi_int(err, "code");
        e = cloudapi_error_find(ev.error_code);
        text = xasprintf("%s (WhatsApp error %d)",
                         e ? e->text
                         : cloudapi_str(err, "title")
                             ? cloudapi_str(err, "title")
                             : "WhatsApp could not deliver this message",
                         ev.error_code);
        ev.error_text = text;
    }
    if (c->fn(&ev, c->arg) < 0)
        c->failed = 1;
    free(text);
}

static void cloudapi_parse_value(struct cloudapi_ctx *c, json_object *v)
{
    size_t i;
    json_object *err;

    c->account =
        cloudapi_str(json_strict_member(v, "metadata"), "phone_number_id");
    c->contacts = json_strict_member(v, "contacts");
    if (c->account == NULL) {
        log_warn("cloudapi: webhook change without metadata.phone_number_id");
        return;
    }
    for (i = 0; i < cloudapi_len(v, "messages"); i++)
        cloudapi_parse_message(c, cloudapi_at(v, "messages", i));
    for (i = 0; i < cloudapi_len(v, "statuses"); i++)
        cloudapi_parse_status(c, cloudapi_at(v, "statuses", i));
    for (i = 0; (err = cloudapi_at(v, "errors", i)) != NULL; i++)
        log_warn("cloudapi: error %d reported for %s: %s",
                 cloudapi_int(err, "code"), c->account,
                 cloudapi_str(err, "title") ? cloudapi_str(err, "title")
                                            : "no title");
}

static int cloudapi_webhook_parse(const char *body, size_t len, net_event_fn fn,
                                  void *arg)
{
    struct cloudapi_ctx c = {fn, arg, NULL, NULL, NULL, 0};
    json_object *root = json_strict_parse(body, len, CLOUDAPI_MAX_DEPTH);
    json_object *entry, *change;
    size_t i, j;

    if (root == NULL || !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return -1;
    }
    for (i = 0; (entry = cloudapi_at(root, "entry", i)) != NULL; i++) {
        c.business = cloudapi_template_business(cloudapi_str(entry, "id"));
        for (j = 0; (change = cloudapi_at(entry, "changes", j)) != NULL; j++) {
            const char *field = cloudapi_str(change, "field");

            if (field == NULL || strcmp(field, "messages") != 0)
                continue;
            cloudapi_parse_value(&c, json_strict_member(change, "value"));
        }
    }
    json_object_put(root);
    return c.failed ? -1 : 0;
}

const struct net_backend net_cloudapi_backend = {
    .name = "cloudapi",
    .max_text = CLOUDAPI_TEXT_MAX,
    .max_caption = CLOUDAPI_CAPTION_MAX,
    .caps =
        {
            .receipts = 1,
            .read_markers = 1,
            .typing = 1,
            .replies = 1,
            .reactions = 1,
            .edits_in = 1,
            .retractions_in = 1,
            .media = 1,
            .window = 86400,
            .uncaptioned = cloudapi_uncaptioned,
        },
    .configure = cloudapi_configure,
    .throughput = cloudapi_throughput,
    .login_form = &cloudapi_login_form,
    .login = cloudapi_login,
    .send = cloudapi_send,
    .webhook_get = cloudapi_webhook_get,
    .webhook_verify = cloudapi_webhook_verify,
    .webhook_parse = cloudapi_webhook_parse,
    .media_types = net_whatsapp_media_types,
    .media_types_text = "pictures (JPEG, PNG, up to 5 MB), videos (MP4, "
                        "3GP, 16 MB), audio (AAC, AMR, MP3, M4A, OGG, 16 MB), "
                        "documents (PDF, text, Word, Excel, PowerPoint, 100 "
                        "MB) and WebP stickers (500 KB)",
    .media_fetch = cloudapi_media_fetch,
    .media_upload = cloudapi_media_upload,
    .templates = cloudapi_templates,
};
