/* SPDX-License-Identifier: MIT */
/* The back ends built into ferry: found by name from the config, checked
 * for their required slots, and configured (net_backend.h is the table
 * they fill in). */
#ifndef FERRY_NET_H
#define FERRY_NET_H

#include "net_backend.h"

struct conf;

#define NET_MAX_BACKENDS 4

/* The back ends in use (network.backends, else network.backend), in the
 * config's order: the first is the default. */
struct net_set {
    int n;
    const struct net_backend *be[NET_MAX_BACKENDS];
};

/* The back ends the config enables, found and checked (not configured);
 * 0, or -1 (logged) when a name is unknown or given twice. */
int net_enabled(const struct conf *conf, struct net_set *set);
/* Configures the enabled back ends from the config; 0, or -1 (logged) when
 * one refuses its settings or the list is wrong. */
int net_configure(const struct conf *conf);
/* The back end called name, or NULL (logged) when there is none or its
 * table lacks a required slot. */
const struct net_backend *net_backend_find(const char *name);
/* The enabled back ends, found and configured, into set; 0, or -1
 * (logged) when ferry cannot start with them. What start-up and ferry -n
 * use. */
int net_open(const struct conf *conf, struct net_set *set);
/* The back end of set called name (NULL: the first), or NULL. */
const struct net_backend *net_set_find(const struct net_set *set,
                                       const char *name);

#endif
