/* SPDX-License-Identifier: MIT */
/* The bridge's outbox jobs: what an outbox row asks for (its kind column)
 * and the one payload type every job's row carries (its payload column,
 * JSON), with one encoder and one decoder. */
#ifndef FERRY_BRIDGE_JOB_H
#define FERRY_BRIDGE_JOB_H

struct json_object;

enum bridge_job_kind {
    BRIDGE_JOB_TEXT,          /* a text to the contact */
    BRIDGE_JOB_REACTION,      /* an emoji on target ("" removes it) */
    BRIDGE_JOB_READ,          /* mark target read */
    BRIDGE_JOB_TYPING,        /* a typing indicator, on target */
    BRIDGE_JOB_MEDIA,         /* a user's file at url, to send */
    BRIDGE_JOB_FETCH,         /* a received file, to fetch and deliver */
    BRIDGE_JOB_ROOM_TEXT,     /* a text to a group, reflected once sent */
    BRIDGE_JOB_EDIT,          /* the user's message stanza_id now says text */
    BRIDGE_JOB_RETRACT,       /* the user's message stanza_id deleted */
    BRIDGE_JOB_ROOM_REACTION, /* an emoji on target in a group, reflected */
    BRIDGE_JOB_ROOM_READ,     /* mark target of a group read */
    BRIDGE_JOB_ROOM_EDIT,     /* the user's text target in a group now says
                                 text, reflected */
    BRIDGE_JOB_ROOM_RETRACT,  /* the user's text target in a group deleted,
                                 reflected */
    BRIDGE_JOB_ROOM_MEDIA,    /* a user's file at url to a group (text: its
                                 caption), reflected */
};

/* Fields a kind does not use stay NULL (0). The strings are borrowed: from
 * the caller for bridge_job_encode(), from json after bridge_job_decode(). */
struct bridge_job {
    enum bridge_job_kind kind;
    const char *text;     /* text; reaction: the emoji; media: the caption */
    const char *target;   /* reaction, read, typing: the network message id */
    const char *reply_to; /* text, media: the quoted network message id */
    const char *url;      /* media: the user's file; fetch: the network's */
    /* fetch */
    const char *wamid;      /* the network message the file came in */
    long long contact;      /* the contact it came from */
    const char *media_id;   /* the network's id of the file */
    const char *media_kind; /* "image", "voice"... */
    const char *mime;       /* as the network announced it, or NULL */
    const char *filename;   /* or NULL */
    const char *caption;    /* or NULL */
    int ordered;            /* its place was kept in the contact's order */
    /* room text: the group, and what the reflection needs: the stanza's
     * id and origin-id, the resource that sent it; edit, retract: the
     * stanza id of the user's message changed (its network id is looked
     * up when the row is sent, after the message itself went) */
    const char *room;
    const char *stanza_id;
    const char *origin_id;
    const char *sender;
    struct json_object *json; /* the decoded payload, or NULL */
};

/* The outbox row kind of a job ("text", "fetch"...). */
const char *bridge_job_name(enum bridge_job_kind kind);
/* What a row of this kind asks of the queue: QUEUE_ROW_* flags (unknown
 * kinds: 0). */
int bridge_job_flags(const char *name);
/* The payload of j. Caller frees. */
char *bridge_job_encode(const struct bridge_job *j);
/* Reads a row's kind and payload into j, to be released with
 * bridge_job_reset(); 0, or -1 when the kind is unknown. A payload that is
 * not a JSON object leaves the fields empty. */
int bridge_job_decode(const char *name, const char *payload,
                      struct bridge_job *j);
void bridge_job_reset(struct bridge_job *j);

#endif
