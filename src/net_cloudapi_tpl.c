/* SPDX-License-Identifier: MIT */
/* The Cloud API's message templates (reference part E): the listing of a
 * WhatsApp Business Account's templates, every page of it, and the
 * "template" object of a template send (header, body and button
 * parameters). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "http.h"
#include "json_strict.h"
#include "log.h"
#include "net_cloudapi_int.h"
#include "util.h"

#define CLOUDAPI_TPL_TIMEOUT_MS 15000
#define CLOUDAPI_TPL_MAX_RESPONSE (512 * 1024)
#define CLOUDAPI_TPL_MAX_PAGES 10
#define CLOUDAPI_TPL_MAX 500 /* templates kept from one listing */
#define CLOUDAPI_TPL_ID_MAX 32
#define CLOUDAPI_TPL_BUTTONS 10 /* a template has at most 10 */
#define CLOUDAPI_TPL_KIND_MAX 32

/* One template as the listing gave it (owned copies). */
struct cloudapi_tpl {
    char *name, *language, *status, *category, *header, *body, *footer;
    int named;
    char *header_kind;
    struct net_template_button buttons[CLOUDAPI_TPL_BUTTONS];
    size_t nbuttons;
};

/* A listing in flight. */
struct cloudapi_tpl_list {
    net_templates_fn cb;
    void *arg;
    char *token;
    struct cloudapi_tpl *t;
    size_t n;
    int pages;
};

const char *cloudapi_template_business(const char *id)
{
    size_t n;

    if (id == NULL)
        return NULL;
    n = strlen(id);
    if (n == 0 || n > CLOUDAPI_TPL_ID_MAX || strspn(id, "0123456789") != n)
        return NULL;
    return id;
}

static char *cloudapi_tpl_dup(const char *s)
{
    return s != NULL ? xstrdup(s) : NULL;
}

/* The text of the component of type type (HEADER: a TEXT one only). */
static const char *cloudapi_tpl_text(json_object *components, const char *type)
{
    size_t i, n;
    json_object *c;
    const char *t, *format;

    if (components == NULL || !json_object_is_type(components, json_type_array))
        return NULL;
    n = json_object_array_length(components);
    for (i = 0; i < n; i++) {
        c = json_object_array_get_idx(components, i);
        t = cloudapi_str(c, "type");
        format = cloudapi_str(c, "format");
        if (t == NULL || strcasecmp(t, type) != 0)
            continue;
        if (format != NULL && strcasecmp(format, "TEXT") != 0)
            return NULL;
        return cloudapi_str(c, "text");
    }
    return NULL;
}

/* The component of type type, or NULL. */
static json_object *cloudapi_tpl_component(json_object *components,
                                           const char *type)
{
    size_t i, n;
    json_object *c;
    const char *t;

    if (components == NULL || !json_object_is_type(components, json_type_array))
        return NULL;
    n = json_object_array_length(components);
    for (i = 0; i < n; i++) {
        c = json_object_array_get_idx(components, i);
        t = cloudapi_str(c, "type");
        if (t != NULL && strcasecmp(t, type) == 0)
            return c;
    }
    return NULL;
}

/* A type of the API ("QUICK_REPLY") in lower case, bounded; NULL if
 * absent. Caller frees. */
static char *cloudapi_tpl_kind(const char *type)
{
    char *k;
    size_t i;

    if (type == NULL || type[0] == '\0')
        return NULL;
    k = xstrndup(type, strnlen(type, CLOUDAPI_TPL_KIND_MAX));
    for (i = 0; k[i] != '\0'; i++)
        if (k[i] >= 'A' && k[i] <= 'Z')
            k[i] = (char)(k[i] - 'A' + 'a');
    return k;
}

/* The header's kind (a header without a format is a text) and the
 * buttons of a listed template. */
static void cloudapi_tpl_parts(struct cloudapi_tpl *t, json_object *comps)
{
    json_object *header = cloudapi_tpl_component(comps, "HEADER");
    json_object *list =
        json_strict_member(cloudapi_tpl_component(comps, "BUTTONS"), "buttons");
    json_object *b;
    const char *format = cloudapi_str(header, "format"), *url;
    size_t i, n;

    if (header != NULL)
        t->header_kind = cloudapi_tpl_kind(format ? format : "TEXT");
    if (list == NULL || !json_object_is_type(list, json_type_array))
        return;
    n = json_object_array_length(list);
    for (i = 0; i < n && t->nbuttons < CLOUDAPI_TPL_BUTTONS; i++) {
        b = json_object_array_get_idx(list, i);
        url = cloudapi_str(b, "url");
        t->buttons[t->nbuttons].kind =
            cloudapi_tpl_kind(cloudapi_str(b, "type"));
        if (t->buttons[t->nbuttons].kind == NULL)
            t->buttons[t->nbuttons].kind = xstrdup("unknown");
        t->buttons[t->nbuttons].text =
            cloudapi_tpl_dup(cloudapi_str(b, "text"));
        t->buttons[t->nbuttons].variable =
            url != NULL && strstr(url, "{{") != NULL;
        t->nbuttons++;
    }
}

/* Keeps one template of a page; 0, or -1 when it is unusable. */
static int cloudapi_tpl_add(struct cloudapi_tpl_list *l, json_object *o)
{
    json_object *comps = json_strict_member(o, "components");
    const char *format = cloudapi_str(o, "parameter_format");
    struct cloudapi_tpl *t;

    if (cloudapi_str(o, "name") == NULL || cloudapi_str(o, "language") == NULL)
        return -1;
    l->t = xrealloc(l->t, (l->n + 1) * sizeof(*l->t));
    t = &l->t[l->n++];
    t->name = xstrdup(cloudapi_str(o, "name"));
    t->language = xstrdup(cloudapi_str(o, "language"));
    t->status = cloudapi_tpl_dup(cloudapi_str(o, "status"));
    t->category = cloudapi_tpl_dup(cloudapi_str(o, "category"));
    t->header = cloudapi_tpl_dup(cloudapi_tpl_text(comps, "HEADER"));
    t->body = cloudapi_tpl_dup(cloudapi_tpl_text(comps, "BODY"));
    t->footer = cloudapi_tpl_dup(cloudapi_tpl_text(comps, "FOOTER"));
    t->named = format != NULL && strcasecmp(format, "NAMED") == 0;
    t->header_kind = NULL;
    t->nbuttons = 0;
    cloudapi_tpl_parts(t, comps);
    return 0;
}

/* Calls back with what was gathered (r: the outcome) and frees l. */
static void cloudapi_tpl_end(struct cloudapi_tpl_list *l,
                             const struct net_result *r)
{
    struct net_template *v = xcalloc(l->n + 1, sizeof(*v));
    size_t i, k;

    for (i = 0; i < l->n; i++) {
        v[i].name = l->t[i].name;
        v[i].language = l->t[i].language;
        v[i].status = l->t[i].status;
        v[i].category = l->t[i].category;
        v[i].header = l->t[i].header;
        v[i].body = l->t[i].body;
        v[i].footer = l->t[i].footer;
        v[i].named = l->t[i].named;
        v[i].header_kind = l->t[i].header_kind;
        v[i].buttons = l->t[i].buttons;
        v[i].nbuttons = l->t[i].nbuttons;
    }
    l->cb(r, v, r->outcome == NET_OK ? l->n : 0, l->arg);
    for (i = 0; i < l->n; i++) {
        free(l->t[i].name);
        free(l->t[i].language);
        free(l->t[i].status);
        free(l->t[i].category);
        free(l->t[i].header);
        free(l->t[i].body);
        free(l->t[i].footer);
        free(l->t[i].header_kind);
        for (k = 0; k < l->t[i].nbuttons; k++) {
            free((char *)l->t[i].buttons[k].kind);
            free((char *)l->t[i].buttons[k].text);
        }
    }
    free(v);
    free(l->t);
    free(l->token);
    free(l);
}

static void cloudapi_tpl_get(struct cloudapi_tpl_list *l, const char *url);

/* Keeps the templates of a page's data array (up to CLOUDAPI_TPL_MAX in
 * all). */
static void cloudapi_tpl_keep(struct cloudapi_tpl_list *l, json_object *data)
{
    size_t i, n = json_object_array_length(data);

    for (i = 0; i < n && l->n < CLOUDAPI_TPL_MAX; i++)
        cloudapi_tpl_add(l, json_object_array_get_idx(data, i));
}

void cloudapi_templates_parse(const char *body, size_t len, net_templates_fn cb,
                              void *arg)
{
    struct cloudapi_tpl_list *l = xcalloc(1, sizeof(*l));
    json_object *o = json_strict_parse(body, len, CLOUDAPI_MAX_DEPTH);
    json_object *data = json_strict_member(o, "data");
    struct net_result r;

    memset(&r, 0, sizeof(r));
    l->cb = cb;
    l->arg = arg;
    l->token = xstrdup("");
    r.outcome = NET_FAIL;
    r.text = "not a list of templates";
    if (data != NULL && json_object_is_type(data, json_type_array)) {
        cloudapi_tpl_keep(l, data);
        r.outcome = NET_OK;
        r.text = NULL;
    }
    cloudapi_tpl_end(l, &r);
    json_object_put(o);
}

/* The next page's URL when it is on the Graph host, else NULL. */
static const char *cloudapi_tpl_next(json_object *o)
{
    const char *next = cloudapi_str(json_strict_member(o, "paging"), "next");
    size_t n = strlen(cloudapi_graph_url());

    if (next == NULL || strncmp(next, cloudapi_graph_url(), n) != 0 ||
        next[n] != '/')
        return NULL;
    return next;
}

/* One page arrived: keeps its templates, then asks for the next. */
static void cloudapi_tpl_page(const struct http_result *h, void *arg)
{
    struct cloudapi_tpl_list *l = arg;
    struct net_result r;
    json_object *o = NULL, *data, *err;
    const char *next = NULL;
    char *owned = NULL, *url;

    memset(&r, 0, sizeof(r));
    r.outcome = NET_RETRY;
    if (!h->ok) {
        owned = xasprintf("WhatsApp API unreachable: %s", h->error);
        r.text = owned;
        goto out;
    }
    o = json_strict_parse(h->body, h->len, CLOUDAPI_MAX_DEPTH);
    err = json_strict_member(o, "error");
    data = json_strict_member(o, "data");
    if (err != NULL) {
        cloudapi_classify_error(err, h->status, &r, &owned);
        goto out;
    }
    if (h->status != 200 || data == NULL ||
        !json_object_is_type(data, json_type_array)) {
        owned = xasprintf("WhatsApp API answered HTTP %ld without a list of "
                          "templates",
                          h->status);
        r.text = owned;
        goto out;
    }
    cloudapi_tpl_keep(l, data);
    r.outcome = NET_OK;
    if (++l->pages < CLOUDAPI_TPL_MAX_PAGES && l->n < CLOUDAPI_TPL_MAX)
        next = cloudapi_tpl_next(o);
    if (next != NULL) {
        url = xstrdup(next);
        json_object_put(o);
        cloudapi_tpl_get(l, url);
        free(url);
        return;
    }
out:
    if (r.outcome != NET_OK)
        log_info("cloudapi: template listing: %s", r.text);
    cloudapi_tpl_end(l, &r);
    json_object_put(o);
    free(owned);
}

static void cloudapi_tpl_get(struct cloudapi_tpl_list *l, const char *url)
{
    struct http_request req;

    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = url;
    req.bearer = l->token;
    req.timeout_ms = CLOUDAPI_TPL_TIMEOUT_MS;
    req.max_response = CLOUDAPI_TPL_MAX_RESPONSE;
    http_start(&req, cloudapi_tpl_page, l);
}

void cloudapi_templates(const struct net_account *a, const char *business,
                        net_templates_fn cb, void *arg)
{
    struct cloudapi_tpl_list *l = xcalloc(1, sizeof(*l));
    struct net_result r;
    char *url;

    l->cb = cb;
    l->arg = arg;
    l->token = xstrdup(a->token);
    if (cloudapi_template_business(business) == NULL) {
        memset(&r, 0, sizeof(r));
        r.outcome = NET_FAIL;
        r.text = "The WhatsApp Business Account id of this number is not "
                 "known yet: it comes with the next message from a "
                 "customer, or the owner sets it (team waba <id>)";
        cloudapi_tpl_end(l, &r);
        return;
    }
    url = xasprintf("%s/%s/%s/message_templates?limit=100&fields=name,"
                    "language,status,category,parameter_format,components",
                    cloudapi_graph_url(), cloudapi_api_version(), business);
    cloudapi_tpl_get(l, url);
    free(url);
}

/* One text parameter, named or not (name: NULL). */
static json_object *cloudapi_tpl_text_param(const char *name, const char *text)
{
    json_object *p = json_object_new_object();

    json_object_object_add(p, "type", json_object_new_string("text"));
    if (name != NULL)
        json_object_object_add(p, "parameter_name",
                               json_object_new_string(name));
    json_object_object_add(p, "text", json_object_new_string(text));
    return p;
}

/* A component {"type": type, "parameters": [p]} (p taken). */
static json_object *cloudapi_tpl_comp(const char *type, json_object *p)
{
    json_object *c = json_object_new_object(), *params;

    params = json_object_new_array();
    json_object_array_add(params, p);
    json_object_object_add(c, "type", json_object_new_string(type));
    json_object_object_add(c, "parameters", params);
    return c;
}

/* The last segment of a link's path, when it looks like a file's name
 * (the name a document header shows); NULL otherwise. Caller frees. */
static char *cloudapi_tpl_filename(const char *link)
{
    const char *end = link + strcspn(link, "?#"), *start = end;

    while (start > link && start[-1] != '/')
        start--;
    if (end - start < 3 || end - start > 100 ||
        memchr(start, '.', (size_t)(end - start)) == NULL)
        return NULL;
    return xstrndup(start, (size_t)(end - start));
}

/* The header component: a text, or a file by media id or link. */
static json_object *cloudapi_tpl_header(const struct net_out *m)
{
    json_object *p, *media;
    const char *v = m->header_value;
    char *name;

    if (strcmp(m->header_kind, "text") == 0)
        return cloudapi_tpl_comp("header",
                                 cloudapi_tpl_text_param(m->header_name, v));
    p = json_object_new_object();
    media = json_object_new_object();
    json_object_object_add(p, "type", json_object_new_string(m->header_kind));
    json_object_object_add(media,
                           strspn(v, "0123456789") == strlen(v) ? "id" : "link",
                           json_object_new_string(v));
    name = strcmp(m->header_kind, "document") == 0 ? cloudapi_tpl_filename(v)
                                                   : NULL;
    if (name != NULL)
        json_object_object_add(media, "filename", json_object_new_string(name));
    free(name);
    json_object_object_add(p, m->header_kind, media);
    return cloudapi_tpl_comp("header", p);
}

/* A button's component: its sub_type, index and one parameter. */
static json_object *cloudapi_tpl_button(const struct net_button_param *b)
{
    json_object *p = json_object_new_object(), *c;
    const char *ptype = strcmp(b->kind, "quick_reply") == 0 ? "payload"
                        : strcmp(b->kind, "copy_code") == 0 ? "coupon_code"
                                                            : "text";
    char index[24];

    json_object_object_add(p, "type", json_object_new_string(ptype));
    json_object_object_add(p, ptype, json_object_new_string(b->value));
    c = cloudapi_tpl_comp("button", p);
    snprintf(index, sizeof(index), "%zu", b->index);
    json_object_object_add(c, "sub_type", json_object_new_string(b->kind));
    json_object_object_add(c, "index", json_object_new_string(index));
    return c;
}

void cloudapi_template_body(json_object *t, const struct net_out *m)
{
    json_object *lang = json_object_new_object(), *comps, *body, *params;
    size_t i;

    json_object_object_add(
        t, "name",
        json_object_new_string(m->template_name ? m->template_name : ""));
    json_object_object_add(
        lang, "code", json_object_new_string(m->language ? m->language : ""));
    json_object_object_add(t, "language", lang);
    if (m->nparams == 0 && m->header_kind == NULL && m->nbuttons == 0)
        return;
    comps = json_object_new_array();
    if (m->header_kind != NULL && m->header_value != NULL)
        json_object_array_add(comps, cloudapi_tpl_header(m));
    if (m->nparams > 0) {
        body = json_object_new_object();
        params = json_object_new_array();
        json_object_object_add(body, "type", json_object_new_string("body"));
        for (i = 0; i < m->nparams; i++)
            json_object_array_add(
                params,
                cloudapi_tpl_text_param(
                    m->param_names ? m->param_names[i] : NULL, m->params[i]));
        json_object_object_add(body, "parameters", params);
        json_object_array_add(comps, body);
    }
    for (i = 0; i < m->nbuttons; i++)
        json_object_array_add(comps, cloudapi_tpl_button(&m->buttons[i]));
    json_object_object_add(t, "components", comps);
}
