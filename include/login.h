/* SPDX-License-Identifier: MIT */
/* How a user logs in to a network: the form a back end declares (its
 * fields and the words that go with them), and the credentials a user
 * gives, as key/value pairs. Back ends declare a form (net.h); registration
 * and the commands build their forms and read the answers from it. Uses
 * nothing but libc. */
#ifndef FERRY_LOGIN_H
#define FERRY_LOGIN_H

#define LOGIN_MAX_FIELDS 6
#define LOGIN_MAX_NETWORKS 4
/* The field that picks a network when several are offered. */
#define LOGIN_NETWORK "network"
#define LOGIN_VALUE_MAX 512 /* bytes of one credential */

/* The credentials a user gave, borrowed from the request. */
struct login_creds {
    int n;
    struct {
        const char *key;
        const char *value;
    } v[LOGIN_MAX_FIELDS];
};

/* One field of a login form. */
struct login_field {
    const char *var;    /* the credential's key and the form field's var */
    const char *label;  /* shown in forms and in Status */
    int secret;         /* text-private; a chat that typed it is warned */
    int required;       /* required fields come first */
    int account;        /* the account's network id: filled in for a user
                           who is registered, shown in Status */
    const char *legacy; /* the XEP-0077 element it is also read from
                           ("username", "password"), or NULL */
};

/* How a user logs in to a back end, and the words that go with it. */
struct login_form {
    const char *title;                /* of the registration form */
    const char *instructions;         /* what to enter, and where to find it */
    const struct login_field *fields; /* ended by a NULL var */
    const char *missing;              /* a required field is empty */
    const char *taken;                /* another user registered that account */
    const char *account_noun;         /* "Registered: your <noun> is <info>." */
    const char *account_label;        /* the account's display name, in lists */
    const char *chat_help; /* the register chat command's help line */
    const char *chat_note; /* said after a secret was typed in a chat */
    /* 1: registering only starts the login, the back end sends the user
     * the rest later (a QR code to scan); 0: done when registered */
    int async;
    /* 0 when the credentials are well-formed, else -1 and *why (static
     * text) says what is wrong with them. */
    int (*check)(const struct login_creds *c, const char **why);
};

/* The networks a user may register with, the first the default: their
 * back ends' names and login forms. */
struct login_networks {
    int n;
    const char *name[LOGIN_MAX_NETWORKS];
    const struct login_form *form[LOGIN_MAX_NETWORKS];
};

/* The form of network name (NULL: the first), or NULL when ns offers no
 * such network. */
const struct login_form *login_networks_form(const struct login_networks *ns,
                                             const char *name);
/* The form c chose (its LOGIN_NETWORK value; none: the first), or NULL
 * and *why (static text) when it names no network of ns. */
const struct login_form *login_chosen_form(const struct login_networks *ns,
                                           const struct login_creds *c,
                                           const char **why);

/* The value of key, or NULL. */
const char *login_get(const struct login_creds *c, const char *key);
/* Adds key = value (both borrowed); ignored past LOGIN_MAX_FIELDS or when
 * value is NULL. */
void login_add(struct login_creds *c, const char *key, const char *value);
/* The field holding the account's network id, or NULL. */
const struct login_field *login_account_field(const struct login_form *f);
/* 0 when every required field has a value and the form's check accepts
 * them, else -1 and *why (static text). */
int login_check(const struct login_form *f, const struct login_creds *c,
                const char **why);
/* 1 when c has a value for a secret field. */
int login_has_secret(const struct login_form *f, const struct login_creds *c);

#endif
