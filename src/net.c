/* SPDX-License-Identifier: MIT */
/* The list of network back ends, found by name from the config, checked
 * for their required slots and configured. */
#include <string.h>

#include "conf.h"
#include "log.h"
#include "net.h"
#include "net_cloudapi.h"
#include "net_waha.h"

static const struct net_backend *const net_backends[] = {
    &net_cloudapi_backend,
    &net_waha_backend,
};

#define NET_NBACKENDS (sizeof(net_backends) / sizeof(net_backends[0]))
#define NET_NAME_MAX 32

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
    log_error("net: network back end '%s' is not available in this build",
              name ? name : "");
    return NULL;
}

const struct net_backend *net_set_find(const struct net_set *set,
                                       const char *name)
{
    int i;

    if (set->n == 0)
        return NULL;
    if (name == NULL)
        return set->be[0];
    for (i = 0; i < set->n; i++)
        if (strcmp(set->be[i]->name, name) == 0)
            return set->be[i];
    return NULL;
}

/* Adds the back end named p[0..n) to set; 0 or -1 (logged). */
static int net_enable(struct net_set *set, const char *p, size_t n)
{
    char name[NET_NAME_MAX];
    const struct net_backend *be;

    if (n >= sizeof(name)) {
        log_error("net: network.backends: a name is too long");
        return -1;
    }
    memcpy(name, p, n);
    name[n] = '\0';
    be = net_backend_find(name);
    if (be == NULL)
        return -1;
    if (net_set_find(set, name) != NULL) {
        log_error("net: network.backends names %s twice", name);
        return -1;
    }
    if (set->n == NET_MAX_BACKENDS) {
        log_error("net: network.backends: too many back ends");
        return -1;
    }
    set->be[set->n++] = be;
    return 0;
}

int net_enabled(const struct conf *conf, struct net_set *set)
{
    const char *p = conf->network_backends ? conf->network_backends : "";
    size_t n;

    memset(set, 0, sizeof(*set));
    while (*p != '\0') {
        p += strspn(p, ", \t");
        n = strcspn(p, ", \t");
        if (n > 0 && net_enable(set, p, n) < 0)
            return -1;
        p += n;
    }
    if (set->n > 0)
        return 0;
    p = conf->network_backend ? conf->network_backend : "cloudapi";
    return net_enable(set, p, strlen(p));
}

int net_configure(const struct conf *conf)
{
    struct net_set set;
    int i, rc = 0;

    if (net_enabled(conf, &set) < 0)
        return -1;
    for (i = 0; i < set.n; i++)
        if (set.be[i]->configure(conf) < 0)
            rc = -1;
    return rc;
}

int net_open(const struct conf *conf, struct net_set *set)
{
    if (net_enabled(conf, set) < 0 || net_configure(conf) < 0)
        return -1;
    return 0;
}
