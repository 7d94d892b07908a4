/* SPDX-License-Identifier: MIT */
/* Attachments. Downloads go to temporary files in a media directory next
 * to the store (mode 0700, files 0600). A file is then either handed to the
 * XMPP server's XEP-0363 upload service (a slot requested as a JID of the
 * component, the bytes PUT with the slot's headers) or served by ferry at
 * http.public_url/media/<64 hex token>/<name> until media.expiry; expired
 * files are deleted by a sweep. The disk work (unlinks, and the flush and
 * rename of a file to serve before its row) is done by a thread of its
 * own (media_disk.c). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/rand.h>
#include <strophe.h>

#include "component.h"
#include "conf.h"
#include "http.h"
#include "httpd.h"
#include "log.h"
#include "loop.h"
#include "media.h"
#include "media_disk.h"
#include "store.h"
#include "util.h"

#define MEDIA_NS_UPLOAD "urn:xmpp:http:upload:0"
#define MEDIA_TIMEOUT_MS (5 * 60 * 1000) /* a large file on a slow link */
#define MEDIA_ANSWER_MAX (64 * 1024)     /* body of a PUT's answer */
#define MEDIA_SWEEP_MAX_S 3600
#define MEDIA_SWEEP_BATCH 256
#define MEDIA_HOSTS 8      /* upload hosts learned from slots */
#define MEDIA_HOST_MAX 256 /* bytes of a host[:port] */
#define MEDIA_SLOT_HEADERS 3

static struct {
    struct store *st;
    char *dir;
    char *public_url; /* without a trailing slash */
    char *upload_service;
    char *trusted_hosts; /* media.trusted_hosts */
    long long max_size;
    long long expiry;
    struct event *sweep;
    char hosts[MEDIA_HOSTS][MEDIA_HOST_MAX];
    int nhosts;
} media;

/* MIME types ferry names and serves; the first extension of a type is the
 * one it gives files. */
static const struct {
    const char *ext;
    const char *mime;
} media_types[] = {
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"png", "image/png"},
    {"webp", "image/webp"},
    {"gif", "image/gif"},
    {"mp4", "video/mp4"},
    {"3gp", "video/3gpp"},
    {"mov", "video/quicktime"},
    {"webm", "video/webm"},
    {"ogg", "audio/ogg"},
    {"opus", "audio/ogg"},
    {"oga", "audio/ogg"},
    {"mp3", "audio/mpeg"},
    {"m4a", "audio/mp4"},
    {"aac", "audio/aac"},
    {"amr", "audio/amr"},
    {"pdf", "application/pdf"},
    {"txt", "text/plain"},
    {"doc", "application/msword"},
    {"xls", "application/vnd.ms-excel"},
    {"ppt", "application/vnd.ms-powerpoint"},
    {"docx", "application/"
             "vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"xlsx", "application/"
             "vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"pptx", "application/"
             "vnd.openxmlformats-officedocument.presentationml.presentation"},
    {"zip", "application/zip"},
    {"vcf", "text/vcard"},
};

#define MEDIA_NTYPES (sizeof(media_types) / sizeof(media_types[0]))

/* ---- pure helpers ---- */

/* 1 when mime, up to its parameters, is want (case-insensitive). */
static int media_mime_is(const char *mime, const char *want)
{
    size_t n = strcspn(mime, ";");

    while (n > 0 && isspace((unsigned char)mime[n - 1]))
        n--;
    return strlen(want) == n && strncasecmp(mime, want, n) == 0;
}

const char *media_mime_canonical(const char *mime)
{
    size_t i;

    for (i = 0; mime != NULL && i < MEDIA_NTYPES; i++)
        if (media_mime_is(mime, media_types[i].mime))
            return media_types[i].mime;
    return "application/octet-stream";
}

/* The extension ferry gives files of mime; "bin" when unknown. */
static const char *media_ext_for_mime(const char *mime)
{
    size_t i;

    for (i = 0; mime != NULL && i < MEDIA_NTYPES; i++)
        if (media_mime_is(mime, media_types[i].mime))
            return media_types[i].ext;
    return "bin";
}

const char *media_mime_for_name(const char *name)
{
    const char *dot, *end;
    size_t i, n;

    if (name == NULL)
        return NULL;
    end = name + strcspn(name, "?#");
    for (dot = end; dot > name && dot[-1] != '.' && dot[-1] != '/'; dot--)
        ;
    if (dot == name || dot[-1] != '.')
        return NULL;
    n = (size_t)(end - dot);
    for (i = 0; i < MEDIA_NTYPES; i++)
        if (strlen(media_types[i].ext) == n &&
            strncasecmp(dot, media_types[i].ext, n) == 0)
            return media_types[i].mime;
    return NULL;
}

/* Copies name keeping letters, digits, '.', '-' and '_' (others become
 * '_'), at most MEDIA_NAME_MAX bytes, keeping the extension. */
static char *media_clean_name(const char *name)
{
    size_t n = strlen(name), i, j = 0, ext = 0;
    const char *dot = strrchr(name, '.');
    char *out = xmalloc(MEDIA_NAME_MAX + 1);

    if (dot != NULL && strlen(dot) <= 8)
        ext = strlen(dot);
    for (i = 0; i < n && j < MEDIA_NAME_MAX - ext; i++) {
        unsigned char c = (unsigned char)name[i];

        if (&name[i] == dot && ext > 0)
            break;
        out[j++] =
            isalnum(c) || c == '-' || c == '_' || c == '.' ? (char)c : '_';
    }
    for (i = 0; i < ext; i++) {
        unsigned char c = (unsigned char)dot[i];

        out[j++] = isalnum(c) || c == '.' ? (char)c : '_';
    }
    out[j] = '\0';
    if (out[0] == '.')
        out[0] = '_';
    return out;
}

char *media_file_name(const char *name, const char *kind, const char *mime)
{
    char *clean = name && name[0] ? media_clean_name(name) : NULL;
    char *out;

    if (clean != NULL && clean[0] != '\0' && strchr(clean, '.') != NULL)
        return clean;
    out = xasprintf("%s.%s",
                    clean && clean[0]                    ? clean
                    : kind && strcmp(kind, "voice") == 0 ? "voice-message"
                    : kind                               ? kind
                                                         : "file",
                    media_ext_for_mime(mime));
    free(clean);
    return out;
}

char *media_disposition(const char *kind, const char *name)
{
    int inl = kind != NULL &&
              (strcmp(kind, "image") == 0 || strcmp(kind, "video") == 0 ||
               strcmp(kind, "audio") == 0 || strcmp(kind, "voice") == 0 ||
               strcmp(kind, "sticker") == 0);
    char *ascii = media_file_name(name, kind, NULL);
    struct buf b;
    size_t i;

    buf_init(&b, 4 * MEDIA_ORIG_NAME_MAX + 256);
    buf_appendf(&b, "%s; filename=\"%s\"", inl ? "inline" : "attachment",
                ascii);
    if (name != NULL && name[0] != '\0' &&
        strlen(name) <= MEDIA_ORIG_NAME_MAX && utf8_valid(name, strlen(name))) {
        buf_appendf(&b, "; filename*=UTF-8''");
        for (i = 0; name[i] != '\0'; i++) {
            unsigned char c = (unsigned char)name[i];

            if (isalnum(c) || strchr("!#$&+-.^_`|~", c) != NULL)
                buf_appendf(&b, "%c", c);
            else
                buf_appendf(&b, "%%%02X", c);
        }
    }
    free(ascii);
    return buf_take(&b);
}

int media_url_host(const char *url, char *host, size_t len)
{
    const char *p, *end, *at;
    size_t n, i;

    if (strncasecmp(url, "https://", 8) == 0)
        p = url + 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        p = url + 7;
    else
        return -1;
    end = p + strcspn(p, "/?#");
    for (at = end; at > p && at[-1] != '@'; at--)
        ;
    if (at > p)
        p = at;
    n = (size_t)(end - p);
    if (n == 0 || n >= len)
        return -1;
    for (i = 0; i < n; i++)
        host[i] = (char)tolower((unsigned char)p[i]);
    host[n] = '\0';
    return 0;
}

int media_token_ok(const char *s, size_t n)
{
    size_t i;

    if (n != MEDIA_TOKEN_LEN)
        return 0;
    for (i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
            return 0;
    return 1;
}

/* ---- files ---- */

/* n random bytes as lower-case hex. Caller frees. */
static char *media_random_hex(size_t n)
{
    unsigned char raw[MEDIA_TOKEN_LEN / 2];
    char *s = xmalloc(2 * n + 1);

    if (n > sizeof(raw) || RAND_bytes(raw, (int)n) != 1)
        fatal("media: no random bytes for a token");
    util_hex(raw, n, s);
    return s;
}

long long media_max_size(void)
{
    return media.max_size;
}

char *media_temp_path(void)
{
    char *r = media_random_hex(8);
    char *p = xasprintf("%s/tmp-%s", media.dir, r);

    free(r);
    return p;
}

void media_discard(const char *path)
{
    media_disk_delete(path);
}

/* ---- downloads ---- */

struct media_fetch {
    char *url;
    char *path;
    media_download_fn cb;
    void *arg;
};

/* The file name at the end of a URL's path, if it has an extension. */
static char *media_url_name(const char *url)
{
    const char *end = url + strcspn(url, "?#"), *p = end;

    while (p > url && p[-1] != '/')
        p--;
    if (p == end || memchr(p, '.', (size_t)(end - p)) == NULL)
        return NULL;
    return xstrndup(p, (size_t)(end - p));
}

static void media_downloaded(const struct http_result *h, void *arg)
{
    struct media_fetch *f = arg;
    struct media_download d;
    char *name = media_url_name(f->url);

    memset(&d, 0, sizeof(d));
    d.ok = h->ok && h->status >= 200 && h->status < 300;
    d.status = h->ok ? h->status : 0;
    d.too_big = h->too_big;
    d.refused = h->refused;
    d.timed_out = h->timed_out;
    d.size = (long long)h->len;
    d.name = name;
    d.mime = h->ok ? h->content_type : NULL;
    if (d.mime == NULL || media_mime_is(d.mime, "application/octet-stream") ||
        strlen(d.mime) > 255)
        d.mime = media_mime_for_name(name);
    d.error = h->ok ? "the server did not give the file" : h->error;
    if (d.ok)
        d.path = f->path;
    else
        media_discard(f->path);
    f->cb(&d, f->arg);
    free(name);
    free(f->url);
    free(f->path);
    free(f);
}

/* 1 when the URL's host (without port) is in media.trusted_hosts. */
static int media_url_trusted(const char *url)
{
    char host[MEDIA_HOST_MAX];
    size_t n;

    if (media.trusted_hosts == NULL || media.trusted_hosts[0] == '\0' ||
        media_url_host(url, host, sizeof(host)) < 0)
        return 0;
    n = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":");
    host[n < sizeof(host) ? n : sizeof(host) - 1] = '\0';
    return conf_list_has(media.trusted_hosts, host);
}

void media_download(const char *url, long long max, media_download_fn cb,
                    void *arg)
{
    struct media_fetch *f = xcalloc(1, sizeof(*f));
    struct http_request req;

    f->url = xstrdup(url);
    f->path = media_temp_path();
    f->cb = cb;
    f->arg = arg;
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = url;
    req.timeout_ms = MEDIA_TIMEOUT_MS;
    req.max_response = (size_t)max;
    req.save_to = f->path;
    req.bulk = 1;
    /* a URL a user gave may only reach the upload service or the
     * internet, never ferry's own network */
    req.public_only = !media_is_upload_url(url) && !media_url_trusted(url);
    http_start(&req, media_downloaded, f);
}

/* ---- publishing ---- */

/* One file on its way to the user. */
struct media_pub {
    char *path, *kind, *mime, *name, *uploader;
    long long size;
    media_publish_fn cb;
    void *arg;
    char *token, *final; /* served by ferry: the file's token and path */
    char *url;           /* the result */
    char *error;
    int retry;
    char *headers[MEDIA_SLOT_HEADERS + 1]; /* "Name: value" for the PUT */
};

static void media_pub_free(struct media_pub *p)
{
    int i;

    for (i = 0; p->headers[i] != NULL; i++)
        free(p->headers[i]);
    free(p->path);
    free(p->kind);
    free(p->mime);
    free(p->name);
    free(p->uploader);
    free(p->token);
    free(p->final);
    free(p->url);
    free(p->error);
    free(p);
}

/* Reports the outcome (from the loop) and frees p; the file is gone. */
static void media_pub_report(void *arg)
{
    struct media_pub *p = arg;

    media_discard(p->path);
    p->cb(p->url, p->url ? NULL : p->error, p->retry, p->arg);
    media_pub_free(p);
}

static void media_pub_end(struct media_pub *p, const char *url,
                          const char *error, int retry)
{
    char *u = url ? xstrdup(url) : NULL;

    free(p->url);
    p->url = u;
    p->error = error ? xstrdup(error) : NULL;
    p->retry = retry;
    loop_defer(media_pub_report, p);
}

/* p's file is on disk under its token (err 0): its row, then its URL. */
static void media_kept(int err, void *arg)
{
    struct media_pub *p = arg;
    struct store_media_file row;
    char *name, *url;

    if (err == 0) {
        free(p->path); /* renamed */
        p->path = NULL;
    }
    row.token = p->token;
    row.kind = p->kind;
    row.mime = (char *)media_mime_canonical(p->mime);
    row.filename = p->name;
    row.size = p->size;
    row.expires = now_s() + media.expiry;
    if (err != 0 || store_media_add(media.st, &row) < 0) {
        if (err != ECANCELED)
            log_error("media: cannot keep a file to serve: %s",
                      err ? strerror(err) : "the store failed");
        media_discard(p->final);
        media_pub_end(p, NULL,
                      err == ECANCELED ? "ferry is shutting down"
                                       : "the gateway could not store the file",
                      1);
        return;
    }
    name = media_file_name(p->name, p->kind, p->mime);
    url = xasprintf("%s/media/%s/%s", media.public_url, p->token, name);
    log_debug("media: serving a %s of %lld bytes until %lld", p->kind, p->size,
              row.expires);
    media_pub_end(p, url, NULL, 0);
    free(url);
    free(name);
}

/* Serves p's file from the media directory under a new token, once the
 * disk thread has made it durable there. */
static void media_serve(struct media_pub *p)
{
    p->token = media_random_hex(MEDIA_TOKEN_LEN / 2);
    p->final = xasprintf("%s/%s", media.dir, p->token);
    media_disk_keep(p->path, p->final, media_kept, p);
}

/* Remembers the host of the upload service's URLs. */
static void media_learn_host(const char *url)
{
    char host[MEDIA_HOST_MAX];
    int i;

    if (media_url_host(url, host, sizeof(host)) < 0)
        return;
    for (i = 0; i < media.nhosts; i++)
        if (strcmp(media.hosts[i], host) == 0)
            return;
    i = media.nhosts < MEDIA_HOSTS ? media.nhosts++ : MEDIA_HOSTS - 1;
    memcpy(media.hosts[i], host, strlen(host) + 1);
}

/* The PUT finished: the GET URL is the link, else ferry serves it. */
static void media_put_done(const struct http_result *h, void *arg)
{
    struct media_pub *p = arg;

    if (h->ok && h->status >= 200 && h->status < 300) {
        media_learn_host(p->url);
        log_debug("media: a %s of %lld bytes went to %s", p->kind, p->size,
                  media.upload_service);
        media_pub_end(p, p->url, NULL, 0);
        return;
    }
    log_warn("media: upload to %s failed (%s %ld); serving the file from "
             "ferry instead",
             media.upload_service, h->ok ? "HTTP" : h->error,
             h->ok ? h->status : 0L);
    free(p->url);
    p->url = NULL;
    media_serve(p);
}

/* 1 when url is an http(s) URL ferry may use. */
static int media_url_ok(const char *url)
{
    char host[MEDIA_HOST_MAX];
    size_t i, n = url ? strlen(url) : 0;

    if (n == 0 || n > MEDIA_URL_MAX ||
        media_url_host(url, host, sizeof(host)) < 0)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f)
            return 0;
    return 1;
}

/* Keeps the slot's PUT headers that XEP-0363 allows, without CR or LF. */
static void media_slot_headers(struct media_pub *p, xmpp_stanza_t *put)
{
    xmpp_stanza_t *h;
    const char *name;
    char *value;
    int n = 0;

    for (h = xmpp_stanza_get_children(put); h != NULL && n < MEDIA_SLOT_HEADERS;
         h = xmpp_stanza_get_next(h)) {
        name = xmpp_stanza_get_attribute(h, "name");
        if (xmpp_stanza_get_name(h) == NULL ||
            strcmp(xmpp_stanza_get_name(h), "header") != 0 || name == NULL ||
            (strcasecmp(name, "Authorization") != 0 &&
             strcasecmp(name, "Cookie") != 0 &&
             strcasecmp(name, "Expires") != 0))
            continue;
        value = xmpp_stanza_get_text(h);
        if (value != NULL && strpbrk(value, "\r\n") == NULL &&
            strlen(value) < MEDIA_URL_MAX)
            p->headers[n++] = xasprintf("%s: %s", name, value);
        if (value != NULL)
            xmpp_free(component_ctx(), value);
    }
}

static void media_put(struct media_pub *p, const char *put_url)
{
    struct http_request req;

    memset(&req, 0, sizeof(req));
    req.method = "PUT";
    req.url = put_url;
    req.content_type = media_mime_canonical(p->mime);
    req.headers = (const char *const *)p->headers;
    req.upload_file = p->path;
    req.timeout_ms = MEDIA_TIMEOUT_MS;
    req.bulk = 1;
    req.max_response = MEDIA_ANSWER_MAX;
    http_start(&req, media_put_done, p);
}

/* Why the service refused a slot, in words; *retry when it may pass. */
static const char *media_slot_error(xmpp_stanza_t *reply, int *retry)
{
    xmpp_stanza_t *err = xmpp_stanza_get_child_by_name(reply, "error");
    const char *type = err ? xmpp_stanza_get_type(err) : NULL;
    xmpp_stanza_t *cond = err ? xmpp_stanza_get_children(err) : NULL;

    *retry = type != NULL && strcmp(type, "wait") == 0;
    if (cond != NULL && xmpp_stanza_get_name(cond) != NULL)
        return xmpp_stanza_get_name(cond);
    return "no reason given";
}

/* The upload service answered the slot request. */
static void media_slot_reply(xmpp_stanza_t *reply, void *arg)
{
    struct media_pub *p = arg;
    xmpp_stanza_t *slot, *put, *get;
    const char *type, *why, *put_url, *get_url;
    int retry = 1;

    if (reply == NULL) {
        media_pub_end(p, NULL, "the XMPP server went away", 1);
        return;
    }
    type = xmpp_stanza_get_type(reply);
    slot = xmpp_stanza_get_child_by_ns(reply, MEDIA_NS_UPLOAD);
    put = slot ? xmpp_stanza_get_child_by_name(slot, "put") : NULL;
    get = slot ? xmpp_stanza_get_child_by_name(slot, "get") : NULL;
    put_url = put ? xmpp_stanza_get_attribute(put, "url") : NULL;
    get_url = get ? xmpp_stanza_get_attribute(get, "url") : NULL;
    if (type != NULL && strcmp(type, "result") == 0 && media_url_ok(put_url) &&
        media_url_ok(get_url)) {
        p->url = xstrdup(get_url);
        media_slot_headers(p, put);
        media_put(p, put_url);
        return;
    }
    why = type && strcmp(type, "error") == 0 ? media_slot_error(reply, &retry)
                                             : "malformed slot";
    if (retry) {
        media_pub_end(p, NULL, "the upload service is busy", 1);
        return;
    }
    log_warn("media: %s refused an upload slot (%s); serving the file from "
             "ferry instead",
             media.upload_service, why);
    media_serve(p);
}

/* Asks the upload service for a slot for p's file. */
static void media_slot_request(struct media_pub *p)
{
    xmpp_ctx_t *ctx = component_ctx();
    xmpp_stanza_t *iq = xmpp_iq_new(ctx, "get", NULL);
    xmpp_stanza_t *req = xmpp_stanza_new(ctx);
    char *name = media_file_name(p->name, p->kind, p->mime);
    char *size = xasprintf("%lld", p->size);

    xmpp_stanza_set_name(req, "request");
    xmpp_stanza_set_ns(req, MEDIA_NS_UPLOAD);
    xmpp_stanza_set_attribute(req, "filename", name);
    xmpp_stanza_set_attribute(req, "size", size);
    xmpp_stanza_set_attribute(req, "content-type",
                              media_mime_canonical(p->mime));
    xmpp_stanza_add_child_ex(iq, req, 0);
    xmpp_stanza_set_to(iq, media.upload_service);
    xmpp_stanza_set_from(iq, p->uploader);
    component_send_iq(iq, media_slot_reply, p);
    xmpp_stanza_release(iq);
    free(size);
    free(name);
}

void media_publish(const struct media_file *f, const char *uploader,
                   media_publish_fn cb, void *arg)
{
    struct media_pub *p = xcalloc(1, sizeof(*p));
    struct stat sb;

    p->path = xstrdup(f->path);
    p->kind = xstrdup(f->kind ? f->kind : "document");
    p->mime = f->mime ? xstrdup(f->mime) : NULL;
    p->name = f->name && strlen(f->name) <= MEDIA_ORIG_NAME_MAX &&
                      utf8_valid(f->name, strlen(f->name))
                  ? xstrdup(f->name)
                  : NULL;
    p->uploader = uploader ? xstrdup(uploader) : NULL;
    p->cb = cb;
    p->arg = arg;
    if (stat(p->path, &sb) < 0) {
        media_pub_end(p, NULL, "the downloaded file is missing", 1);
        return;
    }
    p->size = (long long)sb.st_size;
    if (media.upload_service[0] == '\0' || uploader == NULL)
        media_serve(p);
    else if (!component_connected())
        media_pub_end(p, NULL, "the XMPP server is not connected", 1);
    else
        media_slot_request(p);
}

int media_is_upload_url(const char *s)
{
    char host[MEDIA_HOST_MAX];
    size_t n;
    int i;

    if (s == NULL || !media_url_ok(s) ||
        media_url_host(s, host, sizeof(host)) < 0)
        return 0;
    n = strcspn(host, ":");
    if (media.upload_service[0] != '\0' && strlen(media.upload_service) == n &&
        strncmp(host, media.upload_service, n) == 0)
        return 1;
    for (i = 0; i < media.nhosts; i++)
        if (strcmp(media.hosts[i], host) == 0)
            return 1;
    return 0;
}

/* ---- serving ---- */

/* GET /media/<token>[/<name>]: the file with its type and name. */
static void media_route(const struct httpd_request *req,
                        struct httpd_response *res, void *arg)
{
    const char *token = req->path + strlen("/media/");
    size_t n = strcspn(token, "/");
    struct store_media_file *f = NULL;

    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        httpd_respond(res, 405, "text/plain", "method not allowed\n");
        return;
    }
    if (media_token_ok(token, n)) {
        char *t = xstrndup(token, n);

        f = store_media_get(media.st, t);
        free(t);
    }
    if (f == NULL || f->expires <= now_s()) {
        httpd_respond(res, 404, "text/plain", "not found (or expired)\n");
    } else {
        res->status = 200;
        res->content_type = media_mime_canonical(f->mime);
        res->file = xasprintf("%s/%s", media.dir, f->token);
        res->disposition = media_disposition(f->kind, f->filename);
    }
    store_media_file_free(f);
}

/* ---- expiry and clean-up ---- */

static void media_unlink_token(const char *token, void *arg)
{
    char *path;

    if (!media_token_ok(token, strlen(token)))
        return;
    path = xasprintf("%s/%s", media.dir, token);
    media_discard(path);
    free(path);
}

static long long media_sweep_ms(void)
{
    long long s =
        media.expiry < MEDIA_SWEEP_MAX_S ? media.expiry : MEDIA_SWEEP_MAX_S;

    return (s > 0 ? s : 1) * 1000;
}

/* Deletes expired files and their rows. */
static void media_on_sweep(evutil_socket_t fd, short what, void *arg)
{
    int n;

    do {
        n = store_media_expire(media.st, now_s(), MEDIA_SWEEP_BATCH,
                               media_unlink_token, NULL);
        if (n > 0)
            log_debug("media: %d expired file(s) deleted", n);
    } while (n == MEDIA_SWEEP_BATCH);
    loop_timer_start(media.sweep, media_sweep_ms());
}

/* Deletes what a crash left: downloads in progress and served files
 * whose row was never committed. */
static void media_clean_dir(void)
{
    DIR *d = opendir(media.dir);
    struct dirent *e;
    struct store_media_file *f;
    char *path;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        int temp = strncmp(e->d_name, "tmp-", 4) == 0;
        int token = media_token_ok(e->d_name, strlen(e->d_name));

        f = token ? store_media_get(media.st, e->d_name) : NULL;
        if ((temp || token) && f == NULL) {
            path = xasprintf("%s/%s", media.dir, e->d_name);
            media_discard(path);
            free(path);
        }
        store_media_file_free(f);
    }
    closedir(d);
}

/* The media directory: next to the store file. */
static char *media_dir_for(const char *store_path)
{
    const char *slash = strrchr(store_path, '/');

    if (slash == NULL)
        return xstrdup("media");
    if (slash == store_path)
        return xstrdup("/media");
    return xasprintf("%.*s/media", (int)(slash - store_path), store_path);
}

void media_reconfigure(const struct conf *conf)
{
    size_t n = strlen(conf->http_public_url);

    while (n > 0 && conf->http_public_url[n - 1] == '/')
        n--;
    free(media.public_url);
    free(media.upload_service);
    free(media.trusted_hosts);
    media.trusted_hosts = xstrdup(conf->media_trusted_hosts);
    media.public_url = xstrndup(conf->http_public_url, n);
    media.upload_service = xstrdup(conf->media_upload_service);
    media.max_size = conf->media_max_size;
    media.expiry = conf->media_expiry;
    if (media.sweep != NULL)
        loop_timer_start(media.sweep, media_sweep_ms());
}

int media_init(const struct conf *conf, struct store *st)
{
    media.st = st;
    media.dir = media_dir_for(conf->store_path);
    if ((mkdir(media.dir, 0700) < 0 && errno != EEXIST) ||
        chmod(media.dir, 0700) < 0) {
        log_error("media: cannot create %s: %s", media.dir, strerror(errno));
        return -1;
    }
    media_reconfigure(conf);
    media_clean_dir();
    media_disk_start();
    media.sweep = event_new(loop_base(), -1, 0, media_on_sweep, NULL);
    loop_timer_start(media.sweep, 0);
    httpd_route("/media/", media_route, NULL, 0);
    return 0;
}

void media_free(void)
{
    media_disk_stop();
    if (media.sweep != NULL)
        event_free(media.sweep);
    media.sweep = NULL;
    free(media.dir);
    free(media.public_url);
    free(media.upload_service);
    free(media.trusted_hosts);
    media.trusted_hosts = NULL;
    media.dir = media.public_url = media.upload_service = NULL;
    media.nhosts = 0;
}
