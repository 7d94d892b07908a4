/* SPDX-License-Identifier: MIT */
/* Shared by the fuzz targets: a private temporary directory, and a whole
 * ferry brought up once per process (config, store, loop, curl, component,
 * disco, bridge, HTTP listener) against an in-process fake XMPP server and
 * an in-process fake Cloud API, with a known account and contact seeded. */
#ifndef FERRY_FUZZ_FERRY_H
#define FERRY_FUZZ_FERRY_H

#include <stddef.h>

#define FUZZ_DOMAIN "whatsapp.example.org"
#define FUZZ_USER "alice@example.org"
#define FUZZ_PNID "106540352242922"
#define FUZZ_CONTACT "15550001111"
#define FUZZ_APP_SECRET "fuzz-app-secret"
#define FUZZ_VERIFY_TOKEN "fuzz-verify-token"

/* The process's temporary directory (created on first use, removed at
 * exit). */
const char *fuzz_tmpdir(void);
/* Writes len bytes to name in the temporary directory; returns the path
 * (static buffer, overwritten by the next call). */
const char *fuzz_write_file(const char *name, const void *data, size_t len);
/* Sends ferry's log to /dev/null at debug level (escaping runs), or to
 * stderr when FUZZ_LOG is set in the environment. */
void fuzz_log_open(void);

/* Brings ferry up once: later calls do nothing. */
void fuzz_ferry_up(void);
/* Puts the store back to its seeded state (every table emptied, the
 * accounts, contact and messages inserted again). */
void fuzz_ferry_reset(void);
/* Runs the loop until nothing is in flight (curl, XMPP send queue, fakes)
 * or max_ms passed. */
void fuzz_ferry_settle(int max_ms);
/* Counts work done by the fakes; the settle loop watches it. */
void fuzz_ferry_progress(void);
/* The port of ferry's HTTP listener. */
int fuzz_ferry_http_port(void);

#endif
