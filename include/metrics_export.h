/* SPDX-License-Identifier: MIT */
/* The /metrics endpoint on the HTTP listener: metrics.h's counters and
 * gauges read from the store and the component when scraped. */
#ifndef FERRY_METRICS_EXPORT_H
#define FERRY_METRICS_EXPORT_H

struct store;

/* Adds the /metrics route (before httpd_start). */
void metrics_export_init(struct store *st);

#endif
