/* SPDX-License-Identifier: MIT */
/* WAHA's webhooks: X-Webhook-Hmac (HMAC-SHA512 over the raw body, checked
 * in constant time) and the events ferry uses, turned into net events:
 * session.status (the login), message and message.any (1:1 and group
 * messages: texts, files, locations, contact cards, replies, notices; the
 * two carry the same payload.id, which the bridge deduplicates),
 * message.ack (statuses), message.reaction, message.edited,
 * message.revoked, presence.update (chat states) and call.received. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
#define WAHA_ID_MAX 512  /* a full serialized message id */
#define WAHA_CHAT_MAX 48 /* a 1:1 peer: phone digits or "<digits>@lid" */
#define WAHA_LID_DIGITS 32

int waha_hmac_hex(const char *key, const char *body, size_t len,
                  char hex[WAHA_HMAC_HEX])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;

    if (HMAC(EVP_sha512(), key, (int)strlen(key), (const unsigned char *)body,
             len, mac, &maclen) == NULL ||
        maclen != 64)
        return -1;
    util_hex(mac, maclen, hex);
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
    char target[WAHA_ID_MAX]; /* a full id built from a bare one */
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

/* The peer of a 1:1 chat id into out (WAHA_CHAT_MAX bytes): the digits of
 * "<digits>@c.us", or a hidden linked id "<digits>@lid" whole (its number
 * is the bridge's to find); -1 for any other id. */
static int waha_chat_peer(const char *chat, char *out)
{
    size_t n = chat ? strspn(chat, "0123456789") : 0;

    if (n > 0 && n <= WAHA_LID_DIGITS && strcmp(chat + n, "@lid") == 0) {
        memcpy(out, chat, n + 5);
        return 0;
    }
    return waha_peer(chat, out, WAHA_CHAT_MAX);
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

/* 1 when o (may be NULL) is a JSON true. */
static int waha_true(json_object *o)
{
    return o != NULL && json_object_is_type(o, json_type_boolean) &&
           json_object_get_boolean(o);
}

/* The engine's own message object in _data (NOWEB/GOWS: _data.message,
 * GOWS also _data.Message), or NULL. */
static json_object *waha_raw(json_object *p)
{
    json_object *d = json_strict_member(p, "_data");
    json_object *m = json_strict_member(d, "message");

    return m != NULL ? m : json_strict_member(d, "Message");
}

/* What a message event points into, kept until the callback returned. */
struct waha_parts {
    struct net_media media;
    struct net_card cards[NET_MAX_CARDS];
    char *vcard[NET_MAX_CARDS]; /* copies, cut into lines */
    char *geo, *place;
};

static void waha_parts_free(struct waha_parts *w)
{
    size_t i;

    for (i = 0; i < NET_MAX_CARDS; i++)
        free(w->vcard[i]);
    free(w->geo);
    free(w->place);
}

/* A coordinate, a number or (as WAHA gives them) a string, within
 * [-limit, limit]; 0, or -1. */
static int waha_coord(json_object *o, double limit, double *out)
{
    const char *s;
    char *end;

    if (o != NULL && (json_object_is_type(o, json_type_double) ||
                      json_object_is_type(o, json_type_int))) {
        *out = json_object_get_double(o);
    } else if (o != NULL && json_object_is_type(o, json_type_string)) {
        s = json_object_get_string(o);
        *out = strtod(s, &end);
        if (end == s || *end != '\0')
            return -1;
    } else {
        return -1;
    }
    return *out >= -limit && *out <= limit ? 0 : -1;
}

/* A location: payload.location, else the engine's _data form (WEBJS: lat,
 * lng; NOWEB and GOWS: message.locationMessage); a geo: URI, and its name
 * and address as text. 0, or -1 when there is none. */
static int waha_location(struct net_event *ev, struct waha_parts *w,
                         json_object *p)
{
    json_object *l = json_strict_member(p, "location"), *d, *raw;
    const char *lat = "latitude", *lon = "longitude", *name, *addr;
    double la, lo;

    if (l == NULL || !json_object_is_type(l, json_type_object)) {
        d = json_strict_member(p, "_data");
        raw = waha_raw(p);
        l = json_strict_member(raw, "locationMessage");
        if (l == NULL)
            l = json_strict_member(raw, "liveLocationMessage");
        lat = "degreesLatitude";
        lon = "degreesLongitude";
        if (l == NULL && waha_str(d, "type") != NULL &&
            strcmp(waha_str(d, "type"), "location") == 0) {
            l = d;
            lat = "lat";
            lon = "lng";
        }
    }
    if (l == NULL || waha_coord(json_strict_member(l, lat), 90, &la) < 0 ||
        waha_coord(json_strict_member(l, lon), 180, &lo) < 0)
        return -1;
    name = waha_str(l, "name");
    addr = waha_str(l, "address");
    w->geo = xasprintf("geo:%.7f,%.7f", la, lo);
    ev->geo = w->geo;
    ev->text = NULL;
    if ((name != NULL && name[0]) || (addr != NULL && addr[0])) {
        w->place = xasprintf("%s%s%s", name ? name : "",
                             name && name[0] && addr && addr[0] ? "\n" : "",
                             addr ? addr : "");
        ev->text = w->place;
    }
    return 0;
}

/* The value of a vCard parameter list's key=value (e.g. "waid"), cut out
 * of params in place, or NULL. */
static const char *waha_vcard_param(char *params, const char *key)
{
    size_t n = strlen(key);
    char *q;

    for (q = params; q != NULL && *q != '\0'; q = strchr(q, ';')) {
        q += *q == ';';
        if (strncasecmp(q, key, n) == 0 && q[n] == '=') {
            q[n + 1 + strcspn(q + n + 1, ";")] = '\0';
            return q + n + 1;
        }
    }
    return NULL;
}

/* One vCard's FN and TEL lines into c (text is cut up in place). */
static void waha_vcard(char *text, struct net_card *c)
{
    char *line, *next, *colon, *name;
    const char *type;

    for (line = text; line != NULL; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        line[strcspn(line, "\r")] = '\0';
        if ((colon = strchr(line, ':')) == NULL)
            continue;
        *colon = '\0';
        name = strrchr(line, '.') ? strrchr(line, '.') + 1 : line;
        if (strncasecmp(name, "FN", 2) == 0 &&
            (name[2] == '\0' || name[2] == ';'))
            c->name = colon + 1;
        if (strncasecmp(name, "TEL", 3) != 0 || c->nphones >= NET_CARD_PHONES ||
            (name[3] != '\0' && name[3] != ';'))
            continue;
        c->phones[c->nphones].phone = colon + 1;
        /* waid before type: both cut the same list */
        c->phones[c->nphones].peer = waha_vcard_param(name + 3, "waid");
        type = waha_vcard_param(name + 3, "type");
        c->phones[c->nphones].type = type;
        c->nphones++;
    }
}

/* Shared contacts: payload.vCards (vCard texts); how many. */
static int waha_cards(struct net_event *ev, struct waha_parts *w,
                      json_object *p)
{
    json_object *v = json_strict_member(p, "vCards"), *one;
    size_t i, n = 0;

    if (v == NULL || !json_object_is_type(v, json_type_array))
        return 0;
    for (i = 0; i < json_object_array_length(v) && n < NET_MAX_CARDS; i++) {
        one = json_object_array_get_idx(v, i);
        if (one == NULL || !json_object_is_type(one, json_type_string))
            continue;
        w->vcard[n] = xstrdup(json_object_get_string(one));
        waha_vcard(w->vcard[n], &w->cards[n]);
        n++;
    }
    ev->cards = n > 0 ? w->cards : NULL;
    ev->ncards = (int)n;
    return (int)n;
}

/* 1 when id (a chat or participant id) is the account's own, by the
 * envelope's me (id, lid or jid). */
static int waha_is_me(struct waha_ctx *c, const char *id)
{
    json_object *me = json_strict_member(c->root, "me");
    const char *keys[] = {"id", "lid", "jid"}, *v;
    size_t i, n;

    for (i = 0; id != NULL && i < sizeof(keys) / sizeof(keys[0]); i++) {
        v = waha_str(me, keys[i]);
        n = v ? strcspn(v, ":@") : 0; /* "71111111111:1@s.whatsapp.net" */
        if (n > 0 && strncmp(id, v, n) == 0 && id[n] == '@')
            return 1;
    }
    return 0;
}

/* The full id of a message in the 1:1 chat with peer: id itself when it
 * is one ("true_..." or "false_..."), else "<fromMe>_<chat>_<id>" (chat:
 * "<digits>@c.us", or the peer itself when it is a lid) built into
 * c->target, by whose message it was (mine: true). NULL for an id that
 * cannot be one. */
static const char *waha_full_id(struct waha_ctx *c, const char *id,
                                const char *peer, int mine)
{
    int n;

    if (id == NULL || id[0] == '\0')
        return NULL;
    if (strncmp(id, "true_", 5) == 0 || strncmp(id, "false_", 6) == 0)
        return id;
    if (strchr(id, '_') != NULL || strchr(id, '@') != NULL)
        return NULL;
    n = snprintf(c->target, sizeof(c->target), "%s_%s%s_%s",
                 mine ? "true" : "false", peer,
                 strchr(peer, '@') != NULL ? "" : "@c.us", id);
    return n > 0 && (size_t)n < sizeof(c->target) ? c->target : NULL;
}

/* The quoted message's full id: replyTo.id as WAHA gives it, or a bare id
 * (GOWS) made full by whose it was (replyTo.participant); NULL when absent
 * (the message then comes without a reply). */
static const char *waha_reply_to(struct waha_ctx *c, json_object *p,
                                 const char *peer)
{
    json_object *r = json_strict_member(p, "replyTo");

    return waha_full_id(c, waha_str(r, "id"), peer,
                        waha_is_me(c, waha_str(r, "participant")));
}

/* The message an action names: in a group the id as given (the bridge
 * matches its key), else made full. */
static const char *waha_target(struct waha_ctx *c, const struct net_event *ev,
                               const char *id, const char *peer, int mine)
{
    if (ev->group == NULL)
        return waha_full_id(c, id, peer, mine);
    return id != NULL && id[0] != '\0' && strlen(id) < WAHA_ID_MAX ? id : NULL;
}

/* The kind of file a media message carries, from its MIME type and what
 * the engine says of voice notes and stickers. */
static const char *waha_media_kind(json_object *p, const char *mime)
{
    json_object *d = json_strict_member(p, "_data"), *raw = waha_raw(p);
    const char *type = waha_str(d, "type");

    if (waha_true(json_strict_member(d, "ptt")) ||
        (type != NULL && strcmp(type, "ptt") == 0) ||
        waha_true(
            json_strict_member(json_strict_member(raw, "audioMessage"), "ptt")))
        return "voice";
    if ((type != NULL && strcmp(type, "sticker") == 0) ||
        json_strict_member(raw, "stickerMessage") != NULL ||
        (mime != NULL && strncmp(mime, "image/webp", 10) == 0))
        return "sticker";
    if (mime == NULL)
        return "document";
    if (strncmp(mime, "image/", 6) == 0)
        return "image";
    if (strncmp(mime, "video/", 6) == 0)
        return "video";
    if (strncmp(mime, "audio/", 6) == 0)
        return "audio";
    return "document";
}

/* hasMedia: the file WAHA downloaded (media.url, which needs the API key),
 * its caption the body; a notice when WAHA has no file to give. */
static void waha_media(struct net_event *ev, struct net_media *md,
                       json_object *p)
{
    json_object *m = json_strict_member(p, "media");
    const char *body = waha_str(p, "body");

    md->url = waha_str(m, "url");
    md->mime = waha_str(m, "mimetype");
    md->filename = waha_str(m, "filename");
    md->kind = waha_media_kind(p, md->mime);
    md->id = ev->id;
    md->caption = body != NULL && body[0] != '\0' ? body : NULL;
    if (md->url == NULL || (json_strict_member(m, "error") != NULL &&
                            !json_object_is_type(json_strict_member(m, "error"),
                                                 json_type_null))) {
        ev->text = "[a file the WAHA server did not download, so the gateway "
                   "cannot pass it on; it is on the phone]";
        ev->notice = 1;
        return;
    }
    ev->type = md->kind;
    ev->media = md;
    ev->text = md->caption;
}

/* What cannot be shown: polls and view-once messages (as the engines mark
 * them in _data); NULL for anything else. */
static const char *waha_unshown(json_object *p)
{
    json_object *d = json_strict_member(p, "_data"), *raw = waha_raw(p);
    const char *type = waha_str(d, "type");

    if (json_strict_member(d, "pollCreationMessage") != NULL ||
        json_strict_member(raw, "pollCreationMessage") != NULL ||
        json_strict_member(raw, "pollCreationMessageV3") != NULL ||
        (type != NULL && strcmp(type, "poll_creation") == 0))
        return "[a poll, which the gateway cannot show: answer it on the "
               "phone]";
    if (json_strict_member(d, "viewOnceMessageV2") != NULL ||
        json_strict_member(d, "viewOnceMessage") != NULL ||
        json_strict_member(raw, "viewOnceMessageV2") != NULL ||
        json_strict_member(raw, "viewOnceMessage") != NULL ||
        waha_true(json_strict_member(d, "isViewOnce")))
        return "[a view-once message, which can only be opened on the "
               "phone]";
    return NULL;
}

/* Fills ev with what a message shows: a text, a file, a location, contact
 * cards, or a notice. */
static void waha_content(struct net_event *ev, struct waha_parts *w,
                         json_object *p)
{
    const char *body = waha_str(p, "body");

    ev->type = "text";
    if ((ev->text = waha_unshown(p)) != NULL) {
        ev->notice = 1;
    } else if (waha_true(json_strict_member(p, "hasMedia"))) {
        waha_media(ev, &w->media, p);
    } else if (waha_location(ev, w, p) == 0) {
        ev->type = "location";
    } else if (waha_cards(ev, w, p) > 0) {
        ev->type = "contacts";
    } else if (body != NULL && body[0] != '\0') {
        ev->text = body;
    } else {
        ev->text = "[a message the gateway cannot show]";
        ev->notice = 1;
    }
}

/* A message in a group (from: the group) by participant, or author on
 * engines that name it so; mine: one the user wrote on the phone (to: the
 * group), whose author the bridge knows (ev.from_me). */
static int waha_group_message(struct waha_ctx *c, json_object *p,
                              const char *group, int mine)
{
    struct net_event ev;
    struct waha_parts w;
    char peer[WAHA_PEER_MAX];
    const char *author = waha_str(p, "participant");
    int rc;

    if (author == NULL)
        author = waha_str(p, "author");
    if (mine)
        author = NULL; /* the user, whatever the engine calls them */
    if ((author == NULL && !mine) ||
        (author != NULL && strlen(author) > WAHA_PEER_MAX * 4) ||
        strlen(group) > WAHA_PEER_MAX * 4 || waha_str(p, "id") == NULL) {
        log_debug("waha: group message without its author left out");
        return 0;
    }
    memset(&ev, 0, sizeof(ev));
    memset(&w, 0, sizeof(w));
    ev.kind = NET_EVENT_MESSAGE;
    ev.account = c->session;
    ev.id = waha_str(p, "id");
    ev.group = group;
    ev.author = author;
    ev.peer = author != NULL && waha_peer(author, peer, sizeof(peer)) == 0
                  ? peer
                  : NULL;
    ev.peer_name = mine ? NULL : waha_push_name(p); /* mine: the user's */
    ev.from_me = mine;
    ev.timestamp = waha_seconds(p);
    ev.reply_to = waha_target(
        c, &ev, waha_str(json_strict_member(p, "replyTo"), "id"), NULL, 0);
    waha_content(&ev, &w, p);
    rc = c->fn(&ev, c->arg);
    waha_parts_free(&w);
    return rc;
}

/* message / message.any (any): a 1:1 message from the contact, or one the
 * user wrote to the contact on the phone (fromMe, message.any, source
 * app: ev.from_me). */
static int waha_message(struct waha_ctx *c, json_object *p, int any)
{
    struct net_event ev;
    struct waha_parts w;
    char peer[WAHA_CHAT_MAX];
    const char *from = waha_str(p, "from"), *source = waha_str(p, "source");
    size_t n = from ? strlen(from) : 0;
    int rc, mine = waha_true(json_strict_member(p, "fromMe"));

    /* the user's own: only what they wrote on the phone (message.any,
     * source app); ferry's sends (source api, or an id ferry gave) are
     * known already */
    if (mine && (!any || source == NULL || strcmp(source, "app") != 0 ||
                 waha_sent_by_us(waha_str(p, "id"))))
        return 0;
    if (mine)
        from = waha_str(p, "to");
    n = from ? strlen(from) : 0;
    if (n > 5 && strcmp(from + n - 5, "@g.us") == 0)
        return waha_group_message(c, p, from, mine);
    if (waha_chat_peer(from, peer) < 0 || waha_str(p, "id") == NULL) {
        log_debug("waha: message from %s left out (not a 1:1 chat)",
                  waha_str(p, "from") ? waha_str(p, "from") : "nobody");
        return 0;
    }
    memset(&ev, 0, sizeof(ev));
    memset(&w, 0, sizeof(w));
    ev.kind = NET_EVENT_MESSAGE;
    ev.account = c->session;
    ev.id = waha_str(p, "id");
    ev.peer = peer;
    ev.peer_name = mine ? NULL : waha_push_name(p); /* mine: the user's */
    ev.timestamp = waha_seconds(p);
    ev.reply_to = waha_reply_to(c, p, peer);
    ev.from_me = mine;
    waha_content(&ev, &w, p);
    rc = c->fn(&ev, c->arg);
    waha_parts_free(&w);
    return rc;
}

/* The group and author of an action's frame in a group (from:
 * <id>@g.us, by participant) into ev; 0, or -1 when it is not one. */
static int waha_action_group(json_object *frame, struct net_event *ev,
                             char *peer)
{
    const char *from = waha_str(frame, "from");
    const char *author = waha_str(frame, "participant");
    size_t n = from ? strlen(from) : 0;

    if (n <= 5 || strcmp(from + n - 5, "@g.us") != 0 || author == NULL ||
        n > WAHA_PEER_MAX * 4 || strlen(author) > WAHA_PEER_MAX * 4)
        return -1;
    ev->group = from;
    ev->author = author;
    if (waha_peer(author, peer, WAHA_PEER_MAX) < 0)
        peer[0] = '\0';
    return 0;
}

/* The frame of an action by the contact on a message of the 1:1 chat, or
 * by a participant of a group (ev->group set); -1 when it is none ferry
 * shows (the user's own...). */
static int waha_action(struct waha_ctx *c, json_object *frame,
                       struct net_event *ev, char peer[WAHA_CHAT_MAX])
{
    memset(ev, 0, sizeof(*ev));
    if (frame == NULL || waha_true(json_strict_member(frame, "fromMe")) ||
        waha_str(frame, "id") == NULL ||
        (waha_chat_peer(waha_str(frame, "from"), peer) < 0 &&
         waha_action_group(frame, ev, peer) < 0))
        return -1;
    ev->account = c->session;
    ev->id = waha_str(frame, "id");
    ev->peer = peer[0] != '\0' ? peer : NULL;
    ev->peer_name = waha_push_name(frame);
    ev->timestamp = waha_seconds(frame);
    return 0;
}

/* message.reaction: an emoji on a message ("" removes it). */
static int waha_reaction(struct waha_ctx *c, json_object *p)
{
    struct net_event ev;
    char peer[WAHA_CHAT_MAX];
    json_object *r = json_strict_member(p, "reaction");

    if (waha_action(c, p, &ev, peer) < 0)
        return 0;
    ev.kind = NET_EVENT_REACTION;
    ev.target = waha_target(c, &ev, waha_str(r, "messageId"), peer, 1);
    ev.emoji = waha_str(r, "text") ? waha_str(r, "text") : "";
    return ev.target != NULL ? c->fn(&ev, c->arg) : 0;
}

/* message.edited: the contact's message (editedMessageId, a bare id) now
 * says body; payload.id is the edit's own. */
static int waha_edited(struct waha_ctx *c, json_object *p)
{
    struct net_event ev;
    char peer[WAHA_CHAT_MAX];
    const char *body = waha_str(p, "body");

    if (waha_action(c, p, &ev, peer) < 0)
        return 0;
    ev.kind = NET_EVENT_EDIT;
    ev.type = "text";
    ev.target = waha_target(c, &ev, waha_str(p, "editedMessageId"), peer, 0);
    ev.text = body != NULL ? body : "";
    return ev.target != NULL ? c->fn(&ev, c->arg) : 0;
}

/* message.revoked: the contact deleted their message (revokedMessageId,
 * a bare id) for everyone; after is the revoke's own frame. */
static int waha_revoked(struct waha_ctx *c, json_object *p)
{
    struct net_event ev;
    char peer[WAHA_CHAT_MAX];

    if (waha_action(c, json_strict_member(p, "after"), &ev, peer) < 0)
        return 0;
    ev.kind = NET_EVENT_REVOKE;
    ev.target = waha_target(c, &ev, waha_str(p, "revokedMessageId"), peer, 0);
    return ev.target != NULL ? c->fn(&ev, c->arg) : 0;
}

/* The XEP-0085 state a WhatsApp presence stands for, or NULL. */
static const char *waha_chatstate(const char *presence)
{
    static const char *const map[][2] = {
        {"typing", "composing"},
        {"recording", "composing"}, /* a voice note on its way */
        {"paused", "paused"},
        {"online", "active"},
    };
    size_t i;

    for (i = 0; presence != NULL && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i][0], presence) == 0)
            return map[i][1];
    return NULL;
}

/* Turns ev into the NET_EVENT_PRESENCE a presence stands for: "online",
 * or "offline" with lastSeen (unix seconds, or null when hidden); 0 for
 * the others (typing and the like say nothing of it). */
static int waha_availability(json_object *one, struct net_event *ev)
{
    const char *p = waha_str(one, "lastKnownPresence");
    json_object *seen = json_strict_member(one, "lastSeen");
    long long t = 0;

    if (p == NULL || (strcmp(p, "online") != 0 && strcmp(p, "offline") != 0))
        return 0;
    if (seen != NULL && (json_object_is_type(seen, json_type_int) ||
                         json_object_is_type(seen, json_type_double)))
        t = (long long)json_object_get_double(seen);
    ev->kind = NET_EVENT_PRESENCE;
    ev->chatstate = NULL;
    ev->away = strcmp(p, "offline") == 0;
    /* a time in ms, or one not yet come, is not a time last seen */
    ev->last_seen = t > 0 && t <= wall_ms() / 1000 + 60 ? t : 0;
    return 1;
}

/* presence.update of a 1:1 chat: the contact types (or records), paused
 * or is there, as a chat state; online or offline (with the time last
 * seen) as its availability. Groups are left out. */
static int waha_presence(struct waha_ctx *c, json_object *p)
{
    json_object *list = json_strict_member(p, "presences"), *one;
    struct net_event ev;
    char peer[WAHA_CHAT_MAX];
    size_t i, n;

    if (waha_chat_peer(waha_str(p, "id"), peer) < 0 || list == NULL ||
        !json_object_is_type(list, json_type_array))
        return 0;
    n = json_object_array_length(list);
    for (i = 0; i < n; i++) {
        one = json_object_array_get_idx(list, i);
        if (waha_is_me(c, waha_str(one, "participant")))
            continue;
        memset(&ev, 0, sizeof(ev));
        ev.kind = NET_EVENT_CHATSTATE;
        ev.account = c->session;
        ev.id = waha_str(c->root, "id");
        ev.peer = peer;
        ev.timestamp = wall_ms() / 1000;
        ev.chatstate = waha_chatstate(waha_str(one, "lastKnownPresence"));
        if (ev.chatstate != NULL && c->fn(&ev, c->arg) < 0)
            return -1;
        if (waha_availability(one, &ev) && c->fn(&ev, c->arg) < 0)
            return -1;
    }
    return 0;
}

/* call.received: a call the user cannot take here, as a notice. */
static int waha_call(struct waha_ctx *c, json_object *p)
{
    struct net_event ev;
    char peer[WAHA_CHAT_MAX];

    if (waha_chat_peer(waha_str(p, "from"), peer) < 0 ||
        waha_str(p, "id") == NULL)
        return 0;
    memset(&ev, 0, sizeof(ev));
    ev.kind = NET_EVENT_MESSAGE;
    ev.account = c->session;
    ev.id = waha_str(p, "id");
    ev.peer = peer;
    ev.timestamp = waha_seconds(p);
    ev.type = "call";
    ev.text = waha_true(json_strict_member(p, "isVideo"))
                  ? "[missed video call: WhatsApp calls can only be answered "
                    "on the phone]"
                  : "[missed call: WhatsApp calls can only be answered on "
                    "the phone]";
    ev.notice = 1;
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

/* What the user does for a passkey step (code: the confirmation code
 * PASSKEY_CONFIRMATION_REQUIRED carries, or NULL): no XMPP client can
 * sign one. */
static void waha_passkey_note(char *buf, size_t len, const char *code)
{
    if (code != NULL && strlen(code) <= 32 && utf8_valid(code, strlen(code)))
        snprintf(buf, len,
                 "WhatsApp asks you to confirm this login: on your phone, "
                 "check that WhatsApp shows the code %s and confirm it. "
                 "What you write meanwhile waits.",
                 code);
    else
        snprintf(buf, len,
                 "WhatsApp asks for your passkey to link the gateway, which "
                 "your XMPP client cannot give: confirm it on your phone "
                 "(WhatsApp, or the passkey prompt it shows; else open "
                 "web.whatsapp.com in a browser that has it). What you write "
                 "meanwhile waits.");
}

/* session.status: where the login stands. */
static int waha_status(struct waha_ctx *c, json_object *p)
{
    const char *status = waha_str(p, "status");
    char me[256], note[512];
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
    if (ev.login == NET_LOGIN_READY) {
        ev.text = waha_me(c, me, sizeof(me));
        waha_subscriptions_forget(c->session);
    }
    if (ev.login == NET_LOGIN_ELSEWHERE) {
        waha_passkey_note(note, sizeof(note), code);
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
        return waha_message(c, p, strcmp(event, "message.any") == 0);
    if (strcmp(event, "message.ack") == 0)
        return waha_ack(c, p);
    if (strcmp(event, "message.reaction") == 0)
        return waha_reaction(c, p);
    if (strcmp(event, "message.edited") == 0)
        return waha_edited(c, p);
    if (strcmp(event, "message.revoked") == 0)
        return waha_revoked(c, p);
    if (strcmp(event, "presence.update") == 0)
        return waha_presence(c, p);
    if (strcmp(event, "call.received") == 0)
        return waha_call(c, p);
    if (strcmp(event, "group.v2.join") == 0 ||
        strcmp(event, "group.v2.leave") == 0 ||
        strcmp(event, "group.v2.update") == 0 ||
        strcmp(event, "group.v2.participants") == 0)
        return waha_groups_event(event, waha_str(c->root, "id"), c->session, p,
                                 c->fn, c->arg);
    log_debug("waha: event %s left out", event);
    return 0;
}

int waha_webhook_parse(const char *body, size_t len, net_event_fn fn, void *arg)
{
    struct waha_ctx c = {.fn = fn, .arg = arg};
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
