/* SPDX-License-Identifier: MIT */
/* Contacts' profile pictures (issue 13, item 5): each picture once, by the
 * SHA-1 of its bytes (the XEP-0153 photo hash), and per contact which one
 * it shows and when the network was last asked (store_avatar.c). */
#ifndef FERRY_STORE_AVATAR_H
#define FERRY_STORE_AVATAR_H

#include <stddef.h>

struct store;

#define STORE_AVATAR_HASH 41 /* a SHA-1 in hex, with its NUL */

/* The hash of contact_id's picture into hash: 1 when the network was asked
 * (hash "" when the contact has no picture or hides it), 0 when never,
 * -1 on error. */
int store_avatar_hash(struct store *st, long long contact_id,
                      char hash[STORE_AVATAR_HASH]);
/* When the network was last asked for contact_id's picture (unix seconds),
 * 0 when never, -1 on error. */
long long store_avatar_checked(struct store *st, long long contact_id);
/* contact_id's picture: 1 with *mime, *data (caller frees both) and *len;
 * 0 when it has none (or it is not known); -1 on error. */
int store_avatar_get(struct store *st, long long contact_id, char **mime,
                     unsigned char **data, size_t *len);
/* Records what the network said at now (unix seconds): the contact's
 * picture is hash ("" for none) with its bytes (data NULL when none, or
 * when the picture is kept already). Pictures no contact shows any more
 * are dropped. 1 when the hash changed, 0 when not, -1 on error. */
int store_avatar_set(struct store *st, long long contact_id, const char *hash,
                     const char *mime, const void *data, size_t len,
                     long long now);
/* Calls fn(contact_id, account_id, network_id, arg) for up to max contacts
 * on a roster (subscription not 'none') of active accounts of backend
 * whose picture was last asked for before before (never asked first); fn
 * returns non-zero to stop. How many, or -1. */
int store_avatar_due(struct store *st, const char *backend, long long before,
                     int max,
                     int (*fn)(long long contact_id, long long account_id,
                               const char *network_id, void *arg),
                     void *arg);

#endif
