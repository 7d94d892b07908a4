/* SPDX-License-Identifier: MIT */
/* Unit tests of the WAHA back end's webhooks: the X-Webhook-Hmac signature
 * (the reference's test vector, constant-time check of wrong, altered,
 * upper-case and missing ones) and the parsing of session.status, message
 * (texts, files, locations, vCards, replies' ids, notices), message.any,
 * message.ack, reactions, edits, revokes, presence and calls into net
 * events; the user's files read for sendVoice, sendImage and sendFile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <cmocka.h>

#include "json_strict.h"
#include "loop.h"
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
    int from_me[4];
    char text[4][256];
    char account[4][64];
    int status[4];
    enum net_login login[4];
    char target[4][128];
    char reply_to[4][128];
    char geo[4][64];
    char chatstate[4][16];
    char media[4][512]; /* "kind mime url caption" */
    char cards[4][512]; /* "name|phone,type,peer|..." */
    int notice[4];
    int away[4];
    long long last_seen[4];
    char change[4][16];  /* a group's */
    char members[4][64]; /* "id,role;..." of a group's change */
};

/* The cards of ev as "name|phone,type,peer|...;name|..." into out. */
static void collect_cards(const struct net_event *ev, char *out, size_t len)
{
    size_t n = 0;
    int i, j;

    out[0] = '\0';
    for (i = 0; i < ev->ncards && n < len; i++) {
        n += (size_t)snprintf(out + n, len - n, "%s%s", i ? ";" : "",
                              ev->cards[i].name ? ev->cards[i].name : "-");
        for (j = 0; j < ev->cards[i].nphones && n < len; j++)
            n += (size_t)snprintf(
                out + n, len - n, "|%s,%s,%s", ev->cards[i].phones[j].phone,
                ev->cards[i].phones[j].type ? ev->cards[i].phones[j].type : "-",
                ev->cards[i].phones[j].peer ? ev->cards[i].phones[j].peer
                                            : "-");
    }
}

static int collect(const struct net_event *ev, void *arg)
{
    struct got *g = arg;
    int i = g->n++;

    assert_true(i < 4);
    g->kind[i] = ev->kind;
    g->status[i] = ev->status;
    g->from_me[i] = ev->from_me;
    g->login[i] = ev->login;
    snprintf(g->id[i], sizeof(g->id[i]), "%s", ev->id ? ev->id : "");
    snprintf(g->peer[i], sizeof(g->peer[i]), "%s", ev->peer ? ev->peer : "");
    snprintf(g->text[i], sizeof(g->text[i]), "%s", ev->text ? ev->text : "");
    snprintf(g->account[i], sizeof(g->account[i]), "%s",
             ev->account ? ev->account : "");
    snprintf(g->target[i], sizeof(g->target[i]), "%s",
             ev->target ? ev->target : "");
    snprintf(g->reply_to[i], sizeof(g->reply_to[i]), "%s",
             ev->reply_to ? ev->reply_to : "");
    snprintf(g->geo[i], sizeof(g->geo[i]), "%s", ev->geo ? ev->geo : "");
    snprintf(g->chatstate[i], sizeof(g->chatstate[i]), "%s",
             ev->chatstate ? ev->chatstate : "");
    g->away[i] = ev->away;
    g->last_seen[i] = ev->last_seen;
    if (ev->media != NULL)
        snprintf(g->media[i], sizeof(g->media[i]), "%s %s %s %s",
                 ev->media->kind, ev->media->mime ? ev->media->mime : "-",
                 ev->media->url ? ev->media->url : "-",
                 ev->media->caption ? ev->media->caption : "-");
    collect_cards(ev, g->cards[i], sizeof(g->cards[i]));
    g->notice[i] = ev->notice;
    snprintf(g->change[i], sizeof(g->change[i]), "%s",
             ev->group_change ? ev->group_change : "");
    g->members[i][0] = '\0';
    for (size_t k = 0; ev->group_info && k < ev->group_info->nmembers; k++)
        snprintf(g->members[i] + strlen(g->members[i]),
                 sizeof(g->members[i]) - strlen(g->members[i]), "%s,%s;",
                 ev->group_info->members[k].id,
                 ev->group_info->members[k].role);
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
    /* the user's own, written on the phone: message.any, source app;
     * the peer is the chat it went to */
    assert_int_equal(
        parse("{\"event\":\"message.any\",\"session\":\"s1\",\"payload\":{"
              "\"id\":\"true_491511234@c.us_CCCC\",\"from\":\"4900@c.us\","
              "\"to\":\"491511234@c.us\",\"fromMe\":true,\"source\":\"app\","
              "\"body\":\"from the phone\"}}",
              &g),
        0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.from_me[0], 1);
    assert_string_equal(g.peer[0], "491511234");
    assert_string_equal(g.text[0], "from the phone");
    /* but not as a message event, nor without a source */
    assert_int_equal(
        parse("{\"event\":\"message\",\"session\":\"s1\",\"payload\":{"
              "\"id\":\"true_491511234@c.us_CCCC\",\"from\":\"4900@c.us\","
              "\"to\":\"491511234@c.us\",\"fromMe\":true,\"source\":\"app\","
              "\"body\":\"from the phone\"}}",
              &g),
        0);
    assert_int_equal(g.n, 0);
    assert_int_equal(
        parse("{\"event\":\"message.any\",\"session\":\"s1\",\"payload\":{"
              "\"id\":\"true_491511234@c.us_CCCC\",\"from\":\"4900@c.us\","
              "\"to\":\"491511234@c.us\",\"fromMe\":true,"
              "\"body\":\"from the phone\"}}",
              &g),
        0);
    assert_int_equal(g.n, 0);
    /* groups without an author are left out, not refused */
    assert_int_equal(
        parse("{\"event\":\"message\",\"session\":\"s1\",\"payload\":{"
              "\"id\":\"false_1@g.us_C\",\"from\":\"1@g.us\",\"body\":\"x\"}}",
              &g),
        0);
    assert_int_equal(g.n, 0);
    /* an @lid sender: the lid is the peer (its number the bridge's to
     * find); a bare reply id is made full in the lid's chat */
    assert_int_equal(parse("{\"event\":\"message\",\"session\":\"s1\","
                           "\"payload\":{\"id\":\"false_9@lid_D\","
                           "\"from\":\"9@lid\",\"body\":\"x\","
                           "\"replyTo\":{\"id\":\"E\"}}}",
                           &g),
                     0);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.peer[0], "9@lid");
    assert_string_equal(g.reply_to[0], "false_9@lid_E");
    /* but not a lid too long to be one, nor another kind of id */
    assert_int_equal(
        parse("{\"event\":\"message\",\"session\":\"s1\",\"payload\":{"
              "\"id\":\"false_x_D\",\"from\":"
              "\"123456789012345678901234567890123@lid\",\"body\":\"x\"}}",
              &g),
        0);
    assert_int_equal(g.n, 0);
    assert_int_equal(
        parse("{\"event\":\"message\",\"session\":\"s1\",\"payload\":{"
              "\"id\":\"false_x_D\",\"from\":\"9a@lid\",\"body\":\"x\"}}",
              &g),
        0);
    assert_int_equal(g.n, 0);
}

/* group.v2.*: the account added to a group, removed from it, members
 * changed (one who left kept as a member); without a group id: none. */
static void test_group_events(void **state)
{
    struct got g;

    parse("{\"id\":\"evt_g1\",\"event\":\"group.v2.join\",\"session\":"
          "\"s1\",\"payload\":{\"group\":{\"id\":\"77@g.us\",\"subject\":"
          "\"Club\",\"participants\":[{\"id\":\"5@c.us\",\"role\":"
          "\"superadmin\"}]}}}",
          &g);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.kind[0], NET_EVENT_GROUP);
    assert_string_equal(g.id[0], "evt_g1");
    assert_string_equal(g.change[0], "join");
    assert_string_equal(g.members[0], "5@c.us,owner;");
    parse("{\"id\":\"evt_g2\",\"event\":\"group.v2.participants\","
          "\"session\":\"s1\",\"payload\":{\"type\":\"leave\",\"group\":{"
          "\"id\":\"77@g.us\"},\"participants\":[{\"id\":\"6@lid\","
          "\"pn\":null,\"role\":\"left\"}]}}",
          &g);
    assert_string_equal(g.change[0], "remove");
    assert_string_equal(g.members[0], "6@lid,member;");
    parse("{\"id\":\"evt_g3\",\"event\":\"group.v2.leave\",\"session\":"
          "\"s1\",\"payload\":{\"group\":{\"id\":\"77@g.us\"}}}",
          &g);
    assert_string_equal(g.change[0], "leave");
    parse("{\"id\":\"evt_g6\",\"event\":\"group.v2.update\",\"session\":"
          "\"s1\",\"payload\":{\"group\":{\"id\":\"77@g.us\",\"subject\":"
          "\"New\"}}}",
          &g);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.change[0], "update");
    parse("{\"id\":\"evt_g4\",\"event\":\"group.v2.participants\","
          "\"session\":\"s1\",\"payload\":{\"type\":\"kick\",\"group\":{"
          "\"id\":\"77@g.us\"},\"participants\":[]}}",
          &g);
    assert_int_equal(g.n, 0);
    parse("{\"id\":\"evt_g5\",\"event\":\"group.v2.leave\",\"session\":"
          "\"s1\",\"payload\":{\"group\":{\"id\":\"not a group\"}}}",
          &g);
    assert_int_equal(g.n, 0);
    /* the user's own message to a group, written on the phone: the
     * user's (no author), the group's id as the message's */
    parse("{\"event\":\"message.any\",\"session\":\"s1\",\"payload\":{"
          "\"id\":\"true_77@g.us_K1\",\"from\":\"5@c.us\",\"to\":"
          "\"77@g.us\",\"fromMe\":true,\"source\":\"app\",\"participant\":"
          "\"5@c.us\",\"body\":\"from the phone\"}}",
          &g);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.kind[0], NET_EVENT_MESSAGE);
    assert_int_equal(g.from_me[0], 1);
    assert_string_equal(g.id[0], "true_77@g.us_K1");
    assert_string_equal(g.peer[0], "");
    assert_string_equal(g.text[0], "from the phone");
    assert_false(waha_sent_by_us("true_77@g.us_K1"));
    assert_false(waha_sent_by_us("true_77@g.us"));
    assert_false(waha_sent_by_us(NULL));
    /* ferry's own send to it: known already */
    parse("{\"event\":\"message.any\",\"session\":\"s1\",\"payload\":{"
          "\"id\":\"true_77@g.us_K2\",\"from\":\"5@c.us\",\"to\":"
          "\"77@g.us\",\"fromMe\":true,\"source\":\"api\",\"body\":"
          "\"sent\"}}",
          &g);
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

/* A message event of session s1 from 491511234 with payload fields. */
#define MSG(fields)                                                            \
    "{\"event\":\"message\",\"session\":\"s1\",\"me\":{\"id\":"                \
    "\"15550001111@c.us\"},\"payload\":{\"id\":\"false_491511234@c.us_M\","    \
    "\"from\":\"491511234@c.us\",\"fromMe\":false," fields "}}"

static void test_media(void **state)
{
    struct got g;

    assert_int_equal(
        parse(MSG("\"body\":\"look\",\"hasMedia\":true,\"media\":{\"url\":"
                  "\"http://w/api/files/s1/a.jpeg\",\"mimetype\":"
                  "\"image/jpeg\",\"filename\":null,\"error\":null}"),
              &g),
        0);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.media[0],
                        "image image/jpeg http://w/api/files/s1/a.jpeg look");
    assert_string_equal(g.text[0], "look");
    /* a voice note (ptt), a sticker, a document; no caption */
    parse(MSG("\"body\":\"\",\"hasMedia\":true,\"media\":{\"url\":\"http://w/"
              "v\",\"mimetype\":\"audio/ogg; codecs=opus\"},\"_data\":{"
              "\"ptt\":true}"),
          &g);
    assert_string_equal(g.media[0],
                        "voice audio/ogg; codecs=opus http://w/v -");
    parse(MSG("\"hasMedia\":true,\"media\":{\"url\":\"http://w/s\","
              "\"mimetype\":\"image/webp\"}"),
          &g);
    assert_string_equal(g.media[0], "sticker image/webp http://w/s -");
    parse(MSG("\"hasMedia\":true,\"media\":{\"url\":\"http://w/d\","
              "\"mimetype\":\"application/zip\",\"filename\":\"a.zip\"}"),
          &g);
    assert_string_equal(g.media[0], "document application/zip http://w/d -");
    /* no file to fetch: a notice, no media */
    parse(MSG("\"hasMedia\":true,\"media\":null"), &g);
    assert_string_equal(g.media[0], "");
    assert_true(g.notice[0]);
    parse(MSG("\"hasMedia\":true,\"media\":{\"url\":\"http://w/e\","
              "\"error\":{\"message\":\"x\"}}"),
          &g);
    assert_string_equal(g.media[0], "");
    assert_true(g.notice[0]);
}

static void test_location(void **state)
{
    struct got g;

    parse(MSG("\"body\":\"\",\"location\":{\"latitude\":\"52.52\","
              "\"longitude\":\"13.405\",\"name\":\"HQ\",\"address\":"
              "\"Main St\"}"),
          &g);
    assert_string_equal(g.geo[0], "geo:52.5200000,13.4050000");
    assert_string_equal(g.text[0], "HQ\nMain St");
    parse(MSG("\"location\":null,\"_data\":{\"message\":{\"locationMessage\":"
              "{\"degreesLatitude\":-33.5,\"degreesLongitude\":151.25}}}"),
          &g);
    assert_string_equal(g.geo[0], "geo:-33.5000000,151.2500000");
    assert_string_equal(g.text[0], "");
    parse(MSG("\"_data\":{\"type\":\"location\",\"lat\":1,\"lng\":2}"), &g);
    assert_string_equal(g.geo[0], "geo:1.0000000,2.0000000");
    /* out of range or not numbers: no geo: URI */
    parse(MSG("\"location\":{\"latitude\":\"91\",\"longitude\":\"0\"}"), &g);
    assert_string_equal(g.geo[0], "");
    assert_true(g.notice[0]);
    parse(MSG("\"location\":{\"latitude\":\"1x\",\"longitude\":\"0\"}"), &g);
    assert_string_equal(g.geo[0], "");
}

static void test_cards(void **state)
{
    struct got g;

    parse(MSG("\"body\":\"\",\"vCards\":[\"BEGIN:VCARD\\r\\nFN:Jane Doe\\r\\n"
              "item1.TEL;waid=15551234567:+1 555 123 4567\\r\\nTEL;type=HOME:"
              "+1 555 000\\r\\nEND:VCARD\",\"BEGIN:VCARD\\nFN;CHARSET=UTF-8:"
              "Bo\\nTEL;type=CELL;waid=4915:+49 15\\nEND:VCARD\",7]"),
          &g);
    assert_string_equal(g.cards[0], "Jane Doe|+1 555 123 4567,-,15551234567|"
                                    "+1 555 000,HOME,-;Bo|+49 15,CELL,4915");
}

static void test_reply_ids(void **state)
{
    struct got g;

    parse(MSG("\"body\":\"re\",\"replyTo\":{\"id\":\"true_491511234@c.us_Q\"}"),
          &g);
    assert_string_equal(g.reply_to[0], "true_491511234@c.us_Q");
    /* bare ids: whose message it was, by the participant */
    parse(MSG("\"body\":\"re\",\"replyTo\":{\"id\":\"Q\",\"participant\":"
              "\"15550001111@c.us\"}"),
          &g);
    assert_string_equal(g.reply_to[0], "true_491511234@c.us_Q");
    parse(MSG("\"body\":\"re\",\"replyTo\":{\"id\":\"Q\",\"participant\":"
              "\"491511234@c.us\"}"),
          &g);
    assert_string_equal(g.reply_to[0], "false_491511234@c.us_Q");
    /* absent, or no id at all: no reply */
    parse(MSG("\"body\":\"re\",\"replyTo\":{\"body\":\"x\"}"), &g);
    assert_string_equal(g.reply_to[0], "");
    parse(MSG("\"body\":\"re\",\"replyTo\":{\"id\":\"a_b@c\"}"), &g);
    assert_string_equal(g.reply_to[0], "");
}

static void test_actions(void **state)
{
    struct got g;

    parse("{\"event\":\"message.edited\",\"session\":\"s1\",\"payload\":{"
          "\"id\":\"false_491511234@c.us_E\",\"from\":\"491511234@c.us\","
          "\"fromMe\":false,\"body\":\"new\",\"editedMessageId\":\"O\"}}",
          &g);
    assert_int_equal(g.kind[0], NET_EVENT_EDIT);
    assert_string_equal(g.id[0], "false_491511234@c.us_E");
    assert_string_equal(g.target[0], "false_491511234@c.us_O");
    assert_string_equal(g.text[0], "new");
    parse("{\"event\":\"message.revoked\",\"session\":\"s1\",\"payload\":{"
          "\"after\":{\"id\":\"false_491511234@c.us_R\",\"from\":"
          "\"491511234@c.us\",\"fromMe\":false},\"revokedMessageId\":\"O\","
          "\"before\":null}}",
          &g);
    assert_int_equal(g.kind[0], NET_EVENT_REVOKE);
    assert_string_equal(g.target[0], "false_491511234@c.us_O");
    parse("{\"event\":\"message.reaction\",\"session\":\"s1\",\"payload\":{"
          "\"id\":\"false_491511234@c.us_X\",\"from\":\"491511234@c.us\","
          "\"fromMe\":false,\"reaction\":{\"text\":\"\",\"messageId\":"
          "\"true_491511234@c.us_O\"}}}",
          &g);
    assert_int_equal(g.kind[0], NET_EVENT_REACTION);
    assert_string_equal(g.target[0], "true_491511234@c.us_O");
    /* the user's own revoke (from the phone), or without its frame: none */
    parse("{\"event\":\"message.revoked\",\"session\":\"s1\",\"payload\":{"
          "\"after\":{\"id\":\"true_491511234@c.us_R\",\"from\":"
          "\"491511234@c.us\",\"fromMe\":true},\"revokedMessageId\":\"O\"}}",
          &g);
    assert_int_equal(g.n, 0);
    parse("{\"event\":\"message.revoked\",\"session\":\"s1\",\"payload\":{"
          "\"revokedMessageId\":\"O\"}}",
          &g);
    assert_int_equal(g.n, 0);
    /* in a group: by the participant, the target as given (bare or full);
     * without a participant: none */
    parse("{\"event\":\"message.reaction\",\"session\":\"s1\",\"payload\":{"
          "\"id\":\"false_12@g.us_X_7@lid\",\"from\":\"12@g.us\","
          "\"participant\":\"7@lid\",\"fromMe\":false,\"reaction\":{"
          "\"text\":\"+\",\"messageId\":\"false_12@g.us_O_8@lid\"}}}",
          &g);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.kind[0], NET_EVENT_REACTION);
    assert_string_equal(g.target[0], "false_12@g.us_O_8@lid");
    assert_string_equal(g.peer[0], ""); /* a lid: no number */
    parse("{\"event\":\"message.revoked\",\"session\":\"s1\",\"payload\":{"
          "\"after\":{\"id\":\"false_12@g.us_R_4915@c.us\",\"from\":"
          "\"12@g.us\",\"participant\":\"4915@c.us\",\"fromMe\":false},"
          "\"revokedMessageId\":\"O\"}}",
          &g);
    assert_int_equal(g.kind[0], NET_EVENT_REVOKE);
    assert_string_equal(g.target[0], "O");
    assert_string_equal(g.peer[0], "4915");
    parse("{\"event\":\"message.edited\",\"session\":\"s1\",\"payload\":{"
          "\"id\":\"false_12@g.us_E\",\"from\":\"12@g.us\","
          "\"fromMe\":false,\"body\":\"new\",\"editedMessageId\":\"O\"}}",
          &g);
    assert_int_equal(g.n, 0);
}

static void test_presence_and_call(void **state)
{
    struct got g;

    parse("{\"id\":\"evt_p\",\"event\":\"presence.update\",\"session\":\"s1\","
          "\"me\":{\"id\":\"15550001111@c.us\"},\"payload\":{\"id\":"
          "\"491511234@c.us\",\"presences\":[{\"participant\":"
          "\"15550001111@c.us\",\"lastKnownPresence\":\"typing\"},{"
          "\"participant\":\"491511234@c.us\",\"lastKnownPresence\":"
          "\"typing\"},{\"participant\":\"491511234@c.us\","
          "\"lastKnownPresence\":\"offline\"}]}}",
          &g);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.kind[0], NET_EVENT_CHATSTATE);
    assert_string_equal(g.chatstate[0], "composing");
    assert_string_equal(g.peer[0], "491511234");
    /* offline: away, the time last seen hidden */
    assert_int_equal(g.kind[1], NET_EVENT_PRESENCE);
    assert_string_equal(g.peer[1], "491511234");
    assert_int_equal(g.away[1], 1);
    assert_int_equal(g.last_seen[1], 0);
    /* online: a chat state (active) and available; offline with a time;
     * one in ms (or not yet come) is no time */
    parse("{\"event\":\"presence.update\",\"session\":\"s1\",\"payload\":{"
          "\"id\":\"491511234@c.us\",\"presences\":[{\"participant\":"
          "\"491511234@c.us\",\"lastKnownPresence\":\"online\"},{"
          "\"participant\":\"491511234@c.us\",\"lastKnownPresence\":"
          "\"offline\",\"lastSeen\":1796529600},{\"participant\":"
          "\"491511234@c.us\",\"lastKnownPresence\":\"offline\","
          "\"lastSeen\":1796529600000}]}}",
          &g);
    assert_int_equal(g.n, 4);
    assert_int_equal(g.kind[0], NET_EVENT_CHATSTATE);
    assert_string_equal(g.chatstate[0], "active");
    assert_int_equal(g.kind[1], NET_EVENT_PRESENCE);
    assert_int_equal(g.away[1], 0);
    assert_int_equal(g.kind[2], NET_EVENT_PRESENCE);
    assert_int_equal(g.away[2], 1);
    assert_int_equal(g.last_seen[2], 1796529600);
    assert_int_equal(g.kind[3], NET_EVENT_PRESENCE);
    assert_int_equal(g.last_seen[3], 0);
    parse("{\"event\":\"presence.update\",\"session\":\"s1\",\"payload\":{"
          "\"id\":\"1@g.us\",\"presences\":[{\"participant\":\"4@c.us\","
          "\"lastKnownPresence\":\"typing\"}]}}",
          &g);
    assert_int_equal(g.n, 0);
    parse("{\"event\":\"call.received\",\"session\":\"s1\",\"payload\":{"
          "\"id\":\"C1\",\"from\":\"491511234@c.us\",\"isVideo\":true}}",
          &g);
    assert_int_equal(g.kind[0], NET_EVENT_MESSAGE);
    assert_string_equal(g.id[0], "C1");
    assert_non_null(strstr(g.text[0], "missed video call"));
    assert_true(g.notice[0]);
}

/* ---- files from the user ---- */

static void test_uploaded(const struct net_result *r, void *arg)
{
    char **id = arg;

    assert_int_equal(r->outcome, NET_OK);
    *id = xstrdup(r->id);
    loop_stop();
}

/* A file read by waha_media_upload() (through the loop), as its id. */
static char *test_upload(const char *path, const char *mime, const char *name)
{
    struct net_account a = {"s1", ""};
    char *id = NULL;

    waha_media_upload(&a, path, mime, name, test_uploaded, &id);
    loop_run();
    assert_non_null(id);
    return id;
}

static const char *test_member(json_object *o, const char *a, const char *b)
{
    json_object *v = json_strict_member(o, a);

    if (b != NULL)
        v = json_strict_member(v, b);
    return v != NULL ? json_object_get_string(v) : NULL;
}

static void test_outgoing_files(void **state)
{
    char path[] = "/tmp/ferry-test-waha-XXXXXX";
    const unsigned char bytes[] = {0xfb, 0xff, 0xfe, 'O', 'g', 'g', 'S'};
    struct net_out m;
    json_object *o;
    char *id;
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, sizeof(bytes)), (ssize_t)sizeof(bytes));
    close(fd);
    loop_init();
    /* Ogg: a voice note, not converted, no caption */
    id = test_upload(path, "audio/ogg", "note.ogg");
    memset(&m, 0, sizeof(m));
    m.kind = "audio";
    m.media_id = id;
    m.text = "not shown";
    o = json_object_new_object();
    assert_string_equal(waha_media_body(o, &m), "/api/sendVoice");
    assert_string_equal(test_member(o, "file", "mimetype"),
                        "audio/ogg; codecs=opus");
    assert_string_equal(test_member(o, "file", "data"), "+//+T2dnUw==");
    assert_string_equal(test_member(o, "file", "filename"), "note.ogg");
    assert_string_equal(test_member(o, "convert", NULL), "false");
    assert_null(test_member(o, "caption", NULL));
    json_object_put(o);
    /* sent once: the id is gone */
    o = json_object_new_object();
    assert_null(waha_media_body(o, &m));
    json_object_put(o);
    free(id);
    /* a picture keeps its caption; a document its name */
    id = test_upload(path, "image/jpeg", "a.jpg");
    m.kind = "image";
    m.media_id = id;
    m.text = "look";
    o = json_object_new_object();
    assert_string_equal(waha_media_body(o, &m), "/api/sendImage");
    assert_string_equal(test_member(o, "caption", NULL), "look");
    assert_null(test_member(o, "convert", NULL));
    json_object_put(o);
    free(id);
    id = test_upload(path, "application/pdf", "x.pdf");
    m.kind = "document";
    m.media_id = id;
    m.filename = "minutes.pdf";
    o = json_object_new_object();
    assert_string_equal(waha_media_body(o, &m), "/api/sendFile");
    assert_string_equal(test_member(o, "file", "filename"), "minutes.pdf");
    json_object_put(o);
    free(id);
    loop_free();
    unlink(path);
    (void)state;
}

/* What a parsed list of groups held, flattened for the asserts. */
struct test_groups {
    int calls;
    size_t n;
    char text[1024];
};

static void test_groups_cb(const struct net_result *r,
                           const struct net_group *g, size_t n, void *arg)
{
    struct test_groups *t = arg;
    size_t i, k, o = 0;

    t->calls++;
    t->n = n;
    assert_int_equal(r->outcome, NET_OK);
    for (i = 0; i < n; i++) {
        o += (size_t)snprintf(t->text + o, sizeof(t->text) - o,
                              "%s|%s:", g[i].id, g[i].subject);
        for (k = 0; k < g[i].nmembers; k++)
            o += (size_t)snprintf(
                t->text + o, sizeof(t->text) - o, " %s,%s,%s,%s",
                g[i].members[k].id,
                g[i].members[k].lid ? g[i].members[k].lid : "-",
                g[i].members[k].phone ? g[i].members[k].phone : "-",
                g[i].members[k].role);
        o += (size_t)snprintf(t->text + o, sizeof(t->text) - o, ";");
    }
}

/* GET /groups as each engine answers it: an array (WEBJS, GOWS) with
 * {id, pn, role} participants, an object keyed by id (NOWEB), ids as
 * {"_serialized"}, isAdmin flags, GOWS's names; members who left and
 * ids that are not groups are dropped. */
static void test_groups(void **state)
{
    static const char array[] =
        "[{\"id\":\"120363-1@g.us\",\"subject\":\"Family\",\"participants\":"
        "[{\"id\":\"201@lid\",\"pn\":\"4915@c.us\",\"role\":\"superadmin\"},"
        "{\"id\":\"202@lid\",\"pn\":null,\"role\":\"admin\"},"
        "{\"id\":\"4917@c.us\",\"role\":\"participant\"},"
        "{\"id\":\"4918@c.us\",\"role\":\"left\"}]},"
        "{\"id\":\"4919@c.us\",\"subject\":\"not a group\"}]";
    static const char object[] =
        "{\"77@g.us\":{\"id\":{\"_serialized\":\"77@g.us\"},\"name\":\"W\","
        "\"participants\":[{\"id\":{\"_serialized\":\"4915@c.us\"},"
        "\"isAdmin\":true,\"isSuperAdmin\":false}]}}";
    static const char gows[] =
        "[{\"JID\":\"88@g.us\",\"Name\":\"G\",\"Participants\":[{\"JID\":"
        "\"203@lid\",\"PhoneNumber\":\"4916@s.whatsapp.net\",\"IsAdmin\":"
        "false,\"IsSuperAdmin\":true}]}]";
    struct test_groups t;

    memset(&t, 0, sizeof(t));
    assert_int_equal(
        waha_groups_parse(array, strlen(array), test_groups_cb, &t), 0);
    assert_int_equal(t.calls, 1);
    assert_string_equal(t.text, "120363-1@g.us|Family: 201@lid,201,4915,owner "
                                "202@lid,202,-,admin 4917@c.us,-,4917,member;");
    memset(&t, 0, sizeof(t));
    assert_int_equal(
        waha_groups_parse(object, strlen(object), test_groups_cb, &t), 0);
    assert_string_equal(t.text, "77@g.us|W: 4915@c.us,-,4915,admin;");
    memset(&t, 0, sizeof(t));
    assert_int_equal(waha_groups_parse(gows, strlen(gows), test_groups_cb, &t),
                     0);
    assert_string_equal(t.text, "88@g.us|G: 203@lid,203,4916,owner;");
    memset(&t, 0, sizeof(t));
    assert_int_equal(waha_groups_parse("[", 1, test_groups_cb, &t), -1);
    assert_int_equal(t.calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_message),
        cmocka_unit_test(test_group_events),
        cmocka_unit_test(test_ack),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_media),
        cmocka_unit_test(test_location),
        cmocka_unit_test(test_cards),
        cmocka_unit_test(test_reply_ids),
        cmocka_unit_test(test_actions),
        cmocka_unit_test(test_presence_and_call),
        cmocka_unit_test(test_outgoing_files),
        cmocka_unit_test(test_groups),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
