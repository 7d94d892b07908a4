/* SPDX-License-Identifier: MIT */
/* The bridge's files and pictures. Received: the webhook only queues a
 * "fetch" outbox row; the row's job downloads the file through the back
 * end, publishes it (media.c: the XEP-0363 service or ferry's own /media/)
 * and delivers an XEP-0066 message whose body is the URL, then the caption;
 * a file that cannot be passed on becomes a notice. Sent: a "media" row's
 * job downloads the user's file, uploads it to the network and sends it by
 * id. Each job ends its outbox row exactly once. */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "bridge_core.h"
#include "bridge_job.h"
#include "bridge_media.h"
#include "bridge_muc.h"
#include "bridge_sent.h"
#include "bridge_team.h"
#include "component.h"
#include "jid.h"
#include "log.h"
#include "loop.h"
#include "media.h"
#include "message.h"
#include "net.h"
#include "queue.h"
#include "store.h"
#include "util.h"

#define BRIDGE_MIME_MAX 255
/* How long a contact's later messages wait for a file on its way; then a
 * placeholder takes its place and the file follows when it is ready. */
#define BRIDGE_FILE_WAIT_MS 15000

static struct event *bridge_order_timer;

/* "5 MB", "500 KB" or "N bytes". Caller frees. */
static char *bridge_media_size(long long n)
{
    if (n >= 1024 * 1024 && n % (1024 * 1024) == 0)
        return xasprintf("%lld MB", n / (1024 * 1024));
    if (n >= 1024 && n % 1024 == 0)
        return xasprintf("%lld KB", n / 1024);
    return xasprintf("%lld bytes", n);
}

/* ---- network -> XMPP ---- */

/* A received file on its way to the user. */
struct bridge_fetch {
    long long outbox_id, account_id, contact_id;
    char *wamid, *kind, *mime, *filename, *caption;
    char *from, *to; /* the contact's (or room's) JID, the user's bare JID */
    char *room;      /* a group's file: the group, else NULL */
    char *path;      /* the download */
    long long max;
    int ordered; /* its slot and caption were queued with the webhook */
};

/* "A picture", "A voice message"... */
static const char *bridge_fetch_noun(const char *kind)
{
    static const char *const nouns[][2] = {
        {"image", "A picture"},     {"video", "A video"},
        {"audio", "An audio file"}, {"voice", "A voice message"},
        {"document", "A document"}, {"sticker", "A sticker"},
    };
    size_t i;

    for (i = 0; i < sizeof(nouns) / sizeof(nouns[0]); i++)
        if (strcmp(kind, nouns[i][0]) == 0)
            return nouns[i][1];
    return "A file";
}

/* The file's place in the contact's order: a slot holding a placeholder,
 * then its caption, both waiting until the file is ready. */
static int bridge_media_slot(const struct store_account *a,
                             long long contact_id, const char *from,
                             const struct net_event *ev)
{
    char *id = xasprintf("%s-wait", ev->id), *text, *cap_id, *xml;
    long long row;
    int rc = 0;

    text = xasprintf("[%s from WhatsApp is taking a while; it follows when "
                     "it arrives]",
                     bridge_fetch_noun(ev->media->kind));
    xml = message_chat_xml(from, a->jid, id, text);
    row = store_inbox_add_slot(bridge_store(), a->id, contact_id, a->jid, xml,
                               ev->id);
    free(xml);
    if (row > 0 && ev->media->caption != NULL &&
        ev->media->caption[0] != '\0') {
        cap_id = xasprintf("%s-caption", ev->id);
        rc = bridge_inbox_from(
            a->id, contact_id, a->jid, cap_id,
            message_chat_xml(from, a->jid, cap_id, ev->media->caption));
        free(cap_id);
    }
    free(text);
    free(id);
    bridge_media_order_start();
    return row < 0 ? -1 : rc;
}

/* The job that fetches ev's file (1:1 or a group's). */
static struct bridge_job bridge_media_fetch_job(const struct net_event *ev)
{
    const struct net_media *m = ev->media;
    struct bridge_job j = {
        .kind = BRIDGE_JOB_FETCH,
        .wamid = ev->id,
        .media_id = m->id,
        .media_kind = m->kind,
        .mime = m->mime != NULL && strlen(m->mime) <= BRIDGE_MIME_MAX ? m->mime
                                                                      : NULL,
        .filename = m->filename,
        .caption = m->caption,
        .url = m->url,
    };

    return j;
}

int bridge_media_in(const struct store_account *a, long long contact_id,
                    const char *from, const struct net_event *ev)
{
    struct bridge_job j = bridge_media_fetch_job(ev);
    long long id;

    j.contact = contact_id;
    j.ordered = 1;
    /* no contact on the row: a slow download holds up no one's sends */
    id = bridge_outbox_put(0, a->id, 0, 0, &j);
    log_debug("bridge: %s %s queued for fetching", ev->media->kind, ev->id);
    if (id < 0)
        return -1;
    return bridge_media_slot(a, contact_id, from, ev);
}

int bridge_media_in_group(const struct store_account *a, const char *group,
                          const struct net_event *ev)
{
    struct bridge_job j = bridge_media_fetch_job(ev);

    j.room = group;
    log_debug("bridge: %s %s of a group queued for fetching", ev->media->kind,
              ev->id);
    return bridge_outbox_put(0, a->id, 0, 0, &j) < 0 ? -1 : 0;
}

/* A group's file fetched (url) or not (notice): its row in the room gets
 * its body (the URL, after the caption) and lets what waited go. */
static void bridge_fetch_room(const struct bridge_fetch *f, const char *url,
                              const char *notice)
{
    char *body = url == NULL ? xstrdup(notice)
                 : f->caption != NULL && f->caption[0] != '\0'
                     ? xasprintf("%s\n%s", f->caption, url)
                     : xstrdup(url);

    bridge_muc_file_done(f->account_id, f->room, f->wamid, body, url);
    free(body);
}

static void bridge_fetch_free(struct bridge_fetch *f)
{
    free(f->room);
    free(f->wamid);
    free(f->kind);
    free(f->mime);
    free(f->filename);
    free(f->caption);
    free(f->from);
    free(f->to);
    free(f->path);
    free(f);
}

/* The caption, as its own message after the file (or the notice), for a
 * job queued without its place (by an older ferry). */
static void bridge_fetch_caption(const struct bridge_fetch *f)
{
    char *id;

    if (f->ordered || f->caption == NULL || f->caption[0] == '\0')
        return;
    id = xasprintf("%s-caption", f->wamid);
    bridge_inbox(f->account_id, f->to, id,
                 message_chat_xml(f->from, f->to, id, f->caption));
    free(id);
}

/* The file's message or notice o into its slot, which lets what waited
 * behind it go; after the contact's newer messages when the slot gave up
 * waiting. A team's members get it (and its caption) now. */
static void bridge_fetch_deliver(const struct bridge_fetch *f,
                                 struct message_out *o)
{
    char *xml = message_build(o);
    long long c = 0;

    bridge_team_deliver_members(f->account_id, f->contact_id, o, f->caption);
    if (f->ordered)
        c = store_inbox_slot_fill(bridge_store(), f->account_id, f->wamid, xml);
    if (c == 0)
        bridge_inbox_from(f->account_id, f->contact_id, f->to, f->wamid, xml);
    else
        free(xml);
    bridge_fetch_caption(f);
}

/* Tells the user, in the chat with the contact, why a file is missing. */
static void bridge_fetch_notice(const struct bridge_fetch *f, const char *why)
{
    char *text =
        xasprintf("[%s%s%s%s from WhatsApp could not be passed on: "
                  "%s]",
                  bridge_fetch_noun(f->kind), f->filename ? " (" : "",
                  f->filename ? f->filename : "", f->filename ? ")" : "", why);

    struct message_out o = {.from = f->from,
                            .to = f->to,
                            .id = f->wamid,
                            .body = text,
                            .markable = 1};

    store_txn_begin(bridge_store());
    if (f->room != NULL)
        bridge_fetch_room(f, NULL, text);
    else
        bridge_fetch_deliver(f, &o);
    log_info("bridge: %s %s not passed on: %s", f->kind, f->wamid, why);
    free(text);
}

/* A permanent failure: the notice, and the row is done. */
static void bridge_fetch_fail(struct bridge_fetch *f, const char *why)
{
    bridge_fetch_notice(f, why);
    queue_out_done(f->outbox_id);
    bridge_fetch_free(f);
}

/* A transient failure: later, or a notice when ferry gives up. */
static void bridge_fetch_retry(struct bridge_fetch *f, const char *why)
{
    if (queue_out_retry(f->outbox_id, 0, 0, why))
        bridge_fetch_notice(f, "it could not be fetched after many "
                               "attempts");
    else if (f->room != NULL) /* the room's later messages wait no more */
        bridge_muc_file_defer(f->account_id, f->room, f->wamid);
    bridge_fetch_free(f);
}

/* The file is reachable: the XEP-0066 message (body: the URL), then the
 * caption, in the transaction that ends the row. */
static void bridge_fetch_published(const char *url, const char *error,
                                   int retry, void *arg)
{
    struct bridge_fetch *f = arg;
    struct message_out o = {
        .from = f->from, .to = f->to, .id = f->wamid, .markable = 1};

    if (url == NULL && retry) {
        bridge_fetch_retry(f, error);
        return;
    }
    if (url == NULL) {
        bridge_fetch_fail(f, error ? error : "the gateway could not keep it");
        return;
    }
    o.oob_url = url;
    store_txn_begin(bridge_store());
    if (f->room != NULL)
        bridge_fetch_room(f, url, NULL);
    else
        bridge_fetch_deliver(f, &o);
    queue_out_done(f->outbox_id);
    log_debug("bridge: %s %s delivered as a link", f->kind, f->wamid);
    bridge_fetch_free(f);
}

/* The back end's answer: publish the file, or say why not. */
static void bridge_fetch_fetched(const struct net_result *r, void *arg)
{
    struct bridge_fetch *f = arg;
    struct media_file mf = {f->path, f->kind, r->mime ? r->mime : f->mime,
                            f->filename};
    char *limit, *why;

    if (r->outcome != NET_OK)
        media_discard(f->path);
    if (r->outcome == NET_OK) {
        media_publish(&mf, f->from, bridge_fetch_published, f);
    } else if (r->outcome == NET_RETRY) {
        bridge_fetch_retry(f, r->text);
    } else if (r->too_big) {
        limit = bridge_media_size(f->max);
        why = xasprintf("it is larger than the %s the gateway accepts for "
                        "this kind of file",
                        limit);
        bridge_fetch_fail(f, why);
        free(why);
        free(limit);
    } else {
        if (r->outcome == NET_AUTH)
            bridge_auth_failed(f->account_id, r->text);
        bridge_fetch_fail(f, r->text ? r->text : "WhatsApp did not give it");
    }
}

/* The size cap for a received file: its type's, within media.max_size. */
static long long bridge_fetch_limit(const struct net_backend *be,
                                    const char *kind, const char *mime)
{
    long long max = net_media_limit(be, kind, mime);

    return max > 0 && max < media_max_size() ? max : media_max_size();
}

/* A job from a row's payload and store rows; NULL when they are gone. */
static struct bridge_fetch *bridge_fetch_new(const struct store_outbox *o,
                                             const struct bridge_job *j,
                                             const struct store_account *a)
{
    struct store_contact *c =
        j->contact != 0 ? store_contact_by_id(bridge_store(), j->contact)
                        : NULL;
    struct bridge_fetch *f;

    if ((c == NULL && j->room == NULL) || a == NULL || j->wamid == NULL ||
        j->media_kind == NULL) {
        store_contact_free(c);
        return NULL;
    }
    f = xcalloc(1, sizeof(*f));
    f->outbox_id = o->id;
    f->account_id = a->id;
    f->contact_id = c ? c->id : 0;
    f->room = j->room ? xstrdup(j->room) : NULL;
    f->ordered = j->ordered;
    f->wamid = xstrdup(j->wamid);
    f->kind = xstrdup(j->media_kind);
    f->mime = j->mime ? xstrdup(j->mime) : NULL;
    f->filename = j->filename ? xstrdup(j->filename) : NULL;
    f->caption = j->caption ? xstrdup(j->caption) : NULL;
    f->from = c ? bridge_contact_jid(c) : jid_of(j->room, component_jid());
    f->to = xstrdup(a->jid);
    store_contact_free(c);
    return f;
}

void bridge_media_fetch(const struct store_outbox *o,
                        const struct bridge_job *j)
{
    struct store_account *a =
        store_account_by_id(bridge_store(), o->account_id);
    struct bridge_fetch *f = bridge_fetch_new(o, j, a);
    const struct net_backend *be;
    struct net_account na;

    if (f == NULL) {
        log_warn("bridge: fetch job %lld dropped (its account, contact or "
                 "payload is gone)",
                 o->id);
        queue_out_done(o->id);
    } else if (strcmp(a->state, "active") != 0) {
        bridge_fetch_retry(f, "the account is paused");
    } else {
        na.id = a->network_id;
        na.token = a->token;
        be = bridge_backend_of(a);
        f->max = bridge_fetch_limit(be, f->kind, f->mime);
        f->path = media_temp_path();
        be->media_fetch(&na, j->media_id, j->url, f->path, f->max,
                        bridge_fetch_fetched, f);
    }
    store_account_free(a);
}

/* ---- network -> XMPP: files that take too long ---- */

static void bridge_media_order_arm(void)
{
    long long oldest = store_inbox_slot_oldest(bridge_store());
    long long delay = oldest + BRIDGE_FILE_WAIT_MS - wall_ms() + 1;

    if (oldest > 0)
        loop_timer_start(bridge_order_timer, delay > 0 ? delay : 0);
}

/* Slots past their wait give up: their placeholders go, and what waited
 * behind them. */
static void bridge_media_order_due(evutil_socket_t fd, short what, void *arg)
{
    long long n;

    if (store_txn_begin(bridge_store()) == 0) {
        n = store_inbox_slot_expire(bridge_store(),
                                    wall_ms() - BRIDGE_FILE_WAIT_MS);
        if (n > 0)
            log_info("bridge: files for %lld contact(s) take long: "
                     "placeholders sent, later messages released",
                     n);
    }
    bridge_media_order_arm();
}

void bridge_media_order_start(void)
{
    if (bridge_order_timer == NULL)
        bridge_order_timer =
            event_new(loop_base(), -1, 0, bridge_media_order_due, NULL);
    if (!evtimer_pending(bridge_order_timer, NULL))
        bridge_media_order_arm();
}

void bridge_media_order_stop(void)
{
    if (bridge_order_timer != NULL)
        event_free(bridge_order_timer);
    bridge_order_timer = NULL;
}

/* ---- XMPP -> network ---- */

/* A user's file on its way to WhatsApp. */
struct bridge_upload {
    const struct net_backend *be; /* the account's */
    struct bridge_send *s;        /* a contact's send, or NULL (a group's) */
    /* who hears the outcome: bridge_send_done() and s, or a group's */
    net_result_fn done;
    void *arg;
    char *network_id, *token, *to, *caption, *reply_to;
    char *path, *name;
    const struct net_media_type *type;
    long long contact_id, message_id;
};

const char *bridge_media_url(const struct net_backend *be,
                             const struct message_in *in)
{
    const char *u = in->oob_url;

    if (!be->caps.media || be->media_upload == NULL)
        return NULL;
    if (u != NULL && strlen(u) <= MEDIA_URL_MAX &&
        (strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0) &&
        strpbrk(u, " \t\r\n") == NULL)
        return u;
    if (in->body != NULL && media_is_upload_url(in->body))
        return in->body;
    return NULL;
}

static void bridge_upload_free(struct bridge_upload *u)
{
    media_discard(u->path);
    bridge_send_free(u->s); /* NULL once handed on */
    free(u->network_id);
    free(u->token);
    free(u->to);
    free(u->caption);
    free(u->reply_to);
    free(u->path);
    free(u->name);
    free(u);
}

/* Ends the row with outcome and text (the file was not sent). */
static void bridge_upload_end(struct bridge_upload *u, enum net_outcome o,
                              const char *text)
{
    struct net_result r;

    log_info("bridge: a file for %s not sent%s: %s", u->to,
             o == NET_RETRY ? " yet" : "", text);
    memset(&r, 0, sizeof(r));
    r.outcome = o;
    r.text = text;
    u->done(&r, u->arg);
    u->s = NULL;
    bridge_upload_free(u);
}

/* Sends the file by media id (uploaded) or by url (served by ferry),
 * with its caption. */
static void bridge_upload_send(struct bridge_upload *u, const char *media_id,
                               const char *url)
{
    struct net_account na = {u->network_id, u->token};
    struct net_out out;

    memset(&out, 0, sizeof(out));
    out.kind = u->type->kind;
    out.to = u->to;
    out.text = u->s != NULL && u->s->caption != NULL ? NULL : u->caption;
    out.reply_to = u->reply_to;
    out.media_id = media_id;
    out.media_url = url;
    out.media_mime = u->type->mime;
    out.filename = u->name;
    u->be->send(&na, &out, u->done, u->arg);
    u->s = NULL;
    bridge_upload_free(u);
}

/* Uploaded: send it by media id. */
static void bridge_upload_uploaded(const struct net_result *r, void *arg)
{
    struct bridge_upload *u = arg;

    if (r->outcome != NET_OK || r->id == NULL) {
        u->done(r, u->arg);
        u->s = NULL;
        bridge_upload_free(u);
        return;
    }
    bridge_upload_send(u, r->id, NULL);
}

/* Served by ferry under http.public_url/media/: send the link. */
static void bridge_upload_served(const char *url, const char *error, int retry,
                                 void *arg)
{
    struct bridge_upload *u = arg;

    if (url == NULL)
        bridge_upload_end(u, retry ? NET_RETRY : NET_FAIL,
                          error ? error : "the gateway could not serve it");
    else
        bridge_upload_send(u, NULL, url);
}

/* Why a download failed, as an outcome and words. */
static void bridge_upload_download_failed(struct bridge_upload *u,
                                          const struct media_download *d)
{
    char *text, *limit;

    if (d->too_big) {
        limit = bridge_media_size(media_max_size());
        text = xasprintf("The file is larger than the gateway accepts (%s)",
                         limit);
        free(limit);
        bridge_upload_end(u, NET_FAIL, text);
    } else if (d->refused) {
        text = xstrdup("The gateway does not fetch files from addresses in "
                       "its own network; share the file through your "
                       "server's upload service");
        bridge_upload_end(u, NET_FAIL, text);
    } else if (d->status >= 400 && d->status < 500) {
        text = xasprintf("The gateway could not download the file (HTTP "
                         "%ld)",
                         d->status);
        bridge_upload_end(u, NET_FAIL, text);
    } else {
        text = xasprintf("The gateway could not download the file: %s",
                         d->status ? "the server failed" : d->error);
        bridge_upload_end(u, NET_RETRY, text);
    }
    free(text);
}

/* 1 when a name from a URL may be shown to the contact as is. */
static int bridge_upload_name_ok(const char *s)
{
    size_t i, n = s ? strlen(s) : 0;

    if (n == 0 || n > MEDIA_ORIG_NAME_MAX || !utf8_valid(s, n))
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < ' ' || s[i] == '/' || s[i] == '\\')
            return 0;
    return 1;
}

/* 1 when a peer's MIME type may be quoted back: printable ASCII. */
static int bridge_upload_mime_ok(const char *mime)
{
    size_t i;

    if (mime == NULL || mime[0] == '\0' || strlen(mime) > BRIDGE_MIME_MAX)
        return 0;
    for (i = 0; mime[i] != '\0'; i++)
        if ((unsigned char)mime[i] < ' ' || (unsigned char)mime[i] > '~')
            return 0;
    return 1;
}

/* Bytes of a quotable MIME type before its parameters. */
static int bridge_upload_mime_len(const char *mime)
{
    return bridge_upload_mime_ok(mime) ? (int)strcspn(mime, "; ") : 9;
}

/* "pictures", "videos"... */
static const char *bridge_upload_plural(const char *kind)
{
    if (strcmp(kind, "image") == 0)
        return "pictures";
    if (strcmp(kind, "audio") == 0)
        return "audio files";
    if (strcmp(kind, "video") == 0)
        return "videos";
    if (strcmp(kind, "sticker") == 0)
        return "stickers";
    return "documents";
}

/* Downloaded: check type and size against what WhatsApp takes, then
 * upload. */
static void bridge_upload_downloaded(const struct media_download *d, void *arg)
{
    struct bridge_upload *u = arg;
    struct net_account na = {u->network_id, u->token};
    char *text, *limit;

    if (!d->ok) {
        bridge_upload_download_failed(u, d);
        return;
    }
    u->path = xstrdup(d->path);
    u->type = net_media_type_find(u->be, d->mime);
    if (u->type == NULL) /* e.g. application/ogg for a .ogg */
        u->type = net_media_type_find(u->be, media_mime_for_name(d->name));
    if (u->type == NULL) {
        text = xasprintf("WhatsApp does not take files of type %.*s; it takes "
                         "%s",
                         bridge_upload_mime_len(d->mime),
                         bridge_upload_mime_ok(d->mime) ? d->mime : "(unknown)",
                         u->be->media_types_text);
        bridge_upload_end(u, NET_FAIL, text);
        free(text);
        return;
    }
    if (d->size > u->type->max) {
        limit = bridge_media_size(u->type->max);
        text = xasprintf("This file is larger than WhatsApp takes for %s "
                         "(%s)",
                         bridge_upload_plural(u->type->kind), limit);
        bridge_upload_end(u, NET_FAIL, text);
        free(text);
        free(limit);
        return;
    }
    /* WhatsApp shows no caption with these: it follows once the file
     * went (bridge_send_done()) */
    if (u->s != NULL && u->caption != NULL &&
        !net_caption_shown(u->be, u->type->kind))
        u->s->caption = xstrdup(u->caption);
    u->name = bridge_upload_name_ok(d->name)
                  ? xstrdup(d->name)
                  : media_file_name(NULL, u->type->kind, u->type->mime);
    if (u->be->media_by_url != NULL && u->be->media_by_url()) {
        struct media_file f = {.path = u->path,
                               .kind = u->type->kind,
                               .mime = u->type->mime,
                               .name = u->name};

        media_publish(&f, NULL, bridge_upload_served, u);
        return;
    }
    u->be->media_upload(&na, u->path, u->type->mime, u->name,
                        bridge_upload_uploaded, u);
}

/* The largest file any send takes, within media.max_size. */
static long long bridge_upload_cap(const struct net_backend *be)
{
    const struct net_media_type *t;
    long long max = 0;

    for (t = be->media_types; t != NULL && t->mime != NULL; t++)
        if (t->max > max)
            max = t->max;
    return max > 0 && max < media_max_size() ? max : media_max_size();
}

void bridge_media_send(const struct bridge_job *j,
                       const struct store_account *a,
                       const struct store_contact *c, struct bridge_send *s)
{
    struct bridge_upload *u = xcalloc(1, sizeof(*u));

    u->be = bridge_backend_of(a);
    u->s = s;
    u->done = bridge_send_done;
    u->arg = s;
    u->network_id = xstrdup(a->network_id);
    u->token = xstrdup(a->token);
    u->to = xstrdup(c->network_id);
    u->caption = j->text ? xstrdup(j->text) : NULL;
    u->reply_to = j->reply_to ? xstrdup(j->reply_to) : NULL;
    u->contact_id = c->id;
    u->message_id = s->message_id;
    if (j->url == NULL)
        bridge_upload_end(u, NET_FAIL, "The gateway lost this file's link");
    else
        media_download(j->url, bridge_upload_cap(u->be),
                       bridge_upload_downloaded, u);
}

void bridge_media_send_group(const struct store_account *a, const char *group,
                             const char *url, const char *caption,
                             const char *reply_to, net_result_fn done,
                             void *arg)
{
    struct bridge_upload *u = xcalloc(1, sizeof(*u));

    u->be = bridge_backend_of(a);
    u->done = done;
    u->arg = arg;
    u->network_id = xstrdup(a->network_id);
    u->token = xstrdup(a->token);
    u->to = xstrdup(group);
    u->caption = caption ? xstrdup(caption) : NULL;
    u->reply_to = reply_to ? xstrdup(reply_to) : NULL;
    if (url == NULL)
        bridge_upload_end(u, NET_FAIL, "The gateway lost this file's link");
    else
        media_download(url, bridge_upload_cap(u->be), bridge_upload_downloaded,
                       u);
}
