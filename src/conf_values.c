/* SPDX-License-Identifier: MIT */
/* The syntax of configuration values: integers, choices, and the keys
 * whose value has a form of its own (a domain, a URL, HOST:PORT, a list),
 * for conf.c. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "conf_int.h"

/* Strict decimal integer; 0 or -1 (and errno ERANGE when out of range). */
int conf_int_parse(const char *s, long long *out)
{
    char *end;

    if (!isdigit((unsigned char)s[0]) &&
        !(s[0] == '-' && isdigit((unsigned char)s[1])))
        return -1;
    errno = 0;
    *out = strtoll(s, &end, 10);
    if (*end != '\0')
        return -1;
    return errno == ERANGE ? -1 : 0;
}

/* 1 when word[0..n) is one of the '|'-separated choices. */
static int conf_choice_n(const char *choices, const char *word, size_t n)
{
    const char *p = choices;

    while (*p != '\0') {
        size_t len = strcspn(p, "|");

        if (len == n && memcmp(p, word, n) == 0)
            return 1;
        p += len;
        if (*p == '|')
            p++;
    }
    return 0;
}

/* 1 when word is one of the '|'-separated choices. */
int conf_choice_has(const char *choices, const char *word)
{
    return conf_choice_n(choices, word, strlen(word));
}

/* 1 when s[0..n) is a port number 1..65535. */
static int conf_port_ok(const char *s, size_t n)
{
    long v = 0;
    size_t i;

    if (n == 0 || n > 5)
        return 0;
    for (i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

/* HOST:PORT, where HOST is a name, an IPv4 address or [IPv6]. */
static int conf_listen_ok(const char *v)
{
    const char *colon;

    if (v[0] == '[') {
        const char *close = strchr(v, ']');

        if (close == NULL || close == v + 1 || close[1] != ':')
            return 0;
        if (strspn(v + 1, "0123456789abcdefABCDEF:.") !=
            (size_t)(close - v - 1))
            return 0;
        colon = close + 1;
    } else {
        colon = strrchr(v, ':');
        if (colon == NULL || colon == v || memchr(v, ':', colon - v))
            return 0;
        if (strcspn(v, " \t/@[]") < (size_t)(colon - v))
            return 0;
    }
    return conf_port_ok(colon + 1, strlen(colon + 1));
}

/* "v<digits>.<digits>" */
static int conf_version_ok(const char *v)
{
    size_t a, b;

    if (v[0] != 'v')
        return 0;
    a = strspn(v + 1, "0123456789");
    if (a == 0 || v[1 + a] != '.')
        return 0;
    b = strspn(v + 2 + a, "0123456789");
    return b > 0 && v[2 + a + b] == '\0';
}

/* An http:// or https:// URL with a host. */
static int conf_url_ok(const char *v)
{
    const char *rest;

    if (strncmp(v, "https://", 8) == 0)
        rest = v + 8;
    else if (strncmp(v, "http://", 7) == 0)
        rest = v + 7;
    else
        return 0;
    return rest[0] != '\0' && rest[0] != '/' && strchr(v, ' ') == NULL;
}

/* Empty, or an http:// or https:// URL. */
static int conf_url_or_empty_ok(const char *v)
{
    return v[0] == '\0' || conf_url_ok(v);
}

/* 1 when s[0..n) looks like a domain name. */
static int conf_domain_ok_n(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || s[0] == '.' || s[n - 1] == '.')
        return 0;
    for (i = 0; i < n; i++)
        if (strchr("@/\\:[] \t\"'<>&", s[i]) != NULL)
            return 0;
    return 1;
}

static int conf_domain_ok(const char *v)
{
    return conf_domain_ok_n(v, strlen(v));
}

/* Empty, or a domain. */
static int conf_domain_or_empty_ok(const char *v)
{
    return v[0] == '\0' || conf_domain_ok(v);
}

/* Space-separated domains, at least one. */
static int conf_domains_ok(const char *v)
{
    const char *p = v;

    if (v[strspn(v, " \t")] == '\0')
        return 0;
    while (*p != '\0') {
        size_t n;

        p += strspn(p, " \t");
        n = strcspn(p, " \t");
        if (n > 0 && !conf_domain_ok_n(p, n))
            return 0;
        p += n;
    }
    return 1;
}

/* A list of back-end names separated by commas or spaces. */
static int conf_backends_ok(const char *v)
{
    const char *p = v;

    while (*p != '\0') {
        size_t n;

        p += strspn(p, ", \t");
        n = strcspn(p, ", \t");
        if (n > 0 && !conf_choice_n(CONF_BACKENDS, p, n))
            return 0;
        p += n;
    }
    return 1;
}

/* Empty, or a WAHA session name: letters, digits, '-' and '_'. */
static int conf_session_ok(const char *v)
{
    return v[strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                       "0123456789-_")] == '\0';
}

static const struct conf_check conf_checks[] = {
    {"network", "backends", conf_backends_ok,
     "is not a list of cloudapi and waha"},
    {"waha", "url", conf_url_or_empty_ok, "is not an http:// or https:// URL"},
    {"waha", "session", conf_session_ok,
     "is not a session name (letters, digits, - and _)"},
    {"component", "jid", conf_domain_ok, "is not a domain name"},
    {"gateway", "allowed_domains", conf_domains_ok,
     "is not a list of domain names"},
    {"http", "listen", conf_listen_ok, "is not HOST:PORT"},
    {"http", "public_url", conf_url_ok, "is not an http:// or https:// URL"},
    {"cloudapi", "graph_url", conf_url_ok, "is not an http:// or https:// URL"},
    {"cloudapi", "api_version", conf_version_ok, "is not a version like v21.0"},
    {"media", "upload_service", conf_domain_or_empty_ok,
     "is not a domain name"},
};

const struct conf_check *conf_check_find(const struct conf_key *k)
{
    size_t i;

    for (i = 0; i < sizeof(conf_checks) / sizeof(conf_checks[0]); i++)
        if (strcmp(conf_checks[i].section, k->section) == 0 &&
            strcmp(conf_checks[i].name, k->name) == 0)
            return &conf_checks[i];
    return NULL;
}
