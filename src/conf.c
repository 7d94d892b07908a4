/* SPDX-License-Identifier: MIT */
/* The configuration: the one table of keys, reading the INI file with inih
 * (counting lines ourselves so every problem gets FILE:LINE), the
 * FERRY_<SECTION>_<KEY> environment overrides and <key>_file secrets; the
 * syntax of the few values that have one is conf_values.c's. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "conf.h"
#include "conf_int.h"
#include "log.h"
#include "util.h"

#define CONF_VALUE_MAX 4096 /* bytes in any value */
#define CONF_LINE_MAX 8192  /* bytes in a line of the file */
#define CONF_LABEL_MAX 128  /* "section.name_file" or an environment name */
#define CONF_SHOW_MAX 256   /* a value or name quoted in a message */

#define CONF_OFF(field) offsetof(struct conf, field)

/* For CONF_INT, min and max bound the number; for the other types they bound
 * the length of the value in bytes. */
static const struct conf_key conf_table[] = {
    {.section = "component",
     .name = "jid",
     .type = CONF_STRING,
     .def = "",
     .min = 1,
     .max = 1023,
     .doc = "the component's domain as configured in the XMPP server",
     .offset = CONF_OFF(component_jid),
     .required = 1},
    {.section = "component",
     .name = "secret",
     .type = CONF_SECRET,
     .def = "",
     .min = 1,
     .max = CONF_VALUE_MAX,
     .doc = "shared secret of the component connection (XEP-0114)",
     .offset = CONF_OFF(component_secret),
     .required = 1},
    {.section = "component",
     .name = "host",
     .type = CONF_STRING,
     .def = "127.0.0.1",
     .min = 1,
     .max = 255,
     .doc = "address of the XMPP server's component port",
     .offset = CONF_OFF(component_host)},
    {.section = "component",
     .name = "port",
     .type = CONF_INT,
     .def = "5347",
     .min = 1,
     .max = 65535,
     .doc = "the XMPP server's component port",
     .offset = CONF_OFF(component_port)},
    {.section = "gateway",
     .name = "name",
     .type = CONF_STRING,
     .def = "WhatsApp",
     .min = 1,
     .max = 255,
     .doc = "name of the gateway shown in service discovery",
     .offset = CONF_OFF(gateway_name)},
    {.section = "gateway",
     .name = "allowed_domains",
     .type = CONF_LIST,
     .def = "",
     .min = 1,
     .max = CONF_VALUE_MAX,
     .doc = "space-separated domains whose users may register",
     .offset = CONF_OFF(gateway_allowed_domains),
     .required = 1},
    {.section = "gateway",
     .name = "admins",
     .type = CONF_LIST,
     .def = "",
     .max = CONF_VALUE_MAX,
     .doc = "space-separated bare JIDs that may run admin commands",
     .offset = CONF_OFF(gateway_admins)},
    {.section = "store",
     .name = "path",
     .type = CONF_STRING,
     .def = "/var/lib/ferry/ferry.sqlite",
     .min = 1,
     .max = CONF_VALUE_MAX,
     .doc = "the SQLite database file",
     .offset = CONF_OFF(store_path)},
    {.section = "store",
     .name = "synchronous",
     .type = CONF_ENUM,
     .def = "full",
     .max = 0,
     .choices = "normal|full",
     .doc =
         "normal: safe against a killed process; full: safe against power loss",
     .offset = CONF_OFF(store_synchronous)},
    {.section = "http",
     .name = "listen",
     .type = CONF_STRING,
     .def = "127.0.0.1:8480",
     .min = 1,
     .max = 255,
     .doc = "HOST:PORT of the webhook, media and metrics server ([::1]:8480 "
            "for IPv6)",
     .offset = CONF_OFF(http_listen)},
    {.section = "http",
     .name = "public_url",
     .type = CONF_STRING,
     .def = "http://127.0.0.1:8480",
     .min = 1,
     .max = CONF_VALUE_MAX,
     .doc =
         "how the network and users reach http.listen (put TLS in front of it)",
     .offset = CONF_OFF(http_public_url)},
    {.section = "http",
     .name = "max_conn_per_ip",
     .type = CONF_INT,
     .def = "32",
     .max = 256,
     .doc = "open connections per client address (0: no limit)",
     .offset = CONF_OFF(http_max_conn_per_ip)},
    {.section = "http",
     .name = "request_timeout",
     .type = CONF_INT,
     .def = "30",
     .min = 1,
     .max = 3600,
     .doc = "seconds a client may take to send a whole request",
     .offset = CONF_OFF(http_request_timeout)},
    {.section = "http",
     .name = "max_buffered",
     .type = CONF_INT,
     .def = "33554432",
     .min = 4194304,
     .max = 4294967296LL,
     .doc = "bytes of request bodies held at once before any is verified",
     .offset = CONF_OFF(http_max_buffered)},
    {.section = "network",
     .name = "backend",
     .type = CONF_ENUM,
     .def = "cloudapi",
     .max = 0,
     .choices = CONF_BACKENDS,
     .doc = "cloudapi (WhatsApp Business Cloud API) or waha (WAHA server)",
     .offset = CONF_OFF(network_backend)},
    {.section = "network",
     .name = "backends",
     .type = CONF_LIST,
     .def = "",
     .max = 255,
     .doc = "networks users may register with, comma-separated (cloudapi, "
            "waha)",
     .offset = CONF_OFF(network_backends)},
    {.section = "cloudapi",
     .name = "graph_url",
     .type = CONF_STRING,
     .def = "https://graph.facebook.com",
     .min = 1,
     .max = CONF_VALUE_MAX,
     .doc = "base URL of the Graph API",
     .offset = CONF_OFF(cloudapi_graph_url)},
    {.section = "cloudapi",
     .name = "api_version",
     .type = CONF_STRING,
     .def = "v21.0",
     .min = 1,
     .max = 32,
     .doc = "version of the Graph API",
     .offset = CONF_OFF(cloudapi_api_version)},
    {.section = "cloudapi",
     .name = "app_secret",
     .type = CONF_SECRET,
     .def = "",
     .max = CONF_VALUE_MAX,
     .doc = "app secret that signs webhooks (X-Hub-Signature-256)",
     .offset = CONF_OFF(cloudapi_app_secret)},
    {.section = "cloudapi",
     .name = "verify_token",
     .type = CONF_SECRET,
     .def = "",
     .max = CONF_VALUE_MAX,
     .doc = "token of the webhook verification handshake",
     .offset = CONF_OFF(cloudapi_verify_token)},
    {.section = "cloudapi",
     .name = "throughput",
     .type = CONF_INT,
     .def = "80",
     .min = 1,
     .max = 1000,
     .doc = "messages per second per business number",
     .offset = CONF_OFF(cloudapi_throughput)},
    {.section = "waha",
     .name = "url",
     .type = CONF_STRING,
     .def = "",
     .max = CONF_VALUE_MAX,
     .doc = "base URL of the WAHA server (required when waha is enabled)",
     .offset = CONF_OFF(waha_url)},
    {.section = "waha",
     .name = "api_key",
     .type = CONF_SECRET,
     .def = "",
     .max = CONF_VALUE_MAX,
     .doc = "WAHA's API key (sent as X-Api-Key)",
     .offset = CONF_OFF(waha_api_key)},
    {.section = "waha",
     .name = "webhook_hmac_key",
     .type = CONF_SECRET,
     .def = "",
     .max = CONF_VALUE_MAX,
     .doc = "key that signs WAHA's webhooks (X-Webhook-Hmac, HMAC-SHA512)",
     .offset = CONF_OFF(waha_webhook_hmac_key)},
    {.section = "waha",
     .name = "session",
     .type = CONF_STRING,
     .def = "",
     .max = 54,
     .doc = "a fixed session name, for one user; empty: one per user",
     .offset = CONF_OFF(waha_session)},
    {.section = "waha",
     .name = "idle_restart",
     .type = CONF_INT,
     .def = "1800",
     .max = 604800,
     .doc = "seconds of silence after a send before a session is restarted "
            "(0: off)",
     .offset = CONF_OFF(waha_idle_restart)},
    {.section = "waha",
     .name = "files",
     .type = CONF_ENUM,
     .def = "data",
     .max = 0,
     .choices = "data|url",
     .doc = "files to WAHA: data (base64 in the request) or url (a /media/ "
            "link)",
     .offset = CONF_OFF(waha_files)},
    {.section = "media",
     .name = "upload_service",
     .type = CONF_STRING,
     .def = "",
     .max = 1023,
     .doc = "XEP-0363 upload service (empty: ferry serves files itself)",
     .offset = CONF_OFF(media_upload_service)},
    {.section = "media",
     .name = "max_size",
     .type = CONF_INT,
     .def = "104857600",
     .min = 1,
     .max = 2147483648LL,
     .doc = "largest attachment in bytes",
     .offset = CONF_OFF(media_max_size)},
    {.section = "media",
     .name = "expiry",
     .type = CONF_INT,
     .def = "604800",
     .min = 1,
     .max = 2147483647LL,
     .doc = "seconds a file ferry serves itself stays available",
     .offset = CONF_OFF(media_expiry)},
    {.section = "media",
     .name = "trusted_hosts",
     .type = CONF_LIST,
     .def = "",
     .max = CONF_VALUE_MAX,
     .doc = "URL hosts users may share files from though they are internal",
     .offset = CONF_OFF(media_trusted_hosts)},
    {.section = "team",
     .name = "autoclaim",
     .type = CONF_ENUM,
     .def = "on",
     .max = 0,
     .choices = "on|off",
     .doc = "a member's first reply claims the conversation",
     .offset = CONF_OFF(team_autoclaim)},
    {.section = "team",
     .name = "claim_idle",
     .type = CONF_INT,
     .def = "86400",
     .min = 1,
     .max = 2147483647LL,
     .doc = "seconds after its holder's last message a claim lapses",
     .offset = CONF_OFF(team_claim_idle)},
    {.section = "team",
     .name = "history_days",
     .type = CONF_INT,
     .def = "30",
     .min = 1,
     .max = 3650,
     .doc = "days a team's conversations are kept for history (MAM)",
     .offset = CONF_OFF(team_history_days)},
    {.section = "groups",
     .name = "history_days",
     .type = CONF_INT,
     .def = "30",
     .min = 1,
     .max = 3650,
     .doc = "days a group's messages are kept for join history (and MAM)",
     .offset = CONF_OFF(groups_history_days)},
    {.section = "groups",
     .name = "mention_notice",
     .type = CONF_ENUM,
     .def = "true",
     .max = 0,
     .choices = "true|false",
     .doc = "a mention while not in the room brings one notice until the "
            "next join",
     .offset = CONF_OFF(groups_mention_notice)},
    {.section = "log",
     .name = "level",
     .type = CONF_ENUM,
     .def = "info",
     .max = 0,
     .choices = "error|warn|info|debug",
     .doc = "error, warn, info or debug",
     .offset = CONF_OFF(log_level)},
    {.section = "log",
     .name = "destination",
     .type = CONF_STRING,
     .def = "stderr",
     .min = 1,
     .max = CONF_VALUE_MAX,
     .doc = "stderr, syslog, or the path of a file",
     .offset = CONF_OFF(log_destination)},
};

#define CONF_NKEYS (sizeof(conf_table) / sizeof(conf_table[0]))

/* One key's value while loading. */
struct conf_slot {
    char *value; /* NULL: not set, the default applies */
    int line;    /* line in the file where it was set; 0: not in the file */
    int via_file;
    int from_env; /* an environment variable replaced the file's value */
};

/* The state of one conf_load(). */
struct conf_parse {
    const char *path;
    FILE *errs;
    FILE *in;
    int errors;
    char *line; /* the current line of the file */
    size_t linecap, linelen, linepos;
    int lineno;
    int want_pair, got_pair; /* the line should have called the handler */
    struct conf_slot slots[CONF_NKEYS];
};

const struct conf_key *conf_keys(size_t *n)
{
    *n = CONF_NKEYS;
    return conf_table;
}

/* Prints one problem as "FILE:LINE: message". */
static void conf_err(struct conf_parse *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void conf_err(struct conf_parse *p, int line, const char *fmt, ...)
{
    va_list ap;

    p->errors++;
    if (p->errs == NULL)
        return;
    fprintf(p->errs, "%s:%d: ", p->path, line);
    va_start(ap, fmt);
    vfprintf(p->errs, fmt, ap);
    va_end(ap);
    fputc('\n', p->errs);
}

/* Text from the file or the environment, made safe to print. */
static const char *conf_show(const char *s, char *out, size_t outlen)
{
    return log_escape(s, out, outlen);
}

/* 1 when s has a control character. */
static int conf_has_control(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* Checks what any value must be: length, characters. Never shows it. */
static int conf_check_text(struct conf_parse *p, int line, const char *label,
                           const struct conf_key *k, const char *v)
{
    size_t len = strlen(v);
    long long max =
        k->type == CONF_INT || k->type == CONF_ENUM ? CONF_VALUE_MAX : k->max;

    if ((long long)len > max) {
        conf_err(p, line, "%s: value too long (max %lld bytes)", label, max);
        return -1;
    }
    if (conf_has_control(v) || !utf8_valid(v, len)) {
        conf_err(p, line, "%s: control characters or invalid UTF-8", label);
        return -1;
    }
    if (k->type != CONF_INT && k->type != CONF_ENUM &&
        (long long)len < k->min) {
        conf_err(p, line, "%s: must not be empty", label);
        return -1;
    }
    return 0;
}

/* Checks v for k: type, bounds, choices, syntax. 0 or -1 (reported). */
static int conf_check_value(struct conf_parse *p, int line, const char *label,
                            const struct conf_key *k, const char *v)
{
    char show[CONF_SHOW_MAX];
    const struct conf_check *c;
    long long n;

    if (conf_check_text(p, line, label, k, v) < 0)
        return -1;
    if (k->type == CONF_SECRET)
        return 0;
    conf_show(v, show, sizeof(show));
    if (k->type == CONF_INT) {
        if (conf_int_parse(v, &n) < 0) {
            conf_err(p, line, "%s: '%s' is not an integer", label, show);
            return -1;
        }
        if (n < k->min || n > k->max) {
            conf_err(p, line, "%s: %s is out of range %lld..%lld", label, show,
                     k->min, k->max);
            return -1;
        }
    }
    if (k->type == CONF_ENUM && !conf_choice_has(k->choices, v)) {
        conf_err(p, line, "%s: '%s' is not one of %s", label, show, k->choices);
        return -1;
    }
    c = conf_check_find(k);
    if (c != NULL && !c->ok(v)) {
        conf_err(p, line, "%s: '%s' %s", label, show, c->what);
        return -1;
    }
    return 0;
}

/* ---- secrets in files ---- */

/* Reads a secret from path, without one trailing newline; NULL (reported)
 * on failure. label names the key or variable that gave the path. */
static char *conf_read_secret(struct conf_parse *p, int line, const char *label,
                              const char *path)
{
    char show[CONF_SHOW_MAX];
    char *data = xmalloc(CONF_VALUE_MAX + 3);
    size_t n;
    FILE *f;

    conf_show(path, show, sizeof(show));
    if (path[0] == '\0') {
        conf_err(p, line, "%s: empty file name", label);
        goto fail;
    }
    f = fopen(path, "r");
    if (f == NULL) {
        conf_err(p, line, "%s: cannot read %s: %s", label, show,
                 strerror(errno));
        goto fail;
    }
    n = fread(data, 1, CONF_VALUE_MAX + 2, f);
    if (ferror(f)) {
        conf_err(p, line, "%s: cannot read %s: %s", label, show,
                 strerror(errno));
        fclose(f);
        goto fail;
    }
    fclose(f);
    if (n > 0 && data[n - 1] == '\n')
        n--;
    if (n > CONF_VALUE_MAX) {
        conf_err(p, line, "%s: %s is too long (max %d bytes)", label, show,
                 CONF_VALUE_MAX);
        goto fail;
    }
    if (memchr(data, '\0', n) != NULL) {
        conf_err(p, line, "%s: %s holds a NUL byte", label, show);
        goto fail;
    }
    data[n] = '\0';
    return data;
fail:
    free(data);
    return NULL;
}

/* ---- the file ---- */

static int conf_section_known(const char *section)
{
    size_t i;

    for (i = 0; i < CONF_NKEYS; i++)
        if (strcmp(conf_table[i].section, section) == 0)
            return 1;
    return 0;
}

/* The key for name in section: "name", or "name_file" of a secret. */
static const struct conf_key *conf_key_find(const char *section,
                                            const char *name, int *via_file)
{
    size_t i, len = strlen(name);

    for (i = 0; i < CONF_NKEYS; i++) {
        const struct conf_key *k = &conf_table[i];
        size_t klen = strlen(k->name);

        if (strcmp(k->section, section) != 0)
            continue;
        *via_file = 0;
        if (strcmp(k->name, name) == 0)
            return k;
        *via_file = 1;
        if (k->type == CONF_SECRET && len == klen + 5 &&
            strncmp(name, k->name, klen) == 0 &&
            strcmp(name + klen, "_file") == 0)
            return k;
    }
    return NULL;
}

/* Stores a key = value line of the file in its slot, checked. */
static void conf_set(struct conf_parse *p, const struct conf_key *k,
                     int via_file, const char *value)
{
    struct conf_slot *s = &p->slots[k - conf_table];
    char label[CONF_LABEL_MAX], flabel[CONF_LABEL_MAX];
    char *v;

    snprintf(label, sizeof(label), "%s.%s", k->section, k->name);
    snprintf(flabel, sizeof(flabel), "%s.%s_file", k->section, k->name);
    if (s->line != 0 && s->via_file == via_file) {
        conf_err(p, p->lineno, "duplicate key %s (first on line %d)",
                 via_file ? flabel : label, s->line);
        return;
    }
    if (s->line != 0) {
        conf_err(p, p->lineno, "both %s and %s given", label, flabel);
        return;
    }
    s->line = p->lineno;
    s->via_file = via_file;
    if (via_file)
        v = conf_read_secret(p, p->lineno, flabel, value);
    else
        v = xstrdup(value);
    if (v != NULL && conf_check_value(p, p->lineno, label, k, v) == 0)
        s->value = v;
    else
        free(v);
}

/* inih's handler: one name = value of the current line. */
static int conf_handler(void *user, const char *section, const char *name,
                        const char *value)
{
    struct conf_parse *p = user;
    char show[CONF_SHOW_MAX], sshow[CONF_SHOW_MAX];
    const struct conf_key *k;
    int via_file;

    p->got_pair = 1;
    conf_show(name, show, sizeof(show));
    if (section[0] == '\0') {
        conf_err(p, p->lineno, "key '%s' outside any section", show);
        return 1;
    }
    if (!conf_section_known(section))
        return 1; /* reported at the section's header */
    k = conf_key_find(section, name, &via_file);
    if (k == NULL) {
        conf_show(section, sshow, sizeof(sshow));
        conf_err(p, p->lineno, "unknown key '%s' in section [%s]", show, sshow);
        return 1;
    }
    conf_set(p, k, via_file, value);
    return 1;
}

/* Checks a "[section]" line the way inih reads it. */
static void conf_section_line(struct conf_parse *p, char *s)
{
    char show[CONF_SHOW_MAX];
    char *end = s + 1, *rest;
    int was_space = 0;

    while (*end != '\0' && *end != ']' && !(was_space && *end == ';')) {
        was_space = isspace((unsigned char)*end);
        end++;
    }
    if (*end != ']') {
        conf_err(p, p->lineno, "syntax error: missing ']'");
        return;
    }
    rest = end + 1;
    while (isspace((unsigned char)*rest))
        rest++;
    if (*rest != '\0' && *rest != ';' && *rest != '#')
        conf_err(p, p->lineno, "syntax error: text after ']'");
    *end = '\0';
    if (!conf_section_known(s + 1)) {
        conf_show(s + 1, show, sizeof(show));
        conf_err(p, p->lineno, "unknown section [%s]", show);
    }
    *end = ']';
}

/* Ends the current line: a key line that inih refused is a syntax error. */
static void conf_line_end(struct conf_parse *p)
{
    if (p->want_pair && !p->got_pair)
        conf_err(p, p->lineno, "syntax error: expected 'key = value'");
    p->want_pair = 0;
    p->got_pair = 0;
}

/* Looks at a new line before inih does: comment, section or key line. */
static void conf_line_classify(struct conf_parse *p)
{
    char *s = p->line;

    if (p->lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
        s += 3;
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '\0' || *s == ';' || *s == '#')
        return;
    if (*s == '[')
        conf_section_line(p, s);
    else
        p->want_pair = 1;
}

/* Reads the next line of the file; -1 at its end. Over-long lines and
 * lines with NUL bytes are reported and replaced by an empty line. */
static int conf_line_next(struct conf_parse *p)
{
    ssize_t n;

    conf_line_end(p);
    n = getline(&p->line, &p->linecap, p->in);
    if (n < 0)
        return -1;
    p->lineno++;
    p->linelen = (size_t)n;
    p->linepos = 0;
    if (n > CONF_LINE_MAX || memchr(p->line, '\0', p->linelen) != NULL) {
        if (n > CONF_LINE_MAX)
            conf_err(p, p->lineno, "line too long (max %d bytes)",
                     CONF_LINE_MAX);
        else
            conf_err(p, p->lineno, "NUL byte in line");
        p->line[0] = '\n';
        p->line[1] = '\0';
        p->linelen = 1;
    }
    conf_line_classify(p);
    return 0;
}

/* inih's reader: hands out the current line, in pieces if inih asks. */
static char *conf_reader(char *str, int num, void *user)
{
    struct conf_parse *p = user;
    size_t n;

    if (num < 2)
        return NULL;
    if (p->linepos >= p->linelen && conf_line_next(p) < 0)
        return NULL;
    n = p->linelen - p->linepos;
    if (n > (size_t)num - 1)
        n = (size_t)num - 1;
    memcpy(str, p->line + p->linepos, n);
    str[n] = '\0';
    p->linepos += n;
    return str;
}

/* Sets inih's run-time options (Debian builds inih with them). */
static void conf_ini_setup(void)
{
    static char start_comments[] = ";#";
    static char inline_comments[] = ";";

    ini_allow_multiline = false;
    ini_allow_bom = true;
    ini_start_comment_prefixes = start_comments;
    ini_allow_inline_comments = true;
    ini_inline_comment_prefixes = inline_comments;
    ini_use_stack = false;
    ini_allow_realloc = true;
    ini_initial_alloc = 256;
    ini_max_line = CONF_LINE_MAX + 3;
    ini_stop_on_first_error = false;
    ini_allow_no_value = false;
}

/* Reads the file into the slots; problems are reported. */
static void conf_read_file(struct conf_parse *p)
{
    int rc;

    p->in = fopen(p->path, "r");
    if (p->in == NULL) {
        conf_err(p, 0, "cannot open: %s", strerror(errno));
        return;
    }
    conf_ini_setup();
    rc = ini_parse_stream(conf_reader, p, conf_handler, p);
    conf_line_end(p);
    if (ferror(p->in))
        conf_err(p, p->lineno, "read error");
    else if (rc < 0)
        conf_err(p, p->lineno, "cannot parse (error %d)", rc);
    else if (rc > 0 && p->errors == 0)
        conf_err(p, rc, "syntax error");
    fclose(p->in);
    p->in = NULL;
}

/* ---- environment ---- */

/* "FERRY_<SECTION>_<NAME><suffix>" into out. */
static void conf_env_name(const struct conf_key *k, const char *suffix,
                          char *out, size_t outlen)
{
    char *c;

    snprintf(out, outlen, "FERRY_%s_%s%s", k->section, k->name, suffix);
    for (c = out; *c != '\0'; c++)
        *c = (char)toupper((unsigned char)*c);
}

/* Applies FERRY_<SECTION>_<KEY> (and _FILE for secrets) to k's slot. */
static void conf_env_key(struct conf_parse *p, const struct conf_key *k)
{
    struct conf_slot *s = &p->slots[k - conf_table];
    char name[CONF_LABEL_MAX], fname[CONF_LABEL_MAX];
    const char *v, *fv = NULL;
    char *val;

    conf_env_name(k, "", name, sizeof(name));
    conf_env_name(k, "_FILE", fname, sizeof(fname));
    v = getenv(name);
    if (k->type == CONF_SECRET)
        fv = getenv(fname);
    if (v != NULL && fv != NULL) {
        conf_err(p, 0, "both %s and %s are set", name, fname);
        return;
    }
    if (fv != NULL)
        val = conf_read_secret(p, 0, fname, fv);
    else if (v != NULL)
        val = xstrdup(v);
    else
        return;
    if (val == NULL || conf_check_value(p, 0, name, k, val) < 0) {
        free(val);
        return;
    }
    free(s->value);
    s->value = val;
    s->from_env = 1;
}

/* ---- the result ---- */

/* The first secret written in the file itself (not via _file or the
 * environment), as "section.key"; NULL when none. */
static const char *conf_secret_in_file(const struct conf_parse *p)
{
    static char label[CONF_LABEL_MAX];
    size_t i;

    for (i = 0; i < CONF_NKEYS; i++) {
        const struct conf_slot *s = &p->slots[i];

        if (conf_table[i].type == CONF_SECRET && s->line != 0 && !s->via_file &&
            !s->from_env && s->value != NULL && s->value[0] != '\0') {
            snprintf(label, sizeof(label), "%s.%s", conf_table[i].section,
                     conf_table[i].name);
            return label;
        }
    }
    return NULL;
}

/* Reports required keys that were given nowhere. */
static void conf_check_required(struct conf_parse *p)
{
    size_t i;

    for (i = 0; i < CONF_NKEYS; i++) {
        const struct conf_key *k = &conf_table[i];

        if (k->required && p->slots[i].value == NULL && p->slots[i].line == 0)
            conf_err(p, 0, "%s.%s: required key missing", k->section, k->name);
    }
}

/* A struct conf from the checked slots and the defaults. */
static struct conf *conf_build(struct conf_parse *p)
{
    struct conf *c = xcalloc(1, sizeof(*c));
    size_t i;

    c->path = xstrdup(p->path);
    c->secret_in_file = conf_secret_in_file(p);
    for (i = 0; i < CONF_NKEYS; i++) {
        const struct conf_key *k = &conf_table[i];
        const char *v = p->slots[i].value ? p->slots[i].value : k->def;
        char *field = (char *)c + k->offset;
        long long n = 0;

        if (k->type == CONF_INT) {
            conf_int_parse(v, &n);
            memcpy(field, &n, sizeof(n));
        } else {
            char *dup = xstrdup(v);

            memcpy(field, &dup, sizeof(dup));
        }
    }
    return c;
}

static void conf_parse_reset(struct conf_parse *p)
{
    size_t i;

    for (i = 0; i < CONF_NKEYS; i++)
        free(p->slots[i].value);
    free(p->line);
}

struct conf *conf_load(const char *path, FILE *errs)
{
    struct conf_parse p;
    struct conf *c = NULL;
    size_t i;

    memset(&p, 0, sizeof(p));
    p.path = path;
    p.errs = errs;
    conf_read_file(&p);
    for (i = 0; i < CONF_NKEYS; i++)
        conf_env_key(&p, &conf_table[i]);
    conf_check_required(&p);
    if (p.errors == 0)
        c = conf_build(&p);
    conf_parse_reset(&p);
    if (errs != NULL)
        fflush(errs);
    return c;
}

void conf_free(struct conf *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < CONF_NKEYS; i++) {
        char *field = (char *)c + conf_table[i].offset;
        char *s;

        if (conf_table[i].type == CONF_INT)
            continue;
        memcpy(&s, field, sizeof(s));
        free(s);
    }
    free(c->path);
    free(c);
}

int conf_list_has_domain(const char *list, const char *domain)
{
    size_t n;

    if (list == NULL || domain == NULL || domain[0] == '\0')
        return 0;
    n = strlen(domain);
    while (*list != '\0') {
        size_t len;

        list += strspn(list, " \t");
        len = strcspn(list, " \t");
        if (len == n && strncasecmp(list, domain, n) == 0)
            return 1;
        list += len;
    }
    return 0;
}

int conf_list_has(const char *list, const char *word)
{
    size_t n;

    if (list == NULL || word == NULL || word[0] == '\0')
        return 0;
    n = strlen(word);
    while (*list != '\0') {
        size_t len;

        list += strspn(list, " \t");
        len = strcspn(list, " \t");
        if (len == n && memcmp(list, word, n) == 0)
            return 1;
        list += len;
    }
    return 0;
}
