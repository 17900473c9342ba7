/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Address arithmetic for `hubctl peer add`: pick the next free tunnel address
 * in the hub's subnet, or check one given with --address. Pure: no I/O.
 * Parsing, containment, ordering and formatting of prefixes are the daemon's
 * own (src/common/prefix.c, declared in config.h), so that hubctl accepts
 * exactly what hubd accepts.
 */
#ifndef HUBD_ALLOC_H
#define HUBD_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/*
 * Find the lowest free host address in subnet (a hub Address such as
 * 10.8.0.1/24; its host bits are ignored). An address is taken when any
 * prefix in used covers it: pass the hub's own addresses and every peer's
 * AllowedIPs. The subnet's first address (IPv4 network, IPv6 subnet-router
 * anycast) and, for IPv4, its broadcast address are never handed out.
 * *ret is a host prefix (/32 or /128). Returns 0, or -ENOSPC when the subnet
 * is full, -EINVAL on a bad family.
 */
int hubctl_alloc_next(const struct hubd_prefix *subnet, const struct hubd_prefix *used,
		      size_t n_used, struct hubd_prefix *ret);

/*
 * Check an address chosen by the user. Returns 0 when free; -EDOM when it is
 * not inside subnet (or of another family); -EADDRNOTAVAIL for the network or
 * broadcast address; -EEXIST when used[*ret_conflict] covers it.
 */
int hubctl_alloc_check(const struct hubd_prefix *subnet, const struct hubd_prefix *used,
		       size_t n_used, const struct hubd_prefix *addr, size_t *ret_conflict);

#endif
