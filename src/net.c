/* SPDX-License-Identifier: MIT */
/* The table of network back ends, found by name from the config. */
#include <string.h>

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
