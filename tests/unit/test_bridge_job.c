/* SPDX-License-Identifier: MIT */
/* Unit tests for bridge_job.c: the outbox jobs' kinds, their queue flags
 * and the payload both ways, including rows an older ferry wrote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/bridge_job.h"
#include "queue.h"

static void test_names_and_flags(void **state)
{
    assert_string_equal(bridge_job_name(BRIDGE_JOB_TEXT), "text");
    assert_string_equal(bridge_job_name(BRIDGE_JOB_REACTION), "reaction");
    assert_string_equal(bridge_job_name(BRIDGE_JOB_READ), "read");
    assert_string_equal(bridge_job_name(BRIDGE_JOB_TYPING), "typing");
    assert_string_equal(bridge_job_name(BRIDGE_JOB_MEDIA), "media");
    assert_string_equal(bridge_job_name(BRIDGE_JOB_FETCH), "fetch");
    assert_int_equal(bridge_job_flags("text"), 0);
    assert_int_equal(bridge_job_flags("typing"), 0);
    assert_int_equal(bridge_job_flags("media"), QUEUE_ROW_SLOW);
    /* a file to a group is as slow as one to a contact */
    assert_string_equal(bridge_job_name(BRIDGE_JOB_ROOM_MEDIA), "room_media");
    assert_int_equal(bridge_job_flags("room_media"), QUEUE_ROW_SLOW);
    /* a download sends nothing: it spends none of the send rate */
    assert_int_equal(bridge_job_flags("fetch"),
                     QUEUE_ROW_SLOW | QUEUE_ROW_UNPACED);
    assert_int_equal(bridge_job_flags("nonsense"), 0);
    assert_int_equal(bridge_job_flags(NULL), 0);
}

static void test_round_trip_text(void **state)
{
    struct bridge_job in = {.kind = BRIDGE_JOB_TEXT,
                            .text = "h\xc3\xa9llo \"you\"",
                            .reply_to = "wamid.Q"};
    struct bridge_job out;
    char *p = bridge_job_encode(&in);

    assert_string_equal(p, "{\"text\":\"h\xc3\xa9llo \\\"you\\\"\","
                           "\"reply_to\":\"wamid.Q\"}");
    assert_int_equal(bridge_job_decode("text", p, &out), 0);
    assert_int_equal(out.kind, BRIDGE_JOB_TEXT);
    assert_string_equal(out.text, in.text);
    assert_string_equal(out.reply_to, "wamid.Q");
    assert_null(out.target);
    assert_null(out.url);
    bridge_job_reset(&out);
    assert_null(out.json);
    free(p);
}

static void test_round_trip_fetch(void **state)
{
    struct bridge_job in = {.kind = BRIDGE_JOB_FETCH,
                            .wamid = "wamid.F",
                            .contact = 42,
                            .media_id = "M1",
                            .media_kind = "voice",
                            .mime = "audio/ogg",
                            .caption = "listen",
                            .url = "https://example.test/f",
                            .ordered = 1};
    struct bridge_job out;
    char *p = bridge_job_encode(&in);

    assert_int_equal(bridge_job_decode("fetch", p, &out), 0);
    assert_int_equal(out.kind, BRIDGE_JOB_FETCH);
    assert_string_equal(out.wamid, "wamid.F");
    assert_int_equal(out.contact, 42);
    assert_string_equal(out.media_id, "M1");
    assert_string_equal(out.media_kind, "voice");
    assert_string_equal(out.mime, "audio/ogg");
    assert_null(out.filename);
    assert_string_equal(out.caption, "listen");
    assert_string_equal(out.url, "https://example.test/f");
    assert_int_equal(out.ordered, 1);
    bridge_job_reset(&out);
    free(p);
}

/* A text to a group keeps what its reflection needs. */
static void test_round_trip_room_text(void **state)
{
    struct bridge_job in = {.kind = BRIDGE_JOB_ROOM_TEXT,
                            .text = "hi all",
                            .room = "120363-1@g.us",
                            .stanza_id = "s1",
                            .origin_id = "o1",
                            .sender = "alice@example.org/phone"};
    struct bridge_job out;
    char *p = bridge_job_encode(&in);

    assert_string_equal(bridge_job_name(BRIDGE_JOB_ROOM_TEXT), "room_text");
    assert_int_equal(bridge_job_flags("room_text"), 0);
    assert_int_equal(bridge_job_decode("room_text", p, &out), 0);
    assert_int_equal(out.kind, BRIDGE_JOB_ROOM_TEXT);
    assert_string_equal(out.text, "hi all");
    assert_string_equal(out.room, "120363-1@g.us");
    assert_string_equal(out.stanza_id, "s1");
    assert_string_equal(out.origin_id, "o1");
    assert_string_equal(out.sender, "alice@example.org/phone");
    bridge_job_reset(&out);
    free(p);
}

/* A reaction in a group names the message and the emoji. */
static void test_round_trip_room_reaction(void **state)
{
    struct bridge_job in = {.kind = BRIDGE_JOB_ROOM_REACTION,
                            .text = "",
                            .target = "false_1@g.us_K_2@lid",
                            .room = "1@g.us",
                            .sender = "alice@example.org/phone"};
    struct bridge_job out;
    char *p = bridge_job_encode(&in);

    assert_string_equal(bridge_job_name(BRIDGE_JOB_ROOM_REACTION),
                        "room_reaction");
    assert_int_equal(bridge_job_decode("room_reaction", p, &out), 0);
    assert_int_equal(out.kind, BRIDGE_JOB_ROOM_REACTION);
    assert_string_equal(out.text, ""); /* removed: kept as "" */
    assert_string_equal(out.target, "false_1@g.us_K_2@lid");
    bridge_job_reset(&out);
    free(p);
    assert_string_equal(bridge_job_name(BRIDGE_JOB_ROOM_READ), "room_read");
    assert_int_equal(bridge_job_decode("room_read", "{\"target\":\"t\"}", &out),
                     0);
    assert_int_equal(out.kind, BRIDGE_JOB_ROOM_READ);
    assert_string_equal(out.target, "t");
    bridge_job_reset(&out);
}

/* Payloads as the versions before the job type wrote them. */
static void test_decode_older_rows(void **state)
{
    struct bridge_job j;

    assert_int_equal(
        bridge_job_decode("media",
                          "{\"url\":\"https://u.test/a.jpg\",\"text\":\"cap\","
                          "\"reply_to\":\"wamid.R\"}",
                          &j),
        0);
    assert_int_equal(j.kind, BRIDGE_JOB_MEDIA);
    assert_string_equal(j.url, "https://u.test/a.jpg");
    assert_string_equal(j.text, "cap");
    assert_string_equal(j.reply_to, "wamid.R");
    bridge_job_reset(&j);
    assert_int_equal(
        bridge_job_decode("fetch",
                          "{\"wamid\":\"w\",\"contact\":7,\"media_id\":\"m\","
                          "\"kind\":\"image\"}",
                          &j),
        0);
    assert_string_equal(j.media_kind, "image");
    assert_int_equal(j.contact, 7);
    assert_int_equal(j.ordered, 0);
    bridge_job_reset(&j);
    assert_int_equal(bridge_job_decode("read", "{\"target\":\"wamid.T\"}", &j),
                     0);
    assert_string_equal(j.target, "wamid.T");
    bridge_job_reset(&j);
}

static void test_decode_bad(void **state)
{
    struct bridge_job j;

    assert_int_equal(bridge_job_decode("image", "{}", &j), -1);
    assert_int_equal(bridge_job_decode(NULL, "{}", &j), -1);
    /* a payload that is no object: a job with nothing in it */
    assert_int_equal(bridge_job_decode("text", "[1]", &j), 0);
    assert_null(j.text);
    bridge_job_reset(&j);
    assert_int_equal(bridge_job_decode("text", "{\"text\":5}", &j), 0);
    assert_null(j.text);
    bridge_job_reset(&j);
    assert_int_equal(bridge_job_decode("typing", NULL, &j), 0);
    assert_null(j.target);
    bridge_job_reset(&j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_flags),
        cmocka_unit_test(test_round_trip_text),
        cmocka_unit_test(test_round_trip_fetch),
        cmocka_unit_test(test_round_trip_room_text),
        cmocka_unit_test(test_round_trip_room_reaction),
        cmocka_unit_test(test_decode_older_rows),
        cmocka_unit_test(test_decode_bad),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
