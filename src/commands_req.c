/* SPDX-License-Identifier: MIT */
/* One execution of a command, ad-hoc or chat: its values, the answer it
 * builds in words and as a result form, and sending that answer. What the
 * front ends (commands.c) and the commands (commands_run.c) share. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "commands_int.h"
#include "component.h"
#include "message.h"
#include "util.h"

xmpp_stanza_t *commands_field(xmpp_stanza_t *x, const char *var,
                              const char *type, const char *label,
                              const char *value)
{
    xmpp_stanza_t *f = component_elem(x, "field", NULL);

    if (var != NULL)
        xmpp_stanza_set_attribute(f, "var", var);
    if (type != NULL)
        xmpp_stanza_set_attribute(f, "type", type);
    if (label != NULL)
        xmpp_stanza_set_attribute(f, "label", label);
    if (value != NULL)
        component_text_elem(f, "value", value);
    return f;
}

struct commands_req *commands_req_new(const struct commands_def *def,
                                      const char *jid)
{
    struct commands_req *r = xcalloc(1, sizeof(*r));

    r->def = def;
    r->jid = xstrdup(jid);
    buf_init(&r->text, COMMANDS_TEXT_MAX);
    return r;
}

void commands_req_free(struct commands_req *r)
{
    if (r->iq != NULL)
        xmpp_stanza_release(r->iq);
    if (r->form != NULL)
        xmpp_stanza_release(r->form);
    free(r->jid);
    free(r->to);
    free(r->sessionid);
    free(r->words);
    buf_reset(&r->text);
    free(r);
}

static void commands_vsay(struct commands_req *r, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void commands_vsay(struct commands_req *r, const char *fmt, va_list ap)
{
    char *line = xvasprintf(fmt, ap);

    if (r->text.len > 0)
        buf_append(&r->text, "\n", 1);
    buf_append(&r->text, line, strlen(line));
    free(line);
}

void commands_say(struct commands_req *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    commands_vsay(r, fmt, ap);
    va_end(ap);
}

void commands_fail(struct commands_req *r, const char *fmt, ...)
{
    va_list ap;

    r->error = 1;
    va_start(ap, fmt);
    commands_vsay(r, fmt, ap);
    va_end(ap);
}

xmpp_stanza_t *commands_result_form(struct commands_req *r, const char *title)
{
    if (r->iq == NULL)
        return NULL; /* chat: words only */
    if (r->form == NULL) {
        r->form = component_elem(NULL, "x", NS_DATA);
        xmpp_stanza_set_type(r->form, "result");
        component_text_elem(r->form, "title", title);
    }
    return r->form;
}

void commands_show(struct commands_req *r, const char *var, const char *label,
                   const char *value)
{
    xmpp_stanza_t *x = commands_result_form(r, r->def->name);

    if (x != NULL)
        commands_field(x, var, "text-single", label, value);
    commands_say(r, "%s: %s", label, value);
}

const char *commands_value(const struct commands_req *r, const char *var)
{
    int i;

    for (i = 0; i < r->nvals; i++)
        if (strcmp(r->vals[i].var, var) == 0)
            return r->vals[i].value;
    return NULL;
}

void commands_value_add(struct commands_req *r, const char *var,
                        const char *value)
{
    if (r->nvals == COMMANDS_MAX_VALUES || value == NULL ||
        strlen(value) > COMMANDS_VALUE_MAX)
        return;
    r->vals[r->nvals].var = var;
    r->vals[r->nvals].value = value;
    r->nvals++;
}

/* The <command/> element of an answer to r's iq. */
xmpp_stanza_t *commands_answer_elem(const struct commands_req *r,
                                    const char *status)
{
    xmpp_stanza_t *c = component_elem(NULL, "command", NS_COMMANDS);

    xmpp_stanza_set_attribute(c, "node", r->def->node);
    xmpp_stanza_set_attribute(c, "sessionid", r->sessionid);
    xmpp_stanza_set_attribute(c, "status", status);
    return c;
}

/* Answers the iq: completed, with the note and the result form. */
static void commands_finish_adhoc(struct commands_req *r)
{
    xmpp_stanza_t *c = commands_answer_elem(r, "completed");
    xmpp_stanza_t *note;

    if (r->text.len > 0) {
        note = component_text_elem(c, "note", r->text.data);
        xmpp_stanza_set_attribute(note, "type", r->error ? "error" : "info");
    }
    if (r->form != NULL)
        xmpp_stanza_add_child(c, r->form);
    component_iq_result(r->iq, c);
    xmpp_stanza_release(c);
}

/* Sends a chat message from the gateway to the full JID to. */
static void commands_chat(const char *to, const char *text)
{
    char *xml = message_notice_xml(component_jid(), to, NULL, text);

    component_send_raw(xml, strlen(xml));
    free(xml);
}

void commands_finish(struct commands_req *r)
{
    if (r->iq != NULL)
        commands_finish_adhoc(r);
    else
        commands_chat(r->to, r->text.len > 0 ? r->text.data : "Done.");
    commands_req_free(r);
}
