/* SPDX-License-Identifier: MIT */
/* The bridge's outbox jobs: kinds by name, and the payload's JSON both
 * ways. Rows written by older versions read the same: every field keeps
 * its key. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "bridge_job.h"
#include "queue.h"
#include "util.h"

static const struct {
    const char *name;
    int flags;
} bridge_job_table[] = {
    [BRIDGE_JOB_TEXT] = {.name = "text"},
    [BRIDGE_JOB_REACTION] = {.name = "reaction"},
    [BRIDGE_JOB_READ] = {.name = "read"},
    [BRIDGE_JOB_TYPING] = {.name = "typing"},
    [BRIDGE_JOB_MEDIA] = {.name = "media", .flags = QUEUE_ROW_SLOW},
    /* a download: no message to the network */
    [BRIDGE_JOB_FETCH] = {.name = "fetch",
                          .flags = QUEUE_ROW_SLOW | QUEUE_ROW_UNPACED},
    [BRIDGE_JOB_ROOM_TEXT] = {.name = "room_text"},
    [BRIDGE_JOB_EDIT] = {.name = "edit"},
    [BRIDGE_JOB_RETRACT] = {.name = "retract"},
    [BRIDGE_JOB_ROOM_REACTION] = {.name = "room_reaction"},
    [BRIDGE_JOB_ROOM_READ] = {.name = "room_read"},
    [BRIDGE_JOB_ROOM_EDIT] = {.name = "room_edit"},
    [BRIDGE_JOB_ROOM_RETRACT] = {.name = "room_retract"},
    [BRIDGE_JOB_ROOM_MEDIA] = {.name = "room_media", .flags = QUEUE_ROW_SLOW},
};

#define BRIDGE_JOB_NKINDS                                                      \
    (sizeof(bridge_job_table) / sizeof(bridge_job_table[0]))

/* A string field and its key, for both directions. */
#define BRIDGE_JOB_STR(field, key)                                             \
    {                                                                          \
        key, offsetof(struct bridge_job, field)                                \
    }

static const struct {
    const char *key;
    size_t offset;
} bridge_job_strings[] = {
    BRIDGE_JOB_STR(text, "text"),
    BRIDGE_JOB_STR(target, "target"),
    BRIDGE_JOB_STR(reply_to, "reply_to"),
    BRIDGE_JOB_STR(wamid, "wamid"),
    BRIDGE_JOB_STR(media_id, "media_id"),
    BRIDGE_JOB_STR(media_kind, "kind"),
    BRIDGE_JOB_STR(mime, "mime"),
    BRIDGE_JOB_STR(filename, "filename"),
    BRIDGE_JOB_STR(caption, "caption"),
    BRIDGE_JOB_STR(url, "url"),
    BRIDGE_JOB_STR(room, "room"),
    BRIDGE_JOB_STR(stanza_id, "stanza_id"),
    BRIDGE_JOB_STR(origin_id, "origin_id"),
    BRIDGE_JOB_STR(sender, "sender"),
};

#define BRIDGE_JOB_NSTRINGS                                                    \
    (sizeof(bridge_job_strings) / sizeof(bridge_job_strings[0]))

/* The string field number i of j. */
static const char **bridge_job_string(struct bridge_job *j, size_t i)
{
    return (const char **)((char *)j + bridge_job_strings[i].offset);
}

static const char *bridge_job_string_get(const struct bridge_job *j, size_t i)
{
    return *(const char *const *)((const char *)j +
                                  bridge_job_strings[i].offset);
}

const char *bridge_job_name(enum bridge_job_kind kind)
{
    return bridge_job_table[kind].name;
}

/* The kind called name; 0 or -1. */
static int bridge_job_kind_of(const char *name, enum bridge_job_kind *kind)
{
    size_t i;

    for (i = 0; name != NULL && i < BRIDGE_JOB_NKINDS; i++)
        if (strcmp(bridge_job_table[i].name, name) == 0) {
            *kind = (enum bridge_job_kind)i;
            return 0;
        }
    return -1;
}

int bridge_job_flags(const char *name)
{
    enum bridge_job_kind kind;

    return bridge_job_kind_of(name, &kind) == 0 ? bridge_job_table[kind].flags
                                                : 0;
}

char *bridge_job_encode(const struct bridge_job *j)
{
    json_object *o = json_object_new_object();
    const char *v;
    char *s;
    size_t i;

    for (i = 0; i < BRIDGE_JOB_NSTRINGS; i++) {
        v = bridge_job_string_get(j, i);
        if (v != NULL)
            json_object_object_add(o, bridge_job_strings[i].key,
                                   json_object_new_string(v));
    }
    if (j->contact != 0)
        json_object_object_add(o, "contact", json_object_new_int64(j->contact));
    if (j->ordered)
        json_object_object_add(o, "ordered", json_object_new_boolean(1));
    s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

int bridge_job_decode(const char *name, const char *payload,
                      struct bridge_job *j)
{
    json_object *o, *v;
    size_t i;

    memset(j, 0, sizeof(*j));
    if (bridge_job_kind_of(name, &j->kind) < 0)
        return -1;
    o = payload ? json_tokener_parse(payload) : NULL;
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return 0;
    }
    j->json = o;
    for (i = 0; i < BRIDGE_JOB_NSTRINGS; i++)
        if (json_object_object_get_ex(o, bridge_job_strings[i].key, &v) &&
            json_object_is_type(v, json_type_string))
            *bridge_job_string(j, i) = json_object_get_string(v);
    if (json_object_object_get_ex(o, "contact", &v))
        j->contact = json_object_get_int64(v);
    j->ordered = json_object_object_get_ex(o, "ordered", &v) &&
                 json_object_get_boolean(v);
    return 0;
}

void bridge_job_reset(struct bridge_job *j)
{
    json_object_put(j->json);
    memset(j, 0, sizeof(*j));
}
