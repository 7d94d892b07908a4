/* SPDX-License-Identifier: MIT */
/* The WAL syncer: group commit across loop turns. The loop's connection
 * commits with synchronous = NORMAL (the WAL is written, not synced) and
 * counts its commits; this thread runs fdatasync on the WAL for the latest
 * commit asked for, so that one fsync serves every commit written before it
 * began (while it runs, the loop goes on taking requests and committing;
 * those commits share the next one). Its answer reaches the loop through a
 * pipe. Nothing the store has promised waits for anything but this. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "loop.h"
#include "store_sync.h"
#include "util.h"

struct store_sync {
    int fd;      /* the WAL, opened for fdatasync only */
    int pipe[2]; /* the thread -> the loop */
    struct event *ev;
    store_sync_done_fn done_fn;
    void *done_arg;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    long long asked, synced; /* generations, under mu */
    long long count;         /* fdatasync calls, under mu */
    int err, stop;           /* under mu */
};

static void *store_sync_main(void *arg)
{
    struct store_sync *s = arg;
    long long gen;
    int rc;
    char b = 's';

    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->asked <= s->synced && !s->stop)
            pthread_cond_wait(&s->wake, &s->mu);
        if (s->asked <= s->synced)
            break; /* stopped, nothing left */
        gen = s->asked;
        pthread_mutex_unlock(&s->mu);
        rc = fdatasync(s->fd);
        pthread_mutex_lock(&s->mu);
        s->count++;
        if (rc < 0 && s->err == 0)
            s->err = errno;
        s->synced = gen;
        pthread_mutex_unlock(&s->mu);
        /* one byte per sync; a full pipe already holds a wake-up */
        if (write(s->pipe[1], &b, 1) < 0 && errno != EAGAIN)
            log_warn("store: syncer: cannot wake the loop: %s",
                     strerror(errno));
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* On the loop: the thread synced. A failed fdatasync may have dropped the
 * pages it was to write (Linux clears the error once reported): nothing
 * promised since the last good sync can be trusted, so ferry stops rather
 * than answer as if it were stored; a restart reads what is on disk. */
static void store_sync_on_pipe(evutil_socket_t fd, short what, void *arg)
{
    struct store_sync *s = arg;
    char buf[64];
    long long synced;
    int err;

    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    pthread_mutex_lock(&s->mu);
    synced = s->synced;
    err = s->err;
    pthread_mutex_unlock(&s->mu);
    if (err != 0)
        fatal("store: fdatasync of the WAL failed (%s): stopping before "
              "anything unsynced is answered",
              strerror(err));
    s->done_fn(synced, s->done_arg);
}

struct store_sync *store_sync_start(const char *wal_path,
                                    store_sync_done_fn done, void *arg)
{
    struct store_sync *s = xcalloc(1, sizeof(*s));

    s->pipe[0] = s->pipe[1] = -1;
    s->done_fn = done;
    s->done_arg = arg;
    s->fd = open(wal_path, O_RDWR | O_CLOEXEC);
    if (s->fd < 0 || loop_base() == NULL || util_pipe(s->pipe) < 0) {
        log_warn("store: no WAL syncer (%s): every commit syncs",
                 s->fd < 0 ? strerror(errno) : "no loop");
        goto fail;
    }
    s->ev = event_new(loop_base(), s->pipe[0], EV_READ | EV_PERSIST,
                      store_sync_on_pipe, s);
    if (s->ev == NULL || event_add(s->ev, NULL) < 0)
        goto fail;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->wake, NULL);
    if (pthread_create(&s->thread, NULL, store_sync_main, s) != 0) {
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->mu);
        log_warn("store: no WAL syncer (no thread): every commit syncs");
        goto fail;
    }
    return s;
fail:
    if (s->ev != NULL)
        event_free(s->ev);
    if (s->pipe[0] >= 0) {
        close(s->pipe[0]);
        close(s->pipe[1]);
    }
    if (s->fd >= 0)
        close(s->fd);
    free(s);
    return NULL;
}

void store_sync_ask(struct store_sync *s, long long gen)
{
    pthread_mutex_lock(&s->mu);
    if (gen > s->asked) {
        s->asked = gen;
        pthread_cond_signal(&s->wake);
    }
    pthread_mutex_unlock(&s->mu);
}

long long store_sync_count(struct store_sync *s)
{
    long long n;

    pthread_mutex_lock(&s->mu);
    n = s->count;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void store_sync_stop(struct store_sync *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    if (fdatasync(s->fd) < 0)
        log_error("store: the last fdatasync of the WAL failed: %s",
                  strerror(errno));
    event_free(s->ev);
    close(s->pipe[0]);
    close(s->pipe[1]);
    close(s->fd);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
