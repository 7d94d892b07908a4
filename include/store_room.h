/* SPDX-License-Identifier: MIT */
/* Rooms (issue 14): the network's groups an account is in, each seen by
 * its user alone, with their members (store_room.c). */
#ifndef FERRY_STORE_ROOM_H
#define FERRY_STORE_ROOM_H

#include <stddef.h>

struct store;

/* A group as one account sees it. */
struct store_room {
    long long id;
    long long account_id;
    char *group_id; /* the network's group id, without a domain */
    char *subject;  /* "" when none */
};

/* A member of a room. */
struct store_member {
    char *participant; /* the network's id of the member in the group */
    char *lid;         /* a hidden linked id, or NULL */
    char *phone;       /* digits, or NULL while only the lid is known */
    char *push_name;   /* or NULL */
    char *role;        /* "owner", "admin" or "member" */
    int self;          /* the account itself */
};

/* A member to set (strings borrowed). */
struct store_member_in {
    const char *participant, *lid, *phone, *push_name, *role;
    int self;
};

/* Adds the room or updates its subject; its id, or -1. */
long long store_room_put(struct store *st, long long account_id,
                         const char *group_id, const char *subject);
/* Replaces the room's members with m[0..n-1]; 0 or -1. */
int store_room_members_set(struct store *st, long long room_id,
                           const struct store_member_in *m, size_t n);
/* Forgets the account's rooms not in keep[0..n-1] (group ids); 0 or -1. */
int store_room_keep(struct store *st, long long account_id,
                    const char *const *keep, size_t n);
/* The account's room for group_id, or NULL. */
struct store_room *store_room_get(struct store *st, long long account_id,
                                  const char *group_id);
/* The room room_id, or NULL. */
struct store_room *store_room_by_id(struct store *st, long long room_id);
/* The account's rooms by subject (at most max): 0 or -1; the caller frees
 * *rows and each row, even on error. */
int store_room_list(struct store *st, long long account_id, size_t max,
                    struct store_room ***rows, size_t *n);
/* The room's members (at most max), in the order they were set. */
int store_room_members(struct store *st, long long room_id, size_t max,
                       struct store_member ***rows, size_t *n);
/* Sets the push name of the member whose id, lid or phone is who. */
int store_room_member_name(struct store *st, long long room_id, const char *who,
                           const char *push_name);
/* The account's rooms with a member whose lid is lid (digits) and whose
 * number is not known (at most max): 0 or -1; the caller frees *ids. */
int store_room_lid_rooms(struct store *st, long long account_id,
                         const char *lid, size_t max, long long **ids,
                         size_t *n);
/* Sets the number (digits) of the room's member whose lid is lid, when it
 * had none; 0 or -1. */
int store_room_member_phone(struct store *st, long long room_id,
                            const char *lid, const char *phone);
/* Notes that the user was told of a mention in the room: 1 when they had
 * not been since they last joined it (tell them), 0 when they had, -1. */
int store_room_notice_take(struct store *st, long long room_id);
/* The user joined the room: the next mention is told again; 0 or -1. */
int store_room_notice_reset(struct store *st, long long room_id);
/* A message of a room, or an action on one. */
struct store_room_message {
    long long id;
    char *network_id;
    char *author;    /* the author's id in the group (store_member's) */
    char *body;      /* a text; a reaction's emoji; an edit's new text */
    long long stamp; /* the network's time, s */
    char *kind;      /* "text", "reaction", "edit", "retract", "moderate" */
    char *target;    /* the network id acted on (a text: quoted), or NULL */
    char *key;       /* the network's key of the message (NULL: its id) */
    char *xmpp_id;   /* the user's own: the stanza's id, or NULL */
    char *origin_id; /* the user's own: the XEP-0359 origin-id, or NULL */
    char *url;       /* a file's URL (XEP-0066), or NULL */
};

/* A row of a room to keep (strings borrowed), as store_room_message. */
struct store_room_message_in {
    const char *network_id, *author, *body, *kind, *target, *key, *xmpp_id,
        *origin_id, *url;
    long long stamp;
    int waiting; /* 1: a file being fetched; 2: held behind one */
};

/* Keeps m in the room (pending: no resource is in the room); its id, 0
 * when the room has its network id already, or -1. */
long long store_room_message_put(struct store *st, long long room_id,
                                 const struct store_room_message_in *m,
                                 int pending);
/* m's fields into in (borrowed from m). */
void store_room_message_in_of(const struct store_room_message *m,
                              struct store_room_message_in *in);
/* Keeps a text of the room, as store_room_message_put(). */
long long store_room_message_add(struct store *st, long long room_id,
                                 const char *network_id, const char *author,
                                 const char *body, long long stamp,
                                 int pending);
/* The room's text whose key is key, or NULL. */
struct store_room_message *
store_room_message_find(struct store *st, long long room_id, const char *key);
/* The user's own text of the room that a client sent with the stanza id or
 * origin-id id (the latest, if several), or NULL. */
struct store_room_message *
store_room_message_mine(struct store *st, long long room_id, const char *id);
/* The room's pending messages, oldest first (at most max). */
int store_room_pending(struct store *st, long long room_id, size_t max,
                       struct store_room_message ***rows, size_t *n);
/* The room's latest rows (at most max) whose time is since or later,
 * newest first: 0 or -1; the caller frees *rows and each row. */
int store_room_recent(struct store *st, long long room_id, long long since,
                      size_t max, struct store_room_message ***rows, size_t *n);
/* A page of a room's archive: times in ms (end 0: open), rows after and
 * before ids (0: none); last: the page ends where the archive does. */
struct store_room_query {
    long long room_id;
    long long start_ms, end_ms;
    long long after, before;
    int last;
    size_t max;
};

/* The page q, oldest first; *more when rows are left past it: 0 or -1;
 * the caller frees *rows and each row. */
int store_room_page(struct store *st, const struct store_room_query *q,
                    struct store_room_message ***rows, size_t *n, int *more);
/* How many rows of q's room are in its times, or -1. */
long long store_room_count(struct store *st, const struct store_room_query *q);
/* Replaces the text of the room's message network_id, and of its
 * corrections, with body (it was deleted); 0 or -1. */
int store_room_message_blank(struct store *st, long long room_id,
                             const char *network_id, const char *body);
/* Forgets the room, its members and messages; 0 or -1. */
int store_room_delete(struct store *st, long long room_id);
/* The account's phone digits as a room's member row says, or NULL.
 * Caller frees. */
char *store_room_self_phone(struct store *st, long long account_id);
/* The row of the room's message network_id, 0 when none, or -1. */
long long store_room_message_row(struct store *st, long long room_id,
                                 const char *network_id);
/* Forgets every room's rows older than before (unix seconds): how many,
 * or -1. */
int store_room_expire(struct store *st, long long before);
/* 1 when a file of the room is being fetched and holds the rows after it
 * back, 0 when none, -1. */
int store_room_holding(struct store *st, long long room_id);
/* The file network_id of the room was fetched (or failed: url NULL): its
 * body and url, and it waits only for the files before it; 0 or -1. */
int store_room_file_end(struct store *st, long long room_id,
                        const char *network_id, const char *body,
                        const char *url);
/* The file network_id of the room is fetched again later: it holds the
 * rows after it back no longer; 0 or -1. */
int store_room_file_defer(struct store *st, long long room_id,
                          const char *network_id);
/* The room's rows that waited and wait no longer (held behind no file),
 * oldest first (at most max); 0 or -1. */
int store_room_released(struct store *st, long long room_id, size_t max,
                        struct store_room_message ***rows, size_t *n);
/* The room's released rows up to id wait no more: pending when no
 * resource is in the room; 0 or -1. */
int store_room_release_mark(struct store *st, long long room_id,
                            long long up_to, int pending);
/* Marks the room's messages up to id as delivered; 0 or -1. */
int store_room_pending_clear(struct store *st, long long room_id,
                             long long up_to);
void store_room_message_free(struct store_room_message *m);
void store_room_free(struct store_room *r);
void store_member_free(struct store_member *m);

#endif
