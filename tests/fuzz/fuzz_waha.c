/* SPDX-License-Identifier: MIT */
/* libFuzzer target: WAHA's webhook parser on arbitrary bodies (the
 * signature is checked before it, so only a verified body reaches it; the
 * fuzzer plays a WAHA that signs anything). The callback reads every field
 * of every event and checks what the bridge relies on; it fails now and
 * then so the parser's failure path runs too. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_ferry.h"
#include "../../src/net_waha_int.h"
#include "net.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_waha {
    unsigned events;
    unsigned fail_at; /* 0: never */
    size_t bytes;
};

/* Reads a borrowed string to its end (ASan checks every byte). */
static size_t fuzz_waha_str(const char *s)
{
    return s ? strlen(s) : 0;
}

static size_t fuzz_waha_media(const struct net_media *m)
{
    if (m == NULL)
        return 0;
    if (m->kind == NULL || m->url == NULL)
        abort(); /* a file to fetch has a kind and an address */
    return fuzz_waha_str(m->kind) + fuzz_waha_str(m->id) +
           fuzz_waha_str(m->mime) + fuzz_waha_str(m->filename) +
           fuzz_waha_str(m->caption) + fuzz_waha_str(m->url);
}

static size_t fuzz_waha_cards(const struct net_card *cards, int n)
{
    size_t bytes = 0;
    int i, j;

    if (n < 0 || n > NET_MAX_CARDS || (n > 0 && cards == NULL))
        abort();
    for (i = 0; i < n; i++) {
        if (cards[i].nphones < 0 || cards[i].nphones > NET_CARD_PHONES)
            abort();
        bytes += fuzz_waha_str(cards[i].name);
        for (j = 0; j < cards[i].nphones; j++) {
            if (cards[i].phones[j].phone == NULL)
                abort();
            bytes += fuzz_waha_str(cards[i].phones[j].phone) +
                     fuzz_waha_str(cards[i].phones[j].type) +
                     fuzz_waha_str(cards[i].phones[j].peer);
        }
    }
    return bytes;
}

/* An id the bridge looks up: "true_..." or "false_...", or NULL. */
static void fuzz_waha_full(const char *id)
{
    if (id != NULL && strncmp(id, "true_", 5) != 0 &&
        strncmp(id, "false_", 6) != 0)
        abort();
}

/* Reads every field; checks what every consumer relies on. */
static int fuzz_waha_event(const struct net_event *ev, void *arg)
{
    struct fuzz_waha *w = arg;

    w->events++;
    w->bytes += fuzz_waha_str(ev->account) + fuzz_waha_str(ev->id) +
                fuzz_waha_str(ev->peer) + fuzz_waha_str(ev->peer_name) +
                fuzz_waha_str(ev->type) + fuzz_waha_str(ev->text) +
                fuzz_waha_str(ev->reply_to) + fuzz_waha_str(ev->geo) +
                fuzz_waha_media(ev->media) +
                fuzz_waha_cards(ev->cards, ev->ncards) +
                fuzz_waha_str(ev->target) + fuzz_waha_str(ev->emoji) +
                fuzz_waha_str(ev->chatstate) + fuzz_waha_str(ev->error_text) +
                fuzz_waha_str(ev->group) + fuzz_waha_str(ev->author);
    if (ev->account == NULL)
        abort(); /* every event names its session */
    switch (ev->kind) {
    case NET_EVENT_STATUS:
        if (ev->id == NULL || ev->status < NET_STATUS_SENT ||
            ev->status > NET_STATUS_FAILED)
            abort();
        break;
    case NET_EVENT_MESSAGE:
        /* a group's: the group and its author (the user's own: none),
         * the number if known */
        if ((ev->group == NULL && ev->author != NULL) ||
            (ev->group != NULL && ev->author == NULL && !ev->from_me) ||
            (ev->from_me && ev->author != NULL) ||
            (ev->group != NULL && strstr(ev->group, "@g.us") == NULL))
            abort();
        if (ev->id == NULL || (ev->peer == NULL && ev->group == NULL) ||
            ev->type == NULL ||
            (ev->text == NULL && ev->media == NULL && ev->geo == NULL &&
             ev->ncards == 0))
            abort(); /* from someone, showing something */
        fuzz_waha_full(ev->reply_to);
        break;
    case NET_EVENT_REACTION:
    case NET_EVENT_EDIT:
    case NET_EVENT_REVOKE:
        /* a group's author may be known by a lid alone (peer NULL) */
        if (ev->id == NULL || (ev->peer == NULL && ev->group == NULL) ||
            ev->target == NULL ||
            (ev->kind == NET_EVENT_REACTION && ev->emoji == NULL) ||
            (ev->kind == NET_EVENT_EDIT && ev->text == NULL))
            abort();
        if (ev->group == NULL) /* a group's actions name keys (bridge_muc) */
            fuzz_waha_full(ev->target);
        break;
    case NET_EVENT_CHATSTATE:
        if (ev->peer == NULL || ev->chatstate == NULL)
            abort();
        break;
    case NET_EVENT_PRESENCE:
        if (ev->peer == NULL || (ev->away != 0 && ev->away != 1) ||
            ev->last_seen < 0)
            abort();
        break;
    case NET_EVENT_GROUP:
        if (ev->group == NULL || ev->group_change == NULL)
            abort();
        break;
    case NET_EVENT_LOGIN:
        if (ev->id == NULL || ev->login < NET_LOGIN_CHALLENGE ||
            ev->login > NET_LOGIN_ELSEWHERE)
            abort();
        break;
    default:
        abort();
    }
    return w->fail_at != 0 && w->events == w->fail_at ? -1 : 0;
}

/* A list of groups as GET /groups's answer: ids of groups, members with
 * an id and one of ferry's roles. */
static void fuzz_waha_groups(const struct net_result *r,
                             const struct net_group *g, size_t n, void *arg)
{
    size_t i, k, *bytes = arg;

    for (i = 0; i < n; i++) {
        if (g[i].id == NULL || g[i].subject == NULL ||
            strstr(g[i].id, "@g.us") == NULL)
            abort();
        *bytes += fuzz_waha_str(g[i].subject);
        for (k = 0; k < g[i].nmembers; k++)
            if (g[i].members[k].id == NULL || g[i].members[k].role == NULL ||
                (strcmp(g[i].members[k].role, "owner") != 0 &&
                 strcmp(g[i].members[k].role, "admin") != 0 &&
                 strcmp(g[i].members[k].role, "member") != 0))
                abort();
            else
                *bytes += fuzz_waha_str(g[i].members[k].lid) +
                          fuzz_waha_str(g[i].members[k].phone);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    struct fuzz_waha w = {0, 0, 0};
    char *body;
    int rc;

    if (!ready) {
        fuzz_log_open();
        ready = 1;
    }
    /* a NUL-terminated copy, as the listener hands over */
    body = xmalloc(size + 1);
    memcpy(body, data, size);
    body[size] = '\0';
    if (size % 5 == 4)
        w.fail_at = 1 + (unsigned)(size % 3);
    rc = waha_webhook_parse(body, size, fuzz_waha_event, &w);
    if (rc == 0 && w.fail_at != 0 && w.events >= w.fail_at)
        abort(); /* a failing callback must fail the webhook */
    waha_groups_parse(body, size, fuzz_waha_groups, &w.bytes);
    free(body);
    return 0;
}
