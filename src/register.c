/* SPDX-License-Identifier: MIT */
/* XEP-0077 registration with an XEP-0004 form (phone_number_id and
 * access_token, or the legacy username/password pair), removal, and the
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
#define REGISTER_INSTRUCTIONS                                                  \
    "Enter the Phone number ID of your WhatsApp Business number and a "        \
    "permanent access token (Meta Business Settings > System users)."

static struct {
    char *allowed;
    struct register_ops ops;
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
                           const char *label, const char *value)
{
    xmpp_stanza_t *f = component_elem(x, "field", NULL);

    xmpp_stanza_set_attribute(f, "var", var);
    xmpp_stanza_set_attribute(f, "type", type);
    if (label != NULL)
        xmpp_stanza_set_attribute(f, "label", label);
    if (value != NULL)
        component_text_elem(f, "value", value);
    if (strcmp(type, "hidden") != 0)
        component_elem(f, "required", NULL);
}

/* The registration form, filled with the current number id if any. */
static xmpp_stanza_t *register_form(const char *pnid)
{
    xmpp_stanza_t *q = component_elem(NULL, "query", NS_REGISTER);
    xmpp_stanza_t *x;

    component_text_elem(q, "instructions", REGISTER_INSTRUCTIONS);
    if (pnid != NULL) {
        component_elem(q, "registered", NULL);
        component_text_elem(q, "username", pnid);
    } else {
        component_elem(q, "username", NULL);
    }
    component_elem(q, "password", NULL);
    x = component_elem(q, "x", NS_DATA);
    xmpp_stanza_set_type(x, "form");
    component_text_elem(x, "title", "WhatsApp Business registration");
    component_text_elem(x, "instructions", REGISTER_INSTRUCTIONS);
    register_field(x, "FORM_TYPE", "hidden", NULL, NS_REGISTER);
    register_field(x, "phone_number_id", "text-single", "Phone number ID",
                   pnid);
    register_field(x, "access_token", "text-private", "Access token", NULL);
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

/* 1 when s is a plausible phone_number_id: 1 to 32 digits. */
static int register_pnid_valid(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > 32)
        return 0;
    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* 1 when s is a plausible token: printable ASCII without spaces. */
static int register_token_valid(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > REGISTER_FIELD_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return 0;
    return 1;
}

int register_input_check(const char *pnid, const char *token, const char **why)
{
    if (!register_pnid_valid(pnid)) {
        *why = "The phone number ID is the numeric id Meta shows for your "
               "business number (digits only), not the phone number";
        return -1;
    }
    if (!register_token_valid(token)) {
        *why = "The access token is empty, too long or has spaces in it";
        return -1;
    }
    return 0;
}

static void register_set(xmpp_stanza_t *iq, xmpp_stanza_t *q, const char *jid)
{
    xmpp_stanza_t *x = xmpp_stanza_get_child_by_ns(q, NS_DATA);
    const char *pnid, *token, *why;

    if (xmpp_stanza_get_child_by_name(q, "remove") != NULL) {
        if (reg.ops.remove(jid, reg.ops.arg) < 0)
            register_reply_error(iq, "cancel", "item-not-found",
                                 "You are not registered");
        else
            register_reply_ok(iq);
        return;
    }
    pnid = x ? register_form_value(x, "phone_number_id")
             : register_child_text(q, "username");
    token = x ? register_form_value(x, "access_token")
              : register_child_text(q, "password");
    if (pnid == NULL || token == NULL) {
        register_reply_error(iq, "modify", "not-acceptable",
                             "Both the phone number ID and the access token "
                             "are required");
        return;
    }
    if (register_input_check(pnid, token, &why) < 0) {
        register_reply_error(iq, "modify", "not-acceptable", why);
        return;
    }
    reg.ops.submit(xmpp_stanza_copy(iq), jid, pnid, token, reg.ops.arg);
}

static int register_iq(xmpp_stanza_t *iq, xmpp_stanza_t *q, void *arg)
{
    char *jid = jid_bare(xmpp_stanza_get_from(iq));
    char *pnid = NULL;
    xmpp_stanza_t *form;

    if (strchr(xmpp_stanza_get_to(iq) ? xmpp_stanza_get_to(iq) : "", '@')) {
        free(jid);
        return 0; /* registration lives on the gateway JID only */
    }
    if (jid == NULL || !register_domain_allowed(jid)) {
        component_error_reply(iq, "cancel", "forbidden",
                              REGISTER_FORBIDDEN_TEXT);
    } else if (strcmp(xmpp_stanza_get_type(iq), "get") == 0) {
        reg.ops.lookup(jid, &pnid, reg.ops.arg);
        form = register_form(pnid);
        component_iq_result(iq, form);
        xmpp_stanza_release(form);
        free(pnid);
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

void register_init(const struct conf *conf, const struct register_ops *ops)
{
    reg.ops = *ops;
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
}
