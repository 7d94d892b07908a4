/* SPDX-License-Identifier: MIT */
/* A strict JSON grammar check (RFC 8259), run before json-c parses a peer's
 * body: double-quoted strings with valid escapes and no raw control
 * characters, plain numbers, true/false/null, bounded nesting. */
#include <string.h>

#include <json-c/json.h>

#include "json_strict.h"
#include "util.h"

struct json_strict {
    const char *p, *end;
    int depth, max_depth;
};

static int json_strict_value(struct json_strict *j);

static void json_strict_ws(struct json_strict *j)
{
    while (j->p < j->end &&
           (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int json_strict_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

/* A string starting at the opening quote. */
static int json_strict_string(struct json_strict *j)
{
    int i;

    for (j->p++; j->p < j->end; j->p++) {
        unsigned char c = (unsigned char)*j->p;

        if (c == '"') {
            j->p++;
            return 1;
        }
        if (c < 0x20)
            return 0;
        if (c != '\\')
            continue;
        if (++j->p >= j->end)
            return 0;
        if (*j->p == 'u') {
            for (i = 0; i < 4; i++)
                if (++j->p >= j->end || !json_strict_hex(*j->p))
                    return 0;
        } else if (strchr("\"\\/bfnrt", *j->p) == NULL || *j->p == '\0') {
            return 0;
        }
    }
    return 0;
}

static int json_strict_digits(struct json_strict *j)
{
    const char *start = j->p;

    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > start;
}

static int json_strict_number(struct json_strict *j)
{
    if (*j->p == '-')
        j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (!json_strict_digits(j))
        return 0;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!json_strict_digits(j))
            return 0;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (!json_strict_digits(j))
            return 0;
    }
    return 1;
}

static int json_strict_word(struct json_strict *j, const char *w)
{
    size_t n = strlen(w);

    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
        return 0;
    j->p += n;
    return 1;
}

/* An array or object: open, items separated by commas, close. */
static int json_strict_container(struct json_strict *j, char close)
{
    int first = 1;

    if (++j->depth > j->max_depth)
        return 0;
    j->p++;
    for (;;) {
        json_strict_ws(j);
        if (j->p < j->end && *j->p == close && first)
            break;
        if (!first) {
            if (j->p >= j->end || (*j->p != ',' && *j->p != close))
                return 0;
            if (*j->p++ == close) {
                j->depth--;
                return 1;
            }
            json_strict_ws(j);
        }
        first = 0;
        if (close == '}') {
            if (j->p >= j->end || *j->p != '"' || !json_strict_string(j))
                return 0;
            json_strict_ws(j);
            if (j->p >= j->end || *j->p++ != ':')
                return 0;
        }
        if (!json_strict_value(j))
            return 0;
    }
    j->p++;
    j->depth--;
    return 1;
}

static int json_strict_value(struct json_strict *j)
{
    json_strict_ws(j);
    if (j->p >= j->end)
        return 0;
    switch (*j->p) {
    case '{':
        return json_strict_container(j, '}');
    case '[':
        return json_strict_container(j, ']');
    case '"':
        return json_strict_string(j);
    case 't':
        return json_strict_word(j, "true");
    case 'f':
        return json_strict_word(j, "false");
    case 'n':
        return json_strict_word(j, "null");
    default:
        return (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) &&
               json_strict_number(j);
    }
}

int json_strict_valid(const char *s, size_t n, int max_depth)
{
    struct json_strict j = {s, s + n, 0, max_depth};

    if (!json_strict_value(&j))
        return 0;
    json_strict_ws(&j);
    return j.p == j.end;
}

json_object *json_strict_parse(const char *s, size_t n, int max_depth)
{
    json_tokener *tok;
    json_object *o;

    if (!json_strict_valid(s, n, max_depth))
        return NULL;
    tok = json_tokener_new_ex(max_depth);
    if (tok == NULL)
        xdie("out of memory (json-c)");
    json_tokener_set_flags(tok,
                           JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, s, (int)n);
    if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
                      tok->char_offset != (int)n)) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

json_object *json_strict_member(json_object *o, const char *key)
{
    json_object *v = NULL;

    if (o == NULL || !json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}
