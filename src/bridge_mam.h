/* SPDX-License-Identifier: MIT */
/* Private to the bridge: what XEP-0313 archives share (bridge_mam.c): a
 * query's form and XEP-0059 set read and checked, its form answered, the
 * <fin/> of a page and a result sent; the team's history and the rooms
 * each keep their own archive. */
#ifndef FERRY_BRIDGE_MAM_H
#define FERRY_BRIDGE_MAM_H

#include <stddef.h>

#include <strophe.h>

#define NS_MAM "urn:xmpp:mam:2"
#define BRIDGE_MAM_PAGE_MAX 100 /* messages per page */

/* A query as asked: times in ms since the epoch (0: open), archive rows
 * (0: none). */
struct bridge_mam_query {
    long long start_ms, end_ms;
    long long after, before;
    int last; /* <before/>: the page ends where the archive does */
    size_t max;
    const char *with;    /* or NULL */
    const char *queryid; /* or NULL */
};

/* Why a query is refused: an error's type, condition and text. */
struct bridge_mam_err {
    const char *type, *cond, *text;
};

/* The archive row an RSM id names into *row; 0, or -1 when the archive
 * has no such id. */
typedef int (*bridge_mam_row_fn)(const char *id, long long *row, void *arg);

/* Reads query (its queryid, form and set) into q; 0, or -1 with *e. */
int bridge_mam_parse(xmpp_stanza_t *query, bridge_mam_row_fn row_of, void *arg,
                     struct bridge_mam_query *q, struct bridge_mam_err *e);
/* Sets *e and returns -1. */
int bridge_mam_fail(struct bridge_mam_err *e, const char *type,
                    const char *cond, const char *text);
/* Answers a get with the query's form. */
void bridge_mam_fields(xmpp_stanza_t *iq);
/* The <fin/> of a page: its first and last ids (NULL: an empty page),
 * the count; complete='true' on the last page only (otherwise absent:
 * older clients take any value for true). The caller releases it. */
xmpp_stanza_t *bridge_mam_fin(const struct bridge_mam_query *q,
                              const char *first, const char *last,
                              long long count, int complete);
/* Sends one result to to from the archive's JID: the stored message
 * inner (XML of a message in jabber:client) with its id and time. */
void bridge_mam_send(const char *to, const char *from, const char *queryid,
                     const char *id, long long stamp_ms, const char *inner);

#endif
