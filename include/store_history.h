/* SPDX-License-Identifier: MIT */
/* The history of a team's conversations (issue 16, item 4): what the
 * customer and the members wrote, kept [team] history_days for XEP-0313
 * queries on the contact's JID and for whoever picks a conversation up
 * (store_history.c). */
#ifndef FERRY_STORE_HISTORY_H
#define FERRY_STORE_HISTORY_H

#include <stddef.h>

struct store;

/* One message of a conversation. */
struct store_history {
    long long id; /* the archive's id (XEP-0313 and RSM) */
    long long contact_id;
    char direction; /* 'i' from the customer, 'o' from the team */
    char *sender;   /* 'o': the member who wrote (bare JID); else NULL */
    char *body;
    char *stanza_id;      /* the XMPP stanza id, or NULL */
    char *network_id;     /* the network's message id, or NULL */
    long long created_ms; /* wall clock, ms since the epoch */
};

/* Which messages of a contact a page is taken from: created_ms in
 * [start_ms, end_ms], id in (after, before) (0: no bound); the max
 * nearest after (from the start when before is 0 or last is 0), or the
 * max nearest before (last 1). */
struct store_history_query {
    long long contact_id;
    long long start_ms, end_ms;
    long long after, before;
    int last;
    size_t max;
};

/* Keeps a message; its id, or -1. */
long long store_history_add(struct store *st, long long account_id,
                            const struct store_history *h);
/* Fills in the network id of what a member wrote once the network
 * accepted it (message_id: its row in the message map). 0 or -1. */
int store_history_sent(struct store *st, long long account_id,
                       long long message_id, const char *network_id);
/* Up to max contacts of the account with history, the latest written
 * first, into ids; how many, or -1. */
int store_history_contacts(struct store *st, long long account_id,
                           long long *ids, int max);
/* The page q asks for, oldest first, into a new array *rows (the caller
 * frees it and each row with store_history_free(), even on error); *more
 * is 1 when the set goes on past the page in the direction it was read
 * (later for after/first pages, earlier for before/last ones). 0 or -1. */
int store_history_page(struct store *st, const struct store_history_query *q,
                       struct store_history ***rows, size_t *n, int *more);
/* How many messages of q's contact are in [q->start_ms, q->end_ms]. */
long long store_history_count(struct store *st,
                              const struct store_history_query *q);
/* 1 when id is a message of contact_id, 0 when not, -1 on error. */
int store_history_has(struct store *st, long long contact_id, long long id);
/* Forgets the messages created before before_ms; how many, or -1. */
long long store_history_expire(struct store *st, long long before_ms);
void store_history_free(struct store_history *h);

#endif
