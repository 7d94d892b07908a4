/* SPDX-License-Identifier: MIT */
/* Profile pictures of contacts and of groups' rooms (issues 13 and 14):
 * each picture once, by the SHA-1 of its bytes (the XEP-0153 photo hash),
 * and per contact or room which one it shows and when the network was
 * last asked (store_avatar.c). */
#ifndef FERRY_STORE_AVATAR_H
#define FERRY_STORE_AVATAR_H

#include <stddef.h>

struct store;

#define STORE_AVATAR_HASH 41 /* a SHA-1 in hex, with its NUL */

/* Whose picture: a contact's (id: contact.id) or a room's (room.id). */
enum store_avatar_owner {
    STORE_AVATAR_CONTACT,
    STORE_AVATAR_ROOM,
};

/* The hash of the picture of owner id into hash: 1 when the network was
 * asked (hash "" when there is none or it is hidden), 0 when never, -1 on
 * error. */
int store_avatar_hash(struct store *st, enum store_avatar_owner owner,
                      long long id, char hash[STORE_AVATAR_HASH]);
/* When the network was last asked for it (unix seconds), 0 when never, -1
 * on error. */
long long store_avatar_checked(struct store *st, enum store_avatar_owner owner,
                               long long id);
/* The picture: 1 with *mime, *data (caller frees both) and *len; 0 when
 * there is none (or it is not known); -1 on error. */
int store_avatar_get(struct store *st, enum store_avatar_owner owner,
                     long long id, char **mime, unsigned char **data,
                     size_t *len);
/* Records what the network said at now (unix seconds): the picture is
 * hash ("" for none) with its bytes (data NULL when none, or when the
 * picture is kept already). Pictures nothing shows any more are dropped.
 * 1 when the hash changed, 0 when not, -1 on error. */
int store_avatar_set(struct store *st, enum store_avatar_owner owner,
                     long long id, const char *hash, const char *mime,
                     const void *data, size_t len, long long now);
/* Calls fn(id, account_id, network_id, arg) for up to max contacts on a
 * roster (subscription not 'none'), or rooms (network_id: the group's id),
 * of active accounts of backend whose picture was last asked for before
 * before (never asked first); fn returns non-zero to stop. How many, or
 * -1. */
int store_avatar_due(struct store *st, enum store_avatar_owner owner,
                     const char *backend, long long before, int max,
                     int (*fn)(long long id, long long account_id,
                               const char *network_id, void *arg),
                     void *arg);

#endif
