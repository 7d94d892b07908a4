/* SPDX-License-Identifier: MIT */
/* The Cloud API back end's table, for the list of back ends (net.c). */
#ifndef FERRY_NET_CLOUDAPI_H
#define FERRY_NET_CLOUDAPI_H

#include "net_backend.h"

extern const struct net_backend net_cloudapi_backend;

#endif
