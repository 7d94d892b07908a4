/* SPDX-License-Identifier: MIT */
/* Keeps man/ferry.conf.5 in step with the key table of conf.c: every key
 * (and the _file variant of every secret) has an ".It Ic NAME" entry under
 * the ".Ss" heading of its [section], no entry names a key that does not
 * exist, and each entry gives the key's default, bounds and choices. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"

#define MAN_PAGE TOP_SRCDIR "/man/ferry.conf.5"
#define MAN_MAX_ENTRIES 128
#define MAN_NAME_MAX 64
#define MAN_TEXT_MAX 8192

/* One ".It Ic name" entry of the page: its heading's section, the .It line
 * and the lines up to the next entry or heading. */
struct man_entry {
    char section[MAN_NAME_MAX];
    char name[MAN_NAME_MAX];
    char it[256];
    char body[MAN_TEXT_MAX]; /* its lines joined by spaces */
    int line;
};

struct man_page {
    char *text; /* the whole page, its lines joined by spaces */
    struct man_entry entries[MAN_MAX_ENTRIES];
    size_t n;
};

static struct man_page page;

/* Copies the first word of s (up to a space or the end) into out. */
static void man_word(const char *s, char *out, size_t outlen)
{
    size_t n = strcspn(s, " \t\n");

    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* ".Ss The [component] section": the section named in brackets, or "". */
static void man_heading(const char *line, char *section, size_t len)
{
    const char *open = strchr(line, '[');
    const char *close = open ? strchr(open, ']') : NULL;
    size_t n;

    section[0] = '\0';
    if (open == NULL || close == NULL)
        return;
    n = (size_t)(close - open - 1);
    if (n >= len)
        n = len - 1;
    memcpy(section, open + 1, n);
    section[n] = '\0';
}

/* Appends a line to the body of the current entry. */
static void man_body_add(struct man_entry *e, const char *line)
{
    size_t have = strlen(e->body), n = strlen(line);

    if (have + n + 2 > sizeof(e->body))
        fail_msg("%s:%d: entry %s too long for the test", MAN_PAGE, e->line,
                 e->name);
    memcpy(e->body + have, line, n);
    e->body[have + n] = ' ';
    e->body[have + n + 1] = '\0';
}

/* Reads the page into entries. */
static int man_setup(void **state)
{
    char section[MAN_NAME_MAX] = "", line[1024];
    struct man_entry *cur = NULL;
    FILE *f = fopen(MAN_PAGE, "r");
    size_t textlen = 0;
    char *c;
    FILE *all;
    int lineno = 0;

    assert_non_null(f);
    all = open_memstream(&page.text, &textlen);
    assert_non_null(all);
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        fputs(line, all);
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, ".Sh ", 4) == 0 || strncmp(line, ".Ss ", 4) == 0) {
            man_heading(line, section, sizeof(section));
            cur = NULL;
        } else if (strncmp(line, ".It Ic ", 7) == 0) {
            assert_true(page.n < MAN_MAX_ENTRIES);
            cur = &page.entries[page.n++];
            snprintf(cur->section, sizeof(cur->section), "%s", section);
            man_word(line + 7, cur->name, sizeof(cur->name));
            snprintf(cur->it, sizeof(cur->it), "%s", line);
            cur->line = lineno;
        } else if (cur != NULL) {
            man_body_add(cur, line);
        }
    }
    fclose(f);
    fclose(all);
    for (c = page.text; *c != '\0'; c++)
        if (*c == '\n')
            *c = ' '; /* phrases may be broken across lines */
    return 0;
}

static int man_teardown(void **state)
{
    free(page.text);
    return 0;
}

/* The entries named section.name. */
static const struct man_entry *man_find(const char *section, const char *name,
                                        int *count)
{
    const struct man_entry *found = NULL;
    size_t i;

    *count = 0;
    for (i = 0; i < page.n; i++) {
        if (strcmp(page.entries[i].section, section) == 0 &&
            strcmp(page.entries[i].name, name) == 0) {
            found = &page.entries[i];
            (*count)++;
        }
    }
    return found;
}

/* 1 when needle is in s followed by a space, newline, punctuation or end. */
static int man_has(const char *s, const char *needle)
{
    size_t n = strlen(needle);
    const char *p = s;

    while ((p = strstr(p, needle)) != NULL) {
        if (strchr(" \n.,;:)", p[n]) != NULL)
            return 1;
        p++;
    }
    return 0;
}

/* The key of the table an entry documents; via_file when it is NAME_file of
 * a secret. NULL when there is none. */
static const struct conf_key *man_key(const struct man_entry *e, int *via_file)
{
    const struct conf_key *k;
    size_t i, n, len = strlen(e->name);

    k = conf_keys(&n);
    for (i = 0; i < n; i++) {
        size_t klen = strlen(k[i].name);

        if (strcmp(k[i].section, e->section) != 0)
            continue;
        *via_file = 0;
        if (strcmp(k[i].name, e->name) == 0)
            return &k[i];
        *via_file = 1;
        if (k[i].type == CONF_SECRET && len == klen + 5 &&
            strncmp(e->name, k[i].name, klen) == 0 &&
            strcmp(e->name + klen, "_file") == 0)
            return &k[i];
    }
    return NULL;
}

/* The longest value of any key: the general cap, documented once. */
static long long man_value_max(void)
{
    const struct conf_key *k;
    long long max = 0;
    size_t i, n;

    k = conf_keys(&n);
    for (i = 0; i < n; i++)
        if (k[i].type != CONF_INT && k[i].type != CONF_ENUM && k[i].max > max)
            max = k[i].max;
    return max;
}

static void test_parsed(void **state)
{
    assert_true(page.n > 0);
}

/* Every key of the table, and every secret's _file, has one entry. */
static void test_every_key_documented(void **state)
{
    char fname[MAN_NAME_MAX];
    const struct conf_key *k;
    size_t i, n;
    int count, bad = 0;

    k = conf_keys(&n);
    for (i = 0; i < n; i++) {
        man_find(k[i].section, k[i].name, &count);
        if (count != 1) {
            print_error("%s: %s.%s: %d entries, want 1\n", MAN_PAGE,
                        k[i].section, k[i].name, count);
            bad++;
        }
        if (k[i].type != CONF_SECRET)
            continue;
        snprintf(fname, sizeof(fname), "%s_file", k[i].name);
        man_find(k[i].section, fname, &count);
        if (count != 1) {
            print_error("%s: %s.%s: %d entries, want 1\n", MAN_PAGE,
                        k[i].section, fname, count);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* No entry documents a key that does not exist. */
static void test_no_unknown_key(void **state)
{
    size_t i;
    int via_file, bad = 0;

    for (i = 0; i < page.n; i++) {
        const struct man_entry *e = &page.entries[i];

        if (man_key(e, &via_file) == NULL) {
            print_error("%s:%d: '%s' in section [%s] is not a key of "
                        "conf.c\n",
                        MAN_PAGE, e->line, e->name, e->section);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* Checks one key's entry: default, required, bounds, choices. */
static int man_check_key(const struct conf_key *k, const struct man_entry *e,
                         long long value_max)
{
    char want[512];
    int bad = 0;

#define MAN_WANT(cond, ...)                                                    \
    do {                                                                       \
        if (!(cond)) {                                                         \
            print_error("%s:%d: %s.%s: ", MAN_PAGE, e->line, k->section,       \
                        k->name);                                              \
            print_error(__VA_ARGS__);                                          \
            print_error("\n");                                                 \
            bad++;                                                             \
        }                                                                      \
    } while (0)

    snprintf(want, sizeof(want), "The default is .Ql %s", k->def);
    if (k->def[0] != '\0')
        MAN_WANT(man_has(e->body, want), "want \"%s\" (the default)", want);
    else if (k->required)
        MAN_WANT(strstr(e->body, "This key is required.") != NULL,
                 "want \"This key is required.\"");
    else
        MAN_WANT(strstr(e->body, "The default is empty") != NULL,
                 "want \"The default is empty\"");
    if (!k->required)
        MAN_WANT(strstr(e->body, "required") == NULL,
                 "says required, but it is not");
    if (k->type == CONF_INT) {
        snprintf(want, sizeof(want), "from %lld to %lld", k->min, k->max);
        MAN_WANT(man_has(e->body, want), "want \"%s\" (the bounds)", want);
        MAN_WANT(man_has(e->it, "Ar number"), "want \"Ar number\" in .It");
    } else if (k->type == CONF_ENUM) {
        const char *c = k->choices;

        while (*c != '\0') {
            size_t len = strcspn(c, "|");

            snprintf(want, sizeof(want), "Cm %.*s", (int)len, c);
            MAN_WANT(man_has(e->it, want), "want \"%s\" in .It", want);
            c += len + (c[len] == '|');
        }
    } else {
        snprintf(want, sizeof(want), "at most %lld bytes", k->max);
        if (k->max < value_max)
            MAN_WANT(man_has(e->body, want), "want \"%s\"", want);
        if (k->min > 0 && !k->required)
            MAN_WANT(strstr(e->body, "must not be empty") != NULL,
                     "want \"must not be empty\"");
    }
    if (k->type == CONF_LIST)
        MAN_WANT(strstr(e->it, " ...") != NULL, "want \"...\" in .It");
#undef MAN_WANT
    return bad;
}

/* Each entry states what the table says about its key. */
static void test_entries_match_table(void **state)
{
    long long value_max = man_value_max();
    const struct conf_key *k;
    size_t i, n;
    int count, bad = 0;

    k = conf_keys(&n);
    for (i = 0; i < n; i++) {
        const struct man_entry *e = man_find(k[i].section, k[i].name, &count);

        if (e != NULL)
            bad += man_check_key(&k[i], e, value_max);
    }
    assert_int_equal(bad, 0);
}

/* The general length cap, and the environment names, are on the page. */
static void test_general_rules(void **state)
{
    char want[128];

    snprintf(want, sizeof(want), "longer than %lld", man_value_max());
    assert_non_null(strstr(page.text, want));
    assert_non_null(strstr(page.text, "FERRY_ Ns Ar SECTION Ns _ Ns Ar KEY"));
    assert_non_null(strstr(page.text, "_file"));
    assert_non_null(strstr(page.text, "ferry -n"));
}

#define T(f) cmocka_unit_test(f)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_parsed),         T(test_every_key_documented),
        T(test_no_unknown_key), T(test_entries_match_table),
        T(test_general_rules),
    };

    return cmocka_run_group_tests(tests, man_setup, man_teardown);
}
