/* SPDX-License-Identifier: MIT */
/* bench_echo: the null component that gives the XMPP server's own routing
 * rate. It does in each direction the least that ferry's place in the
 * stream requires: it counts the stamped messages it receives (null mode)
 * or sends them back (echo mode), and it can push stamped messages to
 * users' bare JIDs as ferry does with webhooks.
 *
 *   bench_echo -j jid -s secret -H host -P port [-1]
 *
 * With -1 it only probes: it connects, closes the stream and exits 0 once
 * the server confirmed the close (1 if the handshake failed), which tells
 * that the server has let go of any earlier component of that name.
 *
 * Prints READY after the handshake, then obeys commands on stdin:
 *   MODE null|echo
 *   PUSH n rate users prefix domain [batch]
 *                                     n messages (rate/s, 0: as fast as the
 *                                     server reads) to <prefix><NNNN>@domain
 *                                     for NNNN < users; prints SENT {...};
 *                                     with a rate and batch > 1, in bursts
 *                                     of batch messages stamped alike, as
 *                                     bench_webhook's batches are (the same
 *                                     load shape as ferry gets)
 *   EXPECT n   prints RECV {...} after n stamped messages
 *   RESET  STATS  QUIT */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <strophe.h>

#include "bench_util.h"

#define BE_FLOOD_QUEUE 256
#define BE_BURST_MAX 2000
#define BE_CONTACT_BASE 15550000000LL

static struct {
    xmpp_ctx_t *ctx;
    xmpp_conn_t *conn;
    const char *jid;
    int fd, connected, echo, probe;
    /* PUSH */
    int pushing, users;
    long long n, sent, seq, batch;
    int64_t batch_t; /* the stamp of the burst being pushed */
    double rate;
    char prefix[64], domain[256];
    int64_t t0, t_first;
    /* received */
    struct bench_lat lat;
    long long recv, echoed, expect;
} be = {.fd = -1};

/* See reference/xmpp-harness.md 4.2: libstrophe's component connection
 * dereferences an SM state that only client connections allocate. */
static void be_seed_sm_state(void)
{
    void **blk = calloc(1, 256);

    if (blk == NULL)
        bench_die("out of memory");
    blk[0] = be.ctx;
    if (xmpp_conn_set_sm_state(be.conn, (xmpp_sm_state_t *)blk) != XMPP_EOK)
        bench_die("bench_echo: cannot seed the SM state");
}

static int be_sockopt(xmpp_conn_t *conn, void *sock)
{
    be.fd = *(int *)sock;
    return 0;
}

static int be_on_message(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
    xmpp_stanza_t *body = xmpp_stanza_get_child_by_name(st, "body");
    const char *type = xmpp_stanza_get_type(st);
    const char *from = xmpp_stanza_get_from(st);
    const char *to = xmpp_stanza_get_to(st);
    const char *text = NULL;
    int64_t stamp;

    if (type != NULL && strcmp(type, "error") == 0)
        return 1;
    if (body != NULL && xmpp_stanza_get_children(body) != NULL)
        text = xmpp_stanza_get_text_ptr(xmpp_stanza_get_children(body));
    stamp = bench_stamp_parse(text);
    if (stamp <= 0 || from == NULL || to == NULL)
        return 1;
    be.recv++;
    bench_lat_add(&be.lat, stamp, bench_now_ns());
    if (be.echo) {
        /* stamped bodies are "bench N t=T": nothing to escape */
        xmpp_send_raw_string(conn,
                             "<message from='%s' to='%s' type='chat'>"
                             "<body>%s</body></message>",
                             to, from, text);
        be.echoed++;
    }
    return 1;
}

static int be_on_iq(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
    const char *type = xmpp_stanza_get_type(st);
    const char *id = xmpp_stanza_get_id(st);
    const char *from = xmpp_stanza_get_from(st);

    if (type == NULL || id == NULL || from == NULL ||
        (strcmp(type, "get") != 0 && strcmp(type, "set") != 0))
        return 1;
    xmpp_send_raw_string(conn,
                         "<iq type='error' from='%s' to='%s' id='%s'><error "
                         "type='cancel'><service-unavailable "
                         "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                         "</error></iq>",
                         be.jid, from, id);
    return 1;
}

static void be_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error,
                    xmpp_stream_error_t *se, void *arg)
{
    if (ev == XMPP_CONN_CONNECT) {
        be.connected = 1;
        if (be.probe)
            xmpp_disconnect(conn);
        else
            bench_say("READY");
    } else if (ev == XMPP_CONN_DISCONNECT && be.probe) {
        exit(be.connected ? 0 : 1);
    } else if (ev == XMPP_CONN_DISCONNECT) {
        bench_die("bench_echo: disconnected (error %d%s%s)", error,
                  se && se->text ? ": " : "", se && se->text ? se->text : "");
    }
}

static void be_push_one(void)
{
    long long i = be.sent;

    be.seq++;
    if (be.batch <= 1 || be.rate <= 0 || i % be.batch == 0)
        be.batch_t = bench_now_ns();
    xmpp_send_raw_string(
        be.conn,
        "<message from='+%lld@%s' to='%s%04lld@%s' type='chat' "
        "id='p%d-%lld'><body>bench %lld t=%lld</body></message>",
        BE_CONTACT_BASE + (i / be.users) % 20, be.jid, be.prefix, i % be.users,
        be.domain, (int)getpid(), be.seq, be.seq, (long long)be.batch_t);
    if (be.sent++ == 0)
        be.t_first = bench_now_ns();
}

/* Pushes what is due; returns how long poll() may sleep (ms). */
static int be_push_some(void)
{
    long long due, burst = 0;

    if (be.rate > 0) {
        due = (long long)((double)(bench_now_ns() - be.t0) * be.rate / 1e9);
        due = (due / be.batch + 1) * be.batch; /* whole bursts */
        if (due > be.n)
            due = be.n;
        while (be.sent < due && burst++ < BE_BURST_MAX)
            be_push_one();
        return be.sent < be.n ? 1 : 10;
    }
    while (be.sent < be.n && burst++ < BE_BURST_MAX &&
           xmpp_conn_send_queue_len(be.conn) < BE_FLOOD_QUEUE)
        be_push_one();
    return be.sent < be.n && xmpp_conn_send_queue_len(be.conn) < BE_FLOOD_QUEUE
               ? 0
               : 10;
}

static void be_stats(const char *tag)
{
    char lat[512];

    bench_lat_json(&be.lat, be.recv, lat, sizeof(lat));
    bench_say("%s {%s,\"echoed\":%lld}", tag, lat, be.echoed);
}

static void be_command(const char *line)
{
    long long n, rate, users, batch = 1;
    char prefix[64], domain[256];

    if (strcmp(line, "MODE echo") == 0) {
        be.echo = 1;
    } else if (strcmp(line, "MODE null") == 0) {
        be.echo = 0;
    } else if (sscanf(line, "PUSH %lld %lld %lld %63s %255s %lld", &n, &rate,
                      &users, prefix, domain, &batch) >= 5) {
        if (n < 1 || rate < 0 || users < 1 || batch < 1)
            bench_die("bench_echo: bad PUSH: %s", line);
        be.pushing = 1;
        be.n = n;
        be.sent = 0;
        be.rate = (double)rate;
        be.batch = batch;
        be.users = (int)users;
        snprintf(be.prefix, sizeof(be.prefix), "%s", prefix);
        snprintf(be.domain, sizeof(be.domain), "%s", domain);
        be.t0 = bench_now_ns();
    } else if (sscanf(line, "EXPECT %lld", &n) == 1) {
        be.expect = n;
    } else if (strcmp(line, "RESET") == 0) {
        bench_lat_reset(&be.lat);
        be.recv = be.echoed = be.expect = 0;
    } else if (strcmp(line, "STATS") == 0) {
        be_stats("STATS");
    } else if (strcmp(line, "QUIT") == 0) {
        exit(0);
    } else {
        fprintf(stderr, "bench_echo: unknown command: %s\n", line);
    }
}

static void be_loop(void)
{
    struct bench_lines in;
    struct pollfd p[2];
    const char *line;
    int eof = 0, timeout, n;

    memset(&in, 0, sizeof(in));
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    for (;;) {
        timeout = 100;
        if (be.pushing) {
            timeout = be_push_some();
            xmpp_run_once(be.ctx, 0);
            if (be.sent == be.n && xmpp_conn_send_queue_len(be.conn) == 0) {
                be.pushing = 0;
                bench_say("SENT {\"sent\":%lld,\"first_ns\":%lld,"
                          "\"last_ns\":%lld}",
                          be.sent, (long long)be.t_first,
                          (long long)bench_now_ns());
            }
        }
        n = 0;
        p[n].fd = 0;
        p[n++].events = POLLIN;
        if (be.fd >= 0) {
            p[n].fd = be.fd;
            p[n++].events =
                POLLIN | (!be.connected || xmpp_conn_send_queue_len(be.conn) > 0
                              ? POLLOUT
                              : 0);
        }
        if (poll(p, (nfds_t)n, timeout) > 0 && p[0].revents) {
            while ((line = bench_lines_next(&in, 0, &eof)) != NULL)
                be_command(line);
            if (eof)
                exit(0);
        }
        xmpp_run_once(be.ctx, 0);
        if (be.expect > 0 && be.recv >= be.expect) {
            be.expect = 0;
            be_stats("RECV");
        }
    }
}

int main(int argc, char **argv)
{
    const char *secret = NULL, *host = "127.0.0.1";
    unsigned short port = 0;
    int ch;

    while ((ch = getopt(argc, argv, "j:s:H:P:1")) != -1) {
        if (ch == '1')
            be.probe = 1;
        else if (ch == 'j')
            be.jid = optarg;
        else if (ch == 's')
            secret = optarg;
        else if (ch == 'H')
            host = optarg;
        else if (ch == 'P')
            port = (unsigned short)bench_num("-P", optarg, 1, 65535);
        else
            bench_die("usage: bench_echo -j jid -s secret -H host -P port "
                      "[-1]");
    }
    if (be.jid == NULL || secret == NULL || port == 0)
        bench_die("usage: bench_echo -j jid -s secret -H host -P port");
    xmpp_initialize();
    be.ctx = xmpp_ctx_new(NULL, NULL);
    be.conn = xmpp_conn_new(be.ctx);
    be_seed_sm_state();
    xmpp_conn_set_jid(be.conn, be.jid);
    xmpp_conn_set_pass(be.conn, secret);
    xmpp_conn_set_sockopt_callback(be.conn, be_sockopt);
    xmpp_handler_add(be.conn, be_on_message, NULL, "message", NULL, NULL);
    xmpp_handler_add(be.conn, be_on_iq, NULL, "iq", NULL, NULL);
    if (xmpp_connect_component(be.conn, host, port, be_conn, NULL) != XMPP_EOK)
        bench_die("bench_echo: cannot connect to %s:%u", host, port);
    if (be.probe)
        for (;;)
            xmpp_run_once(be.ctx, 100);
    be_loop();
    return 0;
}
