/* SPDX-License-Identifier: MIT */
/* The network back-end interface: a const table of functions per HTTP API
 * (Cloud API, later WAHA), found by name, with its capabilities. Back ends
 * turn requests into HTTP and webhooks into events; they know nothing of
 * XMPP. */
#ifndef FERRY_NET_H
#define FERRY_NET_H

#include <stddef.h>

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
    NET_EVENT_MESSAGE,
    NET_EVENT_STATUS,
};

/* One event from a webhook; strings are borrowed for the callback only. */
struct net_event {
    enum net_event_kind kind;
    const char *account;   /* the business account (phone_number_id) */
    const char *id;        /* network message id (wamid) */
    const char *peer;      /* the contact's network id (wa_id digits) */
    const char *peer_name; /* profile name, or NULL */
    long long timestamp;   /* unix seconds */
    /* NET_EVENT_MESSAGE */
    const char *type; /* network message type, e.g. "text" */
    const char *text; /* body, or a readable rendering of other types */
    /* NET_EVENT_STATUS */
    int status;
    int error_code;
    const char *error_text; /* human-readable, for the XMPP user */
};

/* Returns 0, or -1 to make the webhook fail (the network retries). */
typedef int (*net_event_fn)(const struct net_event *ev, void *arg);

enum net_outcome {
    NET_OK,
    NET_RETRY, /* transient: try again later */
    NET_FAIL,  /* permanent for this message */
    NET_AUTH,  /* the account's credentials are not valid */
};

struct net_result {
    enum net_outcome outcome;
    const char *id;   /* network message id on success (sends) */
    const char *info; /* check: the account's display name/number */
    int code;         /* the API's error code, 0 if none */
    const char *text; /* human-readable explanation of a failure */
    int rate_limited; /* slow the whole account down */
    int pair_limited; /* back off this recipient only */
};

typedef void (*net_result_fn)(const struct net_result *r, void *arg);

struct net_account {
    const char *id;    /* phone_number_id */
    const char *token; /* secret */
};

/* Something to do on the network for one contact. */
struct net_out {
    const char *kind; /* "text" or "read" */
    const char *to;   /* contact network id (digits) */
    const char *text; /* text: the body; read: the message id */
};

struct net_backend {
    const char *name;
    size_t max_text; /* characters per text message */
    /* Checks credentials; r->info carries the account's display number. */
    void (*check)(const struct net_account *a, net_result_fn cb, void *arg);
    void (*send)(const struct net_account *a, const struct net_out *m,
                 net_result_fn cb, void *arg);
    /* Webhook GET (verification handshake); fills res. */
    void (*webhook_get)(const struct httpd_request *req,
                        struct httpd_response *res);
    /* 0 when the POST's signature is valid, -1 otherwise (reason in *why). */
    int (*webhook_verify)(const struct httpd_request *req, const char **why);
    /* Parses a verified body and calls fn for each event. 0, or -1 when the
     * body is malformed or fn failed. */
    int (*webhook_parse)(const char *body, size_t len, net_event_fn fn,
                         void *arg);
};

/* Configures every back end from the config. */
void net_configure(const struct conf *conf);
const struct net_backend *net_backend_find(const char *name);

extern const struct net_backend net_cloudapi_backend;
void net_cloudapi_configure(const struct conf *conf);

#endif
