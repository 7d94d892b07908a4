/* SPDX-License-Identifier: MIT */
/* Unit tests for json_strict.c: what RFC 8259 allows, and the extensions
 * lax parsers take that must be refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "json_strict.h"

static int ok(const char *s)
{
    return json_strict_valid(s, strlen(s), 32);
}

static void test_valid(void **state)
{
    static const char *const good[] = {
        "{}",
        "[]",
        " {\"a\":[1,-2.5e+3,0,true,false,null,\"x\"]} ",
        "\"\\u00e9\\ud83d\\ude00 \\\" \\\\ \\/ \\b\\f\\n\\r\\t\"",
        "0",
        "{\"entry\":[{\"changes\":[{\"value\":{}}]}]}",
        "\"caf\xc3\xa9\"",
    };
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!ok(good[i]))
            fail_msg("refused: %s", good[i]);
    (void)state;
}

static void test_invalid(void **state)
{
    static const char *const bad[] = {
        "",          "{'a':1}",      "{\"a\":NaN}", "{\"a\":Infinity}",
        "[1,]",      "{\"a\":1,}",   "[01]",        "[1.]",
        "[.5]",      "[+1]",         "{a:1}",       "\"\\x41\"",
        "\"\\u12\"", "\"a\nb\"",     "{} {}",       "[1 2]",
        "{\"a\" 1}", "[\"unclosed]", "tru",         "nul",
        "[-]",       "{\"a\":1",     "/*c*/{}",     "[1]x",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ok(bad[i]))
            fail_msg("accepted: %s", bad[i]);
    (void)state;
}

static void test_depth_and_nul(void **state)
{
    char deep[200];
    static const char nul[] = "{\"a\":\"x\0y\"}";

    memset(deep, '[', 40);
    memset(deep + 40, ']', 40);
    assert_false(json_strict_valid(deep, 80, 32));
    assert_true(json_strict_valid(deep + 10, 60, 32));
    /* a raw NUL byte inside a string is a control character */
    assert_false(json_strict_valid(nul, sizeof(nul) - 1, 32));
    (void)state;
}

/* json_strict_parse(): json-c's object for what the check accepts, NULL
 * for what it refuses or json-c cannot take whole (invalid UTF-8). */
static void test_parse_and_member(void **state)
{
    static const char doc[] = "{\"a\":{\"b\":\"x\"},\"n\":1}";
    static const char bad_utf8[] = "{\"a\":\"\xc3\x28\"}";
    json_object *o = json_strict_parse(doc, strlen(doc), 32), *a;

    assert_non_null(o);
    a = json_strict_member(o, "a");
    assert_non_null(a);
    assert_string_equal(json_object_get_string(json_strict_member(a, "b")),
                        "x");
    assert_null(json_strict_member(o, "missing"));
    /* not an object, or no object at all */
    assert_null(json_strict_member(json_strict_member(o, "n"), "b"));
    assert_null(json_strict_member(NULL, "a"));
    json_object_put(o);
    assert_null(json_strict_parse("{'a':1}", 7, 32));
    assert_null(json_strict_parse("{\"a\":1} x", 10, 32));
    assert_null(json_strict_parse("[[[1]]]", 7, 2));
    assert_null(json_strict_parse(bad_utf8, strlen(bad_utf8), 32));
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_depth_and_nul),
        cmocka_unit_test(test_parse_and_member),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
