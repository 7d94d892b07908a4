/* SPDX-License-Identifier: MIT */
/* The table of network back ends, found by name from the config and checked
 * for their required slots, and lookups in their capabilities and tables of
 * file types. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "log.h"
#include "net.h"
#include "net_cloudapi.h"

static const struct net_backend *const net_backends[] = {
    &net_cloudapi_backend,
};

#define NET_NBACKENDS (sizeof(net_backends) / sizeof(net_backends[0]))

int net_configure(const struct conf *conf)
{
    size_t i;
    int rc = 0;

    for (i = 0; i < NET_NBACKENDS; i++)
        if (net_backends[i]->configure(conf) < 0)
            rc = -1;
    return rc;
}

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
    };
    size_t i;

    for (i = 0; i < sizeof(req) / sizeof(req[0]); i++)
        if (!req[i].set)
            return req[i].slot;
    return NULL;
}

const struct net_backend *net_backend_find(const char *name)
{
    const char *missing;
    size_t i;

    for (i = 0; name != NULL && i < NET_NBACKENDS; i++) {
        if (strcmp(net_backends[i]->name, name) != 0)
            continue;
        missing = net_backend_missing(net_backends[i]);
        if (missing == NULL)
            return net_backends[i];
        log_error("net: back end '%s' has no %s", name, missing);
        return NULL;
    }
    log_error("net: network.backend '%s' is not available in this build",
              name ? name : "");
    return NULL;
}

const struct net_backend *net_open(const struct conf *conf)
{
    const struct net_backend *be = net_backend_find(conf->network_backend);

    if (be == NULL || net_configure(conf) < 0)
        return NULL;
    return be;
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
