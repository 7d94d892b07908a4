/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the HTTP listener's request handling. The input is the
 * raw bytes a client sends on one connection to a running ferry (routes:
 * /webhook/cloudapi with its verification, /fuzz/small with a 64-byte body
 * cap, /graph/ the fake Cloud API). "sha256=SIGN" in the head is replaced
 * by the valid X-Hub-Signature-256 of the bytes after the blank line, so
 * webhook bodies get through to the parser and the store. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fuzz_ferry.h"
#include "loop.h"
#include "util.h"

#define FUZZ_HTTPD_MS 50 /* per input, at most */
#define FUZZ_HTTPD_SIGN "sha256=SIGN"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The request with its signature placeholder filled in. Caller frees. */
static char *fuzz_httpd_sign(const uint8_t *data, size_t size, size_t *len)
{
    static const char hex[] = "0123456789abcdef";
    const char *end = memmem(data, size, "\r\n\r\n", 4);
    const char *mark;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0, i;
    size_t head, sl = strlen(FUZZ_HTTPD_SIGN);
    char *out;

    head = end ? (size_t)(end - (const char *)data) : size;
    mark = memmem(data, head, FUZZ_HTTPD_SIGN, sl);
    if (end == NULL || mark == NULL) {
        *len = size;
        return memcpy(xmalloc(size + 1), data, size);
    }
    HMAC(EVP_sha256(), FUZZ_APP_SECRET, (int)strlen(FUZZ_APP_SECRET),
         (const unsigned char *)end + 4, size - head - 4, mac, &maclen);
    *len = size - 4 + 2 * maclen; /* "SIGN" becomes the hex digest */
    out = xmalloc(*len + 1);
    memcpy(out, data, (size_t)(mark - (const char *)data) + 7);
    for (i = 0; i < maclen; i++) {
        out[(mark - (const char *)data) + 7 + 2 * i] = hex[mac[i] >> 4];
        out[(mark - (const char *)data) + 7 + 2 * i + 1] = hex[mac[i] & 15];
    }
    memcpy(out + (mark - (const char *)data) + 7 + 2 * maclen, mark + sl,
           size - (size_t)(mark + sl - (const char *)data));
    return out;
}

/* The listener is gone or broken: a finding in itself. */
static void fuzz_httpd_fail(const char *what)
{
    perror(what);
    abort();
}

/* A connection to ferry's listener. Closing it resets it (no TIME_WAIT, so
 * long runs do not use up the ephemeral ports). */
static int fuzz_httpd_connect(void)
{
    struct sockaddr_in sa;
    struct linger lg = {1, 0};
    struct pollfd pfd;
    int fd = socket(AF_INET, SOCK_STREAM, 0), err = 0;
    socklen_t el = sizeof(err);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)fuzz_ferry_http_port());
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
        fuzz_httpd_fail("fuzz_httpd: socket");
    evutil_make_socket_nonblocking(fd);
    /* The kernel completes the handshake; libFuzzer's timer signals may
     * interrupt the wait for it. */
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
        errno != EINPROGRESS && errno != EINTR)
        fuzz_httpd_fail("fuzz_httpd: connect");
    pfd.fd = fd;
    pfd.events = POLLOUT;
    while (poll(&pfd, 1, 1000) < 0)
        if (errno != EINTR)
            fuzz_httpd_fail("fuzz_httpd: poll");
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0) {
        errno = err;
        fuzz_httpd_fail("fuzz_httpd: connect");
    }
    return fd;
}

/* Writes req on a fresh connection and reads the answers until ferry
 * closes it or goes quiet. */
static void fuzz_httpd_exchange(const char *req, size_t len)
{
    int fd = fuzz_httpd_connect(), idle = 0;
    long long until = now_ms() + FUZZ_HTTPD_MS;
    size_t off = 0;
    ssize_t n;
    char buf[4096];

    while (idle < 3 && now_ms() < until) {
        if (off < len) {
            n = send(fd, req + off, len - off, MSG_NOSIGNAL);
            if (n > 0)
                off += (size_t)n, fuzz_ferry_progress();
            else if (n < 0 && errno != EAGAIN)
                break;
        }
        fuzz_ferry_settle(1);
        n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN))
            break;
        idle = n > 0 || off < len ? 0 : idle + 1;
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len;
    char *req;

    fuzz_ferry_up();
    fuzz_ferry_reset();
    req = fuzz_httpd_sign(data, size, &len);
    fuzz_httpd_exchange(req, len);
    free(req);
    fuzz_ferry_settle(FUZZ_HTTPD_MS); /* ferry sees the close */
    return 0;
}
