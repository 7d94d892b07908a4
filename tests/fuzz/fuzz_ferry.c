/* SPDX-License-Identifier: MIT */
/* A whole ferry for the fuzz targets that drive it from outside (stanzas,
 * HTTP requests): brought up once per process on a private directory, with
 * a fake XMPP server (accepts the XEP-0114 handshake, answers the queue's
 * barrier pings, swallows the rest) and a fake Cloud API (a route of
 * ferry's own HTTP listener) so that both directions run to completion. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ftw.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>

#include "../../src/store_int.h"
#include "bridge.h"
#include "component.h"
#include "conf.h"
#include "disco.h"
#include "fuzz_ferry.h"
#include "http.h"
#include "httpd.h"
#include "log.h"
#include "loop.h"
#include "media.h"
#include "net.h"
#include "queue.h"
#include "roster.h"
#include "store.h"
#include "util.h"

#define FUZZ_XMPP_WINDOW 1024 /* bytes of the stream kept for scanning */
#define FUZZ_SMALL_BODY 64    /* body cap of the /fuzz/small route */
#define FUZZ_GRAPH_BODY (64 * 1024)
#define FUZZ_UP_MS 5000 /* how long the component may take to connect */

static struct {
    char dir[64];
    char path[160];
    struct conf *conf;
    struct store *st;
    unsigned long progress;
    unsigned long wamids;
    int up;
    int removing_all; /* at exit: the directory itself goes too */
    /* the fake XMPP server */
    int lfd, fd, stage; /* stage 0: stream header, 1: handshake, 2: up */
    int xmpp_port;
    struct event *accept_ev, *io_ev;
    char win[FUZZ_XMPP_WINDOW + 1];
    size_t winlen;
} fz = {.lfd = -1, .fd = -1};

/* ---- temporary files ---- */

static int fuzz_tmpdir_unlink(const char *path, const struct stat *sb, int type,
                              struct FTW *ftw)
{
    if (ftw->level > 0 || fz.removing_all)
        remove(path);
    return 0;
}

/* Removes what is in path (and path itself at exit). */
static void fuzz_tmpdir_clear(const char *path)
{
    nftw(path, fuzz_tmpdir_unlink, 8, FTW_DEPTH | FTW_PHYS);
}

static void fuzz_tmpdir_remove(void)
{
    fz.removing_all = 1;
    fuzz_tmpdir_clear(fz.dir);
}

/* $FUZZ_TMPDIR, else /dev/shm (memory: no disk writes per input), else
 * /tmp. */
static const char *fuzz_tmpdir_base(void)
{
    const char *t = getenv("FUZZ_TMPDIR");

    if (t != NULL && t[0] != '\0' && strlen(t) < sizeof(fz.dir) - 24)
        return t;
    return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

const char *fuzz_tmpdir(void)
{
    if (fz.dir[0] != '\0')
        return fz.dir;
    snprintf(fz.dir, sizeof(fz.dir), "%s/ferry-fuzz-XXXXXX",
             fuzz_tmpdir_base());
    if (mkdtemp(fz.dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    atexit(fuzz_tmpdir_remove);
    return fz.dir;
}

const char *fuzz_write_file(const char *name, const void *data, size_t len)
{
    FILE *f;

    snprintf(fz.path, sizeof(fz.path), "%s/%s", fuzz_tmpdir(), name);
    unlink(fz.path); /* a new file: no flush of the old one's blocks */
    f = fopen(fz.path, "w");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(fz.path);
        abort();
    }
    return fz.path;
}

void fuzz_log_open(void)
{
    if (getenv("FUZZ_LOG") != NULL)
        log_open("stderr", LOG_LEVEL_DEBUG);
    else
        log_open("/dev/null", LOG_LEVEL_DEBUG);
}

void fuzz_ferry_progress(void)
{
    fz.progress++;
}

/* ---- the fake XMPP server ---- */

static void fuzz_xmpp_write(const char *s)
{
    size_t n = strlen(s);

    if (fz.fd >= 0 && send(fz.fd, s, n, MSG_NOSIGNAL) != (ssize_t)n)
        fprintf(stderr, "fuzz: short write to the component socket\n");
}

static void fuzz_xmpp_close(void)
{
    if (fz.io_ev != NULL)
        event_free(fz.io_ev);
    fz.io_ev = NULL;
    if (fz.fd >= 0)
        close(fz.fd);
    fz.fd = -1;
    fz.stage = 0;
    fz.winlen = 0;
}

/* Answers every barrier ping in the window; keeps an unfinished tail. */
static void fuzz_xmpp_pings(void)
{
    static const char ping[] = "urn:xmpp:ping";
    char *p, *iq, *id, *end, *q, reply[256];

    while ((p = memmem(fz.win, fz.winlen, ping, sizeof(ping) - 1)) != NULL) {
        iq = NULL;
        for (q = fz.win; (q = memmem(q, (size_t)(p - q), "<iq ", 4)) != NULL;
             q++)
            iq = q;
        id = iq ? memmem(iq, (size_t)(p - iq), " id=\"", 5) : NULL;
        end = id ? memchr(id + 5, '"', (size_t)(p - id - 5)) : NULL;
        if (end != NULL && end - id - 5 < 100) {
            snprintf(reply, sizeof(reply),
                     "<iq type='result' id='%.*s' from='example.org' "
                     "to='" FUZZ_DOMAIN "'/>",
                     (int)(end - id - 5), id + 5);
            fuzz_xmpp_write(reply);
        }
        p += sizeof(ping) - 1;
        fz.winlen -= (size_t)(p - fz.win);
        memmove(fz.win, p, fz.winlen);
    }
    if (fz.winlen > FUZZ_XMPP_WINDOW / 2) {
        memmove(fz.win, fz.win + fz.winlen - FUZZ_XMPP_WINDOW / 2,
                FUZZ_XMPP_WINDOW / 2);
        fz.winlen = FUZZ_XMPP_WINDOW / 2;
    }
}

/* Moves the handshake along, then answers pings. */
static void fuzz_xmpp_scan(void)
{
    char *p;

    fz.win[fz.winlen] = '\0';
    if (fz.stage == 0 && (p = strstr(fz.win, "<stream:stream")) != NULL &&
        strchr(p, '>') != NULL) {
        fuzz_xmpp_write("<?xml version='1.0'?><stream:stream "
                        "xmlns='jabber:component:accept' "
                        "xmlns:stream='http://etherx.jabber.org/streams' "
                        "from='" FUZZ_DOMAIN "' id='fuzzstream'>");
        fz.stage = 1;
        fz.winlen = 0;
    } else if (fz.stage == 1 && strstr(fz.win, "</handshake>") != NULL) {
        fuzz_xmpp_write("<handshake/>");
        fz.stage = 2;
        fz.winlen = 0;
    } else if (fz.stage == 2) {
        fuzz_xmpp_pings();
    }
    if (fz.winlen == FUZZ_XMPP_WINDOW)
        fz.winlen = 0; /* no header in a whole window: start again */
}

static void fuzz_xmpp_read(evutil_socket_t fd, short what, void *arg)
{
    char buf[4096];
    ssize_t n;
    size_t off, take;

    for (;;) {
        n = recv(fz.fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            fuzz_xmpp_close();
            return;
        }
        if (n < 0)
            return;
        fz.progress++;
        for (off = 0; off < (size_t)n; off += take) {
            take = FUZZ_XMPP_WINDOW - fz.winlen;
            if (take > (size_t)n - off)
                take = (size_t)n - off;
            memcpy(fz.win + fz.winlen, buf + off, take);
            fz.winlen += take;
            fuzz_xmpp_scan();
        }
    }
}

static void fuzz_xmpp_accept(evutil_socket_t fd, short what, void *arg)
{
    int c = accept(fz.lfd, NULL, NULL);

    if (c < 0)
        return;
    fuzz_xmpp_close();
    fz.fd = c;
    evutil_make_socket_nonblocking(c);
    fz.io_ev =
        event_new(loop_base(), c, EV_READ | EV_PERSIST, fuzz_xmpp_read, NULL);
    event_add(fz.io_ev, NULL);
}

/* Listens on a free loopback port (before the loop exists). */
static void fuzz_xmpp_listen(void)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fz.lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (fz.lfd < 0 || bind(fz.lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fz.lfd, 4) < 0 ||
        getsockname(fz.lfd, (struct sockaddr *)&sa, &sl) < 0) {
        perror("fuzz: fake XMPP server");
        abort();
    }
    fz.xmpp_port = ntohs(sa.sin_port);
}

/* ---- the fake Cloud API: a route of ferry's own listener ---- */

/* The number after "err:" in s[0..n), -1 when absent; -2 for "err:html". */
static long fuzz_graph_err(const char *s, size_t n)
{
    const char *p = s ? memmem(s, n, "err:", 4) : NULL;
    long v = 0;

    if (p == NULL)
        return -1;
    p += 4;
    if ((size_t)(p - s) + 4 <= n && memcmp(p, "html", 4) == 0)
        return -2;
    while ((size_t)(p - s) < n && *p >= '0' && *p <= '9' && v < 10000000)
        v = v * 10 + (*p++ - '0');
    return v;
}

/* The error asked for in the body ("err:131047", "err:429", "err:html",
 * "err:0" for a cut-off answer); 0 when none was. */
static int fuzz_graph_fail(const struct httpd_request *req,
                           struct httpd_response *res)
{
    long err = fuzz_graph_err(req->body, req->body_len);
    char *body;

    if (err == -1)
        return 0;
    if (err == -2) {
        httpd_respond(res, 502, "text/html", "<html>bad gateway</html>");
    } else if (err == 429) {
        httpd_respond(res, 429, "application/json",
                      "{\"error\":{\"message\":\"rate\",\"code\":130429}}");
    } else if (err == 0) {
        httpd_respond(res, 200, "application/json", "{\"messages\":[{\"id");
    } else {
        body =
            xasprintf("{\"error\":{\"message\":\"fuzz\",\"code\":%ld}}", err);
        httpd_respond(res, err == 131000 || err < 3 ? 500 : 400,
                      "application/json", body);
        free(body);
    }
    return 1;
}

/* Media: GET /graph/dl/<id> (the file; "404" in the id: gone) and
 * GET /graph/<version>/<media id> (its info, pointing at the former). */
static void fuzz_graph_media(const char *rest, struct httpd_response *res)
{
    char *body;

    if (strncmp(rest, "dl/", 3) == 0) {
        if (strstr(rest, "404") != NULL)
            httpd_respond(res, 404, "text/plain", "expired\n");
        else
            httpd_respond(res, 200, "image/jpeg", "JFIF fuzz image");
        return;
    }
    body = xasprintf("{\"url\":\"http://127.0.0.1:%d/graph/dl/%s\","
                     "\"mime_type\":\"image/jpeg\",\"sha256\":\"x\","
                     "\"file_size\":15,\"id\":\"%s\","
                     "\"messaging_product\":\"whatsapp\"}",
                     httpd_port(), rest, rest);
    httpd_respond(res, 200, "application/json", body);
    free(body);
}

/* Answers like the Graph API: account checks, sends, media info,
 * downloads and uploads, or the failure the request asks for. */
static void fuzz_graph(const struct httpd_request *req,
                       struct httpd_response *res, void *arg)
{
    const char *auth = httpd_header(req, "Authorization");
    const char *rest = req->path + strlen("/graph/");
    const char *id = strchr(rest, '/');
    char *body;

    fz.progress++;
    if (auth == NULL || strstr(auth, "bad") != NULL) {
        httpd_respond(res, 401, "application/json",
                      "{\"error\":{\"message\":\"Invalid OAuth access "
                      "token\",\"type\":\"OAuthException\",\"code\":190}}");
    } else if (fuzz_graph_fail(req, res)) {
        return;
    } else if (strcmp(req->method, "GET") == 0 && id != NULL &&
               strcmp(id + 1, FUZZ_PNID) != 0 && strchr(id + 1, '/') == NULL) {
        fuzz_graph_media(strncmp(rest, "dl/", 3) == 0 ? rest : id + 1, res);
    } else if (strcmp(req->method, "GET") == 0) {
        httpd_respond(res, 200, "application/json",
                      "{\"display_phone_number\":\"+1 555-0100\","
                      "\"verified_name\":\"Fuzz\",\"id\":\"" FUZZ_PNID "\"}");
    } else {
        body = xasprintf("{\"messaging_product\":\"whatsapp\",\"id\":\"%lu\","
                         "\"messages\":[{\"id\":\"wamid.FUZZ%lu\"}]}",
                         ++fz.wamids, fz.wamids);
        httpd_respond(res, 200, "application/json", body);
        free(body);
    }
}

/* Any http:// URL asked through the proxy: a small file ("404" in the URL:
 * gone). */
static void fuzz_proxied(const struct httpd_request *req,
                         struct httpd_response *res, void *arg)
{
    fz.progress++;
    if (strstr(req->path, "404") != NULL)
        httpd_respond(res, 404, "text/plain", "gone\n");
    else
        httpd_respond(res, 200, "image/jpeg", "JFIF fuzz image");
}

/* Echoes what a handler can read of a request, under a small body cap. */
static void fuzz_small(const struct httpd_request *req,
                       struct httpd_response *res, void *arg)
{
    const char *h = httpd_header(req, "Content-Type");
    const char *q = httpd_query(req, "q");
    char *body = xasprintf("%s %s %zu %s %s\n", req->method, req->path,
                           req->body_len, h ? h : "-", q ? q : "-");

    httpd_respond(res, 200, "text/plain", body);
    free(body);
}

/* ---- bring-up ---- */

static void fuzz_ferry_conf(void)
{
    char *text = xasprintf("[component]\n"
                           "jid = " FUZZ_DOMAIN "\n"
                           "secret = fuzz-secret\n"
                           "host = 127.0.0.1\n"
                           "port = %d\n"
                           "[gateway]\n"
                           "allowed_domains = example.org example.net\n"
                           "admins = admin@example.org\n"
                           "[store]\n"
                           "path = %s/ferry.sqlite\n"
                           "[http]\n"
                           "listen = 127.0.0.1:1\n"
                           "[cloudapi]\n"
                           "graph_url = http://127.0.0.1:1\n"
                           "app_secret = " FUZZ_APP_SECRET "\n"
                           "verify_token = " FUZZ_VERIFY_TOKEN "\n"
                           "[log]\n"
                           "level = debug\n",
                           fz.xmpp_port, fuzz_tmpdir());
    const char *path = fuzz_write_file("ferry.conf", text, strlen(text));

    free(text);
    fz.conf = conf_load(path, stderr);
    if (fz.conf == NULL)
        abort();
}

/* Points the back end at the fake Cloud API on our own listener. */
static void fuzz_ferry_graph_url(void)
{
    free(fz.conf->cloudapi_graph_url);
    fz.conf->cloudapi_graph_url =
        xasprintf("http://127.0.0.1:%d/graph", httpd_port());
    net_configure(fz.conf);
}

/* Nothing leaves the machine: curl sends every request but those to
 * 127.0.0.1 through ferry's own listener as a proxy, where the "http://"
 * route serves any file (https:// ones fail there). */
static void fuzz_ferry_proxy(void)
{
    char *proxy = xasprintf("http://127.0.0.1:%d", httpd_port());

    setenv("http_proxy", proxy, 1);
    setenv("https_proxy", proxy, 1);
    setenv("no_proxy", "127.0.0.1", 1);
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    unsetenv("NO_PROXY");
    free(proxy);
}

static long long fuzz_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void fuzz_ferry_up(void)
{
    struct httpd_limits lim = {0, 30, 32 * 1024 * 1024};
    struct net_set set;
    long long until;

    if (fz.up)
        return;
    fz.up = 1;
    fuzz_log_open();
    fuzz_xmpp_listen();
    fuzz_ferry_conf();
    fz.st = store_open(fz.conf->store_path, fz.conf->store_synchronous);
    if (fz.st == NULL)
        abort();
    loop_init();
    http_init();
    if (net_open(fz.conf, &set) < 0)
        abort();
    component_init(fz.conf); /* in main.c's order */
    disco_init(fz.conf);
    roster_init(fz.st);
    roster_reconfigure(fz.conf);
    if (media_init(fz.conf, fz.st) < 0)
        abort();
    if (bridge_init(fz.st, fz.conf, &set) < 0)
        abort();
    httpd_route("/graph/", fuzz_graph, NULL, FUZZ_GRAPH_BODY);
    httpd_route("/fuzz/small", fuzz_small, NULL, FUZZ_SMALL_BODY);
    httpd_route("http://", fuzz_proxied, NULL, FUZZ_SMALL_BODY);
    if (httpd_start("127.0.0.1:0", &lim) < 0)
        abort();
    fuzz_ferry_graph_url();
    fuzz_ferry_proxy();
    evutil_make_socket_nonblocking(fz.lfd);
    fz.accept_ev = event_new(loop_base(), fz.lfd, EV_READ | EV_PERSIST,
                             fuzz_xmpp_accept, NULL);
    event_add(fz.accept_ev, NULL);
    fuzz_ferry_reset();
    component_start();
    until = fuzz_ms() + FUZZ_UP_MS;
    while (!component_connected() && fuzz_ms() < until)
        event_base_loop(loop_base(), EVLOOP_ONCE);
    if (!component_connected()) {
        fprintf(stderr, "fuzz: the component did not connect\n");
        abort();
    }
    fuzz_ferry_settle(200);
}

int fuzz_ferry_http_port(void)
{
    return httpd_port();
}

/* ---- per input ---- */

/* A message row of the seeded contact. */
static void fuzz_ferry_message(long long acc, long long cid, char dir,
                               const char *stanza_id, const char *network_id,
                               int status)
{
    struct store_message m;

    memset(&m, 0, sizeof(m));
    m.account_id = acc;
    m.contact_id = cid;
    m.direction = dir;
    m.stanza_id = (char *)stanza_id;
    m.network_id = (char *)network_id;
    m.sender = dir == 'o' ? (char *)FUZZ_USER "/phone" : NULL;
    m.status = status;
    m.want_receipt = 1;
    m.want_markers = 1;
    if (store_message_add(fz.st, &m) < 0)
        abort();
}

void fuzz_ferry_reset(void)
{
    long long acc, paused, cid;
    int created;

    store_txn_commit(fz.st);
    if (store_exec(fz.st, "BEGIN; DELETE FROM early_status; DELETE FROM seen;"
                          " DELETE FROM inbox; DELETE FROM outbox;"
                          " DELETE FROM message; DELETE FROM alias;"
                          " DELETE FROM contact; DELETE FROM account;"
                          " DELETE FROM media_file;") < 0)
        abort();
    snprintf(fz.path, sizeof(fz.path), "%s/media", fuzz_tmpdir());
    fuzz_tmpdir_clear(fz.path);
    acc = store_account_upsert(fz.st, FUZZ_USER, "cloudapi", FUZZ_PNID,
                               "fuzz-token", "+1 555-0100");
    paused = store_account_upsert(fz.st, "carol@example.org", "cloudapi",
                                  "200000000000001", "fuzz-token-2", NULL);
    if (acc < 0 || paused < 0 ||
        store_account_set_state(fz.st, paused, "auth_failed", "token expired") <
            0)
        abort();
    cid = store_contact_ensure(fz.st, acc, FUZZ_CONTACT, "+" FUZZ_CONTACT,
                               "Bob", &created);
    if (cid < 0 || store_contact_set_subscription(fz.st, cid, "both") < 0)
        abort();
    fuzz_ferry_message(acc, cid, 'i', "wamid.IN1", "wamid.IN1",
                       STORE_STATUS_DELIVERED);
    fuzz_ferry_message(acc, cid, 'o', "out-1", "wamid.OUT1", STORE_STATUS_SENT);
    fuzz_ferry_message(acc, cid, 'o', "out-2", NULL, STORE_STATUS_QUEUED);
    if (store_exec(fz.st, "COMMIT;") < 0)
        abort();
}

void fuzz_ferry_settle(int max_ms)
{
    long long until = fuzz_ms() + max_ms;
    unsigned long seen = fz.progress;
    int idle = 0;

    while (idle < 3 && fuzz_ms() < until) {
        event_base_loop(loop_base(), EVLOOP_NONBLOCK);
        if (fz.progress != seen || http_inflight() > 0 ||
            component_send_queue_len() > 0) {
            seen = fz.progress;
            idle = 0;
        } else {
            idle++;
        }
    }
}
