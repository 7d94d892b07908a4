/* SPDX-License-Identifier: MIT */
/* WAHA's hidden linked ids: the phone number behind a "<digits>@lid" that
 * writes 1:1, asked of GET /api/{session}/lids/{lid} (answered
 * {"lid": "...@lid", "pn": "<digits>@c.us" | null}). */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "json_strict.h"
#include "log.h"
#include "net_backend.h"
#include "net_waha_int.h"
#include "util.h"

#define WAHA_LID_ANSWER_MAX 4096
#define WAHA_LID_DIGITS 32
#define WAHA_PHONE_DIGITS 15

struct waha_lid_ask {
    char *lid;
    net_result_fn cb;
    void *arg;
};

/* The digits of a "<digits><suffix>" id of at most max digits into out
 * (max + 1 bytes); 0 or -1. */
static int waha_lid_digits(const char *id, const char *suffix, size_t max,
                           char *out)
{
    size_t n = id ? strspn(id, "0123456789") : 0;

    if (n == 0 || n > max || strcmp(id + n, suffix) != 0)
        return -1;
    memcpy(out, id, n);
    out[n] = '\0';
    return 0;
}

static void waha_lid_done(const struct http_result *h, void *arg)
{
    struct waha_lid_ask *q = arg;
    struct net_result r;
    json_object *o = NULL;
    char phone[WAHA_PHONE_DIGITS + 1];
    const char *lid;

    memset(&r, 0, sizeof(r));
    r.outcome = NET_RETRY;
    if (h->ok && h->status == 200)
        o = json_strict_parse(h->body, h->len, WAHA_MAX_DEPTH);
    lid = waha_str(o, "lid");
    if (o != NULL && lid != NULL && strcmp(lid, q->lid) == 0) {
        r.outcome = NET_OK; /* pn null: not known (yet) */
        if (waha_lid_digits(waha_str(o, "pn"), "@c.us", WAHA_PHONE_DIGITS,
                            phone) == 0)
            r.info = phone;
    } else {
        r.text = "The WAHA server did not say whose this id is";
        log_info("waha: lid lookup failed (HTTP %ld)", h->ok ? h->status : 0L);
    }
    q->cb(&r, q->arg);
    json_object_put(o);
    free(q->lid);
    free(q);
}

/* The back end's peer_phone: the number behind a lid (r->info, or NULL
 * when WAHA does not know it). */
void waha_peer_phone(const struct net_account *a, const char *peer,
                     net_result_fn cb, void *arg)
{
    struct waha_lid_ask *q;
    char digits[WAHA_LID_DIGITS + 1], *path;
    struct net_result r;

    if (waha_lid_digits(peer, "@lid", WAHA_LID_DIGITS, digits) < 0) {
        memset(&r, 0, sizeof(r));
        r.outcome = NET_FAIL;
        r.text = "Not a hidden linked id";
        cb(&r, arg);
        return;
    }
    q = xcalloc(1, sizeof(*q));
    q->lid = xstrdup(peer);
    q->cb = cb;
    q->arg = arg;
    path = xasprintf("/api/%s/lids/%s%%40lid", a->id, digits);
    waha_get(path, WAHA_LID_ANSWER_MAX, waha_lid_done, q);
    free(path);
}
