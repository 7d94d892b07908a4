/* SPDX-License-Identifier: MIT */
/* The bridge, hidden linked ids ("<digits>@lid"): their phone numbers,
 * asked of the network, and the move of a lid's conversation to its
 * number's JID. */
#ifndef FERRY_BRIDGE_LID_H
#define FERRY_BRIDGE_LID_H

struct store_account;

/* The phone number (digits) known for the account's lid into *phone
 * (caller frees; NULL while unknown); 0, or -1 on a store error. */
int bridge_lid_phone(const struct store_account *a, const char *lid,
                     char **phone);
/* Asks the account's network for the lid's number, unless already asking
 * (at most BRIDGE_LID_ASKING_MAX at once); the answer comes later, in its
 * own transaction. */
void bridge_lid_ask(const struct store_account *a, const char *lid);
/* Learns every number the account's network knows for lids (at login),
 * moving the conversations of lids that wrote before to their numbers. */
void bridge_lid_learn_all(const struct store_account *a);

#endif
