/* SPDX-License-Identifier: MIT */
/* WAHA's profile pictures (issue 13, item 5; groups': issue 14): GET
 * /api/contacts/profile-picture gives the picture's URL in
 * profilePictureURL (null when the contact has none or hides it), GET
 * /api/{s}/groups/{id}/picture a group's in url; then the picture is
 * fetched like a received file. Asking for a contact's also subscribes the
 * session to its presence, so that presence.update tells when they are
 * online. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "http.h"
#include "json_strict.h"
#include "log.h"
#include "net_backend.h"
#include "net_waha_int.h"
#include "util.h"

#define WAHA_PICTURE_ANSWER_MAX (16 * 1024)

struct waha_avatar {
    struct net_account a; /* id copied */
    const char *key;      /* the answer's member holding the URL */
    char *path;
    long long max;
    net_result_fn cb;
    void *arg;
};

static void waha_avatar_free(struct waha_avatar *w)
{
    free((char *)w->a.id);
    free(w->path);
    free(w);
}

/* The picture was fetched (or not): passed on as it is. */
static void waha_avatar_fetched(const struct net_result *r, void *arg)
{
    struct waha_avatar *w = arg;

    w->cb(r, w->arg);
    waha_avatar_free(w);
}

static void waha_avatar_answered(const struct http_result *h, void *arg)
{
    struct waha_avatar *w = arg;
    struct net_result r;
    json_object *o = NULL, *url = NULL;
    char *text = NULL;

    memset(&r, 0, sizeof(r));
    r.outcome = NET_RETRY;
    if (h->ok && h->status >= 200 && h->status < 300) {
        o = json_strict_parse(h->body, h->len, WAHA_MAX_DEPTH);
        if (o != NULL && json_object_is_type(o, json_type_object) &&
            json_object_object_get_ex(o, w->key, &url)) {
            if (json_object_is_type(url, json_type_string) &&
                json_object_get_string_len(url) > 0) {
                waha_media_fetch(&w->a, NULL, json_object_get_string(url),
                                 w->path, w->max, waha_avatar_fetched, w);
                json_object_put(o);
                return;
            }
            r.outcome = NET_OK; /* null or "": none, or hidden */
        } else {
            text = xstrdup("the WAHA server's answer about a profile picture "
                           "could not be read");
        }
        json_object_put(o);
    } else if (h->ok) {
        text = xasprintf("the WAHA server answered HTTP %ld about a profile "
                         "picture",
                         h->status);
        if (h->status >= 400 && h->status < 500 && h->status != 429)
            r.outcome = NET_FAIL;
    } else {
        text = xasprintf("The WAHA server is unreachable: %s", h->error);
    }
    r.text = text;
    if (text != NULL)
        log_info("waha: %s", text);
    w->cb(&r, w->arg);
    free(text);
    waha_avatar_free(w);
}

void waha_avatar(const struct net_account *a, const char *peer,
                 const char *path, long long max, net_result_fn cb, void *arg)
{
    size_t n = peer ? strspn(peer, "0123456789") : 0;
    int group =
        n > 0 && strcmp(peer + strspn(peer, "0123456789-"), "@g.us") == 0;
    struct waha_avatar *w;
    struct net_result r;
    char *chat, *url;

    if (n == 0 || strlen(peer) > 64 || (peer[n] != '\0' && !group)) {
        memset(&r, 0, sizeof(r));
        r.outcome = NET_FAIL;
        r.text = "neither a phone number nor a group";
        cb(&r, arg);
        return;
    }
    w = xcalloc(1, sizeof(*w));
    w->a.id = xstrdup(a->id);
    w->path = xstrdup(path);
    w->max = max;
    w->cb = cb;
    w->arg = arg;
    if (group) {
        w->key = "url";
        url = xasprintf("/api/%s/groups/%s/picture", a->id, peer);
    } else {
        w->key = "profilePictureURL";
        chat = xasprintf("%s@c.us", peer);
        waha_presence_subscribe(a->id, chat);
        url = xasprintf("/api/contacts/profile-picture?contactId=%s&session=%s",
                        chat, a->id);
        free(chat);
    }
    waha_get(url, WAHA_PICTURE_ANSWER_MAX, waha_avatar_answered, w);
    free(url);
}
