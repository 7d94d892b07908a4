/* SPDX-License-Identifier: MIT */
/* WAHA files from the user: WAHA has no upload of its own, so media_upload
 * reads the file ferry fetched into memory as base64 and names it; the send
 * that follows takes it (sendImage, sendVideo, sendVoice or sendFile with
 * file.data). A few files wait at most; the oldest go first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "log.h"
#include "loop.h"
#include "net_backend.h"
#include "net_waha_int.h"
#include "util.h"

#define WAHA_FILES_MAX 8 /* files read and not sent yet */
#define WAHA_FILE_READ_MAX (100LL * 1024 * 1024)

/* A file read for a send. */
struct waha_file {
    char *id, *mime, *name, *data; /* data: base64 */
};

static struct waha_file waha_files[WAHA_FILES_MAX];
static unsigned long waha_file_seq;

static void waha_file_clear(struct waha_file *f)
{
    free(f->id);
    free(f->mime);
    free(f->name);
    free(f->data);
    memset(f, 0, sizeof(*f));
}

/* The file at path as base64 (caller frees), or NULL (why in *why). */
static char *waha_file_base64(const char *path, const char **why)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *raw;
    char *b64 = NULL;
    long n;

    *why = "the gateway could not read the file";
    if (fp == NULL)
        return NULL;
    if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 &&
        n <= WAHA_FILE_READ_MAX && fseek(fp, 0, SEEK_SET) == 0) {
        raw = xmalloc((size_t)n + 1);
        if (fread(raw, 1, (size_t)n, fp) == (size_t)n) {
            b64 = xmalloc(4 * (((size_t)n + 2) / 3) + 1);
            EVP_EncodeBlock((unsigned char *)b64, raw, (int)n);
        }
        free(raw);
    }
    fclose(fp);
    return b64;
}

struct waha_upload {
    net_result_fn cb;
    void *arg;
    char *id;         /* the file's name for the send, or NULL */
    const char *text; /* why not */
};

static void waha_upload_end(void *arg)
{
    struct waha_upload *u = arg;
    struct net_result r;

    memset(&r, 0, sizeof(r));
    r.outcome = u->id != NULL ? NET_OK : NET_RETRY;
    r.id = u->id;
    r.text = u->text;
    u->cb(&r, u->arg);
    free(u->id);
    free(u);
}

void waha_media_upload(const struct net_account *a, const char *path,
                       const char *mime, const char *filename, net_result_fn cb,
                       void *arg)
{
    struct waha_upload *u = xcalloc(1, sizeof(*u));
    struct waha_file *f = &waha_files[waha_file_seq % WAHA_FILES_MAX];
    char *data = waha_file_base64(path, &u->text);

    (void)a;
    u->cb = cb;
    u->arg = arg;
    if (data != NULL) {
        if (f->id != NULL)
            log_info("waha: file %s never sent; dropped", f->id);
        waha_file_clear(f);
        f->id = xasprintf("ferry-file-%lu", ++waha_file_seq);
        f->mime = xstrdup(mime);
        f->name = xstrdup(filename ? filename : "file");
        f->data = data;
        u->id = xstrdup(f->id);
    }
    loop_defer(waha_upload_end, u); /* never from inside the caller */
}

/* The endpoint for a kind of file: voice notes (Ogg Opus) as voice,
 * other audio converted to one by WAHA (*convert). */
static const char *waha_media_path(const char *kind, const char *mime,
                                   int *convert)
{
    *convert = 0;
    if (strcmp(kind, "image") == 0 || strcmp(kind, "sticker") == 0)
        return "/api/sendImage";
    if (strcmp(kind, "video") == 0)
        return "/api/sendVideo";
    if (strcmp(kind, "audio") == 0 || strcmp(kind, "voice") == 0) {
        *convert = strncmp(mime, "audio/ogg", 9) != 0;
        return "/api/sendVoice";
    }
    return "/api/sendFile";
}

const char *waha_media_body(json_object *o, const struct net_out *m)
{
    struct waha_file *f = NULL;
    json_object *file;
    const char *path, *mime = m->media_mime, *name = m->filename;
    int convert;
    size_t i;

    for (i = 0; m->media_id != NULL && i < WAHA_FILES_MAX; i++)
        if (waha_files[i].id && strcmp(waha_files[i].id, m->media_id) == 0)
            f = &waha_files[i];
    if (f == NULL && (m->media_url == NULL || mime == NULL))
        return NULL;
    if (f != NULL) {
        mime = f->mime;
        name = name ? name : f->name;
    }
    path = waha_media_path(m->kind, mime, &convert);
    file = json_object_new_object();
    /* a voice note is Ogg Opus, as WhatsApp's own */
    json_object_object_add(
        file, "mimetype",
        json_object_new_string(strcmp(path, "/api/sendVoice") == 0 && !convert
                                   ? "audio/ogg; codecs=opus"
                                   : mime));
    json_object_object_add(file, "filename",
                           json_object_new_string(name ? name : "file"));
    if (f != NULL) /* else a link to the file ferry serves */
        json_object_object_add(file, "data", json_object_new_string(f->data));
    else
        json_object_object_add(file, "url",
                               json_object_new_string(m->media_url));
    json_object_object_add(o, "file", file);
    if (m->text != NULL && strcmp(path, "/api/sendVoice") != 0)
        json_object_object_add(o, "caption", json_object_new_string(m->text));
    if (strcmp(path, "/api/sendVoice") == 0 ||
        strcmp(path, "/api/sendVideo") == 0)
        json_object_object_add(o, "convert", json_object_new_boolean(convert));
    if (f != NULL)
        waha_file_clear(f);
    return path;
}
