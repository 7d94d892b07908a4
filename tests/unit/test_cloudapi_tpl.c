/* SPDX-License-Identifier: MIT */
/* Unit tests of the "template" object of a Cloud API template send
 * (net_cloudapi_tpl.c, reference part E.3): body parameters positional or
 * named, a text or file header, and buttons with their sub_type, index and
 * parameter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "../../src/net_cloudapi_int.h"
#include "net_backend.h"

/* The template object of m, as compact JSON (caller frees with free()). */
static char *body_of(const struct net_out *m)
{
    json_object *t = json_object_new_object();
    char *s;

    cloudapi_template_body(t, m);
    s = strdup(json_object_to_json_string_ext(
        t, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(t);
    return s;
}

static void test_no_parameters(void **state)
{
    struct net_out m = {.kind = "template",
                        .template_name = "hello_world",
                        .language = "en_US"};
    char *s = body_of(&m);

    assert_string_equal(
        s, "{\"name\":\"hello_world\",\"language\":{\"code\":\"en_US\"}}");
    free(s);
    (void)state;
}

static void test_named_text_header_and_body(void **state)
{
    const char *params[] = {"SAVE10"}, *names[] = {"code"};
    struct net_out m = {.kind = "template",
                        .template_name = "greeting",
                        .language = "en_US",
                        .params = params,
                        .param_names = names,
                        .nparams = 1,
                        .header_kind = "text",
                        .header_value = "Ana",
                        .header_name = "first_name"};
    char *s = body_of(&m);

    assert_non_null(strstr(
        s, "\"components\":[{\"type\":\"header\",\"parameters\":[{\"type\":"
           "\"text\",\"parameter_name\":\"first_name\",\"text\":\"Ana\"}]},"
           "{\"type\":\"body\",\"parameters\":[{\"type\":\"text\","
           "\"parameter_name\":\"code\",\"text\":\"SAVE10\"}]}]"));
    free(s);
    (void)state;
}

static void test_file_headers(void **state)
{
    struct net_out m = {.kind = "template",
                        .template_name = "order_receipt",
                        .language = "en_US",
                        .header_kind = "document",
                        .header_value = "https://x.example/r/receipt.pdf?a=1"};
    char *s = body_of(&m);

    assert_non_null(strstr(
        s, "{\"type\":\"header\",\"parameters\":[{\"type\":\"document\","
           "\"document\":{\"link\":\"https://x.example/r/receipt.pdf?a=1\","
           "\"filename\":\"receipt.pdf\"}}]}"));
    free(s);
    /* a media id; an image has no file name */
    m.header_kind = "image";
    m.header_value = "1234567890";
    s = body_of(&m);
    assert_non_null(strstr(s, "{\"type\":\"image\",\"image\":{\"id\":"
                              "\"1234567890\"}}"));
    free(s);
    /* a link without a file name at its end */
    m.header_kind = "document";
    m.header_value = "https://x.example/download/";
    s = body_of(&m);
    assert_null(strstr(s, "filename"));
    free(s);
    (void)state;
}

static void test_buttons(void **state)
{
    const struct net_button_param b[] = {{"url", 0, "860198"},
                                         {"quick_reply", 1, "STOP"},
                                         {"copy_code", 2, "SAVE10"}};
    struct net_out m = {.kind = "template",
                        .template_name = "shop",
                        .language = "en",
                        .buttons = b,
                        .nbuttons = 3};
    char *s = body_of(&m);

    assert_non_null(strstr(
        s, "\"components\":[{\"type\":\"button\",\"parameters\":[{\"type\":"
           "\"text\",\"text\":\"860198\"}],\"sub_type\":\"url\",\"index\":"
           "\"0\"},{\"type\":\"button\",\"parameters\":[{\"type\":"
           "\"payload\",\"payload\":\"STOP\"}],\"sub_type\":\"quick_reply\","
           "\"index\":\"1\"},{\"type\":\"button\",\"parameters\":[{\"type\":"
           "\"coupon_code\",\"coupon_code\":\"SAVE10\"}],\"sub_type\":"
           "\"copy_code\",\"index\":\"2\"}]"));
    free(s);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_parameters),
        cmocka_unit_test(test_named_text_header_and_body),
        cmocka_unit_test(test_file_headers),
        cmocka_unit_test(test_buttons),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
