/* SPDX-License-Identifier: MIT */
/* libFuzzer target: phone numbers and JIDs. The input is a string, then
 * optionally a NUL and a domain. Output buffers are allocated at the exact
 * size under test so ASan catches any write past them; the properties the
 * header promises are checked (normal forms are fixed points, the network id
 * and XEP-0106 mappings round-trip). */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jid.h"
#include "util.h"

#define FUZZ_JID_DEFAULT_DOMAIN "whatsapp.example.org"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fuzz_jid_check(cond)                                                   \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

typedef int (*fuzz_jid_into)(const char *in, const char *arg, char *out,
                             size_t outlen);

static int fuzz_jid_phone(const char *in, const char *arg, char *out,
                          size_t outlen)
{
    return jid_phone_normalize(in, out, outlen);
}

static int fuzz_jid_dom(const char *in, const char *arg, char *out,
                        size_t outlen)
{
    return jid_domain(in, out, outlen);
}

/* Calls fn into a roomy buffer, then into buffers of exactly the size the
 * result needs and one byte less; returns the result (caller frees) or
 * NULL. */
static char *fuzz_jid_sized(fuzz_jid_into fn, const char *in, const char *arg)
{
    char *big = xmalloc(JID_MAX + 1), *exact, *small;
    size_t need;
    int rc;

    if (fn(in, arg, big, JID_MAX + 1) < 0) {
        free(big);
        return NULL;
    }
    need = strlen(big) + 1;
    exact = xmalloc(need);
    rc = fn(in, arg, exact, need);
    fuzz_jid_check(rc == 0 && strcmp(exact, big) == 0);
    small = xmalloc(need - 1 > 0 ? need - 1 : 1);
    rc = fn(in, arg, small, need - 1);
    fuzz_jid_check(rc < 0); /* too small: refused, never truncated */
    free(small);
    free(exact);
    return big;
}

static int fuzz_jid_is_e164(const char *s)
{
    size_t n = strlen(s), i;

    if (n < 8 || n > 16 || s[0] != '+' || s[1] == '0')
        return 0;
    for (i = 1; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static void fuzz_jid_phones(const char *s)
{
    char *p = fuzz_jid_sized(fuzz_jid_phone, s, NULL), *again;

    if (p == NULL)
        return;
    fuzz_jid_check(fuzz_jid_is_e164(p));
    again = fuzz_jid_sized(fuzz_jid_phone, p, NULL);
    fuzz_jid_check(again != NULL && strcmp(again, p) == 0);
    free(again);
    free(p);
}

/* network id -> JID -> network id gives the same id. */
static void fuzz_jid_wa(const char *s, const char *domain)
{
    char *jid = jid_of(s, domain), *wa, *bare;

    fuzz_jid_check((jid_kind_of(s) == JID_KIND_NONE) <= (jid == NULL));
    if (jid == NULL)
        return;
    if (jid_kind_of(s) == JID_KIND_PHONE)
        fuzz_jid_check(jid[0] == '+' && strncmp(jid + 1, s, strlen(s)) == 0);
    fuzz_jid_check(jid_valid(jid));
    wa = jid_network_id(jid, domain);
    fuzz_jid_check(wa != NULL && strcmp(wa, s) == 0);
    bare = jid_bare(jid);
    fuzz_jid_check(bare != NULL && strcmp(bare, jid) == 0);
    free(bare);
    free(wa);
    free(jid);
}

/* Whatever the string, the JID functions agree with each other. */
static void fuzz_jid_parts(const char *s, const char *domain)
{
    char *bare = jid_bare(s), *again, *dom, *wa;
    int valid = jid_valid(s);

    fuzz_jid_check(valid == (bare != NULL));
    dom = fuzz_jid_sized(fuzz_jid_dom, s, NULL);
    fuzz_jid_check(valid == (dom != NULL));
    wa = jid_network_id(s, domain);
    if (wa != NULL) {
        fuzz_jid_check(valid && strcasecmp(dom, domain) == 0);
        fuzz_jid_check(jid_kind_of(wa) != JID_KIND_NONE);
    }
    if (bare != NULL) {
        fuzz_jid_check(strchr(bare, '/') == NULL && jid_valid(bare));
        again = jid_bare(bare);
        fuzz_jid_check(again != NULL && strcmp(again, bare) == 0);
        free(again);
    }
    free(wa);
    free(dom);
    free(bare);
}

/* XEP-0106: the escaped form has none of the forbidden characters and
 * unescapes to the original. */
static void fuzz_jid_escapes(const char *s)
{
    char *e = jid_escape(s), *u;

    fuzz_jid_check(e != NULL && strpbrk(e, " \"&'/:<>@") == NULL);
    u = jid_unescape(e);
    fuzz_jid_check(u != NULL && strcmp(u, s) == 0);
    free(u);
    free(e);
    free(jid_unescape(s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = xmalloc(size + 1);
    const char *domain = FUZZ_JID_DEFAULT_DOMAIN;
    size_t n;

    memcpy(s, data, size);
    s[size] = '\0';
    n = strlen(s);
    if (n < size)
        domain = s + n + 1;
    fuzz_jid_phones(s);
    fuzz_jid_wa(s, domain);
    fuzz_jid_parts(s, domain);
    fuzz_jid_escapes(s);
    free(s);
    return 0;
}
