/* SPDX-License-Identifier: MIT */
/* The media directory's disk work, off the loop: one thread deletes files
 * and makes the files ferry serves durable, in the order asked. Internal to
 * the media module (media.c). */
#ifndef FERRY_MEDIA_DISK_H
#define FERRY_MEDIA_DISK_H

/* The outcome of media_disk_keep(), on the loop: err is 0 (the file is on
 * disk under its new name), ECANCELED (the thread stopped first: the file
 * may be under either name) or the errno that stopped it. */
typedef void (*media_disk_kept_fn)(int err, void *arg);

/* Starts the thread (loop_init() ran). Before it, after media_disk_stop()
 * and when no thread can start (logged), the work runs on the caller. */
void media_disk_start(void);
/* Waits for the thread to do what it was given, and stops it; keeps the
 * loop has not heard of yet are reported (ECANCELED) on the caller. */
void media_disk_stop(void);
/* Deletes the file at path (NULL: nothing); a missing file is no error. */
void media_disk_delete(const char *path);
/* Makes the file at path durable as final, in the same directory: its data
 * synced, renamed, and the directory synced. done(err, arg) follows from
 * the loop (on the caller, before this returns, without the thread). */
void media_disk_keep(const char *path, const char *final,
                     media_disk_kept_fn done, void *arg);

#endif
