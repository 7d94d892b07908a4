/* SPDX-License-Identifier: MIT */
/* A strict RFC 8259 syntax check for JSON from peers: json-c also takes
 * single quotes, NaN and Infinity, which no conforming sender writes. */
#ifndef FERRY_JSON_STRICT_H
#define FERRY_JSON_STRICT_H

#include <stddef.h>

/* 1 when s[0..n) is exactly one JSON text (whitespace around it allowed)
 * nested at most max_depth deep; 0 otherwise. */
int json_strict_valid(const char *s, size_t n, int max_depth);

struct json_object;

/* s[0..n) parsed by json-c once json_strict_valid() accepts it (json-c
 * checks UTF-8 and that the text is whole); NULL when it is not valid.
 * The caller puts the object. */
struct json_object *json_strict_parse(const char *s, size_t n, int max_depth);
/* The member key of an object; NULL when o is NULL, not an object or
 * has no such member. */
struct json_object *json_strict_member(struct json_object *o, const char *key);

#endif
