/* SPDX-License-Identifier: MIT */
/* Unit tests of http.c's list of addresses a user's URL may not reach
 * (http_address_internal): IPv4, IPv6, and IPv4 inside IPv6. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "http.h"

/* http_address_internal() of a textual address (IPv4 or IPv6). */
static int internal(const char *text)
{
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;

    memset(&v4, 0, sizeof(v4));
    memset(&v6, 0, sizeof(v6));
    if (inet_pton(AF_INET, text, &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        return http_address_internal((struct sockaddr *)&v4);
    }
    if (inet_pton(AF_INET6, text, &v6.sin6_addr) != 1)
        fail_msg("not an address: %s", text);
    v6.sin6_family = AF_INET6;
    return http_address_internal((struct sockaddr *)&v6);
}

static void test_ipv4(void **state)
{
    static const char *const blocked[] = {
        "0.0.0.0",        "0.1.2.3",        "10.0.0.1",
        "10.255.255.255", "100.64.0.1",     "100.127.255.254",
        "127.0.0.1",      "127.9.9.9",      "169.254.169.254",
        "172.16.0.1",     "172.31.255.255", "192.0.0.1",
        "192.0.0.255",    "192.168.1.1",    "198.18.0.1",
        "198.19.255.255", "224.0.0.1",      "239.255.255.250",
        "240.0.0.1",      "254.1.2.3",      "255.255.255.255",
    };
    static const char *const allowed[] = {
        "1.1.1.1",        "8.8.8.8",    "100.63.255.255",  "100.128.0.0",
        "172.15.255.255", "172.32.0.0", "192.0.1.1",       "192.167.1.1",
        "198.17.255.255", "198.20.0.0", "223.255.255.255", "157.240.1.1",
    };
    size_t i;

    for (i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++)
        if (!internal(blocked[i]))
            fail_msg("%s should be refused", blocked[i]);
    for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        if (internal(allowed[i]))
            fail_msg("%s should be allowed", allowed[i]);
    (void)state;
}

static void test_ipv6(void **state)
{
    static const char *const blocked[] = {
        "::",
        "::1",
        "fc00::1",
        "fdff:ffff::1",
        "fe80::1",
        "febf::1",
        "fec0::1",
        "feff::1",
        "ff02::1",
        "ff0e::1",
        /* IPv4 inside: mapped, compatible, NAT64, 6to4 */
        "::ffff:127.0.0.1",
        "::ffff:10.1.2.3",
        "::ffff:169.254.169.254",
        "::ffff:0.0.0.0",
        "::ffff:255.255.255.255",
        "::127.0.0.1",
        "::10.0.0.1",
        "::8.8.8.8",
        "64:ff9b::7f00:1",
        "64:ff9b::808:808",
        "64:ff9b:1::a00:1",
        "2002:7f00:1::1",
        "2002:a00:1::1",
    };
    static const char *const allowed[] = {
        "2001:4860:4860::8888", "2a03:2880:f12f:83:face:b00c::25de",
        "::ffff:8.8.8.8",       "2002:808:808::1",
        "64:ff9c::1",           "fb00::1",
    };
    size_t i;

    for (i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++)
        if (!internal(blocked[i]))
            fail_msg("%s should be refused", blocked[i]);
    for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        if (internal(allowed[i]))
            fail_msg("%s should be allowed", allowed[i]);
    (void)state;
}

static void test_other_family(void **state)
{
    struct sockaddr sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_family = AF_UNIX;
    assert_true(http_address_internal(&sa));
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_other_family),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
