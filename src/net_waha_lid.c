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

/* ---- the whole map, page by page ---- */

#define WAHA_LIDS_PAGE 200 /* pairs asked per page */
#define WAHA_LIDS_PAGES 50 /* pages at most: 10000 pairs */
#define WAHA_LIDS_ANSWER_MAX (256 * 1024)

struct waha_lids {
    char *session;
    int page;
    net_phones_fn cb;
    void *arg;
};

static void waha_lids_next(struct waha_lids *q);

/* One page: [{"lid": "<digits>@lid", "pn": "<digits>@c.us" | null}...];
 * the pairs with a number go to the callback. */
static void waha_lids_done(const struct http_result *h, void *arg)
{
    struct waha_lids *q = arg;
    struct net_result r;
    json_object *o = NULL, *e;
    const char *lids[WAHA_LIDS_PAGE], *phones[WAHA_LIDS_PAGE];
    char digits[WAHA_LIDS_PAGE][WAHA_PHONE_DIGITS + 1];
    char lid[WAHA_LID_DIGITS + 1];
    size_t i, len = 0, n = 0;
    int last;

    memset(&r, 0, sizeof(r));
    if (h->ok && h->status == 200)
        o = json_strict_parse(h->body, h->len, WAHA_MAX_DEPTH);
    if (o == NULL || !json_object_is_type(o, json_type_array)) {
        r.outcome = NET_RETRY;
        r.text = "The WAHA server did not list its linked ids";
        log_info("waha: lid list not read (HTTP %ld)", h->ok ? h->status : 0L);
    } else {
        r.outcome = NET_OK;
        len = json_object_array_length(o);
    }
    for (i = 0; i < len && n < WAHA_LIDS_PAGE; i++) {
        e = json_object_array_get_idx(o, i);
        if (waha_lid_digits(waha_str(e, "lid"), "@lid", WAHA_LID_DIGITS, lid) ==
                0 &&
            waha_lid_digits(waha_str(e, "pn"), "@c.us", WAHA_PHONE_DIGITS,
                            digits[n]) == 0) {
            lids[n] = waha_str(e, "lid");
            phones[n] = digits[n];
            n++;
        }
    }
    last = r.outcome != NET_OK || len < WAHA_LIDS_PAGE ||
           q->page + 1 >= WAHA_LIDS_PAGES;
    q->cb(&r, lids, phones, n, last, q->arg);
    json_object_put(o);
    if (last) {
        free(q->session);
        free(q);
        return;
    }
    q->page++;
    waha_lids_next(q);
}

static void waha_lids_next(struct waha_lids *q)
{
    char *path = xasprintf("/api/%s/lids?limit=%d&offset=%d", q->session,
                           WAHA_LIDS_PAGE, q->page * WAHA_LIDS_PAGE);

    waha_get(path, WAHA_LIDS_ANSWER_MAX, waha_lids_done, q);
    free(path);
}

/* The back end's peer_phones: GET /api/{session}/lids, page by page. */
void waha_peer_phones(const struct net_account *a, net_phones_fn cb, void *arg)
{
    struct waha_lids *q = xcalloc(1, sizeof(*q));

    q->session = xstrdup(a->id);
    q->cb = cb;
    q->arg = arg;
    waha_lids_next(q);
}
