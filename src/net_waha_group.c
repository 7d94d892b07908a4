/* SPDX-License-Identifier: MIT */
/* WAHA's groups (issue 14): GET /api/{session}/groups read the way each
 * engine answers it (an array, or an object keyed by id; ids as strings or
 * {"_serialized"}; roles as "role" or isAdmin/isSuperAdmin; GOWS's
 * capitalised names), with the participants' lids and phone numbers. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "http.h"
#include "json_strict.h"
#include "log.h"
#include "net_backend.h"
#include "net_waha_int.h"
#include "util.h"

#define WAHA_GROUPS_MAX_RESPONSE (16 * 1024 * 1024)
#define WAHA_GROUPS_MAX 4096  /* groups of one account */
#define WAHA_MEMBERS_MAX 2048 /* WhatsApp allows 1024 */
#define WAHA_GROUP_ID_MAX 128

struct waha_groups_call {
    net_groups_fn cb;
    void *arg;
};

/* A list of groups being read: the groups and their members' storage. */
struct waha_groups_list {
    struct net_group *g;
    size_t n, alloc;
    char **owned; /* strings made while reading */
    size_t nowned, owned_alloc;
};

/* Keeps s (taken) until the list is freed; returns it. */
static char *waha_groups_keep(struct waha_groups_list *l, char *s)
{
    if (l->nowned == l->owned_alloc) {
        l->owned_alloc = l->owned_alloc ? 2 * l->owned_alloc : 64;
        l->owned = xrealloc(l->owned, l->owned_alloc * sizeof(char *));
    }
    l->owned[l->nowned++] = s;
    return s;
}

static void waha_groups_list_free(struct waha_groups_list *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        free((void *)l->g[i].members);
    for (i = 0; i < l->nowned; i++)
        free(l->owned[i]);
    free(l->g);
    free(l->owned);
}

/* The first string member among keys, also as {"_serialized": ...}. */
static const char *waha_groups_id(json_object *o, const char *const *keys)
{
    json_object *v;

    for (; *keys != NULL; keys++) {
        v = json_strict_member(o, *keys);
        if (v != NULL && json_object_is_type(v, json_type_object))
            v = json_strict_member(v, "_serialized");
        if (v != NULL && json_object_is_type(v, json_type_string))
            return json_object_get_string(v);
    }
    return NULL;
}

/* 1 when o's member key is a JSON true. */
static int waha_groups_flag(json_object *o, const char *key)
{
    json_object *v = json_strict_member(o, key);

    return v != NULL && json_object_is_type(v, json_type_boolean) &&
           json_object_get_boolean(v);
}

/* The digits before '@' (or ':') of a WhatsApp id of the given domains, as
 * a kept copy, or NULL. */
static const char *waha_groups_digits(struct waha_groups_list *l,
                                      const char *id, const char *domains)
{
    size_t n = id ? strspn(id, "0123456789") : 0;
    const char *at;

    if (n == 0 || n > 32)
        return NULL;
    at = strchr(id + n, '@');
    if (id[n] != '@' && id[n] != ':')
        return NULL;
    if (at == NULL || strstr(domains, at) == NULL)
        return NULL;
    return waha_groups_keep(l, xstrndup(id, n));
}

/* The ferry role of a participant. */
static const char *waha_groups_role(json_object *p)
{
    const char *role = waha_str(p, "role");

    if (waha_groups_flag(p, "isSuperAdmin") ||
        waha_groups_flag(p, "IsSuperAdmin") ||
        (role && strcmp(role, "superadmin") == 0))
        return "owner";
    if (waha_groups_flag(p, "isAdmin") || waha_groups_flag(p, "IsAdmin") ||
        (role && strcmp(role, "admin") == 0))
        return "admin";
    return role && strcmp(role, "left") == 0 ? NULL : "member";
}

/* Reads one participant into m; 0, or -1 to skip it. */
static int waha_groups_member(struct waha_groups_list *l, json_object *p,
                              struct net_member *m, int keep_left)
{
    static const char *const ids[] = {"id", "JID", NULL};
    static const char *const pns[] = {"pn", "PhoneNumber", NULL};
    static const char *const lids[] = {"lid", "LID", NULL};
    const char *id = waha_groups_id(p, ids);
    const char *pn = waha_groups_id(p, pns);
    const char *lid = waha_groups_id(p, lids);

    memset(m, 0, sizeof(*m));
    m->role = waha_groups_role(p);
    if (m->role == NULL && keep_left)
        m->role = "member"; /* one who left, as a member was */
    if (id == NULL || m->role == NULL || strlen(id) > WAHA_GROUP_ID_MAX)
        return -1;
    m->id = id;
    m->lid = waha_groups_digits(l, lid ? lid : id, "@lid");
    m->phone = waha_groups_digits(l, pn ? pn : id, "@c.us @s.whatsapp.net");
    return 0;
}

/* 1 when id is a group id: "<digits>[-<digits>]@g.us". */
static int waha_groups_is_group(const char *id)
{
    size_t n = strspn(id, "0123456789-");

    return n > 0 && n <= WAHA_GROUP_ID_MAX && id[0] != '-' &&
           strcmp(id + n, "@g.us") == 0 && strstr(id, "--") == NULL &&
           id[n - 1] != '-';
}

/* Reads one group (o: its info; key: its id when keyed by it). */
static void waha_groups_one(struct waha_groups_list *l, json_object *o,
                            const char *key)
{
    static const char *const ids[] = {"id", "JID", NULL};
    const char *id = waha_groups_id(o, ids), *subject;
    json_object *ps = json_strict_member(o, "participants");
    struct net_group *g;
    struct net_member *m;
    size_t i, n;

    if (id == NULL)
        id = key;
    if (id == NULL || !json_object_is_type(o, json_type_object) ||
        !waha_groups_is_group(id) || l->n >= WAHA_GROUPS_MAX)
        return;
    subject = waha_str(o, "subject");
    if (subject == NULL)
        subject = waha_str(o, "Name");
    if (subject == NULL)
        subject = waha_str(o, "name");
    if (subject == NULL)
        subject = waha_str(json_strict_member(o, "groupMetadata"), "subject");
    if (ps == NULL)
        ps = json_strict_member(o, "Participants");
    if (ps == NULL)
        ps = json_strict_member(json_strict_member(o, "groupMetadata"),
                                "participants");
    n = ps && json_object_is_type(ps, json_type_array)
            ? json_object_array_length(ps)
            : 0;
    if (n > WAHA_MEMBERS_MAX)
        n = WAHA_MEMBERS_MAX;
    if (l->n == l->alloc) {
        l->alloc = l->alloc ? 2 * l->alloc : 16;
        l->g = xrealloc(l->g, l->alloc * sizeof(*l->g));
    }
    g = &l->g[l->n++];
    g->id = id;
    g->subject = subject ? subject : "";
    m = xcalloc(n ? n : 1, sizeof(*m));
    g->members = m;
    g->nmembers = 0;
    for (i = 0; i < n; i++)
        if (waha_groups_member(l, json_object_array_get_idx(ps, i),
                               &m[g->nmembers], 0) == 0)
            g->nmembers++;
}

/* Reads the answer: an array of groups, or an object keyed by id. */
static void waha_groups_read(struct waha_groups_list *l, json_object *o)
{
    size_t i, n;

    if (json_object_is_type(o, json_type_array)) {
        n = json_object_array_length(o);
        for (i = 0; i < n; i++)
            waha_groups_one(l, json_object_array_get_idx(o, i), NULL);
    } else if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, key, v) waha_groups_one(l, v, key);
    }
}

/* The participants of a group.v2.participants payload p as a group with
 * id (members who left kept, as members). */
static void waha_groups_changed(struct waha_groups_list *l, json_object *p,
                                const char *id)
{
    json_object *ps = json_strict_member(p, "participants");
    size_t i, n = ps && json_object_is_type(ps, json_type_array)
                      ? json_object_array_length(ps)
                      : 0;
    struct net_member *m;

    l->alloc = 1;
    l->g = xcalloc(1, sizeof(*l->g));
    l->n = 1;
    l->g[0].id = id;
    l->g[0].subject = "";
    if (n > WAHA_MEMBERS_MAX)
        n = WAHA_MEMBERS_MAX;
    m = xcalloc(n ? n : 1, sizeof(*m));
    l->g[0].members = m;
    for (i = 0; i < n; i++)
        if (waha_groups_member(l, json_object_array_get_idx(ps, i),
                               &m[l->g[0].nmembers], 1) == 0)
            l->g[0].nmembers++;
}

/* What a group.v2.participants type is to the bridge, or NULL. */
static const char *waha_groups_change(const char *type)
{
    static const char *const map[][2] = {{"join", "add"},
                                         {"leave", "remove"},
                                         {"promote", "promote"},
                                         {"demote", "demote"}};
    size_t i;

    for (i = 0; type != NULL && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i][0], type) == 0)
            return map[i][1];
    return NULL;
}

int waha_groups_event(const char *event, const char *id, const char *session,
                      json_object *p, net_event_fn fn, void *arg)
{
    static const char *const ids[] = {"id", "JID", NULL};
    json_object *g = json_strict_member(p, "group");
    const char *gid = waha_groups_id(g, ids);
    struct waha_groups_list l;
    struct net_event ev;
    int rc = 0;

    memset(&l, 0, sizeof(l));
    memset(&ev, 0, sizeof(ev));
    ev.kind = NET_EVENT_GROUP;
    ev.id = id;
    ev.account = session;
    ev.timestamp = wall_ms() / 1000;
    if (strcmp(event, "group.v2.join") == 0) {
        ev.group_change = "join";
        waha_groups_one(&l, g, NULL);
    } else if (strcmp(event, "group.v2.leave") == 0) {
        ev.group_change = "leave";
    } else if (strcmp(event, "group.v2.update") == 0) {
        ev.group_change = "update";
        if (gid != NULL && waha_groups_is_group(gid))
            waha_groups_changed(&l, p, gid);
        if (l.n == 1)
            l.g[0].subject = waha_str(g, "subject"); /* NULL: unchanged */
    } else {
        ev.group_change = waha_groups_change(waha_str(p, "type"));
        if (gid != NULL && waha_groups_is_group(gid))
            waha_groups_changed(&l, p, gid);
    }
    ev.group_info = l.n == 1 ? &l.g[0] : NULL;
    ev.group = ev.group_info ? ev.group_info->id : gid;
    if (id != NULL && ev.group_change != NULL && ev.group != NULL &&
        waha_groups_is_group(ev.group) &&
        (ev.group_info != NULL || strcmp(ev.group_change, "leave") == 0))
        rc = fn(&ev, arg);
    else
        log_debug("waha: %s event left out", event);
    waha_groups_list_free(&l);
    return rc;
}

int waha_groups_parse(const char *body, size_t len, net_groups_fn cb, void *arg)
{
    json_object *o = json_strict_parse(body, len, WAHA_MAX_DEPTH);
    struct waha_groups_list l;
    struct net_result r;

    if (o == NULL)
        return -1;
    memset(&l, 0, sizeof(l));
    memset(&r, 0, sizeof(r));
    r.outcome = NET_OK;
    waha_groups_read(&l, o);
    cb(&r, l.g, l.n, arg);
    waha_groups_list_free(&l);
    json_object_put(o);
    return 0;
}

static void waha_groups_done(const struct http_result *h, void *arg)
{
    struct waha_groups_call *call = arg;
    struct net_result r;
    char *text = NULL;

    memset(&r, 0, sizeof(r));
    if (h->ok && h->status >= 200 && h->status < 300 &&
        waha_groups_parse(h->body, h->len, call->cb, call->arg) == 0) {
        free(call);
        return;
    }
    r.outcome = NET_RETRY;
    r.code = h->ok ? (int)h->status : 0;
    if (h->ok)
        text = xasprintf("The WAHA server answered HTTP %ld to the list of "
                         "groups",
                         h->status);
    else
        text = xasprintf("The WAHA server is unreachable: %s", h->error);
    r.text = text;
    log_info("waha: %s", text);
    call->cb(&r, NULL, 0, call->arg);
    free(text);
    free(call);
}

void waha_groups(const struct net_account *a, net_groups_fn cb, void *arg)
{
    struct waha_groups_call *call = xcalloc(1, sizeof(*call));
    char *path = xasprintf("/api/%s/groups", a->id);

    call->cb = cb;
    call->arg = arg;
    waha_get(path, WAHA_GROUPS_MAX_RESPONSE, waha_groups_done, call);
    free(path);
}
