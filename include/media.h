/* SPDX-License-Identifier: MIT */
/* Attachments: temporary files for downloads, files ferry serves itself
 * under http.public_url/media/<token>/<name> until they expire, and the
 * hand-over to the XMPP server's XEP-0363 upload service. It knows nothing
 * of the network the files come from or go to. */
#ifndef FERRY_MEDIA_H
#define FERRY_MEDIA_H

#include <stddef.h>

struct conf;
struct store;

#define MEDIA_TOKEN_LEN 64      /* hex characters of a served file's token */
#define MEDIA_NAME_MAX 64       /* bytes of a file name ferry makes */
#define MEDIA_URL_MAX 2048      /* bytes of a URL ferry fetches or gives */
#define MEDIA_ORIG_NAME_MAX 255 /* bytes of a file name from a peer */

/* A downloaded file to hand to the user. */
struct media_file {
    const char *path; /* a file from media_temp_path() (taken) */
    const char *kind; /* "image", "video", "audio", "voice", "document",
                         "sticker" */
    const char *mime; /* may be NULL */
    const char *name; /* the file's own name, or NULL */
};

/* url: where the user can fetch the file, or NULL: error says why, and
 * retry is 1 when trying again later may work. */
typedef void (*media_publish_fn)(const char *url, const char *error, int retry,
                                 void *arg);

/* The outcome of media_download(). */
struct media_download {
    int ok;      /* the whole file arrived with HTTP 2xx */
    long status; /* HTTP status, 0 when none arrived */
    int too_big; /* it passed the size cap */
    int refused; /* a user's URL pointed inside ferry's network */
    int timed_out;
    const char *path; /* ok: the file (the caller owns it: publish, send
                         or media_discard() it); the string is borrowed */
    const char *mime; /* Content-Type, else a guess from the URL; or NULL */
    const char *name; /* the file name in the URL, or NULL */
    long long size;
    const char *error; /* !ok: in words */
};

typedef void (*media_download_fn)(const struct media_download *d, void *arg);

/* Creates the media directory next to the store, clears what a crash left
 * there, registers the /media/ route and the expiry sweep. 0 or -1. */
int media_init(const struct conf *conf, struct store *st);
void media_reconfigure(const struct conf *conf);
void media_free(void);

/* The largest attachment (media.max_size). */
long long media_max_size(void);
/* A new temporary file name in the media directory. Caller frees. */
char *media_temp_path(void);
/* Deletes a file of the media directory (NULL: nothing): between
 * media_init() and media_free() by a thread of its own, soon after (the
 * caller never waits for the file system), else at once. media_free()
 * waits for what was asked. */
void media_discard(const char *path);
/* Fetches url (http or https, no redirects) into a temporary file, at most
 * max bytes; cb(result, arg) follows from the loop. */
void media_download(const char *url, long long max, media_download_fn cb,
                    void *arg);
/* Makes f reachable for XMPP users: through an upload slot requested as
 * uploader (a JID of the component's domain) when media.upload_service is
 * set, otherwise (or when the service refuses, or uploader is NULL) served
 * by ferry under http.public_url/media/. cb follows from the loop. */
void media_publish(const struct media_file *f, const char *uploader,
                   media_publish_fn cb, void *arg);
/* 1 when s is exactly one http(s) URL on the upload service's host. */
int media_is_upload_url(const char *s);

/* ---- pure helpers ---- */
/* The MIME type of a file name or URL path's extension, or NULL. */
const char *media_mime_for_name(const char *name);
/* A known MIME type's canonical (static) spelling, without parameters;
 * "application/octet-stream" for anything else. */
const char *media_mime_canonical(const char *mime);
/* A file name safe in URLs and paths, from name, or from kind and mime.
 * Caller frees. */
char *media_file_name(const char *name, const char *kind, const char *mime);
/* A Content-Disposition value: inline for pictures, video and sound,
 * attachment otherwise, with the name. Caller frees. */
char *media_disposition(const char *kind, const char *name);
/* The host (and port) of an http(s) URL, lower case, into host; 0 or -1. */
int media_url_host(const char *url, char *host, size_t len);
/* 1 when s is a well-formed token. */
int media_token_ok(const char *s, size_t n);

#endif
