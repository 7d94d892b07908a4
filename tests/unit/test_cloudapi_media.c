/* SPDX-License-Identifier: MIT */
/* Unit tests of which media download URLs get the account's access token
 * (net_cloudapi_media.c): the configured Graph host and Meta's media host
 * only, compared by scheme, host and port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/net_cloudapi_int.h"
#include "conf.h"
#include "net.h"

static void configure(const char *graph_url)
{
    struct conf c;

    memset(&c, 0, sizeof(c));
    c.cloudapi_graph_url = (char *)graph_url;
    c.cloudapi_api_version = (char *)"v21.0";
    c.cloudapi_app_secret = (char *)"s";
    c.cloudapi_verify_token = (char *)"t";
    assert_int_equal(net_configure(&c), 0);
}

static void test_meta_hosts(void **state)
{
    configure("https://graph.facebook.com");
    assert_true(cloudapi_media_host_ok(
        "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1"));
    assert_true(cloudapi_media_host_ok("https://LOOKASIDE.fbsbx.com:443/x"));
    assert_true(cloudapi_media_host_ok("https://graph.facebook.com/v21.0/1"));
    assert_true(cloudapi_media_host_ok("HTTPS://Graph.Facebook.com:443/x"));
    /* another scheme, port or host */
    assert_false(cloudapi_media_host_ok("http://lookaside.fbsbx.com/x"));
    assert_false(cloudapi_media_host_ok("https://lookaside.fbsbx.com:8443/"));
    assert_false(cloudapi_media_host_ok("http://graph.facebook.com/x"));
    assert_false(cloudapi_media_host_ok("https://evil.example/x"));
    assert_false(cloudapi_media_host_ok("https://lookaside.fbsbx.com.evil/"));
    assert_false(cloudapi_media_host_ok("https://evil.example/lookaside"));
    /* user info: a host that is not what it seems */
    assert_false(
        cloudapi_media_host_ok("https://lookaside.fbsbx.com@evil.example/"));
    assert_false(cloudapi_media_host_ok("https://a:b@graph.facebook.com/x"));
    assert_false(
        cloudapi_media_host_ok("https://evil.example\\@graph.facebook.com/"));
    assert_false(cloudapi_media_host_ok("ftp://lookaside.fbsbx.com/x"));
    assert_false(cloudapi_media_host_ok("https://"));
    assert_false(cloudapi_media_host_ok(""));
    (void)state;
}

static void test_configured_graph_host(void **state)
{
    configure("http://127.0.0.1:8443/");
    assert_true(cloudapi_media_host_ok("http://127.0.0.1:8443/x?y=1"));
    assert_false(cloudapi_media_host_ok("http://127.0.0.1:8444/x"));
    assert_false(cloudapi_media_host_ok("http://127.0.0.1/x"));
    assert_false(cloudapi_media_host_ok("https://127.0.0.1:8443/x"));
    assert_true(cloudapi_media_host_ok("https://lookaside.fbsbx.com/x"));
    configure("http://[::1]:9000");
    assert_true(cloudapi_media_host_ok("http://[::1]:9000/x"));
    assert_false(cloudapi_media_host_ok("http://[::1]/x"));
    configure("http://localhost");
    assert_true(cloudapi_media_host_ok("http://localhost:80/x"));
    assert_true(cloudapi_media_host_ok("http://LocalHost/x"));
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta_hosts),
        cmocka_unit_test(test_configured_graph_host),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
