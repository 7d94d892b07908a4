/* SPDX-License-Identifier: MIT */
/* Unit tests of jid.c: phone number normalisation, contact JIDs and network
 * ids, bare JIDs and domains, XEP-0106 escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jid.h"

/* Asserts that in normalises to want (NULL: refused). */
static void test_phone(const char *in, const char *want)
{
    char out[JID_PHONE_MAX];
    int rc;

    memset(out, 'X', sizeof(out));
    rc = jid_phone_normalize(in, out, sizeof(out));
    if (want == NULL) {
        if (rc != -1)
            fail_msg("'%s' accepted as '%s'", in, out);
        return;
    }
    if (rc != 0)
        fail_msg("'%s' refused", in);
    assert_string_equal(out, want);
}

static void test_phone_good(void **state)
{
    test_phone("+4915112345678", "+4915112345678");
    test_phone("+49 151 1234-5678", "+4915112345678");
    test_phone("  +49 (151) 1234 5678  ", "+4915112345678");
    test_phone("+49.151.12345678", "+4915112345678");
    test_phone("+49/151/12345678", "+4915112345678");
    test_phone("(+1) 555 123 4567", "+15551234567");
    test_phone("+1-555-123-4567", "+15551234567");
    test_phone("\t+1\t5551234567", "+15551234567");
    test_phone("0049 151 12345678", "+4915112345678");
    test_phone("00 49 151 12345678", "+4915112345678");
    test_phone("4915112345678", "+4915112345678");
    test_phone("+1234567", "+1234567");                 /* 7 digits */
    test_phone("+123456789012345", "+123456789012345"); /* 15 digits */
    test_phone("001234567", "+1234567");
    (void)state;
}

static void test_phone_bad(void **state)
{
    char big[4096];

    test_phone("", NULL);
    test_phone("   ", NULL);
    test_phone("+", NULL);
    test_phone("+ ", NULL);
    test_phone("00", NULL);
    test_phone("+123456", NULL);           /* 6 digits */
    test_phone("+1234567890123456", NULL); /* 16 digits */
    test_phone("0012345", NULL);           /* 5 after 00 */
    test_phone("+49 151 CALLME", NULL);
    test_phone("+4915112345678a", NULL);
    test_phone("abc", NULL);
    test_phone("+49+15112345678", NULL);
    test_phone("++4915112345678", NULL);
    test_phone("4915112345678+", NULL);
    test_phone("49 +15112345678", NULL);
    test_phone("01511234567", NULL); /* national: no country code */
    test_phone("+015112345678", NULL);
    test_phone("+0049151123456", NULL);
    test_phone("000491511234567", NULL);
    test_phone("+49_151_12345678", NULL);
    test_phone("+49\n15112345678", NULL);
    test_phone("+4915112345678@x", NULL);
    test_phone("\xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4\xd9\xa5\xd9\xa6\xd9\xa7",
               NULL); /* Arabic-Indic digits */
    memset(big, '1', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    test_phone(big, NULL);
    big[0] = '+';
    memset(big + 1, ' ', sizeof(big) - 20);
    test_phone(big, NULL); /* too many digits after the spaces */
    big[sizeof(big) - 12] = '\0';
    test_phone(big, "+1111111"); /* long, but only 7 digits */
    assert_int_equal(jid_phone_normalize(NULL, big, sizeof(big)), -1);
    assert_int_equal(jid_phone_normalize("+15551234567", NULL, 20), -1);
    (void)state;
}

static void test_phone_outlen(void **state)
{
    char out[JID_PHONE_MAX];

    assert_int_equal(jid_phone_normalize("+15551234567", out, 13), 0);
    assert_string_equal(out, "+15551234567");
    assert_int_equal(jid_phone_normalize("+15551234567", out, 12), -1);
    assert_int_equal(jid_phone_normalize("+15551234567", out, 0), -1);
    (void)state;
}

static void test_of(void **state)
{
    char *j;

    j = jid_of("4915112345678", "whatsapp.example.org");
    assert_string_equal(j, "+4915112345678@whatsapp.example.org");
    free(j);
    j = jid_of("15551234567", "WA.Example.ORG");
    assert_string_equal(j, "+15551234567@wa.example.org");
    free(j);
    j = jid_of("120363012345678901@g.us", "wa.example.org");
    assert_string_equal(j, "120363012345678901@wa.example.org");
    free(j);
    j = jid_of("4915112345678-1600000000@g.us", "wa.example.org");
    assert_string_equal(j, "4915112345678-1600000000@wa.example.org");
    free(j);
    j = jid_of("123456789012345@lid", "wa.example.org");
    assert_string_equal(j, "123456789012345\\40lid@wa.example.org");
    free(j);
    /* ids whose localpart would read as another id's */
    assert_null(jid_of("+4915112345678", "wa.example.org"));
    assert_null(jid_of("123456", "wa.example.org"));
    assert_null(jid_of("1234567890123456", "wa.example.org"));
    assert_null(jid_of("12-34", "wa.example.org"));
    assert_null(jid_of("", "wa.example.org"));
    assert_null(jid_of(NULL, "wa.example.org"));
    assert_null(jid_of("a\nb", "wa.example.org"));
    assert_null(jid_of("\xff\xfe", "wa.example.org"));
    assert_null(jid_of("4915112345678", ""));
    assert_null(jid_of("4915112345678", NULL));
    assert_null(jid_of("4915112345678", "bad domain"));
    assert_null(jid_of("4915112345678", "a@b"));
    (void)state;
}

static void test_kind_of(void **state)
{
    char *j, *back;

    assert_int_equal(jid_is_lid("123456789012345@lid"), 1);
    assert_int_equal(jid_is_lid("12345678901234567890123456789012@lid"), 1);
    assert_int_equal(jid_is_lid("123456789012345678901234567890123@lid"), 0);
    assert_int_equal(jid_is_lid("@lid"), 0);
    assert_int_equal(jid_is_lid("12a@lid"), 0);
    assert_int_equal(jid_is_lid("123@lid.x"), 0);
    assert_int_equal(jid_is_lid("123@c.us"), 0);
    assert_int_equal(jid_is_lid(NULL), 0);
    /* a lid's JID is neither a number's nor a group's, and comes back */
    assert_int_equal(jid_kind_of("123456789012345@lid"), JID_KIND_OTHER);
    j = jid_of("123456789012345@lid", "gw.example.org");
    assert_string_equal(j, "123456789012345\\40lid@gw.example.org");
    back = jid_network_id(j, "gw.example.org");
    assert_string_equal(back, "123456789012345@lid");
    free(back);
    free(j);
    assert_int_equal(jid_kind_of("4915112345678"), JID_KIND_PHONE);
    assert_int_equal(jid_kind_of("1234567"), JID_KIND_PHONE);
    assert_int_equal(jid_kind_of("123456789012345"), JID_KIND_PHONE);
    assert_int_equal(jid_kind_of("120363012345678901@g.us"), JID_KIND_GROUP);
    assert_int_equal(jid_kind_of("491511234-1600000000@g.us"), JID_KIND_GROUP);
    assert_int_equal(jid_kind_of("-1@g.us"), JID_KIND_OTHER);
    assert_int_equal(jid_kind_of("1-@g.us"), JID_KIND_OTHER);
    assert_int_equal(jid_kind_of("1-2-3@g.us"), JID_KIND_OTHER);
    assert_int_equal(jid_kind_of("123456789012345@lid"), JID_KIND_OTHER);
    assert_int_equal(jid_kind_of("49151abc45678"), JID_KIND_OTHER);
    assert_int_equal(jid_kind_of("a b/c"), JID_KIND_OTHER);
    assert_int_equal(jid_kind_of("+4915112345678"), JID_KIND_NONE);
    assert_int_equal(jid_kind_of("123456"), JID_KIND_NONE);
    assert_int_equal(jid_kind_of("12-34"), JID_KIND_NONE);
    assert_int_equal(jid_kind_of(""), JID_KIND_NONE);
    /* a server folds a localpart's case: capitals would not come back */
    assert_int_equal(jid_kind_of("Alice@Example.ORG/Gajim"), JID_KIND_NONE);
    assert_null(jid_of("ABC@lid", "gw.example.test"));
    assert_int_equal(jid_kind_of(NULL), JID_KIND_NONE);
    assert_int_equal(jid_kind_of("tab\there"), JID_KIND_NONE);
    (void)state;
}

static void test_local_of(void **state)
{
    char *l;

    l = jid_local_of("4915112345678");
    assert_string_equal(l, "+4915112345678");
    free(l);
    l = jid_local_of("4915112345678-1600000000@g.us");
    assert_string_equal(l, "4915112345678-1600000000");
    free(l);
    l = jid_local_of("a b@lid");
    assert_string_equal(l, "a\\20b\\40lid");
    free(l);
    assert_null(jid_local_of("123456"));
    (void)state;
}

/* Expects jid to stand for the network id want on d (NULL: for none). */
static void expect_network_id(const char *jid, const char *d, const char *want)
{
    char *id = jid_network_id(jid, d);

    if (want == NULL) {
        assert_null(id);
        return;
    }
    assert_non_null(id);
    assert_string_equal(id, want);
    free(id);
}

static void test_network_id(void **state)
{
    const char *d = "wa.example.org";

    expect_network_id("+4915112345678@wa.example.org", d, "4915112345678");
    expect_network_id("+4915112345678@wa.example.org/res", d, "4915112345678");
    expect_network_id("+4915112345678@WA.Example.Org/a/b@c", d,
                      "4915112345678");
    expect_network_id("120363012345678901@wa.example.org", d,
                      "120363012345678901@g.us");
    expect_network_id("4915112345678@wa.example.org", d, "4915112345678@g.us");
    expect_network_id("49151-160@wa.example.org", d, "49151-160@g.us");
    expect_network_id("123456789012345\\40lid@wa.example.org", d,
                      "123456789012345@lid");
    expect_network_id("49151abc45678@wa.example.org", d, "49151abc45678");
    expect_network_id("+4915112345678@other.example.org", d, NULL);
    expect_network_id("+4915112345678@wa.example.org.evil", d, NULL);
    expect_network_id("+4915112345678@example.org", d, NULL);
    /* not phone numbers, but ids that stand for themselves */
    expect_network_id("+123456@wa.example.org", d, "+123456");
    expect_network_id("+49151abc45678@wa.example.org", d, "+49151abc45678");
    /* "\\2b" is no XEP-0106 escape: the id is those characters */
    expect_network_id("\\2b4915112345678@wa.example.org", d,
                      "\\2b4915112345678");
    expect_network_id("a\\5cb@wa.example.org", d, NULL); /* not canonical */
    expect_network_id("+@wa.example.org", d, "+");
    expect_network_id("wa.example.org", d, NULL);
    expect_network_id("@wa.example.org", d, NULL);
    expect_network_id("", d, NULL);
    expect_network_id(NULL, d, NULL);
    expect_network_id("+4915112345678@wa.example.org", NULL, NULL);
    expect_network_id("+4915112345678@wa.example.org/", d, NULL);
    (void)state;
}

static void test_network_id_round_trip(void **state)
{
    static const char *ids[] = {"1234567",
                                "15551234567",
                                "4915112345678",
                                "123456789012345",
                                "120363012345678901@g.us",
                                "4915112345678-1600000000@g.us",
                                "98765432109876@lid",
                                "a b:c<d>e&f'g\"h/i\\j",
                                "\\20 already escaped"};
    char phone[JID_PHONE_MAX], *j, *id;
    size_t i;

    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        j = jid_of(ids[i], "wa.example.org");
        assert_non_null(j);
        assert_true(jid_valid(j));
        id = jid_network_id(j, "wa.example.org");
        assert_non_null(id);
        assert_string_equal(id, ids[i]);
        if (jid_kind_of(ids[i]) == JID_KIND_PHONE) {
            assert_int_equal(jid_phone_normalize(ids[i], phone, sizeof(phone)),
                             0);
            assert_int_equal(strncmp(j, phone, strlen(phone)), 0);
        }
        free(id);
        free(j);
    }
    (void)state;
}

static void test_bare(void **state)
{
    char *b;

    b = jid_bare("User@Example.ORG/Gajim.x1");
    assert_string_equal(b, "user@example.org");
    free(b);
    b = jid_bare("user@example.org");
    assert_string_equal(b, "user@example.org");
    free(b);
    b = jid_bare("Example.org/res@with/slash");
    assert_string_equal(b, "example.org");
    free(b);
    b = jid_bare("+4915112345678@WA.example.org/x");
    assert_string_equal(b, "+4915112345678@wa.example.org");
    free(b);
    assert_null(jid_bare(""));
    assert_null(jid_bare(NULL));
    assert_null(jid_bare("@example.org"));
    assert_null(jid_bare("user@"));
    assert_null(jid_bare("user@example.org/"));
    assert_null(jid_bare("a b@example.org"));
    assert_null(jid_bare("a@b@example.org"));
    (void)state;
}

static void test_domain(void **state)
{
    char out[64];

    assert_int_equal(jid_domain("a@Example.org/r", out, sizeof(out)), 0);
    assert_string_equal(out, "example.org");
    assert_int_equal(jid_domain("example.org", out, sizeof(out)), 0);
    assert_string_equal(out, "example.org");
    assert_int_equal(jid_domain("example.org/r@x", out, sizeof(out)), 0);
    assert_string_equal(out, "example.org");
    assert_int_equal(jid_domain("a@example.org", out, 12), 0);
    assert_int_equal(jid_domain("a@example.org", out, 11), -1);
    assert_int_equal(jid_domain("a@", out, sizeof(out)), -1);
    assert_int_equal(jid_domain("", out, sizeof(out)), -1);
    (void)state;
}

static void test_valid(void **state)
{
    char big[JID_MAX + 10];

    assert_true(jid_valid("example.org"));
    assert_true(jid_valid("user@example.org"));
    assert_true(jid_valid("user@example.org/res with space"));
    assert_true(jid_valid("+4915112345678@wa.example.org"));
    assert_true(jid_valid("caf\xc3\xa9@example.org"));
    assert_true(jid_valid("a\\20b@example.org"));
    assert_false(jid_valid(NULL));
    assert_false(jid_valid(""));
    assert_false(jid_valid("@example.org"));
    assert_false(jid_valid("user@"));
    assert_false(jid_valid("user@example.org/"));
    assert_false(jid_valid("/res"));
    assert_false(jid_valid("a b@example.org"));
    assert_false(jid_valid("a:b@example.org"));
    assert_false(jid_valid("a<b@example.org"));
    assert_false(jid_valid("a\"b@example.org"));
    assert_false(jid_valid("a@b@example.org"));
    assert_false(jid_valid("a@exa mple.org"));
    assert_false(jid_valid("a@.example.org"));
    assert_false(jid_valid("a@example.org."));
    assert_false(jid_valid("a\x01@example.org"));
    assert_false(jid_valid("a@example.org/\x7f"));
    assert_false(jid_valid("caf\xc3@example.org"));
    /* part and total lengths */
    memset(big, 'a', sizeof(big));
    memcpy(big + 1023, "@example.org", 13);
    assert_true(jid_valid(big));
    memset(big, 'a', sizeof(big));
    memcpy(big + 1024, "@example.org", 13);
    assert_false(jid_valid(big));
    memset(big, 'a', sizeof(big));
    big[sizeof(big) - 1] = '\0';
    assert_false(jid_valid(big));
    (void)state;
}

/* Asserts escape(in) == want and unescape(want) == in. */
static void test_escape_pair(const char *in, const char *want)
{
    char *e = jid_escape(in);
    char *u;

    assert_non_null(e);
    assert_string_equal(e, want);
    u = jid_unescape(e);
    assert_string_equal(u, in);
    free(e);
    free(u);
}

static void test_escape(void **state)
{
    /* the examples of XEP-0106 */
    test_escape_pair("space cadet", "space\\20cadet");
    test_escape_pair("call me \"ishmael\"", "call\\20me\\20\\22ishmael\\22");
    test_escape_pair("at&t guy", "at\\26t\\20guy");
    test_escape_pair("d'artagnan", "d\\27artagnan");
    test_escape_pair("/.fanboy", "\\2f.fanboy");
    test_escape_pair("::foo::", "\\3a\\3afoo\\3a\\3a");
    test_escape_pair("<foo>", "\\3cfoo\\3e");
    test_escape_pair("user@host", "user\\40host");
    test_escape_pair("c:\\net", "c\\3a\\net");
    test_escape_pair("c:\\\\net", "c\\3a\\\\net");
    test_escape_pair("c:\\cool stuff", "c\\3a\\cool\\20stuff");
    test_escape_pair("c:\\5commas", "c\\3a\\5c5commas");
    /* backslashes */
    test_escape_pair("\\", "\\");
    test_escape_pair("a\\", "a\\");
    test_escape_pair("\\zz", "\\zz");
    test_escape_pair("\\2F", "\\2F");
    test_escape_pair("\\20", "\\5c20");
    test_escape_pair("\\5c", "\\5c5c");
    test_escape_pair("\\\\20", "\\\\5c20");
    test_escape_pair("\\ ", "\\\\20");
    test_escape_pair("\\2@", "\\2\\40");
    /* nothing to do */
    test_escape_pair("", "");
    test_escape_pair("120363012345678901", "120363012345678901");
    test_escape_pair("caf\xc3\xa9", "caf\xc3\xa9");
    test_escape_pair("123@lid", "123\\40lid");
    test_escape_pair("120363@g.us", "120363\\40g.us");
    test_escape_pair(" lead", "\\20lead");
    assert_null(jid_escape(NULL));
    assert_null(jid_unescape(NULL));
    (void)state;
}

static void test_unescape(void **state)
{
    char *u;

    u = jid_unescape("a\\20b\\22\\26\\27\\2f\\3a\\3c\\3e\\40\\5c");
    assert_string_equal(u, "a b\"&'/:<>@\\");
    free(u);
    u = jid_unescape("\\2F\\4\\");
    assert_string_equal(u, "\\2F\\4\\");
    free(u);
    u = jid_unescape("\\5c20");
    assert_string_equal(u, "\\20");
    free(u);
    (void)state;
}

/* Every string over a small alphabet survives escape and unescape, and the
 * escaped form has none of the characters a localpart may not hold. */
static void test_escape_exhaustive(void **state)
{
    static const char alpha[] = " \"&'/:<>@\\25cfa0";
    const size_t na = sizeof(alpha) - 1;
    char in[5];
    size_t total = 1, i, len;

    for (len = 0; len < 4; len++)
        total *= na;
    for (i = 0; i < total; i++) {
        size_t v = i, k;
        char *e, *u;

        for (k = 0; k < 4; k++) {
            in[k] = alpha[v % na];
            v /= na;
        }
        in[4] = '\0';
        e = jid_escape(in);
        assert_null(strpbrk(e, " \"&'/:<>@"));
        u = jid_unescape(e);
        if (strcmp(u, in) != 0)
            fail_msg("'%s' -> '%s' -> '%s'", in, e, u);
        free(e);
        free(u);
    }
    (void)state;
}

static void test_escape_long(void **state)
{
    char *in = malloc(100001), *e, *u;

    assert_non_null(in);
    memset(in, '@', 100000);
    in[100000] = '\0';
    e = jid_escape(in);
    assert_int_equal(strlen(e), 300000);
    u = jid_unescape(e);
    assert_string_equal(u, in);
    free(in);
    free(e);
    free(u);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phone_good),
        cmocka_unit_test(test_phone_bad),
        cmocka_unit_test(test_phone_outlen),
        cmocka_unit_test(test_of),
        cmocka_unit_test(test_kind_of),
        cmocka_unit_test(test_local_of),
        cmocka_unit_test(test_network_id),
        cmocka_unit_test(test_network_id_round_trip),
        cmocka_unit_test(test_bare),
        cmocka_unit_test(test_domain),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_unescape),
        cmocka_unit_test(test_escape_exhaustive),
        cmocka_unit_test(test_escape_long),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
