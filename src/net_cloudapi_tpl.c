/* SPDX-License-Identifier: MIT */
/* The Cloud API's message templates (reference part E): the listing of a
 * WhatsApp Business Account's templates, every page of it, and the
 * "template" object of a template send. */
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

/* One template as the listing gave it (owned copies). */
struct cloudapi_tpl {
    char *name, *language, *status, *category, *header, *body, *footer;
    int named;
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
    return 0;
}

/* Calls back with what was gathered (r: the outcome) and frees l. */
static void cloudapi_tpl_end(struct cloudapi_tpl_list *l,
                             const struct net_result *r)
{
    struct net_template *v = xcalloc(l->n + 1, sizeof(*v));
    size_t i;

    for (i = 0; i < l->n; i++) {
        v[i].name = l->t[i].name;
        v[i].language = l->t[i].language;
        v[i].status = l->t[i].status;
        v[i].category = l->t[i].category;
        v[i].header = l->t[i].header;
        v[i].body = l->t[i].body;
        v[i].footer = l->t[i].footer;
        v[i].named = l->t[i].named;
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
    }
    free(v);
    free(l->t);
    free(l->token);
    free(l);
}

static void cloudapi_tpl_get(struct cloudapi_tpl_list *l, const char *url);

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
    size_t i, n;

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
    n = json_object_array_length(data);
    for (i = 0; i < n && l->n < CLOUDAPI_TPL_MAX; i++)
        cloudapi_tpl_add(l, json_object_array_get_idx(data, i));
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

/* One text parameter, named or not. */
static json_object *cloudapi_tpl_param(const struct net_out *m, size_t i)
{
    json_object *p = json_object_new_object();

    json_object_object_add(p, "type", json_object_new_string("text"));
    if (m->param_names != NULL && m->param_names[i] != NULL)
        json_object_object_add(p, "parameter_name",
                               json_object_new_string(m->param_names[i]));
    json_object_object_add(p, "text", json_object_new_string(m->params[i]));
    return p;
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
    if (m->nparams == 0)
        return;
    comps = json_object_new_array();
    body = json_object_new_object();
    params = json_object_new_array();
    json_object_object_add(body, "type", json_object_new_string("body"));
    for (i = 0; i < m->nparams; i++)
        json_object_array_add(params, cloudapi_tpl_param(m, i));
    json_object_object_add(body, "parameters", params);
    json_object_array_add(comps, body);
    json_object_object_add(t, "components", comps);
}
