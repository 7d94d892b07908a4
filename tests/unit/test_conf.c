/* SPDX-License-Identifier: MIT */
/* Unit tests of conf.c: good and bad files, every kind of problem with its
 * FILE:LINE, environment overrides, secrets in files, and the sample
 * conf/ferry.conf kept in step with the key table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <ini.h>

#include "conf.h"

#define SAMPLE TOP_SRCDIR "/conf/ferry.conf"

#define GOOD_MIN                                                               \
    "[component]\n"                                                            \
    "jid = gw.example.org\n"                                                   \
    "secret = s3cret\n"                                                        \
    "[gateway]\n"                                                              \
    "allowed_domains = example.org\n"

/* One conf_load() of a temporary file, with what it printed. */
struct run {
    char path[64];
    char *errs;
    size_t errlen;
    struct conf *conf;
};

/* Writes n bytes to a new temporary file; its path into path. */
static void test_write_file(char *path, size_t pathlen, const char *data,
                            size_t n)
{
    int fd;

    snprintf(path, pathlen, "/tmp/ferry-test-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
}

/* Loads text as a config file into r. */
static void test_load(struct run *r, const char *text)
{
    FILE *errs;

    test_write_file(r->path, sizeof(r->path), text, strlen(text));
    errs = open_memstream(&r->errs, &r->errlen);
    assert_non_null(errs);
    r->conf = conf_load(r->path, errs);
    fclose(errs);
}

static void test_run_free(struct run *r)
{
    unlink(r->path);
    free(r->errs);
    conf_free(r->conf);
}

/* Asserts that r printed "PATH:line: msg" as one of its lines. */
static void test_expect(struct run *r, int line, const char *msg)
{
    char want[1024];

    snprintf(want, sizeof(want), "%s:%d: %s\n", r->path, line, msg);
    if (strstr(r->errs, want) == NULL)
        fail_msg("expected \"%s\" in:\n%s", want, r->errs);
}

static int test_count_lines(const char *s)
{
    int n = 0;

    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

/* Loads text, expects failure with exactly one message. */
static void test_bad(const char *text, int line, const char *msg)
{
    struct run r;

    test_load(&r, text);
    assert_null(r.conf);
    test_expect(&r, line, msg);
    if (test_count_lines(r.errs) != 1)
        fail_msg("expected one message, got:\n%s", r.errs);
    test_run_free(&r);
}

/* Clears every FERRY_* variable the table knows of. */
static int test_env_clear(void **state)
{
    const struct conf_key *k = NULL;
    size_t n, i;
    char name[128], fname[160], *c;

    k = conf_keys(&n);
    for (i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "FERRY_%s_%s", k[i].section, k[i].name);
        for (c = name; *c != '\0'; c++)
            if (*c >= 'a' && *c <= 'z')
                *c = (char)(*c - 'a' + 'A');
        unsetenv(name);
        snprintf(fname, sizeof(fname), "%s_FILE", name);
        unsetenv(fname);
    }
    (void)state;
    return 0;
}

/* ---- good files ---- */

static void test_minimal_defaults(void **state)
{
    struct run r;
    struct conf *c;

    test_load(&r, GOOD_MIN);
    c = r.conf;
    assert_non_null(c);
    assert_string_equal(r.errs, "");
    assert_string_equal(c->path, r.path);
    assert_string_equal(c->component_jid, "gw.example.org");
    assert_string_equal(c->component_secret, "s3cret");
    assert_string_equal(c->component_host, "127.0.0.1");
    assert_int_equal(c->component_port, 5347);
    assert_string_equal(c->gateway_name, "WhatsApp");
    assert_string_equal(c->gateway_allowed_domains, "example.org");
    assert_string_equal(c->gateway_admins, "");
    assert_string_equal(c->store_path, "/var/lib/ferry/ferry.sqlite");
    assert_string_equal(c->store_synchronous, "full");
    assert_string_equal(c->http_listen, "127.0.0.1:8480");
    assert_string_equal(c->http_public_url, "http://127.0.0.1:8480");
    assert_string_equal(c->network_backend, "cloudapi");
    assert_string_equal(c->cloudapi_graph_url, "https://graph.facebook.com");
    assert_string_equal(c->cloudapi_api_version, "v21.0");
    assert_string_equal(c->cloudapi_app_secret, "");
    assert_string_equal(c->cloudapi_verify_token, "");
    assert_int_equal(c->cloudapi_throughput, 80);
    assert_string_equal(c->media_upload_service, "");
    assert_int_equal(c->media_max_size, 104857600LL);
    assert_string_equal(c->log_level, "info");
    assert_string_equal(c->log_destination, "stderr");
    test_run_free(&r);
    (void)state;
}

static void test_full_file(void **state)
{
    struct run r;
    struct conf *c;

    test_load(&r, "\xEF\xBB\xBF; a comment\n# another\n\n"
                  "[component]\n"
                  "jid = WA.example.org\n"
                  "secret = a b;c  ; inline comment\n"
                  "host = xmpp.example.org\n"
                  "port = 65535\n"
                  "[gateway]\n"
                  "name = Ferry WA\n"
                  "allowed_domains = example.org  example.net\n"
                  "admins = a@example.org b@example.org\n"
                  "[store]\n"
                  "path = /tmp/x.sqlite\n"
                  "synchronous = full\n"
                  "[http]\n"
                  "listen = [::1]:1\n"
                  "public_url = https://ferry.example.org/x\n"
                  "[network]\n"
                  "backend: waha\n"
                  "[cloudapi]\n"
                  "graph_url = http://localhost:9999\n"
                  "api_version = v1.23\n"
                  "app_secret = appsecret\n"
                  "verify_token = vt\n"
                  "throughput = 1000\n"
                  "[media]\n"
                  "upload_service = upload.example.org\n"
                  "max_size = 2147483648\n"
                  "[log]\n"
                  "level = debug\n"
                  "destination = /var/log/ferry.log\n");
    c = r.conf;
    if (c == NULL)
        fail_msg("%s", r.errs);
    assert_string_equal(c->component_jid, "WA.example.org");
    assert_string_equal(c->component_secret, "a b;c");
    assert_string_equal(c->component_host, "xmpp.example.org");
    assert_int_equal(c->component_port, 65535);
    assert_string_equal(c->gateway_name, "Ferry WA");
    assert_string_equal(c->gateway_allowed_domains, "example.org  example.net");
    assert_string_equal(c->gateway_admins, "a@example.org b@example.org");
    assert_string_equal(c->store_path, "/tmp/x.sqlite");
    assert_string_equal(c->store_synchronous, "full");
    assert_string_equal(c->http_listen, "[::1]:1");
    assert_string_equal(c->http_public_url, "https://ferry.example.org/x");
    assert_string_equal(c->network_backend, "waha");
    assert_string_equal(c->cloudapi_graph_url, "http://localhost:9999");
    assert_string_equal(c->cloudapi_api_version, "v1.23");
    assert_string_equal(c->cloudapi_app_secret, "appsecret");
    assert_string_equal(c->cloudapi_verify_token, "vt");
    assert_int_equal(c->cloudapi_throughput, 1000);
    assert_string_equal(c->media_upload_service, "upload.example.org");
    assert_int_equal(c->media_max_size, 2147483648LL);
    assert_string_equal(c->log_level, "debug");
    assert_string_equal(c->log_destination, "/var/log/ferry.log");
    test_run_free(&r);
    (void)state;
}

/* A 7000-byte value on one line: more than inih's own line buffer. */
static void test_long_line_ok(void **state)
{
    char *text = malloc(8000);
    struct run r;

    assert_non_null(text);
    snprintf(text, 8000, GOOD_MIN "[log]\ndestination = /%0*d\n", 4000, 7);
    test_load(&r, text);
    assert_non_null(r.conf);
    assert_int_equal(strlen(r.conf->log_destination), 4001);
    test_run_free(&r);
    free(text);
    (void)state;
}

static void test_listen_forms(void **state)
{
    static const char *good[] = {"127.0.0.1:8480", "[::1]:8480", "localhost:1",
                                 "0.0.0.0:65535"};
    static const char *bad[] = {
        "127.0.0.1",  "::1:8480", "[::1]8480", "[]:80",   ":80",   "host:0",
        "host:65536", "host:",    "host:8x",   "[zz]:80", "a b:80"};
    char text[512];
    struct run r;
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(text, sizeof(text), GOOD_MIN "[http]\nlisten = %s\n", good[i]);
        test_load(&r, text);
        if (r.conf == NULL)
            fail_msg("%s: %s", good[i], r.errs);
        test_run_free(&r);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char msg[256];

        snprintf(text, sizeof(text), GOOD_MIN "[http]\nlisten = %s\n", bad[i]);
        snprintf(msg, sizeof(msg), "http.listen: '%s' is not HOST:PORT",
                 bad[i]);
        test_bad(text, 7, msg);
    }
    (void)state;
}

/* ---- bad files: one problem each ---- */

static void test_bad_section(void **state)
{
    test_bad(GOOD_MIN "[bogus]\nx = 1\n", 6, "unknown section [bogus]");
    test_bad(GOOD_MIN "[log\n", 6, "syntax error: missing ']'");
    test_bad(GOOD_MIN "[log] junk\n", 6, "syntax error: text after ']'");
    (void)state;
}

static void test_bad_key(void **state)
{
    test_bad(GOOD_MIN "[component]\nprot = 1\n", 7,
             "unknown key 'prot' in section [component]");
    test_bad(GOOD_MIN "[component]\nhost_file = /etc/hostname\n", 7,
             "unknown key 'host_file' in section [component]");
    test_bad(GOOD_MIN "[component]\nPort = 1\n", 7,
             "unknown key 'Port' in section [component]");
    test_bad("level = info\n" GOOD_MIN, 1, "key 'level' outside any section");
    test_bad(GOOD_MIN "[log]\nlevel\n", 7,
             "syntax error: expected 'key = value'");
    test_bad(GOOD_MIN "[log]\nlevel = info\n  debug\n", 8,
             "syntax error: expected 'key = value'");
    (void)state;
}

static void test_bad_int(void **state)
{
    test_bad(GOOD_MIN "[component]\nport = 12ab\n", 7,
             "component.port: '12ab' is not an integer");
    test_bad(GOOD_MIN "[component]\nport =\n", 7,
             "component.port: '' is not an integer");
    test_bad(GOOD_MIN "[component]\nport = +80\n", 7,
             "component.port: '+80' is not an integer");
    test_bad(GOOD_MIN "[component]\nport = 70000\n", 7,
             "component.port: 70000 is out of range 1..65535");
    test_bad(GOOD_MIN "[component]\nport = 0\n", 7,
             "component.port: 0 is out of range 1..65535");
    test_bad(GOOD_MIN "[component]\nport = -1\n", 7,
             "component.port: -1 is out of range 1..65535");
    test_bad(GOOD_MIN "[cloudapi]\nthroughput = 1001\n", 7,
             "cloudapi.throughput: 1001 is out of range 1..1000");
    test_bad(GOOD_MIN "[media]\nmax_size = 2147483649\n", 7,
             "media.max_size: 2147483649 is out of range 1..2147483648");
    test_bad(GOOD_MIN "[media]\nmax_size = 99999999999999999999999\n", 7,
             "media.max_size: '99999999999999999999999' is not an integer");
    (void)state;
}

static void test_bad_enum(void **state)
{
    test_bad(GOOD_MIN "[store]\nsynchronous = sometimes\n", 7,
             "store.synchronous: 'sometimes' is not one of normal|full");
    test_bad(GOOD_MIN "[network]\nbackend = CloudAPI\n", 7,
             "network.backend: 'CloudAPI' is not one of cloudapi|waha");
    test_bad(GOOD_MIN "[log]\nlevel = warning\n", 7,
             "log.level: 'warning' is not one of error|warn|info|debug");
    test_bad(GOOD_MIN "[log]\nlevel = info|debug\n", 7,
             "log.level: 'info|debug' is not one of error|warn|info|debug");
    (void)state;
}

static void test_bad_syntax_values(void **state)
{
    test_bad(GOOD_MIN "[cloudapi]\napi_version = 21.0\n", 7,
             "cloudapi.api_version: '21.0' is not a version like v21.0");
    test_bad(GOOD_MIN "[cloudapi]\napi_version = v21\n", 7,
             "cloudapi.api_version: 'v21' is not a version like v21.0");
    test_bad(GOOD_MIN "[cloudapi]\napi_version = v21.0x\n", 7,
             "cloudapi.api_version: 'v21.0x' is not a version like v21.0");
    test_bad(GOOD_MIN "[cloudapi]\ngraph_url = ftp://x\n", 7,
             "cloudapi.graph_url: 'ftp://x' is not an http:// or https:// "
             "URL");
    test_bad(GOOD_MIN "[http]\npublic_url = https://\n", 7,
             "http.public_url: 'https://' is not an http:// or https:// URL");
    test_bad("[component]\njid = a@b.org\nsecret = s\n"
             "[gateway]\nallowed_domains = example.org\n",
             2, "component.jid: 'a@b.org' is not a domain name");
    test_bad(GOOD_MIN "[media]\nupload_service = a/b\n", 7,
             "media.upload_service: 'a/b' is not a domain name");
    test_bad(GOOD_MIN "[gateway]\nname =\n", 7,
             "gateway.name: must not be "
             "empty");
    (void)state;
}

static void test_bad_required(void **state)
{
    struct run r;

    test_bad("[component]\nsecret = s\n[gateway]\nallowed_domains = x.org\n", 0,
             "component.jid: required key missing");
    test_bad("[component]\njid = gw.example.org\nsecret = s\n", 0,
             "gateway.allowed_domains: required key missing");
    test_bad("[component]\njid =\nsecret = s\n"
             "[gateway]\nallowed_domains = x.org\n",
             2, "component.jid: must not be empty");
    test_bad("[component]\njid = gw.example.org\nsecret = s\n"
             "[gateway]\nallowed_domains =   \n",
             5, "gateway.allowed_domains: must not be empty");
    test_load(&r, "");
    assert_null(r.conf);
    test_expect(&r, 0, "component.jid: required key missing");
    test_expect(&r, 0, "component.secret: required key missing");
    test_expect(&r, 0, "gateway.allowed_domains: required key missing");
    assert_int_equal(test_count_lines(r.errs), 3);
    test_run_free(&r);
    (void)state;
}

static void test_bad_duplicate(void **state)
{
    test_bad(GOOD_MIN "[component]\nport = 1\nport = 2\n", 8,
             "duplicate key component.port (first on line 7)");
    test_bad(GOOD_MIN "[component]\nsecret = x\n", 7,
             "duplicate key component.secret (first on line 3)");
    (void)state;
}

static void test_bad_lines(void **state)
{
    char *text = malloc(10000);
    struct run r;

    assert_non_null(text);
    snprintf(text, 10000, GOOD_MIN "[log]\ndestination = /%0*d\nlevel = x\n",
             9000, 7);
    test_load(&r, text);
    assert_null(r.conf);
    test_expect(&r, 7, "line too long (max 8192 bytes)");
    test_expect(&r, 8, "log.level: 'x' is not one of error|warn|info|debug");
    assert_int_equal(test_count_lines(r.errs), 2);
    test_run_free(&r);

    snprintf(text, 10000, GOOD_MIN "[log]\ndestination = /%0*d\n", 4100, 7);
    test_bad(text, 7, "log.destination: value too long (max 4096 bytes)");
    free(text);

    {
        static const char nul[] = GOOD_MIN "[log]\nlevel = i\0x\nlevel = y\n";
        FILE *errs;

        test_write_file(r.path, sizeof(r.path), nul, sizeof(nul) - 1);
        errs = open_memstream(&r.errs, &r.errlen);
        r.conf = conf_load(r.path, errs);
        fclose(errs);
        assert_null(r.conf);
        test_expect(&r, 7, "NUL byte in line");
        test_expect(&r, 8,
                    "log.level: 'y' is not one of error|warn|info|debug");
        assert_int_equal(test_count_lines(r.errs), 2);
        test_run_free(&r);
    }
    (void)state;
}

/* Every problem of a file is reported, each on its line. */
static void test_bad_many(void **state)
{
    struct run r;

    test_load(&r, "[component]\n"
                  "jid = gw.example.org\n"
                  "port = x\n"
                  "oops\n"
                  "[nope]\n"
                  "a = b\n"
                  "[store]\n"
                  "synchronous = off\n"
                  "nosuch = 1\n"
                  "[log\n"
                  "[gateway]\n"
                  "allowed_domains = example.org\n");
    assert_null(r.conf);
    test_expect(&r, 3, "component.port: 'x' is not an integer");
    test_expect(&r, 4, "syntax error: expected 'key = value'");
    test_expect(&r, 5, "unknown section [nope]");
    test_expect(&r, 8, "store.synchronous: 'off' is not one of normal|full");
    test_expect(&r, 9, "unknown key 'nosuch' in section [store]");
    test_expect(&r, 10, "syntax error: missing ']'");
    test_expect(&r, 0, "component.secret: required key missing");
    assert_int_equal(test_count_lines(r.errs), 7);
    test_run_free(&r);
    (void)state;
}

static void test_bad_open(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *errs = open_memstream(&buf, &len);

    assert_null(conf_load("/nonexistent/ferry.conf", errs));
    fclose(errs);
    assert_non_null(strstr(buf, "/nonexistent/ferry.conf:0: cannot open: "
                                "No such file or directory\n"));
    free(buf);
    (void)state;
}

/* ---- secrets in files ---- */

static void test_secret_file(void **state)
{
    static const struct {
        const char *content;
        const char *want; /* NULL: refused */
    } cases[] = {
        {"abc\n", "abc"},       {"abc", "abc"}, {"", ""},
        {"abc\n\n", NULL},      {"a\nb", NULL}, {"abc\r\n", NULL},
        {"  x y \n", "  x y "},
    };
    char spath[64], text[256];
    struct run r;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        test_write_file(spath, sizeof(spath), cases[i].content,
                        strlen(cases[i].content));
        snprintf(text, sizeof(text),
                 GOOD_MIN "[cloudapi]\napp_secret_file = %s\n", spath);
        test_load(&r, text);
        if (cases[i].want != NULL) {
            if (r.conf == NULL)
                fail_msg("case %zu: %s", i, r.errs);
            assert_string_equal(r.conf->cloudapi_app_secret, cases[i].want);
        } else {
            assert_null(r.conf);
            test_expect(&r, 7,
                        "cloudapi.app_secret: control characters or "
                        "invalid UTF-8");
        }
        test_run_free(&r);
        unlink(spath);
    }
    (void)state;
}

static void test_secret_file_errors(void **state)
{
    char spath[64], text[256], msg[256];
    struct run r;

    test_write_file(spath, sizeof(spath), "s\n", 2);
    snprintf(text, sizeof(text),
             "[component]\njid = gw.example.org\n"
             "secret_file = %s\nsecret = x\n"
             "[gateway]\nallowed_domains = example.org\n",
             spath);
    test_bad(text, 4, "both component.secret and component.secret_file given");
    snprintf(text, sizeof(text), GOOD_MIN "[component]\nsecret_file = %s\n",
             spath);
    test_bad(text, 7, "both component.secret and component.secret_file given");
    unlink(spath);

    test_bad("[component]\njid = gw.example.org\n"
             "secret_file = /nonexistent/secret\n"
             "[gateway]\nallowed_domains = example.org\n",
             3,
             "component.secret_file: cannot read /nonexistent/secret: No "
             "such file or directory");
    test_bad(GOOD_MIN "[cloudapi]\napp_secret_file =\n", 7,
             "cloudapi.app_secret_file: empty file name");
    test_bad(GOOD_MIN "[cloudapi]\napp_secret_file = /\n", 7,
             "cloudapi.app_secret_file: cannot read /: Is a directory");

    /* too long */
    {
        char *big = malloc(5000);

        assert_non_null(big);
        memset(big, 'k', 5000);
        test_write_file(spath, sizeof(spath), big, 5000);
        free(big);
    }
    snprintf(text, sizeof(text),
             GOOD_MIN "[cloudapi]\nverify_token_file = %s\n", spath);
    snprintf(msg, sizeof(msg),
             "cloudapi.verify_token_file: %s is too long (max 4096 bytes)",
             spath);
    test_load(&r, text);
    assert_null(r.conf);
    test_expect(&r, 7, msg);
    test_run_free(&r);
    unlink(spath);
    (void)state;
}

/* The value of a secret appears in no message, whatever goes wrong. */
static void test_secret_never_shown(void **state)
{
    static const char mark[] = "TOPSECRETVALUE";
    char *text = malloc(12000);
    char spath[64];
    struct run r;
    int len;

    assert_non_null(text);
    test_write_file(spath, sizeof(spath), "TOPSECRETVALUE\x01\n", 16);
    len = snprintf(text, 12000,
                   "[component]\njid = gw.example.org\nsecret = %s\n"
                   "secret = %s2\n"
                   "secret_file = %s\n"
                   "[gateway]\nallowed_domains = example.org\n"
                   "[cloudapi]\napp_secret = %s\x02\n"
                   "verify_token_file = %s\n"
                   "app_secret = %s%04000d\n",
                   mark, mark, spath, mark, spath, mark, 1);
    assert_true(len > 4000 && len < 12000);
    setenv("FERRY_COMPONENT_SECRET", "TOPSECRETVALUE\x03", 1);
    {
        char big[5000];

        memset(big, 'x', sizeof(big) - 1);
        memcpy(big, mark, sizeof(mark) - 1);
        big[sizeof(big) - 1] = '\0';
        setenv("FERRY_CLOUDAPI_VERIFY_TOKEN", big, 1);
    }
    test_load(&r, text);
    assert_null(r.conf);
    if (strstr(r.errs, mark) != NULL)
        fail_msg("secret shown in:\n%s", r.errs);
    assert_true(test_count_lines(r.errs) >= 7);
    test_run_free(&r);
    unlink(spath);
    free(text);
    (void)state;
}

/* ---- environment ---- */

static void test_env_override(void **state)
{
    struct run r;

    setenv("FERRY_COMPONENT_PORT", "6000", 1);
    setenv("FERRY_CLOUDAPI_APP_SECRET", "from-env", 1);
    setenv("FERRY_LOG_LEVEL", "debug", 1);
    setenv("FERRY_MEDIA_UPLOAD_SERVICE", "", 1);
    setenv("FERRY_GATEWAY_ALLOWED_DOMAINS", "a.org b.org", 1);
    test_load(&r, GOOD_MIN "[component]\nport = 5000\n"
                           "[media]\nupload_service = up.example.org\n");
    if (r.conf == NULL)
        fail_msg("%s", r.errs);
    assert_int_equal(r.conf->component_port, 6000);
    assert_string_equal(r.conf->cloudapi_app_secret, "from-env");
    assert_string_equal(r.conf->log_level, "debug");
    assert_string_equal(r.conf->media_upload_service, "");
    assert_string_equal(r.conf->gateway_allowed_domains, "a.org b.org");
    assert_true(conf_list_has(r.conf->gateway_allowed_domains, "b.org"));
    test_run_free(&r);
    (void)state;
}

/* Which secret, if any, is written in the file itself (start-up warns when
 * such a file is readable by others). */
static void test_secret_in_file(void **state)
{
    char spath[64], text[512];
    struct run r;

    test_write_file(spath, sizeof(spath), "s3cret\n", 7);
    snprintf(text, sizeof(text),
             "[component]\njid = gw.example.org\nsecret_file = %s\n"
             "[gateway]\nallowed_domains = example.org\n",
             spath);
    test_load(&r, text);
    if (r.conf == NULL)
        fail_msg("%s", r.errs);
    assert_null(r.conf->secret_in_file);
    test_run_free(&r);
    unlink(spath);

    test_load(&r, GOOD_MIN);
    assert_non_null(r.conf);
    assert_string_equal(r.conf->secret_in_file, "component.secret");
    test_run_free(&r);

    setenv("FERRY_COMPONENT_SECRET", "from-env", 1);
    test_load(&r, GOOD_MIN);
    assert_non_null(r.conf);
    assert_null(r.conf->secret_in_file);
    test_run_free(&r);
    unsetenv("FERRY_COMPONENT_SECRET");

    test_write_file(spath, sizeof(spath), "s3cret\n", 7);
    snprintf(text, sizeof(text),
             GOOD_MIN "[cloudapi]\napp_secret_file = %s\nverify_token = v\n",
             spath);
    test_load(&r, text);
    assert_non_null(r.conf);
    assert_string_equal(r.conf->secret_in_file, "component.secret");
    test_run_free(&r);
    unlink(spath);
    (void)state;
}

/* Required keys may come from the environment alone. */
static void test_env_required(void **state)
{
    char spath[64];
    struct run r;

    test_write_file(spath, sizeof(spath), "file-secret\n", 12);
    setenv("FERRY_COMPONENT_JID", "gw.example.org", 1);
    setenv("FERRY_COMPONENT_SECRET_FILE", spath, 1);
    setenv("FERRY_GATEWAY_ALLOWED_DOMAINS", "example.org", 1);
    test_load(&r, "");
    if (r.conf == NULL)
        fail_msg("%s", r.errs);
    assert_string_equal(r.conf->component_jid, "gw.example.org");
    assert_string_equal(r.conf->component_secret, "file-secret");
    test_run_free(&r);

    /* and win over the file */
    setenv("FERRY_COMPONENT_JID", "other.example.org", 1);
    test_load(&r, GOOD_MIN);
    assert_non_null(r.conf);
    assert_string_equal(r.conf->component_jid, "other.example.org");
    assert_string_equal(r.conf->component_secret, "file-secret");
    test_run_free(&r);
    unlink(spath);
    (void)state;
}

static void test_env_bad(void **state)
{
    struct run r;

    setenv("FERRY_COMPONENT_PORT", "x", 1);
    test_bad(GOOD_MIN, 0, "FERRY_COMPONENT_PORT: 'x' is not an integer");
    setenv("FERRY_COMPONENT_PORT", " 80", 1);
    test_bad(GOOD_MIN, 0, "FERRY_COMPONENT_PORT: ' 80' is not an integer");
    unsetenv("FERRY_COMPONENT_PORT");

    setenv("FERRY_STORE_SYNCHRONOUS", "off", 1);
    test_bad(GOOD_MIN, 0,
             "FERRY_STORE_SYNCHRONOUS: 'off' is not one of normal|full");
    unsetenv("FERRY_STORE_SYNCHRONOUS");

    setenv("FERRY_COMPONENT_SECRET", "a", 1);
    setenv("FERRY_COMPONENT_SECRET_FILE", "/etc/hostname", 1);
    test_bad(GOOD_MIN, 0,
             "both FERRY_COMPONENT_SECRET and FERRY_COMPONENT_SECRET_FILE "
             "are set");
    unsetenv("FERRY_COMPONENT_SECRET");
    setenv("FERRY_COMPONENT_SECRET_FILE", "/nonexistent/s", 1);
    test_bad(GOOD_MIN, 0,
             "FERRY_COMPONENT_SECRET_FILE: cannot read /nonexistent/s: No "
             "such file or directory");
    unsetenv("FERRY_COMPONENT_SECRET_FILE");

    /* _FILE only exists for secrets: ignored elsewhere */
    setenv("FERRY_COMPONENT_PORT_FILE", "/nonexistent/p", 1);
    test_load(&r, GOOD_MIN);
    assert_non_null(r.conf);
    test_run_free(&r);
    unsetenv("FERRY_COMPONENT_PORT_FILE");

    setenv("FERRY_GATEWAY_ALLOWED_DOMAINS", "   ", 1);
    test_bad(GOOD_MIN, 0,
             "FERRY_GATEWAY_ALLOWED_DOMAINS: '   ' is not a list of domain "
             "names");
    setenv("FERRY_GATEWAY_ALLOWED_DOMAINS", "", 1);
    test_bad(GOOD_MIN, 0, "FERRY_GATEWAY_ALLOWED_DOMAINS: must not be empty");
    setenv("FERRY_GATEWAY_ALLOWED_DOMAINS", "a.org b@c.org", 1);
    test_bad(GOOD_MIN, 0,
             "FERRY_GATEWAY_ALLOWED_DOMAINS: 'a.org b@c.org' is not a list "
             "of domain names");
    (void)state;
}

/* ---- the table and the sample ---- */

static void test_table(void **state)
{
    const struct conf_key *k;
    size_t n, i, j;

    k = conf_keys(&n);
    assert_int_equal(n, 38);
    for (i = 0; i < n; i++) {
        assert_non_null(k[i].def);
        assert_true(k[i].doc != NULL && k[i].doc[0] != '\0');
        assert_true(strlen(k[i].doc) < 80);
        assert_true(k[i].offset < sizeof(struct conf));
        assert_true(k[i].min <= k[i].max);
        assert_int_equal(k[i].type == CONF_ENUM, k[i].choices != NULL);
        for (j = 0; j < i; j++) {
            assert_true(strcmp(k[i].section, k[j].section) != 0 ||
                        strcmp(k[i].name, k[j].name) != 0);
            assert_true(k[i].offset != k[j].offset);
        }
        if (k[i].required)
            assert_string_equal(k[i].def, "");
        if (k[i].type == CONF_INT) {
            char *end;
            long long v = strtoll(k[i].def, &end, 10);

            assert_true(*end == '\0' && v >= k[i].min && v <= k[i].max);
        }
        if (k[i].type == CONF_ENUM) {
            char choices[64], want[64];

            snprintf(choices, sizeof(choices), "|%s|", k[i].choices);
            snprintf(want, sizeof(want), "|%s|", k[i].def);
            assert_non_null(strstr(choices, want));
        }
    }
    (void)state;
}

/* What the sample parse saw. */
struct sample {
    int seen[64];
    int problems;
};

static int test_sample_handler(void *user, const char *section,
                               const char *name, const char *value)
{
    struct sample *s = user;
    const struct conf_key *k;
    size_t n, i;

    k = conf_keys(&n);
    for (i = 0; i < n; i++) {
        if (strcmp(k[i].section, section) != 0 || strcmp(k[i].name, name) != 0)
            continue;
        if (s->seen[i]++ > 0) {
            print_error("sample: %s.%s given twice\n", section, name);
            s->problems++;
        }
        if (!k[i].required && strcmp(k[i].def, value) != 0) {
            print_error("sample: %s.%s = '%s', table default '%s'\n", section,
                        name, value, k[i].def);
            s->problems++;
        }
        return 1;
    }
    print_error("sample: %s.%s is not in the table\n", section, name);
    s->problems++;
    return 1;
}

/* 1 when line (a comment, marker stripped) looks like "key = value". */
static int test_looks_like_key(const char *line)
{
    size_t n = strspn(line, "abcdefghijklmnopqrstuvwxyz_");

    if (n == 0)
        return 0;
    line += n;
    line += strspn(line, " \t");
    return *line == '=';
}

/* Checks the comments of the sample: no commented-out keys, and the doc
 * string of each key in the comment block above it. */
static int test_sample_comments(void)
{
    const struct conf_key *k;
    char line[1024], block[4096] = "";
    int problems = 0;
    size_t n, i, used;
    FILE *f;

    k = conf_keys(&n);
    f = fopen(SAMPLE, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        char *s = line + strspn(line, " \t");

        s[strcspn(s, "\r\n")] = '\0';
        if (*s == '#' || *s == ';') {
            s += 1 + strspn(s + 1, " \t");
            if (test_looks_like_key(s)) {
                print_error("sample: commented-out key: %s\n", s);
                problems++;
            }
            used = strlen(block);
            snprintf(block + used, sizeof(block) - used, " %s", s);
            continue;
        }
        if (*s != '[' && *s != '\0') {
            size_t len = strcspn(s, " \t=");

            for (i = 0; i < n; i++) {
                if (strlen(k[i].name) != len || strncmp(k[i].name, s, len) != 0)
                    continue;
                if (strstr(block, k[i].doc) != NULL)
                    break;
            }
            if (i == n) {
                print_error("sample: no doc comment above: %s\n", s);
                problems++;
            }
        }
        block[0] = '\0';
    }
    fclose(f);
    return problems;
}

static void test_sample_vs_table(void **state)
{
    struct sample s;
    const struct conf_key *k;
    size_t n, i;

    memset(&s, 0, sizeof(s));
    k = conf_keys(&n);
    assert_true(n <= sizeof(s.seen) / sizeof(s.seen[0]));
    assert_int_equal(ini_parse(SAMPLE, test_sample_handler, &s), 0);
    for (i = 0; i < n; i++) {
        if (s.seen[i] == 0) {
            print_error("sample: %s.%s is missing\n", k[i].section, k[i].name);
            s.problems++;
        }
    }
    s.problems += test_sample_comments();
    assert_int_equal(s.problems, 0);
    (void)state;
}

/* The sample is a valid configuration. */
static void test_sample_loads(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *errs = open_memstream(&buf, &len);
    struct conf *c;

    c = conf_load(SAMPLE, errs);
    fclose(errs);
    if (c == NULL)
        fail_msg("%s", buf);
    assert_string_equal(buf, "");
    assert_string_equal(c->component_jid, "whatsapp.example.org");
    assert_int_equal(c->component_port, 5347);
    conf_free(c);
    free(buf);
    (void)state;
}

static void test_list_has(void **state)
{
    assert_true(conf_list_has("a b  c", "a"));
    assert_true(conf_list_has("a b  c", "b"));
    assert_true(conf_list_has("a b  c", "c"));
    assert_true(conf_list_has("  a\tb ", "b"));
    assert_true(conf_list_has("example.org", "example.org"));
    assert_false(conf_list_has("example.org", "example"));
    assert_false(conf_list_has("example.org", "xample.org"));
    assert_false(conf_list_has("example.org", "Example.org"));
    assert_false(conf_list_has("a b", "a b"));
    assert_false(conf_list_has("a b", ""));
    assert_false(conf_list_has("", "a"));
    assert_false(conf_list_has("ab", "a"));
    assert_false(conf_list_has(NULL, "a"));
    /* allowed_domains: domains compare case-insensitively */
    assert_true(conf_list_has_domain("a.org Example.ORG", "example.org"));
    assert_true(conf_list_has_domain("example.org", "EXAMPLE.org"));
    assert_false(conf_list_has_domain("example.org", "xample.org"));
    assert_false(conf_list_has_domain("example.org", "example.org.evil"));
    assert_false(conf_list_has_domain("example.org", ""));
    assert_false(conf_list_has_domain(NULL, "a"));
    assert_false(conf_list_has("a", NULL));
    conf_free(NULL);
    (void)state;
}

#define T(f) cmocka_unit_test_setup_teardown(f, test_env_clear, test_env_clear)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_minimal_defaults),
        T(test_full_file),
        T(test_long_line_ok),
        T(test_listen_forms),
        T(test_bad_section),
        T(test_bad_key),
        T(test_bad_int),
        T(test_bad_enum),
        T(test_bad_syntax_values),
        T(test_bad_required),
        T(test_bad_duplicate),
        T(test_bad_lines),
        T(test_bad_many),
        T(test_bad_open),
        T(test_secret_file),
        T(test_secret_file_errors),
        T(test_secret_never_shown),
        T(test_env_override),
        T(test_secret_in_file),
        T(test_env_required),
        T(test_env_bad),
        T(test_table),
        T(test_sample_vs_table),
        T(test_sample_loads),
        T(test_list_has),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
