/* SPDX-License-Identifier: MIT */
/* The list of network back ends, found by name from the config, checked
 * for their required slots and configured. */
#include <string.h>

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
