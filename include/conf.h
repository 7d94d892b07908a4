/* SPDX-License-Identifier: MIT */
/* The configuration: one table of keys (name, type, default, bounds, doc)
 * read with inih, with FERRY_<SECTION>_<KEY> environment overrides and
 * <key>_file for secrets. */
#ifndef FERRY_CONF_H
#define FERRY_CONF_H

#include <stddef.h>
#include <stdio.h>

enum conf_type {
    CONF_STRING,
    CONF_SECRET, /* a string that may also come from <key>_file */
    CONF_INT,
    CONF_ENUM, /* one of the '|'-separated words in choices */
    CONF_LIST, /* space-separated words */
};

struct conf_key {
    const char *section;
    const char *name;
    enum conf_type type;
    const char *def;     /* default as written in conf/ferry.conf */
    long long min, max;  /* CONF_INT bounds; for strings: max length */
    const char *choices; /* CONF_ENUM: "normal|full" */
    const char *doc;     /* one line */
    size_t offset;       /* into struct conf */
    int required;        /* 1: must be set (no usable default) */
};

struct conf {
    char *path;
    /* "section.key" of a secret written in the file itself, or NULL */
    const char *secret_in_file;
    /* [component] */
    char *component_jid;
    char *component_secret;
    char *component_host;
    long long component_port;
    /* [gateway] */
    char *gateway_name;
    char *gateway_allowed_domains;
    char *gateway_admins;
    /* [store] */
    char *store_path;
    char *store_synchronous;
    /* [http] */
    char *http_listen;
    char *http_public_url;
    long long http_max_conn_per_ip;
    long long http_request_timeout;
    long long http_max_buffered;
    /* [network] */
    char *network_backend;
    char *network_backends;
    /* [cloudapi] */
    char *cloudapi_graph_url;
    char *cloudapi_api_version;
    char *cloudapi_app_secret;
    char *cloudapi_verify_token;
    long long cloudapi_throughput;
    /* [waha] */
    char *waha_url;
    char *waha_api_key;
    char *waha_webhook_hmac_key;
    char *waha_session;
    long long waha_idle_restart;
    char *waha_files;
    /* [media] */
    char *media_upload_service;
    long long media_max_size;
    long long media_expiry;
    char *media_trusted_hosts;
    /* [team] */
    char *team_autoclaim;
    long long team_claim_idle;
    long long team_history_days;
    /* [groups] */
    long long groups_history_days;
    char *groups_mention_notice;
    /* [log] */
    char *log_level;
    char *log_destination;
};

/* The key table and its length. */
const struct conf_key *conf_keys(size_t *n);
/* Reads path. Every problem is printed to errs as "FILE:LINE: message"
 * (LINE 0 when it belongs to no line, e.g. a missing required key or a bad
 * environment override). Returns NULL if there was any problem. */
struct conf *conf_load(const char *path, FILE *errs);
void conf_free(struct conf *c);
/* 1 when word is in the space-separated list. */
int conf_list_has(const char *list, const char *word);
/* 1 when domain is in the space-separated list, compared as domains are
 * (ASCII case-insensitively). */
int conf_list_has_domain(const char *list, const char *domain);

#endif
