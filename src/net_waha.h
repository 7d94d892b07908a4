/* SPDX-License-Identifier: MIT */
/* The WAHA back end's table, for the list of back ends (net.c). */
#ifndef FERRY_NET_WAHA_H
#define FERRY_NET_WAHA_H

#include "net_backend.h"

extern const struct net_backend net_waha_backend;

#endif
