/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The routes a change of a few peers needs: the prefixes their old versions
 * routed and their new ones do not (to remove), and the reverse (to add).
 * The changed-files path sends just these, so that one peer added to a hub
 * of 100,000 costs what it costs on a hub of 100, not a read of every route.
 */
#ifndef HUBD_ROUTE_DELTA_H
#define HUBD_ROUTE_DELTA_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct hubd_route_delta {
	struct hubd_prefix *del, *add; /* each sorted, without duplicates */
	size_t n_del, n_add;
};

/*
 * For n changed peer files: old[i] the running version (NULL: new file),
 * fresh[i] the version read now (.name NULL: removed), changed[i] whether
 * the file differs at all. Only prefixes outside the interface's own (those
 * hubd_routed_prefixes routes) count. Returns 0 or -ENOMEM.
 */
int hubd_route_delta_make(const struct hubd_iface_conf *ic, size_t n,
			  const struct hubd_peer_conf *const *old,
			  const struct hubd_peer_conf *fresh, const bool *changed,
			  struct hubd_route_delta *ret);
void hubd_route_delta_free(struct hubd_route_delta *d);

struct hubd;
struct hubd_changes;
/* Send d (hubd_route_change), then bring the nftables table, which lists the routed
 * prefixes, in line with h->cfg. Returns 0 or the first error. */
int hubd_route_delta_apply(struct hubd *h, const struct hubd_route_delta *d,
			   struct hubd_changes *ch);

#endif
