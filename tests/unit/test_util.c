/* SPDX-License-Identifier: MIT */
/* Unit tests for util.c: counting and cutting UTF-8 text by characters,
 * and the wake-up pipe. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util.h"

static void test_utf8_step(void **state)
{
    assert_int_equal(utf8_step("a", 1), 1);
    assert_int_equal(utf8_step("\xc3\xa9", 2), 2);         /* é */
    assert_int_equal(utf8_step("\xf0\x9f\x98\x80", 4), 4); /* 😀 */
    assert_int_equal(utf8_step("\xf0\x9f\x98\x80", 3), 1); /* cut short */
    assert_int_equal(utf8_step("\xff", 1), 1);             /* bad byte */
    assert_int_equal(utf8_step("", 0), 0);
}

static void test_utf8_chars(void **state)
{
    assert_int_equal(utf8_chars(""), 0);
    assert_int_equal(utf8_chars("abc"), 3);
    assert_int_equal(utf8_chars("h\xc3\xa9llo \xf0\x9f\x98\x80"), 7);
    /* each bad byte is a character of its own */
    assert_int_equal(utf8_chars("a\xff\xfe"
                                "b"),
                     4);
    assert_int_equal(utf8_chars("\xe2\x82"), 2); /* a cut-off € */
}

static void test_utf8_offset(void **state)
{
    const char *s = "\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80!";

    assert_int_equal(utf8_offset(s, 0), 0);
    assert_int_equal(utf8_offset(s, 1), 2);
    assert_int_equal(utf8_offset(s, 3), 5);
    assert_int_equal(utf8_offset(s, 5), 10);
    assert_int_equal(utf8_offset(s, 6), strlen(s));
    assert_int_equal(utf8_offset(s, 100), strlen(s));
    assert_int_equal(utf8_offset("a\xff"
                                 "b",
                                 2),
                     2);
}

static void test_duration_words(void **state)
{
    char d[32];

    duration_words(-5, d, sizeof(d));
    assert_string_equal(d, "0 s");
    duration_words(42, d, sizeof(d));
    assert_string_equal(d, "42 s");
    duration_words(5 * 60 + 59, d, sizeof(d));
    assert_string_equal(d, "5 min");
    duration_words(3 * 3600 + 20 * 60, d, sizeof(d));
    assert_string_equal(d, "3 h 20 min");
    duration_words(47 * 3600 + 59 * 60, d, sizeof(d));
    assert_string_equal(d, "47 h 59 min");
    duration_words(3 * 86400 + 2 * 3600 + 5, d, sizeof(d));
    assert_string_equal(d, "3 days 2 h");
    (void)state;
}

static void test_util_datetime(void **state)
{
    char t[UTIL_DATETIME_LEN];

    util_datetime(0, t);
    assert_string_equal(t, "1970-01-01T00:00:00Z");
    util_datetime(1796529600, t);
    assert_string_equal(t, "2026-12-06T04:00:00Z");
    (void)state;
}

static void test_util_hex(void **state)
{
    const unsigned char in[] = {0x00, 0x0f, 0xa5, 0xff};
    char out[2 * sizeof(in) + 1];

    util_hex(in, sizeof(in), out);
    assert_string_equal(out, "000fa5ff");
    util_hex(in, 0, out);
    assert_string_equal(out, "");
    (void)state;
}

/* Both ends non-blocking (a full pipe never stops the thread, an empty
 * one never the loop) and closed on exec. */
static void test_util_pipe(void **state)
{
    int fds[2], i;
    char b = 'x';

    assert_int_equal(util_pipe(fds), 0);
    for (i = 0; i < 2; i++) {
        assert_true(fcntl(fds[i], F_GETFL) & O_NONBLOCK);
        assert_true(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
    }
    assert_int_equal(read(fds[0], &b, 1), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(write(fds[1], &b, 1), 1);
    assert_int_equal(read(fds[0], &b, 1), 1);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_step),
        cmocka_unit_test(test_utf8_chars),
        cmocka_unit_test(test_utf8_offset),
        cmocka_unit_test(test_duration_words),
        cmocka_unit_test(test_util_datetime),
        cmocka_unit_test(test_util_hex),
        cmocka_unit_test(test_util_pipe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
