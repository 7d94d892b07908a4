/* SPDX-License-Identifier: MIT */
/* A user's settings: the keys of the account's settings JSON object, their
 * values (parsed once per account and kept until the text changes), and
 * changing them. Set by the Settings command, read by the bridge. */
#ifndef FERRY_SETTINGS_H
#define FERRY_SETTINGS_H

struct store;

/* Keys of the account's settings JSON object (booleans; absent means
 * true):
 * "typing"   the user's typing notifications (XEP-0085 composing) are sent
 *            to WhatsApp as its typing indicator;
 * "receipts" delivery receipts (XEP-0184) come back from WhatsApp
 *            contacts when a message asked for one. */
#define SETTINGS_TYPING "typing"
#define SETTINGS_RECEIPTS "receipts"

/* The boolean key of account_id's settings, whose JSON text is json (1 when
 * absent or unreadable). The text is parsed once and kept for the account
 * until it changes. */
int settings_get(long long account_id, const char *json, const char *key);
/* json (the account's settings) with key set to on, as a new JSON text;
 * caller frees. */
char *settings_with(const char *json, const char *key, int on);
/* Stores json as account_id's settings and forgets what was kept for the
 * account; 0 or -1. */
int settings_store(struct store *st, long long account_id, const char *json);
/* Forgets what was kept for account_id (its settings changed or it is
 * gone). */
void settings_forget(long long account_id);
void settings_free(void);

#endif
