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

#define HUBD_NFT_TABLE "hubd"

struct hubd_nft;

int hubd_nft_open(struct hubd_nft **ret);
void hubd_nft_close(struct hubd_nft *n);

/*
 * The table for interface c: masquerade of tunnel traffic out of each
 * Masquerade interface, and the Forward policy. lans are the prefixes routed
 * through peers (AllowedIPs outside the interface's own prefixes): under
 * Forward=isolate, spokes may reach them but not each other. Pure; the
 * caller frees the text.
 */
char *hubd_nft_render(const struct hubd_iface_conf *c, const struct hubd_prefix *lans, size_t n);

/*
 * Make the kernel's table match rendered: replaced when the rendered text
 * changed since the last apply, or when the kernel's listing differs from
 * what that apply left (someone else changed or deleted it).
 */
int hubd_nft_sync(struct hubd_nft *n, const char *rendered, bool dry, struct hubd_changes *ch);

/* Remove the table (hubd --down). */
int hubd_nft_delete(struct hubd_nft *n);

#endif
