/* SPDX-License-Identifier: MIT */
/* Unit tests of login.c and of the Cloud API's login form: credentials as
 * key/value pairs, required fields, the back end's own checks, secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "login.h"
#include "net.h"

static void test_creds(void **state)
{
    struct login_creds c;
    int i;

    memset(&c, 0, sizeof(c));
    login_add(&c, "a", "1");
    login_add(&c, "b", NULL); /* absent */
    login_add(&c, "c", "");
    assert_int_equal(c.n, 2);
    assert_string_equal(login_get(&c, "a"), "1");
    assert_null(login_get(&c, "b"));
    assert_string_equal(login_get(&c, "c"), "");
    for (i = 0; i < 10; i++)
        login_add(&c, "x", "y");
    assert_int_equal(c.n, LOGIN_MAX_FIELDS);
}

/* The Cloud API form: two required fields, the id is the account's. */
static void test_cloudapi_form(void **state)
{
    const struct login_form *f = net_backend_find("cloudapi")->login_form;
    const struct login_field *id = login_account_field(f);

    assert_non_null(id);
    assert_string_equal(id->var, "phone_number_id");
    assert_false(id->secret);
    assert_string_equal(f->fields[1].var, "access_token");
    assert_true(f->fields[1].secret);
    assert_null(f->fields[2].var);
    assert_false(f->async);
}

/* Runs the form's checks on id and token (NULL: not given). */
static int check(const char *id, const char *token, const char **why)
{
    const struct login_form *f = net_backend_find("cloudapi")->login_form;
    struct login_creds c;

    memset(&c, 0, sizeof(c));
    login_add(&c, "phone_number_id", id);
    login_add(&c, "access_token", token);
    *why = NULL;
    return login_check(f, &c, why);
}

static void test_cloudapi_check(void **state)
{
    char long_token[LOGIN_VALUE_MAX + 2];
    const char *why;

    assert_int_equal(check("1234567890", "EAAGtoken", &why), 0);
    assert_int_equal(check(NULL, "EAAG", &why), -1);
    assert_non_null(strstr(why, "required"));
    assert_int_equal(check("123", NULL, &why), -1);
    assert_non_null(strstr(why, "required"));
    assert_int_equal(check("+49 151", "EAAG", &why), -1);
    assert_non_null(strstr(why, "digits"));
    assert_int_equal(check("", "EAAG", &why), -1);
    assert_int_equal(check("123", "EA AG", &why), -1);
    assert_non_null(strstr(why, "spaces"));
    memset(long_token, 'a', sizeof(long_token) - 1);
    long_token[sizeof(long_token) - 1] = '\0';
    assert_int_equal(check("123", long_token, &why), -1);
}

static void test_secret(void **state)
{
    const struct login_form *f = net_backend_find("cloudapi")->login_form;
    struct login_creds c;

    memset(&c, 0, sizeof(c));
    login_add(&c, "phone_number_id", "1");
    assert_false(login_has_secret(f, &c));
    login_add(&c, "access_token", "t");
    assert_true(login_has_secret(f, &c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_creds),
        cmocka_unit_test(test_cloudapi_form),
        cmocka_unit_test(test_cloudapi_check),
        cmocka_unit_test(test_secret),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
