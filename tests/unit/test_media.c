/* SPDX-License-Identifier: MIT */
/* Unit tests of media.c's pure helpers (types, file names,
 * Content-Disposition, URL hosts, tokens), of the served files' rows
 * (store_media.c), of the clean-up media_init() does after a crash, of
 * the disk thread (deletions; served files made durable before their row),
 * and of the back ends' tables of file types (net.c). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "conf.h"
#include "loop.h"
#include "media.h"
#include "net.h"
#include "store.h"
#include "util.h"

#define TOKEN_A                                                                \
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define TOKEN_B                                                                \
    "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static void test_mime_for_name(void **state)
{
    assert_string_equal(media_mime_for_name("a.JPG"), "image/jpeg");
    assert_string_equal(media_mime_for_name("http://h/x/note.ogg?x=1#f"),
                        "audio/ogg");
    assert_string_equal(media_mime_for_name("report.docx"),
                        "application/vnd.openxmlformats-officedocument."
                        "wordprocessingml.document");
    assert_null(media_mime_for_name("noext"));
    assert_null(media_mime_for_name("http://h/dir.jpg/file"));
    assert_null(media_mime_for_name("a.unknown"));
    assert_null(media_mime_for_name(NULL));
    (void)state;
}

static void test_mime_canonical(void **state)
{
    assert_string_equal(media_mime_canonical("audio/ogg; codecs=opus"),
                        "audio/ogg");
    assert_string_equal(media_mime_canonical("IMAGE/PNG"), "image/png");
    assert_string_equal(media_mime_canonical("text/html"),
                        "application/octet-stream");
    assert_string_equal(media_mime_canonical(NULL), "application/octet-stream");
    (void)state;
}

static void test_file_name(void **state)
{
    char *s;

    s = media_file_name("Quarterly report été.pdf", "document", NULL);
    assert_string_equal(s, "Quarterly_report___t__.pdf");
    free(s);
    s = media_file_name(NULL, "image", "image/jpeg");
    assert_string_equal(s, "image.jpg");
    free(s);
    s = media_file_name(NULL, "voice", "audio/ogg; codecs=opus");
    assert_string_equal(s, "voice-message.ogg");
    free(s);
    s = media_file_name("../../etc/passwd", "document", "text/plain");
    assert_null(strchr(s, '/'));
    assert_true(s[0] != '.');
    free(s);
    s = media_file_name("noext", "document", "application/pdf");
    assert_string_equal(s, "noext.pdf");
    free(s);
    s = media_file_name(".hidden.txt", NULL, NULL);
    assert_true(s[0] != '.');
    free(s);
    s = media_file_name(
        "a-very-long-name-that-goes-on-and-on-and-on-and-on-and-on-and-on-"
        "and-on.pdf",
        "document", NULL);
    assert_true(strlen(s) <= MEDIA_NAME_MAX);
    assert_non_null(strstr(s, ".pdf"));
    free(s);
    (void)state;
}

static void test_disposition(void **state)
{
    char *s;

    s = media_disposition("image", NULL);
    assert_string_equal(s, "inline; filename=\"image.bin\"");
    free(s);
    s = media_disposition("document", "é \"x\".pdf");
    assert_string_equal(s, "attachment; filename=\"____x_.pdf\"; "
                           "filename*=UTF-8''%C3%A9%20%22x%22.pdf");
    free(s);
    s = media_disposition("document", "bad\xff.pdf");
    assert_null(strstr(s, "filename*"));
    free(s);
    (void)state;
}

static void test_url_host(void **state)
{
    char h[64];

    assert_int_equal(
        media_url_host("https://Upload.Example.org/x", h, sizeof(h)), 0);
    assert_string_equal(h, "upload.example.org");
    assert_int_equal(
        media_url_host("http://u:p@127.0.0.1:5280?q", h, sizeof(h)), 0);
    assert_string_equal(h, "127.0.0.1:5280");
    assert_int_equal(media_url_host("ftp://x/y", h, sizeof(h)), -1);
    assert_int_equal(media_url_host("https:///path", h, sizeof(h)), -1);
    assert_int_equal(media_url_host("https://a-rather-long-host.example", h, 8),
                     -1);
    (void)state;
}

static void test_token(void **state)
{
    assert_true(media_token_ok(TOKEN_A, strlen(TOKEN_A)));
    assert_false(media_token_ok(TOKEN_A, 63));
    assert_false(media_token_ok("0123456789ABCDEF0123456789abcdef0123456789"
                                "abcdef0123456789abcdef",
                                64));
    assert_false(media_token_ok("../../../../../../../../../../../../../../"
                                "../../../../../..xx",
                                64));
    (void)state;
}

/* A temporary directory with a store in it. */
struct fixture {
    char dir[64];
    char path[96];
    struct store *st;
};

static int test_setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/ferry-media-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/ferry.db", f->dir);
    f->st = store_open(f->path, "normal");
    assert_non_null(f->st);
    *state = f;
    return 0;
}

static int test_teardown(void **state)
{
    struct fixture *f = *state;
    char *cmd = xasprintf("rm -rf '%s'", f->dir);

    store_close(f->st);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(f);
    return 0;
}

static void test_collect(const char *token, void *arg)
{
    int *n = arg;

    assert_true(media_token_ok(token, strlen(token)));
    (*n)++;
}

static void test_rows(void **state)
{
    struct fixture *f = *state;
    char token_a[] = TOKEN_A, token_b[] = TOKEN_B, kind[] = "document",
         mime[] = "application/pdf", name[] = "a.pdf";
    struct store_media_file row = {token_a, kind, mime, name, 123, 1000};
    struct store_media_file *got;
    int n = 0;

    assert_int_equal(store_media_add(f->st, &row), 0);
    row.token = token_b;
    row.filename = NULL;
    row.expires = 3000;
    assert_int_equal(store_media_add(f->st, &row), 0);
    got = store_media_get(f->st, TOKEN_A);
    assert_non_null(got);
    assert_string_equal(got->kind, "document");
    assert_string_equal(got->mime, "application/pdf");
    assert_string_equal(got->filename, "a.pdf");
    assert_int_equal(got->size, 123);
    assert_int_equal(got->expires, 1000);
    store_media_file_free(got);
    assert_null(store_media_get(f->st, "nope"));
    assert_int_equal(store_media_expire(f->st, 2000, 10, test_collect, &n), 1);
    assert_int_equal(n, 1);
    assert_null(store_media_get(f->st, TOKEN_A));
    got = store_media_get(f->st, TOKEN_B);
    assert_non_null(got);
    assert_null(got->filename);
    store_media_file_free(got);
    assert_int_equal(store_media_expire(f->st, 2000, 10, test_collect, &n), 0);
}

static void test_touch(const char *dir, const char *name)
{
    char *p = xasprintf("%s/%s", dir, name);
    FILE *fp = fopen(p, "w");

    assert_non_null(fp);
    fclose(fp);
    free(p);
}

static int test_exists(const char *dir, const char *name)
{
    char *p = xasprintf("%s/%s", dir, name);
    int ok = access(p, F_OK) == 0;

    free(p);
    return ok;
}

/* The settings media_init() reads, for the store of f. */
static void test_media_conf(struct conf *c, struct fixture *f)
{
    static char url[] = "https://ferry.example.org/", none[] = "";

    memset(c, 0, sizeof(*c));
    c->store_path = f->path;
    c->http_public_url = url;
    c->media_upload_service = none;
    c->media_trusted_hosts = none;
    c->media_max_size = 1000;
    c->media_expiry = 60;
}

/* media_init() deletes downloads and unrecorded files a crash left. */
static void test_init_cleans(void **state)
{
    struct fixture *f = *state;
    char token_a[] = TOKEN_A, kind[] = "image", mime[] = "image/png";
    struct store_media_file row = {token_a, kind, mime,
                                   NULL,    1,    now_s() + 3600};
    struct conf c;
    char *mdir = xasprintf("%s/media", f->dir), *tmp;
    struct stat sb;

    test_media_conf(&c, f);
    assert_int_equal(mkdir(mdir, 0755), 0);
    test_touch(mdir, "tmp-0123");
    test_touch(mdir, TOKEN_A);
    test_touch(mdir, TOKEN_B);
    test_touch(mdir, "unrelated");
    assert_int_equal(store_media_add(f->st, &row), 0);
    loop_init();
    assert_int_equal(media_init(&c, f->st), 0);
    assert_false(test_exists(mdir, "tmp-0123"));
    assert_true(test_exists(mdir, TOKEN_A));
    assert_false(test_exists(mdir, TOKEN_B));
    assert_true(test_exists(mdir, "unrelated"));
    assert_int_equal(stat(mdir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(media_max_size(), 1000);
    tmp = media_temp_path();
    assert_int_equal(strncmp(tmp, mdir, strlen(mdir)), 0);
    assert_non_null(strstr(tmp, "/tmp-"));
    free(tmp);
    assert_false(media_is_upload_url("https://ferry.example.org/x.jpg"));
    media_free();
    loop_free();
    free(mdir);
}

/* Between media_init() and media_free() a thread deletes what
 * media_discard() is given (the loop never waits for the file system);
 * media_free() waits until all of it is gone, and after it deletions run
 * at once again. */
static void test_discard_by_thread(void **state)
{
    struct fixture *f = *state;
    struct conf c;
    char *mdir = xasprintf("%s/media", f->dir), *p;
    char name[32];
    int i;

    test_media_conf(&c, f);
    loop_init();
    assert_int_equal(media_init(&c, f->st), 0);
    for (i = 0; i < 50; i++) {
        snprintf(name, sizeof(name), "tmp-%04d", i);
        test_touch(mdir, name);
        p = xasprintf("%s/%s", mdir, name);
        media_discard(p);
        free(p);
    }
    media_discard(NULL);
    test_touch(mdir, "unrelated");
    media_free();
    for (i = 0; i < 50; i++) {
        snprintf(name, sizeof(name), "tmp-%04d", i);
        assert_false(test_exists(mdir, name));
    }
    assert_true(test_exists(mdir, "unrelated"));
    p = xasprintf("%s/unrelated", mdir);
    media_discard(p); /* no thread now: at once */
    free(p);
    assert_false(test_exists(mdir, "unrelated"));
    loop_free();
    free(mdir);
}

/* What a publish reported. */
struct test_published {
    int calls, retry;
    char *url, *error;
};

static void test_on_published(const char *url, const char *error, int retry,
                              void *arg)
{
    struct test_published *r = arg;

    r->calls++;
    r->url = url ? xstrdup(url) : NULL;
    r->error = error ? xstrdup(error) : NULL;
    r->retry = retry;
}

/* A downloaded file of n bytes, as media_download() leaves it. */
static char *test_download(size_t n)
{
    char *path = media_temp_path();
    FILE *fp = fopen(path, "w");
    size_t i;

    assert_non_null(fp);
    for (i = 0; i < n; i++)
        fputc((int)(i % 251), fp);
    fclose(fp);
    return path;
}

/* With no upload service, a file is served by ferry: the disk thread syncs
 * it, renames it to its token and syncs the directory; the loop then adds
 * its row and reports the URL. */
static void test_serve_keeps_file(void **state)
{
    struct fixture *f = *state;
    struct test_published r = {0};
    struct conf c;
    char *mdir = xasprintf("%s/media", f->dir), *tmp, *final;
    struct media_file mf = {NULL, "document", "application/pdf", "a b.pdf"};
    const char *prefix = "https://ferry.example.org/media/";
    struct store_media_file *row;
    struct stat sb;
    char token[MEDIA_TOKEN_LEN + 1];
    int turns = 0;

    test_media_conf(&c, f);
    loop_init();
    assert_int_equal(media_init(&c, f->st), 0);
    tmp = test_download(5000);
    mf.path = tmp;
    media_publish(&mf, NULL, test_on_published, &r);
    assert_int_equal(r.calls, 0); /* the thread has it, not the loop */
    while (r.calls == 0 && turns++ < 5000)
        event_base_loop(loop_base(), EVLOOP_ONCE);
    assert_int_equal(r.calls, 1);
    assert_non_null(r.url);
    assert_int_equal(strncmp(r.url, prefix, strlen(prefix)), 0);
    memcpy(token, r.url + strlen(prefix), MEDIA_TOKEN_LEN);
    token[MEDIA_TOKEN_LEN] = '\0';
    assert_true(media_token_ok(token, strlen(token)));
    final = xasprintf("%s/%s", mdir, token);
    assert_int_equal(stat(final, &sb), 0);
    assert_int_equal(sb.st_size, 5000);
    assert_int_equal(access(tmp, F_OK), -1);
    row = store_media_get(f->st, token);
    assert_non_null(row);
    assert_int_equal(row->size, 5000);
    assert_string_equal(row->mime, "application/pdf");
    store_media_file_free(row);
    media_free();
    loop_free();
    free(r.url);
    free(final);
    free(tmp);
    free(mdir);
}

/* A stop before the loop heard of a kept file: the publish reports a
 * retry, no row is written and no file is left (the job stays queued and
 * fetches the file again after a restart). */
static void test_serve_stopped_first(void **state)
{
    struct fixture *f = *state;
    struct test_published r = {0};
    struct conf c;
    char *mdir = xasprintf("%s/media", f->dir), *tmp;
    struct media_file mf = {NULL, "image", "image/png", NULL};
    struct dirent *e;
    DIR *d;
    int left = 0;

    test_media_conf(&c, f);
    loop_init();
    assert_int_equal(media_init(&c, f->st), 0);
    tmp = test_download(100);
    mf.path = tmp;
    media_publish(&mf, NULL, test_on_published, &r);
    media_free();
    loop_free(); /* runs the report */
    assert_int_equal(r.calls, 1);
    assert_null(r.url);
    assert_int_equal(r.retry, 1);
    assert_string_equal(r.error, "ferry is shutting down");
    d = opendir(mdir);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        left += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(left, 0);
    free(r.error);
    free(tmp);
    free(mdir);
}

/* The Cloud API's table of file types and limits (A.5). */
static void test_net_types(void **state)
{
    const struct net_backend *be = net_backend_find("cloudapi");
    const struct net_media_type *t;

    t = net_media_type_find(be, "image/JPEG");
    assert_non_null(t);
    assert_string_equal(t->kind, "image");
    assert_int_equal(t->max, 5 * 1024 * 1024);
    t = net_media_type_find(be, "audio/ogg; codecs=opus");
    assert_non_null(t);
    assert_string_equal(t->kind, "audio");
    assert_null(net_media_type_find(be, "application/zip"));
    assert_null(net_media_type_find(be, "image/gif"));
    assert_null(net_media_type_find(be, NULL));
    assert_int_equal(net_media_limit(be, "sticker", "image/webp"), 500 * 1024);
    assert_int_equal(net_media_limit(be, "voice", "audio/x-unknown"),
                     16 * 1024 * 1024);
    assert_int_equal(net_media_limit(be, "document", "application/zip"),
                     100 * 1024 * 1024);
    assert_int_equal(net_media_limit(be, "hologram", NULL), 0);
    assert_int_equal(be->max_caption, 1024);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mime_for_name),
        cmocka_unit_test(test_mime_canonical),
        cmocka_unit_test(test_file_name),
        cmocka_unit_test(test_disposition),
        cmocka_unit_test(test_url_host),
        cmocka_unit_test(test_token),
        cmocka_unit_test_setup_teardown(test_rows, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_init_cleans, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_discard_by_thread, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_serve_keeps_file, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_serve_stopped_first, test_setup,
                                        test_teardown),
        cmocka_unit_test(test_net_types),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
