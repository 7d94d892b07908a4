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
/* What a network id names, and so the form of its contact JID's
 * localpart. */
enum jid_kind {
    JID_KIND_NONE,  /* not usable as a contact */
    JID_KIND_PHONE, /* 7..15 digits: "+<digits>" */
    JID_KIND_GROUP, /* "<digits>-<digits>@g.us" or "<digits>@g.us": the
                       room "<digits>[-<digits>]", no '+' */
    JID_KIND_OTHER, /* anything else ("<digits>@lid"): XEP-0106 escaped */
};

enum jid_kind jid_kind_of(const char *network_id);
/* 1 when network_id is a WhatsApp hidden linked id, "<digits>@lid" (its
 * contact JID: "<digits>\40lid@domain", XEP-0106 escaped, which can be
 * neither a phone number's nor a group's). */
#define JID_LID_DIGITS 32
int jid_is_lid(const char *network_id);
/* The localpart of the contact JID for network_id; NULL when its kind is
 * JID_KIND_NONE. Caller frees. */
char *jid_local_of(const char *network_id);
/* The contact JID "<jid_local_of(network_id)>@domain" (domain lower-cased);
 * NULL if either is unusable. Caller frees. */
char *jid_of(const char *network_id, const char *domain);
/* The network id behind a contact JID on domain (the JID may carry a
 * resource); NULL when jid is not one. Caller frees. */
char *jid_network_id(const char *jid, const char *domain);
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
