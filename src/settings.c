/* SPDX-License-Identifier: MIT */
/* A user's settings: a JSON object per account, in the store. Each account's
 * object is parsed once and kept, with the text it came from, until that
 * text changes or the settings are stored anew. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "settings.h"
#include "store.h"
#include "util.h"

/* One account's parsed settings. */
struct settings_entry {
    long long account_id;
    char *json;               /* the text root was parsed from */
    struct json_object *root; /* always an object */
    struct settings_entry *next;
};

static struct settings_entry *settings_cache;

/* The settings text json as a JSON object (a new empty one when it is not
 * readable). Release with json_object_put(). */
static struct json_object *settings_parse(const char *json)
{
    struct json_object *root = json ? json_tokener_parse(json) : NULL;

    if (root == NULL || !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        root = json_object_new_object();
    }
    return root;
}

static void settings_entry_free(struct settings_entry *e)
{
    json_object_put(e->root);
    free(e->json);
    free(e);
}

/* The kept entry of account_id for the text json, parsed anew when the
 * account has none or a different text. */
static struct settings_entry *settings_entry(long long account_id,
                                             const char *json)
{
    struct settings_entry *e;

    for (e = settings_cache; e != NULL; e = e->next)
        if (e->account_id == account_id)
            break;
    if (e == NULL) {
        e = xcalloc(1, sizeof(*e));
        e->account_id = account_id;
        e->next = settings_cache;
        settings_cache = e;
    } else if (strcmp(e->json, json) == 0) {
        return e;
    }
    json_object_put(e->root);
    free(e->json);
    e->json = xstrdup(json);
    e->root = settings_parse(json);
    return e;
}

int settings_get(long long account_id, const char *json, const char *key)
{
    struct settings_entry *e = settings_entry(account_id, json ? json : "");
    struct json_object *v;

    if (json_object_object_get_ex(e->root, key, &v) &&
        json_object_is_type(v, json_type_boolean))
        return json_object_get_boolean(v);
    return 1;
}

char *settings_with(const char *json, const char *key, int on)
{
    struct json_object *root = settings_parse(json);
    char *out;

    json_object_object_add(root, key, json_object_new_boolean(on));
    out = xstrdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    return out;
}

int settings_store(struct store *st, long long account_id, const char *json)
{
    settings_forget(account_id);
    return store_account_set_settings(st, account_id, json);
}

void settings_forget(long long account_id)
{
    struct settings_entry **pp = &settings_cache, *e;

    while ((e = *pp) != NULL) {
        if (e->account_id == account_id) {
            *pp = e->next;
            settings_entry_free(e);
            return;
        }
        pp = &e->next;
    }
}

void settings_free(void)
{
    struct settings_entry *e;

    while ((e = settings_cache) != NULL) {
        settings_cache = e->next;
        settings_entry_free(e);
    }
}
