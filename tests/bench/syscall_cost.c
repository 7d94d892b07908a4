/* SPDX-License-Identifier: MIT */
/* What the system calls ferry makes per message cost on this machine
 * (issue 15: the floor under ferry's CPU per message). Times, in CPU
 * (CLOCK_THREAD_CPUTIME_ID, user + kernel) and wall clock: getppid (a
 * bare system call), a 1-byte write and read over a loopback TCP
 * connection (a request or a stanza, in and out), a 4 KiB pwrite to a
 * file (one WAL frame), and fdatasync after such a pwrite (one flush of
 * the WAL), in a directory given as the argument (default: the current
 * one, which should be on the disk ferry's store uses).
 *
 *     cc -O2 -o syscall_cost tests/bench/syscall_cost.c
 *     ./syscall_cost /var/lib/ferry
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_us(clockid_t clk)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

struct span {
    double cpu, wall;
};

static void span_start(struct span *s)
{
    s->cpu = now_us(CLOCK_THREAD_CPUTIME_ID);
    s->wall = now_us(CLOCK_MONOTONIC);
}

static void span_report(const struct span *s, const char *what, long n)
{
    double cpu = now_us(CLOCK_THREAD_CPUTIME_ID) - s->cpu;
    double wall = now_us(CLOCK_MONOTONIC) - s->wall;

    printf("%-34s %8ld calls  %8.2f us CPU  %8.2f us wall  per call\n", what, n,
           cpu / (double)n, wall / (double)n);
}

/* A connected loopback TCP pair, as ferry has with its peers. */
static int tcp_pair(int fds[2])
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(l, 1) < 0 || getsockname(l, (struct sockaddr *)&a, &al) < 0)
        return -1;
    fds[0] = socket(AF_INET, SOCK_STREAM, 0);
    if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&a, al) < 0)
        return -1;
    fds[1] = accept(l, NULL, NULL);
    close(l);
    if (fds[1] < 0)
        return -1;
    setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    static char page[4096];
    char path[4096], b = 'x';
    struct span s;
    long i, n;
    int fds[2], fd;

    n = 200000;
    span_start(&s);
    for (i = 0; i < n; i++)
        (void)getppid();
    span_report(&s, "getppid", n);

    if (tcp_pair(fds) < 0) {
        perror("loopback TCP");
        return 1;
    }
    n = 50000;
    span_start(&s);
    for (i = 0; i < n; i++)
        if (write(fds[0], &b, 1) != 1 || read(fds[1], &b, 1) != 1) {
            perror("loopback TCP");
            return 1;
        }
    span_report(&s, "TCP write + read of 1 byte (pair)", n);

    snprintf(path, sizeof(path), "%s/syscall_cost.XXXXXX", dir);
    fd = mkstemp(path);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    unlink(path);
    memset(page, 'p', sizeof(page));
    n = 20000;
    span_start(&s);
    for (i = 0; i < n; i++)
        if (pwrite(fd, page, sizeof(page), (off_t)(i % 1024) * 4096) < 0) {
            perror("pwrite");
            return 1;
        }
    span_report(&s, "pwrite 4 KiB (a WAL frame)", n);

    n = 1000;
    span_start(&s);
    for (i = 0; i < n; i++)
        if (pwrite(fd, page, sizeof(page), (off_t)(i % 16) * 4096) < 0 ||
            fdatasync(fd) < 0) {
            perror("fdatasync");
            return 1;
        }
    span_report(&s, "pwrite 4 KiB + fdatasync", n);
    close(fd);
    return 0;
}
