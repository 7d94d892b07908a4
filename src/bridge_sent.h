/* SPDX-License-Identifier: MIT */
/* Private to the bridge: what became of a send (bridge_sent.c), used by
 * the out and media files. */
#ifndef FERRY_BRIDGE_SENT_H
#define FERRY_BRIDGE_SENT_H

#include "net.h"

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
/* Records the outcome of a send (arg: a struct bridge_send, freed). */
void bridge_send_done(const struct net_result *r, void *arg);
/* bridge_send_done() with outcome and text, for a send that ends before
 * anything went out. */
void bridge_send_end(struct bridge_send *s, enum net_outcome outcome,
                     const char *text);

#endif
