/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The running peers' AllowedIPs, kept sorted between reconciles, so that a
 * changed file is checked against the peers it could clash with in
 * O(its own prefixes x log N) instead of a scan of every running peer.
 *
 * Each entry names its owner by the running peer's name string (the one in
 * hubd->cfg): whoever replaces or frees a running peer takes its entries out
 * first and puts the new ones in after (hubd_pindex_update), or drops the
 * whole index (hubd_pindex_clear), which is then built again when next asked.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* A prefix as integers, which sort and compare fast: building the index of 100,000 peers is a
 * qsort, done with every full reconcile. */
struct hubd_pindex_entry {
	uint64_t start[2]; /* the masked address as a 128-bit number, IPv4 in the top bits */
	uint8_t family, cidr;
	const char *owner;
};

struct hubd_pindex {
	struct hubd_pindex_entry *v; /* by family, address, length, then owner */
	size_t n, cap;
	bool valid;
	/* How many entries have each length: only those lengths are looked up for a prefix
	 * that may lie inside a shorter one. */
	unsigned lens4[33], lens6[129];
};

/* Every prefix of cfg's peers. */
int hubd_pindex_build(struct hubd_pindex *x, const struct hubd_config *cfg);
void hubd_pindex_clear(struct hubd_pindex *x);

/*
 * The entries of the gone peers (as they were indexed: same owner strings)
 * leave, those of the came peers come in, in one pass over the array. On
 * failure the index is cleared, never left half updated.
 */
int hubd_pindex_update(struct hubd_pindex *x, const struct hubd_peer_conf *const *gone,
		       size_t n_gone, const struct hubd_peer_conf *const *came, size_t n_came);

/*
 * The owner of an indexed prefix that overlaps q (one contains the other),
 * skipping owners for which skip() says true; NULL when there is none.
 */
const char *hubd_pindex_overlap(const struct hubd_pindex *x, const struct hubd_prefix *q,
				bool (*skip)(const char *owner, void *user), void *user);
