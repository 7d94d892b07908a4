/* SPDX-License-Identifier: MIT */
/* XEP-0077 registration with an XEP-0004 form built from the back end's
 * login form (or its legacy username/password pair), removal, and the
 * XEP-0100 prompt that turns a phone number into a contact JID. */
#include <stdlib.h>
#include <string.h>

#include "component.h"
#include "conf.h"
#include "disco.h"
#include "jid.h"
#include "log.h"
#include "register.h"
#include "util.h"

#define NS_REGISTER "jabber:iq:register"
#define NS_GATEWAY "jabber:iq:gateway"
#define NS_DATA "jabber:x:data"

static struct {
    char *allowed;
    struct register_ops ops;
    char *instructions; /* the form's, or every network's with a choice */
} reg;

int register_domain_allowed(const char *jid)
{
    char domain[JID_MAX + 1];

    return jid_domain(jid, domain, sizeof(domain)) == 0 &&
           conf_list_has_domain(reg.allowed, domain);
}

void register_reply_ok(xmpp_stanza_t *iq)
{
    component_iq_result(iq, NULL);
}

void register_reply_error(xmpp_stanza_t *iq, const char *type,
                          const char *condition, const char *text)
{
    component_error_reply(iq, type, condition, text);
}

static void register_field(xmpp_stanza_t *x, const char *var, const char *type,
                           const char *label, const char *value, int required)
{
    xmpp_stanza_t *f = component_elem(x, "field", NULL);

    xmpp_stanza_set_attribute(f, "var", var);
    xmpp_stanza_set_attribute(f, "type", type);
    if (label != NULL)
        xmpp_stanza_set_attribute(f, "label", label);
    if (value != NULL)
        component_text_elem(f, "value", value);
    if (required)
        component_elem(f, "required", NULL);
}

/* The legacy XEP-0077 elements (username, password), the account's filled
 * in with its network id when registered. */
static void register_legacy(xmpp_stanza_t *q, const char *network_id)
{
    const struct login_field *f;

    for (f = reg.ops.form->fields; f->var != NULL; f++) {
        if (f->legacy == NULL)
            continue;
        if (f->account && network_id != NULL)
            component_text_elem(q, f->legacy, network_id);
        else
            component_elem(q, f->legacy, NULL);
    }
}

/* 1 when the user chooses among several networks. */
static int register_several(void)
{
    return reg.ops.networks != NULL && reg.ops.networks->n > 1;
}

/* The network choice: a list-single of the networks offered. */
static void register_network_field(xmpp_stanza_t *x)
{
    const struct login_networks *ns = reg.ops.networks;
    xmpp_stanza_t *f = component_elem(x, "field", NULL), *o;
    int i;

    xmpp_stanza_set_attribute(f, "var", LOGIN_NETWORK);
    xmpp_stanza_set_attribute(f, "type", "list-single");
    xmpp_stanza_set_attribute(f, "label", "Network");
    component_text_elem(f, "value", ns->name[0]);
    component_elem(f, "required", NULL);
    for (i = 0; i < ns->n; i++) {
        o = component_elem(f, "option", NULL);
        xmpp_stanza_set_attribute(o, "label", ns->form[i]->title);
        component_text_elem(o, "value", ns->name[i]);
    }
}

/* The fields of every network after the choice; none is required, as
 * each is only for its network (login_check() then asks for them). */
static void register_network_fields(xmpp_stanza_t *x, const char *network_id)
{
    const struct login_networks *ns = reg.ops.networks;
    const struct login_field *f;
    int i;

    register_network_field(x);
    for (i = 0; i < ns->n; i++)
        for (f = ns->form[i]->fields; f->var != NULL; f++)
            register_field(x, f->var,
                           f->secret ? "text-private" : "text-single", f->label,
                           f->account ? network_id : NULL, 0);
}

/* The registration form, filled with the current network id if any. */
static xmpp_stanza_t *register_form(const char *network_id)
{
    const struct login_form *form = reg.ops.form;
    const struct login_field *f;
    xmpp_stanza_t *q = component_elem(NULL, "query", NS_REGISTER);
    xmpp_stanza_t *x;

    component_text_elem(q, "instructions", reg.instructions);
    if (network_id != NULL)
        component_elem(q, "registered", NULL);
    register_legacy(q, network_id);
    x = component_elem(q, "x", NS_DATA);
    xmpp_stanza_set_type(x, "form");
    component_text_elem(x, "title", form->title);
    component_text_elem(x, "instructions", reg.instructions);
    register_field(x, "FORM_TYPE", "hidden", NULL, NS_REGISTER, 0);
    if (register_several()) {
        register_network_fields(x, network_id);
        return q;
    }
    for (f = form->fields; f->var != NULL; f++)
        register_field(x, f->var, f->secret ? "text-private" : "text-single",
                       f->label, f->account ? network_id : NULL, f->required);
    return q;
}

/* The text of a child element, or NULL. */
static const char *register_child_text(xmpp_stanza_t *parent, const char *name)
{
    xmpp_stanza_t *c = xmpp_stanza_get_child_by_name(parent, name);

    if (c == NULL)
        return NULL;
    c = xmpp_stanza_get_children(c);
    return c ? xmpp_stanza_get_text_ptr(c) : "";
}

/* The first value of a form field, or NULL. */
static const char *register_form_value(xmpp_stanza_t *x, const char *var)
{
    xmpp_stanza_t *f;

    for (f = xmpp_stanza_get_children(x); f; f = xmpp_stanza_get_next(f)) {
        const char *v = xmpp_stanza_get_attribute(f, "var");

        if (xmpp_stanza_is_tag(f) && v != NULL && strcmp(v, var) == 0)
            return register_child_text(f, "value");
    }
    return NULL;
}

/* The credentials of a submitted form x, or of the legacy elements of q
 * when there is no form; they borrow from q. */
static void register_creds(xmpp_stanza_t *q, xmpp_stanza_t *x,
                           struct login_creds *c, const struct login_form *form)
{
    const struct login_field *f;

    for (f = form->fields; f->var != NULL; f++)
        login_add(c, f->var,
                  x != NULL           ? register_form_value(x, f->var)
                  : f->legacy != NULL ? register_child_text(q, f->legacy)
                                      : NULL);
}

static void register_set(xmpp_stanza_t *iq, xmpp_stanza_t *q, const char *jid)
{
    xmpp_stanza_t *x = xmpp_stanza_get_child_by_ns(q, NS_DATA);
    const struct login_form *form = reg.ops.form;
    struct login_creds c;
    const char *why;

    if (xmpp_stanza_get_child_by_name(q, "remove") != NULL) {
        switch (reg.ops.remove(jid, reg.ops.arg)) {
        case 0:
            register_reply_ok(iq);
            break;
        case -1:
            register_reply_error(iq, "cancel", "item-not-found",
                                 "You are not registered");
            break;
        default:
            register_reply_error(iq, "wait", "internal-server-error",
                                 "The gateway could not delete your "
                                 "registration (a store error): nothing "
                                 "was removed, try again");
        }
        return;
    }
    memset(&c, 0, sizeof(c));
    if (register_several() && x != NULL) {
        login_add(&c, LOGIN_NETWORK, register_form_value(x, LOGIN_NETWORK));
        form = login_chosen_form(reg.ops.networks, &c, &why);
        if (form == NULL) {
            register_reply_error(iq, "modify", "not-acceptable", why);
            return;
        }
    }
    register_creds(q, x, &c, form);
    if (login_check(form, &c, &why) < 0) {
        register_reply_error(iq, "modify", "not-acceptable", why);
        return;
    }
    reg.ops.submit(xmpp_stanza_copy(iq), jid, &c, reg.ops.arg);
}

static int register_iq(xmpp_stanza_t *iq, xmpp_stanza_t *q, void *arg)
{
    char *jid = jid_bare(xmpp_stanza_get_from(iq));
    char *network_id = NULL;
    xmpp_stanza_t *form;

    if (strchr(xmpp_stanza_get_to(iq) ? xmpp_stanza_get_to(iq) : "", '@')) {
        free(jid);
        return 0; /* registration lives on the gateway JID only */
    }
    if (jid == NULL || !register_domain_allowed(jid)) {
        component_error_reply(iq, "cancel", "forbidden",
                              REGISTER_FORBIDDEN_TEXT);
    } else if (strcmp(xmpp_stanza_get_type(iq), "get") == 0) {
        reg.ops.lookup(jid, &network_id, reg.ops.arg);
        form = register_form(network_id);
        component_iq_result(iq, form);
        xmpp_stanza_release(form);
        free(network_id);
    } else {
        register_set(iq, q, jid);
    }
    free(jid);
    return 1;
}

/* XEP-0100: the prompt, and a phone number turned into a contact JID. */
static int register_gateway_iq(xmpp_stanza_t *iq, xmpp_stanza_t *q, void *arg)
{
    xmpp_stanza_t *r = component_elem(NULL, "query", NS_GATEWAY);
    char phone[JID_PHONE_MAX];
    const char *in;
    char *jid;

    if (strcmp(xmpp_stanza_get_type(iq), "get") == 0) {
        component_text_elem(r, "desc",
                            "Enter the WhatsApp phone number of the "
                            "contact, with its country code");
        component_text_elem(r, "prompt", "Phone number");
        component_iq_result(iq, r);
    } else {
        in = register_child_text(q, "prompt");
        if (in == NULL || jid_phone_normalize(in, phone, sizeof(phone)) < 0) {
            component_error_reply(iq, "modify", "not-acceptable",
                                  "Not a phone number: write it in "
                                  "international form, e.g. +49 151 "
                                  "12345678");
        } else {
            jid = xasprintf("%s@%s", phone, component_jid());
            component_text_elem(r, "jid", jid);
            component_iq_result(iq, r);
            free(jid);
        }
    }
    xmpp_stanza_release(r);
    return 1;
}

void register_reconfigure(const struct conf *conf)
{
    free(reg.allowed);
    reg.allowed = xstrdup(conf->gateway_allowed_domains);
}

/* The instructions: the form's, or with several networks, each one's
 * after its title. */
static char *register_instructions(void)
{
    const struct login_networks *ns = reg.ops.networks;
    struct buf b;
    int i;

    if (!register_several())
        return xstrdup(reg.ops.form->instructions);
    buf_init(&b, 64 * 1024);
    buf_appendf(&b, "Choose the network, then fill in its fields.");
    for (i = 0; i < ns->n; i++)
        buf_appendf(&b, " %s (%s): %s", ns->form[i]->title, ns->name[i],
                    ns->form[i]->instructions);
    return buf_take(&b);
}

void register_init(const struct conf *conf, const struct register_ops *ops)
{
    reg.ops = *ops;
    reg.instructions = register_instructions();
    register_reconfigure(conf);
    component_iq_register(NS_REGISTER, register_iq, NULL);
    component_iq_register(NS_GATEWAY, register_gateway_iq, NULL);
    disco_feature_add(NS_REGISTER);
    disco_feature_add(NS_GATEWAY);
}

void register_free(void)
{
    free(reg.allowed);
    reg.allowed = NULL;
    free(reg.instructions);
    reg.instructions = NULL;
}
