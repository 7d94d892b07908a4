/* SPDX-License-Identifier: MIT */
/* The bridge: the only module that sees both the XMPP side and the network
 * side. XMPP -> outbox -> network; network -> inbox -> XMPP. */
#ifndef FERRY_BRIDGE_H
#define FERRY_BRIDGE_H

struct conf;
struct net_set;
struct store;

/* Wires the component, registration, roster, queue and the back ends'
 * webhook routes together, on the back ends net_open() gave (set: at
 * least one). 0. */
int bridge_init(struct store *st, const struct conf *conf,
                const struct net_set *set);
void bridge_reconfigure(const struct conf *conf);
/* Shutdown: unavailable presence from the gateway and every contact. */
void bridge_stop(void);
void bridge_free(void);

#endif
