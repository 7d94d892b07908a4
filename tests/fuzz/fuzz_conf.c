/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the config reader on arbitrary files. A config that
 * loads must satisfy the key table (every value set, numbers and lengths in
 * bounds, enums among their choices); one that does not must have said why,
 * in printable "FILE:LINE: message" lines. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz_ferry.h"

extern char **environ;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
    FILE *errs;
    const char *path;
    size_t bytes;      /* written to errs by this conf_load() */
    int at_line_start; /* the next byte starts a line */
} fc;

/* The errors stream: checks each line's shape, then drops it. */
static ssize_t fuzz_conf_write(void *cookie, const char *buf, size_t n)
{
    size_t i, plen = strlen(fc.path);

    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)buf[i];

        if (fc.at_line_start &&
            (n - i < plen + 1 || memcmp(buf + i, fc.path, plen) != 0 ||
             buf[i + plen] != ':'))
            abort(); /* every line starts with "FILE:" */
        fc.at_line_start = ch == '\n';
        if ((ch < 0x20 && ch != '\n') || ch == 0x7f)
            abort(); /* file text reached the terminal unescaped */
    }
    fc.bytes += n;
    return (ssize_t)n;
}

static void fuzz_conf_init(void)
{
    cookie_io_functions_t io = {NULL, fuzz_conf_write, NULL, NULL};
    char name[256];
    char **e;
    size_t l;

    fuzz_log_open();
    fc.errs = fopencookie(NULL, "w", io);
    if (fc.errs == NULL)
        abort();
    setvbuf(fc.errs, NULL, _IOLBF, 0);
    /* The environment must not decide what the file alone does. */
    e = environ;
    while (e != NULL && *e != NULL) {
        if (strncmp(*e, "FERRY_", 6) != 0) {
            e++;
            continue;
        }
        l = strcspn(*e, "=");
        snprintf(name, sizeof(name), "%.*s", (int)l, *e);
        unsetenv(name);
    }
}

/* The string value of key k in c. */
static const char *fuzz_conf_str(const struct conf *c, const struct conf_key *k)
{
    return *(char *const *)((const char *)c + k->offset);
}

/* Checks a loaded config against the key table. */
static void fuzz_conf_check(const struct conf *c)
{
    const struct conf_key *keys, *k;
    const char *s;
    long long v;
    size_t n, i;

    keys = conf_keys(&n);
    for (i = 0; i < n; i++) {
        k = &keys[i];
        if (k->type == CONF_INT) {
            v = *(const long long *)((const char *)c + k->offset);
            if (v < k->min || v > k->max)
                abort();
            continue;
        }
        s = fuzz_conf_str(c, k);
        if (s == NULL || (k->required && s[0] == '\0'))
            abort();
        if (k->type != CONF_ENUM && (long long)strlen(s) > k->max)
            abort();
        if (k->type == CONF_ENUM && k->choices != NULL &&
            strstr(k->choices, s) == NULL)
            abort();
    }
    (void)conf_list_has(c->gateway_allowed_domains, "example.org");
    (void)conf_list_has(c->gateway_admins, "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct conf *c;

    if (fc.errs == NULL)
        fuzz_conf_init();
    fc.path = fuzz_write_file("fuzz.conf", data, size);
    fc.bytes = 0;
    fc.at_line_start = 1;
    c = conf_load(fc.path, fc.errs);
    fflush(fc.errs);
    if (c != NULL)
        fuzz_conf_check(c);
    else if (fc.bytes == 0)
        abort(); /* refused without a word */
    if (!fc.at_line_start)
        abort(); /* the last message has no newline */
    conf_free(c);
    return 0;
}
