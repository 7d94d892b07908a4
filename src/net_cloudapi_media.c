/* SPDX-License-Identifier: MIT */
/* Cloud API media: fetching a received file (GET /{media-id} for a download
 * URL, then the download with the Bearer token, a size cap and one fresh
 * URL when the old one expired) and uploading a file for a send
 * (POST /{phone-number-id}/media, multipart). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "json_strict.h"
#include "log.h"
#include "loop.h"
#include "net_backend.h"
#include "net_cloudapi_int.h"
#include "util.h"

#define CLOUDAPI_MEDIA_TIMEOUT_MS (5 * 60 * 1000) /* 100 MB, slow link */
#define CLOUDAPI_INFO_TIMEOUT_MS 15000
#define CLOUDAPI_INFO_MAX (64 * 1024)
#define CLOUDAPI_UPLOAD_ANSWER_MAX (64 * 1024)
#define CLOUDAPI_URL_MAX 4096
#define CLOUDAPI_ORIGIN_MAX 300
/* Meta's documented media download host (webhook "url" fields). */
#define CLOUDAPI_MEDIA_HOST_ORIGIN "https://lookaside.fbsbx.com:443"

/* One media fetch: the info request, then one or two downloads. */
struct cloudapi_fetch {
    char *pnid, *token, *id, *path;
    long long max;
    int refreshed; /* a fresh download URL was asked for */
    char *mime;    /* from the media info, or NULL */
    net_result_fn cb;
    void *arg;
};

static void cloudapi_fetch_info(struct cloudapi_fetch *f);

/* Reports the outcome and frees f. */
static void cloudapi_fetch_end(struct cloudapi_fetch *f, enum net_outcome o,
                               const char *text, long long size, int too_big)
{
    struct net_result r;

    memset(&r, 0, sizeof(r));
    r.outcome = o;
    r.text = text;
    r.mime = f->mime;
    r.size = size;
    r.too_big = too_big;
    if (o != NET_OK)
        log_info("cloudapi: media %s not fetched: %s", f->id, text);
    f->cb(&r, f->arg);
    free(f->pnid);
    free(f->token);
    free(f->id);
    free(f->path);
    free(f->mime);
    free(f);
}

static int cloudapi_url_ok(const char *url)
{
    return url != NULL && strlen(url) <= CLOUDAPI_URL_MAX &&
           (strncmp(url, "https://", 8) == 0 ||
            strncmp(url, "http://", 7) == 0);
}

static void cloudapi_fetch_saved(struct cloudapi_fetch *f,
                                 const struct http_result *h)
{
    if (f->mime == NULL && h->content_type != NULL &&
        strlen(h->content_type) < 256)
        f->mime = xstrdup(h->content_type);
    cloudapi_fetch_end(f, NET_OK, NULL, (long long)h->len, 0);
}

/* The download finished: keep it, ask for a fresh URL once, or give up. */
static void cloudapi_fetch_downloaded(const struct http_result *h, void *arg)
{
    struct cloudapi_fetch *f = arg;
    char *text;

    if (!h->ok && h->too_big) {
        cloudapi_fetch_end(f, NET_FAIL, "the file is larger than allowed", 0,
                           1);
    } else if (!h->ok || h->status >= 500 || h->status == 429) {
        text = h->ok ? xasprintf("download answered HTTP %ld", h->status)
                     : xasprintf("download failed: %s", h->error);
        cloudapi_fetch_end(f, NET_RETRY, text, 0, 0);
        free(text);
    } else if (h->status >= 200 && h->status < 300) {
        cloudapi_fetch_saved(f, h);
    } else if (!f->refreshed) {
        /* 404: the URL expired (they last 5 minutes); 401/403 too */
        log_info("cloudapi: media %s: download URL answered HTTP %ld; "
                 "asking for a fresh one",
                 f->id, h->status);
        f->refreshed = 1;
        cloudapi_fetch_info(f);
    } else {
        text = xasprintf("WhatsApp no longer offers this file for download "
                         "(HTTP %ld)",
                         h->status);
        cloudapi_fetch_end(f, NET_FAIL, text, 0, 0);
        free(text);
    }
}

/* 1 when a download URL may get the account's token: it is on the Graph
 * host ferry is configured with, or on Meta's media host. */
int cloudapi_media_host_ok(const char *url)
{
    char want[CLOUDAPI_ORIGIN_MAX], got[CLOUDAPI_ORIGIN_MAX];

    if (http_url_origin(url, got, sizeof(got)) < 0)
        return 0;
    if (strcmp(got, CLOUDAPI_MEDIA_HOST_ORIGIN) == 0)
        return 1;
    return http_url_origin(cloudapi_graph_url(), want, sizeof(want)) == 0 &&
           strcmp(got, want) == 0;
}

static void cloudapi_fetch_download(struct cloudapi_fetch *f, const char *url)
{
    struct http_request req;

    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = url;
    /* the download needs the token, which goes to Meta's hosts only */
    req.bearer = cloudapi_media_host_ok(url) ? f->token : NULL;
    if (req.bearer == NULL)
        log_info("cloudapi: media %s: its URL is not on a Meta host; "
                 "fetched without the access token",
                 f->id);
    req.timeout_ms = CLOUDAPI_MEDIA_TIMEOUT_MS;
    req.max_response = (size_t)f->max;
    req.save_to = f->path;
    req.bulk = 1;
    http_start(&req, cloudapi_fetch_downloaded, f);
}

/* file_size, a string or a number; -1 when absent or malformed. */
static long long cloudapi_file_size(json_object *info)
{
    json_object *v = json_strict_member(info, "file_size");
    long long n;

    if (v != NULL && json_object_is_type(v, json_type_int))
        return json_object_get_int64(v);
    if (v != NULL && json_object_is_type(v, json_type_string) &&
        parse_ll(json_object_get_string(v), 0, 1LL << 50, &n) == 0)
        return n;
    return -1;
}

/* An error answer to GET /{media-id}: an unknown id means the file is
 * gone (WhatsApp keeps received files for 7 days). */
static void cloudapi_fetch_info_error(struct cloudapi_fetch *f,
                                      json_object *err, long status)
{
    struct net_result r;
    char *owned = NULL;

    memset(&r, 0, sizeof(r));
    cloudapi_classify_error(err, status, &r, &owned);
    if (r.code == 100 || r.code == 33)
        cloudapi_fetch_end(f, NET_FAIL,
                           "WhatsApp no longer has this file (it keeps "
                           "received files for 7 days)",
                           0, 0);
    else
        cloudapi_fetch_end(f, r.outcome, r.text, 0, 0);
    free(owned);
}

/* The media info: check the size, then download from its URL. */
static void cloudapi_fetch_info_done(const struct http_result *h, void *arg)
{
    struct cloudapi_fetch *f = arg;
    json_object *o =
        h->ok ? json_strict_parse(h->body, h->len, CLOUDAPI_MAX_DEPTH) : NULL;
    json_object *err = json_strict_member(o, "error");
    const char *url = cloudapi_str(o, "url");
    const char *mime = cloudapi_str(o, "mime_type");
    long long size = cloudapi_file_size(o);

    if (err != NULL) {
        cloudapi_fetch_info_error(f, err, h->status);
    } else if (!h->ok || h->status != 200 || !cloudapi_url_ok(url)) {
        cloudapi_fetch_end(f, NET_RETRY,
                           h->ok ? "WhatsApp's media info has no usable URL"
                                 : "WhatsApp API unreachable",
                           0, 0);
    } else if (size > f->max) {
        cloudapi_fetch_end(f, NET_FAIL, "the file is larger than allowed", size,
                           1);
    } else {
        if (mime != NULL && strlen(mime) < 256) {
            free(f->mime);
            f->mime = xstrdup(mime);
        }
        cloudapi_fetch_download(f, url);
    }
    json_object_put(o);
}

/* GET /{media-id}?phone_number_id=...: a fresh download URL. */
static void cloudapi_fetch_info(struct cloudapi_fetch *f)
{
    struct http_request req;
    char *url = xasprintf("%s/%s/%s?phone_number_id=%s", cloudapi_graph_url(),
                          cloudapi_api_version(), f->id, f->pnid);

    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = url;
    req.bearer = f->token;
    req.timeout_ms = CLOUDAPI_INFO_TIMEOUT_MS;
    req.max_response = CLOUDAPI_INFO_MAX;
    http_start(&req, cloudapi_fetch_info_done, f);
    free(url);
}

/* 1 when a media id is safe in a URL path (they are digits). */
static int cloudapi_media_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;

    return n > 0 && n <= 64 && strspn(id, "0123456789") == n;
}

/* A media id that cannot be one ends the fetch (from the loop). */
static void cloudapi_fetch_bad_id(void *arg)
{
    cloudapi_fetch_end(arg, NET_FAIL, "WhatsApp sent a malformed media id", 0,
                       0);
}

void cloudapi_media_fetch(const struct net_account *a, const char *id,
                          const char *url, const char *path, long long max,
                          net_result_fn cb, void *arg)
{
    struct cloudapi_fetch *f = xcalloc(1, sizeof(*f));

    f->pnid = xstrdup(a->id);
    f->token = xstrdup(a->token);
    f->id = xstrdup(id ? id : "");
    f->path = xstrdup(path);
    f->max = max;
    f->cb = cb;
    f->arg = arg;
    if (!cloudapi_media_id_ok(id))
        loop_defer(cloudapi_fetch_bad_id, f);
    else if (cloudapi_url_ok(url))
        cloudapi_fetch_download(f, url);
    else
        cloudapi_fetch_info(f);
}

void cloudapi_media_upload(const struct net_account *a, const char *path,
                           const char *mime, const char *filename,
                           net_result_fn cb, void *arg)
{
    struct cloudapi_call *call = cloudapi_call_new(cb, arg);
    struct http_form_part form[3];
    struct http_request req;
    char *url = xasprintf("%s/%s/%s/media", cloudapi_graph_url(),
                          cloudapi_api_version(), a->id);

    memset(form, 0, sizeof(form));
    form[0].name = "messaging_product";
    form[0].value = "whatsapp";
    form[1].name = "type";
    form[1].value = mime;
    form[2].name = "file";
    form[2].file = path;
    form[2].type = mime;
    form[2].filename = filename;
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = url;
    req.bearer = a->token;
    req.form = form;
    req.nform = 3;
    req.timeout_ms = CLOUDAPI_MEDIA_TIMEOUT_MS;
    req.max_response = CLOUDAPI_UPLOAD_ANSWER_MAX;
    req.bulk = 1;
    call->is_upload = 1;
    http_start(&req, cloudapi_done, call);
    free(url);
}
