/* SPDX-License-Identifier: MIT */
/* Unit tests of notify.c: each message arrives as one datagram on a unix
 * socket named by NOTIFY_SOCKET (a path or an @abstract name), nothing is
 * sent without it, and WATCHDOG_USEC / WATCHDOG_PID are read strictly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "notify.h"

/* A bound datagram socket standing in for systemd. */
struct sink {
    int fd;
    char dir[64];
    char path[128];
};

/* Binds a datagram socket, at a path or (abstract) at an @name, and points
 * NOTIFY_SOCKET at it. */
static void sink_open(struct sink *s, int abstract)
{
    struct sockaddr_un sa;
    socklen_t len;
    size_t n;

    memset(s, 0, sizeof(*s));
    s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(s->fd >= 0);
    if (abstract) {
        snprintf(s->path, sizeof(s->path), "@ferry-test-notify-%ld",
                 (long)getpid());
    } else {
        snprintf(s->dir, sizeof(s->dir), "/tmp/ferry-notify-XXXXXX");
        assert_non_null(mkdtemp(s->dir));
        snprintf(s->path, sizeof(s->path), "%s/notify", s->dir);
    }
    n = strlen(s->path);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, s->path, n);
    if (abstract)
        sa.sun_path[0] = '\0';
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, len), 0);
    assert_int_equal(setenv("NOTIFY_SOCKET", s->path, 1), 0);
}

static void sink_close(struct sink *s)
{
    close(s->fd);
    if (s->dir[0] != '\0') {
        unlink(s->path);
        rmdir(s->dir);
    }
    unsetenv("NOTIFY_SOCKET");
}

/* The next datagram, which must be there already. */
static void sink_recv(struct sink *s, char *out, size_t outlen)
{
    ssize_t n = recv(s->fd, out, outlen - 1, MSG_DONTWAIT);

    if (n < 0)
        fail_msg("no datagram: %s", strerror(errno));
    out[n] = '\0';
}

/* Asserts that nothing is waiting on the socket. */
static void sink_expect_nothing(struct sink *s)
{
    char buf[16];

    assert_int_equal(recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
    assert_int_equal(errno, EAGAIN);
}

static void test_messages_path(void **state)
{
    struct sink s;
    char buf[512];

    sink_open(&s, 0);
    assert_int_equal(notify_ready(), 0);
    sink_recv(&s, buf, sizeof(buf));
    assert_string_equal(buf, "READY=1");
    assert_int_equal(notify_stopping(), 0);
    sink_recv(&s, buf, sizeof(buf));
    assert_string_equal(buf, "STOPPING=1");
    assert_int_equal(notify_watchdog(), 0);
    sink_recv(&s, buf, sizeof(buf));
    assert_string_equal(buf, "WATCHDOG=1");
    sink_expect_nothing(&s);
    sink_close(&s);
}

static void test_messages_abstract(void **state)
{
    struct sink s;
    char buf[512];

    sink_open(&s, 1);
    assert_int_equal(notify_ready(), 0);
    sink_recv(&s, buf, sizeof(buf));
    assert_string_equal(buf, "READY=1");
    assert_int_equal(notify_status("connected to %s:%d", "127.0.0.1", 5347), 0);
    sink_recv(&s, buf, sizeof(buf));
    assert_string_equal(buf, "STATUS=connected to 127.0.0.1:5347");
    sink_close(&s);
}

static void test_reloading(void **state)
{
    struct sink s;
    char buf[512];
    const char *usec;

    sink_open(&s, 0);
    assert_int_equal(notify_reloading(), 0);
    sink_recv(&s, buf, sizeof(buf));
    assert_memory_equal(buf, "RELOADING=1\nMONOTONIC_USEC=", 27);
    usec = buf + 27;
    assert_true(usec[0] >= '1' && usec[0] <= '9');
    assert_int_equal(strspn(usec, "0123456789"), strlen(usec));
    sink_close(&s);
}

/* STATUS= stays one line of valid UTF-8 with a bounded length. */
static void test_status_clean(void **state)
{
    struct sink s;
    char buf[1024], longtext[NOTIFY_STATUS_MAX * 2];

    sink_open(&s, 0);
    assert_int_equal(notify_status("a\nREADY=1\tb\x7f\xff \xc3\xa9"), 0);
    sink_recv(&s, buf, sizeof(buf));
    assert_string_equal(buf, "STATUS=a READY=1 b ? \xc3\xa9");

    memset(longtext, 'x', sizeof(longtext) - 3);
    longtext[NOTIFY_STATUS_MAX - 1] = '\xc3'; /* cut in two by the cap */
    longtext[NOTIFY_STATUS_MAX] = '\xa9';
    longtext[sizeof(longtext) - 3] = '\0';
    assert_int_equal(notify_status("%s", longtext), 0);
    sink_recv(&s, buf, sizeof(buf));
    assert_int_equal(strlen(buf), 7 + NOTIFY_STATUS_MAX);
    assert_int_equal(buf[7 + NOTIFY_STATUS_MAX - 1], '?');
    sink_close(&s);
}

/* Without NOTIFY_SOCKET every call is a no-op that succeeds. */
static void test_unset(void **state)
{
    struct sink s;

    sink_open(&s, 0);
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(notify_ready(), 0);
    assert_int_equal(notify_status("x"), 0);
    assert_int_equal(notify_watchdog(), 0);
    sink_expect_nothing(&s);
    setenv("NOTIFY_SOCKET", "", 1);
    assert_int_equal(notify_stopping(), 0);
    sink_expect_nothing(&s);
    sink_close(&s);
}

static void test_bad_socket(void **state)
{
    char path[200];

    setenv("NOTIFY_SOCKET", "relative/path", 1);
    assert_int_equal(notify_ready(), -1);
    setenv("NOTIFY_SOCKET", "@", 1);
    assert_int_equal(notify_ready(), -1);
    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    setenv("NOTIFY_SOCKET", path, 1);
    assert_int_equal(notify_ready(), -1);
    setenv("NOTIFY_SOCKET", "/nonexistent/ferry/notify", 1);
    assert_int_equal(notify_ready(), -1);
    unsetenv("NOTIFY_SOCKET");
}

static void test_watchdog_usec(void **state)
{
    char pid[32];

    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    assert_true(notify_watchdog_usec() == 0);
    setenv("WATCHDOG_USEC", "30000000", 1);
    assert_true(notify_watchdog_usec() == 30000000);
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    assert_true(notify_watchdog_usec() == 30000000);
    snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
    setenv("WATCHDOG_PID", pid, 1);
    assert_true(notify_watchdog_usec() == 0);
    setenv("WATCHDOG_PID", "x", 1);
    assert_true(notify_watchdog_usec() == 0);
    unsetenv("WATCHDOG_PID");
    setenv("WATCHDOG_USEC", "0", 1);
    assert_true(notify_watchdog_usec() == 0);
    setenv("WATCHDOG_USEC", "-5", 1);
    assert_true(notify_watchdog_usec() == 0);
    setenv("WATCHDOG_USEC", "30s", 1);
    assert_true(notify_watchdog_usec() == 0);
    setenv("WATCHDOG_USEC", "", 1);
    assert_true(notify_watchdog_usec() == 0);
    unsetenv("WATCHDOG_USEC");
}

#define T(f) cmocka_unit_test(f)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_messages_path), T(test_messages_abstract),
        T(test_reloading),     T(test_status_clean),
        T(test_unset),         T(test_bad_socket),
        T(test_watchdog_usec),
    };

    unsetenv("NOTIFY_SOCKET");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
