/* SPDX-License-Identifier: MIT */
/* The media directory's disk work, done by one thread in the order asked,
 * so that the loop never waits for the file system: deletions, and the
 * files ferry serves made durable before their rows are written. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "loop.h"
#include "media_disk.h"
#include "util.h"

/* Why a thread. Unlinking frees a file's blocks, and on a file system
 * mounted with `discard` and no journal the kernel discards them there and
 * then: 4.7 ms for 1 MiB, 43 ms for 100 MiB on the machine of
 * docs/performance.md ("The tail"), which a sweep of many files would have
 * spent on the loop, holding every user's messages. And a served file must
 * be on disk before its row commits (the row, and the message linking to
 * it, are made durable: a power cut must not leave a link to an empty
 * file, which WhatsApp will not send again); an fdatasync of a large file
 * takes as long as writing it out. Paths are random and never reused, so
 * work that comes late cannot take a newer file. */
struct media_disk_job {
    char *path;
    char *final; /* a keep: the new name; NULL: a deletion */
    media_disk_kept_fn done;
    void *arg;
    int err;
    struct media_disk_job *next;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t wake;
    struct media_disk_job *todo, **todo_tail; /* under mu */
    struct media_disk_job *done, **done_tail; /* keeps done, under mu */
    int stop;                                 /* under mu */
    int running;                              /* the loop's */
    pthread_t thread;
    int pipe[2]; /* the thread -> the loop: keeps done */
    struct event *ev;
} disk = {.mu = PTHREAD_MUTEX_INITIALIZER,
          .wake = PTHREAD_COND_INITIALIZER,
          .pipe = {-1, -1}};

static void media_disk_unlink(const char *path)
{
    if (unlink(path) < 0 && errno != ENOENT)
        log_warn("media: cannot delete %s: %s", path, strerror(errno));
}

/* fsync of the file or directory at path; 0 or errno. */
static int media_disk_sync(const char *path, int flags)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | flags), err = 0;

    if (fd < 0)
        return errno;
    if ((flags & O_DIRECTORY ? fsync(fd) : fdatasync(fd)) < 0)
        err = errno;
    close(fd);
    return err;
}

/* path's data on disk, then the name final, then the directory that holds
 * the name: only then may a row point at final. 0 or errno. */
static int media_disk_move(const char *path, const char *final)
{
    const char *slash = strrchr(final, '/');
    char *dir = slash == NULL    ? xstrdup(".")
                : slash == final ? xstrdup("/")
                                 : xstrndup(final, (size_t)(slash - final));
    int err = media_disk_sync(path, 0);

    if (err == 0 && rename(path, final) < 0)
        err = errno;
    if (err == 0)
        err = media_disk_sync(dir, O_DIRECTORY);
    free(dir);
    return err;
}

static void media_disk_job_free(struct media_disk_job *j)
{
    free(j->path);
    free(j->final);
    free(j);
}

/* Reports the keeps the thread finished, on the loop; err overrides theirs
 * when not 0. */
static void media_disk_report(int err)
{
    struct media_disk_job *j, *list;

    pthread_mutex_lock(&disk.mu);
    list = disk.done;
    disk.done = NULL;
    disk.done_tail = &disk.done;
    pthread_mutex_unlock(&disk.mu);
    while ((j = list) != NULL) {
        list = j->next;
        j->done(err ? err : j->err, j->arg);
        media_disk_job_free(j);
    }
}

static void media_disk_on_pipe(evutil_socket_t fd, short what, void *arg)
{
    char b[64];

    while (read(fd, b, sizeof(b)) > 0)
        ;
    media_disk_report(0);
}

static void *media_disk_main(void *arg)
{
    struct media_disk_job *j;
    char b = 1;

    (void)arg;
    pthread_mutex_lock(&disk.mu);
    for (;;) {
        while (disk.todo == NULL && !disk.stop)
            pthread_cond_wait(&disk.wake, &disk.mu);
        if ((j = disk.todo) == NULL)
            break; /* stopped, nothing left */
        disk.todo = j->next;
        if (disk.todo == NULL)
            disk.todo_tail = &disk.todo;
        pthread_mutex_unlock(&disk.mu);
        if (j->final == NULL) {
            media_disk_unlink(j->path);
            media_disk_job_free(j);
            pthread_mutex_lock(&disk.mu);
            continue;
        }
        j->err = media_disk_move(j->path, j->final);
        j->next = NULL;
        pthread_mutex_lock(&disk.mu);
        *disk.done_tail = j;
        disk.done_tail = &j->next;
        /* one byte per keep; a full pipe already holds a wake-up */
        if (write(disk.pipe[1], &b, 1) < 0 && errno != EAGAIN)
            log_warn("media: cannot wake the loop: %s", strerror(errno));
    }
    pthread_mutex_unlock(&disk.mu);
    return NULL;
}

static void media_disk_close_pipe(void)
{
    if (disk.ev != NULL)
        event_free(disk.ev);
    disk.ev = NULL;
    if (disk.pipe[0] >= 0) {
        close(disk.pipe[0]);
        close(disk.pipe[1]);
    }
    disk.pipe[0] = disk.pipe[1] = -1;
}

void media_disk_start(void)
{
    disk.todo = disk.done = NULL;
    disk.todo_tail = &disk.todo;
    disk.done_tail = &disk.done;
    disk.stop = 0;
    disk.running = 0;
    if (loop_base() != NULL && util_pipe(disk.pipe) == 0) {
        disk.ev = event_new(loop_base(), disk.pipe[0], EV_READ | EV_PERSIST,
                            media_disk_on_pipe, NULL);
        disk.running =
            disk.ev != NULL && event_add(disk.ev, NULL) == 0 &&
            pthread_create(&disk.thread, NULL, media_disk_main, NULL) == 0;
    }
    if (!disk.running) {
        media_disk_close_pipe();
        log_warn("media: no disk thread: files are deleted and synced on "
                 "the loop");
    }
}

void media_disk_stop(void)
{
    if (!disk.running)
        return;
    pthread_mutex_lock(&disk.mu);
    disk.stop = 1;
    pthread_cond_signal(&disk.wake);
    pthread_mutex_unlock(&disk.mu);
    pthread_join(disk.thread, NULL);
    disk.running = 0;
    media_disk_close_pipe();
    media_disk_report(ECANCELED);
}

/* Queues j for the thread. */
static void media_disk_queue(struct media_disk_job *j)
{
    pthread_mutex_lock(&disk.mu);
    *disk.todo_tail = j;
    disk.todo_tail = &j->next;
    pthread_cond_signal(&disk.wake);
    pthread_mutex_unlock(&disk.mu);
}

void media_disk_delete(const char *path)
{
    struct media_disk_job *j;

    if (path == NULL)
        return;
    if (!disk.running) {
        media_disk_unlink(path);
        return;
    }
    j = xcalloc(1, sizeof(*j));
    j->path = xstrdup(path);
    media_disk_queue(j);
}

void media_disk_keep(const char *path, const char *final,
                     media_disk_kept_fn done, void *arg)
{
    struct media_disk_job *j;

    if (!disk.running) {
        done(media_disk_move(path, final), arg);
        return;
    }
    j = xcalloc(1, sizeof(*j));
    j->path = xstrdup(path);
    j->final = xstrdup(final);
    j->done = done;
    j->arg = arg;
    media_disk_queue(j);
}
