/* SPDX-License-Identifier: MIT */
/* The network back-end interface: a const table of functions per HTTP API
 * (Cloud API, later WAHA) with its capabilities, and the lookups in such a
 * table. Back ends turn requests into HTTP and webhooks into events; they
 * know nothing of XMPP. The list of back ends is net.h's. */
#ifndef FERRY_NET_BACKEND_H
#define FERRY_NET_BACKEND_H

#include <stddef.h>

#include "login.h"

struct conf;
struct httpd_request;
struct httpd_response;

/* Statuses share the store's numbering (enum store_status). */
enum net_status {
    NET_STATUS_SENT = 1,
    NET_STATUS_DELIVERED = 2,
    NET_STATUS_READ = 3,
    NET_STATUS_FAILED = 4,
};

enum net_event_kind {
    NET_EVENT_MESSAGE,   /* text, or a rendering of another type */
    NET_EVENT_STATUS,    /* sent, delivered, read, failed */
    NET_EVENT_REACTION,  /* emoji on target; "" removes it */
    NET_EVENT_EDIT,      /* text replaces target */
    NET_EVENT_REVOKE,    /* target deleted for everyone */
    NET_EVENT_RENUMBER,  /* the peer now uses new_peer */
    NET_EVENT_LOGIN,     /* an asynchronous login moved on: login */
    NET_EVENT_CHATSTATE, /* the peer types, paused or is active: chatstate
                            (passed on, never stored) */
    NET_EVENT_PRESENCE,  /* the peer is online, or away since last_seen
                            (passed on, never stored) */
    NET_EVENT_GROUP,     /* a group or its members changed: group_change */
};

/* Where an asynchronous login (login_form->async) stands. */
enum net_login {
    NET_LOGIN_CHALLENGE = 1, /* waiting for the user: fetch login_step */
    NET_LOGIN_READY,         /* logged in; text: "+<number> (<name>)" */
    NET_LOGIN_FAILED,        /* the session failed: log in again */
    NET_LOGIN_STOPPED,       /* logged out or stopped: log in again */
    NET_LOGIN_ELSEWHERE,     /* a step the user must take elsewhere; text
                                says what (e.g. a passkey in a browser) */
};

/* An attachment announced by a message (fetched later through the back
 * end's media functions). */
struct net_media {
    const char *kind;     /* "image", "video", "audio", "voice", ... */
    const char *id;       /* network media id */
    const char *mime;     /* may be NULL */
    const char *filename; /* documents; may be NULL */
    const char *caption;  /* may be NULL */
    const char *url;      /* a download URL given with the event, or NULL */
};

/* A type of file the network takes: a MIME type (lower case, without
 * parameters), the kind of message it becomes and its size limit. */
struct net_media_type {
    const char *mime;
    const char *kind; /* "image", "video", "audio", "document", "sticker" */
    long long max;    /* bytes */
};

/* WhatsApp's file types and limits, the same for every back end. */
extern const struct net_media_type net_whatsapp_media_types[];

#define NET_CARD_PHONES 8

/* A shared contact card. */
struct net_card {
    const char *name;
    int nphones;
    struct {
        const char *phone; /* as written on the card */
        const char *type;  /* "CELL", ...; may be NULL */
        const char *peer;  /* network id when on WhatsApp; may be NULL */
    } phones[NET_CARD_PHONES];
};

#define NET_MAX_CARDS 8

/* One event from a webhook; strings are borrowed for the callback only. */
struct net_event {
    enum net_event_kind kind;
    const char *account;   /* the account's network id */
    const char *id;        /* network message id (wamid) */
    const char *peer;      /* the contact's network id (wa_id digits) */
    const char *peer_name; /* profile name, or NULL */
    long long timestamp;   /* unix seconds */
    /* NET_EVENT_MESSAGE and NET_EVENT_EDIT */
    const char *type;     /* network message type, e.g. "text" */
    const char *text;     /* body, or a readable rendering of other types */
    const char *reply_to; /* the quoted message's id, or NULL */
    const char *geo;      /* location: "geo:lat,lon", or NULL */
    const struct net_media *media; /* or NULL */
    int notice; /* text is ferry's description, not the peer's */
    const struct net_card *cards; /* shared contacts, or NULL */
    int ncards;
    /* NET_EVENT_REACTION, NET_EVENT_EDIT, NET_EVENT_REVOKE */
    const char *target; /* the message acted on */
    const char *emoji;  /* reaction; "" when removed */
    /* NET_EVENT_RENUMBER */
    const char *new_peer;
    /* NET_EVENT_CHATSTATE: the XEP-0085 state, "composing", "paused" or
     * "active" */
    const char *chatstate;
    /* NET_EVENT_PRESENCE: 1 when the peer is not online; last_seen: when
     * it last was (unix seconds), 0 when not known */
    int away;
    long long last_seen;
    /* NET_EVENT_LOGIN: where it stands (id: the event's own id, for
     * deduplication; text: what to tell the user, or NULL) */
    enum net_login login;
    /* NET_EVENT_MESSAGE: the business account the account belongs to
     * (the one holding its templates), when the event names it; or NULL */
    const char *business;
    /* NET_EVENT_MESSAGE in a group: the group's network id (as
     * net_group.id) and the author's id in it (as a net_member's id, lid
     * or phone; peer is then the author's phone digits, or NULL when only
     * a lid is known); NULL for 1:1 messages */
    const char *group;
    const char *author;
    /* NET_EVENT_MESSAGE: the user wrote it, elsewhere than through ferry
     * (on the phone); peer is then the contact it went to */
    int from_me;
    /* NET_EVENT_GROUP (id: the event's own, for deduplication; group: the
     * group's id): group_change "join" (the account is now in the group:
     * group_info with its subject and members), "leave" (it no longer
     * is), "add", "remove", "promote", "demote" (group_info's members,
     * roles as they are now), or "update" (group_info's subject: the new
     * one, NULL when it did not change) */
    const char *group_change;
    const struct net_group *group_info;
    /* NET_EVENT_STATUS */
    int status;
    int error_code;
    const char *error_text; /* human-readable, for the XMPP user */
};

/* Returns 0, or -1 to make the webhook fail (the network retries). */
typedef int (*net_event_fn)(const struct net_event *ev, void *arg);

/* An account on the network, as the store keeps it. */
struct net_account {
    const char *id;    /* the account's network id (net_event.account) */
    const char *token; /* its secret, if the back end has one ("" if not) */
};

enum net_outcome {
    NET_OK,
    NET_RETRY, /* transient: try again later */
    NET_FAIL,  /* permanent for this message */
    NET_AUTH,  /* the account's credentials are not valid */
};

struct net_result {
    enum net_outcome outcome;
    const char *id;   /* network message id on success (sends) */
    const char *info; /* login: the account's display name or number */
    const struct net_account *account; /* login, NET_OK: the account to
                                           keep (network id and secret) */
    int code;                          /* the API's error code, 0 if none */
    const char *text; /* human-readable explanation of a failure */
    int rate_limited; /* slow the whole account down */
    int pair_limited; /* back off this recipient only */
    int unknown;      /* send, NET_RETRY: the network may have taken the
                         message (no answer, an unreadable one, a 5xx
                         without the API's error): a retry may duplicate */
    /* login_step: a code for the user to type (info), or an image saved
     * (mime, size) */
    /* media_fetch: what was saved; media_upload: id is the media id */
    const char *mime;
    long long size;
    int too_big; /* the file is over the size limit */
};

typedef void (*net_result_fn)(const struct net_result *r, void *arg);

/* Something to do on the network for one contact. */
struct net_out {
    const char *kind;     /* "text", "read", "typing", "reaction", or a
                             media kind ("image", "document"...) */
    const char *to;       /* contact network id (digits), or a group's
                             (net_group.id) */
    const char *text;     /* text: the body; reaction: the emoji ("" to
                             remove); media: the caption or NULL; read and
                             typing: unused */
    const char *target;   /* read, typing, reaction: the message id */
    const char *reply_to; /* text, media: the quoted message id, or NULL */
    /* text to a group: the members it mentions ("<digits>@c.us", each
     * written "@<digits>" in text), or none */
    const char *const *mentions;
    size_t nmentions;
    const char *media_id; /* media: from media_upload */
    /* media, for a back end whose media_by_url says so (instead of
     * media_id): where the network fetches the file, and its type */
    const char *media_url, *media_mime;
    const char *filename; /* document: the name shown, or NULL */
    /* template: a message template by name and language (text unused),
     * with its body parameters in order; param_names: the placeholders'
     * names for a template whose placeholders are named, else NULL */
    const char *template_name, *language;
    const char *const *params, *const *param_names;
    size_t nparams;
    /* template: the header's parameter, when its header takes one:
     * header_kind "text" (header_value its text, header_name its
     * placeholder's name or NULL), "image", "video" or "document"
     * (header_value the file's https link, or a media id); NULL: none */
    const char *header_kind, *header_value, *header_name;
    /* template: the buttons' parameters (a button without one is left
     * out) */
    const struct net_button_param *buttons;
    size_t nbuttons;
};

/* A template button's parameter in a send. */
struct net_button_param {
    const char *kind; /* "url" (the end of its link), "quick_reply" (the
                         payload sent back when pressed) or "copy_code" */
    size_t index;     /* 0-based, in the template's buttons */
    const char *value;
};

/* A button of a template, as the listing gives it. */
struct net_template_button {
    const char *kind; /* "url", "quick_reply", "copy_code", "phone_number",
                         or another of the network's types, lower case */
    const char *text; /* its label, or NULL */
    int variable;     /* a url button whose link ends with a placeholder */
};

/* A message template of the account's business account (a message
 * approved beforehand, the only kind the network takes outside the
 * window); strings are borrowed for the callback only. */
struct net_template {
    const char *name, *language;
    const char *status;   /* "APPROVED" is the one that can be sent */
    const char *category; /* e.g. "UTILITY", "MARKETING" */
    const char *header, *body, *footer; /* texts, or NULL */
    int named; /* placeholders are names ({{first_name}}), not numbers */
    /* the header's kind: "text", "image", "video", "document", or another
     * of the network's, lower case; NULL: no header */
    const char *header_kind;
    const struct net_template_button *buttons;
    size_t nbuttons;
};

/* The templates of a business account: r->outcome NET_OK with t[0..n-1],
 * or a failure (r->text). */
typedef void (*net_templates_fn)(const struct net_result *r,
                                 const struct net_template *t, size_t n,
                                 void *arg);

/* A member of a group; strings are borrowed for the callback only. */
struct net_member {
    const char *id;    /* the member's id in the group (may be a lid) */
    const char *lid;   /* a hidden linked id (digits), or NULL */
    const char *phone; /* digits, or NULL while only the lid is known */
    const char *role;  /* "owner", "admin" or "member" */
};

/* A group the account is in. */
struct net_group {
    const char *id;      /* network id, e.g. "<digits>@g.us" (jid.h's
                            JID_KIND_GROUP) */
    const char *subject; /* "" when none */
    const struct net_member *members;
    size_t nmembers;
};

/* The account's groups: r->outcome NET_OK with g[0..n-1], or a failure
 * (r->text). */
typedef void (*net_groups_fn)(const struct net_result *r,
                              const struct net_group *g, size_t n, void *arg);

/* A page of the phone numbers the network knows for peer ids that are
 * not numbers: peers[i] (e.g. "<digits>@lid") is phones[i] (digits);
 * last: no page follows (after the last page, or a failure: r->text). */
typedef void (*net_phones_fn)(const struct net_result *r,
                              const char *const *peers,
                              const char *const *phones, size_t n, int last,
                              void *arg);

/* What the network can do; the XMPP side advertises and enforces only
 * this. */
struct net_caps {
    int receipts, read_markers, typing, replies, reactions;
    int edits_in, edits_out, retractions_in, retractions_out;
    int media;
    /* seconds after the contact's last message past which only templates
     * reach the contact (0: no such window) */
    long long window;
    /* media kinds shown without their caption (it is sent as a text after
     * the file), ended by NULL; NULL: none */
    const char *const *uncaptioned;
};

/* A back end. Required: name, login_form, configure, throughput, login,
 * send and the three webhook slots; with caps.media also media_types,
 * media_fetch and media_upload. net_backend_find() refuses a table without
 * them. */
struct net_backend {
    const char *name;
    size_t max_text;    /* characters per text message */
    size_t max_caption; /* characters in a file's caption */
    struct net_caps caps;
    /* Takes the back end's settings from the config (at start-up, by
     * ferry -n and on SIGHUP); 0, or -1 (logged) when they cannot work. */
    int (*configure)(const struct conf *conf);
    /* Messages per second per account: the rate of its token bucket. */
    long long (*throughput)(void);
    /* How a user logs in: the registration form and its words. */
    const struct login_form *login_form;
    /* Logs in with credentials login_check() accepted: checks them with
     * the network, or starts a login that goes on later (login_form->async).
     * On NET_OK, r->account is the account to keep and r->info its display
     * name or number. */
    void (*login)(const struct login_creds *c, net_result_fn cb, void *arg);
    void (*send)(const struct net_account *a, const struct net_out *m,
                 net_result_fn cb, void *arg);
    /* Webhook GET (verification handshake); fills res. */
    void (*webhook_get)(const struct httpd_request *req,
                        struct httpd_response *res);
    /* 0 when the POST's signature is valid, -1 otherwise (reason in *why). */
    int (*webhook_verify)(const struct httpd_request *req, const char **why);
    /* The HTTP status of a POST whose signature is refused (0: 403). */
    int webhook_reject;
    /* Parses a verified body and calls fn for each event. 0, or -1 when the
     * body is malformed or fn failed. */
    int (*webhook_parse)(const char *body, size_t len, net_event_fn fn,
                         void *arg);
    /* The file types sends take, ended by a NULL mime; NULL: none. */
    const struct net_media_type *media_types;
    const char *media_types_text; /* the same, in words, for errors */
    /* Downloads media id (url: one given with the event, or NULL) into
     * path, refusing files over max bytes (r->too_big); r->mime and r->size
     * describe the file. */
    void (*media_fetch)(const struct net_account *a, const char *id,
                        const char *url, const char *path, long long max,
                        net_result_fn cb, void *arg);
    /* Uploads a file for a later send; r->id is its media id. */
    void (*media_upload)(const struct net_account *a, const char *path,
                         const char *mime, const char *filename,
                         net_result_fn cb, void *arg);
    /* Asynchronous logins (login_form->async; required with it): */
    /* What the user needs for the step a NET_LOGIN_CHALLENGE asks for: an
     * image to scan saved into path (r->mime), or a code to type
     * (r->info). */
    void (*login_step)(const struct net_account *a, const char *path,
                       net_result_fn cb, void *arg);
    /* Starts the account's login again from the start (a new QR code). */
    void (*relogin)(const struct net_account *a, net_result_fn cb, void *arg);
    /* Ends the account on the network: logs out and forgets it. Optional
     * for others (NULL: nothing to do). */
    void (*logout)(const struct net_account *a, net_result_fn cb, void *arg);
    /* Optional (NULL: the network has no templates). The approved message
     * templates of business account business (net_event.business, or set
     * by the owner); sends of kind "template" need it. */
    void (*templates)(const struct net_account *a, const char *business,
                      net_templates_fn cb, void *arg);
    /* Optional (NULL: no groups). The groups the account is in, with
     * their members; sends whose net_out.to is a group id go to the
     * group. */
    void (*groups)(const struct net_account *a, net_groups_fn cb, void *arg);
    /* Optional (NULL: no profile pictures). The profile picture of peer
     * (a contact's network id, or a group's net_group.id) saved into path,
     * refusing one over max bytes (r->too_big): NET_OK with r->mime and
     * r->size, r->size 0 when the peer has none or hides it. The network may
     * start sending the peer's presence then. */
    void (*avatar)(const struct net_account *a, const char *peer,
                   const char *path, long long max, net_result_fn cb,
                   void *arg);
    /* Optional (NULL: every peer id is a phone number). The phone number
     * behind a peer id that is not one (a hidden linked id): r->outcome
     * NET_OK with r->info its digits, or NULL when the network does not
     * know it (yet). */
    void (*peer_phone)(const struct net_account *a, const char *peer,
                       net_result_fn cb, void *arg);
    /* Optional (with peer_phone). Every phone number the network knows
     * for such ids, page by page (cb once per page). */
    void (*peer_phones)(const struct net_account *a, net_phones_fn cb,
                        void *arg);
    /* Optional (NULL: never). 1 when file sends take the file by URL
     * (net_out.media_url, served by ferry) rather than by media_upload. */
    int (*media_by_url)(void);
};

/* The name of the first required slot be lacks, or NULL when it has them
 * all. */
const char *net_backend_missing(const struct net_backend *be);
/* 1 when the back end shows a file of kind with its caption. */
int net_caption_shown(const struct net_backend *be, const char *kind);
/* The back end's entry for a MIME type (parameters ignored), or NULL. */
const struct net_media_type *net_media_type_find(const struct net_backend *be,
                                                 const char *mime);
/* The size limit for a received file of kind (e.g. "voice") and MIME type
 * (may be NULL): its type's, else the largest of its kind, else 0. */
long long net_media_limit(const struct net_backend *be, const char *kind,
                          const char *mime);

#endif
