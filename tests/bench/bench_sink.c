/* SPDX-License-Identifier: MIT */
/* bench_sink: a Cloud API that answers at once. It validates credentials
 * (GET /{version}/{pnid}), accepts sends (POST /{version}/{pnid}/messages)
 * with a fresh wamid, measures each message's latency from the stamp in
 * its text, and can answer every send with a signed "delivered" status
 * webhook, batched. Under /api/ it is also a WAHA server whose sessions
 * are all WORKING: POST /api/sendText answers 201 with a NOWEB-style
 * message (the id ferry chose, as key.id), and every other call a 2xx.
 *
 *   bench_sink -p port [-W webhook_url -s app_secret [-b batch]]
 *              [-K waha_api_key]
 *
 * Prints READY <port>. Control: GET /_stats (JSON), POST /_reset,
 * POST /_statuses/on, POST /_statuses/off. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "bench_util.h"

#define BS_BODY_MAX (64 * 1024)
#define BS_STATUS_QUEUE 200000
#define BS_FLUSH_NS (5LL * 1000000LL) /* a partial batch waits at most 5 ms */

struct bs_conn {
    char *body;
    size_t len;
    int too_big;
};

struct bs_status {
    char pnid[24];
    char wamid[64];
    char to[24];
};

static struct {
    struct MHD_Daemon *d;
    char run[24];
    long long ids, sends, reads, checks, bad, waha_other;
    const char *waha_key; /* X-Api-Key WAHA calls must carry; NULL: any */
    struct bench_lat lat;
    /* status webhooks, written by the MHD thread, read by the poster */
    const char *url, *secret;
    int batch, statuses_on;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct bs_status *q;
    size_t qhead, qlen;
    long long posted, post_errors, dropped;
} bs = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static enum MHD_Result bs_reply(struct MHD_Connection *c, unsigned status,
                                const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc;

    MHD_add_response_header(r, "Content-Type", "application/json");
    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Copies the JSON string member "key":"..." of a flat body into out. */
static int bs_json_str(const char *body, const char *key, char *out,
                       size_t outlen)
{
    char pat[64];
    const char *p, *e;

    snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    p = strstr(body, pat);
    if (p == NULL)
        return -1;
    p += strlen(pat);
    e = strchr(p, '"');
    if (e == NULL || (size_t)(e - p) >= outlen)
        return -1;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return 0;
}

static void bs_queue_status(const char *pnid, const char *wamid, const char *to)
{
    struct bs_status *s;

    pthread_mutex_lock(&bs.mu);
    if (bs.qlen == BS_STATUS_QUEUE) {
        bs.dropped++;
    } else {
        s = &bs.q[(bs.qhead + bs.qlen++) % BS_STATUS_QUEUE];
        snprintf(s->pnid, sizeof(s->pnid), "%s", pnid);
        snprintf(s->wamid, sizeof(s->wamid), "%s", wamid);
        snprintf(s->to, sizeof(s->to), "%s", to[0] == '+' ? to + 1 : to);
        pthread_cond_signal(&bs.cv);
    }
    pthread_mutex_unlock(&bs.mu);
}

/* POST /{version}/{pnid}/messages */
static enum MHD_Result bs_send(struct MHD_Connection *c, const char *pnid,
                               const char *body)
{
    char to[24], wamid[64], out[512];
    int64_t now = bench_now_ns();

    if (strstr(body, "\"status\":\"read\"") != NULL) {
        bs.reads++;
        return bs_reply(c, 200, "{\"success\":true}");
    }
    if (bs_json_str(body, "to", to, sizeof(to)) < 0) {
        bs.bad++;
        return bs_reply(c, 400,
                        "{\"error\":{\"message\":\"(#100) Invalid parameter\","
                        "\"type\":\"OAuthException\",\"code\":100}}");
    }
    bs.sends++;
    bench_lat_add(&bs.lat, bench_stamp_parse(body), now);
    snprintf(wamid, sizeof(wamid), "wamid.%s.%lld", bs.run, ++bs.ids);
    snprintf(out, sizeof(out),
             "{\"messaging_product\":\"whatsapp\",\"contacts\":[{\"input\":"
             "\"%s\",\"wa_id\":\"%s\"}],\"messages\":[{\"id\":\"%s\"}]}",
             to, to[0] == '+' ? to + 1 : to, wamid);
    if (bs.url != NULL && bs.statuses_on)
        bs_queue_status(pnid, wamid, to);
    return bs_reply(c, 200, out);
}

/* ---- WAHA ---- */

/* POST /api/sendText: 201 and the message as NOWEB and GOWS give it, its
 * key.id the "id" ferry pre-generated (or a fresh one). */
static enum MHD_Result bs_waha_send(struct MHD_Connection *c, const char *body)
{
    char chat[64], id[64], out[512];
    int64_t now = bench_now_ns();
    size_t digits;

    if (bs_json_str(body, "chatId", chat, sizeof(chat)) < 0) {
        bs.bad++;
        return bs_reply(c, 400,
                        "{\"statusCode\":400,\"message\":[\"chatId must be "
                        "a string\"],\"error\":\"Bad Request\"}");
    }
    if (bs_json_str(body, "id", id, sizeof(id)) < 0)
        snprintf(id, sizeof(id), "3EB0%s%lld", bs.run, ++bs.ids);
    bs.sends++;
    bench_lat_add(&bs.lat, bench_stamp_parse(body), now);
    digits = strspn(chat, "0123456789");
    snprintf(out, sizeof(out),
             "{\"key\":{\"remoteJid\":\"%.*s@s.whatsapp.net\",\"fromMe\":"
             "true,\"id\":\"%s\"},\"message\":{\"extendedTextMessage\":{"
             "\"text\":\"\"}},\"messageTimestamp\":\"%lld\",\"status\":"
             "\"PENDING\"}",
             (int)digits, chat, id, (long long)time(NULL));
    return bs_reply(c, 201, out);
}

/* GET /api/sessions/{s}: a SessionInfo, WORKING. */
static enum MHD_Result bs_waha_session(struct MHD_Connection *c,
                                       const char *name)
{
    char out[512];

    snprintf(out, sizeof(out),
             "{\"name\":\"%.64s\",\"status\":\"WORKING\",\"config\":{},"
             "\"me\":{\"id\":\"15550100000@c.us\",\"pushName\":"
             "\"Bench\"},\"engine\":{\"engine\":\"NOWEB\"}}",
             name);
    return bs_reply(c, 200, out);
}

/* Every other call: the answer of its kind, 201 for a POST (NestJS). */
static enum MHD_Result bs_waha_other(struct MHD_Connection *c, const char *url,
                                     const char *method)
{
    bs.waha_other++;
    if (strcmp(method, "GET") == 0) {
        if (strncmp(url, "/api/contacts/profile-picture", 29) == 0)
            return bs_reply(c, 200, "{\"profilePictureURL\":null}");
        if (strstr(url, "/groups") != NULL || strstr(url, "/lids") != NULL)
            return bs_reply(c, 200, "[]");
        return bs_reply(c, 200, "{}");
    }
    return bs_reply(c, strcmp(method, "POST") == 0 ? 201 : 200, "{}");
}

/* Routes a request under /api/ (the API key checked first, when set). */
static enum MHD_Result bs_waha(struct MHD_Connection *c, const char *url,
                               const char *method, const char *body)
{
    const char *key =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Api-Key");
    char name[80];

    if (bs.waha_key != NULL && (key == NULL || strcmp(key, bs.waha_key) != 0)) {
        bs.bad++;
        return bs_reply(c, 401,
                        "{\"message\":\"Unauthorized\",\"statusCode\":401}");
    }
    if (strcmp(url, "/api/sendText") == 0 && strcmp(method, "POST") == 0)
        return bs_waha_send(c, body);
    if (strcmp(method, "GET") == 0 &&
        sscanf(url, "/api/sessions/%79[^/?]", name) == 1 &&
        strlen(url) == 14 + strlen(name))
        return bs_waha_session(c, name);
    return bs_waha_other(c, url, method);
}

static enum MHD_Result bs_stats(struct MHD_Connection *c)
{
    char lat[512], out[1024];

    bench_lat_json(&bs.lat, bs.sends, lat, sizeof(lat));
    pthread_mutex_lock(&bs.mu);
    snprintf(out, sizeof(out),
             "{%s,\"reads\":%lld,\"checks\":%lld,\"bad\":%lld,"
             "\"webhooks\":%lld,\"webhook_errors\":%lld,\"dropped\":%lld,"
             "\"status_queue\":%zu,\"waha_other\":%lld}",
             lat, bs.reads, bs.checks, bs.bad, bs.posted, bs.post_errors,
             bs.dropped, bs.qlen, bs.waha_other);
    pthread_mutex_unlock(&bs.mu);
    return bs_reply(c, 200, out);
}

static enum MHD_Result bs_control(struct MHD_Connection *c, const char *url)
{
    if (strcmp(url, "/_stats") == 0)
        return bs_stats(c);
    if (strcmp(url, "/_reset") == 0) {
        bench_lat_reset(&bs.lat);
        bs.sends = bs.reads = bs.bad = bs.waha_other = 0;
        pthread_mutex_lock(&bs.mu);
        bs.posted = bs.post_errors = bs.dropped = 0;
        pthread_mutex_unlock(&bs.mu);
    } else if (strcmp(url, "/_statuses/on") == 0) {
        bs.statuses_on = 1;
    } else if (strcmp(url, "/_statuses/off") == 0) {
        bs.statuses_on = 0;
    } else {
        return bs_reply(c, 404, "{}");
    }
    return bs_reply(c, 200, "{}");
}

/* Routes a complete request. */
static enum MHD_Result bs_route(struct MHD_Connection *c, const char *url,
                                const char *method, const char *body)
{
    char ver[32], pnid[32], rest[32];
    int n;

    if (strncmp(url, "/_", 2) == 0)
        return bs_control(c, url);
    if (strncmp(url, "/api/", 5) == 0)
        return bs_waha(c, url, method, body);
    n = sscanf(url, "/%31[^/]/%31[^/]/%31s", ver, pnid, rest);
    if (n == 3 && strcmp(rest, "messages") == 0 && strcmp(method, "POST") == 0)
        return bs_send(c, pnid, body);
    if (n == 2 && strcmp(method, "GET") == 0) {
        char out[256];

        bs.checks++;
        snprintf(out, sizeof(out),
                 "{\"verified_name\":\"Bench\",\"display_phone_number\":"
                 "\"+1 555-%s\",\"quality_rating\":\"GREEN\",\"id\":\"%s\"}",
                 pnid + (strlen(pnid) > 7 ? strlen(pnid) - 7 : 0), pnid);
        return bs_reply(c, 200, out);
    }
    return bs_reply(c, 404,
                    "{\"error\":{\"message\":\"Unknown path\",\"code\":100}}");
}

static enum MHD_Result bs_access(void *cls, struct MHD_Connection *c,
                                 const char *url, const char *method,
                                 const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    struct bs_conn *bc = *con_cls;

    if (bc == NULL) {
        bc = calloc(1, sizeof(*bc));
        if (bc == NULL)
            return MHD_NO;
        *con_cls = bc;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (bc->len + *upload_size > BS_BODY_MAX) {
            bc->too_big = 1;
        } else {
            bc->body = realloc(bc->body, bc->len + *upload_size + 1);
            if (bc->body == NULL)
                return MHD_NO;
            memcpy(bc->body + bc->len, upload, *upload_size);
            bc->len += *upload_size;
            bc->body[bc->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (bc->too_big)
        return bs_reply(c, 413, "{}");
    return bs_route(c, url, method, bc->body ? bc->body : "");
}

static void bs_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct bs_conn *bc = *con_cls;

    if (bc != NULL) {
        free(bc->body);
        free(bc);
    }
    *con_cls = NULL;
}

/* ---- status webhooks ---- */

static void bs_sign(const char *body, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0, i;

    HMAC(EVP_sha256(), bs.secret, (int)strlen(bs.secret),
         (const unsigned char *)body, len, mac, &maclen);
    memcpy(out, "X-Hub-Signature-256: sha256=", 28);
    for (i = 0; i < maclen; i++) {
        out[28 + 2 * i] = hex[mac[i] >> 4];
        out[28 + 2 * i + 1] = hex[mac[i] & 15];
    }
    out[28 + 2 * maclen] = '\0';
}

/* One webhook with the statuses in s[0..n), one entry per status. */
static char *bs_status_body(const struct bs_status *s, size_t n, size_t *len)
{
    size_t cap = 256 + n * 512, o = 0, i;
    char *b = malloc(cap);
    long long ts = (long long)time(NULL);

    if (b == NULL)
        bench_die("out of memory");
    o += (size_t)snprintf(b + o, cap - o,
                          "{\"object\":\"whatsapp_business_account\","
                          "\"entry\":[");
    for (i = 0; i < n; i++)
        o += (size_t)snprintf(
            b + o, cap - o,
            "%s{\"id\":\"WABA%s\",\"changes\":[{\"value\":{"
            "\"messaging_product\":\"whatsapp\",\"metadata\":{"
            "\"display_phone_number\":\"15550100\",\"phone_number_id\":"
            "\"%s\"},\"statuses\":[{\"id\":\"%s\",\"status\":\"delivered\","
            "\"timestamp\":\"%lld\",\"recipient_id\":\"%s\"}]},"
            "\"field\":\"messages\"}]}",
            i ? "," : "", s[i].pnid, s[i].pnid, s[i].wamid, ts, s[i].to);
    o += (size_t)snprintf(b + o, cap - o, "]}");
    *len = o;
    return b;
}

static size_t bs_discard(char *p, size_t size, size_t n, void *arg)
{
    return size * n;
}

static void bs_post(CURL *e, const struct bs_status *s, size_t n)
{
    char sig[128];
    size_t len;
    char *body = bs_status_body(s, n, &len);
    struct curl_slist *h = NULL;
    long code = 0;
    CURLcode rc;

    bs_sign(body, len, sig);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, sig);
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(e, CURLOPT_URL, bs.url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, bs_discard);
    rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    pthread_mutex_lock(&bs.mu);
    if (rc == CURLE_OK && code == 200)
        bs.posted++;
    else
        bs.post_errors++;
    pthread_mutex_unlock(&bs.mu);
    curl_slist_free_all(h);
    free(body);
}

static void *bs_poster(void *arg)
{
    CURL *e = curl_easy_init();
    struct bs_status *batch = calloc((size_t)bs.batch, sizeof(*batch));
    size_t n, i;
    struct timespec ts;

    if (e == NULL || batch == NULL)
        bench_die("bench_sink: cannot start the poster");
    for (;;) {
        pthread_mutex_lock(&bs.mu);
        while (bs.qlen == 0)
            pthread_cond_wait(&bs.cv, &bs.mu);
        if (bs.qlen < (size_t)bs.batch) {
            /* let a batch fill up a little */
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += BS_FLUSH_NS;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&bs.cv, &bs.mu, &ts);
        }
        n = bs.qlen < (size_t)bs.batch ? bs.qlen : (size_t)bs.batch;
        for (i = 0; i < n; i++)
            batch[i] = bs.q[(bs.qhead + i) % BS_STATUS_QUEUE];
        bs.qhead = (bs.qhead + n) % BS_STATUS_QUEUE;
        bs.qlen -= n;
        pthread_mutex_unlock(&bs.mu);
        if (n > 0)
            bs_post(e, batch, n);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    unsigned short port = 0;
    const union MHD_DaemonInfo *info;
    pthread_t poster;
    sigset_t set;
    int ch, sig;

    bs.batch = 1;
    while ((ch = getopt(argc, argv, "p:W:s:b:K:")) != -1) {
        if (ch == 'p')
            port = (unsigned short)bench_num("-p", optarg, 0, 65535);
        else if (ch == 'W')
            bs.url = optarg;
        else if (ch == 's')
            bs.secret = optarg;
        else if (ch == 'b')
            bs.batch = (int)bench_num("-b", optarg, 1, 1000);
        else if (ch == 'K')
            bs.waha_key = optarg;
        else
            bench_die("usage: bench_sink -p port [-W url -s secret -b n] "
                      "[-K waha_api_key]");
    }
    if (bs.url != NULL && bs.secret == NULL)
        bench_die("bench_sink: -W needs -s");
    snprintf(bs.run, sizeof(bs.run), "B%d%lld", (int)getpid(),
             (long long)(bench_now_ns() / 1000000));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (bs.url != NULL) {
        bs.q = calloc(BS_STATUS_QUEUE, sizeof(*bs.q));
        if (bs.q == NULL || pthread_create(&poster, NULL, bs_poster, NULL) != 0)
            bench_die("bench_sink: cannot start the poster");
    }
    bs.d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG,
        port, NULL, NULL, bs_access, NULL, MHD_OPTION_NOTIFY_COMPLETED,
        bs_completed, NULL, MHD_OPTION_CONNECTION_LIMIT, 512U,
        MHD_OPTION_CONNECTION_TIMEOUT, 60U, MHD_OPTION_END);
    if (bs.d == NULL)
        bench_die("bench_sink: cannot listen on port %u", port);
    info = MHD_get_daemon_info(bs.d, MHD_DAEMON_INFO_BIND_PORT);
    bench_say("READY %u", info ? info->port : port);
    sigwait(&set, &sig);
    MHD_stop_daemon(bs.d);
    return 0;
}
