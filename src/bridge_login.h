/* SPDX-License-Identifier: MIT */
/* Private to the bridge: asynchronous logins (bridge_login.c): what the
 * user is told while a back end links their account (a QR code to scan,
 * a pairing code, connected, failed), and a new round. */
#ifndef FERRY_BRIDGE_LOGIN_H
#define FERRY_BRIDGE_LOGIN_H

struct net_event;
struct store_account;

/* A NET_EVENT_LOGIN for account a, inside the webhook's transaction; 0 or
 * -1 (the transaction will not commit). */
int bridge_login_event(const struct net_event *ev,
                       const struct store_account *a);

/* How a new round started: ok, and the words for the user. */
typedef void (*bridge_login_done_fn)(int ok, const char *text, void *arg);
/* Starts account a's login again (the Login command); done(..., arg) once
 * the back end took it. */
void bridge_login_again(const struct store_account *a,
                        bridge_login_done_fn done, void *arg);
/* Ends account a on its network (unregistering), in the background. */
void bridge_login_end(const struct store_account *a);

#endif
