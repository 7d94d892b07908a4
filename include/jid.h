/* SPDX-License-Identifier: MIT */
/* Pure functions on identities: phone number normalisation, the mapping
 * between contact JIDs and network ids, XEP-0106 escaping. */
#ifndef FERRY_JID_H
#define FERRY_JID_H

#include <stddef.h>

#define JID_MAX 3071
#define JID_PHONE_MAX 17 /* '+', 15 digits, NUL */

/* Normalises a phone number typed by a person ("+49 151 1234-5678",
 * "0049...", "(+1) 555 ...") into "+<7..15 digits>"; 0 or -1. */
int jid_phone_normalize(const char *in, char *out, size_t outlen);
/* The contact JID "+<digits>@domain" for a network id of digits; NULL if
 * wa_id is not 7..15 digits. Caller frees. */
char *jid_from_wa_id(const char *wa_id, const char *domain);
/* The digits (no '+') of a contact JID on domain; 0 or -1. The JID may carry
 * a resource. */
int jid_to_wa_id(const char *jid, const char *domain, char *out, size_t outlen);
/* Bare JID of jid (resource dropped, localpart and domain lower-cased). */
char *jid_bare(const char *jid);
/* Domain part of jid into out; 0 or -1. */
int jid_domain(const char *jid, char *out, size_t outlen);
/* 1 when jid is syntactically acceptable (non-empty parts, sane lengths). */
int jid_valid(const char *jid);
/* XEP-0106 escaping of a localpart; caller frees. */
char *jid_escape(const char *local);
char *jid_unescape(const char *local);

#endif
