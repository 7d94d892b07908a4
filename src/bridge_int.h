/* SPDX-License-Identifier: MIT */
/* Private to the bridge (bridge.c, bridge_out.c, bridge_in.c): its state
 * and the helpers its two directions share. */
#ifndef FERRY_BRIDGE_INT_H
#define FERRY_BRIDGE_INT_H

#include <strophe.h>

struct httpd_request;
struct httpd_response;
struct message_in;
struct net_backend;
struct net_event;
struct net_result;
struct store;
struct store_account;
struct store_contact;
struct store_message;
struct store_outbox;
struct bridge_job;

#define BRIDGE_SEEN_TTL_S (8 * 24 * 3600) /* Meta retries for 7 days */
#define BRIDGE_SNIPPET_CHARS 100          /* quoted in replies */
/* An account whose domain left gateway.allowed_domains: kept, refused. */
#define BRIDGE_DOMAIN_GONE                                                     \
    "Your server's domain is no longer allowed to use this gateway, so "       \
    "nothing is sent to WhatsApp; your registration is kept until the "        \
    "gateway's admin deletes it"

struct bridge_state {
    struct store *st;
    const struct net_backend *be;
    char *webhook_path;
};

extern struct bridge_state bridge;

/* bridge.c: shared helpers */
/* Queues xml (taken) for recipient to in the inbox. id: the stanza id of
 * a message with content, which ferry sends again should the user's
 * server bounce it; NULL for stanzas not worth it (receipts, markers,
 * errors, subscriptions). 0 or -1 (the transaction will not commit). */
int bridge_inbox(long long account_id, const char *to, const char *id,
                 char *xml);
/* bridge_inbox() for a stanza from contact_id: it keeps its place behind
 * the contact's files still on their way. */
int bridge_inbox_from(long long account_id, long long contact_id,
                      const char *to, const char *id, char *xml);
/* The JID of a contact (caller frees). */
char *bridge_contact_jid(const struct store_contact *c);
/* Marks a message failed and bounces an error to its sender. */
void bridge_fail_message(long long message_id, const char *condition,
                         const char *text);
/* The token was refused: the account stops, its user is told once. */
void bridge_auth_failed(long long account_id, const char *text);
/* 1 unless the account's settings JSON turns key off. */
int bridge_setting(const struct store_account *a, const char *key);
/* The start of text, at most BRIDGE_SNIPPET_CHARS characters (caller
 * frees). */
char *bridge_snippet(const char *text);
/* Puts job j in the outbox as row id (0: a new row) of the account, the
 * contact (0: none) and the message (0: none); its id, or -1. */
long long bridge_outbox_put(long long id, long long account_id,
                            long long contact_id, long long message_id,
                            const struct bridge_job *j);
/* Adds the message row m (all but its snippet filled in), with the
 * snippet of text (NULL: none); its id, or -1. */
long long bridge_message_add(struct store_message *m, const char *text);

/* bridge_out.c: XMPP -> network */
/* An outbox row being sent, until its outcome is recorded. */
struct bridge_send {
    long long outbox_id;
    long long account_id;
    long long contact_id;
    long long message_id;
    int unknown; /* an earlier attempt's outcome is unknown */
    /* a caption WhatsApp does not show with this kind of file: sent as a
     * text once the file is accepted, or named in the failure's bounce */
    char *caption;
};

void bridge_send_free(struct bridge_send *s);

void bridge_send(const struct store_outbox *o, void *arg);
/* Records the outcome of a send (arg: a struct bridge_send, freed). */
void bridge_send_done(const struct net_result *r, void *arg);
/* The queue's transaction ended (ok 0: rolled back): the user messages it
 * held are bounced. */
void bridge_out_committed(int ok, void *arg);
void bridge_user_message(xmpp_stanza_t *st, const struct message_in *in,
                         const struct store_account *a, const char *wa_id);

/* bridge_in.c: network -> XMPP */
void bridge_apply_status(struct store_message *m, int status, int error_code,
                         const char *error_text);
void bridge_webhook(const struct httpd_request *req, struct httpd_response *res,
                    void *arg);

/* bridge_media.c: files and pictures, both ways */
/* Queues the fetch of a received file, and its place (and its caption's)
 * in the contact's order (in the webhook's transaction). from: the
 * contact's JID. 0 or -1. */
int bridge_media_in(const struct store_account *a, long long contact_id,
                    const char *from, const struct net_event *ev);
/* The timer that lets a file that takes too long give up its place. */
void bridge_media_order_start(void);
void bridge_media_order_stop(void);
/* Runs a fetch job (row o): download, publish, OOB message. */
void bridge_media_fetch(const struct store_outbox *o,
                        const struct bridge_job *j);
/* The URL of a file the user's message carries (XEP-0066, or a body that
 * is a link to the upload service), or NULL. */
const char *bridge_media_url(const struct message_in *in);
/* Runs a media job (row o): download, upload, send by id; s (taken) gets
 * the outcome through bridge_send_done(). */
void bridge_media_send(const struct bridge_job *j,
                       const struct store_account *a,
                       const struct store_contact *c, struct bridge_send *s);

#endif
