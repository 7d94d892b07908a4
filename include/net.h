/* SPDX-License-Identifier: MIT */
/* The back ends built into ferry: found by name from the config, checked
 * for their required slots, and configured (net_backend.h is the table
 * they fill in). */
#ifndef FERRY_NET_H
#define FERRY_NET_H

#include "net_backend.h"

struct conf;

/* Configures every back end from the config; 0, or -1 (logged) when one
 * refuses its settings. */
int net_configure(const struct conf *conf);
/* The back end called name, or NULL (logged) when there is none or its
 * table lacks a required slot. */
const struct net_backend *net_backend_find(const char *name);
/* The configured back end (network.backend), found and configured; NULL
 * (logged) when ferry cannot start with it. What start-up and ferry -n
 * use. */
const struct net_backend *net_open(const struct conf *conf);

#endif
