/* SPDX-License-Identifier: MIT */
/* Private to the bridge: XMPP to network (bridge_out.c), called by
 * bridge.c's entry and the queue's dispatch. */
#ifndef FERRY_BRIDGE_OUT_H
#define FERRY_BRIDGE_OUT_H

#include <strophe.h>

struct bridge_job;
struct bridge_send;
struct message_in;
struct store_account;
struct store_contact;

/* A user's message to the contact wa_id: refused at once, or stored as
 * message and outbox rows in the loop turn's transaction. */
void bridge_user_message(xmpp_stanza_t *st, const struct message_in *in,
                         const struct store_account *a, const char *wa_id);
/* The queue's transaction ended (ok 0: rolled back): the user messages it
 * held are bounced. */
void bridge_out_committed(int ok, void *arg);
/* Sends a text, reaction, read or typing job for account a to contact c;
 * s (taken) gets the outcome through bridge_send_done(). */
void bridge_out_send(const struct bridge_job *j, const struct store_account *a,
                     const struct store_contact *c, struct bridge_send *s);

#endif
