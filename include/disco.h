/* SPDX-License-Identifier: MIT */
/* Service discovery (XEP-0030), ping (XEP-0199) and version (XEP-0092) on
 * the gateway JID and on contact JIDs. */
#ifndef FERRY_DISCO_H
#define FERRY_DISCO_H

struct conf;

void disco_init(const struct conf *conf);
void disco_reconfigure(const struct conf *conf);
/* Adds a feature var advertised by the gateway JID (a static string). */
void disco_feature_add(const char *var);
/* Adds a feature var advertised by contact JIDs (a static string). */
void disco_contact_feature_add(const char *var);
void disco_free(void);

#endif
