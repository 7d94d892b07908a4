/* SPDX-License-Identifier: MIT */
/* Private to the bridge: the window after a contact's last message and the
 * message templates that reach a contact past it (bridge_tpl.c): the
 * refusal of a free-form message, /templates and /template. On
 * bridge_team.c; the in and out sides call it. */
#ifndef FERRY_BRIDGE_TPL_H
#define FERRY_BRIDGE_TPL_H

#include <strophe.h>

struct message_in;
struct store_account;

/* A message with content (in, stanza st) to a contact who last wrote at
 * last_in_at (unix s, 0: never) while the network takes only templates
 * (more than the back end's window ago): 1 when it was refused with an
 * error saying so and how to send a template, 0 when it may go. */
int bridge_tpl_closed(xmpp_stanza_t *st, const struct message_in *in,
                      const struct store_account *a, long long last_in_at);
/* /templates or /template written to contact_id: 1 when taken (answered
 * later from the contact, never sent as text), 0 when in is something
 * else or the back end has no templates. */
int bridge_tpl_command(const struct message_in *in,
                       const struct store_account *a, long long contact_id);
/* A message event named the business account of a (its templates'
 * holder): kept on the account when it changed. */
void bridge_tpl_business(const struct store_account *a, const char *business);

#endif
