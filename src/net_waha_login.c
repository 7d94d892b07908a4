/* SPDX-License-Identifier: MIT */
/* The WAHA back end's login: the user's session created (or, when
 * waha.session names one that exists, taken over) and started with
 * ferry's signed webhook; then the step the user takes, a QR code or a
 * pairing code for their phone number; a new round (relogin) and the end
 * (logout). The login goes on through session.status events
 * (net_waha_hook.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "net_backend.h"
#include "net_waha_int.h"
#include "util.h"

#define WAHA_LOGIN_PHONE "phone"
#define WAHA_PHONE_MIN 6
#define WAHA_PHONE_MAX 15

/* A login in flight: the session it creates. */
struct waha_login {
    net_result_fn cb;
    void *arg;
    struct net_account a;
    char *name, *phone;
    int step; /* 0: create; 1: update (it existed); 2: start */
};

static void waha_login_next(struct waha_login *l);

static void waha_login_end(struct waha_login *l, const struct net_result *r)
{
    struct net_result out = *r;

    out.account = &l->a;
    out.info = l->phone[0] ? "being linked: a pairing code follows"
                           : "being linked: a QR code follows";
    l->cb(&out, l->arg);
    free(l->name);
    free(l->phone);
    free(l);
}

static void waha_login_done(const struct net_result *r, void *arg)
{
    struct waha_login *l = arg;

    if (l->step == 0 && r->outcome == NET_FAIL && r->code == 422 && r->text &&
        strstr(r->text, "already exists")) {
        l->step = 1; /* a fixed session: take it over */
        waha_login_next(l);
    } else if (l->step == 1 && r->outcome == NET_OK) {
        l->step = 2;
        waha_login_next(l);
    } else {
        waha_login_end(l, r);
    }
}

static void waha_login_next(struct waha_login *l)
{
    json_object *o = json_object_new_object();
    char *path;

    if (l->step == 0) {
        waha_add(o, "name", l->name);
        json_object_object_add(o, "start", json_object_new_boolean(1));
        json_object_object_add(o, "config", waha_session_config());
        waha_call_start("POST", "/api/sessions", waha_text(o), NULL,
                        WAHA_CALL_PLAIN, waha_login_done, l);
        return;
    }
    if (l->step == 1) {
        json_object_object_add(o, "config", waha_session_config());
        path = xasprintf("/api/sessions/%s", l->name);
        waha_call_start("PUT", path, waha_text(o), NULL, WAHA_CALL_PLAIN,
                        waha_login_done, l);
    } else {
        json_object_put(o);
        path = xasprintf("/api/sessions/%s/start", l->name);
        waha_call_start("POST", path, NULL, NULL, WAHA_CALL_PLAIN,
                        waha_login_done, l);
    }
    free(path);
}

/* The digits of a phone number typed with +, spaces, dashes, dots or
 * parentheses (caller frees), or NULL when it is not one. */
static char *waha_phone_digits(const char *s)
{
    char *d = xstrdup(s ? s : "");
    size_t n = 0, i;

    for (i = 0; s != NULL && s[i] != '\0'; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            d[n++] = s[i];
        else if (strchr("+ -.()", s[i]) == NULL || (s[i] == '+' && i > 0))
            break;
    }
    d[n] = '\0';
    if (s == NULL || s[i] != '\0' || n < WAHA_PHONE_MIN || n > WAHA_PHONE_MAX) {
        free(d);
        return NULL;
    }
    return d;
}

/* Creates and starts the user's session; answers at once, the login goes
 * on through session.status events. The pairing phone, if any, is the
 * account's token (nothing secret: it is the user's own number). */
void waha_login(const struct login_creds *c, net_result_fn cb, void *arg)
{
    struct waha_login *l = xcalloc(1, sizeof(*l));
    const char *phone = login_get(c, WAHA_LOGIN_PHONE);

    l->cb = cb;
    l->arg = arg;
    l->name = waha_session_name();
    l->phone = phone && phone[0] ? waha_phone_digits(phone) : xstrdup("");
    if (l->phone == NULL)
        l->phone = xstrdup("");
    l->a.id = l->name;
    l->a.token = l->phone;
    waha_login_next(l);
}

/* The step the user takes: a pairing code for the account's phone, or the
 * QR code as a PNG into path. */
void waha_login_step(const struct net_account *a, const char *path,
                     net_result_fn cb, void *arg)
{
    json_object *o;
    char *p;

    if (a->token != NULL && a->token[0] != '\0') {
        o = json_object_new_object();
        waha_add(o, "phoneNumber", a->token);
        p = xasprintf("/api/%s/auth/request-code", a->id);
        waha_call_start("POST", p, waha_text(o), NULL, WAHA_CALL_CODE, cb, arg);
    } else {
        p = xasprintf("/api/%s/auth/qr", a->id);
        waha_call_start("GET", p, NULL, path, WAHA_CALL_QR, cb, arg);
    }
    free(p);
}

/* Ends the session on WAHA: stopped, logged out and deleted. */
void waha_logout(const struct net_account *a, net_result_fn cb, void *arg)
{
    char *p = xasprintf("/api/sessions/%s", a->id);

    waha_call_start("DELETE", p, NULL, NULL, WAHA_CALL_PLAIN, cb, arg);
    free(p);
}

/* A new round: the session is deleted, then created again (a new QR). */
static void waha_relogin_deleted(const struct net_result *r, void *arg)
{
    struct waha_login *l = arg;

    if (r->outcome != NET_OK) {
        waha_login_end(l, r);
        return;
    }
    waha_login_next(l);
}

void waha_relogin(const struct net_account *a, net_result_fn cb, void *arg)
{
    struct waha_login *l = xcalloc(1, sizeof(*l));

    l->cb = cb;
    l->arg = arg;
    l->name = xstrdup(a->id);
    l->phone = xstrdup(a->token ? a->token : "");
    l->a.id = l->name;
    l->a.token = l->phone;
    waha_logout(&l->a, waha_relogin_deleted, l);
}

static int waha_login_check(const struct login_creds *c, const char **why)
{
    const char *phone = login_get(c, WAHA_LOGIN_PHONE);
    char *d;

    if (phone == NULL || phone[0] == '\0')
        return 0;
    d = waha_phone_digits(phone);
    if (d == NULL) {
        *why = "Not a phone number: write it in international form, e.g. "
               "+49 151 12345678";
        return -1;
    }
    free(d);
    return 0;
}

static const struct login_field waha_login_fields[] = {
    {
        .var = WAHA_LOGIN_PHONE,
        .label = "Your phone number, for a pairing code instead of a QR code "
                 "(optional)",
    },
    {.var = NULL},
};

/* A personal account, linked as a device: nothing to type but, for a
 * pairing code, the phone number. */
const struct login_form waha_login_form = {
    .title = "Personal WhatsApp account",
    .instructions = "Leave the phone number empty to get a QR code to scan "
                    "with WhatsApp on your phone (Settings > Linked devices > "
                    "Link a device), or give it to get a pairing code to type "
                    "there instead.",
    .fields = waha_login_fields,
    .missing = "",
    .taken = "This WhatsApp session is already used by another user",
    .account_noun = "personal WhatsApp account",
    .account_label = "WhatsApp session",
    .chat_help = "link your personal WhatsApp account (a QR code or, with "
                 "your phone number, a pairing code follows)",
    .chat_note = "",
    .async = 1,
    .check = waha_login_check,
};
