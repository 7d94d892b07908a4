/* SPDX-License-Identifier: MIT */
/* Private to the bridge: network to XMPP (bridge_in.c), the webhook's
 * handler that bridge.c routes. */
#ifndef FERRY_BRIDGE_IN_H
#define FERRY_BRIDGE_IN_H

struct httpd_request;
struct httpd_response;

/* GET (the back end's verification) and POST /webhook/<backend>. */
void bridge_webhook(const struct httpd_request *req, struct httpd_response *res,
                    void *arg);

#endif
