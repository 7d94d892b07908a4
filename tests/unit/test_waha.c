/* SPDX-License-Identifier: MIT */
/* Unit tests of the WAHA back end's webhooks: the X-Webhook-Hmac signature
 * (the reference's test vector, constant-time check of wrong, altered,
 * upper-case and missing ones) and the parsing of session.status, message,
 * message.any and message.ack into net events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net.h"
#include "util.h"
#include "../../src/net_waha_int.h"

#define VECTOR_BODY                                                            \
    "{\"event\":\"message\",\"session\":\"default\",\"engine\":\"WEBJS\"}"
#define VECTOR_KEY "my-secret-key"
#define VECTOR_HMAC                                                            \
    "208f8a55dde9e05519e898b10b89bf0d0b3b0fdf11fdbf09b6b90476301b98d8097c462b" \
    "2b17a6ce93b6b47a136cf2e78a33a63f6752c2c1631777076153fa89"

static void test_vector(void **state)
{
    char hex[WAHA_HMAC_HEX];

    assert_int_equal(
        waha_hmac_hex(VECTOR_KEY, VECTOR_BODY, strlen(VECTOR_BODY), hex), 0);
    assert_string_equal(hex, VECTOR_HMAC);
}

static void test_signature(void **state)
{
    const char *b = VECTOR_BODY;
    size_t n = strlen(b);
    char upper[WAHA_HMAC_HEX], *altered = xstrdup(b);
    size_t i;

    assert_true(waha_signature_ok(VECTOR_KEY, VECTOR_HMAC, b, n));
    assert_false(waha_signature_ok("other-key", VECTOR_HMAC, b, n));
    assert_false(waha_signature_ok(VECTOR_KEY, NULL, b, n));
    assert_false(waha_signature_ok(VECTOR_KEY, "", b, n));
    assert_false(waha_signature_ok("", VECTOR_HMAC, b, n));
    assert_false(waha_signature_ok(VECTOR_KEY, VECTOR_HMAC "00", b, n));
    altered[10] ^= 1; /* a byte of the body */
    assert_false(waha_signature_ok(VECTOR_KEY, VECTOR_HMAC, altered, n));
    for (i = 0; VECTOR_HMAC[i] != '\0'; i++)
        upper[i] = (char)(VECTOR_HMAC[i] >= 'a' ? VECTOR_HMAC[i] - 32
                                                : VECTOR_HMAC[i]);
    upper[i] = '\0';
    assert_false(waha_signature_ok(VECTOR_KEY, upper, b, n));
    free(altered);
}

/* What the parser gave, copied. */
struct got {
    int n;
    enum net_event_kind kind[4];
    char id[4][128];
    char peer[4][32];
    char text[4][256];
    char account[4][64];
    int status[4];
    enum net_login login[4];
};

static int collect(const struct net_event *ev, void *arg)
{
    struct got *g = arg;
    int i = g->n++;

    assert_true(i < 4);
    g->kind[i] = ev->kind;
    g->status[i] = ev->status;
    g->login[i] = ev->login;
    snprintf(g->id[i], sizeof(g->id[i]), "%s", ev->id ? ev->id : "");
    snprintf(g->peer[i], sizeof(g->peer[i]), "%s", ev->peer ? ev->peer : "");
    snprintf(g->text[i], sizeof(g->text[i]), "%s", ev->text ? ev->text : "");
    snprintf(g->account[i], sizeof(g->account[i]), "%s",
             ev->account ? ev->account : "");
    return 0;
}

static int parse(const char *body, struct got *g)
{
    memset(g, 0, sizeof(*g));
    return waha_webhook_parse(body, strlen(body), collect, g);
}

static void test_message(void **state)
{
    struct got g;

    assert_int_equal(
        parse("{\"id\":\"evt_1\",\"event\":\"message\",\"session\":\"s1\","
              "\"payload\":{\"id\":\"false_491511234@c.us_AAAA\","
              "\"timestamp\":1667561485.5,\"from\":\"491511234@c.us\","
              "\"fromMe\":false,\"body\":\"Hi there!\",\"hasMedia\":false,"
              "\"_data\":{\"notifyName\":\"Ana\"}}}",
              &g),
        0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.kind[0], NET_EVENT_MESSAGE);
    assert_string_equal(g.id[0], "false_491511234@c.us_AAAA");
    assert_string_equal(g.peer[0], "491511234");
    assert_string_equal(g.text[0], "Hi there!");
    assert_string_equal(g.account[0], "s1");
    /* message.any of the same message: the same event (the bridge keeps
     * one); the user's own: nothing */
    assert_int_equal(
        parse(
            "{\"event\":\"message.any\",\"session\":\"s1\",\"payload\":{"
            "\"id\":\"false_491511234@c.us_AAAA\",\"from\":\"491511234@c.us\","
            "\"fromMe\":false,\"body\":\"Hi there!\"}}",
            &g),
        0);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.id[0], "false_491511234@c.us_AAAA");
    assert_int_equal(
        parse("{\"event\":\"message.any\",\"session\":\"s1\",\"payload\":{"
              "\"id\":\"true_491511234@c.us_BBBB\",\"from\":\"491511234@c.us\","
              "\"fromMe\":true,\"source\":\"api\",\"body\":\"mine\"}}",
              &g),
        0);
    assert_int_equal(g.n, 0);
    /* groups and @lid senders are left out, not refused */
    assert_int_equal(
        parse("{\"event\":\"message\",\"session\":\"s1\",\"payload\":{"
              "\"id\":\"false_1@g.us_C\",\"from\":\"1@g.us\",\"body\":\"x\"}}",
              &g),
        0);
    assert_int_equal(g.n, 0);
    assert_int_equal(parse("{\"event\":\"message\",\"session\":\"s1\","
                           "\"payload\":{\"id\":\"false_9@lid_D\","
                           "\"from\":\"9@lid\",\"body\":\"x\"}}",
                           &g),
                     0);
    assert_int_equal(g.n, 0);
}

static void test_ack(void **state)
{
    static const struct {
        int ack;
        int status;
    } map[] = {{1, NET_STATUS_SENT},
               {2, NET_STATUS_DELIVERED},
               {3, NET_STATUS_READ},
               {4, NET_STATUS_READ},
               {-1, NET_STATUS_FAILED}};
    struct got g;
    char *body;
    size_t i;

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        body = xasprintf(
            "{\"event\":\"message.ack\",\"session\":\"s1\",\"payload\":{"
            "\"id\":\"true_491511234@c.us_X\",\"from\":\"491511234@c.us\","
            "\"fromMe\":true,\"ack\":%d}}",
            map[i].ack);
        assert_int_equal(parse(body, &g), 0);
        assert_int_equal(g.n, 1);
        assert_int_equal(g.kind[0], NET_EVENT_STATUS);
        assert_int_equal(g.status[0], map[i].status);
        assert_string_equal(g.id[0], "true_491511234@c.us_X");
        free(body);
    }
    /* PENDING, and acks of messages the user received: nothing */
    assert_int_equal(parse("{\"event\":\"message.ack\",\"session\":\"s1\","
                           "\"payload\":{\"id\":\"true_4@c.us_X\","
                           "\"fromMe\":true,\"ack\":0}}",
                           &g),
                     0);
    assert_int_equal(g.n, 0);
    assert_int_equal(parse("{\"event\":\"message.ack\",\"session\":\"s1\","
                           "\"payload\":{\"id\":\"false_4@c.us_X\","
                           "\"fromMe\":false,\"ack\":3}}",
                           &g),
                     0);
    assert_int_equal(g.n, 0);
}

static void test_status(void **state)
{
    struct got g;

    assert_int_equal(
        parse("{\"id\":\"evt_2\",\"event\":\"session.status\",\"session\":"
              "\"s1\",\"payload\":{\"status\":\"SCAN_QR_CODE\"}}",
              &g),
        0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.kind[0], NET_EVENT_LOGIN);
    assert_int_equal(g.login[0], NET_LOGIN_CHALLENGE);
    assert_string_equal(g.id[0], "evt_2");
    assert_int_equal(
        parse("{\"id\":\"evt_3\",\"event\":\"session.status\",\"session\":"
              "\"s1\",\"me\":{\"id\":\"15550001111@c.us\",\"pushName\":"
              "\"Bo\"},\"payload\":{\"status\":\"WORKING\"}}",
              &g),
        0);
    assert_int_equal(g.login[0], NET_LOGIN_READY);
    assert_string_equal(g.text[0], "+15550001111 (Bo)");
    assert_int_equal(
        parse("{\"id\":\"evt_4\",\"event\":\"session.status\",\"session\":"
              "\"s1\",\"payload\":{\"status\":\"FAILED\"}}",
              &g),
        0);
    assert_int_equal(g.login[0], NET_LOGIN_FAILED);
    assert_int_equal(
        parse("{\"id\":\"evt_5\",\"event\":\"session.status\",\"session\":"
              "\"s1\",\"payload\":{\"status\":\"PASSKEY_CONFIRMATION_"
              "REQUIRED\",\"data\":{\"code\":\"123456\"}}}",
              &g),
        0);
    assert_int_equal(g.login[0], NET_LOGIN_ELSEWHERE);
    assert_non_null(strstr(g.text[0], "123456"));
    /* STARTING says nothing to the user */
    assert_int_equal(
        parse("{\"id\":\"evt_6\",\"event\":\"session.status\",\"session\":"
              "\"s1\",\"payload\":{\"status\":\"STARTING\"}}",
              &g),
        0);
    assert_int_equal(g.n, 0);
}

static void test_malformed(void **state)
{
    struct got g;

    assert_int_equal(parse("", &g), -1);
    assert_int_equal(parse("[]", &g), -1);
    assert_int_equal(parse("{\"event\":\"message\"}", &g), -1);
    assert_int_equal(parse("{\"event\":\"message\",\"session\":\"s\","
                           "\"payload\":{\"id\":1,\"from\":2}}",
                           &g),
                     0);
    assert_int_equal(g.n, 0);
    assert_int_equal(parse("{\"event\":\"poll.vote\",\"session\":\"s\","
                           "\"payload\":{}}",
                           &g),
                     0);
    assert_int_equal(g.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),  cmocka_unit_test(test_signature),
        cmocka_unit_test(test_message), cmocka_unit_test(test_ack),
        cmocka_unit_test(test_status),  cmocka_unit_test(test_malformed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
