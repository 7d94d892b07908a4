/* SPDX-License-Identifier: MIT */
/* Lookups in a back end's table: its required slots, its capabilities and
 * its table of file types. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "net_backend.h"

#define NET_MB (1024LL * 1024)

/* What WhatsApp takes and passes on, by A.5 of the reference (uploads are
 * checked against it, received files capped by it). */
const struct net_media_type net_whatsapp_media_types[] = {
    {"image/jpeg", "image", 5 * NET_MB},
    {"image/png", "image", 5 * NET_MB},
    {"image/webp", "sticker", 500 * 1024},
    {"video/mp4", "video", 16 * NET_MB},
    {"video/3gpp", "video", 16 * NET_MB},
    {"audio/aac", "audio", 16 * NET_MB},
    {"audio/amr", "audio", 16 * NET_MB},
    {"audio/mpeg", "audio", 16 * NET_MB},
    {"audio/mp4", "audio", 16 * NET_MB},
    {"audio/ogg", "audio", 16 * NET_MB},
    {"text/plain", "document", 100 * NET_MB},
    {"application/pdf", "document", 100 * NET_MB},
    {"application/msword", "document", 100 * NET_MB},
    {"application/vnd.ms-excel", "document", 100 * NET_MB},
    {"application/vnd.ms-powerpoint", "document", 100 * NET_MB},
    {"application/vnd.openxmlformats-officedocument.wordprocessingml."
     "document",
     "document", 100 * NET_MB},
    {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
     "document", 100 * NET_MB},
    {"application/vnd.openxmlformats-officedocument.presentationml."
     "presentation",
     "document", 100 * NET_MB},
    {NULL, NULL, 0},
};

const char *net_backend_missing(const struct net_backend *be)
{
    const struct {
        int set;
        const char *slot;
    } req[] = {
        {be->configure != NULL, "configure"},
        {be->throughput != NULL, "throughput"},
        {be->login_form != NULL, "login_form"},
        {be->login != NULL, "login"},
        {be->send != NULL, "send"},
        {be->webhook_get != NULL, "webhook_get"},
        {be->webhook_verify != NULL, "webhook_verify"},
        {be->webhook_parse != NULL, "webhook_parse"},
        {!be->caps.media || be->media_types != NULL, "media_types"},
        {!be->caps.media || be->media_fetch != NULL, "media_fetch"},
        {!be->caps.media || be->media_upload != NULL, "media_upload"},
        {!be->login_form || !be->login_form->async || be->login_step != NULL,
         "login_step"},
        {!be->login_form || !be->login_form->async || be->relogin != NULL,
         "relogin"},
    };
    size_t i;

    for (i = 0; i < sizeof(req) / sizeof(req[0]); i++)
        if (!req[i].set)
            return req[i].slot;
    return NULL;
}

int net_caption_shown(const struct net_backend *be, const char *kind)
{
    const char *const *k;

    for (k = be->caps.uncaptioned; k != NULL && *k != NULL; k++)
        if (strcmp(*k, kind) == 0)
            return 0;
    return 1;
}

/* 1 when mime, up to its parameters, is want (case-insensitive). */
static int net_mime_is(const char *mime, const char *want)
{
    size_t n = strcspn(mime, ";");

    while (n > 0 && isspace((unsigned char)mime[n - 1]))
        n--;
    return strlen(want) == n && strncasecmp(mime, want, n) == 0;
}

const struct net_media_type *net_media_type_find(const struct net_backend *be,
                                                 const char *mime)
{
    const struct net_media_type *t;

    if (mime == NULL || be->media_types == NULL)
        return NULL;
    for (t = be->media_types; t->mime != NULL; t++)
        if (net_mime_is(mime, t->mime))
            return t;
    return NULL;
}

long long net_media_limit(const struct net_backend *be, const char *kind,
                          const char *mime)
{
    const struct net_media_type *t = net_media_type_find(be, mime);
    long long max = 0;

    if (t != NULL)
        return t->max;
    if (kind != NULL && strcmp(kind, "voice") == 0)
        kind = "audio";
    for (t = be->media_types; t != NULL && t->mime != NULL; t++)
        if (kind != NULL && strcmp(t->kind, kind) == 0 && t->max > max)
            max = t->max;
    return max;
}
