/* SPDX-License-Identifier: MIT */
/* Pure functions on identities: phone numbers typed by people, contact JIDs
 * "+<digits>@<component>" and the network ids behind them, and XEP-0106
 * escaping of localparts that are not phone numbers. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jid.h"
#include "util.h"

#define JID_PART_MAX 1023 /* bytes in a localpart, domain or resource */
#define JID_DIGITS_MIN 7
#define JID_DIGITS_MAX 15
#define JID_GROUP_DIGITS_MAX 32 /* in each part of a group id */
#define JID_GROUP_SUFFIX "@g.us"

/* The three parts of a JID, pointing into it. */
struct jid_parts {
    const char *local; /* NULL when there is no '@' */
    size_t local_len;
    const char *domain;
    size_t domain_len;
    const char *resource; /* NULL when there is no '/' */
    size_t resource_len;
};

/* The XEP-0106 table: character and its escape sequence. */
static const struct {
    char c;
    const char *seq;
} jid_escapes[] = {
    {' ', "\\20"}, {'"', "\\22"}, {'&', "\\26"}, {'\'', "\\27"}, {'/', "\\2f"},
    {':', "\\3a"}, {'<', "\\3c"}, {'>', "\\3e"}, {'@', "\\40"},  {'\\', "\\5c"},
};

#define JID_NESCAPES (sizeof(jid_escapes) / sizeof(jid_escapes[0]))

/* Spaces, tabs, dashes, dots, slashes and brackets are dropped; '+' may only
 * come before the first digit; without it, a leading "00" means '+'. */
int jid_phone_normalize(const char *in, char *out, size_t outlen)
{
    char digits[JID_DIGITS_MAX + 3];
    size_t n = 0, skip = 0;
    int plus = 0;

    if (in == NULL || out == NULL)
        return -1;
    for (; *in != '\0'; in++) {
        if (isdigit((unsigned char)*in)) {
            if (n >= sizeof(digits) - 1)
                return -1; /* far too long */
            digits[n++] = *in;
        } else if (*in == '+' && n == 0 && !plus) {
            plus = 1;
        } else if (strchr(" \t-.()/", *in) == NULL) {
            return -1;
        }
    }
    if (!plus && n >= 2 && digits[0] == '0' && digits[1] == '0')
        skip = 2;
    n -= skip;
    if (n < JID_DIGITS_MIN || n > JID_DIGITS_MAX || digits[skip] == '0')
        return -1; /* country codes never start with 0 */
    if (outlen < n + 2)
        return -1;
    out[0] = '+';
    memcpy(out + 1, digits + skip, n);
    out[n + 1] = '\0';
    return 0;
}

/* 1 when s[0..n) is 7..15 ASCII digits. */
static int jid_digits_ok(const char *s, size_t n)
{
    size_t i;

    if (n < JID_DIGITS_MIN || n > JID_DIGITS_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Splits jid (RFC 7622: resource after the first '/', localpart before the
 * first '@' ahead of it); 0 or -1 when a part is empty or too long. */
static int jid_split(const char *jid, struct jid_parts *p)
{
    size_t len, bare;
    const char *at, *slash;

    if (jid == NULL)
        return -1;
    len = strnlen(jid, JID_MAX + 1);
    if (len == 0 || len > JID_MAX)
        return -1;
    slash = memchr(jid, '/', len);
    bare = slash ? (size_t)(slash - jid) : len;
    at = memchr(jid, '@', bare);
    p->local = at ? jid : NULL;
    p->local_len = at ? (size_t)(at - jid) : 0;
    p->domain = at ? at + 1 : jid;
    p->domain_len = bare - (size_t)(p->domain - jid);
    p->resource = slash ? slash + 1 : NULL;
    p->resource_len = slash ? len - bare - 1 : 0;
    if (p->domain_len == 0 || p->domain_len > JID_PART_MAX)
        return -1;
    if (p->local && (p->local_len == 0 || p->local_len > JID_PART_MAX))
        return -1;
    if (p->resource && (p->resource_len == 0 || p->resource_len > JID_PART_MAX))
        return -1;
    return 0;
}

/* 1 when s[0..n) has a byte below 0x20 or DEL. */
static int jid_has_control(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 1;
    return 0;
}

/* 1 when s[0..n) has one of the characters in set. */
static int jid_has_any(const char *s, size_t n, const char *set)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strchr(set, s[i]) != NULL)
            return 1;
    return 0;
}

int jid_valid(const char *jid)
{
    struct jid_parts p;

    if (jid_split(jid, &p) < 0 || !utf8_valid(jid, strlen(jid)))
        return 0;
    if (jid_has_control(jid, strlen(jid)))
        return 0;
    if (p.local && jid_has_any(p.local, p.local_len, " \"&'/:<>@"))
        return 0;
    if (jid_has_any(p.domain, p.domain_len, " \t@/\\\"&'<>"))
        return 0;
    if (p.domain[0] == '.' || p.domain[p.domain_len - 1] == '.')
        return 0;
    return 1;
}

/* Copies s[0..n) lower-cased (ASCII) to out. */
static void jid_lower(char *out, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
}

char *jid_bare(const char *jid)
{
    struct jid_parts p;
    size_t n;
    char *bare;

    if (!jid_valid(jid) || jid_split(jid, &p) < 0)
        return NULL;
    n = (size_t)(p.domain - jid) + p.domain_len;
    bare = xmalloc(n + 1);
    jid_lower(bare, jid, n);
    bare[n] = '\0';
    return bare;
}

int jid_domain(const char *jid, char *out, size_t outlen)
{
    struct jid_parts p;

    if (out == NULL || !jid_valid(jid) || jid_split(jid, &p) < 0)
        return -1;
    if (outlen < p.domain_len + 1)
        return -1;
    jid_lower(out, p.domain, p.domain_len);
    out[p.domain_len] = '\0';
    return 0;
}

/* The character escaped by the sequence at s ("\20"...), or -1. Only the
 * lower-case forms of XEP-0106 count. */
static int jid_escape_at(const char *s)
{
    size_t i;

    for (i = 0; i < JID_NESCAPES; i++)
        if (strncmp(s, jid_escapes[i].seq, 3) == 0)
            return (unsigned char)jid_escapes[i].c;
    return -1;
}

/* The escape sequence for c, or NULL when c stays as it is. */
static const char *jid_escape_seq(char c)
{
    size_t i;

    for (i = 0; i < JID_NESCAPES; i++)
        if (jid_escapes[i].c == c)
            return jid_escapes[i].seq;
    return NULL;
}

/* XEP-0106: a backslash is escaped only where it would otherwise start an
 * escape sequence, so jid_unescape(jid_escape(s)) is s. Leading and
 * trailing spaces are escaped too (the XEP forbids them; we never fail). */
char *jid_escape(const char *local)
{
    const char *s;
    char *out, *o;

    if (local == NULL)
        return NULL;
    out = xmalloc(strlen(local) * 3 + 1);
    o = out;
    for (s = local; *s != '\0'; s++) {
        const char *seq = jid_escape_seq(*s);

        if (*s == '\\' && jid_escape_at(s) < 0)
            seq = NULL;
        if (seq != NULL) {
            memcpy(o, seq, 3);
            o += 3;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

char *jid_unescape(const char *local)
{
    const char *s;
    char *out, *o;

    if (local == NULL)
        return NULL;
    out = xmalloc(strlen(local) + 1);
    o = out;
    for (s = local; *s != '\0'; s++) {
        int c = *s == '\\' ? jid_escape_at(s) : -1;

        if (c >= 0) {
            *o++ = (char)c;
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

/* 1 when s[0..n) is "<digits>" or "<digits>-<digits>", each part 1..32
 * digits: a group id without its "@g.us". */
static int jid_group_ok(const char *s, size_t n)
{
    const char *dash = memchr(s, '-', n);
    size_t a = dash ? (size_t)(dash - s) : n, i;

    if (a == 0 || a > JID_GROUP_DIGITS_MAX || (dash && n - a - 1 == 0) ||
        n - a > JID_GROUP_DIGITS_MAX + 1)
        return 0;
    for (i = 0; i < n; i++)
        if (i != a && !isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* The network id a localpart stands for; NULL when it stands for none
 * (or for an id whose own localpart is another). Caller frees. */
static char *jid_local_decode(const char *local, size_t n)
{
    char *copy, *id, *again;

    if (n > 1 && local[0] == '+' && jid_digits_ok(local + 1, n - 1))
        return xstrndup(local + 1, n - 1);
    if (jid_group_ok(local, n))
        return xasprintf("%.*s" JID_GROUP_SUFFIX, (int)n, local);
    copy = xstrndup(local, n);
    id = jid_unescape(copy);
    again = jid_kind_of(id) == JID_KIND_OTHER ? jid_escape(id) : NULL;
    if (again == NULL || strcmp(again, copy) != 0) { /* not its own form */
        free(id);
        id = NULL;
    }
    free(again);
    free(copy);
    return id;
}

/* The kind of an id, ignoring whether its escaped localpart would decode to
 * another id (jid_kind_of() checks that). */
static enum jid_kind jid_kind_raw(const char *id, size_t n)
{
    size_t g = strlen(JID_GROUP_SUFFIX);

    if (jid_digits_ok(id, n))
        return JID_KIND_PHONE;
    if (n > g && strcmp(id + n - g, JID_GROUP_SUFFIX) == 0 &&
        jid_group_ok(id, n - g))
        return JID_KIND_GROUP;
    if (n == 0 || n > JID_PART_MAX || !utf8_valid(id, n) ||
        jid_has_control(id, n))
        return JID_KIND_NONE;
    return JID_KIND_OTHER;
}

int jid_is_lid(const char *network_id)
{
    size_t n = network_id ? strspn(network_id, "0123456789") : 0;

    return n > 0 && n <= JID_LID_DIGITS && strcmp(network_id + n, "@lid") == 0;
}

/* The localpart of an id of kind k (not JID_KIND_NONE). Caller frees. */
static char *jid_local_encode(const char *id, size_t n, enum jid_kind k)
{
    if (k == JID_KIND_PHONE)
        return xasprintf("+%s", id);
    if (k == JID_KIND_GROUP)
        return xstrndup(id, n - strlen(JID_GROUP_SUFFIX));
    return jid_escape(id);
}

/* 1 when s has an ASCII capital letter. */
static int jid_has_upper(const char *s)
{
    for (; *s != '\0'; s++)
        if (*s >= 'A' && *s <= 'Z')
            return 1;
    return 0;
}

enum jid_kind jid_kind_of(const char *network_id)
{
    size_t n = network_id ? strlen(network_id) : 0;
    enum jid_kind k = network_id ? jid_kind_raw(network_id, n) : JID_KIND_NONE;
    char *local, *back;
    int same;

    if (k != JID_KIND_OTHER)
        return k;
    /* an escaped id must come back as itself, not as a phone or group,
     * and be canonical: a server folds a localpart's case, so an id with
     * capitals would not come back the same */
    local = jid_escape(network_id);
    same = strlen(local) <= JID_PART_MAX && !jid_has_upper(local) &&
           (local[0] != '+' || !jid_digits_ok(local + 1, strlen(local) - 1)) &&
           !jid_group_ok(local, strlen(local));
    back = same ? jid_unescape(local) : NULL;
    same = back != NULL && strcmp(back, network_id) == 0;
    free(back);
    free(local);
    return same ? JID_KIND_OTHER : JID_KIND_NONE;
}

char *jid_local_of(const char *network_id)
{
    enum jid_kind k = jid_kind_of(network_id);

    if (k == JID_KIND_NONE)
        return NULL;
    return jid_local_encode(network_id, strlen(network_id), k);
}

char *jid_of(const char *network_id, const char *domain)
{
    char *local = jid_local_of(network_id), *jid;
    size_t dlen = domain ? strlen(domain) : 0, n;

    if (local == NULL || dlen == 0 || dlen > JID_PART_MAX ||
        strpbrk(domain, "@/") != NULL) { /* else the JID's domain is not it */
        free(local);
        return NULL;
    }
    n = strlen(local);
    jid = xmalloc(n + dlen + 2);
    memcpy(jid, local, n);
    jid[n] = '@';
    jid_lower(jid + n + 1, domain, dlen);
    jid[n + dlen + 1] = '\0';
    free(local);
    if (!jid_valid(jid)) {
        free(jid);
        return NULL;
    }
    return jid;
}

char *jid_network_id(const char *jid, const char *domain)
{
    struct jid_parts p;

    if (domain == NULL || !jid_valid(jid) || jid_split(jid, &p) < 0)
        return NULL;
    if (p.local == NULL || p.domain_len != strlen(domain) ||
        strncasecmp(p.domain, domain, p.domain_len) != 0)
        return NULL;
    return jid_local_decode(p.local, p.local_len);
}
