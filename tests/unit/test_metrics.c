/* SPDX-License-Identifier: MIT */
/* Unit tests for metrics_team.c: a team's response-time histograms and
 * messages per member, their sums and their Prometheus text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"
#include "util.h"

static char *test_text(void)
{
    struct buf b;

    buf_init(&b, 1024 * 1024);
    metrics_team_write(&b);
    return buf_take(&b);
}

static void test_count(const char *member, unsigned long long n, void *arg)
{
    unsigned long long *sum = arg;

    assert_non_null(member);
    *sum += n;
}

static void test_team_histograms(void **state)
{
    struct metrics_team_stat m;
    unsigned long long sum = 0;
    char *t;

    (void)state;
    assert_int_equal(metrics_team_get(7, &m), -1);
    metrics_team_reply(7, "bob@example.org", 30);   /* first, <= 60 s */
    metrics_team_reply(7, "bob@example.org", -1);   /* not a first reply */
    metrics_team_reply(7, "amy@example.org", 3700); /* <= 4 h */
    metrics_team_resolved(7, 600);
    assert_int_equal(metrics_team_get(7, &m), 0);
    assert_int_equal(m.first_count, 2);
    assert_int_equal(m.first_sum, 3730);
    assert_int_equal(m.resolved_count, 1);
    assert_int_equal(m.resolved_sum, 600);
    metrics_team_members(7, test_count, &sum);
    assert_int_equal(sum, 3);
    t = test_text();
    assert_non_null(strstr(t, "ferry_team_first_response_seconds_bucket{"
                              "account=\"7\",le=\"60\"} 1\n"));
    assert_non_null(strstr(t, "ferry_team_first_response_seconds_bucket{"
                              "account=\"7\",le=\"3600\"} 1\n"));
    assert_non_null(strstr(t, "ferry_team_first_response_seconds_bucket{"
                              "account=\"7\",le=\"14400\"} 2\n"));
    assert_non_null(strstr(t, "ferry_team_first_response_seconds_count{"
                              "account=\"7\"} 2\n"));
    assert_non_null(strstr(t, "ferry_team_resolution_seconds_sum{"
                              "account=\"7\"} 600\n"));
    assert_non_null(strstr(t, "ferry_team_messages_total{account=\"7\","
                              "member=\"bob@example.org\"} 2\n"));
    free(t);
    metrics_team_free();
}

/* A label value is escaped: a JID's backslash cannot end the label. */
static void test_team_label_escaped(void **state)
{
    char *t;

    (void)state;
    metrics_team_reply(1, "a\\\"b@example.org", -1);
    t = test_text();
    assert_non_null(strstr(t, "member=\"a\\\\\\\"b@example.org\"} 1\n"));
    free(t);
    metrics_team_free();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_team_histograms),
        cmocka_unit_test(test_team_label_escaped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
