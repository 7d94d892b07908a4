/* SPDX-License-Identifier: MIT */
/* bench_client: K XMPP users on one libstrophe context. It can create the
 * accounts in-band (XEP-0077), register each user with the gateway, send
 * stamped messages at a set rate (or as fast as the server reads them) to
 * WhatsApp contact JIDs, and measure the messages that come back.
 *
 *   bench_client -H host -P port -d domain -u prefix -w password -k K
 *                [-o first] [-I] [-g gateway -n pnid_base -t token]
 *
 * Users are <prefix><NNNN>@domain, NNNN from first to first+K-1. It prints
 * READY when all are online, then obeys commands on stdin, one per line:
 *   SEND n rate users contacts domain   n messages (rate/s, 0: flood) from
 *                                       the first `users` users, round-robin
 *                                       over `contacts` numbers @domain;
 *                                       prints SENT {...} once written
 *   EXPECT n     prints RECV {...} when n stamped messages have arrived
 *   RESET        forgets what arrived    STATS  prints STATS {...}
 *   QUIT         disconnects and exits (so does end of input) */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <strophe.h>

#include "bench_util.h"

#define BC_MAX_USERS 1000
#define BC_FLOOD_QUEUE 64 /* stanzas queued per connection in flood mode */
#define BC_BURST_MAX 2000 /* messages written per loop turn at most */
#define BC_LOGIN_TIMEOUT_NS (180LL * 1000000000LL)
#define BC_CONTACT_BASE 15550000000LL /* +1 555 000 0000 */
#define BC_IBR_WINDOW 10
#define BC_IBR_WAIT_NS (15LL * 1000000000LL)

struct bc_user {
    xmpp_conn_t *conn;
    char jid[256];
    int fd;
    int online;   /* 1 online, -1 failed */
    int gw_state; /* gateway registration: 0 pending, 1 done, -1 failed */
    int ibr;      /* in-band registration: 0 pending, 1 done, -1 failed */
};

static struct {
    xmpp_ctx_t *ctx;
    struct bc_user *u;
    int k, first;
    const char *host, *domain, *prefix, *password;
    unsigned short port;
    const char *gateway, *token;
    long long pnid_base;
    /* the current SEND */
    int sending;
    long long n, sent, seq;
    double rate;
    int users, contacts;
    char to_domain[256];
    int64_t t0, t_first, t_last;
    /* what arrives */
    struct bench_lat lat;
    long long recv, errors, receipts, other, expect;
} bc;

static struct bc_user *bc_user_of(const xmpp_conn_t *conn)
{
    int i;

    for (i = 0; i < bc.k; i++)
        if (bc.u[i].conn == conn)
            return &bc.u[i];
    return NULL;
}

/* libstrophe hands us each new socket: remember it for poll(). */
static int bc_sockopt(xmpp_conn_t *conn, void *sock)
{
    struct bc_user *u = bc_user_of(conn);

    if (u != NULL)
        u->fd = *(int *)sock;
    return 0;
}

/* ---- in-band registration (raw stream, before login) ---- */

static int bc_ibr_result(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
    struct bc_user *u = arg;
    const char *type = xmpp_stanza_get_type(st);
    xmpp_stanza_t *err = xmpp_stanza_get_child_by_name(st, "error");

    /* "conflict": the account exists already, which is what we want */
    if (type != NULL && strcmp(type, "result") == 0)
        u->ibr = 1;
    else if (err != NULL && xmpp_stanza_get_child_by_name(err, "conflict"))
        u->ibr = 1;
    else
        u->ibr = -1;
    if (u->ibr < 0)
        fprintf(stderr, "bench_client: in-band registration of %s refused\n",
                u->jid);
    xmpp_disconnect(conn);
    return 0;
}

static int bc_ibr_features(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
    struct bc_user *u = arg;
    char user[128];

    snprintf(user, sizeof(user), "%s%04d", bc.prefix,
             (int)(u - bc.u) + bc.first);
    xmpp_id_handler_add(conn, bc_ibr_result, "ibr", u);
    xmpp_send_raw_string(conn,
                         "<iq type='set' id='ibr'><query "
                         "xmlns='jabber:iq:register'><username>%s</username>"
                         "<password>%s</password></query></iq>",
                         user, bc.password);
    return 0;
}

static void bc_ibr_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error,
                        xmpp_stream_error_t *se, void *arg)
{
    struct bc_user *u = arg;

    if (ev == XMPP_CONN_RAW_CONNECT) {
        xmpp_handler_add(conn, bc_ibr_features, NULL, "features", NULL, u);
        xmpp_conn_open_stream_default(conn);
    } else if (ev == XMPP_CONN_DISCONNECT && u->ibr == 0) {
        u->ibr = -1; /* tried again */
    }
}

static void bc_run_until(int (*done)(void), const char *what)
{
    int64_t deadline = bench_now_ns() + BC_LOGIN_TIMEOUT_NS;

    while (!done()) {
        if (bench_now_ns() > deadline)
            bench_die("bench_client: timed out waiting for %s", what);
        xmpp_run_once(bc.ctx, 5);
    }
}

static int bc_ibr_lo, bc_ibr_hi; /* the window being registered */

static int bc_ibr_finished(void)
{
    int i;

    for (i = bc_ibr_lo; i < bc_ibr_hi; i++)
        if (bc.u[i].conn != NULL && bc.u[i].ibr == 0)
            return 0;
    return 1;
}

static void bc_ibr_start(struct bc_user *u)
{
    u->ibr = 0;
    u->conn = xmpp_conn_new(bc.ctx);
    xmpp_conn_set_flags(u->conn, XMPP_CONN_FLAG_DISABLE_TLS);
    xmpp_conn_set_jid(u->conn, u->jid);
    xmpp_conn_set_sockopt_callback(u->conn, bc_sockopt);
    if (xmpp_connect_raw(u->conn, bc.host, bc.port, bc_ibr_conn, u) != XMPP_EOK)
        bench_die("bench_client: cannot connect to %s:%u", bc.host, bc.port);
}

/* Registers users [lo, hi) that are not registered yet, waiting at most
 * BC_IBR_WAIT_NS; returns how many are still missing. */
static int bc_ibr_window(int lo, int hi)
{
    int64_t deadline = bench_now_ns() + BC_IBR_WAIT_NS;
    int i, missing = 0;

    bc_ibr_lo = lo;
    bc_ibr_hi = hi;
    for (i = lo; i < hi; i++)
        if (bc.u[i].ibr != 1)
            bc_ibr_start(&bc.u[i]);
    while (!bc_ibr_finished() && bench_now_ns() < deadline)
        xmpp_run_once(bc.ctx, 5);
    for (i = lo; i < hi; i++) {
        struct bc_user *u = &bc.u[i];

        if (u->conn == NULL)
            continue;
        deadline = bench_now_ns() + 2000000000LL;
        while (!xmpp_conn_is_disconnected(u->conn) && bench_now_ns() < deadline)
            xmpp_run_once(bc.ctx, 5);
        xmpp_conn_release(u->conn);
        u->conn = NULL;
        u->fd = -1;
        missing += u->ibr != 1;
    }
    return missing;
}

/* Creates the accounts, BC_IBR_WINDOW connections at a time; a server
 * that leaves some registrations unanswered gets asked again. */
static void bc_ibr(void)
{
    int lo, hi, attempt;

    for (lo = 0; lo < bc.k; lo += BC_IBR_WINDOW) {
        hi = lo + BC_IBR_WINDOW < bc.k ? lo + BC_IBR_WINDOW : bc.k;
        for (attempt = 0; bc_ibr_window(lo, hi) > 0; attempt++)
            if (attempt == 4)
                bench_die("bench_client: in-band registration failed");
    }
}

/* ---- login, gateway registration ---- */

static int bc_on_message(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
    const char *type = xmpp_stanza_get_type(st);
    xmpp_stanza_t *body = xmpp_stanza_get_child_by_name(st, "body");
    const char *text = NULL;
    int64_t now = bench_now_ns(), stamp;

    if (type != NULL && strcmp(type, "error") == 0) {
        if (bc.errors++ < 5) {
            char *s = NULL;
            size_t len;

            xmpp_stanza_to_text(st, &s, &len);
            fprintf(stderr, "bench_client: error: %.400s\n", s ? s : "?");
            xmpp_free(bc.ctx, s);
        }
        return 1;
    }
    if (body != NULL && xmpp_stanza_get_children(body) != NULL)
        text = xmpp_stanza_get_text_ptr(xmpp_stanza_get_children(body));
    stamp = bench_stamp_parse(text);
    if (stamp > 0) {
        bc.recv++;
        bench_lat_add(&bc.lat, stamp, now);
    } else if (xmpp_stanza_get_child_by_name(st, "received") != NULL) {
        bc.receipts++;
    } else if (bc.other++ < 3 && getenv("BENCH_CLIENT_DEBUG") != NULL) {
        char *s = NULL;
        size_t len;

        xmpp_stanza_to_text(st, &s, &len);
        fprintf(stderr, "bench_client: other: %.400s\n", s ? s : "?");
        xmpp_free(bc.ctx, s);
    }
    return 1;
}

static int bc_gw_result(xmpp_conn_t *conn, xmpp_stanza_t *st, void *arg)
{
    struct bc_user *u = arg;
    const char *type = xmpp_stanza_get_type(st);

    char *text = NULL;
    size_t len;

    u->gw_state = type != NULL && strcmp(type, "result") == 0 ? 1 : -1;
    if (u->gw_state < 0) {
        xmpp_stanza_to_text(st, &text, &len);
        fprintf(stderr,
                "bench_client: %s: gateway registration refused: "
                "%.300s\n",
                u->jid, text ? text : "?");
        xmpp_free(bc.ctx, text);
    }
    return 0;
}

static void bc_register_gateway(struct bc_user *u)
{
    char id[32];

    snprintf(id, sizeof(id), "gw%d", (int)(u - bc.u));
    xmpp_id_handler_add(u->conn, bc_gw_result, id, u);
    xmpp_send_raw_string(u->conn,
                         "<iq type='set' id='%s' to='%s'><query "
                         "xmlns='jabber:iq:register'><username>%lld</username>"
                         "<password>%s</password></query></iq>",
                         id, bc.gateway, bc.pnid_base + (u - bc.u) + bc.first,
                         bc.token);
}

static void bc_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error,
                    xmpp_stream_error_t *se, void *arg)
{
    struct bc_user *u = arg;

    if (ev == XMPP_CONN_CONNECT) {
        u->online = 1;
        xmpp_handler_add(conn, bc_on_message, NULL, "message", NULL, NULL);
        xmpp_send_raw_string(conn, "<presence/>");
        if (bc.gateway != NULL)
            bc_register_gateway(u);
    } else if (ev == XMPP_CONN_DISCONNECT) {
        if (u->online >= 0)
            fprintf(stderr, "bench_client: %s disconnected (error %d%s%s)\n",
                    u->jid, error, se && se->text ? ": " : "",
                    se && se->text ? se->text : "");
        u->online = -1;
        u->fd = -1;
    }
}

static int bc_logged_in(void)
{
    int i;

    for (i = 0; i < bc.k; i++) {
        if (bc.u[i].online < 0)
            bench_die("bench_client: login of %s failed", bc.u[i].jid);
        if (bc.u[i].online == 0 || (bc.gateway && bc.u[i].gw_state == 0))
            return 0;
    }
    return 1;
}

static void bc_login(void)
{
    char full[300];
    int i;

    for (i = 0; i < bc.k; i++) {
        struct bc_user *u = &bc.u[i];

        u->conn = xmpp_conn_new(bc.ctx);
        xmpp_conn_set_flags(u->conn, XMPP_CONN_FLAG_DISABLE_TLS |
                                         XMPP_CONN_FLAG_DISABLE_SM);
        snprintf(full, sizeof(full), "%s/bench", u->jid);
        xmpp_conn_set_jid(u->conn, full);
        xmpp_conn_set_pass(u->conn, bc.password);
        xmpp_conn_set_sockopt_callback(u->conn, bc_sockopt);
        if (xmpp_connect_client(u->conn, bc.host, bc.port, bc_conn, u) !=
            XMPP_EOK)
            bench_die("bench_client: cannot connect %s", u->jid);
    }
    bc_run_until(bc_logged_in, "login");
    for (i = 0; i < bc.k; i++)
        if (bc.u[i].gw_state < 0)
            bench_die("bench_client: gateway registration failed");
}

/* ---- sending ---- */

static void bc_send_one(void)
{
    long long i = bc.sent;
    struct bc_user *u = &bc.u[i % bc.users];
    long long contact = (i / bc.users) % bc.contacts;

    bc.seq++;
    xmpp_send_raw_string(
        u->conn,
        "<message to='+%lld@%s' type='chat' id='b%d-%lld'><body>bench %lld "
        "t=%lld</body><request xmlns='urn:xmpp:receipts'/><markable "
        "xmlns='urn:xmpp:chat-markers:0'/></message>",
        BC_CONTACT_BASE + contact, bc.to_domain, (int)getpid(), bc.seq, bc.seq,
        (long long)bench_now_ns());
    if (bc.sent++ == 0)
        bc.t_first = bench_now_ns();
}

/* Sends what is due now; returns how long poll() may sleep (ms). */
static int bc_send_some(void)
{
    long long due, burst = 0;
    int i, progress = 1;

    if (bc.rate > 0) {
        due = (long long)((double)(bench_now_ns() - bc.t0) * bc.rate / 1e9) + 1;
        if (due > bc.n)
            due = bc.n;
        while (bc.sent < due && burst++ < BC_BURST_MAX)
            bc_send_one();
        return bc.sent < bc.n ? 1 : 10;
    }
    while (bc.sent < bc.n && progress && burst < BC_BURST_MAX) {
        progress = 0;
        for (i = 0; i < bc.users && bc.sent < bc.n; i++) {
            struct bc_user *u = &bc.u[bc.sent % bc.users];

            if (xmpp_conn_send_queue_len(u->conn) >= BC_FLOOD_QUEUE)
                break;
            bc_send_one();
            burst++;
            progress = 1;
        }
    }
    return progress ? 0 : 10;
}

static int bc_queues_empty(void)
{
    int i;

    for (i = 0; i < bc.k; i++)
        if (xmpp_conn_send_queue_len(bc.u[i].conn) > 0)
            return 0;
    return 1;
}

/* ---- commands ---- */

static void bc_stats(const char *tag)
{
    char lat[512];

    bench_lat_json(&bc.lat, bc.recv, lat, sizeof(lat));
    bench_say("%s {%s,\"errors\":%lld,\"receipts\":%lld,\"other\":%lld}", tag,
              lat, bc.errors, bc.receipts, bc.other);
}

static void bc_command(const char *line)
{
    long long n, users, contacts, rate;
    char dom[256];

    if (sscanf(line, "SEND %lld %lld %lld %lld %255s", &n, &rate, &users,
               &contacts, dom) == 5) {
        if (n < 1 || rate < 0 || users < 1 || users > bc.k || contacts < 1)
            bench_die("bench_client: bad SEND: %s", line);
        bc.sending = 1;
        bc.n = n;
        bc.sent = 0;
        bc.rate = (double)rate;
        bc.users = (int)users;
        bc.contacts = (int)contacts;
        snprintf(bc.to_domain, sizeof(bc.to_domain), "%s", dom);
        bc.t0 = bench_now_ns();
    } else if (sscanf(line, "EXPECT %lld", &n) == 1) {
        bc.expect = n;
    } else if (strcmp(line, "RESET") == 0) {
        bench_lat_reset(&bc.lat);
        bc.recv = bc.errors = bc.receipts = bc.other = 0;
        bc.expect = 0;
    } else if (strcmp(line, "STATS") == 0) {
        bc_stats("STATS");
    } else if (strcmp(line, "QUIT") == 0) {
        exit(0);
    } else {
        fprintf(stderr, "bench_client: unknown command: %s\n", line);
    }
}

static int bc_poll(int timeout_ms, int stdin_open)
{
    struct pollfd p[BC_MAX_USERS + 1];
    int i, n = 0, stdin_ready = 0;

    if (stdin_open) {
        p[n].fd = 0;
        p[n++].events = POLLIN;
    }
    for (i = 0; i < bc.k; i++) {
        if (bc.u[i].fd < 0)
            continue;
        p[n].fd = bc.u[i].fd;
        p[n++].events =
            POLLIN | (xmpp_conn_send_queue_len(bc.u[i].conn) > 0 ? POLLOUT : 0);
    }
    if (poll(p, (nfds_t)n, timeout_ms) > 0 && stdin_open)
        stdin_ready = (p[0].revents & (POLLIN | POLLHUP)) != 0;
    return stdin_ready;
}

static void bc_loop(void)
{
    struct bench_lines in;
    const char *line;
    int eof = 0, stdin_open = 1, timeout;

    memset(&in, 0, sizeof(in));
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    for (;;) {
        timeout = 100;
        if (bc.sending) {
            timeout = bc_send_some();
            xmpp_run_once(bc.ctx, 0);
            if (bc.sent == bc.n && bc_queues_empty()) {
                bc.sending = 0;
                bc.t_last = bench_now_ns();
                bench_say("SENT {\"sent\":%lld,\"first_ns\":%lld,"
                          "\"last_ns\":%lld}",
                          bc.sent, (long long)bc.t_first, (long long)bc.t_last);
            }
        }
        if (bc_poll(timeout, stdin_open)) {
            while ((line = bench_lines_next(&in, 0, &eof)) != NULL)
                bc_command(line);
            if (eof)
                exit(0);
        }
        xmpp_run_once(bc.ctx, 0);
        if (bc.expect > 0 && bc.recv >= bc.expect) {
            bc.expect = 0;
            bc_stats("RECV");
        }
    }
}

static void bc_usage(void)
{
    bench_die("usage: bench_client -H host -P port -d domain -u prefix "
              "-w password -k K [-o first] [-I] [-g gateway -n pnid_base "
              "-t token]");
}

int main(int argc, char **argv)
{
    int ch, ibr = 0, i;
    int64_t t0;

    bc.host = "127.0.0.1";
    while ((ch = getopt(argc, argv, "H:P:d:u:w:k:o:Ig:n:t:")) != -1) {
        switch (ch) {
        case 'H':
            bc.host = optarg;
            break;
        case 'P':
            bc.port = (unsigned short)bench_num("-P", optarg, 1, 65535);
            break;
        case 'd':
            bc.domain = optarg;
            break;
        case 'u':
            bc.prefix = optarg;
            break;
        case 'w':
            bc.password = optarg;
            break;
        case 'k':
            bc.k = (int)bench_num("-k", optarg, 1, BC_MAX_USERS);
            break;
        case 'o':
            bc.first = (int)bench_num("-o", optarg, 0, 9999);
            break;
        case 'I':
            ibr = 1;
            break;
        case 'g':
            bc.gateway = optarg;
            break;
        case 'n':
            bc.pnid_base = bench_num("-n", optarg, 1, 1LL << 60);
            break;
        case 't':
            bc.token = optarg;
            break;
        default:
            bc_usage();
        }
    }
    if (bc.port == 0 || bc.domain == NULL || bc.prefix == NULL ||
        bc.password == NULL || bc.k == 0 ||
        (bc.gateway != NULL && (bc.pnid_base == 0 || bc.token == NULL)))
        bc_usage();
    xmpp_initialize();
    bc.ctx = xmpp_ctx_new(NULL, NULL);
    bc.u = calloc((size_t)bc.k, sizeof(*bc.u));
    if (bc.u == NULL)
        bench_die("out of memory");
    for (i = 0; i < bc.k; i++) {
        snprintf(bc.u[i].jid, sizeof(bc.u[i].jid), "%s%04d@%s", bc.prefix,
                 i + bc.first, bc.domain);
        bc.u[i].fd = -1;
    }
    t0 = bench_now_ns();
    if (ibr)
        bc_ibr();
    bc_login();
    bench_say("READY {\"users\":%d,\"login_ms\":%.1f}", bc.k,
              (double)(bench_now_ns() - t0) / 1e6);
    bc_loop();
    return 0;
}
