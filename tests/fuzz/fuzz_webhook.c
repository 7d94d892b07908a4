/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the Cloud API webhook parser on arbitrary bodies. The
 * callback reads every field of every event (strings, media, contact
 * cards) and checks what the parser promises (account, id and sender
 * present, statuses known, counts in bounds); it fails now and then so the
 * parser's failure path runs too. Every input is also read as a page of
 * the message templates listing (names, languages, header kinds and
 * buttons). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_ferry.h"
#include "../../src/net_cloudapi.h"
#include "../../src/net_cloudapi_int.h"
#include "net.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_webhook {
    unsigned events;
    unsigned fail_at; /* 0: never */
    size_t bytes;
};

/* Reads a borrowed string to its end (ASan checks every byte). */
static size_t fuzz_webhook_str(const char *s)
{
    return s ? strlen(s) : 0;
}

static size_t fuzz_webhook_media(const struct net_media *m)
{
    if (m == NULL)
        return 0;
    return fuzz_webhook_str(m->kind) + fuzz_webhook_str(m->id) +
           fuzz_webhook_str(m->mime) + fuzz_webhook_str(m->filename) +
           fuzz_webhook_str(m->caption);
}

static size_t fuzz_webhook_cards(const struct net_card *cards, int n)
{
    size_t bytes = 0;
    int i, j;

    if (n < 0 || n > NET_MAX_CARDS || (n > 0 && cards == NULL))
        abort();
    for (i = 0; i < n; i++) {
        if (cards[i].nphones < 0 || cards[i].nphones > NET_CARD_PHONES)
            abort();
        bytes += fuzz_webhook_str(cards[i].name);
        for (j = 0; j < cards[i].nphones; j++)
            bytes += fuzz_webhook_str(cards[i].phones[j].phone) +
                     fuzz_webhook_str(cards[i].phones[j].type) +
                     fuzz_webhook_str(cards[i].phones[j].peer);
    }
    return bytes;
}

/* Reads every field; checks what every consumer relies on. */
static int fuzz_webhook_event(const struct net_event *ev, void *arg)
{
    struct fuzz_webhook *w = arg;

    w->events++;
    w->bytes += fuzz_webhook_str(ev->account) + fuzz_webhook_str(ev->id) +
                fuzz_webhook_str(ev->peer) + fuzz_webhook_str(ev->peer_name) +
                fuzz_webhook_str(ev->type) + fuzz_webhook_str(ev->text) +
                fuzz_webhook_str(ev->reply_to) + fuzz_webhook_str(ev->geo) +
                fuzz_webhook_media(ev->media) +
                fuzz_webhook_cards(ev->cards, ev->ncards) +
                fuzz_webhook_str(ev->target) + fuzz_webhook_str(ev->emoji) +
                fuzz_webhook_str(ev->new_peer) +
                fuzz_webhook_str(ev->error_text);
    w->bytes += (size_t)(ev->timestamp & 1) + (size_t)(ev->notice & 1) +
                (size_t)(ev->error_code & 1);
    if (ev->account == NULL || ev->id == NULL)
        abort(); /* every event names its account and its message */
    switch (ev->kind) {
    case NET_EVENT_STATUS:
        if (ev->status < NET_STATUS_SENT || ev->status > NET_STATUS_FAILED)
            abort();
        if (ev->error_code != 0 && ev->error_text == NULL)
            abort(); /* a failure code comes with words for the user */
        break;
    case NET_EVENT_MESSAGE:
    case NET_EVENT_REACTION:
    case NET_EVENT_EDIT:
    case NET_EVENT_REVOKE:
    case NET_EVENT_RENUMBER:
        if (ev->peer == NULL || ev->type == NULL || ev->status != 0)
            abort(); /* from someone, of some type */
        break;
    default:
        abort();
    }
    return w->fail_at != 0 && w->events == w->fail_at ? -1 : 0;
}

/* 1 when s is lower case, as the neutral kinds are. */
static int fuzz_webhook_lower(const char *s)
{
    for (; *s != '\0'; s++)
        if (*s >= 'A' && *s <= 'Z')
            return 0;
    return 1;
}

/* A page of templates: each with a name and a language, lower-case kinds,
 * at most 10 buttons; every string read. */
static void fuzz_webhook_templates(const struct net_result *r,
                                   const struct net_template *t, size_t n,
                                   void *arg)
{
    size_t i, k, *bytes = arg;

    if ((r->outcome == NET_OK) != (r->text == NULL) ||
        (r->outcome != NET_OK && n != 0))
        abort();
    for (i = 0; i < n; i++) {
        if (t[i].name == NULL || t[i].language == NULL || t[i].nbuttons > 10 ||
            (t[i].nbuttons > 0 && t[i].buttons == NULL) ||
            (t[i].header_kind != NULL && !fuzz_webhook_lower(t[i].header_kind)))
            abort();
        *bytes += fuzz_webhook_str(t[i].status) +
                  fuzz_webhook_str(t[i].category) +
                  fuzz_webhook_str(t[i].header) + fuzz_webhook_str(t[i].body) +
                  fuzz_webhook_str(t[i].footer);
        for (k = 0; k < t[i].nbuttons; k++) {
            if (t[i].buttons[k].kind == NULL ||
                !fuzz_webhook_lower(t[i].buttons[k].kind))
                abort();
            *bytes += fuzz_webhook_str(t[i].buttons[k].text);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    struct fuzz_webhook w = {0, 0, 0};
    char *body;
    int rc;

    if (!ready) {
        fuzz_log_open();
        ready = 1;
    }
    /* The listener hands over a NUL-terminated copy; so do we, so that
     * ASan sees reads past the end of the body. */
    body = xmalloc(size + 1);
    memcpy(body, data, size);
    body[size] = '\0';
    if (size % 5 == 4)
        w.fail_at = 1 + (unsigned)(size % 3);
    rc = net_cloudapi_backend.webhook_parse(body, size, fuzz_webhook_event, &w);
    if (rc == 0 && w.fail_at != 0 && w.events >= w.fail_at)
        abort(); /* a failing callback must fail the webhook */
    cloudapi_templates_parse(body, size, fuzz_webhook_templates, &w.bytes);
    free(body);
    return 0;
}
