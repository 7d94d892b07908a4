/* SPDX-License-Identifier: MIT */
/* Private to the configuration (conf.c, conf_values.c). */
#ifndef FERRY_CONF_INT_H
#define FERRY_CONF_INT_H

#include "conf.h"

#define CONF_BACKENDS "cloudapi|waha" /* the back ends built in */

/* Checks beyond type and bounds, for the few keys with a syntax. */
struct conf_check {
    const char *section;
    const char *name;
    int (*ok)(const char *v);
    const char *what; /* completes "'VALUE' ..." */
};

/* Strict decimal integer; 0 or -1 (and errno ERANGE when out of range). */
int conf_int_parse(const char *s, long long *out);
/* 1 when word is one of choices ("a|b|c"). */
int conf_choice_has(const char *choices, const char *word);
/* The syntax check of key k, or NULL when it has none beyond its type. */
const struct conf_check *conf_check_find(const struct conf_key *k);

#endif
