/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the stanza handlers (component dispatch, disco,
 * registration, roster, messages, the bridge and the queue behind it).
 * The input is one or more stanzas separated by NUL bytes; each is parsed
 * by libstrophe, injected as if the server had sent it, released, and the
 * loop is run until the work it caused (store, fake Cloud API, fake XMPP
 * server) has settled. The store starts each input in its seeded state:
 * alice@example.org registered with contact +15550001111, carol paused. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "component.h"
#include "fuzz_ferry.h"
#include "util.h"

#define FUZZ_STANZA_MAX 8 /* stanzas per input */
#define FUZZ_STANZA_MS 50 /* to settle after each, at most */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_stanza_one(const char *xml)
{
    xmpp_stanza_t *st = xmpp_stanza_new_from_string(component_ctx(), xml);

    if (st == NULL)
        return;
    component_inject(st);
    /* Handlers must copy what they keep: ASan sees any later use. */
    xmpp_stanza_release(st);
    fuzz_ferry_settle(FUZZ_STANZA_MS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = xmalloc(size + 1), *p;
    int n = 0;

    memcpy(s, data, size);
    s[size] = '\0';
    fuzz_ferry_up();
    fuzz_ferry_reset();
    for (p = s; p <= s + size && n < FUZZ_STANZA_MAX; n++) {
        fuzz_stanza_one(p);
        p += strlen(p) + 1;
    }
    free(s);
    return 0;
}
