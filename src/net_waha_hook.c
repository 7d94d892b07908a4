/* SPDX-License-Identifier: MIT */
/* WAHA's webhooks: X-Webhook-Hmac (HMAC-SHA512 over the raw body, checked
 * in constant time) and the events ferry uses, turned into net events:
 * session.status (the login), message and message.any (1:1 texts; the two
 * carry the same payload.id, which the bridge deduplicates), message.ack
 * (statuses). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "httpd.h"
#include "json_strict.h"
#include "log.h"
#include "net_backend.h"
#include "net_waha_int.h"
#include "util.h"

#define WAHA_PEER_MAX 32 /* digits of a phone number, with room */

int waha_hmac_hex(const char *key, const char *body, size_t len,
                  char hex[WAHA_HMAC_HEX])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0, i;

    if (HMAC(EVP_sha512(), key, (int)strlen(key), (const unsigned char *)body,
             len, mac, &maclen) == NULL ||
        maclen != 64)
        return -1;
    for (i = 0; i < maclen; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 15];
    }
    hex[2 * maclen] = '\0';
    return 0;
}

int waha_signature_ok(const char *key, const char *sig, const char *body,
                      size_t len)
{
    char want[WAHA_HMAC_HEX];

    if (key == NULL || key[0] == '\0' || sig == NULL ||
        strlen(sig) != WAHA_HMAC_HEX - 1 ||
        waha_hmac_hex(key, body, len, want) < 0)
        return 0;
    return CRYPTO_memcmp(sig, want, WAHA_HMAC_HEX - 1) == 0;
}

/* ---- parsing ---- */

struct waha_ctx {
    net_event_fn fn;
    void *arg;
    json_object *root;
    const char *session;
};

/* The "<digits>" of a "<digits>@c.us" chat id into out; -1 for any other
 * id (groups, @lid, broadcasts, channels). */
static int waha_peer(const char *chat, char *out, size_t outlen)
{
    size_t n = chat ? strspn(chat, "0123456789") : 0;

    if (n == 0 || n >= outlen || strcmp(chat + n, "@c.us") != 0)
        return -1;
    memcpy(out, chat, n);
    out[n] = '\0';
    return 0;
}

/* Seconds since the epoch from a number that may be a float, or now. */
static long long waha_seconds(json_object *o)
{
    json_object *t = json_strict_member(o, "timestamp");
    double d;

    if (t == NULL || (!json_object_is_type(t, json_type_int) &&
                      !json_object_is_type(t, json_type_double)))
        return wall_ms() / 1000;
    d = json_object_get_double(t);
    return d > 0 && d < 1e12 ? (long long)d : wall_ms() / 1000;
}

/* The sender's push name as the engine gives it in _data, or NULL. */
static const char *waha_push_name(json_object *p)
{
    json_object *d = json_strict_member(p, "_data");
    const char *n = waha_str(d, "notifyName");

    if (n == NULL)
        n = waha_str(d, "pushName");
    if (n == NULL)
        n = waha_str(json_strict_member(d, "Info"), "PushName");
    return n && n[0] != '\0' ? n : NULL;
}

/* The quoted message's full id, when the payload gives one (a bare or
 * absent replyTo.id quotes nothing the bridge can find). */
static const char *waha_reply_to(json_object *p)
{
    const char *id = waha_str(json_strict_member(p, "replyTo"), "id");

    return id != NULL && strchr(id, '_') != NULL ? id : NULL;
}

/* What a message that is not a plain text shows. */
static const char *waha_notice(json_object *p, int *notice)
{
    *notice = 1;
    if (json_strict_member(p, "location") != NULL &&
        !json_object_is_type(json_strict_member(p, "location"), json_type_null))
        return "(a location, which the gateway cannot show yet)";
    if (json_object_get_boolean(json_strict_member(p, "hasMedia")))
        return "(a file, which the gateway cannot pass on from personal "
               "accounts yet)";
    return "(a message the gateway cannot show)";
}

/* message / message.any: an incoming 1:1 message. The user's own
 * (fromMe: sent from the phone or through ferry) are left out. */
static int waha_message(struct waha_ctx *c, json_object *p)
{
    struct net_event ev;
    char peer[WAHA_PEER_MAX];
    const char *body = waha_str(p, "body");

    if (json_object_get_boolean(json_strict_member(p, "fromMe")))
        return 0;
    if (waha_peer(waha_str(p, "from"), peer, sizeof(peer)) < 0 ||
        waha_str(p, "id") == NULL) {
        log_debug("waha: message from %s left out (not a 1:1 chat with a "
                  "phone number)",
                  waha_str(p, "from") ? waha_str(p, "from") : "nobody");
        return 0;
    }
    memset(&ev, 0, sizeof(ev));
    ev.kind = NET_EVENT_MESSAGE;
    ev.account = c->session;
    ev.id = waha_str(p, "id");
    ev.peer = peer;
    ev.peer_name = waha_push_name(p);
    ev.timestamp = waha_seconds(p);
    ev.type = "text";
    ev.reply_to = waha_reply_to(p);
    if (body != NULL && body[0] != '\0' &&
        !json_object_get_boolean(json_strict_member(p, "hasMedia")))
        ev.text = body;
    else
        ev.text = waha_notice(p, &ev.notice);
    return c->fn(&ev, c->arg);
}

/* message.ack of the user's own message: its status. */
static int waha_ack(struct waha_ctx *c, json_object *p)
{
    static const int status[] = {
        [0] = 0,
        [1] = NET_STATUS_SENT,
        [2] = NET_STATUS_DELIVERED,
        [3] = NET_STATUS_READ,
        [4] = NET_STATUS_READ, /* PLAYED: a voice note was listened to */
    };
    struct net_event ev;
    char peer[WAHA_PEER_MAX];
    json_object *a = json_strict_member(p, "ack");
    int ack = a ? json_object_get_int(a) : 0;

    if (!json_object_get_boolean(json_strict_member(p, "fromMe")) ||
        waha_str(p, "id") == NULL || ack < -1 || ack > 4 ||
        (ack >= 0 && status[ack] == 0))
        return 0;
    memset(&ev, 0, sizeof(ev));
    ev.kind = NET_EVENT_STATUS;
    ev.account = c->session;
    ev.id = waha_str(p, "id");
    ev.peer =
        waha_peer(waha_str(p, "to") ? waha_str(p, "to") : waha_str(p, "from"),
                  peer, sizeof(peer)) == 0
            ? peer
            : NULL;
    ev.timestamp = waha_seconds(p);
    ev.status = ack < 0 ? NET_STATUS_FAILED : status[ack];
    if (ack < 0)
        ev.error_text = "WhatsApp could not deliver it";
    return c->fn(&ev, c->arg);
}

/* "+<digits> (<push name>)" of the envelope's me, into buf. */
static const char *waha_me(struct waha_ctx *c, char *buf, size_t len)
{
    json_object *me = json_strict_member(c->root, "me");
    char peer[WAHA_PEER_MAX];
    const char *name = waha_str(me, "pushName");

    if (waha_peer(waha_str(me, "id"), peer, sizeof(peer)) < 0)
        return NULL;
    if (name != NULL && name[0] != '\0')
        snprintf(buf, len, "+%s (%s)", peer, name);
    else
        snprintf(buf, len, "+%s", peer);
    return buf;
}

/* The login state a session status stands for; 0: none to report. */
static enum net_login waha_login_state(const char *status)
{
    static const struct {
        const char *status;
        enum net_login login;
    } map[] = {
        {"SCAN_QR_CODE", NET_LOGIN_CHALLENGE},
        {"WORKING", NET_LOGIN_READY},
        {"FAILED", NET_LOGIN_FAILED},
        {"STOPPED", NET_LOGIN_STOPPED},
        {"PASSKEY_REQUIRED", NET_LOGIN_ELSEWHERE},
        {"PASSKEY_CONFIRMATION_REQUIRED", NET_LOGIN_ELSEWHERE},
    };
    size_t i;

    for (i = 0; status != NULL && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i].status, status) == 0)
            return map[i].login;
    return 0;
}

/* session.status: where the login stands. */
static int waha_status(struct waha_ctx *c, json_object *p)
{
    const char *status = waha_str(p, "status");
    char me[256], note[256];
    const char *code = waha_str(json_strict_member(p, "data"), "code");
    struct net_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.kind = NET_EVENT_LOGIN;
    ev.account = c->session;
    ev.id = waha_str(c->root, "id");
    ev.login = waha_login_state(status);
    ev.timestamp = wall_ms() / 1000;
    if (ev.login == 0 || ev.id == NULL)
        return 0;
    if (ev.login == NET_LOGIN_READY)
        ev.text = waha_me(c, me, sizeof(me));
    if (ev.login == NET_LOGIN_ELSEWHERE) {
        snprintf(note, sizeof(note),
                 "WhatsApp asks for a passkey, which only a browser can give: "
                 "open web.whatsapp.com on a computer and follow its steps%s%s",
                 code ? "; the confirmation code is " : "", code ? code : "");
        ev.text = note;
    }
    return c->fn(&ev, c->arg);
}

static int waha_event(struct waha_ctx *c)
{
    const char *event = waha_str(c->root, "event");
    json_object *p = json_strict_member(c->root, "payload");

    if (event == NULL || c->session == NULL || p == NULL)
        return -1;
    if (strcmp(event, "session.status") == 0)
        return waha_status(c, p);
    if (strcmp(event, "message") == 0 || strcmp(event, "message.any") == 0)
        return waha_message(c, p);
    if (strcmp(event, "message.ack") == 0)
        return waha_ack(c, p);
    log_debug("waha: event %s left out", event);
    return 0;
}

int waha_webhook_parse(const char *body, size_t len, net_event_fn fn, void *arg)
{
    struct waha_ctx c = {fn, arg, NULL, NULL};
    int rc;

    c.root = json_strict_parse(body, len, WAHA_MAX_DEPTH);
    if (c.root == NULL || !json_object_is_type(c.root, json_type_object)) {
        json_object_put(c.root);
        return -1;
    }
    c.session = waha_str(c.root, "session");
    rc = waha_event(&c);
    json_object_put(c.root);
    return rc < 0 ? -1 : 0;
}
