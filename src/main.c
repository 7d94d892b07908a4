/* SPDX-License-Identifier: MIT */
/* ferry: arguments, start-up in layer order, signals (TERM/INT: drain and
 * stop; HUP: reload the config and reopen the log), shutdown in reverse. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "bridge.h"
#include "component.h"
#include "conf.h"
#include "config.h"
#include "disco.h"
#include "http.h"
#include "httpd.h"
#include "log.h"
#include "loop.h"
#include "media.h"
#include "metrics.h"
#include "metrics_export.h"
#include "net.h"
#include "notify.h"
#include "queue.h"
#include "roster.h"
#include "store.h"
#include "util.h"

#define FERRY_DEFAULT_CONF SYSCONFDIR "/ferry/ferry.conf"
#define FERRY_HEALTH_BODY_MAX 0
#define FERRY_DRAIN_MS 800 /* bound on waiting for in-flight requests */
/* Sends are not cut short (a send cut short is sent again after the
 * restart and may reach the contact twice): waited for this long. */
#define FERRY_DRAIN_SENDS_MS 3000
#define FERRY_DRAIN_POLL_MS 20

static struct {
    const char *conf_path;
    int debug;
    struct conf *conf;
    struct store *store;
    struct event *sig_term, *sig_int, *sig_hup;
    int stopping;
    struct event *drain_ev;
    struct event *watchdog_ev;
    long long drain_deadline;
    long long drain_sends_deadline;
} ferry;

static void usage(void)
{
    fprintf(stderr,
            "usage: ferry [-dnV] [-c file]\n"
            "  -c file  configuration file (default " FERRY_DEFAULT_CONF ")\n"
            "  -d       stay in the foreground, debug log to stderr\n"
            "  -n       check the configuration and exit\n"
            "  -V       print the version and exit\n");
    exit(2);
}

/* util.c's end on exhaustion, through the log. */
static void ferry_die(const char *msg)
{
    fatal("%s", msg);
}

/* GET /health: whether the component is connected and the store answers. */
static void ferry_health(const struct httpd_request *req,
                         struct httpd_response *res, void *arg)
{
    int conn = component_connected();
    int db = store_healthy(ferry.store);
    char *body;

    body = xasprintf("{\"status\":\"%s\",\"component\":\"%s\","
                     "\"database\":\"%s\",\"reconnects\":%lu}\n",
                     conn && db ? "ok" : "degraded",
                     conn ? "connected" : "disconnected", db ? "ok" : "error",
                     component_reconnects());
    res->status = conn && db ? 200 : 503;
    res->content_type = "application/json";
    res->body = body;
    res->len = strlen(body);
}

static void ferry_stopped(void *arg)
{
    loop_stop();
}

/* Waits (a bounded time) for requests in flight to the network, then says
 * goodbye on XMPP and closes the stream. */
static void ferry_drain(evutil_socket_t fd, short what, void *arg)
{
    long long now = now_ms();

    if ((http_inflight() > 0 && now < ferry.drain_deadline) ||
        (http_inflight_no_repeat() > 0 && now < ferry.drain_sends_deadline)) {
        loop_timer_start(ferry.drain_ev, FERRY_DRAIN_POLL_MS);
        return;
    }
    if (http_inflight_no_repeat() > 0)
        log_warn("%d message(s) to the network got no answer before the "
                 "stop: they are sent once more after the restart, and "
                 "their users told they may arrive twice",
                 http_inflight_no_repeat());
    if (http_inflight() > http_inflight_no_repeat())
        log_warn("%d request(s) to the network still in flight: they are "
                 "made again after the restart",
                 http_inflight() - http_inflight_no_repeat());
    store_txn_commit(ferry.store);
    bridge_stop();
    component_stop(ferry_stopped, NULL);
}

/* TERM/INT: no new webhooks (503) or sends; drain; close; stop. */
static void ferry_on_term(evutil_socket_t sig, short what, void *arg)
{
    if (ferry.stopping) {
        log_warn("second signal: stopping now");
        loop_stop();
        return;
    }
    ferry.stopping = 1;
    log_info("signal %d: shutting down", (int)sig);
    notify_stopping();
    notify_status("draining and stopping");
    httpd_set_draining(1);
    queue_hold();
    ferry.drain_deadline = now_ms() + FERRY_DRAIN_MS;
    ferry.drain_sends_deadline = now_ms() + FERRY_DRAIN_SENDS_MS;
    ferry.drain_ev = event_new(loop_base(), -1, 0, ferry_drain, NULL);
    event_active(ferry.drain_ev, EV_TIMEOUT, 0);
}

/* Warns when the config file holds a secret others may read. */
static void ferry_check_mode(const struct conf *c)
{
    struct stat sb;

    if (c->secret_in_file == NULL || stat(c->path, &sb) < 0 ||
        (sb.st_mode & (S_IRGRP | S_IROTH)) == 0)
        return;
    log_warn("%s holds %s and is readable by others (mode %03o): chmod 600 "
             "it, or move the secret to a *_file key or a FERRY_* "
             "environment variable",
             c->path, c->secret_in_file, (unsigned)(sb.st_mode & 0777));
}

static int ferry_open_log(const struct conf *c)
{
    int level = log_level_parse(c->log_level);

    if (ferry.debug)
        return log_open("stderr", LOG_LEVEL_DEBUG);
    return log_open(c->log_destination, (enum log_level)level);
}

/* Loads the config anew; its problems go to the log (the log may be a
 * file or syslog, not the terminal), one line each. */
static struct conf *ferry_reload_conf(void)
{
    char *text = NULL, *line, *nl;
    size_t len = 0;
    FILE *errs = open_memstream(&text, &len);
    struct conf *c;

    if (errs == NULL)
        return conf_load(ferry.conf_path, stderr);
    c = conf_load(ferry.conf_path, errs);
    fclose(errs);
    for (line = text; line != NULL && *line != '\0'; line = nl) {
        nl = strchr(line, '\n');
        if (nl != NULL)
            *nl++ = '\0';
        log_error("SIGHUP: %s", line);
    }
    free(text);
    return c;
}

/* SIGHUP: re-read the config; keep the old one if the new one is bad. */
static void ferry_on_hup(evutil_socket_t sig, short what, void *arg)
{
    struct conf *c;

    log_info("SIGHUP: reloading %s", ferry.conf_path);
    notify_reloading();
    c = ferry_reload_conf();
    if (c == NULL) {
        log_error("SIGHUP: %s has errors; keeping the running configuration",
                  ferry.conf_path);
        log_reopen();
        notify_ready();
        notify_status("reload failed: %s has errors, running configuration "
                      "kept",
                      ferry.conf_path);
        return;
    }
    if (strcmp(c->store_path, ferry.conf->store_path) != 0 ||
        strcmp(c->http_listen, ferry.conf->http_listen) != 0)
        log_warn("SIGHUP: store.path and http.listen apply after a restart");
    conf_free(ferry.conf);
    ferry.conf = c;
    ferry_open_log(c);
    ferry_check_mode(c);
    component_reconfigure(c);
    disco_reconfigure(c);
    net_configure(c);
    roster_reconfigure(c);
    media_reconfigure(c);
    bridge_reconfigure(c);
    log_info("SIGHUP: configuration reloaded");
    notify_ready();
    notify_status("configuration reloaded");
}

static void ferry_signals(void)
{
    struct event_base *b = loop_base();

    signal(SIGPIPE, SIG_IGN);
    ferry.sig_term = evsignal_new(b, SIGTERM, ferry_on_term, NULL);
    ferry.sig_int = evsignal_new(b, SIGINT, ferry_on_term, NULL);
    ferry.sig_hup = evsignal_new(b, SIGHUP, ferry_on_hup, NULL);
    event_add(ferry.sig_term, NULL);
    event_add(ferry.sig_int, NULL);
    event_add(ferry.sig_hup, NULL);
}

/* The systemd watchdog: alive as long as the loop turns. */
static void ferry_watchdog(evutil_socket_t fd, short what, void *arg)
{
    notify_watchdog();
}

static void ferry_watchdog_start(void)
{
    uint64_t usec = notify_watchdog_usec() / 2;
    struct timeval tv;

    if (usec == 0)
        return;
    tv.tv_sec = (time_t)(usec / 1000000);
    tv.tv_usec = (suseconds_t)(usec % 1000000);
    ferry.watchdog_ev =
        event_new(loop_base(), -1, EV_PERSIST, ferry_watchdog, NULL);
    event_add(ferry.watchdog_ev, &tv);
}

/* Start-up in layer order (docs/design.md): the store and the loop, the
 * two sides' modules, then the bridge that wires them together. READY=1
 * once webhooks are taken and stored: an XMPP server that is down shows in
 * STATUS= and /health, not as a failed start. */
static void ferry_start(void)
{
    struct net_set set;
    struct httpd_limits lim;

    ferry.store =
        store_open(ferry.conf->store_path, ferry.conf->store_synchronous);
    if (ferry.store == NULL)
        fatal("cannot open the store %s", ferry.conf->store_path);
    metrics_init();
    loop_init();
    ferry_signals();
    http_init();
    if (net_open(ferry.conf, &set) < 0)
        fatal("cannot start the network back ends");
    component_init(ferry.conf);
    disco_init(ferry.conf);
    roster_init(ferry.store);
    roster_reconfigure(ferry.conf);
    if (media_init(ferry.conf, ferry.store) < 0)
        fatal("cannot start the media store");
    if (bridge_init(ferry.store, ferry.conf, &set) < 0)
        fatal("cannot start the bridge");
    httpd_route("/health", ferry_health, NULL, FERRY_HEALTH_BODY_MAX);
    metrics_export_init(ferry.store);
    lim.conn_per_ip = (unsigned)ferry.conf->http_max_conn_per_ip;
    lim.request_timeout = (unsigned)ferry.conf->http_request_timeout;
    lim.max_buffered = (size_t)ferry.conf->http_max_buffered;
    if (httpd_start(ferry.conf->http_listen, &lim) < 0)
        fatal("cannot start the HTTP listener on %s", ferry.conf->http_listen);
    component_start();
    ferry_watchdog_start();
    log_info("ferry %s started", PACKAGE_VERSION);
    notify_ready();
    notify_status("started, connecting to %s:%lld", ferry.conf->component_host,
                  ferry.conf->component_port);
}

static void ferry_shutdown(void)
{
    httpd_stop();
    http_cancel_all(); /* their rows stay queued: sent after a restart */
    store_txn_commit(ferry.store);
    store_txn_settle(ferry.store); /* before the loop goes */
    bridge_free();
    metrics_team_free();
    media_free();
    roster_free();
    http_free();
    component_free();
    disco_free();
    event_free(ferry.sig_term);
    event_free(ferry.sig_int);
    event_free(ferry.sig_hup);
    if (ferry.drain_ev != NULL)
        event_free(ferry.drain_ev);
    if (ferry.watchdog_ev != NULL)
        event_free(ferry.watchdog_ev);
    loop_free();
    store_close(ferry.store);
    log_info("ferry stopped");
    conf_free(ferry.conf);
    log_close();
}

int main(int argc, char **argv)
{
    struct net_set set;
    int ch, check = 0, ok;

    util_set_die(ferry_die);
    ferry.conf_path = FERRY_DEFAULT_CONF;
    while ((ch = getopt(argc, argv, "c:dnV")) != -1) {
        switch (ch) {
        case 'c':
            ferry.conf_path = optarg;
            break;
        case 'd':
            ferry.debug = 1;
            break;
        case 'n':
            check = 1;
            break;
        case 'V':
            printf("ferry %s\n", PACKAGE_VERSION);
            return 0;
        default:
            usage();
        }
    }
    if (optind != argc)
        usage();
    ferry.conf = conf_load(ferry.conf_path, stderr);
    if (check) {
        ok = ferry.conf != NULL && net_open(ferry.conf, &set) == 0;
        if (ok)
            printf("%s: configuration OK\n", ferry.conf_path);
        conf_free(ferry.conf);
        return ok ? 0 : 1;
    }
    if (ferry.conf == NULL)
        return 1;
    if (ferry_open_log(ferry.conf) < 0)
        return 1;
    ferry_check_mode(ferry.conf);
    ferry_start();
    loop_run();
    ferry_shutdown();
    return 0;
}
