/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A peer's Access as nftables set elements (nft.h keeps them in the table).
 *
 * The table matches a packet from the tunnel against
 * "source . destination . protocol . port" in one concatenated interval set
 * per family. The source is one of the peer's AllowedIPs, which WireGuard has
 * already checked is the peer's own, so a peer's elements can never match
 * another peer's packets. The kernel refuses overlapping elements in such a
 * set, so a peer's entries are first cut into disjoint boxes
 * (destination range x protocol range x port range) with the same union.
 */
#ifndef HUBD_POLICY_H
#define HUBD_POLICY_H

#include <stddef.h>

#include "config.h"

/* A peer's policy may not need more elements than this (a guard against pathological
 * overlaps, far above what a sane file yields). */
#define HUBD_POLICY_MAX_ELEMENTS 65536

/* A growing, sorted list of element strings: "SET ELEMENT", SET one of limited4, limited6,
 * access4, access6. */
struct hubd_elems {
	char **v;
	size_t n, cap;
};

/*
 * Append p's elements on interface ifname to e (unsorted; hubd_elems_sort
 * sorts and drops duplicates). A peer without Access has none. Returns 0,
 * -ENOMEM, or -E2BIG when the policy would need over HUBD_POLICY_MAX_ELEMENTS.
 *
 * The limited sets are "source . interface" concatenations rather than plain
 * interval sets of addresses: for a plain interval set libnftables fetches
 * every element from the kernel before it adds or deletes one, which would
 * make one peer's change cost O(peers); a concatenation goes to the kernel's
 * own range matcher and needs no such fetch.
 */
int hubd_policy_elements(const struct hubd_peer_conf *p, const char *ifname, struct hubd_elems *e);
void hubd_elems_sort(struct hubd_elems *e);
/* Append s, which e owns from then on (freed at once if it cannot be added; NULL: -ENOMEM). */
int hubd_elems_add(struct hubd_elems *e, char *s);
void hubd_elems_free(struct hubd_elems *e);
/* Is s in the sorted e? */
bool hubd_elems_has(const struct hubd_elems *e, const char *s);
/*
 * What takes sorted a to sorted b: the strings of a not in b go to del, those
 * of b not in a to add (both borrowed from a and b, not copied; del and add
 * own only their arrays). Returns 0 or -ENOMEM.
 */
int hubd_elems_diff(const struct hubd_elems *a, const struct hubd_elems *b, struct hubd_elems *del,
		    struct hubd_elems *add);

/* Does any peer of cfg have Access? (the table then carries the policy's sets and chains) */
bool hubd_policy_wanted(const struct hubd_config *cfg);

#endif
