/* SPDX-License-Identifier: MIT */
/* Unit tests of settings.c: defaults, unreadable texts, changing a key,
 * storing, and the parsed settings kept per account until their text
 * changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "settings.h"
#include "store.h"
#include "util.h"

static void test_defaults(void **state)
{
    assert_int_equal(settings_get(1, NULL, SETTINGS_TYPING), 1);
    assert_int_equal(settings_get(1, "{}", SETTINGS_TYPING), 1);
    assert_int_equal(settings_get(1, "not json", SETTINGS_RECEIPTS), 1);
    assert_int_equal(settings_get(1, "[false]", SETTINGS_RECEIPTS), 1);
    assert_int_equal(settings_get(1, "{\"typing\":0}", SETTINGS_TYPING), 1);
    settings_free();
}

static void test_values(void **state)
{
    const char *json = "{\"typing\":false,\"receipts\":true}";

    assert_int_equal(settings_get(2, json, SETTINGS_TYPING), 0);
    assert_int_equal(settings_get(2, json, SETTINGS_RECEIPTS), 1);
    settings_free();
}

/* A new text for the same account is read anew, not taken from what was
 * kept; another account has its own. */
static void test_text_changes(void **state)
{
    assert_int_equal(settings_get(3, "{\"typing\":false}", SETTINGS_TYPING), 0);
    assert_int_equal(settings_get(4, "{}", SETTINGS_TYPING), 1);
    assert_int_equal(settings_get(3, "{\"typing\":true}", SETTINGS_TYPING), 1);
    assert_int_equal(settings_get(3, "{\"typing\":false}", SETTINGS_TYPING), 0);
    assert_int_equal(settings_get(4, "{}", SETTINGS_TYPING), 1);
    settings_forget(3);
    settings_forget(99);
    assert_int_equal(settings_get(3, "{}", SETTINGS_TYPING), 1);
    settings_free();
}

static void test_with(void **state)
{
    char *a = settings_with("{\"receipts\":false}", SETTINGS_TYPING, 0);
    char *b = settings_with("garbage", SETTINGS_RECEIPTS, 1);

    assert_int_equal(settings_get(5, a, SETTINGS_TYPING), 0);
    assert_int_equal(settings_get(5, a, SETTINGS_RECEIPTS), 0);
    assert_string_equal(b, "{\"receipts\":true}");
    free(a);
    free(b);
    settings_free();
}

/* Stored settings reach the account's row. */
static void test_store(void **state)
{
    char dir[] = "/tmp/ferry-settings-XXXXXX", *path, *wal, *shm;
    struct store *st;
    struct store_account *a;
    long long id;

    assert_non_null(mkdtemp(dir));
    path = xasprintf("%s/ferry.db", dir);
    st = store_open(path, "normal");
    assert_non_null(st);
    id = store_account_upsert(st, "alice@example.org", "cloudapi", "1001",
                              "tok", NULL);
    assert_true(id > 0);
    assert_int_equal(settings_get(id, "{}", SETTINGS_TYPING), 1);
    assert_int_equal(settings_store(st, id, "{\"typing\":false}"), 0);
    a = store_account_by_id(st, id);
    assert_non_null(a);
    assert_string_equal(a->settings, "{\"typing\":false}");
    assert_int_equal(settings_get(id, a->settings, SETTINGS_TYPING), 0);
    store_account_free(a);
    store_close(st);
    wal = xasprintf("%s-wal", path);
    shm = xasprintf("%s-shm", path);
    unlink(path);
    unlink(wal);
    unlink(shm);
    assert_int_equal(rmdir(dir), 0);
    free(path);
    free(wal);
    free(shm);
    settings_free();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),     cmocka_unit_test(test_values),
        cmocka_unit_test(test_text_changes), cmocka_unit_test(test_with),
        cmocka_unit_test(test_store),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
