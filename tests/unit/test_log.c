/* SPDX-License-Identifier: MIT */
/* Unit tests for log.c: escaping of peer text, levels, the file
 * destination and its reopening after rotation, also while another thread
 * logs. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "util.h"

static void test_escape_controls(void **state)
{
    char out[128];

    log_escape("a\nb\rc\x1b[31md\x7f", out, sizeof(out));
    assert_string_equal(out, "a\\x0ab\\x0dc\\x1b[31md\\x7f");
    log_escape("back\\slash", out, sizeof(out));
    assert_string_equal(out, "back\\x5cslash");
}

static void test_escape_utf8(void **state)
{
    char out[128];

    /* valid UTF-8 passes, invalid bytes are shown as \xNN */
    log_escape("caf\xc3\xa9 \xf0\x9f\x98\x80", out, sizeof(out));
    assert_string_equal(out, "caf\xc3\xa9 \xf0\x9f\x98\x80");
    log_escape("bad\xff\xc3(", out, sizeof(out));
    assert_string_equal(out, "bad\\xff\\xc3(");
}

static void test_escape_truncates(void **state)
{
    char out[8];

    log_escape("\n\n\n\n\n\n", out, sizeof(out));
    assert_true(strlen(out) < sizeof(out));
    assert_string_equal(out, "\\x0a");
}

/* The whole content of path (caller frees). */
static char *test_slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    char *s = xcalloc(1, 65536);
    size_t n;

    assert_non_null(fp);
    n = fread(s, 1, 65535, fp);
    s[n] = '\0';
    fclose(fp);
    return s;
}

static void test_file_levels_and_reopen(void **state)
{
    char dir[] = "/tmp/ferry-log-XXXXXX";
    char *path, *rotated, *text;

    assert_non_null(mkdtemp(dir));
    path = xasprintf("%s/ferry.log", dir);
    rotated = xasprintf("%s/ferry.log.1", dir);
    assert_int_equal(log_open(path, LOG_LEVEL_INFO), 0);
    log_debug("hidden %d", 1);
    log_info("peer said %s", "hi\nforged: line");
    assert_int_equal(rename(path, rotated), 0);
    assert_int_equal(log_reopen(), 0);
    log_warn("after rotation");
    log_close();

    text = test_slurp(rotated);
    assert_null(strstr(text, "hidden"));
    assert_non_null(strstr(text, "info: peer said hi\\x0aforged: line\n"));
    assert_null(strstr(text, "after rotation"));
    free(text);
    text = test_slurp(path);
    assert_non_null(strstr(text, "warn: after rotation\n"));
    free(text);
    unlink(path);
    unlink(rotated);
    rmdir(dir);
    free(path);
    free(rotated);
}

#define TEST_THREAD_LINES 20000

static void *test_log_lines(void *arg)
{
    int i;

    (void)arg;
    for (i = 0; i < TEST_THREAD_LINES; i++)
        log_warn("from the other thread %d", i);
    return NULL;
}

/* ferry's threads (the WAL syncer, the checkpointer, the media deleter)
 * log while the loop may reopen the file on SIGHUP: every line lands,
 * whole, and nothing writes to a closed file (ASan's build would see
 * that). */
static void test_reopen_while_a_thread_logs(void **state)
{
    char dir[] = "/tmp/ferry-log-XXXXXX";
    char *path, line[256], want[64];
    FILE *fp;
    pthread_t t;
    int i, lines = 0;

    (void)state;
    assert_non_null(mkdtemp(dir));
    path = xasprintf("%s/ferry.log", dir);
    assert_int_equal(log_open(path, LOG_LEVEL_INFO), 0);
    assert_int_equal(pthread_create(&t, NULL, test_log_lines, NULL), 0);
    for (i = 0; i < 2000; i++)
        assert_int_equal(log_reopen(), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    log_close();

    fp = fopen(path, "r"); /* larger than test_slurp() reads */
    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp) != NULL) {
        assert_non_null(strchr(line, '\n')); /* whole lines only */
        snprintf(want, sizeof(want), "warn: from the other thread %d\n", lines);
        assert_non_null(strstr(line, want)); /* each once, in order */
        lines++;
    }
    fclose(fp);
    assert_int_equal(lines, TEST_THREAD_LINES);
    unlink(path);
    rmdir(dir);
    free(path);
}

static void test_level_parse(void **state)
{
    assert_int_equal(log_level_parse("error"), LOG_LEVEL_ERROR);
    assert_int_equal(log_level_parse("debug"), LOG_LEVEL_DEBUG);
    assert_int_equal(log_level_parse("verbose"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_controls),
        cmocka_unit_test(test_escape_utf8),
        cmocka_unit_test(test_escape_truncates),
        cmocka_unit_test(test_file_levels_and_reopen),
        cmocka_unit_test(test_reopen_while_a_thread_logs),
        cmocka_unit_test(test_level_parse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
