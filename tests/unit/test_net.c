/* SPDX-License-Identifier: MIT */
/* Unit tests of net.c: back ends found by name only with their required
 * slots, the list of those enabled, captions by kind, file types and size
 * limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "net.h"

static void test_find(void **state)
{
    const struct net_backend *be = net_backend_find("cloudapi");

    assert_non_null(be);
    assert_string_equal(be->name, "cloudapi");
    assert_null(net_backend_missing(be));
    be = net_backend_find("waha");
    assert_non_null(be);
    assert_null(net_backend_missing(be));
    assert_int_equal(be->login_form->async, 1);
    assert_null(net_backend_find("CloudAPI"));
    assert_null(net_backend_find(NULL));
}

static void test_send(const struct net_account *a, const struct net_out *m,
                      net_result_fn cb, void *arg)
{
}

/* A table without a required slot is refused, naming the slot. */
static void test_missing(void **state)
{
    struct net_backend be = *net_backend_find("cloudapi");

    be.webhook_get = NULL;
    assert_string_equal(net_backend_missing(&be), "webhook_get");
    be = *net_backend_find("cloudapi");
    be.configure = NULL;
    assert_string_equal(net_backend_missing(&be), "configure");
    be = *net_backend_find("cloudapi");
    be.media_upload = NULL;
    assert_string_equal(net_backend_missing(&be), "media_upload");
    be.caps.media = 0; /* without media, no media slots are needed */
    assert_null(net_backend_missing(&be));
    memset(&be, 0, sizeof(be));
    be.send = test_send;
    assert_non_null(net_backend_missing(&be));
}

/* network.backends, else network.backend, else cloudapi; names once. */
static void test_enabled(void **state)
{
    struct conf c;
    struct net_set set;

    memset(&c, 0, sizeof(c));
    assert_int_equal(net_enabled(&c, &set), 0);
    assert_int_equal(set.n, 1);
    assert_string_equal(set.be[0]->name, "cloudapi");
    c.network_backend = (char *)"waha";
    c.network_backends = (char *)"";
    assert_int_equal(net_enabled(&c, &set), 0);
    assert_int_equal(set.n, 1);
    assert_string_equal(set.be[0]->name, "waha");
    c.network_backends = (char *)" cloudapi,waha ";
    assert_int_equal(net_enabled(&c, &set), 0);
    assert_int_equal(set.n, 2);
    assert_string_equal(set.be[0]->name, "cloudapi");
    assert_string_equal(set.be[1]->name, "waha");
    assert_ptr_equal(net_set_find(&set, "waha"), set.be[1]);
    assert_ptr_equal(net_set_find(&set, NULL), set.be[0]);
    assert_null(net_set_find(&set, "telegram"));
    c.network_backends = (char *)"waha, waha";
    assert_int_equal(net_enabled(&c, &set), -1);
    c.network_backends = (char *)"cloudapi telegram";
    assert_int_equal(net_enabled(&c, &set), -1);
}

/* An async login form needs login_step and relogin. */
static void test_async_slots(void **state)
{
    struct net_backend be = *net_backend_find("waha");

    be.login_step = NULL;
    assert_string_equal(net_backend_missing(&be), "login_step");
    be = *net_backend_find("waha");
    be.relogin = NULL;
    assert_string_equal(net_backend_missing(&be), "relogin");
    be.logout = NULL; /* optional */
    be.relogin = net_backend_find("waha")->relogin;
    assert_null(net_backend_missing(&be));
}

static void test_caption(void **state)
{
    const struct net_backend *be = net_backend_find("cloudapi");
    struct net_backend none;

    assert_int_equal(net_caption_shown(be, "image"), 1);
    assert_int_equal(net_caption_shown(be, "document"), 1);
    assert_int_equal(net_caption_shown(be, "audio"), 0);
    assert_int_equal(net_caption_shown(be, "sticker"), 0);
    memset(&none, 0, sizeof(none));
    assert_int_equal(net_caption_shown(&none, "audio"), 1);
}

static void test_media_types(void **state)
{
    const struct net_backend *be = net_backend_find("cloudapi");
    const struct net_media_type *t =
        net_media_type_find(be, "IMAGE/JPEG ; x=1");

    assert_non_null(t);
    assert_string_equal(t->kind, "image");
    assert_null(net_media_type_find(be, "image/gif"));
    assert_true(net_media_limit(be, "voice", NULL) > 0);
    assert_int_equal(net_media_limit(be, "nothing", NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),    cmocka_unit_test(test_missing),
        cmocka_unit_test(test_enabled), cmocka_unit_test(test_async_slots),
        cmocka_unit_test(test_caption), cmocka_unit_test(test_media_types),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
