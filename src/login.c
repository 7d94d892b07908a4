/* SPDX-License-Identifier: MIT */
/* Credentials as key/value pairs, and what every login form checks: that
 * the required fields are there, then the back end's own rules. */
#include <stddef.h>
#include <string.h>

#include "login.h"

const char *login_get(const struct login_creds *c, const char *key)
{
    int i;

    for (i = 0; i < c->n; i++)
        if (strcmp(c->v[i].key, key) == 0)
            return c->v[i].value;
    return NULL;
}

void login_add(struct login_creds *c, const char *key, const char *value)
{
    if (value == NULL || c->n == LOGIN_MAX_FIELDS)
        return;
    c->v[c->n].key = key;
    c->v[c->n].value = value;
    c->n++;
}

const struct login_field *login_account_field(const struct login_form *f)
{
    const struct login_field *fl;

    for (fl = f->fields; fl->var != NULL; fl++)
        if (fl->account)
            return fl;
    return NULL;
}

int login_check(const struct login_form *f, const struct login_creds *c,
                const char **why)
{
    const struct login_field *fl;

    for (fl = f->fields; fl->var != NULL; fl++) {
        if (fl->required && login_get(c, fl->var) == NULL) {
            *why = f->missing;
            return -1;
        }
    }
    return f->check != NULL ? f->check(c, why) : 0;
}

int login_has_secret(const struct login_form *f, const struct login_creds *c)
{
    const struct login_field *fl;

    for (fl = f->fields; fl->var != NULL; fl++)
        if (fl->secret && login_get(c, fl->var) != NULL)
            return 1;
    return 0;
}

const struct login_form *login_networks_form(const struct login_networks *ns,
                                             const char *name)
{
    int i;

    if (ns->n == 0)
        return NULL;
    if (name == NULL)
        return ns->form[0];
    for (i = 0; i < ns->n; i++)
        if (strcmp(ns->name[i], name) == 0)
            return ns->form[i];
    return NULL;
}

const struct login_form *login_chosen_form(const struct login_networks *ns,
                                           const struct login_creds *c,
                                           const char **why)
{
    const char *name = login_get(c, LOGIN_NETWORK);
    const struct login_form *f =
        login_networks_form(ns, name && name[0] != '\0' ? name : NULL);

    if (f == NULL)
        *why = "There is no such network on this gateway";
    return f;
}
