/* SPDX-License-Identifier: MIT */
/* A strict RFC 8259 syntax check for JSON from peers: json-c also takes
 * single quotes, NaN and Infinity, which no conforming sender writes. */
#ifndef FERRY_JSON_STRICT_H
#define FERRY_JSON_STRICT_H

#include <stddef.h>

/* 1 when s[0..n) is exactly one JSON text (whitespace around it allowed)
 * nested at most max_depth deep; 0 otherwise. */
int json_strict_valid(const char *s, size_t n, int max_depth);

#endif
