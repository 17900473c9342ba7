/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The nftables table "inet hubd", through libnftables. hubd owns that one
 * table and replaces it whole in one transaction; no other table is touched.
 */
#ifndef HUBD_NFT_H
#define HUBD_NFT_H

#include <stdbool.h>
#include <stddef.h>

#include "changes.h"
#include "config.h"
#include "policy.h"

#define HUBD_NFT_TABLE "hubd"

struct hubd_nft;

int hubd_nft_open(struct hubd_nft **ret);
void hubd_nft_close(struct hubd_nft *n);

/*
 * The table for interface c: masquerade of tunnel traffic out of each
 * Masquerade interface, the Forward policy, and with policy the sets and
 * chains of Access (policy.h), their elements left out. lans are the prefixes routed
 * through peers (AllowedIPs outside the interface's own prefixes): under
 * Forward=isolate, spokes may reach them but not each other. Pure; the
 * caller frees the text.
 */
char *hubd_nft_render(const struct hubd_iface_conf *c, const struct hubd_prefix *lans, size_t n,
		      bool policy);

/*
 * Make the kernel's table match rendered with elems (sorted; NULL when
 * rendered has no policy): replaced when the rendered text changed since the
 * last apply, or when the kernel's listing differs from what that apply left
 * (someone else changed or deleted it; the policy sets are compared by their
 * number of elements). Otherwise only the elements that differ from what
 * hubd put there are sent.
 */
int hubd_nft_sync(struct hubd_nft *n, const char *rendered, const struct hubd_elems *elems,
		  bool dry, struct hubd_changes *ch);

/* The nft commands of such a delta (sorted "SET ELEMENT" strings): "delete element inet hubd
 * SET { ... }" lines, then "add element" lines, one per set. Pure; the caller frees it. */
char *hubd_nft_delta_text(const struct hubd_elems *del, const struct hubd_elems *add);

/* Does the table in the kernel carry the policy's sets and chains? */
bool hubd_nft_has_policy(const struct hubd_nft *n);
/*
 * One transaction that takes the sorted del out of the policy sets and puts
 * the sorted add in: one peer's Access change, with no table replacement, so
 * the rules' counters and handles stay. -EAGAIN when the table has no policy
 * part yet (the caller syncs the whole table instead); when the kernel refuses
 * the delta (its sets were changed behind hubd's back) the table is replaced.
 * Returns 1 when something was sent, 0 when there was nothing to send.
 */
int hubd_nft_policy_delta(struct hubd_nft *n, const struct hubd_elems *del,
			  const struct hubd_elems *add, bool dry, struct hubd_changes *ch);

/* Remove the table (hubd --down). */
int hubd_nft_delete(struct hubd_nft *n);

#endif
