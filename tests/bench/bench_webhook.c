/* SPDX-License-Identifier: MIT */
/* bench_webhook: plays Meta's side of the Cloud API webhooks. It posts
 * signed (X-Hub-Signature-256) webhooks carrying stamped text messages,
 * `batch` messages per POST, at a set rate of messages per second or as
 * fast as `concurrency` parallel POSTs allow. With -W it plays a WAHA
 * server instead: one `message` event per POST, signed with X-Webhook-Hmac
 * (HMAC-SHA512 of the raw body, hex), -s being the HMAC key.
 *
 *   bench_webhook -u url -s app_secret -n messages -N pnid_base -k accounts
 *                 [-b batch] [-r rate] [-c senders] [-C concurrency]
 *                 [-i run_id]
 *   bench_webhook -W session_prefix -u url -s hmac_key -n messages
 *                 -k accounts [-r rate] [-c senders] [-C concurrency]
 *                 [-i run_id]
 *
 * POST j goes to account pnid_base + (j mod accounts), or to the WAHA
 * session <session_prefix><NNNN> (NNNN = j mod accounts); its senders are
 * +1 555 000 00NN (NN < senders). Prints DONE {...} with the POST round
 * trip times and the HTTP statuses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "bench_util.h"

#define BW_CONTACT_BASE 15550000000LL
#define BW_MAX_CONCURRENCY 64
#define BW_WAHA_ME_BASE 15551000000LL /* a session's own number */
#define BW_WAHA_VERSION "2026.7.1"

struct bw_post {
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    int64_t started;
};

static struct {
    const char *url, *secret, *run;
    const char *waha; /* the WAHA session prefix; NULL: the Cloud API */
    long long n, pnid_base, posts, started, done;
    int batch, accounts, senders, concurrency;
    double rate;
    long long ok, failed, status_other;
    struct bench_lat lat;
} bw;

static size_t bw_discard(char *p, size_t size, size_t n, void *arg)
{
    return size * n;
}

/* The body of POST j: one entry, one change, its batch of messages. */
static char *bw_body(long long j, size_t *len)
{
    long long first = j * bw.batch, i, count = bw.n - first;
    long long pnid = bw.pnid_base + j % bw.accounts;
    size_t cap, o = 0;
    char *b;
    int s;

    if (count > bw.batch)
        count = bw.batch;
    cap = 512 + (size_t)count * 256 + (size_t)bw.senders * 96;
    b = malloc(cap);
    if (b == NULL)
        bench_die("out of memory");
    o += (size_t)snprintf(
        b + o, cap - o,
        "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":"
        "\"WABA%lld\",\"changes\":[{\"value\":{\"messaging_product\":"
        "\"whatsapp\",\"metadata\":{\"display_phone_number\":\"15550100\","
        "\"phone_number_id\":\"%lld\"},\"contacts\":[",
        pnid, pnid);
    for (s = 0; s < bw.senders && s < count; s++)
        o += (size_t)snprintf(b + o, cap - o,
                              "%s{\"profile\":{\"name\":\"Sender %d\"},"
                              "\"wa_id\":\"%lld\"}",
                              s ? "," : "", s, BW_CONTACT_BASE + s);
    o += (size_t)snprintf(b + o, cap - o, "],\"messages\":[");
    for (i = 0; i < count; i++)
        o += (size_t)snprintf(
            b + o, cap - o,
            "%s{\"from\":\"%lld\",\"id\":\"wamid.in.%s.%lld\",\"timestamp\":"
            "\"%lld\",\"type\":\"text\",\"text\":{\"body\":\"bench %lld "
            "t=%lld\"}}",
            i ? "," : "", BW_CONTACT_BASE + (first + i) % bw.senders, bw.run,
            first + i, (long long)time(NULL), first + i,
            (long long)bench_now_ns());
    o += (size_t)snprintf(b + o, cap - o, "]},\"field\":\"messages\"}]}]}");
    *len = o;
    return b;
}

/* The body of POST j to WAHA: one `message` event, as WAHA's 2025+
 * envelope carries it (ids unique to the run). */
static char *bw_waha_body(long long j, size_t *len)
{
    long long from = BW_CONTACT_BASE + j % bw.senders;
    long long acct = j % bw.accounts;
    long long ms = (long long)time(NULL) * 1000;
    size_t cap = 2048 + strlen(bw.waha) + 3 * strlen(bw.run);
    char *b = malloc(cap);
    int n;

    if (b == NULL)
        bench_die("out of memory");
    n = snprintf(
        b, cap,
        "{\"id\":\"evt_%s_%lld\",\"timestamp\":%lld,\"event\":\"message\","
        "\"session\":\"%s%04lld\",\"metadata\":{},\"me\":{\"id\":"
        "\"%lld@c.us\",\"pushName\":\"Bench\"},\"payload\":{\"id\":"
        "\"false_%lld@c.us_3EB0%sA%lld\",\"timestamp\":%lld,\"from\":"
        "\"%lld@c.us\",\"fromMe\":false,\"source\":\"app\",\"to\":"
        "\"%lld@c.us\",\"participant\":null,\"body\":\"bench %lld "
        "t=%lld\",\"hasMedia\":false,\"media\":null,\"ack\":1,"
        "\"ackName\":\"SERVER\",\"location\":null,\"vCards\":[],"
        "\"replyTo\":null,\"_data\":{\"notifyName\":\"Sender %lld\"}},"
        "\"engine\":\"NOWEB\",\"environment\":{\"version\":"
        "\"" BW_WAHA_VERSION "\",\"engine\":\"NOWEB\",\"tier\":\"CORE\","
        "\"browser\":null}}",
        bw.run, j, ms, bw.waha, acct, BW_WAHA_ME_BASE + acct, from, bw.run, j,
        ms / 1000, from, BW_WAHA_ME_BASE + acct, j, (long long)bench_now_ns(),
        from - BW_CONTACT_BASE);
    if (n < 0 || (size_t)n >= cap)
        bench_die("bench_webhook: a WAHA body too long");
    *len = (size_t)n;
    return b;
}

/* Lower-case hex of the HMAC (md) of body under bw.secret into out. */
static void bw_hmac_hex(const EVP_MD *md, const char *body, size_t len,
                        char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0, i;

    HMAC(md, bw.secret, (int)strlen(bw.secret), (const unsigned char *)body,
         len, mac, &maclen);
    for (i = 0; i < maclen; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[2 * maclen] = '\0';
}

/* WAHA's headers for POST j: the request id, the time, the signature. */
static struct curl_slist *bw_waha_headers(long long j, const char *body,
                                          size_t len)
{
    char line[300], mac[2 * EVP_MAX_MD_SIZE + 1];
    struct curl_slist *h = NULL;
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    bw_hmac_hex(EVP_sha512(), body, len, mac);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "User-Agent: WAHA/" BW_WAHA_VERSION);
    snprintf(line, sizeof(line), "X-Webhook-Request-Id: req_%s_%lld", bw.run,
             j);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof(line), "X-Webhook-Timestamp: %lld",
             (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof(line), "X-Webhook-Hmac: %s", mac);
    h = curl_slist_append(h, line);
    h = curl_slist_append(h, "X-Webhook-Hmac-Algorithm: sha512");
    h = curl_slist_append(h, "Expect:");
    return h;
}

static struct curl_slist *bw_headers(const char *body, size_t len)
{
    char sig[160] = "X-Hub-Signature-256: sha256=";
    struct curl_slist *h = NULL;

    bw_hmac_hex(EVP_sha256(), body, len, sig + strlen(sig));
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, sig);
    h = curl_slist_append(h, "Expect:");
    return h;
}

static void bw_start(CURLM *m, long long j)
{
    struct bw_post *p = calloc(1, sizeof(*p));
    size_t len;

    if (p == NULL)
        bench_die("out of memory");
    if (bw.waha != NULL) {
        p->body = bw_waha_body(j, &len);
        p->headers = bw_waha_headers(j, p->body, len);
    } else {
        p->body = bw_body(j, &len);
        p->headers = bw_headers(p->body, len);
    }
    p->easy = curl_easy_init();
    p->started = bench_now_ns();
    curl_easy_setopt(p->easy, CURLOPT_URL, bw.url);
    curl_easy_setopt(p->easy, CURLOPT_HTTPHEADER, p->headers);
    curl_easy_setopt(p->easy, CURLOPT_POSTFIELDS, p->body);
    curl_easy_setopt(p->easy, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(p->easy, CURLOPT_WRITEFUNCTION, bw_discard);
    curl_easy_setopt(p->easy, CURLOPT_PRIVATE, (char *)p);
    curl_easy_setopt(p->easy, CURLOPT_TIMEOUT, 60L);
    curl_multi_add_handle(m, p->easy);
    bw.started++;
}

static void bw_finish(CURLM *m, CURLMsg *msg)
{
    struct bw_post *p = NULL;
    long code = 0;

    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&p);
    curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
    if (msg->data.result != CURLE_OK) {
        if (bw.failed++ < 5)
            fprintf(stderr, "bench_webhook: %s\n",
                    curl_easy_strerror(msg->data.result));
    } else if (code >= 200 && code < 300) {
        bw.ok++;
    } else {
        if (bw.status_other++ < 5)
            fprintf(stderr, "bench_webhook: HTTP %ld\n", code);
    }
    bench_lat_add(&bw.lat, p->started, bench_now_ns());
    curl_multi_remove_handle(m, p->easy);
    curl_easy_cleanup(p->easy);
    curl_slist_free_all(p->headers);
    free(p->body);
    free(p);
    bw.done++;
}

static void bw_run(void)
{
    CURLM *m = curl_multi_init();
    int64_t t0 = bench_now_ns(), wait_ns;
    long long due;
    int running, left;
    CURLMsg *msg;

    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)bw.concurrency);
    while (bw.done < bw.posts) {
        due = bw.posts;
        if (bw.rate > 0)
            due = (long long)((double)(bench_now_ns() - t0) * bw.rate /
                              bw.batch / 1e9) +
                  1;
        while (bw.started < due && bw.started < bw.posts &&
               bw.started - bw.done < bw.concurrency)
            bw_start(m, bw.started);
        curl_multi_perform(m, &running);
        while ((msg = curl_multi_info_read(m, &left)) != NULL)
            if (msg->msg == CURLMSG_DONE)
                bw_finish(m, msg);
        wait_ns = 100000000;
        if (bw.rate > 0 && bw.started < bw.posts) {
            wait_ns = t0 +
                      (int64_t)((double)bw.started * bw.batch * 1e9 / bw.rate) -
                      bench_now_ns();
            if (wait_ns < 0)
                wait_ns = 0;
        }
        curl_multi_poll(m, NULL, 0, (int)(wait_ns / 1000000), NULL);
    }
    curl_multi_cleanup(m);
}

int main(int argc, char **argv)
{
    char lat[512];
    int ch;

    bw.batch = 1;
    bw.senders = 20;
    bw.concurrency = 4;
    bw.accounts = 1;
    bw.run = "0";
    while ((ch = getopt(argc, argv, "u:s:n:N:k:b:r:c:C:i:W:")) != -1) {
        if (ch == 'u')
            bw.url = optarg;
        else if (ch == 's')
            bw.secret = optarg;
        else if (ch == 'n')
            bw.n = bench_num("-n", optarg, 1, 100000000);
        else if (ch == 'N')
            bw.pnid_base = bench_num("-N", optarg, 1, 1LL << 60);
        else if (ch == 'k')
            bw.accounts = (int)bench_num("-k", optarg, 1, 100000);
        else if (ch == 'b')
            bw.batch = (int)bench_num("-b", optarg, 1, 1000);
        else if (ch == 'r')
            bw.rate = (double)bench_num("-r", optarg, 0, 10000000);
        else if (ch == 'c')
            bw.senders = (int)bench_num("-c", optarg, 1, 1000);
        else if (ch == 'C')
            bw.concurrency =
                (int)bench_num("-C", optarg, 1, BW_MAX_CONCURRENCY);
        else if (ch == 'i')
            bw.run = optarg;
        else if (ch == 'W')
            bw.waha = optarg;
        else
            bench_die("see the comment at the top of bench_webhook.c");
    }
    if (bw.waha != NULL && bw.batch != 1)
        bench_die("bench_webhook: WAHA posts one event per request (no -b)");
    if (bw.url == NULL || bw.secret == NULL || bw.n == 0 ||
        (bw.pnid_base == 0 && bw.waha == NULL))
        bench_die("usage: bench_webhook -u url -s secret -n messages "
                  "-N pnid_base [-k accounts] [-b batch] [-r rate] "
                  "[-c senders] [-C concurrency] [-i run_id] "
                  "[-W waha_session_prefix]");
    bw.posts = (bw.n + bw.batch - 1) / bw.batch;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    bw_run();
    bench_lat_json(&bw.lat, bw.done, lat, sizeof(lat));
    bench_say("DONE {%s,\"ok\":%lld,\"failed\":%lld,\"other_status\":%lld,"
              "\"messages\":%lld}",
              lat, bw.ok, bw.failed, bw.status_other, bw.n);
    return bw.ok == bw.posts ? 0 : 1;
}
