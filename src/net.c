/* SPDX-License-Identifier: MIT */
/* The table of network back ends, found by name from the config, and
 * lookups in their tables of file types. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "net.h"

static const struct net_backend *const net_backends[] = {
    &net_cloudapi_backend,
};

void net_configure(const struct conf *conf)
{
    net_cloudapi_configure(conf);
}

const struct net_backend *net_backend_find(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(net_backends) / sizeof(net_backends[0]); i++)
        if (strcmp(net_backends[i]->name, name) == 0)
            return net_backends[i];
    return NULL;
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
