/* SPDX-License-Identifier: MIT */
/* Private to the bridge: files and pictures, both ways (bridge_media.c),
 * used by the in and out files and by bridge.c. */
#ifndef FERRY_BRIDGE_MEDIA_H
#define FERRY_BRIDGE_MEDIA_H

#include "net.h"

struct bridge_job;
struct bridge_send;
struct message_in;
struct net_backend;
struct net_event;
struct store_account;
struct store_contact;
struct store_outbox;

/* Queues the fetch of a received file, and its place (and its caption's)
 * in the contact's order (in the webhook's transaction). from: the
 * contact's JID. 0 or -1. */
int bridge_media_in(const struct store_account *a, long long contact_id,
                    const char *from, const struct net_event *ev);
/* Queues the fetch of a file received in group (its row in the room,
 * which holds the room's later rows back, is the caller's); 0 or -1. */
int bridge_media_in_group(const struct store_account *a, const char *group,
                          const struct net_event *ev);
/* The timer that lets a file that takes too long give up its place. */
void bridge_media_order_start(void);
void bridge_media_order_stop(void);
/* Runs a fetch job (row o): download, publish, OOB message. */
void bridge_media_fetch(const struct store_outbox *o,
                        const struct bridge_job *j);
/* The URL of a file the user's message carries (XEP-0066, or a body that
 * is a link to the upload service), or NULL. */
const char *bridge_media_url(const struct net_backend *be,
                             const struct message_in *in);
/* Runs a media job: download, upload, send by id; s (taken) gets the
 * outcome through bridge_send_done(). */
void bridge_media_send(const struct bridge_job *j,
                       const struct store_account *a,
                       const struct store_contact *c, struct bridge_send *s);

/* Runs a group's media job: download, upload, send to group (the
 * network's group id) as bridge_media_send() does; done(arg) gets the
 * outcome, once. A caption the network does not show with the file is
 * handed to the back end all the same (WAHA drops a voice note's). */
void bridge_media_send_group(const struct store_account *a, const char *group,
                             const char *url, const char *caption,
                             const char *reply_to, net_result_fn done,
                             void *arg);

#endif
